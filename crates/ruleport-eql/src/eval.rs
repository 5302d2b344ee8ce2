//! The evaluator: Elasticsearch EQL semantics over JSON events.
//!
//! - Three-valued logic: a comparison with null is null, `not null` is null, `false and null` is
//!   false, `true or null` is true; an event matches when its condition is true.
//! - A field holding several values satisfies a predicate when any value does.
//! - `:`/`like` use `*` and `?` with no escape character; `regex` must match the whole value.
//! - An optional field (`?f`) that no event carries is unmapped: it becomes the null literal, as
//!   Elasticsearch does with a field missing from the index mapping.
//! - Events are ordered by `@timestamp`, then input order. Sequences run Elasticsearch's state
//!   machine; samples take, per join key, the first events (input order) matching each filter.

use crate::ast::{Body, Expr, PatternOp, Pipe, Query, SampleQuery, SequenceQuery, SubQuery};
use crate::lower::{arith_function, is_boolean};
use crate::lucene;
use crate::parser::{RED_ZONE, STACK_CHUNK};
use ruleport_model::eval::{scalar_cmp, scalar_eq};
use ruleport_model::event::{event_time, lookup, scalar_text};
use ruleport_model::functions::call;
use ruleport_model::matching::{fold, regex_source, GlobMatcher, LazyRegex};
use ruleport_model::{
    Case, CmpOp, CompiledQuery, Diagnostic, RegexAnchor, RegexSpec, RunError, Scalar, StrPattern,
};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

/// An upper bound on results, so hostile inputs stay bounded.
const MAX_RESULTS: usize = 10_000;

/// One result: the events it covers, in step order (`None` is a missing-event placeholder),
/// and the join-key values of a sequence or sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub events: Vec<Option<usize>>,
    pub keys: Vec<KeyValue>,
}

/// A join-key value.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

impl KeyValue {
    fn rank(&self) -> u8 {
        match self {
            KeyValue::Null => 0,
            KeyValue::Bool(_) => 1,
            KeyValue::Num(_) => 2,
            KeyValue::Str(_) => 3,
        }
    }

    fn from_json(v: &Value) -> KeyValue {
        match v {
            Value::Null => KeyValue::Null,
            Value::Bool(b) => KeyValue::Bool(*b),
            Value::Number(n) => KeyValue::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => KeyValue::Str(s.clone()),
            Value::Array(a) => a
                .iter()
                .find(|x| !x.is_null())
                .map(KeyValue::from_json)
                .unwrap_or(KeyValue::Null),
            Value::Object(_) => KeyValue::Str(v.to_string()),
        }
    }

    /// The text Elasticsearch's spec harness compares join keys by.
    pub fn as_text(&self) -> String {
        match self {
            KeyValue::Null => "null".into(),
            KeyValue::Bool(b) => b.to_string(),
            KeyValue::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => format!("{}", *n as i64),
            KeyValue::Num(n) => n.to_string(),
            KeyValue::Str(s) => s.clone(),
        }
    }
}

impl Eq for KeyValue {}

impl Ord for KeyValue {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (KeyValue::Bool(a), KeyValue::Bool(b)) => a.cmp(b),
            (KeyValue::Num(a), KeyValue::Num(b)) => a.total_cmp(b),
            (KeyValue::Str(a), KeyValue::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for KeyValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            KeyValue::Null => {}
            KeyValue::Bool(b) => b.hash(state),
            KeyValue::Num(n) => {
                let n = if *n == 0.0 { 0.0 } else { *n };
                n.to_bits().hash(state)
            }
            KeyValue::Str(s) => s.hash(state),
        }
    }
}

/// A parsed query ready to run.
pub struct CompiledEql {
    query: Query,
    regexes: HashMap<(String, bool), LazyRegex>,
    /// Wildcard patterns, listed and built on first run (every port is compiled once to check
    /// it, and most are never run).
    globs: OnceLock<HashMap<(String, bool), OnceLock<GlobMatcher>>>,
}

