//! Several `hotline serve` processes on one PostgreSQL database, behind a load balancer the
//! test plays (issue 17, "Losing an instance loses nothing" and "Deploying without dropping a
//! call"), and what lets them run side by side: migrations started together, an older release
//! starting on a newer schema, and the drain before a shutdown.
//!
//! - `instance_loss`: three instances under a load of whole bill-enquiry calls whose steps go
//!   round robin across them; one is killed with SIGKILL mid-load while it is dialing
//!   callbacks. Every answered step is stored; calls carry on on the survivors (steps of one
//!   call answered by the dead instance, then by another); only requests in flight to the
//!   dead instance when it died fail; the callbacks it had claimed (their requests to the
//!   carrier unanswered when it died) are taken over by a survivor after the lease and dialed
//!   again once the carrier-busy pause (a minute) is over, once each.
//! - `rolling_restart`: three instances under that load are restarted one after the other
//!   (SIGTERM, wait for the exit, start a new process). Not one step fails, and every answered
//!   step is stored. `rolling_restart_behind_nginx` does the same with two instances behind a
//!   real nginx running `deploy/nginx.conf` (skipped, loudly, where nginx is not installed).
//! - `migrations_started_together` and `an_older_release_starts_on_a_newer_schema`: the
//!   migrator's advisory lock and its tolerance of migrations it does not know.
//! - `shutdown_drains_before_closing`: in process, on SQLite: after the shutdown signal
//!   `/readyz` fails while webhooks are still answered, then the listener closes.
//!
//! Rules:
//! - The instances are the binary built for the tests (`CARGO_BIN_EXE_hotline`), each with
//!   a small pool (PostgreSQL's connections are shared with other tests), listening on a port
//!   of their own choosing (`127.0.0.1:0`, read back from their log), all with one public URL:
//!   the balancer's, which webhooks are signed over, as behind a real one.
//! - The balancer (`Balancer`) polls every instance's `/readyz` and sends each request to the
//!   next ready instance on a new connection; like nginx's `proxy_next_upstream error`, it
//!   tries another instance only when the connection was refused, before anything was sent.
//!   Any other failure is the step's.
//! - No assertion on timing: the load is closed-loop and small, waits are generous deadlines
//!   on a condition, and the PostgreSQL tests are skipped, loudly, without a server unless
//!   `HOTLINE_REQUIRE_PG` is set.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::support::app::{ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, Backend, TestApp};
use crate::support::{db, demo, fixtures};
use hotline::callbacks::policy::CARRIER_BUSY_RETRY_MINUTES;
use hotline::callbacks::window::{CallingWindow, Days};
use hotline::callbacks::{NewCallback, NewCampaign};
use hotline::config::StoreOptions;
use hotline::prompts::Locale;
use hotline::repo::Store;
use hotline::surveys::script::Purpose;
use hotline::telephony::twilio::fake_api::{Behaviour, FakeTwilio};
use hotline::telephony::twilio::signature;
use hotline::telephony::twilio::simulator::Simulator;

/// The balancer's address as the carrier sees it: every instance is configured with it, and
/// every webhook is signed over it, whichever instance it reaches.
const PUBLIC_URL: &str = "http://hotline.test";
/// How often the balancer asks each instance's `/readyz`.
const POLL: Duration = Duration::from_millis(100);
/// The instances' drain: many polls long, so the balancer has stopped sending to an instance
/// well before its listener closes, even on a busy machine.
const DRAIN_MS: u64 = 2_000;
/// Calls in flight at once.
const CALLERS: usize = 6;
/// Connections each instance may hold to PostgreSQL.
const POOL: &str = "4";
/// The least lease the service accepts: how long before a dead dialer's claims are taken over.
const LEASE_SECS: u64 = 15;

// ---------------------------------------------------------------------------------------------
// Instances

