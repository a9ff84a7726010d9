//! Survey scripts: what a callback says and asks, as data.
//!
//! Rules:
//! - A script has an id, a purpose (satisfaction, sample survey, appointment confirmation), an
//!   intro, one or more questions and an outro. Every text exists in every locale (zh-CN and
//!   en-US) and uses the same `{variables}` in each; the flow fills them (`{date}`…).
//! - A question has a key (lowercase letters, digits and `_`, unique in the script), a prompt
//!   and an answer kind:
//!   - a scale from 0 or 1 up to at most 10. Up to 8 it is one key press; a scale reaching 9 or
//!     10 is typed and ended with `#` (`7#`, `10#`), because `9` alone means opt-out;
//!   - a choice of 2 to 8 options on the keys `1` to `8`, each with a value (what is stored and
//!     counted), a label in every locale and optionally a score on 0–100;
//!   - yes/no: `1` yes, `2` no;
//!   - a recorded comment of at most `max_secs` seconds (1 to 300).
//! - The keys `9` ("do not call me again") and `*` (repeat) are reserved on every prompt and
//!   may not be option keys; `0` and `#` are not option keys either.
//! - An `optional` question may be left unanswered (silence moves on); `service` names which of
//!   the operator's eight services ([`SERVICES`]) a sample-survey question rates;
//!   `follow_up_on` lists the answer values that need a person (a dissatisfied answer, a fault
//!   not fixed, an appointment to change) and must be values the question can produce.
//! - A satisfaction script asks the operator's question: a choice whose values are exactly
//!   `very`, `basic` and `dissatisfied`. An appointment script has a choice with `confirm` and
//!   `change`. The satisfaction rate and follow-ups are computed from those values.
//! - Scripts are checked when read (TOML or JSON) and by `validate`; the error names the script
//!   and the place: the question, the option, the locale that is missing.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::prompts::Locale;

/// "Do not call me again", on every prompt.
pub const OPT_OUT_KEY: char = '9';
/// Repeat the prompt, on every prompt.
pub const REPEAT_KEY: char = '*';
/// Ends a typed answer (a scale reaching 9 or 10).
pub const END_KEY: char = '#';
/// Longest recorded comment.
pub const MAX_COMMENT_SECS: u32 = 300;

/// The operator's eight services rated by the periodic sample survey.
pub const SERVICES: [&str; 8] = [
    "business_hall",
    "installation",
    "fault_repair",
    "billing",
    "directory_enquiries",
    "public_phones",
    "long_distance",
    "data_communications",
];

/// The satisfaction answers the operator counts.
pub const VERY: &str = "very";
pub const BASIC: &str = "basic";
pub const DISSATISFIED: &str = "dissatisfied";
/// The appointment answers.
pub const CONFIRM: &str = "confirm";
pub const CHANGE: &str = "change";
/// The values of a yes/no question.
pub const YES: &str = "yes";
pub const NO: &str = "no";

/// What a script is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// After a fault or order was resolved: was the customer satisfied?
    Satisfaction,
    /// A periodic sample survey rating the operator's services.
    SampleSurvey,
    /// Confirming an installer's visit.
    Appointment,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Satisfaction,
        Purpose::SampleSurvey,
        Purpose::Appointment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Satisfaction => "satisfaction",
            Purpose::SampleSurvey => "sample_survey",
            Purpose::Appointment => "appointment",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One text in every locale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    #[serde(rename = "zh-CN", default)]
    pub zh_cn: String,
    #[serde(rename = "en-US", default)]
    pub en_us: String,
}

impl Texts {
    pub fn new(zh_cn: impl Into<String>, en_us: impl Into<String>) -> Texts {
        Texts {
            zh_cn: zh_cn.into(),
            en_us: en_us.into(),
        }
    }

    pub fn get(&self, locale: Locale) -> &str {
        match locale {
            Locale::ZhCn => &self.zh_cn,
            Locale::EnUs => &self.en_us,
        }
    }

    /// The locales without text (blank counts as missing).
    pub fn missing(&self) -> Vec<Locale> {
        Locale::ALL
            .into_iter()
            .filter(|l| self.get(*l).trim().is_empty())
            .collect()
    }

    /// The `{name}` variables the text of `locale` uses.
    pub fn variables(&self, locale: Locale) -> BTreeSet<String> {
        variables(self.get(locale))
    }

