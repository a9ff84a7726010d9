//! The benchmark's load generator: plays Twilio's part in whole bill-enquiry calls.
//!
//! `--connections` HTTP/1.1 keep-alive connections (default 64), one call in flight on each.
//! Every call is distinct (a fresh random `CallSid`, so nothing is answered from the retry
//! check) and comes from one of `--customers` seeded lines, round robin. A call is:
//!
//! 1. `POST /twilio/voice` (ringing) — the caller is identified by line and has a preferred
//!    language, so the answer must be the main menu (a `<Gather>` whose action is `n=menu`);
//! 2. `POST` to that action with `Digits=1` — the answer must read the bill (`<Say>`s and the
//!    bill menu, a `<Gather>` whose action is `n=bill`);
//! 3. `POST /twilio/status` with `CallStatus=completed`.
//!
//! Every request carries Twilio's parameter set and a valid `X-Twilio-Signature` over
//! `--url` + path and query. With `--instance` given more than once, the requests go to several
//! servers behind that one public URL, as from a round-robin balancer: a call's successive
//! requests go to successive instances (call k starts on instance k mod n), so no instance
//! sees a whole call. `--mode baseline` plays the same shape against `bench_baseline`
//! (it answers one fixed gather, so only the shape of the answers is checked).
//!
//! After `--warmup` seconds (not counted) it measures for `--duration` seconds and prints one
//! JSON line: throughput, latency percentiles over the successful requests, errors by kind,
//! and CPU use of itself, of the whole machine and (with `--server-pid`) of the server.
//! Errors are also shouted on stderr with sample answers. Used by `bench/run.sh`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use hotline::telephony::twilio::signature;

/// Twilio gives up on a webhook after 15 seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Answers kept per error kind to show on stderr.
const SAMPLES_PER_KIND: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Against `hotline`: the answers must be the main menu, then the bill read-out.
    Hotline,
    /// Against `bench_baseline`: the answers must be TwiML with a gather.
    Baseline,
}

#[derive(Parser)]
#[command(about = "Load generator: whole signed bill-enquiry calls over keep-alive connections")]
struct Args {
    /// The server's public URL: requests go there and are signed over it (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The Twilio auth token the server verifies with.
    #[arg(long, env = "BENCH_AUTH_TOKEN")]
    auth_token: String,
    #[arg(long, value_enum, default_value = "hotline")]
    mode: Mode,
    /// Label of the run in the JSON output.
    #[arg(long, default_value = "hotline")]
    name: String,
    /// Concurrent connections, each with one call in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seeded customers; call i comes from line `{line_prefix}{i % customers:08}`.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    #[arg(long, default_value = "+86139")]
    line_prefix: String,
    /// The hotline's number (`To`).
    #[arg(long, default_value = "+8610000")]
    to: String,
    /// Where requests go (host:port), once per instance; default: `--url`'s own address.
    /// Every instance must serve `--url` as its public URL (the signatures are over it).
    #[arg(long = "instance")]
    instances: Vec<String>,
    /// The servers' pids (once per instance), to report their CPU use during the measured
    /// window, together.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Open loop: start calls at this fixed rate (spread evenly over the connections) instead
    /// of back to back, to see latency at a given load rather than at saturation. Calls that
    /// start more than a millisecond after their slot are counted as `late_calls`: many of
    /// them mean the rate is beyond what the server (or the connections) can carry.
    #[arg(long)]
    calls_per_sec: Option<f64>,
}

/// What every worker shares.
struct Shared {
    public_url: String,
    host: HeaderValue,
    /// The instances' addresses.
    addrs: Vec<String>,
    auth_token: String,
    account_sid: String,
    mode: Mode,
    customers: u64,
    line_prefix: String,
    to: String,
    next_customer: AtomicU64,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    /// Open-loop rate, calls per second, and the number of connections sharing it.
    calls_per_sec: Option<f64>,
    connections: usize,
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    /// Latency of each successful request in the window, microseconds.
    latencies_us: Vec<u32>,
    errors: u64,
    errors_outside_window: u64,
    calls_completed: u64,
    /// Voice and step webhooks answered as expected over the whole run, warm-up included:
    /// each is a call step the server must have stored.
    steps_answered: u64,
    /// Open loop: calls started more than a millisecond after their slot.
    late_calls: u64,
    kinds: BTreeMap<String, u64>,
    samples: BTreeMap<String, Vec<String>>,
}