impl std::fmt::Debug for CompiledEql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledEql")
            .field("query", &self.query)
            .finish()
    }
}

impl CompiledEql {
    /// Prepare a parsed query (checks its regexes; wildcard patterns wait for the first run).
    pub fn new(query: Query) -> Result<CompiledEql, Diagnostic> {
        let mut regexes = HashMap::new();
        let mut error = None;
        let mut visit = |e: &Expr| {
            if let Expr::Pattern { op, patterns, .. } = e {
                for p in patterns {
                    let ci = op.is_insensitive();
                    if op.is_regex() {
                        if regexes.contains_key(&(p.clone(), ci)) {
                            continue;
                        }
                        // Syntax now; the matcher is built when the query first runs.
                        let compiled = lucene::to_rust(p).and_then(|pattern| {
                            LazyRegex::new(regex_source(&RegexSpec {
                                pattern,
                                case: if ci {
                                    Case::Insensitive
                                } else {
                                    Case::Sensitive
                                },
                                multiline: false,
                                dotall: true,
                                anchor: RegexAnchor::Full,
                            }))
                        });
                        match compiled {
                            Ok(r) => {
                                regexes.insert((p.clone(), ci), r);
                            }
                            Err(m) => error = Some(m),
                        }
                    }
                }
            }
        };
        for eq in query.event_queries() {
            walk(&eq.condition, &mut visit);
        }
        if let Some(m) = error {
            return Err(Diagnostic::error(
                "eql-regex",
                format!("regular expression does not compile: {m}"),
            ));
        }
        Ok(CompiledEql {
            query,
            regexes,
            globs: OnceLock::new(),
        })
    }

    /// The query's wildcard patterns, each matcher built when first used.
    fn globs(&self) -> &HashMap<(String, bool), OnceLock<GlobMatcher>> {
        self.globs.get_or_init(|| {
            let mut globs = HashMap::new();
            let mut visit = |e: &Expr| {
                if let Expr::Pattern { op, patterns, .. } = e {
                    if !op.is_regex() {
                        for p in patterns {
                            globs.entry((p.clone(), op.is_insensitive())).or_default();
                        }
                    }
                }
            };
            for eq in self.query.event_queries() {
                walk(&eq.condition, &mut visit);
            }
            globs
        })
    }

    /// The parsed query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Build every regex now; what exceeds the size limits is an error here (the query's
    /// syntax was checked by [`CompiledEql::new`]).
    pub fn build_regexes(&self) -> Result<(), RunError> {
        for ((p, _), r) in &self.regexes {
            r.get()
                .map_err(|m| RunError(format!("regular expression `{p}` does not compile: {m}")))?;
        }
        Ok(())
    }