    /// The text of `locale` with its `{name}` variables replaced; unknown ones stay as written.
    pub fn render(&self, locale: Locale, vars: &[(&str, &str)]) -> String {
        let mut out = self.get(locale).to_string();
        for (name, value) in vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

fn variables(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else {
            break;
        };
        let name = &rest[..close];
        if is_identifier(name) {
            found.insert(name.to_string());
            rest = &rest[close + 1..];
        }
    }
    found
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// One option of a choice question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// The key pressed, `1` to `8`.
    pub key: char,
    /// What is stored and counted (`very`, `confirm`…).
    pub value: String,
    /// How agents and reports show it.
    pub label: Texts,
    /// Points on 0–100, when the option is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// How a question is answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnswerKind {
    /// A number from `min` (0 or 1) to `max` (at most 10).
    Scale { min: u8, max: u8 },
    /// One of the options, by key.
    Choice { options: Vec<ChoiceOption> },
    /// `1` yes, `2` no.
    YesNo,
    /// A recording after the beep.
    Comment { max_secs: u32 },
}

impl AnswerKind {
    /// Whether answers are typed and ended with `#` (a scale reaching 9 or 10).
    pub fn is_typed(&self) -> bool {
        matches!(self, AnswerKind::Scale { max, .. } if *max >= 9)
    }

    /// Whether `9` opts out while this question is asked (everywhere but on typed scales).
    pub fn offers_opt_out(&self) -> bool {
        !self.is_typed()
    }

    /// The values an answer can be stored as (`very`…, `yes`/`no`, `1`…`5`); none for comments.
    pub fn values(&self) -> Vec<String> {
        match self {
            AnswerKind::Scale { min, max } => (*min..=*max).map(|n| n.to_string()).collect(),
            AnswerKind::Choice { options } => options.iter().map(|o| o.value.clone()).collect(),
            AnswerKind::YesNo => vec![YES.to_string(), NO.to_string()],
            AnswerKind::Comment { .. } => Vec::new(),
        }
    }

    /// The option pressed with `key`, for a choice.
    pub fn option(&self, key: char) -> Option<&ChoiceOption> {
        match self {
            AnswerKind::Choice { options } => options.iter().find(|o| o.key == key),
            _ => None,
        }
    }
}

/// One question of a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Unique in the script; answers are stored under it.
    pub key: String,
    pub prompt: Texts,
    pub answer: AnswerKind,
    /// Silence moves on to the next question instead of asking again.
    #[serde(default)]
    pub optional: bool,
    /// Which of the operator's services it rates (sample surveys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Answer values that need a person to follow up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_up_on: Vec<String>,
}

impl Question {
    /// Whether an answer stored as `value` needs a person to follow up.
    pub fn needs_follow_up(&self, value: &str) -> bool {
        self.follow_up_on.iter().any(|v| v == value)
    }
}

/// A survey script; see the module rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScriptFields")]
pub struct Script {
    pub id: String,
    pub purpose: Purpose,
    pub intro: Texts,
    pub questions: Vec<Question>,
    pub outro: Texts,
}

/// Why a script was refused: which script, and what is wrong where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("script {id:?}: {problem}")]
pub struct ScriptError {
    pub id: String,
    pub problem: ScriptProblem,
}

/// What is wrong with a script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptProblem {
    #[error("the id must be lowercase letters, digits, '-' or '_', got {0:?}")]
    BadId(String),
    #[error("{what} has no {locale} text")]
    MissingText { what: String, locale: &'static str },
    #[error("{what} uses the variables {zh_cn:?} in zh-CN but {en_us:?} in en-US")]
    VariableMismatch {
        what: String,
        zh_cn: Vec<String>,
        en_us: Vec<String>,
    },
    #[error("there are no questions")]
    NoQuestions,
    #[error("question {number}: the key must be lowercase letters, digits and '_', got {key:?}")]
    BadQuestionKey { number: usize, key: String },
    #[error("question {number}: the key {key:?} is already used by question {first}")]
    DuplicateQuestionKey {
        number: usize,
        key: String,
        first: usize,
    },
    #[error("question {question:?}: a scale runs from 0 or 1 up to at most 10, got {min} to {max}")]
    BadScale { question: String, min: u8, max: u8 },
    #[error("question {question:?}: a choice needs 2 to 8 options, got {count}")]
    OptionCount { question: String, count: usize },
    #[error("question {question:?}: key '9' is reserved for \"do not call me again\"")]
    OptOutKey { question: String },
    #[error("question {question:?}: key '*' is reserved for repeating the question")]
    RepeatKey { question: String },
    #[error("question {question:?}: option key {key:?} is not allowed, use 1 to 8")]
    BadOptionKey { question: String, key: char },
    #[error("question {question:?}: option key {key:?} is used twice")]
    DuplicateOptionKey { question: String, key: char },
    #[error("question {question:?}: option {key:?} has no value")]
    EmptyOptionValue { question: String, key: char },
    #[error("question {question:?}: the value {value:?} is used by two options")]
    DuplicateOptionValue { question: String, value: String },
    #[error("question {question:?}: option {key:?} scores {score}, expected 0 to 100")]
    BadOptionScore {
        question: String,
        key: char,
        score: f64,
    },
    #[error("question {question:?}: a comment lasts 1 to 300 seconds, got {max_secs}")]
    BadCommentLength { question: String, max_secs: u32 },
    #[error("question {question:?}: unknown service {service:?}, expected one of {SERVICES:?}")]
    UnknownService { question: String, service: String },
    #[error(
        "question {question:?}: follow_up_on names {value:?}, which the question cannot produce (it gives {values:?})"
    )]
    BadFollowUp {
        question: String,
        value: String,
        values: Vec<String>,
    },
    #[error(
        "a satisfaction script needs a choice question whose values are exactly very, basic and dissatisfied"
    )]
    NoSatisfactionQuestion,
    #[error("an appointment script needs a choice question with the values confirm and change")]
    NoAppointmentQuestion,
}

