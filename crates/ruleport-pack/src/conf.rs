//! A reader for Splunk .conf files, used to check every rendered .conf before it is written.
//!
//! It follows Splunk's AppInspect reader: a line that ends with `\` is joined to the next one
//! (the backslash is dropped, the newline kept); `#` starts a comment line; `[name]` opens a
//! stanza; `key = value` sets a key (whitespace around both trimmed). Keys before any stanza
//! belong to the `default` stanza. Anything else, a continuation followed by trailing
//! whitespace, or a key set twice in one stanza is an error.

use ruleport_model::{Diagnostic, Pos};

/// One stanza: its name and keys in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    pub name: String,
    pub line: u32,
    pub entries: Vec<(String, String)>,
}

impl Stanza {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a .conf text into stanzas.
pub fn parse(text: &str) -> Result<Vec<Stanza>, Diagnostic> {
    let mut stanzas: Vec<Stanza> = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0u32;
    let mut pending = false;
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let n = i as u32 + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if !pending {
            start_line = n;
            logical.clear();
        }
        if let Some(body) = line.strip_suffix('\\') {
            logical.push_str(body);
            logical.push('\n');
            pending = true;
            continue;
        }
        if line.trim_end().ends_with('\\') {
            return Err(Diagnostic::error(
                "E-CONF-CONTINUATION",
                "continuation backslash followed by whitespace",
            )
            .at(Pos::new(n, line.len() as u32)));
        }
        logical.push_str(line);
        pending = false;
        handle_logical(&logical, start_line, &mut stanzas)?;
    }
    if pending {
        return Err(
            Diagnostic::error("E-CONF-CONTINUATION", "file ends inside a continued value")
                .at(Pos::new(lines.len() as u32, 1)),
        );
    }
    Ok(stanzas)
}

fn handle_logical(logical: &str, line: u32, stanzas: &mut Vec<Stanza>) -> Result<(), Diagnostic> {
    let t = logical.trim_start();
    if t.trim().is_empty() || t.starts_with('#') {
        return Ok(());
    }
    if t.starts_with('[') {
        let t = t.trim_end();
        let Some(end) = t.rfind(']') else {
            return Err(
                Diagnostic::error("E-CONF-STANZA", "stanza header without `]`")
                    .at(Pos::new(line, 1)),
            );
        };
        if end != t.len() - 1 || t.contains('\n') {
            return Err(
                Diagnostic::error("E-CONF-STANZA", "text after a stanza header")
                    .at(Pos::new(line, 1)),
            );
        }
        let name = t[1..end].to_string();
        if stanzas.iter().any(|s| s.name == name) {
            return Err(Diagnostic::error(
                "E-CONF-DUPLICATE",
                format!("stanza [{name}] appears twice"),
            )
            .at(Pos::new(line, 1)));
        }
        stanzas.push(Stanza {
            name,
            line,
            entries: Vec::new(),
        });
        return Ok(());
    }
    let Some((k, v)) = t.split_once('=') else {
        return Err(Diagnostic::error(
            "E-CONF-LINE",
            "line is neither a stanza, a comment nor `key = value`",
        )
        .at(Pos::new(line, 1)));
    };
    let key = k.trim().to_string();
    if key.is_empty() || key.contains('\n') {
        return Err(
            Diagnostic::error("E-CONF-KEY", "empty or multi-line key").at(Pos::new(line, 1))
        );
    }
    if stanzas.is_empty() {
        stanzas.push(Stanza {
            name: "default".into(),
            line,
            entries: Vec::new(),
        });
    }
    let Some(st) = stanzas.last_mut() else {
        return Ok(());
    };
    if st.get(&key).is_some() {
        return Err(Diagnostic::error(
            "E-CONF-DUPLICATE",
            format!("key `{key}` set twice in [{}]", st.name),
        )
        .at(Pos::new(line, 1)));
    }
    st.entries.push((key, v.trim().to_string()));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::escape::conf_value;

    #[test]
    fn reads_continuations_and_comments() {
        let text = "# c\n[a b]\nk = one\\\n  two\\\n# not a comment\nk2=v\n\n[c]\nx = 1\n";
        let st = parse(text).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].name, "a b");
        assert_eq!(st[0].get("k"), Some("one\n  two\n# not a comment"));
        assert_eq!(st[0].get("k2"), Some("v"));
        assert_eq!(st[1].get("x"), Some("1"));
    }

    #[test]
    fn errors() {
        assert!(parse("[a]\nk = v \\ \nx = 1").is_err());
        assert!(parse("[a]\njunk").is_err());
        assert!(parse("[a]\nk=1\nk=2").is_err());
        assert!(parse("[a]\n[a]").is_err());
        assert!(parse("[a]\nk = v\\").is_err());
    }

    #[test]
    fn escaped_values_round_trip() {
        for v in [
            "plain",
            "a\nb",
            "back\\slash\\\nnext",
            "ends\\",
            "[fake]\nk = injected",
            "x\\ \ny",
            "\\\n\\",
        ] {
            let text = format!("[s]\nk = {}\nafter = 1\n", conf_value(v));
            let st = parse(&text).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert_eq!(st.len(), 1, "{v:?}");
            assert_eq!(
                st[0].get("k").map(str::trim_end),
                Some(v.trim_end()),
                "{v:?}"
            );
            assert_eq!(st[0].get("after"), Some("1"), "{v:?}");
        }
    }
}
