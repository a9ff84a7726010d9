//! The calling window: when a customer may be called.
//!
//! Rules:
//! - A window is a time of day `start`–`end` (`start` before `end`, both `HH:MM`, no window
//!   runs past midnight) on some weekdays (`days`, every day unless told), in the CUSTOMER's
//!   time zone: each callback carries its own zone and the same window opens at different
//!   instants for different customers.
//! - Days come from the operator's calendar: with `skip_holidays` (the default) nobody is called
//!   on a listed holiday; with `working_days_only` (off by default) only on working days, which
//!   includes adjusted working days (调休) that fall on a weekend. A day must pass every test:
//!   its weekday is in `days`, it is not a skipped holiday, and it is a working day when asked.
//! - The window of a day is the span of instants from the first instant the customer's clock
//!   shows `start` (or later) to the first instant it shows `end` (or later), end excluded. So a
//!   time in a daylight-saving gap opens or closes at the first valid instant after it (the
//!   moment the clocks jump), and a time in a fold is its earlier instant: the window closes
//!   the first time the clock shows `end` and is never open after its end in local time.
//! - Searches never run away: `next_open` looks [`SEARCH_DAYS`] days ahead and answers `None`
//!   when no window opens in that time (a window on days that never come). Instants outside
//!   chrono's range are never inside a window.
//! - Windows are read from TOML or JSON (`start = "09:00"`, `end = "20:00"`,
//!   `days = ["mon", "tue"]`, `skip_holidays`, `working_days_only`); every field is optional and
//!   defaults to 09:00–20:00 every day except holidays. Bad values are refused with what is
//!   wrong and what was expected.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono::{Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::tickets::sla::local_to_utc;

/// How many days ahead `next_open` looks for an opening (two years).
pub const SEARCH_DAYS: u32 = 366 * 2;

/// A set of weekdays.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Days(u8);

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl Days {
    /// Monday to Sunday.
    pub const ALL: Days = Days(0x7f);
    /// Monday to Friday.
    pub const MON_FRI: Days = Days(0x1f);
    /// No day at all: a window on no days never opens (and is refused by `validate`).
    pub const NONE: Days = Days(0);

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & bit(day) != 0
    }

    pub fn with(self, day: Weekday) -> Days {
        Days(self.0 | bit(day))
    }

    pub fn without(self, day: Weekday) -> Days {
        Days(self.0 & !bit(day))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        WEEK.into_iter().filter(move |d| self.contains(*d))
    }
}

fn bit(day: Weekday) -> u8 {
    1 << day.num_days_from_monday()
}

impl Default for Days {
    fn default() -> Self {
        Days::ALL
    }
}

impl FromIterator<Weekday> for Days {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(Days::NONE, Days::with)
    }
}

impl fmt::Debug for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(day_code)).finish()
    }
}

/// "every day", "Monday to Friday", or the days by name.
impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Days::ALL => f.write_str("every day"),
            Days::MON_FRI => f.write_str("Monday to Friday"),
            Days::NONE => f.write_str("no day"),
            days => {
                let names: Vec<&str> = days.iter().map(day_name).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

fn day_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// When customers of a campaign may be called; see the module rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowFields", into = "WindowFields")]
pub struct CallingWindow {
    /// First time of day a call may be placed.
    pub start: NaiveTime,
    /// Calls are placed before this time of day.
    pub end: NaiveTime,
    /// The weekdays calls may be placed on.
    pub days: Days,
    /// No calls on the calendar's holidays.
    pub skip_holidays: bool,
    /// Calls only on the calendar's working days (adjusted working days included).
    pub working_days_only: bool,
}

/// Why a window was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(
        "calling window: {field} must be a time of day \"HH:MM\" (00:00 to 23:59), got {value:?}"
    )]
    BadTime { field: &'static str, value: String },
    #[error(
        "calling window: unknown day {0:?} in days, expected mon, tue, wed, thu, fri, sat or sun"
    )]
    BadDay(String),
    #[error("calling window: days is empty, so the window would never open")]
    NoDays,
    #[error(
        "calling window: start {start} must be before end {end} (a window cannot run past midnight)"
    )]
    NotBefore { start: String, end: String },
}

