//! Lowering the kuery tree into the rule model (ECS field names).
//!
//! Choices (Kibana keyword-field semantics):
//! - quoted value → exact, case-sensitive `Match`; a value with `/` that parses as a network → `Cidr`;
//! - unquoted value with `*` → case-sensitive glob (`*` only; `?` is literal); a lone `*` → `Exists`;
//! - unquoted canonical integer/float → `Eq(Int/Float)`; `true`/`false` → `Eq(Bool)`;
//! - unquoted `null` is kept as the text `null` (Kibana would build a null query value);
//! - ranges compare with a number when the unquoted literal is numeric, else with the string
//!   (date math such as `now-30d/d` stays a string);
//! - a `*` in a field name is kept in the model's field name (a wildcard over field names);
//! - free text (no field) → `Subject::Keyword` with a case-sensitive `Match`: some leaf value of
//!   the document equals (or glob-matches) the value. Kibana runs a lenient `multi_match` /
//!   `query_string` over all fields; on keyword fields that is exactly this.

use crate::ast::{Chunk, Literal, LiteralKind, Node, Query, RangeOp, Unquoted, ValueList};
use crate::parser::{E_DEPTH, MAX_DEPTH};
use ipnet::IpNet;
use ruleport_model::{Case, CmpOp, Diagnostic, Expr, Op, Piece, Scalar, StrPattern, Subject};

/// Error code for field names the rule model cannot hold.
pub const E_FIELD: &str = "E-KUERY-FIELD";

/// Lower a parsed query into the rule model.
pub fn lower(q: &Query) -> Result<Expr, Diagnostic> {
    match &q.root {
        None => Ok(Expr::Const(true)),
        Some(n) => lower_node(n, 0),
    }
}

fn too_deep(depth: usize) -> Result<(), Diagnostic> {
    if depth > 4 * MAX_DEPTH {
        return Err(Diagnostic::error(E_DEPTH, "query nested too deeply"));
    }
    Ok(())
}

