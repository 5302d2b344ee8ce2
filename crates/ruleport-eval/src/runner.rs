//! Running fixtures: the rule model is the reference; each target's emitted text is parsed back
//! and run with that target's semantics on the same events seen through the mapping layer.

use crate::convert::{query_language, rule_format, Converter};
use crate::fixtures::{Expect, FixtureCase, FixtureFile};
use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{Fidelity, Rule, Schema, TargetId};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One target's verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Verdict {
    Fired(bool),
    /// The case's events cannot exist in the target's data (e.g. a list in a Sentinel string
    /// column); it is not compared.
    NotRepresentable(String),
    Error(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    pub name: String,
    pub line: Option<u32>,
    pub expect: Expect,
    /// The rule model's verdict.
    pub reference: Verdict,
    pub targets: BTreeMap<TargetId, Verdict>,
}

/// How one target fared on one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TargetStatus {
    /// Exact port; every case agrees with the reference.
    Exact,
    /// Declared approximate; `diverged` cases differ from the reference (explained by the reasons).
    Approximate {
        reasons: Vec<String>,
        diverged: usize,
    },
    Unsupported {
        code: String,
        reason: String,
    },
    /// An exact port whose verdict differs from the reference: a wrong port.
    Mismatch {
        cases: Vec<String>,
    },
    /// The emitted text did not parse back, or running it failed.
    Error {
        message: String,
    },
}

impl TargetStatus {
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            TargetStatus::Mismatch { .. } | TargetStatus::Error { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            TargetStatus::Exact => "exact",
            TargetStatus::Approximate { .. } => "approximate",
            TargetStatus::Unsupported { .. } => "unsupported",
            TargetStatus::Mismatch { .. } => "MISMATCH",
            TargetStatus::Error { .. } => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub rule_id: String,
    pub title: String,
    pub rule_path: Option<PathBuf>,
    pub fixtures_path: PathBuf,
    pub cases: Vec<CaseOutcome>,
    /// Cases where the rule model disagrees with the fixture's expectation.
    pub reference_failures: Vec<String>,
    pub targets: BTreeMap<TargetId, TargetStatus>,
    pub ports: BTreeMap<TargetId, String>,
}

impl RuleReport {
    pub fn failed(&self) -> bool {
        !self.reference_failures.is_empty() || self.targets.values().any(TargetStatus::is_failure)
    }
}

/// Runs fixture files against rules.
pub struct Runner<'c> {
    pub converter: &'c Converter,
    pub targets: Vec<TargetId>,
}

impl<'c> Runner<'c> {
    #[allow(clippy::too_many_arguments)]
    fn events_for(
        &self,
        rule_schema: Schema,
        file: &FixtureFile,
        case: &FixtureCase,
        to: Schema,
        target: Option<TargetId>,
        table: Option<&str>,
    ) -> Vec<Value> {
        if let Some(t) = target {
            if let Some(v) = case.views.get(&t) {
                return v.clone().into_vec();
            }
        }
        let from = file.schema.unwrap_or(rule_schema);
        let declared = case.logsource.as_deref().or(file.logsource.as_deref());
        case.events()
            .iter()
            .map(|e| {
                self.converter
                    .mapping
                    .view_event_in(e, from, declared, to, table)
            })
            .collect()
    }

    fn reference_verdict(
        &self,
        rule: &Rule,
        ev: &Result<RuleEvaluator<'_>, String>,
        file: &FixtureFile,
        case: &FixtureCase,
    ) -> Verdict {
        let ev = match ev {
            Ok(e) => e,
            Err(e) => return Verdict::Error(e.clone()),
        };
        let events = self.events_for(rule.schema, file, case, rule.schema, None, None);
        let mapping = &self.converter.mapping;
        let schema = rule.schema;
        let gate = |doc: &Value, ls: &ruleport_model::LogSource| {
            mapping.event_in_logsource(doc, schema, ls)
        };
        Verdict::Fired(ev.run(&events, Some(&gate)).len() >= case.min_matches.unwrap_or(1).max(1))
    }

    /// Run every case of a fixture file against a rule on every target.
    pub fn run(
        &self,
        rule: &Rule,
        rule_path: Option<PathBuf>,
        fixtures_path: PathBuf,
        file: &FixtureFile,
    ) -> RuleReport {
        let mut report = RuleReport {
            rule_id: rule.meta.id.clone(),
            title: rule.meta.title.clone(),
            rule_path,
            fixtures_path,
            cases: Vec::new(),
            reference_failures: Vec::new(),
            targets: BTreeMap::new(),
            ports: BTreeMap::new(),
        };
        // Compiled once per rule: compiling builds automata and regexes.
        let ev = RuleEvaluator::new(rule).map_err(|e| e.to_string());
        for case in &file.cases {
            let reference = self.reference_verdict(rule, &ev, file, case);
            if reference != Verdict::Fired(case.expect.fires()) {
                report.reference_failures.push(case.name.clone());
            }
            report.cases.push(CaseOutcome {
                name: case.name.clone(),
                line: case.line,
                expect: case.expect,
                reference,
                targets: BTreeMap::new(),
            });
        }
        for &t in &self.targets {
            let status = self.run_target(rule, file, t, &mut report);
            report.targets.insert(t, status);
        }
        report
    }

