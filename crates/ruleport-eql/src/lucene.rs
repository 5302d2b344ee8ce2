//! Lucene regular expressions (what Elasticsearch EQL's `regex` uses) to and from the IR's
//! RE2/Rust syntax.
//!
//! Lucene (`RegExp` with `ALL` flags): no anchors (`^` and `$` are literal), the whole value must
//! match, `.` is any code point, `"…"` is a literal string, `@` is any string, `\d \s \w` (and
//! negations) are ASCII classes, `\` before any other non-letter makes it literal, and a
//! quantifier where an atom is expected is a literal character. Intersection `&`, intervals
//! `<n-m>` and the empty language `#` have no RE2 equivalent and are reported unsupported.
//!
//! The translation into Rust syntax is canonical and the translation back is its inverse on
//! that image, so EQL → IR → EQL → IR keeps the pattern text identical.

use regex_syntax::ast::{self, Ast};
use std::fmt::Write as _;

const MAX_CODE_POINT: u32 = 0x10FFFF;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Empty,
    Char(char),
    Any,
    AnyString,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    /// `\d \D \s \S \w \W` outside a class.
    Predef(char),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Group(Box<Node>),
    Repeat {
        inner: Box<Node>,
        rep: Rep,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    Opt,
    Star,
    Plus,
    Exactly(u32),
    AtLeast(u32),
    Bounded(u32, u32),
}

#[derive(Debug, Clone, PartialEq)]
enum ClassItem {
    Char(char),
    Range(char, char),
    Predef(char),
}

