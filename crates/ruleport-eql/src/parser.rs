//! Recursive-descent parser for Elasticsearch EQL (not the Endgame dialect).

use crate::ast::{
    Body, EventQuery, Expr, PatternOp, Pipe, Query, SampleQuery, SequenceQuery, SubQuery,
};
use crate::lexer::{err, lex, Tok, Token};
use crate::lucene;
use ruleport_model::diag::did_you_mean;
use ruleport_model::{ArithOp, CmpOp, Diagnostic, Pos, TimeSpan};

/// Nesting limit for expressions (parentheses, `not`, calls, operator chains).
pub const MAX_DEPTH: usize = 256;

/// Stack kept free before recursing, and the size of each extra segment (see `stacker`).
pub(crate) const RED_ZONE: usize = 128 * 1024;
pub(crate) const STACK_CHUNK: usize = 2 * 1024 * 1024;

/// Words that cannot be bare field names.
const KEYWORDS: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "sample", "sequence", "true", "until", "where", "with",
];

/// Function names (lower case), their arity range, and whether a `~` form exists.
const FUNCTIONS: &[(&str, &str, usize, usize, bool)] = &[
    ("add", "add", 2, 2, false),
    ("between", "between", 3, 4, true),
    ("cidrmatch", "cidrMatch", 2, usize::MAX, false),
    ("concat", "concat", 1, usize::MAX, false),
    ("divide", "divide", 2, 2, false),
    ("endswith", "endsWith", 2, 2, true),
    ("indexof", "indexOf", 2, 3, true),
    ("length", "length", 1, 1, false),
    ("modulo", "modulo", 2, 2, false),
    ("multiply", "multiply", 2, 2, false),
    ("number", "number", 1, 2, false),
    ("startswith", "startsWith", 2, 2, true),
    ("string", "string", 1, 1, false),
    ("stringcontains", "stringContains", 2, 2, true),
    ("substring", "substring", 2, 3, false),
    ("subtract", "subtract", 2, 2, false),
];

/// Functions of the Endgame `eql` package that Elasticsearch does not have.
const ENDGAME_FUNCTIONS: &[&str] = &[
    "arraycontains",
    "arraycount",
    "arraysearch",
    "match",
    "matchlite",
    "wildcard",
    "safe",
];

/// The canonical spelling of a (lower-case) function name, for emitting.
pub(crate) fn canonical_function_name(lower: &str) -> Option<&'static str> {
    FUNCTIONS.iter().find(|f| f.0 == lower).map(|f| f.1)
}

