//! The bookkeeping of a step batch that every writer shares (SQLite's direct writer, SQLite
//! through sqlx, PostgreSQL): which steps create calls, which are inserted and which replay
//! an earlier answer, and the effects of those recorded now.
//!
//! Rules: the plan is made in step order before anything is written, so a writer's
//! set-based statements give the same outcome as writing the steps one by one; a step of a
//! call that does not exist at its place in the batch is `UnknownCall`.

use std::collections::{HashMap, HashSet};

use super::{Effect, Milestone, NewCall, Result, StatusEvent, StepOutcome, StepWrite, StoreError};

/// What a batch of steps needs written, worked out in step order before any step is written,
/// and how the results of those writes become one outcome per step.
///
/// Each step is one of: for a call that does not exist (yet, at its place in the batch)
/// → `UnknownCall`; the first occurrence of its `(call_sid, seq)` → inserted (or found
/// stored: a replay); a later occurrence → a replay of the first.
pub(super) struct StepPlan {
    slots: Vec<Slot>,
    /// Steps whose `new_call` creates a call absent so far, in order.
    pub new_calls: Vec<usize>,
    /// Steps to insert, in order; keys are distinct.
    pub inserts: Vec<usize>,
}

enum Slot {
    Unknown,
    /// Index into `inserts`.
    Insert(usize),
    /// Same key as this earlier step (an `Insert`).
    SameAs(usize),
}

/// The effects of the recorded steps, ready to apply.
pub(super) struct Effects<'a> {
    /// One update per call, in first-touched order.
    pub calls: Vec<CallUpdate<'a>>,
    /// Survey effects (answers, opt-outs, follow-ups) with their step's time.
    pub surveys: Vec<(&'a Effect, i64)>,
    /// Each call's milestones, once each with the earliest step time of the batch (the
    /// stored time only ever moves earlier, so the order of batches does not matter).
    pub milestones: Vec<MilestoneWrite<'a>>,
}

/// A milestone a call reached at a step (see `Effect::Milestone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MilestoneWrite<'a> {
    pub call_sid: &'a str,
    pub milestone: Milestone,
    pub at: i64,
}

#[derive(Clone, Copy)]
pub(super) struct CallUpdate<'a> {
    pub call_sid: &'a str,
    /// The last identification in the batch, if any.
    pub account_id: Option<i64>,
    /// The last locale chosen in the batch, if any.
    pub locale: Option<&'static str>,
    /// The latest step time: the call's new `updated_at` unless it is already later.
    pub at: i64,
}

/// Distinct call ids of a batch, for the one lookup of which calls exist.
pub(super) fn call_sids(steps: &[StepWrite]) -> Vec<&str> {
    let mut seen = HashSet::new();
    steps
        .iter()
        .map(|s| s.call_sid.as_str())
        .filter(|sid| seen.insert(*sid))
        .collect()
}

impl StepPlan {
    /// `existing`: the calls of the batch that exist before it.
    pub fn new(steps: &[StepWrite], existing: &HashSet<String>) -> Self {
        let mut known: HashSet<&str> = existing.iter().map(String::as_str).collect();
        let mut first: HashMap<(&str, i32), usize> = HashMap::new();
        let mut plan = StepPlan {
            slots: Vec::with_capacity(steps.len()),
            new_calls: Vec::new(),
            inserts: Vec::with_capacity(steps.len()),
        };
        for (i, s) in steps.iter().enumerate() {
            let sid = s.call_sid.as_str();
            if s.new_call.is_some() && known.insert(sid) {
                plan.new_calls.push(i);
            }
            let slot = if !known.contains(sid) {
                Slot::Unknown
            } else if let Some(&j) = first.get(&(sid, s.seq)) {
                Slot::SameAs(j)
            } else {
                first.insert((sid, s.seq), i);
                plan.inserts.push(i);
                Slot::Insert(plan.inserts.len() - 1)
            };
            plan.slots.push(slot);
        }
        plan
    }

