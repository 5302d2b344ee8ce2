//! A parser for the Kusto subset in [`crate::ast`]. Anything outside the subset is an error
//! with a 1-based line and column, never a silent pass.

use crate::ast::{
    BinOp, Expr, Literal, Named, Query, Source, Stage, AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS,
};
use ruleport_model::{Diagnostic, Pos};

/// Nesting limit for parentheses, calls and subqueries.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `['name']` / `["name"]`.
    QuotedName(String),
    Str(String),
    Long(i64),
    Real(f64),
    Timespan(i64),
    /// `!has`, `!contains_cs`, `!in`, `!in~`…
    BangWord(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
}

fn err(text: &str, offset: usize, code: &str, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, msg).at(Pos::from_offset(text, offset))
}

const SYMBOLS: &[&str] = &[
    "==", "!=", "=~", "!~", "<=", ">=", "..", "|", "(", ")", "[", "]", ",", ".", "=", "<", ">",
    "*", "+", "-", "/", "~",
];

fn lex(text: &str) -> Result<Vec<Token>, Diagnostic> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        // Quoted names: `['x']`, `["x"]` (only where a name can start: decided by the parser).
        if c == b'[' {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            let starts_string = match bytes.get(j) {
                Some(b'\'') | Some(b'"') => true,
                Some(b'@') => matches!(bytes.get(j + 1), Some(b'"') | Some(b'\'')),
                _ => false,
            };
            if starts_string {
                let (s, end) = lex_string(text, j)?;
                let mut k = end;
                while k < bytes.len() && (bytes[k] == b' ' || bytes[k] == b'\t') {
                    k += 1;
                }
                if k < bytes.len() && bytes[k] == b']' {
                    out.push(Token {
                        tok: Tok::QuotedName(s),
                        start,
                    });
                    i = k + 1;
                    continue;
                }
                return Err(err(
                    text,
                    k,
                    "E-KQL-SYNTAX",
                    "expected `]` after a quoted name",
                ));
            }
        }
        if c == b'"'
            || c == b'\''
            || (c == b'@' && matches!(bytes.get(i + 1), Some(b'"') | Some(b'\'')))
        {
            let (s, end) = lex_string(text, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                start,
            });
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            let (tok, end) = lex_number(text, i)?;
            out.push(Token { tok, start });
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let mut j = i + 1;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric()
                    || bytes[j] == b'_'
                    || bytes[j] == b'-' && is_dashed_word(text, i, j))
            {
                j += 1;
            }
            out.push(Token {
                tok: Tok::Ident(text[i..j].to_string()),
                start,
            });
            i = j;
            continue;
        }
        if c == b'!' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'~' {
                j += 1;
            }
            out.push(Token {
                tok: Tok::BangWord(text[i..j].to_string()),
                start,
            });
            i = j;
            continue;
        }
        match SYMBOLS.iter().find(|s| text[i..].starts_with(**s)) {
            Some(s) => {
                out.push(Token {
                    tok: Tok::Sym(s),
                    start,
                });
                i += s.len();
            }
            None => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(
                    text,
                    i,
                    "E-KQL-SYNTAX",
                    format!("unexpected character `{ch}`"),
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        start: text.len(),
    });
    Ok(out)
}

/// `mv-apply`, `project-away`: operator names with a dash (the only dashed words we lex).
fn is_dashed_word(text: &str, start: usize, dash: usize) -> bool {
    let word = &text[start..dash];
    matches!(word, "mv" | "project")
        && text[dash + 1..].starts_with(|c: char| c.is_ascii_alphabetic())
}

