-- Campaigns, the callbacks they owe, their attempts and ledger, survey answers, opt-outs and
-- follow-ups for people (SQLite). Keep in step with migrations/postgres/0003_callbacks.sql.

CREATE TABLE campaigns (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    purpose        TEXT    NOT NULL,
    script         TEXT    NOT NULL, -- JSON: surveys::Script
    calling_window TEXT    NOT NULL, -- JSON: callbacks::window::CallingWindow
    retry          TEXT    NOT NULL, -- JSON: callbacks::policy::RetryPolicy
    pace_ms        INTEGER NOT NULL, -- least time between two calls placed, whole cluster
    from_number    TEXT    NOT NULL,
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER,
    state          TEXT    NOT NULL, -- draft, running, paused, finished
    standing       INTEGER NOT NULL, -- the campaign resolved tickets queue into
    delay_minutes  INTEGER NOT NULL, -- after the resolution
    quiet_days     INTEGER NOT NULL, -- a customer surveyed within this is not called again
    next_slot_at   INTEGER NOT NULL, -- pacing: no call is placed before this
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- At most one standing campaign.
CREATE UNIQUE INDEX campaigns_standing ON campaigns (standing) WHERE standing = 1;

CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    account_id  INTEGER,
    ticket_id   INTEGER,
    source      TEXT    NOT NULL, -- what owed it: 'ticket-event:42', 'list:7', 'sample:3'
    to_number   TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    locale      TEXT    NOT NULL,
    state       TEXT    NOT NULL, -- pending, dialing, done, cancelled
    due_at      INTEGER NOT NULL, -- pending: not before this
    attempts    INTEGER NOT NULL, -- attempts that count against the retry policy
    lease_until INTEGER,          -- dialing: the claim's end
    outcome     TEXT,             -- done or cancelled: why
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (campaign_id, source)
) STRICT;

CREATE INDEX callbacks_due ON callbacks (due_at) WHERE state = 'pending';
CREATE INDEX callbacks_dialing ON callbacks (lease_until) WHERE state = 'dialing';
CREATE INDEX callbacks_campaign ON callbacks (campaign_id, id);
CREATE INDEX callbacks_ticket ON callbacks (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX callbacks_number ON callbacks (to_number, state);

-- state: requesting (recorded, the carrier asked), placed (the carrier has it), unclear (the
-- request got no clear answer), ended.
CREATE TABLE callback_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id      INTEGER NOT NULL REFERENCES callbacks (id),
    attempt_no       INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    provider_call_id TEXT    UNIQUE,
    requested_at     INTEGER NOT NULL,
    placed_at        INTEGER,
    ended_at         INTEGER,
    call_status      TEXT,
    answered_by      TEXT,
    outcome          TEXT,
    counts           INTEGER NOT NULL, -- whether it counts against the retry policy
    UNIQUE (callback_id, attempt_no)
) STRICT;

CREATE INDEX callback_attempts_open ON callback_attempts (requested_at)
    WHERE state <> 'ended';

-- Append-only: what happened to a callback and why, in order.
CREATE TABLE callback_ledger (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id      INTEGER NOT NULL REFERENCES callbacks (id),
    attempt_no       INTEGER,
    kind             TEXT    NOT NULL,
    detail           TEXT    NOT NULL,
    provider_call_id TEXT,
    at               INTEGER NOT NULL
) STRICT;

CREATE INDEX callback_ledger_callback ON callback_ledger (callback_id, id);

CREATE TABLE survey_answers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id INTEGER NOT NULL REFERENCES callbacks (id),
    attempt_id  INTEGER NOT NULL REFERENCES callback_attempts (id),
    question    TEXT    NOT NULL,
    answer      TEXT    NOT NULL,
    score       REAL,
    at          INTEGER NOT NULL,
    UNIQUE (attempt_id, question)
) STRICT;

CREATE INDEX survey_answers_callback ON survey_answers (callback_id);

CREATE TABLE opt_outs (
    number TEXT    PRIMARY KEY,
    source TEXT    NOT NULL,
    at     INTEGER NOT NULL
) STRICT;

-- What people must finish: a dissatisfied answer, "not fixed", an appointment change, a
-- callback that exhausted its attempts. The agents issue turns these into escalations.
CREATE TABLE followups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    callback_id INTEGER NOT NULL REFERENCES callbacks (id),
    ticket_id   INTEGER,
    account_id  INTEGER,
    detail      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (callback_id, kind)
) STRICT;

CREATE INDEX followups_state ON followups (state, id);

-- How far each consumer of the ticket event feed has read.
CREATE TABLE feed_cursors (
    name    TEXT    PRIMARY KEY,
    last_id INTEGER NOT NULL
) STRICT;