    /// `inserted[k]`: whether `inserts[k]` was inserted now; `stored`: the stored response
    /// of every insert that was not. Returns the outcomes and the indices of the steps
    /// recorded now (whose effects must be applied).
    pub fn finish(
        &self,
        steps: &[StepWrite],
        inserted: &[bool],
        stored: &HashMap<(String, i32), String>,
    ) -> Result<(Vec<StepOutcome>, Vec<usize>)> {
        if inserted.len() != self.inserts.len() {
            return Err(StoreError::Corrupt(format!(
                "{} insert results for {} steps",
                inserted.len(),
                self.inserts.len()
            )));
        }
        let response_of = |k: usize| -> Result<StepOutcome> {
            let i = self.inserts[k];
            if inserted[k] {
                return Ok(StepOutcome::Recorded);
            }
            let s = &steps[i];
            stored
                .get(&(s.call_sid.clone(), s.seq))
                .map(|r| StepOutcome::Replayed {
                    response: r.clone(),
                })
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "step {} of call {} neither inserted nor stored",
                        s.seq, s.call_sid
                    ))
                })
        };
        let mut outcomes = Vec::with_capacity(steps.len());
        let mut recorded = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let outcome = match *slot {
                Slot::Unknown => StepOutcome::UnknownCall,
                Slot::Insert(k) => {
                    let o = response_of(k)?;
                    if o == StepOutcome::Recorded {
                        recorded.push(i);
                    }
                    o
                }
                Slot::SameAs(j) => match self.slots.get(j) {
                    Some(&Slot::Insert(k)) => match response_of(k)? {
                        StepOutcome::Recorded => StepOutcome::Replayed {
                            response: steps[j].response.clone(),
                        },
                        replayed => replayed,
                    },
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "step {i} refers to step {j}, which is not written"
                        )));
                    }
                },
            };
            outcomes.push(outcome);
        }
        Ok((outcomes, recorded))
    }

    /// The keys of the inserts that were not inserted: their stored responses are needed.
    pub fn not_inserted<'a>(
        &self,
        steps: &'a [StepWrite],
        inserted: &[bool],
    ) -> Vec<(&'a str, i32)> {
        self.inserts
            .iter()
            .zip(inserted)
            .filter(|(_, ins)| !**ins)
            .map(|(&i, _)| (steps[i].call_sid.as_str(), steps[i].seq))
            .collect()
    }
}

/// The call a step creates: `(call_sid, new_call, at)`.
pub(super) fn new_call(steps: &[StepWrite], i: usize) -> Option<(&str, &NewCall, i64)> {
    let s = steps.get(i)?;
    Some((s.call_sid.as_str(), s.new_call.as_ref()?, s.at))
}

/// What a batch's status reports do to one call's row, folded in arrival order from the
/// status stored before them: the same end as applying them one by one, in one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatusFold<'a> {
    pub call_sid: &'a str,
    pub status: &'a str,
    /// The latest time of the reports applied: the call's `updated_at` unless it is later.
    pub at: i64,
    /// The final report applied (at most one: nothing replaces a final status), with its
    /// time and duration.
    pub ended: Option<(i64, Option<i64>)>,
}

/// The first report of each call, in order: it creates a call never seen.
pub(super) fn first_reports(statuses: &[StatusEvent]) -> Vec<&StatusEvent> {
    let mut seen = HashSet::new();
    (statuses.iter())
        .filter(|e| seen.insert(e.call_sid.as_str()))
        .collect()
}

/// Folds `statuses` over each call's stored status (`current`, read after the calls were
/// created) by `calls::status_advances`; calls no report changes are left out.
pub(super) fn fold_statuses<'a>(
    statuses: &'a [StatusEvent],
    current: &HashMap<String, String>,
) -> Vec<StatusFold<'a>> {
    let mut folds: Vec<StatusFold<'a>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for e in statuses {
        let now = match index.get(e.call_sid.as_str()) {
            Some(&i) => folds[i].status,
            None => match current.get(&e.call_sid) {
                Some(s) => s.as_str(),
                // The call could not be created (it cannot happen inside one transaction).
                None => continue,
            },
        };
        if !super::calls::status_advances(now, &e.status, e.is_final) {
            continue;
        }
        let ended = e.is_final.then_some((e.at, e.duration_secs));
        match index.get(e.call_sid.as_str()) {
            Some(&i) => {
                let f = &mut folds[i];
                f.status = &e.status;
                f.at = f.at.max(e.at);
                f.ended = ended.or(f.ended);
            }
            None => {
                index.insert(&e.call_sid, folds.len());
                folds.push(StatusFold {
                    call_sid: &e.call_sid,
                    status: &e.status,
                    at: e.at,
                    ended,
                });
            }
        }
    }
    folds
}

/// Whether `e` touches callbacks, surveys or escalations (rather than the call, the account
/// or a milestone).
pub(super) fn is_survey_effect(e: &Effect) -> bool {
    matches!(
        e,
        Effect::SurveyAnswer { .. }
            | Effect::OptOut { .. }
            | Effect::Followup { .. }
            | Effect::Escalate(_)
    )
}

