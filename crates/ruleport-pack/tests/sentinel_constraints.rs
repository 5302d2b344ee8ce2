//! Sentinel's documented constraints: a breaking rule is left out of the pack and listed as
//! excluded with the reason; rules on the limits are kept.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ruleport_model::{TargetId, TimeSpan};
use ruleport_pack::{build_packs, PackInput, PackOptions};
use serde_json::{json, Value};

fn with(id: &str, f: impl FnOnce(&mut PackInput)) -> PackInput {
    let mut i = seed_input();
    i.rule.meta.id = id.into();
    i.rule.meta.title = format!("rule {id}");
    f(&mut i);
    i
}

fn entity(n_fields: usize) -> Value {
    let fields: Vec<Value> = (0..n_fields)
        .map(|i| json!({"identifier": "Name", "columnName": format!("c{i}")}))
        .collect();
    json!({"entityType": "Account", "fieldMappings": fields})
}

fn cases() -> Vec<(PackInput, Option<&'static str>)> {
    let set_query = |i: &mut PackInput, q: String| {
        i.ports
            .insert(TargetId::Sentinel, port(TargetId::Sentinel, &q));
    };
    vec![
        // Bounds: 5m..14d, period >= frequency.
        (
            with("freq-1m", |i| i.rule.meta.interval = TimeSpan::parse("1m")),
            Some("sentinel-schedule-bounds"),
        ),
        (
            with("freq-5m-period-5m", |i| {
                i.rule.meta.from = Some("now-5m".into())
            }),
            None,
        ),
        (
            with("period-14d", |i| {
                i.rule.meta.interval = TimeSpan::parse("1d");
                i.rule.meta.from = Some("now-14d".into());
            }),
            None,
        ),
        (
            with("period-15d", |i| {
                i.rule.meta.interval = TimeSpan::parse("1d");
                i.rule.meta.from = Some("now-15d".into());
            }),
            Some("sentinel-schedule-bounds"),
        ),
        (
            with("freq-15d", |i| {
                i.rule.meta.interval = TimeSpan::parse("15d");
                i.rule.meta.from = Some("now-15d".into());
            }),
            Some("sentinel-schedule-bounds"),
        ),
        (
            with("period-below-freq", |i| {
                i.rule.meta.interval = TimeSpan::parse("1h");
                i.rule.meta.from = Some("now-10m".into());
            }),
            Some("sentinel-period-below-frequency"),
        ),
        // Lengths.
        (
            with("name-256", |i| i.rule.meta.title = "n".repeat(256)),
            None,
        ),
        (
            with("name-257", |i| i.rule.meta.title = "n".repeat(257)),
            Some("sentinel-name-length"),
        ),
        (
            with("desc-5000", |i| i.rule.meta.description = "d".repeat(5000)),
            None,
        ),
        (
            with("desc-5001", |i| i.rule.meta.description = "é".repeat(5001)),
            Some("sentinel-description-length"),
        ),
        (
            with("query-10000", |i| set_query(i, "q".repeat(10_000))),
            None,
        ),
        (
            with("query-10001", |i| set_query(i, "q".repeat(10_001))),
            Some("sentinel-query-length"),
        ),
        // Entity mappings: at most 5 entities × 3 fields.
        (
            with("entities-5x3", |i| {
                i.rule
                    .meta
                    .extra
                    .insert("entityMappings".into(), Value::Array(vec![entity(3); 5]));
            }),
            None,
        ),
        (
            with("entities-6", |i| {
                i.rule
                    .meta
                    .extra
                    .insert("entityMappings".into(), Value::Array(vec![entity(1); 6]));
            }),
            Some("sentinel-entity-mappings"),
        ),
        (
            with("entity-4-fields", |i| {
                i.rule
                    .meta
                    .extra
                    .insert("entityMappings".into(), json!([entity(4)]));
            }),
            Some("sentinel-entity-mappings"),
        ),
        (
            with("entity-0-fields", |i| {
                i.rule
                    .meta
                    .extra
                    .insert("entityMappings".into(), json!([entity(0)]));
            }),
            Some("sentinel-entity-mappings"),
        ),
        // ATT&CK: T1550 is a Defense Evasion and Lateral Movement technique, not Execution.
        (
            with("technique-without-tactic", |i| {
                i.rule.meta.threat[0].tactic.id = "TA0002".into();
                i.rule.meta.threat[0].tactic.name = Some("Execution".into());
            }),
            Some("sentinel-technique-without-tactic"),
        ),
    ]
}

