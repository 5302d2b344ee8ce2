//! A YAML tree with positions, built from yaml-rust2's event stream, plus a small emitter.
//!
//! Plain scalars are typed the way PyYAML's `safe_load` (which pySigma uses) types them, with one
//! deliberate difference: non-decimal integers (`0x1F3FFF`, `0755`, `1:20`) stay text, because Sigma
//! values are strings by specification and Windows logs write access masks as hex text.

use ruleport_model::{Diagnostic, Pos};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest block/flow nesting accepted (Sigma rules nest five levels at most).
const MAX_DEPTH: usize = 200;
/// Most nodes a stream may hold (rules hold hundreds; long IOC lists some thousands).
const MAX_NODES: usize = 500_000;
/// Most memory alias expansion may add, counted as [`NODE_COST`] per node plus string bytes:
/// guards against "billion laughs" and against one long string aliased many times.
const MAX_ALIAS_BYTES: usize = 16 << 20;
const NODE_COST: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `plain` when written without quotes (used to map condition columns).
    Str {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub(crate) fn new(kind: Kind, pos: Pos) -> Node {
        Node { kind, pos }
    }

    pub(crate) fn str(text: impl Into<String>) -> Node {
        Node::new(
            Kind::Str {
                text: text.into(),
                plain: false,
            },
            Pos::default(),
        )
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A scalar as text (numbers and booleans as PyYAML would print them); `None` for null and collections.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str { text, .. } => Some(text.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(float_text(*f)),
            Kind::Bool(b) => Some(if *b { "true".into() } else { "false".into() }),
            _ => None,
        }
    }

    pub(crate) fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "boolean",
            Kind::Int(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Str { .. } => "string",
            Kind::Seq(_) => "list",
            Kind::Map(_) => "map",
        }
    }

    /// The node as JSON (map keys as text), for `meta.extra`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str { text, .. } => Value::String(text.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, v) in entries {
                    m.insert(k.scalar_text().unwrap_or_default(), v.to_json());
                }
                Value::Object(m)
            }
        }
    }
}

/// Python-like float text (`1.0`, `0.5`).
pub(crate) fn float_text(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// One YAML document of a stream.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub root: Node,
}

fn pos_of(m: &Marker) -> Pos {
    Pos::new(m.line().max(1) as u32, m.col() as u32 + 1)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Document>,
    nodes: usize,
    /// Bytes added by alias expansion so far (see [`MAX_ALIAS_BYTES`]).
    alias_bytes: usize,
    warnings: Vec<Diagnostic>,
}

