//! Renaming every field a detection reads.

use ruleport_model::{
    Detection, EventSource, Expr, Metric, Op, Operand, Predicate, SeqStep, Subject,
};

/// Rename fields in an expression. `Nested` paths are renamed as fields; their inner names are
/// relative to the element and are renamed with the nested prefix.
pub fn rename_expr(e: &Expr, f: &mut dyn FnMut(&str) -> String) -> Expr {
    match e {
        Expr::And(v) => Expr::and(v.iter().map(|x| rename_expr(x, f)).collect()),
        Expr::Or(v) => Expr::or(v.iter().map(|x| rename_expr(x, f)).collect()),
        Expr::Not(x) => Expr::not(rename_expr(x, f)),
        Expr::Const(b) => Expr::Const(*b),
        Expr::Nested { path, inner } => {
            let new_path = f(path);
            let prefix = format!("{path}.");
            let new_prefix = format!("{new_path}.");
            let mut inner_f = |name: &str| {
                let full = format!("{prefix}{name}");
                let mapped = f(&full);
                mapped
                    .strip_prefix(&new_prefix)
                    .map(str::to_string)
                    .unwrap_or(mapped)
            };
            Expr::Nested {
                path: new_path,
                inner: Box::new(rename_expr(inner, &mut inner_f)),
            }
        }
        Expr::Pred(p) => Expr::Pred(rename_pred(p, f)),
    }
}

fn rename_pred(p: &Predicate, f: &mut dyn FnMut(&str) -> String) -> Predicate {
    let subject = match &p.subject {
        Subject::Field { name, optional } => Subject::Field {
            name: f(name),
            optional: *optional,
        },
        Subject::Keyword => Subject::Keyword,
        Subject::Computed(o) => Subject::Computed(rename_operand(o, f)),
    };
    let op = match &p.op {
        Op::FieldRef { other, kind, case } => Op::FieldRef {
            other: f(other),
            kind: *kind,
            case: *case,
        },
        other => other.clone(),
    };
    Predicate { subject, op }
}

pub fn rename_operand(o: &Operand, f: &mut dyn FnMut(&str) -> String) -> Operand {
    match o {
        Operand::Field { name, optional } => Operand::Field {
            name: f(name),
            optional: *optional,
        },
        Operand::Call {
            name,
            case_insensitive,
            args,
        } => Operand::Call {
            name: name.clone(),
            case_insensitive: *case_insensitive,
            args: args.iter().map(|a| rename_operand(a, f)).collect(),
        },
        Operand::Arith { op, left, right } => Operand::Arith {
            op: *op,
            left: Box::new(rename_operand(left, f)),
            right: Box::new(rename_operand(right, f)),
        },
        Operand::Neg(x) => Operand::Neg(Box::new(rename_operand(x, f))),
        other => other.clone(),
    }
}

fn rename_source(s: &EventSource, f: &mut dyn FnMut(&str) -> String) -> EventSource {
    let mut out = s.clone();
    out.filter.expr = rename_expr(&s.filter.expr, f);
    out.aliases = s.aliases.iter().map(|(k, v)| (k.clone(), f(v))).collect();
    out
}

fn rename_step(s: &SeqStep, f: &mut dyn FnMut(&str) -> String) -> SeqStep {
    SeqStep {
        source: rename_source(&s.source, f),
        by: s.by.iter().map(|o| rename_operand(o, f)).collect(),
        runs: s.runs,
        missing: s.missing,
    }
}

/// Rename every field of a detection (filters, join keys, group-by, metrics, new-terms fields).
pub fn rename_detection(d: &Detection, f: &mut dyn FnMut(&str) -> String) -> Detection {
    match d {
        Detection::Query(flt) => {
            let mut flt = flt.clone();
            flt.expr = rename_expr(&flt.expr, f);
            Detection::Query(flt)
        }
        Detection::Sequence(s) => {
            let mut s2 = s.clone();
            s2.by = s.by.iter().map(|o| rename_operand(o, f)).collect();
            s2.steps = s.steps.iter().map(|st| rename_step(st, f)).collect();
            s2.until = s.until.as_ref().map(|st| rename_step(st, f));
            Detection::Sequence(s2)
        }
        Detection::Sample(s) => {
            let mut s2 = s.clone();
            s2.by = s.by.iter().map(|o| rename_operand(o, f)).collect();
            s2.steps = s.steps.iter().map(|st| rename_step(st, f)).collect();
            Detection::Sample(s2)
        }
        Detection::Aggregation(a) => {
            let mut a2 = a.clone();
            a2.sources = a.sources.iter().map(|s| rename_source(s, f)).collect();
            a2.group_by = a.group_by.iter().map(|g| f(g)).collect();
            for c in &mut a2.conditions {
                c.metric = match &c.metric {
                    Metric::Count => Metric::Count,
                    Metric::DistinctCount(x) => Metric::DistinctCount(f(x)),
                    Metric::Sum(x) => Metric::Sum(f(x)),
                    Metric::Avg(x) => Metric::Avg(f(x)),
                    Metric::Percentile(x, p) => Metric::Percentile(f(x), *p),
                };
            }
            Detection::Aggregation(a2)
        }
        Detection::NewTerms(n) => {
            let mut n2 = n.clone();
            n2.filter.expr = rename_expr(&n.filter.expr, f);
            n2.fields = n.fields.iter().map(|x| f(x)).collect();
            Detection::NewTerms(n2)
        }
        Detection::Unsupported(u) => Detection::Unsupported(u.clone()),
    }
}

