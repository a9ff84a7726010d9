//! Prompts: everything a caller hears, from one catalog per locale under `prompts/`; the
//! survey scripts of callbacks are beside them, in `prompts/surveys/` (`surveys::builtin`).
//!
//! Rules: flows name a message by key and pass variables; the text lives only in the
//! catalogs, which operators may edit without a rebuild (`prompts_dir`). Every locale must
//! have the same keys with the same variables, or the catalog is refused at start-up.
//! Amounts, dates and numbers are formatted for speech by `speak`, never by the catalogs.

pub mod speak;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A language the hotline speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Locale {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en-US")]
    EnUs,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::EnUs];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::EnUs => "en-US",
        }
    }

    /// Parses a BCP-47 tag loosely: `zh`, `zh-CN`, `cmn-CN`, `en`, `en-us`…
    pub fn parse(s: &str) -> Option<Self> {
        let l = s.trim().to_ascii_lowercase();
        if l == "zh" || l.starts_with("zh-") || l.starts_with("cmn") {
            Some(Locale::ZhCn)
        } else if l == "en" || l.starts_with("en-") {
            Some(Locale::EnUs)
        } else {
            None
        }
    }

    /// Short code used in step URLs.
    pub fn code(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh",
            Locale::EnUs => "en",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read prompt catalog {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("prompt catalog {locale} is not valid TOML: {source}")]
    Parse {
        locale: &'static str,
        source: toml::de::Error,
    },
    #[error("prompt catalog {locale} lacks key `{key}`, which {other} has")]
    MissingKey {
        locale: &'static str,
        key: String,
        other: &'static str,
    },
    #[error("prompt `{key}` uses variables {here:?} in {locale} but {there:?} in {other}")]
    VariableMismatch {
        key: String,
        locale: &'static str,
        here: Vec<String>,
        other: &'static str,
        there: Vec<String>,
    },
}

/// The catalogs of every locale, checked for parity.
#[derive(Debug, Clone)]
pub struct Catalog {
    messages: BTreeMap<Locale, BTreeMap<String, String>>,
    /// Per locale and speech menu, the recogniser hints (see `Catalog::hints`), worked out
    /// once: every menu a caller hears asks for them.
    hints: BTreeMap<Locale, HashMap<String, Vec<String>>>,
}

/// The keys of a menu, in the order their hints are given.
const MENU_KEYS: [&str; 8] = ["1", "2", "3", "4", "5", "0", "star", "9"];

const EMBEDDED: [(Locale, &str); 2] = [
    (Locale::ZhCn, include_str!("../../prompts/zh-CN.toml")),
    (Locale::EnUs, include_str!("../../prompts/en-US.toml")),
];

impl Catalog {
    /// The catalogs built into the binary (from `prompts/` at build time).
    pub fn embedded() -> Result<Self, CatalogError> {
        Self::from_sources(EMBEDDED.iter().map(|(l, s)| (*l, s.to_string())))
    }

    /// Loads `<dir>/<locale>.toml` for every locale.
    pub fn load_dir(dir: &Path) -> Result<Self, CatalogError> {
        let mut sources = Vec::new();
        for l in Locale::ALL {
            let path = dir.join(format!("{}.toml", l.tag()));
            let text = std::fs::read_to_string(&path).map_err(|source| CatalogError::Io {
                path: path.display().to_string(),
                source,
            })?;
            sources.push((l, text));
        }
        Self::from_sources(sources)
    }

    fn from_sources(
        sources: impl IntoIterator<Item = (Locale, String)>,
    ) -> Result<Self, CatalogError> {
        let mut messages = BTreeMap::new();
        for (locale, text) in sources {
            let table: toml::Table =
                toml::from_str(&text).map_err(|source| CatalogError::Parse {
                    locale: locale.tag(),
                    source,
                })?;
            let mut flat = BTreeMap::new();
            flatten("", &toml::Value::Table(table), &mut flat);
            messages.insert(locale, flat);
        }
        let mut cat = Catalog {
            messages,
            hints: BTreeMap::new(),
        };
        cat.check_parity()?;
        cat.hints = cat.speech_hints();
        Ok(cat)
    }

