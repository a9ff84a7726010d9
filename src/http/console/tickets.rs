//! Tickets: search, one ticket with its history, assign and resolve.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::refusal;
use super::text::{self, T};
use super::{
    Fields, MAX_SHORT, MAX_TEXT, Me, csrf_field, fail, internal, layout, not_found, respond, see,
    when,
};
use crate::escalations::{self, EscFilter};
use crate::http::AppState;
use crate::prompts::Locale;
use crate::repo::StoreError;
use crate::telephony::RecordingError;
use crate::tickets::{Action, Channel, TicketFilter, TicketKind, TicketState, is_valid_number};

const LIMIT: i64 = 100;

#[derive(Deserialize, Default)]
pub struct TicketQuery {
    number: Option<String>,
    account_no: Option<String>,
    state: Option<String>,
    kind: Option<String>,
}

fn bad(l: Locale, what: &str) -> Response {
    fail(
        l,
        StatusCode::BAD_REQUEST,
        T::BadRequest,
        &format!("{}{what}", T::UnknownValue.get(l)),
    )
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub async fn list(State(st): State<AppState>, me: Me, Query(q): Query<TicketQuery>) -> Response {
    let l = me.l();
    let now = st.clock.now_ms();
    let store = &st.store;
    let number = nonempty(&q.number);
    let account_no = nonempty(&q.account_no);
    if account_no
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_SHORT)
    {
        return bad(l, "account_no");
    }
    let state = match nonempty(&q.state) {
        None => None,
        Some(s) => match TicketState::parse(&s) {
            Some(s) => Some(s),
            None => return bad(l, "state"),
        },
    };
    let kind = match nonempty(&q.kind) {
        None => None,
        Some(s) => match TicketKind::parse(&s) {
            Some(k) => Some(k),
            None => return bad(l, "kind"),
        },
    };
    let tickets = if let Some(n) = &number {
        if !is_valid_number(n) {
            return bad(l, "number");
        }
        match store.ticket(n).await {
            Ok(t) => t.into_iter().collect(),
            Err(e) => return internal(l, e),
        }
    } else {
        let filter = TicketFilter {
            state,
            kind,
            account_no: account_no.clone(),
            now,
            limit: LIMIT,
            ..TicketFilter::default()
        };
        match store.list_tickets(&filter).await {
            Ok(p) => p.tickets,
            Err(e) => return internal(l, e),
        }
    };
    let body = html! {
        h1 { (T::Tickets.get(l)) }
        form.filters method="get" action="/console/tickets" {
            label { (T::Number.get(l)) input type="text" name="number" value=(number.as_deref().unwrap_or("")) maxlength="8"; }
            label { (T::AccountNo.get(l)) input type="text" name="account_no" value=(account_no.as_deref().unwrap_or("")) maxlength=(MAX_SHORT); }
            label { (T::State.get(l)) select name="state" {
                option value="" { (T::Any.get(l)) }
                @for s in TicketState::ALL { option value=(s.as_str()) selected[state == Some(s)] { (text::ticket_state(s).get(l)) } }
            } }
            label { (T::Kind.get(l)) select name="kind" {
                option value="" { (T::Any.get(l)) }
                @for k in TicketKind::ALL { option value=(k.as_str()) selected[kind == Some(k)] { (text::ticket_kind(k).get(l)) } }
            } }
            button type="submit" { (T::Search.get(l)) }
        }
        @if tickets.is_empty() {
            p.empty { (T::NoTickets.get(l)) }
        } @else {
            table {
                thead { tr {
                    th { (T::Number.get(l)) } th { (T::Kind.get(l)) } th { (T::State.get(l)) }
                    th { (T::Lines.get(l)) } th { (T::Assignee.get(l)) } th { (T::Opened.get(l)) } th { (T::Deadline.get(l)) }
                } }
                tbody { @for t in &tickets { tr {
                    td { a href={ "/console/tickets/" (t.number) } { (t.number) } }
                    td { (text::ticket_kind(t.kind).get(l)) }
                    td { (text::ticket_state(t.state).get(l)) }
                    td { (t.line_number.as_deref().unwrap_or("—")) }
                    td { (t.assignee.as_deref().unwrap_or("—")) }
                    td { (when(&st, t.opened_at)) }
                    td {
                        (t.deadline_at.map(|d| when(&st, d)).unwrap_or_else(|| "—".into()))
                        @if t.deadline_estimated { span.estimated { (T::Estimated.get(l)) } }
                        @if t.is_breached(now) { " " span.flag.bad { (T::Breached.get(l)) } }
                    }
                } } }
            }
        }
    };
    respond(
        StatusCode::OK,
        layout(l, T::Tickets.get(l), Some(&me), "/console/tickets", body),
    )
}

