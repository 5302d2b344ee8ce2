//! Conditions a log source guarantees without its events stating them (`assumed` on a schema
//! side): every Windows Security channel event comes from Windows, yet an ECS document need
//! not carry `host.os.type`. A rule's top-level conjunct that states only such values is
//! dropped when mapping, and the port says so: on an event lacking the field the rule fails
//! and the port fires.

use crate::data::LogSourceMapping;
use crate::{group_allows, literal_disjunction};
use ruleport_model::{Approximation, EventFilter, Expr};

/// Drop the filter's top-level conjuncts that the source side `fk` assumes; one
/// `assumed-by-source` approximation per dropped conjunct.
pub(crate) fn strip_assumed(
    f: &mut EventFilter,
    l: &LogSourceMapping,
    fk: &str,
) -> Vec<Approximation> {
    let Some(group) = l.side(fk).and_then(|s| s.assumed.as_ref()) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let mut assumed = |c: &Expr| -> bool {
        let Some((field, vals)) = literal_disjunction(c) else {
            return false;
        };
        if !group_allows(group, &field, &vals) {
            return false;
        }
        notes.push(Approximation::new(
            "assumed-by-source",
            format!(
                "`{field}: {}` is not tested: every event of log source `{}` is taken to meet it",
                vals.join(" or "),
                l.id
            ),
        ));
        true
    };
    f.expr = match &f.expr {
        Expr::And(v) => Expr::and(v.iter().filter(|c| !assumed(c)).cloned().collect()),
        other if assumed(other) => Expr::Const(true),
        other => other.clone(),
    };
    notes
}

/// Top-level conjuncts of `before` that name a field the target side `tk` lists as
/// `unselected` and that mapping dropped (they are gone from `after`): the target's selection
/// does not reproduce them, so the port reads more events than the rule.
pub(crate) fn unselected_notes(
    before: &Expr,
    after: &Expr,
    l: &LogSourceMapping,
    tk: &str,
) -> Vec<Approximation> {
    let Some(side) = l.side(tk) else {
        return Vec::new();
    };
    if side.unselected.is_empty() {
        return Vec::new();
    }
    let conjuncts = |e: &Expr| -> Vec<(String, Vec<String>)> {
        match e {
            Expr::And(v) => v.iter().filter_map(literal_disjunction).collect(),
            other => literal_disjunction(other).into_iter().collect(),
        }
    };
    let kept = conjuncts(after);
    conjuncts(before)
        .into_iter()
        .filter(|c| !kept.contains(c))
        .filter_map(|(field, vals)| {
            let why = side.unselected.get(&field)?;
            Some(Approximation::new(
                "unselected-condition",
                format!("`{field}: {}` is not tested: {why}", vals.join(" or ")),
            ))
        })
        .collect()
}
