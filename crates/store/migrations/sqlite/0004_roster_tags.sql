-- The roster, the tag list and building footprints.
--
-- staff_member: the people who serve a node of the grid (微网格员, 楼栋长, 专职网格员, 网格长, …),
-- whether or not they have an account: party member, since when, training. Their work phone is
-- published on the contact cards residents receive, so it is stored as given.
-- tag_definition: the key-population tags, editable by the street; residents refer to the code.
-- building.footprint: the building's outline (GeoJSON Polygon), for the "building split across
-- cells" division check.

CREATE TABLE staff_member (
    id            INTEGER PRIMARY KEY,
    node_id       INTEGER NOT NULL REFERENCES grid_node (id),
    scope_code    TEXT    NOT NULL,
    duty          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    phone         TEXT,
    party_member  BOOLEAN NOT NULL DEFAULT FALSE,
    since         TEXT,
    training      TEXT    NOT NULL,
    building_id   INTEGER REFERENCES building (id),
    account_id    INTEGER REFERENCES account (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX staff_member_key ON staff_member (node_id, duty, name);
CREATE INDEX staff_member_scope_idx ON staff_member (scope_code);

CREATE TABLE tag_definition (
    code       TEXT    NOT NULL,
    label_zh   TEXT    NOT NULL,
    label_en   TEXT    NOT NULL,
    sort       INTEGER NOT NULL,
    retired    BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX tag_definition_code_key ON tag_definition (code);
CREATE UNIQUE INDEX tag_definition_label_key ON tag_definition (label_zh);

INSERT INTO tag_definition (code, label_zh, label_en, sort, retired, updated_at) VALUES
    ('living_alone_elderly', '独居老人', 'Elderly living alone', 10, FALSE, 0),
    ('empty_nest_elderly', '空巢老人', 'Empty-nest elderly', 20, FALSE, 0),
    ('oldest_old', '高龄老人', 'Oldest old (80+)', 30, FALSE, 0),
    ('disabled_elderly', '失能老人', 'Disabled elderly', 40, FALSE, 0),
    ('left_behind_child', '留守儿童', 'Left-behind child', 50, FALSE, 0),
    ('child_in_difficulty', '困境儿童', 'Child in difficulty', 60, FALSE, 0),
    ('disabled', '残疾人', 'Person with disability', 70, FALSE, 0),
    ('minimum_living', '低保对象', 'Minimum living allowance', 80, FALSE, 0),
    ('extreme_poverty', '特困人员', 'Extreme poverty', 90, FALSE, 0),
    ('pregnant', '孕产妇', 'Pregnant or new mother', 100, FALSE, 0),
    ('chronic_illness', '重病慢病', 'Serious or chronic illness', 110, FALSE, 0),
    ('veteran_in_difficulty', '困难退役军人', 'Veteran in difficulty', 120, FALSE, 0);

ALTER TABLE building ADD COLUMN footprint TEXT;
