-- Tickets, their history, and the outgoing webhooks that carry it (PostgreSQL).
-- Keep this file in step with migrations/sqlite/0002_tickets.sql.

-- account_id has no foreign key, as on calls: a ticket outlives the account it was about.
CREATE TABLE tickets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    account_id      BIGINT,
    line_number     TEXT,
    line_kind       TEXT,
    customer_class  TEXT,
    channel         TEXT    NOT NULL,
    category        TEXT,
    description     TEXT    NOT NULL,
    callback_number TEXT,
    assignee        TEXT,
    opened_at       BIGINT  NOT NULL,
    deadline_at     BIGINT,
    appointment_at  BIGINT,
    resolved_at     BIGINT,
    resolution_code TEXT,
    resolution_note TEXT,
    closed_at       BIGINT,
    breached_at     BIGINT,
    recording_url   TEXT,
    recording_sid   TEXT,
    recording_secs  BIGINT,
    transcript      TEXT,
    origin_call_sid TEXT,
    origin_seq      INTEGER,
    updated_at      BIGINT  NOT NULL
);

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
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id       BIGINT  NOT NULL REFERENCES tickets (id),
    kind            TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    detail          TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    origin_call_sid TEXT,
    origin_seq      INTEGER
);

CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
-- A retried call step adds its note once.
CREATE UNIQUE INDEX ticket_events_origin ON ticket_events (origin_call_sid, origin_seq);

-- events: ',ticket.opened,ticket.resolved,' or ',*,' (commas around each, for LIKE).
CREATE TABLE webhook_endpoints (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    description TEXT    NOT NULL,
    active      BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- One row per (endpoint, event), written with the event: a delivery owed is never lost.
-- state: pending, delivered, failed (gave up). A claim moves next_attempt_at past its lease,
-- so a delivery claimed by an instance that died is tried again after the lease.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     BIGINT  NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        BIGINT  NOT NULL REFERENCES ticket_events (id),
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    BIGINT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (endpoint_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
