//! Emitter: rule model → Elasticsearch EQL text.
//!
//! The IR is two-valued and EQL three-valued, so the emitter writes text whose *truth* equals
//! the IR expression: a plain `Not(P)` (which matches events without the field) becomes
//! `(f == null or not P)`, while `Exists(f) ∧ ¬P` (what EQL's own `f != x` lowers to) is written
//! back as `f != x`. Operators are picked to keep case and wildcard meaning: `==` for a
//! case-sensitive exact match, `like` for case-sensitive wildcards, `:` for case-insensitive
//! strings, `in~` when a case-insensitive literal contains `*` or `?` (EQL wildcards have no
//! escape), and `regex`/`regex~` when nothing else can say it.

use crate::lower::{single_subject, value_when_missing};
use crate::lucene;
use crate::parser::{canonical_function_name, is_keyword};
use crate::parser::{RED_ZONE, STACK_CHUNK};
use ruleport_model::{
    Approximation, Case, Detection, EventFilter, Expr, FieldKind, Op, Operand, PatternShape, Piece,
    Predicate, RegexAnchor, RegexSpec, Scalar, SeqStep, StrPattern, Subject, TargetId, Unsupported,
};
use std::fmt::Write as _;

/// IR nesting the emitter accepts (the parser's own limit must still hold on the output).
const MAX_IR_DEPTH: usize = 100;

const OR: u8 = 0;
const AND: u8 = 1;
const UNARY: u8 = 2;

struct Text {
    s: String,
    prec: u8,
}

impl Text {
    fn new(s: String, prec: u8) -> Text {
        Text { s, prec }
    }

    fn at_least(self, prec: u8) -> String {
        if self.prec < prec {
            format!("({})", self.s)
        } else {
            self.s
        }
    }
}

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Eql, code, reason)
}

type EResult<T> = Result<T, Unsupported>;

/// Emit a detection as EQL text, with the approximations the text makes.
pub fn emit_detection(
    det: &Detection,
    kind_of: &dyn Fn(&str) -> FieldKind,
) -> Result<(String, Vec<Approximation>), Unsupported> {
    let mut em = Emitter {
        kind_of,
        notes: Vec::new(),
    };
    let text = match det {
        Detection::Query(f) => em.event_query(f)?,
        Detection::Sequence(s) => {
            if s.steps
                .iter()
                .map(|st| st.runs.max(1) as usize)
                .sum::<usize>()
                < 2
            {
                return Err(unsupported(
                    "eql-sequence-length",
                    "an EQL sequence needs at least two steps",
                ));
            }
            if s.steps.iter().all(|st| st.missing) {
                return Err(unsupported(
                    "eql-sequence-length",
                    "an EQL sequence needs a step that is not missing",
                ));
            }
            if s.steps.iter().any(|st| st.missing) && s.maxspan.is_none() {
                return Err(unsupported(
                    "eql-missing-without-maxspan",
                    "EQL missing-event steps need `with maxspan`",
                ));
            }
            let mut out = String::from("sequence");
            if !s.by.is_empty() {
                out.push_str(" by ");
                out.push_str(&em.keys(&s.by)?);
            }
            if let Some(m) = s.maxspan {
                if m.millis == 0 {
                    return Err(unsupported("eql-maxspan", "EQL `maxspan` must be positive"));
                }
                let _ = write!(out, " with maxspan={}", m.to_unit_string());
            }
            for st in &s.steps {
                out.push_str("\n  ");
                out.push_str(&em.step(st, true)?);
            }
            if let Some(u) = &s.until {
                if u.missing || u.runs > 1 {
                    return Err(unsupported(
                        "eql-until",
                        "an EQL `until` step cannot be missing or repeated",
                    ));
                }
                out.push_str("\nuntil ");
                out.push_str(&em.step(u, false)?);
            }
            out
        }
        Detection::Sample(s) => {
            if s.steps.len() < 2 {
                return Err(unsupported(
                    "eql-sample-length",
                    "an EQL sample needs at least two steps",
                ));
            }
            if let Some(w) = s.window {
                em.notes.push(Approximation::new(
                    "eql-sample-window",
                    format!("EQL samples have no time window; the {w} window is dropped, so the port matches more"),
                ));
            }
            let mut out = String::from("sample");
            if !s.by.is_empty() {
                out.push_str(" by ");
                out.push_str(&em.keys(&s.by)?);
            }
            for st in &s.steps {
                if st.missing {
                    return Err(unsupported(
                        "eql-sample-missing",
                        "EQL samples cannot have missing-event steps",
                    ));
                }
                if st.runs > 1 {
                    return Err(unsupported(
                        "eql-sample-runs",
                        "EQL samples cannot repeat a step with `runs`",
                    ));
                }
                out.push_str("\n  ");
                out.push_str(&em.step(st, false)?);
            }
            out
        }
        Detection::Aggregation(_) => {
            return Err(unsupported(
                "eql-aggregation",
                "EQL cannot count or aggregate events (threshold and correlation counts)",
            ))
        }
        Detection::NewTerms(_) => {
            return Err(unsupported(
                "eql-new-terms",
                "EQL cannot express new-terms detection (first seen values)",
            ))
        }
        Detection::Unsupported(u) => {
            return Err(unsupported(
                "eql-unsupported-detection",
                format!("{} detection: {}", u.kind, u.reason),
            ))
        }
    };
    let mut notes = em.notes;
    notes.sort();
    notes.dedup();
    Ok((text, notes))
}

