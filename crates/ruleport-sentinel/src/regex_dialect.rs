//! Regex dialects: the IR's Rust syntax out to Kusto's RE2, and RE2 back into a Rust regex with
//! RE2's meaning (for the evaluator).
//!
//! Where they differ: RE2's `\d \w \s \b` are ASCII-only while Rust's are Unicode; RE2 has no
//! nested classes, class set operations (`&&`, `--`, `~~`), `(?x)`, `(?u)`, `(?R)`, `\b{start}`,
//! `\<`, `\>`, binary Unicode properties or counted repetition above 1000.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassPerlKind, ClassSet, ClassSetItem, Flag, FlagsItemKind,
    GroupKind, HexLiteralKind, LiteralKind, RepetitionKind, RepetitionRange,
};

/// RE2's limit on counted repetition.
const RE2_MAX_REPEAT: u32 = 1000;

/// Unicode White_Space as RE2 class items (what Rust's Unicode `\s` matches): U+0009–U+000D,
/// U+0085 and the separators `\p{Z}` (Zs, Zl, Zp).
const WHITE_SPACE_ITEMS: &str = r"\t\n\x0B\f\r\x85\p{Z}";

/// A translation of a Rust regex into RE2, with what it could not keep exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Re2 {
    pub pattern: String,
    /// `(code, reason)` of each known difference left in the translation.
    pub approximations: Vec<(String, String)>,
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
}

fn apply(pattern: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(pattern.len());
    let mut at = 0;
    for e in edits {
        if e.start < at {
            continue;
        }
        out.push_str(&pattern[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&pattern[at..]);
    out
}

fn parse_ast(pattern: &str) -> Result<Ast, String> {
    ast::parse::ParserBuilder::new()
        .nest_limit(250)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())
}

/// Long general-category names Rust accepts and their RE2 (short) spellings.
const GC_LONG: &[(&str, &str)] = &[
    ("Letter", "L"),
    ("Cased_Letter", "LC"),
    ("Uppercase_Letter", "Lu"),
    ("Lowercase_Letter", "Ll"),
    ("Titlecase_Letter", "Lt"),
    ("Modifier_Letter", "Lm"),
    ("Other_Letter", "Lo"),
    ("Mark", "M"),
    ("Nonspacing_Mark", "Mn"),
    ("Spacing_Mark", "Mc"),
    ("Enclosing_Mark", "Me"),
    ("Number", "N"),
    ("Decimal_Number", "Nd"),
    ("Letter_Number", "Nl"),
    ("Other_Number", "No"),
    ("Punctuation", "P"),
    ("Connector_Punctuation", "Pc"),
    ("Dash_Punctuation", "Pd"),
    ("Open_Punctuation", "Ps"),
    ("Close_Punctuation", "Pe"),
    ("Initial_Punctuation", "Pi"),
    ("Final_Punctuation", "Pf"),
    ("Other_Punctuation", "Po"),
    ("Symbol", "S"),
    ("Math_Symbol", "Sm"),
    ("Currency_Symbol", "Sc"),
    ("Modifier_Symbol", "Sk"),
    ("Other_Symbol", "So"),
    ("Separator", "Z"),
    ("Space_Separator", "Zs"),
    ("Line_Separator", "Zl"),
    ("Paragraph_Separator", "Zp"),
    ("Other", "C"),
    ("Control", "Cc"),
    ("Format", "Cf"),
    ("Surrogate", "Cs"),
    ("Private_Use", "Co"),
    ("Unassigned", "Cn"),
];

const GC_SHORT: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C",
    "Cc", "Cf", "Cs", "Co", "Cn", "Any",
];

/// Binary properties and other names Rust knows that RE2 does not.
const NOT_RE2: &[&str] = &[
    "Alphabetic",
    "Alpha",
    "White_Space",
    "WSpace",
    "Whitespace",
    "Uppercase",
    "Upper",
    "Lowercase",
    "Lower",
    "Emoji",
    "ASCII",
    "Assigned",
    "Math",
    "Ideographic",
    "Dash",
    "Hex_Digit",
    "Digit",
    "Word",
    "Cased",
    "Case_Ignorable",
    "Default_Ignorable_Code_Point",
    "Noncharacter_Code_Point",
    "Extended_Pictographic",
    "Join_Control",
    "Diacritic",
    "Quotation_Mark",
    "Terminal_Punctuation",
];

