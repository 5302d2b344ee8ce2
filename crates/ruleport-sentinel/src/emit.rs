//! `MappedRule` → Kusto text.
//!
//! Field names are already Sentinel column names. A name whose first segment is a `dynamic`
//! column in `field_kinds` (`InitiatedBy.user.userPrincipalName`, `TargetResources[0].id`) is a
//! path into that column and is read with `tostring(…)`; `[*]` or `[]` in a path means "any
//! element" and is only approximated. Every other name is a column, quoted `['a.b']` when needed.

use crate::literal::{column_name, is_plain_identifier, member_access, string_literal};
use crate::regex_dialect::{lazy_re2, rust_to_re2};
use crate::schema::{kind_of_type, ColumnLookup, TableSchemas};
use ruleport_model::matching::regex_matches_empty;
use ruleport_model::{
    AggCondition, Aggregation, Approximation, Case, CmpOp, Detection, EventSource, Expr, FieldKind,
    FieldRefKind, MappedRule, Metric, NewTerms, Op, Operand, PatternShape, Piece, Predicate,
    RegexAnchor, RegexSpec, Scalar, SeqStep, SourceSelection, StrPattern, Subject, TargetId,
    TextMode, TextQuery, TimeSpan, Unsupported, WindowKind,
};
use std::collections::BTreeMap;

/// Children of one `and`/`or` written flat before the list is split into a balanced tree
/// (Kusto.Language rejects deep left-nested chains: KS245).
const MAX_FLAT: usize = 32;

/// Recursion limit over the IR.
const MAX_DEPTH: usize = 100;

/// The time column every Log Analytics table has.
pub const TIME_COLUMN: &str = "TimeGenerated";

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Sentinel, code, reason)
}

/// Operator precedence of an emitted fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Atom,
}

/// An emitted boolean expression.
#[derive(Debug, Clone)]
struct Frag {
    text: String,
    prec: Prec,
    /// A direct negated form (`!=`, `!contains`, `isempty`…) with the same two-valued meaning.
    neg: Option<String>,
}

impl Frag {
    fn atom(text: String) -> Frag {
        Frag {
            text,
            prec: Prec::Atom,
            neg: None,
        }
    }

    fn with_neg(text: String, neg: String) -> Frag {
        Frag {
            text,
            prec: Prec::Atom,
            neg: Some(neg),
        }
    }

    fn wrapped(&self, min: Prec) -> String {
        if self.prec < min {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// How a target field is read and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Str,
    Long,
    Real,
    Bool,
    Date,
    /// A whole dynamic column compared as text.
    Dyn,
}

/// How many resolved columns an [`Emitter`] remembers (a linear search stays cheap below it).
const COL_CACHE: usize = 32;

#[derive(Debug, Clone)]
struct Col {
    /// The Kusto expression reading the value.
    text: String,
    ty: ColType,
    /// The path crosses an array with "any element" (`[*]`): only approximated.
    any_element: bool,
}

/// One path step after the leading column.
enum Step {
    Member(String),
    Index(i64),
    AnyElement,
}

/// Split `A.b[0].c` / `A['x.y'].c` into a head and steps; `None` for a plain name.
fn split_path(name: &str) -> Option<(String, Vec<Step>)> {
    if !name.contains(['.', '[']) {
        return None;
    }
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    let mut head = String::new();
    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
        head.push(chars[i]);
        i += 1;
    }
    let mut steps = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let mut seg = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    seg.push(chars[i]);
                    i += 1;
                }
                if seg.is_empty() {
                    return None;
                }
                steps.push(Step::Member(seg));
            }
            '[' => {
                let close = chars[i..].iter().position(|c| *c == ']')? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                if inner.is_empty() || inner == "*" {
                    steps.push(Step::AnyElement);
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    steps.push(Step::Member(q.to_string()));
                } else {
                    return None;
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    (!head.is_empty()).then_some((head, steps))
}

fn kind_type(k: FieldKind) -> ColType {
    match k {
        FieldKind::Integer => ColType::Long,
        FieldKind::Float => ColType::Real,
        FieldKind::Bool => ColType::Bool,
        FieldKind::Date => ColType::Date,
        FieldKind::Dynamic => ColType::Dyn,
        FieldKind::Unknown
        | FieldKind::Keyword
        | FieldKind::Text
        | FieldKind::Ip
        | FieldKind::Guid => ColType::Str,
    }
}

/// A Kusto number literal.
fn number(s: &Scalar) -> Option<String> {
    match s {
        Scalar::Int(i) if *i == i64::MIN => Some(format!("({} - 1)", i64::MIN + 1)),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) if f.is_finite() => {
            let t = format!("{f:?}");
            Some(if t.contains(['.', 'e', 'E']) {
                t
            } else {
                format!("{t}.0")
            })
        }
        Scalar::Str(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| number(&Scalar::Float(f))),
        _ => None,
    }
}

/// An RE2 regex, anchored at both ends, for a glob pattern.
fn glob_regex(pattern: &StrPattern, case: Case) -> String {
    let mut out = String::from(if case.is_insensitive() {
        "(?is)^"
    } else {
        "(?s)^"
    });
    for p in pattern.pieces() {
        match p {
            Piece::Lit(s) => out.push_str(&regex_syntax::escape(s)),
            Piece::AnyChars => out.push_str(".*"),
            Piece::OneChar => out.push('.'),
            Piece::Placeholder(n) => out.push_str(&regex_syntax::escape(&format!("%{n}%"))),
        }
    }
    out.push('$');
    out
}

/// What a rule pack may add around the detection logic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// Add `TimeGenerated > ago(lookback)` (by default the rule schedule's look-back applies).
    pub lookback: Option<TimeSpan>,
    /// Columns to `project` from matching rows (entity mapping), single-event rules only.
    pub project: Vec<String>,
}

/// The emitter for one rule.
pub struct Emitter<'m> {
    rule: &'m MappedRule,
    approx: Vec<Approximation>,
    depth: usize,
    options: EmitOptions,
    /// The tables of the source being written (columns are checked against them).
    tables: Vec<String>,
    /// Columns already resolved against `tables` (a value list repeats one field per value).
    cols: Vec<(String, Col)>,
}

impl<'m> Emitter<'m> {
    /// An emitter with default options.
    pub fn new(rule: &'m MappedRule) -> Self {
        Self::with_options(rule, EmitOptions::default())
    }

    /// An emitter with pack options.
    pub fn with_options(rule: &'m MappedRule, options: EmitOptions) -> Self {
        Emitter {
            rule,
            approx: rule.approximations.clone(),
            depth: 0,
            options,
            tables: rule.selection.tables.clone(),
            cols: Vec::new(),
        }
    }

