//! Shared builders: rules over real Sentinel tables, and the cases every test file reuses.
#![allow(dead_code, unreachable_pub)]

use ruleport_model::{
    AggCondition, Aggregation, Case, CmpOp, Detection, EventFilter, EventSource, Expr, FieldKind,
    LogSource, MappedRule, Metric, NewTerms, Op, Operand, Predicate, Provenance, RegexAnchor,
    RegexSpec, Rule, RuleMeta, Sample, Scalar, Schema, SeqStep, Sequence, SourceFormat,
    SourceSelection, StrPattern, Subject, TimeSpan, WindowKind,
};
use std::collections::BTreeMap;

pub fn rule(detection: Detection) -> Rule {
    Rule {
        meta: RuleMeta {
            id: "test".into(),
            title: "test".into(),
            ..RuleMeta::default()
        },
        logsource: LogSource::default(),
        detection,
        schema: Schema::Sentinel,
        format: SourceFormat::Sigma,
        language: "sigma".into(),
        original_query: None,
        provenance: Provenance::default(),
    }
}

pub fn mapped(detection: Detection, tables: &[&str], kinds: &[(&str, FieldKind)]) -> MappedRule {
    let mut m = MappedRule::identity(rule(detection));
    m.target_schema = Schema::Sentinel;
    m.selection = SourceSelection {
        logsource_id: None,
        indexes: vec![],
        tables: tables.iter().map(|t| t.to_string()).collect(),
        condition: None,
    };
    m.field_kinds = kinds
        .iter()
        .map(|(f, k)| (f.to_string(), *k))
        .collect::<BTreeMap<_, _>>();
    m
}

pub fn query(expr: Expr, tables: &[&str], kinds: &[(&str, FieldKind)]) -> MappedRule {
    mapped(Detection::Query(EventFilter::new(expr)), tables, kinds)
}

pub fn eq(f: &str, v: &str, case: Case) -> Expr {
    Expr::matches(f, StrPattern::literal(v), case)
}

pub fn glob(f: &str, g: &str, case: Case) -> Expr {
    Expr::matches(f, StrPattern::from_glob_unescaped(g), case)
}

pub fn pat(f: &str, p: StrPattern, case: Case) -> Expr {
    Expr::matches(f, p, case)
}

pub fn pred(f: &str, op: Op) -> Expr {
    Expr::pred(Subject::field(f), op)
}

pub fn regex(f: &str, pattern: &str, case: Case, anchor: RegexAnchor) -> Expr {
    pred(
        f,
        Op::Regex(RegexSpec {
            pattern: pattern.into(),
            case,
            multiline: false,
            dotall: false,
            anchor,
        }),
    )
}

pub fn keyword(p: StrPattern) -> Expr {
    Expr::Pred(Predicate {
        subject: Subject::Keyword,
        op: Op::Match {
            pattern: p,
            case: Case::Insensitive,
        },
    })
}

pub const SECURITY_EVENT: &[(&str, FieldKind)] = &[
    ("EventID", FieldKind::Integer),
    ("CommandLine", FieldKind::Keyword),
    ("NewProcessName", FieldKind::Keyword),
    ("ParentProcessName", FieldKind::Keyword),
    ("SubjectUserName", FieldKind::Keyword),
    ("TargetUserName", FieldKind::Keyword),
    ("IpAddress", FieldKind::Keyword),
    ("Computer", FieldKind::Keyword),
    ("LogonType", FieldKind::Integer),
];

pub const DEVICE_PROCESS: &[(&str, FieldKind)] = &[
    ("ProcessCommandLine", FieldKind::Keyword),
    ("FolderPath", FieldKind::Keyword),
    ("LogonId", FieldKind::Integer),
    ("AccountName", FieldKind::Keyword),
    ("DeviceName", FieldKind::Keyword),
];

/// `tests/data/custom_tables.json`: names that need quoting.
pub const CUSTOM: &[(&str, FieldKind)] = &[
    ("properties.message", FieldKind::Keyword),
    ("event-id", FieldKind::Integer),
    ("user name", FieldKind::Keyword),
    ("where", FieldKind::Keyword),
    ("Props", FieldKind::Dynamic),
];

pub const AUDIT_LOGS: &[(&str, FieldKind)] = &[
    ("OperationName", FieldKind::Keyword),
    ("Result", FieldKind::Keyword),
    ("InitiatedBy", FieldKind::Dynamic),
    ("TargetResources", FieldKind::Dynamic),
    ("InitiatedBy.user.userPrincipalName", FieldKind::Keyword),
    ("TargetResources[0].displayName", FieldKind::Keyword),
    ("DurationMs", FieldKind::Integer),
];

/// The issue's seed rule.
pub fn seed() -> MappedRule {
    query(
        Expr::and(vec![
            eq(
                "OperationName",
                "Update application - Certificates and secrets management",
                Case::Sensitive,
            ),
            Expr::or(vec![
                eq("Result", "success", Case::Sensitive),
                eq("Result", "Success", Case::Sensitive),
            ]),
        ]),
        &["AuditLogs"],
        AUDIT_LOGS,
    )
}

