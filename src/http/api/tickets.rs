//! Tickets in the API: back-office systems open tickets, list and read them with their
//! history, and move them through their life cycle.
//!
//! Rules:
//! - `POST /api/v1/tickets` opens a ticket on channel `api` through the desk, so it gets the
//!   same service-level deadline as one opened by phone (any `deadline_at` sent is not a field
//!   here). Every kind but `complaint` needs an existing `account_no`; the customer class is
//!   the account's. A `line_number` must be one of that account's lines (phone numbers may be
//!   written with spaces or dashes). `line_kind` is for installations (the kind ordered,
//!   defaulting to the line's); for other kinds it comes from the line, and one that
//!   contradicts the line, or comes without one, is refused. A request repeated with the same
//!   `Idempotency-Key` header gets the ticket the first one opened. A fault on a line that
//!   already has a running fault ticket is 409 naming that ticket, as on the phone.
//! - A path's ticket number is checked (8 digits, Luhn check digit) before any lookup: a
//!   malformed one is 400, an unknown one 404.
//! - Changes are `POST /api/v1/tickets/{number}/{action}`, one action per path (another is
//!   404 with the list). A change the ticket's state does not allow is 409 with the state it
//!   is in and where it may go; a refused change records nothing.
//! - Bodies are JSON objects (`Content-Type: application/json`); an empty body reads as `{}`,
//!   so an action with nothing required (`start`, `close`) may be posted bare.
//! - Every change and every opening is recorded with its `actor` (default `api`, at most 64
//!   characters); `system` and `caller` are the service's own actors and cannot be claimed.
//! - Input errors: a body that is not JSON of the right shape (wrong types, unknown fields)
//!   is 400; a missing or invalid value is 422 naming the field; a bad query parameter is 400
//!   naming it and, for `state` and `kind`, the values allowed.
//! - `breached` and `breached_at` are as of the request: a ticket past its deadline
//!   unresolved shows as breached before the sweeper has marked it.
//! - Lists are newest first, at most 1000 a page (50 by default); `next_before` of a page is
//!   the `before` of the next and is null on the last.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ApiError, rfc3339};
use crate::customers::input::{FieldError, MAX_ADDRESS_CHARS, validate_account_no};
use crate::customers::{Account, Line, LineKind};
use crate::http::AppState;
use crate::repo::StoreError;
use crate::tickets::{
    Action, Channel, NewTicket, Origin, Ticket, TicketEvent, TicketFilter, TicketKind, TicketState,
    is_valid_number,
};

/// The actions, in life-cycle order, as they appear in paths.
const ACTIONS: [&str; 8] = [
    "assign",
    "start",
    "note",
    "appointment",
    "resolve",
    "close",
    "cancel",
    "reopen",
];
const DEFAULT_ACTOR: &str = "api";
/// Actors the service writes itself; the API may not claim them.
const RESERVED_ACTORS: [&str; 2] = ["system", "caller"];
const MAX_SHORT: usize = 64;
const MAX_TEXT: usize = 2000;
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;
/// Shortest and longest callback number (digits), as on the keypad.
const CALLBACK_DIGITS: std::ops::RangeInclusive<usize> = 5..=20;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets", get(list_tickets).post(open_ticket))
        .route("/api/v1/tickets/{number}", get(get_ticket))
        .route("/api/v1/tickets/{number}/assign", post(act::<AssignBody>))
        .route("/api/v1/tickets/{number}/start", post(act::<StartBody>))
        .route("/api/v1/tickets/{number}/note", post(act::<NoteBody>))
        .route(
            "/api/v1/tickets/{number}/appointment",
            post(act::<AppointmentBody>),
        )
        .route("/api/v1/tickets/{number}/resolve", post(act::<ResolveBody>))
        .route("/api/v1/tickets/{number}/close", post(act::<CloseBody>))
        .route("/api/v1/tickets/{number}/cancel", post(act::<CancelBody>))
        .route("/api/v1/tickets/{number}/reopen", post(act::<ReopenBody>))
        .route("/api/v1/tickets/{number}/{action}", any(unknown_action))
}

// ---- views ---------------------------------------------------------------------------------

