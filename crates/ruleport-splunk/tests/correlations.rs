//! Aggregations, sequences and samples: the SPL keeps the rule model's verdicts.

mod common;
use common::*;
use proptest::prelude::*;
use ruleport_model::{
    AggCondition, Aggregation, CmpOp, Detection, EventFilter, EventSource, Metric, Operand, Sample,
    SeqStep, Sequence, TimeSpan, WindowKind,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn src(e: ruleport_model::Expr) -> EventSource {
    EventSource::new(EventFilter::new(e))
}

fn agg(
    window: Option<&str>,
    kind: WindowKind,
    conditions: Vec<AggCondition>,
) -> ruleport_model::MappedRule {
    mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![src(eq("EventCode", "4625"))],
            group_by: vec!["src_ip".into()],
            window: window.map(|w| TimeSpan::parse(w).expect("span")),
            window_kind: kind,
            conditions,
        }),
        Some(eq("sourcetype", "WinEventLog")),
    )
}

fn count_ge(n: i64) -> AggCondition {
    AggCondition {
        metric: Metric::Count,
        op: CmpOp::Ge,
        value: n,
    }
}

fn failed_logons() -> Vec<Value> {
    // src a: 3 failures within 4 minutes; src b: 3 failures spread over 20 minutes.
    let mut v = Vec::new();
    for (i, (ip, t, user)) in [
        ("a", 0, "u1"),
        ("b", 0, "u1"),
        ("a", 60, "u2"),
        ("a", 240, "u3"),
        ("b", 600, "u1"),
        ("b", 1200, "u2"),
    ]
    .iter()
    .enumerate()
    {
        v.push(json!({
            "sourcetype": "WinEventLog", "EventCode": "4625", "src_ip": ip, "user": user,
            "_time": 1_700_000_000 + t, "@timestamp": (1_700_000_000i64 + t) * 1000, "n": i,
        }));
    }
    v.push(json!({"sourcetype": "WinEventLog", "EventCode": "4624", "src_ip": "a", "_time": 1_700_000_100, "@timestamp": 1_700_000_100_000i64}));
    v
}

fn reference_rule(m: &ruleport_model::MappedRule) -> ruleport_model::Rule {
    // The reference evaluator knows nothing of the selection; AND it into every source.
    let mut r = m.rule.clone();
    let sel = m.selection.condition.clone();
    let add = |f: &mut EventFilter| {
        if let Some(s) = &sel {
            f.expr = ruleport_model::Expr::and(vec![s.clone(), f.expr.clone()]);
        }
    };
    match &mut r.detection {
        Detection::Aggregation(a) => a.sources.iter_mut().for_each(|s| add(&mut s.filter)),
        Detection::Sequence(s) => s
            .steps
            .iter_mut()
            .chain(s.until.iter_mut())
            .for_each(|st| add(&mut st.source.filter)),
        Detection::Sample(s) => s.steps.iter_mut().for_each(|st| add(&mut st.source.filter)),
        Detection::Query(f) => add(f),
        _ => {}
    }
    r
}

fn reference_alerts(m: &ruleport_model::MappedRule, events: &[Value]) -> Vec<Vec<usize>> {
    ruleport_model::eval::RuleEvaluator::new(&reference_rule(m))
        .expect("compiles")
        .run(events, None)
}

