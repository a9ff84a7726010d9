//! Signing in and out, the session of each request, and the language switch.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::text::T;
use super::{Fields, cookie, fail, internal, layout, refuse_csrf, request_locale};
use crate::agents::auth::{self, Session, SignIn};
use crate::agents::{Agent, AgentUpdate, MAX_FAILED_LOGINS};
use crate::http::AppState;
use crate::prompts::Locale;

pub const SESSION_COOKIE: &str = "hotline_session";
pub const LOGIN_CSRF_COOKIE: &str = "hotline_login_csrf";
const MINUTE: i64 = 60_000;

/// The signed-in agent of a request, with their session.
pub struct Me {
    pub agent: Agent,
    pub session: Session,
    /// Shown on every page while the working-day calendar is about to end.
    pub calendar_gap: Option<crate::calendar::CoverageGap>,
}

impl Me {
    pub fn l(&self) -> Locale {
        self.agent.locale
    }

    /// Refuses a form whose `csrf` is not this session's (403, nothing changed).
    pub fn check_csrf(&self, f: &Fields) -> Result<(), Box<Response>> {
        let sent = f.get("csrf").unwrap_or("");
        if auth::same(sent, &self.session.csrf) {
            Ok(())
        } else {
            tracing::warn!(agent = %self.agent.login, "console: form without the session's CSRF token refused");
            Err(Box::new(refuse_csrf(self.l())))
        }
    }
}

/// The signed-in agent, without renewing the session (the counts poll).
pub struct Peek(pub Me);

/// What became of a request's session.
enum Lookup {
    Found(Me),
    /// No cookie at all.
    None,
    /// A cookie for no live session.
    Ended,
    Failed(Response),
}

async fn lookup(parts: &Parts, st: &AppState, slide: bool) -> Lookup {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Lookup::None;
    };
    let hash = auth::token_hash(token);
    let store = &st.store;
    let now = st.clock.now_ms();
    let (mut session, agent) = match store.session(&hash, now).await {
        Ok(Some(found)) => found,
        Ok(None) => return Lookup::Ended,
        Err(e) => return Lookup::Failed(internal(st.cfg.default_locale, e)),
    };
    let cfg = &st.cfg.console;
    let idle = cfg.idle_minutes * MINUTE;
    let cap = session
        .created_at
        .saturating_add(cfg.max_hours * 60 * MINUTE);
    if now >= cap {
        if let Err(e) = store.end_session(&hash).await {
            return Lookup::Failed(internal(agent.locale, e));
        }
        return Lookup::Ended;
    }
    if slide && session.expires_at - now < idle / 2 {
        let renewed = (now + idle).min(cap);
        if renewed > session.expires_at {
            if let Err(e) = store.touch_session(&hash, renewed, now).await {
                return Lookup::Failed(internal(agent.locale, e));
            }
            session.expires_at = renewed;
        }
    }
    Lookup::Found(Me {
        agent,
        session,
        calendar_gap: st.desk.calendar_gap(),
    })
}

impl FromRequestParts<AppState> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        match lookup(parts, st, true).await {
            Lookup::Found(me) => Ok(me),
            Lookup::None => Err(Redirect::to("/console/login").into_response()),
            Lookup::Ended => Err(Redirect::to("/console/login?expired=1").into_response()),
            Lookup::Failed(r) => Err(r),
        }
    }
}

impl FromRequestParts<AppState> for Peek {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        match lookup(parts, st, false).await {
            Lookup::Found(me) => Ok(Peek(me)),
            Lookup::None | Lookup::Ended => Err((
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "signed out"})),
            )
                .into_response()),
            Lookup::Failed(r) => Err(r),
        }
    }
}

fn secure(st: &AppState) -> &'static str {
    if st.cfg.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(res: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    lang: Option<String>,
    expired: Option<String>,
}

/// What the sign-in page says above the form.
enum Notice {
    None,
    Info(String),
    Error(String),
}

fn login_form(
    st: &AppState,
    l: Locale,
    token: &str,
    login: &str,
    notice: Notice,
    status: StatusCode,
) -> Response {
    let other = if l == Locale::ZhCn {
        Locale::EnUs
    } else {
        Locale::ZhCn
    };
    let page = layout(
        l,
        T::SignIn.get(l),
        None,
        "/console/login",
        html! {
            section.login {
                h1 { (T::SignIn.get(l)) }
                @match &notice {
                    Notice::None => {},
                    Notice::Info(m) => p.notice role="status" { (m) },
                    Notice::Error(m) => p.error role="alert" { (m) },
                }
                form method="post" action="/console/login" id="login-form" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="lang" value=(l.tag());
                    label { (T::Login.get(l)) input type="text" name="login" value=(login) autocomplete="username" required maxlength="32" autofocus; }
                    label { (T::Password.get(l)) input type="password" name="password" autocomplete="current-password" required maxlength="128"; }
                    button type="submit" { (T::SignIn.get(l)) }
                }
                p { a href={ "/console/login?lang=" (other.tag()) } { (if other == Locale::EnUs { "English" } else { "中文" }) } }
            }
        },
    );
    let mut res = (status, page).into_response();
    set_cookie(
        &mut res,
        format!(
            "{LOGIN_CSRF_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/console/login{}",
            secure(st)
        ),
    );
    res
}

