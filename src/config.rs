//! Configuration: defaults, then an optional TOML file, then `HOTLINE_*` environment variables.
//!
//! Rules: secrets (auth token, API token, database password) are `Secret`s whose `Debug` and
//! `Display` are redacted; they are exposed only where used. Every setting has a default that
//! works on a developer's machine, except the secrets, which `serve` demands unless `--demo`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::agents::TransferMode;
use crate::calendar::{Calendar, CalendarError};
use crate::prompts::Locale;
use crate::secret::Secret;
use crate::tickets::sla;

/// How one locale is spoken and heard by the carrier.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct VoiceConfig {
    /// Text-to-speech voice, e.g. `Polly.Zhiyu-Neural`.
    pub voice: String,
    /// Language of the spoken text, e.g. `cmn-CN`.
    pub language: String,
    /// Language of the speech recogniser, e.g. `cmn-Hans-CN`.
    pub speech_language: String,
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// The public URL the carrier calls (scheme, host, optional port, optional path prefix);
    /// webhook signatures are computed over it, so behind a proxy or tunnel it must be the
    /// outside address.
    pub public_url: String,
    /// `sqlite://hotline.db` (default) or `postgres://…`.
    pub database_url: Secret,
    /// PostgreSQL only: connections this instance keeps open at most. Every instance on one
    /// server counts against its `max_connections`.
    pub database_max_connections: u32,
    /// SQLite only: `full` (default) flushes every commit to disk, so what a caller was told
    /// survives a power loss; `normal` only survives a crash of the process (README,
    /// "Durability").
    pub sqlite_synchronous: SqliteSynchronous,
    pub twilio: TwilioConfig,
    /// Bearer token for `/api/v1`; the API refuses every request while it is unset.
    pub api_token: Secret,
    /// Number or SIP address of the agents, for `agents.transfer = "dial"`.
    pub agent_number: Option<String>,
    pub agents: AgentsConfig,
    pub console: ConsoleConfig,
    pub pin: PinConfig,
    pub billing: BillingConfig,
    /// Language when the caller has not chosen one.
    pub default_locale: Locale,
    pub voices: BTreeMap<Locale, VoiceConfig>,
    /// Directory with `<locale>.toml` catalogs; the built-in catalogs when unset. The survey
    /// scripts are always built in (`surveys::builtin`).
    pub prompts_dir: Option<PathBuf>,
    /// Largest webhook or API body accepted, bytes.
    pub max_body_bytes: usize,
    pub http: HttpConfig,
    /// The operator's time zone (IANA name): the days and times of deadlines and of what
    /// callers hear.
    pub timezone: chrono_tz::Tz,
    /// A `date,kind,name` CSV of holidays and adjusted working days replacing the built-in
    /// calendar (mainland China, 2024–2026).
    pub calendar_file: Option<PathBuf>,
    /// Service levels: `[[sla.rules]]` replace the operator's standard whole.
    pub sla: sla::Policy,
    pub complaints: ComplaintConfig,
    pub webhooks: WebhookConfig,
    pub callbacks: CallbackConfig,
}

/// How long the HTTP server waits for clients, and how many it holds at once: a client that
/// sends slowly, or not at all, must not keep a connection (an open file) for ever.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A request's head must arrive whole within this long of the server starting to wait
    /// for it: from the accept, or on a kept-alive connection from the previous answer (so
    /// it also bounds how long a connection waits between requests).
    pub header_timeout_ms: u64,
    /// A request's body must arrive whole within this long of its head; else 408 and close.
    pub body_timeout_ms: u64,
    /// A connection on which no request is being handled and no byte has moved either way
    /// for this long is closed (an idle keep-alive, or a client that stopped reading).
    pub idle_timeout_ms: u64,
    /// Connections open at once; at the cap the server stops accepting until one closes and
    /// new ones wait in the listen backlog.
    pub max_connections: usize,
    /// After SIGTERM, requests in flight may finish for this long; then every connection
    /// left is dropped and the process exits.
    pub shutdown_timeout_ms: u64,
    /// On SIGTERM, how long `/readyz` answers 503 while everything else is still served,
    /// before the listener closes: a load balancer's health checks need that long to take
    /// the instance out. 0 closes the listener at once.
    pub shutdown_drain_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            idle_timeout_ms: 10_000,
            max_connections: 512,
            shutdown_timeout_ms: 10_000,
            shutdown_drain_ms: 5_000,
        }
    }
}