    fn run_target(
        &self,
        rule: &Rule,
        file: &FixtureFile,
        t: TargetId,
        report: &mut RuleReport,
    ) -> TargetStatus {
        let port = match self.converter.port(rule, t) {
            Ok(p) => p,
            Err(u) => {
                return TargetStatus::Unsupported {
                    code: u.code,
                    reason: u.reason,
                }
            }
        };
        report.ports.insert(t, port.text.clone());
        // The Sentinel table the port reads decides which row an event becomes.
        let sentinel_mapped = query_language(t)
            .filter(|l| l.schema() == Schema::Sentinel)
            .map(|l| self.converter.mapping.map_rule(rule, l.schema()));
        let table = sentinel_mapped
            .as_ref()
            .and_then(|m| m.selection.tables.first().cloned());
        // Parse the emitted text back with the target's own parser.
        let verdicts: Vec<Verdict> = if let Some(lang) = query_language(t) {
            let compiled = match lang.compile(&port.text) {
                Ok(c) => c,
                Err(d) => {
                    return TargetStatus::Error {
                        message: format!("emitted {t} does not parse back: {d}"),
                    }
                }
            };
            file.cases
                .iter()
                .map(|case| {
                    let events = self.events_for(
                        rule.schema,
                        file,
                        case,
                        lang.schema(),
                        Some(t),
                        table.as_deref(),
                    );
                    if let Some(m) = &sentinel_mapped {
                        if let Some(why) = sentinel_unrepresentable(&events, m) {
                            return Verdict::NotRepresentable(why);
                        }
                    }
                    match compiled.run(&events) {
                        Ok(groups) => {
                            Verdict::Fired(groups.len() >= case.min_matches.unwrap_or(1).max(1))
                        }
                        Err(e) => Verdict::Error(e.to_string()),
                    }
                })
                .collect()
        } else if let Some(fmt) = rule_format(t) {
            let back = match fmt.import_text(&port.text, None) {
                Ok(mut rules) if !rules.is_empty() => rules.remove(0),
                Ok(_) => {
                    return TargetStatus::Error {
                        message: format!("exported {t} holds no rule"),
                    }
                }
                Err(d) => {
                    let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
                    return TargetStatus::Error {
                        message: format!("exported {t} does not import back: {}", msgs.join("; ")),
                    };
                }
            };
            let back_ev = RuleEvaluator::new(&back).map_err(|e| e.to_string());
            file.cases
                .iter()
                .map(|case| {
                    let events =
                        self.events_for(rule.schema, file, case, back.schema, Some(t), None);
                    let mapping = &self.converter.mapping;
                    let schema = back.schema;
                    let gate = |doc: &Value, ls: &ruleport_model::LogSource| {
                        mapping.event_in_logsource(doc, schema, ls)
                    };
                    match &back_ev {
                        Ok(ev) => Verdict::Fired(
                            ev.run(&events, Some(&gate)).len()
                                >= case.min_matches.unwrap_or(1).max(1),
                        ),
                        Err(e) => Verdict::Error(e.clone()),
                    }
                })
                .collect()
        } else {
            return TargetStatus::Unsupported {
                code: "unknown-target".into(),
                reason: "no emitter".into(),
            };
        };
        let mut diverged = Vec::new();
        for (case, verdict) in report.cases.iter_mut().zip(verdicts) {
            if let Verdict::Error(e) = &verdict {
                return TargetStatus::Error {
                    message: format!("case `{}`: {e}", case.name),
                };
            }
            if !matches!(verdict, Verdict::NotRepresentable(_)) && verdict != case.reference {
                diverged.push(case.name.clone());
            }
            case.targets.insert(t, verdict);
        }
        match port.fidelity {
            Fidelity::Exact if diverged.is_empty() => TargetStatus::Exact,
            Fidelity::Exact => TargetStatus::Mismatch { cases: diverged },
            Fidelity::Approximate(reasons) => TargetStatus::Approximate {
                reasons: reasons.iter().map(ToString::to_string).collect(),
                diverged: diverged.len(),
            },
        }
    }
}

/// A Sentinel row holds one value per column: a list of values is only possible as a whole
/// `dynamic` column. A list of scalars anywhere else (a string column, or a scalar inside a
/// dynamic column such as WindowsEvent's EventData) cannot occur in Sentinel data.
fn sentinel_unrepresentable(
    events: &[Value],
    mapped: &ruleport_model::MappedRule,
) -> Option<String> {
    fn scalar_list(v: &Value) -> bool {
        matches!(v, Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()))
    }
    fn nested(v: &Value, path: &str, depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        match v {
            Value::Object(m) => m
                .iter()
                .find_map(|(k, x)| nested(x, &format!("{path}.{k}"), depth + 1)),
            Value::Array(a) if scalar_list(v) && !a.is_empty() => Some(path.to_string()),
            Value::Array(a) => a.iter().find_map(|x| nested(x, path, depth + 1)),
            _ => None,
        }
    }
    for e in events {
        let Value::Object(m) = e else { continue };
        for (col, v) in m {
            let dynamic = mapped.kind_of(col) == ruleport_model::FieldKind::Dynamic;
            if v.is_array() && !dynamic && scalar_list(v) {
                return Some(format!("column `{col}` would hold a list"));
            }
            if v.is_object() {
                if let Some(p) = nested(v, col, 0) {
                    return Some(format!("`{p}` would hold a list of values"));
                }
            }
        }
    }
    None
}
