//! Sigma semantics, one behaviour per test: each expected verdict is derived by hand from the
//! specification (sigma.md §1), so a wrong modifier or condition semantics fails here.

use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{Case, Detection, Expr, Op, Piece, Rule, StrPattern, Subject};
use ruleport_sigma::{export_rule, import_str, ImportOutcome};
use serde_json::{json, Value};

/// A rule document with the given `detection` body (indented by the caller as YAML under `detection:`).
fn doc(detection: &str) -> String {
    format!(
        "title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n{detection}"
    )
}

fn import_ok(text: &str) -> Rule {
    let out = import_str(text, None);
    assert!(
        !out.has_errors(),
        "unexpected errors: {:#?}",
        out.diagnostics
    );
    assert_eq!(out.rules.len(), 1, "{:#?}", out.diagnostics);
    out.rules.into_iter().next().expect("rule")
}

fn rule(detection: &str) -> Rule {
    import_ok(&doc(detection))
}

fn import_err(detection: &str) -> ImportOutcome {
    let out = import_str(&doc(detection), Some(std::path::Path::new("r.yml")));
    assert!(out.has_errors(), "expected an error, got {:#?}", out.rules);
    out
}

fn hits(r: &Rule, ev: &Value) -> bool {
    RuleEvaluator::new(r)
        .expect("evaluator")
        .event_matches(ev, None)
}

fn expr(r: &Rule) -> &Expr {
    match &r.detection {
        Detection::Query(f) => &f.expr,
        other => panic!("not a query: {other:?}"),
    }
}

/// Export then import again: the detection must be unchanged.
fn round_trip(r: &Rule) {
    let exp = export_rule(r).expect("export");
    let back = import_ok(&exp.text);
    assert_eq!(back.detection, r.detection, "exported:\n{}", exp.text);
    assert_eq!(back.logsource, r.logsource);
    assert_eq!(back.meta, r.meta, "exported:\n{}", exp.text);
}

#[test]
fn default_is_case_insensitive_glob_of_whole_value() {
    // `\\*` is a backslash then a wildcard; `\*` alone would be a literal star.
    let r = rule("    sel:\n        Image: 'C:\\Windows\\\\*\\cmd.exe'\n    condition: sel\n");
    assert!(hits(
        &r,
        &json!({"Image": "c:\\windows\\system32\\CMD.EXE"})
    ));
    let star = rule("    sel:\n        Image: 'C:\\Windows\\*\\cmd.exe'\n    condition: sel\n");
    assert!(hits(&star, &json!({"Image": "C:\\Windows*\\cmd.exe"})));
    assert!(!hits(&star, &json!({"Image": "C:\\Windows\\x\\cmd.exe"})));
    assert!(!hits(
        &r,
        &json!({"Image": "c:\\windows\\system32\\cmd.exe.bak"})
    ));
    assert!(!hits(&r, &json!({"Image": "d:\\c:\\windows\\x\\cmd.exe"})));
    let r = rule("    sel:\n        F: 'a?c'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "AbC"})));
    assert!(!hits(&r, &json!({"F": "ac"})));
    round_trip(&r);
}

#[test]
fn contains_startswith_endswith() {
    let r = rule("    sel:\n        CommandLine|contains: 'MiMi'\n    condition: sel\n");
    assert!(hits(&r, &json!({"CommandLine": "run mimikatz now"})));
    assert!(!hits(&r, &json!({"CommandLine": "run mim ikatz"})));
    let r = rule("    sel:\n        Image|startswith: 'C:\\Win'\n    condition: sel\n");
    assert!(hits(&r, &json!({"Image": "c:\\windows\\x"})));
    assert!(!hits(&r, &json!({"Image": "x c:\\win"})));
    let r = rule("    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel\n");
    assert!(hits(&r, &json!({"Image": "C:\\x\\CMD.exe"})));
    assert!(!hits(&r, &json!({"Image": "C:\\x\\cmd.exe "})));
    round_trip(&r);
}

#[test]
fn cased_is_case_sensitive() {
    let r = rule("    sel:\n        CommandLine|contains|cased: 'MiMi'\n    condition: sel\n");
    assert!(hits(&r, &json!({"CommandLine": "aMiMib"})));
    assert!(!hits(&r, &json!({"CommandLine": "amimib"})));
    let r = rule("    sel:\n        Name|cased: 'Admin'\n    condition: sel\n");
    assert!(hits(&r, &json!({"Name": "Admin"})));
    assert!(!hits(&r, &json!({"Name": "admin"})));
    round_trip(&r);
}

#[test]
fn exists_true_and_false() {
    let r = rule("    sel:\n        A|exists: true\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": ""})), "presence, whatever the value");
    assert!(!hits(&r, &json!({"B": 1})));
    let r = rule("    sel:\n        A|exists: false\n    condition: sel\n");
    assert!(hits(&r, &json!({"B": 1})));
    assert!(!hits(&r, &json!({"A": "x"})));
    round_trip(&r);
    let out = import_err("    sel:\n        A|exists: 'yes'\n    condition: sel\n");
    assert!(out.diagnostics.iter().any(|d| d.code == "E-SIGMA-MODIFIER"));
}

