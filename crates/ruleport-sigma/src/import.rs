//! Sigma files → rules: documents, metadata, legacy action documents, filters and correlations.

use crate::condition;
use crate::detection::{search_expr, Warnings};
use crate::yaml::{parse_stream, Document, Kind, Node};
use ruleport_model::{
    AggCondition, Aggregation, CmpOp, Detection, Diagnostic, EventFilter, EventSource, Expr,
    LogSource, Metric, Operand, Pos, Provenance, RelatedRule, Rule, RuleMeta, Sample, Schema,
    SeqStep, Sequence, Severity, SourceFormat, TimeSpan, UnsupportedDetection, WindowKind,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What importing Sigma text produced: rules (several per file are possible) and diagnostics,
/// warnings included.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    /// Imported rules in document order (rules only referenced by a correlation are left out
    /// unless it says `generate: true`).
    pub rules: Vec<Rule>,
    /// Errors and warnings, each with file, position, rule id, code and hint where known.
    pub diagnostics: Vec<Diagnostic>,
}

impl ImportOutcome {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Keys of a rule document with a place in [`RuleMeta`] or [`Rule`]; everything else goes to `meta.extra`.
const KNOWN_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "related",
    "status",
    "description",
    "license",
    "author",
    "references",
    "date",
    "modified",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "level",
    "tags",
];

/// The key under which a correlation's `generate: true` is kept in `meta.extra`.
pub(crate) const EXTRA_GENERATE: &str = "x-sigma-correlation-generate";

/// Import one Sigma file's text (one or more YAML documents).
pub fn import_str(text: &str, path: Option<&Path>) -> ImportOutcome {
    let owned = path.map(Path::to_path_buf);
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    read_file_docs(text, owned.as_deref(), &mut docs, &mut diags);
    finish(docs, diags)
}

/// Read and import one Sigma file.
pub fn import_file(path: &Path) -> ImportOutcome {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => import_str(&text, Some(path)),
            Err(e) => ImportOutcome {
                rules: Vec::new(),
                diagnostics: vec![Diagnostic::error(
                    "E-SIGMA-ENCODING",
                    format!(
                        "the file is not UTF-8 (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                )
                .in_file(path)
                .at(Pos::from_offset(
                    &String::from_utf8_lossy(e.as_bytes()),
                    e.utf8_error().valid_up_to(),
                ))],
            },
        },
        Err(e) => ImportOutcome {
            rules: Vec::new(),
            diagnostics: vec![Diagnostic::error(
                "E-SIGMA-IO",
                format!("cannot read the file: {e}"),
            )
            .in_file(path)],
        },
    }
}

/// Import several files as one collection: correlations and filters may reference rules in any
/// of them, by `id` or `name`.
pub fn import_collection(files: &[(PathBuf, String)]) -> ImportOutcome {
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    for (path, text) in files {
        read_file_docs(text, Some(path), &mut docs, &mut diags);
    }
    finish(docs, diags)
}

/// One effective document (after legacy `action` merging).
struct RawDoc {
    root: Node,
    index: u32,
    path: Option<PathBuf>,
}

fn decorate(d: Diagnostic, path: Option<&Path>, rule_id: Option<&str>) -> Diagnostic {
    let mut d = d;
    if d.path.is_none() {
        if let Some(p) = path {
            d = d.in_file(p);
        }
    }
    if d.rule_id.is_none() {
        if let Some(id) = rule_id {
            d = d.for_rule(id);
        }
    }
    d
}

fn read_file_docs(
    text: &str,
    path: Option<&Path>,
    out: &mut Vec<RawDoc>,
    diags: &mut Vec<Diagnostic>,
) {
    let (docs, ydiags) = parse_stream(text);
    diags.extend(ydiags.into_iter().map(|d| decorate(d, path, None)));
    let mut global: Option<Node> = None;
    // Where the previous rule went in `out` (read again only by `action: repeat`).
    let mut prev_rule: Option<usize> = None;
    for (i, Document { root, .. }) in docs.into_iter().enumerate() {
        let index = i as u32;
        if root.is_null() {
            continue;
        }
        let push = |out: &mut Vec<RawDoc>, root: Node| {
            out.push(RawDoc {
                root,
                index,
                path: path.map(Path::to_path_buf),
            })
        };
        if let Some(action) = root.get("action") {
            let body = without_key(&root, "action");
            match action.as_str() {
                Some("global") => {
                    global = Some(match global.take() {
                        Some(g) => deep_merge(&g, &body),
                        None => body,
                    });
                }
                Some("reset") => global = None,
                Some("repeat") => match prev_rule {
                    Some(prev) => {
                        let rule = deep_merge(&out[prev].root, &body);
                        prev_rule = Some(out.len());
                        push(out, rule);
                    }
                    None => diags.push(decorate(
                        Diagnostic::error(
                            "E-SIGMA-ACTION",
                            "`action: repeat` without a previous rule to repeat",
                        )
                        .at(action.pos),
                        path,
                        None,
                    )),
                },
                other => diags.push(decorate(
                    Diagnostic::error(
                        "E-SIGMA-ACTION",
                        format!(
                            "unknown action `{}`",
                            other
                                .map(str::to_string)
                                .unwrap_or_else(|| action.scalar_text().unwrap_or_default())
                        ),
                    )
                    .at(action.pos)
                    .with_hint("legacy collections know `global`, `reset` and `repeat`"),
                    path,
                    None,
                )),
            }
            continue;
        }
        // pySigma never merges globals into correlation or filter documents.
        if root.get("correlation").is_some() || root.get("filter").is_some() {
            push(out, root);
            continue;
        }
        let rule = match &global {
            Some(g) => deep_merge(g, &root),
            None => root,
        };
        prev_rule = Some(out.len());
        push(out, rule);
    }
}

