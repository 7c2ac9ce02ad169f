-- The case counter's and the daily intake counts' unique keys become their primary keys, as on
-- SQLite, where this migration keeps both tables in the B-tree of their key (`WITHOUT ROWID`).
-- A PostgreSQL table is a heap beside its indexes either way: nothing else changes here.
ALTER TABLE case_counter ADD CONSTRAINT case_counter_pkey PRIMARY KEY USING INDEX case_counter_key;
ALTER TABLE case_intake_daily
    ADD CONSTRAINT case_intake_daily_pkey PRIMARY KEY USING INDEX case_intake_daily_key;
