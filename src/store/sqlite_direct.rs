//! SQLite's hot path without sqlx's thread per connection: every sqlx statement on SQLite is
//! handed to that connection's own thread and its rows handed back, and on a loaded core
//! those hand-offs (futex wake-ups and context switches) cost far more than the statements.
//! Here account and bill lookups run on the caller's thread, and step batches on one writer
//! thread of our own: one hand-off per batch instead of several per statement.
//!
//! Rules:
//! - Parameters `$N` are bound by their number, as sqlx binds them, so the lookups and the
//!   effects share their statement text with the sqlx path. Step batches are planned and
//!   their effects gathered by the same code (`rows`), then written row by row.
//! - Only point lookups through an index run inline: on a cached database they take
//!   microseconds, and WAL readers never wait for a writer. Writes can wait for SQLite's
//!   write lock (sqlx's writer holds it for everything else), so they never run on an async
//!   worker.
//! - A batch is one `BEGIN IMMEDIATE` transaction, like the sqlx path's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, ToSql, TransactionBehavior};
use tokio::sync::oneshot;

use super::calls::{self, sql};
use super::customers::{self, By, account_fields, bill_fields};
use super::{Result, SqliteSynchronous, StatusEvent, StepOutcome, StepWrite, StoreError, batch};
use crate::billing::Bill;
use crate::calls::step::Milestone;
use crate::customers::Account;

/// Idle read connections kept for reuse.
const KEEP_READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

enum Job {
    Commit {
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
        reply: oneshot::Sender<Result<Vec<StepOutcome>>>,
    },
    /// The writer connection's `PRAGMA synchronous`, for tests.
    #[cfg(test)]
    Synchronous(oneshot::Sender<Result<i64>>),
}

pub(super) struct Direct {
    path: PathBuf,
    synchronous: SqliteSynchronous,
    readers: Mutex<Vec<Connection>>,
    /// The writer thread stops when this is dropped.
    writer: mpsc::Sender<Job>,
    /// Set when the write-ahead log should be restarted after the next batch.
    restart: Arc<AtomicBool>,
}

fn open(path: &Path, synchronous: SqliteSynchronous) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
        synchronous.pragma()
    ))?;
    Ok(conn)
}

impl Direct {
    /// Opens the writer on the database at `path`, which must exist and be in WAL mode.
    pub fn open(path: &Path, synchronous: SqliteSynchronous) -> Result<Self> {
        let mut conn = open(path, synchronous)?;
        // Checkpoints run beside the writer (see `sqlite::checkpoint_regularly`).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let (tx, rx) = mpsc::channel::<Job>();
        let restart = Arc::new(AtomicBool::new(false));
        let wanted = restart.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                for job in rx {
                    let (steps, statuses, reply) = match job {
                        Job::Commit {
                            steps,
                            statuses,
                            reply,
                        } => (steps, statuses, reply),
                        #[cfg(test)]
                        Job::Synchronous(reply) => {
                            let value = conn.query_row("PRAGMA synchronous", [], |r| r.get(0));
                            let _ = reply.send(value.map_err(StoreError::from));
                            continue;
                        }
                    };
                    let result = commit(&mut conn, &steps, &statuses);
                    let _ = reply.send(result);
                    if wanted.swap(false, Ordering::Relaxed) {
                        // Waits (through the busy timeout) only for readers, which are short.
                        let done: rusqlite::Result<(i64, i64, i64)> =
                            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                            });
                        if let Err(e) = done {
                            tracing::warn!(error = %e, "restarting the SQLite log failed; will retry");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Direct {
            path: path.to_path_buf(),
            synchronous,
            readers: Mutex::new(Vec::new()),
            writer: tx,
            restart,
        })
    }

    /// The flag that asks the writer to restart the write-ahead log after its next batch.
    pub fn restart_wanted(&self) -> Arc<AtomicBool> {
        self.restart.clone()
    }

