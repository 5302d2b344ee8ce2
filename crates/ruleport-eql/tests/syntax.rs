//! Parser acceptance and rejection, with diagnostics positioned in the query text.

use ruleport_eql::ast::{Body, Expr};
use ruleport_eql::{emit_with_limit, lower_with_limit, parse, parse_to_detection};
use ruleport_model::{Detection, FieldKind, LimitKeep, Pos, ResultLimit};

fn error(text: &str) -> (String, Pos) {
    let d = parse(text).expect_err(text);
    (d.code.clone(), d.pos.unwrap_or_default())
}

#[test]
fn accepts_elasticsearch_syntax() {
    for q in [
        r#"process where process.name == "cmd.exe""#,
        r#""my-category" where true"#,
        r#"any where ?user.id != null and `my-field` : "x" and a.`0`.b == 1"#,
        r#"any where f : """C:\Windows\*""" and g like~ ("a*", "b")"#,
        r#"any where cidrmatch(ip, "10.0.0.0/8") and StartsWith~(f, "x") and stringcontains(f, "y")"#,
        r#"any where f regex~ ("a.*", "b") and n not in (1, 2) and s in~ ("A")"#,
        r#"any where -n + 2 * (3 - m) % 4 / 1.5 > -1e3"#,
        "any where s == \"tab\\t quote\\\" \\u{200F} back\\\\slash\"",
        "sequence by host.id with maxspan=1h\n  [process where true] by pid\n  ![file where true]\n  [network where true] by ppid with runs=2\nuntil [process where event.type == \"end\"] by pid",
        "sequence with maxspan=500ms [a where true] -[b where true] [c where true]",
        "sample by host [a where true] by x [b where true]",
        "process where true | head 5 | tail 2",
        "process where /* block */ true // line\n and false",
        "sequence [a where true] with runs=3",
    ] {
        if let Err(d) = parse(q) {
            panic!("{q}\n{d}");
        }
    }
}