/// Why a window is closed at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The day is one of the calendar's holidays.
    Holiday(NaiveDate),
    /// The window is for working days only and this day is not one.
    NotWorkingDay(NaiveDate),
    /// The weekday is not one of the window's days.
    NotCallingDay(NaiveDate),
    /// The day is open but the time is before the start or after the end.
    OutsideHours,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Holiday(d) => write!(f, "{d} is a holiday"),
            Closed::NotWorkingDay(d) => write!(f, "{d} is not a working day"),
            Closed::NotCallingDay(d) => {
                write!(f, "{d} is a {}, not a calling day", day_name(d.weekday()))
            }
            Closed::OutsideHours => f.write_str("that is outside the calling hours"),
        }
    }
}

impl Default for CallingWindow {
    /// 09:00–20:00 every day except holidays.
    fn default() -> Self {
        CallingWindow {
            start: hm(9, 0),
            end: hm(20, 0),
            days: Days::ALL,
            skip_holidays: true,
            working_days_only: false,
        }
    }
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl CallingWindow {
    /// `start`–`end` every day except holidays; refused unless `start` is before `end`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<CallingWindow, WindowError> {
        let window = CallingWindow {
            start,
            end,
            ..CallingWindow::default()
        };
        window.validate()?;
        Ok(window)
    }

    /// Checks a window built in code (read ones are checked when read).
    pub fn validate(&self) -> Result<(), WindowError> {
        if self.days.is_empty() {
            return Err(WindowError::NoDays);
        }
        if self.start >= self.end {
            return Err(WindowError::NotBefore {
                start: show_time(self.start),
                end: show_time(self.end),
            });
        }
        Ok(())
    }

    /// Whether calls may be placed on local date `day` at all.
    pub fn day_is_open(&self, day: NaiveDate, cal: &Calendar) -> bool {
        self.day_closed(day, cal).is_none()
    }

    fn day_closed(&self, day: NaiveDate, cal: &Calendar) -> Option<Closed> {
        if self.skip_holidays && cal.is_holiday(day) {
            Some(Closed::Holiday(day))
        } else if self.working_days_only && !cal.is_working_day(day) {
            Some(Closed::NotWorkingDay(day))
        } else if !self.days.contains(day.weekday()) {
            Some(Closed::NotCallingDay(day))
        } else {
            None
        }
    }

    /// The window of local date `day` in `tz`, as instants: open from the first, closed from
    /// the second. `None` when the day is closed (or the clocks leave no time between).
    pub fn span_on(
        &self,
        day: NaiveDate,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.day_is_open(day, cal) {
            return None;
        }
        let open = first_instant_at_or_after(tz, day.and_time(self.start))?;
        let close = first_instant_at_or_after(tz, day.and_time(self.end))?;
        (open < close).then_some((open, close))
    }

