//! Hand-built pack inputs shared by the pack tests.
#![allow(dead_code, unreachable_pub)]

use ruleport_model::{
    Approximation, AttackRef, Case, Detection, EventFilter, Expr, Fidelity, LogSource, Port,
    Provenance, Rule, RuleMeta, Schema, Severity, SourceFormat, StrPattern, TargetId, Technique,
    ThreatMapping, TimeSpan, Unsupported,
};
use ruleport_pack::PackInput;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SEED_ID: &str = "1a36cace-11a7-43a8-9a10-b497c5a02cd3";
pub const SEED_KUERY: &str = "event.dataset:azure.auditlogs and azure.auditlogs.operation_name:\"Update application - Certificates and secrets management\" and event.outcome:(success or Success)";
pub const SEED_EQL: &str = "any where event.dataset == \"azure.auditlogs\" and\n  azure.auditlogs.operation_name == \"Update application - Certificates and secrets management\" and\n  event.outcome in (\"success\", \"Success\")";
pub const SEED_SPL: &str = "sourcetype=\"azure:monitor:aad\" category=AuditLogs operationName=\"Update application - Certificates and secrets management\" properties.result=\"success\"";
pub const SEED_KUSTO: &str = "AuditLogs\n| where OperationName == \"Update application - Certificates and secrets management\"\n| where Result in (\"success\", \"Success\")";

pub fn seed_sigma_doc() -> String {
    format!(
        "title: Azure Application Credential Modification\nid: {SEED_ID}\nstatus: stable\n\
         description: Identifies when a new credential is added to an application in Azure.\n\
         references:\n    - https://msrc-blog.microsoft.com/2020/12/13/customer-guidance-on-recent-nation-state-cyber-attacks/\n\
         author: Elastic\ndate: 2020-12-14\ntags:\n    - attack.defense-evasion\n    - attack.t1550.001\n\
         logsource:\n    product: azure\n    service: auditlogs\n\
         detection:\n    selection:\n        operationName: Update application - Certificates and secrets management\n\
         \x20       result|cased:\n            - success\n            - Success\n    condition: selection\nlevel: medium\n"
    )
}

pub fn seed_toml_doc() -> String {
    format!(
        "[metadata]\ncreation_date = \"2020/12/14\"\nmaturity = \"production\"\nupdated_date = \"2025/01/15\"\n\n\
         [rule]\nauthor = [\"Elastic\"]\ndescription = \"Identifies when a new credential is added to an application in Azure.\"\n\
         from = \"now-25m\"\nindex = [\"filebeat-*\", \"logs-azure*\"]\nlanguage = \"kuery\"\nlicense = \"Elastic License v2\"\n\
         name = \"Azure Application Credential Modification\"\nrisk_score = 47\nrule_id = \"{SEED_ID}\"\nseverity = \"medium\"\n\
         type = \"query\"\n\nquery = '''\n{SEED_KUERY}\n'''\n"
    )
}

fn m(field: &str, value: &str) -> Expr {
    Expr::matches(field, StrPattern::literal(value), Case::Sensitive)
}

