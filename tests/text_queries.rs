//! Analysed text queries (`Op::Text`) in every target: what each writes, whether it says the
//! port is exact, and how the written query behaves under the target's own semantics.

#[path = "support/sentinel_port.rs"]
mod support;

use ruleport_eval::convert::{rule_format, Converter};
use ruleport_mapping::Mapping;
use ruleport_model::{Port, Rule, TargetId, Unsupported};
use serde_json::json;

fn toml(query: &str) -> String {
    format!(
        "[metadata]\ncreation_date = \"2024/01/01\"\nmaturity = \"production\"\nupdated_date = \"2024/01/01\"\n\n\
         [rule]\nauthor = [\"t\"]\ndescription = \"t\"\nname = \"t\"\nrisk_score = 21\n\
         rule_id = \"00000000-0000-4000-8000-000000000002\"\nseverity = \"low\"\ntype = \"query\"\n\
         language = \"kuery\"\nindex = [\"winlogbeat-*\", \"logs-windows.powershell*\"]\nquery = '''\n{query}\n'''\n"
    )
}

fn rule(query: &str) -> Rule {
    let toml = toml(query);
    let mut rules = rule_format(TargetId::Elastic)
        .expect("format")
        .import_text(&toml, None)
        .expect("import");
    rules.remove(0)
}

fn port(r: &Rule, t: TargetId) -> Result<Port, Unsupported> {
    Converter::new(Mapping::builtin()).port(r, t)
}

const QUERY: &str = r#"event.category:"process" and host.os.type:"windows" and powershell.file.script_block_text:"Get-ADDomain""#;

#[test]
fn kuery_and_elastic_ports_are_exact() {
    let r = rule(QUERY);
    for t in [TargetId::Kuery, TargetId::Elastic] {
        let p = port(&r, t).expect("port");
        assert!(p.fidelity.is_exact(), "{t}: {:?}", support::codes(&p));
        assert!(
            p.text
                .contains(r#"powershell.file.script_block_text:"Get-ADDomain""#),
            "{}",
            p.text
        );
    }
}

#[test]
fn sentinel_uses_has_and_says_so() {
    let p = support::port_to_sentinel(TargetId::Elastic, &toml(QUERY));
    assert!(p.text.contains(r#"has "Get-ADDomain""#), "{}", p.text);
    assert!(support::codes(&p).contains(&"text-analysis".to_string()));
    let row = |text: &str| {
        json!({"Type": "WindowsEvent", "Channel": "Microsoft-Windows-PowerShell/Operational",
               "EventID": 4104, "EventData": {"ScriptBlockText": text}})
    };
    // `has` is case-insensitive and needs term edges, like the analyser here...
    assert!(support::matches(&p, row("$d = get-addomain -Server x")));
    assert!(!support::matches(&p, row("Get-ADDomainController")));
    // ...but Kusto splits at `-` and `_` too: a longer hyphenated word matches (the approximation).
    assert!(support::matches(&p, row("x-Get-ADDomain")));
}

#[test]
fn splunk_and_sigma_search_substrings_and_say_so() {
    let r = rule(QUERY);
    let p = port(&r, TargetId::Splunk).expect("port");
    assert!(
        p.text.contains(r#"ScriptBlockText="*Get-ADDomain*""#),
        "{}",
        p.text
    );
    assert!(support::codes(&p).contains(&"text-as-substring".to_string()));
    let p = port(&r, TargetId::Sigma).expect("port");
    assert!(
        p.text.contains("ScriptBlockText|contains: 'Get-ADDomain'"),
        "{}",
        p.text
    );
    assert!(support::codes(&p).contains(&"text-as-contains".to_string()));
}

#[test]
fn eql_refuses_text_fields() {
    let u = port(&rule(QUERY), TargetId::Eql).expect_err("eql");
    assert_eq!(u.code, "eql-text-field");
}

#[test]
fn any_word_queries_become_an_or_of_words() {
    let r =
        rule(r#"event.category:"process" and powershell.file.script_block_text:Invoke Mimikatz"#);
    let p = port(&r, TargetId::Kuery).expect("port");
    assert!(p.fidelity.is_exact(), "{:?}", support::codes(&p));
    assert!(
        p.text
            .contains("powershell.file.script_block_text:Invoke Mimikatz"),
        "{}",
        p.text
    );
    let p = port(&r, TargetId::Sentinel).expect("port");
    assert!(
        p.text.contains(r#"has "invoke" or "#) && p.text.contains(r#"has "mimikatz""#),
        "{}",
        p.text
    );
}

#[test]
fn wildcard_on_a_text_field_is_unsupported_not_keyword() {
    let r = rule("message:*forbidden*");
    assert_eq!(r.detection.kind_name(), "unsupported");
}