    /// Switch to another source's tables; resolved columns no longer apply.
    fn set_tables(&mut self, tables: &[String]) {
        if self.tables != tables {
            self.tables = tables.to_vec();
            self.cols.clear();
        }
    }

    /// The time guard of [`EmitOptions::lookback`], if any.
    fn time_guard(&self) -> Option<String> {
        self.options
            .lookback
            .map(|l| format!("{TIME_COLUMN} > ago({})", l.to_unit_string()))
    }

    fn note(&mut self, code: &str, reason: impl Into<String>) {
        // One entry per code: the first reason names the case.
        if !self.approx.iter().any(|a| a.code == code) {
            self.approx.push(Approximation::new(code, reason));
        }
    }

    /// Kusto documents its case-insensitive operators on ASCII; folding of other letters is
    /// not specified, so literals with non-ASCII cased letters are labelled.
    fn note_case(&mut self, text: &str, case: Case) {
        if case.is_insensitive()
            && text
                .chars()
                .any(|c| !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()))
        {
            self.note(
                "non-ascii-case-folding",
                format!("case-insensitive match of non-ASCII letters in {text:?} relies on Kusto's Unicode folding"),
            );
        }
    }

    fn note_empty(&mut self, what: &str) {
        self.note(
            "empty-equals-missing",
            format!("Kusto strings are never null: {what} cannot tell a missing value from an empty string"),
        );
    }

    /// The query text and the approximations it carries.
    pub fn emit(mut self) -> Result<(String, Vec<Approximation>), Unsupported> {
        let text = match &self.rule.rule.detection {
            Detection::Query(f) => {
                self.category_note(f.category.as_deref());
                let sel = self.rule.selection.clone();
                let filter = self.filter_expr(&sel, &f.expr)?;
                let mut text = self.source(&sel)?;
                if let Some(g) = self.time_guard() {
                    text.push_str(&format!("\n| where {g}"));
                }
                if let Some(f) = filter {
                    text.push_str(&format!("\n| where {}", f.text));
                }
                if !self.options.project.is_empty() {
                    let mut cols = vec![TIME_COLUMN.to_string()];
                    for c in &self.options.project {
                        let c = column_name(c);
                        if !cols.contains(&c) {
                            cols.push(c);
                        }
                    }
                    text.push_str(&format!("\n| project {}", cols.join(", ")));
                }
                text
            }
            Detection::Aggregation(a) => self.aggregation(a)?,
            Detection::Sequence(seq) => {
                if seq.until.is_some() {
                    return Err(unsupported(
                        "sequence-until",
                        "an `until` clause expires pending sequences; a summarize over time buckets cannot express it",
                    ));
                }
                if seq.steps.iter().any(|s| s.missing) {
                    return Err(unsupported(
                        "sequence-missing-step",
                        "a step that must not occur (`![…]`) has no summarize form",
                    ));
                }
                self.correlation(&seq.by, &seq.steps, seq.maxspan, true)?
            }
            Detection::Sample(sample) => {
                self.correlation(&sample.by, &sample.steps, sample.window, false)?
            }
            Detection::NewTerms(n) => self.new_terms(n)?,
            Detection::Unsupported(u) => {
                return Err(unsupported(
                    "unsupported-detection",
                    format!("{} detection: {}", u.kind, u.reason),
                ))
            }
        };
        Ok((text, self.approx))
    }

    fn category_note(&mut self, category: Option<&str>) {
        if let Some(c) = category {
            self.note(
                "event-category-by-table",
                format!(
                    "the EQL event category `{c}` is taken to be selected by the Sentinel table"
                ),
            );
        }
    }

    /// `T` or `union T1, T2`.
    fn source(&self, sel: &SourceSelection) -> Result<String, Unsupported> {
        match sel.tables.as_slice() {
            [] => Err(unsupported(
                "no-table",
                format!(
                    "the mapping gives no Sentinel table for log source `{}`",
                    self.rule.rule.logsource.label()
                ),
            )),
            [t] => Ok(column_name(t)),
            many => Ok(format!(
                "union {}",
                many.iter()
                    .map(|t| column_name(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The selection's condition AND the rule's expression.
    fn filter_expr(
        &mut self,
        sel: &SourceSelection,
        e: &Expr,
    ) -> Result<Option<Frag>, Unsupported> {
        self.filter_frag(sel, e, false)
    }

    /// The selection's condition and the expression, emitted side by side (no IR clone, so a
    /// deep expression only meets the depth limit), with columns checked against its tables.
    fn filter_frag(
        &mut self,
        sel: &SourceSelection,
        e: &Expr,
        two_valued: bool,
    ) -> Result<Option<Frag>, Unsupported> {
        self.set_tables(&sel.tables);
        let mut frags = Vec::new();
        if let Some(c) = &sel.condition {
            if *c != Expr::Const(true) {
                frags.push(self.expr(c, two_valued)?);
            }
        }
        if *e != Expr::Const(true) {
            frags.push(self.expr(e, two_valued)?);
        }
        Ok(match frags.len() {
            0 => None,
            _ => Some(join(frags, Prec::And)),
        })
    }

    // ----- boolean expressions -----

    fn expr(&mut self, e: &Expr, two_valued: bool) -> Result<Frag, Unsupported> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(unsupported(
                "expression-too-deep",
                "the condition is nested too deeply",
            ));
        }
        let r = self.expr_inner(e, two_valued);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, e: &Expr, two_valued: bool) -> Result<Frag, Unsupported> {
        match e {
            Expr::Const(b) => Ok(Frag::with_neg(b.to_string(), (!b).to_string())),
            Expr::Pred(p) => self.pred(p, two_valued),
            Expr::Not(inner) => {
                let f = self.expr(inner, true)?;
                Ok(match f.neg.clone() {
                    Some(n) => Frag::with_neg(n, f.text),
                    None => Frag::atom(format!("not({})", f.text)),
                })
            }
            Expr::And(items) => {
                let frags = items
                    .iter()
                    .map(|i| self.expr(i, two_valued))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(join(frags, Prec::And))
            }
            Expr::Or(items) => {
                let frags = self.or_items(items, two_valued)?;
                Ok(join(frags, Prec::Or))
            }
            Expr::Nested { path, .. } => Err(unsupported(
                "nested-query",
                format!("a Kibana nested query over `{path}` needs `mv-apply`, which this emitter does not write"),
            )),
        }
    }

    /// OR children, with equality tests on one column merged into `in`/`in~` lists.
    fn or_items(&mut self, items: &[Expr], two_valued: bool) -> Result<Vec<Frag>, Unsupported> {
        #[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
        enum ListKind {
            Str(bool),
            Num,
        }
        let mut slots: Vec<Result<Frag, (String, ListKind)>> = Vec::new();
        let mut lists: BTreeMap<(String, ListKind), Vec<String>> = BTreeMap::new();
        for it in items {
            let key = match it {
                Expr::Pred(Predicate {
                    subject: Subject::Field { name, .. },
                    op,
                }) => match op {
                    Op::Match { pattern, case } => {
                        match (pattern.shape(), pattern.has_placeholders()) {
                            (PatternShape::Exact(s), false) if !s.is_empty() => {
                                let col = self.col(name)?;
                                let listable = col.ty == ColType::Str && !col.any_element;
                                if listable {
                                    self.note_case(s, *case);
                                }
                                listable.then(|| {
                                    (
                                        (col.text, ListKind::Str(case.is_insensitive())),
                                        string_literal(s),
                                    )
                                })
                            }
                            _ => None,
                        }
                    }
                    Op::Eq(s @ (Scalar::Int(_) | Scalar::Float(_))) => {
                        let col = self.col(name)?;
                        match (col.ty, number(s)) {
                            (ColType::Long | ColType::Real, Some(n)) if !col.any_element => {
                                Some(((col.text, ListKind::Num), n))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            };
            match key {
                Some((k, v)) => {
                    let vals = lists.entry(k.clone()).or_default();
                    if vals.is_empty() {
                        slots.push(Err(k));
                    }
                    if !vals.contains(&v) {
                        vals.push(v);
                    }
                }
                None => slots.push(Ok(self.expr(it, two_valued)?)),
            }
        }
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            match s {
                Ok(f) => out.push(f),
                Err(k) => {
                    let vals = lists.remove(&k).unwrap_or_default();
                    let (col, kind) = k;
                    let f = if vals.len() == 1 {
                        let (eq, ne) = match kind {
                            ListKind::Str(true) => ("=~", "!~"),
                            _ => ("==", "!="),
                        };
                        Frag::with_neg(
                            format!("{col} {eq} {}", vals[0]),
                            format!("{col} {ne} {}", vals[0]),
                        )
                    } else {
                        let (op, nop) = match kind {
                            ListKind::Str(true) => ("in~", "!in~"),
                            _ => ("in", "!in"),
                        };
                        let list = vals.join(", ");
                        Frag::with_neg(
                            format!("{col} {op} ({list})"),
                            format!("{col} {nop} ({list})"),
                        )
                    };
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    // ----- columns -----

    /// The schema's view of a column of the tables being read.
    fn lookup(&self, column: &str) -> ColumnLookup {
        TableSchemas::builtin().lookup(&self.tables, column)
    }

    fn unknown_column(&self, column: &str) -> Unsupported {
        // Data Defender does not record anywhere in the rule decides the reason, whichever
        // missing column was met first.
        let unrecorded = std::iter::once(column.to_string())
            .chain(
                self.rule
                    .rule
                    .detection
                    .filters()
                    .into_iter()
                    .flat_map(|f| f.expr.fields()),
            )
            .find_map(|f| {
                crate::schema::unrecorded_by_defender(&self.tables, &f).map(|what| (f, what))
            });
        if let Some((column, what)) = unrecorded {
            return unsupported(
                "not-recorded",
                format!(
                    "`{column}` ({what}) is Elastic Defend data that Defender's {} does not record",
                    self.tables.join(", ")
                ),
            );
        }
        unsupported(
            "unknown-column",
            format!("`{column}` is not a column of {}", self.tables.join(", ")),
        )
    }

    fn col(&mut self, name: &str) -> Result<Col, Unsupported> {
        if let Some((_, c)) = self.cols.iter().find(|(n, _)| n == name) {
            return Ok(c.clone());
        }
        let c = self.resolve_col(name)?;
        if self.cols.len() < COL_CACHE {
            self.cols.push((name.to_string(), c.clone()));
        }
        Ok(c)
    }

    /// [`Emitter::col`] without the cache.
    fn resolve_col(&mut self, name: &str) -> Result<Col, Unsupported> {
        let own = self.rule.field_kinds.get(name).copied();
        let whole = self.lookup(name);
        if let (Some((head, steps)), false) =
            (split_path(name), matches!(whole, ColumnLookup::Known(_)))
        {
            // A path when its head is a dynamic column, or when the mapping types the path
            // itself as dynamic (`InitiatedBy.user.userPrincipalName: dynamic`).
            let head_lookup = self.lookup(&head);
            let head_kind = match &head_lookup {
                ColumnLookup::Known(ty) => kind_of_type(ty),
                _ => self.rule.kind_of(&head),
            };
            // A string column the mapping types as dynamic holds JSON text (AWSCloudTrail's
            // RequestParameters): its paths are read through `parse_json`.
            let own_dynamic = own == Some(FieldKind::Dynamic) && is_plain_identifier(&head);
            let json_text = head_kind == FieldKind::Keyword
                && (own_dynamic || self.rule.kind_of(&head) == FieldKind::Dynamic);
            if (head_kind == FieldKind::Dynamic || json_text || own_dynamic) && !steps.is_empty() {
                if head_lookup == ColumnLookup::Missing {
                    return Err(self.unknown_column(&head));
                }
                let mut text = if json_text {
                    format!("parse_json({})", column_name(&head))
                } else {
                    column_name(&head)
                };
                let mut any = false;
                for st in &steps {
                    match st {
                        Step::Member(m) => text.push_str(&member_access(m)),
                        Step::Index(i) => text.push_str(&format!("[{i}]")),
                        Step::AnyElement => {
                            any = true;
                            break;
                        }
                    }
                }
                let ty = match own.map(kind_type) {
                    Some(ColType::Long) => ColType::Long,
                    Some(ColType::Real) => ColType::Real,
                    _ => ColType::Str,
                };
                let text = match ty {
                    _ if any => format!("tostring({text})"),
                    ColType::Long => format!("tolong({text})"),
                    ColType::Real => format!("toreal({text})"),
                    _ => format!("tostring({text})"),
                };
                let ty = if any { ColType::Str } else { ty };
                return Ok(Col {
                    text,
                    ty,
                    any_element: any,
                });
            }
        }
        // The table schema decides the column's type; the mapping's kind fills in otherwise.
        let ty = match whole {
            ColumnLookup::Known(ty) => kind_type(kind_of_type(&ty)),
            ColumnLookup::Missing => return Err(self.unknown_column(name)),
            ColumnLookup::Unchecked => kind_type(own.unwrap_or_default()),
        };
        Ok(Col {
            text: column_name(name),
            ty,
            any_element: false,
        })
    }

    /// A column read as a string (numbers, dates and dynamic values through `tostring`).
    fn as_text(&mut self, col: &Col, name: &str) -> Col {
        match col.ty {
            ColType::Str => col.clone(),
            ColType::Dyn => {
                self.note(
                    "dynamic-as-text",
                    format!("the dynamic column `{name}` is compared as its JSON text (arrays and objects are not searched element by element)"),
                );
                Col {
                    text: format!("tostring({})", col.text),
                    ty: ColType::Str,
                    any_element: false,
                }
            }
            ColType::Date => {
                self.note(
                    "datetime-as-text",
                    format!("the datetime column `{name}` is compared as Kusto's ISO 8601 text"),
                );
                Col {
                    text: format!("tostring({})", col.text),
                    ty: ColType::Str,
                    any_element: false,
                }
            }
            ColType::Real => {
                self.note(
                    "real-as-text",
                    format!("the real column `{name}` is compared as Kusto's text for the number"),
                );
                Col {
                    text: format!("tostring({})", col.text),
                    ty: ColType::Str,
                    any_element: false,
                }
            }
            ColType::Long | ColType::Bool => Col {
                text: format!("tostring({})", col.text),
                ty: ColType::Str,
                any_element: false,
            },
        }
    }

    // ----- predicates -----

    fn pred(&mut self, p: &Predicate, two_valued: bool) -> Result<Frag, Unsupported> {
        let name = match &p.subject {
            Subject::Field { name, .. } => name.clone(),
            Subject::Keyword => return self.keyword(&p.op),
            Subject::Computed(_) => {
                return Err(unsupported(
                    "computed-subject",
                    "EQL function or arithmetic subjects are not translated to Kusto",
                ))
            }
        };
        let col = self.col(&name)?;
        if col.any_element {
            return self.any_element_pred(&col, &name, &p.op);
        }
        match &p.op {
            Op::Match { pattern, case } => self.match_pred(&col, &name, pattern, *case),
            Op::Eq(s) => self.eq_pred(&col, &name, s),
            Op::Cmp { op, value } => self.cmp_pred(&col, &name, *op, value, two_valued),
            Op::Regex(spec) => {
                let c = self.as_text(&col, &name);
                self.regex_pred(&c.text, spec)
            }
            Op::Cidr(net) => {
                if matches!(col.ty, ColType::Long | ColType::Real | ColType::Bool) {
                    return Ok(Frag::with_neg("false".into(), "true".into()));
                }
                let c = self.as_text(&col, &name);
                let func = match net {
                    ipnet::IpNet::V4(_) => "ipv4_is_in_range",
                    ipnet::IpNet::V6(_) => "ipv6_is_in_range",
                };
                let call = format!("{func}({}, {})", c.text, string_literal(&net.to_string()));
                // An unparsable address gives null; `== true` keeps the test two-valued.
                Ok(if two_valued {
                    Frag::atom(format!("{call} == true"))
                } else {
                    Frag::atom(call)
                })
            }
            Op::Exists => Ok(match col.ty {
                ColType::Str => {
                    self.note_empty(&format!("`isnotempty({})`", col.text));
                    Frag::with_neg(
                        format!("isnotempty({})", col.text),
                        format!("isempty({})", col.text),
                    )
                }
                _ => Frag::with_neg(
                    format!("isnotnull({})", col.text),
                    format!("isnull({})", col.text),
                ),
            }),
            Op::FieldRef { other, kind, case } => {
                let a = self.as_text(&col, &name);
                let ocol = self.col(other)?;
                let b = self.as_text(&ocol, other);
                self.note_empty("a comparison between two fields");
                let ci = case.is_insensitive();
                let op = match kind {
                    FieldRefKind::Equals => {
                        if ci {
                            "=~"
                        } else {
                            "=="
                        }
                    }
                    FieldRefKind::StartsWith => {
                        if ci {
                            "startswith"
                        } else {
                            "startswith_cs"
                        }
                    }
                    FieldRefKind::EndsWith => {
                        if ci {
                            "endswith"
                        } else {
                            "endswith_cs"
                        }
                    }
                    FieldRefKind::Contains => {
                        if ci {
                            "contains"
                        } else {
                            "contains_cs"
                        }
                    }
                };
                Ok(Frag::atom(format!("{} {op} {}", a.text, b.text)))
            }
            Op::Text(q) => {
                let c = self.as_text(&col, &name);
                self.text_pred(&c.text, &name, q)
            }
            Op::IsTrue => match col.ty {
                ColType::Bool => Ok(Frag::with_neg(
                    format!("{} == true", col.text),
                    format!("{} != true", col.text),
                )),
                _ => Err(unsupported(
                    "is-true-on-non-bool",
                    format!("`{name}` is not a bool column"),
                )),
            },
        }
    }

    fn match_pred(
        &mut self,
        col: &Col,
        name: &str,
        pattern: &StrPattern,
        case: Case,
    ) -> Result<Frag, Unsupported> {
        if pattern.has_placeholders() {
            return Err(unsupported(
                "unresolved-placeholder",
                format!("the value `{pattern}` has an unresolved placeholder"),
            ));
        }
        // Typed columns: an exact number or bool keeps the typed operator.
        if let PatternShape::Exact(s) = pattern.shape() {
            match col.ty {
                ColType::Long => {
                    if let Ok(i) = s.parse::<i64>() {
                        if i.to_string() == s {
                            let n = number(&Scalar::Int(i)).unwrap_or_default();
                            return Ok(Frag::with_neg(
                                format!("{} == {n}", col.text),
                                format!("{} != {n}", col.text),
                            ));
                        }
                    }
                }
                ColType::Bool => {
                    let b = match (s, case) {
                        ("true", _) => Some(true),
                        ("false", _) => Some(false),
                        (t, Case::Insensitive) if t.eq_ignore_ascii_case("true") => Some(true),
                        (t, Case::Insensitive) if t.eq_ignore_ascii_case("false") => Some(false),
                        _ => None,
                    };
                    if let Some(b) = b {
                        return Ok(Frag::with_neg(
                            format!("{} == {b}", col.text),
                            format!("{} != {b}", col.text),
                        ));
                    }
                }
                _ => {}
            }
        }
        let c = self.as_text(col, name);
        for p in pattern.pieces() {
            if let Piece::Lit(l) = p {
                self.note_case(l, case);
            }
        }
        if pattern.matches_empty() {
            self.note_empty(&format!("a test that accepts \"\" on `{name}`"));
        }
        let cs = !case.is_insensitive();
        let op = |ci: &str, sens: &str| if cs { sens.to_string() } else { ci.to_string() };
        let t = &c.text;
        Ok(match pattern.shape() {
            PatternShape::Exact("") => {
                Frag::with_neg(format!("isempty({t})"), format!("isnotempty({t})"))
            }
            PatternShape::Any => {
                Frag::with_neg(format!("isnotempty({t})"), format!("isempty({t})"))
            }
            PatternShape::Exact(s) => {
                let l = string_literal(s);
                Frag::with_neg(
                    format!("{t} {} {l}", op("=~", "==")),
                    format!("{t} {} {l}", op("!~", "!=")),
                )
            }
            PatternShape::Prefix(s) => self.str_op(t, "startswith", cs, s),
            PatternShape::Suffix(s) => self.str_op(t, "endswith", cs, s),
            PatternShape::Contains(s) => self.str_op(t, "contains", cs, s),
            PatternShape::Glob => {
                let re = glob_regex(pattern, case);
                Frag::atom(format!("{t} matches regex {}", string_literal(&re)))
            }
        })
    }

    /// An analysed text query as Kusto `has` (case-insensitive whole terms): a phrase is `has`
    /// on its text, any-word an `or` of `has` per word.
    fn text_pred(&mut self, col: &str, name: &str, q: &TextQuery) -> Result<Frag, Unsupported> {
        self.note(
            "text-analysis",
            format!(
                "`{name}` is analysed text in Elasticsearch ({} analyzer); Kusto's `has` splits terms differently (at every non-alphanumeric character) and matches the phrase's punctuation literally",
                q.analyzer.name()
            ),
        );
        let tokens = q.tokens();
        if tokens.is_empty() {
            // No token: Elasticsearch matches nothing.
            return Ok(Frag::with_neg("false".into(), "true".into()));
        }
        if q.mode == TextMode::AnyWord && tokens.len() > 1 {
            let any = tokens
                .iter()
                .map(|t| format!("{col} has {}", string_literal(t)))
                .collect::<Vec<_>>()
                .join(" or ");
            return Ok(Frag {
                text: any,
                prec: Prec::Or,
                neg: None,
            });
        }
        let l = string_literal(q.text.trim());
        Ok(Frag::with_neg(
            format!("{col} has {l}"),
            format!("{col} !has {l}"),
        ))
    }

    fn str_op(&self, col: &str, op: &str, cs: bool, s: &str) -> Frag {
        let suffix = if cs { "_cs" } else { "" };
        let l = string_literal(s);
        Frag::with_neg(
            format!("{col} {op}{suffix} {l}"),
            format!("{col} !{op}{suffix} {l}"),
        )
    }

    fn eq_pred(&mut self, col: &Col, name: &str, s: &Scalar) -> Result<Frag, Unsupported> {
        match s {
            Scalar::Str(t) => {
                self.match_pred(col, name, &StrPattern::literal(t.clone()), Case::Sensitive)
            }
            Scalar::Int(_) | Scalar::Float(_) => {
                let n = number(s)
                    .ok_or_else(|| unsupported("non-finite-number", "the number is not finite"))?;
                let lhs = match col.ty {
                    ColType::Long | ColType::Real => col.text.clone(),
                    ColType::Bool => return Ok(Frag::with_neg("false".into(), "true".into())),
                    _ => format!("toreal({})", self.as_text(col, name).text),
                };
                // `==` is false and `!=` true on null, so both stay two-valued.
                Ok(Frag::with_neg(
                    format!("{lhs} == {n}"),
                    format!("{lhs} != {n}"),
                ))
            }
            Scalar::Bool(b) => match col.ty {
                ColType::Bool => Ok(Frag::with_neg(
                    format!("{} == {b}", col.text),
                    format!("{} != {b}", col.text),
                )),
                ColType::Long | ColType::Real => Ok(Frag::with_neg("false".into(), "true".into())),
                _ => {
                    let c = self.as_text(col, name);
                    let l = string_literal(&b.to_string());
                    Ok(Frag::with_neg(
                        format!("{} =~ {l}", c.text),
                        format!("{} !~ {l}", c.text),
                    ))
                }
            },
        }
    }

    fn cmp_pred(
        &mut self,
        col: &Col,
        name: &str,
        op: CmpOp,
        value: &Scalar,
        two_valued: bool,
    ) -> Result<Frag, Unsupported> {
        let sym = op.symbol();
        // `null < x` is null, and `not(null)` is null: under a negation the test is guarded.
        let numeric = |_: &mut Self, lhs: String, n: String| -> Frag {
            if two_valued {
                Frag {
                    text: format!("isnotnull({lhs}) and {lhs} {sym} {n}"),
                    prec: Prec::And,
                    neg: None,
                }
            } else {
                Frag::atom(format!("{lhs} {sym} {n}"))
            }
        };
        match (col.ty, value) {
            (ColType::Long | ColType::Real, Scalar::Int(_) | Scalar::Float(_)) => {
                let n = number(value)
                    .ok_or_else(|| unsupported("non-finite-number", "the number is not finite"))?;
                Ok(numeric(self, col.text.clone(), n))
            }
            (ColType::Long | ColType::Real, Scalar::Str(s)) => match number(value) {
                Some(n) if s.trim().parse::<f64>().is_ok() => {
                    Ok(numeric(self, col.text.clone(), n))
                }
                _ => {
                    let c = self.as_text(col, name);
                    Ok(Frag::atom(format!(
                        "strcmp({}, {}) {sym} 0",
                        c.text,
                        string_literal(s)
                    )))
                }
            },
            (ColType::Date, Scalar::Str(s)) => match ruleport_model::event::parse_rfc3339(s) {
                Some(_) => Ok(numeric(
                    self,
                    col.text.clone(),
                    format!("datetime({})", s.trim()),
                )),
                None => Err(unsupported(
                    "bad-datetime",
                    format!("`{s}` is not a date-time"),
                )),
            },
            (ColType::Str | ColType::Dyn, Scalar::Int(_) | Scalar::Float(_)) => {
                let c = self.as_text(col, name);
                let n = number(value)
                    .ok_or_else(|| unsupported("non-finite-number", "the number is not finite"))?;
                Ok(numeric(self, format!("toreal({})", c.text), n))
            }
            (ColType::Str | ColType::Dyn, Scalar::Str(s)) => {
                let c = self.as_text(col, name);
                Ok(Frag::atom(format!(
                    "strcmp({}, {}) {sym} 0",
                    c.text,
                    string_literal(s)
                )))
            }
            _ => Err(unsupported(
                "comparison-type",
                format!("cannot compare `{name}` with {value:?} in Kusto"),
            )),
        }
    }

    fn regex_pred(&mut self, lhs: &str, spec: &RegexSpec) -> Result<Frag, Unsupported> {
        let re = self.re2(spec)?;
        Ok(Frag::atom(format!(
            "{lhs} matches regex {}",
            string_literal(&re)
        )))
    }

    /// An IR regex as RE2 text with flags and anchoring.
    fn re2(&mut self, spec: &RegexSpec) -> Result<String, Unsupported> {
        let t = rust_to_re2(&spec.pattern).map_err(|m| {
            unsupported(
                "regex-dialect",
                format!("regex `{}` cannot be written in RE2: {m}", spec.pattern),
            )
        })?;
        for (code, reason) in t.approximations {
            self.note(&code, reason);
        }
        if regex_matches_empty(spec) == Ok(true) {
            self.note_empty(&format!("the regex `{}` (it matches \"\")", spec.pattern));
        }
        let mut flags = String::new();
        if spec.case.is_insensitive() {
            flags.push('i');
        }
        if spec.multiline {
            flags.push('m');
        }
        if spec.dotall {
            flags.push('s');
        }
        let body = match spec.anchor {
            RegexAnchor::Search => t.pattern,
            RegexAnchor::Full if spec.multiline => format!(r"\A(?:{})\z", t.pattern),
            RegexAnchor::Full => format!("^(?:{})$", t.pattern),
        };
        let text = if flags.is_empty() {
            body
        } else {
            format!("(?{flags}){body}")
        };
        // Flags and anchoring add nesting: a pattern just under the engine's limit can go over it,
        // and the port would fail its own parse-back.
        lazy_re2(&text).map_err(|m| {
            unsupported(
                "regex-unsupported",
                format!("regex `{}` as RE2 is not accepted: {m}", spec.pattern),
            )
        })?;
        Ok(text)
    }

    fn any_element_pred(&mut self, col: &Col, name: &str, op: &Op) -> Result<Frag, Unsupported> {
        let Op::Match { pattern, case } = op else {
            return Err(unsupported(
                "dynamic-array-any",
                format!("`{name}` reads any element of an array; only text matches are approximated there"),
            ));
        };
        let lits: Vec<&str> = pattern
            .pieces()
            .iter()
            .filter_map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let Some(longest) = lits
            .iter()
            .max_by_key(|s| s.len())
            .filter(|s| !s.is_empty())
        else {
            return Err(unsupported(
                "dynamic-array-any",
                format!("`{name}`: nothing to search for"),
            ));
        };
        self.note(
            "dynamic-array-as-text",
            format!(
                "`{name}` reads any array element: approximated by searching the array's JSON text"
            ),
        );
        Ok(self.str_op(&col.text, "contains", !case.is_insensitive(), longest))
    }

    /// Field-less search: `* contains "x"` (every column, dynamic ones as JSON text).
    fn keyword(&mut self, op: &Op) -> Result<Frag, Unsupported> {
        self.note(
            "keyword-column-search",
            "keyword search becomes `where * …`, which tests every column's text (Type and TimeGenerated included; dynamic columns as JSON text) instead of every value",
        );
        match op {
            Op::Match { pattern, case } if !pattern.has_placeholders() => {
                let cs = !case.is_insensitive();
                Ok(match pattern.shape() {
                    PatternShape::Exact(s) if !s.is_empty() => Frag::atom(format!(
                        "* {} {}",
                        if cs { "==" } else { "=~" },
                        string_literal(s)
                    )),
                    PatternShape::Prefix(s) => {
                        Frag::atom(self.str_op("*", "startswith", cs, s).text)
                    }
                    PatternShape::Suffix(s) => Frag::atom(self.str_op("*", "endswith", cs, s).text),
                    PatternShape::Contains(s) => {
                        Frag::atom(self.str_op("*", "contains", cs, s).text)
                    }
                    PatternShape::Glob => Frag::atom(format!(
                        "* matches regex {}",
                        string_literal(&glob_regex(pattern, *case))
                    )),
                    _ => {
                        return Err(unsupported(
                            "keyword-empty",
                            "a keyword that matches the empty string has no Kusto column-wide form",
                        ))
                    }
                })
            }
            Op::Regex(spec) => {
                let re = self.re2(spec)?;
                Ok(Frag::atom(format!(
                    "* matches regex {}",
                    string_literal(&re)
                )))
            }
            _ => Err(unsupported(
                "keyword-op",
                "only text and regex keyword searches have a Kusto form",
            )),
        }
    }

    // ----- correlations (Sigma temporal / temporal_ordered, EQL sample / sequence) -----

    /// Steps as `union` legs tagged `Step = i`, then per join key and time bucket: every step
    /// seen, and for ordered rules each step's first event before the next step's last one.
    fn correlation(
        &mut self,
        by: &[Operand],
        steps: &[SeqStep],
        window: Option<TimeSpan>,
        ordered: bool,
    ) -> Result<String, Unsupported> {
        if steps.is_empty() {
            return Err(unsupported(
                "correlation-without-steps",
                "the correlation has no steps",
            ));
        }
        let n = steps.len();
        let mut legs = Vec::new();
        for (i, st) in steps.iter().enumerate() {
            self.category_note(st.source.filter.category.as_deref());
            let sel = self.rule.selection_for(i).clone();
            let filter = self
                .filter_expr(&sel, &st.source.filter.expr)?
                .unwrap_or_else(|| Frag::atom("true".into()));
            let mut parts: Vec<String> = self.time_guard().into_iter().collect();
            parts.push(filter.wrapped(Prec::And));
            let mut extends = vec![format!("Step = {}", i + 1)];
            for (k, key) in by.iter().chain(&st.by).enumerate() {
                let Operand::Field { name, optional } = key else {
                    return Err(unsupported(
                        "computed-join-key",
                        "join keys computed by functions are not translated to Kusto",
                    ));
                };
                let name = st.source.aliases.get(name).unwrap_or(name).clone();
                let c = self.col(&name)?;
                let c = if c.ty == ColType::Str {
                    c
                } else {
                    self.as_text(&c, &name)
                };
                if !optional {
                    parts.push(self.presence(&name, &c));
                }
                extends.push(format!("JoinKey{} = {}", k + 1, c.text));
            }
            legs.push(format!(
                "({}\n    | where {}\n    | extend {})",
                self.source(&sel)?,
                parts.join(" and "),
                extends.join(", ")
            ));
        }
        let keys = by.len() + steps.iter().map(|s| s.by.len()).max().unwrap_or(0);
        if steps.iter().any(|s| by.len() + s.by.len() != keys) {
            return Err(unsupported(
                "join-key-count",
                "the steps have different numbers of join keys",
            ));
        }
        self.note(
            "correlation-shared-event",
            "one event that matches several steps counts for each of them (the rule needs a distinct event per step)",
        );
        let mut aggs = vec![format!("StepCount = count_distinct(Step)")];
        let mut conds = vec![format!("StepCount == {n}")];
        for (i, st) in steps.iter().enumerate() {
            if st.runs > 1 {
                aggs.push(format!("Step{}Runs = countif(Step == {})", i + 1, i + 1));
                conds.push(format!("Step{}Runs >= {}", i + 1, st.runs));
                self.note(
                    "sequence-runs",
                    "`with runs=N` is checked as N events of the step in the bucket, not N consecutive ones",
                );
            }
        }
        if ordered && n > 1 {
            for i in 1..=n {
                if i < n {
                    aggs.push(format!("FirstStep{i} = minif({TIME_COLUMN}, Step == {i})"));
                }
                if i > 1 {
                    aggs.push(format!("LastStep{i} = maxif({TIME_COLUMN}, Step == {i})"));
                }
            }
            for i in 1..n {
                conds.push(format!("FirstStep{i} < LastStep{}", i + 1));
            }
            if n > 2 {
                self.note(
                    "sequence-order",
                    "only each pair of neighbouring steps is checked for order, not one increasing chain of events",
                );
            }
            self.note(
                "sequence-ties",
                "events with the same TimeGenerated are not ordered (the rule orders them by arrival)",
            );
        }
        let mut by_cols: Vec<String> = (1..=keys).map(|k| format!("JoinKey{k}")).collect();
        if let Some(w) = window {
            self.note(
                "tumbling-window",
                format!("the {w} window becomes fixed `bin(TimeGenerated, {w})` buckets: events that straddle a bucket edge are missed"),
            );
            by_cols.push(format!("bin({TIME_COLUMN}, {})", w.to_unit_string()));
        }
        let mut text = format!(
            "union\n    {}\n| summarize {}",
            legs.join(",\n    "),
            aggs.join(", ")
        );
        if !by_cols.is_empty() {
            text.push_str(&format!(" by {}", by_cols.join(", ")));
        }
        text.push_str(&format!("\n| where {}", conds.join(" and ")));
        Ok(text)
    }

    // ----- new terms -----

    /// First-seen time per term combination over the history window, kept when it falls in the
    /// rule's look-back: `summarize FirstSeen = min(TimeGenerated) by f… | where FirstSeen >= ago(lookback)`.
    fn new_terms(&mut self, n: &NewTerms) -> Result<String, Unsupported> {
        let history = n
            .history_window_start
            .trim()
            .strip_prefix("now-")
            .and_then(TimeSpan::parse)
            .ok_or_else(|| {
                unsupported(
                    "new-terms-history",
                    format!(
                        "history window start `{}` is not `now-<span>`",
                        n.history_window_start
                    ),
                )
            })?;
        let lookback = self
            .rule
            .rule
            .meta
            .from
            .as_deref()
            .and_then(|f| f.trim().strip_prefix("now-"))
            .and_then(TimeSpan::parse)
            .unwrap_or(TimeSpan::from_millis(360_000));
        self.category_note(n.filter.category.as_deref());
        let sel = self.rule.selection.clone();
        let filter = self.filter_expr(&sel, &n.filter.expr)?;
        let mut parts = vec![format!("{TIME_COLUMN} > ago({})", history.to_unit_string())];
        parts.extend(filter.map(|f| f.wrapped(Prec::And)));
        let mut by = Vec::new();
        for (i, f) in n.fields.iter().enumerate() {
            let c = self.col(f)?;
            parts.push(self.presence(f, &c));
            if c.text == column_name(f) {
                by.push(c.text);
            } else {
                by.push(format!("Term{} = {}", i + 1, c.text));
            }
        }
        if by.is_empty() {
            return Err(unsupported(
                "new-terms-fields",
                "the new-terms rule names no fields",
            ));
        }
        self.note(
            "new-terms-grouped",
            "one result per new term combination (covering its events in the look-back), not one per event; array fields are grouped as whole arrays",
        );
        Ok(format!(
            "{}\n| where {}\n| summarize FirstSeen = min({TIME_COLUMN}) by {}\n| where FirstSeen >= ago({})",
            self.source(&sel)?,
            parts.join(" and "),
            by.join(", "),
            lookback.to_unit_string()
        ))
    }

    // ----- aggregations -----

    fn aggregation(&mut self, a: &Aggregation) -> Result<String, Unsupported> {
        if a.sources.is_empty() {
            return Err(unsupported(
                "aggregation-without-source",
                "the aggregation reads no events",
            ));
        }
        let single = a.sources.len() == 1 && a.sources[0].aliases.is_empty();
        // Group fields must be present (the IR drops events without them).
        let mut group_cols = Vec::new();
        if single {
            self.set_tables(&self.rule.selection_for(0).tables);
            for g in &a.group_by {
                group_cols.push((g.clone(), self.col(g)?));
            }
        }
        let mut text = if single {
            let src = &a.sources[0];
            self.category_note(src.filter.category.as_deref());
            let sel = self.rule.selection_for(0).clone();
            let filter = self.filter_expr(&sel, &src.filter.expr)?;
            let mut parts: Vec<String> = self.time_guard().into_iter().collect();
            parts.extend(filter.map(|f| f.wrapped(Prec::And)));
            for (g, c) in &group_cols {
                parts.push(self.presence(g, c));
            }
            let src_text = self.source(&sel)?;
            if parts.is_empty() {
                src_text
            } else {
                format!("{src_text}\n| where {}", parts.join(" and "))
            }
        } else {
            self.multi_source(&a.sources, &a.group_by)?
        };
        // summarize
        let mut aggs = Vec::new();
        let mut conds = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for AggCondition { metric, op, value } in &a.conditions {
            let (key, expr) = self.metric(metric, single)?;
            let n = names.len();
            let name = names
                .entry(key)
                .or_insert_with(|| {
                    let base = match metric {
                        Metric::Count => "EventCount".to_string(),
                        Metric::DistinctCount(_) => format!("DistinctCount{}", n + 1),
                        Metric::Sum(_) => format!("Sum{}", n + 1),
                        Metric::Avg(_) => format!("Avg{}", n + 1),
                        Metric::Percentile(..) => format!("Percentile{}", n + 1),
                    };
                    aggs.push(format!("{base} = {expr}"));
                    base
                })
                .clone();
            conds.push(format!("{name} {} {value}", op.symbol()));
        }
        if aggs.is_empty() {
            aggs.push("EventCount = count()".into());
        }
        let mut by: Vec<String> = Vec::new();
        for (i, g) in a.group_by.iter().enumerate() {
            if single {
                let c = &group_cols[i].1;
                if c.text == column_name(g) {
                    by.push(c.text.clone());
                } else {
                    by.push(format!(
                        "{} = {}",
                        column_name(&format!("Group{}", i + 1)),
                        c.text
                    ));
                }
            } else {
                by.push(column_name(g));
            }
        }
        match (a.window, a.window_kind) {
            (Some(w), WindowKind::Sliding) => {
                self.note(
                    "tumbling-window",
                    format!("the {w} sliding window becomes fixed `bin(TimeGenerated, {w})` buckets: bursts that straddle a bucket edge are missed"),
                );
                by.push(format!("bin({TIME_COLUMN}, {})", w.to_unit_string()));
            }
            (Some(w), WindowKind::Tumbling) => {
                by.push(format!("bin({TIME_COLUMN}, {})", w.to_unit_string()))
            }
            _ => {}
        }
        text.push_str(&format!("\n| summarize {}", aggs.join(", ")));
        if !by.is_empty() {
            text.push_str(&format!(" by {}", by.join(", ")));
        }
        if !conds.is_empty() {
            text.push_str(&format!("\n| where {}", conds.join(" and ")));
        }
        Ok(text)
    }

    /// A presence guard for a group-by column (the IR drops events without the field).
    fn presence(&mut self, name: &str, c: &Col) -> String {
        match c.ty {
            ColType::Str => {
                self.note_empty(&format!("grouping by `{name}`"));
                format!("isnotempty({})", c.text)
            }
            _ => format!("isnotnull({})", c.text),
        }
    }

    fn metric(&mut self, m: &Metric, single: bool) -> Result<(String, String), Unsupported> {
        let value = |this: &mut Self, f: &str, numeric: bool| -> Result<String, Unsupported> {
            if !single {
                return Ok(column_name(f));
            }
            let c = this.col(f)?;
            Ok(match (numeric, c.ty) {
                (true, ColType::Long | ColType::Real) => c.text,
                (true, _) => format!("toreal({})", this.as_text(&c, f).text),
                (false, ColType::Str) => c.text,
                (false, _) => this.as_text(&c, f).text,
            })
        };
        Ok(match m {
            Metric::Count => ("count".into(), "count()".into()),
            Metric::DistinctCount(f) => {
                let v = value(self, f, false)?;
                self.note_empty(&format!("counting distinct `{f}` values"));
                (format!("dc:{v}"), format!("count_distinct({v})"))
            }
            Metric::Sum(f) => {
                let v = value(self, f, true)?;
                (format!("sum:{v}"), format!("sum({v})"))
            }
            Metric::Avg(f) => {
                let v = value(self, f, true)?;
                (format!("avg:{v}"), format!("avg({v})"))
            }
            Metric::Percentile(f, p) => {
                let v = value(self, f, true)?;
                self.note(
                    "percentile-estimate",
                    "Kusto's percentile() is a t-digest estimate, not the exact nearest-rank value",
                );
                (format!("p{p}:{v}"), format!("percentile({v}, {p})"))
            }
        })
    }

    /// `union (T1 | where f1 | extend alias = field), (T2 | where f2 and not(f1) …)`.
    fn multi_source(
        &mut self,
        sources: &[EventSource],
        group_by: &[String],
    ) -> Result<String, Unsupported> {
        let mut legs = Vec::new();
        let mut earlier: Vec<usize> = Vec::new();
        for (i, src) in sources.iter().enumerate() {
            self.category_note(src.filter.category.as_deref());
            let sel = self.rule.selection_for(i).clone();
            let own = self
                .filter_expr(&sel, &src.filter.expr)?
                .unwrap_or_else(|| Frag::atom("true".into()));
            // An event counts once, for the first source it matches (as the IR does).
            let mut parts: Vec<String> = self.time_guard().into_iter().collect();
            parts.push(own.wrapped(Prec::And));
            for &j in &earlier {
                let prev_sel = self.rule.selection_for(j).clone();
                if prev_sel.tables.iter().any(|t| sel.tables.contains(t)) {
                    let prev = self
                        .filter_frag(&prev_sel, &sources[j].filter.expr, true)?
                        .unwrap_or_else(|| Frag::atom("true".into()));
                    parts.push(match prev.neg {
                        Some(n) => n,
                        None => format!("not({})", prev.text),
                    });
                }
            }
            self.set_tables(&sel.tables);
            let mut extends = Vec::new();
            for g in group_by {
                let field = src.aliases.get(g).cloned().unwrap_or_else(|| g.clone());
                let c = self.col(&field)?;
                parts.push(self.presence(&field, &c));
                if c.text != column_name(g) {
                    extends.push(format!("{} = {}", column_name(g), c.text));
                }
            }
            let mut leg = format!(
                "{}\n    | where {}",
                self.source(&sel)?,
                parts.join(" and ")
            );
            if !extends.is_empty() {
                leg.push_str(&format!("\n    | extend {}", extends.join(", ")));
            }
            legs.push(format!("({leg})"));
            earlier.push(i);
        }
        Ok(format!("union\n    {}", legs.join(",\n    ")))
    }
}

/// Join fragments with `and`/`or`, parenthesising mixed groups and splitting long lists into a
/// balanced tree.
/// `a and a` is `a`: different IR tests can emit the same Kusto text. Short lists (most of
/// them) compare in place; long value lists hash borrowed texts.
fn dedup_frags(frags: Vec<Frag>) -> Vec<Frag> {
    let keep: Vec<bool> = if frags.len() <= 8 {
        (0..frags.len())
            .map(|i| !frags[..i].iter().any(|g| g.text == frags[i].text))
            .collect()
    } else {
        let mut seen = std::collections::HashSet::with_capacity(frags.len());
        frags.iter().map(|f| seen.insert(f.text.as_str())).collect()
    };
    if keep.iter().all(|k| *k) {
        return frags;
    }
    frags
        .into_iter()
        .zip(keep)
        .filter_map(|(f, k)| k.then_some(f))
        .collect()
}

fn join(frags: Vec<Frag>, prec: Prec) -> Frag {
    let mut frags = dedup_frags(frags);
    let word = if prec == Prec::And { " and " } else { " or " };
    if frags.len() == 1 {
        return frags.remove(0);
    }
    if frags.is_empty() {
        let t = if prec == Prec::And { "true" } else { "false" };
        return Frag::atom(t.into());
    }
    if frags.len() > MAX_FLAT {
        let chunk = frags.len().div_ceil(MAX_FLAT).max(2);
        let mut groups = Vec::new();
        let mut rest = frags;
        while !rest.is_empty() {
            let tail = rest.split_off(chunk.min(rest.len()));
            groups.push(join(rest, prec));
            rest = tail;
        }
        let parts: Vec<String> = groups.iter().map(|g| format!("({})", g.text)).collect();
        return Frag {
            text: parts.join(word),
            prec,
            neg: None,
        };
    }
    // Mixed groups are parenthesised even where precedence would not need it.
    let parts: Vec<String> = frags
        .iter()
        .map(|f| {
            if f.prec == prec {
                f.text.clone()
            } else {
                f.wrapped(Prec::Atom)
            }
        })
        .collect();
    Frag {
        text: parts.join(word),
        prec,
        neg: None,
    }
}
