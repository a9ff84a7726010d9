//! The reports benchmark: the six reports over a year of a large operator's data.
//!
//! `cargo run --release --example bench_reports -- [--db sqlite:///tmp/reports.db |
//! postgres://…] [--scale 1.0] [--runs 3] [--json] [--reuse] [--show]`
//!
//! Fills a fresh database with `hotline::store::synthetic` (scale 1.0: 1 million calls with
//! 10 million steps, 1 million tickets, 1 million callbacks; 0.01 for a quick run), prints how
//! long that took and the rows per table, then builds each report over the whole year
//! (unfiltered, and with one filter each) `--runs` times and prints the median and the
//! slowest time. Every report must show figures (a count or a rate's denominator above zero
//! in its first table), so a broken query cannot pass for a fast one.
//!
//! A SQLite file given with `--db` is deleted first (with its `-wal`/`-shm`); a PostgreSQL
//! database must be empty (create it with `createdb`). `--reuse` skips the fill and measures
//! a database an earlier run filled (same `--scale`).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use hotline::customers::CustomerClass;
use hotline::reports::{self, Cell, Period, Report, ReportCtx, ReportFilter, ReportKind};
use hotline::store::synthetic::{self, Filled, Spec};

#[derive(Parser)]
struct Args {
    /// `sqlite://…` or `postgres://…`.
    #[arg(long, default_value = "sqlite:///tmp/hotline_bench_reports.db")]
    db: String,
    /// 1.0 is the large operator.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Builds of each report measured.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Measure a database filled by an earlier run instead of filling one.
    #[arg(long)]
    reuse: bool,
    /// Also print each report (unfiltered) as text, to see the figures measured.
    #[arg(long)]
    show: bool,
    /// Measure the reports without roll-ups (every day computed from the outcomes): the
    /// baseline. Without it, the settled days are rolled up first (timed) and then read.
    #[arg(long)]
    live: bool,
}

/// The figures a report shows in its first table: counts plus rates' denominators.
fn counted(r: &Report) -> i64 {
    r.tables.first().map_or(0, |t| {
        t.rows
            .iter()
            .flatten()
            .map(|c| match c {
                Cell::Count { value } => value.abs(),
                Cell::Rate { den, .. } => den.abs(),
                _ => 0,
            })
            .sum()
    })
}

