//! MITRE ATT&CK metadata carried between formats: Sigma tags (`attack.t1550.001`,
//! `attack.defense-evasion`), Elastic threat blocks, Sentinel tactics and techniques, and Splunk
//! annotations.
//!
//! Technique names and their tactics come from ATT&CK Enterprise v18.1 (`data/attack-techniques.tsv`).
//! Sigma's ATT&CK v19 tactic tags `stealth` (TA0005, formerly Defense Evasion) and
//! `defense-impairment` (TA0112, split from Defense Evasion) are read too.

use ruleport_model::{AttackRef, RuleMeta, Technique, ThreatMapping};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The framework name Elastic uses for ATT&CK threat blocks.
pub const ATTACK_FRAMEWORK: &str = "MITRE ATT&CK";

/// One ATT&CK Enterprise tactic and its names in each product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tactic {
    pub id: &'static str,
    pub name: &'static str,
    /// ATT&CK short name, which Sigma uses as a tag (`attack.<short>`).
    pub short: &'static str,
    /// Sentinel's `AttackTactic` value.
    pub sentinel: &'static str,
}

/// ATT&CK Enterprise tactics, in matrix order.
pub const TACTICS: &[Tactic] = &[
    Tactic {
        id: "TA0043",
        name: "Reconnaissance",
        short: "reconnaissance",
        sentinel: "Reconnaissance",
    },
    Tactic {
        id: "TA0042",
        name: "Resource Development",
        short: "resource-development",
        sentinel: "ResourceDevelopment",
    },
    Tactic {
        id: "TA0001",
        name: "Initial Access",
        short: "initial-access",
        sentinel: "InitialAccess",
    },
    Tactic {
        id: "TA0002",
        name: "Execution",
        short: "execution",
        sentinel: "Execution",
    },
    Tactic {
        id: "TA0003",
        name: "Persistence",
        short: "persistence",
        sentinel: "Persistence",
    },
    Tactic {
        id: "TA0004",
        name: "Privilege Escalation",
        short: "privilege-escalation",
        sentinel: "PrivilegeEscalation",
    },
    Tactic {
        id: "TA0005",
        name: "Defense Evasion",
        short: "defense-evasion",
        sentinel: "DefenseEvasion",
    },
    // ATT&CK v19 split Defense Evasion; Sentinel has no value of its own for it yet.
    Tactic {
        id: "TA0112",
        name: "Defense Impairment",
        short: "defense-impairment",
        sentinel: "DefenseEvasion",
    },
    Tactic {
        id: "TA0006",
        name: "Credential Access",
        short: "credential-access",
        sentinel: "CredentialAccess",
    },
    Tactic {
        id: "TA0007",
        name: "Discovery",
        short: "discovery",
        sentinel: "Discovery",
    },
    Tactic {
        id: "TA0008",
        name: "Lateral Movement",
        short: "lateral-movement",
        sentinel: "LateralMovement",
    },
    Tactic {
        id: "TA0009",
        name: "Collection",
        short: "collection",
        sentinel: "Collection",
    },
    Tactic {
        id: "TA0011",
        name: "Command and Control",
        short: "command-and-control",
        sentinel: "CommandAndControl",
    },
    Tactic {
        id: "TA0010",
        name: "Exfiltration",
        short: "exfiltration",
        sentinel: "Exfiltration",
    },
    Tactic {
        id: "TA0040",
        name: "Impact",
        short: "impact",
        sentinel: "Impact",
    },
];

/// A tactic by id (`TA0005`), name (`Defense Evasion`), short name or Sigma tag spelling
/// (`defense-evasion`, `defense_evasion`, v19 `stealth`).
pub fn tactic(key: &str) -> Option<&'static Tactic> {
    let k = key.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let k = if k == "stealth" {
        "defense-evasion".to_string()
    } else {
        k
    };
    TACTICS.iter().find(|t| {
        t.id.eq_ignore_ascii_case(&k)
            || t.short == k
            || t.name.to_ascii_lowercase().replace(' ', "-") == k
    })
}

/// What ATT&CK says about one technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechniqueInfo {
    pub id: String,
    pub name: String,
    /// Tactic ids.
    pub tactics: Vec<&'static str>,
}