struct Emitter<'a> {
    kind_of: &'a dyn Fn(&str) -> FieldKind,
    notes: Vec<Approximation>,
}

/// How a predicate is written, which decides which predicates can share a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `==` with a case-sensitive string that holds no `*` or `?` (can also join `like`).
    EqualStr,
    /// `==` / `in`
    Equal,
    /// `like`
    Like,
    /// `:` with a case-insensitive string that holds no `*` or `?` (can also join `in~`).
    ColonLit,
    /// `:`
    Colon,
    /// `in~` (case-insensitive literals holding `*` or `?`)
    InInsensitive,
    /// `regex` / `regex~`
    Regex(bool),
    /// `cidrMatch`
    Cidr,
    /// `startsWith`/`endsWith`/`stringContains` (for text holding `*` or `?`); never listed.
    Func(&'static str, bool),
}

impl Class {
    /// The class of a list holding predicates of both classes, if one operator fits both.
    fn merge(self, other: Class) -> Option<Class> {
        use Class::*;
        match (self, other) {
            (Func(..), _) | (_, Func(..)) => None,
            (a, b) if a == b => Some(a),
            (EqualStr, Equal) | (Equal, EqualStr) => Some(Equal),
            (EqualStr, Like) | (Like, EqualStr) => Some(Like),
            (ColonLit, Colon) | (Colon, ColonLit) => Some(Colon),
            (ColonLit, InInsensitive) | (InInsensitive, ColonLit) => Some(InInsensitive),
            _ => None,
        }
    }
}

