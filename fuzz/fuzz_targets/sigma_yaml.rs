//! Sigma YAML importer: any text gives rules or diagnostics, never a panic, hang or blow-up.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let out = ruleport_sigma::import_str(text, Some(std::path::Path::new("fuzz.yml")));
        for d in &out.diagnostics {
            let _ = d.to_string();
        }
    }
});
