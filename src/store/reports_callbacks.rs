//! Aggregates for the satisfaction, survey and callback reports, for both backends (see
//! `crate::reports`).
//!
//! Rules: as for tickets, one SQL text for SQLite and PostgreSQL, functions written once in
//! `callback_report_store!`; every query is an aggregate or one sorted column over indexed rows.
//! - Every statement binds the same scope in the same places: `$1, $2` the period, `$3` the
//!   campaign, `$4` the number calls come from (the campaign's `from_number`), `$5` the kind
//!   and `$6` the line kind of the callback's ticket, `$7` the customer class (the ticket's,
//!   or, without one, the account's now). PostgreSQL refuses a bound value no statement reads,
//!   so each statement reads all seven.
//! - An answer counts at the time it was given (`survey_answers.at`); a callback counts when
//!   it was queued (`callbacks.created_at`); an attempt counts when the dialer recorded it and
//!   asked the carrier (`requested_at`), and only once the carrier took the call
//!   (`placed_at` set): an attempt the carrier refused never rang anyone.
//! - Answers are counted once per callback (`COUNT(DISTINCT callback_id)`), as the campaign
//!   report counts them: a retried survey step never counts twice.

/// What a callback report is narrowed to; `None` is everything. The period is `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackScope<'a> {
    pub from: i64,
    pub to: i64,
    pub campaign_id: Option<i64>,
    /// The number calls come from: the campaign's `from_number`.
    pub hotline: Option<&'a str>,
    /// The kind of the callback's ticket (`TicketKind::as_str`).
    pub ticket_kind: Option<&'a str>,
    /// The line kind of the callback's ticket (`LineKind::as_str`).
    pub line_kind: Option<&'a str>,
    /// `CustomerClass::as_str`: the ticket's, else the account's.
    pub customer_class: Option<&'a str>,
}

/// Callbacks of one campaign and service that gave one answer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCount {
    pub campaign_id: i64,
    /// The kind of the callback's ticket; `None` for a callback without one.
    pub ticket_kind: Option<String>,
    pub line_kind: Option<String>,
    pub question: String,
    pub answer: String,
    pub callbacks: i64,
}

/// Satisfaction callbacks queued in the period, per service: how far they got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCount {
    pub ticket_kind: Option<String>,
    pub line_kind: Option<String>,
    /// Queued, whatever became of them.
    pub sampled: i64,
    /// With an attempt a person answered.
    pub reached: i64,
    /// With at least one survey answer.
    pub answered: i64,
}

/// One question of one campaign: its answers given in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionScore {
    pub campaign_id: i64,
    pub question: String,
    /// Callbacks that answered it.
    pub answered: i64,
    /// Answers that gave points, and their sum on 0–100 (a sum, so groups add up exactly).
    pub scored: i64,
    pub score_sum: Option<f64>,
}

/// Attempts with one attempt number that the carrier took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptNoCount {
    pub attempt_no: i32,
    pub placed: i64,
    /// A person answered.
    pub person: i64,
    /// At least one survey answer was given during it.
    pub responded: i64,
}

/// One campaign's attempts the carrier took in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignAttempts {
    pub campaign_id: i64,
    /// Callbacks with at least one such attempt.
    pub callbacks: i64,
    /// Of those, callbacks with such an attempt a person answered.
    pub reached: i64,
    pub attempts: i64,
    /// Attempts a person answered.
    pub person: i64,
    /// Attempts an answering machine answered.
    pub machine: i64,
}

/// When an attempt was placed, and the customer's zone (for the calling window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptTime {
    pub campaign_id: i64,
    pub at: i64,
    /// The callback's zone, as stored (an IANA name).
    pub timezone: String,
}

/// The wait from a ticket's resolution to the first attempt of its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstAttemptWait {
    pub campaign_id: i64,
    pub ms: i64,
}

/// The statements, the same text on both backends.
pub(super) mod sql {
    /// A callback with its campaign and ticket (the scope filters read them; the account is
    /// read by the class filter alone, see `scope!`).
    macro_rules! joined {
        () => {
            " JOIN campaigns c ON c.id = b.campaign_id \
             LEFT JOIN tickets t ON t.id = b.ticket_id"
        };
    }

    /// `$3..$7` of the module rules. The account's class is read only when the filter asks
    /// for a class and the ticket has none, instead of joining every callback's account.
    macro_rules! scope {
        () => {
            " AND (CAST($3 AS BIGINT) IS NULL OR b.campaign_id = $3) \
             AND (CAST($4 AS TEXT) IS NULL OR c.from_number = $4) \
             AND (CAST($5 AS TEXT) IS NULL OR t.kind = $5) \
             AND (CAST($6 AS TEXT) IS NULL OR t.line_kind = $6) \
             AND (CAST($7 AS TEXT) IS NULL OR COALESCE(t.customer_class, \
                 (SELECT ac.customer_class FROM accounts ac WHERE ac.id = b.account_id)) = $7)"
        };
    }