impl Emitter<'_> {
    fn event_query(&mut self, f: &EventFilter) -> EResult<String> {
        if f.expr.depth() > MAX_IR_DEPTH {
            return Err(unsupported(
                "eql-too-deep",
                format!("the condition nests deeper than {MAX_IR_DEPTH} levels"),
            ));
        }
        let cond = self.expr(&f.expr)?;
        Ok(format!(
            "{} where {}",
            category_text(f.category.as_deref()),
            cond.s
        ))
    }

    fn step(&mut self, st: &SeqStep, allow_runs: bool) -> EResult<String> {
        let mut out = String::new();
        out.push_str(if st.missing { "![" } else { "[" });
        out.push_str(&self.event_query(&st.source.filter)?);
        out.push(']');
        if !st.by.is_empty() {
            out.push_str(" by ");
            out.push_str(&self.keys(&st.by)?);
        }
        if st.runs > 1 {
            if !allow_runs || st.runs > 100 {
                return Err(unsupported(
                    "eql-runs",
                    "EQL `with runs` takes 1 to 100 and only in sequences",
                ));
            }
            let _ = write!(out, " with runs={}", st.runs);
        }
        Ok(out)
    }

    fn keys(&mut self, keys: &[Operand]) -> EResult<String> {
        let v: Vec<String> = keys
            .iter()
            .map(|k| self.operand(k, true))
            .collect::<Result<_, _>>()?;
        Ok(v.join(", "))
    }

    /// Text whose EQL truth is the IR expression's two-valued truth.
    fn expr(&mut self, e: &Expr) -> EResult<Text> {
        stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) -> EResult<Text> {
        match e {
            Expr::Const(b) => Ok(Text::new(b.to_string(), UNARY)),
            Expr::Pred(p) => self.pred(p),
            Expr::And(items) => self.and(items),
            Expr::Or(items) => self.or(items),
            Expr::Not(inner) => self.not(inner),
            Expr::Nested { .. } => {
                Err(unsupported("eql-nested", "EQL cannot search nested fields"))
            }
        }
    }

    fn and(&mut self, items: &[Expr]) -> EResult<Text> {
        let mut parts = Vec::new();
        let mut seen: Vec<Subject> = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let item = &items[i];
            if let Expr::Pred(Predicate {
                subject,
                op: Op::Exists,
            }) = item
            {
                // `Exists(s) ∧ ¬Y(s)` is EQL's `not Y`: the `not` brings the existence back.
                if let Some(Expr::Not(y)) = items.get(i + 1) {
                    if single_subject(y).as_ref() == Some(subject) {
                        seen.push(subject.clone());
                        parts.push(self.negated(y, subject)?);
                        i += 2;
                        continue;
                    }
                }
                seen.push(subject.clone());
            }
            if let Expr::Not(y) = item {
                if let Some(s) = single_subject(y) {
                    if seen.contains(&s) {
                        parts.push(self.negated(y, &s)?);
                        i += 1;
                        continue;
                    }
                }
            }
            parts.push(self.expr(item)?);
            i += 1;
        }
        if parts.len() == 1 {
            return Ok(parts
                .pop()
                .unwrap_or_else(|| Text::new("true".into(), UNARY)));
        }
        let s: Vec<String> = parts.into_iter().map(|t| t.at_least(AND)).collect();
        Ok(Text::new(s.join(" and "), AND))
    }

    fn or(&mut self, items: &[Expr]) -> EResult<Text> {
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < items.len() {
            // Group consecutive predicates on one subject that one list operator can hold.
            if let Some((subject, mut class)) = self.groupable(&items[i]) {
                let mut j = i + 1;
                while j < items.len() {
                    match self.groupable(&items[j]) {
                        Some((s2, c2)) if s2 == subject => match class.merge(c2) {
                            Some(m) => {
                                class = m;
                                j += 1;
                            }
                            None => break,
                        },
                        _ => break,
                    }
                }
                if j - i > 1 {
                    let preds: Vec<&Predicate> = items[i..j]
                        .iter()
                        .filter_map(|e| if let Expr::Pred(p) = e { Some(p) } else { None })
                        .collect();
                    parts.push(self.list(&subject, class, &preds, false)?);
                    i = j;
                    continue;
                }
            }
            parts.push(self.expr(&items[i])?.s);
            i += 1;
        }
        if parts.len() == 1 {
            return Ok(Text::new(parts.pop().unwrap_or_default(), OR));
        }
        Ok(Text::new(parts.join(" or "), OR))
    }

    /// Text true exactly when `inner` is false (two-valued: missing fields included).
    fn not(&mut self, inner: &Expr) -> EResult<Text> {
        match inner {
            Expr::Const(b) => Ok(Text::new((!b).to_string(), UNARY)),
            Expr::Not(x) => self.expr(x),
            Expr::Pred(Predicate {
                subject,
                op: Op::Exists,
            }) => Ok(Text::new(
                format!("{} == null", self.subject(subject)?),
                UNARY,
            )),
            Expr::Nested { .. } => {
                Err(unsupported("eql-nested", "EQL cannot search nested fields"))
            }
            _ => {
                if let Some(s) = single_subject(inner) {
                    let core = self.negated(inner, &s)?;
                    if value_when_missing(inner) {
                        return Ok(core);
                    }
                    let null = format!("{} == null", self.subject(&s)?);
                    return Ok(Text::new(format!("{null} or {}", core.at_least(UNARY)), OR));
                }
                match inner {
                    Expr::And(v) => {
                        let items: Vec<Expr> = v.iter().map(|x| Expr::not(x.clone())).collect();
                        self.or(&items)
                    }
                    Expr::Or(v) => {
                        let items: Vec<Expr> = v.iter().map(|x| Expr::not(x.clone())).collect();
                        self.and(&items)
                    }
                    Expr::Pred(p) => {
                        // Field comparisons and keyword search: report what the predicate needs.
                        self.pred(p)?;
                        Err(unsupported(
                            "eql-unsupported",
                            "this negation cannot be written in EQL",
                        ))
                    }
                    _ => Err(unsupported(
                        "eql-unsupported",
                        "this negation cannot be written in EQL",
                    )),
                }
            }
        }
    }

    /// Text that is true exactly when subject `s` exists and `inner` (on `s` alone) is false.
    fn negated(&mut self, inner: &Expr, s: &Subject) -> EResult<Text> {
        match inner {
            Expr::Pred(p) => {
                if let Some(class) = self.class_of(p) {
                    return self.list(s, class, &[p], true).map(|t| Text::new(t, UNARY));
                }
                let t = self.pred(p)?;
                Ok(Text::new(format!("not {}", t.at_least(UNARY)), UNARY))
            }
            Expr::Or(v) => {
                let preds: Vec<&Predicate> = v
                    .iter()
                    .filter_map(|e| if let Expr::Pred(p) = e { Some(p) } else { None })
                    .collect();
                if preds.len() == v.len() {
                    if let Some(c) = self.list_class(&preds) {
                        return self.list(s, c, &preds, true).map(|t| Text::new(t, UNARY));
                    }
                }
                let t = self.expr(inner)?;
                Ok(Text::new(format!("not {}", t.at_least(UNARY)), UNARY))
            }
            _ => {
                let t = self.expr(inner)?;
                Ok(Text::new(format!("not {}", t.at_least(UNARY)), UNARY))
            }
        }
    }

    fn groupable(&self, e: &Expr) -> Option<(Subject, Class)> {
        let Expr::Pred(p) = e else { return None };
        match self.class_of(p)? {
            Class::Func(..) => None,
            c => Some((p.subject.clone(), c)),
        }
    }

    fn kind(&self, s: &Subject) -> FieldKind {
        match s {
            Subject::Field { name, .. } => (self.kind_of)(name),
            _ => FieldKind::Unknown,
        }
    }

    /// The operator class of a list-able predicate.
    fn class_of(&self, p: &Predicate) -> Option<Class> {
        let kind = self.kind(&p.subject);
        match &p.op {
            Op::Eq(_) => Some(Class::Equal),
            Op::Match { pattern, case } => {
                if pattern.has_placeholders() {
                    return None;
                }
                if let Some(lit) = pattern.as_literal() {
                    if typed_literal(lit, kind, *case).is_some() {
                        return Some(Class::Equal);
                    }
                    let wild = lit.contains(['*', '?']);
                    return Some(match (case, wild) {
                        (Case::Sensitive, false) => Class::EqualStr,
                        (Case::Sensitive, true) => Class::Equal,
                        (Case::Insensitive, false) => Class::ColonLit,
                        (Case::Insensitive, true) => Class::InInsensitive,
                    });
                }
                if literal_has_wildcard_chars(pattern) {
                    let ci = case.is_insensitive();
                    return Some(match pattern.shape() {
                        PatternShape::Prefix(_) => Class::Func("startsWith", ci),
                        PatternShape::Suffix(_) => Class::Func("endsWith", ci),
                        PatternShape::Contains(_) => Class::Func("stringContains", ci),
                        _ => Class::Regex(ci),
                    });
                }
                Some(if case.is_insensitive() {
                    Class::Colon
                } else {
                    Class::Like
                })
            }
            Op::Regex(spec) => Some(Class::Regex(
                spec.case.is_insensitive() || spec.pattern.starts_with("(?i)"),
            )),
            Op::Cidr(_) => Some(Class::Cidr),
            _ => None,
        }
    }

    /// One operator class for all of `preds`, if there is one.
    fn list_class(&self, preds: &[&Predicate]) -> Option<Class> {
        let mut class = self.class_of(preds.first()?)?;
        if preds.len() == 1 {
            return Some(class);
        }
        for p in &preds[1..] {
            class = class.merge(self.class_of(p)?)?;
        }
        Some(class)
    }

    /// A list of predicates of one class on one subject; `negated` writes its negation
    /// (true when the subject exists and none holds).
    fn list(
        &mut self,
        s: &Subject,
        class: Class,
        preds: &[&Predicate],
        negated: bool,
    ) -> EResult<String> {
        let kind = self.kind(s);
        let mut subj = self.subject(s)?;
        let mut items = Vec::new();
        for p in preds {
            items.push(self.item(p, class, kind)?);
        }
        if matches!(
            class,
            Class::Colon | Class::ColonLit | Class::Like | Class::Regex(_)
        ) && matches!(
            kind,
            FieldKind::Integer | FieldKind::Float | FieldKind::Bool
        ) {
            // `:`, `like` and `regex` take strings only.
            subj = format!("string({subj})");
        }
        let one = items.len() == 1;
        let joined = if one {
            items[0].clone()
        } else {
            format!("({})", items.join(", "))
        };
        let listed = format!("({})", items.join(", "));
        let not = if negated { "not " } else { "" };
        Ok(match class {
            Class::Equal | Class::EqualStr => match (one, negated) {
                (true, false) => format!("{subj} == {joined}"),
                (true, true) => format!("{subj} != {joined}"),
                (false, false) => format!("{subj} in {listed}"),
                (false, true) => format!("{subj} not in {listed}"),
            },
            Class::InInsensitive => {
                if negated {
                    format!("{subj} not in~ {listed}")
                } else {
                    format!("{subj} in~ {listed}")
                }
            }
            Class::Colon | Class::ColonLit => format!("{not}{subj} : {joined}"),
            Class::Like => format!("{not}{subj} like {joined}"),
            Class::Regex(ci) => format!(
                "{not}{subj} {} {joined}",
                if ci { "regex~" } else { "regex" }
            ),
            Class::Cidr => format!("{not}cidrMatch({subj}, {})", items.join(", ")),
            Class::Func(name, ci) => {
                format!("{not}{name}{}({subj}, {joined})", if ci { "~" } else { "" })
            }
        })
    }

    /// One list item (a literal) for a predicate of the given class.
    fn item(&mut self, p: &Predicate, class: Class, kind: FieldKind) -> EResult<String> {
        match (&p.op, class) {
            (Op::Eq(v), _) => scalar_text(v),
            (Op::Match { pattern, case }, Class::Equal | Class::EqualStr) => {
                let lit = pattern.as_literal().unwrap_or_default();
                Ok(typed_literal(lit, kind, *case).unwrap_or_else(|| quote(lit)))
            }
            (
                Op::Match { pattern, .. },
                Class::Colon | Class::ColonLit | Class::Like | Class::InInsensitive,
            ) => Ok(quote(&glob_text(pattern))),
            (Op::Match { pattern, .. }, Class::Regex(_)) => Ok(quote(&glob_to_lucene(pattern))),
            (Op::Regex(spec), Class::Regex(_)) => {
                let (text, _) = self.regex(spec)?;
                Ok(quote(&text))
            }
            (Op::Cidr(net), Class::Cidr) => Ok(quote(&net.to_string())),
            (Op::Match { pattern, .. }, Class::Func(..)) => match pattern.shape() {
                PatternShape::Prefix(t) | PatternShape::Suffix(t) | PatternShape::Contains(t) => {
                    Ok(quote(t))
                }
                _ => Err(unsupported(
                    "eql-unsupported",
                    "internal: not a prefix, suffix or contains pattern",
                )),
            },
            _ => Err(unsupported(
                "eql-unsupported",
                "internal: predicate does not fit its list",
            )),
        }
    }

    /// Translate a regex spec; the bool is whether it must be written `regex~`.
    fn regex(&mut self, spec: &RegexSpec) -> EResult<(String, bool)> {
        let r = lucene::from_rust(
            &spec.pattern,
            spec.anchor == RegexAnchor::Search,
            spec.dotall,
            spec.multiline,
        )
        .map_err(|m| {
            unsupported(
                "eql-regex",
                format!(
                    "regex `{}` cannot be written in Lucene syntax: {m}",
                    spec.pattern
                ),
            )
        })?;
        for (code, reason) in r.notes {
            self.notes.push(Approximation::new(code, reason));
        }
        Ok((r.pattern, r.case_insensitive || spec.case.is_insensitive()))
    }

    fn pred(&mut self, p: &Predicate) -> EResult<Text> {
        if let Op::Text(q) = &p.op {
            // Elasticsearch EQL refuses text and match_only_text fields, and a wildcard on
            // the keyword form would match substrings rather than words.
            let field = p.subject.field_name().unwrap_or("a keyword search");
            return Err(unsupported(
                "eql-text-field",
                format!(
                    "Elasticsearch EQL cannot search the analysed text field `{field}` for the words of `{}`",
                    q.text
                ),
            ));
        }
        if let Some(class) = self.class_of(p) {
            if let Op::Regex(spec) = &p.op {
                let (text, ci) = self.regex(spec)?;
                let subj = self.subject(&p.subject)?;
                let subj = if matches!(
                    self.kind(&p.subject),
                    FieldKind::Integer | FieldKind::Float | FieldKind::Bool
                ) {
                    format!("string({subj})")
                } else {
                    subj
                };
                let op = if ci { "regex~" } else { "regex" };
                return Ok(Text::new(format!("{subj} {op} {}", quote(&text)), UNARY));
            }
            return Ok(Text::new(self.list(&p.subject, class, &[p], false)?, UNARY));
        }
        let subj = self.subject(&p.subject)?;
        let s = match &p.op {
            Op::Cmp { op, value } => format!("{subj} {} {}", op.symbol(), scalar_text(value)?),
            Op::Exists => format!("{subj} != null"),
            Op::IsTrue => match &p.subject {
                Subject::Computed(_) => subj,
                _ => format!("{subj} == true"),
            },
            Op::FieldRef { .. } => {
                return Err(unsupported(
                    "eql-field-comparison",
                    "Elasticsearch EQL cannot compare a field with another field",
                ))
            }
            Op::Match { pattern, .. } if pattern.has_placeholders() => {
                return Err(unsupported(
                    "eql-placeholder",
                    "the value has an unresolved placeholder",
                ))
            }
            other => {
                return Err(unsupported(
                    "eql-unsupported",
                    format!("operator {other:?} has no EQL form"),
                ))
            }
        };
        Ok(Text::new(s, UNARY))
    }

    fn subject(&mut self, s: &Subject) -> EResult<String> {
        match s {
            Subject::Field { name, .. } if (self.kind_of)(name) == FieldKind::Text => {
                Err(unsupported(
                    "eql-text-field",
                    format!("Elasticsearch EQL cannot search the text field `{name}`"),
                ))
            }
            Subject::Field { name, optional } => Ok(format!(
                "{}{}",
                if *optional { "?" } else { "" },
                field_text(name)
            )),
            Subject::Keyword => Err(unsupported(
                "eql-keyword-search",
                "EQL has no keyword (field-less) search",
            )),
            Subject::Computed(op) => self.operand(op, false),
        }
    }

    fn operand(&mut self, op: &Operand, _key: bool) -> EResult<String> {
        Ok(match op {
            Operand::Field { name, optional } => {
                format!("{}{}", if *optional { "?" } else { "" }, field_text(name))
            }
            Operand::Literal(s) => scalar_text(s)?,
            Operand::Null => "null".into(),
            Operand::Call {
                name,
                case_insensitive,
                args,
            } => {
                let lower = name.to_ascii_lowercase();
                let Some(canon) = canonical_function_name(&lower) else {
                    return Err(unsupported(
                        "eql-unknown-function",
                        format!("EQL has no function `{name}`"),
                    ));
                };
                let args: Vec<String> = args
                    .iter()
                    .map(|a| self.operand(a, false))
                    .collect::<Result<_, _>>()?;
                format!(
                    "{canon}{}({})",
                    if *case_insensitive { "~" } else { "" },
                    args.join(", ")
                )
            }
            Operand::Arith { op, left, right } => {
                let sym = match op {
                    ruleport_model::ArithOp::Add => "+",
                    ruleport_model::ArithOp::Sub => "-",
                    ruleport_model::ArithOp::Mul => "*",
                    ruleport_model::ArithOp::Div => "/",
                    ruleport_model::ArithOp::Mod => "%",
                };
                let l = self.arith_child(left)?;
                let r = self.arith_child(right)?;
                format!("{l} {sym} {r}")
            }
            Operand::Neg(x) => format!("-{}", self.arith_child(x)?),
        })
    }

    fn arith_child(&mut self, op: &Operand) -> EResult<String> {
        let t = self.operand(op, false)?;
        Ok(match op {
            Operand::Arith { .. } | Operand::Neg(_) => format!("({t})"),
            Operand::Literal(Scalar::Int(i)) if *i < 0 => format!("({t})"),
            Operand::Literal(Scalar::Float(f)) if *f < 0.0 => format!("({t})"),
            _ => t,
        })
    }
}

