//! The web layer: the router with its layers, the Twilio webhooks, the JSON API, the agent
//! console, health checks, and the server (`server`) that runs them with the background work.
//!
//! Rules: bodies are limited on every route (`max_body_bytes`); a panic in a webhook becomes
//! an apology in TwiML and a panic in the API a JSON 500, never a dropped connection; health
//! endpoints need no authentication and reveal nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

pub mod api;
pub mod console;
pub mod server;
mod state;
pub mod twilio;

pub use state::{AppState, Shared, StartError};

/// Every route, with body limits and deadlines and panic catching.
pub fn router(state: AppState) -> Router {
    let limit = state.cfg.max_body_bytes;
    let apology = {
        let st = state.clone();
        move |_: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("a webhook handler panicked");
            twilio::apology(&st, st.cfg.default_locale)
        }
    };
    let webhooks = twilio::routes().layer(CatchPanicLayer::custom(apology));
    let api = crate::http::api::routes(state.clone()).layer(CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("an API handler panicked");
            crate::http::api::ApiError::internal().into_response()
        },
    ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(webhooks)
        .merge(api)
        .merge(crate::http::console::routes(state.clone()))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_millis(state.cfg.http.body_timeout_ms),
            crate::http::server::body_deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            close_when_draining,
        ))
        .with_state(state)
}

/// While draining, every answer closes its connection: a client (or a balancer's kept-alive
/// upstream connection) comes back on a new one, which the balancer sends elsewhere, instead
/// of finding its idle connection closed under it when the listener goes.
async fn close_when_draining(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    if st.draining.load(Ordering::Acquire) {
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    res
}

/// Load balancers give up on a health check after a second or so: a store that has not
/// answered by then counts as unreachable.
const READY_DEADLINE: Duration = Duration::from_millis(800);

/// Ready when the store answers; the detail lines name what an operator must see to, without
/// taking the instance out of service (a calendar about to end).
async fn readyz(State(st): State<AppState>) -> Response {
    if st.draining.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let error = match tokio::time::timeout(READY_DEADLINE, st.store.ping()).await {
        Ok(Ok(())) => {
            let body = match st.desk.calendar_gap() {
                Some(gap) => format!("ready\ncalendar: {gap}\n"),
                None => "ready\n".to_string(),
            };
            return (StatusCode::OK, body).into_response();
        }
        Ok(Err(e)) => e,
        Err(_) => crate::repo::StoreError::TimedOut,
    };
    tracing::warn!(error = %error, "store unreachable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "store unreachable\n",
    )
        .into_response()
}

/// How often a calendar about to end is logged again.
const CALENDAR_WARNING_EVERY: Duration = Duration::from_secs(3600);

/// Logs, at start and every hour, while the working-day calendar does not cover the coming
/// days: deadlines past its end are estimates until the official schedule is installed.
async fn watch_calendar(desk: crate::tickets::desk::Desk) {
    let mut tick = tokio::time::interval(CALENDAR_WARNING_EVERY);
    loop {
        tick.tick().await;
        if let Some(gap) = desk.calendar_gap() {
            tracing::warn!(covered_until = ?gap.covered_until, "{gap}");
        }
    }
}

/// Serves until `shutdown` resolves; then drains for `http.shutdown_drain_ms` (`/readyz`
/// fails, everything else is still served), closes the listener and lets requests in flight
/// finish within `http.shutdown_timeout_ms` (see `server`).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Background work lives as long as the server.
    let mut background = tokio::task::JoinSet::new();
    background.spawn(state.desk.clone().run_sweeper());
    background.spawn(state.feed.clone().run());
    background.spawn(state.clone().run_rollups());
    background.spawn(watch_calendar(state.desk.clone()));
    let cfg = &state.cfg;
    if cfg.dials_callbacks() {
        background.spawn(state.callbacks.clone().run());
    } else if !cfg.callbacks.dial {
        tracing::info!("this instance does not dial callbacks (callbacks.dial = false)");
    } else {
        tracing::warn!("callbacks are not dialed: no Twilio account is configured");
    }
    background.spawn(state.webhook_worker().run());
    let limits = crate::http::server::Limits::from(&cfg.http);
    let drain = Duration::from_millis(cfg.http.shutdown_drain_ms);
    let draining = state.clone();
    let shutdown = async move {
        shutdown.await;
        draining.draining.store(true, Ordering::Release);
        if !drain.is_zero() {
            tracing::info!(
                drain_ms = drain.as_millis(),
                "shutting down: /readyz fails while the load balancer takes this instance out"
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("closing the listener; finishing the requests in flight");
    };
    let served =
        crate::http::server::serve(listener, router(state.clone()), limits, shutdown).await;
    background.abort_all();
    served
}
