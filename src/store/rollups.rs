//! Daily roll-ups of the report figures, for both backends (see `crate::reports::rollup`).
//!
//! Rules: one SQL text for SQLite and PostgreSQL, functions written once in `rollup_store!`.
//! - A `roll_*` statement computes one period's figures from the stored outcomes, grouped by
//!   every dimension a report can filter on and never filtered: a report filters the rows.
//!   `crate::reports::rollup` calls them one local day at a time, for days not rolled up yet
//!   and to roll days up.
//! - A family's rolled days are JSON documents, one per local day, written with the family's
//!   mark (the zone the days are in, and `[start, through)`, the days rolled) in one
//!   transaction, so a reader never sees days without their mark.
//! - Counted once: an answer is the first a callback gave to its question (a retried survey
//!   step never counts twice, on any day); a callback is counted with its first attempt the
//!   carrier took.

use crate::reports::repo::{CallRoll, CallTally, DueRoll, DueTally, ResolvedRoll};

/// The statements, the same text on both backends.
pub(super) mod sql {
    /// Inbound calls started in `[$1, $2)`.
    macro_rules! period_calls {
        () => {
            "c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2"
        };
    }

    /// Self-served without asking for a person.
    macro_rules! self_only {
        () => {
            "c.self_served_at IS NOT NULL AND c.person_at IS NULL"
        };
    }

    /// Another inbound call from the same number started within `$3` ms after this one.
    macro_rules! called_again {
        () => {
            "EXISTS (SELECT 1 FROM calls r WHERE r.from_number = c.from_number \
             AND r.direction = 'inbound' AND r.started_at <= c.started_at + $3 \
             AND (r.started_at > c.started_at OR (r.started_at = c.started_at AND r.id > c.id)))"
        };
    }

    /// `$1, $2` the period of starts, `$3` the repeat window in ms.
    pub const CALLS: &str = concat!(
        "SELECT c.to_number, COUNT(*), \
         COALESCE(SUM(CASE WHEN c.self_served_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN ",
        self_only!(),
        " AND NOT ",
        called_again!(),
        " THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN ",
        self_only!(),
        " AND ",
        called_again!(),
        " THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN c.person_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN c.callback_offered_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM escalations e \
             WHERE e.source = 'call:' || c.call_sid AND e.kind = 'transfer_callback') \
             THEN 1 ELSE 0 END), 0) \
         FROM calls c WHERE ",
        period_calls!(),
        " GROUP BY c.to_number"
    );

    /// `$1, $2` the period of starts: each queued call, abandoned or not, and its wait.
    pub const QUEUE: &str = concat!(
        "SELECT c.to_number, CASE WHEN q.result = 'hangup' THEN 1 ELSE 0 END, \
         q.left_at - q.entered_at \
         FROM calls c JOIN queue_calls q ON q.call_sid = c.call_sid WHERE ",
        period_calls!(),
        " ORDER BY 3"
    );

    use super::super::reports_tickets::sql::class;

    /// Late as of `$3`: marked, resolved after the deadline, or running past it. Every
    /// disjunct is false (never NULL) when its column is NULL, so `NOT` of it is exact.
    macro_rules! breached {
        () => {
            concat!(
                "(t.breached_at IS NOT NULL \
                 OR (t.resolved_at IS NOT NULL AND t.resolved_at > t.deadline_at) \
                 OR (t.state IN ",
                super::super::tickets::sql::active!(),
                " AND t.deadline_at < $3))"
            )
        };
    }

    /// `$1, $2` the period of deadlines, `$3` now.
    pub const DUE: &str = concat!(
        "SELECT t.kind, ",
        class!(),
        ", t.line_kind, COUNT(*), \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.resolved_at IS NOT NULL THEN 1 ELSE 0 END), \
         SUM(CASE WHEN ",
        breached!(),
        " THEN 1 ELSE 0 END), \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.state IN ",
        super::super::tickets::sql::active!(),
        " THEN 1 ELSE 0 END), \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.state = 'cancelled' THEN 1 ELSE 0 END) \
         FROM tickets t \
         WHERE t.deadline_at >= $1 AND t.deadline_at < $2 \
         GROUP BY t.kind, ",
        class!(),
        ", t.line_kind"
    );

    /// `$1, $2` the period of resolution.
    pub const RESOLVED: &str = concat!(
        "SELECT t.kind, ",
        class!(),
        ", t.line_kind, t.resolved_at - t.opened_at AS took \
         FROM tickets t \
         WHERE t.resolved_at >= $1 AND t.resolved_at < $2 ORDER BY took"
    );

