//! Matching primitives shared by the reference evaluator and the target evaluators.

use crate::expr::{RegexAnchor, RegexSpec};
use crate::value::{Case, Piece, StrPattern};
use memchr::memmem::Finder;
use std::borrow::Cow;
use std::net::IpAddr;

/// Size limits for every regex ruleport compiles (issue: bounded resources).
pub const REGEX_SIZE_LIMIT: usize = 1 << 24;
pub const REGEX_DFA_LIMIT: usize = 1 << 24;

/// Case folding used for case-insensitive comparison: full Unicode lower-casing.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// [`fold`] without allocating when the text is already folded (ASCII with no capitals).
pub fn fold_cow(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if b.iter().all(|c| c.is_ascii() && !c.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(fold(s))
    }
}

/// A pattern prepared for repeated matching: literals folded once when it is built, and a
/// matcher chosen by shape (equality, prefix, suffix, substring search, star-only segments, or
/// a general glob for `?`).
#[derive(Debug, Clone)]
pub struct GlobMatcher {
    case: Case,
    kind: GlobKind,
}

#[derive(Debug, Clone)]
enum GlobKind {
    /// No wildcard.
    Exact(String),
    /// `*`
    Any,
    /// `x*`
    Prefix(String),
    /// `*x`
    Suffix(String),
    /// `*x*`: memchr's substring searcher, built once.
    Contains(Box<Finder<'static>>),
    /// Literals and `*` only, with at least one inner literal: `a*b*c`.
    Segments {
        first: String,
        middle: Vec<Finder<'static>>,
        last: String,
    },
    /// With `?`: matched character by character.
    General(Vec<Tok>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    C(char),
    One,
    Star,
}

impl GlobMatcher {
    pub fn new(pattern: &StrPattern, case: Case) -> Self {
        let prep = |s: &str| match case {
            Case::Sensitive => s.to_string(),
            Case::Insensitive => fold(s),
        };
        // Literal runs separated by `*`, or None when the pattern has `?`.
        let mut segs: Option<Vec<String>> = Some(vec![String::new()]);
        let mut toks = Vec::new();
        for p in pattern.pieces() {
            let lit = match p {
                Piece::Lit(s) => Some(prep(s)),
                // An unresolved placeholder matches its own literal text.
                Piece::Placeholder(n) => Some(prep(&format!("%{n}%"))),
                Piece::AnyChars => {
                    toks.push(Tok::Star);
                    if let Some(v) = segs.as_mut() {
                        v.push(String::new());
                    }
                    None
                }
                Piece::OneChar => {
                    toks.push(Tok::One);
                    segs = None;
                    None
                }
            };
            if let Some(l) = lit {
                toks.extend(l.chars().map(Tok::C));
                if let Some(last) = segs.as_mut().and_then(|v| v.last_mut()) {
                    last.push_str(&l);
                }
            }
        }
        let kind = match segs {
            None => GlobKind::General(toks),
            Some(mut v) => match v.len() {
                1 => GlobKind::Exact(v.remove(0)),
                2 if v[0].is_empty() && v[1].is_empty() => GlobKind::Any,
                2 if v[1].is_empty() => GlobKind::Prefix(v.remove(0)),
                2 if v[0].is_empty() => GlobKind::Suffix(v.remove(1)),
                3 if v[0].is_empty() && v[2].is_empty() => {
                    GlobKind::Contains(Box::new(Finder::new(v[1].as_bytes()).into_owned()))
                }
                _ => {
                    let last = v.pop().unwrap_or_default();
                    let first = if v.is_empty() {
                        String::new()
                    } else {
                        v.remove(0)
                    };
                    GlobKind::Segments {
                        first,
                        middle: v
                            .iter()
                            .filter(|m| !m.is_empty())
                            .map(|m| Finder::new(m.as_bytes()).into_owned())
                            .collect(),
                        last,
                    }
                }
            },
        };
        GlobMatcher { case, kind }
    }

    /// The case rule the pattern was built with.
    pub fn case(&self) -> Case {
        self.case
    }

    pub fn is_match(&self, text: &str) -> bool {
        match self.case {
            Case::Sensitive => self.is_match_prepared(text),
            Case::Insensitive => self.is_match_prepared(&fold_cow(text)),
        }
    }

    /// Match text that is already folded when the pattern is case-insensitive (callers that
    /// test one value against many patterns fold it once).
    pub fn is_match_prepared(&self, text: &str) -> bool {
        match &self.kind {
            GlobKind::Exact(s) => text == s,
            GlobKind::Any => true,
            GlobKind::Prefix(p) => text.starts_with(p.as_str()),
            GlobKind::Suffix(s) => text.ends_with(s.as_str()),
            GlobKind::Contains(f) => f.find(text.as_bytes()).is_some(),
            GlobKind::Segments {
                first,
                middle,
                last,
            } => {
                let b = text.as_bytes();
                if b.len() < first.len() + last.len()
                    || !b.starts_with(first.as_bytes())
                    || !b.ends_with(last.as_bytes())
                {
                    return false;
                }
                // Leftmost placement of each inner literal is optimal for star-only globs.
                let mut rest = &b[first.len()..b.len() - last.len()];
                for f in middle {
                    match f.find(rest) {
                        Some(i) => rest = &rest[i + f.needle().len()..],
                        None => return false,
                    }
                }
                true
            }
            GlobKind::General(toks) => {
                let chars: Vec<char> = text.chars().collect();
                glob_match(toks, &chars)
            }
        }
    }
}

/// Iterative glob match with single-star backtracking: linear in practice, no exponential blow-up.
fn glob_match(toks: &[Tok], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < toks.len() {
            match toks[p] {
                Tok::Star => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                Tok::One => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Tok::C(c) if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Star)
}

/// The regex source for a spec: flags inline, `Full` anchoring as `\A(?:…)\z`.
pub fn regex_source(spec: &RegexSpec) -> String {
    let mut flags = String::new();
    if spec.case.is_insensitive() {
        flags.push('i');
    }
    if spec.multiline {
        flags.push('m');
    }
    if spec.dotall {
        flags.push('s');
    }
    let body = match spec.anchor {
        RegexAnchor::Search => spec.pattern.clone(),
        RegexAnchor::Full => format!(r"\A(?:{})\z", spec.pattern),
    };
    if flags.is_empty() {
        body
    } else {
        format!("(?{flags}){body}")
    }
}

/// Compile a regex spec into a Rust regex with ruleport's size limits.
pub fn compile_regex(spec: &RegexSpec) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&regex_source(spec))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether `spec` compiles within ruleport's size limits, building it only when a bound on its
/// size says it might not fit (building is the expensive part, and almost every rule's regex is
/// far below the limits).
pub fn check_regex_limits(spec: &RegexSpec) -> Result<(), String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&regex_source(spec))
        .map_err(|e| e.to_string())?;
    check_parsed_regex_limits(spec, &hir)
}

