-- The duplicate check on intake (an open case of the same category in the same micro-grid in
-- the last hours) is an equality on two columns and a short range: without this index SQLite
-- walked the whole category's window (found with `weige bench intake`: 1.4 ms a report at
-- 30,000 cases). It replaces (scope_code, created_at), whose lists (scope_code, id) serves.
DROP INDEX case_record_scope_idx;
CREATE INDEX case_record_duplicate_idx ON case_record (scope_code, category_id, created_at);
