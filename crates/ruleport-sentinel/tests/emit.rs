//! Emitted text (hand-derived from Kusto's documented semantics) and what it matches.

mod common;

use common::*;
use ruleport_model::eval::expr_matches;
use ruleport_model::{
    Case, Detection, Expr, FieldKind, Op, QueryLanguage, RegexAnchor, Scalar, StrPattern,
};
use ruleport_sentinel::{compile, Sentinel};
use serde_json::{json, Value};

fn emit(m: &ruleport_model::MappedRule) -> ruleport_model::Port {
    Sentinel.emit(m).expect("emit")
}

fn codes(p: &ruleport_model::Port) -> Vec<String> {
    p.fidelity
        .reasons()
        .iter()
        .map(|r| r.code.clone())
        .collect()
}

/// Rows (by index) the emitted query returns.
fn matching(text: &str, rows: &[Value]) -> Vec<usize> {
    compile(text)
        .expect("compile")
        .run_rows(rows)
        .expect("run")
        .into_iter()
        .flatten()
        .collect()
}

/// The emitted query agrees with the IR on every row of its table.
fn agrees(m: &ruleport_model::MappedRule, rows: &[Value]) {
    let p = emit(m);
    let c = compile(&p.text).expect("compile");
    let Detection::Query(f) = &m.rule.detection else {
        panic!("query rules only")
    };
    let full = match &m.selection.condition {
        Some(cond) => Expr::and(vec![cond.clone(), f.expr.clone()]),
        None => f.expr.clone(),
    };
    for row in rows {
        let in_table = m.selection.tables.iter().any(|t| row["Type"] == json!(t));
        let want = in_table && expr_matches(&full, row).expect("ir");
        let got = c.row_matches(row).expect("run");
        assert_eq!(got, want, "row {row}\nquery {}", p.text);
    }
}

#[test]
fn seed_becomes_auditlogs_where() {
    let p = emit(&seed());
    assert_eq!(
        p.text,
        "AuditLogs\n| where OperationName == \"Update application - Certificates and secrets management\" and Result in (\"success\", \"Success\")"
    );
    assert!(p.fidelity.is_exact());
    let op = "Update application - Certificates and secrets management";
    let rows = vec![
        json!({"Type": "AuditLogs", "OperationName": op, "Result": "Success"}),
        json!({"Type": "AuditLogs", "OperationName": op, "Result": "SUCCESS"}),
        json!({"Type": "AuditLogs", "OperationName": "Update application – Certificates and secrets management", "Result": "success"}),
        json!({"Type": "SigninLogs", "OperationName": op, "Result": "Success"}),
        json!({"Type": "AuditLogs", "OperationName": op, "Result": "success"}),
        json!({"Type": "AuditLogs", "OperationName": op}),
    ];
    // "Success" and "success" match; "SUCCESS", the en-dash spelling, another table and a
    // missing Result do not.
    assert_eq!(matching(&p.text, &rows), vec![0, 4]);
    agrees(&seed(), &rows);
}

// ----- each pySigma-backend-kusto mistake (targets.md §3.2) -----

#[test]
fn escaped_star_is_a_verbatim_literal_not_backslash_star() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "escaped-star")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and CommandLine contains @\":\\*.\""
    );
    assert!(!p.text.contains("\"\\*"), "no \\* escape");
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688, "CommandLine": "rar a -m5 C:\\*.docx"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "CommandLine": "rar a -m5 C:*.docx"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    agrees(&m, &rows);
}

#[test]
fn null_on_a_string_column_is_isempty_not_isnull() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "null-string")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and isempty(SubjectUserName)"
    );
    assert!(!p.text.contains("isnull"));
    assert_eq!(codes(&p), vec!["empty-equals-missing"]);
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "SubjectUserName": "bob"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    // On a numeric column, null stays isnull.
    let m = query(
        Expr::not(Expr::exists("LogonId")),
        &["DeviceProcessEvents"],
        DEVICE_PROCESS,
    );
    assert_eq!(
        emit(&m).text,
        "DeviceProcessEvents\n| where isnull(LogonId)"
    );
    assert!(emit(&m).fidelity.is_exact());
}

