//! Which Elasticsearch fields are not plain keywords for kuery: analysed text fields (a value
//! becomes `match_phrase` / `match` over tokens) and `.caseless` multi-fields (a keyword with a
//! lower-case normalizer). Kibana's detection engine compiles every kuery value to `match` or
//! `match_phrase` (research/elastic.md §2.2), so on these fields the field's analysis decides.
//!
//! Data, with the source of each entry. A name matches an entry exactly, or by the `*.suffix`
//! pattern; `NOT_TEXT` lists ECS fields that end in `.text` but are not the text multi-field.

use ruleport_model::Analyzer;

/// How Elasticsearch indexes a field that is not a plain keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Analysis {
    /// `text` / `match_only_text` with this analyzer.
    Text(Analyzer),
    /// `keyword` with the `lowercase` normalizer (the `.caseless` multi-fields).
    Lowercase,
}

/// (field or `*.suffix` pattern, analysis, source).
const FIELDS: &[(&str, Analysis, &str)] = &[
    (
        "powershell.file.script_block_text",
        Analysis::Text(Analyzer::PowershellScript),
        "elastic/integrations windows powershell_operational: type text, analyzer powershell_script_analyzer (pattern `[\\W&&[^-]]+`)",
    ),
    (
        "message",
        Analysis::Text(Analyzer::Standard),
        "ECS: match_only_text",
    ),
    (
        "error.message",
        Analysis::Text(Analyzer::Standard),
        "ECS: match_only_text",
    ),
    (
        "*.text",
        Analysis::Text(Analyzer::Standard),
        "ECS multi-fields `<field>.text`: match_only_text",
    ),
    (
        "*.caseless",
        Analysis::Lowercase,
        "Elastic Defend (endpoint-package PR #79) and the Windows/System integrations (integrations PR #10533): keyword, normalizer lowercase",
    ),
];

/// ECS fields named `*.text` that are `wildcard` fields, not text multi-fields.
const NOT_TEXT: &[&str] = &["process.io.text"];

/// Fields that have a `.caseless` sibling wherever Elastic's process events are indexed
/// (Elastic Defend, and the Windows Sysmon/forwarded and System security integrations since
/// integrations PR #10533).
pub const CASELESS_SIBLINGS: &[&str] = &["process.name", "process.executable"];

/// Index-pattern prefixes of the data streams that have [`CASELESS_SIBLINGS`]' `.caseless`
/// fields: Elastic Defend's events, Windows Sysmon (read in the integration's `ecs.yml`),
/// Windows forwarded and System security (integrations PR #10533).
pub const CASELESS_INDEXES: &[&str] = &[
    "logs-endpoint.events.",
    "logs-windows.sysmon_operational",
    "logs-windows.forwarded",
    "logs-system.security",
];

/// How `field` is analysed, or `None` for a plain keyword (or non-string) field.
pub fn analysis(field: &str) -> Option<Analysis> {
    if NOT_TEXT.contains(&field) {
        return None;
    }
    FIELDS.iter().find_map(|(name, a, _)| {
        let hit = match name.strip_prefix('*') {
            Some(suffix) => field.len() > suffix.len() && field.ends_with(suffix),
            None => field == *name,
        };
        hit.then_some(*a)
    })
}

/// The analyzer of a text field.
pub fn text_analyzer(field: &str) -> Option<Analyzer> {
    match analysis(field)? {
        Analysis::Text(a) => Some(a),
        Analysis::Lowercase => None,
    }
}

/// `X` for a `X.caseless` field.
pub fn caseless_base(field: &str) -> Option<&str> {
    match analysis(field)? {
        Analysis::Lowercase => field.strip_suffix(".caseless"),
        Analysis::Text(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(
            text_analyzer("powershell.file.script_block_text"),
            Some(Analyzer::PowershellScript)
        );
        assert_eq!(text_analyzer("message"), Some(Analyzer::Standard));
        assert_eq!(
            text_analyzer("process.command_line.text"),
            Some(Analyzer::Standard)
        );
        assert_eq!(text_analyzer("process.io.text"), None);
        assert_eq!(text_analyzer("process.name"), None);
        assert_eq!(text_analyzer(".text"), None);
        assert_eq!(caseless_base("process.name.caseless"), Some("process.name"));
        assert_eq!(caseless_base("process.name"), None);
        assert_eq!(analysis("gcp.audit.status.message"), None);
    }
}
