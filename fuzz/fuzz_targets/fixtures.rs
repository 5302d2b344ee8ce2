//! Fixture files (YAML events with expected verdicts).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ruleport_eval::fixtures::parse_fixture_file(text, std::path::Path::new("fuzz.fixtures.yml"));
    }
});
