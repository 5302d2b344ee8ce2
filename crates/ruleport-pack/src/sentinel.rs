//! The Sentinel pack: analytic-rule YAML as the Azure-Sentinel repository keeps it, and one ARM
//! template deploying every rule as a `Microsoft.SecurityInsights/alertRules` (kind Scheduled).
//!
//! The documented constraints (Azure-Sentinel `.script/tests/detectionTemplateSchemaValidation`)
//! are enforced per rule; a rule that breaks one is left out and listed as excluded.

// `u64::is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
#![allow(clippy::manual_is_multiple_of)]

use crate::manifest::{EntryStatus, Reason, RuleEntry};
use crate::{
    attack, check_yaml, invalid, names, schedule, BuildContext, Item, PackError, PackFiles,
};
use ruleport_model::{Approximation, Severity, TargetId, TimeSpan};
use serde_json::{json, Value};

/// ARM API version of `Microsoft.SecurityInsights/alertRules` (GA, with `subTechniques`).
pub(crate) const API_VERSION: &str = "2024-09-01";

const MINUTE: u64 = 60_000;
const MIN_SPAN: u64 = 5 * MINUTE;
const MAX_SPAN: u64 = 14 * 24 * 60 * MINUTE;
const MAX_NAME: usize = 256;
const MAX_DESCRIPTION: usize = 5000;
const MAX_QUERY: usize = 10_000;
const MAX_ENTITIES: usize = 5;
const MAX_ENTITY_FIELDS: usize = 3;

/// Sentinel's data connector and data type for a table, for `requiredDataConnectors`.
fn connector(table: &str) -> Option<(&'static str, &'static str)> {
    Some(match table {
        "AuditLogs" => ("AzureActiveDirectory", "AuditLogs"),
        "SigninLogs" => ("AzureActiveDirectory", "SigninLogs"),
        "AADNonInteractiveUserSignInLogs" => {
            ("AzureActiveDirectory", "AADNonInteractiveUserSignInLogs")
        }
        "AADServicePrincipalSignInLogs" => {
            ("AzureActiveDirectory", "AADServicePrincipalSignInLogs")
        }
        "AzureActivity" => ("AzureActivity", "AzureActivity"),
        "SecurityEvent" => ("SecurityEvents", "SecurityEvent"),
        "WindowsEvent" => ("WindowsForwardedEvents", "WindowsEvent"),
        "Event" => ("WindowsSecurityEvents", "Event"),
        "Syslog" => ("Syslog", "Syslog"),
        "CommonSecurityLog" => ("CefAma", "CommonSecurityLog"),
        "OfficeActivity" => ("Office365", "OfficeActivity"),
        "AWSCloudTrail" => ("AWS", "AWSCloudTrail"),
        "AzureDiagnostics" => ("AzureKeyVault", "AzureDiagnostics"),
        "DeviceProcessEvents"
        | "DeviceNetworkEvents"
        | "DeviceFileEvents"
        | "DeviceRegistryEvents"
        | "DeviceEvents"
        | "DeviceImageLoadEvents"
        | "DeviceLogonEvents" => ("MicrosoftThreatProtection", table_static(table)?),
        _ => return None,
    })
}

fn table_static(t: &str) -> Option<&'static str> {
    [
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceEvents",
        "DeviceImageLoadEvents",
        "DeviceLogonEvents",
    ]
    .into_iter()
    .find(|x| *x == t)
}

