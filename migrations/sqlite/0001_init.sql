-- Accounts, lines, bills, calls and their history (SQLite).
--
-- Times are epoch milliseconds and money is in minor units, both INTEGER, so comparisons
-- and sums are exact. Dates are TEXT 'YYYY-MM-DD' (sorts as dates). Tables are STRICT so a
-- value of the wrong type is refused on write instead of surprising a reader.
-- Keep this file in step with migrations/postgres/0001_init.sql.

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT, -- ids are never reused: calls keep them
    account_no       TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    language         TEXT,
    customer_class   TEXT    NOT NULL,
    pin_hash         TEXT,
    pin_failures     INTEGER NOT NULL DEFAULT 0,
    pin_locked_until INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE lines (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number     TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    label      TEXT
) STRICT;

CREATE INDEX lines_account_id ON lines (account_id);

CREATE TABLE bills (
    account_id          INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    currency            TEXT    NOT NULL,
    amount_due          INTEGER NOT NULL,
    due_date            TEXT    NOT NULL,
    balance             INTEGER NOT NULL,
    last_payment_amount INTEGER,
    last_payment_date   TEXT,
    updated_at          INTEGER NOT NULL,
    CHECK ((last_payment_amount IS NULL) = (last_payment_date IS NULL))
) STRICT;

-- Charges belong to the bill they were read with: replacing the bill replaces them.
CREATE TABLE bill_charges (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES bills (account_id) ON DELETE CASCADE,
    category    TEXT    NOT NULL,
    description TEXT    NOT NULL,
    amount      INTEGER NOT NULL
) STRICT;

CREATE INDEX bill_charges_account_id ON bill_charges (account_id);

-- account_id has no foreign key: call history outlives the account it was about.
CREATE TABLE calls (
    id            INTEGER PRIMARY KEY,
    call_sid      TEXT    NOT NULL UNIQUE,
    direction     TEXT    NOT NULL,
    from_number   TEXT    NOT NULL,
    to_number     TEXT    NOT NULL,
    account_id    INTEGER,
    locale        TEXT,
    status        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    duration_secs INTEGER,
    updated_at    INTEGER NOT NULL
) STRICT;

-- The unique key is what makes a retried step a replay; it also serves lookups by call.
CREATE TABLE call_steps (
    id       INTEGER PRIMARY KEY,
    call_sid TEXT    NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    node     TEXT    NOT NULL,
    input    TEXT    NOT NULL,
    said     TEXT    NOT NULL,
    response TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    UNIQUE (call_sid, seq)
) STRICT;

CREATE TABLE call_events (
    id       INTEGER PRIMARY KEY,
    call_sid TEXT    NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    status   TEXT    NOT NULL,
    sequence INTEGER,
    at       INTEGER NOT NULL
) STRICT;

-- NULLs are distinct in a plain unique index; a report without a sequence number must
-- still be stored once, hence the COALESCE.
CREATE UNIQUE INDEX call_events_once ON call_events (call_sid, status, COALESCE(sequence, -1));
