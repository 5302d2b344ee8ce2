//! Mapping coverage: the share of rules whose log source and every field map to a target.

use crate::Mapping;
use ruleport_model::{Detection, Rule, Schema};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One unmapped item and how many rules it blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    pub name: String,
    pub rules: usize,
}

/// Coverage of a rule set for one target schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    pub target: Schema,
    /// The target with its mapping set, e.g. `sentinel (xdr)`.
    pub label: String,
    /// Rules with detection logic (the denominator).
    pub rules: usize,
    /// Rules whose logic cannot be modelled (ES|QL, machine learning…), not counted.
    pub skipped: usize,
    /// Rules whose every event filter's log source maps.
    pub logsource_mapped: usize,
    /// Rules whose log source and every field map.
    pub fully_mapped: usize,
    /// Fully mapped rules that still carry a `value-format` approximation.
    pub value_format: usize,
    /// Unmapped log sources, most frequent first.
    pub unmapped_logsources: Vec<CoverageRow>,
    /// Unmapped fields as `logsource: field`, most frequent first.
    pub unmapped_fields: Vec<CoverageRow>,
}

impl CoverageReport {
    /// Fully mapped rules as a share of `rules` (1.0 when there are none).
    pub fn share(&self) -> f64 {
        if self.rules == 0 {
            1.0
        } else {
            self.fully_mapped as f64 / self.rules as f64
        }
    }

    /// A plain-text summary listing the `top` most frequent gaps.
    pub fn render_text(&self, top: usize) -> String {
        let mut s = String::new();
        let pct = |n: usize| {
            if self.rules == 0 {
                100.0
            } else {
                100.0 * n as f64 / self.rules as f64
            }
        };
        let _ = writeln!(
            s,
            "{}: {}/{} rules fully mapped ({:.1}%), log source mapped {}/{} ({:.1}%), {} with value-format notes, {} skipped",
            self.label,
            self.fully_mapped,
            self.rules,
            pct(self.fully_mapped),
            self.logsource_mapped,
            self.rules,
            pct(self.logsource_mapped),
            self.value_format,
            self.skipped
        );
        if !self.unmapped_logsources.is_empty() {
            let _ = writeln!(s, "  unmapped log sources:");
            for r in self.unmapped_logsources.iter().take(top) {
                let _ = writeln!(s, "    {:5}  {}", r.rules, r.name);
            }
        }
        if !self.unmapped_fields.is_empty() {
            let _ = writeln!(s, "  unmapped fields:");
            for r in self.unmapped_fields.iter().take(top) {
                let _ = writeln!(s, "    {:5}  {}", r.rules, r.name);
            }
        }
        s
    }
}

fn sorted_rows(m: BTreeMap<String, usize>) -> Vec<CoverageRow> {
    let mut v: Vec<CoverageRow> = m
        .into_iter()
        .map(|(name, rules)| CoverageRow { name, rules })
        .collect();
    v.sort_by(|a, b| b.rules.cmp(&a.rules).then_with(|| a.name.cmp(&b.name)));
    v
}

impl Mapping {
    /// Per target schema: the share of rules whose log source and every field map, and the
    /// unmapped log sources and fields by frequency.
    pub fn coverage(&self, rules: &[Rule], to: Schema) -> CoverageReport {
        let mut report = CoverageReport {
            target: to,
            label: match to {
                Schema::Sentinel => format!("sentinel ({})", self.sentinel_set.name()),
                other => other.name().to_string(),
            },
            rules: 0,
            skipped: 0,
            logsource_mapped: 0,
            fully_mapped: 0,
            value_format: 0,
            unmapped_logsources: Vec::new(),
            unmapped_fields: Vec::new(),
        };
        let mut lss: BTreeMap<String, usize> = BTreeMap::new();
        let mut fields: BTreeMap<String, usize> = BTreeMap::new();
        for rule in rules {
            if matches!(rule.detection, Detection::Unsupported(_)) {
                report.skipped += 1;
                continue;
            }
            report.rules += 1;
            let (_, detail) = self.map_rule_detailed(rule, to);
            let label = rule_label(rule);
            let ls_ok = detail.logsource.is_some();
            if ls_ok {
                report.logsource_mapped += 1;
            } else {
                *lss.entry(label.clone()).or_default() += 1;
            }
            for f in &detail.unmapped_fields {
                *fields.entry(format!("{label}: {f}")).or_default() += 1;
            }
            if ls_ok && detail.unmapped_fields.is_empty() {
                report.fully_mapped += 1;
                if detail.value_format > 0 {
                    report.value_format += 1;
                }
            }
        }
        report.unmapped_logsources = sorted_rows(lss);
        report.unmapped_fields = sorted_rows(fields);
        report
    }
}

/// A rule's log source for reports: Sigma keys, or the first index pattern of an Elastic rule
/// with its EQL category.
fn rule_label(rule: &Rule) -> String {
    let ls = &rule.logsource;
    if ls.product.is_some() || ls.category.is_some() || ls.service.is_some() {
        return ls.label();
    }
    let cat = rule
        .detection
        .filters()
        .first()
        .and_then(|f| f.category.clone());
    let ix = ls.index.first().cloned().unwrap_or_else(|| "-".into());
    match cat {
        Some(c) => format!("{ix} [{c}]"),
        None => ix,
    }
}
