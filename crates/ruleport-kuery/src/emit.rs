//! Emitting canonical kuery from the rule model.
//!
//! Canonical form: lower-case `and`/`or`/`not`, minimal parentheses, consecutive ORs of values on
//! one field folded into `f:(a or b)`, literals always quoted (see [`quoted`]), wildcard
//! patterns unquoted with every special character, control character and keyword hazard escaped.

use crate::analysis::{text_analyzer, CASELESS_SIBLINGS};
use crate::lower::{cidr, float_text};
use crate::parser::{is_js_whitespace, is_special, MAX_DEPTH};
use ruleport_model::{
    Approximation, Case, CmpOp, Expr, FieldKind, Op, PatternShape, Piece, Predicate, Scalar,
    StrPattern, Subject, TargetId, TextMode, TextQuery, Unsupported,
};

/// Expression depth the emitter accepts (each level can add two parser levels: `not (`).
const MAX_EMIT_DEPTH: usize = MAX_DEPTH / 2 - 4;

type Res<T> = Result<T, Unsupported>;

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Kuery, code, reason)
}

/// Emit kuery text for an expression; `kind_of` gives the target field types.
pub fn emit_expr(
    expr: &Expr,
    kind_of: &dyn Fn(&str) -> FieldKind,
) -> Result<(String, Vec<Approximation>), Unsupported> {
    emit_expr_with(expr, kind_of, false)
}

/// [`emit_expr`]; `caseless`: every index the query runs on has the `.caseless` multi-fields
/// of [`CASELESS_SIBLINGS`], so case-insensitive matches on them are written there.
pub fn emit_expr_with(
    expr: &Expr,
    kind_of: &dyn Fn(&str) -> FieldKind,
    caseless: bool,
) -> Result<(String, Vec<Approximation>), Unsupported> {
    let mut e = Emitter {
        kind_of,
        approx: Vec::new(),
        prefix: String::new(),
        last_case_note: None,
        caseless,
    };
    let text = match expr {
        // The empty query is Kibana's match_all.
        Expr::Const(true) => String::new(),
        other => e.emit(other, 0)?.0,
    };
    let mut approx = e.approx;
    approx.sort();
    approx.dedup();
    Ok((text, approx))
}

/// Binding strength of an emitted fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    /// A `not …` fragment (cannot itself follow `not`).
    Not,
    Atom,
}

struct Emitter<'a> {
    kind_of: &'a dyn Fn(&str) -> FieldKind,
    approx: Vec<Approximation>,
    /// Path prefix inside nested queries (for field kinds).
    prefix: String,
    /// Prefix, field and case-insensitivity of the last [`Emitter::case_note`] call.
    last_case_note: Option<(String, Option<String>, bool)>,
    /// Whether `.caseless` multi-fields may be used (see [`emit_expr_with`]).
    caseless: bool,
}

