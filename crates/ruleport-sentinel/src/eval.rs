//! An evaluator for the parsed subset, with Kusto's documented semantics, over the Sentinel row
//! view: one JSON object per row, `Type` = table name, `dynamic` columns as JSON.
//!
//! - Strings are never null: a missing column used as a string reads as `""`.
//! - Non-string nulls: `null == x` is false, `null != x` is true, `null < x` is null, `not(null)`
//!   is null, and `where` keeps only rows whose predicate is `true`.
//! - `has` matches whole terms (maximal alphanumeric runs); a needle edge made of punctuation
//!   needs no term boundary (targets.md §3.1).
//! - Case-insensitive operators fold with full Unicode lower-casing (the same fold as the
//!   reference evaluator; Kusto's exact folding of non-ASCII text is not documented).
//! - `matches regex` is RE2, run by the Rust `regex` crate with RE2's ASCII `\d \w \s \b`.

use crate::ast::{BinOp, Expr, Literal, Named, Query, Source, Stage};
use crate::regex_dialect::lazy_re2;
use ruleport_model::event::parse_rfc3339;
use ruleport_model::matching::fold;
use ruleport_model::matching::LazyRegex;
use ruleport_model::RunError;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// A Kusto scalar value.
#[derive(Debug, Clone, PartialEq)]
pub enum KValue {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    /// Milliseconds since the Unix epoch.
    DateTime(i64),
    /// Milliseconds.
    Timespan(i64),
    Dynamic(Value),
}

impl KValue {
    /// A row cell as Kusto would type it.
    pub fn from_json(v: &Value) -> KValue {
        match v {
            Value::Null => KValue::Null,
            Value::Bool(b) => KValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => KValue::Long(i),
                None => n.as_f64().map(KValue::Real).unwrap_or(KValue::Null),
            },
            Value::String(s) => KValue::Str(s.clone()),
            other => KValue::Dynamic(other.clone()),
        }
    }

    /// A dynamic property value.
    fn from_dynamic(v: &Value) -> KValue {
        match v {
            Value::Null => KValue::Null,
            other => KValue::Dynamic(other.clone()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            KValue::Null => Value::Null,
            KValue::Bool(b) => Value::Bool(*b),
            KValue::Long(i) => Value::from(*i),
            KValue::Real(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            KValue::Str(s) => Value::String(s.clone()),
            KValue::DateTime(_) | KValue::Timespan(_) => Value::String(self.text().into_owned()),
            KValue::Dynamic(v) => v.clone(),
        }
    }

    /// `tostring()`: null is `""`, dynamic strings unwrap, other dynamic values are JSON text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            KValue::Null => Cow::Borrowed(""),
            KValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            KValue::Long(i) => Cow::Owned(i.to_string()),
            KValue::Real(f) => Cow::Owned(real_text(*f)),
            KValue::Str(s) => Cow::Borrowed(s),
            KValue::DateTime(ms) => Cow::Owned(datetime_text(*ms)),
            KValue::Timespan(ms) => Cow::Owned(timespan_text(*ms)),
            KValue::Dynamic(Value::String(s)) => Cow::Borrowed(s),
            KValue::Dynamic(Value::Null) => Cow::Borrowed(""),
            KValue::Dynamic(v) => Cow::Owned(v.to_string()),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, KValue::Null | KValue::Dynamic(Value::Null))
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            KValue::Long(i) => Some(*i as f64),
            KValue::Real(f) => Some(*f),
            KValue::Str(s) => s.trim().parse().ok(),
            KValue::Dynamic(Value::Number(n)) => n.as_f64(),
            KValue::Dynamic(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn as_time(&self) -> Option<i64> {
        match self {
            KValue::DateTime(t) => Some(*t),
            KValue::Str(s) | KValue::Dynamic(Value::String(s)) => parse_rfc3339(s),
            KValue::Long(i) => Some(*i),
            _ => None,
        }
    }

    /// A grouping key: equal values give equal keys.
    fn key(&self) -> String {
        match self {
            KValue::Null => "n".into(),
            KValue::Long(i) => format!("#{}", *i as f64),
            KValue::Real(f) => format!("#{f}"),
            other => format!("s{}", other.text()),
        }
    }
}

fn real_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn datetime_text(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, f) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}0000Z")
}

fn timespan_text(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (d, h, m, s, f) = (
        ms / 86_400_000,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    );
    if d > 0 {
        format!("{sign}{d}.{h:02}:{m:02}:{s:02}.{f:03}0000")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}.{f:03}0000")
    }
}

/// A row cell: `TimeGenerated` is a datetime in every Log Analytics table (the row view holds
/// it as RFC 3339 text or epoch milliseconds).
fn cell(name: &str, v: &Value) -> KValue {
    if name == crate::emit::TIME_COLUMN {
        if let Some(t) = ruleport_model::event::parse_time(v) {
            return KValue::DateTime(t);
        }
    }
    KValue::from_json(v)
}

/// One row: an input event (by reference) plus computed columns, and the events it covers.
#[derive(Debug, Clone)]
struct Row<'a> {
    base: Option<&'a Map<String, Value>>,
    extra: BTreeMap<String, KValue>,
    idx: Vec<usize>,
}

