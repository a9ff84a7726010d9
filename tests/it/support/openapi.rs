//! `docs/openapi.yaml` as a check on the server: every answer the API tests get through
//! `TestApp::api_send` must be one the document describes for its path, method and status,
//! so the document cannot drift from what the server sends.
//!
//! The checks are OpenAPI 3.0's, strictly: `null` only where `nullable: true`, and then only
//! in an `enum` that lists it; `type`, `enum`, `required`, `properties`,
//! `additionalProperties`, `items`, `allOf`, `oneOf`/`anyOf` (one must match), `$ref` to the
//! document's components. Formats and bounds are not checked. One more, for drift: an object
//! whose schema names its properties (through `allOf` too) may hold no other, unless the
//! schema allows others with `additionalProperties`.

use std::sync::OnceLock;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The API's paths in the document are under this prefix of the server's.
const PREFIX: &str = "/api/v1";

/// The document, read once per test process.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
        let text = std::fs::read_to_string(path).expect("docs/openapi.yaml");
        let docs = YamlLoader::load_from_str(&text).expect("docs/openapi.yaml is YAML");
        json(docs.first().expect("a document"))
    })
}

fn json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("a key that is not a string: {other:?}"),
                    };
                    (key, json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML in the document: {y:?}"),
    }
}

/// The document's template for a request path (`/tickets/{number}` for `/tickets/F1`): the
/// one that matches with the most literal segments.
fn template<'a>(paths: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .filter_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (p, s) in parts.iter().zip(&segments) {
                if p.starts_with('{') && p.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                } else if p == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, t.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, t)| t)
}

/// Follows a `$ref` to the document's components.
fn resolve(v: &Value) -> &Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap_or(r);
            resolve(
                document()
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("the document has no {r}")),
            )
        }
        None => v,
    }
}

/// What is wrong with answering `status` with `body` to `method path` by the document; empty
/// when nothing is. A path outside the API is not the document's business.
pub fn problems(method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let path = path.split('?').next().unwrap_or(path);
    let Some(path) = path.strip_prefix(PREFIX) else {
        return Vec::new();
    };
    let paths = document()["paths"].as_object().expect("paths");
    let Some(t) = template(paths, path) else {
        return vec![format!("{path} is not in the document")];
    };
    let Some(op) = paths[t].get(method.to_ascii_lowercase()) else {
        return vec![format!("{method} {t} is not in the document")];
    };
    let responses = &op["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .or_else(|| responses.get("default"))
    else {
        return vec![format!(
            "{method} {t} answered {status}, not in the document"
        )];
    };
    let response = resolve(response);
    let schema = response.pointer("/content/application~1json/schema");
    let mut errors = Vec::new();
    match schema {
        Some(schema) => check(schema, body, "", &mut errors, true),
        // Not JSON (CSV, a redirect, no body): what `api_send` reads is `null`.
        None if body.is_null() || response.get("content").is_some() => {}
        None => errors.push(format!(
            "a JSON body the document does not describe: {body}"
        )),
    }
    errors
        .into_iter()
        .map(|e| format!("{method} {t} {status}: {e}"))
        .collect()
}

/// Fails the test when `docs/openapi.yaml` does not describe this answer; for requests sent
/// around `TestApp::api_send` (without a token, with a body that is not JSON…).
pub fn assert_documented(method: &str, path: &str, status: u16, body: &Value) {
    let wrong = problems(method, path, status, body);
    assert!(
        wrong.is_empty(),
        "the answer is not as docs/openapi.yaml says:\n{}\n{body:#}",
        wrong.join("\n")
    );
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => false,
    }
}

/// Every property `schema` names, through `allOf`; `None` when it allows others (or names
/// none: a free-form object).
fn declared(schema: &Value) -> Option<Vec<String>> {
    let schema = resolve(schema);
    if !matches!(
        schema.get("additionalProperties"),
        None | Some(Value::Bool(false))
    ) {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    let mut named = false;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        names.extend(props.keys().cloned());
        named = true;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            names.extend(declared(s)?);
            named = true;
        }
    }
    named.then_some(names)
}

/// Checks `v` at `at` (a JSON pointer) against `schema`, adding what is wrong to `errors`;
/// `whole` when `schema` is all there is to say of `v` (not one branch of an `allOf`), so
/// properties it does not name are wrong.
fn check(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>, whole: bool) {
    let schema = resolve(schema);
    let here = if at.is_empty() { "/" } else { at };
    if v.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            // An `allOf` of a reference may carry `nullable` only beside it.
            errors.push(format!("{here}: null, but the document does not allow it"));
        } else if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(&Value::Null)
        {
            errors.push(format!(
                "{here}: null, but the enum {values:?} does not list null"
            ));
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(s, v, at, errors, false);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(any) = schema.get(key).and_then(Value::as_array) {
            let fits = any.iter().any(|s| {
                let mut e = Vec::new();
                check(s, v, at, &mut e, true);
                e.is_empty()
            });
            if !fits {
                errors.push(format!("{here}: matches none of {key}: {v}"));
            }
        }
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_matches(ty, v)
    {
        errors.push(format!("{here}: {v} is not of type {ty}"));
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        errors.push(format!("{here}: {v} is not one of {values:?}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{here}: required {r:?} is missing"));
                }
            }
        }
        let names = if whole { declared(schema) } else { None };
        for (k, value) in obj {
            let inner = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, value, &inner, errors, true),
                None => {
                    if let Some(s @ Value::Object(_)) = schema.get("additionalProperties") {
                        check(s, value, &inner, errors, true);
                    }
                }
            }
            if names.as_ref().is_some_and(|n| !n.contains(k)) {
                errors.push(format!("{inner}: not a property the document names"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(items, item, &format!("{at}/{i}"), errors, true);
        }
    }
}

