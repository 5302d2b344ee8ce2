//! Tokens of Elasticsearch EQL, with byte offsets for diagnostics.

use ruleport_model::{Diagnostic, Pos};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword; `tilde` is a `~` glued to it (`like~`, `startsWith~`).
    Ident {
        text: String,
        tilde: bool,
    },
    /// A backtick-escaped identifier, unescaped.
    Quoted(String),
    /// A string literal, unescaped; `raw` for `"""…"""`.
    Str {
        value: String,
        raw: bool,
    },
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// `![` (Elasticsearch's tests also write `-[`, handled by the parser).
    BangBracket,
    Comma,
    Pipe,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Colon,
    /// A lone `=` (Endgame equality, `maxspan=`, `runs=`).
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `?` directly before a field (optional field).
    Question,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offset of the token's start.
    pub start: usize,
}

pub(crate) fn err(text: &str, offset: usize, code: &str, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, msg).at(Pos::from_offset(text, offset))
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '@'
}

/// Split `text` into tokens; comments (`// …`, `/* … */`) and whitespace are skipped.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, Diagnostic> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let Some(end) = text[i + 2..].find("*/") else {
                return Err(err(text, i, "eql-syntax", "unterminated comment `/*`"));
            };
            i = i + 2 + end + 2;
            continue;
        }
        let start = i;
        let single = |t: Tok| Token { tok: t, start };
        let tok = match c {
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b'|' => single(Tok::Pipe),
            b':' => single(Tok::Colon),
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'*' => single(Tok::Star),
            b'/' => single(Tok::Slash),
            b'%' => single(Tok::Percent),
            b'?' => {
                if matches!(bytes.get(i + 1), Some(b'"') | Some(b'\'')) {
                    return Err(err(
                        text,
                        i,
                        "eql-endgame-syntax",
                        "`?\"…\"` raw strings are Endgame EQL syntax",
                    )
                    .with_hint("Elasticsearch EQL writes raw strings as \"\"\"…\"\"\""));
                }
                single(Tok::Question)
            }
            b'!' => match bytes.get(i + 1) {
                Some(b'=') => {
                    i += 1;
                    single(Tok::Ne)
                }
                Some(b'[') => {
                    i += 1;
                    single(Tok::BangBracket)
                }
                _ => {
                    return Err(
                        err(text, i, "eql-syntax", "unexpected `!`").with_hint("use `not` or `!=`")
                    )
                }
            },
            b'=' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                    single(Tok::Eq)
                } else {
                    single(Tok::Assign)
                }
            }
            b'<' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                    single(Tok::Le)
                } else {
                    single(Tok::Lt)
                }
            }
            b'>' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                    single(Tok::Ge)
                } else {
                    single(Tok::Gt)
                }
            }
            b'\'' => {
                return Err(err(
                    text,
                    i,
                    "eql-endgame-syntax",
                    "single-quoted strings are not supported by Elasticsearch EQL",
                )
                .with_hint("enclose strings in double quotes"))
            }
            b'"' => {
                let (value, raw, next) = lex_string(text, i)?;
                out.push(Token {
                    tok: Tok::Str { value, raw },
                    start,
                });
                i = next;
                continue;
            }
            b'`' => {
                let (name, next) = lex_name(text, i)?;
                out.push(Token {
                    tok: Tok::Quoted(name),
                    start,
                });
                i = next;
                continue;
            }
            b'0'..=b'9' | b'.'
                if c != b'.' || bytes.get(i + 1).is_some_and(|d| d.is_ascii_digit()) =>
            {
                let (tok, next) = lex_number(text, i)?;
                out.push(Token { tok, start });
                i = next;
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('\0');
                if is_ident_start(ch) {
                    let (name, mut j) = lex_name(text, i)?;
                    let quoted = text[i..j].contains('`');
                    let tilde = !quoted && bytes.get(j) == Some(&b'~');
                    if tilde {
                        j += 1;
                    }
                    out.push(Token {
                        tok: if quoted {
                            Tok::Quoted(name)
                        } else {
                            Tok::Ident { text: name, tilde }
                        },
                        start,
                    });
                    i = j;
                    continue;
                }
                return Err(err(
                    text,
                    i,
                    "eql-syntax",
                    format!("unexpected character `{ch}`"),
                ));
            }
        };
        out.push(tok);
        i += 1;
    }
    out.push(Token {
        tok: Tok::Eof,
        start: text.len(),
    });
    Ok(out)
}