/// When the batch's steps first reached `milestone` on call `sid`, if they did.
pub(super) fn reached(milestones: &[MilestoneWrite<'_>], sid: &str, m: Milestone) -> Option<i64> {
    (milestones.iter())
        .find(|w| w.call_sid == sid && w.milestone == m)
        .map(|w| w.at)
}

/// Gathers the effects of the recorded steps, in step order.
pub(super) fn effects<'a>(steps: &'a [StepWrite], recorded: &[usize]) -> Effects<'a> {
    let mut calls: Vec<CallUpdate<'a>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut surveys = Vec::new();
    let mut milestones: Vec<MilestoneWrite<'a>> = Vec::new();
    for s in recorded.iter().filter_map(|&i| steps.get(i)) {
        let k = *index.entry(s.call_sid.as_str()).or_insert_with(|| {
            calls.push(CallUpdate {
                call_sid: s.call_sid.as_str(),
                account_id: None,
                locale: None,
                at: s.at,
            });
            calls.len() - 1
        });
        let update = &mut calls[k];
        update.at = update.at.max(s.at);
        for e in &s.effects {
            match *e {
                Effect::IdentifyAccount { account_id } => update.account_id = Some(account_id),
                Effect::SetLocale { locale } => update.locale = Some(locale.tag()),
                Effect::SurveyAnswer { .. }
                | Effect::OptOut { .. }
                | Effect::Followup { .. }
                | Effect::Escalate(_) => surveys.push((e, s.at)),
                Effect::Milestone(milestone) => {
                    let sid = s.call_sid.as_str();
                    match milestones
                        .iter_mut()
                        .find(|m| m.call_sid == sid && m.milestone == milestone)
                    {
                        Some(m) => m.at = m.at.min(s.at),
                        None => milestones.push(MilestoneWrite {
                            call_sid: sid,
                            milestone,
                            at: s.at,
                        }),
                    }
                }
            }
        }
    }
    Effects {
        calls,
        surveys,
        milestones,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sid: &str, seq: i32, new: bool) -> StepWrite {
        StepWrite {
            call_sid: sid.into(),
            seq,
            new_call: new.then(|| NewCall {
                direction: "inbound".into(),
                from_number: "a".into(),
                to_number: "b".into(),
            }),
            node: "n".into(),
            input: String::new(),
            said: String::new(),
            response: format!("{sid}/{seq}"),
            at: seq.into(),
            effects: vec![],
        }
    }

    #[test]
    fn milestones_are_kept_once_per_call_with_the_earliest_time() {
        let mut a1 = step("A", 1, true);
        a1.effects = vec![Effect::Milestone(Milestone::SelfServed)];
        let mut a2 = step("A", 2, false);
        a2.effects = vec![
            Effect::Milestone(Milestone::SelfServed),
            Effect::Milestone(Milestone::Person),
        ];
        let mut b3 = step("B", 3, true);
        b3.effects = vec![Effect::Milestone(Milestone::SelfServed)];
        // Recorded out of order: the earlier step still sets the time.
        let steps = [a2, a1, b3];
        let e = effects(&steps, &[0, 1, 2]);
        let got: Vec<(&str, Milestone, i64)> = (e.milestones.iter())
            .map(|m| (m.call_sid, m.milestone, m.at))
            .collect();
        assert_eq!(
            got,
            [
                ("A", Milestone::SelfServed, 1),
                ("A", Milestone::Person, 2),
                ("B", Milestone::SelfServed, 3),
            ]
        );
        // A replayed step (not recorded now) adds nothing.
        assert!(effects(&steps, &[]).milestones.is_empty());
    }

    #[test]
    fn a_call_is_unknown_until_the_step_that_creates_it() {
        let steps = [
            step("A", 2, false),
            step("A", 1, true),
            step("A", 2, false),
            step("A", 1, true),
        ];
        let plan = StepPlan::new(&steps, &HashSet::new());
        assert_eq!(plan.new_calls, vec![1]);
        assert_eq!(plan.inserts, vec![1, 2]);
        let (outcomes, recorded) = plan
            .finish(&steps, &[true, true], &HashMap::new())
            .expect("consistent results");
        assert_eq!(
            outcomes,
            vec![
                StepOutcome::UnknownCall,
                StepOutcome::Recorded,
                StepOutcome::Recorded,
                StepOutcome::Replayed {
                    response: "A/1".into()
                },
            ]
        );
        assert_eq!(recorded, vec![1, 2]);
    }
}