fn technique_table() -> &'static BTreeMap<String, TechniqueInfo> {
    static TABLE: OnceLock<BTreeMap<String, TechniqueInfo>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = BTreeMap::new();
        for line in include_str!("../data/attack-techniques.tsv").lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(id), Some(name), Some(tactics)) = (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let tactics = tactics
                .split(',')
                .filter_map(tactic)
                .map(|t| t.id)
                .collect();
            m.insert(
                id.to_string(),
                TechniqueInfo {
                    id: id.to_string(),
                    name: name.to_string(),
                    tactics,
                },
            );
        }
        m
    })
}

/// ATT&CK's record of a technique id (`T1550` or `T1550.001`), if known.
pub fn technique(id: &str) -> Option<&'static TechniqueInfo> {
    technique_table().get(&id.trim().to_ascii_uppercase())
}

/// Whether the text is a technique id (`T1234`) or sub-technique id (`T1234.001`).
pub fn is_technique_id(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| !r.is_empty() && r.iter().all(u8::is_ascii_digit);
    match b {
        [b'T' | b't', rest @ ..] => match rest.iter().position(|&c| c == b'.') {
            None => rest.len() == 4 && digits(rest),
            Some(p) => p == 4 && digits(&rest[..4]) && rest.len() == 8 && digits(&rest[5..]),
        },
        _ => false,
    }
}

pub fn tactic_url(id: &str) -> String {
    format!("https://attack.mitre.org/tactics/{id}/")
}

pub fn technique_url(id: &str) -> String {
    match id.split_once('.') {
        Some((parent, sub)) => format!("https://attack.mitre.org/techniques/{parent}/{sub}/"),
        None => format!("https://attack.mitre.org/techniques/{id}/"),
    }
}

fn attack_ref(id: &str, name: Option<&str>, url: String) -> AttackRef {
    AttackRef {
        id: id.to_string(),
        name: name.map(str::to_string),
        reference: Some(url),
    }
}

fn technique_ref(id: &str) -> AttackRef {
    let id = id.to_ascii_uppercase();
    let name = technique(&id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| id.clone());
    attack_ref(&id, Some(&name), technique_url(&id))
}

fn tactic_ref(t: &Tactic) -> AttackRef {
    attack_ref(t.id, Some(t.name), tactic_url(t.id))
}

/// Whether ATT&CK lists the technique under the tactic (unknown techniques fit anywhere).
fn technique_fits(technique_id: &str, tactic_id: &str) -> bool {
    let parent = technique_id.split('.').next().unwrap_or(technique_id);
    let info = technique(technique_id).or_else(|| technique(parent));
    match info {
        None => true,
        Some(i) => {
            i.tactics.contains(&tactic_id)
                // v19 moved part of Defense Evasion into Defense Impairment.
                || (tactic_id == "TA0112" && i.tactics.contains(&"TA0005"))
        }
    }
}

