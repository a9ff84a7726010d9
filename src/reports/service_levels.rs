//! The service-levels report: how many tickets kept their promised deadline, how long tickets
//! took to resolve, and which running tickets are about to breach.
//!
//! Rules:
//! - A ticket is counted for compliance in the period its deadline falls in, whatever the
//!   period it was opened or resolved in; time to resolve counts the tickets resolved in the
//!   period; "at risk" is as of now, whatever the period.
//! - Every ticket due is in exactly one of met, breached, pending or cancelled, so the columns
//!   add up to "due". Compliance is met ÷ (met + breached): a pending ticket has no outcome
//!   yet, and a running ticket past its deadline is breached, never pending.
//! - Filters: service (a ticket kind), line kind and customer class; a service that is not a
//!   ticket kind, a campaign and a hotline number do not apply and are listed as ignored.

use std::collections::BTreeMap;

use super::figures::{mean, percentile};
use super::{Built, Cell, ReportCtx, Table};
use crate::repo::StoreError;
use crate::reports::repo::{AtRisk, DueTally, ResolveTime, TicketScope};
use crate::tickets::TicketKind;

/// Running tickets whose deadline is this close to now are "at risk".
pub(super) const AT_RISK_MS: i64 = 4 * 3_600_000;

/// The label of a ticket without a customer class (an unidentified caller's complaint).
const NO_CLASS: &str = "unrecorded";
const ALL: &str = "all";

pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let f = ctx.filter;
    let mut ignored = Vec::new();
    let kind = match f.service.as_deref() {
        Some(s) => match TicketKind::parse(s) {
            Some(k) => Some(k.as_str()),
            None => {
                ignored.push("service");
                None
            }
        },
        None => None,
    };
    if f.campaign_id.is_some() {
        ignored.push("campaign");
    }
    if f.hotline.is_some() {
        ignored.push("hotline");
    }
    let scope = TicketScope {
        kind,
        line_kind: f.line_kind.map(|k| k.as_str()),
        customer_class: f.customer_class.map(|c| c.as_str()),
    };
    let (due, times) = super::rollup::tickets(ctx, &scope).await?;
    let risk = ctx
        .store
        .tickets_at_risk(ctx.now, ctx.now + AT_RISK_MS, &scope)
        .await?;
    Ok((
        vec![due_table(&due), resolve_table(&times), risk_table(&risk)],
        ignored,
    ))
}

fn class_label(c: Option<&str>) -> &str {
    c.unwrap_or(NO_CLASS)
}

/// Compliance by kind and class, and over all of them.
pub(super) fn due_table(rows: &[DueTally]) -> Table {
    let mut t = Table::new(
        "compliance",
        "Service levels: deadlines kept",
        "Tickets whose deadline falls in the period, by kind and customer class (the \
         ticket's, else its account's). Met: resolved \
         at or before the deadline. Breached: marked breached, resolved after the deadline, or \
         still running past it now. Pending: still running, deadline not yet reached (a \
         running ticket past its deadline is breached, so none is left without an outcome). \
         Cancelled: cancelled before breaching. Compliance = met / (met + breached); pending \
         and cancelled tickets are not in it.",
        &[
            ("kind", "Kind"),
            ("customer_class", "Customer class"),
            ("due", "Due"),
            ("met", "Met"),
            ("breached", "Breached"),
            ("pending", "Pending"),
            ("cancelled", "Cancelled"),
            ("compliance", "Compliance"),
        ],
    );
    let row = |kind: &str, class: &str, d: &DueTally| {
        vec![
            Cell::text(kind),
            Cell::text(class),
            Cell::count(d.due),
            Cell::count(d.met),
            Cell::count(d.breached),
            Cell::count(d.pending),
            Cell::count(d.cancelled),
            Cell::rate(d.met, d.met + d.breached),
        ]
    };
    let mut total = DueTally {
        kind: ALL.into(),
        customer_class: None,
        due: 0,
        met: 0,
        breached: 0,
        pending: 0,
        cancelled: 0,
    };
    for d in rows {
        t.rows
            .push(row(&d.kind, class_label(d.customer_class.as_deref()), d));
        total.due += d.due;
        total.met += d.met;
        total.breached += d.breached;
        total.pending += d.pending;
        total.cancelled += d.cancelled;
    }
    // Always there, so a period without tickets reads "—" rather than an empty table.
    t.rows.push(row(ALL, ALL, &total));
    t
}

/// Mean, median, 90th percentile and longest of ascending durations (ms), in seconds.
fn spread(sorted_ms: &[i64]) -> [Cell; 5] {
    let secs = |ms: Option<i64>| Cell::secs(ms.map(|v| v as f64 / 1000.0));
    [
        Cell::count(sorted_ms.len() as i64),
        Cell::secs(mean(sorted_ms).map(|v| v / 1000.0)),
        secs(percentile(sorted_ms, 50.0)),
        secs(percentile(sorted_ms, 90.0)),
        secs(sorted_ms.last().copied()),
    ]
}