struct ToRe2<'p> {
    pattern: &'p str,
    edits: Vec<Edit>,
    approx: Vec<(String, String)>,
}

impl ToRe2<'_> {
    fn reject(&self, what: &str) -> String {
        format!("RE2 (Kusto `matches regex`) has no {what}")
    }

    fn replace(&mut self, span: &ast::Span, text: impl Into<String>) {
        self.edits.push(Edit {
            start: span.start.offset,
            end: span.end.offset,
            text: text.into(),
        });
    }

    fn flags(&mut self, items: &[ast::FlagsItem]) -> Result<(), String> {
        for it in items {
            if let FlagsItemKind::Flag(f) = it.kind {
                match f {
                    Flag::CaseInsensitive
                    | Flag::MultiLine
                    | Flag::DotMatchesNewLine
                    | Flag::SwapGreed => {}
                    Flag::Unicode => return Err(self.reject("`u` flag")),
                    Flag::CRLF => return Err(self.reject("`R` (CRLF) flag")),
                    Flag::IgnoreWhitespace => return Err(self.reject("`x` (verbose) flag")),
                }
            }
        }
        Ok(())
    }

    fn unicode(&mut self, u: &ast::ClassUnicode) -> Result<(), String> {
        match &u.kind {
            ast::ClassUnicodeKind::OneLetter(_) => Ok(()),
            ast::ClassUnicodeKind::Named(name) => {
                if GC_SHORT.contains(&name.as_str()) {
                    return Ok(());
                }
                if let Some((_, short)) = GC_LONG.iter().find(|(l, _)| l.eq_ignore_ascii_case(name))
                {
                    let p = if u.negated { 'P' } else { 'p' };
                    self.replace(&u.span, format!("\\{p}{{{short}}}"));
                    return Ok(());
                }
                if NOT_RE2.iter().any(|n| n.eq_ignore_ascii_case(name)) || name.contains(['=', ':'])
                {
                    return Err(self.reject(&format!("Unicode property `{name}`")));
                }
                // Script names (Greek, Latin, Cyrillic…) are shared.
                Ok(())
            }
            ast::ClassUnicodeKind::NamedValue { name, .. } => {
                Err(self.reject(&format!("Unicode property syntax `{name}=…`")))
            }
        }
    }

    fn perl(&mut self, p: &ast::ClassPerl, in_class: bool) -> Result<(), String> {
        match p.kind {
            ClassPerlKind::Digit => {
                self.replace(&p.span, if p.negated { r"\P{Nd}" } else { r"\p{Nd}" });
            }
            ClassPerlKind::Space if !p.negated => {
                let t = if in_class {
                    WHITE_SPACE_ITEMS.to_string()
                } else {
                    format!("[{WHITE_SPACE_ITEMS}]")
                };
                self.replace(&p.span, t);
            }
            ClassPerlKind::Space if !in_class => {
                self.replace(&p.span, format!("[^{WHITE_SPACE_ITEMS}]"));
            }
            ClassPerlKind::Space => self.approx.push((
                "regex-ascii-classes".into(),
                r"`\S` inside a class is ASCII-only in RE2 (Rust: Unicode)".into(),
            )),
            ClassPerlKind::Word => self.approx.push((
                "regex-ascii-classes".into(),
                r"`\w` is ASCII-only in RE2 (Rust: Unicode letters and digits)".into(),
            )),
        }
        Ok(())
    }

    fn literal(&mut self, l: &ast::Literal) -> Result<(), String> {
        match &l.kind {
            LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
            | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
                self.replace(&l.span, format!("\\x{{{:X}}}", l.c as u32));
            }
            LiteralKind::Octal => return Err(self.reject("octal escapes")),
            _ => {}
        }
        Ok(())
    }

    fn class_item(&mut self, item: &ClassSetItem) -> Result<(), String> {
        match item {
            ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) => Ok(()),
            ClassSetItem::Literal(l) => self.literal(l),
            ClassSetItem::Range(r) => {
                self.literal(&r.start)?;
                self.literal(&r.end)
            }
            ClassSetItem::Unicode(u) => self.unicode(u),
            ClassSetItem::Perl(p) => self.perl(p, true),
            ClassSetItem::Bracketed(_) => Err(self.reject("nested character classes")),
            ClassSetItem::Union(u) => u.items.iter().try_for_each(|i| self.class_item(i)),
        }
    }

    fn walk(&mut self, a: &Ast) -> Result<(), String> {
        match a {
            Ast::Empty(_) | Ast::Dot(_) => Ok(()),
            Ast::Flags(f) => self.flags(&f.flags.items),
            Ast::Literal(l) => self.literal(l),
            Ast::Assertion(x) => match x.kind {
                AssertionKind::StartLine
                | AssertionKind::EndLine
                | AssertionKind::StartText
                | AssertionKind::EndText => Ok(()),
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary => {
                    self.approx.push((
                        "regex-ascii-classes".into(),
                        r"`\b` is an ASCII word boundary in RE2 (Rust: Unicode)".into(),
                    ));
                    Ok(())
                }
                _ => Err(self.reject("`\\b{…}`, `\\<` or `\\>` word-boundary forms")),
            },
            Ast::ClassUnicode(u) => self.unicode(u),
            Ast::ClassPerl(p) => self.perl(p, false),
            Ast::ClassBracketed(b) => match &b.kind {
                ClassSet::BinaryOp(_) => {
                    Err(self.reject("class set operations (`&&`, `--`, `~~`)"))
                }
                ClassSet::Item(item) => match item {
                    ClassSetItem::Bracketed(_) => Err(self.reject("nested character classes")),
                    other => self.class_item(other),
                },
            },
            Ast::Repetition(r) => {
                if let RepetitionKind::Range(range) = &r.op.kind {
                    let n = match range {
                        RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => *n,
                        RepetitionRange::Bounded(a, b) => (*a).max(*b),
                    };
                    if n > RE2_MAX_REPEAT {
                        return Err(format!(
                            "RE2 limits counted repetition to {RE2_MAX_REPEAT} (found {n})"
                        ));
                    }
                }
                self.walk(&r.ast)
            }
            Ast::Group(g) => {
                match &g.kind {
                    GroupKind::CaptureName {
                        starts_with_p: false,
                        name,
                    } => {
                        // `(?<name>` → `(?P<name>`: older RE2 only knows the P form.
                        let start = g.span.start.offset;
                        let name_start = name.span.start.offset;
                        if self.pattern.get(start..name_start) == Some("(?<") {
                            self.edits.push(Edit {
                                start,
                                end: name_start,
                                text: "(?P<".into(),
                            });
                        }
                    }
                    GroupKind::NonCapturing(flags) => self.flags(&flags.items)?,
                    _ => {}
                }
                self.walk(&g.ast)
            }
            Ast::Alternation(x) => x.asts.iter().try_for_each(|a| self.walk(a)),
            Ast::Concat(x) => x.asts.iter().try_for_each(|a| self.walk(a)),
        }
    }
}

