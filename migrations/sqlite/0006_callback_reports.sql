-- The indexes the satisfaction, survey and callback reports read, covering the columns
-- they read so a period is one index scan (SQLite).
-- Keep this file in step with migrations/postgres/0006_callback_reports.sql.

-- Answers given in a period (satisfaction and sample-survey scores).
CREATE INDEX survey_answers_at ON survey_answers (at, answer, question, callback_id, score);

-- Callbacks queued in a period (customers sampled).
CREATE INDEX callbacks_created ON callbacks (created_at, campaign_id, ticket_id, account_id);

-- Attempts recorded in a period (connect rates, machines, the calling window, time to the
-- first attempt).
CREATE INDEX callback_attempts_requested ON callback_attempts (requested_at, placed_at,
    callback_id, attempt_no, outcome, answered_by);
