//! SigmaHQ `regression_data` as a fixture source: each test's events (from the JSON rendering and,
//! separately, read straight from the EVTX file) must make its rule fire at least `match_count`
//! times, in the rule model and in every target.

use crate::fixtures::{Expect, FixtureCase, FixtureFile};
use crate::load::{load_paths, LoadedFixtures, LoadedRule};
use crate::TestPair;
use ruleport_model::{Diagnostic, Schema};
use std::path::{Path, PathBuf};

/// Load regression cases under `root` (a Sigma repository or its `regression_data`) and pair
/// each with its rule (found at SigmaHQ's layout path, or by id among `known` rules).
pub fn regression_pairs(root: &Path, known: &[LoadedRule]) -> (Vec<TestPair>, Vec<Diagnostic>) {
    let (cases, mut diags) = ruleport_sigma::regression::load_regression_dir(root);
    let mut pairs = Vec::new();
    for case in cases {
        let mut rules: Vec<LoadedRule> = known
            .iter()
            .filter(|r| r.rule.meta.id == case.rule_id)
            .cloned()
            .collect();
        if rules.is_empty() {
            if let Some(p) = &case.rule_path {
                let l = load_paths(std::slice::from_ref(p));
                diags.extend(l.diagnostics);
                rules = l
                    .rules
                    .into_iter()
                    .filter(|r| r.rule.meta.id == case.rule_id)
                    .collect();
            }
        }
        if rules.is_empty() {
            diags.push(
                Diagnostic::error(
                    "E-REGRESSION-RULE",
                    format!("rule {} ({}) not found", case.rule_id, case.rule_title),
                )
                .in_file(&case.info_path),
            );
            continue;
        }
        let name = case
            .test_name
            .clone()
            .unwrap_or_else(|| "positive detection test".into());
        let mk = |suffix: &str, events: &[serde_json::Value]| FixtureCase {
            name: format!("{name} ({suffix})"),
            expect: Expect::Match,
            event: None,
            events: Some(events.to_vec()),
            logsource: None,
            views: Default::default(),
            min_matches: Some(case.min_matches()),
            line: None,
        };
        let mut fx_cases = Vec::new();
        if !case.events_json.is_empty() {
            fx_cases.push(mk("json", &case.events_json));
        }
        if !case.events_evtx.is_empty() {
            fx_cases.push(mk("evtx", &case.events_evtx));
        }
        if fx_cases.is_empty() {
            diags.push(
                Diagnostic::error("E-REGRESSION-EVENTS", "regression test has no events")
                    .in_file(&case.info_path),
            );
            continue;
        }
        let file = FixtureFile {
            rule: None,
            schema: Some(Schema::Sigma),
            logsource: None,
            cases: fx_cases,
        };
        for rule in rules {
            pairs.push(TestPair {
                rule,
                fixtures: LoadedFixtures {
                    path: case.info_path.clone(),
                    file: file.clone(),
                },
            });
        }
    }
    (pairs, diags)
}

/// The false-positive cross-matrix: for each regression rule, how many events of *other* rules'
/// tests it matches (rule model, log-source gated).
pub fn cross_matrix(
    pairs: &[TestPair],
    mapping: &ruleport_mapping::Mapping,
) -> Vec<(String, PathBuf, usize)> {
    let all: Vec<(usize, &serde_json::Value)> = pairs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.fixtures
                .file
                .cases
                .iter()
                .filter(|c| c.name.ends_with("(json)"))
                .flat_map(move |c| c.events.iter().flatten().map(move |e| (i, e)))
        })
        .collect();
    let mut out = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let Ok(ev) = ruleport_model::eval::RuleEvaluator::new(&p.rule.rule) else {
            continue;
        };
        let schema = p.rule.rule.schema;
        let gate = |doc: &serde_json::Value, ls: &ruleport_model::LogSource| {
            mapping.event_in_logsource(doc, schema, ls)
        };
        let hits = all
            .iter()
            .filter(|(j, e)| {
                *j != i
                    && pairs[*j].rule.rule.meta.id != p.rule.rule.meta.id
                    && ev.event_matches(e, Some(&gate))
            })
            .count();
        out.push((p.rule.rule.meta.title.clone(), p.rule.path.clone(), hits));
    }
    out
}
