//! Correlation rules, filters and collections; expected alerts derived from the correlation spec.

use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{CmpOp, Detection, Metric, Operand, Rule, TimeSpan, WindowKind};
use ruleport_sigma::{export_rule, import_collection, import_str};
use serde_json::{json, Value};
use std::path::PathBuf;

const FAILED_LOGON: &str = "title: Failed logon\nname: failed_logon\nlogsource:\n    product: windows\n    service: security\ndetection:\n    sel:\n        EventID: 4625\n    condition: sel\n";

fn only_rule(text: &str) -> Rule {
    let out = import_str(text, None);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    assert_eq!(
        out.rules.len(),
        1,
        "{:#?}",
        out.rules.iter().map(|r| &r.meta.title).collect::<Vec<_>>()
    );
    out.rules.into_iter().next().expect("rule")
}

fn at(minute: i64, mut ev: Value) -> Value {
    let secs = minute * 60;
    ev["@timestamp"] = json!(format!(
        "2024-01-01T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    ));
    ev
}

fn alerts(r: &Rule, events: &[Value]) -> usize {
    RuleEvaluator::new(r)
        .expect("evaluator")
        .run(events, None)
        .len()
}

fn round_trip(r: &Rule) {
    let exp = export_rule(r).expect("export");
    let out = import_str(&exp.text, None);
    assert!(!out.has_errors(), "{:#?}\n{}", out.diagnostics, exp.text);
    let back = out
        .rules
        .iter()
        .find(|b| b.meta.title == r.meta.title)
        .unwrap_or_else(|| panic!("rule missing after export:\n{}", exp.text));
    assert_eq!(back.detection, r.detection, "exported:\n{}", exp.text);
    assert_eq!(back.meta, r.meta, "exported:\n{}", exp.text);
}

#[test]
fn event_count_groups_and_slides() {
    let text = format!(
        "{FAILED_LOGON}---\ntitle: Many failed logons\nid: 0e95725d-7320-415d-80f7-004da920fc11\ncorrelation:\n    type: event_count\n    rules:\n        - failed_logon\n    group-by:\n        - TargetUserName\n    timespan: 5m\n    condition:\n        gte: 3\nlevel: high\n"
    );
    let r = only_rule(&text);
    assert_eq!(
        r.meta.title, "Many failed logons",
        "the referenced rule is not output on its own"
    );
    let Detection::Aggregation(a) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert_eq!(a.group_by, vec!["TargetUserName"]);
    assert_eq!(a.window, Some(TimeSpan::from_millis(300_000)));
    assert_eq!(a.window_kind, WindowKind::Sliding);
    assert_eq!(a.conditions[0].metric, Metric::Count);
    assert_eq!(a.sources[0].name.as_deref(), Some("failed_logon"));
    assert_eq!(
        a.sources[0]
            .logsource
            .as_ref()
            .and_then(|l| l.service.as_deref()),
        Some("security")
    );
    let ev = |m, u: &str| at(m, json!({"EventID": 4625, "TargetUserName": u}));
    // a: three within 4 minutes → one alert; b: two → none; c: three over 20 minutes → none.
    let events = vec![
        ev(0, "a"),
        ev(2, "a"),
        ev(4, "a"),
        ev(0, "b"),
        ev(1, "b"),
        ev(0, "c"),
        ev(10, "c"),
        ev(20, "c"),
        at(1, json!({"EventID": 4624, "TargetUserName": "b"})),
    ];
    assert_eq!(alerts(&r, &events), 1);
    round_trip(&r);
}

#[test]
fn value_count_and_ranges() {
    let text = format!(
        "{FAILED_LOGON}---\ntitle: Spray\ncorrelation:\n    type: value_count\n    rules: failed_logon\n    group-by: [IpAddress]\n    timespan: 1h\n    condition:\n        field: TargetUserName\n        gt: 1\n        lte: 3\n"
    );
    let r = only_rule(&text);
    let Detection::Aggregation(a) = &r.detection else {
        panic!()
    };
    assert_eq!(
        a.conditions.len(),
        2,
        "the spec's range form keeps both bounds"
    );
    assert_eq!(
        a.conditions[0].metric,
        Metric::DistinctCount("TargetUserName".into())
    );
    assert_eq!((a.conditions[0].op, a.conditions[0].value), (CmpOp::Gt, 1));
    assert_eq!((a.conditions[1].op, a.conditions[1].value), (CmpOp::Le, 3));
    let ev = |m, ip: &str, u: &str| {
        at(
            m,
            json!({"EventID": 4625, "IpAddress": ip, "TargetUserName": u}),
        )
    };
    // ip1: 2 distinct users → in (1, 3]; ip2: 1 user (3 events) → no.
    let events = vec![
        ev(0, "ip1", "x"),
        ev(1, "ip1", "y"),
        ev(0, "ip2", "x"),
        ev(1, "ip2", "x"),
        ev(2, "ip2", "x"),
    ];
    assert_eq!(alerts(&r, &events), 1);
    // ip3: 4 distinct users in one window exceed `lte: 3`, but a sliding window over the
    // last two events holds 2: some window satisfies the range.
    let spread = vec![
        ev(0, "ip3", "a"),
        ev(0, "ip3", "b"),
        ev(0, "ip3", "c"),
        ev(0, "ip3", "d"),
    ];
    assert_eq!(alerts(&r, &spread), 1);
    round_trip(&r);
}

#[test]
fn value_sum_avg_percentile() {
    for (ty, extra, metric) in [
        ("value_sum", "", Metric::Sum("Bytes".into())),
        ("value_avg", "", Metric::Avg("Bytes".into())),
        (
            "value_percentile",
            "        percentile: 95\n",
            Metric::Percentile("Bytes".into(), 95),
        ),
    ] {
        let text = format!(
            "{FAILED_LOGON}---\ntitle: {ty}\ncorrelation:\n    type: {ty}\n    rules: [failed_logon]\n    group-by: [Host]\n    timespan: 1d\n    condition:\n        field: Bytes\n{extra}        gte: 100\n"
        );
        let r = only_rule(&text);
        let Detection::Aggregation(a) = &r.detection else {
            panic!()
        };
        assert_eq!(a.conditions[0].metric, metric);
        round_trip(&r);
    }
    let events = vec![
        at(0, json!({"EventID": 4625, "Host": "h", "Bytes": 60})),
        at(1, json!({"EventID": 4625, "Host": "h", "Bytes": 50})),
    ];
    let sum = only_rule(&format!("{FAILED_LOGON}---\ntitle: s\ncorrelation:\n    type: value_sum\n    rules: [failed_logon]\n    group-by: [Host]\n    timespan: 1d\n    condition:\n        field: Bytes\n        gte: 100\n"));
    assert_eq!(alerts(&sum, &events), 1, "60 + 50 >= 100");
    let avg = only_rule(&format!("{FAILED_LOGON}---\ntitle: a\ncorrelation:\n    type: value_avg\n    rules: [failed_logon]\n    group-by: [Host]\n    timespan: 1d\n    condition:\n        field: Bytes\n        gte: 100\n"));
    assert_eq!(alerts(&avg, &events), 0, "average 55 < 100");
}

const RECON: &str = "title: Recon\nname: recon\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: '\\whoami.exe'\n    condition: sel\n";
const EXFIL: &str = "title: Exfil\nname: exfil\nlogsource:\n    product: windows\n    service: security\ndetection:\n    sel:\n        EventID: 5145\n    condition: sel\n";

#[test]
fn temporal_ordered_with_aliases() {
    let text = format!(
        "{RECON}---\n{EXFIL}---\ntitle: Recon then exfil\ncorrelation:\n    type: temporal_ordered\n    rules:\n        - recon\n        - exfil\n    group-by:\n        - user\n    aliases:\n        user:\n            recon: User\n            exfil: SubjectUserName\n    timespan: 1h\n"
    );
    let r = only_rule(&text);
    let Detection::Sequence(s) = &r.detection else {
        panic!("{:?}", r.detection)
    };
    assert!(s.by.is_empty());
    assert_eq!(s.steps[0].by, vec![Operand::field("User")]);
    assert_eq!(s.steps[1].by, vec![Operand::field("SubjectUserName")]);
    assert_eq!(s.maxspan, Some(TimeSpan::from_millis(3_600_000)));
    let recon = |m, u: &str| at(m, json!({"Image": "C:\\Windows\\whoami.exe", "User": u}));
    let exfil = |m, u: &str| at(m, json!({"EventID": 5145, "SubjectUserName": u}));
    assert_eq!(alerts(&r, &[recon(0, "a"), exfil(10, "a")]), 1);
    assert_eq!(
        alerts(&r, &[exfil(0, "a"), recon(10, "a")]),
        0,
        "order matters"
    );
    assert_eq!(alerts(&r, &[recon(0, "a"), exfil(10, "b")]), 0, "same user");
    assert_eq!(
        alerts(&r, &[recon(0, "a"), exfil(70, "a")]),
        0,
        "within the timespan"
    );
    round_trip(&r);
}

#[test]
fn temporal_any_order_and_generate() {
    let text = format!(
        "{RECON}---\n{EXFIL}---\ntitle: Both\ncorrelation:\n    type: temporal\n    rules: [recon, exfil]\n    group-by: [User]\n    timespan: 30m\n    generate: true\n"
    );
    let out = import_str(&text, None);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    let titles: Vec<&str> = out.rules.iter().map(|r| r.meta.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Recon", "Exfil", "Both"],
        "generate keeps the referenced rules"
    );
    let r = &out.rules[2];
    let Detection::Sample(s) = &r.detection else {
        panic!()
    };
    assert_eq!(s.window, Some(TimeSpan::from_millis(1_800_000)));
    let recon = at(20, json!({"Image": "x\\whoami.exe", "User": "a"}));
    let exfil = at(5, json!({"EventID": 5145, "User": "a"}));
    assert_eq!(alerts(r, &[recon.clone(), exfil.clone()]), 1, "any order");
    assert_eq!(alerts(r, &[recon]), 0);
    round_trip(r);
    // A temporal condition other than "all rules" is kept as unsupported, not dropped.
    let partial = only_rule(&format!(
        "{RECON}---\n{EXFIL}---\ntitle: One\ncorrelation:\n    type: temporal\n    rules: [recon, exfil]\n    timespan: 30m\n    condition:\n        gte: 1\n"
    ));
    assert!(matches!(partial.detection, Detection::Unsupported(_)));
}

#[test]
fn references_by_id_errors_and_chains() {
    let base = "title: B\nid: 6e3a4c3c-7d7f-4d7c-9a0e-2a8f3d6f1b11\nlogsource:\n    product: x\ndetection:\n    s:\n        A: 1\n    condition: s\n";
    let r = only_rule(&format!(
        "{base}---\ntitle: C\nname: corr\ncorrelation:\n    type: event_count\n    rules: [6e3a4c3c-7d7f-4d7c-9a0e-2a8f3d6f1b11]\n    timespan: 10s\n    condition: {{gt: 0}}\n"
    ));
    assert!(matches!(r.detection, Detection::Aggregation(_)));
    round_trip(&r);
    let out = import_str(
        "title: C\ncorrelation:\n    type: event_count\n    rules: [missing]\n    timespan: 1m\n    condition: {gte: 1}\n",
        Some(std::path::Path::new("c.yml")),
    );
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("error");
    assert!(
        d.message.contains("`missing`") && d.pos.is_some() && d.path.is_some(),
        "{d}"
    );
    let out = import_str(
        &format!("{base}---\ntitle: C\nname: corr\ncorrelation:\n    type: event_cnt\n    rules: [x]\n    timespan: 1m\n"),
        None,
    );
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.hint.as_deref() == Some("did you mean `event_count`?")));
    let out = import_str(
        &format!("{base}---\ntitle: C1\nname: c1\ncorrelation:\n    type: event_count\n    rules: [6e3a4c3c-7d7f-4d7c-9a0e-2a8f3d6f1b11]\n    timespan: 1m\n    condition: {{gte: 2}}\n---\ntitle: C2\ncorrelation:\n    type: event_count\n    rules: [c1]\n    timespan: 1h\n    condition: {{gte: 2}}\n"),
        None,
    );
    let c2 = out
        .rules
        .iter()
        .find(|r| r.meta.title == "C2")
        .expect("c2 kept");
    assert!(matches!(c2.detection, Detection::Unsupported(_)));
    let out = import_str(&format!("{base}---\ntitle: C\ncorrelation:\n    type: event_count\n    rules: [6e3a4c3c-7d7f-4d7c-9a0e-2a8f3d6f1b11]\n    timespan: 0m\n    condition: {{gte: 2}}\n"), None);
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.message.contains("invalid timespan")));
}

