-- When a case's next clock event (a warning or a deadline, of its stage or of the whole case)
-- falls due, kept on each write of the case: NULL while the case is paused or finished. The
-- warnings job reads the cases due from one small index (only open cases are in it) instead
-- of two indexes on the stage and the case clock, the second of which no query could use.
ALTER TABLE case_record ADD COLUMN next_alert_at BIGINT;

UPDATE case_record
SET next_alert_at = LEAST(stage_warn_at, stage_deadline, case_warn_at, case_deadline)
WHERE status NOT IN ('closed', 'rejected', 'merged') AND paused_at IS NULL;

DROP INDEX case_record_warn_idx;
DROP INDEX case_record_case_warn_idx;
CREATE INDEX case_record_next_alert_idx ON case_record (next_alert_at) WHERE next_alert_at IS NOT NULL;
