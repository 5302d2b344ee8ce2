//! Corpus checks: import, round-trip, port, parse back and differentially check every rule of the
//! SigmaHQ and Elastic corpora, with counts compared against a committed baseline (a count that
//! drops fails the check).

use crate::convert::{query_language, rule_format, Converter};
use crate::load::{file_kind, read_text, FileKind};
use crate::runner::{Runner, TargetStatus};
use crate::witness_fixtures;
use rayon::prelude::*;
use ruleport_model::{Detection, Diagnostic, Rule, TargetId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Counts for one corpus folder group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportCounts {
    pub files: usize,
    pub files_failed: usize,
    pub rules: usize,
    /// Export → import gives an equal detection and log source.
    pub round_trip_equal: usize,
    pub by_kind: BTreeMap<String, usize>,
    /// First few failures, for the log.
    #[serde(skip)]
    pub failures: Vec<String>,
}

/// Per target: port outcomes, parse-back failures and differential results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PortCounts {
    pub exact: usize,
    pub approximate: usize,
    pub unsupported: usize,
    /// Emitted text that the target's own parser rejects (must be zero).
    pub parse_back_failures: usize,
    /// Exact ports whose verdict on a witness differs from the model (must be zero).
    pub mismatches: usize,
    /// Approximate ports whose verdicts differ on some witness (explained by their reasons).
    pub approximate_diverged: usize,
    pub witnesses: usize,
    pub approximate_reasons: BTreeMap<String, usize>,
    pub unsupported_reasons: BTreeMap<String, usize>,
    #[serde(skip)]
    pub examples: Vec<String>,
}

impl PortCounts {
    /// Rules whose detection the model holds (every rule but `unsupported-detection` ones:
    /// ES|QL, machine learning, indicator match, lucene).
    pub fn convertible(&self) -> usize {
        let all = self.exact
            + self.approximate
            + self.unsupported
            + self.parse_back_failures
            + self.mismatches;
        all - self
            .unsupported_reasons
            .get("unsupported-detection")
            .copied()
            .unwrap_or(0)
            .min(all)
    }

    /// Convertible rules whose port was emitted and parsed back by the target's parser, and
    /// agreed with the model on every witness unless declared approximate.
    pub fn emitted(&self) -> usize {
        self.exact + self.approximate
    }
}

/// The coverage line issue #8 tracks for Sentinel: emitted ports among convertible rules.
pub fn coverage_line(corpus: &str, target: TargetId, c: &PortCounts) -> String {
    let conv = c.convertible();
    let share = if conv == 0 {
        100.0
    } else {
        100.0 * c.emitted() as f64 / conv as f64
    };
    let mut line = format!(
        "{corpus} -> {target}: {} of {conv} convertible rules emitted and parsed back ({share:.1}%)",
        c.emitted()
    );
    // Rules refused because the target's tables lack the data, not because of ruleport.
    let unrecorded = c
        .unsupported_reasons
        .get("not-recorded")
        .copied()
        .unwrap_or(0);
    if unrecorded > 0 {
        let rest = conv.saturating_sub(unrecorded);
        let share = if rest == 0 {
            100.0
        } else {
            100.0 * c.emitted() as f64 / rest as f64
        };
        line.push_str(&format!(
            "; {unrecorded} need data the target's tables do not record (not-recorded), so {} of the other {rest} ({share:.1}%)",
            c.emitted()
        ));
    }
    line
}

/// SigmaHQ regression tests run through the rule model (log-source gated) and every target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RegressionCounts {
    pub tests: usize,
    pub detected_json: usize,
    pub detected_evtx: usize,
    /// Per target: tests whose port fires on the JSON events.
    pub detected_by_target: BTreeMap<TargetId, usize>,
    /// Foreign (rule, event) matches in the false-positive cross-matrix.
    pub cross_matches: usize,
    #[serde(skip)]
    pub misses: Vec<String>,
    #[serde(skip)]
    pub top_cross: Vec<(String, usize)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CorpusReport {
    #[serde(default)]
    pub regression: RegressionCounts,
    pub sigma: ImportCounts,
    pub sigma_other: ImportCounts,
    pub elastic: ImportCounts,
    pub ports: BTreeMap<String, BTreeMap<TargetId, PortCounts>>,
}

/// Locate the shared material: `$RULEPORT_SHARED`, else `../shared` from the current directory.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RULEPORT_SHARED") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("../shared");
    p.is_dir().then_some(p)
}