    /// The window span holding `at`, if any. A day's span lies within that day or, when the
    /// clocks jump at midnight, just after it, so the days around `at` are enough.
    fn span_holding(
        &self,
        at: DateTime<Utc>,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let today = at.with_timezone(&tz).date_naive();
        [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
            .filter_map(|d| self.span_on(d, tz, cal))
            .find(|(open, close)| *open <= at && at < *close)
    }

    /// Whether a call may be placed at `at`.
    pub fn contains_at(&self, at: DateTime<Utc>, tz: Tz, cal: &Calendar) -> bool {
        self.span_holding(at, tz, cal).is_some()
    }

    /// `at` itself when the window is open then, else the instant it next opens; `None` when it
    /// does not open within [`SEARCH_DAYS`] days.
    pub fn next_open_at(&self, at: DateTime<Utc>, tz: Tz, cal: &Calendar) -> Option<DateTime<Utc>> {
        let today = at.with_timezone(&tz).date_naive();
        let mut day = today.pred_opt().unwrap_or(today);
        for _ in 0..SEARCH_DAYS + 2 {
            if let Some((open, close)) = self.span_on(day, tz, cal)
                && at < close
            {
                return Some(open.max(at));
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// When the window open at `at` closes; `None` when it is not open at `at`.
    pub fn closes_at_instant(
        &self,
        at: DateTime<Utc>,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<DateTime<Utc>> {
        self.span_holding(at, tz, cal).map(|(_, close)| close)
    }

    /// Why the window is closed at `at`; `None` when it is open.
    pub fn closed_at(&self, at: DateTime<Utc>, tz: Tz, cal: &Calendar) -> Option<Closed> {
        if self.contains_at(at, tz, cal) {
            return None;
        }
        let day = at.with_timezone(&tz).date_naive();
        Some(self.day_closed(day, cal).unwrap_or(Closed::OutsideHours))
    }

    /// [`contains_at`](Self::contains_at) in epoch milliseconds.
    pub fn contains(&self, at_ms: i64, tz: Tz, cal: &Calendar) -> bool {
        from_ms(at_ms).is_some_and(|at| self.contains_at(at, tz, cal))
    }

    /// [`next_open_at`](Self::next_open_at) in epoch milliseconds.
    pub fn next_open(&self, at_ms: i64, tz: Tz, cal: &Calendar) -> Option<i64> {
        let at = from_ms(at_ms)?;
        self.next_open_at(at, tz, cal).map(|t| t.timestamp_millis())
    }

    /// [`closes_at_instant`](Self::closes_at_instant) in epoch milliseconds.
    pub fn closes_at(&self, at_ms: i64, tz: Tz, cal: &Calendar) -> Option<i64> {
        let at = from_ms(at_ms)?;
        self.closes_at_instant(at, tz, cal)
            .map(|t| t.timestamp_millis())
    }

    /// [`closed_at`](Self::closed_at) in epoch milliseconds (`OutsideHours` when out of range).
    pub fn closed_reason(&self, at_ms: i64, tz: Tz, cal: &Calendar) -> Option<Closed> {
        match from_ms(at_ms) {
            Some(at) => self.closed_at(at, tz, cal),
            None => Some(Closed::OutsideHours),
        }
    }
}

/// "09:00–20:00 every day except holidays", "08:30–18:00 on working days, Monday to Friday".
impl fmt::Display for CallingWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", show_time(self.start), show_time(self.end))?;
        match (self.working_days_only, self.days) {
            (true, Days::ALL) => f.write_str(" on working days")?,
            (true, days) => write!(f, " on working days, {days}")?,
            (false, Days::ALL) => f.write_str(" every day")?,
            (false, days) => write!(f, " {days}")?,
        }
        if self.skip_holidays && !self.working_days_only {
            f.write_str(" except holidays")?;
        }
        Ok(())
    }
}

fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The first instant at which the clock in `tz` shows `local` or later: `local` itself when it
/// exists (the earlier of two in a fold), the moment the clocks jump when it is in a gap.
pub fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap `local_to_utc` reads the time with the offset from before the gap, which lands
    // after the jump; step back to the jump itself, by minutes then by seconds. Gaps are at
    // most a day long.
    let mut t = local_to_utc(tz, local)?;
    for (step, max) in [
        (TimeDelta::minutes(1), 24 * 60 + 1),
        (TimeDelta::seconds(1), 60),
    ] {
        for _ in 0..max {
            let Some(prev) = t.checked_sub_signed(step) else {
                break;
            };
            if prev.with_timezone(&tz).naive_local() < local {
                break;
            }
            t = prev;
        }
    }
    Some(t)
}

/// `HH:MM`, or `HH:MM:SS` when there are seconds.
pub fn show_time(t: NaiveTime) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<NaiveTime, WindowError> {
    let v = value.trim();
    NaiveTime::parse_from_str(v, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(v, "%H:%M:%S"))
        .ok()
        // chrono reads a leap second "23:59:60"; a window has no use for it.
        .filter(|t| t.nanosecond() < 1_000_000_000)
        .ok_or_else(|| WindowError::BadTime {
            field,
            value: value.to_string(),
        })
}

fn parse_day(value: &str) -> Result<Weekday, WindowError> {
    let v = value.trim().to_ascii_lowercase();
    WEEK.into_iter()
        .find(|d| v == day_code(*d) || v == day_name(*d).to_ascii_lowercase())
        .ok_or_else(|| WindowError::BadDay(value.to_string()))
}

/// A window as written: every field optional, checked into a `CallingWindow`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowFields {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    skip_holidays: Option<bool>,
    #[serde(default)]
    working_days_only: Option<bool>,
}

impl TryFrom<WindowFields> for CallingWindow {
    type Error = WindowError;