    /// Run over events and return every result with placeholders and join keys. A regex that
    /// [`CompiledEql::build_regexes`] refuses matches nothing; `run` reports it instead.
    pub fn run_matches(&self, events: &[Value]) -> Vec<Match> {
        let unmapped = self.unmapped_optionals(events);
        let ctx = Ctx {
            unmapped: &unmapped,
            regexes: &self.regexes,
            globs: self.globs(),
        };
        let times: Vec<i64> = events
            .iter()
            .enumerate()
            .map(|(i, e)| event_time(e).unwrap_or(i as i64))
            .collect();
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (times[i], i));
        let mut out = match &self.query.body {
            Body::Event(q) => {
                let mut v = Vec::new();
                for &i in &order {
                    if ctx.filter(q, &events[i]) {
                        v.push(Match {
                            events: vec![Some(i)],
                            keys: vec![],
                        });
                    }
                }
                v
            }
            Body::Sequence(s) => run_sequence(&ctx, s, events, &times, &order),
            Body::Sample(s) => run_sample(&ctx, s, events),
        };
        for p in &self.query.pipes {
            match *p {
                Pipe::Head(n) => out.truncate(usize::try_from(n).unwrap_or(usize::MAX)),
                Pipe::Tail(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    if out.len() > n {
                        out.drain(..out.len() - n);
                    }
                }
            }
        }
        out
    }

    /// Optional fields that no event carries (Elasticsearch would not find them in the mapping).
    fn unmapped_optionals(&self, events: &[Value]) -> HashSet<String> {
        let mut names = HashSet::new();
        let mut add = |e: &Expr| {
            e.for_each_field(&mut |n, opt| {
                if opt {
                    names.insert(n.to_string());
                }
            })
        };
        for eq in self.query.event_queries() {
            add(&eq.condition);
        }
        let keys: Vec<&Expr> = match &self.query.body {
            Body::Event(_) => vec![],
            Body::Sequence(s) => {
                s.by.iter()
                    .chain(
                        s.steps
                            .iter()
                            .chain(s.until.iter())
                            .flat_map(|st| st.by.iter()),
                    )
                    .collect()
            }
            Body::Sample(s) => {
                s.by.iter()
                    .chain(s.steps.iter().flat_map(|st| st.by.iter()))
                    .collect()
            }
        };
        for k in keys {
            add(k);
        }
        names
            .into_iter()
            .filter(|n| !events.iter().any(|e| !lookup(e, n).is_empty()))
            .collect()
    }

    /// Whether one event matches a single-event query's filter (false for sequences and samples).
    pub fn event_matches(&self, doc: &Value) -> bool {
        let Body::Event(q) = &self.query.body else {
            return false;
        };
        let unmapped = self.unmapped_optionals(std::slice::from_ref(doc));
        let ctx = Ctx {
            unmapped: &unmapped,
            regexes: &self.regexes,
            globs: self.globs(),
        };
        ctx.filter(q, doc)
    }
}

impl CompiledQuery for CompiledEql {
    fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        self.build_regexes()?;
        Ok(self
            .run_matches(events)
            .into_iter()
            .map(|m| m.events.into_iter().flatten().collect())
            .collect())
    }
}

fn walk(e: &Expr, f: &mut impl FnMut(&Expr)) {
    stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || walk_inner(e, f))
}

fn walk_inner(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Not(x) | Expr::Neg(x) => walk(x, f),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| walk(x, f)),
        Expr::Compare { left, right, .. } | Expr::Arith { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::Pattern { value, .. } => walk(value, f),
        Expr::In { value, items, .. } => {
            walk(value, f);
            items.iter().for_each(|x| walk(x, f));
        }
        Expr::Call { args, .. } => args.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

struct Ctx<'a> {
    unmapped: &'a HashSet<String>,
    regexes: &'a HashMap<(String, bool), LazyRegex>,
    globs: &'a HashMap<(String, bool), OnceLock<GlobMatcher>>,
}

/// The JSON value of a literal expression.
pub(crate) fn literal_value(e: &Expr) -> Option<Value> {
    match e {
        Expr::Bool(b) => Some(Value::Bool(*b)),
        Expr::Int(i) => Some(Value::from(*i)),
        Expr::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        Expr::Str(s) => Some(Value::String(s.clone())),
        _ => None,
    }
}

/// A scalar JSON value as a model scalar.
pub(crate) fn json_to_scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(Scalar::Int)
            .or_else(|| n.as_f64().map(Scalar::Float)),
        _ => None,
    }
}

/// The non-null scalar elements of a value (arrays flattened).
fn elements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().flat_map(elements).collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// Compare two non-literal values (no implicit type conversion beyond numbers).
fn generic_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(_), Value::String(s)) | (Value::String(s), Value::Number(_)) => {
            let n = if a.is_number() { a } else { b };
            scalar_text(n).is_some_and(|t| t == s.as_str())
        }
        _ => false,
    }
}

fn generic_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

