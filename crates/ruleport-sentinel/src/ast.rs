//! The Kusto subset ruleport emits: a tabular source, then `where`, `summarize`, `extend` and
//! `project` stages over scalar expressions.

/// A tabular expression: a source followed by piped operators.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub source: Source,
    pub stages: Vec<Stage>,
}

/// Where the rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table name: the rows whose `Type` column equals it.
    Table(String),
    /// `union A, (B | where …)`: the rows of every leg.
    Union(Vec<Query>),
}

impl Source {
    /// Every table name the source reads.
    pub fn tables(&self) -> Vec<&str> {
        match self {
            Source::Table(t) => vec![t.as_str()],
            Source::Union(legs) => legs.iter().flat_map(|q| q.source.tables()).collect(),
        }
    }
}

/// One `| operator` stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Where(Expr),
    /// `summarize name = agg(…), … by key, name = expr, bin(col, span)`.
    Summarize {
        aggs: Vec<Named>,
        by: Vec<Named>,
    },
    Extend(Vec<Named>),
    Project(Vec<Named>),
}

/// An expression with the output column name it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub expr: Expr,
}

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Literal),
    /// A column (or extended/aggregated) name.
    Column(String),
    /// `*` as the left side of a string operator: every column of the row.
    AllColumns,
    /// `e.name` or `e['name']` on a dynamic value.
    Member(Box<Expr>, String),
    /// `e[0]` on a dynamic array (negative counts from the end).
    Index(Box<Expr>, i64),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `e in (…)`, `in~`, `!in`, `!in~`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        case_insensitive: bool,
        negated: bool,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// A function call (`not`, `isempty`, `tostring`, aggregates…), name lower-case as written.
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Neg(Box<Expr>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Long(i64),
    Real(f64),
    Bool(bool),
    /// `datetime(…)`, in milliseconds since the Unix epoch.
    DateTime(i64),
    /// `5m`, `1h`, `timespan(…)`, in milliseconds.
    Timespan(i64),
    Null,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    HasCs,
    NotHas,
    NotHasCs,
    Contains,
    ContainsCs,
    NotContains,
    NotContainsCs,
    StartsWith,
    StartsWithCs,
    NotStartsWith,
    NotStartsWithCs,
    EndsWith,
    EndsWithCs,
    NotEndsWith,
    NotEndsWithCs,
    MatchesRegex,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    /// The operator as Kusto writes it.
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Eq => "==",
            Ne => "!=",
            EqCi => "=~",
            NeCi => "!~",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Has => "has",
            HasCs => "has_cs",
            NotHas => "!has",
            NotHasCs => "!has_cs",
            Contains => "contains",
            ContainsCs => "contains_cs",
            NotContains => "!contains",
            NotContainsCs => "!contains_cs",
            StartsWith => "startswith",
            StartsWithCs => "startswith_cs",
            NotStartsWith => "!startswith",
            NotStartsWithCs => "!startswith_cs",
            EndsWith => "endswith",
            EndsWithCs => "endswith_cs",
            NotEndsWith => "!endswith",
            NotEndsWithCs => "!endswith_cs",
            MatchesRegex => "matches regex",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
        }
    }

    /// The word operators (`has`, `!contains_cs`…), for the lexer.
    pub fn from_word(w: &str) -> Option<BinOp> {
        use BinOp::*;
        Some(match w {
            "has" => Has,
            "has_cs" => HasCs,
            "!has" => NotHas,
            "!has_cs" => NotHasCs,
            "contains" => Contains,
            "contains_cs" => ContainsCs,
            "!contains" => NotContains,
            "!contains_cs" => NotContainsCs,
            "startswith" => StartsWith,
            "startswith_cs" => StartsWithCs,
            "!startswith" => NotStartsWith,
            "!startswith_cs" => NotStartsWithCs,
            "endswith" => EndsWith,
            "endswith_cs" => EndsWithCs,
            "!endswith" => NotEndsWith,
            "!endswith_cs" => NotEndsWithCs,
            _ => return None,
        })
    }

    /// A string operator: its sides are read as strings.
    pub fn is_string_op(self) -> bool {
        use BinOp::*;
        !matches!(self, Eq | Ne | Lt | Le | Gt | Ge | Add | Sub | Mul | Div)
    }
}

/// The functions the parser accepts (others are a parse error).
pub const SCALAR_FUNCTIONS: &[&str] = &[
    "not",
    "isempty",
    "isnotempty",
    "isnull",
    "isnotnull",
    "tostring",
    "parse_json",
    "todynamic",
    "tolower",
    "toupper",
    "toreal",
    "todouble",
    "tolong",
    "toint",
    "strlen",
    "strcmp",
    "ipv4_is_in_range",
    "ipv6_is_in_range",
    "bin",
    "coalesce",
    "ago",
];

/// Aggregate functions accepted inside `summarize`.
pub const AGGREGATE_FUNCTIONS: &[&str] = &[
    "count",
    "dcount",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "minif",
    "maxif",
    "countif",
    "percentile",
];
