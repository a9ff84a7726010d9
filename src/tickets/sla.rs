//! Service levels: the deadline a ticket is promised when it is reported.
//!
//! Rules:
//! - A policy is a list of rules. A rule names a ticket kind and, optionally, a line kind and a
//!   customer class; it matches a ticket that agrees on every one it names. A rule that names a
//!   line kind does not match a ticket without a line.
//! - A rule makes exactly one promise:
//!   - `hours = N`: N elapsed hours after the report, through nights, holidays and clock
//!     changes;
//!   - `working_days = N`: by the end of the Nth working day after the day of the report;
//!   - `same_day_before = "HH:MM"` with `otherwise_next_working_day_by = "HH:MM"`: reported on
//!     a working day before the cut-off, by the end of that day; otherwise by that time on the
//!     next working day after the day of the report.
//! - Every matching rule applies and the earliest deadline wins, so every promise made to a
//!   customer is kept. No matching rule means no deadline (the standard policy promises none
//!   for complaints).
//! - "The end of a day" is 00:00 of the following day. Days and times are those of the
//!   operator's zone and working days those of its calendar. A local time that does not exist
//!   (a daylight-saving gap) is moved later by the length of the gap; one that exists twice (a
//!   fold) is the earlier instant.
//! - A policy from the configuration replaces the standard one whole. Rules are checked when
//!   read: exactly one promise, counts from 1 to a sane maximum, times as `HH:MM`.

use std::fmt;

use chrono::{
    DateTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::customers::{CustomerClass, LineKind};
use crate::tickets::TicketKind;

/// Largest `hours` promise: a year, far beyond any real service level.
pub const MAX_HOURS: u32 = 24 * 366;
/// Largest `working_days` promise: bounds the calendar walk.
pub const MAX_WORKING_DAYS: u32 = 366;

/// What a deadline is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineRequest {
    pub kind: TicketKind,
    /// The line the ticket is about, when there is one.
    pub line_kind: Option<LineKind>,
    pub class: CustomerClass,
    pub reported_at: DateTime<Utc>,
}

/// The one promise a rule makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promise {
    /// Elapsed hours after the report.
    Hours(u32),
    /// By the end of the Nth working day after the day of the report.
    WorkingDays(u32),
    /// Before `cutoff` on a working day: by the end of that day; otherwise by `otherwise_by`
    /// on the next working day.
    SameDayBefore {
        cutoff: NaiveTime,
        otherwise_by: NaiveTime,
    },
}

/// One service-level promise and the tickets it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RuleFields", into = "RuleFields")]
pub struct Rule {
    pub kind: TicketKind,
    /// Only tickets about a line of this kind; any ticket of `kind` when `None`.
    pub line_kind: Option<LineKind>,
    /// Only customers of this class; every customer when `None`.
    pub customer_class: Option<CustomerClass>,
    pub promise: Promise,
}

/// The service-level policy; `Default` is the operator's standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// A rule that cannot be kept as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "a rule for {kind} makes no promise: give hours, working_days, or same_day_before with otherwise_next_working_day_by"
    )]
    NoPromise { kind: &'static str },
    #[error("a rule for {kind} makes two promises ({first} and {second}): give exactly one")]
    TwoPromises {
        kind: &'static str,
        first: &'static str,
        second: &'static str,
    },
    #[error("a rule for {kind} has {given} without {missing}: the two go together")]
    Incomplete {
        kind: &'static str,
        given: &'static str,
        missing: &'static str,
    },
    #[error("a rule for {kind}: {field} must be between 1 and {max}, got {value}")]
    OutOfRange {
        kind: &'static str,
        field: &'static str,
        value: i64,
        max: u32,
    },
    #[error(
        "a rule for {kind}: {field} must be a time of day \"HH:MM\" (00:00 to 23:59), got {value:?}"
    )]
    BadTime {
        kind: &'static str,
        field: &'static str,
        value: String,
    },
}

