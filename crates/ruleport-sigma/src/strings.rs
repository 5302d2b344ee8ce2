//! Sigma string values: wildcards, the backslash escape, `expand` placeholders, and the reverse
//! (writing a pattern back as a Sigma value).

use ruleport_model::{Piece, StrPattern};

/// Parse a Sigma value: `*` and `?` are wildcards; `\` escapes only `*`, `?` and `\`; before any
/// other character, and at the end, it is a literal backslash (spec "Escape Character", pySigma).
pub(crate) fn parse_value(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n) if matches!(n, '*' | '?' | '\\') => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' {
                    Piece::AnyChars
                } else {
                    Piece::OneChar
                });
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// The `expand` modifier: `%name%` (name of word characters, not preceded by `\`) becomes a
/// placeholder, and `\%` becomes `%` (pySigma `SigmaString.insert_placeholders`).
pub(crate) fn insert_placeholders(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out = Vec::new();
    for p in pieces {
        let Piece::Lit(s) = p else {
            out.push(p);
            continue;
        };
        let chars: Vec<char> = s.chars().collect();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '%' && (i == 0 || chars[i - 1] != '\\') {
                let mut j = i + 1;
                while j < chars.len() && is_word(chars[j]) {
                    j += 1;
                }
                if j > i + 1 && j < chars.len() && chars[j] == '%' {
                    out.push(Piece::Lit(unescape_percent(&std::mem::take(&mut lit))));
                    out.push(Piece::Placeholder(chars[i + 1..j].iter().collect()));
                    i = j + 1;
                    continue;
                }
            }
            lit.push(c);
            i += 1;
        }
        out.push(Piece::Lit(unescape_percent(&lit)));
    }
    StrPattern::new(out).pieces().to_vec()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn unescape_percent(s: &str) -> String {
    s.replace("\\%", "%")
}

/// How a value will be read back, which decides what must be escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EscapeMode {
    /// A plain Sigma string.
    Plain,
    /// A value under `expand`: `%` is escaped so literal percent signs stay literal.
    Expand,
}

/// Write pieces as a Sigma value that [`parse_value`] (and, under `Expand`, [`insert_placeholders`])
/// reads back to the same pieces.
pub(crate) fn escape_pieces(pieces: &[Piece], mode: EscapeMode) -> String {
    // Tokens of the output: (text, starts_with_special) where special means `*`, `?` or `\`.
    let mut toks: Vec<String> = Vec::new();
    for p in pieces {
        match p {
            Piece::AnyChars => toks.push("*".into()),
            Piece::OneChar => toks.push("?".into()),
            Piece::Placeholder(n) => toks.push(format!("%{n}%")),
            Piece::Lit(s) => {
                for c in s.chars() {
                    toks.push(match c {
                        '*' => "\\*".into(),
                        '?' => "\\?".into(),
                        '%' if mode == EscapeMode::Expand => "\\%".into(),
                        '\\' => "\u{0}BS".into(),
                        c => c.to_string(),
                    });
                }
            }
        }
    }
    // A literal backslash needs doubling only when the next output character is `*`, `?` or `\`.
    let mut out = String::new();
    for i in 0..toks.len() {
        if toks[i] == "\u{0}BS" {
            let next_special = toks
                .get(i + 1)
                .is_some_and(|n| n == "\u{0}BS" || n.starts_with(['*', '?', '\\']));
            // Under `Expand`, `\` before a literal `%` must not read as `\%`.
            let next_percent =
                mode == EscapeMode::Expand && toks.get(i + 1).is_some_and(|n| n.starts_with('%'));
            out.push_str(if next_special || next_percent {
                "\\\\"
            } else {
                "\\"
            });
        } else {
            out.push_str(&toks[i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::*;

    fn lit(s: &str) -> Piece {
        Lit(s.into())
    }

    #[test]
    fn escaping_follows_the_spec() {
        // The research note's observed pySigma result for this exact input.
        assert_eq!(
            parse_value(r"a\*b\\*c\\\*d\\\\e?"),
            vec![lit(r"a*b\"), AnyChars, lit(r"c\*d\\e"), OneChar]
        );
        assert_eq!(
            parse_value(r"C:\Windows\System32"),
            vec![lit(r"C:\Windows\System32")]
        );
        assert_eq!(parse_value(r"trailing\"), vec![lit(r"trailing\")]);
        assert_eq!(parse_value(r"\\"), vec![lit(r"\")]);
        assert_eq!(parse_value(r"\\\\"), vec![lit(r"\\")]);
        assert_eq!(parse_value(r"\\\"), vec![lit(r"\\")]);
        assert_eq!(parse_value(r"a\?"), vec![lit("a?")]);
        assert_eq!(parse_value(""), vec![]);
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            insert_placeholders(parse_value("%Users%\\x%y\\%z%")),
            vec![Placeholder("Users".into()), lit(r"\x%y%z%")]
        );
        assert_eq!(insert_placeholders(parse_value("100%")), vec![lit("100%")]);
        assert_eq!(insert_placeholders(parse_value(r"\%a%")), vec![lit("%a%")]);
    }

    #[test]
    fn escape_round_trips() {
        let cases: Vec<Vec<Piece>> = vec![
            vec![lit(r"a*b\"), AnyChars, lit(r"c\*d\\e"), OneChar],
            vec![lit(r"C:\Windows\"), AnyChars],
            vec![lit(r"x\")],
            vec![lit(r"\\server\share")],
            vec![lit("?*"), AnyChars, lit(r"\?")],
        ];
        for c in cases {
            let text = escape_pieces(&c, EscapeMode::Plain);
            assert_eq!(
                StrPattern::new(parse_value(&text)),
                StrPattern::new(c.clone()),
                "{text}"
            );
        }
        assert_eq!(
            escape_pieces(&[lit(r"C:\Windows\"), AnyChars], EscapeMode::Plain),
            r"C:\Windows\\*"
        );
        assert_eq!(
            escape_pieces(&[lit(r"C:\Windows\x")], EscapeMode::Plain),
            r"C:\Windows\x"
        );
        let exp = vec![Placeholder("a".into()), lit(r"50%\%b%")];
        let text = escape_pieces(&exp, EscapeMode::Expand);
        assert_eq!(insert_placeholders(parse_value(&text)), exp, "{text}");
    }
}