/// The seed rule: Elastic's "Azure Application Credential Modification".
pub fn seed_rule() -> Rule {
    let meta = RuleMeta {
        id: SEED_ID.into(),
        title: "Azure Application Credential Modification".into(),
        description: "Identifies when a new credential is added to an application in Azure. An application may use a \
                      certificate or secret string to prove its identity when requesting a token. Multiple certificates \
                      and secrets can be added for an application and an adversary may abuse this by creating an \
                      additional authentication method to evade defenses or persist in an environment."
            .into(),
        authors: vec!["Elastic".into()],
        severity: Some(Severity::Medium),
        risk_score: Some(47),
        status: Some("production".into()),
        references: vec![
            "https://msrc-blog.microsoft.com/2020/12/13/customer-guidance-on-recent-nation-state-cyber-attacks/".into(),
        ],
        tags: vec![
            "Domain: Cloud".into(),
            "Data Source: Azure".into(),
            "Use Case: Identity and Access Audit".into(),
            "Tactic: Defense Evasion".into(),
        ],
        false_positives: vec!["Application credential additions may be done by a system or network administrator.".into()],
        license: Some("Elastic License v2".into()),
        version: Some(103),
        interval: TimeSpan::parse("5m"),
        from: Some("now-25m".into()),
        max_signals: Some(100),
        threat: vec![ThreatMapping {
            framework: "MITRE ATT&CK".into(),
            tactic: AttackRef {
                id: "TA0005".into(),
                name: Some("Defense Evasion".into()),
                reference: Some("https://attack.mitre.org/tactics/TA0005/".into()),
            },
            techniques: vec![Technique {
                technique: AttackRef {
                    id: "T1550".into(),
                    name: Some("Use Alternate Authentication Material".into()),
                    reference: Some("https://attack.mitre.org/techniques/T1550/".into()),
                },
                subtechniques: vec![AttackRef {
                    id: "T1550.001".into(),
                    name: Some("Application Access Token".into()),
                    reference: Some("https://attack.mitre.org/techniques/T1550/001/".into()),
                }],
            }],
        }],
        note: Some(
            "## Triage and analysis\n\n### Investigating Azure Application Credential Modification\n\n\
             - Review the `azure.auditlogs.properties.initiated_by` fields.\n- Check the application's owners.\n"
                .into(),
        ),
        setup: Some("The Azure Fleet integration, Filebeat module, or similarly structured data is required to be compatible with this rule.".into()),
        ..Default::default()
    };
    Rule {
        meta,
        logsource: LogSource { index: vec!["filebeat-*".into(), "logs-azure*".into()], ..Default::default() },
        detection: Detection::Query(EventFilter::new(Expr::and(vec![
            m("event.dataset", "azure.auditlogs"),
            m("azure.auditlogs.operation_name", "Update application - Certificates and secrets management"),
            Expr::or(vec![m("event.outcome", "success"), m("event.outcome", "Success")]),
        ]))),
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language: "kuery".into(),
        original_query: Some(SEED_KUERY.into()),
        provenance: Provenance {
            path: Some(PathBuf::from("rules/integrations/azure/defense_evasion_azure_application_credential_modification.toml")),
            line: Some(1),
            column: Some(1),
            ..Default::default()
        },
    }
}

pub fn port(t: TargetId, text: &str) -> Result<Port, Unsupported> {
    Ok(Port {
        target: t,
        text: text.into(),
        fidelity: Fidelity::Exact,
    })
}

pub fn approx_port(t: TargetId, text: &str, code: &str, reason: &str) -> Result<Port, Unsupported> {
    Ok(Port {
        target: t,
        text: text.into(),
        fidelity: Fidelity::Approximate(vec![Approximation::new(code, reason)]),
    })
}

pub fn seed_ports() -> BTreeMap<TargetId, Result<Port, Unsupported>> {
    BTreeMap::from([
        (TargetId::Kuery, port(TargetId::Kuery, SEED_KUERY)),
        (TargetId::Eql, port(TargetId::Eql, SEED_EQL)),
        (
            TargetId::Splunk,
            approx_port(
                TargetId::Splunk,
                SEED_SPL,
                "case-folded",
                "Splunk compares field values without case; `success` and `Success` both match",
            ),
        ),
        (TargetId::Sentinel, port(TargetId::Sentinel, SEED_KUSTO)),
        (TargetId::Sigma, port(TargetId::Sigma, &seed_sigma_doc())),
        (TargetId::Elastic, port(TargetId::Elastic, &seed_toml_doc())),
    ])
}

pub fn seed_input() -> PackInput {
    PackInput {
        rule: seed_rule(),
        ports: seed_ports(),
    }
}

/// Every file under `dir`, as (relative path with `/`, bytes), sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn manifest(dir: &Path, pack: &str) -> serde_json::Value {
    serde_json::from_str(&read(dir, &format!("{pack}/manifest.json"))).unwrap()
}

/// The Markdown headings of a page as (level, text).
pub fn headings(md: &str) -> Vec<(u8, String)> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let mut cur: Option<(u8, String)> = None;
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                let l = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                };
                cur = Some((l, String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, s)) = cur.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, s)) = cur.as_mut() {
                    s.push(' ');
                }
            }
            Event::End(TagEnd::Heading(_)) => out.extend(cur.take()),
            _ => {}
        }
    }
    out
}

