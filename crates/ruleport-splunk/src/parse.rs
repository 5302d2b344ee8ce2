//! Parser for the SPL subset: `search` terms with Splunk's precedence (NOT, then OR, then AND;
//! juxtaposition is AND), `where`/`eval` with eval precedence, and the statistics commands.
//!
//! Anything outside the subset is an error with a line and column, never a silent pass.

use crate::ast::*;
use ruleport_model::{Diagnostic, Pos};

/// Deepest nesting of parentheses or operators accepted (bounds recursion).
pub const MAX_DEPTH: usize = 256;

/// Parse SPL text into a pipeline.
pub fn parse(text: &str) -> Result<Pipeline, Diagnostic> {
    let mut p = Parser {
        text,
        pos: 0,
        peeked: None,
    };
    p.pipeline().map_err(|d| *d)
}

/// Errors are boxed inside the parser to keep recursive stack frames small.
type PResult<T> = Result<T, Box<Diagnostic>>;

/// Parse a span such as `5m`, `300s`, `1h`, `2d` into seconds.
pub fn parse_span(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// The last search token peeked: the grammar peeks each token several times.
    peeked: Option<Peeked>,
}

/// A search token read at `start` (before whitespace), found at `at`, ending at `end`.
struct Peeked {
    start: usize,
    at: usize,
    end: usize,
    tok: STok,
}

/// A search-language token.
#[derive(Debug, Clone, PartialEq)]
enum STok {
    LParen,
    RParen,
    Comma,
    Pipe,
    End,
    Op(SearchOp),
    /// Bare word, unescaped, with wildcard pieces.
    Bare(String, Vec<ValuePiece>),
    /// Double-quoted string, unescaped: plain text and wildcard pieces.
    Quoted(String, Vec<ValuePiece>),
}

#[derive(Debug, Clone, Copy)]
enum BinOp {
    Or,
    And,
    Cmp(CmpOp),
    Arith(ArithOp),
}

