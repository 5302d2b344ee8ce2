//! Snapshots of every generated query for the bundled rules (`cargo insta review` to accept).

use ruleport_eval::{load_paths, Converter};
use ruleport_mapping::Mapping;
use ruleport_model::TargetId;
use std::path::PathBuf;

#[test]
fn generated_queries() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let loaded = load_paths(std::slice::from_ref(&root));
    assert!(!loaded.rules.is_empty());
    let conv = Converter::new(Mapping::builtin());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for lr in &loaded.rules {
            let rel = lr.path.strip_prefix(&root).unwrap_or(&lr.path);
            let stem = rel
                .with_extension("")
                .to_string_lossy()
                .replace(['/', '\\'], "__");
            for t in TargetId::ALL {
                let body = match conv.port(&lr.rule, t) {
                    Ok(p) => {
                        let mut s = format!(
                            "fidelity: {}\n",
                            if p.fidelity.is_exact() {
                                "exact"
                            } else {
                                "approximate"
                            }
                        );
                        for r in p.fidelity.reasons() {
                            s.push_str(&format!("reason: {r}\n"));
                        }
                        s.push_str("---\n");
                        s.push_str(&p.text);
                        s
                    }
                    Err(u) => format!("unsupported: [{}] {}\n", u.code, u.reason),
                };
                insta::assert_snapshot!(format!("{stem}@{t}"), body);
            }
        }
    });
}