#[test]
fn dotted_and_dashed_names_are_bracketed_columns_not_string_literals() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "dotted-name")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "RuleportTest_CL\n| where ['properties.message'] =~ \"x\" and ['event-id'] == 4 and ['user name'] startswith \"adm\" and ['where'] == \"w\" and tostring(Props['a-b'].c) =~ \"v\""
    );
    assert!(!p.text.contains("'properties.message' "));
    let rows = vec![
        json!({"Type": "RuleportTest_CL", "properties.message": "X", "event-id": 4, "user name": "Admin", "where": "w", "Props": {"a-b": {"c": "V"}}}),
        json!({"Type": "RuleportTest_CL", "properties.message": "X", "event-id": 4, "user name": "Admin", "where": "W", "Props": {"a-b": {"c": "V"}}}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
}

#[test]
fn keyword_search_is_a_boolean_column_search() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "keyword")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(p.text, "SecurityEvent\n| where * contains \"mimikatz\"");
    assert_eq!(codes(&p), vec!["keyword-column-search"]);
    let rows = vec![
        json!({"Type": "SecurityEvent", "CommandLine": "Invoke-MIMIKATZ -x"}),
        json!({"Type": "SecurityEvent", "CommandLine": "notepad"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    // A substring of a term still matches (`has` would not).
    let rows = vec![json!({"Type": "SecurityEvent", "CommandLine": "xmimikatzx"})];
    assert_eq!(matching(&p.text, &rows), vec![0]);
}

#[test]
fn numbers_on_long_columns_never_use_case_insensitive_operators() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "long-column-values")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "DeviceProcessEvents\n| where tostring(LogonId) =~ \"0x3e7\" or LogonId == 999"
    );
    assert!(!p.text.contains("LogonId =~") && !p.text.contains("LogonId in~"));
    let rows = vec![
        json!({"Type": "DeviceProcessEvents", "LogonId": 999}),
        json!({"Type": "DeviceProcessEvents", "LogonId": 1000}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    agrees(&m, &rows);
}

#[test]
fn correlations_become_summarize() {
    let p = emit(&event_count());
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4625 and isnotempty(TargetUserName)\n| summarize EventCount = count() by TargetUserName, bin(TimeGenerated, 5m)\n| where EventCount > 10"
    );
    assert_eq!(codes(&p), vec!["empty-equals-missing", "tumbling-window"]);
    let mut rows: Vec<Value> = (0..11)
        .map(|i| json!({"Type": "SecurityEvent", "EventID": 4625, "TargetUserName": "bob", "TimeGenerated": format!("2024-01-01T00:00:{:02}Z", i)}))
        .collect();
    rows.push(json!({"Type": "SecurityEvent", "EventID": 4625, "TargetUserName": "eve", "TimeGenerated": "2024-01-01T00:00:00Z"}));
    let alerts = compile(&p.text)
        .expect("compile")
        .run_rows(&rows)
        .expect("run");
    assert_eq!(alerts, vec![(0..11).collect::<Vec<_>>()]);

    let p = emit(&value_count());
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4624 and isnotempty(IpAddress)\n| summarize DistinctCount1 = count_distinct(TargetUserName) by IpAddress, bin(TimeGenerated, 1h)\n| where DistinctCount1 >= 3"
    );
    let rows: Vec<Value> = ["a", "b", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"Type": "SecurityEvent", "EventID": 4624, "IpAddress": "10.0.0.1", "TargetUserName": u, "TimeGenerated": format!("2024-01-01T00:0{i}:00Z")}))
        .collect();
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&rows)
            .expect("run"),
        vec![vec![0, 1, 2, 3]]
    );
}

// ----- operators and semantics -----

