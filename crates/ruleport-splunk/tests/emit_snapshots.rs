//! Emission snapshots for representative rules, each checked by the evaluator against the rule
//! model on fixture events.

mod common;
use common::*;
use ruleport_model::{
    Case, CmpOp, Expr, Op, QueryLanguage, RegexAnchor, RegexSpec, Scalar, StrPattern, Subject,
};
use serde_json::json;

#[test]
fn json_field_names_and_quotes_in_values() {
    let f = "properties.targetResources{}.modifiedProperties{}.newValue";
    let m = query(Expr::and(vec![
        eq("operationName", "Add member to role"),
        Expr::matches(
            f,
            StrPattern::contains("\"Application Administrator\""),
            Case::Insensitive,
        ),
    ]));
    let port = check_query(
        &m,
        &[
            json!({"operationName": "Add member to role", f: ["x", "\"Application Administrator\""]}),
            json!({"operationName": "Add member to role", f: "Application Administrator"}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"operationName="Add member to role" AND "properties.targetResources{}.modifiedProperties{}.newValue"="*\"Application Administrator\"*""#);
}

#[test]
fn where_quotes_json_field_names() {
    let f = "properties.targetResources{}.displayName";
    let m = query(eq_cased(f, "It's \"x\""));
    let port = check_query(&m, &[json!({f: "It's \"x\""}), json!({f: "it's \"x\""})]);
    insta::assert_snapshot!(port.text, @r#"
    "properties.targetResources{}.displayName"="It's \"x\""
    | where 'properties.targetResources{}.displayName'=="It's \"x\""
    "#);
}

#[test]
fn values_with_newlines_and_injection_attempts_stay_literal() {
    let nasty = "a\" OR * | delete\nb\\";
    let m = query(Expr::or(vec![eq("f", nasty), eq_cased("g", nasty)]));
    let port = check_query(
        &m,
        &[
            json!({"f": nasty}),
            json!({"f": "a"}),
            json!({"g": nasty}),
            json!({"g": nasty.to_uppercase()}),
            json!({"h": "x"}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"
    (f="a\" OR * | delete
    b\\" OR g="a\" OR * | delete
    b\\")
    | where (lower('f')=="a\" or * | delete
    b\\" OR 'g'=="a\" OR * | delete
    b\\")
    "#);
    let p = ruleport_splunk::parse(&port.text).expect("parses");
    assert_eq!(p.commands.len(), 2, "no extra pipeline stage was injected");
}

#[test]
fn regex_flags_and_full_anchor() {
    let m = query(Expr::or(vec![
        Expr::pred(
            Subject::field("CommandLine"),
            Op::Regex(RegexSpec {
                pattern: r"powershell.*-e(nc)?\s".into(),
                case: Case::Insensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Search,
            }),
        ),
        Expr::pred(
            Subject::field("Image"),
            Op::Regex(RegexSpec {
                pattern: r"[a-z]+\.exe".into(),
                case: Case::Sensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Full,
            }),
        ),
    ]));
    let port = check_query(
        &m,
        &[
            json!({"CommandLine": "POWERSHELL -Enc abc"}),
            json!({"Image": "cmd.exe"}),
            json!({"Image": "C:\\cmd.exe"}),
            json!({"Image": "cmd.exe\n"}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"
    (CommandLine=* OR Image=*)
    | where (match('CommandLine', "(?i)powershell.*-e(nc)?\\s") OR match('Image', "\\A(?:[a-z]+\\.exe)\\z"))
    "#);
}

/// A regex the IR accepts can exceed the engine's nesting limit once wrapped in `(?i)\A(?:…)\z`:
/// the port is refused, never written as a query its own parser rejects.
#[test]
fn regex_over_the_nesting_limit_after_anchoring_is_unsupported() {
    let nested = |depth: usize| format!("{}a{}", "(?:".repeat(depth), ")".repeat(depth));
    let regex = |pattern: String, case, anchor| {
        query(Expr::pred(
            Subject::field("Image"),
            Op::Regex(RegexSpec {
                pattern,
                case,
                multiline: false,
                dotall: false,
                anchor,
            }),
        ))
    };
    // The deepest pattern the engine takes as it stands.
    let depth = (1..400)
        .take_while(|d| regex::Regex::new(&nested(*d)).is_ok())
        .last()
        .expect("a shallow regex compiles");
    let plain = emit(&regex(nested(depth), Case::Sensitive, RegexAnchor::Search));
    assert!(ruleport_splunk::parse(&plain.text).is_ok());
    let err = ruleport_splunk::Splunk::default()
        .emit(&regex(nested(depth), Case::Insensitive, RegexAnchor::Full))
        .expect_err("the flagged, anchored form is deeper than the engine allows");
    assert_eq!(err.code, "regex-unsupported");
}

#[test]
fn ipv6_cidr_string_comparison_and_numbers_in_where() {
    let m = query(Expr::or(vec![
        Expr::pred(
            Subject::field("src"),
            Op::Cidr("fe80::/10".parse().expect("net")),
        ),
        Expr::pred(
            Subject::field("ver"),
            Op::Cmp {
                op: CmpOp::Ge,
                value: Scalar::Str("b".into()),
            },
        ),
        Expr::and(vec![
            Expr::pred(
                Subject::field("n"),
                Op::Cmp {
                    op: CmpOp::Lt,
                    value: Scalar::Float(2.5),
                },
            ),
            Expr::not(eq_cased("user", "root")),
        ]),
    ]));
    let port = check_query(
        &m,
        &[
            json!({"src": "fe80::1"}),
            json!({"src": "10.0.0.1"}),
            json!({"ver": "c"}),
            json!({"ver": "a"}),
            json!({"n": "1.5"}),
            json!({"n": "abc"}),
            json!({"n": 1, "user": "root"}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"
    (src=* OR ver=* OR n<2.5)
    | where (cidrmatch("fe80::/10", 'src') OR 'ver'>="b" OR (tonumber('n')<2.5 AND NOT (isnotnull('user') AND 'user'=="root")))
    "#);
}

#[test]
fn keyword_next_to_a_regex_uses_searchmatch() {
    let m = query(Expr::or(vec![
        keyword(StrPattern::contains("mimikatz")),
        Expr::pred(
            Subject::field("CommandLine"),
            Op::Regex(RegexSpec {
                pattern: r"sekurlsa::\w+".into(),
                case: Case::Sensitive,
                multiline: false,
                dotall: false,
                anchor: RegexAnchor::Search,
            }),
        ),
    ]));
    let port = check_query(
        &m,
        &[
            json!({"x": "MIMIKATZ"}),
            json!({"CommandLine": "sekurlsa::logonpasswords"}),
            json!({"CommandLine": "nope"}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"
    ("*mimikatz*" OR CommandLine=*)
    | where (searchmatch("\"*mimikatz*\"") OR match('CommandLine', "sekurlsa::\\w+"))
    "#);
}

#[test]
fn exists_any_and_empty_values() {
    let m = query(Expr::and(vec![
        Expr::matches("a", StrPattern::any(), Case::Insensitive),
        eq("b", ""),
        Expr::not(Expr::exists("c")),
    ]));
    let port = check_query(
        &m,
        &[
            json!({"a": "", "b": ""}),
            json!({"a": "x", "b": "", "c": "y"}),
            json!({"b": ""}),
        ],
    );
    insta::assert_snapshot!(port.text, @r#"a=* AND b="" AND NOT c=*"#);
}

#[test]
fn literal_cidr_lookalike_string_is_not_a_network() {
    let m = query(eq("note", "10.0.0.0/8"));
    let port = check_query(
        &m,
        &[json!({"note": "10.0.0.0/8"}), json!({"note": "10.1.1.1"})],
    );
    insta::assert_snapshot!(port.text, @r#"
    note=*
    | where lower('note')=="10.0.0.0/8"
    "#);
}

#[test]
fn constant_false_and_prefilter_option() {
    let m = query(Expr::Const(false));
    let port = check_query(&m, &[json!({"a": 1})]);
    insta::assert_snapshot!(port.text, @r#"
    *
    | where false()
    "#);
    let m = query(eq_cased("a", "X"));
    let p = ruleport_splunk::emit_search(
        &m,
        &ruleport_splunk::SplunkOptions {
            prefilter: false,
            ..Default::default()
        },
    )
    .expect("emits");
    insta::assert_snapshot!(p.text, @r#"
    *
    | where 'a'=="X"
    "#);
}

#[test]
fn mapping_approximations_are_carried() {
    let mut m = query(eq("a", "b"));
    m.approximations.push(ruleport_model::Approximation::new(
        "unmapped-field",
        "x has no Splunk name",
    ));
    let port = emit(&m);
    assert_eq!(port.fidelity.reasons()[0].code, "unmapped-field");
}
