//! The fixture file format (documented in README.md, "Fixtures").
//!
//! ```yaml
//! rule: my_rule.toml          # the rule: a path relative to this file, or a rule id
//! schema: ecs                 # schema the events are written in (default: the rule's)
//! logsource: azure.auditlogs  # mapping log source of the events when they do not say
//! cases:
//!   - name: true positive
//!     expect: match           # or no_match
//!     event: {...}            # one event; or `events: [...]` for a multi-event scenario
//!     views:                  # optional per-target replacement of what that target sees
//!       sentinel: {...}
//! ```

use ruleport_model::{Diagnostic, Pos, Schema, TargetId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Match,
    NoMatch,
}

impl Expect {
    pub fn fires(self) -> bool {
        self == Expect::Match
    }
}

/// An event or a list of events (a scenario for sequences and aggregations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventsOrOne {
    Many(Vec<Value>),
    One(Value),
}

impl EventsOrOne {
    pub fn into_vec(self) -> Vec<Value> {
        match self {
            EventsOrOne::Many(v) => v,
            EventsOrOne::One(v) => vec![v],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureCase {
    pub name: String,
    pub expect: Expect,
    #[serde(default)]
    pub event: Option<Value>,
    #[serde(default)]
    pub events: Option<Vec<Value>>,
    /// Log source of this case's events (mapping id), overriding the file's.
    #[serde(default)]
    pub logsource: Option<String>,
    /// Per-target replacement events.
    #[serde(default)]
    pub views: BTreeMap<TargetId, EventsOrOne>,
    /// With `expect: match`, the least number of alerts (default 1).
    #[serde(default)]
    pub min_matches: Option<usize>,
    /// Line of the case in the file (filled in when parsed).
    #[serde(skip)]
    pub line: Option<u32>,
}

impl FixtureCase {
    pub fn events(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self.event.iter().cloned().collect();
        v.extend(self.events.iter().flatten().cloned());
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub schema: Option<Schema>,
    #[serde(default)]
    pub logsource: Option<String>,
    pub cases: Vec<FixtureCase>,
}

pub fn parse_fixture_file(text: &str, path: &Path) -> Result<FixtureFile, Diagnostic> {
    // Alias expansion and nesting are bounded before serde copies anything.
    ruleport_model::yaml_budget::check_yaml_budget(text, "E-FIXTURE").map_err(|d| {
        d.in_file(path)
            .with_hint("see README.md, section \"Fixtures\", for the format")
    })?;
    let mut file: FixtureFile = serde_yaml::from_str(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(l.line() as u32, l.column() as u32));
        Diagnostic::error("E-FIXTURE", format!("invalid fixture file: {e}"))
            .in_file(path)
            .at_opt(pos)
            .with_hint("see README.md, section \"Fixtures\", for the format")
    })?;
    // Case lines: the n-th `- name:` item under `cases:`.
    let lines: Vec<u32> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- name:"))
        .map(|(i, _)| i as u32 + 1)
        .collect();
    for (i, c) in file.cases.iter_mut().enumerate() {
        c.line = lines.get(i).copied();
    }
    for c in &file.cases {
        if c.event.is_none() && c.events.as_ref().is_none_or(Vec::is_empty) {
            return Err(Diagnostic::error(
                "E-FIXTURE",
                format!("case `{}` has no `event` or `events`", c.name),
            )
            .in_file(path)
            .at_opt(c.line.map(|l| Pos::new(l, 1))));
        }
    }
    Ok(file)
}