/// `true`/number literal for a match on a boolean or numeric field (`:` takes strings only).
fn typed_literal(lit: &str, kind: FieldKind, case: Case) -> Option<String> {
    match kind {
        FieldKind::Integer | FieldKind::Float => {
            let t = lit.trim();
            if t == lit
                && (t.parse::<i64>().is_ok() || t.parse::<f64>().is_ok_and(f64::is_finite))
                && !t.starts_with('+')
            {
                Some(t.to_string())
            } else {
                None
            }
        }
        FieldKind::Bool => {
            let l = if case.is_insensitive() {
                lit.to_ascii_lowercase()
            } else {
                lit.to_string()
            };
            matches!(l.as_str(), "true" | "false").then_some(l)
        }
        _ => None,
    }
}

fn literal_has_wildcard_chars(p: &StrPattern) -> bool {
    p.pieces()
        .iter()
        .any(|x| matches!(x, Piece::Lit(s) if s.contains(['*', '?'])))
}

/// EQL wildcard text (no escapes exist: callers ensure literals hold no `*` or `?`).
fn glob_text(p: &StrPattern) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(s) => out.push_str(s),
            Piece::AnyChars => out.push('*'),
            Piece::OneChar => out.push('?'),
            Piece::Placeholder(n) => {
                let _ = write!(out, "%{n}%");
            }
        }
    }
    out
}

