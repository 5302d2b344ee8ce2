//! Snapshot files for users' rule repositories: one readable file per rule and target, compared
//! on every run; a changed output shows as a diff until accepted.

use crate::convert::Converter;
use crate::load::LoadedRule;
use ruleport_model::TargetId;
use std::path::{Path, PathBuf};

/// What happened to one snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Unchanged,
    /// New file (written only with `accept`).
    New,
    /// Differs from the stored file; carries a unified diff.
    Changed(String),
    Written,
}

#[derive(Debug, Clone)]
pub struct SnapshotEntry {
    pub path: PathBuf,
    pub outcome: SnapshotOutcome,
}

/// The snapshot text of one port: a header with rule, target and fidelity, then the output.
pub fn render(lr: &LoadedRule, target: TargetId, conv: &Converter) -> String {
    let r = &lr.rule;
    let mut s = format!(
        "# ruleport snapshot\n# rule: {} ({})\n# target: {target}\n",
        r.meta.title, r.meta.id
    );
    match conv.port(r, target) {
        Ok(p) => {
            if p.fidelity.is_exact() {
                s.push_str("# fidelity: exact\n");
            } else {
                s.push_str("# fidelity: approximate\n");
                for reason in p.fidelity.reasons() {
                    s.push_str(&format!("# reason: {reason}\n"));
                }
            }
            s.push('\n');
            s.push_str(p.text.trim_end());
            s.push('\n');
        }
        Err(u) => s.push_str(&format!(
            "# fidelity: unsupported [{}] {}\n",
            u.code, u.reason
        )),
    }
    s
}

/// File name for a rule's snapshot: the rule file's stem, plus the rule id for multi-rule files.
pub fn snapshot_path(dir: &Path, lr: &LoadedRule, multi: bool, target: TargetId) -> PathBuf {
    let stem = lr
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "rule".into());
    let mut name = sanitize(&stem);
    if multi {
        name.push('.');
        name.push_str(&sanitize(&lr.rule.meta.id));
    }
    dir.join(format!("{name}.{target}.snap"))
}

/// Keep `[A-Za-z0-9._-]`; anything else becomes `_` (no path can leave the snapshot folder).
pub fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = out.trim_start_matches('.');
    if trimmed.is_empty() {
        "_".into()
    } else {
        trimmed.chars().take(120).collect()
    }
}

/// Compare (and with `accept`, write) the snapshots of every rule and target.
pub fn run(
    rules: &[LoadedRule],
    targets: &[TargetId],
    dir: &Path,
    accept: bool,
    conv: &Converter,
) -> std::io::Result<Vec<SnapshotEntry>> {
    let mut out = Vec::new();
    for lr in rules {
        let multi = rules.iter().filter(|o| o.path == lr.path).count() > 1;
        for &t in targets {
            let path = snapshot_path(dir, lr, multi, t);
            let new = render(lr, t, conv);
            let old = std::fs::read_to_string(&path).ok();
            let outcome = match (&old, accept) {
                (Some(o), _) if *o == new => SnapshotOutcome::Unchanged,
                (_, true) => {
                    std::fs::create_dir_all(dir)?;
                    std::fs::write(&path, &new)?;
                    SnapshotOutcome::Written
                }
                (None, false) => SnapshotOutcome::New,
                (Some(o), false) => SnapshotOutcome::Changed(
                    similar::TextDiff::from_lines(o.as_str(), new.as_str())
                        .unified_diff()
                        .header(
                            &format!("{} (stored)", path.display()),
                            &format!("{} (new)", path.display()),
                        )
                        .to_string(),
                ),
            };
            out.push(SnapshotEntry { path, outcome });
        }
    }
    Ok(out)
}
