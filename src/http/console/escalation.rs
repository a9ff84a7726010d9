//! One escalation: the customer, the call as a transcript, the ticket and its recording,
//! survey answers, the history, and the forms to work it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::refusal;
use super::text::{self, T};
use super::{
    Fields, MAX_SHORT, MAX_TEXT, Me, csrf_field, fail, internal, layout, not_found, parse_id,
    respond, see, when,
};
use crate::escalations::service::ActError;
use crate::escalations::{
    EscAction, EscError, Escalation, EscalationEvent, EscalationState, ReplyVia, SystemDetail,
};
use crate::http::AppState;
use crate::prompts::Locale;

/// What the caller did at a step, in words: `digits:1` → "pressed 1".
pub fn caller_input(l: Locale, input: &str) -> String {
    if let Some(d) = input.strip_prefix("digits:") {
        format!("{} {d}", T::Pressed.get(l))
    } else if let Some(s) = input.strip_prefix("speech:") {
        format!("{} “{s}”", T::SaidWords.get(l))
    } else if let Some(secs) = input
        .strip_prefix("recording:")
        .and_then(|r| r.strip_suffix('s'))
    {
        format!("{} {secs} {}", T::RecordedFor.get(l), T::Seconds.get(l))
    } else if input == "timeout" {
        T::NoAnswer.get(l).to_string()
    } else {
        input.to_string()
    }
}

