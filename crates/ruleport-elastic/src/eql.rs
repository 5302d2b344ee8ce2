//! The EQL language crate, as the importer and exporter use it.

use ruleport_model::{Approximation, Detection, Diagnostic, FieldKind, ResultLimit, Unsupported};

/// Parse EQL text into a detection and its result limit (positions relative to the text).
pub(crate) fn parse(text: &str) -> Result<(Detection, Option<ResultLimit>), Diagnostic> {
    ruleport_eql::lower_with_limit(&ruleport_eql::parse(text)?)
}

/// Lowering errors that mean the query is wrong (Elasticsearch would reject it), as opposed to
/// valid EQL the rule model cannot hold (pipes, …), which is kept as an unsupported detection.
const INVALID_QUERY_CODES: &[&str] = &[
    "eql-unknown-function",
    "eql-function-arity",
    "eql-string-escape",
    "eql-number",
    "eql-too-deep",
];

/// What importing an EQL query gives.
pub(crate) enum Imported {
    Detection(Box<Detection>, Option<ResultLimit>),
    /// Valid EQL the model cannot hold: the lowering diagnostic says why.
    Unsupported(Diagnostic),
}

/// Parse an EQL query for import: syntax errors and invalid queries are errors; valid EQL the
/// model cannot hold is `Imported::Unsupported`.
pub(crate) fn import(text: &str) -> Result<Imported, Diagnostic> {
    let ast = ruleport_eql::parse(text)?;
    match ruleport_eql::lower_with_limit(&ast) {
        Ok((d, limit)) => Ok(Imported::Detection(Box::new(d), limit)),
        Err(d) if INVALID_QUERY_CODES.contains(&d.code.as_str()) => Err(d),
        Err(d) => Ok(Imported::Unsupported(d)),
    }
}

/// Emit EQL text for a detection and its result limit.
pub(crate) fn emit(
    det: &Detection,
    limit: Option<ResultLimit>,
    kind_of: &dyn Fn(&str) -> FieldKind,
) -> Result<(String, Vec<Approximation>), Unsupported> {
    ruleport_eql::emit_with_limit(det, limit, kind_of)
}