#[test]
fn case_sensitivity_picks_the_operator() {
    let f = |e: Expr| emit(&query(e, &["SecurityEvent"], SECURITY_EVENT)).text;
    assert_eq!(
        f(eq("CommandLine", "a", Case::Sensitive)),
        "SecurityEvent\n| where CommandLine == \"a\""
    );
    assert_eq!(
        f(eq("CommandLine", "a", Case::Insensitive)),
        "SecurityEvent\n| where CommandLine =~ \"a\""
    );
    assert_eq!(
        f(glob("CommandLine", "*a*", Case::Sensitive)),
        "SecurityEvent\n| where CommandLine contains_cs \"a\""
    );
    assert_eq!(
        f(glob("CommandLine", "a*", Case::Insensitive)),
        "SecurityEvent\n| where CommandLine startswith \"a\""
    );
    assert_eq!(
        f(glob("CommandLine", "*a", Case::Sensitive)),
        "SecurityEvent\n| where CommandLine endswith_cs \"a\""
    );
    assert_eq!(
        f(Expr::not(glob("CommandLine", "*a*", Case::Insensitive))),
        "SecurityEvent\n| where CommandLine !contains \"a\""
    );
    assert_eq!(
        f(Expr::or(vec![
            eq("CommandLine", "a", Case::Insensitive),
            eq("CommandLine", "b", Case::Insensitive)
        ])),
        "SecurityEvent\n| where CommandLine in~ (\"a\", \"b\")"
    );
}

#[test]
fn has_is_never_used_for_substrings() {
    for (name, m) in cases() {
        let t = emit(&m).text;
        assert!(!t.contains(" has "), "{name}: {t}");
    }
}

#[test]
fn inner_wildcards_keep_order_and_anchoring() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "inner-wildcards")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and CommandLine matches regex @\"(?is)^.*a\\..b.*c\\\\$\" and NewProcessName endswith @\"\\rar.exe\" and ParentProcessName startswith_cs @\"C:\\Program Files\\\""
    );
    let base = json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "C:\\x\\RAR.exe", "ParentProcessName": "C:\\Program Files\\p.exe"});
    let with = |cmd: &str| {
        let mut r = base.clone();
        r["CommandLine"] = json!(cmd);
        r
    };
    let rows = vec![
        with("xA.Xb yy c\\"),   // order kept, ends with c\
        with("b a.x c\\"),      // `b` before `a.?`: no
        with("xa.xb c\\ more"), // not anchored at the end: no
        with("xa.\nb\n c\\"),   // `?` and `*` span newlines
    ];
    assert_eq!(matching(&p.text, &rows), vec![0, 3]);
    agrees(&m, &rows);
}

#[test]
fn regexes_keep_flags_and_anchors() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "regexes")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and (CommandLine matches regex @\"(?i)^a.*\"\"b\\p{Nd}+$\" or NewProcessName matches regex @\"^(?:cmd\\.exe)$\")"
    );
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688, "CommandLine": "A x \"B12"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "cmd.exe"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "xcmd.exe"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0, 1]);
    agrees(&m, &rows);
    // PCRE-only constructs are refused with a reason.
    let bad = query(
        regex(
            "CommandLine",
            "(?=x)y",
            Case::Sensitive,
            RegexAnchor::Search,
        ),
        &["SecurityEvent"],
        SECURITY_EVENT,
    );
    let u = Sentinel.emit(&bad).expect_err("lookahead");
    assert_eq!(u.code, "regex-dialect");
}

/// A regex just under the engine's nesting limit goes over it once flags and `^(?:…)$` wrap it:
/// the port is refused, never written as a query its own parser rejects.
#[test]
fn regex_over_the_nesting_limit_after_anchoring_is_unsupported() {
    let nested = |depth: usize| format!("{}a{}", "(?:".repeat(depth), ")".repeat(depth));
    let depth = (1..400)
        .take_while(|d| regex::Regex::new(&nested(*d)).is_ok())
        .last()
        .expect("a shallow regex compiles");
    let port = |case, anchor| {
        Sentinel.emit(&query(
            regex("CommandLine", &nested(depth), case, anchor),
            &["SecurityEvent"],
            SECURITY_EVENT,
        ))
    };
    let plain = port(Case::Sensitive, RegexAnchor::Search).expect("as deep as the engine allows");
    assert!(compile(&plain.text).is_ok());
    let u = port(Case::Insensitive, RegexAnchor::Full).expect_err("one level too deep");
    assert_eq!(u.code, "regex-unsupported");
}