fn collect(root: &Path, dirs: &[&str]) -> Vec<PathBuf> {
    let mut diags = Vec::new();
    let paths: Vec<PathBuf> = dirs
        .iter()
        .map(|d| root.join(d))
        .filter(|p| p.exists())
        .collect();
    crate::load::expand_paths(&paths, &mut diags)
}

/// One file's rules, or every diagnostic that stopped it.
type FileImport = (PathBuf, Result<Vec<Rule>, Vec<Diagnostic>>);

fn import_all(files: &[PathBuf]) -> (Vec<(PathBuf, Rule)>, ImportCounts) {
    let results: Vec<FileImport> = files
        .par_iter()
        .map(|p| {
            let r = read_text(p).map_err(|d| vec![d]).and_then(|text| {
                let kind = file_kind(p, Some(&text)).unwrap_or(FileKind::SigmaRule);
                let (rules, diags) = crate::load::load_rule_file(p, &text, kind);
                if diags.iter().any(Diagnostic::is_error) {
                    return Err(diags);
                }
                Ok(rules)
            });
            (p.clone(), r)
        })
        .collect();
    let mut counts = ImportCounts {
        files: files.len(),
        ..Default::default()
    };
    let mut rules = Vec::new();
    for (p, r) in results {
        match r {
            Ok(rs) => {
                for rule in rs {
                    *counts.by_kind.entry(kind_label(&rule)).or_default() += 1;
                    rules.push((p.clone(), rule));
                }
            }
            Err(d) => {
                counts.files_failed += 1;
                if counts.failures.len() < 20 {
                    counts.failures.extend(
                        d.iter()
                            .filter(|x| x.is_error())
                            .take(1)
                            .map(ToString::to_string),
                    );
                }
            }
        }
    }
    counts.rules = rules.len();
    (rules, counts)
}

fn kind_label(r: &Rule) -> String {
    match &r.detection {
        Detection::Unsupported(u) => format!("unsupported:{}", u.kind),
        d => format!("{}:{}", r.language, d.kind_name()),
    }
}

/// Export each rule to its own format and import it back: the logic must be equal.
fn round_trips(conv: &Converter, rules: &[(PathBuf, Rule)], counts: &mut ImportCounts) {
    let equal: Vec<Option<String>> = rules
        .par_iter()
        .map(|(p, r)| {
            let fmt_id = match r.format {
                ruleport_model::SourceFormat::Sigma => TargetId::Sigma,
                ruleport_model::SourceFormat::ElasticToml => TargetId::Elastic,
            };
            let fmt = rule_format(fmt_id)?;
            let port = match conv.port(r, fmt_id) {
                Ok(p) => p,
                Err(u) => return Some(format!("{}: export failed: {u}", p.display())),
            };
            match fmt.import_text(&port.text, None) {
                Ok(back) if back.iter().any(|b| b.logic_eq(r)) => None,
                Ok(_) => Some(format!("{}: round trip changed the rule", p.display())),
                Err(d) => Some(format!(
                    "{}: exported text does not import: {}",
                    p.display(),
                    d.first().map(ToString::to_string).unwrap_or_default()
                )),
            }
        })
        .collect();
    for e in equal {
        match e {
            None => counts.round_trip_equal += 1,
            Some(msg) => {
                if counts.failures.len() < 40 {
                    counts.failures.push(msg);
                }
            }
        }
    }
}

/// A rule's port to one target: its status, the witnesses run, and the rule's label (path and id).
type RulePortStatus = (TargetStatus, usize, Option<String>);

