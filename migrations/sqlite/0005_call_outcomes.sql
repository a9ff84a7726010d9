-- What each call achieved, recorded on the call row as its steps are written, and the
-- indexes the ticket and hotline reports read (SQLite).
-- Keep this file in step with migrations/postgres/0005_call_outcomes.sql.

-- First time (step time, epoch ms) the caller finished a self-service task (heard their bill,
-- opened a fault or order ticket, heard a ticket's state, heard service information), asked
-- for a person, and was offered a callback instead of holding. NULL: never in this call.
-- Calls recorded before this migration have none: reports over them count no self-service.
ALTER TABLE calls ADD COLUMN self_served_at INTEGER;
ALTER TABLE calls ADD COLUMN person_at INTEGER;
ALTER TABLE calls ADD COLUMN callback_offered_at INTEGER;

-- Calls of a period, and a caller's next call (for "did not call again within 24 hours").
-- A report over a year reads every call of it: the indexes carry the columns the report
-- reads, so a period is one ordered index scan, not a table lookup per call
-- (docs/benchmark.md, "Reports").
CREATE INDEX calls_started ON calls (started_at, direction, to_number, self_served_at,
    person_at, callback_offered_at, from_number, call_sid);
CREATE INDEX calls_from_started ON calls (from_number, started_at, direction);

-- Tickets due in a period (service levels), resolved in a period (time to resolve), and
-- opened in a period by kind (complaints).
-- Covering, as for calls.
CREATE INDEX tickets_deadline ON tickets (deadline_at, kind, customer_class, line_kind, state,
    resolved_at, breached_at, account_id) WHERE deadline_at IS NOT NULL;
CREATE INDEX tickets_resolved ON tickets (resolved_at, kind, customer_class, line_kind,
    opened_at, account_id) WHERE resolved_at IS NOT NULL;
CREATE INDEX tickets_kind_opened ON tickets (kind, opened_at);
