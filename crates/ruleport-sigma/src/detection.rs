//! The `detection` section: search identifiers (maps, lists, keywords) and value modifiers → IR.

use crate::modifiers::{base64_offsets, Modifier, NAMES, WINDASH_CHARS};
use crate::strings::{insert_placeholders, parse_value};
use crate::yaml::{float_text, Kind, Node};
use ipnet::IpNet;
use ruleport_model::{
    Case, CmpOp, Diagnostic, Expr, FieldRefKind, Op, Piece, Pos, RegexAnchor, RegexSpec, Scalar,
    StrPattern, Subject,
};

/// Most alternatives one value may expand to (windash gives 5 per dash).
const MAX_EXPANSION: usize = 3125;

/// Warnings collected while building expressions.
#[derive(Default)]
pub(crate) struct Warnings(pub Vec<Diagnostic>);

/// A typed value while modifiers are applied to it.
#[derive(Debug, Clone)]
enum Val {
    /// `bytes`: every char stands for one byte (after a UTF-16 modifier).
    Str {
        pieces: Vec<Piece>,
        bytes: bool,
    },
    Num(Scalar),
    Bool(bool),
    Null,
    Regex {
        pattern: String,
        ci: bool,
        multiline: bool,
        dotall: bool,
    },
    Cidr(IpNet),
    FieldRef {
        name: String,
        kind: FieldRefKind,
    },
    Cmp(CmpOp, Scalar),
    Exists(bool),
}

impl Val {
    fn kind_name(&self) -> &'static str {
        match self {
            Val::Str { .. } => "string",
            Val::Num(_) => "number",
            Val::Bool(_) => "boolean",
            Val::Null => "null",
            Val::Regex { .. } => "regular expression",
            Val::Cidr(_) => "CIDR network",
            Val::FieldRef { .. } => "field reference",
            Val::Cmp(..) => "comparison",
            Val::Exists(_) => "existence test",
        }
    }

    /// A number or boolean as a string value (Sigma values are strings by specification).
    fn into_string(self) -> Val {
        match self {
            Val::Num(s) => Val::Str {
                pieces: vec![Piece::Lit(scalar_text(&s))],
                bytes: false,
            },
            Val::Bool(b) => Val::Str {
                pieces: vec![Piece::Lit(b.to_string())],
                bytes: false,
            },
            other => other,
        }
    }
}

fn scalar_text(s: &Scalar) -> String {
    match s {
        Scalar::Float(f) => float_text(*f),
        other => other.to_string(),
    }
}

fn err(code: &str, msg: impl Into<String>, pos: Pos) -> Diagnostic {
    Diagnostic::error(code, msg).at(pos)
}

/// The expression of one search identifier.
pub(crate) fn search_expr(node: &Node, w: &mut Warnings) -> Result<Expr, Diagnostic> {
    match &node.kind {
        Kind::Map(entries) => {
            if entries.is_empty() {
                return Err(err(
                    "E-SIGMA-DETECTION",
                    "the search identifier is an empty map",
                    node.pos,
                ));
            }
            let mut items = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                items.push(item_expr(k, v, w)?);
            }
            Ok(Expr::and(items))
        }
        Kind::Seq(elems) => {
            if elems.is_empty() {
                return Err(err(
                    "E-SIGMA-DETECTION",
                    "the search identifier is an empty list",
                    node.pos,
                ));
            }
            let mut alts = Vec::with_capacity(elems.len());
            for e in elems {
                alts.push(match &e.kind {
                    Kind::Map(_) => search_expr(e, w)?,
                    Kind::Seq(_) => {
                        return Err(err(
                            "E-SIGMA-DETECTION",
                            "a list inside a search-identifier list is not valid Sigma",
                            e.pos,
                        ))
                    }
                    _ => keyword_values(std::slice::from_ref(e), &[], e.pos, w)?,
                });
            }
            Ok(Expr::or(alts))
        }
        Kind::Null => Err(err(
            "E-SIGMA-DETECTION",
            "the search identifier has no content",
            node.pos,
        )),
        _ => keyword_values(std::slice::from_ref(node), &[], node.pos, w),
    }
}

fn keyword_values(
    values: &[Node],
    mods: &[(Modifier, Pos)],
    pos: Pos,
    w: &mut Warnings,
) -> Result<Expr, Diagnostic> {
    build_item(None, mods, values, pos, w)
}