/// An eval-language token.
#[derive(Debug, Clone, PartialEq)]
enum ETok {
    LParen,
    RParen,
    Comma,
    Pipe,
    End,
    Str(String),
    Field(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

impl<'a> Parser<'a> {
    fn err(&self, at: usize, code: &str, msg: impl Into<String>) -> Box<Diagnostic> {
        Box::new(Diagnostic::error(code, msg).at(Pos::from_offset(self.text, at)))
    }

    fn err_hint(&self, at: usize, code: &str, msg: String, hint: String) -> Box<Diagnostic> {
        Box::new(
            Diagnostic::error(code, msg)
                .at(Pos::from_offset(self.text, at))
                .with_hint(hint),
        )
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek_char() {
            if is_space(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn pipeline(&mut self) -> PResult<Pipeline> {
        let mut commands = Vec::new();
        self.skip_ws();
        if self.rest().is_empty() {
            return Err(self.err(0, "E-SPL-EMPTY", "empty search"));
        }
        // The first stage is an implicit `search`, optionally written out, or the generating
        // command `| tstats`.
        if self.peek_char() == Some('|') {
            let at = self.pos;
            self.pos += 1;
            self.skip_ws();
            if self.peek_word() != Some("tstats") {
                return Err(self.err(
                    at,
                    "E-SPL-PARSE",
                    "a search can start with a pipe only for `| tstats` in this subset",
                ));
            }
            self.pos += "tstats".len();
            commands.push(self.tstats_command()?);
        } else {
            let save = self.pos;
            if let Some(word) = self.peek_word() {
                if word == "search" && self.rest()[word.len()..].starts_with(is_space) {
                    self.pos += word.len();
                } else {
                    self.pos = save;
                }
            }
            commands.push(Command::Search(self.search_expr_top()?));
        }
        loop {
            self.skip_ws();
            match self.peek_char() {
                None => break,
                Some('|') => {
                    self.pos += 1;
                    self.skip_ws();
                    commands.push(self.command()?);
                }
                Some(_) => {
                    return Err(self.err(
                        self.pos,
                        "E-SPL-PARSE",
                        "expected `|` or the end of the search",
                    ));
                }
            }
        }
        Ok(Pipeline { commands })
    }

    fn peek_word(&self) -> Option<&'a str> {
        let r = self.rest();
        let end = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        (end > 0).then(|| &r[..end])
    }

    fn command(&mut self) -> PResult<Command> {
        let start = self.pos;
        let Some(name) = self.peek_word() else {
            return Err(self.err(start, "E-SPL-PARSE", "expected a command name after `|`"));
        };
        self.pos += name.len();
        match name {
            "search" => Ok(Command::Search(self.search_expr_top()?)),
            "where" => Ok(Command::Where(self.eval_top()?)),
            "regex" => self.regex_command(),
            "eval" => self.eval_command(),
            "stats" => self.stats_command(StatsKind::Stats),
            "eventstats" => self.stats_command(StatsKind::EventStats),
            "streamstats" => self.stats_command(StatsKind::StreamStats),
            "bin" | "bucket" => self.bin_command(),
            "sort" => self.sort_command(),
            "dedup" => self.dedup_command(),
            "tstats" => Err(self.err(
                start,
                "E-SPL-PARSE",
                "tstats is a generating command: it must come first, as `| tstats …`",
            )),
            other => Err(self.err_hint(
                start,
                "E-SPL-UNKNOWN-COMMAND",
                format!("unknown or unsupported command `{other}`"),
                "the subset knows search, where, regex, eval, stats, eventstats, streamstats, bin, sort and dedup".into(),
            )),
        }
    }

    // ---------------------------------------------------------------- search language

    /// Read a double-quoted string starting at `self.pos` (on the quote). Returns the text and
    /// wildcard pieces (`*` outside an escape is a wildcard in search values).
    fn quoted(&mut self) -> PResult<(String, Vec<ValuePiece>)> {
        let start = self.pos;
        self.pos += 1;
        // Most values have neither escape nor wildcard: take them whole up to the closing quote.
        let body = self.rest();
        if let Some(end) = body.find(['"', '\\', '*']) {
            if body.as_bytes()[end] == b'"' {
                let lit = &body[..end];
                self.pos += end + 1;
                let pieces = if lit.is_empty() {
                    Vec::new()
                } else {
                    vec![ValuePiece::Lit(lit.to_string())]
                };
                return Ok((lit.to_string(), pieces));
            }
        }
        let mut text = String::new();
        let mut pieces = Vec::new();
        let mut lit = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(self.err(start, "E-SPL-PARSE", "unterminated quoted string"));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => break,
                '\\' => match self.peek_char() {
                    Some(n @ ('\\' | '"')) => {
                        self.pos += 1;
                        text.push(n);
                        lit.push(n);
                    }
                    _ => {
                        text.push('\\');
                        lit.push('\\');
                    }
                },
                '*' => {
                    text.push('*');
                    if !lit.is_empty() {
                        pieces.push(ValuePiece::Lit(std::mem::take(&mut lit)));
                    }
                    if pieces.last() != Some(&ValuePiece::Star) {
                        pieces.push(ValuePiece::Star);
                    }
                }
                c => {
                    text.push(c);
                    lit.push(c);
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(ValuePiece::Lit(lit));
        }
        Ok((text, pieces))
    }

    fn bare(&mut self) -> (String, Vec<ValuePiece>) {
        let mut text = String::new();
        let mut pieces = Vec::new();
        let mut lit = String::new();
        while let Some(c) = self.peek_char() {
            if is_space(c) || matches!(c, '(' | ')' | '"' | '|' | '=' | '<' | '>' | ',') {
                break;
            }
            if c == '!' && self.rest()[1..].starts_with('=') {
                break;
            }
            self.pos += c.len_utf8();
            if c == '\\' {
                if let Some(n @ ('\\' | '"')) = self.peek_char() {
                    self.pos += 1;
                    text.push(n);
                    lit.push(n);
                    continue;
                }
            }
            text.push(c);
            if c == '*' {
                if !lit.is_empty() {
                    pieces.push(ValuePiece::Lit(std::mem::take(&mut lit)));
                }
                if pieces.last() != Some(&ValuePiece::Star) {
                    pieces.push(ValuePiece::Star);
                }
            } else {
                lit.push(c);
            }
        }
        if !lit.is_empty() {
            pieces.push(ValuePiece::Lit(lit));
        }
        (text, pieces)
    }

    fn next_stok(&mut self) -> PResult<STok> {
        // Reading is a function of the position alone, so a token peeked here is the answer.
        if let Some(p) = self.peeked.take_if(|p| p.start == self.pos) {
            self.pos = p.end;
            return Ok(p.tok);
        }
        self.read_stok()
    }

    fn read_stok(&mut self) -> PResult<STok> {
        self.skip_ws();
        let Some(c) = self.peek_char() else {
            return Ok(STok::End);
        };
        let r = self.rest();
        let two = |s: &str| r.starts_with(s);
        let tok = match c {
            '(' => {
                self.pos += 1;
                STok::LParen
            }
            ')' => {
                self.pos += 1;
                STok::RParen
            }
            ',' => {
                self.pos += 1;
                STok::Comma
            }
            '|' => STok::Pipe,
            '"' => {
                let (t, p) = self.quoted()?;
                STok::Quoted(t, p)
            }
            _ if two("!=") => {
                self.pos += 2;
                STok::Op(SearchOp::Ne)
            }
            _ if two("<=") => {
                self.pos += 2;
                STok::Op(SearchOp::Le)
            }
            _ if two(">=") => {
                self.pos += 2;
                STok::Op(SearchOp::Ge)
            }
            '=' => {
                self.pos += 1;
                if self.peek_char() == Some('=') {
                    return Err(self.err(
                        self.pos - 1,
                        "E-SPL-PARSE",
                        "`==` is not a search operator; use `=`",
                    ));
                }
                STok::Op(SearchOp::Eq)
            }
            '<' => {
                self.pos += 1;
                STok::Op(SearchOp::Lt)
            }
            '>' => {
                self.pos += 1;
                STok::Op(SearchOp::Gt)
            }
            _ => {
                let (t, p) = self.bare();
                if t.is_empty() {
                    return Err(self.err(
                        self.pos,
                        "E-SPL-PARSE",
                        format!("unexpected character `{c}`"),
                    ));
                }
                STok::Bare(t, p)
            }
        };
        Ok(tok)
    }

    fn peek_stok(&mut self) -> PResult<(&STok, usize)> {
        let p = match self.peeked.take() {
            Some(p) if p.start == self.pos => p,
            _ => {
                let start = self.pos;
                self.skip_ws();
                let at = self.pos;
                let t = self.read_stok();
                let end = self.pos;
                self.pos = start;
                Peeked {
                    start,
                    at,
                    end,
                    tok: t?,
                }
            }
        };
        let p = self.peeked.insert(p);
        Ok((&p.tok, p.at))
    }

    fn is_kw(t: &STok, kw: &str) -> bool {
        matches!(t, STok::Bare(s, _) if s == kw)
    }

    fn search_expr_top(&mut self) -> PResult<SearchExpr> {
        let e = self.search_and(0)?;
        let (t, at) = self.peek_stok()?;
        match t {
            STok::End | STok::Pipe => Ok(e),
            STok::RParen => Err(self.err(at, "E-SPL-PARSE", "unbalanced `)`")),
            _ => Err(self.err(at, "E-SPL-PARSE", "unexpected token in search")),
        }
    }

    fn depth_check(&self, depth: usize) -> PResult<()> {
        if depth > MAX_DEPTH {
            return Err(self.err(
                self.pos,
                "E-SPL-DEPTH",
                format!("nesting deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn search_and(&mut self, depth: usize) -> PResult<SearchExpr> {
        self.depth_check(depth)?;
        let mut items = vec![self.search_or(depth)?];
        loop {
            let (t, _) = self.peek_stok()?;
            match t {
                STok::End | STok::Pipe | STok::RParen => break,
                t if Self::is_kw(t, "AND") => {
                    self.next_stok()?;
                    items.push(self.search_or(depth)?);
                }
                _ => items.push(self.search_or(depth)?),
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(SearchExpr::And(vec![]))
        } else {
            SearchExpr::And(items)
        })
    }

    fn search_or(&mut self, depth: usize) -> PResult<SearchExpr> {
        let mut items = vec![self.search_not(depth)?];
        loop {
            let (t, _) = self.peek_stok()?;
            if Self::is_kw(t, "OR") {
                self.next_stok()?;
                items.push(self.search_not(depth)?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(SearchExpr::Or(vec![]))
        } else {
            SearchExpr::Or(items)
        })
    }

    fn search_not(&mut self, depth: usize) -> PResult<SearchExpr> {
        self.depth_check(depth)?;
        let (t, _) = self.peek_stok()?;
        if Self::is_kw(t, "NOT") {
            self.next_stok()?;
            return Ok(SearchExpr::Not(Box::new(self.search_not(depth + 1)?)));
        }
        self.search_primary(depth)
    }

    fn search_primary(&mut self, depth: usize) -> PResult<SearchExpr> {
        let (t, at) = self.peek_stok()?;
        match t {
            STok::LParen => {
                self.next_stok()?;
                let e = self.search_and(depth + 1)?;
                let (t, at2) = self.peek_stok()?;
                if !matches!(t, STok::RParen) {
                    return Err(self.err(at2, "E-SPL-PARSE", "expected `)`"));
                }
                self.next_stok()?;
                Ok(e)
            }
            STok::Bare(ref s, _) if matches!(s.as_str(), "AND" | "OR") => {
                let msg = format!("`{s}` needs a search term on its left");
                Err(self.err(at, "E-SPL-PARSE", msg))
            }
            STok::Bare(ref s, _) if matches!(s.as_str(), "CASE" | "TERM") => {
                let v = self.search_value()?;
                Ok(SearchExpr::Term(SearchTerm::Keyword(v)))
            }
            STok::Bare(..) | STok::Quoted(..) => self.search_term(),
            STok::End | STok::Pipe => Err(self.err(at, "E-SPL-PARSE", "expected a search term")),
            _ => Err(self.err(at, "E-SPL-PARSE", "unexpected token in search")),
        }
    }

    /// `field op value`, `field IN (…)` or a keyword (kept out of `search_primary` to keep
    /// that recursive frame small).
    #[inline(never)]
    fn search_term(&mut self) -> PResult<SearchExpr> {
        let tok = self.next_stok()?;
        let (next, _) = self.peek_stok()?;
        match next {
            STok::Op(op) => {
                let op = *op;
                self.next_stok()?;
                let field = field_name_of(&tok);
                let value = self.search_value()?;
                Ok(SearchExpr::Term(SearchTerm::Field { field, op, value }))
            }
            n if Self::is_kw(n, "IN") => {
                self.next_stok()?;
                let field = field_name_of(&tok);
                let (lp, at2) = self.peek_stok()?;
                if !matches!(lp, STok::LParen) {
                    return Err(self.err(at2, "E-SPL-PARSE", "expected `(` after IN"));
                }
                self.next_stok()?;
                let mut values = Vec::new();
                loop {
                    values.push(self.search_value()?);
                    let (t, at3) = self.peek_stok()?;
                    match t {
                        STok::Comma => {
                            self.next_stok()?;
                        }
                        STok::RParen => {
                            self.next_stok()?;
                            break;
                        }
                        _ => {
                            return Err(self.err(
                                at3,
                                "E-SPL-PARSE",
                                "expected `,` or `)` in IN list",
                            ))
                        }
                    }
                }
                Ok(SearchExpr::Term(SearchTerm::In { field, values }))
            }
            _ => {
                let (quoted, pieces) = match tok {
                    STok::Quoted(_, p) => (true, p),
                    STok::Bare(_, p) => (false, p),
                    _ => (false, vec![]),
                };
                Ok(SearchExpr::Term(SearchTerm::Keyword(SearchValue {
                    pieces,
                    quoted,
                    case_sensitive: false,
                    term: false,
                })))
            }
        }
    }

    /// A value after an operator, in an IN list, or a CASE()/TERM() keyword.
    fn search_value(&mut self) -> PResult<SearchValue> {
        let (t, at) = self.peek_stok()?;
        if !matches!(t, STok::Quoted(..) | STok::Bare(..)) {
            return Err(self.err(at, "E-SPL-PARSE", "expected a value"));
        }
        match self.next_stok()? {
            STok::Quoted(_, pieces) => Ok(SearchValue {
                pieces,
                quoted: true,
                case_sensitive: false,
                term: false,
            }),
            STok::Bare(s, pieces) => {
                if matches!(s.as_str(), "CASE" | "TERM") {
                    let (lp, at2) = self.peek_stok()?;
                    if !matches!(lp, STok::LParen) {
                        return Err(self.err(
                            at2,
                            "E-SPL-PARSE",
                            format!("expected `(` after {s}"),
                        ));
                    }
                    self.next_stok()?;
                    let mut inner = self.search_value()?;
                    if inner.case_sensitive || inner.term {
                        return Err(self.err(
                            at2,
                            "E-SPL-PARSE",
                            "nested CASE()/TERM() is not supported",
                        ));
                    }
                    let (rp, at3) = self.peek_stok()?;
                    if !matches!(rp, STok::RParen) {
                        return Err(self.err(
                            at3,
                            "E-SPL-PARSE",
                            format!("expected `)` to close {s}("),
                        ));
                    }
                    self.next_stok()?;
                    if s == "CASE" {
                        inner.case_sensitive = true;
                    } else {
                        inner.term = true;
                    }
                    return Ok(inner);
                }
                if matches!(s.as_str(), "AND" | "OR" | "NOT" | "IN") {
                    return Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        format!("expected a value, found `{s}`"),
                    ));
                }
                Ok(SearchValue {
                    pieces,
                    quoted: false,
                    case_sensitive: false,
                    term: false,
                })
            }
            _ => Err(self.err(at, "E-SPL-PARSE", "expected a value")),
        }
    }

    // ---------------------------------------------------------------- eval language

    fn next_etok(&mut self) -> PResult<ETok> {
        self.skip_ws();
        let Some(c) = self.peek_char() else {
            return Ok(ETok::End);
        };
        let start = self.pos;
        let r = self.rest();
        let ops: [&'static str; 13] = [
            "==", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", ".", "%",
        ];
        Ok(match c {
            '(' => {
                self.pos += 1;
                ETok::LParen
            }
            ')' => {
                self.pos += 1;
                ETok::RParen
            }
            ',' => {
                self.pos += 1;
                ETok::Comma
            }
            '|' => ETok::Pipe,
            '"' => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    let Some(c) = self.peek_char() else {
                        return Err(self.err(start, "E-SPL-PARSE", "unterminated string"));
                    };
                    self.pos += c.len_utf8();
                    match c {
                        '"' => break,
                        '\\' => match self.peek_char() {
                            Some(n @ ('\\' | '"')) => {
                                self.pos += 1;
                                s.push(n);
                            }
                            _ => s.push('\\'),
                        },
                        c => s.push(c),
                    }
                }
                ETok::Str(s)
            }
            '\'' => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    let Some(c) = self.peek_char() else {
                        return Err(self.err(start, "E-SPL-PARSE", "unterminated field name"));
                    };
                    self.pos += c.len_utf8();
                    match c {
                        '\'' => break,
                        '\\' => match self.peek_char() {
                            Some(n @ ('\\' | '\'')) => {
                                self.pos += 1;
                                s.push(n);
                            }
                            _ => s.push('\\'),
                        },
                        c => s.push(c),
                    }
                }
                ETok::Field(s)
            }
            c if c.is_ascii_digit() => {
                let end = r
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(r.len());
                let num = &r[..end];
                let v: f64 = num
                    .parse()
                    .map_err(|_| self.err(start, "E-SPL-PARSE", format!("bad number `{num}`")))?;
                self.pos += end;
                ETok::Num(v)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(r.len());
                self.pos += end;
                ETok::Ident(r[..end].to_string())
            }
            _ => {
                let Some(op) = ops.into_iter().find(|o| r.starts_with(o)) else {
                    return Err(self.err(
                        start,
                        "E-SPL-PARSE",
                        format!("unexpected character `{c}` in expression"),
                    ));
                };
                self.pos += op.len();
                ETok::Op(op)
            }
        })
    }

    fn peek_etok(&mut self) -> PResult<(ETok, usize)> {
        let save = self.pos;
        self.skip_ws();
        let at = self.pos;
        let t = self.next_etok();
        self.pos = save;
        Ok((t?, at))
    }

    fn eval_top(&mut self) -> PResult<EvalExpr> {
        let e = self.eval_expr(0, 0)?;
        let (t, at) = self.peek_etok()?;
        match t {
            ETok::End | ETok::Pipe => Ok(e),
            _ => Err(self.err(at, "E-SPL-PARSE", "unexpected token after expression")),
        }
    }

    /// The binary operator at the cursor and its precedence (eval: OR < AND < NOT < comparison
    /// < `+ - .` < `* /`).
    fn binary_op(&mut self) -> PResult<Option<(BinOp, u8)>> {
        Ok(match self.peek_etok()?.0 {
            ETok::Ident(ref s) if s == "OR" => Some((BinOp::Or, 1)),
            ETok::Ident(ref s) if s == "AND" => Some((BinOp::And, 2)),
            ETok::Op("==") | ETok::Op("=") => Some((BinOp::Cmp(CmpOp::Eq), 4)),
            ETok::Op("!=") => Some((BinOp::Cmp(CmpOp::Ne), 4)),
            ETok::Op("<") => Some((BinOp::Cmp(CmpOp::Lt), 4)),
            ETok::Op("<=") => Some((BinOp::Cmp(CmpOp::Le), 4)),
            ETok::Op(">") => Some((BinOp::Cmp(CmpOp::Gt), 4)),
            ETok::Op(">=") => Some((BinOp::Cmp(CmpOp::Ge), 4)),
            ETok::Op("+") => Some((BinOp::Arith(ArithOp::Add), 5)),
            ETok::Op("-") => Some((BinOp::Arith(ArithOp::Sub), 5)),
            ETok::Op(".") => Some((BinOp::Arith(ArithOp::Concat), 5)),
            ETok::Op("*") => Some((BinOp::Arith(ArithOp::Mul), 6)),
            ETok::Op("/") => Some((BinOp::Arith(ArithOp::Div), 6)),
            _ => None,
        })
    }

    /// Precedence climbing: few stack frames per nesting level.
    fn eval_expr(&mut self, min_prec: u8, depth: usize) -> PResult<EvalExpr> {
        self.depth_check(depth)?;
        let mut lhs = self.eval_prefix(depth)?;
        while let Some((op, prec)) = self.binary_op()? {
            if prec < min_prec {
                break;
            }
            let at = self.pos;
            self.next_etok()?;
            let rhs = self.eval_expr(prec + 1, depth + 1)?;
            lhs = match op {
                BinOp::Or => EvalExpr::Or(Box::new(lhs), Box::new(rhs)),
                BinOp::And => EvalExpr::And(Box::new(lhs), Box::new(rhs)),
                BinOp::Cmp(c) => {
                    if matches!(self.binary_op()?, Some((BinOp::Cmp(_), _))) {
                        return Err(self.err(
                            at,
                            "E-SPL-PARSE",
                            "chained comparisons need parentheses",
                        ));
                    }
                    EvalExpr::Cmp(c, Box::new(lhs), Box::new(rhs))
                }
                BinOp::Arith(a) => EvalExpr::Arith(a, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn eval_prefix(&mut self, depth: usize) -> PResult<EvalExpr> {
        match self.peek_etok()?.0 {
            ETok::Ident(ref s) if s == "NOT" => {
                self.next_etok()?;
                Ok(EvalExpr::Not(Box::new(self.eval_expr(4, depth + 1)?)))
            }
            ETok::Op("-") => {
                self.next_etok()?;
                Ok(EvalExpr::Neg(Box::new(self.eval_expr(7, depth + 1)?)))
            }
            _ => self.eval_primary(depth),
        }
    }

    fn eval_primary(&mut self, depth: usize) -> PResult<EvalExpr> {
        let (t, at) = self.peek_etok()?;
        self.next_etok()?;
        match t {
            ETok::LParen => {
                let e = self.eval_expr(0, depth + 1)?;
                let (t, at2) = self.peek_etok()?;
                if t != ETok::RParen {
                    return Err(self.err(at2, "E-SPL-PARSE", "expected `)`"));
                }
                self.next_etok()?;
                Ok(e)
            }
            ETok::Str(s) => Ok(EvalExpr::Str(s)),
            ETok::Num(n) => Ok(EvalExpr::Num(n)),
            ETok::Field(f) => Ok(EvalExpr::Field(f)),
            ETok::Ident(name) => {
                if self.peek_char() == Some('(') {
                    self.eval_call(name, at, depth)
                } else if matches!(name.as_str(), "AND" | "OR" | "NOT" | "XOR" | "LIKE") {
                    Err(self.err(at, "E-SPL-PARSE", format!("unexpected `{name}`")))
                } else {
                    Ok(EvalExpr::Field(name))
                }
            }
            ETok::End | ETok::Pipe => Err(self.err(at, "E-SPL-PARSE", "expected an expression")),
            _ => Err(self.err(at, "E-SPL-PARSE", "unexpected token in expression")),
        }
    }

    /// A function call after its name (kept out of `eval_primary` to keep that frame small).
    #[inline(never)]
    fn eval_call(&mut self, name: String, at: usize, depth: usize) -> PResult<EvalExpr> {
        self.next_etok()?;
        let mut args = Vec::new();
        if self.peek_etok()?.0 == ETok::RParen {
            self.next_etok()?;
        } else {
            loop {
                let arg_at = self.pos;
                args.push((self.eval_expr(0, depth + 1)?, arg_at));
                let (t, at3) = self.peek_etok()?;
                self.next_etok()?;
                match t {
                    ETok::Comma => {}
                    ETok::RParen => break,
                    _ => return Err(self.err(at3, "E-SPL-PARSE", "expected `,` or `)` in call")),
                }
            }
        }
        if name == "searchmatch" {
            return match args.as_slice() {
                [(EvalExpr::Str(s), arg_at)] => {
                    let mut sub = Parser {
                        text: s,
                        pos: 0,
                        peeked: None,
                    };
                    let e = sub.search_expr_top().map_err(|d| {
                        let inner = d.message.clone();
                        self.err(*arg_at, "E-SPL-PARSE", format!("in searchmatch: {inner}"))
                    })?;
                    Ok(EvalExpr::SearchMatch(Box::new(e)))
                }
                _ => Err(self.err(at, "E-SPL-PARSE", "searchmatch() takes one string literal")),
            };
        }
        let Some(func) = Func::ALL.into_iter().find(|f| f.name() == name) else {
            return Err(self.err_hint(
                at,
                "E-SPL-UNKNOWN-FUNCTION",
                format!("unknown or unsupported eval function `{name}`"),
                format!(
                    "the subset knows searchmatch, {}",
                    Func::ALL.map(|f| f.name()).join(", ")
                ),
            ));
        };
        let (lo, hi) = func.arity();
        if args.len() < lo || args.len() > hi {
            return Err(self.err(
                at,
                "E-SPL-PARSE",
                format!("wrong number of arguments to {name}()"),
            ));
        }
        if func == Func::Case && args.len() % 2 != 0 {
            return Err(self.err(at, "E-SPL-PARSE", "case() takes condition/value pairs"));
        }
        Ok(EvalExpr::Call(
            func,
            args.into_iter().map(|(a, _)| a).collect(),
        ))
    }

    // ---------------------------------------------------------------- other commands

    /// A field name argument: double-quoted, or a bare run of name characters.
    fn field_arg(&mut self) -> PResult<Option<String>> {
        self.skip_ws();
        match self.peek_char() {
            Some('"') => {
                let (t, _) = self.quoted()?;
                Ok(Some(t))
            }
            Some(c) if !matches!(c, '|' | ',' | '(' | ')' | '=') => {
                let r = self.rest();
                let end = r
                    .find(|c: char| {
                        is_space(c) || matches!(c, '|' | ',' | '(' | ')' | '=' | '"' | '!')
                    })
                    .unwrap_or(r.len());
                let name = r[..end].to_string();
                self.pos += end;
                Ok(Some(name))
            }
            _ => Ok(None),
        }
    }

    fn regex_command(&mut self) -> PResult<Command> {
        let at = self.pos;
        let Some(field) = self.field_arg()? else {
            return Err(self.err(at, "E-SPL-PARSE", "regex needs `field=\"pattern\"`"));
        };
        self.skip_ws();
        let negated = if self.rest().starts_with("!=") {
            self.pos += 2;
            true
        } else if self.rest().starts_with('=') {
            self.pos += 1;
            false
        } else {
            return Err(self.err(
                self.pos,
                "E-SPL-PARSE",
                "regex needs `=` or `!=` after the field",
            ));
        };
        self.skip_ws();
        if self.peek_char() != Some('"') {
            return Err(self.err(self.pos, "E-SPL-PARSE", "the regex must be double-quoted"));
        }
        let (pattern, _) = self.quoted()?;
        Ok(Command::Regex {
            field,
            negated,
            pattern,
        })
    }

    fn eval_command(&mut self) -> PResult<Command> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            let name = match self.peek_char() {
                Some('\'') => match self.next_etok()? {
                    ETok::Field(f) => f,
                    _ => return Err(self.err(at, "E-SPL-PARSE", "expected a field name")),
                },
                _ => match self.field_arg()? {
                    Some(n) if !n.is_empty() => n,
                    _ => return Err(self.err(at, "E-SPL-PARSE", "eval needs `field=expression`")),
                },
            };
            self.skip_ws();
            if !self.rest().starts_with('=') || self.rest().starts_with("==") {
                return Err(self.err(self.pos, "E-SPL-PARSE", "expected `=` in eval"));
            }
            self.pos += 1;
            let e = self.eval_expr(0, 0)?;
            out.push((name, e));
            let (t, at2) = self.peek_etok()?;
            match t {
                ETok::Comma => {
                    self.next_etok()?;
                }
                ETok::End | ETok::Pipe => break,
                _ => return Err(self.err(at2, "E-SPL-PARSE", "expected `,` or the end of eval")),
            }
        }
        Ok(Command::Eval(out))
    }

    fn stats_command(&mut self, kind: StatsKind) -> PResult<Command> {
        let mut cmd = StatsCommand {
            kind,
            time_window_secs: None,
            current: true,
            aggs: Vec::new(),
            by: Vec::new(),
        };
        // Options: key=value before the aggregations.
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some(word) = self.peek_word() else { break };
            if !self.rest()[word.len()..].starts_with('=') {
                break;
            }
            self.pos += word.len() + 1;
            let r = self.rest();
            let end = r.find(|c: char| is_space(c) || c == '|').unwrap_or(r.len());
            let val = &r[..end];
            self.pos += end;
            match (kind, word) {
                (StatsKind::StreamStats, "time_window") => {
                    cmd.time_window_secs = Some(parse_span(val).ok_or_else(|| {
                        self.err(at, "E-SPL-PARSE", format!("bad time_window `{val}`"))
                    })?);
                }
                (StatsKind::StreamStats, "current") => {
                    cmd.current = match val {
                        "t" | "true" => true,
                        "f" | "false" => false,
                        _ => {
                            return Err(self.err(at, "E-SPL-PARSE", format!("bad current `{val}`")))
                        }
                    };
                }
                _ => {
                    return Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        format!("unsupported {} option `{word}`", kind.name()),
                    ))
                }
            }
        }
        cmd.aggs = self.agg_list(&["by", "BY"])?;
        if cmd.aggs.is_empty() {
            return Err(self.err(
                self.pos,
                "E-SPL-PARSE",
                format!("{} needs a statistics function", kind.name()),
            ));
        }
        self.skip_ws();
        if let Some(w) = self.peek_word() {
            if w == "by" || w == "BY" {
                self.pos += w.len();
                cmd.by = self.field_list()?;
                if cmd.by.is_empty() {
                    return Err(self.err(self.pos, "E-SPL-PARSE", "BY needs at least one field"));
                }
            }
        }
        self.expect_stage_end()?;
        Ok(Command::Stats(cmd))
    }

    /// Statistics functions up to one of the `stop` words.
    fn agg_list(&mut self, stop: &[&str]) -> PResult<Vec<Agg>> {
        let mut aggs = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some(word) = self.peek_word() else { break };
            if stop.contains(&word) {
                break;
            }
            self.pos += word.len();
            let func = match word {
                "count" | "c" => AggFunc::Count,
                "dc" | "distinct_count" => AggFunc::DistinctCount,
                "sum" => AggFunc::Sum,
                "avg" | "mean" => AggFunc::Avg,
                "min" => AggFunc::Min,
                "max" => AggFunc::Max,
                other => {
                    return Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        format!("unsupported statistics function `{other}`"),
                    ))
                }
            };
            let mut field = None;
            if self.peek_char() == Some('(') {
                self.pos += 1;
                let f = self.field_arg()?.filter(|f| !f.is_empty());
                self.skip_ws();
                if self.peek_char() != Some(')') || f.is_none() {
                    return Err(self.err(self.pos, "E-SPL-PARSE", "expected `field)`"));
                }
                self.pos += 1;
                field = f;
            } else if func != AggFunc::Count {
                return Err(self.err(
                    at,
                    "E-SPL-PARSE",
                    format!("{word} needs a field: {word}(field)"),
                ));
            }
            let mut name = match &field {
                None => "count".to_string(),
                Some(f) => format!("{}({f})", func.name()),
            };
            self.skip_ws();
            if let Some(w) = self.peek_word() {
                if (w == "as" || w == "AS") && self.rest()[w.len()..].starts_with(is_space) {
                    self.pos += w.len();
                    let at2 = self.pos;
                    name = self
                        .field_arg()?
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| self.err(at2, "E-SPL-PARSE", "expected a name after AS"))?;
                }
            }
            aggs.push(Agg { func, field, name });
            self.skip_ws();
            if self.peek_char() == Some(',') {
                self.pos += 1;
            }
        }
        Ok(aggs)
    }

    // ---------------------------------------------------------------- tstats

    /// `tstats [options] aggs from datamodel=<name> [where <terms>] [by <fields>]` (after the
    /// command name).
    fn tstats_command(&mut self) -> PResult<Command> {
        let mut cmd = TstatsCommand {
            summaries_only: false,
            allow_old_summaries: false,
            fillnull_value: None,
            aggs: Vec::new(),
            datamodel: String::new(),
            filter: None,
            by: Vec::new(),
        };
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some(word) = self.peek_word() else { break };
            if !self.rest()[word.len()..].starts_with('=') {
                break;
            }
            self.pos += word.len() + 1;
            let value = if self.peek_char() == Some('"') {
                self.quoted()?.0
            } else {
                let r = self.rest();
                let end = r.find(|c: char| is_space(c) || c == '|').unwrap_or(r.len());
                self.pos += end;
                r[..end].to_string()
            };
            let flag = |p: &Self| match value.as_str() {
                "t" | "true" | "1" => Ok(true),
                "f" | "false" | "0" => Ok(false),
                _ => Err(p.err(at, "E-SPL-PARSE", format!("bad {word} value `{value}`"))),
            };
            match word {
                "summariesonly" => cmd.summaries_only = flag(self)?,
                "allow_old_summaries" => cmd.allow_old_summaries = flag(self)?,
                "fillnull_value" => cmd.fillnull_value = Some(value.clone()),
                _ => {
                    return Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        format!("unsupported tstats option `{word}`"),
                    ))
                }
            }
        }
        cmd.aggs = self.agg_list(&["from"])?;
        if cmd.aggs.is_empty() {
            return Err(self.err(
                self.pos,
                "E-SPL-PARSE",
                "tstats needs a statistics function",
            ));
        }
        self.skip_ws();
        let at = self.pos;
        if self.peek_word() != Some("from") {
            return Err(self.err(
                at,
                "E-SPL-PARSE",
                "expected `from datamodel=<name>` in tstats",
            ));
        }
        self.pos += "from".len();
        self.skip_ws();
        let at = self.pos;
        let Some(rest) = self.rest().strip_prefix("datamodel=") else {
            return Err(self.err(at, "E-SPL-PARSE", "expected `datamodel=<name>` after from"));
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let known = crate::cim::table().map_err(|e| self.err(at, "E-SPL-DATAMODEL", e))?;
        if known.dataset(name).is_none() {
            return Err(self.err_hint(
                at,
                "E-SPL-DATAMODEL",
                format!("unknown data model dataset `{name}`"),
                format!(
                    "ruleport's CIM table knows {}",
                    known
                        .datasets
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        cmd.datamodel = name.to_string();
        self.pos += "datamodel=".len() + end;
        self.skip_ws();
        if self.peek_word() == Some("where") {
            self.pos += "where".len();
            cmd.filter = Some(self.tstats_or(0)?);
        }
        self.skip_ws();
        if let Some(w) = self.peek_word() {
            if w == "by" || w == "BY" {
                self.pos += w.len();
                cmd.by = self.field_list()?;
                if cmd.by.is_empty() {
                    return Err(self.err(self.pos, "E-SPL-PARSE", "by needs at least one field"));
                }
            }
        }
        self.expect_stage_end()?;
        Ok(Command::Tstats(cmd))
    }

    fn is_by(t: &STok) -> bool {
        Self::is_kw(t, "by") || Self::is_kw(t, "BY")
    }

    /// tstats `where`: OR of ANDs (AND binds tighter, as in eval).
    fn tstats_or(&mut self, depth: usize) -> PResult<SearchExpr> {
        self.depth_check(depth)?;
        let mut items = vec![self.tstats_and(depth)?];
        loop {
            let (t, _) = self.peek_stok()?;
            if Self::is_kw(t, "OR") {
                self.next_stok()?;
                items.push(self.tstats_and(depth)?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(SearchExpr::Or(vec![]))
        } else {
            SearchExpr::Or(items)
        })
    }

    fn tstats_and(&mut self, depth: usize) -> PResult<SearchExpr> {
        let mut items = vec![self.tstats_not(depth)?];
        loop {
            let (t, _) = self.peek_stok()?;
            match t {
                STok::End | STok::Pipe | STok::RParen => break,
                t if Self::is_kw(t, "OR") || Self::is_by(t) => break,
                t if Self::is_kw(t, "AND") => {
                    self.next_stok()?;
                    items.push(self.tstats_not(depth)?);
                }
                _ => items.push(self.tstats_not(depth)?),
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(SearchExpr::And(vec![]))
        } else {
            SearchExpr::And(items)
        })
    }

    fn tstats_not(&mut self, depth: usize) -> PResult<SearchExpr> {
        self.depth_check(depth)?;
        let (t, at) = self.peek_stok()?;
        if Self::is_kw(t, "NOT") {
            self.next_stok()?;
            return Ok(SearchExpr::Not(Box::new(self.tstats_not(depth + 1)?)));
        }
        match t {
            STok::LParen => {
                self.next_stok()?;
                let e = self.tstats_or(depth + 1)?;
                let (t, at2) = self.peek_stok()?;
                if !matches!(t, STok::RParen) {
                    return Err(self.err(at2, "E-SPL-PARSE", "expected `)`"));
                }
                self.next_stok()?;
                Ok(e)
            }
            STok::Bare(ref s, _) if matches!(s.as_str(), "AND" | "OR" | "CASE" | "TERM") => {
                let msg = format!("unexpected `{s}` in tstats where");
                Err(self.err(at, "E-SPL-PARSE", msg))
            }
            STok::Bare(..) | STok::Quoted(..) => match self.search_term()? {
                SearchExpr::Term(SearchTerm::Keyword(_)) => Err(self.err(
                    at,
                    "E-SPL-PARSE",
                    "tstats where takes field comparisons, not keywords",
                )),
                SearchExpr::Term(SearchTerm::Field { ref value, .. })
                    if value.case_sensitive || value.term =>
                {
                    Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        "CASE() and TERM() are not tstats where syntax",
                    ))
                }
                SearchExpr::Term(SearchTerm::In { ref values, .. })
                    if values.iter().any(|v| v.case_sensitive || v.term) =>
                {
                    Err(self.err(
                        at,
                        "E-SPL-PARSE",
                        "CASE() and TERM() are not tstats where syntax",
                    ))
                }
                e => Ok(e),
            },
            _ => Err(self.err(
                at,
                "E-SPL-PARSE",
                "expected a field comparison in tstats where",
            )),
        }
    }

    fn field_list(&mut self) -> PResult<Vec<String>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek_char() == Some(',') {
                self.pos += 1;
                continue;
            }
            match self.field_arg()? {
                Some(f) if !f.is_empty() => out.push(f),
                _ => break,
            }
        }
        Ok(out)
    }

    fn expect_stage_end(&mut self) -> PResult<()> {
        self.skip_ws();
        match self.peek_char() {
            None | Some('|') => Ok(()),
            Some(_) => Err(self.err(
                self.pos,
                "E-SPL-PARSE",
                "unexpected text at the end of the command",
            )),
        }
    }

    fn bin_command(&mut self) -> PResult<Command> {
        let at = self.pos;
        let field = self
            .field_arg()?
            .filter(|f| !f.is_empty())
            .ok_or_else(|| self.err(at, "E-SPL-PARSE", "bin needs a field"))?;
        self.skip_ws();
        let at2 = self.pos;
        let Some(rest) = self.rest().strip_prefix("span=") else {
            return Err(self.err(at2, "E-SPL-PARSE", "bin needs span=<n><unit>"));
        };
        let end = rest
            .find(|c: char| is_space(c) || c == '|')
            .unwrap_or(rest.len());
        let span = parse_span(&rest[..end])
            .filter(|s| *s > 0)
            .ok_or_else(|| self.err(at2, "E-SPL-PARSE", "bad span"))?;
        self.pos += "span=".len() + end;
        self.expect_stage_end()?;
        Ok(Command::Bin {
            field,
            span_secs: span,
        })
    }

    fn sort_command(&mut self) -> PResult<Command> {
        self.skip_ws();
        if let Some(w) = self.peek_word() {
            if w.chars().all(|c| c.is_ascii_digit()) {
                if w != "0" {
                    return Err(self.err(
                        self.pos,
                        "E-SPL-PARSE",
                        "only `sort 0` (no limit) is supported",
                    ));
                }
                self.pos += w.len();
            }
        }
        let mut keys = Vec::new();
        loop {
            self.skip_ws();
            let desc = match self.peek_char() {
                Some('-') => {
                    self.pos += 1;
                    true
                }
                Some('+') => {
                    self.pos += 1;
                    false
                }
                Some(',') => {
                    self.pos += 1;
                    continue;
                }
                _ => false,
            };
            match self.field_arg()? {
                Some(f) if !f.is_empty() => keys.push((f, desc)),
                _ => break,
            }
        }
        if keys.is_empty() {
            return Err(self.err(self.pos, "E-SPL-PARSE", "sort needs a field"));
        }
        self.expect_stage_end()?;
        Ok(Command::Sort(keys))
    }

    fn dedup_command(&mut self) -> PResult<Command> {
        let fields = self.field_list()?;
        if fields.is_empty() {
            return Err(self.err(self.pos, "E-SPL-PARSE", "dedup needs a field"));
        }
        self.expect_stage_end()?;
        Ok(Command::Dedup(fields))
    }
}

fn field_name_of(t: &STok) -> String {
    match t {
        STok::Bare(s, _) | STok::Quoted(s, _) => s.clone(),
        _ => String::new(),
    }
}
