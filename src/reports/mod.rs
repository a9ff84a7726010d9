//! Reports managers can trust: every figure is computed from stored outcomes, shown with its
//! one-line definition and its denominator.
//!
//! Rules:
//! - A report covers a period `[from, to)` (epoch ms; the command line and the console take
//!   local dates in the operator's zone, `to` inclusive) and an optional filter: service
//!   (ticket kind, or survey service), line kind, customer class, campaign, hotline number.
//!   A filter that does not apply to a report is named in its `ignored` list, never silently
//!   dropped.
//! - A report is sections of tables; every rate is a `Cell::Rate` carrying its numerator and
//!   denominator, so a reader sees "97.3% (215 of 221)", and a rate over nothing is "—", not 0%.
//! - The same `Report` value is what the console, the JSON API, the CSV export and the command
//!   line show, so the same filter gives the same figures everywhere.
//! - Figures come from the store's aggregates over indexed columns (GROUP BY in SQL, or one
//!   sorted column for percentiles), never from loading calls or tickets one by one.

mod callbacks;
mod complaints;
pub mod figures;
mod hotline;
pub mod params;
pub mod repo;
pub mod rollup;
mod satisfaction;
mod service_levels;
mod surveys;

use std::fmt::Write as _;

use serde::Serialize;

use crate::customers::{CustomerClass, LineKind};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Satisfaction,
    Surveys,
    ServiceLevels,
    Hotline,
    Callbacks,
    Complaints,
}

impl ReportKind {
    pub const ALL: [ReportKind; 6] = [
        ReportKind::Satisfaction,
        ReportKind::Surveys,
        ReportKind::ServiceLevels,
        ReportKind::Hotline,
        ReportKind::Callbacks,
        ReportKind::Complaints,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Satisfaction => "satisfaction",
            ReportKind::Surveys => "surveys",
            ReportKind::ServiceLevels => "service-levels",
            ReportKind::Hotline => "hotline",
            ReportKind::Callbacks => "callbacks",
            ReportKind::Complaints => "complaints",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.as_str().replace('-', "_") == s)
    }
}

/// The period of a report, `[from, to)` in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

impl Period {
    /// The local days `from`..=`to` in `tz`.
    pub fn days(
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Result<Period, String> {
        if to < from {
            return Err(format!("the period ends ({to}) before it starts ({from})"));
        }
        if (to - from).num_days() > 3 * 366 {
            return Err("a period may span at most three years".into());
        }
        let start = |d: chrono::NaiveDate| {
            crate::tickets::sla::local_to_utc(tz, d.and_time(chrono::NaiveTime::MIN))
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| format!("{d} has no start in {tz}"))
        };
        let next = to
            .succ_opt()
            .ok_or_else(|| format!("{to} is out of range"))?;
        Ok(Period {
            from: start(from)?,
            to: start(next)?,
        })
    }

    /// The same period a year earlier (for year-on-year comparisons).
    pub fn a_year_earlier(self, tz: chrono_tz::Tz) -> Option<Period> {
        use chrono::{Months, TimeZone};
        let shift = |ms: i64| {
            let local = tz.timestamp_millis_opt(ms).single()?.naive_local();
            let earlier = local.checked_sub_months(Months::new(12))?;
            Some(crate::tickets::sla::local_to_utc(tz, earlier)?.timestamp_millis())
        };
        Some(Period {
            from: shift(self.from)?,
            to: shift(self.to)?,
        })
    }
}

/// What a report is narrowed to; `None` is everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportFilter {
    /// A ticket kind (`fault`, `installation`…) or a survey's service.
    pub service: Option<String>,
    pub line_kind: Option<LineKind>,
    pub customer_class: Option<CustomerClass>,
    pub campaign_id: Option<i64>,
    /// The number callers dialed.
    pub hotline: Option<String>,
}

/// What every report builder reads.
pub struct ReportCtx<'a> {
    pub store: &'a dyn crate::repo::Store,
    pub period: Period,
    pub filter: &'a ReportFilter,
    /// Now (for "at risk" and "open" figures).
    pub now: i64,
    /// The operator's zone: days, months and local times are counted in it.
    pub tz: chrono_tz::Tz,
    /// The operator's calendar (holidays close calling windows).
    pub calendar: &'a crate::calendar::Calendar,
}

