//! Every EQL query of the Elastic detection-rules corpus parses, and text → model → text → model
//! gives the same model.

use ruleport_eql::{emit_with_limit, lower_with_limit, parse};
use ruleport_model::FieldKind;
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    std::env::var_os("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

fn eql_queries(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for sub in ["rules", "rules_building_block"] {
        toml_files(&root.join(sub), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        let Some(rule) = doc.get("rule").and_then(|r| r.as_table()) else {
            continue;
        };
        if rule.get("language").and_then(|l| l.as_str()) != Some("eql") {
            continue;
        }
        if let Some(q) = rule.get("query").and_then(|q| q.as_str()) {
            out.push((f, q.to_string()));
        }
    }
    out
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn corpus_eql_parses_and_round_trips() {
    let root = shared_dir().join("corpus/elastic");
    assert!(root.is_dir(), "corpus missing: {}", root.display());
    let queries = eql_queries(&root);
    let (mut events, mut sequences, mut samples) = (0, 0, 0);
    let (mut parsed, mut lowered, mut round_tripped) = (0, 0, 0);
    let mut pipes = Vec::new();
    let mut failures = Vec::new();
    let unknown = |_: &str| FieldKind::Unknown;
    for (path, q) in &queries {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        if let Err(e) = parse(q) {
            failures.push(format!("PARSE {name}: {e}"));
            continue;
        }
        parsed += 1;
        let lowered_q = parse(q).and_then(|ast| lower_with_limit(&ast));
        let (det, limit) = match lowered_q {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("LOWER {name}: {e}"));
                continue;
            }
        };
        lowered += 1;
        if limit.is_some() {
            pipes.push(name.clone());
        }
        match det.kind_name() {
            "sequence" => sequences += 1,
            "sample" => samples += 1,
            _ => events += 1,
        }
        let text = match emit_with_limit(&det, limit, &unknown) {
            Ok((t, _)) => t,
            Err(u) => {
                failures.push(format!("EMIT {name}: {u}"));
                continue;
            }
        };
        match parse(&text).and_then(|ast| lower_with_limit(&ast)) {
            Ok(again) if again == (det.clone(), limit) => round_tripped += 1,
            Ok(_) => failures.push(format!(
                "ROUNDTRIP {name}: model differs after emitting\n{text}"
            )),
            Err(e) => failures.push(format!("REPARSE {name}: {e}\n{text}")),
        }
    }
    let total = queries.len();
    let deprecated = queries
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("_deprecated"))
        .count();
    println!(
        "EQL corpus: {total} queries ({} active, {deprecated} deprecated); parsed {parsed}/{total}; lowered {lowered} ({events} event, {sequences} sequence, {samples} sample); round-tripped {round_tripped}/{lowered}",
        total - deprecated
    );
    for p in &pipes {
        println!("PIPE (a `head`/`tail` result limit, kept beside the detection) {p}");
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(total > 1000, "too few EQL queries found ({total})");
    assert!(
        failures.is_empty(),
        "{} corpus queries fail",
        failures.len()
    );
    assert_eq!(parsed, total);
    assert_eq!(lowered, total);
    assert_eq!(round_tripped, total);
}
