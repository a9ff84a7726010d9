//! `/api/v1/escalations`: the queue people work, read by back-office systems and dashboards,
//! and open to them for raising cases of their own (an appointment a customer asked to move,
//! say).
//!
//! Rules: reading and raising only; claiming, replying and closing need a person and happen
//! in the console, where who did it is known. A raise with the same `Idempotency-Key` gets
//! the escalation the first one raised.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::callbacks::{bad_query, given, id_from};
use super::tickets::ObjectJson;
use super::{ApiError, rfc3339};
use crate::escalations::{
    EscFilter, Escalation, EscalationEvent, EscalationKind, EscalationState, MAX_TEXT,
    NewEscalation,
};
use crate::http::AppState;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/escalations",
            get(list_escalations).post(raise_escalation),
        )
        .route("/api/v1/escalations/{id}", get(get_escalation))
}

#[derive(Serialize)]
struct EscalationView {
    id: i64,
    kind: EscalationKind,
    state: EscalationState,
    priority: i64,
    summary: String,
    owner: Option<String>,
    /// Open for longer than the console's limit without an owner.
    unclaimed: bool,
    /// Not replied to by its due time.
    overdue: bool,
    due_at: String,
    queued_at: String,
    created_at: String,
    claimed_at: Option<String>,
    replied_at: Option<String>,
    closed_at: Option<String>,
    reply: Option<String>,
    reply_via: Option<&'static str>,
    account_id: Option<i64>,
    ticket_id: Option<i64>,
    callback_id: Option<i64>,
    call_sid: Option<String>,
    answer: Option<String>,
    callback_number: Option<String>,
}

impl EscalationView {
    fn new(e: Escalation, now: i64) -> Self {
        EscalationView {
            unclaimed: e.unclaimed(now),
            overdue: e.overdue(now),
            id: e.id,
            kind: e.kind,
            state: e.state,
            priority: e.priority,
            summary: e.summary,
            owner: e.owner,
            due_at: rfc3339(e.due_at),
            queued_at: rfc3339(e.queued_at),
            created_at: rfc3339(e.created_at),
            claimed_at: e.claimed_at.map(rfc3339),
            replied_at: e.replied_at.map(rfc3339),
            closed_at: e.closed_at.map(rfc3339),
            reply: e.reply,
            reply_via: e.reply_via.map(|v| v.as_str()),
            account_id: e.account_id,
            ticket_id: e.ticket_id,
            callback_id: e.callback_id,
            call_sid: e.call_sid,
            answer: e.answer,
            callback_number: e.callback_number,
        }
    }
}

#[derive(Serialize)]
struct EventView {
    kind: String,
    actor: String,
    detail: String,
    at: String,
}

impl From<EscalationEvent> for EventView {
    fn from(e: EscalationEvent) -> Self {
        EventView {
            kind: e.kind,
            actor: e.actor,
            detail: e.detail,
            at: rfc3339(e.at),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    /// A login, or `none` for the unowned.
    owner: Option<String>,
    overdue: Option<String>,
    ticket: Option<String>,
    limit: Option<String>,
}

async fn list_escalations(
    State(st): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let now = st.clock.now_ms();
    let state =
        match given(q.state) {
            None => None,
            Some(s) => Some(EscalationState::parse(&s).ok_or_else(|| {
                bad_query("state", "must be one of open, claimed, replied, closed")
            })?),
        };
    let kind = match given(q.kind) {
        None => None,
        Some(k) => Some(EscalationKind::parse(&k).ok_or_else(|| {
            bad_query(
                "kind",
                format!("must be one of {}", kind_names().join(", ")),
            )
        })?),
    };
    let overdue = match given(q.overdue).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad_query("overdue", "must be true or false")),
    };
    let ticket_id = match given(q.ticket) {
        None => None,
        Some(n) => Some(
            st.steps
                .store
                .ticket(&n)
                .await?
                .ok_or_else(|| bad_query("ticket", format!("no ticket numbered {n}")))?
                .id,
        ),
    };
    let limit = match given(q.limit) {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                bad_query("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let filter = EscFilter {
        state,
        kind,
        owner: given(q.owner).map(|o| if o == "none" { String::new() } else { o }),
        overdue,
        ticket_id,
        account_id: None,
        callback_id: None,
        now,
        limit,
    };
    let store = &st.store;
    let list: Vec<EscalationView> = store
        .escalations(&filter)
        .await?
        .into_iter()
        .map(|e| EscalationView::new(e, now))
        .collect();
    let counts = store.escalation_counts(now, "").await?;
    Ok(Json(json!({ "escalations": list, "counts": counts })))
}

fn kind_names() -> Vec<&'static str> {
    EscalationKind::ALL.iter().map(|k| k.as_str()).collect()
}

