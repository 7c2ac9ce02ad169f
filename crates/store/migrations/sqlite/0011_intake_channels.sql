-- The other intake channels: work orders transferred from other systems, and chat groups.
--
-- transfer_source: a system that hands work orders over (the 12345 hotline, the city's app). Every
-- status change of a case it transferred goes back to its webhook, through the outbox.
-- case_transfer: which case a transferred work order became: the source's own id (unique per
-- source, so a re-sent order is recognised) and its original times.
-- chat_group: a residents' chat group whose bot posts messages to /hooks/chat/{code}, signed with
-- the group's secret (stored encrypted with the data key); its micro-grid routes what has no pin;
-- replies (the case number and link) go to its reply webhook, if it has one.
-- chat_draft: a message turned into a draft report that a worker confirms (it becomes a case) or
-- discards; one per group and message id, so a message posted twice makes one draft.

CREATE TABLE transfer_source (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    webhook_id  INTEGER REFERENCES webhook (id),
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX transfer_source_code_key ON transfer_source (code);

CREATE TABLE case_transfer (
    case_id         INTEGER NOT NULL REFERENCES case_record (id),
    source_id       INTEGER NOT NULL REFERENCES transfer_source (id),
    external_id     TEXT    NOT NULL,
    reported_at     INTEGER NOT NULL,
    transferred_at  INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX case_transfer_key ON case_transfer (source_id, external_id);
CREATE UNIQUE INDEX case_transfer_case_key ON case_transfer (case_id);

CREATE TABLE chat_group (
    id                INTEGER PRIMARY KEY,
    code              TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    scope_code        TEXT    NOT NULL,
    secret_enc        BLOB    NOT NULL,
    reply_webhook_id  INTEGER REFERENCES webhook (id),
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX chat_group_code_key ON chat_group (code);

CREATE TABLE chat_draft (
    id           INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL REFERENCES chat_group (id),
    message_id   TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    lon          REAL,
    lat          REAL,
    photos       TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    case_id      INTEGER REFERENCES case_record (id),
    decided_by   INTEGER REFERENCES account (id),
    decided_at   INTEGER,
    reason       TEXT    NOT NULL DEFAULT '',
    received_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX chat_draft_message_key ON chat_draft (group_id, message_id);
CREATE INDEX chat_draft_status_idx ON chat_draft (status, group_id, id);
