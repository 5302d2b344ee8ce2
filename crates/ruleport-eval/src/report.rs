//! Reports: a readable table (colour on a terminal), JSON, and JUnit XML.

use crate::runner::{RuleReport, TargetStatus, Verdict};
use ruleport_model::TargetId;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Counts per target across rules.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct TargetCounts {
    pub exact: usize,
    pub approximate: usize,
    pub unsupported: usize,
    pub mismatch: usize,
    pub error: usize,
    pub approximate_reasons: BTreeMap<String, usize>,
    pub unsupported_reasons: BTreeMap<String, usize>,
}

pub fn counts(reports: &[RuleReport], targets: &[TargetId]) -> BTreeMap<TargetId, TargetCounts> {
    let mut out: BTreeMap<TargetId, TargetCounts> = targets
        .iter()
        .map(|t| (*t, TargetCounts::default()))
        .collect();
    for r in reports {
        for (t, s) in &r.targets {
            let c = out.entry(*t).or_default();
            match s {
                TargetStatus::Exact => c.exact += 1,
                TargetStatus::Approximate { reasons, .. } => {
                    c.approximate += 1;
                    for reason in reasons {
                        let code = reason
                            .split(']')
                            .next()
                            .unwrap_or("")
                            .trim_start_matches('[');
                        *c.approximate_reasons.entry(code.to_string()).or_default() += 1;
                    }
                }
                TargetStatus::Unsupported { code, .. } => {
                    c.unsupported += 1;
                    *c.unsupported_reasons.entry(code.clone()).or_default() += 1;
                }
                TargetStatus::Mismatch { .. } => c.mismatch += 1,
                TargetStatus::Error { .. } => c.error += 1,
            }
        }
    }
    out
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The rule × target table, then details of every failure and approximation.
pub fn table(reports: &[RuleReport], targets: &[TargetId], color: bool) -> String {
    let mut out = String::new();
    let name_w = reports
        .iter()
        .map(|r| r.title.chars().count().min(48))
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = write!(out, "{:<name_w$}  {:<9}", "rule", "model");
    for t in targets {
        let _ = write!(out, "  {:<11}", t.name());
    }
    out.push('\n');
    for r in reports {
        let title: String = r.title.chars().take(48).collect();
        let ok = r.cases.len() - r.reference_failures.len();
        let model = format!("{ok}/{}", r.cases.len());
        let model_cell = if r.reference_failures.is_empty() {
            paint(&format!("{model:<9}"), "32", color)
        } else {
            paint(&format!("{model:<9}"), "31;1", color)
        };
        let _ = write!(out, "{title:<name_w$}  {model_cell}");
        for t in targets {
            let cell = match r.targets.get(t) {
                None => "-".to_string(),
                Some(s) => s.label().to_string(),
            };
            let code = match r.targets.get(t) {
                Some(TargetStatus::Exact) => "32",
                Some(TargetStatus::Approximate { .. }) => "33",
                Some(TargetStatus::Unsupported { .. }) => "90",
                Some(_) => "31;1",
                None => "0",
            };
            let _ = write!(out, "  {}", paint(&format!("{cell:<11}"), code, color));
        }
        out.push('\n');
    }
    let mut details = String::new();
    for r in reports {
        let loc = r.fixtures_path.display();
        for f in &r.reference_failures {
            let line = r.cases.iter().find(|c| &c.name == f).and_then(|c| c.line);
            let _ = writeln!(
                details,
                "{loc}:{}: rule `{}` ({}): the rule model disagrees with case `{f}`",
                line.unwrap_or(1),
                r.title,
                r.rule_id
            );
        }
        for (t, s) in &r.targets {
            match s {
                TargetStatus::Mismatch { cases } => {
                    for c in cases {
                        let case = r.cases.iter().find(|x| &x.name == c);
                        let (rv, tv) = case
                            .map(|x| {
                                (
                                    verdict_text(&x.reference),
                                    x.targets.get(t).map(verdict_text).unwrap_or_default(),
                                )
                            })
                            .unwrap_or_default();
                        let _ = writeln!(
                            details,
                            "{loc}:{}: MISMATCH rule `{}` ({}) target {t} case `{c}`: model {rv}, {t} {tv}",
                            case.and_then(|x| x.line).unwrap_or(1),
                            r.title,
                            r.rule_id
                        );
                    }
                }
                TargetStatus::Error { message } => {
                    let _ = writeln!(
                        details,
                        "{loc}: ERROR rule `{}` target {t}: {message}",
                        r.title
                    );
                }
                TargetStatus::Approximate { reasons, diverged } => {
                    let _ = writeln!(
                        details,
                        "note: rule `{}` target {t} is approximate ({} case(s) differ): {}",
                        r.title,
                        diverged,
                        reasons.join("; ")
                    );
                }
                TargetStatus::Unsupported { code, reason } => {
                    let _ = writeln!(
                        details,
                        "note: rule `{}` target {t} unsupported [{code}]: {reason}",
                        r.title
                    );
                }
                TargetStatus::Exact => {}
            }
        }
    }
    if !details.is_empty() {
        out.push('\n');
        out.push_str(&details);
    }
    out
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Fired(true) => "match".into(),
        Verdict::Fired(false) => "no match".into(),
        Verdict::Error(e) => format!("error ({e})"),
        Verdict::NotRepresentable(why) => format!("not representable ({why})"),
    }
}

