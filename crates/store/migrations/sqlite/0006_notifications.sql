-- Telling people: an in-app inbox per account, webhooks with an outbox that loses nothing, the
-- warnings already given, and the leases that let one server at a time run a periodic job.
--
-- notification: a message in an account's inbox (a case assigned, due soon, overdue …).
-- webhook: a receiver of signed JSON events; its secret is stored encrypted (the data key).
-- outbox: one event for one webhook, written in the same transaction as what it reports; a
-- delivery worker claims due rows (claimed_until), posts them, and marks them delivered, or
-- schedules the next try with back-off, or after the last try marks them dead.
-- delivery_log: every try: when, the answer's status or the error, how long it took.
-- case_alert: a warning given once per case, stage clock and level.
-- job_lease: a periodic job runs on the server that holds its lease.

CREATE TABLE notification (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES account (id),
    case_id     INTEGER REFERENCES case_record (id),
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX notification_account_idx ON notification (account_id, id);

CREATE TABLE webhook (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    secret_enc  BLOB    NOT NULL,
    events      TEXT    NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY,
    webhook_id     INTEGER NOT NULL REFERENCES webhook (id),
    event          TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_at        INTEGER NOT NULL,
    claimed_by     TEXT,
    claimed_until  INTEGER,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    delivered_at   INTEGER
);
CREATE INDEX outbox_due_idx ON outbox (status, next_at);

CREATE TABLE delivery_log (
    id           INTEGER PRIMARY KEY,
    outbox_id    INTEGER NOT NULL REFERENCES outbox (id),
    at           INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX delivery_log_outbox_idx ON delivery_log (outbox_id, id);

CREATE TABLE case_alert (
    case_id     INTEGER NOT NULL REFERENCES case_record (id),
    clock       TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    deadline    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX case_alert_key ON case_alert (case_id, clock, level, deadline);

CREATE TABLE job_lease (
    name    TEXT    NOT NULL,
    holder  TEXT    NOT NULL,
    until   INTEGER NOT NULL
);
CREATE UNIQUE INDEX job_lease_key ON job_lease (name);

CREATE INDEX case_record_warn_idx ON case_record (status, stage_warn_at);
CREATE INDEX case_record_case_warn_idx ON case_record (status, case_warn_at);