impl Row<'_> {
    fn get(&self, name: &str) -> KValue {
        if let Some(v) = self.extra.get(name) {
            return v.clone();
        }
        self.base
            .and_then(|m| m.get(name))
            .map(|v| cell(name, v))
            .unwrap_or(KValue::Null)
    }

    fn columns(&self) -> Vec<KValue> {
        let mut out: Vec<KValue> = self
            .base
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !self.extra.contains_key(*k))
                    .map(|(k, v)| cell(k, v))
                    .collect()
            })
            .unwrap_or_default();
        out.extend(self.extra.values().cloned());
        out
    }
}

/// A parsed query with its regexes checked (built on first use), runnable over rows.
#[derive(Debug, Clone)]
pub struct CompiledKusto {
    query: Query,
    regexes: HashMap<String, LazyRegex>,
}

impl CompiledKusto {
    /// Check every `matches regex` pattern (they must be string literals).
    pub fn new(query: Query) -> Result<Self, String> {
        let mut regexes = HashMap::new();
        collect_regexes_query(&query, &mut regexes)?;
        Ok(CompiledKusto { query, regexes })
    }

    /// The parsed query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Run over rows; each output row is one alert: the indexes of the rows it covers.
    /// `ago(x)` is read as "x before the latest `TimeGenerated` in the rows": the fixtures are
    /// replayed as if the query ran right after their last event.
    pub fn run_rows(&self, rows: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        let now = rows
            .iter()
            .filter_map(|r| {
                r.get(crate::emit::TIME_COLUMN)
                    .and_then(ruleport_model::event::parse_time)
            })
            .max()
            .unwrap_or(0);
        self.run_rows_at(rows, now)
    }

    /// Run with an explicit `now()` in milliseconds since the epoch (for `ago`).
    pub fn run_rows_at(&self, rows: &[Value], now: i64) -> Result<Vec<Vec<usize>>, RunError> {
        let query = if query_uses_ago(&self.query) {
            Cow::Owned(resolve_ago_query(&self.query, now))
        } else {
            Cow::Borrowed(&self.query)
        };
        let out = self.run_query(&query, rows)?;
        Ok(out
            .into_iter()
            .map(|r| {
                let mut idx = r.idx;
                idx.sort_unstable();
                idx.dedup();
                idx
            })
            .collect())
    }

    /// Whether a single row passes a plain filter query.
    pub fn row_matches(&self, row: &Value) -> Result<bool, RunError> {
        Ok(!self.run_rows(std::slice::from_ref(row))?.is_empty())
    }

