//! Calls as stored, and their status reports, for both backends (see `crate::calls`).
//!
//! Rules: one SQL text for SQLite and PostgreSQL, functions written once over `db::Backend`.
//! A call's status only moves forward (`status_advances`): reports arrive late and twice, a
//! final status is never replaced and a duplicate report is stored once. Step batches are
//! written by each backend's own writer (`batch` plans them); the direct SQLite writer runs
//! these same statements.

use super::db::{AsConn, Backend, Dialect, fields, query};
use super::{Result, StatusEvent};
use crate::calls::{CallRecord, CallStep};

pub(super) mod sql {
    /// `$1` sid, `$2..$4` direction, from, to, `$5` status, `$6` started (and updated) at,
    /// `$7` ended at, `$8` duration. Does nothing for a call that exists.
    pub const INSERT_CALL: &str = "INSERT INTO calls (call_sid, direction, from_number, \
         to_number, status, started_at, ended_at, duration_secs, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6) ON CONFLICT (call_sid) DO NOTHING";
    /// Followed by the dialect's `lock_rows`: the row lock orders concurrent reports for the
    /// call until commit.
    pub const CALL_STATUS: &str = "SELECT status FROM calls WHERE call_sid = $1";
    pub const CALL: &str = "SELECT call_sid, direction, from_number, to_number, account_id, \
         locale, status, started_at, ended_at, duration_secs FROM calls WHERE call_sid = $1";
    pub const STEP_RESPONSE: &str = "SELECT s.response FROM call_steps s \
         JOIN calls c ON c.id = s.call_id WHERE c.call_sid = $1 AND s.seq = $2";
    pub const STEPS_OF_CALL: &str = "SELECT s.seq, s.node, s.input, s.said, s.at \
         FROM call_steps s JOIN calls c ON c.id = s.call_id WHERE c.call_sid = $1 ORDER BY s.seq";

    /// Stored once per `(call, status, sequence)`: retries hit the unique index. The call
    /// must exist (the status report creates it first).
    pub const INSERT_EVENT: &str = "INSERT INTO call_events (call_id, status, sequence, at) \
         SELECT id, $2, $3, $4 FROM calls WHERE call_sid = $1 ON CONFLICT DO NOTHING";
    /// A status report's update of its call, without its `WHERE`: `$2` the status, `$3` the
    /// report time, `$4` whether it is final, `$5` the duration if given.
    macro_rules! set_status {
        () => {
            "UPDATE calls SET status = $2, \
             updated_at = CASE WHEN updated_at > $3 THEN updated_at ELSE $3 END, \
             ended_at = CASE WHEN $4 THEN $3 ELSE ended_at END, \
             duration_secs = CASE WHEN $4 THEN COALESCE($5, duration_secs) ELSE duration_secs END"
        };
    }
    pub(in crate::store) use set_status;
    pub const UPDATE_STATUS: &str = concat!(set_status!(), " WHERE call_sid = $1");
}

/// The status of a call created by its first step.
pub(super) const STARTED_STATUS: &str = "in-progress";

/// Statuses after which a call is over; none of them is ever replaced.
const FINAL_STATUSES: [&str; 5] = ["completed", "busy", "no-answer", "failed", "canceled"];

/// Known stages before the end, in order; a status not listed is stage 0.
const STAGES: [(&str, u8); 4] = [
    ("queued", 1),
    ("initiated", 2),
    ("ringing", 3),
    ("in-progress", 4),
];

fn stage(status: &str) -> u8 {
    (STAGES.iter())
        .find(|(s, _)| *s == status)
        .map_or(0, |(_, n)| *n)
}

/// Whether a status report may replace the stored status of a call: a final status is never
/// replaced (so of two final reports the first stays), and a known earlier stage (`ringing`)
/// does not replace a later one (`in-progress`, which the first step sets).
pub(super) fn status_advances(current: &str, new_status: &str, new_is_final: bool) -> bool {
    if FINAL_STATUSES.contains(&current) {
        return false;
    }
    new_is_final || stage(new_status) >= stage(current)
}

/// `status_advances` as an SQL condition over the given column expressions, for a statement
/// that moves many calls at once.
pub(super) fn status_advances_sql(current: &str, new_status: &str, new_is_final: &str) -> String {
    let stage = |of: &str| {
        let whens: String = (STAGES.iter())
            .map(|(s, n)| format!(" WHEN '{s}' THEN {n}"))
            .collect();
        format!("(CASE {of}{whens} ELSE 0 END)")
    };
    // Not `NOT IN (…)`: SQLite builds a temporary index of such a list each time the
    // statement runs, which cost the direct writer's status update more than the update.
    let not_final: String = (FINAL_STATUSES.iter())
        .map(|s| format!("{current} <> '{s}' AND "))
        .collect();
    format!(
        "({not_final}({new_is_final} OR {} >= {}))",
        stage(new_status),
        stage(current)
    )
}

