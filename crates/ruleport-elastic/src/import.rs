//! detection-rules TOML → `Rule`.

use crate::read::{to_json, Ctx, StringSource, E_MISSING, E_TOML, E_TYPE, E_VALUE};
use crate::schema::*;
use ruleport_model::diag::did_you_mean;
use ruleport_model::{
    AggCondition, Aggregation, AttackRef, CmpOp, Detection, Diagnostic, EventFilter, EventSource,
    LogSource, Metric, NewTerms, Provenance, ResultLimit, Rule, RuleMeta, Schema, Severity,
    SourceFormat, Technique, ThreatMapping, TimeSpan, UnsupportedDetection, WindowKind,
};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Import one detection-rules TOML text. `path` is used in diagnostics and provenance.
pub fn import_str(text: &str, path: Option<&Path>) -> Result<Rule, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(text, path);
    let (doc, mut errs) = DeTable::parse_recoverable(text);
    let root = doc.get_ref();
    // The rule id first, so that every later diagnostic names the rule.
    if let Some((_, rv)) = ctx.get(root, "rule") {
        if let DeValue::Table(t) = rv.get_ref() {
            if let Some((_, v)) = ctx.get(t, "rule_id") {
                if let DeValue::String(s) = v.get_ref() {
                    ctx.rule_id = s.to_string();
                }
            }
        }
    }
    if !errs.is_empty() {
        if ctx.rule_id.is_empty() {
            ctx.rule_id = sniff_rule_id(text).unwrap_or_default();
        }
        // Report every syntax error, in file order.
        errs.sort_by_key(|e| e.span().map(|s| s.start).unwrap_or(0));
        let mut out: Vec<Diagnostic> = Vec::new();
        for e in errs.iter().take(20) {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let d = Diagnostic::error(E_TOML, format!("invalid TOML: {}", e.message().trim()))
                .at(ctx.pos(at));
            let d = ctx.finish(d);
            if !out.iter().any(|o| o.pos == d.pos && o.message == d.message) {
                out.push(d);
            }
        }
        return Err(out);
    }
    ctx.check_keys(root, "the rule file", TOP_LEVEL);
    let Some((_, rv)) = ctx.require(root, "rule", "the rule file", 0..0) else {
        return Err(ctx.diags);
    };
    let Some(rule_t) = ctx.table_of("rule", rv) else {
        return Err(ctx.diags);
    };
    let rule = build(&mut ctx, root, rule_t, rv.span());
    match rule {
        Some(r) if ctx.diags.is_empty() => Ok(r),
        _ => {
            if ctx.diags.is_empty() {
                ctx.push(Diagnostic::error(E_TOML, "the rule could not be read"));
            }
            Err(ctx.diags)
        }
    }
}

/// `rule_id = "…"` on a line of its own, for naming the rule in TOML syntax errors.
fn sniff_rule_id(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l
            .trim_start()
            .strip_prefix("rule_id")?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = &rest[1..];
        Some(body[..body.find(q)?].to_string())
    })
}

/// Import a detection-rules TOML file.
pub fn import_file(path: &Path) -> Result<Rule, Vec<Diagnostic>> {
    match ruleport_model::input::read_text(path) {
        Ok(text) => import_str(&text, Some(path)),
        Err(d) => Err(vec![d]),
    }
}

struct Query {
    text: String,
    span: Range<usize>,
}