    fn run_query<'a>(&self, q: &Query, events: &'a [Value]) -> Result<Vec<Row<'a>>, RunError> {
        let mut rows = self.source_rows(&q.source, events)?;
        for stage in &q.stages {
            rows = self.stage(stage, rows)?;
        }
        Ok(rows)
    }

    fn source_rows<'a>(&self, src: &Source, events: &'a [Value]) -> Result<Vec<Row<'a>>, RunError> {
        match src {
            Source::Table(t) => Ok(events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let m = e.as_object()?;
                    (m.get("Type").and_then(Value::as_str) == Some(t.as_str())).then(|| Row {
                        base: Some(m),
                        extra: BTreeMap::new(),
                        idx: vec![i],
                    })
                })
                .collect()),
            Source::Union(legs) => {
                let mut out = Vec::new();
                for leg in legs {
                    out.extend(self.run_query(leg, events)?);
                }
                Ok(out)
            }
        }
    }

    fn stage<'a>(&self, stage: &Stage, rows: Vec<Row<'a>>) -> Result<Vec<Row<'a>>, RunError> {
        match stage {
            Stage::Where(e) => {
                let mut out = Vec::new();
                for r in rows {
                    match self.eval(e, &r)? {
                        KValue::Bool(true) => out.push(r),
                        KValue::Bool(false) | KValue::Null => {}
                        other => {
                            return Err(RunError(format!(
                                "`where` needs a bool predicate, got {other:?} (Kusto KS141)"
                            )))
                        }
                    }
                }
                Ok(out)
            }
            Stage::Extend(items) => rows
                .into_iter()
                .map(|mut r| {
                    for it in items {
                        let v = self.eval(&it.expr, &r)?;
                        r.extra.insert(it.name.clone(), v);
                    }
                    Ok(r)
                })
                .collect(),
            Stage::Project(items) => rows
                .into_iter()
                .map(|r| {
                    let mut extra = BTreeMap::new();
                    for it in items {
                        extra.insert(it.name.clone(), self.eval(&it.expr, &r)?);
                    }
                    Ok(Row {
                        base: None,
                        extra,
                        idx: r.idx,
                    })
                })
                .collect(),
            Stage::Summarize { aggs, by } => self.summarize(aggs, by, rows),
        }
    }

    fn summarize<'a>(
        &self,
        aggs: &[Named],
        by: &[Named],
        rows: Vec<Row<'a>>,
    ) -> Result<Vec<Row<'a>>, RunError> {
        let mut groups: BTreeMap<Vec<String>, (Vec<KValue>, Vec<Row<'a>>)> = BTreeMap::new();
        for r in rows {
            let vals = by
                .iter()
                .map(|b| self.eval(&b.expr, &r))
                .collect::<Result<Vec<_>, _>>()?;
            let key = vals.iter().map(KValue::key).collect();
            groups
                .entry(key)
                .or_insert_with(|| (vals, Vec::new()))
                .1
                .push(r);
        }
        let mut out = Vec::new();
        for (_, (vals, members)) in groups {
            let mut extra = BTreeMap::new();
            for (b, v) in by.iter().zip(vals) {
                extra.insert(b.name.clone(), v);
            }
            for a in aggs {
                extra.insert(a.name.clone(), self.aggregate(&a.expr, &members)?);
            }
            let idx = members.iter().flat_map(|m| m.idx.iter().copied()).collect();
            out.push(Row {
                base: None,
                extra,
                idx,
            });
        }
        Ok(out)
    }

    fn aggregate(&self, e: &Expr, members: &[Row<'_>]) -> Result<KValue, RunError> {
        let Expr::Call { name, args } = e else {
            return Err(RunError("expected an aggregate".into()));
        };
        let values = |i: usize| -> Result<Vec<KValue>, RunError> {
            let Some(arg) = args.get(i) else {
                return Ok(Vec::new());
            };
            members.iter().map(|m| self.eval(arg, m)).collect()
        };
        Ok(match name.as_str() {
            "count" => KValue::Long(members.len() as i64),
            "dcount" | "count_distinct" => {
                // Nulls and empty strings are not values (Kusto strings have no null).
                let set: BTreeSet<String> = values(0)?
                    .iter()
                    .filter(|v| !v.is_null() && !v.text().is_empty())
                    .map(KValue::key)
                    .collect();
                KValue::Long(set.len() as i64)
            }
            "countif" => {
                let Some(pred) = args.first() else {
                    return Err(RunError("`countif` needs a predicate".into()));
                };
                let mut n = 0i64;
                for m in members {
                    if self.eval_bool(pred, m)? == Some(true) {
                        n += 1;
                    }
                }
                KValue::Long(n)
            }
            "min" | "max" | "minif" | "maxif" => {
                // The extreme non-null value (among rows where the predicate holds).
                let Some(value) = args.first() else {
                    return Err(RunError(format!("`{name}` needs an argument")));
                };
                let pred = args.get(1);
                let want_min = name.starts_with("min");
                let mut best: Option<KValue> = None;
                for m in members {
                    if let Some(pred) = pred {
                        if self.eval_bool(pred, m)? != Some(true) {
                            continue;
                        }
                    }
                    let v = self.eval(value, m)?;
                    if v.is_null() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some(b) => match order(&v, b)? {
                            Some(o) => (want_min && o.is_lt()) || (!want_min && o.is_gt()),
                            None => false,
                        },
                    };
                    if better {
                        best = Some(v);
                    }
                }
                best.unwrap_or(KValue::Null)
            }
            "sum" | "avg" | "percentile" => {
                let mut nums: Vec<f64> = values(0)?.iter().filter_map(KValue::as_number).collect();
                if nums.is_empty() && name == "sum" {
                    return Ok(KValue::Real(0.0));
                }
                if nums.is_empty() {
                    return Ok(KValue::Null);
                }
                match name.as_str() {
                    "sum" => KValue::Real(nums.iter().sum()),
                    "avg" => KValue::Real(nums.iter().sum::<f64>() / nums.len() as f64),
                    _ => {
                        let p = match args.get(1) {
                            Some(Expr::Lit(Literal::Long(p))) => *p as f64,
                            Some(Expr::Lit(Literal::Real(p))) => *p,
                            _ => {
                                return Err(RunError(
                                    "percentile needs a literal percentage".into(),
                                ))
                            }
                        };
                        nums.sort_by(|a, b| a.total_cmp(b));
                        let rank = ((p / 100.0) * (nums.len() - 1) as f64).round() as usize;
                        nums.get(rank)
                            .copied()
                            .map(KValue::Real)
                            .unwrap_or(KValue::Null)
                    }
                }
            }
            other => return Err(RunError(format!("`{other}` is not an aggregate"))),
        })
    }

    fn eval(&self, e: &Expr, row: &Row<'_>) -> Result<KValue, RunError> {
        Ok(match e {
            Expr::Lit(l) => match l {
                Literal::Str(s) => KValue::Str(s.clone()),
                Literal::Long(i) => KValue::Long(*i),
                Literal::Real(f) => KValue::Real(*f),
                Literal::Bool(b) => KValue::Bool(*b),
                Literal::DateTime(t) => KValue::DateTime(*t),
                Literal::Timespan(t) => KValue::Timespan(*t),
                Literal::Null => KValue::Null,
            },
            Expr::Column(c) => row.get(c),
            Expr::AllColumns => return Err(RunError("`*` outside a string operator".into())),
            Expr::Member(inner, name) => match self.eval(inner, row)? {
                KValue::Dynamic(Value::Object(m)) => m
                    .get(name)
                    .map(KValue::from_dynamic)
                    .unwrap_or(KValue::Null),
                _ => KValue::Null,
            },
            Expr::Index(inner, i) => match self.eval(inner, row)? {
                KValue::Dynamic(Value::Array(a)) => {
                    let n = a.len() as i64;
                    let at = if *i < 0 { n + i } else { *i };
                    if (0..n).contains(&at) {
                        KValue::from_dynamic(&a[at as usize])
                    } else {
                        KValue::Null
                    }
                }
                _ => KValue::Null,
            },
            Expr::And(items) => {
                let mut saw_null = false;
                for it in items {
                    match self.eval_bool(it, row)? {
                        Some(false) => return Ok(KValue::Bool(false)),
                        None => saw_null = true,
                        Some(true) => {}
                    }
                }
                if saw_null {
                    KValue::Null
                } else {
                    KValue::Bool(true)
                }
            }
            Expr::Or(items) => {
                let mut saw_null = false;
                for it in items {
                    match self.eval_bool(it, row)? {
                        Some(true) => return Ok(KValue::Bool(true)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                if saw_null {
                    KValue::Null
                } else {
                    KValue::Bool(false)
                }
            }
            Expr::In {
                expr,
                list,
                case_insensitive,
                negated,
            } => {
                let v = self.eval(expr, row)?;
                let mut hit = false;
                for item in list {
                    let w = self.eval(item, row)?;
                    let eq = if *case_insensitive {
                        fold(&v.text()) == fold(&w.text())
                    } else {
                        equals(&v, &w) == Some(true)
                    };
                    if eq {
                        hit = true;
                        break;
                    }
                }
                KValue::Bool(hit != *negated)
            }
            Expr::Neg(inner) => match self.eval(inner, row)? {
                KValue::Long(i) => KValue::Long(i.wrapping_neg()),
                KValue::Real(f) => KValue::Real(-f),
                KValue::Timespan(t) => KValue::Timespan(-t),
                KValue::Null => KValue::Null,
                other => return Err(RunError(format!("cannot negate {other:?}"))),
            },
            Expr::Binary { op, left, right } => self.binary(*op, left, right, row)?,
            Expr::Call { name, args } => self.call(name, args, row)?,
        })
    }

    fn eval_bool(&self, e: &Expr, row: &Row<'_>) -> Result<Option<bool>, RunError> {
        match self.eval(e, row)? {
            KValue::Bool(b) => Ok(Some(b)),
            KValue::Null => Ok(None),
            other => Err(RunError(format!("expected a bool, got {other:?}"))),
        }
    }

    fn binary(
        &self,
        op: BinOp,
        left: &Expr,
        right: &Expr,
        row: &Row<'_>,
    ) -> Result<KValue, RunError> {
        if op.is_string_op() {
            if let (BinOp::MatchesRegex, Expr::Lit(Literal::Str(p))) = (op, right) {
                if let Some(re) = self.regexes.get(p) {
                    re.get()
                        .map_err(|m| RunError(format!("invalid RE2 regex `{p}`: {m}")))?;
                }
            }
            let needle = self.eval(right, row)?;
            let needle = needle.text();
            if matches!(left, Expr::AllColumns) {
                if is_negated(op) {
                    return Err(RunError("`*` with a negated operator".into()));
                }
                let hit = row
                    .columns()
                    .iter()
                    .any(|c| !c.is_null() && self.string_op(op, &c.text(), &needle, right));
                return Ok(KValue::Bool(hit));
            }
            let hay = self.eval(left, row)?;
            return Ok(KValue::Bool(self.string_op(
                op,
                &hay.text(),
                &needle,
                right,
            )));
        }
        let a = self.eval(left, row)?;
        let b = self.eval(right, row)?;
        Ok(match op {
            BinOp::Eq => KValue::Bool(equals(&a, &b) == Some(true)),
            BinOp::Ne => KValue::Bool(equals(&a, &b) != Some(true)),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match order(&a, &b)? {
                None => KValue::Null,
                Some(o) => KValue::Bool(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Le => o.is_le(),
                    BinOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }),
            },
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => arith(op, &a, &b)?,
            _ => KValue::Null,
        })
    }

    fn string_op(&self, op: BinOp, hay: &str, needle: &str, right: &Expr) -> bool {
        use BinOp::*;
        let ci = |f: &dyn Fn(&str, &str) -> bool| f(&fold(hay), &fold(needle));
        match op {
            EqCi => ci(&|a, b| a == b),
            NeCi => !ci(&|a, b| a == b),
            Has => ci(&has_term),
            HasCs => has_term(hay, needle),
            NotHas => !ci(&has_term),
            NotHasCs => !has_term(hay, needle),
            Contains => ci(&|a, b| a.contains(b)),
            ContainsCs => hay.contains(needle),
            NotContains => !ci(&|a, b| a.contains(b)),
            NotContainsCs => !hay.contains(needle),
            StartsWith => ci(&|a, b| a.starts_with(b)),
            StartsWithCs => hay.starts_with(needle),
            NotStartsWith => !ci(&|a, b| a.starts_with(b)),
            NotStartsWithCs => !hay.starts_with(needle),
            EndsWith => ci(&|a, b| a.ends_with(b)),
            EndsWithCs => hay.ends_with(needle),
            NotEndsWith => !ci(&|a, b| a.ends_with(b)),
            NotEndsWithCs => !hay.ends_with(needle),
            MatchesRegex => match right {
                Expr::Lit(Literal::Str(p)) => {
                    // Built (and a build error reported) by `binary` before this runs.
                    self.regexes
                        .get(p)
                        .is_some_and(|re| re.get().is_ok_and(|re| re.is_match(hay)))
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn call(&self, name: &str, args: &[Expr], row: &Row<'_>) -> Result<KValue, RunError> {
        let arg = |i: usize| -> Result<KValue, RunError> {
            match args.get(i) {
                Some(a) => self.eval(a, row),
                None => Err(RunError(format!("`{name}` is missing argument {}", i + 1))),
            }
        };
        Ok(match name {
            "not" => match self.eval_bool(&args[0], row)? {
                Some(b) => KValue::Bool(!b),
                None => KValue::Null,
            },
            "isempty" => KValue::Bool(is_empty(&arg(0)?)),
            "isnotempty" => KValue::Bool(!is_empty(&arg(0)?)),
            "isnull" => KValue::Bool(arg(0)?.is_null()),
            "isnotnull" => KValue::Bool(!arg(0)?.is_null()),
            "tostring" => KValue::Str(arg(0)?.text().into_owned()),
            // Text that is not JSON stays a string value, as in Kusto.
            "parse_json" | "todynamic" => match arg(0)? {
                KValue::Str(t) => match serde_json::from_str::<Value>(&t) {
                    Ok(v) => KValue::Dynamic(v),
                    Err(_) => KValue::Dynamic(Value::String(t)),
                },
                other => other,
            },
            "tolower" => KValue::Str(arg(0)?.text().to_lowercase()),
            "toupper" => KValue::Str(arg(0)?.text().to_uppercase()),
            "toreal" | "todouble" => arg(0)?
                .as_number()
                .map(KValue::Real)
                .unwrap_or(KValue::Null),
            "tolong" | "toint" => {
                let v = arg(0)?;
                match v {
                    KValue::Long(i) => KValue::Long(i),
                    KValue::Bool(b) => KValue::Long(i64::from(b)),
                    other => match other.as_number() {
                        Some(f) if f.is_finite() => KValue::Long(f.trunc() as i64),
                        _ => KValue::Null,
                    },
                }
            }
            "strlen" => KValue::Long(arg(0)?.text().chars().count() as i64),
            "strcmp" => {
                let (a, b) = (arg(0)?, arg(1)?);
                KValue::Long(match a.text().as_ref().cmp(b.text().as_ref()) {
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                })
            }
            "ipv4_is_in_range" => ip_in_range(&arg(0)?.text(), &arg(1)?.text(), false),
            "ipv6_is_in_range" => ip_in_range(&arg(0)?.text(), &arg(1)?.text(), true),
            "bin" => {
                let (v, size) = (arg(0)?, arg(1)?);
                match (&v, &size) {
                    (KValue::Null, _) => KValue::Null,
                    (_, KValue::Timespan(s)) if *s > 0 => match v.as_time() {
                        Some(t) => KValue::DateTime(t.div_euclid(*s) * s),
                        None => KValue::Null,
                    },
                    _ => match (v.as_number(), size.as_number()) {
                        (Some(x), Some(s)) if s > 0.0 => KValue::Real((x / s).floor() * s),
                        _ => KValue::Null,
                    },
                }
            }
            "coalesce" => {
                for i in 0..args.len() {
                    let v = arg(i)?;
                    if !is_empty(&v) {
                        return Ok(v);
                    }
                }
                KValue::Null
            }
            "ago" => return Err(RunError("`ago()` needs a timespan literal".into())),
            other => return Err(RunError(format!("`{other}` is not a scalar function"))),
        })
    }
}

fn is_negated(op: BinOp) -> bool {
    use BinOp::*;
    matches!(
        op,
        NeCi | NotHas
            | NotHasCs
            | NotContains
            | NotContainsCs
            | NotStartsWith
            | NotStartsWithCs
            | NotEndsWith
            | NotEndsWithCs
    )
}

fn is_empty(v: &KValue) -> bool {
    match v {
        KValue::Null => true,
        KValue::Str(s) => s.is_empty(),
        KValue::Dynamic(Value::Null) => true,
        KValue::Dynamic(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// `==`: `None` when a side is a non-string null (so `==` is false and `!=` true).
fn equals(a: &KValue, b: &KValue) -> Option<bool> {
    use KValue::*;
    match (a, b) {
        // Strings have no null: a missing string column is "".
        (Null, Str(s)) | (Str(s), Null) => Some(s.is_empty()),
        (Null, _) | (_, Null) => None,
        (Str(x), Str(y)) => Some(x == y),
        (Bool(x), Bool(y)) => Some(x == y),
        (DateTime(x), DateTime(y)) | (Timespan(x), Timespan(y)) => Some(x == y),
        (DateTime(x), other) | (other, DateTime(x)) => other.as_time().map(|t| t == *x),
        (Dynamic(x), Dynamic(y)) => Some(x == y),
        (Dynamic(_), Str(s)) | (Str(s), Dynamic(_)) => {
            let d = if let Dynamic(_) = a { a } else { b };
            Some(d.text() == s.as_str())
        }
        _ => match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => Some(x == y),
            _ => Some(false),
        },
    }
}

fn order(a: &KValue, b: &KValue) -> Result<Option<std::cmp::Ordering>, RunError> {
    use KValue::*;
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    match (a, b) {
        (DateTime(x), _) | (_, DateTime(x)) => {
            let other = if matches!(a, DateTime(_)) { b } else { a };
            let Some(t) = other.as_time() else {
                return Ok(None);
            };
            let (l, r) = if matches!(a, DateTime(_)) {
                (*x, t)
            } else {
                (t, *x)
            };
            Ok(Some(l.cmp(&r)))
        }
        (Timespan(x), Timespan(y)) => Ok(Some(x.cmp(y))),
        (Str(_), Str(_)) => Err(RunError(
            "`<`/`>` are not defined for strings (Kusto KS106)".into(),
        )),
        _ => Ok(match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        }),
    }
}

fn arith(op: BinOp, a: &KValue, b: &KValue) -> Result<KValue, RunError> {
    use KValue::*;
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    Ok(match (op, a, b) {
        (BinOp::Add, DateTime(t), Timespan(s)) | (BinOp::Add, Timespan(s), DateTime(t)) => {
            DateTime(t + s)
        }
        (BinOp::Sub, DateTime(t), Timespan(s)) => DateTime(t - s),
        (BinOp::Sub, DateTime(t), DateTime(u)) => Timespan(t - u),
        (_, Long(x), Long(y)) => match op {
            BinOp::Add => x.checked_add(*y).map(Long).unwrap_or(Null),
            BinOp::Sub => x.checked_sub(*y).map(Long).unwrap_or(Null),
            BinOp::Mul => x.checked_mul(*y).map(Long).unwrap_or(Null),
            _ => x.checked_div(*y).map(Long).unwrap_or(Null),
        },
        _ => match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                _ => x / y,
            }),
            _ => return Err(RunError(format!("arithmetic on {a:?} and {b:?}"))),
        },
    })
}

fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Kusto `has`: `needle` occurs in `hay` and, at each edge where the needle character is a term
/// character, the neighbouring character of `hay` is not (so the match covers whole terms).
pub fn has_term(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (Some(first), Some(last)) = (needle.chars().next(), needle.chars().next_back()) else {
        return true;
    };
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = !is_term_char(first)
            || hay[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !is_term_char(c));
        let after_ok =
            !is_term_char(last) || hay[end..].chars().next().is_none_or(|c| !is_term_char(c));
        if before_ok && after_ok {
            return true;
        }
        from = start + first.len_utf8();
    }
    false
}

fn parse_ip_v6(s: &str) -> Option<std::net::Ipv6Addr> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(a) => Some(a.to_ipv6_mapped()),
    }
}

