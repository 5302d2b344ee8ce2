//! The CIM data-model table (`data/cim.yml`): which raw events each dataset holds, and the CIM
//! name of each raw Splunk field. The emitter's data-model mode and the evaluator's view of
//! `| tstats … from datamodel=…` both read it, so an emitted data-model query is checked against
//! the same model it was written from.

use ruleport_model::matching::fold;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

const CIM_YAML: &str = include_str!("../data/cim.yml");

/// Fields every dataset inherits under their own names.
pub const INHERITED: [&str; 5] = ["_time", "host", "source", "sourcetype", "index"];

/// The field whose values are tags (multivalue: several tag conditions can hold at once).
const TAG: &str = "tag";

/// Whether `name` is an inherited field.
pub fn is_inherited(name: &str) -> bool {
    INHERITED.contains(&name)
}

/// One condition: the field holds one of the values (folded text).
pub type Conjunct = (String, BTreeSet<String>);

/// One raw field and its CIM name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRow {
    pub raw: String,
    pub cim: String,
    /// Why the CIM value may be written differently from the raw value.
    #[serde(default)]
    pub value_format: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A group of events a dataset holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Sorted conditions, all of which hold.
    pub conjuncts: Vec<Conjunct>,
    /// A tags-only member (other add-ons), as opposed to a source-based one.
    pub tag_only: bool,
}

/// A CIM dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    /// The field prefix (`Processes`).
    pub object: String,
    pub members: Vec<Member>,
    /// Fields (CIM names without prefix) every query groups by.
    pub by: Vec<String>,
    pub fields: Vec<FieldRow>,
}

impl Dataset {
    /// The prefixed CIM name of a raw field (inherited fields keep their names).
    pub fn cim_name(&self, raw: &str) -> Option<(String, Option<&FieldRow>)> {
        if is_inherited(raw) {
            return Some((raw.to_string(), None));
        }
        self.fields
            .iter()
            .find(|r| r.raw == raw)
            .map(|r| (self.prefixed(&r.cim), Some(r)))
    }

    /// `Processes.process` for `process`.
    pub fn prefixed(&self, cim: &str) -> String {
        format!("{}.{cim}", self.object)
    }
}

/// The whole table.
#[derive(Debug, Clone)]
pub struct CimTable {
    pub datasets: Vec<Dataset>,
    /// The inherited conditions of every source-based member: an event satisfying one of them
    /// enters datasets only through source-based members.
    named_sources: Vec<Vec<Conjunct>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    datasets: Vec<RawDataset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    name: String,
    object: String,
    members: Vec<RawMember>,
    #[serde(default)]
    by: Vec<String>,
    fields: Vec<FieldRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    #[serde(default, rename = "match")]
    match_: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    tags: Vec<String>,
}

fn yaml_texts(v: &serde_yaml::Value) -> Result<BTreeSet<String>, String> {
    let one = |v: &serde_yaml::Value| -> Result<String, String> {
        Ok(match v {
            serde_yaml::Value::String(s) => fold(s),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            other => return Err(format!("unsupported member value {other:?}")),
        })
    };
    match v {
        serde_yaml::Value::Sequence(items) => items.iter().map(one).collect(),
        other => Ok(BTreeSet::from([one(other)?])),
    }
}