    /// Attempts the carrier took, recorded in the period.
    macro_rules! placed_in_period {
        () => {
            " a.placed_at IS NOT NULL AND a.requested_at >= $1 AND a.requested_at < $2"
        };
    }

    /// Satisfaction answers given in the period. Only the values the satisfaction and
    /// "fixed" questions produce are grouped: a comment is a recording URL, one per answer.
    pub const SATISFACTION_ANSWERS: &str = concat!(
        "SELECT b.campaign_id, t.kind, t.line_kind, s.question, s.answer, \
         COUNT(DISTINCT s.callback_id) \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id",
        joined!(),
        " WHERE c.purpose = 'satisfaction' AND s.at >= $1 AND s.at < $2 \
         AND s.answer IN ('very', 'basic', 'dissatisfied', 'yes', 'no')",
        scope!(),
        " GROUP BY b.campaign_id, t.kind, t.line_kind, s.question, s.answer"
    );

    /// Satisfaction callbacks queued in the period, and how far they got (at any time).
    pub const SATISFACTION_SAMPLE: &str = concat!(
        "SELECT t.kind, t.line_kind, COUNT(*), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM callback_attempts a \
             WHERE a.callback_id = b.id AND a.outcome = 'answered') THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM survey_answers s \
             WHERE s.callback_id = b.id) THEN 1 ELSE 0 END), 0) \
         FROM callbacks b",
        joined!(),
        " WHERE c.purpose = 'satisfaction' AND b.created_at >= $1 AND b.created_at < $2",
        scope!(),
        " GROUP BY t.kind, t.line_kind"
    );

    /// Sample-survey answers given in the period, per campaign and question.
    pub const SURVEY_SCORES: &str = concat!(
        "SELECT b.campaign_id, s.question, COUNT(DISTINCT s.callback_id), COUNT(s.score), \
         SUM(s.score) \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id",
        joined!(),
        " WHERE c.purpose = 'sample_survey' AND s.at >= $1 AND s.at < $2",
        scope!(),
        " GROUP BY b.campaign_id, s.question"
    );

    /// Sample-survey attempts per attempt number.
    pub const SURVEY_ATTEMPTS: &str = concat!(
        "SELECT a.attempt_no, COUNT(*), \
         COALESCE(SUM(CASE WHEN a.outcome = 'answered' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM survey_answers s \
             WHERE s.attempt_id = a.id) THEN 1 ELSE 0 END), 0) \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE c.purpose = 'sample_survey' AND",
        placed_in_period!(),
        scope!(),
        " GROUP BY a.attempt_no ORDER BY a.attempt_no"
    );

    /// Attempts per campaign.
    pub const CAMPAIGN_ATTEMPTS: &str = concat!(
        "SELECT b.campaign_id, COUNT(DISTINCT a.callback_id), \
         COUNT(DISTINCT CASE WHEN a.outcome = 'answered' THEN a.callback_id END), COUNT(*), \
         COALESCE(SUM(CASE WHEN a.outcome = 'answered' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.answered_by = 'machine' THEN 1 ELSE 0 END), 0) \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE",
        placed_in_period!(),
        scope!(),
        " GROUP BY b.campaign_id ORDER BY b.campaign_id"
    );

    /// When each attempt was placed and in which zone: the calling window is checked in
    /// Rust (it is a campaign's JSON, its calendar a file), the one figure read row by row.
    pub const ATTEMPT_TIMES: &str = concat!(
        "SELECT b.campaign_id, a.requested_at, b.timezone \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE",
        placed_in_period!(),
        scope!(),
        " ORDER BY b.campaign_id, a.requested_at"
    );

    /// Resolution to first placed attempt, for first attempts placed in the period; sorted
    /// within each campaign, for percentiles.
    pub const FIRST_ATTEMPT_WAITS: &str = concat!(
        "SELECT b.campaign_id, a.requested_at - t.resolved_at AS waited \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE",
        placed_in_period!(),
        " AND t.resolved_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM callback_attempts e WHERE e.callback_id = a.callback_id \
             AND e.attempt_no < a.attempt_no AND e.placed_at IS NOT NULL)",
        scope!(),
        " ORDER BY b.campaign_id, waited"
    );
}

/// `campaign, kind, line kind, question, answer, callbacks`
pub(super) type AnswerRow = (i64, Option<String>, Option<String>, String, String, i64);

pub(super) fn answer_count(r: AnswerRow) -> AnswerCount {
    let (campaign_id, ticket_kind, line_kind, question, answer, callbacks) = r;
    AnswerCount {
        campaign_id,
        ticket_kind,
        line_kind,
        question,
        answer,
        callbacks,
    }
}

/// `kind, line kind, sampled, reached, answered`
pub(super) type SampleRow = (Option<String>, Option<String>, i64, i64, i64);

