//! Elastic detection-rules TOML importer and exporter.
//!
//! - [`import_str`] / [`import_file`] read one rule file (every rule type: query, eql, threshold,
//!   new_terms, esql, machine_learning, threat_match) into a [`Rule`](ruleport_model::Rule) in the
//!   ECS schema; logic this version cannot model becomes `Detection::Unsupported` with a reason.
//!   Every error is a `Diagnostic` with file, line, column, rule id and code; query errors are
//!   reported at their position in the file.
//! - [`ElasticFormat`] implements [`RuleFormat`](ruleport_model::RuleFormat): export to TOML and
//!   read back.

mod eql;
mod export;
mod import;
mod read;
mod schema;

pub use export::{export_rule, ElasticFormat};
pub use import::{import_file, import_str};

/// Diagnostic codes.
pub mod codes {
    pub use crate::read::{E_MISSING, E_TOML, E_TYPE, E_UNKNOWN, E_VALUE};
}

#[cfg(test)]
mod tests;