/// A ticket as the API shows it; times are RFC 3339.
#[derive(Debug, Serialize)]
struct TicketView {
    number: String,
    kind: &'static str,
    state: &'static str,
    /// `None` for a complaint from a caller who was not identified.
    account_no: Option<String>,
    line_number: Option<String>,
    line_kind: Option<&'static str>,
    customer_class: Option<&'static str>,
    channel: &'static str,
    category: Option<String>,
    description: String,
    callback_number: Option<String>,
    assignee: Option<String>,
    opened_at: String,
    deadline_at: Option<String>,
    deadline_estimated: bool,
    appointment_at: Option<String>,
    resolved_at: Option<String>,
    resolution: Option<ResolutionView>,
    closed_at: Option<String>,
    breached: bool,
    breached_at: Option<String>,
    /// Where an installation or move is done; `None` when the caller spoke it (`recording`).
    address: Option<String>,
    recording: Option<RecordingView>,
    transcript: Option<String>,
    /// The call that opened the ticket (see `GET /calls/{call_sid}`).
    origin_call_sid: Option<String>,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<EventView>>,
}

#[derive(Debug, Serialize)]
struct ResolutionView {
    code: String,
    note: String,
}

#[derive(Debug, Serialize)]
struct RecordingView {
    url: String,
    duration_secs: i64,
}

#[derive(Debug, Serialize)]
struct EventView {
    id: i64,
    kind: String,
    actor: String,
    from_state: Option<&'static str>,
    to_state: Option<&'static str>,
    detail: serde_json::Value,
    at: String,
}

impl EventView {
    fn new(e: TicketEvent) -> Self {
        EventView {
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            from_state: e.from_state.map(TicketState::as_str),
            to_state: e.to_state.map(TicketState::as_str),
            detail: e.detail,
            at: rfc3339(e.at),
        }
    }
}

impl TicketView {
    fn new(t: Ticket, account_no: Option<String>, now: i64) -> Self {
        let breached_at = t.breach_time(now);
        TicketView {
            breached: breached_at.is_some(),
            breached_at: breached_at.map(rfc3339),
            number: t.number,
            kind: t.kind.as_str(),
            state: t.state.as_str(),
            account_no,
            line_number: t.line_number,
            line_kind: t.line_kind.map(LineKind::as_str),
            customer_class: t.customer_class.map(|c| c.as_str()),
            channel: t.channel.as_str(),
            category: t.category,
            description: t.description,
            callback_number: t.callback_number,
            assignee: t.assignee,
            opened_at: rfc3339(t.opened_at),
            deadline_at: t.deadline_at.map(rfc3339),
            deadline_estimated: t.deadline_estimated,
            appointment_at: t.appointment_at.map(rfc3339),
            resolved_at: t.resolved_at.map(rfc3339),
            resolution: t.resolution_code.map(|code| ResolutionView {
                code,
                note: t.resolution_note.unwrap_or_default(),
            }),
            closed_at: t.closed_at.map(rfc3339),
            address: t.address,
            recording: t.recording.map(|r| RecordingView {
                url: r.url,
                duration_secs: r.duration_secs,
            }),
            transcript: t.transcript,
            // An API ticket's origin is its idempotency key, not a call.
            origin_call_sid: t.origin_call_sid.filter(|_| t.channel == Channel::Phone),
            updated_at: rfc3339(t.updated_at),
            history: None,
        }
    }
}

/// Account numbers by account id, each looked up once per request.
#[derive(Default)]
struct AccountNumbers(HashMap<i64, Option<String>>);

impl AccountNumbers {
    async fn of(&mut self, st: &AppState, t: &Ticket) -> Result<Option<String>, ApiError> {
        let Some(id) = t.account_id else {
            return Ok(None);
        };
        if let Some(no) = self.0.get(&id) {
            return Ok(no.clone());
        }
        let no = st.store.account(id).await?.map(|a| a.account_no);
        self.0.insert(id, no.clone());
        Ok(no)
    }
}

async fn view(st: &AppState, t: Ticket) -> Result<TicketView, ApiError> {
    let no = AccountNumbers::default().of(st, &t).await?;
    Ok(TicketView::new(t, no, st.clock.now_ms()))
}

// ---- errors --------------------------------------------------------------------------------

fn bad_request(field: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        field: Some(field.to_string()),
    }
}

