//! Elastic detection-rules TOML importer (and the kuery / EQL query inside it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match ruleport_elastic::import_str(text, Some(std::path::Path::new("fuzz.toml"))) {
            Ok(rule) => {
                let _ = rule.location();
            }
            Err(diags) => {
                assert!(!diags.is_empty(), "an import error without a diagnostic");
            }
        }
    }
});