/// `ipv4_is_in_range` / `ipv6_is_in_range`: null when either side does not parse.
fn ip_in_range(ip: &str, range: &str, v6: bool) -> KValue {
    let range = range.trim();
    if !v6 {
        let Ok(addr) = ip.trim().parse::<std::net::Ipv4Addr>() else {
            return KValue::Null;
        };
        let net = match range.parse::<ipnet::Ipv4Net>() {
            Ok(n) => n,
            Err(_) => match range.parse::<std::net::Ipv4Addr>() {
                Ok(a) => ipnet::Ipv4Net::from(a),
                Err(_) => return KValue::Null,
            },
        };
        return KValue::Bool(net.contains(&addr));
    }
    let Some(addr) = parse_ip_v6(ip) else {
        return KValue::Null;
    };
    let net = match range.parse::<ipnet::IpNet>() {
        Ok(ipnet::IpNet::V6(n)) => n,
        Ok(ipnet::IpNet::V4(n)) => {
            match ipnet::Ipv6Net::new(n.addr().to_ipv6_mapped(), n.prefix_len() + 96) {
                Ok(n) => n,
                Err(_) => return KValue::Null,
            }
        }
        Err(_) => match parse_ip_v6(range) {
            Some(a) => ipnet::Ipv6Net::from(a),
            None => return KValue::Null,
        },
    };
    KValue::Bool(net.contains(&addr))
}

