-- Indexes for the case lists, found with `weige bench intake`: a status filter walks its
-- cases newest first; a category in a period is a short range; a micro-grid lists its cases
-- newest first.
CREATE INDEX case_record_status_id_idx ON case_record (status, id);
CREATE INDEX case_record_category_idx ON case_record (category_id, created_at);
CREATE INDEX case_record_scope_id_idx ON case_record (scope_code, id);
