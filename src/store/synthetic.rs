//! A synthetic year of a large operator's data, **for benchmarks and load tests only**: it
//! writes straight into the tables, bypassing every rule the application keeps (no ticket
//! feed, no dialer, no webhooks), and must never be pointed at a database that serves calls.
//!
//! `fill(url, spec)` migrates the database (`crate::store::connect`), refuses one that already
//! holds accounts, creates two campaigns through the store, then generates everything else
//! with set-based SQL inside the database (a recursive CTE on SQLite, `generate_series` on
//! PostgreSQL; random values from the database's own `random()`, drawn once per row in a
//! `MATERIALIZED` CTE). Figures are therefore statistically the same from run to run, not
//! identical. The operator's zone is Asia/Shanghai (UTC+8, no daylight saving, so local days
//! are fixed 24-hour steps in SQL); the year is 2025 in local days, and "now" is its end.
//!
//! Sizes at `Spec::scaled(1.0)` (the large operator; other scales multiply them):
//! - 200,000 accounts (every tenth business), each with a phone line and a second line
//!   (broadband; leased for a third of business accounts): 400,000 lines.
//! - 1,000,000 inbound calls: 92% from a random line, 8% a repeat of an earlier call from
//!   the same number 10 minutes to 20 hours later. Calls fall on a random day of the year
//!   (weekends 35% quieter) at a local time peaking at 15:00 between 08:00 and 22:00 (3% at
//!   any hour); 12% dialed the second hotline `10001`, the rest `10000`; 10% unidentified.
//!   Milestones: 55% self-served only, 7% self-served then asked for a person, 23% asked
//!   for a person only, 15% neither (repeat calls: 30 / 10 / 40 / 20%); 15% of those asking
//!   for a person were offered a callback, and 40% of those took it.
//! - About 10,000,000 `call_steps` (2 to 18 per call, 10 on average), short texts.
//! - `queue_calls` for every call that asked for a person: waits of 5 s plus a cubed
//!   uniform up to 240 s (mean about 65 s), 7% abandoned (`hangup`), callback takers left
//!   (`leave`), the rest `bridged`; an escalation `transfer_callback` per callback taken.
//! - 1,000,000 tickets: 75% faults, 8% installations, 4% moves, 9% changes, 4% complaints
//!   (half of them recorded by phone without a line or class). Deadlines approximate the
//!   standard policy: leased-line fault 4 h, business fault the end of the local day
//!   (before 16:00) or noon the next day, other faults 72 h, change 24 h, installation and
//!   move 21 days (15 working days), complaints none. Resolution: fault 38.4 h × u³ (mean
//!   9.6 h, median 4.8 h; with the late ones below 12.2 h measured, near the operator's 12.8 h),
//!   scaled down by the deadline for business and leased lines;
//!   installation/move 2–12 days; change 1–17 h; complaint 4 h–4 days. 1% cancelled, 5% of
//!   those with a deadline resolved 1–24 h late (and marked breached); tickets whose
//!   resolution falls after "now" are still running. Ticket events: `opened` and `resolved`.
//! - Campaigns: the standing satisfaction campaign (`Script::satisfaction`, from `10000`)
//!   and a sample survey (`Script::sample_survey`, from `10001`), both running.
//! - 1,000,000 callbacks: one satisfaction callback (2 h after the resolution) per resolved
//!   non-complaint ticket except every twentieth, the rest sample-survey callbacks of random
//!   accounts in weekly batches. Attempts (about 1.3 per callback) are placed in the calling
//!   window (09:00–20:00, moved past the built-in calendar's holidays): reached at the
//!   first attempt 78%, second 13%, third 4%, unreached after two 2% or three 2.7%, refused
//!   by the carrier 0.3%; failed attempts are no answer, machine, busy or failed, retried
//!   after the default policy's delays. Callbacks due after "now" are still pending.
//! - Survey answers for 96% of the answered attempts: satisfaction very / basic /
//!   dissatisfied 91 / 6 / 3%, fixed yes 95%, a comment 8%; sample surveys score fault repair,
//!   billing and business halls 1–5, and 70% rate data communications 1–5.
//!
//! Table by table, see the statements below; the reports read none of `call_steps`,
//! `ticket_events` or `escalation_events`, which are filled only for realistic table sizes.

use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use sqlx::{AssertSqlSafe, Connection};

use super::{Result, StoreError};
use crate::callbacks::policy::RetryPolicy;
use crate::callbacks::window::CallingWindow;
use crate::callbacks::{CampaignState, NewCampaign};
use crate::surveys::script::{Purpose, Script};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Asia/Shanghai's offset: local days are `[year_from + k·DAY, …)`.
const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// Random values are integers in `[0, 2^30)`.
const R_SPAN: i64 = 1 << 30;
/// The hotline numbers the calls dial (and the campaigns call from).
pub const HOTLINE: &str = "10000";
pub const SECOND_HOTLINE: &str = "10001";
/// The campaigns' names.
pub const SATISFACTION_CAMPAIGN: &str = "synthetic satisfaction";
pub const SURVEY_CAMPAIGN: &str = "synthetic sample survey";

/// How much to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub accounts: i64,
    /// Inbound calls (each with 10 steps on average).
    pub calls: i64,
    pub tickets: i64,
    pub callbacks: i64,
    /// The first local day of the year covered.
    pub first_day: NaiveDate,
    /// Days covered from `first_day`.
    pub days: i64,
}

impl Spec {
    /// The large operator times `scale` (at least a few rows of each).
    pub fn scaled(scale: f64) -> Spec {
        let n = |full: f64| ((full * scale).round() as i64).max(100);
        Spec {
            accounts: n(200_000.0),
            calls: n(1_000_000.0),
            tickets: n(1_000_000.0),
            callbacks: n(1_000_000.0),
            first_day: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            days: 365,
        }
    }

