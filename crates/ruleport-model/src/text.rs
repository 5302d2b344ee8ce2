//! Analysed full-text matching: what Elasticsearch's `match` / `match_phrase` do on a `text`
//! field. Both the field's value and the query are split into lower-cased tokens by the field's
//! analyzer; a phrase holds when the query's tokens occur adjacent and in order, an any-word
//! query when one of them occurs.

use serde::{Deserialize, Serialize};

/// How a text field (and the query on it) is split into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analyzer {
    /// Elasticsearch's `standard` analyzer: Unicode word segmentation (UAX #29), lower-cased,
    /// no stop words. See [`standard_tokens`] for what this implementation leaves out.
    Standard,
    /// The Windows integration's `powershell_script_analyzer`: a `pattern` analyzer splitting on
    /// Java's `[\W&&[^-]]+` (ASCII non-word characters other than `-`), lower-cased. Tokens are
    /// the runs of `[A-Za-z0-9_-]`, so `Get-ADDomain` is one token.
    PowershellScript,
}

impl Analyzer {
    pub fn tokens(self, text: &str) -> Vec<String> {
        match self {
            Analyzer::Standard => standard_tokens(text),
            Analyzer::PowershellScript => powershell_tokens(text),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Analyzer::Standard => "standard",
            Analyzer::PowershellScript => "powershell_script_analyzer",
        }
    }
}

/// Phrase (`match_phrase`, a quoted kuery value) or any word (`match`, an unquoted one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextMode {
    Phrase,
    AnyWord,
}

/// An analysed full-text query on one field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextQuery {
    /// The query as written (emitters write it back; tokens are derived from it).
    pub text: String,
    pub analyzer: Analyzer,
    pub mode: TextMode,
}

impl TextQuery {
    pub fn new(text: impl Into<String>, analyzer: Analyzer, mode: TextMode) -> Self {
        TextQuery {
            text: text.into(),
            analyzer,
            mode,
        }
    }

    /// The query's tokens.
    pub fn tokens(&self) -> Vec<String> {
        self.analyzer.tokens(&self.text)
    }

    /// Whether a field value matches. A query without tokens matches nothing (Elasticsearch's
    /// `zero_terms_query: none`).
    pub fn matches(&self, value: &str) -> bool {
        tokens_match(&self.tokens(), self.mode, &self.analyzer.tokens(value))
    }
}

/// The closest substring form of a text query, for targets without analysed text: a phrase is
/// a case-insensitive `*text*` on the subject, any-word an `Or` of `*word*`, a query without
/// tokens `false`. Wider and narrower than the analysed match (substrings of longer words
/// match; words split by other punctuation do not), so callers label it approximate.
pub fn substring_form(subject: &crate::Subject, q: &TextQuery) -> crate::Expr {
    use crate::{Case, Expr, Op, Piece, StrPattern};
    let tokens = q.tokens();
    let contains = |t: &str| {
        Expr::pred(
            subject.clone(),
            Op::Match {
                pattern: StrPattern::new([
                    Piece::AnyChars,
                    Piece::Lit(t.to_string()),
                    Piece::AnyChars,
                ]),
                case: Case::Insensitive,
            },
        )
    };
    if tokens.is_empty() {
        return Expr::Const(false);
    }
    match q.mode {
        TextMode::AnyWord if tokens.len() > 1 => {
            Expr::or(tokens.iter().map(|t| contains(t)).collect())
        }
        _ => contains(q.text.trim()),
    }
}

/// The rule's detection with every `Op::Text` replaced by [`substring_form`]; `None` when it
/// has none.
pub fn detection_without_text(det: &crate::Detection) -> Option<crate::Detection> {
    let mut found = false;
    det.filters().iter().for_each(|f| {
        f.expr
            .for_each_pred(&mut |p| found |= matches!(p.op, crate::Op::Text(_)))
    });
    if !found {
        return None;
    }
    let mut out = det.clone();
    for f in out.filters_mut() {
        f.expr = f.expr.map_preds(&mut |p| match &p.op {
            crate::Op::Text(q) => substring_form(&p.subject, q),
            _ => crate::Expr::Pred(p.clone()),
        });
    }
    Some(out)
}

/// `query` tokens against a value's tokens.
pub fn tokens_match(query: &[String], mode: TextMode, value: &[String]) -> bool {
    if query.is_empty() {
        return false;
    }
    match mode {
        TextMode::AnyWord => query.iter().any(|q| value.contains(q)),
        TextMode::Phrase => value.windows(query.len()).any(|w| w == query),
    }
}

