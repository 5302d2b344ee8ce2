//! The SPL parser and evaluator on hand-written SPL: Splunk's precedence, errors with positions,
//! bounded nesting, and search semantics from the documentation.

use ruleport_model::{CompiledQuery, Pos};
use ruleport_splunk::ast::{Command, SearchExpr};
use ruleport_splunk::{compile, parse};
use serde_json::{json, Value};

fn hits(spl: &str, events: &[Value]) -> Vec<usize> {
    let q = compile(spl).unwrap_or_else(|d| panic!("{d}"));
    q.run(events).expect("runs").into_iter().flatten().collect()
}

#[test]
fn search_or_binds_tighter_than_and() {
    // Splunk docs: `A AND B OR C` is `A AND (B OR C)`; juxtaposition is AND too.
    let p = parse("a=1 b=2 OR c=3").expect("parses");
    let Command::Search(SearchExpr::And(items)) = &p.commands[0] else {
        panic!("expected AND at the top: {p:?}");
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], SearchExpr::Or(_)));
    let events = [
        json!({"a": "1", "c": "3"}),
        json!({"c": "3"}),
        json!({"a": "1", "b": "2"}),
    ];
    assert_eq!(hits("a=1 b=2 OR c=3", &events), vec![0, 2]);
    assert_eq!(hits("a=1 AND b=2 OR c=3", &events), vec![0, 2]);
}

#[test]
fn where_and_binds_tighter_than_or() {
    let events = [
        json!({"a": "1", "c": "3"}),
        json!({"c": "3"}),
        json!({"a": "1", "b": "2"}),
    ];
    // eval precedence: `a AND b OR c` is `(a AND b) OR c`.
    assert_eq!(
        hits("* | where 'a'==\"1\" AND 'b'==\"2\" OR 'c'==\"3\"", &events),
        vec![0, 1, 2]
    );
}

#[test]
fn not_versus_not_equal() {
    let events = [json!({"f": "v"}), json!({"f": "w"}), json!({})];
    assert_eq!(hits("NOT f=v", &events), vec![1, 2]);
    assert_eq!(hits("f!=v", &events), vec![1]);
    assert_eq!(hits("f=*", &events), vec![0, 1]);
    assert_eq!(hits("NOT f=*", &events), vec![2]);
}

#[test]
fn search_is_case_insensitive_where_is_not() {
    let events = [json!({"f": "Value"}), json!({"f": "value"})];
    assert_eq!(hits("f=VALUE", &events), vec![0, 1]);
    assert_eq!(hits("f=CASE(Value)", &events), vec![0]);
    assert_eq!(hits("* | where 'f'==\"Value\"", &events), vec![0]);
    assert_eq!(hits("* | where like('f', \"V%\")", &events), vec![0]);
    assert_eq!(hits("* | where match('f', \"^v\")", &events), vec![1]);
}

#[test]
fn multivalue_any_match_and_in_lists() {
    let events = [json!({"f": ["a", "b"]}), json!({"f": "c"})];
    assert_eq!(hits("f=b", &events), vec![0]);
    assert_eq!(hits("f IN (x, \"c\", z*)", &events), vec![1]);
    assert_eq!(hits("NOT f=b", &events), vec![1]);
}

#[test]
fn field_names_are_case_sensitive_and_quoted_names_work() {
    let events = [json!({"Image": "x", "properties.targetResources{}.displayName": "App"})];
    assert_eq!(hits("image=x", &events), Vec::<usize>::new());
    assert_eq!(hits("Image=x", &events), vec![0]);
    assert_eq!(
        hits("\"properties.targetResources{}.displayName\"=app", &events),
        vec![0]
    );
    assert_eq!(
        hits(
            "* | where 'properties.targetResources{}.displayName'==\"App\"",
            &events
        ),
        vec![0]
    );
}

#[test]
fn nested_json_field_names() {
    let events =
        [json!({"properties": {"targetResources": [{"displayName": "A"}, {"displayName": "B"}]}})];
    assert_eq!(
        hits("\"properties.targetResources{}.displayName\"=b", &events),
        vec![0]
    );
}