/// Per-target summary lines.
pub fn summary(reports: &[RuleReport], targets: &[TargetId]) -> String {
    let mut out = String::new();
    for (t, c) in counts(reports, targets) {
        let _ = writeln!(
            out,
            "{t}: {} exact, {} approximate, {} unsupported, {} mismatch, {} error",
            c.exact, c.approximate, c.unsupported, c.mismatch, c.error
        );
    }
    let failed = reports.iter().filter(|r| r.failed()).count();
    let _ = writeln!(
        out,
        "{} rule(s) tested, {} passed, {} failed",
        reports.len(),
        reports.len() - failed,
        failed
    );
    out
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(o, "&#x{:X};", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: a suite per rule, a test case for the model and one per target.
pub fn junit(reports: &[RuleReport]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ruleport\">\n",
    );
    for r in reports {
        let tests = 1 + r.targets.len();
        let failures = usize::from(!r.reference_failures.is_empty())
            + r.targets.values().filter(|s| s.is_failure()).count();
        let skipped = r
            .targets
            .values()
            .filter(|s| matches!(s, TargetStatus::Unsupported { .. }))
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\">",
            xml_escape(&format!("{} ({})", r.title, r.rule_id))
        );
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"model\"",
            xml_escape(&r.rule_id)
        );
        if r.reference_failures.is_empty() {
            out.push_str("/>\n");
        } else {
            let _ = writeln!(
                out,
                "><failure message=\"{}\"/></testcase>",
                xml_escape(&format!(
                    "model disagrees with: {}",
                    r.reference_failures.join(", ")
                ))
            );
        }
        for (t, s) in &r.targets {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{t}\"",
                xml_escape(&r.rule_id)
            );
            match s {
                TargetStatus::Exact | TargetStatus::Approximate { .. } => out.push_str("/>\n"),
                TargetStatus::Unsupported { code, reason } => {
                    let _ = writeln!(
                        out,
                        "><skipped message=\"{}\"/></testcase>",
                        xml_escape(&format!("[{code}] {reason}"))
                    );
                }
                TargetStatus::Mismatch { cases } => {
                    let _ = writeln!(
                        out,
                        "><failure message=\"{}\"/></testcase>",
                        xml_escape(&format!("mismatch on: {}", cases.join(", ")))
                    );
                }
                TargetStatus::Error { message } => {
                    let _ = writeln!(
                        out,
                        "><error message=\"{}\"/></testcase>",
                        xml_escape(message)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
