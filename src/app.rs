//! The application: shared state, the router with its layers, and the server.
//!
//! Rules: bodies are limited on every route (`max_body_bytes`); a panic in a webhook becomes
//! an apology in TwiML and a panic in the API a JSON 500, never a dropped connection; health
//! endpoints need no authentication and reveal nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::billing::source::{BillingSource, HttpBilling, StoreBilling};
use crate::callbacks::dialer::{CallbackDialer, DialerConfig};
use crate::callbacks::feed::TicketFeed;
use crate::calls::service::StepService;
use crate::calls::writer::StepWriter;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::escalations::service::Escalations;
use crate::prompts::Catalog;
use crate::repo::Store;
use crate::store;
use crate::telephony::twilio;
use crate::telephony::twilio::rest::TwilioDialer;
use crate::tickets::desk::Desk;

/// State shared by every handler; cloned for every request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub steps: StepService,
    /// Places callbacks and settles their attempts.
    pub callbacks: CallbackDialer,
    /// Queues satisfaction callbacks from resolved tickets.
    pub feed: TicketFeed,
    /// Works escalations (claim, reply, close…) for the console and the API.
    pub escalations: Escalations,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("prompts: {0}")]
    Catalog(#[from] crate::prompts::CatalogError),
    #[error("surveys: {0}")]
    Scripts(#[from] crate::surveys::builtin::BuiltinError),
    #[error("store: {0}")]
    Store(#[from] crate::repo::StoreError),
    #[error("billing: {0}")]
    Billing(#[from] crate::billing::source::BillingError),
    #[error("{0}")]
    Config(String),
}

impl AppState {
    /// Loads the catalogs and survey scripts, opens and migrates the store, and starts the
    /// step writer.
    pub async fn build(cfg: Config) -> Result<Self, StartError> {
        // Before the store: the standing campaign may be created from a built-in script.
        crate::surveys::builtin::check()?;
        let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options()).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        crate::callbacks::feed::ensure_standing(store.as_ref(), &cfg.callbacks, clock.now_ms())
            .await?;
        Self::with_store(cfg, store, clock)
    }

    /// Builds the state around an open store (tests inject their own clock).
    pub fn with_store(
        cfg: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let catalog = match &cfg.prompts_dir {
            Some(dir) => Catalog::load_dir(dir)?,
            None => Catalog::embedded()?,
        };
        crate::surveys::builtin::check()?;
        let billing: Arc<dyn BillingSource> = match &cfg.billing.url {
            Some(url) => Arc::new(HttpBilling::new(
                url,
                Duration::from_millis(cfg.billing.timeout_ms),
            )?),
            None => Arc::new(StoreBilling(store.clone())),
        };
        let calendar = cfg
            .calendar()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let desk = Desk::new(
            store.clone(),
            cfg.sla.clone(),
            cfg.timezone,
            calendar,
            clock.clone(),
        );
        let writer = StepWriter::spawn(store.clone());
        let callbacks = CallbackDialer {
            store: store.clone(),
            dialer: Arc::new(TwilioDialer::from_config(
                &cfg.twilio,
                &cfg.public_url,
                CARRIER_TIMEOUT,
            )),
            clock: clock.clone(),
            calendar: desk.calendar.clone(),
            cfg: DialerConfig {
                ring_secs: cfg.callbacks.ring_secs,
                default_tz: cfg.timezone,
                ..DialerConfig::default()
            },
        };
        let feed = TicketFeed {
            store: store.clone(),
            clock: clock.clone(),
            tz: cfg.timezone,
            default_locale: cfg.default_locale,
        };
        Ok(AppState(Arc::new(Shared {
            escalations: Escalations {
                store: store.clone(),
                clock: clock.clone(),
            },
            callbacks,
            feed,
            steps: StepService {
                store,
                writer,
                billing,
                catalog: Arc::new(catalog),
                cfg: Arc::new(cfg),
                clock,
                desk,
            },
        })))
    }
}

impl AppState {
    /// The report a user asked for, computed now in the operator's zone and calendar.
    pub async fn report(
        &self,
        kind: &str,
        params: &crate::reports::params::ReportParams,
    ) -> Result<crate::reports::Report, crate::reports::ReportError> {
        let s = &self.steps;
        crate::reports::requested(
            kind,
            params,
            s.store.as_ref(),
            s.clock.now_ms(),
            s.cfg.timezone,
            &s.desk.calendar,
        )
        .await
    }

    /// Rolls up the settled days of the report figures now and then every hour (see
    /// `reports::rollup`); a failure is logged and tried again at the next turn.
    pub async fn run_rollups(self) {
        let mut every = tokio::time::interval(ROLLUP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let s = &self.steps;
            let src = crate::reports::rollup::Source {
                store: s.store.as_ref(),
                tz: s.cfg.timezone,
                calendar: &s.desk.calendar,
                now: s.clock.now_ms(),
            };
            let started = std::time::Instant::now();
            match crate::reports::rollup::roll_up(&src, false).await {
                Ok(rolled) if rolled.iter().any(|(_, n)| *n > 0) => tracing::info!(
                    ?rolled,
                    secs = started.elapsed().as_secs_f64(),
                    "report days rolled up"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "rolling up report days failed"),
            }
        }
    }
}

/// How often settled report days are looked for.
const ROLLUP_EVERY: Duration = Duration::from_secs(3600);

/// How long a request to the carrier's REST API may take before its answer counts as lost.
const CARRIER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every route, with body limits and deadlines and panic catching.
pub fn router(state: AppState) -> Router {
    let limit = state.steps.cfg.max_body_bytes;
    let apology = {
        let st = state.clone();
        move |_: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("a webhook handler panicked");
            twilio::webhook::apology(&st, st.steps.cfg.default_locale)
        }
    };
    let webhooks = twilio::webhook::routes().layer(CatchPanicLayer::custom(apology));
    let api = crate::api::routes(state.clone()).layer(CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("an API handler panicked");
            crate::api::ApiError::internal().into_response()
        },
    ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(webhooks)
        .merge(api)
        .merge(crate::console::routes(state.clone()))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_millis(state.steps.cfg.http.body_timeout_ms),
            crate::server::body_deadline,
        ))
        .with_state(state)
}

/// Load balancers give up on a health check after a second or so: a store that has not
/// answered by then counts as unreachable.
const READY_DEADLINE: Duration = Duration::from_millis(800);

async fn readyz(State(st): State<AppState>) -> Response {
    let error = match tokio::time::timeout(READY_DEADLINE, st.steps.store.ping()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ready\n").into_response(),
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

/// Serves until `shutdown` resolves, then lets requests in flight finish within
/// `http.shutdown_timeout_ms` (see `server`).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Background work lives as long as the server.
    let mut background = tokio::task::JoinSet::new();
    background.spawn(state.steps.desk.clone().run_sweeper());
    background.spawn(state.feed.clone().run());
    background.spawn(state.clone().run_rollups());
    let cfg = &state.steps.cfg;
    if !cfg.callbacks.dial {
        tracing::info!("this instance does not dial callbacks (callbacks.dial = false)");
    } else if cfg.twilio.account_sid.is_empty() {
        tracing::warn!("callbacks are not dialed: no Twilio account is configured");
    } else {
        background.spawn(state.callbacks.clone().run());
    }
    background.spawn(crate::webhooks::worker::Worker::from_app(&state).run());
    let limits = crate::server::Limits::from(&cfg.http);
    let served = crate::server::serve(listener, router(state.clone()), limits, shutdown).await;
    background.abort_all();
    served
}
