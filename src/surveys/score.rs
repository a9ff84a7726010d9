//! Answers, their points, and the satisfaction rate.
//!
//! Rules:
//! - An answer is a key pressed (`1`, for a choice or yes/no), a number (a scale), a recording
//!   (a comment) or nothing (skipped: silence on an optional question, or a hang-up before it).
//! - Points are on 0–100, as the operator reports them: a scale is linear from its minimum (0)
//!   to its maximum (100), so 1–5 gives 0, 25, 50, 75, 100 and 0–10 gives ten per point; a
//!   choice gives its option's `score` when it has one; yes is 100 and no is 0; comments and
//!   skipped questions give none, and an answer that does not fit the question gives none.
//!   Averages are taken over the answers that gave points only, and there is none of nothing.
//! - Keys are read as the keypad sends them, a final `#` ignored: one key for a choice, yes/no
//!   or a scale up to 8; one or two digits for a scale reaching 9 or 10 (`10#`).
//! - The satisfaction rate is (very + basically satisfied) / everyone who answered the
//!   satisfaction question, in percent; with nobody answering there is no rate. It is always
//!   shown with its denominator, to one decimal: 201 / 14 / 6 → "97.3%" of 221.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::script::{AnswerKind, BASIC, DISSATISFIED, END_KEY, NO, VERY, YES};

/// What a customer answered to one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A key pressed: a choice, or yes (`1`) / no (`2`).
    Key(char),
    /// A number on a scale.
    Number(u8),
    /// A recorded comment.
    Recording { url: String, secs: u32 },
    /// No answer to this question.
    Skipped,
}

impl Answer {
    /// Reads keypad input for a question: `None` when it is no valid answer to it (the flow
    /// asks again, or treats `9` and `*` first). Comments are recorded, not keyed.
    pub fn from_keys(kind: &AnswerKind, keys: &str) -> Option<Answer> {
        let keys = keys.trim();
        let keys = keys.strip_suffix(END_KEY).unwrap_or(keys);
        match kind {
            AnswerKind::Scale { min, max } => {
                let digits = if kind.is_typed() || keys.len() == 1 {
                    keys
                } else {
                    return None;
                };
                if digits.is_empty()
                    || digits.len() > 2
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let n: u8 = digits.parse().ok()?;
                (*min..=*max).contains(&n).then_some(Answer::Number(n))
            }
            AnswerKind::Choice { .. } | AnswerKind::YesNo => {
                let mut chars = keys.chars();
                let (Some(key), None) = (chars.next(), chars.next()) else {
                    return None;
                };
                let valid = match kind {
                    AnswerKind::YesNo => key == '1' || key == '2',
                    _ => kind.option(key).is_some(),
                };
                valid.then_some(Answer::Key(key))
            }
            AnswerKind::Comment { .. } => None,
        }
    }

    /// The value stored and counted for this answer to a question of `kind`: the option's
    /// value, `yes`/`no`, the number, the recording's URL; `None` when skipped or not fitting.
    pub fn value(&self, kind: &AnswerKind) -> Option<String> {
        match (kind, self) {
            (AnswerKind::Choice { .. }, Answer::Key(k)) => kind.option(*k).map(|o| o.value.clone()),
            (AnswerKind::YesNo, Answer::Key('1')) => Some(YES.to_string()),
            (AnswerKind::YesNo, Answer::Key('2')) => Some(NO.to_string()),
            (AnswerKind::Scale { .. }, _) => scale_number(kind, self).map(|n| n.to_string()),
            (AnswerKind::Comment { .. }, Answer::Recording { url, .. }) => Some(url.clone()),
            _ => None,
        }
    }
}

/// The number of a scale answer, given as a number or a single digit key, within the scale.
fn scale_number(kind: &AnswerKind, answer: &Answer) -> Option<u8> {
    let AnswerKind::Scale { min, max } = kind else {
        return None;
    };
    let n = match answer {
        Answer::Number(n) => *n,
        Answer::Key(k) => u8::try_from(k.to_digit(10)?).ok()?,
        _ => return None,
    };
    (*min..=*max).contains(&n).then_some(n)
}

/// Points on 0–100 for an answer to a question of `kind`; see the module rules.
pub fn score(kind: &AnswerKind, answer: &Answer) -> Option<f64> {
    match kind {
        AnswerKind::Scale { min, max } => {
            let n = scale_number(kind, answer)?;
            let span = f64::from(max.checked_sub(*min).filter(|s| *s > 0)?);
            Some(f64::from(n - min) * 100.0 / span)
        }
        AnswerKind::Choice { .. } => match answer {
            Answer::Key(k) => kind.option(*k)?.score,
            _ => None,
        },
        AnswerKind::YesNo => match answer {
            Answer::Key('1') => Some(100.0),
            Answer::Key('2') => Some(0.0),
            _ => None,
        },
        AnswerKind::Comment { .. } => None,
    }
}

