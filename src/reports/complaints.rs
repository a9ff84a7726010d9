//! The complaints report: complaints opened in the period, by local month and in total, and
//! the change against the same dates a year earlier.
//!
//! Rules:
//! - A complaint is a ticket of kind `complaint`, counted in the local month (operator's zone)
//!   it was opened in; a month cut by the period counts only its days inside the period, and
//!   is compared with the same days a year earlier.
//! - The change is (now − then) ÷ then, a rate whose denominator is the year-earlier count, so
//!   it reads "-30.6% (-11 of 36)"; with no complaints a year earlier it is "—".
//! - Filters: customer class (the ticket's, or its account's when the ticket has none, as for
//!   complaints recorded by phone) and line kind (the ticket's; complaints recorded by phone
//!   name no line, so with this filter only complaints entered with a line are counted).
//!   Service, campaign and hotline number do not apply.
//! - `buckets` (local days or months of a period) is shared with the hotline report.

use chrono::{Datelike, Months, NaiveDate, TimeZone};

use super::{Built, Cell, Period, ReportCtx, Table};
use crate::repo::StoreError;
use crate::reports::repo::TicketScope;
use crate::tickets::TicketKind;

/// How a period is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Day,
    Month,
}

/// One local day or month of a period, clipped to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bucket {
    /// `2026-01` or `2026-01-31`.
    pub label: String,
    pub period: Period,
}

/// The local days or months the period covers, in order, each clipped to the period; empty
/// for an empty period or one outside chrono's range.
pub(super) fn buckets(period: Period, tz: chrono_tz::Tz, step: Step) -> Vec<Bucket> {
    let start_of = |d: NaiveDate| {
        crate::tickets::sla::local_to_utc(tz, d.and_time(chrono::NaiveTime::MIN))
            .map(|t| t.timestamp_millis())
    };
    let Some(first) = tz
        .timestamp_millis_opt(period.from)
        .single()
        .map(|t| t.date_naive())
    else {
        return Vec::new();
    };
    let mut day = match step {
        Step::Day => first,
        Step::Month => first.with_day(1).unwrap_or(first),
    };
    let mut out = Vec::new();
    while let Some(begin) = start_of(day) {
        if begin >= period.to {
            break;
        }
        let next = match step {
            Step::Day => day.succ_opt(),
            Step::Month => day.checked_add_months(Months::new(1)),
        };
        let Some(next) = next else { break };
        let Some(end) = start_of(next) else { break };
        let clipped = Period {
            from: begin.max(period.from),
            to: end.min(period.to),
        };
        if clipped.from < clipped.to {
            let label = match step {
                Step::Day => day.format("%Y-%m-%d").to_string(),
                Step::Month => day.format("%Y-%m").to_string(),
            };
            out.push(Bucket {
                label,
                period: clipped,
            });
        }
        day = next;
    }
    out
}

/// Counts now and a year earlier for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct YearOnYear {
    pub now: i64,
    /// `None` when the dates a year earlier do not exist (beyond chrono's range).
    pub then: Option<i64>,
}

pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let f = ctx.filter;
    let mut ignored = Vec::new();
    if f.service
        .as_deref()
        .is_some_and(|s| s != TicketKind::Complaint.as_str())
    {
        ignored.push("service");
    }
    if f.campaign_id.is_some() {
        ignored.push("campaign");
    }
    if f.hotline.is_some() {
        ignored.push("hotline");
    }
    let scope = TicketScope {
        kind: None,
        line_kind: f.line_kind.map(|k| k.as_str()),
        customer_class: f.customer_class.map(|c| c.as_str()),
    };
    let months = buckets(ctx.period, ctx.tz, Step::Month);
    // Every row is counted over its own interval: the months, then the whole period, each
    // now and a year earlier.
    let periods: Vec<Period> = months
        .iter()
        .map(|b| b.period)
        .chain(std::iter::once(ctx.period))
        .collect();
    let now = count_each(ctx, &periods, &scope).await?;
    let earlier: Vec<Option<Period>> = periods.iter().map(|p| p.a_year_earlier(ctx.tz)).collect();
    let known: Vec<Period> = earlier.iter().flatten().copied().collect();
    let mut then_counts = count_each(ctx, &known, &scope).await?.into_iter();
    let rows: Vec<(String, YearOnYear)> = months
        .iter()
        .map(|b| b.label.clone())
        .chain(std::iter::once("total".to_string()))
        .zip(now)
        .zip(&earlier)
        .map(|((label, now), e)| {
            let then = e.and_then(|_| then_counts.next());
            (label, YearOnYear { now, then })
        })
        .collect();
    Ok((vec![table(&rows)], ignored))
}

