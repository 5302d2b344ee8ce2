//! A rule: metadata, log source, detection logic and where it came from.

use crate::detection::Detection;
use crate::value::TimeSpan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The field-name schema a rule's detection is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// Sigma taxonomy names (`CommandLine`, `Image`…).
    Sigma,
    /// Elastic Common Schema and integration fields (`process.command_line`…).
    Ecs,
    /// Splunk field names (raw TA names).
    Splunk,
    /// Sentinel table columns.
    Sentinel,
}

impl Schema {
    pub fn name(self) -> &'static str {
        match self {
            Schema::Sigma => "sigma",
            Schema::Ecs => "ecs",
            Schema::Splunk => "splunk",
            Schema::Sentinel => "sentinel",
        }
    }
}

/// The file format a rule was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    Sigma,
    ElasticToml,
}

/// Where a rule came from: file, and the line/column of the rule and of its query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Provenance {
    pub path: Option<PathBuf>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Position of the query text inside the file (for mapping query-parser errors).
    pub query_line: Option<u32>,
    pub query_column: Option<u32>,
    /// Index of the document inside a multi-document file.
    pub document: Option<u32>,
}

/// Where the events come from. Sigma fills product/category/service; Elastic fills index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
    /// Extra Sigma logsource keys.
    pub custom: BTreeMap<String, String>,
    /// Elastic index patterns.
    pub index: Vec<String>,
    pub data_view_id: Option<String>,
}

impl LogSource {
    pub fn is_empty(&self) -> bool {
        *self == LogSource::default()
    }

    /// `product/category/service` for reports.
    pub fn label(&self) -> String {
        let parts: Vec<&str> = [&self.product, &self.category, &self.service]
            .iter()
            .map(|p| p.as_deref().unwrap_or("-"))
            .collect();
        if self.product.is_none() && self.category.is_none() && self.service.is_none() {
            if self.index.is_empty() {
                return "-".into();
            }
            return self.index.join(",");
        }
        parts.join("/")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Elastic's conventional risk score for a severity.
    pub fn default_risk_score(self) -> u8 {
        match self {
            Severity::Informational => 21,
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }
}

/// An ATT&CK (or ATLAS) reference: id, name, URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttackRef {
    pub id: String,
    pub name: Option<String>,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Technique {
    #[serde(flatten)]
    pub technique: AttackRef,
    pub subtechniques: Vec<AttackRef>,
}

/// One tactic with its techniques, as Elastic's `[[rule.threat]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThreatMapping {
    pub framework: String,
    pub tactic: AttackRef,
    pub techniques: Vec<Technique>,
}

/// A related rule (Sigma `related`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RelatedRule {
    pub id: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct RuleMeta {
    /// Sigma `id` / Elastic `rule_id`.
    pub id: String,
    /// Sigma `name` (a reference used by correlations).
    pub name: Option<String>,
    pub title: String,
    pub description: String,
    pub authors: Vec<String>,
    pub severity: Option<Severity>,
    pub risk_score: Option<u8>,
    /// Sigma status or Elastic maturity, as written.
    pub status: Option<String>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub false_positives: Vec<String>,
    pub license: Option<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
    pub version: Option<u32>,
    /// How often the rule runs (Elastic `interval`).
    pub interval: Option<TimeSpan>,
    /// Look-back as written (Elastic `from`, e.g. `now-9m`).
    pub from: Option<String>,
    pub max_signals: Option<u32>,
    /// EQL `| head N` / `| tail N` on the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_limit: Option<crate::detection::ResultLimit>,
    pub threat: Vec<ThreatMapping>,
    /// Investigation guide (Elastic `note`).
    pub note: Option<String>,
    pub setup: Option<String>,
    pub related: Vec<RelatedRule>,
    /// Fields shown to analysts (Sigma `fields`, Elastic `investigation_fields`).
    pub fields: Vec<String>,
    pub building_block: bool,
    pub timestamp_override: Option<String>,
    /// Format-specific keys that have no common meaning, kept for a faithful export.
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub meta: RuleMeta,
    pub logsource: LogSource,
    pub detection: Detection,
    /// The schema field names in `detection` belong to.
    pub schema: Schema,
    pub format: SourceFormat,
    /// The source language of the query (`kuery`, `eql`, `sigma`…).
    pub language: String,
    /// The query text as written, when the source had one.
    pub original_query: Option<String>,
    pub provenance: Provenance,
}

impl Rule {
    /// A location string `path:line:col` for messages.
    pub fn location(&self) -> String {
        let path = self
            .provenance
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<input>".into());
        match (self.provenance.line, self.provenance.column) {
            (Some(l), Some(c)) => format!("{path}:{l}:{c}"),
            (Some(l), None) => format!("{path}:{l}"),
            _ => path,
        }
    }

    /// The rule with provenance and original text cleared: what round-trip tests compare.
    pub fn logic_eq(&self, other: &Rule) -> bool {
        self.detection == other.detection && self.logsource == other.logsource
    }
}
