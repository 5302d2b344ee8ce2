//! Diagnostics: every error about input names the file, line, column and rule, with a code and hint.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warning,
    Error,
}

/// A position inside a text: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }

    /// The position of byte `offset` in `text`.
    pub fn from_offset(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() as u32 + 1;
        let col_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[col_start..].chars().count() as u32 + 1;
        Pos { line, column }
    }

    /// Shift a position inside an embedded text (a query inside a rule file) by where it starts.
    pub fn offset_by(self, base: Pos) -> Pos {
        if self.line <= 1 {
            Pos::new(base.line, base.column + self.column.saturating_sub(1))
        } else {
            Pos::new(base.line + self.line - 1, self.column)
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub level: Level,
    /// A stable code, e.g. `E-SIGMA-MODIFIER`.
    pub code: String,
    pub message: String,
    pub path: Option<PathBuf>,
    pub pos: Option<Pos>,
    pub rule_id: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Error,
            code: code.into(),
            message: message.into(),
            path: None,
            pos: None,
            rule_id: None,
            hint: None,
        }
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, pos: Pos) -> Self {
        self.pos = Some(pos);
        self
    }

    pub fn at_opt(mut self, pos: Option<Pos>) -> Self {
        if pos.is_some() {
            self.pos = pos;
        }
        self
    }

    pub fn in_file(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn for_rule(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty() {
            self.rule_id = Some(id);
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Text from input (a rule title, a value, a file name) shown on a terminal: control characters
/// are written as `\u{…}` escapes so that input cannot move the cursor, recolour or retitle the
/// terminal, or fake another diagnostic line. `keep_newlines` keeps `\n` for multi-line messages.
pub fn terminal_safe(s: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\t' && !(keep_newlines && c == '\n');
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}", terminal_safe(&p.display().to_string(), false))?;
            if let Some(pos) = self.pos {
                write!(f, ":{}:{}", pos.line, pos.column)?;
            }
            f.write_str(": ")?;
        } else if let Some(pos) = self.pos {
            write!(f, "{}:{}: ", pos.line, pos.column)?;
        }
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{level}[{}]", self.code)?;
        if let Some(id) = &self.rule_id {
            write!(f, " (rule {})", terminal_safe(id, false))?;
        }
        write!(f, ": {}", terminal_safe(&self.message, true))?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {}", terminal_safe(h, true))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The closest candidate within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        let limit = (c.len().max(word.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment distance: `contians` is one transposition from `contains`.
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let t = "ab\ncdé\nf";
        assert_eq!(Pos::from_offset(t, 0), Pos::new(1, 1));
        assert_eq!(Pos::from_offset(t, 3), Pos::new(2, 1));
        assert_eq!(Pos::from_offset(t, t.len()), Pos::new(3, 2));
    }

    #[test]
    fn suggestions() {
        let mods = ["contains", "startswith", "endswith", "all"];
        assert_eq!(did_you_mean("contians", mods), Some("contains"));
        assert_eq!(did_you_mean("endswth", mods), Some("endswith"));
        assert_eq!(did_you_mean("zzzzzz", mods), None);
    }

    #[test]
    fn display_escapes_control_characters_from_input() {
        let d = Diagnostic::error("E-X", "bad `a\u{1b}[2J`\nsecond line")
            .in_file("r\n1:1: error.yml")
            .for_rule("id\u{7}");
        assert_eq!(
            d.to_string(),
            "r\\u{a}1:1: error.yml: error[E-X] (rule id\\u{7}): bad `a\\u{1b}[2J`\nsecond line"
        );
    }

    #[test]
    fn display_names_everything() {
        let d = Diagnostic::error("E-X", "bad")
            .in_file("r.yml")
            .at(Pos::new(3, 4))
            .for_rule("abc")
            .with_hint("fix it");
        assert_eq!(
            d.to_string(),
            "r.yml:3:4: error[E-X] (rule abc): bad\n  hint: fix it"
        );
    }
}
