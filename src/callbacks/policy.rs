//! Retry policy: what happens after an attempt to reach a customer ends.
//!
//! Rules:
//! - An attempt ends in one [`Outcome`]. `Answered` (a person came on the line; the survey ran,
//!   fully or partly) ends the callback as reached; `Rejected` (the carrier refused the number
//!   for good, e.g. it does not exist) ends it as rejected. Neither is ever retried.
//! - `NoAnswer`, `Busy`, `Failed` and `Machine` are retried after the delay of that outcome,
//!   while the callback has attempts left. `max_attempts` counts ALL attempts of the callback,
//!   whatever they ended in: with the defaults, a callback whose first two attempts were busy
//!   and whose third got no answer is done (no answer allows 3 attempts in all).
//! - `CarrierBusy` (the carrier refused for now and placed nothing, e.g. Twilio's 429) is not an
//!   attempt: it is retried [`CARRIER_BUSY_RETRY_MINUTES`] later without counting, and has no
//!   maximum of its own; the campaign's end date bounds it.
//! - A retry is never placed outside the calling window: its time is moved to the window's next
//!   opening in the customer's zone. A retry that would fall at or after the campaign's end, or
//!   whose window does not open within the search bound, is not made: the callback is done and
//!   says why.
//! - Every decision carries a `why` in plain English, shown by `hotline callbacks why ID`, with
//!   times in the customer's zone.
//! - Policies are read from TOML or JSON, one table per outcome (`[busy] delay_minutes = 10`);
//!   whatever is left out keeps its default. Delays run from 1 minute to 7 days and attempts
//!   from 1 to 20; anything else is refused, naming the outcome and the field.

use std::fmt;

use chrono::DateTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::window::{CallingWindow, Closed};
use crate::calendar::Calendar;

/// How soon a call the carrier refused for now (`CarrierBusy`) is tried again.
pub const CARRIER_BUSY_RETRY_MINUTES: u32 = 1;
/// Largest `max_attempts` of any outcome.
pub const MAX_ATTEMPTS: u32 = 20;
/// Largest `delay_minutes` of any outcome: a week.
pub const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A person answered; the survey ran, fully or partly.
    Answered,
    /// It rang; nobody answered.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The carrier could not complete the call.
    Failed,
    /// An answering machine answered.
    Machine,
    /// The carrier refused the call for good (an invalid number, no permission to call there).
    Rejected,
    /// The carrier refused the call for now and nothing was placed (rate limit, overload).
    CarrierBusy,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Answered,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Failed,
        Outcome::Machine,
        Outcome::Rejected,
        Outcome::CarrierBusy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Failed => "failed",
            Outcome::Machine => "machine",
            Outcome::Rejected => "rejected",
            Outcome::CarrierBusy => "carrier_busy",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the attempt counts against `max_attempts`: all but `CarrierBusy`.
    pub fn counts_as_attempt(self) -> bool {
        self != Outcome::CarrierBusy
    }

    /// Plain words for the `why` texts.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::NoAnswer => "no answer",
            Outcome::Busy => "busy",
            Outcome::Failed => "the call failed",
            Outcome::Machine => "an answering machine answered",
            Outcome::Rejected => "the carrier refused the number for good",
            Outcome::CarrierBusy => "the carrier refused the call for now",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The retry rule of one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Minutes from the end of the attempt to the next one (before moving it into the window).
    pub delay_minutes: u32,
    /// Attempts of the callback in all, after which this outcome ends it.
    pub max_attempts: u32,
}

/// Retry rules per outcome; see the module rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFields", into = "PolicyFields")]
pub struct RetryPolicy {
    pub no_answer: Retry,
    pub busy: Retry,
    pub failed: Retry,
    pub machine: Retry,
}

