//! The Sigma pack: one YAML file per rule, from the Sigma exporter's document.

use crate::manifest::{EntryStatus, Reason, RuleEntry};
use crate::{check_yaml, BuildContext, PackError, PackFiles};
use ruleport_model::TargetId;
use serde_json::json;

pub(crate) fn build(ctx: &BuildContext<'_>) -> Result<(PackFiles, Vec<RuleEntry>), PackError> {
    let mut files = PackFiles::new();
    let mut entries = Vec::new();
    for item in ctx.items {
        let port = item.port(TargetId::Sigma);
        let mut e =
            RuleEntry::from_port(item.source_ref(), "sigma", port.as_ref().map(|p| *p), &[]);
        if let Ok(p) = &port {
            let rel = format!("{}.yml", item.stem);
            // A document the exporter got wrong excludes the rule; a template that breaks valid
            // documents fails the build.
            if let Err(err) = check_yaml(&rel, &p.text) {
                e.status = EntryStatus::Excluded;
                e.reasons = vec![Reason {
                    code: "invalid-port-document".into(),
                    message: err.to_string(),
                }];
                entries.push(e);
                continue;
            }
            let text = ctx
                .templates
                .render("sigma/rule.yml.hbs", &json!({ "document": p.text }))?;
            check_yaml(&rel, &text)?;
            e.files.push(rel.clone());
            files.add(rel, text);
        }
        entries.push(e);
    }
    Ok((files, entries))
}