    /// Records a batch on the writer thread (see `CallStore::commit`).
    pub async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Commit {
            steps,
            statuses,
            reply,
        };
        self.writer.send(job).map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// The writer connection's `PRAGMA synchronous` (0 off, 1 normal, 2 full, 3 extra).
    #[cfg(test)]
    pub async fn writer_synchronous(&self) -> Result<i64> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Synchronous(reply))
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// A read connection's `PRAGMA synchronous`.
    #[cfg(test)]
    pub fn reader_synchronous(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
    }

    pub fn account(&self, by: By<'_>) -> Result<Option<Account>> {
        let key: &dyn ToSql = match &by {
            By::Id(id) => id,
            By::No(key) | By::Line(key) => key,
        };
        let lookups = &customers::SQLITE;
        let row = self.read(|c| {
            first(c, by.sql(lookups), &[key], |r| {
                let r = Named::new(r);
                Ok((account_fields!(r), r.get::<String>("lines")?))
            })
        })?;
        row.map(|(a, lines)| customers::account_with_json_lines(a, &lines))
            .transpose()
    }

    pub fn bill(&self, account_id: i64) -> Result<Option<Bill>> {
        let sql = customers::SQLITE.bill;
        let row = self.read(|c| {
            first(c, sql, &[&account_id], |r| {
                let r = Named::new(r);
                Ok(bill_fields!(r))
            })
        })?;
        row.map(customers::bill_from).transpose()
    }

    pub fn account_with_bill(&self, account_id: i64) -> Result<Option<(Account, Option<Bill>)>> {
        let sql = customers::SQLITE.account_with_bill;
        let row = self.read(|c| {
            first(c, sql, &[&account_id], |r| {
                let r = Named::new(r);
                let account = (account_fields!(r), r.get::<String>("lines")?);
                let bill = match r.get::<Option<String>>("currency")? {
                    Some(_) => Some(bill_fields!(r)),
                    None => None,
                };
                Ok((account, bill))
            })
        })?;
        let Some(((account, lines), bill)) = row else {
            return Ok(None);
        };
        let account = customers::account_with_json_lines(account, &lines)?;
        Ok(Some((account, bill.map(customers::bill_from).transpose()?)))
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = open(&self.path, self.synchronous)?;
                c.execute_batch("PRAGMA query_only = ON;")?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < KEEP_READERS {
            idle.push(conn);
        }
        out
    }
}

/// The idle connections stay valid whatever a panicking holder was doing, so a poisoned lock
/// is used as is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A statement from the connection's cache, with its parameters' order: the `$N` of each,
/// asked of SQLite once. Held for a whole batch, one statement serves all its rows; the cache
/// finds a statement by hashing its whole text, which costs more than a row's insert.
struct Held<'c> {
    stmt: rusqlite::CachedStatement<'c>,
    /// For each parameter in order, the index in `args` of its value (`$N` is `args[N - 1]`).
    order: Vec<usize>,
}

impl<'c> Held<'c> {
    fn new(conn: &'c Connection, sql: &str) -> Result<Self> {
        let stmt = conn.prepare_cached(sql)?;
        let order = (1..=stmt.parameter_count())
            .map(|i| {
                stmt.parameter_name(i)
                    .and_then(|n| n.strip_prefix('$')?.parse::<usize>().ok()?.checked_sub(1))
                    .ok_or_else(|| StoreError::Corrupt(format!("parameter {i} unnamed in: {sql}")))
            })
            .collect::<Result<_>>()?;
        Ok(Held { stmt, order })
    }

    fn bind(&mut self, args: &[&dyn ToSql]) -> Result<()> {
        for (i, &n) in self.order.iter().enumerate() {
            let arg = args
                .get(n)
                .ok_or_else(|| StoreError::Corrupt(format!("parameter ${} unbound", n + 1)))?;
            self.stmt.raw_bind_parameter(i + 1, arg)?;
        }
        Ok(())
    }

    /// Runs the statement; the rows it changed.
    fn execute(&mut self, args: &[&dyn ToSql]) -> Result<usize> {
        self.bind(args)?;
        Ok(self.stmt.raw_execute()?)
    }

    /// The statement's first row, read by `f`.
    fn first<T>(
        &mut self,
        args: &[&dyn ToSql],
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        self.bind(args)?;
        let mut rows = self.stmt.raw_query();
        Ok(rows.next()?.map(f).transpose()?)
    }
}

fn first<T>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    Held::new(conn, sql)?.first(args, f)
}

/// A row read by column name, with the names asked of SQLite once: rusqlite's own lookup
/// asks for every column's name (and checks it as UTF-8) at each `get`, which made reading
/// an account with its bill cost more than running its statement.
struct Named<'r, 's> {
    row: &'r Row<'s>,
    names: Vec<&'r str>,
}

