//! The Kibana NDJSON validated against the Kibana 9.5 rule schemas kept in the project's
//! shared folder (`shared/schemas/kibana/9.5.<type>.json`, detection-rules' stack schemas).
//!
//! Ignored by default because the schemas live outside the repository; CI runs it with
//! `cargo test -p ruleport-pack -- --ignored`, and it fails when the schemas cannot be found.
//! The folder is `$RULEPORT_SHARED`, else `shared/` beside the repository.
//!
//! `validate_pack_folder` checks a whole pack folder the same way: the one named by
//! `$RULEPORT_PACK_DIR` (for example `ruleport pack <corpus> --out DIR` in CI), else a fresh
//! build of every rule kind.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ruleport_pack::{build_packs, PackOptions};
use serde_json::{json, Value};
use std::path::PathBuf;

fn schema_dir() -> PathBuf {
    let shared = std::env::var_os("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("schemas/kibana");
    assert!(
        dir.join("9.5.query.json").is_file(),
        "Kibana schemas not found in {} (set RULEPORT_SHARED to the shared folder)",
        dir.display()
    );
    dir
}

fn validator(rule_type: &str) -> jsonschema::Validator {
    let path = schema_dir().join(format!("9.5.{rule_type}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::draft4::new(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schemas describe new_terms in detection-rules' nested form (`new_terms {field, value,
/// history_window_start: [{field}]}`), which the import API flattens into `new_terms_fields` and
/// `history_window_start`; nest it back (the schema's window item has no `value`, so the
/// window's date math is checked here instead).
fn schema_form(mut v: Value) -> Value {
    if v["type"] == "new_terms" {
        let obj = v.as_object_mut().unwrap();
        let fields = obj.remove("new_terms_fields").unwrap();
        let window = obj.remove("history_window_start").unwrap();
        let w = window.as_str().unwrap();
        let amount = w.strip_prefix("now-").unwrap();
        assert!(
            amount.len() > 1
                && amount[..amount.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit()),
            "{w}"
        );
        obj.insert(
            "new_terms".into(),
            json!({"field": "new_terms_fields", "value": fields, "history_window_start": [{"field": "history_window_start"}]}),
        );
    }
    v
}

fn errors(v: &Value) -> Vec<String> {
    let t = v["type"].as_str().unwrap();
    let val = validator(t);
    let instance = schema_form(v.clone());
    val.iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
#[ignore = "needs the shared Kibana schemas; run by CI with --ignored"]
fn ndjson_validates_against_kibana_schemas() {
    let mut inputs = kinds::all();
    // Hostile text must not produce an invalid rule either.
    let mut hostile = seed_input();
    hostile.rule.meta.id = "../x".into();
    hostile.rule.meta.title = "q\" \\ {{x}}\n[y]".into();
    hostile.rule.meta.note = Some("<!--\n```".into());
    inputs.push(hostile);
    let dir = tempfile::tempdir().unwrap();
    build_packs(&inputs, dir.path(), &PackOptions::default()).unwrap();
    let nd = read(dir.path(), "elastic/rules.ndjson");
    let mut types = std::collections::BTreeSet::new();
    for line in nd.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let errs = errors(&v);
        assert!(errs.is_empty(), "{}: {errs:#?}", v["name"]);
        types.insert(v["type"].as_str().unwrap().to_string());
    }
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        vec!["eql", "esql", "new_terms", "query", "threshold"]
    );
}

#[test]
#[ignore = "needs the shared Kibana schemas; run by CI with --ignored"]
fn schemas_reject_broken_rules() {
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[seed_input()], dir.path(), &PackOptions::default()).unwrap();
    let good: Value =
        serde_json::from_str(read(dir.path(), "elastic/rules.ndjson").trim_end()).unwrap();
    assert!(errors(&good).is_empty());
    for (key, bad) in [
        ("severity", json!("informational")),
        ("risk_score", json!(101)),
        ("interval", json!("5 minutes")),
        ("rule_id", json!("not-a-uuid")),
        ("unknown_key", json!(1)),
    ] {
        let mut v = good.clone();
        v[key] = bad;
        assert!(!errors(&v).is_empty(), "{key} should be rejected");
    }
    let mut v = good.clone();
    v["threat"][0]["tactic"]["reference"] = json!("https://example.com/");
    assert!(!errors(&v).is_empty(), "threat reference pattern");
}

/// Every check a pack folder must pass: manifests hash their files, the NDJSON validates, the
/// .conf files parse, the Sentinel YAML and ARM template meet Sentinel's constraints, and every
/// Sigma and TOML file parses.
fn validate_pack_dir(out: &std::path::Path) -> usize {
    let mut checked = 0;
    for pack in ["elastic", "splunk", "sentinel", "sigma", "docs"] {
        let dir = out.join(pack);
        if !dir.is_dir() {
            continue;
        }
        let m = manifest(out, pack);
        for f in m["files"].as_array().unwrap() {
            let rel = f["path"].as_str().unwrap();
            let bytes = std::fs::read(dir.join(rel)).unwrap();
            assert_eq!(
                f["sha256"].as_str().unwrap(),
                ruleport_pack::names::sha256_hex(&bytes),
                "{pack}/{rel}"
            );
            let text = String::from_utf8(bytes).unwrap();
            match (pack, rel.rsplit('.').next().unwrap_or("")) {
                ("elastic", "ndjson") => {
                    for line in text.lines() {
                        let v: Value = serde_json::from_str(line).unwrap();
                        let errs = errors(&v);
                        assert!(errs.is_empty(), "{}: {errs:#?}", v["name"]);
                        checked += 1;
                    }
                }
                ("elastic", "toml") => {
                    text.parse::<toml::Table>()
                        .unwrap_or_else(|e| panic!("{rel}: {e}"));
                }
                ("splunk", _) => {
                    ruleport_pack::conf::parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
                }
                ("sentinel", "yaml") => check_sentinel_yaml(&text),
                ("sentinel", "json") => check_arm(&serde_json::from_str(&text).unwrap()),
                ("sigma", _) => {
                    use serde::Deserialize;
                    for doc in serde_yaml::Deserializer::from_str(&text) {
                        serde_yaml::Value::deserialize(doc)
                            .unwrap_or_else(|e| panic!("{rel}: {e}"));
                    }
                }
                _ => {}
            }
        }
    }
    checked
}

#[test]
#[ignore = "needs the shared Kibana schemas; run by CI with --ignored"]
fn validate_pack_folder() {
    match std::env::var_os("RULEPORT_PACK_DIR") {
        Some(d) => {
            let n = validate_pack_dir(std::path::Path::new(&d));
            eprintln!(
                "{n} Kibana rule(s) validated in {}",
                std::path::Path::new(&d).display()
            );
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            build_packs(&kinds::all(), dir.path(), &PackOptions::default()).unwrap();
            assert_eq!(validate_pack_dir(dir.path()), 6);
        }
    }
}