fn build(
    ctx: &mut Ctx<'_>,
    root: &DeTable<'_>,
    rule_t: &DeTable<'_>,
    rule_span: Range<usize>,
) -> Option<Rule> {
    ctx.check_keys(rule_t, "[rule]", RULE_FIELDS);
    let at = rule_span.clone();
    for key in [
        "author",
        "description",
        "name",
        "risk_score",
        "rule_id",
        "severity",
        "type",
    ] {
        ctx.require(rule_t, key, "[rule]", at.clone());
    }

    let mut meta = RuleMeta::default();
    let mut extra: BTreeMap<String, Json> = BTreeMap::new();

    // [metadata]
    if let Some((_, mv)) = ctx.get(root, "metadata") {
        if let Some(mt) = ctx.table_of("metadata", mv) {
            ctx.check_keys(mt, "[metadata]", METADATA_FIELDS);
            meta.created = ctx.opt_str(mt, "creation_date");
            meta.modified = ctx.opt_str(mt, "updated_date");
            meta.status = ctx.opt_str(mt, "maturity");
            let rest: serde_json::Map<String, Json> = mt
                .iter()
                .filter(|(k, _)| !MODELLED_METADATA_FIELDS.contains(&k.get_ref().as_ref()))
                .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
                .collect();
            if !rest.is_empty() {
                extra.insert(EXTRA_METADATA.into(), Json::Object(rest));
            }
        }
    }
    if let Some((_, tv)) = ctx.get(root, "transform") {
        extra.insert(EXTRA_TRANSFORM.into(), to_json(tv.get_ref()));
    }

    meta.id = ctx.opt_str(rule_t, "rule_id").unwrap_or_default();
    meta.title = ctx.opt_str(rule_t, "name").unwrap_or_default();
    meta.description = ctx.opt_str(rule_t, "description").unwrap_or_default();
    meta.authors = ctx.opt_str_list(rule_t, "author");
    meta.references = ctx.opt_str_list(rule_t, "references");
    meta.tags = ctx.opt_str_list(rule_t, "tags");
    meta.false_positives = ctx.opt_str_list(rule_t, "false_positives");
    meta.license = ctx.opt_str(rule_t, "license");
    meta.note = ctx.opt_str(rule_t, "note");
    meta.setup = ctx.opt_str(rule_t, "setup");
    meta.from = ctx.opt_str(rule_t, "from");
    meta.timestamp_override = ctx.opt_str(rule_t, "timestamp_override");

    if let Some((_, v)) = ctx.get(rule_t, "severity") {
        if let Some(s) = ctx.str_of("severity", v) {
            const LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];
            match Severity::parse(&s).filter(|_| LEVELS.contains(&s.as_str())) {
                Some(sev) => meta.severity = Some(sev),
                None => {
                    let mut d = Diagnostic::error(
                        E_VALUE,
                        format!(
                            "`severity` must be one of low, medium, high, critical; found `{s}`"
                        ),
                    )
                    .at(ctx.pos(v.span().start));
                    if let Some(h) = did_you_mean(&s, LEVELS) {
                        d = d.with_hint(format!("did you mean `{h}`?"));
                    }
                    ctx.push(d);
                }
            }
        }
    }
    if let Some((_, v)) = ctx.get(rule_t, "risk_score") {
        if let Some(n) = ctx.int_of("risk_score", v) {
            match u8::try_from(n).ok().filter(|n| *n <= 100) {
                Some(n) => meta.risk_score = Some(n),
                None => ctx.error(
                    E_VALUE,
                    format!("`risk_score` must be 0 to 100, found {n}"),
                    v.span(),
                ),
            }
        }
    }
    for (key, slot) in [
        ("max_signals", &mut meta.max_signals),
        ("version", &mut meta.version),
    ] {
        if let Some((_, v)) = ctx.get(rule_t, key) {
            if let Some(n) = ctx.int_of(key, v) {
                match u32::try_from(n) {
                    Ok(n) => *slot = Some(n),
                    Err(_) => ctx.error(
                        E_VALUE,
                        format!("`{key}` must be a non-negative integer"),
                        v.span(),
                    ),
                }
            }
        }
    }
    if let Some((_, v)) = ctx.get(rule_t, "interval") {
        if let Some(s) = ctx.str_of("interval", v) {
            match TimeSpan::parse(&s) {
                Some(t) => meta.interval = Some(t),
                None => ctx.error(
                    E_VALUE,
                    format!("`interval` must be a number and a unit (s, m, h, d), e.g. `5m`; found `{s}`"),
                    v.span(),
                ),
            }
        }
    }
    if let Some((_, v)) = ctx.get(rule_t, "building_block_type") {
        if let Some(s) = ctx.str_of("building_block_type", v) {
            meta.building_block = true;
            if s != "default" {
                extra.insert("building_block_type".into(), Json::String(s));
            }
        }
    }
    if let Some((_, v)) = ctx.get(rule_t, "threat") {
        meta.threat = threats(ctx, v);
    }
    // `investigation_fields = {field_names = [...]}` is the model's `fields`; other shapes are kept.
    if let Some((_, v)) = ctx.get(rule_t, "investigation_fields") {
        match investigation_fields(v) {
            Some(f) => meta.fields = f,
            None => {
                extra.insert("investigation_fields".into(), to_json(v.get_ref()));
            }
        }
    }

    let logsource = LogSource {
        index: ctx.opt_str_list(rule_t, "index"),
        data_view_id: ctx.opt_str(rule_t, "data_view_id"),
        ..LogSource::default()
    };

    let rule_type = ctx.opt_str(rule_t, "type").unwrap_or_default();
    let language = ctx.opt_str(rule_t, "language");
    let query = match ctx.get(rule_t, "query") {
        Some((_, v)) => ctx.str_of("query", v).map(|text| Query {
            text,
            span: v.span(),
        }),
        None => None,
    };

    for (k, v) in rule_t.iter() {
        let key = k.get_ref().as_ref();
        let in_detection = (key == "threshold" && rule_type == "threshold")
            || (key == "new_terms" && rule_type == "new_terms");
        if !MODELLED_RULE_FIELDS.contains(&key)
            && !in_detection
            && key != "investigation_fields"
            && RULE_FIELDS.contains(&key)
        {
            extra.insert(key.to_string(), to_json(v.get_ref()));
        }
    }

    let type_span = ctx
        .get(rule_t, "type")
        .map(|(_, v)| v.span())
        .unwrap_or(at.clone());
    let (detection, language) = detection(
        ctx,
        rule_t,
        &rule_type,
        language,
        query.as_ref(),
        type_span,
        &at,
        &mut meta.result_limit,
    )?;
    meta.extra = extra;

    let query_pos = query
        .as_ref()
        .and_then(|q| StringSource::new(ctx.file, q.span.clone()))
        .map(|s| ctx.pos(s.start()));
    let rule_pos = ctx.pos(rule_span.start);
    Some(Rule {
        meta,
        logsource,
        detection,
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language,
        original_query: query.map(|q| q.text),
        provenance: Provenance {
            path: ctx.path.map(Path::to_path_buf),
            line: Some(rule_pos.line),
            column: Some(rule_pos.column),
            query_line: query_pos.map(|p| p.line),
            query_column: query_pos.map(|p| p.column),
            document: None,
        },
    })
}