impl<'r, 's> Named<'r, 's> {
    fn new(row: &'r Row<'s>) -> Self {
        let names = row.as_ref().column_names();
        Named { row, names }
    }

    fn get<T: rusqlite::types::FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        let i = (self.names.iter())
            .position(|n| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_string()))?;
        self.row.get(i)
    }
}

/// Per-row statements of the batch write: in-process, a prepared statement per row costs
/// less than building and parsing the JSON that the sqlx path's set-based statements take.
const CALL_ID: &str = "SELECT id FROM calls WHERE call_sid = $1";
const INSERT_STEP: &str = "INSERT INTO call_steps \
     (call_id, seq, node, input, said, response, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (call_id, seq) DO NOTHING";
const STORED_RESPONSE: &str = "SELECT response FROM call_steps WHERE call_id = $1 AND seq = $2";
/// A call's effects (`$1` its id) with the milestones its steps reached (`$5..$7`:
/// self-served, a person, a callback offered), each kept at its earliest: one statement per
/// call.
const UPDATE_CALL: &str = "UPDATE calls SET account_id = COALESCE($2, account_id), \
     locale = COALESCE($3, locale), updated_at = MAX(updated_at, $4), \
     self_served_at = COALESCE(MIN(self_served_at, $5), self_served_at, $5), \
     person_at = COALESCE(MIN(person_at, $6), person_at, $6), \
     callback_offered_at = COALESCE(MIN(callback_offered_at, $7), callback_offered_at, $7) \
     WHERE id = $1";

/// The statements of a batch, each held for the whole batch.
struct Writes<'c> {
    conn: &'c Connection,
    call_id: Held<'c>,
    insert_call: Held<'c>,
    insert_step: Held<'c>,
    stored_response: Held<'c>,
    update_call: Held<'c>,
    insert_event: Held<'c>,
    advance_status: Held<'c>,
}

impl<'c> Writes<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        Ok(Writes {
            conn,
            call_id: Held::new(conn, CALL_ID)?,
            insert_call: Held::new(conn, sql::INSERT_CALL)?,
            insert_step: Held::new(conn, INSERT_STEP)?,
            stored_response: Held::new(conn, STORED_RESPONSE)?,
            update_call: Held::new(conn, UPDATE_CALL)?,
            insert_event: Held::new(conn, INSERT_EVENT)?,
            advance_status: Held::new(conn, &ADVANCE_STATUS)?,
        })
    }

    /// Creates call `sid` (`calls::sql::INSERT_CALL`'s `$2..$8` after it); its id.
    fn create_call(&mut self, sid: &str, rest: [&dyn ToSql; 7]) -> Result<i64> {
        let [direction, from, to, status, at, ended_at, duration] = rest;
        let args = [
            &sid as &dyn ToSql,
            direction,
            from,
            to,
            status,
            at,
            ended_at,
            duration,
        ];
        // The batch holds the write lock, so a call found absent before is created here.
        if self.insert_call.execute(&args)? != 1 {
            return Err(StoreError::Corrupt(format!(
                "call {sid} appeared while written"
            )));
        }
        Ok(self.conn.last_insert_rowid())
    }
}