    /// `[from, to)` in epoch ms: the local days covered.
    pub fn period(&self) -> Result<(i64, i64)> {
        let start = |d: NaiveDate| {
            crate::tickets::sla::local_to_utc(TZ, d.and_time(chrono::NaiveTime::MIN))
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| StoreError::Corrupt(format!("{d} has no start in {TZ}")))
        };
        let from = start(self.first_day)?;
        Ok((from, from + self.days * DAY))
    }
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Filled {
    /// Rows per table, in the order generated.
    pub counts: Vec<(&'static str, i64)>,
    /// Seconds each generation step took (empty when only described).
    pub steps: Vec<(&'static str, f64)>,
    pub satisfaction_campaign: i64,
    pub survey_campaign: i64,
    /// The year covered, `[from, to)` epoch ms; `to` is the "now" the data was made for.
    pub from: i64,
    pub to: i64,
}

const TABLES: [&str; 12] = [
    "accounts",
    "lines",
    "calls",
    "call_steps",
    "queue_calls",
    "escalations",
    "tickets",
    "ticket_events",
    "campaigns",
    "callbacks",
    "callback_attempts",
    "survey_answers",
];

/// One connection of either backend.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Db {
    async fn open(url: &str) -> Result<Db> {
        if url.starts_with("sqlite:") {
            Ok(Db::Sqlite(sqlx::SqliteConnection::connect(url).await?))
        } else {
            Ok(Db::Pg(sqlx::PgConnection::connect(url).await?))
        }
    }

    fn pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    async fn exec(&mut self, sql: &str) -> Result<u64> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        Ok(match self {
            Db::Sqlite(c) => q.execute(c).await?.rows_affected(),
            Db::Pg(c) => q.execute(c).await?.rows_affected(),
        })
    }

    async fn scalar(&mut self, sql: &str) -> Result<i64> {
        let sql = AssertSqlSafe(sql.to_string());
        Ok(match self {
            Db::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await?,
            Db::Pg(c) => sqlx::query_scalar(sql).fetch_one(c).await?,
        })
    }

    async fn close(self) -> Result<()> {
        match self {
            Db::Sqlite(c) => c.close().await?,
            Db::Pg(c) => c.close().await?,
        }
        Ok(())
    }
}

/// The SQL that differs between the backends, and the year's constants.
struct Gen {
    pg: bool,
    /// Epoch ms of the first local midnight, and of the end ("now").
    y0: i64,
    y1: i64,
    days: i64,
    /// Weekday of the first day, Monday 0.
    weekday0: i64,
    lines: i64,
}

impl Gen {
    /// Rows `n` = 1..=count, as a FROM item.
    fn seq(&self, count: i64) -> String {
        let count = count.max(1);
        if self.pg {
            format!("(SELECT generate_series(1, {count}) AS n)")
        } else {
            format!(
                "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) \
                 SELECT n FROM s)"
            )
        }
    }

    /// A random integer in `[0, 2^30)`, drawn afresh each time it is evaluated.
    fn rnd(&self) -> &'static str {
        if self.pg {
            "CAST(floor(random() * 1073741824) AS BIGINT)"
        } else {
            // `&` keeps the low 30 bits (abs() would fail on the smallest integer).
            "(random() & 1073741823)"
        }
    }

    /// PostgreSQL's identity columns refuse given ids without it.
    fn ov(&self) -> &'static str {
        if self.pg {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    }

    fn pad(&self, e: &str, width: u32) -> String {
        if self.pg {
            format!("lpad(CAST({e} AS TEXT), {width}, '0')")
        } else {
            format!("printf('%0{width}d', {e})")
        }
    }

    /// A Twilio-like call SID, unique per id, in an order unrelated to it (as real SIDs).
    fn sid(&self, id: &str) -> String {
        let h = format!("(({id}) * 2654435761) % 4294967296");
        if self.pg {
            format!("'CA' || lpad(to_hex({h}), 8, '0') || lpad(CAST({id} AS TEXT), 24, '0')")
        } else {
            format!("'CA' || printf('%08x%024d', {h}, {id})")
        }
    }

    /// The number of line `l` (ids 1..=lines; account `(l + 1) / 2`).
    fn number(&self, l: &str) -> String {
        format!("'+86139' || {}", self.pad(l, 8))
    }

    /// The local time of a call or ticket from four random columns: a day (weekends 35%
    /// quieter), and a time peaking at 15:00 between 08:00 and 22:00, 3% at any hour.
    fn when(&self, ra: &str, rb: &str, rc: &str, rd: &str) -> String {
        let day0 = uni(ra, self.days);
        let w = self.weekday0;
        format!(
            "({y0} + (CASE WHEN (({day0}) + {w}) % 7 IN (5, 6) AND {rd} < {p35} \
             THEN ({day0}) - 2 + CASE WHEN ({day0}) < 2 THEN 4 ELSE 0 END ELSE ({day0}) END) * {DAY} \
             + CASE WHEN {rd} % 1000 < 30 THEN {any} \
             ELSE {h8} + ({tb} + {tc}) / 2 END)",
            y0 = self.y0,
            p35 = p(0.35),
            any = uni(rb, DAY),
            h8 = 8 * HOUR,
            tb = uni(rb, 14 * HOUR),
            tc = uni(rc, 14 * HOUR),
        )
    }

    /// Time `t` moved into the calling window, 09:00–19:50 local, past holidays (the temp
    /// table `syn_days`); `j` a random column for the minutes after 09:00 when moved.
    fn window(&self, t: &str, j: &str) -> String {
        let rel = format!("(({t}) - {})", self.y0);
        let late = 19 * HOUR + 50 * MINUTE;
        let nine = format!("({} + {})", 9 * HOUR, uni(j, 2 * HOUR));
        let d1 = format!("({rel} / {DAY} + CASE WHEN {rel} % {DAY} >= {late} THEN 1 ELSE 0 END)");
        let tod1 = format!(
            "(CASE WHEN {rel} % {DAY} < {h9} OR {rel} % {DAY} >= {late} THEN {nine} \
             ELSE {rel} % {DAY} END)",
            h9 = 9 * HOUR
        );
        let od = format!("(SELECT o.open_day FROM syn_days o WHERE o.day = {d1})");
        format!(
            "({y0} + {od} * {DAY} + CASE WHEN {od} = {d1} THEN {tod1} ELSE {nine} END)",
            y0 = self.y0
        )
    }
}

