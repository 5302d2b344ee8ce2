//! SPL emitter: `MappedRule` → SPL text that keeps the rule's meaning.
//!
//! Layout of a single-event query:
//! `<base search> [| regex …] [| where …]`.
//! - The base `search` holds every top-level conjunct it can say exactly: case-insensitive globs
//!   with `*`, numbers, numeric comparisons, IPv4 CIDR, existence, keywords. Mixed AND/OR groups
//!   are always parenthesised and operators written in upper case, so Splunk's OR-before-AND
//!   precedence in `search` never matters.
//! - A top-level regex conjunct becomes `| regex f="…"` (`!=` when negated): that command only
//!   ANDs, so it is used only at the top level.
//! - Every other conjunct (case-sensitive values, `?` wildcards, literal `*`, regexes or FieldRefs
//!   inside an OR…) is written whole, boolean structure intact, as one `| where` expression. Its
//!   case-insensitive relaxation goes into the base search as a fast prefilter (a superset, so it
//!   never changes the result).
//! - In `where`, null propagates: an atom under NOT is guarded by `isnotnull(field) AND …` so
//!   that `NOT` of a test on a missing field is true, as in the rule model.

use crate::regex_dialect::{lazy_pcre, to_pcre};
use crate::SplunkOptions;
use ruleport_model::matching::fold;
use ruleport_model::{
    AggCondition, Aggregation, Approximation, CmpOp, Detection, EventFilter, Expr, FieldRefKind,
    MappedRule, Metric, Op, Operand, PatternShape, Piece, Predicate, Sample, Scalar, SeqStep,
    Sequence, StrPattern, Subject, TargetId, Unsupported, WindowKind,
};
use std::fmt::Write as _;

type EResult<T> = Result<T, Unsupported>;

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Splunk, code, reason)
}

/// Deepest boolean nesting the emitter writes (the parser accepts 256 levels).
const MAX_EXPR_DEPTH: usize = 60;

/// Most steps a sample may have for the exact distinct-event check (2^n − 1 subsets).
const MAX_SAMPLE_STEPS_EXACT: usize = 4;

pub(crate) struct Emitter<'a> {
    opts: &'a SplunkOptions,
    pub(crate) approx: Vec<Approximation>,
    /// Write ORs instead of `f IN (…)` (tstats `where`).
    pub(crate) no_in: bool,
}

/// The pieces of a single-event filter.
#[derive(Debug, Default)]
struct Filter {
    search: Vec<String>,
    regex: Vec<String>,
    wheres: Vec<String>,
}

impl Filter {
    fn text(&self) -> String {
        let mut out = if self.search.is_empty() {
            "*".to_string()
        } else {
            self.search.join(" AND ")
        };
        for r in &self.regex {
            let _ = write!(out, "\n| regex {r}");
        }
        if !self.wheres.is_empty() {
            let _ = write!(out, "\n| where {}", self.wheres.join(" AND "));
        }
        out
    }
}

// ---------------------------------------------------------------------- quoting

/// A field name in `search`: bare when simple, else double-quoted.
pub fn search_field(name: &str) -> String {
    if is_simple_name(name) {
        name.to_string()
    } else {
        let mut s = String::from("\"");
        for c in name.chars() {
            if matches!(c, '\\' | '"') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

/// A field name in `where`/`eval`: always single-quoted.
pub fn eval_field(name: &str) -> String {
    let mut s = String::from("'");
    for c in name.chars() {
        if matches!(c, '\\' | '\'') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// A field name as a statistics argument (`by`, `dc(…)`, `dedup`).
pub(crate) fn stats_field(name: &str) -> String {
    let ok = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '@' | ':' | '-')
        })
        && !name.starts_with('-')
        && !name.starts_with('+')
        && !matches!(name, "by" | "BY" | "as" | "AS");
    if ok {
        name.to_string()
    } else {
        search_field(name)
    }
}

fn is_simple_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !matches!(
            name,
            "AND" | "OR" | "NOT" | "IN" | "CASE" | "TERM" | "search"
        )
}

/// A double-quoted string for `search` values, `regex` and eval literals: `\` and `"` escaped.
/// Everything else, newlines included, stays inside the quotes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A search value with `*` wildcards (literal text must not contain `*`).
fn search_value(pattern: &StrPattern) -> String {
    if pattern.shape() == PatternShape::Any {
        return "*".into();
    }
    let mut inner = String::new();
    for p in pattern.pieces() {
        match p {
            Piece::Lit(s) => inner.push_str(s),
            Piece::AnyChars => inner.push('*'),
            Piece::OneChar => inner.push('*'),
            Piece::Placeholder(n) => {
                let _ = write!(inner, "%{n}%");
            }
        }
    }
    quote(&inner)
}

fn num_text(s: &Scalar) -> Option<String> {
    match s {
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) if f.is_finite() => Some(format!("{f}")),
        _ => None,
    }
}

fn literal_is_cidr(s: &str) -> bool {
    s.contains('/') && s.trim().parse::<ipnet::IpNet>().is_ok()
}

/// Whether `search` can say a case-insensitive match of this pattern exactly.
fn search_pattern_ok(pattern: &StrPattern) -> bool {
    let lits_ok = pattern.pieces().iter().all(|p| match p {
        Piece::Lit(s) => !s.contains('*'),
        Piece::AnyChars => true,
        Piece::OneChar => false,
        Piece::Placeholder(_) => true,
    });
    let cidr_like = matches!(pattern.shape(), PatternShape::Exact(s) if literal_is_cidr(s));
    lits_ok && !cidr_like
}