fn query_uses_ago(q: &Query) -> bool {
    let leg = match &q.source {
        Source::Union(legs) => legs.iter().any(query_uses_ago),
        Source::Table(_) => false,
    };
    leg || q.stages.iter().any(|s| match s {
        Stage::Where(e) => uses_ago(e),
        Stage::Summarize { aggs, by } => aggs.iter().chain(by).any(|n| uses_ago(&n.expr)),
        Stage::Extend(v) | Stage::Project(v) => v.iter().any(|n| uses_ago(&n.expr)),
    })
}

fn uses_ago(e: &Expr) -> bool {
    match e {
        Expr::Call { name, args } => name == "ago" || args.iter().any(uses_ago),
        Expr::Binary { left, right, .. } => uses_ago(left) || uses_ago(right),
        Expr::And(v) | Expr::Or(v) => v.iter().any(uses_ago),
        Expr::In { expr, list, .. } => uses_ago(expr) || list.iter().any(uses_ago),
        Expr::Member(x, _) | Expr::Index(x, _) | Expr::Neg(x) => uses_ago(x),
        Expr::Lit(_) | Expr::Column(_) | Expr::AllColumns => false,
    }
}

fn resolve_ago_query(q: &Query, now: i64) -> Query {
    let source = match &q.source {
        Source::Union(legs) => {
            Source::Union(legs.iter().map(|l| resolve_ago_query(l, now)).collect())
        }
        other => other.clone(),
    };
    let named = |v: &[Named]| -> Vec<Named> {
        v.iter()
            .map(|n| Named {
                name: n.name.clone(),
                expr: resolve_ago(&n.expr, now),
            })
            .collect()
    };
    let stages = q
        .stages
        .iter()
        .map(|s| match s {
            Stage::Where(e) => Stage::Where(resolve_ago(e, now)),
            Stage::Summarize { aggs, by } => Stage::Summarize {
                aggs: named(aggs),
                by: named(by),
            },
            Stage::Extend(v) => Stage::Extend(named(v)),
            Stage::Project(v) => Stage::Project(named(v)),
        })
        .collect();
    Query { source, stages }
}