fn without_key(node: &Node, key: &str) -> Node {
    match &node.kind {
        Kind::Map(m) => Node::new(
            Kind::Map(
                m.iter()
                    .filter(|(k, _)| k.as_str() != Some(key))
                    .cloned()
                    .collect(),
            ),
            node.pos,
        ),
        _ => node.clone(),
    }
}

/// `over` merged into `base`: maps merge key by key, anything else in `over` replaces.
fn deep_merge(base: &Node, over: &Node) -> Node {
    deep_merge_at(base, over, 0)
}

fn deep_merge_at(base: &Node, over: &Node, depth: usize) -> Node {
    match (&base.kind, &over.kind) {
        (Kind::Map(b), Kind::Map(o)) if depth < 64 => {
            let mut out = b.clone();
            for (k, v) in o {
                match out.iter_mut().find(|(bk, _)| bk.kind == k.kind) {
                    Some(slot) => slot.1 = deep_merge_at(&slot.1, v, depth + 1),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Node::new(Kind::Map(out), over.pos)
        }
        _ => over.clone(),
    }
}

enum DocKind {
    Rule,
    Correlation,
    Filter,
}

fn doc_kind(root: &Node) -> DocKind {
    if root.get("correlation").is_some() {
        DocKind::Correlation
    } else if root.get("filter").is_some() && root.get("detection").is_none() {
        DocKind::Filter
    } else {
        DocKind::Rule
    }
}

/// A rule waiting for its place in the output.
enum Slot {
    Rule(Box<Rule>),
    Correlation {
        rule: Box<Rule>,
        node: Node,
        path: Option<PathBuf>,
    },
}

fn finish(docs: Vec<RawDoc>, mut diags: Vec<Diagnostic>) -> ImportOutcome {
    let mut slots: Vec<Slot> = Vec::new();
    let mut filters: Vec<(RawDoc, String)> = Vec::new();
    for doc in docs {
        match doc.root.kind {
            Kind::Map(_) => {}
            _ => {
                diags.push(decorate(
                    Diagnostic::error(
                        "E-SIGMA-DOCUMENT",
                        format!(
                            "a Sigma document must be a map, not a {}",
                            doc.root.type_name()
                        ),
                    )
                    .at(doc.root.pos),
                    doc.path.as_deref(),
                    None,
                ));
                continue;
            }
        }
        let id_text = doc_ref_id(&doc.root);
        match doc_kind(&doc.root) {
            DocKind::Rule => {
                let mut d = Vec::new();
                let rule = build_rule(&doc, &mut d);
                diags.extend(
                    d.into_iter()
                        .map(|x| decorate(x, doc.path.as_deref(), id_text.as_deref())),
                );
                if let Some(r) = rule {
                    slots.push(Slot::Rule(Box::new(r)));
                }
            }
            DocKind::Correlation => {
                let mut d = Vec::new();
                let meta = build_meta(&doc.root, &mut d);
                diags.extend(
                    d.into_iter()
                        .map(|x| decorate(x, doc.path.as_deref(), id_text.as_deref())),
                );
                let logsource = doc
                    .root
                    .get("logsource")
                    .map(|l| build_logsource(l, &mut Vec::new()))
                    .unwrap_or_default();
                let rule = Rule {
                    meta,
                    logsource,
                    detection: Detection::Unsupported(UnsupportedDetection {
                        kind: "sigma_correlation".into(),
                        reason: "not resolved yet".into(),
                        original: None,
                        language: Some("sigma".into()),
                    }),
                    schema: Schema::Sigma,
                    format: SourceFormat::Sigma,
                    language: "sigma".into(),
                    original_query: None,
                    provenance: provenance(&doc),
                };
                let node = doc
                    .root
                    .get("correlation")
                    .cloned()
                    .unwrap_or_else(|| Node::str(""));
                slots.push(Slot::Correlation {
                    rule: Box::new(rule),
                    node,
                    path: doc.path.clone(),
                });
            }
            DocKind::Filter => {
                let id = id_text.clone().unwrap_or_default();
                filters.push((doc, id));
            }
        }
    }

    // Filters first: correlations then see filtered rules (pySigma applies filters to rules).
    for (doc, id) in &filters {
        let mut d = Vec::new();
        apply_filter(doc, &mut slots, &mut d);
        diags.extend(d.into_iter().map(|x| {
            decorate(
                x,
                doc.path.as_deref(),
                Some(id.as_str()).filter(|s| !s.is_empty()),
            )
        }));
    }

    // Resolve correlations.
    let mut referenced: HashSet<usize> = HashSet::new();
    let mut generated: HashSet<usize> = HashSet::new();
    let mut failed: HashSet<usize> = HashSet::new();
    for ci in 0..slots.len() {
        let (node, path, id) = match &slots[ci] {
            Slot::Correlation { node, path, rule } => {
                (node.clone(), path.clone(), rule.meta.id.clone())
            }
            Slot::Rule(_) => continue,
        };
        let mut d = Vec::new();
        let result = build_correlation(&node, &slots, &mut d);
        let id_opt = Some(id.as_str()).filter(|s| !s.is_empty());
        diags.extend(d.into_iter().map(|x| decorate(x, path.as_deref(), id_opt)));
        match result {
            Some((detection, refs, generate)) => {
                referenced.extend(refs.iter().copied());
                if generate {
                    generated.extend(refs);
                }
                if let Slot::Correlation { rule, .. } = &mut slots[ci] {
                    rule.detection = detection;
                    if generate {
                        rule.meta
                            .extra
                            .insert(EXTRA_GENERATE.into(), serde_json::Value::Bool(true));
                    }
                }
            }
            None => {
                failed.insert(ci);
            }
        }
    }

    let rules = slots
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !failed.contains(i) && (!referenced.contains(i) || generated.contains(i)))
        .map(|(_, s)| match s {
            Slot::Rule(r) => *r,
            Slot::Correlation { rule, .. } => *rule,
        })
        .collect();
    ImportOutcome {
        rules,
        diagnostics: diags,
    }
}

fn doc_ref_id(root: &Node) -> Option<String> {
    root.get("id")
        .and_then(Node::scalar_text)
        .or_else(|| root.get("name").and_then(Node::scalar_text))
}

fn provenance(doc: &RawDoc) -> Provenance {
    let det = doc
        .root
        .get("detection")
        .or_else(|| doc.root.get("correlation"));
    Provenance {
        path: doc.path.clone(),
        line: Some(doc.root.pos.line),
        column: Some(doc.root.pos.column),
        query_line: det.map(|d| d.pos.line),
        query_column: det.map(|d| d.pos.column),
        document: Some(doc.index),
    }
}

fn string_list(node: &Node, what: &str, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    match &node.kind {
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| match i.scalar_text() {
                Some(t) => Some(t),
                None => {
                    if !i.is_null() {
                        diags.push(
                            Diagnostic::warning(
                                "W-SIGMA-META",
                                format!(
                                    "`{what}` entries must be strings; a {} is ignored",
                                    i.type_name()
                                ),
                            )
                            .at(i.pos),
                        );
                    }
                    None
                }
            })
            .collect(),
        Kind::Null => Vec::new(),
        _ => node.scalar_text().into_iter().collect(),
    }
}

