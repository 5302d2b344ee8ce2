//! The CLI contract: commands, outputs and exit codes that users' scripts rely on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ruleport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run ruleport")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const SEED: &str = "rules/elastic/azure_application_credential_modification.toml";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn convert_prints_five_translations_of_the_seed() {
    let out = ruleport(&["convert", SEED, "--to", "kuery,eql,splunk,sentinel,sigma"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    for t in ["kuery", "eql", "splunk", "sentinel", "sigma"] {
        assert!(
            stdout.contains(&format!("-> {t} [exact]")),
            "missing {t} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("AuditLogs"), "{stdout}");
    assert!(stdout.contains("azure:monitor:aad"), "{stdout}");
}

#[test]
fn unknown_target_is_a_usage_error() {
    let out = ruleport(&["convert", SEED, "--to", "qradar"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown target"));
}

fn seed_copy(dir: &Path, query: &str) -> PathBuf {
    let src = std::fs::read_to_string(repo().join(SEED)).expect("seed");
    let start = src.find("query = '''").expect("query");
    let end = src[start + 11..].find("'''").expect("end") + start + 11;
    let new = format!("{}query = '''\n{query}\n{}", &src[..start], &src[end..]);
    let p = dir.join("broken.toml");
    std::fs::write(&p, new).expect("write");
    p
}

#[test]
fn a_broken_query_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = seed_copy(
        dir.path(),
        "event.dataset:azure.auditlogs and event.outcome:(success or",
    );
    let out = ruleport(&["convert", p.to_str().expect("utf8"), "--to", "kuery"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // The query is unterminated: the error is at its end, the start of the line after it.
    let text_before = std::fs::read_to_string(&p).expect("read");
    let line = text_before
        .lines()
        .position(|l| l.starts_with("event.dataset:azure"))
        .expect("line")
        + 2;
    assert!(
        stderr.contains(&format!("broken.toml:{line}:1: error[")),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("1a36cace-11a7-43a8-9a10-b497c5a02cd3"),
        "stderr: {stderr}"
    );
}

#[test]
fn an_error_inside_a_query_line_names_its_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = seed_copy(
        dir.path(),
        "event.dataset:azure.auditlogs and event.outcome:(success or Success))",
    );
    let out = ruleport(&["check", p.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let text_before = std::fs::read_to_string(&p).expect("read");
    let (idx, l) = text_before
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("event.dataset:azure"))
        .expect("line");
    let col = l.rfind(')').expect("paren") + 1;
    assert!(
        stderr.contains(&format!("broken.toml:{}:{col}: error[", idx + 1)),
        "stderr: {stderr}"
    );
}

#[test]
fn batch_goes_on_past_a_bad_rule_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    seed_copy(dir.path(), "event.outcome:(");
    std::fs::copy(repo().join(SEED), dir.path().join("good.toml")).expect("copy");
    let out = ruleport(&[
        "convert",
        dir.path().to_str().expect("utf8"),
        "--to",
        "sentinel",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("AuditLogs"),
        "the good rule is still converted"
    );
    assert!(text(&out.stderr).contains("broken.toml"));
}

#[test]
fn a_fixture_file_written_by_someone_else_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(repo().join(SEED), dir.path().join("seed.toml")).expect("copy");
    let fixtures = dir.path().join("my-cases.yml");
    std::fs::write(
        &fixtures,
        r#"rule: seed.toml
cases:
  - name: hit
    expect: match
    event: {"event.dataset": azure.auditlogs, "event.outcome": Success, "azure.auditlogs.operation_name": "Update application - Certificates and secrets management"}
  - name: wrong case
    expect: no_match
    event: {"event.dataset": azure.auditlogs, "event.outcome": sUccess, "azure.auditlogs.operation_name": "Update application - Certificates and secrets management"}
"#,
    )
    .expect("write");
    let out = ruleport(&["test", fixtures.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("1 passed"));
}

#[test]
fn a_wrong_expectation_fails_the_test_run() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(repo().join(SEED), dir.path().join("seed.toml")).expect("copy");
    let fixtures = dir.path().join("seed.fixtures.yml");
    std::fs::write(
        &fixtures,
        "cases:\n  - name: claims SUCCESS matches\n    expect: match\n    event: {\"event.dataset\": azure.auditlogs, \"event.outcome\": SUCCESS, \"azure.auditlogs.operation_name\": \"Update application - Certificates and secrets management\"}\n",
    )
    .expect("write");
    let out = ruleport(&[
        "test",
        dir.path().to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["rules"][0]["reference_failures"][0],
        "claims SUCCESS matches"
    );
}

#[test]
fn check_validates_the_bundled_rules() {
    let out = ruleport(&["check", "rules"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn snapshot_workflow_fails_on_a_changed_output_and_accept_updates_it() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(repo().join(SEED), dir.path().join("seed.toml")).expect("copy");
    let snaps = dir.path().join("snaps");
    let (d, s) = (
        dir.path().to_str().expect("utf8"),
        snaps.to_str().expect("utf8"),
    );
    let first = ruleport(&["snapshot", d, "--dir", s, "--targets", "kuery,sentinel"]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "new snapshots are not accepted silently"
    );
    let accept = ruleport(&[
        "snapshot",
        d,
        "--dir",
        s,
        "--targets",
        "kuery,sentinel",
        "--accept",
    ]);
    assert!(accept.status.success(), "{}", text(&accept.stderr));
    let file = snaps.join("seed.sentinel.snap");
    let stored = std::fs::read_to_string(&file).expect("snapshot written");
    assert!(
        stored.contains("AuditLogs") && stored.contains("# fidelity: exact"),
        "{stored}"
    );
    assert!(
        ruleport(&["snapshot", d, "--dir", s, "--targets", "kuery,sentinel"])
            .status
            .success()
    );
    // An older converter produced something else: the run fails and shows the diff.
    std::fs::write(&file, stored.replace("Result in", "Result in~")).expect("edit");
    let changed = ruleport(&["snapshot", d, "--dir", s, "--targets", "kuery,sentinel"]);
    assert_eq!(changed.status.code(), Some(1));
    let out = text(&changed.stdout);
    assert!(
        out.contains("-| where") && out.contains("Result in~") && out.contains("+| where"),
        "{out}"
    );
    assert!(ruleport(&[
        "snapshot",
        d,
        "--dir",
        s,
        "--targets",
        "kuery,sentinel",
        "--accept"
    ])
    .status
    .success());
    assert_eq!(std::fs::read_to_string(&file).expect("read"), stored);
}