impl CimTable {
    fn parse(text: &str) -> Result<CimTable, String> {
        let raw: RawTable = serde_yaml::from_str(text).map_err(|e| format!("cim.yml: {e}"))?;
        let mut datasets = Vec::new();
        for d in raw.datasets {
            let mut members = Vec::new();
            for m in d.members {
                let tag_only = m.match_.is_empty();
                let mut conjuncts: Vec<Conjunct> = Vec::new();
                for (f, v) in &m.match_ {
                    conjuncts.push((f.clone(), yaml_texts(v)?));
                }
                for t in &m.tags {
                    conjuncts.push((TAG.to_string(), BTreeSet::from([fold(t)])));
                }
                if conjuncts.is_empty() {
                    return Err(format!("cim.yml: {} has an empty member", d.name));
                }
                conjuncts.sort();
                members.push(Member {
                    conjuncts,
                    tag_only,
                });
            }
            if d.by.is_empty() {
                return Err(format!("cim.yml: {} needs `by` fields", d.name));
            }
            datasets.push(Dataset {
                name: d.name,
                object: d.object,
                members,
                by: d.by,
                fields: d.fields,
            });
        }
        let named_sources = datasets
            .iter()
            .flat_map(|d| d.members.iter())
            .filter(|m| !m.tag_only)
            .map(|m| {
                m.conjuncts
                    .iter()
                    .filter(|(f, _)| is_inherited(f))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect();
        Ok(CimTable {
            datasets,
            named_sources,
        })
    }

    /// A dataset by its `datamodel=` name.
    pub fn dataset(&self, name: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Whether the dataset holds the event (`values` gives a raw field's values as text).
    pub fn holds(&self, d: &Dataset, values: &dyn Fn(&str) -> Vec<String>) -> bool {
        let sat = |conj: &[Conjunct]| {
            conj.iter()
                .all(|(f, vs)| values(f).iter().any(|v| vs.contains(&fold(v))))
        };
        let named = self.named_sources.iter().any(|c| sat(c));
        d.members.iter().any(|m| {
            if m.tag_only {
                !named && sat(&m.conjuncts)
            } else {
                sat(&m.conjuncts)
            }
        })
    }

    /// The dataset standing for a log source selected by `group`, and why its rows differ from
    /// the log source's events (`None` when they are the same).
    pub fn cover(&self, group: &[Conjunct]) -> Option<(&Dataset, Option<String>)> {
        let candidates: Vec<&Dataset> = self
            .datasets
            .iter()
            .filter(|d| {
                d.members
                    .iter()
                    .any(|m| compatible(&m.conjuncts, group) && shares(&m.conjuncts, group))
            })
            .collect();
        let d = candidates
            .iter()
            .find(|d| d.members.iter().any(|m| m.conjuncts == group))
            .or_else(|| candidates.first())?;
        let inherited: Vec<Conjunct> = group
            .iter()
            .filter(|(f, _)| is_inherited(f))
            .cloned()
            .collect();
        let rows: Vec<&Member> = if inherited.is_empty() {
            d.members.iter().collect()
        } else {
            // Tag-only members hold no event of a named source; other sources are excluded by
            // the inherited conditions kept in the tstats `where`.
            d.members
                .iter()
                .filter(|m| !m.tag_only && compatible(&m.conjuncts, &inherited))
                .collect()
        };
        let exact = matches!(rows.as_slice(), [m] if m.conjuncts == group);
        let reason = (!exact).then(|| {
            let held: Vec<String> = rows.iter().map(|m| conjuncts_text(&m.conjuncts)).collect();
            format!(
                "{} holds the events of {} where the rule's log source is {}; no field of the data model tells them apart",
                d.name,
                held.join(" or "),
                conjuncts_text(group)
            )
        });
        Some((*d, reason))
    }
}

/// No single-valued field is required to hold values from disjoint sets.
fn compatible(a: &[Conjunct], b: &[Conjunct]) -> bool {
    a.iter().all(|(f, vs)| {
        f == TAG
            || b.iter()
                .filter(|(g, _)| g == f)
                .all(|(_, ws)| !vs.is_disjoint(ws))
    })
}

fn shares(a: &[Conjunct], b: &[Conjunct]) -> bool {
    a.iter().any(|c| b.contains(c))
}

fn conjuncts_text(c: &[Conjunct]) -> String {
    let mut out = String::from("(");
    for (i, (f, vs)) in c.iter().enumerate() {
        if i > 0 {
            out.push_str(" AND ");
        }
        let vs: Vec<&str> = vs.iter().map(String::as_str).collect();
        if vs.len() == 1 {
            let _ = write!(out, "{f}={}", vs[0]);
        } else {
            let _ = write!(out, "{f} in ({})", vs.join(", "));
        }
    }
    out.push(')');
    out
}

/// The embedded table (parsed once).
pub fn table() -> Result<&'static CimTable, String> {
    static TABLE: OnceLock<Result<CimTable, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| CimTable::parse(CIM_YAML))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(items: &[(&str, &[&str])]) -> Vec<Conjunct> {
        let mut v: Vec<Conjunct> = items
            .iter()
            .map(|(f, vs)| (f.to_string(), vs.iter().map(|s| fold(s)).collect()))
            .collect();
        v.sort();
        v
    }

    const SYSMON: &str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational";

    #[test]
    fn table_loads_and_names_are_unique() {
        let t = table().expect("embedded table parses");
        let mut names: Vec<&str> = t.datasets.iter().map(|d| d.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        for d in &t.datasets {
            let mut raws: Vec<&str> = d.fields.iter().map(|r| r.raw.as_str()).collect();
            raws.sort();
            let n = raws.len();
            raws.dedup();
            assert_eq!(n, raws.len(), "duplicate raw field in {}", d.name);
        }
    }

    #[test]
    fn sysmon_sources_pick_their_datasets() {
        let t = table().expect("table");
        let (d, why) = t
            .cover(&g(&[("source", &[SYSMON]), ("EventCode", &["3"])]))
            .expect("covered");
        assert_eq!(d.name, "Network_Traffic.All_Traffic");
        assert_eq!(why, None);
        let (d, why) = t
            .cover(&g(&[
                ("source", &[SYSMON]),
                ("EventCode", &["12", "13", "14"]),
            ]))
            .expect("covered");
        assert_eq!(d.name, "Endpoint.Registry");
        assert_eq!(why, None);
        // Process creation: the add-on also tags Sysmon 5, 6, 8… as process events.
        let (d, why) = t
            .cover(&g(&[("source", &[SYSMON]), ("EventCode", &["1"])]))
            .expect("covered");
        assert_eq!(d.name, "Endpoint.Processes");
        assert!(
            why.expect("scope").contains("EventCode in (1, 10, 15"),
            "reason names the codes"
        );
        assert!(t
            .cover(&g(&[("source", &[SYSMON]), ("EventCode", &["7"])]))
            .is_none());
        let (d, why) = t.cover(&g(&[("tag", &["web"])])).expect("web");
        assert_eq!((d.name.as_str(), why), ("Web.Web", None));
    }

    #[test]
    fn membership_keeps_named_sources_to_their_members() {
        let t = table().expect("table");
        let d = t.dataset("Endpoint.Processes").expect("processes");
        let ev = |src: &str, code: &str, tags: &[&str]| {
            let (src, code) = (src.to_string(), code.to_string());
            let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
            move |f: &str| match f {
                "source" => vec![src.clone()],
                "EventCode" => vec![code.clone()],
                "tag" => tags.clone(),
                _ => vec![],
            }
        };
        assert!(t.holds(d, &ev(SYSMON, "1", &[])));
        assert!(t.holds(d, &ev(&SYSMON.to_lowercase(), "5", &[])));
        assert!(!t.holds(d, &ev(SYSMON, "3", &["process", "report"])));
        assert!(t.holds(d, &ev("edr", "x", &["process", "report"])));
        assert!(!t.holds(d, &ev("edr", "x", &["process"])));
    }
}
