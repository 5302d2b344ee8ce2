//! The target registry and conversion: rule → mapped rule → port.

use ruleport_mapping::Mapping;
use ruleport_model::{
    Approximation, Fidelity, MappedRule, Port, QueryLanguage, Rule, RuleFormat, Schema, TargetId,
    Unsupported,
};

static KUERY: ruleport_kuery::Kuery = ruleport_kuery::Kuery;
static EQL: ruleport_eql::Eql = ruleport_eql::Eql;
static SPLUNK: std::sync::LazyLock<ruleport_splunk::Splunk> =
    std::sync::LazyLock::new(ruleport_splunk::Splunk::new);
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

/// The schema a target's field names must be in.
fn target_schema(t: TargetId) -> Option<Schema> {
    if t == TargetId::Splunk {
        return Some(Schema::Splunk);
    }
    query_language(t)
        .map(|l| l.schema())
        .or_else(|| rule_format(t).map(|f| f.schema()))
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
        let Some(schema) = target_schema(target) else {
            return Err(Unsupported::new(
                target,
                "unknown-target",
                "no emitter for this target",
            ));
        };
        let mapped = self.mapping.map_rule(rule, schema);
        self.port_mapped(rule, &mapped, target)
    }

    /// Port a rule to several targets, mapping it once per target schema (kuery, EQL and
    /// Elastic TOML share ECS): the same ports as calling [`Converter::port`] per target.
    pub fn port_many(&self, rule: &Rule, targets: &[TargetId]) -> Vec<Result<Port, Unsupported>> {
        let mut mapped: Vec<(Schema, MappedRule)> = Vec::new();
        let mut sources = None;
        targets
            .iter()
            .map(|&target| {
                let Some(schema) = target_schema(target) else {
                    return Err(Unsupported::new(
                        target,
                        "unknown-target",
                        "no emitter for this target",
                    ));
                };
                let i = match mapped.iter().position(|(s, _)| *s == schema) {
                    Some(i) => i,
                    None => {
                        let sources =
                            sources.get_or_insert_with(|| self.mapping.resolve_sources(rule));
                        mapped.push((schema, self.mapping.map_rule_with(rule, schema, sources)));
                        mapped.len() - 1
                    }
                };
                self.port_mapped(rule, &mapped[i].1, target)
            })
            .collect()
    }

    /// Emit an already mapped rule (mapped to `target_schema(target)`), check it parses back,
    /// and attach the mapping's approximations.
    fn port_mapped(
        &self,
        rule: &Rule,
        mapped: &MappedRule,
        target: TargetId,
    ) -> Result<Port, Unsupported> {
        // A query whose rule excludes every event of the selected source is refused.
        if query_language(target).is_some() || target == TargetId::Splunk {
            if let Some(why) = ruleport_mapping::source_contradiction(mapped) {
                return Err(Unsupported::new(target, "contradicts-source", why));
            }
        }
        let schema = mapped.approximations.clone();
        let result = if target == TargetId::Splunk {
            ruleport_splunk::emit_search(mapped, &self.splunk)
        } else if let Some(lang) = query_language(target) {
            lang.emit(mapped)
        } else if let Some(fmt) = rule_format(target) {
            fmt.export(mapped)
        } else {
            return Err(Unsupported::new(
                target,
                "unknown-target",
                "no emitter for this target",
            ));
        };
        // Never hand out a query the target's own parser rejects: that is an emitter bug, and
        // the user gets an explicit refusal instead of broken text.
        let result =
            result.and_then(
                |port| match query_language(target).map(|l| l.compile(&port.text)) {
                    Some(Err(d)) => Err(Unsupported::new(
                        target,
                        "emit-unparseable",
                        format!(
                            "the emitted query does not parse back ({d}); refusing to output it"
                        ),
                    )),
                    _ => Ok(port),
                },
            );
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
