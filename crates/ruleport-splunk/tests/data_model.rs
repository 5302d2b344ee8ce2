//! CIM data-model mode: hand-derived `| tstats … from datamodel=…` output, emit → parse →
//! evaluate agreement with the rule model over Sysmon-shaped events, and the fallbacks.

mod common;
use common::*;
use proptest::prelude::*;
use ruleport_model::{
    Case, CmpOp, Detection, EventFilter, Expr, MappedRule, Op, Piece, Port, RegexAnchor, RegexSpec,
    Scalar, StrPattern, Subject,
};
use ruleport_splunk::{emit_search, SplunkOptions};
use serde_json::{json, Map, Value};

const SYSMON: &str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational";

fn dm() -> SplunkOptions {
    SplunkOptions {
        data_model: true,
        ..SplunkOptions::default()
    }
}

fn sysmon(code: i64) -> Expr {
    Expr::and(vec![
        Expr::pred(Subject::field("EventCode"), Op::Eq(Scalar::Int(code))),
        eq("source", SYSMON),
    ])
}

fn rule_on(code: i64, expr: Expr) -> MappedRule {
    mapped(Detection::Query(EventFilter::new(expr)), Some(sysmon(code)))
}

fn emit_dm(m: &MappedRule) -> Port {
    emit_search(m, &dm()).unwrap_or_else(|u| panic!("emit failed: {u}"))
}

fn codes(p: &Port) -> Vec<&str> {
    p.fidelity
        .reasons()
        .iter()
        .map(|a| a.code.as_str())
        .collect()
}

