//! The kuery evaluator: runs a parsed query over ECS JSON documents with Kibana's keyword-field
//! semantics (as detection-rules' `lib/kql` evaluator implements them), directly on the syntax tree.
//!
//! - values match exactly and case-sensitively; wildcards are anchored and case-sensitive;
//! - `not` is negation over documents (a missing field satisfies `not f:x`);
//! - a field holding an array matches when any element does;
//! - `f:*` holds when the field has a non-null value;
//! - an unquoted number matches that number or a string holding it; `true`/`false` match booleans
//!   (or their text); a value with `/` that is a network matches IP addresses inside it;
//! - ranges compare numerically when both sides are numbers, else as strings;
//! - `f:{q}` evaluates `q` against each element of `f`;
//! - free text matches when any leaf value of the document equals (or glob-matches) the value;
//! - on an analysed text field ([`crate::analysis`]) a quoted value is a phrase of the field's
//!   tokens, an unquoted one any of its words (one word: the same); a wildcard matches when
//!   some lower-cased token matches it (an approximation of `query_string`, which the emitter
//!   labels);
//! - `X.caseless` (lower-case normalizer) compares `X`'s values lower-cased with the value.

use crate::analysis::{caseless_base, text_analyzer};
use crate::ast::{Chunk, Literal, LiteralKind, Node, Query, RangeOp, Unquoted, ValueList};
use crate::lower::{chunks_pattern, cidr, number};
use ruleport_model::event::{leaves, lookup, scalar_text};
use ruleport_model::matching::{cidr_contains, GlobMatcher};
use ruleport_model::text::tokens_match;
use ruleport_model::{Analyzer, Case, CompiledQuery, RunError, Scalar, StrPattern, TextMode};
use serde_json::Value;
use std::cmp::Ordering;

/// A kuery query compiled for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledKuery {
    query: Query,
}

impl CompiledKuery {
    pub fn new(query: Query) -> Self {
        CompiledKuery { query }
    }

    /// Whether one document matches.
    pub fn matches(&self, doc: &Value) -> bool {
        matches(&self.query, doc)
    }
}

impl CompiledQuery for CompiledKuery {
    fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        Ok(events
            .iter()
            .enumerate()
            .filter(|(_, e)| self.matches(e))
            .map(|(i, _)| vec![i])
            .collect())
    }
}

/// Whether a document matches a parsed query (the empty query matches everything).
pub fn matches(q: &Query, doc: &Value) -> bool {
    match &q.root {
        None => true,
        Some(n) => node(n, doc, ""),
    }
}

/// `prefix`: the nested path (with a trailing `.`) of relative field names.
fn node(n: &Node, doc: &Value, prefix: &str) -> bool {
    match n {
        Node::Or(v) => v.iter().any(|n| node(n, doc, prefix)),
        Node::And(v) => v.iter().all(|n| node(n, doc, prefix)),
        Node::Not(n) => !node(n, doc, prefix),
        Node::Nested { field, query, .. } => {
            let inner = format!("{prefix}{}.", field.text());
            field_values(field, doc)
                .into_iter()
                .any(|el| node(query, el, &inner))
        }
        Node::Range {
            field, op, value, ..
        } => {
            let want = range_scalar(value);
            field_values(field, doc)
                .into_iter()
                .any(|v| compare(v, &want).is_some_and(|o| holds(*op, o)))
        }
        Node::Is { field, values, .. } => list(field.as_ref(), values, doc, prefix),
    }
}

fn list(field: Option<&Literal>, v: &ValueList, doc: &Value, prefix: &str) -> bool {
    match v {
        ValueList::Or(items) => items.iter().any(|i| list(field, i, doc, prefix)),
        ValueList::And(items) => items.iter().all(|i| list(field, i, doc, prefix)),
        ValueList::Not(inner) => !list(field, inner, doc, prefix),
        ValueList::Value(lit) => match field {
            Some(f) if !f.is_wildcard() => {
                let full = format!("{prefix}{}", f.text());
                if let Some(a) = text_analyzer(&full) {
                    return text_is(&lookup(doc, &f.text()), lit, a);
                }
                if caseless_base(&full).is_some() {
                    let name = f.text();
                    let base = name.strip_suffix(".caseless").unwrap_or(&name);
                    return caseless_is(&lookup(doc, base), lit);
                }
                is(field, lit, doc)
            }
            _ => is(field, lit, doc),
        },
    }
}

fn string_texts<'v>(values: &'v [&Value]) -> impl Iterator<Item = std::borrow::Cow<'v, str>> {
    values.iter().filter_map(|v| match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => scalar_text(v),
        _ => None,
    })
}

/// A value on an analysed text field: `match_phrase` (quoted) or `match` (unquoted).
fn text_is(values: &[&Value], lit: &Literal, a: Analyzer) -> bool {
    if lit.is_only_wildcards() {
        return !values.is_empty();
    }
    if let LiteralKind::Unquoted(chunks) = &lit.kind {
        if lit.is_wildcard() {
            let g = GlobMatcher::new(&chunks_pattern(chunks), Case::Insensitive);
            return string_texts(values).any(|t| a.tokens(&t).iter().any(|tok| g.is_match(tok)));
        }
    }
    let query = a.tokens(&lit.text());
    let mode = if lit.is_quoted() {
        TextMode::Phrase
    } else {
        TextMode::AnyWord
    };
    string_texts(values).any(|t| tokens_match(&query, mode, &a.tokens(&t)))
}