    /// A callback with its campaign and ticket; its dimensions (`CallbackDims`) in order.
    /// The account is read only for a callback whose ticket has no class.
    macro_rules! dims {
        () => {
            "b.campaign_id, c.purpose, c.from_number, t.kind, t.line_kind, \
             COALESCE(t.customer_class, \
                 (SELECT ac.customer_class FROM accounts ac WHERE ac.id = b.account_id))"
        };
    }
    macro_rules! joined {
        () => {
            " JOIN campaigns c ON c.id = b.campaign_id \
             LEFT JOIN tickets t ON t.id = b.ticket_id"
        };
    }

    /// `$1, $2` the period the answers were given in. Values other than the satisfaction and
    /// "fixed" ones are not grouped: a comment is a recording URL, one per answer.
    pub const ANSWERS: &str = concat!(
        "SELECT ",
        dims!(),
        ", s.question, \
         CASE WHEN s.answer IN ('very', 'basic', 'dissatisfied', 'yes', 'no') \
             THEN s.answer END, \
         COUNT(*), COUNT(s.score), SUM(s.score) \
         FROM survey_answers s JOIN callbacks b ON b.id = s.callback_id",
        joined!(),
        " WHERE s.at >= $1 AND s.at < $2 \
         AND NOT EXISTS (SELECT 1 FROM survey_answers p WHERE p.callback_id = s.callback_id \
             AND p.question = s.question AND (p.at < s.at OR (p.at = s.at AND p.id < s.id))) \
         GROUP BY ",
        dims!(),
        ", s.question, \
         CASE WHEN s.answer IN ('very', 'basic', 'dissatisfied', 'yes', 'no') \
             THEN s.answer END"
    );

    /// `$1, $2` the period satisfaction callbacks were queued in.
    pub const SAMPLE: &str = concat!(
        "SELECT ",
        dims!(),
        ", COUNT(*), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM callback_attempts a \
             WHERE a.callback_id = b.id AND a.outcome = 'answered') THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM survey_answers s \
             WHERE s.callback_id = b.id) THEN 1 ELSE 0 END), 0) \
         FROM callbacks b",
        joined!(),
        " WHERE c.purpose = 'satisfaction' AND b.created_at >= $1 AND b.created_at < $2 \
         GROUP BY ",
        dims!()
    );

    /// `$1, $2` the period: attempts the carrier took (`placed_at` set), by the time the
    /// dialer recorded them.
    pub const ATTEMPTS: &str = concat!(
        "SELECT ",
        dims!(),
        ", a.attempt_no, a.requested_at, b.timezone, \
         CASE WHEN a.outcome = 'answered' THEN 1 ELSE 0 END, \
         CASE WHEN a.answered_by = 'machine' THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM survey_answers s WHERE s.attempt_id = a.id) \
             THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM callback_attempts e \
             WHERE e.callback_id = a.callback_id AND e.attempt_no < a.attempt_no \
             AND e.placed_at IS NOT NULL) THEN 0 ELSE 1 END, \
         CASE WHEN EXISTS (SELECT 1 FROM callback_attempts e \
             WHERE e.callback_id = a.callback_id AND e.outcome = 'answered') \
             THEN 1 ELSE 0 END, \
         a.requested_at - t.resolved_at \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE a.placed_at IS NOT NULL AND a.requested_at >= $1 AND a.requested_at < $2"
    );

    /// When the stored outcomes begin.
    pub const EARLIEST: &str = "SELECT MIN(m) FROM ( \
         SELECT MIN(started_at) AS m FROM calls \
         UNION ALL SELECT MIN(opened_at) FROM tickets \
         UNION ALL SELECT MIN(created_at) FROM callbacks) x";

    /// The oldest callback still to be called (each state has its partial index).
    pub const OLDEST_UNFINISHED: &str = "SELECT MIN(m) FROM ( \
         SELECT MIN(created_at) AS m FROM callbacks WHERE state = 'pending' \
         UNION ALL SELECT MIN(created_at) FROM callbacks WHERE state = 'dialing') x";

