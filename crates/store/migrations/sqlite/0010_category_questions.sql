-- A category's extra questions (Open311: the attributes of its service definition), as a JSON
-- list: [{"code", "datatype", "required", "description", "hint", "values": [{"key", "name"}]}].
-- The answers of a report are kept in its report entry of the history (case_event.detail).
ALTER TABLE category ADD COLUMN questions TEXT NOT NULL DEFAULT '[]';
