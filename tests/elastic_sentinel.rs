//! Elastic rules → Sentinel (issue #8): one representative rule per newly mapped family. The
//! expected tables and columns come from the Sentinel table schemas (AWSCloudTrail, GCPAuditLogs,
//! OfficeActivity, SecurityEvent, DeviceFileEvents, DeviceProcessEvents) and the expected matches
//! from Kusto's documented semantics (`==` is case-sensitive, `startswith` is not, a missing
//! string column reads as "").

#[path = "support/sentinel_port.rs"]
mod support;

use ruleport_model::{Port, TargetId};
use serde_json::json;
use support::matches;

fn elastic(kind: &str, language: &str, index: &str, query: &str) -> String {
    format!(
        "[metadata]\ncreation_date = \"2024/01/01\"\nmaturity = \"production\"\nupdated_date = \"2024/01/01\"\n\n\
         [rule]\nauthor = [\"t\"]\ndescription = \"t\"\nname = \"t\"\nrisk_score = 21\n\
         rule_id = \"00000000-0000-4000-8000-000000000001\"\nseverity = \"low\"\ntype = \"{kind}\"\n\
         language = \"{language}\"\nindex = [{index}]\nquery = '''\n{query}\n'''\n"
    )
}

fn port(toml: &str) -> Port {
    support::port_to_sentinel(TargetId::Elastic, toml)
}

#[test]
fn cloudtrail_outcome_is_whether_error_code_is_set() {
    let ok = port(&elastic(
        "query",
        "kuery",
        "\"logs-aws.cloudtrail-*\"",
        "event.dataset:aws.cloudtrail and event.provider:iam.amazonaws.com and event.action:CreateUser and event.outcome:success",
    ));
    assert_eq!(
        ok.text,
        "AWSCloudTrail\n| where EventSource == \"iam.amazonaws.com\" and EventName == \"CreateUser\" and isempty(ErrorCode)"
    );
    assert!(
        support::codes(&ok).contains(&"value-format".to_string()),
        "{:?}",
        support::codes(&ok)
    );
    let row = |name: &str, err: &str| json!({"Type": "AWSCloudTrail", "EventSource": "iam.amazonaws.com", "EventName": name, "ErrorCode": err});
    assert!(matches(&ok, row("CreateUser", "")));
    assert!(!matches(&ok, row("CreateUser", "AccessDenied")));
    // Kuery on a keyword field is case-sensitive, and so is Kusto's `==`.
    assert!(!matches(&ok, row("createuser", "")));

    let failed = port(&elastic(
        "query",
        "kuery",
        "\"logs-aws.cloudtrail-*\"",
        "event.dataset:aws.cloudtrail and event.action:ConsoleLogin and event.outcome:failure",
    ));
    assert!(
        failed
            .text
            .ends_with("EventName == \"ConsoleLogin\" and isnotempty(ErrorCode)"),
        "{}",
        failed.text
    );
    assert!(matches(
        &failed,
        json!({"Type": "AWSCloudTrail", "EventName": "ConsoleLogin", "ErrorCode": "Failed"})
    ));
}

#[test]
fn gcp_action_is_the_method_and_failure_a_status_message() {
    let p = port(&elastic(
        "query",
        "kuery",
        "\"logs-gcp.audit-*\"",
        "event.dataset:gcp.audit and event.action:\"google.iam.admin.v1.CreateRole\" and event.outcome:failure",
    ));
    assert_eq!(p.text, "GCPAuditLogs\n| where MethodName == \"google.iam.admin.v1.CreateRole\" and isnotempty(StatusMessage)");
    assert!(!matches(
        &p,
        json!({"Type": "GCPAuditLogs", "MethodName": "google.iam.admin.v1.CreateRole"})
    ));
    assert!(matches(
        &p,
        json!({"Type": "GCPAuditLogs", "MethodName": "google.iam.admin.v1.CreateRole", "StatusMessage": "PERMISSION_DENIED"})
    ));
}

#[test]
fn o365_workload_operation_and_result_status() {
    let p = port(&elastic(
        "query",
        "kuery",
        "\"logs-o365.audit-*\"",
        "event.dataset:o365.audit and event.provider:Exchange and event.action:\"New-InboxRule\" and event.outcome:success",
    ));
    assert_eq!(
        p.text,
        "OfficeActivity\n| where OfficeWorkload == \"Exchange\" and Operation == \"New-InboxRule\" and ResultStatus in (\"Succeeded\", \"Success\", \"True\")"
    );
    assert_eq!(support::codes(&p), vec!["value-format".to_string()]);
    let row = |status: &str| json!({"Type": "OfficeActivity", "OfficeWorkload": "Exchange", "Operation": "New-InboxRule", "ResultStatus": status});
    assert!(matches(&p, row("True")));
    assert!(!matches(&p, row("Failed")));
}