/// The events a result set covers (tstats groups events; the model alerts per event).
fn covered(groups: Vec<Vec<usize>>) -> Vec<usize> {
    let mut v: Vec<usize> = groups.into_iter().flatten().collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn agree(m: &MappedRule, port: &Port, events: &[Value]) {
    let got = covered(run_spl(&port.text, events));
    let want = covered(reference(m, events));
    assert_eq!(got, want, "SPL:\n{}\nevents: {events:#?}", port.text);
}

fn ev(code: i64, fields: Value) -> Value {
    let mut e = json!({"source": SYSMON, "EventCode": code, "_time": 1_700_000_000});
    if let (Some(e), Value::Object(f)) = (e.as_object_mut(), fields) {
        e.extend(f);
    }
    e
}

#[test]
fn process_creation_rule() {
    let m = rule_on(
        1,
        Expr::and(vec![
            glob("Image", "*\\cmd.exe", Case::Insensitive),
            glob("CommandLine", "*/c*", Case::Insensitive),
            Expr::not(glob("ParentImage", "*\\explorer.exe", Case::Insensitive)),
        ]),
    );
    let port = emit_dm(&m);
    assert_eq!(
        port.text,
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count min(_time) as firstTime max(_time) as lastTime \
         from datamodel=Endpoint.Processes \
         where source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" AND Processes.process_path=\"*\\\\cmd.exe\" \
         AND Processes.process=\"*/c*\" AND NOT Processes.parent_process_path=\"*\\\\explorer.exe\" \
         by Processes.parent_process_path Processes.process Processes.process_path Processes.dest"
    );
    // The Sysmon add-on also tags events 5, 6, 8… as process events.
    assert_eq!(codes(&port), vec!["cim-dataset-scope"]);
    let events = [
        ev(
            1,
            json!({"Image": "C:\\Windows\\System32\\CMD.EXE", "CommandLine": "cmd /c whoami", "ParentImage": "C:\\x\\winword.exe"}),
        ),
        ev(
            1,
            json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c dir"}),
        ),
        ev(
            1,
            json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c dir", "ParentImage": "C:\\Windows\\explorer.exe"}),
        ),
        ev(
            1,
            json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /k"}),
        ),
        ev(
            3,
            json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c x"}),
        ),
        json!({"source": "WinEventLog:Security", "EventCode": 1, "Image": "c:\\cmd.exe", "CommandLine": "/c"}),
    ];
    agree(&m, &port, &events);
    assert_eq!(covered(run_spl(&port.text, &events)), vec![0, 1]);
    // What the scope approximation is about: a matching Sysmon 5 event is a Processes row too.
    let term = ev(5, json!({"Image": "C:\\cmd.exe", "CommandLine": "/c"}));
    assert_eq!(covered(run_spl(&port.text, &[term])), vec![0]);
}

#[test]
fn process_creation_with_case_sensitive_and_regex_tests_follow_tstats() {
    let re = |f: &str, p: &str| {
        Expr::pred(
            Subject::field(f),
            Op::Regex(RegexSpec {
                pattern: p.into(),
                case: Case::Insensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Search,
            }),
        )
    };
    let m = rule_on(
        1,
        Expr::and(vec![
            eq_cased("OriginalFileName", "Cmd.Exe"),
            re("CommandLine", r"\s/c\s"),
        ]),
    );
    let port = emit_dm(&m);
    assert_eq!(
        port.text,
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count min(_time) as firstTime max(_time) as lastTime \
         from datamodel=Endpoint.Processes \
         where source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" AND Processes.original_file_name=\"Cmd.Exe\" AND Processes.process=* \
         by Processes.original_file_name Processes.process Processes.dest\n\
         | where 'Processes.original_file_name'==\"Cmd.Exe\" AND match('Processes.process', \"(?i)\\\\s/c\\\\s\")"
    );
    let events = [
        ev(
            1,
            json!({"OriginalFileName": "Cmd.Exe", "CommandLine": "cmd /c x"}),
        ),
        ev(
            1,
            json!({"OriginalFileName": "cmd.exe", "CommandLine": "cmd /c x"}),
        ),
        ev(
            1,
            json!({"OriginalFileName": "Cmd.Exe", "CommandLine": "cmd /k x"}),
        ),
        ev(1, json!({"CommandLine": "cmd /c x"})),
        ev(1, json!({"OriginalFileName": "Cmd.Exe"})),
    ];
    agree(&m, &port, &events);
    assert_eq!(covered(run_spl(&port.text, &events)), vec![0]);
}

#[test]
fn file_rule() {
    let m = rule_on(
        11,
        Expr::and(vec![
            glob("TargetFilename", "*.ps1", Case::Insensitive),
            Expr::or(vec![
                glob("Image", "*\\powershell.exe", Case::Insensitive),
                glob("Image", "*\\pwsh.exe", Case::Insensitive),
            ]),
        ]),
    );
    let port = emit_dm(&m);
    assert_eq!(
        port.text,
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count min(_time) as firstTime max(_time) as lastTime \
         from datamodel=Endpoint.Filesystem \
         where source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" AND Filesystem.file_path=\"*.ps1\" \
         AND (Filesystem.process_path=\"*\\\\powershell.exe\" OR Filesystem.process_path=\"*\\\\pwsh.exe\") \
         by Filesystem.file_path Filesystem.process_path Filesystem.dest"
    );
    // Endpoint.Filesystem also holds Sysmon 2 (file creation time changed).
    assert_eq!(codes(&port), vec!["cim-dataset-scope"]);
    let events = [
        ev(
            11,
            json!({"TargetFilename": "C:\\t\\a.PS1", "Image": "C:\\x\\PowerShell.exe"}),
        ),
        ev(
            11,
            json!({"TargetFilename": "C:\\t\\a.ps1", "Image": "C:\\x\\pwsh.exe", "Computer": "h1"}),
        ),
        ev(
            11,
            json!({"TargetFilename": "C:\\t\\a.ps1", "Image": "C:\\x\\pwsh.exe", "Computer": "h1"}),
        ),
        ev(
            11,
            json!({"TargetFilename": "C:\\t\\a.txt", "Image": "C:\\x\\pwsh.exe"}),
        ),
        ev(
            1,
            json!({"TargetFilename": "C:\\t\\a.ps1", "Image": "C:\\x\\pwsh.exe"}),
        ),
    ];
    agree(&m, &port, &events);
    // Events 1 and 2 have the same by-field values: one tstats row covers both.
    assert_eq!(run_spl(&port.text, &events), vec![vec![0], vec![1, 2]]);
}

#[test]
fn network_rule_is_exact() {
    let port_eq = |f: &str, n: i64| Expr::pred(Subject::field(f), Op::Eq(Scalar::Int(n)));
    let m = rule_on(
        3,
        Expr::and(vec![
            Expr::or(vec![
                port_eq("DestinationPort", 4444),
                port_eq("DestinationPort", 8080),
            ]),
            Expr::not(Expr::pred(
                Subject::field("DestinationIp"),
                Op::Cidr("10.0.0.0/8".parse().expect("net")),
            )),
        ]),
    );
    let port = emit_dm(&m);
    assert_eq!(
        port.text,
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count min(_time) as firstTime max(_time) as lastTime \
         from datamodel=Network_Traffic.All_Traffic \
         where source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" AND (All_Traffic.dest_port=4444 OR All_Traffic.dest_port=8080) \
         AND NOT All_Traffic.dest_ip=\"10.0.0.0/8\" \
         by All_Traffic.dest_ip All_Traffic.dest_port All_Traffic.dest"
    );
    assert!(port.fidelity.is_exact(), "{:?}", port.fidelity);
    let events = [
        ev(
            3,
            json!({"DestinationPort": 4444, "DestinationIp": "8.8.8.8"}),
        ),
        ev(
            3,
            json!({"DestinationPort": "8080", "DestinationIp": "10.1.2.3"}),
        ),
        ev(3, json!({"DestinationPort": 8080})),
        ev(
            3,
            json!({"DestinationPort": 443, "DestinationIp": "8.8.8.8"}),
        ),
        ev(
            1,
            json!({"DestinationPort": 4444, "DestinationIp": "8.8.8.8"}),
        ),
        json!({"source": "Syslog:Linux-Sysmon/Operational", "EventCode": 3, "DestinationPort": 4444}),
    ];
    agree(&m, &port, &events);
    assert_eq!(covered(run_spl(&port.text, &events)), vec![0, 2]);
}

#[test]
fn default_options_stay_raw() {
    let m = rule_on(1, eq("Image", "x"));
    let raw = emit(&m);
    assert!(!raw.text.contains("tstats"));
    assert!(raw.fidelity.is_exact());
}

#[test]
fn a_field_cim_lacks_falls_back_to_the_raw_search() {
    let m = rule_on(
        1,
        Expr::and(vec![
            eq("Description", "Windows Command Processor"),
            eq("Image", "x"),
        ]),
    );
    let port = emit_dm(&m);
    assert_eq!(port.text, emit(&m).text, "the raw search, unchanged");
    let r = &port.fidelity.reasons()[0];
    assert_eq!(r.code, "data-model-fallback");
    assert_eq!(
        r.reason,
        "data-model mode: field `Description` has no CIM name in Endpoint.Processes; the raw search is emitted instead"
    );
}

#[test]
fn other_fallbacks_say_why() {
    let reason = |m: &MappedRule| {
        let p = emit_dm(m);
        assert!(!p.text.contains("tstats"));
        p.fidelity.reasons()[0].reason.clone()
    };
    // No log source.
    assert!(reason(&query(eq("Image", "x"))).contains("no log-source selection"));
    // A source no dataset holds (Sysmon 7, image load).
    assert!(reason(&rule_on(7, eq("Image", "x"))).contains("no dataset"));
    // A regex that holds on a missing field cannot follow tstats.
    let neg_re = Expr::not(Expr::pred(
        Subject::field("CommandLine"),
        Op::Regex(RegexSpec {
            pattern: "a".into(),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: RegexAnchor::Search,
        }),
    ));
    assert!(reason(&rule_on(1, neg_re)).contains("cannot follow tstats"));
    // A pattern that matches the fill text `null` cannot follow tstats either.
    assert!(
        reason(&rule_on(1, glob("CommandLine", "n?ll", Case::Insensitive)))
            .contains("cannot follow tstats")
    );
    // A keyword.
    assert!(reason(&rule_on(1, keyword(StrPattern::contains("mimikatz")))).contains("keyword"));
}

#[test]
fn value_format_notes_are_labelled() {
    let m = rule_on(13, glob("Details", "DWORD*", Case::Insensitive));
    let port = emit_dm(&m);
    assert!(port.text.contains("from datamodel=Endpoint.Registry"));
    assert!(port
        .text
        .contains("Registry.registry_value_data=\"DWORD*\""));
    assert_eq!(codes(&port), vec!["cim-dataset-scope", "cim-value-format"]);
    // Registry events 12, 13, 14 together are exactly what the dataset holds.
    let m = mapped(
        Detection::Query(EventFilter::new(glob(
            "TargetObject",
            "*\\Run\\*",
            Case::Insensitive,
        ))),
        Some(Expr::and(vec![
            Expr::or(
                vec![12, 13, 14]
                    .into_iter()
                    .map(|n| Expr::pred(Subject::field("EventCode"), Op::Eq(Scalar::Int(n))))
                    .collect(),
            ),
            eq("source", SYSMON),
        ])),
    );
    let port = emit_dm(&m);
    assert!(port.fidelity.is_exact(), "{:?}", port.fidelity);
    let events = [
        ev(
            12,
            json!({"TargetObject": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\x"}),
        ),
        ev(13, json!({"TargetObject": "HKLM\\Software\\x"})),
        ev(1, json!({"TargetObject": "HKLM\\Run\\x"})),
    ];
    agree(&m, &port, &events);
}

#[test]
fn web_rule_over_tags() {
    let m = mapped(
        Detection::Query(EventFilter::new(Expr::and(vec![
            glob("uri_query", "*union*select*", Case::Insensitive),
            Expr::pred(
                Subject::field("status"),
                Op::Cmp {
                    op: CmpOp::Lt,
                    value: Scalar::Int(400),
                },
            ),
        ]))),
        Some(eq("tag", "web")),
    );
    let port = emit_dm(&m);
    assert_eq!(
        port.text,
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count min(_time) as firstTime max(_time) as lastTime \
         from datamodel=Web.Web where Web.uri_query=\"*union*select*\" AND Web.status<400 by Web.status Web.uri_query Web.dest"
    );
    assert!(port.fidelity.is_exact(), "{:?}", port.fidelity);
    let events = [
        json!({"tag": ["web", "access"], "uri_query": "id=1 UNION SELECT 1", "status": 200}),
        json!({"tag": "web", "uri_query": "id=1 UNION SELECT 1", "status": 404}),
        json!({"tag": "proxy", "uri_query": "union select", "status": 200}),
    ];
    agree(&m, &port, &events);
}

#[test]
fn parser_reads_tstats_and_rejects_what_it_does_not_know() {
    use ruleport_splunk::ast::{Command, SearchExpr};
    let p = ruleport_splunk::parse(
        "| tstats count from datamodel=Web.Web where Web.a=1 OR Web.b=2 Web.c=3 by Web.a",
    )
    .expect("parses");
    let Command::Tstats(t) = &p.commands[0] else {
        panic!("{p:?}")
    };
    // Eval-like precedence: `a OR b c` is `a OR (b AND c)`.
    let Some(SearchExpr::Or(items)) = &t.filter else {
        panic!("{t:?}")
    };
    assert!(matches!(items[1], SearchExpr::And(_)));
    let err = |s: &str| ruleport_splunk::parse(s).expect_err(s);
    assert_eq!(
        err("| tstats count from datamodel=Nope.Nope by x").code,
        "E-SPL-DATAMODEL"
    );
    assert!(err("a=1 | tstats count from datamodel=Web.Web by Web.a")
        .message
        .contains("first"));
    assert!(
        err("| tstats count from datamodel=Web.Web where mimikatz by Web.a")
            .message
            .contains("keywords")
    );
    assert!(
        err("| tstats count from datamodel=Web.Web where Web.a=CASE(X) by Web.a")
            .message
            .contains("CASE")
    );
    assert!(
        err("| tstats count from datamodel=Web.Web where Web.a=1 by Web.a junk=1")
            .message
            .contains("unexpected")
    );
    assert!(err("| tstats frobnicate=1 count from datamodel=Web.Web")
        .message
        .contains("option"));
    assert!(err("| head 5").message.contains("tstats"));
    let deep = format!(
        "| tstats count from datamodel=Web.Web where {}Web.a=1{} by Web.a",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(err(&deep).code, "E-SPL-DEPTH");
    // Without fillnull_value a null by-field drops the event.
    let q = "| tstats count from datamodel=Web.Web by Web.user";
    let events = [json!({"tag": "web", "user": "a"}), json!({"tag": "web"})];
    assert_eq!(covered(run_spl(q, &events)), vec![0]);
    let q = "| tstats fillnull_value=\"null\" count from datamodel=Web.Web by Web.user | where 'Web.user'==\"null\"";
    assert_eq!(covered(run_spl(q, &events)), vec![1]);
}

// ---------------------------------------------------------------------- properties

const FIELDS: [&str; 5] = [
    "DestinationIp",
    "DestinationPort",
    "SourceIp",
    "User",
    "Protocol",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec!['"', '\\', '*', '?', '=', '(', ')', '\n', '|', '\'', '%', ' ', 'n', 'u', 'l', 'é', 'É', 'ß']),
            2 => prop::char::range('a', 'd'),
            1 => prop::char::range('A', 'D'),
        ],
        0..6,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn pattern() -> impl Strategy<Value = StrPattern> {
    prop::collection::vec(
        prop_oneof![4 => text().prop_map(Piece::Lit), 2 => Just(Piece::AnyChars), 1 => Just(Piece::OneChar)],
        0..4,
    )
    .prop_map(StrPattern::new)
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(FIELDS.to_vec()).prop_map(String::from)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        6 => (field(), pattern(), prop_oneof![Just(Case::Sensitive), Just(Case::Insensitive)])
            .prop_map(|(f, p, c)| Expr::matches(f, p, c)),
        1 => field().prop_map(Expr::exists),
        1 => (field(), 0i64..50).prop_map(|(f, n)| Expr::pred(Subject::field(f), Op::Eq(Scalar::Int(n)))),
        1 => (field(), prop::sample::select(vec![CmpOp::Lt, CmpOp::Ge]), 0i64..50)
            .prop_map(|(f, op, n)| Expr::pred(Subject::field(f), Op::Cmp { op, value: Scalar::Int(n) })),
        1 => (field(), prop::sample::select(vec!["10.0.0.0/8", "fe80::/10"]))
            .prop_map(|(f, n)| Expr::pred(Subject::field(f), Op::Cidr(n.parse().expect("net")))),
        1 => (field(), text(), any::<bool>()).prop_map(|(f, t, anchored)| Expr::pred(
            Subject::field(f),
            Op::Regex(RegexSpec {
                pattern: if anchored { format!("^{}", regex::escape(&t)) } else { regex::escape(&t) },
                case: Case::Insensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Search,
            }),
        )),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn instantiate(p: &StrPattern, filler: &str) -> String {
    p.pieces()
        .iter()
        .map(|piece| match piece {
            Piece::Lit(s) => s.clone(),
            Piece::AnyChars => filler.to_string(),
            Piece::OneChar => filler.chars().next().unwrap_or('x').to_string(),
            Piece::Placeholder(n) => n.clone(),
        })
        .collect()
}

fn events_for(e: &Expr, noise: &[String], choices: &[(u8, u8, u8)], multi: bool) -> Vec<Value> {
    let mut pool: Vec<String> = vec![
        "null".into(),
        "4".into(),
        "42".into(),
        "10.1.2.3".into(),
        "fe80::1".into(),
        "8.8.8.8".into(),
    ];
    e.for_each_pred(&mut |p| match &p.op {
        Op::Match { pattern, .. } => {
            pool.push(instantiate(
                pattern,
                noise.first().map(String::as_str).unwrap_or(""),
            ));
            pool.push(instantiate(pattern, "").to_uppercase());
        }
        Op::Regex(r) => pool.push(r.pattern.replace(['\\', '^'], "")),
        _ => {}
    });
    pool.extend(noise.iter().cloned());
    let mut events = Vec::new();
    for chunk in choices.chunks(FIELDS.len() + 1) {
        let Some(((kind, _, _), rest)) = chunk.split_first() else {
            continue;
        };
        let mut m = Map::new();
        let (src, code) = match kind % 6 {
            0 => ("WinEventLog:Security", 3),
            1 => (SYSMON, 1),
            _ => (SYSMON, 3),
        };
        m.insert("source".into(), json!(src));
        m.insert("EventCode".into(), json!(code));
        for (f, (k, x, y)) in FIELDS.iter().zip(rest) {
            let pick = |i: u8| Value::String(pool[i as usize % pool.len()].clone());
            match k % 4 {
                0 => {}
                3 if multi => {
                    m.insert(f.to_string(), Value::Array(vec![pick(*x), pick(*y)]));
                }
                _ => {
                    m.insert(f.to_string(), pick(*x));
                }
            }
        }
        events.push(Value::Object(m));
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Network connections (a dataset that holds exactly Sysmon 3): the data-model query, or
    /// the raw fallback, covers the same events as the rule model.
    #[test]
    fn data_model_queries_agree_with_the_rule_model(
        e in expr(),
        noise in prop::collection::vec(text(), 1..3),
        choices in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 36),
    ) {
        let m = rule_on(3, e.clone());
        let port = emit_dm(&m);
        let cs = codes(&port);
        prop_assert!(
            cs.iter().all(|c| matches!(*c, "cim-value-format" | "tstats-multivalue-rows" | "data-model-fallback")),
            "unexpected approximation {:?}", port.fidelity
        );
        // tstats splits multivalue fields into rows: exact only without a field tested twice
        // after it.
        let multi = !cs.contains(&"tstats-multivalue-rows");
        let events = events_for(&e, &noise, &choices, multi);
        let got = covered(run_spl(&port.text, &events));
        let want = covered(reference(&m, &events));
        prop_assert_eq!(got, want, "SPL:\n{}", port.text);
    }

    #[test]
    fn tstats_parser_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "| tstats ", "count ", "min(_time) as t ", "from ", "datamodel=", "Web.Web ", "where ", "by ",
            "Web.a=", "\"x\"", "(", ")", " AND ", " OR ", "NOT ", "fillnull_value=", "summariesonly=t ",
            "| where ", "'Web.a'", "==", "IN (", ",", "\\", "*",
        ]), 0..20),
    ) {
        let s: String = parts.concat();
        let _ = ruleport_splunk::parse(&s);
    }
}