pub async fn page(State(st): State<AppState>, me: Me, Path(number): Path<String>) -> Response {
    render(&st, &me, &number, None).await
}

async fn render(
    st: &AppState,
    me: &Me,
    number: &str,
    refusal: Option<(StatusCode, String)>,
) -> Response {
    let l = me.l();
    if !is_valid_number(number) {
        return bad(l, "number");
    }
    let store = &st.store;
    let now = st.clock.now_ms();
    let t = match store.ticket(number).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(l, &format!("{} {number}", T::Ticket.get(l))),
        Err(e) => return internal(l, e),
    };
    let history = match store.ticket_history(t.id).await {
        Ok(h) => h,
        Err(e) => return internal(l, e),
    };
    let agents: Vec<_> = match store.agents().await {
        Ok(a) => a.into_iter().filter(|a| a.active).collect(),
        Err(e) => return internal(l, e),
    };
    let path = format!("/console/tickets/{number}");
    let body = html! {
        h1 { (T::Ticket.get(l)) " " (t.number) }
        @if let Some((_, msg)) = &refusal {
            p.error role="alert" id="refusal" { (msg) " " (T::NothingChanged.get(l)) }
        }
        dl.facts {
            dt { (T::Kind.get(l)) } dd { (text::ticket_kind(t.kind).get(l)) }
            dt { (T::State.get(l)) } dd id="ticket-state" { (text::ticket_state(t.state).get(l)) }
            dt { (T::Lines.get(l)) } dd { (t.line_number.as_deref().unwrap_or("—")) }
            @if matches!(t.kind, TicketKind::Installation | TicketKind::Move) {
                dt { (T::Address.get(l)) } dd id="ticket-address" {
                    @match (&t.address, &t.recording) {
                        (Some(a), _) => (a),
                        (None, Some(_)) => (T::AddressSpoken.get(l)),
                        (None, None) => (T::AddressToTake.get(l)),
                    }
                }
            }
            dt { (T::Description.get(l)) } dd { (t.description) }
            dt { (T::Assignee.get(l)) } dd id="ticket-assignee" { (t.assignee.as_deref().unwrap_or("—")) }
            dt { (T::Opened.get(l)) } dd { (when(st, t.opened_at)) }
            dt { (T::Deadline.get(l)) } dd {
                (t.deadline_at.map(|d| when(st, d)).unwrap_or_else(|| "—".into()))
                        @if t.deadline_estimated { span.estimated { (T::Estimated.get(l)) } }
                @if t.is_breached(now) { " " span.flag.bad { (T::Breached.get(l)) } }
            }
            @if let Some(code) = &t.resolution_code {
                dt { (T::Resolution.get(l)) } dd { (code) ": " (t.resolution_note.as_deref().unwrap_or("")) }
            }
        }
        @if let Some(r) = &t.recording {
            p { (T::Recording.get(l)) " (" (r.duration_secs) " s) "
                audio controls src={ "/console/tickets/" (t.number) "/recording" } preload="none" {} }
            @if let Some(text) = &t.transcript {
                p.transcript { (T::RecordingText.get(l)) ": " (text) }
            }
        }
        section {
            h2 { (T::History.get(l)) }
            table.history {
                thead { tr { th { (T::Time.get(l)) } th { (T::Kind.get(l)) } th { (T::Actor.get(l)) } th { (T::State.get(l)) } th { (T::Detail.get(l)) } } }
                tbody { @for h in &history { tr {
                    td { (when(st, h.at)) }
                    td { (text::ticket_event(&h.kind).map_or(h.kind.as_str(), |k| k.get(l))) }
                    td { (h.actor) }
                    td { @if let Some(to) = h.to_state {
                        (h.from_state.map(|s| text::ticket_state(s).get(l)).unwrap_or("")) " → " (text::ticket_state(to).get(l))
                    } }
                    td { (history_detail(st, l, &h.detail)) }
                } } }
            }
        }
        section.actions {
            form.action method="post" action={ (path) "/assign" } id="form-assign" {
                (csrf_field(me))
                label { (T::Assignee.get(l)) select name="assignee" {
                    @for a in &agents { option value=(a.login) selected[t.assignee.as_deref() == Some(a.login.as_str())] { (a.name) " (" (a.login) ")" } }
                } }
                label { (T::Note.get(l)) input type="text" name="note" maxlength=(MAX_TEXT); }
                button type="submit" { (T::Assign.get(l)) }
            }
            form.action method="post" action={ (path) "/resolve" } id="form-resolve" {
                (csrf_field(me))
                label { (T::ResolutionCode.get(l)) input type="text" name="code" required maxlength="64"; }
                label { (T::Note.get(l)) textarea name="note" maxlength=(MAX_TEXT) {} }
                button type="submit" { (T::Resolve.get(l)) }
            }
        }
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    respond(status, layout(l, &t.number, Some(me), &path, body))
}

