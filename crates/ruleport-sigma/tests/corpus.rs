//! SigmaHQ corpus checks over `../shared` (run by `.ci/run` with `--ignored`).

use ruleport_model::Rule;
use ruleport_sigma::{export_rule, import_file, import_str};
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("RULEPORT_SHARED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn corpus_dir() -> PathBuf {
    let dir = shared_dir().join("corpus/sigma");
    assert!(
        dir.is_dir(),
        "the Sigma corpus is missing at {}",
        dir.display()
    );
    dir
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What the round trip compares: everything but provenance and the original text.
fn comparable(r: &Rule) -> (String, String, String) {
    (
        format!("{:?}", r.detection),
        format!("{:?}", r.logsource),
        format!("{:?}", r.meta),
    )
}

#[derive(Default)]
struct Counts {
    files: usize,
    imported: usize,
    failed: usize,
    rules: usize,
    round_trip_equal: usize,
    round_trip_failed: Vec<String>,
    failures: Vec<String>,
    warnings: std::collections::BTreeMap<String, usize>,
}

fn run_folder(dir: &Path, c: &mut Counts) {
    for f in yaml_files(dir) {
        c.files += 1;
        let out = import_file(&f);
        for d in out.diagnostics.iter().filter(|d| !d.is_error()) {
            *c.warnings.entry(d.code.clone()).or_default() += 1;
        }
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() || out.rules.is_empty() {
            c.failed += 1;
            let why = errors
                .first()
                .map(|d| d.to_string())
                .unwrap_or_else(|| format!("{}: no rule", f.display()));
            // A failure must say where and why.
            if let Some(d) = errors.first() {
                assert!(
                    d.path.is_some() && d.pos.is_some(),
                    "imprecise diagnostic: {d}"
                );
            }
            c.failures.push(why);
            continue;
        }
        c.imported += 1;
        for r in &out.rules {
            c.rules += 1;
            match export_rule(r) {
                Ok(exp) => {
                    let back = import_str(&exp.text, Some(&f));
                    let same = back.rules.len() == 1
                        && !back.has_errors()
                        && comparable(&back.rules[0]) == comparable(r);
                    if same {
                        c.round_trip_equal += 1;
                    } else {
                        c.round_trip_failed.push(format!(
                            "{}\n--- exported ---\n{}\n--- diagnostics ---\n{:?}\n--- before ---\n{:?}\n--- after ---\n{:?}",
                            f.display(),
                            exp.text,
                            back.diagnostics,
                            r.detection,
                            back.rules.first().map(|b| &b.detection)
                        ));
                    }
                }
                Err(u) => c
                    .round_trip_failed
                    .push(format!("{}: export unsupported: {u}", f.display())),
            }
        }
    }
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn sigma_corpus_imports_and_round_trips() {
    let root = corpus_dir();
    let active = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-placeholder",
        "rules-compliance",
    ];
    let mut act = Counts::default();
    for a in active {
        run_folder(&root.join(a), &mut act);
    }
    let mut legacy = Counts::default();
    for a in ["deprecated", "unsupported"] {
        run_folder(&root.join(a), &mut legacy);
    }
    for f in act.failures.iter().take(20) {
        eprintln!("FAILED (active): {f}");
    }
    if std::env::var("SIGMA_SHOW_LEGACY").is_ok() {
        for f in &legacy.failures {
            eprintln!("legacy failure: {f}");
        }
    }
    for f in act
        .round_trip_failed
        .iter()
        .chain(&legacy.round_trip_failed)
        .take(5)
    {
        eprintln!("ROUND TRIP MISMATCH: {f}");
    }
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    for f in &legacy.failures {
        let code = f
            .split("error[")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or("?")
            .to_string();
        *reasons.entry(code).or_default() += 1;
    }
    println!(
        "sigma corpus (active): files {} imported {} failed {} rules {} round-trip equal {}/{}",
        act.files, act.imported, act.failed, act.rules, act.round_trip_equal, act.rules
    );
    println!("sigma corpus (active) warnings by code: {:?}", act.warnings);
    println!(
        "sigma corpus (deprecated+unsupported): files {} imported {} failed {} (by code: {:?}) round-trip equal {}/{}",
        legacy.files, legacy.imported, legacy.failed, reasons, legacy.round_trip_equal, legacy.rules
    );
    assert_eq!(
        act.files, 3780,
        "expected 3,780 files in the active folders"
    );
    assert_eq!(act.failed, 0, "every active rule must import");
    assert_eq!(
        act.round_trip_equal, act.rules,
        "every active rule must round-trip"
    );
    assert_eq!(
        legacy.round_trip_equal, legacy.rules,
        "every imported legacy rule must round-trip"
    );
}
