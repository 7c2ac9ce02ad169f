-- Progress updates by time (Open311 servicerequestupdates: every history entry of a period).
CREATE INDEX case_event_at_idx ON case_event (at);
