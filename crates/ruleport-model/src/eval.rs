//! The reference semantics: evaluate a rule model over events. Every port is compared with this.

use crate::detection::{
    AggCondition, Aggregation, Detection, EventFilter, EventSource, Metric, NewTerms, Sample,
    SeqStep, Sequence, WindowKind,
};
use crate::event::{event_time, leaves, lookup, scalar_text};
pub use crate::event::{FieldIds, FlatEvent, Leaf};
use crate::expr::{Expr, FieldRefKind, Op, Operand, Predicate, RegexSpec, Subject};
use crate::functions::{eval_operand, scalar_to_json};
use crate::matching::{
    cidr_contains, compile_regex, fold, regex_source, GlobMatcher, REGEX_DFA_LIMIT,
    REGEX_SIZE_LIMIT,
};
use crate::rule::{LogSource, Rule};
use crate::value::{Case, PatternShape, Piece, Scalar, StrPattern, TimeSpan};
use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
///
/// Compilation folds case-insensitive literals once, picks a matcher per pattern shape, and
/// merges the string predicates an `Or` applies to one field into a single [`CompiledPred`]
/// (one Aho-Corasick automaton for its substrings, one regex set for its regexes). Evaluated on
/// a document ([`CompiledExpr::matches`]) fields are looked up by name; evaluated on a
/// [`FlatEvent`] ([`CompiledExpr::matches_flat`]) they are found by interned id.
#[derive(Debug, Clone)]
pub enum CompiledExpr {
    And(Vec<CompiledExpr>),
    Or(Vec<CompiledExpr>),
    Not(Box<CompiledExpr>),
    Const(bool),
    Pred(Box<CompiledPred>),
    Nested {
        path: String,
        inner: Box<CompiledExpr>,
    },
}

#[derive(Debug, Clone)]
pub struct CompiledPred {
    subject: Subject,
    /// The interned id of a plain field subject.
    field: Option<u32>,
    op: CompiledOp,
}

#[derive(Debug, Clone)]
enum CompiledOp {
    Match(Box<GlobMatcher>),
    Eq(Scalar),
    Cmp(crate::expr::CmpOp, Scalar),
    Regex(regex::Regex),
    Cidr(ipnet::IpNet),
    Exists,
    FieldRef {
        other: String,
        other_id: Option<u32>,
        kind: FieldRefKind,
        case: Case,
    },
    IsTrue,
    /// Analysed text: the query's tokens (computed once) and how they must occur.
    Text {
        tokens: Vec<String>,
        analyzer: crate::text::Analyzer,
        mode: crate::text::TextMode,
    },
    /// Several `Match`/`Regex` ops ORed on one subject: some value satisfies one of them.
    AnyOf(Box<AnyOf>),
}

/// The string tests of an `Or` on one subject, merged.
#[derive(Debug, Clone, Default)]
struct AnyOf {
    sensitive: LiteralSet,
    /// Literals folded at compile time; values are matched through their folded text.
    insensitive: LiteralSet,
    regexes: Option<regex::RegexSet>,
}

/// Patterns matched against one (prepared) text.
#[derive(Debug, Clone, Default)]
struct LiteralSet {
    any: bool,
    exact: Vec<String>,
    exact_set: HashSet<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    globs: Vec<GlobMatcher>,
    /// The `*x*` patterns, searched for by this set alone.
    contains: Option<Contains>,
    /// The same needles' ids in the field's shared table (sorted): on a flat event from a
    /// sealed table, one scan per value answers for every rule.
    shared: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Contains {
    One(Box<Finder<'static>>),
    Many(AhoCorasick),
}

impl Contains {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Contains::One(f) => f.find(text.as_bytes()).is_some(),
            Contains::Many(ac) => ac.is_match(text),
        }
    }
}

/// Exact values are hashed once a set is larger than this; below it a scan is faster.
const EXACT_SCAN_MAX: usize = 8;

impl LiteralSet {
    fn is_empty(&self) -> bool {
        !self.any
            && self.exact.is_empty()
            && self.exact_set.is_empty()
            && self.prefixes.is_empty()
            && self.suffixes.is_empty()
            && self.contains.is_none()
            && self.globs.is_empty()
    }

    /// `shared`: the field's table and id, for case-insensitive sets on a plain field.
    fn build(
        patterns: Vec<&StrPattern>,
        case: Case,
        shared: Option<(&mut FieldIds, u32)>,
    ) -> Result<LiteralSet, EvalError> {
        let prep = |s: &str| {
            if case.is_insensitive() {
                fold(s)
            } else {
                s.to_string()
            }
        };
        let mut set = LiteralSet::default();
        let mut contains = Vec::new();
        for p in patterns {
            match p.shape() {
                PatternShape::Any => set.any = true,
                PatternShape::Exact(s) => set.exact.push(prep(s)),
                PatternShape::Prefix(s) => set.prefixes.push(prep(s)),
                PatternShape::Suffix(s) => set.suffixes.push(prep(s)),
                PatternShape::Contains(s) => contains.push(prep(s)),
                PatternShape::Glob => set.globs.push(GlobMatcher::new(p, case)),
            }
        }
        if set.exact.len() > EXACT_SCAN_MAX {
            set.exact_set = std::mem::take(&mut set.exact).into_iter().collect();
        }
        if let (Some((ids, field)), true) = (shared, case.is_insensitive()) {
            set.shared = contains
                .iter()
                .map(|n| ids.intern_needle(field, n))
                .collect();
            set.shared.sort_unstable();
            set.shared.dedup();
        }
        set.contains = match contains.len() {
            0 => None,
            1 => Some(Contains::One(Box::new(
                Finder::new(contains[0].as_bytes()).into_owned(),
            ))),
            _ => Some(Contains::Many(AhoCorasick::new(&contains).map_err(
                |e| EvalError::Unsupported(format!("substring automaton: {e}")),
            )?)),
        };
        Ok(set)
    }

    /// `text` is already folded for the case-insensitive set; `shared_hit` answers for the
    /// shared needles when it can.
    fn is_match(&self, text: &str, shared_hit: impl FnOnce(&[u32]) -> Option<bool>) -> bool {
        self.any
            || self.exact.iter().any(|e| e == text)
            || (!self.exact_set.is_empty() && self.exact_set.contains(text))
            || self.suffixes.iter().any(|s| text.ends_with(s.as_str()))
            || self.prefixes.iter().any(|p| text.starts_with(p.as_str()))
            || self.globs.iter().any(|g| g.is_match_prepared(text))
            || self.contains.as_ref().is_some_and(|c| {
                let shared = if self.shared.is_empty() {
                    None
                } else {
                    shared_hit(&self.shared)
                };
                shared.unwrap_or_else(|| c.is_match(text))
            })
    }
}

