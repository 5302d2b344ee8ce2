//! Values that differ between schemas: value maps (`Initiated: 'true'` is XDR `ActionType ==
//! "ConnectionSuccess"`…) and value-format notes (registry hives, hash lists) that renaming
//! cannot fix and that become `value-format` approximations.

use crate::data::FieldRow;
use ruleport_model::{Approximation, Case, Expr, Op, Piece, Predicate, Scalar, Schema, StrPattern};

/// Apply a row's value map and value-format notes to a predicate already renamed to `to`.
pub(crate) fn map_values(
    p: Predicate,
    row: &FieldRow,
    fk: &str,
    tk: &str,
    source_field: &str,
    to: Schema,
    approximations: &mut Vec<Approximation>,
) -> Expr {
    let target_field = p.subject.field_name().unwrap_or(source_field).to_string();
    note_value_format(
        &p,
        row,
        fk,
        tk,
        source_field,
        &target_field,
        to,
        approximations,
    );
    let (src_map, dst_map) = (row.values_for(fk), row.values_for(tk));
    if src_map.is_none() && dst_map.is_none() {
        return Expr::Pred(p);
    }
    let value_map_approx = |why: String| {
        Approximation::new(
            "value-format",
            format!("`{source_field}` → `{target_field}` ({}): {why}", to.name()),
        )
    };
    let (text, case) = match &p.op {
        Op::Match { pattern, case } => match pattern.as_literal() {
            Some(t) => (t.to_string(), *case),
            None => {
                approximations.push(value_map_approx(format!(
                    "values are written differently and the pattern `{pattern}` cannot be translated"
                )));
                return Expr::Pred(p);
            }
        },
        Op::Eq(s) => (s.to_string(), Case::Insensitive),
        // Value maps translate whole values; an analysed text query searches words and keeps them.
        Op::Exists | Op::Text(_) => return Expr::Pred(p),
        _ => {
            approximations.push(value_map_approx(
                "values are written differently and this comparison cannot be translated".into(),
            ));
            return Expr::Pred(p);
        }
    };
    // Sigma's value is the canonical key of the map.
    let canonical = match src_map {
        None => Some(text.clone()),
        Some(m) => m
            .iter()
            .find(|(_, vs)| vs.items().iter().any(|v| v.eq_ignore_ascii_case(&text)))
            .map(|(k, _)| k.clone()),
    };
    let Some(canonical) = canonical else {
        approximations.push(value_map_approx(format!(
            "value `{text}` has no known equivalent"
        )));
        return Expr::Pred(p);
    };
    let targets: Vec<String> = match dst_map {
        None => vec![canonical],
        Some(m) => match m.iter().find(|(k, _)| k.eq_ignore_ascii_case(&canonical)) {
            Some((_, vs)) => vs.items().into_iter().map(str::to_string).collect(),
            None => {
                approximations.push(value_map_approx(format!(
                    "value `{text}` has no known equivalent"
                )));
                return Expr::Pred(p);
            }
        },
    };
    Expr::or(
        targets
            .into_iter()
            .map(|t| Expr::matches(target_field.clone(), StrPattern::literal(t), case))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn note_value_format(
    p: &Predicate,
    row: &FieldRow,
    fk: &str,
    tk: &str,
    source_field: &str,
    target_field: &str,
    to: Schema,
    approximations: &mut Vec<Approximation>,
) {
    // Most rows have no value-format note: answer that before collecting the values.
    if fk == tk || (row.value_format_for(fk).is_none() && row.value_format_for(tk).is_none()) {
        return;
    }
    let texts = value_texts(&p.op);
    if texts.is_empty() {
        return;
    }
    for key in [fk, tk] {
        let Some(vf) = row.value_format_for(key) else {
            continue;
        };
        let affected = vf.markers.is_empty()
            || texts.iter().any(|t| {
                let t = t.to_ascii_lowercase();
                vf.markers
                    .iter()
                    .any(|m| t.contains(&m.to_ascii_lowercase()))
            });
        if affected {
            approximations.push(Approximation::new(
                "value-format",
                format!(
                    "`{source_field}` → `{target_field}` ({}): {}",
                    to.name(),
                    vf.reason
                ),
            ));
            return;
        }
    }
}

/// The literal text a value test compares with (empty for existence tests).
fn value_texts(op: &Op) -> Vec<String> {
    match op {
        Op::Match { pattern, .. } => {
            if pattern
                .pieces()
                .iter()
                .all(|p| matches!(p, Piece::AnyChars))
            {
                return Vec::new();
            }
            vec![pattern
                .pieces()
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.as_str(),
                    _ => "*",
                })
                .collect()]
        }
        Op::Eq(Scalar::Str(s)) => vec![s.clone()],
        Op::Eq(s) | Op::Cmp { value: s, .. } => vec![s.to_string()],
        Op::Regex(r) => vec![r.pattern.clone()],
        Op::Text(q) => vec![q.text.clone()],
        _ => Vec::new(),
    }
}
