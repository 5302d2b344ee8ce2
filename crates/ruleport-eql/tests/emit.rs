//! The emitter: operator choice, two-valued negation, regex anchoring, escaping, round trips and
//! what EQL cannot say.

use ruleport_eql::{compile, emit_detection, parse_to_detection, Eql};
use ruleport_model::eval::expr_matches;
use ruleport_model::{
    Aggregation, Approximation, Case, CmpOp, Detection, EventFilter, Expr, Fidelity, FieldKind,
    LogSource, MappedRule, NewTerms, Op, Operand, Piece, Provenance, QueryLanguage, RegexAnchor,
    RegexSpec, Rule, RuleMeta, Scalar, Schema, SourceFormat, SourceSelection, StrPattern, Subject,
    WindowKind,
};
use serde_json::{json, Value};

fn unknown(_: &str) -> FieldKind {
    FieldKind::Unknown
}

fn emit_expr(e: Expr) -> String {
    emit_with(e, &unknown)
}

fn emit_with(e: Expr, kinds: &dyn Fn(&str) -> FieldKind) -> String {
    let det = Detection::Query(EventFilter::new(e));
    emit_detection(&det, kinds).expect("emits").0
}

fn m(field: &str, pattern: StrPattern, case: Case) -> Expr {
    Expr::matches(field, pattern, case)
}

fn glob(s: &str) -> StrPattern {
    StrPattern::from_glob_unescaped(s)
}

/// The emitted text, run by the EQL evaluator, agrees with the model on every document.
fn agrees(e: &Expr, docs: &[Value]) {
    let text = emit_expr(e.clone());
    let q = compile(&text).unwrap_or_else(|d| panic!("{text}: {d}"));
    for doc in docs {
        let want = expr_matches(e, doc).expect("reference");
        let got = !q.run_matches(std::slice::from_ref(doc)).is_empty();
        assert_eq!(got, want, "{text} on {doc}");
    }
}

#[test]
fn operator_choice_keeps_case_and_wildcards() {
    assert_eq!(
        emit_expr(m("f", StrPattern::literal("cmd.exe"), Case::Sensitive)),
        r#"any where f == "cmd.exe""#
    );
    assert_eq!(
        emit_expr(m("f", StrPattern::literal("cmd.exe"), Case::Insensitive)),
        r#"any where f : "cmd.exe""#
    );
    assert_eq!(
        emit_expr(m("f", glob("*.exe"), Case::Sensitive)),
        r#"any where f like "*.exe""#
    );
    assert_eq!(
        emit_expr(m("f", glob("c?d*"), Case::Insensitive)),
        r#"any where f : "c?d*""#
    );
    // EQL wildcards have no escape: a literal `*` needs `in~`, startsWith or a regex.
    assert_eq!(
        emit_expr(m("f", StrPattern::literal("a*b"), Case::Insensitive)),
        r#"any where f in~ ("a*b")"#
    );
    assert_eq!(
        emit_expr(m("f", StrPattern::literal("a*b"), Case::Sensitive)),
        r#"any where f == "a*b""#
    );
    assert_eq!(
        emit_expr(m("f", StrPattern::prefix("a*"), Case::Sensitive)),
        r#"any where startsWith(f, "a*")"#
    );
    let odd = StrPattern::new([
        Piece::Lit("a?".into()),
        Piece::AnyChars,
        Piece::Lit("b".into()),
    ]);
    assert_eq!(
        emit_expr(m("f", odd, Case::Insensitive)),
        r#"any where f regex~ """a\?.*b""""#
    );
    // Booleans and numbers use `==` (`:` takes strings only).
    assert_eq!(
        emit_expr(Expr::pred(Subject::field("b"), Op::Eq(Scalar::Bool(true)))),
        "any where b == true"
    );
    let kinds = |f: &str| {
        if f == "b" {
            FieldKind::Bool
        } else {
            FieldKind::Integer
        }
    };
    assert_eq!(
        emit_with(
            m("b", StrPattern::literal("TRUE"), Case::Insensitive),
            &kinds
        ),
        "any where b == true"
    );
    assert_eq!(
        emit_with(
            m("n", StrPattern::literal("4688"), Case::Insensitive),
            &kinds
        ),
        "any where n == 4688"
    );
    assert_eq!(
        emit_with(m("n", glob("46*"), Case::Insensitive), &kinds),
        r#"any where string(n) : "46*""#
    );
    // Lists group consecutive predicates on one field.
    let or = Expr::or(vec![
        m("f", StrPattern::literal("a"), Case::Insensitive),
        m("f", glob("b*"), Case::Insensitive),
        m("g", StrPattern::literal("x"), Case::Sensitive),
        m("g", StrPattern::literal("y"), Case::Sensitive),
    ]);
    assert_eq!(
        emit_expr(or),
        r#"any where f : ("a", "b*") or g in ("x", "y")"#
    );
}

