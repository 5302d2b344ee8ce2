//! `Rule` → detection-rules TOML.
//!
//! The query text is emitted from the model (`ruleport_kuery::emit_expr` for query, threshold and
//! new_terms rules, `ruleport_eql::emit_detection` for EQL). A rule read from Elastic TOML whose
//! original query still lowers to exactly the same model keeps its original text, so that an
//! Elastic rule survives import → export unchanged. Unsupported detections (ES|QL, machine
//! learning, indicator match) re-emit their original text.

use crate::import::import_str;
use crate::schema::*;
use ruleport_kuery::{emit_expr_with, has_caseless_fields, parse_to_expr, query_expr};
use ruleport_model::{
    Approximation, CmpOp, Detection, Diagnostic, EventFilter, Expr, Fidelity, MappedRule, Metric,
    Port, Rule, RuleFormat, Schema, Severity, SourceFormat, TargetId, Unsupported,
    UnsupportedDetection, WindowKind,
};
use serde_json::Value as Json;
use toml::{Table, Value};

/// The Elastic detection-rules TOML format (import and export).
#[derive(Debug, Clone, Copy, Default)]
pub struct ElasticFormat;

impl RuleFormat for ElasticFormat {
    fn id(&self) -> TargetId {
        TargetId::Elastic
    }

    fn schema(&self) -> Schema {
        Schema::Ecs
    }

    fn export(&self, rule: &MappedRule) -> Result<Port, Unsupported> {
        export_rule(rule)
    }

    fn import_text(
        &self,
        text: &str,
        path: Option<&std::path::Path>,
    ) -> Result<Vec<Rule>, Vec<Diagnostic>> {
        import_str(text, path).map(|r| vec![r])
    }
}

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Elastic, code, reason)
}

/// The type-specific part of an exported rule.
struct Body {
    rule_type: String,
    language: Option<String>,
    query: Option<String>,
    tables: Vec<(String, Value)>,
}

impl Body {
    fn new(rule_type: &str, language: Option<&str>, query: Option<String>) -> Self {
        Body {
            rule_type: rule_type.into(),
            language: language.map(str::to_string),
            query,
            tables: Vec::new(),
        }
    }
}

/// Export a mapped rule (fields already in ECS) as detection-rules TOML.
pub fn export_rule(mr: &MappedRule) -> Result<Port, Unsupported> {
    let r = &mr.rule;
    let mut approx = mr.approximations.clone();
    let body = body(mr, &mut approx)?;
    let mut root = Table::new();
    root.insert("metadata".into(), Value::Table(metadata(r)));
    root.insert("rule".into(), Value::Table(rule_table(mr, body)));
    if r.format == SourceFormat::ElasticToml {
        if let Some(t) = r.meta.extra.get(EXTRA_TRANSFORM).and_then(json_to_toml) {
            root.insert("transform".into(), t);
        }
    }
    let text = toml::to_string(&root)
        .map_err(|e| unsupported("elastic-toml-serialize", format!("cannot write TOML: {e}")))?;
    Ok(Port {
        target: TargetId::Elastic,
        text,
        fidelity: Fidelity::from_reasons(approx),
    })
}

fn kuery_kind<'a>(mr: &'a MappedRule) -> impl Fn(&str) -> ruleport_model::FieldKind + 'a {
    move |f| mr.kind_of(f)
}

/// The original kuery text when it still lowers to `expr`.
fn original_kuery(r: &Rule, expr: &Expr) -> Option<String> {
    let orig = r.original_query.as_ref()?;
    (r.language == "kuery" && parse_to_expr(orig).ok().as_ref() == Some(expr)).then(|| orig.clone())
}

/// The kuery text of a single-event condition: the original when unchanged, else emitted.
fn kuery_text(
    mr: &MappedRule,
    expr: &Expr,
    approx: &mut Vec<Approximation>,
) -> Result<String, Unsupported> {
    if let Some(t) = original_kuery(&mr.rule, expr) {
        return Ok(t);
    }
    let (text, a) = emit_expr_with(expr, &kuery_kind(mr), has_caseless_fields(mr))?;
    approx.extend(a);
    Ok(text)
}

/// The EQL text of a detection: the original when unchanged, else emitted.
fn eql_text(
    mr: &MappedRule,
    det: &Detection,
    approx: &mut Vec<Approximation>,
) -> Result<String, Unsupported> {
    let r = &mr.rule;
    if let Some(orig) = r.original_query.as_ref() {
        if r.language == "eql"
            && crate::eql::parse(orig).ok() == Some((det.clone(), r.meta.result_limit))
        {
            return Ok(orig.clone());
        }
    }
    let (text, a) =
        crate::eql::emit(det, r.meta.result_limit, &kuery_kind(mr)).map_err(|mut u| {
            u.target = TargetId::Elastic;
            u
        })?;
    approx.extend(a);
    Ok(text)
}

