//! Validation with Microsoft's own Kusto parser and binder (npm `@kusto/language-service-next`,
//! run by `kusto-check/kqlcheck.js`) against the Sentinel table schemas. Ignored by default:
//! it needs `node` and, the first time, `npm ci` (offline when the npm cache has the package).
//! Run with `cargo test -p ruleport-sentinel --test kusto_language -- --ignored`.

mod common;

use ruleport_model::QueryLanguage;
use ruleport_sentinel::Sentinel;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn check_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kusto-check")
}

/// The crate's schema copies (the emitter checks columns against the same files), plus the
/// test-only custom table.
fn schema_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        "schemas/azure_monitor_tables.json",
        "schemas/defender_xdr_tables.json",
        "schemas/asim_tables.json",
        "schemas/connector_tables.json",
        "tests/data/custom_tables.json",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect()
}

/// Run kqlcheck.js over `(id, query)` pairs; returns one JSON result per query.
pub fn kqlcheck(queries: &[(String, String)]) -> Option<Vec<serde_json::Value>> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node not found: skipping Kusto.Language validation");
        return None;
    }
    let dir = check_dir();
    if !dir
        .join("node_modules/@kusto/language-service-next")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("run npm ci");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let schemas = schema_files();
    assert!(!schemas.is_empty(), "no Sentinel schema files found");
    let mut child = Command::new("node")
        .arg(dir.join("kqlcheck.js"))
        .args(&schemas)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for (id, q) in queries {
            let line = serde_json::json!({"id": id, "query": q});
            writeln!(stdin, "{line}").expect("write");
        }
    }
    let out = child.wait_with_output().expect("node output");
    assert!(
        out.status.success(),
        "kqlcheck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect(),
    )
}

#[test]
#[ignore = "needs node and the npm package (kusto-check/)"]
fn emitted_queries_pass_kusto_language() {
    let mut queries = Vec::new();
    for (name, m) in common::cases() {
        let port = Sentinel.emit(&m).unwrap_or_else(|u| panic!("{name}: {u}"));
        queries.push((name, port.text));
    }
    let opts = ruleport_sentinel::EmitOptions {
        lookback: ruleport_model::TimeSpan::parse("1h"),
        project: vec!["Computer".into(), "TargetUserName".into()],
    };
    for (name, m) in [
        (
            "options-query",
            common::query(
                common::glob("Computer", "dc*", ruleport_model::Case::Insensitive),
                &["SecurityEvent"],
                common::SECURITY_EVENT,
            ),
        ),
        ("options-event-count", common::event_count()),
        ("options-temporal", common::correlation(true)),
    ] {
        let port = Sentinel
            .emit_with_options(&m, &opts)
            .unwrap_or_else(|u| panic!("{name}: {u}"));
        queries.push((name.to_string(), port.text));
    }
    let Some(results) = kqlcheck(&queries) else {
        return;
    };
    assert_eq!(results.len(), queries.len());
    let mut failures = Vec::new();
    for (r, (name, q)) in results.iter().zip(&queries) {
        if r["ok"] != serde_json::Value::Bool(true) {
            failures.push(format!("{name}: {}\n{q}", r["diagnostics"]));
        }
    }
    assert!(
        failures.is_empty(),
        "Kusto.Language errors:\n{}",
        failures.join("\n\n")
    );
}

#[test]
#[ignore = "needs node and the npm package (kusto-check/)"]
fn kusto_language_catches_pysigma_mistakes() {
    // The checker itself must flag what pySigma emits, or a pass would mean nothing.
    let bad = [
        (
            "escape",
            r#"SecurityEvent | where CommandLine contains ":\*.""#,
        ),
        ("keyword", r#"SecurityEvent | where "mimikatz""#),
        (
            "long",
            r#"DeviceProcessEvents | where LogonId in~ ("0x3e7", "null")"#,
        ),
        ("column", r#"AuditLogs | where NoSuchColumn == "x""#),
    ];
    let queries: Vec<(String, String)> = bad
        .iter()
        .map(|(i, q)| (i.to_string(), q.to_string()))
        .collect();
    let Some(results) = kqlcheck(&queries) else {
        return;
    };
    for (r, (name, _)) in results.iter().zip(&queries) {
        assert_eq!(
            r["ok"],
            serde_json::Value::Bool(false),
            "{name} should fail: {r}"
        );
    }
}
