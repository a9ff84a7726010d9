-- The indexes the satisfaction, survey and callback reports read (SQLite).
-- Keep this file in step with migrations/postgres/0006_callback_reports.sql.

-- Answers given in a period (satisfaction and sample-survey scores).
CREATE INDEX survey_answers_at ON survey_answers (at);

-- Callbacks queued in a period (customers sampled).
CREATE INDEX callbacks_created ON callbacks (created_at);

-- Attempts recorded in a period (connect rates, machines, the calling window, time to the
-- first attempt).
CREATE INDEX callback_attempts_requested ON callback_attempts (requested_at);
