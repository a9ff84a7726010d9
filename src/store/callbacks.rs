//! Campaigns, callbacks, attempts, the ledger, answers, opt-outs and follow-ups, for both
//! backends.
//!
//! Rules: as for agents, the statements are one text for SQLite and PostgreSQL and the
//! functions are written once, over `db::Backend`; rows are read by column name. Callbacks
//! are claimed with the dialect's `claim_due` (PostgreSQL's `FOR UPDATE OF d SKIP LOCKED`), so
//! several instances never claim the same one. Every change to a callback writes its ledger
//! line in the same transaction. Conditional updates (`WHERE state = …`) make late or repeated
//! reports change nothing. `apply_survey_effect` also runs inside the step batch's
//! transaction (anything `db::AsConn`), so a step and its effects commit together.

use super::db::{AsConn, Backend, Row, query};
use super::{AttemptEnd, CallbackNext, CallbackStore, Result, StoreError};
use crate::callbacks::{
    AnswerTally, Attempt, AttemptState, Callback, CallbackState, Campaign, CampaignState,
    CampaignTally, Followup, LedgerEntry, NewCallback, NewCampaign, QuestionTally, SampleAccount,
    Services, StoredAnswer,
};
use crate::prompts::Locale;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("campaign {what}: {e}")))
}

fn to_json(what: &str, v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("campaign {what}: {e}")))
}

fn locale(what: &str, tag: &str) -> Result<Locale> {
    (Locale::ALL.into_iter())
        .find(|l| l.tag() == tag)
        .ok_or_else(|| corrupt(what, tag))
}

macro_rules! campaign_columns {
    () => {
        "c.id, c.name, c.purpose, c.script, c.calling_window, c.retry, c.pace_ms, \
         c.from_number, c.starts_at, c.ends_at, c.state, c.standing, c.delay_minutes, \
         c.quiet_days, c.created_at, c.updated_at"
    };
}

