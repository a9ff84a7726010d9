//! `hotline report` and `hotline rollup`: the managers' figures, and the roll-ups that make
//! them fast.
//!
//! Rules: a report here is the same `reports::requested` the API and the console serve,
//! with the same parameters, calendar and local days, so every surface shows the same
//! figures. `rollup` does now what the service does every hour; a report is the same with or
//! without it, only faster. `--rebuild` is for outcomes changed further back than the 30 days
//! every roll-up reads again.

use anyhow::Context;
use clap::Args;

use hotline::clock::{Clock as _, SystemClock};
use hotline::config::Config;
use hotline::reports::params::ReportParams;

// No `///` on the struct: clap would take it for the command's help.
#[derive(Args)]
pub(super) struct ReportArgs {
    /// satisfaction, surveys, service-levels, hotline, callbacks or complaints.
    kind: String,
    /// First day, YYYY-MM-DD (in the operator's time zone).
    #[arg(long)]
    from: Option<String>,
    /// Last day, inclusive.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
    /// A ticket kind (fault, installation…) or a survey's service.
    #[arg(long)]
    service: Option<String>,
    /// phone, broadband or leased.
    #[arg(long)]
    line_kind: Option<String>,
    /// residential or business.
    #[arg(long)]
    customer_class: Option<String>,
    /// A campaign id.
    #[arg(long)]
    campaign: Option<String>,
    /// The hotline number called.
    #[arg(long)]
    hotline: Option<String>,
}

/// Prints one report as a table, CSV or JSON.
pub(super) async fn report(cfg: Config, args: ReportArgs) -> anyhow::Result<()> {
    let ReportArgs {
        kind,
        from,
        to,
        format,
        service,
        line_kind,
        customer_class,
        campaign,
        hotline,
    } = args;
    let params = ReportParams {
        from,
        to,
        service,
        line_kind,
        customer_class,
        campaign,
        hotline,
        format: None,
    };
    let store = super::open_store(&cfg).await?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let now = SystemClock.now_ms();
    let report =
        hotline::reports::requested(&kind, &params, store.as_ref(), now, cfg.timezone, &calendar)
            .await?;
    match format.as_str() {
        "csv" => out!("{}", report.to_csv()),
        "json" => outln!("{}", serde_json::to_string_pretty(&report)?),
        _ => out!("{}", report.to_text()),
    }
}

/// Rolls up the settled days and prints how many days each family rolled up.
pub(super) async fn rollup(cfg: Config, rebuild: bool) -> anyhow::Result<()> {
    let store = super::open_store(&cfg).await?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let src = hotline::reports::rollup::Source {
        store: store.as_ref(),
        tz: cfg.timezone,
        calendar: &calendar,
        now: SystemClock.now_ms(),
    };
    let started = std::time::Instant::now();
    let rolled = hotline::reports::rollup::roll_up(&src, rebuild)
        .await
        .context("rolling up")?;
    for (family, days) in rolled {
        outln!("{family}: {days} days rolled up")?;
    }
    outln!("took {:.1} s", started.elapsed().as_secs_f64())
}
