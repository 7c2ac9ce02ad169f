-- Foundation: the grid tree's nodes, staff accounts, role grants on scopes, sessions, API keys
-- and the append-only audit log. Instants are UTC epoch milliseconds. Constraint and index names
-- are shared with migrations/postgres/0001_foundation.sql; a test checks the two agree.

CREATE TABLE grid_node (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    parent_id   INTEGER REFERENCES grid_node (id),
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER
);
CREATE UNIQUE INDEX grid_node_code_key ON grid_node (code);
CREATE INDEX grid_node_parent_idx ON grid_node (parent_id);

CREATE TABLE account (
    id             INTEGER PRIMARY KEY,
    username       TEXT    NOT NULL,
    display_name   TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    home_scope_id  INTEGER NOT NULL REFERENCES grid_node (id),
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX account_username_key ON account (username);
CREATE INDEX account_home_scope_idx ON account (home_scope_id);

CREATE TABLE role_grant (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES account (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    scope_id    INTEGER NOT NULL REFERENCES grid_node (id),
    granted_by  INTEGER REFERENCES account (id),
    granted_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX role_grant_key ON role_grant (account_id, role, scope_id);

CREATE TABLE session (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT    NOT NULL,
    account_id    INTEGER NOT NULL REFERENCES account (id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    client_addr   TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL
);
CREATE UNIQUE INDEX session_token_key ON session (token_hash);
CREATE INDEX session_account_idx ON session (account_id);

CREATE TABLE api_key (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    scope_id      INTEGER NOT NULL REFERENCES grid_node (id),
    created_by    INTEGER REFERENCES account (id),
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);
CREATE UNIQUE INDEX api_key_hash_key ON api_key (key_hash);
CREATE INDEX api_key_scope_idx ON api_key (scope_id);

CREATE TABLE audit_event (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor_id     INTEGER,
    actor_name   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    scope_code   TEXT,
    detail       TEXT    NOT NULL
);
CREATE INDEX audit_event_scope_idx ON audit_event (scope_code, id);
CREATE INDEX audit_event_action_idx ON audit_event (action, id);

CREATE TRIGGER audit_event_append_only_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
CREATE TRIGGER audit_event_append_only_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