/// The least `callbacks.lease_secs`: longer than the carrier's timeout (10 s) with room.
pub const MIN_LEASE_SECS: i64 = 15;

/// Bounds of `callbacks.status_lookup_minutes`.
pub const MIN_STATUS_LOOKUP_MINUTES: i64 = 5;
pub const MAX_STATUS_LOOKUP_MINUTES: i64 = 1440;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// Run the dialer in this instance (it also needs a Twilio account). Several instances on
    /// PostgreSQL may all run it.
    pub dial: bool,
    /// Seconds to let a callback ring.
    pub ring_secs: u32,
    /// The number satisfaction callbacks come from (a Twilio number of the account). When set,
    /// `serve` creates the standing satisfaction campaign if there is none.
    pub from_number: Option<String>,
    /// Pace of the standing campaign it creates, calls per second.
    pub calls_per_sec: f64,
    /// A placed callback whose end the carrier has not reported this long after it was
    /// requested is looked up at the carrier (its report was lost, or came while no instance
    /// was up). Until then, and while the call is still going, the callback waits.
    pub status_lookup_minutes: i64,
    /// How long a dialer's claim on a callback, and its request to the carrier, are its own:
    /// after this another instance takes over what a dead one left (a claim not yet dialed,
    /// an attempt whose request was never answered). Longer than the carrier's timeout, or a
    /// live dialer's request would be reconciled while it is still waiting.
    pub lease_secs: i64,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            dial: true,
            ring_secs: 30,
            from_number: None,
            calls_per_sec: 1.0,
            status_lookup_minutes: 15,
            lease_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    pub transfer: TransferMode,
    /// The carrier's queue name (at most 64 characters).
    pub queue: String,
    /// When agents take calls, in the operator's time zone and calendar; outside it callers
    /// are offered a callback instead.
    pub hours: crate::callbacks::window::CallingWindow,
    /// Above this expected wait, callers are offered a callback instead of holding.
    pub max_wait_secs: i64,
    /// Average time an agent spends with a caller, for the expected wait.
    pub handle_secs: i64,
    /// Agents usually on duty, for the expected wait.
    pub on_duty: i64,
    /// Music played to callers on hold (an audio URL the carrier can fetch).
    pub hold_music: String,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            transfer: TransferMode::Queue,
            queue: "agents".into(),
            hours: crate::callbacks::window::CallingWindow {
                start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
                end: chrono::NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
                ..crate::callbacks::window::CallingWindow::default()
            },
            max_wait_secs: 300,
            handle_secs: 180,
            on_duty: 2,
            hold_music: "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A session unused for this long ends.
    pub idle_minutes: i64,
    /// No session lasts longer than this, used or not.
    pub max_hours: i64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            idle_minutes: 60,
            max_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintConfig {
    /// Longest recorded complaint, seconds.
    pub max_secs: u32,
    /// Ask Twilio for a transcript of every recording: complaints and spoken addresses
    /// (English only on Twilio's side; off by default).
    pub transcribe: bool,
}

impl Default for ComplaintConfig {
    fn default() -> Self {
        ComplaintConfig {
            max_secs: 120,
            transcribe: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// How long a receiver may fail before a delivery is given up (and listed as failed).
    pub give_up_after_hours: u32,
    /// How long one attempt may take.
    pub timeout_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            give_up_after_hours: 72,
            timeout_ms: 10_000,
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Signs webhooks and authenticates REST calls.
    pub auth_token: Secret,
    /// Base URL of the REST API; tests and simulators point it at a local server.
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinConfig {
    pub max_failures: i32,
    pub lock_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingConfig {
    /// An external billing endpoint (`GET {url}?account=<no>` → bill JSON); bills come from
    /// the hotline's own tables when unset.
    pub url: Option<String>,
    /// How long a caller may wait for it.
    pub timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        let mut voices = BTreeMap::new();
        voices.insert(
            Locale::ZhCn,
            VoiceConfig {
                voice: "Polly.Zhiyu-Neural".into(),
                language: "cmn-CN".into(),
                speech_language: "cmn-Hans-CN".into(),
            },
        );
        voices.insert(
            Locale::EnUs,
            VoiceConfig {
                voice: "Polly.Joanna-Neural".into(),
                language: "en-US".into(),
                speech_language: "en-US".into(),
            },
        );
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: Secret::new("sqlite://hotline.db"),
            database_max_connections: 10,
            sqlite_synchronous: SqliteSynchronous::default(),
            twilio: TwilioConfig::default(),
            api_token: Secret::default(),
            agent_number: None,
            agents: AgentsConfig::default(),
            console: ConsoleConfig::default(),
            pin: PinConfig::default(),
            billing: BillingConfig::default(),
            default_locale: Locale::ZhCn,
            voices,
            prompts_dir: None,
            max_body_bytes: 64 * 1024,
            http: HttpConfig::default(),
            timezone: chrono_tz::Asia::Shanghai,
            calendar_file: None,
            sla: sla::Policy::standard(),
            complaints: ComplaintConfig::default(),
            webhooks: WebhookConfig::default(),
            callbacks: CallbackConfig::default(),
        }
    }
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            account_sid: String::new(),
            auth_token: Secret::default(),
            api_base: "https://api.twilio.com".into(),
        }
    }
}

