//! Aggregates for the tickets reports, for both backends (see `crate::reports`).
//!
//! Rules: as for tickets, one SQL text for SQLite and PostgreSQL, functions written once in
//! `ticket_report_store!`; every query is an aggregate or one sorted column over indexed rows.
//! - A ticket's customer class is the one it was opened with, or, when it has none (a
//!   complaint recorded by phone), its account's class now.
//! - "Running" is `TicketState::is_active`; a ticket is late once `now` is past its deadline,
//!   as `Ticket::breach_time` says.
//! - Call figures read the outcome columns the step writer keeps on `calls` (see
//!   `Milestone`), never `call_steps`; a call counts in the interval its start falls in.

/// What a ticket report is narrowed to; `None` is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketScope<'a> {
    /// A ticket kind (`TicketKind::as_str`).
    pub kind: Option<&'a str>,
    /// The ticket's line kind (`LineKind::as_str`).
    pub line_kind: Option<&'a str>,
    /// `CustomerClass::as_str`.
    pub customer_class: Option<&'a str>,
}

/// Tickets due in a period, of one kind and customer class. `due` is the sum of the others.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DueTally {
    pub kind: String,
    pub customer_class: Option<String>,
    pub due: i64,
    /// Resolved at or before the deadline.
    pub met: i64,
    /// Marked breached, resolved after the deadline, or running and past it.
    pub breached: i64,
    /// Running, with the deadline still ahead (`>= now`).
    pub pending: i64,
    /// Cancelled before the deadline passed.
    pub cancelled: i64,
}

/// How long one resolved ticket took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveTime {
    pub kind: String,
    pub customer_class: Option<String>,
    /// `resolved_at - opened_at`, milliseconds.
    pub ms: i64,
}

/// Running tickets of one kind near or past their deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtRisk {
    pub kind: String,
    /// Past the deadline (marked or not) and still running.
    pub late: i64,
    /// Deadline in `[now, until)`, not yet late.
    pub due_soon: i64,
}

/// Inbound calls of one interval and what they achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallTally {
    pub calls: i64,
    /// Finished a self-service task.
    pub self_served: i64,
    /// Self-served, never asked for a person, and no call again from the number in time.
    pub contained: i64,
    /// Self-served and did not ask for a person, but the number called again in time.
    pub called_again: i64,
    /// Asked for a person.
    pub person: i64,
    /// Offered a callback instead of holding.
    pub callback_offered: i64,
    /// Took a callback instead of holding (an escalation `transfer_callback` of the call).
    pub callback_taken: i64,
}

impl CallTally {
    /// Adds another interval's calls.
    pub fn add(&mut self, o: &CallTally) {
        self.calls += o.calls;
        self.self_served += o.self_served;
        self.contained += o.contained;
        self.called_again += o.called_again;
        self.person += o.person;
        self.callback_offered += o.callback_offered;
        self.callback_taken += o.callback_taken;
    }
}

/// The agent queue as a period's calls found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueTally {
    /// Calls that entered the queue.
    pub queued: i64,
    /// Of those, hung up while waiting (the carrier's queue result `hangup`).
    pub abandoned: i64,
    /// Time in the queue (`left_at - entered_at`, ms) of those who left it, ascending.
    pub waits_ms: Vec<i64>,
}

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
        "SELECT t.kind, \
         SUM(CASE WHEN t.breached_at IS NOT NULL OR t.deadline_at < $1 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN t.breached_at IS NULL AND t.deadline_at >= $1 THEN 1 ELSE 0 END) \
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
pub(super) fn milestone_sql(m: super::Milestone) -> &'static str {
    match m {
        super::Milestone::SelfServed => sql::SELF_SERVED,
        super::Milestone::Person => sql::PERSON,
        super::Milestone::CallbackOffered => sql::CALLBACK_OFFERED,
    }
}

/// Implements `TicketReportStore` for a backend: `$store` has a pool `$read`. Also defines
/// `ticket_report_impl::apply_milestones`, which the backend's step batch calls inside its
/// transaction.
macro_rules! ticket_report_store {
    ($store:ident, $db:ty, $read:ident) => {
        mod ticket_report_impl {
            use super::super::reports_tickets::{self as r, sql};
            use super::super::rows::MilestoneWrite;
            use super::super::{AtRisk, Result, TicketReportStore, TicketScope};

            type Conn = <$db as sqlx::Database>::Connection;

            /// Records the milestones of a step batch (few: at most three per call).
            pub(in super::super) async fn apply_milestones(
                conn: &mut Conn,
                milestones: &[MilestoneWrite<'_>],
            ) -> Result<()> {
                for m in milestones {
                    sqlx::query(r::milestone_sql(m.milestone))
                        .bind(m.call_sid)
                        .bind(m.at)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            #[async_trait::async_trait]
            impl TicketReportStore for super::$store {
                async fn tickets_at_risk(
                    &self,
                    now: i64,
                    until: i64,
                    s: &TicketScope<'_>,
                ) -> Result<Vec<AtRisk>> {
                    let rows: Vec<(String, i64, i64)> = sqlx::query_as(sql::AT_RISK)
                        .bind(now)
                        .bind(until)
                        .bind(s.kind)
                        .bind(s.line_kind)
                        .bind(s.customer_class)
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(kind, late, due_soon)| AtRisk {
                            kind,
                            late,
                            due_soon,
                        })
                        .collect())
                }

                async fn tickets_opened(
                    &self,
                    kind: &str,
                    bounds: &[i64],
                    s: &TicketScope<'_>,
                ) -> Result<Vec<i64>> {
                    let mut conn = self.$read.acquire().await?;
                    let mut counts = Vec::with_capacity(bounds.len().saturating_sub(1));
                    for w in bounds.windows(2) {
                        let n: i64 = sqlx::query_scalar(sql::TICKETS_OPENED)
                            .bind(w[0])
                            .bind(w[1])
                            .bind(kind)
                            .bind(s.line_kind)
                            .bind(s.customer_class)
                            .fetch_one(&mut *conn)
                            .await?;
                        counts.push(n);
                    }
                    Ok(counts)
                }
            }
        }
    };
}
pub(super) use ticket_report_store;