/// The mean of some points; `None` of nothing.
pub fn average(scores: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = scores
        .into_iter()
        .fold((0.0, 0u64), |(sum, count), s| (sum + s, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// How many answered the satisfaction question, by answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SatisfactionCounts {
    /// 很满意
    pub very: u64,
    /// 基本满意
    pub basic: u64,
    /// 不满意
    pub dissatisfied: u64,
}

impl SatisfactionCounts {
    pub fn new(very: u64, basic: u64, dissatisfied: u64) -> SatisfactionCounts {
        SatisfactionCounts {
            very,
            basic,
            dissatisfied,
        }
    }

    /// Counts one answer by its value (`very`, `basic`, `dissatisfied`); `false`, counting
    /// nothing, for any other value.
    pub fn record(&mut self, value: &str) -> bool {
        let slot = match value {
            VERY => &mut self.very,
            BASIC => &mut self.basic,
            DISSATISFIED => &mut self.dissatisfied,
            _ => return false,
        };
        *slot = slot.saturating_add(1);
        true
    }

    /// Everyone who answered: the denominator.
    pub fn answered(&self) -> u64 {
        self.very
            .saturating_add(self.basic)
            .saturating_add(self.dissatisfied)
    }

    /// Very and basically satisfied: the numerator.
    pub fn satisfied(&self) -> u64 {
        self.very.saturating_add(self.basic)
    }

    /// The satisfaction rate in percent (0–100); `None` when nobody answered.
    pub fn rate(&self) -> Option<f64> {
        let answered = self.answered();
        (answered > 0).then(|| self.satisfied() as f64 * 100.0 / answered as f64)
    }
}

/// "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)".
impl fmt::Display for SatisfactionCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rate() {
            Some(rate) => write!(
                f,
                "{rate:.1}% satisfied ({} very + {} basically satisfied, of {} who answered)",
                self.very,
                self.basic,
                self.answered()
            ),
            None => f.write_str("no satisfaction rate: nobody answered (0 answers)"),
        }
    }
}

