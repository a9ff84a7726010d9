//! Crash safety of the callback dialer (issue 4, "How it is checked"):
//!
//! - `crash_safety::{sqlite, postgres}`: a dialer process is killed at random moments during a
//!   campaign, twenty times, then a clean one finishes it; afterwards every callback was dialed
//!   exactly once per attempt it owed, none lost, none dialed twice, nobody dialed again while
//!   an attempt of theirs was unclear.
//! - `three_instances_one_killed`: three dialers on one PostgreSQL, one killed mid-campaign:
//!   the same guarantee, and the campaign's pace held by the cluster.
//! - `same_number` and `paused` (both found bugs, now fixed): reconciling an unclear attempt
//!   must not take another attempt's call to the same number; a dead dialer's claims must not
//!   be dialed while their campaign is paused.
//!
//! Rules:
//! - A "dialer process" is a `CallbackDialer` over its own store (`store::connect`), its own
//!   REST client and HTTP connections, looping over `round()` in a task. Killing it aborts the
//!   task (wherever it is: mid-transaction, between the attempt's record and the carrier
//!   request, mid-request), waits until every task it spawned is gone, and drops its pools.
//!   The hotline server that receives the carrier's webhooks stays up, as one would beside
//!   the dialer; the carrier (`FakeTwilio`) plays every call it created.
//! - Time is the app's `FakeClock`, moved only by a `Timeline`: it runs at a chosen rate while
//!   dialers run (the pace needs time to pass) and jumps between runs (past leases, the
//!   reconciliation grace, retry delays). The fake carrier stamps its calls with the wall
//!   clock, so the dialers see the carrier through `OnOurClock`, which re-stamps every call
//!   with what our clock read when the carrier created it: the carrier's clock agrees with
//!   ours, as Twilio's does with a server's (without it, reconciliation would compare two
//!   clocks months apart and the test would judge that, not the dialer).
//! - Sizes: CI's by default; `HOTLINE_CRASH_FULL=1` runs the (1,000 callbacks, twenty
//!   kills, three instances over 1,000 callbacks). `HOTLINE_CRASH_CALLBACKS`,
//!   `HOTLINE_CRASH_KILLS`, `HOTLINE_CRASH_FLEET_CALLBACKS`, `HOTLINE_CRASH_SEED` and
//!   `HOTLINE_CRASH_RATE` (fake ms per real ms while the fleet runs) override them. PostgreSQL
//!   tests are skipped, loudly, when the server is unreachable, unless `HOTLINE_REQUIRE_PG` is
//!   set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::RwLock;

use crate::support::app::{Backend, START_MS, TestApp};
use crate::support::fixtures;
use hotline::callbacks::dialer::{CallbackDialer, DialerConfig, Round};
use hotline::callbacks::policy::{Retry, RetryPolicy};
use hotline::callbacks::window::{CallingWindow, Days};
use hotline::callbacks::{
    Attempt, AttemptState, Callback, CallbackState, Campaign, CampaignState, LedgerEntry,
    NewCallback, NewCampaign,
};
use hotline::clock::{Clock, FakeClock};
use hotline::prompts::Locale;
use hotline::repo::Store;
use hotline::surveys::script::Purpose;
use hotline::telephony::twilio::fake_api::{Action, Behaviour, FakeCall};
use hotline::telephony::twilio::rest::TwilioDialer;
use hotline::telephony::{DialError, Dialer, OutboundCall, RemoteCall};

/// How long the dialers' REST client waits for Twilio: short, so a hanging request turns
/// into an unclear attempt within a run (the service waits 10 s).
const CARRIER_TIMEOUT: Duration = Duration::from_millis(200);
/// A jump past the lease and the reconciliation grace (both 60 s by default).
const PAST_GRACE_MS: i64 = 61_000;

// ---------------------------------------------------------------------------------------------
// Sizes and randomness

struct Sizes {
    callbacks: usize,
    kills: usize,
    fleet_callbacks: usize,
    /// Fake milliseconds per real millisecond while the fleet runs.
    fleet_rate: i64,
    /// Callbacks a dialer claims per round (the service's default is 32).
    batch: i64,
}

fn env_num<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok())
}

fn sizes() -> Sizes {
    let full = std::env::var("HOTLINE_CRASH_FULL").is_ok_and(|v| !v.is_empty() && v != "0");
    Sizes {
        callbacks: env_num("HOTLINE_CRASH_CALLBACKS").unwrap_or(if full { 1000 } else { 150 }),
        kills: env_num("HOTLINE_CRASH_KILLS").unwrap_or(20),
        fleet_callbacks: env_num("HOTLINE_CRASH_FLEET_CALLBACKS").unwrap_or(if full {
            1000
        } else {
            120
        }),
        fleet_rate: env_num("HOTLINE_CRASH_RATE").unwrap_or(1).max(1),
        batch: env_num("HOTLINE_CRASH_BATCH")
            .unwrap_or(if full {
                DialerConfig::default().batch
            } else {
                8
            })
            .max(1),
    }
}

fn rng(test: &str) -> StdRng {
    let seed = env_num("HOTLINE_CRASH_SEED").unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: HOTLINE_CRASH_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------------------------
// Time

/// From `real_us` (wall clock, µs) on, our clock reads `fake_ms + elapsed × rate`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    real_us: i64,
    fake_ms: i64,
    rate: i64,
}

impl Segment {
    fn at(&self, real_us: i64) -> i64 {
        self.fake_ms + (real_us - self.real_us).max(0) / 1000 * self.rate
    }
}