/// One `key: value` pair of a selection map.
fn item_expr(key: &Node, value: &Node, w: &mut Warnings) -> Result<Expr, Diagnostic> {
    let key_text = key.scalar_text().ok_or_else(|| {
        err(
            "E-SIGMA-DETECTION",
            "a detection key must be a field name",
            key.pos,
        )
    })?;
    let mut parts = key_text.split('|');
    let field = parts.next().unwrap_or("").to_string();
    let mut mods = Vec::new();
    let mut col = key.pos.column + field.chars().count() as u32 + 1;
    for name in parts {
        let mpos = Pos::new(key.pos.line, col);
        col += name.chars().count() as u32 + 1;
        match Modifier::parse(name) {
            Some(m) => mods.push((m, mpos)),
            None => {
                let mut d = err(
                    "E-SIGMA-MODIFIER",
                    if name.is_empty() {
                        "empty modifier (two `|` in a row)".to_string()
                    } else {
                        match ruleport_model::diag::did_you_mean(
                            name,
                            NAMES.iter().map(|(n, _)| *n),
                        ) {
                            Some(s) => format!("unknown modifier `{name}` — did you mean `{s}`?"),
                            None => format!("unknown modifier `{name}`"),
                        }
                    },
                    mpos,
                );
                if !name.is_empty() {
                    let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                    d = d.with_hint(format!("Sigma modifiers: {}", known.join(", ")));
                }
                return Err(d);
            }
        }
    }
    let values: Vec<Node> = match &value.kind {
        Kind::Seq(items) => {
            if items.is_empty() {
                // pySigma reads `Field: []` as a null match; the spec does not define it.
                w.0.push(
                    Diagnostic::warning(
                        "W-SIGMA-EMPTY-LIST",
                        format!("`{key_text}` has an empty value list; read as `null` (field missing), as pySigma does"),
                    )
                    .at(value.pos),
                );
                vec![Node::new(Kind::Null, value.pos)]
            } else {
                items.clone()
            }
        }
        Kind::Map(_) => {
            return Err(err(
                "E-SIGMA-DETECTION",
                format!("the value of `{key_text}` is a map; a detection value must be a scalar or a list of scalars"),
                value.pos,
            ))
        }
        _ => vec![value.clone()],
    };
    let field = if field.is_empty() { None } else { Some(field) };
    build_item(field.as_deref(), &mods, &values, key.pos, w)
}

/// Build the expression of a detection item: each value through the modifier chain, ORed (or
/// ANDed with `all`), negated with `neq`.
fn build_item(
    field: Option<&str>,
    mods: &[(Modifier, Pos)],
    values: &[Node],
    pos: Pos,
    w: &mut Warnings,
) -> Result<Expr, Diagnostic> {
    let has = |m: Modifier| mods.iter().any(|(x, _)| *x == m);
    let all = has(Modifier::All);
    let neq = has(Modifier::Neq);
    let cased = has(Modifier::Cased);
    // Value modifiers in order (list modifiers `all` / `neq` and `cased` act on the whole item).
    let chain: Vec<(Modifier, Pos)> = mods
        .iter()
        .copied()
        .filter(|(m, _)| !matches!(m, Modifier::All | Modifier::Neq | Modifier::Cased))
        .collect();
    for (i, (m, mpos)) in chain.iter().enumerate() {
        if i > 0
            && matches!(
                m,
                Modifier::Re | Modifier::Cidr | Modifier::Exists | Modifier::FieldRef
            )
        {
            return Err(err(
                "E-SIGMA-MODIFIER",
                format!(
                    "the `{}` modifier must come first: it reads the value as written",
                    m.name()
                ),
                *mpos,
            ));
        }
        if let Modifier::TimePart(name) = m {
            return Err(err(
                "E-SIGMA-UNSUPPORTED-MODIFIER",
                format!("the `{name}` date-part modifier (Sigma 2.1) has no equivalent in ruleport's rule model"),
                *mpos,
            )
            .with_hint("rewrite the item as a comparison on a field that holds the date part"));
        }
    }
    if all && values.len() == 1 {
        w.0.push(
            Diagnostic::warning(
                "W-SIGMA-ALL-SINGLE",
                "`all` on a single value has no effect (the spec does not allow single values with `all`)",
            )
            .at(pos),
        );
    }
    if field.is_none() {
        if let Some((m, mpos)) = chain.iter().find(|(m, _)| {
            matches!(
                m,
                Modifier::Exists
                    | Modifier::FieldRef
                    | Modifier::Cidr
                    | Modifier::Gt
                    | Modifier::Gte
                    | Modifier::Lt
                    | Modifier::Lte
            )
        }) {
            return Err(err(
                "E-SIGMA-MODIFIER",
                format!(
                    "the `{}` modifier needs a field; keyword searches have none",
                    m.name()
                ),
                *mpos,
            ));
        }
    }
    let mut per_value = Vec::with_capacity(values.len());
    for v in values {
        let alts = apply_chain(v, &chain, w)?;
        let mut exprs = Vec::with_capacity(alts.len());
        for a in alts {
            exprs.push(val_expr(field, a, cased, v.pos, w)?);
        }
        per_value.push(Expr::or(exprs));
    }
    let joined = if all {
        Expr::and(per_value)
    } else {
        Expr::or(per_value)
    };
    Ok(if neq { Expr::not(joined) } else { joined })
}

