//! Campaigns and callbacks in the API: create campaigns and move them through their life
//! cycle, give them lists or random samples to call, read every callback with its ledger and
//! the plain answer to "why was this customer (not yet) called?", and the campaign's report.
//!
//! Rules:
//! - `POST /api/v1/campaigns` takes a name (unique), a purpose, and optionally a script, a
//!   calling window and a retry policy as JSON (each defaulting to the built-in one; each
//!   checked, and a bad one is 422 naming the field and what is wrong), `calls_per_sec`
//!   (more than 0, at most 1000), `from_number` (required), `starts_at` and `ends_at`
//!   (RFC 3339), `standing` (satisfaction campaigns only), `delay_minutes` and `quiet_days`.
//!   A second campaign with the same name, or a second standing one, is 409.
//! - Life cycle: `start` (draft → running), `pause` (running → paused), `resume` (paused →
//!   running), `stop` (→ finished; its pending callbacks are cancelled with a ledger line).
//!   Any other move is 409 saying what state the campaign is in.
//! - Lists and samples follow `callbacks::lists`: a list entry that is not right is rejected
//!   on its own, with its index and field; one whose `dedup_key` the campaign has already, or
//!   an earlier entry has, is listed with its index and why; the rest are queued. A finished
//!   campaign takes none (409). At most 10,000 entries a request, and samples of 1 to
//!   100,000.
//! - Ids in paths are positive integers (anything else is 400); unknown ones are 404.
//! - Times are RFC 3339 (UTC) in answers; the `why` texts show the customer's local time.
//! - Lists of callbacks are in id order, `after` the last id of the previous page (whose
//!   `next_after` it is), at most 1000 a page (100 by default).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiJson, rfc3339};
use crate::callbacks::lists::{self, Defaults, ListEntry, Rejected};
use crate::callbacks::policy::RetryPolicy;
use crate::callbacks::report::{self, CampaignReport};
use crate::callbacks::window::CallingWindow;
use crate::callbacks::{
    Attempt, Callback, CallbackState, Campaign, CampaignAction, CampaignState, Followup,
    LedgerEntry, NewCampaign, StoredAnswer, pace_ms,
};
use crate::customers::input::FieldError;
use crate::http::AppState;
use crate::surveys::script::{Purpose, Script};

const MAX_NAME_CHARS: usize = 100;
const MAX_LIST: usize = 10_000;
const MAX_SAMPLE: i64 = 100_000;
const DEFAULT_DELAY_MINUTES: i64 = 120;
const DEFAULT_QUIET_DAYS: i64 = 30;
/// A week.
const MAX_DELAY_MINUTES: i64 = 7 * 24 * 60;
/// Ten years.
const MAX_QUIET_DAYS: i64 = 3650;
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/campaigns",
            get(list_campaigns).post(create_campaign),
        )
        .route("/api/v1/campaigns/{id}", get(get_campaign))
        .route("/api/v1/campaigns/{id}/report", get(get_report))
        .route(
            "/api/v1/campaigns/{id}/start",
            post(|State(st), path| act_on(st, path, CampaignAction::Start)),
        )
        .route(
            "/api/v1/campaigns/{id}/pause",
            post(|State(st), path| act_on(st, path, CampaignAction::Pause)),
        )
        .route(
            "/api/v1/campaigns/{id}/resume",
            post(|State(st), path| act_on(st, path, CampaignAction::Resume)),
        )
        .route(
            "/api/v1/campaigns/{id}/stop",
            post(|State(st), path| act_on(st, path, CampaignAction::Stop)),
        )
        .route(
            "/api/v1/campaigns/{id}/callbacks",
            get(list_callbacks).post(queue_list),
        )
        .route("/api/v1/campaigns/{id}/sample", post(sample))
        .route("/api/v1/callbacks/{id}", get(get_callback))
        .route("/api/v1/followups", get(list_followups))
}

// ---- views ---------------------------------------------------------------------------------

