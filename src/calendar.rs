//! The operator's working days.
//!
//! Rules:
//! - A date is a working day unless it is a listed `holiday`; a Saturday or Sunday is a day off
//!   unless it is a listed `workday` (调休, an adjusted working day).
//! - The calendar covers whole years: from 1 January of the first year it lists a date in to
//!   31 December of the last. A date outside follows the fallback: Monday to Friday, less
//!   mainland China's statutory holidays computed from their fixed and lunar dates
//!   (`statutory_holidays`), with a weekday off in lieu of one that falls on a weekend. The
//!   State Council's real schedule moves days around (调休) in ways no rule predicts, so an
//!   answer from the fallback is an estimate: `covers` tells which are not, and
//!   `coverage_gap` warns while the coming `COVERAGE_AHEAD_DAYS` are not all covered.
//! - The calendar is a CSV `date,kind,name` (see `data/cn-calendar-2024-2026.csv`); the
//!   built-in one is embedded at compile time and a test proves it parses. An operator's file
//!   replaces it whole. A bad line is refused with its line number and what is wrong: a bad
//!   date, an unknown kind, a date listed twice, or a `workday` that is not a weekend day.
//! - Searches never run away: when no working day is found within `MAX_SEARCH_DAYS` (only a
//!   calendar that declares years of holidays does that), the answer falls back to the
//!   weekday rule alone, so a deadline stays near rather than disappearing. At the end of
//!   chrono's date range the answer saturates at `NaiveDate::MAX`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::LazyLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// How far ahead a working day is looked for before the calendar is deemed broken.
pub const MAX_SEARCH_DAYS: u32 = 366 * 2;

const BUILTIN_CSV: &str = include_str!("../data/cn-calendar-2024-2026.csv");

static BUILTIN: LazyLock<Calendar> = LazyLock::new(|| {
    // The embedded file is checked by `builtin_calendar_parses`; should it ever be broken the
    // hotline still runs on the weekday rule rather than refusing every deadline.
    Calendar::from_csv(BUILTIN_CSV).unwrap_or_else(|e| {
        tracing::error!(error = %e, "built-in calendar is invalid; using weekdays only");
        Calendar::weekdays_only()
    })
});

/// How far ahead the calendar should cover: the longest promise (15 working days) with room
/// to install next year's schedule when it is published.
pub const COVERAGE_AHEAD_DAYS: u64 = 60;

/// Holidays and adjusted working days of the covered years; other dates follow `Fallback`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    fallback: Fallback,
}

/// The rule for dates the calendar does not cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fallback {
    /// Monday to Friday.
    #[default]
    Weekdays,
    /// Monday to Friday less mainland China's statutory holidays (`statutory_holidays`).
    ChinaStatutory,
}

/// The calendar does not cover all of the coming `COVERAGE_AHEAD_DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverageGap {
    /// The last covered date; `None` for a calendar that lists nothing.
    pub covered_until: Option<NaiveDate>,
}

impl std::fmt::Display for CoverageGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.covered_until {
            Some(d) => write!(f, "the working-day calendar ends on {d}"),
            None => write!(f, "the working-day calendar lists no dates"),
        }?;
        write!(
            f,
            ": deadlines and calling days after that are estimated from weekends and the \
             statutory holidays; install the official schedule (README, \"Working days\")"
        )
    }
}

/// Why a calendar could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("calendar file {path}: {source}")]
    File {
        path: String,
        source: Box<CalendarError>,
    },
    #[error("line {line}: {problem}")]
    Line { line: u64, problem: LineProblem },
}

/// What is wrong with one line of a calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("the header must name the columns date and kind (e.g. `date,kind,name`), got {0:?}")]
    Header(String),
    #[error("not CSV: {0}")]
    Csv(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("bad date {0:?}, expected YYYY-MM-DD")]
    BadDate(String),
    #[error("unknown kind {0:?}, expected holiday or workday")]
    UnknownKind(String),
    #[error("{date} is listed twice (first on line {first_line})")]
    Duplicate { date: NaiveDate, first_line: u64 },
    #[error("{date} is a {weekday}: only a Saturday or Sunday can be an adjusted workday")]
    WorkdayNotWeekend { date: NaiveDate, weekday: Weekday },
}