fn investigation_fields(v: &Spanned<DeValue<'_>>) -> Option<Vec<String>> {
    let DeValue::Table(t) = v.get_ref() else {
        return None;
    };
    if t.len() != 1 {
        return None;
    }
    let (k, list) = t.iter().next()?;
    if k.get_ref().as_ref() != "field_names" {
        return None;
    }
    let DeValue::Array(items) = list.get_ref() else {
        return None;
    };
    items
        .iter()
        .map(|i| i.get_ref().as_str().map(str::to_string))
        .collect()
}

fn attack_ref(ctx: &mut Ctx<'_>, key: &str, v: &Spanned<DeValue<'_>>) -> Option<AttackRef> {
    let t = ctx.table_of(key, v)?;
    ctx.check_keys(t, &format!("[{key}]"), ATTACK_REF_FIELDS);
    let id = ctx.require(t, "id", &format!("[{key}]"), v.span());
    let id = id.and_then(|(_, idv)| ctx.str_of("id", idv))?;
    Some(AttackRef {
        id,
        name: ctx.opt_str(t, "name"),
        reference: ctx.opt_str(t, "reference"),
    })
}

fn threats(ctx: &mut Ctx<'_>, v: &Spanned<DeValue<'_>>) -> Vec<ThreatMapping> {
    let mut out = Vec::new();
    for tv in ctx.tables_of("threat", v) {
        let Some(t) = ctx.table_of("threat", tv) else {
            continue;
        };
        ctx.check_keys(t, "[[rule.threat]]", THREAT_FIELDS);
        let framework = ctx
            .require(t, "framework", "[[rule.threat]]", tv.span())
            .and_then(|(_, f)| ctx.str_of("framework", f));
        let tactic = ctx
            .require(t, "tactic", "[[rule.threat]]", tv.span())
            .and_then(|(_, tac)| attack_ref(ctx, "rule.threat.tactic", tac));
        let mut techniques = Vec::new();
        if let Some((_, tech)) = ctx.get(t, "technique") {
            for te in ctx.tables_of("technique", tech) {
                let Some(tt) = ctx.table_of("technique", te) else {
                    continue;
                };
                ctx.check_keys(tt, "[[rule.threat.technique]]", TECHNIQUE_FIELDS);
                let Some(technique) = attack_ref_loose(ctx, "rule.threat.technique", te) else {
                    continue;
                };
                let mut subtechniques = Vec::new();
                if let Some((_, sub)) = ctx.get(tt, "subtechnique") {
                    for s in ctx.tables_of("subtechnique", sub) {
                        if let Some(r) = attack_ref(ctx, "rule.threat.technique.subtechnique", s) {
                            subtechniques.push(r);
                        }
                    }
                }
                techniques.push(Technique {
                    technique,
                    subtechniques,
                });
            }
        }
        if let (Some(framework), Some(tactic)) = (framework, tactic) {
            out.push(ThreatMapping {
                framework,
                tactic,
                techniques,
            });
        }
    }
    out
}

