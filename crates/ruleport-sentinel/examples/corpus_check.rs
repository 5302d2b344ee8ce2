//! Emit every Sigma (`.yml`) or Elastic detection-rules (`.toml`) rule of a corpus as Sentinel KQL
//! through the built-in mapping, parse each query back with this crate's parser, and write
//! `{id, query}` lines for `kusto-check/kqlcheck.js`.
//!
//! Usage: cargo run -p ruleport-sentinel --features corpus-check --example corpus_check -- RULES_DIR OUT.jsonl
//! then:  node kusto-check/kqlcheck.js SCHEMA.json… < OUT.jsonl

use ruleport_mapping::Mapping;
use ruleport_model::eval::expr_matches;
use ruleport_model::{
    Detection, Expr, MappedRule, Op, Piece, Port, QueryLanguage, Scalar, Schema, Subject,
};
use ruleport_sentinel::Sentinel;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yml" || x == "yaml" || x == "toml")
        {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: corpus_check RULES_DIR OUT.jsonl");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    walk(Path::new(dir), &mut files);
    files.sort();
    let mapping = Mapping::builtin();
    let mut sink = std::fs::File::create(out).expect("create output");
    let (mut rules, mut emitted, mut exact, mut parse_errors) = (0, 0, 0, 0);
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut approx: BTreeMap<String, usize> = BTreeMap::new();
    let mut fuzz_stats = FuzzStats::default();
    for f in &files {
        let imported = if f.extension().is_some_and(|x| x == "toml") {
            match ruleport_elastic::import_file(f) {
                Ok(r) => vec![r],
                Err(_) => {
                    *unsupported.entry("import-error".into()).or_default() += 1;
                    vec![]
                }
            }
        } else {
            ruleport_sigma::import_file(f).rules
        };
        for rule in imported {
            rules += 1;
            let mapped = mapping.map_rule(&rule, Schema::Sentinel);
            match Sentinel.emit(&mapped) {
                Ok(port) => {
                    emitted += 1;
                    if port.fidelity.is_exact() {
                        exact += 1;
                    }
                    for r in port.fidelity.reasons() {
                        *approx.entry(r.code.clone()).or_default() += 1;
                    }
                    if let Err(d) = ruleport_sentinel::compile(&port.text) {
                        parse_errors += 1;
                        eprintln!("PARSE {}: {d}\n{}", f.display(), port.text);
                    }
                    if std::env::var_os("FUZZ").is_some() {
                        fuzz(&mapped, &port, &mut fuzz_stats);
                    }
                    let id = format!("{}#{}", f.display(), rule.meta.id);
                    writeln!(
                        sink,
                        "{}",
                        serde_json::json!({"id": id, "query": port.text})
                    )
                    .expect("write");
                }
                Err(u) => {
                    if std::env::var_os("SHOW_UNSUPPORTED").is_some() {
                        eprintln!("UNSUPPORTED {}: [{}] {}", f.display(), u.code, u.reason);
                    }
                    *unsupported.entry(u.code).or_default() += 1
                }
            }
        }
    }
    println!("rules {rules}, emitted {emitted} ({exact} exact), own-parser errors {parse_errors}");
    println!("unsupported: {unsupported:?}");
    println!("approximations: {approx:?}");
    if std::env::var_os("FUZZ").is_some() {
        println!(
            "fuzz: {} rules, {} rows, {} exact-port mismatches, {} approximate-port differences",
            fuzz_stats.rules, fuzz_stats.rows, fuzz_stats.mismatches, fuzz_stats.approx_diffs
        );
    }
}

#[derive(Default)]
struct FuzzStats {
    rules: usize,
    rows: usize,
    mismatches: usize,
    approx_diffs: usize,
}

