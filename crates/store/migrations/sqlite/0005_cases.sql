-- Cases: the closed loop (发现 → 上报 → 派单 → 处置 → 反馈 → 结案).
--
-- category: the configurable tree of what residents and workers report: the social-governance
-- classes and the GB/T 47678.5 city-management matters and components. `limits` is JSON: the
-- time limit of each stage and of the whole case ({"handle": {"amount": 3, "unit":
-- "working_days"}, …}).
-- calendar_day: the days that are not what their weekday says (holidays, worked weekend days)
-- beyond the built-in 2024–2026 list, or overriding it ('normal').
-- case_record: one case. `version` grows with every change: a write that names an older version
-- is refused (HTTP 409), so two people acting at once never lose an update. Scope filters are a
-- prefix match on `scope_code` (the micro-grid's code); indicators read per scope and period use
-- (scope_code, created_at).
-- case_event: the append-only history: who did what, when, from which state to which, why.
-- case_photo: photos before and after handling; the bytes live in files outside the database.
-- case_counter: the last number given per street and year.

CREATE TABLE category (
    id                  INTEGER PRIMARY KEY,
    code                TEXT    NOT NULL,
    parent_id           INTEGER REFERENCES category (id),
    name                TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    need_type           TEXT,
    handler             TEXT    NOT NULL,
    tier                TEXT    NOT NULL,
    limits              TEXT    NOT NULL,
    warn_share          REAL    NOT NULL,
    auto_escalate       BOOLEAN NOT NULL DEFAULT FALSE,
    closing_conditions  TEXT    NOT NULL,
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    sort                INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX category_code_key ON category (code);
CREATE INDEX category_parent_idx ON category (parent_id);

CREATE TABLE calendar_day (
    day   TEXT NOT NULL,
    kind  TEXT NOT NULL,
    note  TEXT NOT NULL
);
CREATE UNIQUE INDEX calendar_day_key ON calendar_day (day);

CREATE TABLE case_counter (
    street_code  TEXT    NOT NULL,
    year         INTEGER NOT NULL,
    last         INTEGER NOT NULL
);
CREATE UNIQUE INDEX case_counter_key ON case_counter (street_code, year);

CREATE TABLE case_record (
    id                  INTEGER PRIMARY KEY,
    number              TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    category_id         INTEGER NOT NULL REFERENCES category (id),
    need_type           TEXT,
    urgent              BOOLEAN NOT NULL DEFAULT FALSE,
    description         TEXT    NOT NULL,
    address             TEXT    NOT NULL,
    lon                 REAL,
    lat                 REAL,
    scope_code          TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    tier                TEXT    NOT NULL,
    solved_tier         TEXT,
    holder_account_id   INTEGER REFERENCES account (id),
    holder_node         TEXT,
    reporter_name       TEXT,
    reporter_phone_enc  BLOB,
    reporter_last4_hash TEXT,
    reporter_phone_masked TEXT,
    reporter_account_id INTEGER REFERENCES account (id),
    follow_token_hash   TEXT    NOT NULL,
    stage               TEXT,
    stage_unit          TEXT,
    stage_started_at    INTEGER,
    stage_warn_at       INTEGER,
    stage_deadline      INTEGER,
    case_unit           TEXT    NOT NULL,
    case_warn_at        INTEGER NOT NULL,
    case_deadline       INTEGER NOT NULL,
    paused_at           INTEGER,
    supervised          BOOLEAN NOT NULL DEFAULT FALSE,
    closure             TEXT,
    satisfaction        TEXT,
    satisfaction_comment TEXT,
    merged_into         INTEGER REFERENCES case_record (id),
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    closed_at           INTEGER
);
CREATE UNIQUE INDEX case_record_number_key ON case_record (number);
CREATE INDEX case_record_scope_idx ON case_record (scope_code, created_at);
CREATE INDEX case_record_status_idx ON case_record (status, stage_deadline);
CREATE INDEX case_record_holder_idx ON case_record (holder_account_id, status);

CREATE TABLE case_event (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES case_record (id),
    at           INTEGER NOT NULL,
    actor_id     INTEGER REFERENCES account (id),
    actor_name   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    from_status  TEXT,
    to_status    TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    detail       TEXT    NOT NULL
);
CREATE INDEX case_event_case_idx ON case_event (case_id, id);

CREATE TABLE case_photo (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES case_record (id),
    phase       TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    mime        TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    event_id    INTEGER REFERENCES case_event (id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX case_photo_case_idx ON case_photo (case_id, id);

CREATE TRIGGER case_event_no_update BEFORE UPDATE ON case_event
BEGIN SELECT RAISE(ABORT, 'case_event is append-only'); END;
CREATE TRIGGER case_event_no_delete BEFORE DELETE ON case_event
BEGIN SELECT RAISE(ABORT, 'case_event is append-only'); END;
