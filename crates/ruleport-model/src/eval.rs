//! The reference semantics: evaluate a rule model over events. Every port is compared with this.

use crate::detection::{
    AggCondition, Aggregation, Detection, EventFilter, EventSource, Metric, NewTerms, Sample,
    SeqStep, Sequence, WindowKind,
};
use crate::event::{event_time, leaves, lookup, scalar_text};
use crate::expr::{Expr, FieldRefKind, Op, Operand, Predicate, Subject};
use crate::functions::{eval_operand, scalar_to_json};
use crate::matching::{cidr_contains, compile_regex, fold, GlobMatcher};
use crate::rule::{LogSource, Rule};
use crate::value::{Case, Scalar, TimeSpan};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Decides whether an event belongs to a log source (supplied by the mapping layer).
pub type LogSourceGate<'a> = dyn Fn(&Value, &LogSource) -> bool + 'a;

/// An upper bound on alert groups reported for one detection, so hostile fixtures stay bounded.
const MAX_GROUPS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("invalid regex `{pattern}`: {message}")]
    Regex { pattern: String, message: String },
    #[error("unsupported in the reference evaluator: {0}")]
    Unsupported(String),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub enum CompiledExpr {
    And(Vec<CompiledExpr>),
    Or(Vec<CompiledExpr>),
    Not(Box<CompiledExpr>),
    Const(bool),
    Pred(Box<CompiledPred>),
    Nested { path: String, inner: Box<CompiledExpr> },
}

#[derive(Debug, Clone)]
pub struct CompiledPred {
    subject: Subject,
    op: CompiledOp,
}

#[derive(Debug, Clone)]
enum CompiledOp {
    Match(GlobMatcher),
    Eq(Scalar),
    Cmp(crate::expr::CmpOp, Scalar),
    Regex(regex::Regex),
    Cidr(ipnet::IpNet),
    Exists,
    FieldRef {
        other: String,
        kind: FieldRefKind,
        case: Case,
    },
    IsTrue,
}

impl CompiledExpr {
    pub fn compile(expr: &Expr) -> Result<CompiledExpr, EvalError> {
        Ok(match expr {
            Expr::And(v) => CompiledExpr::And(v.iter().map(Self::compile).collect::<Result<_, _>>()?),
            Expr::Or(v) => CompiledExpr::Or(v.iter().map(Self::compile).collect::<Result<_, _>>()?),
            Expr::Not(e) => CompiledExpr::Not(Box::new(Self::compile(e)?)),
            Expr::Const(b) => CompiledExpr::Const(*b),
            Expr::Nested { path, inner } => CompiledExpr::Nested {
                path: path.clone(),
                inner: Box::new(Self::compile(inner)?),
            },
            Expr::Pred(p) => CompiledExpr::Pred(Box::new(compile_pred(p)?)),
        })
    }

    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            CompiledExpr::And(v) => v.iter().all(|e| e.matches(doc)),
            CompiledExpr::Or(v) => v.iter().any(|e| e.matches(doc)),
            CompiledExpr::Not(e) => !e.matches(doc),
            CompiledExpr::Const(b) => *b,
            CompiledExpr::Nested { path, inner } => {
                lookup(doc, path).into_iter().any(|el| inner.matches(el))
            }
            CompiledExpr::Pred(p) => p.matches(doc),
        }
    }
}

fn compile_pred(p: &Predicate) -> Result<CompiledPred, EvalError> {
    let op = match &p.op {
        Op::Match { pattern, case } => CompiledOp::Match(GlobMatcher::new(pattern, *case)),
        Op::Eq(s) => CompiledOp::Eq(s.clone()),
        Op::Cmp { op, value } => CompiledOp::Cmp(*op, value.clone()),
        Op::Regex(spec) => CompiledOp::Regex(compile_regex(spec).map_err(|message| {
            EvalError::Regex {
                pattern: spec.pattern.clone(),
                message,
            }
        })?),
        Op::Cidr(net) => CompiledOp::Cidr(*net),
        Op::Exists => CompiledOp::Exists,
        Op::FieldRef { other, kind, case } => CompiledOp::FieldRef {
            other: other.clone(),
            kind: *kind,
            case: *case,
        },
        Op::IsTrue => CompiledOp::IsTrue,
    };
    Ok(CompiledPred {
        subject: p.subject.clone(),
        op,
    })
}

