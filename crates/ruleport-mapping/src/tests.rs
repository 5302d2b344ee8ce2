use super::*;
use crate::coverage::CoverageRow;
use ruleport_model::{EventFilter, Operand, Piece, RuleMeta, SeqStep, SourceFormat};
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
            lit(
                "azure.auditlogs.operation_name",
                "Update application - Certificates and secrets management",
            ),
            Expr::or(vec![
                lit("event.outcome", "success"),
                lit("event.outcome", "Success"),
            ]),
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
    assert!(
        mapped.approximations.is_empty(),
        "{:?}",
        mapped.approximations
    );
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(
        f.expr,
        Expr::and(vec![
            lit(
                "OperationName",
                "Update application - Certificates and secrets management"
            ),
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
    assert!(mapped.rule.detection.filters()[0]
        .expr
        .fields()
        .contains(&"properties.result".to_string()));
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
    assert!(mapped
        .approximations
        .iter()
        .any(|a| a.code == "unmapped-field" && a.reason.contains("no.such.field")));
}

#[test]
fn event_views() {
    let m = Mapping::builtin();
    let ev = json!({"event": {"dataset": "azure.auditlogs", "outcome": "Success"},
                    "azure": {"auditlogs": {"operation_name": "Update application"}}});
    let s = m.view_event(&ev, Schema::Ecs, None, Schema::Sentinel);
    assert_eq!(
        s,
        json!({"Result": "Success", "OperationName": "Update application", "Type": "AuditLogs"})
    );
    let sp = m.view_event(&ev, Schema::Ecs, None, Schema::Splunk);
    assert_eq!(sp["properties.result"], json!("Success"));
    assert_eq!(sp["sourcetype"], json!("azure:monitor:aad"));
    assert_eq!(sp["category"], json!("AuditLogs"));
    let other = json!({"event": {"dataset": "azure.signinlogs"}});
    assert_eq!(
        m.view_event(&other, Schema::Ecs, None, Schema::Sentinel)["Type"],
        json!("SigninLogs")
    );
    // Back to ECS from a Sentinel row.
    let back = m.view_event(&s, Schema::Sentinel, None, Schema::Ecs);
    assert_eq!(lookup_str(&back, "event.outcome"), Some("Success".into()));
}

fn lookup_str(v: &serde_json::Value, p: &str) -> Option<String> {
    ruleport_model::event::lookup(v, p)
        .first()
        .and_then(|v| v.as_str().map(str::to_string))
}

#[test]
fn user_override_replaces_a_field_name() {
    let dir = std::env::temp_dir().join(format!("rp-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("override.yml");
    let text = BUILTIN[1]
        .1
        .replace("sentinel: Result,", "sentinel: ResultOverridden,");
    std::fs::write(&p, text).expect("write");
    let m = Mapping::with_overrides(&[&p]).expect("load");
    let mapped = m.map_rule(&seed(), Schema::Sentinel);
    assert!(mapped.rule.detection.filters()[0]
        .expr
        .fields()
        .contains(&"ResultOverridden".to_string()));
}

// ---- Sigma rules over the Windows, network and cloud families ----

fn sigma_rule(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
    expr: Expr,
) -> Rule {
    Rule {
        meta: RuleMeta::default(),
        logsource: LogSource {
            product: product.map(str::to_string),
            category: category.map(str::to_string),
            service: service.map(str::to_string),
            ..Default::default()
        },
        detection: Detection::Query(EventFilter::new(expr)),
        schema: Schema::Sigma,
        format: SourceFormat::Sigma,
        language: "sigma".into(),
        original_query: None,
        provenance: Default::default(),
    }
}

fn ci(f: &str, p: StrPattern) -> Expr {
    Expr::matches(f, p, Case::Insensitive)
}

fn fields_of(m: &MappedRule) -> Vec<String> {
    m.rule.detection.filters()[0].expr.fields()
}

fn codes(m: &MappedRule) -> Vec<&str> {
    m.approximations.iter().map(|a| a.code.as_str()).collect()
}

fn proc_rule() -> Rule {
    sigma_rule(
        Some("windows"),
        Some("process_creation"),
        None,
        Expr::and(vec![
            ci("Image", StrPattern::suffix("\\cmd.exe")),
            ci("CommandLine", StrPattern::contains("whoami")),
        ]),
    )
}

fn sentinel(set: SentinelSet) -> Mapping {
    let mut m = Mapping::builtin();
    m.sentinel_set = set;
    m
}

#[test]
fn process_creation_in_every_schema() {
    let m = Mapping::builtin();
    let ecs = m.map_rule(&proc_rule(), Schema::Ecs);
    assert_eq!(
        fields_of(&ecs),
        vec!["process.command_line", "process.executable"]
    );
    let cond = ecs.selection.condition.clone().expect("ecs condition");
    assert!(cond.fields().contains(&"event.category".to_string()));
    assert!(ecs.approximations.is_empty(), "{:?}", ecs.approximations);

    let spl = m.map_rule(&proc_rule(), Schema::Splunk);
    assert_eq!(fields_of(&spl), vec!["CommandLine", "Image"]);
    let cond = spl.selection.condition.expect("splunk condition");
    assert_eq!(
        cond,
        Expr::and(vec![
            Expr::pred(Subject::field("EventCode"), Op::Eq(Scalar::Int(1))),
            ci(
                "source",
                StrPattern::literal("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational")
            ),
        ])
    );

    let xdr = sentinel(SentinelSet::Xdr).map_rule(&proc_rule(), Schema::Sentinel);
    assert_eq!(xdr.selection.tables, vec!["DeviceProcessEvents"]);
    assert_eq!(fields_of(&xdr), vec!["FolderPath", "ProcessCommandLine"]);

    let ev = sentinel(SentinelSet::Event).map_rule(&proc_rule(), Schema::Sentinel);
    assert_eq!(ev.selection.tables, vec!["SecurityEvent"]);
    assert_eq!(fields_of(&ev), vec!["CommandLine", "NewProcessName"]);
    assert_eq!(
        ev.selection.condition,
        Some(Expr::pred(
            Subject::field("EventID"),
            Op::Eq(Scalar::Int(4688))
        ))
    );

    let asim = sentinel(SentinelSet::Asim).map_rule(&proc_rule(), Schema::Sentinel);
    assert_eq!(asim.selection.tables, vec!["imProcessCreate"]);
    assert_eq!(
        fields_of(&asim),
        vec!["TargetProcessCommandLine", "TargetProcessName"]
    );
}

#[test]
fn a_field_the_set_table_lacks_reads_the_sysmon_table() {
    // XDR has no Sysmon `Hashes` column: the rule reads Sysmon from WindowsEvent instead.
    let r = sigma_rule(
        Some("windows"),
        Some("process_creation"),
        None,
        Expr::and(vec![
            ci("Image", StrPattern::suffix("\\x.exe")),
            ci("Hashes", StrPattern::contains("IMPHASH=ABC")),
        ]),
    );
    let xdr = sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel);
    assert_eq!(xdr.selection.tables, vec!["WindowsEvent"]);
    assert_eq!(fields_of(&xdr), vec!["EventData.Hashes", "EventData.Image"]);
    assert!(xdr.approximations.is_empty(), "{:?}", xdr.approximations);
    assert_eq!(xdr.kind_of("EventData.Hashes"), FieldKind::Dynamic);
}

#[test]
fn a_sentinel_only_row_translates_values_for_every_set() {
    // linux network rows name only the generic `sentinel` side; the XDR set reads those names,
    // so it must read their value map too, not write `ActionType == "true"`.
    let r = sigma_rule(
        Some("linux"),
        Some("network_connection"),
        None,
        ci("Initiated", StrPattern::literal("true")),
    );
    let action = |v: &str| ci("ActionType", StrPattern::literal(v));
    for set in [SentinelSet::Xdr, SentinelSet::Event] {
        let m = sentinel(set).map_rule(&r, Schema::Sentinel);
        let Detection::Query(f) = &m.rule.detection else {
            panic!("query")
        };
        assert_eq!(
            f.expr,
            Expr::or(vec![
                action("ConnectionSuccess"),
                action("ConnectionAttempt"),
                action("ConnectionFailed"),
                action("ConnectionRequest"),
            ]),
            "{set:?}"
        );
    }
    let net = json!({"Channel": "Linux-Sysmon/Operational", "EventID": 3, "Initiated": "true",
                     "DestinationPort": 4444});
    let x = sentinel(SentinelSet::Xdr).view_event(&net, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(x["ActionType"], json!("ConnectionSuccess"));
}

#[test]
fn connection_direction_is_a_value_map() {
    let r = sigma_rule(
        Some("windows"),
        Some("network_connection"),
        None,
        Expr::and(vec![
            ci("Initiated", StrPattern::literal("true")),
            Expr::pred(Subject::field("DestinationPort"), Op::Eq(Scalar::Int(4444))),
        ]),
    );
    let xdr = sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel);
    let Detection::Query(f) = &xdr.rule.detection else {
        panic!("query")
    };
    let action = |v: &str| ci("ActionType", StrPattern::literal(v));
    assert_eq!(
        f.expr,
        Expr::and(vec![
            Expr::or(vec![
                action("ConnectionSuccess"),
                action("ConnectionAttempt"),
                action("ConnectionFailed"),
                action("ConnectionRequest"),
            ]),
            Expr::pred(Subject::field("RemotePort"), Op::Eq(Scalar::Int(4444))),
        ])
    );
    assert_eq!(xdr.kind_of("RemotePort"), FieldKind::Integer);
    let ecs = m_ecs(&r);
    let Detection::Query(f) = &ecs.rule.detection else {
        panic!("query")
    };
    assert!(matches!(&f.expr, Expr::And(v) if v[0] == Expr::or(vec![
        ci("network.direction", StrPattern::literal("egress")),
        ci("network.direction", StrPattern::literal("outbound")),
    ])));
    // A wildcard value cannot go through a value map: it is kept and reported.
    let r2 = sigma_rule(
        Some("windows"),
        Some("network_connection"),
        None,
        ci("Initiated", StrPattern::prefix("t")),
    );
    assert!(
        codes(&sentinel(SentinelSet::Xdr).map_rule(&r2, Schema::Sentinel))
            .contains(&"value-format")
    );
}

fn m_ecs(r: &Rule) -> MappedRule {
    Mapping::builtin().map_rule(r, Schema::Ecs)
}

#[test]
fn registry_paths_are_value_format_approximations_where_hives_differ() {
    let r = sigma_rule(
        Some("windows"),
        Some("registry_set"),
        None,
        ci(
            "TargetObject",
            StrPattern::contains("HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"),
        ),
    );
    let xdr = sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel);
    assert_eq!(xdr.selection.tables, vec!["DeviceRegistryEvents"]);
    assert_eq!(fields_of(&xdr), vec!["RegistryKey"]);
    let vf: Vec<_> = xdr
        .approximations
        .iter()
        .filter(|a| a.code == "value-format")
        .collect();
    assert_eq!(vf.len(), 1, "{:?}", xdr.approximations);
    assert!(vf[0].reason.contains("RegistryValueName"));
    // Splunk's Sysmon add-on and WindowsEvent keep Sysmon's own text: exact.
    assert!(Mapping::builtin()
        .map_rule(&r, Schema::Splunk)
        .approximations
        .is_empty());
    assert!(sentinel(SentinelSet::Event)
        .map_rule(&r, Schema::Sentinel)
        .approximations
        .is_empty());
    // A Details value without a type prefix is unaffected in XDR.
    let d = sigma_rule(
        Some("windows"),
        Some("registry_set"),
        None,
        ci("Details", StrPattern::literal("DWORD (0x00000001)")),
    );
    assert!(
        codes(&sentinel(SentinelSet::Xdr).map_rule(&d, Schema::Sentinel)).contains(&"value-format")
    );
    let d2 = sigma_rule(
        Some("windows"),
        Some("registry_set"),
        None,
        ci("Details", StrPattern::contains("evil.exe")),
    );
    assert!(sentinel(SentinelSet::Xdr)
        .map_rule(&d2, Schema::Sentinel)
        .approximations
        .is_empty());
}

#[test]
fn security_events_use_securityevent_columns_or_windowsevent() {
    let r = sigma_rule(
        Some("windows"),
        None,
        Some("security"),
        Expr::and(vec![
            Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(4624))),
            Expr::pred(Subject::field("LogonType"), Op::Eq(Scalar::Int(3))),
        ]),
    );
    for set in SentinelSet::ALL {
        let s = sentinel(set).map_rule(&r, Schema::Sentinel);
        assert_eq!(s.selection.tables, vec!["SecurityEvent"], "{set:?}");
        assert_eq!(fields_of(&s), vec!["EventID", "LogonType"]);
        assert_eq!(s.kind_of("LogonType"), FieldKind::Integer);
    }
    let e = Mapping::builtin().map_rule(&r, Schema::Ecs);
    assert_eq!(fields_of(&e), vec!["event.code", "winlog.logon.type"]);
    assert!(
        codes(&e).contains(&"value-format"),
        "winlogbeat names logon types"
    );
    let s = Mapping::builtin().map_rule(&r, Schema::Splunk);
    assert_eq!(fields_of(&s), vec!["EventCode", "LogonType"]);

    // AccessList is no SecurityEvent column: forwarded Security events in WindowsEvent have it.
    let r2 = sigma_rule(
        Some("windows"),
        None,
        Some("security"),
        Expr::and(vec![
            Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(4663))),
            ci("AccessList", StrPattern::contains("%%4416")),
        ]),
    );
    let s2 = Mapping::builtin().map_rule(&r2, Schema::Sentinel);
    assert_eq!(s2.selection.tables, vec!["WindowsEvent"]);
    assert_eq!(fields_of(&s2), vec!["EventData.AccessList", "EventID"]);
    assert!(s2.approximations.is_empty(), "{:?}", s2.approximations);
}

