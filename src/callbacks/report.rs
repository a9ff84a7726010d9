//! Reports: what a campaign achieved, and why one customer was (or was not yet) called.
//!
//! Rules:
//! - A campaign's figures come from the store's aggregates (`CallbackStore::campaign_tally`,
//!   GROUP BY in SQL), never from loading its callbacks one by one.
//! - The figures, each a number of callbacks: `owed` (all of them, whatever their state),
//!   `called` (at least one attempt that counts reached the carrier), `reached` (a person
//!   answered), `answered` (at least one survey answer), `partial` (answered, but not every
//!   required question), `opted_out` (the number asked not to be called, before or during the
//!   call); the states and the outcomes of the done and cancelled ones are listed in full.
//! - Per question of the script, in its order: how many answered it, how many gave each value
//!   it can produce (0 included; a comment is counted but not by value, each being a
//!   recording), and the mean score on 0–100 over the answers that scored, when any did.
//! - A satisfaction campaign states its rate with the denominator, as the operator reports it:
//!   (very + basically satisfied) / everyone who answered the satisfaction question, e.g.
//!   "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)".
//! - `why` answers "why was this customer (not yet) called?" in one plain paragraph, from the
//!   callback's state, its campaign, its attempts and its ledger alone; times are shown in
//!   the customer's zone. It gives the paragraph's sentences as facts (`Why`): its `Display`
//!   is the English of the API and the command line, and the console words the same facts in
//!   the agent's language.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use chrono_tz::Tz;
use serde::Serialize;

use super::policy::Outcome;
use super::{
    Attempt, AttemptState, Callback, CallbackState, Campaign, CampaignState, CampaignTally,
    LedgerEntry, StoredAnswer,
};
use crate::calendar::Calendar;
use crate::callbacks::repo::CallbackStore;
use crate::callbacks::window::CallingWindow;
use crate::repo::StoreError;
use crate::surveys::SatisfactionCounts;
use crate::surveys::script::{AnswerKind, Purpose, Script};

/// A campaign's report; see the module rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignReport {
    pub campaign_id: i64,
    pub name: String,
    pub purpose: Purpose,
    pub state: CampaignState,
    pub owed: i64,
    pub called: i64,
    pub reached: i64,
    pub answered: i64,
    pub partial: i64,
    pub opted_out: i64,
    /// Callbacks per state; every state is listed.
    pub states: BTreeMap<String, i64>,
    /// Done and cancelled callbacks per outcome (`reached`, `exhausted`, `rejected`,
    /// `past_end`, `opted_out`, `recently_surveyed`, `cancelled`, `stopped`…).
    pub outcomes: BTreeMap<String, i64>,
    pub questions: Vec<QuestionReport>,
    /// Satisfaction campaigns only.
    pub satisfaction: Option<SatisfactionReport>,
}

/// One question's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionReport {
    pub key: String,
    /// `scale`, `choice`, `yes_no` or `comment`.
    pub kind: &'static str,
    pub optional: bool,
    /// Callbacks that answered it.
    pub answered: i64,
    /// Per value the question can produce, in the script's order (empty for comments).
    pub counts: Vec<ValueCount>,
    /// Answers that gave points, and their mean on 0–100.
    pub scored: i64,
    pub mean_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueCount {
    pub value: String,
    pub count: i64,
}

/// The operator's figure, with its denominator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SatisfactionReport {
    pub very: u64,
    pub basic: u64,
    pub dissatisfied: u64,
    /// very + basic: the numerator.
    pub satisfied: u64,
    /// Everyone who answered the satisfaction question: the denominator.
    pub denominator: u64,
    /// In percent, to one decimal; `None` when nobody answered.
    pub rate: Option<f64>,
    /// "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)".
    pub text: String,
}

impl SatisfactionReport {
    pub fn new(counts: SatisfactionCounts) -> Self {
        SatisfactionReport {
            very: counts.very,
            basic: counts.basic,
            dissatisfied: counts.dissatisfied,
            satisfied: counts.satisfied(),
            denominator: counts.answered(),
            rate: counts.rate().map(|r| (r * 10.0).round() / 10.0),
            text: counts.to_string(),
        }
    }
}

/// The questions a complete survey answers: the script's required ones.
pub fn required_questions(script: &Script) -> Vec<String> {
    script
        .questions
        .iter()
        .filter(|q| !q.optional)
        .map(|q| q.key.clone())
        .collect()
}