impl Calendar {
    /// The built-in calendar (mainland China 2024–2026, then the statutory fallback), parsed
    /// once.
    pub fn builtin() -> &'static Calendar {
        &BUILTIN
    }

    /// No holidays, no adjusted days, no fallback holidays: Monday to Friday, always.
    pub fn weekdays_only() -> Calendar {
        Calendar::default()
    }

    /// Reads an operator's calendar file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<Calendar, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Calendar::from_csv(&text).map_err(|e| CalendarError::File {
            path: path.display().to_string(),
            source: Box::new(e),
        })
    }

    /// Parses `date,kind,name` rows under a header; blank lines and `#` comments are skipped,
    /// the `name` column is optional and extra columns are ignored. Dates outside the years
    /// listed follow China's statutory fallback.
    pub fn from_csv(text: &str) -> Result<Calendar, CalendarError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let at = |line: u64, problem: LineProblem| CalendarError::Line { line, problem };
        let headers = reader
            .headers()
            .map_err(|e| at(csv_line(&e), LineProblem::Csv(e.to_string())))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(date_col), Some(kind_col)) = (column("date"), column("kind")) else {
            let line = headers.position().map_or(1, csv::Position::line);
            let got = headers.iter().collect::<Vec<_>>().join(",");
            return Err(at(line, LineProblem::Header(got)));
        };

        let mut seen: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        let mut cal = Calendar {
            fallback: Fallback::ChinaStatutory,
            ..Calendar::default()
        };
        for record in reader.records() {
            let record = record.map_err(|e| at(csv_line(&e), LineProblem::Csv(e.to_string())))?;
            let line = record.position().map_or(0, csv::Position::line);
            if record.iter().all(str::is_empty) {
                continue;
            }
            let field = |i: usize, what: &'static str| {
                record
                    .get(i)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| at(line, LineProblem::Missing(what)))
            };
            let raw_date = field(date_col, "date")?;
            let date = NaiveDate::parse_from_str(raw_date, "%Y-%m-%d")
                .map_err(|_| at(line, LineProblem::BadDate(raw_date.to_string())))?;
            let kind = field(kind_col, "kind")?;
            if let Some(&first_line) = seen.get(&date) {
                return Err(at(line, LineProblem::Duplicate { date, first_line }));
            }
            match kind.to_ascii_lowercase().as_str() {
                "holiday" => {
                    cal.holidays.insert(date);
                }
                "workday" => {
                    if !is_weekend(date) {
                        let weekday = date.weekday();
                        return Err(at(line, LineProblem::WorkdayNotWeekend { date, weekday }));
                    }
                    cal.workdays.insert(date);
                }
                _ => return Err(at(line, LineProblem::UnknownKind(kind.to_string()))),
            }
            seen.insert(date, line);
        }
        Ok(cal)
    }

    /// The years the calendar lists any date in; outside them the fallback applies.
    pub fn years(&self) -> Option<RangeInclusive<i32>> {
        let first = [self.holidays.first(), self.workdays.first()]
            .into_iter()
            .flatten()
            .min()?;
        let last = [self.holidays.last(), self.workdays.last()]
            .into_iter()
            .flatten()
            .max()?;
        Some(first.year()..=last.year())
    }

    /// The dates the calendar covers: whole years, see the module rules.
    pub fn covered(&self) -> Option<RangeInclusive<NaiveDate>> {
        let years = self.years()?;
        let first = NaiveDate::from_ymd_opt(*years.start(), 1, 1)?;
        let last = NaiveDate::from_ymd_opt(*years.end(), 12, 31)?;
        Some(first..=last)
    }

    /// Whether `d` is answered from the calendar's own data rather than the fallback.
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.covered().is_some_and(|r| r.contains(&d))
    }

    /// `Some` when a day of `today` and the `COVERAGE_AHEAD_DAYS` after it is not covered.
    pub fn coverage_gap(&self, today: NaiveDate) -> Option<CoverageGap> {
        let ahead = today
            .checked_add_days(Days::new(COVERAGE_AHEAD_DAYS))
            .unwrap_or(NaiveDate::MAX);
        let covered = self.covered();
        let enough = covered
            .as_ref()
            .is_some_and(|r| r.contains(&today) && r.contains(&ahead));
        (!enough).then(|| CoverageGap {
            covered_until: covered.map(|r| *r.end()),
        })
    }

    /// How many holidays and adjusted working days the calendar lists.
    pub fn listed(&self) -> (usize, usize) {
        (self.holidays.len(), self.workdays.len())
    }

    pub fn fallback(&self) -> Fallback {
        self.fallback
    }

    pub fn is_holiday(&self, d: NaiveDate) -> bool {
        if self.covers(d) {
            return self.holidays.contains(&d);
        }
        match self.fallback {
            Fallback::Weekdays => false,
            Fallback::ChinaStatutory => statutory_holidays(d.year()).iter().any(|h| h.date == d),
        }
    }

    pub fn is_adjusted_workday(&self, d: NaiveDate) -> bool {
        self.workdays.contains(&d)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.is_holiday(d) {
            return false;
        }
        self.workdays.contains(&d) || !is_weekend(d)
    }

    /// The first working day strictly after `d`; see the module rules for the bounds.
    pub fn next_working_day_after(&self, d: NaiveDate) -> NaiveDate {
        let mut day = d;
        for _ in 0..MAX_SEARCH_DAYS {
            let Some(next) = day.succ_opt() else {
                return NaiveDate::MAX;
            };
            day = next;
            if self.is_working_day(day) {
                return day;
            }
        }
        next_weekday_after(d)
    }

    /// The `n`th working day after `d` (`d` itself when `n` is 0, working day or not).
    pub fn add_working_days(&self, d: NaiveDate, n: u32) -> NaiveDate {
        let mut day = d;
        for _ in 0..n {
            if day == NaiveDate::MAX {
                break;
            }
            day = self.next_working_day_after(day);
        }
        day
    }
}

