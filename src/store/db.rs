//! The query layer: the store's functions are written once, as plain async functions over
//! `Backend`, and run on SQLite or PostgreSQL.
//!
//! Rules: a statement is one text for both backends (`$n` placeholders work on both); what
//! differs between them is named once, in `Dialect` (a clause appended to a statement, or the
//! few statements whose JSON aggregates differ), so every statement is made of static text
//! (and, for a list of values, `$n` placeholders: `Query::placeholders`, `Query::tuples`). Values are bound as `Value`, which keeps
//! a null's type (PostgreSQL types every parameter, and `CAST($1 AS TEXT) IS NULL` filters
//! rely on it). Rows are read by column name: a statement names (or aliases) every column it
//! returns; `scalar` reads a statement's only column and refuses a row with more.

use std::borrow::Cow;
use std::future::Future;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Database, Decode, Encode, Row as _, Type};

use super::{Result, StoreError};

/// What differs between the backends' SQL, named once.
pub struct Dialect {
    /// Appended to a `SELECT` of rows the transaction goes on to change: PostgreSQL locks
    /// them; SQLite needs nothing, its write transactions hold the whole database.
    pub lock_rows: &'static str,
    /// As `lock_rows`, passing over rows another transaction holds (the next of a queue).
    pub skip_locked: &'static str,
    /// Appended to the select of the callbacks a claim takes (aliased `d`, joined to their
    /// campaigns): PostgreSQL locks the callbacks only, passing over those another claim
    /// holds, so several instances never claim the same one.
    pub claim_due: &'static str,
    /// The one-round-trip account and bill lookups, which aggregate rows as JSON.
    pub lookups: &'static super::customers::Lookups,
}

pub const SQLITE: Dialect = Dialect {
    lock_rows: "",
    skip_locked: "",
    claim_due: "",
    lookups: &super::customers::SQLITE,
};

pub const POSTGRES: Dialect = Dialect {
    lock_rows: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    claim_due: " FOR UPDATE OF d SKIP LOCKED",
    lookups: &super::customers::POSTGRES,
};

/// A backend the shared functions run on: a connection for reads, a transaction for writes.
pub trait Backend: Send + Sync + 'static {
    const DIALECT: &'static Dialect;
    /// A connection from the readers' pool.
    fn read(&self) -> impl Future<Output = Result<Pooled>> + Send;
    /// A write transaction, begun as the backend begins them (`BEGIN IMMEDIATE` on SQLite).
    fn write(&self) -> impl Future<Output = Result<Tx>> + Send;
}

/// A pooled connection of either backend; back to its pool when dropped (on PostgreSQL, only
/// if its last statement was answered: see `pg_kept`).
pub enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Pg(super::pg_kept::Kept),
}

/// A write transaction of either backend; rolled back when dropped uncommitted (on
/// PostgreSQL by closing its connection: see `pg_kept`).
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Pg(super::pg_kept::Kept),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Pg(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// A borrowed connection, what a statement runs on.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

/// Anything a statement can run on: `Pooled`, `Tx`, and the backends' own connections and
/// transactions, so that code still written per backend can call the shared functions
/// inside its transactions.
pub trait AsConn: Send {
    fn conn(&mut self) -> Conn<'_>;

    /// Told how the statement run on `conn` ended (see `pg_kept::answered`).
    fn settle(&mut self, _answered: bool) {}
}

impl AsConn for Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Pg(c) => Conn::Pg(c.conn()),
        }
    }

    fn settle(&mut self, answered: bool) {
        if let Pooled::Pg(c) = self {
            c.settle(answered);
        }
    }
}

impl AsConn for Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Pg(tx) => Conn::Pg(tx.conn()),
        }
    }
}

impl AsConn for SqliteConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

impl AsConn for PgConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Pg(self)
    }
}

impl AsConn for sqlx::Transaction<'_, Sqlite> {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

impl AsConn for sqlx::Transaction<'_, Postgres> {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Pg(self)
    }
}

/// A bound value. Nulls keep their type: PostgreSQL types each parameter by what is bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(Option<i64>),
    Int4(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Text(Option<Cow<'a, str>>),
}

/// The types `Query::bind` takes, one line a type: a table of conversions, which as plain
/// impls would be fourteen copies of the same five lines.
macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl<'a> From<$t> for Value<'a> {
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

value_from!(
    i64 => |v| Value::Int(Some(v)),
    Option<i64> => |v| Value::Int(v),
    i32 => |v| Value::Int4(Some(v)),
    Option<i32> => |v| Value::Int4(v),
    f64 => |v| Value::Float(Some(v)),
    Option<f64> => |v| Value::Float(v),
    bool => |v| Value::Bool(Some(v)),
    Option<bool> => |v| Value::Bool(v),
    &'a str => |v| Value::Text(Some(Cow::Borrowed(v))),
    &'a String => |v| Value::Text(Some(Cow::Borrowed(v))),
    String => |v| Value::Text(Some(Cow::Owned(v))),
    Option<&'a str> => |v| Value::Text(v.map(Cow::Borrowed)),
    &'a Option<String> => |v| Value::Text(v.as_deref().map(Cow::Borrowed)),
    Option<String> => |v| Value::Text(v.map(Cow::Owned)),
);

/// A statement and its binds (`$1` is the first bound).
#[must_use = "a query does nothing until it is run"]
pub struct Query<'a> {
    sql: Cow<'static, str>,
    binds: Vec<Value<'a>>,
}

pub fn query<'a>(sql: &'static str) -> Query<'a> {
    Query {
        sql: Cow::Borrowed(sql),
        binds: Vec::new(),
    }
}

