//! The built `hotline` command, run against a test's database.

use std::process::{Command, Output};

/// `hotline args…` on the database at `database_url`, whatever configuration file the
/// environment names, logging only warnings and printing no backtrace.
pub fn command(database_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(args)
        .env("HOTLINE_DATABASE_URL", database_url)
        .env_remove("HOTLINE_CONFIG")
        .env("HOTLINE_LOG", "warn")
        .env("RUST_BACKTRACE", "0");
    cmd
}

/// Runs `hotline args…` on the database at `database_url` to its end.
pub fn run(database_url: &str, args: &[&str]) -> Output {
    command(database_url, args)
        .output()
        .expect("the hotline binary runs")
}