/// What a builder returns: its tables, and the filters it could not apply.
pub type Built = (Vec<Table>, Vec<&'static str>);

/// Why a report could not be built: what the user asked was refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Param(#[from] params::ParamError),
    #[error("store: {0}")]
    Store(#[from] crate::repo::StoreError),
}

/// Parses what a user asked for (`kind` and `params`) and builds it: what the console and the
/// API do, so both refuse and compute alike.
pub async fn requested(
    kind: &str,
    p: &params::ReportParams,
    store: &dyn crate::repo::Store,
    now: i64,
    tz: chrono_tz::Tz,
    calendar: &crate::calendar::Calendar,
) -> Result<Report, ReportError> {
    let kind = params::kind(kind)?;
    let (period, filter) = p.parse(now, tz)?;
    let ctx = ReportCtx {
        store,
        period,
        filter: &filter,
        now,
        tz,
        calendar,
    };
    Ok(build(kind, &ctx).await?)
}

/// Builds a report of `kind` for the period and filter.
pub async fn build(
    kind: ReportKind,
    ctx: &ReportCtx<'_>,
) -> Result<Report, crate::repo::StoreError> {
    let (tables, ignored) = match kind {
        ReportKind::Satisfaction => satisfaction::build(ctx).await?,
        ReportKind::Surveys => surveys::build(ctx).await?,
        ReportKind::ServiceLevels => service_levels::build(ctx).await?,
        ReportKind::Hotline => hotline::build(ctx).await?,
        ReportKind::Callbacks => callbacks::build(ctx).await?,
        ReportKind::Complaints => complaints::build(ctx).await?,
    };
    Ok(Report {
        kind,
        period: ctx.period,
        filter: ctx.filter.clone(),
        ignored,
        tables,
    })
}

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Cell {
    Text {
        value: String,
    },
    Count {
        value: i64,
    },
    /// `num / den`; no value when `den` is 0.
    Rate {
        num: i64,
        den: i64,
    },
    /// A duration in seconds, when there is one.
    Secs {
        value: Option<f64>,
    },
    /// A plain number (a score, an average), when there is one.
    Number {
        value: Option<f64>,
    },
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text { value: s.into() }
    }
    pub fn count(n: i64) -> Cell {
        Cell::Count { value: n }
    }
    pub fn rate(num: i64, den: i64) -> Cell {
        Cell::Rate { num, den }
    }
    pub fn secs(v: Option<f64>) -> Cell {
        Cell::Secs { value: v }
    }
    pub fn number(v: Option<f64>) -> Cell {
        Cell::Number { value: v }
    }

    /// The value as a person reads it: "97.3% (215 of 221)", "12.8 h", "—".
    pub fn display(&self) -> String {
        match self {
            Cell::Text { value } => value.clone(),
            Cell::Count { value } => value.to_string(),
            Cell::Rate { num, den } => match figures::percent(*num, *den) {
                Some(p) => format!("{p:.1}% ({num} of {den})"),
                None => "— (0 of 0)".into(),
            },
            Cell::Secs { value: Some(s) } => figures::duration(*s),
            Cell::Number { value: Some(v) } => format!("{v:.1}"),
            Cell::Secs { value: None } | Cell::Number { value: None } => "—".into(),
        }
    }

    /// The value for a spreadsheet: plain numbers, a rate as its percentage (the numerator
    /// and denominator have their own columns in CSV), durations in seconds.
    fn csv(&self) -> Vec<String> {
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        match self {
            Cell::Text { value } => vec![value.clone()],
            Cell::Count { value } => vec![value.to_string()],
            Cell::Rate { num, den } => vec![
                opt(figures::percent(*num, *den)),
                num.to_string(),
                den.to_string(),
            ],
            Cell::Secs { value } | Cell::Number { value } => vec![opt(*value)],
        }
    }
}

/// A column: its key (for CSV and JSON) and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub key: String,
    pub label: String,
}

/// One table of a report, with its definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub key: String,
    pub title: String,
    /// One line: how the figures are counted.
    pub definition: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(key: &str, title: &str, definition: &str, columns: &[(&str, &str)]) -> Table {
        Table {
            key: key.into(),
            title: title.into(),
            definition: definition.into(),
            columns: columns
                .iter()
                .map(|(k, l)| Column {
                    key: (*k).into(),
                    label: (*l).into(),
                })
                .collect(),
            rows: Vec::new(),
        }
    }
}