/// Translate an IR regex (Rust syntax) into RE2, or say why it cannot be.
pub fn rust_to_re2(pattern: &str) -> Result<Re2, String> {
    let ast = parse_ast(pattern)?;
    let mut t = ToRe2 {
        pattern,
        edits: Vec::new(),
        approx: Vec::new(),
    };
    t.walk(&ast)?;
    let out = apply(pattern, t.edits);
    let mut approx = t.approx;
    approx.sort();
    approx.dedup();
    Ok(Re2 {
        pattern: out,
        approximations: approx,
    })
}

struct ToRust {
    edits: Vec<Edit>,
}

impl ToRust {
    fn perl(&mut self, p: &ast::ClassPerl) {
        let body = match p.kind {
            ClassPerlKind::Digit => "0-9",
            ClassPerlKind::Word => "0-9A-Za-z_",
            ClassPerlKind::Space => r"\t\n\f\r ",
        };
        let neg = if p.negated { "^" } else { "" };
        self.edits.push(Edit {
            start: p.span.start.offset,
            end: p.span.end.offset,
            text: format!("[{neg}{body}]"),
        });
    }

    fn class_item(&mut self, item: &ClassSetItem) {
        match item {
            ClassSetItem::Perl(p) => self.perl(p),
            ClassSetItem::Union(u) => u.items.iter().for_each(|i| self.class_item(i)),
            ClassSetItem::Bracketed(b) => self.class_set(&b.kind),
            _ => {}
        }
    }