impl Emitter<'_> {
    fn emit(&mut self, e: &Expr, depth: usize) -> Res<(String, Prec)> {
        if depth > MAX_EMIT_DEPTH {
            return Err(unsupported(
                "kuery-too-deep",
                format!("expression nested deeper than {MAX_EMIT_DEPTH} levels"),
            ));
        }
        Ok(match e {
            Expr::Or(items) => {
                let mut parts = Vec::new();
                let mut i = 0;
                while i < items.len() {
                    let run = self.value_run(&items[i..]);
                    if run >= 2 {
                        parts.push(self.value_list(&items[i..i + run])?);
                        i += run;
                    } else {
                        parts.push(self.emit(&items[i], depth + 1)?.0);
                        i += 1;
                    }
                }
                let prec = if parts.len() == 1 {
                    Prec::Atom
                } else {
                    Prec::Or
                };
                (parts.join(" or "), prec)
            }
            Expr::And(items) => {
                let mut parts = Vec::new();
                for it in items {
                    let (t, p) = self.emit(it, depth + 1)?;
                    parts.push(if p == Prec::Or { format!("({t})") } else { t });
                }
                (parts.join(" and "), Prec::And)
            }
            Expr::Not(inner) => {
                let (t, p) = self.emit(inner, depth + 1)?;
                let t = if p == Prec::Atom { t } else { format!("({t})") };
                (format!("not {t}"), Prec::Not)
            }
            Expr::Const(true) => ("(@timestamp:* or not @timestamp:*)".into(), Prec::Atom),
            Expr::Const(false) => ("(@timestamp:* and not @timestamp:*)".into(), Prec::Atom),
            Expr::Nested { path, inner } => {
                let saved = self.prefix.clone();
                self.prefix = format!("{saved}{path}.");
                let inner_text = match inner.as_ref() {
                    Expr::Const(true) => Err(unsupported(
                        "kuery-empty-nested",
                        "a nested query must have a condition",
                    )),
                    other => self.emit(other, depth + 1),
                };
                self.prefix = saved;
                (
                    format!("{}:{{ {} }}", field_text(path), inner_text?.0),
                    Prec::Atom,
                )
            }
            Expr::Pred(p) => self.pred(p)?,
        })
    }

    /// How many leading items are value predicates on the same field (foldable into a list).
    fn value_run(&self, items: &[Expr]) -> usize {
        fn key<'e>(em: &Emitter<'_>, e: &'e Expr) -> Option<(&'e str, bool)> {
            let f = list_field(e)?;
            let caseless = matches!(e, Expr::Pred(p) if em.use_caseless(f, &p.op));
            Some((f, caseless))
        }
        let Some(first) = items.first().and_then(|e| key(self, e)) else {
            return 0;
        };
        items
            .iter()
            .take_while(|e| key(self, e) == Some(first))
            .count()
    }

    fn value_list(&mut self, items: &[Expr]) -> Res<String> {
        let mut field = String::new();
        let mut values = Vec::new();
        for it in items {
            if let Expr::Pred(p) = it {
                if let Subject::Field { name, .. } = &p.subject {
                    let (f, v) = self.field_value(name, &p.op)?;
                    if !field.is_empty() && f != field {
                        // Some values go to `.caseless` and some not: no single list.
                        return Err(unsupported("kuery-list", "mixed value list"));
                    }
                    field = f;
                    values.push(v);
                }
            }
        }
        Ok(format!("{}:({})", field_text(&field), values.join(" or ")))
    }

    /// Whether a case-insensitive match on `name` is written on `name.caseless`.
    fn use_caseless(&self, name: &str, op: &Op) -> bool {
        self.caseless
            && self.prefix.is_empty()
            && CASELESS_SIBLINGS.contains(&name)
            && matches!(
                op,
                Op::Match {
                    case: Case::Insensitive,
                    pattern
                } if !pattern.has_placeholders()
            )
    }

    /// The field written for `name` and the value side of `field:value`.
    fn field_value(&mut self, name: &str, op: &Op) -> Res<(String, String)> {
        if let (true, Op::Match { pattern, .. }) = (self.use_caseless(name, op), op) {
            // The normalizer lower-cases indexed values and the query (values and wildcard
            // terms) alike, so the pattern is written as it is.
            let field = format!("{name}.caseless");
            let v = self.value_text(
                &field,
                &Op::Match {
                    pattern: pattern.clone(),
                    case: Case::Sensitive,
                },
            )?;
            return Ok((field, v));
        }
        Ok((name.to_string(), self.value_text(name, op)?))
    }

    fn pred(&mut self, p: &Predicate) -> Res<(String, Prec)> {
        match &p.subject {
            Subject::Field { name, .. } => match &p.op {
                Op::Cmp { op, value } => self.cmp(name, *op, value),
                Op::Regex(_) => Err(unsupported(
                    "kuery-regex",
                    "kuery has no regular expressions",
                )),
                Op::FieldRef { other, .. } => Err(unsupported(
                    "kuery-fieldref",
                    format!("kuery cannot compare field `{name}` with field `{other}`"),
                )),
                Op::IsTrue => Err(unsupported(
                    "kuery-computed",
                    format!("kuery cannot test field `{name}` as a computed boolean"),
                )),
                op => {
                    let (f, v) = self.field_value(name, op)?;
                    Ok((format!("{}:{v}", field_text(&f)), Prec::Atom))
                }
            },
            Subject::Keyword => match &p.op {
                Op::Match { pattern, case } => {
                    self.case_note(None, *case);
                    Ok((self.pattern_text(pattern)?, Prec::Atom))
                }
                Op::Eq(Scalar::Str(s)) => Ok((quoted(s), Prec::Atom)),
                _ => Err(unsupported(
                    "kuery-keyword-op",
                    "kuery free text can only match a value or a wildcard pattern",
                )),
            },
            Subject::Computed(_) => Err(unsupported(
                "kuery-computed",
                "kuery cannot evaluate functions or arithmetic",
            )),
        }
    }

    fn cmp(&mut self, name: &str, op: CmpOp, value: &Scalar) -> Res<(String, Prec)> {
        let sym = match op {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => {
                let v = self.value_text(name, &Op::Eq(value.clone()))?;
                return Ok((format!("{}:{v}", field_text(name)), Prec::Atom));
            }
            CmpOp::Ne => {
                let v = self.value_text(name, &Op::Eq(value.clone()))?;
                self.approx.push(Approximation::new(
                    "not-equal-includes-incomparable",
                    format!(
                        "`{name} != {value}` is emitted as exists-and-not-equal, which also matches values that cannot be compared with {value}"
                    ),
                ));
                let f = field_text(name);
                return Ok((format!("({f}:* and not {f}:{v})"), Prec::Atom));
            }
        };
        let v = match value {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) if f.is_finite() => float_text(*f),
            Scalar::Float(_) => {
                return Err(unsupported(
                    "kuery-non-finite-number",
                    "kuery has no NaN or infinity",
                ))
            }
            Scalar::Str(s) => quoted(s),
            Scalar::Bool(_) => {
                return Err(unsupported(
                    "kuery-bool-range",
                    "kuery cannot order booleans",
                ))
            }
        };
        Ok((format!("{} {sym} {v}", field_text(name)), Prec::Atom))
    }

    fn case_note(&mut self, field: Option<&str>, case: Case) {
        // The values of a list come one after another with the same note; notes are
        // deduplicated at the end, so a repeat of the last call adds nothing.
        let ci = case.is_insensitive();
        if self
            .last_case_note
            .as_ref()
            .is_some_and(|(p, f, c)| *p == self.prefix && f.as_deref() == field && *c == ci)
        {
            return;
        }
        self.last_case_note = Some((self.prefix.clone(), field.map(str::to_string), ci));
        let kind = field.map(|f| (self.kind_of)(&format!("{}{f}", self.prefix)));
        let analysed =
            field.is_some_and(|f| text_analyzer(&format!("{}{f}", self.prefix)).is_some());
        if kind == Some(FieldKind::Text) || analysed {
            self.approx.push(Approximation::new(
                "text-field-analyzed",
                format!(
                    "`{}` is a text field: Elasticsearch matches its analysed tokens, not the exact value",
                    field.unwrap_or_default()
                ),
            ));
        } else if case.is_insensitive() {
            let what = match field {
                Some(f) => format!("`{f}`"),
                None => "free text".into(),
            };
            self.approx.push(Approximation::new(
                "case-insensitive-as-sensitive",
                format!("kuery matches keyword fields case-sensitively; the case-insensitive match on {what} is emitted as written"),
            ));
        }
    }

    /// A literal that reads as a network (`10.0.0.0/8`) is a CIDR match on an ip field.
    fn network_note(&mut self, field: &str, s: &str) {
        if cidr(s).is_some() {
            self.approx.push(Approximation::new(
                "literal-read-as-network",
                format!("kuery reads the value `{s}` of `{field}` as a network (CIDR match on ip fields), not as exact text"),
            ));
        }
    }

    /// The value side of `field:value` (also used inside value lists).
    fn value_text(&mut self, field: &str, op: &Op) -> Res<String> {
        match op {
            Op::Match { pattern, case } => {
                self.case_note(Some(field), *case);
                if let Some(s) = pattern.as_literal() {
                    self.network_note(field, s);
                }
                self.pattern_text(pattern)
            }
            Op::Eq(Scalar::Int(i)) => Ok(i.to_string()),
            Op::Eq(Scalar::Float(f)) if f.is_finite() => Ok(float_text(*f)),
            Op::Eq(Scalar::Float(_)) => Err(unsupported(
                "kuery-non-finite-number",
                "kuery has no NaN or infinity",
            )),
            Op::Eq(Scalar::Bool(b)) => Ok(b.to_string()),
            Op::Eq(Scalar::Str(s)) => {
                self.case_note(Some(field), Case::Sensitive);
                self.network_note(field, s);
                Ok(quoted(s))
            }
            Op::Cidr(net) => Ok(quoted(&net.to_string())),
            Op::Exists => Ok("*".into()),
            Op::Text(q) => self.text_value(field, q),
            Op::Cmp { .. } | Op::Regex(_) | Op::FieldRef { .. } | Op::IsTrue => Err(unsupported(
                "kuery-value",
                "this comparison is not a kuery value",
            )),
        }
    }

    /// An analysed text query: exact when kuery reads the field as text with the same analyzer.
    fn text_value(&mut self, field: &str, q: &TextQuery) -> Res<String> {
        let full = format!("{}{field}", self.prefix);
        if text_analyzer(&full) != Some(q.analyzer) {
            return Err(unsupported(
                "kuery-text-query",
                format!(
                    "`{full}` is not analysed with Elasticsearch's {} analyzer, so kuery cannot search it for the words of `{}`",
                    q.analyzer.name(),
                    q.text
                ),
            ));
        }
        Ok(match q.mode {
            TextMode::AnyWord if q.tokens().len() > 1 => {
                // Unquoted: Kibana's `match`, any of the words.
                let mut out = String::new();
                escape_unquoted(q.text.trim_matches(is_js_whitespace), true, &mut out);
                out
            }
            _ => quoted(&q.text),
        })
    }

    fn pattern_text(&mut self, pattern: &StrPattern) -> Res<String> {
        if let PatternShape::Exact(s) = pattern.shape() {
            return Ok(quoted(s));
        }
        if pattern.has_placeholders() {
            return Err(unsupported(
                "kuery-placeholder",
                format!("unresolved placeholder in `{pattern}`"),
            ));
        }
        if pattern.has_one_char() {
            self.approx.push(Approximation::new(
                "one-char-wildcard-widened",
                format!(
                    "kuery has no one-character wildcard: `?` in `{pattern}` is emitted as `*`"
                ),
            ));
        }
        let mut pieces: Vec<Piece> = pattern
            .pieces()
            .iter()
            .map(|p| match p {
                Piece::OneChar => Piece::AnyChars,
                other => other.clone(),
            })
            .collect();
        // Kibana trims unquoted values, escapes included: edge whitespace cannot be expressed.
        let mut widened = false;
        if let Some(Piece::Lit(s)) = pieces.first_mut() {
            if s.starts_with(is_js_whitespace) {
                *s = s.trim_start_matches(is_js_whitespace).to_string();
                pieces.insert(0, Piece::AnyChars);
                widened = true;
            }
        }
        if let Some(Piece::Lit(s)) = pieces.last_mut() {
            if s.ends_with(is_js_whitespace) {
                *s = s.trim_end_matches(is_js_whitespace).to_string();
                pieces.push(Piece::AnyChars);
                widened = true;
            }
        }
        if widened {
            self.approx.push(Approximation::new(
                "wildcard-edge-whitespace-widened",
                format!("kuery trims unquoted values: leading/trailing whitespace in `{pattern}` is widened to `*`"),
            ));
        }
        let pattern = StrPattern::new(pieces);
        let n = pattern.pieces().len();
        let mut out = String::new();
        for (i, p) in pattern.pieces().iter().enumerate() {
            match p {
                Piece::AnyChars => out.push('*'),
                Piece::Lit(s) => escape_unquoted(s, i + 1 == n, &mut out),
                Piece::OneChar | Piece::Placeholder(_) => out.push('*'),
            }
        }
        Ok(out)
    }
}

