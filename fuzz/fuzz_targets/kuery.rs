//! Kibana KQL: parse and lower to the rule model; errors carry a 1-based position.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(d) = ruleport_kuery::parse_to_expr(text) {
            if let Some(p) = d.pos {
                assert!(p.line >= 1 && p.column >= 1, "position {p:?}");
            }
        }
    }
});
