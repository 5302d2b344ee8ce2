//! Rule packs rendered from handlebars templates.
//!
//! [`build_packs`] writes one folder per product under `out`:
//! - `elastic/`: Kibana detection-engine import NDJSON (`rules.ndjson`) and detection-rules TOML
//!   copies (`rules/<id>.toml`);
//! - `splunk/<app>/`: an installable Splunk app with one Enterprise Security correlation search
//!   per rule;
//! - `sentinel/`: analytic-rule YAML per rule and an ARM template (`azuredeploy.json`);
//! - `sigma/`: one Sigma YAML file per rule;
//! - `docs/`: a Markdown page per rule and `index.md` with a coverage table.
//!
//! Each folder has a `manifest.json` listing every rule with its source, target, fidelity
//! (exact, approximate, unsupported, or excluded by a product constraint) and the sha256 of
//! every file. Output is deterministic, and every rendered file is parsed back (JSON, YAML,
//! TOML, .conf) before it is written, so no rule text can produce a broken file.

pub mod attack;
pub mod conf;
pub mod escape;
pub mod names;
pub mod schedule;
pub mod templates;

mod docs;
mod elastic;
mod manifest;
mod sentinel;
mod sigma;
mod splunk;

pub use manifest::{EntryStatus, FileEntry, Manifest, Reason, RuleEntry, SourceRef};

use ruleport_model::{Port, Rule, TargetId, ThreatMapping, Unsupported};
use schedule::Schedule;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use templates::Templates;

/// One rule and its ports to every target.
#[derive(Debug, Clone)]
pub struct PackInput {
    pub rule: Rule,
    pub ports: BTreeMap<TargetId, Result<Port, Unsupported>>,
}

/// What to build and how.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// A folder whose files override the built-in templates (same relative names).
    pub templates_dir: Option<PathBuf>,
    /// Targets to publish; empty means all. Selects the packs: elastic (kuery, eql, elastic),
    /// splunk, sentinel, sigma; the docs pack is always built and shows the selected targets.
    pub targets: Vec<TargetId>,
    /// Splunk app folder and id (sanitised to `[A-Za-z0-9_.-]`).
    pub splunk_app: String,
    /// Whether rules are enabled once imported (Kibana `enabled`, Splunk `disabled`, ARM `enabled`).
    pub enabled: bool,
    /// Version written into the Splunk app and the manifests.
    pub pack_version: String,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            templates_dir: None,
            targets: Vec::new(),
            splunk_app: "ruleport_detections".into(),
            enabled: false,
            pack_version: "1.0.0".into(),
        }
    }
}

/// The packs ruleport writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackKind {
    Elastic,
    Splunk,
    Sentinel,
    Sigma,
    Docs,
}

impl PackKind {
    pub fn name(self) -> &'static str {
        match self {
            PackKind::Elastic => "elastic",
            PackKind::Splunk => "splunk",
            PackKind::Sentinel => "sentinel",
            PackKind::Sigma => "sigma",
            PackKind::Docs => "docs",
        }
    }

    /// The targets whose ports this pack publishes.
    pub fn targets(self) -> &'static [TargetId] {
        match self {
            PackKind::Elastic => &[TargetId::Kuery, TargetId::Eql, TargetId::Elastic],
            PackKind::Splunk => &[TargetId::Splunk],
            PackKind::Sentinel => &[TargetId::Sentinel],
            PackKind::Sigma => &[TargetId::Sigma],
            PackKind::Docs => &TargetId::ALL,
        }
    }
}

/// What one pack holds.
#[derive(Debug, Clone)]
pub struct PackSummary {
    pub kind: PackKind,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl PackSummary {
    /// How many manifest entries have each status.
    pub fn count(&self, status: EntryStatus) -> usize {
        self.manifest
            .rules
            .iter()
            .filter(|r| r.status == status)
            .count()
    }
}

/// The packs written by [`build_packs`].
#[derive(Debug, Clone)]
pub struct PackReport {
    pub packs: Vec<PackSummary>,
}

impl fmt::Display for PackReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.packs.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}: {} exact, {} approximate, {} unsupported, {} excluded, {} file(s) in {}",
                p.kind.name(),
                p.count(EntryStatus::Exact),
                p.count(EntryStatus::Approximate),
                p.count(EntryStatus::Unsupported),
                p.count(EntryStatus::Excluded),
                p.manifest.files.len() + 1,
                p.dir.display()
            )?;
        }
        Ok(())
    }
}