#[test]
fn cidr_uses_ip_range_functions_and_stays_two_valued_under_not() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "cidr")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and (ipv4_is_in_range(IpAddress, \"10.0.0.0/8\") or not(ipv6_is_in_range(IpAddress, \"fe80::/10\") == true))"
    );
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688, "IpAddress": "10.2.3.4"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "IpAddress": "fe80::1"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "IpAddress": "-"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "IpAddress": "2001:db8::1"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0, 2, 3]);
    agrees(&m, &rows);
}

#[test]
fn numeric_comparisons_under_not_match_missing_values() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "numbers")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and LogonType >= 3 and not(isnotnull(LogonType) and LogonType > 10) and LogonType in (3, 10)"
    );
    let m2 = query(
        Expr::not(pred(
            "LogonType",
            Op::Cmp {
                op: ruleport_model::CmpOp::Gt,
                value: Scalar::Int(10),
            },
        )),
        &["SecurityEvent"],
        SECURITY_EVENT,
    );
    let rows = vec![
        json!({"Type": "SecurityEvent"}),
        json!({"Type": "SecurityEvent", "LogonType": 11}),
        json!({"Type": "SecurityEvent", "LogonType": 3}),
    ];
    assert_eq!(matching(&emit(&m2).text, &rows), vec![0, 2]);
    agrees(&m2, &rows);
}

#[test]
fn dynamic_paths_use_tostring() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "dynamic-paths")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "AuditLogs\n| where tostring(InitiatedBy.user.userPrincipalName) endswith \"@contoso.com\" and tostring(TargetResources[0].displayName) == \"App\" and Result =~ \"success\""
    );
    let rows = vec![
        json!({"Type": "AuditLogs", "Result": "Success", "InitiatedBy": {"user": {"userPrincipalName": "eve@Contoso.com"}}, "TargetResources": [{"displayName": "App"}]}),
        json!({"Type": "AuditLogs", "Result": "Success", "InitiatedBy": {"app": {"displayName": "x"}}, "TargetResources": [{"displayName": "App"}]}),
        json!({"Type": "AuditLogs", "Result": "Success", "InitiatedBy": {"user": {"userPrincipalName": "eve@contoso.com"}}, "TargetResources": [{"displayName": "app"}]}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    // Any element of an array is only approximated, and says so.
    let m = query(
        glob("TargetResources[*].displayName", "*App*", Case::Insensitive),
        &["AuditLogs"],
        AUDIT_LOGS,
    );
    let p = emit(&m);
    assert_eq!(
        p.text,
        "AuditLogs\n| where tostring(TargetResources) contains \"App\""
    );
    assert_eq!(codes(&p), vec!["dynamic-array-as-text"]);
}

#[test]
fn mixed_groups_are_parenthesised() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "mixed-and-or")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4688 and ((CommandLine contains \"-enc\" and CommandLine contains \"bypass\") or NewProcessName !in~ (@\"C:\\Windows\\System32\\cmd.exe\", @\"C:\\Windows\\System32\\whoami.exe\"))"
    );
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\CMD.exe"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "-ENC x BYPASS"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "NewProcessName": "C:\\x.exe"}),
        json!({"Type": "SecurityEvent", "EventID": 4688}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![1, 2, 3]);
    agrees(&m, &rows);
}

