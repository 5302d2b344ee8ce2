//! The Sigma condition language: a tokenizer and a recursive-descent parser with the spec's
//! precedence (`or` < `and` < `not` < `x of` < parentheses).
//!
//! Deliberate differences from pySigma's pyparsing grammar (sigma.md §1.6): operators are
//! case-insensitive whole words (so `AND`, `Not` work and `notepad` is an identifier), patterns may
//! contain `-` and `*` anywhere, and a pattern that matches no identifier is an error.

use ruleport_model::Expr;

/// Deepest nesting of parentheses and `not` accepted.
pub(crate) const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Quantifier {
    /// `1 of` / `any of`: OR of the matched identifiers.
    One,
    /// `all of`: AND.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Ident {
        name: String,
        offset: usize,
    },
    Of {
        quant: Quantifier,
        pattern: Option<String>,
        offset: usize,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

/// A condition error: message, byte offset inside the condition text, optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CondError {
    pub message: String,
    pub offset: usize,
    pub hint: Option<String>,
    pub code: &'static str,
}

impl CondError {
    fn new(message: impl Into<String>, offset: usize) -> Self {
        CondError {
            message: message.into(),
            offset,
            hint: None,
            code: "E-SIGMA-CONDITION",
        }
    }

    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    Them,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, CondError> {
    let mut out = Vec::new();
    let mut iter = text.char_indices().peekable();
    while let Some(&(i, c)) = iter.peek() {
        match c {
            c if c.is_whitespace() => {
                iter.next();
            }
            '(' => {
                out.push((Tok::LParen, i));
                iter.next();
            }
            ')' => {
                out.push((Tok::RParen, i));
                iter.next();
            }
            '|' => {
                return Err(CondError::new(
                    "aggregation expressions after `|` (count, min, max, near…) were removed in Sigma 2",
                    i,
                )
                .hint("express the aggregation as a correlation rule (event_count, value_count, temporal…)")
                .with_code("E-SIGMA-AGGREGATION"))
            }
            _ => {
                let start = i;
                let mut word = String::new();
                while let Some(&(_, c)) = iter.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '|') {
                        break;
                    }
                    word.push(c);
                    iter.next();
                }
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "of" => Tok::Of,
                    "them" => Tok::Them,
                    _ => Tok::Word(word),
                };
                out.push((tok, start));
            }
        }
    }
    Ok(out)
}

impl CondError {
    fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

struct CondParser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
    depth: usize,
}

/// Parse a condition string.
pub(crate) fn parse(text: &str) -> Result<Cond, CondError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(CondError::new("the condition is empty", 0));
    }
    let mut p = CondParser {
        toks,
        i: 0,
        end: text.len(),
        depth: 0,
    };
    let c = p.or_expr()?;
    if let Some((t, off)) = p.toks.get(p.i) {
        let what = match t {
            Tok::RParen => "unbalanced `)`".to_string(),
            Tok::Word(w) => format!("unexpected `{w}`: expected `and` or `or`"),
            other => format!("unexpected {}", describe(other)),
        };
        return Err(CondError::new(what, *off));
    }
    Ok(c)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::And => "`and`".into(),
        Tok::Or => "`or`".into(),
        Tok::Not => "`not`".into(),
        Tok::Of => "`of`".into(),
        Tok::Them => "`them`".into(),
        Tok::Word(w) => format!("`{w}`"),
    }
}