/// A campaign as the API shows it; the report only when one campaign is asked for.
#[derive(Debug, Serialize)]
struct CampaignView {
    id: i64,
    name: String,
    purpose: Purpose,
    state: CampaignState,
    /// The pace as calls per second (1000 / `pace_ms`).
    calls_per_sec: f64,
    /// Least time between two calls of the campaign, whole cluster.
    pace_ms: i64,
    from_number: String,
    starts_at: String,
    ends_at: Option<String>,
    standing: bool,
    delay_minutes: i64,
    quiet_days: i64,
    window: CallingWindow,
    retry: RetryPolicy,
    script: Script,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<CampaignReport>,
}

impl CampaignView {
    fn new(c: Campaign) -> Self {
        CampaignView {
            calls_per_sec: (1000.0 / c.pace_ms.max(1) as f64 * 1000.0).round() / 1000.0,
            id: c.id,
            name: c.name,
            purpose: c.purpose,
            state: c.state,
            pace_ms: c.pace_ms,
            from_number: c.from_number,
            starts_at: rfc3339(c.starts_at),
            ends_at: c.ends_at.map(rfc3339),
            standing: c.standing,
            delay_minutes: c.delay_minutes,
            quiet_days: c.quiet_days,
            window: c.window,
            retry: c.retry,
            script: c.script,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            report: None,
        }
    }
}

#[derive(Debug, Serialize)]
struct CallbackView {
    id: i64,
    campaign_id: i64,
    account_id: Option<i64>,
    ticket_id: Option<i64>,
    /// Unique in the campaign: what owed the callback.
    dedup_key: String,
    /// `dedup_key` under its first name, for clients written before it was renamed.
    source: String,
    to_number: String,
    timezone: String,
    locale: &'static str,
    state: CallbackState,
    /// When it is (or was last) due.
    due_at: String,
    /// Attempts that count against the retry policy.
    attempts: i32,
    /// While dialing: until when the dialer's claim holds.
    lease_until: Option<String>,
    outcome: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Callback> for CallbackView {
    fn from(c: Callback) -> Self {
        CallbackView {
            id: c.id,
            campaign_id: c.campaign_id,
            account_id: c.account_id,
            ticket_id: c.ticket_id,
            dedup_key: c.source.clone(),
            source: c.source,
            to_number: c.to_number,
            timezone: c.timezone,
            locale: c.locale.tag(),
            state: c.state,
            due_at: rfc3339(c.due_at),
            attempts: c.attempts,
            lease_until: c.lease_until.map(rfc3339),
            outcome: c.outcome,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
struct AttemptView {
    id: i64,
    attempt_no: i32,
    state: crate::callbacks::AttemptState,
    provider_call_id: Option<String>,
    requested_at: String,
    placed_at: Option<String>,
    ended_at: Option<String>,
    call_status: Option<String>,
    answered_by: Option<String>,
    outcome: Option<String>,
    /// Whether it counts against the retry policy.
    counts: bool,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            id: a.id,
            attempt_no: a.attempt_no,
            state: a.state,
            provider_call_id: a.provider_call_id,
            requested_at: rfc3339(a.requested_at),
            placed_at: a.placed_at.map(rfc3339),
            ended_at: a.ended_at.map(rfc3339),
            call_status: a.call_status,
            answered_by: a.answered_by,
            outcome: a.outcome,
            counts: a.counts,
        }
    }
}

#[derive(Debug, Serialize)]
struct LedgerView {
    id: i64,
    attempt_no: Option<i32>,
    kind: String,
    detail: String,
    provider_call_id: Option<String>,
    at: String,
}

impl From<LedgerEntry> for LedgerView {
    fn from(e: LedgerEntry) -> Self {
        LedgerView {
            id: e.id,
            attempt_no: e.attempt_no,
            kind: e.kind,
            detail: e.detail,
            provider_call_id: e.provider_call_id,
            at: rfc3339(e.at),
        }
    }
}

#[derive(Debug, Serialize)]
struct AnswerView {
    attempt_id: i64,
    question: String,
    answer: String,
    score: Option<f64>,
    at: String,
}

impl From<StoredAnswer> for AnswerView {
    fn from(a: StoredAnswer) -> Self {
        AnswerView {
            attempt_id: a.attempt_id,
            question: a.question,
            answer: a.answer,
            score: a.score,
            at: rfc3339(a.at),
        }
    }
}

#[derive(Debug, Serialize)]
struct FollowupView {
    id: i64,
    kind: String,
    callback_id: i64,
    ticket_id: Option<i64>,
    account_id: Option<i64>,
    detail: String,
    state: String,
    created_at: String,
}

impl From<Followup> for FollowupView {
    fn from(f: Followup) -> Self {
        FollowupView {
            id: f.id,
            kind: f.kind,
            callback_id: f.callback_id,
            ticket_id: f.ticket_id,
            account_id: f.account_id,
            detail: f.detail,
            state: f.state,
            created_at: rfc3339(f.created_at),
        }
    }
}

// ---- helpers -------------------------------------------------------------------------------

pub(super) fn id_from(path: Result<Path<i64>, PathRejection>, what: &str) -> Result<i64, ApiError> {
    match path {
        Ok(Path(id)) if id > 0 => Ok(id),
        _ => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("must be a {what} id (a positive integer)"),
            field: Some("id".into()),
        }),
    }
}

