//! Corpus round trip over Elastic's prebuilt rules: every kuery query parses, lowers, emits and
//! lowers again to the same model.

use ruleport_kuery::{emit_expr_with, parse, parse_to_expr};
use ruleport_model::FieldKind;
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

/// (file, what, query) for every kuery query of the corpus.
fn corpus_queries() -> Vec<(PathBuf, &'static str, String)> {
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
    assert!(
        files.len() > 2000,
        "expected the full corpus, found {} files",
        files.len()
    );
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let Some(rule) = doc.get("rule").and_then(|r| r.as_table()) else {
            continue;
        };
        let lang = rule.get("language").and_then(|v| v.as_str());
        if lang == Some("kuery") {
            if let Some(q) = rule.get("query").and_then(|v| v.as_str()) {
                out.push((f.clone(), "query", q.to_string()));
            }
        }
        if let Some(q) = rule.get("threat_query").and_then(|v| v.as_str()) {
            out.push((f.clone(), "threat_query", q.to_string()));
        }
    }
    out
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn every_corpus_kuery_query_parses_and_round_trips() {
    let queries = corpus_queries();
    let (mut parsed, mut round_tripped) = (0usize, 0usize);
    let mut failures = Vec::new();
    for (file, what, q) in &queries {
        if let Err(d) = parse(q) {
            failures.push(format!("{} ({what}): parse: {d}", file.display()));
            continue;
        }
        parsed += 1;
        let model = match parse_to_expr(q) {
            Ok(m) => m,
            Err(d) => {
                failures.push(format!("{} ({what}): lower: {d}", file.display()));
                continue;
            }
        };
        // A kuery query's case-insensitive matches are its own `.caseless` terms.
        let text = match emit_expr_with(&model, &|_| FieldKind::Keyword, true) {
            Ok((t, _)) => t,
            Err(u) => {
                failures.push(format!("{} ({what}): emit: {u}", file.display()));
                continue;
            }
        };
        match parse_to_expr(&text) {
            Ok(again) if again == model => round_tripped += 1,
            Ok(_) => failures.push(format!(
                "{} ({what}): model changed after emit:\n  {text}",
                file.display()
            )),
            Err(d) => failures.push(format!(
                "{} ({what}): emitted text does not parse: {d}\n  {text}",
                file.display()
            )),
        }
    }
    let threat = queries.iter().filter(|q| q.1 == "threat_query").count();
    println!(
        "kuery corpus: {} queries ({} rule queries, {threat} threat queries), {parsed} parsed, {round_tripped} round-tripped",
        queries.len(),
        queries.len() - threat
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(parsed, queries.len());
    assert_eq!(round_tripped, queries.len());
    // The corpus holds 792 kuery rule queries and 9 threat queries; a drop is a regression.
    assert!(
        queries.len() >= 801,
        "kuery query count dropped to {}",
        queries.len()
    );
}
