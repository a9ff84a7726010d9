//! Surveys: the questions a callback asks, the answers given, and the figures made of them.
//!
//! Rules:
//! - A script is data: an intro, questions and an outro, every text in every locale, read from
//!   TOML or JSON and checked when read (`script`). The operator's scripts are built in, one
//!   file per purpose under `prompts/surveys/` (`builtin`): post-repair satisfaction,
//!   appointment confirmation and an example sample survey.
//! - On every prompt of every script `9` means "do not call me again" and `*` repeats, so no
//!   question may use them as answers; the one exception is a scale reaching 9 or 10, whose
//!   answers are typed and ended with `#` (`9#`, `10#`), where opting out is left to the other
//!   prompts.
//! - Answers are scored on 0–100 points as the operator reports them (`score`); the
//!   satisfaction rate counts "very" and "basically satisfied" over everyone who answered the
//!   satisfaction question, and always states that denominator.

pub mod builtin;
pub mod score;
pub mod script;

pub use score::{Answer, SatisfactionCounts, score};
pub use script::{AnswerKind, ChoiceOption, Purpose, Question, Script, ScriptError, Texts};