/// The questions counted by value: all but comments.
pub fn counted_questions(script: &Script) -> Vec<String> {
    script
        .questions
        .iter()
        .filter(|q| !matches!(q.answer, AnswerKind::Comment { .. }))
        .map(|q| q.key.clone())
        .collect()
}

fn kind_name(kind: &AnswerKind) -> &'static str {
    match kind {
        AnswerKind::Scale { .. } => "scale",
        AnswerKind::Choice { .. } => "choice",
        AnswerKind::YesNo => "yes_no",
        AnswerKind::Comment { .. } => "comment",
    }
}

impl CampaignReport {
    /// The report of `campaign` from its tally.
    pub fn new(campaign: &Campaign, tally: &CampaignTally) -> Self {
        let mut states: BTreeMap<String, i64> = [
            CallbackState::Pending,
            CallbackState::Dialing,
            CallbackState::Done,
            CallbackState::Cancelled,
        ]
        .into_iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
        for (state, n) in &tally.states {
            *states.entry(state.clone()).or_insert(0) += n;
        }
        let owed = states.values().sum();
        let outcomes = tally.outcomes.iter().cloned().collect();
        let count_of = |question: &str, value: &str| {
            tally
                .answers
                .iter()
                .find(|a| a.question == question && a.answer == value)
                .map_or(0, |a| a.callbacks)
        };
        let questions = campaign
            .script
            .questions
            .iter()
            .map(|q| {
                let t = tally.questions.iter().find(|t| t.question == q.key);
                let mut counts: Vec<ValueCount> = q
                    .answer
                    .values()
                    .into_iter()
                    .map(|value| ValueCount {
                        count: count_of(&q.key, &value),
                        value,
                    })
                    .collect();
                // Values stored that the script does not produce (none, unless the data was
                // written by hand) are shown rather than hidden.
                for a in tally.answers.iter().filter(|a| a.question == q.key) {
                    if !counts.iter().any(|c| c.value == a.answer) {
                        counts.push(ValueCount {
                            value: a.answer.clone(),
                            count: a.callbacks,
                        });
                    }
                }
                QuestionReport {
                    key: q.key.clone(),
                    kind: kind_name(&q.answer),
                    optional: q.optional,
                    answered: t.map_or(0, |t| t.callbacks),
                    counts,
                    scored: t.map_or(0, |t| t.scored),
                    mean_score: t.and_then(|t| t.mean_score),
                }
            })
            .collect();
        let satisfaction = (campaign.purpose == Purpose::Satisfaction).then(|| {
            let key = campaign
                .script
                .satisfaction_question()
                .map(|q| q.key.as_str())
                .unwrap_or("satisfaction");
            let n = |value: &str| u64::try_from(count_of(key, value)).unwrap_or(0);
            SatisfactionReport::new(SatisfactionCounts::new(
                n(crate::surveys::script::VERY),
                n(crate::surveys::script::BASIC),
                n(crate::surveys::script::DISSATISFIED),
            ))
        });
        CampaignReport {
            campaign_id: campaign.id,
            name: campaign.name.clone(),
            purpose: campaign.purpose,
            state: campaign.state,
            owed,
            called: tally.called,
            reached: tally.reached,
            answered: tally.answered,
            partial: (tally.answered - tally.complete).max(0),
            opted_out: tally.opted_out,
            states,
            outcomes,
            questions,
            satisfaction,
        }
    }

    /// The report as text, for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let list = |m: &BTreeMap<String, i64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "Campaign {} {:?} ({}, {})",
            self.campaign_id,
            self.name,
            self.purpose,
            self.state.as_str()
        );
        let _ = writeln!(
            out,
            "Callbacks owed: {} ({})",
            self.owed,
            list(&self.states)
        );
        let _ = writeln!(
            out,
            "Called: {}   reached: {}   answered: {} (partial {})   opted out: {}",
            self.called, self.reached, self.answered, self.partial, self.opted_out
        );
        if !self.outcomes.is_empty() {
            let _ = writeln!(out, "Outcomes: {}", list(&self.outcomes));
        }
        if let Some(s) = &self.satisfaction {
            let _ = writeln!(out, "Satisfaction: {}", s.text);
        }
        for q in &self.questions {
            let _ = write!(
                out,
                "Question {} ({}{}): {} answered",
                q.key,
                q.kind,
                if q.optional { ", optional" } else { "" },
                q.answered
            );
            if !q.counts.is_empty() {
                let counts: Vec<String> = q
                    .counts
                    .iter()
                    .map(|c| format!("{}: {}", c.value, c.count))
                    .collect();
                let _ = write!(out, "; {}", counts.join(", "));
            }
            if let Some(mean) = q.mean_score {
                let _ = write!(out, "; mean score {mean:.1} of {} scored", q.scored);
            }
            out.push('\n');
        }
        out
    }
}

