//! Elasticsearch EQL semantics, with expected results derived by hand from the Elasticsearch
//! documentation (eql-syntax.md) rather than from this crate's output.

use ruleport_eql::{compile, parse_to_detection};
use ruleport_model::eval::{expr_matches, CompiledFilter};
use ruleport_model::Detection;
use serde_json::{json, Value};

/// Result groups as 1-based event numbers (the docs number events from 1).
fn run(query: &str, events: &[Value]) -> Vec<Vec<usize>> {
    let q = compile(query).unwrap_or_else(|d| panic!("{query}: {d}"));
    q.run_matches(events)
        .into_iter()
        .map(|m| {
            m.events
                .into_iter()
                .map(|e| e.map_or(0, |i| i + 1))
                .collect()
        })
        .collect()
}

/// An event at `t` seconds with category `cat` and extra fields.
fn ev(t: i64, cat: &str, fields: Value) -> Value {
    let mut doc = json!({"@timestamp": t * 1000, "event": {"category": cat}});
    if let (Value::Object(d), Value::Object(f)) = (&mut doc, fields) {
        d.extend(f);
    }
    doc
}

/// Does the single-event query match the document (EQL evaluator)?
fn matches(query: &str, doc: Value) -> bool {
    !run(query, &[doc]).is_empty()
}

/// Does the lowered model match the document (reference evaluator)?
fn model_matches(query: &str, doc: &Value) -> bool {
    let Detection::Query(f) = parse_to_detection(query).unwrap_or_else(|d| panic!("{query}: {d}"))
    else {
        panic!("not an event query")
    };
    CompiledFilter::compile(&f, "event.category")
        .expect("compiles")
        .matches(doc)
}

/// Both evaluators give `expected`.
fn check(query: &str, doc: Value, expected: bool) {
    assert_eq!(
        matches(query, doc.clone()),
        expected,
        "EQL evaluator: {query} on {doc}"
    );
    assert_eq!(
        model_matches(query, &doc),
        expected,
        "lowered model: {query} on {doc}"
    );
}

// ---- sequences ----

#[test]
fn docs_state_machine_example() {
    // eql-syntax.md, "How sequence queries handle matches": events 1..11.
    let users = [
        "root", "root", "elkbee", "root", "root", "elkbee", "root", "elkbee", "root", "elkbee",
        "root",
    ];
    let names = [
        "attrib", "attrib", "bash", "bash", "bash", "attrib", "attrib", "bash", "cat", "cat", "cat",
    ];
    let events: Vec<Value> = (0..11)
        .map(|i| {
            ev(
                i as i64,
                "process",
                json!({"user": {"name": users[i]}, "process": {"name": names[i]}}),
            )
        })
        .collect();
    let q = r#"sequence by user.name
      [process where process.name == "attrib"]
      [process where process.name == "bash"]
      [process where process.name == "cat"]"#;
    assert_eq!(run(q, &events), vec![vec![2, 4, 9], vec![6, 8, 10]]);
}

#[test]
fn newer_partial_match_overwrites_older() {
    let events = vec![
        ev(1, "process", json!({"a": 1})),
        ev(2, "process", json!({"a": 1})),
        ev(3, "process", json!({"b": 1})),
    ];
    assert_eq!(
        run(
            "sequence [process where a == 1] [process where b == 1]",
            &events
        ),
        vec![vec![2, 3]]
    );
}

#[test]
fn until_expires_pending_sequences() {
    // Docs: with `until C`, A,B and A,B,C match; A,C,B does not.
    let mk = |id: i64, t: i64, kind: &str| ev(t, "process", json!({"id": id, "kind": kind}));
    let events = vec![
        mk(1, 1, "A"),
        mk(1, 2, "B"),
        mk(2, 3, "A"),
        mk(2, 4, "B"),
        mk(2, 5, "C"),
        mk(3, 6, "A"),
        mk(3, 7, "C"),
        mk(3, 8, "B"),
    ];
    let q = r#"sequence by id
      [process where kind == "A"]
      [process where kind == "B"]
    until [process where kind == "C"]"#;
    assert_eq!(run(q, &events), vec![vec![1, 2], vec![3, 4]]);
}

#[test]
fn maxspan_counts_from_the_first_event() {
    let abc = |ta: i64, tb: i64, tc: i64| {
        vec![
            ev(ta, "process", json!({"k": "a"})),
            ev(tb, "process", json!({"k": "b"})),
            ev(tc, "process", json!({"k": "c"})),
        ]
    };
    let q = r#"sequence with maxspan=5s [process where k == "a"] [process where k == "b"] [process where k == "c"]"#;
    // c is 2s after b but 6s after a.
    assert!(run(q, &abc(0, 4, 6)).is_empty());
    // Exactly maxspan is still inside.
    assert_eq!(run(q, &abc(0, 4, 5)), vec![vec![1, 2, 3]]);
    let q_ms = r#"sequence with maxspan=500ms [process where k == "a"] [process where k == "b"]"#;
    assert!(run(q_ms, &abc(0, 1, 2)).is_empty());
}