/// Translate a Lucene pattern into RE2/Rust syntax (to be compiled with dot-matches-newline and
/// full anchoring). The error says what is not supported.
pub fn to_rust(pattern: &str) -> Result<String, String> {
    if pattern.is_empty() {
        return Ok(String::new());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = LParser {
        s: &chars,
        i: 0,
        depth: 0,
    };
    let node = p.union()?;
    if p.i < chars.len() {
        return Err(format!("unexpected `{}` at position {}", chars[p.i], p.i));
    }
    let mut out = String::new();
    print_rust(&node, &mut out);
    // Reject anything the Rust engine would not accept (limits, ranges).
    regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .parse(&out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

struct LParser<'a> {
    s: &'a [char],
    i: usize,
    depth: usize,
}

const MAX_REGEX_DEPTH: usize = 200;

impl LParser<'_> {
    fn more(&self) -> bool {
        self.i < self.s.len()
    }

    fn peek(&self, set: &str) -> bool {
        self.more() && set.contains(self.s[self.i])
    }

    fn eat(&mut self, c: char) -> bool {
        if self.more() && self.s[self.i] == c {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn next(&mut self) -> Result<char, String> {
        if !self.more() {
            return Err("unexpected end of pattern".into());
        }
        let c = self.s[self.i];
        self.i += 1;
        Ok(c)
    }

    fn union(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_REGEX_DEPTH {
            return Err("pattern nests too deeply".into());
        }
        let mut alts = vec![self.inter()?];
        while self.eat('|') {
            alts.push(self.inter()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alts)
        })
    }

    fn inter(&mut self) -> Result<Node, String> {
        let e = self.concat()?;
        if self.peek("&") {
            return Err("intersection `&` is not supported".into());
        }
        Ok(e)
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = vec![self.repeat()?];
        while self.more() && !self.peek(")|&") {
            items.push(self.repeat()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Empty)
        } else {
            Node::Concat(items)
        })
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.i;
        while self.peek("0123456789") {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("integer expected at position {}", self.i));
        }
        let s: String = self.s[start..self.i].iter().collect();
        s.parse()
            .map_err(|_| format!("repetition count `{s}` is too large"))
    }

    fn repeat(&mut self) -> Result<Node, String> {
        let mut e = self.class_exp()?;
        while self.peek("?*+{") {
            let rep = match self.next()? {
                '?' => Rep::Opt,
                '*' => Rep::Star,
                '+' => Rep::Plus,
                _ => {
                    let n = self.number()?;
                    let rep = if self.eat(',') {
                        if self.peek("0123456789") {
                            let m = self.number()?;
                            Rep::Bounded(n, m)
                        } else {
                            Rep::AtLeast(n)
                        }
                    } else {
                        Rep::Exactly(n)
                    };
                    if !self.eat('}') {
                        return Err(format!("expected `}}` at position {}", self.i));
                    }
                    rep
                }
            };
            e = Node::Repeat {
                inner: Box::new(e),
                rep,
            };
        }
        Ok(e)
    }

    fn class_exp(&mut self) -> Result<Node, String> {
        if self.eat('[') {
            let negated = self.eat('^');
            let mut items = vec![self.class_item()?];
            while self.more() && !self.peek("]") {
                items.push(self.class_item()?);
            }
            if !self.eat(']') {
                return Err(format!("expected `]` at position {}", self.i));
            }
            return Ok(Node::Class { negated, items });
        }
        self.simple()
    }

    /// `\` followed by a letter or `\`: a predefined class, an escaped backslash, or an error.
    /// Returns `Ok(None)` (with the backslash consumed) when another character follows.
    fn predefined(&mut self) -> Result<Option<ClassItem>, String> {
        if !self.eat('\\') {
            return Ok(None);
        }
        if !self.more() {
            return Err("pattern ends with `\\`".into());
        }
        let c = self.s[self.i];
        if c == '\\' {
            self.i += 1;
            return Ok(Some(ClassItem::Char('\\')));
        }
        if c.is_ascii_alphabetic() {
            self.i += 1;
            return match c {
                'd' | 'D' | 's' | 'S' | 'w' | 'W' => Ok(Some(ClassItem::Predef(c))),
                _ => Err(format!("invalid character class `\\{c}`")),
            };
        }
        Ok(None)
    }

    fn char_exp(&mut self) -> Result<char, String> {
        if self.eat('\\') {
            return self.next();
        }
        self.next()
    }

    fn class_item(&mut self) -> Result<ClassItem, String> {
        let before = self.i;
        if let Some(item) = self.predefined()? {
            return Ok(item);
        }
        // The backslash (if any) was consumed; what follows is literal.
        let c = if self.i > before {
            self.next()?
        } else {
            self.char_exp()?
        };
        if self.eat('-') {
            let d = self.char_exp()?;
            if c > d {
                return Err(format!("invalid range `{c}-{d}`"));
            }
            return Ok(ClassItem::Range(c, d));
        }
        Ok(ClassItem::Char(c))
    }

    fn simple(&mut self) -> Result<Node, String> {
        if self.eat('.') {
            return Ok(Node::Any);
        }
        if self.peek("#") {
            return Err("the empty language `#` is not supported".into());
        }
        if self.eat('@') {
            return Ok(Node::AnyString);
        }
        if self.eat('"') {
            let mut lit = Vec::new();
            while self.more() && !self.peek("\"") {
                lit.push(Node::Char(self.s[self.i]));
                self.i += 1;
            }
            if !self.eat('"') {
                return Err("unterminated `\"` literal".into());
            }
            return Ok(match lit.len() {
                0 => Node::Empty,
                1 => lit.pop().unwrap_or(Node::Empty),
                _ => Node::Concat(lit),
            });
        }
        if self.eat('(') {
            if self.eat(')') {
                return Ok(Node::Group(Box::new(Node::Empty)));
            }
            let e = self.union()?;
            if !self.eat(')') {
                return Err(format!("expected `)` at position {}", self.i));
            }
            return Ok(Node::Group(Box::new(e)));
        }
        if self.peek("<") {
            return Err("numeric intervals `<n-m>` are not supported".into());
        }
        let before = self.i;
        match self.predefined()? {
            Some(ClassItem::Predef(c)) => return Ok(Node::Predef(c)),
            Some(ClassItem::Char(c)) => return Ok(Node::Char(c)),
            Some(ClassItem::Range(..)) => return Err("unexpected range".into()),
            None => {}
        }
        if self.i > before {
            return Ok(Node::Char(self.next()?));
        }
        Ok(Node::Char(self.next()?))
    }
}