/// The report of a campaign, aggregated by the store.
pub async fn campaign_report(
    store: &dyn CallbackStore,
    campaign: &Campaign,
) -> Result<CampaignReport, StoreError> {
    let tally = store
        .campaign_tally(
            campaign.id,
            &required_questions(&campaign.script),
            &counted_questions(&campaign.script),
        )
        .await?;
    Ok(CampaignReport::new(campaign, &tally))
}

/// A callback with everything that explains it.
#[derive(Debug, Clone)]
pub struct Explained {
    pub callback: Callback,
    pub campaign: Option<Campaign>,
    pub attempts: Vec<Attempt>,
    pub ledger: Vec<LedgerEntry>,
    pub answers: Vec<StoredAnswer>,
    pub opted_out: bool,
    /// The zone its times are shown in: the customer's (the operator's when unknown).
    pub tz: Tz,
    pub why: Why,
}

/// Loads callback `id` with its campaign, attempts, ledger and answers, and says why it was
/// (not yet) called; `None` when there is no such callback.
pub async fn explain(
    store: &dyn CallbackStore,
    id: i64,
    operator_tz: Tz,
    cal: &Calendar,
    now: i64,
    dialing: bool,
) -> Result<Option<Explained>, StoreError> {
    let Some(callback) = store.callback(id).await? else {
        return Ok(None);
    };
    let campaign = store.campaign(callback.campaign_id).await?;
    let attempts = store.attempts(id).await?;
    let ledger = store.ledger(id).await?;
    let answers = store.answers(id).await?;
    let opted_out = store.is_opted_out(&callback.to_number).await?;
    let tz = callback.timezone.parse().unwrap_or(operator_tz);
    let why = why(&Facts {
        callback: &callback,
        campaign: campaign.as_ref(),
        attempts: &attempts,
        ledger: &ledger,
        opted_out,
        tz,
        cal,
        now,
        dialing,
    });
    Ok(Some(Explained {
        callback,
        campaign,
        attempts,
        ledger,
        answers,
        opted_out,
        tz,
        why,
    }))
}

/// What `why` explains a callback from.
pub struct Facts<'a> {
    pub callback: &'a Callback,
    pub campaign: Option<&'a Campaign>,
    pub attempts: &'a [Attempt],
    pub ledger: &'a [LedgerEntry],
    /// Whether its number is on the opt-out list now.
    pub opted_out: bool,
    /// The customer's zone.
    pub tz: Tz,
    pub cal: &'a Calendar,
    pub now: i64,
    /// Whether the instance explaining it dials callbacks (see `Config::dials_callbacks`).
    pub dialing: bool,
}

/// "2026-06-01 11:00 Asia/Shanghai".
pub fn local_time(ms: i64, tz: Tz) -> String {
    format!("{} {}", local_short(ms, tz), tz.name())
}

/// "2026-06-01 11:00", in `tz`.
pub fn local_short(ms: i64, tz: Tz) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// A ledger line's words as the end of a sentence.
fn sentence(s: &str) -> String {
    let s = s.trim();
    if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

fn last_of<'a>(ledger: &'a [LedgerEntry], kinds: &[&str]) -> Option<&'a LedgerEntry> {
    ledger
        .iter()
        .rev()
        .find(|e| kinds.contains(&e.kind.as_str()))
}

/// Why a callback was (not yet) called: the paragraph's sentences as facts, in order, so the
/// console can say them in the agent's language. `Display` is the English paragraph the API
/// and the command line give.
#[derive(Debug, Clone, PartialEq)]
pub struct Why {
    /// The zone its times are read in: the customer's.
    pub tz: Tz,
    pub parts: Vec<WhyPart>,
}