async fn campaign_by_id(st: &AppState, id: i64) -> Result<Campaign, ApiError> {
    st.steps
        .store
        .campaign(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("campaign {id} not found")))
}

pub(crate) fn defaults(st: &AppState) -> Defaults {
    Defaults {
        tz: st.cfg.timezone,
        locale: st.cfg.default_locale,
    }
}

pub(super) fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        field: Some(field.to_string()),
    }
}

/// A trimmed text, `None` when absent or blank.
pub(super) fn given(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn time_field(field: &str, v: Option<String>) -> Result<Option<i64>, FieldError> {
    given(v)
        .map(|t| {
            let at = chrono::DateTime::parse_from_rfc3339(&t).map_err(|_| {
                FieldError::new(
                    field,
                    format!("{t:?} is not a time in RFC 3339 such as 2026-06-02T09:00:00+08:00"),
                )
            })?;
            if !crate::clock::date_in_range(at.date_naive()) {
                return Err(FieldError::new(field, crate::clock::date_range_message()));
            }
            Ok(at.timestamp_millis())
        })
        .transpose()
}

fn purposes() -> String {
    Purpose::ALL.map(Purpose::as_str).join(", ")
}

// ---- creating ------------------------------------------------------------------------------

/// A campaign as a back-office system sends it. Script, window and policy are read here from
/// JSON values, so their mistakes are 422 naming the field rather than a bare 400.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignBody {
    name: Option<String>,
    purpose: Option<String>,
    script: Option<Value>,
    window: Option<Value>,
    retry: Option<Value>,
    calls_per_sec: Option<f64>,
    from_number: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    standing: Option<bool>,
    delay_minutes: Option<i64>,
    quiet_days: Option<i64>,
}

