//! Finding and reading rules and fixture files. Batch loading goes on past bad files and
//! reports every failure.

use crate::fixtures::{parse_fixture_file, FixtureFile};
use ruleport_model::{Diagnostic, Rule};
use std::path::{Path, PathBuf};

pub use ruleport_model::input::{read_text, MAX_FILE_BYTES};

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    ElasticRule,
    SigmaRule,
    Fixtures,
}

/// Everything read from a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<LoadedRule>,
    pub fixtures: Vec<LoadedFixtures>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files that failed to load entirely.
    pub failed_files: usize,
}

#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub path: PathBuf,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
pub struct LoadedFixtures {
    pub path: PathBuf,
    pub file: FixtureFile,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Classify a file by name (and, for YAML, by a cheap look at its top-level keys).
pub fn file_kind(path: &Path, text: Option<&str>) -> Option<FileKind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".fixtures.yml") || name.ends_with(".fixtures.yaml") {
        return Some(FileKind::Fixtures);
    }
    if name.ends_with(".toml") {
        return Some(FileKind::ElasticRule);
    }
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        if let Some(t) = text {
            if has_line_starting(t, "cases:") && !has_line_starting(t, "detection:") {
                return Some(FileKind::Fixtures);
            }
        }
        return Some(FileKind::SigmaRule);
    }
    None
}

/// Whether a line of `t` starts with `key` (a substring search: splitting a whole rule into
/// lines was 1 % of a corpus conversion).
fn has_line_starting(t: &str, key: &str) -> bool {
    t.starts_with(key) || t.contains(&format!("\n{key}"))
}

/// Expand files and directories (recursively, sorted, skipping hidden entries) into files.
pub fn expand_paths(paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, diags, 0);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            diags.push(Diagnostic::error("E-PATH", "no such file or directory").in_file(p));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>, depth: usize) {
    if depth > 64 {
        diags.push(Diagnostic::error("E-PATH", "directory nesting too deep").in_file(dir));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(
                Diagnostic::error("E-PATH", format!("cannot read directory: {e}")).in_file(dir),
            );
            return;
        }
    };
    let mut items: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    items.sort();
    for p in items {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, diags, depth + 1);
        } else if file_kind(&p, None).is_some() {
            out.push(p);
        }
    }
}

/// Load one rule file (which may hold several rules).
pub fn load_rule_file(path: &Path, text: &str, kind: FileKind) -> (Vec<Rule>, Vec<Diagnostic>) {
    match kind {
        FileKind::ElasticRule => match ruleport_elastic::import_str(text, Some(path)) {
            Ok(r) => (vec![r], vec![]),
            Err(d) => (vec![], d),
        },
        FileKind::SigmaRule => {
            let o = ruleport_sigma::import_str(text, Some(path));
            (o.rules, o.diagnostics)
        }
        FileKind::Fixtures => (vec![], vec![]),
    }
}

/// Load every rule and fixture file under `paths`.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = expand_paths(paths, &mut loaded.diagnostics);
    for path in files {
        let text = match read_text(&path) {
            Ok(t) => t,
            Err(d) => {
                loaded.diagnostics.push(d);
                loaded.failed_files += 1;
                continue;
            }
        };
        let Some(kind) = file_kind(&path, Some(&text)) else {
            continue;
        };
        if kind == FileKind::Fixtures {
            match parse_fixture_file(&text, &path) {
                Ok(file) => loaded.fixtures.push(LoadedFixtures { path, file }),
                Err(d) => {
                    loaded.diagnostics.push(d);
                    loaded.failed_files += 1;
                }
            }
            continue;
        }
        let (rules, diags) = load_rule_file(&path, &text, kind);
        if rules.is_empty() && diags.iter().any(Diagnostic::is_error) {
            loaded.failed_files += 1;
        }
        loaded.diagnostics.extend(diags);
        loaded
            .rules
            .extend(rules.into_iter().map(|rule| LoadedRule {
                path: path.clone(),
                rule,
            }));
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_told_from_rules_by_their_top_level_keys() {
        let kind = |t: &str| file_kind(Path::new("x.yml"), Some(t));
        assert_eq!(kind("cases:\n  - a\n"), Some(FileKind::Fixtures));
        assert_eq!(kind("rule: r\r\ncases:\r\n"), Some(FileKind::Fixtures));
        assert_eq!(
            kind("title: t\ndetection:\n  x: 1\ncases: []\n"),
            Some(FileKind::SigmaRule)
        );
        assert_eq!(kind("title: t\n  cases:\n"), Some(FileKind::SigmaRule));
        assert_eq!(kind("title: test_cases: x\n"), Some(FileKind::SigmaRule));
        assert_eq!(
            kind("cases: []\nx:\n detection:\n"),
            Some(FileKind::Fixtures)
        );
    }
}