/// A glob as a Lucene regex (for wildcards whose literal text holds `*` or `?`).
fn glob_to_lucene(p: &StrPattern) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(s) => {
                for c in s.chars() {
                    if "\\.?+*|{}[]()\"#@&<>~".contains(c) {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Piece::AnyChars => out.push_str(".*"),
            Piece::OneChar => out.push('.'),
            Piece::Placeholder(n) => {
                let _ = write!(out, "%{n}%");
            }
        }
    }
    out
}

fn scalar_text(s: &Scalar) -> EResult<String> {
    Ok(match s {
        Scalar::Str(t) => quote(t),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => {
            if !f.is_finite() {
                return Err(unsupported(
                    "eql-number",
                    "EQL has no literal for NaN or infinity",
                ));
            }
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                format!("{f:?}")
            }
        }
        Scalar::Bool(b) => b.to_string(),
    })
}

fn is_bidi_control(c: char) -> bool {
    matches!(c as u32, 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// An EQL string literal: `"""raw"""` for backslash-heavy text, else `"…"` with the escapes
/// Elasticsearch accepts (never `\/`).
pub fn quote(s: &str) -> String {
    let plain = !s.chars().any(|c| c.is_control() || is_bidi_control(c));
    if s.contains('\\') && !s.contains('"') && plain {
        return format!("\"\"\"{s}\"\"\"");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:04X}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_plain_ident(s: &str) -> bool {
    !s.is_empty()
        && !is_keyword(s)
        && s.split('.').all(|seg| {
            let mut cs = seg.chars();
            cs.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '@')
                && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        })
}

/// A field name, backtick-escaped when it is not a plain dotted identifier.
pub fn field_text(name: &str) -> String {
    if is_plain_ident(name) {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

fn category_text(c: Option<&str>) -> String {
    match c {
        None => "any".into(),
        Some(c) if !c.contains('.') && is_plain_ident(c) && c != "any" => c.to_string(),
        Some(c) => quote(c),
    }
}
