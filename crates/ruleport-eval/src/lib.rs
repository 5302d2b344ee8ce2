//! Fixtures, runner and reports: every port is parsed back and checked against the rule model.

pub mod convert;
pub mod fixtures;
pub mod load;
pub mod report;
pub mod runner;

pub use convert::{query_language, rule_format, Converter};
pub use fixtures::{Expect, FixtureCase, FixtureFile};
pub use load::{load_paths, Loaded, LoadedFixtures, LoadedRule};
pub use runner::{RuleReport, Runner, TargetStatus, Verdict};

use ruleport_model::Diagnostic;
use std::path::{Path, PathBuf};

/// A rule paired with a fixture file.
#[derive(Debug, Clone)]
pub struct TestPair {
    pub rule: LoadedRule,
    pub fixtures: LoadedFixtures,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Pair every fixture file with its rule: `rule:` as a path relative to the fixture file (with
/// `#id` to pick one rule of a multi-rule file) or as a rule id, else the rule file with the same stem (`x.fixtures.yml` ↔ `x.toml`/`x.yml`). A rule
/// named by path but not among `loaded` is read from disk.
pub fn pair_fixtures(loaded: &mut Loaded) -> Vec<TestPair> {
    let mut pairs = Vec::new();
    let fixtures = loaded.fixtures.clone();
    for fx in fixtures {
        let dir = fx.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let found = match &fx.file.rule {
            Some(spec) => {
                // `path#id` picks one rule of a multi-rule file.
                let (r, id) = match spec.rsplit_once('#') {
                    Some((p, id)) => (p.to_string(), Some(id.to_string())),
                    None => (spec.clone(), None),
                };
                let r = &r;
                let candidate = dir.join(r);
                let by_path: Vec<&LoadedRule> = loaded
                    .rules
                    .iter()
                    .filter(|lr| same_file(&lr.path, &candidate))
                    .collect();
                let matched: Vec<LoadedRule> = if !by_path.is_empty() {
                    by_path.into_iter().cloned().collect::<Vec<_>>()
                } else if candidate.is_file() {
                    let extra = load_paths(std::slice::from_ref(&candidate));
                    loaded.diagnostics.extend(extra.diagnostics);
                    loaded.failed_files += extra.failed_files;
                    extra.rules
                } else {
                    loaded
                        .rules
                        .iter()
                        .filter(|lr| lr.rule.meta.id == *r)
                        .cloned()
                        .collect()
                };
                match id {
                    Some(id) => matched
                        .into_iter()
                        .filter(|lr| {
                            lr.rule.meta.id == id
                                || lr.rule.meta.name.as_deref() == Some(id.as_str())
                        })
                        .collect(),
                    None => matched,
                }
            }
            None => {
                let stem = fixture_stem(&fx.path);
                let found: Vec<LoadedRule> = loaded
                    .rules
                    .iter()
                    .filter(|lr| {
                        lr.path.parent() == fx.path.parent()
                            && lr.path.file_stem().map(|s| s.to_string_lossy().to_string()) == stem
                    })
                    .cloned()
                    .collect();
                match (&stem, found.is_empty()) {
                    // The rule was not among the given paths: read the sibling rule file.
                    (Some(stem), true) => {
                        let siblings: Vec<PathBuf> = ["toml", "yml", "yaml"]
                            .iter()
                            .map(|ext| dir.join(format!("{stem}.{ext}")))
                            .filter(|p| p.is_file())
                            .collect();
                        let extra = load_paths(&siblings);
                        loaded.diagnostics.extend(extra.diagnostics);
                        loaded.failed_files += extra.failed_files;
                        extra.rules
                    }
                    _ => found,
                }
            }
        };
        if found.is_empty() {
            loaded.diagnostics.push(
                Diagnostic::error(
                    "E-FIXTURE-RULE",
                    format!("fixture file names rule `{}`, which was not found", fx.file.rule.as_deref().unwrap_or("<same stem>")),
                )
                .in_file(&fx.path)
                .at(ruleport_model::Pos::new(1, 1))
                .with_hint("set `rule:` to the rule file's path relative to the fixture file, or to the rule id"),
            );
            loaded.failed_files += 1;
        }
        for rule in found {
            pairs.push(TestPair {
                rule,
                fixtures: fx.clone(),
            });
        }
    }
    pairs
}

fn fixture_stem(p: &Path) -> Option<String> {
    let name = p.file_name()?.to_string_lossy().to_string();
    name.strip_suffix(".fixtures.yml")
        .or_else(|| name.strip_suffix(".fixtures.yaml"))
        .map(str::to_string)
}

/// Run every paired fixture.
pub fn run_pairs(runner: &Runner<'_>, pairs: &[TestPair]) -> Vec<RuleReport> {
    pairs
        .iter()
        .map(|p| {
            runner.run(
                &p.rule.rule,
                Some(p.rule.path.clone()),
                p.fixtures.path.clone(),
                &p.fixtures.file,
            )
        })
        .collect()
}

/// The default rule and fixture locations relative to a repository root.
pub fn default_paths(root: &Path) -> Vec<PathBuf> {
    vec![root.join("rules")]
}

pub mod witness;

/// Witnesses for a rule as a fixture file (cases labelled by the reference), for differential runs.
pub fn witness_fixtures(
    rule: &ruleport_model::Rule,
    mapping: &ruleport_mapping::Mapping,
) -> FixtureFile {
    let cases = witness::generate(rule, mapping)
        .into_iter()
        .map(|w| FixtureCase {
            name: w.label,
            expect: if w.expect {
                Expect::Match
            } else {
                Expect::NoMatch
            },
            event: None,
            events: Some(w.events),
            logsource: w.logsource,
            views: Default::default(),
            min_matches: None,
            line: None,
        })
        .collect();
    FixtureFile {
        rule: None,
        schema: Some(rule.schema),
        logsource: None,
        cases,
    }
}

pub mod corpus;
pub mod regression;
pub mod snapshot;
