//! The operator's working days.
//!
//! Rules:
//! - A date is a working day unless it is a listed `holiday`; a Saturday or Sunday is a day off
//!   unless it is a listed `workday` (调休, an adjusted working day). Dates not listed follow
//!   the weekday rule, so a year without data (not yet announced) still gets an answer.
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

use chrono::{Datelike, NaiveDate, Weekday};

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

/// Holidays and adjusted working days; everything else follows the weekday rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
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
    /// The built-in calendar (mainland China 2024–2026), parsed once.
    pub fn builtin() -> &'static Calendar {
        &BUILTIN
    }

    /// No holidays, no adjusted days: Monday to Friday.
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
    /// the `name` column is optional and extra columns are ignored.
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
        let mut cal = Calendar::default();
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

    /// The years the calendar lists any date in; outside them only the weekday rule applies.
    /// Callers may warn when a deadline falls beyond.
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

    pub fn is_holiday(&self, d: NaiveDate) -> bool {
        self.holidays.contains(&d)
    }

    pub fn is_adjusted_workday(&self, d: NaiveDate) -> bool {
        self.workdays.contains(&d)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.holidays.contains(&d) {
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
    fn years_without_data_follow_the_weekday_rule() {
        let cal = Calendar::builtin();
        // 1 October 2030 is a Tuesday: not announced yet, so a working day.
        assert!(cal.is_working_day(ymd(2030, 10, 1)));
        assert!(!cal.is_working_day(ymd(2030, 10, 5)));
        assert_eq!(
            cal.next_working_day_after(ymd(2030, 10, 4)),
            ymd(2030, 10, 7)
        );
        let empty = Calendar::weekdays_only();
        assert_eq!(empty.years(), None);
        assert!(empty.is_working_day(ymd(2025, 10, 1)));
        assert!(!empty.is_working_day(ymd(2025, 9, 28)));
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
        // Past the end of the listed years the real next working day is found.
        assert_eq!(cal.next_working_day_after(ymd(2028, 6, 1)), ymd(2029, 1, 1));
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
