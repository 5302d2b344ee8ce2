//! The Kusto subset: parse, compile (regexes included) and run over a small row set.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ruleport_model::CompiledQuery;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(q) = ruleport_sentinel::compile(text) {
            let rows = [
                serde_json::json!({"Type": "T", "TimeGenerated": "2024-01-01T00:00:00Z", "A": "b", "D": {"k": [1, "x"]}}),
                serde_json::json!({"Type": "SecurityEvent", "EventID": 4688, "A": ""}),
            ];
            let _ = q.run(&rows);
        }
    }
});