impl Default for RetryPolicy {
    /// No answer: 60 minutes, 3 attempts; busy: 15 minutes, 3; failed: 30 minutes, 2;
    /// answering machine: 120 minutes, 2.
    fn default() -> Self {
        RetryPolicy {
            no_answer: Retry {
                delay_minutes: 60,
                max_attempts: 3,
            },
            busy: Retry {
                delay_minutes: 15,
                max_attempts: 3,
            },
            failed: Retry {
                delay_minutes: 30,
                max_attempts: 2,
            },
            machine: Retry {
                delay_minutes: 120,
                max_attempts: 2,
            },
        }
    }
}

/// Why a retry policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry policy for {outcome}: {field} must be between {min} and {max}, got {value}")]
pub struct PolicyError {
    pub outcome: &'static str,
    pub field: &'static str,
    pub value: i64,
    pub min: u32,
    pub max: u32,
}

impl RetryPolicy {
    /// The rule of a retried outcome; `None` for outcomes that are never retried by rule
    /// (`Answered`, `Rejected`, `CarrierBusy`).
    pub fn for_outcome(&self, outcome: Outcome) -> Option<&Retry> {
        match outcome {
            Outcome::NoAnswer => Some(&self.no_answer),
            Outcome::Busy => Some(&self.busy),
            Outcome::Failed => Some(&self.failed),
            Outcome::Machine => Some(&self.machine),
            Outcome::Answered | Outcome::Rejected | Outcome::CarrierBusy => None,
        }
    }

    fn rules(&self) -> [(Outcome, &Retry); 4] {
        [
            (Outcome::NoAnswer, &self.no_answer),
            (Outcome::Busy, &self.busy),
            (Outcome::Failed, &self.failed),
            (Outcome::Machine, &self.machine),
        ]
    }

    /// Checks a policy built in code (read ones are checked when read).
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (outcome, rule) in self.rules() {
            check(
                outcome,
                "delay_minutes",
                rule.delay_minutes.into(),
                MAX_DELAY_MINUTES,
            )?;
            check(
                outcome,
                "max_attempts",
                rule.max_attempts.into(),
                MAX_ATTEMPTS,
            )?;
        }
        Ok(())
    }

    /// The largest `max_attempts` of any outcome: no callback is attempted more often.
    pub fn max_attempts_overall(&self) -> u32 {
        self.rules()
            .iter()
            .map(|(_, r)| r.max_attempts)
            .max()
            .unwrap_or(1)
    }
}

fn check(outcome: Outcome, field: &'static str, value: i64, max: u32) -> Result<u32, PolicyError> {
    u32::try_from(value)
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or(PolicyError {
            outcome: outcome.as_str(),
            field,
            value,
            min: 1,
            max,
        })
}

/// A policy as written: every table and field optional.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    no_answer: Option<RetryFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    busy: Option<RetryFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed: Option<RetryFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    machine: Option<RetryFields>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_attempts: Option<i64>,
}

impl From<&Retry> for RetryFields {
    fn from(r: &Retry) -> Self {
        RetryFields {
            delay_minutes: Some(r.delay_minutes.into()),
            max_attempts: Some(r.max_attempts.into()),
        }
    }
}

fn read_rule(
    outcome: Outcome,
    given: Option<RetryFields>,
    default: Retry,
) -> Result<Retry, PolicyError> {
    let Some(f) = given else {
        return Ok(default);
    };
    Ok(Retry {
        delay_minutes: match f.delay_minutes {
            Some(v) => check(outcome, "delay_minutes", v, MAX_DELAY_MINUTES)?,
            None => default.delay_minutes,
        },
        max_attempts: match f.max_attempts {
            Some(v) => check(outcome, "max_attempts", v, MAX_ATTEMPTS)?,
            None => default.max_attempts,
        },
    })
}

impl TryFrom<PolicyFields> for RetryPolicy {
    type Error = PolicyError;

    fn try_from(f: PolicyFields) -> Result<Self, Self::Error> {
        let d = RetryPolicy::default();
        Ok(RetryPolicy {
            no_answer: read_rule(Outcome::NoAnswer, f.no_answer, d.no_answer)?,
            busy: read_rule(Outcome::Busy, f.busy, d.busy)?,
            failed: read_rule(Outcome::Failed, f.failed, d.failed)?,
            machine: read_rule(Outcome::Machine, f.machine, d.machine)?,
        })
    }
}

