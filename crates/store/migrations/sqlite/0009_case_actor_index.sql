-- A department or partner reads the cases it holds or has acted on: the history by actor.
CREATE INDEX case_event_actor_idx ON case_event (actor_id, case_id);