/// Add each event source's selection condition to its filter.
fn with_selections(mr: &MappedRule, det: &Detection) -> Detection {
    let mut det = det.clone();
    let add = |i: usize, f: &mut EventFilter| {
        if let Some(c) = &mr.selection_for(i).condition {
            f.expr = Expr::and(vec![c.clone(), f.expr.clone()]);
        }
    };
    match &mut det {
        Detection::Query(f) => add(0, f),
        Detection::Sequence(s) => {
            for (i, st) in s.steps.iter_mut().chain(s.until.iter_mut()).enumerate() {
                add(i, &mut st.source.filter);
            }
        }
        Detection::Sample(s) => {
            for (i, st) in s.steps.iter_mut().enumerate() {
                add(i, &mut st.source.filter);
            }
        }
        Detection::Aggregation(a) => {
            for (i, src) in a.sources.iter_mut().enumerate() {
                add(i, &mut src.filter);
            }
        }
        Detection::NewTerms(n) => add(0, &mut n.filter),
        Detection::Unsupported(_) => {}
    }
    det
}

fn body(mr: &MappedRule, approx: &mut Vec<Approximation>) -> Result<Body, Unsupported> {
    let r = &mr.rule;
    match &r.detection {
        Detection::Query(f) => {
            if r.language == "eql" {
                let det = with_selections(mr, &r.detection);
                return Ok(Body::new(
                    "eql",
                    Some("eql"),
                    Some(eql_text(mr, &det, approx)?),
                ));
            }
            let expr = query_expr(mr, f, mr.selection.condition.as_ref());
            let mut kuery_approx = Vec::new();
            match kuery_text(mr, &expr, &mut kuery_approx) {
                Ok(text) => {
                    approx.extend(kuery_approx);
                    Ok(Body::new("query", Some("kuery"), Some(text)))
                }
                // What kuery cannot say (regex, field comparisons, functions) EQL may.
                Err(kuery_err) => {
                    let det = with_selections(mr, &r.detection);
                    match eql_text(mr, &det, approx) {
                        Ok(text) => Ok(Body::new("eql", Some("eql"), Some(text))),
                        Err(_) => Err(kuery_err),
                    }
                }
            }
        }
        Detection::Sequence(_) | Detection::Sample(_) => {
            let det = with_selections(mr, &r.detection);
            Ok(Body::new(
                "eql",
                Some("eql"),
                Some(eql_text(mr, &det, approx)?),
            ))
        }
        Detection::Aggregation(a) => threshold(mr, a, approx),
        Detection::NewTerms(n) => {
            let expr = query_expr(mr, &n.filter, mr.selection.condition.as_ref());
            let text = kuery_text(mr, &expr, approx)?;
            let mut b = Body::new("new_terms", Some("kuery"), Some(text));
            let mut nt = Table::new();
            nt.insert("field".into(), Value::String("new_terms_fields".into()));
            nt.insert("value".into(), strings(&n.fields));
            let mut h = Table::new();
            h.insert("field".into(), Value::String("history_window_start".into()));
            h.insert(
                "value".into(),
                Value::String(n.history_window_start.clone()),
            );
            nt.insert(
                "history_window_start".into(),
                Value::Array(vec![Value::Table(h)]),
            );
            b.tables.push(("new_terms".into(), Value::Table(nt)));
            Ok(b)
        }
        Detection::Unsupported(u) => unsupported_body(u),
    }
}

fn unsupported_body(u: &UnsupportedDetection) -> Result<Body, Unsupported> {
    let need = |what: &str| {
        u.original.clone().ok_or_else(|| {
            unsupported(
                "elastic-missing-query",
                format!("the {what} rule has no original query to re-emit"),
            )
        })
    };
    Ok(match u.kind.as_str() {
        "esql" => Body::new("esql", Some("esql"), Some(need("ES|QL")?)),
        "eql" => Body::new("eql", Some("eql"), Some(need("EQL")?)),
        "machine_learning" => Body::new("machine_learning", None, None),
        "threat_match" => Body::new(
            "threat_match",
            Some(u.language.as_deref().unwrap_or("kuery")),
            Some(need("indicator match")?),
        ),
        "lucene" => Body::new("query", Some("lucene"), Some(need("Lucene")?)),
        "saved_query" => Body::new("saved_query", u.language.as_deref(), u.original.clone()),
        other => {
            return Err(unsupported(
                "elastic-unsupported-detection",
                format!("{other} detection: {}", u.reason),
            ))
        }
    })
}