#[test]
fn parses_structure() {
    let q =
        parse(r#"sequence by k with maxspan=2m [a where x == 1] by p [b where true] with runs=3"#)
            .expect("parse");
    let Body::Sequence(s) = q.body else { panic!() };
    assert_eq!(s.maxspan.map(|m| m.millis), Some(120_000));
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[1].runs, 3);
    assert_eq!(
        s.steps[0].by,
        vec![Expr::Field {
            name: "p".into(),
            optional: false
        }]
    );
    let q = parse(r#"any where `a``b`.c == "x""#).expect("parse");
    let Body::Event(e) = q.body else { panic!() };
    let Expr::Compare { left, .. } = e.condition else {
        panic!()
    };
    assert_eq!(
        *left,
        Expr::Field {
            name: "a`b.c".into(),
            optional: false
        }
    );
}

#[test]
fn rejects_endgame_syntax_with_positions() {
    assert_eq!(
        error("process where process_name = \"x\""),
        ("eql-endgame-syntax".into(), Pos::new(1, 28))
    );
    assert_eq!(error("process where f == 'x'").0, "eql-endgame-syntax");
    assert_eq!(error("process where f == ?\"x\"").0, "eql-endgame-syntax");
    assert_eq!(
        error("process where true | count").0,
        "eql-unsupported-pipe"
    );
    assert_eq!(
        error("process where true\n| unique process_name"),
        ("eql-unsupported-pipe".into(), Pos::new(2, 3))
    );
    assert_eq!(
        error("join [a where true] [b where true]").0,
        "eql-endgame-syntax"
    );
    assert_eq!(
        error("process where descendant of [process where true]").0,
        "eql-endgame-syntax"
    );
    assert_eq!(
        error("process where arrayContains(a, \"x\")").0,
        "eql-unknown-function"
    );
}

#[test]
fn rejects_invalid_queries() {
    assert_eq!(
        error(r#"any where f == "a\/b""#),
        ("eql-string-escape".into(), Pos::new(1, 18))
    );
    assert_eq!(error("any where startsWith(f)").0, "eql-function-arity");
    assert_eq!(error("any where length~(f) > 1").0, "eql-syntax");
    assert_eq!(
        error("any where stringContain(f, \"x\")").0,
        "eql-unknown-function"
    );
    assert_eq!(error("any where a < b < c").0, "eql-syntax");
    assert_eq!(error("any where f regex \"a&b\"").0, "eql-regex");
    assert_eq!(error("any where f : 5").0, "eql-syntax");
    assert_eq!(error("sequence [a where true]").0, "eql-syntax");
    assert_eq!(
        error("sequence [a where true] ![b where true]").0,
        "eql-syntax"
    );
    assert_eq!(
        error("sequence with maxspan=5 [a where true] [b where true]").0,
        "eql-syntax"
    );
    assert_eq!(
        error("sequence with maxspan=5s by k [a where true] [b where true]").0,
        "eql-syntax"
    );
    assert_eq!(
        error("sample [a where true] with runs=2 [b where true]").0,
        "eql-syntax"
    );
    assert_eq!(error("any where sequence == 1").0, "eql-syntax");
    assert_eq!(error("").0, "eql-syntax");
    assert_eq!(error("any where \"unterminated").0, "eql-syntax");
    assert_eq!(error("any where f == \"\\u{D800}\"").0, "eql-string-escape");
    let d = parse("process where\n  f == 1 and\n  g == ").expect_err("incomplete");
    assert_eq!(d.pos, Some(Pos::new(3, 8)));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "any where {}true{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(error(&deep).0, "eql-too-deep");
    let nots = format!("any where {}true", "not ".repeat(100_000));
    assert_eq!(error(&nots).0, "eql-too-deep");
    let chain = format!("any where n{} == 1", " + 1".repeat(10_000));
    assert_eq!(error(&chain).0, "eql-too-deep");
    let neg = format!("any where {}n == 1", "-".repeat(100_000));
    assert_eq!(error(&neg).0, "eql-too-deep");
    // Long flat chains of `and`/`or` are fine.
    let wide = format!("any where {}", vec!["f == 1"; 5_000].join(" or "));
    assert!(parse_to_detection(&wide).is_ok());
}

#[test]
fn pipes_lower_to_a_result_limit_beside_the_detection() {
    // The detection-only lowering refuses a pipe rather than silently dropping it.
    let d = parse_to_detection("process where true | head 1").expect_err("pipe");
    assert_eq!(d.code, "eql-pipe");
    let (det, limit) =
        lower_with_limit(&parse("process where true | tail 3").expect("parse")).expect("lower");
    assert!(matches!(det, Detection::Query(_)));
    assert_eq!(
        limit,
        Some(ResultLimit {
            keep: LimitKeep::Last,
            count: 3
        })
    );
    let (_, limit) = lower_with_limit(
        &parse("sequence [process where true] [file where true] | head 2").expect("parse"),
    )
    .expect("lower");
    assert_eq!(
        limit,
        Some(ResultLimit {
            keep: LimitKeep::First,
            count: 2
        })
    );
    // A slice of the results (two pipes) and an empty limit have no place in the model.
    for q in [
        "process where true | head 5 | tail 2",
        "process where true | head 0",
    ] {
        let e = lower_with_limit(&parse(q).expect("parse")).expect_err(q);
        assert_eq!(e.code, "eql-pipe", "{q}");
    }
    let unknown = |_: &str| FieldKind::Unknown;
    let (text, _) = emit_with_limit(
        &det,
        Some(ResultLimit {
            keep: LimitKeep::Last,
            count: 3,
        }),
        &unknown,
    )
    .expect("emit");
    assert!(text.ends_with(" | tail 3"), "{text}");
    assert_eq!(
        lower_with_limit(&parse(&text).expect("reparse"))
            .expect("relower")
            .1
            .map(|l| l.count),
        Some(3)
    );
    assert!(matches!(
        parse_to_detection("process where true"),
        Ok(Detection::Query(_))
    ));
}

#[test]
fn hostile_inputs_never_panic() {
    for q in [
        "\u{0}",
        "`",
        "?",
        "![",
        "-[",
        "any where \"\"\"",
        "any where f : (",
        "any where f in (",
        "sequence by",
        "sequence with maxspan=",
        "any where 99999999999999999999 == 1",
        "any where .5e",
        "any where f regex \"[\"",
        "any where f regex \"a{99999999999}\"",
        "any where é == 1",
        "any where f == \"\\u{",
        "sample by",
        "any where f(",
        "any where `a`.",
        "any where a.",
        "sequence [a where true] by",
        "any where f : \"x\" | head -1",
    ] {
        let _ = parse(q);
        let _ = parse_to_detection(q);
        let _ = ruleport_eql::compile(q);
    }
}