/// A day off by the statutory rule, for the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatutoryHoliday {
    pub date: NaiveDate,
    /// The holiday's Chinese name (`元旦`, `春节`, …).
    pub name: &'static str,
    /// A weekday off in lieu of a holiday that fell on a weekend (补假).
    pub in_lieu: bool,
}

/// Lunar holidays by year from 2025 (when the eve became a holiday): the Spring Festival's eve
/// (除夕, the day before the first of the first lunar month), the Dragon Boat Festival (5th of
/// the 5th month) and the Mid-Autumn Festival (15th of the 8th), as month and day.
const LUNAR_FROM: i32 = 2025;
const LUNAR: [[(u32, u32); 3]; 16] = [
    [(1, 28), (5, 31), (10, 6)], // 2025
    [(2, 16), (6, 19), (9, 25)], // 2026
    [(2, 5), (6, 9), (9, 15)],   // 2027
    [(1, 25), (5, 28), (10, 3)], // 2028
    [(2, 12), (6, 16), (9, 22)], // 2029
    [(2, 2), (6, 5), (9, 12)],   // 2030
    [(1, 22), (6, 24), (10, 1)], // 2031
    [(2, 10), (6, 12), (9, 19)], // 2032
    [(1, 30), (6, 1), (9, 8)],   // 2033
    [(2, 18), (6, 20), (9, 27)], // 2034
    [(2, 7), (6, 10), (9, 16)],  // 2035
    [(1, 27), (5, 30), (10, 4)], // 2036
    [(2, 14), (6, 18), (9, 24)], // 2037
    [(2, 3), (6, 7), (9, 13)],   // 2038
    [(1, 23), (5, 27), (10, 2)], // 2039
    [(2, 11), (6, 14), (9, 20)], // 2040
];

