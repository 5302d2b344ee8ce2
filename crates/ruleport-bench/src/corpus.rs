//! The corpora: where they are and how their files are read and imported.

use rayon::prelude::*;
use ruleport_eval::load::{expand_paths, file_kind, load_rule_file, read_text, FileKind};
use ruleport_model::{Diagnostic, Rule};
use std::path::{Path, PathBuf};

/// SigmaHQ's active rule folders (the 3,780 rules sigma-cli converts).
pub(crate) const SIGMA_ACTIVE: [&str; 5] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-placeholder",
    "rules-compliance",
];

/// Elastic detection rules and building blocks.
pub(crate) const ELASTIC_DIRS: [&str; 2] = ["rules", "rules_building_block"];

/// One corpus: its name, the folders it comes from and the rule files in them.
#[derive(Debug, Clone)]
pub(crate) struct Corpus {
    pub(crate) name: &'static str,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) files: Vec<PathBuf>,
}

impl Corpus {
    /// The rule files under `root/<dir>` for each dir that exists.
    pub(crate) fn new(name: &'static str, root: &Path, dirs: &[&str]) -> Corpus {
        let dirs: Vec<PathBuf> = dirs
            .iter()
            .map(|d| root.join(d))
            .filter(|p| p.is_dir())
            .collect();
        let mut diags = Vec::new();
        let files = expand_paths(&dirs, &mut diags);
        Corpus { name, dirs, files }
    }
}

/// `$RULEPORT_SHARED`, else `../shared` (from the workspace root), else `/work/shared`.
pub(crate) fn shared_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("RULEPORT_SHARED") {
        return Some(PathBuf::from(p));
    }
    [
        PathBuf::from("../shared"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

/// Read and import one rule file; a file that fails yields its diagnostics.
pub(crate) fn import_file(path: &Path) -> Result<Vec<Rule>, Vec<Diagnostic>> {
    let text = read_text(path).map_err(|d| vec![d])?;
    let kind = file_kind(path, Some(&text)).unwrap_or(FileKind::SigmaRule);
    let (rules, diags) = load_rule_file(path, &text, kind);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(rules)
}

/// Import every file of a corpus in parallel, keeping the rules that import.
pub(crate) fn import_all(files: &[PathBuf]) -> (Vec<Rule>, usize) {
    let results: Vec<Result<Vec<Rule>, Vec<Diagnostic>>> =
        files.par_iter().map(|p| import_file(p)).collect();
    let mut failed = 0;
    let mut rules = Vec::new();
    for r in results {
        match r {
            Ok(rs) => rules.extend(rs),
            Err(_) => failed += 1,
        }
    }
    (rules, failed)
}
