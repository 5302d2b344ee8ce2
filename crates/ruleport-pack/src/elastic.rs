//! The Elastic pack: Kibana detection-engine import NDJSON and detection-rules TOML copies.

use crate::manifest::{EntryStatus, Reason, RuleEntry};
use crate::{attack, invalid, names, BuildContext, Item, PackError, PackFiles};
use ruleport_model::{
    Aggregation, Approximation, CmpOp, Detection, Fidelity, Metric, Port, Severity, SourceFormat,
    TargetId, Unsupported, WindowKind,
};
use serde_json::{json, Map, Value};

/// How a rule is expressed as a Kibana rule.
struct KibanaRule<'a> {
    rule_type: &'static str,
    language: &'static str,
    /// Manifest target name.
    target: &'static str,
    query: String,
    /// The port behind the query (none for ES|QL kept from the source).
    port: Option<&'a Port>,
    fields: Map<String, Value>,
    approximations: Vec<Approximation>,
}

/// Kibana's threshold for an aggregation over one source: `count >= value` per group, and
/// optionally `distinct(field) >= value`.
fn threshold(a: &Aggregation) -> Result<(Value, Vec<Approximation>), String> {
    if a.sources.len() != 1 {
        return Err(format!(
            "{} event sources; a threshold rule counts one",
            a.sources.len()
        ));
    }
    if a.group_by.len() > 5 {
        return Err(format!(
            "{} group-by fields; Kibana allows at most 5",
            a.group_by.len()
        ));
    }
    let mut value: Option<i64> = None;
    let mut cardinality = Vec::new();
    for c in &a.conditions {
        let min = match c.op {
            CmpOp::Ge => c.value,
            CmpOp::Gt => c.value.saturating_add(1),
            _ => {
                return Err(format!(
                    "condition `{} {}` has no threshold form (only >= and >)",
                    metric_name(&c.metric),
                    c.op.symbol()
                ))
            }
        };
        match &c.metric {
            Metric::Count => value = Some(value.map_or(min, |v| v.max(min))),
            Metric::DistinctCount(f) if cardinality.is_empty() => {
                cardinality.push(json!({"field": f, "value": min.max(1)}))
            }
            m => return Err(format!("metric `{}` has no threshold form", metric_name(m))),
        }
    }
    // Every group holds at least one event, so `count >= 1` (or less) always holds.
    let mut t = json!({"field": a.group_by, "value": value.unwrap_or(1).max(1)});
    if !cardinality.is_empty() {
        t["cardinality"] = Value::Array(cardinality);
    }
    let mut approx = Vec::new();
    if a.window_kind != WindowKind::RuleLookback {
        if let Some(w) = a.window {
            approx.push(Approximation::new(
                "threshold-window",
                format!("Kibana counts over each run's look-back, not any {w} window"),
            ));
        }
    }
    Ok((t, approx))
}

fn metric_name(m: &Metric) -> String {
    match m {
        Metric::Count => "count".into(),
        Metric::DistinctCount(f) => format!("value_count({f})"),
        Metric::Sum(f) => format!("sum({f})"),
        Metric::Avg(f) => format!("avg({f})"),
        Metric::Percentile(f, p) => format!("percentile({f}, {p})"),
    }
}

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Kuery, code, reason)
}