/// The days off of `year` by the State Council's rules on public holidays (as revised for
/// 2025): New Year's Day (1 January), the Spring Festival (its eve and the first three days
/// of the lunar year), Qingming (the solar term, 4 or 5 April), Labour Day (1–2 May), the
/// Dragon Boat Festival, the Mid-Autumn Festival and National Day (1–3 October); a holiday on
/// a Saturday or Sunday gives the next free weekday off instead. Lunar dates are tabled for
/// 2025–2040; for other years only the fixed dates and Qingming are known. In date order.
pub fn statutory_holidays(year: i32) -> Vec<StatutoryHoliday> {
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d);
    let mut days: Vec<(NaiveDate, &'static str)> = Vec::new();
    let mut add = |date: Option<NaiveDate>, n: u64, name: &'static str| {
        for k in 0..n {
            if let Some(d) = date.and_then(|d| d.checked_add_days(Days::new(k))) {
                days.push((d, name));
            }
        }
    };
    add(day(1, 1), 1, "元旦");
    add(day(4, qingming_day(year)), 1, "清明节");
    add(day(5, 1), 2, "劳动节");
    add(day(10, 1), 3, "国庆节");
    let lunar = usize::try_from(year - LUNAR_FROM)
        .ok()
        .and_then(|i| LUNAR.get(i));
    if let Some([(em, ed), (bm, bd), (mm, md)]) = lunar {
        add(day(*em, *ed), 4, "春节");
        add(day(*bm, *bd), 1, "端午节");
        add(day(*mm, *md), 1, "中秋节");
    }
    days.sort();
    days.dedup_by_key(|(d, _)| *d);
    let mut out: Vec<StatutoryHoliday> = (days.iter())
        .map(|&(date, name)| StatutoryHoliday {
            date,
            name,
            in_lieu: false,
        })
        .collect();
    for &(date, name) in days.iter().filter(|(d, _)| is_weekend(*d)) {
        let mut d = date;
        while let Some(next) = d.succ_opt() {
            d = next;
            if !is_weekend(d) && !out.iter().any(|h| h.date == d) {
                out.push(StatutoryHoliday {
                    date: d,
                    name,
                    in_lieu: true,
                });
                break;
            }
        }
    }
    out.sort_by_key(|h| h.date);
    out
}

