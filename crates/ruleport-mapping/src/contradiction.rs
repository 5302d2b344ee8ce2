//! Ports that can never match: a rule whose own condition excludes every event of the source the
//! target reads (an ECS rule on `event.code: 4688` mapped to the Sysmon process-creation source,
//! whose events all have EventCode 1).

use crate::top_level_literals;
use ruleport_model::{Detection, MappedRule};

/// Why a mapped rule matches no event of its target source, if it cannot.
pub fn source_contradiction(mapped: &MappedRule) -> Option<String> {
    if matches!(mapped.rule.detection, Detection::Unsupported(_)) {
        return None;
    }
    for (i, f) in mapped.rule.detection.filters().into_iter().enumerate() {
        let Some(cond) = &mapped.selection_for(i).condition else {
            continue;
        };
        let source = top_level_literals(cond);
        let rule = top_level_literals(&f.expr);
        for (field, wanted) in &rule {
            let Some(allowed) = source.get(field) else {
                continue;
            };
            let meets = wanted
                .iter()
                .any(|w| allowed.iter().any(|a| a.eq_ignore_ascii_case(w)));
            if !meets {
                let source_name = mapped
                    .selection_for(i)
                    .logsource_id
                    .clone()
                    .unwrap_or_default();
                return Some(format!(
                    "the rule requires `{field}` to be {} but every {} event of the `{source_name}` source has {}: the port could never match",
                    wanted.join(" or "),
                    mapped.target_schema.name(),
                    allowed.join(" or "),
                ));
            }
        }
    }
    None
}
