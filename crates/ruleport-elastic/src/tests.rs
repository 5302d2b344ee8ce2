//! Importer, diagnostics and exporter tests.

use crate::{codes, import_str, ElasticFormat};
use ruleport_model::{
    AggCondition, Aggregation, Case, CmpOp, Detection, EventFilter, EventSource, Expr, MappedRule,
    Metric, Op, Pos, Provenance, Rule, RuleFormat, RuleMeta, Scalar, Schema, Severity,
    SourceFormat, StrPattern, Subject, TimeSpan, WindowKind,
};
use std::path::Path;

const BASE: &str = r#"[metadata]
creation_date = "2020/12/14"
integration = ["azure"]
maturity = "production"
updated_date = "2026/04/10"

[rule]
author = ["Elastic"]
description = "Identifies a thing."
from = "now-9m"
index = ["logs-azure.auditlogs-*", "filebeat-*"]
language = "kuery"
license = "Elastic License v2"
name = "Entra ID Application Credential Modified"
risk_score = 47
rule_id = "1a36cace-11a7-43a8-9a10-b497c5a02cd3"
severity = "medium"
tags = ["Domain: Cloud", "Tactic: Persistence"]
timestamp_override = "event.ingested"
type = "query"

query = '''
data_stream.dataset:azure.auditlogs and event.outcome:(success or Success)
'''

