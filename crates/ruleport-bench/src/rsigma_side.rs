//! rsigma (rsigma-eval 0.23) on the same rule files and events, for a side-by-side figure.

use crate::evaluate::{EvalResult, Pass};
use crate::stats;
use rsigma_eval::event::JsonEvent;
use rsigma_eval::Engine;
use rsigma_parser::{parse_sigma_yaml, LogSource, SigmaRule};
use ruleport_mapping::Mapping;
use ruleport_model::Schema;
use serde_json::Value;
use std::path::PathBuf;

/// rsigma's engine over the same rule files.
pub(crate) struct RsigmaSet {
    pub(crate) engine: Engine,
    pub(crate) rules: usize,
    pub(crate) parse_failures: usize,
    pub(crate) compile_failures: usize,
}

/// Parse every file with rsigma's parser and compile the detection rules into one engine.
pub(crate) fn load(files: &[PathBuf]) -> RsigmaSet {
    let mut all: Vec<SigmaRule> = Vec::new();
    let mut parse_failures = 0;
    for f in files {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_sigma_yaml(&t).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                if !c.errors.is_empty() && c.rules.is_empty() && c.correlations.is_empty() {
                    parse_failures += 1;
                }
                all.extend(c.rules);
            }
            Err(_) => parse_failures += 1,
        }
    }
    let mut engine = Engine::new();
    let errors = engine.add_rules(all.iter());
    RsigmaSet {
        rules: engine.rule_count(),
        engine,
        parse_failures,
        compile_failures: errors.len(),
    }
}

/// The event's log source as rsigma's router wants it: the Sigma keys of the mapping entry the
/// event classifies as (ruleport's classification, computed once per event and not cached, so
/// this is a cost rsigma's routed figure carries).
fn event_logsource(mapping: &Mapping, doc: &Value) -> LogSource {
    let mut ls = LogSource::default();
    if let Some(keys) = mapping
        .classify(doc, Schema::Sigma)
        .and_then(|e| e.sigma.as_ref())
    {
        ls.product = keys.product.clone();
        ls.category = keys.category.clone();
        ls.service = keys.service.clone();
    }
    ls
}

/// Time rsigma over `events` × `times`, single thread, with or without routing.
pub(crate) fn bench(
    set: &RsigmaSet,
    mapping: &Mapping,
    events: &[Value],
    times: usize,
    runs: usize,
    routed: bool,
) -> EvalResult {
    // Classification is ruleport's mapping code, not rsigma's: do it once per distinct event, untimed.
    let logsources: Vec<LogSource> = events.iter().map(|e| event_logsource(mapping, e)).collect();
    let (secs, last) = stats::time_runs(runs, || {
        let mut p = Pass::default();
        for _ in 0..times {
            for (doc, ls) in events.iter().zip(&logsources) {
                let ev = JsonEvent::borrow(doc);
                let hits = if routed {
                    set.engine.evaluate_with_logsource(&ev, ls)
                } else {
                    set.engine.evaluate(&ev)
                };
                p.matches += hits.len() as u64;
            }
        }
        p
    });
    EvalResult {
        label: format!(
            "rsigma-eval 0.23 Engine::{} — 1 thread",
            if routed {
                "evaluate_with_logsource (log-source routing)"
            } else {
                "evaluate (inverted index, no routing)"
            }
        ),
        secs,
        pass: last.unwrap_or_default(),
        events: events.len() * times,
        rules: set.rules,
    }
}