pub async fn login_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let l = request_locale(&st, &headers, q.lang.as_deref());
    let notice = if q.expired.is_some() {
        Notice::Info(T::SessionEnded.get(l).into())
    } else {
        Notice::None
    };
    // A fresh token per form; one already set is kept so two open tabs both work.
    let token = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|t| t.len() == 43)
        .map(str::to_string)
        .unwrap_or_else(auth::new_token);
    login_form(&st, l, &token, "", notice, StatusCode::OK)
}

pub async fn login(State(st): State<AppState>, headers: HeaderMap, f: Fields) -> Response {
    let l = request_locale(&st, &headers, f.get("lang"));
    let Some(token) = cookie(&headers, LOGIN_CSRF_COOKIE).filter(|t| !t.is_empty()) else {
        return refuse_csrf(l);
    };
    if !auth::same(f.get("csrf").unwrap_or(""), token) {
        return refuse_csrf(l);
    }
    let login = f.get("login").unwrap_or("").trim().to_ascii_lowercase();
    let password = f.get("password").unwrap_or("");
    let shown_login: String = login.chars().take(32).collect();
    let wrong = |status| {
        login_form(
            &st,
            l,
            token,
            &shown_login,
            Notice::Error(T::WrongLogin.get(l).into()),
            status,
        )
    };
    if login.is_empty() || password.is_empty() || password.chars().count() > 1024 {
        return wrong(StatusCode::UNAUTHORIZED);
    }
    let store = &st.store;
    let agent = if crate::agents::validate_login(&login).is_ok() {
        match store.agent_by_login(&login).await {
            Ok(a) => a,
            Err(e) => return internal(l, e),
        }
    } else {
        None
    };
    let now = st.clock.now_ms();
    let id = agent.as_ref().map_or(0, |a| a.id);
    let checked = auth::sign_in(
        agent.as_ref(),
        password,
        || store.login_guess(id, MAX_FAILED_LOGINS, auth::lock_until(now), now),
        |n| store.login_right(id, n),
    )
    .await;
    match checked {
        Ok(SignIn::Ok) => {}
        Ok(SignIn::Refused(verdict)) => {
            if let Some(a) = &agent {
                tracing::warn!(login = %a.login, verdict = verdict.as_str(), "console: sign-in refused");
            }
            return wrong(StatusCode::UNAUTHORIZED);
        }
        Ok(SignIn::Inactive) => {
            return login_form(
                &st,
                l,
                token,
                &shown_login,
                Notice::Error(T::Inactive.get(l).into()),
                StatusCode::FORBIDDEN,
            );
        }
        Err(e) => return internal(l, e),
    }
    // `sign_in` said Ok, so the agent exists.
    let Some(agent) = agent else {
        return wrong(StatusCode::UNAUTHORIZED);
    };
    let cfg = &st.cfg.console;
    let ttl = (cfg.idle_minutes * MINUTE).min(cfg.max_hours * 60 * MINUTE);
    let (session_token, session) = auth::new_session(agent.id, now, ttl);
    if let Err(e) = store.create_session(&session).await {
        return internal(l, e);
    }
    tracing::info!(agent = %agent.login, "console: signed in");
    let mut res = Redirect::to("/console").into_response();
    set_cookie(
        &mut res,
        format!(
            "{SESSION_COOKIE}={session_token}; HttpOnly; SameSite=Strict; Path=/console{}",
            secure(&st)
        ),
    );
    set_cookie(
        &mut res,
        format!("{LOGIN_CSRF_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console/login; Max-Age=0"),
    );
    res
}

pub async fn logout(State(st): State<AppState>, me: Me, f: Fields) -> Response {
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    if let Err(e) = st.store.end_session(&me.session.token_hash).await {
        return internal(me.l(), e);
    }
    tracing::info!(agent = %me.agent.login, "console: signed out");
    let mut res = Redirect::to(&format!("/console/login?lang={}", me.l().tag())).into_response();
    set_cookie(
        &mut res,
        format!(
            "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0{}",
            secure(&st)
        ),
    );
    res
}

/// Only console paths are returned to, so the field cannot redirect elsewhere.
fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b)
            if (b == "/console" || b.starts_with("/console/"))
                && !b.contains("//")
                && !b.contains('\\') =>
        {
            b
        }
        _ => "/console",
    }
}

pub async fn set_locale(State(st): State<AppState>, me: Me, f: Fields) -> Response {
    if let Err(r) = me.check_csrf(&f) {
        return *r;
    }
    let Some(locale) = f.get("locale").and_then(Locale::parse) else {
        return fail(
            me.l(),
            StatusCode::BAD_REQUEST,
            T::BadRequest,
            &format!("{}locale", T::UnknownValue.get(me.l())),
        );
    };
    let update = AgentUpdate {
        locale: Some(locale),
        ..AgentUpdate::default()
    };
    let now = st.clock.now_ms();
    if let Err(e) = st.store.update_agent(me.agent.id, &update, now).await {
        return internal(me.l(), e);
    }
    Redirect::to(safe_back(f.get("back"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_stays_in_the_console() {
        assert_eq!(safe_back(Some("/console/tickets")), "/console/tickets");
        assert_eq!(safe_back(Some("https://evil.example")), "/console");
        assert_eq!(safe_back(Some("/console//evil.example")), "/console");
        assert_eq!(safe_back(Some("/consolex")), "/console");
        assert_eq!(safe_back(None), "/console");
    }
}
