//! Reading a spanned TOML document: typed field access with diagnostics, value conversion to
//! JSON, and mapping positions inside string values back to the file.

use ruleport_model::diag::did_you_mean;
use ruleport_model::{Diagnostic, Pos};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub const E_TOML: &str = "E-ELASTIC-TOML";
pub const E_MISSING: &str = "E-ELASTIC-MISSING-FIELD";
pub const E_UNKNOWN: &str = "E-ELASTIC-UNKNOWN-FIELD";
pub const E_TYPE: &str = "E-ELASTIC-FIELD-TYPE";
pub const E_VALUE: &str = "E-ELASTIC-FIELD-VALUE";

pub(crate) type Entry<'b, 'i> = (&'b Spanned<Cow<'i, str>>, &'b Spanned<DeValue<'i>>);

/// Collects diagnostics for one file.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) path: Option<&'a Path>,
    pub(crate) rule_id: String,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(file: &'a str, path: Option<&'a Path>) -> Self {
        Ctx {
            file,
            path,
            rule_id: String::new(),
            diags: Vec::new(),
        }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        Pos::from_offset(self.file, offset)
    }

    /// Attach the file and rule id to a diagnostic.
    pub(crate) fn finish(&self, mut d: Diagnostic) -> Diagnostic {
        if let Some(p) = self.path {
            d = d.in_file(p);
        }
        d.for_rule(self.rule_id.clone())
    }

    pub(crate) fn error(&mut self, code: &str, message: impl Into<String>, span: Range<usize>) {
        let d = Diagnostic::error(code, message).at(self.pos(span.start));
        let d = self.finish(d);
        self.diags.push(d);
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        let d = self.finish(d);
        self.diags.push(d);
    }

    pub(crate) fn wrong_type(&mut self, key: &str, want: &str, v: &Spanned<DeValue<'_>>) {
        self.error(
            E_TYPE,
            format!("`{key}` must be {want}, found {}", v.get_ref().type_str()),
            v.span(),
        );
    }

    /// Report keys of `table` that are not in `known`, with a did-you-mean hint.
    pub(crate) fn check_keys(&mut self, table: &DeTable<'_>, section: &str, known: &[&str]) {
        for (k, _) in table.iter() {
            let name = k.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut d =
                Diagnostic::error(E_UNKNOWN, format!("unknown field `{name}` in {section}"))
                    .at(self.pos(k.span().start));
            if let Some(s) = did_you_mean(name, known.iter().copied()) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            self.push(d);
        }
    }

    pub(crate) fn get<'b, 'i>(&self, table: &'b DeTable<'i>, key: &str) -> Option<Entry<'b, 'i>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    pub(crate) fn require<'b, 'i>(
        &mut self,
        table: &'b DeTable<'i>,
        key: &str,
        section: &str,
        at: Range<usize>,
    ) -> Option<Entry<'b, 'i>> {
        let e = self.get(table, key);
        if e.is_none() {
            self.error(
                E_MISSING,
                format!("missing required field `{key}` in {section}"),
                at,
            );
        }
        e
    }

    pub(crate) fn str_of(&mut self, key: &str, v: &Spanned<DeValue<'_>>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(key, "a string", v);
                None
            }
        }
    }

    pub(crate) fn opt_str(&mut self, table: &DeTable<'_>, key: &str) -> Option<String> {
        let (_, v) = self.get(table, key)?;
        self.str_of(key, v)
    }

    /// A list of strings; a single string is accepted as a one-element list when `lenient`.
    pub(crate) fn str_list_of(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        lenient: bool,
    ) -> Option<Vec<String>> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items.iter() {
                    match it.get_ref() {
                        DeValue::String(s) => out.push(s.to_string()),
                        _ => {
                            self.wrong_type(key, "a list of strings", it);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            DeValue::String(s) if lenient => Some(vec![s.to_string()]),
            _ => {
                self.wrong_type(key, "a list of strings", v);
                None
            }
        }
    }

    pub(crate) fn opt_str_list(&mut self, table: &DeTable<'_>, key: &str) -> Vec<String> {
        match self.get(table, key) {
            Some((_, v)) => self.str_list_of(key, v, false).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    pub(crate) fn int_of(&mut self, key: &str, v: &Spanned<DeValue<'_>>) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(i) => match integer(i) {
                Some(n) => Some(n),
                None => {
                    self.error(E_VALUE, format!("`{key}` is out of range"), v.span());
                    None
                }
            },
            _ => {
                self.wrong_type(key, "an integer", v);
                None
            }
        }
    }

    pub(crate) fn table_of<'b, 'i>(
        &mut self,
        key: &str,
        v: &'b Spanned<DeValue<'i>>,
    ) -> Option<&'b DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, "a table", v);
                None
            }
        }
    }

    /// An array of tables (`[[x]]`); a single table is accepted too.
    pub(crate) fn tables_of<'b, 'i>(
        &mut self,
        key: &str,
        v: &'b Spanned<DeValue<'i>>,
    ) -> Vec<&'b Spanned<DeValue<'i>>> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for it in items.iter() {
                    if it.get_ref().is_table() {
                        out.push(it);
                    } else {
                        self.wrong_type(key, "a list of tables", it);
                    }
                }
                out
            }
            DeValue::Table(_) => vec![v],
            _ => {
                self.wrong_type(key, "a list of tables", v);
                Vec::new()
            }
        }
    }
}