    pub const MARK: &str =
        "SELECT tz, start_at, through FROM report_rollup_marks WHERE family = $1";
    pub const ROLLED: &str = "SELECT day_start, body FROM report_rollups \
         WHERE family = $1 AND day_start >= $2 AND day_start < $3 ORDER BY day_start";
    pub const INSERT_DAY: &str = "INSERT INTO report_rollups (family, day_start, body) \
         VALUES ($1, $2, $3) ON CONFLICT (family, day_start) DO UPDATE SET body = excluded.body";
    pub const SET_MARK: &str = "INSERT INTO report_rollup_marks (family, tz, start_at, through) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (family) DO UPDATE \
         SET tz = excluded.tz, start_at = excluded.start_at, through = excluded.through";
    pub const CLEAR_FAMILY: &str = "DELETE FROM report_rollups WHERE family = $1";
    pub const CLEAR_MARK: &str = "DELETE FROM report_rollup_marks WHERE family = $1";
}

/// `to_number, calls, self_served, contained, called_again, person, offered, taken`
pub(super) type CallRow = (String, i64, i64, i64, i64, i64, i64, i64);

/// Joins a day's call counts and queue rows (`to_number, abandoned, wait`) per number.
pub(super) fn call_rolls(
    calls: Vec<CallRow>,
    queue: Vec<(String, i32, Option<i64>)>,
) -> Vec<CallRoll> {
    let mut rolls: std::collections::BTreeMap<String, CallRoll> = calls
        .into_iter()
        .map(
            |(hotline, calls, self_served, contained, called_again, person, offered, taken)| {
                let tally = CallTally {
                    calls,
                    self_served,
                    contained,
                    called_again,
                    person,
                    callback_offered: offered,
                    callback_taken: taken,
                };
                (
                    hotline.clone(),
                    CallRoll {
                        hotline,
                        tally,
                        queued: 0,
                        abandoned: 0,
                        waits_ms: Vec::new(),
                    },
                )
            },
        )
        .collect();
    // Rows come in order of wait, so each number's waits stay ascending.
    for (hotline, abandoned, wait) in queue {
        let roll = rolls.entry(hotline.clone()).or_insert_with(|| CallRoll {
            hotline,
            tally: CallTally::default(),
            queued: 0,
            abandoned: 0,
            waits_ms: Vec::new(),
        });
        roll.queued += 1;
        roll.abandoned += i64::from(abandoned != 0);
        roll.waits_ms.extend(wait);
    }
    rolls.into_values().collect()
}

/// `kind, class, line kind, due, met, breached, pending, cancelled`
pub(super) type DueRow = (
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
);

pub(super) fn due_roll(r: DueRow) -> DueRoll {
    let (kind, customer_class, line_kind, due, met, breached, pending, cancelled) = r;
    DueRoll {
        line_kind,
        tally: DueTally {
            kind,
            customer_class,
            due,
            met,
            breached,
            pending,
            cancelled,
        },
    }
}

/// Groups `kind, class, line kind, took` rows (ascending by `took`) per ticket group.
pub(super) fn resolved_rolls(
    rows: Vec<(String, Option<String>, Option<String>, i64)>,
) -> Vec<ResolvedRoll> {
    let mut groups: std::collections::BTreeMap<_, Vec<i64>> = std::collections::BTreeMap::new();
    for (kind, class, line, took) in rows {
        groups.entry((kind, class, line)).or_default().push(took);
    }
    groups
        .into_iter()
        .map(
            |((kind, customer_class, line_kind), times_ms)| ResolvedRoll {
                kind,
                customer_class,
                line_kind,
                times_ms,
            },
        )
        .collect()
}