impl Script {
    /// Reads a script from TOML; it is checked as it is read.
    pub fn from_toml(text: &str) -> Result<Script, toml::de::Error> {
        toml::from_str(text)
    }

    /// The built-in script of a purpose, from `prompts/surveys/<purpose>.toml` (see
    /// `surveys::builtin`, which start-up uses to refuse a broken one).
    pub fn builtin(purpose: Purpose) -> Script {
        super::builtin::script(purpose)
    }

    /// The question stored under `key`.
    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }

    /// The operator's satisfaction question (values very / basic / dissatisfied), if asked.
    pub fn satisfaction_question(&self) -> Option<&Question> {
        let want: BTreeSet<&str> = [VERY, BASIC, DISSATISFIED].into();
        self.questions.iter().find(|q| match &q.answer {
            AnswerKind::Choice { options } => {
                options.len() == want.len()
                    && options
                        .iter()
                        .map(|o| o.value.as_str())
                        .collect::<BTreeSet<_>>()
                        == want
            }
            _ => false,
        })
    }

    /// The appointment question (values confirm and change), if asked.
    pub fn appointment_question(&self) -> Option<&Question> {
        self.questions.iter().find(|q| match &q.answer {
            AnswerKind::Choice { options } => [CONFIRM, CHANGE]
                .iter()
                .all(|v| options.iter().any(|o| o.value == *v)),
            _ => false,
        })
    }

    /// Checks a script built in code (read ones are checked when read).
    pub fn validate(&self) -> Result<(), ScriptError> {
        self.problem().map_or(Ok(()), |problem| {
            Err(ScriptError {
                id: self.id.clone(),
                problem,
            })
        })
    }

    fn problem(&self) -> Option<ScriptProblem> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !id_ok {
            return Some(ScriptProblem::BadId(self.id.clone()));
        }
        if let Some(p) = check_texts("the intro", &self.intro) {
            return Some(p);
        }
        if self.questions.is_empty() {
            return Some(ScriptProblem::NoQuestions);
        }
        for (i, q) in self.questions.iter().enumerate() {
            let number = i + 1;
            if !is_identifier(&q.key) {
                return Some(ScriptProblem::BadQuestionKey {
                    number,
                    key: q.key.clone(),
                });
            }
            if let Some(first) = self.questions[..i].iter().position(|p| p.key == q.key) {
                return Some(ScriptProblem::DuplicateQuestionKey {
                    number,
                    key: q.key.clone(),
                    first: first + 1,
                });
            }
            if let Some(p) = check_question(q) {
                return Some(p);
            }
        }
        if let Some(p) = check_texts("the outro", &self.outro) {
            return Some(p);
        }
        match self.purpose {
            Purpose::Satisfaction if self.satisfaction_question().is_none() => {
                Some(ScriptProblem::NoSatisfactionQuestion)
            }
            Purpose::Appointment if self.appointment_question().is_none() => {
                Some(ScriptProblem::NoAppointmentQuestion)
            }
            _ => None,
        }
    }
}

fn check_texts(what: &str, texts: &Texts) -> Option<ScriptProblem> {
    if let Some(locale) = texts.missing().first() {
        return Some(ScriptProblem::MissingText {
            what: what.to_string(),
            locale: locale.tag(),
        });
    }
    let (zh_cn, en_us) = (texts.variables(Locale::ZhCn), texts.variables(Locale::EnUs));
    (zh_cn != en_us).then(|| ScriptProblem::VariableMismatch {
        what: what.to_string(),
        zh_cn: zh_cn.into_iter().collect(),
        en_us: en_us.into_iter().collect(),
    })
}