    fn class_set(&mut self, s: &ClassSet) {
        match s {
            ClassSet::Item(i) => self.class_item(i),
            ClassSet::BinaryOp(op) => {
                self.class_set(&op.lhs);
                self.class_set(&op.rhs);
            }
        }
    }

    fn walk(&mut self, a: &Ast) {
        match a {
            Ast::ClassPerl(p) => self.perl(p),
            Ast::ClassBracketed(b) => self.class_set(&b.kind),
            Ast::Assertion(x) => {
                let t = match x.kind {
                    AssertionKind::WordBoundary => r"(?-u:\b)",
                    AssertionKind::NotWordBoundary => r"(?-u:\B)",
                    _ => return,
                };
                self.edits.push(Edit {
                    start: x.span.start.offset,
                    end: x.span.end.offset,
                    text: t.into(),
                });
            }
            Ast::Repetition(r) => self.walk(&r.ast),
            Ast::Group(g) => self.walk(&g.ast),
            Ast::Alternation(x) => x.asts.iter().for_each(|a| self.walk(a)),
            Ast::Concat(x) => x.asts.iter().for_each(|a| self.walk(a)),
            _ => {}
        }
    }
}

/// A Rust regex with RE2's meaning for an RE2 pattern (ASCII `\d \w \s \b`), size-limited.
pub fn compile_re2(pattern: &str) -> Result<regex::Regex, String> {
    lazy_re2(pattern)?.get().cloned()
}

/// [`compile_re2`], checked now and built on first use.
pub fn lazy_re2(pattern: &str) -> Result<ruleport_model::matching::LazyRegex, String> {
    let ast = parse_ast(pattern)?;
    let mut t = ToRust { edits: Vec::new() };
    t.walk(&ast);
    ruleport_model::matching::LazyRegex::new(apply(pattern, t.edits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_items_are_unicode_white_space() {
        let ours = regex::Regex::new(&format!("^[{WHITE_SPACE_ITEMS}]$")).expect("re");
        let unicode = regex::Regex::new(r"^\s$").expect("re");
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(
                ours.is_match(&s),
                unicode.is_match(&s),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn unicode_classes_become_exact_re2() {
        let r = rust_to_re2(r"\d+\s(?<n>x)\D\S").expect("ok");
        assert_eq!(
            r.pattern,
            format!(r"\p{{Nd}}+[{WHITE_SPACE_ITEMS}](?P<n>x)\P{{Nd}}[^{WHITE_SPACE_ITEMS}]")
        );
        assert!(r.approximations.is_empty());
        let r = rust_to_re2(r"\w+\b").expect("ok");
        assert_eq!(r.pattern, r"\w+\b");
        assert_eq!(r.approximations.len(), 2);
        assert_eq!(
            rust_to_re2(r"\p{Letter}\u{E9}").expect("ok").pattern,
            r"\p{L}\x{E9}"
        );
    }

    #[test]
    fn rust_only_constructs_are_rejected() {
        for p in [
            r"[a-z&&[^aeiou]]",
            r"[a[b]]",
            r"(?x)a b",
            r"\b{start}x",
            r"a{1001}",
            r"\p{Alphabetic}",
            r"(?u)a",
        ] {
            assert!(rust_to_re2(p).is_err(), "{p}");
        }
        assert!(rust_to_re2("(?=x)").is_err());
    }

    #[test]
    fn re2_meaning_in_rust() {
        let re = compile_re2(r"^\w+$").expect("ok");
        assert!(re.is_match("abc_1"));
        assert!(!re.is_match("é"));
        let re = compile_re2(r"[\d]").expect("ok");
        assert!(!re.is_match("٣"));
        let re = compile_re2(r"\p{Nd}").expect("ok");
        assert!(re.is_match("٣"));
        let re = compile_re2(r"a\sb").expect("ok");
        assert!(!re.is_match("a\u{B}b"));
        assert!(re.is_match("a\tb"));
    }
}
