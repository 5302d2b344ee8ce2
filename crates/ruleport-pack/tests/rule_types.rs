//! Kibana rule types chosen from the detection, and unsupported ports listed with their reasons.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ruleport_pack::{build_packs, PackOptions};
use serde_json::{json, Value};

fn build() -> (tempfile::TempDir, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    build_packs(&kinds::all(), dir.path(), &PackOptions::default()).unwrap();
    let nd = read(dir.path(), "elastic/rules.ndjson");
    let lines = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (dir, lines)
}

fn by_name<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in NDJSON"))
}

#[test]
fn kibana_types() {
    let (_dir, lines) = build();
    // ML has no query: 7 inputs, 6 lines.
    assert_eq!(lines.len(), 6);

    let seq = by_name(&lines, "Sequence rule");
    assert_eq!(
        (seq["type"].as_str(), seq["language"].as_str()),
        (Some("eql"), Some("eql"))
    );
    assert!(seq["query"]
        .as_str()
        .unwrap()
        .starts_with("sequence by host.id"));
    assert_eq!(seq["event_category_override"], "event.type");
    assert_eq!(seq["tiebreaker_field"], "event.sequence");
    assert_eq!(seq["timestamp_field"], "@timestamp");

    let th = by_name(&lines, "Threshold rule");
    assert_eq!(
        (th["type"].as_str(), th["language"].as_str()),
        (Some("threshold"), Some("kuery"))
    );
    // count > 10 is Kibana's count >= 11.
    assert_eq!(
        th["threshold"],
        json!({"field": ["user.name", "source.ip"], "value": 11, "cardinality": [{"field": "host.id", "value": 2}]})
    );

    let nt = by_name(&lines, "New terms rule");
    assert_eq!(nt["type"], "new_terms");
    assert_eq!(
        nt["new_terms_fields"],
        json!(["user.name", "source.geo.country_iso_code"])
    );
    assert_eq!(nt["history_window_start"], "now-7d");

    let es = by_name(&lines, "ES|QL rule");
    assert_eq!(
        (es["type"].as_str(), es["language"].as_str()),
        (Some("esql"), Some("esql"))
    );
    assert!(es.get("index").is_none(), "ES|QL rules take no index");

    let sg = by_name(&lines, "Sigma rule");
    assert!(
        sg.get("index").is_none(),
        "no index: Kibana's default data view"
    );
    assert_eq!(
        (sg["severity"].as_str(), sg["risk_score"].as_u64()),
        (Some("low"), Some(21))
    );
    assert_eq!(
        (sg["interval"].as_str(), sg["from"].as_str()),
        (Some("5m"), Some("now-6m"))
    );
    assert_eq!(sg["version"], 1);
    // Sigma tags became threat blocks: T1033 is a Discovery technique; `stealth` is TA0005.
    let tactics: Vec<&str> = sg["threat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tactic"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(tactics, vec!["TA0007", "TA0005"]);
    assert_eq!(
        sg["threat"][0]["technique"][0]["name"],
        "System Owner/User Discovery"
    );
}

#[test]
fn unsupported_rules_are_listed_with_reasons() {
    let (dir, _) = build();
    let find = |pack: &str, id: &str, target: &str| -> Value {
        manifest(dir.path(), pack)["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source"]["id"] == id && r["target"] == target)
            .unwrap_or_else(|| panic!("{pack}/{id}/{target}"))
            .clone()
    };
    let ml = kinds::machine_learning().rule.meta.id;
    let e = find("elastic", &ml, "kuery");
    assert_eq!(e["status"], "unsupported");
    assert_eq!(e["reasons"][0]["code"], "detection-machine-learning");
    assert_eq!(e["files"], json!([]));
    for (pack, target) in [
        ("splunk", "splunk"),
        ("sentinel", "sentinel"),
        ("sigma", "sigma"),
        ("elastic", "elastic"),
    ] {
        let e = find(pack, &ml, target);
        assert_eq!(e["status"], "unsupported", "{pack}");
        assert_eq!(
            e["reasons"][0]["message"], "machine learning jobs have no query",
            "{pack}"
        );
    }
    let seq = kinds::sequence().rule.meta.id;
    let e = find("splunk", &seq, "splunk");
    assert_eq!(
        (e["status"].as_str(), e["reasons"][0]["code"].as_str()),
        (Some("unsupported"), Some("sequence"))
    );
    let es = kinds::esql().rule.meta.id;
    let e = find("elastic", &es, "esql");
    assert_eq!(e["status"], "exact");
    assert_eq!(e["reasons"][0]["code"], "source-query-kept");
    // Approximations of the pack itself: Kibana has no informational severity.
    let sg = kinds::sigma_sourced().rule.meta.id;
    let e = find("elastic", &sg, "kuery");
    assert_eq!(e["status"], "approximate");
    assert_eq!(e["reasons"][0]["code"], "severity-mapped");
    // The docs coverage table has every rule × target.
    let index = read(dir.path(), "docs/index.md");
    let row = index.lines().find(|l| l.contains("ML rule")).unwrap();
    assert!(
        row.ends_with(
            "| unsupported | unsupported | unsupported | unsupported | unsupported | unsupported |"
        ),
        "{row}"
    );
}

#[test]
fn target_selection_builds_only_those_packs() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PackOptions {
        targets: vec![
            ruleport_model::TargetId::Splunk,
            ruleport_model::TargetId::Sentinel,
        ],
        ..Default::default()
    };
    build_packs(&kinds::all(), dir.path(), &opts).unwrap();
    let mut packs: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packs.sort();
    assert_eq!(packs, vec!["docs", "sentinel", "splunk"]);
    assert!(read(dir.path(), "docs/index.md").contains("| Rule | splunk | sentinel |"));
}

#[test]
fn an_exact_eql_port_wins_over_an_approximate_kuery_one() {
    let mut input = seed_input();
    input.ports.insert(
        ruleport_model::TargetId::Kuery,
        approx_port(
            ruleport_model::TargetId::Kuery,
            SEED_KUERY,
            "case-folded",
            "test",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[input.clone()], dir.path(), &PackOptions::default()).unwrap();
    let v: Value =
        serde_json::from_str(read(dir.path(), "elastic/rules.ndjson").trim_end()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["query"].as_str()),
        (Some("eql"), Some(SEED_EQL))
    );
    // Without an EQL port the approximate kuery is published, and said to be approximate.
    input.ports.remove(&ruleport_model::TargetId::Eql);
    build_packs(&[input], dir.path(), &PackOptions::default()).unwrap();
    let v: Value =
        serde_json::from_str(read(dir.path(), "elastic/rules.ndjson").trim_end()).unwrap();
    assert_eq!(v["type"], "query");
    let m = manifest(dir.path(), "elastic");
    assert_eq!(
        (
            m["rules"][0]["target"].as_str(),
            m["rules"][0]["status"].as_str()
        ),
        (Some("kuery"), Some("approximate"))
    );
}

#[test]
fn repeated_source_ids_get_distinct_target_ids() {
    let mut twin = seed_input();
    twin.rule.meta.title = "Twin".into();
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[seed_input(), twin], dir.path(), &PackOptions::default()).unwrap();
    let nd = read(dir.path(), "elastic/rules.ndjson");
    let ids: std::collections::BTreeSet<String> = nd
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["rule_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    let arm: Value = serde_json::from_str(&read(dir.path(), "sentinel/azuredeploy.json")).unwrap();
    check_arm(&arm);
    assert!(dir.path().join(format!("sigma/{SEED_ID}-2.yml")).exists());
}