impl CampaignBody {
    fn into_new(self, now: i64) -> Result<NewCampaign, FieldError> {
        let name = given(self.name).ok_or_else(|| {
            FieldError::new(
                "name",
                format!("required: 1 to {MAX_NAME_CHARS} characters"),
            )
        })?;
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                format!("must be one line of at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let purpose = match given(self.purpose) {
            None => {
                return Err(FieldError::new(
                    "purpose",
                    format!("required: one of {}", purposes()),
                ));
            }
            Some(p) => Purpose::parse(&p).ok_or_else(|| {
                FieldError::new(
                    "purpose",
                    format!("unknown purpose {p:?}; use one of {}", purposes()),
                )
            })?,
        };
        let script = match self.script {
            None | Some(Value::Null) => Script::builtin(purpose),
            Some(v) => serde_json::from_value::<Script>(v)
                .map_err(|e| FieldError::new("script", e.to_string()))?,
        };
        script
            .validate()
            .map_err(|e| FieldError::new("script", e.to_string()))?;
        if script.purpose != purpose {
            return Err(FieldError::new(
                "script",
                format!(
                    "the script {:?} is for {} but the campaign's purpose is {purpose}",
                    script.id, script.purpose
                ),
            ));
        }
        let window = match self.window {
            None | Some(Value::Null) => CallingWindow::default(),
            Some(v) => serde_json::from_value::<CallingWindow>(v)
                .map_err(|e| FieldError::new("window", e.to_string()))?,
        };
        window
            .validate()
            .map_err(|e| FieldError::new("window", e.to_string()))?;
        let retry = match self.retry {
            None | Some(Value::Null) => RetryPolicy::default(),
            Some(v) => serde_json::from_value::<RetryPolicy>(v)
                .map_err(|e| FieldError::new("retry", e.to_string()))?,
        };
        retry
            .validate()
            .map_err(|e| FieldError::new("retry", e.to_string()))?;
        let pace_ms = match self.calls_per_sec {
            None => {
                return Err(FieldError::new(
                    "calls_per_sec",
                    "required: the most calls a second, more than 0 and at most 1000",
                ));
            }
            Some(cps) => pace_ms(cps).ok_or_else(|| {
                FieldError::new(
                    "calls_per_sec",
                    format!("must be more than 0 and at most 1000, got {cps}"),
                )
            })?,
        };
        let from_number = match given(self.from_number) {
            None => {
                return Err(FieldError::new(
                    "from_number",
                    "required: the number calls come from, such as +8610000",
                ));
            }
            Some(n) => crate::calls::service::normalize_number(&n)
                .filter(|d| (4..=20).contains(&d.trim_start_matches('+').len()))
                .ok_or_else(|| {
                    FieldError::new(
                        "from_number",
                        format!("{n:?} is not a phone number of 4 to 20 digits"),
                    )
                })?,
        };
        let starts_at = time_field("starts_at", self.starts_at)?.unwrap_or(now);
        let ends_at = time_field("ends_at", self.ends_at)?;
        if let Some(end) = ends_at
            && end <= starts_at
        {
            return Err(FieldError::new(
                "ends_at",
                format!("must be after starts_at ({})", rfc3339(starts_at)),
            ));
        }
        let standing = self.standing.unwrap_or(false);
        if standing && purpose != Purpose::Satisfaction {
            return Err(FieldError::new(
                "standing",
                "only a satisfaction campaign can be the standing one (resolved tickets queue into it)",
            ));
        }
        let delay_minutes = self.delay_minutes.unwrap_or(DEFAULT_DELAY_MINUTES);
        if !(0..=MAX_DELAY_MINUTES).contains(&delay_minutes) {
            return Err(FieldError::new(
                "delay_minutes",
                format!("must be between 0 and {MAX_DELAY_MINUTES} (a week), got {delay_minutes}"),
            ));
        }
        let quiet_days = self.quiet_days.unwrap_or(DEFAULT_QUIET_DAYS);
        if !(0..=MAX_QUIET_DAYS).contains(&quiet_days) {
            return Err(FieldError::new(
                "quiet_days",
                format!("must be between 0 and {MAX_QUIET_DAYS}, got {quiet_days}"),
            ));
        }
        Ok(NewCampaign {
            name,
            purpose,
            script,
            window,
            retry,
            pace_ms,
            from_number,
            starts_at,
            ends_at,
            standing,
            delay_minutes,
            quiet_days,
        })
    }
}

/// A campaign from the console's form (name, purpose, number, pace), checked by the API's
/// rules, with the API's defaults for the rest; the error names the field.
pub(crate) fn campaign_from_form(
    name: Option<&str>,
    purpose: Option<&str>,
    from_number: Option<&str>,
    calls_per_sec: Option<&str>,
    now: i64,
) -> Result<NewCampaign, FieldError> {
    let calls_per_sec = match calls_per_sec.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<f64>()
                .map_err(|_| FieldError::new("calls_per_sec", format!("{s:?} is not a number")))?,
        ),
    };
    let body = CampaignBody {
        name: name.map(str::to_string),
        purpose: purpose.map(str::to_string),
        from_number: from_number.map(str::to_string),
        calls_per_sec,
        ..CampaignBody::default()
    };
    body.into_new(now)
}