/// The rule's ATT&CK mapping as Elastic threat blocks: its own `threat` (names and references
/// filled in where missing) merged with its Sigma `attack.*` tags.
///
/// A technique from a tag goes under each of the rule's tactics that ATT&CK lists it for; when
/// none fits, under ATT&CK's own tactics for it; an unknown technique goes under every tactic of
/// the rule. A technique that cannot be placed at all (unknown, and the rule has no tactic) is
/// left out of the blocks (it stays in the tags).
pub fn threat_blocks(meta: &RuleMeta) -> Vec<ThreatMapping> {
    let mut blocks: Vec<ThreatMapping> = meta.threat.iter().map(normalize_block).collect();
    let mut tag_tactics: Vec<&'static Tactic> = Vec::new();
    let mut tag_techniques: Vec<String> = Vec::new();
    for tag in &meta.tags {
        let Some(rest) = tag.trim().strip_prefix("attack.") else {
            continue;
        };
        if is_technique_id(rest) {
            let id = rest.to_ascii_uppercase();
            if !tag_techniques.contains(&id) {
                tag_techniques.push(id);
            }
        } else if let Some(t) = tactic(rest) {
            if !tag_tactics.contains(&t) {
                tag_tactics.push(t);
            }
        }
    }
    for t in &tag_tactics {
        if !blocks
            .iter()
            .any(|b| b.framework == ATTACK_FRAMEWORK && b.tactic.id == t.id)
        {
            blocks.push(ThreatMapping {
                framework: ATTACK_FRAMEWORK.into(),
                tactic: tactic_ref(t),
                techniques: Vec::new(),
            });
        }
    }
    let rule_tactics: Vec<String> = blocks
        .iter()
        .filter(|b| b.framework == ATTACK_FRAMEWORK)
        .map(|b| b.tactic.id.clone())
        .collect();
    for tech in tag_techniques {
        if blocks.iter().any(|b| block_has(b, &tech)) {
            continue;
        }
        let parent = tech.split('.').next().unwrap_or(&tech).to_string();
        let mut targets: Vec<String> = rule_tactics
            .iter()
            .filter(|t| technique_fits(&tech, t))
            .cloned()
            .collect();
        if targets.is_empty() {
            let info = technique(&tech).or_else(|| technique(&parent));
            match info {
                Some(i) => targets = i.tactics.iter().map(|s| s.to_string()).collect(),
                None => targets = rule_tactics.clone(),
            }
        }
        for tid in targets {
            let idx = match blocks
                .iter()
                .position(|b| b.framework == ATTACK_FRAMEWORK && b.tactic.id == tid)
            {
                Some(i) => i,
                None => {
                    let Some(t) = tactic(&tid) else { continue };
                    blocks.push(ThreatMapping {
                        framework: ATTACK_FRAMEWORK.into(),
                        tactic: tactic_ref(t),
                        techniques: Vec::new(),
                    });
                    blocks.len() - 1
                }
            };
            add_technique(&mut blocks[idx], &tech);
        }
    }
    blocks
}

fn block_has(b: &ThreatMapping, id: &str) -> bool {
    b.techniques.iter().any(|t| {
        t.technique.id.eq_ignore_ascii_case(id)
            || t.subtechniques
                .iter()
                .any(|s| s.id.eq_ignore_ascii_case(id))
    })
}

fn add_technique(block: &mut ThreatMapping, id: &str) {
    let parent = id.split('.').next().unwrap_or(id);
    let pos = match block
        .techniques
        .iter()
        .position(|t| t.technique.id.eq_ignore_ascii_case(parent))
    {
        Some(p) => p,
        None => {
            block.techniques.push(Technique {
                technique: technique_ref(parent),
                subtechniques: Vec::new(),
            });
            block.techniques.len() - 1
        }
    };
    if id.contains('.')
        && !block.techniques[pos]
            .subtechniques
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(id))
    {
        block.techniques[pos].subtechniques.push(technique_ref(id));
    }
}

/// Fill missing names and references of an ATT&CK block from the ATT&CK table.
fn normalize_block(b: &ThreatMapping) -> ThreatMapping {
    if b.framework != ATTACK_FRAMEWORK {
        return b.clone();
    }
    let mut out = b.clone();
    if let Some(t) = tactic(&b.tactic.id) {
        out.tactic.id = t.id.to_string();
        if out.tactic.name.as_deref().is_none_or(str::is_empty) {
            out.tactic.name = Some(t.name.to_string());
        }
        if out.tactic.reference.as_deref().is_none_or(str::is_empty) {
            out.tactic.reference = Some(tactic_url(t.id));
        }
    }
    for tech in &mut out.techniques {
        fill_ref(&mut tech.technique);
        for s in &mut tech.subtechniques {
            fill_ref(s);
        }
    }
    out
}

fn fill_ref(r: &mut AttackRef) {
    if !is_technique_id(&r.id) {
        return;
    }
    r.id = r.id.to_ascii_uppercase();
    let canonical = technique_ref(&r.id);
    if r.name.as_deref().is_none_or(str::is_empty) {
        r.name = canonical.name;
    }
    if r.reference.as_deref().is_none_or(str::is_empty) {
        r.reference = canonical.reference;
    }
}