/// Lucene's `LowerCaseFilter`: `Character.toLowerCase` per code point. Rust's per-char mapping
/// agrees except for U+0130, which Java maps to a plain `i`.
fn lower_char(c: char, out: &mut String) {
    if c == '\u{130}' {
        out.push('i');
    } else {
        out.extend(c.to_lowercase());
    }
}

fn powershell_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Word-break classes of UAX #29 that the standard tokenizer's rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wb {
    Letter,
    Numeric,
    /// `_` and other connector punctuation: joins letters and digits.
    ExtendNumLet,
    /// `:` and friends: joins two letters.
    MidLetter,
    /// `,` `;` and friends: joins two digits.
    MidNum,
    /// `.` `'` and friends: joins two letters or two digits.
    MidNumLet,
    /// Combining marks and format characters: belong to the preceding character.
    Extend,
    /// A Han ideograph or Hiragana: always a token of its own.
    Ideograph,
    Other,
}

fn wb(c: char) -> Wb {
    match c {
        '_'
        | '\u{203F}'
        | '\u{2040}'
        | '\u{2054}'
        | '\u{FE33}'
        | '\u{FE34}'
        | '\u{FE4D}'..='\u{FE4F}'
        | '\u{FF3F}' => Wb::ExtendNumLet,
        ':' | '\u{B7}' | '\u{387}' | '\u{55F}' | '\u{5F4}' | '\u{2027}' | '\u{FE13}'
        | '\u{FE55}' | '\u{FF1A}' => Wb::MidLetter,
        ',' | ';' | '\u{37E}' | '\u{589}' | '\u{60C}' | '\u{60D}' | '\u{66C}' | '\u{7F8}'
        | '\u{2044}' | '\u{FE10}' | '\u{FE14}' | '\u{FE50}' | '\u{FE54}' | '\u{FF0C}'
        | '\u{FF1B}' => Wb::MidNum,
        '.' | '\'' | '\u{2018}' | '\u{2019}' | '\u{2024}' | '\u{FE52}' | '\u{FF07}'
        | '\u{FF0E}' => Wb::MidNumLet,
        '\u{300}'..='\u{36F}'
        | '\u{200C}'
        | '\u{200D}'
        | '\u{AD}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}' => Wb::Extend,
        '\u{3040}'..='\u{309F}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}' => Wb::Ideograph,
        c if c.is_numeric() => Wb::Numeric,
        c if c.is_alphabetic() => Wb::Letter,
        _ => Wb::Other,
    }
}

/// Lucene's `StandardTokenizer` splits tokens longer than this.
const MAX_TOKEN_CHARS: usize = 255;

