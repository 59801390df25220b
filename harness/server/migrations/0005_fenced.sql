-- menon-harness schema, version 5: fenced leases. A claim writes its attempt's log id
-- into `lease_token`; settling the delivery succeeds only while the token is still that
-- claim's, so a result that comes after its lease was lost and the delivery re-claimed
-- changes nothing (PROTOCOL §5).
ALTER TABLE deliveries ADD COLUMN lease_token TEXT;
-- Leases taken before this version: the attempt left pending is the lease's.
UPDATE deliveries SET lease_token = (
    SELECT a.id FROM delivery_attempts a
    WHERE a.delivery_id = deliveries.id AND a.status = 'pending'
    ORDER BY a.created_at DESC, a.id DESC LIMIT 1)
WHERE leased_until IS NOT NULL;
-- A lease with no attempt pending has nothing to fence or to close: released.
UPDATE deliveries SET leased_until = NULL
WHERE leased_until IS NOT NULL AND lease_token IS NULL;