fn keys(alerts: &[Vec<usize>], events: &[Value], field: &str) -> BTreeSet<String> {
    alerts
        .iter()
        .filter_map(|a| a.first())
        .map(|&i| events[i][field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn threshold_over_the_look_back() {
    let m = agg(None, WindowKind::RuleLookback, vec![count_ge(3)]);
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    sourcetype="WinEventLog" AND EventCode="4625"
    | stats count AS event_count BY src_ip
    | where event_count>=3
    "#);
    assert!(port.fidelity.is_exact());
    let events = failed_logons();
    assert_eq!(run_spl(&port.text, &events), reference_alerts(&m, &events));
    assert_eq!(
        run_spl(&port.text, &events),
        vec![vec![0, 2, 3], vec![1, 4, 5]]
    );
}

#[test]
fn sliding_window_uses_streamstats() {
    let m = agg(
        Some("5m"),
        WindowKind::Sliding,
        vec![
            count_ge(3),
            AggCondition {
                metric: Metric::DistinctCount("user".into()),
                op: CmpOp::Gt,
                value: 2,
            },
        ],
    );
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    sourcetype="WinEventLog" AND EventCode="4625"
    | sort 0 _time
    | streamstats time_window=300s count AS event_count dc(user) AS value_count BY src_ip
    | where event_count>=3 AND value_count>2
    | dedup src_ip
    "#);
    assert!(port
        .fidelity
        .reasons()
        .iter()
        .any(|r| r.code == "sliding-window-alert-bounds"));
    let events = failed_logons();
    let got = run_spl(&port.text, &events);
    let want = reference_alerts(&m, &events);
    assert_eq!(
        keys(&got, &events, "src_ip"),
        keys(&want, &events, "src_ip")
    );
    assert_eq!(got, vec![vec![0, 2, 3]]);
}

#[test]
fn tumbling_window_uses_bin() {
    let m = agg(Some("10m"), WindowKind::Tumbling, vec![count_ge(2)]);
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    sourcetype="WinEventLog" AND EventCode="4625"
    | bin _time span=600s
    | stats count AS event_count BY _time, src_ip
    | where event_count>=2
    | dedup src_ip
    "#);
    let events = failed_logons();
    assert_eq!(run_spl(&port.text, &events), reference_alerts(&m, &events));
}

#[test]
fn aliases_pick_the_field_of_the_first_matching_source() {
    let mut a = src(eq("EventCode", "4625"));
    a.aliases.insert("ip".into(), "src_ip".into());
    let mut b = src(eq("EventCode", "4771"));
    b.aliases.insert("ip".into(), "IpAddress".into());
    let m = mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![a, b],
            group_by: vec!["ip".into()],
            window: None,
            window_kind: WindowKind::RuleLookback,
            conditions: vec![count_ge(2)],
        }),
        None,
    );
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    EventCode IN ("4625", "4771")
    | eval 'ip'=case(lower('EventCode')=="4625", 'src_ip', lower('EventCode')=="4771", 'IpAddress')
    | stats count AS event_count BY ip
    | where event_count>=2
    "#);
    let events = vec![
        json!({"EventCode": "4625", "src_ip": "1.1.1.1", "_time": 1}),
        json!({"EventCode": "4771", "IpAddress": "1.1.1.1", "_time": 2}),
        json!({"EventCode": "4771", "IpAddress": "2.2.2.2", "_time": 3}),
    ];
    assert_eq!(run_spl(&port.text, &events), vec![vec![0, 1]]);
    assert_eq!(run_spl(&port.text, &events), reference_alerts(&m, &events));
}

fn step(e: ruleport_model::Expr) -> SeqStep {
    SeqStep::new(src(e))
}

fn seq(maxspan: Option<&str>, until: bool) -> ruleport_model::MappedRule {
    mapped(
        Detection::Sequence(Sequence {
            by: vec![Operand::field("host")],
            maxspan: maxspan.map(|m| TimeSpan::parse(m).expect("span")),
            steps: vec![
                step(eq("action", "a")),
                step(eq("action", "b")),
                step(eq("action", "c")),
            ],
            until: until.then(|| step(eq("action", "u"))),
        }),
        None,
    )
}