/// A technique table: like [`attack_ref`] but its own key check already ran (it has `subtechnique`).
fn attack_ref_loose(ctx: &mut Ctx<'_>, key: &str, v: &Spanned<DeValue<'_>>) -> Option<AttackRef> {
    let t = ctx.table_of(key, v)?;
    let id = ctx.require(t, "id", &format!("[{key}]"), v.span());
    let id = id.and_then(|(_, idv)| ctx.str_of("id", idv))?;
    Some(AttackRef {
        id,
        name: ctx.opt_str(t, "name"),
        reference: ctx.opt_str(t, "reference"),
    })
}

/// Report a query-language diagnostic at its position in the file.
fn query_error(ctx: &mut Ctx<'_>, d: Diagnostic, q: &Query) {
    let src = StringSource::new(ctx.file, q.span.clone());
    let pos = match (&src, d.pos) {
        (Some(s), Some(p)) => s.file_pos(ctx.file, &q.text, p),
        (Some(s), None) => ctx.pos(s.start()),
        (None, _) => ctx.pos(q.span.start),
    };
    let mut d = d;
    d.pos = Some(pos);
    ctx.push(d);
}

/// The expression of a kuery query; valid kuery the model cannot hold (a wildcard on an
/// analysed text field) is `Err` with the unsupported detection to keep instead.
fn kuery(ctx: &mut Ctx<'_>, q: &Query) -> Option<Result<ruleport_model::Expr, Detection>> {
    match ruleport_kuery::parse_to_expr(&q.text) {
        Ok(e) => Some(Ok(e)),
        Err(d) if d.code == ruleport_kuery::E_TEXT_WILDCARD => {
            let reason = format!("{} [{}]", d.message, d.code);
            Some(Err(unsupported("kuery", &reason, Some(q), Some("kuery"))))
        }
        Err(d) => {
            query_error(ctx, d, q);
            None
        }
    }
}

fn unsupported(kind: &str, reason: &str, q: Option<&Query>, language: Option<&str>) -> Detection {
    Detection::Unsupported(UnsupportedDetection {
        kind: kind.into(),
        reason: reason.into(),
        original: q.map(|q| q.text.clone()),
        language: language.map(str::to_string),
    })
}

