//! Campaigns and their callbacks; one callback with its ledger, attempts and answers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::text::{self, T};
use super::{Me, internal, layout, not_found, parse_id, respond, when};
use crate::http::AppState;

const LIMIT: i64 = 200;

#[derive(Deserialize, Default)]
pub struct CallbacksQuery {
    campaign: Option<String>,
}

pub async fn list(State(st): State<AppState>, me: Me, Query(q): Query<CallbacksQuery>) -> Response {
    let l = me.l();
    let store = &st.store;
    let campaigns = match store.campaigns().await {
        Ok(c) => c,
        Err(e) => return internal(l, e),
    };
    let selected = match q.campaign.as_deref().filter(|c| !c.is_empty()) {
        Some(raw) => match parse_id(l, raw) {
            Ok(id) => match campaigns.iter().find(|c| c.id == id) {
                Some(c) => Some(c),
                None => return not_found(l, &format!("{} {id}", T::Campaign.get(l))),
            },
            Err(r) => return *r,
        },
        None => campaigns.first(),
    };
    let callbacks = match selected {
        Some(c) => match store.list_callbacks(c.id, None, 0, LIMIT).await {
            Ok(cb) => cb,
            Err(e) => return internal(l, e),
        },
        None => Vec::new(),
    };
    let body = html! {
        h1 { (T::Campaigns.get(l)) }
        table {
            thead { tr { th { "#" } th { (T::CampaignName.get(l)) } th { (T::Purpose.get(l)) } th { (T::State.get(l)) } } }
            tbody { @for c in &campaigns { tr {
                td { a href={ "/console/callbacks?campaign=" (c.id) } { (c.id) } }
                td { a href={ "/console/callbacks?campaign=" (c.id) } { (c.name) } }
                td { (c.purpose.as_str()) }
                td { (text::campaign_state(c.state).get(l)) }
            } } }
        }
        @if let Some(c) = selected {
            h2 { (T::Callbacks.get(l)) ": " (c.name) }
            @if callbacks.is_empty() {
                p.empty { (T::NoCallbacks.get(l)) }
            } @else {
                table {
                    thead { tr { th { "#" } th { (T::To.get(l)) } th { (T::State.get(l)) } th { (T::Due.get(l)) } th { (T::Attempts.get(l)) } th { (T::Outcome.get(l)) } } }
                    tbody { @for cb in &callbacks { tr {
                        td { a href={ "/console/callbacks/" (cb.id) } { (cb.id) } }
                        td { (cb.to_number) }
                        td { (text::callback_state(cb.state).get(l)) }
                        td { (when(&st, cb.due_at)) }
                        td { (cb.attempts) }
                        td { (cb.outcome.as_deref().unwrap_or("")) }
                    } } }
                }
            }
        }
    };
    respond(
        StatusCode::OK,
        layout(
            l,
            T::Callbacks.get(l),
            Some(&me),
            "/console/callbacks",
            body,
        ),
    )
}

pub async fn page(State(st): State<AppState>, me: Me, Path(id): Path<String>) -> Response {
    let l = me.l();
    let id = match parse_id(l, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let store = &st.store;
    let explained = crate::callbacks::report::explain(
        store.as_ref(),
        id,
        st.cfg.timezone,
        &st.desk.calendar,
        st.clock.now_ms(),
        st.cfg.dials_callbacks(),
    );
    let x = match explained.await {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(l, &format!("{} {id}", T::Callback.get(l))),
        Err(e) => return internal(l, e),
    };
    let cb = &x.callback;
    // The customer matter it belongs to: its ticket, and the case that follows it up.
    let ticket = match cb.ticket_id {
        Some(t) => match store.ticket_by_id(t).await {
            Ok(t) => t,
            Err(e) => return internal(l, e),
        },
        None => None,
    };
    let cases = match store
        .escalations(&crate::escalations::EscFilter {
            callback_id: Some(id),
            limit: 10,
            now: st.clock.now_ms(),
            ..Default::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return internal(l, e),
    };
    let (ledger, attempts, answers) = (&x.ledger, &x.attempts, &x.answers);
    let body = html! {
        h1 { (T::Callback.get(l)) " #" (cb.id) }
        dl.facts {
            dt { (T::Campaign.get(l)) } dd { a href={ "/console/callbacks?campaign=" (cb.campaign_id) } {
                (x.campaign.as_ref().map_or_else(|| cb.campaign_id.to_string(), |c| c.name.clone()))
            } }
            dt { (T::To.get(l)) } dd { (cb.to_number) }
            dt { (T::State.get(l)) } dd id="cb-state" { (text::callback_state(cb.state).get(l)) }
            dt { (T::Due.get(l)) } dd { (when(&st, cb.due_at)) }
            dt { (T::Outcome.get(l)) } dd { (cb.outcome.as_deref().unwrap_or("—")) }
            @if let Some(t) = &ticket {
                dt { (T::Ticket.get(l)) } dd { a href={ "/console/tickets/" (t.number) } id="cb-ticket" { (t.number) } }
            }
            @for e in &cases {
                dt { (T::Case.get(l)) } dd { a href={ "/console/escalations/" (e.id) } class="cb-case" { "#" (e.id) " " (text::esc_kind(e.kind).get(l)) } }
            }
        }
        h2 { (T::Why.get(l)) }
        p id="cb-why" { (x.why) }
        h2 { (T::Ledger.get(l)) }
        table {
            thead { tr { th { (T::Time.get(l)) } th { (T::Kind.get(l)) } th { (T::Detail.get(l)) } } }
            tbody { @for e in ledger { tr { td { (when(&st, e.at)) } td { (e.kind) } td { (e.detail) } } } }
        }
        h2 { (T::Attempts.get(l)) }
        table {
            thead { tr { th { "#" } th { (T::State.get(l)) } th { (T::Placed.get(l)) } th { (T::Ended.get(l)) } th { (T::Outcome.get(l)) } } }
            tbody { @for a in attempts { tr {
                td { (a.attempt_no) }
                td { (text::attempt_state(a.state).get(l)) }
                td { (a.placed_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.ended_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.outcome.as_deref().unwrap_or("")) }
            } } }
        }
        h2 { (T::SurveyAnswers.get(l)) }
        table {
            thead { tr { th { (T::Time.get(l)) } th { (T::Question.get(l)) } th { (T::Answer.get(l)) } } }
            tbody { @for a in answers { tr { td { (when(&st, a.at)) } td { (a.question) } td { (a.answer) } } } }
        }
    };
    let path = format!("/console/callbacks/{id}");
    respond(
        StatusCode::OK,
        layout(l, T::Callback.get(l), Some(&me), &path, body),
    )
}
