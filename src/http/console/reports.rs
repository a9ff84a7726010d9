//! Reports for supervisors: a form (kind, period, filters), each table with its definition and
//! a bar chart drawn as inline SVG (no script, no external network), and the CSV export.
//!
//! The builders write tables in English (as the API, the CSV export and the command line show
//! them); a Chinese supervisor sees titles, definitions, column labels and the builders' fixed
//! words in Chinese (`report_text`), falling back to the English text for a key it lacks.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::agents::supervisors_only;
use super::refusal;
use super::report_text;
use super::text::{self, T};
use super::{Me, fail, internal, layout, respond};
use crate::http::AppState;
use crate::prompts::Locale;
use crate::reports::params::ReportParams;
use crate::reports::{self, Cell, Column, Report, ReportError, ReportKind, Table};
use crate::tickets::TicketKind;

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
    let kind = q.kind.as_deref().unwrap_or("satisfaction");
    st.report(kind, &q.params).await.map_err(|e| match e {
        ReportError::Param(p) => fail(
            l,
            StatusCode::BAD_REQUEST,
            T::BadRequest,
            &refusal::field(p.field, &p.message, l),
        ),
        ReportError::Store(s) => internal(l, s),
    })
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
    let all_campaigns = match st.store.campaigns().await {
        Ok(c) => c,
        Err(e) => return internal(l, e),
    };
    let hotlines = match hotline_numbers(&st, &all_campaigns).await {
        Ok(h) => h,
        Err(e) => return internal(l, e),
    };
    let campaigns: Vec<(String, String)> = (all_campaigns.into_iter())
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    let choices = Choices {
        campaigns: &campaigns,
        hotlines: &hotlines,
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
                label { (field_label(name, l)) (filter_input(name, value.unwrap_or(""), l, &choices)) }
            }
            button type="submit" { (T::Show.get(l)) }
        }
        p { a id="csv" href=(csv_link) { (T::DownloadCsv.get(l)) } }
        @if !report.ignored.is_empty() {
            p.note {
                (T::NotApplied.get(l)) ": "
                (report.ignored.iter().map(|n| field_label(n, l)).collect::<Vec<_>>().join(", "))
            }
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

/// Most hotline numbers offered: an operator has a handful; past this many the list would be
/// no help, and the rest can still be asked for by link.
const MAX_HOTLINES: i64 = 100;

/// The hotline numbers a report can be filtered by: those callers dialed, the one configured
/// for callbacks and those campaigns call from, in order, once each.
async fn hotline_numbers(
    st: &AppState,
    campaigns: &[crate::callbacks::Campaign],
) -> Result<Vec<String>, crate::repo::StoreError> {
    let mut numbers = st.store.hotline_numbers(MAX_HOTLINES).await?;
    numbers.extend(st.cfg.callbacks.from_number.clone());
    numbers.extend(campaigns.iter().map(|c| c.from_number.clone()));
    numbers.sort();
    numbers.dedup();
    Ok(numbers)
}

/// What the choice filters offer besides the fixed kinds.
struct Choices<'a> {
    /// Campaign id and name.
    campaigns: &'a [(String, String)],
    hotlines: &'a [String],
}

/// A filter's control: dates pick a day, every other filter is a choice (a value not among
/// them, from a hand-made link, stays selectable so the page shows what was asked).
fn filter_input(name: &str, value: &str, l: Locale, choices: &Choices<'_>) -> Markup {
    let campaigns = choices.campaigns;
    let choices: Vec<(String, String)> = match name {
        "from" | "to" => return html! { input name=(name) value=(value) type="date"; },
        "service" => (TicketKind::ALL.iter())
            .map(|k| {
                (
                    k.as_str().to_string(),
                    text::ticket_kind(*k).get(l).to_string(),
                )
            })
            .collect(),
        "line_kind" => [
            ("phone", T::LinePhone),
            ("broadband", T::LineBroadband),
            ("leased", T::LineLeased),
        ]
        .map(|(v, t)| (v.to_string(), t.get(l).to_string()))
        .to_vec(),
        "customer_class" => [
            ("residential", T::ClassResidential),
            ("business", T::ClassBusiness),
        ]
        .map(|(v, t)| (v.to_string(), t.get(l).to_string()))
        .to_vec(),
        "campaign" => campaigns.to_vec(),
        "hotline" => (choices.hotlines.iter())
            .map(|n| (n.clone(), n.clone()))
            .collect(),
        _ => return html! { input name=(name) value=(value); },
    };
    let known = value.is_empty() || choices.iter().any(|(v, _)| v == value);
    html! {
        select name=(name) {
            option value="" selected[value.is_empty()] { (T::Any.get(l)) }
            @for (v, label) in &choices {
                option value=(v) selected[v == value] { (label) }
            }
            @if !known { option value=(value) selected { (value) } }
        }
    }
}

