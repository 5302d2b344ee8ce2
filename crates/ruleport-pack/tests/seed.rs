//! The seed rule's packs: snapshots, determinism, and what each file must hold.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ruleport_model::TargetId;
use ruleport_pack::{build_packs, conf, PackOptions};
use serde_json::{json, Value};

fn build_seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    build_packs(&[seed_input()], dir.path(), &PackOptions::default()).unwrap();
    dir
}

#[test]
fn seed_pack_files_snapshot() {
    let dir = build_seed();
    let files = read_tree(dir.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    insta::assert_snapshot!("file_list", names.join("\n"));
    for (name, bytes) in &files {
        let snap = name.replace(['/', '.'], "_");
        insta::assert_snapshot!(snap, String::from_utf8_lossy(bytes));
    }
}

#[test]
fn builds_are_byte_identical() {
    let a = build_seed();
    let b = build_seed();
    assert_eq!(read_tree(a.path()), read_tree(b.path()));
    // Input order does not matter either.
    let mut other = seed_input();
    other.rule.meta.id = "00000000-0000-4000-8000-000000000000".into();
    other.rule.meta.title = "Another rule".into();
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    build_packs(
        &[seed_input(), other.clone()],
        c.path(),
        &PackOptions::default(),
    )
    .unwrap();
    build_packs(&[other, seed_input()], d.path(), &PackOptions::default()).unwrap();
    assert_eq!(read_tree(c.path()), read_tree(d.path()));
}

#[test]
fn kibana_ndjson_carries_the_rule() {
    let dir = build_seed();
    let nd = read(dir.path(), "elastic/rules.ndjson");
    assert_eq!(nd.lines().count(), 1);
    assert!(nd.ends_with('\n'));
    let v: Value = serde_json::from_str(nd.trim_end()).unwrap();
    // UUID v5 of "elastic:<rule_id>" in ruleport's namespace (computed with Python's uuid5).
    assert_eq!(v["rule_id"], "fd71ea63-d9d4-5128-b2d9-76054164c8b6");
    assert_eq!(v["version"], 103);
    assert_eq!(v["name"], "Azure Application Credential Modification");
    assert_eq!(v["type"], "query");
    assert_eq!(v["language"], "kuery");
    assert_eq!(v["query"], SEED_KUERY);
    assert_eq!(v["index"], json!(["filebeat-*", "logs-azure*"]));
    assert_eq!(
        (v["interval"].as_str(), v["from"].as_str()),
        (Some("5m"), Some("now-25m"))
    );
    assert_eq!(v["max_signals"], 100);
    assert_eq!(
        (v["severity"].as_str(), v["risk_score"].as_u64()),
        (Some("medium"), Some(47))
    );
    assert_eq!(v["license"], "Elastic License v2");
    assert_eq!(v["enabled"], false);
    assert_eq!(
        v["threat"],
        json!([{
            "framework": "MITRE ATT&CK",
            "tactic": {"id": "TA0005", "name": "Defense Evasion", "reference": "https://attack.mitre.org/tactics/TA0005/"},
            "technique": [{
                "id": "T1550", "name": "Use Alternate Authentication Material",
                "reference": "https://attack.mitre.org/techniques/T1550/",
                "subtechnique": [{"id": "T1550.001", "name": "Application Access Token",
                                  "reference": "https://attack.mitre.org/techniques/T1550/001/"}]
            }]
        }])
    );
    assert_eq!(
        read(dir.path(), &format!("elastic/rules/{SEED_ID}.toml")),
        seed_toml_doc()
    );
}

#[test]
fn splunk_app_parses_and_schedules() {
    let dir = build_seed();
    let app = dir.path().join("splunk/ruleport_detections");
    for f in [
        "default/app.conf",
        "default/savedsearches.conf",
        "metadata/default.meta",
    ] {
        conf::parse(&read(&app, f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let st = conf::parse(&read(&app, "default/savedsearches.conf")).unwrap();
    assert_eq!(st.len(), 1);
    let s = &st[0];
    assert_eq!(
        s.name,
        "ruleport - Azure Application Credential Modification - Rule"
    );
    assert_eq!(s.get("search"), Some(SEED_SPL));
    assert_eq!(s.get("cron_schedule"), Some("*/5 * * * *"));
    assert_eq!(s.get("dispatch.earliest_time"), Some("-25m"));
    assert_eq!(s.get("dispatch.latest_time"), Some("now"));
    assert_eq!(s.get("action.correlationsearch.enabled"), Some("1"));
    assert_eq!(s.get("action.notable.param.severity"), Some("medium"));
    assert_eq!(s.get("action.risk.param._risk_score"), Some("47"));
    let ann: Value =
        serde_json::from_str(s.get("action.correlationsearch.annotations").unwrap()).unwrap();
    assert_eq!(ann, json!({"mitre_attack": ["T1550.001"]}));
    let app_conf = conf::parse(&read(&app, "default/app.conf")).unwrap();
    let package = app_conf.iter().find(|s| s.name == "package").unwrap();
    assert_eq!(package.get("id"), Some("ruleport_detections"));
}

#[test]
fn sentinel_yaml_and_arm_template() {
    let dir = build_seed();
    let y: serde_yaml::Value =
        serde_yaml::from_str(&read(dir.path(), &format!("sentinel/{SEED_ID}.yaml"))).unwrap();
    let s = |k: &str| y.get(k).and_then(|v| v.as_str()).map(str::to_string);
    assert_eq!(
        s("id").as_deref(),
        Some("d13dd4ee-1fd4-5857-8a13-b9b3bdc4c57f")
    );
    assert_eq!(s("severity").as_deref(), Some("Medium"));
    assert_eq!(s("queryFrequency").as_deref(), Some("5m"));
    assert_eq!(s("queryPeriod").as_deref(), Some("25m"));
    assert_eq!(s("triggerOperator").as_deref(), Some("gt"));
    assert_eq!(y.get("triggerThreshold").and_then(|v| v.as_u64()), Some(0));
    assert_eq!(s("query").as_deref(), Some(SEED_KUSTO));
    assert_eq!(s("version").as_deref(), Some("103.0.0"));
    assert_eq!(s("kind").as_deref(), Some("Scheduled"));
    let tactics: Vec<String> = serde_yaml::from_value(y.get("tactics").unwrap().clone()).unwrap();
    assert_eq!(tactics, vec!["DefenseEvasion"]);
    let techs: Vec<String> =
        serde_yaml::from_value(y.get("relevantTechniques").unwrap().clone()).unwrap();
    assert_eq!(techs, vec!["T1550.001"]);
    let conns: Value = serde_json::to_value(y.get("requiredDataConnectors").unwrap()).unwrap();
    assert_eq!(
        conns,
        json!([{"connectorId": "AzureActiveDirectory", "dataTypes": ["AuditLogs"]}])
    );

    check_sentinel_yaml(&read(dir.path(), &format!("sentinel/{SEED_ID}.yaml")));
    let arm: Value = serde_json::from_str(&read(dir.path(), "sentinel/azuredeploy.json")).unwrap();
    check_arm(&arm);
    let r = &arm["resources"][0];
    assert_eq!(r["type"], "Microsoft.SecurityInsights/alertRules");
    assert_eq!(r["kind"], "Scheduled");
    assert_eq!(r["name"], "d13dd4ee-1fd4-5857-8a13-b9b3bdc4c57f");
    assert_eq!(
        r["scope"],
        "[concat('Microsoft.OperationalInsights/workspaces/', parameters('workspace'))]"
    );
    let p = &r["properties"];
    assert_eq!(
        (p["queryFrequency"].as_str(), p["queryPeriod"].as_str()),
        (Some("PT5M"), Some("PT25M"))
    );
    assert_eq!(p["triggerOperator"], "GreaterThan");
    assert_eq!(p["tactics"], json!(["DefenseEvasion"]));
    assert_eq!(
        (p["techniques"].clone(), p["subTechniques"].clone()),
        (json!(["T1550"]), json!(["T1550.001"]))
    );
    for k in [
        "displayName",
        "enabled",
        "suppressionDuration",
        "suppressionEnabled",
    ] {
        assert!(!p[k].is_null(), "required property {k}");
    }
}

#[test]
fn docs_page_has_the_prebuilt_layout() {
    let dir = build_seed();
    let page = read(dir.path(), &format!("docs/{SEED_ID}.md"));
    let h = headings(&page);
    let top: Vec<&str> = h
        .iter()
        .filter(|(l, _)| *l <= 2)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        top,
        vec![
            "Azure Application Credential Modification",
            "Investigation guide",
            "Setup",
            "Rule query",
            "Framework: MITRE ATT&CK"
        ]
    );
    // The guide's own headings sit below the page's sections.
    assert!(h.contains(&(4, "Triage and analysis".to_string())));
    let blocks = code_blocks(&page);
    let texts: Vec<(&str, &str)> = blocks
        .iter()
        .map(|(i, t)| (i.as_str(), t.trim_end()))
        .collect();
    assert!(texts.contains(&("kql", SEED_KUERY)));
    assert!(texts.contains(&("kusto", SEED_KUSTO)));
    assert!(texts.contains(&("eql", SEED_EQL)));
    for label in [
        "**Rule type**: query",
        "**Risk score**: 47",
        "**Runs every**: 5m",
        "**Maximum alerts per execution**: 100",
    ] {
        assert!(page.contains(label), "{label}");
    }
    let index = read(dir.path(), "docs/index.md");
    assert!(index.contains("| kuery | eql | splunk | sentinel | sigma | elastic |"));
    assert!(
        index.contains("| exact | exact | approximate | exact | exact | exact |"),
        "{index}"
    );
}

#[test]
fn manifests_hash_every_file() {
    let dir = build_seed();
    for pack in ["elastic", "splunk", "sentinel", "sigma", "docs"] {
        let m = manifest(dir.path(), pack);
        let files = m["files"].as_array().unwrap();
        assert!(!files.is_empty(), "{pack}");
        for f in files {
            let rel = f["path"].as_str().unwrap();
            let bytes = std::fs::read(dir.path().join(pack).join(rel)).unwrap();
            assert_eq!(
                f["sha256"].as_str().unwrap(),
                ruleport_pack::names::sha256_hex(&bytes),
                "{pack}/{rel}"
            );
        }
        for r in m["rules"].as_array().unwrap() {
            assert_eq!(r["source"]["id"], SEED_ID);
        }
    }
    let splunk = manifest(dir.path(), "splunk");
    assert_eq!(splunk["rules"][0]["status"], "approximate");
    assert_eq!(splunk["rules"][0]["reasons"][0]["code"], "case-folded");
    let docs = manifest(dir.path(), "docs");
    let targets: Vec<&str> = docs["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, TargetId::ALL.map(|t| t.name()).to_vec());
}