fn initial_val(v: &Node, first: Option<Modifier>) -> Result<Val, Diagnostic> {
    let text = || v.scalar_text();
    match (&v.kind, first) {
        (Kind::Seq(_) | Kind::Map(_), _) => Err(err(
            "E-SIGMA-DETECTION",
            format!("a {} is not a valid detection value", v.type_name()),
            v.pos,
        )),
        (
            Kind::Null,
            Some(m @ (Modifier::Re | Modifier::Cidr | Modifier::FieldRef | Modifier::Exists)),
        ) => Err(err(
            "E-SIGMA-MODIFIER",
            format!("`{}` needs a value, not null", m.name()),
            v.pos,
        )),
        (Kind::Null, _) => Ok(Val::Null),
        (_, Some(Modifier::Exists)) => match v.kind {
            Kind::Bool(b) => Ok(Val::Exists(b)),
            _ => Err(err(
                "E-SIGMA-MODIFIER",
                format!(
                    "`exists` needs `true` or `false`, not the {} `{}`",
                    v.type_name(),
                    text().unwrap_or_default()
                ),
                v.pos,
            )
            .with_hint("write `Field|exists: true` (a YAML boolean, unquoted)")),
        },
        (_, Some(Modifier::Re)) => Ok(Val::Regex {
            pattern: text().unwrap_or_default(),
            ci: false,
            multiline: false,
            dotall: false,
        }),
        (_, Some(Modifier::Cidr)) => {
            let t = text().unwrap_or_default();
            parse_cidr(t.trim()).map(Val::Cidr).ok_or_else(|| {
                err(
                    "E-SIGMA-CIDR",
                    format!("`{t}` is not an IPv4 or IPv6 network"),
                    v.pos,
                )
                .with_hint("write a network such as `10.0.0.0/8` or `fe80::/10`")
            })
        }
        (_, Some(Modifier::FieldRef)) => {
            let t = text().unwrap_or_default();
            if t.contains(['*', '?']) || t.is_empty() {
                return Err(err(
                    "E-SIGMA-FIELDREF",
                    format!("`fieldref` needs a field name, not `{t}`"),
                    v.pos,
                ));
            }
            Ok(Val::FieldRef {
                name: t,
                kind: FieldRefKind::Equals,
            })
        }
        (Kind::Int(i), _) => Ok(Val::Num(Scalar::Int(*i))),
        (Kind::Float(f), _) => Ok(Val::Num(Scalar::Float(*f))),
        (Kind::Bool(b), _) => Ok(Val::Bool(*b)),
        (Kind::Str { text, .. }, _) => Ok(Val::Str {
            pieces: parse_value(text),
            bytes: false,
        }),
    }
}

/// A network like Python's `ip_network(strict=False)` would accept; a bare address is a /32 or /128.
fn parse_cidr(t: &str) -> Option<IpNet> {
    if let Ok(n) = t.parse::<IpNet>() {
        return Some(n.trunc());
    }
    t.parse::<std::net::IpAddr>().ok().map(IpNet::from)
}