/// Why packs could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("templates folder {}: {message}", path.display())]
    Templates { path: PathBuf, message: String },
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    /// A rendered file did not parse back (a template produced broken output).
    #[error("{file}: rendered output is not valid {format}: {message}")]
    InvalidOutput {
        file: String,
        format: String,
        message: String,
    },
    #[error("refusing to write outside the output folder: {0}")]
    UnsafePath(String),
}

/// A rule prepared for every pack: its file stem, ATT&CK blocks and schedule.
pub(crate) struct Item<'a> {
    pub input: &'a PackInput,
    /// The source id, made unique among the inputs (a repeated id gets `#2`, `#3`…).
    pub key: String,
    pub stem: String,
    pub threat: Vec<ThreatMapping>,
    pub schedule: Schedule,
}

impl Item<'_> {
    pub(crate) fn rule(&self) -> &Rule {
        &self.input.rule
    }

    /// The source id used for stable target ids (unique among the inputs).
    pub(crate) fn source_key(&self) -> String {
        self.key.clone()
    }

    pub(crate) fn port(&self, t: TargetId) -> Result<&Port, Unsupported> {
        match self.input.ports.get(&t) {
            Some(Ok(p)) => Ok(p),
            Some(Err(u)) => Err(u.clone()),
            None => Err(Unsupported::new(
                t,
                "no-port",
                format!("no {t} port was given for this rule"),
            )),
        }
    }

    pub(crate) fn title(&self) -> String {
        let m = &self.rule().meta;
        if m.title.trim().is_empty() {
            self.source_key()
        } else {
            m.title.clone()
        }
    }

    pub(crate) fn description(&self) -> String {
        let m = &self.rule().meta;
        if m.description.trim().is_empty() {
            self.title()
        } else {
            m.description.clone()
        }
    }

    pub(crate) fn source_ref(&self) -> SourceRef {
        let r = self.rule();
        SourceRef {
            id: r.meta.id.clone(),
            title: r.meta.title.clone(),
            format: match r.format {
                ruleport_model::SourceFormat::Sigma => "sigma".into(),
                ruleport_model::SourceFormat::ElasticToml => "elastic_toml".into(),
            },
            path: r.provenance.path.as_ref().map(|p| p.display().to_string()),
            line: r.provenance.line,
        }
    }
}

/// Files of one pack, collected before anything is written.
pub(crate) struct PackFiles {
    pub files: Vec<(String, Vec<u8>)>,
}

impl PackFiles {
    pub(crate) fn new() -> Self {
        PackFiles { files: Vec::new() }
    }

    pub(crate) fn add(&mut self, rel: String, bytes: impl Into<Vec<u8>>) {
        self.files.push((rel, bytes.into()));
    }
}

/// A relative path made only of normal components.
fn safe_relative(rel: &str) -> Result<PathBuf, PackError> {
    let p = Path::new(rel);
    if rel.is_empty()
        || !p.components().all(|c| matches!(c, Component::Normal(_)))
        || rel.contains('\0')
    {
        return Err(PackError::UnsafePath(rel.to_string()));
    }
    Ok(p.to_path_buf())
}

