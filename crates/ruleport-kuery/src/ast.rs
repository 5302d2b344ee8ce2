//! The kuery syntax tree, as Kibana's grammar builds it (before the field is distributed over
//! value lists).

use ruleport_model::Pos;
use serde::{Deserialize, Serialize};

/// Byte offsets `[start, end)` into the parsed text, and the 1-based position of `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub pos: Pos,
}

/// A whole query. `root` is `None` for an empty query, which Kibana runs as `match_all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub root: Option<Node>,
}

/// A query node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    /// `field:{ query }`: some element of `field` satisfies `query` (relative field names).
    Nested {
        field: Literal,
        query: Box<Node>,
        span: Span,
    },
    /// `field < value`, `<=`, `>`, `>=`.
    Range {
        field: Literal,
        op: RangeOp,
        value: Literal,
        span: Span,
    },
    /// `field:values`, or free text when `field` is `None`.
    Is {
        field: Option<Literal>,
        values: ValueList,
        span: Span,
    },
}

/// The value side of `field:…`: one value, or a parenthesised list with `or`/`and`/`not`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueList {
    Or(Vec<ValueList>),
    And(Vec<ValueList>),
    Not(Box<ValueList>),
    Value(Literal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl RangeOp {
    pub fn symbol(self) -> &'static str {
        match self {
            RangeOp::Lt => "<",
            RangeOp::Le => "<=",
            RangeOp::Gt => ">",
            RangeOp::Ge => ">=",
        }
    }
}

/// A literal as written: quoted (never a wildcard) or unquoted (escapes resolved, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiteralKind {
    Quoted(String),
    /// Text runs and unescaped `*` wildcards, after Kibana's `trim()`.
    Unquoted(Vec<Chunk>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chunk {
    Text(String),
    Wildcard,
}

/// What an unquoted literal means, following Kibana's `UnquotedLiteral` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unquoted<'a> {
    Null,
    Bool(bool),
    Text(&'a str),
    Wildcard(&'a [Chunk]),
}

impl Literal {
    pub fn is_quoted(&self) -> bool {
        matches!(self.kind, LiteralKind::Quoted(_))
    }

    /// True for an unquoted literal containing an unescaped `*`.
    pub fn is_wildcard(&self) -> bool {
        matches!(&self.kind, LiteralKind::Unquoted(c) if c.contains(&Chunk::Wildcard))
    }

    /// The classification Kibana applies to an unquoted literal (`None` for quoted ones).
    pub fn unquoted(&self) -> Option<Unquoted<'_>> {
        let LiteralKind::Unquoted(chunks) = &self.kind else {
            return None;
        };
        Some(match chunks.as_slice() {
            [] => Unquoted::Text(""),
            [Chunk::Text(t)] => match t.as_str() {
                "null" => Unquoted::Null,
                "true" => Unquoted::Bool(true),
                "false" => Unquoted::Bool(false),
                t => Unquoted::Text(t),
            },
            c => Unquoted::Wildcard(c),
        })
    }

    /// The literal's text with wildcards shown as `*` (for field names and messages).
    pub fn text(&self) -> String {
        match &self.kind {
            LiteralKind::Quoted(s) => s.clone(),
            LiteralKind::Unquoted(chunks) => chunks
                .iter()
                .map(|c| match c {
                    Chunk::Text(t) => t.as_str(),
                    Chunk::Wildcard => "*",
                })
                .collect(),
        }
    }

    /// True when every chunk is a wildcard (`*`, `**`): Kibana's exists test.
    pub fn is_only_wildcards(&self) -> bool {
        matches!(&self.kind, LiteralKind::Unquoted(c) if !c.is_empty() && c.iter().all(|c| *c == Chunk::Wildcard))
    }
}

impl Node {
    /// Nesting depth of the tree.
    pub fn depth(&self) -> usize {
        match self {
            Node::Or(v) | Node::And(v) => 1 + v.iter().map(Node::depth).max().unwrap_or(0),
            Node::Not(n) => 1 + n.depth(),
            Node::Nested { query, .. } => 1 + query.depth(),
            Node::Range { .. } => 1,
            Node::Is { values, .. } => 1 + values.depth(),
        }
    }
}

impl ValueList {
    pub fn depth(&self) -> usize {
        match self {
            ValueList::Or(v) | ValueList::And(v) => {
                1 + v.iter().map(ValueList::depth).max().unwrap_or(0)
            }
            ValueList::Not(n) => 1 + n.depth(),
            ValueList::Value(_) => 1,
        }
    }
}