impl CondParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.i).map(|(_, o)| *o).unwrap_or(self.end)
    }

    fn enter(&mut self) -> Result<(), CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CondError::new(
                format!("the condition nests deeper than {MAX_DEPTH} levels"),
                self.offset(),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some(&Tok::And) {
            self.i += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Cond, CondError> {
        if self.peek() == Some(&Tok::Not) {
            self.i += 1;
            self.enter()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        let off = self.offset();
        let Some((tok, _)) = self.toks.get(self.i).cloned() else {
            return Err(CondError::new(
                "the condition ends where an identifier was expected",
                off,
            ));
        };
        match tok {
            Tok::LParen => {
                self.i += 1;
                self.enter()?;
                let inner = self.or_expr()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(CondError::new("missing `)`", self.offset()));
                }
                self.i += 1;
                Ok(inner)
            }
            Tok::Word(w) => {
                if self.toks.get(self.i + 1).map(|(t, _)| t) == Some(&Tok::Of) {
                    let quant = match w.to_ascii_lowercase().as_str() {
                        "1" | "any" => Quantifier::One,
                        "all" => Quantifier::All,
                        _ => {
                            return Err(CondError::new(
                                format!("`{w} of` is not a Sigma quantifier"),
                                off,
                            )
                            .hint("use `1 of`, `any of` or `all of`"))
                        }
                    };
                    self.i += 2;
                    let toff = self.offset();
                    let pattern = match self.toks.get(self.i).cloned() {
                        Some((Tok::Them, _)) => None,
                        Some((Tok::Word(p), _)) => Some(p),
                        _ => {
                            return Err(CondError::new(
                                "expected `them` or an identifier pattern after `of`",
                                toff,
                            ))
                        }
                    };
                    self.i += 1;
                    return Ok(Cond::Of {
                        quant,
                        pattern,
                        offset: toff,
                    });
                }
                if self.toks.get(self.i + 1).map(|(t, _)| t) == Some(&Tok::LParen) {
                    return Err(CondError::new(
                        format!("`{w}(…)` is not Sigma: conditions have no function calls"),
                        off,
                    )
                    .hint("Sigma 1 aggregations such as `count()` became correlation rules in Sigma 2")
                    .with_code("E-SIGMA-AGGREGATION"));
                }
                self.i += 1;
                Ok(Cond::Ident {
                    name: w,
                    offset: off,
                })
            }
            Tok::Them => Err(CondError::new("`them` must follow `1 of` or `all of`", off)),
            other => Err(CondError::new(
                format!(
                    "unexpected {} where an identifier was expected",
                    describe(&other)
                ),
                off,
            )),
        }
    }
}

/// Glob match of an identifier pattern (`*` any run; every other character literal).
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = name.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Turn a parsed condition into an expression over the rule's identifiers (in definition order).
pub(crate) fn resolve(cond: &Cond, idents: &[(String, Expr)]) -> Result<Expr, CondError> {
    resolve_at(cond, idents, 0)
}

fn resolve_at(cond: &Cond, idents: &[(String, Expr)], depth: usize) -> Result<Expr, CondError> {
    if depth > MAX_DEPTH * 2 {
        return Err(CondError::new("the condition nests too deeply", 0));
    }
    Ok(match cond {
        Cond::Ident { name, offset } => match idents.iter().find(|(n, _)| n == name) {
            Some((_, e)) => e.clone(),
            None => {
                let mut err =
                    CondError::new(format!("unknown search identifier `{name}`"), *offset)
                        .with_code("E-SIGMA-UNKNOWN-IDENTIFIER");
                if name.eq_ignore_ascii_case("near") {
                    err =
                        err.hint("`near` was removed in Sigma 2; use a temporal correlation rule");
                } else if let Some(s) =
                    ruleport_model::diag::did_you_mean(name, idents.iter().map(|(n, _)| n.as_str()))
                {
                    err = err.hint(format!("did you mean `{s}`?"));
                } else if !idents.is_empty() {
                    let names: Vec<&str> = idents.iter().map(|(n, _)| n.as_str()).collect();
                    err = err.hint(format!("defined identifiers: {}", names.join(", ")));
                }
                return Err(err);
            }
        },
        Cond::Of {
            quant,
            pattern,
            offset,
        } => {
            let matched: Vec<Expr> = idents
                .iter()
                .filter(|(n, _)| match pattern {
                    None => !n.starts_with('_'),
                    Some(p) => pattern_matches(p, n),
                })
                .map(|(_, e)| e.clone())
                .collect();
            if matched.is_empty() {
                let what = match pattern {
                    None => "`them` matches no search identifier".to_string(),
                    Some(p) => format!("the pattern `{p}` matches no search identifier"),
                };
                return Err(CondError::new(what, *offset)
                    .with_code("E-SIGMA-EMPTY-PATTERN")
                    .hint("an empty `x of` has no defined meaning in Sigma; fix the pattern or the identifiers"));
            }
            match quant {
                Quantifier::One => Expr::or(matched),
                Quantifier::All => Expr::and(matched),
            }
        }
        Cond::And(items) => Expr::and(
            items
                .iter()
                .map(|c| resolve_at(c, idents, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(items) => Expr::or(
            items
                .iter()
                .map(|c| resolve_at(c, idents, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(inner) => Expr::not(resolve_at(inner, idents, depth + 1)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruleport_model::{Case, StrPattern};

    fn leaf(n: &str) -> Expr {
        Expr::matches(n, StrPattern::literal("x"), Case::Insensitive)
    }

    fn idents(names: &[&str]) -> Vec<(String, Expr)> {
        names.iter().map(|n| (n.to_string(), leaf(n))).collect()
    }

    fn run(cond: &str, names: &[&str]) -> Result<Expr, CondError> {
        resolve(&parse(cond)?, &idents(names))
    }

    #[test]
    fn precedence_or_and_not() {
        // a or b and not c  ==  a or (b and (not c))
        let e = run("a or b and not c", &["a", "b", "c"]).expect("ok");
        assert_eq!(
            e,
            Expr::or(vec![
                leaf("a"),
                Expr::and(vec![leaf("b"), Expr::not(leaf("c"))])
            ])
        );
        // not a and b == (not a) and b
        let e = run("not a and b", &["a", "b"]).expect("ok");
        assert_eq!(e, Expr::and(vec![Expr::not(leaf("a")), leaf("b")]));
        // parentheses override
        let e = run("(a or b) and c", &["a", "b", "c"]).expect("ok");
        assert_eq!(
            e,
            Expr::and(vec![Expr::or(vec![leaf("a"), leaf("b")]), leaf("c")])
        );
        // `x of` binds tighter than not: not 1 of s* == not (s1 or s2)
        let e = run("not 1 of s*", &["s1", "s2"]).expect("ok");
        assert_eq!(e, Expr::not(Expr::or(vec![leaf("s1"), leaf("s2")])));
    }

    #[test]
    fn operators_in_any_case_and_notepad() {
        let e = run("a AND Not b OR c", &["a", "b", "c"]).expect("ok");
        assert_eq!(
            e,
            Expr::or(vec![
                Expr::and(vec![leaf("a"), Expr::not(leaf("b"))]),
                leaf("c")
            ])
        );
        // pySigma splits `notepad` into `not epad`; here it is an identifier.
        assert_eq!(run("notepad", &["notepad"]).expect("ok"), leaf("notepad"));
        assert_eq!(
            run("not notepad", &["notepad"]).expect("ok"),
            Expr::not(leaf("notepad"))
        );
        assert_eq!(
            run("oregon and andy", &["oregon", "andy"]).expect("ok"),
            Expr::and(vec![leaf("oregon"), leaf("andy")])
        );
    }

    #[test]
    fn quantifiers_and_them() {
        let names = ["sel_a", "sel-b", "filter", "_hidden"];
        assert_eq!(
            run("all of them", &names).expect("ok"),
            Expr::and(vec![leaf("sel_a"), leaf("sel-b"), leaf("filter")])
        );
        assert_eq!(
            run("1 of them", &names).expect("ok"),
            Expr::or(vec![leaf("sel_a"), leaf("sel-b"), leaf("filter")])
        );
        assert_eq!(run("any of sel-*", &names).expect("ok"), leaf("sel-b"));
        assert_eq!(
            run("1 of sel*", &names).expect("ok"),
            Expr::or(vec![leaf("sel_a"), leaf("sel-b")])
        );
        assert_eq!(run("all of *a", &names).expect("ok"), leaf("sel_a"));
        assert_eq!(run("1 of _*", &names).expect("ok"), leaf("_hidden"));
        assert_eq!(run("ALL OF *lter", &names).expect("ok"), leaf("filter"));
    }

    #[test]
    fn empty_pattern_is_an_error() {
        let err = run("sel and not 1 of filter*", &["sel"]).expect_err("must fail");
        assert_eq!(err.code, "E-SIGMA-EMPTY-PATTERN");
        assert_eq!(err.offset, "sel and not 1 of ".len());
    }

    #[test]
    fn errors() {
        let e = run("sel | count() > 5", &["sel"]).expect_err("pipe");
        assert_eq!(e.code, "E-SIGMA-AGGREGATION");
        assert_eq!(e.offset, 4);
        let e = run("selction", &["selection"]).expect_err("typo");
        assert_eq!(e.hint.as_deref(), Some("did you mean `selection`?"));
        assert!(run("2 of sel*", &["sel"]).is_err());
        assert!(run("(a", &["a"]).is_err());
        assert!(run("a)", &["a"]).is_err());
        assert!(run("a b", &["a", "b"]).is_err());
        assert!(run("a and", &["a"]).is_err());
        assert!(run("", &["a"]).is_err());
        assert!(run("them", &["a"]).is_err());
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(run(&deep, &["a"]).is_err());
        let nots = format!("{}a", "not ".repeat(100_000));
        assert!(run(&nots, &["a"]).is_err());
    }

    #[test]
    fn newlines_are_whitespace() {
        assert_eq!(
            run("a\n    and\n    not b\n", &["a", "b"]).expect("ok"),
            Expr::and(vec![leaf("a"), Expr::not(leaf("b"))])
        );
    }
}
