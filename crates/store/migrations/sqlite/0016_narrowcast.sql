-- Narrowcast for large audiences (issue 6, "Delivery engine"): a run whose
-- recipients reach the configured size is sent as one narrowcast to an
-- audience uploaded by file instead of multicast batches. The audience id and
-- the retry key are stored before the narrowcast call (so a restart sends
-- with the same key and LINE answers 409 rather than delivering twice); the
-- request id, once LINE accepted, is polled for progress and statistics.
ALTER TABLE delivery_runs ADD COLUMN audience_group_id BIGINT;
ALTER TABLE delivery_runs ADD COLUMN retry_key TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_runs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