/// Remove the files an earlier build listed in this pack's manifest that this build does not
/// write, so a folder built twice holds exactly what a fresh build would.
fn remove_stale(dir: &Path, files: &PackFiles) -> Result<(), PackError> {
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
        return Ok(());
    };
    let Ok(old) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(());
    };
    let listed = old
        .get("files")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    for f in listed {
        let Some(rel) = f.get("path").and_then(|p| p.as_str()) else {
            continue;
        };
        if files.files.iter().any(|(r, _)| r == rel) {
            continue;
        }
        let Ok(safe) = safe_relative(rel) else {
            continue;
        };
        no_link_below(dir, &safe)?;
        let p = dir.join(safe);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|source| PackError::Io {
                path: p.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// Refuse a path below `dir` that passes through a symbolic link: a link planted in the output
/// folder would send the write somewhere else.
fn no_link_below(dir: &Path, rel: &Path) -> Result<(), PackError> {
    let mut p = dir.to_path_buf();
    for c in rel.components() {
        p.push(c);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(PackError::UnsafePath(format!(
                "{} is a symbolic link",
                p.display()
            )));
        }
    }
    Ok(())
}

fn write_pack(
    kind: PackKind,
    dir: &Path,
    files: PackFiles,
    mut manifest: Manifest,
) -> Result<PackSummary, PackError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    // The pack's own folder (`--out/<kind>`) must not be a link either; `--out` itself is the
    // user's choice.
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(PackError::UnsafePath(format!(
            "{} is a symbolic link",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    remove_stale(dir, &files)?;
    for (rel, bytes) in &files.files {
        let safe = safe_relative(rel)?;
        no_link_below(dir, &safe)?;
        let p = dir.join(safe);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, bytes).map_err(io(&p))?;
        manifest.files.push(FileEntry {
            path: rel.clone(),
            sha256: names::sha256_hex(bytes),
            bytes: bytes.len() as u64,
        });
    }
    manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
    let text = manifest.to_json();
    no_link_below(dir, Path::new("manifest.json"))?;
    let mp = dir.join("manifest.json");
    std::fs::write(&mp, text).map_err(io(&mp))?;
    Ok(PackSummary {
        kind,
        dir: dir.to_path_buf(),
        manifest,
    })
}

/// Build every selected pack under `out`.
pub fn build_packs(
    inputs: &[PackInput],
    out: &Path,
    opts: &PackOptions,
) -> Result<PackReport, PackError> {
    let templates = Templates::load(opts.templates_dir.as_deref())?;
    // Deterministic order whatever order the rules came in.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&inputs[a].rule, &inputs[b].rule);
        (
            &ra.meta.id,
            &ra.meta.title,
            &ra.provenance.path,
            ra.provenance.document,
        )
            .cmp(&(
                &rb.meta.id,
                &rb.meta.title,
                &rb.provenance.path,
                rb.provenance.document,
            ))
            .then(a.cmp(&b))
    });
    // Ids fall back to the title; a repeated id gets a suffix so target ids stay unique.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let keys: Vec<String> = order
        .iter()
        .map(|&i| {
            let m = &inputs[i].rule.meta;
            let base = if m.id.trim().is_empty() {
                format!("title:{}", m.title)
            } else {
                m.id.clone()
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}#{n}")
            }
        })
        .collect();
    let stem_ids: Vec<&str> = order
        .iter()
        .map(|&i| {
            let m = &inputs[i].rule.meta;
            if m.id.trim().is_empty() {
                m.title.as_str()
            } else {
                m.id.as_str()
            }
        })
        .collect();
    let stems = names::unique_stems(stem_ids);
    let items: Vec<Item<'_>> = order
        .iter()
        .zip(keys)
        .zip(stems)
        .map(|((&i, key), stem)| Item {
            input: &inputs[i],
            key,
            stem,
            threat: attack::threat_blocks(&inputs[i].rule.meta),
            schedule: Schedule::of(&inputs[i].rule),
        })
        .collect();

    let selected = |t: TargetId| opts.targets.is_empty() || opts.targets.contains(&t);
    let mut packs = Vec::new();
    let ctx = BuildContext {
        items: &items,
        templates: &templates,
        opts,
        selected: &selected,
    };
    for kind in [
        PackKind::Elastic,
        PackKind::Splunk,
        PackKind::Sentinel,
        PackKind::Sigma,
        PackKind::Docs,
    ] {
        if kind != PackKind::Docs && !kind.targets().iter().any(|&t| selected(t)) {
            continue;
        }
        let (files, rules) = match kind {
            PackKind::Elastic => elastic::build(&ctx)?,
            PackKind::Splunk => splunk::build(&ctx)?,
            PackKind::Sentinel => sentinel::build(&ctx)?,
            PackKind::Sigma => sigma::build(&ctx)?,
            PackKind::Docs => docs::build(&ctx)?,
        };
        let manifest = Manifest::new(kind, opts, &templates.overridden, rules);
        packs.push(write_pack(kind, &out.join(kind.name()), files, manifest)?);
    }
    Ok(PackReport { packs })
}

/// Everything a pack builder needs.
pub(crate) struct BuildContext<'a> {
    pub items: &'a [Item<'a>],
    pub templates: &'a Templates,
    pub opts: &'a PackOptions,
    pub selected: &'a dyn Fn(TargetId) -> bool,
}

/// Check that a rendered file parses as `format`; used on every file before it is written.
pub(crate) fn invalid(file: &str, format: &str, message: impl fmt::Display) -> PackError {
    PackError::InvalidOutput {
        file: file.to_string(),
        format: format.to_string(),
        message: message.to_string(),
    }
}

/// Parse every YAML document in `text`.
pub(crate) fn check_yaml(file: &str, text: &str) -> Result<Vec<serde_yaml::Value>, PackError> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        docs.push(serde_yaml::Value::deserialize(doc).map_err(|e| invalid(file, "YAML", e))?);
    }
    Ok(docs)
}