fn resolve_ago(e: &Expr, now: i64) -> Expr {
    let r = |x: &Expr| Box::new(resolve_ago(x, now));
    match e {
        Expr::Call { name, args } if name == "ago" => match args.first() {
            Some(Expr::Lit(Literal::Timespan(t))) => Expr::Lit(Literal::DateTime(now - t)),
            _ => e.clone(),
        },
        Expr::Call { name, args } => Expr::Call {
            name: name.clone(),
            args: args.iter().map(|a| resolve_ago(a, now)).collect(),
        },
        Expr::Binary { op, left, right } => Expr::Binary {
            op: *op,
            left: r(left),
            right: r(right),
        },
        Expr::And(v) => Expr::And(v.iter().map(|x| resolve_ago(x, now)).collect()),
        Expr::Or(v) => Expr::Or(v.iter().map(|x| resolve_ago(x, now)).collect()),
        Expr::In {
            expr,
            list,
            case_insensitive,
            negated,
        } => Expr::In {
            expr: r(expr),
            list: list.iter().map(|x| resolve_ago(x, now)).collect(),
            case_insensitive: *case_insensitive,
            negated: *negated,
        },
        Expr::Member(x, m) => Expr::Member(r(x), m.clone()),
        Expr::Index(x, i) => Expr::Index(r(x), *i),
        Expr::Neg(x) => Expr::Neg(r(x)),
        Expr::Lit(_) | Expr::Column(_) | Expr::AllColumns => e.clone(),
    }
}

