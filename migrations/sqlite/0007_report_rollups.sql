-- Daily roll-ups of the report figures (see src/reports/rollup.rs): one JSON document of
-- grouped figures per family and local day, and per family the days rolled and their zone.
-- Keep this file in step with migrations/postgres/0007_report_rollups.sql.

CREATE TABLE report_rollups (
    family    TEXT    NOT NULL,
    day_start INTEGER NOT NULL, -- the local day's first instant, epoch ms
    body      TEXT    NOT NULL, -- JSON: the family's rows of that day
    PRIMARY KEY (family, day_start)
) STRICT;

CREATE TABLE report_rollup_marks (
    family   TEXT    PRIMARY KEY,
    tz       TEXT    NOT NULL, -- the zone the days are local to
    start_at INTEGER NOT NULL, -- the first rolled day's start
    through  INTEGER NOT NULL  -- the start of the first day not rolled
) STRICT;