fn predef_ranges(c: char) -> Vec<(u32, u32)> {
    let base: Vec<(u32, u32)> = match c.to_ascii_lowercase() {
        'd' => vec![(0x30, 0x39)],
        's' => vec![(0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20)],
        _ => vec![(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    };
    if c.is_ascii_uppercase() {
        complement(&base)
    } else {
        base
    }
}

fn complement(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(a, b) in ranges {
        if a > next {
            out.push((next, a - 1));
        }
        next = b + 1;
    }
    if next <= MAX_CODE_POINT {
        out.push((next, MAX_CODE_POINT));
    }
    out
}

fn rust_class_char(c: char, out: &mut String) {
    if matches!(c, '\\' | ']' | '[' | '-' | '^' | '&' | '~') {
        out.push('\\');
        out.push(c);
    } else if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')
        || matches!(c as u32, 0xD800..=0xDFFF)
        || c as u32 >= 0x7F && c.is_control()
    {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn rust_class_range(a: u32, b: u32, out: &mut String) {
    let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) else {
        // Surrogates cannot appear in ranges we build (they only bound complements).
        let _ = write!(out, "\\x{{{a:X}}}-\\x{{{b:X}}}");
        return;
    };
    rust_class_char(a, out);
    if a != b {
        out.push('-');
        rust_class_char(b, out);
    }
}

fn print_rust(n: &Node, out: &mut String) {
    match n {
        Node::Empty => {}
        Node::Char(c) => {
            if regex_syntax::is_meta_character(*c) {
                out.push('\\');
                out.push(*c);
            } else if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                let _ = write!(out, "\\x{{{:X}}}", *c as u32);
            } else {
                out.push(*c);
            }
        }
        Node::Any => out.push('.'),
        Node::AnyString => out.push_str(".*"),
        Node::Predef(c) => {
            out.push('[');
            for (a, b) in predef_ranges(*c) {
                rust_class_range(a, b, out);
            }
            out.push(']');
        }
        Node::Class { negated, items } => {
            out.push('[');
            if *negated {
                out.push('^');
            }
            for it in items {
                match it {
                    ClassItem::Char(c) => rust_class_char(*c, out),
                    ClassItem::Range(a, b) => rust_class_range(*a as u32, *b as u32, out),
                    ClassItem::Predef(c) => {
                        for (a, b) in predef_ranges(*c) {
                            rust_class_range(a, b, out);
                        }
                    }
                }
            }
            out.push(']');
        }
        Node::Concat(v) => v.iter().for_each(|x| print_rust(x, out)),
        Node::Alt(v) => {
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                print_rust(x, out);
            }
        }
        Node::Group(inner) => {
            out.push('(');
            print_rust(inner, out);
            out.push(')');
        }
        Node::Repeat { inner, rep } => {
            // Lucene `x*?` is `(x*)?`; Rust's lazy `x*?` matches the same strings. Not so for
            // `x+?`: Lucene's `(x+)?` also matches "", Rust's lazy `x+?` does not.
            if let (
                Rep::Opt,
                Node::Repeat {
                    inner: base,
                    rep: r2,
                },
            ) = (rep, inner.as_ref())
            {
                if is_atom(base) && rep_min(*r2) == 0 {
                    print_rust(base, out);
                    print_rep(*r2, out);
                    out.push('?');
                    return;
                }
            }
            if is_atom(inner) {
                print_rust(inner, out);
            } else {
                out.push('(');
                print_rust(inner, out);
                out.push(')');
            }
            print_rep(*rep, out);
        }
    }
}

/// The fewest repetitions `rep` accepts.
fn rep_min(rep: Rep) -> u32 {
    match rep {
        Rep::Opt | Rep::Star => 0,
        Rep::Plus => 1,
        Rep::Exactly(n) | Rep::AtLeast(n) | Rep::Bounded(n, _) => n,
    }
}

fn is_atom(n: &Node) -> bool {
    matches!(
        n,
        Node::Char(_) | Node::Any | Node::Class { .. } | Node::Predef(_) | Node::Group(_)
    )
}

fn print_rep(r: Rep, out: &mut String) {
    match r {
        Rep::Opt => out.push('?'),
        Rep::Star => out.push('*'),
        Rep::Plus => out.push('+'),
        Rep::Exactly(n) => {
            let _ = write!(out, "{{{n}}}");
        }
        Rep::AtLeast(n) => {
            let _ = write!(out, "{{{n},}}");
        }
        Rep::Bounded(n, m) => {
            let _ = write!(out, "{{{n},{m}}}");
        }
    }
}

// ---- Rust → Lucene ----

/// The result of translating a Rust regex for EQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuceneRegex {
    pub pattern: String,
    /// The pattern asked for case-insensitive matching with a leading `(?i)`.
    pub case_insensitive: bool,
    /// Approximation notes (codes and reasons).
    pub notes: Vec<(String, String)>,
}