fn lex_number(text: &str, i: usize) -> Result<(Tok, usize), Diagnostic> {
    let bytes = text.as_bytes();
    let mut j = i;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    let mut is_real = false;
    if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
        is_real = true;
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
    }
    if j < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
        let mut k = j + 1;
        if k < bytes.len() && (bytes[k] == b'+' || bytes[k] == b'-') {
            k += 1;
        }
        if k < bytes.len() && bytes[k].is_ascii_digit() {
            is_real = true;
            j = k;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
        }
    }
    let num = &text[i..j];
    // Timespan suffixes.
    let mut k = j;
    while k < bytes.len() && bytes[k].is_ascii_alphabetic() {
        k += 1;
    }
    let suffix = &text[j..k];
    if !suffix.is_empty() {
        let mult: f64 = match suffix {
            "d" | "day" | "days" => 86_400_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
            "m" | "min" | "minute" | "minutes" => 60_000.0,
            "s" | "sec" | "second" | "seconds" => 1_000.0,
            "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1.0,
            _ => {
                return Err(err(
                    text,
                    j,
                    "E-KQL-SYNTAX",
                    format!("unknown number suffix `{suffix}`"),
                ))
            }
        };
        let v: f64 = num
            .parse()
            .map_err(|_| err(text, i, "E-KQL-SYNTAX", format!("bad number `{num}`")))?;
        return Ok((Tok::Timespan((v * mult).round() as i64), k));
    }
    if is_real {
        let v: f64 = num
            .parse()
            .map_err(|_| err(text, i, "E-KQL-SYNTAX", format!("bad number `{num}`")))?;
        Ok((Tok::Real(v), j))
    } else {
        let v: i64 = num.parse().map_err(|_| {
            err(
                text,
                i,
                "E-KQL-SYNTAX",
                format!("number `{num}` out of range"),
            )
        })?;
        Ok((Tok::Long(v), j))
    }
}

/// A string literal at byte `i`: returns the value and the end offset.
fn lex_string(text: &str, i: usize) -> Result<(String, usize), Diagnostic> {
    let bytes = text.as_bytes();
    let verbatim = bytes[i] == b'@';
    let qpos = if verbatim { i + 1 } else { i };
    let quote = bytes[qpos] as char;
    let mut out = String::new();
    let mut iter = text[qpos + 1..].char_indices().peekable();
    let base = qpos + 1;
    while let Some((off, c)) = iter.next() {
        let at = base + off;
        if c == '\n' || c == '\r' {
            return Err(err(
                text,
                at,
                "E-KQL-STRING",
                "line break inside a string literal",
            ));
        }
        if c == quote {
            if verbatim && iter.peek().is_some_and(|(_, n)| *n == quote) {
                iter.next();
                out.push(quote);
                continue;
            }
            return Ok((out, at + 1));
        }
        if c == '\\' && !verbatim {
            let Some((_, e)) = iter.next() else {
                break;
            };
            match e {
                '\\' | '"' | '\'' => out.push(e),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{C}'),
                'v' => out.push('\u{B}'),
                'u' | 'x' => {
                    let n = if e == 'u' { 4 } else { 2 };
                    let mut hex = String::new();
                    for _ in 0..n {
                        match iter.next() {
                            Some((_, h)) if h.is_ascii_hexdigit() => hex.push(h),
                            _ => return Err(err(text, at, "E-KQL-STRING", format!("bad `\\{e}` escape"))),
                        }
                    }
                    let unit = u32::from_str_radix(&hex, 16).unwrap_or(0);
                    if (0xD800..0xDC00).contains(&unit) {
                        // A high surrogate must be followed by `\uDC00`-`\uDFFF`.
                        let mut low = String::new();
                        let ok = matches!(iter.next(), Some((_, '\\'))) && matches!(iter.next(), Some((_, 'u')));
                        for _ in 0..4 {
                            if let Some((_, h)) = iter.next() {
                                low.push(h);
                            }
                        }
                        let lo = u32::from_str_radix(&low, 16).ok().filter(|l| (0xDC00..0xE000).contains(l));
                        match (ok, lo) {
                            (true, Some(lo)) => {
                                let cp = 0x10000 + ((unit - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            }
                            _ => return Err(err(text, at, "E-KQL-STRING", "unpaired surrogate escape")),
                        }
                    } else {
                        match char::from_u32(unit) {
                            Some(ch) => out.push(ch),
                            None => return Err(err(text, at, "E-KQL-STRING", "unpaired surrogate escape")),
                        }
                    }
                }
                other => {
                    return Err(err(
                        text,
                        at,
                        "E-KQL-STRING",
                        format!("`\\{other}` is not a Kusto escape"),
                    )
                    .with_hint("escape only quotes, `\\\\`, `\\n`, `\\r`, `\\t` and `\\uXXXX`, or use a verbatim @\"…\" string"))
                }
            }
            continue;
        }
        out.push(c);
    }
    Err(err(text, i, "E-KQL-STRING", "unterminated string literal"))
}

struct Parser<'t> {
    text: &'t str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Stack for the parser thread: recursive descent in debug builds needs more than the 2 MiB a
/// test thread has at the nesting limit.
const PARSER_STACK: usize = 64 << 20;

/// Nesting can only deepen at `(`, `[` and unary `-`; with this few of them the parser stays
/// shallow on any thread's stack.
const SHALLOW_OPENERS: usize = 32;

/// Parse a whole query (deep input on a thread with a known stack size, so it cannot overflow).
pub fn parse(text: &str) -> Result<Query, Diagnostic> {
    // Starting a thread per query was 6 % of converting the Elastic corpus, which parses every
    // port back; nearly every query is shallow.
    let openers = text
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'-'))
        .take(SHALLOW_OPENERS + 1)
        .count();
    if openers <= SHALLOW_OPENERS {
        return parse_here(text);
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("kusto-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, || parse_here(text))
            .map_err(|e| {
                Diagnostic::error("E-KQL-INTERNAL", format!("cannot start the parser: {e}"))
            })?
            .join()
            .map_err(|_| Diagnostic::error("E-KQL-INTERNAL", "the parser failed"))?
    })
}