/// A request that did not get the expected answer.
struct Failure {
    kind: String,
    /// The answer, for the stderr sample.
    detail: String,
    /// The connection is unusable and must be replaced.
    broken: bool,
}

impl Failure {
    fn answer(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            detail: detail.into(),
            broken: false,
        }
    }
    fn transport(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            detail: detail.into(),
            broken: true,
        }
    }
}

impl Tally {
    fn in_window(sh: &Shared, t: Instant) -> bool {
        t >= sh.measure_from && t <= sh.end
    }

    fn ok(&mut self, sh: &Shared, started: Instant, done: Instant) {
        if Tally::in_window(sh, done) {
            let us = done.duration_since(started).as_micros();
            self.latencies_us
                .push(u32::try_from(us).unwrap_or(u32::MAX));
        }
    }

    fn failed(&mut self, sh: &Shared, done: Instant, f: &Failure) {
        if Tally::in_window(sh, done) {
            self.errors += 1;
        } else {
            self.errors_outside_window += 1;
        }
        *self.kinds.entry(f.kind.clone()).or_default() += 1;
        let samples = self.samples.entry(f.kind.clone()).or_default();
        if samples.len() < SAMPLES_PER_KIND {
            samples.push(f.detail.trim().chars().take(600).collect());
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 || args.customers == 0 {
        bail!("--connections and --customers must be at least 1");
    }
    if !(args.duration > 0.0 && args.warmup >= 0.0) {
        bail!("--duration must be positive and --warmup not negative");
    }
    let public_url = args.url.trim_end_matches('/').to_string();
    let Some(authority) = public_url.strip_prefix("http://") else {
        bail!("--url must be an http:// URL, got {public_url:?}");
    };
    if authority.contains('/') {
        bail!("--url must not have a path, got {public_url:?}");
    }
    let addrs = if args.instances.is_empty() {
        vec![if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        }]
    } else {
        args.instances.clone()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")?;
    rt.block_on(run(args, public_url.clone(), addrs, authority.to_string()))
}

async fn run(
    args: Args,
    public_url: String,
    addrs: Vec<String>,
    authority: String,
) -> anyhow::Result<()> {
    // Fail fast when nothing listens.
    for addr in &addrs {
        tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let shared = Arc::new(Shared {
        public_url,
        host: HeaderValue::from_str(&authority).context("--url host")?,
        addrs,
        auth_token: args.auth_token.clone(),
        account_sid: format!("AC{:032x}", rand::random::<u128>()),
        mode: args.mode,
        customers: args.customers,
        line_prefix: args.line_prefix.clone(),
        to: args.to.clone(),
        next_customer: AtomicU64::new(0),
        start,
        measure_from,
        end,
        calls_per_sec: args.calls_per_sec.filter(|r| *r > 0.0),
        connections: args.connections,
    });
    let workers: Vec<_> = (0..args.connections)
        .map(|w| tokio::spawn(worker(shared.clone(), w)))
        .collect();

    // CPU use over the measured window only.
    tokio::time::sleep_until(measure_from.into()).await;
    let machine_cpu0 = machine_busy_ticks();
    let client_cpu0 = cpu_ticks("self");
    let servers_cpu = || -> Option<u64> {
        (!args.server_pids.is_empty())
            .then(|| {
                args.server_pids
                    .iter()
                    .map(|p| cpu_ticks(&p.to_string()))
                    .sum()
            })
            .flatten()
    };
    let server_cpu0 = servers_cpu();
    let window_start = Instant::now();
    tokio::time::sleep_until(end.into()).await;
    let window = window_start.elapsed().as_secs_f64();
    let client_cpu = cpu_pct(client_cpu0, cpu_ticks("self"), window);
    let machine_cpu = cpu_pct(machine_cpu0, machine_busy_ticks(), window);
    let server_cpu = cpu_pct(server_cpu0, servers_cpu(), window);

    let mut total = Tally::default();
    for w in workers {
        let t = w.await.context("a worker panicked")?;
        total.latencies_us.extend(t.latencies_us);
        total.errors += t.errors;
        total.errors_outside_window += t.errors_outside_window;
        total.calls_completed += t.calls_completed;
        total.steps_answered += t.steps_answered;
        total.late_calls += t.late_calls;
        for (k, n) in t.kinds {
            *total.kinds.entry(k).or_default() += n;
        }
        for (k, s) in t.samples {
            let all = total.samples.entry(k).or_default();
            all.extend(s);
            all.truncate(SAMPLES_PER_KIND);
        }
    }
    total.latencies_us.sort_unstable();
    let lat = &total.latencies_us;
    let q = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
        f64::from(lat[rank - 1]) / 1000.0
    };
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|&v| f64::from(v)).sum::<f64>() / lat.len() as f64 / 1000.0
    };
    let requests = lat.len() as u64;
    let secs = args.duration;
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    let report = serde_json::json!({
        "name": args.name,
        "mode": match args.mode { Mode::Hotline => "hotline", Mode::Baseline => "baseline" },
        "connections": args.connections,
        "instances": shared.addrs.len(),
        "calls_per_sec_target": args.calls_per_sec,
        "late_calls": total.late_calls,
        "requests": requests,
        "errors": total.errors,
        "errors_outside_window": total.errors_outside_window,
        "error_kinds": total.kinds,
        "seconds": secs,
        "rps": round(requests as f64 / secs, 1),
        "calls_completed": total.calls_completed,
        "calls_per_sec": round(total.calls_completed as f64 / secs, 1),
        "steps_answered": total.steps_answered,
        "mean_ms": round(mean, 3),
        "p50_ms": round(q(0.50), 3),
        "p90_ms": round(q(0.90), 3),
        "p99_ms": round(q(0.99), 3),
        "p999_ms": round(q(0.999), 3),
        "max_ms": round(q(1.0), 3),
        "client_cpu_pct": client_cpu.map(|v| round(v, 1)),
        "server_cpu_pct": server_cpu.map(|v| round(v, 1)),
        "machine_cpu_pct": machine_cpu.map(|v| round(v, 1)),
    });
    if total.errors + total.errors_outside_window > 0 {
        eprintln!(
            "\n!!! {}: {} ERRORS in the measured window ({} more in the warm-up or after the window) !!!",
            args.name, total.errors, total.errors_outside_window
        );
        for (kind, n) in &total.kinds {
            eprintln!("!!!   {n} × {kind}");
            for s in total.samples.get(kind).into_iter().flatten() {
                eprintln!("!!!     e.g. {s}");
            }
        }
    }
    println!("{report}");
    Ok(())
}

