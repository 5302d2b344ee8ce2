//! Sigma YAML importer (the whole Sigma 2.x specification) and exporter, plus a reader for
//! SigmaHQ's `regression_data` (EVTX and its JSON rendering).
//!
//! Semantic choices where the specification is silent (sigma.md §1.10):
//! - Keywords (field-less values) are case-insensitive substring searches over every field value,
//!   as SigmaHQ's regression runner treats them.
//! - Regexes search (unanchored) and are case-sensitive unless `i` is given.
//! - `null` means the field is missing or null (`Not(Exists)`); `''` is the empty string.
//! - `neq` negates the whole item (`F|neq: [a, b]` is `not (F = a or F = b)`), as pySigma does.
//! - A `1 of pattern` that matches no identifier is an error.
//! - Filters are applied as `(rule) and (filter condition)` (pySigma); write `not selection` to exclude.

mod condition;
mod detection;
mod export;
mod import;
mod modifiers;
pub mod regression;
mod strings;
mod yaml;

pub use export::{export_rule, SigmaExport};
pub use import::{import_collection, import_file, import_str, ImportOutcome};

use ruleport_model::{
    Diagnostic, Fidelity, MappedRule, Port, Rule, RuleFormat, Schema, TargetId, Unsupported,
};
use std::path::Path;

/// The Sigma rule format: import and export.
#[derive(Debug, Clone, Copy, Default)]
pub struct SigmaFormat;

impl RuleFormat for SigmaFormat {
    fn id(&self) -> TargetId {
        TargetId::Sigma
    }

    fn schema(&self) -> Schema {
        Schema::Sigma
    }

    fn export(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        let out = export_rule(&rule.rule)?;
        let mut reasons = rule.approximations.clone();
        reasons.extend(out.approximations);
        Ok(Port {
            target: TargetId::Sigma,
            text: out.text,
            fidelity: Fidelity::from_reasons(reasons),
        })
    }

    fn import_text(&self, text: &str, path: Option<&Path>) -> Result<Vec<Rule>, Vec<Diagnostic>> {
        let out = import_str(text, path);
        if out.has_errors() {
            Err(out.diagnostics)
        } else {
            Ok(out.rules)
        }
    }
}