#[test]
fn long_or_chains_become_balanced_trees() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "long-or-chain")
        .expect("case")
        .1;
    let p = emit(&m);
    // No flat chain of more than 32 `or`s: count the longest run between parentheses.
    let longest = p
        .text
        .split(['(', ')'])
        .map(|s| s.matches(" or ").count())
        .max()
        .unwrap_or(0);
    assert!(longest < 32, "longest flat chain: {longest}");
    let rows = vec![
        json!({"Type": "SecurityEvent", "EventID": 4688, "CommandLine": "x TOK999 y"}),
        json!({"Type": "SecurityEvent", "EventID": 4688, "CommandLine": "tok"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    agrees(&m, &rows);
}

#[test]
fn several_tables_use_union_and_other_tables_never_match() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "union")
        .expect("case")
        .1;
    let p = emit(&m);
    assert_eq!(
        p.text,
        "union SecurityEvent, Event\n| where Computer startswith \"dc\""
    );
    let rows = vec![
        json!({"Type": "SecurityEvent", "Computer": "DC01"}),
        json!({"Type": "Event", "Computer": "dc02"}),
        json!({"Type": "Syslog", "Computer": "dc03"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0, 1]);
}

#[test]
fn strings_survive_quotes_newlines_and_bidi_marks() {
    let v = "a\"b'c\\d\ne\u{202E}f\t*";
    let m = query(
        eq("CommandLine", v, Case::Sensitive),
        &["SecurityEvent"],
        SECURITY_EVENT,
    );
    let p = emit(&m);
    assert_eq!(
        p.text,
        "SecurityEvent\n| where CommandLine == \"a\\\"b'c\\\\d\\ne\\u202Ef\\t*\""
    );
    assert_eq!(
        p.text.lines().count(),
        2,
        "the newline stays escaped inside the literal"
    );
    let rows = vec![
        json!({"Type": "SecurityEvent", "CommandLine": v}),
        json!({"Type": "SecurityEvent", "CommandLine": "a\"b'c\\d"}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
}

#[test]
fn empty_and_missing_are_labelled() {
    let m = query(
        eq("CommandLine", "", Case::Insensitive),
        &["SecurityEvent"],
        SECURITY_EVENT,
    );
    let p = emit(&m);
    assert_eq!(p.text, "SecurityEvent\n| where isempty(CommandLine)");
    assert_eq!(codes(&p), vec!["empty-equals-missing"]);
    let m = query(
        Expr::exists("CommandLine"),
        &["SecurityEvent"],
        SECURITY_EVENT,
    );
    assert_eq!(
        emit(&m).text,
        "SecurityEvent\n| where isnotempty(CommandLine)"
    );
    let m = query(Expr::exists("EventID"), &["SecurityEvent"], SECURITY_EVENT);
    let p = emit(&m);
    assert_eq!(p.text, "SecurityEvent\n| where isnotnull(EventID)");
    assert!(p.fidelity.is_exact());
}

#[test]
fn mapping_approximations_are_carried() {
    let mut m = seed();
    m.approximations.push(ruleport_model::Approximation::new(
        "unmapped-field",
        "x has no column",
    ));
    assert_eq!(codes(&emit(&m)), vec!["unmapped-field"]);
}

#[test]
fn unsupported_detections_say_why() {
    let mut m = seed();
    m.selection.tables.clear();
    assert_eq!(Sentinel.emit(&m).expect_err("no table").code, "no-table");
    let m = query(
        Expr::pred(
            ruleport_model::Subject::field("CommandLine"),
            Op::Match {
                pattern: StrPattern::new([ruleport_model::Piece::Placeholder("x".into())]),
                case: Case::Insensitive,
            },
        ),
        &["SecurityEvent"],
        &[("CommandLine", FieldKind::Keyword)],
    );
    assert_eq!(
        Sentinel.emit(&m).expect_err("placeholder").code,
        "unresolved-placeholder"
    );
}

#[test]
fn temporal_correlations_become_step_summaries() {
    let p = emit(&correlation(false));
    assert_eq!(
        p.text,
        "union\n    (SecurityEvent\n    | where EventID == 4625 and isnotempty(TargetUserName)\n    | extend Step = 1, JoinKey1 = TargetUserName),\n    (SecurityEvent\n    | where EventID == 4624 and isnotempty(TargetUserName)\n    | extend Step = 2, JoinKey1 = TargetUserName)\n| summarize StepCount = count_distinct(Step) by JoinKey1, bin(TimeGenerated, 10m)\n| where StepCount == 2"
    );
    assert_eq!(
        codes(&p),
        vec![
            "correlation-shared-event",
            "empty-equals-missing",
            "tumbling-window"
        ]
    );
    let ev = |id: i64, user: &str, t: &str| json!({"Type": "SecurityEvent", "EventID": id, "TargetUserName": user, "TimeGenerated": t});
    let rows = vec![
        ev(4624, "bob", "2024-01-01T00:01:00Z"),
        ev(4625, "bob", "2024-01-01T00:02:00Z"),
        ev(4625, "eve", "2024-01-01T00:02:00Z"),
        ev(4624, "eve", "2024-01-01T00:15:00Z"),
    ];
    // Unordered: bob's pair fires; eve's events sit in different 10-minute buckets.
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&rows)
            .expect("run"),
        vec![vec![0, 1]]
    );

    let p = emit(&correlation(true));
    assert!(p.text.ends_with(
        "| summarize StepCount = count_distinct(Step), FirstStep1 = minif(TimeGenerated, Step == 1), LastStep2 = maxif(TimeGenerated, Step == 2) by JoinKey1, bin(TimeGenerated, 10m)\n| where StepCount == 2 and FirstStep1 < LastStep2"
    ), "{}", p.text);
    // Ordered: bob's success came before his failure, so nothing fires.
    assert!(compile(&p.text)
        .expect("compile")
        .run_rows(&rows)
        .expect("run")
        .is_empty());
    let rows = vec![
        ev(4625, "bob", "2024-01-01T00:01:00Z"),
        ev(4624, "bob", "2024-01-01T00:02:00Z"),
    ];
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&rows)
            .expect("run"),
        vec![vec![0, 1]]
    );
}