/// Evaluate `l op r` for two constant values (used for folding); `None` when undefined.
pub(crate) fn values_compare(op: CmpOp, l: &Value, r: &Value) -> Option<bool> {
    let le = elements(l);
    let re = elements(r);
    if le.is_empty() || re.is_empty() {
        return None;
    }
    Some(match op {
        CmpOp::Eq => le.iter().any(|a| re.iter().any(|b| generic_eq(a, b))),
        CmpOp::Ne => !le.iter().any(|a| re.iter().any(|b| generic_eq(a, b))),
        _ => le.iter().any(|a| {
            re.iter()
                .any(|b| generic_cmp(a, b).is_some_and(|o| op.holds(o)))
        }),
    })
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

impl Ctx<'_> {
    fn is_unmapped(&self, e: &Expr) -> bool {
        matches!(e, Expr::Field { name, optional: true } if self.unmapped.contains(name))
    }

    /// `null`, or a constant value expression that folds to null (Elasticsearch folds it, then
    /// turns `x == null` into an existence test).
    fn is_null_like(&self, e: &Expr, doc: &Value) -> bool {
        matches!(e, Expr::Null)
            || (e.is_constant() && !is_boolean(e) && self.eval(e, doc).is_none())
    }

    fn filter(&self, q: &crate::ast::EventQuery, doc: &Value) -> bool {
        if let Some(cat) = &q.category {
            let cats = lookup(doc, "event.category");
            if !cats.iter().any(|c| c.as_str() == Some(cat.as_str())) {
                return false;
            }
        }
        self.truth(&q.condition, doc) == Some(true)
    }

    fn truth(&self, e: &Expr, doc: &Value) -> Option<bool> {
        match self.eval(e, doc)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Evaluate an expression; `None` is null.
    fn eval(&self, e: &Expr, doc: &Value) -> Option<Value> {
        stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || self.eval_inner(e, doc))
    }

    fn eval_inner(&self, e: &Expr, doc: &Value) -> Option<Value> {
        match e {
            Expr::Null => None,
            Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_) => literal_value(e),
            Expr::Field { name, optional } => {
                if *optional && self.unmapped.contains(name) {
                    return None;
                }
                let vals = lookup(doc, name);
                match vals.len() {
                    0 => None,
                    1 => Some(vals[0].clone()),
                    _ => Some(Value::Array(vals.into_iter().cloned().collect())),
                }
            }
            Expr::Not(x) => self.truth(x, doc).map(|b| Value::Bool(!b)),
            Expr::And(v) => {
                let mut null = false;
                for x in v {
                    match self.truth(x, doc) {
                        Some(false) => return Some(Value::Bool(false)),
                        None => null = true,
                        Some(true) => {}
                    }
                }
                (!null).then_some(Value::Bool(true))
            }
            Expr::Or(v) => {
                let mut null = false;
                for x in v {
                    match self.truth(x, doc) {
                        Some(true) => return Some(Value::Bool(true)),
                        None => null = true,
                        Some(false) => {}
                    }
                }
                (!null).then_some(Value::Bool(false))
            }
            Expr::Compare { op, left, right } => {
                self.compare(*op, left, right, doc).map(Value::Bool)
            }
            Expr::Pattern {
                op,
                value,
                patterns,
            } => {
                let v = self.eval(value, doc)?;
                let elems = elements(&v);
                if elems.is_empty() {
                    return None;
                }
                let ci = op.is_insensitive();
                let hit = elems.iter().any(|el| {
                    let Some(text) = scalar_text(el) else {
                        return false;
                    };
                    patterns
                        .iter()
                        .any(|p| self.pattern_matches(*op, p, ci, &text))
                });
                Some(Value::Bool(hit))
            }
            Expr::In {
                value,
                items,
                insensitive,
                negated,
            } => {
                let v = self.eval(value, doc)?;
                let elems = elements(&v);
                if elems.is_empty() {
                    return None;
                }
                let lits: Vec<Value> = items.iter().filter_map(|it| self.eval(it, doc)).collect();
                let hit = elems.iter().any(|el| {
                    lits.iter().any(|lit| match (lit, *insensitive) {
                        (Value::String(s), true) => {
                            scalar_text(el).is_some_and(|t| fold(&t) == fold(s))
                        }
                        _ => json_to_scalar(lit).is_some_and(|sc| scalar_eq(&sc, el)),
                    })
                });
                Some(Value::Bool(hit != *negated))
            }
            Expr::Arith { op, left, right } => {
                let l = self.eval(left, doc);
                let r = self.eval(right, doc);
                call(arith_function(*op), false, &[l, r])
            }
            Expr::Neg(x) => {
                let v = self.eval(x, doc);
                call("subtract", false, &[Some(Value::from(0)), v])
            }
            Expr::Call {
                name,
                insensitive,
                args,
            } => {
                let vals: Vec<Option<Value>> = args.iter().map(|a| self.eval(a, doc)).collect();
                call(name, *insensitive, &vals)
            }
        }
    }

    fn pattern_matches(&self, op: PatternOp, p: &str, ci: bool, text: &str) -> bool {
        if op.is_regex() {
            self.regexes
                .get(&(p.to_string(), ci))
                .is_some_and(|r| r.get().is_ok_and(|r| r.is_match(text)))
        } else {
            self.globs.get(&(p.to_string(), ci)).is_some_and(|g| {
                g.get_or_init(|| {
                    let case = if ci {
                        Case::Insensitive
                    } else {
                        Case::Sensitive
                    };
                    GlobMatcher::new(&StrPattern::from_glob_unescaped(p), case)
                })
                .is_match(text)
            })
        }
    }

    fn compare(&self, op: CmpOp, left: &Expr, right: &Expr, doc: &Value) -> Option<bool> {
        let both_unmapped = self.is_unmapped(left) && self.is_unmapped(right);
        let (ln, rn) = (self.is_null_like(left, doc), self.is_null_like(right, doc));
        if ln || rn || both_unmapped {
            let is_null = if (ln && rn) || both_unmapped {
                true
            } else {
                let other = if rn { left } else { right };
                self.eval(other, doc)
                    .is_none_or(|v| elements(&v).is_empty())
            };
            return match op {
                CmpOp::Eq => Some(is_null),
                CmpOp::Ne => Some(!is_null),
                _ => None,
            };
        }
        // A constant side is compared as a literal (the lowering folds it the same way).
        let (var, lit, op) = if right.is_constant() && !left.is_constant() {
            (left, right, op)
        } else if left.is_constant() && !right.is_constant() {
            (right, left, flip(op))
        } else {
            let l = self.eval(left, doc)?;
            let r = self.eval(right, doc)?;
            return values_compare(op, &l, &r);
        };
        let lv = self.eval(lit, doc)?;
        let v = self.eval(var, doc)?;
        let elems = elements(&v);
        if elems.is_empty() {
            return None;
        }
        let scalar = json_to_scalar(&lv)?;
        Some(match op {
            CmpOp::Eq => elems.iter().any(|e| scalar_eq(&scalar, e)),
            CmpOp::Ne => !elems.iter().any(|e| scalar_eq(&scalar, e)),
            _ => elems
                .iter()
                .any(|e| scalar_cmp(&scalar, e).is_some_and(|o| op.holds(o))),
        })
    }

    /// The join key of `doc` for a step: `None` when a required (non-optional) key is null.
    fn key(&self, keys: &[&Expr], doc: &Value) -> Option<Vec<KeyValue>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let v = self
                .eval(k, doc)
                .map(|v| KeyValue::from_json(&v))
                .unwrap_or(KeyValue::Null);
            let optional = matches!(k, Expr::Field { optional: true, .. });
            if v == KeyValue::Null && !optional {
                return None;
            }
            out.push(v);
        }
        Some(out)
    }
}

