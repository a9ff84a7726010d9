//! The delivery worker: claims due deliveries, POSTs them signed, and records the outcome.
//!
//! Rules:
//! - Deliveries are claimed with a lease (`claim_deliveries(now, now + lease)`), so two
//!   instances (or the background loop and a test calling `run_once`) never send the same
//!   delivery at the same time, and a delivery whose sender died is sent again after the
//!   lease.
//! - A 2xx answer delivers; anything else (another status, a refused connection, a timeout,
//!   a redirect, which is not followed) is retried after `backoff(attempts)` plus up to 20%
//!   jitter, until `give_up_after_hours` have passed since the event: the attempt at or past
//!   that time marks the delivery failed. A failed delivery re-sent through the API gets one
//!   attempt and is failed again if that one fails too.
//! - Delivery is at least once: if the receiver's 2xx answer cannot be recorded, the same
//!   message (same `webhook-id`) is sent again later, and receivers deduplicate by that id.
//! - Every time comes from the app's `Clock`, so tests move time with a `FakeClock`.
//! - Logs name the endpoint's host, the status and the error, never a secret or a full URL.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::sign::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::{AttemptResult, Delivery, DeliveryJob, DeliveryState};
use crate::clock::Clock;
use crate::config::WebhookConfig;
use crate::tickets::{TicketEvent, TicketState};
use crate::webhooks::repo::WebhookStore;

/// How long the loop sleeps when nothing is due.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Deliveries claimed at once.
pub const BATCH: i64 = 32;
/// Attempts in flight at once.
pub const CONCURRENCY: usize = 8;
/// Shortest lease of a claim; longer when attempts may take longer.
pub const MIN_LEASE: Duration = Duration::from_secs(60);
/// `user-agent` of every request.
pub const USER_AGENT: &str = "hotline-webhooks";
/// Longest error text stored with a delivery.
const ERROR_MAX_CHARS: usize = 200;

/// The message id of an event: `evt_<id>`, the same on every attempt.
pub fn message_id(event_id: i64) -> String {
    format!("evt_{event_id}")
}

/// The webhook type of an event kind: `ticket.<kind>`.
pub fn event_type(kind: &str) -> String {
    format!("ticket.{kind}")
}

/// The body sent for an event.
#[derive(Debug, Clone, Serialize)]
pub struct Payload<'a> {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened (RFC 3339).
    pub created_at: String,
    pub data: PayloadData<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadData<'a> {
    pub ticket_number: &'a str,
    /// The event kind (`opened`, `resolved`…).
    pub kind: &'a str,
    pub actor: &'a str,
    pub from_state: Option<TicketState>,
    pub to_state: Option<TicketState>,
    pub detail: &'a serde_json::Value,
    /// When the event happened (RFC 3339).
    pub at: String,
}

impl<'a> Payload<'a> {
    pub fn new(e: &'a TicketEvent) -> Self {
        let at = crate::clock::rfc3339(e.at);
        Payload {
            id: message_id(e.id),
            kind: event_type(&e.kind),
            created_at: at.clone(),
            data: PayloadData {
                ticket_number: &e.ticket_number,
                kind: &e.kind,
                actor: &e.actor,
                from_state: e.from_state,
                to_state: e.to_state,
                detail: &e.detail,
                at,
            },
        }
    }
}

/// The delay after the `attempts`-th failed attempt, before jitter: 5 s, 30 s, 2 min,
/// 10 min, 30 min, then every hour.
pub fn backoff(attempts: i32) -> Duration {
    let secs = match attempts {
        ..=1 => 5,
        2 => 30,
        3 => 2 * 60,
        4 => 10 * 60,
        5 => 30 * 60,
        _ => 60 * 60,
    };
    Duration::from_secs(secs)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `backoff` plus up to 20% so receivers coming back are not hit by every sender at once.
fn jittered(base: Duration) -> i64 {
    let ms = millis(base);
    ms + rand::Rng::random_range(&mut rand::rng(), 0..=ms / 5)
}

/// What to record after an attempt on `d` that ended at `now` with the receiver's status or
/// an error text.
pub fn outcome(
    d: &Delivery,
    answered: Result<u16, String>,
    now: i64,
    give_up_after_ms: i64,
) -> AttemptResult {
    let (status, error) = match answered {
        Ok(s) if (200..300).contains(&s) => {
            return AttemptResult {
                delivery_id: d.id,
                state: DeliveryState::Delivered,
                status: Some(i32::from(s)),
                error: None,
                at: now,
                next_attempt_at: now,
            };
        }
        Ok(s) => (
            Some(i32::from(s)),
            format!("the receiver answered HTTP {s}"),
        ),
        Err(e) => (None, e),
    };
    let give_up_at = d.created_at.saturating_add(give_up_after_ms);
    let (state, next_attempt_at) = if now >= give_up_at {
        (DeliveryState::Failed, now)
    } else {
        let next = now.saturating_add(jittered(backoff(d.attempts + 1)));
        // The last attempt happens when the time is up, not an hour after.
        (DeliveryState::Pending, next.min(give_up_at))
    };
    AttemptResult {
        delivery_id: d.id,
        state,
        status,
        error: Some(truncate(&error, ERROR_MAX_CHARS)),
        at: now,
        next_attempt_at,
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A short description of a failed request, without the URL (it may carry credentials).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    // The innermost cause says most ("Connection refused (os error 111)").
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    };
    let cause = cause.to_string();
    if cause.contains("://") {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

/// The host of a URL, for logs.
fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "(invalid URL)".into())
}

/// Sends deliveries. Cheap to clone; clones share the limit on attempts in flight.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn WebhookStore>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    timeout: Duration,
    lease: Duration,
    give_up_after_ms: i64,
    in_flight: Arc<Semaphore>,
}

