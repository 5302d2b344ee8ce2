//! The ruleport rule model.
//!
//! - [`Rule`]: metadata ([`RuleMeta`]), log source, a [`Detection`] over the single-event IR
//!   ([`Expr`]), the schema its field names are in, and provenance.
//! - [`eval`]: the reference semantics every port is checked against.
//! - [`target`]: the contract emitters, parsers and evaluators implement.

pub mod detection;
pub mod diag;
pub mod eval;
pub mod event;
pub mod expr;
pub mod functions;
pub mod input;
pub mod matching;
pub mod pcre;
pub mod port;
pub mod rule;
pub mod target;
pub mod text;
pub mod value;
pub mod yaml_budget;

pub use detection::{
    AggCondition, Aggregation, Detection, EventFilter, EventSource, LimitKeep, Metric, NewTerms,
    ResultLimit, Sample, SeqStep, Sequence, UnsupportedDetection, WindowKind,
};
pub use diag::{Diagnostic, Level, Pos};
pub use expr::{
    ArithOp, CmpOp, Expr, FieldRefKind, Op, Operand, Predicate, RegexAnchor, RegexSpec, Subject,
};
pub use port::{Approximation, ApproximationPolicy, Fidelity, Port, TargetId, Unsupported};
pub use rule::{
    AttackRef, LogSource, Provenance, RelatedRule, Rule, RuleMeta, Schema, Severity, SourceFormat,
    Technique, ThreatMapping,
};
pub use target::{
    CompiledQuery, FieldKind, MappedRule, QueryLanguage, RuleFormat, RunError, SourceSelection,
};
pub use text::{Analyzer, TextMode, TextQuery};
pub use value::{Case, PatternShape, Piece, Scalar, StrPattern, TimeSpan};
