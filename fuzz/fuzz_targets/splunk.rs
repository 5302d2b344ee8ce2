//! The SPL subset: parse, compile (regexes included) and run over a small event set.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ruleport_model::CompiledQuery;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(q) = ruleport_splunk::compile(text) {
            let events = [
                serde_json::json!({"sourcetype": "x", "_time": 1, "a": "b", "c": ["1", "2"], "_raw": "a=b"}),
                serde_json::json!({"_time": "2024-01-01T00:00:00Z", "a": 3}),
            ];
            let _ = q.run(&events);
        }
    }
});
