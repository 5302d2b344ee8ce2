//! Detection logic above single events: sequences, samples, aggregations, new terms.

use crate::expr::{CmpOp, Expr, Operand};
use crate::rule::LogSource;
use crate::value::TimeSpan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A single-event filter: an optional event category (EQL `process where`) and a condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventFilter {
    /// Event category as EQL names it (`process`, `network`…); `None` is `any`.
    pub category: Option<String>,
    pub expr: Expr,
}

impl EventFilter {
    pub fn new(expr: Expr) -> Self {
        EventFilter {
            category: None,
            expr,
        }
    }
}

/// One stream of events that a multi-event detection reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventSource {
    /// The referenced rule id or name (Sigma correlations), for reports and export.
    pub name: Option<String>,
    /// Its own log source when it differs from the rule's (Sigma correlations over several rules).
    pub logsource: Option<LogSource>,
    pub filter: EventFilter,
    /// Group-by alias → this source's field (Sigma correlation `aliases`).
    pub aliases: BTreeMap<String, String>,
}

impl EventSource {
    pub fn new(filter: EventFilter) -> Self {
        EventSource {
            name: None,
            logsource: None,
            filter,
            aliases: BTreeMap::new(),
        }
    }
}

// A rule holds one detection for its whole life; boxing the larger variants would only add an
// indirection to every match over them.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Detection {
    /// Match single events.
    Query(EventFilter),
    /// Ordered events sharing join keys (EQL sequence, Sigma temporal_ordered).
    Sequence(Sequence),
    /// Unordered events sharing join keys (EQL sample, Sigma temporal).
    Sample(Sample),
    /// Counting over groups (Elastic threshold, Sigma event_count / value_count / value_*).
    Aggregation(Aggregation),
    /// A value of `fields` not seen in the history window (Elastic new_terms).
    NewTerms(NewTerms),
    /// Logic this version cannot model (ES|QL, machine learning, indicator match…): kept, never dropped.
    Unsupported(UnsupportedDetection),
}

impl Detection {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Detection::Query(_) => "query",
            Detection::Sequence(_) => "sequence",
            Detection::Sample(_) => "sample",
            Detection::Aggregation(_) => "aggregation",
            Detection::NewTerms(_) => "new_terms",
            Detection::Unsupported(_) => "unsupported",
        }
    }

    /// [`Detection::filters`], mutable.
    pub fn filters_mut(&mut self) -> Vec<&mut EventFilter> {
        match self {
            Detection::Query(f) => vec![f],
            Detection::Sequence(s) => s
                .steps
                .iter_mut()
                .chain(s.until.iter_mut())
                .map(|st| &mut st.source.filter)
                .collect(),
            Detection::Sample(s) => s.steps.iter_mut().map(|st| &mut st.source.filter).collect(),
            Detection::Aggregation(a) => a.sources.iter_mut().map(|s| &mut s.filter).collect(),
            Detection::NewTerms(n) => vec![&mut n.filter],
            Detection::Unsupported(_) => vec![],
        }
    }

    /// The filters of every event stream, in order.
    pub fn filters(&self) -> Vec<&EventFilter> {
        match self {
            Detection::Query(f) => vec![f],
            Detection::Sequence(s) => s
                .steps
                .iter()
                .chain(s.until.iter())
                .map(|st| &st.source.filter)
                .collect(),
            Detection::Sample(s) => s.steps.iter().map(|st| &st.source.filter).collect(),
            Detection::Aggregation(a) => a.sources.iter().map(|s| &s.filter).collect(),
            Detection::NewTerms(n) => vec![&n.filter],
            Detection::Unsupported(_) => vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeqStep {
    pub source: EventSource,
    /// Per-step join keys, positionally paired across steps.
    pub by: Vec<Operand>,
    /// `with runs=N`: N consecutive matches of this step (1 = plain step).
    pub runs: u32,
    /// `![…]`: a step that must NOT occur.
    pub missing: bool,
}

impl SeqStep {
    pub fn new(source: EventSource) -> Self {
        SeqStep {
            source,
            by: Vec::new(),
            runs: 1,
            missing: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sequence {
    /// Shared join keys (`sequence by`).
    pub by: Vec<Operand>,
    /// Every event within this span of the first.
    pub maxspan: Option<TimeSpan>,
    pub steps: Vec<SeqStep>,
    /// An event that expires pending sequences.
    pub until: Option<SeqStep>,
}

/// EQL's `| head N` / `| tail N`: a search returns at most `count` results, the first or the
/// last. It shapes how many alerts a run raises, never whether an event matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResultLimit {
    pub keep: LimitKeep,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKeep {
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    pub by: Vec<Operand>,
    /// Sigma temporal's timespan; EQL samples have none.
    pub window: Option<TimeSpan>,
    pub steps: Vec<SeqStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "metric", content = "field")]
pub enum Metric {
    Count,
    DistinctCount(String),
    Sum(String),
    Avg(String),
    Percentile(String, u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AggCondition {
    pub metric: Metric,
    pub op: CmpOp,
    pub value: i64,
}

/// How an aggregation's time window moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Any window of the given length (Sigma's intent).
    Sliding,
    /// Fixed buckets aligned to the clock.
    Tumbling,
    /// The rule's own look-back on each run (Elastic threshold).
    RuleLookback,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Aggregation {
    pub sources: Vec<EventSource>,
    pub group_by: Vec<String>,
    pub window: Option<TimeSpan>,
    pub window_kind: WindowKind,
    /// All must hold for a group to fire.
    pub conditions: Vec<AggCondition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewTerms {
    pub filter: EventFilter,
    pub fields: Vec<String>,
    /// Date math such as `now-7d`.
    pub history_window_start: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnsupportedDetection {
    /// The source's name for this kind (`esql`, `machine_learning`, `threat_match`…).
    pub kind: String,
    pub reason: String,
    /// The original query text, if any, kept for export.
    pub original: Option<String>,
    pub language: Option<String>,
}
