//! The escalation queue: filters, live counts, one row per escalation.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::session::Peek;
use super::text::{self, T};
use super::{Me, fail, internal, layout, respond, when};
use crate::escalations::{EscFilter, EscalationKind, EscalationState};
use crate::http::AppState;
use crate::prompts::Locale;

/// Rows shown at most.
const LIMIT: i64 = 200;

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    state: Option<String>,
    kind: Option<String>,
    owner: Option<String>,
    overdue: Option<String>,
}

fn bad_value(l: Locale, field: &str) -> Response {
    fail(
        l,
        StatusCode::BAD_REQUEST,
        T::BadRequest,
        &format!("{}{field}", T::UnknownValue.get(l)),
    )
}

pub async fn page(State(st): State<AppState>, me: Me, Query(q): Query<QueueQuery>) -> Response {
    let l = me.l();
    let now = st.clock.now_ms();
    let empty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let state = match empty(&q.state) {
        None => None,
        Some(s) => match EscalationState::parse(&s) {
            Some(v) => Some(v),
            None => return bad_value(l, "state"),
        },
    };
    let kind = match empty(&q.kind) {
        None => None,
        Some(s) => match EscalationKind::parse(&s) {
            Some(v) => Some(v),
            None => return bad_value(l, "kind"),
        },
    };
    let owner_choice = empty(&q.owner).unwrap_or_else(|| "anyone".into());
    let owner = match owner_choice.as_str() {
        "anyone" => None,
        "mine" => Some(me.agent.login.clone()),
        "unowned" => Some(String::new()),
        _ => return bad_value(l, "owner"),
    };
    let overdue = q.overdue.as_deref().is_some_and(|v| v == "1" || v == "on");
    let filter = EscFilter {
        state,
        kind,
        owner,
        overdue,
        now,
        limit: LIMIT,
        ..EscFilter::default()
    };
    let store = &st.store;
    let rows = match store.escalations(&filter).await {
        Ok(r) => r,
        Err(e) => return internal(l, e),
    };
    let counts = match store.escalation_counts(now, &me.agent.login).await {
        Ok(c) => c,
        Err(e) => return internal(l, e),
    };
    // Each account is read once, however many of its escalations are listed.
    let mut names: HashMap<i64, String> = HashMap::new();
    for id in rows.iter().filter_map(|e| e.account_id) {
        if names.contains_key(&id) {
            continue;
        }
        match store.account(id).await {
            Ok(Some(a)) => {
                names.insert(id, format!("{} ({})", a.name, a.account_no));
            }
            Ok(None) => {}
            Err(e) => return internal(l, e),
        }
    }
    let body = html! {
        h1 { (T::Queue.get(l)) }
        section.counts id="counts" aria-label=(T::LiveCounts.get(l)) {
            span.count { (T::Open.get(l)) ": " b id="count-open" { (counts.open) } }
            span.count.warn { (T::Unclaimed.get(l)) ": " b id="count-unclaimed" { (counts.unclaimed) } }
            span.count.bad { (T::Overdue.get(l)) ": " b id="count-overdue" { (counts.overdue) } }
            span.count { (T::Mine.get(l)) ": " b id="count-mine" { (counts.mine) } }
        }
        form.filters method="get" action="/console" {
            label { (T::State.get(l)) select name="state" {
                option value="" { (T::Any.get(l)) }
                @for s in EscalationState::ALL {
                    option value=(s.as_str()) selected[state == Some(s)] { (text::esc_state(s).get(l)) }
                }
            } }
            label { (T::Kind.get(l)) select name="kind" {
                option value="" { (T::Any.get(l)) }
                @for k in EscalationKind::ALL {
                    option value=(k.as_str()) selected[kind == Some(k)] { (text::esc_kind(k).get(l)) }
                }
            } }
            label { (T::Owner.get(l)) select name="owner" {
                @for (v, t) in [("anyone", T::Anyone), ("mine", T::Mine), ("unowned", T::Unowned)] {
                    option value=(v) selected[owner_choice == v] { (t.get(l)) }
                }
            } }
            label.check { input type="checkbox" name="overdue" value="1" checked[overdue]; (T::OverdueOnly.get(l)) }
            button type="submit" { (T::Filter.get(l)) }
        }
        @if rows.is_empty() {
            p.empty { (T::NoEscalations.get(l)) }
        } @else {
            table.queue {
                thead { tr {
                    th { "#" } th { (T::Priority.get(l)) } th { (T::Kind.get(l)) } th { (T::State.get(l)) }
                    th { (T::Customer.get(l)) } th { (T::Summary.get(l)) } th { (T::Owner.get(l)) }
                    th { (T::Due.get(l)) } th { (T::Flags.get(l)) }
                } }
                tbody {
                    @for e in &rows {
                        tr.escalation data-id=(e.id) {
                            td { a href={ "/console/escalations/" (e.id) } { (e.id) } }
                            td { span class={ "prio p" (e.priority) } { "P" (e.priority) } }
                            td { (text::esc_kind(e.kind).get(l)) }
                            td { (text::esc_state(e.state).get(l)) }
                            td.customer {
                                @if let Some(name) = e.account_id.and_then(|id| names.get(&id)) {
                                    (name)
                                } @else if let Some(n) = &e.callback_number {
                                    (n)
                                } @else {
                                    (T::Unknown.get(l))
                                }
                            }
                            td { a href={ "/console/escalations/" (e.id) } { (text::case_summary(e, l)) } }
                            td { (e.owner.as_deref().unwrap_or("—")) }
                            td { (when(&st, e.due_at)) }
                            td {
                                @if e.unclaimed(now) { span.flag.warn { (T::Unclaimed.get(l)) } }
                                @if e.overdue(now) { span.flag.bad { (T::Overdue.get(l)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    respond(
        StatusCode::OK,
        layout(l, T::Queue.get(l), Some(&me), "/console", body),
    )
}

/// The queue's counts as JSON, for the page's poll; does not renew the session.
pub async fn counts(State(st): State<AppState>, Peek(me): Peek) -> Response {
    let now = st.clock.now_ms();
    match st.store.escalation_counts(now, &me.agent.login).await {
        Ok(c) => Json(c).into_response(),
        Err(e) => internal(me.l(), e),
    }
}
