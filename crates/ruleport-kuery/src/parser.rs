//! A PEG parser that follows Kibana's `grammar.peggy` rule by rule (ordered choice, backtracking,
//! keyword look-ahead inside unquoted literals), without the autocomplete cursor rules.

use crate::ast::{Chunk, Literal, LiteralKind, Node, Query, RangeOp, Span, ValueList};
use ruleport_model::{Diagnostic, Pos};

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

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// Byte offset of the first char of each line.
    line_starts: Vec<usize>,
    /// Char index of every byte offset, for columns; empty when the text is ASCII (index = offset).
    char_index: Vec<u32>,
    /// Byte offset.
    pos: usize,
    depth: usize,
    fail_pos: usize,
    /// What was expected at `fail_pos`: a bit per [`Expect`] (a set lookup per failure was a
    /// visible cost on long queries that parse fine).
    expected: u32,
    fatal: Option<Diagnostic>,
}

/// What the parser expected where it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Whitespace,
    Not,
    Or,
    And,
    OpenParen,
    CloseParen,
    Colon,
    OpenBrace,
    CloseBrace,
    RangeOperator,
    FieldName,
    Literal,
    Value,
    Quote,
    ClosingQuote,
    EscapeSequence,
    EndOfInput,
}

impl Expect {
    const ALL: [Expect; 17] = [
        Expect::Whitespace,
        Expect::Not,
        Expect::Or,
        Expect::And,
        Expect::OpenParen,
        Expect::CloseParen,
        Expect::Colon,
        Expect::OpenBrace,
        Expect::CloseBrace,
        Expect::RangeOperator,
        Expect::FieldName,
        Expect::Literal,
        Expect::Value,
        Expect::Quote,
        Expect::ClosingQuote,
        Expect::EscapeSequence,
        Expect::EndOfInput,
    ];