/// Named cases over real tables: every emitted query must pass Kusto.Language with the schemas.
pub fn cases() -> Vec<(String, MappedRule)> {
    let mut out: Vec<(String, MappedRule)> = vec![("seed".into(), seed())];
    let se = |e: Expr| {
        let mut m = query(e, &["SecurityEvent"], SECURITY_EVENT);
        m.selection.condition = Some(pred("EventID", Op::Eq(Scalar::Int(4688))));
        m
    };
    out.push((
        "escaped-star".into(),
        se(pat(
            "CommandLine",
            StrPattern::new([
                ruleport_model::Piece::AnyChars,
                ruleport_model::Piece::Lit(r":\*.".into()),
                ruleport_model::Piece::AnyChars,
            ]),
            Case::Insensitive,
        )),
    ));
    out.push((
        "null-string".into(),
        se(Expr::not(Expr::exists("SubjectUserName"))),
    ));
    out.push((
        "dotted-name".into(),
        query(
            Expr::and(vec![
                eq("properties.message", "x", Case::Insensitive),
                pred("event-id", Op::Eq(Scalar::Int(4))),
                glob("user name", "adm*", Case::Insensitive),
                eq("where", "w", Case::Sensitive),
                eq("Props.a-b.c", "v", Case::Insensitive),
            ]),
            &["RuleportTest_CL"],
            CUSTOM,
        ),
    ));
    out.push((
        "keyword".into(),
        query(
            keyword(StrPattern::contains("mimikatz")),
            &["SecurityEvent"],
            SECURITY_EVENT,
        ),
    ));
    out.push((
        "long-column-values".into(),
        query(
            Expr::or(vec![
                eq("LogonId", "0x3e7", Case::Insensitive),
                eq("LogonId", "999", Case::Insensitive),
            ]),
            &["DeviceProcessEvents"],
            DEVICE_PROCESS,
        ),
    ));
    out.push((
        "inner-wildcards".into(),
        se(Expr::and(vec![
            glob("CommandLine", "*a.?b*c\\", Case::Insensitive),
            glob("NewProcessName", "*\\rar.exe", Case::Insensitive),
            glob("ParentProcessName", "C:\\Program Files\\*", Case::Sensitive),
        ])),
    ));
    out.push((
        "regexes".into(),
        se(Expr::or(vec![
            regex(
                "CommandLine",
                r#"^a.*"b\d+$"#,
                Case::Insensitive,
                RegexAnchor::Search,
            ),
            regex(
                "NewProcessName",
                r"cmd\.exe",
                Case::Sensitive,
                RegexAnchor::Full,
            ),
        ])),
    ));
    out.push((
        "cidr".into(),
        se(Expr::or(vec![
            pred("IpAddress", Op::Cidr("10.0.0.0/8".parse().expect("net"))),
            Expr::not(pred(
                "IpAddress",
                Op::Cidr("fe80::/10".parse().expect("net")),
            )),
        ])),
    ));
    out.push((
        "numbers".into(),
        se(Expr::and(vec![
            pred(
                "LogonType",
                Op::Cmp {
                    op: CmpOp::Ge,
                    value: Scalar::Int(3),
                },
            ),
            Expr::not(pred(
                "LogonType",
                Op::Cmp {
                    op: CmpOp::Gt,
                    value: Scalar::Int(10),
                },
            )),
            Expr::or(vec![
                pred("LogonType", Op::Eq(Scalar::Int(3))),
                pred("LogonType", Op::Eq(Scalar::Int(10))),
            ]),
        ])),
    ));
    out.push((
        "dynamic-paths".into(),
        query(
            Expr::and(vec![
                glob(
                    "InitiatedBy.user.userPrincipalName",
                    "*@contoso.com",
                    Case::Insensitive,
                ),
                eq("TargetResources[0].displayName", "App", Case::Sensitive),
                eq("Result", "success", Case::Insensitive),
            ]),
            &["AuditLogs"],
            AUDIT_LOGS,
        ),
    ));
    out.push((
        "mixed-and-or".into(),
        se(Expr::or(vec![
            Expr::and(vec![
                glob("CommandLine", "*-enc*", Case::Insensitive),
                glob("CommandLine", "*bypass*", Case::Insensitive),
            ]),
            Expr::not(Expr::or(vec![
                eq(
                    "NewProcessName",
                    "C:\\Windows\\System32\\cmd.exe",
                    Case::Insensitive,
                ),
                eq(
                    "NewProcessName",
                    "C:\\Windows\\System32\\whoami.exe",
                    Case::Insensitive,
                ),
            ])),
        ])),
    ));
    let many: Vec<Expr> = (0..1000)
        .map(|i| glob("CommandLine", &format!("*tok{i}*"), Case::Insensitive))
        .collect();
    out.push(("long-or-chain".into(), se(Expr::or(many))));
    out.push((
        "union".into(),
        query(
            glob("Computer", "dc*", Case::Insensitive),
            &["SecurityEvent", "Event"],
            &[("Computer", FieldKind::Keyword)],
        ),
    ));
    out.push(("event-count".into(), event_count()));
    out.push(("value-count".into(), value_count()));
    out.push(("temporal".into(), correlation(false)));
    out.push(("temporal-ordered".into(), correlation(true)));
    out.push(("new-terms".into(), new_terms()));
    out.push(("multi-source-count".into(), multi_source_count()));
    let mut runs = correlation(true);
    if let Detection::Sequence(s) = &mut runs.rule.detection {
        s.steps[0].runs = 3;
    }
    out.push(("sequence-runs".into(), runs));
    out
}