#[test]
fn cloud_sources_map_to_their_tables() {
    let m = Mapping::builtin();
    let ct = sigma_rule(
        Some("aws"),
        None,
        Some("cloudtrail"),
        Expr::and(vec![
            ci("eventSource", StrPattern::literal("iam.amazonaws.com")),
            ci("eventName", StrPattern::literal("CreateAccessKey")),
            ci("userIdentity.arn", StrPattern::contains("root")),
        ]),
    );
    let s = m.map_rule(&ct, Schema::Sentinel);
    assert_eq!(s.selection.tables, vec!["AWSCloudTrail"]);
    assert_eq!(
        fields_of(&s),
        vec!["EventName", "EventSource", "UserIdentityArn"]
    );
    let e = m.map_rule(&ct, Schema::Ecs);
    assert_eq!(
        fields_of(&e),
        vec![
            "aws.cloudtrail.user_identity.arn",
            "event.action",
            "event.provider"
        ]
    );
    let sp = m.map_rule(&ct, Schema::Splunk);
    assert_eq!(
        fields_of(&sp),
        vec!["eventName", "eventSource", "userIdentity.arn"]
    );

    let okta = sigma_rule(
        Some("okta"),
        None,
        Some("okta"),
        ci(
            "eventType",
            StrPattern::literal("user.mfa.factor.deactivate"),
        ),
    );
    assert_eq!(
        fields_of(&m.map_rule(&okta, Schema::Sentinel)),
        vec!["eventType_s"]
    );
    let gh = sigma_rule(
        Some("github"),
        None,
        Some("audit"),
        ci("action", StrPattern::literal("repo.destroy")),
    );
    let ghs = m.map_rule(&gh, Schema::Sentinel);
    assert_eq!(
        (ghs.selection.tables.clone(), fields_of(&ghs)),
        (
            vec!["GitHubAuditLogPolling_CL".to_string()],
            vec!["action_s".to_string()]
        )
    );
    let web = sigma_rule(
        None,
        Some("webserver"),
        None,
        ci("cs-uri-query", StrPattern::contains("../")),
    );
    let ws = m.map_rule(&web, Schema::Sentinel);
    assert_eq!(
        (ws.selection.tables.clone(), fields_of(&ws)),
        (
            vec!["W3CIISLog".to_string()],
            vec!["csUriQuery".to_string()]
        )
    );
    let aud = sigma_rule(
        Some("linux"),
        None,
        Some("auditd"),
        Expr::and(vec![
            ci("type", StrPattern::literal("EXECVE")),
            ci("a0", StrPattern::literal("nc")),
        ]),
    );
    let au = m.map_rule(&aud, Schema::Sentinel);
    assert_eq!(
        (au.selection.tables.clone(), fields_of(&au)),
        (
            vec!["LinuxAuditLog".to_string()],
            vec!["RecordType".to_string(), "a0".to_string()]
        )
    );
}