fn apply_chain(
    v: &Node,
    chain: &[(Modifier, Pos)],
    w: &mut Warnings,
) -> Result<Vec<Val>, Diagnostic> {
    let first = chain.first().map(|(m, _)| *m);
    let mut vals = vec![initial_val(v, first)?];
    if let (Some(Modifier::Cidr), Kind::Str { text, .. }) = (first, &v.kind) {
        if let Ok(n) = text.trim().parse::<IpNet>() {
            if n.trunc() != n {
                w.0.push(
                    Diagnostic::warning(
                        "W-SIGMA-CIDR-HOST-BITS",
                        format!(
                            "`{text}` has host bits set; read as `{}` (pySigma rejects it)",
                            n.trunc()
                        ),
                    )
                    .at(v.pos),
                );
            }
        }
    }
    let skip = usize::from(matches!(
        first,
        Some(Modifier::Re | Modifier::Cidr | Modifier::FieldRef | Modifier::Exists)
    ));
    for (m, mpos) in &chain[skip..] {
        let mut next = Vec::with_capacity(vals.len());
        for val in vals {
            next.extend(apply_one(*m, *mpos, val)?);
        }
        if next.len() > MAX_EXPANSION {
            return Err(err(
                "E-SIGMA-EXPANSION",
                format!(
                    "`{}` expands this value to more than {MAX_EXPANSION} alternatives",
                    m.name()
                ),
                *mpos,
            ));
        }
        vals = next;
    }
    Ok(vals)
}

fn incompatible(m: Modifier, val: &Val, pos: Pos) -> Diagnostic {
    err(
        "E-SIGMA-MODIFIER",
        format!(
            "the `{}` modifier cannot apply to a {} value",
            m.name(),
            val.kind_name()
        ),
        pos,
    )
}

