-- menon-harness schema, version 7: the queue depth kept as it changes. `/metrics` reads one
-- row instead of counting every pending delivery at each scrape; the triggers keep it in
-- the same transaction as the change, so it is exact whoever writes (another process's
-- `emit` included) and a rolled-back write leaves it as it was.
CREATE TABLE queue_depth (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    pending INTEGER NOT NULL
);
INSERT INTO queue_depth (id, pending)
SELECT 1, COUNT(*) FROM deliveries WHERE status = 'pending';

CREATE TRIGGER queue_depth_insert AFTER INSERT ON deliveries
WHEN NEW.status = 'pending'
BEGIN
    UPDATE queue_depth SET pending = pending + 1 WHERE id = 1;
END;

CREATE TRIGGER queue_depth_delete AFTER DELETE ON deliveries
WHEN OLD.status = 'pending'
BEGIN
    UPDATE queue_depth SET pending = pending - 1 WHERE id = 1;
END;

CREATE TRIGGER queue_depth_update AFTER UPDATE OF status ON deliveries
WHEN (OLD.status = 'pending') <> (NEW.status = 'pending')
BEGIN
    UPDATE queue_depth
    SET pending = pending + CASE WHEN NEW.status = 'pending' THEN 1 ELSE -1 END
    WHERE id = 1;
END;
