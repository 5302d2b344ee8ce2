//! Exporting rules from the model (as an Elastic import would build them) to Sigma YAML.

use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{
    AggCondition, Aggregation, AttackRef, Case, CmpOp, Detection, EventFilter, EventSource, Expr,
    FieldRefKind, LogSource, MappedRule, Metric, NewTerms, Op, Operand, Predicate, RegexAnchor,
    RegexSpec, Rule, RuleFormat, RuleMeta, Sample, Scalar, Schema, SeqStep, Sequence, Severity,
    SourceFormat, StrPattern, Subject, Technique, ThreatMapping, TimeSpan, WindowKind,
};
use ruleport_sigma::{export_rule, import_str, SigmaFormat};
use serde_json::json;

fn base_rule(detection: Detection) -> Rule {
    Rule {
        meta: RuleMeta {
            id: "5b1e2c3d-0000-4000-8000-000000000001".into(),
            title: "Suspicious cmd".into(),
            description: "Line one.\nLine two with 'quotes' and \"double\" quotes: ok".into(),
            authors: vec!["Elastic".into()],
            severity: Some(Severity::High),
            status: Some("production".into()),
            tags: vec!["Domain: Endpoint".into()],
            threat: vec![ThreatMapping {
                framework: "MITRE ATT&CK".into(),
                tactic: AttackRef {
                    id: "TA0002".into(),
                    name: Some("Execution".into()),
                    reference: None,
                },
                techniques: vec![Technique {
                    technique: AttackRef {
                        id: "T1059".into(),
                        name: Some("Command and Scripting Interpreter".into()),
                        reference: None,
                    },
                    subtechniques: vec![AttackRef {
                        id: "T1059.003".into(),
                        name: None,
                        reference: None,
                    }],
                }],
            }],
            ..RuleMeta::default()
        },
        logsource: LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            ..LogSource::default()
        },
        detection,
        schema: Schema::Sigma,
        format: SourceFormat::ElasticToml,
        language: "eql".into(),
        original_query: None,
        provenance: Default::default(),
    }
}

fn m(field: &str, p: StrPattern, case: Case) -> Expr {
    Expr::matches(field, p, case)
}

fn rich_expr() -> Expr {
    Expr::and(vec![
        m("Image", StrPattern::suffix("\\cmd.exe"), Case::Sensitive),
        Expr::or(vec![
            m("CommandLine", StrPattern::contains("/c"), Case::Insensitive),
            m(
                "CommandLine",
                StrPattern::contains("*literal?"),
                Case::Insensitive,
            ),
        ]),
        Expr::pred(
            Subject::field("CommandLine"),
            Op::Regex(RegexSpec {
                pattern: "cmd.*exe".into(),
                case: Case::Insensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Full,
            }),
        ),
        Expr::pred(
            Subject::field("DestinationIp"),
            Op::Cidr("10.0.0.0/8".parse().expect("net")),
        ),
        Expr::pred(
            Subject::field("Count"),
            Op::Cmp {
                op: CmpOp::Ge,
                value: Scalar::Int(3),
            },
        ),
        Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(1))),
        Expr::pred(
            Subject::field("ParentImage"),
            Op::FieldRef {
                other: "Image".into(),
                kind: FieldRefKind::EndsWith,
                case: Case::Insensitive,
            },
        ),
        Expr::not(Expr::or(vec![
            m("User", StrPattern::prefix("adm_"), Case::Insensitive),
            Expr::not(Expr::exists("Token")),
        ])),
    ])
}

#[test]
fn exports_every_predicate_kind() {
    let rule = base_rule(Detection::Query(EventFilter::new(rich_expr())));
    let out = export_rule(&rule).expect("export");
    insta::assert_snapshot!("rich_rule", out.text);
    assert!(out.approximations.is_empty(), "{:?}", out.approximations);
    assert!(
        out.text.contains("Image|endswith|cased: '\\cmd.exe'"),
        "case-sensitive source → cased"
    );
    assert!(
        out.text.contains("- 'attack.t1059.003'"),
        "ATT&CK mapping → tags"
    );
    assert!(
        out.text.contains("status: 'stable'"),
        "Elastic maturity → Sigma status"
    );
    // The export means the same thing: compare verdicts on events.
    let back = import_str(&out.text, None);
    assert!(!back.has_errors(), "{:#?}", back.diagnostics);
    let back = &back.rules[0];
    let a = RuleEvaluator::new(&rule).expect("a");
    let b = RuleEvaluator::new(back).expect("b");
    let good = json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "CMD /c x.EXE", "DestinationIp": "10.1.1.1", "Count": 3,
        "EventID": 1, "ParentImage": "q C:\\x\\CMD.EXE", "User": "bob", "Token": "t"});
    let events = [
        good.clone(),
        json!({"Image": "C:\\x\\CMD.exe", "CommandLine": "cmd /c x.exe", "DestinationIp": "10.1.1.1", "Count": 3, "EventID": 1, "ParentImage": "q c:\\x\\cmd.exe", "User": "bob", "Token": "t"}),
        json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "run *literal? cmd.exe", "DestinationIp": "10.1.1.1", "Count": "4", "EventID": "1", "ParentImage": "cmd.exe", "User": "bob", "Token": "t"}),
        json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "CMD /c x.EXE tail", "DestinationIp": "10.1.1.1", "Count": 3, "EventID": 1, "ParentImage": "q C:\\x\\CMD.EXE", "User": "bob", "Token": "t"}),
        json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "CMD /c x.EXE", "DestinationIp": "10.1.1.1", "Count": 3, "EventID": 1, "ParentImage": "q C:\\x\\CMD.EXE", "User": "ADM_x", "Token": "t"}),
        json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "CMD /c x.EXE", "DestinationIp": "10.1.1.1", "Count": 3, "EventID": 1, "ParentImage": "q C:\\x\\CMD.EXE", "User": "bob"}),
        json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "CMD /c x.EXE", "DestinationIp": "11.1.1.1", "Count": 2, "EventID": 1, "ParentImage": "q C:\\x\\CMD.EXE", "User": "bob", "Token": "t"}),
    ];
    assert!(a.event_matches(&good, None));
    for e in &events {
        assert_eq!(a.event_matches(e, None), b.event_matches(e, None), "{e}");
    }
}

