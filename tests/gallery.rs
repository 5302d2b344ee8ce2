//! The bundled rules pass their fixtures in the rule model and in every target.

use ruleport_eval::{load_paths, pair_fixtures, run_pairs, Converter, Runner, TargetStatus};
use ruleport_mapping::Mapping;
use ruleport_model::TargetId;
use std::path::PathBuf;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

#[test]
fn every_bundled_rule_passes_its_fixtures_in_every_target() {
    let mut loaded = load_paths(&[rules_dir()]);
    let pairs = pair_fixtures(&mut loaded);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "rules/ has errors:\n{}",
        errors.join("\n")
    );
    assert!(!pairs.is_empty(), "no fixtures found under rules/");
    // Every bundled rule has fixtures.
    for lr in &loaded.rules {
        assert!(
            pairs
                .iter()
                .any(|p| p.rule.path == lr.path && p.rule.rule.meta.id == lr.rule.meta.id),
            "{} has no fixtures",
            lr.path.display()
        );
    }
    let conv = Converter::new(Mapping::builtin());
    let runner = Runner {
        converter: &conv,
        targets: TargetId::ALL.to_vec(),
    };
    let reports = run_pairs(&runner, &pairs);
    let mut problems = Vec::new();
    for r in &reports {
        if !r.reference_failures.is_empty() {
            problems.push(format!(
                "{}: model fails {:?}",
                r.title, r.reference_failures
            ));
        }
        for (t, s) in &r.targets {
            if s.is_failure() {
                problems.push(format!("{}: {t}: {s:?}", r.title));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_seed_ports_exactly_to_every_target() {
    let seed = rules_dir().join("elastic/azure_application_credential_modification.fixtures.yml");
    let mut loaded = load_paths(&[seed]);
    let pairs = pair_fixtures(&mut loaded);
    assert_eq!(pairs.len(), 1, "{:?}", loaded.diagnostics);
    let conv = Converter::new(Mapping::builtin());
    let runner = Runner {
        converter: &conv,
        targets: TargetId::ALL.to_vec(),
    };
    let report = &run_pairs(&runner, &pairs)[0];
    assert!(report.cases.len() >= 8);
    assert!(
        report.reference_failures.is_empty(),
        "{:?}",
        report.reference_failures
    );
    for t in TargetId::ALL {
        assert_eq!(
            report.targets.get(&t),
            Some(&TargetStatus::Exact),
            "{t}: {:?}",
            report.targets.get(&t)
        );
    }
    // Case matters: the SUCCESS event matches nowhere.
    let upper = report
        .cases
        .iter()
        .find(|c| c.name.contains("SUCCESS"))
        .expect("SUCCESS case");
    assert_eq!(upper.reference, ruleport_eval::Verdict::Fired(false));
    assert!(upper
        .targets
        .values()
        .all(|v| *v == ruleport_eval::Verdict::Fired(false)));
}
