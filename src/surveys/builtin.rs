//! The built-in survey scripts: one file per purpose, `prompts/surveys/<purpose>.toml`.
//!
//! Rules:
//! - Every purpose has its file, in the format `Script::from_toml` reads (the fields of a
//!   campaign's own script in the API), embedded in the binary at build time.
//! - The files are read and checked once. One that is not valid TOML, breaks a script rule
//!   (`script`) or is for another purpose stops the service at start-up (`check`), and the
//!   error names the file.
//! - `HOTLINE_PROMPTS_DIR` does not replace them. A campaign keeps the script it was created
//!   with, and other wording is given as the campaign's own script through the API; defaults
//!   read from each instance's disk would let two instances create different campaigns from
//!   the same request.

use std::sync::LazyLock;

use super::script::{Purpose, Script};

/// Why the built-in scripts are refused: which file, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuiltinError {
    #[error("built-in survey script {path}: {source}")]
    Invalid {
        path: &'static str,
        source: toml::de::Error,
    },
    #[error("built-in survey script {path} is for {found}, but it is the file of {expected}")]
    WrongPurpose {
        path: &'static str,
        expected: Purpose,
        found: Purpose,
    },
}

/// The file of a purpose, and its text as built in. A match, so that a new purpose does not
/// build without its script.
fn embedded(purpose: Purpose) -> (&'static str, &'static str) {
    match purpose {
        Purpose::Satisfaction => (
            "prompts/surveys/satisfaction.toml",
            include_str!("../../prompts/surveys/satisfaction.toml"),
        ),
        Purpose::SampleSurvey => (
            "prompts/surveys/sample_survey.toml",
            include_str!("../../prompts/surveys/sample_survey.toml"),
        ),
        Purpose::Appointment => (
            "prompts/surveys/appointment.toml",
            include_str!("../../prompts/surveys/appointment.toml"),
        ),
    }
}

/// Read once: every campaign created with a default script clones from here.
static SCRIPTS: LazyLock<Result<Vec<Script>, BuiltinError>> = LazyLock::new(|| {
    read(Purpose::ALL.map(|purpose| {
        let (path, text) = embedded(purpose);
        (purpose, path, text)
    }))
});

fn read<'a>(
    files: impl IntoIterator<Item = (Purpose, &'static str, &'a str)>,
) -> Result<Vec<Script>, BuiltinError> {
    files
        .into_iter()
        .map(|(expected, path, text)| {
            let script =
                Script::from_toml(text).map_err(|source| BuiltinError::Invalid { path, source })?;
            if script.purpose != expected {
                return Err(BuiltinError::WrongPurpose {
                    path,
                    expected,
                    found: script.purpose,
                });
            }
            Ok(script)
        })
        .collect()
}

/// Reads and checks every built-in script; start-up refuses to go on without them.
pub fn check() -> Result<(), BuiltinError> {
    SCRIPTS.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The built-in script of `purpose` (see `Script::builtin`).
pub(super) fn script(purpose: Purpose) -> Script {
    let scripts = match SCRIPTS.as_ref() {
        Ok(scripts) => scripts,
        // Unreachable in a running service: start-up stops on this error (`check`) and the
        // tests read every file, so only a build that skipped both gets here, and no
        // script is better than one nobody wrote.
        Err(e) => panic!("{e}"),
    };
    match scripts.iter().find(|s| s.purpose == purpose) {
        Some(script) => script.clone(),
        None => panic!("no built-in survey script for {purpose}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_purpose_has_its_file_and_all_are_valid() {
        assert_eq!(check(), Ok(()));
        for purpose in Purpose::ALL {
            let (path, _) = embedded(purpose);
            assert_eq!(path, format!("prompts/surveys/{purpose}.toml"));
            assert_eq!(script(purpose).purpose, purpose);
        }
    }

    #[test]
    fn a_broken_file_is_refused_with_its_name() {
        let (_, good) = embedded(Purpose::Appointment);
        let path = "prompts/surveys/appointment.toml";

        let err = read([(
            Purpose::Appointment,
            path,
            "id = \"appointment\"\npurpose =",
        )])
        .expect_err("not TOML");
        assert!(
            err.to_string()
                .starts_with("built-in survey script prompts/surveys/appointment.toml: "),
            "{err}"
        );

        // A script rule broken: the English prompt lost its `{time}`.
        let broken = good.replace("on {date} at {time}.", "on {date}.");
        assert_ne!(broken, good);
        let err = read([(Purpose::Appointment, path, broken.as_str())])
            .expect_err("variables differ")
            .to_string();
        assert!(err.contains("prompts/surveys/appointment.toml"), "{err}");
        assert!(
            err.contains(
                "script \"appointment\": question \"confirm\": the prompt uses the variables [\"date\", \"time\"] in zh-CN but [\"date\"] in en-US"
            ),
            "{err}"
        );

        let err = read([(Purpose::Satisfaction, path, good)]).expect_err("wrong purpose");
        assert_eq!(
            err.to_string(),
            "built-in survey script prompts/surveys/appointment.toml is for appointment, but it is the file of satisfaction"
        );
    }
}
