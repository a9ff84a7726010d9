//! `hotline callbacks why` and `hotline campaigns import|report`: the callbacks owed to
//! customers, seen from a terminal.
//!
//! Rules: `why` answers the question a supervisor is asked ("why wasn't I called?") before
//! the ledger that proves it, with times in the customer's zone, as the calling windows are.
//! A list goes only into a campaign that takes callbacks (the same rule as the API's); good
//! rows are queued and bad ones reported with their line and field, and one bad row makes
//! the exit status 2, so a script notices a partial list even when no one reads the summary.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use hotline::callbacks::{Campaign, lists};
use hotline::config::Config;
use hotline::repo::Store;

#[derive(Subcommand)]
pub(super) enum CallbacksCmd {
    /// Why was this customer (not yet) called? The answer, then the callback's ledger.
    Why { id: i64 },
}

#[derive(Subcommand)]
pub(super) enum CampaignsCmd {
    /// Queue a CSV list (columns number, account_no, locale, timezone) into a campaign.
    Import { id: i64, file: PathBuf },
    /// A campaign's figures: called, reached, answered, each answer, the satisfaction rate.
    Report { id: i64 },
}

pub(super) async fn callbacks(cfg: Config, what: CallbacksCmd) -> anyhow::Result<()> {
    match what {
        CallbacksCmd::Why { id } => why(&cfg, id).await,
    }
}

pub(super) async fn campaigns(cfg: Config, what: CampaignsCmd) -> anyhow::Result<()> {
    match what {
        CampaignsCmd::Import { id, file } => import(&cfg, id, file).await,
        CampaignsCmd::Report { id } => report(&cfg, id).await,
    }
}

/// Prints why a callback was (not yet) called, then its ledger: `time  kind  detail`, in the
/// customer's zone.
async fn why(cfg: &Config, id: i64) -> anyhow::Result<()> {
    let store = super::open_store(cfg).await?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let now = chrono::Utc::now().timestamp_millis();
    let Some(x) = hotline::callbacks::report::explain(
        store.as_ref(),
        id,
        cfg.timezone,
        &calendar,
        now,
        cfg.dials_callbacks(),
    )
    .await
    .context("reading the callback")?
    else {
        bail!("there is no callback {id}");
    };
    outln!("{}", x.why)?;
    outln!()?;
    for e in &x.ledger {
        let at = chrono::DateTime::from_timestamp_millis(e.at)
            .map(|t| {
                t.with_timezone(&x.tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|| e.at.to_string());
        outln!("{at}  {:<10}  {}", e.kind, e.detail)?;
    }
    Ok(())
}

async fn campaign(store: &dyn Store, id: i64) -> anyhow::Result<Campaign> {
    store
        .campaign(id)
        .await
        .context("reading the campaign")?
        .with_context(|| format!("there is no campaign {id}"))
}

/// Queues a CSV list into a campaign with a progress bar; exits 2 when a row was rejected.
async fn import(cfg: &Config, id: i64, file: PathBuf) -> anyhow::Result<()> {
    let store = super::open_store(cfg).await?;
    let c = campaign(store.as_ref(), id).await?;
    if let Some(why) = lists::refuses_callbacks(&c) {
        bail!("{why}");
    }
    let (rows, bar) = super::open_with_progress(&file)?;
    let defaults = lists::Defaults {
        tz: cfg.timezone,
        locale: cfg.default_locale,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let now = chrono::Utc::now().timestamp_millis();
    let report = lists::import_csv(store.as_ref(), &c, rows, &defaults, &name, now, |pos| {
        bar.set_position(pos)
    })
    .await
    .with_context(|| format!("reading {}", file.display()))?;
    bar.finish_and_clear();
    // Rejected rows still exit 2 when no one reads the summary.
    let printed = outln!(
        "queued {} callback(s) in campaign {} {:?}, {} already owed, rejected {}",
        report.queued,
        c.id,
        c.name,
        report.already_owed,
        report.rejected.len()
    );
    for r in &report.rejected {
        errln!("line {}: {}: {}", r.index, r.field, r.error);
    }
    if !report.rejected.is_empty() {
        std::process::exit(2);
    }
    printed
}

async fn report(cfg: &Config, id: i64) -> anyhow::Result<()> {
    let store = super::open_store(cfg).await?;
    let c = campaign(store.as_ref(), id).await?;
    let report = hotline::callbacks::report::campaign_report(store.as_ref(), &c)
        .await
        .context("computing the report")?;
    out!("{}", report.to_text())
}