async fn create_campaign(
    State(st): State<AppState>,
    body: Result<ApiJson<CampaignBody>, ApiError>,
) -> Result<Response, ApiError> {
    let ApiJson(body) = body?;
    let now = st.clock.now_ms();
    let new = body.into_new(now)?;
    let c = st.store.create_campaign(&new, now).await?;
    tracing::info!(campaign = c.id, name = %c.name, purpose = %c.purpose, "campaign created through the API");
    let location = format!("/api/v1/campaigns/{}", c.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CampaignView::new(c)),
    )
        .into_response())
}

// ---- reading -------------------------------------------------------------------------------

async fn list_campaigns(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let campaigns: Vec<CampaignView> = st
        .steps
        .store
        .campaigns()
        .await?
        .into_iter()
        .map(CampaignView::new)
        .collect();
    Ok(Json(json!({ "campaigns": campaigns })))
}

async fn get_campaign(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<CampaignView>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    let report = report::campaign_report(st.store.as_ref(), &c).await?;
    let mut view = CampaignView::new(c);
    view.report = Some(report);
    Ok(Json(view))
}

async fn get_report(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<CampaignReport>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    Ok(Json(report::campaign_report(st.store.as_ref(), &c).await?))
}

// ---- life cycle ----------------------------------------------------------------------------

/// Starts, pauses, resumes or stops a campaign (see `CampaignAction`); a stop's answer says
/// how many pending callbacks it cancelled.
async fn act_on(
    st: AppState,
    path: Result<Path<i64>, PathRejection>,
    action: CampaignAction,
) -> Result<Json<Value>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    let (c, cancelled) = lists::act(st.store.as_ref(), &c, action, st.clock.now_ms())
        .await
        .map_err(|e| match e {
            lists::ActionError::Refused(why) => {
                ApiError::new(StatusCode::CONFLICT, why.to_string())
            }
            lists::ActionError::Store(e) => e.into(),
        })?;
    let mut view = serde_json::to_value(CampaignView::new(c)).map_err(|_| ApiError::internal())?;
    if action == CampaignAction::Stop {
        view["cancelled_callbacks"] = json!(cancelled);
    }
    Ok(Json(view))
}

// ---- lists and samples ---------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    callbacks: Option<Vec<Value>>,
}

/// Queues a list: each entry checked on its own.
async fn queue_list(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    body: Result<ApiJson<ListBody>, ApiError>,
) -> Result<Json<lists::ListReport>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    let ApiJson(body) = body?;
    let Some(items) = body.callbacks else {
        return Err(FieldError::new(
            "callbacks",
            "required: a list of {number, account_no?, locale?, timezone?, due_at?, dedup_key?}",
        )
        .into());
    };
    if items.len() > MAX_LIST {
        return Err(FieldError::new(
            "callbacks",
            format!("at most {MAX_LIST} a request, got {}", items.len()),
        )
        .into());
    }
    if let Some(why) = lists::refuses_callbacks(&c) {
        return Err(ApiError::new(StatusCode::CONFLICT, why.to_string()));
    }
    let mut entries = Vec::with_capacity(items.len());
    let mut malformed: Vec<Rejected> = Vec::new();
    for (i, v) in items.into_iter().enumerate() {
        let index = i as u64;
        match serde_json::from_value::<ListEntry>(v) {
            Ok(e) => entries.push((index, e)),
            Err(e) => malformed.push(Rejected::new(index, "callbacks", e.to_string())),
        }
    }
    let now = st.clock.now_ms();
    let mut report = lists::queue_list(
        st.store.as_ref(),
        &c,
        entries,
        &defaults(&st),
        "sent through the API",
        now,
    )
    .await?;
    report.rejected.extend(malformed);
    report.rejected.sort_by_key(|r| r.index);
    tracing::info!(
        campaign = c.id,
        queued = report.queued,
        already_owed = report.already_owed,
        rejected = report.rejected.len(),
        "list queued through the API"
    );
    Ok(Json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleBody {
    size: Option<i64>,
    stratify_by: Option<String>,
}

/// Draws a random sample of customers and queues a callback to each.
async fn sample(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    body: Result<ApiJson<SampleBody>, ApiError>,
) -> Result<Json<lists::SampleReport>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    let ApiJson(body) = body?;
    let size = body
        .size
        .filter(|s| (1..=MAX_SAMPLE).contains(s))
        .ok_or_else(|| {
            FieldError::new(
                "size",
                format!("required: how many customers to draw, 1 to {MAX_SAMPLE}"),
            )
        })?;
    let stratified = match given(body.stratify_by).as_deref() {
        None => false,
        Some("line_kind") => true,
        Some(other) => {
            return Err(FieldError::new(
                "stratify_by",
                format!("unknown stratification {other:?}; use line_kind, or leave it out"),
            )
            .into());
        }
    };
    if let Some(why) = lists::refuses_callbacks(&c) {
        return Err(ApiError::new(StatusCode::CONFLICT, why.to_string()));
    }
    let report = lists::draw_sample(
        st.store.as_ref(),
        &c,
        size,
        stratified,
        &defaults(&st),
        st.clock.now_ms(),
    )
    .await?;
    tracing::info!(
        campaign = c.id,
        size,
        queued = report.queued,
        "sample drawn through the API"
    );
    Ok(Json(report))
}

