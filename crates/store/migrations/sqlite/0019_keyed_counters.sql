-- The case numbers' counter and the daily intake counts, kept in the B-tree of their key
-- (`WITHOUT ROWID`): each was a table and a unique index on the key, so every batch of reports
-- searched and wrote two B-trees per row it counted (nearly one new daily row per report:
-- micro-grid × day × channel × category) and wrote two pages of each to the WAL.
CREATE TABLE case_counter_keyed (
    street_code  TEXT    NOT NULL,
    year         INTEGER NOT NULL,
    last         INTEGER NOT NULL,
    PRIMARY KEY (street_code, year)
) WITHOUT ROWID;
INSERT INTO case_counter_keyed (street_code, year, last)
SELECT street_code, year, last FROM case_counter;
DROP TABLE case_counter;
ALTER TABLE case_counter_keyed RENAME TO case_counter;

CREATE TABLE case_intake_daily_keyed (
    day          TEXT    NOT NULL,
    scope_code   TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    category_id  INTEGER NOT NULL REFERENCES category (id),
    reported     INTEGER NOT NULL,
    PRIMARY KEY (scope_code, day, channel, category_id)
) WITHOUT ROWID;
INSERT INTO case_intake_daily_keyed (day, scope_code, channel, category_id, reported)
SELECT day, scope_code, channel, category_id, reported FROM case_intake_daily;
DROP TABLE case_intake_daily;
ALTER TABLE case_intake_daily_keyed RENAME TO case_intake_daily;