    fn try_from(f: WindowFields) -> Result<Self, Self::Error> {
        let d = CallingWindow::default();
        let window = CallingWindow {
            start: match f.start {
                Some(s) => parse_time("start", &s)?,
                None => d.start,
            },
            end: match f.end {
                Some(s) => parse_time("end", &s)?,
                None => d.end,
            },
            days: match f.days {
                Some(list) => list
                    .iter()
                    .map(|s| parse_day(s))
                    .collect::<Result<Days, _>>()?,
                None => d.days,
            },
            skip_holidays: f.skip_holidays.unwrap_or(d.skip_holidays),
            working_days_only: f.working_days_only.unwrap_or(d.working_days_only),
        };
        window.validate()?;
        Ok(window)
    }
}

impl From<CallingWindow> for WindowFields {
    fn from(w: CallingWindow) -> Self {
        WindowFields {
            start: Some(show_time(w.start)),
            end: Some(show_time(w.end)),
            days: Some(w.days.iter().map(|d| day_code(d).to_string()).collect()),
            skip_holidays: Some(w.skip_holidays),
            working_days_only: Some(w.working_days_only),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::Los_Angeles;
    use chrono_tz::Asia::Shanghai;

    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .expect("a valid local time")
            .timestamp_millis()
    }

    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        at(Shanghai, y, mo, d, h, mi)
    }

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .timestamp_millis()
    }

    fn window(start: &str, end: &str) -> CallingWindow {
        toml::from_str(&format!("start = \"{start}\"\nend = \"{end}\"")).expect("a window")
    }

    #[test]
    fn default_is_nine_to_eight_every_day_except_holidays() {
        let w = CallingWindow::default();
        assert_eq!(w.to_string(), "09:00–20:00 every day except holidays");
        assert_eq!(toml::from_str::<CallingWindow>("").expect("parses"), w);
        assert_eq!(w.validate(), Ok(()));
    }

    #[test]
    fn shanghai_basics() {
        let (w, cal) = (CallingWindow::default(), Calendar::builtin());
        // Monday 1 June 2026.
        assert!(!w.contains(sh(2026, 6, 1, 8, 59), Shanghai, cal));
        assert_eq!(
            w.next_open(sh(2026, 6, 1, 8, 0), Shanghai, cal),
            Some(sh(2026, 6, 1, 9, 0))
        );
        assert!(w.contains(sh(2026, 6, 1, 9, 0), Shanghai, cal));
        assert_eq!(
            w.next_open(sh(2026, 6, 1, 10, 0), Shanghai, cal),
            Some(sh(2026, 6, 1, 10, 0))
        );
        assert_eq!(
            w.closes_at(sh(2026, 6, 1, 19, 59), Shanghai, cal),
            Some(sh(2026, 6, 1, 20, 0))
        );
        // The end is excluded.
        assert!(!w.contains(sh(2026, 6, 1, 20, 0), Shanghai, cal));
        assert_eq!(w.closes_at(sh(2026, 6, 1, 20, 0), Shanghai, cal), None);
        assert_eq!(
            w.next_open(sh(2026, 6, 1, 20, 0), Shanghai, cal),
            Some(sh(2026, 6, 2, 9, 0))
        );
        assert_eq!(
            w.closed_reason(sh(2026, 6, 1, 21, 0), Shanghai, cal),
            Some(Closed::OutsideHours)
        );
        assert_eq!(w.closed_reason(sh(2026, 6, 1, 12, 0), Shanghai, cal), None);
        // Saturdays are calling days by default.
        assert!(w.contains(sh(2026, 6, 6, 12, 0), Shanghai, cal));
    }