/// One sentence of `Why`.
#[derive(Debug, Clone, PartialEq)]
pub enum WhyPart {
    /// Owed, due at `due`, and what it waits for.
    Pending {
        due: i64,
        wait: Wait,
    },
    /// A dialer has it now.
    Dialing(Dialing),
    /// Finished with `outcome` (a callback outcome, e.g. `reached`, `exhausted`) at `at`; the
    /// ledger's English words for it, when it has a line for it.
    Done {
        outcome: String,
        at: i64,
        detail: Option<String>,
    },
    Cancelled {
        outcome: String,
        at: i64,
        detail: Option<String>,
    },
    /// Queued at `at`, with the ledger's English words on where it came from.
    Queued {
        at: i64,
        campaign: CampaignName,
        detail: String,
    },
    NoAttempt,
    Attempts(Vec<AttemptFacts>),
    /// The customer asked not to be called again.
    OptedOut {
        at: i64,
    },
    /// The last decision about a callback still owed: a retry after an attempt, due again at
    /// `due`, with the ledger's English words for it.
    Retried {
        due: i64,
        detail: String,
    },
    /// Moved to `due` without an attempt (outside the window, the carrier busy…).
    Deferred {
        due: i64,
        detail: String,
    },
    /// This instance does not dial callbacks.
    NotDialing,
}

/// How a campaign is named in a sentence: by name, or by id when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignName {
    Named(String),
    Id(i64),
}

impl fmt::Display for CampaignName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignName::Named(n) => write!(f, "campaign {n:?}"),
            CampaignName::Id(id) => write!(f, "campaign {id}"),
        }
    }
}

/// What a pending callback waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    CampaignMissing,
    /// Its campaign is in a state that calls nobody (draft, paused, finished).
    Campaign {
        campaign: CampaignName,
        state: CampaignState,
    },
    OptedOut,
    CampaignEnds {
        campaign: CampaignName,
        at: i64,
    },
    CampaignStarts {
        campaign: CampaignName,
        at: i64,
    },
    WindowNeverOpens {
        window: CallingWindow,
    },
    WindowOpens {
        window: CallingWindow,
        at: i64,
    },
    /// Due now, inside the window: the next round takes it.
    NextRound,
    /// Due later, inside the window.
    InWindow,
}

/// What a dialer is doing with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialing {
    Requesting {
        attempt_no: i32,
        at: i64,
    },
    Placed {
        attempt_no: i32,
        at: i64,
        call_id: Option<String>,
    },
    Unclear {
        attempt_no: i32,
        at: i64,
    },
    /// Claimed, no attempt recorded yet.
    Claimed {
        until: Option<i64>,
    },
}

/// One attempt, as the paragraph lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFacts {
    pub attempt_no: i32,
    pub state: AttemptState,
    /// How it ended: a carrier outcome (`policy::Outcome`), or as stored.
    pub outcome: Option<String>,
    /// False for an ended attempt that does not count against the retries.
    pub counts: bool,
    /// Placed, or requested when it was never placed.
    pub at: i64,
}

/// Why the customer of a callback was, or was not yet, called; see the module rules.
pub fn why(f: &Facts<'_>) -> Why {
    let cb = f.callback;
    let mut parts: Vec<WhyPart> = Vec::new();
    let campaign_name = || {
        f.campaign.map_or(CampaignName::Id(cb.campaign_id), |c| {
            CampaignName::Named(c.name.clone())
        })
    };
    match cb.state {
        CallbackState::Pending => parts.push(WhyPart::Pending {
            due: cb.due_at,
            wait: pending(f, campaign_name),
        }),
        CallbackState::Dialing => parts.push(WhyPart::Dialing(dialing(f))),
        CallbackState::Done => parts.push(WhyPart::Done {
            outcome: cb.outcome.clone().unwrap_or_else(|| "done".into()),
            at: cb.updated_at,
            detail: last_of(f.ledger, &["done"]).map(|e| e.detail.clone()),
        }),
        CallbackState::Cancelled => parts.push(WhyPart::Cancelled {
            outcome: cb.outcome.clone().unwrap_or_else(|| "cancelled".into()),
            at: cb.updated_at,
            detail: last_of(f.ledger, &["cancelled"]).map(|e| e.detail.clone()),
        }),
    }
    if let Some(q) = f.ledger.iter().find(|e| e.kind == "queued") {
        parts.push(WhyPart::Queued {
            at: q.at,
            campaign: campaign_name(),
            detail: q.detail.clone(),
        });
    }
    if f.attempts.is_empty() {
        if cb.state != CallbackState::Dialing {
            parts.push(WhyPart::NoAttempt);
        }
    } else {
        parts.push(WhyPart::Attempts(
            f.attempts
                .iter()
                .map(|a| AttemptFacts {
                    attempt_no: a.attempt_no,
                    state: a.state,
                    outcome: a.outcome.clone(),
                    counts: a.counts,
                    at: a.placed_at.unwrap_or(a.requested_at),
                })
                .collect(),
        ));
    }
    if let Some(e) = last_of(f.ledger, &["opted_out"]) {
        parts.push(WhyPart::OptedOut { at: e.at });
    }
    // What was last decided about a callback still owed.
    if cb.state == CallbackState::Pending
        && let Some(e) = last_of(f.ledger, &["retry", "deferred", "ended"])
        && e.kind != "ended"
    {
        let detail = e.detail.clone();
        parts.push(if e.kind == "retry" {
            WhyPart::Retried {
                due: cb.due_at,
                detail,
            }
        } else {
            WhyPart::Deferred {
                due: cb.due_at,
                detail,
            }
        });
    }
    if !f.dialing && matches!(cb.state, CallbackState::Pending | CallbackState::Dialing) {
        parts.push(WhyPart::NotDialing);
    }
    Why { tz: f.tz, parts }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sentences: Vec<String> = self.parts.iter().map(|p| p.english(self.tz)).collect();
        f.write_str(&sentences.join(" "))
    }
}

