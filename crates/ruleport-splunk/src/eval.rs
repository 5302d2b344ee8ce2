//! Evaluator for the SPL subset over Splunk event views (flat JSON objects keyed by Splunk field
//! names; arrays are multivalue fields).
//!
//! Semantics, from Splunk's documentation (research/targets.md §1.1):
//! - `search`: values match case-insensitively (unless `CASE()`), `*` is the only wildcard, a
//!   multivalue field matches if any value does, `NOT f=v` is true when `f` is missing, `f!=v`
//!   needs `f` present, `f=*` means present, a CIDR value matches IP addresses in the network,
//!   an unquoted number compares numerically.
//! - Keyword terms match the raw text (`_raw`) as terms bounded by major breakers; without
//!   `_raw` they match any whole field value.
//! - `where`/`eval`: case-sensitive; null propagates (Kleene logic), `where` keeps only true;
//!   comparisons and `like`/`match`/`cidrmatch` on a multivalue field hold if any value does.
//! - Field names are case-sensitive.

use crate::ast::*;
use crate::regex_dialect::{compile_pcre, lazy_pcre};
use ruleport_model::event::{parse_rfc3339, scalar_text};
use ruleport_model::matching::LazyRegex;
use ruleport_model::matching::{
    cidr_contains, fold, GlobMatcher, REGEX_DFA_LIMIT, REGEX_SIZE_LIMIT,
};
use ruleport_model::{Case, Piece, RunError, StrPattern};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Upper bound on rows produced by a pipeline (hostile fixtures stay bounded).
const MAX_ROWS: usize = 1_000_000;

/// Upper bound on the groups one result joins through multivalue by-fields.
const MAX_GROUP_KEYS: usize = 10_000;

/// A field value inside the evaluator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Num(f64),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(n) => num_text(*n),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => parse_num(s),
        }
    }
}

fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn num_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Fields set by commands on a result.
type Fields = BTreeMap<String, Vec<Val>>;

/// One result flowing through the pipeline.
#[derive(Debug, Clone)]
struct Row {
    event: Option<usize>,
    /// Fields set by commands (an empty list is null).
    fields: BTreeMap<String, Vec<Val>>,
    /// The events this result stands for.
    covered: Vec<usize>,
    time_ms: i64,
}

/// A pipeline ready to run: regexes checked up front, built when first used.
pub(crate) struct Program {
    pub(crate) pipeline: Pipeline,
    regexes: HashMap<String, LazyRegex>,
}

impl Program {
    pub(crate) fn new(pipeline: Pipeline) -> Result<Program, String> {
        let mut regexes = HashMap::new();
        let mut patterns = Vec::new();
        for c in &pipeline.commands {
            match c {
                Command::Regex { pattern, .. } => patterns.push(pattern.clone()),
                Command::Where(e) => collect_patterns(e, &mut patterns),
                Command::Eval(v) => v
                    .iter()
                    .for_each(|(_, e)| collect_patterns(e, &mut patterns)),
                _ => {}
            }
        }
        for p in patterns {
            if let std::collections::hash_map::Entry::Vacant(slot) = regexes.entry(p) {
                let re =
                    lazy_pcre(slot.key()).map_err(|e| format!("regex \"{}\": {e}", slot.key()))?;
                slot.insert(re);
            }
        }
        Ok(Program { pipeline, regexes })
    }

    pub(crate) fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        let mut rows: Vec<Row> = events
            .iter()
            .enumerate()
            .map(|(i, e)| Row {
                event: Some(i),
                fields: BTreeMap::new(),
                covered: vec![i],
                time_ms: event_time_ms(e).unwrap_or(i as i64),
            })
            .collect();
        rows.sort_by_key(|r| (r.time_ms, r.event));
        let cx = Cx {
            events,
            regexes: &self.regexes,
        };
        for cmd in &self.pipeline.commands {
            rows = cx.apply(cmd, rows)?;
            if rows.len() > MAX_ROWS {
                return Err(RunError(format!("more than {MAX_ROWS} results")));
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut c = r.covered;
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect())
    }
}

