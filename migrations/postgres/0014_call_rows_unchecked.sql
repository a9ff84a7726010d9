-- A call's steps and status events are written only by statements that find the call's id
-- in `calls` in the same transaction (`INSERT … SELECT c.id … JOIN calls c`), and calls are
-- never deleted, so the foreign keys checked nothing those statements do not. Their check
-- was a query per inserted row that also locked the call's row, about 30 µs of the
-- database's time for each step and status report (docs/benchmark.md). Dropping a
-- constraint is safe in a rolling deploy: the previous release writes the same rows.
ALTER TABLE call_steps DROP CONSTRAINT IF EXISTS call_steps_call_id_fkey;
ALTER TABLE call_events DROP CONSTRAINT IF EXISTS call_events_call_id_fkey;
