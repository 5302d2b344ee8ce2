//! Splunk SPL: emitter, parser and evaluator for the emitted subset