#[test]
fn rule_format_trait_and_fidelity() {
    let rule = base_rule(Detection::Query(EventFilter::new(Expr::pred(
        Subject::Keyword,
        Op::Match {
            pattern: StrPattern::prefix("evil"),
            case: Case::Insensitive,
        },
    ))));
    let mut mapped = MappedRule::identity(rule);
    mapped
        .approximations
        .push(ruleport_model::Approximation::new("unmapped-field", "x"));
    let port = SigmaFormat.export(&mapped).expect("port");
    let codes: Vec<&str> = port
        .fidelity
        .reasons()
        .iter()
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(codes, vec!["keyword-substring", "unmapped-field"]);
    let rules = SigmaFormat.import_text(&port.text, None).expect("reimport");
    assert_eq!(rules.len(), 1);
    assert!(SigmaFormat.import_text("title: [", None).is_err());
}

#[test]
fn event_category_becomes_a_predicate() {
    let mut f = EventFilter::new(m(
        "process.name",
        StrPattern::literal("cmd.exe"),
        Case::Sensitive,
    ));
    f.category = Some("process".into());
    let rule = base_rule(Detection::Query(f));
    let text = export_rule(&rule).expect("export").text;
    assert!(text.contains("event.category|cased: 'process'"), "{text}");
}

/// A case-insensitive regex as deeply nested as the engine accepts; `\A(?:…)\z` puts it over.
fn deepest_regex(anchor: RegexAnchor) -> Expr {
    let nested = |depth: usize| format!("{}a{}", "(?:".repeat(depth), ")".repeat(depth));
    let depth = (1..400)
        .take_while(|d| regex::Regex::new(&format!("(?i){}", nested(*d))).is_ok())
        .last()
        .expect("a shallow regex compiles");
    Expr::pred(
        Subject::field("CommandLine"),
        Op::Regex(RegexSpec {
            pattern: nested(depth),
            case: Case::Insensitive,
            multiline: false,
            dotall: false,
            anchor,
        }),
    )
}

#[test]
fn deepest_accepted_regex_exports_unanchored() {
    let rule = base_rule(Detection::Query(EventFilter::new(deepest_regex(
        RegexAnchor::Search,
    ))));
    let port = export_rule(&rule).expect("exports");
    let back = import_str(&port.text, None);
    assert!(!back.has_errors(), "{:?}", back.diagnostics);
    assert_eq!(back.rules.len(), 1);
}

#[test]
fn what_sigma_cannot_say_is_unsupported() {
    let computed = Expr::pred(
        Subject::Computed(Operand::Call {
            name: "length".into(),
            case_insensitive: false,
            args: vec![Operand::field("a")],
        }),
        Op::Cmp {
            op: CmpOp::Gt,
            value: Scalar::Int(3),
        },
    );
    let cases: Vec<(Detection, &str)> = vec![
        (
            Detection::Query(EventFilter::new(computed)),
            "computed-subject",
        ),
        (
            Detection::Query(EventFilter::new(Expr::Const(true))),
            "constant-condition",
        ),
        (
            Detection::Query(EventFilter::new(Expr::Nested {
                path: "a".into(),
                inner: Box::new(Expr::exists("b")),
            })),
            "nested-query",
        ),
        (
            Detection::Query(EventFilter::new(Expr::pred(
                Subject::field("a"),
                Op::Cmp {
                    op: CmpOp::Gt,
                    value: Scalar::Str("b".into()),
                },
            ))),
            "string-comparison",
        ),
        (
            Detection::NewTerms(NewTerms {
                filter: EventFilter::new(Expr::exists("a")),
                fields: vec!["a".into()],
                history_window_start: "now-7d".into(),
            }),
            "new-terms",
        ),
        (
            Detection::Sample(Sample {
                by: vec![],
                window: None,
                steps: vec![SeqStep::new(EventSource::new(EventFilter::new(
                    Expr::exists("a"),
                )))],
            }),
            "sample-without-window",
        ),
        (
            Detection::Sequence(Sequence {
                by: vec![],
                maxspan: Some(TimeSpan::from_millis(60_000)),
                steps: vec![SeqStep {
                    runs: 3,
                    ..SeqStep::new(EventSource::new(EventFilter::new(Expr::exists("a"))))
                }],
                until: None,
            }),
            "sequence-runs",
        ),
        (
            Detection::Query(EventFilter::new(deepest_regex(RegexAnchor::Full))),
            "regex-unsupported",
        ),
    ];
    for (det, code) in cases {
        let err = export_rule(&base_rule(det)).expect_err(code);
        assert_eq!(err.code, code, "{err}");
    }
}