#[test]
fn pack_options_add_a_time_filter_and_entity_columns() {
    let opts = ruleport_sentinel::EmitOptions {
        lookback: ruleport_model::TimeSpan::parse("1h"),
        project: vec!["OperationName".into(), "InitiatedBy".into()],
    };
    let p = Sentinel.emit_with_options(&seed(), &opts).expect("emit");
    assert_eq!(
        p.text,
        "AuditLogs\n| where TimeGenerated > ago(1h)\n| where OperationName == \"Update application - Certificates and secrets management\" and Result in (\"success\", \"Success\")\n| project TimeGenerated, OperationName, InitiatedBy"
    );
    let op = "Update application - Certificates and secrets management";
    let rows = vec![
        json!({"Type": "AuditLogs", "OperationName": op, "Result": "Success", "TimeGenerated": "2024-01-01T00:00:00Z"}),
        json!({"Type": "AuditLogs", "OperationName": op, "Result": "Success", "TimeGenerated": "2024-01-01T05:00:00Z"}),
    ];
    // `ago` counts back from the latest event: only the second row is inside the hour.
    assert_eq!(matching(&p.text, &rows), vec![1]);
    // Rules without the option never hard-code a time filter.
    assert!(!emit(&seed()).text.contains("ago("));
    let p = Sentinel
        .emit_with_options(&event_count(), &opts)
        .expect("emit");
    assert!(
        p.text
            .starts_with("SecurityEvent\n| where TimeGenerated > ago(1h) and EventID == 4625"),
        "{}",
        p.text
    );
}