fn check_number(number: &str) -> Result<(), ApiError> {
    if is_valid_number(number) {
        Ok(())
    } else {
        Err(bad_request(
            "number",
            "not a ticket number (8 digits with a check digit)",
        ))
    }
}

fn ticket_not_found(number: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("ticket {number} not found"))
}

/// A store error about ticket `number`: "not found" names it.
fn about(number: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound => ticket_not_found(number),
        other => other.into(),
    }
}

// ---- field checks --------------------------------------------------------------------------

/// A trimmed text, `None` when absent or blank, refused when longer than `max` characters
/// (or, when `single_line`, with control characters).
fn text(
    field: &str,
    value: Option<String>,
    max: usize,
    single_line: bool,
) -> Result<Option<String>, FieldError> {
    let Some(v) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("at most {max} characters")));
    }
    if single_line && v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be on one line, without control characters",
        ));
    }
    Ok(Some(v))
}

/// Like `text`, but it must be there.
fn required(
    field: &str,
    value: Option<String>,
    max: usize,
    single_line: bool,
) -> Result<String, FieldError> {
    text(field, value, max, single_line)?
        .ok_or_else(|| FieldError::new(field, format!("required: 1 to {max} characters")))
}

fn actor(value: Option<String>) -> Result<String, FieldError> {
    let a = text("actor", value, MAX_SHORT, true)?.unwrap_or_else(|| DEFAULT_ACTOR.into());
    if RESERVED_ACTORS.contains(&a.to_ascii_lowercase().as_str()) {
        return Err(FieldError::new(
            "actor",
            format!("{a:?} is the service's own actor; name the person or system acting"),
        ));
    }
    Ok(a)
}

fn list_of(values: impl IntoIterator<Item = &'static str>) -> String {
    values.into_iter().collect::<Vec<_>>().join(", ")
}

fn kinds() -> String {
    list_of(TicketKind::ALL.map(TicketKind::as_str))
}

fn states() -> String {
    list_of(TicketState::ALL.map(TicketState::as_str))
}

/// Whether `given` names `line`: exactly, or as the same phone number written differently.
fn names_line(line: &Line, given: &str) -> bool {
    line.number == given
        || (line.kind == LineKind::Phone
            && crate::calls::service::normalize_number(given).as_deref()
                == Some(line.number.as_str()))
}

/// A line number as stored: phone numbers written with spaces or dashes become E.164.
fn line_key(given: &str) -> String {
    let t = given.trim();
    crate::calls::service::normalize_number(t)
        .filter(|n| n.starts_with('+'))
        .unwrap_or_else(|| t.to_string())
}

// ---- opening -------------------------------------------------------------------------------

/// A ticket to open, as a back-office system sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    kind: Option<String>,
    account_no: Option<String>,
    line_number: Option<String>,
    line_kind: Option<String>,
    category: Option<String>,
    description: Option<String>,
    callback_number: Option<String>,
    address: Option<String>,
    actor: Option<String>,
}