#[test]
fn ecs_rules_resolve_by_category_os_index_and_fields() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.logsource.index = vec!["logs-endpoint.events.process-*".into()];
    r.detection = Detection::Query(EventFilter {
        category: Some("process".into()),
        expr: Expr::and(vec![
            lit("host.os.type", "linux"),
            lit("process.name", "nc"),
        ]),
    });
    let s = m.map_rule(&r, Schema::Splunk);
    assert_eq!(
        s.selection.logsource_id.as_deref(),
        Some("linux.process_creation")
    );
    r.detection = Detection::Query(EventFilter {
        category: Some("process".into()),
        expr: Expr::and(vec![
            lit("host.os.type", "windows"),
            lit("process.executable", "C:\\x.exe"),
        ]),
    });
    let x = sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel);
    assert_eq!(
        x.selection.logsource_id.as_deref(),
        Some("windows.process_creation")
    );
    assert_eq!(
        fields_of(&x),
        vec!["FolderPath"],
        "category and OS are implied by the table"
    );
    let Detection::Query(f) = &x.rule.detection else {
        panic!("query")
    };
    assert_eq!(f.category, None);
    // A PowerShell rule: the index and the script-block field point to ps_script.
    r.logsource.index = vec!["logs-windows.powershell*".into(), "winlogbeat-*".into()];
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.category", "process"),
        lit("host.os.type", "windows"),
        Expr::matches(
            "powershell.file.script_block_text",
            StrPattern::contains("Invoke-Mimikatz"),
            Case::Insensitive,
        ),
    ])));
    let s = m.map_rule(&r, Schema::Splunk);
    assert_eq!(
        s.selection.logsource_id.as_deref(),
        Some("windows.ps_script")
    );
    assert!(
        fields_of(&s).contains(&"ScriptBlockText".to_string()),
        "{:?}",
        fields_of(&s)
    );
    // To Sigma: winlog.event_data names lose their prefix.
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.code", "4662"),
        lit("winlog.event_data.AccessMask", "0x100"),
    ])));
    r.logsource.index = vec!["logs-system.security*".into()];
    let g = m.map_rule(&r, Schema::Sigma);
    assert_eq!(
        g.selection.logsource_id.as_deref(),
        Some("windows.security")
    );
    assert_eq!(fields_of(&g), vec!["AccessMask", "EventID"]);
}

#[test]
fn coverage_counts_rules_and_gaps() {
    let m = Mapping::builtin();
    let rules = vec![
        proc_rule(),
        sigma_rule(
            Some("windows"),
            Some("process_creation"),
            None,
            ci("NoSuchField", StrPattern::literal("x")),
        ),
        sigma_rule(
            Some("nosuchproduct"),
            None,
            None,
            ci("a", StrPattern::literal("x")),
        ),
    ];
    let c = m.coverage(&rules, Schema::Ecs);
    assert_eq!((c.rules, c.logsource_mapped, c.fully_mapped), (3, 2, 2));
    assert_eq!(
        c.unmapped_logsources,
        vec![CoverageRow {
            name: "nosuchproduct/-/-".into(),
            rules: 1
        }]
    );
    // Windows EventData fields keep their names under winlog.event_data, so only the
    // unknown product's field is unmapped for ECS.
    assert_eq!(
        c.unmapped_fields,
        vec![CoverageRow {
            name: "nosuchproduct/-/-: a".into(),
            rules: 1
        }]
    );
    let x = sentinel(SentinelSet::Xdr).coverage(&rules, Schema::Sentinel);
    assert_eq!(
        x.fully_mapped, 2,
        "NoSuchField reads WindowsEvent EventData"
    );
    assert!((c.share() - 2.0 / 3.0).abs() < 1e-9);
    assert!(c.render_text(5).starts_with("ecs: 2/3 rules fully mapped"));
}

#[test]
fn mapping_files_are_checked() {
    let bad = "logsources:\n  - id: x\n    fields:\n      - {sigma: A, sentinal: B}\n";
    let d = parse_mapping(bad, Path::new("m.yml")).expect_err("bad key");
    assert_eq!(d.code, "E-MAPPING-KEY");
    assert_eq!(d.pos, Some(ruleport_model::Pos::new(4, 20)));
    assert_eq!(d.hint.as_deref(), Some("did you mean `sentinel`?"));
    let bad2 = "common_fields:\n  - {sigma: \"a*\", ecs: b}\n";
    assert_eq!(
        parse_mapping(bad2, Path::new("m.yml"))
            .expect_err("pattern")
            .code,
        "E-MAPPING-PATTERN"
    );
    let bad3 = "logsources: [{id: x, nope: 1}]\n";
    assert_eq!(
        parse_mapping(bad3, Path::new("m.yml"))
            .expect_err("field")
            .code,
        "E-MAPPING-YAML"
    );
}

// ---- Event views of Sysmon-shaped events (as SigmaHQ's regression data flattens them) ----

fn sysmon_1() -> serde_json::Value {
    json!({
        "Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
        "Provider_Name": "Microsoft-Windows-Sysmon", "Computer": "ws1.corp",
        "Image": "C:\\Windows\\System32\\curl.exe", "CommandLine": "curl -A evil http://x",
        "ParentImage": "C:\\Windows\\explorer.exe", "User": "CORP\\bob",
        "OriginalFileName": "curl.exe", "Hashes": "SHA256=AB12", "ProcessId": 6400
    })
}