/// The fenced code blocks of a page as (info, text).
pub fn code_blocks(md: &str) -> Vec<(String, String)> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                cur = Some((info.to_string(), String::new()))
            }
            Event::Text(t) => {
                if let Some((_, s)) = cur.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(cur.take()),
            _ => {}
        }
    }
    out
}

/// One input of each Kibana rule type (and of each way a rule can fail), for type and schema tests.
pub mod kinds {
    use super::*;
    use ruleport_model::{
        AggCondition, Aggregation, CmpOp, EventSource, Metric, NewTerms, SeqStep, Sequence,
        UnsupportedDetection, WindowKind,
    };

    fn base(id: &str, title: &str, detection: Detection) -> PackInput {
        let mut i = seed_input();
        i.rule.meta.id = id.into();
        i.rule.meta.title = title.into();
        i.rule.detection = detection;
        i
    }

    fn filter(field: &str, value: &str) -> EventFilter {
        EventFilter::new(m(field, value))
    }

    /// An EQL sequence: only the EQL port exists.
    pub fn sequence() -> PackInput {
        let step = |v| {
            SeqStep::new(EventSource::new(EventFilter {
                category: Some("process".into()),
                ..filter("process.name", v)
            }))
        };
        let mut i = base(
            "2b0a6b3e-5f43-4f0b-9d1c-6a3f1c2d4e5f",
            "Sequence rule",
            Detection::Sequence(Sequence {
                by: vec![ruleport_model::Operand::field("host.id")],
                maxspan: TimeSpan::parse("1h"),
                steps: vec![step("a.exe"), step("b.exe")],
                until: None,
            }),
        );
        i.rule
            .meta
            .extra
            .insert("event_category_override".into(), "event.type".into());
        i.rule
            .meta
            .extra
            .insert("tiebreaker_field".into(), "event.sequence".into());
        i.rule
            .meta
            .extra
            .insert("timestamp_field".into(), "@timestamp".into());
        i.ports.insert(TargetId::Eql, port(TargetId::Eql, "sequence by host.id with maxspan=1h\n  [process where process.name == \"a.exe\"]\n  [process where process.name == \"b.exe\"]"));
        for t in [TargetId::Kuery, TargetId::Splunk, TargetId::Sentinel] {
            i.ports.insert(
                t,
                Err(Unsupported::new(
                    t,
                    "sequence",
                    format!("{t} has no ordered sequences"),
                )),
            );
        }
        i
    }

    /// A threshold rule: count > 10 per user within the look-back.
    pub fn threshold() -> PackInput {
        let mut i = base(
            "3c1b7c4f-6a54-4a1c-8e2d-7b4f2d3e5f60",
            "Threshold rule",
            Detection::Aggregation(Aggregation {
                sources: vec![EventSource::new(filter("event.action", "logon-failed"))],
                group_by: vec!["user.name".into(), "source.ip".into()],
                window: None,
                window_kind: WindowKind::RuleLookback,
                conditions: vec![
                    AggCondition {
                        metric: Metric::Count,
                        op: CmpOp::Gt,
                        value: 10,
                    },
                    AggCondition {
                        metric: Metric::DistinctCount("host.id".into()),
                        op: CmpOp::Ge,
                        value: 2,
                    },
                ],
            }),
        );
        i.ports.insert(
            TargetId::Kuery,
            port(TargetId::Kuery, "event.action:\"logon-failed\""),
        );
        i
    }

    /// A new-terms rule.
    pub fn new_terms() -> PackInput {
        let mut i = base(
            "4d2c8d50-7b65-4b2d-9f3e-8c5f3e4f6071",
            "New terms rule",
            Detection::NewTerms(NewTerms {
                filter: filter("event.category", "authentication"),
                fields: vec!["user.name".into(), "source.geo.country_iso_code".into()],
                history_window_start: "now-7d".into(),
            }),
        );
        i.ports.insert(
            TargetId::Kuery,
            port(TargetId::Kuery, "event.category:authentication"),
        );
        i
    }