#[test]
fn the_checker_finds_what_the_document_does_not_allow() {
    // The error answer of every path: an object with `error`.
    let good = serde_json::json!({ "error": "no ticket X" });
    assert_eq!(
        problems("GET", "/api/v1/tickets/X", 404, &good),
        Vec::<String>::new()
    );
    assert!(!problems("GET", "/api/v1/tickets/X", 404, &serde_json::json!("no")).is_empty());
    assert!(!problems("GET", "/api/v1/nowhere", 404, &good).is_empty());
    assert!(!problems("GET", "/api/v1/tickets/X", 418, &good).is_empty());
    // A property the document does not name, beside those of both halves of an `allOf`.
    let mut ticket = serde_json::json!({ "number": "F1", "history": [] });
    let named = problems("GET", "/api/v1/tickets/F1", 200, &ticket);
    assert!(
        !named.iter().any(|p| p.contains("not a property")),
        "{named:?}"
    );
    ticket["colour"] = "red".into();
    let extra = problems("GET", "/api/v1/tickets/F1", 200, &ticket);
    assert!(
        extra.iter().any(|p| p.contains("/colour: not a property")),
        "{extra:?}"
    );
    // Outside the API: not checked.
    assert!(problems("GET", "/console", 200, &Value::Null).is_empty());
}

/// Checks a report's CSV against the document's description of it ("one block per table:
/// `# key,definition`, a header, rows; a rate is `<col>_pct,<col>_num,<col>_den`") and against
/// the same report as JSON: the same tables in order, every cell the same figure.
pub fn assert_csv_report(csv_text: &str, report: &Value) {
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes())
        .into_records()
        .map(|r| r.expect("CSV parses"));
    let tables = report["tables"].as_array().expect("tables");
    for t in tables {
        let key = t["key"].as_str().expect("table key");
        let head = records
            .next()
            .unwrap_or_else(|| panic!("no block for {key}"));
        assert_eq!(
            head.iter().collect::<Vec<_>>(),
            [
                format!("# {key}").as_str(),
                t["definition"].as_str().unwrap_or("")
            ],
            "block head"
        );
        let rows = t["rows"].as_array().expect("rows");
        let is_rate = |i: usize| rows.iter().any(|r| r[i]["type"] == "rate");
        let columns = t["columns"].as_array().expect("columns");
        let expected: Vec<String> = (columns.iter().enumerate())
            .flat_map(|(i, c)| {
                let k = c["key"].as_str().expect("column key");
                if is_rate(i) {
                    vec![format!("{k}_pct"), format!("{k}_num"), format!("{k}_den")]
                } else {
                    vec![k.to_string()]
                }
            })
            .collect();
        let header = records
            .next()
            .unwrap_or_else(|| panic!("no header for {key}"));
        assert_eq!(header.iter().collect::<Vec<_>>(), expected, "{key}: header");
        for row in rows {
            let got = records
                .next()
                .unwrap_or_else(|| panic!("{key}: a row is missing"));
            let mut fields = got.iter();
            for cell in row.as_array().expect("cells") {
                let mut next = || {
                    fields
                        .next()
                        .unwrap_or_else(|| panic!("{key}: short row {got:?}"))
                };
                match cell["type"].as_str() {
                    Some("text") => assert_eq!(next(), cell["value"].as_str().unwrap_or("")),
                    Some("count") => assert_eq!(next(), cell["value"].to_string()),
                    Some("rate") => {
                        let (num, den) = (cell["num"].as_i64(), cell["den"].as_i64());
                        let pct = next();
                        let (n, d) = (next(), next());
                        assert_eq!(
                            (n, d),
                            (
                                num.unwrap_or(0).to_string().as_str(),
                                den.unwrap_or(0).to_string().as_str()
                            )
                        );
                        match (num, den) {
                            (Some(n), Some(d)) if d > 0 => {
                                let want = n as f64 * 100.0 / d as f64;
                                let got: f64 = pct.parse().expect("a percentage");
                                assert!((got - want).abs() < 0.001, "{key}: {pct} for {n}/{d}");
                            }
                            _ => assert_eq!(pct, "", "{key}: a rate of nothing is empty"),
                        }
                    }
                    Some("secs" | "number") => {
                        let f = next();
                        match cell["value"].as_f64() {
                            Some(v) => assert!(
                                (f.parse::<f64>().expect("a number") - v).abs() < 0.001,
                                "{key}: {f} for {v}"
                            ),
                            None => assert_eq!(f, "", "{key}: no figure is empty"),
                        }
                    }
                    other => panic!("{key}: undocumented cell type {other:?}"),
                }
            }
            assert_eq!(fields.next(), None, "{key}: long row {got:?}");
        }
    }
    assert!(
        records.next().is_none(),
        "a block the JSON report does not have"
    );
}