#[test]
fn sequences_and_thresholds_become_correlations() {
    let step = |f: &str, key: &str| SeqStep {
        by: vec![Operand::field(key)],
        ..SeqStep::new(EventSource::new(EventFilter::new(m(
            f,
            StrPattern::literal("x"),
            Case::Sensitive,
        ))))
    };
    let seq = base_rule(Detection::Sequence(Sequence {
        by: vec![Operand::field("host.id")],
        maxspan: Some(TimeSpan::from_millis(30_000)),
        steps: vec![step("a", "user.name"), step("b", "winlog.user")],
        until: None,
    }));
    let out = export_rule(&seq).expect("export");
    insta::assert_snapshot!("sequence_correlation", out.text);
    let back = import_str(&out.text, None);
    assert!(!back.has_errors(), "{:#?}", back.diagnostics);
    let r = &back.rules[0];
    // Per-step keys come back through aliases; the shared key joins them.
    let events = vec![
        json!({"@timestamp": "2024-01-01T00:00:00Z", "a": "x", "user.name": "u", "host.id": "h"}),
        json!({"@timestamp": "2024-01-01T00:00:10Z", "b": "x", "winlog.user": "u", "host.id": "h"}),
    ];
    let n = |rule: &Rule| {
        RuleEvaluator::new(rule)
            .expect("ev")
            .run(&events, None)
            .len()
    };
    assert_eq!(n(&seq), 1);
    assert_eq!(n(r), 1);

    let threshold = base_rule(Detection::Aggregation(Aggregation {
        sources: vec![EventSource::new(EventFilter::new(m(
            "event.action",
            StrPattern::literal("logon-failed"),
            Case::Sensitive,
        )))],
        group_by: vec!["source.ip".into()],
        window: Some(TimeSpan::from_millis(300_000)),
        window_kind: WindowKind::RuleLookback,
        conditions: vec![AggCondition {
            metric: Metric::Count,
            op: CmpOp::Ge,
            value: 25,
        }],
    }));
    let out = export_rule(&threshold).expect("export");
    assert!(out
        .approximations
        .iter()
        .any(|a| a.code == "window-sliding"));
    assert!(
        out.text.contains("type: 'event_count'")
            && out.text.contains("gte: 25")
            && out.text.contains("timespan: '5m'"),
        "{}",
        out.text
    );
    let back = import_str(&out.text, None);
    assert!(!back.has_errors(), "{:#?}", back.diagnostics);
    assert!(
        matches!(&back.rules[0].detection, Detection::Aggregation(a) if a.conditions[0].value == 25)
    );
}

#[test]
fn escaping_and_placeholders_survive_export() {
    use ruleport_model::Piece;
    let exprs = vec![
        m(
            "F",
            StrPattern::new([
                Piece::Lit("a*b\\".into()),
                Piece::AnyChars,
                Piece::Lit("c\\*d\\\\e".into()),
                Piece::OneChar,
            ]),
            Case::Insensitive,
        ),
        m(
            "F",
            StrPattern::new([
                Piece::Placeholder("Users".into()),
                Piece::Lit("\\100%\\%x%".into()),
            ]),
            Case::Insensitive,
        ),
        m(
            "F",
            StrPattern::literal("\u{0}A\u{0}\ttab 'q' \"dq\""),
            Case::Insensitive,
        ),
        m("F", StrPattern::literal(""), Case::Sensitive),
        m("F|G", StrPattern::literal("x"), Case::Sensitive),
    ];
    for (i, e) in exprs.into_iter().enumerate() {
        let rule = base_rule(Detection::Query(EventFilter::new(e.clone())));
        match export_rule(&rule) {
            Ok(out) => {
                let back = import_str(&out.text, None);
                assert!(
                    !back.has_errors(),
                    "{i}: {:#?}\n{}",
                    back.diagnostics,
                    out.text
                );
                assert_eq!(
                    back.rules[0].detection, rule.detection,
                    "{i}:\n{}",
                    out.text
                );
            }
            Err(u) => assert_eq!((i, u.code.as_str()), (4, "field-name")),
        }
    }
}

#[test]
fn predicate_on_optional_field_exports_plainly() {
    let e = Expr::Pred(Predicate {
        subject: Subject::Field {
            name: "a".into(),
            optional: true,
        },
        op: Op::Exists,
    });
    let out = export_rule(&base_rule(Detection::Query(EventFilter::new(e)))).expect("export");
    assert!(out.text.contains("a|exists: true"));
}