    fn speech_hints(&self) -> BTreeMap<Locale, HashMap<String, Vec<String>>> {
        let menus: BTreeSet<&str> = (self.keys())
            .filter_map(|k| k.strip_prefix("speech.")?.rsplit_once('.'))
            .map(|(menu, _)| menu)
            .collect();
        let hints_of = |locale: Locale, menu: &str| -> Vec<String> {
            (MENU_KEYS.iter())
                .map(|k| format!("speech.{menu}.{k}"))
                .filter(|key| self.has(key))
                .filter_map(|key| {
                    let words = self.text(locale, &key, &[]);
                    words.split(',').next().map(|w| w.trim().to_string())
                })
                .collect()
        };
        Locale::ALL
            .into_iter()
            .map(|l| {
                let menus = menus.iter().map(|m| (m.to_string(), hints_of(l, m)));
                (l, menus.collect())
            })
            .collect()
    }

    /// The first keyword of each key of the speech menu `menu` (`speech.<menu>.<key>`), as
    /// recogniser hints; none for a menu without speech keywords.
    pub fn hints(&self, locale: Locale, menu: &str) -> &[String] {
        (self.hints.get(&locale))
            .and_then(|m| m.get(menu))
            .map_or(&[], Vec::as_slice)
    }

    fn check_parity(&self) -> Result<(), CatalogError> {
        for (a, am) in &self.messages {
            for (b, bm) in &self.messages {
                if a == b {
                    continue;
                }
                for (key, text) in am {
                    let Some(other) = bm.get(key) else {
                        return Err(CatalogError::MissingKey {
                            locale: b.tag(),
                            key: key.clone(),
                            other: a.tag(),
                        });
                    };
                    let (here, there) = (variables(text), variables(other));
                    if here != there {
                        return Err(CatalogError::VariableMismatch {
                            key: key.clone(),
                            locale: a.tag(),
                            here: here.into_iter().collect(),
                            other: b.tag(),
                            there: there.into_iter().collect(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether every locale has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.messages.values().all(|m| m.contains_key(key))
    }

    /// The message `key` in `locale` with `{name}` placeholders filled from `vars`.
    /// A missing key renders as the key itself (start-up checks make that a bug, not an
    /// outage); a missing variable renders as nothing.
    pub fn text(&self, locale: Locale, key: &str, vars: &[(&str, &str)]) -> String {
        let Some(template) = self.messages.get(&locale).and_then(|m| m.get(key)) else {
            tracing::error!(key, locale = locale.tag(), "missing prompt");
            return key.to_string();
        };
        fill(template, vars)
    }

    /// All keys, for tests and tooling.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages
            .values()
            .next()
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Names of the `{var}` placeholders in a template.
fn variables(template: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.insert(after[..close].to_string());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(v);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogs_are_complete_and_parallel() {
        let cat = Catalog::embedded().expect("catalogs load");
        assert!(cat.keys().count() > 20);
        for cat_key in crate::billing::CHARGE_CATEGORIES {
            assert!(cat.has(&format!("charge.{cat_key}")), "charge.{cat_key}");
        }
    }

    #[test]
    fn speech_menus_hint_the_first_keyword_of_each_key_in_key_order() {
        let cat = Catalog::embedded().unwrap();
        assert_eq!(
            cat.hints(Locale::EnUs, "bill"),
            [
                "repeat",
                "charges",
                "another account",
                "person",
                "main menu"
            ]
        );
        assert_eq!(cat.hints(Locale::EnUs, "menu").len(), 8);
        assert!(!cat.hints(Locale::ZhCn, "menu").is_empty());
        assert!(cat.hints(Locale::EnUs, "no such menu").is_empty());
    }

    #[test]
    fn refuses_a_catalog_missing_a_key() {
        let err = Catalog::from_sources([
            (Locale::ZhCn, "a = \"甲\"\nb = \"乙\"".to_string()),
            (Locale::EnUs, "a = \"A\"".to_string()),
        ])
        .unwrap_err();
        assert!(
            matches!(err, CatalogError::MissingKey { ref key, locale: "en-US", .. } if key == "b"),
            "{err}"
        );
    }

    #[test]
    fn refuses_mismatched_variables() {
        let err = Catalog::from_sources([
            (Locale::ZhCn, "a = \"{amount}元\"".to_string()),
            (Locale::EnUs, "a = \"{amout} yuan\"".to_string()),
        ])
        .unwrap_err();
        assert!(
            matches!(err, CatalogError::VariableMismatch { .. }),
            "{err}"
        );
    }

    #[test]
    fn fills_variables() {
        assert_eq!(
            fill("您应缴{amount}，{x}", &[("amount", "128元5角")]),
            "您应缴128元5角，"
        );
        assert_eq!(fill("no {close", &[]), "no {close");
    }
}