impl OpenBody {
    /// Checks every field against the account; the deadline is the desk's to set.
    async fn into_new_ticket(self, st: &AppState) -> Result<NewTicket, ApiError> {
        let kind = match text("kind", self.kind, MAX_SHORT, true)? {
            None => {
                return Err(
                    FieldError::new("kind", format!("required: one of {}", kinds())).into(),
                );
            }
            Some(k) => TicketKind::parse(&k).ok_or_else(|| {
                FieldError::new(
                    "kind",
                    format!("unknown kind {k:?}; use one of {}", kinds()),
                )
            })?,
        };
        let account_no = text("account_no", self.account_no, MAX_SHORT, true)?;
        let account = account_of(st, kind, account_no).await?;
        let line = match text("line_number", self.line_number, MAX_SHORT, true)? {
            None => None,
            Some(n) => Some(line_of(account.as_ref(), &n)?),
        };
        let given_kind = match text("line_kind", self.line_kind, MAX_SHORT, true)? {
            None => None,
            Some(k) => Some(LineKind::parse(&k).ok_or_else(|| {
                FieldError::new(
                    "line_kind",
                    format!("unknown line kind {k:?}; use phone, broadband or leased"),
                )
            })?),
        };
        let line_kind = match (kind, given_kind, &line) {
            (TicketKind::Installation, Some(k), _) => Some(k),
            (_, None, l) => l.as_ref().map(|l| l.kind),
            (_, Some(k), Some(l)) if l.kind == k => Some(k),
            (_, Some(_), Some(l)) => {
                return Err(FieldError::new(
                    "line_kind",
                    format!(
                        "line {} is a {} line; leave line_kind out (it comes from the line)",
                        l.number,
                        l.kind.as_str()
                    ),
                )
                .into());
            }
            (_, Some(_), None) => {
                return Err(FieldError::new(
                    "line_kind",
                    format!(
                        "a {} ticket takes its line kind from line_number; give the line instead",
                        kind.as_str()
                    ),
                )
                .into());
            }
        };
        // An installation is done at the account's address unless another is given; a move
        // goes to a new one, which only the caller knows (the one on file is where it leaves).
        let address = match (
            text("address", self.address, MAX_ADDRESS_CHARS, true)?,
            kind,
        ) {
            (Some(a), TicketKind::Installation | TicketKind::Move) => Some(a),
            (Some(_), _) => {
                return Err(FieldError::new(
                    "address",
                    "only an installation or a move is done at an address",
                )
                .into());
            }
            (None, TicketKind::Installation) => account.as_ref().and_then(|a| a.address.clone()),
            (None, _) => None,
        };
        let callback_number = match text("callback_number", self.callback_number, MAX_SHORT, true)?
        {
            None => None,
            Some(c) => Some(
                crate::calls::service::normalize_number(&c)
                    .filter(|n| CALLBACK_DIGITS.contains(&n.trim_start_matches('+').len()))
                    .ok_or_else(|| {
                        FieldError::new(
                            "callback_number",
                            "must be a phone number of 5 to 20 digits, such as +8613800000001",
                        )
                    })?,
            ),
        };
        Ok(NewTicket {
            kind,
            account_id: account.as_ref().map(|a| a.id),
            line_number: line.map(|l| l.number),
            line_kind,
            customer_class: account.as_ref().map(|a| a.customer_class),
            channel: Channel::Api,
            category: text("category", self.category, MAX_SHORT, true)?,
            description: text("description", self.description, MAX_TEXT, false)?
                .unwrap_or_default(),
            callback_number,
            deadline_at: None,
            deadline_estimated: false,
            recording: None,
            address,
            actor: actor(self.actor)?,
            origin: None,
        })
    }
}

/// The account a ticket of `kind` is for: required, and must exist, unless it is a complaint.
async fn account_of(
    st: &AppState,
    kind: TicketKind,
    account_no: Option<String>,
) -> Result<Option<Account>, ApiError> {
    let Some(no) = account_no else {
        if kind == TicketKind::Complaint {
            return Ok(None);
        }
        let why = format!(
            "required for a {} ticket (only a complaint may come without an account)",
            kind.as_str()
        );
        return Err(FieldError::new("account_no", why).into());
    };
    validate_account_no(&no)?;
    let account = st.store.account_by_no(&no).await?;
    Ok(Some(account.ok_or_else(|| {
        FieldError::new("account_no", format!("no account {no}"))
    })?))
}

