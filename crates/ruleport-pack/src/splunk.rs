//! The Splunk pack: a minimal installable app whose `savedsearches.conf` holds one Enterprise
//! Security correlation search per rule.

use crate::manifest::{EntryStatus, RuleEntry};
use crate::{attack, conf, escape, invalid, names, BuildContext, PackError, PackFiles};
use ruleport_model::{Severity, TargetId};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A Splunk app id: letters, digits, `_`, `-` and `.` (not leading), never empty.
fn app_id(s: &str) -> String {
    let id: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = id.trim_start_matches(['.', '-']).to_string();
    if id.is_empty() {
        "ruleport_detections".into()
    } else {
        id
    }
}

/// `risk_objects` from the rule's `extra` (contentctl form `[{field, type, score}]`) as ES's
/// `action.risk.param._risk` list.
fn risk_objects(
    extra: &std::collections::BTreeMap<String, Value>,
    default_score: u8,
) -> Option<Value> {
    let list = extra.get("risk_objects")?.as_array()?;
    let out: Vec<Value> = list
        .iter()
        .filter_map(|o| {
            let field = o.get("field")?.as_str()?;
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("system");
            let score = o
                .get("score")
                .and_then(Value::as_u64)
                .unwrap_or(u64::from(default_score));
            Some(json!({"risk_object_field": field, "risk_object_type": kind, "risk_score": score}))
        })
        .collect();
    (!out.is_empty()).then_some(Value::Array(out))
}

pub(crate) fn build(ctx: &BuildContext<'_>) -> Result<(PackFiles, Vec<RuleEntry>), PackError> {
    let app = app_id(&ctx.opts.splunk_app);
    let mut files = PackFiles::new();
    let mut entries = Vec::new();
    let mut rules = Vec::new();
    let mut stanzas: BTreeSet<String> = BTreeSet::new();
    let saved_rel = format!("{app}/default/savedsearches.conf");
    for item in ctx.items {
        let port = item.port(TargetId::Splunk);
        let p = match &port {
            Ok(p) => p,
            Err(u) => {
                entries.push(RuleEntry::from_port(
                    item.source_ref(),
                    "splunk",
                    Err(u),
                    &[],
                ));
                continue;
            }
        };
        let m = &item.rule().meta;
        let mut approx = item.schedule.approximations.clone();
        let (cron, cron_approx) = item.schedule.cron();
        approx.extend(cron_approx);
        let title = item.title();
        let mut stanza = escape::conf_stanza(&format!("ruleport - {title} - Rule"));
        if !stanzas.insert(stanza.to_ascii_lowercase()) {
            stanza = escape::conf_stanza(&format!("ruleport - {title} ({}) - Rule", item.stem));
            stanzas.insert(stanza.to_ascii_lowercase());
        }
        let severity = m.severity.unwrap_or(Severity::Medium);
        let risk_score = m
            .risk_score
            .unwrap_or_else(|| severity.default_risk_score());
        let risk = risk_objects(&m.extra, risk_score);
        let id = names::target_uuid(&item.source_key(), "splunk").to_string();
        let metadata = json!({
            "detection_id": id,
            "detection_version": m.version.unwrap_or(1).to_string(),
            "source_id": m.id,
        });
        rules.push(json!({
            "stanza": stanza,
            "label": title,
            "title": title,
            "description": item.description(),
            "search": p.text,
            "cron": cron,
            "earliest": item.schedule.splunk_earliest(),
            "latest": "now",
            "annotations": attack::splunk_annotations(&item.threat).to_string(),
            "metadata": metadata.to_string(),
            "severity": severity.name(),
            "security_domain": m.extra.get("security_domain").and_then(Value::as_str).unwrap_or("threat"),
            "risk_enabled": u8::from(risk.is_some()),
            "risk_score": risk_score,
            "risk_message": title,
            "risk": risk.map(|r| r.to_string()),
            "disabled": u8::from(!ctx.opts.enabled),
        }));
        let mut e = RuleEntry::from_port(item.source_ref(), "splunk", Ok(p), &approx);
        e.target_id = Some(id);
        e.files.push(saved_rel.clone());
        entries.push(e);
    }
    let data = json!({
        "app": app,
        "label": "ruleport detections",
        "description": "Correlation searches converted by ruleport",
        "version": ctx.opts.pack_version,
        "rules": rules,
    });
    for (tpl, rel) in [
        ("splunk/app.conf.hbs", format!("{app}/default/app.conf")),
        ("splunk/savedsearches.conf.hbs", saved_rel.clone()),
        (
            "splunk/default.meta.hbs",
            format!("{app}/metadata/default.meta"),
        ),
    ] {
        let text = ctx.templates.render(tpl, &data)?;
        let parsed = conf::parse(&text).map_err(|d| invalid(&rel, ".conf", d))?;
        if rel == saved_rel {
            check_saved_searches(&rel, &parsed, &rules)?;
        }
        files.add(rel, text);
    }
    debug_assert!(entries.iter().all(|e| e.status != EntryStatus::Excluded));
    Ok((files, entries))
}

/// Every rule has its stanza and its search reads back exactly as written.
fn check_saved_searches(
    rel: &str,
    parsed: &[conf::Stanza],
    rules: &[Value],
) -> Result<(), PackError> {
    for r in rules {
        let name = r["stanza"].as_str().unwrap_or_default();
        let Some(st) = parsed.iter().find(|s| s.name == name) else {
            return Err(invalid(rel, ".conf", format!("stanza [{name}] is missing")));
        };
        if let (Some(want), Some(got)) = (r["search"].as_str(), st.get("search")) {
            let want = escape::conf_value(want);
            let want = conf::parse(&format!("[x]\nsearch = {want}\n"))
                .ok()
                .and_then(|s| s.first().and_then(|s| s.get("search").map(str::to_string)));
            if want.as_deref() != Some(got) {
                return Err(invalid(
                    rel,
                    ".conf",
                    format!("search of [{name}] does not read back as written"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn app_ids() {
        assert_eq!(app_id("my app/../x"), "my_app_.._x");
        assert_eq!(app_id("..."), "ruleport_detections");
    }
}
