//! Shared by the Sentinel port tests: import one rule, port it, and run the port on a row.

use ruleport_eval::convert::{rule_format, Converter};
use ruleport_mapping::Mapping;
use ruleport_model::{Port, TargetId};
use serde_json::Value;

/// Import `text` in `format` (Sigma or Elastic) and port its first rule to Sentinel.
pub(crate) fn port_to_sentinel(format: TargetId, text: &str) -> Port {
    let rules = rule_format(format)
        .expect("rule format")
        .import_text(text, None)
        .expect("import");
    Converter::new(Mapping::builtin())
        .port(&rules[0], TargetId::Sentinel)
        .unwrap_or_else(|u| panic!("unsupported: {u}"))
}

/// Whether the port, parsed back by the Kusto parser, matches `row`.
pub(crate) fn matches(p: &Port, row: Value) -> bool {
    ruleport_sentinel::compile(&p.text)
        .expect("parses back")
        .row_matches(&row)
        .expect("runs")
}

/// The approximation codes a port reports.
pub(crate) fn codes(p: &Port) -> Vec<String> {
    p.fidelity
        .reasons()
        .iter()
        .map(|r| r.code.clone())
        .collect()
}