impl Worker {
    pub fn new(store: Arc<dyn WebhookStore>, clock: Arc<dyn Clock>, cfg: &WebhookConfig) -> Self {
        let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
        // A batch waits for at most BATCH / CONCURRENCY rounds of attempts.
        let rounds = u32::try_from(BATCH as usize / CONCURRENCY + 1).unwrap_or(u32::MAX);
        let lease = MIN_LEASE.max(timeout.saturating_mul(rounds) + Duration::from_secs(10));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(USER_AGENT)
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "webhook HTTP client: using the defaults");
                reqwest::Client::new()
            });
        Worker {
            store,
            clock,
            http,
            timeout,
            lease,
            give_up_after_ms: i64::from(cfg.give_up_after_hours) * 3_600_000,
            in_flight: Arc::new(Semaphore::new(CONCURRENCY)),
        }
    }

    /// Claims one batch of due deliveries and attempts them all (up to `CONCURRENCY` at a
    /// time); returns how many were attempted.
    pub async fn run_once(&self) -> usize {
        let now = self.clock.now_ms();
        let lease_until = now.saturating_add(millis(self.lease));
        let jobs = match self.store.claim_deliveries(now, lease_until, BATCH).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed; will retry");
                return 0;
            }
        };
        let count = jobs.len();
        let mut attempts = JoinSet::new();
        for job in jobs {
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                break; // never closed
            };
            let worker = self.clone();
            attempts.spawn(async move {
                worker.attempt(job).await;
                drop(permit);
            });
        }
        while let Some(done) = attempts.join_next().await {
            if let Err(e) = done {
                // The delivery stays leased and is tried again after the lease.
                tracing::error!(error = %e, "a webhook attempt panicked");
            }
        }
        count
    }

    /// Runs until the task is dropped: a batch whenever one is due, else a nap.
    pub async fn run(self) {
        loop {
            let n = self.run_once().await;
            if n < BATCH as usize {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }

    /// Sends one delivery and records how it went.
    async fn attempt(&self, job: DeliveryJob) {
        let now = self.clock.now_ms();
        let id = message_id(job.event.id);
        let host = host(&job.url);
        let answered = match serde_json::to_vec(&Payload::new(&job.event)) {
            Ok(body) => {
                let ts = now.div_euclid(1000);
                let signature = sign::sign(job.secret.expose(), &id, ts, &body);
                self.http
                    .post(&job.url)
                    .timeout(self.timeout)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::USER_AGENT, USER_AGENT)
                    .header(HEADER_ID, &id)
                    .header(HEADER_TIMESTAMP, ts.to_string())
                    .header(HEADER_SIGNATURE, signature)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| describe(&e, self.timeout))
            }
            Err(e) => Err(format!("could not encode the event: {e}")),
        };
        let result = outcome(
            &job.delivery,
            answered,
            self.clock.now_ms(),
            self.give_up_after_ms,
        );
        let d = &job.delivery;
        let attempts = d.attempts + 1;
        match result.state {
            DeliveryState::Delivered => tracing::debug!(
                delivery = d.id, message = %id, %host, status = result.status, attempts,
                "webhook delivered"
            ),
            DeliveryState::Pending => tracing::warn!(
                delivery = d.id, message = %id, %host, status = result.status,
                error = result.error.as_deref().unwrap_or(""), attempts,
                retry_in_ms = result.next_attempt_at - result.at,
                "webhook attempt failed; will retry"
            ),
            DeliveryState::Failed => tracing::warn!(
                delivery = d.id, message = %id, %host, status = result.status,
                error = result.error.as_deref().unwrap_or(""), attempts,
                "webhook delivery given up; it can be re-sent through the API"
            ),
        }
        if let Err(e) = self.store.finish_delivery(&result).await {
            tracing::warn!(
                delivery = d.id, error = %e,
                "recording a webhook attempt failed; it is tried again after its lease"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn delivery(attempts: i32, created_at: i64) -> Delivery {
        Delivery {
            id: 9,
            endpoint_id: 1,
            event_id: 4,
            state: DeliveryState::Pending,
            attempts,
            next_attempt_at: created_at,
            last_status: None,
            last_error: None,
            delivered_at: None,
            created_at,
        }
    }

    #[test]
    fn backoff_grows_then_stays_hourly() {
        let secs: Vec<u64> = (1..=8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [5, 30, 120, 600, 1800, 3600, 3600, 3600]);
        for a in 1..=8 {
            let base = millis(backoff(a));
            for _ in 0..50 {
                let j = jittered(backoff(a));
                assert!(j >= base && j <= base + base / 5, "{a}: {j}");
            }
        }
    }

    #[test]
    fn two_hundreds_deliver() {
        for s in [200, 201, 204, 299] {
            let r = outcome(&delivery(3, 0), Ok(s), 1000, 72 * HOUR);
            assert_eq!(r.state, DeliveryState::Delivered);
            assert_eq!(r.status, Some(i32::from(s)));
            assert_eq!(r.error, None);
            assert_eq!((r.delivery_id, r.at), (9, 1000));
        }
    }

    #[test]
    fn anything_else_is_retried_with_backoff() {
        let now = 10_000;
        let r = outcome(&delivery(0, 0), Ok(500), now, 72 * HOUR);
        assert_eq!(r.state, DeliveryState::Pending);
        assert_eq!(r.status, Some(500));
        assert_eq!(r.error.as_deref(), Some("the receiver answered HTTP 500"));
        assert!((now + 5_000..=now + 6_000).contains(&r.next_attempt_at));
        for s in [301, 400, 404, 503] {
            assert_eq!(
                outcome(&delivery(0, 0), Ok(s), now, HOUR).state,
                DeliveryState::Pending
            );
        }
        let r = outcome(
            &delivery(2, 0),
            Err("could not connect".into()),
            now,
            72 * HOUR,
        );
        assert_eq!(
            (r.status, r.error.as_deref()),
            (None, Some("could not connect"))
        );
        assert!((now + 120_000..=now + 144_000).contains(&r.next_attempt_at));
    }

    #[test]
    fn gives_up_when_the_configured_hours_have_passed() {
        let created = 1_000_000;
        // Just before the time is up: the next attempt is at that time, not later.
        let r = outcome(
            &delivery(9, created),
            Ok(500),
            created + 2 * HOUR - 10,
            2 * HOUR,
        );
        assert_eq!(r.state, DeliveryState::Pending);
        assert_eq!(r.next_attempt_at, created + 2 * HOUR);
        // At or past it: failed.
        for now in [created + 2 * HOUR, created + 3 * HOUR] {
            let r = outcome(&delivery(10, created), Err("x".into()), now, 2 * HOUR);
            assert_eq!(r.state, DeliveryState::Failed);
            assert_eq!(r.error.as_deref(), Some("x"));
        }
    }

    #[test]
    fn long_errors_are_cut() {
        let r = outcome(&delivery(0, 0), Err("é".repeat(500)), 1, HOUR);
        let e = r.error.expect("error");
        assert_eq!(e.chars().count(), ERROR_MAX_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn the_payload_has_the_documented_shape() {
        let e = TicketEvent {
            id: 42,
            ticket_id: 7,
            ticket_number: "12345674".into(),
            kind: "resolved".into(),
            actor: "tech-7".into(),
            from_state: Some(TicketState::InProgress),
            to_state: Some(TicketState::Resolved),
            detail: serde_json::json!({ "code": "fixed" }),
            at: 1_780_272_000_000,
        };
        let body = serde_json::to_value(Payload::new(&e)).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "id": "evt_42",
                "type": "ticket.resolved",
                "created_at": "2026-06-01T00:00:00+00:00",
                "data": {
                    "ticket_number": "12345674",
                    "kind": "resolved",
                    "actor": "tech-7",
                    "from_state": "in_progress",
                    "to_state": "resolved",
                    "detail": { "code": "fixed" },
                    "at": "2026-06-01T00:00:00+00:00",
                }
            })
        );
    }

    #[test]
    fn hosts_are_logged_without_the_rest_of_the_url() {
        assert_eq!(
            host("https://user:pw@hooks.example.com/x?token=1"),
            "hooks.example.com"
        );
        assert_eq!(host("nonsense"), "(invalid URL)");
    }
}
