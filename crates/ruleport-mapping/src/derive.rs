//! Value tests on a datum that the target derives from one of its fields (`process.name` is
//! the last segment of Sysmon's `Image`): the test is rewritten over the whole field.

use crate::data::{FieldRow, Transform};
use ruleport_model::{
    Expr, Op, Piece, Predicate, RegexAnchor, RegexSpec, Scalar, StrPattern, Subject,
};

/// The predicate `p` on the datum, rewritten over the target field `field` that holds a path
/// whose last segment is the datum. `None` when the test cannot be said over the path.
pub(crate) fn rewrite_basename(p: &Predicate, field: &str, t: Transform) -> Option<Expr> {
    let sep = t.separator();
    let subject = Subject::Field {
        name: field.to_string(),
        optional: match &p.subject {
            Subject::Field { optional, .. } => *optional,
            _ => false,
        },
    };
    let (pattern, case) = match &p.op {
        // A path exists without an extension; a name exists with its path.
        Op::Exists if t == Transform::Extension => return None,
        Op::Exists => return Some(Expr::pred(subject, Op::Exists)),
        Op::Match { pattern, case } => (pattern.clone(), *case),
        Op::Eq(s) => {
            let text = match s {
                Scalar::Str(s) => s.clone(),
                other => other.to_string(),
            };
            (StrPattern::literal(text), ruleport_model::Case::Sensitive)
        }
        _ => return None,
    };
    let excluded = t.excluded();
    // A segment never holds the separator, and placeholders have no known text.
    for piece in pattern.pieces() {
        match piece {
            Piece::Lit(s) if s.contains(excluded) => return None,
            Piece::Placeholder(_) => return None,
            _ => {}
        }
    }
    let on = |pieces: Vec<Piece>| {
        Expr::pred(
            subject.clone(),
            Op::Match {
                pattern: StrPattern::new(pieces),
                case,
            },
        )
    };
    let pieces = pattern.pieces();
    match pieces {
        // An extension follows a dot: the value ends with `.ext`.
        [] | [Piece::Lit(_)] if t == Transform::Extension => {
            let ext = match pieces {
                [Piece::Lit(s)] => s.clone(),
                _ => String::new(),
            };
            Some(on(vec![Piece::AnyChars, Piece::Lit(format!(".{ext}"))]))
        }
        // The whole path is the name, or it ends with `<sep>name`.
        [] | [Piece::Lit(_)] => {
            let name = match pieces {
                [Piece::Lit(s)] => s.clone(),
                _ => String::new(),
            };
            Some(Expr::or(vec![
                on(vec![Piece::Lit(name.clone())]),
                on(vec![Piece::AnyChars, Piece::Lit(format!("{sep}{name}"))]),
            ]))
        }
        // Any value, or a suffix without separator: the path ends the same way.
        [Piece::AnyChars] | [Piece::AnyChars, Piece::Lit(_)] if t != Transform::Extension => {
            Some(on(pieces.to_vec()))
        }
        _ => {
            // Wildcards stay within the last segment.
            let not_sep = format!(
                "[^{}]",
                excluded
                    .iter()
                    .map(|c| regex::escape(&c.to_string()))
                    .collect::<String>()
            );
            let mut re = if t == Transform::Extension {
                regex::escape(".")
            } else {
                format!("(?:^|{})", regex::escape(&sep.to_string()))
            };
            for piece in pieces {
                match piece {
                    Piece::Lit(s) => re.push_str(&regex::escape(s)),
                    Piece::AnyChars => {
                        re.push_str(&not_sep);
                        re.push('*');
                    }
                    Piece::OneChar => re.push_str(&not_sep),
                    Piece::Placeholder(_) => return None,
                }
            }
            re.push('$');
            Some(Expr::pred(
                subject,
                Op::Regex(RegexSpec {
                    pattern: re,
                    case,
                    multiline: false,
                    dotall: false,
                    anchor: RegexAnchor::Search,
                }),
            ))
        }
    }
}