    /// An ES|QL rule from Elastic: kept as written.
    pub fn esql() -> PackInput {
        let q = "from logs-* metadata _id, _version, _index | where event.action == \"x\" | keep _id, _version, _index";
        let mut i = base(
            "5e3d9e61-8c76-4c3e-8a4f-9d6a4f5a7182",
            "ES|QL rule",
            Detection::Unsupported(UnsupportedDetection {
                kind: "esql".into(),
                reason: "ES|QL is not modelled".into(),
                original: Some(q.into()),
                language: Some("esql".into()),
            }),
        );
        i.rule.format = SourceFormat::ElasticToml;
        for t in [
            TargetId::Kuery,
            TargetId::Eql,
            TargetId::Splunk,
            TargetId::Sentinel,
            TargetId::Sigma,
        ] {
            i.ports.insert(
                t,
                Err(Unsupported::new(
                    t,
                    "detection-esql",
                    "ES|QL is not modelled",
                )),
            );
        }
        i
    }

    /// A machine-learning rule: nothing can publish it.
    pub fn machine_learning() -> PackInput {
        let mut i = base(
            "6f4eaf72-9d87-4d4f-9b50-ae7b5a6b8293",
            "ML rule",
            Detection::Unsupported(UnsupportedDetection {
                kind: "machine_learning".into(),
                reason: "machine learning jobs have no query".into(),
                original: None,
                language: None,
            }),
        );
        for t in TargetId::ALL {
            i.ports.insert(
                t,
                Err(Unsupported::new(
                    t,
                    "detection-machine-learning",
                    "machine learning jobs have no query",
                )),
            );
        }
        i
    }

    /// A Sigma rule: tags only, no index, informational level.
    pub fn sigma_sourced() -> PackInput {
        let mut i = base(
            "7a5fb083-ae98-4e50-8c61-bf8c6b7c93a4",
            "Sigma rule",
            Detection::Query(filter("CommandLine", "whoami")),
        );
        i.rule.format = SourceFormat::Sigma;
        i.rule.logsource = ruleport_model::LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            ..Default::default()
        };
        i.rule.meta.threat.clear();
        i.rule.meta.tags = vec![
            "attack.discovery".into(),
            "attack.t1033".into(),
            "attack.stealth".into(),
        ];
        i.rule.meta.severity = Some(Severity::Informational);
        i.rule.meta.risk_score = None;
        i.rule.meta.interval = None;
        i.rule.meta.from = None;
        i.rule.meta.version = None;
        i.ports.insert(
            TargetId::Kuery,
            port(TargetId::Kuery, "process.command_line:whoami"),
        );
        i.ports.insert(
            TargetId::Sentinel,
            port(
                TargetId::Sentinel,
                "SecurityEvent\n| where CommandLine == \"whoami\"",
            ),
        );
        i
    }

    pub fn all() -> Vec<PackInput> {
        vec![
            seed_input(),
            sequence(),
            threshold(),
            new_terms(),
            esql(),
            machine_learning(),
            sigma_sourced(),
        ]
    }
}

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

const SENTINEL_TACTICS: &[&str] = &[
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "Exfiltration",
    "CommandAndControl",
    "Impact",
    "PreAttack",
    "ImpairProcessControl",
    "InhibitResponseFunction",
];

fn is_technique(s: &str, sub: bool) -> bool {
    let b = s.as_bytes();
    let d = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    if sub {
        b.len() == 9 && b[0] == b'T' && d(&b[1..5]) && b[5] == b'.' && d(&b[6..])
    } else {
        b.len() == 5 && b[0] == b'T' && d(&b[1..])
    }
}