#[test]
fn numeric_comparisons() {
    let gt = rule("    sel:\n        Count|gt: 5\n    condition: sel\n");
    assert!(hits(&gt, &json!({"Count": 6})));
    assert!(
        hits(&gt, &json!({"Count": "6"})),
        "a numeric string compares as a number"
    );
    assert!(!hits(&gt, &json!({"Count": 5})));
    assert!(!hits(&gt, &json!({})));
    let gte = rule("    sel:\n        Count|gte: 5\n    condition: sel\n");
    assert!(hits(&gte, &json!({"Count": 5})));
    assert!(!hits(&gte, &json!({"Count": 4.5})));
    let lt = rule("    sel:\n        Count|lt: 5\n    condition: sel\n");
    assert!(hits(&lt, &json!({"Count": -1})));
    assert!(!hits(&lt, &json!({"Count": 5})));
    let lte = rule("    sel:\n        Count|lte: 5.5\n    condition: sel\n");
    assert!(hits(&lte, &json!({"Count": 5.5})));
    assert!(!hits(&lte, &json!({"Count": 6})));
    // 10 > 9 numerically, though "10" < "9" as text.
    let gt9 = rule("    sel:\n        Count|gt: 9\n    condition: sel\n");
    assert!(hits(&gt9, &json!({"Count": "10"})));
    for r in [&gt, &gte, &lt, &lte] {
        round_trip(r);
    }
    let out = import_err("    sel:\n        Count|gt: '5'\n    condition: sel\n");
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.message.contains("compares numbers")));
}

#[test]
fn neq_negates_the_whole_item() {
    let r = rule("    sel:\n        User|neq:\n            - admin\n            - root\n    condition: sel\n");
    assert!(hits(&r, &json!({"User": "bob"})));
    assert!(
        hits(&r, &json!({"Other": 1})),
        "a missing field is different from the values"
    );
    assert!(!hits(&r, &json!({"User": "ADMIN"})));
    assert!(!hits(&r, &json!({"User": "root"})));
    let r = rule(
        "    sel:\n        EventID|neq: 4688\n        Image|endswith: '.exe'\n    condition: sel\n",
    );
    assert!(hits(&r, &json!({"EventID": 1, "Image": "a.exe"})));
    assert!(!hits(&r, &json!({"EventID": 4688, "Image": "a.exe"})));
    round_trip(&r);
}

