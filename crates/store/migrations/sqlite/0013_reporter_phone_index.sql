-- A caller looked up by phone (the operators' page): a blind index of the reporter's whole
-- phone number (HMAC with the data key, like the registry's), indexed where there is one.
-- Cases reported before this migration have none and are not found by phone.
ALTER TABLE case_record ADD COLUMN reporter_phone_hash TEXT;
CREATE INDEX case_record_phone_idx ON case_record (reporter_phone_hash, id)
    WHERE reporter_phone_hash IS NOT NULL;
