-- Steps and status reports keyed by their call's integer id instead of its CallSid (SQLite).
--
-- A CallSid is random, so a unique index that starts with it takes each new row into a
-- random leaf page, and the write-ahead log writes that whole page for one small entry: per
-- call, two steps and a status report touched three random pages besides the call's own.
-- Call ids grow with each call, so these entries now land on the last pages of their
-- index, which a batch of calls shares (docs/benchmark.md, "What changed").
-- SQLite cannot change a table's constraints in place: each table is rebuilt, keeping its
-- row ids. Keep this file in step with migrations/postgres/0008_call_keys.sql.

CREATE TABLE call_steps_by_id (
    id       INTEGER PRIMARY KEY,
    call_id  INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    node     TEXT    NOT NULL,
    input    TEXT    NOT NULL,
    said     TEXT    NOT NULL,
    response TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    UNIQUE (call_id, seq)
) STRICT;

INSERT INTO call_steps_by_id (id, call_id, seq, node, input, said, response, at)
SELECT s.id, c.id, s.seq, s.node, s.input, s.said, s.response, s.at
FROM call_steps s JOIN calls c ON c.call_sid = s.call_sid
ORDER BY c.id, s.seq;

DROP TABLE call_steps;
ALTER TABLE call_steps_by_id RENAME TO call_steps;

CREATE TABLE call_events_by_id (
    id       INTEGER PRIMARY KEY,
    call_id  INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    status   TEXT    NOT NULL,
    sequence INTEGER,
    at       INTEGER NOT NULL
) STRICT;

INSERT INTO call_events_by_id (id, call_id, status, sequence, at)
SELECT e.id, c.id, e.status, e.sequence, e.at
FROM call_events e JOIN calls c ON c.call_sid = e.call_sid
ORDER BY e.id;

DROP TABLE call_events;
ALTER TABLE call_events_by_id RENAME TO call_events;

-- See 0001_init.sql for the COALESCE.
CREATE UNIQUE INDEX call_events_once ON call_events (call_id, status, COALESCE(sequence, -1));