impl WhyPart {
    /// The sentence in English, times in `tz`.
    fn english(&self, tz: Tz) -> String {
        let t = |ms: i64| local_time(ms, tz);
        let detail = |d: &Option<String>| {
            d.as_deref()
                .map(|d| format!(": {}", sentence(d)))
                .unwrap_or_else(|| ".".into())
        };
        match self {
            WhyPart::Pending { due, wait } => pending_english(*due, wait, tz),
            WhyPart::Dialing(d) => dialing_english(d, tz),
            WhyPart::Done {
                outcome,
                at,
                detail: d,
            } => format!("Done ({outcome}) since {}{}", t(*at), detail(d)),
            WhyPart::Cancelled {
                outcome,
                at,
                detail: d,
            } => format!("Cancelled ({outcome}) at {}{}", t(*at), detail(d)),
            WhyPart::Queued {
                at,
                campaign,
                detail,
            } => format!(
                "Queued {} in {campaign}: {}",
                local_short(*at, tz),
                sentence(detail)
            ),
            WhyPart::NoAttempt => "No attempt has been made.".into(),
            WhyPart::Attempts(list) => {
                let list: Vec<String> = list.iter().map(|a| attempt_words(a, tz)).collect();
                format!("{}.", list.join("; "))
            }
            WhyPart::OptedOut { at } => format!(
                "At {} the customer asked not to be called again.",
                local_short(*at, tz)
            ),
            WhyPart::Retried { detail, .. } => format!("Retried because: {}", sentence(detail)),
            WhyPart::Deferred { detail, .. } => format!("Deferred: {}", sentence(detail)),
            WhyPart::NotDialing => "This instance does not dial callbacks \
                (HOTLINE_CALLBACK_DIAL=false, --demo, or no Twilio account): nothing here will \
                call the customer; only an instance with the dialer on will."
                .into(),
        }
    }
}

fn attempt_words(a: &AttemptFacts, tz: Tz) -> String {
    let state = match (a.state, a.outcome.as_deref()) {
        (AttemptState::Ended, Some(o)) => match Outcome::parse(o) {
            Some(outcome) => outcome.describe(),
            None => o,
        },
        (AttemptState::Ended, None) => "ended",
        (AttemptState::Requesting, _) => "the carrier is being asked",
        (AttemptState::Placed, _) => "placed, waiting for the carrier's report",
        (AttemptState::Unclear, _) => "no clear answer from the carrier yet",
    };
    let uncounted = if a.state == AttemptState::Ended && !a.counts {
        ", not counted"
    } else {
        ""
    };
    format!(
        "Attempt {} ({state}{uncounted}) at {}",
        a.attempt_no,
        local_short(a.at, tz)
    )
}

fn pending(f: &Facts<'_>, campaign_name: impl Fn() -> CampaignName) -> Wait {
    let cb = f.callback;
    let tz = f.tz;
    let Some(c) = f.campaign else {
        return Wait::CampaignMissing;
    };
    if c.state != CampaignState::Running {
        return Wait::Campaign {
            campaign: campaign_name(),
            state: c.state,
        };
    }
    if f.opted_out {
        return Wait::OptedOut;
    }
    if let Some(end) = c.ends_at
        && end <= cb.due_at.max(f.now)
    {
        return Wait::CampaignEnds {
            campaign: campaign_name(),
            at: end,
        };
    }
    if c.starts_at > f.now && c.starts_at > cb.due_at {
        return Wait::CampaignStarts {
            campaign: campaign_name(),
            at: c.starts_at,
        };
    }
    let from = cb.due_at.max(f.now);
    match c.window.next_open(from, tz, f.cal) {
        None => Wait::WindowNeverOpens {
            window: c.window.clone(),
        },
        Some(at) if at > from => Wait::WindowOpens {
            window: c.window.clone(),
            at,
        },
        Some(_) if cb.due_at <= f.now => Wait::NextRound,
        Some(_) => Wait::InWindow,
    }
}

