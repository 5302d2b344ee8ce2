//! The YAML budget pass (yaml-rust2 events) must not refuse YAML that serde_norway (libyaml)
//! reads: it runs before every fixture, mapping and pipeline file. Checked on every YAML file of
//! the repository and of the shared corpora (ignored by default: it reads ../shared).

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target" && n != ".git") {
                yaml_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

#[test]
#[ignore]
fn budget_pass_accepts_every_yaml_file_serde_reads() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = std::env::var("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join("../shared"));
    let mut files = Vec::new();
    for d in [
        repo.join("rules"),
        repo.join("crates"),
        repo.join("tests"),
        shared,
    ] {
        yaml_files(&d, &mut files);
    }
    assert!(files.len() > 100, "only {} YAML files found", files.len());
    let mut refused = Vec::new();
    let mut read = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let serde_ok = serde_yaml::Deserializer::from_str(&text)
            .all(|doc| <serde_yaml::Value as serde::Deserialize>::deserialize(doc).is_ok());
        if !serde_ok {
            continue;
        }
        read += 1;
        if let Err(d) = ruleport_model::yaml_budget::check_yaml_budget(&text, "E-T") {
            refused.push(format!("{}: {d}", f.display()));
        }
    }
    eprintln!(
        "{read} YAML files read by serde_norway, {} refused by the budget pass",
        refused.len()
    );
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