fn lower_node(n: &Node, depth: usize) -> Result<Expr, Diagnostic> {
    too_deep(depth)?;
    Ok(match n {
        Node::Or(v) => Expr::or(
            v.iter()
                .map(|n| lower_node(n, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Node::And(v) => Expr::and(
            v.iter()
                .map(|n| lower_node(n, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Node::Not(n) => Expr::not(lower_node(n, depth + 1)?),
        Node::Nested { field, query, .. } => Expr::Nested {
            path: field_name(field)?,
            inner: Box::new(lower_node(query, depth + 1)?),
        },
        Node::Range {
            field, op, value, ..
        } => Expr::pred(
            Subject::field(field_name(field)?),
            Op::Cmp {
                op: cmp_op(*op),
                value: range_value(value),
            },
        ),
        Node::Is { field, values, .. } => {
            let subject = match field {
                Some(f) => Some(field_name(f)?),
                None => None,
            };
            lower_values(subject.as_deref(), values, depth + 1)?
        }
    })
}

fn lower_values(field: Option<&str>, v: &ValueList, depth: usize) -> Result<Expr, Diagnostic> {
    too_deep(depth)?;
    Ok(match v {
        ValueList::Or(items) => Expr::or(
            items
                .iter()
                .map(|i| lower_values(field, i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ValueList::And(items) => Expr::and(
            items
                .iter()
                .map(|i| lower_values(field, i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ValueList::Not(inner) => Expr::not(lower_values(field, inner, depth + 1)?),
        ValueList::Value(lit) => match field {
            Some(f) => Expr::pred(Subject::field(f), field_value_op(lit)),
            None => Expr::pred(Subject::Keyword, free_text_op(lit)),
        },
    })
}

fn cmp_op(op: RangeOp) -> CmpOp {
    match op {
        RangeOp::Lt => CmpOp::Lt,
        RangeOp::Le => CmpOp::Le,
        RangeOp::Gt => CmpOp::Gt,
        RangeOp::Ge => CmpOp::Ge,
    }
}

/// The field name a literal names. A `*` in the name is a wildcard over field names (Kibana
/// expands it against the data view; the corpus uses it for flattened arrays such as
/// `target_resources.*.type`). The rule model keeps it in the name: ECS names never contain a
/// literal `*`, so a `*` in a model field name means this wildcard.
pub fn field_name(lit: &Literal) -> Result<String, Diagnostic> {
    let name = match lit.unquoted() {
        None | Some(Unquoted::Wildcard(_)) => lit.text(),
        Some(Unquoted::Null) => "null".into(),
        Some(Unquoted::Bool(b)) => b.to_string(),
        Some(Unquoted::Text(t)) => t.to_string(),
    };
    if name.is_empty() {
        return Err(Diagnostic::error(E_FIELD, "empty field name").at(lit.span.pos));
    }
    Ok(name)
}

fn sensitive(pattern: StrPattern) -> Op {
    Op::Match {
        pattern,
        case: Case::Sensitive,
    }
}

/// The pattern of an unquoted wildcard literal (`*` wildcards, everything else literal).
pub(crate) fn chunks_pattern(chunks: &[Chunk]) -> StrPattern {
    StrPattern::new(chunks.iter().map(|c| match c {
        Chunk::Text(t) => Piece::Lit(t.clone()),
        Chunk::Wildcard => Piece::AnyChars,
    }))
}

/// A network when the text has a `/` and parses as one.
pub(crate) fn cidr(text: &str) -> Option<IpNet> {
    if !text.contains('/') {
        return None;
    }
    text.parse::<IpNet>().ok()
}

/// A number when the text is in canonical form (so that emitting it gives back the same text).
pub(crate) fn number(text: &str) -> Option<Scalar> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    let int_like = digits.bytes().all(|b| b.is_ascii_digit());
    if int_like {
        if digits.len() > 1 && digits.starts_with('0') {
            return None;
        }
        return text.parse::<i64>().ok().map(Scalar::Int);
    }
    let ok_chars = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !ok_chars || !digits.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    (f.is_finite() && float_text(f) == text).then_some(Scalar::Float(f))
}

/// The canonical text of a float (always with `.` or an exponent).
pub(crate) fn float_text(f: f64) -> String {
    format!("{f:?}")
}

fn field_value_op(lit: &Literal) -> Op {
    match &lit.kind {
        LiteralKind::Quoted(s) => match cidr(s) {
            Some(net) => Op::Cidr(net),
            None => sensitive(StrPattern::literal(s.clone())),
        },
        LiteralKind::Unquoted(chunks) => {
            if lit.is_only_wildcards() {
                return Op::Exists;
            }
            match lit.unquoted() {
                Some(Unquoted::Wildcard(_)) => sensitive(chunks_pattern(chunks)),
                Some(Unquoted::Bool(b)) => Op::Eq(Scalar::Bool(b)),
                Some(Unquoted::Null) => sensitive(StrPattern::literal("null")),
                Some(Unquoted::Text(t)) => {
                    if let Some(net) = cidr(t) {
                        Op::Cidr(net)
                    } else if let Some(n) = number(t) {
                        Op::Eq(n)
                    } else {
                        sensitive(StrPattern::literal(t))
                    }
                }
                None => sensitive(StrPattern::literal(lit.text())),
            }
        }
    }
}

fn free_text_op(lit: &Literal) -> Op {
    match &lit.kind {
        LiteralKind::Unquoted(chunks) if lit.is_wildcard() => sensitive(chunks_pattern(chunks)),
        _ => sensitive(StrPattern::literal(lit.text())),
    }
}

fn range_value(lit: &Literal) -> Scalar {
    match lit.unquoted() {
        Some(Unquoted::Text(t)) => number(t).unwrap_or_else(|| Scalar::Str(t.to_string())),
        _ => Scalar::Str(lit.text()),
    }
}
