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
    /// Named groups of field rows that log sources include with `field_sets: [name]`.
    #[serde(default)]
    pub field_sets: BTreeMap<String, Vec<FieldRow>>,
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
            // An untagged `One` also accepts a YAML list: its items are the values.
            MatchValue::One(serde_yaml::Value::Sequence(v)) | MatchValue::Many(v) => {
                v.iter().collect()
            }
            MatchValue::One(v) => vec![v],
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
    /// Conditions every event of the source meets in this schema that are not used to select
    /// it (`event.action: [exec, start]` of process starts): a rule's top-level conjunct stating
    /// only such values is implied by the target's selection and dropped when mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implied: Option<MatchGroup>,
    /// Conditions every event of the source meets by how it is collected (every Security
    /// channel event is a Windows event) but that the source's events need not state: a
    /// top-level conjunct stating only such values is dropped when mapping, and the port is an
    /// `assumed-by-source` approximation (an event without the field no longer fails it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<MatchGroup>,
    /// On a target side: source conditions its selection does not reproduce, with why
    /// (`host.os.type` on Defender tables that hold every OS). A rule conjunct on such a field
    /// that mapping drops as identifying the source makes the port an `unselected-condition`
    /// approximation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unselected: BTreeMap<String, String>,
}

/// A field row: the same datum's name in each schema (`sigma`, `ecs`, `splunk`, `sentinel`,
/// `sentinel_event`, `sentinel_xdr`, `sentinel_asim`), plus optional types per schema.
///
/// A name containing one `*` is a pattern: `{sigma: "*", ecs: "winlog.event_data.*"}` maps
/// every name not matched by an explicit row (the `*` part is carried over).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldRow {
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    /// Per schema key: Sigma's value → the value(s) this schema writes for it.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, OneOrMany>>,
    /// Per schema key: values are written differently there, so renaming is not enough.
    #[serde(default)]
    pub value_format: BTreeMap<String, ValueFormat>,
    /// Per schema key: this schema's field holds a path whose last segment is the datum
    /// (`process.name` is the last segment of Sysmon's `Image`). Only value tests are mapped
    /// through such a row, by rewriting them; other uses and event views ignore it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transform: BTreeMap<String, Transform>,
    /// Per schema key: this schema's field tells events apart less precisely than the
    /// source's (a reused process id for a unique entity id), so a join or group on it is an
    /// approximation, given with this reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_note: BTreeMap<String, ValueFormat>,
    #[serde(flatten)]
    pub names: BTreeMap<String, String>,
}

/// How a schema derives a field row's datum from its own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The last `\`-separated segment of a Windows path.
    WindowsBasename,
    /// The last `/`-separated segment of a Unix path.
    UnixBasename,
    /// The text after the last `.` of a file name or path (`exe` of `C:\\a\\b.exe`).
    Extension,
    /// The datum tells whether the target field is present: the row's `values` for the source
    /// schema list the datum's values under `present` and `absent` (CloudTrail's
    /// `event.outcome` is `failure` exactly when `errorCode` is set).
    Presence,
    /// The datum is one argument of the command line the target field holds (ECS
    /// `process.args` vs `ProcessCommandLine`): a value test becomes a substring test on the
    /// command line, which also matches the text inside a longer argument.
    Argument,
}

impl Transform {
    /// The character before the datum's segment.
    pub fn separator(self) -> char {
        match self {
            Transform::WindowsBasename => '\\',
            Transform::UnixBasename => '/',
            Transform::Extension => '.',
            Transform::Presence | Transform::Argument => '\0',
        }
    }

    /// Characters the datum never holds (its separator, and path separators for an extension).
    pub fn excluded(self) -> &'static [char] {
        match self {
            Transform::WindowsBasename => &['\\'],
            Transform::UnixBasename => &['/'],
            Transform::Extension => &['.', '\\', '/'],
            Transform::Presence | Transform::Argument => &[],
        }
    }
}

impl FieldRow {
    pub fn name(&self, key: &str) -> Option<&str> {
        self.names.get(key).map(String::as_str)
    }

    /// The key whose value maps and value-format notes apply under `key`: a Sentinel set key
    /// whose name this row takes from the generic `sentinel` side reads that side's maps too,
    /// so that a value is never renamed without being translated (`Initiated: 'true'` on a
    /// `sentinel`-only row must not become XDR `ActionType == "true"`).
    fn values_key<'k>(&self, key: &'k str) -> &'k str {
        if !key.starts_with("sentinel_") || self.name(key).is_some() {
            key
        } else if self.name("sentinel_sets").is_some() {
            "sentinel_sets"
        } else if self.name("sentinel").is_some() {
            "sentinel"
        } else {
            key
        }
    }

    /// The value map under a schema key (see [`FieldRow::values_key`]).
    pub fn values_for(&self, key: &str) -> Option<&BTreeMap<String, OneOrMany>> {
        self.values
            .get(key)
            .or_else(|| self.values.get(self.values_key(key)))
    }

    /// The value-format note under a schema key (see [`FieldRow::values_key`]).
    pub fn value_format_for(&self, key: &str) -> Option<&ValueFormat> {
        self.value_format
            .get(key)
            .or_else(|| self.value_format.get(self.values_key(key)))
    }

    /// The join-key note under a schema key (see [`FieldRow::values_key`]).
    pub fn key_note_for(&self, key: &str) -> Option<&ValueFormat> {
        self.key_note
            .get(key)
            .or_else(|| self.key_note.get(self.values_key(key)))
    }

    /// Whether any name is a `*` pattern.
    pub fn is_pattern(&self) -> bool {
        self.names.values().any(|n| n.contains('*'))
    }
}