/// The field of an Or item that can go into a value list.
fn list_field(e: &Expr) -> Option<&str> {
    let Expr::Pred(p) = e else { return None };
    let Subject::Field { name, .. } = &p.subject else {
        return None;
    };
    match &p.op {
        Op::Match { .. } | Op::Eq(_) | Op::Cidr(_) | Op::Exists | Op::Text(_) => Some(name),
        _ => None,
    }
}

/// A quoted kuery string. `\` and `"` are escaped; tab, CR, LF and other control characters
/// are written as `\t`, `\r`, `\n` and `\uXXXX` (Kibana decodes all of these inside quotes) so
/// the query stays on one line. Everything else is literal, including `*`.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A field name: bare when it is plainly safe, else quoted; a `*` is emitted as the field-name
/// wildcard (unquoted, other characters escaped).
pub fn field_text(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '-' | '#' | '$' | '/' | '*')
        })
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "or" | "and" | "not" | "null" | "true" | "false"
        )
        // Kibana reads `not` + whitespace as the keyword anywhere in an unquoted literal, so
        // `xnot > 1` does not parse (and `\not` is a newline): such a name is quoted.
        && !name.to_ascii_lowercase().ends_with("not");
    if plain {
        return name.to_string();
    }
    if name.contains('*') {
        let parts: Vec<&str> = name.split('*').collect();
        let mut out = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push('*');
            }
            escape_unquoted(part, i + 1 == parts.len(), &mut out);
        }
        return out;
    }
    quoted(name)
}