fn apply_one(m: Modifier, pos: Pos, val: Val) -> Result<Vec<Val>, Diagnostic> {
    use Modifier as M;
    let val = match (m, &val) {
        (
            M::Contains
            | M::StartsWith
            | M::EndsWith
            | M::Base64
            | M::Base64Offset
            | M::Utf16Le
            | M::Utf16Be
            | M::Utf16
            | M::Windash
            | M::Expand,
            Val::Num(_) | Val::Bool(_),
        ) => val.into_string(),
        _ => val,
    };
    Ok(match m {
        M::Contains | M::StartsWith | M::EndsWith => match val {
            Val::Str { mut pieces, bytes } => {
                if matches!(m, M::Contains | M::EndsWith) {
                    pieces.insert(0, Piece::AnyChars);
                }
                if matches!(m, M::Contains | M::StartsWith) {
                    pieces.push(Piece::AnyChars);
                }
                vec![Val::Str { pieces, bytes }]
            }
            // An unanchored regex search already finds the pattern anywhere.
            Val::Regex { .. } if m == M::Contains => vec![val],
            Val::FieldRef { name, kind: FieldRefKind::Equals } => vec![Val::FieldRef {
                name,
                kind: match m {
                    M::Contains => FieldRefKind::Contains,
                    M::StartsWith => FieldRefKind::StartsWith,
                    _ => FieldRefKind::EndsWith,
                },
            }],
            other => return Err(incompatible(m, &other, pos)),
        },
        M::Base64 | M::Base64Offset => match val {
            Val::Str { pieces, bytes } => {
                let data = literal_bytes(&pieces, bytes).ok_or_else(|| {
                    err(
                        "E-SIGMA-MODIFIER",
                        format!("`{}` cannot encode a value with wildcards or placeholders", m.name()),
                        pos,
                    )
                    .with_hint("escape literal `*` and `?` with `\\`")
                })?;
                if m == M::Base64 {
                    use base64::Engine;
                    vec![Val::Str {
                        pieces: vec![Piece::Lit(base64::engine::general_purpose::STANDARD.encode(&data))],
                        bytes: false,
                    }]
                } else {
                    base64_offsets(&data)
                        .into_iter()
                        .map(|s| Val::Str {
                            pieces: vec![Piece::Lit(s)],
                            bytes: false,
                        })
                        .collect()
                }
            }
            other => return Err(incompatible(m, &other, pos)),
        },
        M::Utf16Le | M::Utf16Be | M::Utf16 => match val {
            Val::Str { bytes: true, .. } => {
                return Err(err(
                    "E-SIGMA-MODIFIER",
                    format!("`{}` applied to a value that is already UTF-16 encoded", m.name()),
                    pos,
                ))
            }
            Val::Str { pieces, .. } => {
                let be = m == M::Utf16Be;
                let mut out: Vec<Piece> = pieces
                    .into_iter()
                    .map(|p| match p {
                        Piece::Lit(s) => Piece::Lit(utf16_chars(&s, be)),
                        other => other,
                    })
                    .collect();
                if m == M::Utf16 {
                    out.insert(0, Piece::Lit("\u{ff}\u{fe}".into()));
                }
                vec![Val::Str { pieces: out, bytes: true }]
            }
            other => return Err(incompatible(m, &other, pos)),
        },
        M::Windash => match val {
            Val::Str { pieces, bytes } => windash(&pieces)
                .ok_or_else(|| {
                    err(
                        "E-SIGMA-EXPANSION",
                        format!("`windash` expands this value to more than {MAX_EXPANSION} alternatives"),
                        pos,
                    )
                })?
                .into_iter()
                .map(|pieces| Val::Str { pieces, bytes })
                .collect(),
            other => return Err(incompatible(m, &other, pos)),
        },
        M::Expand => match val {
            Val::Str { pieces, bytes } => vec![Val::Str {
                pieces: insert_placeholders(pieces),
                bytes,
            }],
            other => return Err(incompatible(m, &other, pos)),
        },
        M::IgnoreCase | M::Multiline | M::DotAll => match val {
            Val::Regex { pattern, mut ci, mut multiline, mut dotall } => {
                match m {
                    M::IgnoreCase => ci = true,
                    M::Multiline => multiline = true,
                    _ => dotall = true,
                }
                vec![Val::Regex { pattern, ci, multiline, dotall }]
            }
            _ => {
                return Err(err(
                    "E-SIGMA-MODIFIER",
                    format!("the `{}` regex flag is only valid after `re`", m.name()),
                    pos,
                ))
            }
        },
        M::Gt | M::Gte | M::Lt | M::Lte => {
            let op = match m {
                M::Gt => CmpOp::Gt,
                M::Gte => CmpOp::Ge,
                M::Lt => CmpOp::Lt,
                _ => CmpOp::Le,
            };
            match val {
                Val::Num(s) => vec![Val::Cmp(op, s)],
                Val::Str { pieces, .. } => {
                    let shown = crate::strings::escape_pieces(&pieces, crate::strings::EscapeMode::Plain);
                    return Err(err(
                        "E-SIGMA-MODIFIER",
                        format!("`{}` compares numbers, but the value `{shown}` is a string", m.name()),
                        pos,
                    )
                    .with_hint("write the number without quotes"));
                }
                other => return Err(incompatible(m, &other, pos)),
            }
        }
        // First-only modifiers are consumed by `initial_val`; list modifiers never reach here.
        M::Re | M::Cidr | M::Exists | M::FieldRef | M::All | M::Neq | M::Cased | M::TimePart(_) => {
            return Err(err(
                "E-SIGMA-MODIFIER",
                format!("the `{}` modifier is misplaced", m.name()),
                pos,
            ))
        }
    })
}

/// The literal bytes of a wildcard-free value (chars are bytes after a UTF-16 modifier).
fn literal_bytes(pieces: &[Piece], bytes: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Lit(s) if bytes => out.extend(s.chars().map(|c| c as u32 as u8)),
            Piece::Lit(s) => out.extend_from_slice(s.as_bytes()),
            _ => return None,
        }
    }
    Some(out)
}