/// A policy with a rule that cannot be kept; `number` counts rules from 1 as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sla rule {number}: {error}")]
pub struct PolicyError {
    pub number: usize,
    pub error: RuleError,
}

impl Rule {
    /// A rule for every ticket of `kind`; narrow it with `on_line` and `for_class`.
    pub fn new(kind: TicketKind, promise: Promise) -> Rule {
        Rule {
            kind,
            line_kind: None,
            customer_class: None,
            promise,
        }
    }

    pub fn on_line(mut self, line_kind: LineKind) -> Rule {
        self.line_kind = Some(line_kind);
        self
    }

    pub fn for_class(mut self, class: CustomerClass) -> Rule {
        self.customer_class = Some(class);
        self
    }

    pub fn matches(&self, req: &DeadlineRequest) -> bool {
        self.kind == req.kind
            && self.line_kind.is_none_or(|k| req.line_kind == Some(k))
            && self.customer_class.is_none_or(|c| c == req.class)
    }

    /// This rule's deadline for a report at `reported_at`, whether or not the rule matches;
    /// `None` only beyond chrono's range.
    pub fn deadline(
        &self,
        reported_at: DateTime<Utc>,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<DateTime<Utc>> {
        let local = reported_at.with_timezone(&tz).naive_local();
        let day = local.date();
        match self.promise {
            Promise::Hours(n) => reported_at.checked_add_signed(TimeDelta::hours(n.into())),
            Promise::WorkingDays(n) => end_of_day(cal.add_working_days(day, n), tz),
            Promise::SameDayBefore {
                cutoff,
                otherwise_by,
            } => {
                if cal.is_working_day(day) && local.time() < cutoff {
                    end_of_day(day, tz)
                } else {
                    let next = cal.next_working_day_after(day);
                    local_to_utc(tz, next.and_time(otherwise_by))
                }
            }
        }
    }

    fn validate(&self) -> Result<(), RuleError> {
        let kind = self.kind.as_str();
        let check = |field, value: u32, max| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(RuleError::OutOfRange {
                    kind,
                    field,
                    value: value.into(),
                    max,
                })
            }
        };
        match self.promise {
            Promise::Hours(n) => check("hours", n, MAX_HOURS),
            Promise::WorkingDays(n) => check("working_days", n, MAX_WORKING_DAYS),
            Promise::SameDayBefore { .. } => Ok(()),
        }
    }
}

impl Policy {
    /// The operator's standard (DOMAIN.md, "Service levels").
    pub fn standard() -> Policy {
        use CustomerClass::Business;
        use TicketKind::{Change, Fault, Installation, Move};
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let four_pm = NaiveTime::from_hms_opt(16, 0, 0).unwrap_or(NaiveTime::MIN);
        Policy {
            rules: vec![
                Rule::new(Fault, Promise::Hours(72)),
                Rule::new(Fault, Promise::Hours(4)).on_line(LineKind::Leased),
                Rule::new(
                    Fault,
                    Promise::SameDayBefore {
                        cutoff: four_pm,
                        otherwise_by: noon,
                    },
                )
                .for_class(Business),
                Rule::new(Installation, Promise::WorkingDays(15)),
                Rule::new(Move, Promise::WorkingDays(15)),
                Rule::new(Change, Promise::Hours(24)),
            ],
        }
    }

