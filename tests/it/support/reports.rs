//! Reports as the service builds them, and what tests read in them.

use hotline::reports::{self, Period, Report, ReportCtx, ReportFilter, ReportKind};

use super::app::TestApp;

/// The report of `kind` over `period`, as of `now`, in the operator's zone and calendar.
pub async fn build(
    app: &TestApp,
    kind: ReportKind,
    period: Period,
    filter: &ReportFilter,
    now: i64,
) -> Report {
    let ctx = ReportCtx {
        store: app.state.store.as_ref(),
        period,
        filter,
        now,
        tz: chrono_tz::Asia::Shanghai,
        calendar: app.state.desk.calendar.as_ref(),
    };
    reports::build(kind, &ctx).await.expect("report")
}

/// How many rows table `table` has (none when it is not there).
pub fn rows(r: &Report, table: &str) -> usize {
    r.tables
        .iter()
        .find(|t| t.key == table)
        .map_or(0, |t| t.rows.len())
}