/// A superset of the pattern that `search` can say: `?` and literal `*` widen to `*`.
fn widen(pattern: &StrPattern) -> StrPattern {
    let mut pieces = Vec::new();
    for p in pattern.pieces() {
        match p {
            Piece::Lit(s) => {
                for (i, part) in s.split('*').enumerate() {
                    if i > 0 {
                        pieces.push(Piece::AnyChars);
                    }
                    pieces.push(Piece::Lit(part.to_string()));
                }
            }
            Piece::OneChar => pieces.push(Piece::AnyChars),
            other => pieces.push(other.clone()),
        }
    }
    StrPattern::new(pieces)
}

// ---------------------------------------------------------------------- expression helpers

pub(crate) fn simplify(e: &Expr) -> Expr {
    match e {
        Expr::And(v) => Expr::and(dedup(v.iter().map(simplify).collect())),
        Expr::Or(v) => Expr::or(dedup(v.iter().map(simplify).collect())),
        Expr::Not(x) => Expr::not(simplify(x)),
        other => other.clone(),
    }
}

fn dedup(v: Vec<Expr>) -> Vec<Expr> {
    Expr::dedup(v)
}

fn field_of(p: &Predicate) -> Option<&str> {
    p.subject.field_name()
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(opts: &'a SplunkOptions) -> Self {
        Emitter {
            opts,
            approx: Vec::new(),
            no_in: false,
        }
    }

    fn note(&mut self, code: &str, reason: &str) {
        let a = Approximation::new(code, reason);
        if !self.approx.contains(&a) {
            self.approx.push(a);
        }
    }

    /// Reject what SPL (or this emitter) cannot say, before writing anything.
    pub(crate) fn check(&mut self, e: &Expr) -> EResult<()> {
        if e.depth() > MAX_EXPR_DEPTH {
            return Err(unsupported(
                "expression-too-deep",
                format!("boolean nesting deeper than {MAX_EXPR_DEPTH}"),
            ));
        }
        let mut err = None;
        let mut placeholders = false;
        check_nested(e, &mut err);
        e.for_each_pred(&mut |p| {
            if err.is_some() {
                return;
            }
            match (&p.subject, &p.op) {
                (Subject::Computed(_), _) => err = Some(unsupported(
                    "computed-subject",
                    "EQL function or arithmetic subjects have no SPL translation in this emitter",
                )),
                (_, Op::IsTrue) => {
                    err = Some(unsupported(
                        "is-true",
                        "a boolean-valued computation has no SPL translation",
                    ))
                }
                (Subject::Keyword, op) if !matches!(op, Op::Match { .. }) => {
                    err = Some(unsupported(
                        "keyword-operator",
                        "a field-less search other than a string match",
                    ))
                }
                (_, Op::Eq(Scalar::Float(f)))
                | (
                    _,
                    Op::Cmp {
                        value: Scalar::Float(f),
                        ..
                    },
                ) if !f.is_finite() => {
                    err = Some(unsupported("non-finite-number", "NaN or infinite number"))
                }
                (
                    _,
                    Op::Cmp {
                        value: Scalar::Bool(_),
                        ..
                    },
                ) => {
                    err = Some(unsupported(
                        "bool-comparison",
                        "ordering comparison with a boolean",
                    ))
                }
                (_, Op::Match { pattern, .. }) if pattern.has_placeholders() => placeholders = true,
                // The PCRE wrapping (`(?i)\A(?:…)\z`) can push a regex over the engine's
                // limits; refuse here rather than write a query that fails its own parse-back.
                (_, Op::Regex(spec)) => {
                    if let Err(e) = lazy_pcre(&to_pcre(spec).0) {
                        err = Some(unsupported("regex-unsupported", e))
                    }
                }
                _ => {}
            }
        });
        if let Some(u) = err {
            return Err(u);
        }
        if placeholders {
            self.note(
                "unresolved-placeholder",
                "a Sigma placeholder (%name%) was not resolved by a pipeline and is matched as literal text",
            );
        }
        Ok(())
    }

    /// Whether `search` says this exactly (keywords count: they are labelled approximate).
    pub(crate) fn search_ok(&self, e: &Expr) -> bool {
        match e {
            Expr::And(v) | Expr::Or(v) => v.iter().all(|x| self.search_ok(x)),
            Expr::Not(x) => self.search_ok(x),
            Expr::Const(_) | Expr::Nested { .. } => false,
            Expr::Pred(p) => pred_search_ok(p),
        }
    }

    // ------------------------------------------------------------------ search rendering

    fn search_expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::And(v) => v
                .iter()
                .map(|x| self.search_child(x))
                .collect::<Vec<_>>()
                .join(" AND "),
            Expr::Or(v) => {
                if let Some(s) = self.search_in_list(v) {
                    return s;
                }
                v.iter()
                    .map(|x| self.search_child(x))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            }
            Expr::Not(x) => match x.as_ref() {
                Expr::Pred(_) => format!("NOT {}", self.search_expr(x)),
                _ => format!("NOT ({})", self.search_expr(x)),
            },
            Expr::Const(true) => "*".into(),
            Expr::Const(false) | Expr::Nested { .. } => "NOT *".into(),
            Expr::Pred(p) => self.search_pred(p),
        }
    }

    pub(crate) fn search_child(&mut self, e: &Expr) -> String {
        match e {
            Expr::Or(v) => match self.search_in_list(v) {
                Some(s) => s,
                None => format!("({})", self.search_expr(e)),
            },
            Expr::And(_) => format!("({})", self.search_expr(e)),
            _ => self.search_expr(e),
        }
    }

    /// `f IN (a, b*, …)` for an OR of case-insensitive matches on one field.
    fn search_in_list(&mut self, v: &[Expr]) -> Option<String> {
        if self.no_in {
            return None;
        }
        let mut field: Option<&str> = None;
        let mut values = Vec::new();
        for e in v {
            let Expr::Pred(p) = e else { return None };
            let Subject::Field { name, .. } = &p.subject else {
                return None;
            };
            if field.is_some_and(|f| f != name) {
                return None;
            }
            field = Some(name);
            match &p.op {
                Op::Match {
                    pattern,
                    case: ruleport_model::Case::Insensitive,
                } if search_pattern_ok(pattern) && pattern.shape() != PatternShape::Any => {
                    values.push(search_value(pattern))
                }
                _ => return None,
            }
        }
        let f = field?;
        (values.len() >= 2).then(|| format!("{} IN ({})", search_field(f), values.join(", ")))
    }

    fn search_pred(&mut self, p: &Predicate) -> String {
        let field = match &p.subject {
            Subject::Field { name, .. } => search_field(name),
            Subject::Keyword => return self.search_keyword(&p.op),
            Subject::Computed(_) => return "NOT *".into(),
        };
        match &p.op {
            Op::Match { pattern, .. } => format!("{field}={}", search_value(pattern)),
            Op::Eq(Scalar::Bool(b)) => {
                format!("{field}={}", quote(if *b { "true" } else { "false" }))
            }
            // Only reached through a relaxation: a widened, case-insensitive superset.
            Op::Eq(Scalar::Str(s)) => format!(
                "{field}={}",
                search_value(&widen(&StrPattern::literal(s.clone())))
            ),
            Op::Eq(n) => format!("{field}={}", num_text(n).unwrap_or_default()),
            Op::Cmp { op, value } => {
                let v = match value {
                    Scalar::Str(s) => quote(s),
                    n => num_text(n).unwrap_or_default(),
                };
                let sym = match op {
                    CmpOp::Eq => "=",
                    other => other.symbol(),
                };
                format!("{field}{sym}{v}")
            }
            Op::Cidr(net) => format!("{field}={}", quote(&net.trunc().to_string())),
            Op::Exists | Op::Regex(_) | Op::FieldRef { .. } | Op::IsTrue | Op::Text(_) => {
                format!("{field}=*")
            }
        }
    }

    fn search_keyword(&mut self, op: &Op) -> String {
        let Op::Match { pattern, case } = op else {
            return "NOT *".into();
        };
        self.note(
            "keyword-raw-search",
            "Splunk matches a keyword against the raw event text as a term bounded by breakers (or a substring with *), not against each field value",
        );
        if !case.is_insensitive() {
            self.note(
                "keyword-case-folded",
                "a case-sensitive keyword is searched case-insensitively",
            );
        }
        let widened = widen(pattern);
        if widened != *pattern {
            self.note(
                "keyword-wildcard-widened",
                "`?` or a literal `*` in a keyword cannot be said in search and is widened to `*`",
            );
        }
        if widened.shape() == PatternShape::Any {
            return "*".into();
        }
        search_value(&widened)
    }

    // ------------------------------------------------------------------ where rendering

    /// An eval expression; `neg` is true under an odd number of NOTs.
    pub(crate) fn where_expr(&mut self, e: &Expr, neg: bool) -> String {
        match e {
            Expr::And(v) => format!(
                "({})",
                v.iter()
                    .map(|x| self.where_expr(x, neg))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
            Expr::Or(v) => format!(
                "({})",
                v.iter()
                    .map(|x| self.where_expr(x, neg))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            Expr::Not(x) => {
                if let Expr::Pred(Predicate {
                    subject: Subject::Field { name, .. },
                    op: Op::Exists,
                }) = x.as_ref()
                {
                    return format!("isnull({})", eval_field(name));
                }
                let inner = self.where_expr(x, !neg);
                // And/Or and guarded atoms are already wrapped in parentheses.
                if matches!(x.as_ref(), Expr::And(_) | Expr::Or(_))
                    || inner.starts_with("(isnotnull(")
                {
                    format!("NOT {inner}")
                } else {
                    format!("NOT ({inner})")
                }
            }
            Expr::Const(true) => "true()".into(),
            Expr::Const(false) | Expr::Nested { .. } => "false()".into(),
            Expr::Pred(p) => {
                let (atom, guards) = self.where_pred(p);
                if neg && !guards.is_empty() {
                    format!("({} AND {atom})", guards.join(" AND "))
                } else {
                    atom
                }
            }
        }
    }

    /// An atom and the null guards it needs under NOT.
    fn where_pred(&mut self, p: &Predicate) -> (String, Vec<String>) {
        let name = match &p.subject {
            Subject::Field { name, .. } => name.as_str(),
            Subject::Keyword => {
                let s = self.search_keyword(&p.op);
                return (format!("searchmatch({})", quote(&s)), vec![]);
            }
            Subject::Computed(_) => return ("false()".into(), vec![]),
        };
        let f = eval_field(name);
        let guard = vec![format!("isnotnull({f})")];
        match &p.op {
            Op::Match { pattern, case } => (where_match(&f, pattern, case.is_insensitive()), guard),
            Op::Eq(Scalar::Bool(b)) => (
                format!("lower({f})=={}", quote(if *b { "true" } else { "false" })),
                guard,
            ),
            Op::Eq(Scalar::Str(s)) => (format!("{f}=={}", quote(s)), guard),
            Op::Eq(n) => (format!("{f}=={}", num_text(n).unwrap_or_default()), guard),
            Op::Cmp { op, value } => match value {
                Scalar::Str(s) => (format!("{f}{}{}", op.symbol(), quote(s)), guard),
                n => {
                    let t = format!("tonumber({f})");
                    (
                        format!("{t}{}{}", op.symbol(), num_text(n).unwrap_or_default()),
                        vec![format!("isnotnull({t})")],
                    )
                }
            },
            Op::Regex(spec) => {
                let (pcre, approx) = to_pcre(spec);
                for a in approx {
                    self.note(&a.code, &a.reason);
                }
                (format!("match({f}, {})", quote(&pcre)), guard)
            }
            Op::Cidr(net) => (
                format!("cidrmatch({}, {f})", quote(&net.trunc().to_string())),
                guard,
            ),
            Op::Exists => (format!("isnotnull({f})"), vec![]),
            Op::FieldRef { other, kind, case } => {
                let g = eval_field(other);
                let (a, b) = if case.is_insensitive() {
                    (format!("lower({f})"), format!("lower({g})"))
                } else {
                    (f.clone(), g.clone())
                };
                if *kind != FieldRefKind::Equals {
                    self.note(
                        "fieldref-like-wildcards",
                        "a startswith/endswith/contains field comparison uses like(), where `%` and `_` in the other field's value act as wildcards",
                    );
                }
                let atom = match kind {
                    FieldRefKind::Equals => format!("{a}=={b}"),
                    FieldRefKind::StartsWith => format!("like({a}, {b}.\"%\")"),
                    FieldRefKind::EndsWith => format!("like({a}, \"%\".{b})"),
                    FieldRefKind::Contains => format!("like({a}, \"%\".{b}.\"%\")"),
                };
                (
                    atom,
                    vec![format!("isnotnull({f})"), format!("isnotnull({g})")],
                )
            }
            // Rewritten to substrings before emitting (`emit_search`).
            Op::IsTrue | Op::Text(_) => ("false()".into(), vec![]),
        }
    }

    // ------------------------------------------------------------------ relaxation (prefilter)

    /// A superset of `e` that `search` says exactly, or `None` for "anything".
    pub(crate) fn relax(&self, e: &Expr) -> Option<Expr> {
        if self.search_ok(e) {
            return Some(e.clone());
        }
        match e {
            Expr::And(v) => {
                let parts: Vec<Expr> = v.iter().filter_map(|x| self.relax(x)).collect();
                (!parts.is_empty()).then(|| Expr::and(parts))
            }
            Expr::Or(v) => {
                let parts: Option<Vec<Expr>> = v.iter().map(|x| self.relax(x)).collect();
                // `success`/`Success` collapse into one case-insensitive prefilter term.
                let mut seen: Vec<Expr> = Vec::new();
                let mut kept = Vec::new();
                for p in parts? {
                    let key = p.map_preds(&mut |pr| match &pr.op {
                        Op::Match { pattern, case } if case.is_insensitive() => Expr::pred(
                            pr.subject.clone(),
                            Op::Match {
                                pattern: pattern.map_literals(fold),
                                case: *case,
                            },
                        ),
                        _ => Expr::Pred(pr.clone()),
                    });
                    if !seen.contains(&key) {
                        seen.push(key);
                        kept.push(p);
                    }
                }
                Some(simplify(&Expr::or(kept)))
            }
            Expr::Pred(p) => {
                let name = field_of(p)?;
                let exists = || Some(Expr::exists(name));
                match &p.op {
                    Op::Match { pattern, .. } => {
                        let w = widen(pattern);
                        if w.shape() == PatternShape::Any {
                            return exists();
                        }
                        if !search_pattern_ok(&w) {
                            return exists();
                        }
                        Some(Expr::matches(name, w, ruleport_model::Case::Insensitive))
                    }
                    Op::Eq(Scalar::Str(s)) => {
                        let w = widen(&StrPattern::literal(s.clone()));
                        if search_pattern_ok(&w) {
                            Some(Expr::matches(name, w, ruleport_model::Case::Insensitive))
                        } else {
                            exists()
                        }
                    }
                    Op::FieldRef { other, .. } => Some(Expr::and(vec![
                        Expr::exists(name),
                        Expr::exists(other.clone()),
                    ])),
                    Op::Regex(_) | Op::Cidr(_) | Op::Cmp { .. } => exists(),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    // ------------------------------------------------------------------ single-event filter

    fn filter(&mut self, e: &Expr) -> EResult<Filter> {
        self.check(e)?;
        let e = simplify(e);
        let mut f = Filter::default();
        let conjuncts = match e {
            Expr::Const(true) => vec![],
            Expr::Const(false) => {
                f.wheres.push("false()".into());
                return Ok(f);
            }
            Expr::And(v) => v,
            other => vec![other],
        };
        let mut search_seen: Vec<String> = Vec::new();
        let mut push_search = |f: &mut Filter, s: String| {
            if !search_seen.contains(&s) {
                search_seen.push(s.clone());
                f.search.push(s);
            }
        };
        for c in &conjuncts {
            if self.search_ok(c) {
                let s = self.search_child(c);
                push_search(&mut f, s);
                continue;
            }
            if let Some(r) = self.regex_command(c) {
                f.regex.push(r);
                continue;
            }
            let w = self.where_expr(c, false);
            f.wheres.push(w);
            if self.opts.prefilter {
                if let Some(r) = self.relax(c) {
                    let s = self.search_child(&r);
                    push_search(&mut f, s);
                }
            }
        }
        Ok(f)
    }

    /// `| regex f="…"` for a top-level (possibly negated) regex on a simply named field.
    fn regex_command(&mut self, e: &Expr) -> Option<String> {
        let (p, negated) = match e {
            Expr::Pred(p) => (p, false),
            Expr::Not(x) => match x.as_ref() {
                Expr::Pred(p) => (p, true),
                _ => return None,
            },
            _ => return None,
        };
        let (Subject::Field { name, .. }, Op::Regex(spec)) = (&p.subject, &p.op) else {
            return None;
        };
        if !is_simple_name(name) {
            return None;
        }
        let (pcre, approx) = to_pcre(spec);
        for a in approx {
            self.note(&a.code, &a.reason);
        }
        Some(format!(
            "{name}{}{}",
            if negated { "!=" } else { "=" },
            quote(&pcre)
        ))
    }

    // ------------------------------------------------------------------ rules

    /// The condition of event source `i`: its log-source selection, EQL category and filter.
    fn source_expr(&self, rule: &MappedRule, i: usize, filter: &EventFilter) -> Expr {
        let mut parts = Vec::new();
        if let Some(c) = &rule.selection_for(i).condition {
            parts.push(c.clone());
        }
        if let Some(cat) = &filter.category {
            let field = rule
                .rule
                .meta
                .extra
                .get("event_category_override")
                .and_then(|v| v.as_str())
                .unwrap_or("event.category");
            parts.push(Expr::matches(
                field,
                StrPattern::literal(cat.clone()),
                ruleport_model::Case::Sensitive,
            ));
        }
        parts.push(filter.expr.clone());
        Expr::and(parts)
    }

    pub(crate) fn rule(&mut self, rule: &MappedRule) -> EResult<String> {
        // The mapping leaves an EQL category only when the source neither selects nor
        // translates it: SPL can only test it as a field the events may not carry.
        if let Some(cat) = rule
            .rule
            .detection
            .filters()
            .iter()
            .find_map(|f| f.category.clone())
        {
            self.note(
                "event-category-as-field",
                &format!("the EQL event category `{cat}` is tested as a field of the same name, which this source's Splunk events may not carry"),
            );
        }
        match &rule.rule.detection {
            Detection::Query(f) => {
                let e = self.source_expr(rule, 0, f);
                Ok(self.filter(&e)?.text())
            }
            Detection::Aggregation(a) => self.aggregation(rule, a),
            Detection::Sequence(s) => self.sequence(rule, s),
            Detection::Sample(s) => self.sample(rule, s),
            Detection::NewTerms(_) => Err(unsupported(
                "new-terms",
                "Splunk has no first-seen-in-history operator; a new-terms rule needs a lookup of past values or a second search over the history window",
            )),
            Detection::Unsupported(u) => Err(unsupported(
                "unsupported-detection",
                format!("{} detection: {}", u.kind, u.reason),
            )),
        }
    }

    fn aggregation(&mut self, rule: &MappedRule, a: &Aggregation) -> EResult<String> {
        if a.sources.is_empty() {
            return Err(unsupported(
                "aggregation-no-source",
                "an aggregation without event sources",
            ));
        }
        if a.conditions.is_empty() {
            return Err(unsupported(
                "aggregation-no-condition",
                "an aggregation without a condition",
            ));
        }
        let exprs: Vec<Expr> = a
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.source_expr(rule, i, &s.filter))
            .collect();
        let mut text = self.filter(&Expr::or(exprs.clone()))?.text();
        // Group-by aliases (Sigma correlations over several rules): each event takes the field
        // of the first source it matches, as case() picks the first true branch.
        for g in &a.group_by {
            let per_source: Vec<&str> = a
                .sources
                .iter()
                .map(|s| s.aliases.get(g).map(String::as_str).unwrap_or(g.as_str()))
                .collect();
            if per_source.iter().all(|f| *f == g) {
                continue;
            }
            let mut branches = Vec::new();
            for (e, f) in exprs.iter().zip(&per_source) {
                self.check(e)?;
                let cond = self.where_expr(&simplify(e), false);
                branches.push(format!("{cond}, {}", eval_field(f)));
            }
            let _ = write!(
                text,
                "\n| eval {}=case({})",
                eval_field(g),
                branches.join(", ")
            );
        }
        // Metric names, one per distinct metric.
        let mut metrics: Vec<(Metric, String)> = Vec::new();
        for c in &a.conditions {
            if metrics.iter().any(|(m, _)| *m == c.metric) {
                continue;
            }
            let base = match &c.metric {
                Metric::Count => "event_count",
                Metric::DistinctCount(_) => "value_count",
                Metric::Sum(_) => "value_sum",
                Metric::Avg(_) => "value_avg",
                Metric::Percentile(..) => {
                    return Err(unsupported(
                        "percentile-metric",
                        "Splunk's perc/exactperc interpolate differently from the rule model's nearest-rank percentile",
                    ))
                }
            };
            let name = if metrics.iter().any(|(_, n)| n == base) {
                format!("{base}_{}", metrics.len())
            } else {
                base.to_string()
            };
            metrics.push((c.metric.clone(), name));
        }
        let aggs: Vec<String> = metrics
            .iter()
            .map(|(m, name)| match m {
                Metric::Count => format!("count AS {name}"),
                Metric::DistinctCount(f) => format!("dc({}) AS {name}", stats_field(f)),
                Metric::Sum(f) => format!("sum({}) AS {name}", stats_field(f)),
                Metric::Avg(f) => format!("avg({}) AS {name}", stats_field(f)),
                Metric::Percentile(..) => String::new(),
            })
            .collect();
        let conds: Vec<String> = a
            .conditions
            .iter()
            .map(|c| {
                let name = metrics
                    .iter()
                    .find(|(m, _)| *m == c.metric)
                    .map(|(_, n)| n.as_str())
                    .unwrap_or("event_count");
                format!("{name}{}{}", c.op.symbol(), c.value)
            })
            .collect();
        let by: Vec<String> = a.group_by.iter().map(|g| stats_field(g)).collect();
        let by_clause = |extra: &[&str]| -> String {
            let all: Vec<String> = extra
                .iter()
                .map(|s| s.to_string())
                .chain(by.iter().cloned())
                .collect();
            if all.is_empty() {
                String::new()
            } else {
                format!(" BY {}", all.join(", "))
            }
        };
        let holds_at_zero = |c: &AggCondition| c.op.holds(0.cmp(&c.value));
        if a.group_by.is_empty() && a.conditions.iter().all(holds_at_zero) {
            self.note(
                "empty-aggregate",
                "without group-by fields Splunk's stats yields one result even over no events, so a condition that holds at zero fires where the rule model does not",
            );
        }
        let window = a.window.filter(|w| w.millis > 0);
        match (window, a.window_kind) {
            (Some(w), WindowKind::Sliding) => {
                // Sliding window, chosen on purpose: streamstats over time-sorted events gives
                // each event the statistics of the trailing window [t - w, t]. Some window of
                // length w satisfies a condition iff some trailing window does, for conditions
                // that only grow with more events (>, >=). One result per group is kept.
                let secs = w.millis.div_ceil(1000);
                if w.millis % 1000 != 0 {
                    self.note(
                        "window-rounded",
                        "the window is rounded up to whole seconds",
                    );
                }
                if a.conditions
                    .iter()
                    .any(|c| !matches!(c.op, CmpOp::Gt | CmpOp::Ge))
                {
                    self.note(
                        "sliding-window-nonmonotone",
                        "a sliding-window condition that is not `>`/`>=` is checked on trailing windows ending at each event, which is not the same set of windows",
                    );
                }
                self.note(
                    "sliding-window-alert-bounds",
                    "the alert covers the trailing window of the first event that completes the condition, not the window starting at the first event",
                );
                let _ = write!(
                    text,
                    "\n| sort 0 _time\n| streamstats time_window={secs}s {}{}\n| where {}",
                    aggs.join(" "),
                    by_clause(&[]),
                    conds.join(" AND ")
                );
                text.push_str(&first_per_group(&by));
            }
            (Some(w), WindowKind::Tumbling) => {
                let secs = w.millis.div_ceil(1000);
                if w.millis % 1000 != 0 {
                    self.note(
                        "window-rounded",
                        "the window is rounded up to whole seconds",
                    );
                }
                let _ = write!(
                    text,
                    "\n| bin _time span={secs}s\n| stats {}{}\n| where {}",
                    aggs.join(" "),
                    by_clause(&["_time"]),
                    conds.join(" AND ")
                );
                text.push_str(&first_per_group(&by));
            }
            _ => {
                // The rule's look-back (Elastic threshold) is the search time range: the
                // schedule's earliest/latest, outside the query text.
                let _ = write!(
                    text,
                    "\n| stats {}{}\n| where {}",
                    aggs.join(" "),
                    by_clause(&[]),
                    conds.join(" AND ")
                );
            }
        }
        Ok(text)
    }

    /// Join keys shared by every step: plain fields only.
    fn join_keys(&self, by: &[Operand], steps: &[&SeqStep]) -> EResult<Vec<String>> {
        let mut keys = Vec::new();
        for k in by {
            keys.push(key_field(k)?);
        }
        let mut per_step: Option<Vec<String>> = None;
        for st in steps {
            let mut ks = Vec::new();
            for k in &st.by {
                ks.push(key_field(k)?);
            }
            match &per_step {
                None => per_step = Some(ks),
                Some(prev) if *prev == ks => {}
                Some(_) => return Err(unsupported(
                    "per-step-join-keys",
                    "steps join on different fields; SPL's streamstats groups by one set of fields",
                )),
            }
        }
        keys.extend(per_step.unwrap_or_default());
        Ok(keys)
    }

    fn step_exprs(&mut self, rule: &MappedRule, steps: &[&SeqStep]) -> EResult<Vec<Expr>> {
        let mut out = Vec::new();
        for (i, st) in steps.iter().enumerate() {
            let e = simplify(&self.source_expr(rule, i, &st.source.filter));
            self.check(&e)?;
            out.push(e);
        }
        Ok(out)
    }

    /// The filter for all steps, the step flags and the key guard.
    fn steps_prelude(
        &mut self,
        exprs: &[Expr],
        flags: &[String],
        keys: &[String],
    ) -> EResult<String> {
        let mut text = self.filter(&Expr::or(exprs.to_vec()))?.text();
        let assigns: Vec<String> = exprs
            .iter()
            .zip(flags)
            .map(|(e, flag)| format!("{flag}=if({}, 1, 0)", self.where_expr(e, false)))
            .collect();
        let _ = write!(text, "\n| eval {}", assigns.join(", "));
        if !keys.is_empty() {
            let guards: Vec<String> = keys
                .iter()
                .map(|k| format!("isnotnull({})", eval_field(k)))
                .collect();
            let _ = write!(text, "\n| where {}", guards.join(" AND "));
        }
        Ok(text)
    }

    fn sequence(&mut self, rule: &MappedRule, s: &Sequence) -> EResult<String> {
        if s.steps.iter().chain(s.until.iter()).any(|st| st.missing) {
            return Err(unsupported(
                "sequence-missing-step",
                "a missing-event step (![…]) has no faithful SPL form",
            ));
        }
        if s.steps.is_empty() {
            return Err(unsupported("sequence-empty", "a sequence without steps"));
        }
        if s.by
            .iter()
            .chain(s.steps.iter().flat_map(|st| st.by.iter()))
            .any(|k| matches!(k, Operand::Field { optional: true, .. }))
        {
            return Err(unsupported(
                "sequence-optional-key",
                "an optional (?field) join key that may be null has no SPL form here",
            ));
        }
        // Steps expanded by `runs`, then `until` last.
        let mut expanded: Vec<&SeqStep> = Vec::new();
        for st in &s.steps {
            for _ in 0..st.runs.max(1) {
                expanded.push(st);
            }
        }
        if expanded.len() > 64 {
            return Err(unsupported(
                "sequence-too-long",
                "more than 64 sequence steps after runs",
            ));
        }
        let mut all_steps = expanded.clone();
        all_steps.extend(s.until.iter());
        let keys = self.join_keys(&s.by, &all_steps)?;
        // Source selections index the original steps; runs repeat a step's expression.
        let mut base_exprs = Vec::new();
        for (i, st) in s.steps.iter().enumerate() {
            let e = simplify(&self.source_expr(rule, i, &st.source.filter));
            self.check(&e)?;
            base_exprs.push(e);
        }
        let mut exprs: Vec<Expr> = Vec::new();
        for (i, st) in s.steps.iter().enumerate() {
            for _ in 0..st.runs.max(1) {
                exprs.push(base_exprs[i].clone());
            }
        }
        if let Some(u) = &s.until {
            let e = simplify(&self.source_expr(rule, s.steps.len(), &u.source.filter));
            self.check(&e)?;
            exprs.push(e);
        }
        let n = expanded.len();
        let mut flags: Vec<String> = (1..=n).map(|i| format!("rp_s{i}")).collect();
        if s.until.is_some() {
            flags.push("rp_u".into());
        }
        let mut text = self.steps_prelude(&exprs, &flags, &keys)?;
        let by = if keys.is_empty() {
            String::new()
        } else {
            format!(
                " BY {}",
                keys.iter()
                    .map(|k| stats_field(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // Ordered chain: each event records the latest start (sequence number and time) of a
        // chain that reaches its step; the latest start is always the best for maxspan and until.
        text.push_str("\n| sort 0 _time\n| streamstats count AS rp_seq");
        let _ = write!(
            text,
            "\n| eval rp_c1=if(rp_s1==1, rp_seq, null()), rp_c1t=if(rp_s1==1, '_time', null())"
        );
        for i in 1..n {
            let _ = write!(
                text,
                "\n| streamstats current=f max(rp_c{i}) AS rp_p{i} max(rp_c{i}t) AS rp_p{i}t{by}"
            );
            let j = i + 1;
            let _ = write!(
                text,
                "\n| eval rp_c{j}=if(rp_s{j}==1 AND isnotnull(rp_p{i}), rp_p{i}, null()), rp_c{j}t=if(rp_s{j}==1 AND isnotnull(rp_p{i}), rp_p{i}t, null())"
            );
        }
        let mut conds = vec![format!("isnotnull(rp_c{n})")];
        if let Some(m) = s.maxspan {
            let secs = m.millis as f64 / 1000.0;
            conds.push(format!(
                "'_time'-rp_c{n}t<={}",
                crate::emit::float_text(secs)
            ));
        }
        if s.until.is_some() {
            let _ = write!(
                text,
                "\n| eval rp_uq=if(rp_u==1, rp_seq, null())\n| streamstats max(rp_uq) AS rp_pu{by}"
            );
            // An until event strictly after the start (up to this event) expires the chain.
            conds.push(format!("(isnull(rp_pu) OR rp_pu<=rp_c{n})"));
        }
        let _ = write!(text, "\n| where {}", conds.join(" AND "));
        self.note(
            "sequence-alert-grouping",
            "each result is the event that completes a sequence (from the latest possible start), not one alert per starting event",
        );
        Ok(text)
    }

    fn sample(&mut self, rule: &MappedRule, s: &Sample) -> EResult<String> {
        if s.steps.is_empty() {
            return Err(unsupported("sample-empty", "a sample without steps"));
        }
        if s.steps.iter().any(|st| st.missing || st.runs > 1) {
            return Err(unsupported(
                "sample-step-options",
                "runs or missing steps inside a sample",
            ));
        }
        if s.by
            .iter()
            .chain(s.steps.iter().flat_map(|st| st.by.iter()))
            .any(|k| matches!(k, Operand::Field { optional: true, .. }))
        {
            return Err(unsupported(
                "sample-optional-key",
                "an optional (?field) join key",
            ));
        }
        let steps: Vec<&SeqStep> = s.steps.iter().collect();
        let keys = self.join_keys(&s.by, &steps)?;
        let exprs = self.step_exprs(rule, &steps)?;
        let n = exprs.len();
        let flags: Vec<String> = (1..=n).map(|i| format!("rp_s{i}")).collect();
        let mut text = self.steps_prelude(&exprs, &flags, &keys)?;
        // Distinct events per step (Hall's condition): for every set S of steps, at least |S|
        // events match some step of S. Exact up to MAX_SAMPLE_STEPS_EXACT steps.
        let mut subsets: Vec<Vec<usize>> = Vec::new();
        if n <= MAX_SAMPLE_STEPS_EXACT {
            for mask in 1u32..(1 << n) {
                let set: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                subsets.push(set);
            }
        } else {
            subsets.extend((0..n).map(|i| vec![i]));
            subsets.push((0..n).collect());
            self.note(
                "sample-distinct-events",
                "with more than four steps only single steps and all steps together are checked for distinct events",
            );
        }
        self.note(
            "sample-alert-events",
            "the alert covers every event of the group (or window), not one chosen event per step",
        );
        let mut extra_flags = Vec::new();
        let mut sums = Vec::new();
        let mut conds = Vec::new();
        for set in &subsets {
            let name = format!(
                "rp_h{}",
                set.iter().map(|i| (i + 1).to_string()).collect::<String>()
            );
            let src = if set.len() == 1 {
                format!("rp_s{}", set[0] + 1)
            } else {
                let f = format!(
                    "rp_m{}",
                    set.iter().map(|i| (i + 1).to_string()).collect::<String>()
                );
                let any = set
                    .iter()
                    .map(|i| format!("rp_s{}==1", i + 1))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                extra_flags.push(format!("{f}=if({any}, 1, 0)"));
                f
            };
            sums.push(format!("sum({src}) AS {name}"));
            conds.push(format!("{name}>={}", set.len()));
        }
        if !extra_flags.is_empty() {
            let _ = write!(text, "\n| eval {}", extra_flags.join(", "));
        }
        let by = if keys.is_empty() {
            String::new()
        } else {
            format!(
                " BY {}",
                keys.iter()
                    .map(|k| stats_field(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match s.window.filter(|w| w.millis > 0) {
            Some(w) => {
                let secs = w.millis.div_ceil(1000);
                if w.millis % 1000 != 0 {
                    self.note(
                        "window-rounded",
                        "the window is rounded up to whole seconds",
                    );
                }
                let _ = write!(
                    text,
                    "\n| sort 0 _time\n| streamstats time_window={secs}s {}{by}\n| where {}",
                    sums.join(" "),
                    conds.join(" AND ")
                );
                let key_fields: Vec<String> = keys.iter().map(|k| stats_field(k)).collect();
                text.push_str(&first_per_group(&key_fields));
            }
            None => {
                let _ = write!(
                    text,
                    "\n| stats {}{by}\n| where {}",
                    sums.join(" "),
                    conds.join(" AND ")
                );
            }
        }
        Ok(text)
    }
}

fn key_field(k: &Operand) -> EResult<String> {
    match k {
        Operand::Field { name, .. } => Ok(name.clone()),
        _ => Err(unsupported(
            "computed-join-key",
            "a join key computed by a function has no SPL form here",
        )),
    }
}

/// Keep the first result of each group (by time order).
fn first_per_group(by: &[String]) -> String {
    if by.is_empty() {
        "\n| streamstats count AS rp_alert\n| where rp_alert==1".into()
    } else {
        format!("\n| dedup {}", by.join(" "))
    }
}

pub(crate) fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn check_nested(e: &Expr, err: &mut Option<Unsupported>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| check_nested(x, err)),
        Expr::Not(x) => check_nested(x, err),
        Expr::Nested { .. } => {
            *err = Some(unsupported(
                "nested-query",
                "a nested-object query (kuery path:{…}) needs per-element matching that Splunk's flattened JSON fields lose",
            ))
        }
        _ => {}
    }
}

fn pred_search_ok(p: &Predicate) -> bool {
    match (&p.subject, &p.op) {
        (Subject::Keyword, Op::Match { .. }) => true,
        (Subject::Field { .. }, op) => match op {
            Op::Match { pattern, case } => case.is_insensitive() && search_pattern_ok(pattern),
            Op::Eq(Scalar::Int(_)) | Op::Eq(Scalar::Float(_)) | Op::Eq(Scalar::Bool(_)) => true,
            Op::Eq(Scalar::Str(_)) => false,
            Op::Cmp { value, .. } => value.is_number(),
            Op::Cidr(net) => matches!(net, ipnet::IpNet::V4(_)),
            Op::Exists => true,
            Op::Regex(_) | Op::FieldRef { .. } | Op::IsTrue | Op::Text(_) => false,
        },
        _ => false,
    }
}

/// A string match in eval: `==`, `like()` or an anchored `match()`; insensitive via `lower()`.
fn where_match(f: &str, pattern: &StrPattern, insensitive: bool) -> String {
    let (subj, pat) = if insensitive {
        (format!("lower({f})"), pattern.map_literals(fold))
    } else {
        (f.to_string(), pattern.clone())
    };
    match pat.shape() {
        PatternShape::Any => return format!("isnotnull({f})"),
        PatternShape::Exact(s) => return format!("{subj}=={}", quote(s)),
        _ => {}
    }
    let like_ok = pat.pieces().iter().all(|p| match p {
        Piece::Lit(s) => !s.contains(['%', '_', '\\']),
        Piece::Placeholder(_) => false,
        _ => true,
    });
    if like_ok {
        let mut like = String::new();
        for p in pat.pieces() {
            match p {
                Piece::Lit(s) => like.push_str(s),
                Piece::AnyChars => like.push('%'),
                Piece::OneChar => like.push('_'),
                Piece::Placeholder(_) => {}
            }
        }
        return format!("like({subj}, {})", quote(&like));
    }
    let mut re = String::from(r"(?s)\A");
    for p in pat.pieces() {
        match p {
            Piece::Lit(s) => re.push_str(&regex::escape(s)),
            Piece::AnyChars => re.push_str(".*"),
            Piece::OneChar => re.push('.'),
            Piece::Placeholder(n) => re.push_str(&regex::escape(&format!("%{n}%"))),
        }
    }
    re.push_str(r"\z");
    format!("match({subj}, {})", quote(&re))
}
