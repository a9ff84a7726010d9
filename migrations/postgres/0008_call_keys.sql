-- Steps and status reports keyed by their call's integer id instead of its CallSid
-- (PostgreSQL). Why: see migrations/sqlite/0008_call_keys.sql, which this file keeps in
-- step with. Dropping `call_sid` drops the unique key, the foreign key and the index built
-- on it.

ALTER TABLE call_steps ADD COLUMN call_id BIGINT;
UPDATE call_steps s SET call_id = c.id FROM calls c WHERE c.call_sid = s.call_sid;
ALTER TABLE call_steps DROP COLUMN call_sid;
ALTER TABLE call_steps ALTER COLUMN call_id SET NOT NULL;
ALTER TABLE call_steps ADD FOREIGN KEY (call_id) REFERENCES calls (id) ON DELETE CASCADE;
ALTER TABLE call_steps ADD UNIQUE (call_id, seq);

ALTER TABLE call_events ADD COLUMN call_id BIGINT;
UPDATE call_events e SET call_id = c.id FROM calls c WHERE c.call_sid = e.call_sid;
ALTER TABLE call_events DROP COLUMN call_sid;
ALTER TABLE call_events ALTER COLUMN call_id SET NOT NULL;
ALTER TABLE call_events ADD FOREIGN KEY (call_id) REFERENCES calls (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX call_events_once ON call_events (call_id, status, COALESCE(sequence, -1));