/// UTF-16 code units as byte-chars (U+0000..U+00FF each standing for one byte).
fn utf16_chars(s: &str, big_endian: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for unit in s.encode_utf16() {
        let [a, b] = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.push(char::from(a));
        out.push(char::from(b));
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every combination of dash characters for the dashes pySigma's `\B[-/]\b` selects: a `-` or
/// `/` not preceded by a word character and followed by one (checked within each literal piece).
/// `None` when the combinations would exceed [`MAX_EXPANSION`].
pub(crate) fn windash(pieces: &[Piece]) -> Option<Vec<Vec<Piece>>> {
    // Split into slots: fixed pieces and dash positions.
    enum Slot {
        Fixed(Piece),
        Dash,
    }
    let mut slots = Vec::new();
    for p in pieces {
        let Piece::Lit(s) = p else {
            slots.push(Slot::Fixed(p.clone()));
            continue;
        };
        let chars: Vec<char> = s.chars().collect();
        let mut lit = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let before_ok = i == 0 || !is_word(chars[i - 1]);
            let after_ok = chars.get(i + 1).is_some_and(|n| is_word(*n));
            if matches!(c, '-' | '/') && before_ok && after_ok {
                slots.push(Slot::Fixed(Piece::Lit(std::mem::take(&mut lit))));
                slots.push(Slot::Dash);
            } else {
                lit.push(c);
            }
        }
        slots.push(Slot::Fixed(Piece::Lit(lit)));
    }
    let mut out: Vec<Vec<Piece>> = vec![Vec::new()];
    for s in slots {
        match s {
            Slot::Fixed(p) => out.iter_mut().for_each(|v| v.push(p.clone())),
            Slot::Dash => {
                if out.len() * WINDASH_CHARS.len() > MAX_EXPANSION {
                    return None;
                }
                out = out
                    .into_iter()
                    .flat_map(|v| {
                        WINDASH_CHARS.iter().map(move |d| {
                            let mut v = v.clone();
                            v.push(Piece::Lit(d.to_string()));
                            v
                        })
                    })
                    .collect();
            }
        }
    }
    Some(
        out.into_iter()
            .map(|v| StrPattern::new(v).pieces().to_vec())
            .collect(),
    )
}

fn val_expr(
    field: Option<&str>,
    val: Val,
    cased: bool,
    pos: Pos,
    w: &mut Warnings,
) -> Result<Expr, Diagnostic> {
    let subject = match field {
        Some(f) => Subject::field(f),
        None => Subject::Keyword,
    };
    let case = if cased {
        Case::Sensitive
    } else {
        Case::Insensitive
    };
    let need_field = |what: &str| {
        err(
            "E-SIGMA-DETECTION",
            format!("a {what} needs a field; keyword searches have none"),
            pos,
        )
    };
    Ok(match val {
        Val::Str { pieces, .. } => {
            let mut pattern = StrPattern::new(pieces);
            if field.is_none() {
                // Keyword semantics are undefined by the spec (§1.10): ruleport searches for the
                // value as a substring of any field, like SigmaHQ's regression runner.
                pattern = StrPattern::new(
                    std::iter::once(Piece::AnyChars)
                        .chain(pattern.pieces().iter().cloned())
                        .chain(std::iter::once(Piece::AnyChars)),
                );
            }
            Expr::pred(subject, Op::Match { pattern, case })
        }
        Val::Num(s) if field.is_none() => Expr::pred(
            subject,
            Op::Match {
                pattern: StrPattern::contains(scalar_text(&s)),
                case,
            },
        ),
        Val::Bool(b) if field.is_none() => Expr::pred(
            subject,
            Op::Match {
                pattern: StrPattern::contains(b.to_string()),
                case,
            },
        ),
        Val::Num(s) => {
            if cased {
                Expr::pred(
                    subject,
                    Op::Match {
                        pattern: StrPattern::literal(scalar_text(&s)),
                        case,
                    },
                )
            } else {
                Expr::pred(subject, Op::Eq(s))
            }
        }
        Val::Bool(b) => {
            if cased {
                Expr::pred(
                    subject,
                    Op::Match {
                        pattern: StrPattern::literal(b.to_string()),
                        case,
                    },
                )
            } else {
                Expr::pred(subject, Op::Eq(Scalar::Bool(b)))
            }
        }
        Val::Null => match field {
            Some(f) => Expr::not(Expr::exists(f)),
            None => return Err(need_field("`null` value")),
        },
        Val::Regex {
            pattern,
            ci,
            multiline,
            dotall,
        } => {
            let spec = RegexSpec {
                pattern,
                case: if ci {
                    Case::Insensitive
                } else {
                    Case::Sensitive
                },
                multiline,
                dotall,
                anchor: RegexAnchor::Search,
            };
            let hir = match check_regex_syntax(&spec) {
                Ok(hir) => hir,
                Err(e) => {
                    let pcre = ruleport_model::pcre::pcre_only_constructs(&spec.pattern);
                    let (code, msg) = if pcre.is_empty() {
                        (
                            "E-SIGMA-REGEX",
                            format!(
                                "invalid regular expression `{}`: {}",
                                spec.pattern,
                                first_line(&e)
                            ),
                        )
                    } else {
                        (
                            "E-SIGMA-REGEX-PCRE",
                            format!(
                                "the regular expression `{}` uses PCRE-only features: {}",
                                spec.pattern,
                                pcre.join(", ")
                            ),
                        )
                    };
                    return Err(err(code, msg, pos).with_hint(
                        "ruleport stores regexes in RE2/Rust syntax, which most SIEMs also accept",
                    ));
                }
            };
            // The syntax check parsed exactly `regex_source(&spec)` (flags, no anchoring).
            if let Err(e) = ruleport_model::matching::check_parsed_regex_limits(&spec, &hir) {
                w.0.push(
                    Diagnostic::warning(
                        "W-SIGMA-REGEX-SIZE",
                        format!("the regular expression `{}` is valid but exceeds the reference evaluator's size limit: {}", spec.pattern, first_line(&e)),
                    )
                    .at(pos)
                    .with_hint("Unicode classes such as `\\w` repeated many times compile large; `(?-u:\\w)` is ASCII-only"),
                );
            }
            if cased {
                w.0.push(
                    Diagnostic::warning("W-SIGMA-CASED-REGEX", "`cased` has no effect on `re`: regexes are case-sensitive unless `i` is set")
                        .at(pos),
                );
            }
            Expr::pred(subject, Op::Regex(spec))
        }
        Val::Cidr(net) => Expr::pred(subject, Op::Cidr(net)),
        Val::FieldRef { name, kind } => Expr::pred(
            subject,
            Op::FieldRef {
                other: name,
                kind,
                case,
            },
        ),
        Val::Cmp(op, value) => Expr::pred(subject, Op::Cmp { op, value }),
        Val::Exists(true) => Expr::pred(subject, Op::Exists),
        Val::Exists(false) => Expr::not(Expr::pred(subject, Op::Exists)),
    })
}

/// Syntax check with the Rust regex parser (no compile-size limit: size is the evaluator's concern).
pub(crate) fn check_regex_syntax(spec: &RegexSpec) -> Result<regex_syntax::hir::Hir, String> {
    let mut flags = String::new();
    if spec.case.is_insensitive() {
        flags.push('i');
    }
    if spec.multiline {
        flags.push('m');
    }
    if spec.dotall {
        flags.push('s');
    }
    let full = if flags.is_empty() {
        spec.pattern.clone()
    } else {
        format!("(?{flags}){}", spec.pattern)
    };
    regex_syntax::ParserBuilder::new()
        .nest_limit(250)
        .build()
        .parse(&full)
        .map_err(|e| e.to_string())
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::*;

    fn lit(s: &str) -> Piece {
        Lit(s.into())
    }

    #[test]
    fn windash_selects_dashes_like_pysigma() {
        // ` -foo -bar` → both dashes replaced: 5 × 5 = 25 variants.
        assert_eq!(windash(&[lit(" -foo -bar")]).map(|v| v.len()), Some(25));
        // A hyphen inside a word (`a-b`) is not a switch.
        assert_eq!(windash(&[lit("a-b")]), Some(vec![vec![lit("a-b")]]));
        // `--foo`: only the second dash is followed by a word character.
        let v = windash(&[lit("--foo")]).expect("small");
        assert_eq!(v.len(), 5);
        assert!(v.contains(&vec![lit("-/foo")]));
        assert!(v.contains(&vec![lit("-\u{2015}foo")]));
        // Piece boundaries are string starts (the dash after `*`).
        let v = windash(&[AnyChars, lit("-x"), AnyChars]).expect("small");
        assert_eq!(v.len(), 5);
        assert!(v.contains(&vec![AnyChars, lit("\u{2013}x"), AnyChars]));
        // A trailing dash (nothing after it) is not replaced.
        assert_eq!(windash(&[lit("x -")]).map(|v| v.len()), Some(1));
        assert_eq!(
            windash(&[lit(" -a -b -c -d -e -f")]),
            None,
            "5^6 combinations are refused"
        );
    }

    #[test]
    fn utf16_encodings() {
        assert_eq!(utf16_chars("AB", false), "A\0B\0");
        assert_eq!(utf16_chars("AB", true), "\0A\0B");
        assert_eq!(utf16_chars("é", false), "\u{e9}\0");
    }
}