#[test]
fn utf16_and_base64_modifiers() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // utf16be: "AB" → 00 41 00 42 → "AEEAQg==" (hand-encoded).
    let r = rule("    sel:\n        F|utf16be|base64: 'AB'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "AEEAQg=="})));
    assert_eq!(b64(&[0, 0x41, 0, 0x42]), "AEEAQg==");
    // utf16: BOM FF FE + LE "A" → FF FE 41 00 → "//5BAA==".
    let r = rule("    sel:\n        F|utf16|base64: 'A'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "//5BAA=="})));
    // utf16le and wide are the same: "A" → 41 00 → "QQA=".
    for m in ["utf16le", "wide"] {
        let r = rule(&format!(
            "    sel:\n        F|{m}|base64: 'A'\n    condition: sel\n"
        ));
        assert!(hits(&r, &json!({"F": "QQA="})), "{m}");
    }
    // base64 of plain text.
    let r = rule("    sel:\n        F|base64: 'abc'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "YWJj"})));
    // wide + base64offset + contains finds an encoded PowerShell command at any offset.
    let r = rule(
        "    sel:\n        CommandLine|wide|base64offset|contains: 'ping'\n    condition: sel\n",
    );
    for prefix in ["", "x", "xy", "xyz"] {
        let payload: Vec<u8> = format!("{prefix}ping 127.0.0.1")
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let cmd = format!("powershell -enc {}", b64(&payload));
        assert!(hits(&r, &json!({"CommandLine": cmd})), "offset {prefix:?}");
    }
    assert!(!hits(
        &r,
        &json!({"CommandLine": format!("powershell -enc {}", b64(b"ping"))})
    ));
    round_trip(&r);
    let out = import_err("    sel:\n        F|base64: 'a*'\n    condition: sel\n");
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.message.contains("wildcards")));
}

#[test]
fn base64offset_iex() {
    let r = rule("    sel:\n        F|base64offset|contains: 'IEX'\n    condition: sel\n");
    assert_eq!(
        expr(&r),
        &Expr::or(vec![
            Expr::matches("F", StrPattern::contains("SUVY"), Case::Insensitive),
            Expr::matches("F", StrPattern::contains("lFW"), Case::Insensitive),
            Expr::matches("F", StrPattern::contains("JRV"), Case::Insensitive),
        ])
    );
    assert!(hits(&r, &json!({"F": "..lFW.."})));
    assert!(!hits(&r, &json!({"F": "IEX"})));
}

#[test]
fn windash_all_dash_forms() {
    let r = rule("    sel:\n        CommandLine|windash|contains: ' -enc '\n    condition: sel\n");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hits(
                &r,
                &json!({"CommandLine": format!("powershell {dash}enc abc")})
            ),
            "{dash}"
        );
    }
    assert!(!hits(&r, &json!({"CommandLine": "powershell +enc abc"})));
    // `all` keeps each value's expansion as one OR group.
    let r = rule("    sel:\n        CommandLine|windash|contains|all:\n            - ' -a'\n            - ' -b'\n    condition: sel\n");
    assert!(hits(&r, &json!({"CommandLine": "x /a \u{2014}b"})));
    assert!(!hits(&r, &json!({"CommandLine": "x /a"})));
    round_trip(&r);
}

#[test]
fn regex_and_flags() {
    let r = rule("    sel:\n        F|re: 'ab+c'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "xxabbcxx"})), "unanchored search");
    assert!(!hits(&r, &json!({"F": "ABC"})), "case-sensitive by default");
    let r = rule("    sel:\n        F|re|i: 'ab+c'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "ABBC"})));
    let m = rule("    sel:\n        F|re|m: '^b'\n    condition: sel\n");
    assert!(hits(&m, &json!({"F": "a\nb"})));
    let no_m = rule("    sel:\n        F|re: '^b'\n    condition: sel\n");
    assert!(!hits(&no_m, &json!({"F": "a\nb"})));
    let s = rule("    sel:\n        F|re|s: 'a.b'\n    condition: sel\n");
    assert!(hits(&s, &json!({"F": "a\nb"})));
    let no_s = rule("    sel:\n        F|re: 'a.b'\n    condition: sel\n");
    assert!(!hits(&no_s, &json!({"F": "a\nb"})));
    for x in [&r, &m, &s] {
        round_trip(x);
    }
    let out = import_err("    sel:\n        F|re: '(?<=a)b'\n    condition: sel\n");
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.code == "E-SIGMA-REGEX-PCRE")
        .expect("pcre diag");
    assert!(d.message.contains("lookbehind"), "{d}");
    let out = import_err("    sel:\n        F|i: 'x'\n    condition: sel\n");
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.message.contains("only valid after `re`")));
    let out = import_err("    sel:\n        F|contains|re: 'x'\n    condition: sel\n");
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.message.contains("must come first")));
}

