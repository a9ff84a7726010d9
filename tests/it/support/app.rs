//! A running `hotline` on 127.0.0.1 for end-to-end tests, on either backend, with a clock the
//! test controls and the carrier simulator pointed at it.

use std::sync::Arc;

use hotline::clock::{Clock, FakeClock};
use hotline::config::Config;
use hotline::http::{self, AppState};
use hotline::secret::Secret;
use hotline::telephony::twilio::fake_api::FakeTwilio;
use hotline::telephony::twilio::simulator::Simulator;

pub const AUTH_TOKEN: &str = "test-auth-token";
pub const API_TOKEN: &str = "test-api-token";
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// 2026-06-01T00:00:00Z.
pub const START_MS: i64 = 1_780_272_000_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    /// Twilio's REST API and the callbacks it places, playing against this app.
    pub twilio: FakeTwilio,
    pub state: AppState,
    pub clock: Arc<FakeClock>,
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    /// `notify_one` starts the server's shutdown.
    pub stop: Arc<tokio::sync::Notify>,
    /// The server's task: ends when `http::serve` returns.
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestApp {
    /// A fresh app on `backend` with the demo customers, or `None` when PostgreSQL is
    /// unavailable (and not required).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (url, tmp) = super::db::fresh(backend).await?;
        Some(Self::spawn_on(backend, url, tmp, tweak).await)
    }

    /// A fresh app on the empty database at `url` (from `db::pg_url`, say, seen through
    /// a proxy), with the demo customers.
    pub async fn spawn_on(
        backend: Backend,
        url: String,
        tmp: Option<tempfile::TempDir>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        // Logs show with `HOTLINE_LOG=debug cargo test -- --nocapture`.
        if let Ok(filter) = std::env::var("HOTLINE_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut cfg = Config {
            listen: listener.local_addr().expect("addr"),
            public_url: base.clone(),
            database_url: Secret::new(url.clone()),
            api_token: Secret::new(API_TOKEN),
            ..Config::default()
        };
        cfg.twilio.auth_token = Secret::new(AUTH_TOKEN);
        cfg.twilio.account_sid = ACCOUNT_SID.into();
        let twilio = FakeTwilio::start(Simulator::new(&base, AUTH_TOKEN, ACCOUNT_SID))
            .await
            .expect("fake Twilio");
        cfg.twilio.api_base = twilio.base_url().to_string();
        // Tests run the dialer's rounds themselves, at the times they choose.
        cfg.callbacks.dial = false;
        // No balancer to wait for: a test that stops its app wants it stopped.
        cfg.http.shutdown_drain_ms = 0;
        tweak(&mut cfg);
        cfg.validate().expect("valid test config");
        let store = hotline::store::connect(&url).await.expect("store");
        let clock = Arc::new(FakeClock::new(START_MS));
        let state = AppState::with_store(cfg, store, clock.clone()).expect("state");
        hotline::demo::load(state.store.as_ref(), START_MS)
            .await
            .expect("demo data");
        let server_state = state.clone();
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let server = tokio::spawn(async move {
            http::serve(server_state, listener, async move {
                stopped.notified().await;
            })
            .await
        });
        TestApp {
            twilio,
            sim: Simulator::new(&base, AUTH_TOKEN, ACCOUNT_SID),
            base,
            state,
            clock,
            http: reqwest::Client::new(),
            backend,
            database_url: url,
            stop,
            server,
            _tmp: tmp,
        }
    }

    /// Sends an API request with the API token, and JSON `body` if any; the status and the
    /// JSON answer (`Null` when there is none). The answer must be one `docs/openapi.yaml`
    /// describes.
    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(API_TOKEN);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let answer = res.json().await.unwrap_or(serde_json::Value::Null);
        super::openapi::assert_documented(method.as_str(), path, status, &answer);
        (status, answer)
    }

    pub async fn api_get(&self, path: &str) -> (u16, serde_json::Value) {
        self.api_send(reqwest::Method::GET, path, None).await
    }

    pub async fn api_post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.api_send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn api_put(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.api_send(reqwest::Method::PUT, path, Some(body)).await
    }
}

impl TestApp {
    /// An active agent (role agent) whose phone is `phone`, speaking `locale`.
    pub async fn create_agent(
        &self,
        login: &str,
        phone: &str,
        locale: hotline::prompts::Locale,
    ) -> hotline::agents::Agent {
        let agent = hotline::agents::NewAgent {
            phone: Some(phone.into()),
            locale,
            ..super::fixtures::agent(login, hotline::agents::Role::Agent)
        };
        self.state
            .store
            .create_agent(&agent, self.clock.now_ms())
            .await
            .expect("agent")
    }
}

/// Epoch ms of a wall-clock time in Shanghai (the test operator's time zone).
pub fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    use chrono::TimeZone;
    let naive = chrono::NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, min, 0))
        .expect("valid time");
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&naive)
        .single()
        .expect("unambiguous")
        .timestamp_millis()
}

/// Runs an async test body against both backends: `both!(name, |app| async move { … })`.
/// The calling module has `TestApp` and `Backend` in scope.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
                ($body)(app).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(app) = TestApp::spawn(Backend::Postgres).await else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}
pub(crate) use both;

/// `both!` with a tweaked configuration: `both_with!(name, |cfg| …, |app| async move { … })`.
macro_rules! both_with {
    ($name:ident, $tweak:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let app = TestApp::spawn_with(Backend::Sqlite, $tweak)
                    .await
                    .expect("sqlite app");
                ($body)(app).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(app) = TestApp::spawn_with(Backend::Postgres, $tweak).await else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}
pub(crate) use both_with;

/// Test bodies are `async move` blocks, which capture only the fields they use; a `Drop`
/// impl makes them capture the whole app, so the temporary SQLite directory outlives the test.
impl Drop for TestApp {
    fn drop(&mut self) {}
}