/// Strings ARM would evaluate as template expressions.
fn arm_expressions(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s)
            if s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[") =>
        {
            out.push(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| arm_expressions(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| arm_expressions(x, out)),
        _ => {}
    }
}

/// The structure of a deployable ARM template of scheduled analytics rules.
pub fn check_arm(arm: &serde_json::Value) {
    assert_eq!(
        arm["$schema"],
        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
    );
    assert_eq!(arm["contentVersion"], "1.0.0.0");
    assert_eq!(arm["parameters"]["workspace"]["type"], "string");
    let mut names = std::collections::BTreeSet::new();
    for r in arm["resources"].as_array().expect("resources") {
        assert_eq!(r["type"], "Microsoft.SecurityInsights/alertRules");
        assert_eq!(r["kind"], "Scheduled");
        assert!(
            r["apiVersion"].as_str().is_some_and(|v| v.len() == 10),
            "{r}"
        );
        let name = r["name"].as_str().unwrap();
        assert!(is_guid(name), "{name}");
        assert!(names.insert(name.to_string()), "duplicate resource {name}");
        assert_eq!(
            r["scope"],
            "[concat('Microsoft.OperationalInsights/workspaces/', parameters('workspace'))]"
        );
        let p = &r["properties"];
        for k in [
            "displayName",
            "query",
            "queryFrequency",
            "queryPeriod",
            "severity",
            "triggerOperator",
            "suppressionDuration",
        ] {
            assert!(p[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {p}");
        }
        for k in ["enabled", "suppressionEnabled"] {
            assert!(p[k].is_boolean(), "{k}");
        }
        assert!(
            ["Informational", "Low", "Medium", "High"].contains(&p["severity"].as_str().unwrap())
        );
        assert!(["GreaterThan", "LessThan", "Equal", "NotEqual"]
            .contains(&p["triggerOperator"].as_str().unwrap()));
        assert!(p["triggerThreshold"].as_u64().is_some_and(|t| t <= 10_000));
        for k in ["queryFrequency", "queryPeriod", "suppressionDuration"] {
            let d = p[k].as_str().unwrap();
            assert!(d.starts_with("PT") || d.starts_with('P'), "{k} = {d}");
        }
        for t in p["tactics"].as_array().unwrap() {
            assert!(SENTINEL_TACTICS.contains(&t.as_str().unwrap()), "{t}");
        }
        for t in p["techniques"].as_array().unwrap() {
            assert!(is_technique(t.as_str().unwrap(), false), "{t}");
        }
        for t in p["subTechniques"].as_array().unwrap() {
            assert!(is_technique(t.as_str().unwrap(), true), "{t}");
        }
        let mut exprs = Vec::new();
        arm_expressions(p, &mut exprs);
        assert!(
            exprs.is_empty(),
            "rule text would be evaluated by ARM: {exprs:?}"
        );
    }
}

/// The Azure-Sentinel analytic-rule YAML constraints.
pub fn check_sentinel_yaml(text: &str) {
    let y: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    let s = |k: &str| {
        y.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing in\n{text}"))
            .to_string()
    };
    assert!(is_guid(&s("id")));
    assert!((1..=256).contains(&s("name").chars().count()));
    assert!(s("description").chars().count() <= 5000);
    assert!(["Informational", "Low", "Medium", "High"].contains(&s("severity").as_str()));
    let dur = |d: &str| -> u64 {
        let (n, u) = d.split_at(d.len() - 1);
        let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {d}"));
        n * match u {
            "m" => 1,
            "h" => 60,
            "d" => 1440,
            _ => panic!("duration unit {d}"),
        }
    };
    let (f, p) = (dur(&s("queryFrequency")), dur(&s("queryPeriod")));
    assert!(
        (5..=14 * 1440).contains(&f) && (5..=14 * 1440).contains(&p) && p >= f,
        "{f} {p}"
    );
    assert!(["gt", "lt", "eq", "ne"].contains(&s("triggerOperator").as_str()));
    assert!(y
        .get("triggerThreshold")
        .and_then(|v| v.as_u64())
        .is_some_and(|t| t <= 10_000));
    assert!((1..=10_000).contains(&s("query").chars().count()));
    let version = s("version");
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    assert!(["Scheduled", "NRT"].contains(&s("kind").as_str()));
    for t in y.get("tactics").and_then(|v| v.as_sequence()).unwrap() {
        assert!(SENTINEL_TACTICS.contains(&t.as_str().unwrap()));
    }
    for t in y
        .get("relevantTechniques")
        .and_then(|v| v.as_sequence())
        .unwrap()
    {
        let t = t.as_str().unwrap();
        assert!(is_technique(t, false) || is_technique(t, true), "{t}");
    }
    for c in y
        .get("requiredDataConnectors")
        .and_then(|v| v.as_sequence())
        .unwrap()
    {
        assert!(c.get("connectorId").and_then(|v| v.as_str()).is_some());
        assert!(c.get("dataTypes").and_then(|v| v.as_sequence()).is_some());
    }
    if let Some(em) = y.get("entityMappings") {
        let em = em.as_sequence().unwrap();
        assert!((1..=5).contains(&em.len()));
        for e in em {
            let f = e
                .get("fieldMappings")
                .and_then(|v| v.as_sequence())
                .unwrap();
            assert!((1..=3).contains(&f.len()));
        }
    }
}