pub async fn act(
    State(st): State<AppState>,
    me: Me,
    Path((number, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let l = me.l();
    if !is_valid_number(&number) {
        return bad(l, "number");
    }
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    let action = match name.as_str() {
        "assign" => {
            let assignee = match f.required(l, "assignee", MAX_SHORT) {
                Ok(a) => a,
                Err(r) => return *r,
            };
            let note = match f.optional(l, "note", MAX_TEXT) {
                Ok(n) => n,
                Err(r) => return *r,
            };
            // Tickets are assigned to people who can sign in.
            match st.store.agent_by_login(&assignee).await {
                Ok(Some(a)) if a.active => {}
                Ok(_) => {
                    return fail(
                        l,
                        StatusCode::BAD_REQUEST,
                        T::BadRequest,
                        &format!("{}{assignee:?}", T::NoSuchAgent.get(l)),
                    );
                }
                Err(e) => return internal(l, e),
            }
            Action::Assign { assignee, note }
        }
        "resolve" => {
            let code = match f.required(l, "code", 64) {
                Ok(c) => c,
                Err(r) => return *r,
            };
            let note = match f.optional(l, "note", MAX_TEXT) {
                Ok(n) => n.unwrap_or_default(),
                Err(r) => return *r,
            };
            Action::Resolve { code, note }
        }
        _ => return not_found(l, &name),
    };
    match st
        .steps
        .desk
        .change(&number, &action, &me.agent.login, None)
        .await
    {
        Ok(_) => see(&format!("/console/tickets/{number}")),
        Err(StoreError::NotFound) => not_found(l, &format!("{} {number}", T::Ticket.get(l))),
        Err(StoreError::Transition(e)) => {
            render(
                &st,
                &me,
                &number,
                Some((StatusCode::CONFLICT, refusal::transition(&e, l))),
            )
            .await
        }
        Err(e) => internal(l, e),
    }
}

/// What a history entry carried, in words: each field named in the agent's language, times
/// local, kinds named, nothing empty; never the raw JSON.
fn history_detail(st: &AppState, l: Locale, detail: &serde_json::Value) -> String {
    let Some(fields) = detail.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (key, value) in fields {
        let label = match key.as_str() {
            "assignee" => T::Assignee,
            "note" => T::Note,
            "reason" => T::Reason,
            "text" => T::Text,
            "code" => T::ResolutionCode,
            "kind" => T::Kind,
            "channel" => T::Channel,
            "deadline_at" => T::Deadline,
            "appointment_at" => T::Appointment,
            // Shown with the deadline.
            "deadline_estimated" => continue,
            _ => {
                parts.push(format!("{key}: {value}"));
                continue;
            }
        };
        let words = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) if s.is_empty() => continue,
            serde_json::Value::String(s) if key == "kind" => TicketKind::parse(s)
                .map_or_else(|| s.clone(), |k| text::ticket_kind(k).get(l).to_string()),
            // The words the hotline itself writes, by their constants.
            serde_json::Value::String(s) if key == "note" && s == escalations::OWNER_NOTE => {
                T::NoteCaseOwner.get(l).to_string()
            }
            serde_json::Value::String(s) if key == "code" && s == escalations::REPLIED_CODE => {
                T::CodeReplied.get(l).to_string()
            }
            serde_json::Value::String(s) if key == "channel" => match Channel::parse(s) {
                Some(Channel::Phone) => T::ChannelPhone.get(l).to_string(),
                Some(Channel::Api) => T::ChannelApi.get(l).to_string(),
                Some(Channel::Console) => T::ChannelConsole.get(l).to_string(),
                None => s.clone(),
            },
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) if key.ends_with("_at") => match n.as_i64() {
                Some(ms) => {
                    let estimated = key == "deadline_at"
                        && detail["deadline_estimated"].as_bool() == Some(true);
                    let mark = if estimated { T::Estimated.get(l) } else { "" };
                    format!("{}{mark}", when(st, ms))
                }
                None => n.to_string(),
            },
            other => other.to_string(),
        };
        parts.push(format!("{}: {words}", label.get(l)));
    }
    parts.join("; ")
}

