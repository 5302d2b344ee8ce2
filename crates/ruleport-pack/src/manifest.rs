//! `manifest.json`: what a pack holds, rule by rule and file by file.

use crate::{PackKind, PackOptions};
use ruleport_model::{Approximation, Fidelity, Port, Unsupported};
use serde::Serialize;

/// Where a rule came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    pub id: String,
    pub title: String,
    pub format: String,
    pub path: Option<String>,
    pub line: Option<u32>,
}

/// How a rule fared on one target in one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Exact,
    Approximate,
    /// The target cannot express the rule; nothing was written for it.
    Unsupported,
    /// A port exists but breaks a documented product constraint; left out of the pack.
    Excluded,
}

impl EntryStatus {
    pub fn name(self) -> &'static str {
        match self {
            EntryStatus::Exact => "exact",
            EntryStatus::Approximate => "approximate",
            EntryStatus::Unsupported => "unsupported",
            EntryStatus::Excluded => "excluded",
        }
    }
}

/// One reason behind a status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

impl From<&Approximation> for Reason {
    fn from(a: &Approximation) -> Self {
        Reason {
            code: a.code.clone(),
            message: a.reason.clone(),
        }
    }
}

impl From<&Unsupported> for Reason {
    fn from(u: &Unsupported) -> Self {
        Reason {
            code: u.code.clone(),
            message: u.reason.clone(),
        }
    }
}

/// One rule on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleEntry {
    pub source: SourceRef,
    /// The target name (`kuery`, `eql`, `splunk`…; `esql` for ES|QL kept from the source).
    pub target: String,
    /// The rule's stable id on the target, where the product has one.
    pub target_id: Option<String>,
    pub status: EntryStatus,
    pub reasons: Vec<Reason>,
    /// Files of the pack that hold this rule.
    pub files: Vec<String>,
}

impl RuleEntry {
    /// An entry from a port result plus pack-level approximations.
    pub fn from_port(
        source: SourceRef,
        target: &str,
        port: Result<&Port, &Unsupported>,
        extra: &[Approximation],
    ) -> RuleEntry {
        let (status, mut reasons) = match port {
            Ok(p) => match &p.fidelity {
                Fidelity::Exact => (EntryStatus::Exact, Vec::new()),
                Fidelity::Approximate(r) => (
                    EntryStatus::Approximate,
                    r.iter().map(Reason::from).collect(),
                ),
            },
            Err(u) => (EntryStatus::Unsupported, vec![Reason::from(u)]),
        };
        let status = if status == EntryStatus::Exact && !extra.is_empty() {
            EntryStatus::Approximate
        } else {
            status
        };
        if status != EntryStatus::Unsupported {
            reasons.extend(extra.iter().map(Reason::from));
        }
        RuleEntry {
            source,
            target: target.to_string(),
            target_id: None,
            status,
            reasons,
            files: Vec::new(),
        }
    }
}

/// A file of the pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The manifest of one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub pack: String,
    pub generator: String,
    pub pack_version: String,
    pub templates_overridden: Vec<String>,
    pub rules: Vec<RuleEntry>,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub(crate) fn new(
        kind: PackKind,
        opts: &PackOptions,
        overridden: &[String],
        rules: Vec<RuleEntry>,
    ) -> Self {
        Manifest {
            pack: kind.name().into(),
            generator: format!("ruleport {}", env!("CARGO_PKG_VERSION")),
            pack_version: opts.pack_version.clone(),
            templates_overridden: overridden.to_vec(),
            rules,
            files: Vec::new(),
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