impl Builder {
    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(Document { root: node }),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
                        return Err(Diagnostic::error(
                            "E-SIGMA-YAML",
                            "a map key must be a scalar, not a list or map",
                        )
                        .at(node.pos));
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    if let Some(i) = entries.iter().position(|(ek, _)| ek.kind == k.kind) {
                        self.warnings.push(
                            Diagnostic::warning(
                                "W-SIGMA-DUPLICATE-KEY",
                                format!(
                                    "duplicate key `{}`: the later value wins (as in PyYAML)",
                                    k.scalar_text().unwrap_or_default()
                                ),
                            )
                            .at(k.pos),
                        );
                        entries.remove(i);
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// Parse a YAML stream. Returns the documents read before any error, and the error.
pub(crate) fn parse_stream(text: &str) -> (Vec<Document>, Vec<Diagnostic>) {
    // yaml-rust2 asserts internally in a few places; a panic there must not escape as a crash.
    let result = std::panic::catch_unwind(|| parse_stream_inner(text));
    match result {
        Ok(r) => r,
        Err(_) => (
            Vec::new(),
            vec![
                Diagnostic::error("E-SIGMA-YAML", "the YAML parser failed on this input")
                    .at(Pos::new(1, 1)),
            ],
        ),
    }
}

fn parse_stream_inner(text: &str) -> (Vec<Document>, Vec<Diagnostic>) {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        nodes: 0,
        alias_bytes: 0,
        warnings: Vec::new(),
    };
    let mut diags = Vec::new();
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                diags.push(
                    Diagnostic::error("E-SIGMA-YAML", format!("invalid YAML: {}", e.info()))
                        .at(pos_of(m)),
                );
                break;
            }
        };
        let pos = pos_of(&mark);
        let step = match ev {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => Ok(()),
            Event::DocumentStart => {
                b.anchors.clear();
                Ok(())
            }
            Event::Alias(id) => {
                // Cost the expansion before copying anything.
                let remaining = MAX_ALIAS_BYTES.saturating_sub(b.alias_bytes);
                match b
                    .anchors
                    .get(&id)
                    .map(|n| (expansion_cost(n, remaining), n))
                {
                    Some((Some((bytes, count)), node)) => {
                        let node = Node {
                            pos,
                            ..node.clone()
                        };
                        b.alias_bytes += bytes;
                        b.nodes += count;
                        b.finish_node(node, 0)
                    }
                    Some((None, _)) => Err(Diagnostic::error(
                        "E-SIGMA-YAML",
                        format!(
                            "YAML aliases expand to too large a document (over {} MiB)",
                            MAX_ALIAS_BYTES >> 20
                        ),
                    )
                    .at(pos)),
                    None => {
                        Err(Diagnostic::error("E-SIGMA-YAML", "alias to an unknown anchor").at(pos))
                    }
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                b.nodes += 1;
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let kind = resolve_scalar(value, style, tag.as_deref());
                b.finish_node(Node::new(kind, pos), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                b.nodes += 1;
                b.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                });
                if b.stack.len() > MAX_DEPTH {
                    Err(Diagnostic::error(
                        "E-SIGMA-YAML",
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    )
                    .at(pos))
                } else {
                    Ok(())
                }
            }
            Event::MappingStart(anchor, _) => {
                b.nodes += 1;
                b.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos,
                    anchor,
                });
                if b.stack.len() > MAX_DEPTH {
                    Err(Diagnostic::error(
                        "E-SIGMA-YAML",
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    )
                    .at(pos))
                } else {
                    Ok(())
                }
            }
            Event::SequenceEnd | Event::MappingEnd => match b.stack.pop() {
                Some(Frame::Seq { items, pos, anchor }) => {
                    b.finish_node(Node::new(Kind::Seq(items), pos), anchor)
                }
                Some(Frame::Map {
                    entries,
                    pos,
                    anchor,
                    ..
                }) => {
                    let entries = apply_merge_keys(entries);
                    // A block map's start marker sits after its first key; the first key is where it starts.
                    let pos = entries.first().map(|(k, _)| k.pos).unwrap_or(pos);
                    b.finish_node(Node::new(Kind::Map(entries), pos), anchor)
                }
                None => {
                    Err(Diagnostic::error("E-SIGMA-YAML", "unbalanced YAML collection end").at(pos))
                }
            },
        };
        if b.nodes > MAX_NODES {
            diags.push(
                Diagnostic::error(
                    "E-SIGMA-YAML",
                    format!("YAML document too large (over {MAX_NODES} nodes)"),
                )
                .at(pos),
            );
            break;
        }
        if let Err(d) = step {
            diags.push(d);
            break;
        }
    }
    let mut all = b.warnings;
    all.extend(diags);
    (b.docs, all)
}

/// Bytes and node count of a copy of `n`, or `None` once the bytes exceed `limit`.
fn expansion_cost(n: &Node, limit: usize) -> Option<(usize, usize)> {
    let (mut bytes, mut count) = (0usize, 0usize);
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        count += 1;
        bytes += NODE_COST;
        match &n.kind {
            Kind::Seq(items) => stack.extend(items.iter()),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
            Kind::Str { text, .. } => bytes += text.len(),
            _ => {}
        }
        if bytes > limit {
            return None;
        }
    }
    Some((bytes, count))
}