    #[test]
    fn weekdays_only_skips_the_weekend() {
        let w = CallingWindow {
            days: Days::MON_FRI,
            ..CallingWindow::default()
        };
        let cal = Calendar::builtin();
        // Friday 5 June 2026, after hours → Monday 8 June.
        assert_eq!(
            w.next_open(sh(2026, 6, 5, 20, 30), Shanghai, cal),
            Some(sh(2026, 6, 8, 9, 0))
        );
        let sat = ymd(2026, 6, 6);
        assert_eq!(
            w.closed_reason(sh(2026, 6, 6, 12, 0), Shanghai, cal),
            Some(Closed::NotCallingDay(sat))
        );
        assert_eq!(
            Closed::NotCallingDay(sat).to_string(),
            "2026-06-06 is a Saturday, not a calling day"
        );
        assert_eq!(
            w.to_string(),
            "09:00–20:00 Monday to Friday except holidays"
        );
    }

    #[test]
    fn the_window_is_in_the_customers_zone() {
        let (w, cal) = (CallingWindow::default(), Calendar::builtin());
        // 10:00 in Shanghai on 1 June 2026 is 19:00 the day before in Los Angeles.
        let t = sh(2026, 6, 1, 10, 0);
        assert!(w.contains(t, Shanghai, cal));
        assert!(w.contains(t, Los_Angeles, cal));
        // 12:00 in Shanghai is 21:00 in Los Angeles: closed there until 09:00 PDT.
        let t = sh(2026, 6, 1, 12, 0);
        assert!(w.contains(t, Shanghai, cal));
        assert!(!w.contains(t, Los_Angeles, cal));
        assert_eq!(
            w.next_open(t, Los_Angeles, cal),
            Some(utc("2026-06-01T09:00:00-07:00"))
        );
    }

    #[test]
    fn an_opening_in_the_spring_gap_opens_when_the_clocks_jump() {
        // Los Angeles springs forward on Sunday 8 March 2026: 02:00 PST becomes 03:00 PDT.
        let w = window("02:30", "20:00");
        let cal = &Calendar::weekdays_only();
        let jump = utc("2026-03-08T03:00:00-07:00");
        assert_eq!(
            w.next_open(utc("2026-03-08T00:00:00-08:00"), Los_Angeles, cal),
            Some(jump)
        );
        assert!(!w.contains(utc("2026-03-08T01:59:00-08:00"), Los_Angeles, cal));
        assert!(w.contains(jump, Los_Angeles, cal));
        // The day before and the day after, 02:30 is an ordinary time.
        assert_eq!(
            w.next_open(utc("2026-03-07T01:00:00-08:00"), Los_Angeles, cal),
            Some(utc("2026-03-07T02:30:00-08:00"))
        );
        assert_eq!(
            w.next_open(utc("2026-03-08T20:00:00-07:00"), Los_Angeles, cal),
            Some(utc("2026-03-09T02:30:00-07:00"))
        );
    }

    #[test]
    fn an_end_in_the_spring_gap_closes_when_the_clocks_jump() {
        let w = window("01:00", "02:30");
        let cal = &Calendar::weekdays_only();
        let t = utc("2026-03-08T01:59:00-08:00");
        assert!(w.contains(t, Los_Angeles, cal));
        assert_eq!(
            w.closes_at(t, Los_Angeles, cal),
            Some(utc("2026-03-08T03:00:00-07:00"))
        );
        assert!(!w.contains(utc("2026-03-08T03:00:00-07:00"), Los_Angeles, cal));
    }