/// `x` (a share) of the random range.
fn p(x: f64) -> i64 {
    (x * R_SPAN as f64) as i64
}

/// A uniform integer in `[0, span)` from random column `r` (read once).
fn uni(r: &str, span: i64) -> String {
    format!("(({r}) / 1024 * {span} / 1048576)")
}

/// `span · u³` for a uniform `u` from column `r`: mean `span / 4`, a long tail.
fn cube(r: &str, span: i64) -> String {
    format!("(({r}) / 1048576) * (({r}) / 1048576) * (({r}) / 1048576) * {span} / 1073741824")
}

/// The account of line `l`, its kind, and the account's class.
fn account_of(l: &str) -> String {
    format!("((({l}) + 1) / 2)")
}
fn line_kind(l: &str) -> String {
    format!(
        "(CASE WHEN ({l}) % 2 = 1 THEN 'phone' WHEN {a} % 30 = 0 THEN 'leased' \
         ELSE 'broadband' END)",
        a = account_of(l)
    )
}
fn class_of(a: &str) -> String {
    format!("(CASE WHEN ({a}) % 10 = 0 THEN 'business' ELSE 'residential' END)")
}
fn locale_of(a: &str) -> String {
    format!("(CASE WHEN ({a}) % 5 = 0 THEN 'en-US' ELSE 'zh-CN' END)")
}

/// The reports' campaigns, when a database holds them.
async fn campaign_ids(store: &dyn super::Store) -> Result<Option<(i64, i64)>> {
    let all = store.campaigns().await?;
    let id = |name: &str| all.iter().find(|c| c.name == name).map(|c| c.id);
    Ok(id(SATISFACTION_CAMPAIGN).zip(id(SURVEY_CAMPAIGN)))
}

async fn counts(db: &mut Db) -> Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push((t, db.scalar(&format!("SELECT COUNT(*) FROM {t}")).await?));
    }
    Ok(out)
}

/// A database `fill` filled before: its counts and campaigns; `None` when it holds none.
pub async fn describe(url: &str, spec: &Spec) -> Result<Option<Filled>> {
    let store = super::connect(url).await?;
    let Some((satisfaction_campaign, survey_campaign)) = campaign_ids(&*store).await? else {
        return Ok(None);
    };
    drop(store);
    let mut db = Db::open(url).await?;
    let counts = counts(&mut db).await?;
    db.close().await?;
    let (from, to) = spec.period()?;
    Ok(Some(Filled {
        counts,
        steps: Vec::new(),
        satisfaction_campaign,
        survey_campaign,
        from,
        to,
    }))
}

fn campaign(name: &str, purpose: Purpose, from_number: &str, starts_at: i64) -> NewCampaign {
    NewCampaign {
        name: name.into(),
        purpose,
        script: Script::builtin(purpose),
        window: CallingWindow::default(),
        retry: RetryPolicy::default(),
        pace_ms: 100,
        from_number: from_number.into(),
        starts_at,
        ends_at: None,
        standing: purpose == Purpose::Satisfaction,
        delay_minutes: if purpose == Purpose::Satisfaction {
            120
        } else {
            0
        },
        quiet_days: 30,
    }
}

