-- The numbers callers dialed, for the reports' hotline filter: the console lists them by
-- skipping from one number to the next in this index, a few lookups for a few numbers
-- however many calls are stored. Additive.
CREATE INDEX calls_dialed ON calls (direction, to_number);
