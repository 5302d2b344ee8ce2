//! Property tests: emit → parse → evaluate agrees with the IR reference evaluator on generated
//! rows, for arbitrary Unicode literals (quotes, backslashes, `*`, newlines, control characters,
//! bidi marks) and arbitrary column names.

mod common;

use common::query;
use proptest::prelude::*;
use ruleport_model::eval::expr_matches;
use ruleport_model::{
    Case, Expr, FieldKind, Piece, QueryLanguage, RegexAnchor, RegexSpec, StrPattern,
};
use ruleport_sentinel::{compile, Sentinel};
use serde_json::{json, Value};

const SPECIAL: &[char] = &[
    '"', '\'', '\\', '*', '?', '\n', '\r', '\t', '\0', '\u{1}', '\u{7f}', '\u{85}', '\u{202E}',
    '\u{200B}', '\u{2028}', '\u{FEFF}', '\u{A0}', '@', '[', ']', '(', ')', '|', '.', '$', '^', '{',
    '}', '-', '/', ' ', '😀', '漢', 'é', 'É',
];

/// Any character, with the troublesome ones over-weighted.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(SPECIAL),
        2 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('A', 'Z'),
        2 => any::<char>(),
    ]
}

/// Characters whose case folding is the same under full lower-casing and RE2's simple folding
/// (no `ſ`, Kelvin sign, final sigma, dotted İ…): used where `(?i)` regexes are compared.
fn fold_safe_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(SPECIAL),
        2 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('A', 'Z'),
        1 => proptest::char::range(' ', '~'),
    ]
}

fn text(ch: BoxedStrategy<char>, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(ch, 0..max).prop_map(|v| v.into_iter().collect())
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Exact,
    Prefix,
    Suffix,
    Contains,
    Inner,
}

fn build(shape: Shape, a: &str, b: &str) -> StrPattern {
    match shape {
        Shape::Exact => StrPattern::literal(a),
        Shape::Prefix => StrPattern::prefix(a),
        Shape::Suffix => StrPattern::suffix(a),
        Shape::Contains => StrPattern::contains(a),
        Shape::Inner => StrPattern::new([
            Piece::Lit(a.into()),
            Piece::AnyChars,
            Piece::Lit(b.into()),
            Piece::OneChar,
            Piece::AnyChars,
        ]),
    }
}

fn flip_ascii_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Rows built from the literals: exact, with wildcard fillers, case-flipped, truncated, noise.
fn rows_for(a: &str, b: &str, noise: &[String]) -> Vec<String> {
    let mut v = vec![
        a.to_string(),
        format!("{a}{b}"),
        format!("{a}x{b}yz"),
        format!("{}{a}{b}!", noise[0]),
        format!("{}{a}", noise[1]),
        flip_ascii_case(a),
        flip_ascii_case(&format!("{a}{}{b}Q", noise[0])),
        a.chars().skip(1).collect(),
        a.chars()
            .take(a.chars().count().saturating_sub(1))
            .collect(),
        String::new(),
    ];
    v.extend(noise.iter().cloned());
    v
}