async fn get_escalation(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = id_from(path, "escalation")?;
    let store = &st.store;
    let e = store.escalation(id).await?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("escalation {id} not found"))
    })?;
    let history: Vec<EventView> = store
        .escalation_history(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let mut body = json!(EscalationView::new(e, st.clock.now_ms()));
    body["history"] = json!(history);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseBody {
    kind: Option<String>,
    summary: Option<String>,
    ticket: Option<String>,
    account_no: Option<String>,
    callback_number: Option<String>,
}

fn field(name: &str, message: impl Into<String>) -> ApiError {
    super::FieldError {
        field: name.into(),
        message: message.into(),
    }
    .into()
}

async fn raise_escalation(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<ObjectJson<RaiseBody>, ApiError>,
) -> Result<Response, ApiError> {
    let ObjectJson(b) = body?;
    let kind_text = given(b.kind).ok_or_else(|| field("kind", "is required"))?;
    let kind = EscalationKind::parse(&kind_text).ok_or_else(|| {
        field(
            "kind",
            format!("must be one of {}", kind_names().join(", ")),
        )
    })?;
    let summary = given(b.summary).ok_or_else(|| field("summary", "is required"))?;
    if summary.chars().count() > MAX_TEXT {
        return Err(field(
            "summary",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| {
                    !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Idempotency-Key must be 1 to 64 printable ASCII characters",
                    )
                })?
                .to_string(),
        ),
    };
    let store = &st.store;
    let now = st.clock.now_ms();
    let source = match &key {
        Some(k) => format!("api:{k}"),
        None => format!("api:{}", crate::agents::auth::new_token()),
    };
    if key.is_some()
        && let Some(e) = store.escalation_by_source(&source).await?
    {
        return Ok((StatusCode::OK, Json(EscalationView::new(e, now))).into_response());
    }
    let mut new = NewEscalation::new(kind, source, summary, now);
    if let Some(n) = given(b.ticket) {
        let t = store
            .ticket(&n)
            .await?
            .ok_or_else(|| field("ticket", format!("no ticket numbered {n}")))?;
        new.ticket_id = Some(t.id);
        new.account_id = t.account_id;
        new.callback_number = t.callback_number;
    }
    if let Some(no) = given(b.account_no) {
        let a = store
            .account_by_no(&no)
            .await?
            .ok_or_else(|| field("account_no", format!("no account numbered {no}")))?;
        new.account_id = Some(a.id);
    }
    if let Some(n) = given(b.callback_number) {
        let n = crate::calls::service::normalize_number(&n)
            .ok_or_else(|| field("callback_number", "must be a phone number"))?;
        new.callback_number = Some(n);
    }
    let raised = store.raise_escalation(&new).await?;
    let e = match raised {
        Some(e) => e,
        // Raised meanwhile by a request with the same key.
        None => store
            .escalation_by_source(&new.source)
            .await?
            .ok_or_else(ApiError::internal)?,
    };
    Ok((StatusCode::CREATED, Json(EscalationView::new(e, now))).into_response())
}