fn pending_english(due: i64, wait: &Wait, tz: Tz) -> String {
    let due = local_time(due, tz);
    match wait {
        Wait::CampaignMissing => format!("Pending: due {due}, but its campaign is missing."),
        Wait::Campaign { campaign, state } => match state {
            CampaignState::Draft => format!(
                "Pending: due {due}, but {campaign} has not been started, so nobody in it is called yet."
            ),
            CampaignState::Paused => format!(
                "Pending: due {due}, but {campaign} is paused; it is called once the campaign is resumed."
            ),
            CampaignState::Finished => {
                format!("Pending: due {due}, but {campaign} is finished, so it will not be called.")
            }
            CampaignState::Running => format!("Pending: due {due}."),
        },
        Wait::OptedOut => format!(
            "Pending: due {due}, but the number asked not to be called again: it will be closed without a call."
        ),
        Wait::CampaignEnds { campaign, at } => format!(
            "Pending: due {due}, but {campaign} ends at {}: it will be closed without a call.",
            local_time(*at, tz)
        ),
        Wait::CampaignStarts { campaign, at } => format!(
            "Pending: due {due}, but {campaign} starts at {}, so it is called from then.",
            local_time(*at, tz)
        ),
        Wait::WindowNeverOpens { window } => format!(
            "Pending: due {due}, but the calling window ({window}) does not open again: it will be closed without a call."
        ),
        Wait::WindowOpens { window, at } => format!(
            "Pending: due {due}; the calling window ({window}) in the customer's zone opens at {}, so it is called from then.",
            local_time(*at, tz)
        ),
        Wait::NextRound => format!(
            "Pending: due since {due}, inside the calling window; a dialer takes it on its next round."
        ),
        Wait::InWindow => format!("Pending: due {due}, inside the calling window."),
    }
}

fn dialing(f: &Facts<'_>) -> Dialing {
    let open = f
        .attempts
        .iter()
        .rev()
        .find(|a| a.state != AttemptState::Ended);
    match open {
        Some(a) => match a.state {
            AttemptState::Requesting => Dialing::Requesting {
                attempt_no: a.attempt_no,
                at: a.requested_at,
            },
            AttemptState::Placed => Dialing::Placed {
                attempt_no: a.attempt_no,
                at: a.placed_at.unwrap_or(a.requested_at),
                call_id: a.provider_call_id.clone(),
            },
            _ => Dialing::Unclear {
                attempt_no: a.attempt_no,
                at: a.requested_at,
            },
        },
        None => Dialing::Claimed {
            until: f.callback.lease_until,
        },
    }
}