fn build_meta(root: &Node, diags: &mut Vec<Diagnostic>) -> RuleMeta {
    let mut meta = RuleMeta::default();
    let text = |k: &str| root.get(k).and_then(Node::scalar_text);
    meta.title = text("title").unwrap_or_default();
    meta.id = text("id").unwrap_or_default();
    meta.name = text("name");
    meta.description = text("description").unwrap_or_default();
    meta.license = text("license");
    meta.created = text("date");
    meta.modified = text("modified");
    if let Some(s) = root.get("status") {
        let st = s.scalar_text().unwrap_or_default();
        if ![
            "stable",
            "test",
            "experimental",
            "deprecated",
            "unsupported",
        ]
        .contains(&st.as_str())
        {
            diags.push(
                Diagnostic::warning("W-SIGMA-STATUS", format!("unknown status `{st}`"))
                    .at(s.pos)
                    .with_hint(
                        "Sigma statuses: stable, test, experimental, deprecated, unsupported",
                    ),
            );
        }
        meta.status = Some(st);
    }
    if let Some(l) = root.get("level") {
        let lv = l.scalar_text().unwrap_or_default();
        match Severity::parse(&lv).filter(|_| lv != "info") {
            Some(s) => meta.severity = Some(s),
            None => {
                diags.push(
                    Diagnostic::warning(
                        "W-SIGMA-LEVEL",
                        format!("unknown level `{lv}`; kept as a custom field"),
                    )
                    .at(l.pos)
                    .with_hint("Sigma levels: informational, low, medium, high, critical"),
                );
                meta.extra.insert("level".into(), l.to_json());
            }
        }
    }
    if let Some(a) = root.get("author") {
        meta.authors = match &a.kind {
            Kind::Seq(_) => string_list(a, "author", diags),
            _ => a
                .scalar_text()
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        };
    }
    for (key, slot) in [
        ("references", &mut meta.references),
        ("tags", &mut meta.tags),
        ("falsepositives", &mut meta.false_positives),
        ("fields", &mut meta.fields),
    ] {
        if let Some(n) = root.get(key) {
            *slot = string_list(n, key, diags);
        }
    }
    if let Some(rel) = root.get("related") {
        match &rel.kind {
            Kind::Seq(items) => {
                for it in items {
                    match (
                        it.get("id").and_then(Node::scalar_text),
                        it.get("type").and_then(Node::scalar_text),
                    ) {
                        (Some(id), Some(kind)) => meta.related.push(RelatedRule { id, kind }),
                        _ => diags.push(
                            Diagnostic::warning(
                                "W-SIGMA-RELATED",
                                "a `related` entry needs `id` and `type`",
                            )
                            .at(it.pos),
                        ),
                    }
                }
            }
            Kind::Null => {}
            _ => diags.push(
                Diagnostic::warning("W-SIGMA-RELATED", "`related` must be a list").at(rel.pos),
            ),
        }
    }
    if let Some(entries) = root.as_map() {
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            if KNOWN_KEYS.contains(&key.as_str()) || key == "correlation" || key == "filter" {
                continue;
            }
            meta.extra.insert(key, v.to_json());
        }
    }
    meta
}