    /// Checks what deserialising cannot: the counts of rules built in code.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate().map_err(|error| PolicyError {
                number: i + 1,
                error,
            })?;
        }
        Ok(())
    }

    /// The earliest deadline of the matching rules, with the rule that set it (the first
    /// written on a tie); `None` when no rule matches.
    pub fn earliest(
        &self,
        req: &DeadlineRequest,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<(DateTime<Utc>, &Rule)> {
        let mut best: Option<(DateTime<Utc>, &Rule)> = None;
        for rule in self.rules.iter().filter(|r| r.matches(req)) {
            let Some(at) = rule.deadline(req.reported_at, tz, cal) else {
                continue;
            };
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, rule));
            }
        }
        best
    }

    /// The deadline of a ticket: the earliest of every promise that applies.
    pub fn deadline(&self, req: &DeadlineRequest, tz: Tz, cal: &Calendar) -> Option<DateTime<Utc>> {
        self.earliest(req, tz, cal).map(|(at, _)| at)
    }

    /// `deadline` in the epoch milliseconds the store keeps.
    pub fn deadline_ms(
        &self,
        kind: TicketKind,
        line_kind: Option<LineKind>,
        class: CustomerClass,
        reported_at_ms: i64,
        tz: Tz,
        cal: &Calendar,
    ) -> Option<i64> {
        let req = DeadlineRequest {
            kind,
            line_kind,
            class,
            reported_at: DateTime::from_timestamp_millis(reported_at_ms)?,
        };
        self.deadline(&req, tz, cal).map(|d| d.timestamp_millis())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::standard()
    }
}

/// The instant a local wall-clock time stands for in `tz`: a time in a gap is moved later by
/// the length of the gap (it is read with the offset in force before the gap), a time in a
/// fold is the earlier instant. `None` only beyond chrono's range.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // Gaps are at most a day long (Samoa skipped 30 December 2011), so the last minute
    // before this one is found within two days.
    let mut probe = local;
    for _ in 0..2 * 24 * 60 {
        probe = probe.checked_sub_signed(TimeDelta::minutes(1))?;
        if let Some(before) = tz.from_local_datetime(&probe).latest() {
            let offset = before.offset().fix().local_minus_utc();
            let utc = local.checked_sub_signed(TimeDelta::seconds(offset.into()))?;
            return Some(utc.and_utc());
        }
    }
    None
}

/// 24:00 of `day`, i.e. 00:00 of the next day.
fn end_of_day(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    local_to_utc(tz, day.succ_opt()?.and_time(NaiveTime::MIN))
}

/// A rule as written in TOML: promise fields are loose so that mistakes get our messages.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFields {
    kind: TicketKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line_kind: Option<LineKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_class: Option<CustomerClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hours: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    working_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    same_day_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    otherwise_next_working_day_by: Option<String>,
}

impl TryFrom<RuleFields> for Rule {
    type Error = RuleError;

    fn try_from(f: RuleFields) -> Result<Rule, RuleError> {
        let kind = f.kind.as_str();
        let mut given = Vec::new();
        if f.hours.is_some() {
            given.push("hours");
        }
        if f.working_days.is_some() {
            given.push("working_days");
        }
        match (&f.same_day_before, &f.otherwise_next_working_day_by) {
            (Some(_), Some(_)) => given.push("same_day_before"),
            (Some(_), None) => {
                return Err(RuleError::Incomplete {
                    kind,
                    given: "same_day_before",
                    missing: "otherwise_next_working_day_by",
                });
            }
            (None, Some(_)) => {
                return Err(RuleError::Incomplete {
                    kind,
                    given: "otherwise_next_working_day_by",
                    missing: "same_day_before",
                });
            }
            (None, None) => {}
        }
        if let [first, second, ..] = given[..] {
            return Err(RuleError::TwoPromises {
                kind,
                first,
                second,
            });
        }
        let count = |field, value: i64, max: u32| {
            u32::try_from(value)
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or(RuleError::OutOfRange {
                    kind,
                    field,
                    value,
                    max,
                })
        };
        let time = |field, value: &str| {
            NaiveTime::parse_from_str(value.trim(), "%H:%M").map_err(|_| RuleError::BadTime {
                kind,
                field,
                value: value.to_string(),
            })
        };
        let promise = if let Some(n) = f.hours {
            Promise::Hours(count("hours", n, MAX_HOURS)?)
        } else if let Some(n) = f.working_days {
            Promise::WorkingDays(count("working_days", n, MAX_WORKING_DAYS)?)
        } else if let (Some(cutoff), Some(by)) =
            (&f.same_day_before, &f.otherwise_next_working_day_by)
        {
            Promise::SameDayBefore {
                cutoff: time("same_day_before", cutoff)?,
                otherwise_by: time("otherwise_next_working_day_by", by)?,
            }
        } else {
            return Err(RuleError::NoPromise { kind });
        };
        Ok(Rule {
            kind: f.kind,
            line_kind: f.line_kind,
            customer_class: f.customer_class,
            promise,
        })
    }
}