/// A figure to show beside the time, from the first table's "all" or "total" row (else its
/// first row): its first rate with a denominator, else its first number or count.
fn headline(r: &Report) -> String {
    let Some(t) = r.tables.first() else {
        return "(no table)".into();
    };
    let is_total = |row: &&Vec<Cell>| matches!(row.first(), Some(Cell::Text { value }) if value == "all" || value == "total");
    let Some(row) = t.rows.iter().find(is_total).or(t.rows.first()) else {
        return "(no rows)".into();
    };
    row.iter()
        .find(|c| matches!(c, Cell::Rate { den, .. } if *den != 0))
        .or_else(|| {
            row.iter().find(|c| {
                matches!(
                    c,
                    Cell::Number { value: Some(_) } | Cell::Secs { value: Some(_) }
                )
            })
        })
        .or_else(|| row.iter().find(|c| matches!(c, Cell::Count { .. })))
        .map_or_else(|| "—".into(), Cell::display)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.scale > 0.0, "--scale must be above 0");
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let spec = Spec::scaled(args.scale);
    let shown = hotline::config::redact_url(&args.db);

    let filled: Filled = if args.reuse {
        synthetic::describe(&args.db, &spec)
            .await?
            .with_context(|| format!("{shown} holds no synthetic data to reuse"))?
    } else {
        if let Some(path) = args.db.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
        eprintln!("filling {shown} at scale {} …", args.scale);
        synthetic::fill(&args.db, &spec)
            .await
            .with_context(|| format!("filling {shown}"))?
    };

    if !args.json {
        if let Some((_, total)) = filled.steps.iter().find(|(n, _)| *n == "total") {
            println!("Filled {shown} (scale {}) in {total:.0} s:", args.scale);
            for (name, secs) in filled.steps.iter().filter(|(n, _)| *n != "total") {
                println!("  {name:<32} {secs:>8.1} s");
            }
        }
        println!();
        println!("| table | rows |");
        println!("|---|---:|");
        for (table, n) in &filled.counts {
            println!("| {table} | {n} |");
        }
        println!();
    } else {
        let counts: serde_json::Map<String, serde_json::Value> = filled
            .counts
            .iter()
            .map(|(t, n)| ((*t).to_string(), (*n).into()))
            .collect();
        let fill_secs = filled
            .steps
            .iter()
            .find(|(n, _)| *n == "total")
            .map(|(_, s)| *s);
        println!(
            "{}",
            serde_json::json!({"db": shown, "scale": args.scale, "fill_secs": fill_secs, "counts": counts})
        );
    }

    let store = hotline::store::connect(&args.db).await?;
    let calendar = hotline::calendar::Calendar::builtin();
    let period = Period {
        from: filled.from,
        to: filled.to,
    };
    let src = hotline::reports::rollup::Source {
        store: &*store,
        tz: chrono_tz::Asia::Shanghai,
        calendar,
        now: filled.to,
    };
    if args.live {
        hotline::reports::rollup::forget(&*store).await?;
        if !args.json {
            println!("No roll-ups: every day is computed from the stored outcomes.\n");
        }
    } else {
        let started = Instant::now();
        let rolled = hotline::reports::rollup::roll_up(&src, false).await?;
        let secs = started.elapsed().as_secs_f64();
        if args.json {
            println!(
                "{}",
                serde_json::json!({"rollup_secs": secs, "rolled": rolled})
            );
        } else {
            println!("Rolled up in {secs:.1} s: {rolled:?}\n");
        }
    }
    let business = ReportFilter {
        customer_class: Some(CustomerClass::Business),
        ..ReportFilter::default()
    };
    let variants: Vec<(ReportKind, &str, ReportFilter)> = ReportKind::ALL
        .into_iter()
        .flat_map(|kind| {
            let filtered = match kind {
                ReportKind::Satisfaction => (
                    "service=fault",
                    ReportFilter {
                        service: Some("fault".into()),
                        ..ReportFilter::default()
                    },
                ),
                ReportKind::Surveys => (
                    "campaign=sample survey",
                    ReportFilter {
                        campaign_id: Some(filled.survey_campaign),
                        ..ReportFilter::default()
                    },
                ),
                ReportKind::Hotline => (
                    "hotline=10000",
                    ReportFilter {
                        hotline: Some(synthetic::HOTLINE.into()),
                        ..ReportFilter::default()
                    },
                ),
                ReportKind::Callbacks => (
                    "campaign=satisfaction",
                    ReportFilter {
                        campaign_id: Some(filled.satisfaction_campaign),
                        ..ReportFilter::default()
                    },
                ),
                ReportKind::ServiceLevels | ReportKind::Complaints => {
                    ("customer_class=business", business.clone())
                }
            };
            [
                (kind, "none", ReportFilter::default()),
                (kind, filtered.0, filtered.1),
            ]
        })
        .collect();

    if !args.json {
        println!("Reports over the whole year ({} runs each):\n", args.runs);
        println!("| report | filter | median | max | figures | total (first table) |");
        println!("|---|---|---:|---:|---:|---|");
    }
    let mut empty = Vec::new();
    for (kind, label, filter) in &variants {
        let ctx = ReportCtx {
            store: &*store,
            period,
            filter,
            now: filled.to,
            tz: chrono_tz::Asia::Shanghai,
            calendar,
        };
        let mut times = Vec::with_capacity(args.runs);
        let mut last = None;
        for _ in 0..args.runs {
            let started = Instant::now();
            let report = reports::build(*kind, &ctx).await?;
            times.push(started.elapsed());
            last = Some(report);
        }
        let report = last.context("no run")?;
        if args.show && *label == "none" {
            eprintln!("== {}\n{}", kind.as_str(), report.to_text());
        }
        times.sort();
        let median = times[times.len() / 2];
        let max = times[times.len() - 1];
        let n = counted(&report);
        if n == 0 {
            empty.push(format!("{} ({label})", kind.as_str()));
        }
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "report": kind.as_str(), "filter": label, "median_ms": ms(median),
                    "max_ms": ms(max), "figures": n, "headline": headline(&report),
                })
            );
        } else {
            println!(
                "| {} | {label} | {:.0} ms | {:.0} ms | {n} | {} |",
                kind.as_str(),
                ms(median),
                ms(max),
                headline(&report)
            );
        }
    }
    anyhow::ensure!(
        empty.is_empty(),
        "reports without figures (a broken query?): {}",
        empty.join(", ")
    );
    Ok(())
}
