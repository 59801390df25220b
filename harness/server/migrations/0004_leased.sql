-- menon-harness schema, version 4: the deliveries under a lease (in flight, or left by a
-- crash) are few; this partial index lets the dispatcher's next-due query read only them
-- instead of scanning every pending delivery.
CREATE INDEX deliveries_leased ON deliveries (leased_until) WHERE leased_until IS NOT NULL;