#[test]
fn cidr_networks() {
    let r = rule("    sel:\n        Ip|cidr:\n            - '10.0.0.0/8'\n            - 'fe80::/10'\n    condition: sel\n");
    assert!(hits(&r, &json!({"Ip": "10.1.2.3"})));
    assert!(hits(&r, &json!({"Ip": "fe80::1"})));
    assert!(!hits(&r, &json!({"Ip": "11.0.0.1"})));
    round_trip(&r);
    let out = import_err("    sel:\n        Ip|cidr: 'nonsense'\n    condition: sel\n");
    assert!(out.diagnostics.iter().any(|d| d.code == "E-SIGMA-CIDR"));
}

#[test]
fn expand_placeholders_only_with_expand() {
    let r = rule("    sel:\n        F|expand: '%Users%\\x'\n    condition: sel\n");
    let Expr::Pred(p) = expr(&r) else { panic!() };
    assert_eq!(
        p.op,
        Op::Match {
            pattern: StrPattern::new([
                Piece::Placeholder("Users".into()),
                Piece::Lit("\\x".into())
            ]),
            case: Case::Insensitive
        }
    );
    round_trip(&r);
    // Without `expand`, `%APPDATA%` is literal text (a Windows environment variable).
    let r = rule("    sel:\n        F|contains: '%APPDATA%\\x'\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": "c %appdata%\\x"})));
    assert!(!hits(&r, &json!({"F": "c:\\users\\a\\appdata\\x"})));
}

#[test]
fn fieldref_and_its_combinations() {
    let r = rule("    sel:\n        A|fieldref: B\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": "x", "B": "X"})));
    assert!(!hits(&r, &json!({"A": "x", "B": "y"})));
    assert!(!hits(&r, &json!({"A": "x"})));
    let r = rule("    sel:\n        A|fieldref|startswith: B\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": "abc", "B": "ab"})));
    assert!(!hits(&r, &json!({"A": "abc", "B": "bc"})));
    let r = rule("    sel:\n        A|fieldref|endswith: B\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": "abc", "B": "bc"})));
    let r = rule("    sel:\n        A|fieldref|contains|cased: B\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": "aBc", "B": "B"})));
    assert!(!hits(&r, &json!({"A": "abc", "B": "B"})));
    round_trip(&r);
}

#[test]
fn all_and_keywords() {
    let r = rule(
        "    sel:\n        F|contains|all:\n            - a\n            - b\n    condition: sel\n",
    );
    assert!(hits(&r, &json!({"F": "xbxa"})));
    assert!(!hits(&r, &json!({"F": "xa"})));
    round_trip(&r);
    let r = rule("    keywords:\n        - evil\n        - 'bad stuff'\n    condition: keywords\n");
    assert!(
        hits(&r, &json!({"x": {"y": "an EVIL thing"}})),
        "substring of any field"
    );
    assert!(hits(&r, &json!({"msg": "very bad stuff"})));
    assert!(!hits(&r, &json!({"msg": "bad"})));
    round_trip(&r);
    let r = rule("    keywords:\n        '|all':\n            - foo\n            - bar\n    condition: keywords\n");
    assert!(hits(&r, &json!({"a": "foo", "b": "xbarx"})));
    assert!(!hits(&r, &json!({"a": "foo"})));
    round_trip(&r);
    let Expr::And(items) = expr(&r) else { panic!() };
    assert!(items
        .iter()
        .all(|i| matches!(i, Expr::Pred(p) if p.subject == Subject::Keyword)));
}