/// The count of each period (one query per period, over the kind-and-opening index).
async fn count_each(
    ctx: &ReportCtx<'_>,
    periods: &[Period],
    scope: &TicketScope<'_>,
) -> Result<Vec<i64>, StoreError> {
    let mut counts = Vec::with_capacity(periods.len());
    // Adjacent months share their bounds, so they go in one call; the total and the
    // year-earlier periods each take their own.
    let mut run: Vec<i64> = Vec::new();
    for p in periods {
        if run.last() != Some(&p.from) {
            if run.len() > 1 {
                counts.extend(
                    ctx.store
                        .tickets_opened(TicketKind::Complaint.as_str(), &run, scope)
                        .await?,
                );
            }
            run.clear();
            run.push(p.from);
        }
        run.push(p.to);
    }
    if run.len() > 1 {
        counts.extend(
            ctx.store
                .tickets_opened(TicketKind::Complaint.as_str(), &run, scope)
                .await?,
        );
    }
    Ok(counts)
}

/// The table of months and the total.
pub(super) fn table(rows: &[(String, YearOnYear)]) -> Table {
    let mut t = Table::new(
        "complaints",
        "Complaints, year on year",
        "Complaint tickets by the local month they were opened in (the last row is the whole \
         period), against the same dates twelve months earlier. Change = (complaints − a \
         year earlier) / a year earlier; \"—\" when there were none a year earlier. A \
         complaint's customer class is its account's when the ticket has none.",
        &[
            ("month", "Month"),
            ("complaints", "Complaints"),
            ("a_year_earlier", "A year earlier"),
            ("change", "Change"),
        ],
    );
    for (label, y) in rows {
        let (then, change) = match y.then {
            Some(then) => (Cell::count(then), Cell::rate(y.now - then, then)),
            None => (Cell::text("—"), Cell::rate(0, 0)),
        };
        t.rows.push(vec![
            Cell::text(label.as_str()),
            Cell::count(y.now),
            then,
            change,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const SH: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn months_are_local_and_clipped_to_the_period() {
        let p = Period::days(d("2026-01-15"), d("2026-03-10"), SH).expect("period");
        let b = buckets(p, SH, Step::Month);
        let labels: Vec<&str> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["2026-01", "2026-02", "2026-03"]);
        assert_eq!(b[0].period.from, p.from);
        assert_eq!(
            crate::clock::rfc3339(b[1].period.from),
            "2026-01-31T16:00:00+00:00"
        );
        assert_eq!(b[2].period.to, p.to);
        let days = buckets(p, SH, Step::Day);
        assert_eq!(days.len(), 17 + 28 + 10);
        assert_eq!(days[0].label, "2026-01-15");
        assert!(days.windows(2).all(|w| w[0].period.to == w[1].period.from));
    }

    #[test]
    fn change_is_against_a_year_earlier() {
        let rows = [
            (
                "2026-01".to_string(),
                YearOnYear {
                    now: 25,
                    then: Some(36),
                },
            ),
            (
                "total".to_string(),
                YearOnYear {
                    now: 3,
                    then: Some(0),
                },
            ),
            ("x".to_string(), YearOnYear { now: 3, then: None }),
        ];
        let t = table(&rows);
        let shown: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::display).collect())
            .collect();
        assert_eq!(shown[0], ["2026-01", "25", "36", "-30.6% (-11 of 36)"]);
        assert_eq!(shown[1][3], "— (0 of 0)");
        assert_eq!(shown[2][2..], ["—", "— (0 of 0)"]);
    }
}