#[test]
fn two_valued_negation_matches_missing_fields() {
    let not = Expr::not(m("f", StrPattern::literal("x"), Case::Insensitive));
    assert_eq!(
        emit_expr(not.clone()),
        r#"any where f == null or not f : "x""#
    );
    agrees(&not, &[json!({}), json!({"f": "X"}), json!({"f": "y"})]);
    let complex = Expr::and(vec![
        m("a", glob("*x*"), Case::Insensitive),
        Expr::not(Expr::or(vec![
            m("b", StrPattern::literal("1"), Case::Sensitive),
            Expr::and(vec![
                m("c", glob("q*"), Case::Sensitive),
                Expr::not(Expr::exists("d")),
            ]),
        ])),
    ]);
    let docs = [
        json!({"a": "x"}),
        json!({"a": "x", "b": "1"}),
        json!({"a": "x", "c": "qq"}),
        json!({"a": "x", "c": "qq", "d": 1}),
        json!({"a": "y"}),
        json!({"a": "x", "b": "2", "c": "z"}),
    ];
    agrees(&complex, &docs);
    // EQL's own `f != x` form is written back compactly.
    let ne = Expr::and(vec![
        Expr::exists("f"),
        Expr::not(m("f", StrPattern::literal("x"), Case::Sensitive)),
    ]);
    assert_eq!(emit_expr(ne), r#"any where f != "x""#);
}

#[test]
fn regexes_are_anchored_for_full_match() {
    let re = |p: &str, anchor| {
        Expr::pred(
            Subject::field("f"),
            Op::Regex(RegexSpec {
                pattern: p.into(),
                case: Case::Sensitive,
                multiline: false,
                dotall: false,
                anchor,
            }),
        )
    };
    assert_eq!(
        emit_expr(re("evil", RegexAnchor::Search)),
        r#"any where f regex ".*evil.*""#
    );
    assert_eq!(
        emit_expr(re("^evil", RegexAnchor::Search)),
        r#"any where f regex "evil.*""#
    );
    assert_eq!(
        emit_expr(re("a\"b/c$", RegexAnchor::Search)),
        r#"any where f regex ".*a\\\"b/c""#
    );
    assert_eq!(
        emit_expr(re("(?i)x", RegexAnchor::Full)),
        r#"any where f regex~ "x""#
    );
    let docs = [
        json!({"f": "an evil one"}),
        json!({"f": "evil"}),
        json!({"f": "good"}),
        json!({"f": "x\nevil"}),
    ];
    agrees(&re("evil", RegexAnchor::Search), &docs);
    agrees(&re("^evil", RegexAnchor::Search), &docs);
    agrees(
        &re(r"\d+ ev", RegexAnchor::Search),
        &[json!({"f": "12 evil"}), json!({"f": "evil"})],
    );
    let d = Detection::Query(EventFilter::new(re(r"a\bb", RegexAnchor::Search)));
    assert_eq!(
        emit_detection(&d, &unknown)
            .expect_err("word boundary")
            .code,
        "eql-regex"
    );
    // Unicode-aware `\d` becomes ASCII in Lucene: declared, not silent.
    let (_, notes) = emit_detection(
        &Detection::Query(EventFilter::new(re(r"\d", RegexAnchor::Full))),
        &unknown,
    )
    .expect("emit");
    assert_eq!(
        notes.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        vec!["eql-regex-ascii-class"]
    );
}

#[test]
fn hostile_strings_cannot_inject() {
    let hostile = [
        r#"a" or true or f == "b"#,
        "back\\slash\\",
        "\"\"\"",
        "line\nbreak\ttab\r\u{0}\u{8}\u{c}",
        "\u{202E}rtl\u{200F}",
        "a/b",
        "`field`",
        "*?",
        "é ß 🦀",
    ];
    for s in hostile {
        for case in [Case::Sensitive, Case::Insensitive] {
            let e = m("f", StrPattern::literal(s), case);
            let text = emit_expr(e.clone());
            assert!(!text.contains("\\/"), "{text}");
            let back = parse_to_detection(&text).unwrap_or_else(|d| panic!("{text}: {d}"));
            assert_eq!(
                back,
                Detection::Query(EventFilter::new(e.clone())),
                "{text}"
            );
            agrees(&e, &[json!({"f": s}), json!({"f": "other"}), json!({})]);
        }
    }
    // Hostile field names are backtick-escaped.
    for name in ["my field", "a`b", "sequence", "1st", "a-b.c", "x.y"] {
        let e = m(name, StrPattern::literal("v"), Case::Sensitive);
        let text = emit_expr(e.clone());
        assert_eq!(
            parse_to_detection(&text).expect("reparses"),
            Detection::Query(EventFilter::new(e)),
            "{text}"
        );
    }
}

#[test]
fn computed_subjects_and_cidr() {
    let net: ipnet::IpNet = "10.0.0.0/8".parse().expect("net");
    let net6: ipnet::IpNet = "fe80::/10".parse().expect("net");
    let e = Expr::or(vec![
        Expr::pred(Subject::field("ip"), Op::Cidr(net)),
        Expr::pred(Subject::field("ip"), Op::Cidr(net6)),
    ]);
    assert_eq!(
        emit_expr(e),
        r#"any where cidrMatch(ip, "10.0.0.0/8", "fe80::/10")"#
    );
    let len = Subject::Computed(Operand::Call {
        name: "length".into(),
        case_insensitive: false,
        args: vec![Operand::field("f")],
    });
    let e = Expr::pred(
        len,
        Op::Cmp {
            op: CmpOp::Gt,
            value: Scalar::Int(3),
        },
    );
    assert_eq!(emit_expr(e), "any where length(f) > 3");
}

#[test]
fn what_eql_cannot_say_is_unsupported() {
    let code = |d: Detection| emit_detection(&d, &unknown).expect_err("unsupported").code;
    let kw = Expr::pred(
        Subject::Keyword,
        Op::Match {
            pattern: glob("*x*"),
            case: Case::Insensitive,
        },
    );
    assert_eq!(
        code(Detection::Query(EventFilter::new(kw))),
        "eql-keyword-search"
    );
    let fr = Expr::pred(
        Subject::field("a"),
        Op::FieldRef {
            other: "b".into(),
            kind: ruleport_model::FieldRefKind::Equals,
            case: Case::Sensitive,
        },
    );
    assert_eq!(
        code(Detection::Query(EventFilter::new(fr))),
        "eql-field-comparison"
    );
    let ph = m(
        "f",
        StrPattern::new([Piece::Placeholder("admins".into())]),
        Case::Insensitive,
    );
    assert_eq!(
        code(Detection::Query(EventFilter::new(ph))),
        "eql-placeholder"
    );
    let agg = Detection::Aggregation(Aggregation {
        sources: vec![],
        group_by: vec![],
        window: None,
        window_kind: WindowKind::Sliding,
        conditions: vec![],
    });
    assert_eq!(code(agg), "eql-aggregation");
    let nt = Detection::NewTerms(NewTerms {
        filter: EventFilter::new(Expr::Const(true)),
        fields: vec!["a".into()],
        history_window_start: "now-7d".into(),
    });
    assert_eq!(code(nt), "eql-new-terms");
    let text_kind = |_: &str| FieldKind::Text;
    let d = Detection::Query(EventFilter::new(m(
        "message",
        glob("*x*"),
        Case::Insensitive,
    )));
    assert_eq!(
        emit_detection(&d, &text_kind).expect_err("text").code,
        "eql-text-field"
    );
}

#[test]
fn sequences_round_trip() {
    for q in [
        "sequence by host.id with maxspan=30s\n  [process where process.name : \"a\"] by process.pid\n  ![file where file.path like \"/tmp/*\"]\n  [network where true] by process.pid with runs=2\nuntil [process where event.type == \"end\"] by process.pid",
        "sample by ?host\n  [a where x != null]\n  [b where not y : \"z\"]",
    ] {
        let d = parse_to_detection(q).expect("lower");
        let (text, _) = emit_detection(&d, &unknown).expect("emit");
        assert_eq!(parse_to_detection(&text).expect("reparse"), d, "{text}");
    }
}

fn rule(detection: Detection) -> Rule {
    Rule {
        meta: RuleMeta::default(),
        logsource: LogSource::default(),
        detection,
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language: "eql".into(),
        original_query: None,
        provenance: Provenance::default(),
    }
}

#[test]
fn query_language_adds_selection_and_carries_approximations() {
    let det = Detection::Query(EventFilter {
        category: Some("process".into()),
        expr: m(
            "process.name",
            StrPattern::literal("cmd.exe"),
            Case::Insensitive,
        ),
    });
    let mut mapped = MappedRule::identity(rule(det));
    mapped.selection = SourceSelection {
        condition: Some(m(
            "event.type",
            StrPattern::literal("start"),
            Case::Sensitive,
        )),
        ..SourceSelection::default()
    };
    mapped.approximations = vec![Approximation::new("unmapped-field", "x")];
    let port = Eql.emit(&mapped).expect("emit");
    assert_eq!(
        port.text,
        r#"process where event.type == "start" and process.name : "cmd.exe""#
    );
    assert_eq!(
        port.fidelity,
        Fidelity::Approximate(vec![Approximation::new("unmapped-field", "x")])
    );
    let compiled = Eql.compile(&port.text).expect("compiles");
    let events = vec![
        json!({"event": {"category": "process", "type": "start"}, "process": {"name": "CMD.EXE"}}),
        json!({"event": {"category": "file", "type": "start"}, "process": {"name": "cmd.exe"}}),
    ];
    assert_eq!(compiled.run(&events).expect("run"), vec![vec![0]]);
}

#[test]
fn category_override_becomes_a_condition() {
    let det = Detection::Query(EventFilter {
        category: Some("start".into()),
        expr: m("process.name", StrPattern::literal("a"), Case::Sensitive),
    });
    let mut r = rule(det);
    r.meta
        .extra
        .insert("event_category_override".into(), json!("event.type"));
    let port = Eql.emit(&MappedRule::identity(r)).expect("emit");
    assert_eq!(
        port.text,
        r#"any where event.type == "start" and process.name == "a""#
    );
}

#[test]
fn compile_reports_positions() {
    let Err(d) = Eql.compile("process where\n  x = 1") else {
        panic!("accepted `=`")
    };
    assert_eq!(
        (d.code.as_str(), d.pos.map(|p| (p.line, p.column))),
        ("eql-endgame-syntax", Some((2, 5)))
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = Expr> {
        let field = prop_oneof![Just("a"), Just("b")];
        let text = prop_oneof![
            Just("x"),
            Just("X"),
            Just("x*"),
            Just("*y"),
            Just("?"),
            Just("1")
        ];
        let case = prop_oneof![Just(Case::Sensitive), Just(Case::Insensitive)];
        prop_oneof![
            (field.clone(), text, case).prop_map(|(f, t, c)| Expr::matches(
                f,
                StrPattern::from_glob_unescaped(t),
                c
            )),
            (field.clone(), 0i64..3)
                .prop_map(|(f, n)| Expr::pred(Subject::field(f), Op::Eq(Scalar::Int(n)))),
            (field.clone(), 0i64..3).prop_map(|(f, n)| {
                Expr::pred(
                    Subject::field(f),
                    Op::Cmp {
                        op: CmpOp::Ge,
                        value: Scalar::Int(n),
                    },
                )
            }),
            field.prop_map(Expr::exists),
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        leaf().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::and),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::or),
                inner.prop_map(Expr::not),
            ]
        })
    }

    fn docs() -> Vec<Value> {
        let vals = [
            json!(null),
            json!("x"),
            json!("X"),
            json!("xy"),
            json!(1),
            json!(2),
            json!(["x", 2]),
        ];
        let mut out = Vec::new();
        for a in &vals {
            for b in &vals {
                let mut d = serde_json::Map::new();
                if !a.is_null() {
                    d.insert("a".into(), a.clone());
                }
                if !b.is_null() {
                    d.insert("b".into(), b.clone());
                }
                out.push(Value::Object(d));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Emitted EQL, run with three-valued logic, means what the two-valued model means.
        #[test]
        fn emitted_text_keeps_the_model_meaning(e in expr()) {
            let text = emit_expr(e.clone());
            let q = compile(&text).map_err(|d| TestCaseError::fail(format!("{text}: {d}")))?;
            for doc in docs() {
                let want = expr_matches(&e, &doc).expect("reference");
                let got = !q.run_matches(std::slice::from_ref(&doc)).is_empty();
                prop_assert_eq!(got, want, "{} on {}", text, doc);
            }
            // And the lowered text means the same again.
            let back = parse_to_detection(&text).map_err(|d| TestCaseError::fail(d.to_string()))?;
            let (text2, _) = emit_detection(&back, &unknown).map_err(|u| TestCaseError::fail(u.to_string()))?;
            let back2 = parse_to_detection(&text2).map_err(|d| TestCaseError::fail(d.to_string()))?;
            prop_assert_eq!(&back2, &back, "EQL → model → EQL → model changed: {} then {}", text, text2);
            let Detection::Query(f) = back else { return Err(TestCaseError::fail("not a query")) };
            for doc in docs() {
                prop_assert_eq!(expr_matches(&f.expr, &doc).expect("ref"), expr_matches(&e, &doc).expect("ref"), "{}", text);
            }
        }
    }
}