#[test]
fn sequence_text() {
    let port = emit(&seq(Some("5m"), true));
    insta::assert_snapshot!(port.text, @r#"
    action IN ("a", "b", "c", "u")
    | eval rp_s1=if(lower('action')=="a", 1, 0), rp_s2=if(lower('action')=="b", 1, 0), rp_s3=if(lower('action')=="c", 1, 0), rp_u=if(lower('action')=="u", 1, 0)
    | where isnotnull('host')
    | sort 0 _time
    | streamstats count AS rp_seq
    | eval rp_c1=if(rp_s1==1, rp_seq, null()), rp_c1t=if(rp_s1==1, '_time', null())
    | streamstats current=f max(rp_c1) AS rp_p1 max(rp_c1t) AS rp_p1t BY host
    | eval rp_c2=if(rp_s2==1 AND isnotnull(rp_p1), rp_p1, null()), rp_c2t=if(rp_s2==1 AND isnotnull(rp_p1), rp_p1t, null())
    | streamstats current=f max(rp_c2) AS rp_p2 max(rp_c2t) AS rp_p2t BY host
    | eval rp_c3=if(rp_s3==1 AND isnotnull(rp_p2), rp_p2, null()), rp_c3t=if(rp_s3==1 AND isnotnull(rp_p2), rp_p2t, null())
    | eval rp_uq=if(rp_u==1, rp_seq, null())
    | streamstats max(rp_uq) AS rp_pu BY host
    | where isnotnull(rp_c3) AND '_time'-rp_c3t<=300 AND (isnull(rp_pu) OR rp_pu<=rp_c3)
    "#);
    assert!(port
        .fidelity
        .reasons()
        .iter()
        .any(|r| r.code == "sequence-alert-grouping"));
}

#[test]
fn sequence_order_maxspan_until() {
    let m = seq(Some("5m"), true);
    let text = emit(&m).text;
    let ev = |host: &str, action: &str, t: i64| json!({"host": host, "action": action, "_time": t, "@timestamp": t * 1000});
    let events = vec![
        ev("h1", "a", 0),
        ev("h1", "b", 10),
        ev("h1", "c", 20), // h1 completes
        ev("h2", "b", 0),
        ev("h2", "a", 10),
        ev("h2", "c", 20), // wrong order
        ev("h3", "a", 0),
        ev("h3", "b", 10),
        ev("h3", "c", 400), // beyond maxspan
        ev("h4", "a", 0),
        ev("h4", "u", 5),
        ev("h4", "b", 10),
        ev("h4", "c", 20), // expired by until
    ];
    let got = run_spl(&text, &events);
    let want = reference_alerts(&m, &events);
    assert_eq!(
        keys(&got, &events, "host"),
        BTreeSet::from(["h1".to_string()])
    );
    assert_eq!(keys(&got, &events, "host"), keys(&want, &events, "host"));
}

#[test]
fn sample_text_and_distinct_events() {
    let m = mapped(
        Detection::Sample(Sample {
            by: vec![Operand::field("host")],
            window: Some(TimeSpan::parse("1m").expect("span")),
            steps: vec![
                step(glob("action", "a*", ruleport_model::Case::Insensitive)),
                step(glob("action", "*b", ruleport_model::Case::Insensitive)),
            ],
        }),
        None,
    );
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    action IN ("a*", "*b")
    | eval rp_s1=if(like(lower('action'), "a%"), 1, 0), rp_s2=if(like(lower('action'), "%b"), 1, 0)
    | where isnotnull('host')
    | eval rp_m12=if(rp_s1==1 OR rp_s2==1, 1, 0)
    | sort 0 _time
    | streamstats time_window=60s sum(rp_s1) AS rp_h1 sum(rp_s2) AS rp_h2 sum(rp_m12) AS rp_h12 BY host
    | where rp_h1>=1 AND rp_h2>=1 AND rp_h12>=2
    | dedup host
    "#);
    let ev = |host: &str, action: &str, t: i64| json!({"host": host, "action": action, "_time": t, "@timestamp": t * 1000});
    let events = vec![
        ev("h1", "ab", 0), // one event matching both steps is not enough
        ev("h2", "ab", 0),
        ev("h2", "xb", 30),
        ev("h3", "ax", 0),
        ev("h3", "xb", 120), // outside the window
    ];
    let got = run_spl(&port.text, &events);
    let want = reference_alerts(&m, &events);
    assert_eq!(
        keys(&got, &events, "host"),
        BTreeSet::from(["h2".to_string()])
    );
    assert_eq!(keys(&got, &events, "host"), keys(&want, &events, "host"));
}

#[test]
fn unsupported_shapes_say_why() {
    use ruleport_model::QueryLanguage;
    let mut s = seq(None, false);
    if let Detection::Sequence(q) = &mut s.rule.detection {
        q.steps[1].missing = true;
    }
    let u = ruleport_splunk::Splunk::new()
        .emit(&s)
        .expect_err("missing step");
    assert_eq!(u.code, "sequence-missing-step");
    let nt = mapped(
        Detection::NewTerms(ruleport_model::NewTerms {
            filter: EventFilter::new(eq("a", "b")),
            fields: vec!["user".into()],
            history_window_start: "now-7d".into(),
        }),
        None,
    );
    assert_eq!(
        ruleport_splunk::Splunk::new()
            .emit(&nt)
            .expect_err("new terms")
            .code,
        "new-terms"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// For random event streams, the SPL sequence fires for exactly the hosts the rule model does.
    #[test]
    fn sequences_fire_for_the_same_keys(
        evs in prop::collection::vec((0u8..3, 0u8..4, 0i64..200), 0..14),
        maxspan in prop::option::of(prop::sample::select(vec!["30s", "1m", "2m"])),
        until in any::<bool>(),
        runs in 1u32..3,
    ) {
        let mut m = seq(maxspan, until);
        if let Detection::Sequence(q) = &mut m.rule.detection {
            q.steps[0].runs = runs;
        }
        let actions = ["a", "b", "c", "u"];
        let mut events: Vec<Value> = evs
            .iter()
            .map(|(h, a, t)| json!({"host": format!("h{h}"), "action": actions[*a as usize], "_time": t, "@timestamp": t * 1000}))
            .collect();
        events.sort_by_key(|e| e["_time"].as_i64());
        let got = run_spl(&emit(&m).text, &events);
        let want = reference_alerts(&m, &events);
        let got_keys: BTreeSet<String> = got.iter().filter_map(|a| a.last()).map(|&i| events[i]["host"].to_string()).collect();
        let want_keys: BTreeSet<String> = want.iter().filter_map(|a| a.first()).map(|&i| events[i]["host"].to_string()).collect();
        prop_assert_eq!(got_keys, want_keys);
    }

    /// Samples (unordered, distinct events, window) fire for the same keys.
    #[test]
    fn samples_fire_for_the_same_keys(
        evs in prop::collection::vec((0u8..3, 0u8..4, 0i64..200), 0..12),
        window in prop::option::of(prop::sample::select(vec!["30s", "1m"])),
    ) {
        let acts = ["a", "b", "ab", "x"];
        let m = mapped(
            Detection::Sample(Sample {
                by: vec![Operand::field("host")],
                window: window.map(|w| TimeSpan::parse(w).expect("span")),
                steps: vec![
                    step(glob("action", "a*", ruleport_model::Case::Insensitive)),
                    step(glob("action", "*b", ruleport_model::Case::Insensitive)),
                    step(glob("action", "*", ruleport_model::Case::Insensitive)),
                ],
            }),
            None,
        );
        let mut events: Vec<Value> = evs
            .iter()
            .map(|(h, a, t)| json!({"host": format!("h{h}"), "action": acts[*a as usize], "_time": t, "@timestamp": t * 1000}))
            .collect();
        events.sort_by_key(|e| e["_time"].as_i64());
        let got = run_spl(&emit(&m).text, &events);
        let want = reference_alerts(&m, &events);
        let host_of = |a: &Vec<usize>| a.first().map(|&i| events[i]["host"].to_string());
        let got_keys: BTreeSet<String> = got.iter().filter_map(host_of).collect();
        let want_keys: BTreeSet<String> = want.iter().filter_map(host_of).collect();
        prop_assert_eq!(got_keys, want_keys);
    }

    /// Sliding-window counts fire for the same groups.
    #[test]
    fn sliding_counts_fire_for_the_same_groups(
        evs in prop::collection::vec((0u8..3, 0i64..900), 0..16),
        n in 1i64..4,
    ) {
        let m = agg(Some("2m"), WindowKind::Sliding, vec![count_ge(n)]);
        let mut events: Vec<Value> = evs
            .iter()
            .map(|(h, t)| json!({"sourcetype": "WinEventLog", "EventCode": "4625", "src_ip": format!("ip{h}"), "_time": t, "@timestamp": t * 1000}))
            .collect();
        events.sort_by_key(|e| e["_time"].as_i64());
        let got = run_spl(&emit(&m).text, &events);
        let want = reference_alerts(&m, &events);
        prop_assert_eq!(keys(&got, &events, "src_ip"), keys(&want, &events, "src_ip"));
    }
}
