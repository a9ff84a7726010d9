//! The satisfaction, sample-survey and callbacks reports, on SQLite and PostgreSQL: data in
//! through the store (or real calls through the fake carrier), figures out as a manager reads
//! them ("97.3% (215 of 221)", "—").

use crate::support::app::{Backend, DAY, HOUR, START_MS, TestApp, both, shanghai};
use crate::support::callbacks::{resolved, running};
use crate::support::demo::ALICE;
use crate::support::fixtures;
use crate::support::reports::rows;
use hotline::callbacks::repo::{AttemptEnd, CallbackNext};
use hotline::callbacks::{Campaign, NewCallback, NewCampaign};
use hotline::calls::step::Effect;
use hotline::clock::Clock;
use hotline::customers::LineKind;
use hotline::reports::{Period, Report, ReportFilter, ReportKind};
use hotline::surveys::script::Purpose;
use hotline::telephony::AnsweredBy;
use hotline::telephony::twilio::fake_api::{Action, Behaviour};
use hotline::tickets::{Ticket, TicketKind};

/// The day the tests' figures cover: 2026-06-01 from midnight UTC.
const FIRST_DAY: Period = Period {
    from: START_MS,
    to: START_MS + DAY,
};

/// A campaign from `from` that calls as fast as the dialer can.
fn new_campaign(name: &str, purpose: Purpose, from: &str) -> NewCampaign {
    NewCampaign {
        pace_ms: 1,
        from_number: from.into(),
        ..fixtures::campaign(name, purpose)
    }
}

/// Queues `n` callbacks in `campaign` (about `ticket`, if any) at `at`; their ids.
async fn queue(
    app: &TestApp,
    campaign: &Campaign,
    ticket: Option<&Ticket>,
    tag: &str,
    n: usize,
    at: i64,
) -> Vec<i64> {
    let callbacks: Vec<NewCallback> = (0..n)
        .map(|i| NewCallback {
            account_id: ticket.and_then(|t| t.account_id),
            ticket_id: ticket.map(|t| t.id),
            ..fixtures::callback(
                campaign.id,
                format!("test:{tag}:{i}"),
                format!("+86139{:08}", i),
                at,
            )
        })
        .collect();
    app.state
        .steps
        .store
        .queue_callbacks(&callbacks, at)
        .await
        .expect("queue")
        .into_iter()
        .map(|id| id.expect("new"))
        .collect()
}

/// One attempt of a callback: what it ended in, and the answers given during it.
struct Call<'a> {
    callback_id: i64,
    outcome: &'a str,
    answered_by: Option<&'a str>,
    answers: Vec<(&'a str, &'a str, Option<f64>)>,
}

impl<'a> Call<'a> {
    fn answered(callback_id: i64, answers: Vec<(&'a str, &'a str, Option<f64>)>) -> Self {
        Call {
            callback_id,
            outcome: "answered",
            answered_by: Some("human"),
            answers,
        }
    }

    fn ended(callback_id: i64, outcome: &'a str, answered_by: Option<&'a str>) -> Self {
        Call {
            callback_id,
            outcome,
            answered_by,
            answers: Vec::new(),
        }
    }
}

