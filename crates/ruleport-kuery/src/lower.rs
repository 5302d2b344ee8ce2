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
//! - a value on an analysed text field ([`crate::analysis`]) → `Op::Text`: a phrase when quoted
//!   or a single token (`match_phrase`), any word when unquoted with several (`match`); a
//!   wildcard there is refused ([`E_TEXT_WILDCARD`]: `query_string` over analysed tokens is not
//!   modelled);
//! - a value on `X.caseless` (a lower-case normalizer) → a case-insensitive `Match` on `X`.

use crate::analysis::{caseless_base, text_analyzer};
use crate::ast::{Chunk, Literal, LiteralKind, Node, Query, RangeOp, Unquoted, ValueList};
use crate::parser::{E_DEPTH, MAX_DEPTH};
use ipnet::IpNet;
use ruleport_model::{
    Analyzer, Case, CmpOp, Diagnostic, Expr, Op, Piece, Scalar, StrPattern, Subject, TextMode,
    TextQuery,
};

/// Error code for field names the rule model cannot hold.
pub const E_FIELD: &str = "E-KUERY-FIELD";

/// Error code for a wildcard value on an analysed text field: valid kuery whose meaning
/// (`query_string` wildcards over analysed tokens) the rule model does not hold.
pub const E_TEXT_WILDCARD: &str = "E-KUERY-TEXT-WILDCARD";

/// Lower a parsed query into the rule model.
pub fn lower(q: &Query) -> Result<Expr, Diagnostic> {
    match &q.root {
        None => Ok(Expr::Const(true)),
        Some(n) => lower_node(n, 0, ""),
    }
}

fn too_deep(depth: usize) -> Result<(), Diagnostic> {
    if depth > 4 * MAX_DEPTH {
        return Err(Diagnostic::error(E_DEPTH, "query nested too deeply"));
    }
    Ok(())
}

/// `prefix`: the nested path (with a trailing `.`) that relative field names sit under.
fn lower_node(n: &Node, depth: usize, prefix: &str) -> Result<Expr, Diagnostic> {
    too_deep(depth)?;
    Ok(match n {
        Node::Or(v) => Expr::or(
            v.iter()
                .map(|n| lower_node(n, depth + 1, prefix))
                .collect::<Result<_, _>>()?,
        ),
        Node::And(v) => Expr::and(
            v.iter()
                .map(|n| lower_node(n, depth + 1, prefix))
                .collect::<Result<_, _>>()?,
        ),
        Node::Not(n) => Expr::not(lower_node(n, depth + 1, prefix)?),
        Node::Nested { field, query, .. } => {
            let path = field_name(field)?;
            let inner_prefix = format!("{prefix}{path}.");
            Expr::Nested {
                path,
                inner: Box::new(lower_node(query, depth + 1, &inner_prefix)?),
            }
        }
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
            let field = subject.as_ref().map(|name| FieldCtx::new(name, prefix));
            lower_values(field.as_ref(), values, depth + 1)?
        }
    })
}

/// The field of `field:values` and how Elasticsearch analyses it.
struct FieldCtx<'a> {
    /// The name as written (relative inside a nested query).
    name: &'a str,
    text: Option<Analyzer>,
    /// `X` when the field is `X.caseless`.
    caseless: Option<&'a str>,
}

impl<'a> FieldCtx<'a> {
    fn new(name: &'a str, prefix: &str) -> Self {
        let full = format!("{prefix}{name}");
        FieldCtx {
            name,
            text: text_analyzer(&full),
            // The base is taken from the relative name, so it stays relative.
            caseless: caseless_base(&full).and_then(|_| name.strip_suffix(".caseless")),
        }
    }
}

fn lower_values(
    field: Option<&FieldCtx<'_>>,
    v: &ValueList,
    depth: usize,
) -> Result<Expr, Diagnostic> {
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
            Some(FieldCtx {
                name,
                text: Some(a),
                ..
            }) => Expr::pred(Subject::field(*name), text_value_op(name, lit, *a)?),
            Some(FieldCtx {
                caseless: Some(base),
                ..
            }) => Expr::pred(Subject::field(*base), caseless_value_op(lit)),
            Some(f) => Expr::pred(Subject::field(f.name), field_value_op(lit)),
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

/// A value on an analysed text field: Kibana's `match_phrase` (quoted) or `match` (unquoted).
fn text_value_op(field: &str, lit: &Literal, analyzer: Analyzer) -> Result<Op, Diagnostic> {
    if lit.is_only_wildcards() {
        return Ok(Op::Exists);
    }
    if lit.is_wildcard() {
        return Err(Diagnostic::error(
            E_TEXT_WILDCARD,
            format!(
                "`{field}:{}` is a wildcard on an analysed text field; Kibana runs it as a `query_string` over the field's tokens, which the rule model does not hold",
                lit.text()
            ),
        )
        .at(lit.span.pos)
        .with_hint("quote the value to search for a phrase, or use the field's keyword form"));
    }
    let text = lit.text();
    let mode = if lit.is_quoted() || analyzer.tokens(&text).len() <= 1 {
        TextMode::Phrase
    } else {
        TextMode::AnyWord
    };
    Ok(Op::Text(TextQuery::new(text, analyzer, mode)))
}

/// A value on a `.caseless` field: the normalizer lower-cases both sides, so every value (and
/// wildcard) compares case-insensitively as text.
fn caseless_value_op(lit: &Literal) -> Op {
    let insensitive = |pattern| Op::Match {
        pattern,
        case: Case::Insensitive,
    };
    match &lit.kind {
        LiteralKind::Unquoted(_) if lit.is_only_wildcards() => Op::Exists,
        LiteralKind::Unquoted(chunks) if lit.is_wildcard() => insensitive(chunks_pattern(chunks)),
        _ => insensitive(StrPattern::literal(lit.text())),
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