/// Port every rule to every query language, parse back, and run the witnesses.
fn port_all(
    conv: &Converter,
    rules: &[(PathBuf, Rule)],
    targets: &[TargetId],
    differential: bool,
) -> BTreeMap<TargetId, PortCounts> {
    let per_rule: Vec<BTreeMap<TargetId, RulePortStatus>> = rules
        .par_iter()
        .map(|(p, r)| {
            let mut out = BTreeMap::new();
            let fixtures = if differential {
                Some(witness_fixtures(r, &conv.mapping))
            } else {
                None
            };
            let n = fixtures.as_ref().map(|f| f.cases.len()).unwrap_or(0);
            let label = Some(format!("{} ({})", p.display(), r.meta.id));
            if let Some(fx) = &fixtures {
                // One runner for all targets: the reference is computed once per witness.
                let runner = Runner {
                    converter: conv,
                    targets: targets.to_vec(),
                };
                let rep = runner.run(r, Some(p.clone()), p.clone(), fx);
                for &t in targets {
                    let status = rep.targets.get(&t).cloned().unwrap_or(TargetStatus::Exact);
                    out.insert(t, (status, n, label.clone()));
                }
                return out;
            }
            for &t in targets {
                let status = match conv.port(r, t) {
                    Ok(port) => match query_language(t).map(|l| l.compile(&port.text)) {
                        Some(Err(d)) => TargetStatus::Error {
                            message: d.to_string(),
                        },
                        _ if port.fidelity.is_exact() => TargetStatus::Exact,
                        _ => TargetStatus::Approximate {
                            reasons: port
                                .fidelity
                                .reasons()
                                .iter()
                                .map(ToString::to_string)
                                .collect(),
                            diverged: 0,
                        },
                    },
                    Err(u) => TargetStatus::Unsupported {
                        code: u.code,
                        reason: u.reason,
                    },
                };
                out.insert(t, (status, n, label.clone()));
            }
            out
        })
        .collect();
    let mut counts: BTreeMap<TargetId, PortCounts> = targets
        .iter()
        .map(|t| (*t, PortCounts::default()))
        .collect();
    for m in per_rule {
        for (t, (status, n, label)) in m {
            let c = counts.entry(t).or_default();
            c.witnesses += n;
            let label = label.unwrap_or_default();
            match status {
                TargetStatus::Exact => c.exact += 1,
                TargetStatus::Approximate { reasons, diverged } => {
                    c.approximate += 1;
                    if diverged > 0 {
                        c.approximate_diverged += 1;
                    }
                    for reason in reasons {
                        let code = reason
                            .split(']')
                            .next()
                            .unwrap_or("")
                            .trim_start_matches('[')
                            .to_string();
                        *c.approximate_reasons.entry(code).or_default() += 1;
                    }
                }
                TargetStatus::Unsupported { code, .. } => {
                    c.unsupported += 1;
                    *c.unsupported_reasons.entry(code).or_default() += 1;
                }
                TargetStatus::Mismatch { cases } => {
                    c.mismatches += 1;
                    if c.examples.len() < 25 {
                        c.examples
                            .push(format!("MISMATCH {label}: {}", cases.join(" | ")));
                    }
                }
                TargetStatus::Error { message } => {
                    c.parse_back_failures += 1;
                    if c.examples.len() < 25 {
                        c.examples.push(format!("ERROR {label}: {message}"));
                    }
                }
            }
        }
    }
    counts
}

/// Run the corpus checks.
pub fn run(
    shared: &Path,
    conv: &Converter,
    targets: &[TargetId],
    differential: bool,
) -> CorpusReport {
    let sigma_root = shared.join("corpus/sigma");
    let active = collect(
        &sigma_root,
        &[
            "rules",
            "rules-emerging-threats",
            "rules-threat-hunting",
            "rules-placeholder",
            "rules-compliance",
        ],
    );
    let other = collect(&sigma_root, &["deprecated", "unsupported"]);
    let elastic_root = shared.join("corpus/elastic");
    let elastic = collect(&elastic_root, &["rules", "rules_building_block"]);

    let mut report = CorpusReport::default();
    let (sigma_rules, mut sc) = import_all(&active);
    round_trips(conv, &sigma_rules, &mut sc);
    let (_other_rules, oc) = import_all(&other);
    let (elastic_rules, mut ec) = import_all(&elastic);
    round_trips(conv, &elastic_rules, &mut ec);
    report.ports.insert(
        "sigma".into(),
        port_all(conv, &sigma_rules, targets, differential),
    );
    report.ports.insert(
        "elastic".into(),
        port_all(conv, &elastic_rules, targets, differential),
    );
    report.regression = regression(shared, conv, targets, &sigma_rules);
    report.sigma = sc;
    report.sigma_other = oc;
    report.elastic = ec;
    report
}

