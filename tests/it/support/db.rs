//! Fresh databases for tests: a SQLite file in a temporary directory, or a new database on
//! the PostgreSQL server named by `HOTLINE_TEST_PG_URL`.
//!
//! Rules: PostgreSQL tests are skipped, loudly, when the server is unreachable, unless
//! `HOTLINE_REQUIRE_PG` is set (CI sets it), in which case they fail. Test databases are
//! named `hotline_t_<random hex>` and are not dropped: a test may fail before it could,
//! and dropping other runs' databases would race tests running in parallel.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use super::app::Backend;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh database on `backend`: its URL and, on SQLite, the directory to keep alive while it
/// is used; `None` when PostgreSQL is unavailable (and not required).
pub async fn fresh(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let (url, dir) = sqlite_url().await;
            Some((url, Some(dir)))
        }
        Backend::Postgres => Some((pg_url().await?, None)),
    }
}

/// A fresh `sqlite://<tmp>/hotline.db` URL; the file does not exist yet. Keep the directory
/// alive for as long as the database is used.
pub async fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}/hotline.db", dir.path().display());
    (url, dir)
}

/// The URL of a new, empty database on the test server, or `None` (after a warning) when
/// the server is unreachable and `HOTLINE_REQUIRE_PG` is not set.
pub async fn pg_url() -> Option<String> {
    let server = server_url();
    let shown = hotline::config::redact_url(&server);
    let required = std::env::var("HOTLINE_REQUIRE_PG").is_ok_and(|v| !v.is_empty());
    let connected = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&server))
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let mut conn = match connected {
        Ok(conn) => conn,
        Err(e) if required => {
            panic!("HOTLINE_REQUIRE_PG is set but PostgreSQL at {shown} is unreachable: {e}")
        }
        Err(e) => {
            // Once per test binary, and straight to stderr: libtest captures `eprintln!`
            // of passing tests, which would hide the warning.
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!! WARNING: PostgreSQL at {shown} is unreachable ({e}).\n\
                     !!! PostgreSQL tests are SKIPPED (HOTLINE_REQUIRE_PG=1 makes this fail).\n"
                );
            });
            return None;
        }
    };
    let name = format!("hotline_t_{:016x}", rand::random::<u64>());
    // The name is ours (hex digits only), so formatting it into the statement is safe.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name} on {shown}: {e}"));
    let _ = conn.close().await;
    Some(with_database(&server, &name))
}

/// The test server: `HOTLINE_TEST_PG_URL`, or the default.
pub fn server_url() -> String {
    std::env::var("HOTLINE_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_string())
}

/// `server` with its database path replaced by `name`, keeping any `?query`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[test]
fn replaces_the_database_of_a_url() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
