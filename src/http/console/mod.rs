//! The agent console under `/console`: server-rendered pages in Chinese and English.
//!
//! Rules:
//! - Pages are rendered with maud, which escapes every value; nothing from the store or the
//!   request is ever inserted unescaped. CSS and the few lines of JS are served from the
//!   binary; pages work without JS (it only refreshes the queue's counts).
//! - Every page but the sign-in page needs a session (`session::Me`); an unknown or expired
//!   one sends the browser to `/console/login?expired=1`. Sessions slide (renewed when less
//!   than half the idle time is left) but never past `max_hours` after sign-in; the counts
//!   poll does not slide them, so an idle browser left on the queue still signs out.
//! - Every POST is refused (403, nothing changed) unless its `Origin` (or `Sec-Fetch-Site`),
//!   when sent, is this service's public origin, and its `csrf` field is the session's token
//!   (the sign-in form: the double-submit cookie `hotline_login_csrf`).
//! - All changes go through the domain services (`Escalations::act`, `Desk::change`, the
//!   agent store); a refusal is shown on the page with what was wrong, nothing changed.
//!   Tampered ids and oversized fields get 400/404 pages, never a panic.
//! - Responses carry a strict CSP, `nosniff`, `same-origin` referrers and `no-store`.
//!   Passwords, session tokens and CSRF tokens are never logged.

mod agents;
mod callback_why;
mod callbacks;
mod escalation;
mod queue;
mod refusal;
mod report_text;
mod reports;
mod session;
pub mod text;
mod tickets;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use tower_http::catch_panic::CatchPanicLayer;

use crate::http::AppState;
use crate::prompts::Locale;
pub use session::Me;
use text::T;

/// Longest note, reply or reason kept (as the escalation rules).
pub const MAX_TEXT: usize = crate::escalations::MAX_TEXT;
/// Longest name, login, code or other one-line field.
pub const MAX_SHORT: usize = 80;

const CSS: &str = include_str!("static/app.css");
const JS: &str = include_str!("static/app.js");

/// The console's routes, with its security checks and headers.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(queue::page))
        .route("/console/counts", get(queue::counts))
        .route("/console/static/app.css", get(css))
        .route("/console/static/app.js", get(js))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/locale", post(session::set_locale))
        .route("/console/escalations/{id}", get(escalation::page))
        .route("/console/escalations/{id}/{action}", post(escalation::act))
        .route("/console/tickets", get(tickets::list))
        .route("/console/tickets/{number}", get(tickets::page))
        .route(
            "/console/tickets/{number}/recording",
            get(tickets::recording),
        )
        .route("/console/tickets/{number}/{action}", post(tickets::act))
        .route("/console/callbacks", get(callbacks::list))
        .route("/console/callbacks/{id}", get(callbacks::page))
        .route("/console/campaigns", post(callbacks::create))
        .route("/console/campaigns/{id}/{action}", post(callbacks::act))
        .route("/console/agents", get(agents::list).post(agents::add))
        .route("/console/reports", get(reports::page))
        .route("/console/reports.csv", get(reports::csv))
        .route("/console/agents/{id}/{action}", post(agents::act))
        .layer(middleware::from_fn_with_state(state, guard))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send + 'static>| {
                tracing::error!("a console handler panicked");
                fail(
                    Locale::EnUs,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    T::Error,
                    T::Error.get(Locale::EnUs),
                )
            },
        ))
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

/// Refuses cross-origin POSTs before any handler runs, and sets the security headers.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = if req.method() == Method::POST && !same_origin(&st, req.headers()) {
        tracing::warn!(path = %req.uri().path(), "console: cross-origin POST refused");
        let l = request_locale(&st, req.headers(), None);
        refuse_csrf(l)
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Whether the request, as far as the browser tells, comes from our own pages. Clients that
/// send neither header (scripts, tests) still need the CSRF token.
fn same_origin(st: &AppState, headers: &HeaderMap) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ours = origin_of(&st.cfg.public_url);
        let theirs = origin.to_str().ok().map(|o| o.trim().to_ascii_lowercase());
        return ours.is_some() && ours == theirs;
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str()) {
        None => true,
        Some(Ok(site)) => matches!(site, "same-origin" | "none"),
        Some(Err(_)) => false,
    }
}

/// The language for a page without a session: `lang`, else `Accept-Language`, else the
/// configured default.
fn request_locale(st: &AppState, headers: &HeaderMap, lang: Option<&str>) -> Locale {
    if let Some(l) = lang.and_then(Locale::parse) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept
        .split(',')
        .filter_map(|part| Locale::parse(part.split(';').next().unwrap_or("")))
        .next()
        .unwrap_or(st.cfg.default_locale)
}

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A form body as name/value pairs.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A trimmed field, refused when missing, blank or longer than `max` characters.
    pub fn required(&self, l: Locale, name: &str, max: usize) -> Result<String, Box<Response>> {
        match self.optional(l, name, max)? {
            Some(v) => Ok(v),
            None => Err(Box::new(fail(
                l,
                StatusCode::BAD_REQUEST,
                T::BadRequest,
                &format!("{}{name}", T::MissingField.get(l)),
            ))),
        }
    }

    /// A trimmed field, `None` when missing or blank, refused when longer than `max`.
    pub fn optional(
        &self,
        l: Locale,
        name: &str,
        max: usize,
    ) -> Result<Option<String>, Box<Response>> {
        let v = self.get(name).map(str::trim).unwrap_or("");
        if v.chars().count() > max {
            return Err(Box::new(fail(
                l,
                StatusCode::BAD_REQUEST,
                T::BadRequest,
                &format!("{}{name} (≤ {max})", T::TooLong.get(l)),
            )));
        }
        Ok((!v.is_empty()).then(|| v.to_string()))
    }
}

