//! Escaping for each pack format: JSON, YAML, Splunk .conf, Markdown, TOML and ARM expressions.
//!
//! Every function here turns arbitrary rule text into text that cannot change the structure of
//! the file it is written into. The templates use them as the registry's escape function (for
//! `{{value}}`) and as helpers (for whole values, blocks and code).

use serde_json::Value;

/// The text with `\r\n` and lone `\r` turned into `\n`.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_string();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The contents of a JSON string literal (without the quotes).
pub fn json_str_content(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Any JSON value as compact JSON text.
pub fn json_value(v: &Value) -> String {
    v.to_string()
}

/// An ARM template string: a value that starts with `[` and ends with `]` would be evaluated as
/// a template expression, so it gets the documented `[[` escape.
pub fn arm_literal(s: &str) -> String {
    if s.starts_with('[') && s.ends_with(']') {
        format!("[{s}")
    } else {
        s.to_string()
    }
}

/// Every string inside a JSON value with the ARM `[[` escape applied.
pub fn arm_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(arm_literal(s)),
        Value::Array(a) => Value::Array(a.iter().map(arm_value).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), arm_value(v))).collect())
        }
        other => other.clone(),
    }
}

/// Whether YAML (1.1, as libyaml reads it) accepts the character unescaped in a document.
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A YAML double-quoted scalar (quotes included) holding exactly `s`.
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if yaml_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A YAML flow value for any JSON value (strings double-quoted, maps and lists in flow style).
pub fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_quoted(s),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(yaml_flow).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_quoted(k), yaml_flow(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A YAML literal block scalar (`|`) for multi-line text, indented by `indent` spaces; falls back
/// to a double-quoted scalar when the text cannot be kept byte for byte in a block.
pub fn yaml_block(s: &str, indent: usize) -> String {
    let indent = indent.clamp(1, 9);
    let block_safe = !s.is_empty()
        && s.contains('\n')
        && s.chars().all(|c| c != '\r' && yaml_printable(c))
        && !s.trim_end_matches('\n').is_empty();
    if !block_safe {
        return yaml_quoted(s);
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // An explicit indentation indicator unless the text starts with a visible character.
    let indicator = if body.starts_with(|c: char| c.is_whitespace()) {
        indent.to_string()
    } else {
        String::new()
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    out
}

/// A Splunk .conf value: lines after the first are continued with a trailing `\`.
///
/// Splunk joins a line that ends with `\` to the next one, keeping the newline. A value whose
/// last line ends with `\` gets one more (empty) line so that its backslash is not read as a
/// continuation into the next key. Control characters other than tab and newline, which the
/// .conf reader cannot carry, become U+FFFD.
pub fn conf_value(s: &str) -> String {
    let s = normalize_newlines(s);
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let mut lines: Vec<&str> = s.split('\n').collect();
    if lines.last().is_some_and(|l| l.trim_end().ends_with('\\')) {
        lines.push("");
    }
    lines.join("\\\n")
}

/// A Splunk .conf stanza name: brackets, newlines and control characters become `_`.
pub fn conf_stanza(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_control() || c == '[' || c == ']' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    cleaned.trim().to_string()
}

/// Markdown inline text: characters that Markdown could read as syntax are escaped and line
/// breaks become spaces, so the value stays inside its heading, table cell or list item.
///
/// Always escaped: `` \ ` * _ [ ] < > & | ~ # ``. At the start of the value also a list,
/// quote or heading marker (`-`, `+`, `=`, and the `.`/`)` after leading digits).
pub fn md_inline(s: &str) -> String {
    let text: String = normalize_newlines(s)
        .chars()
        .map(|c| match c {
            '\n' | '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    let text = text.trim();
    let mut out = String::with_capacity(text.len() + 8);
    let lead_digits = text.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in text.chars().enumerate() {
        let at_start = i == 0 && matches!(c, '-' | '+' | '=');
        let list_number = i == lead_digits && lead_digits > 0 && matches!(c, '.' | ')');
        if at_start
            || list_number
            || matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '#'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown paragraphs: like [`md_inline`] but blank lines separate paragraphs and single line
/// breaks are kept as soft breaks.
pub fn md_paragraphs(s: &str) -> String {
    let s = normalize_newlines(s);
    let mut paras: Vec<String> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    for line in s.split('\n') {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                paras.push(cur.join("\n"));
                cur.clear();
            }
        } else {
            cur.push(md_inline(line));
        }
    }
    if !cur.is_empty() {
        paras.push(cur.join("\n"));
    }
    paras.join("\n\n")
}

/// A fenced code block whose fence is longer than any backtick run inside the code.
pub fn md_code(code: &str, lang: &str) -> String {
    let code = normalize_newlines(code);
    let longest = longest_run(&code, '`');
    let fence = "`".repeat((longest + 1).max(3));
    let lang: String = lang
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let body = code.trim_end_matches('\n');
    format!("{fence}{lang}\n{body}\n{fence}")
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// A Markdown link with escaped text and a destination in `<…>` form. Only web and mail
/// schemes (or a relative path) become links: a `javascript:` or `data:` reference is shown as
/// text, so a rule's references cannot put script into a rendered page.
pub fn md_link(text: &str, url: &str) -> String {
    if !is_safe_link(url.trim()) {
        return if text.trim() == url.trim() {
            md_inline(text)
        } else {
            format!("{} ({})", md_inline(text), md_inline(url))
        };
    }
    let mut dest = String::new();
    for c in url.trim().chars() {
        match c {
            '<' | '>' | ' ' | '\\' => dest.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() => dest.push_str(&format!("%{:02X}", (c as u32) & 0xff)),
            c => dest.push(c),
        }
    }
    format!("[{}](<{}>)", md_inline(text), dest)
}

/// Whether a link destination is relative or uses http, https, mailto or ftp.
fn is_safe_link(url: &str) -> bool {
    let scheme_end = url.find(':');
    let before_path = url.find(['/', '?', '#']).unwrap_or(url.len());
    match scheme_end {
        // A colon after the first `/`, `?` or `#` is part of a relative reference.
        Some(i) if i < before_path => {
            let scheme = url[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto" | "ftp")
        }
        _ => !url.chars().any(char::is_control),
    }
}

/// Markdown written by a rule author (investigation guide, setup), embedded under a section:
/// headings are demoted by `demote` levels, raw HTML is neutralised outside code, and an
/// unclosed code fence is closed so the rest of the page cannot be swallowed.
pub fn md_embed(s: &str, demote: usize) -> String {
    let s = normalize_newlines(s);
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in s.split('\n') {
        let line: String = line
            .chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        if let Some((fc, flen)) = fence {
            let run = trimmed.chars().take_while(|&c| c == fc).count();
            if lead < 4 && run >= flen && trimmed[run * fc.len_utf8()..].trim().is_empty() {
                fence = None;
            }
            out.push(line);
            continue;
        }
        if lead < 4 {
            for fc in ['`', '~'] {
                let run = trimmed.chars().take_while(|&c| c == fc).count();
                if run >= 3 && !(fc == '`' && trimmed[run..].contains('`')) {
                    fence = Some((fc, run));
                }
            }
            if fence.is_some() {
                out.push(line);
                continue;
            }
            let hashes = trimmed.chars().take_while(|&c| c == '#').count();
            if (1..=6).contains(&hashes)
                && trimmed[hashes..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == ' ' || c == '\t')
            {
                let level = (hashes + demote).min(6);
                let text = neutralise_html(trimmed[hashes..].trim());
                out.push(format!("{} {}", "#".repeat(level), text));
                continue;
            }
        }
        out.push(neutralise_html(&line));
    }
    if let Some((fc, flen)) = fence {
        out.push(fc.to_string().repeat(flen));
    }
    let text = out.join("\n");
    text.trim_matches('\n').to_string()
}

/// Escape `<` outside inline code spans so no raw HTML block or comment can open.
fn neutralise_html(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '`' {
            let run = chars[i..].iter().take_while(|&&c| c == '`').count();
            // Find the closing run of the same length.
            let mut j = i + run;
            let mut close = None;
            while j < chars.len() {
                if chars[j] == '`' {
                    let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                    if r == run {
                        close = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            if let Some(end) = close {
                out.extend(&chars[i..end + run]);
                i = end + run;
                continue;
            }
            out.extend(&chars[i..i + run]);
            i += run;
            continue;
        }
        if chars[i] == '<' {
            out.push_str("\\<");
        } else {
            out.push(chars[i]);
        }
        i += 1;
    }
    out
}

/// A TOML basic string (quotes included).
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_content_escapes_quotes_backslashes_controls() {
        assert_eq!(
            json_str_content("a\"b\\c\nd\u{0}"),
            "a\\\"b\\\\c\\nd\\u0000"
        );
    }

    #[test]
    fn arm_brackets() {
        assert_eq!(arm_literal("[concat('a')]"), "[[concat('a')]");
        assert_eq!(arm_literal("[not closed"), "[not closed");
        assert_eq!(arm_literal("plain [x]"), "plain [x]");
    }

    #[test]
    fn yaml_quoting() {
        assert_eq!(yaml_quoted("it's \"x\"\n\\"), "\"it's \\\"x\\\"\\n\\\\\"");
        assert_eq!(yaml_quoted("\u{85}\u{2028}\u{7f}"), "\"\\x85\\u2028\\x7F\"");
    }

    #[test]
    fn yaml_blocks() {
        assert_eq!(yaml_block("a\nb", 2), "|-\n  a\n  b");
        assert_eq!(yaml_block("a\n\nb\n", 4), "|\n    a\n\n    b");
        assert_eq!(yaml_block("  a\nb\n\n", 2), "|2+\n    a\n  b\n");
        // Single-line text and text with CR stay quoted.
        assert_eq!(yaml_block("one line", 2), "\"one line\"");
        assert_eq!(yaml_block("a\r\nb", 2), "\"a\\r\\nb\"");
    }

    #[test]
    fn conf_values() {
        assert_eq!(conf_value("a\nb"), "a\\\nb");
        assert_eq!(conf_value("a\\\nb"), "a\\\\\nb");
        assert_eq!(conf_value("ends with \\"), "ends with \\\\\n");
        assert_eq!(conf_value("x\u{0}y\r\nz"), "x\u{fffd}y\\\nz");
        assert_eq!(conf_stanza("a [b]\nc"), "a _b__c");
    }

    #[test]
    fn markdown() {
        assert_eq!(md_inline("# a*b*\n[x](y)"), "\\# a\\*b\\* \\[x\\](y)");
        assert_eq!(md_inline("1. x-y: z"), "1\\. x-y: z");
        assert_eq!(md_inline("- a | b"), "\\- a \\| b");
        assert_eq!(md_code("a ``` b", "kql"), "````kql\na ``` b\n````");
        assert_eq!(md_link("t", "http://x/a b<"), "[t](<http://x/a%20b%3C>)");
        assert_eq!(md_link("t", "docs/a.md"), "[t](<docs/a.md>)");
        for bad in [
            "javascript:alert(1)",
            " JavaScript:x",
            "data:text/html,<b>",
            "vbscript:x",
        ] {
            assert!(!md_link(bad, bad).contains("]("), "{bad}");
            assert!(!md_link("t", bad).contains("]("), "{bad}");
        }
        assert_eq!(md_embed("# T\n```\nopen", 2), "### T\n```\nopen\n```");
        assert_eq!(md_embed("<!-- x `<b>`", 0), "\\<!-- x `<b>`");
    }

    #[test]
    fn toml_strings() {
        assert_eq!(toml_string("a\"\\\n\u{1}"), "\"a\\\"\\\\\\n\\u0001\"");
    }
}
