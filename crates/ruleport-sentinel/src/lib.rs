//! Microsoft Sentinel KQL (Kusto): emitter, parser and evaluator for the emitted subset.
//!
//! - [`Sentinel`] implements [`QueryLanguage`]: [`emit`](QueryLanguage::emit) writes
//!   `Table | where …` (or `union`, `summarize`) from a [`MappedRule`] whose field names are
//!   Sentinel columns, and [`compile`](QueryLanguage::compile) parses Kusto back into a
//!   runnable query with Kusto's semantics ([`eval`]).
//! - [`parse`] gives the [`ast::Query`] of a text in the supported subset; anything else is a
//!   [`Diagnostic`] with line and column.
//! - [`schema`] knows the Sentinel tables' columns: the emitter refuses columns a table lacks
//!   (`unknown-column`) and types columns the mapping left untyped.
//! - `kusto-check/` holds a Node script that validates queries with Microsoft's own
//!   Kusto.Language parser and binder against the Sentinel table schemas.

/// The parsed Kusto subset.
pub mod ast;
/// `MappedRule` → Kusto text.
pub mod emit;
/// Kusto semantics over Sentinel rows.
pub mod eval;
/// String literals and names.
pub mod literal;
/// Text → [`ast::Query`].
pub mod parser;
/// Rust regex ↔ RE2.
pub mod regex_dialect;
/// Sentinel table schemas.
pub mod schema;

use ruleport_model::{
    CompiledQuery, Diagnostic, Fidelity, MappedRule, Port, QueryLanguage, Schema, TargetId,
    Unsupported,
};

pub use emit::EmitOptions;
pub use eval::{CompiledKusto, KValue};
pub use literal::{column_name, string_literal};

/// The Microsoft Sentinel (Kusto) target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sentinel;

/// Parse a query in the supported Kusto subset.
pub fn parse(text: &str) -> Result<ast::Query, Diagnostic> {
    parser::parse(text)
}

/// Parse and prepare a query for evaluation (regexes compiled).
pub fn compile(text: &str) -> Result<CompiledKusto, Diagnostic> {
    let q = parser::parse(text)?;
    CompiledKusto::new(q).map_err(|m| Diagnostic::error("E-KQL-REGEX", m))
}

impl Sentinel {
    /// Emit with pack options (time filter, projected entity columns).
    pub fn emit_with_options(
        &self,
        rule: &MappedRule,
        options: &emit::EmitOptions,
    ) -> Result<Port, Unsupported> {
        let (text, approx) = emit::Emitter::with_options(rule, options.clone()).emit()?;
        Ok(Port {
            target: TargetId::Sentinel,
            text,
            fidelity: Fidelity::from_reasons(approx),
        })
    }
}

impl QueryLanguage for Sentinel {
    fn id(&self) -> TargetId {
        TargetId::Sentinel
    }

    fn schema(&self) -> Schema {
        Schema::Sentinel
    }

    fn emit(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        self.emit_with_options(rule, &emit::EmitOptions::default())
    }

    fn compile(&self, text: &str) -> Result<Box<dyn CompiledQuery>, Diagnostic> {
        Ok(Box::new(compile(text)?))
    }
}