fn build_logsource(node: &Node, diags: &mut Vec<Diagnostic>) -> LogSource {
    let mut ls = LogSource::default();
    match &node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default();
                let val = match v.scalar_text() {
                    Some(t) => t,
                    None if v.is_null() => continue,
                    None => {
                        diags.push(
                            Diagnostic::warning(
                                "W-SIGMA-LOGSOURCE",
                                format!(
                                    "logsource `{key}` must be a string; the {} is ignored",
                                    v.type_name()
                                ),
                            )
                            .at(v.pos),
                        );
                        continue;
                    }
                };
                match key.as_str() {
                    "product" => ls.product = Some(val),
                    "category" => ls.category = Some(val),
                    "service" => ls.service = Some(val),
                    "definition" => ls.definition = Some(val),
                    _ => {
                        ls.custom.insert(key, val);
                    }
                }
            }
        }
        _ => diags
            .push(Diagnostic::error("E-SIGMA-LOGSOURCE", "`logsource` must be a map").at(node.pos)),
    }
    ls
}

fn build_rule(doc: &RawDoc, diags: &mut Vec<Diagnostic>) -> Option<Rule> {
    let root = &doc.root;
    let meta = build_meta(root, diags);
    if root.get("title").and_then(Node::scalar_text).is_none() {
        diags.push(Diagnostic::error("E-SIGMA-MISSING", "the rule has no `title`").at(root.pos));
    }
    let logsource = match root.get("logsource") {
        Some(l) => build_logsource(l, diags),
        None => {
            diags.push(
                Diagnostic::error("E-SIGMA-MISSING", "the rule has no `logsource`")
                    .at(root.pos)
                    .with_hint(
                        "every Sigma rule names its log source (product, category, service)",
                    ),
            );
            LogSource::default()
        }
    };
    let Some(det) = root.get("detection") else {
        diags
            .push(Diagnostic::error("E-SIGMA-MISSING", "the rule has no `detection`").at(root.pos));
        return None;
    };
    let expr = detection_expr(det, &["condition", "timeframe"], diags)?;
    if let Some(tf) = det.get("timeframe") {
        diags.push(
            Diagnostic::warning(
                "W-SIGMA-TIMEFRAME",
                "`timeframe` belonged to Sigma 1 aggregations and has no effect without one; ignored",
            )
            .at(tf.pos)
            .with_hint("use a correlation rule with `timespan`"),
        );
    }
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Rule {
        meta,
        logsource,
        detection: Detection::Query(EventFilter::new(expr)),
        schema: Schema::Sigma,
        format: SourceFormat::Sigma,
        language: "sigma".into(),
        original_query: None,
        provenance: provenance(doc),
    })
}

