use super::*;
use ruleport_model::{EventFilter, RuleMeta, SourceFormat};
use serde_json::json;

fn lit(f: &str, v: &str) -> Expr {
    Expr::matches(f, StrPattern::literal(v), Case::Sensitive)
}

fn seed() -> Rule {
    Rule {
        meta: RuleMeta::default(),
        logsource: LogSource {
            index: vec!["filebeat-*".into(), "logs-azure*".into()],
            ..Default::default()
        },
        detection: Detection::Query(EventFilter::new(Expr::and(vec![
            lit("event.dataset", "azure.auditlogs"),
            lit("azure.auditlogs.operation_name", "Update application - Certificates and secrets management"),
            Expr::or(vec![lit("event.outcome", "success"), lit("event.outcome", "Success")]),
        ]))),
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language: "kuery".into(),
        original_query: None,
        provenance: Default::default(),
    }
}

#[test]
fn builtin_files_parse() {
    for (name, text) in BUILTIN {
        parse_mapping(text, Path::new(name)).unwrap_or_else(|d| panic!("{d}"));
    }
    assert!(Mapping::builtin().logsource("azure.auditlogs").is_some());
}

#[test]
fn seed_maps_to_auditlogs_and_drops_the_dataset_condition() {
    let m = Mapping::builtin();
    let mapped = m.map_rule(&seed(), Schema::Sentinel);
    assert_eq!(mapped.selection.tables, vec!["AuditLogs".to_string()]);
    assert!(mapped.approximations.is_empty(), "{:?}", mapped.approximations);
    let Detection::Query(f) = &mapped.rule.detection else { panic!("query") };
    assert_eq!(
        f.expr,
        Expr::and(vec![
            lit("OperationName", "Update application - Certificates and secrets management"),
            Expr::or(vec![lit("Result", "success"), lit("Result", "Success")]),
        ])
    );
}

#[test]
fn seed_maps_to_splunk_with_sourcetype_condition() {
    let m = Mapping::builtin();
    let mapped = m.map_rule(&seed(), Schema::Splunk);
    let cond = mapped.selection.condition.expect("condition");
    let fields = cond.fields();
    assert!(fields.contains(&"sourcetype".to_string()) && fields.contains(&"category".to_string()));
    assert!(mapped.rule.detection.filters()[0].expr.fields().contains(&"properties.result".to_string()));
}

#[test]
fn unmapped_fields_are_reported() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.dataset", "azure.auditlogs"),
        lit("no.such.field", "x"),
    ])));
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert!(mapped.approximations.iter().any(|a| a.code == "unmapped-field" && a.reason.contains("no.such.field")));
}

#[test]
fn event_views() {
    let m = Mapping::builtin();
    let ev = json!({"event": {"dataset": "azure.auditlogs", "outcome": "Success"},
                    "azure": {"auditlogs": {"operation_name": "Update application"}}});
    let s = m.view_event(&ev, Schema::Ecs, None, Schema::Sentinel);
    assert_eq!(s, json!({"Result": "Success", "OperationName": "Update application", "Type": "AuditLogs"}));
    let sp = m.view_event(&ev, Schema::Ecs, None, Schema::Splunk);
    assert_eq!(sp["properties.result"], json!("Success"));
    assert_eq!(sp["sourcetype"], json!("azure:monitor:aad"));
    assert_eq!(sp["category"], json!("AuditLogs"));
    let other = json!({"event": {"dataset": "azure.signinlogs"}});
    assert_eq!(m.view_event(&other, Schema::Ecs, None, Schema::Sentinel)["Type"], json!("SigninLogs"));
    // Back to ECS from a Sentinel row.
    let back = m.view_event(&s, Schema::Sentinel, None, Schema::Ecs);
    assert_eq!(lookup_str(&back, "event.outcome"), Some("Success".into()));
}

fn lookup_str(v: &serde_json::Value, p: &str) -> Option<String> {
    ruleport_model::event::lookup(v, p).first().and_then(|v| v.as_str().map(str::to_string))
}

#[test]
fn user_override_replaces_a_field_name() {
    let dir = std::env::temp_dir().join(format!("rp-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("override.yml");
    let text = BUILTIN[1].1.replace("sentinel: Result,", "sentinel: ResultOverridden,");
    std::fs::write(&p, text).expect("write");
    let m = Mapping::with_overrides(&[&p]).expect("load");
    let mapped = m.map_rule(&seed(), Schema::Sentinel);
    assert!(mapped.rule.detection.filters()[0].expr.fields().contains(&"ResultOverridden".to_string()));
}
