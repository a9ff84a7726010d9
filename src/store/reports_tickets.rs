//! Aggregates for the tickets reports, for both backends (see `crate::reports`).
//!
//! Rules: one SQL text for SQLite and PostgreSQL, functions written once over `db::Backend`;
//! every query is an aggregate or one sorted column over indexed rows.
//! - A ticket's customer class is the one it was opened with, or, when it has none (a
//!   complaint recorded by phone), its account's class now.
//! - "Running" is `TicketState::is_active`; a ticket is late once `now` is past its deadline,
//!   as `Ticket::breach_time` says.
//! - Call figures read the outcome columns the step writer keeps on `calls` (see
//!   `Milestone`), never `call_steps`; a call counts in the interval its start falls in.

use super::batch::MilestoneWrite;
use super::db::{AsConn, Backend, Row, query};
use super::{AtRisk, Milestone, Result, TicketReportStore, TicketScope};

/// The statements, the same text on both backends.
pub(super) mod sql {
    /// The class a ticket counts under. The account is read only for a ticket without a
    /// class (few: complaints recorded by phone), not joined to every ticket: over a year
    /// that join was most of the report's time.
    macro_rules! class {
        () => {
            "COALESCE(t.customer_class, \
             (SELECT a.customer_class FROM accounts a WHERE a.id = t.account_id))"
        };
    }
    pub(crate) use class;

    /// The scope filter with its kind, line kind and class bound as `$k`, `$l`, `$c`.
    macro_rules! scope {
        ($k:literal, $l:literal, $c:literal) => {
            concat!(
                " AND (CAST($",
                $k,
                " AS TEXT) IS NULL OR t.kind = $",
                $k,
                ")",
                " AND (CAST($",
                $l,
                " AS TEXT) IS NULL OR t.line_kind = $",
                $l,
                ")",
                " AND (CAST($",
                $c,
                " AS TEXT) IS NULL OR ",
                class!(),
                " = $",
                $c,
                ")"
            )
        };
    }

    /// `$1` now, `$2` the end of the horizon, `$3..$5` the scope. Running tickets are few:
    /// the state index finds them.
    pub const AT_RISK: &str = concat!(
        "SELECT t.kind AS kind, \
         SUM(CASE WHEN t.breached_at IS NOT NULL OR t.deadline_at < $1 THEN 1 ELSE 0 END) \
         AS late, \
         SUM(CASE WHEN t.breached_at IS NULL AND t.deadline_at >= $1 THEN 1 ELSE 0 END) \
         AS due_soon \
         FROM tickets t \
         WHERE t.state IN ",
        super::super::tickets::sql::active!(),
        " AND (t.breached_at IS NOT NULL OR t.deadline_at < $2)",
        scope!(3, 4, 5),
        " GROUP BY t.kind ORDER BY t.kind"
    );

    /// `$1, $2` the interval of opening, `$3` the kind (required, so the kind-and-opening
    /// index serves it), `$4, $5` line kind and class.
    pub const TICKETS_OPENED: &str = concat!(
        "SELECT COUNT(*) FROM tickets t \
         WHERE t.kind = $3 AND t.opened_at >= $1 AND t.opened_at < $2 \
         AND (CAST($4 AS TEXT) IS NULL OR t.line_kind = $4) \
         AND (CAST($5 AS TEXT) IS NULL OR ",
        class!(),
        " = $5)"
    );

    /// Milestones of a call (`$1`) at `$2`: each column keeps its earliest time.
    pub const SELF_SERVED: &str = "UPDATE calls SET self_served_at = $2 \
         WHERE call_sid = $1 AND (self_served_at IS NULL OR self_served_at > $2)";
    pub const PERSON: &str = "UPDATE calls SET person_at = $2 \
         WHERE call_sid = $1 AND (person_at IS NULL OR person_at > $2)";
    pub const CALLBACK_OFFERED: &str = "UPDATE calls SET callback_offered_at = $2 \
         WHERE call_sid = $1 AND (callback_offered_at IS NULL OR callback_offered_at > $2)";
}

/// The statement that records `m`.
pub(super) fn milestone_sql(m: Milestone) -> &'static str {
    match m {
        Milestone::SelfServed => sql::SELF_SERVED,
        Milestone::Person => sql::PERSON,
        Milestone::CallbackOffered => sql::CALLBACK_OFFERED,
    }
}

/// Records the milestones of a step batch (few: at most three per call) inside the batch's
/// transaction.
pub(super) async fn apply_milestones(
    on: &mut impl AsConn,
    milestones: &[MilestoneWrite<'_>],
) -> Result<()> {
    for m in milestones {
        query(milestone_sql(m.milestone))
            .bind(m.call_sid)
            .bind(m.at)
            .execute(on)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend> TicketReportStore for B {
    async fn tickets_at_risk(
        &self,
        now: i64,
        until: i64,
        s: &TicketScope<'_>,
    ) -> Result<Vec<AtRisk>> {
        let read = |r: &Row| {
            Ok(AtRisk {
                kind: r.get("kind")?,
                late: r.get("late")?,
                due_soon: r.get("due_soon")?,
            })
        };
        query(sql::AT_RISK)
            .bind(now)
            .bind(until)
            .bind(s.kind)
            .bind(s.line_kind)
            .bind(s.customer_class)
            .fetch_all_as(&mut self.read().await?, read)
            .await
    }

    async fn tickets_opened(
        &self,
        kind: &str,
        bounds: &[i64],
        s: &TicketScope<'_>,
    ) -> Result<Vec<i64>> {
        let mut conn = self.read().await?;
        let mut counts = Vec::with_capacity(bounds.len().saturating_sub(1));
        for w in bounds.windows(2) {
            let n: i64 = query(sql::TICKETS_OPENED)
                .bind(w[0])
                .bind(w[1])
                .bind(kind)
                .bind(s.line_kind)
                .bind(s.customer_class)
                .scalar(&mut conn)
                .await?;
            counts.push(n);
        }
        Ok(counts)
    }
}