fn regression(
    shared: &Path,
    conv: &Converter,
    targets: &[TargetId],
    rules: &[(PathBuf, Rule)],
) -> RegressionCounts {
    use crate::runner::Verdict;
    let known: Vec<crate::LoadedRule> = rules
        .iter()
        .map(|(p, r)| crate::LoadedRule {
            path: p.clone(),
            rule: r.clone(),
        })
        .collect();
    let (pairs, _diags) = crate::regression::regression_pairs(&shared.join("corpus/sigma"), &known);
    let reports: Vec<crate::RuleReport> = pairs
        .par_iter()
        .map(|p| {
            let runner = Runner {
                converter: conv,
                targets: targets.to_vec(),
            };
            runner.run(
                &p.rule.rule,
                Some(p.rule.path.clone()),
                p.fixtures.path.clone(),
                &p.fixtures.file,
            )
        })
        .collect();
    let mut c = RegressionCounts {
        tests: reports.len(),
        ..Default::default()
    };
    for r in &reports {
        for case in &r.cases {
            let hit = case.reference == Verdict::Fired(true);
            if case.name.ends_with("(json)") {
                c.detected_json += usize::from(hit);
                for (t, v) in &case.targets {
                    if *v == Verdict::Fired(true) {
                        *c.detected_by_target.entry(*t).or_default() += 1;
                    }
                }
            } else if case.name.ends_with("(evtx)") {
                c.detected_evtx += usize::from(hit);
            }
            if !hit && c.misses.len() < 20 {
                c.misses
                    .push(format!("{} ({}): {}", r.title, r.rule_id, case.name));
            }
        }
    }
    let cross = crate::regression::cross_matrix(&pairs, &conv.mapping);
    c.cross_matches = cross.iter().map(|x| x.2).sum();
    let mut top: Vec<(String, usize)> = cross
        .into_iter()
        .filter(|x| x.2 > 0)
        .map(|x| (x.0, x.2))
        .collect();
    top.sort_by_key(|x| std::cmp::Reverse(x.1));
    top.truncate(10);
    c.top_cross = top;
    c
}