/// Elastic new_terms: a process run by a user not seen doing so in the last 7 days.
pub fn new_terms() -> MappedRule {
    let mut m = mapped(
        Detection::NewTerms(NewTerms {
            filter: EventFilter::new(glob("FolderPath", "*\\powershell.exe", Case::Insensitive)),
            fields: vec!["AccountName".into(), "DeviceName".into()],
            history_window_start: "now-7d".into(),
        }),
        &["DeviceProcessEvents"],
        DEVICE_PROCESS,
    );
    m.rule.meta.from = Some("now-1h".into());
    m
}

/// Sigma temporal / temporal_ordered: a failed then a successful logon (4625, 4624) for one
/// TargetUserName within 10 minutes.
pub fn correlation(ordered: bool) -> MappedRule {
    let step = |id: i64| {
        let mut s = SeqStep::new(EventSource::new(EventFilter::new(pred(
            "EventID",
            Op::Eq(Scalar::Int(id)),
        ))));
        s.by = vec![Operand::field("TargetUserName")];
        s
    };
    let steps = vec![step(4625), step(4624)];
    let detection = if ordered {
        Detection::Sequence(Sequence {
            by: vec![],
            maxspan: TimeSpan::parse("10m"),
            steps,
            until: None,
        })
    } else {
        Detection::Sample(Sample {
            by: vec![],
            window: TimeSpan::parse("10m"),
            steps,
        })
    };
    mapped(detection, &["SecurityEvent"], SECURITY_EVENT)
}

/// Sigma event_count: more than 10 failed logons per target user in 5 minutes.
pub fn event_count() -> MappedRule {
    let mut src = EventSource::new(EventFilter::new(pred("EventID", Op::Eq(Scalar::Int(4625)))));
    src.name = Some("failed_logon".into());
    mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![src],
            group_by: vec!["TargetUserName".into()],
            window: TimeSpan::parse("5m"),
            window_kind: WindowKind::Sliding,
            conditions: vec![AggCondition {
                metric: Metric::Count,
                op: CmpOp::Gt,
                value: 10,
            }],
        }),
        &["SecurityEvent"],
        SECURITY_EVENT,
    )
}

/// Sigma value_count: one source address logging on to 3 or more distinct users in 1 hour.
pub fn value_count() -> MappedRule {
    let src = EventSource::new(EventFilter::new(pred("EventID", Op::Eq(Scalar::Int(4624)))));
    mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![src],
            group_by: vec!["IpAddress".into()],
            window: TimeSpan::parse("1h"),
            window_kind: WindowKind::Tumbling,
            conditions: vec![AggCondition {
                metric: Metric::DistinctCount("TargetUserName".into()),
                op: CmpOp::Ge,
                value: 3,
            }],
        }),
        &["SecurityEvent"],
        SECURITY_EVENT,
    )
}

/// Sigma event_count over two rules on one table whose filters overlap: 4625 or 4771 failures,
/// and "any failure of bob" (aliases map the group field per rule).
pub fn multi_source_count() -> MappedRule {
    let a = EventSource::new(EventFilter::new(Expr::or(vec![
        pred("EventID", Op::Eq(Scalar::Int(4625))),
        pred("EventID", Op::Eq(Scalar::Int(4771))),
    ])));
    let mut b = EventSource::new(EventFilter::new(Expr::and(vec![
        pred("EventID", Op::Eq(Scalar::Int(4625))),
        eq("TargetUserName", "bob", Case::Insensitive),
    ])));
    b.aliases.insert("User".into(), "TargetUserName".into());
    let mut a = a;
    a.aliases.insert("User".into(), "TargetUserName".into());
    mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![a, b],
            group_by: vec!["User".into()],
            window: None,
            window_kind: WindowKind::RuleLookback,
            conditions: vec![AggCondition {
                metric: Metric::Count,
                op: CmpOp::Ge,
                value: 3,
            }],
        }),
        &["SecurityEvent"],
        SECURITY_EVENT,
    )
}