#[test]
fn sysmon_process_event_views() {
    let m = Mapping::builtin();
    let ev = sysmon_1();
    assert_eq!(
        m.classify(&ev, Schema::Sigma).map(|l| l.id.as_str()),
        Some("windows.process_creation")
    );

    let ecs = m.view_event(&ev, Schema::Sigma, None, Schema::Ecs);
    assert_eq!(
        ecs,
        json!({
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "provider_name": "Microsoft-Windows-Sysmon",
                       "event_data": {"Hashes": "SHA256=AB12"}},
            "host": {"name": "ws1.corp", "os": {"type": "windows"}},
            "process": {"executable": "C:\\Windows\\System32\\curl.exe", "command_line": "curl -A evil http://x",
                        "parent": {"executable": "C:\\Windows\\explorer.exe"},
                        "pe": {"original_file_name": "curl.exe"}, "pid": 6400},
            "user": {"name": "CORP\\bob"},
            "event": {"code": 1, "category": "process", "type": "start"}
        })
    );

    let spl = m.view_event(&ev, Schema::Sigma, None, Schema::Splunk);
    assert_eq!(
        spl["source"],
        json!("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(spl["EventCode"], json!(1));
    assert_eq!(spl["Image"], json!("C:\\Windows\\System32\\curl.exe"));
    assert_eq!(spl["Name"], json!("Microsoft-Windows-Sysmon"));
    assert_eq!(
        spl["Channel"],
        json!("Microsoft-Windows-Sysmon/Operational")
    );
    assert!(spl.get("EventID").is_none());

    let xdr = sentinel(SentinelSet::Xdr).view_event(&ev, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(xdr["Type"], json!("DeviceProcessEvents"));
    assert_eq!(xdr["FolderPath"], json!("C:\\Windows\\System32\\curl.exe"));
    assert_eq!(xdr["ProcessCommandLine"], json!("curl -A evil http://x"));
    assert_eq!(
        xdr["InitiatingProcessFolderPath"],
        json!("C:\\Windows\\explorer.exe")
    );
    assert_eq!(xdr["ProcessVersionInfoOriginalFileName"], json!("curl.exe"));
    assert_eq!(xdr["DeviceName"], json!("ws1.corp"));

    let sec = sentinel(SentinelSet::Event).view_event(&ev, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(sec["Type"], json!("SecurityEvent"));
    assert_eq!(sec["EventID"], json!(4688));
    assert_eq!(
        sec["NewProcessName"],
        json!("C:\\Windows\\System32\\curl.exe")
    );
    assert_eq!(sec["ParentProcessName"], json!("C:\\Windows\\explorer.exe"));
    assert_eq!(sec["SubjectUserName"], json!("CORP\\bob"));

    let asim = sentinel(SentinelSet::Asim).view_event(&ev, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(asim["Type"], json!("imProcessCreate"));
    assert_eq!(
        asim["TargetProcessName"],
        json!("C:\\Windows\\System32\\curl.exe")
    );
    assert_eq!(
        asim["ActingProcessName"],
        json!("C:\\Windows\\explorer.exe")
    );

    // A port that fell back to Sysmon in WindowsEvent sees a WindowsEvent row.
    let we = sentinel(SentinelSet::Xdr).view_event_in(
        &ev,
        Schema::Sigma,
        None,
        Schema::Sentinel,
        Some("WindowsEvent"),
    );
    assert_eq!(we["Type"], json!("WindowsEvent"));
    assert_eq!(we["Channel"], json!("Microsoft-Windows-Sysmon/Operational"));
    assert_eq!(we["EventID"], json!(1));
    assert_eq!(we["Provider"], json!("Microsoft-Windows-Sysmon"));
    assert_eq!(we["EventData"]["Hashes"], json!("SHA256=AB12"));
    assert_eq!(
        we["EventData"]["Image"],
        json!("C:\\Windows\\System32\\curl.exe")
    );
}

#[test]
fn views_round_trip_back_to_sigma() {
    let m = Mapping::builtin();
    let ev = sysmon_1();
    for to in [Schema::Ecs, Schema::Splunk] {
        let v = m.view_event(&ev, Schema::Sigma, None, to);
        let back = m.view_event(&v, to, None, Schema::Sigma);
        for f in [
            "Image",
            "CommandLine",
            "ParentImage",
            "OriginalFileName",
            "Hashes",
            "Computer",
            "Provider_Name",
        ] {
            assert_eq!(back[f], ev[f], "{f} via {to:?}: {back}");
        }
    }
    for set in SentinelSet::ALL {
        let s = sentinel(set);
        let v = s.view_event(&ev, Schema::Sigma, None, Schema::Sentinel);
        let back = s.view_event(&v, Schema::Sentinel, None, Schema::Sigma);
        for f in ["Image", "CommandLine", "ParentImage"] {
            assert_eq!(back[f], ev[f], "{f} via {set:?}: {back}");
        }
    }
}

#[test]
fn views_of_registry_network_and_security_events() {
    let m = Mapping::builtin();
    let reg = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13, "EventType": "SetValue",
                     "TargetObject": "HKLM\\SOFTWARE\\Run\\x", "Details": "C:\\x.exe", "Image": "C:\\a.exe"});
    let e = m.view_event(&reg, Schema::Sigma, None, Schema::Ecs);
    assert_eq!(e["registry"]["path"], json!("HKLM\\SOFTWARE\\Run\\x"));
    assert_eq!(e["event"]["category"], json!("registry"));
    assert_eq!(e["event"]["action"], json!("modification"));
    let x = sentinel(SentinelSet::Xdr).view_event(&reg, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(x["Type"], json!("DeviceRegistryEvents"));
    assert_eq!(x["RegistryValueData"], json!("C:\\x.exe"));
    assert_eq!(x["ActionType"], json!("RegistryValueSet"));
    // A registry_set rule accepts this event although it classifies as registry_event.
    let ls = LogSource {
        product: Some("windows".into()),
        category: Some("registry_set".into()),
        ..Default::default()
    };
    assert!(m.event_in_logsource(&reg, Schema::Sigma, &ls));
    let fe = LogSource {
        product: Some("windows".into()),
        category: Some("file_event".into()),
        ..Default::default()
    };
    assert!(!m.event_in_logsource(&reg, Schema::Sigma, &fe));

    let net = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3, "Initiated": "true",
                     "DestinationIp": "10.0.0.5", "DestinationPort": 4444, "Image": "C:\\a.exe"});
    let x = sentinel(SentinelSet::Xdr).view_event(&net, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(
        (
            x["ActionType"].clone(),
            x["RemoteIP"].clone(),
            x["RemotePort"].clone()
        ),
        (json!("ConnectionSuccess"), json!("10.0.0.5"), json!(4444))
    );
    let e = m.view_event(&net, Schema::Sigma, None, Schema::Ecs);
    assert_eq!(
        (
            e["network"]["direction"].clone(),
            e["destination"]["port"].clone()
        ),
        (json!("egress"), json!(4444))
    );
    let back = m.view_event(&e, Schema::Ecs, None, Schema::Sigma);
    assert_eq!(back["Initiated"], json!("true"));

    let sec = json!({"Channel": "Security", "EventID": 4624, "LogonType": 3, "TargetUserName": "bob", "Computer": "dc1"});
    let s = m.view_event(&sec, Schema::Sigma, None, Schema::Sentinel);
    assert_eq!(
        s,
        json!({"Channel": "Security", "EventID": 4624, "LogonType": 3, "TargetUserName": "bob", "Computer": "dc1", "Type": "SecurityEvent"})
    );
    let sp = m.view_event(&sec, Schema::Sigma, None, Schema::Splunk);
    assert_eq!(
        sp,
        json!({"Channel": "Security", "EventCode": 4624, "LogonType": 3, "TargetUserName": "bob", "Computer": "dc1", "source": "XmlWinEventLog:Security"})
    );
    let e = m.view_event(&sec, Schema::Sigma, None, Schema::Ecs);
    assert_eq!(e["winlog"]["event_data"]["TargetUserName"], json!("bob"));
    assert_eq!(e["winlog"]["channel"], json!("Security"));
}

// ---- pySigma processing pipelines ----

const USER_PIPELINE: &str = r#"
name: Custom Splunk names
priority: 30
allowed_backends: [splunk]
vars:
  admins: ["admin", "root*"]
transformations:
  - id: cmdline
    type: field_name_mapping
    mapping:
      CommandLine: process_command_line
      ParentImage: [parent_path, parent_exe]
    rule_conditions:
      - type: logsource
        product: windows
        category: process_creation
  - id: index
    type: add_condition
    conditions:
      index: win
  - id: drop_company
    type: drop_detection_item
    field_name_conditions:
      - type: include_fields
        fields: [Company]
  - id: users
    type: value_placeholders
  - id: paths
    type: replace_string
    regex: '^C:\\Windows\\'
    replacement: '%SystemRoot%\'
"#;

fn load_user_pipeline() -> Pipeline {
    let dir = std::env::temp_dir().join(format!("rp-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("custom.yml");
    std::fs::write(&p, USER_PIPELINE).expect("write");
    let text = std::fs::read_to_string(&p).expect("read");
    load_pysigma_pipeline(&text, &p).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn a_user_pipeline_file_changes_field_names() {
    let mut m = Mapping::builtin();
    m.add_pipeline(load_user_pipeline());
    let r = sigma_rule(
        Some("windows"),
        Some("process_creation"),
        None,
        Expr::and(vec![
            ci("CommandLine", StrPattern::contains("whoami")),
            ci("ParentImage", StrPattern::suffix("\\w3wp.exe")),
            ci(
                "Image",
                StrPattern::literal("C:\\Windows\\System32\\cmd.exe"),
            ),
            ci("Company", StrPattern::literal("Microsoft")),
            ci(
                "User",
                StrPattern::new([Piece::Placeholder("admins".into())]),
            ),
        ]),
    );
    let s = m.map_rule(&r, Schema::Splunk);
    let Detection::Query(f) = &s.rule.detection else {
        panic!("query")
    };
    assert_eq!(
        f.expr,
        Expr::and(vec![
            ci("index", StrPattern::literal("win")),
            ci("process_command_line", StrPattern::contains("whoami")),
            Expr::or(vec![
                ci("parent_path", StrPattern::suffix("\\w3wp.exe")),
                ci("parent_exe", StrPattern::suffix("\\w3wp.exe")),
            ]),
            ci(
                "Image",
                StrPattern::literal("%SystemRoot%\\System32\\cmd.exe")
            ),
            Expr::or(vec![
                ci("User", StrPattern::literal("admin")),
                ci("User", StrPattern::prefix("root"))
            ]),
        ])
    );
    assert!(
        s.approximations.is_empty(),
        "pipeline names are the target's: {:?}",
        s.approximations
    );
    // The pipeline is for Splunk only: ECS mapping ignores it.
    let e = m.map_rule(&r, Schema::Ecs);
    assert!(fields_of(&e).contains(&"process.command_line".to_string()));
    // Its rule condition: a file_event rule keeps CommandLine.
    let fe = sigma_rule(
        Some("windows"),
        Some("file_event"),
        None,
        ci("CommandLine", StrPattern::contains("x")),
    );
    assert!(fields_of(&m.map_rule(&fe, Schema::Splunk)).contains(&"CommandLine".to_string()));
}

#[test]
fn pipeline_transformations() {
    let text = r#"
name: t
transformations:
  - type: field_name_prefix
    prefix: "winlog.event_data."
    field_name_conditions:
      - type: exclude_fields
        fields: [EventID]
  - type: field_name_suffix
    suffix: ".keyword"
    rule_conditions:
      - type: contains_detection_item
        field: EventID
        value: 4688
  - type: change_logsource
    product: windows
    service: security
    rule_conditions:
      - type: logsource
        category: process_creation
  - type: field_name_prefix_mapping
    mapping:
      "winlog.event_data.Parent": "parent."
"#;
    let p = load_pysigma_pipeline(text, Path::new("t.yml")).expect("pipeline");
    let r = sigma_rule(
        Some("windows"),
        Some("process_creation"),
        None,
        Expr::and(vec![
            Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(4688))),
            ci("ParentImage", StrPattern::literal("x")),
        ]),
    );
    let out = p.apply(&r).expect("apply");
    assert_eq!(
        out.rule.detection.filters()[0].expr,
        Expr::and(vec![
            Expr::pred(Subject::field("EventID.keyword"), Op::Eq(Scalar::Int(4688))),
            ci("parent.Image.keyword", StrPattern::literal("x")),
        ])
    );
    assert_eq!(out.rule.logsource.service.as_deref(), Some("security"));
    assert_eq!(out.rule.logsource.category, None);
}

#[test]
fn pipeline_errors_name_what_is_unsupported() {
    let text = "name: x\ntransformations:\n  - id: a\n    type: field_name_mapping\n    mapping: {A: B}\n  - id: b\n    type: hashes_fields\n";
    let d = load_pysigma_pipeline(text, Path::new("p.yml")).expect_err("unsupported");
    assert_eq!(d.code, "E-PIPELINE-UNSUPPORTED");
    assert!(d.message.contains("`hashes_fields`"), "{}", d.message);
    assert_eq!(d.pos, Some(ruleport_model::Pos::new(7, 5)));
    let cond = "transformations:\n  - type: drop_detection_item\n    rule_conditions:\n      - type: processing_state\n";
    assert!(load_pysigma_pipeline(cond, Path::new("p.yml"))
        .expect_err("cond")
        .message
        .contains("`processing_state`"));
    let post = "postprocessing:\n  - type: template\n";
    assert_eq!(
        load_pysigma_pipeline(post, Path::new("p.yml"))
            .expect_err("post")
            .code,
        "E-PIPELINE-UNSUPPORTED"
    );
    assert_eq!(
        load_pysigma_pipeline("[", Path::new("p.yml"))
            .expect_err("yaml")
            .code,
        "E-PIPELINE-YAML"
    );
    // A placeholder without a value is an error, reported as an approximation by map_rule.
    let p = load_pysigma_pipeline(
        "transformations:\n  - type: value_placeholders\n",
        Path::new("p.yml"),
    )
    .expect("ok");
    let r = sigma_rule(
        Some("windows"),
        Some("process_creation"),
        None,
        ci(
            "User",
            StrPattern::new([Piece::Placeholder("nobody".into())]),
        ),
    );
    assert_eq!(
        p.apply(&r).expect_err("missing var").code,
        "E-PIPELINE-PLACEHOLDER"
    );
    let mut m = Mapping::builtin();
    m.add_pipeline(p);
    assert!(codes(&m.map_rule(&r, Schema::Ecs)).contains(&"pipeline-error"));
}

#[test]
fn list_conditions_are_alternatives() {
    let m = Mapping::builtin();
    let l = m
        .logsource("windows.registry_event")
        .expect("registry_event");
    let cond = m.selection(l, "splunk").condition.expect("condition");
    let code = |n: i64| Expr::pred(Subject::field("EventCode"), Op::Eq(Scalar::Int(n)));
    assert_eq!(
        cond,
        Expr::and(vec![
            Expr::or(vec![code(12), code(13), code(14)]),
            ci(
                "source",
                StrPattern::literal("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational")
            ),
        ])
    );
    let del = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 26, "TargetFilename": "C:\\x"});
    assert_eq!(
        m.classify(&del, Schema::Sigma).map(|l| l.id.as_str()),
        Some("windows.file_delete")
    );
}

/// An Elastic Defend process rule: `process where host.os.type == "windows" and
/// event.type == "start" and event.action in ("start", "exec") and <expr>`.
fn elastic_process_rule(os: &str, expr: Expr) -> Rule {
    let mut r = seed();
    r.logsource.index = vec!["logs-endpoint.events.process-*".into(), "endgame-*".into()];
    r.detection = Detection::Query(EventFilter {
        category: Some("process".into()),
        expr: Expr::and(vec![
            lit("host.os.type", os),
            Expr::or(vec![
                lit("event.type", "start"),
                lit("event.type", "process_started"),
            ]),
            Expr::or(vec![
                lit("event.action", "start"),
                lit("event.action", "exec"),
            ]),
            expr,
        ]),
    });
    r
}

fn the_query(m: &MappedRule) -> &Expr {
    match &m.rule.detection {
        Detection::Query(f) => &f.expr,
        other => panic!("not a query: {other:?}"),
    }
}

#[test]
fn elastic_process_start_conditions_are_implied_by_every_target() {
    let r = elastic_process_rule("windows", lit("process.executable", "C:\\w\\x.exe"));
    for (m, to, field) in [
        (Mapping::builtin(), Schema::Sigma, "Image"),
        (Mapping::builtin(), Schema::Splunk, "Image"),
        (sentinel(SentinelSet::Xdr), Schema::Sentinel, "FolderPath"),
        (
            sentinel(SentinelSet::Event),
            Schema::Sentinel,
            "NewProcessName",
        ),
    ] {
        let x = m.map_rule(&r, to);
        assert_eq!(
            x.selection.logsource_id.as_deref(),
            Some("windows.process_creation")
        );
        // OS, event type and the process-start actions follow from the source; only the
        // executable test is left.
        assert_eq!(the_query(&x), &lit(field, "C:\\w\\x.exe"), "{}", to.name());
        // DeviceProcessEvents (XDR) holds every OS and has no OS column: dropping the OS test
        // there is declared; Sysmon, Security 4688 and Splunk's Sysmon source are Windows-only.
        if field == "FolderPath" {
            assert_eq!(
                codes(&x),
                vec!["unselected-condition"],
                "{:?}",
                x.approximations
            );
        } else {
            assert!(x.approximations.is_empty(), "{:?}", x.approximations);
        }
    }
    // A fork is not a process start of the target's source: it stays, unmapped.
    let r = elastic_process_rule("linux", lit("event.action", "fork"));
    let x = Mapping::builtin().map_rule(&r, Schema::Sigma);
    assert!(codes(&x).contains(&"unmapped-field"), "{:?}", codes(&x));
}

#[test]
fn process_names_are_the_last_segment_of_the_image_path() {
    let m = Mapping::builtin();
    let name_is = |p: StrPattern| Expr::matches("process.name", p, Case::Insensitive);
    let sigma = |e: Expr| m.map_rule(&elastic_process_rule("windows", e), Schema::Sigma);
    // Equality: the path is the name, or ends with `\name`.
    let x = sigma(name_is(StrPattern::literal("cmd.exe")));
    assert_eq!(
        the_query(&x),
        &Expr::or(vec![
            ci("Image", StrPattern::literal("cmd.exe")),
            ci("Image", StrPattern::suffix("\\cmd.exe")),
        ])
    );
    assert!(x.approximations.is_empty());
    // A suffix of the name is a suffix of the path.
    let x = sigma(name_is(StrPattern::suffix(".tmp")));
    assert_eq!(the_query(&x), &ci("Image", StrPattern::suffix(".tmp")));
    // A prefix must start the last segment: a regex over the path.
    let x = sigma(name_is(StrPattern::prefix("ps")));
    let Expr::Pred(Predicate {
        op: Op::Regex(re), ..
    }) = the_query(&x)
    else {
        panic!("regex expected: {:?}", the_query(&x))
    };
    assert_eq!(re.pattern, r"(?:^|\\)ps[^\\]*$");
    assert_eq!(re.case, Case::Insensitive);
    let Ok(compiled) = regex::RegexBuilder::new(&re.pattern)
        .case_insensitive(true)
        .build()
    else {
        panic!("invalid regex {}", re.pattern)
    };
    assert!(compiled.is_match(r"C:\Tools\PsExec.exe"));
    assert!(!compiled.is_match(r"C:\ps\cmd.exe"));
    // A name never holds a separator: such a test is not rewritten and stays unmapped.
    let x = sigma(name_is(StrPattern::literal("a\\b")));
    assert!(codes(&x).contains(&"unmapped-field"));
    // Splunk's Sysmon add-on has the name itself; XDR has FileName; SecurityEvent derives it.
    let r = elastic_process_rule("windows", name_is(StrPattern::literal("cmd.exe")));
    assert_eq!(
        fields_of(&m.map_rule(&r, Schema::Splunk)),
        vec!["process_name"]
    );
    assert_eq!(
        fields_of(&sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel)),
        vec!["FileName"]
    );
    assert_eq!(
        fields_of(&sentinel(SentinelSet::Event).map_rule(&r, Schema::Sentinel)),
        vec!["NewProcessName"]
    );
    // Linux paths use `/`.
    let r = elastic_process_rule("linux", name_is(StrPattern::literal("nc")));
    assert_eq!(
        the_query(&m.map_rule(&r, Schema::Sigma)),
        &Expr::or(vec![
            ci("Image", StrPattern::literal("nc")),
            ci("Image", StrPattern::suffix("/nc")),
        ])
    );
    // Group-by and join keys are not value tests: a name is never renamed to a path there.
    let mut r = elastic_process_rule("windows", lit("process.executable", "C:\\x.exe"));
    r.detection = Detection::NewTerms(ruleport_model::NewTerms {
        filter: match &r.detection {
            Detection::Query(f) => f.clone(),
            _ => unreachable!(),
        },
        fields: vec!["process.name".into()],
        history_window_start: "now-7d".into(),
    });
    let x = m.map_rule(&r, Schema::Sigma);
    assert!(codes(&x).contains(&"unmapped-field"), "{:?}", codes(&x));
}