/// Translate an RE2/Rust pattern into Lucene syntax. `search` wraps it for a match anywhere
/// (Lucene always matches the whole value); `dotall` is the spec's flag.
pub fn from_rust(
    pattern: &str,
    search: bool,
    dotall: bool,
    multiline: bool,
) -> Result<LuceneRegex, String> {
    let parsed = ast::parse::ParserBuilder::new()
        .nest_limit(MAX_REGEX_DEPTH as u32)
        .build()
        .parse(pattern)
        .map_err(|e| format!("invalid regex: {e}"))?;
    let mut st = ToLucene {
        dotall,
        multiline,
        ci: false,
        notes: Vec::new(),
    };
    let items: Vec<&Ast> = match &parsed {
        Ast::Concat(c) => c.asts.iter().collect(),
        other => vec![other],
    };
    // Leading flag groups such as `(?i)` apply to the whole pattern.
    let mut rest: Vec<&Ast> = Vec::new();
    let mut leading = true;
    for a in items {
        if leading {
            if let Ast::Flags(f) = a {
                st.apply_flags(&f.flags)?;
                continue;
            }
            leading = false;
        }
        rest.push(a);
    }
    let body: Vec<&Ast> = rest;
    let out = if body.len() == 1 {
        if let Ast::Alternation(alt) = body[0] {
            let any_anchor = alt.asts.iter().any(has_edge_anchor);
            if any_anchor || !search {
                let mut parts = Vec::new();
                for b in &alt.asts {
                    let seq: Vec<&Ast> = match b {
                        Ast::Concat(c) => c.asts.iter().collect(),
                        other => vec![other],
                    };
                    parts.push(st.branch(&seq, search)?);
                }
                format!("({})", parts.join("|"))
            } else {
                let inner = st.branch(&[body[0]], false)?;
                format!(".*({inner}).*")
            }
        } else {
            st.branch(&body, search)?
        }
    } else {
        st.branch(&body, search)?
    };
    Ok(LuceneRegex {
        pattern: out,
        case_insensitive: st.ci,
        notes: st.notes,
    })
}

fn has_edge_anchor(a: &Ast) -> bool {
    let seq: Vec<&Ast> = match a {
        Ast::Concat(c) => c.asts.iter().collect(),
        other => vec![other],
    };
    matches!(seq.first(), Some(Ast::Assertion(_))) || matches!(seq.last(), Some(Ast::Assertion(_)))
}

struct ToLucene {
    dotall: bool,
    multiline: bool,
    ci: bool,
    notes: Vec<(String, String)>,
}