#[test]
fn constraints_exclude_and_report() {
    let cases = cases();
    let inputs: Vec<PackInput> = cases.iter().map(|(i, _)| i.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    build_packs(&inputs, dir.path(), &PackOptions::default()).unwrap();
    let m = manifest(dir.path(), "sentinel");
    let arm: Value = serde_json::from_str(&read(dir.path(), "sentinel/azuredeploy.json")).unwrap();
    check_arm(&arm);
    let arm_names: Vec<&str> = arm["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for (input, expect) in &cases {
        let id = &input.rule.meta.id;
        let e = m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source"]["id"] == id.as_str())
            .unwrap();
        let yaml = dir.path().join("sentinel").join(format!("{id}.yaml"));
        let target_id = e["target_id"].as_str().unwrap();
        match expect {
            Some(code) => {
                assert_eq!(e["status"], "excluded", "{id}: {e}");
                let codes: Vec<&str> = e["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["code"].as_str().unwrap())
                    .collect();
                assert!(codes.contains(code), "{id}: {codes:?}");
                assert!(!yaml.exists(), "{id}");
                assert!(!arm_names.contains(&target_id), "{id}");
            }
            None => {
                assert_eq!(e["status"], "exact", "{id}: {e}");
                check_sentinel_yaml(&std::fs::read_to_string(&yaml).unwrap());
                assert!(arm_names.contains(&target_id), "{id}");
            }
        }
    }
    // The same rules stay in the other packs.
    let splunk = manifest(dir.path(), "splunk");
    assert_eq!(splunk["rules"].as_array().unwrap().len(), cases.len());
}

#[test]
fn entity_mappings_are_written() {
    let input = with("entities", |i| {
        i.rule.meta.extra.insert(
            "entityMappings".into(),
            json!([{"entityType": "Account", "fieldMappings": [{"identifier": "Name", "columnName": "[Name]"}]}]),
        );
    });
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[input], dir.path(), &PackOptions::default()).unwrap();
    let y: serde_yaml::Value =
        serde_yaml::from_str(&read(dir.path(), "sentinel/entities.yaml")).unwrap();
    let em: Value = serde_json::to_value(y.get("entityMappings").unwrap()).unwrap();
    assert_eq!(
        em,
        json!([{"entityType": "Account", "fieldMappings": [{"identifier": "Name", "columnName": "[Name]"}]}])
    );
    let arm: Value = serde_json::from_str(&read(dir.path(), "sentinel/azuredeploy.json")).unwrap();
    // ARM would evaluate `[Name]`; it is written with the `[[` escape.
    assert_eq!(
        arm["resources"][0]["properties"]["entityMappings"][0]["fieldMappings"][0]["columnName"],
        "[[Name]"
    );
}

#[test]
fn critical_severity_is_an_approximation() {
    let input = with("critical", |i| {
        i.rule.meta.severity = Some(ruleport_model::Severity::Critical)
    });
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[input], dir.path(), &PackOptions::default()).unwrap();
    let m = manifest(dir.path(), "sentinel");
    assert_eq!(m["rules"][0]["status"], "approximate");
    assert_eq!(m["rules"][0]["reasons"][0]["code"], "severity-mapped");
    let y: serde_yaml::Value =
        serde_yaml::from_str(&read(dir.path(), "sentinel/critical.yaml")).unwrap();
    assert_eq!(y.get("severity").and_then(|v| v.as_str()), Some("High"));
}