#[test]
fn file_extensions_are_the_end_of_the_file_name() {
    let mut r = seed();
    r.logsource.index = vec!["logs-endpoint.events.file-*".into()];
    r.detection = Detection::Query(EventFilter {
        category: Some("file".into()),
        expr: Expr::and(vec![
            lit("host.os.type", "windows"),
            lit("event.type", "creation"),
            lit("event.action", "creation"),
            Expr::matches(
                "file.extension",
                StrPattern::literal("exe"),
                Case::Insensitive,
            ),
        ]),
    });
    let x = sentinel(SentinelSet::Xdr).map_rule(&r, Schema::Sentinel);
    assert_eq!(x.selection.tables, vec!["DeviceFileEvents"]);
    assert_eq!(the_query(&x), &ci("FileName", StrPattern::suffix(".exe")));
    let x = Mapping::builtin().map_rule(&r, Schema::Sigma);
    assert_eq!(
        the_query(&x),
        &ci("TargetFilename", StrPattern::suffix(".exe"))
    );
    // Existence of an extension cannot be said over a name.
    if let Detection::Query(f) = &mut r.detection {
        f.expr = Expr::and(vec![
            lit("event.type", "creation"),
            Expr::pred(Subject::field("file.extension"), Op::Exists),
        ]);
    }
    let x = Mapping::builtin().map_rule(&r, Schema::Sigma);
    assert!(codes(&x).contains(&"unmapped-field"));
}

