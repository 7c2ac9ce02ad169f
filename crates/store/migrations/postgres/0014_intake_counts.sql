-- Reports counted by day: see migrations/sqlite/0014_intake_counts.sql.
CREATE TABLE case_intake_daily (
    day          TEXT    NOT NULL,
    scope_code   TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    category_id  BIGINT  NOT NULL REFERENCES category (id),
    reported     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX case_intake_daily_key ON case_intake_daily (scope_code, day, channel, category_id);

INSERT INTO case_intake_daily (day, scope_code, channel, category_id, reported)
SELECT to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'),
       scope_code, channel, category_id, COUNT(*)
FROM case_record GROUP BY 1, 2, 3, 4;