    fn text(self) -> &'static str {
        match self {
            Expect::Whitespace => "whitespace",
            Expect::Not => "NOT",
            Expect::Or => "OR",
            Expect::And => "AND",
            Expect::OpenParen => "\"(\"",
            Expect::CloseParen => "\")\"",
            Expect::Colon => "\":\"",
            Expect::OpenBrace => "\"{\"",
            Expect::CloseBrace => "\"}\"",
            Expect::RangeOperator => "range operator",
            Expect::FieldName => "field name",
            Expect::Literal => "literal",
            Expect::Value => "value",
            Expect::Quote => "\"\\\"\"",
            Expect::ClosingQuote => "closing quote",
            Expect::EscapeSequence => "escape sequence",
            Expect::EndOfInput => "end of input",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
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

/// Text as Kibana builds it from UTF-16 code units: `\uXXXX` escapes may give surrogate halves,
/// paired when adjacent and replaced by U+FFFD when alone (as `String::from_utf16_lossy`).
#[derive(Default)]
struct Text {
    s: String,
    high: Option<u16>,
}

impl Text {
    fn flush(&mut self) {
        if self.high.take().is_some() {
            self.s.push(char::REPLACEMENT_CHARACTER);
        }
    }

    fn push_str(&mut self, t: &str) {
        self.flush();
        self.s.push_str(t);
    }

    fn push(&mut self, c: char) {
        self.flush();
        self.s.push(c);
    }

    fn push_unit(&mut self, u: u16) {
        match u {
            0xD800..=0xDBFF => {
                self.flush();
                self.high = Some(u);
            }
            0xDC00..=0xDFFF => match self.high.take() {
                Some(h) => {
                    let c = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                    self.s
                        .push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                None => self.s.push(char::REPLACEMENT_CHARACTER),
            },
            _ => {
                self.flush();
                self.s
                    .push(char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.s.is_empty() && self.high.is_none()
    }

    fn take(&mut self) -> String {
        self.flush();
        std::mem::take(&mut self.s)
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        let bytes = src.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut char_index = Vec::new();
        if !src.is_ascii() {
            char_index.reserve(bytes.len() + 1);
            let mut n = 0u32;
            for &b in bytes {
                // A lead byte gets its char's index; continuation bytes are never asked for.
                char_index.push(n);
                if b & 0xC0 != 0x80 {
                    n += 1;
                }
            }
            char_index.push(n);
        }
        Parser {
            text: src,
            bytes,
            line_starts,
            char_index,
            pos: 0,
            depth: 0,
            fail_pos: 0,
            expected: 0,
            fatal: None,
        }
    }

    fn char_at_index(&self, i: usize) -> usize {
        // ASCII text has no table: byte offsets are char offsets.
        self.char_index.get(i).map_or(i, |&n| n as usize)
    }

    /// 1-based line and column (in chars) of byte offset `i`.
    fn position(&self, i: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= i);
        let col = self.char_at_index(i) - self.char_at_index(self.line_starts[line - 1]) + 1;
        Pos::new(line as u32, col as u32)
    }

    /// The char at byte offset `i` (a char boundary).
    fn at(&self, i: usize) -> Option<char> {
        let b = *self.bytes.get(i)?;
        if b < 0x80 {
            Some(b as char)
        } else {
            self.text.get(i..).and_then(|t| t.chars().next())
        }
    }

    fn peek(&self) -> Option<char> {
        self.at(self.pos)
    }

    fn byte_at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// Byte length of the whitespace char at `i`, 0 when there is none.
    fn space_len(&self, i: usize) -> usize {
        match self.byte_at(i) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => 1,
            Some(0xC2) if self.byte_at(i + 1) == Some(0xA0) => 2,
            _ => 0,
        }
    }

    fn span(&self, start: usize) -> Span {
        Span {
            start,
            end: self.pos,
            pos: self.position(start),
        }
    }

    fn fail(&mut self, what: Expect) {
        if self.pos > self.fail_pos {
            self.fail_pos = self.pos;
            self.expected = 0;
        }
        if self.pos == self.fail_pos {
            self.expected |= what.bit();
        }
    }

    fn eat(&mut self, c: u8, what: Expect) -> bool {
        if self.byte_at(self.pos) == Some(c) {
            self.pos += 1;
            true
        } else {
            self.fail(what);
            false
        }
    }

    fn skip_space(&mut self) {
        loop {
            let n = self.space_len(self.pos);
            if n == 0 {
                break;
            }
            self.pos += n;
        }
        self.fail(Expect::Whitespace);
    }

    /// Case-insensitive ASCII word at byte offset `i`.
    fn word_at(&self, i: usize, w: &str) -> bool {
        self.bytes
            .get(i..i + w.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(w.as_bytes()))
    }

    /// `Space+ 'kw'i Space+` (the `Or` and `And` rules).
    fn binary_keyword(&mut self, kw: &str, what: Expect) -> bool {
        let save = self.pos;
        if self.space_len(self.pos) == 0 {
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
        if self.space_len(self.pos) == 0 {
            self.fail(Expect::Whitespace);
            self.pos = save;
            return false;
        }
        self.skip_space();
        true
    }

    /// `'not'i Space+`
    fn not_keyword(&mut self) -> bool {
        if self.word_at(self.pos, "not") && self.space_len(self.pos + 3) > 0 {
            self.pos += 3;
            self.skip_space();
            true
        } else {
            self.fail(Expect::Not);
            false
        }
    }

    /// The `Keyword` look-ahead that stops an unquoted literal.
    fn keyword_ahead(&self, i: usize) -> bool {
        let sp = self.space_len(i);
        if sp > 0 {
            let j = i + sp;
            (self.word_at(j, "or") && self.space_len(j + 2) > 0)
                || (self.word_at(j, "and") && self.space_len(j + 3) > 0)
        } else {
            self.word_at(i, "not") && self.space_len(i + 3) > 0
        }
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
        if self.pos < self.bytes.len() {
            self.fail(Expect::EndOfInput);
            return None;
        }
        Some(Query { root })
    }

    fn or_query(&mut self) -> Option<Node> {
        let head = self.and_query()?;
        let mut items = vec![head];
        loop {
            let save = self.pos;
            if self.binary_keyword("or", Expect::Or) {
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
            if self.binary_keyword("and", Expect::And) {
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
        if self.eat(b'(', Expect::OpenParen) {
            if !self.enter() {
                return None;
            }
            self.skip_space();
            let q = self.or_query();
            self.leave();
            if let Some(q) = q {
                self.skip_space();
                if self.eat(b')', Expect::CloseParen) {
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
        // `NestedQuery`, `FieldRangeExpression` and `FieldValueExpression` all start with the
        // same field literal: it is read once. A failed rule only records what it expected at
        // a position, and the error depends on the set of those records alone, so reading it
        // again would record nothing new.
        let mut field = self.literal(Expect::FieldName);
        let field_end = self.pos;
        if field.is_some() {
            self.skip_space();
            if self.eat(b':', Expect::Colon) {
                self.skip_space();
                if self.eat(b'{', Expect::OpenBrace) {
                    if !self.enter() {
                        return None;
                    }
                    self.skip_space();
                    let q = self.or_query();
                    self.leave();
                    if let Some(q) = q {
                        self.skip_space();
                        if self.eat(b'}', Expect::CloseBrace) {
                            return Some(Node::Nested {
                                field: field.take()?,
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
        self.expression(&mut field, field_end)
    }

    /// `field` is the field literal read at the current position, ending at `field_end`.
    fn expression(&mut self, field: &mut Option<Literal>, field_end: usize) -> Option<Node> {
        let save = self.pos;
        if let Some(n) = self.field_range(field, field_end) {
            return Some(n);
        }
        self.pos = save;
        if let Some(n) = self.field_value(field, field_end) {
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
        let op = match (self.byte_at(self.pos), self.byte_at(self.pos + 1)) {
            (Some(b'<'), Some(b'=')) => (RangeOp::Le, 2),
            (Some(b'>'), Some(b'=')) => (RangeOp::Ge, 2),
            (Some(b'<'), _) => (RangeOp::Lt, 1),
            (Some(b'>'), _) => (RangeOp::Gt, 1),
            _ => {
                self.fail(Expect::RangeOperator);
                return None;
            }
        };
        self.pos += op.1;
        Some(op.0)
    }

    fn field_range(&mut self, field: &mut Option<Literal>, field_end: usize) -> Option<Node> {
        let save = self.pos;
        field.as_ref()?;
        self.pos = field_end;
        self.skip_space();
        let op = self.range_op()?;
        self.skip_space();
        let value = self.literal(Expect::Literal)?;
        Some(Node::Range {
            field: field.take()?,
            op,
            value,
            span: self.span(save),
        })
    }

    fn field_value(&mut self, field: &mut Option<Literal>, field_end: usize) -> Option<Node> {
        let save = self.pos;
        field.as_ref()?;
        self.pos = field_end;
        self.skip_space();
        if !self.eat(b':', Expect::Colon) {
            return None;
        }
        self.skip_space();
        let values = self.list_of_values()?;
        Some(Node::Is {
            field: Some(field.take()?),
            values,
            span: self.span(save),
        })
    }

    fn list_of_values(&mut self) -> Option<ValueList> {
        let save = self.pos;
        if self.eat(b'(', Expect::OpenParen) {
            if !self.enter() {
                return None;
            }
            self.skip_space();
            let l = self.or_list();
            self.leave();
            if let Some(l) = l {
                self.skip_space();
                if self.eat(b')', Expect::CloseParen) {
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
            if self.binary_keyword("or", Expect::Or) {
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
            if self.binary_keyword("and", Expect::And) {
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
        self.literal(Expect::Value)
    }

    /// `Literal = QuotedString / UnquotedLiteral`
    fn literal(&mut self, what: Expect) -> Option<Literal> {
        if self.fatal.is_some() {
            return None;
        }
        let start = self.pos;
        if self.byte_at(start) == Some(b'"') {
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
        if !self.eat(b'"', Expect::Quote) {
            return None;
        }
        // Most values have no escape: copy them straight up to the closing quote.
        let body = self.pos;
        let rest = self.bytes.get(body..).unwrap_or_default();
        if let Some(len) = rest.iter().position(|&c| c == b'"' || c == b'\\') {
            if rest[len] == b'"' {
                self.pos = body + len + 1;
                return self.text.get(body..body + len).map(str::to_string);
            }
        }
        let mut text = Text::default();
        loop {
            match self.peek() {
                None => {
                    self.fail(Expect::ClosingQuote);
                    return None;
                }
                Some('"') => {
                    self.pos += 1;
                    return Some(text.take());
                }
                Some('\\') => {
                    let next = self.byte_at(self.pos + 1);
                    if let Some(c) = escaped_whitespace(next) {
                        text.push(c);
                        self.pos += 2;
                    } else if let Some(u) = self.unicode_escape() {
                        text.push_unit(u);
                    } else if let Some(c @ (b'\\' | b'"')) = next {
                        text.push(c as char);
                        self.pos += 2;
                    } else {
                        // Any other backslash is kept literally.
                        text.push('\\');
                        self.pos += 1;
                    }
                }
                Some(c) => {
                    text.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// `\uXXXX` at the current position: consumes it and returns the UTF-16 code unit.
    fn unicode_escape(&mut self) -> Option<u16> {
        if self.byte_at(self.pos) != Some(b'\\') || self.byte_at(self.pos + 1) != Some(b'u') {
            return None;
        }
        let mut v: u32 = 0;
        for k in 0..4 {
            let d = (self.byte_at(self.pos + 2 + k)? as char).to_digit(16)?;
            v = v * 16 + d;
        }
        self.pos += 6;
        u16::try_from(v).ok()
    }

    /// `UnquotedCharacter+`, then Kibana's `trim()`.
    fn unquoted_literal(&mut self, what: Expect) -> Option<Vec<Chunk>> {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut text = Text::default();
        let mut any = false;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'\\' {
                let next = self.byte_at(self.pos + 1);
                if let Some(w) = escaped_whitespace(next) {
                    text.push(w);
                    self.pos += 2;
                } else if let Some(s) = next.filter(|n| is_special(*n as char)) {
                    text.push(s as char);
                    self.pos += 2;
                } else if let Some(u) = self.unicode_escape() {
                    text.push_unit(u);
                } else if let Some(kw) = ["or", "and", "not"]
                    .into_iter()
                    .find(|kw| self.word_at(self.pos + 1, kw))
                {
                    // The keyword is returned as typed (`\NOT` gives `NOT`).
                    let typed = self.text.get(self.pos + 1..self.pos + 1 + kw.len());
                    text.push_str(typed.unwrap_or(kw));
                    self.pos += 1 + kw.len();
                } else {
                    self.fail(Expect::EscapeSequence);
                    break;
                }
            } else if b == b'*' {
                if !text.is_empty() {
                    chunks.push(Chunk::Text(text.take()));
                }
                chunks.push(Chunk::Wildcard);
                self.pos += 1;
            } else if is_special(b as char) || self.keyword_ahead(self.pos) {
                self.fail(what);
                break;
            } else {
                // A run of characters that can neither end the literal nor start an escape.
                let start = self.pos;
                let mut end = start + 1;
                while let Some(&c) = self.bytes.get(end) {
                    if c == b'\\' || c == b'*' || is_special(c as char) || c == 0xC2 {
                        break;
                    }
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'n' | b'N') {
                        break;
                    }
                    end += 1;
                }
                // Stop inside a char only at a boundary (0xC2 is a lead byte, so `end` is one).
                text.push_str(self.text.get(start..end).unwrap_or_default());
                self.pos = end;
            }
            any = true;
        }
        if !any {
            self.fail(what);
            return None;
        }
        if !text.is_empty() {
            chunks.push(Chunk::Text(text.take()));
        }
        Some(trim_chunks(chunks))
    }

    fn syntax_error(&self) -> Diagnostic {
        let at = self.fail_pos.min(self.bytes.len());
        let pos = self.position(at);
        let found = match self.at(at) {
            None => "end of input".to_string(),
            Some(c) => format!("{:?}", c.to_string()),
        };
        // Sorted by text, as the set of texts this once was.
        let mut expected: Vec<&str> = Expect::ALL
            .iter()
            .filter(|e| self.expected & e.bit() != 0)
            .map(|e| e.text())
            .collect();
        expected.sort_unstable();
        let count = expected.len();
        expected.retain(|e| *e != "whitespace" || count == 1);
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
        let c = self.at(at);
        let before: String = self
            .text
            .get(..at)
            .unwrap_or_default()
            .chars()
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
            None if self.expected & Expect::ClosingQuote.bit() != 0 => Some("a quoted string is not closed".into()),
            _ if before.to_ascii_lowercase().ends_with("not") => {
                Some("`not` must be followed by whitespace and a query".into())
            }
            _ => None,
        }
    }
}

fn escaped_whitespace(c: Option<u8>) -> Option<char> {
    match c {
        Some(b't') => Some('\t'),
        Some(b'r') => Some('\r'),
        Some(b'n') => Some('\n'),
        _ => None,
    }
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