/// A qualified name: plain or backtick-quoted segments joined by dots
/// (`a.b`, `` `my-field` ``, ``a.`0`.c``). Returns the name and where it ends.
fn lex_name(text: &str, start: usize) -> Result<(String, usize), Diagnostic> {
    let bytes = text.as_bytes();
    let mut name = String::new();
    let mut j = start;
    loop {
        if bytes.get(j) == Some(&b'`') {
            let open = j;
            j += 1;
            loop {
                let Some(ch) = text[j..].chars().next() else {
                    return Err(err(
                        text,
                        open,
                        "eql-syntax",
                        "unterminated backtick-quoted field name",
                    ));
                };
                if ch == '`' {
                    if bytes.get(j + 1) == Some(&b'`') {
                        name.push('`');
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                name.push(ch);
                j += ch.len_utf8();
            }
        } else {
            let seg_start = j;
            while j < bytes.len() && is_ident_char(bytes[j] as char) {
                j += 1;
            }
            if j == seg_start {
                return Err(err(
                    text,
                    j,
                    "eql-syntax",
                    "expected a field name segment after `.`",
                ));
            }
            name.push_str(&text[seg_start..j]);
        }
        // Continue through `.` followed by another segment.
        if bytes.get(j) == Some(&b'.')
            && bytes
                .get(j + 1)
                .is_some_and(|&c| c == b'`' || is_ident_char(c as char))
        {
            name.push('.');
            j += 1;
            continue;
        }
        return Ok((name, j));
    }
}

fn lex_number(text: &str, start: usize) -> Result<(Tok, usize), Diagnostic> {
    let b = text.as_bytes();
    let mut j = start;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    let mut float = false;
    if j < b.len() && b[j] == b'.' && !(j + 1 < b.len() && is_ident_start(b[j + 1] as char)) {
        float = true;
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < b.len() && b[k].is_ascii_digit() {
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            float = true;
            j = k;
        }
    }
    let s = &text[start..j];
    if float {
        let v: f64 = s
            .parse()
            .map_err(|_| err(text, start, "eql-syntax", format!("invalid number `{s}`")))?;
        if !v.is_finite() {
            return Err(err(
                text,
                start,
                "eql-syntax",
                format!("number `{s}` is out of range"),
            ));
        }
        Ok((Tok::Float(v), j))
    } else {
        match s.parse::<i64>() {
            Ok(v) => Ok((Tok::Int(v), j)),
            Err(_) => Err(err(
                text,
                start,
                "eql-syntax",
                format!("integer `{s}` is out of range"),
            )),
        }
    }
}

/// Lex a `"…"` or `"""…"""` string starting at `start`; returns the value, rawness and end.
fn lex_string(text: &str, start: usize) -> Result<(String, bool, usize), Diagnostic> {
    if text[start..].starts_with("\"\"\"") {
        let body = start + 3;
        let Some(end) = text[body..].find("\"\"\"") else {
            return Err(err(
                text,
                start,
                "eql-syntax",
                "unterminated raw string `\"\"\"`",
            ));
        };
        return Ok((text[body..body + end].to_string(), true, body + end + 3));
    }
    let mut out = String::new();
    let mut j = start + 1;
    loop {
        let Some(ch) = text[j..].chars().next() else {
            return Err(err(text, start, "eql-syntax", "unterminated string"));
        };
        match ch {
            '"' => return Ok((out, false, j + 1)),
            '\\' => {
                let Some(e) = text[j + 1..].chars().next() else {
                    return Err(err(text, start, "eql-syntax", "unterminated string"));
                };
                let mapped = match e {
                    'b' => Some('\u{8}'),
                    't' => Some('\t'),
                    'n' => Some('\n'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    '"' => Some('"'),
                    '\'' => Some('\''),
                    '\\' => Some('\\'),
                    _ => None,
                };
                if let Some(m) = mapped {
                    out.push(m);
                    j += 2;
                    continue;
                }
                if e == 'u' && text[j + 2..].starts_with('{') {
                    let hex_start = j + 3;
                    let Some(close) = text[hex_start..].find('}') else {
                        return Err(err(
                            text,
                            j,
                            "eql-string-escape",
                            "unterminated `\\u{…}` escape",
                        ));
                    };
                    let hex = &text[hex_start..hex_start + close];
                    let valid =
                        (2..=8).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit());
                    let c = valid
                        .then(|| u32::from_str_radix(hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32);
                    let Some(c) = c else {
                        return Err(err(
                            text,
                            j,
                            "eql-string-escape",
                            format!("invalid unicode escape `\\u{{{hex}}}`"),
                        )
                        .with_hint("use 2 to 8 hex digits of a valid code point"));
                    };
                    out.push(c);
                    j = hex_start + close + 1;
                    continue;
                }
                return Err(err(text, j, "eql-string-escape", format!("invalid escape sequence `\\{e}`"))
                    .with_hint("Elasticsearch EQL strings accept \\b \\t \\n \\f \\r \\\" \\' \\\\ and \\u{XXXX}; use \"\"\"raw\"\"\" strings for backslashes"));
            }
            c => {
                out.push(c);
                j += c.len_utf8();
            }
        }
    }
}