impl ToLucene {
    fn apply_flags(&mut self, flags: &ast::Flags) -> Result<(), String> {
        let mut negate = false;
        for it in &flags.items {
            match &it.kind {
                ast::FlagsItemKind::Negation => negate = true,
                ast::FlagsItemKind::Flag(f) => match f {
                    ast::Flag::CaseInsensitive => self.ci = !negate,
                    ast::Flag::DotMatchesNewLine => self.dotall = !negate,
                    ast::Flag::MultiLine => self.multiline = !negate,
                    ast::Flag::Unicode | ast::Flag::CRLF => {}
                    ast::Flag::SwapGreed | ast::Flag::IgnoreWhitespace => {
                        return Err("inline flags `U` and `x` are not supported".into())
                    }
                },
            }
        }
        Ok(())
    }

    /// One alternative: strip edge anchors, wrap with `.*` where a search is not anchored.
    fn branch(&mut self, seq: &[&Ast], search: bool) -> Result<String, String> {
        let mut items: &[&Ast] = seq;
        let mut start_anchored = false;
        let mut end_anchored = false;
        if let Some(Ast::Assertion(a)) = items.first() {
            if self.is_start(&a.kind) {
                start_anchored = true;
                items = &items[1..];
            }
        }
        if let Some(Ast::Assertion(a)) = items.last() {
            if self.is_end(&a.kind) {
                end_anchored = true;
                items = &items[..items.len() - 1];
            }
        }
        let mut body = String::new();
        for a in items {
            self.node(a, &mut body)?;
        }
        if !search {
            return Ok(body);
        }
        let mut out = String::new();
        if !start_anchored {
            out.push_str(".*");
        }
        out.push_str(&body);
        if !end_anchored {
            out.push_str(".*");
        }
        Ok(out)
    }

    fn is_start(&self, k: &ast::AssertionKind) -> bool {
        matches!(k, ast::AssertionKind::StartText)
            || (matches!(k, ast::AssertionKind::StartLine) && !self.multiline)
    }

    fn is_end(&self, k: &ast::AssertionKind) -> bool {
        matches!(k, ast::AssertionKind::EndText)
            || (matches!(k, ast::AssertionKind::EndLine) && !self.multiline)
    }