#[test]
fn runs_repeat_a_step() {
    let q = r#"sequence [process where k == "a"] with runs=2 [process where k == "b"]"#;
    let a = |t| ev(t, "process", json!({"k": "a"}));
    let b = |t| ev(t, "process", json!({"k": "b"}));
    assert_eq!(run(q, &[a(1), a(2), b(3)]), vec![vec![1, 2, 3]]);
    assert!(run(q, &[a(1), b(2)]).is_empty());
    // With three a's the newest pair wins the state.
    assert_eq!(run(q, &[a(1), a(2), a(3), b(4)]), vec![vec![2, 3, 4]]);
}

#[test]
fn missing_steps() {
    let e = |t, k: &str| ev(t, "process", json!({"k": k}));
    let middle = r#"sequence with maxspan=10s [process where k == "a"] ![process where k == "m"] [process where k == "b"]"#;
    assert!(run(middle, &[e(1, "a"), e(2, "m"), e(3, "b")]).is_empty());
    assert_eq!(
        run(middle, &[e(1, "a"), e(3, "b"), e(4, "m")]),
        vec![vec![1, 0, 2]]
    );
    // `-[` is the spelling Elasticsearch's own tests use.
    let trailing = r#"sequence with maxspan=5s [process where k == "a"] -[process where k == "m"]"#;
    assert!(run(trailing, &[e(0, "a"), e(3, "m")]).is_empty());
    assert_eq!(run(trailing, &[e(0, "a"), e(6, "m")]), vec![vec![1, 0]]);
    let leading = r#"sequence with maxspan=5s ![process where k == "m"] [process where k == "a"]"#;
    assert!(run(leading, &[e(0, "m"), e(3, "a")]).is_empty());
    assert_eq!(run(leading, &[e(0, "m"), e(6, "a")]), vec![vec![0, 2]]);
}

#[test]
fn null_join_keys_are_excluded_unless_optional() {
    let events = vec![
        ev(1, "process", json!({"k": "a"})),
        ev(2, "process", json!({"k": "b"})),
    ];
    let q = r#"sequence by host [process where k == "a"] [process where k == "b"]"#;
    assert!(run(q, &events).is_empty());
    let q = r#"sequence by ?host [process where k == "a"] [process where k == "b"]"#;
    assert_eq!(run(q, &events), vec![vec![1, 2]]);
    // Distinct keys never join.
    let keyed = vec![
        ev(1, "process", json!({"k": "a", "host": "x"})),
        ev(2, "process", json!({"k": "b", "host": "y"})),
        ev(3, "process", json!({"k": "b", "host": "x"})),
    ];
    let q = r#"sequence by host [process where k == "a"] [process where k == "b"]"#;
    assert_eq!(run(q, &keyed), vec![vec![1, 3]]);
}

#[test]
fn per_step_keys_join_different_fields() {
    let events = vec![
        ev(1, "process", json!({"pid": 7})),
        ev(2, "process", json!({"ppid": 8})),
        ev(3, "process", json!({"ppid": 7})),
    ];
    let q = "sequence [process where pid != null] by pid [process where ppid != null] by ppid";
    assert_eq!(run(q, &events), vec![vec![1, 3]]);
}

#[test]
fn samples_pick_first_events_per_key() {
    let events = vec![
        ev(1, "a", json!({"h": "x"})),
        ev(2, "a", json!({"h": "x"})),
        ev(3, "b", json!({"h": "x"})),
        ev(4, "b", json!({"h": "y"})),
    ];
    // Unordered: the b event may come before the a event.
    let q = "sample by h [b where true] [a where true]";
    assert_eq!(run(q, &events), vec![vec![3, 1]]);
}

#[test]
fn head_and_tail() {
    let events: Vec<Value> = (1..=5).map(|t| ev(t, "process", json!({}))).collect();
    assert_eq!(
        run("process where true | head 2", &events),
        vec![vec![1], vec![2]]
    );
    assert_eq!(
        run("process where true | tail 2", &events),
        vec![vec![4], vec![5]]
    );
    assert_eq!(
        run("process where true | head 4 | tail 1", &events),
        vec![vec![4]]
    );
}

#[test]
fn events_are_ordered_by_timestamp() {
    let events = vec![ev(5, "process", json!({})), ev(1, "process", json!({}))];
    assert_eq!(run("process where true", &events), vec![vec![2], vec![1]]);
}

