//! The survey a callback plays: the script's intro, each question, the outro. Pure, like the
//! inbound flows: state, input and facts in; verbs, effects and the next state out.
//!
//! Rules:
//! - An answering machine hears a short message and the call ends; the dialer retries per the
//!   campaign's policy.
//! - `9` on any prompt that is not a typed number means "do not call me again": recorded as an
//!   opt-out, said back, and the call ends. `*` repeats the question without counting a try.
//! - Each answer is an effect of its step, so a retried webhook stores it once. An answer the
//!   script marks for follow-up (dissatisfied, not fixed, an appointment to change) also
//!   records a follow-up for people.
//! - Silence or a wrong key asks again up to `MAX_TRIES`; then an optional question is skipped
//!   and a required one ends the survey politely. A customer who hangs up leaves the answers
//!   given so far: a partial survey that counts as such.

use chrono::{DateTime, TimeZone, Utc};

use super::{Ctx, MAX_TRIES, Reply, StateError};
use crate::calls::step::Effect;
use crate::prompts::{Locale, speak};
use crate::surveys::score::{Answer, score};
use crate::surveys::script::{AnswerKind, OPT_OUT_KEY, Purpose, Question, REPEAT_KEY, Script};
use crate::telephony::{CallInput, Gather, Hook, NextStep, Verb};

/// What a survey step needs to know about its callback.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyInfo {
    pub script: Script,
    /// The number called (an opt-out is recorded against it).
    pub number: String,
    /// When the ticket the callback is about was resolved (`{date}` of a satisfaction script).
    pub resolved_at: Option<i64>,
    /// The agreed visit (`{date}` and `{time}` of an appointment script).
    pub appointment_at: Option<i64>,
}

/// Where a survey call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyState {
    /// Number of the step this state is the input of (the first request is 0).
    pub seq: i32,
    pub callback_id: i64,
    pub attempt_id: i64,
    pub locale: Locale,
    /// The question asked (equal to the number of questions once all are done).
    pub question: usize,
    pub tries: u8,
}

impl SurveyState {
    /// Name of the step in the call history.
    pub fn node(&self) -> String {
        if self.seq == 0 {
            "survey.start".to_string()
        } else {
            format!("survey.q{}", self.question + 1)
        }
    }

    pub fn next_step(&self) -> NextStep {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("cb", &self.callback_id.to_string());
        q.append_pair("at", &self.attempt_id.to_string());
        q.append_pair("s", &self.seq.to_string());
        q.append_pair("q", &self.question.to_string());
        q.append_pair("t", &self.tries.to_string());
        q.append_pair("l", self.locale.code());
        NextStep::new(Hook::Survey, q.finish())
    }

    /// The state in a survey URL: the dialer's first URL carries only `cb` and `at`.
    pub fn from_query(query: &str, default_locale: Locale) -> Result<Self, StateError> {
        let mut st = SurveyState {
            seq: 0,
            callback_id: 0,
            attempt_id: 0,
            locale: default_locale,
            question: 0,
            tries: 0,
        };
        let (mut cb, mut at) = (None, None);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "cb" => cb = Some(v.parse::<i64>().map_err(|_| StateError("callback"))?),
                "at" => at = Some(v.parse::<i64>().map_err(|_| StateError("attempt"))?),
                "s" => st.seq = v.parse().map_err(|_| StateError("step number"))?,
                "q" => st.question = v.parse().map_err(|_| StateError("question"))?,
                "t" => {
                    st.tries = v
                        .parse::<u8>()
                        .map_err(|_| StateError("tries"))?
                        .min(MAX_TRIES)
                }
                "l" => {
                    st.locale = Locale::ALL
                        .into_iter()
                        .find(|l| l.code() == v)
                        .ok_or(StateError("locale"))?
                }
                _ => {}
            }
        }
        st.callback_id = cb.ok_or(StateError("callback missing"))?;
        st.attempt_id = at.ok_or(StateError("attempt missing"))?;
        if !(0..=10_000).contains(&st.seq) || st.question > 100 {
            return Err(StateError("survey step out of range"));
        }
        Ok(st)
    }

    fn at(&self, question: usize, tries: u8) -> SurveyState {
        SurveyState {
            seq: self.seq + 1,
            question,
            tries,
            ..self.clone()
        }
    }
}

