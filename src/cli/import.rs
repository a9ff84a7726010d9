//! `hotline import accounts`: customers' accounts, lines, PINs and bills from a CSV file.
//!
//! Rules: good rows are imported and bad ones reported, each with its line, on standard
//! error; one bad row makes the exit status 2, so a script notices a partial import even
//! when no one reads the summary.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use hotline::config::Config;

#[derive(Subcommand)]
pub(super) enum ImportCmd {
    /// Accounts with lines, PIN and bill from a CSV file (columns in the README).
    Accounts { file: PathBuf },
}

pub(super) async fn run(cfg: Config, what: ImportCmd) -> anyhow::Result<()> {
    match what {
        ImportCmd::Accounts { file } => accounts(&cfg, file).await,
    }
}

async fn accounts(cfg: &Config, file: PathBuf) -> anyhow::Result<()> {
    let store = super::open_store(cfg).await?;
    let (rows, bar) = super::open_with_progress(&file)?;
    let now = chrono::Utc::now().timestamp_millis();
    let report = hotline::customers::import::import_csv(store.as_ref(), rows, now, |pos| {
        bar.set_position(pos)
    })
    .await
    .with_context(|| format!("reading {}", file.display()))?;
    bar.finish_and_clear();
    // Rejected rows still exit 2 when no one reads the summary.
    let printed = outln!(
        "imported {} account(s), rejected {}",
        report.imported,
        report.rejected.len()
    );
    for r in &report.rejected {
        errln!("line {}: account {:?}: {}", r.line, r.account_no, r.error);
    }
    if !report.rejected.is_empty() {
        std::process::exit(2);
    }
    printed
}
