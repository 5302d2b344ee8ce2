//! Kibana KQL (kuery): parser, lowering, emitter and evaluator.
//!
//! - [`parse`] follows Kibana's `grammar.peggy` (precedence `not` > `and` > `or`, keywords in any
//!   case, unquoted values with inner spaces, value lists, escapes, ranges, `f:*`, nested, free text).
//! - [`lower`] turns the tree into the rule model ([`Expr`]) with keyword-field semantics.
//! - [`emit_expr`] writes canonical kuery from the rule model; what kuery cannot say exactly is an
//!   [`Approximation`](ruleport_model::Approximation) or [`Unsupported`](ruleport_model::Unsupported).
//! - [`Kuery`] implements [`ruleport_model::QueryLanguage`]; [`CompiledKuery`] evaluates.

pub mod analysis;
pub mod ast;
mod emit;
mod eval;
mod lower;
mod parser;
mod target;

pub use emit::{emit_expr, emit_expr_with, field_text, quoted};
pub use eval::{matches, CompiledKuery};
pub use lower::{field_name, lower, E_FIELD, E_TEXT_WILDCARD};
pub use parser::{parse, E_DEPTH, E_SYNTAX, MAX_DEPTH};
pub use target::{category_field, has_caseless_fields, query_expr, Kuery};

use ruleport_model::{Diagnostic, Expr};

/// Parse kuery text and lower it into the rule model.
pub fn parse_to_expr(text: &str) -> Result<Expr, Diagnostic> {
    lower(&parse(text)?)
}

#[cfg(test)]
mod tests;
