//! Daily roll-ups of the report figures, for both backends (see `crate::reports::rollup`).
//!
//! Rules: one SQL text for SQLite and PostgreSQL, functions written once over `db::Backend`,
//! every column named so that rows are read by name.
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

use super::db::{Backend, Row, query};
use super::{
    AnswerRoll, AttemptFact, CallRoll, CallbackDims, DueRoll, ResolvedRoll, Result, RollupMark,
    RollupStore, SampleRoll,
};
use crate::reports::repo::{CallTally, DueTally};

/// The statements, the same text on both backends.
mod sql {
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
        "SELECT c.to_number AS hotline, COUNT(*) AS calls, \
         COALESCE(SUM(CASE WHEN c.self_served_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
         AS self_served, \
         COALESCE(SUM(CASE WHEN ",
        self_only!(),
        " AND NOT ",
        called_again!(),
        " THEN 1 ELSE 0 END), 0) AS contained, \
         COALESCE(SUM(CASE WHEN ",
        self_only!(),
        " AND ",
        called_again!(),
        " THEN 1 ELSE 0 END), 0) AS called_again, \
         COALESCE(SUM(CASE WHEN c.person_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS person, \
         COALESCE(SUM(CASE WHEN c.callback_offered_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
         AS offered, \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM escalations e \
             WHERE e.source = 'call:' || c.call_sid AND e.kind = 'transfer_callback') \
             THEN 1 ELSE 0 END), 0) AS taken \
         FROM calls c WHERE ",
        period_calls!(),
        " GROUP BY c.to_number"
    );

    /// `$1, $2` the period of starts: each queued call, abandoned or not, and its wait.
    pub const QUEUE: &str = concat!(
        "SELECT c.to_number AS hotline, \
         CASE WHEN q.result = 'hangup' THEN 1 ELSE 0 END AS abandoned, \
         q.left_at - q.entered_at AS wait \
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
        "SELECT t.kind AS kind, ",
        class!(),
        " AS customer_class, t.line_kind AS line_kind, COUNT(*) AS due, \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS met, \
         SUM(CASE WHEN ",
        breached!(),
        " THEN 1 ELSE 0 END) AS breached, \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.state IN ",
        super::super::tickets::sql::active!(),
        " THEN 1 ELSE 0 END) AS pending, \
         SUM(CASE WHEN NOT ",
        breached!(),
        " AND t.state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled \
         FROM tickets t \
         WHERE t.deadline_at >= $1 AND t.deadline_at < $2 \
         GROUP BY t.kind, ",
        class!(),
        ", t.line_kind"
    );

    /// `$1, $2` the period of resolution.
    pub const RESOLVED: &str = concat!(
        "SELECT t.kind AS kind, ",
        class!(),
        " AS customer_class, t.line_kind AS line_kind, t.resolved_at - t.opened_at AS took \
         FROM tickets t \
         WHERE t.resolved_at >= $1 AND t.resolved_at < $2 ORDER BY took"
    );

    /// The class a callback counts under: its ticket's, or its account's for a ticket
    /// without one (the account is read only then).
    macro_rules! callback_class {
        () => {
            "COALESCE(t.customer_class, \
             (SELECT ac.customer_class FROM accounts ac WHERE ac.id = b.account_id))"
        };
    }
    /// A callback with its campaign and ticket: its dimensions (`CallbackDims`), to group by.
    macro_rules! dims {
        () => {
            concat!(
                "b.campaign_id, c.purpose, c.from_number, t.kind, t.line_kind, ",
                callback_class!()
            )
        };
    }
    /// `dims!()` to select, named as `dims_of` reads them.
    macro_rules! named_dims {
        () => {
            concat!(
                "b.campaign_id AS campaign_id, c.purpose AS purpose, c.from_number AS hotline, \
                 t.kind AS ticket_kind, t.line_kind AS line_kind, ",
                callback_class!(),
                " AS customer_class"
            )
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
        named_dims!(),
        ", s.question AS question, \
         CASE WHEN s.answer IN ('very', 'basic', 'dissatisfied', 'yes', 'no') \
             THEN s.answer END AS answer, \
         COUNT(*) AS callbacks, COUNT(s.score) AS scored, SUM(s.score) AS score_sum \
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
        named_dims!(),
        ", COUNT(*) AS sampled, \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM callback_attempts a \
             WHERE a.callback_id = b.id AND a.outcome = 'answered') THEN 1 ELSE 0 END), 0) \
         AS reached, \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM survey_answers s \
             WHERE s.callback_id = b.id) THEN 1 ELSE 0 END), 0) AS answered \
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
        named_dims!(),
        ", a.attempt_no AS attempt_no, a.requested_at AS requested_at, b.timezone AS timezone, \
         CASE WHEN a.outcome = 'answered' THEN 1 ELSE 0 END AS person, \
         CASE WHEN a.answered_by = 'machine' THEN 1 ELSE 0 END AS machine, \
         CASE WHEN EXISTS (SELECT 1 FROM survey_answers s WHERE s.attempt_id = a.id) \
             THEN 1 ELSE 0 END AS responded, \
         CASE WHEN EXISTS (SELECT 1 FROM callback_attempts e \
             WHERE e.callback_id = a.callback_id AND e.attempt_no < a.attempt_no \
             AND e.placed_at IS NOT NULL) THEN 0 ELSE 1 END AS first_attempt, \
         CASE WHEN EXISTS (SELECT 1 FROM callback_attempts e \
             WHERE e.callback_id = a.callback_id AND e.outcome = 'answered') \
             THEN 1 ELSE 0 END AS reached, \
         a.requested_at - t.resolved_at AS since_resolved_ms \
         FROM callback_attempts a JOIN callbacks b ON b.id = a.callback_id",
        joined!(),
        " WHERE a.placed_at IS NOT NULL AND a.requested_at >= $1 AND a.requested_at < $2"
    );

    /// When the stored outcomes begin.
    /// `$1` how many: the numbers inbound calls dialed, in order, each found from the one
    /// before it through `calls_dialed` rather than by reading every call.
    pub const HOTLINES: &str = "WITH RECURSIVE n (num, k) AS ( \
         SELECT MIN(to_number), 1 FROM calls WHERE direction = 'inbound' \
         UNION ALL SELECT (SELECT MIN(c.to_number) FROM calls c \
             WHERE c.direction = 'inbound' AND c.to_number > n.num), k + 1 \
         FROM n WHERE n.num IS NOT NULL AND k < $1) \
         SELECT num FROM n WHERE num IS NOT NULL ORDER BY num";

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

/// Joins a day's call counts (`CALLS`) and queue rows (`QUEUE`) per number.
fn call_rolls(calls: &[Row], queue: &[Row]) -> Result<Vec<CallRoll>> {
    let mut rolls = std::collections::BTreeMap::new();
    for r in calls {
        let hotline: String = r.get("hotline")?;
        let tally = CallTally {
            calls: r.get("calls")?,
            self_served: r.get("self_served")?,
            contained: r.get("contained")?,
            called_again: r.get("called_again")?,
            person: r.get("person")?,
            callback_offered: r.get("offered")?,
            callback_taken: r.get("taken")?,
        };
        let roll = CallRoll {
            hotline: hotline.clone(),
            tally,
            queued: 0,
            abandoned: 0,
            waits_ms: Vec::new(),
        };
        rolls.insert(hotline, roll);
    }
    // Rows come in order of wait, so each number's waits stay ascending.
    for r in queue {
        let hotline: String = r.get("hotline")?;
        let abandoned: i32 = r.get("abandoned")?;
        let wait: Option<i64> = r.get("wait")?;
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
    Ok(rolls.into_values().collect())
}

fn due_roll(r: &Row) -> Result<DueRoll> {
    Ok(DueRoll {
        line_kind: r.get("line_kind")?,
        tally: DueTally {
            kind: r.get("kind")?,
            customer_class: r.get("customer_class")?,
            due: r.get("due")?,
            met: r.get("met")?,
            breached: r.get("breached")?,
            pending: r.get("pending")?,
            cancelled: r.get("cancelled")?,
        },
    })
}

/// Groups `RESOLVED` rows (ascending by `took`) per ticket group.
fn resolved_rolls(rows: &[Row]) -> Result<Vec<ResolvedRoll>> {
    let mut groups: std::collections::BTreeMap<_, Vec<i64>> = std::collections::BTreeMap::new();
    for r in rows {
        let group: (String, Option<String>, Option<String>) = (
            r.get("kind")?,
            r.get("customer_class")?,
            r.get("line_kind")?,
        );
        groups.entry(group).or_default().push(r.get("took")?);
    }
    Ok(groups
        .into_iter()
        .map(
            |((kind, customer_class, line_kind), times_ms)| ResolvedRoll {
                kind,
                customer_class,
                line_kind,
                times_ms,
            },
        )
        .collect())
}

/// The dimensions a callback statement selects first (`named_dims!()`).
fn dims_of(r: &Row) -> Result<CallbackDims> {
    Ok(CallbackDims {
        campaign_id: r.get("campaign_id")?,
        purpose: r.get("purpose")?,
        hotline: r.get("hotline")?,
        ticket_kind: r.get("ticket_kind")?,
        line_kind: r.get("line_kind")?,
        customer_class: r.get("customer_class")?,
    })
}

/// A 0-or-1 column (a `CASE` over a condition).
fn flag(r: &Row, column: &str) -> Result<bool> {
    Ok(r.get::<i32>(column)? != 0)
}

#[async_trait::async_trait]
impl<B: Backend> RollupStore for B {
    async fn roll_calls(&self, from: i64, to: i64, repeat_ms: i64) -> Result<Vec<CallRoll>> {
        let mut conn = self.read().await?;
        let calls = query(sql::CALLS)
            .bind(from)
            .bind(to)
            .bind(repeat_ms)
            .fetch_all(&mut conn)
            .await?;
        let queue = (query(sql::QUEUE).bind(from).bind(to))
            .fetch_all(&mut conn)
            .await?;
        call_rolls(&calls, &queue)
    }

    async fn roll_due(&self, from: i64, to: i64, now: i64) -> Result<Vec<DueRoll>> {
        query(sql::DUE)
            .bind(from)
            .bind(to)
            .bind(now)
            .fetch_all_as(&mut self.read().await?, due_roll)
            .await
    }

    async fn roll_resolved(&self, from: i64, to: i64) -> Result<Vec<ResolvedRoll>> {
        let rows = (query(sql::RESOLVED).bind(from).bind(to))
            .fetch_all(&mut self.read().await?)
            .await?;
        resolved_rolls(&rows)
    }

    async fn roll_answers(&self, from: i64, to: i64) -> Result<Vec<AnswerRoll>> {
        let read = |r: &Row| {
            Ok(AnswerRoll {
                dims: dims_of(r)?,
                question: r.get("question")?,
                answer: r.get("answer")?,
                callbacks: r.get("callbacks")?,
                scored: r.get("scored")?,
                score_sum: r.get("score_sum")?,
            })
        };
        (query(sql::ANSWERS).bind(from).bind(to))
            .fetch_all_as(&mut self.read().await?, read)
            .await
    }

    async fn roll_sample(&self, from: i64, to: i64) -> Result<Vec<SampleRoll>> {
        let read = |r: &Row| {
            Ok(SampleRoll {
                dims: dims_of(r)?,
                sampled: r.get("sampled")?,
                reached: r.get("reached")?,
                answered: r.get("answered")?,
            })
        };
        (query(sql::SAMPLE).bind(from).bind(to))
            .fetch_all_as(&mut self.read().await?, read)
            .await
    }

    async fn roll_attempts(&self, from: i64, to: i64) -> Result<Vec<AttemptFact>> {
        let read = |r: &Row| {
            Ok(AttemptFact {
                dims: dims_of(r)?,
                attempt_no: r.get("attempt_no")?,
                at: r.get("requested_at")?,
                timezone: r.get("timezone")?,
                person: flag(r, "person")?,
                machine: flag(r, "machine")?,
                responded: flag(r, "responded")?,
                first: flag(r, "first_attempt")?,
                reached: flag(r, "reached")?,
                since_resolved_ms: r.get("since_resolved_ms")?,
            })
        };
        (query(sql::ATTEMPTS).bind(from).bind(to))
            .fetch_all_as(&mut self.read().await?, read)
            .await
    }

    async fn hotline_numbers(&self, limit: i64) -> Result<Vec<String>> {
        (query(sql::HOTLINES).bind(limit))
            .fetch_all_as(&mut self.read().await?, |r| r.get("num"))
            .await
    }

    async fn earliest_outcome(&self) -> Result<Option<i64>> {
        query(sql::EARLIEST).scalar(&mut self.read().await?).await
    }

    async fn oldest_unfinished_callback(&self) -> Result<Option<i64>> {
        (query(sql::OLDEST_UNFINISHED))
            .scalar(&mut self.read().await?)
            .await
    }

    async fn rollup_mark(&self, family: &str) -> Result<Option<RollupMark>> {
        let read = |r: &Row| {
            Ok(RollupMark {
                tz: r.get("tz")?,
                start: r.get("start_at")?,
                through: r.get("through")?,
            })
        };
        (query(sql::MARK).bind(family))
            .fetch_optional_as(&mut self.read().await?, read)
            .await
    }

    async fn rolled_days(&self, family: &str, from: i64, to: i64) -> Result<Vec<(i64, String)>> {
        query(sql::ROLLED)
            .bind(family)
            .bind(from)
            .bind(to)
            .fetch_all_as(&mut self.read().await?, |r| {
                Ok((r.get("day_start")?, r.get("body")?))
            })
            .await
    }

    async fn save_rollup(
        &self,
        family: &str,
        mark: &RollupMark,
        days: &[(i64, String)],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        for (day, rows) in days {
            query(sql::INSERT_DAY)
                .bind(family)
                .bind(*day)
                .bind(rows)
                .execute(&mut tx)
                .await?;
        }
        query(sql::SET_MARK)
            .bind(family)
            .bind(&mark.tz)
            .bind(mark.start)
            .bind(mark.through)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn clear_rollup(&self, family: &str) -> Result<()> {
        let mut tx = self.write().await?;
        for q in [sql::CLEAR_FAMILY, sql::CLEAR_MARK] {
            query(q).bind(family).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
