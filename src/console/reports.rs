//! Reports for supervisors: a form (kind, period, filters), each table with its definition and
//! a bar chart drawn as inline SVG (no script, no external network), and the CSV export.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::agents::supervisors_only;
use super::text::T;
use super::{Me, fail, internal, layout, respond};
use crate::app::AppState;
use crate::prompts::Locale;
use crate::reports::params::{self, ReportParams};
use crate::reports::{self, Cell, Report, ReportCtx, ReportKind, Table};

/// The query of the page: the kind, then the same fields as the API.
#[derive(serde::Deserialize, Default)]
pub struct ReportQuery {
    kind: Option<String>,
    #[serde(flatten)]
    params: ReportParams,
}

/// Builds the report asked for, or the page saying which field is wrong.
async fn build(st: &AppState, me: &Me, q: &ReportQuery) -> Result<Report, Response> {
    let l = me.l();
    let refuse = |m: String| fail(l, StatusCode::BAD_REQUEST, T::BadRequest, &m);
    let kind = params::kind(q.kind.as_deref().unwrap_or("satisfaction"))
        .map_err(|e| refuse(e.to_string()))?;
    let cfg = &st.steps.cfg;
    let now = st.steps.clock.now_ms();
    let (period, filter) = q
        .params
        .parse(now, cfg.timezone)
        .map_err(|e| refuse(e.to_string()))?;
    let ctx = ReportCtx {
        store: st.steps.store.as_ref(),
        period,
        filter: &filter,
        now,
        tz: cfg.timezone,
        calendar: st.steps.desk.calendar.as_ref(),
    };
    reports::build(kind, &ctx).await.map_err(|e| internal(l, e))
}

pub async fn page(State(st): State<AppState>, me: Me, q: Query<ReportQuery>) -> Response {
    if let Err(r) = supervisors_only(&me) {
        return *r;
    }
    let l = me.l();
    let report = match build(&st, &me, &q).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let csv_link = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("kind", report.kind.as_str());
        for (k, v) in fields(&q.params) {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        format!("/console/reports.csv?{}", s.finish())
    };
    let body = html! {
        h1 { (T::Reports.get(l)) }
        form.filters method="get" action="/console/reports" {
            label { (T::Report.get(l))
                select name="kind" {
                    @for k in ReportKind::ALL {
                        option value=(k.as_str()) selected[k == report.kind] { (kind_label(k, l)) }
                    }
                }
            }
            @for (name, value) in fields(&q.params) {
                label { (name)
                    input name=(name) value=(value.unwrap_or(""))
                        type=(if name == "from" || name == "to" { "date" } else { "text" });
                }
            }
            button type="submit" { (T::Show.get(l)) }
        }
        p { a id="csv" href=(csv_link) { (T::DownloadCsv.get(l)) } }
        @if !report.ignored.is_empty() {
            p.note { (T::NotApplied.get(l)) ": " (report.ignored.join(", ")) }
        }
        @for t in &report.tables {
            (table(t, l))
        }
    };
    let title = kind_label(report.kind, l);
    respond(
        StatusCode::OK,
        layout(l, title, Some(&me), "/console/reports", body),
    )
}

pub async fn csv(State(st): State<AppState>, me: Me, q: Query<ReportQuery>) -> Response {
    if let Err(r) = supervisors_only(&me) {
        return *r;
    }
    match build(&st, &me, &q).await {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.csv\"", report.kind.as_str()),
                ),
            ],
            report.to_csv(),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// The form's fields with what was asked.
fn fields(p: &ReportParams) -> [(&'static str, Option<&str>); 7] {
    [
        ("from", p.from.as_deref()),
        ("to", p.to.as_deref()),
        ("service", p.service.as_deref()),
        ("line_kind", p.line_kind.as_deref()),
        ("customer_class", p.customer_class.as_deref()),
        ("campaign", p.campaign.as_deref()),
        ("hotline", p.hotline.as_deref()),
    ]
}

fn kind_label(k: ReportKind, l: Locale) -> &'static str {
    match k {
        ReportKind::Satisfaction => T::ReportSatisfaction,
        ReportKind::Surveys => T::ReportSurveys,
        ReportKind::ServiceLevels => T::ReportServiceLevels,
        ReportKind::Hotline => T::ReportHotline,
        ReportKind::Callbacks => T::ReportCallbacks,
        ReportKind::Complaints => T::ReportComplaints,
    }
    .get(l)
}

fn table(t: &Table, l: Locale) -> Markup {
    html! {
        section.report id=(t.key) {
            h2 { (t.title) }
            p.definition { (t.definition) }
            @if t.rows.is_empty() {
                p.empty { (T::NothingInPeriod.get(l)) }
            } @else {
                (chart(t))
                table {
                    thead { tr { @for c in &t.columns { th { (c.label) } } } }
                    tbody { @for r in &t.rows { tr { @for c in r { td { (c.display()) } } } } }
                }
            }
        }
    }
}

/// A cell as a bar's length, when it is a figure.
fn magnitude(c: &Cell) -> Option<f64> {
    match c {
        Cell::Count { value } => Some(*value as f64),
        Cell::Rate { num, den } => reports::figures::percent(*num, *den),
        Cell::Secs { value } | Cell::Number { value } => *value,
        Cell::Text { .. } => None,
    }
}

/// Bars of the table's first figure column, one per row but the summary, labelled by the
/// row's leading cells (a trend when rows are days or months, a comparison when they are
/// services); nothing when the table has no figure or a single row to draw.
fn chart(t: &Table) -> Markup {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 170.0;
    const WIDTH: f64 = 640.0;
    let Some(col) = (0..t.columns.len()).find(|i| {
        t.rows
            .iter()
            .any(|r| r.get(*i).and_then(magnitude).is_some())
    }) else {
        return html! {};
    };
    // The summary row would dwarf the rows it sums.
    let rows: Vec<&Vec<Cell>> = t
        .rows
        .iter()
        .filter(|r| !matches!(r.first(), Some(Cell::Text { value }) if value == "total" || value == "all"))
        .collect();
    if rows.len() < 2 {
        return html! {};
    }
    let bars: Vec<(String, Option<f64>, String)> = rows
        .iter()
        .map(|r| {
            let label = r
                .iter()
                .take(col)
                .map(Cell::display)
                .collect::<Vec<_>>()
                .join(" · ");
            let cell = r.get(col);
            (
                label,
                cell.and_then(magnitude),
                cell.map(Cell::display).unwrap_or_default(),
            )
        })
        .collect();
    let max = bars
        .iter()
        .filter_map(|b| b.1)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = ROW * bars.len() as f64 + 4.0;
    let scale = (WIDTH - LABEL - 150.0) / max;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height)
            viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
            aria-label=(t.columns.get(col).map_or("", |c| c.label.as_str())) {
            @for (i, (label, value, shown)) in bars.iter().enumerate() {
                @let y = ROW * i as f64 + 2.0;
                text x="0" y=(y + 15.0) { (label) }
                @if let Some(v) = value {
                    rect x=(LABEL) y=(y + 3.0) width=(v.max(0.0) * scale) height=(ROW - 6.0) {}
                }
                text x=(LABEL + value.unwrap_or(0.0).max(0.0) * scale + 6.0) y=(y + 15.0) { (shown) }
            }
        }
    }
}