/// The predicate `p` on a datum derived from `field` by transform `t`, rewritten over `field`;
/// `None` when the test cannot be said there.
pub(crate) fn rewrite(
    p: &Predicate,
    field: &str,
    t: Transform,
    row: Option<&FieldRow>,
    fk: &str,
) -> Option<Expr> {
    match t {
        Transform::Presence => rewrite_presence(p, field, row?, fk),
        Transform::Argument => rewrite_argument(p, field),
        _ => rewrite_basename(p, field, t),
    }
}

/// A value test on a datum that says whether `field` is set (`event.outcome: failure` is
/// `errorCode` present): the row's `values` under `fk` name the datum's values for `present`
/// and `absent`. Only whole-value tests of one of those values can be rewritten.
pub(crate) fn rewrite_presence(
    p: &Predicate,
    field: &str,
    row: &FieldRow,
    fk: &str,
) -> Option<Expr> {
    let text = match &p.op {
        Op::Match { pattern, case } => {
            let lit = pattern.as_literal()?;
            (lit.to_string(), *case)
        }
        Op::Eq(Scalar::Str(s)) => (s.clone(), ruleport_model::Case::Sensitive),
        _ => return None,
    };
    let (text, case) = text;
    let values = row.values_for(fk)?;
    let state = values.iter().find(|(_, vs)| {
        vs.items().iter().any(|v| {
            if case.is_insensitive() {
                v.eq_ignore_ascii_case(&text)
            } else {
                *v == text
            }
        })
    })?;
    let subject = Subject::Field {
        name: field.to_string(),
        optional: matches!(p.subject, Subject::Field { optional: true, .. }),
    };
    let exists = Expr::pred(subject, Op::Exists);
    match state.0.as_str() {
        "present" => Some(exists),
        "absent" => Some(Expr::not(exists)),
        _ => None,
    }
}

/// The row's value-format note for the target key, as the approximation a rewritten test
/// carries (a derivation that only mostly holds says why).
pub(crate) fn derived_note(
    row: &FieldRow,
    source_field: &str,
    target_field: &str,
    tk: &str,
    to: ruleport_model::Schema,
) -> Option<ruleport_model::Approximation> {
    let vf = row.value_format_for(tk)?;
    Some(ruleport_model::Approximation::new(
        "value-format",
        format!(
            "`{source_field}` → `{target_field}` ({}): {}",
            to.name(),
            vf.reason
        ),
    ))
}

/// A value test on one argument, rewritten over the whole command line in `field`: the line
/// contains text the argument pattern matches. Every event the test matches still matches (an
/// argument is part of the line); more do, so the caller's row declares the approximation.
pub(crate) fn rewrite_argument(p: &Predicate, field: &str) -> Option<Expr> {
    let subject = Subject::Field {
        name: field.to_string(),
        optional: matches!(p.subject, Subject::Field { optional: true, .. }),
    };
    let (pattern, case) = match &p.op {
        Op::Exists => return Some(Expr::pred(subject, Op::Exists)),
        Op::Match { pattern, case } => (pattern.clone(), *case),
        Op::Eq(Scalar::Str(s)) => (
            StrPattern::literal(s.clone()),
            ruleport_model::Case::Sensitive,
        ),
        _ => return None,
    };
    if pattern
        .pieces()
        .iter()
        .any(|x| matches!(x, Piece::Placeholder(_)))
    {
        return None;
    }
    let mut pieces = vec![Piece::AnyChars];
    pieces.extend(pattern.pieces().iter().cloned());
    pieces.push(Piece::AnyChars);
    // `**` is one wildcard; StrPattern::new keeps pieces as given, so fold repeats here.
    pieces.dedup_by(|a, b| matches!((a, b), (Piece::AnyChars, Piece::AnyChars)));
    Some(Expr::pred(
        subject,
        Op::Match {
            pattern: StrPattern::new(pieces),
            case,
        },
    ))
}