pub async fn page(State(st): State<AppState>, me: Me, Path(id): Path<String>) -> Response {
    let id = match parse_id(me.l(), &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    render(&st, &me, id, None).await
}

/// The page, with a refusal shown above the forms when an action was refused.
async fn render(
    st: &AppState,
    me: &Me,
    id: i64,
    refusal: Option<(StatusCode, String)>,
) -> Response {
    let l = me.l();
    let store = &st.store;
    let now = st.clock.now_ms();
    let e = match store.escalation(id).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found(l, &format!("{} {id}", T::Escalation.get(l))),
        Err(err) => return internal(l, err),
    };
    let account = match e.account_id {
        Some(a) => match store.account(a).await {
            Ok(a) => a,
            Err(err) => return internal(l, err),
        },
        None => None,
    };
    let call = match &e.call_sid {
        Some(sid) => match store.call(sid).await {
            Ok(c) => c,
            Err(err) => return internal(l, err),
        },
        None => None,
    };
    let ticket = match e.ticket_id {
        Some(t) => match store.ticket_by_id(t).await {
            Ok(t) => t,
            Err(err) => return internal(l, err),
        },
        None => None,
    };
    let answers = match e.callback_id {
        Some(c) => match store.answers(c).await {
            Ok(a) => a,
            Err(err) => return internal(l, err),
        },
        None => Vec::new(),
    };
    let history = match store.escalation_history(id).await {
        Ok(h) => h,
        Err(err) => return internal(l, err),
    };
    let agents = if me.agent.is_supervisor() {
        match store.agents().await {
            Ok(a) => a.into_iter().filter(|a| a.active).collect(),
            Err(err) => return internal(l, err),
        }
    } else {
        Vec::new()
    };
    let recording = ticket.as_ref().and_then(|t| t.recording.as_ref());
    let closed = e.state == EscalationState::Closed;
    let path = format!("/console/escalations/{id}");
    let body = html! {
        h1 { (T::Escalation.get(l)) " #" (e.id) }
        @if let Some((_, msg)) = &refusal {
            p.error role="alert" id="refusal" { (msg) " " (T::NothingChanged.get(l)) }
        }
        dl.facts {
            dt { (T::Kind.get(l)) } dd { (text::esc_kind(e.kind).get(l)) }
            dt { (T::State.get(l)) } dd id="esc-state" { (text::esc_state(e.state).get(l)) }
            dt { (T::Priority.get(l)) } dd { span class={ "prio p" (e.priority) } { "P" (e.priority) } }
            dt { (T::Owner.get(l)) } dd id="esc-owner" { (e.owner.as_deref().unwrap_or("—")) }
            dt { (T::Due.get(l)) } dd {
                (when(st, e.due_at))
                @if e.unclaimed(now) { " " span.flag.warn { (T::Unclaimed.get(l)) } }
                @if e.overdue(now) { " " span.flag.bad { (T::Overdue.get(l)) } }
            }
            dt { (T::Summary.get(l)) } dd id="esc-summary" { (text::case_summary(&e, l)) }
            @if let Some(t) = &ticket {
                dt { (T::Ticket.get(l)) } dd { a href={ "/console/tickets/" (t.number) } { (t.number) } }
            }
            @if let Some(b) = e.callback_id {
                dt { (T::Callback.get(l)) } dd { a href={ "/console/callbacks/" (b) } id="esc-callback" { "#" (b) } }
            }
            @if let Some(reply) = &e.reply {
                dt { (T::ReplyText.get(l)) } dd id="esc-reply" {
                    (reply)
                    @if let Some(v) = e.reply_via { " (" (text::via(v).get(l)) ")" }
                }
            }
        }
        section {
            h2 { (T::Customer.get(l)) }
            @if let Some(a) = &account {
                dl.facts {
                    dt { (T::AccountNo.get(l)) } dd { (a.account_no) }
                    dt { (T::Name.get(l)) } dd id="customer-name" { (a.name) }
                    dt { (T::Lines.get(l)) } dd {
                        @for line in &a.lines {
                            span.line { (line.number) " (" (text::line_kind(line.kind).get(l)) ")" } " "
                        }
                    }
                }
            } @else {
                p { (T::Unknown.get(l)) }
            }
            @if let Some(n) = &e.callback_number {
                p { (T::CallbackNumber.get(l)) ": " (n) }
            }
        }
        section {
            h2 { (T::Transcript.get(l)) }
            @if let Some(c) = &call {
                p.meta { (when(st, c.started_at)) " · " (c.from_number) " → " (c.to_number) " · " (text::call_status(&c.status).map_or(c.status.as_str(), |t| t.get(l))) }
                table.transcript {
                    thead { tr { th { (T::Time.get(l)) } th { (T::CallerDid.get(l)) } th { (T::SystemSaid.get(l)) } } }
                    tbody {
                        @for s in &c.steps {
                            tr {
                                td.time { (when_secs(st, s.at)) }
                                td.input { (caller_input(l, &s.input)) }
                                td.said { (s.said) }
                            }
                        }
                    }
                }
            } @else {
                p { (T::NoCall.get(l)) }
            }
            @if let (Some(r), Some(t)) = (recording, &ticket) {
                h3 { (T::Recording.get(l)) " (" (r.duration_secs) " s)" }
                audio controls src={ "/console/tickets/" (t.number) "/recording" } preload="none" {}
            }
        }
        @if let Some(t) = &ticket {
            section {
                h2 { (T::Ticket.get(l)) }
                dl.facts {
                    dt { (T::Number.get(l)) } dd { a href={ "/console/tickets/" (t.number) } { (t.number) } }
                    dt { (T::Kind.get(l)) } dd { (text::ticket_kind(t.kind).get(l)) }
                    dt { (T::State.get(l)) } dd { (text::ticket_state(t.state).get(l)) }
                    dt { (T::Deadline.get(l)) } dd {
                        (t.deadline_at.map(|d| when(st, d)).unwrap_or_else(|| "—".into()))
                        @if t.is_breached(now) { " " span.flag.bad { (T::Breached.get(l)) } }
                    }
                }
            }
        }
        @if !answers.is_empty() {
            section {
                h2 { (T::SurveyAnswers.get(l)) }
                table {
                    thead { tr { th { (T::Time.get(l)) } th { (T::Question.get(l)) } th { (T::Answer.get(l)) } } }
                    tbody { @for a in &answers { tr { td { (when(st, a.at)) } td { (a.question) } td { (a.answer) } } } }
                }
            }
        }
        section {
            h2 { (T::History.get(l)) }
            table.history {
                thead { tr { th { (T::Time.get(l)) } th { (T::Kind.get(l)) } th { (T::Actor.get(l)) } th { (T::Detail.get(l)) } } }
                tbody { @for h in &history { tr { td { (when(st, h.at)) } td { (text::esc_event(&h.kind).map_or(h.kind.as_str(), |k| k.get(l))) } td { (h.actor) }
                    td { (history_detail(&e, h, l)) } } } }
            }
        }
        @if !closed {
            section.actions {
                @if e.owner.is_none() {
                    (form(me, &path, "claim", T::Claim, html! {}))
                }
                (form(me, &path, "note", T::AddNote, html! {
                    label { (T::Note.get(l)) textarea name="text" required maxlength=(MAX_TEXT) {} }
                }))
                (form(me, &path, "reply", T::RecordReply, html! {
                    label { (T::ReplyText.get(l)) textarea name="text" required maxlength=(MAX_TEXT) {} }
                    label { (T::Via.get(l)) select name="via" {
                        @for v in ReplyVia::ALL { option value=(v.as_str()) { (text::via(v).get(l)) } }
                    } }
                }))
                (form(me, &path, "close", T::Close, html! {
                    label { (T::CloseNote.get(l)) input type="text" name="note" maxlength=(MAX_TEXT); }
                }))
                @if e.callback_number.is_some() {
                    (form(me, &path, "call", T::CallCustomer, html! {
                        p.hint { (T::CallHint.get(l)) }
                    }))
                }
                @if me.agent.is_supervisor() {
                    (form(me, &path, "reassign", T::Reassign, html! {
                        label { (T::ReassignTo.get(l)) select name="to" {
                            @for a in &agents { option value=(a.login) { (a.name) " (" (a.login) ")" } }
                        } }
                        label { (T::Reason.get(l)) input type="text" name="reason" required maxlength=(MAX_TEXT); }
                    }))
                }
            }
        }
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    respond(
        status,
        layout(l, &format!("#{}", e.id), Some(me), &path, body),
    )
}

/// A history entry's detail in the agent's language: what the hotline wrote is worded from
/// its facts; what people typed stays as typed.
fn history_detail(e: &Escalation, h: &EscalationEvent, l: Locale) -> String {
    // The case's opening entry repeats its summary.
    if h.kind == "opened" && h.detail == e.summary {
        return text::case_summary(e, l);
    }
    let Some(d) = SystemDetail::parse(&h.kind, &h.detail) else {
        return h.detail.clone();
    };
    if l == Locale::EnUs {
        return h.detail.clone();
    }
    match d {
        SystemDetail::Reassigned { from, to, reason } => format!(
            "由 {} 改派给 {to}：{reason}",
            from.as_deref().unwrap_or(T::Nobody.get(l))
        ),
        SystemDetail::Replied { via, text } => {
            format!("通过{}答复：{text}", text::via(via).get(l))
        }
        SystemDetail::Called { agent, number } => {
            format!("{agent} 用自己的电话呼叫了客户 {number}")
        }
        SystemDetail::TicketResolved { number } => {
            format!("工单 {number} 已解决，待办随之关闭")
        }
        SystemDetail::Joined { kind, summary } => {
            let source = h.source.as_deref().unwrap_or("");
            let what = text::cause_summary(kind, source, e.ticket_number.as_deref(), &summary, l);
            format!("{}：{what}", text::esc_kind(kind).get(l))
        }
    }
}

/// A time to the second, for transcripts.
fn when_secs(st: &AppState, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&st.cfg.timezone)
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn form(me: &Me, path: &str, action: &str, label: T, fields: Markup) -> Markup {
    let l = me.l();
    html! {
        form.action method="post" action={ (path) "/" (action) } id={ "form-" (action) } {
            (csrf_field(me))
            (fields)
            button type="submit" { (label.get(l)) }
        }
    }
}

fn status_of(e: &ActError) -> StatusCode {
    match e {
        ActError::NotFound(_) => StatusCode::NOT_FOUND,
        ActError::NoSuchAgent(_) => StatusCode::BAD_REQUEST,
        ActError::Refused(r) => match r {
            EscError::NotOwner { .. } | EscError::NotSupervisor => StatusCode::FORBIDDEN,
            EscError::Missing(_) | EscError::TooLong(_) => StatusCode::BAD_REQUEST,
            EscError::AlreadyClaimed { .. }
            | EscError::Unclaimed { .. }
            | EscError::Closed { .. }
            | EscError::NoReply { .. }
            | EscError::SameOwner { .. }
            | EscError::TicketActive { .. } => StatusCode::CONFLICT,
        },
        ActError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn action_of(me: &Me, name: &str, f: &Fields) -> Result<EscAction, Box<Response>> {
    let l = me.l();
    Ok(match name {
        "claim" => EscAction::Claim,
        "note" => EscAction::Note {
            text: f.required(l, "text", MAX_TEXT)?,
        },
        "reply" => {
            let text = f.required(l, "text", MAX_TEXT)?;
            let via = f.required(l, "via", MAX_SHORT)?;
            let Some(via) = ReplyVia::parse(&via) else {
                return Err(Box::new(fail(
                    l,
                    StatusCode::BAD_REQUEST,
                    T::BadRequest,
                    &format!("{}via", T::UnknownValue.get(l)),
                )));
            };
            EscAction::Reply { text, via }
        }
        "close" => EscAction::Close {
            note: f.optional(l, "note", MAX_TEXT)?.unwrap_or_default(),
        },
        "reassign" => {
            let to = f.required(l, "to", MAX_SHORT)?;
            let reason = f.required(l, "reason", MAX_TEXT)?;
            EscAction::Reassign { to, reason }
        }
        _ => return Err(Box::new(not_found(l, name))),
    })
}

pub async fn act(
    State(st): State<AppState>,
    me: Me,
    Path((id, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let id = match parse_id(me.l(), &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    if name == "call" {
        return call(&st, &me, id).await;
    }
    let action = match action_of(&me, &name, &f) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match st.escalations.act(id, &me.agent, &action).await {
        Ok(_) => see(&format!("/console/escalations/{id}")),
        Err(ActError::NotFound(_)) => {
            not_found(me.l(), &format!("{} {id}", T::Escalation.get(me.l())))
        }
        Err(ActError::Store(e)) => internal(me.l(), e),
        Err(e) => {
            let why = refusal::act(&e, me.l());
            render(&st, &me, id, Some((status_of(&e), why))).await
        }
    }
}

/// Click-to-call: rings the agent's phone, then the customer's.
async fn call(st: &AppState, me: &Me, id: i64) -> Response {
    use crate::agents::calls::{CallError, call_customer};
    match call_customer(
        &st.escalations,
        st.callbacks.dialer.as_ref(),
        &st.cfg,
        id,
        &me.agent,
    )
    .await
    {
        Ok(_) => see(&format!("/console/escalations/{id}")),
        Err(CallError::Refused(ActError::NotFound(_))) => {
            not_found(me.l(), &format!("{} {id}", T::Escalation.get(me.l())))
        }
        Err(CallError::Refused(ActError::Store(e))) => internal(me.l(), e),
        Err(e) => {
            let status = match &e {
                CallError::Refused(r) => status_of(r),
                CallError::Carrier(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::CONFLICT,
            };
            render(st, me, id, Some((status, refusal::call(&e, me.l())))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_input_in_words() {
        assert_eq!(caller_input(Locale::EnUs, "digits:1"), "pressed 1");
        assert_eq!(caller_input(Locale::ZhCn, "digits:****"), "按了 ****");
        assert_eq!(caller_input(Locale::EnUs, "speech:bill"), "said “bill”");
        assert_eq!(caller_input(Locale::EnUs, "timeout"), "(no answer)");
        assert_eq!(
            caller_input(Locale::EnUs, "recording:30s"),
            "left a recording of 30 s"
        );
        assert_eq!(caller_input(Locale::EnUs, ""), "");
    }
}