/// Pick the Kibana rule type and query for an item.
fn kibana_rule<'a>(item: &'a Item<'a>) -> Result<KibanaRule<'a>, Vec<Unsupported>> {
    let rule = item.rule();
    let kuery = item.port(TargetId::Kuery);
    let eql = item.port(TargetId::Eql);
    let base = |rule_type, language, target, port: &'a Port| KibanaRule {
        rule_type,
        language,
        target,
        query: port.text.clone(),
        port: Some(port),
        fields: Map::new(),
        approximations: Vec::new(),
    };
    let both = |k: Result<&Port, Unsupported>, e: Result<&Port, Unsupported>| {
        [k.err(), e.err()].into_iter().flatten().collect::<Vec<_>>()
    };
    match &rule.detection {
        Detection::Query(_) => match (kuery, eql) {
            // An exact EQL port wins over an approximate kuery one.
            (Ok(k), Ok(e)) if !k.fidelity.is_exact() && e.fidelity.is_exact() => {
                Ok(base("eql", "eql", "eql", e))
            }
            (Ok(k), _) => Ok(base("query", "kuery", "kuery", k)),
            (_, Ok(e)) => Ok(base("eql", "eql", "eql", e)),
            (k, e) => Err(both(k, e)),
        },
        Detection::Sequence(_) | Detection::Sample(_) => match eql {
            Ok(e) => Ok(base("eql", "eql", "eql", e)),
            Err(u) => Err(vec![u]),
        },
        Detection::Aggregation(a) => {
            let k = kuery.map_err(|u| vec![u])?;
            let (t, approx) = threshold(a).map_err(|r| vec![unsupported("threshold-shape", r)])?;
            let mut kr = base("threshold", "kuery", "kuery", k);
            kr.fields.insert("threshold".into(), t);
            kr.approximations = approx;
            Ok(kr)
        }
        Detection::NewTerms(n) => {
            let k = kuery.map_err(|u| vec![u])?;
            if n.fields.is_empty() || n.fields.len() > 3 {
                return Err(vec![unsupported(
                    "new-terms-fields",
                    format!("{} new-terms fields; Kibana needs 1 to 3", n.fields.len()),
                )]);
            }
            let mut kr = base("new_terms", "kuery", "kuery", k);
            kr.fields.insert("new_terms_fields".into(), json!(n.fields));
            kr.fields
                .insert("history_window_start".into(), json!(n.history_window_start));
            Ok(kr)
        }
        Detection::Unsupported(u) => {
            let esql = u.kind == "esql" || u.language.as_deref() == Some("esql");
            match (
                &u.original,
                esql && rule.format == SourceFormat::ElasticToml,
            ) {
                (Some(q), true) => Ok(KibanaRule {
                    rule_type: "esql",
                    language: "esql",
                    target: "esql",
                    query: q.clone(),
                    port: None,
                    fields: Map::new(),
                    approximations: Vec::new(),
                }),
                _ => Err(vec![unsupported(
                    &format!("detection-{}", u.kind.replace('_', "-")),
                    u.reason.clone(),
                )]),
            }
        }
    }
}

fn kibana_severity(s: Option<Severity>) -> (&'static str, Option<Approximation>) {
    match s {
        Some(Severity::Informational) => (
            "low",
            Some(Approximation::new(
                "severity-mapped",
                "Kibana has no informational severity; written as low",
            )),
        ),
        Some(Severity::Low) => ("low", None),
        Some(Severity::Medium) | None => ("medium", None),
        Some(Severity::High) => ("high", None),
        Some(Severity::Critical) => ("critical", None),
    }
}

/// The template context of one Kibana rule.
fn context(item: &Item<'_>, kr: &KibanaRule<'_>, enabled: bool) -> (Value, Vec<Approximation>) {
    let rule = item.rule();
    let m = &rule.meta;
    let mut approx = item.schedule.approximations.clone();
    let (severity, sev_approx) = kibana_severity(m.severity);
    approx.extend(sev_approx);
    let risk = m
        .risk_score
        .map(|r| r.min(100))
        .unwrap_or_else(|| m.severity.unwrap_or(Severity::Medium).default_risk_score());
    let str_extra = |k: &str| m.extra.get(k).and_then(Value::as_str).map(str::to_string);
    let mut eql = Map::new();
    if kr.rule_type == "eql" {
        for k in [
            "event_category_override",
            "tiebreaker_field",
            "timestamp_field",
        ] {
            if let Some(v) = str_extra(k) {
                eql.insert(k.into(), json!(v));
            }
        }
    }
    let index: Value = if kr.rule_type == "esql" || rule.logsource.index.is_empty() {
        Value::Null
    } else {
        json!(rule.logsource.index)
    };
    let ctx = json!({
        "rule_id": names::target_uuid(&item.source_key(), "elastic").to_string(),
        "version": m.version.unwrap_or(1).max(1),
        "name": item.title(),
        "description": item.description(),
        "type": kr.rule_type,
        "language": kr.language,
        "query": kr.query,
        "index": index,
        "data_view_id": rule.logsource.data_view_id,
        "interval": item.schedule.interval.to_string(),
        "from": item.schedule.from,
        "to": str_extra("to"),
        "max_signals": m.max_signals.unwrap_or(100).max(1),
        "severity": severity,
        "risk_score": risk,
        "threat": attack::elastic_threat_json(&item.threat),
        "tags": m.tags,
        "references": m.references,
        "author": m.authors,
        "false_positives": m.false_positives,
        "license": m.license,
        "note": m.note,
        "setup": m.setup,
        "timestamp_override": m.timestamp_override,
        "building_block_type": if m.building_block { Some("default") } else { None },
        "enabled": enabled,
        "threshold": kr.fields.get("threshold"),
        "new_terms_fields": kr.fields.get("new_terms_fields"),
        "history_window_start": kr.fields.get("history_window_start"),
        "eql_options": Value::Object(eql),
    });
    (ctx, approx)
}

