//! Regex dialects: the IR's Rust/RE2 syntax out to Splunk's PCRE, and PCRE back in to Rust for
//! the evaluator. The one semantic trap handled here is `$`: outside multiline mode PCRE's `$`
//! also matches before a final newline, Rust's only at the very end.

use ruleport_model::matching::LazyRegex;
use ruleport_model::{Approximation, RegexAnchor, RegexSpec};

/// Whether the pattern turns multiline mode on with an inline flag group (`(?m)`, `(?im:`…).
fn has_inline_multiline(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                if b[j] == b'm' {
                    return true;
                }
                j += 1;
            }
        }
        i += 1;
    }
    false
}

/// Replace every `$` that is an end-of-text assertion (unescaped, outside a class) by `with`.
fn rewrite_dollar(p: &str, with: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' => {
                class_depth += 1;
                out.push(c);
                // A `]` right after `[` or `[^` is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '$' if class_depth == 0 => out.push_str(with),
            c => out.push(c),
        }
    }
    out
}

/// PCRE text for an IR regex, plus what could not be kept exactly.
pub(crate) fn to_pcre(spec: &RegexSpec) -> (String, Vec<Approximation>) {
    let mut approx = Vec::new();
    let multiline = spec.multiline || has_inline_multiline(&spec.pattern);
    let body = if multiline {
        spec.pattern.clone()
    } else {
        rewrite_dollar(&spec.pattern, r"\z")
    };
    if ["&&", "--", "~~"]
        .iter()
        .any(|op| spec.pattern.contains(op))
        && spec.pattern.contains('[')
    {
        approx.push(Approximation::new(
            "regex-dialect",
            "the regex may use Rust class set operations (&&, --, ~~) that PCRE reads literally",
        ));
    }
    let body = match spec.anchor {
        RegexAnchor::Search => body,
        RegexAnchor::Full => format!(r"\A(?:{body})\z"),
    };
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
    let text = if flags.is_empty() {
        body
    } else {
        format!("(?{flags}){body}")
    };
    (text, approx)
}

/// Compile a PCRE pattern (as Splunk's `regex`/`match` see it) with the Rust engine.
pub(crate) fn compile_pcre(pattern: &str) -> Result<regex::Regex, String> {
    lazy_pcre(pattern)?
        .get()
        .cloned()
        .map_err(|e| format!("invalid or unsupported regex: {e}"))
}

/// [`compile_pcre`], checked now and built on first use.
pub(crate) fn lazy_pcre(pattern: &str) -> Result<LazyRegex, String> {
    let pcre_only = ruleport_model::pcre::pcre_only_constructs(pattern);
    if !pcre_only.is_empty() {
        return Err(format!(
            "the regex uses PCRE-only constructs ({}) that the linear-time evaluator cannot run",
            pcre_only.join(", ")
        ));
    }
    let translated = if has_inline_multiline(pattern) {
        pattern.to_string()
    } else {
        // PCRE `$` = end, or before a final newline.
        rewrite_dollar(pattern, r"(?:\n?\z)")
    };
    LazyRegex::new(translated).map_err(|e| format!("invalid or unsupported regex: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruleport_model::Case;

    fn spec(p: &str) -> RegexSpec {
        RegexSpec {
            pattern: p.into(),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: RegexAnchor::Search,
        }
    }

    #[test]
    fn dollar_becomes_end_of_text() {
        assert_eq!(to_pcre(&spec(r"a$")).0, r"a\z");
        assert_eq!(to_pcre(&spec(r"a\$[$]")).0, r"a\$[$]");
        let mut s = spec("x");
        s.anchor = RegexAnchor::Full;
        s.case = Case::Insensitive;
        assert_eq!(to_pcre(&s).0, r"(?i)\A(?:x)\z");
    }

    #[test]
    fn pcre_dollar_matches_before_final_newline() {
        let re = compile_pcre("abc$").expect("compiles");
        assert!(re.is_match("abc\n"));
        assert!(re.is_match("abc"));
        assert!(!re.is_match("abc\nx"));
    }

    #[test]
    fn pcre_only_constructs_are_reported() {
        for p in [r"a(?=b)", r"(a)\1", r"a++", r"(?>a)"] {
            let e = compile_pcre(p).expect_err(p);
            assert!(e.contains("PCRE-only"), "{e}");
        }
    }
}
