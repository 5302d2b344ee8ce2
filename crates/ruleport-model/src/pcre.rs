//! PCRE constructs the linear-time Rust engine cannot run.
//!
//! Sigma regexes and Splunk `regex`/`match` are PCRE. One scanner names what ruleport cannot
//! evaluate, so the importer and the Splunk parser refuse the same patterns for the same reasons.

/// Each PCRE-only construct in `p`, named for an error message; empty when the Rust engine can
/// run the pattern (it may still be invalid for other reasons). Sorted and deduplicated.
pub fn pcre_only_constructs(p: &str) -> Vec<&'static str> {
    const GROUPS: [(&str, &str); 10] = [
        ("(?=", "lookahead `(?=…)`"),
        ("(?!", "negative lookahead `(?!…)`"),
        ("(?<=", "lookbehind `(?<=…)`"),
        ("(?<!", "negative lookbehind `(?<!…)`"),
        ("(?>", "atomic group `(?>…)`"),
        ("(?|", "branch reset `(?|…)`"),
        ("(?(", "conditional group `(?(…)…)`"),
        ("(?R)", "recursion `(?R)`"),
        ("(?#", "comment group `(?#…)`"),
        ("(*", "backtracking verb `(*…)`"),
    ];
    let b = p.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut in_class = false;
    // Whether the previous token can carry a quantifier, so `a*+` is possessive but `(?:+` is not.
    let mut quantified = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            let Some(&n) = b.get(i + 1) else { break };
            if !in_class {
                match n {
                    b'1'..=b'9' => found.push("backreference `\\N`"),
                    b'k' | b'g' => found.push("named or relative backreference `\\k` / `\\g`"),
                    b'K' => found.push("match reset `\\K`"),
                    b'G' => found.push("`\\G` anchor"),
                    b'Z' => found.push("`\\Z` (end before a final newline)"),
                    b'Q' => found.push("`\\Q…\\E` quoting"),
                    _ => {}
                }
            }
            i += 2;
            // `\x{41}`, `\p{L}`, `\N{U+41}`, `\o{101}`: the braces belong to the escape.
            if matches!(n, b'x' | b'p' | b'P' | b'N' | b'o') && b.get(i) == Some(&b'{') {
                match b[i..].iter().position(|&x| x == b'}') {
                    Some(close) => i += close + 1,
                    None => break,
                }
            }
            quantified = true;
            continue;
        }
        if in_class {
            if c == b']' {
                in_class = false;
                quantified = true;
            } else if b[i..].starts_with(b"[:") {
                // POSIX class `[:alpha:]` inside a bracket expression.
                if let Some(end) = p[i + 2..].find(":]") {
                    i += 2 + end + 2;
                    continue;
                }
            }
            i += 1;
            continue;
        }
        match c {
            b'[' => {
                in_class = true;
                // A `]` right after `[` or `[^` is literal.
                i += if b[i..].starts_with(b"[^]") {
                    3
                } else if b[i..].starts_with(b"[]") {
                    2
                } else {
                    1
                };
                continue;
            }
            b'(' => {
                let rest = &p[i..];
                if let Some((_, why)) = GROUPS.iter().find(|(pat, _)| rest.starts_with(pat)) {
                    found.push(why);
                }
            }
            b'*' | b'+' | b'?' | b'}' if quantified && b.get(i + 1) == Some(&b'+') => {
                found.push("possessive quantifier (`*+`, `++`, `?+`, `{n}+`)");
                i += 2;
                quantified = false;
                continue;
            }
            _ => {}
        }
        quantified = !matches!(c, b'(' | b'|');
        i += 1;
    }
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::pcre_only_constructs as scan;

    #[test]
    fn names_each_pcre_only_construct() {
        assert_eq!(scan(r"(?<=a)b"), vec!["lookbehind `(?<=…)`"]);
        assert_eq!(scan(r"(a)\1"), vec!["backreference `\\N`"]);
        assert_eq!(
            scan(r"a++"),
            vec!["possessive quantifier (`*+`, `++`, `?+`, `{n}+`)"]
        );
        assert_eq!(
            scan(r"a{2}+"),
            vec!["possessive quantifier (`*+`, `++`, `?+`, `{n}+`)"]
        );
        assert_eq!(scan(r"a\Z"), vec!["`\\Z` (end before a final newline)"]);
        assert_eq!(scan(r"(*SKIP)a"), vec!["backtracking verb `(*…)`"]);
    }

    #[test]
    fn escapes_and_classes_are_not_constructs() {
        for ok in [
            r"a{1,3}\d+(?:x)(?i)y",
            // Braces of an escape are not a counted repetition (fuzz crash 724bda54).
            r"\x{0}+\x{41}+",
            r"\p{L}+",
            r"[*+]+",
            r"[^]+]x",
            r"[[:alpha:]+]",
            r"\++",
            r"\\",
            r"\0",
            r"a\z",
        ] {
            let got = scan(ok);
            assert!(got.is_empty(), "{ok}: {got:?}");
        }
        assert_eq!(
            scan(r"\x{41}++"),
            vec!["possessive quantifier (`*+`, `++`, `?+`, `{n}+`)"]
        );
        assert_eq!(
            scan(r"\d*+"),
            vec!["possessive quantifier (`*+`, `++`, `?+`, `{n}+`)"]
        );
    }
}