impl<'a> Query<'a> {
    pub fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.binds.push(value.into());
        self
    }

    /// Appends a clause of the dialect (say `B::DIALECT.lock_rows`). Static text only, so
    /// the statement stays free of data.
    pub fn append(mut self, clause: &'static str) -> Self {
        if !clause.is_empty() {
            self.sql = Cow::Owned(format!("{}{clause}", self.sql));
        }
        self
    }

    /// Appends `$first, $first+1, …`, `n` of them, for a list whose length is known only
    /// when the statement runs: placeholders are the only text formatted into a statement, so
    /// the values themselves are always bound.
    pub fn placeholders(mut self, first: usize, n: usize) -> Self {
        let list = (first..first + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.sql = Cow::Owned(format!("{}{list}", self.sql));
        self
    }

    /// Appends `n` rows of `width` placeholders each, numbered from `first`:
    /// `($1, $2), ($3, $4)` for a multi-row `VALUES`.
    pub fn tuples(mut self, first: usize, n: usize, width: usize) -> Self {
        let list = (0..n)
            .map(|r| {
                let row = (0..width).map(|c| format!("${}", first + r * width + c));
                format!("({})", row.collect::<Vec<_>>().join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.sql = Cow::Owned(format!("{}{list}", self.sql));
        self
    }

    /// The sqlx query with every value bound.
    fn sqlx<DB>(self) -> sqlx::query::Query<'static, DB, DB::Arguments>
    where
        DB: Database,
        for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
        for<'e> Option<i32>: Encode<'e, DB> + Type<DB>,
        for<'e> Option<f64>: Encode<'e, DB> + Type<DB>,
        for<'e> Option<bool>: Encode<'e, DB> + Type<DB>,
        for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    {
        // Only `query`, `append` and `placeholders` make `sql`, from static text and `$n`.
        let mut q = sqlx::query(AssertSqlSafe(self.sql));
        for v in &self.binds {
            q = match v {
                Value::Int(v) => q.bind(*v),
                Value::Int4(v) => q.bind(*v),
                Value::Float(v) => q.bind(*v),
                Value::Bool(v) => q.bind(*v),
                Value::Text(v) => q.bind(v.as_deref()),
            };
        }
        q
    }

    pub async fn fetch_all(self, on: &mut impl AsConn) -> Result<Vec<Row>> {
        Ok(match on.conn() {
            Conn::Sqlite(c) => (self.sqlx().fetch_all(c).await?.into_iter())
                .map(Row::Sqlite)
                .collect(),
            Conn::Pg(c) => {
                let rows = self.sqlx().fetch_all(c).await;
                settled(on, rows)?.into_iter().map(Row::Pg).collect()
            }
        })
    }

    pub async fn fetch_optional(self, on: &mut impl AsConn) -> Result<Option<Row>> {
        Ok(match on.conn() {
            Conn::Sqlite(c) => self.sqlx().fetch_optional(c).await?.map(Row::Sqlite),
            Conn::Pg(c) => {
                let row = self.sqlx().fetch_optional(c).await;
                settled(on, row)?.map(Row::Pg)
            }
        })
    }

    pub async fn fetch_one(self, on: &mut impl AsConn) -> Result<Row> {
        Ok(match on.conn() {
            Conn::Sqlite(c) => Row::Sqlite(self.sqlx().fetch_one(c).await?),
            Conn::Pg(c) => {
                let row = self.sqlx().fetch_one(c).await;
                Row::Pg(settled(on, row)?)
            }
        })
    }

    /// Every row, each read with `read`.
    pub async fn fetch_all_as<T>(
        self,
        on: &mut impl AsConn,
        read: impl Fn(&Row) -> Result<T> + Send,
    ) -> Result<Vec<T>> {
        self.fetch_all(on).await?.iter().map(read).collect()
    }

    /// The row, if any, read with `read`.
    pub async fn fetch_optional_as<T>(
        self,
        on: &mut impl AsConn,
        read: impl FnOnce(&Row) -> Result<T> + Send,
    ) -> Result<Option<T>> {
        self.fetch_optional(on)
            .await?
            .as_ref()
            .map(read)
            .transpose()
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(self, on: &mut impl AsConn) -> Result<u64> {
        Ok(match on.conn() {
            Conn::Sqlite(c) => self.sqlx().execute(c).await?.rows_affected(),
            Conn::Pg(c) => {
                let done = self.sqlx().execute(c).await;
                settled(on, done)?.rows_affected()
            }
        })
    }

    /// The only column of the only row.
    pub async fn scalar<T: Column>(self, on: &mut impl AsConn) -> Result<T> {
        self.fetch_one(on).await?.only()
    }

    /// The only column of the row, if there is one.
    pub async fn scalar_optional<T: Column>(self, on: &mut impl AsConn) -> Result<Option<T>> {
        self.fetch_optional(on).await?.map(|r| r.only()).transpose()
    }
}

/// `result`, after telling `on` how its statement ended.
fn settled<T>(on: &mut impl AsConn, result: sqlx::Result<T>) -> Result<T> {
    on.settle(super::pg_kept::answered(&result));
    Ok(result?)
}

/// A type a column can be read as on both backends.
pub trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// Reads the named columns of `row` (a `Row`, or a rusqlite row on the direct SQLite path)
/// into a struct whose fields are named as the columns are; fields that are not columns
/// follow a `;`.
macro_rules! fields {
    ($row:expr, $ty:ident { $($f:ident),* $(,)? $(; $($g:ident: $e:expr),* $(,)?)? }) => {
        $ty { $($f: $row.get(stringify!($f))?,)* $($($g: $e,)*)? }
    };
}
pub(super) use fields;

/// A row of either backend, read by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Pg(PgRow),
}

impl Row {
    pub fn get<T: Column>(&self, column: &str) -> Result<T> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(column)?,
            Row::Pg(r) => r.try_get(column)?,
        })
    }

    /// The row's only column: a scalar statement needs no name for it.
    fn only<T: Column>(&self) -> Result<T> {
        let n = match self {
            Row::Sqlite(r) => r.len(),
            Row::Pg(r) => r.len(),
        };
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "a scalar statement returned {n} columns"
            )));
        }
        Ok(match self {
            Row::Sqlite(r) => r.try_get(0)?,
            Row::Pg(r) => r.try_get(0)?,
        })
    }
}

