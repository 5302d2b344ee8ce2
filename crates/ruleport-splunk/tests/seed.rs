//! The seed rule: Azure application credential modification, case-sensitive values.

mod common;
use common::*;
use ruleport_model::{Case, Expr, StrPattern};
use serde_json::json;

fn seed() -> ruleport_model::MappedRule {
    let selection = Expr::and(vec![
        eq("sourcetype", "azure:monitor:aad"),
        eq("category", "AuditLogs"),
    ]);
    let expr = Expr::and(vec![
        eq_cased(
            "operationName",
            "Update application - Certificates and secrets management",
        ),
        Expr::or(vec![
            Expr::matches(
                "properties.result",
                StrPattern::literal("success"),
                Case::Sensitive,
            ),
            Expr::matches(
                "properties.result",
                StrPattern::literal("Success"),
                Case::Sensitive,
            ),
        ]),
    ]);
    mapped(
        ruleport_model::Detection::Query(ruleport_model::EventFilter::new(expr)),
        Some(selection),
    )
}

fn event(op: &str, result: Option<&str>) -> serde_json::Value {
    let mut e = json!({
        "sourcetype": "azure:monitor:aad",
        "category": "AuditLogs",
        "operationName": op,
        "_time": 1_700_000_000,
    });
    if let Some(r) = result {
        e["properties.result"] = json!(r);
    }
    e
}

const OP: &str = "Update application - Certificates and secrets management";

#[test]
fn seed_emits_valid_spl_with_case_sensitive_where() {
    let port = emit(&seed());
    insta::assert_snapshot!(port.text, @r#"
    sourcetype="azure:monitor:aad" AND category="AuditLogs" AND operationName="Update application - Certificates and secrets management" AND properties.result="success"
    | where 'operationName'=="Update application - Certificates and secrets management" AND ('properties.result'=="success" OR 'properties.result'=="Success")
    "#);
    assert!(port.fidelity.is_exact(), "{:?}", port.fidelity);
}

#[test]
fn seed_fixtures() {
    let events = vec![
        event(OP, Some("success")),
        event(OP, Some("Success")),
        event(OP, Some("SUCCESS")),
        event("Add member to group", Some("success")),
        event(
            "Update application \u{2013} Certificates and secrets management",
            Some("success"),
        ),
        event(OP, Some("failure")),
        event(OP, None),
        {
            let mut e = event(OP, Some("success"));
            e["sourcetype"] = json!("azure:monitor:activity");
            e
        },
    ];
    check_query(&seed(), &events);
    let hits = run_spl(&emit(&seed()).text, &events);
    assert_eq!(
        hits,
        vec![vec![0], vec![1]],
        "only the exact-case true positives match"
    );
}

#[test]
fn an_eql_category_left_by_the_mapping_is_a_field_test_and_says_so() {
    let mut f = ruleport_model::EventFilter::new(eq("action", "repo.create"));
    f.category = Some("configuration".into());
    let m = mapped(
        ruleport_model::Detection::Query(f),
        Some(eq("sourcetype", "github:enterprise:audit")),
    );
    let port = emit(&m);
    assert!(
        port.text.contains("event.category=\"configuration\""),
        "{}",
        port.text
    );
    let reasons = port.fidelity.reasons();
    assert!(
        reasons
            .iter()
            .any(|a| a.code == "event-category-as-field" && a.reason.contains("`configuration`")),
        "{reasons:?}"
    );
}
