//! The cases pysigma-backend-splunk 2.1.0 gets wrong (research/targets.md §1.2, sigma.md §2.5–2.6),
//! each with the correct SPL and a check by the evaluator.

mod common;
use common::*;
use ruleport_model::{
    Case, CmpOp, Expr, FieldRefKind, Op, Piece, RegexAnchor, RegexSpec, Scalar, StrPattern, Subject,
};
use serde_json::json;

fn regex(f: &str, p: &str) -> Expr {
    Expr::pred(
        Subject::field(f),
        Op::Regex(RegexSpec {
            pattern: p.into(),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: RegexAnchor::Search,
        }),
    )
}

/// Bug 1 (pySigma-backend-splunk#74): `sel_eq or sel_re` became `| search OR …`, an invalid
/// stage that also turned the OR into an AND. The whole OR goes into one `| where`.
#[test]
fn ored_regex_stays_a_valid_or() {
    let m = query(Expr::or(vec![
        eq("Image", r"C:\Windows\System32\cmd.exe"),
        regex("CommandLine", r#"^a.*"b\d+$"#),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    (Image="C:\\Windows\\System32\\cmd.exe" OR CommandLine=*)
    | where (lower('Image')=="c:\\windows\\system32\\cmd.exe" OR match('CommandLine', "^a.*\"b\\d+\\z"))
    "#);
    assert!(!port.text.contains("| search OR"));
    let events = vec![
        json!({"Image": r"C:\WINDOWS\System32\cmd.exe"}),
        json!({"CommandLine": "a x\"b42"}),
        json!({"CommandLine": "a x\"b42\n"}),
        json!({"CommandLine": "za\"b4"}),
        json!({"Image": "other", "CommandLine": "nothing"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![0], vec![1]]);
}

/// Bug 2a: `?` was widened to `*` (over-match). It becomes like()'s `_` in `where`, with the
/// widened pattern only as a prefilter.
#[test]
fn one_char_wildcard_is_not_widened() {
    let m = query(glob("CommandLine", "*a?b*c*", Case::Insensitive));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    CommandLine="*a*b*c*"
    | where like(lower('CommandLine'), "%a_b%c%")
    "#);
    let events = vec![
        json!({"CommandLine": "xxA1bxxC"}),
        json!({"CommandLine": "abc"}),
        json!({"CommandLine": "aXXbc"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![0]]);
}

/// Bug 2b: `\*` was emitted although search cannot escape `*`. A literal `*` goes to `where`.
#[test]
fn literal_star_never_escaped_in_search() {
    let pattern = StrPattern::new([
        Piece::AnyChars,
        Piece::Lit("a.".into()),
        Piece::OneChar,
        Piece::Lit("b".into()),
        Piece::AnyChars,
        Piece::Lit("c*".into()),
    ]);
    let m = query(Expr::matches("CommandLine", pattern, Case::Insensitive));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    CommandLine="*a.*b*c*"
    | where like(lower('CommandLine'), "%a._b%c*")
    "#);
    assert!(!port.text.contains(r"\*"));
    let events = vec![
        json!({"CommandLine": "1a.Xb2c*"}),
        json!({"CommandLine": "1a.Xb2cd"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![0]]);
}

/// Bug 3: `|cased` was refused. It is a case-sensitive `where` with a case-insensitive prefilter.
#[test]
fn cased_is_supported() {
    let m = query(glob("CommandLine", "*EncodedCommand*", Case::Sensitive));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    CommandLine="*EncodedCommand*"
    | where like('CommandLine', "%EncodedCommand%")
    "#);
    let events = vec![
        json!({"CommandLine": "powershell -EncodedCommand abc"}),
        json!({"CommandLine": "powershell -encodedcommand abc"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![0]]);
}

/// Bug 4: precedence. `(a or b) and c` is always parenthesised, whatever one believes about
/// Splunk's OR-before-AND rule.
#[test]
fn mixed_and_or_is_parenthesised() {
    let m = query(Expr::and(vec![
        Expr::or(vec![
            glob("Image", r"*\net.exe", Case::Insensitive),
            eq("OriginalFileName", "net.exe"),
        ]),
        glob("CommandLine", "* localgroup*", Case::Insensitive),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"(Image="*\\net.exe" OR OriginalFileName="net.exe") AND CommandLine="* localgroup*""#);
    let events = vec![
        json!({"Image": r"C:\x\net.exe", "CommandLine": "net localgroup"}),
        json!({"OriginalFileName": "NET.EXE", "CommandLine": "net localgroup"}),
        json!({"OriginalFileName": "net.exe", "CommandLine": "net user"}),
        json!({"Image": "other", "CommandLine": "x localgroup"}),
    ];
    check_query(&m, &events);
}

/// `and` nested in `or` keeps its parentheses too.
#[test]
fn and_inside_or_is_parenthesised() {
    let m = query(Expr::or(vec![
        Expr::and(vec![eq("a", "1"), eq("b", "2")]),
        eq("c", "3"),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"((a="1" AND b="2") OR c="3")"#);
}

/// `null` / `not null`: `NOT f=*` and `f=*`, never `NOT NOT`.
#[test]
fn null_and_not_null() {
    let m = query(Expr::and(vec![
        Expr::not(Expr::exists("User")),
        Expr::not(Expr::not(Expr::exists("Host"))),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @"NOT User=* AND Host=*");
    check_query(
        &m,
        &[
            json!({"User": "x", "Host": "h"}),
            json!({"Host": "h"}),
            json!({}),
        ],
    );
}

/// A negated regex in a pure AND context is `| regex f!="…"`; NOT keeps events without the field.
#[test]
fn negated_regex_uses_not_equal_regex() {
    let m = query(Expr::and(vec![
        eq("EventCode", "1"),
        Expr::not(regex("CommandLine", r"\\temp\\")),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    EventCode="1"
    | regex CommandLine!="\\\\temp\\\\"
    "#);
    let events = vec![
        json!({"EventCode": "1", "CommandLine": r"C:\temp\x"}),
        json!({"EventCode": "1", "CommandLine": r"C:\tmp\x"}),
        json!({"EventCode": "1"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![1], vec![2]]);
}

/// FieldRef inside an OR was refused ("ORing FieldRef matching is not yet supported").
#[test]
fn fieldref_inside_or() {
    let m = query(Expr::or(vec![
        Expr::pred(
            Subject::field("ParentImage"),
            Op::FieldRef {
                other: "Image".into(),
                kind: FieldRefKind::Equals,
                case: Case::Insensitive,
            },
        ),
        eq("User", "SYSTEM"),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    ((ParentImage=* AND Image=*) OR User="SYSTEM")
    | where (lower('ParentImage')==lower('Image') OR lower('User')=="system")
    "#);
    let events = vec![
        json!({"ParentImage": "A.exe", "Image": "a.EXE"}),
        json!({"ParentImage": "A.exe", "Image": "b.exe"}),
        json!({"User": "system"}),
        json!({"ParentImage": "A.exe"}),
    ];
    check_query(&m, &events);
}

/// Sigma `neq` is NOT(item): events without the field still match (`NOT f=v`, not `f!=v`).
#[test]
fn neq_keeps_events_without_the_field() {
    let m = query(Expr::and(vec![
        eq("EventCode", "4688"),
        Expr::not(Expr::pred(
            Subject::field("ProcessId"),
            Op::Eq(Scalar::Int(4)),
        )),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"EventCode="4688" AND NOT ProcessId=4"#);
    let events = vec![
        json!({"EventCode": "4688", "ProcessId": "4"}),
        json!({"EventCode": "4688", "ProcessId": "8"}),
        json!({"EventCode": "4688"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![1], vec![2]]);
}

/// A case-sensitive value under NOT in `where` keeps events that lack the field (null guard).
#[test]
fn negated_cased_value_keeps_missing_field() {
    let m = query(Expr::and(vec![
        eq("EventCode", "1"),
        Expr::not(eq_cased("User", "Admin")),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    EventCode="1"
    | where NOT (isnotnull('User') AND 'User'=="Admin")
    "#);
    let events = vec![
        json!({"EventCode": "1", "User": "Admin"}),
        json!({"EventCode": "1", "User": "admin"}),
        json!({"EventCode": "1"}),
    ];
    check_query(&m, &events);
    assert_eq!(run_spl(&port.text, &events), vec![vec![1], vec![2]]);
}

/// Keyword search: a quoted term, labelled approximate (raw-text term search).
#[test]
fn keywords() {
    let m = query(Expr::or(vec![
        keyword(StrPattern::contains("mimikatz")),
        keyword(StrPattern::contains("sekurlsa::logonpasswords")),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"("*mimikatz*" OR "*sekurlsa::logonpasswords*")"#);
    assert!(port
        .fidelity
        .reasons()
        .iter()
        .any(|r| r.code == "keyword-raw-search"));
    check_query(
        &m,
        &[
            json!({"CommandLine": "run MIMIKATZ now"}),
            json!({"CommandLine": "x"}),
        ],
    );
}

/// Numbers, comparisons, CIDR: native search terms.
#[test]
fn numbers_comparisons_cidr() {
    let m = query(Expr::and(vec![
        Expr::pred(Subject::field("EventCode"), Op::Eq(Scalar::Int(4688))),
        Expr::pred(
            Subject::field("ProcessId"),
            Op::Cmp {
                op: CmpOp::Gt,
                value: Scalar::Int(100),
            },
        ),
        Expr::pred(
            Subject::field("SourceIp"),
            Op::Cidr("10.0.0.0/8".parse().expect("net")),
        ),
    ]));
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"EventCode=4688 AND ProcessId>100 AND SourceIp="10.0.0.0/8""#);
    let events = vec![
        json!({"EventCode": 4688, "ProcessId": "200", "SourceIp": "10.1.2.3"}),
        json!({"EventCode": "4688", "ProcessId": 50, "SourceIp": "10.1.2.3"}),
        json!({"EventCode": "4688", "ProcessId": "200", "SourceIp": "11.1.2.3"}),
        json!({"EventCode": "4688", "ProcessId": "abc", "SourceIp": "10.1.2.3"}),
    ];
    check_query(&m, &events);
}

/// pySigma-backend-splunk#52/#53: correlations dropped the deferred `|re` part of the base
/// rule. The regex stays in the filter in front of the statistics.
#[test]
fn correlation_keeps_regex_filter() {
    use ruleport_model::{
        AggCondition, Aggregation, Detection, EventFilter, EventSource, Metric, TimeSpan,
        WindowKind,
    };
    let filter = EventFilter::new(Expr::and(vec![
        eq("EventCode", "4625"),
        regex("TargetUserName", r"^adm"),
    ]));
    let m = mapped(
        Detection::Aggregation(Aggregation {
            sources: vec![EventSource::new(filter)],
            group_by: vec!["IpAddress".into()],
            window: Some(TimeSpan::parse("5m").expect("span")),
            window_kind: WindowKind::Sliding,
            conditions: vec![AggCondition {
                metric: Metric::Count,
                op: CmpOp::Ge,
                value: 3,
            }],
        }),
        None,
    );
    let port = emit(&m);
    insta::assert_snapshot!(port.text, @r#"
    EventCode="4625"
    | regex TargetUserName="^adm"
    | sort 0 _time
    | streamstats time_window=300s count AS event_count BY IpAddress
    | where event_count>=3
    | dedup IpAddress
    "#);
}