/// One `hotline serve` process.
struct Instance {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter()
            .rev()
            .take(30)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the instances of one test are started.
#[derive(Clone)]
struct Fleet {
    database_url: String,
    api_base: Option<String>,
    dial: bool,
}

impl Fleet {
    /// The command of an instance listening on `listen`, with `api_base` as its Twilio REST
    /// API.
    fn command(&self, api_base: Option<&str>, listen: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.arg("serve")
            .env_remove("HOTLINE_CONFIG")
            .env("HOTLINE_DATABASE_URL", &self.database_url)
            .env("HOTLINE_DATABASE_MAX_CONNECTIONS", POOL)
            .env("HOTLINE_LISTEN", listen)
            .env("HOTLINE_PUBLIC_URL", PUBLIC_URL)
            .env("HOTLINE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("HOTLINE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
            .env("HOTLINE_API_TOKEN", API_TOKEN)
            .env("HOTLINE_CALLBACK_DIAL", self.dial.to_string())
            .env("HOTLINE_CALLBACK_LEASE_SECS", LEASE_SECS.to_string())
            .env("HOTLINE_HTTP_SHUTDOWN_DRAIN_MS", DRAIN_MS.to_string())
            .env("HOTLINE_LOG", "info")
            .env("HOTLINE_LOG_FORMAT", "json")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(base) = api_base.or(self.api_base.as_deref()) {
            cmd.env("HOTLINE_TWILIO_API_BASE", base);
        }
        cmd
    }

    /// Starts an instance on a port of its choosing and waits until it listens.
    async fn start(&self, api_base: Option<String>) -> Instance {
        self.start_on(api_base, "127.0.0.1:0").await
    }

    /// Starts an instance listening on `listen` and waits until it listens.
    async fn start_on(&self, api_base: Option<String>, listen: &str) -> Instance {
        let mut cmd = self.command(api_base.as_deref(), listen);
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("start hotline serve");
            let stderr = child.stderr.take().expect("piped stderr");
            let log = Arc::new(Mutex::new(Vec::new()));
            let (tx, rx) = std::sync::mpsc::channel();
            let lines = log.clone();
            // Reads the log to its end, so the process never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            });
            match rx.recv_timeout(Duration::from_secs(90)) {
                Ok(addr) => Instance {
                    child,
                    base: format!("http://{addr}"),
                    log,
                },
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    let log = log
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .join("\n");
                    panic!("an instance did not start listening ({status:?}):\n{log}");
                }
            }
        })
        .await
        .expect("joined")
    }
}

/// The address in the service's "listening" log line (JSON logs).
fn listening_addr(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = v.get("fields")?;
    (fields.get("message")?.as_str()? == "listening")
        .then(|| fields.get("addr")?.as_str().map(str::to_string))
        .flatten()
}

