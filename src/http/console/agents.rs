//! Agents (supervisors only): list, add, deactivate or reactivate, set a new password.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::refusal;
use super::text::{self, T};
use super::{Fields, MAX_SHORT, Me, csrf_field, fail, internal, layout, parse_id, respond, see};
use crate::agents::{self, AgentUpdate, NewAgent, Role};
use crate::customers::pin;
use crate::http::AppState;
use crate::prompts::Locale;
use crate::repo::StoreError;

pub(super) fn supervisors_only(me: &Me) -> Result<(), Box<Response>> {
    if me.agent.is_supervisor() {
        Ok(())
    } else {
        let l = me.l();
        Err(Box::new(fail(
            l,
            StatusCode::FORBIDDEN,
            T::Forbidden,
            T::SupervisorsOnly.get(l),
        )))
    }
}

pub async fn list(State(st): State<AppState>, me: Me) -> Response {
    if let Err(r) = supervisors_only(&me) {
        return *r;
    }
    render(&st, &me, None).await
}

async fn render(st: &AppState, me: &Me, refusal: Option<(StatusCode, String)>) -> Response {
    let l = me.l();
    let now = st.clock.now_ms();
    let all = match st.store.agents().await {
        Ok(a) => a,
        Err(e) => return internal(l, e),
    };
    let yes_no = |b: bool| if b { T::Yes.get(l) } else { T::No.get(l) };
    let body = html! {
        h1 { (T::Agents.get(l)) }
        @if let Some((_, msg)) = &refusal {
            p.error role="alert" id="refusal" { (msg) " " (T::NothingChanged.get(l)) }
        }
        table.agents {
            thead { tr {
                th { (T::Login.get(l)) } th { (T::Name.get(l)) } th { (T::Role.get(l)) } th { (T::Phone.get(l)) }
                th { (T::Language.get(l)) } th { (T::Active.get(l)) } th { (T::Locked.get(l)) } th {} th {}
            } }
            tbody { @for a in &all { tr data-login=(a.login) {
                td { (a.login) }
                td { (a.name) }
                td { (text::role(a.role).get(l)) }
                td { (a.phone.as_deref().unwrap_or("—")) }
                td { (a.locale.tag()) }
                td { (yes_no(a.active)) }
                td { (yes_no(a.locked_until.is_some_and(|u| u > now))) }
                td {
                    form.inline method="post" action={ "/console/agents/" (a.id) "/active" } {
                        (csrf_field(me))
                        input type="hidden" name="active" value=(if a.active { "0" } else { "1" });
                        button type="submit" { (if a.active { T::Deactivate.get(l) } else { T::Reactivate.get(l) }) }
                    }
                }
                td {
                    form.inline method="post" action={ "/console/agents/" (a.id) "/password" } {
                        (csrf_field(me))
                        input type="password" name="password" required minlength="10" maxlength="128" autocomplete="new-password" aria-label=(T::NewPassword.get(l));
                        button type="submit" { (T::SetPassword.get(l)) }
                    }
                }
            } } }
        }
        section.actions {
            h2 { (T::AddAgent.get(l)) }
            form.action method="post" action="/console/agents" id="form-add-agent" {
                (csrf_field(me))
                label { (T::Login.get(l)) input type="text" name="login" required maxlength="32" pattern="[a-z0-9._-]{2,32}"; }
                label { (T::Name.get(l)) input type="text" name="name" required maxlength=(MAX_SHORT); }
                label { (T::Role.get(l)) select name="role" {
                    option value="agent" { (T::RoleAgent.get(l)) }
                    option value="supervisor" { (T::RoleSupervisor.get(l)) }
                } }
                label { (T::Phone.get(l)) input type="tel" name="phone" maxlength="24"; }
                label { (T::Password.get(l)) input type="password" name="password" required minlength="10" maxlength="128" autocomplete="new-password"; }
                label { (T::Language.get(l)) select name="locale" {
                    @for loc in Locale::ALL { option value=(loc.tag()) selected[loc == l] { (loc.tag()) } }
                } }
                button type="submit" { (T::Add.get(l)) }
            }
        }
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    respond(
        status,
        layout(l, T::Agents.get(l), Some(me), "/console/agents", body),
    )
}

fn bad(l: Locale, msg: String) -> Box<Response> {
    Box::new(fail(l, StatusCode::BAD_REQUEST, T::BadRequest, &msg))
}

fn new_agent(l: Locale, f: &Fields) -> Result<(NewAgent, String), Box<Response>> {
    let login = f.required(l, "login", MAX_SHORT)?;
    agents::validate_login(&login).map_err(|e| bad(l, refusal::agent(&e, l)))?;
    let name = f.required(l, "name", 200)?;
    agents::validate_name(&name).map_err(|e| bad(l, refusal::agent(&e, l)))?;
    let role = f.optional(l, "role", MAX_SHORT)?;
    let role = match role.as_deref() {
        None => Role::Agent,
        Some(r) => {
            Role::parse(r).ok_or_else(|| bad(l, refusal::agent(&agents::AgentError::Role, l)))?
        }
    };
    let phone = match f.optional(l, "phone", MAX_SHORT)? {
        None => None,
        Some(p) => Some(agents::normalize_phone(&p).map_err(|e| bad(l, refusal::agent(&e, l)))?),
    };
    let locale = match f.optional(l, "locale", MAX_SHORT)? {
        None => l,
        Some(x) => {
            Locale::parse(&x).ok_or_else(|| bad(l, format!("{}locale", T::UnknownValue.get(l))))?
        }
    };
    let password = f.get("password").unwrap_or("").to_string();
    agents::validate_password(&password).map_err(|e| bad(l, refusal::agent(&e, l)))?;
    let agent = NewAgent {
        login,
        name: name.trim().to_string(),
        role,
        phone,
        locale,
        password_hash: String::new(),
    };
    Ok((agent, password))
}

pub async fn add(State(st): State<AppState>, me: Me, f: Fields) -> Response {
    if let Err(r) = supervisors_only(&me) {
        return *r;
    }
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    let l = me.l();
    let (mut agent, password) = match new_agent(l, &f) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    agent.password_hash = match pin::hash_secret_async(password).await {
        Ok(h) => h,
        Err(e) => return internal(l, e),
    };
    let now = st.clock.now_ms();
    match st.store.create_agent(&agent, now).await {
        Ok(a) => {
            tracing::info!(by = %me.agent.login, agent = %a.login, "console: agent added");
            see("/console/agents")
        }
        Err(StoreError::Conflict(_)) => {
            render(
                &st,
                &me,
                Some((StatusCode::CONFLICT, T::LoginTaken.get(l).into())),
            )
            .await
        }
        Err(e) => internal(l, e),
    }
}

pub async fn act(
    State(st): State<AppState>,
    me: Me,
    Path((id, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    if let Err(r) = supervisors_only(&me) {
        return *r;
    }
    let l = me.l();
    let id = match parse_id(l, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    let store = &st.store;
    match store.agent(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return super::not_found(l, &format!("{} {id}", T::Agents.get(l))),
        Err(e) => return internal(l, e),
    }
    let update = match name.as_str() {
        "active" => {
            let active = match f.get("active") {
                Some("1") => true,
                Some("0") => false,
                _ => return *bad(l, format!("{}active", T::UnknownValue.get(l))),
            };
            if !active && id == me.agent.id {
                // A supervisor who locked themselves out could lock everyone out.
                return render(
                    &st,
                    &me,
                    Some((StatusCode::CONFLICT, T::CannotDeactivateSelf.get(l).into())),
                )
                .await;
            }
            AgentUpdate {
                active: Some(active),
                ..AgentUpdate::default()
            }
        }
        "password" => {
            let password = f.get("password").unwrap_or("").to_string();
            if let Err(e) = agents::validate_password(&password) {
                return *bad(l, refusal::agent(&e, l));
            }
            match pin::hash_secret_async(password).await {
                Ok(h) => AgentUpdate {
                    password_hash: Some(h),
                    ..AgentUpdate::default()
                },
                Err(e) => return internal(l, e),
            }
        }
        _ => return super::not_found(l, &name),
    };
    let now = st.clock.now_ms();
    match store.update_agent(id, &update, now).await {
        Ok(a) => {
            tracing::info!(by = %me.agent.login, agent = %a.login, change = %name, "console: agent changed");
            see("/console/agents")
        }
        Err(StoreError::NotFound) => super::not_found(l, &format!("{} {id}", T::Agents.get(l))),
        Err(e) => internal(l, e),
    }
}
