//! Corpus check over Elastic's prebuilt rules: every file loads, per-type counts, kuery queries
//! round-trip through the model, and every rule survives export → import.

use ruleport_elastic::{import_file, import_str, ElasticFormat};
use ruleport_model::{Detection, FieldKind, MappedRule, Provenance, Rule, RuleFormat};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    std::env::var_os("RULEPORT_ELASTIC_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("RULEPORT_SHARED").map(|s| PathBuf::from(s).join("corpus/elastic"))
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/elastic")
        })
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "corpus directory {} is missing",
        root.display()
    );
    let mut files = Vec::new();
    for sub in ["rules", "rules_building_block"] {
        toml_files(&root.join(sub), &mut files);
    }
    files
}

fn without_provenance(r: &Rule) -> Rule {
    let mut r = r.clone();
    r.provenance = Provenance::default();
    r
}

/// The single-event kuery filter of a rule, if it has one.
fn kuery_filter(r: &Rule) -> Option<&ruleport_model::Expr> {
    if r.language != "kuery" {
        return None;
    }
    match &r.detection {
        Detection::Query(f) | Detection::NewTerms(ruleport_model::NewTerms { filter: f, .. }) => {
            Some(&f.expr)
        }
        Detection::Aggregation(a) => a.sources.first().map(|s| &s.filter.expr),
        _ => None,
    }
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn every_corpus_rule_loads_and_round_trips() {
    let files = corpus_files();
    let mut failures = Vec::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_detection: BTreeMap<String, usize> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let (mut loaded, mut kuery, mut kuery_rt, mut exported, mut export_rt) = (0, 0, 0, 0, 0);
    // Rules whose query is emitted from the model (original text dropped): (tried, same detection).
    let (mut kuery_emitted, mut kuery_emitted_ok, mut eql_emitted, mut eql_emitted_ok) =
        (0, 0, 0, 0);
    let mut eql_changed = Vec::new();
    for f in &files {
        let rule = match import_file(f) {
            Ok(r) => r,
            Err(ds) => {
                failures.push(format!(
                    "load {}: {}",
                    f.display(),
                    ds.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
                continue;
            }
        };
        loaded += 1;
        let ty = match &rule.detection {
            Detection::Unsupported(u) => {
                *unsupported.entry(u.kind.clone()).or_default() += 1;
                u.kind.clone()
            }
            Detection::Aggregation(_) => "threshold".into(),
            Detection::NewTerms(_) => "new_terms".into(),
            Detection::Query(_) if rule.language == "kuery" => "query".into(),
            _ => "eql".into(),
        };
        *by_type
            .entry(format!("{ty}/{}", rule.language))
            .or_default() += 1;
        *by_detection
            .entry(rule.detection.kind_name().into())
            .or_default() += 1;

        if let Some(expr) = kuery_filter(&rule) {
            kuery += 1;
            // A kuery rule's case-insensitive matches are its own `.caseless` terms.
            match ruleport_kuery::emit_expr_with(expr, &|_| FieldKind::Keyword, true) {
                Ok((text, _)) => match ruleport_kuery::parse_to_expr(&text) {
                    Ok(again) if &again == expr => kuery_rt += 1,
                    Ok(_) => failures.push(format!("kuery {}: model changed: {text}", f.display())),
                    Err(d) => failures.push(format!("kuery {}: {d}: {text}", f.display())),
                },
                Err(u) => failures.push(format!("kuery {}: {u}", f.display())),
            }
        }

        // import → export → import is the same rule.
        let port = match ElasticFormat.export(&MappedRule::identity(rule.clone())) {
            Ok(p) => p,
            Err(u) => {
                failures.push(format!("export {}: {u}", f.display()));
                continue;
            }
        };
        exported += 1;
        match import_str(&port.text, None) {
            Ok(again) if without_provenance(&again) == without_provenance(&rule) => export_rt += 1,
            Ok(again) => failures.push(format!(
                "export {}: rule changed\n{:#?}\nvs\n{:#?}",
                f.display(),
                again.meta,
                rule.meta
            )),
            Err(ds) => failures.push(format!(
                "export {}: re-import failed: {}\n{}",
                f.display(),
                ds[0],
                port.text
            )),
        }

        // Without the original text the query is emitted from the model: same detection.
        if !matches!(rule.detection, Detection::Unsupported(_)) {
            let is_kuery = rule.language == "kuery";
            if is_kuery {
                kuery_emitted += 1
            } else {
                eql_emitted += 1
            }
            let mut fresh = rule.clone();
            fresh.original_query = None;
            let outcome = match ElasticFormat.export(&MappedRule::identity(fresh)) {
                Ok(p) => match import_str(&p.text, None) {
                    Ok(again) if again.detection == rule.detection => Ok(()),
                    Ok(_) => Err(format!("emitted {}: detection changed", f.display())),
                    Err(ds) => Err(format!(
                        "emitted {}: re-import failed: {}",
                        f.display(),
                        ds[0]
                    )),
                },
                Err(u) => Err(format!("emitted {}: {u}", f.display())),
            };
            match (outcome, is_kuery) {
                (Ok(()), true) => kuery_emitted_ok += 1,
                (Ok(()), false) => eql_emitted_ok += 1,
                (Err(e), true) => failures.push(e),
                (Err(e), false) => eql_changed.push(e),
            }
        }
    }
    println!("elastic corpus: {} files, {loaded} loaded", files.len());
    println!("  by type/language: {by_type:?}");
    println!("  by detection: {by_detection:?}");
    println!("  unsupported (kept with reason): {unsupported:?}");
    println!("  kuery filters: {kuery}, round-tripped through the model: {kuery_rt}");
    println!("  exported: {exported}, import→export→import equal: {export_rt}");
    println!("  query emitted from the model and re-imported to the same detection: kuery {kuery_emitted_ok}/{kuery_emitted}, eql {eql_emitted_ok}/{eql_emitted}");
    for e in eql_changed.iter().take(10) {
        println!("    eql: {e}");
    }
    let shown: Vec<_> = failures.iter().take(30).collect();
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Counts of the corpus snapshot; a drop is a regression.
    assert_eq!(files.len(), 2192);
    assert_eq!(loaded, 2192);
    assert_eq!(export_rt, 2192);
    assert_eq!(kuery_rt, kuery);
    assert_eq!(kuery_emitted_ok, kuery_emitted);
    assert_eq!(
        eql_emitted_ok,
        eql_emitted,
        "EQL emitted from the model changed {} detections",
        eql_changed.len()
    );
    assert!(eql_emitted >= 1079, "EQL rules dropped to {eql_emitted}");
    assert!(kuery >= 783, "kuery filters dropped to {kuery}");
}