pub(super) async fn step_response<B: Backend>(
    b: &B,
    call_sid: &str,
    seq: i32,
) -> Result<Option<String>> {
    query(sql::STEP_RESPONSE)
        .bind(call_sid)
        .bind(seq)
        .scalar_optional(&mut b.read().await?)
        .await
}

/// The call with its steps in order.
pub(super) async fn call<B: Backend>(b: &B, call_sid: &str) -> Result<Option<CallRecord>> {
    let mut conn = b.read().await?;
    let Some(r) = query(sql::CALL)
        .bind(call_sid)
        .fetch_optional(&mut conn)
        .await?
    else {
        return Ok(None);
    };
    let steps = query(sql::STEPS_OF_CALL)
        .bind(call_sid)
        .fetch_all_as(&mut conn, |r| {
            Ok(fields!(
                r,
                CallStep {
                    seq,
                    node,
                    input,
                    said,
                    at
                }
            ))
        })
        .await?;
    Ok(Some(fields!(
        r,
        CallRecord {
            call_sid,
            direction,
            from_number,
            to_number,
            account_id,
            locale,
            status,
            started_at,
            ended_at,
            duration_secs;
            steps: steps,
        }
    )))
}

/// Records one status report inside a batch's transaction.
pub(super) async fn apply_status(
    on: &mut impl AsConn,
    dialect: &Dialect,
    ev: &StatusEvent,
) -> Result<()> {
    let (ended_at, duration) = if ev.is_final {
        (Some(ev.at), ev.duration_secs)
    } else {
        (None, None)
    };
    query(sql::INSERT_CALL)
        .bind(&ev.call_sid)
        .bind(&ev.new_call.direction)
        .bind(&ev.new_call.from_number)
        .bind(&ev.new_call.to_number)
        .bind(&ev.status)
        .bind(ev.at)
        .bind(ended_at)
        .bind(duration)
        .execute(on)
        .await?;
    query(sql::INSERT_EVENT)
        .bind(&ev.call_sid)
        .bind(&ev.status)
        .bind(ev.sequence)
        .bind(ev.at)
        .execute(on)
        .await?;
    let current: String = query(sql::CALL_STATUS)
        .append(dialect.lock_rows)
        .bind(&ev.call_sid)
        .scalar(on)
        .await?;
    if status_advances(&current, &ev.status, ev.is_final) {
        query(sql::UPDATE_STATUS)
            .bind(&ev.call_sid)
            .bind(&ev.status)
            .bind(ev.at)
            .bind(ev.is_final)
            .bind(ev.duration_secs)
            .execute(on)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{FINAL_STATUSES, STAGES, status_advances, status_advances_sql};

    #[test]
    fn statuses_only_move_forward() {
        assert!(status_advances("ringing", "in-progress", false));
        assert!(!status_advances("in-progress", "ringing", false));
        assert!(status_advances("in-progress", "completed", true));
        assert!(!status_advances("completed", "ringing", false));
        assert!(!status_advances("completed", "failed", true));
        assert!(status_advances("ringing", "something-new", true));
    }

    /// The batch writers judge in SQL what `status_advances` judges in Rust: the same answer
    /// for every pair of statuses, known or not, final or not.
    #[test]
    fn the_sql_rule_is_the_rule() {
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        let sql = format!("SELECT {}", status_advances_sql("$1", "$2", "$3"));
        let mut stmt = db.prepare(&sql).expect("prepare");
        // Every status the rule knows, and one it does not.
        let statuses: Vec<&str> = (STAGES.iter().map(|(s, _)| *s))
            .chain(FINAL_STATUSES)
            .chain(["something-new"])
            .collect();
        for &current in &statuses {
            for &new in &statuses {
                for fin in [false, true] {
                    let in_sql: bool = stmt
                        .query_row(
                            rusqlite::named_params! {"$1": current, "$2": new, "$3": fin},
                            |r| r.get(0),
                        )
                        .expect("evaluate");
                    assert_eq!(
                        in_sql,
                        status_advances(current, new, fin),
                        "{current} -> {new} (final: {fin})"
                    );
                }
            }
        }
    }
}
