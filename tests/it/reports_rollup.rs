//! Roll-ups change how fast a report is, never what it says: over synthetic weeks of every
//! kind of outcome, each report with each filter is the same before and after the settled
//! days are rolled up, on both backends; and a rolled-up report really reads the roll-up.

use chrono::NaiveDate;
use hotline::calendar::Calendar;
use hotline::customers::{CustomerClass, LineKind};
use hotline::repo::Store;
use hotline::reports::rollup::{self, Source};
use hotline::reports::{self, Period, ReportCtx, ReportFilter, ReportKind};
use hotline::store::synthetic::{self, Spec};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn filters(satisfaction: i64, survey: i64) -> Vec<ReportFilter> {
    vec![
        ReportFilter::default(),
        ReportFilter {
            service: Some("fault".into()),
            ..ReportFilter::default()
        },
        ReportFilter {
            customer_class: Some(CustomerClass::Business),
            line_kind: Some(LineKind::Broadband),
            ..ReportFilter::default()
        },
        ReportFilter {
            campaign_id: Some(satisfaction),
            ..ReportFilter::default()
        },
        ReportFilter {
            campaign_id: Some(survey),
            ..ReportFilter::default()
        },
        ReportFilter {
            hotline: Some(synthetic::SECOND_HOTLINE.into()),
            ..ReportFilter::default()
        },
    ]
}

/// Every report, with every filter, over each period, as JSON.
async fn all_reports(
    store: &dyn Store,
    periods: &[Period],
    filters: &[ReportFilter],
    now: i64,
    calendar: &Calendar,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for &period in periods {
        for filter in filters {
            for kind in ReportKind::ALL {
                let ctx = ReportCtx {
                    store,
                    period,
                    filter,
                    now,
                    tz: TZ,
                    calendar,
                };
                let r = reports::build(kind, &ctx).await.expect("build a report");
                out.push(serde_json::to_value(&r).expect("as JSON"));
            }
        }
    }
    out
}

fn calls_on(report: &serde_json::Value, day: &str) -> i64 {
    report["tables"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r[0]["value"] == day)
        .map(|r| r[1]["value"].as_i64().expect("a count"))
        .unwrap_or_else(|| panic!("no row for {day}: {report}"))
}

async fn rollups_change_nothing(url: String) {
    let spec = Spec {
        days: 40,
        ..Spec::scaled(0.002)
    };
    let filled = synthetic::fill(&url, &spec).await.expect("fill");
    let store = hotline::store::connect(&url).await.expect("open");
    let store = store.as_ref();
    let calendar = Calendar::builtin();
    let now = filled.to;
    let day = |n: i64| filled.from + n * 86_400_000;
    // The whole time, a stretch of days, and one day.
    let periods = [
        Period {
            from: filled.from,
            to: filled.to,
        },
        Period {
            from: day(5),
            to: day(19),
        },
        Period {
            from: day(10),
            to: day(11),
        },
    ];
    let filters = filters(filled.satisfaction_campaign, filled.survey_campaign);
    let live = all_reports(store, &periods, &filters, now, calendar).await;

    let src = Source {
        store,
        tz: TZ,
        calendar,
        now,
    };
    let rolled = rollup::roll_up(&src, false).await.expect("roll up");
    for (family, days) in &rolled {
        // Two days before "now" are not settled; the callback families may wait longer.
        assert!(*days >= 20 && *days <= 38, "{family}: {days} days rolled");
    }
    let again = rollup::roll_up(&src, false).await.expect("roll up again");
    assert!(
        again.iter().all(|(_, n)| *n == 0),
        "nothing new to roll: {again:?}"
    );
    let from_rollups = all_reports(store, &periods, &filters, now, calendar).await;
    for (a, b) in live.iter().zip(&from_rollups) {
        assert_eq!(a, b, "a report changed when its days were rolled up");
    }

    // The report reads the roll-up: change a rolled day, and the report shows it.
    let hotline = |p: Period| {
        let filter = ReportFilter::default();
        async move {
            let ctx = ReportCtx {
                store,
                period: p,
                filter: &filter,
                now,
                tz: TZ,
                calendar,
            };
            serde_json::to_value(
                reports::build(ReportKind::Hotline, &ctx)
                    .await
                    .expect("build"),
            )
            .expect("JSON")
        }
    };
    let week = Period {
        from: day(7),
        to: day(14),
    };
    let label = NaiveDate::from_ymd_opt(2025, 1, 11)
        .expect("a date")
        .to_string();
    let before = calls_on(&hotline(week).await, &label);
    assert!(before > 0, "the synthetic day has calls");
    let mark = store
        .rollup_mark("calls")
        .await
        .expect("mark")
        .expect("a mark");
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(
        &store
            .rolled_days("calls", day(10), day(11))
            .await
            .expect("rolled")[0]
            .1,
    )
    .expect("rows");
    for r in &mut rows {
        r["calls"] = (r["calls"].as_i64().expect("calls") + 1000).into();
    }
    let tampered = serde_json::to_string(&rows).expect("JSON");
    store
        .save_rollup("calls", &mark, &[(day(10), tampered)])
        .await
        .expect("save");
    let shown = calls_on(&hotline(week).await, &label);
    assert_eq!(shown, before + 1000 * rows.len() as i64);

    // A day that cannot be read is computed from the outcomes again.
    store
        .save_rollup("calls", &mark, &[(day(10), "not json".into())])
        .await
        .expect("save");
    assert_eq!(calls_on(&hotline(week).await, &label), before);

    // Days rolled in another zone are not read, and are rolled again in the operator's.
    let utc = Source {
        tz: chrono_tz::UTC,
        ..src
    };
    rollup::roll_up(&utc, false).await.expect("roll up in UTC");
    let in_utc = all_reports(store, &periods, &filters, now, calendar).await;
    assert!(live == in_utc, "days of another zone were read");
    let rebuilt = rollup::roll_up(&src, false).await.expect("roll up again");
    assert!(rebuilt.iter().all(|(_, n)| *n >= 20), "{rebuilt:?}");
    assert!(
        live == all_reports(store, &periods, &filters, now, calendar).await,
        "rebuilt days differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_change_nothing_sqlite() {
    let (url, _dir) = crate::support::db::sqlite_url().await;
    rollups_change_nothing(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_change_nothing_postgres() {
    let Some(url) = crate::support::db::pg_url().await else {
        return;
    };
    rollups_change_nothing(url).await;
}
