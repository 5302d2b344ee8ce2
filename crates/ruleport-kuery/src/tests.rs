//! Grammar, lowering, evaluator and emitter tests. Expected values are derived by hand from
//! Kibana's grammar.peggy and the semantics in elastic.md §2 and §4.1.

use crate::ast::{Chunk, LiteralKind, Node, ValueList};
use crate::{emit_expr, parse, parse_to_expr, CompiledKuery, Kuery};
use ruleport_model::{
    Case, CmpOp, Detection, EventFilter, Expr, FieldKind, MappedRule, Op, Piece, Provenance,
    QueryLanguage, Rule, RuleMeta, Scalar, Schema, SourceFormat, StrPattern, Subject, TargetId,
};
use serde_json::{json, Value};

// ---------- helpers ----------

fn lit(f: &str, v: &str) -> Expr {
    Expr::matches(f, StrPattern::literal(v), Case::Sensitive)
}

fn glob(f: &str, pieces: Vec<Piece>) -> Expr {
    Expr::matches(f, StrPattern::new(pieces), Case::Sensitive)
}

fn l(s: &str) -> Piece {
    Piece::Lit(s.into())
}

fn star() -> Piece {
    Piece::AnyChars
}

fn eq(f: &str, s: Scalar) -> Expr {
    Expr::pred(Subject::field(f), Op::Eq(s))
}

fn cmp(f: &str, op: CmpOp, v: Scalar) -> Expr {
    Expr::pred(Subject::field(f), Op::Cmp { op, value: v })
}

fn cidr(f: &str, net: &str) -> Expr {
    Expr::pred(Subject::field(f), Op::Cidr(net.parse().expect("net")))
}

fn model(q: &str) -> Expr {
    parse_to_expr(q).unwrap_or_else(|d| panic!("{q}: {d}"))
}

fn kw() -> impl Fn(&str) -> FieldKind {
    |_| FieldKind::Keyword
}

fn emit(e: &Expr) -> String {
    emit_expr(e, &kw()).unwrap_or_else(|u| panic!("{u}")).0
}

fn hits(q: &str, docs: &[Value]) -> Vec<usize> {
    let c = CompiledKuery::new(parse(q).unwrap_or_else(|d| panic!("{q}: {d}")));
    docs.iter()
        .enumerate()
        .filter(|(_, d)| c.matches(d))
        .map(|(i, _)| i)
        .collect()
}

/// The only value of `f:<value>` as the parser saw it.
fn value_of(q: &str) -> LiteralKind {
    match parse(q).expect("parse").root {
        Some(Node::Is {
            values: ValueList::Value(v),
            ..
        }) => v.kind,
        other => panic!("not a single value: {other:?}"),
    }
}

fn text(s: &str) -> Chunk {
    Chunk::Text(s.into())
}

// ---------- grammar ----------

