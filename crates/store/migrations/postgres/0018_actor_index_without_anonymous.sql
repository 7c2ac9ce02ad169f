-- The history by actor is read for an account (`actor_id = ?`): the entries nobody signed in
-- made (residents' reports from the public page, reports through API keys), most of a
-- street's intake, need no place in it, and each report wrote one.
DROP INDEX case_event_actor_idx;
CREATE INDEX case_event_actor_idx ON case_event (actor_id, case_id) WHERE actor_id IS NOT NULL;