impl From<RetryPolicy> for PolicyFields {
    fn from(p: RetryPolicy) -> Self {
        PolicyFields {
            no_answer: Some((&p.no_answer).into()),
            busy: Some((&p.busy).into()),
            failed: Some((&p.failed).into()),
            machine: Some((&p.machine).into()),
        }
    }
}

/// Why a callback will not be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneReason {
    /// A person answered.
    Reached,
    /// The attempts allowed for the last outcome are used up.
    Exhausted,
    /// The carrier refused the number for good.
    Rejected,
    /// The next try would fall at or after the campaign's end.
    PastEnd,
    /// The calling window does not open again within the search bound.
    NeverOpen,
}

impl DoneReason {
    pub const ALL: [DoneReason; 5] = [
        DoneReason::Reached,
        DoneReason::Exhausted,
        DoneReason::Rejected,
        DoneReason::PastEnd,
        DoneReason::NeverOpen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DoneReason::Reached => "reached",
            DoneReason::Exhausted => "exhausted",
            DoneReason::Rejected => "rejected",
            DoneReason::PastEnd => "past_end",
            DoneReason::NeverOpen => "never_open",
        }
    }

    pub fn parse(s: &str) -> Option<DoneReason> {
        DoneReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for DoneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a callback after an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Try again at `at_ms` (inside the calling window, before the campaign's end).
    Retry { at_ms: i64, why: String },
    /// Not tried again.
    Done { reason: DoneReason, why: String },
}

impl Decision {
    /// The plain-English explanation.
    pub fn why(&self) -> &str {
        match self {
            Decision::Retry { why, .. } | Decision::Done { why, .. } => why,
        }
    }

    /// When the next attempt is due, if there is one.
    pub fn retry_at(&self) -> Option<i64> {
        match self {
            Decision::Retry { at_ms, .. } => Some(*at_ms),
            Decision::Done { .. } => None,
        }
    }
}

/// Decides what follows an attempt that ended in `outcome` at `ended_at_ms`.
///
/// `attempts_made` is the number of attempts of the callback that count, including the one
/// that just ended when it counts (a counted outcome with 0 is read as 1); for `CarrierBusy`
/// it is the count before, as nothing was placed. `tz` is the customer's zone;
/// `campaign_end_ms`, when given, is the instant from which no call may be placed.
#[allow(clippy::too_many_arguments)] // the inputs are distinct facts; a struct would only rename them
pub fn decide(
    policy: &RetryPolicy,
    outcome: Outcome,
    attempts_made: u32,
    ended_at_ms: i64,
    window: &CallingWindow,
    tz: Tz,
    cal: &Calendar,
    campaign_end_ms: Option<i64>,
) -> Decision {
    let n = if outcome.counts_as_attempt() {
        attempts_made.max(1)
    } else {
        attempts_made
    };
    let (head, delay_minutes) = match outcome {
        Outcome::Answered => {
            return Decision::Done {
                reason: DoneReason::Reached,
                why: format!("answered (attempt {n}); the customer was reached, not called again"),
            };
        }
        Outcome::Rejected => {
            return Decision::Done {
                reason: DoneReason::Rejected,
                why: format!(
                    "{} (attempt {n}); the number cannot be called, not called again",
                    outcome.describe()
                ),
            };
        }
        Outcome::CarrierBusy => {
            let made = match n {
                0 => "no attempt made yet".to_string(),
                1 => "1 attempt made so far".to_string(),
                n => format!("{n} attempts made so far"),
            };
            let head = format!(
                "{}, nothing was placed (not counted as an attempt; {made})",
                outcome.describe()
            );
            (head, CARRIER_BUSY_RETRY_MINUTES)
        }
        Outcome::NoAnswer | Outcome::Busy | Outcome::Failed | Outcome::Machine => {
            let Some(rule) = policy.for_outcome(outcome) else {
                // Unreachable: every retried outcome has a rule.
                return Decision::Done {
                    reason: DoneReason::Exhausted,
                    why: format!("{} (attempt {n}); no retry rule", outcome.describe()),
                };
            };
            let head = format!(
                "{} (attempt {n} of {})",
                outcome.describe(),
                rule.max_attempts
            );
            if n >= rule.max_attempts {
                return Decision::Done {
                    reason: DoneReason::Exhausted,
                    why: format!("{head}; no attempts left, not called again"),
                };
            }
            (head, rule.delay_minutes)
        }
    };

    let wanted = ended_at_ms.saturating_add(i64::from(delay_minutes) * 60_000);
    let Some(at_ms) = window.next_open(wanted, tz, cal) else {
        return Decision::Done {
            reason: DoneReason::NeverOpen,
            why: format!(
                "{head}; the calling window ({window}) does not open again within two years, \
                 not called again"
            ),
        };
    };
    if let Some(end) = campaign_end_ms
        && at_ms >= end
    {
        return Decision::Done {
            reason: DoneReason::PastEnd,
            why: format!(
                "{head}; the next try would be at {}, not before the campaign ends at {}, \
                 not called again",
                local(at_ms, tz),
                local(end, tz)
            ),
        };
    }
    let when = if at_ms == wanted {
        "inside the calling window".to_string()
    } else {
        let because = match window.closed_reason(wanted, tz, cal) {
            Some(Closed::OutsideHours) | None => format!("it is outside {window}"),
            Some(closed) => closed.to_string(),
        };
        format!(
            "when the calling window opens (moved from {} because {because})",
            local_short(wanted, tz)
        )
    };
    Decision::Retry {
        at_ms,
        why: format!("{head}; next try at {}, {when}", local(at_ms, tz)),
    }
}

/// "2026-06-01 10:00 Asia/Shanghai".
fn local(ms: i64, tz: Tz) -> String {
    format!("{} {}", local_short(ms, tz), tz.name())
}

/// "2026-06-01 10:00", in `tz`.
fn local_short(ms: i64, tz: Tz) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::Los_Angeles;
    use chrono_tz::Asia::Shanghai;

    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("a valid time")
            .timestamp_millis()
    }

    /// Decides with the default policy and window, in Shanghai, on the built-in calendar.
    fn standard(outcome: Outcome, attempts: u32, ended: i64, end: Option<i64>) -> Decision {
        decide(
            &RetryPolicy::default(),
            outcome,
            attempts,
            ended,
            &CallingWindow::default(),
            Shanghai,
            Calendar::builtin(),
            end,
        )
    }

    fn retry(at_ms: i64, why: &str) -> Decision {
        Decision::Retry {
            at_ms,
            why: why.to_string(),
        }
    }

    fn done(reason: DoneReason, why: &str) -> Decision {
        Decision::Done {
            reason,
            why: why.to_string(),
        }
    }

    #[test]
    fn outcomes_and_reasons_have_stable_names() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(
                serde_json::to_string(&o).expect("serialises"),
                format!("\"{}\"", o.as_str())
            );
        }
        assert_eq!(Outcome::parse("no answer"), None);
        assert_eq!(Outcome::NoAnswer.to_string(), "no_answer");
        assert!(!Outcome::CarrierBusy.counts_as_attempt());
        assert!(Outcome::Busy.counts_as_attempt() && Outcome::Rejected.counts_as_attempt());
        for r in DoneReason::ALL {
            assert_eq!(DoneReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(DoneReason::PastEnd.to_string(), "past_end");
    }

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!(p.validate(), Ok(()));
        let rule = |o| p.for_outcome(o).map(|r| (r.delay_minutes, r.max_attempts));
        assert_eq!(rule(Outcome::NoAnswer), Some((60, 3)));
        assert_eq!(rule(Outcome::Busy), Some((15, 3)));
        assert_eq!(rule(Outcome::Failed), Some((30, 2)));
        assert_eq!(rule(Outcome::Machine), Some((120, 2)));
        assert_eq!(rule(Outcome::Answered), None);
        assert_eq!(rule(Outcome::Rejected), None);
        assert_eq!(rule(Outcome::CarrierBusy), None);
        assert_eq!(p.max_attempts_overall(), 3);
    }

    #[test]
    fn policies_read_from_toml_keep_defaults_for_what_is_left_out() {
        let p: RetryPolicy =
            toml::from_str("[busy]\ndelay_minutes = 10\n\n[machine]\nmax_attempts = 1\n")
                .expect("parses");
        let d = RetryPolicy::default();
        assert_eq!(
            p.busy,
            Retry {
                delay_minutes: 10,
                max_attempts: 3
            }
        );
        assert_eq!(
            p.machine,
            Retry {
                delay_minutes: 120,
                max_attempts: 1
            }
        );
        assert_eq!((p.no_answer, p.failed), (d.no_answer, d.failed));
        assert_eq!(toml::from_str::<RetryPolicy>("").expect("parses"), d);
        let json = serde_json::to_string(&p).expect("serialises");
        assert_eq!(
            serde_json::from_str::<RetryPolicy>(&json).expect("parses"),
            p
        );
        let text = toml::to_string(&d).expect("serialises");
        assert_eq!(toml::from_str::<RetryPolicy>(&text).expect("parses"), d);
    }

    #[test]
    fn bad_policies_are_refused_naming_outcome_and_field() {
        let cases = [
            (
                "[busy]\nmax_attempts = 0",
                "retry policy for busy: max_attempts must be between 1 and 20, got 0",
            ),
            (
                "[no_answer]\ndelay_minutes = -5",
                "retry policy for no_answer: delay_minutes must be between 1 and 10080, got -5",
            ),
            (
                "[machine]\ndelay_minutes = 20000",
                "retry policy for machine: delay_minutes must be between 1 and 10080, got 20000",
            ),
            ("[failed]\ntries = 2", "unknown field `tries`"),
            ("[voicemail]\nmax_attempts = 2", "unknown field `voicemail`"),
        ];
        for (text, want) in cases {
            let err = toml::from_str::<RetryPolicy>(text)
                .expect_err(text)
                .to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let mut p = RetryPolicy::default();
        p.failed.delay_minutes = 0;
        assert_eq!(
            p.validate().map_err(|e| e.to_string()),
            Err("retry policy for failed: delay_minutes must be between 1 and 10080, got 0".into())
        );
    }

    #[test]
    fn answered_is_reached() {
        assert_eq!(
            standard(Outcome::Answered, 2, sh(2026, 6, 1, 10, 0), None),
            done(
                DoneReason::Reached,
                "answered (attempt 2); the customer was reached, not called again"
            )
        );
    }

    #[test]
    fn rejected_is_never_retried() {
        assert_eq!(
            standard(Outcome::Rejected, 1, sh(2026, 6, 1, 10, 0), None),
            done(
                DoneReason::Rejected,
                "the carrier refused the number for good (attempt 1); the number cannot be called, not called again"
            )
        );
    }

    #[test]
    fn no_answer_retries_an_hour_later_inside_the_window() {
        assert_eq!(
            standard(Outcome::NoAnswer, 2, sh(2026, 6, 1, 9, 0), None),
            retry(
                sh(2026, 6, 1, 10, 0),
                "no answer (attempt 2 of 3); next try at 2026-06-01 10:00 Asia/Shanghai, inside the calling window"
            )
        );
    }

    #[test]
    fn each_outcome_has_its_delay() {
        let ended = sh(2026, 6, 1, 10, 0);
        let at = |o| standard(o, 1, ended, None).retry_at();
        assert_eq!(at(Outcome::NoAnswer), Some(sh(2026, 6, 1, 11, 0)));
        assert_eq!(at(Outcome::Busy), Some(sh(2026, 6, 1, 10, 15)));
        assert_eq!(at(Outcome::Failed), Some(sh(2026, 6, 1, 10, 30)));
        assert_eq!(at(Outcome::Machine), Some(sh(2026, 6, 1, 12, 0)));
        assert_eq!(
            standard(Outcome::Machine, 1, ended, None).why(),
            "an answering machine answered (attempt 1 of 2); next try at 2026-06-01 12:00 Asia/Shanghai, inside the calling window"
        );
    }

    #[test]
    fn attempts_are_exhausted_per_outcome() {
        let ended = sh(2026, 6, 1, 10, 0);
        assert_eq!(
            standard(Outcome::NoAnswer, 3, ended, None),
            done(
                DoneReason::Exhausted,
                "no answer (attempt 3 of 3); no attempts left, not called again"
            )
        );
        assert!(matches!(
            standard(Outcome::Busy, 3, ended, None),
            Decision::Done {
                reason: DoneReason::Exhausted,
                ..
            }
        ));
        assert!(standard(Outcome::Busy, 2, ended, None).retry_at().is_some());
        assert_eq!(
            standard(Outcome::Failed, 2, ended, None).why(),
            "the call failed (attempt 2 of 2); no attempts left, not called again"
        );
        assert!(
            standard(Outcome::Machine, 2, ended, None)
                .retry_at()
                .is_none()
        );
        // max_attempts counts every attempt: after two busy ones, a machine on the third ends it.
        assert!(
            standard(Outcome::Machine, 3, ended, None)
                .retry_at()
                .is_none()
        );
        // A counted outcome reported with no attempts is the first one.
        assert_eq!(
            standard(Outcome::NoAnswer, 0, ended, None).why(),
            "no answer (attempt 1 of 3); next try at 2026-06-01 11:00 Asia/Shanghai, inside the calling window"
        );
    }

    #[test]
    fn a_retry_after_the_window_closes_moves_to_the_next_morning() {
        assert_eq!(
            standard(Outcome::NoAnswer, 1, sh(2026, 6, 1, 19, 30), None),
            retry(
                sh(2026, 6, 2, 9, 0),
                "no answer (attempt 1 of 3); next try at 2026-06-02 09:00 Asia/Shanghai, when the calling window opens (moved from 2026-06-01 20:30 because it is outside 09:00–20:00 every day except holidays)"
            )
        );
    }

    #[test]
    fn a_retry_on_a_holiday_moves_past_it() {
        // Answering machine retried a day later, which is National Day.
        let policy: RetryPolicy =
            toml::from_str("[machine]\ndelay_minutes = 1440").expect("parses");
        let d = decide(
            &policy,
            Outcome::Machine,
            1,
            sh(2026, 9, 30, 10, 0),
            &CallingWindow::default(),
            Shanghai,
            Calendar::builtin(),
            None,
        );
        assert_eq!(
            d,
            retry(
                sh(2026, 10, 8, 9, 0),
                "an answering machine answered (attempt 1 of 2); next try at 2026-10-08 09:00 Asia/Shanghai, when the calling window opens (moved from 2026-10-01 10:00 because 2026-10-01 is a holiday)"
            )
        );
        // An evening attempt before the holidays also waits for them to pass.
        assert_eq!(
            standard(Outcome::NoAnswer, 1, sh(2026, 9, 30, 19, 30), None).retry_at(),
            Some(sh(2026, 10, 8, 9, 0))
        );
    }

    #[test]
    fn a_retry_after_the_campaign_end_is_not_made() {
        let ended = sh(2026, 6, 1, 19, 30);
        // The campaign ends at 21:00: the next opening, 09:00 tomorrow, is too late.
        assert_eq!(
            standard(Outcome::NoAnswer, 1, ended, Some(sh(2026, 6, 1, 21, 0))),
            done(
                DoneReason::PastEnd,
                "no answer (attempt 1 of 3); the next try would be at 2026-06-02 09:00 Asia/Shanghai, not before the campaign ends at 2026-06-01 21:00 Asia/Shanghai, not called again"
            )
        );
        // The end is excluded: a retry due exactly at the end is not made.
        let at_end = standard(
            Outcome::Busy,
            1,
            sh(2026, 6, 1, 10, 0),
            Some(sh(2026, 6, 1, 10, 15)),
        );
        assert!(matches!(
            at_end,
            Decision::Done {
                reason: DoneReason::PastEnd,
                ..
            }
        ));
        let before_end = standard(
            Outcome::Busy,
            1,
            sh(2026, 6, 1, 10, 0),
            Some(sh(2026, 6, 1, 10, 16)),
        );
        assert_eq!(before_end.retry_at(), Some(sh(2026, 6, 1, 10, 15)));
    }

    #[test]
    fn a_window_that_never_opens_ends_the_callback() {
        let window = CallingWindow {
            days: super::super::window::Days::NONE.with(chrono::Weekday::Sun),
            working_days_only: true,
            ..CallingWindow::default()
        };
        let d = decide(
            &RetryPolicy::default(),
            Outcome::Busy,
            1,
            sh(2026, 6, 1, 10, 0),
            &window,
            Shanghai,
            &Calendar::weekdays_only(),
            None,
        );
        assert_eq!(
            d,
            done(
                DoneReason::NeverOpen,
                "busy (attempt 1 of 3); the calling window (09:00–20:00 on working days, Sunday) does not open again within two years, not called again"
            )
        );
    }

    #[test]
    fn carrier_busy_retries_a_minute_later_without_counting() {
        assert_eq!(
            standard(Outcome::CarrierBusy, 0, sh(2026, 6, 1, 10, 0), None),
            retry(
                sh(2026, 6, 1, 10, 1),
                "the carrier refused the call for now, nothing was placed (not counted as an attempt; no attempt made yet); next try at 2026-06-01 10:01 Asia/Shanghai, inside the calling window"
            )
        );
        // No maximum: the third attempt's allowance is untouched.
        let d = standard(Outcome::CarrierBusy, 3, sh(2026, 6, 1, 10, 0), None);
        assert_eq!(d.retry_at(), Some(sh(2026, 6, 1, 10, 1)));
        assert!(d.why().contains("3 attempts made so far"), "{}", d.why());
        // Still inside the window: at the last minute it waits for the morning.
        assert_eq!(
            standard(Outcome::CarrierBusy, 1, sh(2026, 6, 1, 19, 59), None).retry_at(),
            Some(sh(2026, 6, 2, 9, 0))
        );
        // And never past the campaign's end.
        assert!(matches!(
            standard(
                Outcome::CarrierBusy,
                1,
                sh(2026, 6, 1, 10, 0),
                Some(sh(2026, 6, 1, 10, 1))
            ),
            Decision::Done {
                reason: DoneReason::PastEnd,
                ..
            }
        ));
    }

    #[test]
    fn retries_follow_the_customers_zone_across_a_clock_change() {
        // A Los Angeles customer, window 02:30–20:00: no answer at 01:00 PST on 8 March 2026,
        // an hour later is 03:00 PDT (the clocks jumped), inside the window.
        let window: CallingWindow =
            toml::from_str("start = \"02:30\"\nend = \"20:00\"").expect("parses");
        let ended = DateTime::parse_from_rfc3339("2026-03-08T01:00:00-08:00")
            .expect("rfc3339")
            .timestamp_millis();
        let d = decide(
            &RetryPolicy::default(),
            Outcome::NoAnswer,
            1,
            ended,
            &window,
            Los_Angeles,
            Calendar::builtin(),
            None,
        );
        let want = DateTime::parse_from_rfc3339("2026-03-08T03:00:00-07:00")
            .expect("rfc3339")
            .timestamp_millis();
        assert_eq!(d.retry_at(), Some(want));
        assert_eq!(
            d.why(),
            "no answer (attempt 1 of 3); next try at 2026-03-08 03:00 America/Los_Angeles, inside the calling window"
        );
    }

    #[test]
    fn decisions_serialise_with_their_kind() {
        let d = standard(Outcome::Answered, 1, sh(2026, 6, 1, 10, 0), None);
        let json = serde_json::to_value(&d).expect("serialises");
        assert_eq!(json["decision"], "done");
        assert_eq!(json["reason"], "reached");
        assert_eq!(serde_json::from_value::<Decision>(json).expect("parses"), d);
    }
}