/// The account's line named `given`, or why there is none.
fn line_of(account: Option<&Account>, given: &str) -> Result<Line, FieldError> {
    let Some(acc) = account else {
        return Err(FieldError::new(
            "line_number",
            "a line belongs to an account: give account_no too",
        ));
    };
    acc.lines
        .iter()
        .find(|l| names_line(l, given))
        .cloned()
        .ok_or_else(|| {
            let has = if acc.lines.is_empty() {
                "it has none".to_string()
            } else {
                format!(
                    "its lines are {}",
                    acc.lines
                        .iter()
                        .map(|l| l.number.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            FieldError::new(
                "line_number",
                format!(
                    "{given} is not a line of account {} ({has})",
                    acc.account_no
                ),
            )
        })
}

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 64;

async fn open_ticket(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<ObjectJson<OpenBody>, ApiError>,
) -> Result<Response, ApiError> {
    let ObjectJson(body) = body?;
    // A client that retries with the same key gets the ticket its first request opened.
    let origin = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| {
                    !k.is_empty()
                        && k.len() <= MAX_IDEMPOTENCY_KEY
                        && k.chars().all(|c| c.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Idempotency-Key must be 1 to 64 printable ASCII characters",
                    )
                })?;
            Some(Origin {
                call_sid: format!("api:{key}"),
                seq: 0,
            })
        }
    };
    let mut new = body.into_new_ticket(&st).await?;
    new.origin = origin;
    // One running fault per line, as on the phone: the existing one is named instead.
    let running = match (new.kind, &new.line_number) {
        (TicketKind::Fault, Some(line)) => st
            .steps
            .store
            .active_ticket_on_line(line, TicketKind::Fault)
            .await?
            .filter(|t| {
                new.origin
                    .as_ref()
                    .is_none_or(|o| t.origin_call_sid.as_deref() != Some(o.call_sid.as_str()))
            }),
        _ => None,
    };
    if let Some(t) = running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "line {} already has fault ticket {} ({}); add a note to it instead",
                t.line_number.as_deref().unwrap_or_default(),
                t.number,
                t.state.as_str()
            ),
        ));
    }
    let ticket = st.desk.open(new, st.clock.now_ms()).await?;
    tracing::info!(ticket = %ticket.number, kind = ticket.kind.as_str(), "ticket opened through the API");
    let location = format!("/api/v1/tickets/{}", ticket.number);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&st, ticket).await?),
    )
        .into_response())
}

// ---- reading -------------------------------------------------------------------------------

async fn get_ticket(
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    check_number(&number)?;
    let ticket = st
        .steps
        .store
        .ticket(&number)
        .await?
        .ok_or_else(|| ticket_not_found(&number))?;
    let history = st.store.ticket_history(ticket.id).await?;
    let mut v = view(&st, ticket).await?;
    v.history = Some(history.into_iter().map(EventView::new).collect());
    Ok(Json(v))
}

/// Query parameters as text, so each mistake gets its own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    account_no: Option<String>,
    line_number: Option<String>,
    assignee: Option<String>,
    breached: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

impl ListQuery {
    fn into_filter(self, now: i64) -> Result<TicketFilter, ApiError> {
        let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let state = match given(self.state) {
            None => None,
            Some(s) => Some(TicketState::parse(&s).ok_or_else(|| {
                bad_request(
                    "state",
                    format!("unknown state {s:?}; use one of {}", states()),
                )
            })?),
        };
        let kind = match given(self.kind) {
            None => None,
            Some(k) => Some(TicketKind::parse(&k).ok_or_else(|| {
                bad_request(
                    "kind",
                    format!("unknown kind {k:?}; use one of {}", kinds()),
                )
            })?),
        };
        let account_no = given(self.account_no);
        if let Some(no) = &account_no {
            validate_account_no(no).map_err(|e| bad_request("account_no", e.message))?;
        }
        let breached = match given(self.breached).as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(b) => {
                return Err(bad_request(
                    "breached",
                    format!("{b:?} is not a choice; use true or false"),
                ));
            }
        };
        let before = match given(self.before) {
            None => None,
            Some(b) => Some(b.parse::<i64>().ok().filter(|b| *b > 0).ok_or_else(|| {
                bad_request(
                    "before",
                    "must be the next_before of the previous page (a positive integer)",
                )
            })?),
        };
        let limit = match given(self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    bad_request("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
                })?,
        };
        Ok(TicketFilter {
            state,
            kind,
            account_no,
            line_number: given(self.line_number).map(|l| line_key(&l)),
            assignee: given(self.assignee),
            breached,
            now,
            before,
            limit,
        })
    }
}

async fn list_tickets(
    State(st): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q?;
    let now = st.clock.now_ms();
    let page = st.store.list_tickets(&q.into_filter(now)?).await?;
    let mut numbers = AccountNumbers::default();
    let mut tickets = Vec::with_capacity(page.tickets.len());
    for t in page.tickets {
        let no = numbers.of(&st, &t).await?;
        tickets.push(TicketView::new(t, no, now));
    }
    Ok(Json(serde_json::json!({
        "tickets": tickets,
        "next_before": page.next_before,
    })))
}

// ---- changing ------------------------------------------------------------------------------

