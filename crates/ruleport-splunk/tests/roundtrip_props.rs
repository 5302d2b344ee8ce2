//! Property tests: for arbitrary Unicode values (quotes, backslashes, `*`, `?`, `=`, parentheses,
//! newlines, control and bidi characters) and random boolean structure, emit → parse →
//! evaluate agrees with the rule model on generated events.

mod common;
use common::*;
use proptest::prelude::*;
use ruleport_model::{
    Case, CmpOp, Expr, FieldRefKind, Op, Piece, RegexAnchor, RegexSpec, Scalar, StrPattern, Subject,
};
use serde_json::{Map, Value};

const FIELDS: [&str; 6] = ["a", "b.c", "d{}.e", "x y", "q\"uote", "s'q\\"];

fn special_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '"', '\\', '*', '?', '=', '(', ')', '\n', '\r', '\t', '|', '\'', '%', '_', ' ', '$', '^',
            '.', '/', '[', ']', '{', '}', ',', '!', '<', '>', '\u{0}', '\u{202e}', '\u{200f}', 'é',
            'É', 'ß', 'İ', 'K', 'σ', 'Σ', '😀',
        ]),
        2 => prop::char::range('a', 'e'),
        1 => prop::char::range('A', 'E'),
        1 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(special_char(), 0..8).prop_map(|v| v.into_iter().collect())
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => text().prop_map(Piece::Lit),
        2 => Just(Piece::AnyChars),
        1 => Just(Piece::OneChar),
    ]
}

fn pattern() -> impl Strategy<Value = StrPattern> {
    prop::collection::vec(piece(), 0..5).prop_map(StrPattern::new)
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![Just(Case::Sensitive), Just(Case::Insensitive)]
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(FIELDS.to_vec()).prop_map(String::from)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        6 => (field(), pattern(), case()).prop_map(|(f, p, c)| Expr::matches(f, p, c)),
        1 => field().prop_map(Expr::exists),
        1 => (field(), -3i64..50).prop_map(|(f, n)| Expr::pred(Subject::field(f), Op::Eq(Scalar::Int(n)))),
        1 => (field(), prop::sample::select(vec![CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge]), -3i64..50)
            .prop_map(|(f, op, n)| Expr::pred(Subject::field(f), Op::Cmp { op, value: Scalar::Int(n) })),
        1 => (field(), prop::sample::select(vec!["10.0.0.0/8", "10.1.0.0/16", "fe80::/10"]))
            .prop_map(|(f, n)| Expr::pred(Subject::field(f), Op::Cidr(n.parse().expect("net")))),
        1 => (field(), field(), case()).prop_map(|(f, g, case)| Expr::pred(
            Subject::field(f),
            Op::FieldRef { other: g, kind: FieldRefKind::Equals, case },
        )),
        2 => (field(), text(), case(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(f, t, c, start, end, full)| {
                let mut p = regex::escape(&t);
                if start {
                    p.insert(0, '^');
                }
                if end {
                    p.push('$');
                }
                Expr::pred(
                    Subject::field(f),
                    Op::Regex(RegexSpec {
                        pattern: p,
                        case: c,
                        multiline: false,
                        dotall: false,
                        anchor: if full { RegexAnchor::Full } else { RegexAnchor::Search },
                    }),
                )
            }
        ),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// A concrete string the pattern matches (maybe with its case changed).
fn instantiate(p: &StrPattern, filler: &str, flip: bool) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(s) => out.push_str(s),
            Piece::AnyChars => out.push_str(filler),
            Piece::OneChar => out.push(filler.chars().next().unwrap_or('x')),
            Piece::Placeholder(n) => out.push_str(n),
        }
    }
    if flip {
        out.chars()
            .map(|c| {
                if c.is_lowercase() {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c.to_lowercase().next().unwrap_or(c)
                }
            })
            .collect()
    } else {
        out
    }
}

