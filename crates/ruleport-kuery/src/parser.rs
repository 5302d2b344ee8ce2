//! A PEG parser that follows Kibana's `grammar.peggy` rule by rule (ordered choice, backtracking,
//! keyword look-ahead inside unquoted literals), without the autocomplete cursor rules.

use crate::ast::{Chunk, Literal, LiteralKind, Node, Query, RangeOp, Span, ValueList};
use ruleport_model::{Diagnostic, Pos};
use std::collections::BTreeSet;

/// Maximum nesting of parentheses, braces and `not`s.
pub const MAX_DEPTH: usize = 256;

/// Error codes.
pub const E_SYNTAX: &str = "E-KUERY-SYNTAX";
pub const E_DEPTH: &str = "E-KUERY-DEPTH";

/// Parse kuery text. Positions in the error are 1-based and relative to `text`.
pub fn parse(text: &str) -> Result<Query, Diagnostic> {
    let mut p = Parser::new(text);
    let root = p.start();
    if let Some(d) = p.fatal.take() {
        return Err(d);
    }
    match root {
        Some(q) => Ok(q),
        None => Err(p.syntax_error()),
    }
}

struct Parser {
    chars: Vec<char>,
    /// Byte offset of each char, plus the text length at the end.
    offsets: Vec<usize>,
    /// Index in `chars` of the first char of each line (a position per char cost more than the
    /// parse itself on long queries).
    line_starts: Vec<usize>,
    pos: usize,
    depth: usize,
    fail_pos: usize,
    expected: BTreeSet<&'static str>,
    fatal: Option<Diagnostic>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{a0}')
}

/// `SpecialCharacter = [\\():<>"*{}]`
pub(crate) fn is_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '(' | ')' | ':' | '<' | '>' | '"' | '*' | '{' | '}'
    )
}

/// Whitespace as JavaScript's `String.prototype.trim` removes it.
pub(crate) fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

impl Parser {
    fn new(src: &str) -> Self {
        let mut chars = Vec::with_capacity(src.len());
        let mut offsets = Vec::with_capacity(src.len() + 1);
        let mut line_starts = vec![0];
        for (i, c) in src.char_indices() {
            chars.push(c);
            offsets.push(i);
            if c == '\n' {
                line_starts.push(chars.len());
            }
        }
        offsets.push(src.len());
        Parser {
            chars,
            offsets,
            line_starts,
            pos: 0,
            depth: 0,
            fail_pos: 0,
            expected: BTreeSet::new(),
            fatal: None,
        }
    }

    /// 1-based line and column (in chars) of char index `i`.
    fn position(&self, i: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= i);
        let col = i - self.line_starts[line - 1] + 1;
        Pos::new(line as u32, col as u32)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn span(&self, start: usize) -> Span {
        Span {
            start: self.offsets[start],
            end: self.offsets[self.pos],
            pos: self.position(start),
        }
    }

    fn fail(&mut self, what: &'static str) {
        if self.pos > self.fail_pos {
            self.fail_pos = self.pos;
            self.expected.clear();
        }
        if self.pos == self.fail_pos {
            self.expected.insert(what);
        }
    }

    fn eat(&mut self, c: char, what: &'static str) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            self.fail(what);
            false
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
        self.fail("whitespace");
    }

    /// Case-insensitive ASCII word at char index `i`.
    fn word_at(&self, i: usize, w: &str) -> bool {
        w.chars()
            .enumerate()
            .all(|(k, wc)| self.at(i + k).is_some_and(|c| c.eq_ignore_ascii_case(&wc)))
    }

    /// `Space+ 'kw'i Space+` (the `Or` and `And` rules).
    fn binary_keyword(&mut self, kw: &str, what: &'static str) -> bool {
        let save = self.pos;
        if !self.peek().is_some_and(is_space) {
            self.fail(what);
            return false;
        }
        self.skip_space();
        if !self.word_at(self.pos, kw) {
            self.fail(what);
            self.pos = save;
            return false;
        }
        self.pos += kw.len();
        if !self.peek().is_some_and(is_space) {
            self.fail("whitespace");
            self.pos = save;
            return false;
        }
        self.skip_space();
        true
    }

    /// `'not'i Space+`
    fn not_keyword(&mut self) -> bool {
        if self.word_at(self.pos, "not") && self.at(self.pos + 3).is_some_and(is_space) {
            self.pos += 3;
            self.skip_space();
            true
        } else {
            self.fail("NOT");
            false
        }
    }

