-- A separate cancellation deadline per facility (issue 3, A21): until how
-- many days before the use date residents may cancel, and whether they may
-- cancel online at all. Existing facilities keep what their one change
-- deadline meant so far.
ALTER TABLE facilities ADD COLUMN cancel_days_before BIGINT NOT NULL DEFAULT 3 CHECK (cancel_days_before >= 0 AND cancel_days_before <= 365);
ALTER TABLE facilities ADD COLUMN resident_may_cancel BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE facilities SET cancel_days_before = LEAST(change_days_before, 365), resident_may_cancel = resident_may_change;
