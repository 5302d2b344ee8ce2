//! Splunk SPL: emitter, parser and evaluator for the emitted subset.
//!
//! - [`Splunk`] implements [`QueryLanguage`]: `emit` writes SPL that keeps the rule's meaning
//!   (see [`emit`](crate::emit) for the layout), `compile` parses SPL back and runs it with
//!   Splunk's semantics over Splunk event views.
//! - [`parse`] gives the [`ast::Pipeline`] of a search.
//! - [`SplunkOptions::data_model`] switches on CIM data-model mode (`| tstats … from
//!   datamodel=…`); [`cim`] holds the CIM table both the emitter and the evaluator read.

pub mod ast;
pub mod cim;
mod datamodel;
mod emit;
mod eval;
mod parse;
mod regex_dialect;

pub use emit::{eval_field, quote, search_field};
pub use parse::{parse, parse_span, MAX_DEPTH};

use ruleport_model::{
    CompiledQuery, Diagnostic, Fidelity, MappedRule, Port, QueryLanguage, RunError, Schema,
    TargetId, Unsupported,
};
use serde_json::Value;

/// Output settings for the SPL emitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplunkOptions {
    /// Put a case-insensitive superset of each `| where` condition into the base search, so
    /// Splunk can use its index (default on; the result is the same either way).
    pub prefilter: bool,
    /// CIM data-model mode: a single-event rule whose log source a CIM dataset holds and whose
    /// every field has a CIM name becomes `| tstats … from datamodel=…` (see
    /// [`cim`](crate::cim) and `data/cim.yml`); any other rule falls back to the raw search,
    /// labelled `data-model-fallback` with the reason. Default off.
    pub data_model: bool,
}

impl Default for SplunkOptions {
    fn default() -> Self {
        SplunkOptions {
            prefilter: true,
            data_model: false,
        }
    }
}

/// The Splunk SPL target.
#[derive(Debug, Clone, Default)]
pub struct Splunk {
    options: SplunkOptions,
}

impl Splunk {
    /// A target with default options.
    pub fn new() -> Self {
        Splunk::default()
    }

    /// A target with the given options.
    pub fn with_options(options: SplunkOptions) -> Self {
        Splunk { options }
    }

    /// The options in use.
    pub fn options(&self) -> &SplunkOptions {
        &self.options
    }
}

/// Emit SPL for a rule with the given options (what [`Splunk::emit`] calls).
pub fn emit_search(rule: &MappedRule, options: &SplunkOptions) -> Result<Port, Unsupported> {
    let mut reasons = rule.approximations.clone();
    // SPL has no analysed-text match: text queries become case-insensitive substrings.
    let rewritten;
    let rule = match ruleport_model::text::detection_without_text(&rule.rule.detection) {
        Some(det) => {
            reasons.push(ruleport_model::Approximation::new(
                "text-as-substring",
                "an analysed text query (Elasticsearch match/match_phrase over words) is searched as a case-insensitive substring: parts of longer words match, and a phrase must keep its punctuation",
            ));
            let mut r = rule.clone();
            r.rule.detection = det;
            rewritten = r;
            &rewritten
        }
        None => rule,
    };
    if options.data_model {
        match datamodel::emit(rule, options) {
            Ok((text, approx)) => {
                reasons.extend(approx);
                return Ok(Port {
                    target: TargetId::Splunk,
                    text,
                    fidelity: Fidelity::from_reasons(reasons),
                });
            }
            Err(why) => reasons.push(ruleport_model::Approximation::new(
                "data-model-fallback",
                format!("data-model mode: {why}; the raw search is emitted instead"),
            )),
        }
    }
    let mut e = emit::Emitter::new(options);
    let text = e.rule(rule)?;
    reasons.extend(e.approx);
    Ok(Port {
        target: TargetId::Splunk,
        text,
        fidelity: Fidelity::from_reasons(reasons),
    })
}

/// Parse and prepare SPL for evaluation (what [`Splunk::compile`] returns, as a concrete type).
pub fn compile(text: &str) -> Result<CompiledSpl, Diagnostic> {
    let pipeline = parse(text)?;
    let program = eval::Program::new(pipeline).map_err(|m| {
        Diagnostic::error("E-SPL-REGEX", m)
            .with_hint("ruleport evaluates PCRE with a linear-time engine")
    })?;
    Ok(CompiledSpl { program })
}

/// A parsed SPL search, runnable over Splunk event views.
pub struct CompiledSpl {
    program: eval::Program,
}

impl CompiledSpl {
    /// The parsed pipeline.
    pub fn pipeline(&self) -> &ast::Pipeline {
        &self.program.pipeline
    }
}

impl CompiledQuery for CompiledSpl {
    fn run(&self, events: &[Value]) -> Result<Vec<Vec<usize>>, RunError> {
        self.program.run(events)
    }
}

impl QueryLanguage for Splunk {
    fn id(&self) -> TargetId {
        TargetId::Splunk
    }

    fn schema(&self) -> Schema {
        Schema::Splunk
    }

    fn emit(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        emit_search(rule, &self.options)
    }

    fn compile(&self, text: &str) -> Result<Box<dyn CompiledQuery>, Diagnostic> {
        Ok(Box::new(compile(text)?))
    }
}