fn collect_regexes_query(q: &Query, out: &mut HashMap<String, LazyRegex>) -> Result<(), String> {
    if let Source::Union(legs) = &q.source {
        for l in legs {
            collect_regexes_query(l, out)?;
        }
    }
    for s in &q.stages {
        match s {
            Stage::Where(e) => collect_regexes(e, out)?,
            Stage::Summarize { aggs, by } => {
                for n in aggs.iter().chain(by) {
                    collect_regexes(&n.expr, out)?;
                }
            }
            Stage::Extend(items) | Stage::Project(items) => {
                for n in items {
                    collect_regexes(&n.expr, out)?;
                }
            }
        }
    }
    Ok(())
}

fn collect_regexes(e: &Expr, out: &mut HashMap<String, LazyRegex>) -> Result<(), String> {
    match e {
        Expr::Binary {
            op: BinOp::MatchesRegex,
            left,
            right,
        } => {
            collect_regexes(left, out)?;
            match right.as_ref() {
                Expr::Lit(Literal::Str(p)) => {
                    if !out.contains_key(p) {
                        let re =
                            lazy_re2(p).map_err(|m| format!("invalid RE2 regex `{p}`: {m}"))?;
                        out.insert(p.clone(), re);
                    }
                    Ok(())
                }
                _ => Err("`matches regex` needs a string literal pattern".into()),
            }
        }
        Expr::Binary { left, right, .. } => {
            collect_regexes(left, out)?;
            collect_regexes(right, out)
        }
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|x| collect_regexes(x, out)),
        Expr::Call { args, .. } => args.iter().try_for_each(|x| collect_regexes(x, out)),
        Expr::In { expr, list, .. } => {
            collect_regexes(expr, out)?;
            list.iter().try_for_each(|x| collect_regexes(x, out))
        }
        Expr::Member(x, _) | Expr::Index(x, _) | Expr::Neg(x) => collect_regexes(x, out),
        Expr::Lit(_) | Expr::Column(_) | Expr::AllColumns => Ok(()),
    }
}

impl ruleport_model::CompiledQuery for CompiledKusto {
    fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        self.run_rows(events)
    }
}