/// YAML 1.1 merge keys (`<<: *base`), which PyYAML's safe loader honours.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return entries;
    }
    let mut own = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if is_merge_key(&k) {
            let sources: Vec<Node> = match v.kind {
                Kind::Seq(items) => items,
                _ => vec![v],
            };
            for s in sources {
                if let Kind::Map(m) = s.kind {
                    for (mk, mv) in m {
                        if !merged.iter().any(|(x, _)| x.kind == mk.kind) {
                            merged.push((mk, mv));
                        }
                    }
                }
            }
        } else {
            own.push((k, v));
        }
    }
    for (k, v) in merged {
        if !own.iter().any(|(x, _)| x.kind == k.kind) {
            own.push((k, v));
        }
    }
    own
}

fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, Kind::Str { text, plain: true } if text == "<<")
}

/// Type a scalar like PyYAML's SafeLoader (see the module note on non-decimal integers).
fn resolve_scalar(value: String, style: TScalarStyle, tag: Option<&str>) -> Kind {
    let plain = style == TScalarStyle::Plain;
    match tag {
        Some("tag:yaml.org,2002:str") | Some("!!str") => {
            return Kind::Str {
                text: value,
                plain: false,
            }
        }
        Some("tag:yaml.org,2002:null") | Some("!!null") => return Kind::Null,
        _ => {}
    }
    if !plain {
        return Kind::Str {
            text: value,
            plain: false,
        };
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Kind::Bool(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Kind::Bool(false)
        }
        _ => {}
    }
    if let Some(i) = decimal_int(&value) {
        return Kind::Int(i);
    }
    if let Some(f) = yaml11_float(&value) {
        return Kind::Float(f);
    }
    Kind::Str {
        text: value,
        plain: true,
    }
}

/// `[-+]?(0|[1-9][0-9_]*)` as an i64.
fn decimal_int(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let b = body.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b[0] == b'0' && b.len() > 1 {
        return None;
    }
    if !b.iter().all(|c| c.is_ascii_digit() || *c == b'_') {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    clean.parse().ok()
}

/// PyYAML's float forms: `1.5`, `1.`, `.5`, `1.5e+3`, `.inf`, `.nan` (an exponent needs a dot and a sign).
fn yaml11_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let digits = |t: &str| t.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    if int.is_empty() && !frac.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !int.is_empty() && !int.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+'])?;
        if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    clean.parse().ok()
}

/// What a plain scalar would be read as, so the emitter knows when a string needs quotes.
pub(crate) fn plain_is_string(s: &str) -> bool {
    matches!(
        resolve_scalar(s.to_string(), TScalarStyle::Plain, None),
        Kind::Str { .. }
    )
}

// ---------------------------------------------------------------------------------------------
// Emitter

/// A value to write as YAML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

impl Out {
    pub(crate) fn from_json(v: &serde_json::Value) -> Out {
        use serde_json::Value;
        match v {
            Value::Null => Out::Null,
            Value::Bool(b) => Out::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Out::Int(i),
                None => Out::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Out::Str(s.clone()),
            Value::Array(a) => Out::Seq(a.iter().map(Out::from_json).collect()),
            Value::Object(m) => Out::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Out::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// A key written plain when that is unambiguous, else quoted.
fn key_text(k: &str) -> String {
    let safe = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '|' | '/'))
        && !k.starts_with(['-', '|', '.'])
        && plain_is_string(k);
    if safe {
        k.to_string()
    } else {
        quote(k)
    }
}

/// Quote a string: single quotes when it has no control characters (backslashes stay literal,
/// which keeps Windows paths readable), else double quotes with escapes.
pub(crate) fn quote(s: &str) -> String {
    let needs_double = s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}'
    });
    if !needs_double {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x100 && (c.is_control()) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar_out(v: &Out) -> String {
    match v {
        Out::Null => "null".into(),
        Out::Bool(b) => b.to_string(),
        Out::Int(i) => i.to_string(),
        Out::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            } else {
                let t = float_text(*f);
                // PyYAML needs a dot in the mantissa to read a float.
                if t.contains('.') {
                    t
                } else if let Some((m, e)) = t.split_once(['e', 'E']) {
                    let e = if e.starts_with(['-', '+']) {
                        e.to_string()
                    } else {
                        format!("+{e}")
                    };
                    format!("{m}.0e{e}")
                } else {
                    format!("{t}.0")
                }
            }
        }
        Out::Str(s) => quote(s),
        Out::Seq(_) => "[]".into(),
        Out::Map(_) => "{}".into(),
    }
}