#[allow(clippy::too_many_arguments)]
fn detection(
    ctx: &mut Ctx<'_>,
    rule_t: &DeTable<'_>,
    rule_type: &str,
    language: Option<String>,
    query: Option<&Query>,
    type_span: Range<usize>,
    at: &Range<usize>,
    result_limit: &mut Option<ResultLimit>,
) -> Option<(Detection, String)> {
    let need_query = |ctx: &mut Ctx<'_>| -> Option<()> {
        if query.is_none() {
            ctx.error(
                E_MISSING,
                format!("a `{rule_type}` rule needs a `query`"),
                at.clone(),
            );
            return None;
        }
        Some(())
    };
    let check_language = |ctx: &mut Ctx<'_>, allowed: &[&str]| -> Option<String> {
        let lang = language.clone().unwrap_or_else(|| allowed[0].to_string());
        if !allowed.contains(&lang.as_str()) {
            let span = ctx
                .get(rule_t, "language")
                .map(|(_, v)| v.span())
                .unwrap_or(at.clone());
            ctx.error(
                E_VALUE,
                format!(
                    "a `{rule_type}` rule's language must be {}; found `{lang}`",
                    allowed.join(" or ")
                ),
                span,
            );
            return None;
        }
        Some(lang)
    };
    match rule_type {
        "query" => {
            let lang = check_language(ctx, &["kuery", "lucene"])?;
            need_query(ctx)?;
            let q = query?;
            if lang == "lucene" {
                return Some((
                    unsupported(
                        "lucene",
                        "Lucene query syntax is not modelled in this version",
                        Some(q),
                        Some("lucene"),
                    ),
                    lang,
                ));
            }
            let expr = match kuery(ctx, q)? {
                Ok(e) => e,
                Err(d) => return Some((d, lang)),
            };
            Some((Detection::Query(EventFilter::new(expr)), lang))
        }
        "eql" => {
            let lang = check_language(ctx, &["eql"])?;
            need_query(ctx)?;
            let q = query?;
            match crate::eql::import(&q.text) {
                Ok(crate::eql::Imported::Detection(d, limit)) => {
                    *result_limit = limit;
                    Some((*d, lang))
                }
                Ok(crate::eql::Imported::Unsupported(d)) => {
                    let mut reason = format!("{} [{}]", d.message, d.code);
                    if let Some(h) = &d.hint {
                        reason.push_str(&format!("; {h}"));
                    }
                    Some((unsupported("eql", &reason, Some(q), Some("eql")), lang))
                }
                Err(d) => {
                    query_error(ctx, d, q);
                    None
                }
            }
        }
        "threshold" => {
            let lang = check_language(ctx, &["kuery"])?;
            need_query(ctx)?;
            let q = query?;
            let expr = kuery(ctx, q);
            let agg = threshold(ctx, rule_t, at);
            let (expr, mut agg) = (expr?, agg?);
            let expr = match expr {
                Ok(e) => e,
                Err(d) => return Some((d, lang)),
            };
            agg.sources = vec![EventSource::new(EventFilter::new(expr))];
            Some((Detection::Aggregation(agg), lang))
        }
        "new_terms" => {
            let lang = check_language(ctx, &["kuery"])?;
            need_query(ctx)?;
            let q = query?;
            let expr = kuery(ctx, q);
            let nt = new_terms(ctx, rule_t, at);
            let (expr, (fields, history_window_start)) = (expr?, nt?);
            let expr = match expr {
                Ok(e) => e,
                Err(d) => return Some((d, lang)),
            };
            Some((
                Detection::NewTerms(NewTerms {
                    filter: EventFilter::new(expr),
                    fields,
                    history_window_start,
                }),
                lang,
            ))
        }
        "esql" => {
            let lang = check_language(ctx, &["esql"])?;
            need_query(ctx)?;
            Some((
                unsupported(
                    "esql",
                    "ES|QL queries are not modelled in this version",
                    query,
                    Some("esql"),
                ),
                lang,
            ))
        }
        "machine_learning" => {
            for key in ["anomaly_threshold", "machine_learning_job_id"] {
                ctx.require(rule_t, key, "[rule] of a machine_learning rule", at.clone());
            }
            let jobs = match ctx.get(rule_t, "machine_learning_job_id") {
                Some((_, v)) => ctx
                    .str_list_of("machine_learning_job_id", v, true)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let reason = format!(
                "machine learning rules alert on anomaly-detection jobs ({}), which have no query to port",
                jobs.join(", ")
            );
            let lang = language.unwrap_or_else(|| "machine_learning".into());
            Some((unsupported("machine_learning", &reason, query, None), lang))
        }
        "threat_match" => {
            let lang = check_language(ctx, &["kuery", "lucene"])?;
            need_query(ctx)?;
            for key in ["threat_index", "threat_mapping"] {
                ctx.require(rule_t, key, "[rule] of a threat_match rule", at.clone());
            }
            let q = query?;
            let ok = lang != "kuery" || kuery(ctx, q).is_some();
            // The indicator query is kuery too: check it so errors surface at import.
            let tlang = ctx.opt_str(rule_t, "threat_language");
            if let Some((_, tv)) = ctx.get(rule_t, "threat_query") {
                if tlang.as_deref().unwrap_or("kuery") == "kuery" {
                    if let Some(text) = ctx.str_of("threat_query", tv) {
                        kuery(
                            ctx,
                            &Query {
                                text,
                                span: tv.span(),
                            },
                        );
                    }
                }
            }
            ok.then(|| {
                (
                    unsupported(
                        "threat_match",
                        "indicator match joins events with a threat-intelligence index, which this version does not model",
                        Some(q),
                        Some(&lang),
                    ),
                    lang.clone(),
                )
            })
        }
        "saved_query" => Some((
            unsupported(
                "saved_query",
                "saved queries live in Kibana, not in the rule file",
                query,
                language.as_deref(),
            ),
            language.clone().unwrap_or_else(|| "kuery".into()),
        )),
        "" => None,
        other => {
            let mut d = Diagnostic::error(E_VALUE, format!("unknown rule type `{other}`"))
                .at(ctx.pos(type_span.start));
            d = d.with_hint(match did_you_mean(other, RULE_TYPES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", RULE_TYPES.join(", ")),
            });
            ctx.push(d);
            None
        }
    }
}

