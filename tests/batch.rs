//! Batch resilience (issue #12): a directory of 4,000 rules of which 1% are broken (truncated,
//! in the wrong encoding, or binary). Every good rule is converted with complete output, every
//! bad one is reported with its path (and line and column where the text has them), and the exit
//! code is non-zero.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const RULES: usize = 4_000;
const BROKEN_EVERY: usize = 100;

fn sigma_rule(n: usize) -> String {
    format!(
        "title: Batch rule {n} é\nid: 00000000-0000-4000-8000-{n:012}\nstatus: test\n\
         description: generated rule {n}\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  selection:\n    CommandLine|contains: 'marker-{n}-x'\n    Image|endswith: '\\tool{n}.exe'\n\
         \x20 condition: selection\nlevel: medium\n"
    )
}

fn elastic_rule(n: usize) -> String {
    format!(
        "[metadata]\ncreation_date = \"2024/01/01\"\nmaturity = \"production\"\nupdated_date = \"2024/01/01\"\n\n\
         [rule]\nauthor = [\"batch\"]\ndescription = \"generated rule {n}\"\nindex = [\"logs-endpoint.events.process-*\"]\n\
         language = \"kuery\"\nlicense = \"Elastic License v2\"\nname = \"Batch rule {n}\"\nrisk_score = 47\n\
         rule_id = \"00000000-0000-4000-9000-{n:012}\"\nseverity = \"medium\"\ntype = \"query\"\n\n\
         query = '''\nevent.category:process and process.command_line:*marker-{n}-x*\n'''\n"
    )
}

/// How the broken `k`-th file is damaged.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Damage {
    TruncatedYaml,
    TruncatedToml,
    Utf16,
    Latin1,
    Binary,
}

fn damaged(kind: Damage, n: usize) -> (String, Vec<u8>) {
    match kind {
        Damage::TruncatedYaml => {
            let t = sigma_rule(n);
            // Cut inside the quoted value: an unterminated string.
            let cut = t.find("marker-").expect("marker") + 3;
            (format!("rule_{n:05}.yml"), t.as_bytes()[..cut].to_vec())
        }
        Damage::TruncatedToml => {
            let t = elastic_rule(n);
            let cut = t.find("marker-").expect("marker");
            (format!("rule_{n:05}.toml"), t.as_bytes()[..cut].to_vec())
        }
        Damage::Utf16 => {
            let mut b = vec![0xff, 0xfe];
            b.extend(sigma_rule(n).encode_utf16().flat_map(u16::to_le_bytes));
            (format!("rule_{n:05}.yml"), b)
        }
        Damage::Latin1 => {
            let b = sigma_rule(n)
                .chars()
                .map(|c| if c == 'é' { 0xe9 } else { c as u8 })
                .collect();
            (format!("rule_{n:05}.yml"), b)
        }
        Damage::Binary => {
            // Deterministic noise with NUL bytes.
            let mut x: u32 = 0x9e37_79b9 ^ n as u32;
            let b = (0..2048)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x >> 24) as u8
                })
                .collect();
            (format!("rule_{n:05}.toml"), b)
        }
    }
}

#[test]
fn a_batch_with_one_percent_broken_rules_converts_every_good_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let kinds = [
        Damage::TruncatedYaml,
        Damage::TruncatedToml,
        Damage::Utf16,
        Damage::Latin1,
        Damage::Binary,
    ];
    let mut good: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad: BTreeMap<String, Damage> = BTreeMap::new();
    for n in 0..RULES {
        if n % BROKEN_EVERY == 7 {
            let kind = kinds[(n / BROKEN_EVERY) % kinds.len()];
            let (name, bytes) = damaged(kind, n);
            std::fs::write(dir.path().join(&name), bytes).expect("write");
            bad.insert(name, kind);
        } else if n % 4 == 0 {
            let name = format!("rule_{n:05}.toml");
            std::fs::write(dir.path().join(&name), elastic_rule(n)).expect("write");
            good.insert(name, n);
        } else {
            let name = format!("rule_{n:05}.yml");
            std::fs::write(dir.path().join(&name), sigma_rule(n)).expect("write");
            good.insert(name, n);
        }
    }
    assert_eq!(bad.len(), RULES / BROKEN_EVERY);

    let out = Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args([
            "convert",
            dir.path().to_str().expect("utf8"),
            "--to",
            "kuery,splunk",
        ])
        .args(["--format", "json", "-q", "--on-approximate", "ignore"])
        .output()
        .expect("run ruleport");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");

    // Every good rule: a complete port per target, carrying its own values.
    let ports: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON output");
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &ports {
        let path = p["path"].as_str().unwrap_or_default();
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = p["target"].as_str().unwrap_or_default().to_string();
        let Some(&n) = good.get(&name) else {
            panic!("a port for a file that is not a good rule: {p}");
        };
        let text = p["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} {target}: no text: {p}"));
        assert!(
            text.contains(&format!("marker-{n}-x")),
            "{name} {target}: incomplete output:\n{text}"
        );
        if name.ends_with(".yml") {
            assert!(
                text.contains(&format!("tool{n}.exe")),
                "{name} {target}: incomplete output:\n{text}"
            );
        }
        seen.insert((name, target));
    }
    for name in good.keys() {
        for t in ["kuery", "splunk"] {
            assert!(
                seen.contains(&(name.clone(), t.to_string())),
                "{name}: no {t} port"
            );
        }
    }

    // Every bad one: reported with its path; with line and column where the text has lines.
    let lines: Vec<&str> = stderr.lines().collect();
    for (name, kind) in &bad {
        let report = lines
            .iter()
            .find(|l| l.contains(name.as_str()) && l.contains("error"))
            .unwrap_or_else(|| panic!("{name} ({kind:?}) is not reported:\n{stderr}"));
        let at = report.split(name.as_str()).nth(1).unwrap_or_default();
        let positioned = at
            .strip_prefix(':')
            .and_then(|r| {
                r.split(':')
                    .take(2)
                    .map(|x| x.parse::<u32>().ok())
                    .collect::<Option<Vec<_>>>()
            })
            .is_some_and(|v| v.len() == 2 && v.iter().all(|x| *x >= 1));
        // Every damage has a position: UTF-16 at 1:1 (its byte-order mark), binary at its first NUL.
        assert!(
            positioned,
            "{name} ({kind:?}) has no line and column: {report}"
        );
        if *kind == Damage::Utf16 {
            assert!(
                report.contains(":1:1:") && report.contains("UTF-16"),
                "{report}"
            );
        }
    }
}
