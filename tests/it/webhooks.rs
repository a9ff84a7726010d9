//! Outgoing webhooks end to end, on SQLite and on PostgreSQL: a small receiver on
//! 127.0.0.1 records what it is sent (and can fail, or be down), ticket changes go through
//! the desk, and the worker is driven with `run_once` while the fake clock moves.
//!
//! The app's own background worker runs too (`serve` spawns it), so tests wait for the
//! deliveries to settle rather than for a particular worker to send them: either may, never
//! both, because claims are leased.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::app::{API_TOKEN, Backend, HOUR, START_MS, TestApp, both, both_with};
use crate::support::fixtures;
use crate::support::openapi;
use hotline::clock::{Clock, FakeClock};
use hotline::config::Config;
use hotline::http::AppState;
use hotline::secret::Secret;
use hotline::tickets::{Action, Channel, NewTicket, Ticket, TicketKind};
use hotline::webhooks::sign::{self, DEFAULT_TOLERANCE_SECS};
use hotline::webhooks::worker::Worker;
use hotline::webhooks::{Delivery, DeliveryState, NewEndpoint};

// ---------------------------------------------------------------------------------------
// The receiver.

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    fn timestamp(&self) -> i64 {
        self.header("webhook-timestamp").parse().expect("timestamp")
    }
}

#[derive(Debug, Default)]
struct Inbox {
    requests: Vec<Received>,
    /// Answer 500 to this many more requests.
    fail_next: usize,
}

type Shared = Arc<Mutex<Inbox>>;