/// Records attempts as the dialer and the survey flow do, all at `at`: recorded, placed by
/// the carrier, the answers committed as effects of a call step, ended.
async fn calls(app: &TestApp, calls: &[Call<'_>], at: i64) {
    let store = &app.state.store;
    let mut steps = Vec::new();
    let mut ends = Vec::new();
    for c in calls {
        let attempt = store
            .begin_attempt(c.callback_id, "dialing (test)", at)
            .await
            .expect("attempt");
        let sid = format!("CAtest{:06}x{}", attempt.id, attempt.attempt_no);
        assert!(
            store
                .attempt_placed(&attempt, &sid, "the carrier placed the call", at)
                .await
                .expect("placed")
        );
        if !c.answers.is_empty() {
            let answers = c
                .answers
                .iter()
                .map(|(question, answer, score)| Effect::SurveyAnswer {
                    callback_id: c.callback_id,
                    attempt_id: attempt.id,
                    question: question.to_string(),
                    answer: answer.to_string(),
                    score: *score,
                })
                .collect();
            steps.push(fixtures::survey_step(&sid, at, answers));
        }
        let next = if c.outcome == "answered" {
            CallbackNext::Done {
                outcome: "reached".into(),
            }
        } else {
            CallbackNext::Pending { due_at: at + HOUR }
        };
        ends.push(AttemptEnd {
            attempt_id: attempt.id,
            callback_id: c.callback_id,
            attempt_no: attempt.attempt_no,
            at,
            call_status: Some("completed".into()),
            answered_by: c.answered_by.map(str::to_string),
            outcome: c.outcome.into(),
            counts: true,
            provider_call_id: Some(sid),
            next,
            ledger: vec![("ended".into(), format!("test: {}", c.outcome))],
            followup: None,
        });
    }
    if !steps.is_empty() {
        store.commit_steps(&steps).await.expect("answers");
    }
    for e in &ends {
        assert!(store.end_attempt(e).await.expect("end"));
    }
}

async fn report(app: &TestApp, kind: ReportKind, period: Period, filter: &ReportFilter) -> Report {
    crate::support::reports::build(app, kind, period, filter, app.clock.now_ms()).await
}

/// The value of column `col` in the row of table `table` whose first cells read `row`, as
/// displayed.
fn cell(r: &Report, table: &str, row: &[&str], col: &str) -> String {
    let t = r
        .tables
        .iter()
        .find(|t| t.key == table)
        .unwrap_or_else(|| panic!("no table {table} in {}", r.to_text()));
    let i = t
        .columns
        .iter()
        .position(|c| c.key == col)
        .unwrap_or_else(|| panic!("no column {col} in {table}"));
    let found = t
        .rows
        .iter()
        .find(|cells| {
            row.iter()
                .zip(cells.iter())
                .all(|(want, got)| got.display() == *want)
        })
        .unwrap_or_else(|| panic!("no row {row:?} in {table}:\n{}", r.to_text()));
    found[i].display()
}

both!(
    the_operators_97_3_percent_with_its_denominator,
    |app: TestApp| async move {
        let campaign = running(
            &app,
            new_campaign("after repairs", Purpose::Satisfaction, "+8610000"),
        )
        .await;
        let fault = resolved(&app, TicketKind::Fault, LineKind::Phone).await;
        let install = resolved(&app, TicketKind::Installation, LineKind::Broadband).await;
        let queued_at = app.clock.now_ms();
        let faults = queue(&app, &campaign, Some(&fault), "fault", 154, queued_at).await;
        let installs = queue(&app, &campaign, Some(&install), "install", 72, queued_at).await;

        // Faults: 140 very, 8 basically, 2 dissatisfied (10 of the very satisfied hang up
        // before "was it fixed?"); one hangs up before any question, two never answer, one
        // is never called, one answers only the next day.
        // Installations: 61 very, 6 basically, 4 dissatisfied; the dissatisfied say "not
        // fixed".
        let answer_at = queued_at + 2 * HOUR;
        let mut made = Vec::new();
        for (i, id) in faults.iter().enumerate() {
            let c = match i {
                0..10 => Call::answered(*id, vec![("satisfaction", "very", None)]),
                10..140 => Call::answered(
                    *id,
                    vec![
                        ("satisfaction", "very", None),
                        ("fixed", "yes", Some(100.0)),
                    ],
                ),
                140..148 => Call::answered(
                    *id,
                    vec![
                        ("satisfaction", "basic", None),
                        ("fixed", "yes", Some(100.0)),
                    ],
                ),
                148..150 => Call::answered(
                    *id,
                    vec![
                        ("satisfaction", "dissatisfied", None),
                        ("fixed", "no", Some(0.0)),
                    ],
                ),
                150 => Call::answered(*id, vec![]),
                151 | 152 => Call::ended(*id, "no_answer", None),
                _ => continue,
            };
            made.push(c);
        }
        for (i, id) in installs.iter().enumerate() {
            let (satisfaction, fixed) = match i {
                0..61 => ("very", "yes"),
                61..67 => ("basic", "yes"),
                67..71 => ("dissatisfied", "no"),
                _ => continue,
            };
            let points = if fixed == "yes" { 100.0 } else { 0.0 };
            made.push(Call::answered(
                *id,
                vec![
                    ("satisfaction", satisfaction, None),
                    ("fixed", fixed, Some(points)),
                ],
            ));
        }
        calls(&app, &made, answer_at).await;
        // The last installation answers the next day: not in the first day's answers, but
        // sampled (and answered) in its cohort.
        let next_day = START_MS + DAY + 2 * HOUR;
        calls(
            &app,
            &[Call::answered(
                installs[71],
                vec![("satisfaction", "dissatisfied", None)],
            )],
            next_day,
        )
        .await;

        let all = ReportFilter::default();
        let r = report(&app, ReportKind::Satisfaction, FIRST_DAY, &all).await;
        let total = ["all", "all"];
        assert_eq!(cell(&r, "satisfaction", &total, "very"), "201");
        assert_eq!(cell(&r, "satisfaction", &total, "basic"), "14");
        assert_eq!(cell(&r, "satisfaction", &total, "dissatisfied"), "6");
        assert_eq!(
            cell(&r, "satisfaction", &total, "satisfied"),
            "97.3% (215 of 221)"
        );
        // 205 "yes" of the 211 who answered whether it was fixed.
        assert_eq!(
            cell(&r, "satisfaction", &total, "fixed"),
            "97.2% (205 of 211)"
        );
        // By service: ticket kind and line kind.
        assert_eq!(
            cell(&r, "satisfaction", &["fault", "phone"], "satisfied"),
            "98.7% (148 of 150)"
        );
        assert_eq!(
            cell(
                &r,
                "satisfaction",
                &["installation", "broadband"],
                "satisfied"
            ),
            "94.4% (67 of 71)"
        );
        assert_eq!(rows(&r, "satisfaction"), 3);
        // Beside it: 226 sampled, 223 reached (a person answered), 222 answered something.
        assert_eq!(cell(&r, "satisfaction_sample", &total, "sampled"), "226");
        assert_eq!(
            cell(&r, "satisfaction_sample", &total, "reached"),
            "98.7% (223 of 226)"
        );
        assert_eq!(
            cell(&r, "satisfaction_sample", &total, "answered"),
            "98.2% (222 of 226)"
        );
        assert_eq!(
            cell(&r, "satisfaction_sample", &["fault", "phone"], "reached"),
            "98.1% (151 of 154)"
        );
        assert!(r.ignored.is_empty(), "{:?}", r.ignored);
        let text = r.to_text();
        assert!(text.contains("97.3% (215 of 221)"), "{text}");

        // Filters: the service (a ticket kind) and line kind narrow both tables.
        let installs_only = ReportFilter {
            service: Some("installation".into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Satisfaction, FIRST_DAY, &installs_only).await;
        assert_eq!(
            cell(&r, "satisfaction", &total, "satisfied"),
            "94.4% (67 of 71)"
        );
        assert_eq!(cell(&r, "satisfaction_sample", &total, "sampled"), "72");
        let phone = ReportFilter {
            line_kind: Some(LineKind::Phone),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Satisfaction, FIRST_DAY, &phone).await;
        assert_eq!(
            cell(&r, "satisfaction", &total, "satisfied"),
            "98.7% (148 of 150)"
        );

        // The next day: one answer, dissatisfied; nobody sampled.
        let second = Period {
            from: START_MS + DAY,
            to: START_MS + 2 * DAY,
        };
        let r = report(&app, ReportKind::Satisfaction, second, &all).await;
        assert_eq!(
            cell(&r, "satisfaction", &total, "satisfied"),
            "0.0% (0 of 1)"
        );
        assert_eq!(cell(&r, "satisfaction", &total, "fixed"), "— (0 of 0)");
        assert_eq!(
            cell(&r, "satisfaction_sample", &total, "reached"),
            "— (0 of 0)"
        );
    }
);

both!(
    no_answers_at_all_is_a_dash_not_zero,
    |app: TestApp| async move {
        running(
            &app,
            new_campaign("after repairs", Purpose::Satisfaction, "+8610000"),
        )
        .await;
        running(
            &app,
            new_campaign("survey", Purpose::SampleSurvey, "+8610001"),
        )
        .await;
        let all = ReportFilter::default();
        let total = ["all", "all"];

        let r = report(&app, ReportKind::Satisfaction, FIRST_DAY, &all).await;
        assert_eq!(cell(&r, "satisfaction", &total, "very"), "0");
        assert_eq!(cell(&r, "satisfaction", &total, "satisfied"), "— (0 of 0)");
        assert_eq!(cell(&r, "satisfaction", &total, "fixed"), "— (0 of 0)");
        assert_eq!(cell(&r, "satisfaction_sample", &total, "sampled"), "0");
        let text = r.to_text();
        assert!(!text.contains('%'), "{text}");

        let r = report(&app, ReportKind::Surveys, FIRST_DAY, &all).await;
        // The running survey's questions are listed, with no score rather than 0.
        assert_eq!(cell(&r, "survey_services", &["all"], "average"), "—");
        assert_eq!(
            cell(&r, "survey_services", &["fault_repair"], "average"),
            "—"
        );
        assert_eq!(
            cell(&r, "survey_questions", &["billing", "billing"], "answered"),
            "0"
        );
        assert_eq!(rows(&r, "survey_attempts"), 0);

        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &all).await;
        assert_eq!(
            cell(&r, "callbacks_connect", &["all"], "connect_per_callback"),
            "— (0 of 0)"
        );
        assert_eq!(
            cell(&r, "callbacks_connect", &["all"], "attempts_per_connect"),
            "—"
        );
        assert_eq!(cell(&r, "callbacks_first_attempt", &["all"], "median"), "—");
    }
);

both!(
    sample_survey_scores_response_by_attempt_and_a_campaign_filter,
    |app: TestApp| async move {
        let north = running(
            &app,
            new_campaign("survey north", Purpose::SampleSurvey, "+8610001"),
        )
        .await;
        let south = running(
            &app,
            new_campaign("survey south", Purpose::SampleSurvey, "+8610002"),
        )
        .await;
        let at = START_MS + 2 * HOUR;
        let n = queue(&app, &north, None, "north", 3, START_MS).await;
        let s = queue(&app, &south, None, "south", 1, START_MS).await;

        // North, attempt 1: no answer; a person (scores 5, 3 and 8); an answering machine.
        calls(
            &app,
            &[
                Call::ended(n[0], "no_answer", None),
                Call::answered(
                    n[1],
                    vec![
                        ("fault_repair", "5", Some(100.0)),
                        ("billing", "3", Some(50.0)),
                        ("business_hall", "4", Some(75.0)),
                    ],
                ),
                Call::ended(n[2], "machine", Some("machine")),
            ],
            at,
        )
        .await;
        // Attempt 2: a person (scores 4 and 1); nobody.
        calls(
            &app,
            &[
                Call::answered(
                    n[0],
                    vec![
                        ("fault_repair", "4", Some(75.0)),
                        ("billing", "1", Some(0.0)),
                    ],
                ),
                Call::ended(n[2], "no_answer", None),
            ],
            at + HOUR,
        )
        .await;
        // South: one person who rates fault repair 1.
        calls(
            &app,
            &[Call::answered(s[0], vec![("fault_repair", "1", Some(0.0))])],
            at,
        )
        .await;

        let all = ReportFilter::default();
        let r = report(&app, ReportKind::Surveys, FIRST_DAY, &all).await;
        // Fault repair: 100, 75 and 0 → 58.3; billing: 50 and 0 → 25; business hall 75.
        assert_eq!(
            cell(&r, "survey_services", &["fault_repair"], "average"),
            "58.3"
        );
        assert_eq!(
            cell(&r, "survey_services", &["fault_repair"], "answered"),
            "3"
        );
        assert_eq!(cell(&r, "survey_services", &["billing"], "average"), "25.0");
        assert_eq!(
            cell(&r, "survey_services", &["business_hall"], "average"),
            "75.0"
        );
        // All six scored answers: (100 + 50 + 75 + 75 + 0 + 0) / 6.
        assert_eq!(cell(&r, "survey_services", &["all"], "average"), "50.0");
        assert_eq!(cell(&r, "survey_services", &["all"], "scored"), "6");
        assert_eq!(
            cell(
                &r,
                "survey_questions",
                &["data_communications", "data_communications"],
                "average"
            ),
            "—"
        );
        // Attempt 1 reached the carrier for four callbacks: two people, two responded.
        assert_eq!(cell(&r, "survey_attempts", &["1"], "placed"), "4");
        assert_eq!(
            cell(&r, "survey_attempts", &["1"], "responded"),
            "50.0% (2 of 4)"
        );
        assert_eq!(
            cell(&r, "survey_attempts", &["2"], "answered"),
            "50.0% (1 of 2)"
        );
        // Service order is the operator's, all eight of the survey's services.
        let services: Vec<String> = r.tables[0].rows.iter().map(|r| r[0].display()).collect();
        assert_eq!(services[0], "all");
        assert_eq!(services[1..], hotline::surveys::script::SERVICES);

        // The campaign filter: south alone.
        let south_only = ReportFilter {
            campaign_id: Some(south.id),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Surveys, FIRST_DAY, &south_only).await;
        assert_eq!(
            cell(&r, "survey_services", &["fault_repair"], "average"),
            "0.0"
        );
        assert_eq!(cell(&r, "survey_services", &["all"], "scored"), "1");
        assert_eq!(
            cell(&r, "survey_attempts", &["1"], "responded"),
            "100.0% (1 of 1)"
        );
        assert_eq!(rows(&r, "survey_attempts"), 1);
        // The hotline (the number calls come from) picks north; a service narrows scores;
        // line kind cannot apply and says so.
        let north_line = ReportFilter {
            hotline: Some("+8610001".into()),
            service: Some("billing".into()),
            line_kind: Some(LineKind::Phone),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Surveys, FIRST_DAY, &north_line).await;
        assert_eq!(cell(&r, "survey_services", &["all"], "average"), "25.0");
        assert_eq!(rows(&r, "survey_services"), 2);
        assert_eq!(cell(&r, "survey_attempts", &["1"], "placed"), "3");
        assert_eq!(r.ignored, ["line_kind"]);

        // The callbacks report over the same calls: north's machine is counted.
        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &all).await;
        let row = ["survey north"];
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "connect_per_callback"),
            "66.7% (2 of 3)"
        );
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "connect_per_attempt"),
            "40.0% (2 of 5)"
        );
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "attempts_per_connect"),
            "2.5"
        );
        assert_eq!(cell(&r, "callbacks_connect", &row, "machines"), "1");
        assert_eq!(
            cell(&r, "callbacks_connect", &["all"], "connect_per_attempt"),
            "50.0% (3 of 6)"
        );
        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &south_only).await;
        assert_eq!(cell(&r, "callbacks_connect", &["all"], "machines"), "0");
        assert_eq!(rows(&r, "callbacks_connect"), 2);
    }
);