fn check(expr: Expr, values: &[String]) -> Result<(), TestCaseError> {
    let m = query(expr.clone(), &["T"], &[("C", FieldKind::Keyword)]);
    let port = match Sentinel.emit(&m) {
        Ok(p) => p,
        Err(u) => return Err(TestCaseError::fail(format!("unsupported: {u}"))),
    };
    let q = compile(&port.text).map_err(|d| TestCaseError::fail(format!("{d}\n{}", port.text)))?;
    prop_assert_eq!(
        port.text.lines().count(),
        2,
        "a literal broke the line: {}",
        port.text
    );
    // Kusto reads a missing string column as "": on "" and on a missing column only a port
    // labelled `empty-equals-missing` may differ from the IR.
    let labelled = port
        .fidelity
        .reasons()
        .iter()
        .any(|r| r.code == "empty-equals-missing");
    let rows = values
        .iter()
        .map(|v| json!({"Type": "T", "C": v}))
        .chain([json!({"Type": "T"})]);
    for row in rows {
        let want = expr_matches(&expr, &row).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = q
            .row_matches(&row)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let empty = row.get("C").is_none_or(|c| c == "");
        if !(empty && labelled) {
            prop_assert_eq!(got, want, "row {}\nquery {}", row, port.text);
        }
    }
    // Other tables never match.
    let other = json!({"Type": "U", "C": values[0]});
    prop_assert!(!q
        .row_matches(&other)
        .map_err(|e| TestCaseError::fail(e.to_string()))?);
    Ok(())
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Exact),
        Just(Shape::Prefix),
        Just(Shape::Suffix),
        Just(Shape::Contains),
        Just(Shape::Inner)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn case_sensitive_literals_round_trip(
        a in text(any_char().boxed(), 12),
        b in text(any_char().boxed(), 6),
        noise in proptest::collection::vec(text(any_char().boxed(), 10), 2..4),
        shape in shape(),
        negate in any::<bool>(),
    ) {
        let p = build(shape, &a, &b);
        let e = Expr::matches("C", p, Case::Sensitive);
        let e = if negate { Expr::not(e) } else { e };
        check(e, &rows_for(&a, &b, &noise))?;
    }

    #[test]
    fn case_insensitive_literals_round_trip(
        a in text(fold_safe_char().boxed(), 12),
        b in text(fold_safe_char().boxed(), 6),
        noise in proptest::collection::vec(text(fold_safe_char().boxed(), 10), 2..4),
        shape in shape(),
        negate in any::<bool>(),
    ) {
        let p = build(shape, &a, &b);
        let e = Expr::matches("C", p, Case::Insensitive);
        let e = if negate { Expr::not(e) } else { e };
        check(e, &rows_for(&a, &b, &noise))?;
    }

    #[test]
    fn in_lists_round_trip(
        items in proptest::collection::vec(text(any_char().boxed(), 8), 1..6),
        noise in proptest::collection::vec(text(any_char().boxed(), 8), 2..4),
        insensitive in any::<bool>(),
    ) {
        let case = if insensitive { Case::Insensitive } else { Case::Sensitive };
        let items: Vec<String> = if insensitive {
            items.into_iter().map(|s| s.chars().filter(|c| c.is_ascii() || SPECIAL.contains(c)).collect()).collect()
        } else {
            items
        };
        let e = Expr::or(items.iter().map(|s| Expr::matches("C", StrPattern::literal(s.clone()), case)).collect());
        let mut values: Vec<String> = items.iter().flat_map(|s| [s.clone(), flip_ascii_case(s)]).collect();
        values.extend(noise);
        check(e, &values)?;
    }

    #[test]
    fn escaped_regex_literals_round_trip(
        a in text(any_char().boxed(), 12),
        noise in proptest::collection::vec(text(any_char().boxed(), 10), 2..4),
        full in any::<bool>(),
    ) {
        let e = Expr::pred(ruleport_model::Subject::field("C"), ruleport_model::Op::Regex(RegexSpec {
            pattern: regex::escape(&a),
            case: Case::Sensitive,
            multiline: false,
            dotall: false,
            anchor: if full { RegexAnchor::Full } else { RegexAnchor::Search },
        }));
        check(e, &rows_for(&a, "", &noise))?;
    }

    #[test]
    fn column_names_round_trip(name in text(any_char().boxed(), 10).prop_filter("non-empty", |s| !s.is_empty()), v in text(any_char().boxed(), 6)) {
        let e = Expr::matches(name.clone(), StrPattern::literal(format!("{v}x")), Case::Sensitive);
        let m = query(e, &["T"], &[]);
        let port = Sentinel.emit(&m).map_err(|u| TestCaseError::fail(u.to_string()))?;
        let q = compile(&port.text).map_err(|d| TestCaseError::fail(format!("{d}\n{}", port.text)))?;
        let mut row = serde_json::Map::new();
        row.insert("Type".into(), json!("T"));
        row.insert(name.clone(), json!(format!("{v}x")));
        // Names with `.` or `[` are paths only when their head is a dynamic column: not here.
        prop_assert!(q.row_matches(&Value::Object(row.clone())).map_err(|e| TestCaseError::fail(e.to_string()))?, "{}", port.text);
        row.insert(name, json!(v));
        prop_assert!(!q.row_matches(&Value::Object(row)).map_err(|e| TestCaseError::fail(e.to_string()))?);
    }
}

const FRAGMENTS: &[&str] = &[
    "T",
    "| where ",
    "|",
    " and ",
    " or ",
    "not(",
    "(",
    ")",
    "[",
    "]",
    "['a.b']",
    "[@'x']",
    "[@",
    "@\"",
    "\"",
    "'",
    "\\",
    "\\u12",
    "\\ud800",
    "x",
    " == ",
    " =~ ",
    " !in~ ",
    " in (",
    ",",
    " has ",
    " !has_cs ",
    " matches regex ",
    "\"(?i)a\"",
    "\"[\"",
    " * ",
    "*",
    "1",
    "1.5",
    "5m",
    "-",
    "datetime(",
    "2024-01-01",
    "union ",
    "summarize ",
    " by ",
    "count()",
    "bin(TimeGenerated, 1h)",
    "tostring(",
    "a.b",
    "[0]",
    "é",
    "\n",
    "//c\n",
    "isempty(",
    "ipv4_is_in_range(",
    "ago(1h)",
    "minif(",
    "=",
    ".",
    "!",
    "~",
    "$",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// The parser and evaluator never panic: every input is a query or a diagnostic.
    #[test]
    fn parser_and_evaluator_never_panic(
        parts in proptest::collection::vec(prop_oneof![
            4 => proptest::sample::select(FRAGMENTS).prop_map(String::from),
            1 => any::<String>(),
        ], 0..24)
    ) {
        let text: String = parts.concat();
        match compile(&text) {
            Ok(q) => {
                let rows = vec![
                    json!({"Type": "T", "a": "x", "x": 1, "TimeGenerated": "2024-01-01T00:00:00Z"}),
                    json!({"Type": "T", "a": {"b": [1, "x"]}}),
                ];
                let _ = q.run_rows(&rows);
            }
            Err(d) => {
                let pos = d.pos.expect("errors carry a position");
                prop_assert!(pos.line >= 1 && pos.column >= 1);
            }
        }
    }
}