/// A value on a `.caseless` field: both sides lower-cased by the normalizer.
fn caseless_is(values: &[&Value], lit: &Literal) -> bool {
    if lit.is_only_wildcards() {
        return !values.is_empty();
    }
    let pattern = match &lit.kind {
        LiteralKind::Unquoted(chunks) if lit.is_wildcard() => chunks_pattern(chunks),
        _ => StrPattern::literal(lit.text()),
    };
    let g = GlobMatcher::new(&pattern, Case::Insensitive);
    string_texts(values).any(|t| g.is_match(&t))
}

fn holds(op: RangeOp, o: Ordering) -> bool {
    match op {
        RangeOp::Lt => o == Ordering::Less,
        RangeOp::Le => o != Ordering::Greater,
        RangeOp::Gt => o == Ordering::Greater,
        RangeOp::Ge => o != Ordering::Less,
    }
}

fn range_scalar(lit: &Literal) -> Scalar {
    match lit.unquoted() {
        Some(Unquoted::Text(t)) => number(t).unwrap_or_else(|| Scalar::Str(t.to_string())),
        _ => Scalar::Str(lit.text()),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Numeric order when the bound or the value is a number and both read as numbers (a numeric
/// string counts), else the order of their text.
fn compare(v: &Value, want: &Scalar) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (as_number(v), want.as_f64()) {
        if want.is_number() || v.is_number() {
            return a.partial_cmp(&b);
        }
    }
    match want {
        Scalar::Str(s) => scalar_text(v).map(|t| t.as_ref().cmp(s.as_str())),
        _ => None,
    }
}

/// The values of a field; a wildcard field name matches every leaf path it fits.
fn field_values<'a>(field: &Literal, doc: &'a Value) -> Vec<&'a Value> {
    match &field.kind {
        LiteralKind::Unquoted(chunks) if field.is_wildcard() => {
            let glob = GlobMatcher::new(&chunks_pattern(chunks), Case::Sensitive);
            let mut out = Vec::new();
            collect_paths(doc, String::new(), &glob, &mut out, 0);
            out
        }
        _ => lookup(doc, &field.text()),
    }
}

fn collect_paths<'a>(
    v: &'a Value,
    path: String,
    glob: &GlobMatcher,
    out: &mut Vec<&'a Value>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                collect_paths(x, p, glob, out, depth + 1);
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_paths(x, path.clone(), glob, out, depth + 1)),
        Value::Null => {}
        scalar => {
            if glob.is_match(&path) {
                out.push(scalar);
            }
        }
    }
}

fn text_eq(v: &Value, want: &str) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
        && scalar_text(v).is_some_and(|t| t == want)
}

fn glob(chunks: &[Chunk]) -> GlobMatcher {
    GlobMatcher::new(&chunks_pattern(chunks), Case::Sensitive)
}

fn glob_any(values: &[&Value], g: &GlobMatcher) -> bool {
    values.iter().any(|v| {
        matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
            && scalar_text(v).is_some_and(|t| g.is_match(&t))
    })
}

fn is(field: Option<&Literal>, lit: &Literal, doc: &Value) -> bool {
    let Some(field) = field else {
        return free_text(lit, doc);
    };
    let values = field_values(field, doc);
    if lit.is_only_wildcards() {
        return !values.is_empty();
    }
    match &lit.kind {
        LiteralKind::Quoted(s) => match cidr(s) {
            Some(net) => values
                .iter()
                .any(|v| v.as_str().is_some_and(|t| cidr_contains(&net, t))),
            None => values.iter().any(|v| text_eq(v, s)),
        },
        LiteralKind::Unquoted(chunks) => match lit.unquoted() {
            Some(Unquoted::Wildcard(_)) => glob_any(&values, &glob(chunks)),
            Some(Unquoted::Bool(b)) => values.iter().any(|v| match v {
                Value::Bool(x) => *x == b,
                Value::String(t) => t.eq_ignore_ascii_case(if b { "true" } else { "false" }),
                _ => false,
            }),
            Some(Unquoted::Null) => values.iter().any(|v| text_eq(v, "null")),
            Some(Unquoted::Text(t)) => {
                if let Some(net) = cidr(t) {
                    values
                        .iter()
                        .any(|v| v.as_str().is_some_and(|s| cidr_contains(&net, s)))
                } else if let Some(n) = number(t) {
                    let w = n.as_f64();
                    values.iter().any(|v| w.is_some() && as_number(v) == w)
                } else {
                    values.iter().any(|v| text_eq(v, t))
                }
            }
            None => false,
        },
    }
}

fn free_text(lit: &Literal, doc: &Value) -> bool {
    let values = leaves(doc);
    match &lit.kind {
        LiteralKind::Unquoted(chunks) if lit.is_wildcard() => glob_any(&values, &glob(chunks)),
        _ => {
            let want = lit.text();
            values.iter().any(|v| text_eq(v, &want))
        }
    }
}