/// Plays a ticket's recording to a signed-in agent. The service fetches it from the carrier
/// with the account's credentials, so the browser holds none and the page's policy allows
/// media from this origin only; who listened is kept in the history of the ticket's case.
pub async fn recording(State(st): State<AppState>, me: Me, Path(number): Path<String>) -> Response {
    let l = me.l();
    if !is_valid_number(&number) {
        return bad(l, "number");
    }
    let t = match st.store.ticket(&number).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(l, &format!("{} {number}", T::Ticket.get(l))),
        Err(e) => return internal(l, e),
    };
    let Some(sid) = t.recording.as_ref().and_then(|r| r.sid.clone()) else {
        return not_found(l, T::Recording.get(l));
    };
    let media = match st.recordings.recording(&sid).await {
        Ok(m) => m,
        Err(RecordingError::NotFound(_)) => return not_found(l, T::Recording.get(l)),
        Err(e) => {
            tracing::warn!(ticket = %t.number, error = %e, "recording could not be fetched");
            return fail(
                l,
                StatusCode::BAD_GATEWAY,
                T::RecordingUnavailable,
                T::TryAgainLater.get(l),
            );
        }
    };
    let now = st.clock.now_ms();
    let filter = EscFilter {
        ticket_id: Some(t.id),
        limit: 1,
        now,
        ..Default::default()
    };
    let listened = async {
        if let Some(case) = st.store.escalations(&filter).await?.first() {
            let login = &me.agent.login;
            (st.store
                .log_escalation_event(case.id, "listened", login, "", now))
            .await?;
        }
        Ok::<(), StoreError>(())
    };
    if let Err(e) = listened.await {
        return internal(l, e);
    }
    tracing::info!(ticket = %t.number, agent = %me.agent.login, "recording played");
    (
        [
            (header::CONTENT_TYPE, media.content_type),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        media.bytes,
    )
        .into_response()
}
