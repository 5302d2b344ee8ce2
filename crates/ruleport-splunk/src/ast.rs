//! The SPL subset ruleport emits and reads back: a pipeline of commands.

/// A whole search: the base `search` and the commands piped after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub commands: Vec<Command>,
}

/// One pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `search <expr>` (implicit for the first stage); a bare `*` keyword matches every event.
    Search(SearchExpr),
    /// `where <eval-expr>`: keeps results whose expression is true.
    Where(EvalExpr),
    /// `regex <field>="<pcre>"` or `<field>!="<pcre>"`.
    Regex {
        field: String,
        negated: bool,
        pattern: String,
    },
    /// `eval a=<expr>, b=<expr>`.
    Eval(Vec<(String, EvalExpr)>),
    /// `stats`, `eventstats`, `streamstats`.
    Stats(StatsCommand),
    /// `bin <field> span=<secs>` (also `bucket`).
    Bin { field: String, span_secs: u64 },
    /// `sort 0 [+|-]field …`: `true` means descending.
    Sort(Vec<(String, bool)>),
    /// `dedup f1 f2 …`: keeps the first result of each combination.
    Dedup(Vec<String>),
    /// `| tstats … from datamodel=… [where …] [by …]`: only as the first command.
    Tstats(TstatsCommand),
}

/// `tstats` over a CIM data model: rows of the dataset filtered by `filter` (search terms with
/// eval precedence: NOT, AND, OR), grouped by `by`.
#[derive(Debug, Clone, PartialEq)]
pub struct TstatsCommand {
    pub summaries_only: bool,
    pub allow_old_summaries: bool,
    /// `fillnull_value=…`: the value of a null by-field (without it such rows are dropped).
    pub fillnull_value: Option<String>,
    pub aggs: Vec<Agg>,
    /// `datamodel=Endpoint.Processes`.
    pub datamodel: String,
    pub filter: Option<SearchExpr>,
    pub by: Vec<String>,
}

/// Which statistics command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsKind {
    Stats,
    EventStats,
    StreamStats,
}

impl StatsKind {
    pub fn name(self) -> &'static str {
        match self {
            StatsKind::Stats => "stats",
            StatsKind::EventStats => "eventstats",
            StatsKind::StreamStats => "streamstats",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatsCommand {
    pub kind: StatsKind,
    /// `streamstats time_window=<span>` in seconds.
    pub time_window_secs: Option<u64>,
    /// `streamstats current=f` excludes the current result from its own statistics.
    pub current: bool,
    pub aggs: Vec<Agg>,
    pub by: Vec<String>,
}

/// One statistics function with its output name.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    pub func: AggFunc,
    /// The input field (`None` for plain `count`).
    pub field: Option<String>,
    /// The output field (`AS name`, or Splunk's default such as `count` or `dc(f)`).
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    DistinctCount,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggFunc {
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::DistinctCount => "dc",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// The `search` command's boolean language.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchExpr {
    And(Vec<SearchExpr>),
    Or(Vec<SearchExpr>),
    Not(Box<SearchExpr>),
    Term(SearchTerm),
}

/// Comparison operators of `search` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl SearchOp {
    pub fn symbol(self) -> &'static str {
        match self {
            SearchOp::Eq => "=",
            SearchOp::Ne => "!=",
            SearchOp::Lt => "<",
            SearchOp::Le => "<=",
            SearchOp::Gt => ">",
            SearchOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchTerm {
    /// `field<op>value`.
    Field {
        field: String,
        op: SearchOp,
        value: SearchValue,
    },
    /// `field IN (v1, v2, …)`.
    In {
        field: String,
        values: Vec<SearchValue>,
    },
    /// A field-less term or phrase matched against the raw event.
    Keyword(SearchValue),
}

/// A value in a `search` term: text with `*` wildcards.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchValue {
    pub pieces: Vec<ValuePiece>,
    /// Written in double quotes.
    pub quoted: bool,
    /// Wrapped in `CASE(…)`: matched case-sensitively.
    pub case_sensitive: bool,
    /// Wrapped in `TERM(…)`.
    pub term: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePiece {
    Lit(String),
    Star,
}

impl SearchValue {
    /// The text when the value has no wildcard.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                ValuePiece::Lit(s) => out.push_str(s),
                ValuePiece::Star => return None,
            }
        }
        Some(out)
    }
}

/// `eval`/`where` expressions (eval precedence: NOT, then AND, then OR).
#[derive(Debug, Clone, PartialEq)]
pub enum EvalExpr {
    Or(Box<EvalExpr>, Box<EvalExpr>),
    And(Box<EvalExpr>, Box<EvalExpr>),
    Not(Box<EvalExpr>),
    Cmp(CmpOp, Box<EvalExpr>, Box<EvalExpr>),
    Arith(ArithOp, Box<EvalExpr>, Box<EvalExpr>),
    Neg(Box<EvalExpr>),
    Field(String),
    Str(String),
    Num(f64),
    Call(Func, Vec<EvalExpr>),
    /// `searchmatch("…")` with its string already parsed as a search.
    SearchMatch(Box<SearchExpr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `.` string concatenation.
    Concat,
}

/// The eval functions the subset knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Like,
    Match,
    Cidrmatch,
    Isnull,
    Isnotnull,
    Lower,
    Tonumber,
    Len,
    If,
    Case,
    Coalesce,
    True,
    False,
    Null,
}

impl Func {
    pub const ALL: [Func; 14] = [
        Func::Like,
        Func::Match,
        Func::Cidrmatch,
        Func::Isnull,
        Func::Isnotnull,
        Func::Lower,
        Func::Tonumber,
        Func::Len,
        Func::If,
        Func::Case,
        Func::Coalesce,
        Func::True,
        Func::False,
        Func::Null,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Like => "like",
            Func::Match => "match",
            Func::Cidrmatch => "cidrmatch",
            Func::Isnull => "isnull",
            Func::Isnotnull => "isnotnull",
            Func::Lower => "lower",
            Func::Tonumber => "tonumber",
            Func::Len => "len",
            Func::If => "if",
            Func::Case => "case",
            Func::Coalesce => "coalesce",
            Func::True => "true",
            Func::False => "false",
            Func::Null => "null",
        }
    }

    /// Allowed argument counts (min, max; `usize::MAX` for variadic).
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Like | Func::Match | Func::Cidrmatch => (2, 2),
            Func::Isnull | Func::Isnotnull | Func::Lower | Func::Tonumber | Func::Len => (1, 1),
            Func::If => (3, 3),
            Func::Case => (2, usize::MAX),
            Func::Coalesce => (1, usize::MAX),
            Func::True | Func::False | Func::Null => (0, 0),
        }
    }
}