/// Runs the dialer's rounds until nothing is due at the clock's time (the pace holds a
/// round to one call per slot), letting the fake carrier finish every call.
async fn dial(app: &TestApp) {
    for _ in 0..5 {
        let round = app.state.callbacks.round().await.expect("round");
        app.twilio.wait_idle().await;
        if round.claimed == 0 {
            return;
        }
        app.clock.advance_ms(1000);
    }
}

both!(
    calls_placed_by_the_dialer_are_inside_the_window_and_machines_are_counted,
    |app: TestApp| async move {
        let campaign = running(
            &app,
            NewCampaign {
                standing: true,
                delay_minutes: 120,
                ..new_campaign("after repairs", Purpose::Satisfaction, "+8610000")
            },
        )
        .await;
        // Two customers in London, due at 01:00 their time: the dialer waits for 09:00.
        let london: Vec<NewCallback> = ["+442070000001", "+442070000002"]
            .iter()
            .enumerate()
            .map(|(i, n)| NewCallback {
                timezone: "Europe/London".into(),
                ..fixtures::callback(campaign.id, format!("list:{i}"), *n, START_MS)
            })
            .collect();
        app.state
            .steps
            .store
            .queue_callbacks(&london, START_MS)
            .await
            .expect("queue");
        app.twilio.on("+442070000002", Behaviour::NoAnswer);
        // Alice's fault is resolved at 09:00 in Shanghai; her callback is due at 11:00.
        let ticket = resolved(&app, TicketKind::Fault, LineKind::Phone).await;
        app.state.feed.catch_up().await.expect("feed");
        dial(&app).await;
        assert_eq!(app.twilio.calls().len(), 0, "nobody is called at night");

        // 11:00: an answering machine; two hours later, Alice herself.
        app.twilio.on(
            ALICE,
            Behaviour::Answer {
                by: AnsweredBy::Machine,
                script: vec![],
            },
        );
        let resolved_at = ticket.resolved_at.expect("resolved");
        app.clock.set_ms(resolved_at + 2 * HOUR);
        dial(&app).await;
        app.twilio.on(
            ALICE,
            Behaviour::answer(vec![Action::Press("1".into()), Action::Press("1".into())]),
        );
        app.clock.set_ms(resolved_at + 4 * HOUR + 60_000);
        dial(&app).await;
        // 09:00 in London.
        app.clock.set_ms(START_MS + 8 * HOUR);
        dial(&app).await;
        assert_eq!(app.twilio.calls().len(), 4);

        let all = ReportFilter::default();
        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &all).await;
        let row = ["after repairs"];
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "outside_window"),
            "0",
            "{}",
            r.to_text()
        );
        assert_eq!(cell(&r, "callbacks_connect", &row, "machines"), "1");
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "connect_per_callback"),
            "66.7% (2 of 3)"
        );
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "connect_per_attempt"),
            "50.0% (2 of 4)"
        );
        assert_eq!(
            cell(&r, "callbacks_connect", &row, "attempts_per_connect"),
            "2.0"
        );
        // Resolution to first call: Alice's callback, two hours (its designed delay).
        assert_eq!(cell(&r, "callbacks_first_attempt", &row, "callbacks"), "1");
        assert_eq!(cell(&r, "callbacks_first_attempt", &row, "median"), "2.0 h");
        assert_eq!(cell(&r, "callbacks_first_attempt", &row, "p90"), "2.0 h");
        // Her answers are in the satisfaction report too.
        let s = report(&app, ReportKind::Satisfaction, FIRST_DAY, &all).await;
        assert_eq!(
            cell(&s, "satisfaction", &["fault", "phone"], "satisfied"),
            "100.0% (1 of 1)"
        );

        // A call placed by hand at 03:00 in Shanghai is caught.
        let night = queue(&app, &campaign, None, "night", 1, START_MS).await;
        let at = shanghai(2026, 6, 2, 3, 0);
        assert!(at < FIRST_DAY.to);
        calls(&app, &[Call::ended(night[0], "no_answer", None)], at).await;
        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &all).await;
        assert_eq!(cell(&r, "callbacks_connect", &row, "outside_window"), "1");
        assert_eq!(
            cell(&r, "callbacks_connect", &["all"], "outside_window"),
            "1"
        );
        // Another hotline's figures do not include it.
        let other = ReportFilter {
            hotline: Some("+8610999".into()),
            ..ReportFilter::default()
        };
        let r = report(&app, ReportKind::Callbacks, FIRST_DAY, &other).await;
        assert_eq!(cell(&r, "callbacks_connect", &["all"], "attempts"), "0");
    }
);
