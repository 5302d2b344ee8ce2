//! The docs pack: a Markdown page per rule in the layout of Elastic's prebuilt-rule reference,
//! and `index.md` with a coverage table (rules × targets).

use crate::manifest::{EntryStatus, RuleEntry};
use crate::{attack, BuildContext, Item, PackError, PackFiles};
use ruleport_model::{Detection, Fidelity, Severity, TargetId};
use serde_json::{json, Value};

fn label(t: TargetId) -> &'static str {
    match t {
        TargetId::Kuery => "Kibana KQL (kuery)",
        TargetId::Eql => "Elasticsearch EQL",
        TargetId::Splunk => "Splunk SPL",
        TargetId::Sentinel => "Microsoft Sentinel KQL",
        TargetId::Sigma => "Sigma",
        TargetId::Elastic => "Elastic detection-rules TOML",
    }
}

fn fence_lang(t: TargetId) -> &'static str {
    match t {
        TargetId::Kuery => "kql",
        TargetId::Eql => "eql",
        TargetId::Splunk => "spl",
        TargetId::Sentinel => "kusto",
        TargetId::Sigma => "yaml",
        TargetId::Elastic => "toml",
    }
}

fn rule_type(item: &Item<'_>) -> String {
    match &item.rule().detection {
        Detection::Query(_) => match item.rule().language.as_str() {
            "eql" => "eql".into(),
            _ => "query".into(),
        },
        Detection::Sequence(_) => "eql (sequence)".into(),
        Detection::Sample(_) => "eql (sample)".into(),
        Detection::Aggregation(_) => "threshold".into(),
        Detection::NewTerms(_) => "new_terms".into(),
        Detection::Unsupported(u) => u.kind.clone(),
    }
}

/// The status of one target for one rule.
fn status(
    item: &Item<'_>,
    t: TargetId,
) -> (EntryStatus, Vec<Value>, Option<String>, Option<String>) {
    match item.port(t) {
        Ok(p) => match &p.fidelity {
            Fidelity::Exact => (EntryStatus::Exact, vec![], Some(p.text.clone()), None),
            Fidelity::Approximate(r) => (
                EntryStatus::Approximate,
                r.iter()
                    .map(|a| json!({"code": a.code, "message": a.reason}))
                    .collect(),
                Some(p.text.clone()),
                None,
            ),
        },
        Err(u) => (
            EntryStatus::Unsupported,
            vec![],
            None,
            Some(format!("[{}] {}", u.code, u.reason)),
        ),
    }
}

fn page_context(item: &Item<'_>, targets: &[TargetId]) -> Value {
    let m = &item.rule().meta;
    let queries: Vec<Value> = targets
        .iter()
        .map(|&t| {
            let (st, reasons, text, unsupported) = status(item, t);
            json!({
                "target": t.name(),
                "label": label(t),
                "lang": fence_lang(t),
                "status": st.name(),
                "reasons": reasons,
                "text": text,
                "unsupported": unsupported,
            })
        })
        .collect();
    let none_if_empty = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    json!({
        "title": item.title(),
        "description": item.description(),
        "rule_type": rule_type(item),
        "indices": none_if_empty(&item.rule().logsource.index),
        "logsource": item.rule().logsource.label(),
        "severity": m.severity.unwrap_or(Severity::Medium).name(),
        "risk_score": m.risk_score.unwrap_or_else(|| m.severity.unwrap_or(Severity::Medium).default_risk_score()),
        "interval": item.schedule.interval.to_string(),
        "from": item.schedule.from,
        "max_signals": m.max_signals.unwrap_or(100),
        "references": none_if_empty(&m.references),
        "tags": none_if_empty(&m.tags),
        "version": m.version.unwrap_or(1),
        "authors": none_if_empty(&m.authors),
        "license": m.license,
        "note": m.note,
        "setup": m.setup,
        "source_id": m.id,
        "queries": queries,
        "threat": attack::elastic_threat_json(&item.threat),
    })
}

pub(crate) fn build(ctx: &BuildContext<'_>) -> Result<(PackFiles, Vec<RuleEntry>), PackError> {
    let targets: Vec<TargetId> = TargetId::ALL
        .into_iter()
        .filter(|&t| (ctx.selected)(t))
        .collect();
    let mut files = PackFiles::new();
    let mut entries = Vec::new();
    let mut rows = Vec::new();
    for item in ctx.items {
        let rel = format!("{}.md", item.stem);
        let text = ctx
            .templates
            .render("docs/rule.md.hbs", &page_context(item, &targets))?;
        files.add(rel.clone(), text);
        let mut cells = Vec::new();
        for &t in &targets {
            let port = item.port(t);
            let mut e =
                RuleEntry::from_port(item.source_ref(), t.name(), port.as_ref().map(|p| *p), &[]);
            cells.push(e.status.name());
            e.files.push(rel.clone());
            e.files.push("index.md".into());
            entries.push(e);
        }
        rows.push(json!({"title": item.title(), "page": rel, "cells": cells}));
    }
    let totals: Vec<Value> = targets
        .iter()
        .map(|t| {
            let of = |s: EntryStatus| {
                entries
                    .iter()
                    .filter(|e| e.target == t.name() && e.status == s)
                    .count()
            };
            json!({
                "target": t.name(),
                "exact": of(EntryStatus::Exact),
                "approximate": of(EntryStatus::Approximate),
                "unsupported": of(EntryStatus::Unsupported),
            })
        })
        .collect();
    let data = json!({
        "targets": targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "rules": rows,
        "totals": totals,
    });
    let text = ctx.templates.render("docs/index.md.hbs", &data)?;
    files.add("index.md".into(), text);
    Ok((files, entries))
}