/// A filter's label, by its field name (the name itself for one unknown here).
fn field_label(name: &str, l: Locale) -> &str {
    let t = match name {
        "from" => T::ReportFrom,
        "to" => T::ReportTo,
        "service" => T::ReportService,
        "line_kind" => T::ReportLineKind,
        "customer_class" => T::ReportCustomerClass,
        "campaign" => T::ReportCampaign,
        "hotline" => T::ReportHotlineNumber,
        _ => return name,
    };
    t.get(l)
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

/// The table's title and definition in `l`.
fn heading(t: &Table, l: Locale) -> (&str, &str) {
    match l {
        Locale::ZhCn => report_text::zh_table(&t.key),
        Locale::EnUs => None,
    }
    .unwrap_or((&t.title, &t.definition))
}

/// A column's label in `l`.
fn column_label<'a>(t: &Table, c: &'a Column, l: Locale) -> &'a str {
    match l {
        Locale::ZhCn => report_text::zh_column(&t.key, &c.key),
        Locale::EnUs => None,
    }
    .unwrap_or(&c.label)
}

/// The cell of column `col` as a reader of `l` reads it: in Chinese, the builders' fixed
/// words translated and figures with Chinese units; names, dates and numbers as they are.
fn cell_text(t: &Table, col: usize, c: &Cell, l: Locale) -> String {
    match (l, c) {
        (Locale::EnUs, _) => c.display(),
        (Locale::ZhCn, Cell::Text { value }) => t
            .columns
            .get(col)
            .and_then(|k| report_text::zh_cell(&k.key, value))
            .unwrap_or_else(|| value.clone()),
        (Locale::ZhCn, _) => report_text::zh_display(c),
    }
}

fn table(t: &Table, l: Locale) -> Markup {
    let (title, definition) = heading(t, l);
    html! {
        section.report id=(t.key) {
            h2 { (title) }
            p.definition { (definition) }
            @if t.rows.is_empty() {
                p.empty { (T::NothingInPeriod.get(l)) }
            } @else {
                (chart(t, l))
                table {
                    thead { tr { @for c in &t.columns { th { (column_label(t, c, l)) } } } }
                    tbody {
                        @for r in &t.rows {
                            tr { @for (i, c) in r.iter().enumerate() { td { (cell_text(t, i, c, l)) } } }
                        }
                    }
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
fn chart(t: &Table, l: Locale) -> Markup {
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
                .enumerate()
                .map(|(i, c)| cell_text(t, i, c, l))
                .collect::<Vec<_>>()
                .join(" · ");
            let cell = r.get(col);
            (
                label,
                cell.and_then(magnitude),
                cell.map(|c| cell_text(t, col, c, l)).unwrap_or_default(),
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
            aria-label=(t.columns.get(col).map_or("", |c| column_label(t, c, l))) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &str) -> Table {
        let mut t = Table::new(
            key,
            "Service levels: deadlines kept",
            "Compliance = met / (met + breached)",
            &[
                ("kind", "Kind"),
                ("customer_class", "Customer class"),
                ("compliance", "Compliance"),
                ("new_column", "New column"),
            ],
        );
        t.rows.push(vec![
            Cell::text("fault"),
            Cell::text("residential"),
            Cell::rate(3, 4),
            Cell::secs(Some(7200.0)),
        ]);
        t.rows.push(vec![
            Cell::text("all"),
            Cell::text("all"),
            Cell::rate(3, 4),
            Cell::secs(Some(7200.0)),
        ]);
        t
    }

    #[test]
    fn a_chinese_supervisor_reads_tables_in_chinese() {
        let zh = table(&sample("compliance"), Locale::ZhCn).into_string();
        for s in [
            "服务时限",
            "达标率",
            "客户类别",
            "故障",
            "住宅",
            "全部",
            "75.0%（3/4）",
            "2.0 小时",
        ] {
            assert!(zh.contains(s), "{s} not in {zh}");
        }
        for s in [
            "Service levels",
            "Compliance =",
            ">Kind<",
            ">fault<",
            ">all<",
            " of ",
        ] {
            assert!(!zh.contains(s), "{s} in {zh}");
        }
        // A column the Chinese texts lack keeps its English label rather than none.
        assert!(zh.contains("New column"), "{zh}");
    }

    #[test]
    fn english_is_unchanged_and_a_new_table_is_never_blank() {
        let en = table(&sample("compliance"), Locale::EnUs).into_string();
        for s in [
            "Service levels",
            ">Kind<",
            ">fault<",
            ">all<",
            "75.0% (3 of 4)",
            "2.0 h",
        ] {
            assert!(en.contains(s), "{s} not in {en}");
        }
        let zh = table(&sample("a_new_table"), Locale::ZhCn).into_string();
        assert!(zh.contains("Service levels: deadlines kept"), "{zh}");
        assert!(zh.contains("Compliance = met"), "{zh}");
    }

    #[test]
    fn filters_have_labels_in_both_languages() {
        for (name, _) in fields(&ReportParams::default()) {
            assert_ne!(field_label(name, Locale::ZhCn), name);
            assert_ne!(field_label(name, Locale::EnUs), name);
        }
        assert_eq!(field_label("line_kind", Locale::ZhCn), "线路类型");
    }
}