/// Whether `word` is a reserved word that needs backticks as a field name.
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Parse Elasticsearch EQL text.
pub(crate) fn parse_query(text: &str) -> Result<Query, Diagnostic> {
    let toks = lex(text)?;
    let mut p = Parser {
        text,
        toks,
        i: 0,
        depth: 0,
    };
    let q = p.query()?;
    Ok(q)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

type PResult<T> = Result<T, Diagnostic>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn offset(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].start
    }

    fn pos(&self) -> Pos {
        Pos::from_offset(self.text, self.offset())
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn error(&self, code: &str, msg: impl Into<String>) -> Diagnostic {
        err(self.text, self.offset(), code, msg)
    }

    fn unexpected(&self, what: &str) -> Diagnostic {
        let found = describe(self.peek());
        self.error("eql-syntax", format!("expected {what}, found {found}"))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident { text, tilde: false } if text == w)
    }

    fn is_word_at(&self, n: usize, w: &str) -> bool {
        matches!(self.peek_at(n), Tok::Ident { text, tilde: false } if text == w)
    }

    fn expect_word(&mut self, w: &str) -> PResult<()> {
        if self.is_word(w) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{w}`")))
        }
    }

    fn expect(&mut self, t: Tok, what: &str) -> PResult<()> {
        if *self.peek() == t {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                "eql-too-deep",
                format!("expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn query(&mut self) -> PResult<Query> {
        if matches!(self.peek(), Tok::Eof) {
            return Err(self.error("eql-syntax", "empty query"));
        }
        let body = if self.is_word("sequence") {
            self.bump();
            Body::Sequence(self.sequence()?)
        } else if self.is_word("sample") {
            self.bump();
            Body::Sample(self.sample()?)
        } else if self.is_word("join") {
            return Err(self
                .error(
                    "eql-endgame-syntax",
                    "`join` is Endgame EQL; Elasticsearch EQL does not support joins",
                )
                .with_hint("use a `sequence` or `sample`"));
        } else {
            Body::Event(self.event_query()?)
        };
        let mut pipes = Vec::new();
        while matches!(self.peek(), Tok::Pipe) {
            self.bump();
            pipes.push(self.pipe()?);
        }
        if !matches!(self.peek(), Tok::Eof) {
            if matches!(self.peek(), Tok::Assign) {
                return Err(self.endgame_assign());
            }
            return Err(self.unexpected("end of query"));
        }
        Ok(Query { body, pipes })
    }

    fn endgame_assign(&self) -> Diagnostic {
        self.error(
            "eql-endgame-syntax",
            "`=` is not an operator in Elasticsearch EQL",
        )
        .with_hint("use `==` (case-sensitive) or `:` (case-insensitive)")
    }

    fn pipe(&mut self) -> PResult<Pipe> {
        let at = self.offset();
        let Tok::Ident { text: name, .. } = self.bump() else {
            return Err(err(
                self.text,
                at,
                "eql-syntax",
                "expected a pipe name after `|`",
            ));
        };
        match name.as_str() {
            "head" | "tail" => {
                let n = match self.peek() {
                    Tok::Int(n) if *n >= 0 => *n as u64,
                    _ => return Err(self.unexpected(&format!("a non-negative integer after `{name}`"))),
                };
                self.bump();
                Ok(if name == "head" { Pipe::Head(n) } else { Pipe::Tail(n) })
            }
            "count" | "unique" | "unique_count" | "filter" | "sort" | "window" => Err(err(
                self.text,
                at,
                "eql-unsupported-pipe",
                format!("the `{name}` pipe is Endgame EQL; Elasticsearch EQL supports only `head` and `tail`"),
            )),
            _ => Err(err(self.text, at, "eql-unsupported-pipe", format!("unknown pipe `{name}`"))
                .with_hint("Elasticsearch EQL supports only `head` and `tail`")),
        }
    }

    fn event_query(&mut self) -> PResult<EventQuery> {
        let pos = self.pos();
        let category = match self.bump() {
            Tok::Ident { text, tilde: false } if text == "any" => None,
            Tok::Ident { text, tilde: false } if !is_keyword(&text) => Some(text),
            Tok::Str { value, .. } => Some(value),
            _ => {
                self.i = self.i.saturating_sub(1);
                return Err(self.unexpected("an event category (or `any`) followed by `where`"));
            }
        };
        self.expect_word("where")?;
        let (condition, _) = self.expr()?;
        Ok(EventQuery {
            category,
            condition,
            pos,
        })
    }

    fn join_keys(&mut self) -> PResult<Vec<Expr>> {
        let mut keys = vec![self.expr()?.0];
        while matches!(self.peek(), Tok::Comma) {
            self.bump();
            keys.push(self.expr()?.0);
        }
        Ok(keys)
    }

    fn sequence(&mut self) -> PResult<SequenceQuery> {
        let mut by = Vec::new();
        let mut maxspan = None;
        if self.is_word("by") {
            self.bump();
            by = self.join_keys()?;
        }
        if self.is_word("with") {
            self.bump();
            self.expect_word("maxspan")?;
            self.expect(Tok::Assign, "`=` after `maxspan`")?;
            maxspan = Some(self.time_span()?);
            if self.is_word("by") {
                return Err(self
                    .error("eql-syntax", "`by` must come before `with maxspan`")
                    .with_hint("write `sequence by k with maxspan=…`"));
            }
        }
        let mut steps = Vec::new();
        while matches!(self.peek(), Tok::LBracket | Tok::BangBracket)
            || (matches!(self.peek(), Tok::Minus) && matches!(self.peek_at(1), Tok::LBracket))
        {
            steps.push(self.sub_query(true)?);
        }
        let mut until = None;
        if self.is_word("until") {
            let at = self.offset();
            self.bump();
            let u = self.sub_query(false)?;
            if u.missing || u.runs != 1 {
                return Err(err(
                    self.text,
                    at,
                    "eql-syntax",
                    "`until` takes a plain `[…]` event query",
                ));
            }
            until = Some(u);
        }
        if steps.iter().map(|s| s.runs as usize).sum::<usize>() < 2 {
            return Err(self.error(
                "eql-syntax",
                "a sequence needs at least two `[…]` event queries (counting `runs`)",
            ));
        }
        let positives = steps.iter().filter(|s| !s.missing).count();
        if positives == 0 {
            return Err(self.error(
                "eql-syntax",
                "a sequence needs at least one event query that is not missing (`![…]`)",
            ));
        }
        if positives < steps.len() && maxspan.is_none() {
            return Err(self.error(
                "eql-syntax",
                "missing-event queries (`![…]`) need `with maxspan`",
            ));
        }
        Ok(SequenceQuery {
            by,
            maxspan,
            steps,
            until,
        })
    }

    fn sample(&mut self) -> PResult<SampleQuery> {
        let mut by = Vec::new();
        if self.is_word("by") {
            self.bump();
            by = self.join_keys()?;
        }
        if self.is_word("with") {
            return Err(self.error(
                "eql-syntax",
                "samples do not support `with maxspan` or `with runs`",
            ));
        }
        let mut steps = Vec::new();
        while matches!(self.peek(), Tok::LBracket | Tok::BangBracket)
            || (matches!(self.peek(), Tok::Minus) && matches!(self.peek_at(1), Tok::LBracket))
        {
            let at = self.offset();
            let st = self.sub_query(false)?;
            if st.missing {
                return Err(err(
                    self.text,
                    at,
                    "eql-syntax",
                    "samples do not support missing-event queries",
                ));
            }
            steps.push(st);
        }
        if self.is_word("until") {
            return Err(self.error("eql-syntax", "samples do not support `until`"));
        }
        if steps.len() < 2 {
            return Err(self.error(
                "eql-syntax",
                "a sample needs at least two `[…]` event queries",
            ));
        }
        Ok(SampleQuery { by, steps })
    }

    fn sub_query(&mut self, allow_runs: bool) -> PResult<SubQuery> {
        let missing = match self.bump() {
            Tok::LBracket => false,
            Tok::BangBracket => true,
            Tok::Minus => {
                self.bump();
                true
            }
            _ => {
                self.i = self.i.saturating_sub(1);
                return Err(self.unexpected("`[`"));
            }
        };
        let query = self.event_query()?;
        self.expect(Tok::RBracket, "`]`")?;
        if self.is_word("fork") || self.is_word("as") {
            return Err(self.error(
                "eql-endgame-syntax",
                "`fork` and `as` aliases are Endgame EQL",
            ));
        }
        let mut by = Vec::new();
        if self.is_word("by") {
            self.bump();
            by = self.join_keys()?;
        }
        let mut runs = 1;
        if self.is_word("with") && !self.is_word_at(1, "maxspan") {
            let at = self.offset();
            self.bump();
            if !allow_runs {
                return Err(err(
                    self.text,
                    at,
                    "eql-syntax",
                    "`with runs` is only allowed in sequences",
                ));
            }
            self.expect_word("runs")?;
            self.expect(Tok::Assign, "`=` after `runs`")?;
            let n = match self.peek() {
                Tok::Int(n) if (1..=100).contains(n) => *n as u32,
                _ => {
                    return Err(self.error("eql-syntax", "`runs` must be an integer from 1 to 100"))
                }
            };
            self.bump();
            runs = n;
        }
        Ok(SubQuery {
            query,
            by,
            runs,
            missing,
        })
    }

    fn time_span(&mut self) -> PResult<TimeSpan> {
        let at = self.offset();
        let n = match self.bump() {
            Tok::Int(n) if n >= 0 => n as u64,
            _ => {
                return Err(err(
                    self.text,
                    at,
                    "eql-syntax",
                    "expected a time span such as `30s` after `maxspan=`",
                ))
            }
        };
        let unit_at = self.offset();
        let unit = match self.peek() {
            Tok::Ident { text, tilde: false } => text.clone(),
            _ => {
                return Err(err(
                    self.text,
                    at,
                    "eql-syntax",
                    "a `maxspan` needs a time unit (ms, s, m, h or d)",
                ))
            }
        };
        self.bump();
        let mult: u64 = match unit.as_str() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(err(
                    self.text,
                    unit_at,
                    "eql-syntax",
                    format!("unknown time unit `{unit}`"),
                )
                .with_hint("use ms, s, m, h or d"))
            }
        };
        n.checked_mul(mult)
            .map(TimeSpan::from_millis)
            .ok_or_else(|| err(self.text, at, "eql-syntax", "time span is out of range"))
    }

    // ---- expressions: each returns the tree and its depth ----

    fn expr(&mut self) -> PResult<(Expr, usize)> {
        self.or()
    }

    fn or(&mut self) -> PResult<(Expr, usize)> {
        let (first, mut d) = self.and()?;
        if !self.is_word("or") {
            return Ok((first, d));
        }
        let mut items = vec![first];
        while self.is_word("or") {
            self.bump();
            let (e, de) = self.and()?;
            d = d.max(de);
            items.push(e);
        }
        Ok((Expr::Or(items), d + 1))
    }

    fn and(&mut self) -> PResult<(Expr, usize)> {
        let (first, mut d) = self.not()?;
        if !self.is_word("and") {
            return Ok((first, d));
        }
        let mut items = vec![first];
        while self.is_word("and") {
            self.bump();
            let (e, de) = self.not()?;
            d = d.max(de);
            items.push(e);
        }
        Ok((Expr::And(items), d + 1))
    }

    fn not(&mut self) -> PResult<(Expr, usize)> {
        stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || self.not_inner())
    }

    fn not_inner(&mut self) -> PResult<(Expr, usize)> {
        if self.is_word("not") {
            self.bump();
            self.enter()?;
            let (e, d) = self.not()?;
            self.leave();
            return Ok((Expr::Not(Box::new(e)), d + 1));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> PResult<(Expr, usize)> {
        let (left, dl) = self.sum()?;
        let cmp = match self.peek() {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            Tok::Assign => return Err(self.endgame_assign()),
            _ => None,
        };
        if let Some(op) = cmp {
            self.bump();
            let (right, dr) = self.sum()?;
            if matches!(
                self.peek(),
                Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
            ) {
                return Err(self
                    .error("eql-syntax", "comparisons cannot be chained")
                    .with_hint("combine them with `and`"));
            }
            return Ok((
                Expr::Compare {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                dl.max(dr) + 1,
            ));
        }
        let pattern_op = match self.peek() {
            Tok::Colon => Some(PatternOp::Colon),
            Tok::Ident { text, tilde } if text == "like" => Some(if *tilde {
                PatternOp::LikeInsensitive
            } else {
                PatternOp::Like
            }),
            Tok::Ident { text, tilde } if text == "regex" => Some(if *tilde {
                PatternOp::RegexInsensitive
            } else {
                PatternOp::Regex
            }),
            _ => None,
        };
        if let Some(op) = pattern_op {
            self.bump();
            let patterns = self.patterns(op)?;
            return Ok((
                Expr::Pattern {
                    op,
                    value: Box::new(left),
                    patterns,
                },
                dl + 1,
            ));
        }
        let negated = self.is_word("not")
            && matches!(self.peek_at(1), Tok::Ident { text, .. } if text == "in");
        if negated {
            self.bump();
        }
        if let Tok::Ident { text, tilde } = self.peek() {
            if text == "in" {
                let insensitive = *tilde;
                self.bump();
                self.expect(Tok::LParen, "`(` after `in`")?;
                let mut items = Vec::new();
                let mut d = dl;
                loop {
                    let at = self.offset();
                    let (e, de) = self.expr()?;
                    if !e.is_constant() {
                        return Err(err(
                            self.text,
                            at,
                            "eql-syntax",
                            "the values of `in (…)` must be constants",
                        ));
                    }
                    d = d.max(de);
                    items.push(e);
                    if matches!(self.peek(), Tok::Comma) {
                        self.bump();
                        continue;
                    }
                    break;
                }
                self.expect(Tok::RParen, "`)` or `,`")?;
                return Ok((
                    Expr::In {
                        value: Box::new(left),
                        items,
                        insensitive,
                        negated,
                    },
                    d + 1,
                ));
            }
            if text == "of" {
                return Err(self.error(
                    "eql-endgame-syntax",
                    "lineage (`descendant of`, `child of`, `event of`) is Endgame EQL",
                ));
            }
        }
        Ok((left, dl))
    }

    fn patterns(&mut self, op: PatternOp) -> PResult<Vec<String>> {
        let mut out = Vec::new();
        let list = matches!(self.peek(), Tok::LParen);
        if list {
            self.bump();
        }
        loop {
            let at = self.offset();
            match self.bump() {
                Tok::Str { value, .. } => {
                    if op.is_regex() {
                        lucene::to_rust(&value).map_err(|e| {
                            err(
                                self.text,
                                at,
                                "eql-regex",
                                format!("unsupported regular expression: {e}"),
                            )
                        })?;
                    }
                    out.push(value);
                }
                _ => {
                    return Err(err(
                        self.text,
                        at,
                        "eql-syntax",
                        format!("`{}` needs a string pattern", op.symbol()),
                    ))
                }
            }
            if !list {
                break;
            }
            if matches!(self.peek(), Tok::Comma) {
                self.bump();
                continue;
            }
            self.expect(Tok::RParen, "`)` or `,`")?;
            break;
        }
        Ok(out)
    }

    fn sum(&mut self) -> PResult<(Expr, usize)> {
        let (mut left, mut d) = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ArithOp::Add,
                Tok::Minus if !matches!(self.peek_at(1), Tok::LBracket) => ArithOp::Sub,
                _ => break,
            };
            self.bump();
            let (right, dr) = self.product()?;
            d = d.max(dr) + 1;
            if d > MAX_DEPTH {
                return Err(self.error(
                    "eql-too-deep",
                    format!("expression nests deeper than {MAX_DEPTH} levels"),
                ));
            }
            left = Expr::Arith {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok((left, d))
    }

    fn product(&mut self) -> PResult<(Expr, usize)> {
        let (mut left, mut d) = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                Tok::Percent => ArithOp::Mod,
                _ => break,
            };
            self.bump();
            let (right, dr) = self.unary()?;
            d = d.max(dr) + 1;
            if d > MAX_DEPTH {
                return Err(self.error(
                    "eql-too-deep",
                    format!("expression nests deeper than {MAX_DEPTH} levels"),
                ));
            }
            left = Expr::Arith {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok((left, d))
    }

    fn unary(&mut self) -> PResult<(Expr, usize)> {
        stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || self.unary_inner())
    }

    fn unary_inner(&mut self) -> PResult<(Expr, usize)> {
        match self.peek() {
            Tok::Minus => {
                self.bump();
                self.enter()?;
                let (e, d) = self.unary()?;
                self.leave();
                let neg = match e {
                    Expr::Int(i) => Expr::Int(i.wrapping_neg()),
                    Expr::Float(f) => Expr::Float(-f),
                    other => Expr::Neg(Box::new(other)),
                };
                Ok((neg, d + 1))
            }
            Tok::Plus => {
                self.bump();
                self.enter()?;
                let r = self.unary();
                self.leave();
                r
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> PResult<(Expr, usize)> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Int(i) => {
                self.bump();
                Ok((Expr::Int(i), 1))
            }
            Tok::Float(f) => {
                self.bump();
                Ok((Expr::Float(f), 1))
            }
            Tok::Str { value, .. } => {
                self.bump();
                Ok((Expr::Str(value), 1))
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let (e, d) = self.expr()?;
                self.leave();
                self.expect(Tok::RParen, "`)`")?;
                Ok((e, d + 1))
            }
            Tok::Question => {
                self.bump();
                let name = self.field_name()?;
                Ok((
                    Expr::Field {
                        name,
                        optional: true,
                    },
                    1,
                ))
            }
            Tok::Quoted(name) => {
                self.bump();
                Ok((
                    Expr::Field {
                        name,
                        optional: false,
                    },
                    1,
                ))
            }
            Tok::Ident { text, tilde } => {
                if matches!(self.peek_at(1), Tok::LParen) {
                    return self.call(at, &text, tilde);
                }
                if tilde {
                    return Err(self.error("eql-syntax", format!("unexpected `~` after `{text}`")));
                }
                match text.as_str() {
                    "true" => {
                        self.bump();
                        Ok((Expr::Bool(true), 1))
                    }
                    "false" => {
                        self.bump();
                        Ok((Expr::Bool(false), 1))
                    }
                    "null" => {
                        self.bump();
                        Ok((Expr::Null, 1))
                    }
                    "descendant" | "child" | "event" if self.is_word_at(1, "of") => Err(self
                        .error(
                            "eql-endgame-syntax",
                            "lineage (`descendant of`, `child of`, `event of`) is Endgame EQL",
                        )),
                    _ => {
                        let name = self.field_name()?;
                        Ok((
                            Expr::Field {
                                name,
                                optional: false,
                            },
                            1,
                        ))
                    }
                }
            }
            _ => Err(self.unexpected("a value, field or `(`")),
        }
    }

    fn field_name(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Quoted(name) => {
                self.bump();
                Ok(name)
            }
            Tok::Ident { text, tilde: false } => {
                if is_keyword(&text) {
                    return Err(self
                        .error(
                            "eql-syntax",
                            format!("`{text}` is a keyword, not a field name"),
                        )
                        .with_hint(format!(
                            "escape a field named `{text}` with backticks: `{text}`"
                        )));
                }
                self.bump();
                Ok(text)
            }
            _ => Err(self.unexpected("a field name")),
        }
    }

    fn call(&mut self, at: usize, name: &str, tilde: bool) -> PResult<(Expr, usize)> {
        let lower = name.to_ascii_lowercase();
        let Some(&(_, canon, min, max, ci_ok)) = FUNCTIONS.iter().find(|f| f.0 == lower) else {
            if ENDGAME_FUNCTIONS.contains(&lower.as_str()) {
                return Err(err(
                    self.text,
                    at,
                    "eql-unknown-function",
                    format!(
                        "`{name}` is an Endgame EQL function that Elasticsearch does not support"
                    ),
                ));
            }
            let mut d = err(
                self.text,
                at,
                "eql-unknown-function",
                format!("unknown function `{name}`"),
            );
            if let Some(s) = did_you_mean(name, FUNCTIONS.iter().map(|f| f.1)) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            return Err(d);
        };
        if tilde && !ci_ok {
            return Err(err(
                self.text,
                at,
                "eql-syntax",
                format!("`{canon}` has no case-insensitive `~` form"),
            ));
        }
        self.bump();
        self.expect(Tok::LParen, "`(`")?;
        self.enter()?;
        let mut args = Vec::new();
        let mut d = 0;
        if !matches!(self.peek(), Tok::RParen) {
            loop {
                let (e, de) = self.expr()?;
                d = d.max(de);
                args.push(e);
                if matches!(self.peek(), Tok::Comma) {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        self.leave();
        self.expect(Tok::RParen, "`)` or `,`")?;
        if args.len() < min || args.len() > max {
            let expect = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(err(
                self.text,
                at,
                "eql-function-arity",
                format!("`{canon}` takes {expect} arguments, got {}", args.len()),
            ));
        }
        Ok((
            Expr::Call {
                name: lower,
                insensitive: tilde,
                args,
            },
            d + 1,
        ))
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident { text, tilde } => format!("`{text}{}`", if *tilde { "~" } else { "" }),
        Tok::Quoted(s) => format!("`{s}`"),
        Tok::Str { .. } => "a string".into(),
        Tok::Int(i) => format!("`{i}`"),
        Tok::Float(f) => format!("`{f}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::BangBracket => "`![`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Pipe => "`|`".into(),
        Tok::Eq => "`==`".into(),
        Tok::Ne => "`!=`".into(),
        Tok::Lt => "`<`".into(),
        Tok::Le => "`<=`".into(),
        Tok::Gt => "`>`".into(),
        Tok::Ge => "`>=`".into(),
        Tok::Colon => "`:`".into(),
        Tok::Assign => "`=`".into(),
        Tok::Plus => "`+`".into(),
        Tok::Minus => "`-`".into(),
        Tok::Star => "`*`".into(),
        Tok::Slash => "`/`".into(),
        Tok::Percent => "`%`".into(),
        Tok::Question => "`?`".into(),
        Tok::Eof => "end of query".into(),
    }
}
