//! Typed values. Strings are pieces (literal text and wildcards), never text escaped for some target.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a string comparison folds case. Explicit on every string predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    Sensitive,
    Insensitive,
}

impl Case {
    pub fn is_insensitive(self) -> bool {
        matches!(self, Case::Insensitive)
    }
}

/// One piece of a string pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    /// Literal text, unescaped.
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    AnyChars,
    /// `?`: exactly one character.
    OneChar,
    /// A Sigma `expand` placeholder (`%name%`), resolved by a pipeline or reported unsupported.
    Placeholder(String),
}

/// A string pattern matched against the whole value (a glob anchored at both ends).
///
/// `contains x` is `*x*`, `startswith x` is `x*`, exact equality is a pattern with no wildcard.
/// The constructor keeps a canonical form (adjacent literals merged, `**` collapsed, no empty
/// literals) so that two patterns meaning the same thing compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct StrPattern {
    pieces: Vec<Piece>,
}

/// The shape of a pattern, which emitters use to pick a native operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternShape<'a> {
    /// No wildcard: exact equality with this text.
    Exact(&'a str),
    /// `x*`
    Prefix(&'a str),
    /// `*x`
    Suffix(&'a str),
    /// `*x*`
    Contains(&'a str),
    /// `*` alone: any value, including the empty string.
    Any,
    /// Anything else: `?`, inner `*`, several literals, placeholders.
    Glob,
}

impl StrPattern {
    pub fn new(pieces: impl IntoIterator<Item = Piece>) -> Self {
        let mut out: Vec<Piece> = Vec::new();
        for p in pieces {
            match p {
                Piece::Lit(s) if s.is_empty() => {}
                Piece::Lit(s) => {
                    if let Some(Piece::Lit(prev)) = out.last_mut() {
                        prev.push_str(&s);
                    } else {
                        out.push(Piece::Lit(s));
                    }
                }
                Piece::AnyChars => {
                    if out.last() != Some(&Piece::AnyChars) {
                        out.push(Piece::AnyChars);
                    }
                }
                other => out.push(other),
            }
        }
        StrPattern { pieces: out }
    }

    pub fn literal(s: impl Into<String>) -> Self {
        Self::new([Piece::Lit(s.into())])
    }

    pub fn contains(s: impl Into<String>) -> Self {
        Self::new([Piece::AnyChars, Piece::Lit(s.into()), Piece::AnyChars])
    }

    pub fn prefix(s: impl Into<String>) -> Self {
        Self::new([Piece::Lit(s.into()), Piece::AnyChars])
    }

    pub fn suffix(s: impl Into<String>) -> Self {
        Self::new([Piece::AnyChars, Piece::Lit(s.into())])
    }

    pub fn any() -> Self {
        Self::new([Piece::AnyChars])
    }

    /// Parse a glob where `*` and `?` are wildcards and nothing is escaped.
    pub fn from_glob_unescaped(s: &str) -> Self {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        for c in s.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(if c == '*' {
                        Piece::AnyChars
                    } else {
                        Piece::OneChar
                    });
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Self::new(pieces)
    }

    /// Whether the pattern accepts the empty string: only when it is all `*` (the canonical form
    /// has no empty literals, and a placeholder stands for its own non-empty text).
    pub fn matches_empty(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::AnyChars))
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The text if the pattern has no wildcard or placeholder (the empty pattern is `""`).
    pub fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn has_wildcards(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::AnyChars | Piece::OneChar))
    }

    pub fn has_placeholders(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Placeholder(_)))
    }

    pub fn has_one_char(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::OneChar))
    }

    pub fn shape(&self) -> PatternShape<'_> {
        use Piece::*;
        match self.pieces.as_slice() {
            [] => PatternShape::Exact(""),
            [Lit(s)] => PatternShape::Exact(s),
            [AnyChars] => PatternShape::Any,
            [Lit(s), AnyChars] => PatternShape::Prefix(s),
            [AnyChars, Lit(s)] => PatternShape::Suffix(s),
            [AnyChars, Lit(s), AnyChars] => PatternShape::Contains(s),
            _ => PatternShape::Glob,
        }
    }

    /// The literal runs separated by `*` when the pattern has only literals and `*`.
    pub fn star_segments(&self) -> Option<Vec<&str>> {
        let mut segs = vec![""];
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => {
                    if let Some(last) = segs.last_mut() {
                        *last = s;
                    }
                }
                Piece::AnyChars => segs.push(""),
                _ => return None,
            }
        }
        Some(segs)
    }

    /// A regex (Rust/RE2/PCRE-compatible syntax) matching the whole value.
    pub fn to_regex(&self, anchored: bool) -> String {
        let mut out = String::new();
        if anchored {
            out.push('^');
        }
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(&regex::escape(s)),
                Piece::AnyChars => out.push_str("(?s:.*)"),
                Piece::OneChar => out.push_str("(?s:.)"),
                Piece::Placeholder(name) => {
                    out.push_str(&regex::escape(&format!("%{name}%")));
                }
            }
        }
        if anchored {
            out.push('$');
        }
        out
    }

    /// Map each literal piece, keeping wildcards (used by case folding and value transforms).
    pub fn map_literals(&self, mut f: impl FnMut(&str) -> String) -> Self {
        Self::new(self.pieces.iter().map(|p| match p {
            Piece::Lit(s) => Piece::Lit(f(s)),
            other => other.clone(),
        }))
    }
}