/// Write a map as a block-style YAML document body.
pub(crate) fn emit_map(entries: &[(String, Out)], out: &mut String) {
    write_map(entries, 0, out);
}

fn write_map(entries: &[(String, Out)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        write_key(k, indent, out);
        write_value_after_key(v, indent, out);
    }
}

/// YAML limits an implicit key to 1024 characters (PyYAML and yaml-rust2 enforce it).
const IMPLICIT_KEY_LIMIT: usize = 1024;

/// `key:` — or, for a key too long to be implicit, the explicit form `? key` then `:` on the
/// next line at `indent`.
fn write_key(k: &str, indent: usize, out: &mut String) {
    let text = key_text(k);
    if text.chars().count() < IMPLICIT_KEY_LIMIT {
        out.push_str(&text);
    } else {
        out.push_str("? ");
        out.push_str(&text);
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push(':');
}

fn write_value_after_key(v: &Out, indent: usize, out: &mut String) {
    match v {
        Out::Map(m) if !m.is_empty() => {
            out.push('\n');
            write_map(m, indent + 4, out);
        }
        Out::Seq(s) if !s.is_empty() => {
            out.push('\n');
            write_seq(s, indent + 4, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar_out(other));
            out.push('\n');
        }
    }
}

fn write_seq(items: &[Out], indent: usize, out: &mut String) {
    for it in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match it {
            Out::Map(m) if !m.is_empty() => {
                // First entry on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, v) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    write_key(k, indent + 2, out);
                    write_value_after_key(v, indent + 2, out);
                }
            }
            Out::Seq(s) if !s.is_empty() => {
                out.push('\n');
                write_seq(s, indent + 4, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar_out(other));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let (docs, diags) = parse_stream(text);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        docs.into_iter().next().expect("doc").root
    }

    #[test]
    fn typing_follows_pyyaml() {
        let n = one("a: 1\nb: '1'\nc: 1.5\nd: yes\ne: null\nf: ~\ng: 0x1F\nh: 1e3\ni: 2023-01-01\nj: -7\nk: .5\n");
        assert_eq!(n.get("a").map(|n| &n.kind), Some(&Kind::Int(1)));
        assert!(matches!(
            n.get("b").map(|n| &n.kind),
            Some(Kind::Str { .. })
        ));
        assert_eq!(n.get("c").map(|n| &n.kind), Some(&Kind::Float(1.5)));
        assert_eq!(n.get("d").map(|n| &n.kind), Some(&Kind::Bool(true)));
        assert!(n.get("e").is_some_and(Node::is_null));
        assert!(n.get("f").is_some_and(Node::is_null));
        assert_eq!(n.get("g").and_then(Node::as_str), Some("0x1F"));
        assert_eq!(n.get("h").and_then(Node::as_str), Some("1e3"));
        assert_eq!(n.get("i").and_then(Node::as_str), Some("2023-01-01"));
        assert_eq!(n.get("j").map(|n| &n.kind), Some(&Kind::Int(-7)));
        assert_eq!(n.get("k").map(|n| &n.kind), Some(&Kind::Float(0.5)));
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("title: x\ndetection:\n    sel:\n        a: b\n");
        let det = n.get("detection").expect("det");
        let (k, _) = &det.as_map().expect("map")[0];
        assert_eq!(k.pos, Pos::new(3, 5));
        assert_eq!(n.pos, Pos::new(1, 1));
    }

    #[test]
    fn errors_have_positions_and_no_panic() {
        let (_, d) = parse_stream("a: [1, 2\nb: c\n");
        assert!(d.iter().any(|d| d.is_error() && d.pos.is_some()));
        let deep = "[".repeat(100_000);
        let (_, d) = parse_stream(&deep);
        assert!(d.iter().any(Diagnostic::is_error));
        let mut block = String::new();
        for i in 0..300 {
            block.push_str(&" ".repeat(i));
            block.push_str("a:\n");
        }
        let (_, d) = parse_stream(&block);
        assert!(d.iter().any(Diagnostic::is_error));
    }

    #[test]
    fn aliases_and_merge_keys() {
        let n = one("base: &b {x: 1}\nuse: *b\nm:\n  <<: *b\n  y: 2\n");
        assert_eq!(
            n.get("use").and_then(|u| u.get("x")).map(|n| &n.kind),
            Some(&Kind::Int(1))
        );
        assert_eq!(
            n.get("m").and_then(|u| u.get("x")).map(|n| &n.kind),
            Some(&Kind::Int(1))
        );
    }

    #[test]
    fn emitter_round_trips_awkward_strings() {
        let strings = [
            "C:\\Windows\\*",
            "it's",
            "yes",
            "1",
            "",
            "a: b",
            "- x",
            "#c",
            "\u{0}a\u{0}",
            "line\nnext",
            "%x%",
            "é—",
            "null",
            "0x1F",
            "1.5",
            " lead",
            "trail ",
        ];
        let entries: Vec<(String, Out)> = strings
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("k{i}"), Out::Str(s.to_string())))
            .chain([
                ("weird key: x".to_string(), Out::Int(3)),
                ("f".into(), Out::Float(2.0)),
                ("n".into(), Out::Null),
                (
                    "l".into(),
                    Out::Seq(vec![Out::Map(vec![
                        ("a".into(), Out::Str("b".into())),
                        ("c".into(), Out::Seq(vec![Out::Int(1)])),
                    ])]),
                ),
            ])
            .collect();
        let mut text = String::new();
        emit_map(&entries, &mut text);
        let n = one(&text);
        for (i, s) in strings.iter().enumerate() {
            assert_eq!(
                n.get(&format!("k{i}")).and_then(Node::as_str),
                Some(*s),
                "{text}"
            );
        }
        assert_eq!(n.get("weird key: x").map(|n| &n.kind), Some(&Kind::Int(3)));
        assert_eq!(n.get("f").map(|n| &n.kind), Some(&Kind::Float(2.0)));
        let l = n.get("l").expect("l");
        assert!(
            matches!(&l.kind, Kind::Seq(v) if v[0].get("c").is_some()),
            "{text}"
        );
    }

    #[test]
    fn keys_past_the_implicit_limit_are_written_explicitly() {
        // Fuzz crash 015099d9: a 1,200-character field name made the export unreadable.
        let long = format!("f{}\u{5}", "x".repeat(1100));
        let entries = vec![
            (
                long.clone(),
                Out::Map(vec![(long.clone(), Out::Str("v".into()))]),
            ),
            (
                "l".to_string(),
                Out::Seq(vec![Out::Map(vec![(long.clone(), Out::Int(1))])]),
            ),
        ];
        let mut text = String::new();
        emit_map(&entries, &mut text);
        assert!(text.starts_with("? "), "{text}");
        let n = one(&text);
        let inner = n.get(&long).expect("outer key");
        assert_eq!(inner.get(&long).and_then(Node::as_str), Some("v"));
        let l = n.get("l").expect("l");
        assert!(
            matches!(&l.kind, Kind::Seq(v) if v[0].get(&long).is_some()),
            "{text}"
        );
    }
}
