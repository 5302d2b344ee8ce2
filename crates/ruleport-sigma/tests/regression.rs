//! SigmaHQ regression data over `../shared`: every case's events match its rule in the reference
//! evaluator, from the JSON renderings and from the EVTX files read directly.

use ruleport_model::eval::RuleEvaluator;
use ruleport_model::Rule;
use ruleport_sigma::import_file;
use ruleport_sigma::regression::load_regression_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    let shared = std::env::var("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("corpus/sigma");
    assert!(
        dir.is_dir(),
        "the Sigma corpus is missing at {}",
        dir.display()
    );
    dir
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn regression_events_match_their_rules() {
    let root = corpus_dir();
    let (cases, diags) = load_regression_dir(&root.join("regression_data"));
    for d in diags.iter().filter(|d| d.is_error()) {
        eprintln!("{d}");
    }
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "regression data must load"
    );
    assert!(!cases.is_empty(), "no regression cases found");

    // Rules by id, from each case's rule file.
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    for c in &cases {
        let path = c
            .rule_path
            .clone()
            .unwrap_or_else(|| panic!("no rule file for {}", c.info_path.display()));
        let out = import_file(&path);
        assert!(
            !out.has_errors(),
            "{}: {:?}",
            path.display(),
            out.diagnostics
        );
        for r in out.rules {
            rules.insert(r.meta.id.clone(), r);
        }
    }

    let (mut json_ok, mut evtx_ok, mut json_total, mut evtx_total) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for c in &cases {
        let rule = rules
            .get(&c.rule_id)
            .unwrap_or_else(|| panic!("rule {} not loaded", c.rule_id));
        let ev = RuleEvaluator::new(rule).unwrap_or_else(|e| panic!("{}: {e}", c.rule_id));
        let need = c.min_matches();
        if c.json_path.is_some() {
            json_total += 1;
            let n = c
                .events_json
                .iter()
                .filter(|e| ev.event_matches(e, None))
                .count();
            if n >= need {
                json_ok += 1;
            } else {
                misses.push(format!(
                    "JSON {} ({}): {n}/{need}",
                    c.rule_id,
                    c.info_path.display()
                ));
            }
        }
        if c.evtx_path.is_some() {
            evtx_total += 1;
            let n = c
                .events_evtx
                .iter()
                .filter(|e| ev.event_matches(e, None))
                .count();
            if n >= need {
                evtx_ok += 1;
            } else {
                misses.push(format!(
                    "EVTX {} ({}): {n}/{need} of {} events",
                    c.rule_id,
                    c.info_path.display(),
                    c.events_evtx.len()
                ));
            }
        }
    }
    // False-positive cross-matrix without a log-source gate: events of other rules' cases.
    let mut foreign = 0usize;
    let mut pairs = 0usize;
    for c in &cases {
        let Some(rule) = rules.get(&c.rule_id) else {
            continue;
        };
        let Ok(ev) = RuleEvaluator::new(rule) else {
            continue;
        };
        for other in cases.iter().filter(|o| o.rule_id != c.rule_id) {
            for e in &other.events_evtx {
                pairs += 1;
                if ev.event_matches(e, None) {
                    foreign += 1;
                }
            }
        }
    }
    // The JSON files are renderings of the EVTX files: both readers must agree.
    let same = cases
        .iter()
        .filter(|c| c.events_json == c.events_evtx)
        .count();
    for c in cases
        .iter()
        .filter(|c| c.events_json != c.events_evtx)
        .take(3)
    {
        eprintln!(
            "JSON/EVTX differ: {}\n json: {:?}\n evtx: {:?}",
            c.info_path.display(),
            c.events_json.first(),
            c.events_evtx.first()
        );
    }
    if std::env::var("SIGMA_DIFF").is_ok() {
        let mut keys: BTreeMap<String, usize> = BTreeMap::new();
        for c in &cases {
            for (a, b) in c.events_json.iter().zip(&c.events_evtx) {
                if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
                    for (k, v) in a {
                        if b.get(k) != Some(v) {
                            *keys
                                .entry(format!("{k}: {v} vs {:?}", b.get(k)))
                                .or_default() += 1;
                        }
                    }
                    for k in b.keys().filter(|k| !a.contains_key(*k)) {
                        *keys.entry(format!("only evtx: {k}")).or_default() += 1;
                    }
                }
            }
        }
        for (k, n) in keys.iter().take(60) {
            eprintln!("{n:4} {k}");
        }
    }
    for m in &misses {
        eprintln!("NOT DETECTED: {m}");
    }
    println!(
        "sigma regression: cases {} (JSON and EVTX events identical in {same}) detected JSON {json_ok}/{json_total} EVTX {evtx_ok}/{evtx_total}; cross-matrix (no log-source gate): {foreign} matches in {pairs} foreign (rule, event) pairs",
        cases.len()
    );
    assert_eq!(
        json_ok, json_total,
        "every JSON regression case must be detected"
    );
    assert_eq!(
        evtx_ok, evtx_total,
        "every EVTX regression case must be detected"
    );
}
