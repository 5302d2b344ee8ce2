//! Ports: what an emitter produced and how faithful it is.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The output formats ruleport writes. The names are the CLI contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetId {
    /// Kibana KQL.
    Kuery,
    /// Elasticsearch EQL.
    Eql,
    /// Splunk SPL.
    Splunk,
    /// Microsoft Sentinel KQL (Kusto).
    Sentinel,
    /// Sigma YAML.
    Sigma,
    /// Elastic detection-rules TOML.
    Elastic,
}

impl TargetId {
    pub const ALL: [TargetId; 6] = [
        TargetId::Kuery,
        TargetId::Eql,
        TargetId::Splunk,
        TargetId::Sentinel,
        TargetId::Sigma,
        TargetId::Elastic,
    ];

    /// The four query languages that have their own parser and evaluator.
    pub const QUERY_LANGUAGES: [TargetId; 4] = [
        TargetId::Kuery,
        TargetId::Eql,
        TargetId::Splunk,
        TargetId::Sentinel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TargetId::Kuery => "kuery",
            TargetId::Eql => "eql",
            TargetId::Splunk => "splunk",
            TargetId::Sentinel => "sentinel",
            TargetId::Sigma => "sigma",
            TargetId::Elastic => "elastic",
        }
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        TargetId::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown target `{s}`; expected one of: {}",
                    TargetId::ALL.map(|t| t.name()).join(", ")
                )
            })
    }
}

/// One reason a port is not exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Approximation {
    /// Stable short code for counting, e.g. `case-folded`, `unmapped-field`.
    pub code: String,
    pub reason: String,
}

impl Approximation {
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Self {
        Approximation {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Approximation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.reason)
    }
}

/// How faithful a port is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reasons")]
pub enum Fidelity {
    Exact,
    Approximate(Vec<Approximation>),
}

impl Fidelity {
    pub fn from_reasons(mut reasons: Vec<Approximation>) -> Fidelity {
        reasons.sort();
        reasons.dedup();
        if reasons.is_empty() {
            Fidelity::Exact
        } else {
            Fidelity::Approximate(reasons)
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, Fidelity::Exact)
    }

    pub fn reasons(&self) -> &[Approximation] {
        match self {
            Fidelity::Exact => &[],
            Fidelity::Approximate(r) => r,
        }
    }
}

/// A produced translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub target: TargetId,
    pub text: String,
    pub fidelity: Fidelity,
}

/// Why a rule could not be ported to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsupported {
    pub target: TargetId,
    /// Stable short code, e.g. `sequence-missing-step`.
    pub code: String,
    pub reason: String,
}

impl Unsupported {
    pub fn new(target: TargetId, code: impl Into<String>, reason: impl Into<String>) -> Self {
        Unsupported {
            target,
            code: code.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: unsupported [{}] {}",
            self.target, self.code, self.reason
        )
    }
}

impl std::error::Error for Unsupported {}

/// What an emitter does with something its target can only approximate (sqlglot's
/// `unsupported_level`): keep the approximate port silently, warn, or refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApproximationPolicy {
    Ignore,
    #[default]
    Warn,
    Error,
}

impl FromStr for ApproximationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ignore" => Ok(Self::Ignore),
            "warn" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            _ => Err(format!(
                "unknown policy `{s}`; expected ignore, warn or error"
            )),
        }
    }
}