/// Values that exercise a predicate: its literals with wildcards filled, case-flipped, cut.
fn candidates(op: &Op) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    match op {
        Op::Match { pattern, .. } => {
            for fill in ["", "x", "Zq "] {
                let mut s = String::new();
                for p in pattern.pieces() {
                    match p {
                        Piece::Lit(l) => s.push_str(l),
                        Piece::AnyChars => s.push_str(fill),
                        Piece::OneChar => s.push('y'),
                        Piece::Placeholder(n) => s.push_str(&format!("%{n}%")),
                    }
                }
                out.push(serde_json::json!(s.to_uppercase()));
                out.push(serde_json::json!(s.chars().skip(1).collect::<String>()));
                out.push(serde_json::json!(s));
            }
        }
        Op::Eq(Scalar::Int(i)) => out.extend([serde_json::json!(i), serde_json::json!(i + 1)]),
        Op::Eq(Scalar::Str(t)) => out.push(serde_json::json!(t)),
        Op::Cmp {
            value: Scalar::Int(i),
            ..
        } => out.extend([
            serde_json::json!(i - 1),
            serde_json::json!(i),
            serde_json::json!(i + 1),
        ]),
        Op::Cidr(net) => out.push(serde_json::json!(net.addr().to_string())),
        Op::Exists => out.push(serde_json::json!("present")),
        _ => {}
    }
    out.push(serde_json::json!(""));
    out
}

/// Compare the emitted query with the IR on rows built from the rule's own values.
fn fuzz(m: &MappedRule, port: &Port, stats: &mut FuzzStats) {
    let Detection::Query(f) = &m.rule.detection else {
        return;
    };
    if m.selection.tables.len() != 1 {
        return;
    }
    let expr = match &m.selection.condition {
        Some(c) => Expr::and(vec![c.clone(), f.expr.clone()]),
        None => f.expr.clone(),
    };
    let mut fields: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut plain = true;
    expr.for_each_pred(&mut |p| match &p.subject {
        Subject::Field { name, .. } if !name.contains(['.', '[']) => fields
            .entry(name.clone())
            .or_default()
            .extend(candidates(&p.op)),
        _ => plain = false,
    });
    if !plain || fields.is_empty() {
        return;
    }
    let Ok(q) = ruleport_sentinel::compile(&port.text) else {
        return;
    };
    let table = &m.selection.tables[0];
    let schemas = ruleport_sentinel::schema::TableSchemas::builtin();
    let numeric = |c: &str| {
        schemas
            .columns(table)
            .and_then(|cols| cols.get(c))
            .is_some_and(|t| matches!(t.as_str(), "int" | "long" | "real"))
    };
    stats.rules += 1;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..64 {
        let mut row = serde_json::Map::new();
        row.insert("Type".into(), serde_json::json!(table));
        for (name, vals) in &fields {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pick = (seed % (vals.len() as u64 + 1)) as usize;
            let Some(v) = vals.get(pick) else { continue };
            let is_bool = schemas
                .columns(table)
                .and_then(|cols| cols.get(name))
                .is_some_and(|t| t == "bool");
            let v = if is_bool {
                match v.as_str().map(|s| s.to_ascii_lowercase()) {
                    Some(s) if s == "true" || s == "false" => serde_json::json!(s == "true"),
                    _ => continue,
                }
            } else if numeric(name) {
                match v.as_str().map(|s| s.parse::<i64>()) {
                    Some(Ok(n)) => serde_json::json!(n),
                    Some(Err(_)) => continue,
                    None => v.clone(),
                }
            } else {
                match v {
                    serde_json::Value::Number(n) => serde_json::json!(n.to_string()),
                    other => other.clone(),
                }
            };
            row.insert(name.clone(), v);
        }
        let row = serde_json::Value::Object(row);
        stats.rows += 1;
        let (Ok(want), Ok(got)) = (expr_matches(&expr, &row), q.row_matches(&row)) else {
            continue;
        };
        if want != got {
            if port.fidelity.is_exact() {
                stats.mismatches += 1;
                if stats.mismatches <= 40 {
                    eprintln!(
                        "MISMATCH ir={want} kusto={got}\n  row {row}\n  {}",
                        port.text
                    );
                }
            } else {
                stats.approx_diffs += 1;
                if std::env::var_os("FUZZ_APPROX").is_some() {
                    let codes: Vec<&str> = port
                        .fidelity
                        .reasons()
                        .iter()
                        .map(|r| r.code.as_str())
                        .collect();
                    eprintln!("APPROX {codes:?} ir={want} kusto={got} row {row}");
                }
            }
        }
    }
}