    fn node(&mut self, a: &Ast, out: &mut String) -> Result<(), String> {
        match a {
            // Lucene has no empty branch (`a|`); `()` is its empty string.
            Ast::Empty(_) => out.push_str("()"),
            Ast::Flags(_) => return Err("inline flags inside the pattern are not supported".into()),
            Ast::Literal(l) => lucene_char(l.c, out),
            Ast::Dot(_) => out.push_str(if self.dotall { "." } else { "[^\n]" }),
            Ast::Assertion(_) => {
                return Err("anchors and word boundaries inside the pattern cannot be expressed in Lucene syntax".into())
            }
            Ast::ClassUnicode(_) => return Err("Unicode classes (`\\p{…}`) are not supported".into()),
            Ast::ClassPerl(p) => {
                let ranges = self.perl_ranges(p);
                lucene_class(&ranges, false, out);
            }
            Ast::ClassBracketed(c) => {
                let mut ranges = Vec::new();
                self.class_set(&c.kind, &mut ranges)?;
                if ranges.is_empty() {
                    return Err("empty character class".into());
                }
                lucene_class(&ranges, c.negated, out);
            }
            Ast::Repetition(r) => {
                self.node(&r.ast, out)?;
                match r.op.kind {
                    ast::RepetitionKind::ZeroOrOne => out.push('?'),
                    ast::RepetitionKind::ZeroOrMore => out.push('*'),
                    ast::RepetitionKind::OneOrMore => out.push('+'),
                    ast::RepetitionKind::Range(ref rr) => match rr {
                        ast::RepetitionRange::Exactly(n) => {
                            let _ = write!(out, "{{{n}}}");
                        }
                        ast::RepetitionRange::AtLeast(n) => {
                            let _ = write!(out, "{{{n},}}");
                        }
                        ast::RepetitionRange::Bounded(n, m) => {
                            let _ = write!(out, "{{{n},{m}}}");
                        }
                    },
                }
                // Laziness does not change which strings match, and Lucene has none: its `x+?`
                // is `(x+)?`. A trailing `?` is written only where that reading is the same
                // (a repetition that already accepts zero), keeping the round trip exact.
                let min = match r.op.kind {
                    ast::RepetitionKind::ZeroOrOne | ast::RepetitionKind::ZeroOrMore => 0,
                    ast::RepetitionKind::OneOrMore => 1,
                    ast::RepetitionKind::Range(
                        ast::RepetitionRange::Exactly(n)
                        | ast::RepetitionRange::AtLeast(n)
                        | ast::RepetitionRange::Bounded(n, _),
                    ) => n,
                };
                if !r.greedy && min == 0 {
                    out.push('?');
                }
            }
            Ast::Group(g) => {
                if let ast::GroupKind::NonCapturing(f) = &g.kind {
                    if !f.items.is_empty() {
                        return Err("inline flag groups such as `(?i:…)` are not supported".into());
                    }
                }
                out.push('(');
                self.node(&g.ast, out)?;
                out.push(')');
            }
            Ast::Alternation(alt) => {
                for (i, x) in alt.asts.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    self.node(x, out)?;
                }
            }
            Ast::Concat(c) => {
                for x in &c.asts {
                    self.node(x, out)?;
                }
            }
        }
        Ok(())
    }

    fn perl_ranges(&mut self, p: &ast::ClassPerl) -> Vec<(u32, u32)> {
        let c = match p.kind {
            ast::ClassPerlKind::Digit => 'd',
            ast::ClassPerlKind::Space => 's',
            ast::ClassPerlKind::Word => 'w',
        };
        self.notes.push((
            "eql-regex-ascii-class".into(),
            format!("`\\{c}` is Unicode-aware in the rule's regex but ASCII-only in Lucene"),
        ));
        let base = if c == 's' {
            // RE2's ASCII \s also has \v and \f; Lucene's does not, so list them explicitly.
            vec![(0x09, 0x0D), (0x20, 0x20)]
        } else {
            predef_ranges(c)
        };
        if p.negated {
            complement(&base)
        } else {
            base
        }
    }

    fn class_set(&mut self, set: &ast::ClassSet, out: &mut Vec<(u32, u32)>) -> Result<(), String> {
        match set {
            ast::ClassSet::BinaryOp(_) => {
                Err("class set operations (`&&`, `--`, `~~`) are not supported".into())
            }
            ast::ClassSet::Item(item) => self.class_item(item, out),
        }
    }

    fn class_item(
        &mut self,
        item: &ast::ClassSetItem,
        out: &mut Vec<(u32, u32)>,
    ) -> Result<(), String> {
        match item {
            ast::ClassSetItem::Empty(_) => Ok(()),
            ast::ClassSetItem::Literal(l) => {
                out.push((l.c as u32, l.c as u32));
                Ok(())
            }
            ast::ClassSetItem::Range(r) => {
                out.push((r.start.c as u32, r.end.c as u32));
                Ok(())
            }
            ast::ClassSetItem::Ascii(a) => {
                if a.negated {
                    return Err("negated ASCII classes are not supported".into());
                }
                out.extend(ascii_ranges(&a.kind));
                Ok(())
            }
            ast::ClassSetItem::Unicode(_) => {
                Err("Unicode classes (`\\p{…}`) are not supported".into())
            }
            ast::ClassSetItem::Perl(p) => {
                let r = self.perl_ranges(p);
                out.extend(r);
                Ok(())
            }
            ast::ClassSetItem::Bracketed(b) => {
                let mut inner = Vec::new();
                self.class_set(&b.kind, &mut inner)?;
                if b.negated {
                    inner.sort_unstable();
                    out.extend(complement(&merge(inner)));
                } else {
                    out.extend(inner);
                }
                Ok(())
            }
            ast::ClassSetItem::Union(u) => {
                for it in &u.items {
                    self.class_item(it, out)?;
                }
                Ok(())
            }
        }
    }
}