impl Default for PinConfig {
    fn default() -> Self {
        PinConfig {
            max_failures: 3,
            lock_minutes: 30,
        }
    }
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            url: None,
            timeout_ms: 1000,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &redact_url(self.database_url.expose()))
            .field("database_max_connections", &self.database_max_connections)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("twilio.account_sid", &self.twilio.account_sid)
            .field("twilio.auth_token", &self.twilio.auth_token)
            .field("twilio.api_base", &self.twilio.api_base)
            .field("api_token", &self.api_token)
            .field(
                "agent_number",
                &self
                    .agent_number
                    .as_deref()
                    .map(crate::telephony::mask_number),
            )
            .field("agents", &self.agents)
            .field("console", &self.console)
            .field("pin", &self.pin)
            .field("billing", &self.billing)
            .field("default_locale", &self.default_locale)
            .field("prompts_dir", &self.prompts_dir)
            .field("http", &self.http)
            .field("timezone", &self.timezone)
            .field("calendar_file", &self.calendar_file)
            .field("sla", &self.sla)
            .field("complaints", &self.complaints)
            .field("webhooks", &self.webhooks)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Env { name: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` (or `$HOTLINE_CONFIG`) when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("HOTLINE_CONFIG").map(PathBuf::from);
        let mut cfg = match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.display().to_string(),
                    source,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|name| std::env::var(name).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Overlays `HOTLINE_*` variables read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            v.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.to_string(),
                reason: e.to_string(),
            })
        }
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("HOTLINE_LISTEN") {
            self.listen = parse("HOTLINE_LISTEN", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = non_empty("HOTLINE_DATABASE_URL") {
            self.database_url = Secret::new(v);
        }
        if let Some(v) = non_empty("HOTLINE_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse("HOTLINE_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_SQLITE_SYNCHRONOUS") {
            self.sqlite_synchronous =
                SqliteSynchronous::parse(&v).ok_or_else(|| ConfigError::Env {
                    name: "HOTLINE_SQLITE_SYNCHRONOUS".into(),
                    reason: format!("{v:?} is neither full nor normal"),
                })?;
        }
        if let Some(v) = non_empty("HOTLINE_TWILIO_ACCOUNT_SID") {
            self.twilio.account_sid = v;
        }
        if let Some(v) = non_empty("HOTLINE_TWILIO_AUTH_TOKEN") {
            self.twilio.auth_token = Secret::new(v);
        }
        if let Some(v) = non_empty("HOTLINE_TWILIO_API_BASE") {
            self.twilio.api_base = v;
        }
        if let Some(v) = non_empty("HOTLINE_API_TOKEN") {
            self.api_token = Secret::new(v);
        }
        if let Some(v) = non_empty("HOTLINE_AGENT_NUMBER") {
            self.agent_number = Some(v);
        }
        if let Some(v) = non_empty("HOTLINE_AGENT_TRANSFER") {
            self.agents.transfer = match v.trim() {
                "queue" => TransferMode::Queue,
                "dial" => TransferMode::Dial,
                _ => {
                    return Err(ConfigError::Env {
                        name: "HOTLINE_AGENT_TRANSFER".into(),
                        reason: format!("{v:?} is neither queue nor dial"),
                    });
                }
            };
        }
        if let Some(v) = non_empty("HOTLINE_CALLBACK_FROM") {
            self.callbacks.from_number = Some(v);
        }
        if let Some(v) = non_empty("HOTLINE_CALLBACK_DIAL") {
            self.callbacks.dial = parse("HOTLINE_CALLBACK_DIAL", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_CALLBACK_LEASE_SECS") {
            self.callbacks.lease_secs = parse("HOTLINE_CALLBACK_LEASE_SECS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES") {
            self.callbacks.status_lookup_minutes =
                parse("HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_PIN_MAX_FAILURES") {
            self.pin.max_failures = parse("HOTLINE_PIN_MAX_FAILURES", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_PIN_LOCK_MINUTES") {
            self.pin.lock_minutes = parse("HOTLINE_PIN_LOCK_MINUTES", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_BILLING_URL") {
            self.billing.url = Some(v);
        }
        if let Some(v) = non_empty("HOTLINE_BILLING_TIMEOUT_MS") {
            self.billing.timeout_ms = parse("HOTLINE_BILLING_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_DEFAULT_LOCALE") {
            self.default_locale = Locale::parse(&v).ok_or_else(|| ConfigError::Env {
                name: "HOTLINE_DEFAULT_LOCALE".into(),
                reason: format!("unknown locale {v:?} (use zh-CN or en-US)"),
            })?;
        }
        if let Some(v) = non_empty("HOTLINE_PROMPTS_DIR") {
            self.prompts_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = non_empty("HOTLINE_TIMEZONE") {
            self.timezone = v.trim().parse().map_err(|_| ConfigError::Env {
                name: "HOTLINE_TIMEZONE".into(),
                reason: format!("unknown time zone {v:?} (use an IANA name such as Asia/Shanghai)"),
            })?;
        }
        if let Some(v) = non_empty("HOTLINE_CALENDAR_FILE") {
            self.calendar_file = Some(PathBuf::from(v));
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_HEADER_TIMEOUT_MS") {
            self.http.header_timeout_ms = parse("HOTLINE_HTTP_HEADER_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_BODY_TIMEOUT_MS") {
            self.http.body_timeout_ms = parse("HOTLINE_HTTP_BODY_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_IDLE_TIMEOUT_MS") {
            self.http.idle_timeout_ms = parse("HOTLINE_HTTP_IDLE_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_MAX_CONNECTIONS") {
            self.http.max_connections = parse("HOTLINE_HTTP_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_SHUTDOWN_TIMEOUT_MS") {
            self.http.shutdown_timeout_ms = parse("HOTLINE_HTTP_SHUTDOWN_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("HOTLINE_HTTP_SHUTDOWN_DRAIN_MS") {
            self.http.shutdown_drain_ms = parse("HOTLINE_HTTP_SHUTDOWN_DRAIN_MS", &v)?;
        }
        Ok(())
    }

    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let url = self.public_url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('?') {
            return Err(ConfigError::Invalid(format!(
                "public_url must be an http(s) URL without a query, got {url:?}"
            )));
        }
        self.public_url = url;
        if self.pin.max_failures < 1 || self.pin.lock_minutes < 1 {
            return Err(ConfigError::Invalid(
                "pin.max_failures and pin.lock_minutes must be at least 1".into(),
            ));
        }
        let a = &self.agents;
        if a.queue.trim().is_empty() || a.queue.len() > 64 {
            return Err(ConfigError::Invalid(
                "agents.queue must be 1 to 64 characters".into(),
            ));
        }
        if a.transfer == TransferMode::Dial && self.agent_number.is_none() {
            return Err(ConfigError::Invalid(
                "agents.transfer = \"dial\" needs agent_number (HOTLINE_AGENT_NUMBER)".into(),
            ));
        }
        if a.max_wait_secs < 0 || a.handle_secs < 1 || a.on_duty < 1 {
            return Err(ConfigError::Invalid(
                "agents.max_wait_secs must be at least 0, handle_secs and on_duty at least 1"
                    .into(),
            ));
        }
        a.hours
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("agents.hours: {e}")))?;
        if self.console.idle_minutes < 1 || self.console.max_hours < 1 {
            return Err(ConfigError::Invalid(
                "console.idle_minutes and console.max_hours must be at least 1".into(),
            ));
        }
        // A bill is read inside a webhook, which answers within 2 s whatever happens
        // (`http::twilio::DEADLINE`): a slower billing source would have the
        // caller hear a general apology instead of being told the bill is unavailable.
        if !(100..=1000).contains(&self.billing.timeout_ms) {
            return Err(ConfigError::Invalid(
                "billing.timeout_ms must be between 100 and 1000 (webhooks answer within 2 s)"
                    .into(),
            ));
        }
        let h = &self.http;
        let timeouts = [
            h.header_timeout_ms,
            h.body_timeout_ms,
            h.idle_timeout_ms,
            h.shutdown_timeout_ms,
        ];
        if timeouts.iter().any(|ms| !(100..=600_000).contains(ms)) {
            return Err(ConfigError::Invalid(
                "http.header_timeout_ms, body_timeout_ms, idle_timeout_ms and shutdown_timeout_ms must be between 100 and 600000".into(),
            ));
        }
        if !(1..=1_000_000).contains(&h.max_connections) {
            return Err(ConfigError::Invalid(
                "http.max_connections must be between 1 and 1000000".into(),
            ));
        }
        if h.shutdown_drain_ms > 600_000 {
            return Err(ConfigError::Invalid(
                "http.shutdown_drain_ms (HOTLINE_HTTP_SHUTDOWN_DRAIN_MS) must be at most 600000"
                    .into(),
            ));
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return Err(ConfigError::Invalid(
                "database_max_connections (HOTLINE_DATABASE_MAX_CONNECTIONS) must be between 1 and 1000"
                    .into(),
            ));
        }
        // The carrier's timeout is 10 s: a shorter lease would reconcile a live dialer's
        // request while it still waits, and the callback could be dialed twice.
        if !(MIN_LEASE_SECS..=3600).contains(&self.callbacks.lease_secs) {
            return Err(ConfigError::Invalid(format!(
                "callbacks.lease_secs (HOTLINE_CALLBACK_LEASE_SECS) must be between \
                 {MIN_LEASE_SECS} and 3600, got {}",
                self.callbacks.lease_secs
            )));
        }
        // A file that configures one locale's voice keeps the defaults of the others.
        for (l, v) in Config::default().voices {
            self.voices.entry(l).or_insert(v);
        }
        self.sla
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if crate::callbacks::pace_ms(self.callbacks.calls_per_sec).is_none() {
            return Err(ConfigError::Invalid(
                "callbacks.calls_per_sec must be above 0 and at most 1000".into(),
            ));
        }
        if !(5..=600).contains(&self.callbacks.ring_secs) {
            return Err(ConfigError::Invalid(
                "callbacks.ring_secs must be between 5 and 600".into(),
            ));
        }
        // A call still going when it is looked up is looked up again every round until it
        // ends, so the delay must outlast ringing and a survey. Past a day, Twilio's list of
        // a number's calls by date is the wrong tool and a lost callback waits too long.
        let lookup = self.callbacks.status_lookup_minutes;
        if !(MIN_STATUS_LOOKUP_MINUTES..=MAX_STATUS_LOOKUP_MINUTES).contains(&lookup)
            || lookup * 60 <= i64::from(self.callbacks.ring_secs)
        {
            return Err(ConfigError::Invalid(format!(
                "callbacks.status_lookup_minutes (HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES) must be \
                 between {MIN_STATUS_LOOKUP_MINUTES} and {MAX_STATUS_LOOKUP_MINUTES} and longer \
                 than callbacks.ring_secs, got {lookup}"
            )));
        }
        if !(5..=3600).contains(&self.complaints.max_secs) {
            return Err(ConfigError::Invalid(
                "complaints.max_secs must be between 5 and 3600".into(),
            ));
        }
        if self.webhooks.give_up_after_hours == 0
            || !(100..=60_000).contains(&self.webhooks.timeout_ms)
        {
            return Err(ConfigError::Invalid(
                "webhooks.give_up_after_hours must be at least 1 and webhooks.timeout_ms between 100 and 60000".into(),
            ));
        }
        Ok(())
    }

    /// How the store is opened, beyond its URL.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            sqlite_synchronous: self.sqlite_synchronous,
            pg_max_connections: self.database_max_connections,
            ..StoreOptions::default()
        }
    }

    /// Whether this instance dials callbacks: the dialer is on and there is a Twilio account
    /// to place calls with.
    pub fn dials_callbacks(&self) -> bool {
        self.callbacks.dial && !self.twilio.account_sid.is_empty()
    }

    /// The working-day calendar: `calendar_file` when set, else the built-in one.
    pub fn calendar(&self) -> Result<Calendar, CalendarError> {
        match &self.calendar_file {
            Some(path) => Calendar::load(path),
            None => Ok(Calendar::builtin().clone()),
        }
    }
}

/// When a commit SQLite has answered is safe (README, "Durability"). PostgreSQL's is the
/// server's own (`synchronous_commit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// `synchronous = FULL`: the log is flushed to disk at every commit, so what a caller was
    /// told (a PIN failure counted, a ticket promised) survives a power loss. Group commit
    /// makes it one flush per batch of steps.
    #[default]
    Full,
    /// `synchronous = NORMAL`: the log is flushed only at checkpoints; a commit survives the
    /// process crashing, but the last ones can be lost with the machine.
    Normal,
}

