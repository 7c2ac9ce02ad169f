-- The registry (人进户、户进房、房进格): buildings in micro-grids, households in buildings,
-- residents in households, key-population tags. ID numbers and phone numbers are stored only
-- encrypted (AEAD, key outside the database), with a keyed hash for exact lookup and a masked
-- form for display. `scope_code` repeats the micro-grid's code so that scope filters are a
-- prefix match on an index.

CREATE TABLE building (
    id             INTEGER PRIMARY KEY,
    micro_grid_id  INTEGER NOT NULL REFERENCES grid_node (id),
    scope_code     TEXT    NOT NULL,
    road           TEXT    NOT NULL,
    house_number   TEXT    NOT NULL,
    compound       TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    lon            REAL,
    lat            REAL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX building_scope_idx ON building (scope_code);
CREATE UNIQUE INDEX building_address_key ON building (road, house_number, compound, name);

CREATE TABLE household (
    id           INTEGER PRIMARY KEY,
    building_id  INTEGER NOT NULL REFERENCES building (id),
    scope_code   TEXT    NOT NULL,
    unit         TEXT    NOT NULL,
    room         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX household_address_key ON household (building_id, unit, room);
CREATE INDEX household_scope_idx ON household (scope_code);

CREATE TABLE resident (
    id                INTEGER PRIMARY KEY,
    household_id      INTEGER NOT NULL REFERENCES household (id),
    scope_code        TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    gender            INTEGER NOT NULL,
    birth_date        TEXT,
    relation          TEXT    NOT NULL,
    residence_type    TEXT    NOT NULL,
    care_grade        TEXT,
    id_number_enc     BLOB,
    id_number_hash    TEXT,
    id_number_masked  TEXT,
    phone_enc         BLOB,
    phone_hash        TEXT,
    phone_last4_hash  TEXT,
    phone_masked      TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX resident_id_number_key ON resident (id_number_hash);
CREATE INDEX resident_household_idx ON resident (household_id);
CREATE INDEX resident_scope_idx ON resident (scope_code);
CREATE INDEX resident_name_idx ON resident (name);
CREATE INDEX resident_phone_idx ON resident (phone_hash);
CREATE INDEX resident_phone_last4_idx ON resident (phone_last4_hash);

CREATE TABLE resident_tag (
    resident_id  INTEGER NOT NULL REFERENCES resident (id) ON DELETE CASCADE,
    tag          TEXT    NOT NULL,
    PRIMARY KEY (resident_id, tag)
);
CREATE INDEX resident_tag_tag_idx ON resident_tag (tag);
