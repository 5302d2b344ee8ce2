//! Elasticsearch EQL: parser, lowering to the rule model, emitter and evaluator.
//!
//! - [`parse`]: Elasticsearch's EQL (not the Endgame dialect) into a syntax tree ([`ast`]).
//! - [`parse_to_detection`]: text → [`Detection`], with EQL's three-valued logic made explicit.
//! - [`emit_detection`]: [`Detection`] → EQL text that keeps the model's meaning.
//! - [`compile`]: text → [`CompiledEql`], which runs with Elasticsearch's semantics (sequence
//!   state machine, missing events, samples, `head`/`tail`).

pub mod ast;
pub mod emit;
pub mod eval;
mod lexer;
mod lower;
pub mod lucene;
mod parser;

pub use emit::emit_detection;
pub use eval::{CompiledEql, KeyValue, Match};
pub use parser::MAX_DEPTH;

use ruleport_model::{
    CompiledQuery, Detection, Diagnostic, Fidelity, LimitKeep, MappedRule, Port, QueryLanguage,
    ResultLimit, Schema, TargetId, Unsupported,
};

/// Parse Elasticsearch EQL text; diagnostics carry 1-based positions relative to `text`.
pub fn parse(text: &str) -> Result<ast::Query, Diagnostic> {
    parser::parse_query(text)
}

/// Lower a parsed query to the rule model.
pub fn lower(query: &ast::Query) -> Result<Detection, Diagnostic> {
    lower::lower_query(query)
}

/// Lower a parsed query to the rule model with its `head`/`tail` result limit.
pub fn lower_with_limit(
    query: &ast::Query,
) -> Result<(Detection, Option<ResultLimit>), Diagnostic> {
    lower::lower_with_limit(query)
}

/// EQL text for a detection followed by its result limit as a pipe.
pub fn emit_with_limit(
    det: &Detection,
    limit: Option<ResultLimit>,
    kind_of: &dyn Fn(&str) -> ruleport_model::FieldKind,
) -> Result<(String, Vec<ruleport_model::Approximation>), Unsupported> {
    let (mut text, notes) = emit_detection(det, kind_of)?;
    if let Some(l) = limit {
        let pipe = match l.keep {
            LimitKeep::First => "head",
            LimitKeep::Last => "tail",
        };
        text.push_str(&format!(" | {pipe} {}", l.count));
    }
    Ok((text, notes))
}

/// Parse and lower EQL text to a detection.
pub fn parse_to_detection(text: &str) -> Result<Detection, Diagnostic> {
    lower(&parse(text)?)
}

/// Parse EQL text into a runnable query.
pub fn compile(text: &str) -> Result<CompiledEql, Diagnostic> {
    CompiledEql::new(parse(text)?)
}

/// The Elasticsearch EQL target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Eql;

/// The detection with the mapping's log-source conditions added to each event filter. When the
/// rule reads its category from another field (`event_category_override`), the category becomes
/// an explicit condition on that field, so the query means the same with the default field.
fn with_selection(rule: &MappedRule) -> Detection {
    let override_field = rule
        .rule
        .meta
        .extra
        .get("event_category_override")
        .and_then(|v| v.as_str())
        .filter(|f| *f != "event.category")
        .map(String::from);
    let and = |cond: &Option<ruleport_model::Expr>, f: &mut ruleport_model::EventFilter| {
        if let (Some(field), Some(cat)) = (&override_field, f.category.clone()) {
            f.category = None;
            let test = ruleport_model::Expr::matches(
                field.clone(),
                ruleport_model::StrPattern::literal(cat),
                ruleport_model::Case::Sensitive,
            );
            f.expr = lower::and_s(vec![test, f.expr.clone()]);
        }
        if let Some(c) = cond {
            f.expr = lower::and_s(vec![c.clone(), f.expr.clone()]);
        }
    };
    let mut det = rule.rule.detection.clone();
    match &mut det {
        Detection::Query(f) => and(&rule.selection.condition, f),
        Detection::Sequence(s) => {
            let n = s.steps.len();
            for (i, st) in s.steps.iter_mut().enumerate() {
                and(&rule.selection_for(i).condition, &mut st.source.filter);
            }
            if let Some(u) = &mut s.until {
                and(&rule.selection_for(n).condition, &mut u.source.filter);
            }
        }
        Detection::Sample(s) => {
            for (i, st) in s.steps.iter_mut().enumerate() {
                and(&rule.selection_for(i).condition, &mut st.source.filter);
            }
        }
        _ => {}
    }
    det
}

impl QueryLanguage for Eql {
    fn id(&self) -> TargetId {
        TargetId::Eql
    }

    fn schema(&self) -> Schema {
        Schema::Ecs
    }

    fn emit(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        let det = with_selection(rule);
        let (text, mut reasons) =
            emit_with_limit(&det, rule.rule.meta.result_limit, &|f| rule.kind_of(f))?;
        reasons.extend(rule.approximations.iter().cloned());
        Ok(Port {
            target: TargetId::Eql,
            text,
            fidelity: Fidelity::from_reasons(reasons),
        })
    }

    fn compile(&self, text: &str) -> Result<Box<dyn CompiledQuery>, Diagnostic> {
        Ok(Box::new(compile(text)?))
    }
}