#[test]
fn null_empty_numbers_booleans() {
    let r = rule("    sel:\n        F: null\n    condition: sel\n");
    assert!(hits(&r, &json!({})));
    assert!(hits(&r, &json!({"F": null})));
    assert!(!hits(&r, &json!({"F": ""})));
    let r = rule("    sel:\n        F: ''\n    condition: sel\n");
    assert!(hits(&r, &json!({"F": ""})));
    assert!(!hits(&r, &json!({})));
    assert!(!hits(&r, &json!({"F": "x"})));
    let r = rule("    sel:\n        EventID: 4688\n        Enabled: true\n    condition: sel\n");
    assert!(hits(&r, &json!({"EventID": "4688", "Enabled": true})));
    assert!(hits(&r, &json!({"EventID": 4688, "Enabled": "True"})));
    assert!(!hits(&r, &json!({"EventID": 4689, "Enabled": true})));
    round_trip(&r);
    // A list mixing null and a value (pySigma accepts it).
    let r =
        rule("    sel:\n        F:\n            - null\n            - ''\n    condition: sel\n");
    assert!(hits(&r, &json!({})) && hits(&r, &json!({"F": ""})) && !hits(&r, &json!({"F": "x"})));
    round_trip(&r);
    // Non-decimal YAML integers stay text (access masks are hex text in Windows logs).
    let r = rule("    sel:\n        GrantedAccess: 0x1F3FFF\n    condition: sel\n");
    assert!(hits(&r, &json!({"GrantedAccess": "0x1f3fff"})));
}

#[test]
fn escaping_backslash_only_before_wildcards() {
    let r = rule("    sel:\n        F: 'a\\*b\\\\*c\\\\\\*d\\\\\\\\e?'\n    condition: sel\n");
    let Expr::Pred(p) = expr(&r) else { panic!() };
    assert_eq!(
        p.op,
        Op::Match {
            pattern: StrPattern::new([
                Piece::Lit("a*b\\".into()),
                Piece::AnyChars,
                Piece::Lit("c\\*d\\\\e".into()),
                Piece::OneChar
            ]),
            case: Case::Insensitive
        }
    );
    assert!(hits(&r, &json!({"F": "a*b\\XYZc\\*d\\\\eQ"})));
    assert!(!hits(&r, &json!({"F": "aXb\\XYZc\\*d\\\\eQ"})));
    round_trip(&r);
    let r = rule("    sel:\n        F|endswith: 'dir\\'\n    condition: sel\n");
    assert!(
        hits(&r, &json!({"F": "c:\\dir\\"})),
        "a trailing backslash is literal"
    );
    round_trip(&r);
}

