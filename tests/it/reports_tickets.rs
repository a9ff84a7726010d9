//! The service-levels, complaints and hotline reports: known data in, the figures a manager
//! reads out, on SQLite and on PostgreSQL. Tickets are written through the store at chosen
//! times; calls go through the carrier simulator, so the outcomes the reports count are the
//! ones the call flow records.

use crate::support::app::{Backend, HOUR, TestApp, both, shanghai};
use crate::support::demo::{ALICE, HOTLINE, LINA, UNKNOWN, ZHANG};
use crate::support::fixtures;
use crate::support::reports::rows;
use hotline::clock::Clock;
use hotline::customers::{CustomerClass, LineKind};
use hotline::reports::{Period, Report, ReportFilter, ReportKind};
use hotline::tickets::{Action, NewTicket, Ticket, TicketKind};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The report of `kind` over the local days `from..=to`, as of `now`.
async fn report(
    app: &TestApp,
    kind: ReportKind,
    (from, to): (&str, &str),
    filter: &ReportFilter,
    now: i64,
) -> Report {
    let date = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    let period = Period::days(date(from), date(to), TZ).expect("period");
    crate::support::reports::build(app, kind, period, filter, now).await
}

/// The row of table `table` whose first cells are `key`, as displayed.
fn row(r: &Report, table: &str, key: &[&str]) -> Vec<String> {
    let t = r
        .tables
        .iter()
        .find(|t| t.key == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    t.rows
        .iter()
        .map(|cells| cells.iter().map(|c| c.display()).collect::<Vec<_>>())
        .find(|cells| cells.iter().zip(key).all(|(c, k)| c == k))
        .unwrap_or_else(|| panic!("no row {key:?} in {table}:\n{}", r.to_text()))
}

async fn business_account(app: &TestApp) -> i64 {
    app.state
        .steps
        .store
        .account_by_line(LINA)
        .await
        .expect("store")
        .expect("demo business account")
        .id
}

fn ticket(kind: TicketKind, class: Option<CustomerClass>, deadline_at: Option<i64>) -> NewTicket {
    NewTicket {
        line_kind: (kind != TicketKind::Complaint).then_some(LineKind::Phone),
        customer_class: class,
        description: "report test".into(),
        deadline_at,
        deadline_estimated: false,
        actor: "test".into(),
        ..fixtures::ticket(kind)
    }
}

async fn open(app: &TestApp, t: NewTicket, at: i64) -> Ticket {
    app.state
        .steps
        .store
        .open_ticket(&t, at)
        .await
        .expect("open ticket")
}

async fn change(app: &TestApp, t: &Ticket, action: Action, at: i64) {
    app.state
        .steps
        .store
        .change_ticket(&t.number, &action, "technician", None, at)
        .await
        .expect("change ticket");
}

fn resolve() -> Action {
    Action::Resolve {
        code: "fixed".into(),
        note: String::new(),
    }
}

/// June 2026: five residential faults promised in 16 hours and repaired in 6, 10, 12, 14 and
/// 22 hours (64 hours, 12.8 on average; the last one late); a business fault still open past
/// its deadline; a change due two hours after `now`; an installation cancelled in time.
async fn june_tickets(app: &TestApp) -> i64 {
    let opened = shanghai(2026, 6, 2, 8, 0);
    for h in [6, 10, 12, 14, 22] {
        let t = ticket(
            TicketKind::Fault,
            Some(CustomerClass::Residential),
            Some(opened + 16 * HOUR),
        );
        let t = open(app, t, opened).await;
        change(app, &t, resolve(), opened + h * HOUR).await;
    }
    let late = ticket(
        TicketKind::Fault,
        Some(CustomerClass::Business),
        Some(shanghai(2026, 6, 10, 16, 0)),
    );
    open(app, late, shanghai(2026, 6, 10, 9, 0)).await;
    let now = shanghai(2026, 6, 20, 12, 0);
    let change_due = ticket(
        TicketKind::Change,
        Some(CustomerClass::Residential),
        Some(now + 2 * HOUR),
    );
    open(app, change_due, now - 2 * HOUR).await;
    let install = ticket(
        TicketKind::Installation,
        Some(CustomerClass::Residential),
        Some(shanghai(2026, 6, 25, 0, 0)),
    );
    let install = open(app, install, shanghai(2026, 6, 5, 10, 0)).await;
    let cancel = Action::Cancel {
        reason: "customer withdrew".into(),
    };
    change(app, &install, cancel, shanghai(2026, 6, 6, 10, 0)).await;
    now
}

const JUNE: (&str, &str) = ("2026-06-01", "2026-06-30");

both!(
    service_levels_count_deadlines_kept_and_repair_times,
    |app: TestApp| async move {
        let now = june_tickets(&app).await;
        let all = ReportFilter::default();
        let r = report(&app, ReportKind::ServiceLevels, JUNE, &all, now).await;
        assert!(r.ignored.is_empty(), "{:?}", r.ignored);

        // Due, met, breached, pending, cancelled, compliance.
        assert_eq!(
            row(&r, "compliance", &["fault", "residential"])[2..],
            ["5", "4", "1", "0", "0", "80.0% (4 of 5)"]
        );
        assert_eq!(
            row(&r, "compliance", &["fault", "business"])[2..],
            ["1", "0", "1", "0", "0", "0.0% (0 of 1)"],
            "running past its deadline is a breach, marked or not"
        );
        assert_eq!(
            row(&r, "compliance", &["change", "residential"])[2..],
            ["1", "0", "0", "1", "0", "— (0 of 0)"],
            "due later than now: pending, not in the rate"
        );
        assert_eq!(
            row(&r, "compliance", &["installation", "residential"])[2..],
            ["1", "0", "0", "0", "1", "— (0 of 0)"]
        );
        assert_eq!(
            row(&r, "compliance", &["all", "all"])[2..],
            ["8", "4", "2", "1", "1", "66.7% (4 of 6)"]
        );

        // The operator's figure: faults repaired in 12.8 hours on average.
        assert_eq!(
            row(&r, "time_to_resolve", &["fault", "residential"])[2..],
            ["5", "12.8 h", "12.0 h", "22.0 h", "22.0 h"]
        );
        assert_eq!(rows(&r, "time_to_resolve"), 2, "{}", r.to_text());

        // As of now: the business fault is late and open, the change is due within 4 hours.
        assert_eq!(row(&r, "at_risk", &["fault"])[1..], ["1", "0"]);
        assert_eq!(row(&r, "at_risk", &["change"])[1..], ["0", "1"]);
        assert_eq!(row(&r, "at_risk", &["all"])[1..], ["1", "1"]);

        // A day when the only ticket due breached: 0.0% with its denominator.
        let day = ("2026-06-10", "2026-06-10");
        let r = report(&app, ReportKind::ServiceLevels, day, &all, now).await;
        assert_eq!(
            row(&r, "compliance", &["all", "all"])[2..],
            ["1", "0", "1", "0", "0", "0.0% (0 of 1)"]
        );
        assert_eq!(
            row(&r, "time_to_resolve", &["all", "all"])[2..],
            ["0", "—", "—", "—", "—"]
        );

        // Filters: the customer class applies; a service that is no ticket kind does not.
        let business = ReportFilter {
            customer_class: Some(CustomerClass::Business),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::ServiceLevels, JUNE, &business, now).await;
        assert_eq!(rows(&r, "compliance"), 2, "{}", r.to_text());
        assert_eq!(row(&r, "compliance", &["all", "all"])[7], "0.0% (0 of 1)");
        let faults = ReportFilter {
            service: Some("fault".into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::ServiceLevels, JUNE, &faults, now).await;
        assert_eq!(row(&r, "compliance", &["all", "all"])[7], "66.7% (4 of 6)");
        assert_eq!(row(&r, "at_risk", &["all"])[1..], ["1", "0"]);
        let odd = ReportFilter {
            service: Some("billing".into()),
            hotline: Some(HOTLINE.into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::ServiceLevels, JUNE, &odd, now).await;
        assert_eq!(r.ignored, ["service", "hotline"]);
        assert_eq!(row(&r, "compliance", &["all", "all"])[2], "8");
    }
);

both!(
    no_tickets_read_as_dashes_not_zero_percent,
    |app: TestApp| async move {
        let now = june_tickets(&app).await;
        let r = report(
            &app,
            ReportKind::ServiceLevels,
            ("2025-06-01", "2025-06-30"),
            &ReportFilter::default(),
            now,
        )
        .await;
        assert_eq!(
            row(&r, "compliance", &["all", "all"])[2..],
            ["0", "0", "0", "0", "0", "— (0 of 0)"]
        );
        assert_eq!(rows(&r, "compliance"), 1);
        assert_eq!(
            row(&r, "time_to_resolve", &["all", "all"])[2..],
            ["0", "—", "—", "—", "—"]
        );
        let text = r.to_text();
        assert!(!text.contains("0.0%"), "{text}");
    }
);

both!(
    complaints_year_on_year_by_local_month,
    |app: TestApp| async move {
        let complaint = || ticket(TicketKind::Complaint, None, None);
        // 36 complaints in January 2025, 25 in January 2026 (the last one late on the 31st,
        // local time; one of them from a business account with no class on the ticket).
        for i in 0..36 {
            open(&app, complaint(), shanghai(2025, 1, 2, 9, 0) + i * HOUR).await;
        }
        for i in 0..23 {
            open(&app, complaint(), shanghai(2026, 1, 5, 9, 0) + i * HOUR).await;
        }
        let from_business = NewTicket {
            account_id: Some(business_account(&app).await),
            ..complaint()
        };
        open(&app, from_business, shanghai(2026, 1, 20, 9, 0)).await;
        open(&app, complaint(), shanghai(2026, 1, 31, 23, 30)).await;
        // Still January in UTC, but February in Shanghai.
        open(&app, complaint(), shanghai(2026, 2, 1, 0, 30)).await;
        // Not a complaint.
        open(
            &app,
            ticket(TicketKind::Fault, None, None),
            shanghai(2026, 1, 6, 9, 0),
        )
        .await;

        let all = ReportFilter::default();
        let now = shanghai(2026, 3, 1, 0, 0);
        let jan = ("2026-01-01", "2026-01-31");
        let r = report(&app, ReportKind::Complaints, jan, &all, now).await;
        assert_eq!(
            row(&r, "complaints", &["2026-01"]),
            ["2026-01", "25", "36", "-30.6% (-11 of 36)"]
        );
        assert_eq!(
            row(&r, "complaints", &["total"])[1..],
            ["25", "36", "-30.6% (-11 of 36)"]
        );

        let two = ("2026-01-01", "2026-02-28");
        let r = report(&app, ReportKind::Complaints, two, &all, now).await;
        assert_eq!(
            row(&r, "complaints", &["2026-02"])[1..],
            ["1", "0", "— (0 of 0)"],
            "none a year earlier: no rate"
        );
        assert_eq!(
            row(&r, "complaints", &["total"])[1..],
            ["26", "36", "-27.8% (-10 of 36)"]
        );

        // The class comes from the account when the ticket has none.
        let business = ReportFilter {
            customer_class: Some(CustomerClass::Business),
            campaign_id: Some(1),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Complaints, jan, &business, now).await;
        assert_eq!(
            row(&r, "complaints", &["total"])[1..],
            ["1", "0", "— (0 of 0)"]
        );
        assert_eq!(r.ignored, ["campaign"]);
    }
);

/// Answers the language question (Mandarin), then hears the bill, and hangs up.
async fn hears_bill_and_hangs_up(app: &TestApp, from: &str) -> String {
    let mut call = app.sim.start_call(from, HOTLINE).await.expect("call");
    call.press("1").await.expect("mandarin");
    call.press("1").await.expect("bill");
    let heard = call.heard().join(" ");
    assert!(heard.contains("本期应缴话费"), "{heard}");
    call.hang_up().await.expect("hang up");
    call.sid().to_string()
}

both!(
    hotline_containment_is_verified_by_what_callers_did_next,
    |app: TestApp| async move {
        let june_1 = ("2026-06-01", "2026-06-01");
        let all = ReportFilter::default();
        let now = || app.clock.now_ms();

        // 08:00: 张伟 hears his bill and hangs up: contained, so far.
        hears_bill_and_hangs_up(&app, ZHANG).await;
        let r = report(&app, ReportKind::Hotline, june_1, &all, now()).await;
        assert_eq!(
            row(&r, "calls", &["2026-06-01"])[1..6],
            ["1", "1", "100.0% (1 of 1)", "0", "0.0% (0 of 1)"]
        );

        // 08:10: Alice presses 0 for a person, waits 3 minutes and hangs up.
        app.clock.advance_ms(10 * 60_000);
        let mut alice = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        alice.press("0").await.expect("a person");
        assert_eq!(alice.queue(), Some("agents"), "{}", alice.heard().join(" "));
        app.clock.advance_ms(3 * 60_000);
        alice.hang_up().await.expect("hang up in the queue");

        // 10:00: 张伟 calls again and hears his bill again: the first call was not contained.
        app.clock.set_ms(shanghai(2026, 6, 1, 10, 0));
        hears_bill_and_hangs_up(&app, ZHANG).await;

        // 23:59: an unknown caller listens to service information past midnight.
        app.clock.set_ms(shanghai(2026, 6, 1, 23, 59));
        let mut late = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        app.clock.advance_ms(2 * 60_000);
        late.press("1").await.expect("mandarin");
        late.press("3").await.expect("information");
        late.press("1").await.expect("a topic");
        late.hang_up().await.expect("hang up");

        let r = report(&app, ReportKind::Hotline, june_1, &all, now()).await;
        assert!(r.ignored.is_empty());
        // Calls, self-served, contained, called again, asked for a person, callbacks.
        assert_eq!(
            row(&r, "calls", &["2026-06-01"])[1..],
            ["4", "3", "50.0% (2 of 4)", "1", "25.0% (1 of 4)", "0", "0"]
        );
        assert_eq!(
            row(&r, "calls", &["total"])[1..4],
            ["4", "3", "50.0% (2 of 4)"]
        );
        // Queued, abandoned, left, mean and 90th-percentile wait.
        assert_eq!(
            row(&r, "agent_queue", &[])[..],
            ["1", "100.0% (1 of 1)", "1", "3.0 min", "3.0 min"]
        );

        // The call that spanned midnight counts on the day it started.
        let june_2 = ("2026-06-02", "2026-06-02");
        let r = report(&app, ReportKind::Hotline, june_2, &all, now()).await;
        assert_eq!(
            row(&r, "calls", &["2026-06-02"])[1..4],
            ["0", "0", "— (0 of 0)"]
        );
        let both_days = ("2026-06-01", "2026-06-02");
        let r = report(&app, ReportKind::Hotline, both_days, &all, now()).await;
        assert_eq!(rows(&r, "calls"), 3, "two days and the total");
        assert_eq!(
            row(&r, "calls", &["total"])[1..4],
            ["4", "3", "50.0% (2 of 4)"]
        );

        // Another dialed number had no calls; filters that do not apply are named.
        let other = ReportFilter {
            hotline: Some("+8610001".into()),
            service: Some("fault".into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Hotline, june_1, &other, now()).await;
        assert_eq!(row(&r, "calls", &["total"])[1..4], ["0", "0", "— (0 of 0)"]);
        assert_eq!(row(&r, "agent_queue", &[])[..2], ["0", "— (0 of 0)"]);
        assert_eq!(r.ignored, ["service"]);
        let ours = ReportFilter {
            hotline: Some(HOTLINE.into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Hotline, june_1, &ours, now()).await;
        assert_eq!(row(&r, "calls", &["total"])[1], "4");
    }
);

both!(
    self_service_then_a_person_is_not_contained_and_callbacks_are_counted,
    |app: TestApp| async move {
        // 21:00, agents closed: 张伟 hears his bill, then asks for a person and takes the
        // callback offered instead.
        app.clock.set_ms(shanghai(2026, 6, 1, 21, 0));
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        call.press("0").await.expect("a person");
        call.press("1").await.expect("a callback");
        assert!(call.has_ended(), "{}", call.heard().join(" "));

        let r = report(
            &app,
            ReportKind::Hotline,
            ("2026-06-01", "2026-06-01"),
            &ReportFilter::default(),
            app.clock.now_ms(),
        )
        .await;
        assert_eq!(
            row(&r, "calls", &["2026-06-01"])[1..],
            ["1", "1", "0.0% (0 of 1)", "0", "100.0% (1 of 1)", "1", "1"]
        );
        assert_eq!(row(&r, "agent_queue", &[])[..3], ["0", "— (0 of 0)", "0"]);
    }
);