/// The only hand on the app's `FakeClock`: it keeps the history of what the clock read when,
/// so a call the carrier stamped with the wall clock can be placed on our clock.
struct Timeline {
    clock: Arc<FakeClock>,
    segments: Mutex<Vec<Segment>>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn wall_us() -> i64 {
    Utc::now().timestamp_micros()
}

impl Timeline {
    fn new(clock: Arc<FakeClock>) -> Arc<Timeline> {
        let t = Arc::new(Timeline {
            segments: Mutex::new(vec![Segment {
                real_us: wall_us(),
                fake_ms: clock.now_ms(),
                rate: 0,
            }]),
            clock,
            ticker: Mutex::new(None),
        });
        // Moves the clock along a running segment; with rate 0 it holds still.
        let me = Arc::downgrade(&t);
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                let Some(t) = me.upgrade() else { return };
                t.tick();
            }
        });
        *t.ticker.lock().unwrap_or_else(PoisonError::into_inner) = Some(ticker);
        t
    }

    fn segments(&self) -> std::sync::MutexGuard<'_, Vec<Segment>> {
        self.segments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tick(&self) {
        let segs = self.segments();
        let last = segs[segs.len() - 1];
        if last.rate > 0 {
            let v = last.at(wall_us()).max(self.clock.now_ms());
            self.clock.set_ms(v);
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// From now on the clock runs at `rate` fake ms per real ms (0: it stands still), after
    /// jumping `jump_ms` ahead.
    fn shift(&self, jump_ms: i64, rate: i64) {
        let mut segs = self.segments();
        let real_us = wall_us();
        let last = segs[segs.len() - 1];
        let v = last.at(real_us).max(self.clock.now_ms()) + jump_ms;
        segs.push(Segment {
            real_us,
            fake_ms: v,
            rate,
        });
        self.clock.set_ms(v);
    }

    fn advance(&self, ms: i64) {
        let rate = self.segments().last().map_or(0, |s| s.rate);
        self.shift(ms, rate);
    }

    fn run_at(&self, rate: i64) {
        self.shift(0, rate);
    }

    /// What our clock read at a wall-clock instant.
    fn fake_at(&self, t: DateTime<Utc>) -> i64 {
        let r = t.timestamp_micros();
        let segs = self.segments();
        let i = segs.partition_point(|s| s.real_us <= r);
        segs[i.saturating_sub(1)].at(r)
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        if let Some(t) = self
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            t.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The carrier, seen on our clock

/// A call request as one dialer sent it.
#[derive(Debug, Clone)]
struct Sent {
    instance: usize,
    to: String,
    /// Our clock when the request left.
    at: i64,
}

/// Twilio's REST API through the real `TwilioDialer`, with every call's `created_at` what our
/// clock read when the carrier created it (the fake stamps calls with the wall clock).
struct OnOurClock {
    inner: TwilioDialer,
    app: Arc<TestApp>,
    timeline: Arc<Timeline>,
    instance: usize,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl OnOurClock {
    fn restamp(&self, mut c: RemoteCall) -> Option<RemoteCall> {
        let call = self.app.twilio.call(&c.id)?;
        c.created_at = self.timeline.fake_at(call.created);
        Some(c)
    }
}

#[async_trait::async_trait]
impl Dialer for OnOurClock {
    async fn place(&self, call: &OutboundCall) -> Result<RemoteCall, DialError> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Sent {
                instance: self.instance,
                to: call.to.clone(),
                at: self.timeline.now(),
            });
        self.inner.place(call).await
    }

    async fn fetch(&self, id: &str) -> Result<Option<RemoteCall>, DialError> {
        Ok(self.inner.fetch(id).await?.and_then(|c| self.restamp(c)))
    }

    async fn calls_to_since(&self, to: &str, since: i64) -> Result<Vec<RemoteCall>, DialError> {
        // Every call to the number, through Twilio's Calls list, then filtered on our clock.
        let all = self.inner.calls_to_since(to, 0).await?;
        let mut found: Vec<RemoteCall> = all
            .into_iter()
            .filter_map(|c| self.restamp(c))
            .filter(|c| c.created_at >= since)
            .collect();
        found.sort_by_key(|c| c.created_at);
        Ok(found)
    }
}

// ---------------------------------------------------------------------------------------------
// Dialer processes

struct Process {
    task: tokio::task::JoinHandle<()>,
    store: Arc<dyn Store>,
    rounds: Arc<AtomicU64>,
    failed_rounds: Arc<AtomicU64>,
}

struct Fleet {
    app: Arc<TestApp>,
    batch: i64,
    timeline: Arc<Timeline>,
    sent: Arc<Mutex<Vec<Sent>>>,
    /// Rounds hold it shared; the clock jumps only with it held exclusively, so a jump is
    /// never a dialer that stalled mid-round past its lease.
    gate: Arc<RwLock<()>>,
    /// Rounds in a row, over the fleet, that found nothing to do.
    idle_rounds: Arc<AtomicU64>,
}

impl Fleet {
    fn new(app: Arc<TestApp>, batch: i64, plans: &[Plan]) -> Fleet {
        // Their status reports never reach us, as when they come while the service is down:
        // only asking the carrier settles their calls.
        for p in plans.iter().filter(|p| p.lost_reports) {
            app.twilio.lose_status_callbacks(&p.number);
        }
        Fleet {
            batch,
            timeline: Timeline::new(app.clock.clone()),
            app,
            sent: Arc::default(),
            gate: Arc::default(),
            idle_rounds: Arc::default(),
        }
    }

    /// A dialer over its own store, REST client and connections.
    async fn dialer(&self, instance: usize) -> (CallbackDialer, Arc<dyn Store>) {
        let store = hotline::store::connect(&self.app.database_url)
            .await
            .expect("a dialer's own store");
        let cfg = &self.app.state.cfg;
        let carrier = OnOurClock {
            inner: TwilioDialer::from_config(&cfg.twilio, &cfg.public_url, CARRIER_TIMEOUT),
            app: self.app.clone(),
            timeline: self.timeline.clone(),
            instance,
            sent: self.sent.clone(),
        };
        let dialer = CallbackDialer {
            store: store.clone(),
            dialer: Arc::new(carrier),
            clock: self.app.clock.clone(),
            calendar: self.app.state.callbacks.calendar.clone(),
            cfg: DialerConfig {
                idle: Duration::from_millis(1),
                batch: self.batch,
                ..self.app.state.callbacks.cfg.clone()
            },
        };
        (dialer, store)
    }

    /// Starts a dialer process: the service's own loop (`CallbackDialer::run`), or rounds
    /// taken under the gate.
    async fn start(&self, instance: usize, gated: bool) -> Process {
        let (dialer, store) = self.dialer(instance).await;
        let rounds = Arc::new(AtomicU64::new(0));
        let failed_rounds = Arc::new(AtomicU64::new(0));
        let task = if gated {
            let (gate, idle) = (self.gate.clone(), self.idle_rounds.clone());
            let (rounds, failed) = (rounds.clone(), failed_rounds.clone());
            tokio::spawn(async move {
                loop {
                    let round = {
                        let _shared = gate.read().await;
                        dialer.round().await
                    };
                    rounds.fetch_add(1, Ordering::Relaxed);
                    match round {
                        Ok(r) if busy(&r) => {
                            idle.store(0, Ordering::Relaxed);
                            continue;
                        }
                        Ok(_) => {
                            idle.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("dialer {instance}: a round failed: {e}");
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        } else {
            tokio::spawn(dialer.run())
        };
        Process {
            task,
            store,
            rounds,
            failed_rounds,
        }
    }

    /// Kills a process wherever it is, and waits until nothing of it is left: its dial tasks
    /// are aborted with its round, and its pools close with its store.
    async fn kill(&self, p: Process) {
        p.task.abort();
        let _ = p.task.await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&p.store) > 1 {
            assert!(
                Instant::now() < deadline,
                "a killed dialer's tasks are still running"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(p.store);
        // A request already on the wire when it died may still reach the carrier: let it
        // land, then let the carrier finish every call it created (their status reports go to
        // the server, which is up).
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.app.twilio.wait_idle().await;
    }

    fn sent(&self) -> Vec<Sent> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn busy(r: &Round) -> bool {
    r.claimed > 0 || r.reconciled > 0
}

// ---------------------------------------------------------------------------------------------
// The campaign and what each customer does

/// What a number does, and what it is owed.
#[derive(Debug, Clone)]
struct Plan {
    number: String,
    kind: &'static str,
    /// While dialers are being killed.
    during: Behaviour,
    /// Once that is over (a number whose requests hung starts answering).
    after: Option<Behaviour>,
    /// Attempts the carrier must have placed: those the retry policy owes.
    owed: usize,
    outcome: &'static str,
    /// Its calls' status reports are lost.
    lost_reports: bool,
}

fn answers() -> Behaviour {
    Behaviour::answer(vec![Action::Press("1".into()), Action::Press("1".into())])
}

/// A mix of customers: answered, busy, no answer (owed two attempts), requests that hang
/// (no call: ambiguous, reconciled as never placed; answered afterwards), calls placed whose
/// answer is lost (ambiguous, the call exists), and calls whose status reports are lost (only
/// asking the carrier settles them).
fn plans(n: usize, rng: &mut StdRng) -> Vec<Plan> {
    (0..n)
        .map(|i| {
            let number = format!("+8615{:09}", i + 1);
            let p = rng.random_range(0..100);
            let drop = |b: Behaviour| Behaviour::PlaceThenDrop(Box::new(b));
            let (kind, during, after, owed, outcome) = match p {
                0..30 => ("answer", answers(), None, 1, "reached"),
                30..42 => ("busy", Behaviour::Busy, None, 1, "exhausted"),
                42..60 => ("no_answer", Behaviour::NoAnswer, None, 2, "exhausted"),
                60..70 => ("hang", Behaviour::Hang, Some(answers()), 1, "reached"),
                70..80 => (
                    "drop_no_answer",
                    drop(Behaviour::NoAnswer),
                    None,
                    2,
                    "exhausted",
                ),
                80..90 => (
                    "drop_answer",
                    drop(Behaviour::answer(vec![
                        Action::Press("2".into()),
                        Action::Press("1".into()),
                    ])),
                    None,
                    1,
                    "reached",
                ),
                90..95 => ("lost_no_answer", Behaviour::NoAnswer, None, 2, "exhausted"),
                _ => (
                    "lost_drop_busy",
                    drop(Behaviour::Busy),
                    None,
                    1,
                    "exhausted",
                ),
            };
            Plan {
                number,
                kind,
                during,
                after,
                owed,
                outcome,
                lost_reports: kind.starts_with("lost"),
            }
        })
        .collect()
}

/// A running campaign calling all day, every day, with a no-answer retry (two attempts) and
/// none for busy lines; and a callback per plan, due now.
async fn campaign(app: &TestApp, pace_ms: i64, plans: &[Plan]) -> Campaign {
    let store = &app.state.store;
    let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
    let window = CallingWindow {
        start: hm(0, 0),
        end: hm(23, 59),
        days: Days::ALL,
        skip_holidays: false,
        working_days_only: false,
    };
    window.validate().expect("window");
    let once = Retry {
        delay_minutes: 1,
        max_attempts: 1,
    };
    let retry = RetryPolicy {
        no_answer: Retry {
            delay_minutes: 1,
            max_attempts: 2,
        },
        busy: once,
        failed: once,
        machine: once,
    };
    retry.validate().expect("policy");
    let now = app.clock.now_ms();
    let c = store
        .create_campaign(
            &NewCampaign {
                window,
                retry,
                pace_ms,
                ..fixtures::campaign("crash survey", Purpose::Satisfaction)
            },
            now,
        )
        .await
        .expect("campaign");
    for p in plans {
        app.twilio.on(&p.number, p.during.clone());
    }
    for chunk in plans.chunks(500) {
        let list: Vec<NewCallback> = chunk
            .iter()
            .map(|p| NewCallback {
                locale: Locale::ZhCn,
                ..fixtures::callback(c.id, format!("list:{}", p.number), &p.number, now)
            })
            .collect();
        let ids = store.queue_callbacks(&list, now).await.expect("queue");
        assert!(ids.iter().all(Option::is_some));
    }
    store
        .set_campaign_state(c.id, CampaignState::Running, now)
        .await
        .expect("start")
}

// ---------------------------------------------------------------------------------------------
// Looking at the store

async fn all_callbacks(store: &Arc<dyn Store>, campaign: i64) -> Vec<Callback> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .campaign_callbacks(campaign, after, 500)
            .await
            .expect("callbacks");
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(page);
    }
    out
}

/// Where the campaign stands, e.g. right after a kill.
#[derive(Debug, Default)]
struct Snapshot {
    states: BTreeMap<&'static str, usize>,
    /// Attempts recorded whose request had not been answered.
    requesting: usize,
    unclear: usize,
    placed_open: usize,
    /// Claims held by a dialer that had not recorded an attempt.
    claimed_no_attempt: usize,
}

impl Snapshot {
    fn finished(&self) -> bool {
        self.states
            .keys()
            .all(|s| *s == "done" || *s == "cancelled")
    }
}

async fn snapshot(store: &Arc<dyn Store>, campaign: i64) -> Snapshot {
    let mut s = Snapshot::default();
    for cb in all_callbacks(store, campaign).await {
        *s.states.entry(cb.state.as_str()).or_default() += 1;
        if cb.state != CallbackState::Dialing {
            continue;
        }
        let open: Vec<Attempt> = store
            .attempts(cb.id)
            .await
            .expect("attempts")
            .into_iter()
            .filter(|a| a.state != AttemptState::Ended)
            .collect();
        if open.is_empty() {
            s.claimed_no_attempt += 1;
        }
        for a in open {
            match a.state {
                AttemptState::Requesting => s.requesting += 1,
                AttemptState::Unclear => s.unclear += 1,
                _ => s.placed_open += 1,
            }
        }
    }
    s
}

/// Runs one clean dialer, round after round, until every callback is done: the clock moves
/// a pace per round, and on when nothing is due (retries, reconciliation grace, leases). It
/// stops early once the carrier has placed more calls than are owed (the audit says which),
/// and gives up after a day of campaign time.
async fn finish(fleet: &Fleet, campaign: &Campaign, owed: usize) {
    fleet.timeline.run_at(0);
    let (dialer, store) = fleet.dialer(99).await;
    let until = fleet.timeline.now() + 24 * 3_600_000;
    while fleet.timeline.now() < until {
        fleet.timeline.advance(campaign.pace_ms.max(1));
        let round = dialer.round().await.expect("a clean round");
        if busy(&round) {
            continue;
        }
        fleet.app.twilio.wait_idle().await;
        if fleet.app.twilio.calls().len() > owed {
            return;
        }
        let snap = snapshot(&store, campaign.id).await;
        if snap.finished() {
            return;
        }
        fleet.timeline.advance(20_000);
    }
    panic!(
        "the campaign does not finish: {:?}",
        snapshot(&store, campaign.id).await
    );
}

// ---------------------------------------------------------------------------------------------
// The audit

#[derive(Debug, Default)]
struct Audit {
    problems: Vec<String>,
    callbacks: usize,
    calls: usize,
    attempts: usize,
    never_placed: usize,
    reconciled_placed: usize,
    by_kind: BTreeMap<&'static str, usize>,
}

impl Audit {
    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    fn assert_clean(&self, what: &str) {
        if self.problems.is_empty() {
            return;
        }
        let shown: Vec<&String> = self.problems.iter().take(40).collect();
        panic!(
            "{what}: {} problem(s) (first {}):\n{}",
            self.problems.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Checks, for every callback: done as its plan says; the carrier placed exactly the calls
/// its placed attempts name, as many as it was owed, each after its attempt was recorded;
/// every attempt never placed was reconciled as such; attempts one after another, never two
/// at once and never one while another was open.
async fn audit(fleet: &Fleet, store: &Arc<dyn Store>, campaign: i64, plans: &[Plan]) -> Audit {
    let mut audit = Audit::default();
    let plan_of: HashMap<&str, &Plan> = plans.iter().map(|p| (p.number.as_str(), p)).collect();
    let mut calls_to: HashMap<String, Vec<FakeCall>> = HashMap::new();
    for c in fleet.app.twilio.calls() {
        audit.calls += 1;
        if !plan_of.contains_key(c.to.as_str()) {
            audit.problem(format!("the carrier placed a call to {} nobody owes", c.to));
        }
        calls_to.entry(c.to.clone()).or_default().push(c);
    }
    let mut sent_to: HashMap<String, usize> = HashMap::new();
    for s in fleet.sent() {
        *sent_to.entry(s.to).or_default() += 1;
    }
    let mut seen_sids = HashSet::new();
    let callbacks = all_callbacks(store, campaign).await;
    if callbacks.len() != plans.len() {
        audit.problem(format!(
            "{} callbacks for {} plans",
            callbacks.len(),
            plans.len()
        ));
    }
    for cb in callbacks {
        audit.callbacks += 1;
        let Some(plan) = plan_of.get(cb.to_number.as_str()) else {
            audit.problem(format!("callback {} to an unknown number", cb.id));
            continue;
        };
        *audit.by_kind.entry(plan.kind).or_default() += 1;
        let who = format!("callback {} ({}, {})", cb.id, plan.kind, cb.to_number);
        let attempts = store.attempts(cb.id).await.expect("attempts");
        let ledger = store.ledger(cb.id).await.expect("ledger");
        audit.attempts += attempts.len();
        let calls = calls_to.remove(&cb.to_number).unwrap_or_default();
        let before = audit.problems.len();
        // Each attempt sends its request once, or dies before it could: never retried blindly.
        let requests = sent_to.get(&cb.to_number).copied().unwrap_or(0);
        let named = attempts
            .iter()
            .filter(|a| a.provider_call_id.is_some())
            .count();
        if requests > attempts.len() || requests < named {
            audit.problem(format!(
                "{who}: {requests} create request(s) for {} attempt(s), {named} of them placed",
                attempts.len()
            ));
        }
        check_callback(
            &mut audit,
            &who,
            &cb,
            plan,
            &attempts,
            &ledger,
            &calls,
            &fleet.timeline,
            &mut seen_sids,
        );
        if audit.problems.len() > before {
            let lines: Vec<String> = ledger
                .iter()
                .map(|e| {
                    format!(
                        "      #{} a{:?} {} @{} {}: {}",
                        e.id,
                        e.attempt_no,
                        e.kind,
                        e.at - START_MS,
                        e.provider_call_id.as_deref().unwrap_or("-"),
                        e.detail
                    )
                })
                .collect();
            audit.problem(format!(
                "    ledger of {who}:\n{}\n    attempts: {attempts:#?}\n    calls: {:?}",
                lines.join("\n"),
                calls
                    .iter()
                    .map(|c| (
                        &c.sid,
                        &c.status,
                        fleet.timeline.fake_at(c.created) - START_MS
                    ))
                    .collect::<Vec<_>>()
            ));
        }
    }
    for (to, calls) in calls_to {
        audit.problem(format!(
            "{} call(s) to {to}, which has no callback",
            calls.len()
        ));
    }
    audit
}

#[allow(clippy::too_many_arguments)]
fn check_callback(
    audit: &mut Audit,
    who: &str,
    cb: &Callback,
    plan: &Plan,
    attempts: &[Attempt],
    ledger: &[LedgerEntry],
    calls: &[FakeCall],
    timeline: &Timeline,
    seen_sids: &mut HashSet<String>,
) {
    // None lost: done, as the plan says.
    if cb.state != CallbackState::Done || cb.outcome.as_deref() != Some(plan.outcome) {
        audit.problem(format!(
            "{who}: {:?} {:?}, expected done {:?}",
            cb.state, cb.outcome, plan.outcome
        ));
    }
    // Exactly once per attempt owed.
    let placed: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.provider_call_id.is_some())
        .collect();
    let counted = attempts.iter().filter(|a| a.counts).count();
    if calls.len() != plan.owed
        || placed.len() != plan.owed
        || counted != plan.owed
        || usize::try_from(cb.attempts).ok() != Some(plan.owed)
    {
        audit.problem(format!(
            "{who}: owed {} call(s); the carrier placed {}, {} attempt(s) name a call, {} count, \
             the callback counts {}",
            plan.owed,
            calls.len(),
            placed.len(),
            counted,
            cb.attempts
        ));
    }
    // The calls placed are exactly the calls the attempts name, each after its attempt was
    // recorded.
    for a in &placed {
        let sid = a.provider_call_id.as_deref().unwrap_or_default();
        if !seen_sids.insert(sid.to_string()) {
            audit.problem(format!("{who}: call {sid} is named by two attempts"));
        }
        match calls.iter().find(|c| c.sid == sid) {
            None => audit.problem(format!(
                "{who}: attempt {} names call {sid}, which the carrier did not place to this number",
                a.attempt_no
            )),
            Some(c) => {
                let created = timeline.fake_at(c.created);
                if created < a.requested_at {
                    audit.problem(format!(
                        "{who}: call {sid} was created at {} before its attempt {} was recorded at {}",
                        created - START_MS,
                        a.attempt_no,
                        a.requested_at - START_MS
                    ));
                }
            }
        }
    }
    for c in calls {
        if !placed
            .iter()
            .any(|a| a.provider_call_id.as_deref() == Some(c.sid.as_str()))
        {
            audit.problem(format!(
                "{who}: the carrier placed call {} ({}) that no attempt names: dialed without a \
                 recorded attempt, or twice for one",
                c.sid, c.status
            ));
        }
    }
    // Attempts in order, one at a time, each ended before the next was recorded.
    for (i, a) in attempts.iter().enumerate() {
        if a.attempt_no != i32::try_from(i + 1).unwrap_or(-1) {
            audit.problem(format!(
                "{who}: attempt numbers {:?}",
                attempt_nos(attempts)
            ));
            break;
        }
        if a.state != AttemptState::Ended {
            audit.problem(format!(
                "{who}: attempt {} is still {:?}",
                a.attempt_no, a.state
            ));
        }
        if let Some(prev) = i.checked_sub(1).map(|j| &attempts[j]) {
            match prev.ended_at {
                Some(end) if end <= a.requested_at => {}
                end => audit.problem(format!(
                    "{who}: attempt {} was recorded at {} while attempt {} was open (ended {:?})",
                    a.attempt_no,
                    a.requested_at - START_MS,
                    prev.attempt_no,
                    end.map(|e| e - START_MS)
                )),
            }
        }
        let lines = |kind: &str| {
            ledger
                .iter()
                .filter(|e| e.attempt_no == Some(a.attempt_no) && e.kind == kind)
                .collect::<Vec<_>>()
        };
        if lines("dialing").len() != 1 || lines("ended").len() != 1 {
            audit.problem(format!(
                "{who}: attempt {} has {} dialing and {} ended ledger lines",
                a.attempt_no,
                lines("dialing").len(),
                lines("ended").len()
            ));
        }
        // Never placed: then it was reconciled as such, and did not count.
        if a.provider_call_id.is_none() {
            audit.never_placed += 1;
            let reconciled = lines("ended")
                .iter()
                .any(|e| e.detail.contains("never placed"));
            if !reconciled || a.counts || a.outcome.as_deref() != Some("carrier_busy") {
                audit.problem(format!(
                    "{who}: attempt {} names no call but was not reconciled as never placed \
                     (outcome {:?}, counts {})",
                    a.attempt_no, a.outcome, a.counts
                ));
            }
        } else if lines("placed")
            .iter()
            .any(|e| e.detail.contains("the carrier did place"))
        {
            // Found by asking the carrier, not by a status report.
            audit.reconciled_placed += 1;
        }
        // Its ledger lines come after the previous attempt ended.
        if let (Some(prev_end), Some(dial)) = (
            i.checked_sub(1).and_then(|j| {
                ledger
                    .iter()
                    .find(|e| e.attempt_no == Some(attempts[j].attempt_no) && e.kind == "ended")
            }),
            lines("dialing").first(),
        ) && dial.id < prev_end.id
        {
            audit.problem(format!(
                "{who}: attempt {} was dialed (ledger #{}) before attempt {} ended (ledger #{})",
                a.attempt_no,
                dial.id,
                attempts[i - 1].attempt_no,
                prev_end.id
            ));
        }
    }
}

fn attempt_nos(attempts: &[Attempt]) -> Vec<i32> {
    attempts.iter().map(|a| a.attempt_no).collect()
}

/// The most attempts recorded in any second of our clock, and when.
fn busiest_second(times: &[i64]) -> (usize, i64) {
    let mut t = times.to_vec();
    t.sort_unstable();
    let (mut best, mut at, mut j) = (0, 0, 0);
    for i in 0..t.len() {
        while t[i] - t[j] >= 1000 {
            j += 1;
        }
        if i + 1 - j > best {
            best = i + 1 - j;
            at = t[j];
        }
    }
    (best, at)
}

fn min_gap(times: &[i64]) -> Option<i64> {
    let mut t = times.to_vec();
    t.sort_unstable();
    t.windows(2).map(|w| w[1] - w[0]).min()
}

// ---------------------------------------------------------------------------------------------
// 1. Crash safety

async fn crash_safety(backend: Backend) {
    let name = format!("crash_safety({backend:?})");
    let Some(app) = TestApp::spawn(backend).await else {
        eprintln!("\n!!! {name}: SKIPPED, PostgreSQL is unreachable\n");
        return;
    };
    let started = Instant::now();
    let app = Arc::new(app);
    let sizes = sizes();
    let mut rng = rng(&name);
    let plans = plans(sizes.callbacks, &mut rng);
    let fleet = Fleet::new(app.clone(), sizes.batch, &plans);
    let owed: usize = plans.iter().map(|p| p.owed).sum();
    // The pace lets a call through every millisecond: dialers go as fast as they can.
    let campaign = campaign(&app, 1, &plans).await;
    let store = app.state.store.clone();

    let mut run_time = Duration::ZERO;
    let mut kills = Vec::new();
    for k in 0..sizes.kills {
        // Spread the kills over the campaign: each run lasts a random share of what is left.
        let done = app.twilio.calls().len();
        let left = owed.saturating_sub(done).max(1) as f64;
        let per_ms = done as f64 / run_time.as_millis().max(1) as f64;
        let mean_ms = if done == 0 {
            150.0
        } else {
            left / per_ms.max(0.01) / (sizes.kills - k + 1) as f64
        };
        let life = Duration::from_micros(
            (rng.random::<f64>() * 2.0 * mean_ms.clamp(1.0, 2000.0) * 1000.0) as u64,
        );
        fleet.timeline.run_at(1);
        let process = fleet.start(0, false).await;
        let t0 = Instant::now();
        tokio::time::sleep(life).await;
        fleet.kill(process).await;
        run_time += t0.elapsed();
        fleet.timeline.run_at(0);
        let snap = snapshot(&store, campaign.id).await;
        kills.push(format!(
            "kill {k:>2} after {:>4} ms: {} calls so far; {:?}, requesting {}, unclear {}, \
             placed {}, claimed without attempt {}",
            life.as_millis(),
            app.twilio.calls().len(),
            snap.states,
            snap.requesting,
            snap.unclear,
            snap.placed_open,
            snap.claimed_no_attempt
        ));
        // Past the leases and the grace, and often past a retry delay.
        fleet
            .timeline
            .advance(PAST_GRACE_MS + rng.random_range(0..90_000));
    }
    eprintln!("{name}:\n  {}", kills.join("\n  "));
    // The numbers whose requests hung answer from now on.
    for p in &plans {
        if let Some(b) = &p.after {
            app.twilio.on(&p.number, b.clone());
        }
    }
    let before_finish = app.twilio.calls().len();
    finish(&fleet, &campaign, owed).await;
    let audit = audit(&fleet, &store, campaign.id, &plans).await;
    let errors = fleet.app.twilio.errors();
    eprintln!(
        "{name}: {} callbacks {:?}, {} calls ({} before the clean finish), {} attempts, {} never \
         placed, {} found by asking the carrier; {} kills; {:.1} s; carrier errors: {}",
        audit.callbacks,
        audit.by_kind,
        audit.calls,
        before_finish,
        audit.attempts,
        audit.never_placed,
        audit.reconciled_placed,
        sizes.kills,
        started.elapsed().as_secs_f64(),
        errors.len()
    );
    audit.assert_clean(&name);
    assert_eq!(audit.calls, owed, "calls placed vs attempts owed");
    assert!(errors.is_empty(), "the carrier saw errors: {errors:#?}");
}

mod crash_safety {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        crash_safety(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        crash_safety(Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Several instances

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_killed() {
    let name = "three_instances_one_killed";
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("\n!!! {name}: SKIPPED, it needs PostgreSQL, which is unreachable\n");
        return;
    };
    let started = Instant::now();
    let app = Arc::new(app);
    let sizes = sizes();
    let mut rng = rng(name);
    let plans = plans(sizes.fleet_callbacks, &mut rng);
    let fleet = Fleet::new(app.clone(), sizes.batch, &plans);
    let owed: usize = plans.iter().map(|p| p.owed).sum();
    // 20 calls a second for the whole cluster.
    let pace_ms = 50;
    let limit = usize::try_from(1000 / pace_ms).expect("limit");
    let campaign = campaign(&app, pace_ms, &plans).await;
    let store = app.state.store.clone();

    fleet.timeline.run_at(sizes.fleet_rate);
    let mut fleet_procs: Vec<Option<Process>> = Vec::new();
    for i in 0..3 {
        fleet_procs.push(Some(fleet.start(i, true).await));
    }
    let killed = AtomicBool::new(false);
    let mut killed_at = None;
    let mut last_check = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let calls = app.twilio.calls().len();
        // Kill one mid-campaign, at a random moment of its work.
        if !killed.load(Ordering::Relaxed) && calls * 2 >= owed {
            tokio::time::sleep(Duration::from_micros(rng.random_range(0..5_000))).await;
            let victim = rng.random_range(0..3);
            let p = fleet_procs[victim].take().expect("alive");
            let rounds = p.rounds.load(Ordering::Relaxed);
            fleet.kill(p).await;
            killed.store(true, Ordering::Relaxed);
            killed_at = Some(fleet.timeline.now());
            let snap = snapshot(&store, campaign.id).await;
            eprintln!(
                "{name}: killed dialer {victim} after {rounds} rounds, {calls} calls: {:?}, \
                 requesting {}, unclear {}, placed {}, claimed without attempt {}",
                snap.states,
                snap.requesting,
                snap.unclear,
                snap.placed_open,
                snap.claimed_no_attempt
            );
            // The numbers whose requests hung answer from now on.
            for p in &plans {
                if let Some(b) = &p.after {
                    app.twilio.on(&p.number, b.clone());
                }
            }
        }
        // Nothing to do for a while: let time pass (retries, leases, the grace), with every
        // round finished so no live dialer sees its lease run out under it.
        if fleet.idle_rounds.load(Ordering::Relaxed) >= 6 {
            let _all = fleet.gate.write().await;
            fleet.timeline.advance(20_000);
            fleet.idle_rounds.store(0, Ordering::Relaxed);
        }
        if last_check.elapsed() > Duration::from_millis(200) {
            last_check = Instant::now();
            if killed.load(Ordering::Relaxed) {
                app.twilio.wait_idle().await;
                if snapshot(&store, campaign.id).await.finished() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "the fleet does not finish: {:?}",
                snapshot(&store, campaign.id).await
            );
        }
    }
    let mut rounds = Vec::new();
    for p in fleet_procs.into_iter().flatten() {
        rounds.push((
            p.rounds.load(Ordering::Relaxed),
            p.failed_rounds.load(Ordering::Relaxed),
        ));
        fleet.kill(p).await;
    }
    fleet.timeline.run_at(0);

    let audit = audit(&fleet, &store, campaign.id, &plans).await;
    // Pacing over the cluster: attempts recorded, and requests sent, per second of our clock.
    let mut recorded = Vec::new();
    for cb in all_callbacks(&store, campaign.id).await {
        for a in store.attempts(cb.id).await.expect("attempts") {
            recorded.push(a.requested_at);
        }
    }
    let sent = fleet.sent();
    let sent_at: Vec<i64> = sent.iter().map(|s| s.at).collect();
    let (most, when) = busiest_second(&recorded);
    let (most_sent, when_sent) = busiest_second(&sent_at);
    let mut per_instance: BTreeMap<usize, usize> = BTreeMap::new();
    for s in &sent {
        *per_instance.entry(s.instance).or_default() += 1;
    }
    let killed_at = killed_at.expect("one was killed");
    let after_kill: BTreeMap<usize, usize> =
        sent.iter()
            .filter(|s| s.at > killed_at)
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.instance).or_default() += 1;
                m
            });
    let errors = fleet.app.twilio.errors();
    eprintln!(
        "{name}: {} callbacks {:?}, {} calls, {} attempts ({} never placed, {} found by \
         asking the carrier); requests per dialer {per_instance:?}, after the kill {after_kill:?}; \
         rounds (done, failed) of the survivors {rounds:?}; busiest second: {most} attempts \
         recorded (at {}), {most_sent} requests sent (at {}); least gap between attempts {:?} ms \
         (pace {pace_ms}); {:.1} s; carrier errors: {}",
        audit.callbacks,
        audit.by_kind,
        audit.calls,
        audit.attempts,
        audit.never_placed,
        audit.reconciled_placed,
        when - START_MS,
        when_sent - START_MS,
        min_gap(&recorded),
        started.elapsed().as_secs_f64(),
        errors.len()
    );
    audit.assert_clean(name);
    assert_eq!(audit.calls, owed, "calls placed vs attempts owed");
    assert!(errors.is_empty(), "the carrier saw errors: {errors:#?}");
    assert!(
        most <= limit,
        "the pace ({limit} a second) was exceeded: {most} attempts in the second from {}",
        when - START_MS
    );
    assert!(
        after_kill.len() == 2,
        "both survivors dialed after the kill: {after_kill:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Reconciliation and another call to the same number

/// Two callbacks owe a call to one number (two tickets of one customer resolved together): the
/// first call goes out, the second request hangs a second later. Reconciling the second must
/// not take the first call for its own (it is another attempt's), and must not stop the dialer.
async fn an_earlier_call_to_the_number_is_not_an_unclear_attempts(backend: Backend) {
    let name = format!("same_number({backend:?})");
    let Some(app) = TestApp::spawn(backend).await else {
        eprintln!("\n!!! {name}: SKIPPED, PostgreSQL is unreachable\n");
        return;
    };
    let app = Arc::new(app);
    let number = "+8615000000001".to_string();
    let other = "+8615000000002".to_string();
    let plan = |number: &str, during: Behaviour| Plan {
        number: number.to_string(),
        kind: "busy",
        during,
        after: None,
        owed: 1,
        outcome: "exhausted",
        lost_reports: false,
    };
    let plans = [
        plan(&number, Behaviour::Busy),
        plan(&other, Behaviour::Busy),
    ];
    let fleet = Fleet::new(app.clone(), 32, &plans);
    let campaign = campaign(&app, 1, &plans[..1]).await;
    let store = app.state.store.clone();
    let now = app.clock.now_ms();
    // A second callback to the same number, from another ticket; and another customer's,
    // due a minute later.
    let queue = |source: &str, to: &str, due_at: i64| NewCallback {
        locale: Locale::ZhCn,
        ..fixtures::callback(campaign.id, source, to, due_at)
    };
    store
        .queue_callbacks(
            &[
                queue("ticket:2", &number, now),
                queue("ticket:3", &other, now + 61_000),
            ],
            now,
        )
        .await
        .expect("queue");
    app.twilio.on(&other, Behaviour::Busy);
    let (dialer, _own) = fleet.dialer(0).await;

    // The first call goes out (busy: done).
    dialer.round().await.expect("round");
    app.twilio.wait_idle().await;
    assert_eq!(app.twilio.placed_to(&number), 1);
    let first = app.twilio.calls()[0].sid.clone();
    // A second later, the second one's request hangs: unclear.
    app.twilio.on(&number, Behaviour::Hang);
    fleet.timeline.advance(1_000);
    dialer.round().await.expect("round");
    let all = all_callbacks(&store, campaign.id).await;
    let second = all
        .iter()
        .find(|c| c.source == "ticket:2")
        .expect("second")
        .id;
    let attempts = store.attempts(second).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0].state, AttemptState::Unclear);

    // Past the grace: reconciled, and the dialer goes on.
    fleet.timeline.advance(PAST_GRACE_MS);
    let mut rounds = Vec::new();
    for _ in 0..4 {
        rounds.push(dialer.round().await.map_err(|e| e.to_string()));
        fleet.timeline.advance(1_000);
    }
    app.twilio.wait_idle().await;
    let attempts = store.attempts(second).await.expect("attempts");
    let failed = rounds.iter().filter(|r| r.is_err()).count();
    assert!(
        failed == 0 && app.twilio.placed_to(&other) == 1,
        "{failed} of {} rounds failed after the unclear attempt's grace, and the other customer \
         got {} call(s): {rounds:#?}; the unclear attempt: {attempts:#?}",
        rounds.len(),
        app.twilio.placed_to(&other)
    );
    assert_ne!(
        attempts[0].provider_call_id.as_deref(),
        Some(first.as_str()),
        "the second callback's attempt took the first callback's call"
    );
    assert_eq!(attempts[0].state, AttemptState::Ended);
    assert_eq!(app.twilio.placed_to(&number), 1);
}

/// Reconciliation leaves other attempts' calls alone. (It once took the first call for the
/// second attempt; the store refused it, the call id being unique, and every round failed.)
mod same_number {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        an_earlier_call_to_the_number_is_not_an_unclear_attempts(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        an_earlier_call_to_the_number_is_not_an_unclear_attempts(Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A dead dialer's claims and a paused campaign

/// A dialer claims callbacks and dies; the operator pauses the campaign. When the claims'
/// lease runs out, another dialer takes them back, but must not dial them while the campaign
/// is paused.
async fn a_dead_dialers_claims_wait_for_a_paused_campaign(backend: Backend) {
    let name = format!("paused({backend:?})");
    let Some(app) = TestApp::spawn(backend).await else {
        eprintln!("\n!!! {name}: SKIPPED, PostgreSQL is unreachable\n");
        return;
    };
    let app = Arc::new(app);
    let mut rng = StdRng::seed_from_u64(4);
    let plans: Vec<Plan> = plans(4, &mut rng)
        .into_iter()
        .map(|p| Plan {
            during: Behaviour::Busy,
            ..p
        })
        .collect();
    let fleet = Fleet::new(app.clone(), 32, &plans);
    let campaign = campaign(&app, 1, &plans).await;
    let store = app.state.store.clone();
    // The dead dialer: it claimed two callbacks, then nothing more.
    let now = fleet.timeline.now();
    let claimed = store
        .claim_callbacks(now, now + 60_000, 2)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    fleet.timeline.advance(1_000);
    store
        .set_campaign_state(campaign.id, CampaignState::Paused, fleet.timeline.now())
        .await
        .expect("pause");
    fleet.timeline.advance(PAST_GRACE_MS);
    let (dialer, _own) = fleet.dialer(0).await;
    for _ in 0..5 {
        dialer.round().await.expect("round");
        fleet.timeline.advance(1_000);
    }
    app.twilio.wait_idle().await;
    let called: Vec<String> = app.twilio.calls().into_iter().map(|c| c.to).collect();
    assert!(
        called.is_empty(),
        "a paused campaign's callbacks were dialed: {called:?}"
    );
    // Once resumed, every one is called.
    store
        .set_campaign_state(campaign.id, CampaignState::Running, fleet.timeline.now())
        .await
        .expect("resume");
    finish(&fleet, &campaign, plans.len()).await;
    assert_eq!(app.twilio.calls().len(), plans.len());
}

/// Claims taken back from a dead dialer respect the campaign's state. (One was once dialed
/// although the campaign was paused.)
mod paused {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_dead_dialers_claims_wait_for_a_paused_campaign(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_dead_dialers_claims_wait_for_a_paused_campaign(Backend::Postgres).await;
    }
}