impl AnyOf {
    fn matches(&self, leaf: &Leaf<'_>, shared_hit: impl FnOnce(&[u32]) -> Option<bool>) -> bool {
        if matches!(
            leaf.value(),
            Value::Object(_) | Value::Array(_) | Value::Null
        ) {
            return false;
        }
        let Some(text) = leaf.text() else {
            return false;
        };
        (!self.sensitive.is_empty() && self.sensitive.is_match(text, |_| None))
            || (!self.insensitive.is_empty()
                && leaf
                    .folded()
                    .is_some_and(|f| self.insensitive.is_match(f, shared_hit)))
            || self.regexes.as_ref().is_some_and(|r| r.is_match(text))
    }
}

impl CompiledExpr {
    pub fn compile(expr: &Expr) -> Result<CompiledExpr, EvalError> {
        Self::compile_with(expr, &mut FieldIds::default())
    }

    /// Compile with field names interned in a shared table, for [`CompiledExpr::matches_flat`].
    pub fn compile_with(expr: &Expr, ids: &mut FieldIds) -> Result<CompiledExpr, EvalError> {
        Ok(match expr {
            Expr::And(v) => CompiledExpr::And(
                v.iter()
                    .map(|e| Self::compile_with(e, ids))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => CompiledExpr::Or(compile_or(v, ids)?),
            Expr::Not(e) => CompiledExpr::Not(Box::new(Self::compile_with(e, ids)?)),
            Expr::Const(b) => CompiledExpr::Const(*b),
            Expr::Nested { path, inner } => CompiledExpr::Nested {
                path: path.clone(),
                inner: Box::new(Self::compile_with(inner, ids)?),
            },
            Expr::Pred(p) => CompiledExpr::Pred(Box::new(compile_pred(p, ids)?)),
        })
    }

    pub fn matches(&self, doc: &Value) -> bool {
        self.eval(&DocFields(doc))
    }

    /// Evaluate on an event flattened with the table this expression was compiled with.
    pub fn matches_flat(&self, ev: &FlatEvent<'_>) -> bool {
        self.eval(&FlatFields(ev))
    }

    fn eval<'a, S: Fields<'a>>(&self, src: &S) -> bool {
        match self {
            CompiledExpr::And(v) => v.iter().all(|e| e.eval(src)),
            CompiledExpr::Or(v) => v.iter().any(|e| e.eval(src)),
            CompiledExpr::Not(e) => !e.eval(src),
            CompiledExpr::Const(b) => *b,
            CompiledExpr::Nested { path, inner } => lookup(src.doc(), path)
                .into_iter()
                .any(|el| inner.eval(&DocFields(el))),
            CompiledExpr::Pred(p) => p.eval(src),
        }
    }
}

/// The children of an `Or`, with the string predicates on one subject merged into one.
fn compile_or(items: &[Expr], ids: &mut FieldIds) -> Result<Vec<CompiledExpr>, EvalError> {
    let mut groups: Vec<(&Subject, Vec<&Op>)> = Vec::new();
    let mut out = Vec::new();
    for e in items {
        if let Expr::Pred(p) = e {
            if matches!(p.op, Op::Match { .. } | Op::Regex(_))
                && !matches!(p.subject, Subject::Computed(_))
            {
                match groups.iter_mut().find(|(s, _)| **s == p.subject) {
                    Some((_, ops)) => ops.push(&p.op),
                    None => groups.push((&p.subject, vec![&p.op])),
                }
                continue;
            }
        }
        out.push(CompiledExpr::compile_with(e, ids)?);
    }
    for (subject, ops) in groups {
        let pred = if let [op] = ops.as_slice() {
            compile_pred(
                &Predicate {
                    subject: subject.clone(),
                    op: (*op).clone(),
                },
                ids,
            )?
        } else {
            let mut sensitive = Vec::new();
            let mut insensitive = Vec::new();
            let mut regexes = Vec::new();
            for op in ops {
                match op {
                    Op::Match {
                        pattern,
                        case: Case::Sensitive,
                    } => sensitive.push(pattern),
                    Op::Match {
                        pattern,
                        case: Case::Insensitive,
                    } => insensitive.push(pattern),
                    Op::Regex(spec) => regexes.push(spec),
                    _ => {}
                }
            }
            let field = match subject {
                Subject::Keyword => Some(KEYWORD_TABLE),
                _ => subject.field_name().and_then(|n| ids.intern(n)),
            };
            let any = AnyOf {
                sensitive: LiteralSet::build(sensitive, Case::Sensitive, None)?,
                insensitive: LiteralSet::build(
                    insensitive,
                    Case::Insensitive,
                    field.map(|f| (&mut *ids, f)),
                )?,
                regexes: match regexes.is_empty() {
                    true => None,
                    false => Some(compile_regex_set(&regexes)?),
                },
            };
            CompiledPred {
                subject: subject.clone(),
                field,
                op: CompiledOp::AnyOf(Box::new(any)),
            }
        };
        out.push(CompiledExpr::Pred(Box::new(pred)));
    }
    Ok(out)
}

fn compile_regex_set(specs: &[&RegexSpec]) -> Result<regex::RegexSet, EvalError> {
    // Compile each alone first so that an invalid one is reported as before.
    for spec in specs {
        compile_regex(spec).map_err(|message| EvalError::Regex {
            pattern: spec.pattern.clone(),
            message,
        })?;
    }
    regex::RegexSetBuilder::new(specs.iter().map(|s| regex_source(s)))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| EvalError::Regex {
            pattern: specs
                .iter()
                .map(|s| s.pattern.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            message: e.to_string(),
        })
}

/// The needle table of keyword search (field-less: every scalar leaf), beside the field ids.
const KEYWORD_TABLE: u32 = u32::MAX;

fn compile_pred(p: &Predicate, ids: &mut FieldIds) -> Result<CompiledPred, EvalError> {
    let field = match p.subject {
        Subject::Keyword => Some(KEYWORD_TABLE),
        _ => p.subject.field_name().and_then(|n| ids.intern(n)),
    };
    let op = match &p.op {
        // A substring search that can share the field's one scan per event.
        Op::Match {
            pattern,
            case: Case::Insensitive,
        } if field.is_some() && matches!(pattern.shape(), PatternShape::Contains(_)) => {
            CompiledOp::AnyOf(Box::new(AnyOf {
                insensitive: LiteralSet::build(
                    vec![pattern],
                    Case::Insensitive,
                    field.map(|f| (&mut *ids, f)),
                )?,
                ..AnyOf::default()
            }))
        }
        Op::Match { pattern, case } => {
            CompiledOp::Match(Box::new(GlobMatcher::new(pattern, *case)))
        }
        Op::Eq(s) => CompiledOp::Eq(s.clone()),
        Op::Cmp { op, value } => CompiledOp::Cmp(*op, value.clone()),
        Op::Regex(spec) => {
            CompiledOp::Regex(compile_regex(spec).map_err(|message| EvalError::Regex {
                pattern: spec.pattern.clone(),
                message,
            })?)
        }
        Op::Cidr(net) => CompiledOp::Cidr(*net),
        Op::Exists => CompiledOp::Exists,
        Op::FieldRef { other, kind, case } => CompiledOp::FieldRef {
            other: other.clone(),
            other_id: ids.intern(other),
            kind: *kind,
            case: *case,
        },
        Op::IsTrue => CompiledOp::IsTrue,
        Op::Text(q) => CompiledOp::Text {
            tokens: q.tokens(),
            analyzer: q.analyzer,
            mode: q.mode,
        },
    };
    Ok(CompiledPred {
        subject: p.subject.clone(),
        field,
        op,
    })
}

/// Where predicate values come from: a document (lookup by name) or a flat event (by id).
trait Fields<'a> {
    fn doc(&self) -> &'a Value;
    /// Whether `f` holds for some value of the field.
    fn any_value(&self, name: &str, id: Option<u32>, f: impl FnMut(&Leaf<'_>) -> bool) -> bool;
    /// Whether `f` holds for some scalar leaf of the event.
    fn any_leaf(&self, f: impl FnMut(&Leaf<'_>) -> bool) -> bool;
    /// [`FlatEvent::contains_any`], where the source can answer it.
    fn contains_any(&self, _field: u32, _leaf: &Leaf<'_>, _needles: &[u32]) -> Option<bool> {
        None
    }
}

struct DocFields<'a>(&'a Value);

impl<'a> Fields<'a> for DocFields<'a> {
    fn doc(&self) -> &'a Value {
        self.0
    }

    fn any_value(
        &self,
        name: &str,
        _id: Option<u32>,
        mut f: impl FnMut(&Leaf<'_>) -> bool,
    ) -> bool {
        lookup(self.0, name).into_iter().any(|v| f(&Leaf::new(v)))
    }

    fn any_leaf(&self, mut f: impl FnMut(&Leaf<'_>) -> bool) -> bool {
        leaves(self.0).into_iter().any(|v| f(&Leaf::new(v)))
    }
}

struct FlatFields<'e, 'a>(&'e FlatEvent<'a>);

impl<'a> Fields<'a> for FlatFields<'_, 'a> {
    fn doc(&self) -> &'a Value {
        self.0.doc()
    }

    fn any_value(&self, name: &str, id: Option<u32>, mut f: impl FnMut(&Leaf<'_>) -> bool) -> bool {
        match id {
            Some(id) => self.0.values(id).iter().any(f),
            None => lookup(self.0.doc(), name)
                .into_iter()
                .any(|v| f(&Leaf::new(v))),
        }
    }

    fn any_leaf(&self, f: impl FnMut(&Leaf<'_>) -> bool) -> bool {
        self.0.keyword_leaves().iter().any(f)
    }

    fn contains_any(&self, field: u32, leaf: &Leaf<'_>, needles: &[u32]) -> Option<bool> {
        self.0.contains_any(field, leaf, needles)
    }
}

impl CompiledPred {
    /// Whether `f` holds for some value of the subject.
    fn any_subject_value<'a, S: Fields<'a>>(
        &self,
        src: &S,
        mut f: impl FnMut(&Leaf<'_>) -> bool,
    ) -> bool {
        match &self.subject {
            Subject::Field { name, .. } => src.any_value(name, self.field, f),
            Subject::Keyword => src.any_leaf(f),
            Subject::Computed(op) => match eval_operand(op, src.doc()) {
                None => false,
                Some(Value::Array(a)) => {
                    a.iter().filter(|v| !v.is_null()).any(|v| f(&Leaf::new(v)))
                }
                Some(v) => f(&Leaf::new(&v)),
            },
        }
    }

    fn eval<'a, S: Fields<'a>>(&self, src: &S) -> bool {
        match &self.op {
            CompiledOp::Exists => self.any_subject_value(src, |_| true),
            CompiledOp::IsTrue => {
                self.any_subject_value(src, |v| v.value().as_bool() == Some(true))
            }
            CompiledOp::FieldRef {
                other,
                other_id,
                kind,
                case,
            } => self.any_subject_value(src, |a| {
                src.any_value(other, *other_id, |b| {
                    let (x, y) = if case.is_insensitive() {
                        (a.folded(), b.folded())
                    } else {
                        (a.text(), b.text())
                    };
                    match (x, y) {
                        (Some(x), Some(y)) => field_ref_holds(x, y, *kind),
                        _ => false,
                    }
                })
            }),
            op => self.any_subject_value(src, |v| {
                leaf_matches(op, v, |needles| {
                    self.field.and_then(|f| src.contains_any(f, v, needles))
                })
            }),
        }
    }
}

/// `a` and `b` already folded when the comparison is case-insensitive.
fn field_ref_holds(a: &str, b: &str, kind: FieldRefKind) -> bool {
    match kind {
        FieldRefKind::Equals => a == b,
        FieldRefKind::StartsWith => a.starts_with(b),
        FieldRefKind::EndsWith => a.ends_with(b),
        FieldRefKind::Contains => a.contains(b),
    }
}

fn leaf_matches(
    op: &CompiledOp,
    leaf: &Leaf<'_>,
    shared_hit: impl FnOnce(&[u32]) -> Option<bool>,
) -> bool {
    match op {
        CompiledOp::Match(g) => match leaf.value() {
            Value::Object(_) | Value::Array(_) | Value::Null => false,
            _ => match g.case() {
                Case::Sensitive => leaf.text().is_some_and(|t| g.is_match_prepared(t)),
                Case::Insensitive => leaf.folded().is_some_and(|t| g.is_match_prepared(t)),
            },
        },
        CompiledOp::Eq(Scalar::Str(t)) => leaf.text().is_some_and(|x| x == t.as_str()),
        CompiledOp::Eq(s) => scalar_eq(s, leaf.value()),
        CompiledOp::Cmp(op, s) => scalar_cmp(s, leaf.value()).is_some_and(|o| op.holds(o)),
        CompiledOp::Regex(re) => leaf.text().is_some_and(|t| re.is_match(t)),
        CompiledOp::Cidr(net) => leaf.text().is_some_and(|t| cidr_contains(net, t)),
        CompiledOp::AnyOf(a) => a.matches(leaf, shared_hit),
        CompiledOp::Text {
            tokens,
            analyzer,
            mode,
        } => match leaf.value() {
            Value::Object(_) | Value::Array(_) | Value::Null => false,
            _ => leaf
                .text()
                .is_some_and(|t| crate::text::tokens_match(tokens, *mode, &analyzer.tokens(t))),
        },
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
    category_id: Option<u32>,
    expr: CompiledExpr,
}

impl CompiledFilter {
    pub fn compile(f: &EventFilter, category_field: &str) -> Result<Self, EvalError> {
        Self::compile_with(f, category_field, &mut FieldIds::default())
    }

    /// Compile with field names interned in a shared table, for [`CompiledFilter::matches_flat`].
    pub fn compile_with(
        f: &EventFilter,
        category_field: &str,
        ids: &mut FieldIds,
    ) -> Result<Self, EvalError> {
        Ok(CompiledFilter {
            category: f.category.clone(),
            category_field: category_field.to_string(),
            category_id: f.category.as_ref().and_then(|_| ids.intern(category_field)),
            expr: CompiledExpr::compile_with(&f.expr, ids)?,
        })
    }

    pub fn matches(&self, doc: &Value) -> bool {
        self.category_ok(&DocFields(doc)) && self.expr.matches(doc)
    }

    /// Evaluate on an event flattened with the table this filter was compiled with.
    pub fn matches_flat(&self, ev: &FlatEvent<'_>) -> bool {
        self.category_ok(&FlatFields(ev)) && self.expr.matches_flat(ev)
    }

    fn category_ok<'a, S: Fields<'a>>(&self, src: &S) -> bool {
        match &self.category {
            None => true,
            Some(cat) => src.any_value(&self.category_field, self.category_id, |c| {
                c.value().as_str() == Some(cat.as_str())
            }),
        }
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
        Self::with_fields(rule, &mut FieldIds::default())
    }

    /// Compile with field names interned in a shared table, so that many rules can be run over
    /// an event flattened once ([`FieldIds::flatten`], [`RuleEvaluator::flat_event_matches`]).
    pub fn with_fields(rule: &'r Rule, ids: &mut FieldIds) -> Result<Self, EvalError> {
        let cat_field = rule
            .meta
            .extra
            .get("event_category_override")
            .and_then(|v| v.as_str())
            .unwrap_or("event.category")
            .to_string();
        let mut sources = Vec::new();
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        let mut push =
            |filter: &EventFilter, src: Option<&'r EventSource>| -> Result<(), EvalError> {
                sources.push(CompiledSource {
                    filter: CompiledFilter::compile_with(filter, &cat_field, ids)?,
                    logsource: src.and_then(|s| s.logsource.as_ref()),
                    aliases: src.map_or(&EMPTY, |s| &s.aliases),
                });
                Ok(())
            };
        match &rule.detection {
            Detection::Query(f) => push(f, None)?,
            Detection::Sequence(s) => {
                for st in s.steps.iter().chain(s.until.iter()) {
                    push(&st.source.filter, Some(&st.source))?;
                }
            }
            Detection::Sample(s) => {
                for st in &s.steps {
                    push(&st.source.filter, Some(&st.source))?;
                }
            }
            Detection::Aggregation(a) => {
                for src in &a.sources {
                    push(&src.filter, Some(src))?;
                }
            }
            Detection::NewTerms(n) => push(&n.filter, None)?,
            Detection::Unsupported(u) => {
                return Err(EvalError::Unsupported(format!(
                    "{} detection: {}",
                    u.kind, u.reason
                )))
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

    /// [`RuleEvaluator::event_matches`] on an event flattened with the table this evaluator was
    /// compiled with ([`RuleEvaluator::with_fields`]).
    pub fn flat_event_matches(&self, ev: &FlatEvent<'_>, gate: Option<&LogSourceGate<'_>>) -> bool {
        if !matches!(self.rule.detection, Detection::Query(_)) {
            return false;
        }
        let src = &self.sources[0];
        if let Some(g) = gate {
            let ls = src.logsource.unwrap_or(&self.rule.logsource);
            if !ls.is_empty() && !g(ev.doc(), ls) {
                return false;
            }
        }
        src.filter.matches_flat(ev)
    }

    /// Run over a time-ordered list of events; each result is one alert (the indexes it covers).
    pub fn run(&self, events: &[Value], gate: Option<&LogSourceGate<'_>>) -> Vec<Vec<usize>> {
        let hits: Vec<Vec<bool>> = (0..self.sources.len())
            .map(|i| {
                events
                    .iter()
                    .map(|e| self.source_matches(i, e, gate))
                    .collect()
            })
            .collect();
        let times: Vec<i64> = events
            .iter()
            .enumerate()
            .map(|(i, e)| event_time(e).unwrap_or(i as i64))
            .collect();
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (times[i], i));
        match &self.rule.detection {
            Detection::Query(_) => order
                .into_iter()
                .filter(|&i| hits[0][i])
                .map(|i| vec![i])
                .collect(),
            Detection::Sequence(s) => run_sequence(s, events, &hits, &times, &order),
            Detection::Sample(s) => run_sample(s, events, &hits, &times, &order),
            Detection::Aggregation(a) => {
                run_aggregation(a, &self.sources, events, &hits, &times, &order)
            }
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
                Value::Array(a) => a
                    .first()
                    .and_then(|x| scalar_text(x).map(|c| c.into_owned())),
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
    let positives: Vec<usize> = (0..plan.steps.len())
        .filter(|&i| !plan.steps[i].1.missing)
        .collect();
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
            &plan,
            &positives,
            1,
            oi,
            &key,
            &mut chosen,
            events,
            hits,
            times,
            order,
            maxspan,
            &keys_for,
        ) && check_missing(
            &plan, &positives, &chosen, &key, events, hits, times, order, maxspan, &keys_for,
        ) && used_starts.insert(start)
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
        // Greedy: the earliest matching event is never worse for the rest of the sequence
        // (order, one key and a span counted from the first event are all monotone), so there is
        // no need to backtrack, which would be exponential on runs of identical events.
        if hits[src][e] && keys_for(st, &events[e]) == *key {
            chosen.push(e);
            let ok = extend_sequence(
                plan,
                positives,
                next + 1,
                oi,
                key,
                chosen,
                events,
                hits,
                times,
                order,
                maxspan,
                keys_for,
            );
            if !ok {
                chosen.pop();
            }
            return ok;
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
        let lo = before
            .map(|b| (times[b], b as i64))
            .unwrap_or((last_t - maxspan.unwrap_or(0), -1));
        let hi = after
            .map(|a| (times[a], a as i64))
            .unwrap_or((first_t + maxspan.unwrap_or(0), i64::MAX));
        for &e in order {
            let at = (times[e], e as i64);
            if at > lo
                && at < hi
                && !chosen.contains(&e)
                && hits[src][e]
                && keys_for(st, &events[e]) == *key
            {
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

fn group_key(
    fields: &[String],
    aliases: &BTreeMap<String, String>,
    doc: &Value,
) -> Option<KeyTuple> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let name = aliases.get(f).unwrap_or(f);
        let v = lookup(doc, name)
            .first()
            .and_then(|v| scalar_text(v).map(|c| c.into_owned()));
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
                    b.entry(times[e].div_euclid(w.millis.max(1) as i64))
                        .or_default()
                        .push(e);
                }
                b.into_values().collect()
            }
            _ => vec![members.clone()],
        };
        if let Some(w) = windows
            .into_iter()
            .find(|w| conditions_hold(&a.conditions, w, events))
        {
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
                .flat_map(|p| {
                    vals.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push(v.clone());
                        q
                    })
                })
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

/// Many single-event rules compiled against one field table, with a candidate index: each rule
/// is reduced to *witnesses* (a field present, a field equal to a literal, a field containing a
/// literal), at least one of which holds on every event the rule matches. An event then selects
/// the rules worth evaluating by its own values; rules without a sound witness are always
/// evaluated. The index over-approximates: it never drops a rule that would match.
pub struct RuleSet<'r> {
    ids: FieldIds,
    rules: Vec<RuleEvaluator<'r>>,
    index: CandidateIndex,
}

impl<'r> RuleSet<'r> {
    /// Compile the rules (any detection kind; only single-event rules can match one event).
    /// Rules that do not compile are reported by their position and left out.
    pub fn new(
        rules: impl IntoIterator<Item = &'r Rule>,
    ) -> (RuleSet<'r>, Vec<(usize, EvalError)>) {
        let mut ids = FieldIds::default();
        let mut compiled = Vec::new();
        let mut errors = Vec::new();
        for (i, r) in rules.into_iter().enumerate() {
            match RuleEvaluator::with_fields(r, &mut ids) {
                Ok(ev) => compiled.push(ev),
                Err(e) => errors.push((i, e)),
            }
        }
        ids.seal();
        let index = CandidateIndex::build(&compiled, &ids);
        (
            RuleSet {
                ids,
                rules: compiled,
                index,
            },
            errors,
        )
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The compiled rule at a position.
    pub fn rule(&self, i: usize) -> Option<&RuleEvaluator<'r>> {
        self.rules.get(i)
    }

    pub fn rules(&self) -> &[RuleEvaluator<'r>] {
        &self.rules
    }

    /// The field table events are flattened with.
    pub fn fields(&self) -> &FieldIds {
        &self.ids
    }

    /// Flatten an event for this set.
    pub fn flatten<'a>(&'a self, doc: &'a Value) -> FlatEvent<'a> {
        self.ids.flatten(doc)
    }

    /// Rules that are always evaluated (no sound witness).
    pub fn unindexed(&self) -> usize {
        self.index.always.len()
    }

    /// Mark the rules that may match the event (`marks[i]` for rule `i`; resized and cleared).
    pub fn candidates(&self, ev: &FlatEvent<'_>, marks: &mut Vec<bool>) {
        marks.clear();
        marks.resize(self.rules.len(), false);
        self.index.mark(ev, marks);
    }

    /// The positions of the single-event rules that match the event, in order.
    pub fn matching(&self, ev: &FlatEvent<'_>, gate: Option<&LogSourceGate<'_>>) -> Vec<usize> {
        let mut marks = Vec::new();
        self.candidates(ev, &mut marks);
        (0..self.rules.len())
            .filter(|&i| marks[i] && self.rules[i].flat_event_matches(ev, gate))
            .collect()
    }
}

/// A necessary condition of a rule on one event.
#[derive(Debug, Clone, PartialEq)]
enum Witness {
    /// The field has a value.
    Present(u32),
    /// Some value of the field, case-folded, equals this folded text.
    Equals(u32, String),
    /// Some value of the field, case-folded, contains this (lower-case) text.
    Contains(u32, String),
}

impl Witness {
    /// Lower is more selective.
    fn cost(&self) -> u32 {
        match self {
            Witness::Equals(..) => 1,
            Witness::Contains(_, n) => 8u32.saturating_sub(n.len().min(7) as u32),
            Witness::Present(_) => 100,
        }
    }
}

/// Witnesses are not derived below this depth (the rule is then always evaluated).
const WITNESS_DEPTH: usize = 64;

/// An OR-set of witnesses for `e` (one holds on every event `e` matches), or `None`.
fn witnesses(e: &Expr, ids: &FieldIds, depth: usize) -> Option<Vec<Witness>> {
    if depth > WITNESS_DEPTH {
        return None;
    }
    match e {
        Expr::Const(false) => Some(Vec::new()),
        Expr::Const(true) | Expr::Not(_) | Expr::Nested { .. } => None,
        Expr::Or(items) => {
            let mut out = Vec::new();
            for it in items {
                out.extend(witnesses(it, ids, depth + 1)?);
            }
            Some(out)
        }
        Expr::And(items) => items
            .iter()
            .filter_map(|it| witnesses(it, ids, depth + 1))
            .min_by_key(|w| w.iter().map(Witness::cost).sum::<u32>()),
        Expr::Pred(p) => pred_witness(p, ids).map(|w| vec![w]),
    }
}

fn pred_witness(p: &Predicate, ids: &FieldIds) -> Option<Witness> {
    if let (Subject::Keyword, Op::Match { pattern, case }) = (&p.subject, &p.op) {
        // Some leaf's folded text holds the longest literal (an equal text holds it too).
        return longest_literal(pattern, *case).map(|n| Witness::Contains(KEYWORD_TABLE, n));
    }
    let Subject::Field { name, .. } = &p.subject else {
        return None;
    };
    let id = ids.id(name)?;
    Some(match &p.op {
        Op::Match { pattern, case } => match pattern.shape() {
            // Equal texts fold to equal texts, whatever the case rule.
            PatternShape::Exact(s) => Witness::Equals(id, fold(s)),
            PatternShape::Any => Witness::Present(id),
            _ => match longest_literal(pattern, *case) {
                Some(n) => Witness::Contains(id, n),
                None => Witness::Present(id),
            },
        },
        Op::Eq(Scalar::Str(s)) => Witness::Equals(id, fold(s)),
        // Each of these needs some value of the field.
        Op::Eq(_)
        | Op::Cmp { .. }
        | Op::Regex(_)
        | Op::Cidr(_)
        | Op::Exists
        | Op::FieldRef { .. }
        | Op::IsTrue
        | Op::Text(_) => Witness::Present(id),
    })
}

/// The longest literal piece of a pattern as it appears in every matching value's folded text:
/// the folded piece for case-insensitive patterns, ASCII (which folds in place) for sensitive
/// ones.
fn longest_literal(pattern: &StrPattern, case: Case) -> Option<String> {
    pattern
        .pieces()
        .iter()
        .filter_map(|pc| match pc {
            Piece::Lit(s) if case.is_insensitive() => Some(fold(s)),
            Piece::Lit(s) if s.is_ascii() => Some(s.to_ascii_lowercase()),
            _ => None,
        })
        .max_by_key(String::len)
        .filter(|n| !n.is_empty())
}

/// The witnesses of one field, inverted.
#[derive(Debug, Default)]
struct FieldIndex {
    present: Vec<u32>,
    equals: HashMap<String, Vec<u32>>,
    needles: Vec<String>,
    needle_rules: Vec<Vec<u32>>,
    contains: Option<AhoCorasick>,
}

#[derive(Debug, Default)]
struct CandidateIndex {
    /// Indexed fields by id.
    fields: Vec<(u32, FieldIndex)>,
    always: Vec<u32>,
}

impl CandidateIndex {
    fn build(rules: &[RuleEvaluator<'_>], ids: &FieldIds) -> CandidateIndex {
        let mut by_field: HashMap<u32, FieldIndex> = HashMap::new();
        let mut needle_pos: HashMap<(u32, String), usize> = HashMap::new();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            let ws = match &r.rule.detection {
                Detection::Query(f) => {
                    let cat = r.sources.first().and_then(|s| {
                        let cat = s.filter.category.as_ref()?;
                        Some(vec![Witness::Equals(s.filter.category_id?, fold(cat))])
                    });
                    let expr = witnesses(&f.expr, ids, 0);
                    let cost = |w: &Vec<Witness>| w.iter().map(Witness::cost).sum::<u32>();
                    match (cat, expr) {
                        (Some(c), Some(e)) => Some(if cost(&e) <= cost(&c) { e } else { c }),
                        (c, e) => c.or(e),
                    }
                }
                // Never matches a single event: no witness needed, never a candidate.
                _ => Some(Vec::new()),
            };
            let Some(ws) = ws else {
                always.push(i);
                continue;
            };
            for w in ws {
                match w {
                    Witness::Present(f) => by_field.entry(f).or_default().present.push(i),
                    Witness::Equals(f, v) => by_field
                        .entry(f)
                        .or_default()
                        .equals
                        .entry(v)
                        .or_default()
                        .push(i),
                    Witness::Contains(f, n) => {
                        let fi = by_field.entry(f).or_default();
                        let k = *needle_pos.entry((f, n.clone())).or_insert_with(|| {
                            fi.needles.push(n);
                            fi.needle_rules.push(Vec::new());
                            fi.needles.len() - 1
                        });
                        fi.needle_rules[k].push(i);
                    }
                }
            }
        }
        let mut fields: Vec<(u32, FieldIndex)> = by_field.into_iter().collect();
        fields.sort_by_key(|(f, _)| *f);
        for (_, fi) in &mut fields {
            if !fi.needles.is_empty() {
                // Standard semantics: overlapping search finds every needle, nested ones too.
                match AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(&fi.needles)
                {
                    Ok(ac) => fi.contains = Some(ac),
                    // Too large to build: the field's substring witnesses degrade to presence.
                    Err(_) => {
                        let all: Vec<u32> = fi.needle_rules.drain(..).flatten().collect();
                        fi.present.extend(all);
                        fi.needles.clear();
                    }
                }
            }
        }
        CandidateIndex { fields, always }
    }

    fn mark(&self, ev: &FlatEvent<'_>, marks: &mut [bool]) {
        let mut set = |rules: &[u32]| {
            for &r in rules {
                if let Some(m) = marks.get_mut(r as usize) {
                    *m = true;
                }
            }
        };
        set(&self.always);
        for (id, fi) in &self.fields {
            let values = if *id == KEYWORD_TABLE {
                ev.keyword_leaves()
            } else {
                ev.values(*id)
            };
            if values.is_empty() {
                continue;
            }
            set(&fi.present);
            for v in values {
                let Some(text) = v.folded() else { continue };
                if let Some(rs) = fi.equals.get(text) {
                    set(rs);
                }
                if let Some(ac) = &fi.contains {
                    match ac.try_find_overlapping_iter(text) {
                        Ok(it) => it.for_each(|m| set(&fi.needle_rules[m.pattern().as_usize()])),
                        Err(_) => fi.needle_rules.iter().for_each(|rs| set(rs)),
                    }
                }
            }
        }
    }
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
        let e = Expr::not(Expr::matches(
            "a",
            StrPattern::literal("x"),
            Case::Sensitive,
        ));
        assert!(expr_matches(&e, &json!({})).expect("eval"));
        assert!(!expr_matches(&e, &json!({"a": ["y", "x"]})).expect("eval"));
        let c = Expr::matches("a", StrPattern::literal("X"), Case::Insensitive);
        assert!(expr_matches(&c, &json!({"a": ["y", "x"]})).expect("eval"));
    }

    #[test]
    fn analysed_text_phrase_and_any_word() {
        use crate::text::{Analyzer, TextMode, TextQuery};
        let t = |q: &str, mode| {
            Expr::pred(
                Subject::field("msg"),
                Op::Text(TextQuery::new(q, Analyzer::Standard, mode)),
            )
        };
        let phrase = t("Access Denied", TextMode::Phrase);
        let any = t("Access Denied", TextMode::AnyWord);
        let on = |e: &Expr, v: Value| expr_matches(e, &json!({ "msg": v })).expect("eval");
        assert!(on(&phrase, json!("ERROR: access denied (code 5)")));
        assert!(!on(&phrase, json!("denied access")));
        assert!(!on(&phrase, json!("AccessDenied")));
        assert!(on(&any, json!("denied access")));
        assert!(on(&any, json!("permission denied")));
        assert!(!on(&any, json!("AccessDenied")));
        // Any element of an array; a phrase never spans two elements.
        assert!(on(&phrase, json!(["x", "ACCESS DENIED"])));
        assert!(!on(&phrase, json!(["access", "denied"])));
        // Numbers are text; a missing field or a query without words matches nothing.
        assert!(on(&t("404", TextMode::Phrase), json!(404)));
        assert!(!expr_matches(&phrase, &json!({})).expect("eval"));
        assert!(!on(&t("--", TextMode::Phrase), json!("--")));
        // Negation is plain: a missing field satisfies `not`.
        assert!(expr_matches(&Expr::not(phrase), &json!({})).expect("eval"));
    }

    #[test]
    fn typed_equality() {
        let e = Expr::pred(Subject::field("id"), Op::Eq(Scalar::Int(4688)));
        assert!(expr_matches(&e, &json!({"id": "4688"})).expect("eval"));
        assert!(expr_matches(&e, &json!({"id": 4688})).expect("eval"));
        assert!(!expr_matches(&e, &json!({"id": "4689"})).expect("eval"));
    }

    fn m(field: &str, pattern: StrPattern, case: Case) -> Expr {
        Expr::matches(field, pattern, case)
    }

    fn re(field: &str, pattern: &str, case: Case) -> Expr {
        Expr::pred(
            Subject::field(field),
            Op::Regex(RegexSpec {
                pattern: pattern.into(),
                case,
                multiline: false,
                dotall: false,
                anchor: crate::expr::RegexAnchor::Search,
            }),
        )
    }

    /// Events exercising case, numbers, arrays, objects and missing fields.
    fn events() -> Vec<Value> {
        vec![
            json!({}),
            json!({"Image": "C:\\Windows\\System32\\CMD.EXE", "CommandLine": "cmd /c WHOAMI /all"}),
            json!({"Image": ["x.exe", "C:\\tools\\curl.exe"], "CommandLine": null}),
            json!({"Image": {"nested": "curl.exe"}, "CommandLine": "powershell -enc AAA"}),
            json!({"Image": 4688, "CommandLine": "ÉTÉ Mimikatz"}),
            json!({"Image": "", "CommandLine": "certutil -urlcache -f http://x"}),
            json!({"a": {"b": "v"}, "a.b": "W", "Image": "tool.EXE"}),
        ]
    }

    /// Each predicate of an `Or` on its own, then ORed: what the merged form must equal.
    fn one_by_one(items: &[Expr], doc: &Value) -> bool {
        items
            .iter()
            .any(|e| expr_matches(e, doc).expect("compiles"))
    }

    #[test]
    fn merged_or_equals_each_predicate_alone() {
        let items = vec![
            m("Image", StrPattern::suffix("\\cmd.exe"), Case::Insensitive),
            m("Image", StrPattern::suffix("\\curl.exe"), Case::Insensitive),
            m("Image", StrPattern::literal("4688"), Case::Sensitive),
            m("Image", StrPattern::prefix("TOOL"), Case::Insensitive),
            m("Image", StrPattern::any(), Case::Sensitive),
            m(
                "CommandLine",
                StrPattern::contains("whoami"),
                Case::Insensitive,
            ),
            m("CommandLine", StrPattern::contains("-enc"), Case::Sensitive),
            m(
                "CommandLine",
                StrPattern::contains("été"),
                Case::Insensitive,
            ),
            m(
                "CommandLine",
                StrPattern::from_glob_unescaped("*cert?til*"),
                Case::Sensitive,
            ),
            re("CommandLine", "(?:urlcache|verifyctx)", Case::Sensitive),
            re("CommandLine", "^POWERSHELL", Case::Insensitive),
            m("a.b", StrPattern::literal("w"), Case::Insensitive),
        ];
        // Every subset of size 2..: merged sets of each kind, mixed kinds and cases.
        for mask in 1u32..(1 << items.len()) {
            if mask.count_ones() < 2 || mask % 23 != 0 {
                continue;
            }
            let chosen: Vec<Expr> = (0..items.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| items[i].clone())
                .collect();
            let or = Expr::Or(chosen.clone());
            let compiled = CompiledExpr::compile(&or).expect("compiles");
            for doc in events() {
                assert_eq!(
                    compiled.matches(&doc),
                    one_by_one(&chosen, &doc),
                    "mask {mask:b} on {doc}"
                );
            }
        }
    }

    #[test]
    fn many_exact_values_are_hashed_and_still_exact() {
        let vals: Vec<Expr> = (0..20)
            .map(|i| {
                m(
                    "Image",
                    StrPattern::literal(format!("V{i}")),
                    Case::Insensitive,
                )
            })
            .collect();
        let c = CompiledExpr::compile(&Expr::Or(vals)).expect("compiles");
        assert!(c.matches(&json!({"Image": "v13"})));
        assert!(!c.matches(&json!({"Image": "v20"})));
        assert!(!c.matches(&json!({"Image": "xv13"})));
    }

    #[test]
    fn flat_events_agree_with_documents() {
        let exprs = vec![
            Expr::and(vec![
                m("Image", StrPattern::suffix(".exe"), Case::Insensitive),
                Expr::not(m(
                    "CommandLine",
                    StrPattern::contains("whoami"),
                    Case::Insensitive,
                )),
            ]),
            Expr::exists("CommandLine"),
            Expr::pred(Subject::field("Image"), Op::Eq(Scalar::Int(4688))),
            Expr::matches("a.b", StrPattern::literal("v"), Case::Sensitive),
            Expr::pred(
                Subject::field("Image"),
                Op::FieldRef {
                    other: "a.b".into(),
                    kind: FieldRefKind::StartsWith,
                    case: Case::Insensitive,
                },
            ),
            Expr::pred(
                Subject::Keyword,
                Op::Match {
                    pattern: StrPattern::contains("mimikatz"),
                    case: Case::Insensitive,
                },
            ),
            Expr::matches("Im*ge", StrPattern::contains("curl"), Case::Sensitive),
            Expr::or(vec![
                m(
                    "CommandLine",
                    StrPattern::contains("WHOAMI"),
                    Case::Insensitive,
                ),
                m(
                    "CommandLine",
                    StrPattern::contains("été"),
                    Case::Insensitive,
                ),
                m("CommandLine", StrPattern::contains("-enc"), Case::Sensitive),
            ]),
            Expr::and(vec![
                m(
                    "CommandLine",
                    StrPattern::contains("urlcache"),
                    Case::Insensitive,
                ),
                m("Image", StrPattern::contains("e"), Case::Insensitive),
            ]),
        ];
        for e in exprs {
            let mut ids = FieldIds::default();
            let c = CompiledExpr::compile_with(&e, &mut ids).expect("compiles");
            for doc in events() {
                let flat = ids.flatten(&doc);
                assert_eq!(c.matches_flat(&flat), c.matches(&doc), "{e:?} on {doc}");
            }
            // Sealed: substring searches answered by the field's shared scan.
            ids.seal();
            for doc in events() {
                let flat = ids.flatten(&doc);
                assert_eq!(
                    c.matches_flat(&flat),
                    c.matches(&doc),
                    "sealed {e:?} on {doc}"
                );
            }
        }
    }

    fn rule_of(expr: Expr) -> Rule {
        Rule {
            meta: crate::RuleMeta {
                id: "t".into(),
                ..Default::default()
            },
            logsource: LogSource::default(),
            detection: Detection::Query(EventFilter {
                category: None,
                expr,
            }),
            schema: crate::Schema::Sigma,
            format: crate::SourceFormat::Sigma,
            language: "sigma".into(),
            original_query: None,
            provenance: Default::default(),
        }
    }

    #[test]
    fn candidate_index_never_drops_a_matching_rule() {
        let exprs = vec![
            m("Image", StrPattern::suffix("\\cmd.exe"), Case::Insensitive),
            m("Image", StrPattern::suffix("CMD.EXE"), Case::Sensitive),
            m(
                "CommandLine",
                StrPattern::contains("ÉTÉ"),
                Case::Insensitive,
            ),
            m("CommandLine", StrPattern::contains("ÉTÉ"), Case::Sensitive),
            m("Image", StrPattern::literal("4688"), Case::Sensitive),
            Expr::pred(Subject::field("Image"), Op::Eq(Scalar::Int(4688))),
            Expr::and(vec![
                m("Image", StrPattern::any(), Case::Sensitive),
                Expr::or(vec![
                    m(
                        "CommandLine",
                        StrPattern::contains("-urlcache"),
                        Case::Insensitive,
                    ),
                    re("CommandLine", "enc", Case::Sensitive),
                ]),
            ]),
            Expr::not(m("Image", StrPattern::contains("x"), Case::Sensitive)),
            m("a.b", StrPattern::literal("W"), Case::Sensitive),
            Expr::Const(false),
            Expr::or(vec![
                Expr::pred(
                    Subject::Keyword,
                    Op::Match {
                        pattern: StrPattern::contains("mimikatz"),
                        case: Case::Insensitive,
                    },
                ),
                Expr::pred(
                    Subject::Keyword,
                    Op::Match {
                        pattern: StrPattern::literal("TOOL.exe"),
                        case: Case::Insensitive,
                    },
                ),
            ]),
            Expr::pred(
                Subject::Keyword,
                Op::Match {
                    pattern: StrPattern::contains("WHOAMI"),
                    case: Case::Sensitive,
                },
            ),
        ];
        let rules: Vec<Rule> = exprs.into_iter().map(rule_of).collect();
        let (set, errors) = RuleSet::new(&rules);
        assert!(errors.is_empty());
        // Only the negation has no witness.
        assert_eq!(set.unindexed(), 1);
        let mut marks = Vec::new();
        for doc in events() {
            let flat = set.flatten(&doc);
            set.candidates(&flat, &mut marks);
            for (i, r) in rules.iter().enumerate() {
                let want = RuleEvaluator::new(r)
                    .expect("compiles")
                    .event_matches(&doc, None);
                assert!(
                    !want || marks[i],
                    "rule {i} matches {doc} but is not a candidate"
                );
            }
            let got = set.matching(&flat, None);
            let want: Vec<usize> = (0..rules.len())
                .filter(|&i| {
                    RuleEvaluator::new(&rules[i])
                        .expect("compiles")
                        .event_matches(&doc, None)
                })
                .collect();
            assert_eq!(got, want, "{doc}");
        }
    }

    #[test]
    fn candidate_index_prunes() {
        let rules: Vec<Rule> = ["\\cmd.exe", "\\curl.exe", "\\wmic.exe"]
            .iter()
            .map(|s| rule_of(m("Image", StrPattern::suffix(*s), Case::Insensitive)))
            .collect();
        let (set, _) = RuleSet::new(&rules);
        let doc = json!({"Image": "C:\\x\\CURL.exe"});
        let mut marks = Vec::new();
        set.candidates(&set.flatten(&doc), &mut marks);
        assert_eq!(marks, vec![false, true, false]);
    }

    #[test]
    fn rule_sets_share_one_substring_scan_per_field() {
        let rules: Vec<Rule> = [["whoami", "mimikatz"], ["-urlcache", "whoami"]]
            .iter()
            .map(|ns| {
                rule_of(Expr::Or(
                    ns.iter()
                        .map(|n| m("CommandLine", StrPattern::contains(*n), Case::Insensitive))
                        .collect(),
                ))
            })
            .collect();
        let (set, _) = RuleSet::new(&rules);
        assert_eq!(set.fields().needle_stats(), (1, 3));
        let doc = json!({"CommandLine": "certutil -URLCACHE x"});
        assert_eq!(set.matching(&set.flatten(&doc), None), vec![1]);
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
