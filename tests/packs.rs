//! Snapshots of the rule packs built from the bundled rules (every file of every pack).

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn packs_of_the_bundled_rules() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().expect("tmp");
    let status = Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args(["pack", "rules", "--out"])
        .arg(out.path())
        .current_dir(&repo)
        .output()
        .expect("run");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut all = Vec::new();
    files(out.path(), &mut all);
    assert!(all.iter().any(|p| p.ends_with("elastic/rules.ndjson")));
    assert!(all.iter().any(|p| p.ends_with("azuredeploy.json")));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/packs");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for p in &all {
            let rel = p
                .strip_prefix(out.path())
                .expect("rel")
                .to_string_lossy()
                .replace(['/', '\\'], "__");
            let body = std::fs::read_to_string(p).expect("utf8 pack file");
            insta::assert_snapshot!(rel, body);
        }
    });
}
