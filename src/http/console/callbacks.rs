//! Campaigns and their callbacks; one callback with its ledger, attempts and answers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::text::T;
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
            thead { tr { th { "#" } th { (T::Name.get(l)) } th { (T::Purpose.get(l)) } th { (T::State.get(l)) } } }
            tbody { @for c in &campaigns { tr {
                td { a href={ "/console/callbacks?campaign=" (c.id) } { (c.id) } }
                td { a href={ "/console/callbacks?campaign=" (c.id) } { (c.name) } }
                td { (c.purpose.as_str()) }
                td { (c.state.as_str()) }
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
                        td { (cb.state.as_str()) }
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
    let cb = match store.callback(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(l, &format!("{} {id}", T::Callback.get(l))),
        Err(e) => return internal(l, e),
    };
    let (ledger, attempts, answers) =
        match tokio::try_join!(store.ledger(id), store.attempts(id), store.answers(id)) {
            Ok(x) => x,
            Err(e) => return internal(l, e),
        };
    let body = html! {
        h1 { (T::Callback.get(l)) " #" (cb.id) }
        dl.facts {
            dt { (T::Campaign.get(l)) } dd { a href={ "/console/callbacks?campaign=" (cb.campaign_id) } { (cb.campaign_id) } }
            dt { (T::To.get(l)) } dd { (cb.to_number) }
            dt { (T::State.get(l)) } dd { (cb.state.as_str()) }
            dt { (T::Due.get(l)) } dd { (when(&st, cb.due_at)) }
            dt { (T::Outcome.get(l)) } dd { (cb.outcome.as_deref().unwrap_or("—")) }
        }
        h2 { (T::Ledger.get(l)) }
        table {
            thead { tr { th { (T::Time.get(l)) } th { (T::Kind.get(l)) } th { (T::Detail.get(l)) } } }
            tbody { @for e in &ledger { tr { td { (when(&st, e.at)) } td { (e.kind) } td { (e.detail) } } } }
        }
        h2 { (T::Attempts.get(l)) }
        table {
            thead { tr { th { "#" } th { (T::State.get(l)) } th { (T::Placed.get(l)) } th { (T::Ended.get(l)) } th { (T::Outcome.get(l)) } } }
            tbody { @for a in &attempts { tr {
                td { (a.attempt_no) }
                td { (a.state.as_str()) }
                td { (a.placed_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.ended_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.outcome.as_deref().unwrap_or("")) }
            } } }
        }
        h2 { (T::SurveyAnswers.get(l)) }
        table {
            thead { tr { th { (T::Time.get(l)) } th { (T::Question.get(l)) } th { (T::Answer.get(l)) } } }
            tbody { @for a in &answers { tr { td { (when(&st, a.at)) } td { (a.question) } td { (a.answer) } } } }
        }
    };
    let path = format!("/console/callbacks/{id}");
    respond(
        StatusCode::OK,
        layout(l, T::Callback.get(l), Some(&me), &path, body),
    )
}
