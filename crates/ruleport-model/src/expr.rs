//! The single-event boolean IR.
//!
//! Semantics (the reference every port is checked against; see ARCHITECTURE.md):
//! - Logic is two-valued. A predicate on a missing or null field is false, and `Not` is plain
//!   negation, so `Not(f = x)` matches events that lack `f`. Importers of three-valued sources
//!   (EQL) make existence explicit with `Exists`.
//! - A field holding several values (an array) satisfies a predicate if any value does.
//! - Field names are in the rule's source schema ([`crate::Schema`]); the mapping layer renames them.

use crate::text::TextQuery;
use crate::value::{Case, Scalar, StrPattern};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Const(bool),
    Pred(Predicate),
    /// Kuery `path:{ inner }`: some element of the array at `path` satisfies `inner`, whose
    /// field names are relative to that element.
    Nested {
        path: String,
        inner: Box<Expr>,
    },
}

impl Expr {
    pub fn and(items: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::And(inner) => flat.extend(inner),
                Expr::Const(true) => {}
                other => flat.push(other),
            }
        }
        if flat.iter().any(|e| matches!(e, Expr::Const(false))) {
            return Expr::Const(false);
        }
        match flat.len() {
            0 => Expr::Const(true),
            1 => flat.pop().unwrap_or(Expr::Const(true)),
            _ => Expr::And(flat),
        }
    }

    pub fn or(items: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::Or(inner) => flat.extend(inner),
                Expr::Const(false) => {}
                other => flat.push(other),
            }
        }
        if flat.iter().any(|e| matches!(e, Expr::Const(true))) {
            return Expr::Const(true);
        }
        match flat.len() {
            0 => Expr::Const(false),
            1 => flat.pop().unwrap_or(Expr::Const(false)),
            _ => Expr::Or(flat),
        }
    }

    /// `items` without repeats, keeping each first occurrence in order. Long lists are
    /// bucketed by hash, so a list of n distinct items costs O(n) comparisons, not O(n²).
    pub fn dedup(items: Vec<Expr>) -> Vec<Expr> {
        use std::hash::BuildHasher;
        if items.len() <= 8 {
            let mut out: Vec<Expr> = Vec::with_capacity(items.len());
            for e in items {
                if !out.contains(&e) {
                    out.push(e);
                }
            }
            return out;
        }
        let state = std::collections::hash_map::RandomState::new();
        let mut buckets: std::collections::HashMap<u64, Vec<usize>> =
            std::collections::HashMap::with_capacity(items.len());
        let mut keep = vec![false; items.len()];
        for (i, e) in items.iter().enumerate() {
            let bucket = buckets.entry(state.hash_one(e)).or_default();
            if !bucket.iter().any(|&j| items[j] == *e) {
                bucket.push(i);
                keep[i] = true;
            }
        }
        items
            .into_iter()
            .zip(keep)
            .filter_map(|(e, k)| k.then_some(e))
            .collect()
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Not(inner) => *inner,
            Expr::Const(b) => Expr::Const(!b),
            other => Expr::Not(Box::new(other)),
        }
    }

    pub fn pred(subject: Subject, op: Op) -> Expr {
        Expr::Pred(Predicate { subject, op })
    }

    /// `field` matches `pattern` with the given case rule.
    pub fn matches(field: impl Into<String>, pattern: StrPattern, case: Case) -> Expr {
        Expr::pred(Subject::field(field), Op::Match { pattern, case })
    }

    pub fn exists(field: impl Into<String>) -> Expr {
        Expr::pred(Subject::field(field), Op::Exists)
    }

    /// Visit every predicate, depth first.
    pub fn for_each_pred<'a>(&'a self, f: &mut impl FnMut(&'a Predicate)) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.for_each_pred(f)),
            Expr::Not(e) => e.for_each_pred(f),
            Expr::Nested { inner, .. } => inner.for_each_pred(f),
            Expr::Const(_) => {}
            Expr::Pred(p) => f(p),
        }
    }

    /// Rebuild the tree bottom-up, replacing each predicate by what `f` returns.
    pub fn map_preds(&self, f: &mut impl FnMut(&Predicate) -> Expr) -> Expr {
        match self {
            Expr::And(v) => Expr::and(v.iter().map(|e| e.map_preds(f)).collect()),
            Expr::Or(v) => Expr::or(v.iter().map(|e| e.map_preds(f)).collect()),
            Expr::Not(e) => Expr::not(e.map_preds(f)),
            Expr::Const(b) => Expr::Const(*b),
            Expr::Pred(p) => f(p),
            Expr::Nested { path, inner } => Expr::Nested {
                path: path.clone(),
                inner: Box::new(inner.map_preds(f)),
            },
        }
    }

    /// Every field name the expression reads (nested paths included, relative names prefixed).
    pub fn fields(&self) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        self.collect_fields("", &mut out);
        out.into_iter().collect()
    }

    fn collect_fields(&self, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect_fields(prefix, out)),
            Expr::Not(e) => e.collect_fields(prefix, out),
            Expr::Const(_) => {}
            Expr::Nested { path, inner } => {
                let p = format!("{prefix}{path}.");
                inner.collect_fields(&p, out);
            }
            Expr::Pred(p) => {
                for f in p.fields() {
                    // Long value lists repeat one field: no copy for a name already seen.
                    if prefix.is_empty() {
                        if !out.contains(f) {
                            out.insert(f.to_string());
                        }
                    } else {
                        out.insert(format!("{prefix}{f}"));
                    }
                }
            }
        }
    }

    /// Nesting depth, used to bound recursion in emitters and evaluators.
    pub fn depth(&self) -> usize {
        match self {
            Expr::And(v) | Expr::Or(v) => 1 + v.iter().map(Expr::depth).max().unwrap_or(0),
            Expr::Not(e) => 1 + e.depth(),
            Expr::Nested { inner, .. } => 1 + inner.depth(),
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Predicate {
    pub subject: Subject,
    pub op: Op,
}

impl Predicate {
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.subject.collect_fields(&mut out);
        if let Op::FieldRef { other, .. } = &self.op {
            out.push(other.as_str());
        }
        out
    }
}

/// What a predicate tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A named field. `optional` records EQL's `?field` (a missing mapping is null, not an error).
    Field { name: String, optional: bool },
    /// Field-less keyword search: some string value anywhere in the event satisfies the op.
    Keyword,
    /// A computed value (EQL functions and arithmetic).
    Computed(Operand),
}