/// Per-step filter results and join keys, computed once per event.
struct StepHits {
    /// `keys[e]` is `Some(key)` when event `e` matches the step with a usable key.
    keys: Vec<Option<Vec<KeyValue>>>,
}

fn step_hits(ctx: &Ctx<'_>, shared: &[Expr], st: &SubQuery, events: &[Value]) -> StepHits {
    let key_exprs: Vec<&Expr> = shared.iter().chain(st.by.iter()).collect();
    let keys = events
        .iter()
        .map(|doc| {
            if ctx.filter(&st.query, doc) {
                ctx.key(&key_exprs, doc)
            } else {
                None
            }
        })
        .collect();
    StepHits { keys }
}

struct Pending {
    /// Positions (in time order) of the positive events so far.
    positions: Vec<usize>,
    start_time: i64,
}

/// Elasticsearch's sequence state machine (see eql-syntax.md, "How sequence queries handle
/// matches"): one pending sequence per state per join key; a newer one overwrites an older one.
fn run_sequence(
    ctx: &Ctx<'_>,
    s: &SequenceQuery,
    events: &[Value],
    times: &[i64],
    order: &[usize],
) -> Vec<Match> {
    let hits: Vec<StepHits> = s
        .steps
        .iter()
        .map(|st| step_hits(ctx, &s.by, st, events))
        .collect();
    let until = s.until.as_ref().map(|u| step_hits(ctx, &s.by, u, events));
    // Stages expanded by `runs`: (step index, missing).
    let stages: Vec<(usize, bool)> = s
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, st)| std::iter::repeat_n((i, st.missing), st.runs.max(1) as usize))
        .collect();
    let positives: Vec<usize> = (0..stages.len()).filter(|&i| !stages[i].1).collect();
    let n = positives.len();
    if n == 0 {
        return vec![];
    }
    let maxspan = s.maxspan.map(|m| m.millis as i64);
    let mut pending: HashMap<Vec<KeyValue>, Vec<Option<Pending>>> = HashMap::new();
    let mut out = Vec::new();
    for (pos, &e) in order.iter().enumerate() {
        if let Some(u) = &until {
            if let Some(k) = &u.keys[e] {
                pending.remove(k);
            }
        }
        for p in (0..n).rev() {
            let step = stages[positives[p]].0;
            let Some(key) = &hits[step].keys[e] else {
                continue;
            };
            let seq = if p == 0 {
                Some(Pending {
                    positions: vec![pos],
                    start_time: times[e],
                })
            } else {
                let Some(slots) = pending.get_mut(key) else {
                    continue;
                };
                let Some(mut seq) = slots[p - 1].take() else {
                    continue;
                };
                if maxspan.is_some_and(|m| times[e] - seq.start_time > m) {
                    continue;
                }
                seq.positions.push(pos);
                Some(seq)
            };
            let Some(seq) = seq else { continue };
            if p == n - 1 {
                if let Some(m) = complete(
                    s, &stages, &positives, &hits, &seq, key, order, times, maxspan,
                ) {
                    out.push(m);
                    if out.len() >= MAX_RESULTS {
                        return out;
                    }
                }
            } else {
                let slots = pending
                    .entry(key.clone())
                    .or_insert_with(|| (0..n).map(|_| None).collect());
                slots[p] = Some(seq);
            }
        }
    }
    out
}