/// A form holding a character the hotline does not take (see `crate::text`) is refused,
/// naming the field, before any handler sees it: the same answer on both backends.
impl FromRequest<AppState> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let l = request_locale(st, req.headers(), None);
        let bytes = Bytes::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let bad = fields
            .iter()
            .find(|(k, v)| crate::text::has_refused(k) || crate::text::has_refused(v));
        if let Some((name, _)) = bad {
            let name = crate::text::clean(name.clone());
            return Err(fail(
                l,
                StatusCode::BAD_REQUEST,
                T::BadRequest,
                &format!("{}{name}", T::ControlCharacter.get(l)),
            ));
        }
        Ok(Fields(fields))
    }
}

/// A page of the console: head, navigation for a signed-in agent, and `body`.
pub fn layout(l: Locale, title: &str, me: Option<&Me>, here: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(l.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (T::AppName.get(l)) }
                link rel="stylesheet" href="/console/static/app.css";
                script src="/console/static/app.js" defer {}
            }
            body {
                header.top {
                    span.brand { (T::AppName.get(l)) }
                    @if let Some(me) = me {
                        nav {
                            a href="/console" { (T::Queue.get(l)) }
                            a href="/console/tickets" { (T::Tickets.get(l)) }
                            a href="/console/callbacks" { (T::Callbacks.get(l)) }
                            @if me.agent.is_supervisor() {
                                a href="/console/reports" { (T::Reports.get(l)) }
                                a href="/console/agents" { (T::Agents.get(l)) }
                            }
                        }
                        span.who { (T::SignedInAs.get(l)) ": " (me.agent.name) " (" (me.agent.login) ")" }
                        form.inline method="post" action="/console/locale" {
                            (csrf_field(me))
                            input type="hidden" name="back" value=(here);
                            @let other = if l == Locale::ZhCn { Locale::EnUs } else { Locale::ZhCn };
                            input type="hidden" name="locale" value=(other.tag());
                            button type="submit" id="switch-language" { (if other == Locale::EnUs { "English" } else { "中文" }) }
                        }
                        form.inline method="post" action="/console/logout" {
                            (csrf_field(me))
                            button type="submit" id="sign-out" { (T::SignOut.get(l)) }
                        }
                    }
                }
                @if let Some(gap) = me.and_then(|m| m.calendar_gap) {
                    p.notice.calendar-gap role="status" {
                        @match gap.covered_until {
                            Some(d) => { (T::CalendarEndsOn.get(l)) " " (d) },
                            None => { (T::CalendarEmpty.get(l)) },
                        }
                        (T::CalendarEstimated.get(l))
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden field every form of a session carries.
pub fn csrf_field(me: &Me) -> Markup {
    html! { input type="hidden" name="csrf" value=(me.session.csrf); }
}

/// An HTML page with a status.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    (status, page).into_response()
}

/// A page saying what was wrong; nothing was changed.
pub fn fail(l: Locale, status: StatusCode, title: T, message: &str) -> Response {
    respond(
        status,
        layout(
            l,
            title.get(l),
            None,
            "/console",
            html! {
                h1 { (title.get(l)) }
                p.error role="alert" { (message) }
                p { (T::NothingChanged.get(l)) }
                p { a href="/console" { (T::Back.get(l)) } }
            },
        ),
    )
}

/// The answer to a forged or stale form.
fn refuse_csrf(l: Locale) -> Response {
    fail(
        l,
        StatusCode::FORBIDDEN,
        T::Forbidden,
        T::CsrfRefused.get(l),
    )
}

/// A store failure: logged, and a generic page.
pub fn internal(l: Locale, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: store failure");
    fail(
        l,
        StatusCode::INTERNAL_SERVER_ERROR,
        T::Error,
        T::Error.get(l),
    )
}

/// After a change: back to the page (POST, redirect, GET).
pub fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A time in the operator's zone.
pub fn when(st: &AppState, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&st.cfg.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A path id, or a 400 page naming it.
pub fn parse_id(l: Locale, raw: &str) -> Result<i64, Box<Response>> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Box::new(fail(
            l,
            StatusCode::BAD_REQUEST,
            T::BadRequest,
            &format!("{}{raw:?}", T::NotANumber.get(l)),
        ))
    })
}

/// A 404 page.
pub fn not_found(l: Locale, what: &str) -> Response {
    fail(l, StatusCode::NOT_FOUND, T::NotFound, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://Hotline.example.com/x?y").as_deref(),
            Some("https://hotline.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("nonsense"), None);
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; hotline_session=tok; b=2"),
        );
        assert_eq!(cookie(&h, "hotline_session"), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn markup_is_escaped() {
        let name = "<b>Zhang</b><script>alert(1)</script>";
        let page = html! { td { (name) } }.into_string();
        assert!(
            !page.contains("<b>") && !page.contains("<script>"),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;Zhang"));
    }
}