#[test]
fn unknown_modifier_names_the_fix_and_the_place() {
    let text = doc("    sel:\n        CommandLine|contians: 'x'\n    condition: sel\n");
    let out = import_str(&text, Some(std::path::Path::new("rules/x.yml")));
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("error");
    assert_eq!(
        d.message,
        "unknown modifier `contians` — did you mean `contains`?"
    );
    assert_eq!(d.code, "E-SIGMA-MODIFIER");
    assert_eq!(
        d.rule_id.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(d.path.as_deref(), Some(std::path::Path::new("rules/x.yml")));
    // `CommandLine|` is 12 characters from column 9.
    assert_eq!(d.pos.map(|p| (p.line, p.column)), Some((8, 21)));
}

#[test]
fn conditions_them_case_notepad_dash_lists() {
    let body = "    sel_a:\n        A: 1\n    sel-b:\n        B: 2\n    _hidden:\n        C: 3\n";
    let r = rule(&format!("{body}    condition: all of them\n"));
    assert!(
        hits(&r, &json!({"A": 1, "B": 2})),
        "`them` ignores `_hidden`"
    );
    let r = rule(&format!("{body}    condition: 1 of them\n"));
    assert!(!hits(&r, &json!({"C": 3})));
    assert!(hits(&r, &json!({"B": 2})));
    let r = rule(&format!("{body}    condition: sel_a AND NOT 1 of sel-*\n"));
    assert!(hits(&r, &json!({"A": 1})));
    assert!(!hits(&r, &json!({"A": 1, "B": 2})));
    let r = rule("    notepad:\n        A: 1\n    condition: notepad\n");
    assert!(hits(&r, &json!({"A": 1})));
    // A condition list is ORed.
    let r = rule(&format!(
        "{body}    condition:\n        - sel_a\n        - sel-b\n"
    ));
    assert!(
        hits(&r, &json!({"B": 2})) && hits(&r, &json!({"A": 1})) && !hits(&r, &json!({"C": 3}))
    );
    // Folded multi-line condition.
    let r = rule(&format!(
        "{body}    condition: >\n        sel_a\n        and not sel-b\n"
    ));
    assert!(hits(&r, &json!({"A": 1})) && !hits(&r, &json!({"A": 1, "B": 2})));
    round_trip(&r);
    // An empty pattern is an error with the pattern's column.
    let out = import_err(&format!(
        "{body}    condition: sel_a and not 1 of filter_*\n"
    ));
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.code == "E-SIGMA-EMPTY-PATTERN")
        .expect("diag");
    assert_eq!(d.pos.map(|p| (p.line, p.column)), Some((13, 35)));
    let out = import_err(&format!("{body}    condition: sel_a | count() > 5\n"));
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.code == "E-SIGMA-AGGREGATION"
            && d.hint.as_deref().is_some_and(|h| h.contains("correlation"))));
}

#[test]
fn list_of_maps_is_or_and_map_is_and() {
    let r = rule("    sel:\n        - A: 1\n          B: 2\n        - C: 3\n    condition: sel\n");
    assert!(hits(&r, &json!({"A": 1, "B": 2})));
    assert!(hits(&r, &json!({"C": 3})));
    assert!(!hits(&r, &json!({"A": 1})));
    round_trip(&r);
}

#[test]
fn bad_rule_does_not_stop_the_file() {
    let text = format!(
        "{}---\n{}",
        doc("    sel:\n        A|nope: 1\n    condition: sel\n"),
        doc("    sel:\n        A: 1\n    condition: sel\n").replace("title: t", "title: second")
    );
    let out = import_str(&text, None);
    assert_eq!(out.rules.len(), 1);
    assert_eq!(out.rules[0].meta.title, "second");
    assert_eq!(out.rules[0].provenance.document, Some(1));
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("error");
    assert_eq!(d.pos.map(|p| p.line), Some(8));
}

#[test]
fn metadata_fields() {
    let text = "title: Meta\nid: abc\nname: meta_rule\nrelated:\n    - id: def\n      type: derived\nstatus: test\ndescription: d\nlicense: DRL-1.1\nauthor: A, B (X)\nreferences:\n    - https://x\ndate: 2024-01-02\nmodified: 2024-02-03\ntags:\n    - attack.t1059\nlogsource:\n    product: windows\n    service: security\n    definition: needs audit\n    custom_key: v\ndetection:\n    sel:\n        EventID: 1\n    condition: sel\nfields:\n    - CommandLine\nfalsepositives: Unknown\nlevel: high\nscope:\n    - server\nregression_tests_path: regression_data/x/info.yml\n";
    let r = import_ok(text);
    assert_eq!(r.meta.title, "Meta");
    assert_eq!(r.meta.name.as_deref(), Some("meta_rule"));
    assert_eq!(r.meta.authors, vec!["A", "B (X)"]);
    assert_eq!(r.meta.related[0].kind, "derived");
    assert_eq!(r.meta.created.as_deref(), Some("2024-01-02"));
    assert_eq!(r.meta.false_positives, vec!["Unknown"]);
    assert_eq!(r.meta.severity, Some(ruleport_model::Severity::High));
    assert_eq!(r.meta.extra.get("scope"), Some(&json!(["server"])));
    assert_eq!(r.logsource.service.as_deref(), Some("security"));
    assert_eq!(
        r.logsource.custom.get("custom_key").map(String::as_str),
        Some("v")
    );
    assert_eq!(r.schema, ruleport_model::Schema::Sigma);
    assert_eq!(r.language, "sigma");
    assert_eq!(r.provenance.line, Some(1));
    round_trip(&r);
}