fn threshold(
    mr: &MappedRule,
    a: &ruleport_model::Aggregation,
    approx: &mut Vec<Approximation>,
) -> Result<Body, Unsupported> {
    if a.sources.is_empty() {
        return Err(unsupported(
            "elastic-threshold-sources",
            "the aggregation has no event source",
        ));
    }
    if a.sources.iter().any(|s| !s.aliases.is_empty()) {
        return Err(unsupported(
            "elastic-threshold-aliases",
            "a threshold rule groups every event by the same fields; per-source aliases cannot be expressed",
        ));
    }
    if a.group_by.len() > 5 {
        return Err(unsupported(
            "elastic-threshold-group-by",
            "Elastic thresholds group by at most 5 fields",
        ));
    }
    // Events of any source count: the base query is the OR of the source filters.
    let exprs: Vec<Expr> = a
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| query_expr(mr, &s.filter, mr.selection_for(i).condition.as_ref()))
        .collect();
    let expr = Expr::or(exprs);
    let text = kuery_text(mr, &expr, approx)?;

    let mut count: Option<i64> = None;
    let mut cardinality = Vec::new();
    for c in &a.conditions {
        let at_least = match c.op {
            CmpOp::Ge => c.value,
            CmpOp::Gt => c.value.saturating_add(1),
            op => {
                return Err(unsupported(
                    "elastic-threshold-op",
                    format!(
                        "Elastic thresholds fire at `>=` a value; `{}` cannot be expressed",
                        op.symbol()
                    ),
                ))
            }
        };
        match &c.metric {
            Metric::Count => {
                if count.is_some() {
                    return Err(unsupported("elastic-threshold-count", "more than one count condition"));
                }
                count = Some(at_least);
            }
            Metric::DistinctCount(f) => cardinality.push((f.clone(), at_least)),
            other => {
                return Err(unsupported(
                    "elastic-threshold-metric",
                    format!("Elastic thresholds count events and distinct values; {other:?} cannot be expressed"),
                ))
            }
        }
    }
    match (a.window_kind, a.window) {
        (WindowKind::RuleLookback, _) | (_, None) => {}
        (kind, Some(w)) => approx.push(Approximation::new(
            "threshold-window-as-lookback",
            format!("Elastic counts over each run's look-back, not a {kind:?} window of {w}"),
        )),
    }
    let mut t = Table::new();
    t.insert("field".into(), strings(&a.group_by));
    t.insert("value".into(), Value::Integer(count.unwrap_or(1).max(1)));
    if !cardinality.is_empty() {
        let items = cardinality
            .into_iter()
            .map(|(f, v)| {
                let mut c = Table::new();
                c.insert("field".into(), Value::String(f));
                c.insert("value".into(), Value::Integer(v));
                Value::Table(c)
            })
            .collect();
        t.insert("cardinality".into(), Value::Array(items));
    }
    let mut b = Body::new("threshold", Some("kuery"), Some(text));
    b.tables.push(("threshold".into(), Value::Table(t)));
    Ok(b)
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())
}

fn put_str(t: &mut Table, key: &str, v: &Option<String>) {
    if let Some(s) = v {
        t.insert(key.into(), Value::String(s.clone()));
    }
}

fn put_list(t: &mut Table, key: &str, v: &[String]) {
    if !v.is_empty() {
        t.insert(key.into(), strings(v));
    }
}

/// Sigma status → Elastic maturity.
fn maturity(r: &Rule) -> Option<String> {
    let s = r.meta.status.as_deref()?;
    if r.format == SourceFormat::ElasticToml {
        return Some(s.to_string());
    }
    Some(
        match s {
            "stable" => "production",
            "test" => "beta",
            "experimental" => "experimental",
            "deprecated" => "deprecated",
            _ => "development",
        }
        .to_string(),
    )
}

/// detection-rules dates are `YYYY/MM/DD`.
fn date(r: &Rule, d: &Option<String>) -> Option<String> {
    let d = d.as_ref()?;
    Some(if r.format == SourceFormat::ElasticToml {
        d.clone()
    } else {
        d.replace('-', "/")
    })
}

fn metadata(r: &Rule) -> Table {
    let mut t = Table::new();
    if r.format == SourceFormat::ElasticToml {
        if let Some(Json::Object(m)) = r.meta.extra.get(EXTRA_METADATA) {
            for (k, v) in m {
                if METADATA_FIELDS.contains(&k.as_str())
                    && !MODELLED_METADATA_FIELDS.contains(&k.as_str())
                {
                    if let Some(v) = json_to_toml(v) {
                        t.insert(k.clone(), v);
                    }
                }
            }
        }
    }
    put_str(&mut t, "creation_date", &date(r, &r.meta.created));
    put_str(&mut t, "updated_date", &date(r, &r.meta.modified));
    put_str(&mut t, "maturity", &maturity(r));
    t
}

