//! Elasticsearch EQL: parse, lower to the rule model, and prepare for evaluation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // One parse feeds both the lowering and the evaluator (`compile` would parse again).
        if let Ok(q) = ruleport_eql::parse(text) {
            let _ = ruleport_eql::lower(&q);
            let _ = ruleport_eql::eval::CompiledEql::new(q);
        }
    }
});