    /// The `Keyword` look-ahead that stops an unquoted literal.
    fn keyword_ahead(&self, i: usize) -> bool {
        // Called for every character of an unquoted value: most are neither space nor `n`.
        if !self
            .at(i)
            .is_some_and(|c| is_space(c) || c.eq_ignore_ascii_case(&'n'))
        {
            return false;
        }
        let sp = |k: usize| self.at(k).is_some_and(is_space);
        (sp(i) && self.word_at(i + 1, "or") && sp(i + 3))
            || (sp(i) && self.word_at(i + 1, "and") && sp(i + 4))
            || (self.word_at(i, "not") && sp(i + 3))
    }

    fn enter(&mut self) -> bool {
        if self.fatal.is_some() {
            return false;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.position(self.pos);
            self.fatal = Some(
                Diagnostic::error(
                    E_DEPTH,
                    format!("query nested too deeply (more than {MAX_DEPTH} levels)"),
                )
                .at(pos),
            );
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // start = Space* OrQuery? Space* EOF
    fn start(&mut self) -> Option<Query> {
        self.skip_space();
        let save = self.pos;
        let root = match self.or_query() {
            Some(n) => Some(n),
            None => {
                self.pos = save;
                None
            }
        };
        if self.fatal.is_some() {
            return None;
        }
        self.skip_space();
        if self.pos < self.chars.len() {
            self.fail("end of input");
            return None;
        }
        Some(Query { root })
    }

    fn or_query(&mut self) -> Option<Node> {
        let head = self.and_query()?;
        let mut items = vec![head];
        loop {
            let save = self.pos;
            if self.binary_keyword("or", "OR") {
                if let Some(n) = self.and_query() {
                    items.push(n);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and_query(&mut self) -> Option<Node> {
        let head = self.not_query()?;
        let mut items = vec![head];
        loop {
            let save = self.pos;
            if self.binary_keyword("and", "AND") {
                if let Some(n) = self.not_query() {
                    items.push(n);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn not_query(&mut self) -> Option<Node> {
        let save = self.pos;
        if self.not_keyword() {
            if !self.enter() {
                return None;
            }
            let q = self.sub_query();
            self.leave();
            if let Some(q) = q {
                return Some(Node::Not(Box::new(q)));
            }
            if self.fatal.is_some() {
                return None;
            }
            self.pos = save;
        }
        self.sub_query()
    }

    fn sub_query(&mut self) -> Option<Node> {
        let save = self.pos;
        if self.eat('(', "\"(\"") {
            if !self.enter() {
                return None;
            }
            self.skip_space();
            let q = self.or_query();
            self.leave();
            if let Some(q) = q {
                self.skip_space();
                if self.eat(')', "\")\"") {
                    return Some(q);
                }
            }
            if self.fatal.is_some() {
                return None;
            }
            self.pos = save;
        }
        self.nested_query()
    }

    fn nested_query(&mut self) -> Option<Node> {
        let save = self.pos;
        if let Some(field) = self.literal("field name") {
            self.skip_space();
            if self.eat(':', "\":\"") {
                self.skip_space();
                if self.eat('{', "\"{\"") {
                    if !self.enter() {
                        return None;
                    }
                    self.skip_space();
                    let q = self.or_query();
                    self.leave();
                    if let Some(q) = q {
                        self.skip_space();
                        if self.eat('}', "\"}\"") {
                            return Some(Node::Nested {
                                field,
                                query: Box::new(q),
                                span: self.span(save),
                            });
                        }
                    }
                    if self.fatal.is_some() {
                        return None;
                    }
                }
            }
        }
        self.pos = save;
        self.expression()
    }

    fn expression(&mut self) -> Option<Node> {
        let save = self.pos;
        if let Some(n) = self.field_range() {
            return Some(n);
        }
        self.pos = save;
        if let Some(n) = self.field_value() {
            return Some(n);
        }
        if self.fatal.is_some() {
            return None;
        }
        self.pos = save;
        let values = self.value()?;
        Some(Node::Is {
            field: None,
            values: ValueList::Value(values),
            span: self.span(save),
        })
    }

    fn range_op(&mut self) -> Option<RangeOp> {
        let op = match (self.peek(), self.at(self.pos + 1)) {
            (Some('<'), Some('=')) => (RangeOp::Le, 2),
            (Some('>'), Some('=')) => (RangeOp::Ge, 2),
            (Some('<'), _) => (RangeOp::Lt, 1),
            (Some('>'), _) => (RangeOp::Gt, 1),
            _ => {
                self.fail("range operator");
                return None;
            }
        };
        self.pos += op.1;
        Some(op.0)
    }

    fn field_range(&mut self) -> Option<Node> {
        let save = self.pos;
        let field = self.literal("field name")?;
        self.skip_space();
        let op = self.range_op()?;
        self.skip_space();
        let value = self.literal("literal")?;
        Some(Node::Range {
            field,
            op,
            value,
            span: self.span(save),
        })
    }

    fn field_value(&mut self) -> Option<Node> {
        let save = self.pos;
        let field = self.literal("field name")?;
        self.skip_space();
        if !self.eat(':', "\":\"") {
            return None;
        }
        self.skip_space();
        let values = self.list_of_values()?;
        Some(Node::Is {
            field: Some(field),
            values,
            span: self.span(save),
        })
    }

    fn list_of_values(&mut self) -> Option<ValueList> {
        let save = self.pos;
        if self.eat('(', "\"(\"") {
            if !self.enter() {
                return None;
            }
            self.skip_space();
            let l = self.or_list();
            self.leave();
            if let Some(l) = l {
                self.skip_space();
                if self.eat(')', "\")\"") {
                    return Some(l);
                }
            }
            if self.fatal.is_some() {
                return None;
            }
            self.pos = save;
        }
        self.value().map(ValueList::Value)
    }

    fn or_list(&mut self) -> Option<ValueList> {
        let head = self.and_list()?;
        let mut items = vec![head];
        loop {
            let save = self.pos;
            if self.binary_keyword("or", "OR") {
                if let Some(n) = self.and_list() {
                    items.push(n);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            ValueList::Or(items)
        })
    }

    fn and_list(&mut self) -> Option<ValueList> {
        let head = self.not_list()?;
        let mut items = vec![head];
        loop {
            let save = self.pos;
            if self.binary_keyword("and", "AND") {
                if let Some(n) = self.not_list() {
                    items.push(n);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            ValueList::And(items)
        })
    }

    fn not_list(&mut self) -> Option<ValueList> {
        let save = self.pos;
        if self.not_keyword() {
            if !self.enter() {
                return None;
            }
            let l = self.list_of_values();
            self.leave();
            if let Some(l) = l {
                return Some(ValueList::Not(Box::new(l)));
            }
            if self.fatal.is_some() {
                return None;
            }
            self.pos = save;
        }
        self.list_of_values()
    }

    fn value(&mut self) -> Option<Literal> {
        self.literal("value")
    }

    /// `Literal = QuotedString / UnquotedLiteral`
    fn literal(&mut self, what: &'static str) -> Option<Literal> {
        if self.fatal.is_some() {
            return None;
        }
        let start = self.pos;
        if self.peek() == Some('"') {
            if let Some(s) = self.quoted_string() {
                return Some(Literal {
                    kind: LiteralKind::Quoted(s),
                    span: self.span(start),
                });
            }
            self.pos = start;
        }
        let chunks = self.unquoted_literal(what)?;
        Some(Literal {
            kind: LiteralKind::Unquoted(chunks),
            span: self.span(start),
        })
    }

    fn quoted_string(&mut self) -> Option<String> {
        if !self.eat('"', "\"\\\"\"") {
            return None;
        }
        // Most values have no escape: copy them straight up to the closing quote.
        let body = self.pos;
        if let Some(len) = self.chars[body..]
            .iter()
            .position(|&c| c == '"' || c == '\\')
        {
            if self.chars[body + len] == '"' {
                self.pos = body + len + 1;
                return Some(self.chars[body..body + len].iter().collect());
            }
        }
        let mut units: Vec<u16> = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.fail("closing quote");
                    return None;
                }
                Some('"') => {
                    self.pos += 1;
                    return Some(String::from_utf16_lossy(&units));
                }
                Some('\\') => {
                    let next = self.at(self.pos + 1);
                    if let Some(c) = escaped_whitespace(next) {
                        push_char(&mut units, c);
                        self.pos += 2;
                    } else if let Some(u) = self.unicode_escape() {
                        units.push(u);
                    } else if matches!(next, Some('\\') | Some('"')) {
                        push_char(&mut units, next.unwrap_or('\\'));
                        self.pos += 2;
                    } else {
                        // Any other backslash is kept literally.
                        push_char(&mut units, '\\');
                        self.pos += 1;
                    }
                }
                Some(c) => {
                    push_char(&mut units, c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `\uXXXX` at the current position: consumes it and returns the UTF-16 code unit.
    fn unicode_escape(&mut self) -> Option<u16> {
        if self.peek() != Some('\\') || self.at(self.pos + 1) != Some('u') {
            return None;
        }
        let mut v: u32 = 0;
        for k in 0..4 {
            let d = self.at(self.pos + 2 + k)?.to_digit(16)?;
            v = v * 16 + d;
        }
        self.pos += 6;
        u16::try_from(v).ok()
    }

    /// `UnquotedCharacter+`, then Kibana's `trim()`.
    fn unquoted_literal(&mut self, what: &'static str) -> Option<Vec<Chunk>> {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut units: Vec<u16> = Vec::new();
        let mut any = false;
        while let Some(c) = self.peek() {
            if c == '\\' {
                let next = self.at(self.pos + 1);
                if let Some(w) = escaped_whitespace(next) {
                    push_char(&mut units, w);
                    self.pos += 2;
                } else if let Some(s) = next.filter(|n| is_special(*n)) {
                    push_char(&mut units, s);
                    self.pos += 2;
                } else if let Some(u) = self.unicode_escape() {
                    units.push(u);
                } else if let Some(kw) = ["or", "and", "not"]
                    .into_iter()
                    .find(|kw| self.word_at(self.pos + 1, kw))
                {
                    // The keyword is returned as typed (`\NOT` gives `NOT`).
                    for k in 0..kw.len() {
                        push_char(&mut units, self.chars[self.pos + 1 + k]);
                    }
                    self.pos += 1 + kw.len();
                } else {
                    self.fail("escape sequence");
                    break;
                }
            } else if c == '*' {
                if !units.is_empty() {
                    chunks.push(Chunk::Text(String::from_utf16_lossy(&units)));
                    units.clear();
                }
                chunks.push(Chunk::Wildcard);
                self.pos += 1;
            } else if is_special(c) || self.keyword_ahead(self.pos) {
                self.fail(what);
                break;
            } else {
                push_char(&mut units, c);
                self.pos += 1;
            }
            any = true;
        }
        if !any {
            self.fail(what);
            return None;
        }
        if !units.is_empty() {
            chunks.push(Chunk::Text(String::from_utf16_lossy(&units)));
        }
        Some(trim_chunks(chunks))
    }

    fn syntax_error(&self) -> Diagnostic {
        let at = self.fail_pos.min(self.chars.len());
        let pos = self.position(at);
        let found = match self.chars.get(at) {
            None => "end of input".to_string(),
            Some(c) => format!("{:?}", c.to_string()),
        };
        let mut expected: Vec<&str> = self.expected.iter().copied().collect();
        expected.retain(|e| *e != "whitespace" || self.expected.len() == 1);
        let list = match expected.len() {
            0 => "a query".to_string(),
            1 => expected[0].to_string(),
            n => format!("{} or {}", expected[..n - 1].join(", "), expected[n - 1]),
        };
        let mut d =
            Diagnostic::error(E_SYNTAX, format!("expected {list} but {found} found")).at(pos);
        if let Some(hint) = self.hint(at) {
            d = d.with_hint(hint);
        }
        d
    }

    fn hint(&self, at: usize) -> Option<String> {
        let c = self.chars.get(at).copied();
        let before: String = self.chars[..at]
            .iter()
            .rev()
            .take(4)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        match c {
            Some('\\') => Some(
                "in unquoted values `\\` must escape one of \\ ( ) : < > \" * { }, a keyword, \\t, \\r, \\n or \\uXXXX; \
                 quote the value or write `\\\\` for a backslash"
                    .into(),
            ),
            Some(c) if is_special(c) && c != '(' => Some(format!(
                "`{c}` is special in kuery: escape it as `\\{c}` or quote the value"
            )),
            None if self.expected.contains("closing quote") => Some("a quoted string is not closed".into()),
            _ if before.to_ascii_lowercase().ends_with("not") => {
                Some("`not` must be followed by whitespace and a query".into())
            }
            _ => None,
        }
    }
}

fn escaped_whitespace(c: Option<char>) -> Option<char> {
    match c {
        Some('t') => Some('\t'),
        Some('r') => Some('\r'),
        Some('n') => Some('\n'),
        _ => None,
    }
}

fn push_char(units: &mut Vec<u16>, c: char) {
    let mut buf = [0u16; 2];
    units.extend_from_slice(c.encode_utf16(&mut buf));
}

/// Kibana joins the characters and calls `trim()` on the sequence; wildcards are not whitespace.
fn trim_chunks(mut chunks: Vec<Chunk>) -> Vec<Chunk> {
    while let Some(Chunk::Text(t)) = chunks.first_mut() {
        let trimmed = t.trim_start_matches(is_js_whitespace);
        if trimmed.is_empty() {
            chunks.remove(0);
        } else {
            *t = trimmed.to_string();
            break;
        }
    }
    while let Some(Chunk::Text(t)) = chunks.last_mut() {
        let trimmed = t.trim_end_matches(is_js_whitespace);
        if trimmed.is_empty() {
            chunks.pop();
        } else {
            *t = trimmed.to_string();
            break;
        }
    }
    chunks
}
