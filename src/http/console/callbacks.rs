//! Campaigns and their callbacks; one callback with its ledger, attempts and answers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::agents::supervisors_only;
use super::callback_why;
use super::refusal;
use super::text::{self, T};
use super::{Fields, Me, csrf_field, fail, internal, layout, not_found, parse_id, respond, when};
use crate::callbacks::lists::{self, ListReport};
use crate::callbacks::{Campaign, CampaignAction};
use crate::http::AppState;
use crate::surveys::script::Purpose;

const LIMIT: i64 = 200;

#[derive(Deserialize, Default)]
pub struct CallbacksQuery {
    campaign: Option<String>,
}

pub async fn list(State(st): State<AppState>, me: Me, Query(q): Query<CallbacksQuery>) -> Response {
    list_page(&st, &me, q.campaign.as_deref(), None).await
}

/// The campaigns and the selected one's callbacks; for supervisors, the forms that manage
/// them, and the outcome of the list just queued.
async fn list_page(
    st: &AppState,
    me: &Me,
    campaign: Option<&str>,
    queued: Option<&ListReport>,
) -> Response {
    let l = me.l();
    let store = &st.store;
    let campaigns = match store.campaigns().await {
        Ok(c) => c,
        Err(e) => return internal(l, e),
    };
    let selected = match campaign.filter(|c| !c.is_empty()) {
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
                td { (purpose_label(c.purpose).get(l)) }
                td { (text::campaign_state(c.state).get(l)) }
            } } }
        }
        @if me.agent.is_supervisor() {
            (new_campaign_form(me))
        }
        @if let Some(c) = selected {
            h2 { (T::Callbacks.get(l)) ": " (c.name) }
            @if me.agent.is_supervisor() {
                (manage_forms(me, c))
            }
            @if let Some(r) = queued {
                section id="queued" {
                    p { (T::ListQueued.get(l)) ": " (r.queued) " · " (T::ListAlreadyOwed.get(l)) ": " (r.already_owed) }
                    @if !r.rejected.is_empty() {
                        h3 { (T::ListRejected.get(l)) }
                        table id="rejected" {
                            thead { tr { th { (T::Row.get(l)) } th { (T::Detail.get(l)) } } }
                            tbody { @for x in &r.rejected { tr { td { (x.index) } td { (x.field) ": " (x.error) } } } }
                        }
                    }
                }
            }
            @if callbacks.is_empty() {
                p.empty { (T::NoCallbacks.get(l)) }
            } @else {
                table {
                    thead { tr { th { "#" } th { (T::To.get(l)) } th { (T::State.get(l)) } th { (T::Due.get(l)) } th { (T::Attempts.get(l)) } th { (T::Outcome.get(l)) } } }
                    tbody { @for cb in &callbacks { tr {
                        td { a href={ "/console/callbacks/" (cb.id) } { (cb.id) } }
                        td { (cb.to_number) }
                        td { (text::callback_state(cb.state).get(l)) }
                        td { (when(st, cb.due_at)) }
                        td { (cb.attempts) }
                        td { (cb.outcome.as_deref().map_or("", |o| callback_why::outcome(o, l))) }
                    } } }
                }
            }
        }
    };
    respond(
        StatusCode::OK,
        layout(l, T::Callbacks.get(l), Some(me), "/console/callbacks", body),
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
            dt { (T::Outcome.get(l)) } dd { (cb.outcome.as_deref().map_or("—", |o| callback_why::outcome(o, l))) }
            @if let Some(t) = &ticket {
                dt { (T::Ticket.get(l)) } dd { a href={ "/console/tickets/" (t.number) } id="cb-ticket" { (t.number) } }
            }
            @for e in &cases {
                dt { (T::Case.get(l)) } dd { a href={ "/console/escalations/" (e.id) } class="cb-case" { "#" (e.id) " " (text::esc_kind(e.kind).get(l)) } }
            }
        }
        h2 { (T::Why.get(l)) }
        p id="cb-why" { (callback_why::paragraph(&x.why, l)) }
        h2 { (T::Ledger.get(l)) }
        table {
            thead { tr { th { (T::Time.get(l)) } th { (T::Kind.get(l)) } th { (T::Detail.get(l)) } } }
            tbody { @for e in ledger { tr { td { (when(&st, e.at)) } td { (callback_why::ledger_kind(&e.kind, l)) } td { (e.detail) } } } }
        }
        h2 { (T::Attempts.get(l)) }
        table {
            thead { tr { th { "#" } th { (T::State.get(l)) } th { (T::Placed.get(l)) } th { (T::Ended.get(l)) } th { (T::Outcome.get(l)) } } }
            tbody { @for a in attempts { tr {
                td { (a.attempt_no) }
                td { (text::attempt_state(a.state).get(l)) }
                td { (a.placed_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.ended_at.map(|t| when(&st, t)).unwrap_or_default()) }
                td { (a.outcome.as_deref().map_or("", |o| callback_why::attempt_outcome(o, l))) }
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

fn purpose_label(p: Purpose) -> T {
    match p {
        Purpose::Satisfaction => T::PurposeSatisfaction,
        Purpose::SampleSurvey => T::PurposeSampleSurvey,
        Purpose::Appointment => T::PurposeAppointment,
    }
}

fn action_label(a: CampaignAction) -> T {
    match a {
        CampaignAction::Start => T::ActStart,
        CampaignAction::Pause => T::ActPause,
        CampaignAction::Resume => T::ActResume,
        CampaignAction::Stop => T::ActStop,
    }
}

/// A new campaign: its name, purpose, number and pace; everything else (script, calling
/// window, retries) takes the defaults the API documents.
fn new_campaign_form(me: &Me) -> Markup {
    let l = me.l();
    html! {
        details id="new-campaign" {
            summary { (T::NewCampaign.get(l)) }
            form.action method="post" action="/console/campaigns" {
                (csrf_field(me))
                label { (T::CampaignName.get(l)) input type="text" name="name" required maxlength="120"; }
                label { (T::Purpose.get(l)) select name="purpose" {
                    @for p in [Purpose::Satisfaction, Purpose::SampleSurvey, Purpose::Appointment] {
                        option value=(p.as_str()) { (purpose_label(p).get(l)) }
                    }
                } }
                label { (T::FromNumber.get(l)) input type="tel" name="from_number" required; }
                label { (T::CallsPerSec.get(l)) input type="number" name="calls_per_sec" value="1" min="0.01" max="1000" step="any" required; }
                button type="submit" { (T::Create.get(l)) }
            }
        }
    }
}

/// The actions the campaign can take now, and the list form while it takes callbacks.
fn manage_forms(me: &Me, c: &Campaign) -> Markup {
    let l = me.l();
    html! {
        div.actions id="campaign-actions" {
            @for a in CampaignAction::ALL {
                @if a.refusal(c).is_none() {
                    form.inline method="post" action={ "/console/campaigns/" (c.id) "/" (a.as_str()) } {
                        (csrf_field(me))
                        button type="submit" id={ "campaign-" (a.as_str()) } { (action_label(a).get(l)) }
                    }
                }
            }
        }
        @if lists::refuses_callbacks(c).is_none() {
            form.action method="post" action={ "/console/campaigns/" (c.id) "/list" } id="queue-list" {
                (csrf_field(me))
                label { (T::QueueList.get(l)) textarea name="csv" rows="6" required {} }
                button type="submit" { (T::Create.get(l)) }
            }
        }
    }
}

/// A campaign, or a page saying there is none.
async fn campaign_of(
    st: &AppState,
    l: crate::prompts::Locale,
    id: &str,
) -> Result<Campaign, Response> {
    let id = parse_id(l, id).map_err(|r| *r)?;
    match st.store.campaign(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(not_found(l, &format!("{} {id}", T::Campaign.get(l)))),
        Err(e) => Err(internal(l, e)),
    }
}

/// Creates a campaign from the console's form (supervisors), by the API's rules.
pub async fn create(State(st): State<AppState>, me: Me, f: Fields) -> Response {
    let l = me.l();
    if let Err(r) = supervisors_only(&me).and_then(|()| me.check_csrf(&f)) {
        return *r;
    }
    let now = st.clock.now_ms();
    let new = crate::http::api::callbacks::campaign_from_form(
        f.get("name"),
        f.get("purpose"),
        f.get("from_number"),
        f.get("calls_per_sec"),
        now,
    );
    let new = match new {
        Ok(n) => n,
        Err(e) => {
            let why = refusal::field(&e.field, &e.message, l);
            return fail(l, StatusCode::BAD_REQUEST, T::BadRequest, &why);
        }
    };
    match st.store.create_campaign(&new, now).await {
        Ok(c) => {
            tracing::info!(campaign = c.id, by = %me.agent.login, "campaign created in the console");
            Redirect::to(&format!("/console/callbacks?campaign={}", c.id)).into_response()
        }
        Err(e) => internal(l, e),
    }
}

/// Starts, pauses, resumes or stops a campaign (supervisors), by the API's rules.
pub async fn act(
    State(st): State<AppState>,
    me: Me,
    Path((id, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let l = me.l();
    if let Err(r) = supervisors_only(&me).and_then(|()| me.check_csrf(&f)) {
        return *r;
    }
    let c = match campaign_of(&st, l, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if name == "list" {
        return queue_list(&st, &me, &c, &f).await;
    }
    let Some(action) = CampaignAction::parse(&name) else {
        return not_found(l, &name);
    };
    match lists::act(st.store.as_ref(), &c, action, st.clock.now_ms()).await {
        Ok(_) => Redirect::to(&format!("/console/callbacks?campaign={}", c.id)).into_response(),
        Err(lists::ActionError::Refused(why)) => fail(
            l,
            StatusCode::CONFLICT,
            T::Refused,
            &refusal::campaign(why, l),
        ),
        Err(lists::ActionError::Store(e)) => internal(l, e),
    }
}

/// Queues the CSV pasted into the list form; the page shows what was queued and each row
/// that was not, with its line and why.
async fn queue_list(st: &AppState, me: &Me, c: &Campaign, f: &Fields) -> Response {
    let l = me.l();
    let csv = match f.required(l, "csv", MAX_CSV_BYTES) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Some(why) = lists::refuses_callbacks(c) {
        return fail(
            l,
            StatusCode::CONFLICT,
            T::Refused,
            &refusal::campaign(why, l),
        );
    }
    let defaults = crate::http::api::callbacks::defaults(st);
    let now = st.clock.now_ms();
    let imported = lists::import_csv(
        st.store.as_ref(),
        c,
        csv.as_bytes(),
        &defaults,
        "the console",
        now,
        |_| {},
    );
    match imported.await {
        Ok(report) => {
            tracing::info!(
                campaign = c.id,
                queued = report.queued,
                rejected = report.rejected.len(),
                by = %me.agent.login,
                "list queued in the console"
            );
            let id = c.id.to_string();
            list_page(st, me, Some(&id), Some(&report)).await
        }
        Err(lists::ImportError::Store(e)) => internal(l, e),
        Err(e) => fail(
            l,
            StatusCode::BAD_REQUEST,
            T::BadRequest,
            &refusal::import(&e, l),
        ),
    }
}

/// Longest list pasted in one form (about 10,000 rows).
const MAX_CSV_BYTES: usize = 512 * 1024;