fn check_question(q: &Question) -> Option<ScriptProblem> {
    let question = || q.key.clone();
    if let Some(p) = check_texts(&format!("question {:?}: the prompt", q.key), &q.prompt) {
        return Some(p);
    }
    match &q.answer {
        AnswerKind::Scale { min, max } => {
            if *min > 1 || *max > 10 || min >= max {
                return Some(ScriptProblem::BadScale {
                    question: question(),
                    min: *min,
                    max: *max,
                });
            }
        }
        AnswerKind::Choice { options } => {
            if !(2..=8).contains(&options.len()) {
                return Some(ScriptProblem::OptionCount {
                    question: question(),
                    count: options.len(),
                });
            }
            for (i, o) in options.iter().enumerate() {
                match o.key {
                    OPT_OUT_KEY => {
                        return Some(ScriptProblem::OptOutKey {
                            question: question(),
                        });
                    }
                    REPEAT_KEY => {
                        return Some(ScriptProblem::RepeatKey {
                            question: question(),
                        });
                    }
                    '1'..='8' => {}
                    key => {
                        return Some(ScriptProblem::BadOptionKey {
                            question: question(),
                            key,
                        });
                    }
                }
                let earlier = &options[..i];
                if earlier.iter().any(|e| e.key == o.key) {
                    return Some(ScriptProblem::DuplicateOptionKey {
                        question: question(),
                        key: o.key,
                    });
                }
                if o.value.trim().is_empty() {
                    return Some(ScriptProblem::EmptyOptionValue {
                        question: question(),
                        key: o.key,
                    });
                }
                if earlier.iter().any(|e| e.value == o.value) {
                    return Some(ScriptProblem::DuplicateOptionValue {
                        question: question(),
                        value: o.value.clone(),
                    });
                }
                if let Some(score) = o.score
                    && !(0.0..=100.0).contains(&score)
                {
                    return Some(ScriptProblem::BadOptionScore {
                        question: question(),
                        key: o.key,
                        score,
                    });
                }
                let what = format!("question {:?}: the label of option {:?}", q.key, o.key);
                if let Some(p) = check_texts(&what, &o.label) {
                    return Some(p);
                }
            }
        }
        AnswerKind::YesNo => {}
        AnswerKind::Comment { max_secs } => {
            if !(1..=MAX_COMMENT_SECS).contains(max_secs) {
                return Some(ScriptProblem::BadCommentLength {
                    question: question(),
                    max_secs: *max_secs,
                });
            }
        }
    }
    if let Some(service) = &q.service
        && !SERVICES.contains(&service.as_str())
    {
        return Some(ScriptProblem::UnknownService {
            question: question(),
            service: service.clone(),
        });
    }
    let values = q.answer.values();
    if let Some(value) = q.follow_up_on.iter().find(|v| !values.contains(v)) {
        return Some(ScriptProblem::BadFollowUp {
            question: question(),
            value: value.clone(),
            values,
        });
    }
    None
}

/// A script as written, checked into a `Script`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFields {
    id: String,
    purpose: Purpose,
    intro: Texts,
    questions: Vec<Question>,
    outro: Texts,
}

impl TryFrom<ScriptFields> for Script {
    type Error = ScriptError;

    fn try_from(f: ScriptFields) -> Result<Self, Self::Error> {
        let script = Script {
            id: f.id,
            purpose: f.purpose,
            intro: f.intro,
            questions: f.questions,
            outro: f.outro,
        };
        script.validate()?;
        Ok(script)
    }
}

impl Script {
    /// The built-in post-repair callback (`prompts/surveys/satisfaction.toml`): satisfied (very
    /// / basically / not), was the fault fixed, and an optional short comment. The flow fills
    /// `{date}`: the day of the repair.
    pub fn satisfaction() -> Script {
        Script::builtin(Purpose::Satisfaction)
    }

    /// The built-in appointment confirmation (`prompts/surveys/appointment.toml`): 1 confirm,
    /// 2 change (an agent calls back). The flow fills `{date}` and `{time}`: the day and the
    /// time of the visit.
    pub fn appointment() -> Script {
        Script::builtin(Purpose::Appointment)
    }