/// The query layer seen from the conformance suite (`tests/it/store.rs`), which runs on both
/// backends but sees only the public API.
#[cfg(feature = "testing")]
pub mod probe {
    use super::{AsConn, Backend, query};
    use crate::repo::{Result, StoreError};

    /// One value of each kind that can be bound, as read back by column name.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Echo {
        pub int: i64,
        pub int4: i32,
        pub float: f64,
        pub yes: bool,
        pub text: String,
        pub owned: String,
        pub no_int: Option<i64>,
        pub no_int4: Option<i32>,
        pub no_float: Option<f64>,
        pub no_bool: Option<bool>,
        pub no_text: Option<String>,
    }

    async fn echo_on(on: &mut impl AsConn, e: &Echo) -> Result<Echo> {
        let r = query(
            "SELECT $1 AS int, $2 AS int4, $3 AS float, $4 AS yes, $5 AS text, $6 AS owned, \
             $7 AS no_int, $8 AS no_int4, $9 AS no_float, $10 AS no_bool, $11 AS no_text",
        )
        .bind(e.int)
        .bind(e.int4)
        .bind(e.float)
        .bind(e.yes)
        .bind(e.text.as_str())
        .bind(e.owned.clone())
        .bind(e.no_int)
        .bind(e.no_int4)
        .bind(e.no_float)
        .bind(e.no_bool)
        .bind(&e.no_text)
        .fetch_one(on)
        .await?;
        Ok(Echo {
            int: r.get("int")?,
            int4: r.get("int4")?,
            float: r.get("float")?,
            yes: r.get("yes")?,
            text: r.get("text")?,
            owned: r.get("owned")?,
            no_int: r.get("no_int")?,
            no_int4: r.get("no_int4")?,
            no_float: r.get("no_float")?,
            no_bool: r.get("no_bool")?,
            no_text: r.get("no_text")?,
        })
    }

    /// `e` bound and read back on a reader and inside a write transaction; then whether a
    /// scalar statement with two columns is refused as `Corrupt`.
    async fn run(b: &impl Backend, e: &Echo) -> Result<(Echo, Echo, bool)> {
        let read = echo_on(&mut b.read().await?, e).await?;
        let mut tx = b.write().await?;
        let written = echo_on(&mut tx, e).await?;
        let two = query("SELECT 1 AS a, 2 AS b").scalar::<i64>(&mut tx).await;
        tx.commit().await?;
        Ok((read, written, matches!(two, Err(StoreError::Corrupt(_)))))
    }

    /// Opens the store at `url` (migrations are not needed) and runs `run`.
    pub async fn echo(url: &str, e: &Echo) -> Result<(Echo, Echo, bool)> {
        if url.starts_with("sqlite:") {
            let store = super::super::sqlite::SqliteStore::open(url, &Default::default()).await?;
            run(&store, e).await
        } else {
            run(&super::super::postgres::PgStore::open(url, 2).await?, e).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_a_list_from_first() {
        let q = super::query("IN (").placeholders(2, 3).append(") AND n = ");
        let q = q.placeholders(5, 1);
        assert_eq!(q.sql, "IN ($2, $3, $4) AND n = $5");
        assert_eq!(super::query("IN (").placeholders(2, 0).sql, "IN (");
        let q = super::query("VALUES ").tuples(1, 2, 3);
        assert_eq!(q.sql, "VALUES ($1, $2, $3), ($4, $5, $6)");
    }
}
