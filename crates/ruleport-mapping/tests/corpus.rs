//! Coverage of the SigmaHQ and Elastic corpora and mapping checks on SigmaHQ's regression
//! events. They read ../shared (env RULEPORT_SHARED overrides) and fail when it is missing.

use ruleport_mapping::{Mapping, SentinelSet};
use ruleport_model::eval::CompiledExpr;
use ruleport_model::{Detection, Expr, Rule, Schema};
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.is_dir(),
        "shared directory {} is missing (set RULEPORT_SHARED)",
        dir.display()
    );
    dir
}

fn files_under(root: &Path, ext: &str, skip: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.file_name().and_then(|n| n.to_str()) == Some(skip) {
            continue;
        }
        if p.is_dir() {
            files_under(&p, ext, skip, out);
        } else if p.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(p);
        }
    }
}

fn sigma_rules() -> Vec<Rule> {
    let root = shared_dir().join("corpus/sigma");
    let mut files = Vec::new();
    for d in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-placeholder",
        "rules-compliance",
    ] {
        files_under(&root.join(d), "yml", "", &mut files);
    }
    assert!(
        files.len() > 3000,
        "SigmaHQ corpus not found under {}",
        root.display()
    );
    let mut rules = Vec::new();
    let mut failed = 0;
    for f in &files {
        let out = ruleport_sigma::import_file(f);
        if out.rules.is_empty() {
            failed += 1;
        }
        rules.extend(out.rules);
    }
    eprintln!(
        "SigmaHQ: {} files, {} rules, {} files without a rule",
        files.len(),
        rules.len(),
        failed
    );
    rules
}

fn elastic_rules() -> Vec<Rule> {
    let root = shared_dir().join("corpus/elastic");
    let mut files = Vec::new();
    for d in ["rules", "rules_building_block"] {
        files_under(&root.join(d), "toml", "_deprecated", &mut files);
    }
    assert!(
        files.len() > 1500,
        "Elastic corpus not found under {}",
        root.display()
    );
    let mut rules = Vec::new();
    let mut failed = 0;
    for f in &files {
        match ruleport_elastic::import_file(f) {
            Ok(r) => rules.push(r),
            Err(_) => failed += 1,
        }
    }
    eprintln!(
        "Elastic: {} files, {} rules, {} not imported",
        files.len(),
        rules.len(),
        failed
    );
    rules
}

#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn sigma_corpus_coverage() {
    let rules = sigma_rules();
    let mut m = Mapping::builtin();
    let mut shares = Vec::new();
    for to in [Schema::Ecs, Schema::Splunk] {
        let c = m.coverage(&rules, to);
        eprint!("{}", c.render_text(15));
        shares.push((c.label.clone(), c.share()));
    }
    for set in SentinelSet::ALL {
        m.sentinel_set = set;
        let c = m.coverage(&rules, Schema::Sentinel);
        eprint!("{}", c.render_text(15));
        shares.push((c.label.clone(), c.share()));
    }
    for (label, share) in shares {
        assert!(
            share >= 0.95,
            "{label}: only {:.1}% of SigmaHQ rules fully mapped",
            share * 100.0
        );
    }
}

#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn elastic_corpus_coverage() {
    let rules = elastic_rules();
    let mut m = Mapping::builtin();
    for to in [Schema::Sigma, Schema::Splunk] {
        eprint!("{}", m.coverage(&rules, to).render_text(25));
    }
    for set in SentinelSet::ALL {
        m.sentinel_set = set;
        eprint!("{}", m.coverage(&rules, Schema::Sentinel).render_text(25));
    }
    let c = m.coverage(&rules, Schema::Ecs);
    assert_eq!(c.fully_mapped, c.rules, "ECS rules are already in ECS");
}