const RAR: &str = "title: Rar\nid: 3c4f4b6e-0d39-4a43-8f7d-6b7f1c1a2b3c\nname: rar\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    sel:\n        Image|endswith: '\\rar.exe'\n    condition: sel\n";

#[test]
fn filters_are_anded_with_the_rule() {
    let text = format!(
        "{RAR}---\ntitle: Not admins\nlogsource:\n    category: process_creation\n    product: windows\nfilter:\n    rules:\n        - rar\n    admins:\n        User|startswith: 'adm_'\n    condition: not admins\n"
    );
    let r = only_rule(&text);
    let ev = |u: &str| json!({"Image": "C:\\rar.exe", "User": u});
    let m = |r: &Rule, e: &Value| RuleEvaluator::new(r).expect("ev").event_matches(e, None);
    assert!(m(&r, &ev("bob")));
    assert!(!m(&r, &ev("adm_bob")));
    // The spec's example condition (`selection`) restricts the rule, as pySigma applies it.
    let r = only_rule(&text.replace("condition: not admins", "condition: admins"));
    assert!(m(&r, &ev("adm_bob")));
    assert!(!m(&r, &ev("bob")));
    // `rules: any` applies by log source only.
    let any = format!(
        "{RAR}---\ntitle: Any linux\nlogsource:\n    product: linux\nfilter:\n    rules: any\n    f:\n        User: root\n    condition: not f\n"
    );
    let r = only_rule(&any);
    assert!(
        m(&r, &json!({"Image": "x\\rar.exe", "User": "root"})),
        "a linux filter leaves windows rules alone"
    );
    // Across files of one collection.
    let files = vec![
        (PathBuf::from("a.yml"), RAR.to_string()),
        (PathBuf::from("b.yml"), "title: F\nlogsource:\n    product: windows\nfilter:\n    rules: [3c4f4b6e-0d39-4a43-8f7d-6b7f1c1a2b3c]\n    f:\n        User: root\n    condition: not f\n".to_string()),
    ];
    let out = import_collection(&files);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    assert_eq!(out.rules.len(), 1);
    assert!(!m(
        &out.rules[0],
        &json!({"Image": "x\\rar.exe", "User": "ROOT"})
    ));
}

#[test]
fn correlations_across_files() {
    let files = vec![
        (PathBuf::from("base.yml"), FAILED_LOGON.to_string()),
        (
            PathBuf::from("corr.yml"),
            "title: Many\ncorrelation:\n    type: event_count\n    rules: [failed_logon]\n    timespan: 5m\n    condition: {gte: 2}\n".to_string(),
        ),
    ];
    let out = import_collection(&files);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    assert_eq!(out.rules.len(), 1);
    assert_eq!(
        out.rules[0].provenance.path.as_deref(),
        Some(std::path::Path::new("corr.yml"))
    );
}
