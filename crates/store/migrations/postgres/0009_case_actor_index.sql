-- See migrations/sqlite/0009_case_actor_index.sql.
CREATE INDEX case_event_actor_idx ON case_event (actor_id, case_id);