/// Check a candidate's missing-event steps; the completed match if none occurred.
#[allow(clippy::too_many_arguments)]
fn complete(
    s: &SequenceQuery,
    stages: &[(usize, bool)],
    positives: &[usize],
    hits: &[StepHits],
    seq: &Pending,
    key: &[KeyValue],
    order: &[usize],
    times: &[i64],
    maxspan: Option<i64>,
) -> Option<Match> {
    let is_hit = |step: usize, pos: usize| hits[step].keys[order[pos]].as_deref() == Some(key);
    let first = positives[0];
    let last = positives[positives.len() - 1];
    // A missing step between two positive steps: no matching event strictly between them.
    for (si, &(step, missing)) in stages.iter().enumerate() {
        if !missing || si < first || si > last {
            continue;
        }
        let before = positives
            .iter()
            .rposition(|&p| p < si)
            .map(|i| seq.positions[i]);
        let after = positives
            .iter()
            .position(|&p| p > si)
            .map(|i| seq.positions[i]);
        if let (Some(a), Some(b)) = (before, after) {
            if (a + 1..b).any(|pos| is_hit(step, pos)) {
                return None;
            }
        }
    }
    // Leading and trailing missing steps: the candidate is dropped only when events for all of
    // them occur (in order) with the whole span within maxspan.
    let leading: Vec<usize> = (0..first).filter(|&i| stages[i].1).collect();
    let trailing: Vec<usize> = (last + 1..stages.len()).filter(|&i| stages[i].1).collect();
    if !leading.is_empty() || !trailing.is_empty() {
        let first_pos = seq.positions[0];
        let last_pos = seq.positions[seq.positions.len() - 1];
        let mut lo_time = times[order[first_pos]];
        let mut hi_time = times[order[last_pos]];
        let mut all_found = true;
        let mut anchor = first_pos;
        for &si in leading.iter().rev() {
            let step = stages[si].0;
            match (0..anchor).rev().find(|&pos| is_hit(step, pos)) {
                Some(pos) => {
                    anchor = pos;
                    lo_time = lo_time.min(times[order[pos]]);
                }
                None => {
                    all_found = false;
                    break;
                }
            }
        }
        let mut anchor = last_pos;
        if all_found {
            for &si in &trailing {
                let step = stages[si].0;
                match (anchor + 1..order.len()).find(|&pos| is_hit(step, pos)) {
                    Some(pos) => {
                        anchor = pos;
                        hi_time = hi_time.max(times[order[pos]]);
                    }
                    None => {
                        all_found = false;
                        break;
                    }
                }
            }
        }
        if all_found && maxspan.is_none_or(|m| hi_time - lo_time <= m) {
            return None;
        }
    }
    let _ = s;
    let mut events = Vec::with_capacity(stages.len());
    let mut k = 0;
    for &(_, missing) in stages {
        if missing {
            events.push(None);
        } else {
            events.push(Some(order[seq.positions[k]]));
            k += 1;
        }
    }
    Some(Match {
        events,
        keys: key.to_vec(),
    })
}