#[test]
fn process_args_are_a_value_format_approximation() {
    let r = elastic_process_rule(
        "windows",
        Expr::matches("process.args", StrPattern::literal("-enc"), Case::Sensitive),
    );
    for (m, to, field) in [
        (Mapping::builtin(), Schema::Sigma, "CommandLine"),
        (Mapping::builtin(), Schema::Splunk, "CommandLine"),
        (
            sentinel(SentinelSet::Xdr),
            Schema::Sentinel,
            "ProcessCommandLine",
        ),
    ] {
        let x = m.map_rule(&r, to);
        assert_eq!(fields_of(&x), vec![field]);
        assert!(
            x.approximations
                .iter()
                .any(|a| a.code == "value-format" && a.reason.contains("argument list")),
            "{}: {:?}",
            to.name(),
            x.approximations
        );
    }
}

#[test]
fn derived_rows_do_not_change_event_views() {
    // A Sysmon event seen as ECS keeps Image as process.executable (never process.name), and
    // an ECS event's process.name never overwrites a target's path.
    let m = Mapping::builtin();
    let ecs = m.view_event(&sysmon_1(), Schema::Sigma, None, Schema::Ecs);
    assert_eq!(
        lookup_str(&ecs, "process.executable").as_deref(),
        Some("C:\\Windows\\System32\\curl.exe")
    );
    assert_eq!(lookup_str(&ecs, "process.name"), None);
    let ev = json!({"event": {"category": "process", "type": "start", "action": "start"},
                    "host": {"os": {"type": "windows"}},
                    "process": {"name": "curl.exe", "executable": "C:\\Windows\\System32\\curl.exe"}});
    let sigma = m.view_event(
        &ev,
        Schema::Ecs,
        Some("windows.process_creation"),
        Schema::Sigma,
    );
    assert_eq!(sigma["Image"], json!("C:\\Windows\\System32\\curl.exe"));
    // The implied action is dropped where the target has no such field.
    assert!(sigma.get("event.action").is_none(), "{sigma}");
    let back = m.view_event(
        &sigma,
        Schema::Sigma,
        Some("windows.process_creation"),
        Schema::Ecs,
    );
    assert_eq!(
        lookup_str(&back, "process.executable").as_deref(),
        Some("C:\\Windows\\System32\\curl.exe")
    );
    let xdr = sentinel(SentinelSet::Xdr);
    let row = xdr.view_event_in(
        &ev,
        Schema::Ecs,
        Some("windows.process_creation"),
        Schema::Sentinel,
        Some("DeviceProcessEvents"),
    );
    assert_eq!(row["FileName"], json!("curl.exe"));
    assert_eq!(row["FolderPath"], json!("C:\\Windows\\System32\\curl.exe"));
    assert_eq!(row["Type"], json!("DeviceProcessEvents"));
}

#[test]
fn okta_outcomes_are_a_value_map() {
    let mut r = seed();
    r.logsource.index = vec!["logs-okta*".into()];
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.dataset", "okta.system"),
        lit("event.outcome", "failure"),
    ])));
    let x = Mapping::builtin().map_rule(&r, Schema::Splunk);
    assert_eq!(the_query(&x), &lit("outcome.result", "FAILURE"));
    let x = Mapping::builtin().map_rule(&r, Schema::Sentinel);
    assert_eq!(the_query(&x), &lit("outcome_result_s", "FAILURE"));
}