#[test]
fn a_path_typed_dynamic_by_the_mapping_is_read_with_tostring() {
    // The mapping types `InitiatedBy.user.userPrincipalName` itself as dynamic and does not
    // list `InitiatedBy`.
    let m = query(
        glob(
            "InitiatedBy.user.userPrincipalName",
            "*@*",
            Case::Insensitive,
        ),
        &["AuditLogs"],
        &[("InitiatedBy.user.userPrincipalName", FieldKind::Dynamic)],
    );
    let p = emit(&m);
    assert_eq!(
        p.text,
        "AuditLogs\n| where tostring(InitiatedBy.user.userPrincipalName) contains \"@\""
    );
    assert!(p.fidelity.is_exact());
    let rows = vec![
        json!({"Type": "AuditLogs", "InitiatedBy": {"user": {"userPrincipalName": "a@b"}}}),
        json!({"Type": "AuditLogs", "InitiatedBy": {"app": {"displayName": "a@b"}}}),
    ];
    assert_eq!(matching(&p.text, &rows), vec![0]);
    agrees(&m, &rows);
}

#[test]
fn columns_a_table_does_not_have_are_refused() {
    let m = query(
        eq("Hashes", "x", Case::Insensitive),
        &["DeviceProcessEvents"],
        &[],
    );
    let u = Sentinel.emit(&m).expect_err("no such column");
    assert_eq!(u.code, "unknown-column");
    assert!(
        u.reason.contains("Hashes") && u.reason.contains("DeviceProcessEvents"),
        "{}",
        u.reason
    );
    // A union has the columns of every leg.
    let m = query(
        eq("EventID", "4688", Case::Insensitive),
        &["DeviceProcessEvents", "SecurityEvent"],
        &[],
    );
    assert!(Sentinel.emit(&m).is_ok());
    // The schema types a column the mapping left untyped: a number on an int column.
    let m = query(
        eq("EventID", "4688", Case::Insensitive),
        &["SecurityEvent"],
        &[],
    );
    assert_eq!(emit(&m).text, "SecurityEvent\n| where EventID == 4688");
    // Tables outside the schemas cannot be checked and are emitted as written.
    let m = query(eq("anything", "x", Case::Sensitive), &["Custom_CL"], &[]);
    assert_eq!(emit(&m).text, "Custom_CL\n| where anything == \"x\"");
}

#[test]
fn new_terms_become_first_seen_summaries() {
    let p = emit(&new_terms());
    assert_eq!(
        p.text,
        "DeviceProcessEvents\n| where TimeGenerated > ago(7d) and FolderPath endswith @\"\\powershell.exe\" and isnotempty(AccountName) and isnotempty(DeviceName)\n| summarize FirstSeen = min(TimeGenerated) by AccountName, DeviceName\n| where FirstSeen >= ago(1h)"
    );
    assert!(codes(&p).contains(&"new-terms-grouped".to_string()));
    let ev = |user: &str, t: &str| json!({"Type": "DeviceProcessEvents", "FolderPath": "C:\\Windows\\PowerShell.exe", "AccountName": user, "DeviceName": "pc1", "TimeGenerated": t});
    let rows = vec![
        ev("bob", "2024-01-01T00:00:00Z"), // history: bob is known
        ev("bob", "2024-01-03T12:30:00Z"),
        ev("eve", "2024-01-03T12:40:00Z"), // new in the last hour
        ev("old", "2023-12-01T00:00:00Z"), // outside the 7-day history and not recent
    ];
    // The latest event is "now": only eve is new within the hour.
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&rows)
            .expect("run"),
        vec![vec![2]]
    );
}

#[test]
fn sequence_runs_count_step_events() {
    let m = cases()
        .into_iter()
        .find(|(n, _)| n == "sequence-runs")
        .expect("case")
        .1;
    let p = emit(&m);
    assert!(
        p.text.contains("Step1Runs = countif(Step == 1)") && p.text.contains("Step1Runs >= 3"),
        "{}",
        p.text
    );
    assert!(codes(&p).contains(&"sequence-runs".to_string()));
    let ev = |id: i64, t: &str| json!({"Type": "SecurityEvent", "EventID": id, "TargetUserName": "bob", "TimeGenerated": t});
    let two = vec![
        ev(4625, "2024-01-01T00:00:01Z"),
        ev(4625, "2024-01-01T00:00:02Z"),
        ev(4624, "2024-01-01T00:00:05Z"),
    ];
    assert!(compile(&p.text)
        .expect("compile")
        .run_rows(&two)
        .expect("run")
        .is_empty());
    let mut three = two.clone();
    three.insert(0, ev(4625, "2024-01-01T00:00:00Z"));
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&three)
            .expect("run"),
        vec![vec![0, 1, 2, 3]]
    );
}

