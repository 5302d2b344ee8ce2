//! CIM data-model mode: `| tstats … from datamodel=<dataset> where … by …` for rules a CIM
//! dataset covers.
//!
//! A rule is emitted in this form when all of these hold; otherwise the caller falls back to
//! the raw search, labelled `data-model-fallback` with the reason:
//! 1. It is a single-event query, and its log-source selection is one group of `field=value`
//!    conditions that some dataset of the CIM table (`data/cim.yml`) holds.
//! 2. Every field its filter reads has a CIM name in that dataset (or is inherited: `source`,
//!    `sourcetype`, `host`, `index`, `_time`).
//! 3. Every top-level conjunct is said in the tstats `where` (search-like terms; no keywords,
//!    `CASE()`, `?`, literal `*`, regexes, field comparisons or IPv6 CIDR), or moves to a
//!    `| where` after tstats. That `where` sees only the grouped by-fields, and null by-fields
//!    read as the text `null` (`fillnull_value="null"`, so that tstats drops no event), so the
//!    conjunct must be false whenever one of its fields is missing or reads `null`.
//!
//! The selection's inherited conditions (`source=…`) stay in the tstats `where`; the others
//! (`EventCode`, `tag`) are what the dataset stands for. Labelled approximations:
//! `cim-dataset-scope` (the dataset holds other events of the source too, or fewer),
//! `cim-value-format` (the CIM value may be written differently), `tstats-multivalue-rows`
//! (the post-tstats `where` tests one field twice, and tstats splits multivalue fields into rows).

