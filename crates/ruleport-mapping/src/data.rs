//! The mapping data format (YAML) and its loading.

use ruleport_model::{Diagnostic, FieldKind, Pos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One mapping file: log sources and fields shared by all of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    #[serde(default)]
    pub logsources: Vec<LogSourceMapping>,
    #[serde(default)]
    pub common_fields: Vec<FieldRow>,
}

/// Sigma's log-source keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaKeys {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// A value or a list of values in a match condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatchValue {
    One(serde_yaml::Value),
    Many(Vec<serde_yaml::Value>),
}

impl MatchValue {
    pub fn values(&self) -> Vec<&serde_yaml::Value> {
        match self {
            MatchValue::One(v) => vec![v],
            MatchValue::Many(v) => v.iter().collect(),
        }
    }
}

/// Field → value(s): every field must hold one of its values.
pub type MatchGroup = BTreeMap<String, MatchValue>;

/// One group, or a list of groups of which any may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatchSpec {
    Group(MatchGroup),
    AnyOf(Vec<MatchGroup>),
}

impl MatchSpec {
    pub fn groups(&self) -> Vec<&MatchGroup> {
        match self {
            MatchSpec::Group(g) => vec![g],
            MatchSpec::AnyOf(gs) => gs.iter().collect(),
        }
    }
}

/// How one schema or product sees a log source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSide {
    /// Elastic index patterns.
    #[serde(default)]
    pub index: Vec<String>,
    /// Sentinel table.
    pub table: Option<String>,
    /// Conditions that identify the source's events in this schema.
    #[serde(rename = "match")]
    pub match_spec: Option<MatchSpec>,
}

/// A field row: the same datum's name in each schema (`sigma`, `ecs`, `splunk`, `sentinel`,
/// `sentinel_event`, `sentinel_xdr`, `sentinel_asim`), plus optional types per schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldRow {
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    #[serde(flatten)]
    pub names: BTreeMap<String, String>,
}

impl FieldRow {
    pub fn name(&self, key: &str) -> Option<&str> {
        self.names.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSourceMapping {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sigma: Option<SigmaKeys>,
    /// How Sigma-schema events of this source look (Channel/EventID), for classifying fixtures.
    #[serde(default)]
    pub sigma_events: Option<SchemaSide>,
    #[serde(default)]
    pub ecs: Option<SchemaSide>,
    #[serde(default)]
    pub splunk: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_event: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_xdr: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_asim: Option<SchemaSide>,
    #[serde(default)]
    pub fields: Vec<FieldRow>,
}

impl LogSourceMapping {
    /// The side for a schema key, falling back from a Sentinel set to generic `sentinel`.
    pub fn side(&self, key: &str) -> Option<&SchemaSide> {
        let own = match key {
            "ecs" => self.ecs.as_ref(),
            "splunk" => self.splunk.as_ref(),
            "sentinel" => self.sentinel.as_ref(),
            "sentinel_event" => self.sentinel_event.as_ref(),
            "sentinel_xdr" => self.sentinel_xdr.as_ref(),
            "sentinel_asim" => self.sentinel_asim.as_ref(),
            "sigma" => self.sigma_events.as_ref(),
            _ => None,
        };
        own.or_else(|| {
            key.starts_with("sentinel_")
                .then_some(self.sentinel.as_ref())
                .flatten()
        })
    }
}

/// Built-in mapping files, compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("common.yml", include_str!("../data/common.yml")),
    ("cloud_azure.yml", include_str!("../data/cloud_azure.yml")),
];

pub fn parse_mapping(text: &str, path: &Path) -> Result<MappingFile, Diagnostic> {
    serde_yaml::from_str::<MappingFile>(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(l.line() as u32, l.column() as u32));
        Diagnostic::error("E-MAPPING-YAML", format!("invalid mapping file: {e}"))
            .in_file(path)
            .at_opt(pos)
    })
}

/// A field type name from mapping data or a schema file, as a `FieldKind`.
pub fn kind_from_name(t: &str) -> FieldKind {
    match t.to_ascii_lowercase().as_str() {
        "string" | "keyword" | "constant_keyword" | "wildcard" => FieldKind::Keyword,
        "text" | "match_only_text" => FieldKind::Text,
        "int" | "long" | "integer" | "short" | "byte" | "unsigned_long" => FieldKind::Integer,
        "real" | "double" | "float" | "scaled_float" | "half_float" | "decimal" => FieldKind::Float,
        "bool" | "boolean" => FieldKind::Bool,
        "datetime" | "date" | "date_nanos" => FieldKind::Date,
        "ip" => FieldKind::Ip,
        "dynamic" | "object" | "flattened" | "nested" => FieldKind::Dynamic,
        "guid" | "uuid" => FieldKind::Guid,
        _ => FieldKind::Unknown,
    }
}