#[test]
fn precedence_is_not_then_and_then_or() {
    assert_eq!(
        model("a:1 or b:2 and not c:3"),
        Expr::or(vec![
            eq("a", Scalar::Int(1)),
            Expr::and(vec![
                eq("b", Scalar::Int(2)),
                Expr::not(eq("c", Scalar::Int(3)))
            ]),
        ])
    );
    assert_eq!(
        model("(a:1 or b:2) and c:3"),
        Expr::and(vec![
            Expr::or(vec![eq("a", Scalar::Int(1)), eq("b", Scalar::Int(2))]),
            eq("c", Scalar::Int(3)),
        ])
    );
    assert_eq!(
        model("not (a:1 or b:2)"),
        Expr::not(Expr::or(vec![
            eq("a", Scalar::Int(1)),
            eq("b", Scalar::Int(2))
        ]))
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let want = Expr::and(vec![lit("a", "x"), Expr::not(lit("b", "y"))]);
    assert_eq!(model("a:x AND NOT b:y"), want);
    assert_eq!(model("a:x And Not b:y"), want);
    assert_eq!(
        model("a:x OR b:y"),
        Expr::or(vec![lit("a", "x"), lit("b", "y")])
    );
    // elastic.md §4.1: lib/kql rejects this, Kibana accepts it.
    assert_eq!(
        model("process.name:cmd.exe And host.name:h1"),
        Expr::and(vec![lit("process.name", "cmd.exe"), lit("host.name", "h1")])
    );
}

#[test]
fn keywords_need_surrounding_whitespace() {
    // `not` needs a following space: `not(a:b)` is a syntax error in Kibana.
    assert!(parse("not(a:b)").is_err());
    // Without spaces `and`/`or` are part of the value.
    assert_eq!(model("a:xandy"), lit("a", "xandy"));
    assert_eq!(
        model("a:x\tand\nb:y"),
        Expr::and(vec![lit("a", "x"), lit("b", "y")])
    );
    // A non-breaking space is kuery whitespace too.
    assert_eq!(
        model("a:x\u{a0}or\u{a0}b:y"),
        Expr::or(vec![lit("a", "x"), lit("b", "y")])
    );
    // `not ` stops an unquoted value anywhere, so `cannot x` cannot be written unescaped.
    assert!(parse("a:cannot x").is_err());
    assert_eq!(model("a:notepad"), lit("a", "notepad"));
}

#[test]
fn unquoted_values_keep_inner_spaces_and_are_trimmed() {
    assert_eq!(
        model("event.reason: quick brown fox "),
        lit("event.reason", "quick brown fox")
    );
    assert_eq!(
        value_of("process.name:power shell*"),
        LiteralKind::Unquoted(vec![text("power shell"), Chunk::Wildcard])
    );
    assert_eq!(
        model("f:  a  b  and g:c"),
        Expr::and(vec![lit("f", "a  b"), lit("g", "c")])
    );
    // Kibana trims after unescaping: escaped edge whitespace disappears too.
    assert_eq!(model("f:\\ta"), lit("f", "a"));
    assert_eq!(model("f:a\\u0020"), lit("f", "a"));
    assert_eq!(model("f:a\\u0020b"), lit("f", "a b"));
}

#[test]
fn value_lists_with_and_or_not() {
    assert_eq!(
        model("f:(a or b and not c)"),
        Expr::or(vec![
            lit("f", "a"),
            Expr::and(vec![lit("f", "b"), Expr::not(lit("f", "c"))])
        ])
    );
    assert_eq!(
        model("process.args:(echo and *NOPASSWD*ALL*)"),
        Expr::and(vec![
            lit("process.args", "echo"),
            glob(
                "process.args",
                vec![star(), l("NOPASSWD"), star(), l("ALL"), star()]
            ),
        ])
    );
    // The corpus idiom `field:(* and not (a or b))`.
    assert_eq!(
        model("f:(* and not (a or b))"),
        Expr::and(vec![
            Expr::exists("f"),
            Expr::not(Expr::or(vec![lit("f", "a"), lit("f", "b")])),
        ])
    );
    assert_eq!(model("f:(not a)"), Expr::not(lit("f", "a")));
    assert_eq!(model("f:((a))"), lit("f", "a"));
}

#[test]
fn star_is_a_wildcard_only_unquoted() {
    assert_eq!(model("f:a*"), glob("f", vec![l("a"), star()]));
    assert_eq!(model("f:\"a*\""), lit("f", "a*"));
    assert_eq!(model("f:a\\*"), lit("f", "a*"));
    assert_eq!(
        model("f:*a\\*b*"),
        glob("f", vec![star(), l("a*b"), star()])
    );
    assert_eq!(model("f:\"*\""), lit("f", "*"));
    // `?` is not a wildcard in kuery.
    assert_eq!(model("f:a?c"), lit("f", "a?c"));
    assert_eq!(model("f:a?c*"), glob("f", vec![l("a?c"), star()]));
}

#[test]
fn exists() {
    assert_eq!(model("f:*"), Expr::exists("f"));
    assert_eq!(model("f: * "), Expr::exists("f"));
    assert_eq!(model("f:**"), Expr::exists("f"));
    assert_eq!(model("not f:*"), Expr::not(Expr::exists("f")));
}

#[test]
fn escapes() {
    assert_eq!(
        model(r"file.path:C\:\\temp\\a\*b.txt"),
        lit("file.path", r"C:\temp\a*b.txt")
    );
    assert_eq!(model(r#"f:\(\)\:\<\>\{\}\"x"#), lit("f", "():<>{}\"x"));
    assert_eq!(model(r"f:\u0041\u00e9"), lit("f", "Aé"));
    assert_eq!(model(r"f:a\tb"), lit("f", "a\tb"));
    // A surrogate pair written as two escapes is one character.
    assert_eq!(model(r"f:\ud83d\ude00"), lit("f", "😀"));
    // A lone half is replaced, as JavaScript strings print it.
    assert_eq!(model(r"f:\ud83dx"), lit("f", "\u{fffd}x"));
    assert_eq!(model(r#"f:"\ude00\ud83d""#), lit("f", "\u{fffd}\u{fffd}"));
    // Any other backslash is an error in unquoted values.
    let d = parse(r"f:C:\Windows").expect_err("`:` must be escaped");
    assert_eq!((d.pos.map(|p| p.column)), Some(4));
    assert!(parse(r"f:a\qb").is_err());
}

#[test]
fn escaped_keywords() {
    assert_eq!(model(r"f:\and"), lit("f", "and"));
    assert_eq!(model(r"f:\OR"), lit("f", "OR"));
    assert_eq!(model(r"f:a \or b"), lit("f", "a or b"));
    assert_eq!(model(r"f:x \and y"), lit("f", "x and y"));
    assert_eq!(model(r"f:\NOT x"), lit("f", "NOT x"));
    // Kibana tries `\n` (newline) before `\not`, so `\not` is a newline and `ot`, trimmed.
    assert_eq!(model(r"f:\not"), lit("f", "ot"));
    assert_eq!(model(r"f:\u006eot x"), lit("f", "not x"));
}

#[test]
fn quoted_strings() {
    // Unknown escapes keep the backslash; `\t` `\r` `\n` `\uXXXX` `\\` `\"` are escapes.
    assert_eq!(
        model(r#"f:"C:\Program Files""#),
        lit("f", r"C:\Program Files")
    );
    assert_eq!(model(r#"f:"a\tb\\c\"d\u0041""#), lit("f", "a\tb\\c\"dA"));
    assert_eq!(model("f:\"two\nlines\""), lit("f", "two\nlines"));
    assert_eq!(
        model(r#"f:"a or b and not c""#),
        lit("f", "a or b and not c")
    );
    assert_eq!(model(r#"f:"  padded  ""#), lit("f", "  padded  "));
    assert_eq!(model(r#"f:"""#), lit("f", ""));
    let d = parse("f:\"abc").expect_err("unterminated");
    assert!(d.message.contains("closing quote"), "{}", d.message);
}

#[test]
fn typed_values() {
    assert_eq!(model("f:true"), eq("f", Scalar::Bool(true)));
    assert_eq!(model("f:false"), eq("f", Scalar::Bool(false)));
    assert_eq!(model("f:TRUE"), lit("f", "TRUE"));
    assert_eq!(model("f:\"true\""), lit("f", "true"));
    assert_eq!(model("f:4688"), eq("f", Scalar::Int(4688)));
    assert_eq!(model("f:-5"), eq("f", Scalar::Int(-5)));
    assert_eq!(model("f:1.5"), eq("f", Scalar::Float(1.5)));
    assert_eq!(model("f:\"4688\""), lit("f", "4688"));
    // Non-canonical numbers stay text (a keyword field compares the text).
    assert_eq!(model("f:007"), lit("f", "007"));
    assert_eq!(model("f:1.50"), lit("f", "1.50"));
    assert_eq!(model("f:null"), lit("f", "null"));
}

#[test]
fn cidr_values() {
    assert_eq!(
        model("source.ip:(10.0.0.0/8 or \"192.168.0.0/16\")"),
        Expr::or(vec![
            cidr("source.ip", "10.0.0.0/8"),
            cidr("source.ip", "192.168.0.0/16")
        ])
    );
    assert_eq!(model("ip:\"FE80::/10\""), cidr("ip", "fe80::/10"));
    assert_eq!(model("url.path:/a/b"), lit("url.path", "/a/b"));
}

#[test]
fn ranges() {
    assert_eq!(model("f < 5"), cmp("f", CmpOp::Lt, Scalar::Int(5)));
    assert_eq!(model("f<=5"), cmp("f", CmpOp::Le, Scalar::Int(5)));
    assert_eq!(model("f > 1.5"), cmp("f", CmpOp::Gt, Scalar::Float(1.5)));
    assert_eq!(
        model("@timestamp >= \"now-30d/d\""),
        cmp("@timestamp", CmpOp::Ge, Scalar::Str("now-30d/d".into()))
    );
    assert_eq!(
        model("@timestamp >= now-30d/d and a:b"),
        Expr::and(vec![
            cmp("@timestamp", CmpOp::Ge, Scalar::Str("now-30d/d".into())),
            lit("a", "b")
        ])
    );
    assert_eq!(
        model("f >= \"5\""),
        cmp("f", CmpOp::Ge, Scalar::Str("5".into()))
    );
}

#[test]
fn field_names_ending_in_not_are_quoted_in_ranges() {
    // Kibana reads `not` + whitespace as the keyword inside an unquoted literal, so
    // `dndnot > 1` does not parse while `dndnot>1` does (fuzz crash 5d624500).
    assert!(parse("dndnot > 1").is_err());
    assert_eq!(model("dndnot>1"), cmp("dndnot", CmpOp::Gt, Scalar::Int(1)));
    for name in ["dndnot", "x.NOT", "cannot"] {
        let e = cmp(name, CmpOp::Gt, Scalar::Str("224 0-01]01".into()));
        let text = emit(&e);
        assert_eq!(model(&text), e, "{text}");
    }
    // A wildcard field name stays unquoted, its trailing `not` written as `\u006eot`.
    assert_eq!(emit(&lit("a*not", "v")), r#"a*\u006eot:"v""#);
    assert_eq!(
        model(&emit(&cmp("a.b", CmpOp::Lt, Scalar::Int(3)))),
        cmp("a.b", CmpOp::Lt, Scalar::Int(3))
    );
}

#[test]
fn nested_queries() {
    let want = Expr::and(vec![
        lit("a", "x"),
        Expr::Nested {
            path: "deltas".into(),
            inner: Box::new(Expr::and(vec![
                lit("action", "ADD"),
                Expr::or(vec![lit("role", "r1"), lit("role", "r2")]),
            ])),
        },
    ]);
    assert_eq!(
        model("a:x and deltas:{ action:\"ADD\" and role:(r1 or r2) }"),
        want
    );
    assert_eq!(
        model("a:x and deltas : {action:ADD and (role:(r1 or r2))}"),
        want
    );
}

#[test]
fn free_text_and_quoted_fields() {
    assert_eq!(
        model("whoami"),
        Expr::pred(
            Subject::Keyword,
            Op::Match {
                pattern: StrPattern::literal("whoami"),
                case: Case::Sensitive,
            }
        )
    );
    assert_eq!(
        model("\"quick fox\" and x:1"),
        Expr::and(vec![
            Expr::pred(
                Subject::Keyword,
                Op::Match {
                    pattern: StrPattern::literal("quick fox"),
                    case: Case::Sensitive
                }
            ),
            eq("x", Scalar::Int(1)),
        ])
    );
    assert_eq!(
        model("\"process.name\":cmd.exe"),
        lit("process.name", "cmd.exe")
    );
    assert_eq!(model("\"odd field\":x"), lit("odd field", "x"));
    // Wildcard field names stay in the name.
    assert_eq!(model("a.*.type:x"), lit("a.*.type", "x"));
}

#[test]
fn empty_query_matches_everything() {
    assert_eq!(model(""), Expr::Const(true));
    assert_eq!(model(" \n\t "), Expr::Const(true));
    assert_eq!(hits("", &[json!({}), json!({"a": 1})]), vec![0, 1]);
}

#[test]
fn syntax_errors_have_positions_and_messages() {
    let d = parse("a:b and\n  c:(d or").expect_err("unclosed list");
    assert_eq!(d.code, crate::E_SYNTAX);
    let p = d.pos.expect("pos");
    assert_eq!((p.line, p.column), (2, 10), "end of the second line");
    assert!(d.message.contains("expected"), "{}", d.message);

    let d = parse("a:b c:d").expect_err("unescaped colon");
    assert_eq!(d.pos.map(|p| (p.line, p.column)), Some((1, 6)));
    assert!(
        d.hint.as_deref().is_some_and(|h| h.contains("\\:")),
        "{d:?}"
    );

    // Without a following space `and` is part of the value; with one it needs a right operand.
    assert_eq!(model("a:b and"), lit("a", "b and"));
    let d = parse("a:b and ").expect_err("dangling and");
    assert_eq!(d.pos.map(|p| p.line), Some(1));

    let d = parse("(a:b").expect_err("unclosed paren");
    assert_eq!(d.pos.map(|p| p.column), Some(5));
    assert!(d.message.contains("\")\""), "{}", d.message);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let q = format!("{}a:b{}", "(".repeat(100_000), ")".repeat(100_000));
    let d = parse(&q).expect_err("too deep");
    assert_eq!(d.code, crate::E_DEPTH);
    let q = format!("f:{}a{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(parse(&q).expect_err("too deep").code, crate::E_DEPTH);
    let q = "not (".repeat(100_000) + "a:b" + &")".repeat(100_000);
    assert_eq!(parse(&q).expect_err("too deep").code, crate::E_DEPTH);
    // `not not x` is not kuery at all (`not` must be followed by a sub-query).
    assert_eq!(
        parse("not not a:b").expect_err("syntax").code,
        crate::E_SYNTAX
    );
    let q = "a:{".repeat(100_000) + "b:c" + &"}".repeat(100_000);
    assert_eq!(parse(&q).expect_err("too deep").code, crate::E_DEPTH);
    // Moderate nesting is fine.
    let q = format!("{}a:b{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(model(&q), lit("a", "b"));
}

// ---------- evaluator (elastic.md §4.1) ----------

fn process_docs() -> Vec<Value> {
    vec![
        json!({"process": {"name": "cmd.exe", "args": ["cmd.exe", "/c", "whoami"], "parent": {"name": "explorer.exe"}},
               "source": {"ip": "10.1.2.3"}, "host": {"name": "h1"}}),
        json!({"process.name": "CMD.EXE", "process.parent.name": "services.exe", "source.ip": "192.168.1.1",
               "process": {"args": ["CMD.EXE"]}}),
        json!({"process": {"name": "powershell.exe", "args": ["-enc", "AAAA"]}, "source": {"ip": "8.8.8.8"}}),
        json!({"process": {"name": "power shell.exe", "parent": {"name": null}}}),
        json!({"file": {"path": "C:\\temp\\a*b.txt"}, "process": {"name": "notepad.exe"}}),
    ]
}

#[test]
fn evaluator_matches_the_lib_kql_oracle_runs() {
    let docs = process_docs();
    assert_eq!(hits("process.name:CMD*", &docs), vec![1]);
    assert_eq!(hits("process.parent.name:*", &docs), vec![0, 1]);
    assert_eq!(hits("not process.parent.name:*", &docs), vec![2, 3, 4]);
    assert_eq!(
        hits("source.ip:(10.0.0.0/8 or 192.168.0.0/16)", &docs),
        vec![0, 1]
    );
    assert_eq!(hits("process.args:(cmd.exe and whoami)", &docs), vec![0]);
    assert_eq!(hits("process.name:power shell*", &docs), vec![3]);
    assert_eq!(hits(r"file.path:C\:\\temp\\a\*b.txt", &docs), vec![4]);
    assert_eq!(hits(r"file.path:C\:\\temp\\a*b.txt", &docs), vec![4]);
    assert_eq!(hits(r#"file.path:"C:\\temp\\a*b.txt""#, &docs), vec![4]);
    assert_eq!(
        hits(r#"file.path:"C:\\temp\\ax*b.txt""#, &docs),
        Vec::<usize>::new()
    );
    assert_eq!(hits("whoami", &docs), vec![0]);
    assert_eq!(
        hits("process.name:cmd.exe And host.name:h1", &docs),
        vec![0]
    );
    // Exact and case-sensitive; `not` matches documents lacking the field.
    assert_eq!(hits("process.name:cmd.exe", &docs), vec![0]);
    assert_eq!(hits("not process.name:cmd.exe", &docs), vec![1, 2, 3, 4]);
    assert_eq!(hits("process.name:(cmd.exe or CMD.EXE)", &docs), vec![0, 1]);
    assert_eq!(
        hits("process.name:*.exe and not process.name:cmd*", &docs),
        vec![2, 3, 4]
    );
}

#[test]
fn evaluator_azure_rule_keyword_semantics() {
    let q = r#"data_stream.dataset:azure.auditlogs and azure.auditlogs.operation_name:"Update application - Certificates and secrets management" and event.outcome:(success or Success)"#;
    let op = "Update application - Certificates and secrets management";
    let docs = vec![
        json!({"data_stream": {"dataset": "azure.auditlogs"}, "azure": {"auditlogs": {"operation_name": op}}, "event": {"outcome": "success"}}),
        json!({"data_stream.dataset": "azure.auditlogs", "azure.auditlogs.operation_name": op, "event.outcome": "Success"}),
        json!({"data_stream.dataset": "azure.auditlogs", "azure.auditlogs.operation_name": op, "event.outcome": "SUCCESS"}),
        json!({"data_stream.dataset": "azure.auditlogs", "azure.auditlogs.operation_name": op, "event.outcome": "failure"}),
        json!({"data_stream.dataset": "azure.auditlogs", "azure.auditlogs.operation_name": op.to_lowercase(), "event.outcome": "success"}),
        json!({"data_stream.dataset": "azure.signinlogs", "azure.auditlogs.operation_name": op, "event.outcome": "success"}),
        json!({"data_stream.dataset": "azure.auditlogs", "azure.auditlogs.operation_name": format!("{op} extra"), "event.outcome": ["failure", "success"]}),
    ];
    assert_eq!(hits(q, &docs), vec![0, 1]);
}

#[test]
fn evaluator_types_ranges_nested() {
    let docs = vec![
        json!({"n": 5, "s": "5", "b": true, "t": "2024-01-02", "arr": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}),
        json!({"n": 50, "s": "10", "b": "false", "t": "2023-12-31", "arr": [{"k": "a", "v": 2}]}),
        json!({"n": "5", "b": false}),
    ];
    assert_eq!(hits("n:5", &docs), vec![0, 2]);
    assert_eq!(hits("s:5", &docs), vec![0]);
    assert_eq!(hits("n < 10", &docs), vec![0, 2]);
    assert_eq!(hits("n >= 50", &docs), vec![1]);
    // A quoted bound against a string value compares strings: "10" < "5".
    assert_eq!(hits("s < \"5\"", &docs), vec![1]);
    assert_eq!(hits("t >= \"2024-01-01\"", &docs), vec![0]);
    assert_eq!(hits("b:true", &docs), vec![0]);
    assert_eq!(hits("b:false", &docs), vec![1, 2]);
    // Nested: the same element must satisfy both conditions.
    assert_eq!(hits("arr:{ k:a and v:2 }", &docs), vec![1]);
    assert_eq!(hits("arr.k:a and arr.v:2", &docs), vec![0, 1]);
    // Wildcard field names match every fitting path.
    assert_eq!(hits("arr.*:b", &docs), vec![0]);
}

#[test]
fn evaluator_agrees_with_the_reference_on_lowered_queries() {
    let docs = process_docs();
    let queries = [
        "process.name:CMD*",
        "not process.parent.name:*",
        "source.ip:(10.0.0.0/8 or 192.168.0.0/16)",
        "process.args:(cmd.exe and whoami)",
        "process.name:power shell*",
        r"file.path:C\:\\temp\\a\*b.txt",
        "whoami",
        "process.args:(* and not (whoami or CMD.EXE))",
        "process.name:(cmd.exe or powershell.exe) and not source.ip:10.0.0.0/8",
    ];
    for q in queries {
        let e = model(q);
        let reference: Vec<usize> = docs
            .iter()
            .enumerate()
            .filter(|(_, d)| ruleport_model::eval::expr_matches(&e, d).expect("eval"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits(q, &docs), reference, "{q}");
    }
}

// ---------- emitter ----------

#[test]
fn emits_canonical_kuery() {
    let e = Expr::and(vec![
        lit("event.category", "process"),
        Expr::or(vec![
            lit("process.name", "cmd.exe"),
            lit("process.name", "pwsh.exe"),
            glob("process.name", vec![l("power"), star()]),
        ]),
        Expr::not(Expr::or(vec![eq("a", Scalar::Int(1)), lit("b", "x")])),
        Expr::not(Expr::exists("process.parent.name")),
    ]);
    assert_eq!(
        emit(&e),
        r#"event.category:"process" and process.name:("cmd.exe" or "pwsh.exe" or power*) and not (a:1 or b:"x") and not process.parent.name:*"#
    );
    assert_eq!(
        emit(&Expr::or(vec![
            Expr::and(vec![lit("a", "1"), lit("b", "2")]),
            lit("c", "3")
        ])),
        r#"a:"1" and b:"2" or c:"3""#
    );
    assert_eq!(
        emit(&Expr::Not(Box::new(Expr::Not(Box::new(lit("a", "x")))))),
        r#"not (not a:"x")"#
    );
    assert_eq!(
        emit(&cmp("f", CmpOp::Ge, Scalar::Str("now-30d/d".into()))),
        r#"f >= "now-30d/d""#
    );
    assert_eq!(emit(&cmp("f", CmpOp::Lt, Scalar::Float(2.0))), "f < 2.0");
    assert_eq!(emit(&cidr("ip", "10.0.0.0/8")), r#"ip:"10.0.0.0/8""#);
    assert_eq!(emit(&eq("b", Scalar::Bool(false))), "b:false");
    assert_eq!(emit(&Expr::Const(true)), "");
    assert_eq!(
        emit(&Expr::Nested {
            path: "d".into(),
            inner: Box::new(Expr::and(vec![lit("k", "a"), eq("v", Scalar::Int(2))]))
        }),
        r#"d:{ k:"a" and v:2 }"#
    );
    assert_eq!(emit(&lit("odd field", "x")), r#""odd field":"x""#);
    assert_eq!(emit(&lit("a.*.type", "x")), r#"a.*.type:"x""#);
    assert_eq!(
        emit(&Expr::pred(
            Subject::Keyword,
            Op::Match {
                pattern: StrPattern::contains("mimi katz"),
                case: Case::Sensitive
            }
        )),
        "*mimi katz*"
    );
}

#[test]
fn emitted_wildcards_escape_specials_and_keywords() {
    assert_eq!(
        emit(&glob("f", vec![l(r"C:\temp\a*b"), star()])),
        r"f:C\:\\temp\\a\*b*"
    );
    assert_eq!(
        emit(&glob("f", vec![star(), l("a or b"), star()])),
        r"f:*a \or b*"
    );
    assert_eq!(
        emit(&glob("f", vec![star(), l("x AND y"), star()])),
        r"f:*x \AND y*"
    );
    assert_eq!(emit(&glob("f", vec![l("not x"), star()])), r"f:\u006eot x*");
    assert_eq!(emit(&glob("f", vec![l("NOT x"), star()])), r"f:\NOT x*");
    assert_eq!(
        emit(&glob("f", vec![star(), l("cannot")])),
        r"f:*can\u006eot"
    );
    assert_eq!(emit(&glob("f", vec![star(), l("a\tb\nc")])), r"f:*a\tb\nc");
    assert_eq!(
        emit(&glob("f", vec![star(), l("(x) {y} <z> \"q\"")])),
        r#"f:*\(x\) \{y\} \<z\> \"q\""#
    );
}

#[test]
fn approximations_and_unsupported() {
    let ci = Expr::matches("f", StrPattern::literal("Success"), Case::Insensitive);
    let (t, a) = emit_expr(&ci, &kw()).expect("emit");
    assert_eq!(t, r#"f:"Success""#);
    assert_eq!(
        a.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        ["case-insensitive-as-sensitive"]
    );

    let one = glob("f", vec![l("cmd.ex"), Piece::OneChar]);
    let (t, a) = emit_expr(&one, &kw()).expect("emit");
    assert_eq!(t, "f:cmd.ex*");
    assert_eq!(a[0].code, "one-char-wildcard-widened");

    let edge = glob("f", vec![l(" x"), star()]);
    let (t, a) = emit_expr(&edge, &kw()).expect("emit");
    assert_eq!(t, "f:*x*");
    assert_eq!(a[0].code, "wildcard-edge-whitespace-widened");

    let (t, a) = emit_expr(&lit("ip", "10.0.0.0/8"), &kw()).expect("emit");
    assert_eq!(t, r#"ip:"10.0.0.0/8""#);
    assert_eq!(a[0].code, "literal-read-as-network");

    let (_, a) = emit_expr(&lit("msg", "x"), &|_| FieldKind::Text).expect("emit");
    assert_eq!(a[0].code, "text-field-analyzed");

    let re = Expr::pred(
        Subject::field("f"),
        Op::Regex(ruleport_model::RegexSpec {
            pattern: "a.*".into(),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: ruleport_model::RegexAnchor::Full,
        }),
    );
    assert_eq!(
        emit_expr(&re, &kw()).expect_err("regex").code,
        "kuery-regex"
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
        emit_expr(&fr, &kw()).expect_err("fieldref").code,
        "kuery-fieldref"
    );
    let comp = Expr::pred(
        Subject::Computed(ruleport_model::Operand::Call {
            name: "length".into(),
            case_insensitive: false,
            args: vec![ruleport_model::Operand::field("a")],
        }),
        Op::Cmp {
            op: CmpOp::Gt,
            value: Scalar::Int(3),
        },
    );
    assert_eq!(
        emit_expr(&comp, &kw()).expect_err("computed").code,
        "kuery-computed"
    );
    let mut deep = lit("a", "b");
    for _ in 0..500 {
        deep = Expr::Not(Box::new(Expr::Or(vec![deep, lit("c", "d")])));
    }
    assert_eq!(
        emit_expr(&deep, &kw()).expect_err("deep").code,
        "kuery-too-deep"
    );
}

#[test]
fn emit_then_parse_round_trips() {
    let queries = [
        "a:1 or b:2 and not c:3",
        "f:(a or b and not c)",
        "f:(* and not (a or b))",
        "process.name:power shell*",
        r"file.path:C\:\\temp\\a\*b.txt",
        r#"f:"C:\Program Files\x" and g:"a*""#,
        "a:x and deltas:{ action:ADD and role:(r1 or r2) }",
        "@timestamp >= now-30d/d and n < 5 and m > 1.5",
        "source.ip:(10.0.0.0/8 or \"FE80::/10\")",
        "whoami and \"quoted free text\" and *wild*",
        r"f:(\and or \or or \NOT x or a \or b*)",
        "not not_a_keyword:x and f:true and g:007 and h:null",
        "a.*.type:x",
        "",
    ];
    for q in queries {
        let m = model(q);
        let t = emit(&m);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{t}: {d}")),
            m,
            "{q} → {t}"
        );
        // Emitting is idempotent.
        assert_eq!(emit(&model(&t)), t);
    }
}

const HOSTILE: &[&str] = &[
    "a\"b",
    "a\\b",
    "\\",
    "\"",
    "*",
    "a*b",
    "?",
    "or",
    " or ",
    "and",
    "AND",
    "not",
    "not x",
    "x not y",
    "cannot ",
    "cannot",
    "(a)",
    "a:b",
    "{}",
    "<>",
    "<=",
    "a\nb",
    "\t",
    "\n",
    "é😀",
    "\\u0041",
    "a or b",
    "x AND y",
    "NOT x",
    "a\u{a0}or\u{a0}b",
    "\u{1}\u{7f}",
    "\"; drop",
    "\\*",
    ") or true or (",
    "\" or a:* or \"",
    "a \\or b",
    "\\not",
    "x or",
    "and y",
    "  ",
    "trailing ",
    " leading",
    "true",
    "null",
    "4688",
    "10.0.0.0/8x",
    "a/b",
];

#[test]
fn hostile_literals_cannot_inject() {
    for v in HOSTILE {
        let e = lit("f", v);
        let t = emit(&e);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{v:?} → {t}: {d}")),
            e,
            "{v:?} → {t}"
        );
        let doc = json!({"f": v});
        let other = json!({"f": format!("{v}x"), "g": v});
        assert_eq!(hits(&t, &[doc, other]), vec![0], "{v:?} → {t}");
    }
}

#[test]
fn hostile_wildcard_pieces_cannot_inject() {
    for v in HOSTILE {
        let e = glob("f", vec![star(), l(v), star()]);
        let t = emit(&e);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{v:?} → {t}: {d}")),
            e,
            "{v:?} → {t}"
        );
        if v.trim().is_empty() {
            continue;
        }
        let trimmed = v.trim_matches(crate::parser::is_js_whitespace);
        let e = glob("f", vec![l(trimmed), star(), l(trimmed)]);
        let t = emit(&e);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{v:?} → {t}: {d}")),
            e,
            "{v:?} → {t}"
        );
        // Inside a value list, next to keywords.
        let e = Expr::or(vec![
            glob("f", vec![l(trimmed), star()]),
            lit("f", v),
            glob("f", vec![star(), l(trimmed)]),
        ]);
        let t = emit(&e);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{v:?} → {t}: {d}")),
            e,
            "{v:?} → {t}"
        );
    }
}

#[test]
fn hostile_field_names_cannot_inject() {
    for v in HOSTILE {
        if v.contains('*') || v.trim().is_empty() {
            continue;
        }
        let e = lit(v, "x");
        let t = emit(&e);
        assert_eq!(
            parse_to_expr(&t).unwrap_or_else(|d| panic!("{v:?} → {t}: {d}")),
            e,
            "{v:?} → {t}"
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn hostile_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(" ".to_string()),
                Just("or".to_string()),
                Just("and".to_string()),
                Just("not".to_string()),
                Just("OR".to_string()),
                Just("Not".to_string()),
                Just("\\".to_string()),
                Just("\"".to_string()),
                Just("*".to_string()),
                Just("(".to_string()),
                Just(")".to_string()),
                Just(":".to_string()),
                Just("{".to_string()),
                Just("}".to_string()),
                Just("<".to_string()),
                Just(">".to_string()),
                Just("\n".to_string()),
                Just("\t".to_string()),
                Just("\u{a0}".to_string()),
                Just("n".to_string()),
                Just("u0041".to_string()),
                Just("é".to_string()),
                Just("x".to_string()),
                Just("1".to_string()),
            ],
            0..12,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn literals_round_trip(v in hostile_string()) {
            let e = lit("f", &v);
            let t = emit(&e);
            prop_assert_eq!(parse_to_expr(&t).map_err(|d| format!("{t}: {d}")), Ok(e));
        }

        #[test]
        fn wildcard_patterns_round_trip(a in hostile_string(), b in hostile_string()) {
            let a = a.trim_matches(crate::parser::is_js_whitespace).to_string();
            prop_assume!(!a.is_empty() || !b.is_empty());
            let e = glob("f", vec![l(&a), star(), l(&b), star()]);
            let t = emit(&e);
            prop_assert_eq!(parse_to_expr(&t).map_err(|d| format!("{t}: {d}")), Ok(e.clone()));
            let bt = b.trim_matches(crate::parser::is_js_whitespace).to_string();
            prop_assume!(!bt.is_empty());
            let list = Expr::or(vec![e, glob("f", vec![star(), l(&bt)]), lit("f", &a)]);
            let t = emit(&list);
            prop_assert_eq!(parse_to_expr(&t).map_err(|d| format!("{t}: {d}")), Ok(list));
        }

        #[test]
        fn parser_never_panics(s in "[ -~\\n\\t\u{a0}é]{0,40}") {
            let _ = parse(&s);
        }
    }
}

// ---------- QueryLanguage ----------

fn rule(det: Detection) -> Rule {
    Rule {
        meta: RuleMeta {
            id: "r1".into(),
            title: "t".into(),
            ..RuleMeta::default()
        },
        logsource: Default::default(),
        detection: det,
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language: "eql".into(),
        original_query: None,
        provenance: Provenance::default(),
    }
}

#[test]
fn query_language_emits_category_selection_and_carries_approximations() {
    let mut mr = MappedRule::identity(rule(Detection::Query(EventFilter {
        category: Some("process".into()),
        expr: lit("process.name", "cmd.exe"),
    })));
    mr.selection.condition = Some(lit("event.module", "sysmon"));
    mr.approximations
        .push(ruleport_model::Approximation::new("unmapped-field", "x"));
    let port = Kuery.emit(&mr).expect("emit");
    assert_eq!(port.target, TargetId::Kuery);
    assert_eq!(
        port.text,
        r#"event.module:"sysmon" and event.category:"process" and process.name:"cmd.exe""#
    );
    assert_eq!(port.fidelity.reasons()[0].code, "unmapped-field");

    let compiled = Kuery.compile(&port.text).expect("compile");
    let docs = vec![
        json!({"event": {"module": "sysmon", "category": ["process", "start"]}, "process": {"name": "cmd.exe"}}),
        json!({"event": {"module": "sysmon", "category": "file"}, "process": {"name": "cmd.exe"}}),
    ];
    assert_eq!(compiled.run(&docs).expect("run"), vec![vec![0]]);
    assert_eq!(Kuery.schema(), Schema::Ecs);
}

#[test]
fn query_language_refuses_multi_event_detections() {
    let seq = Detection::Sequence(ruleport_model::Sequence {
        by: vec![],
        maxspan: None,
        steps: vec![],
        until: None,
    });
    assert_eq!(
        Kuery
            .emit(&MappedRule::identity(rule(seq)))
            .expect_err("seq")
            .code,
        "kuery-sequence"
    );
    let agg = Detection::Aggregation(ruleport_model::Aggregation {
        sources: vec![],
        group_by: vec![],
        window: None,
        window_kind: ruleport_model::WindowKind::RuleLookback,
        conditions: vec![],
    });
    assert_eq!(
        Kuery
            .emit(&MappedRule::identity(rule(agg)))
            .expect_err("agg")
            .code,
        "kuery-aggregation"
    );
    let un = Detection::Unsupported(ruleport_model::UnsupportedDetection {
        kind: "esql".into(),
        reason: "ES|QL is not modelled".into(),
        original: Some("from x".into()),
        language: Some("esql".into()),
    });
    let e = Kuery
        .emit(&MappedRule::identity(rule(un)))
        .expect_err("esql");
    assert_eq!(e.code, "kuery-unsupported-detection");
    assert!(e.reason.contains("esql"));
    assert!(Kuery.compile("a:(b").is_err());
}

mod differential {
    //! The kuery evaluator (on the syntax tree) agrees with the reference evaluator (on the
    //! lowered model) for random queries over random documents.
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("x".to_string()),
            Just("X".to_string()),
            Just("\"x\"".to_string()),
            Just("x*".to_string()),
            Just("*y".to_string()),
            Just("\"x*\"".to_string()),
            Just("1".to_string()),
            Just("\"1\"".to_string()),
            Just("1.5".to_string()),
            Just("true".to_string()),
            Just("*".to_string()),
            Just("10.0.0.0/8".to_string()),
            Just("x y".to_string()),
            Just("\"x y\"".to_string()),
            Just("x\\*".to_string()),
        ]
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b.c".to_string()),
            Just("d".to_string())
        ]
    }

    fn query() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (field(), value()).prop_map(|(f, v)| format!("{f}:{v}")),
            (field(), value(), value()).prop_map(|(f, v, w)| format!("{f}:({v} or not {w})")),
            (field(), value(), value()).prop_map(|(f, v, w)| format!("{f}:({v} and {w})")),
            (
                field(),
                prop_oneof![Just("<"), Just(">="), Just(">")],
                prop_oneof![Just("1"), Just("\"x\""), Just("2.5")]
            )
                .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
            value().prop_map(|v| v.to_string()),
            (value()).prop_map(|v| format!("arr:{{ k:{v} and not n:1 }}")),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("x")),
            Just(json!("X")),
            Just(json!("x*")),
            Just(json!("xy")),
            Just(json!("zy")),
            Just(json!("x y")),
            Just(json!(1)),
            Just(json!("1")),
            Just(json!(1.5)),
            Just(json!(true)),
            Just(json!("true")),
            Just(json!("10.1.2.3")),
            Just(json!("")),
            Just(json!(null)),
            Just(json!(2)),
        ]
    }

    fn doc() -> impl Strategy<Value = Value> {
        let v = prop_oneof![
            scalar(),
            proptest::collection::vec(scalar(), 0..3).prop_map(Value::Array)
        ];
        (
            proptest::option::of(v.clone()),
            proptest::option::of(v.clone()),
            proptest::option::of(v),
            proptest::collection::vec((scalar(), scalar()), 0..3),
        )
            .prop_map(|(a, bc, d, arr)| {
                let mut m = serde_json::Map::new();
                if let Some(a) = a {
                    m.insert("a".into(), a);
                }
                if let Some(bc) = bc {
                    m.insert("b".into(), json!({"c": bc}));
                }
                if let Some(d) = d {
                    m.insert("d".into(), d);
                }
                m.insert(
                    "arr".into(),
                    Value::Array(
                        arr.into_iter()
                            .map(|(k, n)| json!({"k": k, "n": n}))
                            .collect(),
                    ),
                );
                Value::Object(m)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn evaluator_matches_reference(q in query(), docs in proptest::collection::vec(doc(), 1..6)) {
            let e = parse_to_expr(&q).map_err(|d| format!("{q}: {d}"));
            prop_assert!(e.is_ok(), "{:?}", e);
            let e = e.unwrap_or(Expr::Const(false));
            let reference: Vec<usize> = docs.iter().enumerate()
                .filter(|(_, d)| ruleport_model::eval::expr_matches(&e, d).unwrap_or(false))
                .map(|(i, _)| i).collect();
            prop_assert_eq!(hits(&q, &docs), reference.clone(), "{}", q);
            // And the emitted text evaluates the same.
            let t = emit(&e);
            prop_assert_eq!(hits(&t, &docs), reference, "{} → {}", q, t);
        }
    }
}

#[test]
fn error_columns_count_chars_not_bytes() {
    let d = parse("é\u{a0}or\u{a0}ü:(a").expect_err("unclosed");
    assert_eq!(d.pos, Some(ruleport_model::Pos::new(1, 10)), "{d}");
    let d = parse("a:b\nü:é)").expect_err("stray paren");
    assert_eq!(d.pos, Some(ruleport_model::Pos::new(2, 2)), "{d}");
}

// ---------- analysed text and .caseless fields ----------

fn tq(f: &str, t: &str, a: ruleport_model::Analyzer, mode: ruleport_model::TextMode) -> Expr {
    Expr::pred(
        Subject::field(f),
        Op::Text(ruleport_model::TextQuery::new(t, a, mode)),
    )
}

const SBT: &str = "powershell.file.script_block_text";

#[test]
fn text_field_values_lower_to_analysed_text() {
    use ruleport_model::{Analyzer::*, TextMode::*};
    assert_eq!(
        model(r#"powershell.file.script_block_text : "Get-ADDomain""#),
        tq(SBT, "Get-ADDomain", PowershellScript, Phrase)
    );
    // Unquoted, one token: `match` with one term is the phrase.
    assert_eq!(
        model("powershell.file.script_block_text : GetAsyncKeyState"),
        tq(SBT, "GetAsyncKeyState", PowershellScript, Phrase)
    );
    // Unquoted with several words: `match`, any of them.
    assert_eq!(
        model("message : connection refused"),
        tq("message", "connection refused", Standard, AnyWord)
    );
    assert_eq!(
        model(r#"message : "connection refused""#),
        tq("message", "connection refused", Standard, Phrase)
    );
    // Numbers, booleans and networks are words on a text field.
    assert_eq!(
        model("error.message : 404"),
        tq("error.message", "404", Standard, Phrase)
    );
    assert_eq!(
        model(r#"process.command_line.text : "10.0.0.0/8""#),
        tq("process.command_line.text", "10.0.0.0/8", Standard, Phrase)
    );
    assert_eq!(
        model("message : *"),
        Expr::pred(Subject::field("message"), Op::Exists)
    );
    // Keyword fields keep keyword semantics.
    assert_eq!(
        model(r#"process.io.text : "a b""#),
        lit("process.io.text", "a b")
    );
}

#[test]
fn text_field_wildcard_is_refused() {
    let err = parse_to_expr("message : *forbidden*").expect_err("wildcard on text");
    assert_eq!(err.code, crate::E_TEXT_WILDCARD);
}

#[test]
fn caseless_lowers_to_insensitive_match_on_the_base_field() {
    assert_eq!(
        model(r#"process.name.caseless : "CMD.exe""#),
        Expr::matches(
            "process.name",
            StrPattern::literal("CMD.exe"),
            Case::Insensitive
        )
    );
    assert_eq!(
        model("process.name.caseless : *cmd*"),
        Expr::matches(
            "process.name",
            StrPattern::new(vec![star(), l("cmd"), star()]),
            Case::Insensitive
        )
    );
    assert_eq!(
        model("process.name.caseless : *"),
        Expr::pred(Subject::field("process.name"), Op::Exists)
    );
}

#[test]
fn kuery_evaluator_uses_analysed_semantics() {
    let docs = [
        json!({"powershell": {"file": {"script_block_text": "$d = GET-ADDOMAIN -Server x"}}}),
        json!({"powershell": {"file": {"script_block_text": "Get-ADDomainController"}}}),
        json!({"message": "No such file or directory"}),
        json!({"message": "directory: no such file"}),
        json!({"process": {"name": "CMD.EXE"}}),
    ];
    assert_eq!(
        hits(
            r#"powershell.file.script_block_text : "Get-ADDomain""#,
            &docs
        ),
        vec![0]
    );
    assert_eq!(hits(r#"message : "no such file""#, &docs), vec![2, 3]);
    assert_eq!(
        hits(r#"message : "file no such""#, &docs),
        Vec::<usize>::new()
    );
    assert_eq!(hits("message : file missing", &docs), vec![2, 3]);
    assert_eq!(hits(r#"process.name.caseless : "cmd.exe""#, &docs), vec![4]);
    assert_eq!(
        hits(r#"process.name : "cmd.exe""#, &docs),
        Vec::<usize>::new()
    );
}

#[test]
fn text_queries_emit_as_kuery_values() {
    use ruleport_model::{Analyzer::*, TextMode::*};
    assert_eq!(
        emit(&tq(SBT, "Get-ADDomain", PowershellScript, Phrase)),
        r#"powershell.file.script_block_text:"Get-ADDomain""#
    );
    assert_eq!(
        emit(&tq("message", "connection refused", Standard, AnyWord)),
        "message:connection refused"
    );
    // The same words on the same field round-trip through the parser.
    for q in [
        tq(SBT, "[Ref].Assembly", PowershellScript, Phrase),
        tq("message", "a or b and c", Standard, AnyWord),
    ] {
        assert_eq!(model(&emit(&q)), q);
    }
    // A different analyzer (or a keyword field) has no kuery form.
    let err = emit_expr(&tq(SBT, "x", Standard, Phrase), &kw()).expect_err("analyzer");
    assert_eq!(err.code, "kuery-text-query");
    let err = emit_expr(&tq("process.name", "x", Standard, Phrase), &kw()).expect_err("kw");
    assert_eq!(err.code, "kuery-text-query");
}

#[test]
fn caseless_emission_only_where_every_index_has_it() {
    let ci = Expr::or(vec![
        Expr::matches(
            "process.name",
            StrPattern::literal("CMD.exe"),
            Case::Insensitive,
        ),
        Expr::matches(
            "process.name",
            StrPattern::literal("pwsh.EXE"),
            Case::Insensitive,
        ),
    ]);
    let (t, a) = crate::emit_expr_with(&ci, &kw(), true).expect("emit");
    assert_eq!(t, r#"process.name.caseless:("CMD.exe" or "pwsh.EXE")"#);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(model(&t), ci);
    let (t, a) = crate::emit_expr_with(&ci, &kw(), false).expect("emit");
    assert_eq!(t, r#"process.name:("CMD.exe" or "pwsh.EXE")"#);
    assert!(a.iter().any(|a| a.code == "case-insensitive-as-sensitive"));
}
