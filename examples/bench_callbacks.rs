//! The callback queue benchmark: how long the dialer takes to claim a due batch as the queue
//! grows to a million callbacks, and the memory the process holds.
//!
//! `cargo run --release --example bench_callbacks -- [--database-url URL] [--size 1000000]`
//! (default: a fresh SQLite file in a temporary directory). At each size the queue holds
//! that many pending callbacks, almost all due later (a campaign's future), plus due ones at
//! the head; the figure is the time of `claim_callbacks(batch of 32)`, median and worst of
//! 50 claims, each followed by giving the batch back so every claim sees the same queue.
//! Claiming reads the due end of an index, so the time must not grow with the queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use hotline::callbacks::policy::RetryPolicy;
use hotline::callbacks::window::CallingWindow;
use hotline::callbacks::{CampaignState, NewCallback, NewCampaign};
use hotline::prompts::Locale;
use hotline::repo::Store;
use hotline::surveys::script::{Purpose, Script};

#[derive(Parser)]
struct Args {
    /// `sqlite://…` or `postgres://…`; a fresh SQLite file when absent.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// The largest queue measured.
    #[arg(long, default_value_t = 1_000_000)]
    size: usize,
}

const BATCH: i64 = 32;
const CLAIMS: usize = 50;
/// Callbacks queued per transaction while filling.
const CHUNK: usize = 5_000;
const NOW: i64 = 1_780_272_000_000;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store: Arc<dyn Store> = hotline::store::connect(&url)
        .await
        .with_context(|| format!("opening {}", hotline::config::redact_url(&url)))?;
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: format!("bench-{NOW}-{}", std::process::id()),
                purpose: Purpose::Satisfaction,
                script: Script::satisfaction(),
                window: CallingWindow::default(),
                retry: RetryPolicy::default(),
                pace_ms: 1,
                from_number: "+8610000".into(),
                starts_at: 0,
                ends_at: None,
                standing: false,
                delay_minutes: 0,
                quiet_days: 0,
            },
            NOW,
        )
        .await?;
    store
        .set_campaign_state(campaign.id, CampaignState::Running, NOW)
        .await?;

    println!("| queued callbacks | claim 32, median | claim 32, worst | RSS |");
    println!("|---:|---:|---:|---:|");
    let mut queued = 0usize;
    let mut size = 1_000usize;
    let fill_started = Instant::now();
    loop {
        let target = size.min(args.size);
        while queued < target {
            let n = CHUNK.min(target - queued);
            let batch: Vec<NewCallback> = (queued..queued + n)
                .map(|i| NewCallback {
                    campaign_id: campaign.id,
                    account_id: None,
                    ticket_id: None,
                    source: format!("bench:{i}"),
                    to_number: format!("+86139{i:08}"),
                    timezone: "Asia/Shanghai".into(),
                    locale: Locale::ZhCn,
                    // The first 1,000 are due now; the rest over the coming year.
                    due_at: if i < 1_000 {
                        NOW - 1
                    } else {
                        NOW + 60_000 + (i as i64 * 31_536_000_000 / args.size.max(1) as i64)
                    },
                    why: "benchmark".into(),
                })
                .collect();
            store.queue_callbacks(&batch, NOW).await?;
            queued += n;
        }
        let mut times = Vec::with_capacity(CLAIMS);
        for _ in 0..CLAIMS {
            let started = Instant::now();
            let claimed = store.claim_callbacks(NOW, NOW + 60_000, BATCH).await?;
            times.push(started.elapsed());
            anyhow::ensure!(claimed.len() as i64 == BATCH, "claimed {}", claimed.len());
            for cb in claimed {
                store.defer_callback(cb.id, cb.due_at, None, NOW).await?;
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {queued} | {:.2} ms | {:.2} ms | {:.0} MiB |",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            rss_mib()
        );
        if target >= args.size {
            break;
        }
        size *= 10;
    }
    eprintln!(
        "filled {queued} callbacks in {:.0} s on {}",
        fill_started.elapsed().as_secs_f64(),
        hotline::config::redact_url(&url)
    );
    Ok(())
}