/// utime + stime of `/proc/{pid}/stat` (all threads), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it start with the state (3rd).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy time of all cores together (`/proc/stat`, everything but idle and iowait), in clock
/// ticks: what the server and this generator used plus whatever else ran (the database, or
/// another program disturbing the measurement).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    let total: u64 = ticks.iter().take(8).sum();
    Some(total - ticks.get(3)? - ticks.get(4)?)
}

/// Percent of one core used between two samples; Linux's USER_HZ is 100.
fn cpu_pct(before: Option<u64>, after: Option<u64>, secs: f64) -> Option<f64> {
    let (b, a) = (before?, after?);
    Some(a.saturating_sub(b) as f64 / 100.0 / secs * 100.0)
}

async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::transport("connect", e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::transport("handshake", e.to_string()))?;
    tokio::spawn(async move {
        // Errors surface on the sender too; nothing to add here.
        let _ = conn.await;
    });
    Ok(sender)
}

/// One connection to each instance: whole calls, one after another, until the end.
async fn worker(sh: Arc<Shared>, w: usize) -> Tally {
    let mut tally = Tally::default();
    let mut conns = Conns {
        addrs: &sh.addrs,
        open: sh.addrs.iter().map(|_| None).collect(),
        next: w,
    };
    let mut k = 0u64;
    while Instant::now() < sh.end {
        if let Some(rate) = sh.calls_per_sec {
            // Slot k of this connection: the calls of all connections interleave evenly.
            let slot = (k * sh.connections as u64 + w as u64) as f64 / rate;
            let slot = sh.start + Duration::from_secs_f64(slot);
            k += 1;
            if slot >= sh.end {
                break;
            }
            let now = Instant::now();
            if slot > now {
                tokio::time::sleep_until(slot.into()).await;
            } else if now - slot > Duration::from_millis(1) && Tally::in_window(&sh, now) {
                tally.late_calls += 1;
            }
        }
        if let Err(f) = call(&sh, &mut conns, &mut tally).await {
            tally.failed(&sh, Instant::now(), &f);
            if f.broken {
                conns.drop_last();
            }
            if f.kind.starts_with("connect") || f.kind.starts_with("handshake") {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tally
}

/// A worker's keep-alive connections, one per instance, opened when first needed; requests
/// take the instances in turn.
struct Conns<'a> {
    addrs: &'a [String],
    open: Vec<Option<SendRequest<Full<Bytes>>>>,
    /// The instance the next request goes to.
    next: usize,
}

impl Conns<'_> {
    /// The connection to the next instance in turn.
    async fn next(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, Failure> {
        let i = self.next % self.addrs.len();
        self.next = self.next.wrapping_add(1);
        let conn = match self.open[i].take() {
            Some(c) => c,
            None => connect(&self.addrs[i]).await?,
        };
        Ok(self.open[i].insert(conn))
    }

    /// Forgets the connection the last request used (it broke).
    fn drop_last(&mut self) {
        let n = self.addrs.len();
        self.open[(self.next + n - 1) % n] = None;
    }
}

/// Index of `CallStatus` in [`call_params`].
const CALL_STATUS: usize = 3;

/// Twilio's parameters of every voice request of a call.
fn call_params(sh: &Shared, sid: &str, from: &str, status: &str) -> Vec<(String, String)> {
    let pairs: [(&str, &str); 25] = [
        ("AccountSid", &sh.account_sid),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Called", &sh.to),
        ("CalledCity", ""),
        ("CalledCountry", "CN"),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", from),
        ("CallerCity", ""),
        ("CallerCountry", "CN"),
        ("CallerState", ""),
        ("CallerZip", ""),
        ("Direction", "inbound"),
        ("From", from),
        ("FromCity", ""),
        ("FromCountry", "CN"),
        ("FromState", ""),
        ("FromZip", ""),
        ("To", &sh.to),
        ("ToCity", ""),
        ("ToCountry", "CN"),
        ("ToState", ""),
        ("ToZip", ""),
    ];
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One whole bill-enquiry call.
async fn call(sh: &Shared, conns: &mut Conns<'_>, tally: &mut Tally) -> Result<(), Failure> {
    let n = sh.next_customer.fetch_add(1, Ordering::Relaxed) % sh.customers;
    let from = format!("{}{n:08}", sh.line_prefix);
    let sid = format!("CA{:032x}", rand::random::<u128>());
    let started = Instant::now();

    // 1. The call arrives. The parameters are built once per call and adjusted per request.
    let mut params = call_params(sh, &sid, &from, "ringing");
    let base_len = params.len();
    let body = post(
        sh,
        conns.next().await?,
        tally,
        "voice",
        "/twilio/voice",
        &params,
    )
    .await?;
    let action =
        gather_action(&body).ok_or_else(|| Failure::answer("voice: no <Gather> action", &body))?;
    if sh.mode == Mode::Hotline && !action.contains("n=menu") {
        return Err(Failure::answer("voice: not the main menu", &body));
    }
    let Some(step) = action.strip_prefix(&sh.public_url).map(str::to_string) else {
        return Err(Failure::answer(
            "voice: action outside the public URL",
            action,
        ));
    };

    // 2. The caller presses 1 for the bill.
    params[CALL_STATUS].1 = "in-progress".into();
    params.push(("Digits".into(), "1".into()));
    params.push(("FinishedOnKey".into(), String::new()));
    let body = post(sh, conns.next().await?, tally, "step", &step, &params).await?;
    if !body.contains("<Say") {
        return Err(Failure::answer("step: nothing said", &body));
    }
    let action =
        gather_action(&body).ok_or_else(|| Failure::answer("step: no <Gather> action", &body))?;
    if sh.mode == Mode::Hotline && !action.contains("n=bill") {
        return Err(Failure::answer("step: not the bill read-out", &body));
    }

    // 3. The caller hangs up.
    let secs = started.elapsed().as_secs();
    params.truncate(base_len);
    params[CALL_STATUS].1 = "completed".into();
    params.extend([
        ("CallbackSource".into(), "call-progress-events".into()),
        ("SequenceNumber".into(), "0".into()),
        (
            "Timestamp".into(),
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S +0000")
                .to_string(),
        ),
        ("CallDuration".into(), secs.to_string()),
        ("Duration".into(), secs.div_ceil(60).max(1).to_string()),
    ]);
    post(
        sh,
        conns.next().await?,
        tally,
        "status",
        "/twilio/status",
        &params,
    )
    .await?;
    if Tally::in_window(sh, Instant::now()) {
        tally.calls_completed += 1;
    }
    Ok(())
}

/// POSTs a signed form; the answer must be HTTP 200 with an XML content type. Returns the body.
async fn post(
    sh: &Shared,
    sender: &mut SendRequest<Full<Bytes>>,
    tally: &mut Tally,
    what: &str,
    path_and_query: &str,
    params: &[(String, String)],
) -> Result<String, Failure> {
    let sig = signature::sign(
        &sh.auth_token,
        &format!("{}{path_and_query}", sh.public_url),
        params,
    );
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let req = Request::builder()
        .method(Method::POST)
        .uri(path_and_query)
        .header(HOST, sh.host.clone())
        .header(USER_AGENT, "TwilioProxy/1.1")
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .header("x-twilio-signature", sig)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| Failure::answer(format!("{what}: bad request"), e.to_string()))?;
    let started = Instant::now();
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| Failure::transport(format!("{what}: connection closed"), e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Failure::transport(format!("{what}: transport"), e.to_string()))?;
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::transport(format!("{what}: reading body"), e.to_string()))?
            .to_bytes();
        Ok::<_, Failure>((status, ctype, body))
    };
    let (status, ctype, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| Failure::transport(format!("{what}: no answer in 15 s"), ""))??;
    let done = Instant::now();
    let Ok(body) = String::from_utf8(Vec::from(body)) else {
        return Err(Failure::answer(format!("{what}: body not UTF-8"), ""));
    };
    if status != StatusCode::OK {
        return Err(Failure::answer(
            format!("{what}: HTTP {}", status.as_u16()),
            body,
        ));
    }
    if !(ctype.starts_with("text/xml") || ctype.starts_with("application/xml")) {
        return Err(Failure::answer(
            format!("{what}: Content-Type {ctype:?}"),
            body,
        ));
    }
    if what != "status" && body.contains("<Hangup/>") {
        // `hotline` answers every failure after the signature check with an apology.
        return Err(Failure::answer(
            format!("{what}: apology and hang-up"),
            body,
        ));
    }
    tally.ok(sh, started, done);
    if what != "status" {
        tally.steps_answered += 1;
    }
    Ok(body)
}

/// The `action` of the first `<Gather>`, unescaped.
fn gather_action(body: &str) -> Option<String> {
    let at = body.find("<Gather")?;
    let tag = &body[at..at + body[at..].find('>')?];
    let (quote, value_at) = [('"', " action=\""), ('\'', " action='")]
        .into_iter()
        .find_map(|(q, pat)| tag.find(pat).map(|i| (q, i + pat.len())))?;
    let value = &tag[value_at..value_at + tag[value_at..].find(quote)?];
    Some(unescape(value))
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::gather_action;

    #[test]
    fn finds_and_unescapes_the_gather_action() {
        let body = r#"<?xml version="1.0"?><Response><Say>x</Say><Gather input="dtmf" action="http://h:1/twilio/step?s=2&amp;n=bill&amp;l=zh" method="POST"><Say>a &amp; b</Say></Gather></Response>"#;
        assert_eq!(
            gather_action(body).as_deref(),
            Some("http://h:1/twilio/step?s=2&n=bill&l=zh")
        );
        assert_eq!(gather_action("<Response><Hangup/></Response>"), None);
        assert_eq!(
            gather_action("<Gather action='/x?a=1&amp;b=2'>").as_deref(),
            Some("/x?a=1&b=2")
        );
    }
}
