-- The grid map: a node's kind, polygon (GeoJSON, WGS84) and GB/T 47678.3 unit-grid code; the
-- history of every shape a node had, so a redrawn map does not rewrite the past; and the map's
-- version, which every server polls to rebuild its routing index after a change anywhere.

ALTER TABLE grid_node ADD COLUMN kind TEXT;
ALTER TABLE grid_node ADD COLUMN geometry TEXT;
ALTER TABLE grid_node ADD COLUMN unit_grid_code TEXT;

CREATE TABLE grid_node_version (
    id          INTEGER PRIMARY KEY,
    node_id     INTEGER NOT NULL REFERENCES grid_node (id),
    name        TEXT    NOT NULL,
    kind        TEXT,
    geometry    TEXT,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER NOT NULL,
    changed_by  INTEGER REFERENCES account (id)
);
CREATE INDEX grid_node_version_node_idx ON grid_node_version (node_id, valid_from);

CREATE TABLE grid_map_version (
    id          INTEGER PRIMARY KEY,
    version     INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL
);
INSERT INTO grid_map_version (id, version, changed_at) VALUES (1, 0, 0);
