//! The syntax tree of an Elasticsearch EQL query, as written (before lowering to the IR).

use ruleport_model::{ArithOp, CmpOp, Pos, TimeSpan};

/// A whole query: a base query and its pipes.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub body: Body,
    pub pipes: Vec<Pipe>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Event(EventQuery),
    Sequence(SequenceQuery),
    Sample(SampleQuery),
}

/// `category where condition`; `category` is `None` for `any`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    pub category: Option<String>,
    pub condition: Expr,
    /// Where the event query starts, for diagnostics raised after parsing.
    pub pos: Pos,
}

/// One bracketed step of a sequence or sample: `[q] by k… with runs=N`, or `![q]` when missing.
#[derive(Debug, Clone, PartialEq)]
pub struct SubQuery {
    pub query: EventQuery,
    pub by: Vec<Expr>,
    pub runs: u32,
    pub missing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SequenceQuery {
    pub by: Vec<Expr>,
    pub maxspan: Option<TimeSpan>,
    pub steps: Vec<SubQuery>,
    pub until: Option<SubQuery>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SampleQuery {
    pub by: Vec<Expr>,
    pub steps: Vec<SubQuery>,
}

/// The pipes Elasticsearch supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    Head(u64),
    Tail(u64),
}

/// Pattern operators: `:`, `like`, `like~`, `regex`, `regex~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternOp {
    /// `:` (case-insensitive wildcard, same as `like~`).
    Colon,
    Like,
    LikeInsensitive,
    Regex,
    RegexInsensitive,
}

impl PatternOp {
    pub fn symbol(self) -> &'static str {
        match self {
            PatternOp::Colon => ":",
            PatternOp::Like => "like",
            PatternOp::LikeInsensitive => "like~",
            PatternOp::Regex => "regex",
            PatternOp::RegexInsensitive => "regex~",
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, PatternOp::Regex | PatternOp::RegexInsensitive)
    }

    pub fn is_insensitive(self) -> bool {
        matches!(
            self,
            PatternOp::Colon | PatternOp::LikeInsensitive | PatternOp::RegexInsensitive
        )
    }
}

/// An expression: boolean conditions and values share one tree, as in EQL's grammar.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A field; `optional` is `?field`.
    Field {
        name: String,
        optional: bool,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `== != < <= > >=`.
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `value : "p"` or `value like~ ("p1", "p2")`; patterns are the string literals as written
    /// (wildcard text, or Lucene regex syntax for `regex`).
    Pattern {
        op: PatternOp,
        value: Box<Expr>,
        patterns: Vec<String>,
    },
    /// `value [not] in[~] (items)`.
    In {
        value: Box<Expr>,
        items: Vec<Expr>,
        insensitive: bool,
        negated: bool,
    },
    Arith {
        op: ArithOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Neg(Box<Expr>),
    /// A function call; `name` is lower-cased, `insensitive` is the `~` form.
    Call {
        name: String,
        insensitive: bool,
        args: Vec<Expr>,
    },
}

impl Expr {
    /// Whether the expression is a literal (after parsing; no folding).
    pub fn is_literal(&self) -> bool {
        matches!(
            self,
            Expr::Null | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_)
        )
    }

    /// Visit every field the expression reads.
    pub fn for_each_field(&self, f: &mut impl FnMut(&str, bool)) {
        match self {
            Expr::Field { name, optional } => f(name, *optional),
            Expr::Not(e) | Expr::Neg(e) => e.for_each_field(f),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.for_each_field(f)),
            Expr::Compare { left, right, .. } | Expr::Arith { left, right, .. } => {
                left.for_each_field(f);
                right.for_each_field(f);
            }
            Expr::Pattern { value, .. } => value.for_each_field(f),
            Expr::In { value, items, .. } => {
                value.for_each_field(f);
                items.iter().for_each(|e| e.for_each_field(f));
            }
            Expr::Call { args, .. } => args.iter().for_each(|e| e.for_each_field(f)),
            Expr::Null | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_) => {}
        }
    }

    /// Whether the expression reads no field (it can be folded to a constant).
    pub fn is_constant(&self) -> bool {
        let mut any = false;
        self.for_each_field(&mut |_, _| any = true);
        !any
    }
}

impl Query {
    /// Every subquery (steps, then `until`), or the single event query.
    pub fn event_queries(&self) -> Vec<&EventQuery> {
        match &self.body {
            Body::Event(q) => vec![q],
            Body::Sequence(s) => s
                .steps
                .iter()
                .chain(s.until.iter())
                .map(|st| &st.query)
                .collect(),
            Body::Sample(s) => s.steps.iter().map(|st| &st.query).collect(),
        }
    }
}
