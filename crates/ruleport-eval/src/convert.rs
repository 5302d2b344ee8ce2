//! The target registry and conversion: rule → mapped rule → port.

use ruleport_mapping::Mapping;
use ruleport_model::{
    Approximation, Fidelity, Port, QueryLanguage, Rule, RuleFormat, TargetId, Unsupported,
};

static KUERY: ruleport_kuery::Kuery = ruleport_kuery::Kuery;
static EQL: ruleport_eql::Eql = ruleport_eql::Eql;
static SPLUNK: std::sync::LazyLock<ruleport_splunk::Splunk> = std::sync::LazyLock::new(ruleport_splunk::Splunk::new);
static SENTINEL: ruleport_sentinel::Sentinel = ruleport_sentinel::Sentinel;
static SIGMA: ruleport_sigma::SigmaFormat = ruleport_sigma::SigmaFormat;
static ELASTIC: ruleport_elastic::ElasticFormat = ruleport_elastic::ElasticFormat;

/// The query language behind a target id, if it is one.
pub fn query_language(t: TargetId) -> Option<&'static dyn QueryLanguage> {
    Some(match t {
        TargetId::Kuery => &KUERY,
        TargetId::Eql => &EQL,
        TargetId::Splunk => &*SPLUNK,
        TargetId::Sentinel => &SENTINEL,
        _ => return None,
    })
}

/// The rule format behind a target id, if it is one.
pub fn rule_format(t: TargetId) -> Option<&'static dyn RuleFormat> {
    Some(match t {
        TargetId::Sigma => &SIGMA,
        TargetId::Elastic => &ELASTIC,
        _ => return None,
    })
}

/// Converts rules with one mapping configuration and per-target options.
#[derive(Debug, Clone)]
pub struct Converter {
    pub mapping: Mapping,
    /// Splunk output options (CIM data-model mode…).
    pub splunk: ruleport_splunk::SplunkOptions,
}

impl Converter {
    pub fn new(mapping: Mapping) -> Self {
        Converter {
            mapping,
            splunk: ruleport_splunk::SplunkOptions::default(),
        }
    }

    /// Port a rule to a target. Mapping approximations are always part of the port's fidelity.
    pub fn port(&self, rule: &Rule, target: TargetId) -> Result<Port, Unsupported> {
        let contradiction = |mapped: &ruleport_model::MappedRule| {
            ruleport_mapping::source_contradiction(mapped).map(|why| Unsupported::new(target, "contradicts-source", why))
        };
        let (schema, result) = if target == TargetId::Splunk {
            let mapped = self.mapping.map_rule(rule, ruleport_model::Schema::Splunk);
            if let Some(u) = contradiction(&mapped) {
                return Err(u);
            }
            (mapped.approximations.clone(), ruleport_splunk::emit_search(&mapped, &self.splunk))
        } else if let Some(lang) = query_language(target) {
            let mapped = self.mapping.map_rule(rule, lang.schema());
            if let Some(u) = contradiction(&mapped) {
                return Err(u);
            }
            (mapped.approximations.clone(), lang.emit(&mapped))
        } else if let Some(fmt) = rule_format(target) {
            let mapped = self.mapping.map_rule(rule, fmt.schema());
            (mapped.approximations.clone(), fmt.export(&mapped))
        } else {
            return Err(Unsupported::new(target, "unknown-target", "no emitter for this target"));
        };
        // Never hand out a query the target's own parser rejects: that is an emitter bug, and
        // the user gets an explicit refusal instead of broken text.
        let result = result.and_then(|port| match query_language(target).map(|l| l.compile(&port.text)) {
            Some(Err(d)) => Err(Unsupported::new(
                target,
                "emit-unparseable",
                format!("the emitted query does not parse back ({d}); refusing to output it"),
            )),
            _ => Ok(port),
        });
        result.map(|mut port| {
            let mut reasons: Vec<Approximation> = port.fidelity.reasons().to_vec();
            reasons.extend(schema);
            // Only EQL (and Elastic TOML, which carries EQL) writes `| head`/`| tail`; elsewhere
            // every result is returned: the same events match, more alerts may be raised.
            if let Some(limit) = rule.meta.result_limit {
                if !matches!(target, TargetId::Eql | TargetId::Elastic) {
                    let keep = match limit.keep {
                        ruleport_model::LimitKeep::First => "first",
                        ruleport_model::LimitKeep::Last => "last",
                    };
                    reasons.push(Approximation::new(
                        "result-limit-dropped",
                        format!("the source keeps only the {keep} {} result(s) of each run; {target} returns them all", limit.count),
                    ));
                }
            }
            port.fidelity = Fidelity::from_reasons(reasons);
            port
        })
    }
}