impl CompiledPred {
    fn values<'a>(&self, doc: &'a Value) -> Vec<std::borrow::Cow<'a, Value>> {
        use std::borrow::Cow;
        match &self.subject {
            Subject::Field { name, .. } => lookup(doc, name).into_iter().map(Cow::Borrowed).collect(),
            Subject::Keyword => leaves(doc).into_iter().map(Cow::Borrowed).collect(),
            Subject::Computed(op) => match eval_operand(op, doc) {
                None => vec![],
                Some(Value::Array(a)) => a.into_iter().filter(|v| !v.is_null()).map(Cow::Owned).collect(),
                Some(v) => vec![Cow::Owned(v)],
            },
        }
    }

    fn matches(&self, doc: &Value) -> bool {
        let values = self.values(doc);
        match &self.op {
            CompiledOp::Exists => !values.is_empty(),
            CompiledOp::IsTrue => values.iter().any(|v| v.as_bool() == Some(true)),
            CompiledOp::FieldRef { other, kind, case } => {
                let others = lookup(doc, other);
                values.iter().any(|a| {
                    others.iter().any(|b| match (scalar_text(a), scalar_text(b)) {
                        (Some(a), Some(b)) => field_ref_holds(&a, &b, *kind, *case),
                        _ => false,
                    })
                })
            }
            op => values.iter().any(|v| value_matches(op, v)),
        }
    }
}

fn field_ref_holds(a: &str, b: &str, kind: FieldRefKind, case: Case) -> bool {
    let (a, b) = if case.is_insensitive() {
        (fold(a), fold(b))
    } else {
        (a.to_string(), b.to_string())
    };
    match kind {
        FieldRefKind::Equals => a == b,
        FieldRefKind::StartsWith => a.starts_with(&b),
        FieldRefKind::EndsWith => a.ends_with(&b),
        FieldRefKind::Contains => a.contains(&b),
    }
}

fn value_matches(op: &CompiledOp, v: &Value) -> bool {
    match op {
        CompiledOp::Match(g) => match v {
            Value::Object(_) | Value::Array(_) | Value::Null => false,
            _ => scalar_text(v).is_some_and(|t| g.is_match(&t)),
        },
        CompiledOp::Eq(s) => scalar_eq(s, v),
        CompiledOp::Cmp(op, s) => scalar_cmp(s, v).is_some_and(|o| op.holds(o)),
        CompiledOp::Regex(re) => scalar_text(v).is_some_and(|t| re.is_match(&t)),
        CompiledOp::Cidr(net) => scalar_text(v).is_some_and(|t| cidr_contains(net, &t)),
        CompiledOp::Exists | CompiledOp::IsTrue | CompiledOp::FieldRef { .. } => false,
    }
}

/// Typed equality: numbers compare numerically (a numeric string counts), booleans by value.
pub fn scalar_eq(s: &Scalar, v: &Value) -> bool {
    match s {
        Scalar::Int(_) | Scalar::Float(_) => {
            let want = s.as_f64();
            let got = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(t) => t.trim().parse::<f64>().ok(),
                _ => None,
            };
            want.is_some() && want == got
        }
        Scalar::Bool(b) => match v {
            Value::Bool(x) => x == b,
            Value::String(t) => t.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        },
        Scalar::Str(t) => scalar_text(v).is_some_and(|x| x == t.as_str()),
    }
}

