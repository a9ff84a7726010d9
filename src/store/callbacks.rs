//! Campaigns, callbacks, attempts, the ledger, answers, opt-outs and follow-ups, for both
//! backends.
//!
//! Rules: as for tickets, the statements are the same text on both backends and the functions
//! are written once (`callback_store!`), expanded per backend with PostgreSQL's
//! `FOR UPDATE SKIP LOCKED` where callbacks are claimed, so several instances never claim the
//! same one. Every change to a callback writes its ledger line in the same transaction.
//! Conditional updates (`WHERE state = …`) make late or repeated reports change nothing.

use super::{Result, StoreError};
use crate::callbacks::{
    Attempt, AttemptState, Callback, CallbackState, Campaign, CampaignState, LedgerEntry,
    SampleAccount, Services,
};
use crate::prompts::Locale;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("campaign {what}: {e}")))
}

pub(super) fn to_json(what: &str, v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("campaign {what}: {e}")))
}

/// The columns of `CAMPAIGN_COLUMNS`, decoded by position.
pub(super) struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub purpose: String,
    pub script: String,
    pub window: String,
    pub retry: String,
    pub pace_ms: i64,
    pub from_number: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub state: String,
    pub standing: bool,
    pub delay_minutes: i64,
    pub quiet_days: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = StoreError;

    fn try_from(r: CampaignRow) -> Result<Campaign> {
        Ok(Campaign {
            id: r.id,
            purpose: serde_json::from_value(serde_json::Value::String(r.purpose.clone()))
                .map_err(|_| corrupt("campaign purpose", &r.purpose))?,
            script: json("script", &r.script)?,
            window: json("window", &r.window)?,
            retry: json("retry policy", &r.retry)?,
            state: CampaignState::parse(&r.state)
                .ok_or_else(|| corrupt("campaign state", &r.state))?,
            name: r.name,
            pace_ms: r.pace_ms,
            from_number: r.from_number,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            standing: r.standing,
            delay_minutes: r.delay_minutes,
            quiet_days: r.quiet_days,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

macro_rules! campaign_columns {
    () => {
        "c.id, c.name, c.purpose, c.script, c.calling_window, c.retry, c.pace_ms, \
         c.from_number, c.starts_at, c.ends_at, c.state, c.standing, c.delay_minutes, \
         c.quiet_days, c.created_at, c.updated_at"
    };
}
pub(super) use campaign_columns;

macro_rules! callback_columns {
    () => {
        "b.id, b.campaign_id, b.account_id, b.ticket_id, b.source, b.to_number, b.timezone, \
         b.locale, b.state, b.due_at, b.attempts, b.lease_until, b.outcome, b.created_at, \
         b.updated_at"
    };
    // Unqualified, for `RETURNING` (SQLite does not take an alias there).
    (bare) => {
        "id, campaign_id, account_id, ticket_id, source, to_number, timezone, locale, state, \
         due_at, attempts, lease_until, outcome, created_at, updated_at"
    };
}
pub(super) use callback_columns;

/// The columns of `callback_columns!()`.
pub(super) type CallbackRow = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    i64,
    i32,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

pub(super) fn callback(r: CallbackRow) -> Result<Callback> {
    let (id, campaign_id, account_id, ticket_id, source, to_number, timezone, locale, state) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8);
    Ok(Callback {
        id,
        campaign_id,
        account_id,
        ticket_id,
        source,
        to_number,
        timezone,
        locale: Locale::ALL
            .into_iter()
            .find(|l| l.tag() == locale)
            .ok_or_else(|| corrupt("locale", &locale))?,
        state: CallbackState::parse(&state).ok_or_else(|| corrupt("callback state", &state))?,
        due_at: r.9,
        attempts: r.10,
        lease_until: r.11,
        outcome: r.12,
        created_at: r.13,
        updated_at: r.14,
    })
}

macro_rules! attempt_columns {
    () => {
        "a.id, a.callback_id, a.attempt_no, a.state, a.provider_call_id, a.requested_at, \
         a.placed_at, a.ended_at, a.call_status, a.answered_by, a.outcome, a.counts"
    };
}
pub(super) use attempt_columns;

pub(super) type AttemptRow = (
    i64,
    i64,
    i32,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

pub(super) fn attempt(r: AttemptRow) -> Result<Attempt> {
    Ok(Attempt {
        id: r.0,
        callback_id: r.1,
        attempt_no: r.2,
        state: AttemptState::parse(&r.3).ok_or_else(|| corrupt("attempt state", &r.3))?,
        provider_call_id: r.4,
        requested_at: r.5,
        placed_at: r.6,
        ended_at: r.7,
        call_status: r.8,
        answered_by: r.9,
        outcome: r.10,
        counts: r.11,
    })
}

/// `id, callback_id, attempt_no, kind, detail, provider_call_id, at`
pub(super) type LedgerRow = (i64, i64, Option<i32>, String, String, Option<String>, i64);

pub(super) fn ledger(r: LedgerRow) -> LedgerEntry {
    LedgerEntry {
        id: r.0,
        callback_id: r.1,
        attempt_no: r.2,
        kind: r.3,
        detail: r.4,
        provider_call_id: r.5,
        at: r.6,
    }
}

/// The accounts a sample of campaign `$1` may draw: one row per account with a phone line
/// (its first by number) whose number has not opted out and that the campaign does not owe a
/// call yet, with its services as `Services::code` (1 broadband + 2 leased).
macro_rules! sample_candidates {
    () => {
        "SELECT p.id, p.account_no, p.language, p.number, p.services FROM (\
         SELECT a.id, a.account_no, a.language, \
         MIN(CASE WHEN l.kind = 'phone' THEN l.number END) AS number, \
         CAST(MAX(CASE WHEN l.kind = 'broadband' THEN 1 ELSE 0 END) \
             + 2 * MAX(CASE WHEN l.kind = 'leased' THEN 1 ELSE 0 END) AS BIGINT) AS services \
         FROM accounts a JOIN lines l ON l.account_id = a.id \
         WHERE a.id NOT IN (SELECT b.account_id FROM callbacks b \
             WHERE b.campaign_id = $1 AND b.account_id IS NOT NULL) \
         GROUP BY a.id, a.account_no, a.language) p \
         WHERE p.number IS NOT NULL AND p.number NOT IN (SELECT o.number FROM opt_outs o)"
    };
}

pub(super) mod sql {
    pub const INSERT_CAMPAIGN: &str = "INSERT INTO campaigns (name, purpose, script, \
         calling_window, retry, pace_ms, from_number, starts_at, ends_at, state, standing, \
         delay_minutes, quiet_days, next_slot_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12, 0, $13, $13) \
         RETURNING id";
    pub const CAMPAIGN_NAMED: &str = "SELECT id FROM campaigns WHERE name = $1";
    pub const SET_CAMPAIGN_STATE: &str =
        "UPDATE campaigns SET state = $2, updated_at = $3 WHERE id = $1 AND state = $4";
    /// `$1` callback fields…; does nothing for a source already owed in the campaign.
    pub const INSERT_CALLBACK: &str = "INSERT INTO callbacks (campaign_id, account_id, \
         ticket_id, source, to_number, timezone, locale, state, due_at, attempts, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, 0, $9, $9) \
         ON CONFLICT (campaign_id, source) DO NOTHING RETURNING id";
    pub const INSERT_LEDGER: &str = "INSERT INTO callback_ledger (callback_id, attempt_no, \
         kind, detail, provider_call_id, at) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const PENDING_OF_TICKET: &str =
        "SELECT id, source FROM callbacks WHERE ticket_id = $1 AND state = 'pending'";
    pub const CANCEL_CALLBACK: &str = "UPDATE callbacks SET state = 'cancelled', \
         outcome = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'";
    pub const LEDGER_OF: &str = "SELECT id, callback_id, attempt_no, kind, detail, \
         provider_call_id, at FROM callback_ledger WHERE callback_id = $1 ORDER BY id";
    pub const DEFER: &str = "UPDATE callbacks SET state = 'pending', due_at = $2, \
         lease_until = NULL, updated_at = $3 WHERE id = $1 AND state = 'dialing'";
    pub const FINISH: &str = "UPDATE callbacks SET state = 'done', outcome = $2, \
         lease_until = NULL, updated_at = $3 WHERE id = $1 AND state IN ('dialing', 'pending')";
    /// Takes the campaign's next pacing slot if it has come: the row changes only then.
    pub const TAKE_SLOT: &str = "UPDATE campaigns SET next_slot_at = $2 + $3 \
         WHERE id = $1 AND next_slot_at <= $2";
    pub const NEXT_SLOT: &str = "SELECT next_slot_at FROM campaigns WHERE id = $1";
    pub const NEXT_ATTEMPT_NO: &str =
        "SELECT COALESCE(MAX(attempt_no), 0) + 1 FROM callback_attempts WHERE callback_id = $1";
    pub const INSERT_ATTEMPT: &str = "INSERT INTO callback_attempts (callback_id, attempt_no, \
         state, requested_at, counts) VALUES ($1, $2, 'requesting', $3, true) RETURNING id";
    pub const PLACED: &str = "UPDATE callback_attempts SET state = 'placed', \
         provider_call_id = $2, placed_at = $3 \
         WHERE id = $1 AND state IN ('requesting', 'unclear')";
    pub const UNCLEAR: &str = "UPDATE callback_attempts SET state = 'unclear' \
         WHERE id = $1 AND state = 'requesting'";
    /// Ends an attempt once: a repeated or late report finds it ended and changes nothing.
    pub const END_ATTEMPT: &str = "UPDATE callback_attempts SET state = 'ended', \
         ended_at = $2, call_status = COALESCE($3, call_status), \
         answered_by = COALESCE($4, answered_by), outcome = $5, counts = $6, \
         provider_call_id = COALESCE(provider_call_id, $7) \
         WHERE id = $1 AND state <> 'ended'";
    pub const COUNT_ATTEMPT: &str = "UPDATE callbacks SET attempts = attempts + 1 WHERE id = $1";
    pub const CALLBACK_PENDING: &str = "UPDATE callbacks SET state = 'pending', due_at = $2, \
         lease_until = NULL, updated_at = $3 WHERE id = $1 AND state IN ('dialing', 'pending')";
    pub const INSERT_FOLLOWUP: &str = "INSERT INTO followups (kind, callback_id, ticket_id, \
         account_id, detail, state, created_at) \
         SELECT $2, b.id, b.ticket_id, b.account_id, $3, 'open', $4 FROM callbacks b \
         WHERE b.id = $1 ON CONFLICT (callback_id, kind) DO NOTHING";
    pub const OPT_OUT: &str = "INSERT INTO opt_outs (number, source, at) VALUES ($1, $2, $3) \
         ON CONFLICT (number) DO NOTHING";
    pub const IS_OPTED_OUT: &str = "SELECT COUNT(*) FROM opt_outs WHERE number = $1";
    /// Whether another callback to the number reached the customer since `$2`.
    pub const REACHED_SINCE: &str = "SELECT COUNT(*) FROM callback_attempts a \
         JOIN callbacks b ON b.id = a.callback_id \
         WHERE b.to_number = $1 AND a.outcome = 'answered' AND a.ended_at >= $2 \
         AND b.id <> $3";
    pub const INSERT_ANSWER: &str = "INSERT INTO survey_answers (callback_id, attempt_id, \
         question, answer, score, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (attempt_id, question) DO NOTHING";
    pub const ANSWERS_OF: &str = "SELECT callback_id, attempt_id, question, answer, score, at \
         FROM survey_answers WHERE callback_id = $1 ORDER BY id";
    pub const OPEN_FOLLOWUPS: &str = "SELECT id, kind, callback_id, ticket_id, account_id, \
         detail, state, created_at FROM followups WHERE state = 'open' ORDER BY id LIMIT $1";
    pub const CURSOR: &str = "SELECT last_id FROM feed_cursors WHERE name = $1";
    pub const SET_CURSOR: &str = "INSERT INTO feed_cursors (name, last_id) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id";

    /// A stopped campaign's pending callbacks are cancelled, with the outcome `stopped`.
    pub const STOP_PENDING: &str = "UPDATE callbacks SET state = 'cancelled', \
         outcome = 'stopped', lease_until = NULL, updated_at = $2 \
         WHERE campaign_id = $1 AND state = 'pending'";
    /// The ledger line of each callback `STOP_PENDING` cancelled (once: a callback that has
    /// its `cancelled` line is left alone), written set-wise in the same transaction.
    pub const LEDGER_STOPPED: &str = "INSERT INTO callback_ledger (callback_id, kind, detail, \
         at) SELECT b.id, 'cancelled', $2, $3 FROM callbacks b \
         WHERE b.campaign_id = $1 AND b.state = 'cancelled' AND b.outcome = 'stopped' \
         AND NOT EXISTS (SELECT 1 FROM callback_ledger l \
             WHERE l.callback_id = b.id AND l.kind = 'cancelled')";

    // The campaign report: every figure is one aggregate over the campaign's rows.
    pub const TALLY_STATES: &str = "SELECT b.state, COUNT(*) FROM callbacks b \
         WHERE b.campaign_id = $1 GROUP BY b.state ORDER BY b.state";
    pub const TALLY_OUTCOMES: &str = "SELECT b.outcome, COUNT(*) FROM callbacks b \
         WHERE b.campaign_id = $1 AND b.outcome IS NOT NULL GROUP BY b.outcome \
         ORDER BY b.outcome";
    /// Called: an attempt that counts and reached the carrier (placed, or ended after
    /// counting); reached: an attempt a person answered.
    pub const TALLY_ATTEMPTS: &str = "SELECT \
         COUNT(DISTINCT CASE WHEN a.counts AND a.state IN ('placed', 'ended') \
             THEN a.callback_id END), \
         COUNT(DISTINCT CASE WHEN a.outcome = 'answered' THEN a.callback_id END) \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id \
         WHERE b.campaign_id = $1";
    pub const TALLY_ANSWERED: &str = "SELECT COUNT(DISTINCT s.callback_id) \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1";
    /// Opted out before the call (the dialer finished it) or during it (the ledger says so).
    pub const TALLY_OPTED_OUT: &str = "SELECT COUNT(*) FROM callbacks b \
         WHERE b.campaign_id = $1 AND (b.outcome = 'opted_out' OR EXISTS (SELECT 1 \
             FROM callback_ledger l WHERE l.callback_id = b.id AND l.kind = 'opted_out'))";
    pub const TALLY_QUESTIONS: &str = "SELECT s.question, COUNT(DISTINCT s.callback_id), \
         COUNT(s.score), AVG(s.score) \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1 GROUP BY s.question ORDER BY s.question";

    /// Callbacks that answered all of `$2…` (the question keys bound after the campaign),
    /// `$n` being how many keys there are. The list is built by [`placeholders`].
    pub fn tally_complete(keys: usize) -> String {
        format!(
            "SELECT COUNT(*) FROM (SELECT s.callback_id FROM survey_answers s \
             JOIN callbacks b ON b.id = s.callback_id \
             WHERE b.campaign_id = $1 AND s.question IN ({}) GROUP BY s.callback_id \
             HAVING COUNT(DISTINCT s.question) = ${}) t",
            placeholders(2, keys),
            keys + 2
        )
    }

    /// Callbacks per question and answer value, for the questions `$2…`.
    pub fn tally_answers(keys: usize) -> String {
        format!(
            "SELECT s.question, s.answer, COUNT(DISTINCT s.callback_id) \
             FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
             WHERE b.campaign_id = $1 AND s.question IN ({}) \
             GROUP BY s.question, s.answer ORDER BY s.question, s.answer",
            placeholders(2, keys)
        )
    }

    /// `$first, $first+1, …`, `n` of them: the only text ever formatted into a statement,
    /// so the values themselves are always bound.
    fn placeholders(first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    // Samples are drawn in SQL, not in Rust: the strata are counted with GROUP BY and each
    // is drawn with `ORDER BY random() LIMIT k` (SQLite and PostgreSQL both have `random()`),
    // a uniform draw without repeats, so memory holds the sample and never the customer base.
    pub const SAMPLE_STRATA: &str = concat!(
        "SELECT c.services, COUNT(*) FROM (",
        sample_candidates!(),
        ") c GROUP BY c.services ORDER BY c.services"
    );
    pub const DRAW_ANY: &str = concat!(
        "SELECT c.id, c.account_no, c.language, c.number, c.services FROM (",
        sample_candidates!(),
        ") c ORDER BY random() LIMIT $2"
    );
    pub const DRAW_STRATUM: &str = concat!(
        "SELECT c.id, c.account_no, c.language, c.number, c.services FROM (",
        sample_candidates!(),
        ") c WHERE c.services = $2 ORDER BY random() LIMIT $3"
    );
}

/// `id, account_no, language, number, services` of `sample_candidates!`.
pub(super) type SampleRow = (i64, String, Option<String>, String, i64);

pub(super) fn sample_account(r: SampleRow) -> Result<SampleAccount> {
    let language = match r.2 {
        None => None,
        Some(tag) => Some(
            Locale::ALL
                .into_iter()
                .find(|l| l.tag() == tag)
                .ok_or_else(|| corrupt("language", &tag))?,
        ),
    };
    Ok(SampleAccount {
        account_id: r.0,
        account_no: r.1,
        language,
        number: r.3,
        services: Services::from_code(r.4)
            .ok_or_else(|| corrupt("services code", &r.4.to_string()))?,
    })
}

/// Implements `CallbackStore` for a backend (see `ticket_store!`): `$claim` is appended to the
/// select that claims callbacks.
macro_rules! callback_store {
    ($store:ident, $db:ty, $read:ident, $claim:literal) => {
        mod callback_impl {
            use sqlx::Row as _;

            use super::super::callbacks::{
                self as c, attempt_columns, callback_columns,
                campaign_columns, sql,
            };
            use super::super::{AttemptEnd, CallbackNext, CallbackStore, Result, StoreError};
            use crate::callbacks::{
                AnswerTally, Attempt, Callback, CallbackState, Campaign, CampaignState,
                CampaignTally, Followup, LedgerEntry, NewCallback, NewCampaign, QuestionTally,
                SampleAccount, Services, StoredAnswer,
            };

            type Conn = <$db as sqlx::Database>::Connection;
            type Row = <$db as sqlx::Database>::Row;

            fn decode_campaign(r: &Row) -> Result<Campaign> {
                Campaign::try_from(c::CampaignRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    purpose: r.try_get(2)?,
                    script: r.try_get(3)?,
                    window: r.try_get(4)?,
                    retry: r.try_get(5)?,
                    pace_ms: r.try_get(6)?,
                    from_number: r.try_get(7)?,
                    starts_at: r.try_get(8)?,
                    ends_at: r.try_get(9)?,
                    state: r.try_get(10)?,
                    standing: r.try_get(11)?,
                    delay_minutes: r.try_get(12)?,
                    quiet_days: r.try_get(13)?,
                    created_at: r.try_get(14)?,
                    updated_at: r.try_get(15)?,
                })
            }

            const CAMPAIGN_BY_ID: &str = concat!(
                "SELECT ",
                campaign_columns!(),
                " FROM campaigns c WHERE c.id = $1"
            );
            const CAMPAIGNS: &str = concat!(
                "SELECT ",
                campaign_columns!(),
                " FROM campaigns c ORDER BY c.id"
            );
            const STANDING: &str = concat!(
                "SELECT ",
                campaign_columns!(),
                " FROM campaigns c WHERE c.standing ORDER BY c.id LIMIT 1"
            );
            const CALLBACK_BY_ID: &str = concat!(
                "SELECT ",
                callback_columns!(),
                " FROM callbacks b WHERE b.id = $1"
            );
            const CALLBACKS_OF_CAMPAIGN: &str = concat!(
                "SELECT ",
                callback_columns!(),
                " FROM callbacks b WHERE b.campaign_id = $1 AND b.id > $2 ORDER BY b.id LIMIT $3"
            );
            const CALLBACKS_IN_STATE: &str = concat!(
                "SELECT ",
                callback_columns!(),
                " FROM callbacks b WHERE b.campaign_id = $1 AND b.state = $2 AND b.id > $3 \
                 ORDER BY b.id LIMIT $4"
            );
            const ATTEMPT_BY_ID: &str = concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM callback_attempts a WHERE a.id = $1"
            );
            const ATTEMPTS_OF: &str = concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM callback_attempts a WHERE a.callback_id = $1 ORDER BY a.attempt_no"
            );
            /// Unclear (or still requesting) attempts older than `$1`, and placed ones older
            /// than `$2`: young placed calls are still going on and must not fill the batch.
            const OPEN_ATTEMPTS: &str = concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM callback_attempts a WHERE (a.state IN ('requesting', 'unclear') \
                 AND a.requested_at < $1) OR (a.state = 'placed' AND a.requested_at < $2) \
                 ORDER BY a.requested_at LIMIT $3"
            );
            const ATTEMPT_BY_CALL: &str = concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM callback_attempts a WHERE a.provider_call_id = $1"
            );
            /// Claims due pending callbacks of running campaigns, oldest first, in one
            /// statement.
            const CLAIM_DUE: &str = concat!(
                "UPDATE callbacks SET state = 'dialing', lease_until = $2, updated_at = $1 \
                 WHERE id IN (SELECT d.id FROM callbacks d JOIN campaigns c ON c.id = d.campaign_id \
                 WHERE d.state = 'pending' AND d.due_at <= $1 AND c.state = 'running' \
                 AND c.starts_at <= $1 ORDER BY d.due_at, d.id LIMIT $3",
                $claim,
                ") RETURNING ",
                callback_columns!(bare)
            );
            /// Claims whose dialer died before it asked the carrier: no attempt is open.
            const CLAIM_ABANDONED: &str = concat!(
                "UPDATE callbacks SET state = 'dialing', lease_until = $2, updated_at = $1 \
                 WHERE id IN (SELECT d.id FROM callbacks d WHERE d.state = 'dialing' \
                 AND d.lease_until < $1 AND NOT EXISTS (SELECT 1 FROM callback_attempts a \
                     WHERE a.callback_id = d.id AND a.state <> 'ended') \
                 ORDER BY d.lease_until LIMIT $3",
                $claim,
                ") RETURNING ",
                callback_columns!(bare)
            );

            async fn ledger_line(
                conn: &mut Conn,
                callback_id: i64,
                attempt_no: Option<i32>,
                kind: &str,
                detail: &str,
                provider: Option<&str>,
                at: i64,
            ) -> Result<()> {
                sqlx::query(sql::INSERT_LEDGER)
                    .bind(callback_id)
                    .bind(attempt_no)
                    .bind(kind)
                    .bind(detail)
                    .bind(provider)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn campaign_where(
                conn: &mut Conn,
                q: &'static str,
                id: Option<i64>,
            ) -> Result<Option<Campaign>> {
                let query = sqlx::query(q);
                let query = match id {
                    Some(id) => query.bind(id),
                    None => query,
                };
                query
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| decode_campaign(&r))
                    .transpose()
            }

            /// Records the next attempt of a callback, requested at `now`, with its ledger line.
            async fn insert_attempt(
                conn: &mut Conn,
                callback_id: i64,
                detail: &str,
                now: i64,
            ) -> Result<Attempt> {
                let no: i32 = sqlx::query_scalar(sql::NEXT_ATTEMPT_NO)
                    .bind(callback_id)
                    .fetch_one(&mut *conn)
                    .await?;
                let id: i64 = sqlx::query_scalar(sql::INSERT_ATTEMPT)
                    .bind(callback_id)
                    .bind(no)
                    .bind(now)
                    .fetch_one(&mut *conn)
                    .await?;
                ledger_line(conn, callback_id, Some(no), "dialing", detail, None, now).await?;
                let attempt = sqlx::query_as::<_, c::AttemptRow>(ATTEMPT_BY_ID)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                c::attempt(attempt)
            }

            async fn callback_by_id(conn: &mut Conn, id: i64) -> Result<Option<Callback>> {
                sqlx::query_as::<_, c::CallbackRow>(CALLBACK_BY_ID)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(c::callback)
                    .transpose()
            }

            /// Applies a survey effect of a recorded step, in its transaction.
            pub(in super::super) async fn apply_survey_effect(
                conn: &mut Conn,
                effect: &crate::calls::step::Effect,
                at: i64,
            ) -> Result<()> {
                use crate::calls::step::Effect;
                match effect {
                    Effect::SurveyAnswer {
                        callback_id,
                        attempt_id,
                        question,
                        answer,
                        score,
                    } => {
                        sqlx::query(sql::INSERT_ANSWER)
                            .bind(callback_id)
                            .bind(attempt_id)
                            .bind(question)
                            .bind(answer)
                            .bind(score)
                            .bind(at)
                            .execute(&mut *conn)
                            .await?;
                    }
                    Effect::OptOut {
                        callback_id,
                        number,
                    } => {
                        sqlx::query(sql::OPT_OUT)
                            .bind(number)
                            .bind(format!("callback:{callback_id}"))
                            .bind(at)
                            .execute(&mut *conn)
                            .await?;
                        let why = "the customer pressed 9: not to be called again";
                        ledger_line(conn, *callback_id, None, "opted_out", why, None, at).await?;
                    }
                    Effect::Followup {
                        callback_id,
                        kind,
                        detail,
                    } => {
                        sqlx::query(sql::INSERT_FOLLOWUP)
                            .bind(callback_id)
                            .bind(kind)
                            .bind(detail)
                            .bind(at)
                            .execute(&mut *conn)
                            .await?;
                        super::super::agents::raise_followup(
                            conn,
                            *callback_id,
                            kind,
                            detail,
                            at,
                        )
                        .await?;
                    }
                    Effect::Escalate(e) => {
                        super::super::agents::raise(conn, e).await?;
                    }
                    _ => {}
                }
                Ok(())
            }

            #[async_trait::async_trait]
            impl CallbackStore for super::$store {
                async fn create_campaign(&self, n: &NewCampaign, now: i64) -> Result<Campaign> {
                    let mut tx = self.begin_write().await?;
                    let taken: Option<i64> = sqlx::query_scalar(sql::CAMPAIGN_NAMED)
                        .bind(&n.name)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if taken.is_some() {
                        return Err(StoreError::Conflict(format!(
                            "a campaign named {:?} exists",
                            n.name
                        )));
                    }
                    if n.standing && campaign_where(&mut tx, STANDING, None).await?.is_some() {
                        return Err(StoreError::Conflict(
                            "there is a standing campaign already; only one may be".into(),
                        ));
                    }
                    let purpose = match serde_json::to_value(n.purpose) {
                        Ok(serde_json::Value::String(s)) => s,
                        _ => return Err(StoreError::Corrupt("campaign purpose".into())),
                    };
                    let id: i64 = sqlx::query_scalar(sql::INSERT_CAMPAIGN)
                        .bind(&n.name)
                        .bind(purpose)
                        .bind(c::to_json("script", &n.script)?)
                        .bind(c::to_json("window", &n.window)?)
                        .bind(c::to_json("retry policy", &n.retry)?)
                        .bind(n.pace_ms)
                        .bind(&n.from_number)
                        .bind(n.starts_at)
                        .bind(n.ends_at)
                        .bind(n.standing)
                        .bind(n.delay_minutes)
                        .bind(n.quiet_days)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    let campaign = campaign_where(&mut tx, CAMPAIGN_BY_ID, Some(id)).await?;
                    tx.commit().await?;
                    campaign.ok_or(StoreError::NotFound)
                }

                async fn campaign(&self, id: i64) -> Result<Option<Campaign>> {
                    campaign_where(&mut *self.$read.acquire().await?, CAMPAIGN_BY_ID, Some(id))
                        .await
                }

                async fn campaigns(&self) -> Result<Vec<Campaign>> {
                    sqlx::query(CAMPAIGNS)
                        .fetch_all(&self.$read)
                        .await?
                        .iter()
                        .map(decode_campaign)
                        .collect()
                }

                async fn standing_campaign(&self) -> Result<Option<Campaign>> {
                    campaign_where(&mut *self.$read.acquire().await?, STANDING, None).await
                }

                async fn set_campaign_state(
                    &self,
                    id: i64,
                    to: CampaignState,
                    now: i64,
                ) -> Result<Campaign> {
                    let mut tx = self.begin_write().await?;
                    let current = campaign_where(&mut tx, CAMPAIGN_BY_ID, Some(id))
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    if !current.state.allows(to) {
                        return Err(StoreError::Conflict(format!(
                            "campaign {id} is {}; it cannot become {}",
                            current.state.as_str(),
                            to.as_str()
                        )));
                    }
                    sqlx::query(sql::SET_CAMPAIGN_STATE)
                        .bind(id)
                        .bind(to.as_str())
                        .bind(now)
                        .bind(current.state.as_str())
                        .execute(&mut *tx)
                        .await?;
                    let campaign = campaign_where(&mut tx, CAMPAIGN_BY_ID, Some(id)).await?;
                    tx.commit().await?;
                    campaign.ok_or(StoreError::NotFound)
                }

                async fn queue_callbacks(
                    &self,
                    items: &[NewCallback],
                    now: i64,
                ) -> Result<Vec<Option<i64>>> {
                    let mut tx = self.begin_write().await?;
                    let mut ids = Vec::with_capacity(items.len());
                    for n in items {
                        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_CALLBACK)
                            .bind(n.campaign_id)
                            .bind(n.account_id)
                            .bind(n.ticket_id)
                            .bind(&n.source)
                            .bind(&n.to_number)
                            .bind(&n.timezone)
                            .bind(n.locale.tag())
                            .bind(n.due_at)
                            .bind(now)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some(id) = id {
                            ledger_line(&mut tx, id, None, "queued", &n.why, None, now).await?;
                        }
                        ids.push(id);
                    }
                    tx.commit().await?;
                    Ok(ids)
                }

                async fn cancel_ticket_callbacks(
                    &self,
                    ticket_id: i64,
                    before_event: i64,
                    why: &str,
                    now: i64,
                ) -> Result<u64> {
                    let mut tx = self.begin_write().await?;
                    let pending: Vec<(i64, String)> = sqlx::query_as(sql::PENDING_OF_TICKET)
                        .bind(ticket_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    // Only what earlier events owed: feed readers may see events late, and a
                    // reopening must not cancel what a later event asked for.
                    let ids = pending.into_iter().filter_map(|(id, source)| {
                        let event: i64 = source.strip_prefix("ticket-event:")?.parse().ok()?;
                        (event < before_event).then_some(id)
                    });
                    let mut n = 0;
                    for id in ids {
                        let done = sqlx::query(sql::CANCEL_CALLBACK)
                            .bind(id)
                            .bind("cancelled")
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if done > 0 {
                            ledger_line(&mut tx, id, None, "cancelled", why, None, now).await?;
                            n += 1;
                        }
                    }
                    tx.commit().await?;
                    Ok(n)
                }

                async fn callback(&self, id: i64) -> Result<Option<Callback>> {
                    callback_by_id(&mut *self.$read.acquire().await?, id).await
                }

                async fn campaign_callbacks(
                    &self,
                    campaign_id: i64,
                    after: i64,
                    limit: i64,
                ) -> Result<Vec<Callback>> {
                    sqlx::query_as::<_, c::CallbackRow>(CALLBACKS_OF_CAMPAIGN)
                        .bind(campaign_id)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(c::callback)
                        .collect()
                }

                async fn ledger(&self, callback_id: i64) -> Result<Vec<LedgerEntry>> {
                    Ok(sqlx::query_as::<_, c::LedgerRow>(sql::LEDGER_OF)
                        .bind(callback_id)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(c::ledger)
                        .collect())
                }

                async fn attempts(&self, callback_id: i64) -> Result<Vec<Attempt>> {
                    sqlx::query_as::<_, c::AttemptRow>(ATTEMPTS_OF)
                        .bind(callback_id)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(c::attempt)
                        .collect()
                }

                async fn attempt(&self, id: i64) -> Result<Option<Attempt>> {
                    sqlx::query_as::<_, c::AttemptRow>(ATTEMPT_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(c::attempt)
                        .transpose()
                }

                async fn claim_callbacks(
                    &self,
                    now: i64,
                    lease_until: i64,
                    limit: i64,
                ) -> Result<Vec<Callback>> {
                    let mut tx = self.begin_write().await?;
                    let mut claimed = Vec::new();
                    // A dead dialer's claims first: they have waited longest.
                    for q in [CLAIM_ABANDONED, CLAIM_DUE] {
                        let room = limit - claimed.len() as i64;
                        if room <= 0 {
                            break;
                        }
                        let rows = sqlx::query_as::<_, c::CallbackRow>(q)
                            .bind(now)
                            .bind(lease_until)
                            .bind(room)
                            .fetch_all(&mut *tx)
                            .await?;
                        for r in rows {
                            claimed.push(c::callback(r)?);
                        }
                    }
                    tx.commit().await?;
                    // RETURNING gives no order; the oldest due first.
                    claimed.sort_by_key(|cb| (cb.due_at, cb.id));
                    Ok(claimed)
                }

                async fn defer_callback(
                    &self,
                    id: i64,
                    due_at: i64,
                    note: Option<&str>,
                    now: i64,
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::DEFER)
                        .bind(id)
                        .bind(due_at)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if let (1.., Some(note)) = (n, note) {
                        ledger_line(&mut tx, id, None, "deferred", note, None, now).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn finish_callback(
                    &self,
                    id: i64,
                    outcome: &str,
                    detail: &str,
                    now: i64,
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::FINISH)
                        .bind(id)
                        .bind(outcome)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        ledger_line(&mut tx, id, None, "done", detail, None, now).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn begin_paced_attempt(
                    &self,
                    callback_id: i64,
                    campaign_id: i64,
                    pace_ms: i64,
                    detail: &str,
                    now: i64,
                ) -> Result<std::result::Result<Attempt, i64>> {
                    let mut tx = self.begin_write().await?;
                    let taken = sqlx::query(sql::TAKE_SLOT)
                        .bind(campaign_id)
                        .bind(now)
                        .bind(pace_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if taken == 0 {
                        let next: Option<i64> = sqlx::query_scalar(sql::NEXT_SLOT)
                            .bind(campaign_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        return Ok(Err(next.unwrap_or(now)));
                    }
                    let attempt = insert_attempt(&mut tx, callback_id, detail, now).await?;
                    tx.commit().await?;
                    Ok(Ok(attempt))
                }

                async fn begin_attempt(
                    &self,
                    callback_id: i64,
                    detail: &str,
                    now: i64,
                ) -> Result<Attempt> {
                    let mut tx = self.begin_write().await?;
                    let attempt = insert_attempt(&mut tx, callback_id, detail, now).await?;
                    tx.commit().await?;
                    Ok(attempt)
                }

                async fn attempt_placed(
                    &self,
                    attempt: &Attempt,
                    provider_call_id: &str,
                    detail: &str,
                    now: i64,
                ) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::PLACED)
                        .bind(attempt.id)
                        .bind(provider_call_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        ledger_line(
                            &mut tx,
                            attempt.callback_id,
                            Some(attempt.attempt_no),
                            "placed",
                            detail,
                            Some(provider_call_id),
                            now,
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(n > 0)
                }

                async fn attempt_unclear(
                    &self,
                    attempt: &Attempt,
                    detail: &str,
                    now: i64,
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::UNCLEAR)
                        .bind(attempt.id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        ledger_line(
                            &mut tx,
                            attempt.callback_id,
                            Some(attempt.attempt_no),
                            "unclear",
                            detail,
                            None,
                            now,
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn end_attempt(&self, e: &AttemptEnd) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::END_ATTEMPT)
                        .bind(e.attempt_id)
                        .bind(e.at)
                        .bind(&e.call_status)
                        .bind(&e.answered_by)
                        .bind(&e.outcome)
                        .bind(e.counts)
                        .bind(&e.provider_call_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        // Ended before (a repeated or late report): nothing more to do.
                        return Ok(false);
                    }
                    if e.counts {
                        sqlx::query(sql::COUNT_ATTEMPT)
                            .bind(e.callback_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let provider = e.provider_call_id.as_deref();
                    for (kind, detail) in &e.ledger {
                        ledger_line(
                            &mut tx,
                            e.callback_id,
                            Some(e.attempt_no),
                            kind,
                            detail,
                            provider,
                            e.at,
                        )
                        .await?;
                    }
                    match &e.next {
                        CallbackNext::Pending { due_at } => {
                            sqlx::query(sql::CALLBACK_PENDING)
                                .bind(e.callback_id)
                                .bind(due_at)
                                .bind(e.at)
                                .execute(&mut *tx)
                                .await?;
                        }
                        CallbackNext::Done { outcome } => {
                            sqlx::query(sql::FINISH)
                                .bind(e.callback_id)
                                .bind(outcome)
                                .bind(e.at)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    if let Some((kind, detail)) = &e.followup {
                        sqlx::query(sql::INSERT_FOLLOWUP)
                            .bind(e.callback_id)
                            .bind(kind)
                            .bind(detail)
                            .bind(e.at)
                            .execute(&mut *tx)
                            .await?;
                        super::super::agents::raise_followup(
                            &mut tx,
                            e.callback_id,
                            kind,
                            detail,
                            e.at,
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn attempt_by_call(&self, provider_call_id: &str) -> Result<Option<Attempt>> {
                    sqlx::query_as::<_, c::AttemptRow>(ATTEMPT_BY_CALL)
                        .bind(provider_call_id)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(c::attempt)
                        .transpose()
                }

                async fn open_attempts(
                    &self,
                    unclear_before: i64,
                    placed_before: i64,
                    limit: i64,
                ) -> Result<Vec<Attempt>> {
                    sqlx::query_as::<_, c::AttemptRow>(OPEN_ATTEMPTS)
                        .bind(unclear_before)
                        .bind(placed_before)
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(c::attempt)
                        .collect()
                }

                async fn opt_out(&self, number: &str, source: &str, now: i64) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::OPT_OUT)
                        .bind(number)
                        .bind(source)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn is_opted_out(&self, number: &str) -> Result<bool> {
                    let n: i64 = sqlx::query_scalar(sql::IS_OPTED_OUT)
                        .bind(number)
                        .fetch_one(&self.$read)
                        .await?;
                    Ok(n > 0)
                }

                async fn reached_since(
                    &self,
                    number: &str,
                    since: i64,
                    except_callback: i64,
                ) -> Result<bool> {
                    let n: i64 = sqlx::query_scalar(sql::REACHED_SINCE)
                        .bind(number)
                        .bind(since)
                        .bind(except_callback)
                        .fetch_one(&self.$read)
                        .await?;
                    Ok(n > 0)
                }

                async fn answers(&self, callback_id: i64) -> Result<Vec<StoredAnswer>> {
                    type AnswerRow = (i64, i64, String, String, Option<f64>, i64);
                    Ok(sqlx::query_as::<_, AnswerRow>(sql::ANSWERS_OF)
                        .bind(callback_id)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(|(callback_id, attempt_id, question, answer, score, at)| {
                            StoredAnswer {
                                callback_id,
                                attempt_id,
                                question,
                                answer,
                                score,
                                at,
                            }
                        })
                        .collect())
                }

                async fn followups(&self, limit: i64) -> Result<Vec<Followup>> {
                    type FollowupRow = (
                        i64,
                        String,
                        i64,
                        Option<i64>,
                        Option<i64>,
                        String,
                        String,
                        i64,
                    );
                    Ok(sqlx::query_as::<_, FollowupRow>(sql::OPEN_FOLLOWUPS)
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(|r| Followup {
                            id: r.0,
                            kind: r.1,
                            callback_id: r.2,
                            ticket_id: r.3,
                            account_id: r.4,
                            detail: r.5,
                            state: r.6,
                            created_at: r.7,
                        })
                        .collect())
                }

                async fn feed_cursor(&self, name: &str) -> Result<i64> {
                    let v: Option<i64> = sqlx::query_scalar(sql::CURSOR)
                        .bind(name)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(v.unwrap_or(0))
                }

                async fn set_feed_cursor(&self, name: &str, last_id: i64) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::SET_CURSOR)
                        .bind(name)
                        .bind(last_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn list_callbacks(
                    &self,
                    campaign_id: i64,
                    state: Option<CallbackState>,
                    after: i64,
                    limit: i64,
                ) -> Result<Vec<Callback>> {
                    let rows = match state {
                        None => {
                            sqlx::query_as::<_, c::CallbackRow>(CALLBACKS_OF_CAMPAIGN)
                                .bind(campaign_id)
                                .bind(after)
                                .bind(limit)
                                .fetch_all(&self.$read)
                                .await?
                        }
                        Some(state) => {
                            sqlx::query_as::<_, c::CallbackRow>(CALLBACKS_IN_STATE)
                                .bind(campaign_id)
                                .bind(state.as_str())
                                .bind(after)
                                .bind(limit)
                                .fetch_all(&self.$read)
                                .await?
                        }
                    };
                    rows.into_iter().map(c::callback).collect()
                }

                async fn cancel_campaign_callbacks(
                    &self,
                    campaign_id: i64,
                    why: &str,
                    now: i64,
                ) -> Result<u64> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::STOP_PENDING)
                        .bind(campaign_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        sqlx::query(sql::LEDGER_STOPPED)
                            .bind(campaign_id)
                            .bind(why)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(n)
                }

                async fn campaign_tally(
                    &self,
                    campaign_id: i64,
                    required: &[String],
                    counted: &[String],
                ) -> Result<CampaignTally> {
                    use sqlx::AssertSqlSafe;
                    // Each figure is its own statement: on a running campaign they may be
                    // a moment apart (a report, not a ledger).
                    let mut conn = self.$read.acquire().await?;
                    let states: Vec<(String, i64)> = sqlx::query_as(sql::TALLY_STATES)
                        .bind(campaign_id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let outcomes: Vec<(String, i64)> = sqlx::query_as(sql::TALLY_OUTCOMES)
                        .bind(campaign_id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let (called, reached): (i64, i64) = sqlx::query_as(sql::TALLY_ATTEMPTS)
                        .bind(campaign_id)
                        .fetch_one(&mut *conn)
                        .await?;
                    let answered: i64 = sqlx::query_scalar(sql::TALLY_ANSWERED)
                        .bind(campaign_id)
                        .fetch_one(&mut *conn)
                        .await?;
                    let opted_out: i64 = sqlx::query_scalar(sql::TALLY_OPTED_OUT)
                        .bind(campaign_id)
                        .fetch_one(&mut *conn)
                        .await?;
                    type QuestionRow = (String, i64, i64, Option<f64>);
                    let questions = sqlx::query_as::<_, QuestionRow>(sql::TALLY_QUESTIONS)
                        .bind(campaign_id)
                        .fetch_all(&mut *conn)
                        .await?
                        .into_iter()
                        .map(|(question, callbacks, scored, mean_score)| QuestionTally {
                            question,
                            callbacks,
                            scored,
                            mean_score,
                        })
                        .collect();
                    let complete: i64 = if required.is_empty() {
                        answered
                    } else {
                        let q = sql::tally_complete(required.len());
                        let mut query = sqlx::query_scalar(AssertSqlSafe(q)).bind(campaign_id);
                        for k in required {
                            query = query.bind(k.as_str());
                        }
                        query
                            .bind(i64::try_from(required.len()).unwrap_or(i64::MAX))
                            .fetch_one(&mut *conn)
                            .await?
                    };
                    let answers = if counted.is_empty() {
                        Vec::new()
                    } else {
                        let q = sql::tally_answers(counted.len());
                        let mut query =
                            sqlx::query_as::<_, (String, String, i64)>(AssertSqlSafe(q))
                                .bind(campaign_id);
                        for k in counted {
                            query = query.bind(k.as_str());
                        }
                        query
                            .fetch_all(&mut *conn)
                            .await?
                            .into_iter()
                            .map(|(question, answer, callbacks)| AnswerTally {
                                question,
                                answer,
                                callbacks,
                            })
                            .collect()
                    };
                    Ok(CampaignTally {
                        states,
                        outcomes,
                        called,
                        reached,
                        answered,
                        complete,
                        opted_out,
                        answers,
                        questions,
                    })
                }

                async fn sample_strata(&self, campaign_id: i64) -> Result<Vec<(Services, i64)>> {
                    let rows: Vec<(i64, i64)> = sqlx::query_as(sql::SAMPLE_STRATA)
                        .bind(campaign_id)
                        .fetch_all(&self.$read)
                        .await?;
                    rows.into_iter()
                        .map(|(code, n)| {
                            Services::from_code(code)
                                .map(|s| (s, n))
                                .ok_or_else(|| {
                                    StoreError::Corrupt(format!("unknown services code {code}"))
                                })
                        })
                        .collect()
                }

                async fn draw_sample(
                    &self,
                    campaign_id: i64,
                    stratum: Option<Services>,
                    limit: i64,
                ) -> Result<Vec<SampleAccount>> {
                    let rows = match stratum {
                        None => {
                            sqlx::query_as::<_, c::SampleRow>(sql::DRAW_ANY)
                                .bind(campaign_id)
                                .bind(limit)
                                .fetch_all(&self.$read)
                                .await?
                        }
                        Some(s) => {
                            sqlx::query_as::<_, c::SampleRow>(sql::DRAW_STRATUM)
                                .bind(campaign_id)
                                .bind(s.code())
                                .bind(limit)
                                .fetch_all(&self.$read)
                                .await?
                        }
                    };
                    rows.into_iter().map(c::sample_account).collect()
                }
            }
        }
    };
}
pub(super) use callback_store;