/// Runs one survey step. `machine`: the carrier detected an answering machine.
pub fn step(
    ctx: &Ctx<'_>,
    state: &SurveyState,
    input: &CallInput,
    machine: bool,
    info: &SurveyInfo,
) -> super::Outcome {
    let mut out = Reply::new(ctx, state.locale);
    let vars = variables(ctx, state.locale, info);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if state.seq == 0 {
        if machine {
            out.say("survey.machine", &[]);
            out.verbs.push(Verb::Hangup);
        } else {
            say_text(&mut out, &info.script.intro.render(state.locale, &vars));
            ask(ctx, &mut out, info, &state.at(0, 0), &vars);
        }
        return finish(out, input);
    }
    let Some(q) = info.script.questions.get(state.question) else {
        end(&mut out, info, &vars);
        return finish(out, input);
    };
    let pressed = |key: char| {
        let mut chars = input.digits().unwrap_or("").trim().chars();
        chars.next() == Some(key) && chars.next().is_none()
    };
    if pressed(REPEAT_KEY) {
        ask(
            ctx,
            &mut out,
            info,
            &state.at(state.question, state.tries),
            &vars,
        );
        return finish(out, input);
    }
    if q.answer.offers_opt_out() && pressed(OPT_OUT_KEY) {
        out.effects.push(Effect::OptOut {
            callback_id: state.callback_id,
            number: info.number.clone(),
        });
        out.say("survey.opted_out", &[]);
        out.verbs.push(Verb::Hangup);
        return finish(out, input);
    }
    let answer = match (&q.answer, input) {
        (
            AnswerKind::Comment { .. },
            CallInput::Recording {
                url, duration_secs, ..
            },
        ) if *duration_secs > 0 => Some(Answer::Recording {
            url: url.clone(),
            secs: u32::try_from(*duration_secs).unwrap_or(u32::MAX),
        }),
        (kind, CallInput::Digits(d)) => Answer::from_keys(kind, d),
        _ => None,
    };
    match answer {
        Some(a) => {
            record(&mut out, state, q, &a);
            next(ctx, &mut out, info, state, &vars);
        }
        None => {
            let silent = !matches!(input, CallInput::Digits(_));
            if silent && (q.optional || matches!(q.answer, AnswerKind::Comment { .. })) {
                next(ctx, &mut out, info, state, &vars);
            } else if state.tries + 1 >= MAX_TRIES {
                if q.optional {
                    next(ctx, &mut out, info, state, &vars);
                } else {
                    out.say("survey.sorry", &[]);
                    out.verbs.push(Verb::Hangup);
                }
            } else {
                out.say(
                    if silent {
                        "menu.no_input"
                    } else {
                        "menu.invalid"
                    },
                    &[],
                );
                ask(
                    ctx,
                    &mut out,
                    info,
                    &state.at(state.question, state.tries + 1),
                    &vars,
                );
            }
        }
    }
    finish(out, input)
}

fn finish(out: Reply<'_>, input: &CallInput) -> super::Outcome {
    super::Outcome {
        verbs: out.verbs,
        effects: out.effects,
        input_log: super::log_input(input, false),
    }
}

/// Stores an answer (and a follow-up when the script asks for one).
fn record(out: &mut Reply<'_>, state: &SurveyState, q: &Question, a: &Answer) {
    let Some(value) = a.value(&q.answer) else {
        return;
    };
    if q.needs_follow_up(&value) {
        out.effects.push(Effect::Followup {
            callback_id: state.callback_id,
            kind: format!("{}:{value}", q.key),
            detail: format!("answered {value:?} to {:?}", q.key),
        });
    }
    out.effects.push(Effect::SurveyAnswer {
        callback_id: state.callback_id,
        attempt_id: state.attempt_id,
        question: q.key.clone(),
        score: score(&q.answer, a),
        answer: value,
    });
}

/// The next question, or the end.
fn next(
    ctx: &Ctx<'_>,
    out: &mut Reply<'_>,
    info: &SurveyInfo,
    state: &SurveyState,
    vars: &[(&str, &str)],
) {
    if state.question + 1 < info.script.questions.len() {
        ask(ctx, out, info, &state.at(state.question + 1, 0), vars);
    } else {
        end(out, info, vars);
    }
}

fn end(out: &mut Reply<'_>, info: &SurveyInfo, vars: &[(&str, &str)]) {
    let text = info.script.outro.render(out.locale, vars);
    say_text(out, &text);
    out.verbs.push(Verb::Hangup);
}

fn say_text(out: &mut Reply<'_>, text: &str) {
    out.verbs.push(Verb::Say {
        text: text.to_string(),
        locale: out.locale,
    });
}

/// Asks the question of `next` and waits for its answer there.
fn ask(
    ctx: &Ctx<'_>,
    out: &mut Reply<'_>,
    info: &SurveyInfo,
    next: &SurveyState,
    vars: &[(&str, &str)],
) {
    let Some(q) = info.script.questions.get(next.question) else {
        end(out, info, vars);
        return;
    };
    let prompt = Verb::Say {
        text: q.prompt.render(next.locale, vars),
        locale: next.locale,
    };
    match &q.answer {
        AnswerKind::Comment { max_secs } => {
            out.verbs.push(prompt);
            out.verbs.push(Verb::Record {
                max_secs: (*max_secs).min(ctx.complaint_max_secs.max(1)),
                transcribe: false,
                next: next.next_step(),
            });
        }
        kind => out.verbs.push(Verb::Gather(Gather {
            prompts: vec![prompt],
            speech: false,
            num_digits: (!kind.is_typed()).then_some(1),
            finish_on_key: kind.is_typed().then_some('#'),
            timeout_secs: 8,
            locale: next.locale,
            hints: Vec::new(),
            next: next.next_step(),
        })),
    }
}

/// `{date}` and `{time}` of the script, in the operator's zone; words that read well in their
/// place when the callback has no ticket to take them from (a callback queued from a list):
/// "your recent repair" for a satisfaction survey, "on the agreed day" for an appointment.
pub(super) fn variables(
    ctx: &Ctx<'_>,
    locale: Locale,
    info: &SurveyInfo,
) -> Vec<(&'static str, String)> {
    let local = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|d| ctx.tz.from_utc_datetime(&d.naive_utc()))
    };
    let word = |key: &str| ctx.catalog.text(locale, key, &[]);
    match (
        info.appointment_at.and_then(local),
        info.resolved_at.and_then(local),
    ) {
        (Some(at), _) => vec![
            ("date", speak::date(at.date_naive(), locale)),
            ("time", speak::time_of_day(at.time(), locale)),
        ],
        (None, Some(at)) => vec![
            ("date", speak::date(at.date_naive(), locale)),
            ("time", word("survey.agreed_time")),
        ],
        (None, None) if info.script.purpose == Purpose::Appointment => vec![
            ("date", word("survey.agreed_date")),
            ("time", word("survey.agreed_time")),
        ],
        (None, None) => vec![
            ("date", word("survey.recent_date")),
            ("time", word("survey.agreed_time")),
        ],
    }
}
