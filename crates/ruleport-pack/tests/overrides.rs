//! User templates replace the built-in ones file by file; broken output is refused.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ruleport_pack::{build_packs, PackError, PackOptions};
use serde_json::Value;
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn opts(dir: &Path) -> PackOptions {
    PackOptions {
        templates_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn overridden_templates_are_used() {
    let tpl = tempfile::tempdir().unwrap();
    write(
        tpl.path(),
        "docs/rule.md.hbs",
        "# Custom: {{title}}\n\nRisk {{risk_score}}.\n",
    );
    write(
        tpl.path(),
        "elastic/rule.json.hbs",
        "{\"rule_id\": \"{{rule_id}}\", \"name\": \"{{name}} (custom)\", \"type\": \"{{type}}\", \"query\": \"{{query}}\", \"tags\": {{{json tags}}}}",
    );
    write(
        tpl.path(),
        "sigma/rule.yml.hbs",
        "# Published by a custom template\n{{{document}}}",
    );
    let out = tempfile::tempdir().unwrap();
    build_packs(&[seed_input()], out.path(), &opts(tpl.path())).unwrap();

    assert_eq!(
        read(out.path(), &format!("docs/{SEED_ID}.md")),
        "# Custom: Azure Application Credential Modification\n\nRisk 47.\n"
    );
    let v: Value =
        serde_json::from_str(read(out.path(), "elastic/rules.ndjson").trim_end()).unwrap();
    assert_eq!(
        v["name"],
        "Azure Application Credential Modification (custom)"
    );
    assert_eq!(v["query"], SEED_KUERY);
    assert!(v.get("severity").is_none());
    assert!(read(out.path(), &format!("sigma/{SEED_ID}.yml"))
        .starts_with("# Published by a custom template\ntitle:"));
    // Templates that were not overridden stay built in.
    assert!(read(out.path(), "docs/index.md").starts_with("# Detection rules"));
    let m = manifest(out.path(), "docs");
    assert_eq!(
        m["templates_overridden"],
        serde_json::json!([
            "elastic/rule.json.hbs",
            "sigma/rule.yml.hbs",
            "docs/rule.md.hbs"
        ])
    );
}

#[test]
fn a_template_that_breaks_its_format_is_refused() {
    let tpl = tempfile::tempdir().unwrap();
    // Triple braces bypass JSON escaping: the seed query's quotes break the JSON.
    write(
        tpl.path(),
        "elastic/rule.json.hbs",
        "{\"query\": \"{{{query}}}\"}",
    );
    let out = tempfile::tempdir().unwrap();
    let err = build_packs(&[seed_input()], out.path(), &opts(tpl.path())).unwrap_err();
    assert!(
        matches!(err, PackError::InvalidOutput { ref format, .. } if format == "JSON"),
        "{err}"
    );

    let tpl = tempfile::tempdir().unwrap();
    write(
        tpl.path(),
        "sentinel/rule.yaml.hbs",
        "id: {{id}}\nquery: {{{query}}}\n",
    );
    let err = build_packs(&[seed_input()], out.path(), &opts(tpl.path())).unwrap_err();
    assert!(matches!(err, PackError::InvalidOutput { .. }), "{err}");

    let tpl = tempfile::tempdir().unwrap();
    write(
        tpl.path(),
        "splunk/savedsearches.conf.hbs",
        "{{#each rules}}[{{stanza}}]\nsearch = {{{search}}}\n{{/each}}",
    );
    let mut input = seed_input();
    input.ports.insert(
        ruleport_model::TargetId::Splunk,
        port(ruleport_model::TargetId::Splunk, "a\n[x]\nb"),
    );
    let err = build_packs(&[input], out.path(), &opts(tpl.path())).unwrap_err();
    assert!(
        matches!(err, PackError::InvalidOutput { ref format, .. } if format == ".conf"),
        "{err}"
    );
}

#[test]
fn template_errors_name_the_template() {
    let tpl = tempfile::tempdir().unwrap();
    write(tpl.path(), "docs/index.md.hbs", "{{#each rules}}unclosed");
    let out = tempfile::tempdir().unwrap();
    let err = build_packs(&[seed_input()], out.path(), &opts(tpl.path())).unwrap_err();
    assert!(
        matches!(err, PackError::Template { ref template, .. } if template == "docs/index.md.hbs"),
        "{err}"
    );
    let missing = tpl.path().join("nope");
    let err = build_packs(&[seed_input()], out.path(), &opts(&missing)).unwrap_err();
    assert!(matches!(err, PackError::Templates { .. }), "{err}");
}

#[test]
fn unknown_template_files_are_refused() {
    let tpl = tempfile::tempdir().unwrap();
    write(tpl.path(), "docs/rules.md.hbs", "typo");
    write(tpl.path(), "README.txt", "not a template");
    let out = tempfile::tempdir().unwrap();
    let err = build_packs(&[seed_input()], out.path(), &opts(tpl.path())).unwrap_err();
    assert!(err.to_string().contains("docs/rules.md.hbs"), "{err}");
}

#[test]
fn a_rebuild_removes_files_of_rules_no_longer_there() {
    let out = tempfile::tempdir().unwrap();
    let mut other = seed_input();
    other.rule.meta.id = "00000000-0000-4000-8000-000000000000".into();
    build_packs(&[seed_input(), other], out.path(), &PackOptions::default()).unwrap();
    assert!(out
        .path()
        .join("sigma/00000000-0000-4000-8000-000000000000.yml")
        .exists());
    std::fs::write(out.path().join("sigma/mine.txt"), "kept").unwrap();
    build_packs(&[seed_input()], out.path(), &PackOptions::default()).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    build_packs(&[seed_input()], fresh.path(), &PackOptions::default()).unwrap();
    let mut got = read_tree(out.path());
    got.retain(|(n, _)| n != "sigma/mine.txt");
    assert_eq!(got, read_tree(fresh.path()));
    // Files the packs never listed are left alone.
    assert_eq!(read(out.path(), "sigma/mine.txt"), "kept");
}
