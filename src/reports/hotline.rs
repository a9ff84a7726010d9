//! The hotline report: calls, how many the machine finished (verified containment), how many
//! went to people, and what the agent queue cost the callers who waited in it.
//!
//! Rules:
//! - A call counts in the local day (or month) it started in, also when it spans midnight; the
//!   queue figures belong to the calls started in the period too.
//! - Containment is verified, not assumed: the caller finished a self-service task (heard their
//!   bill, opened a fault or order ticket, heard a ticket's state, heard service information),
//!   never asked for a person in that call, and the same number did not call again within
//!   24 hours of its start. A complaint is not self-service: it goes to people.
//! - The outcomes are read from the call rows (`calls.self_served_at`, `person_at`,
//!   `callback_offered_at`, written with the steps), never from the call steps.
//! - Filters: the hotline number (the number dialed). Service, line kind, customer class and
//!   campaign do not apply.

use super::complaints::{Bucket, Step, buckets};
use super::figures::{mean, percentile};
use super::{Built, Cell, ReportCtx, Table};
use crate::repo::StoreError;
use crate::reports::repo::{CallTally, QueueTally};

/// A call followed by another from the same number within this long was not contained.
pub(super) const REPEAT_MS: i64 = 24 * 3_600_000;
/// Periods of up to this many days are shown by day; longer ones by month.
const MAX_DAYS: usize = 31;

pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let f = ctx.filter;
    let mut ignored = Vec::new();
    for (given, name) in [
        (f.service.is_some(), "service"),
        (f.line_kind.is_some(), "line_kind"),
        (f.customer_class.is_some(), "customer_class"),
        (f.campaign_id.is_some(), "campaign"),
    ] {
        if given {
            ignored.push(name);
        }
    }
    let hotline = f.hotline.as_deref();
    let days = buckets(ctx.period, ctx.tz, Step::Day);
    let (step, cuts) = if days.len() <= MAX_DAYS {
        (Step::Day, days)
    } else {
        (Step::Month, buckets(ctx.period, ctx.tz, Step::Month))
    };
    // Buckets are adjacent: their bounds are one list.
    let bounds: Vec<i64> = cuts
        .first()
        .map(|b| b.period.from)
        .into_iter()
        .chain(cuts.iter().map(|b| b.period.to))
        .collect();
    let (tallies, queue) = super::rollup::calls(ctx, &bounds, hotline).await?;
    Ok((
        vec![calls_table(step, &cuts, &tallies), queue_table(&queue)],
        ignored,
    ))
}

fn call_row(label: &str, c: &CallTally) -> Vec<Cell> {
    vec![
        Cell::text(label),
        Cell::count(c.calls),
        Cell::count(c.self_served),
        Cell::rate(c.contained, c.calls),
        Cell::count(c.called_again),
        Cell::rate(c.person, c.calls),
        Cell::count(c.callback_offered),
        Cell::count(c.callback_taken),
    ]
}

/// Calls by day or month, with the total last.
pub(super) fn calls_table(step: Step, cuts: &[Bucket], tallies: &[CallTally]) -> Table {
    let (key, label) = match step {
        Step::Day => ("day", "Day"),
        Step::Month => ("month", "Month"),
    };
    let mut t = Table::new(
        "calls",
        "Hotline calls and containment",
        "Inbound calls by the local day (month for periods over 31 days) they started in, a \
         call spanning midnight counting on the day it started; to the hotline number when the \
         filter names one. Self-served: heard their bill, opened a fault or order ticket, heard \
         a ticket's state or service information. Contained: self-served, never asked for a \
         person, and no call from the same number within 24 hours after it started (so the \
         last day's figure can still fall), over all calls. Called again: self-served, no \
         person, but the number called again within 24 hours. Asked for a person: over all \
         calls, whether then queued, put through or offered a callback. Callback offered: \
         instead of holding; taken: the caller left a number to be called back.",
        &[
            (key, label),
            ("calls", "Calls"),
            ("self_served", "Self-served"),
            ("contained", "Contained"),
            ("called_again", "Called again within 24 h"),
            ("person", "Asked for a person"),
            ("callback_offered", "Callback offered"),
            ("callback_taken", "Callback taken"),
        ],
    );
    let mut total = CallTally::default();
    for (b, c) in cuts.iter().zip(tallies) {
        t.rows.push(call_row(&b.label, c));
        total.add(c);
    }
    t.rows.push(call_row("total", &total));
    t
}

/// The agent queue, one row.
pub(super) fn queue_table(q: &QueueTally) -> Table {
    let mut t = Table::new(
        "agent_queue",
        "Agent queue",
        "Calls started in the period that entered the agent queue. Abandoned: hung up while \
         waiting, over those queued. Wait: from entering the queue to leaving it (answered, \
         hung up or left for a callback), over those who left it; 90th percentile by nearest \
         rank.",
        &[
            ("queued", "Queued"),
            ("abandoned", "Abandoned"),
            ("left", "Left the queue"),
            ("mean_wait", "Mean wait"),
            ("p90_wait", "90th percentile wait"),
        ],
    );
    let secs = |ms: Option<i64>| Cell::secs(ms.map(|v| v as f64 / 1000.0));
    t.rows.push(vec![
        Cell::count(q.queued),
        Cell::rate(q.abandoned, q.queued),
        Cell::count(q.waits_ms.len() as i64),
        Cell::secs(mean(&q.waits_ms).map(|v| v / 1000.0)),
        secs(percentile(&q.waits_ms, 90.0)),
    ]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::Period;

    fn shown(t: &Table, row: usize) -> Vec<String> {
        t.rows[row].iter().map(Cell::display).collect()
    }

    #[test]
    fn containment_is_over_all_calls_and_totals_add_up() {
        let cuts = [
            Bucket {
                label: "2026-06-01".into(),
                period: Period { from: 0, to: 1 },
            },
            Bucket {
                label: "2026-06-02".into(),
                period: Period { from: 1, to: 2 },
            },
        ];
        let a = CallTally {
            calls: 4,
            self_served: 3,
            contained: 1,
            called_again: 1,
            person: 2,
            callback_offered: 1,
            callback_taken: 1,
        };
        let t = calls_table(Step::Day, &cuts, &[a, CallTally::default()]);
        assert_eq!(t.columns[0].key, "day");
        assert_eq!(
            shown(&t, 0),
            [
                "2026-06-01",
                "4",
                "3",
                "25.0% (1 of 4)",
                "1",
                "50.0% (2 of 4)",
                "1",
                "1"
            ]
        );
        assert_eq!(shown(&t, 1)[3], "— (0 of 0)");
        assert_eq!(shown(&t, 2)[..4], ["total", "4", "3", "25.0% (1 of 4)"]);
    }

    #[test]
    fn an_empty_queue_reads_dashes() {
        let t = queue_table(&QueueTally::default());
        assert_eq!(shown(&t, 0), ["0", "— (0 of 0)", "0", "—", "—"]);
        let t = queue_table(&QueueTally {
            queued: 3,
            abandoned: 1,
            waits_ms: vec![30_000, 90_000, 600_000],
        });
        assert_eq!(
            shown(&t, 0),
            ["3", "33.3% (1 of 3)", "3", "4.0 min", "10.0 min"]
        );
    }
}