/// [`check_regex_limits`] for a caller that already holds the syntax tree of
/// [`regex_source`]`(spec)`.
pub fn check_parsed_regex_limits(
    spec: &RegexSpec,
    hir: &regex_syntax::hir::Hir,
) -> Result<(), String> {
    if nfa_bytes_bound(hir) <= REGEX_SIZE_LIMIT.min(REGEX_DFA_LIMIT) / 4 {
        return Ok(());
    }
    compile_regex(spec).map(|_| ())
}

/// Whether `spec` matches the empty string. A regex whose every match is at least one character
/// long is answered from its syntax tree; only the others are built.
pub fn regex_matches_empty(spec: &RegexSpec) -> Result<bool, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&regex_source(spec))
        .map_err(|e| e.to_string())?;
    match hir.properties().minimum_len() {
        Some(0) => Ok(compile_regex(spec)?.is_match("")),
        _ => Ok(false),
    }
}

/// An upper bound on the memory of the NFA the regex crate builds for `hir`: every character-class
/// range is charged 32 states (a range splits into at most 7 UTF-8 sequences of at most 4 bytes),
/// every repetition as many copies as its bound (or one more than its minimum), every state 64
/// bytes.
fn nfa_bytes_bound(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::{Class, HirKind};
    fn states(h: &regex_syntax::hir::Hir) -> usize {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => 1,
            HirKind::Literal(l) => l.0.len() + 1,
            HirKind::Class(Class::Unicode(c)) => c.ranges().len().saturating_mul(32) + 1,
            HirKind::Class(Class::Bytes(c)) => c.ranges().len() + 1,
            HirKind::Repetition(r) => {
                let copies = r.max.unwrap_or(r.min).saturating_add(1) as usize;
                states(&r.sub).saturating_mul(copies).saturating_add(2)
            }
            HirKind::Capture(c) => states(&c.sub).saturating_add(2),
            HirKind::Concat(v) | HirKind::Alternation(v) => v
                .iter()
                .fold(1usize, |acc, h| acc.saturating_add(states(h))),
        }
    }
    states(hir).saturating_mul(64)
}