/// Time to resolve by kind and class, and over all of them.
pub(super) fn resolve_table(rows: &[ResolveTime]) -> Table {
    let mut t = Table::new(
        "time_to_resolve",
        "Time to resolve",
        "Tickets resolved in the period (whenever opened), by kind and customer class: time \
         from opening to resolution. Median and 90th percentile by nearest rank (a time some \
         ticket actually took); longest is the maximum.",
        &[
            ("kind", "Kind"),
            ("customer_class", "Customer class"),
            ("resolved", "Resolved"),
            ("mean", "Mean"),
            ("median", "Median"),
            ("p90", "90th percentile"),
            ("max", "Longest"),
        ],
    );
    let mut groups: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for r in rows {
        let key = (r.kind.as_str(), class_label(r.customer_class.as_deref()));
        groups.entry(key).or_default().push(r.ms);
    }
    let mut all: Vec<i64> = Vec::with_capacity(rows.len());
    for ((kind, class), mut ms) in groups {
        // The store sorts each group; sorting again keeps the percentiles right regardless.
        ms.sort_unstable();
        all.extend_from_slice(&ms);
        let mut row = vec![Cell::text(kind), Cell::text(class)];
        row.extend(spread(&ms));
        t.rows.push(row);
    }
    all.sort_unstable();
    let mut row = vec![Cell::text(ALL), Cell::text(ALL)];
    row.extend(spread(&all));
    t.rows.push(row);
    t
}

/// Running tickets late or due within `AT_RISK_MS`, by kind.
pub(super) fn risk_table(rows: &[AtRisk]) -> Table {
    let mut t = Table::new(
        "at_risk",
        "Open tickets at risk of breach",
        "Running tickets as of now, whatever the period, by kind: those already past their \
         deadline and still open, and those whose deadline falls within the next 4 hours.",
        &[
            ("kind", "Kind"),
            ("late", "Past deadline, still open"),
            ("due_4h", "Due within 4 h"),
        ],
    );
    let (mut late, mut soon) = (0, 0);
    for r in rows {
        t.rows.push(vec![
            Cell::text(r.kind.as_str()),
            Cell::count(r.late),
            Cell::count(r.due_soon),
        ]);
        late += r.late;
        soon += r.due_soon;
    }
    t.rows
        .push(vec![Cell::text(ALL), Cell::count(late), Cell::count(soon)]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn time(kind: &str, class: Option<&str>, ms: i64) -> ResolveTime {
        ResolveTime {
            kind: kind.into(),
            customer_class: class.map(str::to_string),
            ms,
        }
    }

    fn shown(t: &Table, row: usize) -> Vec<String> {
        t.rows[row].iter().map(Cell::display).collect()
    }

    #[test]
    fn the_operators_mean_repair_time_reads_12_8_hours() {
        // Five faults: 6 + 10 + 12 + 14 + 22 = 64 hours, 12.8 on average.
        let rows: Vec<_> = [6, 10, 12, 14, 22]
            .into_iter()
            .map(|h| time("fault", Some("residential"), h * H))
            .collect();
        let t = resolve_table(&rows);
        assert_eq!(
            shown(&t, 0),
            [
                "fault",
                "residential",
                "5",
                "12.8 h",
                "12.0 h",
                "22.0 h",
                "22.0 h"
            ]
        );
        assert_eq!(t.rows.len(), 2, "one group and the total");
    }

    #[test]
    fn groups_and_total_count_every_ticket_once() {
        let rows = [
            time("change", None, 2 * H),
            time("fault", Some("business"), H),
            time("fault", Some("business"), 3 * H),
        ];
        let t = resolve_table(&rows);
        assert_eq!(shown(&t, 0)[..3], ["change", "unrecorded", "1"]);
        assert_eq!(shown(&t, 1)[..4], ["fault", "business", "2", "2.0 h"]);
        assert_eq!(
            shown(&t, 2)[..6],
            ["all", "all", "3", "2.0 h", "2.0 h", "3.0 h"]
        );
    }

    #[test]
    fn compliance_carries_its_denominator_and_nothing_is_a_dash() {
        let t = due_table(&[]);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(shown(&t, 0)[7], "— (0 of 0)");
        let d = DueTally {
            kind: "fault".into(),
            customer_class: Some("residential".into()),
            due: 6,
            met: 0,
            breached: 4,
            pending: 1,
            cancelled: 1,
        };
        let t = due_table(&[d]);
        assert_eq!(shown(&t, 0)[7], "0.0% (0 of 4)");
        assert_eq!(
            shown(&t, 1)[2..],
            ["6", "0", "4", "1", "1", "0.0% (0 of 4)"]
        );
        let t = resolve_table(&[]);
        assert_eq!(shown(&t, 0)[2..], ["0", "—", "—", "—", "—"]);
    }
}