/// A row value for `extend`ed columns when they are read back as JSON.
pub fn kvalue_json(v: &KValue) -> Value {
    v.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;
    use serde_json::json;

    fn hits(q: &str, rows: &[Value]) -> Vec<usize> {
        let c = CompiledKusto::new(parse(q).expect("parse")).expect("compile");
        c.run_rows(rows)
            .expect("run")
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn has_terms() {
        assert!(has_term("North America", "america") || has_term("north america", "america"));
        assert!(!has_term("KustoExplorerQueryRun", "Explorer"));
        assert!(has_term("x@y.com", "@"));
        assert!(!has_term("xcmd.exe", "cmd.exe"));
        assert!(has_term("a-enc", "-enc"));
        assert!(has_term("a_b", "a"));
        assert!(has_term("abc", ""));
        assert!(has_term("b .b-", " "));
        assert!(has_term("run cmd.exe now", "cmd.exe"));
        assert!(!has_term("aab", "ab"));
        assert!(has_term("aab ab", "ab"));
    }

    #[test]
    fn null_rules() {
        let rows = vec![json!({"Type": "T", "N": 5}), json!({"Type": "T"})];
        assert_eq!(hits("T | where N == 5", &rows), vec![0]);
        assert_eq!(hits("T | where N != 5", &rows), vec![1]);
        assert_eq!(hits("T | where N > 3", &rows), vec![0]);
        assert_eq!(hits("T | where not(N > 3)", &rows), Vec::<usize>::new());
        assert_eq!(hits("T | where isnull(N) or not(N > 3)", &rows), vec![1]);
        assert_eq!(hits("T | where S == \"\"", &rows), vec![0, 1]);
        assert_eq!(
            hits("T | where isempty(S) and isnotnull(N)", &rows),
            vec![0]
        );
    }

    #[test]
    fn tables_and_case() {
        let rows = vec![
            json!({"Type": "AuditLogs", "Result": "Success"}),
            json!({"Type": "AuditLogs", "Result": "SUCCESS"}),
            json!({"Type": "SigninLogs", "Result": "Success"}),
        ];
        assert_eq!(
            hits(
                "AuditLogs | where Result in (\"success\", \"Success\")",
                &rows
            ),
            vec![0]
        );
        assert_eq!(
            hits("AuditLogs | where Result in~ (\"success\")", &rows),
            vec![0, 1]
        );
        assert_eq!(
            hits("AuditLogs | where Result !in~ (\"success\")", &rows),
            Vec::<usize>::new()
        );
        assert_eq!(
            hits(
                "union AuditLogs, SigninLogs | where Result =~ \"success\"",
                &rows
            ),
            vec![0, 1, 2]
        );
        assert_eq!(
            hits("AuditLogs | where Result contains_cs \"UCC\"", &rows),
            vec![1]
        );
    }

    #[test]
    fn dynamic_and_keyword() {
        let rows = vec![
            json!({"Type": "AuditLogs", "InitiatedBy": {"user": {"userPrincipalName": "a@b.com"}}, "TargetResources": [{"id": "x"}]}),
        ];
        assert_eq!(hits("AuditLogs | where tostring(InitiatedBy.user.userPrincipalName) endswith \"@B.COM\"", &rows), vec![0]);
        assert_eq!(hits("AuditLogs | where TargetResources[0].id == \"x\" and TargetResources[-1]['id'] == \"x\"", &rows), vec![0]);
        assert_eq!(
            hits("AuditLogs | where * contains \"B.co\"", &rows),
            vec![0]
        );
        assert_eq!(
            hits("AuditLogs | where * has \"zzz\"", &rows),
            Vec::<usize>::new()
        );
        let c = CompiledKusto::new(parse("AuditLogs | where \"mimikatz\"").expect("parse"))
            .expect("compile");
        assert!(c.run_rows(&rows).is_err(), "a string is not a predicate");
    }

    #[test]
    fn ranges_and_regex() {
        let rows = vec![
            json!({"Type": "T", "Ip": "10.1.2.3"}),
            json!({"Type": "T", "Ip": "fe80::1"}),
            json!({"Type": "T", "Ip": "nope"}),
        ];
        assert_eq!(
            hits("T | where ipv4_is_in_range(Ip, \"10.0.0.0/8\")", &rows),
            vec![0]
        );
        assert_eq!(
            hits("T | where ipv6_is_in_range(Ip, \"fe80::/10\")", &rows),
            vec![1]
        );
        // Unparsable addresses give null, and not(null) is null: no row passes.
        assert_eq!(
            hits("T | where not(ipv4_is_in_range(Ip, \"10.0.0.0/8\"))", &rows),
            Vec::<usize>::new()
        );
        assert_eq!(
            hits("T | where Ip matches regex @\"^\\d+\\.\"", &rows),
            vec![0]
        );
        assert_eq!(
            hits("T | where Ip matches regex \"(?i)FE80\"", &rows),
            vec![1]
        );
    }

    #[test]
    fn summarize_groups() {
        let rows = vec![
            json!({"Type": "T", "U": "a", "H": "h1", "TimeGenerated": "2024-01-01T00:00:10Z"}),
            json!({"Type": "T", "U": "b", "H": "h1", "TimeGenerated": "2024-01-01T00:01:00Z"}),
            json!({"Type": "T", "U": "b", "H": "h2", "TimeGenerated": "2024-01-01T00:02:00Z"}),
            json!({"Type": "T", "U": "c", "H": "h1", "TimeGenerated": "2024-01-01T00:09:00Z"}),
        ];
        let c = CompiledKusto::new(
            parse("T | summarize n = count(), d = count_distinct(U) by H, bin(TimeGenerated, 5m) | where n >= 2 and d >= 2").expect("parse"),
        )
        .expect("compile");
        assert_eq!(c.run_rows(&rows).expect("run"), vec![vec![0, 1]]);
        assert_eq!(datetime_text(0), "1970-01-01T00:00:00.0000000Z");
    }
}
