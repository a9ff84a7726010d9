-- Agents, their console sessions, escalations with their history, and the callers waiting
-- in the agent queue (PostgreSQL). Keep this file in step with migrations/sqlite/0004_agents.sql.

CREATE TABLE agents (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    -- Where click-to-call rings the agent; a call to the agent line from it is theirs.
    phone         TEXT,
    locale        TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    active        BOOLEAN NOT NULL,
    failed_logins BIGINT  NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX agents_phone ON agents (phone) WHERE phone IS NOT NULL;

-- Only a hash of the session token is kept: a copy of the database signs nobody in.
CREATE TABLE agent_sessions (
    token_hash   TEXT    PRIMARY KEY,
    agent_id     BIGINT  NOT NULL REFERENCES agents (id),
    csrf         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- One row per case people must finish. `source` names its cause, so a cause escalates once
-- however often it is reported. `queued_at` is its place in line (a caller who took a
-- callback instead of holding keeps the place they had in the queue).
CREATE TABLE escalations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    priority        BIGINT  NOT NULL,
    source          TEXT    NOT NULL UNIQUE,
    account_id      BIGINT,
    ticket_id       BIGINT,
    callback_id     BIGINT,
    call_sid        TEXT,
    answer          TEXT,
    callback_number TEXT,
    summary         TEXT    NOT NULL,
    owner           TEXT,
    due_at          BIGINT  NOT NULL,
    queued_at       BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    claimed_at      BIGINT,
    replied_at      BIGINT,
    closed_at       BIGINT,
    reply           TEXT,
    reply_via       TEXT,
    version         BIGINT  NOT NULL
);

CREATE INDEX escalations_queue ON escalations (state, priority, queued_at);
CREATE INDEX escalations_owner ON escalations (owner, state);
CREATE INDEX escalations_ticket ON escalations (ticket_id);
CREATE INDEX escalations_account ON escalations (account_id);

CREATE TABLE escalation_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id BIGINT  NOT NULL REFERENCES escalations (id),
    kind          TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    detail        TEXT    NOT NULL,
    at            BIGINT  NOT NULL
);

CREATE INDEX escalation_events_of ON escalation_events (escalation_id, id);

-- Callers in the agent queue, as the carrier's wait requests report them.
CREATE TABLE queue_calls (
    call_sid      TEXT    PRIMARY KEY,
    account_id    BIGINT,
    from_number   TEXT    NOT NULL,
    locale        TEXT    NOT NULL,
    entered_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    position      BIGINT  NOT NULL,
    expected_secs BIGINT  NOT NULL,
    -- The agent call whose whisper described this caller.
    offered_to    TEXT,
    left_at       BIGINT,
    result        TEXT
);

CREATE INDEX queue_calls_waiting ON queue_calls (entered_at) WHERE left_at IS NULL;
CREATE INDEX queue_calls_entered ON queue_calls (entered_at);