fn merge(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    v.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (a, b) in v {
        if let Some(last) = out.last_mut() {
            if a <= last.1.saturating_add(1) {
                last.1 = last.1.max(b);
                continue;
            }
        }
        out.push((a, b));
    }
    out
}

fn ascii_ranges(k: &ast::ClassAsciiKind) -> Vec<(u32, u32)> {
    use ast::ClassAsciiKind::*;
    let v: &[(u8, u8)] = match k {
        Alnum => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        Alpha => &[(b'A', b'Z'), (b'a', b'z')],
        Ascii => &[(0, 0x7F)],
        Blank => &[(b'\t', b'\t'), (b' ', b' ')],
        Cntrl => &[(0, 0x1F), (0x7F, 0x7F)],
        Digit => &[(b'0', b'9')],
        Graph => &[(b'!', b'~')],
        Lower => &[(b'a', b'z')],
        Print => &[(b' ', b'~')],
        Punct => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        Space => &[(b'\t', b'\r'), (b' ', b' ')],
        Upper => &[(b'A', b'Z')],
        Word => &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
        Xdigit => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
    };
    v.iter().map(|&(a, b)| (a as u32, b as u32)).collect()
}

/// Lucene's special characters outside a class (with the `ALL` flags).
fn lucene_char(c: char, out: &mut String) {
    if "\\.?+*|{}[]()\"#@&<>~".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

fn lucene_class(ranges: &[(u32, u32)], negated: bool, out: &mut String) {
    out.push('[');
    if negated {
        out.push('^');
    }
    for &(a, b) in ranges {
        class_char_lucene(a, out);
        if a != b {
            out.push('-');
            class_char_lucene(b, out);
        }
    }
    out.push(']');
}

fn class_char_lucene(c: u32, out: &mut String) {
    let ch = char::from_u32(c).unwrap_or('\u{FFFD}');
    if ch.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(ch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(lucene: &str) -> String {
        to_rust(lucene).unwrap_or_else(|e| panic!("{lucene}: {e}"))
    }

    #[test]
    fn lucene_to_rust_basics() {
        assert_eq!(rt(".*?net1[ ]+localgroup.*?"), ".*?net1[ ]+localgroup.*?");
        assert_eq!(rt(r"\w+\.(pid|lock)"), r"[0-9A-Z_a-z]+\.(pid|lock)");
        assert_eq!(rt(r"https?:\/\/x"), "https?://x");
        assert_eq!(rt("^a$"), r"\^a\$");
        assert_eq!(rt("\"a.b\"c"), r"a\.bc");
        assert_eq!(rt("@x"), ".*x");
        assert_eq!(rt("*a"), r"\*a");
        assert_eq!(rt(r"[a-z\-\.]"), r"[a-z\-.]");
        assert_eq!(rt("()"), "()");
        assert!(to_rust("a&b").is_err());
        assert!(to_rust("<1-10>").is_err());
        assert!(to_rust(r"\q").is_err());
        assert!(to_rust("[z-a]").is_err());
        assert!(to_rust("(a").is_err());
    }

    #[test]
    fn predefined_classes_match_lucene() {
        let re = regex::Regex::new(&format!("^(?:{})$", rt(r"\s"))).expect("re");
        assert!(re.is_match("\t") && re.is_match("\n") && re.is_match("\r") && re.is_match(" "));
        assert!(!re.is_match("\u{b}") && !re.is_match("\u{c}"));
        let d = regex::Regex::new(&format!("^(?:{})$", rt(r"\D"))).expect("re");
        assert!(d.is_match("a") && !d.is_match("5"));
    }

    #[test]
    fn round_trip_is_identity_on_the_image() {
        for p in [
            ".*[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,5})?\\/[^ ]+.*",
            "/[a-z0-9\\s_\\-\\\\./]+\\s",
            "arn:aws:s3:::[^/]+/.*?(how|decrypt).*",
            "\\\".*\\.exe[^\\\"].*",
            "C:\\\\Program Files( \\(x86\\))?\\\\Steam\\\\.*",
            ".*[ʰ-˿ᴬ-ᶻ]+.*",
            "a+*b??c{2,}",
            "[\\D]",
            "x~y<",
        ] {
            let Ok(r1) = to_rust(p) else { continue };
            let back = from_rust(&r1, false, true, false).expect("back");
            assert!(!back.case_insensitive);
            let r2 =
                to_rust(&back.pattern).unwrap_or_else(|e| panic!("{p} → {} : {e}", back.pattern));
            assert_eq!(r1, r2, "pattern {p} → lucene {}", back.pattern);
        }
    }

    #[test]
    fn search_anchoring() {
        let l = |p: &str| from_rust(p, true, false, false).expect("ok").pattern;
        assert_eq!(l("abc"), ".*abc.*");
        assert_eq!(l("^abc"), "abc.*");
        assert_eq!(l("abc$"), ".*abc");
        assert_eq!(l("^a|b$"), "(a.*|.*b)");
        assert_eq!(l("a|b"), ".*(a|b).*");
        assert_eq!(l("a.b"), ".*a[^\n]b.*");
        assert!(from_rust("a\\bb", true, false, false).is_err());
        let ci = from_rust("(?i)abc", true, false, false).expect("ok");
        assert!(ci.case_insensitive);
        assert_eq!(ci.pattern, ".*abc.*");
        assert_eq!(l("a\"b"), ".*a\\\"b.*");
    }

    /// Lucene has no lazy quantifiers: `x+?` is `(x+)?`, which also matches "".
    #[test]
    fn lazy_looking_quantifiers_keep_lucene_meaning() {
        let full = |lucene: &str| regex::Regex::new(&format!("^(?:{})$", rt(lucene))).expect("re");
        assert!(full("a+?b").is_match("b"), "(a+)? accepts no a");
        assert!(full("a{2,3}?b").is_match("b"));
        assert!(full("a*?b").is_match("b") && full("a*?b").is_match("aab"));
        // Rust's lazy `\s+?` needs one space; the Lucene text written for it must too.
        let l = from_rust(r"x\s+?-f", true, false, false)
            .expect("ok")
            .pattern;
        let back = full(&l);
        assert!(back.is_match("x -f") && !back.is_match("x-f"), "{l}");
        assert_eq!(
            from_rust("a.*?b", false, true, false).expect("ok").pattern,
            "a.*?b"
        );
    }

    /// An empty alternative (`(?:\s|)`, SigmaHQ's Invoke-Obfuscation rules) has no Lucene form
    /// but `()`; written as a bare `|)` the query did not parse back.
    #[test]
    fn empty_alternatives_become_the_empty_group() {
        for (rust, lucene) in [
            ("x(?:a|)y", ".*x(a|())y.*"),
            ("(?:)", ".*(()).*"),
            ("|a", ".*(()|a).*"),
        ] {
            let l = from_rust(rust, true, false, false).expect("ok").pattern;
            assert_eq!(l, lucene);
            let back = regex::Regex::new(&format!("^(?:{})$", rt(&l))).expect("parses back");
            let search = regex::Regex::new(rust).expect("rust regex");
            for text in ["", "xy", "--xay--", "xby", "a"] {
                assert_eq!(
                    back.is_match(text),
                    search.is_match(text),
                    "{rust} on {text:?}"
                );
            }
        }
    }
}
