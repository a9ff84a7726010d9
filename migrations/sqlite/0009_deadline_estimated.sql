-- Whether a ticket's deadline was computed past the end of the working-day calendar, from
-- the fallback (weekends and the statutory holidays): an estimate, shown as one. Additive:
-- an older instance running beside a newer one during a rolling deploy ignores the column.
ALTER TABLE tickets ADD COLUMN deadline_estimated INTEGER NOT NULL DEFAULT 0;