fn collect_patterns(e: &EvalExpr, out: &mut Vec<String>) {
    match e {
        EvalExpr::Call(Func::Match, args) => {
            if let Some(EvalExpr::Str(p)) = args.get(1) {
                out.push(p.clone());
            }
            args.iter().for_each(|a| collect_patterns(a, out));
        }
        EvalExpr::Call(_, args) => args.iter().for_each(|a| collect_patterns(a, out)),
        EvalExpr::Or(a, b)
        | EvalExpr::And(a, b)
        | EvalExpr::Cmp(_, a, b)
        | EvalExpr::Arith(_, a, b) => {
            collect_patterns(a, out);
            collect_patterns(b, out);
        }
        EvalExpr::Not(a) | EvalExpr::Neg(a) => collect_patterns(a, out),
        EvalExpr::Field(_) | EvalExpr::Str(_) | EvalExpr::Num(_) | EvalExpr::SearchMatch(_) => {}
    }
}

/// `_time` in epoch seconds (or RFC 3339), in milliseconds; other time fields as the model reads them.
fn event_time_ms(e: &Value) -> Option<i64> {
    match e.get("_time") {
        Some(Value::Number(n)) => n.as_f64().map(|s| (s * 1000.0).round() as i64),
        Some(Value::String(s)) => {
            parse_rfc3339(s).or_else(|| parse_num(s).map(|x| (x * 1000.0).round() as i64))
        }
        _ => ruleport_model::event::event_time(e),
    }
}

/// The values of a Splunk field in an event: the exact key first, then a nested JSON path
/// (`a{}.b` walks the array `a`).
fn event_values(doc: &Value, name: &str) -> Vec<Val> {
    let mut out = Vec::new();
    if let Value::Object(m) = doc {
        if let Some(v) = m.get(name) {
            push_vals(v, &mut out, 0);
            return out;
        }
    }
    if name.contains('.') || name.contains("{}") {
        let path = name.replace("{}", "");
        for v in ruleport_model::event::lookup(doc, &path) {
            push_vals(v, &mut out, 0);
        }
    }
    out
}

fn push_vals(v: &Value, out: &mut Vec<Val>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Null | Value::Object(_) => {}
        Value::Array(a) => a.iter().for_each(|x| push_vals(x, out, depth + 1)),
        other => {
            if let Some(t) = scalar_text(other) {
                out.push(Val::Str(t.into_owned()));
            }
        }
    }
}

struct Cx<'a> {
    events: &'a [Value],
    regexes: &'a HashMap<String, LazyRegex>,
}

/// The result of an eval expression.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Null,
    Bool(bool),
    Str(String),
    Num(f64),
    Multi(Vec<Val>),
}

impl Ev {
    fn from_vals(mut v: Vec<Val>) -> Ev {
        match v.len() {
            0 => Ev::Null,
            1 => match v.pop() {
                Some(Val::Str(s)) => Ev::Str(s),
                Some(Val::Num(n)) => Ev::Num(n),
                None => Ev::Null,
            },
            _ => Ev::Multi(v),
        }
    }

    /// Scalar values for any-value tests; booleans are not values.
    fn vals(&self) -> Vec<Val> {
        match self {
            Ev::Null | Ev::Bool(_) => vec![],
            Ev::Str(s) => vec![Val::Str(s.clone())],
            Ev::Num(n) => vec![Val::Num(*n)],
            Ev::Multi(v) => v.clone(),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Ev::Null)
    }