fn parse_here(text: &str) -> Result<Query, Diagnostic> {
    let toks = lex(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    let q = p.query()?;
    match p.peek() {
        Tok::Eof => Ok(q),
        _ => Err(p.error_here("unexpected text after the query")),
    }
}

impl<'t> Parser<'t> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].start
    }

    fn bump(&mut self) -> Tok {
        if self.pos < self.toks.len() - 1 {
            // The parser never moves back, so the token is taken rather than cloned.
            let t = std::mem::replace(&mut self.toks[self.pos].tok, Tok::Eof);
            self.pos += 1;
            t
        } else {
            self.peek().clone()
        }
    }

    fn error_here(&self, msg: impl Into<String>) -> Diagnostic {
        err(self.text, self.offset(), "E-KQL-SYNTAX", msg)
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == w)
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), Diagnostic> {
        if self.is_sym(s) {
            self.bump();
            Ok(())
        } else {
            Err(self.error_here(format!("expected `{s}`")))
        }
    }

    fn enter(&mut self) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                self.text,
                self.offset(),
                "E-KQL-DEPTH",
                "query nested too deeply",
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn query(&mut self) -> Result<Query, Diagnostic> {
        self.enter()?;
        let source = self.source()?;
        let mut stages = Vec::new();
        while self.is_sym("|") {
            self.bump();
            stages.push(self.stage()?);
        }
        self.leave();
        Ok(Query { source, stages })
    }

    fn source(&mut self) -> Result<Source, Diagnostic> {
        if self.is_word("union") {
            self.bump();
            let mut legs = Vec::new();
            loop {
                if self.is_sym("(") {
                    self.bump();
                    legs.push(self.query()?);
                    self.expect_sym(")")?;
                } else {
                    let name = self.name()?;
                    legs.push(Query {
                        source: Source::Table(name),
                        stages: Vec::new(),
                    });
                }
                if self.is_sym(",") {
                    self.bump();
                } else {
                    break;
                }
            }
            return Ok(Source::Union(legs));
        }
        let name = self.name()?;
        Ok(Source::Table(name))
    }

    fn name(&mut self) -> Result<String, Diagnostic> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::QuotedName(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.error_here("expected a name")),
        }
    }

    fn stage(&mut self) -> Result<Stage, Diagnostic> {
        let Tok::Ident(word) = self.peek().clone() else {
            return Err(self.error_here("expected an operator after `|`"));
        };
        match word.as_str() {
            "where" | "filter" => {
                self.bump();
                Ok(Stage::Where(self.expr()?))
            }
            "summarize" => {
                self.bump();
                let aggs = if self.is_word("by") {
                    Vec::new()
                } else {
                    self.named_list(true)?
                };
                let by = if self.is_word("by") {
                    self.bump();
                    self.named_list(false)?
                } else {
                    Vec::new()
                };
                if aggs.is_empty() && by.is_empty() {
                    return Err(self.error_here("`summarize` needs an aggregate or a `by` clause"));
                }
                Ok(Stage::Summarize { aggs, by })
            }
            "extend" => {
                self.bump();
                Ok(Stage::Extend(self.named_list(false)?))
            }
            "project" => {
                self.bump();
                Ok(Stage::Project(self.named_list(false)?))
            }
            other => Err(self.error_here(format!("unsupported operator `{other}`"))),
        }
    }

    /// `name = expr, expr, …`; unnamed items get Kusto's default column names.
    fn named_list(&mut self, aggregates: bool) -> Result<Vec<Named>, Diagnostic> {
        let mut out = Vec::new();
        loop {
            let named = matches!(self.peek(), Tok::Ident(_) | Tok::QuotedName(_))
                && matches!(self.peek_at(1), Tok::Sym("="));
            let (name, expr) = if named {
                let n = self.name()?;
                self.bump();
                (Some(n), self.expr()?)
            } else {
                (None, self.expr()?)
            };
            if aggregates && !is_aggregate(&expr) {
                return Err(self.error_here("expected an aggregate function (count, dcount, sum…)"));
            }
            let name = match name {
                Some(n) => n,
                None => default_name(&expr, out.len()),
            };
            out.push(Named { name, expr });
            if self.is_sym(",") {
                self.bump();
            } else {
                break;
            }
        }
        Ok(out)
    }

    fn expr(&mut self) -> Result<Expr, Diagnostic> {
        self.enter()?;
        let mut items = vec![self.and_expr()?];
        while self.is_word("or") {
            self.bump();
            items.push(self.and_expr()?);
        }
        self.leave();
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Lit(Literal::Null))
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, Diagnostic> {
        let mut items = vec![self.cmp_expr()?];
        while self.is_word("and") {
            self.bump();
            items.push(self.cmp_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Lit(Literal::Null))
        } else {
            Expr::And(items)
        })
    }

    fn cmp_expr(&mut self) -> Result<Expr, Diagnostic> {
        let left = self.add_expr()?;
        let op = match self.peek().clone() {
            Tok::Sym(s) => match s {
                "==" => Some(BinOp::Eq),
                "!=" => Some(BinOp::Ne),
                "=~" => Some(BinOp::EqCi),
                "!~" => Some(BinOp::NeCi),
                "<" => Some(BinOp::Lt),
                "<=" => Some(BinOp::Le),
                ">" => Some(BinOp::Gt),
                ">=" => Some(BinOp::Ge),
                "=" => return Err(self.error_here("`=` is not a comparison; use `==`")),
                _ => None,
            },
            Tok::Ident(w) if w == "in" => {
                self.bump();
                let ci = if self.is_sym("~") {
                    self.bump();
                    true
                } else {
                    false
                };
                return self.in_list(left, ci, false);
            }
            Tok::BangWord(w) if w == "!in" || w == "!in~" => {
                self.bump();
                return self.in_list(left, w.ends_with('~'), true);
            }
            Tok::Ident(w) if w == "matches" => {
                self.bump();
                if !self.is_word("regex") {
                    return Err(self.error_here("expected `regex` after `matches`"));
                }
                Some(BinOp::MatchesRegex)
            }
            Tok::Ident(w) | Tok::BangWord(w) => match BinOp::from_word(&w) {
                Some(op) => Some(op),
                None if matches!(self.peek(), Tok::BangWord(_)) || is_known_word_operator(&w) => {
                    return Err(self.error_here(format!("unsupported operator `{w}`")))
                }
                None => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            if matches!(left, Expr::AllColumns) {
                return Err(self.error_here("`*` must be followed by a string operator"));
            }
            return Ok(left);
        };
        self.bump();
        if matches!(left, Expr::AllColumns)
            && !op.is_string_op()
            && !matches!(op, BinOp::Eq | BinOp::Ne)
        {
            return Err(self.error_here("`*` only works with string operators"));
        }
        let right = self.add_expr()?;
        if matches!(right, Expr::AllColumns) {
            return Err(self.error_here("`*` cannot be the right side of an operator"));
        }
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    fn in_list(&mut self, left: Expr, ci: bool, negated: bool) -> Result<Expr, Diagnostic> {
        self.expect_sym("(")?;
        let mut list = Vec::new();
        if !self.is_sym(")") {
            loop {
                list.push(self.add_expr()?);
                if self.is_sym(",") {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect_sym(")")?;
        Ok(Expr::In {
            expr: Box::new(left),
            list,
            case_insensitive: ci,
            negated,
        })
    }

    fn add_expr(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.mul_expr()?;
        loop {
            let op = if self.is_sym("+") {
                BinOp::Add
            } else if self.is_sym("-") {
                BinOp::Sub
            } else {
                break;
            };
            self.bump();
            let right = self.mul_expr()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn mul_expr(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.unary()?;
        loop {
            // `*` is multiplication only after an operand; `* has …` is handled in `primary`.
            let op = if self.is_sym("*") && !matches!(left, Expr::AllColumns) {
                BinOp::Mul
            } else if self.is_sym("/") {
                BinOp::Div
            } else {
                break;
            };
            self.bump();
            let right = self.unary()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        if self.is_sym("-") {
            self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(match inner {
                Expr::Lit(Literal::Long(n)) => Expr::Lit(Literal::Long(n.wrapping_neg())),
                Expr::Lit(Literal::Real(f)) => Expr::Lit(Literal::Real(-f)),
                Expr::Lit(Literal::Timespan(t)) => Expr::Lit(Literal::Timespan(-t)),
                other => Expr::Neg(Box::new(other)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        loop {
            if self.is_sym(".") {
                self.bump();
                let name = self.name()?;
                e = Expr::Member(Box::new(e), name);
            } else if let Tok::QuotedName(n) = self.peek().clone() {
                // `a['b']` directly after an operand is a member access.
                self.bump();
                e = Expr::Member(Box::new(e), n);
            } else if self.is_sym("[") {
                self.bump();
                let neg = if self.is_sym("-") {
                    self.bump();
                    true
                } else {
                    false
                };
                let Tok::Long(n) = self.bump() else {
                    return Err(self.error_here("expected an array index"));
                };
                self.expect_sym("]")?;
                e = Expr::Index(Box::new(e), if neg { -n } else { n });
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let at = self.offset();
        match self.bump() {
            Tok::Str(s) => Ok(Expr::Lit(Literal::Str(s))),
            Tok::Long(n) => Ok(Expr::Lit(Literal::Long(n))),
            Tok::Real(f) => Ok(Expr::Lit(Literal::Real(f))),
            Tok::Timespan(t) => Ok(Expr::Lit(Literal::Timespan(t))),
            Tok::QuotedName(n) => Ok(Expr::Column(n)),
            Tok::Sym("*") => Ok(Expr::AllColumns),
            Tok::Sym("(") => {
                self.enter()?;
                let e = self.expr()?;
                self.leave();
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Ident(w) => {
                if self.is_sym("(") {
                    return self.call(w, at);
                }
                match w.as_str() {
                    "true" => Ok(Expr::Lit(Literal::Bool(true))),
                    "false" => Ok(Expr::Lit(Literal::Bool(false))),
                    "null" => Ok(Expr::Lit(Literal::Null)),
                    "and" | "or" | "in" | "matches" | "by" | "where" => Err(err(
                        self.text,
                        at,
                        "E-KQL-SYNTAX",
                        format!("unexpected `{w}`"),
                    )),
                    _ if BinOp::from_word(&w).is_some() => Err(err(
                        self.text,
                        at,
                        "E-KQL-SYNTAX",
                        format!("unexpected `{w}`"),
                    )),
                    _ => Ok(Expr::Column(w)),
                }
            }
            Tok::Eof => Err(err(
                self.text,
                at,
                "E-KQL-SYNTAX",
                "unexpected end of query",
            )),
            _ => Err(err(self.text, at, "E-KQL-SYNTAX", "expected an expression")),
        }
    }

    fn call(&mut self, name: String, at: usize) -> Result<Expr, Diagnostic> {
        self.expect_sym("(")?;
        self.enter()?;
        let lname = name.to_ascii_lowercase();
        let result = match lname.as_str() {
            "datetime" => self.datetime_literal(at),
            "timespan" | "time" => {
                let v = match self.bump() {
                    Tok::Timespan(t) => t,
                    Tok::Long(n) => n.saturating_mul(86_400_000),
                    _ => return Err(err(self.text, at, "E-KQL-SYNTAX", "expected a timespan")),
                };
                self.expect_sym(")")?;
                Ok(Expr::Lit(Literal::Timespan(v)))
            }
            "dynamic" => {
                if self.is_word("null") {
                    self.bump();
                    self.expect_sym(")")?;
                    Ok(Expr::Lit(Literal::Null))
                } else {
                    Err(err(
                        self.text,
                        at,
                        "E-KQL-SYNTAX",
                        "only dynamic(null) is supported",
                    ))
                }
            }
            _ if SCALAR_FUNCTIONS.contains(&lname.as_str())
                || AGGREGATE_FUNCTIONS.contains(&lname.as_str()) =>
            {
                let mut args = Vec::new();
                if !self.is_sym(")") {
                    loop {
                        args.push(self.expr()?);
                        if self.is_sym(",") {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.expect_sym(")")?;
                check_arity(&lname, args.len())
                    .map_err(|m| err(self.text, at, "E-KQL-ARITY", m))?;
                Ok(Expr::Call { name: lname, args })
            }
            _ => Err(err(
                self.text,
                at,
                "E-KQL-FUNCTION",
                format!("unknown function `{name}`"),
            )),
        };
        self.leave();
        result
    }

    fn datetime_literal(&mut self, at: usize) -> Result<Expr, Diagnostic> {
        // `datetime(2024-01-01T00:00:00Z)` or `datetime("…")`: take the raw text up to `)`.
        let start = self.offset();
        let mut depth = 0usize;
        while !matches!(self.peek(), Tok::Eof) {
            if self.is_sym(")") {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            if self.is_sym("(") {
                depth += 1;
            }
            self.bump();
        }
        let end = self.offset();
        self.expect_sym(")")?;
        let raw = self.text[start..end]
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        match ruleport_model::event::parse_rfc3339(raw) {
            Some(ms) => Ok(Expr::Lit(Literal::DateTime(ms))),
            None => Err(err(
                self.text,
                at,
                "E-KQL-SYNTAX",
                format!("bad datetime `{raw}`"),
            )),
        }
    }
}

fn is_known_word_operator(w: &str) -> bool {
    matches!(
        w,
        "hasprefix"
            | "hassuffix"
            | "has_any"
            | "has_all"
            | "has_any_cs"
            | "between"
            | "like"
            | "hasprefix_cs"
            | "hassuffix_cs"
            | "contains_any"
    )
}

fn check_arity(name: &str, n: usize) -> Result<(), String> {
    let ok = match name {
        "count" => n == 0,
        "not" | "isempty" | "isnotempty" | "isnull" | "isnotnull" | "tostring" | "tolower"
        | "parse_json" | "todynamic" | "toupper" | "toreal" | "todouble" | "tolong" | "toint"
        | "strlen" | "dcount" | "count_distinct" | "sum" | "avg" | "min" | "max" | "ago"
        | "countif" => n == 1,
        "strcmp" | "ipv4_is_in_range" | "ipv6_is_in_range" | "bin" | "percentile" | "minif"
        | "maxif" => n == 2,
        "coalesce" => n >= 2,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` called with {n} argument(s)"))
    }
}

fn is_aggregate(e: &Expr) -> bool {
    matches!(e, Expr::Call { name, .. } if AGGREGATE_FUNCTIONS.contains(&name.as_str()))
}

/// Kusto's default output name for an unnamed column expression.
fn default_name(e: &Expr, index: usize) -> String {
    match e {
        Expr::Column(c) => c.clone(),
        Expr::Call { name, args } if name == "bin" => match args.first() {
            Some(Expr::Column(c)) => c.clone(),
            _ => format!("Column{}", index + 1),
        },
        Expr::Call { name, args } => match args.first() {
            Some(Expr::Column(c)) => format!("{name}_{c}"),
            _ => format!("{name}_"),
        },
        Expr::Member(inner, m) => format!("{}_{m}", default_name(inner, index)),
        _ => format!("Column{}", index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_query_parses() {
        let q = parse(
            "AuditLogs\n| where OperationName == \"Update application - Certificates and secrets management\" and Result in (\"success\", \"Success\")",
        )
        .expect("parse");
        assert_eq!(q.source, Source::Table("AuditLogs".into()));
        let Stage::Where(Expr::And(items)) = &q.stages[0] else {
            panic!("expected where with and: {q:?}");
        };
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[1], Expr::In { list, case_insensitive: false, negated: false, .. } if list.len() == 2)
        );
    }

    #[test]
    fn strings_decode() {
        let q = parse(r#"T | where a == @"C:\x""y" and b == "q\"\\\n\u00e9""#).expect("parse");
        let Stage::Where(Expr::And(items)) = &q.stages[0] else {
            panic!()
        };
        let lit = |e: &Expr| match e {
            Expr::Binary { right, .. } => match right.as_ref() {
                Expr::Lit(Literal::Str(s)) => s.clone(),
                _ => panic!(),
            },
            _ => panic!(),
        };
        assert_eq!(lit(&items[0]), "C:\\x\"y");
        assert_eq!(lit(&items[1]), "q\"\\\né");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("T\n| where a == \"\\*\"").expect_err("bad escape");
        assert_eq!(e.code, "E-KQL-STRING");
        assert_eq!(e.pos, Some(Pos::new(2, 15)), "at the backslash");
        let e = parse("T | where a hasprefix \"x\"").expect_err("unsupported op");
        assert!(e.message.contains("hasprefix"), "{e}");
        let e = parse("T | where foo(a)").expect_err("unknown function");
        assert_eq!(e.code, "E-KQL-FUNCTION");
        assert!(parse("T | where \"mimikatz\" ; x").is_err());
        assert!(parse("T | sort by x").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!(
            "T | where {}a == 1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let e = parse(&text).expect_err("too deep");
        assert_eq!(e.code, "E-KQL-DEPTH");
        let text = format!("T | where {}a", "not(".repeat(5_000));
        assert!(parse(&text).is_err());
        let text = format!("T | where a == {}1", "-".repeat(5_000));
        assert!(parse(&text).is_err());
    }

    #[test]
    fn dynamic_access_and_names() {
        let q = parse("AuditLogs | where tostring(InitiatedBy.user['user-name']) == 'x' and TargetResources[0].id == 'y' and ['a.b'] =~ 'z'")
            .expect("parse");
        let Stage::Where(Expr::And(items)) = &q.stages[0] else {
            panic!()
        };
        assert!(
            matches!(&items[1], Expr::Binary { left, .. } if matches!(left.as_ref(), Expr::Member(inner, m) if m == "id" && matches!(inner.as_ref(), Expr::Index(_, 0))))
        );
        assert!(
            matches!(&items[2], Expr::Binary { left, op: BinOp::EqCi, .. } if **left == Expr::Column("a.b".into()))
        );
    }

    #[test]
    fn summarize_and_union() {
        let q = parse("union SecurityEvent, (DeviceProcessEvents | where x == 1) | summarize Count = count(), dcount(User) by Computer, bin(TimeGenerated, 5m) | where Count > 3")
            .expect("parse");
        assert_eq!(
            q.source.tables(),
            vec!["SecurityEvent", "DeviceProcessEvents"]
        );
        let Stage::Summarize { aggs, by } = &q.stages[0] else {
            panic!()
        };
        assert_eq!(aggs[1].name, "dcount_User");
        assert_eq!(by[1].name, "TimeGenerated");
        assert!(
            matches!(&by[1].expr, Expr::Call { name, args } if name == "bin" && args[1] == Expr::Lit(Literal::Timespan(300_000)))
        );
    }
}