/// Human-readable summary.
pub fn render(r: &CorpusReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for (name, c) in [
        ("sigma (active folders)", &r.sigma),
        ("sigma (deprecated, unsupported)", &r.sigma_other),
        ("elastic", &r.elastic),
    ] {
        let _ = writeln!(
            s,
            "{name}: {} files, {} failed, {} rules, {} round-trip equal",
            c.files, c.files_failed, c.rules, c.round_trip_equal
        );
        for (k, n) in &c.by_kind {
            let _ = writeln!(s, "    {k}: {n}");
        }
        for f in c.failures.iter().take(10) {
            let _ = writeln!(s, "    ! {f}");
        }
    }
    let g = &r.regression;
    let _ = writeln!(
        s,
        "sigma regression tests: {} tests, detected {} from JSON and {} from EVTX (rule model, log-source gated); {} foreign matches in the cross-matrix",
        g.tests, g.detected_json, g.detected_evtx, g.cross_matches
    );
    for (t, n) in &g.detected_by_target {
        let _ = writeln!(s, "    {t}: detects {n} of {} from JSON", g.tests);
    }
    for m in g.misses.iter().take(10) {
        let _ = writeln!(s, "    ! missed: {m}");
    }
    for (title, n) in &g.top_cross {
        let _ = writeln!(s, "    cross-matches: {title}: {n}");
    }
    for (corpus, per) in &r.ports {
        if let Some(c) = per.get(&TargetId::Sentinel) {
            let _ = writeln!(
                s,
                "coverage: {}",
                coverage_line(corpus, TargetId::Sentinel, c)
            );
        }
    }
    for (corpus, per) in &r.ports {
        for (t, c) in per {
            let _ = writeln!(
                s,
                "{corpus} -> {t}: {} exact, {} approximate ({} diverging), {} unsupported, {} parse-back failures, {} mismatches, {} witnesses",
                c.exact, c.approximate, c.approximate_diverged, c.unsupported, c.parse_back_failures, c.mismatches, c.witnesses
            );
            let top = |m: &BTreeMap<String, usize>| {
                let mut v: Vec<_> = m.iter().collect();
                v.sort_by(|a, b| b.1.cmp(a.1));
                v.iter()
                    .take(6)
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !c.approximate_reasons.is_empty() {
                let _ = writeln!(s, "    approximate: {}", top(&c.approximate_reasons));
            }
            if !c.unsupported_reasons.is_empty() {
                let _ = writeln!(s, "    unsupported: {}", top(&c.unsupported_reasons));
            }
            for e in c.examples.iter().take(10) {
                let _ = writeln!(s, "    ! {e}");
            }
        }
    }
    s
}

/// Compare with a baseline: every "good" count must not drop, every "bad" count must not rise.
pub fn regressions(now: &CorpusReport, base: &CorpusReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut good = |what: &str, n: usize, b: usize| {
        if n < b {
            out.push(format!("{what} dropped from {b} to {n}"));
        }
    };
    good(
        "regression detected (json)",
        now.regression.detected_json,
        base.regression.detected_json,
    );
    good(
        "regression detected (evtx)",
        now.regression.detected_evtx,
        base.regression.detected_evtx,
    );
    for (t, n) in &now.regression.detected_by_target {
        good(
            &format!("regression detected by {t}"),
            *n,
            base.regression
                .detected_by_target
                .get(t)
                .copied()
                .unwrap_or(0),
        );
    }
    for (name, n, b) in [
        ("sigma", &now.sigma, &base.sigma),
        ("elastic", &now.elastic, &base.elastic),
        ("sigma other", &now.sigma_other, &base.sigma_other),
    ] {
        good(&format!("{name} rules imported"), n.rules, b.rules);
        good(
            &format!("{name} round-trip equal"),
            n.round_trip_equal,
            b.round_trip_equal,
        );
    }
    for (corpus, per) in &now.ports {
        for (t, c) in per {
            let Some(bc) = base.ports.get(corpus).and_then(|m| m.get(t)) else {
                continue;
            };
            good(&format!("{corpus}->{t} exact"), c.exact, bc.exact);
            good(
                &format!("{corpus}->{t} produced"),
                c.exact + c.approximate,
                bc.exact + bc.approximate,
            );
            if *t == TargetId::Sentinel {
                good(
                    &format!("{corpus}->{t} convertible rules emitted (issue #8)"),
                    c.emitted(),
                    bc.emitted(),
                );
            }
        }
    }
    // Wrong ports may only go down: every one is listed in the output; the baseline records the
    // known ones until they are fixed.
    for (corpus, per) in &now.ports {
        for (t, c) in per {
            let b = base.ports.get(corpus).and_then(|m| m.get(t));
            let (bp, bm) = b
                .map(|b| (b.parse_back_failures, b.mismatches))
                .unwrap_or((0, 0));
            if c.parse_back_failures > bp {
                out.push(format!(
                    "{corpus}->{t}: {} emitted queries do not parse back (baseline {bp})",
                    c.parse_back_failures
                ));
            }
            if c.mismatches > bm {
                out.push(format!(
                    "{corpus}->{t}: {} unexplained mismatches (baseline {bm})",
                    c.mismatches
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod coverage_tests {
    use super::*;

    fn counts(exact: usize, approximate: usize, unsupported: &[(&str, usize)]) -> PortCounts {
        PortCounts {
            exact,
            approximate,
            unsupported: unsupported.iter().map(|x| x.1).sum(),
            unsupported_reasons: unsupported
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn convertible_rules_exclude_unmodelled_detections() {
        let c = counts(
            10,
            20,
            &[("unsupported-detection", 5), ("unknown-column", 15)],
        );
        assert_eq!(c.convertible(), 45);
        assert_eq!(c.emitted(), 30);
        assert_eq!(
            coverage_line("elastic", TargetId::Sentinel, &c),
            "elastic -> sentinel: 30 of 45 convertible rules emitted and parsed back (66.7%)"
        );
        let c = counts(
            10,
            20,
            &[
                ("unsupported-detection", 5),
                ("unknown-column", 5),
                ("not-recorded", 10),
            ],
        );
        assert_eq!(
            coverage_line("elastic", TargetId::Sentinel, &c),
            "elastic -> sentinel: 30 of 45 convertible rules emitted and parsed back (66.7%); 10 need data the target's tables do not record (not-recorded), so 30 of the other 35 (85.7%)"
        );
    }

    #[test]
    fn fewer_emitted_sentinel_ports_fail_the_ratchet() {
        let mut base = CorpusReport::default();
        base.ports
            .entry("elastic".into())
            .or_default()
            .insert(TargetId::Sentinel, counts(10, 20, &[("unknown-column", 5)]));
        let mut now = CorpusReport::default();
        // One approximate port became unsupported: the exact count holds, the emitted count drops.
        now.ports
            .entry("elastic".into())
            .or_default()
            .insert(TargetId::Sentinel, counts(10, 19, &[("unknown-column", 6)]));
        let r = regressions(&now, &base);
        assert!(
            r.iter()
                .any(|m| m.contains("convertible rules emitted (issue #8) dropped from 30 to 29")),
            "{r:?}"
        );
    }
}
