-- Accounts, lines, bills, calls and their history (PostgreSQL).
--
-- Times are epoch milliseconds and money is in minor units, both BIGINT, so comparisons
-- and sums are exact and the SQL matches the SQLite schema. Dates are TEXT 'YYYY-MM-DD'
-- as on SQLite: they sort as dates and round-trip every chrono::NaiveDate exactly.
-- Keep this file in step with migrations/sqlite/0001_init.sql.

CREATE TABLE accounts (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_no       TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    language         TEXT,
    customer_class   TEXT    NOT NULL,
    pin_hash         TEXT,
    pin_failures     INTEGER NOT NULL DEFAULT 0,
    pin_locked_until BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE TABLE lines (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number     TEXT   NOT NULL UNIQUE,
    kind       TEXT   NOT NULL,
    label      TEXT
);

CREATE INDEX lines_account_id ON lines (account_id);

CREATE TABLE bills (
    account_id          BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    currency            TEXT   NOT NULL,
    amount_due          BIGINT NOT NULL,
    due_date            TEXT   NOT NULL,
    balance             BIGINT NOT NULL,
    last_payment_amount BIGINT,
    last_payment_date   TEXT,
    updated_at          BIGINT NOT NULL,
    CHECK ((last_payment_amount IS NULL) = (last_payment_date IS NULL))
);

-- Charges belong to the bill they were read with: replacing the bill replaces them.
CREATE TABLE bill_charges (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES bills (account_id) ON DELETE CASCADE,
    category    TEXT   NOT NULL,
    description TEXT   NOT NULL,
    amount      BIGINT NOT NULL
);

CREATE INDEX bill_charges_account_id ON bill_charges (account_id);

-- account_id has no foreign key: call history outlives the account it was about.
CREATE TABLE calls (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid      TEXT   NOT NULL UNIQUE,
    direction     TEXT   NOT NULL,
    from_number   TEXT   NOT NULL,
    to_number     TEXT   NOT NULL,
    account_id    BIGINT,
    locale        TEXT,
    status        TEXT   NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    duration_secs BIGINT,
    updated_at    BIGINT NOT NULL
);

-- The unique key is what makes a retried step a replay; it also serves lookups by call.
CREATE TABLE call_steps (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid TEXT    NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    node     TEXT    NOT NULL,
    input    TEXT    NOT NULL,
    said     TEXT    NOT NULL,
    response TEXT    NOT NULL,
    at       BIGINT  NOT NULL,
    UNIQUE (call_sid, seq)
);

CREATE TABLE call_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid TEXT   NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    status   TEXT   NOT NULL,
    sequence BIGINT,
    at       BIGINT NOT NULL
);

-- NULLs are distinct in a plain unique index; a report without a sequence number must
-- still be stored once, hence the COALESCE (the same index works on SQLite).
CREATE UNIQUE INDEX call_events_once ON call_events (call_sid, status, COALESCE(sequence, -1));