fn threshold(ctx: &mut Ctx<'_>, rule_t: &DeTable<'_>, at: &Range<usize>) -> Option<Aggregation> {
    let (_, tv) = ctx.require(
        rule_t,
        "threshold",
        "[rule] of a threshold rule",
        at.clone(),
    )?;
    let t = ctx.table_of("threshold", tv)?;
    ctx.check_keys(t, "[rule.threshold]", THRESHOLD_FIELDS);
    let group_by = match ctx.require(t, "field", "[rule.threshold]", tv.span()) {
        Some((_, fv)) => ctx.str_list_of("threshold.field", fv, true)?,
        None => return None,
    };
    let (_, vv) = ctx.require(t, "value", "[rule.threshold]", tv.span())?;
    let value = ctx.int_of("threshold.value", vv)?;
    if value < 1 {
        ctx.error(E_VALUE, "`threshold.value` must be at least 1", vv.span());
        return None;
    }
    let mut conditions = vec![AggCondition {
        metric: Metric::Count,
        op: CmpOp::Ge,
        value,
    }];
    if let Some((_, cv)) = ctx.get(t, "cardinality") {
        for c in ctx.tables_of("threshold.cardinality", cv) {
            let Some(ct) = ctx.table_of("threshold.cardinality", c) else {
                continue;
            };
            ctx.check_keys(ct, "[[rule.threshold.cardinality]]", CARDINALITY_FIELDS);
            let field = ctx
                .require(ct, "field", "[[rule.threshold.cardinality]]", c.span())
                .and_then(|(_, f)| ctx.str_of("threshold.cardinality.field", f));
            let value = ctx
                .require(ct, "value", "[[rule.threshold.cardinality]]", c.span())
                .and_then(|(_, v)| ctx.int_of("threshold.cardinality.value", v));
            if let (Some(field), Some(value)) = (field, value) {
                conditions.push(AggCondition {
                    metric: Metric::DistinctCount(field),
                    op: CmpOp::Ge,
                    value,
                });
            }
        }
    }
    Some(Aggregation {
        sources: Vec::new(),
        group_by,
        window: None,
        window_kind: WindowKind::RuleLookback,
        conditions,
    })
}

fn new_terms(
    ctx: &mut Ctx<'_>,
    rule_t: &DeTable<'_>,
    at: &Range<usize>,
) -> Option<(Vec<String>, String)> {
    let (_, nv) = ctx.require(
        rule_t,
        "new_terms",
        "[rule] of a new_terms rule",
        at.clone(),
    )?;
    let t = ctx.table_of("new_terms", nv)?;
    ctx.check_keys(t, "[rule.new_terms]", NEW_TERMS_FIELDS);
    if let Some((_, fv)) = ctx.get(t, "field") {
        if let Some(f) = ctx.str_of("new_terms.field", fv) {
            if f != "new_terms_fields" {
                ctx.error(
                    E_VALUE,
                    format!("`new_terms.field` must be \"new_terms_fields\", found `{f}`"),
                    fv.span(),
                );
            }
        }
    }
    let (_, vv) = ctx.require(t, "value", "[rule.new_terms]", nv.span())?;
    let fields = ctx.str_list_of("new_terms.value", vv, true)?;
    if fields.is_empty() {
        ctx.error(
            E_VALUE,
            "`new_terms.value` needs at least one field",
            vv.span(),
        );
        return None;
    }
    let (_, hv) = ctx.require(t, "history_window_start", "[rule.new_terms]", nv.span())?;
    let mut start = None;
    for h in ctx.tables_of("new_terms.history_window_start", hv) {
        let Some(ht) = ctx.table_of("new_terms.history_window_start", h) else {
            continue;
        };
        ctx.check_keys(
            ht,
            "[[rule.new_terms.history_window_start]]",
            &["field", "value"],
        );
        if let Some((_, v)) = ctx.require(
            ht,
            "value",
            "[[rule.new_terms.history_window_start]]",
            h.span(),
        ) {
            start = ctx.str_of("history_window_start.value", v);
        }
    }
    match start {
        Some(s) => Some((fields, s)),
        None => {
            ctx.error(
                E_TYPE,
                "`new_terms.history_window_start` needs a `value` such as \"now-7d\"",
                hv.span(),
            );
            None
        }
    }
}