fn integer(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
    i64::from_str_radix(&digits, i.radix()).ok()
}

/// A TOML value as JSON (datetimes become strings; non-finite floats become strings).
pub(crate) fn to_json(v: &DeValue<'_>) -> Json {
    match v {
        DeValue::String(s) => Json::String(s.to_string()),
        DeValue::Integer(i) => match integer(i) {
            Some(n) => Json::from(n),
            None => Json::String(i.as_str().to_string()),
        },
        DeValue::Float(f) => {
            let text: String = f.as_str().chars().filter(|c| *c != '_').collect();
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .unwrap_or(Json::String(text))
        }
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Array(items) => Json::Array(items.iter().map(|i| to_json(i.get_ref())).collect()),
        DeValue::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
                .collect(),
        ),
    }
}

/// How a string value is written in the file, to map positions inside it back to the file.
pub(crate) struct StringSource<'a> {
    body_start: usize,
    body: &'a str,
    basic: bool,
}

impl<'a> StringSource<'a> {
    /// The string literal at `span` of `file` (the span covers the delimiters).
    pub(crate) fn new(file: &'a str, span: Range<usize>) -> Option<Self> {
        let raw = file.get(span.clone())?;
        let (delim, basic, multi) = if raw.starts_with("\"\"\"") {
            (3, true, true)
        } else if raw.starts_with("'''") {
            (3, false, true)
        } else if raw.starts_with('"') {
            (1, true, false)
        } else if raw.starts_with('\'') {
            (1, false, false)
        } else {
            return None;
        };
        let mut start = span.start + delim;
        let end = span.end.checked_sub(delim)?.max(start);
        if multi {
            let rest = file.get(start..end)?;
            if rest.starts_with("\r\n") {
                start += 2;
            } else if rest.starts_with('\n') {
                start += 1;
            }
        }
        Some(StringSource {
            body_start: start,
            body: file.get(start..end)?,
            basic,
        })
    }

    /// File offset of the first character of the string's content.
    pub(crate) fn start(&self) -> usize {
        self.body_start
    }

    /// File offset of byte `decoded` of the decoded string.
    pub(crate) fn file_offset(&self, decoded: usize) -> usize {
        if !self.basic {
            return self.body_start + decoded.min(self.body.len());
        }
        let b = self.body.as_bytes();
        let (mut i, mut d) = (0usize, 0usize);
        while d < decoded && i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() {
                let hex = |n: usize| -> usize {
                    self.body
                        .get(i + 2..i + 2 + n)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .map(char::len_utf8)
                        .unwrap_or(1)
                };
                match b[i + 1] {
                    b'u' => {
                        d += hex(4);
                        i += 6;
                    }
                    b'U' => {
                        d += hex(8);
                        i += 10;
                    }
                    b'x' => {
                        d += hex(2);
                        i += 4;
                    }
                    b' ' | b'\t' | b'\r' | b'\n' => {
                        // Line-ending backslash: the whitespace run is not part of the value.
                        i += 1;
                        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                            i += 1;
                        }
                    }
                    _ => {
                        d += 1;
                        i += 2;
                    }
                }
            } else {
                let len = self
                    .body
                    .get(i..)
                    .and_then(|s| s.chars().next())
                    .map(char::len_utf8)
                    .unwrap_or(1);
                d += len;
                i += len;
            }
        }
        self.body_start + i.min(b.len())
    }

    /// The file position of a 1-based position inside the decoded string `decoded`.
    pub(crate) fn file_pos(&self, file: &str, decoded: &str, at: Pos) -> Pos {
        let mut offset = 0usize;
        let mut line = 1u32;
        for (i, c) in decoded.char_indices() {
            if line == at.line {
                offset = i;
                break;
            }
            if c == '\n' {
                line += 1;
                offset = i + 1;
            }
        }
        if line < at.line {
            offset = decoded.len();
        }
        let col_bytes: usize = decoded[offset..]
            .chars()
            .take(at.column.saturating_sub(1) as usize)
            .map(char::len_utf8)
            .sum();
        Pos::from_offset(file, self.file_offset(offset + col_bytes))
    }
}