/// Query parameters as text, so each mistake gets its own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbacksQuery {
    after: Option<String>,
    limit: Option<String>,
    state: Option<String>,
}

fn limit_of(v: Option<String>) -> Result<i64, ApiError> {
    match given(v) {
        None => Ok(DEFAULT_LIMIT),
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| bad_query("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))),
    }
}

async fn list_callbacks(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    q: Result<Query<CallbacksQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let c = campaign_by_id(&st, id_from(path, "campaign")?).await?;
    let Query(q) = q?;
    let after = match given(q.after) {
        None => 0,
        Some(a) => a.parse::<i64>().ok().filter(|a| *a >= 0).ok_or_else(|| {
            bad_query(
                "after",
                "must be the next_after of the previous page (a callback id)",
            )
        })?,
    };
    let limit = limit_of(q.limit)?;
    let state = match given(q.state) {
        None => None,
        Some(s) => Some(CallbackState::parse(&s).ok_or_else(|| {
            bad_query(
                "state",
                format!("unknown state {s:?}; use one of pending, dialing, done, cancelled"),
            )
        })?),
    };
    let mut page = st
        .steps
        .store
        .list_callbacks(c.id, state, after, limit + 1)
        .await?;
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(0));
    let next_after = if more {
        page.last().map(|b| b.id)
    } else {
        None
    };
    let callbacks: Vec<CallbackView> = page.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "callbacks": callbacks, "next_after": next_after }),
    ))
}

/// A callback with its attempts, ledger, answers, and why it was (not yet) called.
async fn get_callback(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = id_from(path, "callback")?;
    let explained = report::explain(
        st.store.as_ref(),
        id,
        st.cfg.timezone,
        &st.desk.calendar,
        st.clock.now_ms(),
        st.cfg.dials_callbacks(),
    )
    .await?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("callback {id} not found")))?;
    let attempts: Vec<AttemptView> = explained.attempts.into_iter().map(Into::into).collect();
    let ledger: Vec<LedgerView> = explained.ledger.into_iter().map(Into::into).collect();
    let answers: Vec<AnswerView> = explained.answers.into_iter().map(Into::into).collect();
    Ok(Json(json!({
        "callback": CallbackView::from(explained.callback),
        "campaign": explained.campaign.map(|c| json!({ "id": c.id, "name": c.name, "state": c.state })),
        "why": explained.why.to_string(),
        "opted_out": explained.opted_out,
        "attempts": attempts,
        "ledger": ledger,
        "answers": answers,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowupsQuery {
    limit: Option<String>,
}

/// Open follow-ups for people, oldest first.
async fn list_followups(
    State(st): State<AppState>,
    q: Result<Query<FollowupsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let limit = limit_of(q.limit)?;
    let followups: Vec<FollowupView> = st
        .steps
        .store
        .followups(limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(json!({ "followups": followups })))
}