impl<'a> FromIterator<&'a str> for SatisfactionCounts {
    /// Counts answer values; values other than the three are ignored.
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut counts = SatisfactionCounts::default();
        for value in iter {
            counts.record(value);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveys::script::Script;

    const FIVE: AnswerKind = AnswerKind::Scale { min: 1, max: 5 };
    const TEN: AnswerKind = AnswerKind::Scale { min: 0, max: 10 };

    fn satisfaction_kind() -> AnswerKind {
        Script::satisfaction().questions[0].answer.clone()
    }

    #[test]
    fn the_operators_figure_201_14_6_is_97_3_percent() {
        let counts = SatisfactionCounts::new(201, 14, 6);
        assert_eq!(counts.answered(), 221);
        assert_eq!(counts.satisfied(), 215);
        let rate = counts.rate().expect("a rate");
        assert!((rate - 97.285_067_873).abs() < 1e-6, "{rate}");
        assert_eq!(format!("{rate:.1}"), "97.3");
        assert_eq!(
            counts.to_string(),
            "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)"
        );
    }

    #[test]
    fn nobody_answered_is_no_rate() {
        let none = SatisfactionCounts::default();
        assert_eq!(none.rate(), None);
        assert_eq!(
            none.to_string(),
            "no satisfaction rate: nobody answered (0 answers)"
        );
        assert_eq!(SatisfactionCounts::new(0, 0, 3).rate(), Some(0.0));
        assert_eq!(SatisfactionCounts::new(1, 1, 0).rate(), Some(100.0));
    }

    #[test]
    fn counts_are_made_from_answer_values() {
        let kind = satisfaction_kind();
        let mut values = Vec::new();
        for (key, n) in [('1', 201), ('2', 14), ('3', 6)] {
            let answer = Answer::from_keys(&kind, &key.to_string()).expect("valid key");
            let value = answer.value(&kind).expect("a value");
            values.extend(std::iter::repeat_n(value, n));
        }
        let counts: SatisfactionCounts = values.iter().map(String::as_str).collect();
        assert_eq!(counts, SatisfactionCounts::new(201, 14, 6));
        let mut c = SatisfactionCounts::default();
        assert!(!c.record("meh"));
        assert!(c.record("basic"));
        assert_eq!(c, SatisfactionCounts::new(0, 1, 0));
    }

    #[test]
    fn scales_are_linear_on_0_to_100() {
        let five: Vec<Option<f64>> = (1..=5).map(|n| score(&FIVE, &Answer::Number(n))).collect();
        assert_eq!(
            five,
            [Some(0.0), Some(25.0), Some(50.0), Some(75.0), Some(100.0)]
        );
        assert_eq!(score(&FIVE, &Answer::Key('4')), Some(75.0));
        assert_eq!(score(&FIVE, &Answer::Number(0)), None);
        assert_eq!(score(&FIVE, &Answer::Number(6)), None);
        for n in 0..=10 {
            assert_eq!(score(&TEN, &Answer::Number(n)), Some(f64::from(n) * 10.0));
        }
        assert_eq!(score(&TEN, &Answer::Number(11)), None);
        assert_eq!(score(&TEN, &Answer::Skipped), None);
    }

    #[test]
    fn choices_yes_no_and_comments() {
        let option = |key, value: &str, score| crate::surveys::script::ChoiceOption {
            key,
            value: value.into(),
            label: crate::surveys::script::Texts::new("标签", "Label"),
            score,
        };
        let data = &AnswerKind::Choice {
            options: vec![
                option('1', "good", Some(100.0)),
                option('2', "fair", Some(60.0)),
                option('3', "poor", Some(0.0)),
            ],
        };
        assert_eq!(score(data, &Answer::Key('1')), Some(100.0));
        assert_eq!(score(data, &Answer::Key('2')), Some(60.0));
        assert_eq!(score(data, &Answer::Key('3')), Some(0.0));
        assert_eq!(score(data, &Answer::Key('4')), None);
        // The operator's satisfaction options carry no points: the rate is the figure.
        assert_eq!(score(&satisfaction_kind(), &Answer::Key('1')), None);
        assert_eq!(score(&AnswerKind::YesNo, &Answer::Key('1')), Some(100.0));
        assert_eq!(score(&AnswerKind::YesNo, &Answer::Key('2')), Some(0.0));
        assert_eq!(score(&AnswerKind::YesNo, &Answer::Key('3')), None);
        let comment = AnswerKind::Comment { max_secs: 60 };
        let rec = Answer::Recording {
            url: "https://example.test/r.wav".into(),
            secs: 12,
        };
        assert_eq!(score(&comment, &rec), None);
        assert_eq!(
            rec.value(&comment).as_deref(),
            Some("https://example.test/r.wav")
        );
        assert_eq!(Answer::Skipped.value(&comment), None);
    }

    #[test]
    fn keypad_input_is_read_per_question() {
        assert_eq!(Answer::from_keys(&FIVE, "3"), Some(Answer::Number(3)));
        assert_eq!(Answer::from_keys(&FIVE, "6"), None);
        assert_eq!(Answer::from_keys(&FIVE, "34"), None);
        assert_eq!(Answer::from_keys(&FIVE, "3#"), Some(Answer::Number(3)));
        assert_eq!(Answer::from_keys(&FIVE, ""), None);
        assert_eq!(Answer::from_keys(&TEN, "10#"), Some(Answer::Number(10)));
        assert_eq!(Answer::from_keys(&TEN, "9#"), Some(Answer::Number(9)));
        assert_eq!(Answer::from_keys(&TEN, "0"), Some(Answer::Number(0)));
        assert_eq!(Answer::from_keys(&TEN, "11#"), None);
        assert_eq!(Answer::from_keys(&TEN, "#"), None);
        assert_eq!(Answer::from_keys(&TEN, "+1#"), None);
        let kind = satisfaction_kind();
        assert_eq!(Answer::from_keys(&kind, "2"), Some(Answer::Key('2')));
        assert_eq!(Answer::from_keys(&kind, "4"), None);
        assert_eq!(Answer::from_keys(&kind, "12"), None);
        assert_eq!(
            Answer::from_keys(&AnswerKind::YesNo, "2"),
            Some(Answer::Key('2'))
        );
        assert_eq!(Answer::from_keys(&AnswerKind::YesNo, "3"), None);
        assert_eq!(
            Answer::from_keys(&AnswerKind::Comment { max_secs: 9 }, "1"),
            None
        );
        assert_eq!(
            Answer::Key('2').value(&AnswerKind::YesNo).as_deref(),
            Some("no")
        );
        assert_eq!(Answer::Number(7).value(&TEN).as_deref(), Some("7"));
    }

    #[test]
    fn averages_skip_nothing_and_have_none_of_nothing() {
        let survey = Script::sample_survey();
        let answers = [
            ("fault_repair", Answer::Number(5)),
            ("billing", Answer::Number(4)),
            ("business_hall", Answer::Number(3)),
            ("data_communications", Answer::Skipped),
        ];
        let points = answers
            .iter()
            .filter_map(|(key, a)| survey.question(key).and_then(|q| score(&q.answer, a)));
        // (100 + 75 + 50) / 3
        assert_eq!(average(points), Some(75.0));
        assert_eq!(average(std::iter::empty()), None);
    }

    #[test]
    fn answers_serialise() {
        let cases = [
            (Answer::Key('1'), r#"{"key":"1"}"#),
            (Answer::Number(10), r#"{"number":10}"#),
            (
                Answer::Recording {
                    url: "u".into(),
                    secs: 3,
                },
                r#"{"recording":{"url":"u","secs":3}}"#,
            ),
            (Answer::Skipped, r#""skipped""#),
        ];
        for (answer, json) in cases {
            assert_eq!(serde_json::to_string(&answer).expect("serialises"), json);
            assert_eq!(
                serde_json::from_str::<Answer>(json).expect("parses"),
                answer
            );
        }
    }
}