/// Sends SIGTERM, as a service manager does.
fn terminate(i: &Instance) {
    let status = Command::new("kill")
        .args(["-TERM", &i.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {} failed", i.pid());
}

/// Waits for an instance to exit on its own, and its exit status.
async fn wait_exit(mut i: Instance, within: Duration) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = i.child.try_wait().expect("wait") {
            // The reader may still be taking the last lines from the pipe.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let log = i
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .join("\n");
            return (status, log);
        }
        assert!(
            Instant::now() < deadline,
            "instance {} did not exit within {within:?}:\n{}",
            i.pid(),
            i.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The balancer

/// One instance as the balancer sees it.
struct Upstream {
    /// Which process it is (0, 1, 2 for the first three; restarts count on).
    id: usize,
    base: String,
    ready: AtomicBool,
    /// `/readyz` answered 503 at least once (a drain was seen).
    saw_unready: AtomicBool,
    /// Taken out of the pool for good (killed, or stopped and replaced).
    removed: AtomicBool,
}

struct Balancer {
    upstreams: Mutex<Vec<Arc<Upstream>>>,
    next: AtomicUsize,
    http: reqwest::Client,
    stop: AtomicBool,
}

/// A request the balancer could not get answered.
#[derive(Debug)]
struct Failure {
    /// The instance the request was sent to, if one was chosen.
    upstream: Option<usize>,
    sent_at: Instant,
    error: String,
}

impl Balancer {
    fn new() -> Arc<Balancer> {
        let http = reqwest::Client::builder()
            // A new connection per request: each step goes where the balancer sends it.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        let b = Arc::new(Balancer {
            upstreams: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
            http,
            stop: AtomicBool::new(false),
        });
        let me = Arc::downgrade(&b);
        tokio::spawn(async move {
            loop {
                let Some(b) = me.upgrade() else { return };
                if b.stop.load(Ordering::Relaxed) {
                    return;
                }
                b.poll().await;
                drop(b);
                tokio::time::sleep(POLL).await;
            }
        });
        b
    }

    fn list(&self) -> Vec<Arc<Upstream>> {
        self.upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds an instance; it takes requests once its `/readyz` says so.
    fn add(&self, id: usize, base: &str) -> Arc<Upstream> {
        let up = Arc::new(Upstream {
            id,
            base: base.to_string(),
            ready: AtomicBool::new(false),
            saw_unready: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        });
        self.upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(up.clone());
        up
    }

    fn remove(&self, id: usize) {
        for up in self.list().iter().filter(|u| u.id == id) {
            up.removed.store(true, Ordering::Release);
            up.ready.store(false, Ordering::Release);
        }
    }

    async fn poll(&self) {
        let checks = self
            .list()
            .into_iter()
            .filter(|u| !u.removed.load(Ordering::Acquire))
            .map(|u| {
                let http = self.http.clone();
                async move {
                    let answer = http
                        .get(format!("{}/readyz", u.base))
                        .timeout(Duration::from_secs(1))
                        .send()
                        .await;
                    let ready = matches!(&answer, Ok(r) if r.status() == 200);
                    if matches!(&answer, Ok(r) if r.status() == 503) {
                        u.saw_unready.store(true, Ordering::Release);
                    }
                    if !u.removed.load(Ordering::Acquire) {
                        u.ready.store(ready, Ordering::Release);
                    }
                }
            });
        futures_join_all(checks).await;
    }

    async fn wait_ready(&self, id: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .list()
            .iter()
            .any(|u| u.id == id && u.ready.load(Ordering::Acquire))
        {
            assert!(
                Instant::now() < deadline,
                "instance {id} never became ready"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The next ready instance (`only` that one, when given), round robin; waits while none
    /// is.
    async fn pick(&self, only: Option<usize>) -> Option<Arc<Upstream>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready: Vec<Arc<Upstream>> = self
                .list()
                .into_iter()
                .filter(|u| u.ready.load(Ordering::Acquire) && only.is_none_or(|id| u.id == id))
                .collect();
            if !ready.is_empty() {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                return Some(ready[n % ready.len()].clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a signed webhook to the next ready instance (or to `only`); the instance that
    /// answered, its answer (a 200 with TwiML and no apology) and when it was sent there.
    async fn post(
        &self,
        path_and_query: &str,
        params: &[(String, String)],
        only: Option<usize>,
    ) -> Result<(usize, String, Instant), Failure> {
        let sig = signature::sign(AUTH_TOKEN, &format!("{PUBLIC_URL}{path_and_query}"), params);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let first_try = Instant::now();
        for _ in 0..10 {
            let Some(up) = self.pick(only).await else {
                return Err(Failure {
                    upstream: None,
                    sent_at: first_try,
                    error: "no instance ready".into(),
                });
            };
            let sent_at = Instant::now();
            let fail = |error: String| Failure {
                upstream: Some(up.id),
                sent_at,
                error,
            };
            let answer = self
                .http
                .post(format!("{}{path_and_query}", up.base))
                .header("x-twilio-signature", &sig)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .body(body.clone())
                .send()
                .await;
            let res = match answer {
                Ok(res) => res,
                // Refused before anything was sent: safe to try elsewhere, as nginx does.
                Err(e) if e.is_connect() => {
                    up.ready.store(false, Ordering::Release);
                    continue;
                }
                Err(e) => return Err(fail(format!("{e:?}"))),
            };
            let status = res.status();
            let text = res.text().await.map_err(|e| fail(format!("body: {e}")))?;
            if status != 200 {
                return Err(fail(format!("HTTP {status}: {text}")));
            }
            if !text.contains("<Response") || text.contains("<Hangup/>") {
                return Err(fail(format!("not the expected TwiML: {text}")));
            }
            return Ok((up.id, text, sent_at));
        }
        Err(Failure {
            upstream: None,
            sent_at: first_try,
            error: "refused by every instance tried".into(),
        })
    }
}

/// Runs futures concurrently to their end (the crate has no `futures` dependency).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) {
    let mut set = tokio::task::JoinSet::new();
    for f in futs {
        set.spawn(f);
    }
    while set.join_next().await.is_some() {}
}

// ---------------------------------------------------------------------------------------------
// The load: whole bill-enquiry calls

/// A step answered: the call, its step number, the instance, and when it was sent there.
#[derive(Debug, Clone)]
struct Answered {
    sid: String,
    seq: i64,
    upstream: usize,
    sent_at: Instant,
}

#[derive(Default)]
struct Record {
    answered: Vec<Answered>,
    failed: Vec<(String, i64, Failure)>,
    calls_completed: usize,
}

type Shared = Arc<Mutex<Record>>;

fn record(r: &Shared) -> std::sync::MutexGuard<'_, Record> {
    r.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Twilio's parameters of a call's requests.
fn call_params(sid: &str, from: &str, status: &str) -> Vec<(String, String)> {
    [
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Called", demo::HOTLINE),
        ("Caller", from),
        ("Direction", "inbound"),
        ("From", from),
        ("To", demo::HOTLINE),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The `action` of the answer's first `<Gather>`, unescaped, without the public URL.
fn next_step(body: &str) -> Option<String> {
    let at = body.find("<Gather")?;
    let tag = &body[at..at + body[at..].find('>')?];
    let start = tag.find(" action=\"")? + " action=\"".len();
    let value = &tag[start..start + tag[start..].find('"')?];
    value
        .replace("&amp;", "&")
        .strip_prefix(PUBLIC_URL)
        .map(str::to_string)
}

/// A call in progress: Alice (identified by her line, English) hears the menu, presses 1 for
/// her bill, then 1 twice more to hear it again, and hangs up. Four steps and a status report,
/// each to whichever instance the balancer picks. A failed request ends the call, as Twilio's
/// "an application error has occurred" would.
struct Caller {
    sid: String,
    params: Vec<(String, String)>,
    base_len: usize,
    /// Where the next step goes (path and query), from the last answer.
    path: String,
    seq: i64,
}

/// Steps in a call, the status report aside.
const STEPS: i64 = 4;

impl Caller {
    fn new() -> Caller {
        let sid = format!("CA{:032x}", rand::random::<u128>());
        let params = call_params(&sid, demo::ALICE, "ringing");
        Caller {
            base_len: params.len(),
            sid,
            params,
            path: "/twilio/voice".into(),
            seq: 0,
        }
    }

    /// Sends the next step (to instance `only`, if given); false when it failed (recorded).
    async fn step(&mut self, b: &Balancer, rec: &Shared, only: Option<usize>) -> bool {
        let expect = if self.seq == 0 { "n=menu" } else { "n=bill" };
        let (upstream, body, sent_at) = match b.post(&self.path, &self.params, only).await {
            Ok(answer) => answer,
            Err(f) => {
                record(rec).failed.push((self.sid.clone(), self.seq, f));
                return false;
            }
        };
        record(rec).answered.push(Answered {
            sid: self.sid.clone(),
            seq: self.seq,
            upstream,
            sent_at,
        });
        let Some(next) = next_step(&body).filter(|n| n.contains(expect)) else {
            let failure = Failure {
                upstream: Some(upstream),
                sent_at,
                error: format!("step {} did not lead to {expect}: {body}", self.seq),
            };
            record(rec)
                .failed
                .push((self.sid.clone(), self.seq, failure));
            return false;
        };
        self.path = next;
        self.seq += 1;
        self.params.truncate(self.base_len);
        self.params[3].1 = "in-progress".into();
        self.params.push(("Digits".into(), "1".into()));
        true
    }

    /// The status report of the call's end; false when it failed (recorded).
    async fn hang_up(&mut self, b: &Balancer, rec: &Shared) -> bool {
        self.params.truncate(self.base_len);
        self.params[3].1 = "completed".into();
        self.params.extend([
            ("CallDuration".into(), "20".into()),
            ("SequenceNumber".into(), "0".into()),
        ]);
        match b.post("/twilio/status", &self.params, None).await {
            Ok(_) => {
                record(rec).calls_completed += 1;
                true
            }
            Err(f) => {
                record(rec).failed.push((self.sid.clone(), STEPS, f));
                false
            }
        }
    }
}

async fn one_call(b: &Balancer, rec: &Shared) {
    let mut c = Caller::new();
    while c.seq < STEPS {
        if !c.step(b, rec, None).await {
            return;
        }
    }
    c.hang_up(b, rec).await;
}

/// `CALLERS` callers calling again and again until `stop`.
fn start_load(
    b: &Arc<Balancer>,
    rec: &Shared,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CALLERS)
        .map(|_| {
            let (b, rec, stop) = (b.clone(), rec.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    one_call(&b, &rec).await;
                }
            })
        })
        .collect()
}

async fn wait_calls(rec: &Shared, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while record(rec).calls_completed < at_least {
        assert!(
            Instant::now() < deadline,
            "the load does not get through: {} calls completed, failures {:#?}",
            record(rec).calls_completed,
            record(rec).failed
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops the callers (each finishes the call it is in), then the balancer.
async fn stop_load(b: &Balancer, stop: &AtomicBool, load: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.expect("caller");
    }
    b.stop.store(true, Ordering::Relaxed);
}

/// What a rolling restart keeps: every instance stopped cleanly, no request failed, every
/// answered step stored. Prints the run's figures first, with `detail`.
async fn assert_restart_lost_nothing(
    test: &str,
    url: &str,
    rec: &Shared,
    exits: &[(std::process::ExitStatus, String)],
    started: Instant,
    detail: &str,
) {
    let (answered, missing) = missing_steps(url, rec).await;
    let r = record(rec);
    eprintln!(
        "{test}: {answered} steps answered, {} calls completed, {} failed (first: {:?}); \
         {detail}{:.1} s",
        r.calls_completed,
        r.failed.len(),
        r.failed.first().map(|f| &f.2.error),
        started.elapsed().as_secs_f64()
    );
    for (status, log) in exits {
        assert!(
            status.success(),
            "an instance stopped with {status}:\n{log}"
        );
    }
    assert!(r.failed.is_empty(), "failed requests: {:#?}", r.failed);
    assert!(missing.is_empty(), "answered steps not stored: {missing:?}");
}

/// Every (CallSid, step) the database holds.
async fn stored_steps(url: &str) -> BTreeSet<(String, i64)> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT c.call_sid, s.seq FROM call_steps s JOIN calls c ON c.id = s.call_id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("steps");
    let _ = conn.close().await;
    rows.into_iter().map(|(s, q)| (s, i64::from(q))).collect()
}

/// Answered steps the database does not hold.
async fn missing_steps(url: &str, rec: &Shared) -> (usize, Vec<(String, i64)>) {
    let stored = stored_steps(url).await;
    let answered: Vec<(String, i64)> = record(rec)
        .answered
        .iter()
        .map(|a| (a.sid.clone(), a.seq))
        .collect();
    let missing = answered
        .iter()
        .filter(|k| !stored.contains(*k))
        .cloned()
        .collect();
    (answered.len(), missing)
}

/// A fresh PostgreSQL database, migrated, with the demo customers; `None` (after a warning)
/// without a server.
async fn database(test: &str) -> Option<String> {
    let Some(url) = db::pg_url().await else {
        eprintln!("\n!!! {test}: SKIPPED, PostgreSQL is unreachable\n");
        return None;
    };
    let store = open(&url).await;
    hotline::demo::load(
        store.as_ref(),
        hotline::clock::Clock::now_ms(&hotline::clock::SystemClock),
    )
    .await
    .expect("demo customers");
    Some(url)
}

async fn open(url: &str) -> Arc<dyn Store> {
    let options = StoreOptions {
        pg_max_connections: 2,
        ..StoreOptions::default()
    };
    hotline::store::connect_with(url, &options)
        .await
        .expect("store")
}

// ---------------------------------------------------------------------------------------------
// The carrier, one door per instance

/// A TCP door to the fake Twilio API: each instance gets its own, so the test knows which
/// instance has requests open at the carrier (connections held by hanging requests).
struct Door {
    base: String,
    open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Door {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn door(to: &str) -> Door {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let target = to
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let open = Arc::new(AtomicUsize::new(0));
    let counted = open.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (target, counted) = (target.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::AcqRel);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                counted.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    Door { base, open, task }
}

// ---------------------------------------------------------------------------------------------
// 1. Losing an instance

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_loss() {
    let test = "cluster::instance_loss";
    let Some(url) = database(test).await else {
        return;
    };
    let started = Instant::now();
    // The carrier: calls are never played (no webhook goes anywhere).
    let twilio = FakeTwilio::start(Simulator::new(PUBLIC_URL, AUTH_TOKEN, ACCOUNT_SID))
        .await
        .expect("fake Twilio");
    let fleet = Fleet {
        database_url: url.clone(),
        api_base: None,
        dial: true,
    };
    let mut doors = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..3 {
        let d = door(twilio.base_url()).await;
        instances.push(Some(fleet.start(Some(d.base.clone())).await));
        doors.push(d);
    }
    let b = Balancer::new();
    for (id, i) in instances.iter().enumerate() {
        b.add(id, &i.as_ref().expect("started").base);
    }
    for id in 0..3 {
        b.wait_ready(id).await;
    }
    let rec: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&b, &rec, &stop);
    wait_calls(&rec, 10).await;

    // Callbacks, due now; the carrier does not answer their requests until the kill, so
    // whoever claimed them is still waiting when it dies.
    let store = open(&url).await;
    let numbers: Vec<String> = (0..8).map(|i| format!("+86150000000{i:02}")).collect();
    for n in &numbers {
        twilio.on(n, Behaviour::Hang);
    }
    queue_callbacks(&store, &numbers).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while twilio.create_requests().len() < numbers.len() {
        assert!(
            Instant::now() < deadline,
            "the callbacks were not all requested: {} of {}",
            twilio.create_requests().len(),
            numbers.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The instance with the most requests hanging at the carrier dies.
    let holding: Vec<usize> = doors
        .iter()
        .map(|d| d.open.load(Ordering::Acquire))
        .collect();
    let victim = (0..3).max_by_key(|&i| holding[i]).expect("three");
    assert!(
        holding[victim] > 0,
        "no instance holds a request: {holding:?}"
    );
    // Calls whose last step the victim answered, waiting for their next one when it dies.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = Caller::new();
        assert!(c.step(&b, &rec, None).await, "{:#?}", record(&rec).failed);
        assert!(
            c.step(&b, &rec, Some(victim)).await,
            "{:#?}",
            record(&rec).failed
        );
        held.push(c);
    }
    let before_kill = record(&rec).answered.len();
    let mut dead = instances[victim].take().expect("alive");
    dead.child.kill().expect("kill -9");
    // Dead once reaped: until then its sockets may still take a connection (and reset it).
    let _ = dead.child.wait();
    let killed_at = Instant::now();
    let killed_wall = chrono::Utc::now();
    b.remove(victim);
    for n in &numbers {
        // From now on a call request is answered, and the call stays queued at the carrier.
        twilio.on(n, Behaviour::Queued);
    }

    // The held calls go on on the survivors, and so does the load.
    for c in &mut held {
        while c.seq < STEPS {
            assert!(c.step(&b, &rec, None).await, "{:#?}", record(&rec).failed);
        }
        assert!(c.hang_up(&b, &rec).await, "{:#?}", record(&rec).failed);
    }
    let after_kill = record(&rec).calls_completed;
    wait_calls(&rec, after_kill + 10).await;
    stop_load(&b, &stop, load).await;

    // The dead instance's callbacks: after the lease a survivor finds their requests never
    // reached the carrier, and dials them again once the carrier-busy pause is over.
    let deadline = Instant::now()
        + Duration::from_secs(LEASE_SECS + 60 * u64::from(CARRIER_BUSY_RETRY_MINUTES) + 60);
    while numbers.iter().any(|n| twilio.placed_to(n) == 0) {
        assert!(
            Instant::now() < deadline,
            "callbacks not dialed after the lease: {:?}",
            numbers
                .iter()
                .map(|n| (n, twilio.placed_to(n)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A few more rounds of every survivor's dialer, to see that nobody is dialed twice.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (answered, missing) = missing_steps(&url, &rec).await;
    let r = record(&rec);
    let survivors: BTreeSet<usize> = (0..3).filter(|&i| i != victim).collect();
    // A call carried on: a step answered by the dead instance, a later one by a survivor.
    let mut by_call: HashMap<&str, Vec<&Answered>> = HashMap::new();
    for a in &r.answered {
        by_call.entry(a.sid.as_str()).or_default().push(a);
    }
    let carried_on = by_call
        .values()
        .filter(|steps| {
            steps.iter().any(|a| a.upstream == victim)
                && steps
                    .iter()
                    .any(|a| survivors.contains(&a.upstream) && a.sent_at > killed_at)
        })
        .count();
    let after: usize = r
        .answered
        .iter()
        .filter(|a| a.sent_at > killed_at)
        .inspect(|a| assert!(survivors.contains(&a.upstream), "{a:?}"))
        .count();
    let placed: BTreeMap<&str, usize> = numbers
        .iter()
        .map(|n| (n.as_str(), twilio.placed_to(n)))
        .collect();
    eprintln!(
        "{test}: {answered} steps answered ({before_kill} before the kill, {after} after), \
         {} calls completed, {} failed requests, {carried_on} calls carried on from the dead \
         instance to a survivor; instance {victim} killed holding {} requests at the carrier \
         (of {holding:?}); calls placed per callback {placed:?}; {:.1} s",
        r.calls_completed,
        r.failed.len(),
        holding[victim],
        started.elapsed().as_secs_f64()
    );
    assert!(missing.is_empty(), "answered steps not stored: {missing:?}");
    // Only what was in flight to the dead instance when it died may fail.
    for (sid, seq, f) in &r.failed {
        assert!(
            f.upstream == Some(victim) && f.sent_at <= killed_at,
            "{sid} step {seq} failed, and not in flight to the dead instance: {f:?}"
        );
    }
    assert!(
        carried_on >= held.len(),
        "{carried_on} calls went on on a survivor after a step on the dead instance, fewer \
         than the {} held",
        held.len()
    );
    for (n, count) in &placed {
        assert_eq!(*count, 1, "{n} was called {count} times");
    }
    // The carrier created no call before the kill: every call came from a survivor.
    for call in twilio.calls() {
        assert!(call.created > killed_wall, "{call:?} before the kill");
    }
    assert!(twilio.errors().is_empty(), "{:#?}", twilio.errors());
}

/// A running campaign, open all day, dialing as fast as it can, with a callback to each of
/// `numbers` due now.
async fn queue_callbacks(store: &Arc<dyn Store>, numbers: &[String]) {
    let now = hotline::clock::Clock::now_ms(&hotline::clock::SystemClock);
    let window = CallingWindow {
        start: chrono::NaiveTime::from_hms_opt(0, 0, 0).expect("time"),
        end: chrono::NaiveTime::from_hms_opt(23, 59, 0).expect("time"),
        days: Days::ALL,
        skip_holidays: false,
        working_days_only: false,
    };
    let campaign = store
        .create_campaign(
            &NewCampaign {
                window,
                pace_ms: 1,
                starts_at: now - 60_000,
                ..fixtures::campaign("cluster survey", Purpose::Satisfaction)
            },
            now,
        )
        .await
        .expect("campaign");
    store
        .set_campaign_state(campaign.id, hotline::callbacks::CampaignState::Running, now)
        .await
        .expect("start the campaign");
    let list: Vec<NewCallback> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| NewCallback {
            locale: Locale::ZhCn,
            ..fixtures::callback(campaign.id, format!("list:{i}"), n.clone(), now)
        })
        .collect();
    store.queue_callbacks(&list, now).await.expect("queue");
}

// ---------------------------------------------------------------------------------------------
// 2. A rolling restart

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart() {
    let test = "cluster::rolling_restart";
    let Some(url) = database(test).await else {
        return;
    };
    let started = Instant::now();
    let fleet = Fleet {
        database_url: url.clone(),
        api_base: None,
        dial: false,
    };
    let b = Balancer::new();
    let mut instances = Vec::new();
    for id in 0..3 {
        let i = fleet.start(None).await;
        b.add(id, &i.base);
        instances.push(i);
    }
    for id in 0..3 {
        b.wait_ready(id).await;
    }
    let rec: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&b, &rec, &stop);
    wait_calls(&rec, 10).await;

    let mut exits = Vec::new();
    let mut drains_seen = Vec::new();
    for old in 0..3 {
        let i = instances.remove(0);
        terminate(&i);
        let (status, log) =
            wait_exit(i, Duration::from_millis(DRAIN_MS) + Duration::from_secs(30)).await;
        let up = b.list().into_iter().find(|u| u.id == old).expect("listed");
        drains_seen.push(up.saw_unready.load(Ordering::Acquire));
        b.remove(old);
        exits.push((status, log));
        let new = 3 + old;
        let i = fleet.start(None).await;
        b.add(new, &i.base);
        b.wait_ready(new).await;
        instances.push(i);
        // Some calls on the new fleet before the next restart.
        let done = record(&rec).calls_completed;
        wait_calls(&rec, done + 5).await;
    }
    stop_load(&b, &stop, load).await;

    let per_instance = record(&rec)
        .answered
        .iter()
        .fold(BTreeMap::new(), |mut m, a| {
            *m.entry(a.upstream).or_insert(0_usize) += 1;
            m
        });
    let detail = format!(
        "steps per instance {per_instance:?}; drains seen by the balancer {drains_seen:?}; "
    );
    assert_restart_lost_nothing(test, &url, &rec, &exits, started, &detail).await;
    for (_, log) in &exits {
        assert!(
            log.contains("closing the listener"),
            "no drain in the log:\n{log}"
        );
    }
    assert!(
        drains_seen.iter().all(|&d| d),
        "the balancer did not see /readyz fail before an instance went: {drains_seen:?}"
    );
    // Every instance, old and new, answered steps.
    assert!(
        (0..6).all(|i| per_instance.contains_key(&i)),
        "{per_instance:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2b. A rolling restart behind nginx, with deploy/nginx.conf

/// nginx running `deploy/nginx.conf`, its upstreams and port made local.
struct Nginx {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx binary, if this machine has one.
fn nginx_binary() -> Option<std::path::PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts nginx on the committed configuration, with `hotline:8080` and `hotline-2:8080`
/// replaced by `upstreams` and port 80 by a free one; only the paths a test run needs change.
async fn start_nginx(binary: &std::path::Path, upstreams: [u16; 2]) -> Nginx {
    let dir = tempfile::tempdir().expect("a directory");
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf"),
    )
    .expect("deploy/nginx.conf");
    let port = free_port();
    let d = dir.path().display();
    let conf = committed
        .replace(
            "server hotline:8080 ",
            &format!("server 127.0.0.1:{} ", upstreams[0]),
        )
        .replace(
            "server hotline-2:8080 ",
            &format!("server 127.0.0.1:{} ", upstreams[1]),
        )
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace(
            "worker_processes auto;",
            &format!(
                "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;"
            ),
        )
        .replace(
            "http {",
            &format!(
                "http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    \
                 proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
                 uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;"
            ),
        );
    assert!(
        conf.contains(&format!("127.0.0.1:{}", upstreams[1])),
        "{conf}"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).expect("write the configuration");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let nginx = Nginx {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nginx
}

/// Two instances behind nginx running `deploy/nginx.conf`, restarted one after the other on
/// their ports under load: nginx, with passive checks only, sees no failed step, and every
/// answered step is stored. Skipped, loudly, without nginx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_behind_nginx() {
    let test = "cluster::rolling_restart_behind_nginx";
    let Some(binary) = nginx_binary() else {
        assert!(
            std::env::var_os("HOTLINE_REQUIRE_NGINX").is_none(),
            "{test}: nginx is not installed and HOTLINE_REQUIRE_NGINX is set"
        );
        eprintln!("\n!!! {test}: SKIPPED, nginx is not installed\n");
        return;
    };
    let Some(url) = database(test).await else {
        return;
    };
    let started = Instant::now();
    let fleet = Fleet {
        database_url: url.clone(),
        api_base: None,
        dial: false,
    };
    let ports = [free_port(), free_port()];
    let mut instances = Vec::new();
    for port in ports {
        instances.push(fleet.start_on(None, &format!("127.0.0.1:{port}")).await);
    }
    let nginx = start_nginx(&binary, ports).await;
    // The client sends everything to nginx.
    let b = Balancer::new();
    b.add(0, &nginx.base);
    b.wait_ready(0).await;
    let rec: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&b, &rec, &stop);
    wait_calls(&rec, 10).await;

    let mut exits = Vec::new();
    for (n, port) in ports.into_iter().enumerate() {
        let old = instances.remove(0);
        terminate(&old);
        exits.push(
            wait_exit(
                old,
                Duration::from_millis(DRAIN_MS) + Duration::from_secs(30),
            )
            .await,
        );
        instances.push(fleet.start_on(None, &format!("127.0.0.1:{port}")).await);
        // nginx takes an instance it saw fail back after `fail_timeout` (10 s): until then
        // the other one must not go too, or nginx would have none.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let done = record(&rec).calls_completed;
        wait_calls(&rec, done + 5).await;
        eprintln!("{test}: instance {n} restarted");
    }
    stop_load(&b, &stop, load).await;
    drop(nginx);
    assert_restart_lost_nothing(test, &url, &rec, &exits, started, "").await;
}

// ---------------------------------------------------------------------------------------------
// 3. Migrations

/// Three instances starting at once on an empty database: each migrates or waits for the one
/// that does; every migration is applied once.
#[tokio::test]
async fn migrations_started_together() {
    let test = "cluster::migrations_started_together";
    let Some(url) = db::pg_url().await else {
        eprintln!("\n!!! {test}: SKIPPED, PostgreSQL is unreachable\n");
        return;
    };
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            tokio::task::spawn_blocking(move || {
                crate::support::cli::command(&url, &["migrate"])
                    .env("HOTLINE_DATABASE_MAX_CONNECTIONS", "2")
                    .output()
                    .expect("hotline migrate")
            })
        })
        .collect();
    for r in runs {
        let out = r.await.expect("joined");
        assert!(out.status.success(), "{out:?}");
    }
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("migrations");
    let _ = conn.close().await;
    let versions: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert!(rows.iter().all(|r| r.1), "{rows:?}");
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    assert!(versions.len() >= 10, "{versions:?}");
}

/// An instance of the previous release starting after a newer one migrated (a rolling deploy,
/// a rollback) runs on the newer schema, saying so, instead of refusing to start.
#[tokio::test]
async fn an_older_release_starts_on_a_newer_schema() {
    let test = "cluster::an_older_release_starts_on_a_newer_schema";
    let Some(url) = db::pg_url().await else {
        eprintln!("\n!!! {test}: SKIPPED, PostgreSQL is unreachable\n");
        return;
    };
    drop(open(&url).await);
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'a newer release', true, '\\x00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("a newer migration");
    let _ = conn.close().await;
    let out = tokio::task::spawn_blocking(move || {
        crate::support::cli::command(&url, &["migrate"])
            .env("HOTLINE_DATABASE_MAX_CONNECTIONS", "2")
            .output()
            .expect("hotline migrate")
    })
    .await
    .expect("joined");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr.contains("migrations of a newer release"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// 4. The drain, in process

/// After the shutdown signal, `/readyz` fails while calls are still answered, each answer
/// closing its connection; after the drain the listener is closed and the server returns.
#[tokio::test]
async fn shutdown_drains_before_closing() {
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| c.http.shutdown_drain_ms = 1_500)
        .await
        .expect("app");
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    app.stop.notify_one();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .expect("readyz while draining");
        if r.status() == 503 {
            assert_eq!(
                r.text().await.expect("body"),
                "shutting down\n",
                "readyz says why"
            );
            break;
        }
        assert!(Instant::now() < deadline, "readyz never failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health = http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz while draining");
    assert_eq!(health.status(), 200);
    assert_eq!(
        health
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    let call = app
        .sim
        .start_call(demo::ALICE, demo::HOTLINE)
        .await
        .expect("a call while draining");
    assert!(call.is_waiting(), "{:?}", call.heard());
    let server = tokio::time::timeout(Duration::from_secs(20), &mut app.server)
        .await
        .expect("the server stops after the drain")
        .expect("joined");
    assert!(server.is_ok(), "{server:?}");
    let after = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await;
    assert!(after.is_err(), "the listener is still open");
}
