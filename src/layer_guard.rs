//! The layer guard: reads every `crate::` path under `src/` and fails when a lower layer
//! names a higher one (see docs/architecture.md).
//!
//! Rules: the layers, bottom up, are the domain (with the provider-neutral `telephony` model
//! and the settings, and `repo`, the sum of the domain's repository traits), the adapters
//! (`store`, `telephony::twilio`), the web layer (`http`, `demo`) and the command line. A
//! module may name its own layer and those below; nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where each top-level module sits; a module may name its own layer and those below.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "agents" | "billing" | "calendar" | "callbacks" | "calls" | "clock" | "config"
        | "customers" | "escalations" | "flows" | "lockout" | "prompts" | "reports" | "repo"
        | "secret" | "surveys" | "telephony" | "text" | "tickets" | "webhooks" => 0,
        "store" | "twilio" => 1,
        "http" | "demo" => 2,
        "main" | "cli" => 3,
        _ => return None,
    })
}

/// The top-level module a source file belongs to (`telephony/twilio/…` is `twilio`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [t, tw, ..] if t == "telephony" && tw == "twilio" => "twilio".into(),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a file names through `crate::…`, up to its first `#[cfg(test)]`
/// (the test module comes last in this code; tests may reach across layers to build what
/// they check).
fn named(text: &str) -> BTreeSet<String> {
    let product = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    let mut rest = product;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let twilio = name == "telephony" && rest[name.len()..].starts_with("::twilio");
        out.insert(if twilio { "twilio".into() } else { name });
    }
    out
}

#[test]
fn no_lower_layer_names_a_higher_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer(&module) else {
            // The crate root and this test name every module; a new module must be placed.
            assert!(
                module == "lib" || module == "layer_guard",
                "module {module:?} has no layer: add it to `layer`"
            );
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for target in named(&text) {
            if layer(&target).is_some_and(|l| l > own) {
                found.insert((module.clone(), target));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a lower layer names a higher one (importer, imported): {found:?}; see \
         docs/architecture.md for where the code belongs"
    );
}
