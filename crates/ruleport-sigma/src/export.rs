//! Rule model → Sigma YAML. Single-event logic becomes selections plus a `condition`; sequences,
//! samples and aggregations become correlation documents after their base rules.

use crate::import::EXTRA_GENERATE;
use crate::strings::{escape_pieces, EscapeMode};
use crate::yaml::{emit_map, Out};
use ruleport_model::{
    Aggregation, Approximation, Case, CmpOp, Detection, EventFilter, EventSource, Expr,
    FieldRefKind, LogSource, Metric, Op, Operand, PatternShape, Piece, Predicate, RegexAnchor,
    RegexSpec, Rule, Sample, Scalar, Sequence, StrPattern, Subject, TargetId, TextMode,
    Unsupported, WindowKind,
};
use std::collections::BTreeMap;

/// Deepest expression the exporter walks.
const MAX_DEPTH: usize = 256;

/// The result of exporting one rule: YAML text (one or more documents) and what is not exact.
#[derive(Debug, Clone)]
pub struct SigmaExport {
    /// One YAML document, or base rules then a correlation document for multi-event rules.
    pub text: String,
    /// What Sigma can only approximate.
    pub approximations: Vec<Approximation>,
}

fn unsupported(code: &str, reason: impl Into<String>) -> Unsupported {
    Unsupported::new(TargetId::Sigma, code, reason)
}

/// Export a rule as Sigma YAML.
pub fn export_rule(rule: &Rule) -> Result<SigmaExport, Unsupported> {
    let mut approx = Vec::new();
    let text = match &rule.detection {
        Detection::Query(filter) => {
            let det = detection_block(filter, &mut approx)?;
            let mut doc = meta_entries(rule, &mut approx);
            insert_logsource(&mut doc, &rule.logsource, &mut approx);
            doc.push(("detection".into(), det));
            push_tail_meta(&mut doc, rule);
            let mut text = String::new();
            emit_map(&doc, &mut text);
            text
        }
        Detection::Sequence(s) => {
            correlation_text(rule, CorrelationKind::Sequence(s), &mut approx)?
        }
        Detection::Sample(s) => correlation_text(rule, CorrelationKind::Sample(s), &mut approx)?,
        Detection::Aggregation(a) => {
            correlation_text(rule, CorrelationKind::Aggregation(a), &mut approx)?
        }
        Detection::NewTerms(_) => {
            return Err(unsupported(
                "new-terms",
                "Sigma has no new-terms detection (a value not seen in a history window)",
            ))
        }
        Detection::Unsupported(u) => {
            return Err(unsupported(
                "unsupported-detection",
                format!(
                    "the rule's {} detection is not modelled: {}",
                    u.kind, u.reason
                ),
            ))
        }
    };
    Ok(SigmaExport {
        text,
        approximations: approx,
    })
}

fn str_list(items: &[String]) -> Out {
    Out::Seq(items.iter().map(|s| Out::Str(s.clone())).collect())
}

