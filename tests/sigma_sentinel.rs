//! Sigma rules → Sentinel for the families mapped in session 3 (issue #8): CloudTrail's JSON-text
//! columns, Windows file access as Security 4663, and the Google Workspace admin and Corelight (Zeek)
//! connector tables.
//! Expected columns come from the table schemas; expected matches from Kusto's documented
//! semantics (`=~` is case-insensitive, `parse_json` of text that is not JSON is that text).

#[path = "support/sentinel_port.rs"]
mod support;

use ruleport_model::{Port, TargetId};
use serde_json::json;
use support::matches;

fn sigma(logsource: &str, detection: &str) -> String {
    format!(
        "title: t\nid: 00000000-0000-4000-8000-000000000002\nstatus: test\nlogsource:\n{logsource}\ndetection:\n{detection}\nlevel: low\n"
    )
}

fn port(yaml: &str) -> Port {
    support::port_to_sentinel(TargetId::Sigma, yaml)
}

#[test]
fn cloudtrail_request_paths_are_read_through_parse_json() {
    let p = port(&sigma(
        "    product: aws\n    service: cloudtrail",
        "    selection:\n        eventName: UpdateDetector\n        requestParameters.enable: 'false'\n    condition: selection",
    ));
    assert_eq!(
        p.text,
        "AWSCloudTrail\n| where EventName =~ \"UpdateDetector\" and tostring(parse_json(RequestParameters).enable) =~ \"false\""
    );
    // AWSCloudTrail stores the request as JSON text in a string column.
    let row = |params: &str| json!({"Type": "AWSCloudTrail", "EventName": "UpdateDetector", "RequestParameters": params});
    assert!(matches(&p, row(r#"{"detectorId":"d1","enable":false}"#)));
    assert!(matches(&p, row(r#"{"enable":"False"}"#)));
    assert!(!matches(&p, row(r#"{"enable":true}"#)));
    assert!(!matches(&p, row(r#"{"other":"false"}"#)));
    // Not JSON: parse_json gives the string back, which has no member `enable`.
    assert!(!matches(&p, row("enable=false")));
    assert!(!matches(
        &p,
        json!({"Type": "AWSCloudTrail", "EventName": "UpdateDetector"})
    ));
}

#[test]
fn cloudtrail_nested_response_paths_and_presence() {
    let p = port(&sigma(
        "    product: aws\n    service: cloudtrail",
        "    selection:\n        eventName: ModifyDBInstance\n        responseElements.pendingModifiedValues.masterUserPassword|exists: true\n    condition: selection",
    ));
    assert!(
        p.text.contains("isnotempty(tostring(parse_json(ResponseElements).pendingModifiedValues.masterUserPassword))"),
        "{}",
        p.text
    );
    let row = |resp: &str| json!({"Type": "AWSCloudTrail", "EventName": "ModifyDBInstance", "ResponseElements": resp});
    assert!(matches(
        &p,
        row(r#"{"pendingModifiedValues":{"masterUserPassword":"****"}}"#)
    ));
    assert!(!matches(&p, row(r#"{"pendingModifiedValues":{}}"#)));
}

#[test]
fn windows_file_access_reads_security_object_access_events() {
    let p = port(&sigma(
        "    product: windows\n    category: file_access",
        "    selection:\n        FileName|contains: '\\Microsoft\\Protect\\'\n    filter:\n        Image|startswith: 'C:\\Windows\\System32\\'\n    condition: selection and not filter",
    ));
    assert_eq!(
        p.text,
        "SecurityEvent\n| where EventID == 4663 and ObjectType == \"File\" and ObjectName contains @\"\\Microsoft\\Protect\\\" and ProcessName !startswith @\"C:\\Windows\\System32\\\""
    );
    let row = |obj: &str, proc_: &str| json!({"Type": "SecurityEvent", "EventID": 4663, "ObjectType": "File", "ObjectName": obj, "ProcessName": proc_});
    assert!(matches(
        &p,
        row(
            "C:\\Users\\a\\AppData\\Roaming\\microsoft\\protect\\S-1-5-21\\k",
            "C:\\tmp\\x.exe"
        )
    ));
    assert!(!matches(
        &p,
        row(
            "C:\\Users\\a\\AppData\\Roaming\\Microsoft\\Protect\\k",
            "c:\\windows\\system32\\lsass.exe"
        )
    ));
    // 4656 (a handle request) is not an access.
    assert!(!matches(
        &p,
        json!({"Type": "SecurityEvent", "EventID": 4656, "ObjectType": "File", "ObjectName": "C:\\Microsoft\\Protect\\k", "ProcessName": "C:\\x.exe"})
    ));
}

#[test]
fn google_workspace_admin_reads_the_connector_table() {
    // `eventService: admin.googleapis.com` holds for every row of the admin table.
    let p = port(&sigma(
        "    product: gcp\n    service: google_workspace.admin",
        "    selection:\n        eventService: admin.googleapis.com\n        eventName: CHANGE_APPLICATION_SETTING\n        setting_name|startswith: 'ContextAwareAccess'\n    condition: selection",
    ));
    assert_eq!(
        p.text,
        "GWorkspace_ReportsAPI_admin_CL\n| where event_name_s =~ \"CHANGE_APPLICATION_SETTING\" and SETTING_NAME_s startswith \"ContextAwareAccess\""
    );
    let row = |name: &str, setting: &str| json!({"Type": "GWorkspace_ReportsAPI_admin_CL", "event_name_s": name, "SETTING_NAME_s": setting});
    assert!(matches(
        &p,
        row("CHANGE_APPLICATION_SETTING", "ContextAwareAccess.Level")
    ));
    assert!(!matches(&p, row("CHANGE_APPLICATION_SETTING", "Gmail")));
    assert!(!matches(&p, row("CREATE_ROLE", "ContextAwareAccess.Level")));
}

#[test]
fn zeek_logs_read_the_corelight_tables() {
    let p = port(&sigma(
        "    product: zeek\n    service: dce_rpc",
        "    selection:\n        endpoint: svcctl\n        operation|startswith: CreateService\n    condition: selection",
    ));
    assert_eq!(
        p.text,
        "Corelight_v2_dce_rpc_CL\n| where endpoint_s =~ \"svcctl\" and operation_s startswith \"CreateService\""
    );
    let row = |e: &str, o: &str| json!({"Type": "Corelight_v2_dce_rpc_CL", "endpoint_s": e, "operation_s": o});
    assert!(matches(&p, row("SVCCTL", "CreateServiceW")));
    assert!(!matches(&p, row("svcctl", "StartServiceW")));

    // Ports are numbers (`_d` columns); Zeek's vectors arrive as one string, which the port says.
    let p = port(&sigma(
        "    product: zeek\n    service: dns",
        "    selection:\n        id.resp_p: 53\n        answers: '127.0.0.1'\n    condition: selection",
    ));
    assert_eq!(
        p.text,
        "Corelight_v2_dns_CL\n| where id_resp_p_d == 53 and answers_s =~ \"127.0.0.1\""
    );
    assert!(support::codes(&p).iter().any(|c| c == "value-format"));
    assert!(matches(
        &p,
        json!({"Type": "Corelight_v2_dns_CL", "id_resp_p_d": 53.0, "answers_s": "127.0.0.1"})
    ));
    assert!(!matches(
        &p,
        json!({"Type": "Corelight_v2_dns_CL", "id_resp_p_d": 5353.0, "answers_s": "127.0.0.1"})
    ));
}