/// Build the expression of a detection-like map (a rule's `detection` or a filter's `filter`).
fn detection_expr(det: &Node, reserved: &[&str], diags: &mut Vec<Diagnostic>) -> Option<Expr> {
    let Some(entries) = det.as_map() else {
        diags.push(Diagnostic::error("E-SIGMA-DETECTION", "`detection` must be a map").at(det.pos));
        return None;
    };
    let mut idents: Vec<(String, Expr)> = Vec::new();
    let mut ok = true;
    let mut w = Warnings::default();
    for (k, v) in entries {
        let name = k.scalar_text().unwrap_or_default();
        if reserved.contains(&name.as_str()) {
            continue;
        }
        match search_expr(v, &mut w) {
            Ok(e) => idents.push((name, e)),
            Err(d) => {
                diags.push(d);
                ok = false;
            }
        }
    }
    diags.extend(w.0);
    let Some(cond) = det.get("condition") else {
        diags.push(
            Diagnostic::error("E-SIGMA-MISSING", "the detection has no `condition`").at(det.pos),
        );
        return None;
    };
    if !ok {
        return None;
    }
    let conds: Vec<&Node> = match &cond.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![cond],
    };
    if conds.is_empty() {
        diags.push(
            Diagnostic::error("E-SIGMA-CONDITION", "the condition list is empty").at(cond.pos),
        );
        return None;
    }
    let mut exprs = Vec::new();
    for c in conds {
        let Some(text) = c.as_str() else {
            diags.push(
                Diagnostic::error(
                    "E-SIGMA-CONDITION",
                    format!("a condition must be a string, not a {}", c.type_name()),
                )
                .at(c.pos),
            );
            return None;
        };
        let res = condition::parse(text).and_then(|parsed| condition::resolve(&parsed, &idents));
        match res {
            Ok(e) => exprs.push(e),
            Err(e) => {
                let mut d = Diagnostic::error(e.code, e.message).at(cond_pos(c, text, e.offset));
                if let Some(h) = e.hint {
                    d = d.with_hint(h);
                }
                diags.push(d);
                return None;
            }
        }
    }
    // A list of conditions is ORed (spec "Condition").
    Some(Expr::or(exprs))
}

/// The file position of a byte offset inside a condition scalar (exact for plain and quoted
/// one-line scalars; the scalar's own position for block scalars).
fn cond_pos(node: &Node, text: &str, offset: usize) -> Pos {
    match &node.kind {
        Kind::Str { plain: true, .. } if !text[..offset.min(text.len())].contains('\n') => {
            Pos::from_offset(text, offset).offset_by(node.pos)
        }
        Kind::Str { plain: false, .. } if !text.contains('\n') => {
            let p = Pos::from_offset(text, offset);
            Pos::new(node.pos.line, node.pos.column + p.column)
        }
        _ => node.pos,
    }
}

fn apply_filter(doc: &RawDoc, slots: &mut [Slot], diags: &mut Vec<Diagnostic>) {
    let Some(f) = doc.root.get("filter") else {
        return;
    };
    let Some(expr) = detection_expr(f, &["rules", "condition"], diags) else {
        return;
    };
    let logsource = doc.root.get("logsource").map(|l| build_logsource(l, diags));
    // `rules: any`, an empty list or no `rules` apply the filter to every rule of its log source
    // (pySigma; sigma-specification#133).
    let refs: Option<Vec<(String, Pos)>> = match f.get("rules") {
        None => None,
        Some(n) => match &n.kind {
            Kind::Seq(items) if items.is_empty() => None,
            Kind::Seq(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.scalar_text().map(|t| (t, i.pos)))
                    .collect(),
            ),
            Kind::Str { text, .. } if text == "any" => None,
            Kind::Null => None,
            _ => n.scalar_text().map(|t| vec![(t, n.pos)]),
        },
    };
    let logsource_fits = |rule: &Rule| match &logsource {
        None => true,
        Some(ls) => {
            let fit = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
            fit(&ls.product, &rule.logsource.product)
                && fit(&ls.category, &rule.logsource.category)
                && fit(&ls.service, &rule.logsource.service)
        }
    };
    match refs {
        None => {
            for s in slots.iter_mut() {
                if let Slot::Rule(r) = s {
                    if logsource_fits(r) {
                        add_filter(r, &expr);
                    }
                }
            }
        }
        Some(refs) => {
            for (r, pos) in refs {
                let mut found = false;
                for s in slots.iter_mut() {
                    match s {
                        Slot::Rule(rule) if rule_has_ref(rule, &r) => {
                            found = true;
                            if !logsource_fits(rule) {
                                diags.push(
                                    Diagnostic::warning(
                                        "W-SIGMA-FILTER-LOGSOURCE",
                                        format!("the filter's logsource differs from rule `{r}`'s; applied anyway"),
                                    )
                                    .at(pos),
                                );
                            }
                            add_filter(rule, &expr);
                        }
                        Slot::Correlation { rule, .. } if rule_has_ref(rule, &r) => {
                            found = true;
                            diags.push(
                                Diagnostic::error(
                                    "E-SIGMA-FILTER",
                                    format!(
                                        "filters apply to detection rules; `{r}` is a correlation"
                                    ),
                                )
                                .at(pos),
                            );
                        }
                        _ => {}
                    }
                }
                if !found {
                    diags.push(
                        Diagnostic::warning(
                            "W-SIGMA-FILTER-TARGET",
                            format!("the filter references `{r}`, which is not in this collection"),
                        )
                        .at(pos),
                    );
                }
            }
        }
    }
}