fn dialing_english(d: &Dialing, tz: Tz) -> String {
    match d {
        Dialing::Requesting { attempt_no, at } => format!(
            "Being dialed: attempt {attempt_no} was recorded at {} and the carrier is being asked to place it.",
            local_time(*at, tz)
        ),
        Dialing::Placed {
            attempt_no,
            at,
            call_id,
        } => format!(
            "Being dialed: the carrier placed attempt {attempt_no} at {}{}; its final report is awaited.",
            local_time(*at, tz),
            call_id
                .as_deref()
                .map(|id| format!(" (call {id})"))
                .unwrap_or_default()
        ),
        Dialing::Unclear { attempt_no, at } => format!(
            "Being dialed: attempt {attempt_no} (requested {}) got no clear answer from the carrier; it is checked with the carrier before anyone is dialed again.",
            local_time(*at, tz)
        ),
        Dialing::Claimed { until } => format!(
            "Being dialed: a dialer claimed it{} and is about to place the call.",
            until
                .map(|t| format!(" until {}", local_time(t, tz)))
                .unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::policy::RetryPolicy;
    use crate::callbacks::window::CallingWindow;
    use crate::callbacks::{AnswerTally, QuestionTally};
    use crate::prompts::Locale;

    /// 2026-06-01T00:00:00Z: 08:00 in Shanghai, a Monday.
    const T0: i64 = 1_780_272_000_000;
    const HOUR: i64 = 3_600_000;

    fn campaign(state: CampaignState) -> Campaign {
        Campaign {
            id: 1,
            name: "after repairs".into(),
            purpose: Purpose::Satisfaction,
            script: Script::satisfaction(),
            window: CallingWindow::default(),
            retry: RetryPolicy::default(),
            pace_ms: 1000,
            from_number: "+8610000".into(),
            starts_at: T0,
            ends_at: None,
            state,
            standing: false,
            delay_minutes: 120,
            quiet_days: 30,
            created_at: T0,
            updated_at: T0,
        }
    }

    fn callback(state: CallbackState, due_at: i64) -> Callback {
        Callback {
            id: 7,
            campaign_id: 1,
            account_id: None,
            ticket_id: None,
            source: "list:+8613800000002".into(),
            to_number: "+8613800000002".into(),
            timezone: "Asia/Shanghai".into(),
            locale: Locale::EnUs,
            state,
            due_at,
            attempts: 0,
            lease_until: None,
            outcome: None,
            created_at: T0,
            updated_at: T0,
        }
    }

    fn line(kind: &str, detail: &str, at: i64) -> LedgerEntry {
        LedgerEntry {
            id: 0,
            callback_id: 7,
            attempt_no: None,
            kind: kind.into(),
            detail: detail.into(),
            provider_call_id: None,
            at,
        }
    }

    fn explain(
        cb: &Callback,
        c: &Campaign,
        attempts: &[Attempt],
        ledger: &[LedgerEntry],
        now: i64,
    ) -> String {
        why(&Facts {
            callback: cb,
            campaign: Some(c),
            attempts,
            ledger,
            opted_out: false,
            tz: chrono_tz::Asia::Shanghai,
            cal: Calendar::builtin(),
            now,
            dialing: true,
        })
        .to_string()
    }

    #[test]
    fn with_the_dialer_off_it_says_nothing_here_will_call() {
        let cb = callback(CallbackState::Pending, T0);
        let ledger = [line("queued", "on list list:+8613800000002", T0)];
        let c = campaign(CampaignState::Running);
        let facts = |callback, dialing| Facts {
            callback,
            campaign: Some(&c),
            attempts: &[],
            ledger: &ledger,
            opted_out: false,
            tz: chrono_tz::Asia::Shanghai,
            cal: Calendar::builtin(),
            now: T0,
            dialing,
        };
        let off = why(&facts(&cb, false)).to_string();
        assert!(
            off.ends_with(
                "nothing here will call the customer; only an instance with the dialer on will."
            ),
            "{off}"
        );
        assert!(!why(&facts(&cb, true)).to_string().contains("does not dial"));
        // Once it is done, whether this instance dials no longer matters.
        let done = callback(CallbackState::Done, T0);
        assert!(
            !why(&facts(&done, false))
                .to_string()
                .contains("does not dial")
        );
    }

    #[test]
    fn a_pending_callback_waits_for_the_window_in_the_customers_zone() {
        let cb = callback(CallbackState::Pending, T0);
        let ledger = [line("queued", "on list list:+8613800000002", T0)];
        let text = explain(&cb, &campaign(CampaignState::Running), &[], &ledger, T0);
        assert_eq!(
            text,
            "Pending: due 2026-06-01 08:00 Asia/Shanghai; the calling window (09:00–20:00 every day except holidays) \
             in the customer's zone opens at 2026-06-01 09:00 Asia/Shanghai, so it is called from then. \
             Queued 2026-06-01 08:00 in campaign \"after repairs\": on list list:+8613800000002. \
             No attempt has been made."
        );
        let text = explain(
            &cb,
            &campaign(CampaignState::Paused),
            &[],
            &ledger,
            T0 + 2 * HOUR,
        );
        assert!(text.starts_with("Pending: due 2026-06-01 08:00 Asia/Shanghai, but campaign \"after repairs\" is paused"), "{text}");
        let text = explain(
            &cb,
            &campaign(CampaignState::Running),
            &[],
            &ledger,
            T0 + 2 * HOUR,
        );
        assert!(
            text.contains("due since 2026-06-01 08:00 Asia/Shanghai, inside the calling window"),
            "{text}"
        );
    }

    #[test]
    fn a_retry_says_what_happened_and_when_it_is_tried_again() {
        let mut cb = callback(CallbackState::Pending, T0 + 3 * HOUR);
        cb.attempts = 1;
        let attempt = Attempt {
            id: 1,
            callback_id: 7,
            attempt_no: 1,
            state: AttemptState::Ended,
            provider_call_id: Some("CA1".into()),
            requested_at: T0 + 2 * HOUR,
            placed_at: Some(T0 + 2 * HOUR),
            ended_at: Some(T0 + 2 * HOUR + 60_000),
            call_status: Some("no-answer".into()),
            answered_by: None,
            outcome: Some("no_answer".into()),
            counts: true,
        };
        let ledger = [
            line("queued", "test", T0),
            line("dialing", "dialing", T0 + 2 * HOUR),
            line("ended", "nobody answered", T0 + 2 * HOUR),
            line(
                "retry",
                "no answer (attempt 1 of 3); next try at 2026-06-01 11:01 Asia/Shanghai, inside the calling window",
                T0 + 2 * HOUR,
            ),
        ];
        let text = explain(
            &cb,
            &campaign(CampaignState::Running),
            &[attempt],
            &ledger,
            T0 + 2 * HOUR,
        );
        assert!(
            text.contains("Attempt 1 (no answer) at 2026-06-01 10:00."),
            "{text}"
        );
        assert!(text.ends_with("Retried because: no answer (attempt 1 of 3); next try at 2026-06-01 11:01 Asia/Shanghai, inside the calling window."), "{text}");
    }

    #[test]
    fn done_and_cancelled_quote_the_ledger() {
        let mut cb = callback(CallbackState::Done, T0);
        cb.outcome = Some("opted_out".into());
        let ledger = [
            line("queued", "test", T0),
            line(
                "done",
                "not called: the number asked not to be called again",
                T0,
            ),
        ];
        let text = explain(&cb, &campaign(CampaignState::Running), &[], &ledger, T0);
        assert!(text.starts_with("Done (opted_out) since 2026-06-01 08:00 Asia/Shanghai: not called: the number asked not to be called again."), "{text}");
        cb.state = CallbackState::Cancelled;
        cb.outcome = Some("cancelled".into());
        let ledger = [line(
            "cancelled",
            "not called: ticket 10000018 was reopened before the call",
            T0,
        )];
        let text = explain(&cb, &campaign(CampaignState::Running), &[], &ledger, T0);
        assert!(text.starts_with("Cancelled (cancelled) at"), "{text}");
        assert!(text.contains("was reopened"), "{text}");
    }

    #[test]
    fn the_report_states_the_rate_with_its_denominator() {
        let c = campaign(CampaignState::Running);
        let tally = CampaignTally {
            states: vec![("done".into(), 221), ("pending".into(), 4)],
            outcomes: vec![("reached".into(), 221)],
            called: 221,
            reached: 221,
            answered: 221,
            complete: 218,
            opted_out: 0,
            answers: vec![
                AnswerTally {
                    question: "satisfaction".into(),
                    answer: "very".into(),
                    callbacks: 201,
                },
                AnswerTally {
                    question: "satisfaction".into(),
                    answer: "basic".into(),
                    callbacks: 14,
                },
                AnswerTally {
                    question: "satisfaction".into(),
                    answer: "dissatisfied".into(),
                    callbacks: 6,
                },
                AnswerTally {
                    question: "fixed".into(),
                    answer: "yes".into(),
                    callbacks: 210,
                },
                AnswerTally {
                    question: "fixed".into(),
                    answer: "no".into(),
                    callbacks: 8,
                },
            ],
            questions: vec![
                QuestionTally {
                    question: "satisfaction".into(),
                    callbacks: 221,
                    scored: 0,
                    mean_score: None,
                },
                QuestionTally {
                    question: "fixed".into(),
                    callbacks: 218,
                    scored: 218,
                    mean_score: Some(96.3),
                },
            ],
        };
        let r = CampaignReport::new(&c, &tally);
        assert_eq!((r.owed, r.partial), (225, 3));
        assert_eq!(r.states["dialing"], 0);
        let s = r.satisfaction.as_ref().expect("satisfaction");
        assert_eq!((s.rate, s.denominator, s.satisfied), (Some(97.3), 221, 215));
        assert_eq!(
            s.text,
            "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)"
        );
        let fixed = &r.questions[1];
        assert_eq!(
            fixed.counts,
            [
                ValueCount {
                    value: "yes".into(),
                    count: 210
                },
                ValueCount {
                    value: "no".into(),
                    count: 8
                }
            ]
        );
        assert_eq!(r.questions[2].kind, "comment");
        assert!(r.questions[2].counts.is_empty());
        let text = r.to_text();
        assert!(text.contains("Satisfaction: 97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)"), "{text}");
        assert!(text.contains("Question fixed (yes_no): 218 answered; yes: 210, no: 8; mean score 96.3 of 218 scored"), "{text}");
    }
}