fn rule_table(mr: &MappedRule, body: Body) -> Table {
    let r = &mr.rule;
    let m = &r.meta;
    let mut t = Table::new();
    if r.format == SourceFormat::ElasticToml {
        for (k, v) in &m.extra {
            if RULE_FIELDS.contains(&k.as_str()) && !MODELLED_RULE_FIELDS.contains(&k.as_str()) {
                if let Some(v) = json_to_toml(v) {
                    t.insert(k.clone(), v);
                }
            }
        }
    }
    t.insert("author".into(), strings(&m.authors));
    t.insert("description".into(), Value::String(m.description.clone()));
    put_list(&mut t, "false_positives", &m.false_positives);
    put_str(&mut t, "from", &m.from);
    let index = if mr.selection.indexes.is_empty() {
        &r.logsource.index
    } else {
        &mr.selection.indexes
    };
    put_list(&mut t, "index", index);
    put_str(&mut t, "data_view_id", &r.logsource.data_view_id);
    if let Some(i) = m.interval {
        t.insert("interval".into(), Value::String(i.to_unit_string()));
    }
    if !m.fields.is_empty() {
        let mut f = Table::new();
        f.insert("field_names".into(), strings(&m.fields));
        t.insert("investigation_fields".into(), Value::Table(f));
    }
    put_str(&mut t, "language", &body.language);
    put_str(&mut t, "license", &m.license);
    if let Some(n) = m.max_signals {
        t.insert("max_signals".into(), Value::Integer(n.into()));
    }
    t.insert("name".into(), Value::String(m.title.clone()));
    put_str(&mut t, "note", &m.note);
    put_list(&mut t, "references", &m.references);
    let severity = match m.severity {
        Some(Severity::Informational) | None => Severity::Low,
        Some(s) => s,
    };
    let risk = m
        .risk_score
        .unwrap_or_else(|| severity.default_risk_score());
    t.insert("risk_score".into(), Value::Integer(risk.into()));
    let id = if m.id.is_empty() {
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, m.title.as_bytes()).to_string()
    } else {
        m.id.clone()
    };
    t.insert("rule_id".into(), Value::String(id));
    put_str(&mut t, "setup", &m.setup);
    t.insert("severity".into(), Value::String(severity.name().into()));
    put_list(&mut t, "tags", &m.tags);
    put_str(&mut t, "timestamp_override", &m.timestamp_override);
    t.insert("type".into(), Value::String(body.rule_type));
    if let Some(v) = m.version {
        t.insert("version".into(), Value::Integer(v.into()));
    }
    if m.building_block && !t.contains_key("building_block_type") {
        t.insert(
            "building_block_type".into(),
            Value::String("default".into()),
        );
    }
    put_str(&mut t, "query", &body.query);
    for (k, v) in body.tables {
        t.insert(k, v);
    }
    if !m.threat.is_empty() {
        t.insert(
            "threat".into(),
            Value::Array(m.threat.iter().map(threat).collect()),
        );
    }
    t
}

fn attack_ref(a: &ruleport_model::AttackRef) -> Table {
    let mut t = Table::new();
    t.insert("id".into(), Value::String(a.id.clone()));
    put_str(&mut t, "name", &a.name);
    put_str(&mut t, "reference", &a.reference);
    t
}

fn threat(tm: &ruleport_model::ThreatMapping) -> Value {
    let mut t = Table::new();
    t.insert("framework".into(), Value::String(tm.framework.clone()));
    t.insert("tactic".into(), Value::Table(attack_ref(&tm.tactic)));
    if !tm.techniques.is_empty() {
        let techs = tm
            .techniques
            .iter()
            .map(|te| {
                let mut tt = attack_ref(&te.technique);
                if !te.subtechniques.is_empty() {
                    tt.insert(
                        "subtechnique".into(),
                        Value::Array(
                            te.subtechniques
                                .iter()
                                .map(|s| Value::Table(attack_ref(s)))
                                .collect(),
                        ),
                    );
                }
                Value::Table(tt)
            })
            .collect();
        t.insert("technique".into(), Value::Array(techs));
    }
    Value::Table(t)
}

/// JSON → TOML (TOML has no null: null values are dropped).
fn json_to_toml(v: &Json) -> Option<Value> {
    Some(match v {
        Json::Null => return None,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64()?),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().filter_map(json_to_toml).collect()),
        Json::Object(m) => Value::Table(
            m.iter()
                .filter_map(|(k, v)| json_to_toml(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
    })
}