/// Elastic's `threat` JSON (Kibana API form).
pub fn elastic_threat_json(blocks: &[ThreatMapping]) -> Value {
    let refj = |r: &AttackRef| {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(r.id));
        m.insert(
            "name".into(),
            json!(r.name.clone().unwrap_or_else(|| r.id.clone())),
        );
        if let Some(u) = &r.reference {
            m.insert("reference".into(), json!(u));
        }
        m
    };
    Value::Array(
        blocks
            .iter()
            .map(|b| {
                let techniques: Vec<Value> = b
                    .techniques
                    .iter()
                    .map(|t| {
                        let mut m = refj(&t.technique);
                        if !t.subtechniques.is_empty() {
                            m.insert(
                                "subtechnique".into(),
                                Value::Array(
                                    t.subtechniques
                                        .iter()
                                        .map(|s| Value::Object(refj(s)))
                                        .collect(),
                                ),
                            );
                        }
                        Value::Object(m)
                    })
                    .collect();
                json!({
                    "framework": b.framework,
                    "tactic": Value::Object(refj(&b.tactic)),
                    "technique": techniques,
                })
            })
            .collect(),
    )
}

/// Sigma tags for the blocks: `attack.<tactic short name>` then `attack.t…` ids, lower case.
pub fn sigma_tags(blocks: &[ThreatMapping]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for b in blocks.iter().filter(|b| b.framework == ATTACK_FRAMEWORK) {
        if let Some(t) = tactic(&b.tactic.id) {
            push(format!("attack.{}", t.short));
        }
    }
    for id in all_technique_ids(blocks) {
        push(format!("attack.{}", id.to_ascii_lowercase()));
    }
    out
}

/// Sentinel tactics (`DefenseEvasion`…), deduplicated, in block order.
pub fn sentinel_tactics(blocks: &[ThreatMapping]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for b in blocks.iter().filter(|b| b.framework == ATTACK_FRAMEWORK) {
        if let Some(t) = tactic(&b.tactic.id) {
            if !out.contains(&t.sentinel) {
                out.push(t.sentinel);
            }
        }
    }
    out
}

/// Every technique and sub-technique id, deduplicated: a technique with sub-techniques is
/// represented by the sub-techniques only (as Sentinel's `relevantTechniques` and Splunk's
/// `mitre_attack` annotation list them).
pub fn all_technique_ids(blocks: &[ThreatMapping]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in blocks.iter().filter(|b| b.framework == ATTACK_FRAMEWORK) {
        for t in &b.techniques {
            let ids: Vec<&str> = if t.subtechniques.is_empty() {
                vec![t.technique.id.as_str()]
            } else {
                t.subtechniques.iter().map(|s| s.id.as_str()).collect()
            };
            for id in ids {
                if is_technique_id(id) && !out.iter().any(|o| o.eq_ignore_ascii_case(id)) {
                    out.push(id.to_ascii_uppercase());
                }
            }
        }
    }
    out
}

/// Parent technique ids (`T1550`) and sub-technique ids (`T1550.001`), for ARM's `techniques`
/// and `subTechniques`.
pub fn techniques_and_subtechniques(blocks: &[ThreatMapping]) -> (Vec<String>, Vec<String>) {
    let mut parents: Vec<String> = Vec::new();
    let mut subs: Vec<String> = Vec::new();
    for id in all_technique_ids(blocks) {
        let parent = id.split('.').next().unwrap_or(&id).to_string();
        if !parents.contains(&parent) {
            parents.push(parent);
        }
        if id.contains('.') && !subs.contains(&id) {
            subs.push(id);
        }
    }
    (parents, subs)
}

/// Techniques that ATT&CK does not list under any of the blocks' tactics (the Azure-Sentinel
/// validator rejects a rule with such a technique).
pub fn techniques_without_tactic(blocks: &[ThreatMapping]) -> Vec<String> {
    let tactics: Vec<&str> = blocks
        .iter()
        .filter(|b| b.framework == ATTACK_FRAMEWORK)
        .filter_map(|b| tactic(&b.tactic.id).map(|t| t.id))
        .collect();
    all_technique_ids(blocks)
        .into_iter()
        .filter(|id| !tactics.iter().any(|t| technique_fits(id, t)))
        .collect()
}

