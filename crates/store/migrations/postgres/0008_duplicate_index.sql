-- The duplicate check on intake: see migrations/sqlite/0008_duplicate_index.sql.
DROP INDEX case_record_scope_idx;
CREATE INDEX case_record_duplicate_idx ON case_record (scope_code, category_id, created_at);
