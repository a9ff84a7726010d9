//! The command line: the `hotline` command's arguments, how its output is written, and the
//! dispatch to one file per command group.
//!
//! Rules: every command prints through `out!`/`outln!`, never `print!`, so that a reader who
//! leaves early (`hotline report … | head -1`) ends the command quietly and successfully
//! instead of a panic; messages go to standard error with `errln!`. Each command gets the
//! loaded `Config` and opens only what it needs (`open_store` for most; `serve` builds the
//! whole service, `dial` talks HTTP only), so a report does not need a Twilio token. The `///`
//! on arguments and subcommands are the help texts: what users read, kept word for word.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use hotline::config::Config;
use hotline::repo::Store;

// The macros come first: a macro is visible only in the modules declared after it.

/// Writes to standard output; `Err(StdoutClosed)` when the reader has gone.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!($($arg)*)) };
}

/// `out!` with a line break.
macro_rules! outln {
    () => { $crate::cli::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Standard error for messages: if it is gone too there is no one left to tell.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod agents;
mod calendar;
mod callbacks;
mod dial;
mod health;
mod import;
mod report;
mod serve;

// No `///` on `Cli` and `Cmd` themselves: clap would take it for help text.
#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "A telecom operator's customer hotline"
)]
pub struct Cli {
    /// TOML configuration file (also $HOTLINE_CONFIG); environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

// A command with one flag keeps it here; a group's subcommands, and a command with several
// flags, are defined in the group's file next to the code that reads them.
#[derive(Subcommand)]
enum Cmd {
    /// Run the service (migrates the store first).
    Serve {
        /// Load demo customers and use demo secrets where none are configured.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import data from a file.
    Import {
        #[command(subcommand)]
        what: import::ImportCmd,
    },
    /// Callbacks owed to customers.
    Callbacks {
        #[command(subcommand)]
        what: callbacks::CallbacksCmd,
    },
    /// Campaigns of callbacks: give one a list, print its report.
    Campaigns {
        #[command(subcommand)]
        what: callbacks::CampaignsCmd,
    },
    /// A report for managers: satisfaction, surveys, service-levels, hotline, callbacks or
    /// complaints, over local days (default this month so far).
    Report(report::ReportArgs),
    /// Rolls up the settled days of the report figures now (the service does it every hour);
    /// `--rebuild` forgets every roll-up first, after outcomes older than 30 days changed.
    Rollup {
        #[arg(long)]
        rebuild: bool,
    },
    /// Agents and supervisors who sign in to the console at /console.
    Agents {
        #[command(subcommand)]
        what: agents::AgentsCmd,
    },
    /// A terminal softphone: call the running service as Twilio would and type keys.
    Dial(dial::DialArgs),
    /// The working-day calendar: which dates it covers.
    Calendar {
        #[command(subcommand)]
        what: calendar::CalendarCmd,
    },
    /// Ask the running service whether it is ready (GET /readyz): exit status 0 when it
    /// answers 200, 1 otherwise. The container's health check.
    Health(health::HealthArgs),
}

impl Cli {
    /// Loads the configuration and runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let cfg = Config::load(self.config.as_deref()).context("loading configuration")?;
        match self.cmd {
            Cmd::Serve { demo } => serve::serve(cfg, demo).await,
            Cmd::Migrate => serve::migrate(&cfg).await,
            Cmd::Import { what } => import::run(cfg, what).await,
            Cmd::Callbacks { what } => callbacks::callbacks(cfg, what).await,
            Cmd::Campaigns { what } => callbacks::campaigns(cfg, what).await,
            Cmd::Report(args) => report::report(cfg, args).await,
            Cmd::Rollup { rebuild } => report::rollup(cfg, rebuild).await,
            Cmd::Agents { what } => agents::run(cfg, what).await,
            Cmd::Dial(args) => dial::run(cfg, args).await,
            Cmd::Calendar { what } => calendar::run(&cfg, what),
            Cmd::Health(args) => health::run(&cfg, args).await,
        }
    }
}

/// The process's exit status for a command's result, once what it printed is flushed: a
/// reader who left early is a success, any other error is printed and fails.
pub fn exit_code(done: anyhow::Result<()>) -> std::process::ExitCode {
    match done.and_then(|()| flush_out()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<StdoutClosed>()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            errln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Standard output was closed by its reader (`hotline report … | head -1`): the reader has
/// what it wanted, so the command ends quietly, successfully.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
struct StdoutClosed;

fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("writing to standard output")
    }
}

/// Everything the commands print goes through here: `print!` and `println!` panic when the
/// reader has gone.
fn write_out(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(stdout_error)
}

/// Sends what was printed so far, as `write_out` would report a failure.
fn flush_out() -> anyhow::Result<()> {
    std::io::stdout().flush().map_err(stdout_error)
}

/// The configured store, migrated, for a command that reads or writes it.
async fn open_store(cfg: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    hotline::store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")
}

/// A file to import, and a progress bar over its bytes for the importer to advance.
fn open_with_progress(
    file: &Path,
) -> anyhow::Result<(std::io::BufReader<std::fs::File>, indicatif::ProgressBar)> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Ok((std::io::BufReader::new(f), bar))
}