use crate::cim::{self, Conjunct};
use crate::emit::{simplify, stats_field, Emitter};
use crate::SplunkOptions;
use ruleport_model::matching::{compile_regex, fold, GlobMatcher};
use ruleport_model::{
    Approximation, Detection, Expr, MappedRule, Op, PatternShape, Predicate, Scalar, Subject,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// What tstats writes for a null by-field.
const FILL: &str = "null";

/// The data-model query and its approximations, or why the rule falls back.
pub(crate) fn emit(
    rule: &MappedRule,
    opts: &SplunkOptions,
) -> Result<(String, Vec<Approximation>), String> {
    let f = match &rule.rule.detection {
        Detection::Query(f) => f,
        d => {
            return Err(format!(
                "it covers single-event queries, not a {} detection",
                d.kind_name()
            ))
        }
    };
    if f.category.is_some() {
        return Err("an EQL event category has no data-model field".into());
    }
    let Some(sel) = &rule.selection.condition else {
        return Err("the rule has no log-source selection for a data model to stand for".into());
    };
    let sel = simplify(sel);
    let items: Vec<Expr> = match &sel {
        Expr::And(v) => v.clone(),
        other => vec![other.clone()],
    };
    let mut group: Vec<Conjunct> = items
        .iter()
        .map(conjunct_of)
        .collect::<Option<_>>()
        .ok_or("the log-source selection is not one group of field=value conditions")?;
    group.sort();
    let table = cim::table()?;
    let (d, scope) = table.cover(&group).ok_or_else(|| {
        format!(
            "no dataset of ruleport's CIM table holds the log source {}",
            rule.selection
                .logsource_id
                .clone()
                .unwrap_or_else(|| format!("{group:?}"))
        )
    })?;

    let mut e = Emitter::new(opts);
    e.no_in = true;
    let expr = simplify(&f.expr);
    e.check(&expr).map_err(|u| u.reason)?;
    let mut keyword = false;
    expr.for_each_pred(&mut |p| keyword |= matches!(p.subject, Subject::Keyword));
    if keyword {
        return Err("a keyword (field-less) search has no data-model form".into());
    }

    let mut approx = Vec::new();
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for raw in expr.fields() {
        let Some((cim_name, row)) = d.cim_name(&raw) else {
            return Err(format!("field `{raw}` has no CIM name in {}", d.name));
        };
        if let Some(vf) = row.and_then(|r| r.value_format.as_ref()) {
            approx.push(Approximation::new(
                "cim-value-format",
                format!("{raw} is {cim_name} in {}: {vf}", d.name),
            ));
        }
        renames.insert(raw, cim_name);
    }
    let renamed = expr.map_preds(&mut |p| Expr::Pred(rename(p, &renames)));

    // The selection's inherited conditions first, then the rule's conjuncts.
    let mut terms: Vec<String> = Vec::new();
    for it in &items {
        if it.fields().iter().all(|f| cim::is_inherited(f)) {
            terms.push(e.search_child(it));
        }
    }
    let conjuncts = match renamed {
        Expr::Const(true) => vec![],
        Expr::And(v) => v,
        other => vec![other],
    };
    let mut post: Vec<&Expr> = Vec::new();
    for c in &conjuncts {
        if e.search_ok(c) {
            let s = e.search_child(c);
            if !terms.contains(&s) {
                terms.push(s);
            }
            continue;
        }
        if c.fields().iter().any(|f| f == "_time") {
            return Err(
                "a test on _time that tstats where cannot say would need _time after tstats".into(),
            );
        }
        if !null_strict(c) {
            return Err(
                "a regex, case-sensitive or `?`-wildcard test that can hold when its field is missing cannot follow tstats, whose null by-fields read \"null\"".into(),
            );
        }
        post.push(c);
        if opts.prefilter {
            if let Some(r) = e.relax(c) {
                let s = e.search_child(&r);
                if !terms.contains(&s) {
                    terms.push(s);
                }
            }
        }
    }

    let mut tested: BTreeMap<String, usize> = BTreeMap::new();
    for c in &post {
        c.for_each_pred(&mut |p| {
            for f in p.fields() {
                *tested.entry(f.to_string()).or_default() += 1;
            }
        });
    }
    if tested.values().any(|&n| n > 1) {
        approx.push(Approximation::new(
            "tstats-multivalue-rows",
            "tstats gives a multivalue by-field one row per value, and the `| where` after it tests one field more than once: in the rule model each test may hold for a different value",
        ));
    }

    let mut by: Vec<String> = renames
        .values()
        .filter(|n| n.as_str() != "_time")
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for b in &d.by {
        let p = d.prefixed(b);
        if !by.contains(&p) {
            by.push(p);
        }
    }

    let mut text = format!(
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"{FILL}\" count min(_time) as firstTime max(_time) as lastTime from datamodel={}",
        d.name
    );
    if !terms.is_empty() {
        let _ = write!(text, " where {}", terms.join(" AND "));
    }
    let _ = write!(
        text,
        " by {}",
        by.iter()
            .map(|b| stats_field(b))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !post.is_empty() {
        let w: Vec<String> = post.iter().map(|c| e.where_expr(c, false)).collect();
        let _ = write!(text, "\n| where {}", w.join(" AND "));
    }
    if let Some(r) = scope {
        approx.push(Approximation::new("cim-dataset-scope", r));
    }
    approx.extend(e.approx);
    Ok((text, approx))
}

/// `f=v` or an OR of them on one field, as a conjunct of folded texts.
fn conjunct_of(e: &Expr) -> Option<Conjunct> {
    let preds: Vec<&Expr> = match e {
        Expr::Or(v) => v.iter().collect(),
        other => vec![other],
    };
    let mut field: Option<String> = None;
    let mut values = BTreeSet::new();
    for p in preds {
        let Expr::Pred(Predicate {
            subject: Subject::Field { name, .. },
            op,
        }) = p
        else {
            return None;
        };
        if field.as_ref().is_some_and(|f| f != name) {
            return None;
        }
        field = Some(name.clone());
        values.insert(match op {
            Op::Match { pattern, .. } => match pattern.shape() {
                PatternShape::Exact(s) => fold(s),
                _ => return None,
            },
            Op::Eq(Scalar::Int(n)) => n.to_string(),
            Op::Eq(Scalar::Bool(b)) => b.to_string(),
            _ => return None,
        });
    }
    Some((field?, values))
}

fn rename(p: &Predicate, renames: &BTreeMap<String, String>) -> Predicate {
    let to = |n: &str| renames.get(n).cloned().unwrap_or_else(|| n.to_string());
    let subject = match &p.subject {
        Subject::Field { name, optional } => Subject::Field {
            name: to(name),
            optional: *optional,
        },
        other => other.clone(),
    };
    let op = match &p.op {
        Op::FieldRef { other, kind, case } => Op::FieldRef {
            other: to(other),
            kind: *kind,
            case: *case,
        },
        other => other.clone(),
    };
    Predicate { subject, op }
}

/// Whether the conjunct is false whenever one of its fields is missing or reads `null`.
fn null_strict(e: &Expr) -> bool {
    let strict = strict_fields(e);
    e.fields().iter().all(|f| strict.contains(f))
}

/// Fields whose absence (or the value `null`) makes the expression false.
fn strict_fields(e: &Expr) -> BTreeSet<String> {
    match e {
        Expr::Pred(p) => match (&p.subject, rejects_fill(&p.op)) {
            (Subject::Field { name, .. }, true) => BTreeSet::from([name.clone()]),
            _ => BTreeSet::new(),
        },
        Expr::And(v) => v.iter().flat_map(strict_fields).collect(),
        Expr::Or(v) => {
            let mut it = v.iter().map(strict_fields);
            let first = it.next().unwrap_or_default();
            it.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
        }
        Expr::Not(_) | Expr::Const(_) | Expr::Nested { .. } => BTreeSet::new(),
    }
}

/// Whether the test is false on the fill text.
fn rejects_fill(op: &Op) -> bool {
    match op {
        Op::Match { pattern, case } => !GlobMatcher::new(pattern, *case).is_match(FILL),
        Op::Regex(spec) => compile_regex(spec).is_ok_and(|r| !r.is_match(FILL)),
        Op::Eq(Scalar::Str(s)) => s != FILL,
        Op::Eq(_) | Op::Cidr(_) => true,
        Op::Cmp { op, value } => match value {
            Scalar::Str(s) => !op.holds(FILL.cmp(s.as_str())),
            _ => true,
        },
        Op::Exists | Op::FieldRef { .. } | Op::IsTrue | Op::Text(_) => false,
    }
}