impl SqliteSynchronous {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Some(SqliteSynchronous::Full),
            "normal" => Some(SqliteSynchronous::Normal),
            _ => None,
        }
    }

    /// The value of SQLite's `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// Which writer records SQLite's batches of call steps and status reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteWriter {
    /// Plain steps and status reports through the direct writer thread (the hot path);
    /// batches with survey effects through sqlx.
    #[default]
    Direct,
    /// Everything through sqlx, as PostgreSQL does: for the test that compares what each
    /// writer stores.
    Sqlx,
}

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub sqlite_synchronous: SqliteSynchronous,
    pub sqlite_writer: SqliteWriter,
    /// PostgreSQL's pool size (`database_max_connections`).
    pub pg_max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_synchronous: SqliteSynchronous::default(),
            sqlite_writer: SqliteWriter::default(),
            pg_max_connections: 10,
        }
    }
}

/// Redacts the password of a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/hotline"),
            "postgres://app:****@db:5432/hotline"
        );
        assert_eq!(
            super::redact_url("sqlite://hotline.db"),
            "sqlite://hotline.db"
        );
    }

    use super::*;

    #[test]
    fn env_overrides_and_secrets_stay_hidden() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| match k {
            "HOTLINE_TWILIO_AUTH_TOKEN" => Some("tok-123".into()),
            "HOTLINE_DATABASE_URL" => Some("postgres://u:pw@h/db".into()),
            "HOTLINE_PUBLIC_URL" => Some("https://ivr.example.com/".into()),
            _ => None,
        })
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.public_url, "https://ivr.example.com");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("tok-123") && !dbg.contains("pw@"), "{dbg}");
    }

    #[test]
    fn sqlite_flushes_every_commit_unless_told_otherwise() {
        assert_eq!(
            Config::default().store_options().sqlite_synchronous,
            SqliteSynchronous::Full
        );
        let mut cfg = Config::default();
        cfg.apply_env(|k| (k == "HOTLINE_SQLITE_SYNCHRONOUS").then(|| " Normal ".into()))
            .unwrap();
        assert_eq!(cfg.sqlite_synchronous, SqliteSynchronous::Normal);
        let parsed: Config = toml::from_str("sqlite_synchronous = \"normal\"\n").unwrap();
        assert_eq!(parsed.sqlite_synchronous, SqliteSynchronous::Normal);
        let err = Config::default()
            .apply_env(|k| (k == "HOTLINE_SQLITE_SYNCHRONOUS").then(|| "off".into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("HOTLINE_SQLITE_SYNCHRONOUS"),
            "{err}"
        );
        assert!(toml::from_str::<Config>("sqlite_synchronous = \"off\"\n").is_err());
    }

    #[test]
    fn the_status_lookup_delay_is_set_and_bounded() {
        assert_eq!(Config::default().callbacks.status_lookup_minutes, 15);
        let mut cfg = Config::default();
        cfg.apply_env(|k| (k == "HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES").then(|| " 7 ".into()))
            .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.callbacks.status_lookup_minutes, 7);
        let parsed: Config = toml::from_str("[callbacks]\nstatus_lookup_minutes = 30\n").unwrap();
        assert_eq!(parsed.callbacks.status_lookup_minutes, 30);
        let err = Config::default()
            .apply_env(|k| (k == "HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES").then(|| "soon".into()))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("HOTLINE_CALLBACK_STATUS_LOOKUP_MINUTES"),
            "{err}"
        );
        for (minutes, ring_secs) in [(4, 30), (1441, 30), (0, 30), (-1, 30), (5, 300), (6, 600)] {
            let mut cfg = Config::default();
            cfg.callbacks.status_lookup_minutes = minutes;
            cfg.callbacks.ring_secs = ring_secs;
            let err = cfg.validate().unwrap_err();
            assert!(
                err.to_string().contains("status_lookup_minutes"),
                "{minutes} min, ring {ring_secs} s: {err}"
            );
        }
        let mut cfg = Config::default();
        cfg.callbacks.status_lookup_minutes = 11;
        cfg.callbacks.ring_secs = 600;
        cfg.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values_with_the_variable_name() {
        let mut cfg = Config::default();
        let err = cfg
            .apply_env(|k| (k == "HOTLINE_LISTEN").then(|| "nope".into()))
            .unwrap_err();
        assert!(err.to_string().contains("HOTLINE_LISTEN"), "{err}");
    }

    #[test]
    fn file_sections_parse() {
        let cfg: Config = toml::from_str(
            "public_url = \"https://x.example\"\n[pin]\nmax_failures = 5\n[voices.en-US]\nvoice = \"man\"\nlanguage = \"en-US\"\nspeech_language = \"en-US\"\n",
        )
        .unwrap();
        assert_eq!(cfg.pin.max_failures, 5);
        assert_eq!(cfg.voices[&Locale::EnUs].voice, "man");
    }

    #[test]
    fn timezone_calendar_and_sla_default_to_the_operator_standard() {
        let cfg = Config::default();
        assert_eq!(cfg.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(cfg.calendar_file, None);
        assert_eq!(cfg.sla, sla::Policy::standard());
        let parsed: Config = toml::from_str("public_url = \"https://x.example\"\n").unwrap();
        assert_eq!(parsed.sla, sla::Policy::standard());
        assert_eq!(parsed.timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn file_with_custom_sla_rules_parses() {
        let mut cfg: Config = toml::from_str(
            r#"
timezone = "America/Los_Angeles"
calendar_file = "/etc/hotline/calendar.csv"

[[sla.rules]]
kind = "fault"
hours = 48

[[sla.rules]]
kind = "fault"
customer_class = "business"
same_day_before = "15:00"
otherwise_next_working_day_by = "10:00"

[[sla.rules]]
kind = "installation"
line_kind = "broadband"
working_days = 10
"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.timezone, chrono_tz::America::Los_Angeles);
        assert_eq!(
            cfg.calendar_file.as_deref(),
            Some(Path::new("/etc/hotline/calendar.csv"))
        );
        use crate::tickets::TicketKind;
        use sla::{Promise, Rule};
        assert_eq!(
            cfg.sla.rules,
            vec![
                Rule::new(TicketKind::Fault, Promise::Hours(48)),
                Rule::new(
                    TicketKind::Fault,
                    Promise::SameDayBefore {
                        cutoff: chrono::NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
                        otherwise_by: chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
                    }
                )
                .for_class(crate::customers::CustomerClass::Business),
                Rule::new(TicketKind::Installation, Promise::WorkingDays(10))
                    .on_line(crate::customers::LineKind::Broadband),
            ]
        );
        let dbg = format!("{cfg:?}");
        assert!(
            dbg.contains("America/Los_Angeles") && dbg.contains("calendar.csv"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_sla_rules_and_time_zones_are_refused() {
        let err =
            toml::from_str::<Config>("[[sla.rules]]\nkind = \"fault\"\nhours = 0\n").unwrap_err();
        assert!(err.to_string().contains("hours must be between 1"), "{err}");
        let err = toml::from_str::<Config>("timezone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(err.to_string().contains("timezone"), "{err}");

        let mut cfg = Config::default();
        cfg.sla.rules[0].promise = sla::Promise::Hours(0);
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("sla rule 1"), "{err}");
    }

    #[test]
    fn timezone_and_calendar_from_the_environment() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| match k {
            "HOTLINE_TIMEZONE" => Some(" Europe/London ".into()),
            "HOTLINE_CALENDAR_FILE" => Some("/srv/cal.csv".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.timezone, chrono_tz::Europe::London);
        assert_eq!(cfg.calendar_file, Some(PathBuf::from("/srv/cal.csv")));
        let err = Config::default()
            .apply_env(|k| (k == "HOTLINE_TIMEZONE").then(|| "Shanghai".into()))
            .unwrap_err();
        assert!(err.to_string().contains("HOTLINE_TIMEZONE"), "{err}");
    }

    #[test]
    fn http_limits_come_from_the_file_and_the_environment() {
        let mut cfg: Config =
            toml::from_str("[http]\nheader_timeout_ms = 2000\nmax_connections = 64\n").unwrap();
        cfg.apply_env(|k| match k {
            "HOTLINE_HTTP_BODY_TIMEOUT_MS" => Some("3000".into()),
            "HOTLINE_HTTP_IDLE_TIMEOUT_MS" => Some("4000".into()),
            "HOTLINE_HTTP_SHUTDOWN_TIMEOUT_MS" => Some("5000".into()),
            _ => None,
        })
        .unwrap();
        cfg.validate().unwrap();
        let h = &cfg.http;
        assert_eq!(
            (
                h.header_timeout_ms,
                h.body_timeout_ms,
                h.idle_timeout_ms,
                h.shutdown_timeout_ms,
                h.max_connections
            ),
            (2000, 3000, 4000, 5000, 64)
        );
        let err = Config::default()
            .apply_env(|k| (k == "HOTLINE_HTTP_MAX_CONNECTIONS").then(|| "many".into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("HOTLINE_HTTP_MAX_CONNECTIONS"),
            "{err}"
        );
        let mut cfg = Config::default();
        cfg.http.shutdown_timeout_ms = 0;
        assert!(
            cfg.validate().is_err(),
            "a shutdown without any grace is refused"
        );
        let mut cfg = Config::default();
        cfg.http.max_connections = 0;
        assert!(
            cfg.validate().is_err(),
            "a server that takes no connection is refused"
        );
    }

    #[test]
    fn cluster_settings_come_from_the_file_and_the_environment() {
        let mut cfg: Config = toml::from_str(
            "database_max_connections = 4\n[http]\nshutdown_drain_ms = 0\n[callbacks]\nlease_secs = 30\n",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            (
                cfg.database_max_connections,
                cfg.http.shutdown_drain_ms,
                cfg.callbacks.lease_secs
            ),
            (4, 0, 30)
        );
        cfg.apply_env(|k| match k {
            "HOTLINE_DATABASE_MAX_CONNECTIONS" => Some("3".into()),
            "HOTLINE_HTTP_SHUTDOWN_DRAIN_MS" => Some("2500".into()),
            "HOTLINE_CALLBACK_LEASE_SECS" => Some("20".into()),
            _ => None,
        })
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.store_options().pg_max_connections, 3);
        assert_eq!(
            (cfg.http.shutdown_drain_ms, cfg.callbacks.lease_secs),
            (2500, 20)
        );
        let d = Config::default();
        assert_eq!(
            (
                d.database_max_connections,
                d.http.shutdown_drain_ms,
                d.callbacks.lease_secs
            ),
            (10, 5000, 60)
        );
        for bad in [
            |c: &mut Config| c.database_max_connections = 0,
            |c: &mut Config| c.http.shutdown_drain_ms = 600_001,
            // Shorter than the carrier's timeout: a live dialer's request would be taken over.
            |c: &mut Config| c.callbacks.lease_secs = 10,
        ] {
            let mut cfg = Config::default();
            bad(&mut cfg);
            assert!(cfg.validate().is_err(), "{:?}", cfg);
        }
    }

    #[test]
    fn calendar_comes_from_the_file_or_is_built_in() {
        let cfg = Config::default();
        assert_eq!(&cfg.calendar().unwrap(), Calendar::builtin());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cal.csv");
        std::fs::write(&path, "date,kind,name\n2027-01-01,holiday,New Year's Day\n").unwrap();
        let cfg = Config {
            calendar_file: Some(path),
            ..Config::default()
        };
        let cal = cfg.calendar().unwrap();
        assert!(cal.is_holiday(chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        // The file replaces the built-in data: 8 October 2025 is a working day by the fallback.
        assert!(!cal.is_holiday(chrono::NaiveDate::from_ymd_opt(2025, 10, 8).unwrap()));
    }
}