/// Qingming's day in April: the solar term's common formula for 2001–2099 (4 or 5 April;
/// 5 outside that range).
fn qingming_day(year: i32) -> u32 {
    if !(2001..=2099).contains(&year) {
        return 5;
    }
    let y = f64::from(year % 100);
    let day = (y * 0.2422 + 4.81).floor() - (y / 4.0).floor();
    if day == 4.0 { 4 } else { 5 }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The next Monday to Friday, ignoring holidays: the fallback for a calendar without working
/// days.
fn next_weekday_after(d: NaiveDate) -> NaiveDate {
    let mut day = d;
    // A weekday is at most three days on (Friday → Monday).
    for _ in 0..3 {
        match day.succ_opt() {
            Some(next) => day = next,
            None => return NaiveDate::MAX,
        }
        if !is_weekend(day) {
            break;
        }
    }
    day
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, csv::Position::line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn line_problem(text: &str) -> (u64, LineProblem) {
        match Calendar::from_csv(text) {
            Err(CalendarError::Line { line, problem }) => (line, problem),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn builtin_calendar_parses() {
        let parsed = Calendar::from_csv(BUILTIN_CSV).expect("built-in calendar parses");
        assert_eq!(&parsed, Calendar::builtin());
        assert_eq!(parsed.years(), Some(2024..=2026));
        assert_eq!(parsed.holidays.len() + parsed.workdays.len(), 108);
    }

    #[test]
    fn national_day_2025() {
        let cal = Calendar::builtin();
        for day in 1..=8 {
            let d = ymd(2025, 10, day);
            assert!(cal.is_holiday(d), "{d}");
            assert!(!cal.is_working_day(d), "{d}");
        }
        // Sunday 28 September and Saturday 11 October are worked to make up for it.
        assert_eq!(ymd(2025, 9, 28).weekday(), Weekday::Sun);
        assert!(cal.is_adjusted_workday(ymd(2025, 9, 28)));
        assert!(cal.is_working_day(ymd(2025, 9, 28)));
        assert_eq!(ymd(2025, 10, 11).weekday(), Weekday::Sat);
        assert!(cal.is_working_day(ymd(2025, 10, 11)));
        assert!(!cal.is_working_day(ymd(2025, 10, 12)), "an ordinary Sunday");
        assert!(cal.is_working_day(ymd(2025, 10, 9)));

        assert_eq!(
            cal.next_working_day_after(ymd(2025, 9, 27)),
            ymd(2025, 9, 28)
        );
        assert_eq!(
            cal.next_working_day_after(ymd(2025, 9, 30)),
            ymd(2025, 10, 9)
        );
        assert_eq!(
            cal.next_working_day_after(ymd(2025, 10, 10)),
            ymd(2025, 10, 11)
        );
        assert_eq!(
            cal.next_working_day_after(ymd(2025, 10, 11)),
            ymd(2025, 10, 13)
        );
    }

    #[test]
    fn spring_festival_2026() {
        let cal = Calendar::builtin();
        // Saturday 14 February is worked; the 15th to the 23rd are off; Saturday 28th worked.
        assert!(cal.is_working_day(ymd(2026, 2, 14)));
        for day in 15..=23 {
            assert!(!cal.is_working_day(ymd(2026, 2, day)), "2026-02-{day}");
        }
        assert!(cal.is_working_day(ymd(2026, 2, 24)));
        assert!(cal.is_working_day(ymd(2026, 2, 28)));
        assert!(!cal.is_working_day(ymd(2026, 3, 1)), "an ordinary Sunday");
        assert_eq!(
            cal.next_working_day_after(ymd(2026, 2, 13)),
            ymd(2026, 2, 14)
        );
        assert_eq!(
            cal.next_working_day_after(ymd(2026, 2, 14)),
            ymd(2026, 2, 24)
        );
        // 24, 25, 26, 27, 28 (Saturday, worked), then Monday 2 March.
        assert_eq!(cal.add_working_days(ymd(2026, 2, 14), 6), ymd(2026, 3, 2));
    }

    #[test]
    fn ordinary_weekend() {
        let cal = Calendar::builtin();
        let (fri, sat, sun, mon) = (
            ymd(2026, 3, 13),
            ymd(2026, 3, 14),
            ymd(2026, 3, 15),
            ymd(2026, 3, 16),
        );
        assert!(cal.is_working_day(fri));
        assert!(!cal.is_working_day(sat) && !cal.is_working_day(sun));
        assert!(cal.is_working_day(mon));
        for d in [fri, sat, sun] {
            assert_eq!(cal.next_working_day_after(d), mon, "{d}");
        }
        assert_eq!(cal.add_working_days(fri, 0), fri);
        assert_eq!(cal.add_working_days(sat, 0), sat);
        assert_eq!(cal.add_working_days(fri, 1), mon);
        assert_eq!(cal.add_working_days(fri, 5), ymd(2026, 3, 20));
        assert_eq!(cal.add_working_days(fri, 6), ymd(2026, 3, 23));
    }

    #[test]
    fn fifteen_working_days_across_national_day() {
        let cal = Calendar::builtin();
        // From Friday 26 September 2025: 28, 29, 30 Sep; 9, 10, 11 (Sat), 13–17, 20–23 Oct.
        assert_eq!(
            cal.add_working_days(ymd(2025, 9, 26), 15),
            ymd(2025, 10, 23)
        );
    }

    #[test]
    fn years_without_data_follow_weekends_and_the_statutory_holidays() {
        let cal = Calendar::builtin();
        assert!(cal.covers(ymd(2026, 12, 31)) && !cal.covers(ymd(2027, 1, 1)));
        // 2027: New Year's Day is a Friday; the Spring Festival runs from Friday 5 February
        // (the eve) to Monday 8, and its Saturday and Sunday give Tuesday 9 and Wednesday 10.
        assert!(!cal.is_working_day(ymd(2027, 1, 1)));
        assert_eq!(
            cal.next_working_day_after(ymd(2026, 12, 31)),
            ymd(2027, 1, 4)
        );
        for day in 5..=10 {
            assert!(!cal.is_working_day(ymd(2027, 2, day)), "2027-02-{day}");
        }
        assert_eq!(
            cal.next_working_day_after(ymd(2027, 2, 4)),
            ymd(2027, 2, 11)
        );
        // Qingming, Monday 5 April; National Day, Friday 1 to Sunday 3 October, and two days
        // in lieu.
        assert!(!cal.is_working_day(ymd(2027, 4, 5)));
        assert_eq!(
            cal.next_working_day_after(ymd(2027, 9, 30)),
            ymd(2027, 10, 6)
        );
        // 1 October 2030 is a Tuesday: a holiday by the rule, though not announced yet.
        assert!(!cal.is_working_day(ymd(2030, 10, 1)));
        assert_eq!(
            cal.next_working_day_after(ymd(2030, 9, 30)),
            ymd(2030, 10, 4)
        );

        let empty = Calendar::weekdays_only();
        assert_eq!(empty.years(), None);
        assert!(empty.is_working_day(ymd(2025, 10, 1)));
        assert!(empty.is_working_day(ymd(2030, 10, 1)));
        assert!(!empty.is_working_day(ymd(2025, 9, 28)));
    }

    /// The rule and its lunar table agree with the State Council's real schedules: every day
    /// it names in 2025 and 2026 (other than days in lieu, which the real schedule arranges
    /// its own way) is a holiday in the built-in data.
    #[test]
    fn the_statutory_rule_matches_the_published_years() {
        let cal = Calendar::builtin();
        for year in [2025, 2026] {
            let days = statutory_holidays(year);
            let named: Vec<_> = days.iter().filter(|h| !h.in_lieu).collect();
            assert_eq!(named.len(), 13, "{year}: 13 days off by the 2025 rules");
            for h in named {
                assert!(cal.holidays.contains(&h.date), "{year}: {h:?}");
            }
        }
        // Qingming by the formula, against the published dates.
        assert_eq!(qingming_day(2024), 4);
        assert!(cal.holidays.contains(&ymd(2024, 4, 4)));
        assert_eq!(qingming_day(2026), 5);
    }

    #[test]
    fn coverage_is_short_within_sixty_days_of_the_end() {
        let cal = Calendar::builtin();
        assert_eq!(cal.coverage_gap(ymd(2026, 10, 1)), None);
        let gap = cal
            .coverage_gap(ymd(2026, 12, 7))
            .expect("ends within 60 days");
        assert_eq!(gap.covered_until, Some(ymd(2026, 12, 31)));
        let msg = gap.to_string();
        assert!(
            msg.starts_with("the working-day calendar ends on 2026-12-31"),
            "{msg}"
        );
        assert!(msg.contains("estimated") && msg.contains("README"), "{msg}");
        assert_eq!(
            Calendar::weekdays_only().coverage_gap(ymd(2026, 1, 1)),
            Some(CoverageGap {
                covered_until: None
            })
        );
        // Before the first covered year is not covered either.
        assert!(cal.coverage_gap(ymd(2023, 12, 1)).is_some());
    }

    #[test]
    fn a_calendar_of_only_holidays_falls_back_to_weekdays() {
        let mut text = String::from("date,kind,name\n");
        let mut d = ymd(2026, 1, 1);
        while d.year() < 2029 {
            text.push_str(&format!("{d},holiday,Closed\n"));
            d = d.succ_opt().expect("next day");
        }
        let cal = Calendar::from_csv(&text).expect("parses");
        // Friday 2 January 2026 → Monday 5 January, by the weekday rule.
        assert_eq!(cal.next_working_day_after(ymd(2026, 1, 2)), ymd(2026, 1, 5));
        assert_eq!(cal.add_working_days(ymd(2026, 1, 2), 2), ymd(2026, 1, 6));
        // Past the end of the listed years the fallback finds the real next working day:
        // 1 January 2029 is New Year's Day.
        assert_eq!(cal.next_working_day_after(ymd(2028, 6, 1)), ymd(2029, 1, 2));
    }

    #[test]
    fn the_end_of_time_saturates() {
        let cal = Calendar::builtin();
        assert_eq!(cal.next_working_day_after(NaiveDate::MAX), NaiveDate::MAX);
        assert_eq!(cal.add_working_days(NaiveDate::MAX, 15), NaiveDate::MAX);
        let near = NaiveDate::MAX.pred_opt().expect("a day before");
        assert_eq!(cal.add_working_days(near, 1000), NaiveDate::MAX);
    }

    #[test]
    fn optional_name_comments_blank_lines_and_quotes() {
        let cal = Calendar::from_csv(
            "\u{feff}date,kind\n# our own closure\n\n2026-06-01,holiday\n\"2026-06-06\",\"workday\"\n",
        )
        .expect("parses");
        assert!(!cal.is_working_day(ymd(2026, 6, 1)));
        assert!(cal.is_working_day(ymd(2026, 6, 6)));
        assert_eq!(cal.years(), Some(2026..=2026));
        let reordered = Calendar::from_csv("name,kind,date\nNew Year,holiday,2026-01-01\n")
            .expect("columns found by name");
        assert!(reordered.is_holiday(ymd(2026, 1, 1)));
    }

    #[test]
    fn bad_lines_are_named() {
        let (line, problem) =
            line_problem("date,kind,name\n2025-10-01,holiday,ok\n2025-13-01,holiday,x\n");
        assert_eq!(line, 3);
        assert_eq!(problem, LineProblem::BadDate("2025-13-01".into()));

        let (line, problem) = line_problem("date,kind,name\n2025-10-01,vacation,x\n");
        assert_eq!(line, 2);
        assert_eq!(problem, LineProblem::UnknownKind("vacation".into()));

        let (line, problem) = line_problem(
            "date,kind,name\n2025-10-01,holiday,a\n2025-10-02,holiday,b\n2025-10-01,holiday,c\n",
        );
        assert_eq!(line, 4);
        assert_eq!(
            problem,
            LineProblem::Duplicate {
                date: ymd(2025, 10, 1),
                first_line: 2
            }
        );

        // Listed once as a holiday and once as a workday is still twice.
        let (line, _) = line_problem("date,kind\n2025-09-28,workday\n2025-09-28,holiday\n");
        assert_eq!(line, 3);

        let (line, problem) = line_problem("date,kind\n2025-09-29,workday\n");
        assert_eq!(line, 2);
        assert_eq!(
            problem,
            LineProblem::WorkdayNotWeekend {
                date: ymd(2025, 9, 29),
                weekday: Weekday::Mon
            }
        );

        let (line, problem) = line_problem("date,kind\n2025-10-01\n");
        assert_eq!((line, problem), (2, LineProblem::Missing("kind")));

        let (line, problem) = line_problem("day,type\n2025-10-01,holiday\n");
        assert_eq!(line, 1);
        assert!(matches!(problem, LineProblem::Header(_)), "{problem:?}");
    }

    #[test]
    fn error_messages_read_well() {
        let err = Calendar::from_csv("date,kind\n2025-10-01,holiday\n2025-10-01,holiday\n")
            .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "line 3: 2025-10-01 is listed twice (first on line 2)"
        );
        let err = Calendar::from_csv("date,kind\n2025/10/01,holiday\n").expect_err("bad date");
        assert_eq!(
            err.to_string(),
            "line 2: bad date \"2025/10/01\", expected YYYY-MM-DD"
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cal.csv");
        std::fs::write(
            &path,
            "date,kind,name\n2027-02-06,holiday,Spring Festival\n",
        )
        .expect("write");
        let cal = Calendar::load(&path).expect("loads");
        assert!(cal.is_holiday(ymd(2027, 2, 6)));

        std::fs::write(&path, "date,kind,name\n2027-02-30,holiday,x\n").expect("write");
        let err = Calendar::load(&path).expect_err("bad date");
        let msg = err.to_string();
        assert!(msg.contains("cal.csv") && msg.contains("line 2"), "{msg}");
        assert!(msg.contains("2027-02-30"), "{msg}");

        let err = Calendar::load(&dir.path().join("missing.csv")).expect_err("missing");
        assert!(matches!(err, CalendarError::Read { .. }), "{err:?}");
    }
}