#[test]
fn backslashes_and_quotes_in_values() {
    let events = [json!({"p": r#"C:\a "b""#})];
    assert_eq!(hits(r#"p="C:\\a \"b\"""#, &events), vec![0]);
    assert_eq!(hits(r#"p="C:\\a*""#, &events), vec![0]);
}

#[test]
fn keyword_terms_against_raw() {
    let events = [
        json!({"_raw": "user=bob action=run mimikatz.exe now"}),
        json!({"_raw": "nothing here"}),
        json!({"CommandLine": "mimikatz"}),
    ];
    assert_eq!(hits("\"mimikatz.exe\"", &events), vec![0]);
    assert_eq!(hits("\"*katz*\"", &events), vec![0, 2]);
    assert_eq!(hits("\"mimikatz\"", &events), vec![2]);
}

#[test]
fn statistics() {
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"_time": 1000 + i * 60, "host": if i < 3 { "a" } else { "b" }, "user": format!("u{}", i % 2)}))
        .collect();
    let q =
        compile("* | stats count AS n dc(user) AS users BY host | where n>=3").expect("compiles");
    assert_eq!(q.run(&events).expect("runs"), vec![vec![0, 1, 2]]);
    let q =
        compile("* | sort 0 _time | streamstats time_window=2m count AS n BY host | where n>=3")
            .expect("compiles");
    assert_eq!(q.run(&events).expect("runs"), vec![vec![0, 1, 2]]);
    let q = compile("* | streamstats time_window=1m count AS n BY host | where n>=3")
        .expect("compiles");
    assert!(q.run(&events).expect("runs").is_empty());
    // Buckets of 120 s from the epoch: 960 holds events 0 and 1 (host a); 1080 holds 2 (a) and 3 (b).
    let q = compile(
        "* | bin _time span=2m | stats count AS n BY _time, host | where n>=2 | dedup host",
    )
    .expect("compiles");
    assert_eq!(q.run(&events).expect("runs"), vec![vec![0, 1]]);
    let q = compile("* | eventstats count AS n BY user | where n==2").expect("compiles");
    assert_eq!(q.run(&events).expect("runs"), vec![vec![1], vec![3]]);
}

#[test]
fn errors_have_positions() {
    let d = parse("a=1 | frobnicate x").expect_err("unknown command");
    assert_eq!(d.code, "E-SPL-UNKNOWN-COMMAND");
    assert_eq!(d.pos, Some(Pos::new(1, 7)));
    let d = parse("a=1\n| where nosuch('f')").expect_err("unknown function");
    assert_eq!(d.code, "E-SPL-UNKNOWN-FUNCTION");
    assert_eq!(d.pos, Some(Pos::new(2, 9)));
    for bad in [
        "a=\"unterminated",
        "(a=1",
        "a=1)",
        "OR a=1",
        "a==1",
        "| where x",
        "a=1 | where 'f'==",
        "a=1 | stats",
        "a=1 | regex f=unquoted",
        "a=1 | where (1==1",
        "",
        "a=1 |",
        "a=1 | sort 10 f",
    ] {
        let d = parse(bad).expect_err(bad);
        assert!(d.pos.is_some(), "{bad}: {d}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}a=1{}", "(".repeat(100_000), ")".repeat(100_000));
    let d = parse(&deep).expect_err("too deep");
    assert_eq!(d.code, "E-SPL-DEPTH");
    let deep_not = format!("{}a=1", "NOT ".repeat(100_000));
    assert_eq!(parse(&deep_not).expect_err("too deep").code, "E-SPL-DEPTH");
    let deep_where = format!(
        "* | where {}1==1{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(
        parse(&deep_where).expect_err("too deep").code,
        "E-SPL-DEPTH"
    );
}

#[test]
fn pcre_only_regex_is_a_compile_error_with_reason() {
    let d = compile(r#"* | regex f="a(?=b)""#)
        .err()
        .expect("lookahead rejected");
    assert_eq!(d.code, "E-SPL-REGEX");
    assert!(d.message.contains("lookahead"), "{}", d.message);
    let d = compile(r#"* | where match('f', "(a)\\1")"#)
        .err()
        .expect("backreference rejected");
    assert!(d.message.contains("backreference"), "{}", d.message);
}

#[test]
fn regex_command_is_unanchored_and_pcre_dollar_allows_final_newline() {
    let events = [json!({"f": "xabc\n"}), json!({"f": "abcx"}), json!({})];
    assert_eq!(hits(r#"* | regex f="abc$""#, &events), vec![0]);
    assert_eq!(hits(r#"* | regex f!="abc$""#, &events), vec![1, 2]);
}