#[test]
fn deep_conditions_are_refused_or_parse_back() {
    // 60 alternating levels: emitted, and our parser reads it back.
    let mut e = eq("CommandLine", "x", Case::Sensitive);
    for i in 0..60 {
        let other = eq("Computer", &format!("c{i}"), Case::Sensitive);
        e = if i % 2 == 0 {
            Expr::or(vec![e, other])
        } else {
            Expr::not(Expr::and(vec![e, other]))
        };
    }
    let p = emit(&query(e.clone(), &["SecurityEvent"], SECURITY_EVENT));
    assert!(compile(&p.text).is_ok());
    // Far deeper input is refused with a reason instead of overflowing anything.
    for _ in 0..5000 {
        e = Expr::not(Expr::and(vec![e, eq("Computer", "y", Case::Sensitive)]));
    }
    let u = Sentinel
        .emit(&query(e, &["SecurityEvent"], SECURITY_EVENT))
        .expect_err("too deep");
    assert_eq!(u.code, "expression-too-deep");
}

#[test]
fn several_sources_count_each_event_once() {
    let m = multi_source_count();
    let p = emit(&m);
    assert_eq!(
        p.text,
        "union\n    (SecurityEvent\n    | where EventID in (4625, 4771) and isnotempty(TargetUserName)\n    | extend User = TargetUserName),\n    (SecurityEvent\n    | where EventID == 4625 and TargetUserName =~ \"bob\" and EventID !in (4625, 4771) and isnotempty(TargetUserName)\n    | extend User = TargetUserName)\n| summarize EventCount = count() by User\n| where EventCount >= 3"
    );
    let ev = |id: i64| json!({"Type": "SecurityEvent", "EventID": id, "TargetUserName": "bob"});
    // Two events match both sources: counted once each, so 2 < 3 and nothing fires.
    let rows = vec![ev(4625), ev(4625)];
    assert!(compile(&p.text)
        .expect("compile")
        .run_rows(&rows)
        .expect("run")
        .is_empty());
    let rows = vec![ev(4625), ev(4771), ev(4625)];
    assert_eq!(
        compile(&p.text)
            .expect("compile")
            .run_rows(&rows)
            .expect("run"),
        vec![vec![0, 1, 2]]
    );
}

#[test]
fn lookback_thresholds_agree_with_the_reference_evaluator() {
    let mut m = event_count();
    if let Detection::Aggregation(a) = &mut m.rule.detection {
        a.window = None;
        a.window_kind = ruleport_model::WindowKind::RuleLookback;
        a.conditions[0].value = 2;
    }
    let p = emit(&m);
    assert!(
        p.text
            .contains("| summarize EventCount = count() by TargetUserName\n"),
        "{}",
        p.text
    );
    let ev = |id: i64, user: Option<&str>, s: u32| {
        let mut r = json!({"Type": "SecurityEvent", "EventID": id, "TimeGenerated": format!("2024-01-01T00:00:{s:02}Z")});
        if let Some(u) = user {
            r["TargetUserName"] = json!(u);
        }
        r
    };
    let rows = vec![
        ev(4625, Some("bob"), 1),
        ev(4625, Some("eve"), 2),
        ev(4625, Some("bob"), 3),
        ev(4624, Some("eve"), 4),
        ev(4625, None, 5),
        ev(4625, None, 6),
        ev(4625, None, 7),
        ev(4625, Some("bob"), 8),
    ];
    let mut want = ruleport_model::eval::RuleEvaluator::new(&m.rule)
        .expect("ir")
        .run(&rows, None);
    let mut got = compile(&p.text)
        .expect("compile")
        .run_rows(&rows)
        .expect("run");
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(got, vec![vec![0, 2, 7]]);
}