    #[test]
    fn an_end_in_the_autumn_fold_is_the_earlier_instant() {
        // Los Angeles falls back on Sunday 1 November 2026: 01:00–02:00 happens twice.
        let w = window("00:30", "01:30");
        let cal = &Calendar::weekdays_only();
        let t = utc("2026-11-01T01:15:00-07:00");
        assert!(w.contains(t, Los_Angeles, cal));
        assert_eq!(
            w.closes_at(t, Los_Angeles, cal),
            Some(utc("2026-11-01T01:30:00-07:00"))
        );
        // 01:15 again, now PST: the clock reads inside the hours but the window has closed.
        let again = utc("2026-11-01T01:15:00-08:00");
        assert!(!w.contains(again, Los_Angeles, cal));
        assert_eq!(
            w.next_open(again, Los_Angeles, cal),
            Some(utc("2026-11-02T00:30:00-08:00"))
        );
        assert_eq!(
            w.next_open(utc("2026-11-01T01:45:00-07:00"), Los_Angeles, cal),
            Some(utc("2026-11-02T00:30:00-08:00"))
        );
        // An opening in the fold is its first occurrence.
        let w = window("01:30", "20:00");
        assert_eq!(
            w.next_open(utc("2026-11-01T00:00:00-07:00"), Los_Angeles, cal),
            Some(utc("2026-11-01T01:30:00-07:00"))
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let cal = Calendar::builtin();
        let w = CallingWindow::default();
        // National Day 2026: 1 to 7 October are holidays; Thursday 8 October is not.
        assert_eq!(
            w.next_open(sh(2026, 9, 30, 21, 0), Shanghai, cal),
            Some(sh(2026, 10, 8, 9, 0))
        );
        assert!(!w.contains(sh(2026, 10, 1, 10, 0), Shanghai, cal));
        assert_eq!(
            w.closed_reason(sh(2026, 10, 1, 10, 0), Shanghai, cal),
            Some(Closed::Holiday(ymd(2026, 10, 1)))
        );
        // A window that calls on holidays too.
        let w = CallingWindow {
            skip_holidays: false,
            ..CallingWindow::default()
        };
        assert!(w.contains(sh(2026, 10, 1, 10, 0), Shanghai, cal));
        assert_eq!(w.to_string(), "09:00–20:00 every day");
    }

    #[test]
    fn working_days_only_includes_adjusted_working_days() {
        let cal = Calendar::builtin();
        let w = CallingWindow {
            working_days_only: true,
            ..CallingWindow::default()
        };
        assert_eq!(w.to_string(), "09:00–20:00 on working days");
        // Saturday 14 February 2026 is worked; 15 to 23 February are Spring Festival.
        assert_eq!(
            w.next_open(sh(2026, 2, 13, 20, 0), Shanghai, cal),
            Some(sh(2026, 2, 14, 9, 0))
        );
        assert_eq!(
            w.next_open(sh(2026, 2, 14, 20, 0), Shanghai, cal),
            Some(sh(2026, 2, 24, 9, 0))
        );
        // An ordinary weekend is skipped: Saturday 7 March → Monday 9 March.
        assert_eq!(
            w.next_open(sh(2026, 3, 7, 10, 0), Shanghai, cal),
            Some(sh(2026, 3, 9, 9, 0))
        );
        assert_eq!(
            w.closed_reason(sh(2026, 3, 7, 10, 0), Shanghai, cal),
            Some(Closed::NotWorkingDay(ymd(2026, 3, 7)))
        );
        // Without the flag the adjusted day is open anyway, and so is an ordinary Saturday.
        assert!(CallingWindow::default().contains(sh(2026, 3, 7, 10, 0), Shanghai, cal));
    }

    #[test]
    fn a_window_that_never_opens_answers_none() {
        // Saturdays only, on working days only, with a calendar that has no adjusted days.
        let w = CallingWindow {
            days: Days::NONE.with(Weekday::Sat),
            working_days_only: true,
            ..CallingWindow::default()
        };
        let cal = &Calendar::weekdays_only();
        assert_eq!(w.next_open(sh(2026, 6, 1, 10, 0), Shanghai, cal), None);
        assert!(!w.contains(sh(2026, 6, 6, 10, 0), Shanghai, cal));
        // An instant outside chrono's range is never inside a window.
        let d = CallingWindow::default();
        assert!(!d.contains(i64::MAX, Shanghai, cal));
        assert_eq!(d.next_open(i64::MAX, Shanghai, cal), None);
        assert_eq!(d.next_open(i64::MIN, Shanghai, cal), None);
    }

    #[test]
    fn windows_read_from_toml_and_json() {
        let w: CallingWindow = toml::from_str(
            "start = \"08:30\"\nend = \"18:00\"\ndays = [\"mon\", \"Tuesday\", \"WED\", \"thu\", \"fri\"]\nskip_holidays = true\nworking_days_only = true\n",
        )
        .expect("parses");
        assert_eq!(w.start, hm(8, 30));
        assert_eq!(w.end, hm(18, 0));
        assert_eq!(w.days, Days::MON_FRI);
        assert!(w.working_days_only);
        assert_eq!(
            w.to_string(),
            "08:30–18:00 on working days, Monday to Friday"
        );
        let json = serde_json::to_string(&w).expect("serialises");
        assert_eq!(
            json,
            r#"{"start":"08:30","end":"18:00","days":["mon","tue","wed","thu","fri"],"skip_holidays":true,"working_days_only":true}"#
        );
        assert_eq!(
            serde_json::from_str::<CallingWindow>(&json).expect("parses"),
            w
        );
        let text = toml::to_string(&CallingWindow::default()).expect("serialises");
        assert!(text.contains("start = \"09:00\""), "{text}");
        assert_eq!(
            toml::from_str::<CallingWindow>(&text).expect("parses"),
            CallingWindow::default()
        );
        // Seconds are kept.
        let w = window("09:00:30", "20:00");
        assert_eq!(w.start, NaiveTime::from_hms_opt(9, 0, 30).expect("valid"));
        assert!(
            serde_json::to_string(&w)
                .expect("serialises")
                .contains("09:00:30")
        );
    }

    #[test]
    fn bad_windows_are_refused_with_clear_errors() {
        let cases = [
            (
                "start = \"20:00\"\nend = \"09:00\"",
                "start 20:00 must be before end 09:00 (a window cannot run past midnight)",
            ),
            (
                "start = \"09:00\"\nend = \"09:00\"",
                "start 09:00 must be before end 09:00",
            ),
            (
                "start = \"25:00\"",
                "start must be a time of day \"HH:MM\" (00:00 to 23:59), got \"25:00\"",
            ),
            ("end = \"8pm\"", "end must be a time of day"),
            ("end = \"24:00\"", "end must be a time of day"),
            (
                "days = [\"mon\", \"funday\"]",
                "unknown day \"funday\" in days, expected mon, tue",
            ),
            ("days = []", "days is empty, so the window would never open"),
            ("begin = \"09:00\"", "unknown field `begin`"),
            ("skip_holidays = \"yes\"", "invalid type"),
        ];
        for (text, want) in cases {
            let err = toml::from_str::<CallingWindow>(text)
                .expect_err(text)
                .to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert_eq!(
            CallingWindow::new(hm(20, 0), hm(9, 0)),
            Err(WindowError::NotBefore {
                start: "20:00".into(),
                end: "09:00".into()
            })
        );
        assert!(CallingWindow::new(hm(8, 0), hm(21, 0)).is_ok());
        let none = CallingWindow {
            days: Days::NONE,
            ..CallingWindow::default()
        };
        assert_eq!(none.validate(), Err(WindowError::NoDays));
    }

    #[test]
    fn days_sets() {
        let d: Days = [Weekday::Mon, Weekday::Wed, Weekday::Mon]
            .into_iter()
            .collect();
        assert!(d.contains(Weekday::Mon) && d.contains(Weekday::Wed));
        assert!(!d.contains(Weekday::Tue));
        assert_eq!(d.to_string(), "Monday, Wednesday");
        assert_eq!(format!("{d:?}"), "[\"mon\", \"wed\"]");
        assert_eq!(
            Days::ALL.without(Weekday::Sat).without(Weekday::Sun),
            Days::MON_FRI
        );
        assert_eq!(Days::default(), Days::ALL);
        assert_eq!(Days::ALL.iter().count(), 7);
    }

    #[test]
    fn first_instant_in_a_gap_and_a_fold() {
        let local = |y, mo, d, h, mi| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|day| day.and_hms_opt(h, mi, 0))
                .expect("valid")
        };
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        assert_eq!(
            ms(first_instant_at_or_after(
                Los_Angeles,
                local(2026, 3, 8, 2, 30)
            )),
            Some(utc("2026-03-08T03:00:00-07:00"))
        );
        assert_eq!(
            ms(first_instant_at_or_after(
                Los_Angeles,
                local(2026, 11, 1, 1, 30)
            )),
            Some(utc("2026-11-01T01:30:00-07:00"))
        );
        // Samoa skipped Friday 30 December 2011: its first instant is Saturday 00:00.
        let apia = chrono_tz::Pacific::Apia;
        assert_eq!(
            ms(first_instant_at_or_after(apia, local(2011, 12, 30, 12, 0))),
            Some(at(apia, 2011, 12, 31, 0, 0))
        );
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }
}
