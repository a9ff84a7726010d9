//! The state every handler shares: the store, the clock, the settings, the catalogs and the
//! services built on them, built once at start.
//!
//! Rules: built only through `build` (which opens and migrates the store) or `with_store`;
//! the catalogs and the built-in survey scripts are checked before anything is served.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub cfg: Arc<Config>,
    /// What callers hear, per locale.
    pub catalog: Arc<Catalog>,
    /// Where bills come from.
    pub billing: Arc<dyn BillingSource>,
    /// Records call steps and status reports in batches.
    pub writer: StepWriter,
    /// Opens and changes tickets for every channel.
    pub desk: Desk,
    /// Runs one step of a call.
    pub steps: StepService,
    /// Places callbacks and settles their attempts.
    pub callbacks: CallbackDialer,
    /// Queues satisfaction callbacks from resolved tickets.
    pub feed: TicketFeed,
    /// Works escalations (claim, reply, close…) for the console and the API.
    pub escalations: Escalations,
    /// Complaint recordings, fetched from the carrier for agents to play.
    pub recordings: Arc<dyn crate::telephony::Recordings>,
    /// Set when shutdown begins: `/readyz` fails and answers close their connections, so a
    /// load balancer moves the traffic before the listener closes.
    pub draining: AtomicBool,
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
        let twilio = Arc::new(TwilioDialer::from_config(
            &cfg.twilio,
            &cfg.public_url,
            CARRIER_TIMEOUT,
        ));
        let callbacks = CallbackDialer {
            store: store.clone(),
            dialer: twilio.clone(),
            clock: clock.clone(),
            calendar: desk.calendar.clone(),
            cfg: DialerConfig {
                ring_secs: cfg.callbacks.ring_secs,
                stale_call_ms: cfg.callbacks.status_lookup_minutes * 60_000,
                lease_ms: cfg.callbacks.lease_secs * 1000,
                reconcile_after_ms: cfg.callbacks.lease_secs * 1000,
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
        let (catalog, cfg) = (Arc::new(catalog), Arc::new(cfg));
        let steps = StepService {
            store: store.clone(),
            writer: writer.clone(),
            billing: billing.clone(),
            catalog: catalog.clone(),
            cfg: cfg.clone(),
            clock: clock.clone(),
            desk: desk.clone(),
        };
        Ok(AppState(Arc::new(Shared {
            escalations: Escalations {
                store: store.clone(),
                clock: clock.clone(),
            },
            callbacks,
            feed,
            steps,
            store,
            clock,
            cfg,
            catalog,
            billing,
            writer,
            desk,
            recordings: twilio,
            draining: AtomicBool::new(false),
        })))
    }
}

impl AppState {
    /// The worker that sends ticket events to subscribers, on this state's store and clock.
    pub fn webhook_worker(&self) -> crate::webhooks::worker::Worker {
        crate::webhooks::worker::Worker::new(
            self.store.clone(),
            self.clock.clone(),
            &self.cfg.webhooks,
        )
    }

    /// The report a user asked for, computed now in the operator's zone and calendar.
    pub async fn report(
        &self,
        kind: &str,
        params: &crate::reports::params::ReportParams,
    ) -> Result<crate::reports::Report, crate::reports::ReportError> {
        crate::reports::requested(
            kind,
            params,
            self.store.as_ref(),
            self.clock.now_ms(),
            self.cfg.timezone,
            &self.desk.calendar,
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
            let src = crate::reports::rollup::Source {
                store: self.store.as_ref(),
                tz: self.cfg.timezone,
                calendar: &self.desk.calendar,
                now: self.clock.now_ms(),
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