/// The tables a Kusto query starts from: `T | …` or `union T1, T2 | …`.
pub(crate) fn query_tables(query: &str) -> Vec<String> {
    let mut s = query.trim_start();
    // Skip leading comment lines.
    while s.starts_with("//") {
        s = s.find('\n').map(|i| s[i + 1..].trim_start()).unwrap_or("");
    }
    let head = s.split('|').next().unwrap_or("");
    let head = head.trim();
    let list = head
        .strip_prefix("union")
        .filter(|r| r.starts_with(char::is_whitespace))
        .unwrap_or(head);
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

fn sentinel_severity(s: Option<Severity>) -> (&'static str, Option<Approximation>) {
    match s {
        Some(Severity::Informational) => ("Informational", None),
        Some(Severity::Low) => ("Low", None),
        Some(Severity::Medium) | None => ("Medium", None),
        Some(Severity::High) => ("High", None),
        Some(Severity::Critical) => (
            "High",
            Some(Approximation::new(
                "severity-mapped",
                "Sentinel has no critical severity; written as High",
            )),
        ),
    }
}

/// Entity mappings from the rule's `extra` (`entityMappings` in Sentinel's form), checked.
fn entity_mappings(item: &Item<'_>, violations: &mut Vec<Reason>) -> Value {
    let extra = &item.rule().meta.extra;
    let Some(v) = extra
        .get("entityMappings")
        .or_else(|| extra.get("entity_mappings"))
    else {
        return Value::Null;
    };
    let mut bad = |msg: String| {
        violations.push(Reason {
            code: "sentinel-entity-mappings".into(),
            message: msg,
        });
    };
    let Some(list) = v.as_array() else {
        bad("entityMappings must be a list".into());
        return Value::Null;
    };
    if list.len() > MAX_ENTITIES {
        bad(format!(
            "{} entity mappings; Sentinel allows at most {MAX_ENTITIES}",
            list.len()
        ));
    }
    for (i, e) in list.iter().enumerate() {
        let ty = e.get("entityType").and_then(Value::as_str);
        let fields = e.get("fieldMappings").and_then(Value::as_array);
        match (ty, fields) {
            (Some(_), Some(f)) if (1..=MAX_ENTITY_FIELDS).contains(&f.len()) => {
                let ok = f.iter().all(|m| {
                    m.get("identifier").and_then(Value::as_str).is_some()
                        && m.get("columnName").and_then(Value::as_str).is_some()
                });
                if !ok {
                    bad(format!(
                        "entity mapping {} needs identifier and columnName strings",
                        i + 1
                    ));
                }
            }
            (Some(_), Some(f)) => bad(format!(
                "entity mapping {} has {} field mappings; Sentinel allows 1 to {MAX_ENTITY_FIELDS}",
                i + 1,
                f.len()
            )),
            _ => bad(format!(
                "entity mapping {} needs entityType and fieldMappings",
                i + 1
            )),
        }
    }
    v.clone()
}

fn violation(code: &str, message: String) -> Reason {
    Reason {
        code: code.into(),
        message,
    }
}

fn check_span(what: &str, span: TimeSpan, out: &mut Vec<Reason>) {
    if span.millis < MIN_SPAN || span.millis > MAX_SPAN {
        out.push(violation(
            "sentinel-schedule-bounds",
            format!("{what} {span} is outside Sentinel's 5m..14d"),
        ));
    } else if span.millis % MINUTE != 0 {
        out.push(violation(
            "sentinel-schedule-bounds",
            format!("{what} {span} is not a whole number of minutes"),
        ));
    }
}

pub(crate) fn build(ctx: &BuildContext<'_>) -> Result<(PackFiles, Vec<RuleEntry>), PackError> {
    let mut files = PackFiles::new();
    let mut entries = Vec::new();
    let mut arm_rules = Vec::new();
    for item in ctx.items {
        let port = item.port(TargetId::Sentinel);
        let p = match &port {
            Ok(p) => p,
            Err(u) => {
                entries.push(RuleEntry::from_port(
                    item.source_ref(),
                    "sentinel",
                    Err(u),
                    &[],
                ));
                continue;
            }
        };
        let m = &item.rule().meta;
        let mut approx = item.schedule.approximations.clone();
        let (severity, sev_approx) = sentinel_severity(m.severity);
        approx.extend(sev_approx);

        let mut violations = Vec::new();
        let name = item.title();
        let description = item.description();
        if name.chars().count() > MAX_NAME {
            violations.push(violation(
                "sentinel-name-length",
                format!(
                    "name has {} characters; Sentinel allows {MAX_NAME}",
                    name.chars().count()
                ),
            ));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            violations.push(violation(
                "sentinel-description-length",
                format!(
                    "description has {} characters; Sentinel allows {MAX_DESCRIPTION}",
                    description.chars().count()
                ),
            ));
        }
        let qlen = p.text.chars().count();
        if qlen == 0 || qlen > MAX_QUERY {
            violations.push(violation(
                "sentinel-query-length",
                format!("query has {qlen} characters; Sentinel allows 1 to {MAX_QUERY}"),
            ));
        }
        let (freq, period) = (item.schedule.interval, item.schedule.lookback);
        check_span("queryFrequency", freq, &mut violations);
        check_span("queryPeriod", period, &mut violations);
        if period < freq {
            violations.push(violation(
                "sentinel-period-below-frequency",
                format!("queryPeriod {period} is shorter than queryFrequency {freq}"),
            ));
        }
        let missing = attack::techniques_without_tactic(&item.threat);
        if !missing.is_empty() {
            violations.push(violation(
                "sentinel-technique-without-tactic",
                format!(
                    "ATT&CK lists {} under none of the rule's tactics",
                    missing.join(", ")
                ),
            ));
        }
        let entities = entity_mappings(item, &mut violations);
        let mut e = RuleEntry::from_port(item.source_ref(), "sentinel", Ok(p), &approx);
        let id = names::target_uuid(&item.source_key(), "sentinel").to_string();
        e.target_id = Some(id.clone());
        if !violations.is_empty() {
            e.status = EntryStatus::Excluded;
            e.reasons = violations;
            entries.push(e);
            continue;
        }

        let tables = query_tables(&p.text);
        let mut connectors: Vec<(String, Vec<String>)> = Vec::new();
        for t in &tables {
            if let Some((c, d)) = connector(t) {
                match connectors.iter_mut().find(|(id, _)| id == c) {
                    Some((_, types)) if !types.iter().any(|x| x == d) => types.push(d.to_string()),
                    Some(_) => {}
                    None => connectors.push((c.to_string(), vec![d.to_string()])),
                }
            }
        }
        let connectors: Vec<Value> = connectors
            .into_iter()
            .map(|(c, d)| json!({"connectorId": c, "dataTypes": d}))
            .collect();
        let (techniques, subtechniques) = attack::techniques_and_subtechniques(&item.threat);
        let version = format!("{}.0.0", m.version.unwrap_or(1));
        let rule = json!({
            "id": id,
            "name": name,
            "description": description,
            "severity": severity,
            "requiredDataConnectors": connectors,
            "queryFrequency": schedule::sentinel_duration(freq),
            "queryPeriod": schedule::sentinel_duration(period),
            "queryFrequencyIso": schedule::iso8601(freq),
            "queryPeriodIso": schedule::iso8601(period),
            "triggerOperator": "gt",
            "triggerOperatorArm": "GreaterThan",
            "triggerThreshold": 0,
            "tactics": attack::sentinel_tactics(&item.threat),
            "relevantTechniques": attack::all_technique_ids(&item.threat),
            "techniques": techniques,
            "subTechniques": subtechniques,
            "query": p.text,
            "entityMappings": entities,
            "version": version,
            "kind": "Scheduled",
        });
        let rel = format!("{}.yaml", item.stem);
        let text = ctx.templates.render("sentinel/rule.yaml.hbs", &rule)?;
        let docs = check_yaml(&rel, &text)?;
        check_rule_yaml(&rel, &docs, &rule)?;
        e.files.push(rel.clone());
        e.files.push("azuredeploy.json".into());
        files.add(rel, text);
        entries.push(e);
        arm_rules.push(rule);
    }
    let data = json!({
        "api_version": API_VERSION,
        "enabled": ctx.opts.enabled,
        "rules": arm_rules,
    });
    let text = ctx
        .templates
        .render("sentinel/azuredeploy.json.hbs", &data)?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| invalid("azuredeploy.json", "JSON", e))?;
    let mut pretty =
        serde_json::to_string_pretty(&v).map_err(|e| invalid("azuredeploy.json", "JSON", e))?;
    pretty.push('\n');
    files.add("azuredeploy.json".into(), pretty);
    Ok((files, entries))
}

/// The YAML reads back with the rule's id, name and query unchanged.
fn check_rule_yaml(rel: &str, docs: &[serde_yaml::Value], rule: &Value) -> Result<(), PackError> {
    let [doc] = docs else {
        return Err(invalid(
            rel,
            "YAML",
            format!("{} documents; expected one", docs.len()),
        ));
    };
    for key in ["id", "name", "query"] {
        let got = doc.get(key).and_then(serde_yaml::Value::as_str);
        if got != rule[key].as_str() {
            return Err(invalid(
                rel,
                "YAML",
                format!("`{key}` does not read back as written"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tables_of_queries() {
        assert_eq!(query_tables("AuditLogs\n| where x == 1"), vec!["AuditLogs"]);
        assert_eq!(
            query_tables("union SigninLogs, AADNonInteractiveUserSignInLogs | where 1"),
            vec!["SigninLogs", "AADNonInteractiveUserSignInLogs"]
        );
        assert_eq!(
            query_tables("// c\nSecurityEvent | take 1"),
            vec!["SecurityEvent"]
        );
        assert!(query_tables("let x = 1; T | take 1").is_empty());
    }
}