const SIGMA_STATUSES: [&str; 5] = [
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// Metadata that precedes `logsource` / `detection`.
fn meta_entries(rule: &Rule, _approx: &mut [Approximation]) -> Vec<(String, Out)> {
    let m = &rule.meta;
    let mut doc: Vec<(String, Out)> = vec![("title".into(), Out::Str(m.title.clone()))];
    if !m.id.is_empty() {
        doc.push(("id".into(), Out::Str(m.id.clone())));
    }
    if let Some(n) = &m.name {
        doc.push(("name".into(), Out::Str(n.clone())));
    }
    if !m.related.is_empty() {
        doc.push((
            "related".into(),
            Out::Seq(
                m.related
                    .iter()
                    .map(|r| {
                        Out::Map(vec![
                            ("id".into(), Out::Str(r.id.clone())),
                            ("type".into(), Out::Str(r.kind.clone())),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    if let Some(s) = &m.status {
        let status = if rule.format == ruleport_model::SourceFormat::Sigma
            || SIGMA_STATUSES.contains(&s.as_str())
        {
            Some(s.clone())
        } else {
            // Elastic maturity → the nearest Sigma status.
            match s.as_str() {
                "production" => Some("stable".to_string()),
                "development" | "beta" => Some("experimental".to_string()),
                _ => None,
            }
        };
        if let Some(st) = status {
            doc.push(("status".into(), Out::Str(st)));
        }
    }
    if !m.description.is_empty() {
        doc.push(("description".into(), Out::Str(m.description.clone())));
    }
    if let Some(l) = &m.license {
        doc.push(("license".into(), Out::Str(l.clone())));
    }
    if !m.references.is_empty() {
        doc.push(("references".into(), str_list(&m.references)));
    }
    if !m.authors.is_empty() {
        doc.push(("author".into(), Out::Str(m.authors.join(", "))));
    }
    if let Some(d) = &m.created {
        doc.push(("date".into(), Out::Str(d.clone())));
    }
    if let Some(d) = &m.modified {
        doc.push(("modified".into(), Out::Str(d.clone())));
    }
    let mut tags = m.tags.clone();
    // ATT&CK mappings (Elastic `threat`) become Sigma `attack.*` tags.
    for t in &m.threat {
        if t.framework.to_ascii_lowercase().contains("att&ck")
            || t.framework.to_ascii_lowercase().contains("attack")
        {
            if let Some(name) = &t.tactic.name {
                let tag = format!(
                    "attack.{}",
                    name.to_ascii_lowercase().replace([' ', '-'], "_")
                );
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            for tech in &t.techniques {
                let ids = std::iter::once(&tech.technique.id)
                    .chain(tech.subtechniques.iter().map(|s| &s.id));
                for id in ids {
                    let tag = format!("attack.{}", id.to_ascii_lowercase());
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
        }
    }
    if !tags.is_empty() {
        doc.push(("tags".into(), str_list(&tags)));
    }
    doc
}

/// Metadata written after `detection`, then the custom fields.
fn push_tail_meta(doc: &mut Vec<(String, Out)>, rule: &Rule) {
    let m = &rule.meta;
    if !m.fields.is_empty() {
        doc.push(("fields".into(), str_list(&m.fields)));
    }
    if !m.false_positives.is_empty() {
        doc.push(("falsepositives".into(), str_list(&m.false_positives)));
    }
    if let Some(s) = m.severity {
        doc.push(("level".into(), Out::Str(s.name().into())));
    }
    for (k, v) in &m.extra {
        if k == EXTRA_GENERATE
            || doc.iter().any(|(dk, _)| dk == k)
            || RESERVED.contains(&k.as_str())
        {
            continue;
        }
        doc.push((k.clone(), Out::from_json(v)));
    }
}

/// Keys the exporter writes itself; an `extra` entry with one of these names would clash.
const RESERVED: &[&str] = &[
    "title",
    "id",
    "name",
    "logsource",
    "detection",
    "correlation",
    "filter",
    "action",
];

fn logsource_out(ls: &LogSource, approx: &mut Vec<Approximation>) -> Out {
    let mut m = Vec::new();
    for (k, v) in [
        ("product", &ls.product),
        ("category", &ls.category),
        ("service", &ls.service),
    ] {
        if let Some(v) = v {
            m.push((k.to_string(), Out::Str(v.clone())));
        }
    }
    for (k, v) in &ls.custom {
        m.push((k.clone(), Out::Str(v.clone())));
    }
    let mut definition = ls.definition.clone();
    if !ls.index.is_empty() {
        approx.push(Approximation::new(
            "logsource-index",
            format!("Sigma log sources name a product/category/service; the Elastic index patterns {} are kept only in `definition`", ls.index.join(", ")),
        ));
        let idx = format!("index: {}", ls.index.join(", "));
        definition = Some(match definition {
            Some(d) => format!("{d}; {idx}"),
            None => idx,
        });
    }
    if let Some(d) = definition {
        m.push(("definition".into(), Out::Str(d)));
    }
    Out::Map(m)
}

fn insert_logsource(doc: &mut Vec<(String, Out)>, ls: &LogSource, approx: &mut Vec<Approximation>) {
    doc.push(("logsource".into(), logsource_out(ls, approx)));
}

// ---------------------------------------------------------------------------------------------
// Detection

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or = 1,
    And = 2,
    Not = 3,
    Atom = 4,
}

/// One `key: value` of a selection map.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    key: String,
    value: Out,
}

impl Item {
    fn is_plain_keyword(&self) -> bool {
        self.key.is_empty()
    }
}

struct DetBuilder<'a> {
    selections: Vec<(String, Out)>,
    counters: BTreeMap<&'static str, usize>,
    approx: &'a mut Vec<Approximation>,
}

fn detection_block(
    filter: &EventFilter,
    approx: &mut Vec<Approximation>,
) -> Result<Out, Unsupported> {
    let expr = filter_expr(filter);
    if expr.depth() > MAX_DEPTH {
        return Err(unsupported(
            "too-deep",
            format!("the expression nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    let mut b = DetBuilder {
        selections: Vec::new(),
        counters: BTreeMap::new(),
        approx,
    };
    let (cond, _) = b.render(&expr, false)?;
    let mut det = b.selections;
    det.push(("condition".into(), Out::Str(cond)));
    Ok(Out::Map(det))
}

/// The filter's expression with an EQL event category made explicit (EQL matches it exactly
/// against `event.category`).
fn filter_expr(filter: &EventFilter) -> Expr {
    match &filter.category {
        None => filter.expr.clone(),
        Some(cat) => Expr::and(vec![
            Expr::matches(
                "event.category",
                StrPattern::literal(cat.clone()),
                Case::Sensitive,
            ),
            filter.expr.clone(),
        ]),
    }
}

impl DetBuilder<'_> {
    fn name(&mut self, prefix: &'static str) -> String {
        let n = self.counters.entry(prefix).or_insert(0);
        *n += 1;
        if *n == 1 {
            prefix.to_string()
        } else {
            format!("{prefix}_{n}")
        }
    }

    fn add_selection(&mut self, value: Out, negated: bool) -> String {
        let prefix = match (&value, negated) {
            (_, true) => "filter",
            (Out::Seq(v), false) if v.iter().all(|x| !matches!(x, Out::Map(_))) => "keywords",
            _ => "selection",
        };
        let name = self.name(prefix);
        self.selections.push((name.clone(), value));
        name
    }

    /// Render `e` as condition text, creating selections. `negated`: the result will be negated
    /// (only used to name selections).
    fn render(&mut self, e: &Expr, negated: bool) -> Result<(String, Prec), Unsupported> {
        // A whole expression that fits one selection.
        if let Some(sel) = self.as_selection(e)? {
            return Ok((self.add_selection(sel, negated), Prec::Atom));
        }
        match e {
            Expr::And(children) => {
                let mut parts: Vec<String> = Vec::new();
                let mut map: Vec<Item> = Vec::new();
                let mut keywords: Vec<Out> = Vec::new();
                let mut i = 0;
                while i < children.len() {
                    let c = &children[i];
                    // A run of plain keyword predicates becomes `'|all': [...]`.
                    if let Some(kw) = self.plain_keyword(c)? {
                        keywords.push(kw);
                        i += 1;
                        continue;
                    }
                    self.flush_keywords(&mut keywords, &mut map, &mut parts);
                    if let Some(item) = self.map_item(c)? {
                        let all_key = format!("{}|all", item.key);
                        if map.iter().any(|m| m.key == item.key || m.key == all_key) {
                            // Consecutive single values of one key merge into `key|all`.
                            let mergeable = is_scalar(&item.value)
                                && map.last().is_some_and(|l| {
                                    (l.key == item.key && is_scalar(&l.value))
                                        || (l.key == all_key && matches!(&l.value, Out::Seq(v) if v.iter().all(is_scalar)))
                                });
                            if mergeable {
                                if let Some(l) = map.last_mut() {
                                    if l.key == item.key {
                                        l.key = all_key;
                                        l.value = Out::Seq(vec![l.value.clone()]);
                                    }
                                    if let Out::Seq(v) = &mut l.value {
                                        v.push(item.value);
                                    }
                                }
                                i += 1;
                                continue;
                            }
                            let done = std::mem::take(&mut map);
                            parts.push(self.add_selection(map_out(done), false));
                        }
                        map.push(item);
                        i += 1;
                        continue;
                    }
                    if !map.is_empty() {
                        let done = std::mem::take(&mut map);
                        parts.push(self.add_selection(map_out(done), false));
                    }
                    let (t, p) = self.render(c, false)?;
                    parts.push(if p < Prec::And { format!("({t})") } else { t });
                    i += 1;
                }
                self.flush_keywords(&mut keywords, &mut map, &mut parts);
                if !map.is_empty() {
                    parts.push(self.add_selection(map_out(map), false));
                }
                Ok((parts.join(" and "), Prec::And))
            }
            Expr::Or(children) => {
                let mut parts: Vec<String> = Vec::new();
                let mut group: Vec<Out> = Vec::new();
                for c in children {
                    if let Some(m) = self.as_list_element(c)? {
                        group.push(m);
                        continue;
                    }
                    if !group.is_empty() {
                        let g = std::mem::take(&mut group);
                        parts.push(self.add_selection(list_out(g), false));
                    }
                    let (t, _) = self.render(c, false)?;
                    parts.push(t);
                }
                if !group.is_empty() {
                    parts.push(self.add_selection(list_out(group), false));
                }
                Ok((parts.join(" or "), Prec::Or))
            }
            Expr::Not(inner) => {
                let (t, p) = self.render(inner, true)?;
                Ok((
                    if p < Prec::Not {
                        format!("not ({t})")
                    } else {
                        format!("not {t}")
                    },
                    Prec::Not,
                ))
            }
            Expr::Const(b) => Err(unsupported(
                "constant-condition",
                format!("Sigma cannot state a constant `{b}` condition"),
            )),
            Expr::Nested { path, .. } => Err(unsupported(
                "nested-query",
                format!(
                    "Sigma has no nested (per array element) query like kuery's `{path}:{{…}}`"
                ),
            )),
            Expr::Pred(_) => Err(unsupported("predicate", "this predicate has no Sigma form")),
        }
    }

    fn flush_keywords(
        &mut self,
        keywords: &mut Vec<Out>,
        map: &mut Vec<Item>,
        parts: &mut Vec<String>,
    ) {
        if keywords.is_empty() {
            return;
        }
        let kws = std::mem::take(keywords);
        if kws.len() == 1 {
            if !map.is_empty() {
                let done = std::mem::take(map);
                parts.push(self.add_selection(map_out(done), false));
            }
            parts.push(self.add_selection(Out::Seq(kws), false));
        } else {
            if map.iter().any(|m| m.key == "|all") {
                let done = std::mem::take(map);
                parts.push(self.add_selection(map_out(done), false));
            }
            map.push(Item {
                key: "|all".into(),
                value: Out::Seq(kws),
            });
        }
    }

    /// A plain (modifier-free, insensitive, substring) keyword predicate's value.
    fn plain_keyword(&mut self, e: &Expr) -> Result<Option<Out>, Unsupported> {
        if let Expr::Pred(p) = e {
            if matches!(p.subject, Subject::Keyword) {
                if let Some(item) = self.pred_item(p)? {
                    if item.is_plain_keyword() {
                        return Ok(Some(item.value));
                    }
                }
            }
        }
        Ok(None)
    }

    /// One map entry: a predicate, `Not(Exists)` as `null`, or an OR of predicates with one key.
    fn map_item(&mut self, e: &Expr) -> Result<Option<Item>, Unsupported> {
        match e {
            Expr::Pred(p) => {
                let item = self.pred_item(p)?;
                Ok(item.filter(|i| !i.is_plain_keyword()))
            }
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Pred(Predicate {
                    subject: Subject::Field { name, .. },
                    op: Op::Exists,
                }) if !name.contains('|') => Ok(Some(Item {
                    key: name.clone(),
                    value: Out::Null,
                })),
                _ => Ok(None),
            },
            Expr::Or(children) if children.len() > 1 => {
                let mut key: Option<String> = None;
                let mut values = Vec::new();
                for c in children {
                    let Some(item) = self.map_item(c)? else {
                        return Ok(None);
                    };
                    if matches!(item.value, Out::Seq(_)) || item.key.ends_with("|all") {
                        return Ok(None);
                    }
                    match &key {
                        None => key = Some(item.key.clone()),
                        Some(k) if *k == item.key => {}
                        Some(_) => return Ok(None),
                    }
                    values.push(item.value);
                }
                Ok(key.map(|key| Item {
                    key,
                    value: Out::Seq(values),
                }))
            }
            _ => Ok(None),
        }
    }

    /// A whole expression as one selection (a map, a keyword list or a list of maps).
    fn as_selection(&mut self, e: &Expr) -> Result<Option<Out>, Unsupported> {
        if let Some(kw) = self.plain_keyword(e)? {
            return Ok(Some(Out::Seq(vec![kw])));
        }
        if let Some(item) = self.map_item(e)? {
            if item.key.is_empty() {
                return Ok(Some(item.value));
            }
            return Ok(Some(map_out(vec![item])));
        }
        match e {
            Expr::And(children) => {
                let mut items: Vec<Item> = Vec::new();
                for c in children {
                    let Some(item) = self.map_item(c)? else {
                        return Ok(None);
                    };
                    if items.iter().any(|i| i.key == item.key) {
                        return Ok(None);
                    }
                    items.push(item);
                }
                Ok(Some(map_out(items)))
            }
            Expr::Or(children) => {
                // A plain keyword list, or a list of maps (keywords may sit among them).
                let mut elems = Vec::new();
                for c in children {
                    let Some(el) = self.as_list_element(c)? else {
                        return Ok(None);
                    };
                    elems.push(el);
                }
                Ok(Some(list_out(elems)))
            }
            _ => Ok(None),
        }
    }

    /// An element of a list-of-maps selection: a plain keyword or a map.
    fn as_list_element(&mut self, e: &Expr) -> Result<Option<Out>, Unsupported> {
        if let Some(kw) = self.plain_keyword(e)? {
            return Ok(Some(kw));
        }
        if let Some(item) = self.map_item(e)? {
            return Ok(Some(map_out(vec![item])));
        }
        if let Expr::And(children) = e {
            let mut items: Vec<Item> = Vec::new();
            for c in children {
                let Some(item) = self.map_item(c)? else {
                    return Ok(None);
                };
                if items.iter().any(|i| i.key == item.key) {
                    return Ok(None);
                }
                items.push(item);
            }
            return Ok(Some(map_out(items)));
        }
        Ok(None)
    }

    /// The Sigma key and value of a predicate. Plain keywords have an empty key.
    fn pred_item(&mut self, p: &Predicate) -> Result<Option<Item>, Unsupported> {
        let field = match &p.subject {
            Subject::Field { name, .. } => {
                if name.contains('|') || name.is_empty() {
                    return Err(unsupported(
                        "field-name",
                        format!("the field name `{name}` cannot be written as a Sigma key"),
                    ));
                }
                Some(name.as_str())
            }
            Subject::Keyword => None,
            Subject::Computed(op) => {
                return Err(unsupported(
                    "computed-subject",
                    format!(
                        "Sigma compares fields only; the computed value {} has no Sigma form",
                        operand_text(op)
                    ),
                ))
            }
        };
        let mut mods: Vec<&str> = Vec::new();
        let value: Out = match &p.op {
            Op::Match { pattern, case } => {
                let mut pattern = pattern.clone();
                if field.is_none() {
                    // Sigma keywords are substring searches (see the importer).
                    let pieces = pattern.pieces();
                    if pieces.len() >= 2
                        && pieces.first() == Some(&Piece::AnyChars)
                        && pieces.last() == Some(&Piece::AnyChars)
                    {
                        pattern = StrPattern::new(pieces[1..pieces.len() - 1].iter().cloned());
                    } else if pattern.shape() == PatternShape::Any {
                        pattern = StrPattern::literal("");
                    } else {
                        self.approx.push(Approximation::new(
                            "keyword-substring",
                            format!("Sigma keywords match anywhere in a value; the keyword `{pattern}` was anchored"),
                        ));
                    }
                }
                let has_ph = pattern.has_placeholders();
                let mode = if has_ph {
                    EscapeMode::Expand
                } else {
                    EscapeMode::Plain
                };
                let text = match (field.is_some() && !has_ph, pattern.shape()) {
                    (true, PatternShape::Prefix(s)) => {
                        mods.push("startswith");
                        escape_pieces(&[Piece::Lit(s.to_string())], mode)
                    }
                    (true, PatternShape::Suffix(s)) => {
                        mods.push("endswith");
                        escape_pieces(&[Piece::Lit(s.to_string())], mode)
                    }
                    (true, PatternShape::Contains(s)) => {
                        mods.push("contains");
                        escape_pieces(&[Piece::Lit(s.to_string())], mode)
                    }
                    _ => escape_pieces(pattern.pieces(), mode),
                };
                if has_ph {
                    mods.push("expand");
                }
                if *case == Case::Sensitive {
                    mods.push("cased");
                }
                Out::Str(text)
            }
            Op::Eq(s) => match s {
                Scalar::Int(i) if field.is_some() => Out::Int(*i),
                Scalar::Float(f) if field.is_some() && f.is_finite() => Out::Float(*f),
                Scalar::Bool(b) if field.is_some() => Out::Bool(*b),
                Scalar::Str(t) if field.is_some() => {
                    mods.push("cased");
                    Out::Str(escape_pieces(&[Piece::Lit(t.clone())], EscapeMode::Plain))
                }
                other => {
                    if field.is_none() {
                        self.approx.push(Approximation::new(
                            "keyword-typed-equality",
                            format!("Sigma keywords are substring searches; the typed keyword `{other}` is written as one"),
                        ));
                        Out::Str(escape_pieces(
                            &[Piece::Lit(other.to_string())],
                            EscapeMode::Plain,
                        ))
                    } else {
                        return Err(unsupported(
                            "non-finite-number",
                            format!("`{other}` cannot be written in Sigma"),
                        ));
                    }
                }
            },
            Op::Cmp { op, value } => {
                if field.is_none() {
                    return Err(unsupported(
                        "keyword-comparison",
                        "Sigma comparisons need a field",
                    ));
                }
                if !value.is_number() {
                    return Err(unsupported(
                        "string-comparison",
                        format!("Sigma's gt/gte/lt/lte compare numbers; `{value}` is a string"),
                    ));
                }
                let v = match value {
                    Scalar::Int(i) => Out::Int(*i),
                    Scalar::Float(f) => Out::Float(*f),
                    _ => Out::Null,
                };
                match op {
                    CmpOp::Gt => mods.push("gt"),
                    CmpOp::Ge => mods.push("gte"),
                    CmpOp::Lt => mods.push("lt"),
                    CmpOp::Le => mods.push("lte"),
                    CmpOp::Eq => {}
                    CmpOp::Ne => {
                        mods.push("neq");
                        self.approx.push(Approximation::new(
                            "neq-missing-field",
                            "Sigma `neq` also matches events without the field; the source's `!=` did not",
                        ));
                    }
                }
                v
            }
            Op::Regex(spec) => {
                mods.push("re");
                if spec.case == Case::Insensitive {
                    mods.push("i");
                }
                if spec.multiline {
                    mods.push("m");
                }
                if spec.dotall {
                    mods.push("s");
                }
                let pattern = match spec.anchor {
                    RegexAnchor::Search => spec.pattern.clone(),
                    RegexAnchor::Full => format!(r"\A(?:{})\z", spec.pattern),
                };
                // The anchoring group can take a pattern over the nesting limit that import checks.
                let written = RegexSpec {
                    pattern,
                    anchor: RegexAnchor::Search,
                    ..spec.clone()
                };
                if let Err(e) = crate::detection::check_regex_syntax(&written) {
                    return Err(unsupported(
                        "regex-unsupported",
                        format!(
                            "regex `{}` is not accepted once anchored: {e}",
                            spec.pattern
                        ),
                    ));
                }
                Out::Str(written.pattern)
            }
            Op::Cidr(net) => {
                if field.is_none() {
                    return Err(unsupported("keyword-cidr", "Sigma `cidr` needs a field"));
                }
                mods.push("cidr");
                Out::Str(net.to_string())
            }
            Op::Exists => {
                if field.is_none() {
                    return Err(unsupported(
                        "keyword-exists",
                        "Sigma `exists` needs a field",
                    ));
                }
                mods.push("exists");
                Out::Bool(true)
            }
            Op::FieldRef { other, kind, case } => {
                if field.is_none() {
                    return Err(unsupported(
                        "keyword-fieldref",
                        "Sigma `fieldref` needs a field",
                    ));
                }
                mods.push("fieldref");
                match kind {
                    FieldRefKind::Equals => {}
                    FieldRefKind::StartsWith => mods.push("startswith"),
                    FieldRefKind::EndsWith => mods.push("endswith"),
                    FieldRefKind::Contains => mods.push("contains"),
                }
                if *case == Case::Sensitive {
                    mods.push("cased");
                }
                Out::Str(other.clone())
            }
            Op::IsTrue => {
                return Err(unsupported(
                    "is-true",
                    "Sigma has no boolean-expression predicate",
                ));
            }
            Op::Text(q) => {
                if field.is_none() {
                    return Err(unsupported(
                        "keyword-text",
                        "an analysed text query needs a field",
                    ));
                }
                // Sigma has no token matching: a case-insensitive substring is the closest.
                self.approx.push(Approximation::new(
                    "text-as-contains",
                    format!(
                        "analysed text queries ({} analyzer) are written as `contains`: Sigma matches substrings, not whole words",
                        q.analyzer.name()
                    ),
                ));
                mods.push("contains");
                let plain =
                    |t: &str| escape_pieces(&[Piece::Lit(t.to_string())], EscapeMode::Plain);
                match q.mode {
                    TextMode::AnyWord if q.tokens().len() > 1 => {
                        Out::Seq(q.tokens().iter().map(|t| Out::Str(plain(t))).collect())
                    }
                    _ => Out::Str(plain(&q.text)),
                }
            }
        };
        let key = match field {
            Some(f) => std::iter::once(f)
                .chain(mods.iter().copied())
                .collect::<Vec<_>>()
                .join("|"),
            None if mods.is_empty() => String::new(),
            None => format!("|{}", mods.join("|")),
        };
        Ok(Some(Item { key, value }))
    }
}

fn operand_text(op: &Operand) -> String {
    match op {
        Operand::Field { name, .. } => name.clone(),
        Operand::Literal(s) => s.to_string(),
        Operand::Null => "null".into(),
        Operand::Call { name, args, .. } => {
            format!(
                "{name}({})",
                args.iter().map(operand_text).collect::<Vec<_>>().join(", ")
            )
        }
        Operand::Arith { op, left, right } => {
            format!("({} {:?} {})", operand_text(left), op, operand_text(right))
        }
        Operand::Neg(o) => format!("-{}", operand_text(o)),
    }
}

fn is_scalar(v: &Out) -> bool {
    matches!(v, Out::Str(_) | Out::Int(_) | Out::Float(_))
}

fn map_out(items: Vec<Item>) -> Out {
    Out::Map(items.into_iter().map(|i| (i.key, i.value)).collect())
}

/// A list selection: a keyword list when every element is a scalar, else a list of maps.
fn list_out(elems: Vec<Out>) -> Out {
    Out::Seq(elems)
}

// ---------------------------------------------------------------------------------------------
// Correlations

enum CorrelationKind<'a> {
    Sequence(&'a Sequence),
    Sample(&'a Sample),
    Aggregation(&'a Aggregation),
}

fn looks_like_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn field_of(op: &Operand, what: &str) -> Result<String, Unsupported> {
    match op {
        Operand::Field { name, .. } => Ok(name.clone()),
        other => Err(unsupported(
            "correlation-key",
            format!(
                "Sigma {what} keys are field names; `{}` is computed",
                operand_text(other)
            ),
        )),
    }
}

fn correlation_text(
    rule: &Rule,
    kind: CorrelationKind<'_>,
    approx: &mut Vec<Approximation>,
) -> Result<String, Unsupported> {
    // (source, per-step keys)
    let mut sources: Vec<(&EventSource, Vec<String>)> = Vec::new();
    let mut group_by: Vec<String>;
    let mut aliases: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let (ty, timespan, condition): (&str, Option<ruleport_model::TimeSpan>, Option<Out>) =
        match &kind {
            CorrelationKind::Sequence(s) => {
                if s.until.is_some() {
                    return Err(unsupported(
                        "sequence-until",
                        "Sigma temporal_ordered has no `until` event",
                    ));
                }
                for st in &s.steps {
                    if st.missing {
                        return Err(unsupported(
                            "sequence-missing-step",
                            "Sigma temporal_ordered cannot require that an event does not occur",
                        ));
                    }
                    if st.runs != 1 {
                        return Err(unsupported(
                            "sequence-runs",
                            format!(
                                "Sigma temporal_ordered cannot repeat a step ({} runs)",
                                st.runs
                            ),
                        ));
                    }
                    let keys = st
                        .by
                        .iter()
                        .map(|o| field_of(o, "group-by"))
                        .collect::<Result<Vec<_>, _>>()?;
                    sources.push((&st.source, keys));
                }
                group_by =
                    s.by.iter()
                        .map(|o| field_of(o, "group-by"))
                        .collect::<Result<Vec<_>, _>>()?;
                if s.maxspan.is_none() {
                    return Err(unsupported(
                        "sequence-without-maxspan",
                        "Sigma temporal_ordered needs a timespan; the sequence has no maxspan",
                    ));
                }
                ("temporal_ordered", s.maxspan, None)
            }
            CorrelationKind::Sample(s) => {
                for st in &s.steps {
                    if st.missing || st.runs != 1 {
                        return Err(unsupported(
                            "sample-step",
                            "Sigma temporal cannot repeat or negate a step",
                        ));
                    }
                    let keys = st
                        .by
                        .iter()
                        .map(|o| field_of(o, "group-by"))
                        .collect::<Result<Vec<_>, _>>()?;
                    sources.push((&st.source, keys));
                }
                group_by =
                    s.by.iter()
                        .map(|o| field_of(o, "group-by"))
                        .collect::<Result<Vec<_>, _>>()?;
                if s.window.is_none() {
                    return Err(unsupported(
                        "sample-without-window",
                        "Sigma temporal needs a timespan; an EQL sample has none",
                    ));
                }
                ("temporal", s.window, None)
            }
            CorrelationKind::Aggregation(a) => {
                for src in &a.sources {
                    sources.push((src, Vec::new()));
                }
                group_by = a.group_by.clone();
                match a.window_kind {
                WindowKind::Sliding => {}
                WindowKind::Tumbling => approx.push(Approximation::new(
                    "window-sliding",
                    "Sigma correlation timespans are sliding windows; the source counted in fixed buckets",
                )),
                WindowKind::RuleLookback => approx.push(Approximation::new(
                    "window-sliding",
                    "Sigma correlation timespans are sliding windows; the source counted over each run's look-back",
                )),
            }
                let Some(first) = a.conditions.first() else {
                    return Err(unsupported(
                        "aggregation-condition",
                        "the aggregation has no condition",
                    ));
                };
                if a.conditions.iter().any(|c| c.metric != first.metric) {
                    return Err(unsupported(
                        "aggregation-metrics",
                        "a Sigma correlation tests one metric",
                    ));
                }
                let mut cond: Vec<(String, Out)> = Vec::new();
                let ty = match &first.metric {
                    Metric::Count => "event_count",
                    Metric::DistinctCount(f) => {
                        cond.push(("field".into(), Out::Str(f.clone())));
                        "value_count"
                    }
                    Metric::Sum(f) => {
                        cond.push(("field".into(), Out::Str(f.clone())));
                        "value_sum"
                    }
                    Metric::Avg(f) => {
                        cond.push(("field".into(), Out::Str(f.clone())));
                        "value_avg"
                    }
                    Metric::Percentile(f, p) => {
                        cond.push(("field".into(), Out::Str(f.clone())));
                        cond.push(("percentile".into(), Out::Int(i64::from(*p))));
                        "value_percentile"
                    }
                };
                for c in &a.conditions {
                    let op = match c.op {
                        CmpOp::Gt => "gt",
                        CmpOp::Ge => "gte",
                        CmpOp::Lt => "lt",
                        CmpOp::Le => "lte",
                        CmpOp::Eq => "eq",
                        CmpOp::Ne => "neq",
                    };
                    if cond.iter().any(|(k, _)| k == op) {
                        return Err(unsupported(
                            "aggregation-condition",
                            format!(
                                "two `{op}` thresholds cannot be written in one Sigma condition"
                            ),
                        ));
                    }
                    cond.push((op.into(), Out::Int(c.value)));
                }
                // Keep the operators first, then `field` / `percentile`, as the spec examples do.
                cond.sort_by_key(|(k, _)| matches!(k.as_str(), "field" | "percentile"));
                if a.window.is_none() {
                    return Err(unsupported(
                        "aggregation-without-window",
                        "Sigma correlations need a timespan",
                    ));
                }
                (ty, a.window, Some(Out::Map(cond)))
            }
        };
    // Reference names for each source, unique.
    let mut refs: Vec<String> = Vec::new();
    for (i, (src, _)) in sources.iter().enumerate() {
        let mut r = src
            .name
            .clone()
            .unwrap_or_else(|| format!("{}_{}", slug(&rule.meta.title, &rule.meta.id), i + 1));
        while refs.contains(&r) {
            r = format!("{r}_{}", i + 1);
        }
        refs.push(r);
    }
    // Aliases: from the sources' alias maps, and for per-step keys.
    for ((src, _), r) in sources.iter().zip(&refs) {
        for (alias, f) in &src.aliases {
            aliases
                .entry(alias.clone())
                .or_default()
                .insert(r.clone(), f.clone());
        }
    }
    let step_keys = sources.iter().map(|(_, k)| k.len()).max().unwrap_or(0);
    if step_keys > 0 {
        if sources.iter().any(|(_, k)| k.len() != step_keys) {
            return Err(unsupported(
                "correlation-key",
                "the steps have different numbers of join keys",
            ));
        }
        for j in 0..step_keys {
            let fields: Vec<&String> = sources.iter().map(|(_, k)| &k[j]).collect();
            let same = fields.iter().all(|f| *f == fields[0]);
            if same && !aliases.contains_key(fields[0]) {
                group_by.push(fields[0].clone());
                continue;
            }
            // Reuse an alias whose mapping is exactly these fields, else name one.
            let existing = aliases.iter().find(|(_, per)| {
                refs.iter()
                    .zip(&fields)
                    .all(|(r, f)| per.get(r) == Some(*f))
            });
            let alias = match existing {
                Some((a, _)) => a.clone(),
                None => {
                    let mut a = format!("key{}", j + 1);
                    while aliases.contains_key(&a) {
                        a.push('_');
                    }
                    aliases.insert(
                        a.clone(),
                        refs.iter()
                            .cloned()
                            .zip(fields.iter().map(|f| (*f).clone()))
                            .collect(),
                    );
                    a
                }
            };
            group_by.push(alias);
        }
    }
    if matches!(kind, CorrelationKind::Sample(_)) {
        approx.push(Approximation::new(
            "temporal-sample",
            "Sigma temporal fires when every rule matched within the timespan; EQL samples pick one event per step without a window",
        ));
    }

    let mut text = String::new();
    for ((src, _), r) in sources.iter().zip(&refs) {
        let mut doc: Vec<(String, Out)> = vec![("title".into(), Out::Str(r.clone()))];
        if looks_like_uuid(r) {
            doc.push(("id".into(), Out::Str(r.clone())));
        } else {
            doc.push(("name".into(), Out::Str(r.clone())));
        }
        let ls = src.logsource.as_ref().unwrap_or(&rule.logsource);
        insert_logsource(&mut doc, ls, approx);
        doc.push(("detection".into(), detection_block(&src.filter, approx)?));
        emit_map(&doc, &mut text);
        text.push_str("---\n");
    }
    let mut corr: Vec<(String, Out)> = vec![
        ("type".into(), Out::Str(ty.into())),
        ("rules".into(), str_list(&refs)),
    ];
    if !aliases.is_empty() {
        corr.push((
            "aliases".into(),
            Out::Map(
                aliases
                    .iter()
                    .map(|(a, per)| {
                        (
                            a.clone(),
                            Out::Map(
                                per.iter()
                                    .map(|(r, f)| (r.clone(), Out::Str(f.clone())))
                                    .collect(),
                            ),
                        )
                    })
                    .collect(),
            ),
        ));
    }
    if !group_by.is_empty() {
        corr.push(("group-by".into(), str_list(&group_by)));
    }
    if let Some(ts) = timespan {
        if ts.millis % 1000 != 0 {
            approx.push(Approximation::new(
                "timespan-seconds",
                format!("Sigma timespans count whole seconds; {ts} was rounded up"),
            ));
        }
        corr.push(("timespan".into(), Out::Str(timespan_text(ts))));
    }
    if let Some(c) = condition {
        corr.push(("condition".into(), c));
    }
    if rule.meta.extra.get(EXTRA_GENERATE) == Some(&serde_json::Value::Bool(true)) {
        corr.push(("generate".into(), Out::Bool(true)));
    }
    let mut doc = meta_entries(rule, approx);
    if !rule.logsource.is_empty() {
        insert_logsource(&mut doc, &rule.logsource, approx);
    }
    doc.push(("correlation".into(), Out::Map(corr)));
    push_tail_meta(&mut doc, rule);
    emit_map(&doc, &mut text);
    Ok(text)
}

/// Sigma timespans have units s, m, h, d (and pySigma's w); milliseconds round up to seconds.
fn timespan_text(ts: ruleport_model::TimeSpan) -> String {
    let secs = ts.millis.div_ceil(1000).max(1);
    for (size, unit) in [(604_800u64, "w"), (86_400, "d"), (3_600, "h"), (60, "m")] {
        #[allow(clippy::manual_is_multiple_of)]
        // `is_multiple_of` needs Rust 1.87; the MSRV is 1.85.
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

fn slug(title: &str, id: &str) -> String {
    let base: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let base = base.trim_matches('_').to_string();
    if base.is_empty() {
        if id.is_empty() {
            "rule".into()
        } else {
            id.to_string()
        }
    } else {
        base.chars().take(48).collect()
    }
}