fn raw_space(c: char) -> bool {
    c == ' ' || c == '\u{a0}'
}

/// Escape literal text inside an unquoted value. `at_end`: the text ends the value, so whatever
/// follows in the query (` or `, `)`) may be whitespace.
fn escape_unquoted(s: &str, at_end: bool, out: &mut String) {
    // Printable ASCII without spaces or special characters needs no escape, unless it ends
    // the value with `not` (read as the keyword before whatever follows).
    let b = s.as_bytes();
    if b.iter()
        .all(|c| c.is_ascii_graphic() && !is_special(*c as char))
        && !(at_end && b.len() >= 3 && b[b.len() - 3..].eq_ignore_ascii_case(b"not"))
    {
        out.push_str(s);
        return;
    }
    let cs: Vec<char> = s.chars().collect();
    let n = cs.len();
    let space_at = |k: usize| if k >= n { at_end } else { raw_space(cs[k]) };
    let word = |k: usize, w: &str| {
        w.chars()
            .enumerate()
            .all(|(j, wc)| cs.get(k + j).is_some_and(|c| c.eq_ignore_ascii_case(&wc)))
    };
    let mut i = 0;
    while i < n {
        let c = cs[i];
        // Kibana's `Keyword` look-ahead: `Space or Space`, `Space and Space`, `not Space`.
        let after_space = i > 0 && raw_space(cs[i - 1]);
        if after_space && word(i, "or") && space_at(i + 2) {
            out.push('\\');
            out.extend(&cs[i..i + 2]);
            i += 2;
            continue;
        }
        if after_space && word(i, "and") && space_at(i + 3) {
            out.push('\\');
            out.extend(&cs[i..i + 3]);
            i += 3;
            continue;
        }
        if word(i, "not") && space_at(i + 3) {
            // `\not` would read as `\n` + `ot`: escape a lower-case `n` as a code point.
            if c == 'n' {
                out.push_str("\\u006e");
            } else {
                out.push('\\');
                out.push(c);
            }
            out.extend(&cs[i + 1..i + 3]);
            i += 3;
            continue;
        }
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_special(c) => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
        i += 1;
    }
}