impl Subject {
    pub fn field(name: impl Into<String>) -> Subject {
        Subject::Field {
            name: name.into(),
            optional: false,
        }
    }

    pub fn field_name(&self) -> Option<&str> {
        match self {
            Subject::Field { name, .. } => Some(name),
            _ => None,
        }
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Subject::Field { name, .. } => out.push(name),
            Subject::Keyword => {}
            Subject::Computed(o) => o.collect_fields(out),
        }
    }
}

/// A value expression (EQL function calls, arithmetic, fields, literals).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    Field {
        name: String,
        optional: bool,
    },
    Literal(Scalar),
    Null,
    /// A function call as written in the source language's library (EQL names, lower-cased).
    Call {
        name: String,
        case_insensitive: bool,
        args: Vec<Operand>,
    },
    Arith {
        op: ArithOp,
        left: Box<Operand>,
        right: Box<Operand>,
    },
    Neg(Box<Operand>),
}

impl Operand {
    pub fn field(name: impl Into<String>) -> Operand {
        Operand::Field {
            name: name.into(),
            optional: false,
        }
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Operand::Field { name, .. } => out.push(name),
            Operand::Call { args, .. } => args.iter().for_each(|a| a.collect_fields(out)),
            Operand::Arith { left, right, .. } => {
                left.collect_fields(out);
                right.collect_fields(out);
            }
            Operand::Neg(o) => o.collect_fields(out),
            Operand::Literal(_) | Operand::Null => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
        }
    }
}

/// Where a regex must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegexAnchor {
    /// Anywhere in the value (Sigma, Splunk `regex`, Kusto `matches regex`).
    Search,
    /// The whole value (Elasticsearch EQL and Lucene).
    Full,
}

/// A regular expression in the common RE2/Rust syntax. Importers translate dialect syntax
/// (Lucene, PCRE) into it; emitters translate out of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegexSpec {
    pub pattern: String,
    pub case: Case,
    pub multiline: bool,
    pub dotall: bool,
    pub anchor: RegexAnchor,
}

/// How a field is compared with another field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRefKind {
    Equals,
    StartsWith,
    EndsWith,
    Contains,
}

/// A test applied to the subject's value(s).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Glob match of the whole string value (exact, contains, startswith, endswith, wildcard).
    /// Numbers and booleans are matched through their canonical text.
    Match {
        pattern: StrPattern,
        case: Case,
    },
    /// Typed equality with a number or boolean (a string that parses to the same number matches).
    Eq(Scalar),
    /// Ordered comparison: numeric when both sides are numbers, else case-sensitive string order.
    Cmp {
        op: CmpOp,
        value: Scalar,
    },
    Regex(RegexSpec),
    /// The value is an IP address inside the network.
    Cidr(IpNet),
    /// The field holds at least one non-null value.
    Exists,
    /// Compare with another field of the same event.
    FieldRef {
        other: String,
        kind: FieldRefKind,
        case: Case,
    },
    /// The subject (a boolean-valued computation) is true.
    IsTrue,
    /// Analysed full-text match (Elasticsearch `match` / `match_phrase` on a text field): the
    /// value's tokens contain the query's, as a phrase or any one of them (see [`TextQuery`]).
    /// Case-insensitive by construction (both sides are lower-cased by the analyzer).
    Text(TextQuery),
}

impl Op {
    pub fn case(&self) -> Option<Case> {
        match self {
            Op::Match { case, .. } | Op::FieldRef { case, .. } => Some(*case),
            Op::Regex(r) => Some(r.case),
            _ => None,
        }
    }
}