#[test]
fn a_conjunct_is_implied_only_when_the_source_admits_no_other_value() {
    let eid = |n: i64| Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(n)));
    let obj = ci("TargetObject", StrPattern::suffix("\\Run\\x"));
    // Sysmon registry_event holds EventIDs 12, 13 and 14: a rule on 12 or 13 must keep its test.
    let narrow = sigma_rule(
        Some("windows"),
        Some("registry_event"),
        None,
        Expr::and(vec![Expr::or(vec![eid(12), eid(13)]), obj.clone()]),
    );
    let splunk = Mapping::builtin().map_rule(&narrow, Schema::Splunk);
    assert!(
        fields_of(&splunk).contains(&"EventCode".to_string()),
        "{:?}",
        splunk.rule.detection
    );
    // Naming all three says nothing the source does not: the test is dropped.
    let all = sigma_rule(
        Some("windows"),
        Some("registry_event"),
        None,
        Expr::and(vec![Expr::or(vec![eid(12), eid(13), eid(14)]), obj]),
    );
    let splunk = Mapping::builtin().map_rule(&all, Schema::Splunk);
    assert!(
        !fields_of(&splunk).contains(&"EventCode".to_string()),
        "{:?}",
        splunk.rule.detection
    );
}

#[test]
fn a_rule_that_excludes_its_sources_events_is_a_contradiction() {
    // Windows Security 4688 is not the Sysmon process-creation source the Splunk port reads.
    let r = Rule {
        detection: Detection::Query(EventFilter::new(Expr::and(vec![
            lit("host.os.type", "windows"),
            lit("event.category", "process"),
            lit("event.type", "start"),
            lit("event.code", "4688"),
            lit("process.name", "lsass.exe"),
        ]))),
        ..seed()
    };
    let splunk = Mapping::builtin().map_rule(&r, Schema::Splunk);
    let why = crate::source_contradiction(&splunk).expect("EventCode 4688 vs Sysmon's 1");
    assert!(why.contains("EventCode") && why.contains("4688"), "{why}");
    // Event code 1 is what that source has: no contradiction.
    let ok = Rule {
        detection: Detection::Query(EventFilter::new(Expr::and(vec![
            lit("host.os.type", "windows"),
            lit("event.category", "process"),
            lit("event.type", "start"),
            lit("event.code", "1"),
        ]))),
        ..seed()
    };
    assert_eq!(
        crate::source_contradiction(&Mapping::builtin().map_rule(&ok, Schema::Splunk)),
        None
    );
}

#[test]
fn two_source_fields_on_one_target_field_are_reported() {
    let r = sigma_rule(
        Some("azure"),
        None,
        Some("auditlogs"),
        Expr::and(vec![
            ci("OperationName", StrPattern::literal("Update user")),
            ci("properties.message", StrPattern::literal("Add user")),
        ]),
    );
    let m = Mapping::builtin().map_rule(&r, Schema::Sentinel);
    assert!(
        codes(&m).contains(&"fields-merged"),
        "{:?}",
        m.approximations
    );
    assert!(
        !codes(&Mapping::builtin().map_rule(&proc_rule(), Schema::Sentinel))
            .contains(&"fields-merged")
    );
}

#[test]
fn views_spell_identity_values_and_map_values_as_the_target_stores_them() {
    let m = Mapping::builtin();
    // Sigma compares case-insensitively; the ECS channel is the source's own spelling.
    let ev =
        json!({"Channel": "sYSTEM", "EventID": 104, "Provider_Name": "Microsoft-Windows-Eventlog"});
    let ecs = m.view_event(&ev, Schema::Sigma, Some("windows.system"), Schema::Ecs);
    assert_eq!(
        lookup_str(&ecs, "winlog.channel").as_deref(),
        Some("System"),
        "{ecs}"
    );
    // An ECS value map is case-sensitive: `EGRESS` is not the direction `egress`.
    let ev = json!({"event.category": "network", "host.os.type": "windows", "network.direction": "EGRESS"});
    let splunk = m.view_event(
        &ev,
        Schema::Ecs,
        Some("windows.network_connection"),
        Schema::Splunk,
    );
    assert_ne!(splunk.get("Initiated"), Some(&json!("true")), "{splunk}");
    // Value maps apply to each value of a multi-valued field.
    let ev = json!({"Initiated": ["true", "false"]});
    let ecs = m.view_event(
        &ev,
        Schema::Sigma,
        Some("windows.network_connection"),
        Schema::Ecs,
    );
    let dirs = ruleport_model::event::lookup(&ecs, "network.direction");
    assert!(dirs.iter().any(|v| v.as_str() == Some("egress")), "{ecs}");
    assert!(!dirs.iter().any(|v| v.as_str() == Some("true")), "{ecs}");
}

