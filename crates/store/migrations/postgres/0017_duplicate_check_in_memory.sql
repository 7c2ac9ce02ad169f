-- Nothing on PostgreSQL: several servers may write to one database, so the duplicate check
-- stays a statement over (scope_code, category_id, created_at). On SQLite this migration drops
-- that index (its writer keeps the window's cases in memory).
SELECT 1;