/// Samples: per join key (sorted), the first events in input order matching each filter, each
/// event used once.
fn run_sample(ctx: &Ctx<'_>, s: &SampleQuery, events: &[Value]) -> Vec<Match> {
    let hits: Vec<StepHits> = s
        .steps
        .iter()
        .map(|st| step_hits(ctx, &s.by, st, events))
        .collect();
    let mut by_key: BTreeMap<Vec<KeyValue>, Vec<Vec<usize>>> = BTreeMap::new();
    for (si, h) in hits.iter().enumerate() {
        for (e, k) in h.keys.iter().enumerate() {
            if let Some(k) = k {
                by_key
                    .entry(k.clone())
                    .or_insert_with(|| vec![Vec::new(); s.steps.len()])[si]
                    .push(e);
            }
        }
    }
    let mut out = Vec::new();
    for (key, cands) in by_key {
        let mut chosen = Vec::new();
        if assign(&cands, 0, &mut chosen, &mut 0) {
            out.push(Match {
                events: chosen.into_iter().map(Some).collect(),
                keys: key,
            });
            if out.len() >= MAX_RESULTS {
                break;
            }
        }
    }
    out
}

/// Pick one distinct event per step, earliest candidates first (bounded backtracking).
fn assign(cands: &[Vec<usize>], step: usize, chosen: &mut Vec<usize>, budget: &mut usize) -> bool {
    if step == cands.len() {
        return true;
    }
    *budget += 1;
    if *budget > 100_000 {
        return false;
    }
    for &e in &cands[step] {
        if chosen.contains(&e) {
            continue;
        }
        chosen.push(e);
        if assign(cands, step + 1, chosen, budget) {
            return true;
        }
        chosen.pop();
    }
    false
}