/// A row of `campaign_columns!()`.
fn campaign(r: &Row) -> Result<Campaign> {
    let purpose: String = r.get("purpose")?;
    let state: String = r.get("state")?;
    Ok(Campaign {
        id: r.get("id")?,
        purpose: serde_json::from_value(serde_json::Value::String(purpose.clone()))
            .map_err(|_| corrupt("campaign purpose", &purpose))?,
        script: json("script", &r.get::<String>("script")?)?,
        window: json("window", &r.get::<String>("calling_window")?)?,
        retry: json("retry policy", &r.get::<String>("retry")?)?,
        state: CampaignState::parse(&state).ok_or_else(|| corrupt("campaign state", &state))?,
        name: r.get("name")?,
        pace_ms: r.get("pace_ms")?,
        from_number: r.get("from_number")?,
        starts_at: r.get("starts_at")?,
        ends_at: r.get("ends_at")?,
        standing: r.get("standing")?,
        delay_minutes: r.get("delay_minutes")?,
        quiet_days: r.get("quiet_days")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

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

/// A row of `callback_columns!()`.
fn callback(r: &Row) -> Result<Callback> {
    let state: String = r.get("state")?;
    Ok(Callback {
        id: r.get("id")?,
        campaign_id: r.get("campaign_id")?,
        account_id: r.get("account_id")?,
        ticket_id: r.get("ticket_id")?,
        source: r.get("source")?,
        to_number: r.get("to_number")?,
        timezone: r.get("timezone")?,
        locale: locale("locale", &r.get::<String>("locale")?)?,
        state: CallbackState::parse(&state).ok_or_else(|| corrupt("callback state", &state))?,
        due_at: r.get("due_at")?,
        attempts: r.get("attempts")?,
        lease_until: r.get("lease_until")?,
        outcome: r.get("outcome")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

macro_rules! attempt_columns {
    () => {
        "a.id, a.callback_id, a.attempt_no, a.state, a.provider_call_id, a.requested_at, \
         a.placed_at, a.ended_at, a.call_status, a.answered_by, a.outcome, a.counts"
    };
}

/// A row of `attempt_columns!()`.
fn attempt(r: &Row) -> Result<Attempt> {
    let state: String = r.get("state")?;
    Ok(Attempt {
        id: r.get("id")?,
        callback_id: r.get("callback_id")?,
        attempt_no: r.get("attempt_no")?,
        state: AttemptState::parse(&state).ok_or_else(|| corrupt("attempt state", &state))?,
        provider_call_id: r.get("provider_call_id")?,
        requested_at: r.get("requested_at")?,
        placed_at: r.get("placed_at")?,
        ended_at: r.get("ended_at")?,
        call_status: r.get("call_status")?,
        answered_by: r.get("answered_by")?,
        outcome: r.get("outcome")?,
        counts: r.get("counts")?,
    })
}

/// A row of `sql::LEDGER_OF`.
fn ledger(r: &Row) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: r.get("id")?,
        callback_id: r.get("callback_id")?,
        attempt_no: r.get("attempt_no")?,
        kind: r.get("kind")?,
        detail: r.get("detail")?,
        provider_call_id: r.get("provider_call_id")?,
        at: r.get("at")?,
    })
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

mod sql {
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
    pub const NEXT_ATTEMPT_NO: &str = "SELECT COALESCE(MAX(attempt_no), 0) + 1 AS attempt_no FROM callback_attempts WHERE callback_id = $1";
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
    pub const IS_OPTED_OUT: &str = "SELECT COUNT(*) AS n FROM opt_outs WHERE number = $1";
    /// Whether another callback to the number reached the customer since `$2`.
    pub const REACHED_SINCE: &str = "SELECT COUNT(*) AS n FROM callback_attempts a \
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
    pub const TALLY_STATES: &str = "SELECT b.state, COUNT(*) AS n FROM callbacks b \
         WHERE b.campaign_id = $1 GROUP BY b.state ORDER BY b.state";
    pub const TALLY_OUTCOMES: &str = "SELECT b.outcome, COUNT(*) AS n FROM callbacks b \
         WHERE b.campaign_id = $1 AND b.outcome IS NOT NULL GROUP BY b.outcome \
         ORDER BY b.outcome";
    /// Called: an attempt that counts and reached the carrier (placed, or ended after
    /// counting); reached: an attempt a person answered.
    pub const TALLY_ATTEMPTS: &str = "SELECT \
         COUNT(DISTINCT CASE WHEN a.counts AND a.state IN ('placed', 'ended') \
             THEN a.callback_id END) AS called, \
         COUNT(DISTINCT CASE WHEN a.outcome = 'answered' THEN a.callback_id END) AS reached \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id \
         WHERE b.campaign_id = $1";
    pub const TALLY_ANSWERED: &str = "SELECT COUNT(DISTINCT s.callback_id) AS n \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1";
    /// Opted out before the call (the dialer finished it) or during it (the ledger says so).
    pub const TALLY_OPTED_OUT: &str = "SELECT COUNT(*) AS n FROM callbacks b \
         WHERE b.campaign_id = $1 AND (b.outcome = 'opted_out' OR EXISTS (SELECT 1 \
             FROM callback_ledger l WHERE l.callback_id = b.id AND l.kind = 'opted_out'))";
    pub const TALLY_QUESTIONS: &str = "SELECT s.question, COUNT(DISTINCT s.callback_id) AS callbacks, \
         COUNT(s.score) AS scored, AVG(s.score) AS mean_score \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1 GROUP BY s.question ORDER BY s.question";

    /// Callbacks that answered all of `$2…` (the question keys bound after the campaign),
    /// `$n` being how many keys there are: the statement is `COMPLETE`, the keys'
    /// placeholders, `COMPLETE_COUNT`, `$n` and `COMPLETE_END`.
    pub const COMPLETE: &str = "SELECT COUNT(*) AS n FROM (SELECT s.callback_id \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1 AND s.question IN (";
    pub const COMPLETE_COUNT: &str =
        ") GROUP BY s.callback_id HAVING COUNT(DISTINCT s.question) = ";
    pub const COMPLETE_END: &str = ") t";

    /// Callbacks per question and answer value, for the questions `$2…`: `ANSWERS`, the
    /// keys' placeholders, `ANSWERS_END`.
    pub const ANSWERS: &str = "SELECT s.question, s.answer, \
         COUNT(DISTINCT s.callback_id) AS callbacks \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id \
         WHERE b.campaign_id = $1 AND s.question IN (";
    pub const ANSWERS_END: &str = ") GROUP BY s.question, s.answer ORDER BY s.question, s.answer";

    // Samples are drawn in SQL, not in Rust: the strata are counted with GROUP BY and each
    // is drawn with `ORDER BY random() LIMIT k` (SQLite and PostgreSQL both have `random()`),
    // a uniform draw without repeats, so memory holds the sample and never the customer base.
    pub const SAMPLE_STRATA: &str = concat!(
        "SELECT c.services, COUNT(*) AS n FROM (",
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

    pub const CAMPAIGN_BY_ID: &str = concat!(
        "SELECT ",
        campaign_columns!(),
        " FROM campaigns c WHERE c.id = $1"
    );
    pub const CAMPAIGNS: &str = concat!(
        "SELECT ",
        campaign_columns!(),
        " FROM campaigns c ORDER BY c.id"
    );
    pub const STANDING: &str = concat!(
        "SELECT ",
        campaign_columns!(),
        " FROM campaigns c WHERE c.standing ORDER BY c.id LIMIT 1"
    );
    pub const CALLBACK_BY_ID: &str = concat!(
        "SELECT ",
        callback_columns!(),
        " FROM callbacks b WHERE b.id = $1"
    );
    pub const CALLBACKS_OF_CAMPAIGN: &str = concat!(
        "SELECT ",
        callback_columns!(),
        " FROM callbacks b WHERE b.campaign_id = $1 AND b.id > $2 ORDER BY b.id LIMIT $3"
    );
    pub const CALLBACKS_IN_STATE: &str = concat!(
        "SELECT ",
        callback_columns!(),
        " FROM callbacks b WHERE b.campaign_id = $1 AND b.state = $2 AND b.id > $3 \
         ORDER BY b.id LIMIT $4"
    );
    pub const ATTEMPT_BY_ID: &str = concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM callback_attempts a WHERE a.id = $1"
    );
    pub const ATTEMPTS_OF: &str = concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM callback_attempts a WHERE a.callback_id = $1 ORDER BY a.attempt_no"
    );
    /// Unclear (or still requesting) attempts older than `$1`, and placed ones older than
    /// `$2`: young placed calls are still going on and must not fill the batch.
    pub const OPEN_ATTEMPTS: &str = concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM callback_attempts a WHERE (a.state IN ('requesting', 'unclear') \
         AND a.requested_at < $1) OR (a.state = 'placed' AND a.requested_at < $2) \
         ORDER BY a.requested_at LIMIT $3"
    );
    pub const ATTEMPT_BY_CALL: &str = concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM callback_attempts a WHERE a.provider_call_id = $1"
    );
    /// Claims due pending callbacks of running campaigns, oldest first, in one statement
    /// (with the dialect's `claim_due` and `CLAIMED` appended).
    pub const CLAIM_DUE: &str = "UPDATE callbacks SET state = 'dialing', lease_until = $2, \
         updated_at = $1 WHERE id IN (SELECT d.id FROM callbacks d \
         JOIN campaigns c ON c.id = d.campaign_id \
         WHERE d.state = 'pending' AND d.due_at <= $1 AND c.state = 'running' \
         AND c.starts_at <= $1 ORDER BY d.due_at, d.id LIMIT $3";
    /// Claims whose dialer died before it asked the carrier: no attempt is open (as
    /// `CLAIM_DUE`).
    pub const CLAIM_ABANDONED: &str = "UPDATE callbacks SET state = 'dialing', \
         lease_until = $2, updated_at = $1 WHERE id IN (SELECT d.id FROM callbacks d \
         WHERE d.state = 'dialing' AND d.lease_until < $1 \
         AND NOT EXISTS (SELECT 1 FROM callback_attempts a \
             WHERE a.callback_id = d.id AND a.state <> 'ended') \
         ORDER BY d.lease_until LIMIT $3";
    /// The end of a claim, after the dialect's clause.
    pub const CLAIMED: &str = concat!(") RETURNING ", callback_columns!(bare));
}

/// A row of `sql::DRAW_ANY` or `sql::DRAW_STRATUM`.
fn sample_account(r: &Row) -> Result<SampleAccount> {
    let language: Option<String> = r.get("language")?;
    let code: i64 = r.get("services")?;
    Ok(SampleAccount {
        account_id: r.get("id")?,
        account_no: r.get("account_no")?,
        language: language.map(|tag| locale("language", &tag)).transpose()?,
        number: r.get("number")?,
        services: Services::from_code(code)
            .ok_or_else(|| corrupt("services code", &code.to_string()))?,
    })
}

async fn ledger_line(
    on: &mut impl AsConn,
    callback_id: i64,
    attempt_no: Option<i32>,
    kind: &str,
    detail: &str,
    provider: Option<&str>,
    at: i64,
) -> Result<()> {
    query(sql::INSERT_LEDGER)
        .bind(callback_id)
        .bind(attempt_no)
        .bind(kind)
        .bind(detail)
        .bind(provider)
        .bind(at)
        .execute(on)
        .await?;
    Ok(())
}

async fn campaign_by_id(on: &mut impl AsConn, id: i64) -> Result<Option<Campaign>> {
    (query(sql::CAMPAIGN_BY_ID).bind(id))
        .fetch_optional_as(on, campaign)
        .await
}

async fn standing(on: &mut impl AsConn) -> Result<Option<Campaign>> {
    query(sql::STANDING).fetch_optional_as(on, campaign).await
}

/// Records the next attempt of a callback, requested at `now`, with its ledger line.
async fn insert_attempt(
    on: &mut impl AsConn,
    callback_id: i64,
    detail: &str,
    now: i64,
) -> Result<Attempt> {
    let no: i32 = query(sql::NEXT_ATTEMPT_NO)
        .bind(callback_id)
        .scalar(on)
        .await?;
    let id: i64 = query(sql::INSERT_ATTEMPT)
        .bind(callback_id)
        .bind(no)
        .bind(now)
        .scalar(on)
        .await?;
    ledger_line(on, callback_id, Some(no), "dialing", detail, None, now).await?;
    attempt(&query(sql::ATTEMPT_BY_ID).bind(id).fetch_one(on).await?)
}

/// A follow-up for people, and its escalation, in the caller's transaction.
async fn followup(
    on: &mut impl AsConn,
    callback_id: i64,
    kind: &str,
    detail: &str,
    at: i64,
) -> Result<()> {
    query(sql::INSERT_FOLLOWUP)
        .bind(callback_id)
        .bind(kind)
        .bind(detail)
        .bind(at)
        .execute(on)
        .await?;
    super::agents::raise_followup(on, callback_id, kind, detail, at).await
}

/// Applies a survey effect of a recorded step, in its transaction.
pub(super) async fn apply_survey_effect(
    on: &mut impl AsConn,
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
            query(sql::INSERT_ANSWER)
                .bind(*callback_id)
                .bind(*attempt_id)
                .bind(question)
                .bind(answer)
                .bind(*score)
                .bind(at)
                .execute(on)
                .await?;
        }
        Effect::OptOut {
            callback_id,
            number,
        } => {
            query(sql::OPT_OUT)
                .bind(number)
                .bind(format!("callback:{callback_id}"))
                .bind(at)
                .execute(on)
                .await?;
            let why = "the customer pressed 9: not to be called again";
            ledger_line(on, *callback_id, None, "opted_out", why, None, at).await?;
        }
        Effect::Followup {
            callback_id,
            kind,
            detail,
        } => followup(on, *callback_id, kind, detail, at).await?,
        Effect::Escalate(e) => {
            super::agents::raise(on, e).await?;
        }
        _ => {}
    }
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend> CallbackStore for B {
    async fn create_campaign(&self, n: &NewCampaign, now: i64) -> Result<Campaign> {
        let mut tx = self.write().await?;
        let taken: Option<i64> = query(sql::CAMPAIGN_NAMED)
            .bind(&n.name)
            .scalar_optional(&mut tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a campaign named {:?} exists",
                n.name
            )));
        }
        if n.standing && standing(&mut tx).await?.is_some() {
            return Err(StoreError::Conflict(
                "there is a standing campaign already; only one may be".into(),
            ));
        }
        let purpose = match serde_json::to_value(n.purpose) {
            Ok(serde_json::Value::String(s)) => s,
            _ => return Err(StoreError::Corrupt("campaign purpose".into())),
        };
        let id: i64 = query(sql::INSERT_CAMPAIGN)
            .bind(&n.name)
            .bind(purpose)
            .bind(to_json("script", &n.script)?)
            .bind(to_json("window", &n.window)?)
            .bind(to_json("retry policy", &n.retry)?)
            .bind(n.pace_ms)
            .bind(&n.from_number)
            .bind(n.starts_at)
            .bind(n.ends_at)
            .bind(n.standing)
            .bind(n.delay_minutes)
            .bind(n.quiet_days)
            .bind(now)
            .scalar(&mut tx)
            .await?;
        let campaign = campaign_by_id(&mut tx, id).await?;
        tx.commit().await?;
        campaign.ok_or(StoreError::NotFound)
    }

    async fn campaign(&self, id: i64) -> Result<Option<Campaign>> {
        campaign_by_id(&mut self.read().await?, id).await
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>> {
        query(sql::CAMPAIGNS)
            .fetch_all_as(&mut self.read().await?, campaign)
            .await
    }

    async fn standing_campaign(&self) -> Result<Option<Campaign>> {
        standing(&mut self.read().await?).await
    }

    async fn set_campaign_state(&self, id: i64, to: CampaignState, now: i64) -> Result<Campaign> {
        let mut tx = self.write().await?;
        let current = (campaign_by_id(&mut tx, id).await?).ok_or(StoreError::NotFound)?;
        if !current.state.allows(to) {
            return Err(StoreError::Conflict(format!(
                "campaign {id} is {}; it cannot become {}",
                current.state.as_str(),
                to.as_str()
            )));
        }
        let changed = query(sql::SET_CAMPAIGN_STATE)
            .bind(id)
            .bind(to.as_str())
            .bind(now)
            .bind(current.state.as_str())
            .execute(&mut tx)
            .await?;
        let campaign = (campaign_by_id(&mut tx, id).await?).ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        // Read without a lock: another change may have come first (PostgreSQL), and then
        // this one changed nothing.
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "campaign {id} became {} meanwhile; it did not become {}",
                campaign.state.as_str(),
                to.as_str()
            )));
        }
        Ok(campaign)
    }

    async fn queue_callbacks(&self, items: &[NewCallback], now: i64) -> Result<Vec<Option<i64>>> {
        let mut tx = self.write().await?;
        let mut ids = Vec::with_capacity(items.len());
        for n in items {
            let id: Option<i64> = query(sql::INSERT_CALLBACK)
                .bind(n.campaign_id)
                .bind(n.account_id)
                .bind(n.ticket_id)
                .bind(&n.source)
                .bind(&n.to_number)
                .bind(&n.timezone)
                .bind(n.locale.tag())
                .bind(n.due_at)
                .bind(now)
                .scalar_optional(&mut tx)
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
        let mut tx = self.write().await?;
        let pending = (query(sql::PENDING_OF_TICKET).bind(ticket_id))
            .fetch_all_as(&mut tx, |r| {
                Ok((r.get::<i64>("id")?, r.get::<String>("source")?))
            })
            .await?;
        // Only what earlier events owed: feed readers may see events late, and a reopening
        // must not cancel what a later event asked for.
        let ids = pending.into_iter().filter_map(|(id, source)| {
            let event: i64 = source.strip_prefix("ticket-event:")?.parse().ok()?;
            (event < before_event).then_some(id)
        });
        let mut n = 0;
        for id in ids {
            let done = query(sql::CANCEL_CALLBACK)
                .bind(id)
                .bind("cancelled")
                .bind(now)
                .execute(&mut tx)
                .await?;
            if done > 0 {
                ledger_line(&mut tx, id, None, "cancelled", why, None, now).await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn callback(&self, id: i64) -> Result<Option<Callback>> {
        (query(sql::CALLBACK_BY_ID).bind(id))
            .fetch_optional_as(&mut self.read().await?, callback)
            .await
    }

    async fn campaign_callbacks(
        &self,
        campaign_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Callback>> {
        self.list_callbacks(campaign_id, None, after, limit).await
    }

    async fn ledger(&self, callback_id: i64) -> Result<Vec<LedgerEntry>> {
        (query(sql::LEDGER_OF).bind(callback_id))
            .fetch_all_as(&mut self.read().await?, ledger)
            .await
    }

    async fn attempts(&self, callback_id: i64) -> Result<Vec<Attempt>> {
        (query(sql::ATTEMPTS_OF).bind(callback_id))
            .fetch_all_as(&mut self.read().await?, attempt)
            .await
    }

    async fn attempt(&self, id: i64) -> Result<Option<Attempt>> {
        (query(sql::ATTEMPT_BY_ID).bind(id))
            .fetch_optional_as(&mut self.read().await?, attempt)
            .await
    }

    async fn claim_callbacks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Callback>> {
        let mut tx = self.write().await?;
        let mut claimed = Vec::new();
        // A dead dialer's claims first: they have waited longest.
        for q in [sql::CLAIM_ABANDONED, sql::CLAIM_DUE] {
            let room = limit - claimed.len() as i64;
            if room <= 0 {
                break;
            }
            let rows = query(q)
                .append(B::DIALECT.claim_due)
                .append(sql::CLAIMED)
                .bind(now)
                .bind(lease_until)
                .bind(room)
                .fetch_all_as(&mut tx, callback)
                .await?;
            claimed.extend(rows);
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
        let mut tx = self.write().await?;
        let n = query(sql::DEFER)
            .bind(id)
            .bind(due_at)
            .bind(now)
            .execute(&mut tx)
            .await?;
        if let (1.., Some(note)) = (n, note) {
            ledger_line(&mut tx, id, None, "deferred", note, None, now).await?;
        }
        tx.commit().await
    }

    async fn finish_callback(&self, id: i64, outcome: &str, detail: &str, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        let n = query(sql::FINISH)
            .bind(id)
            .bind(outcome)
            .bind(now)
            .execute(&mut tx)
            .await?;
        if n > 0 {
            ledger_line(&mut tx, id, None, "done", detail, None, now).await?;
        }
        tx.commit().await
    }

    async fn begin_paced_attempt(
        &self,
        callback_id: i64,
        campaign_id: i64,
        pace_ms: i64,
        detail: &str,
        now: i64,
    ) -> Result<std::result::Result<Attempt, i64>> {
        let mut tx = self.write().await?;
        let taken = query(sql::TAKE_SLOT)
            .bind(campaign_id)
            .bind(now)
            .bind(pace_ms)
            .execute(&mut tx)
            .await?;
        if taken == 0 {
            let next: Option<i64> = query(sql::NEXT_SLOT)
                .bind(campaign_id)
                .scalar_optional(&mut tx)
                .await?;
            tx.commit().await?;
            return Ok(Err(next.unwrap_or(now)));
        }
        let attempt = insert_attempt(&mut tx, callback_id, detail, now).await?;
        tx.commit().await?;
        Ok(Ok(attempt))
    }

    async fn begin_attempt(&self, callback_id: i64, detail: &str, now: i64) -> Result<Attempt> {
        let mut tx = self.write().await?;
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
        let mut tx = self.write().await?;
        let n = query(sql::PLACED)
            .bind(attempt.id)
            .bind(provider_call_id)
            .bind(now)
            .execute(&mut tx)
            .await?;
        if n > 0 {
            let no = Some(attempt.attempt_no);
            let provider = Some(provider_call_id);
            ledger_line(
                &mut tx,
                attempt.callback_id,
                no,
                "placed",
                detail,
                provider,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn attempt_unclear(&self, attempt: &Attempt, detail: &str, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        let n = query(sql::UNCLEAR)
            .bind(attempt.id)
            .execute(&mut tx)
            .await?;
        if n > 0 {
            let no = Some(attempt.attempt_no);
            ledger_line(
                &mut tx,
                attempt.callback_id,
                no,
                "unclear",
                detail,
                None,
                now,
            )
            .await?;
        }
        tx.commit().await
    }

    async fn end_attempt(&self, e: &AttemptEnd) -> Result<bool> {
        let mut tx = self.write().await?;
        let n = query(sql::END_ATTEMPT)
            .bind(e.attempt_id)
            .bind(e.at)
            .bind(&e.call_status)
            .bind(&e.answered_by)
            .bind(&e.outcome)
            .bind(e.counts)
            .bind(&e.provider_call_id)
            .execute(&mut tx)
            .await?;
        if n == 0 {
            // Ended before (a repeated or late report): nothing more to do.
            return Ok(false);
        }
        if e.counts {
            query(sql::COUNT_ATTEMPT)
                .bind(e.callback_id)
                .execute(&mut tx)
                .await?;
        }
        let provider = e.provider_call_id.as_deref();
        for (kind, detail) in &e.ledger {
            let no = Some(e.attempt_no);
            ledger_line(&mut tx, e.callback_id, no, kind, detail, provider, e.at).await?;
        }
        match &e.next {
            CallbackNext::Pending { due_at } => {
                query(sql::CALLBACK_PENDING)
                    .bind(e.callback_id)
                    .bind(*due_at)
                    .bind(e.at)
                    .execute(&mut tx)
                    .await?;
            }
            CallbackNext::Done { outcome } => {
                query(sql::FINISH)
                    .bind(e.callback_id)
                    .bind(outcome)
                    .bind(e.at)
                    .execute(&mut tx)
                    .await?;
            }
        }
        if let Some((kind, detail)) = &e.followup {
            followup(&mut tx, e.callback_id, kind, detail, e.at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn attempt_by_call(&self, provider_call_id: &str) -> Result<Option<Attempt>> {
        (query(sql::ATTEMPT_BY_CALL).bind(provider_call_id))
            .fetch_optional_as(&mut self.read().await?, attempt)
            .await
    }

    async fn open_attempts(
        &self,
        unclear_before: i64,
        placed_before: i64,
        limit: i64,
    ) -> Result<Vec<Attempt>> {
        query(sql::OPEN_ATTEMPTS)
            .bind(unclear_before)
            .bind(placed_before)
            .bind(limit)
            .fetch_all_as(&mut self.read().await?, attempt)
            .await
    }

    async fn opt_out(&self, number: &str, source: &str, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        query(sql::OPT_OUT)
            .bind(number)
            .bind(source)
            .bind(now)
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    async fn is_opted_out(&self, number: &str) -> Result<bool> {
        let n: i64 = query(sql::IS_OPTED_OUT)
            .bind(number)
            .scalar(&mut self.read().await?)
            .await?;
        Ok(n > 0)
    }

    async fn reached_since(&self, number: &str, since: i64, except_callback: i64) -> Result<bool> {
        let n: i64 = query(sql::REACHED_SINCE)
            .bind(number)
            .bind(since)
            .bind(except_callback)
            .scalar(&mut self.read().await?)
            .await?;
        Ok(n > 0)
    }

    async fn answers(&self, callback_id: i64) -> Result<Vec<StoredAnswer>> {
        (query(sql::ANSWERS_OF).bind(callback_id))
            .fetch_all_as(&mut self.read().await?, |r| {
                Ok(StoredAnswer {
                    callback_id: r.get("callback_id")?,
                    attempt_id: r.get("attempt_id")?,
                    question: r.get("question")?,
                    answer: r.get("answer")?,
                    score: r.get("score")?,
                    at: r.get("at")?,
                })
            })
            .await
    }

    async fn followups(&self, limit: i64) -> Result<Vec<Followup>> {
        (query(sql::OPEN_FOLLOWUPS).bind(limit))
            .fetch_all_as(&mut self.read().await?, |r| {
                Ok(Followup {
                    id: r.get("id")?,
                    kind: r.get("kind")?,
                    callback_id: r.get("callback_id")?,
                    ticket_id: r.get("ticket_id")?,
                    account_id: r.get("account_id")?,
                    detail: r.get("detail")?,
                    state: r.get("state")?,
                    created_at: r.get("created_at")?,
                })
            })
            .await
    }

    async fn feed_cursor(&self, name: &str) -> Result<i64> {
        let v: Option<i64> = query(sql::CURSOR)
            .bind(name)
            .scalar_optional(&mut self.read().await?)
            .await?;
        Ok(v.unwrap_or(0))
    }

    async fn set_feed_cursor(&self, name: &str, last_id: i64) -> Result<()> {
        let mut tx = self.write().await?;
        query(sql::SET_CURSOR)
            .bind(name)
            .bind(last_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    async fn list_callbacks(
        &self,
        campaign_id: i64,
        state: Option<CallbackState>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Callback>> {
        let q = match state {
            None => query(sql::CALLBACKS_OF_CAMPAIGN).bind(campaign_id),
            Some(state) => (query(sql::CALLBACKS_IN_STATE).bind(campaign_id)).bind(state.as_str()),
        };
        (q.bind(after).bind(limit))
            .fetch_all_as(&mut self.read().await?, callback)
            .await
    }

    async fn cancel_campaign_callbacks(
        &self,
        campaign_id: i64,
        why: &str,
        now: i64,
    ) -> Result<u64> {
        let mut tx = self.write().await?;
        let n = query(sql::STOP_PENDING)
            .bind(campaign_id)
            .bind(now)
            .execute(&mut tx)
            .await?;
        if n > 0 {
            query(sql::LEDGER_STOPPED)
                .bind(campaign_id)
                .bind(why)
                .bind(now)
                .execute(&mut tx)
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
        // Each figure is its own statement: on a running campaign they may be a moment apart
        // (a report, not a ledger).
        let mut conn = self.read().await?;
        let by = |column: &'static str| {
            move |r: &Row| Ok((r.get::<String>(column)?, r.get::<i64>("n")?))
        };
        let states = (query(sql::TALLY_STATES).bind(campaign_id))
            .fetch_all_as(&mut conn, by("state"))
            .await?;
        let outcomes = (query(sql::TALLY_OUTCOMES).bind(campaign_id))
            .fetch_all_as(&mut conn, by("outcome"))
            .await?;
        let r = (query(sql::TALLY_ATTEMPTS).bind(campaign_id))
            .fetch_one(&mut conn)
            .await?;
        let (called, reached): (i64, i64) = (r.get("called")?, r.get("reached")?);
        let answered: i64 = (query(sql::TALLY_ANSWERED).bind(campaign_id))
            .scalar(&mut conn)
            .await?;
        let opted_out: i64 = (query(sql::TALLY_OPTED_OUT).bind(campaign_id))
            .scalar(&mut conn)
            .await?;
        let questions = (query(sql::TALLY_QUESTIONS).bind(campaign_id))
            .fetch_all_as(&mut conn, |r| {
                Ok(QuestionTally {
                    question: r.get("question")?,
                    callbacks: r.get("callbacks")?,
                    scored: r.get("scored")?,
                    mean_score: r.get("mean_score")?,
                })
            })
            .await?;
        let complete: i64 = if required.is_empty() {
            answered
        } else {
            let keys = required.len();
            let mut q = (query(sql::COMPLETE).placeholders(2, keys))
                .append(sql::COMPLETE_COUNT)
                .placeholders(keys + 2, 1)
                .append(sql::COMPLETE_END)
                .bind(campaign_id);
            for k in required {
                q = q.bind(k.as_str());
            }
            q.bind(i64::try_from(keys).unwrap_or(i64::MAX))
                .scalar(&mut conn)
                .await?
        };
        let answers = if counted.is_empty() {
            Vec::new()
        } else {
            let mut q = (query(sql::ANSWERS).placeholders(2, counted.len()))
                .append(sql::ANSWERS_END)
                .bind(campaign_id);
            for k in counted {
                q = q.bind(k.as_str());
            }
            q.fetch_all_as(&mut conn, |r| {
                Ok(AnswerTally {
                    question: r.get("question")?,
                    answer: r.get("answer")?,
                    callbacks: r.get("callbacks")?,
                })
            })
            .await?
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
        (query(sql::SAMPLE_STRATA).bind(campaign_id))
            .fetch_all_as(&mut self.read().await?, |r| {
                let code: i64 = r.get("services")?;
                let s = Services::from_code(code)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown services code {code}")))?;
                Ok((s, r.get("n")?))
            })
            .await
    }

    async fn draw_sample(
        &self,
        campaign_id: i64,
        stratum: Option<Services>,
        limit: i64,
    ) -> Result<Vec<SampleAccount>> {
        let q = match stratum {
            None => query(sql::DRAW_ANY).bind(campaign_id),
            Some(s) => query(sql::DRAW_STRATUM).bind(campaign_id).bind(s.code()),
        };
        (q.bind(limit))
            .fetch_all_as(&mut self.read().await?, sample_account)
            .await
    }
}