/// One string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How a schema writes a field's values differently (registry hives, hash lists…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFormat {
    /// What differs, for the approximation's reason.
    pub reason: String,
    /// Only values containing one of these (case-insensitive) are affected; empty means all.
    #[serde(default)]
    pub markers: Vec<String>,
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
    /// One table for all three Sentinel sets (field rows name its columns under `sentinel_sets`).
    #[serde(default)]
    pub sentinel_sets: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_event: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_xdr: Option<SchemaSide>,
    #[serde(default)]
    pub sentinel_asim: Option<SchemaSide>,
    #[serde(default)]
    pub fields: Vec<FieldRow>,
    /// Names of shared `field_sets` whose rows apply after `fields`.
    #[serde(default)]
    pub field_sets: Vec<String>,
}

impl LogSourceMapping {
    /// Whether the log source has its own side for a schema key (no fallback).
    pub fn has_own_side(&self, key: &str) -> bool {
        match key {
            "sentinel_event" => self.sentinel_event.is_some() || self.sentinel_sets.is_some(),
            "sentinel_xdr" => self.sentinel_xdr.is_some() || self.sentinel_sets.is_some(),
            "sentinel_asim" => self.sentinel_asim.is_some() || self.sentinel_sets.is_some(),
            _ => true,
        }
    }

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
                .then(|| self.sentinel_sets.as_ref().or(self.sentinel.as_ref()))
                .flatten()
        })
    }
}

/// Built-in mapping files, compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("common.yml", include_str!("../data/common.yml")),
    ("cloud_azure.yml", include_str!("../data/cloud_azure.yml")),
    (
        "windows_sysmon.yml",
        include_str!("../data/windows_sysmon.yml"),
    ),
    (
        "windows_services.yml",
        include_str!("../data/windows_services.yml"),
    ),
    ("linux_macos.yml", include_str!("../data/linux_macos.yml")),
    ("network.yml", include_str!("../data/network.yml")),
    ("cloud_other.yml", include_str!("../data/cloud_other.yml")),
];

/// Schema keys a field row may name.
pub const SCHEMA_KEYS: [&str; 8] = [
    "sigma",
    "ecs",
    "splunk",
    "sentinel",
    "sentinel_sets",
    "sentinel_event",
    "sentinel_xdr",
    "sentinel_asim",
];

/// Parse a mapping file and check its field rows (known schema keys, one `*` per pattern name,
/// patterns not mixed with plain names, field sets that exist in the file or are built in).
pub fn parse_mapping(text: &str, path: &Path) -> Result<MappingFile, Diagnostic> {
    // Alias expansion and nesting are bounded before serde copies anything.
    ruleport_model::yaml_budget::check_yaml_budget(text, "E-MAPPING-YAML")
        .map_err(|d| d.in_file(path))?;
    let file = serde_yaml::from_str::<MappingFile>(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(l.line() as u32, l.column() as u32));
        Diagnostic::error("E-MAPPING-YAML", format!("invalid mapping file: {e}"))
            .in_file(path)
            .at_opt(pos)
    })?;
    let at = |needle: &str| text.find(needle).map(|o| Pos::from_offset(text, o));
    let rows = file
        .logsources
        .iter()
        .flat_map(|l| l.fields.iter())
        .chain(file.common_fields.iter())
        .chain(file.field_sets.values().flatten());
    for row in rows {
        if let Some(key) = row.transform.keys().find(|k| row.name(k).is_none()) {
            return Err(Diagnostic::error(
                "E-MAPPING-TRANSFORM",
                format!("a field row derives its `{key}` name with `transform` but names no `{key}` field"),
            )
            .in_file(path)
            .at_opt(at("transform:")));
        }
        for (key, name) in &row.names {
            if !SCHEMA_KEYS.contains(&key.as_str()) {
                let hint = ruleport_model::diag::did_you_mean(key, SCHEMA_KEYS)
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("schema keys are {}", SCHEMA_KEYS.join(", ")));
                return Err(Diagnostic::error(
                    "E-MAPPING-KEY",
                    format!("unknown schema key `{key}` in a field row"),
                )
                .in_file(path)
                .at_opt(at(&format!("{key}:")))
                .with_hint(hint));
            }
            if name.matches('*').count() > 1 || (row.is_pattern() && !name.contains('*')) {
                return Err(Diagnostic::error(
                    "E-MAPPING-PATTERN",
                    format!("field row name `{name}`: a pattern row needs exactly one `*` in every name"),
                )
                .in_file(path)
                .at_opt(at(name)));
            }
        }
    }
    Ok(file)
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
