//! `hotline calendar check`: which dates the working-day calendar covers, and the days off
//! the fallback assumes beyond it.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{Datelike, Days, NaiveDate};
use clap::Subcommand;

use hotline::calendar::{COVERAGE_AHEAD_DAYS, Calendar, Fallback, statutory_holidays};
use hotline::config::Config;

#[derive(Subcommand)]
pub enum CalendarCmd {
    /// Print the dates the calendar covers; fails (exit status 1) when it does not cover the
    /// coming 60 days, listing the days off assumed beyond its end.
    Check {
        /// A calendar file to check instead of the configured one (to try a new year's
        /// schedule before installing it).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Check as of this local date (YYYY-MM-DD) instead of today.
        #[arg(long)]
        today: Option<NaiveDate>,
    },
}

pub fn run(cfg: &Config, what: CalendarCmd) -> anyhow::Result<()> {
    let CalendarCmd::Check { file, today } = what;
    let (cal, source) = match file.or_else(|| cfg.calendar_file.clone()) {
        Some(path) => (
            Calendar::load(&path).context("reading the calendar")?,
            path.display().to_string(),
        ),
        None => (
            Calendar::builtin().clone(),
            "built-in (mainland China)".into(),
        ),
    };
    let today =
        today.unwrap_or_else(|| chrono::Utc::now().with_timezone(&cfg.timezone).date_naive());
    let (holidays, workdays) = cal.listed();
    outln!("calendar: {source}")?;
    match cal.covered() {
        Some(r) => outln!(
            "covers: {} to {} ({holidays} holidays, {workdays} adjusted working days)",
            r.start(),
            r.end()
        )?,
        None => outln!("covers: nothing (no dates listed)")?,
    }
    outln!("today: {today} ({})", cfg.timezone)?;
    let Some(gap) = cal.coverage_gap(today) else {
        outln!("ok: the coming {COVERAGE_AHEAD_DAYS} days are covered")?;
        return Ok(());
    };
    if cal.fallback() == Fallback::ChinaStatutory {
        let ahead = today
            .checked_add_days(Days::new(COVERAGE_AHEAD_DAYS))
            .unwrap_or(NaiveDate::MAX);
        let first = gap
            .covered_until
            .map_or(today.year(), |d| d.year().saturating_add(1))
            .max(today.year());
        for year in first..=ahead.year().max(first) {
            outln!("days off assumed in {year} until its schedule is installed:")?;
            for h in statutory_holidays(year) {
                let lieu = if h.in_lieu { " (in lieu)" } else { "" };
                outln!("  {} {}{lieu}", h.date, h.name)?;
            }
        }
    }
    anyhow::bail!("{gap}")
}