/// Order a value against a scalar: numerically when both are numbers, else as strings.
pub fn scalar_cmp(s: &Scalar, v: &Value) -> Option<std::cmp::Ordering> {
    let got_num = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => t.trim().parse::<f64>().ok(),
        _ => None,
    };
    match (got_num, s.as_f64()) {
        (Some(a), Some(b)) if s.is_number() || v.is_number() => a.partial_cmp(&b),
        _ => match (scalar_text(v), s) {
            (Some(a), Scalar::Str(b)) => Some(a.as_ref().cmp(b.as_str())),
            _ => None,
        },
    }
}

/// A compiled filter: category plus expression.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    category: Option<String>,
    category_field: String,
    expr: CompiledExpr,
}

impl CompiledFilter {
    pub fn compile(f: &EventFilter, category_field: &str) -> Result<Self, EvalError> {
        Ok(CompiledFilter {
            category: f.category.clone(),
            category_field: category_field.to_string(),
            expr: CompiledExpr::compile(&f.expr)?,
        })
    }

    pub fn matches(&self, doc: &Value) -> bool {
        if let Some(cat) = &self.category {
            let cats = lookup(doc, &self.category_field);
            if !cats.iter().any(|c| c.as_str() == Some(cat.as_str())) {
                return false;
            }
        }
        self.expr.matches(doc)
    }
}

struct CompiledSource<'r> {
    filter: CompiledFilter,
    logsource: Option<&'r LogSource>,
    aliases: &'r BTreeMap<String, String>,
}

/// The reference evaluator for a whole rule.
pub struct RuleEvaluator<'r> {
    rule: &'r Rule,
    sources: Vec<CompiledSource<'r>>,
}

impl<'r> RuleEvaluator<'r> {
    pub fn new(rule: &'r Rule) -> Result<Self, EvalError> {
        let cat_field = rule
            .meta
            .extra
            .get("event_category_override")
            .and_then(|v| v.as_str())
            .unwrap_or("event.category")
            .to_string();
        let mut sources = Vec::new();
        let mut push = |src: &'r EventSource| -> Result<(), EvalError> {
            sources.push(CompiledSource {
                filter: CompiledFilter::compile(&src.filter, &cat_field)?,
                logsource: src.logsource.as_ref(),
                aliases: &src.aliases,
            });
            Ok(())
        };
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        match &rule.detection {
            Detection::Query(f) => sources.push(CompiledSource {
                filter: CompiledFilter::compile(f, &cat_field)?,
                logsource: None,
                aliases: &EMPTY,
            }),
            Detection::Sequence(s) => {
                for st in s.steps.iter().chain(s.until.iter()) {
                    push(&st.source)?;
                }
            }
            Detection::Sample(s) => {
                for st in &s.steps {
                    push(&st.source)?;
                }
            }
            Detection::Aggregation(a) => {
                for src in &a.sources {
                    push(src)?;
                }
            }
            Detection::NewTerms(n) => sources.push(CompiledSource {
                filter: CompiledFilter::compile(&n.filter, &cat_field)?,
                logsource: None,
                aliases: &EMPTY,
            }),
            Detection::Unsupported(u) => {
                return Err(EvalError::Unsupported(format!("{} detection: {}", u.kind, u.reason)))
            }
        }
        Ok(RuleEvaluator { rule, sources })
    }

    fn source_matches(&self, i: usize, doc: &Value, gate: Option<&LogSourceGate<'_>>) -> bool {
        let src = &self.sources[i];
        if let Some(g) = gate {
            let ls = src.logsource.unwrap_or(&self.rule.logsource);
            if !ls.is_empty() && !g(doc, ls) {
                return false;
            }
        }
        src.filter.matches(doc)
    }

    /// Whether a single event matches (for single-event detections).
    pub fn event_matches(&self, doc: &Value, gate: Option<&LogSourceGate<'_>>) -> bool {
        matches!(self.rule.detection, Detection::Query(_)) && self.source_matches(0, doc, gate)
    }

    /// Run over a time-ordered list of events; each result is one alert (the indexes it covers).
    pub fn run(&self, events: &[Value], gate: Option<&LogSourceGate<'_>>) -> Vec<Vec<usize>> {
        let hits: Vec<Vec<bool>> = (0..self.sources.len())
            .map(|i| events.iter().map(|e| self.source_matches(i, e, gate)).collect())
            .collect();
        let times: Vec<i64> = events
            .iter()
            .enumerate()
            .map(|(i, e)| event_time(e).unwrap_or(i as i64))
            .collect();
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (times[i], i));
        match &self.rule.detection {
            Detection::Query(_) => order.into_iter().filter(|&i| hits[0][i]).map(|i| vec![i]).collect(),
            Detection::Sequence(s) => run_sequence(s, events, &hits, &times, &order),
            Detection::Sample(s) => run_sample(s, events, &hits, &times, &order),
            Detection::Aggregation(a) => run_aggregation(a, &self.sources, events, &hits, &times, &order),
            Detection::NewTerms(n) => run_new_terms(n, self.rule, events, &hits[0], &times, &order),
            Detection::Unsupported(_) => vec![],
        }
    }
}