impl From<Rule> for RuleFields {
    fn from(r: Rule) -> RuleFields {
        let mut f = RuleFields {
            kind: r.kind,
            line_kind: r.line_kind,
            customer_class: r.customer_class,
            hours: None,
            working_days: None,
            same_day_before: None,
            otherwise_next_working_day_by: None,
        };
        match r.promise {
            Promise::Hours(n) => f.hours = Some(n.into()),
            Promise::WorkingDays(n) => f.working_days = Some(n.into()),
            Promise::SameDayBefore {
                cutoff,
                otherwise_by,
            } => {
                f.same_day_before = Some(hh_mm(cutoff));
                f.otherwise_next_working_day_by = Some(hh_mm(otherwise_by));
            }
        }
        f
    }
}

fn hh_mm(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

impl fmt::Display for Promise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Promise::Hours(n) => write!(f, "{n} hours"),
            Promise::WorkingDays(n) => write!(f, "end of working day {n}"),
            Promise::SameDayBefore {
                cutoff,
                otherwise_by,
            } => write!(
                f,
                "same day before {}, otherwise next working day by {}",
                hh_mm(*cutoff),
                hh_mm(*otherwise_by)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CustomerClass::{Business, Residential};
    use TicketKind::{Change, Complaint, Fault, Installation, Move};
    use chrono_tz::America::Los_Angeles;
    use chrono_tz::Asia::Shanghai;

    /// A local wall-clock time in `tz` that exists exactly once.
    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("an unambiguous local time")
            .with_timezone(&Utc)
    }

    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        at(Shanghai, y, mo, d, h, mi)
    }

    fn req(
        kind: TicketKind,
        line_kind: Option<LineKind>,
        class: CustomerClass,
        reported_at: DateTime<Utc>,
    ) -> DeadlineRequest {
        DeadlineRequest {
            kind,
            line_kind,
            class,
            reported_at,
        }
    }

    /// The standard policy's deadline in Shanghai with the built-in calendar.
    fn standard(
        kind: TicketKind,
        line_kind: Option<LineKind>,
        class: CustomerClass,
        reported_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        Policy::standard().deadline(
            &req(kind, line_kind, class, reported_at),
            Shanghai,
            Calendar::builtin(),
        )
    }

    fn business_fault(reported_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        standard(Fault, Some(LineKind::Phone), Business, reported_at)
    }

    #[test]
    fn standard_policy_is_valid_and_the_default() {
        assert_eq!(Policy::standard().validate(), Ok(()));
        assert_eq!(Policy::default(), Policy::standard());
    }

    #[test]
    fn residential_fault_is_72_hours() {
        let reported = sh(2026, 3, 13, 17, 0);
        let want = sh(2026, 3, 16, 17, 0);
        assert_eq!(
            standard(Fault, Some(LineKind::Phone), Residential, reported),
            Some(want)
        );
        assert_eq!(standard(Fault, None, Residential, reported), Some(want));
        // Holidays do not stop the clock: 2025-09-30 17:00 + 72 h.
        assert_eq!(
            standard(
                Fault,
                Some(LineKind::Broadband),
                Residential,
                sh(2025, 9, 30, 17, 0)
            ),
            Some(sh(2025, 10, 3, 17, 0))
        );
    }

    #[test]
    fn leased_line_fault_is_4_hours() {
        let noon = sh(2026, 3, 11, 12, 0);
        assert_eq!(
            standard(Fault, Some(LineKind::Leased), Residential, noon),
            Some(sh(2026, 3, 11, 16, 0))
        );
        assert_eq!(
            standard(Fault, Some(LineKind::Leased), Business, noon),
            Some(sh(2026, 3, 11, 16, 0))
        );
        // At night on a holiday too.
        assert_eq!(
            standard(
                Fault,
                Some(LineKind::Leased),
                Business,
                sh(2025, 10, 1, 22, 30)
            ),
            Some(sh(2025, 10, 2, 2, 30))
        );
    }

    #[test]
    fn business_fault_before_16_is_repaired_the_same_day() {
        // Wednesday 11 March 2026.
        assert_eq!(
            business_fault(sh(2026, 3, 11, 15, 59)),
            Some(sh(2026, 3, 12, 0, 0))
        );
        assert_eq!(
            business_fault(sh(2026, 3, 11, 0, 0)),
            Some(sh(2026, 3, 12, 0, 0))
        );
        let just_before = sh(2026, 3, 11, 15, 59) + TimeDelta::seconds(59);
        assert_eq!(business_fault(just_before), Some(sh(2026, 3, 12, 0, 0)));
    }

    #[test]
    fn business_fault_at_16_is_repaired_by_noon_next_working_day() {
        assert_eq!(
            business_fault(sh(2026, 3, 11, 16, 0)),
            Some(sh(2026, 3, 12, 12, 0))
        );
        assert_eq!(
            business_fault(sh(2026, 3, 11, 23, 59)),
            Some(sh(2026, 3, 12, 12, 0))
        );
    }

    #[test]
    fn business_fault_friday_evening_is_monday_noon() {
        // Friday 13 March 2026 17:00: the 72-hour promise (Monday 17:00) is later.
        let reported = sh(2026, 3, 13, 17, 0);
        assert_eq!(business_fault(reported), Some(sh(2026, 3, 16, 12, 0)));
        let policy = Policy::standard();
        let (_, rule) = policy
            .earliest(
                &req(Fault, Some(LineKind::Phone), Business, reported),
                Shanghai,
                Calendar::builtin(),
            )
            .expect("a deadline");
        assert_eq!(rule.customer_class, Some(Business));
    }

    #[test]
    fn business_fault_on_saturday_is_next_working_day_noon() {
        assert_eq!(
            business_fault(sh(2026, 3, 14, 10, 0)),
            Some(sh(2026, 3, 16, 12, 0))
        );
        // Saturday 27 September 2025: Sunday the 28th is an adjusted working day.
        assert_eq!(
            business_fault(sh(2025, 9, 27, 10, 0)),
            Some(sh(2025, 9, 28, 12, 0))
        );
        // On that Sunday itself, before 16:00, the same day.
        assert_eq!(
            business_fault(sh(2025, 9, 28, 9, 0)),
            Some(sh(2025, 9, 29, 0, 0))
        );
    }

    #[test]
    fn business_fault_before_national_day_keeps_the_72_hour_promise() {
        // Noon on the next working day would be 9 October; 72 hours is 3 October 17:00.
        assert_eq!(
            business_fault(sh(2025, 9, 30, 17, 0)),
            Some(sh(2025, 10, 3, 17, 0))
        );
        // Reported on a holiday morning: not a working day, so not "the same day".
        assert_eq!(
            business_fault(sh(2025, 10, 2, 9, 0)),
            Some(sh(2025, 10, 5, 9, 0))
        );
    }

    #[test]
    fn business_leased_line_fault_takes_the_earliest_of_three() {
        assert_eq!(
            standard(
                Fault,
                Some(LineKind::Leased),
                Business,
                sh(2026, 3, 11, 21, 0)
            ),
            Some(sh(2026, 3, 12, 1, 0))
        );
        // Before 16:00 four hours still beat the end of the day.
        assert_eq!(
            standard(
                Fault,
                Some(LineKind::Leased),
                Business,
                sh(2026, 3, 11, 15, 0)
            ),
            Some(sh(2026, 3, 11, 19, 0))
        );
    }

    #[test]
    fn installation_and_move_are_15_working_days() {
        // From Friday 26 September 2025, across National Day, to the end of 23 October.
        let reported = sh(2025, 9, 26, 10, 0);
        let want = Some(sh(2025, 10, 24, 0, 0));
        assert_eq!(standard(Installation, None, Residential, reported), want);
        assert_eq!(
            standard(Move, Some(LineKind::Phone), Business, reported),
            want
        );
        // Across Spring Festival 2026: from Friday 13 February (14th worked, 15–23 off).
        assert_eq!(
            standard(Installation, None, Residential, sh(2026, 2, 13, 18, 0)),
            Some(sh(2026, 3, 13, 0, 0))
        );
    }

    #[test]
    fn change_is_24_hours_and_complaint_has_no_deadline() {
        let reported = sh(2025, 10, 1, 9, 30);
        assert_eq!(
            standard(Change, None, Residential, reported),
            Some(sh(2025, 10, 2, 9, 30))
        );
        assert_eq!(standard(Complaint, None, Residential, reported), None);
        assert_eq!(
            standard(Complaint, Some(LineKind::Leased), Business, reported),
            None
        );
        assert_eq!(
            Policy { rules: vec![] }.deadline(
                &req(Fault, None, Business, reported),
                Shanghai,
                Calendar::builtin()
            ),
            None
        );
    }

    #[test]
    fn deadline_in_epoch_milliseconds() {
        let reported = sh(2026, 3, 11, 12, 0);
        let got = Policy::standard().deadline_ms(
            Fault,
            Some(LineKind::Leased),
            Residential,
            reported.timestamp_millis(),
            Shanghai,
            Calendar::builtin(),
        );
        assert_eq!(got, Some(sh(2026, 3, 11, 16, 0).timestamp_millis()));
        let out_of_range = Policy::standard().deadline_ms(
            Fault,
            None,
            Residential,
            i64::MAX,
            Shanghai,
            Calendar::builtin(),
        );
        assert_eq!(out_of_range, None);
    }

    #[test]
    fn line_kind_rules_need_a_line() {
        let rule = Rule::new(Fault, Promise::Hours(4)).on_line(LineKind::Leased);
        let t = sh(2026, 3, 11, 12, 0);
        assert!(rule.matches(&req(Fault, Some(LineKind::Leased), Residential, t)));
        assert!(!rule.matches(&req(Fault, None, Residential, t)));
        assert!(!rule.matches(&req(Fault, Some(LineKind::Phone), Residential, t)));
        assert!(!rule.matches(&req(Change, Some(LineKind::Leased), Residential, t)));
        let business = Rule::new(Fault, Promise::Hours(8)).for_class(Business);
        assert!(business.matches(&req(Fault, None, Business, t)));
        assert!(!business.matches(&req(Fault, None, Residential, t)));
    }

    #[test]
    fn gaps_move_later_and_folds_take_the_earlier_instant() {
        let naive = |d: u32, h: u32, m: u32| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .and_then(|day| day.and_hms_opt(h, m, 0))
                .expect("valid")
        };
        // Los Angeles springs forward at 02:00 on 8 March 2026: 02:30 is read as PST, which
        // is 03:30 PDT.
        assert_eq!(
            local_to_utc(Los_Angeles, naive(8, 2, 30)),
            Some(at(Los_Angeles, 2026, 3, 8, 3, 30))
        );
        assert_eq!(
            local_to_utc(Los_Angeles, naive(8, 2, 0)),
            Some(at(Los_Angeles, 2026, 3, 8, 3, 0))
        );
        // It falls back at 02:00 on 1 November: 01:30 happens twice, PDT first.
        let fold = NaiveDate::from_ymd_opt(2026, 11, 1)
            .and_then(|d| d.and_hms_opt(1, 30, 0))
            .expect("valid");
        let want = DateTime::parse_from_rfc3339("2026-11-01T01:30:00-07:00")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(local_to_utc(Los_Angeles, fold), Some(want));
        // Samoa skipped all of Friday 30 December 2011: noon that day is noon on the 31st.
        let apia = chrono_tz::Pacific::Apia;
        let skipped = NaiveDate::from_ymd_opt(2011, 12, 30)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("valid");
        assert_eq!(
            local_to_utc(apia, skipped),
            Some(at(apia, 2011, 12, 31, 12, 0))
        );
        // Shanghai has no clock changes.
        assert_eq!(
            local_to_utc(Shanghai, naive(8, 2, 30)),
            Some(sh(2026, 3, 8, 2, 30))
        );
    }

    #[test]
    fn promises_in_a_daylight_saving_gap_do_not_panic() {
        // Make Sunday 8 March 2026 a working day so the promise lands in the gap.
        let cal = Calendar::from_csv("date,kind\n2026-03-08,workday\n").expect("parses");
        let policy: Policy = toml::from_str(
            "[[rules]]\nkind = \"fault\"\nsame_day_before = \"16:00\"\notherwise_next_working_day_by = \"02:30\"\n",
        )
        .expect("parses");
        let reported = at(Los_Angeles, 2026, 3, 6, 17, 0);
        assert_eq!(
            policy.deadline(&req(Fault, None, Residential, reported), Los_Angeles, &cal),
            Some(at(Los_Angeles, 2026, 3, 8, 3, 30))
        );
        // Hours are elapsed time: 24 hours from Saturday 12:00 PST is Sunday 13:00 PDT.
        let day: Policy =
            toml::from_str("[[rules]]\nkind = \"fault\"\nhours = 24\n").expect("parses");
        assert_eq!(
            day.deadline(
                &req(Fault, None, Residential, at(Los_Angeles, 2026, 3, 7, 12, 0)),
                Los_Angeles,
                &cal
            ),
            Some(at(Los_Angeles, 2026, 3, 8, 13, 0))
        );
        // After the clocks fall back (Sunday 1 November) a day ends at midnight PST.
        let end: Policy =
            toml::from_str("[[rules]]\nkind = \"fault\"\nworking_days = 1\n").expect("parses");
        assert_eq!(
            end.deadline(
                &req(
                    Fault,
                    None,
                    Residential,
                    at(Los_Angeles, 2026, 10, 30, 9, 0)
                ),
                Los_Angeles,
                Calendar::builtin()
            ),
            Some(at(Los_Angeles, 2026, 11, 3, 0, 0))
        );
    }

    #[test]
    fn a_custom_policy_from_toml() {
        let policy: Policy = toml::from_str(
            r#"
            [[rules]]
            kind = "fault"
            hours = 48

            [[rules]]
            kind = "fault"
            line_kind = "broadband"
            customer_class = "business"
            same_day_before = "14:30"
            otherwise_next_working_day_by = "10:00"

            [[rules]]
            kind = "complaint"
            working_days = 5
            "#,
        )
        .expect("parses");
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!(policy.rules.len(), 3);
        let cal = Calendar::builtin();
        let deadline =
            |kind, line, class, t| policy.deadline(&req(kind, line, class, t), Shanghai, cal);
        assert_eq!(
            deadline(
                Fault,
                Some(LineKind::Broadband),
                Business,
                sh(2026, 3, 11, 14, 29)
            ),
            Some(sh(2026, 3, 12, 0, 0))
        );
        assert_eq!(
            deadline(
                Fault,
                Some(LineKind::Broadband),
                Business,
                sh(2026, 3, 11, 14, 30)
            ),
            Some(sh(2026, 3, 12, 10, 0))
        );
        assert_eq!(
            deadline(
                Fault,
                Some(LineKind::Phone),
                Business,
                sh(2026, 3, 11, 14, 30)
            ),
            Some(sh(2026, 3, 13, 14, 30))
        );
        // Complaints now have a deadline: Friday 13 March + 5 working days = end of the 20th.
        assert_eq!(
            deadline(Complaint, None, Residential, sh(2026, 3, 13, 9, 0)),
            Some(sh(2026, 3, 21, 0, 0))
        );
        // Not in this policy at all.
        assert_eq!(
            deadline(Installation, None, Residential, sh(2026, 3, 13, 9, 0)),
            None
        );
    }

    #[test]
    fn policies_round_trip_through_toml() {
        let text = toml::to_string(&Policy::standard()).expect("serialises");
        assert!(text.contains("same_day_before = \"16:00\""), "{text}");
        assert!(text.contains("line_kind = \"leased\""), "{text}");
        let back: Policy = toml::from_str(&text).expect("parses");
        assert_eq!(back, Policy::standard());
        // An empty section keeps the standard; an empty list promises nothing.
        assert_eq!(
            toml::from_str::<Policy>("").expect("parses"),
            Policy::standard()
        );
        assert!(
            toml::from_str::<Policy>("rules = []")
                .expect("parses")
                .rules
                .is_empty()
        );
    }

    fn rule_error(body: &str) -> String {
        toml::from_str::<Policy>(&format!("[[rules]]\n{body}"))
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn invalid_rules_are_refused_with_clear_errors() {
        let cases = [
            ("kind = \"repair\"\nhours = 4", "unknown variant `repair`"),
            ("hours = 4", "missing field `kind`"),
            ("kind = \"fault\"", "a rule for fault makes no promise"),
            (
                "kind = \"fault\"\nhours = 4\nworking_days = 2",
                "a rule for fault makes two promises (hours and working_days)",
            ),
            (
                "kind = \"fault\"\nworking_days = 2\nsame_day_before = \"16:00\"\notherwise_next_working_day_by = \"12:00\"",
                "two promises (working_days and same_day_before)",
            ),
            (
                "kind = \"fault\"\nhours = 0",
                "hours must be between 1 and 8784, got 0",
            ),
            (
                "kind = \"fault\"\nhours = -3",
                "hours must be between 1 and 8784, got -3",
            ),
            (
                "kind = \"move\"\nworking_days = 1000",
                "a rule for move: working_days must be between 1 and 366, got 1000",
            ),
            (
                "kind = \"fault\"\nsame_day_before = \"25:00\"\notherwise_next_working_day_by = \"12:00\"",
                "same_day_before must be a time of day \"HH:MM\" (00:00 to 23:59), got \"25:00\"",
            ),
            (
                "kind = \"fault\"\nsame_day_before = \"16:00\"\notherwise_next_working_day_by = \"noon\"",
                "otherwise_next_working_day_by must be a time of day",
            ),
            (
                "kind = \"fault\"\nsame_day_before = \"16:00\"",
                "has same_day_before without otherwise_next_working_day_by",
            ),
            (
                "kind = \"fault\"\notherwise_next_working_day_by = \"12:00\"",
                "has otherwise_next_working_day_by without same_day_before",
            ),
            (
                "kind = \"fault\"\nhours = 4\nminutes = 30",
                "unknown field `minutes`",
            ),
            (
                "kind = \"fault\"\nhours = 4\nline_kind = \"fibre\"",
                "unknown variant `fibre`",
            ),
        ];
        for (body, want) in cases {
            let err = rule_error(body);
            assert!(err.contains(want), "{body:?}: {err}");
        }
    }

    #[test]
    fn validate_catches_rules_built_in_code() {
        let policy = Policy {
            rules: vec![
                Rule::new(Fault, Promise::Hours(72)),
                Rule::new(Installation, Promise::WorkingDays(0)),
            ],
        };
        let err = policy.validate().expect_err("zero days");
        assert_eq!(err.number, 2);
        assert_eq!(
            err.to_string(),
            "sla rule 2: a rule for installation: working_days must be between 1 and 366, got 0"
        );
    }

    #[test]
    fn promises_read_well() {
        let texts: Vec<String> = Policy::standard()
            .rules
            .iter()
            .map(|r| r.promise.to_string())
            .collect();
        assert_eq!(
            texts,
            [
                "72 hours",
                "4 hours",
                "same day before 16:00, otherwise next working day by 12:00",
                "end of working day 15",
                "end of working day 15",
                "24 hours",
            ]
        );
    }
}