/// Records every request; answers 500 while told to fail, else 204. `down` closes the port
/// (connections are refused) and `up` opens the same port again.
struct Receiver {
    addr: SocketAddr,
    inbox: Shared,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

async fn hook(State(inbox): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inbox = inbox.lock().expect("inbox");
    inbox.requests.push(Received { headers, body });
    if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    inbox: Shared,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let app = Router::new().route("/hook", post(hook)).with_state(inbox);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        let inbox = Shared::default();
        let server = serve(listener, inbox.clone());
        Receiver {
            addr,
            inbox,
            server: Mutex::new(Some(server)),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn fail_next(&self, n: usize) {
        self.inbox.lock().expect("inbox").fail_next = n;
    }

    fn requests(&self) -> Vec<Received> {
        self.inbox.lock().expect("inbox").requests.clone()
    }

    /// Requests received per `webhook-id`.
    fn count_by_id(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.requests() {
            *counts
                .entry(r.header("webhook-id").to_string())
                .or_insert(0) += 1;
        }
        counts
    }

    async fn down(&self) {
        let server = self.server.lock().expect("server").take();
        if let Some((stop, task)) = server {
            let _ = stop.send(());
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                panic!("the receiver did not stop");
            }
        }
    }

    async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the receiver's port again");
        let server = serve(listener, self.inbox.clone());
        *self.server.lock().expect("server") = Some(server);
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

const SECOND: i64 = 1000;

/// Subscribes `url` to `events` through the API; the endpoint's id and secret.
async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let (status, body) = app
        .api_post(
            "/api/v1/webhooks",
            &json!({ "url": url, "events": events, "description": "test receiver" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    (body["id"].as_i64().expect("id"), secret)
}

async fn deliveries_api(app: &TestApp, endpoint: i64) -> Vec<Value> {
    let (status, body) = app
        .api_get(&format!("/api/v1/webhooks/{endpoint}/deliveries"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().expect("deliveries").clone()
}

/// Opens a fault ticket on the first demo customer's line at `now`.
async fn open_fault(st: &AppState, now: i64) -> Ticket {
    let acc = st
        .steps
        .store
        .account_by_no("10000001")
        .await
        .expect("store")
        .expect("demo account");
    let line = acc.lines.first().expect("a line").clone();
    st.steps
        .desk
        .open(
            NewTicket {
                channel: Channel::Api,
                category: Some("no_dial_tone".into()),
                description: "no dial tone since this morning".into(),
                callback_number: None,
                actor: "api".into(),
                ..fixtures::reported(TicketKind::Fault, &acc, &line)
            },
            now,
        )
        .await
        .expect("open a ticket")
}

async fn change(st: &AppState, number: &str, action: Action, actor: &str) -> Ticket {
    st.steps
        .desk
        .change(number, &action, actor, None)
        .await
        .expect("change the ticket")
}

fn assign() -> Action {
    Action::Assign {
        assignee: "tech-7".into(),
        note: None,
    }
}

fn resolve() -> Action {
    Action::Resolve {
        code: "fixed".into(),
        note: "replaced the modem".into(),
    }
}

/// Runs the worker until the endpoint's deliveries satisfy `done` (the app's own
/// background worker may be the one that sends them).
async fn settle(
    st: &AppState,
    worker: &Worker,
    endpoint: i64,
    what: &str,
    done: impl Fn(&[Delivery]) -> bool,
) -> Vec<Delivery> {
    let mut last = Vec::new();
    for _ in 0..500 {
        worker.run_once().await;
        last = st
            .steps
            .store
            .deliveries(endpoint, 0, 1000)
            .await
            .expect("deliveries");
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {last:#?}");
}

fn all_delivered(n: usize) -> impl Fn(&[Delivery]) -> bool {
    move |ds| ds.len() == n && ds.iter().all(|d| d.state == DeliveryState::Delivered)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339()
}

/// The state of an app over the database at `url`, without a server or background worker:
/// what an instance starting on that database sees.
async fn state_on(url: &str, clock: Arc<FakeClock>) -> AppState {
    let cfg = Config {
        database_url: Secret::new(url.to_string()),
        api_token: Secret::new(API_TOKEN),
        ..Config::default()
    };
    let store = hotline::store::connect(url).await.expect("store");
    AppState::with_store(cfg, store, clock).expect("state")
}

// ---------------------------------------------------------------------------------------
// Tests.

both!(
    subscribed_events_are_delivered_signed_and_only_those,
    |app: TestApp| async move {
        let rx = Receiver::start().await;
        let (endpoint, secret) =
            subscribe(&app, &rx.url(), &["ticket.opened", "ticket.resolved"]).await;
        assert!(secret.starts_with("whsec_"), "{secret}");

        // Listings never show the secret.
        let (status, list) = app.api_get("/api/v1/webhooks").await;
        assert_eq!(status, 200, "{list}");
        let hooks = list["webhooks"].as_array().expect("webhooks");
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0]["id"], endpoint);
        assert_eq!(hooks[0]["url"], rx.url());
        assert_eq!(
            hooks[0]["events"],
            json!(["ticket.opened", "ticket.resolved"])
        );
        assert_eq!(hooks[0]["description"], "test receiver");
        assert_eq!(hooks[0]["active"], true);
        assert!(hooks[0].get("secret").is_none(), "{list}");
        assert!(!list.to_string().contains(&secret[6..]), "{list}");

        // Opened, assigned (not subscribed) and resolved.
        let t = open_fault(&app.state, app.clock.now_ms()).await;
        change(&app.state, &t.number, assign(), "dispatcher").await;
        change(&app.state, &t.number, resolve(), "tech-7").await;

        let w = app.state.webhook_worker();
        let ds = settle(&app.state, &w, endpoint, "two deliveries", all_delivered(2)).await;
        assert!(
            ds.iter()
                .all(|d| d.attempts == 1 && d.last_status == Some(204))
        );

        let history = app
            .state
            .steps
            .store
            .ticket_history(t.id)
            .await
            .expect("history");
        let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "assigned", "resolved"]);

        let requests = rx.requests();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        let now_secs = app.clock.now_ms() / 1000;
        let mut types = Vec::new();
        for r in &requests {
            assert_eq!(r.header("content-type"), "application/json");
            assert_eq!(r.header("user-agent"), "hotline-webhooks");
            assert_eq!(r.timestamp(), now_secs);
            assert!(r.header("webhook-signature").starts_with("v1,"));
            assert!(
                sign::verify(
                    &secret,
                    &r.headers,
                    &r.body,
                    now_secs,
                    DEFAULT_TOLERANCE_SECS
                ),
                "the signature verifies"
            );
            assert!(
                !sign::verify(
                    &sign::new_secret(),
                    &r.headers,
                    &r.body,
                    now_secs,
                    DEFAULT_TOLERANCE_SECS
                ),
                "not under another secret"
            );
            let body = r.json();
            let event = history
                .iter()
                .find(|e| format!("evt_{}", e.id) == r.header("webhook-id"))
                .expect("the webhook-id names an event of the ticket");
            assert_eq!(
                body,
                json!({
                    "id": format!("evt_{}", event.id),
                    "type": format!("ticket.{}", event.kind),
                    "created_at": rfc3339(event.at),
                    "data": {
                        "ticket_number": t.number,
                        "kind": event.kind,
                        "actor": event.actor,
                        "from_state": event.from_state,
                        "to_state": event.to_state,
                        "detail": event.detail,
                        "at": rfc3339(event.at),
                    }
                })
            );
            types.push(body["type"].as_str().unwrap_or("").to_string());
        }
        types.sort();
        assert_eq!(types, ["ticket.opened", "ticket.resolved"]);
        let resolved = requests
            .iter()
            .map(Received::json)
            .find(|b| b["type"] == "ticket.resolved")
            .expect("resolved");
        assert_eq!(resolved["data"]["from_state"], "assigned");
        assert_eq!(resolved["data"]["to_state"], "resolved");
        assert_eq!(resolved["data"]["detail"]["code"], "fixed");

        // The deliveries API shows them delivered.
        let views = deliveries_api(&app, endpoint).await;
        assert_eq!(views.len(), 2);
        for v in &views {
            assert_eq!(v["state"], "delivered", "{v}");
            assert_eq!(v["attempts"], 1);
            assert_eq!(v["last_status"], 204);
            assert_eq!(v["last_error"], Value::Null);
            assert_eq!(v["next_attempt_at"], Value::Null);
            assert_eq!(v["delivered_at"], rfc3339(app.clock.now_ms()));
            assert_eq!(v["endpoint_id"], endpoint);
            assert!(v["webhook_id"].as_str().unwrap_or("").starts_with("evt_"));
        }
    }
);

both!(
    a_failing_receiver_gets_retries_with_backoff_until_delivered,
    |app: TestApp| async move {
        let rx = Receiver::start().await;
        rx.fail_next(2);
        let (endpoint, secret) = subscribe(&app, &rx.url(), &["ticket.opened"]).await;
        let t0 = app.clock.now_ms();
        open_fault(&app.state, t0).await;
        let w = app.state.webhook_worker();

        // First attempt: 500, retried 5 s (plus jitter) later.
        let ds = settle(&app.state, &w, endpoint, "a first attempt", |ds| {
            ds.len() == 1 && ds[0].attempts == 1
        })
        .await;
        let d = &ds[0];
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.last_status, Some(500));
        assert!(
            d.last_error.as_deref().unwrap_or("").contains("500"),
            "{d:?}"
        );
        assert!(
            (t0 + 5 * SECOND..=t0 + 6 * SECOND).contains(&d.next_attempt_at),
            "{d:?}"
        );
        let views = deliveries_api(&app, endpoint).await;
        assert_eq!(views[0]["state"], "pending");
        assert_eq!(views[0]["attempts"], 1);
        assert_eq!(views[0]["last_status"], 500);
        assert_eq!(views[0]["next_attempt_at"], rfc3339(d.next_attempt_at));

        // Not due yet: nothing is sent.
        app.clock.advance_ms(4 * SECOND);
        assert_eq!(w.run_once().await, 0);
        assert_eq!(rx.requests().len(), 1);

        // Due: a second attempt, 500 again, then 30 s.
        app.clock.advance_ms(3 * SECOND);
        let t1 = app.clock.now_ms();
        let ds = settle(&app.state, &w, endpoint, "a second attempt", |ds| {
            ds[0].attempts == 2
        })
        .await;
        assert_eq!(ds[0].state, DeliveryState::Pending);
        assert_eq!(ds[0].last_status, Some(500));
        assert!(
            (t1 + 30 * SECOND..=t1 + 36 * SECOND).contains(&ds[0].next_attempt_at),
            "{:?}",
            ds[0]
        );
        app.clock.advance_ms(20 * SECOND);
        assert_eq!(w.run_once().await, 0);

        // The third attempt is answered 2xx.
        app.clock.advance_ms(17 * SECOND);
        let ds = settle(&app.state, &w, endpoint, "delivery", all_delivered(1)).await;
        assert_eq!(ds[0].attempts, 3);
        assert_eq!(ds[0].last_status, Some(204));
        assert_eq!(ds[0].last_error, None);
        let views = deliveries_api(&app, endpoint).await;
        assert_eq!(views[0]["state"], "delivered");
        assert_eq!(views[0]["attempts"], 3);
        assert_eq!(views[0]["last_status"], 204);

        // Three requests of the same message, each signed for its own timestamp.
        let requests = rx.requests();
        assert_eq!(requests.len(), 3);
        let id = format!("evt_{}", ds[0].event_id);
        let stamps: Vec<i64> = requests.iter().map(Received::timestamp).collect();
        assert_eq!(stamps, [t0 / 1000, t1 / 1000, app.clock.now_ms() / 1000]);
        for r in &requests {
            assert_eq!(r.header("webhook-id"), id);
            assert_eq!(r.body, requests[0].body, "the same body every time");
            assert!(sign::verify(
                &secret,
                &r.headers,
                &r.body,
                r.timestamp(),
                DEFAULT_TOLERANCE_SECS
            ));
        }
    }
);

both!(
    deliveries_owed_survive_a_restart,
    |app: TestApp| async move {
        // A database of its own, so no background worker ever sees it.
        let Some((url, _dir)) = crate::support::db::fresh(app.backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        rx.down().await;

        // First instance: events are written while no worker runs, then one attempt each
        // finds the receiver down.
        let clock = Arc::new(FakeClock::new(START_MS));
        let first = state_on(&url, clock.clone()).await;
        hotline::demo::load(first.steps.store.as_ref(), START_MS)
            .await
            .expect("demo data");
        let secret = sign::new_secret();
        let endpoint = first
            .steps
            .store
            .add_endpoint(
                &NewEndpoint {
                    url: rx.url(),
                    secret: hotline::secret::Secret::new(secret.clone()),
                    events: vec!["*".into()],
                    description: String::new(),
                },
                START_MS,
            )
            .await
            .expect("endpoint")
            .id;
        let mut numbers = Vec::new();
        for _ in 0..3 {
            let t = open_fault(&first, START_MS).await;
            change(&first, &t.number, assign(), "dispatcher").await;
            numbers.push(t.number);
        }
        let owed = first
            .steps
            .store
            .deliveries(endpoint, 0, 100)
            .await
            .expect("deliveries");
        assert_eq!(owed.len(), 6);
        assert!(owed.iter().all(|d| d.state == DeliveryState::Pending));
        let worker = first.webhook_worker();
        assert_eq!(worker.run_once().await, 6);
        let ds = first
            .steps
            .store
            .deliveries(endpoint, 0, 100)
            .await
            .expect("deliveries");
        for d in &ds {
            assert_eq!(
                (d.state, d.attempts, d.last_status),
                (DeliveryState::Pending, 1, None)
            );
            assert!(
                d.last_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("could not connect"),
                "{d:?}"
            );
            assert!(!d.last_error.as_deref().unwrap_or("").contains(&secret[6..]));
        }
        assert!(rx.requests().is_empty());
        drop(worker);
        drop(first);

        // A new instance on the same database, a minute later, with the receiver back.
        rx.up().await;
        let second = state_on(&url, Arc::new(FakeClock::new(START_MS + 60 * SECOND))).await;
        let worker = second.webhook_worker();
        settle(
            &second,
            &worker,
            endpoint,
            "every delivery",
            all_delivered(6),
        )
        .await;
        let events = second
            .steps
            .store
            .ticket_events_after(0, 100)
            .await
            .expect("events");
        assert_eq!(events.len(), 6);
        let expected: BTreeMap<String, usize> = events
            .iter()
            .map(|e| (format!("evt_{}", e.id), 1))
            .collect();
        assert_eq!(rx.count_by_id(), expected, "each event once");
        let now_secs = (START_MS + 60 * SECOND) / 1000;
        for r in rx.requests() {
            assert!(sign::verify(
                &secret,
                &r.headers,
                &r.body,
                now_secs,
                DEFAULT_TOLERANCE_SECS
            ));
            assert!(
                numbers.contains(
                    &r.json()["data"]["ticket_number"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()
                )
            );
        }
        drop(worker);
        drop(second);

        // And a third instance, hours later, owes nothing.
        let third = state_on(&url, Arc::new(FakeClock::new(START_MS + 5 * HOUR))).await;
        let worker = third.webhook_worker();
        for _ in 0..3 {
            assert_eq!(worker.run_once().await, 0);
        }
        assert_eq!(rx.requests().len(), 6);
    }
);

both!(
    an_acknowledged_delivery_is_never_sent_again,
    |app: TestApp| async move {
        let rx = Receiver::start().await;
        let (endpoint, _) = subscribe(
            &app,
            &rx.url(),
            &["ticket.opened", "ticket.assigned", "ticket.resolved"],
        )
        .await;
        for _ in 0..2 {
            let t = open_fault(&app.state, app.clock.now_ms()).await;
            change(&app.state, &t.number, assign(), "dispatcher").await;
            change(&app.state, &t.number, resolve(), "tech-7").await;
        }
        let w = app.state.webhook_worker();
        settle(&app.state, &w, endpoint, "six deliveries", all_delivered(6)).await;
        let sent = rx.count_by_id();
        assert_eq!(sent.len(), 6);
        assert!(sent.values().all(|n| *n == 1), "{sent:?}");

        // Time passes, the worker keeps running: nothing more is sent.
        for advance in [SECOND, 2 * HOUR, 24 * HOUR, 100 * HOUR] {
            app.clock.advance_ms(advance);
            assert_eq!(w.run_once().await, 0);
        }
        // Give the app's background worker a few polls too.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(rx.count_by_id(), sent);

        // Nor after a restart.
        let restarted = state_on(
            &app.database_url,
            Arc::new(FakeClock::new(app.clock.now_ms() + HOUR)),
        )
        .await;
        let again = restarted.webhook_worker();
        for _ in 0..3 {
            assert_eq!(again.run_once().await, 0);
        }
        assert_eq!(rx.count_by_id(), sent);

        // The deliveries are paged.
        let (status, page) = app
            .api_get(&format!("/api/v1/webhooks/{endpoint}/deliveries?limit=4"))
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["deliveries"].as_array().map(Vec::len), Some(4));
        let after = page["next_after"].as_i64().expect("a next page");
        let (_, rest) = app
            .api_get(&format!(
                "/api/v1/webhooks/{endpoint}/deliveries?after={after}&limit=4"
            ))
            .await;
        assert_eq!(rest["deliveries"].as_array().map(Vec::len), Some(2));
        assert_eq!(rest["next_after"], Value::Null);
    }
);

both_with!(
    gives_up_after_the_configured_hours_and_a_retry_resends,
    |cfg: &mut Config| cfg.webhooks.give_up_after_hours = 2,
    |app: TestApp| async move {
        let rx = Receiver::start().await;
        rx.down().await;
        let (endpoint, secret) = subscribe(&app, &rx.url(), &["ticket.opened"]).await;
        let t0 = app.clock.now_ms();
        open_fault(&app.state, t0).await;
        let w = app.state.webhook_worker();
        let ds = settle(&app.state, &w, endpoint, "a first attempt", |ds| {
            ds.len() == 1 && ds[0].attempts == 1
        })
        .await;
        assert_eq!(ds[0].last_status, None);
        assert!(
            ds[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("could not connect"),
            "{:?}",
            ds[0]
        );

        // An hour in, still pending.
        app.clock.advance_ms(HOUR);
        let ds = settle(&app.state, &w, endpoint, "a second attempt", |ds| {
            ds[0].attempts == 2
        })
        .await;
        assert_eq!(ds[0].state, DeliveryState::Pending);

        // Two hours after the event: given up.
        app.clock.advance_ms(HOUR);
        let ds = settle(&app.state, &w, endpoint, "giving up", |ds| {
            ds[0].state == DeliveryState::Failed
        })
        .await;
        assert_eq!(ds[0].attempts, 3);
        let delivery = ds[0].id;
        let views = deliveries_api(&app, endpoint).await;
        assert_eq!(views[0]["state"], "failed");
        assert_eq!(views[0]["attempts"], 3);
        assert_eq!(views[0]["next_attempt_at"], Value::Null);
        assert!(views[0]["last_error"].is_string());
        app.clock.advance_ms(HOUR);
        assert_eq!(w.run_once().await, 0, "a failed delivery is left alone");

        // Re-sent through the API once the receiver is back.
        rx.up().await;
        let retry = format!("/api/v1/webhooks/{endpoint}/deliveries/{delivery}/retry");
        let (status, body) = app.api_post(&retry, &json!({})).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["state"], "pending");
        assert_eq!(body["id"], delivery);
        let ds = settle(&app.state, &w, endpoint, "delivery", all_delivered(1)).await;
        assert_eq!(ds[0].attempts, 4);
        let requests = rx.requests();
        assert_eq!(requests.len(), 1);
        assert!(sign::verify(
            &secret,
            &requests[0].headers,
            &requests[0].body,
            app.clock.now_ms() / 1000,
            DEFAULT_TOLERANCE_SECS
        ));

        // Only a failed delivery can be re-sent; unknown ones are not found.
        let (status, body) = app.api_post(&retry, &json!({})).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap_or("").contains("delivered"));
        let (status, _) = app
            .api_post(
                &format!(
                    "/api/v1/webhooks/{endpoint}/deliveries/{}/retry",
                    delivery + 1000
                ),
                &json!({}),
            )
            .await;
        assert_eq!(status, 404);
        let (other, _) = subscribe(&app, &rx.url(), &["*"]).await;
        let (status, _) = app
            .api_post(
                &format!("/api/v1/webhooks/{other}/deliveries/{delivery}/retry"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 404, "a delivery of another endpoint");
    }
);

both!(the_api_refuses_bad_input, |app: TestApp| async move {
    // No token, or a wrong one.
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/webhooks"),
        (reqwest::Method::POST, "/api/v1/webhooks"),
        (reqwest::Method::DELETE, "/api/v1/webhooks/1"),
        (reqwest::Method::GET, "/api/v1/webhooks/1/deliveries"),
        (
            reqwest::Method::POST,
            "/api/v1/webhooks/1/deliveries/1/retry",
        ),
    ] {
        let res = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .json(&json!({ "url": "http://127.0.0.1:1/hook", "events": ["*"] }))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 401, "{method} {path}");
        let res = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 401, "{method} {path}");
    }

    let bad = [
        (json!({ "events": ["*"] }), "url"),
        (json!({ "url": "", "events": ["*"] }), "url"),
        (json!({ "url": "not a url", "events": ["*"] }), "url"),
        (
            json!({ "url": "ftp://example.com/hook", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "hooks.example.com/x", "events": ["*"] }),
            "url",
        ),
        (json!({ "url": "https://example.com/hook" }), "events"),
        (
            json!({ "url": "https://example.com/hook", "events": [] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/hook", "events": ["ticket.exploded"] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/hook", "events": ["resolved"] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/hook", "events": ["*"], "description": "x".repeat(501) }),
            "description",
        ),
    ];
    for (body, field) in bad {
        let (status, err) = app.api_post("/api/v1/webhooks", &body).await;
        assert_eq!(status, 422, "{body} → {err}");
        assert_eq!(err["field"], field, "{body} → {err}");
        assert!(err["error"].is_string());
    }
    let (_, err) = app.api_post("/api/v1/webhooks", &json!({ "url": "https://example.com/hook", "events": ["ticket.resolved", "ticket.nope"] }))
    .await;
    let message = err["error"].as_str().unwrap_or("");
    assert!(message.contains("ticket.nope"), "{message}");
    for kind in hotline::tickets::EVENT_KINDS {
        assert!(message.contains(&format!("\"ticket.{kind}\"")), "{message}");
    }
    // Not JSON, or unknown fields.
    let (status, _) = app
        .api_post(
            "/api/v1/webhooks",
            &json!({ "url": "https://example.com/hook", "events": ["*"], "secret": "mine" }),
        )
        .await;
    assert_eq!(status, 400);
    let res = app
        .http
        .post(format!("{}/api/v1/webhooks", app.base))
        .bearer_auth(API_TOKEN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    let answer = res.json().await.unwrap_or(serde_json::Value::Null);
    openapi::assert_documented("POST", "/api/v1/webhooks", 400, &answer);
    let (_, list) = app.api_get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]), "nothing was created");

    // Unknown ids.
    let delete = async |path: String| app.api_send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(delete("/api/v1/webhooks/999".into()).await.0, 404);
    assert_eq!(delete("/api/v1/webhooks/abc".into()).await.0, 422);
    assert_eq!(app.api_get("/api/v1/webhooks/999/deliveries").await.0, 404);
    assert_eq!(
        app.api_post("/api/v1/webhooks/999/deliveries/1/retry", &json!({}))
            .await
            .0,
        404
    );

    // A real one: bad paging is refused, and it can be deleted once.
    let (id, _) = subscribe(&app, "https://example.com/hook", &["*", "ticket.opened"]).await;
    let (_, list) = app.api_get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"][0]["events"], json!(["*"]));
    let (status, err) = app
        .api_get(&format!("/api/v1/webhooks/{id}/deliveries?limit=0"))
        .await;
    assert_eq!((status, err["field"].clone()), (422, json!("limit")));
    let (status, _) = app
        .api_get(&format!("/api/v1/webhooks/{id}/deliveries?page=2"))
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .api_get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["deliveries"], json!([]));
    assert_eq!(delete(format!("/api/v1/webhooks/{id}")).await.0, 204);
    assert_eq!(delete(format!("/api/v1/webhooks/{id}")).await.0, 404);
    assert_eq!(
        app.api_get(&format!("/api/v1/webhooks/{id}/deliveries"))
            .await
            .0,
        404
    );
    let (_, list) = app.api_get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]));
});