/// A report: what it covers and its tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub kind: ReportKind,
    pub period: Period,
    pub filter: ReportFilter,
    /// Filters given that this report cannot apply.
    pub ignored: Vec<&'static str>,
    pub tables: Vec<Table>,
}

impl Report {
    /// Every table as CSV, one after another, each headed by its key and definition. A rate
    /// takes three columns: `<key>_pct`, `<key>_num`, `<key>_den`.
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(vec![]);
        for t in &self.tables {
            let _ = w.write_record([format!("# {}", t.key), t.definition.clone()]);
            let rate_cols: Vec<bool> = (0..t.columns.len())
                .map(|i| {
                    t.rows
                        .iter()
                        .any(|r| matches!(r.get(i), Some(Cell::Rate { .. })))
                })
                .collect();
            let header: Vec<String> = t
                .columns
                .iter()
                .zip(&rate_cols)
                .flat_map(|(c, rate)| {
                    if *rate {
                        vec![
                            format!("{}_pct", c.key),
                            format!("{}_num", c.key),
                            format!("{}_den", c.key),
                        ]
                    } else {
                        vec![c.key.clone()]
                    }
                })
                .collect();
            let _ = w.write_record(&header);
            for row in &t.rows {
                let _ = w.write_record(row.iter().flat_map(Cell::csv));
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// A plain-text rendering for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            let _ = writeln!(out, "{}\n  {}", t.title, t.definition);
            let cells: Vec<Vec<String>> =
                std::iter::once(t.columns.iter().map(|c| c.label.clone()).collect())
                    .chain(t.rows.iter().map(|r| r.iter().map(Cell::display).collect()))
                    .collect();
            let widths: Vec<usize> = (0..t.columns.len())
                .map(|i| {
                    cells
                        .iter()
                        .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for r in &cells {
                let line: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                let _ = writeln!(out, "  {}", line.join("  ").trim_end());
            }
            if t.rows.is_empty() {
                let _ = writeln!(out, "  (nothing in this period)");
            }
            out.push('\n');
        }
        if !self.ignored.is_empty() {
            let _ = writeln!(
                out,
                "Not applied to this report: {}",
                self.ignored.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut t = Table::new(
            "satisfaction",
            "Satisfaction",
            "very + basically satisfied over those who answered",
            &[("answer", "Answer"), ("rate", "Rate")],
        );
        t.rows.push(vec![Cell::text("all"), Cell::rate(215, 221)]);
        t.rows.push(vec![Cell::text("none"), Cell::rate(0, 0)]);
        Report {
            kind: ReportKind::Satisfaction,
            period: Period { from: 0, to: 1 },
            filter: ReportFilter::default(),
            ignored: vec!["hotline"],
            tables: vec![t],
        }
    }

    #[test]
    fn rates_show_their_denominator() {
        assert_eq!(Cell::rate(215, 221).display(), "97.3% (215 of 221)");
        assert_eq!(Cell::rate(0, 0).display(), "— (0 of 0)");
        let text = sample().to_text();
        assert!(text.contains("97.3% (215 of 221)"), "{text}");
        assert!(
            text.contains("Not applied to this report: hotline"),
            "{text}"
        );
    }

    #[test]
    fn csv_splits_rates() {
        let csv = sample().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "answer,rate_pct,rate_num,rate_den");
        assert_eq!(lines[2], "all,97.285,215,221");
        assert_eq!(lines[3], "none,,0,0");
    }

    #[test]
    fn periods_are_local_days() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let p = Period::days(d("2026-01-01"), d("2026-01-31"), chrono_tz::Asia::Shanghai).unwrap();
        // Midnight in Shanghai is 16:00 UTC the day before.
        assert_eq!(crate::clock::rfc3339(p.from), "2025-12-31T16:00:00+00:00");
        assert_eq!(crate::clock::rfc3339(p.to), "2026-01-31T16:00:00+00:00");
        let y = p.a_year_earlier(chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(crate::clock::rfc3339(y.from), "2024-12-31T16:00:00+00:00");
        assert!(Period::days(d("2026-02-01"), d("2026-01-01"), chrono_tz::Asia::Shanghai).is_err());
        assert_eq!(
            ReportKind::parse("service_levels"),
            Some(ReportKind::ServiceLevels)
        );
    }
}