#[test]
fn windows_security_rules_read_securityevent_without_an_os_column() {
    let p = port(&elastic(
        "query",
        "kuery",
        "\"logs-system.security*\", \"winlogbeat-*\"",
        "host.os.type:windows and event.code:\"4720\"",
    ));
    // SecurityEvent holds only Windows events and has no OS column: the condition is assumed.
    assert_eq!(p.text, "SecurityEvent\n| where EventID == 4720");
    assert_eq!(support::codes(&p), vec!["assumed-by-source".to_string()]);
    assert!(matches(
        &p,
        json!({"Type": "SecurityEvent", "EventID": 4720})
    ));
    assert!(!matches(
        &p,
        json!({"Type": "SecurityEvent", "EventID": 4624})
    ));
}

#[test]
fn linux_file_actions_are_defender_action_types() {
    let p = port(&elastic(
        "eql",
        "eql",
        "\"logs-endpoint.events.file*\"",
        "file where host.os.type == \"linux\" and event.action == \"rename\" and file.path : \"/etc/cron.d/*\"",
    ));
    assert!(p.text.starts_with("DeviceFileEvents\n"), "{}", p.text);
    let c = support::codes(&p);
    // DeviceFileEvents mixes operating systems: the OS test is dropped, and said to be.
    assert!(c.contains(&"unselected-condition".to_string()), "{c:?}");
    assert!(c.contains(&"value-format".to_string()), "{c:?}");
    assert!(!p.text.contains("host.os.type"));
    let row = |action: &str, path: &str| json!({"Type": "DeviceFileEvents", "ActionType": action, "FolderPath": path});
    assert!(matches(&p, row("FileRenamed", "/etc/cron.d/job")));
    // EQL `:` is case-insensitive, as is Kusto's `startswith`.
    assert!(matches(&p, row("FileRenamed", "/ETC/cron.d/job")));
    assert!(!matches(&p, row("FileCreated", "/etc/cron.d/job")));
    assert!(!matches(&p, row("FileRenamed", "/etc/cron.daily/job")));
}

#[test]
fn windows_process_user_id_is_the_account_sid() {
    let p = port(&elastic(
        "eql",
        "eql",
        "\"logs-endpoint.events.process-*\"",
        "process where host.os.type == \"windows\" and event.type == \"start\" and user.id == \"S-1-5-18\" and process.name == \"cmd.exe\"",
    ));
    assert_eq!(
        p.text,
        "DeviceProcessEvents\n| where AccountSid == \"S-1-5-18\" and FileName == \"cmd.exe\""
    );
    assert!(
        support::codes(&p).contains(&"unselected-condition".to_string()),
        "{:?}",
        support::codes(&p)
    );
    assert!(matches(
        &p,
        json!({"Type": "DeviceProcessEvents", "AccountSid": "S-1-5-18", "FileName": "cmd.exe"})
    ));
    assert!(!matches(
        &p,
        json!({"Type": "DeviceProcessEvents", "AccountSid": "S-1-5-18", "FileName": "CMD.EXE"})
    ));
}

#[test]
fn an_argument_test_becomes_a_substring_test_on_the_command_line() {
    let p = port(&elastic(
        "eql",
        "eql",
        "\"logs-endpoint.events.process*\"",
        "process where host.os.type == \"linux\" and event.type == \"start\" and process.name == \"bash\" and process.args == \"-c\"",
    ));
    assert!(p.text.starts_with("DeviceProcessEvents\n"), "{}", p.text);
    assert!(
        p.text.contains("ProcessCommandLine contains_cs \"-c\""),
        "{}",
        p.text
    );
    let c = support::codes(&p);
    assert!(c.contains(&"value-format".to_string()), "{c:?}");
    let row = |line: &str| json!({"Type": "DeviceProcessEvents", "FileName": "bash", "ProcessCommandLine": line});
    assert!(matches(&p, row("bash -c id")));
    // EQL `==` is case-sensitive; so is `contains_cs`.
    assert!(!matches(&p, row("bash -C id")));
    // The over-approximation the reason declares: `-c` inside a longer argument also matches.
    assert!(matches(&p, row("bash --config x")));
}

#[test]
fn google_workspace_admin_events_read_the_connector_table() {
    // event.provider `admin` names the application every row of the admin table comes from.
    let p = port(&elastic(
        "query",
        "kuery",
        "\"logs-google_workspace.admin-*\"",
        "data_stream.dataset:google_workspace.admin and event.provider:admin and event.action:(ADD_PRIVILEGE or UPDATE_ROLE) and google_workspace.admin.role.name:*_ADMIN_ROLE",
    ));
    assert_eq!(
        p.text,
        "GWorkspace_ReportsAPI_admin_CL\n| where event_name_s in (\"ADD_PRIVILEGE\", \"UPDATE_ROLE\") and ROLE_NAME_s endswith_cs \"_ADMIN_ROLE\""
    );
    let row = |action: &str, role: &str| json!({"Type": "GWorkspace_ReportsAPI_admin_CL", "event_name_s": action, "ROLE_NAME_s": role});
    assert!(matches(&p, row("UPDATE_ROLE", "_SEED_ADMIN_ROLE")));
    assert!(!matches(&p, row("update_role", "_SEED_ADMIN_ROLE")));
    assert!(!matches(&p, row("UPDATE_ROLE", "_seed_admin_role")));
    assert!(!matches(&p, row("DELETE_ROLE", "_SEED_ADMIN_ROLE")));
}
