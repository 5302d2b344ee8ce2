//! The contract between the mapping layer, the emitters and the evaluator.
//!
//! Stage order: source file → importer → [`Rule`] (source schema) → mapping layer →
//! [`MappedRule`] (target schema + how the target selects the log source) → emitter → text →
//! that target's parser → [`CompiledQuery`] → run over events viewed in the target's schema.

use crate::diag::Diagnostic;
use crate::expr::Expr;
use crate::port::{Approximation, Port, TargetId, Unsupported};
use crate::rule::{Rule, Schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The type of a target field, from the target's schema (drives operator choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    #[default]
    Unknown,
    /// Exact-match string (ECS keyword, Kusto string).
    Keyword,
    /// Analysed full text (ECS text / match_only_text).
    Text,
    Integer,
    Float,
    Bool,
    Date,
    Ip,
    /// Kusto `dynamic` (JSON).
    Dynamic,
    Guid,
}

impl FieldKind {
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldKind::Integer | FieldKind::Float)
    }
}

/// How a target selects the events of a rule's log source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SourceSelection {
    /// The mapping's log-source id, for reports.
    pub logsource_id: Option<String>,
    /// Elastic index patterns.
    pub indexes: Vec<String>,
    /// Sentinel tables (several mean `union`).
    pub tables: Vec<String>,
    /// A condition in the target schema that every event of the source satisfies and that the
    /// query must add (`sourcetype=…`, `event.category:process`, `EventID == 4688`).
    pub condition: Option<Expr>,
}

/// A rule whose field names are in the target's schema, ready for an emitter.
#[derive(Debug, Clone)]
pub struct MappedRule {
    pub rule: Rule,
    pub target_schema: Schema,
    /// Selection for the rule's own log source.
    pub selection: SourceSelection,
    /// Selection per event source of a multi-source detection, in `Detection::filters` order
    /// (empty when every source uses the rule's selection).
    pub source_selections: Vec<SourceSelection>,
    /// Known types of the target fields the rule uses.
    pub field_kinds: BTreeMap<String, FieldKind>,
    /// What the mapping could not keep exactly (unmapped fields, lossy log sources…).
    pub approximations: Vec<Approximation>,
}

impl MappedRule {
    /// A rule used as-is in its own schema (no renaming, no added selection).
    pub fn identity(rule: Rule) -> Self {
        let schema = rule.schema;
        MappedRule {
            rule,
            target_schema: schema,
            selection: SourceSelection::default(),
            source_selections: Vec::new(),
            field_kinds: BTreeMap::new(),
            approximations: Vec::new(),
        }
    }

    pub fn kind_of(&self, field: &str) -> FieldKind {
        self.field_kinds.get(field).copied().unwrap_or_default()
    }

    /// The selection of event source `i` (falls back to the rule's).
    pub fn selection_for(&self, i: usize) -> &SourceSelection {
        self.source_selections.get(i).unwrap_or(&self.selection)
    }
}

/// An error while running a compiled query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

/// A target query parsed back from its text, runnable with that target's semantics.
pub trait CompiledQuery: Send + Sync {
    /// Run over events (already viewed in the target's schema, in time order). Each result is
    /// one alert: the indexes of the events it covers.
    fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError>;
}

/// A query language target: emit, parse back, evaluate.
pub trait QueryLanguage: Send + Sync {
    fn id(&self) -> TargetId;

    /// The schema its field names must be in.
    fn schema(&self) -> Schema;

    /// Emit a query. Approximations from mapping must be carried into the port's fidelity.
    fn emit(&self, rule: &MappedRule) -> Result<Port, Unsupported>;

    /// Parse emitted text back into a runnable query. Unknown syntax is an error, never a pass.
    fn compile(&self, text: &str) -> Result<Box<dyn CompiledQuery>, Diagnostic>;
}

/// A rule file format: import and export whole rules.
pub trait RuleFormat: Send + Sync {
    fn id(&self) -> TargetId;

    /// The schema exported rules are written in.
    fn schema(&self) -> Schema;

    /// Export a rule (whose fields are already in `schema()`).
    fn export(&self, rule: &MappedRule) -> Result<Port, Unsupported>;

    /// Read rules back from exported text (used to check exports by round trip).
    fn import_text(
        &self,
        text: &str,
        path: Option<&std::path::Path>,
    ) -> Result<Vec<Rule>, Vec<Diagnostic>>;
}