[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1098"
name = "Account Manipulation"
reference = "https://attack.mitre.org/techniques/T1098/"

[[rule.threat.technique.subtechnique]]
id = "T1098.001"
name = "Additional Cloud Credentials"
reference = "https://attack.mitre.org/techniques/T1098/001/"

[rule.threat.tactic]
id = "TA0003"
name = "Persistence"
reference = "https://attack.mitre.org/tactics/TA0003/"
"#;

fn lit(f: &str, v: &str) -> Expr {
    Expr::matches(f, StrPattern::literal(v), Case::Sensitive)
}

fn import(text: &str) -> Rule {
    import_str(text, Some(Path::new("rules/x.toml"))).unwrap_or_else(|ds| {
        panic!(
            "{}",
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn errors(text: &str) -> Vec<ruleport_model::Diagnostic> {
    match import_str(text, Some(Path::new("rules/x.toml"))) {
        Ok(r) => panic!("expected errors, got {:?}", r.detection),
        Err(ds) => ds,
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .expect("needle")
}

fn export_import(r: &Rule) -> Rule {
    let port = ElasticFormat
        .export(&MappedRule::identity(r.clone()))
        .unwrap_or_else(|u| panic!("{u}"));
    let mut rules = ElasticFormat
        .import_text(&port.text, None)
        .unwrap_or_else(|ds| panic!("{}\n{}", ds[0], port.text));
    rules.remove(0)
}

fn same_without_provenance(a: &Rule, b: &Rule) -> bool {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.provenance = Provenance::default();
    b.provenance = Provenance::default();
    a == b
}

// ---------- import ----------

#[test]
fn imports_a_query_rule_with_all_metadata() {
    let r = import(BASE);
    assert_eq!(r.meta.id, "1a36cace-11a7-43a8-9a10-b497c5a02cd3");
    assert_eq!(r.meta.title, "Entra ID Application Credential Modified");
    assert_eq!(r.meta.authors, ["Elastic"]);
    assert_eq!(r.meta.severity, Some(Severity::Medium));
    assert_eq!(r.meta.risk_score, Some(47));
    assert_eq!(r.meta.status.as_deref(), Some("production"));
    assert_eq!(r.meta.created.as_deref(), Some("2020/12/14"));
    assert_eq!(r.meta.modified.as_deref(), Some("2026/04/10"));
    assert_eq!(r.meta.from.as_deref(), Some("now-9m"));
    assert_eq!(r.meta.timestamp_override.as_deref(), Some("event.ingested"));
    assert_eq!(r.meta.license.as_deref(), Some("Elastic License v2"));
    assert_eq!(r.meta.threat.len(), 1);
    let t = &r.meta.threat[0];
    assert_eq!(t.framework, "MITRE ATT&CK");
    assert_eq!(t.tactic.id, "TA0003");
    assert_eq!(t.techniques[0].technique.id, "T1098");
    assert_eq!(t.techniques[0].subtechniques[0].id, "T1098.001");
    assert_eq!(
        r.meta.extra["metadata"]["integration"],
        serde_json::json!(["azure"])
    );
    assert_eq!(r.logsource.index, ["logs-azure.auditlogs-*", "filebeat-*"]);
    assert_eq!(r.schema, Schema::Ecs);
    assert_eq!(r.format, SourceFormat::ElasticToml);
    assert_eq!(r.language, "kuery");
    assert_eq!(
        r.detection,
        Detection::Query(EventFilter::new(Expr::and(vec![
            lit("data_stream.dataset", "azure.auditlogs"),
            Expr::or(vec![
                lit("event.outcome", "success"),
                lit("event.outcome", "Success")
            ]),
        ])))
    );
    assert!(r
        .original_query
        .as_deref()
        .is_some_and(|q| q.contains("event.outcome:(success or Success)")));
    assert_eq!(
        r.provenance.path.as_deref(),
        Some(Path::new("rules/x.toml"))
    );
    assert_eq!(
        (r.provenance.line, r.provenance.column),
        (Some(line_of(BASE, "[rule]")), Some(1))
    );
    // The query text starts on the line after `query = '''`.
    assert_eq!(
        r.provenance.query_line,
        Some(line_of(BASE, "query = '''") + 1)
    );
    assert_eq!(r.provenance.query_column, Some(1));
}

#[test]
fn imports_schedule_building_block_and_extras() {
    let text = BASE.replace(
        "type = \"query\"\n",
        "type = \"query\"\ninterval = \"60m\"\nmax_signals = 1000\nbuilding_block_type = \"default\"\n\
         setup = \"Enable it.\"\nnote = \"\"\"## Triage\"\"\"\nevent_category_override = \"event.type\"\n\
         investigation_fields = {field_names = [\"user.name\", \"host.name\"]}\n\
         exceptions_list = [{id = \"x\", list_id = \"l\", namespace_type = \"single\", type = \"detection\"}]\n\
         alert_suppression = {group_by = [\"user.name\"], missing_fields_strategy = \"suppress\", duration = {unit = \"h\", value = 1}}\n",
    ) + "\n[transform]\n[[transform.osquery]]\nlabel = \"q\"\nquery = \"select 1\"\n";
    let r = import(&text);
    assert_eq!(r.meta.interval, TimeSpan::parse("1h"));
    assert_eq!(r.meta.max_signals, Some(1000));
    assert!(r.meta.building_block);
    assert_eq!(r.meta.setup.as_deref(), Some("Enable it."));
    assert_eq!(r.meta.note.as_deref(), Some("## Triage"));
    assert_eq!(r.meta.fields, ["user.name", "host.name"]);
    assert_eq!(r.meta.extra["event_category_override"], "event.type");
    assert_eq!(r.meta.extra["exceptions_list"][0]["list_id"], "l");
    assert_eq!(r.meta.extra["alert_suppression"]["duration"]["value"], 1);
    assert_eq!(r.meta.extra["transform"]["osquery"][0]["query"], "select 1");
    assert!(same_without_provenance(&export_import(&r), &r));
}

#[test]
fn imports_threshold_as_aggregation() {
    let text = BASE.replace("type = \"query\"", "type = \"threshold\"")
        + "\n[rule.threshold]\nfield = [\"source.ip\", \"user.name\"]\nvalue = 25\n\
           [[rule.threshold.cardinality]]\nfield = \"destination.port\"\nvalue = 3\n";
    let r = import(&text);
    let Detection::Aggregation(a) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert_eq!(a.group_by, ["source.ip", "user.name"]);
    assert_eq!(a.window_kind, WindowKind::RuleLookback);
    assert_eq!(a.window, None);
    assert_eq!(
        a.conditions,
        vec![
            AggCondition {
                metric: Metric::Count,
                op: CmpOp::Ge,
                value: 25
            },
            AggCondition {
                metric: Metric::DistinctCount("destination.port".into()),
                op: CmpOp::Ge,
                value: 3
            },
        ]
    );
    assert_eq!(a.sources.len(), 1);
    assert!(same_without_provenance(&export_import(&r), &r));
}

#[test]
fn imports_new_terms() {
    let text = BASE.replace("type = \"query\"", "type = \"new_terms\"")
        + "\n[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"user.name\"]\n\
           [[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-7d\"\n";
    let r = import(&text);
    let Detection::NewTerms(n) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert_eq!(n.fields, ["user.name"]);
    assert_eq!(n.history_window_start, "now-7d");
    assert!(same_without_provenance(&export_import(&r), &r));
}

#[test]
fn unsupported_types_keep_metadata_and_reason() {
    let esql = BASE
        .replace("language = \"kuery\"", "language = \"esql\"")
        .replace("type = \"query\"", "type = \"esql\"")
        .replace(
            "data_stream.dataset:azure.auditlogs and event.outcome:(success or Success)",
            "from logs-* | where x == 1",
        );
    let r = import(&esql);
    let Detection::Unsupported(u) = &r.detection else {
        panic!()
    };
    assert_eq!(u.kind, "esql");
    assert!(u.reason.contains("ES|QL"));
    assert_eq!(
        u.original.as_deref().map(str::trim),
        Some("from logs-* | where x == 1")
    );
    assert_eq!(r.meta.threat.len(), 1);
    assert!(same_without_provenance(&export_import(&r), &r));

    let ml = BASE
        .replace(
            "language = \"kuery\"\n",
            "anomaly_threshold = 75\nmachine_learning_job_id = [\"job_a\", \"job_b\"]\n",
        )
        .replace("type = \"query\"", "type = \"machine_learning\"");
    let ml = ml[..ml.find("query = '''").expect("query")].to_string()
        + &ml[ml.find("[[rule.threat]]").expect("threat")..];
    let r = import(&ml);
    let Detection::Unsupported(u) = &r.detection else {
        panic!()
    };
    assert_eq!(u.kind, "machine_learning");
    assert!(u.reason.contains("job_a, job_b"), "{}", u.reason);
    assert_eq!(r.language, "machine_learning");
    assert_eq!(r.meta.extra["anomaly_threshold"], 75);
    assert!(same_without_provenance(&export_import(&r), &r));

    let tm = BASE.replace("type = \"query\"", "type = \"threat_match\"\nthreat_index = [\"logs-ti_*\"]\n\
        threat_query = \"@timestamp >= \\\"now-30d/d\\\" and event.category:threat\"\nthreat_language = \"kuery\"\n\
        threat_indicator_path = \"threat.indicator\"\n\
        threat_mapping = [{entries = [{field = \"file.hash.sha256\", type = \"mapping\", value = \"threat.indicator.file.hash.sha256\"}]}]");
    let r = import(&tm);
    let Detection::Unsupported(u) = &r.detection else {
        panic!()
    };
    assert_eq!(u.kind, "threat_match");
    assert_eq!(u.language.as_deref(), Some("kuery"));
    assert_eq!(
        r.meta.extra["threat_mapping"][0]["entries"][0]["field"],
        "file.hash.sha256"
    );
    assert!(same_without_provenance(&export_import(&r), &r));

    let lucene = BASE.replace("language = \"kuery\"", "language = \"lucene\"");
    let r = import(&lucene);
    let Detection::Unsupported(u) = &r.detection else {
        panic!()
    };
    assert_eq!(u.kind, "lucene");
    assert!(same_without_provenance(&export_import(&r), &r));
}

// ---------- diagnostics ----------

#[test]
fn broken_kuery_query_is_reported_at_its_file_position() {
    let text = BASE.replace(
        "data_stream.dataset:azure.auditlogs and event.outcome:(success or Success)",
        "data_stream.dataset:azure.auditlogs and\n  event.outcome:(success or Success",
    );
    let ds = errors(&text);
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    assert_eq!(d.code, "E-KUERY-SYNTAX");
    assert_eq!(
        d.rule_id.as_deref(),
        Some("1a36cace-11a7-43a8-9a10-b497c5a02cd3")
    );
    assert_eq!(d.path.as_deref(), Some(Path::new("rules/x.toml")));
    // The list is not closed: the parser runs to the end of the query text, which ends with the
    // newline before the closing `'''`.
    let line = line_of(&text, "  event.outcome:(success or Success");
    assert_eq!(d.pos, Some(Pos::new(line + 1, 1)), "{d}");
    assert!(d.message.contains("\")\""), "{d}");

    // An unescaped `:` in a value, on the first query line.
    let text = BASE.replace(
        "data_stream.dataset:azure.auditlogs and",
        "data_stream.dataset:azure:auditlogs and",
    );
    let d = &errors(&text)[0];
    assert_eq!(
        d.pos,
        Some(Pos::new(line_of(&text, "azure:auditlogs"), 26)),
        "{d}"
    );
}

#[test]
fn query_positions_survive_basic_string_escapes() {
    // In a basic string `\"` is two characters in the file but one in the query.
    let text = BASE.replace(
        "query = '''\ndata_stream.dataset:azure.auditlogs and event.outcome:(success or Success)\n'''",
        "query = \"a:\\\"x\\\" and b:c:d\"",
    );
    let d = &errors(&text)[0];
    let line = line_of(&text, "query = \"a:");
    let col = text
        .lines()
        .nth(line as usize - 1)
        .expect("line")
        .find("c:d")
        .expect("c:d") as u32
        + 2;
    assert_eq!(d.pos, Some(Pos::new(line, col)), "{d}");
}

#[test]
fn unknown_field_gets_did_you_mean() {
    let text = BASE.replace(
        "severity = \"medium\"",
        "severity = \"medium\"\nfalse_positive = [\"x\"]",
    );
    let ds = errors(&text);
    let d = ds
        .iter()
        .find(|d| d.code == codes::E_UNKNOWN)
        .expect("unknown field");
    assert!(d.message.contains("false_positive"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `false_positives`?"));
    assert_eq!(d.pos, Some(Pos::new(line_of(&text, "false_positive ="), 1)));
    assert_eq!(
        d.rule_id.as_deref(),
        Some("1a36cace-11a7-43a8-9a10-b497c5a02cd3")
    );

    let text = BASE.replace("maturity = ", "maturty = ");
    let d = &errors(&text)[0];
    assert_eq!(d.hint.as_deref(), Some("did you mean `maturity`?"));

    let text = BASE.replace("type = \"query\"", "type = \"treshold\"");
    let d = &errors(&text)[0];
    assert_eq!(d.code, codes::E_VALUE);
    assert_eq!(d.hint.as_deref(), Some("did you mean `threshold`?"));
}

#[test]
fn malformed_toml_missing_and_mistyped_fields() {
    let text = BASE.replace("name = \"Entra", "name = \"Entra\nx");
    let d = &errors(&text)[0];
    assert_eq!(d.code, codes::E_TOML);
    assert_eq!(
        d.pos.map(|p| p.line),
        Some(line_of(&text, "name = \"Entra")),
        "{d}"
    );
    assert_eq!(d.path.as_deref(), Some(Path::new("rules/x.toml")));
    // The rule id is still found in the part that parsed.
    assert_eq!(
        d.rule_id.as_deref(),
        Some("1a36cace-11a7-43a8-9a10-b497c5a02cd3")
    );

    let text = BASE.replace("name = \"Entra ID Application Credential Modified\"\n", "");
    let d = &errors(&text)[0];
    assert_eq!(d.code, codes::E_MISSING);
    assert!(d.message.contains("`name`"));
    assert_eq!(d.pos, Some(Pos::new(line_of(&text, "[rule]"), 1)));

    let text = BASE.replace("risk_score = 47", "risk_score = \"47\"");
    let d = &errors(&text)[0];
    assert_eq!(d.code, codes::E_TYPE, "{d}");
    assert_eq!(d.pos, Some(Pos::new(line_of(&text, "risk_score"), 14)));

    let text = BASE.replace("risk_score = 47", "risk_score = 470");
    assert_eq!(errors(&text)[0].code, codes::E_VALUE);
    let text = BASE.replace("severity = \"medium\"", "severity = \"meduim\"");
    assert_eq!(
        errors(&text)[0].hint.as_deref(),
        Some("did you mean `medium`?")
    );
    let text = BASE.replace(
        "from = \"now-9m\"",
        "from = \"now-9m\"\ninterval = \"5 minutes\"",
    );
    assert_eq!(errors(&text)[0].code, codes::E_VALUE);

    let text = BASE.replace("type = \"query\"", "type = \"threshold\"");
    let d = &errors(&text)[0];
    assert_eq!(d.code, codes::E_MISSING);
    assert!(d.message.contains("threshold"));

    assert_eq!(errors("")[0].code, codes::E_MISSING);
    assert_eq!(errors("[rule]\n")[0].code, codes::E_MISSING);
    assert_eq!(errors("rule = 1")[0].code, codes::E_TYPE);
}

#[test]
fn never_panics_on_garbage() {
    for text in [
        "[[rule]]",
        "[rule]\nthreat = 1",
        "[rule]\nthreat = [1]",
        "[rule]\ntype = 5",
        "\u{0}",
        "[rule]\nquery = '''",
        "[rule.threat]\nx=1",
    ] {
        let _ = import_str(text, None);
    }
    let deep_toml = format!("[rule]\nx = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(import_str(&deep_toml, None).is_err());
    let deep_query = BASE.replace(
        "data_stream.dataset:azure.auditlogs and event.outcome:(success or Success)",
        &format!("{}a:b{}", "(".repeat(100_000), ")".repeat(100_000)),
    );
    assert_eq!(errors(&deep_query)[0].code, "E-KUERY-DEPTH");
}

// ---------- export ----------

fn sigma_like(expr: Expr) -> Rule {
    Rule {
        meta: RuleMeta {
            id: "5f1c2f7e-0000-4000-8000-000000000001".into(),
            title: "Title with \"quotes\" and ''' and \\ backslashes".into(),
            description: "Line one\nline two with \t tab and \u{1} control and \"\"\" triple"
                .into(),
            authors: vec!["A. Author".into()],
            severity: Some(Severity::High),
            status: Some("test".into()),
            created: Some("2024-01-02".into()),
            references: vec!["https://example.com/a?b=c&d=\"e\"".into()],
            tags: vec!["attack.t1059".into()],
            note: Some("'''\nnot a delimiter\n'''".into()),
            ..RuleMeta::default()
        },
        logsource: Default::default(),
        detection: Detection::Query(EventFilter::new(expr)),
        schema: Schema::Ecs,
        format: SourceFormat::Sigma,
        language: "sigma".into(),
        original_query: None,
        provenance: Provenance::default(),
    }
}

#[test]
fn exports_a_sigma_rule_as_kuery_with_escaping() {
    let expr = Expr::and(vec![
        Expr::matches(
            "process.name",
            StrPattern::suffix("\\cmd.exe"),
            Case::Insensitive,
        ),
        Expr::matches(
            "process.command_line",
            StrPattern::contains("\" or true or \""),
            Case::Insensitive,
        ),
    ]);
    let mut mr = MappedRule::identity(sigma_like(expr.clone()));
    mr.selection.indexes = vec!["logs-endpoint.events.process-*".into()];
    mr.selection.condition = Some(lit("event.category", "process"));
    let port = ElasticFormat.export(&mr).expect("export");
    assert!(port
        .fidelity
        .reasons()
        .iter()
        .any(|a| a.code == "case-insensitive-as-sensitive"));
    let back = import(&port.text);
    assert_eq!(back.meta.title, mr.rule.meta.title);
    assert_eq!(back.meta.description, mr.rule.meta.description);
    assert_eq!(back.meta.note, mr.rule.meta.note);
    assert_eq!(back.meta.references, mr.rule.meta.references);
    assert_eq!(back.meta.status.as_deref(), Some("beta"));
    assert_eq!(back.meta.created.as_deref(), Some("2024/01/02"));
    assert_eq!(back.meta.risk_score, Some(73));
    assert_eq!(back.logsource.index, ["logs-endpoint.events.process-*"]);
    assert_eq!(back.language, "kuery");
    // Elastic Defend's process events have `process.name.caseless` (a lower-case normalizer):
    // that match stays case-insensitive. Kuery has no other case-insensitive match, so the
    // command line comes back case-sensitive.
    assert!(
        port.text.contains("process.name.caseless:"),
        "{}",
        port.text
    );
    let sensitive = Expr::and(vec![
        lit("event.category", "process"),
        Expr::matches(
            "process.name",
            StrPattern::suffix("\\cmd.exe"),
            Case::Insensitive,
        ),
        Expr::matches(
            "process.command_line",
            StrPattern::contains("\" or true or \""),
            Case::Sensitive,
        ),
    ]);
    assert_eq!(
        back.detection,
        Detection::Query(EventFilter::new(sensitive))
    );
}

#[test]
fn exports_threshold_conditions_and_refuses_other_metrics() {
    let agg = |conditions: Vec<AggCondition>| {
        let mut r = sigma_like(Expr::Const(true));
        r.detection = Detection::Aggregation(Aggregation {
            sources: vec![EventSource::new(EventFilter::new(lit(
                "event.action",
                "logon-failed",
            )))],
            group_by: vec!["user.name".into()],
            window: TimeSpan::parse("5m"),
            window_kind: WindowKind::Sliding,
            conditions,
        });
        r
    };
    let r = agg(vec![AggCondition {
        metric: Metric::Count,
        op: CmpOp::Gt,
        value: 10,
    }]);
    let port = ElasticFormat
        .export(&MappedRule::identity(r))
        .expect("export");
    assert!(port
        .fidelity
        .reasons()
        .iter()
        .any(|a| a.code == "threshold-window-as-lookback"));
    let back = import(&port.text);
    let Detection::Aggregation(a) = back.detection else {
        panic!()
    };
    assert_eq!(
        a.conditions,
        vec![AggCondition {
            metric: Metric::Count,
            op: CmpOp::Ge,
            value: 11
        }]
    );
    assert_eq!(a.group_by, ["user.name"]);

    // Sigma value_count: count of distinct values, expressed as a cardinality with count >= 1.
    let r = agg(vec![AggCondition {
        metric: Metric::DistinctCount("source.ip".into()),
        op: CmpOp::Ge,
        value: 5,
    }]);
    let back = import(
        &ElasticFormat
            .export(&MappedRule::identity(r))
            .expect("export")
            .text,
    );
    let Detection::Aggregation(a) = back.detection else {
        panic!()
    };
    assert_eq!(
        a.conditions[1],
        AggCondition {
            metric: Metric::DistinctCount("source.ip".into()),
            op: CmpOp::Ge,
            value: 5
        }
    );

    let r = agg(vec![AggCondition {
        metric: Metric::Sum("bytes".into()),
        op: CmpOp::Ge,
        value: 5,
    }]);
    assert_eq!(
        ElasticFormat
            .export(&MappedRule::identity(r))
            .expect_err("sum")
            .code,
        "elastic-threshold-metric"
    );
    let r = agg(vec![AggCondition {
        metric: Metric::Count,
        op: CmpOp::Lt,
        value: 5,
    }]);
    assert_eq!(
        ElasticFormat
            .export(&MappedRule::identity(r))
            .expect_err("lt")
            .code,
        "elastic-threshold-op"
    );
}

#[test]
fn export_refuses_what_neither_kuery_nor_eql_can_say_without_losing_it() {
    let mut r = sigma_like(Expr::Const(true));
    r.detection = Detection::Unsupported(ruleport_model::UnsupportedDetection {
        kind: "sigma-correlation-unknown".into(),
        reason: "unknown correlation".into(),
        original: None,
        language: None,
    });
    assert_eq!(
        ElasticFormat
            .export(&MappedRule::identity(r))
            .expect_err("unsupported")
            .code,
        "elastic-unsupported-detection"
    );
}

#[test]
fn exported_rule_reuses_the_original_query_only_when_unchanged() {
    let r = import(BASE);
    let port = ElasticFormat
        .export(&MappedRule::identity(r.clone()))
        .expect("export");
    assert!(port.text.contains("event.outcome:(success or Success)"));
    // A changed detection is emitted from the model.
    let mut changed = r.clone();
    changed.detection = Detection::Query(EventFilter::new(lit("event.outcome", "failure")));
    let port = ElasticFormat
        .export(&MappedRule::identity(changed.clone()))
        .expect("export");
    assert!(
        port.text.contains("event.outcome:\\\"failure\\\"")
            || port.text.contains("event.outcome:\"failure\""),
        "{}",
        port.text
    );
    assert_eq!(import(&port.text).detection, changed.detection);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any string in any field survives export → import.
        #[test]
        fn any_string_round_trips(s in "[ -~\\n\\t\u{1}\u{7f}é'\"\\\\]{0,30}") {
            let mut r = sigma_like(Expr::matches("process.name", StrPattern::literal(s.clone()), Case::Sensitive));
            r.meta.title = s.clone();
            r.meta.description = s.clone();
            r.meta.note = Some(s.clone());
            r.meta.tags = vec![s.clone()];
            let port = ElasticFormat.export(&MappedRule::identity(r.clone())).map_err(|u| u.to_string());
            prop_assert!(port.is_ok(), "{:?}", port);
            let text = port.map(|p| p.text).unwrap_or_default();
            let back = import_str(&text, None);
            prop_assert!(back.is_ok(), "{}", text);
            if let Ok(back) = back {
                prop_assert_eq!(&back.meta.title, &s);
                prop_assert_eq!(&back.meta.description, &s);
                prop_assert_eq!(back.meta.note.as_deref(), Some(s.as_str()));
                prop_assert_eq!(&back.detection, &r.detection);
            }
        }
    }
}

#[test]
fn keyword_subject_and_numbers_export() {
    let expr = Expr::and(vec![
        Expr::pred(Subject::field("winlog.event_id"), Op::Eq(Scalar::Int(4688))),
        Expr::pred(
            Subject::Keyword,
            Op::Match {
                pattern: StrPattern::contains("mimikatz"),
                case: Case::Sensitive,
            },
        ),
    ]);
    let r = sigma_like(expr.clone());
    let back = import(
        &ElasticFormat
            .export(&MappedRule::identity(r))
            .expect("export")
            .text,
    );
    assert_eq!(back.detection, Detection::Query(EventFilter::new(expr)));
}

// ---------- EQL rules ----------

fn eql_rule(query: &str) -> String {
    BASE.replace("language = \"kuery\"", "language = \"eql\"")
        .replace("type = \"query\"", "type = \"eql\"")
        .replace(
            "data_stream.dataset:azure.auditlogs and event.outcome:(success or Success)",
            query,
        )
}

#[test]
fn eql_rules_import_and_errors_are_shifted_into_the_file() {
    let r = import(&eql_rule("process where process.name == \"cmd.exe\""));
    let Detection::Query(f) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert_eq!(f.category.as_deref(), Some("process"));
    assert_eq!(r.language, "eql");
    assert!(same_without_provenance(&export_import(&r), &r));

    let bad = "process where\n  process.name == \"cmd.exe\" and )";
    let text = eql_rule(bad);
    let d = &errors(&text)[0];
    assert!(d.code.starts_with("eql"), "{d}");
    // The same error on the bare query, shifted by where the query starts in the file.
    let raw = ruleport_eql::parse_to_detection(bad)
        .expect_err("syntax")
        .pos
        .expect("pos");
    let start = Pos::new(line_of(&text, "query = '''") + 1, 1);
    assert_eq!(d.pos, Some(raw.offset_by(start)), "{d}");
    assert_eq!(
        d.pos.map(|p| p.line),
        Some(line_of(&text, "process.name == \"cmd.exe\" and )"))
    );
}

#[test]
fn a_head_or_tail_pipe_becomes_the_rules_result_limit() {
    let q = "sequence by host.id [authentication where event.outcome == \"failure\"] with runs=3 [authentication where event.outcome == \"success\"] | tail 1";
    let r = import(&eql_rule(q));
    assert!(
        matches!(r.detection, Detection::Sequence(_)),
        "{:?}",
        r.detection
    );
    assert_eq!(
        r.meta.result_limit,
        Some(ruleport_model::ResultLimit {
            keep: ruleport_model::LimitKeep::Last,
            count: 1
        })
    );
    assert!(same_without_provenance(&export_import(&r), &r));
    // Re-emitted (not the original text), the pipe is still written.
    let mut fresh = r.clone();
    fresh.original_query = None;
    let port = ElasticFormat
        .export(&MappedRule::identity(fresh))
        .expect("export");
    assert!(port.text.contains("| tail 1"), "{}", port.text);
    assert_eq!(import(&port.text).meta.result_limit, r.meta.result_limit);
}

#[test]
fn valid_eql_the_model_cannot_hold_is_kept_as_unsupported() {
    // Two pipes select a slice of the results, which one limit cannot say.
    let r = import(&eql_rule(
        "process where process.name == \"ssh\" | head 5 | tail 2",
    ));
    let Detection::Unsupported(u) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert_eq!(u.kind, "eql");
    assert!(u
        .original
        .as_deref()
        .is_some_and(|q| q.contains("| head 5")));
    assert!(!u.reason.is_empty());
    assert!(same_without_provenance(&export_import(&r), &r));
}

#[test]
fn sequences_export_as_eql() {
    let q = "sequence by host.id with maxspan=1m\n  [process where process.name == \"a\"]\n  [network where destination.port == 4444]";
    let r = import(&eql_rule(q));
    assert!(matches!(r.detection, Detection::Sequence(_)));
    let mut fresh = r.clone();
    fresh.original_query = None;
    let port = ElasticFormat
        .export(&MappedRule::identity(fresh))
        .expect("export");
    assert!(port.text.contains("type = \"eql\""));
    assert_eq!(import(&port.text).detection, r.detection);
}

#[test]
fn a_regex_rule_exports_as_eql_when_kuery_cannot_say_it() {
    let expr = Expr::pred(
        Subject::field("process.command_line"),
        Op::Regex(ruleport_model::RegexSpec {
            pattern: "a[0-9]+b".into(),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: ruleport_model::RegexAnchor::Full,
        }),
    );
    let r = sigma_like(expr);
    let port = ElasticFormat
        .export(&MappedRule::identity(r.clone()))
        .expect("export");
    assert!(port.text.contains("type = \"eql\""), "{}", port.text);
    let back = import(&port.text);
    assert_eq!(back.language, "eql");
}

#[test]
fn exported_toml_layout() {
    let mut r = import(BASE);
    r.original_query = None;
    r.meta.interval = TimeSpan::parse("5m");
    r.meta.fields = vec!["user.name".into()];
    let port = ElasticFormat
        .export(&MappedRule::identity(r))
        .expect("export");
    insta::assert_snapshot!(port.text);
}