/// Implements `RollupStore` for a backend: `$store` has a pool `$read` and `begin_write()`.
macro_rules! rollup_store {
    ($store:ident, $db:ty, $read:ident) => {
        mod rollup_impl {
            use sqlx::Row;

            use super::super::rollups::{self as r, sql};
            use super::super::{
                AnswerRoll, AttemptFact, CallRoll, DueRoll, ResolvedRoll, Result, RollupMark,
                RollupStore, SampleRoll,
            };

            use super::super::CallbackDims;

            /// The first columns of a callback statement: `dims!()`.
            const D: usize = 6;

            fn dims_of(row: &<$db as sqlx::Database>::Row) -> Result<CallbackDims> {
                Ok(CallbackDims {
                    campaign_id: row.try_get(0)?,
                    purpose: row.try_get(1)?,
                    hotline: row.try_get(2)?,
                    ticket_kind: row.try_get(3)?,
                    line_kind: row.try_get(4)?,
                    customer_class: row.try_get(5)?,
                })
            }

            #[async_trait::async_trait]
            impl RollupStore for super::$store {
                async fn roll_calls(
                    &self,
                    from: i64,
                    to: i64,
                    repeat_ms: i64,
                ) -> Result<Vec<CallRoll>> {
                    let mut conn = self.$read.acquire().await?;
                    let calls: Vec<r::CallRow> = sqlx::query_as(sql::CALLS)
                        .bind(from)
                        .bind(to)
                        .bind(repeat_ms)
                        .fetch_all(&mut *conn)
                        .await?;
                    let queue: Vec<(String, i32, Option<i64>)> = sqlx::query_as(sql::QUEUE)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *conn)
                        .await?;
                    Ok(r::call_rolls(calls, queue))
                }

                async fn roll_due(&self, from: i64, to: i64, now: i64) -> Result<Vec<DueRoll>> {
                    let rows: Vec<r::DueRow> = sqlx::query_as(sql::DUE)
                        .bind(from)
                        .bind(to)
                        .bind(now)
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows.into_iter().map(r::due_roll).collect())
                }

                async fn roll_resolved(&self, from: i64, to: i64) -> Result<Vec<ResolvedRoll>> {
                    let rows = sqlx::query_as(sql::RESOLVED)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(r::resolved_rolls(rows))
                }

                async fn roll_answers(&self, from: i64, to: i64) -> Result<Vec<AnswerRoll>> {
                    let rows = sqlx::query(sql::ANSWERS)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.$read)
                        .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(AnswerRoll {
                                dims: dims_of(row)?,
                                question: row.try_get(D)?,
                                answer: row.try_get(D + 1)?,
                                callbacks: row.try_get(D + 2)?,
                                scored: row.try_get(D + 3)?,
                                score_sum: row.try_get(D + 4)?,
                            })
                        })
                        .collect()
                }

                async fn roll_sample(&self, from: i64, to: i64) -> Result<Vec<SampleRoll>> {
                    let rows = sqlx::query(sql::SAMPLE)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.$read)
                        .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(SampleRoll {
                                dims: dims_of(row)?,
                                sampled: row.try_get(D)?,
                                reached: row.try_get(D + 1)?,
                                answered: row.try_get(D + 2)?,
                            })
                        })
                        .collect()
                }

                async fn roll_attempts(&self, from: i64, to: i64) -> Result<Vec<AttemptFact>> {
                    let rows = sqlx::query(sql::ATTEMPTS)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.$read)
                        .await?;
                    rows.iter()
                        .map(|row| {
                            let flag =
                                |j: usize| -> Result<bool> { Ok(row.try_get::<i32, _>(j)? != 0) };
                            Ok(AttemptFact {
                                dims: dims_of(row)?,
                                attempt_no: row.try_get(D)?,
                                at: row.try_get(D + 1)?,
                                timezone: row.try_get(D + 2)?,
                                person: flag(D + 3)?,
                                machine: flag(D + 4)?,
                                responded: flag(D + 5)?,
                                first: flag(D + 6)?,
                                reached: flag(D + 7)?,
                                since_resolved_ms: row.try_get(D + 8)?,
                            })
                        })
                        .collect()
                }

                async fn earliest_outcome(&self) -> Result<Option<i64>> {
                    Ok(sqlx::query_scalar(sql::EARLIEST)
                        .fetch_one(&self.$read)
                        .await?)
                }

                async fn oldest_unfinished_callback(&self) -> Result<Option<i64>> {
                    Ok(sqlx::query_scalar(sql::OLDEST_UNFINISHED)
                        .fetch_one(&self.$read)
                        .await?)
                }

                async fn rollup_mark(&self, family: &str) -> Result<Option<RollupMark>> {
                    let row: Option<(String, i64, i64)> = sqlx::query_as(sql::MARK)
                        .bind(family)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|(tz, start, through)| RollupMark { tz, start, through }))
                }

                async fn rolled_days(
                    &self,
                    family: &str,
                    from: i64,
                    to: i64,
                ) -> Result<Vec<(i64, String)>> {
                    Ok(sqlx::query_as(sql::ROLLED)
                        .bind(family)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.$read)
                        .await?)
                }

                async fn save_rollup(
                    &self,
                    family: &str,
                    mark: &RollupMark,
                    days: &[(i64, String)],
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    for (day, rows) in days {
                        sqlx::query(sql::INSERT_DAY)
                            .bind(family)
                            .bind(day)
                            .bind(rows)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(sql::SET_MARK)
                        .bind(family)
                        .bind(&mark.tz)
                        .bind(mark.start)
                        .bind(mark.through)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn clear_rollup(&self, family: &str) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    for q in [sql::CLEAR_FAMILY, sql::CLEAR_MARK] {
                        sqlx::query(q).bind(family).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }
            }
        }
    };
}
pub(super) use rollup_store;