#[test]
fn legacy_action_documents() {
    let text = "action: global\ntitle: G\nlogsource:\n    product: windows\ndetection:\n    base:\n        A: 1\n    condition: base and sel\n---\ntitle: first\ndetection:\n    sel:\n        B: 2\n---\naction: repeat\ntitle: second\ndetection:\n    sel:\n        B: 3\n---\naction: reset\n---\ntitle: third\nlogsource:\n    product: linux\ndetection:\n    sel:\n        C: 4\n    condition: sel\n";
    let out = import_str(text, None);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    let titles: Vec<&str> = out.rules.iter().map(|r| r.meta.title.as_str()).collect();
    assert_eq!(titles, vec!["first", "second", "third"]);
    assert!(hits(&out.rules[0], &json!({"A": 1, "B": 2})));
    assert!(!hits(&out.rules[0], &json!({"B": 2})));
    assert!(hits(&out.rules[1], &json!({"A": 1, "B": 3})));
    assert!(!hits(&out.rules[1], &json!({"A": 1, "B": 2})));
    assert_eq!(out.rules[2].logsource.product.as_deref(), Some("linux"));
    assert!(hits(&out.rules[2], &json!({"C": 4})));
}

#[test]
fn timepart_modifiers_fail_precisely() {
    let out = import_err("    sel:\n        Time|hour: 3\n    condition: sel\n");
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.code == "E-SIGMA-UNSUPPORTED-MODIFIER"));
}

#[test]
fn never_panics_on_hostile_input() {
    for text in [
        "",
        "---\n---\n",
        "[1, 2",
        "title: x\ndetection: 5\n",
        "title: x\nlogsource: {}\ndetection:\n  condition: ((((\n",
        "- a\n- b\n",
        "title: x\nlogsource: {product: a}\ndetection:\n  s: {}\n  condition: s\n",
        "title: x\nlogsource: {product: a}\ndetection:\n  s: [[1]]\n  condition: s\n",
        "title: x\nlogsource: {product: a}\ndetection:\n  s: {A|windash|contains: ' -a -b -c -d -e -f -g'}\n  condition: s\n",
        "a: &a [*a]\n",
        "\t\tfoo: : :\n",
    ] {
        let _ = import_str(text, None);
    }
    let deep = format!(
        "title: x\nlogsource: {{product: a}}\ndetection:\n  s: {{A: 1}}\n  condition: {}s{}\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let out = import_str(&deep, None);
    assert!(out.has_errors());
}

#[test]
fn regex_over_the_size_limit_is_a_warning_and_small_ones_are_not() {
    let warned = |re: &str| {
        let out = import_str(
            &doc(&format!(
                "    sel:\n        F|re: '{re}'\n    condition: sel\n"
            )),
            None,
        );
        assert!(!out.has_errors(), "{:#?}", out.diagnostics);
        out.diagnostics
            .iter()
            .any(|d| d.code == "W-SIGMA-REGEX-SIZE")
    };
    assert!(
        warned(r"\w{1000}"),
        "Unicode word class repeated a thousand times"
    );
    assert!(!warned(r"(?-u:\w){1000}"), "the ASCII class stays small");
    assert!(!warned(r"\w+\s+-enc\s+[a-z0-9+/=]{20,}"));
}