pub(crate) fn build(ctx: &BuildContext<'_>) -> Result<(PackFiles, Vec<RuleEntry>), PackError> {
    let mut files = PackFiles::new();
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    let want_query = (ctx.selected)(TargetId::Kuery) || (ctx.selected)(TargetId::Eql);
    for item in ctx.items {
        if want_query {
            match kibana_rule(item) {
                Ok(kr) => {
                    let (data, mut approx) = context(item, &kr, ctx.opts.enabled);
                    approx.extend(kr.approximations.iter().cloned());
                    let text = ctx.templates.render("elastic/rule.json.hbs", &data)?;
                    let file = format!("rules.ndjson (rule {})", item.stem);
                    let v: Value =
                        serde_json::from_str(&text).map_err(|e| invalid(&file, "JSON", e))?;
                    if !v.is_object() {
                        return Err(invalid(&file, "JSON", "a rule must be a JSON object"));
                    }
                    lines.push(v.to_string());
                    // ES|QL kept from an Elastic source is published as written: exact.
                    let kept = Port {
                        target: TargetId::Elastic,
                        text: kr.query.clone(),
                        fidelity: Fidelity::Exact,
                    };
                    let mut e = RuleEntry::from_port(
                        item.source_ref(),
                        kr.target,
                        Ok(kr.port.unwrap_or(&kept)),
                        &approx,
                    );
                    if kr.port.is_none() {
                        e.reasons.push(Reason {
                            code: "source-query-kept".into(),
                            message: "the source's ES|QL query is published as written".into(),
                        });
                    }
                    e.target_id = v.get("rule_id").and_then(Value::as_str).map(str::to_string);
                    e.files.push("rules.ndjson".into());
                    entries.push(e);
                }
                Err(us) => {
                    let target = match item.rule().detection {
                        Detection::Sequence(_) | Detection::Sample(_) => "eql",
                        _ => "kuery",
                    };
                    let fallback = unsupported("no-port", "no Kibana query port");
                    let first = us.first().unwrap_or(&fallback);
                    let mut e = RuleEntry::from_port(item.source_ref(), target, Err(first), &[]);
                    e.reasons = us.iter().map(Reason::from).collect();
                    entries.push(e);
                }
            }
        }
        if (ctx.selected)(TargetId::Elastic) {
            let port = item.port(TargetId::Elastic);
            let mut e =
                RuleEntry::from_port(item.source_ref(), "elastic", port.as_ref().map(|p| *p), &[]);
            if let Ok(p) = &port {
                let rel = format!("rules/{}.toml", item.stem);
                if let Err(err) = p.text.parse::<toml::Table>() {
                    e.status = EntryStatus::Excluded;
                    e.reasons = vec![Reason {
                        code: "invalid-port-document".into(),
                        message: format!("{rel}: not valid TOML: {err}"),
                    }];
                } else {
                    let text = ctx
                        .templates
                        .render("elastic/rule.toml.hbs", &json!({ "document": p.text }))?;
                    text.parse::<toml::Table>()
                        .map_err(|err| invalid(&rel, "TOML", err))?;
                    e.files.push(rel.clone());
                    files.add(rel, text);
                }
            }
            entries.push(e);
        }
    }
    if want_query {
        let mut nd = lines.join("\n");
        if !nd.is_empty() {
            nd.push('\n');
        }
        files.add("rules.ndjson".into(), nd);
    }
    Ok((files, entries))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ruleport_model::{AggCondition, EventFilter, EventSource, Expr};

    fn agg(conditions: Vec<AggCondition>, kind: WindowKind) -> Aggregation {
        Aggregation {
            sources: vec![EventSource::new(EventFilter::new(Expr::Const(true)))],
            group_by: vec!["host.id".into()],
            window: ruleport_model::TimeSpan::parse("10m"),
            window_kind: kind,
            conditions,
        }
    }

    #[test]
    fn threshold_forms() {
        let c = |metric, op, value| AggCondition { metric, op, value };
        let (t, a) = threshold(&agg(
            vec![c(Metric::Count, CmpOp::Gt, 10)],
            WindowKind::RuleLookback,
        ))
        .unwrap();
        assert_eq!(t, json!({"field": ["host.id"], "value": 11}));
        assert!(a.is_empty());
        let (t, a) = threshold(&agg(
            vec![
                c(Metric::Count, CmpOp::Ge, 2),
                c(Metric::DistinctCount("user.name".into()), CmpOp::Ge, 3),
            ],
            WindowKind::Sliding,
        ))
        .unwrap();
        assert_eq!(
            t,
            json!({"field": ["host.id"], "value": 2, "cardinality": [{"field": "user.name", "value": 3}]})
        );
        assert_eq!(a[0].code, "threshold-window");
        assert!(threshold(&agg(
            vec![c(Metric::Count, CmpOp::Lt, 5)],
            WindowKind::RuleLookback
        ))
        .is_err());
        assert!(threshold(&agg(
            vec![c(Metric::Sum("x".into()), CmpOp::Gt, 5)],
            WindowKind::RuleLookback
        ))
        .is_err());
    }
}
