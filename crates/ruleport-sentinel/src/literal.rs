//! Writing Kusto string literals and names.
//!
//! Kusto strings: `"…"`/`'…'` with `\` escapes (`\"`, `\'`, `\\`, `\t`, `\n`, `\r`, `\uXXXX`),
//! or verbatim `@"…"` where `\` stands for itself and `"` is doubled. A raw line break ends a
//! literal (Kusto.Language reports KS001), and `"\*"` is not an escape, so every character that
//! could break or hide inside a literal is written as an escape.

/// Whether `c` must be escaped: control characters, line and paragraph separators, and the
/// invisible format characters (bidi overrides, zero-width marks) that could disguise the text.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// A Kusto string literal whose value is exactly `s`: verbatim `@"…"` when the text has
/// backslashes and nothing that needs an escape, else `"…"` with escapes.
pub fn string_literal(s: &str) -> String {
    let special = s.chars().any(needs_escape);
    if !special && s.contains('\\') {
        let mut out = String::with_capacity(s.len() + 3);
        out.push_str("@\"");
        for c in s.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
        return out;
    }
    escaped_literal(s, '"')
}

/// `"…"` (or `'…'`) with backslash escapes.
pub fn escaped_literal(s: &str, quote: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04X}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Words that cannot be a bare column name.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "has",
    "contains",
    "startswith",
    "endswith",
    "matches",
    "regex",
    "where",
    "summarize",
    "extend",
    "project",
    "by",
    "union",
    "true",
    "false",
    "null",
    "let",
    "on",
    "kind",
    "with",
    "of",
    "as",
    "between",
    "datetime",
    "timespan",
    "dynamic",
    "bool",
    "long",
    "int",
    "real",
    "string",
    "guid",
    "decimal",
    "double",
    "time",
    "date",
    "typeof",
    "search",
    "find",
    "print",
    "range",
    "to",
    "step",
    "join",
    "count",
    "title",
];

/// Whether `name` can be written bare.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// A column reference: bare when possible, else `['name']`.
pub fn column_name(name: &str) -> String {
    if is_plain_identifier(name) {
        name.to_string()
    } else {
        format!("[{}]", escaped_literal(name, '\''))
    }
}

/// A member access on a dynamic value: `.name` when plain, else `['name']`.
pub fn member_access(name: &str) -> String {
    if is_plain_identifier(name) {
        format!(".{name}")
    } else {
        format!("[{}]", escaped_literal(name, '\''))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_for_backslashes() {
        assert_eq!(string_literal(r"C:\Windows\*"), r#"@"C:\Windows\*""#);
        assert_eq!(string_literal(r#"a\"b"#), r#"@"a\""b""#);
    }

    #[test]
    fn escapes_for_control_characters() {
        assert_eq!(string_literal("a\nb\\"), r#""a\nb\\""#);
        assert_eq!(string_literal("x\u{202E}y"), r#""x\u202Ey""#);
        assert_eq!(string_literal("say \"hi\""), r#""say \"hi\"""#);
        assert_eq!(string_literal("*"), r#""*""#);
    }

    #[test]
    fn names() {
        assert_eq!(column_name("OperationName"), "OperationName");
        assert_eq!(column_name("properties.message"), "['properties.message']");
        assert_eq!(column_name("a'b"), r"['a\'b']");
        assert_eq!(column_name("where"), "['where']");
        assert_eq!(member_access("user"), ".user");
        assert_eq!(member_access("a-b"), "['a-b']");
    }
}