fn patterns_of(e: &Expr, out: &mut Vec<StrPattern>) {
    e.for_each_pred(&mut |p| match &p.op {
        Op::Match { pattern, .. } => out.push(pattern.clone()),
        Op::Regex(r) => out.push(StrPattern::literal(r.pattern.replace('\\', ""))),
        _ => {}
    });
}

/// Events whose values come from the patterns (so that matches happen) and from noise.
fn events_for(e: &Expr, noise: &[String], choices: &[(u8, u8, u8)]) -> Vec<Value> {
    let mut pats = Vec::new();
    patterns_of(e, &mut pats);
    let mut pool: Vec<String> = Vec::new();
    for (i, p) in pats.iter().enumerate() {
        let filler = noise
            .get(i % noise.len().max(1))
            .cloned()
            .unwrap_or_default();
        pool.push(instantiate(p, &filler, false));
        pool.push(instantiate(p, "", true));
        pool.push(format!("{}\n", instantiate(p, "", false)));
    }
    pool.extend(noise.iter().cloned());
    for v in [
        "4",
        "42",
        " 7",
        "-2",
        "10.1.2.3",
        "10.200.0.1",
        "11.0.0.1",
        "fe80::1",
        "4.0",
    ] {
        pool.push(v.to_string());
    }
    if pool.is_empty() {
        pool.push(String::new());
    }
    let mut events = Vec::new();
    for chunk in choices.chunks(FIELDS.len()) {
        let mut m = Map::new();
        for (f, (kind, x, y)) in FIELDS.iter().zip(chunk) {
            let pick = |k: u8| Value::String(pool[k as usize % pool.len()].clone());
            match kind % 4 {
                0 => {}
                1 | 2 => {
                    m.insert(f.to_string(), pick(*x));
                }
                _ => {
                    m.insert(f.to_string(), Value::Array(vec![pick(*x), pick(*y)]));
                }
            }
        }
        events.push(Value::Object(m));
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn emitted_queries_agree_with_the_rule_model(
        e in expr(),
        noise in prop::collection::vec(text(), 1..4),
        choices in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 36),
    ) {
        let m = query(e.clone());
        let port = emit(&m);
        prop_assert!(port.fidelity.is_exact(), "unexpected approximation {:?}", port.fidelity);
        let events = events_for(&e, &noise, &choices);
        let got = run_spl(&port.text, &events);
        let want = reference(&m, &events);
        prop_assert_eq!(got, want, "SPL:\n{}", port.text);
    }

    #[test]
    fn keyword_values_round_trip(
        p in prop::collection::vec(prop_oneof![
            3 => text().prop_map(|t| Piece::Lit(t.replace('*', ""))),
            1 => Just(Piece::AnyChars),
        ], 1..4).prop_map(StrPattern::new),
        noise in prop::collection::vec(text(), 1..4),
        choices in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 24),
    ) {
        // A bare `*` matches every event in Splunk, even one without fields (labelled approximate).
        prop_assume!(p.shape() != ruleport_model::PatternShape::Any);
        let m = query(keyword(p.clone()));
        let port = emit(&m);
        let events = events_for(&m.rule.detection.filters()[0].expr, &noise, &choices);
        prop_assert_eq!(run_spl(&port.text, &events), reference(&m, &events), "SPL:\n{}", port.text);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,64}") {
        let _ = ruleport_splunk::parse(&s);
    }

    #[test]
    fn parser_never_panics_on_spl_shaped_text(
        parts in prop::collection::vec(prop::sample::select(vec![
            "a=", "\"x\"", "(", ")", " AND ", " OR ", "NOT ", "| where ", "'f'", "==", "like(", ",",
            "| regex ", "| stats count BY ", "IN (", "CASE(", "\\", "*", "| eval x=", "searchmatch(",
            "| streamstats time_window=5m ", "| bin _time span=", "5m", "| dedup ", "| sort 0 ",
        ]), 0..20),
    ) {
        let s: String = parts.concat();
        let _ = ruleport_splunk::parse(&s);
    }
}