/// A JSON object body, parsed as `ApiJson` parses it (with the same messages), but anything
/// other than an object is refused (serde would read an array into a struct). An empty body
/// reads as `{}`, so an action that needs nothing may be posted bare.
pub(super) struct ObjectJson<T>(pub(super) T);

impl<T, S> FromRequest<S> for ObjectJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(super::is_json);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        let body = bytes.trim_ascii();
        if body.is_empty() {
            return Ok(ObjectJson(Json::<T>::from_bytes(b"{}")?.0));
        }
        if !json_type {
            return Err(super::missing_json_type());
        }
        if !body.starts_with(b"{") && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
            ));
        }
        let value = Json::<T>::from_bytes(body)?.0;
        super::refuse_control_text(body)?;
        Ok(ObjectJson(value))
    }
}

/// The body of one action: what it asks for and who acts.
trait ActionBody: DeserializeOwned + Send + 'static {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError>;
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: Option<String>,
    note: Option<String>,
    actor: Option<String>,
}

impl ActionBody for AssignBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let action = Action::Assign {
            assignee: required("assignee", self.assignee, MAX_SHORT, true)?,
            note: text("note", self.note, MAX_TEXT, false)?,
        };
        Ok((action, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    note: Option<String>,
    actor: Option<String>,
}

impl ActionBody for StartBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let note = text("note", self.note, MAX_TEXT, false)?;
        Ok((Action::Start { note }, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
    actor: Option<String>,
}

impl ActionBody for NoteBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let note = required("note", self.note, MAX_TEXT, false)?;
        Ok((Action::Note { note }, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppointmentBody {
    at: Option<String>,
    actor: Option<String>,
}

impl ActionBody for AppointmentBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        const FORMAT: &str = "a time in RFC 3339 such as 2026-06-02T09:00:00+08:00";
        let at = required("at", self.at, MAX_SHORT, true)
            .map_err(|_| FieldError::new("at", format!("required: {FORMAT}")))?;
        let at = chrono::DateTime::parse_from_rfc3339(&at)
            .map_err(|_| FieldError::new("at", format!("{at:?} is not {FORMAT}")))?;
        if !crate::clock::date_in_range(at.date_naive()) {
            return Err(FieldError::new("at", crate::clock::date_range_message()));
        }
        let at = at.timestamp_millis();
        Ok((Action::Appointment { at }, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    code: Option<String>,
    note: Option<String>,
    actor: Option<String>,
}

impl ActionBody for ResolveBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let action = Action::Resolve {
            code: required("code", self.code, MAX_SHORT, true)?,
            note: text("note", self.note, MAX_TEXT, false)?.unwrap_or_default(),
        };
        Ok((action, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    note: Option<String>,
    actor: Option<String>,
}

impl ActionBody for CloseBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let note = text("note", self.note, MAX_TEXT, false)?;
        Ok((Action::Close { note }, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: Option<String>,
    actor: Option<String>,
}

impl ActionBody for CancelBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let reason = required("reason", self.reason, MAX_TEXT, false)?;
        Ok((Action::Cancel { reason }, self.actor))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenBody {
    reason: Option<String>,
    actor: Option<String>,
}

impl ActionBody for ReopenBody {
    fn into_action(self) -> Result<(Action, Option<String>), FieldError> {
        let reason = required("reason", self.reason, MAX_TEXT, false)?;
        Ok((Action::Reopen { reason }, self.actor))
    }
}

/// Applies one action to a ticket and answers with the ticket after it.
async fn act<B: ActionBody>(
    State(st): State<AppState>,
    Path(number): Path<String>,
    body: Result<ObjectJson<B>, ApiError>,
) -> Result<Json<TicketView>, ApiError> {
    check_number(&number)?;
    let ObjectJson(body) = body?;
    let (action, who) = body.into_action()?;
    let who = actor(who)?;
    let ticket = st
        .steps
        .desk
        .change(&number, &action, &who, None)
        .await
        .map_err(about(&number))?;
    tracing::info!(ticket = %ticket.number, action = action.event_kind(), actor = %who, "ticket changed through the API");
    Ok(Json(view(&st, ticket).await?))
}

async fn unknown_action(Path((_, action)): Path<(String, String)>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no ticket action {action:?}; POST one of {}",
            list_of(ACTIONS)
        ),
    )
}
