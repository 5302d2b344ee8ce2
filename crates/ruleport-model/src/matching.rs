//! Matching primitives shared by the reference evaluator and the target evaluators.

use crate::expr::{RegexAnchor, RegexSpec};
use crate::value::{Case, Piece, StrPattern};
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

/// A pattern prepared for repeated matching.
#[derive(Debug, Clone)]
pub struct GlobMatcher {
    case: Case,
    /// Pieces with literals folded when case-insensitive, as chars.
    pieces: Vec<GlobPiece>,
}

#[derive(Debug, Clone)]
enum GlobPiece {
    Lit(Vec<char>),
    Star,
    One,
}

impl GlobMatcher {
    pub fn new(pattern: &StrPattern, case: Case) -> Self {
        let pieces = pattern
            .pieces()
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => GlobPiece::Lit(Self::prep(s, case)),
                Piece::AnyChars => GlobPiece::Star,
                Piece::OneChar => GlobPiece::One,
                // An unresolved placeholder matches its own literal text.
                Piece::Placeholder(n) => GlobPiece::Lit(Self::prep(&format!("%{n}%"), case)),
            })
            .collect();
        GlobMatcher { case, pieces }
    }

    fn prep(s: &str, case: Case) -> Vec<char> {
        match case {
            Case::Sensitive => s.chars().collect(),
            Case::Insensitive => fold(s).chars().collect(),
        }
    }

    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = match self.case {
            Case::Sensitive => text.chars().collect(),
            Case::Insensitive => fold(text).chars().collect(),
        };
        glob_match(&self.pieces, &chars)
    }
}

/// Iterative glob match with single-star backtracking: linear in practice, no exponential blow-up.
fn glob_match(pieces: &[GlobPiece], text: &[char]) -> bool {
    // Expand literal pieces into a token stream of Char/One/Star.
    #[derive(Clone, Copy, PartialEq)]
    enum T {
        C(char),
        One,
        Star,
    }
    let mut toks = Vec::new();
    for p in pieces {
        match p {
            GlobPiece::Lit(cs) => toks.extend(cs.iter().map(|c| T::C(*c))),
            GlobPiece::Star => toks.push(T::Star),
            GlobPiece::One => toks.push(T::One),
        }
    }
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < toks.len() {
            match toks[p] {
                T::Star => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                T::One => {
                    p += 1;
                    t += 1;
                    continue;
                }
                T::C(c) if c == text[t] => {
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
    toks[p..].iter().all(|t| *t == T::Star)
}

/// Compile a regex spec into a Rust regex with ruleport's size limits.
pub fn compile_regex(spec: &RegexSpec) -> Result<regex::Regex, String> {
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
    let full = if flags.is_empty() {
        body
    } else {
        format!("(?{flags}){body}")
    };
    regex::RegexBuilder::new(&full)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| e.to_string())
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
}
