//! What the converter adds to every port: the result limit and refused contradictions.

use ruleport_eval::convert::Converter;
use ruleport_mapping::Mapping;
use ruleport_model::TargetId;

const RULE: &str = r#"[metadata]
creation_date = "2026/01/01"
maturity = "production"
updated_date = "2026/01/01"

[rule]
author = ["ruleport"]
description = "Several failed logons, then a success, for one user."
from = "now-9m"
index = ["logs-system.security-*"]
language = "eql"
license = "Apache-2.0"
name = "Failures then success"
risk_score = 47
rule_id = "00000000-0000-4000-8000-00000000c0de"
severity = "medium"
type = "eql"
query = '''
sequence by user.name with maxspan=1m
  [authentication where host.os.type == "windows" and event.outcome == "failure"] with runs=3
  [authentication where host.os.type == "windows" and event.outcome == "success"] | tail 1
'''
"#;

#[test]
fn a_tail_pipe_is_kept_by_eql_and_reported_by_other_targets() {
    let rule = ruleport_elastic::import_str(RULE, None).unwrap_or_else(|d| panic!("{}", d[0]));
    let conv = Converter::new(Mapping::builtin());
    let eql = conv.port(&rule, TargetId::Eql).expect("eql port");
    assert!(eql.text.trim_end().ends_with("| tail 1"), "{}", eql.text);
    assert!(!eql
        .fidelity
        .reasons()
        .iter()
        .any(|a| a.code == "result-limit-dropped"));
    let splunk = conv.port(&rule, TargetId::Splunk).expect("splunk port");
    assert!(splunk
        .fidelity
        .reasons()
        .iter()
        .any(|a| a.code == "result-limit-dropped"));
    for t in [TargetId::Sentinel, TargetId::Sigma] {
        match conv.port(&rule, t) {
            Ok(p) => assert!(
                p.fidelity
                    .reasons()
                    .iter()
                    .any(|a| a.code == "result-limit-dropped"),
                "{t}: {:?}",
                p.fidelity.reasons()
            ),
            Err(u) => assert_ne!(u.code, "emit-unparseable", "{t}: {u}"),
        }
    }
}
