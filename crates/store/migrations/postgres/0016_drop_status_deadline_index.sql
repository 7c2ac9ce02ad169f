-- The index on (status, stage_deadline) served no query: the overdue filter asks for every
-- open state (NOT IN), which no index on the state can narrow, and both engines answer it by
-- walking the newest cases; the state filters use (status, id). Every case insert and every
-- transition kept it up to date for nothing.
DROP INDEX case_record_status_idx;
