//! The detection-rules TOML schema: known sections and fields (detection-rules `rule.py` and
//! Kibana's rule API), so that typos are caught with a did-you-mean hint.

/// Top-level tables.
pub(crate) const TOP_LEVEL: &[&str] = &["metadata", "rule", "transform"];

/// `[metadata]` fields (detection-rules `RuleMeta`).
pub(crate) const METADATA_FIELDS: &[&str] = &[
    "bypass_bbr_timing",
    "comments",
    "creation_date",
    "deprecated_reason",
    "deprecation_date",
    "extended",
    "integration",
    "maturity",
    "min_stack_comments",
    "min_stack_version",
    "os_type_list",
    "promotion",
    "query_schema_validation",
    "related_endpoint_rules",
    "updated_date",
];

/// `[rule]` fields of every rule type (detection-rules `BaseRuleData` and subclasses, plus the
/// Kibana API fields that exported rules may carry).
pub(crate) const RULE_FIELDS: &[&str] = &[
    "actions",
    "alert_suppression",
    "anomaly_threshold",
    "author",
    "building_block_type",
    "concurrent_searches",
    "data_view_id",
    "description",
    "enabled",
    "event_category_override",
    "exceptions_list",
    "false_positives",
    "filters",
    "from",
    "index",
    "interval",
    "investigation_fields",
    "items_per_search",
    "language",
    "license",
    "machine_learning_job_id",
    "max_signals",
    "meta",
    "name",
    "namespace",
    "new_terms",
    "note",
    "output_index",
    "query",
    "references",
    "related_integrations",
    "required_fields",
    "response_actions",
    "revision",
    "risk_score",
    "risk_score_mapping",
    "rule_id",
    "rule_name_override",
    "saved_id",
    "setup",
    "severity",
    "severity_mapping",
    "tags",
    "threat",
    "threat_filters",
    "threat_index",
    "threat_indicator_path",
    "threat_language",
    "threat_mapping",
    "threat_query",
    "threshold",
    "throttle",
    "tiebreaker_field",
    "timeline_id",
    "timeline_title",
    "timestamp_field",
    "timestamp_override",
    "timestamp_override_fallback_disabled",
    "to",
    "type",
    "version",
];

/// `[rule]` fields that become `RuleMeta`, `LogSource` or the detection (everything else goes to
/// `meta.extra` unchanged).
pub(crate) const MODELLED_RULE_FIELDS: &[&str] = &[
    "author",
    "building_block_type",
    "data_view_id",
    "description",
    "false_positives",
    "from",
    "index",
    "interval",
    "language",
    "license",
    "max_signals",
    "name",
    "note",
    "query",
    "references",
    "risk_score",
    "rule_id",
    "setup",
    "severity",
    "tags",
    "threat",
    "timestamp_override",
    "type",
    "version",
];

/// `[metadata]` fields that become `RuleMeta`.
pub(crate) const MODELLED_METADATA_FIELDS: &[&str] = &["creation_date", "maturity", "updated_date"];

/// Rule types detection-rules knows.
pub(crate) const RULE_TYPES: &[&str] = &[
    "eql",
    "esql",
    "machine_learning",
    "new_terms",
    "query",
    "saved_query",
    "threat_match",
    "threshold",
];

pub(crate) const THREAT_FIELDS: &[&str] = &["framework", "tactic", "technique"];
pub(crate) const ATTACK_REF_FIELDS: &[&str] = &["id", "name", "reference"];
pub(crate) const TECHNIQUE_FIELDS: &[&str] = &["id", "name", "reference", "subtechnique"];
pub(crate) const THRESHOLD_FIELDS: &[&str] = &["cardinality", "field", "value"];
pub(crate) const CARDINALITY_FIELDS: &[&str] = &["field", "value"];
pub(crate) const NEW_TERMS_FIELDS: &[&str] = &["field", "history_window_start", "value"];

/// Keys of `meta.extra` the importer writes for non-`[rule]` content.
pub(crate) const EXTRA_METADATA: &str = "metadata";
pub(crate) const EXTRA_TRANSFORM: &str = "transform";