/// A regex whose syntax is checked when a query is compiled and which is built on first use.
///
/// Every port is parsed back before it is handed out; building the matcher (NFA, prefilters)
/// was most of that check's cost and is only needed when the query runs. What the check cannot
/// see, the size limits, is reported by [`LazyRegex::get`] when the query runs.
#[derive(Debug, Clone)]
pub struct LazyRegex {
    source: String,
    built: std::sync::OnceLock<Result<regex::Regex, String>>,
}

impl LazyRegex {
    /// Check `source` as `regex::Regex::new` would (its syntax and Unicode classes).
    pub fn new(source: String) -> Result<LazyRegex, String> {
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(&source)
            .map_err(|e| e.to_string())?;
        Ok(LazyRegex {
            source,
            built: std::sync::OnceLock::new(),
        })
    }

    /// The built regex, with ruleport's size limits.
    pub fn get(&self) -> Result<&regex::Regex, String> {
        self.built
            .get_or_init(|| {
                regex::RegexBuilder::new(&self.source)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_DFA_LIMIT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Whether `text` is an IP address inside `net`.
pub fn cidr_contains(net: &ipnet::IpNet, text: &str) -> bool {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| net.contains(&ip))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str, case: Case) -> RegexSpec {
        RegexSpec {
            pattern: pattern.into(),
            case,
            multiline: false,
            dotall: false,
            anchor: crate::RegexAnchor::Search,
        }
    }

    const REGEX_SAMPLES: [&str; 16] = [
        "a",
        "",
        "^$",
        "a*",
        r"\b",
        "(?:x|)",
        r"\w+",
        r"^\s*$",
        "a?b?",
        "[a-z]{3}",
        r"\w{100}",
        r"\w{1000}",
        r"(?:\w{50}){50}",
        r"[\p{L}\p{N}]{200}\d{300}",
        r"(?-u:\w){5000}",
        "(a|bc)*d",
    ];

    #[test]
    fn limit_check_agrees_with_building_the_regex() {
        let mut refused = 0;
        for p in REGEX_SAMPLES {
            for case in [Case::Sensitive, Case::Insensitive] {
                let spec = re(p, case);
                let built = compile_regex(&spec);
                assert_eq!(
                    check_regex_limits(&spec).is_ok(),
                    built.is_ok(),
                    "{p} {case:?}"
                );
                refused += usize::from(built.is_err());
            }
        }
        assert!(refused > 0, "the samples include regexes over the limit");
    }

    #[test]
    fn empty_match_check_agrees_with_the_built_regex() {
        for p in REGEX_SAMPLES
            .iter()
            .filter(|p| compile_regex(&re(p, Case::Sensitive)).is_ok())
        {
            for anchor in [crate::RegexAnchor::Search, crate::RegexAnchor::Full] {
                let spec = RegexSpec {
                    anchor,
                    ..re(p, Case::Insensitive)
                };
                let built = compile_regex(&spec).expect("compiles").is_match("");
                assert_eq!(regex_matches_empty(&spec), Ok(built), "{p} {anchor:?}");
            }
        }
    }

    fn m(p: &str, case: Case, t: &str) -> bool {
        GlobMatcher::new(&StrPattern::from_glob_unescaped(p), case).is_match(t)
    }

    #[test]
    fn globs() {
        assert!(m("*cmd.exe", Case::Insensitive, "C:\\Windows\\CMD.EXE"));
        assert!(!m("*cmd.exe", Case::Sensitive, "C:\\Windows\\CMD.EXE"));
        assert!(m("a?c", Case::Sensitive, "abc"));
        assert!(!m("a?c", Case::Sensitive, "ac"));
        assert!(m("*a*b*", Case::Sensitive, "xxaxxbxx"));
        assert!(!m("*a*b*", Case::Sensitive, "xxbxxaxx"));
        assert!(m("", Case::Sensitive, ""));
        assert!(!m("", Case::Sensitive, "x"));
        assert!(m("*", Case::Sensitive, ""));
        assert!(m("é*", Case::Insensitive, "Éte"));
    }

    #[test]
    fn star_segments_place_each_literal_leftmost() {
        assert!(m("a*b*c", Case::Sensitive, "abc"));
        assert!(m("a*b*c", Case::Sensitive, "axxbyyc"));
        assert!(!m("a*b*c", Case::Sensitive, "acb"));
        // Prefix and suffix must not overlap.
        assert!(!m("ab*ba", Case::Sensitive, "aba"));
        assert!(m("ab*ba", Case::Sensitive, "abba"));
        assert!(m("*a*a*", Case::Sensitive, "xaxa"));
        assert!(!m("*a*a*", Case::Sensitive, "xax"));
        assert!(m(
            "*\\SYSTEM32\\*.DLL",
            Case::Insensitive,
            "c:\\windows\\system32\\x.dll"
        ));
    }

    #[test]
    fn pattern_empty_match_agrees_with_the_matcher() {
        let mut pats: Vec<StrPattern> = ["", "*", "**", "?", "*?*", "a", "*a", "a*", "*%x%*"]
            .iter()
            .map(|p| StrPattern::from_glob_unescaped(p))
            .collect();
        pats.push(StrPattern::new(vec![
            Piece::AnyChars,
            Piece::Placeholder("x".into()),
        ]));
        for p in pats {
            for case in [Case::Sensitive, Case::Insensitive] {
                assert_eq!(
                    p.matches_empty(),
                    GlobMatcher::new(&p, case).is_match(""),
                    "{p:?}"
                );
            }
        }
    }

    #[test]
    fn shapes_agree_with_the_general_glob() {
        let texts = [
            "", "a", "abc", "ABC", "xabcx", "cba", "aXbXc", "ÉTÉ", "été", "a*b", "?",
        ];
        let pats = [
            "", "*", "abc", "abc*", "*abc", "*abc*", "a*c", "*b*", "a?c", "*É*", "été", "a\\*b",
        ];
        for p in pats {
            let pattern = StrPattern::from_glob_unescaped(p);
            for case in [Case::Sensitive, Case::Insensitive] {
                let g = GlobMatcher::new(&pattern, case);
                // The reference: one token stream, matched character by character.
                let mut toks = Vec::new();
                for pc in pattern.pieces() {
                    match pc {
                        Piece::Lit(s) => {
                            let s = if case.is_insensitive() {
                                fold(s)
                            } else {
                                s.clone()
                            };
                            toks.extend(s.chars().map(Tok::C));
                        }
                        Piece::AnyChars => toks.push(Tok::Star),
                        Piece::OneChar => toks.push(Tok::One),
                        Piece::Placeholder(_) => {}
                    }
                }
                for t in texts {
                    let folded = if case.is_insensitive() {
                        fold(t)
                    } else {
                        t.to_string()
                    };
                    let want = glob_match(&toks, &folded.chars().collect::<Vec<_>>());
                    assert_eq!(g.is_match(t), want, "pattern {p:?} {case:?} on {t:?}");
                }
            }
        }
    }

    #[test]
    fn placeholders_match_their_own_text() {
        let p = StrPattern::new([
            Piece::Lit("a".into()),
            Piece::Placeholder("x".into()),
            Piece::AnyChars,
        ]);
        assert!(GlobMatcher::new(&p, Case::Sensitive).is_match("a%x%tail"));
        assert!(!GlobMatcher::new(&p, Case::Sensitive).is_match("abtail"));
    }

    #[test]
    fn fold_cow_borrows_folded_text() {
        assert!(matches!(fold_cow("already lower"), Cow::Borrowed(_)));
        assert_eq!(fold_cow("MiXeD"), "mixed");
        assert_eq!(fold_cow("ÉTÉ"), "été");
    }

    #[test]
    fn long_star_patterns_stay_fast() {
        let text = "a".repeat(10_000);
        assert!(!m("*a*a*a*a*a*a*a*b", Case::Sensitive, &text));
    }

    #[test]
    fn cidr() {
        let net: ipnet::IpNet = "10.0.0.0/8".parse().expect("net");
        assert!(cidr_contains(&net, "10.1.2.3"));
        assert!(!cidr_contains(&net, "11.1.2.3"));
        assert!(!cidr_contains(&net, "nope"));
    }

    #[test]
    fn lazy_regex_checks_syntax_now_and_size_when_built() {
        assert!(LazyRegex::new("a(b".into()).is_err());
        assert!(LazyRegex::new(r"\p{NoSuchClass}".into()).is_err());
        let re = LazyRegex::new("ab+c".into()).expect("valid");
        assert!(re.get().expect("builds").is_match("xabbc"));
        // Valid syntax, but past the size limit once built: refused on use, not on compile.
        let big = LazyRegex::new(r"\w{1000}\w{1000}\w{1000}".into()).expect("valid syntax");
        let e = big.get().expect_err("over the size limit");
        assert!(e.contains("size limit"), "{e}");
    }
}