/// The mapped rule (its selection and renamed detection), evaluated with the reference
/// semantics over each SigmaHQ regression event viewed in the target schema, must fire when
/// the mapping is exact: the port's names and the event view agree.
#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn regression_events_seen_by_each_target() {
    let root = shared_dir().join("corpus/sigma/regression_data");
    let (cases, _) = ruleport_sigma::regression::load_regression_dir(&root);
    assert!(
        cases.len() > 150,
        "regression data not found under {}",
        root.display()
    );
    let mut targets: Vec<(String, Mapping, Schema)> = Vec::new();
    targets.push(("ecs".into(), Mapping::builtin(), Schema::Ecs));
    targets.push(("splunk".into(), Mapping::builtin(), Schema::Splunk));
    for set in SentinelSet::ALL {
        let mut m = Mapping::builtin();
        m.sentinel_set = set;
        targets.push((format!("sentinel ({})", set.name()), m, Schema::Sentinel));
    }
    for (label, m, to) in &targets {
        let (mut exact, mut fired, mut approx) = (0, 0, 0);
        let mut misses = Vec::new();
        for case in &cases {
            let Some(path) = &case.rule_path else {
                continue;
            };
            let out = ruleport_sigma::import_file(path);
            let Some(rule) = out.rules.first() else {
                continue;
            };
            let events = if case.events_json.is_empty() {
                &case.events_evtx
            } else {
                &case.events_json
            };
            let mapped = m.map_rule(rule, *to);
            if !mapped.approximations.is_empty() {
                approx += 1;
                continue;
            }
            let Detection::Query(f) = &mapped.rule.detection else {
                continue;
            };
            exact += 1;
            let expr = Expr::and(
                mapped
                    .selection
                    .condition
                    .clone()
                    .into_iter()
                    .chain([f.expr.clone()])
                    .collect(),
            );
            let Ok(compiled) = CompiledExpr::compile(&expr) else {
                continue;
            };
            let table = mapped.selection.tables.first().map(String::as_str);
            let hits = events
                .iter()
                .map(|e| m.view_event_in(e, Schema::Sigma, None, *to, table))
                .filter(|v| {
                    table.is_none_or(|t| v["Type"] == serde_json::json!(t)) && compiled.matches(v)
                })
                .count();
            if hits >= case.min_matches().min(events.len()) && hits > 0 {
                fired += 1;
            } else {
                misses.push(format!("{} ({})", rule.meta.title, path.display()));
            }
        }
        eprintln!("{label}: {fired}/{exact} exactly mapped regression rules fire on their viewed events ({approx} approximate)");
        assert!(
            fired * 100 >= exact * 95,
            "{label}: {} of {exact} exact mappings miss their events",
            exact - fired
        );
        for miss in misses.iter().take(10) {
            eprintln!("  miss: {miss}");
        }
    }
}

/// On every regression event (not only its own), an exactly mapped rule must agree with the
/// reference: the Sigma rule on the Sigma event, gated by its log source.
#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn mapped_rules_agree_with_the_reference_on_foreign_events() {
    let root = shared_dir().join("corpus/sigma/regression_data");
    let (cases, _) = ruleport_sigma::regression::load_regression_dir(&root);
    let events: Vec<serde_json::Value> = cases
        .iter()
        .flat_map(|c| {
            if c.events_json.is_empty() {
                c.events_evtx.clone()
            } else {
                c.events_json.clone()
            }
        })
        .collect();
    let rules: Vec<Rule> = cases
        .iter()
        .filter_map(|c| c.rule_path.as_ref())
        .filter_map(|p| ruleport_sigma::import_file(p).rules.into_iter().next())
        .collect();
    let reference = Mapping::builtin();
    for set in [
        None,
        Some(SentinelSet::Xdr),
        Some(SentinelSet::Event),
        Some(SentinelSet::Asim),
    ] {
        for to in [Schema::Ecs, Schema::Splunk, Schema::Sentinel] {
            if (to == Schema::Sentinel) != set.is_some() {
                continue;
            }
            let mut m = Mapping::builtin();
            if let Some(s) = set {
                m.sentinel_set = s;
            }
            let (mut pairs, mut disagree) = (0, Vec::new());
            let mut views: std::collections::HashMap<(usize, Option<String>), serde_json::Value> =
                Default::default();
            for rule in &rules {
                let Detection::Query(src) = &rule.detection else {
                    continue;
                };
                let mapped = m.map_rule(rule, to);
                if !mapped.approximations.is_empty() {
                    continue;
                }
                let Detection::Query(f) = &mapped.rule.detection else {
                    continue;
                };
                let expr = Expr::and(
                    mapped
                        .selection
                        .condition
                        .clone()
                        .into_iter()
                        .chain([f.expr.clone()])
                        .collect(),
                );
                let (Ok(target), Ok(refx)) = (
                    CompiledExpr::compile(&expr),
                    CompiledExpr::compile(&src.expr),
                ) else {
                    continue;
                };
                let table = mapped.selection.tables.first().cloned();
                for (i, e) in events.iter().enumerate() {
                    pairs += 1;
                    let want = refx.matches(e)
                        && reference.event_in_logsource(e, Schema::Sigma, &rule.logsource);
                    let view = views.entry((i, table.clone())).or_insert_with(|| {
                        m.view_event_in(e, Schema::Sigma, None, to, table.as_deref())
                    });
                    // A Sentinel query reads only its table.
                    let in_table = table
                        .as_deref()
                        .is_none_or(|t| view["Type"] == serde_json::json!(t));
                    let got = in_table && target.matches(view);
                    if want != got {
                        disagree.push(format!(
                            "{} on {} {}: reference {want}, port {got}",
                            rule.meta.title, e["Channel"], e["EventID"]
                        ));
                    }
                }
            }
            let label = set
                .map(|s| format!("sentinel ({})", s.name()))
                .unwrap_or_else(|| to.name().to_string());
            eprintln!(
                "{label}: {} disagreements in {pairs} (rule, event) pairs",
                disagree.len()
            );
            for d in disagree.iter().take(10) {
                eprintln!("  {d}");
            }
            assert!(
                disagree.len() * 1000 <= pairs,
                "{label}: too many disagreements"
            );
        }
    }
}