impl fmt::Display for StrPattern {
    /// Human-readable form for reports: `*` and `?` shown bare, literal ones escaped with `\`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                }
                Piece::AnyChars => f.write_str("*")?,
                Piece::OneChar => f.write_str("?")?,
                Piece::Placeholder(n) => write!(f, "%{n}%")?,
            }
        }
        Ok(())
    }
}

/// A non-pattern scalar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Eq for Scalar {}

impl std::hash::Hash for Scalar {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Scalar::Str(s) => s.hash(state),
            Scalar::Int(i) => i.hash(state),
            // 0.0 == -0.0: equal values must hash alike.
            Scalar::Float(f) => (if *f == 0.0 { 0 } else { f.to_bits() }).hash(state),
            Scalar::Bool(b) => b.hash(state),
        }
    }
}

impl Scalar {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) => Some(*f),
            Scalar::Str(s) => s.trim().parse().ok(),
            Scalar::Bool(_) => None,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Scalar::Int(_) | Scalar::Float(_))
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A time span, kept in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeSpan {
    pub millis: u64,
}

impl TimeSpan {
    pub fn from_millis(millis: u64) -> Self {
        TimeSpan { millis }
    }

    /// Parse `<int><unit>` with unit ms, s, m, h, d or w (Sigma, EQL and Elastic interval forms).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return None,
        };
        n.checked_mul(mult).map(TimeSpan::from_millis)
    }

    /// The largest unit that divides the span exactly, as `<n><unit>`.
    pub fn to_unit_string(&self) -> String {
        const UNITS: [(u64, &str); 5] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
            (1, "ms"),
        ];
        if self.millis == 0 {
            return "0s".into();
        }
        for (size, unit) in UNITS {
            if self.millis.is_multiple_of(size) {
                return format!("{}{}", self.millis / size, unit);
            }
        }
        format!("{}ms", self.millis)
    }

    pub fn as_secs(&self) -> u64 {
        self.millis / 1000
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_unit_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_merges_and_collapses() {
        let p = StrPattern::new([
            Piece::AnyChars,
            Piece::AnyChars,
            Piece::Lit("a".into()),
            Piece::Lit("b".into()),
            Piece::Lit(String::new()),
        ]);
        assert_eq!(p.pieces(), &[Piece::AnyChars, Piece::Lit("ab".into())]);
        assert_eq!(p.shape(), PatternShape::Suffix("ab"));
    }

    #[test]
    fn shapes() {
        assert_eq!(
            StrPattern::contains("x").shape(),
            PatternShape::Contains("x")
        );
        assert_eq!(StrPattern::literal("").shape(), PatternShape::Exact(""));
        assert_eq!(
            StrPattern::from_glob_unescaped("a?b").shape(),
            PatternShape::Glob
        );
        assert_eq!(StrPattern::any().shape(), PatternShape::Any);
    }

    #[test]
    fn timespans() {
        assert_eq!(TimeSpan::parse("5m").map(|t| t.millis), Some(300_000));
        assert_eq!(
            TimeSpan::parse("90s").map(|t| t.to_unit_string()),
            Some("90s".into())
        );
        assert_eq!(
            TimeSpan::parse("120s").map(|t| t.to_unit_string()),
            Some("2m".into())
        );
        assert_eq!(TimeSpan::parse("5x"), None);
    }
}
