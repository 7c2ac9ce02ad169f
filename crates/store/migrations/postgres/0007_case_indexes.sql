-- Indexes for the case lists: see migrations/sqlite/0007_case_indexes.sql.
CREATE INDEX case_record_status_id_idx ON case_record (status, id);
CREATE INDEX case_record_category_idx ON case_record (category_id, created_at);
CREATE INDEX case_record_scope_id_idx ON case_record (scope_code, id);