/// Rebuild a detection with each event filter replaced by `filter(i, f)` (in
/// `Detection::filters` order) and every other field name (join keys, group-by, metrics,
/// aliases, new-terms fields) renamed by `name`. `name` gets the index of the filter whose
/// event the name is read from (a sequence step's keys and aliases), or `None` for names
/// read across events (group-by, metrics).
pub fn map_filters(
    d: &Detection,
    filter: &mut dyn FnMut(usize, &ruleport_model::EventFilter) -> ruleport_model::EventFilter,
    name: &mut dyn FnMut(Option<usize>, &str) -> String,
) -> Detection {
    let mut i = 0usize;
    let mut next = |f: &ruleport_model::EventFilter| {
        let out = filter(i, f);
        i += 1;
        out
    };
    match d {
        Detection::Query(flt) => Detection::Query(next(flt)),
        Detection::Sequence(s) => {
            let mut s2 = s.clone();
            let steps: Vec<&SeqStep> = s.steps.iter().chain(s.until.iter()).collect();
            let (shared, per_step) = split_shared_keys(&s.by, steps.len(), name);
            s2.by = shared;
            for (k, (st, orig)) in s2.steps.iter_mut().zip(&s.steps).enumerate() {
                st.source.filter = next(&orig.source.filter);
                st.by = step_keys(&per_step, k, &orig.by, name);
                st.source.aliases = orig
                    .source
                    .aliases
                    .iter()
                    .map(|(a, v)| (a.clone(), name(Some(k), v)))
                    .collect();
            }
            if let (Some(st), Some(orig)) = (s2.until.as_mut(), s.until.as_ref()) {
                st.source.filter = next(&orig.source.filter);
                st.by = step_keys(&per_step, s.steps.len(), &orig.by, name);
            }
            Detection::Sequence(s2)
        }
        Detection::Sample(s) => {
            let mut s2 = s.clone();
            let (shared, per_step) = split_shared_keys(&s.by, s.steps.len(), name);
            s2.by = shared;
            for (k, (st, orig)) in s2.steps.iter_mut().zip(&s.steps).enumerate() {
                st.source.filter = next(&orig.source.filter);
                st.by = step_keys(&per_step, k, &orig.by, name);
            }
            Detection::Sample(s2)
        }
        Detection::Aggregation(a) => {
            let mut a2 = a.clone();
            for (src, orig) in a2.sources.iter_mut().zip(&a.sources) {
                src.filter = next(&orig.filter);
                src.aliases = orig
                    .aliases
                    .iter()
                    .map(|(k, v)| (k.clone(), name(None, v)))
                    .collect();
            }
            a2.group_by = a.group_by.iter().map(|g| name(None, g)).collect();
            for c in &mut a2.conditions {
                c.metric = match &c.metric {
                    Metric::Count => Metric::Count,
                    Metric::DistinctCount(x) => Metric::DistinctCount(name(None, x)),
                    Metric::Sum(x) => Metric::Sum(name(None, x)),
                    Metric::Avg(x) => Metric::Avg(name(None, x)),
                    Metric::Percentile(x, p) => Metric::Percentile(name(None, x), *p),
                };
            }
            Detection::Aggregation(a2)
        }
        Detection::NewTerms(n) => {
            let mut n2 = n.clone();
            n2.filter = next(&n.filter);
            n2.fields = n.fields.iter().map(|x| name(Some(0), x)).collect();
            Detection::NewTerms(n2)
        }
        Detection::Unsupported(u) => Detection::Unsupported(u.clone()),
    }
}

/// Shared join keys renamed for each of `steps` steps. When every step names them alike they
/// stay shared; otherwise (a process start keys on `ProcessId`, its network event on
/// `InitiatingProcessId`) each step gets its own names, returned per step.
fn split_shared_keys(
    by: &[Operand],
    steps: usize,
    name: &mut dyn FnMut(Option<usize>, &str) -> String,
) -> (Vec<Operand>, Option<Vec<Vec<Operand>>>) {
    let per_step: Vec<Vec<Operand>> = (0..steps)
        .map(|k| {
            by.iter()
                .map(|o| rename_operand(o, &mut |n: &str| name(Some(k), n)))
                .collect()
        })
        .collect();
    match per_step.split_first() {
        Some((first, rest)) if rest.iter().any(|r| r != first) => (Vec::new(), Some(per_step)),
        Some((first, _)) => (first.clone(), None),
        None => (
            by.iter()
                .map(|o| rename_operand(o, &mut |n: &str| name(None, n)))
                .collect(),
            None,
        ),
    }
}

/// Step `k`'s join keys: the shared keys it took over (when they differ by step), then its own.
fn step_keys(
    per_step: &Option<Vec<Vec<Operand>>>,
    k: usize,
    own: &[Operand],
    name: &mut dyn FnMut(Option<usize>, &str) -> String,
) -> Vec<Operand> {
    let mut keys = per_step
        .as_ref()
        .and_then(|p| p.get(k).cloned())
        .unwrap_or_default();
    keys.extend(
        own.iter()
            .map(|o| rename_operand(o, &mut |n: &str| name(Some(k), n))),
    );
    keys
}

/// The log source of each event filter (in `Detection::filters` order), when it has its own.
pub fn filter_logsources(d: &Detection) -> Vec<Option<&ruleport_model::LogSource>> {
    match d {
        Detection::Query(_) | Detection::NewTerms(_) => vec![None],
        Detection::Sequence(s) => s
            .steps
            .iter()
            .chain(s.until.iter())
            .map(|st| st.source.logsource.as_ref())
            .collect(),
        Detection::Sample(s) => s
            .steps
            .iter()
            .map(|st| st.source.logsource.as_ref())
            .collect(),
        Detection::Aggregation(a) => a.sources.iter().map(|s| s.logsource.as_ref()).collect(),
        Detection::Unsupported(_) => vec![],
    }
}