    /// The built-in sample survey (`prompts/surveys/sample_survey.toml`): the operator's
    /// eight services, each on the same 1–5 scale.
    pub fn sample_survey() -> Script {
        Script::builtin(Purpose::SampleSurvey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(
        key: char,
        value: &str,
        zh_cn: &str,
        en_us: &str,
        score: Option<f64>,
    ) -> ChoiceOption {
        ChoiceOption {
            key,
            value: value.to_string(),
            label: Texts::new(zh_cn, en_us),
            score,
        }
    }

    fn question(key: &str, prompt: Texts, answer: AnswerKind) -> Question {
        Question {
            key: key.to_string(),
            prompt,
            answer,
            optional: false,
            service: None,
            follow_up_on: Vec::new(),
        }
    }

    /// The scripts as Rust literals built them before they moved to `prompts/surveys/`: what
    /// callers heard. Kept so that the move provably changed nothing, and so that rewording a
    /// built-in script is a deliberate change to both.
    mod literal {
        use super::super::*;
        use super::{option, question};

        /// The operator's post-repair callback: satisfied (very / basically / not), was the fault
        /// fixed, and an optional short comment. The flow fills `{date}`: the day of the repair.
        pub(super) fn satisfaction() -> Script {
            let satisfied = Question {
                follow_up_on: vec![DISSATISFIED.to_string()],
                ..question(
                    "satisfaction",
                    Texts::new(
                        "关于您{date}报修的故障，请问您对我们的维修服务是否满意？很满意请按1，基本满意请按2，不满意请按3。",
                        "About your {date} repair: if you are very satisfied with our service, press 1; basically satisfied, press 2; dissatisfied, press 3.",
                    ),
                    AnswerKind::Choice {
                        options: vec![
                            option('1', VERY, "很满意", "Very satisfied", None),
                            option('2', BASIC, "基本满意", "Basically satisfied", None),
                            option('3', DISSATISFIED, "不满意", "Dissatisfied", None),
                        ],
                    },
                )
            };
            let fixed = Question {
                follow_up_on: vec![NO.to_string()],
                ..question(
                    "fixed",
                    Texts::new(
                        "请问故障是否已经彻底修好？已修好请按1，没有修好请按2。",
                        "Has the fault been fixed? Press 1 for yes, or 2 for no.",
                    ),
                    AnswerKind::YesNo,
                )
            };
            let comment = Question {
                optional: true,
                ..question(
                    "comment",
                    Texts::new(
                        "如果您还有意见或建议，请在提示音后留言，说完请按井号键；如不需要留言，请直接按井号键。",
                        "If there is anything else you would like to tell us, please speak after the tone and press the hash key when you are done. Otherwise, just press the hash key.",
                    ),
                    AnswerKind::Comment { max_secs: 60 },
                )
            };
            Script {
                id: "satisfaction".to_string(),
                purpose: Purpose::Satisfaction,
                intro: Texts::new(
                    "您好，这里是电信客户服务中心的回访电话，耽误您一分钟时间。重听请按星号键；如果以后不希望接到此类回访电话，请按9。",
                    "Hello, this is a follow-up call from your telephone company's customer service; it will take about a minute. Press star to hear a question again, or press 9 if you would rather not receive calls like this.",
                ),
                questions: vec![satisfied, fixed, comment],
                outro: Texts::new(
                    "感谢您的宝贵意见，祝您生活愉快，再见！",
                    "Thank you for your feedback. Goodbye!",
                ),
            }
        }

        /// Confirming an installer's visit: 1 confirm, 2 change (an agent calls back). The flow
        /// fills `{date}` and `{time}`: the day and the time of the visit.
        pub(super) fn appointment() -> Script {
            let confirm = Question {
                follow_up_on: vec![CHANGE.to_string()],
                ..question(
                    "confirm",
                    Texts::new(
                        "我们的装维人员将于{date}{time}上门服务。确认请按1；需要更改时间请按2，稍后会有客服人员与您联系。",
                        "Our technician will visit you on {date} at {time}. To confirm, press 1. To change the time, press 2 and an agent will call you back.",
                    ),
                    AnswerKind::Choice {
                        options: vec![
                            option('1', CONFIRM, "确认", "Confirmed", None),
                            option('2', CHANGE, "需要更改", "Change requested", None),
                        ],
                    },
                )
            };
            Script {
                id: "appointment".to_string(),
                purpose: Purpose::Appointment,
                intro: Texts::new(
                    "您好，这里是电信客户服务中心，与您确认上门服务的预约。重听请按星号键；如果以后不希望接到此类电话，请按9。",
                    "Hello, this is your telephone company's customer service, calling to confirm your appointment. Press star to hear this again, or press 9 if you would rather not receive calls like this.",
                ),
                questions: vec![confirm],
                outro: Texts::new(
                    "谢谢，您的选择已记录。如需更改时间，客服人员会尽快与您联系。再见！",
                    "Thank you, your answer has been recorded. If you asked for a change, an agent will call you shortly. Goodbye!",
                ),
            }
        }
    }

    fn problem_of(script: &Script) -> ScriptProblem {
        script.validate().expect_err("invalid").problem
    }

    fn with_question(q: Question) -> Script {
        Script {
            questions: vec![q],
            ..Script::sample_survey()
        }
    }

    fn choice(keys_values: &[(char, &str)]) -> AnswerKind {
        AnswerKind::Choice {
            options: keys_values
                .iter()
                .map(|(k, v)| option(*k, v, "标签", "Label", None))
                .collect(),
        }
    }

    fn q(answer: AnswerKind) -> Question {
        question("q", Texts::new("问题", "Question"), answer)
    }

    #[test]
    fn builtin_scripts_are_valid_in_both_languages() {
        for purpose in Purpose::ALL {
            let s = Script::builtin(purpose);
            assert_eq!(s.purpose, purpose);
            assert_eq!(s.validate(), Ok(()), "{}", s.id);
            for l in Locale::ALL {
                assert!(!s.intro.get(l).is_empty());
            }
        }
        let s = Script::satisfaction();
        let keys: Vec<&str> = s.questions.iter().map(|q| q.key.as_str()).collect();
        assert_eq!(keys, ["satisfaction", "fixed", "comment"]);
        assert_eq!(
            s.satisfaction_question().map(|q| q.key.as_str()),
            Some("satisfaction")
        );
        assert!(s.question("comment").is_some_and(|q| q.optional));
        assert!(s.question("fixed").is_some_and(|q| q.needs_follow_up(NO)));
        assert!(
            s.question("satisfaction")
                .is_some_and(|q| q.needs_follow_up(DISSATISFIED) && !q.needs_follow_up(BASIC))
        );
        let a = Script::appointment();
        assert!(
            a.appointment_question()
                .is_some_and(|q| q.needs_follow_up(CHANGE))
        );
        let survey = Script::sample_survey();
        assert!(
            survey
                .question("billing")
                .is_some_and(|q| q.answer.offers_opt_out())
        );
    }

    /// The operator's survey: its eight services, in its order, on one 1–5 scale, so every
    /// answer scores 0–100 the way the operator reports its average (84.7).
    #[test]
    fn the_sample_survey_rates_the_eight_services_on_one_scale() {
        let survey = Script::sample_survey();
        let services: Vec<&str> = (survey.questions.iter())
            .filter_map(|q| q.service.as_deref())
            .collect();
        assert_eq!(services, SERVICES);
        assert_eq!(survey.questions.len(), SERVICES.len());
        for q in &survey.questions {
            assert_eq!(q.answer, AnswerKind::Scale { min: 1, max: 5 }, "{}", q.key);
            assert!(!q.answer.is_typed(), "{}: one key, no hash", q.key);
            for l in Locale::ALL {
                assert!(q.prompt.get(l).contains('5'), "{}: {l:?}", q.key);
            }
        }
        // The services everyone uses are asked; the others may be passed over by waiting.
        let asked: Vec<&str> = (survey.questions.iter())
            .filter(|q| !q.optional)
            .map(|q| q.key.as_str())
            .collect();
        assert_eq!(asked, ["business_hall", "fault_repair", "billing"]);
    }

    #[test]
    fn the_files_say_what_the_literals_said() {
        let literals = [literal::satisfaction(), literal::appointment()];
        for old in literals {
            assert_eq!(Script::builtin(old.purpose), old, "{}", old.purpose);
        }
    }

    #[test]
    fn the_satisfaction_prompt_names_the_repair_date() {
        let s = Script::satisfaction();
        let prompt = &s.questions[0].prompt;
        assert_eq!(
            prompt.render(Locale::EnUs, &[("date", "June 1st")]),
            "About your June 1st repair: if you are very satisfied with our service, press 1; basically satisfied, press 2; dissatisfied, press 3."
        );
        assert!(
            prompt
                .render(Locale::ZhCn, &[("date", "6月1日")])
                .starts_with("关于您6月1日报修的故障")
        );
        assert_eq!(
            prompt
                .variables(Locale::ZhCn)
                .into_iter()
                .collect::<Vec<_>>(),
            ["date"]
        );
        // Unknown variables are left as written.
        assert_eq!(
            Texts::new("{x}", "{x} and {y}").render(Locale::EnUs, &[("y", "Y")]),
            "{x} and Y"
        );
    }

    #[test]
    fn scripts_round_trip_through_toml_and_json() {
        for purpose in Purpose::ALL {
            let s = Script::builtin(purpose);
            let text = toml::to_string(&s).expect("serialises");
            assert_eq!(Script::from_toml(&text).expect("parses"), s);
            let json = serde_json::to_string(&s).expect("serialises");
            assert_eq!(serde_json::from_str::<Script>(&json).expect("parses"), s);
        }
        let json = serde_json::to_string(&Purpose::SampleSurvey).expect("serialises");
        assert_eq!(json, "\"sample_survey\"");
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn a_script_written_in_toml() {
        let s = Script::from_toml(
            r#"
            id = "broadband-2026"
            purpose = "sample_survey"
            intro = { zh-CN = "您好。", en-US = "Hello." }
            outro = { zh-CN = "再见。", en-US = "Goodbye." }

            [[questions]]
            key = "speed"
            prompt = { zh-CN = "请打分，0到10分，按井号键结束。", en-US = "Rate us from 0 to 10, then press pound." }
            answer = { kind = "scale", min = 0, max = 10 }
            service = "data_communications"

            [[questions]]
            key = "recommend"
            prompt = { zh-CN = "会推荐吗？", en-US = "Would you recommend us?" }
            answer = { kind = "yes_no" }
            optional = true

            [[questions]]
            key = "why"
            prompt = { zh-CN = "请留言。", en-US = "Tell us why." }
            answer = { kind = "comment", max_secs = 30 }
            optional = true

            [[questions]]
            key = "plan"
            prompt = { zh-CN = "您的套餐？", en-US = "Your plan?" }

            [questions.answer]
            kind = "choice"

            [[questions.answer.options]]
            key = "1"
            value = "basic"
            label = { zh-CN = "基础", en-US = "Basic" }
            score = 40

            [[questions.answer.options]]
            key = "2"
            value = "premium"
            label = { zh-CN = "高级", en-US = "Premium" }
            "#,
        )
        .expect("parses");
        assert_eq!(s.questions.len(), 4);
        assert_eq!(s.questions[0].answer, AnswerKind::Scale { min: 0, max: 10 });
        assert_eq!(
            s.questions[3].answer.option('1').and_then(|o| o.score),
            Some(40.0)
        );
        assert_eq!(s.questions[3].answer.values(), ["basic", "premium"]);
    }

    #[test]
    fn missing_texts_are_named() {
        let mut s = Script::satisfaction();
        s.intro.en_us.clear();
        assert_eq!(
            s.validate().expect_err("invalid").to_string(),
            "script \"satisfaction\": the intro has no en-US text"
        );
        let mut s = Script::satisfaction();
        s.questions[1].prompt.zh_cn = "  ".into();
        assert_eq!(
            problem_of(&s).to_string(),
            "question \"fixed\": the prompt has no zh-CN text"
        );
        let mut s = Script::satisfaction();
        if let AnswerKind::Choice { options } = &mut s.questions[0].answer {
            options[1].label.en_us.clear();
        }
        assert_eq!(
            problem_of(&s).to_string(),
            "question \"satisfaction\": the label of option '2' has no en-US text"
        );
        let mut s = Script::appointment();
        s.outro = Texts::default();
        assert_eq!(problem_of(&s).to_string(), "the outro has no zh-CN text");
        // From TOML: a missing locale is our error, not serde's.
        let err = Script::from_toml(
            "id = \"x\"\npurpose = \"sample_survey\"\nintro = { zh-CN = \"您好\" }\noutro = { zh-CN = \"再见\", en-US = \"Bye\" }\nquestions = []\n",
        )
        .expect_err("invalid")
        .to_string();
        assert!(
            err.contains("script \"x\": the intro has no en-US text"),
            "{err}"
        );
    }

    #[test]
    fn variables_must_match_across_locales() {
        let mut s = Script::satisfaction();
        s.questions[0].prompt.en_us = "About your repair: press 1, 2 or 3.".into();
        assert_eq!(
            problem_of(&s).to_string(),
            "question \"satisfaction\": the prompt uses the variables [\"date\"] in zh-CN but [] in en-US"
        );
    }

    #[test]
    fn reserved_and_bad_option_keys_are_refused() {
        let cases = [
            (
                choice(&[('1', "a"), ('9', "b")]),
                "key '9' is reserved for \"do not call me again\"",
            ),
            (
                choice(&[('*', "a"), ('1', "b")]),
                "key '*' is reserved for repeating the question",
            ),
            (
                choice(&[('0', "a"), ('1', "b")]),
                "option key '0' is not allowed, use 1 to 8",
            ),
            (
                choice(&[('1', "a"), ('#', "b")]),
                "option key '#' is not allowed",
            ),
            (
                choice(&[('1', "a"), ('1', "b")]),
                "option key '1' is used twice",
            ),
            (
                choice(&[('1', "a"), ('2', "a")]),
                "the value \"a\" is used by two options",
            ),
            (choice(&[('1', "a"), ('2', " ")]), "option '2' has no value"),
            (
                choice(&[('1', "a")]),
                "a choice needs 2 to 8 options, got 1",
            ),
        ];
        for (answer, want) in cases {
            let err = problem_of(&with_question(q(answer))).to_string();
            assert!(err.contains(want), "{err}");
            assert!(err.starts_with("question \"q\": "), "{err}");
        }
        let mut scored = choice(&[('1', "a"), ('2', "b")]);
        if let AnswerKind::Choice { options } = &mut scored {
            options[0].score = Some(120.0);
        }
        assert_eq!(
            problem_of(&with_question(q(scored))).to_string(),
            "question \"q\": option '1' scores 120, expected 0 to 100"
        );
    }

    #[test]
    fn scale_bounds_and_comment_lengths_are_checked() {
        for (min, max) in [(2, 5), (1, 11), (5, 5), (3, 1)] {
            let err = problem_of(&with_question(q(AnswerKind::Scale { min, max })));
            assert_eq!(
                err,
                ScriptProblem::BadScale {
                    question: "q".into(),
                    min,
                    max
                }
            );
        }
        for (min, max) in [(1, 5), (0, 10), (1, 10), (0, 4)] {
            assert_eq!(
                with_question(q(AnswerKind::Scale { min, max })).validate(),
                Ok(())
            );
        }
        assert!(AnswerKind::Scale { min: 1, max: 9 }.is_typed());
        assert!(!AnswerKind::Scale { min: 1, max: 8 }.is_typed());
        assert_eq!(
            problem_of(&with_question(q(AnswerKind::Comment { max_secs: 0 }))).to_string(),
            "question \"q\": a comment lasts 1 to 300 seconds, got 0"
        );
        assert!(
            with_question(q(AnswerKind::Comment { max_secs: 301 }))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn keys_ids_services_and_follow_ups_are_checked() {
        let mut s = Script::satisfaction();
        s.questions[2].key = "fixed".into();
        assert_eq!(
            problem_of(&s).to_string(),
            "question 3: the key \"fixed\" is already used by question 2"
        );
        s.questions[2].key = "Comment 1".into();
        assert_eq!(
            problem_of(&s).to_string(),
            "question 3: the key must be lowercase letters, digits and '_', got \"Comment 1\""
        );
        let mut s = Script::satisfaction();
        s.id = "Satisfaction!".into();
        assert!(matches!(problem_of(&s), ScriptProblem::BadId(_)));
        let mut s = Script::sample_survey();
        s.questions[0].service = Some("repairs".into());
        assert!(
            problem_of(&s)
                .to_string()
                .starts_with("question \"business_hall\": unknown service \"repairs\", expected one of [\"business_hall\"")
        );
        let mut s = Script::satisfaction();
        s.questions[1].follow_up_on = vec!["maybe".into()];
        assert_eq!(
            problem_of(&s).to_string(),
            "question \"fixed\": follow_up_on names \"maybe\", which the question cannot produce (it gives [\"yes\", \"no\"])"
        );
        let mut s = Script::satisfaction();
        s.questions.clear();
        assert_eq!(problem_of(&s), ScriptProblem::NoQuestions);
    }

    #[test]
    fn purposes_need_their_question() {
        let mut s = Script::satisfaction();
        s.questions.remove(0);
        assert_eq!(problem_of(&s), ScriptProblem::NoSatisfactionQuestion);
        let mut s = Script::satisfaction();
        if let AnswerKind::Choice { options } = &mut s.questions[0].answer {
            options[1].value = "ok".into();
        }
        assert_eq!(problem_of(&s), ScriptProblem::NoSatisfactionQuestion);
        let s = Script {
            purpose: Purpose::Appointment,
            ..Script::satisfaction()
        };
        assert_eq!(problem_of(&s), ScriptProblem::NoAppointmentQuestion);
        // A sample survey needs no particular question.
        let s = Script {
            purpose: Purpose::SampleSurvey,
            ..Script::appointment()
        };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut text = toml::to_string(&Script::appointment()).expect("serialises");
        text.push_str("\nvoice = \"Polly\"\n");
        let err = Script::from_toml(&text).expect_err("invalid").to_string();
        assert!(err.contains("unknown field `voice`"), "{err}");
        let err = Script::from_toml(
            "id = \"x\"\npurpose = \"poll\"\nintro = {}\noutro = {}\nquestions = []\n",
        )
        .expect_err("invalid")
        .to_string();
        assert!(err.contains("unknown variant `poll`"), "{err}");
    }
}