// ---- operators and case ----

#[test]
fn equality_is_case_sensitive_without_wildcards() {
    check(r#"any where f == "cmd.exe""#, json!({"f": "cmd.exe"}), true);
    check(
        r#"any where f == "cmd.exe""#,
        json!({"f": "CMD.EXE"}),
        false,
    );
    check(r#"any where f == "cmd*""#, json!({"f": "cmd.exe"}), false);
    check(r#"any where f == "cmd*""#, json!({"f": "cmd*"}), true);
    check(r#"any where f != "cmd.exe""#, json!({"f": "CMD.EXE"}), true);
}

#[test]
fn colon_is_case_insensitive_with_star_and_question_and_no_escape() {
    check(r#"any where f : "CMD.exe""#, json!({"f": "cmd.EXE"}), true);
    check(r#"any where f : "cmd*""#, json!({"f": "CMD.exe"}), true);
    check(r#"any where f : "cm?.exe""#, json!({"f": "cmd.exe"}), true);
    check(r#"any where f : "cm?.exe""#, json!({"f": "cm.exe"}), false);
    // A backslash is literal: `C:\Windows\*` is the prefix `C:\Windows\`.
    check(
        r#"any where f : "C:\\Windows\\*""#,
        json!({"f": "c:\\windows\\x.exe"}),
        true,
    );
    check(
        r#"any where f : """C:\Windows\*""""#,
        json!({"f": "C:\\Windows\\x"}),
        true,
    );
    check(r#"any where f : ("a*", "b")"#, json!({"f": "B"}), true);
}

#[test]
fn like_and_like_tilde() {
    check(r#"any where f like "DOC*""#, json!({"f": "DOCS"}), true);
    check(r#"any where f like "DOC*""#, json!({"f": "docs"}), false);
    check(r#"any where f like~ "DOC*""#, json!({"f": "docs"}), true);
    check(
        r#"any where f like ("x", "D?C")"#,
        json!({"f": "DOC"}),
        true,
    );
    check(
        r#"any where f like ("x", "D?C")"#,
        json!({"f": "DOOC"}),
        false,
    );
}

#[test]
fn regex_is_a_full_match() {
    check(r#"any where f regex "cmd""#, json!({"f": "cmd.exe"}), false);
    check(
        r#"any where f regex "cmd.*""#,
        json!({"f": "cmd.exe"}),
        true,
    );
    check(
        r#"any where f regex "CMD.*""#,
        json!({"f": "cmd.exe"}),
        false,
    );
    check(
        r#"any where f regex~ "CMD.*""#,
        json!({"f": "cmd.exe"}),
        true,
    );
    // Lucene has no anchors: `^` is a literal character.
    check(r#"any where f regex "^a""#, json!({"f": "a"}), false);
    check(r#"any where f regex "^a""#, json!({"f": "^a"}), true);
    check(
        r#"any where f regex """[0-9]+\s\w+""""#,
        json!({"f": "12 ab_9"}),
        true,
    );
}

#[test]
fn in_and_in_tilde_have_no_wildcards() {
    check(r#"any where f in ("a", "b")"#, json!({"f": "b"}), true);
    check(r#"any where f in ("a", "b")"#, json!({"f": "B"}), false);
    check(r#"any where f in~ ("a", "b")"#, json!({"f": "B"}), true);
    check(r#"any where f in~ ("b*")"#, json!({"f": "bcd"}), false);
    check(r#"any where f in~ ("b*")"#, json!({"f": "B*"}), true);
    check(r#"any where f not in ("a", "b")"#, json!({"f": "c"}), true);
    check(r#"any where f not in ("a", "b")"#, json!({}), false);
    check("any where n in (1, 2)", json!({"n": 2}), true);
}

#[test]
fn comparisons() {
    check(
        r#"any where s >= "System""#,
        json!({"s": "System Idle"}),
        true,
    );
    check(
        r#"any where s >= "system""#,
        json!({"s": "System Idle"}),
        false,
    );
    check("any where n > 1.5", json!({"n": 2}), true);
    check("any where 3 > n", json!({"n": 2}), true);
    check("any where n - 1 == 1", json!({"n": 2}), true);
    check("any where n / 2 == 1", json!({"n": 3}), true);
    check("any where n / 2.0 == 1", json!({"n": 3}), false);
}

#[test]
fn functions_and_their_case_forms() {
    check(
        r#"any where startsWith(f, "exp")"#,
        json!({"f": "Explorer"}),
        false,
    );
    check(
        r#"any where startsWith~(f, "exp")"#,
        json!({"f": "Explorer"}),
        true,
    );
    check(
        r#"any where endswith~(f, ".EXE")"#,
        json!({"f": "a.exe"}),
        true,
    );
    check(
        r#"any where stringContains(f, "plo")"#,
        json!({"f": "Explorer"}),
        true,
    );
    check(
        r#"any where stringContains(f, "")"#,
        json!({"f": "x"}),
        false,
    );
    check(
        r#"any where cidrmatch(ip, "10.0.0.0/8", "fe80::/10")"#,
        json!({"ip": "FE80::1"}),
        true,
    );
    check(
        r#"any where cidrMatch(ip, "10.0.0.0/8")"#,
        json!({"ip": "11.0.0.1"}),
        false,
    );
    check(r#"any where length(f) > 3"#, json!({"f": "abcd"}), true);
    check(
        r#"any where substring(f, -4) : ".EXE""#,
        json!({"f": "a.exe"}),
        true,
    );
    check(
        r#"any where indexOf(f, "z") == null"#,
        json!({"f": "abc"}),
        true,
    );
}

#[test]
fn multi_valued_fields_match_any_element() {
    let doc = json!({"process": {"args": ["cmd.exe", "/c", "whoami"]}});
    check(r#"any where process.args == "whoami""#, doc.clone(), true);
    check(r#"any where process.args != "whoami""#, doc.clone(), false);
    check(r#"any where process.args : "WHO*""#, doc, true);
}

// ---- three-valued logic ----

#[test]
fn negation_does_not_match_missing_fields() {
    check(r#"any where not f == "x""#, json!({}), false);
    check(r#"any where not f == "x""#, json!({"f": "y"}), true);
    check(r#"any where f != "x""#, json!({}), false);
    check(r#"any where not f : ("a", "b")"#, json!({}), false);
    check(r#"any where f < 3"#, json!({}), false);
    check(r#"any where not f < 3"#, json!({}), false);
    // not (A and B) is true when A is false, even if B is null.
    check(
        r#"any where not (f == "x" and g == "y")"#,
        json!({"f": "a"}),
        true,
    );
    check(r#"any where not (f == "x" and g == "y")"#, json!({}), false);
    // true or null is true; false or null is null.
    check(r#"any where f == "a" or g == "b""#, json!({"f": "a"}), true);
    check(
        r#"any where not (f == "a" or g == "b")"#,
        json!({"f": "c"}),
        false,
    );
}

#[test]
fn null_tests_are_never_null() {
    check("any where f == null", json!({}), true);
    check("any where ?f != null", json!({"f": 1}), true);
    check("any where not f == null", json!({"f": 1}), true);
    check("any where null == (n > 1)", json!({}), true);
    check("any where null == (n > 1)", json!({"n": 0}), false);
}

#[test]
fn lowering_is_compact_for_ordinary_queries() {
    let Detection::Query(f) =
        parse_to_detection(r#"process where process.name != "cmd.exe""#).expect("lower")
    else {
        panic!()
    };
    assert_eq!(f.category.as_deref(), Some("process"));
    let shown = format!("{:?}", f.expr);
    assert!(
        shown.starts_with("And([Pred(Predicate { subject: Field { name: \"process.name\""),
        "{shown}"
    );
    assert!(
        shown.contains("op: Exists") && shown.contains("Not(Pred"),
        "{shown}"
    );
    // `f == null or not f : "x"` is just ¬(f : "x").
    let Detection::Query(g) =
        parse_to_detection(r#"any where f == null or not f : "x""#).expect("lower")
    else {
        panic!()
    };
    assert!(
        matches!(g.expr, ruleport_model::Expr::Not(_)),
        "{:?}",
        g.expr
    );
    assert!(expr_matches(&g.expr, &json!({})).expect("eval"));
}

#[test]
fn optional_field_missing_everywhere_is_null() {
    // `?x` unknown to every event: `?x == null` holds, `?x == ?y` is null == null (true).
    let events = vec![ev(1, "a", json!({"id": 1}))];
    assert_eq!(run("a where ?x == null", &events), vec![vec![1]]);
    assert_eq!(run("a where ?x == ?y", &events), vec![vec![1]]);
}

#[test]
fn regex_over_the_size_limit_compiles_but_fails_when_run() {
    use ruleport_model::target::CompiledQuery;
    // Valid syntax, far over the 16 MiB NFA limit: a million copies of any character.
    let q = compile(r#"any where f regex "(.{1000}){1000}""#).expect("the syntax is checked only");
    let err = q
        .run(&[json!({"f": "x"})])
        .expect_err("the size limit is reported");
    assert!(err.0.contains("does not compile"), "{}", err.0);
    // A small one is built on the same path and matches.
    let ok = compile(r#"any where f regex "c.+""#).expect("compiles");
    assert_eq!(ok.run(&[json!({"f": "cmd"})]).expect("runs"), vec![vec![0]]);
}