    fn truth(&self) -> Option<bool> {
        match self {
            Ev::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn into_vals(self) -> Vec<Val> {
        match self {
            Ev::Bool(b) => vec![Val::Str(if b { "true" } else { "false" }.into())],
            other => other.vals(),
        }
    }
}

fn kleene(v: Option<bool>) -> Ev {
    v.map(Ev::Bool).unwrap_or(Ev::Null)
}

impl<'a> Cx<'a> {
    fn get(&self, row: &Row, name: &str) -> Vec<Val> {
        if let Some(v) = row.fields.get(name) {
            return v.clone();
        }
        if name == "_time" {
            if row.event.is_some() {
                return vec![Val::Num(row.time_ms as f64 / 1000.0)];
            }
            return vec![];
        }
        match row.event {
            Some(i) => event_values(&self.events[i], name),
            None => vec![],
        }
    }

    fn apply(&self, cmd: &Command, rows: Vec<Row>) -> Result<Vec<Row>, RunError> {
        Ok(match cmd {
            Command::Search(e) => rows.into_iter().filter(|r| self.search(e, r)).collect(),
            Command::Where(e) => {
                let mut out = Vec::new();
                for r in rows {
                    if self.eval(e, &r)?.truth() == Some(true) {
                        out.push(r);
                    }
                }
                out
            }
            Command::Regex {
                field,
                negated,
                pattern,
            } => {
                let re = self.regex(pattern)?;
                rows.into_iter()
                    .filter(|r| {
                        let hit = self.get(r, field).iter().any(|v| re.is_match(&v.text()));
                        hit != *negated
                    })
                    .collect()
            }
            Command::Eval(assigns) => {
                let mut out = Vec::with_capacity(rows.len());
                for mut r in rows {
                    for (name, e) in assigns {
                        let v = self.eval(e, &r)?;
                        r.fields.insert(name.clone(), v.into_vals());
                    }
                    out.push(r);
                }
                out
            }
            Command::Stats(s) => match s.kind {
                StatsKind::Stats => self.stats(s, rows),
                StatsKind::EventStats => self.eventstats(s, rows),
                StatsKind::StreamStats => self.streamstats(s, rows),
            },
            Command::Bin { field, span_secs } => {
                let span = *span_secs as f64;
                rows.into_iter()
                    .map(|mut r| {
                        let v: Vec<Val> = self
                            .get(&r, field)
                            .iter()
                            .filter_map(|v| v.num())
                            .map(|n| Val::Num((n / span).floor() * span))
                            .collect();
                        r.fields.insert(field.clone(), v);
                        r
                    })
                    .collect()
            }
            Command::Sort(keys) => {
                let mut rows = rows;
                rows.sort_by(|a, b| {
                    for (k, desc) in keys {
                        let (x, y) = (self.get(a, k), self.get(b, k));
                        let o = cmp_vals(x.first(), y.first());
                        let o = if *desc { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                rows
            }
            Command::Tstats(t) => self.tstats(t, rows)?,
            Command::Dedup(fields) => {
                let mut seen = BTreeSet::new();
                rows.into_iter()
                    .filter(|r| {
                        let key: Option<Vec<Vec<String>>> = fields
                            .iter()
                            .map(|f| {
                                let v = self.get(r, f);
                                (!v.is_empty()).then(|| v.iter().map(Val::text).collect())
                            })
                            .collect();
                        key.is_some_and(|k| seen.insert(k))
                    })
                    .collect()
            }
        })
    }

    /// `tstats` over a data model: each event the dataset holds becomes a row of its CIM view
    /// (fields renamed by the CIM table, plus the inherited fields), filtered by `where` with
    /// search semantics, then grouped like `stats`. A null by-field takes `fillnull_value`, or
    /// drops the row from the groups.
    fn tstats(&self, t: &TstatsCommand, rows: Vec<Row>) -> Result<Vec<Row>, RunError> {
        let table = crate::cim::table().map_err(RunError)?;
        let d = table
            .dataset(&t.datamodel)
            .ok_or_else(|| RunError(format!("unknown data model `{}`", t.datamodel)))?;
        let mut view = Vec::new();
        for r in rows {
            let Some(i) = r.event else { continue };
            let doc = &self.events[i];
            let texts = |f: &str| {
                event_values(doc, f)
                    .iter()
                    .map(Val::text)
                    .collect::<Vec<_>>()
            };
            if !table.holds(d, &texts) {
                continue;
            }
            let mut fields: Fields = BTreeMap::new();
            for row in &d.fields {
                let vals = event_values(doc, &row.raw);
                if vals.is_empty() {
                    continue;
                }
                let slot = fields.entry(d.prefixed(&row.cim)).or_default();
                for v in vals {
                    if !slot.contains(&v) {
                        slot.push(v);
                    }
                }
            }
            for f in crate::cim::INHERITED {
                let vals = if f == "_time" {
                    vec![Val::Num(r.time_ms as f64 / 1000.0)]
                } else {
                    event_values(doc, f)
                };
                if !vals.is_empty() {
                    fields.insert(f.to_string(), vals);
                }
            }
            let row = Row {
                event: None,
                fields,
                covered: r.covered,
                time_ms: r.time_ms,
            };
            if t.filter.as_ref().is_none_or(|f| self.search(f, &row)) {
                view.push(row);
            }
        }
        if let Some(fill) = &t.fillnull_value {
            for r in &mut view {
                for b in &t.by {
                    if r.fields.get(b).is_none_or(Vec::is_empty) {
                        r.fields.insert(b.clone(), vec![Val::Str(fill.clone())]);
                    }
                }
            }
        }
        let s = StatsCommand {
            kind: StatsKind::Stats,
            time_window_secs: None,
            current: true,
            aggs: t.aggs.clone(),
            by: t.by.clone(),
        };
        Ok(self.stats(&s, view))
    }

    fn regex(&self, p: &str) -> Result<std::borrow::Cow<'_, regex::Regex>, RunError> {
        match self.regexes.get(p) {
            Some(r) => r
                .get()
                .map(std::borrow::Cow::Borrowed)
                .map_err(|e| RunError(format!("regex \"{p}\": invalid or unsupported regex: {e}"))),
            None => compile_pcre(p)
                .map(std::borrow::Cow::Owned)
                .map_err(RunError),
        }
    }

    // ------------------------------------------------------------------ search

    fn search(&self, e: &SearchExpr, row: &Row) -> bool {
        match e {
            SearchExpr::And(v) => v.iter().all(|x| self.search(x, row)),
            SearchExpr::Or(v) => v.iter().any(|x| self.search(x, row)),
            SearchExpr::Not(x) => !self.search(x, row),
            SearchExpr::Term(t) => self.term(t, row),
        }
    }

    fn term(&self, t: &SearchTerm, row: &Row) -> bool {
        match t {
            SearchTerm::Field { field, op, value } => {
                let vals = self.get(row, field);
                match op {
                    SearchOp::Eq => vals.iter().any(|v| value_matches(value, v)),
                    SearchOp::Ne => {
                        !vals.is_empty() && !vals.iter().any(|v| value_matches(value, v))
                    }
                    op => vals.iter().any(|v| value_compare(value, v, *op)),
                }
            }
            SearchTerm::In { field, values } => {
                let vals = self.get(row, field);
                vals.iter()
                    .any(|v| values.iter().any(|p| value_matches(p, v)))
            }
            SearchTerm::Keyword(v) => self.keyword(v, row),
        }
    }

    fn keyword(&self, v: &SearchValue, row: &Row) -> bool {
        if v.pieces == [ValuePiece::Star] {
            return true;
        }
        let raw = row
            .event
            .and_then(|i| self.events[i].get("_raw"))
            .and_then(|r| r.as_str());
        if let Some(raw) = raw {
            return raw_term_match(v, raw);
        }
        let g = glob_of(v);
        let mut leaves: Vec<String> = Vec::new();
        if let Some(i) = row.event {
            for l in ruleport_model::event::leaves(&self.events[i]) {
                if let Some(t) = scalar_text(l) {
                    leaves.push(t.into_owned());
                }
            }
        }
        for vals in row.fields.values() {
            leaves.extend(vals.iter().map(Val::text));
        }
        leaves.iter().any(|l| g.is_match(l))
    }

    // ------------------------------------------------------------------ eval

    fn eval(&self, e: &EvalExpr, row: &Row) -> Result<Ev, RunError> {
        Ok(match e {
            EvalExpr::Or(a, b) => {
                let x = self.eval(a, row)?.truth();
                if x == Some(true) {
                    return Ok(Ev::Bool(true));
                }
                let y = self.eval(b, row)?.truth();
                match (x, y) {
                    (_, Some(true)) => Ev::Bool(true),
                    (Some(false), Some(false)) => Ev::Bool(false),
                    _ => Ev::Null,
                }
            }
            EvalExpr::And(a, b) => {
                let x = self.eval(a, row)?.truth();
                if x == Some(false) {
                    return Ok(Ev::Bool(false));
                }
                let y = self.eval(b, row)?.truth();
                match (x, y) {
                    (_, Some(false)) => Ev::Bool(false),
                    (Some(true), Some(true)) => Ev::Bool(true),
                    _ => Ev::Null,
                }
            }
            EvalExpr::Not(a) => kleene(self.eval(a, row)?.truth().map(|b| !b)),
            EvalExpr::Cmp(op, a, b) => {
                let (x, y) = (self.eval(a, row)?, self.eval(b, row)?);
                if x.is_null() || y.is_null() {
                    return Ok(Ev::Null);
                }
                // Numbers compare numerically when either side is a number (a literal or a
                // computed value); two strings compare as text.
                let lit_num = matches!(x, Ev::Num(_)) || matches!(y, Ev::Num(_));
                let holds = x.vals().iter().any(|xv| {
                    y.vals().iter().any(|yv| {
                        let numeric =
                            lit_num || matches!(xv, Val::Num(_)) || matches!(yv, Val::Num(_));
                        let ord = match (numeric, xv.num(), yv.num()) {
                            (true, Some(p), Some(q)) => p.partial_cmp(&q),
                            _ => Some(xv.text().cmp(&yv.text())),
                        };
                        ord.is_some_and(|o| cmp_holds(*op, o))
                    })
                });
                Ev::Bool(holds)
            }
            EvalExpr::Arith(op, a, b) => {
                let (x, y) = (self.eval(a, row)?, self.eval(b, row)?);
                let (Some(xv), Some(yv)) =
                    (x.vals().into_iter().next(), y.vals().into_iter().next())
                else {
                    return Ok(Ev::Null);
                };
                match op {
                    ArithOp::Concat => Ev::Str(format!("{}{}", xv.text(), yv.text())),
                    _ => match (xv.num(), yv.num()) {
                        (Some(p), Some(q)) => match op {
                            ArithOp::Add => Ev::Num(p + q),
                            ArithOp::Sub => Ev::Num(p - q),
                            ArithOp::Mul => Ev::Num(p * q),
                            ArithOp::Div if q != 0.0 => Ev::Num(p / q),
                            _ => Ev::Null,
                        },
                        _ if *op == ArithOp::Add => Ev::Str(format!("{}{}", xv.text(), yv.text())),
                        _ => Ev::Null,
                    },
                }
            }
            EvalExpr::Neg(a) => match self.eval(a, row)?.vals().first().and_then(Val::num) {
                Some(n) => Ev::Num(-n),
                None => Ev::Null,
            },
            EvalExpr::Field(f) => Ev::from_vals(self.get(row, f)),
            EvalExpr::Str(s) => Ev::Str(s.clone()),
            EvalExpr::Num(n) => Ev::Num(*n),
            EvalExpr::SearchMatch(s) => Ev::Bool(self.search(s, row)),
            EvalExpr::Call(f, args) => self.call(*f, args, row)?,
        })
    }

    fn call(&self, f: Func, args: &[EvalExpr], row: &Row) -> Result<Ev, RunError> {
        let arg = |i: usize| -> Result<Ev, RunError> {
            match args.get(i) {
                Some(a) => self.eval(a, row),
                None => Ok(Ev::Null),
            }
        };
        Ok(match f {
            Func::True => Ev::Bool(true),
            Func::False => Ev::Bool(false),
            Func::Null => Ev::Null,
            Func::Isnull => Ev::Bool(arg(0)?.is_null()),
            Func::Isnotnull => Ev::Bool(!arg(0)?.is_null()),
            Func::Lower => match arg(0)? {
                Ev::Null => Ev::Null,
                Ev::Bool(b) => Ev::Str(b.to_string()),
                other => Ev::from_vals(
                    other
                        .vals()
                        .iter()
                        .map(|v| Val::Str(fold(&v.text())))
                        .collect(),
                ),
            },
            Func::Tonumber => {
                let nums: Vec<Val> = arg(0)?
                    .vals()
                    .iter()
                    .filter_map(Val::num)
                    .map(Val::Num)
                    .collect();
                Ev::from_vals(nums)
            }
            Func::Len => match arg(0)?.vals().first() {
                Some(v) => Ev::Num(v.text().chars().count() as f64),
                None => Ev::Null,
            },
            Func::Like => {
                let x = arg(0)?;
                let p = arg(1)?;
                if x.is_null() || p.is_null() {
                    return Ok(Ev::Null);
                }
                let pat = p.vals().first().map(Val::text).unwrap_or_default();
                let g = GlobMatcher::new(&like_pattern(&pat), Case::Sensitive);
                Ev::Bool(x.vals().iter().any(|v| g.is_match(&v.text())))
            }
            Func::Match => {
                let x = arg(0)?;
                let p = arg(1)?;
                if x.is_null() || p.is_null() {
                    return Ok(Ev::Null);
                }
                let pat = p.vals().first().map(Val::text).unwrap_or_default();
                let re = self.regex(&pat)?;
                Ev::Bool(x.vals().iter().any(|v| re.is_match(&v.text())))
            }
            Func::Cidrmatch => {
                let net = arg(0)?;
                let x = arg(1)?;
                if x.is_null() || net.is_null() {
                    return Ok(Ev::Null);
                }
                let net_text = net.vals().first().map(Val::text).unwrap_or_default();
                match net_text.trim().parse::<ipnet::IpNet>() {
                    Ok(n) => Ev::Bool(x.vals().iter().any(|v| cidr_contains(&n, &v.text()))),
                    Err(_) => Ev::Bool(false),
                }
            }
            Func::If => match arg(0)?.truth() {
                Some(true) => arg(1)?,
                _ => arg(2)?,
            },
            Func::Case => {
                for pair in args.chunks(2) {
                    if let [c, v] = pair {
                        if self.eval(c, row)?.truth() == Some(true) {
                            return self.eval(v, row);
                        }
                    }
                }
                Ev::Null
            }
            Func::Coalesce => {
                for a in args {
                    let v = self.eval(a, row)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ev::Null
            }
        })
    }

    // ------------------------------------------------------------------ statistics

    /// Group keys of a row: one per combination of by-field values (a multivalue by-field puts
    /// the row in several groups); none when a by-field is null.
    fn keys_of(&self, row: &Row, by: &[String]) -> Vec<Vec<String>> {
        let mut acc: Vec<Vec<String>> = vec![vec![]];
        for f in by {
            let mut vals: Vec<String> = self.get(row, f).iter().map(Val::text).collect();
            vals.dedup();
            if vals.is_empty() {
                return vec![];
            }
            acc = acc
                .into_iter()
                .flat_map(|k| {
                    vals.iter().map(move |v| {
                        let mut k = k.clone();
                        k.push(v.clone());
                        k
                    })
                })
                .take(MAX_GROUP_KEYS)
                .collect();
        }
        acc
    }

    fn aggregate(&self, aggs: &[Agg], rows: &[&Row]) -> BTreeMap<String, Vec<Val>> {
        let mut out = BTreeMap::new();
        for a in aggs {
            let vals: Vec<Val> = match &a.field {
                Some(f) => rows.iter().flat_map(|r| self.get(r, f)).collect(),
                None => vec![],
            };
            let nums: Vec<f64> = vals.iter().filter_map(Val::num).collect();
            let v = match a.func {
                AggFunc::Count => Some(match &a.field {
                    None => rows.len() as f64,
                    Some(_) => vals.len() as f64,
                }),
                AggFunc::DistinctCount => {
                    Some(vals.iter().map(Val::text).collect::<BTreeSet<_>>().len() as f64)
                }
                AggFunc::Sum => (!nums.is_empty()).then(|| nums.iter().sum()),
                AggFunc::Avg => {
                    (!nums.is_empty()).then(|| nums.iter().sum::<f64>() / nums.len() as f64)
                }
                AggFunc::Min => nums.iter().copied().reduce(f64::min),
                AggFunc::Max => nums.iter().copied().reduce(f64::max),
            };
            out.insert(
                a.name.clone(),
                v.map(|n| vec![Val::Num(n)]).unwrap_or_default(),
            );
        }
        out
    }

    fn stats(&self, s: &StatsCommand, rows: Vec<Row>) -> Vec<Row> {
        let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            for k in self.keys_of(r, &s.by) {
                groups.entry(k).or_default().push(i);
            }
        }
        if s.by.is_empty() && groups.is_empty() {
            // `stats count` over nothing still yields one result.
            groups.insert(vec![], vec![]);
        }
        let mut out = Vec::new();
        for (key, members) in groups {
            let rs: Vec<&Row> = members.iter().map(|&i| &rows[i]).collect();
            let mut fields = self.aggregate(&s.aggs, &rs);
            for (f, v) in s.by.iter().zip(key) {
                let val = match parse_num(&v) {
                    Some(n) if f == "_time" => Val::Num(n),
                    _ => Val::Str(v),
                };
                fields.insert(f.clone(), vec![val]);
            }
            let covered: Vec<usize> = rs.iter().flat_map(|r| r.covered.iter().copied()).collect();
            let time_ms = rs.iter().map(|r| r.time_ms).min().unwrap_or(0);
            out.push(Row {
                event: None,
                fields,
                covered,
                time_ms,
            });
        }
        out
    }

    fn eventstats(&self, s: &StatsCommand, mut rows: Vec<Row>) -> Vec<Row> {
        let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            if let Some(k) = self.keys_of(r, &s.by).into_iter().next() {
                groups.entry(k).or_default().push(i);
            }
        }
        let mut results: Vec<(Vec<usize>, Fields)> = Vec::new();
        for members in groups.values() {
            let rs: Vec<&Row> = members.iter().map(|&i| &rows[i]).collect();
            results.push((members.clone(), self.aggregate(&s.aggs, &rs)));
        }
        for (members, fields) in results {
            for i in members {
                rows[i].fields.extend(fields.clone());
            }
        }
        rows
    }

    fn streamstats(&self, s: &StatsCommand, mut rows: Vec<Row>) -> Vec<Row> {
        let mut history: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        let window_ms = s.time_window_secs.map(|w| w as i64 * 1000);
        let own: Vec<Vec<usize>> = rows.iter().map(|r| r.covered.clone()).collect();
        for i in 0..rows.len() {
            let Some(key) = self.keys_of(&rows[i], &s.by).into_iter().next() else {
                continue;
            };
            let past = history.entry(key).or_default();
            let t = rows[i].time_ms;
            let mut window: Vec<usize> = past
                .iter()
                .copied()
                .filter(|&j| window_ms.is_none_or(|w| (t - rows[j].time_ms).abs() <= w))
                .collect();
            if s.current {
                window.push(i);
            }
            let fields = {
                let rs: Vec<&Row> = window.iter().map(|&j| &rows[j]).collect();
                self.aggregate(&s.aggs, &rs)
            };
            if window_ms.is_some() {
                let mut cov: Vec<usize> = window.iter().flat_map(|&j| own[j].clone()).collect();
                cov.extend(own[i].iter().copied());
                rows[i].covered = cov;
            }
            rows[i].fields.extend(fields);
            past.push(i);
        }
        rows
    }
}

fn cmp_holds(op: CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::Ne => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::Le => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Ge => o != Less,
    }
}

fn cmp_vals(a: Option<&Val>, b: Option<&Val>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => match (x.num(), y.num()) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            _ => x.text().cmp(&y.text()),
        },
    }
}

/// `%` any run, `_` one character; everything else literal.
fn like_pattern(p: &str) -> StrPattern {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    for c in p.chars() {
        match c {
            '%' | '_' => {
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(if c == '%' {
                    Piece::AnyChars
                } else {
                    Piece::OneChar
                });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    StrPattern::new(pieces)
}

fn glob_of(v: &SearchValue) -> GlobMatcher {
    let pat = StrPattern::new(v.pieces.iter().map(|p| match p {
        ValuePiece::Lit(s) => Piece::Lit(s.clone()),
        ValuePiece::Star => Piece::AnyChars,
    }));
    GlobMatcher::new(
        &pat,
        if v.case_sensitive {
            Case::Sensitive
        } else {
            Case::Insensitive
        },
    )
}

/// A `search` value against one field value.
fn value_matches(p: &SearchValue, v: &Val) -> bool {
    let text = v.text();
    if let Some(lit) = p.literal() {
        // A CIDR value matches addresses inside the network.
        if lit.contains('/') {
            if let Ok(net) = lit.trim().parse::<ipnet::IpNet>() {
                return cidr_contains(&net, &text);
            }
        }
        // An unquoted number compares numerically.
        if !p.quoted {
            if let (Some(a), Some(b)) = (parse_num(&lit), v.num()) {
                if a == b {
                    return true;
                }
            }
        }
    }
    glob_of(p).is_match(&text)
}

fn value_compare(p: &SearchValue, v: &Val, op: SearchOp) -> bool {
    let Some(lit) = p.literal() else { return false };
    let ord = match (parse_num(&lit), v.num()) {
        (Some(a), Some(b)) => b.partial_cmp(&a),
        (Some(_), None) => None,
        (None, _) => Some(v.text().as_str().cmp(lit.as_str())),
    };
    let Some(o) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        SearchOp::Lt => o == Less,
        SearchOp::Le => o != Greater,
        SearchOp::Gt => o == Greater,
        SearchOp::Ge => o != Less,
        SearchOp::Eq => o == Equal,
        SearchOp::Ne => o != Equal,
    }
}

/// Major breakers: a keyword term must start and end at one of these (or the text's ends).
const MAJOR_BREAKERS: &str = " \t\r\n[]<>(){}|!;,'\"&";

/// A keyword term against raw text: the glob must match a run of the text bounded by major
/// breakers (a leading or trailing `*` lets it reach into a term).
fn raw_term_match(v: &SearchValue, raw: &str) -> bool {
    let sensitive = v.case_sensitive;
    let prep = |s: &str| if sensitive { s.to_string() } else { fold(s) };
    let mut re = String::from(r"(?s)(?:\A|[");
    re.push_str(&regex::escape(MAJOR_BREAKERS));
    re.push_str("])");
    for p in &v.pieces {
        match p {
            ValuePiece::Lit(s) => re.push_str(&regex::escape(&prep(s))),
            ValuePiece::Star => re.push_str(".*"),
        }
    }
    re.push_str(r"(?:\z|[");
    re.push_str(&regex::escape(MAJOR_BREAKERS));
    re.push_str("])");
    // The term comes from the query: the same program and DFA limits as every other regex.
    match regex::RegexBuilder::new(&re)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
    {
        Ok(r) => r.is_match(&prep(raw)),
        Err(_) => false,
    }
}
