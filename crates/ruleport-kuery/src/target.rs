//! `Kuery` as a ruleport query-language target.

use crate::analysis::CASELESS_INDEXES;
use crate::emit::emit_expr_with;
use crate::eval::CompiledKuery;
use crate::parser::parse;
use ruleport_model::{
    Case, CompiledQuery, Detection, Diagnostic, Expr, Fidelity, MappedRule, Port, QueryLanguage,
    Schema, StrPattern, TargetId, Unsupported,
};

/// Kibana KQL: emits single-event queries, parses them back and evaluates them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kuery;

/// The field an EQL event category is matched against for this rule.
pub fn category_field(rule: &ruleport_model::Rule) -> &str {
    rule.meta
        .extra
        .get("event_category_override")
        .and_then(|v| v.as_str())
        .unwrap_or("event.category")
}

/// The single-event condition a kuery port of `filter` must express: the source selection, the
/// event category (`event.category:<cat>`) and the filter's expression.
pub fn query_expr(
    rule: &MappedRule,
    filter: &ruleport_model::EventFilter,
    selection: Option<&Expr>,
) -> Expr {
    let mut parts = Vec::new();
    if let Some(c) = selection {
        parts.push(c.clone());
    }
    if let Some(cat) = filter
        .category
        .as_deref()
        .filter(|c| !c.eq_ignore_ascii_case("any"))
    {
        parts.push(Expr::matches(
            category_field(&rule.rule),
            StrPattern::literal(cat),
            Case::Sensitive,
        ));
    }
    parts.push(filter.expr.clone());
    Expr::and(parts)
}

/// Whether case-insensitive matches on `process.name`/`process.executable` may be written on
/// their `.caseless` fields: every index the rule reads has them (the selection's indexes, else
/// the rule's own), or the rule is kuery, whose only case-insensitive matches are its own
/// `.caseless` terms (writing them back keeps the author's query).
pub fn has_caseless_fields(rule: &MappedRule) -> bool {
    if rule.rule.language == "kuery" {
        return true;
    }
    let indexes = if rule.selection.indexes.is_empty() {
        &rule.rule.logsource.index
    } else {
        &rule.selection.indexes
    };
    !indexes.is_empty()
        && indexes
            .iter()
            .all(|i| CASELESS_INDEXES.iter().any(|p| i.starts_with(p)))
}

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Kuery, code, reason)
}

impl QueryLanguage for Kuery {
    fn id(&self) -> TargetId {
        TargetId::Kuery
    }

    fn schema(&self) -> Schema {
        Schema::Ecs
    }

    fn emit(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        let filter = match &rule.rule.detection {
            Detection::Query(f) => f,
            Detection::Sequence(_) => {
                return Err(unsupported(
                    "kuery-sequence",
                    "kuery matches single events; a sequence needs ordered correlation (use EQL)",
                ))
            }
            Detection::Sample(_) => {
                return Err(unsupported(
                    "kuery-sample",
                    "kuery matches single events; a sample needs correlation by join keys (use EQL)",
                ))
            }
            Detection::Aggregation(_) => {
                return Err(unsupported(
                    "kuery-aggregation",
                    "kuery cannot count or group events (export an Elastic threshold rule instead)",
                ))
            }
            Detection::NewTerms(_) => {
                return Err(unsupported(
                    "kuery-new-terms",
                    "kuery cannot compare with a history window (export an Elastic new_terms rule instead)",
                ))
            }
            Detection::Unsupported(u) => {
                return Err(unsupported(
                    "kuery-unsupported-detection",
                    format!("{} detection: {}", u.kind, u.reason),
                ))
            }
        };
        let expr = query_expr(rule, filter, rule.selection.condition.as_ref());
        let (text, mut approx) =
            emit_expr_with(&expr, &|f| rule.kind_of(f), has_caseless_fields(rule))?;
        approx.extend(rule.approximations.iter().cloned());
        Ok(Port {
            target: TargetId::Kuery,
            text,
            fidelity: Fidelity::from_reasons(approx),
        })
    }

    fn compile(&self, text: &str) -> Result<Box<dyn CompiledQuery>, Diagnostic> {
        Ok(Box::new(CompiledKuery::new(parse(text)?)))
    }
}