/// Rows that rename a field whose values the source schema writes differently must say how the
/// target writes them: a missing target map writes the canonical key (Sigma's value) into the
/// target field. The allowed pairs are targets whose values are the canonical keys.
#[test]
fn every_renamed_value_map_has_a_target_side() {
    // (target key, target name): the target writes the map's canonical keys.
    const SAME_VALUES: &[(&str, &str)] = &[
        // Splunk's Sysmon add-on keeps Sysmon's `Initiated` text.
        ("splunk", "Initiated"),
        // Okta's System Log (Splunk and the Sentinel connector) writes SUCCESS / FAILURE.
        ("splunk", "outcome.result"),
        ("sentinel", "outcome_result_s"),
        ("sentinel_xdr", "outcome_result_s"),
        ("sentinel_event", "outcome_result_s"),
        ("sentinel_asim", "outcome_result_s"),
    ];
    // Sigma is left out: a map's keys are Sigma's values.
    const TARGETS: &[&str] = &[
        "ecs",
        "splunk",
        "sentinel",
        "sentinel_xdr",
        "sentinel_event",
        "sentinel_asim",
    ];
    let mut rows: Vec<(String, &FieldRow)> = Vec::new();
    let m = Mapping::builtin();
    let files: Vec<MappingFile> = BUILTIN
        .iter()
        .map(|(name, text)| parse_mapping(text, Path::new(name)).expect("built-in file"))
        .collect();
    for f in &files {
        for (set, rs) in &f.field_sets {
            rows.extend(rs.iter().map(|r| (format!("field set {set}"), r)));
        }
        for l in &f.logsources {
            rows.extend(l.fields.iter().map(|r| (format!("log source {}", l.id), r)));
        }
    }
    rows.extend(m.common_fields().iter().map(|r| ("common".to_string(), r)));
    let mut missing = Vec::new();
    for (place, row) in rows {
        for fk in ["sigma", "ecs"] {
            if row.values_for(fk).is_none() {
                continue;
            }
            for &tk in TARGETS.iter().filter(|t| **t != fk) {
                let name = row.name(tk).or_else(|| {
                    tk.starts_with("sentinel_")
                        .then(|| row.name("sentinel_sets").or(row.name("sentinel")))
                        .flatten()
                });
                let Some(name) = name else { continue };
                let presence = row.transform.get(tk) == Some(&crate::data::Transform::Presence);
                if presence || row.values_for(tk).is_some() || SAME_VALUES.contains(&(tk, name)) {
                    continue;
                }
                missing.push(format!("{place}: {fk} values, {tk} `{name}` has none"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn conditions_a_source_assumes_count_towards_choosing_it() {
    // A PowerShell script-block rule that also states the category and OS the integration
    // assumes, and tests a user field process creation also names: the script-block source
    // wins over process creation, which matches the category and knows the user field.
    let mut r = seed();
    r.logsource.index = vec!["logs-windows.powershell*".into(), "winlogbeat-*".into()];
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.category", "process"),
        lit("host.os.type", "windows"),
        lit("powershell.file.script_block_text", "GetAsyncKeyState"),
        Expr::not(lit("user.id", "S-1-5-18")),
    ])));
    let m = Mapping::builtin();
    let Detection::Query(f) = &r.detection else {
        panic!("query")
    };
    let ls = m.resolve_logsource(&r, &r.logsource, Some(&f.expr), None);
    assert_eq!(ls.map(|l| l.id.as_str()), Some("windows.ps_script"));
}

/// An Elastic Defend sequence: a Linux process start, then its network connection.
fn linux_start_then_connect(by: &str) -> Rule {
    let step = |category: &str, expr: Expr| {
        let mut f = EventFilter::new(expr);
        f.category = Some(category.into());
        SeqStep::new(ruleport_model::EventSource::new(f))
    };
    let mut r = seed();
    r.logsource = LogSource {
        index: vec!["logs-endpoint.events.*".into()],
        ..Default::default()
    };
    r.language = "eql".into();
    r.detection = Detection::Sequence(ruleport_model::Sequence {
        by: vec![Operand::field("host.id"), Operand::field(by)],
        maxspan: None,
        steps: vec![
            step(
                "process",
                Expr::and(vec![
                    lit("host.os.type", "linux"),
                    lit("event.type", "start"),
                    lit("process.name", "curl"),
                ]),
            ),
            step(
                "network",
                Expr::and(vec![
                    lit("host.os.type", "linux"),
                    lit("destination.port", "4444"),
                ]),
            ),
        ],
        until: None,
    });
    r
}

#[test]
fn shared_join_keys_that_each_step_names_differently_become_per_step_keys() {
    let m = Mapping::builtin();
    let mapped = m.map_rule(
        &linux_start_then_connect("process.entity_id"),
        Schema::Sentinel,
    );
    let Detection::Sequence(s) = &mapped.rule.detection else {
        panic!("sequence")
    };
    // The process start is the process itself; the connection names it as initiating process.
    assert!(s.by.is_empty(), "{:?}", s.by);
    let keys: Vec<Vec<Operand>> = s.steps.iter().map(|st| st.by.clone()).collect();
    assert_eq!(
        keys,
        vec![
            vec![Operand::field("DeviceId"), Operand::field("ProcessId")],
            vec![
                Operand::field("DeviceId"),
                Operand::field("InitiatingProcessId")
            ],
        ]
    );
    assert!(
        mapped
            .approximations
            .iter()
            .any(|a| a.code == "join-key-identity" && a.reason.contains("process id")),
        "{:?}",
        mapped.approximations
    );
}

#[test]
fn shared_join_keys_named_alike_by_every_step_stay_shared() {
    let m = Mapping::builtin();
    let mapped = m.map_rule(&linux_start_then_connect("host.name"), Schema::Sentinel);
    let Detection::Sequence(s) = &mapped.rule.detection else {
        panic!("sequence")
    };
    assert_eq!(
        s.by,
        vec![Operand::field("DeviceId"), Operand::field("DeviceName")]
    );
    assert!(s.steps.iter().all(|st| st.by.is_empty()));
}

#[test]
fn a_conjunct_naming_events_the_source_does_not_record_is_dropped_with_a_note() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.logsource = LogSource {
        index: vec!["logs-endpoint.events.process-*".into()],
        ..Default::default()
    };
    let mut f = EventFilter::new(Expr::and(vec![
        lit("host.os.type", "linux"),
        Expr::or(vec![
            lit("event.action", "exec"),
            lit("event.action", "fork"),
        ]),
        lit("process.name", "curl"),
    ]));
    f.category = Some("process".into());
    r.detection = Detection::Query(f);
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert_eq!(
        mapped.selection.tables,
        vec!["DeviceProcessEvents".to_string()]
    );
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(f.expr, lit("FileName", "curl"));
    let note = mapped
        .approximations
        .iter()
        .find(|a| a.code == "unrecorded-events")
        .unwrap_or_else(|| panic!("{:?}", mapped.approximations));
    assert!(note.reason.contains("`fork`"), "{}", note.reason);

    // Only implied values: dropped without a note, as before.
    let Detection::Query(f) = &mut r.detection else {
        panic!("query")
    };
    f.expr = Expr::and(vec![
        lit("host.os.type", "linux"),
        lit("event.action", "exec"),
        lit("process.name", "curl"),
    ]);
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert!(!mapped
        .approximations
        .iter()
        .any(|a| a.code == "unrecorded-events"));
}

#[test]
fn a_disjunction_one_branch_of_which_every_source_event_meets_is_dropped_with_a_note() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.logsource = LogSource {
        index: vec!["logs-panw.panos-*".into()],
        ..Default::default()
    };
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        Expr::or(vec![
            lit("data_stream.dataset", "network_traffic.flow"),
            lit("event.category", "network"),
            lit("event.category", "network_traffic"),
        ]),
        lit("network.transport", "tcp"),
    ])));
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert_eq!(
        mapped.selection.logsource_id.as_deref(),
        Some("network.firewall")
    );
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(f.expr, lit("Protocol", "tcp"));
    let note = mapped
        .approximations
        .iter()
        .find(|a| a.code == "other-branches-unread")
        .unwrap_or_else(|| panic!("{:?}", mapped.approximations));
    assert!(
        note.reason.contains("event.category: network"),
        "{}",
        note.reason
    );

    // No branch holds for every firewall event: the disjunction stays.
    let Detection::Query(f) = &mut r.detection else {
        panic!("query")
    };
    f.expr = Expr::and(vec![
        Expr::or(vec![
            lit("data_stream.dataset", "network_traffic.flow"),
            lit("event.action", "flow_started"),
        ]),
        lit("event.category", "network"),
    ]);
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert!(!mapped
        .approximations
        .iter()
        .any(|a| a.code == "other-branches-unread"));
}

#[test]
fn a_security_event_action_becomes_every_event_id_that_carries_it() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.logsource = LogSource {
        index: vec!["logs-system.security*".into()],
        ..Default::default()
    };
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        lit("event.provider", "Microsoft-Windows-Security-Auditing"),
        lit("event.action", "added-member-to-group"),
    ])));
    let mapped = m.map_rule(&r, Schema::Splunk);
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(
        f.expr,
        Expr::or(vec![
            lit("EventCode", "4728"),
            lit("EventCode", "4732"),
            lit("EventCode", "4756"),
        ])
    );
    // Categories come from the same table: `session` files only the reconnect/disconnect pair.
    let Detection::Query(f) = &mut r.detection else {
        panic!("query")
    };
    f.expr = Expr::and(vec![
        lit("event.provider", "Microsoft-Windows-Security-Auditing"),
        lit("event.category", "session"),
    ]);
    let mapped = m.map_rule(&r, Schema::Splunk);
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(
        f.expr,
        Expr::or(vec![lit("EventCode", "4778"), lit("EventCode", "4779")])
    );
}

#[test]
fn an_elastic_rule_naming_several_datasets_reads_the_chosen_one_with_a_note() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.detection = Detection::Query(EventFilter::new(Expr::and(vec![
        Expr::or(vec![
            lit("data_stream.dataset", "azure.signinlogs"),
            lit("data_stream.dataset", "o365.audit"),
        ]),
        lit("azure.signinlogs.properties.app_display_name", "Azure CLI"),
    ])));
    let mapped = m.map_rule(&r, Schema::Sentinel);
    assert_eq!(mapped.selection.tables, vec!["SigninLogs".to_string()]);
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert!(
        !f.expr.fields().iter().any(|n| n.contains("dataset")),
        "{:?}",
        f.expr
    );
    assert!(
        mapped
            .approximations
            .iter()
            .any(|a| a.code == "other-branches-unread" && a.reason.contains("o365.audit")),
        "{:?}",
        mapped.approximations
    );
}

#[test]
fn an_eql_category_every_event_of_the_source_has_is_dropped() {
    let m = Mapping::builtin();
    let mut r = seed();
    r.logsource = LogSource {
        index: vec!["logs-github.audit-*".into()],
        ..Default::default()
    };
    let mut f = EventFilter::new(Expr::and(vec![
        lit("event.dataset", "github.audit"),
        lit("event.action", "repo.create"),
    ]));
    f.category = Some("configuration".into());
    r.detection = Detection::Query(f);
    let mapped = m.map_rule(&r, Schema::Splunk);
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(f.category, None);
    assert_eq!(f.expr, lit("action", "repo.create"));
    // A category the pipeline files only some events under stays.
    let Detection::Query(f) = &mut r.detection else {
        panic!("query")
    };
    f.category = Some("iam".into());
    let mapped = m.map_rule(&r, Schema::Splunk);
    let Detection::Query(f) = &mapped.rule.detection else {
        panic!("query")
    };
    assert_eq!(f.category.as_deref(), Some("iam"));
}