/// A join-key value: text of each key, `None` where the key is null.
type KeyTuple = Vec<Option<String>>;

fn key_of(keys: &[Operand], doc: &Value) -> KeyTuple {
    keys.iter()
        .map(|k| {
            eval_operand(k, doc).and_then(|v| match v {
                Value::Array(a) => a.first().and_then(|x| scalar_text(x).map(|c| c.into_owned())),
                other => scalar_text(&other).map(|c| c.into_owned()),
            })
        })
        .collect()
}

fn optional_flags(keys: &[Operand]) -> Vec<bool> {
    keys.iter()
        .map(|k| matches!(k, Operand::Field { optional: true, .. }))
        .collect()
}

/// Null keys exclude an event from joining unless the key is optional (`?k`).
fn key_ok(key: &KeyTuple, optional: &[bool]) -> bool {
    key.iter()
        .zip(optional.iter().chain(std::iter::repeat(&false)))
        .all(|(v, opt)| v.is_some() || *opt)
}

struct SeqPlan<'a> {
    /// Steps expanded by `runs`: (source index, step).
    steps: Vec<(usize, &'a SeqStep)>,
    until: Option<(usize, &'a SeqStep)>,
}

fn run_sequence(
    s: &Sequence,
    events: &[Value],
    hits: &[Vec<bool>],
    times: &[i64],
    order: &[usize],
) -> Vec<Vec<usize>> {
    let mut plan = SeqPlan {
        steps: Vec::new(),
        until: None,
    };
    for (i, st) in s.steps.iter().enumerate() {
        for _ in 0..st.runs.max(1) {
            plan.steps.push((i, st));
        }
    }
    if let Some(u) = &s.until {
        plan.until = Some((s.steps.len(), u));
    }
    let keys_for = |st: &SeqStep, doc: &Value| -> KeyTuple {
        let mut k = key_of(&s.by, doc);
        k.extend(key_of(&st.by, doc));
        k
    };
    let opt_for = |st: &SeqStep| -> Vec<bool> {
        let mut o = optional_flags(&s.by);
        o.extend(optional_flags(&st.by));
        o
    };
    let positives: Vec<usize> = (0..plan.steps.len()).filter(|&i| !plan.steps[i].1.missing).collect();
    let Some(&first_pos) = positives.first() else {
        return vec![];
    };
    let maxspan = s.maxspan.map(|t| t.millis as i64);
    let mut out = Vec::new();
    let mut used_starts = BTreeSet::new();
    for (oi, &start) in order.iter().enumerate() {
        let (src, st) = plan.steps[first_pos];
        if !hits[src][start] {
            continue;
        }
        let key = keys_for(st, &events[start]);
        if !key_ok(&key, &opt_for(st)) {
            continue;
        }
        let mut chosen = vec![start];
        if extend_sequence(
            &plan, &positives, 1, oi, &key, &mut chosen, events, hits, times, order, maxspan,
            &keys_for,
        ) && check_missing(&plan, &positives, &chosen, &key, events, hits, times, order, maxspan, &keys_for)
            && used_starts.insert(start)
        {
            out.push(chosen);
            if out.len() >= MAX_GROUPS {
                break;
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn extend_sequence(
    plan: &SeqPlan<'_>,
    positives: &[usize],
    next: usize,
    last_order_idx: usize,
    key: &KeyTuple,
    chosen: &mut Vec<usize>,
    events: &[Value],
    hits: &[Vec<bool>],
    times: &[i64],
    order: &[usize],
    maxspan: Option<i64>,
    keys_for: &dyn Fn(&SeqStep, &Value) -> KeyTuple,
) -> bool {
    if next == positives.len() {
        return true;
    }
    let (src, st) = plan.steps[positives[next]];
    let t0 = times[chosen[0]];
    for oi in last_order_idx + 1..order.len() {
        let e = order[oi];
        if maxspan.is_some_and(|m| times[e] - t0 > m) {
            break;
        }
        // An `until` event with the same key expires the pending sequence.
        if let Some((usrc, ust)) = plan.until {
            if hits[usrc][e] && keys_for(ust, &events[e]) == *key {
                return false;
            }
        }
        if hits[src][e] && keys_for(st, &events[e]) == *key {
            chosen.push(e);
            if extend_sequence(
                plan, positives, next + 1, oi, key, chosen, events, hits, times, order, maxspan,
                keys_for,
            ) {
                return true;
            }
            chosen.pop();
        }
    }
    false
}

#[allow(clippy::too_many_arguments)]
fn check_missing(
    plan: &SeqPlan<'_>,
    positives: &[usize],
    chosen: &[usize],
    key: &KeyTuple,
    events: &[Value],
    hits: &[Vec<bool>],
    times: &[i64],
    order: &[usize],
    maxspan: Option<i64>,
    keys_for: &dyn Fn(&SeqStep, &Value) -> KeyTuple,
) -> bool {
    let first_t = times[chosen[0]];
    let last_t = times[chosen[chosen.len() - 1]];
    for (si, &(src, st)) in plan.steps.iter().enumerate() {
        if !st.missing {
            continue;
        }
        // The missing step's window, ordered by (time, position): strictly between its
        // neighbouring positive events; an open end reaches maxspan from the other end.
        let before = positives.iter().rposition(|&p| p < si).map(|b| chosen[b]);
        let after = positives.iter().position(|&p| p > si).map(|a| chosen[a]);
        let lo = before.map(|b| (times[b], b as i64)).unwrap_or((last_t - maxspan.unwrap_or(0), -1));
        let hi = after
            .map(|a| (times[a], a as i64))
            .unwrap_or((first_t + maxspan.unwrap_or(0), i64::MAX));
        for &e in order {
            let at = (times[e], e as i64);
            if at > lo && at < hi && !chosen.contains(&e) && hits[src][e] && keys_for(st, &events[e]) == *key {
                return false;
            }
        }
    }
    true
}

fn run_sample(
    s: &Sample,
    events: &[Value],
    hits: &[Vec<bool>],
    times: &[i64],
    order: &[usize],
) -> Vec<Vec<usize>> {
    // Group candidate events per step by key.
    let mut by_key: BTreeMap<KeyTuple, Vec<Vec<usize>>> = BTreeMap::new();
    for (si, st) in s.steps.iter().enumerate() {
        let mut opt = optional_flags(&s.by);
        opt.extend(optional_flags(&st.by));
        for &e in order {
            if !hits[si][e] {
                continue;
            }
            let mut k = key_of(&s.by, &events[e]);
            k.extend(key_of(&st.by, &events[e]));
            if !key_ok(&k, &opt) {
                continue;
            }
            by_key
                .entry(k)
                .or_insert_with(|| vec![Vec::new(); s.steps.len()])[si]
                .push(e);
        }
    }
    let window = s.window.map(|t| t.millis as i64);
    let mut out = Vec::new();
    for cands in by_key.values() {
        let mut chosen = Vec::new();
        if assign_sample(cands, 0, &mut chosen, times, window) {
            out.push(chosen);
        }
        if out.len() >= MAX_GROUPS {
            break;
        }
    }
    out
}

fn assign_sample(
    cands: &[Vec<usize>],
    step: usize,
    chosen: &mut Vec<usize>,
    times: &[i64],
    window: Option<i64>,
) -> bool {
    if step == cands.len() {
        return true;
    }
    for &e in &cands[step] {
        if chosen.contains(&e) {
            continue;
        }
        if let Some(w) = window {
            let ts = chosen.iter().map(|&c| times[c]).chain([times[e]]);
            let (lo, hi) = ts.fold((i64::MAX, i64::MIN), |(l, h), t| (l.min(t), h.max(t)));
            if hi - lo > w {
                continue;
            }
        }
        chosen.push(e);
        if assign_sample(cands, step + 1, chosen, times, window) {
            return true;
        }
        chosen.pop();
    }
    false
}

fn group_key(fields: &[String], aliases: &BTreeMap<String, String>, doc: &Value) -> Option<KeyTuple> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let name = aliases.get(f).unwrap_or(f);
        let v = lookup(doc, name).first().and_then(|v| scalar_text(v).map(|c| c.into_owned()));
        out.push(Some(v?));
    }
    Some(out)
}

fn metric_value(m: &Metric, group: &[usize], events: &[Value]) -> Option<f64> {
    let nums = |f: &str| -> Vec<f64> {
        group
            .iter()
            .flat_map(|&e| lookup(&events[e], f))
            .filter_map(|v| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .collect()
    };
    match m {
        Metric::Count => Some(group.len() as f64),
        Metric::DistinctCount(f) => {
            let set: BTreeSet<String> = group
                .iter()
                .flat_map(|&e| lookup(&events[e], f))
                .filter_map(|v| scalar_text(v).map(|c| c.into_owned()))
                .collect();
            Some(set.len() as f64)
        }
        Metric::Sum(f) => Some(nums(f).iter().sum()),
        Metric::Avg(f) => {
            let v = nums(f);
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        }
        Metric::Percentile(f, p) => {
            let mut v = nums(f);
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            let rank = ((*p as f64 / 100.0) * (v.len() - 1) as f64).round() as usize;
            v.get(rank).copied()
        }
    }
}

fn conditions_hold(conds: &[AggCondition], group: &[usize], events: &[Value]) -> bool {
    conds.iter().all(|c| {
        metric_value(&c.metric, group, events)
            .and_then(|v| v.partial_cmp(&(c.value as f64)))
            .is_some_and(|o| c.op.holds(o))
    })
}

fn run_aggregation(
    a: &Aggregation,
    sources: &[CompiledSource<'_>],
    events: &[Value],
    hits: &[Vec<bool>],
    times: &[i64],
    order: &[usize],
) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<KeyTuple, Vec<usize>> = BTreeMap::new();
    for &e in order {
        for (si, src) in sources.iter().enumerate() {
            if hits[si][e] {
                if let Some(k) = group_key(&a.group_by, src.aliases, &events[e]) {
                    groups.entry(k).or_default().push(e);
                }
                break;
            }
        }
    }
    let mut out = Vec::new();
    for members in groups.values() {
        let windows: Vec<Vec<usize>> = match (a.window, a.window_kind) {
            (Some(w), WindowKind::Sliding) => sliding_windows(members, times, w),
            (Some(w), WindowKind::Tumbling) => {
                let mut b: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
                for &e in members {
                    b.entry(times[e].div_euclid(w.millis.max(1) as i64)).or_default().push(e);
                }
                b.into_values().collect()
            }
            _ => vec![members.clone()],
        };
        if let Some(w) = windows.into_iter().find(|w| conditions_hold(&a.conditions, w, events)) {
            out.push(w);
        }
    }
    out
}

fn sliding_windows(members: &[usize], times: &[i64], w: TimeSpan) -> Vec<Vec<usize>> {
    let span = w.millis as i64;
    (0..members.len())
        .map(|i| {
            let t0 = times[members[i]];
            members[i..]
                .iter()
                .copied()
                .take_while(|&e| times[e] - t0 <= span)
                .collect()
        })
        .collect()
}

fn run_new_terms(
    n: &NewTerms,
    rule: &Rule,
    events: &[Value],
    hits: &[bool],
    times: &[i64],
    order: &[usize],
) -> Vec<Vec<usize>> {
    let Some(&last) = order.last() else {
        return vec![];
    };
    let lookback = rule
        .meta
        .from
        .as_deref()
        .and_then(|f| f.trim().strip_prefix("now-"))
        .and_then(TimeSpan::parse)
        .unwrap_or(TimeSpan::from_millis(360_000));
    let cutoff = times[last] - lookback.millis as i64;
    let combos = |doc: &Value| -> Vec<Vec<String>> {
        let mut acc: Vec<Vec<String>> = vec![vec![]];
        for f in &n.fields {
            let vals: Vec<String> = lookup(doc, f)
                .into_iter()
                .filter_map(|v| scalar_text(v).map(|c| c.into_owned()))
                .collect();
            if vals.is_empty() {
                return vec![];
            }
            acc = acc
                .into_iter()
                .flat_map(|p| vals.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v.clone());
                    q
                }))
                .collect();
        }
        acc
    };
    let mut history: HashMap<Vec<String>, ()> = HashMap::new();
    for &e in order {
        if hits[e] && times[e] < cutoff {
            for c in combos(&events[e]) {
                history.insert(c, ());
            }
        }
    }
    order
        .iter()
        .copied()
        .filter(|&e| hits[e] && times[e] >= cutoff)
        .filter(|&e| combos(&events[e]).iter().any(|c| !history.contains_key(c)))
        .map(|e| vec![e])
        .collect()
}

/// Convenience: does the expression match the event (compiling on the fly)?
pub fn expr_matches(expr: &Expr, doc: &Value) -> Result<bool, EvalError> {
    Ok(CompiledExpr::compile(expr)?.matches(doc))
}

/// A scalar as JSON (re-exported for target evaluators).
pub fn scalar_json(s: &Scalar) -> Value {
    scalar_to_json(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::StrPattern;
    use serde_json::json;

    #[test]
    fn not_matches_missing_and_arrays_match_any() {
        let e = Expr::not(Expr::matches("a", StrPattern::literal("x"), Case::Sensitive));
        assert!(expr_matches(&e, &json!({})).expect("eval"));
        assert!(!expr_matches(&e, &json!({"a": ["y", "x"]})).expect("eval"));
        let c = Expr::matches("a", StrPattern::literal("X"), Case::Insensitive);
        assert!(expr_matches(&c, &json!({"a": ["y", "x"]})).expect("eval"));
    }

    #[test]
    fn typed_equality() {
        let e = Expr::pred(Subject::field("id"), Op::Eq(Scalar::Int(4688)));
        assert!(expr_matches(&e, &json!({"id": "4688"})).expect("eval"));
        assert!(expr_matches(&e, &json!({"id": 4688})).expect("eval"));
        assert!(!expr_matches(&e, &json!({"id": "4689"})).expect("eval"));
    }

    #[test]
    fn keyword_search_any_leaf() {
        let e = Expr::pred(
            Subject::Keyword,
            Op::Match {
                pattern: StrPattern::contains("mimikatz"),
                case: Case::Insensitive,
            },
        );
        assert!(expr_matches(&e, &json!({"x": {"y": "run MIMIKATZ now"}})).expect("eval"));
        assert!(!expr_matches(&e, &json!({"x": 1})).expect("eval"));
    }
}