/// Splunk ES `action.correlationsearch.annotations` JSON.
pub fn splunk_annotations(blocks: &[ThreatMapping]) -> Value {
    json!({ "mitre_attack": all_technique_ids(blocks) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta_with_tags(tags: &[&str]) -> RuleMeta {
        RuleMeta {
            tags: tags.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn tactic_spellings() {
        for k in [
            "TA0005",
            "defense_evasion",
            "defense-evasion",
            "Defense Evasion",
            "stealth",
        ] {
            assert_eq!(tactic(k).map(|t| t.id), Some("TA0005"), "{k}");
        }
        assert_eq!(
            tactic("defense-impairment").map(|t| t.sentinel),
            Some("DefenseEvasion")
        );
        assert!(tactic("nonsense").is_none());
    }

    #[test]
    fn technique_ids() {
        assert!(is_technique_id("T1550") && is_technique_id("t1550.001"));
        assert!(
            !is_technique_id("T155") && !is_technique_id("T1550.01") && !is_technique_id("TA0005")
        );
        assert_eq!(
            technique("T1550.001").map(|t| t.name.as_str()),
            Some("Application Access Token")
        );
        assert_eq!(
            technique_url("T1550.001"),
            "https://attack.mitre.org/techniques/T1550/001/"
        );
    }

    #[test]
    fn sigma_tags_become_blocks() {
        let blocks = threat_blocks(&meta_with_tags(&[
            "attack.defense_evasion",
            "attack.t1550.001",
            "attack.g0016",
        ]));
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].tactic.id, "TA0005");
        assert_eq!(blocks[0].tactic.name.as_deref(), Some("Defense Evasion"));
        assert_eq!(blocks[0].techniques[0].technique.id, "T1550");
        assert_eq!(
            blocks[0].techniques[0].technique.name.as_deref(),
            Some("Use Alternate Authentication Material")
        );
        assert_eq!(blocks[0].techniques[0].subtechniques[0].id, "T1550.001");
        assert_eq!(
            sigma_tags(&blocks),
            vec!["attack.defense-evasion", "attack.t1550.001"]
        );
        assert_eq!(sentinel_tactics(&blocks), vec!["DefenseEvasion"]);
        assert_eq!(
            techniques_and_subtechniques(&blocks),
            (vec!["T1550".into()], vec!["T1550.001".into()])
        );
        assert_eq!(
            splunk_annotations(&blocks),
            json!({"mitre_attack": ["T1550.001"]})
        );
    }

    #[test]
    fn technique_placed_under_matching_tactic_only() {
        // T1098.001 is Persistence and Privilege Escalation in ATT&CK, not Execution.
        let blocks = threat_blocks(&meta_with_tags(&[
            "attack.execution",
            "attack.persistence",
            "attack.t1098.001",
        ]));
        let with: Vec<&str> = blocks
            .iter()
            .filter(|b| !b.techniques.is_empty())
            .map(|b| b.tactic.id.as_str())
            .collect();
        assert_eq!(with, vec!["TA0003"]);
        assert!(techniques_without_tactic(&blocks).is_empty());
    }

    #[test]
    fn technique_without_rule_tactic_uses_attack_tactics() {
        let blocks = threat_blocks(&meta_with_tags(&["attack.t1550.001"]));
        let ids: Vec<&str> = blocks.iter().map(|b| b.tactic.id.as_str()).collect();
        assert_eq!(ids, vec!["TA0005", "TA0008"]);
    }

    #[test]
    fn mismatched_source_mapping_is_detected() {
        let meta = RuleMeta {
            threat: vec![ThreatMapping {
                framework: ATTACK_FRAMEWORK.into(),
                tactic: AttackRef {
                    id: "TA0002".into(),
                    name: None,
                    reference: None,
                },
                techniques: vec![Technique {
                    technique: AttackRef {
                        id: "T1098".into(),
                        name: None,
                        reference: None,
                    },
                    subtechniques: vec![],
                }],
            }],
            ..Default::default()
        };
        let blocks = threat_blocks(&meta);
        assert_eq!(blocks[0].tactic.name.as_deref(), Some("Execution"));
        assert_eq!(
            blocks[0].techniques[0].technique.name.as_deref(),
            Some("Account Manipulation")
        );
        assert_eq!(
            techniques_without_tactic(&blocks),
            vec!["T1098".to_string()]
        );
    }
}
