-- Tickets, their history, and the outgoing webhooks that carry it (SQLite).
-- Keep this file in step with migrations/postgres/0002_tickets.sql.

-- account_id has no foreign key, as on calls: a ticket outlives the account it was about.
CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    account_id      INTEGER,
    line_number     TEXT,
    line_kind       TEXT,
    customer_class  TEXT,
    channel         TEXT    NOT NULL,
    category        TEXT,
    description     TEXT    NOT NULL,
    callback_number TEXT,
    assignee        TEXT,
    opened_at       INTEGER NOT NULL,
    deadline_at     INTEGER,
    appointment_at  INTEGER,
    resolved_at     INTEGER,
    resolution_code TEXT,
    resolution_note TEXT,
    closed_at       INTEGER,
    breached_at     INTEGER,
    recording_url   TEXT,
    recording_sid   TEXT,
    recording_secs  INTEGER,
    transcript      TEXT,
    origin_call_sid TEXT,
    origin_seq      INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;

-- A retried call step finds the ticket it opened instead of opening another.
CREATE UNIQUE INDEX tickets_origin ON tickets (origin_call_sid, origin_seq);
CREATE INDEX tickets_account ON tickets (account_id, id);
CREATE INDEX tickets_line ON tickets (line_number, id);
CREATE INDEX tickets_state ON tickets (state, id);
CREATE INDEX tickets_recording ON tickets (recording_sid) WHERE recording_sid IS NOT NULL;
-- The breach sweeper's next deadline, among tickets still running.
CREATE INDEX tickets_unbreached ON tickets (deadline_at)
    WHERE breached_at IS NULL AND deadline_at IS NOT NULL
      AND state IN ('open', 'assigned', 'in_progress', 'reopened');

-- The history of every ticket, in one global order (id): also the outbox of webhooks and
-- the feed later consumers (satisfaction callbacks) follow.
CREATE TABLE ticket_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id       INTEGER NOT NULL REFERENCES tickets (id),
    kind            TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    detail          TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    origin_call_sid TEXT,
    origin_seq      INTEGER
) STRICT;

CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
-- A retried call step adds its note once.
CREATE UNIQUE INDEX ticket_events_origin ON ticket_events (origin_call_sid, origin_seq);

-- events: ',ticket.opened,ticket.resolved,' or ',*,' (commas around each, for LIKE).
CREATE TABLE webhook_endpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    description TEXT    NOT NULL,
    active      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- One row per (endpoint, event), written with the event: a delivery owed is never lost.
-- state: pending, delivered, failed (gave up). A claim moves next_attempt_at past its lease,
-- so a delivery claimed by an instance that died is tried again after the lease.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES ticket_events (id),
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