pub(super) fn sample_count(r: SampleRow) -> SampleCount {
    let (ticket_kind, line_kind, sampled, reached, answered) = r;
    SampleCount {
        ticket_kind,
        line_kind,
        sampled,
        reached,
        answered,
    }
}

/// `campaign, question, answered, scored, sum`
pub(super) type ScoreRow = (i64, String, i64, i64, Option<f64>);

pub(super) fn question_score(r: ScoreRow) -> QuestionScore {
    let (campaign_id, question, answered, scored, score_sum) = r;
    QuestionScore {
        campaign_id,
        question,
        answered,
        scored,
        score_sum,
    }
}

/// `attempt no, placed, person, responded`
pub(super) type AttemptNoRow = (i32, i64, i64, i64);

pub(super) fn attempt_no_count(r: AttemptNoRow) -> AttemptNoCount {
    let (attempt_no, placed, person, responded) = r;
    AttemptNoCount {
        attempt_no,
        placed,
        person,
        responded,
    }
}

/// `campaign, callbacks, reached, attempts, person, machine`
pub(super) type CampaignAttemptsRow = (i64, i64, i64, i64, i64, i64);

pub(super) fn campaign_attempts(r: CampaignAttemptsRow) -> CampaignAttempts {
    let (campaign_id, callbacks, reached, attempts, person, machine) = r;
    CampaignAttempts {
        campaign_id,
        callbacks,
        reached,
        attempts,
        person,
        machine,
    }
}

/// Binds the scope of the module rules, `$1..$7`, in order, to a query.
macro_rules! scoped {
    ($q:expr, $s:expr) => {
        $q.bind($s.from)
            .bind($s.to)
            .bind($s.campaign_id)
            .bind($s.hotline)
            .bind($s.ticket_kind)
            .bind($s.line_kind)
            .bind($s.customer_class)
    };
}
pub(super) use scoped;

/// Implements `CallbackReportStore` for a backend: `$store` has a pool `$read`.
macro_rules! callback_report_store {
    ($store:ident, $db:ty, $read:ident) => {
        mod callback_report_impl {
            use super::super::reports_callbacks::{self as r, scoped, sql};
            use super::super::{
                AnswerCount, AttemptNoCount, AttemptTime, CallbackReportStore, CallbackScope,
                CampaignAttempts, FirstAttemptWait, QuestionScore, Result, SampleCount,
            };

            #[async_trait::async_trait]
            impl CallbackReportStore for super::$store {
                async fn satisfaction_answers(
                    &self,
                    s: &CallbackScope<'_>,
                ) -> Result<Vec<AnswerCount>> {
                    let rows: Vec<r::AnswerRow> =
                        scoped!(sqlx::query_as(sql::SATISFACTION_ANSWERS), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows.into_iter().map(r::answer_count).collect())
                }

                async fn satisfaction_sample(
                    &self,
                    s: &CallbackScope<'_>,
                ) -> Result<Vec<SampleCount>> {
                    let rows: Vec<r::SampleRow> =
                        scoped!(sqlx::query_as(sql::SATISFACTION_SAMPLE), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows.into_iter().map(r::sample_count).collect())
                }

                async fn survey_scores(&self, s: &CallbackScope<'_>) -> Result<Vec<QuestionScore>> {
                    let rows: Vec<r::ScoreRow> = scoped!(sqlx::query_as(sql::SURVEY_SCORES), s)
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows.into_iter().map(r::question_score).collect())
                }

                async fn survey_attempts(
                    &self,
                    s: &CallbackScope<'_>,
                ) -> Result<Vec<AttemptNoCount>> {
                    let rows: Vec<r::AttemptNoRow> =
                        scoped!(sqlx::query_as(sql::SURVEY_ATTEMPTS), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows.into_iter().map(r::attempt_no_count).collect())
                }

                async fn campaign_attempts(
                    &self,
                    s: &CallbackScope<'_>,
                ) -> Result<Vec<CampaignAttempts>> {
                    let rows: Vec<r::CampaignAttemptsRow> =
                        scoped!(sqlx::query_as(sql::CAMPAIGN_ATTEMPTS), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows.into_iter().map(r::campaign_attempts).collect())
                }

                async fn attempt_times(&self, s: &CallbackScope<'_>) -> Result<Vec<AttemptTime>> {
                    let rows: Vec<(i64, i64, String)> =
                        scoped!(sqlx::query_as(sql::ATTEMPT_TIMES), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(campaign_id, at, timezone)| AttemptTime {
                            campaign_id,
                            at,
                            timezone,
                        })
                        .collect())
                }

                async fn first_attempt_waits(
                    &self,
                    s: &CallbackScope<'_>,
                ) -> Result<Vec<FirstAttemptWait>> {
                    let rows: Vec<(i64, i64)> =
                        scoped!(sqlx::query_as(sql::FIRST_ATTEMPT_WAITS), s)
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(campaign_id, ms)| FirstAttemptWait { campaign_id, ms })
                        .collect())
                }
            }
        }
    };
}
pub(super) use callback_report_store;