/// Tokens of Elasticsearch's `standard` analyzer, approximated.
///
/// Implemented: letters and digits join (`a1b`), `_` joins letters and digits (`foo_bar`),
/// `:` joins two letters, `,` `;` join two digits, `.` and `'` join two letters or two digits
/// (`example.com`, `don't`, `1.5`), combining marks stay with their letter, each Han ideograph
/// and Hiragana character is a token, tokens are lower-cased like Lucene and split at 255
/// characters. Not implemented: the Katakana, Hebrew, regional-indicator and emoji rules, and
/// Unicode's exact Alphabetic / Numeric / Extend tables (Rust's `char` properties stand in).
pub fn standard_tokens(text: &str) -> Vec<String> {
    let chars: Vec<(char, Wb)> = text.chars().map(|c| (c, wb(c))).collect();
    // The class of the next character that is not Extend, from index `i`.
    let next_core = |mut i: usize| -> Option<Wb> {
        while let Some((_, k)) = chars.get(i) {
            if *k != Wb::Extend {
                return Some(*k);
            }
            i += 1;
        }
        None
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has_word = false;
    // The class of the last non-Extend character in the current token.
    let mut last: Option<Wb> = None;
    let flush = |cur: &mut String, has_word: &mut bool, out: &mut Vec<String>| {
        if *has_word {
            let lowered: Vec<char> = {
                let mut s = String::new();
                cur.chars().for_each(|c| lower_char(c, &mut s));
                s.chars().collect()
            };
            for chunk in lowered.chunks(MAX_TOKEN_CHARS) {
                out.push(chunk.iter().collect());
            }
        }
        cur.clear();
        *has_word = false;
    };
    let mut i = 0;
    while i < chars.len() {
        let (c, k) = chars[i];
        match k {
            Wb::Letter | Wb::Numeric | Wb::ExtendNumLet => {
                cur.push(c);
                has_word |= k != Wb::ExtendNumLet;
                last = Some(k);
            }
            Wb::Extend if last.is_some() => cur.push(c),
            Wb::MidLetter | Wb::MidNum | Wb::MidNumLet => {
                let next = next_core(i + 1);
                let joins = match (last, next) {
                    (Some(Wb::Letter), Some(Wb::Letter)) => k != Wb::MidNum,
                    (Some(Wb::Numeric), Some(Wb::Numeric)) => k != Wb::MidLetter,
                    _ => false,
                };
                if joins {
                    cur.push(c);
                    last = Some(k);
                } else {
                    flush(&mut cur, &mut has_word, &mut out);
                    last = None;
                }
            }
            Wb::Ideograph => {
                flush(&mut cur, &mut has_word, &mut out);
                cur.push(c);
                has_word = true;
                flush(&mut cur, &mut has_word, &mut out);
                last = None;
            }
            Wb::Extend | Wb::Other => {
                flush(&mut cur, &mut has_word, &mut out);
                last = None;
            }
        }
        i += 1;
    }
    flush(&mut cur, &mut has_word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(s: &str) -> Vec<String> {
        standard_tokens(s)
    }

    #[test]
    fn standard_splits_words_and_lowercases() {
        assert_eq!(
            std("The Quick-Brown fox!"),
            ["the", "quick", "brown", "fox"]
        );
        assert_eq!(std("Get-ADDomain"), ["get", "addomain"]);
        assert_eq!(std("  ,;  "), Vec::<String>::new());
    }

    #[test]
    fn standard_keeps_inner_apostrophes_dots_and_underscores() {
        assert_eq!(std("You're my 'favorite'."), ["you're", "my", "favorite"]);
        assert_eq!(std("see example.com now"), ["see", "example.com", "now"]);
        assert_eq!(std("foo_bar _x_ ___"), ["foo_bar", "_x_"]);
        assert_eq!(std("v1.5 3,000 a,b"), ["v1.5", "3,000", "a", "b"]);
        assert_eq!(std("a:b a: b"), ["a:b", "a", "b"]);
        // A mid character between a letter and a digit breaks.
        assert_eq!(std("a.1"), ["a", "1"]);
    }

    #[test]
    fn standard_unicode() {
        assert_eq!(std("ÉCOLE été"), ["école", "été"]);
        assert_eq!(std("e\u{301}t\u{301}"), ["e\u{301}t\u{301}"]);
        assert_eq!(std("東京abc"), ["東", "京", "abc"]);
        assert_eq!(std("\u{130}stanbul"), ["istanbul"]);
        assert_eq!(std(&"x".repeat(300)).len(), 2);
    }

    #[test]
    fn powershell_analyzer_keeps_hyphens_and_drops_non_ascii() {
        let t = Analyzer::PowershellScript.tokens("[Ref].Assembly::Get-ADDomain($x) -replace é_b");
        assert_eq!(
            t,
            ["ref", "assembly", "get-addomain", "x", "-replace", "_b"]
        );
    }

    #[test]
    fn phrase_and_any_word() {
        let phrase = TextQuery::new("Invoke Mimikatz", Analyzer::Standard, TextMode::Phrase);
        assert!(phrase.matches("IEX; INVOKE-MIMIKATZ -DumpCreds"));
        assert!(!phrase.matches("mimikatz invoke"));
        assert!(!phrase.matches("Invoke X Mimikatz"));
        assert!(!phrase.matches("InvokeMimikatz"));
        let any = TextQuery::new("Invoke Mimikatz", Analyzer::Standard, TextMode::AnyWord);
        assert!(any.matches("mimikatz invoke"));
        assert!(any.matches("only mimikatz here"));
        assert!(!any.matches("InvokeMimikatz"));
    }

    #[test]
    fn powershell_phrase_is_whole_token() {
        let q = TextQuery::new("Get-ADDomain", Analyzer::PowershellScript, TextMode::Phrase);
        assert!(q.matches("$d = get-addomain -Server x"));
        assert!(q.matches("[x]::Get-ADDomain("));
        assert!(!q.matches("Get-ADDomainController"));
        assert!(!q.matches("Get ADDomain"));
        let key = TextQuery::new(
            "GetAsyncKeyState",
            Analyzer::PowershellScript,
            TextMode::Phrase,
        );
        assert!(key.matches("[W32]::GETASYNCKEYSTATE(0x41)"));
        assert!(!key.matches("NtUserGetAsyncKeyState"));
    }

    #[test]
    fn query_without_tokens_matches_nothing() {
        let q = TextQuery::new("::", Analyzer::Standard, TextMode::Phrase);
        assert!(!q.matches("::"));
        assert!(!q.matches(""));
    }

    #[test]
    fn serde_round_trip() {
        let q = TextQuery::new("a b", Analyzer::PowershellScript, TextMode::AnyWord);
        let j = serde_json::to_string(&q).unwrap_or_default();
        let back: Option<TextQuery> = serde_json::from_str(&j).ok();
        assert_eq!(back, Some(q));
    }
}