/// Fills a freshly migrated database with `spec`'s year (see the module docs). Refuses a
/// database that already has accounts.
pub async fn fill(url: &str, spec: &Spec) -> Result<Filled> {
    let (y0, y1) = spec.period()?;
    let store = super::connect(url).await?;
    let started = Instant::now();
    let mut db = Db::open(url).await?;
    if db.scalar("SELECT COUNT(*) FROM accounts").await? > 0 {
        return Err(StoreError::Conflict(
            "the database already holds accounts: synthetic data goes into an empty one".into(),
        ));
    }
    let mut ids = Vec::new();
    for (name, purpose, from) in [
        (SATISFACTION_CAMPAIGN, Purpose::Satisfaction, HOTLINE),
        (SURVEY_CAMPAIGN, Purpose::SampleSurvey, SECOND_HOTLINE),
    ] {
        let c = store
            .create_campaign(&campaign(name, purpose, from, y0 - 30 * DAY), y0 - 30 * DAY)
            .await?;
        store
            .set_campaign_state(c.id, CampaignState::Running, y0 - 30 * DAY)
            .await?;
        ids.push(c.id);
    }
    let (sat, sur) = (ids[0], ids[1]);
    // The store's pool is not needed any more; only this connection writes.
    drop(store);

    let g = Gen {
        pg: db.pg(),
        y0,
        y1,
        days: spec.days,
        weekday0: i64::from(spec.first_day.weekday().num_days_from_monday()),
        lines: spec.accounts * 2,
    };
    if g.pg {
        // The ids and references are consistent by construction; checking ten million
        // foreign keys one by one would only slow the load (needs a superuser: best effort).
        let _ = db.exec("SET session_replication_role = replica").await;
        db.exec(
            "SET synchronous_commit = off; SET work_mem = '256MB'; \
                 SET maintenance_work_mem = '512MB'",
        )
        .await?;
    } else {
        db.exec(
            "PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -1000000",
        )
        .await?;
    }
    db.exec(&open_days(spec)).await?;

    let mut steps = Vec::new();
    for (name, sql) in statements(&g, spec) {
        let t = Instant::now();
        db.exec(&sql).await?;
        if !g.pg {
            // Each statement is its own transaction: keep the write-ahead log from growing
            // to the size of the whole data set.
            db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        steps.push((name, t.elapsed().as_secs_f64()));
    }
    // Survey callbacks make up the rest of the callbacks, so they follow the satisfaction
    // ones (whose number depends on the tickets resolved).
    let t = Instant::now();
    db.exec(&satisfaction_callbacks(&g, sat)).await?;
    if !g.pg {
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    steps.push(("callbacks (satisfaction)", t.elapsed().as_secs_f64()));
    let satisfied = db
        .scalar(&format!(
            "SELECT COUNT(*) FROM callbacks WHERE campaign_id = {sat}"
        ))
        .await?;
    for (name, sql) in callback_statements(&g, spec.callbacks - satisfied, spec.accounts, sat, sur)
    {
        let t = Instant::now();
        db.exec(&sql).await?;
        if !g.pg {
            db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        steps.push((name, t.elapsed().as_secs_f64()));
    }
    if g.pg {
        let t = Instant::now();
        // Later inserts through the store must not collide with the given ids.
        for table in ["accounts", "lines", "calls", "tickets", "ticket_events"] {
            db.exec(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ))
            .await?;
        }
        // What autovacuum would do soon after a load this size.
        db.exec("ANALYZE").await?;
        steps.push(("analyze", t.elapsed().as_secs_f64()));
    }
    db.exec("DROP TABLE syn_days").await?;
    let counts = counts(&mut db).await?;
    db.close().await?;
    steps.push(("total", started.elapsed().as_secs_f64()));
    Ok(Filled {
        counts,
        steps,
        satisfaction_campaign: sat,
        survey_campaign: sur,
        from: y0,
        to: y1,
    })
}

/// The temp table of local days (from the first) and the first day from each on which the
/// default calling window opens (the built-in calendar's holidays closed).
fn open_days(spec: &Spec) -> String {
    let cal = crate::calendar::Calendar::builtin();
    let total = spec.days + 90;
    let dates: Vec<NaiveDate> = (0..total)
        .map(|d| spec.first_day + chrono::Days::new(d as u64))
        .collect();
    let mut rows = Vec::with_capacity(dates.len());
    for (d, _) in dates.iter().enumerate() {
        let open = (d..dates.len())
            .find(|&k| !cal.is_holiday(dates[k]))
            .unwrap_or(d);
        rows.push(format!("({d}, {open})"));
    }
    format!(
        "CREATE TEMP TABLE syn_days (day BIGINT PRIMARY KEY, open_day BIGINT NOT NULL); \
         INSERT INTO syn_days (day, open_day) VALUES {}",
        rows.join(", ")
    )
}

/// `n` random columns named `r0..`, for a CTE's select list.
fn rcols(g: &Gen, n: usize) -> String {
    (0..n)
        .map(|i| format!("{} AS r{i}", g.rnd()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Accounts, lines, calls, steps, the queue, escalations, tickets and their events.
fn statements(g: &Gen, spec: &Spec) -> Vec<(&'static str, String)> {
    let ov = g.ov();
    let (y0, y1) = (g.y0, g.y1);
    let created = y0 - 400 * DAY;
    let originals = (spec.calls as f64 * 0.92).round() as i64;
    let repeats = spec.calls - originals;
    let lines = g.lines;
    let mut out = Vec::new();

    out.push((
        "accounts",
        format!(
            "INSERT INTO accounts (id, account_no, name, language, customer_class, pin_failures, \
             created_at, updated_at){ov} \
             SELECT n, 'S' || {no}, 'Synthetic customer ' || n, {loc}, {class}, 0, {created}, \
             {created} FROM {seq} AS g",
            no = g.pad("n", 9),
            loc = locale_of("n"),
            class = class_of("n"),
            seq = g.seq(spec.accounts),
        ),
    ));
    out.push((
        "lines",
        format!(
            "INSERT INTO lines (id, account_id, number, kind){ov} \
             SELECT n, {acc}, {num}, {kind} FROM {seq} AS g",
            acc = account_of("n"),
            num = g.number("n"),
            kind = line_kind("n"),
            seq = g.seq(lines),
        ),
    ));

    // Calls: the CTE `v` gives id, t0, from_number, account_id, locale, to_number and two
    // random columns (rg: what the call achieved, rh: offers and length); the milestones
    // follow from the shares of `cats` (self only, self then person, person only).
    let calls = |v: String, cats: [f64; 3]| {
        let [a1, a2, a3] = cats.map(p);
        format!(
            "INSERT INTO calls (id, call_sid, direction, from_number, to_number, account_id, \
             locale, status, started_at, ended_at, duration_secs, updated_at, self_served_at, \
             person_at, callback_offered_at){ov} \
             WITH {v}, \
             m AS MATERIALIZED (SELECT id, t0, from_number, account_id, locale, to_number, rh, \
               CASE WHEN rg < {a2} THEN t0 + 30000 + rg % 90000 END AS ss, \
               CASE WHEN rg >= {a1} AND rg < {a3} THEN t0 + 60000 + (rg / 7) % 120000 \
                 + CASE WHEN rg < {a2} THEN 90000 ELSE 0 END END AS pa FROM v), \
             e AS MATERIALIZED (SELECT m.*, t0 + 45000 + (rh / 4096) % 240000 \
               + CASE WHEN pa IS NULL THEN 0 ELSE 240000 END AS ended FROM m) \
             SELECT id, {sid}, 'inbound', from_number, to_number, account_id, locale, \
             'completed', t0, ended, (ended - t0) / 1000, ended, ss, pa, \
             CASE WHEN pa IS NOT NULL AND (rh / 128) % 100 < 15 THEN pa + 30000 END FROM e",
            sid = g.sid("id"),
        )
    };
    let v_originals = format!(
        "r AS MATERIALIZED (SELECT n AS id, {r} FROM {seq} AS g), \
         c AS MATERIALIZED (SELECT id, r4 AS rf, r5 AS rg, r6 AS rh, {when} AS t0, \
           1 + {line} AS line FROM r), \
         v AS MATERIALIZED (SELECT id, t0, {num} AS from_number, \
           CASE WHEN rf % 10 = 0 THEN NULL ELSE {acc} END AS account_id, {loc} AS locale, \
           CASE WHEN rf / 16 % 100 < 12 THEN '{SECOND_HOTLINE}' ELSE '{HOTLINE}' END \
           AS to_number, rg, rh FROM c)",
        r = rcols(g, 8),
        seq = g.seq(originals),
        when = g.when("r0", "r1", "r2", "r3"),
        line = uni("r7", lines),
        num = g.number("line"),
        acc = account_of("line"),
        loc = locale_of(&account_of("line")),
    );
    out.push(("calls", calls(v_originals, [0.55, 0.62, 0.85])));
    if repeats > 0 {
        let v_repeats = format!(
            "r AS MATERIALIZED (SELECT {originals} + n AS id, 1 + {base} AS base, \
               {m10} + {gap} AS gap, {r} FROM {seq} AS g), \
             v AS MATERIALIZED (SELECT r.id, CASE WHEN b.started_at + r.gap < {y1} \
               THEN b.started_at + r.gap ELSE {y1} - 60000 END AS t0, b.from_number, \
               b.account_id, b.locale, b.to_number, r.r0 AS rg, r.r1 AS rh \
               FROM r JOIN calls b ON b.id = r.base)",
            base = uni(g.rnd(), originals),
            m10 = 10 * MINUTE,
            gap = uni(g.rnd(), 20 * HOUR),
            r = rcols(g, 2),
            seq = g.seq(repeats),
        );
        out.push(("calls (repeats)", calls(v_repeats, [0.30, 0.40, 0.80])));
    }

    out.push((
        "call_steps",
        format!(
            "INSERT INTO call_steps (call_id, seq, node, input, said, response, at) \
             SELECT c.id, g.n, \
             CASE WHEN g.n = 1 THEN 'welcome' WHEN g.n = 2 THEN 'main_menu' \
               ELSE CASE (c.id + g.n) % 5 WHEN 0 THEN 'bill' WHEN 1 THEN 'fault_menu' \
               WHEN 2 THEN 'ticket_status' WHEN 3 THEN 'service_info' ELSE 'agent_queue' END END, \
             CASE WHEN g.n = 1 THEN '' ELSE CAST((c.id + g.n) % 10 AS TEXT) END, \
             'synthetic step', \
             '<Response><Gather numDigits=\"1\" action=\"/twilio/step?n=' || g.n || '\"/></Response>', \
             c.started_at + (g.n - 1) * 12000 \
             FROM calls c JOIN {seq} AS g ON g.n <= 2 + ((c.id * 2654435761) % 4294967296) / 65536 % 17 \
             ORDER BY c.id, g.n",
            seq = g.seq(18),
        ),
    ));

    // Queue: everyone who asked for a person; 40% of those offered a callback took it.
    out.push((
        "queue_calls",
        format!(
            "INSERT INTO queue_calls (call_sid, account_id, from_number, locale, entered_at, \
             last_seen_at, position, expected_secs, left_at, result) \
             WITH q AS MATERIALIZED (SELECT c.call_sid, c.account_id, c.from_number, \
               COALESCE(c.locale, 'zh-CN') AS locale, c.person_at + 2000 AS entered, \
               c.callback_offered_at AS offered, c.id % 5 < 2 AS taken, {r} FROM calls c \
               WHERE c.person_at IS NOT NULL), \
             w AS MATERIALIZED (SELECT q.*, CASE WHEN offered IS NOT NULL AND taken \
               THEN offered + 15000 ELSE entered + 5000 + {wait} END AS left_at FROM q) \
             SELECT call_sid, account_id, from_number, locale, entered, left_at, 1 + r1 % 8, \
             30 + r1 % 240, left_at, \
             CASE WHEN offered IS NOT NULL AND taken THEN 'leave' \
               WHEN r1 < {abandon} THEN 'hangup' ELSE 'bridged' END FROM w",
            r = rcols(g, 2),
            wait = cube("r0", 240_000),
            abandon = p(0.07),
        ),
    ));
    out.push((
        "escalations",
        format!(
            "INSERT INTO escalations (kind, state, priority, source, account_id, call_sid, \
             callback_number, summary, owner, due_at, queued_at, created_at, updated_at, \
             claimed_at, replied_at, closed_at, reply_via, version) \
             SELECT 'transfer_callback', 'closed', 1, 'call:' || q.call_sid, q.account_id, \
             q.call_sid, q.from_number, 'Took a callback instead of holding', \
             'agent-' || {agent}, q.entered_at + {HOUR}, q.entered_at, q.left_at, \
             q.left_at + 1800000, q.left_at + 600000, q.left_at + 1200000, q.left_at + 1800000, \
             'phone', 4 FROM queue_calls q WHERE q.result = 'leave'",
            agent = g.pad("(q.entered_at / 1000) % 40", 2),
        ),
    ));

    // Tickets: kind, line and time, then deadline, time taken and what became of them.
    let lk = line_kind("line");
    let biz = format!(
        "(({y0}) + (opened - {y0}) / {DAY} * {DAY} + CASE WHEN (opened - {y0}) % {DAY} < {h16} \
         THEN {DAY} ELSE {DAY} + {h12} END)",
        h16 = 16 * HOUR,
        h12 = 12 * HOUR
    );
    out.push((
        "tickets",
        format!(
            "INSERT INTO tickets (id, number, kind, state, account_id, line_number, line_kind, \
             customer_class, channel, description, callback_number, assignee, opened_at, \
             deadline_at, appointment_at, resolved_at, resolution_code, resolution_note, \
             closed_at, breached_at, updated_at){ov} \
             WITH r AS MATERIALIZED (SELECT n AS id, {r} FROM {seq} AS g), \
             k AS MATERIALIZED (SELECT id, r6 AS rg, r7 AS rh, r8 AS ri, \
               CASE WHEN r0 < {pf} THEN 'fault' WHEN r0 < {pi} THEN 'installation' \
               WHEN r0 < {pm} THEN 'move' WHEN r0 < {pc} THEN 'change' ELSE 'complaint' END \
               AS kind, 1 + {line} AS line, {when} AS opened FROM r), \
             l AS MATERIALIZED (SELECT k.*, {acc} AS account, \
               CASE WHEN kind = 'complaint' AND rh % 2 = 0 THEN 0 ELSE 1 END AS has_line FROM k), \
             d AS MATERIALIZED (SELECT l.*, CASE \
               WHEN kind = 'fault' AND {lk} = 'leased' THEN opened + {h4} \
               WHEN kind = 'fault' AND {class} = 'business' THEN {biz} \
               WHEN kind = 'fault' THEN opened + {h72} \
               WHEN kind IN ('installation', 'move') THEN opened + {d21} \
               WHEN kind = 'change' THEN opened + {h24} END AS deadline FROM l), \
             e AS MATERIALIZED (SELECT d.*, CASE kind \
               WHEN 'fault' THEN ({fault}) * (deadline - opened) / {h72} \
               WHEN 'installation' THEN {d2} + {inst} WHEN 'move' THEN {d2} + {inst} \
               WHEN 'change' THEN {HOUR} + {chg} ELSE {h4} + {cmp} END AS took, \
               CASE WHEN ri < {p1} THEN 1 ELSE 0 END AS cancelled, \
               CASE WHEN deadline IS NOT NULL AND ri >= {p1} AND ri < {p6} THEN 1 ELSE 0 END \
               AS late FROM d), \
             f AS MATERIALIZED (SELECT e.*, CASE WHEN cancelled = 1 THEN NULL \
               WHEN late = 1 THEN deadline + {HOUR} + {lateby} ELSE opened + took END AS res0 \
               FROM e) \
             SELECT id, '9' || {no}, kind, \
             CASE WHEN cancelled = 1 THEN 'cancelled' \
               WHEN res0 >= {y1} THEN CASE rg % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'assigned' \
                 ELSE 'in_progress' END \
               WHEN res0 < {week_before} THEN 'closed' ELSE 'resolved' END, \
             account, CASE WHEN has_line = 1 THEN {num} END, CASE WHEN has_line = 1 THEN {lk} END, \
             CASE WHEN has_line = 1 THEN {class} END, \
             CASE WHEN has_line = 0 OR ri % 10 < 7 THEN 'phone' WHEN ri % 10 < 9 THEN 'api' \
               ELSE 'console' END, \
             'Synthetic ' || kind, CASE WHEN has_line = 1 THEN {num} END, 'tech-' || (id % 500), \
             opened, deadline, CASE WHEN kind IN ('installation', 'move') THEN opened + {d3} END, \
             CASE WHEN cancelled = 0 AND res0 < {y1} THEN res0 END, \
             CASE WHEN cancelled = 0 AND res0 < {y1} THEN 'fixed' END, \
             CASE WHEN cancelled = 0 AND res0 < {y1} THEN 'synthetic' END, \
             CASE WHEN cancelled = 1 THEN opened + {h2} WHEN res0 < {week_before} THEN res0 + {d7} END, \
             CASE WHEN late = 1 AND deadline + 60000 < {y1} THEN deadline + 60000 END, \
             CASE WHEN cancelled = 1 THEN opened + {h2} WHEN res0 < {week_before} THEN res0 + {d7} \
               WHEN res0 < {y1} THEN res0 ELSE opened END \
             FROM f",
            r = rcols(g, 9),
            seq = g.seq(spec.tickets),
            pf = p(0.75),
            pi = p(0.83),
            pm = p(0.87),
            pc = p(0.96),
            line = uni("r1", lines),
            when = g.when("r2", "r3", "r4", "r5"),
            acc = account_of("line"),
            class = class_of("account"),
            num = g.number("line"),
            no = g.pad("id", 8),
            h2 = 2 * HOUR,
            h4 = 4 * HOUR,
            h24 = 24 * HOUR,
            h72 = 72 * HOUR,
            d2 = 2 * DAY,
            d3 = 3 * DAY,
            d7 = 7 * DAY,
            d21 = 21 * DAY,
            fault = cube("rg", 384 * HOUR / 10),
            inst = uni("rg", 10 * DAY),
            chg = uni("rg", 16 * HOUR),
            cmp = uni("rg", 4 * DAY),
            p1 = p(0.01),
            p6 = p(0.06),
            lateby = uni("rh", 23 * HOUR),
            week_before = y1 - 7 * DAY,
        ),
    ));
    out.push((
        "ticket_events",
        format!(
            "INSERT INTO ticket_events (id, ticket_id, kind, actor, from_state, to_state, detail, \
             at){ov} \
             SELECT 2 * id - 1, id, 'opened', 'caller', NULL, 'open', '{{\"synthetic\":true}}', \
             opened_at FROM tickets"
        ),
    ));
    out.push((
        "ticket_events (resolved)",
        format!(
            "INSERT INTO ticket_events (id, ticket_id, kind, actor, from_state, to_state, detail, \
             at){ov} \
             SELECT 2 * id, id, 'resolved', assignee, 'in_progress', 'resolved', \
             '{{\"code\":\"fixed\"}}', resolved_at FROM tickets WHERE resolved_at IS NOT NULL"
        ),
    ));
    out
}

/// Attempt outcomes: a failure of any kind, or one that allows a third attempt.
fn any_fail(r: &str) -> String {
    format!(
        "CASE WHEN {r} < {a} THEN 'no_answer' WHEN {r} < {b} THEN 'machine' \
         WHEN {r} < {c} THEN 'busy' ELSE 'failed' END",
        a = p(0.5),
        b = p(0.75),
        c = p(0.9)
    )
}
fn retryable(r: &str) -> String {
    format!(
        "CASE WHEN {r} < {a} THEN 'no_answer' ELSE 'busy' END",
        a = p(0.75)
    )
}

/// The columns of an attempt from `outcome`, `req` (requested at), random column `rd`,
/// callback `cb` and attempt number `no`.
fn attempt_select(no: i64) -> String {
    format!(
        "SELECT cb, {no}, 'ended', CASE WHEN outcome <> 'rejected' THEN 'CB' || cb || '-{no}' END, \
         req, CASE WHEN outcome <> 'rejected' THEN req + 400 END, \
         req + CASE outcome WHEN 'answered' THEN 40400 + {talk} WHEN 'no_answer' THEN 30400 \
           WHEN 'busy' THEN 5400 WHEN 'failed' THEN 2400 WHEN 'machine' THEN 25400 ELSE 1000 END, \
         CASE outcome WHEN 'answered' THEN 'completed' WHEN 'machine' THEN 'completed' \
           WHEN 'no_answer' THEN 'no-answer' WHEN 'busy' THEN 'busy' WHEN 'failed' THEN 'failed' END, \
         CASE outcome WHEN 'answered' THEN 'human' WHEN 'machine' THEN 'machine' END, \
         outcome, TRUE FROM o",
        talk = uni("rd", 150_000),
    )
}

/// How far a callback got, from one random column: reached at attempt 1, 2 or 3 (1..3),
/// unreached after 2 or 3 (-2, -3), refused by the carrier (0).
fn fate(r: &str) -> String {
    format!(
        "CASE WHEN {r} < {a} THEN 1 WHEN {r} < {b} THEN 2 WHEN {r} < {c} THEN 3 \
         WHEN {r} < {d} THEN -2 WHEN {r} < {e} THEN -3 ELSE 0 END",
        a = p(0.78),
        b = p(0.91),
        c = p(0.95),
        d = p(0.97),
        e = p(0.997)
    )
}

const INSERT_CALLBACK: &str = "INSERT INTO callbacks (campaign_id, account_id, ticket_id, \
     source, to_number, timezone, locale, state, due_at, attempts, outcome, created_at, \
     updated_at)";

/// A callback's state, due time, attempts, outcome, creation and update from the CTE
/// columns `first` (its first attempt), `fate` and `created`.
fn finish(y1: i64) -> String {
    format!(
        "CASE WHEN first >= {y1} THEN 'pending' ELSE 'done' END, first, \
         CASE WHEN first >= {y1} THEN 0 WHEN fate = 0 THEN 1 \
           WHEN fate < 0 THEN -fate ELSE fate END, \
         CASE WHEN first >= {y1} THEN NULL WHEN fate = 0 THEN 'rejected' \
           WHEN fate < 0 THEN 'exhausted' ELSE 'reached' END, created, \
         CASE WHEN first >= {y1} THEN created ELSE first END"
    )
}

/// One satisfaction callback (the standing campaign's, two hours after the resolution) per
/// resolved non-complaint ticket with a number, except every twentieth.
fn satisfaction_callbacks(g: &Gen, sat: i64) -> String {
    format!(
        "{INSERT_CALLBACK} WITH s AS MATERIALIZED (SELECT t.id, t.account_id, \
           t.callback_number, t.resolved_at + 5000 AS created, t.resolved_at + {h2} AS due, {r} \
           FROM tickets t WHERE t.resolved_at IS NOT NULL AND t.kind <> 'complaint' \
           AND t.callback_number IS NOT NULL AND t.id % 20 <> 0), \
         w AS MATERIALIZED (SELECT s.*, {first} AS first, {fate} AS fate FROM s) \
         SELECT {sat}, account_id, id, 'ticket-event:' || (2 * id), callback_number, \
         'Asia/Shanghai', {loc}, {finish} FROM w ORDER BY created, id",
        h2 = 2 * HOUR,
        r = rcols(g, 2),
        first = g.window("due", "r0"),
        fate = fate("r1"),
        loc = locale_of("account_id"),
        finish = finish(g.y1),
    )
}

/// Sample-survey callbacks (`survey` of them), then every callback's attempts and answers.
fn callback_statements(
    g: &Gen,
    survey: i64,
    accounts: i64,
    sat: i64,
    sur: i64,
) -> Vec<(&'static str, String)> {
    let y0 = g.y0;
    let insert = INSERT_CALLBACK;
    let finish = finish(g.y1);
    let mut out = Vec::new();
    if survey > 0 {
        out.push((
            "callbacks (sample survey)",
            format!(
                "{insert} WITH s AS MATERIALIZED (SELECT n, 1 + {acc} AS account_id, \
                   {y0} + {week} * {d7} + {h8} AS created, {r} FROM {seq} AS g), \
                 w AS MATERIALIZED (SELECT s.*, {first} AS first, {fate} AS fate FROM s) \
                 SELECT {sur}, account_id, NULL, 'sample:{sur}:' || n, {num}, 'Asia/Shanghai', \
                 {loc}, {finish} FROM w ORDER BY created, n",
                acc = uni(g.rnd(), accounts),
                week = uni(g.rnd(), (g.days / 7).max(1)),
                d7 = 7 * DAY,
                h8 = 8 * HOUR,
                r = rcols(g, 3),
                seq = g.seq(survey),
                first = g.window(
                    &format!("created + {} + {}", HOUR, uni("r2", 3 * DAY)),
                    "r0"
                ),
                fate = fate("r1"),
                num = g.number("2 * account_id - 1"),
                loc = locale_of("account_id"),
            ),
        ));
    }
    let attempts = "INSERT INTO callback_attempts (callback_id, attempt_no, state, \
                    provider_call_id, requested_at, placed_at, ended_at, call_status, \
                    answered_by, outcome, counts)";
    out.push((
        "callback_attempts (1st)",
        format!(
            "{attempts} WITH a AS MATERIALIZED (SELECT b.id AS cb, b.due_at AS req, \
               b.attempts AS n, b.outcome AS fin, {r} FROM callbacks b WHERE b.state = 'done'), \
             o AS MATERIALIZED (SELECT cb, req, r1 AS rd, CASE WHEN fin = 'rejected' \
               THEN 'rejected' WHEN n = 1 THEN 'answered' WHEN n = 3 THEN {retry} \
               ELSE {fail} END AS outcome FROM a) {sel}",
            r = rcols(g, 2),
            retry = retryable("r0"),
            fail = any_fail("r0"),
            sel = attempt_select(1),
        ),
    ));
    // A retry waits the default policy's delay for the outcome before it, then the window.
    let delay = format!(
        "CASE p.outcome WHEN 'no_answer' THEN {} WHEN 'busy' THEN {} WHEN 'failed' THEN {} \
         ELSE {} END",
        60 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        120 * MINUTE
    );
    for (no, name) in [
        (2, "callback_attempts (2nd)"),
        (3, "callback_attempts (3rd)"),
    ] {
        let last = if no == 2 {
            format!(
                "CASE WHEN fin = 'reached' AND n = 2 THEN 'answered' WHEN n = 2 THEN \
                 CASE WHEN r0 < {m} THEN 'machine' ELSE 'failed' END ELSE {retry} END",
                m = p(0.7),
                retry = retryable("r0")
            )
        } else {
            format!(
                "CASE WHEN fin = 'reached' THEN 'answered' ELSE {} END",
                retryable("r0")
            )
        };
        out.push((
            name,
            format!(
                "{attempts} WITH a AS MATERIALIZED (SELECT b.id AS cb, p.ended_at + {delay} AS after, \
                   b.attempts AS n, b.outcome AS fin, {r} FROM callback_attempts p \
                   JOIN callbacks b ON b.id = p.callback_id \
                   WHERE p.attempt_no = {prev} AND b.attempts >= {no}), \
                 o AS MATERIALIZED (SELECT cb, {req} AS req, r1 AS rd, {last} AS outcome FROM a) \
                 {sel}",
                r = rcols(g, 3),
                prev = no - 1,
                req = g.window("after", "r2"),
                sel = attempt_select(no),
            ),
        ));
    }
    // Answers: 4% of the answered attempts hung up before the first question.
    let answered = |campaign: i64, n: usize| {
        format!(
            "a AS MATERIALIZED (SELECT a.id, a.callback_id, a.placed_at, {r} \
             FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id \
             WHERE a.outcome = 'answered' AND b.campaign_id = {campaign} \
             AND (a.id * 2654435761) % 4294967296 >= {skip})",
            r = rcols(g, n),
            skip = (0.04 * 4_294_967_296.0) as i64,
        )
    };
    let answers =
        "INSERT INTO survey_answers (callback_id, attempt_id, question, answer, score, at)";
    let null_score = "CAST(NULL AS DOUBLE PRECISION)";
    out.push((
        "survey_answers (satisfaction)",
        format!(
            "{answers} WITH {a} \
             SELECT callback_id, id, 'satisfaction', CASE WHEN r0 < {very} THEN 'very' \
               WHEN r0 < {basic} THEN 'basic' ELSE 'dissatisfied' END, {null_score}, \
               placed_at + 20000 FROM a \
             UNION ALL SELECT callback_id, id, 'fixed', CASE WHEN {notfixed} THEN 'no' ELSE 'yes' END, \
               CAST(CASE WHEN {notfixed} THEN 0 ELSE 100 END AS DOUBLE PRECISION), \
               placed_at + 35000 FROM a \
             UNION ALL SELECT callback_id, id, 'comment', \
               'https://api.twilio.com/2010-04-01/Accounts/ACsynthetic/Recordings/RE' || id, \
               {null_score}, placed_at + 60000 FROM a WHERE r2 < {comment}",
            a = answered(sat, 3),
            very = p(0.91),
            basic = p(0.97),
            notfixed = format!("((r0 >= {} AND r1 < {}) OR r1 < {})", p(0.97), p(0.6), p(0.03)),
            comment = p(0.08),
        ),
    ));
    let five = |r: &str| {
        format!(
            "CASE WHEN {r} < {a} THEN 1 WHEN {r} < {b} THEN 2 WHEN {r} < {c} THEN 3 \
             WHEN {r} < {d} THEN 4 ELSE 5 END",
            a = p(0.04),
            b = p(0.10),
            c = p(0.25),
            d = p(0.55)
        )
    };
    out.push((
        "survey_answers (sample survey)",
        format!(
            "{answers} WITH {a} \
             SELECT callback_id, id, 'fault_repair', CAST({f} AS TEXT), \
               CAST(({f} - 1) * 25 AS DOUBLE PRECISION), placed_at + 20000 FROM a \
             UNION ALL SELECT callback_id, id, 'billing', CAST({b} AS TEXT), \
               CAST(({b} - 1) * 25 AS DOUBLE PRECISION), placed_at + 35000 FROM a \
             UNION ALL SELECT callback_id, id, 'business_hall', CAST({h} AS TEXT), \
               CAST(({h} - 1) * 25 AS DOUBLE PRECISION), placed_at + 50000 FROM a \
             UNION ALL SELECT callback_id, id, 'data_communications', CAST({d} AS TEXT), \
               CAST(({d} - 1) * 25 AS DOUBLE PRECISION), placed_at + 65000 FROM a \
               WHERE r3 < {rated}",
            a = answered(sur, 5),
            f = five("r0"),
            b = five("r1"),
            h = five("r2"),
            d = five("r4"),
            rated = p(0.7),
        ),
    ));
    out
}

/// The local weekday of `ms` (for tests of the generated times).
#[cfg(test)]
fn weekday_of(ms: i64) -> chrono::Weekday {
    use chrono::TimeZone;
    TZ.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.weekday())
        .unwrap_or(chrono::Weekday::Mon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_year_is_2025_in_shanghai() {
        let (from, to) = Spec::scaled(1.0).period().expect("period");
        assert_eq!(crate::clock::rfc3339(from), "2024-12-31T16:00:00+00:00");
        assert_eq!(to - from, 365 * DAY);
        assert_eq!(weekday_of(from), chrono::Weekday::Wed);
    }

    #[test]
    fn uniform_values_stay_in_range_without_overflow() {
        // The largest random value over a year's span fits in 64 bits and stays below it.
        let r = R_SPAN - 1;
        let v = r / 1024 * (366 * DAY) / 1_048_576;
        assert!(v < 366 * DAY);
        let c = (r / 1_048_576).pow(3) * (512 * HOUR / 10) / 1_073_741_824;
        assert!(c < 512 * HOUR / 10);
    }
}