fn rule_has_ref(rule: &Rule, r: &str) -> bool {
    (!rule.meta.id.is_empty() && rule.meta.id == r) || rule.meta.name.as_deref() == Some(r)
}

/// pySigma's filter semantics: `(rule condition) and (filter condition)`. The spec's own example
/// reads like an exclusion, so filters meant to exclude should say `condition: not selection`.
fn add_filter(rule: &mut Rule, filter: &Expr) {
    if let Detection::Query(f) = &mut rule.detection {
        let e = std::mem::replace(&mut f.expr, Expr::Const(true));
        f.expr = Expr::and(vec![e, filter.clone()]);
    }
}

/// `<int><unit>` with s, m, h, d, w, M (30.436875 days) or y (365.2425 days), as pySigma.
pub(crate) fn parse_timespan(s: &str) -> Option<TimeSpan> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        "M" => 2_629_746,
        "y" => 31_556_952,
        _ => return None,
    };
    if n == 0 {
        return None;
    }
    n.checked_mul(secs)?
        .checked_mul(1000)
        .map(TimeSpan::from_millis)
}

type CorrelationResult = (Detection, Vec<usize>, bool);

fn build_correlation(
    node: &Node,
    slots: &[Slot],
    diags: &mut Vec<Diagnostic>,
) -> Option<CorrelationResult> {
    let err = |msg: String, pos: Pos| Diagnostic::error("E-SIGMA-CORRELATION", msg).at(pos);
    if node.as_map().is_none() {
        diags.push(err("`correlation` must be a map".into(), node.pos));
        return None;
    }
    let ty_node = node.get("type");
    let ty = ty_node.and_then(Node::scalar_text).unwrap_or_default();
    const TYPES: [&str; 8] = [
        "event_count",
        "value_count",
        "temporal",
        "temporal_ordered",
        "value_sum",
        "value_avg",
        "value_percentile",
        "value_median",
    ];
    if !TYPES.contains(&ty.as_str()) {
        let mut d = err(
            if ty.is_empty() {
                "the correlation has no `type`".into()
            } else {
                format!("unknown correlation type `{ty}`")
            },
            ty_node.map(|n| n.pos).unwrap_or(node.pos),
        );
        if let Some(s) = ruleport_model::diag::did_you_mean(&ty, TYPES) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        } else {
            d = d.with_hint(format!("correlation types: {}", TYPES.join(", ")));
        }
        diags.push(d);
        return None;
    }
    // Referenced rules.
    let refs: Vec<(String, Pos)> = match node.get("rules") {
        Some(n) => match &n.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| i.scalar_text().map(|t| (t, i.pos)))
                .collect(),
            _ => n
                .scalar_text()
                .map(|t| vec![(t, n.pos)])
                .unwrap_or_default(),
        },
        None => Vec::new(),
    };
    if refs.is_empty() {
        diags.push(err(
            "the correlation references no `rules`".into(),
            node.pos,
        ));
        return None;
    }
    let mut sources_idx = Vec::new();
    for (r, pos) in &refs {
        let found = slots.iter().position(|s| match s {
            Slot::Rule(rule) => rule_has_ref(rule, r),
            Slot::Correlation { rule, .. } => rule_has_ref(rule, r),
        });
        match found {
            Some(i) => {
                if let Slot::Correlation { .. } = &slots[i] {
                    diags.push(
                        Diagnostic::warning(
                            "W-SIGMA-CORRELATION-CHAIN",
                            format!("`{r}` is itself a correlation; chained correlations have no form in ruleport's rule model"),
                        )
                        .at(*pos),
                    );
                    return Some((
                        Detection::Unsupported(UnsupportedDetection {
                            kind: "sigma_correlation_chain".into(),
                            reason: format!("correlation over the correlation `{r}`"),
                            original: None,
                            language: Some("sigma".into()),
                        }),
                        Vec::new(),
                        false,
                    ));
                }
                sources_idx.push(i);
            }
            None => {
                diags.push(
                    err(format!("the correlation references `{r}`, which is not a rule of this collection"), *pos)
                        .with_hint("reference rules by `id` or `name`; load the files together (import_collection)"),
                );
                return None;
            }
        }
    }
    let group_by: Vec<String> = match node.get("group-by") {
        Some(n) => string_list(n, "group-by", diags),
        None => Vec::new(),
    };
    let timespan = match node.get("timespan") {
        Some(n) => {
            let t = n.scalar_text().unwrap_or_default();
            match parse_timespan(&t) {
                Some(ts) => Some(ts),
                None => {
                    diags.push(err(format!("invalid timespan `{t}`"), n.pos).with_hint(
                        "write a positive number and a unit: s, m, h, d, w, M or y (e.g. `5m`)",
                    ));
                    return None;
                }
            }
        }
        None => {
            diags.push(err("the correlation has no `timespan`".into(), node.pos));
            return None;
        }
    };
    // Aliases: alias → (rule reference → field).
    let mut aliases: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Some(a) = node.get("aliases") {
        match a.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    let alias = k.scalar_text().unwrap_or_default();
                    let Some(m) = v.as_map() else {
                        diags.push(err(
                            format!("alias `{alias}` must map rule references to field names"),
                            v.pos,
                        ));
                        return None;
                    };
                    let mut per = BTreeMap::new();
                    for (rk, rv) in m {
                        let rref = rk.scalar_text().unwrap_or_default();
                        if !refs.iter().any(|(r, _)| *r == rref) {
                            diags.push(
                                Diagnostic::warning("W-SIGMA-ALIAS", format!("alias `{alias}` names `{rref}`, which the correlation does not reference"))
                                    .at(rk.pos),
                            );
                        }
                        per.insert(rref, rv.scalar_text().unwrap_or_default());
                    }
                    aliases.insert(alias, per);
                }
            }
            None if a.is_null() => {}
            None => {
                diags.push(err("`aliases` must be a map".into(), a.pos));
                return None;
            }
        }
    }
    let generate = matches!(
        node.get("generate").map(|g| &g.kind),
        Some(Kind::Bool(true))
    );
    // Event sources.
    let mut sources = Vec::new();
    for ((r, pos), &i) in refs.iter().zip(&sources_idx) {
        let Slot::Rule(rule) = &slots[i] else {
            continue;
        };
        let Detection::Query(filter) = &rule.detection else {
            diags.push(err(
                format!("`{r}` has no single-event detection to correlate"),
                *pos,
            ));
            return None;
        };
        let mut src = EventSource::new(filter.clone());
        src.name = Some(r.clone());
        src.logsource = Some(rule.logsource.clone());
        for (alias, per) in &aliases {
            if let Some(f) = per.get(r) {
                src.aliases.insert(alias.clone(), f.clone());
            }
        }
        sources.push(src);
    }
    let cond_node = node.get("condition");
    let detection = match ty.as_str() {
        "temporal" | "temporal_ordered" => {
            let n = sources.len() as i64;
            let all_rules = match cond_node {
                None => true,
                Some(c) => match &c.kind {
                    Kind::Str { text, .. } => {
                        // pySigma's extended temporal condition: only the AND of every rule maps to the model.
                        let words: Vec<&str> = text.split_whitespace().collect();
                        let names: Vec<&str> = words
                            .iter()
                            .copied()
                            .filter(|w| !w.eq_ignore_ascii_case("and"))
                            .collect();
                        let ands = words
                            .iter()
                            .filter(|w| w.eq_ignore_ascii_case("and"))
                            .count();
                        ands + 1 == names.len()
                            && names.len() == refs.len()
                            && refs.iter().all(|(r, _)| names.contains(&r.as_str()))
                    }
                    _ => {
                        let conds = parse_agg_conditions(c, Metric::Count, diags)?;
                        // `gte: N` (or `gt: N-1`, `eq: N`) over N rules means "every rule matched".
                        conds.iter().all(|k| match k.op {
                            CmpOp::Ge | CmpOp::Eq => k.value == n,
                            CmpOp::Gt => k.value == n - 1,
                            CmpOp::Le => k.value >= n,
                            CmpOp::Lt => k.value > n,
                            CmpOp::Ne => k.value != n,
                        })
                    }
                },
            };
            if !all_rules {
                diags.push(
                    Diagnostic::warning(
                        "W-SIGMA-TEMPORAL-CONDITION",
                        "a temporal condition other than \"all referenced rules\" has no form in ruleport's rule model",
                    )
                    .at(cond_node.map(|c| c.pos).unwrap_or(node.pos)),
                );
                return Some((
                    Detection::Unsupported(UnsupportedDetection {
                        kind: "sigma_temporal_condition".into(),
                        reason: "temporal correlation whose condition is not \"every referenced rule matched\"".into(),
                        original: None,
                        language: Some("sigma".into()),
                    }),
                    sources_idx,
                    generate,
                ));
            }
            let uses_alias = group_by.iter().any(|g| aliases.contains_key(g));
            let shared: Vec<Operand> = if uses_alias {
                Vec::new()
            } else {
                group_by.iter().map(Operand::field).collect()
            };
            let steps: Vec<SeqStep> = sources
                .into_iter()
                .map(|src| {
                    let by = if uses_alias {
                        group_by
                            .iter()
                            .map(|g| {
                                Operand::field(
                                    src.aliases.get(g).cloned().unwrap_or_else(|| g.clone()),
                                )
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    SeqStep {
                        by,
                        ..SeqStep::new(src)
                    }
                })
                .collect();
            if ty == "temporal" {
                Detection::Sample(Sample {
                    by: shared,
                    window: timespan,
                    steps,
                })
            } else {
                Detection::Sequence(Sequence {
                    by: shared,
                    maxspan: timespan,
                    steps,
                    until: None,
                })
            }
        }
        _ => {
            let Some(c) = cond_node else {
                diags.push(err(
                    format!("a {ty} correlation needs a `condition`"),
                    node.pos,
                ));
                return None;
            };
            let field = c.get("field").and_then(Node::scalar_text);
            let metric = match (ty.as_str(), field) {
                ("event_count", _) => Metric::Count,
                (_, None) => {
                    diags.push(err(format!("a {ty} condition needs `field`"), c.pos));
                    return None;
                }
                ("value_count", Some(f)) => Metric::DistinctCount(f),
                ("value_sum", Some(f)) => Metric::Sum(f),
                ("value_avg", Some(f)) => Metric::Avg(f),
                ("value_median", Some(f)) => Metric::Percentile(f, 50),
                (_, Some(f)) => {
                    let p = c.get("percentile").map(|p| (p.kind.clone(), p.pos));
                    match p {
                        Some((Kind::Int(p), _)) if (0..=100).contains(&p) => {
                            Metric::Percentile(f, p as u32)
                        }
                        Some((_, pos)) => {
                            diags.push(err(
                                "`percentile` must be an integer from 0 to 100".into(),
                                pos,
                            ));
                            return None;
                        }
                        None => {
                            diags.push(err(
                                "a value_percentile condition needs `percentile`".into(),
                                c.pos,
                            ));
                            return None;
                        }
                    }
                }
            };
            let conditions = parse_agg_conditions(c, metric, diags)?;
            Detection::Aggregation(Aggregation {
                sources,
                group_by,
                window: timespan,
                window_kind: WindowKind::Sliding,
                conditions,
            })
        }
    };
    Some((detection, sources_idx, generate))
}

/// `{gte: 10}` or a range `{gt: 100, lte: 200}` (the spec's example; pySigma accepts only one).
fn parse_agg_conditions(
    c: &Node,
    metric: Metric,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<AggCondition>> {
    let Some(entries) = c.as_map() else {
        diags.push(
            Diagnostic::error(
                "E-SIGMA-CORRELATION",
                "the correlation `condition` must be a map such as `gte: 10`",
            )
            .at(c.pos),
        );
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        let op = match key.as_str() {
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Le,
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Ne,
            "field" | "percentile" => continue,
            other => {
                diags.push(
                    Diagnostic::error(
                        "E-SIGMA-CORRELATION",
                        format!("unknown condition operator `{other}`"),
                    )
                    .at(k.pos)
                    .with_hint("use gt, gte, lt, lte, eq or neq"),
                );
                return None;
            }
        };
        let value = match v.kind {
            Kind::Int(i) => i,
            Kind::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => f as i64,
            _ => {
                diags.push(
                    Diagnostic::error(
                        "E-SIGMA-CORRELATION",
                        format!(
                            "`{key}` needs an integer threshold, not `{}`",
                            v.scalar_text().unwrap_or_default()
                        ),
                    )
                    .at(v.pos),
                );
                return None;
            }
        };
        out.push(AggCondition {
            metric: metric.clone(),
            op,
            value,
        });
    }
    if out.is_empty() {
        diags.push(
            Diagnostic::error(
                "E-SIGMA-CORRELATION",
                "the correlation condition has no operator",
            )
            .at(c.pos),
        );
        return None;
    }
    Some(out)
}
