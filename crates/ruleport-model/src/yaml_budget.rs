//! A streaming pre-check for YAML that is read with serde (fixture, mapping and pipeline files).
//!
//! serde_norway's alias repetition limit stops node bombs ("billion laughs") but not one long
//! string aliased many times, and it reports deep nesting only after loading every event. This
//! pass walks the event stream once, keeps only a size per anchor, and refuses a document whose
//! aliases would expand to more than [`MAX_ALIAS_BYTES`] (costed as the Sigma reader does: 64
//! bytes a node plus string bytes) or that nests deeper than [`MAX_DEPTH`], before serde copies
//! anything.

use crate::{Diagnostic, Pos};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// Most bytes alias expansion may add to a document.
pub const MAX_ALIAS_BYTES: usize = 16 << 20;
/// Deepest nesting accepted: serde_norway's own recursion limit.
pub const MAX_DEPTH: usize = 128;
/// Cost of one node besides its string bytes.
const NODE_COST: usize = 64;

/// Check `text` against the alias-expansion and depth budgets. The error carries `code`, a
/// message and the position (1-based) of the alias or collection that broke the budget, or of
/// the YAML syntax error; callers add the file.
pub fn check_yaml_budget(text: &str, code: &str) -> Result<(), Diagnostic> {
    // yaml-rust2 asserts internally in a few places; a panic there must not escape as a crash.
    match std::panic::catch_unwind(|| check_inner(text, code)) {
        Ok(r) => r,
        Err(_) => {
            Err(Diagnostic::error(code, "the YAML parser failed on this input").at(Pos::new(1, 1)))
        }
    }
}

fn pos_of(m: &Marker) -> Pos {
    Pos::new(m.line().max(1) as u32, m.col() as u32 + 1)
}

fn check_inner(text: &str, code: &str) -> Result<(), Diagnostic> {
    let mut parser = Parser::new_from_str(text);
    // Expanded size of every anchored node (aliases inside it included).
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    // Size so far and anchor of every open collection.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut expanded = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            // The scanner's own flow-nesting limit can trip before the parser reports the depth.
            let message = if e.info().contains("recursion limit") {
                format!("YAML nested deeper than {MAX_DEPTH} levels")
            } else {
                format!("invalid YAML: {}", e.info())
            };
            Diagnostic::error(code, message).at(pos_of(e.marker()))
        })?;
        let pos = pos_of(&mark);
        let finished = match event {
            Event::StreamEnd => break,
            Event::Scalar(value, _, anchor, _) => Some((NODE_COST + value.len(), anchor)),
            Event::Alias(id) => {
                let Some(&size) = anchors.get(&id) else {
                    return Err(Diagnostic::error(code, "alias to an unknown anchor").at(pos));
                };
                expanded = expanded.saturating_add(size);
                if expanded > MAX_ALIAS_BYTES {
                    return Err(Diagnostic::error(
                        code,
                        format!(
                            "YAML aliases expand to too large a document (over {} MiB)",
                            MAX_ALIAS_BYTES >> 20
                        ),
                    )
                    .at(pos));
                }
                Some((size, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((NODE_COST, anchor));
                if open.len() > MAX_DEPTH {
                    return Err(Diagnostic::error(
                        code,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    )
                    .at(pos));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => None,
        };
        if let Some((size, anchor)) = finished {
            if anchor > 0 {
                anchors.insert(anchor, size);
            }
            if let Some(parent) = open.last_mut() {
                parent.0 = parent.0.saturating_add(size);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_documents_and_small_aliases_pass() {
        let text =
            "base: &b {a: 1, b: [x, y]}\ncases:\n  - *b\n  - {<<: *b, c: 2}\n---\nsecond: doc\n";
        assert!(check_yaml_budget(text, "E-T").is_ok());
    }

    #[test]
    fn one_long_string_aliased_many_times_is_refused_at_the_alias() {
        // 1 MiB string (plus 64 for the node): the 16th alias crosses 16 MiB.
        let mut text = format!("s: &s \"{}\"\nl:\n", "x".repeat(1 << 20));
        for _ in 0..100 {
            text.push_str("  - *s\n");
        }
        let d = check_yaml_budget(&text, "E-T").expect_err("over the budget");
        assert_eq!(d.code, "E-T");
        assert!(d.message.contains("16 MiB"), "{d}");
        assert_eq!(d.pos, Some(Pos::new(2 + 16, 5)));
    }

    #[test]
    fn nested_aliases_are_costed_by_their_expansion() {
        // Each level holds nine aliases of the one before: 9^6 leaves at the top.
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..=6 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        }
        let d = check_yaml_budget(&text, "E-T").expect_err("over the budget");
        assert!(d.message.contains("aliases expand"), "{d}");
        assert_eq!(d.pos.map(|p| p.line), Some(7));
    }

    #[test]
    fn deep_nesting_is_refused_early() {
        // Flow nesting: yaml-rust2's scanner stops at its own limit, a little past ours.
        let text = "[".repeat(100_000);
        let d = check_yaml_budget(&text, "E-T").expect_err("over the budget");
        assert!(d.message.contains("deeper than 128"), "{d}");
        assert!(
            d.pos
                .is_some_and(|p| p.line == 1 && (129..=300).contains(&p.column)),
            "{d}"
        );
        // Block nesting: refused at the 129th level.
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("{}k:\n", " ".repeat(i)));
        }
        let d = check_yaml_budget(&text, "E-T").expect_err("over the budget");
        assert!(d.message.contains("deeper than 128"), "{d}");
        assert_eq!(d.pos.map(|p| p.line), Some(129));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let d = check_yaml_budget("a: [b\nc: *nope", "E-T").expect_err("over the budget");
        assert!(d.pos.is_some(), "{d}");
        let d = check_yaml_budget("a: *nope\n", "E-T").expect_err("over the budget");
        assert!(d.message.contains("unknown anchor"), "{d}");
        assert_eq!(d.pos, Some(Pos::new(1, 4)));
    }
}