/// The batch write of `CallStore::commit`, with the sqlx path's plan and effects.
fn commit<'a>(
    conn: &mut Connection,
    steps: &'a [StepWrite],
    statuses: &'a [StatusEvent],
) -> Result<Vec<StepOutcome>> {
    if steps.is_empty() && statuses.is_empty() {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = write_batch(&tx, steps, statuses)?;
    tx.commit()?;
    Ok(outcomes)
}

/// `commit`'s statements, inside its transaction.
fn write_batch<'a>(
    tx: &Connection,
    steps: &'a [StepWrite],
    statuses: &'a [StatusEvent],
) -> Result<Vec<StepOutcome>> {
    let mut w = Writes::new(tx)?;
    // The batch's calls by id, found or created under the write lock: every later statement
    // finds its call by id, not by a walk of the random `call_sid` index.
    let mut ids: HashMap<&'a str, i64> = HashMap::new();
    for sid in batch::call_sids(steps) {
        if let Some(id) = w.call_id.first(&[&sid], |r| r.get(0))? {
            ids.insert(sid, id);
        }
    }
    let existing: HashSet<String> = ids.keys().map(|sid| sid.to_string()).collect();
    let plan = batch::StepPlan::new(steps, &existing);

    for (sid, c, at) in (plan.new_calls.iter()).filter_map(|&i| batch::new_call(steps, i)) {
        let none: Option<i64> = None;
        let id = w.create_call(
            sid,
            [
                &c.direction,
                &c.from_number,
                &c.to_number,
                &calls::STARTED_STATUS,
                &at,
                &none,
                &none,
            ],
        )?;
        ids.insert(sid, id);
    }

    let mut inserted = Vec::with_capacity(plan.inserts.len());
    let mut stored = HashMap::new();
    for s in plan.inserts.iter().filter_map(|&i| steps.get(i)) {
        let call_id = ids.get(s.call_sid.as_str()).ok_or_else(|| {
            StoreError::Corrupt(format!("step of call {} without its call", s.call_sid))
        })?;
        let args: [&dyn ToSql; 7] = [
            call_id,
            &s.seq,
            &s.node,
            &s.input,
            &s.said,
            &s.response,
            &s.at,
        ];
        let new = w.insert_step.execute(&args)? == 1;
        if !new {
            let response: Option<String> =
                w.stored_response.first(&[call_id, &s.seq], |r| r.get(0))?;
            if let Some(r) = response {
                stored.insert((s.call_sid.clone(), s.seq), r);
            }
        }
        inserted.push(new);
    }

    let (outcomes, recorded) = plan.finish(steps, &inserted, &stored)?;
    let effects = batch::effects(steps, &recorded);
    if !effects.surveys.is_empty() {
        // `CallStore::commit` sends such batches down the sqlx path; reaching here is a bug, and
        // dropping `tx` rolls the batch back rather than lose the effects.
        return Err(StoreError::Corrupt(
            "survey effects reached the direct SQLite writer".into(),
        ));
    }
    // Every milestone's call is among the calls: `batch::effects` lists each recorded step's.
    for c in &effects.calls {
        let at = |m| batch::reached(&effects.milestones, c.call_sid, m);
        let id = ids.get(c.call_sid).ok_or_else(|| {
            StoreError::Corrupt(format!("effects of call {} without its call", c.call_sid))
        })?;
        w.update_call.execute(&[
            id,
            &c.account_id,
            &c.locale,
            &c.at,
            &at(Milestone::SelfServed),
            &at(Milestone::Person),
            &at(Milestone::CallbackOffered),
        ])?;
    }
    for ev in statuses {
        apply_status(&mut w, &mut ids, ev)?;
    }
    Ok(outcomes)
}

/// `calls::sql::UPDATE_STATUS` of the call with id `$1`, only where the report moves it
/// forward (`$2` the status, `$4` whether it is final), judged in the statement by the rule
/// `calls::status_advances` states: one statement, where reading the status first took two.
static ADVANCE_STATUS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} WHERE id = $1 AND {}",
        sql::set_status!(),
        calls::status_advances_sql("status", "$2", "$4")
    )
});
/// `calls::sql::INSERT_EVENT` of the call with id `$1`.
const INSERT_EVENT: &str = "INSERT INTO call_events (call_id, status, sequence, at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// See `calls::apply_status`; `ids` holds the batch's calls found or created so far.
fn apply_status<'a>(
    w: &mut Writes<'_>,
    ids: &mut HashMap<&'a str, i64>,
    ev: &'a StatusEvent,
) -> Result<()> {
    let known = match ids.get(ev.call_sid.as_str()) {
        Some(&id) => Some(id),
        None => w.call_id.first(&[&ev.call_sid], |r| r.get(0))?,
    };
    let id = match known {
        Some(id) => id,
        // A report for a call never seen starting creates it, with the report's status.
        None => {
            let (ended_at, duration) = if ev.is_final {
                (Some(ev.at), ev.duration_secs)
            } else {
                (None, None)
            };
            let c = &ev.new_call;
            w.create_call(
                &ev.call_sid,
                [
                    &c.direction,
                    &c.from_number,
                    &c.to_number,
                    &ev.status,
                    &ev.at,
                    &ended_at,
                    &duration,
                ],
            )?
        }
    };
    ids.insert(&ev.call_sid, id);
    w.insert_event
        .execute(&[&id, &ev.status, &ev.sequence, &ev.at])?;
    if known.is_some() {
        w.advance_status
            .execute(&[&id, &ev.status, &ev.at, &ev.is_final, &ev.duration_secs])?;
    }
    Ok(())
}
