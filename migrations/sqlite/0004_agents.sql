-- Agents, their console sessions, escalations with their history, and the callers waiting
-- in the agent queue (SQLite). Keep this file in step with migrations/postgres/0004_agents.sql.

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    -- Where click-to-call rings the agent; a call to the agent line from it is theirs.
    phone         TEXT,
    locale        TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    active        INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX agents_phone ON agents (phone) WHERE phone IS NOT NULL;

-- Only a hash of the session token is kept: a copy of the database signs nobody in.
CREATE TABLE agent_sessions (
    token_hash   TEXT    PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents (id),
    csrf         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- One row per case people must finish. `source` names its cause, so a cause escalates once
-- however often it is reported. `queued_at` is its place in line (a caller who took a
-- callback instead of holding keeps the place they had in the queue).
CREATE TABLE escalations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    priority        INTEGER NOT NULL,
    source          TEXT    NOT NULL UNIQUE,
    account_id      INTEGER,
    ticket_id       INTEGER,
    callback_id     INTEGER,
    call_sid        TEXT,
    answer          TEXT,
    callback_number TEXT,
    summary         TEXT    NOT NULL,
    owner           TEXT,
    due_at          INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    claimed_at      INTEGER,
    replied_at      INTEGER,
    closed_at       INTEGER,
    reply           TEXT,
    reply_via       TEXT,
    version         INTEGER NOT NULL
) STRICT;

CREATE INDEX escalations_queue ON escalations (state, priority, queued_at);
CREATE INDEX escalations_owner ON escalations (owner, state);
CREATE INDEX escalations_ticket ON escalations (ticket_id);
CREATE INDEX escalations_account ON escalations (account_id);

CREATE TABLE escalation_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id INTEGER NOT NULL REFERENCES escalations (id),
    kind          TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    detail        TEXT    NOT NULL,
    at            INTEGER NOT NULL
) STRICT;

CREATE INDEX escalation_events_of ON escalation_events (escalation_id, id);

-- Callers in the agent queue, as the carrier's wait requests report them.
CREATE TABLE queue_calls (
    call_sid      TEXT    PRIMARY KEY,
    account_id    INTEGER,
    from_number   TEXT    NOT NULL,
    locale        TEXT    NOT NULL,
    entered_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    expected_secs INTEGER NOT NULL,
    -- The agent call whose whisper described this caller.
    offered_to    TEXT,
    left_at       INTEGER,
    result        TEXT
) STRICT;

CREATE INDEX queue_calls_waiting ON queue_calls (entered_at) WHERE left_at IS NULL;
CREATE INDEX queue_calls_entered ON queue_calls (entered_at);
