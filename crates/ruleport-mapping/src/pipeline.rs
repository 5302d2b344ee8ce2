//! pySigma processing pipelines (YAML), applied to Sigma rules before mapping.
//!
//! Supported transformations: `field_name_mapping` (one field to several means OR),
//! `field_name_prefix_mapping`, `field_name_prefix`, `field_name_suffix`, `add_condition`,
//! `change_logsource`, `drop_detection_item`, `replace_string` and `value_placeholders` (with
//! the pipeline's `vars`). Rule conditions: `logsource`, `contains_detection_item`,
//! `contains_field`, `tag`, combined with `rule_cond_op` / `rule_cond_not`. Field-name conditions:
//! `include_fields`, `exclude_fields`, with `field_name_cond_op` / `field_name_cond_not`.
//! Anything else is a diagnostic naming it, never silently ignored.
//!
//! Field names a pipeline writes are the target's own names: mapping keeps them as they are.

use crate::rename;
use ruleport_model::{
    Case, Detection, Diagnostic, EventFilter, Expr, LogSource, Op, Piece, Pos, Predicate, Rule,
    Scalar, Schema, StrPattern, Subject,
};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A loaded processing pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    /// Lower priorities apply first (pySigma convention).
    pub priority: i64,
    pub vars: BTreeMap<String, Vec<String>>,
    /// Target schemas the pipeline is meant for (`allowed_backends`); empty means any.
    pub targets: Vec<Schema>,
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
struct Item {
    id: Option<String>,
    transform: Transform,
    rule_conds: Vec<RuleCond>,
    rule_or: bool,
    rule_not: bool,
    field_conds: Vec<FieldCond>,
    field_or: bool,
    field_not: bool,
}

#[derive(Debug, Clone)]
enum Transform {
    FieldNameMapping(BTreeMap<String, Vec<String>>),
    FieldNamePrefixMapping(BTreeMap<String, String>),
    FieldNamePrefix(String),
    FieldNameSuffix(String),
    AddCondition {
        conditions: Vec<(String, Vec<Value>)>,
        negated: bool,
    },
    ChangeLogsource {
        product: Option<String>,
        category: Option<String>,
        service: Option<String>,
    },
    DropDetectionItem,
    ReplaceString {
        regex: regex::Regex,
        replacement: String,
    },
    ValuePlaceholders {
        include: Option<Vec<String>>,
        exclude: Vec<String>,
    },
}

#[derive(Debug, Clone)]
enum RuleCond {
    Logsource {
        product: Option<String>,
        category: Option<String>,
        service: Option<String>,
    },
    ContainsDetectionItem {
        field: String,
        value: Option<String>,
    },
    ContainsField(String),
    Tag(String),
}

#[derive(Debug, Clone)]
enum FieldCond {
    Include(Vec<String>),
    Exclude(Vec<String>),
}

/// A rule after a pipeline, with the field names the pipeline produced.
#[derive(Debug, Clone)]
pub struct Applied {
    pub rule: Rule,
    pub mapped_fields: BTreeSet<String>,
}

/// Upper bound on values a placeholder expansion may produce for one pattern.
const MAX_EXPANSION: usize = 4096;

/// Parse a pySigma processing-pipeline YAML file.
pub fn load_pysigma_pipeline(text: &str, path: &Path) -> Result<Pipeline, Diagnostic> {
    let err = |code: &str, msg: String, needle: Option<&str>| {
        let pos = needle
            .and_then(|n| text.find(n))
            .map(|o| Pos::from_offset(text, o));
        Diagnostic::error(code, msg).in_file(path).at_opt(pos)
    };
    // Alias expansion and nesting are bounded before serde copies anything.
    ruleport_model::yaml_budget::check_yaml_budget(text, "E-PIPELINE-YAML")
        .map_err(|d| d.in_file(path))?;
    let doc: Value = serde_yaml::from_str(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(l.line() as u32, l.column() as u32));
        Diagnostic::error("E-PIPELINE-YAML", format!("invalid pipeline YAML: {e}"))
            .in_file(path)
            .at_opt(pos)
    })?;
    let Value::Mapping(root) = &doc else {
        return Err(err(
            "E-PIPELINE-YAML",
            "a pipeline must be a YAML mapping".into(),
            None,
        ));
    };
    for stage in ["postprocessing", "finalizers"] {
        if root
            .get(stage)
            .and_then(Value::as_sequence)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(err(
                "E-PIPELINE-UNSUPPORTED",
                format!("pipeline `{stage}` items rewrite query text and are not supported"),
                Some(stage),
            ));
        }
    }
    let name = root
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("pipeline")
        .to_string();
    let priority = root.get("priority").and_then(Value::as_i64).unwrap_or(0);
    let mut vars = BTreeMap::new();
    if let Some(Value::Mapping(v)) = root.get("vars") {
        for (k, val) in v {
            let Some(k) = k.as_str() else { continue };
            vars.insert(k.to_string(), scalars(val));
        }
    }
    let mut targets = Vec::new();
    if let Some(Value::Sequence(b)) = root.get("allowed_backends") {
        for x in b.iter().filter_map(Value::as_str) {
            if let Some(s) = backend_schema(x) {
                if !targets.contains(&s) {
                    targets.push(s);
                }
            }
        }
    }
    let mut items = Vec::new();
    let trans = match root.get("transformations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(s)) => s.clone(),
        Some(_) => {
            return Err(err(
                "E-PIPELINE-YAML",
                "`transformations` must be a list".into(),
                Some("transformations"),
            ))
        }
    };
    for t in &trans {
        items.push(parse_item(t, &err)?);
    }
    Ok(Pipeline {
        name,
        priority,
        vars,
        targets,
        items,
    })
}

fn backend_schema(b: &str) -> Option<Schema> {
    match b.to_ascii_lowercase().as_str() {
        "splunk" => Some(Schema::Splunk),
        "lucene" | "elasticsearch" | "eql" | "esql" | "elastalert" | "kibana" | "opensearch" => {
            Some(Schema::Ecs)
        }
        "kusto"
        | "sentinel"
        | "microsoft365defender"
        | "microsoft_xdr"
        | "azure_monitor"
        | "sentinel_asim" => Some(Schema::Sentinel),
        _ => None,
    }
}

fn scalars(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn opt_str(m: &serde_yaml::Mapping, k: &str) -> Option<String> {
    m.get(k).and_then(scalar_text)
}

fn parse_item(
    t: &Value,
    err: &dyn Fn(&str, String, Option<&str>) -> Diagnostic,
) -> Result<Item, Diagnostic> {
    let Value::Mapping(m) = t else {
        return Err(err(
            "E-PIPELINE-YAML",
            "a transformation must be a mapping".into(),
            None,
        ));
    };
    let Some(ty) = m.get("type").and_then(Value::as_str) else {
        return Err(err(
            "E-PIPELINE-YAML",
            "a transformation needs a `type`".into(),
            None,
        ));
    };
    let needle = format!("type: {ty}");
    let bad = |msg: String| err("E-PIPELINE-YAML", msg, Some(&needle));
    let transform = match ty {
        "field_name_mapping" => {
            let Some(Value::Mapping(map)) = m.get("mapping") else {
                return Err(bad("field_name_mapping needs a `mapping`".into()));
            };
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let (Some(k), vals) = (scalar_text(k), scalars(v)) else {
                    continue;
                };
                if vals.is_empty() {
                    return Err(bad(format!("field_name_mapping of `{k}` names no field")));
                }
                out.insert(k, vals);
            }
            Transform::FieldNameMapping(out)
        }
        "field_name_prefix_mapping" => {
            let Some(Value::Mapping(map)) = m.get("mapping") else {
                return Err(bad("field_name_prefix_mapping needs a `mapping`".into()));
            };
            Transform::FieldNamePrefixMapping(
                map.iter()
                    .filter_map(|(k, v)| Some((scalar_text(k)?, scalar_text(v)?)))
                    .collect(),
            )
        }
        "field_name_prefix" => Transform::FieldNamePrefix(
            opt_str(m, "prefix").ok_or_else(|| bad("field_name_prefix needs a `prefix`".into()))?,
        ),
        "field_name_suffix" => Transform::FieldNameSuffix(
            opt_str(m, "suffix").ok_or_else(|| bad("field_name_suffix needs a `suffix`".into()))?,
        ),
        "add_condition" => {
            if m.get("template").and_then(Value::as_bool) == Some(true) {
                return Err(err(
                    "E-PIPELINE-UNSUPPORTED",
                    "add_condition with `template: true` is not supported".into(),
                    Some(&needle),
                ));
            }
            let Some(Value::Mapping(c)) = m.get("conditions") else {
                return Err(bad("add_condition needs `conditions`".into()));
            };
            let conditions = c
                .iter()
                .filter_map(|(k, v)| {
                    let vals = match v {
                        Value::Sequence(s) => s.clone(),
                        other => vec![other.clone()],
                    };
                    Some((scalar_text(k)?, vals))
                })
                .collect();
            Transform::AddCondition {
                conditions,
                negated: m.get("negated").and_then(Value::as_bool).unwrap_or(false),
            }
        }
        "change_logsource" => Transform::ChangeLogsource {
            product: opt_str(m, "product"),
            category: opt_str(m, "category"),
            service: opt_str(m, "service"),
        },
        "drop_detection_item" => Transform::DropDetectionItem,
        "replace_string" => {
            let re =
                opt_str(m, "regex").ok_or_else(|| bad("replace_string needs a `regex`".into()))?;
            // Pipeline files are untrusted: the same program and DFA limits as rule regexes.
            let regex = regex::RegexBuilder::new(&re)
                .size_limit(ruleport_model::matching::REGEX_SIZE_LIMIT)
                .dfa_size_limit(ruleport_model::matching::REGEX_DFA_LIMIT)
                .build()
                .map_err(|e| bad(format!("invalid replace_string regex: {e}")))?;
            let replacement = python_replacement(&opt_str(m, "replacement").unwrap_or_default());
            Transform::ReplaceString { regex, replacement }
        }
        "value_placeholders" => Transform::ValuePlaceholders {
            include: m.get("include").map(scalars),
            exclude: m.get("exclude").map(scalars).unwrap_or_default(),
        },
        other => {
            return Err(err(
                "E-PIPELINE-UNSUPPORTED",
                format!("pySigma transformation type `{other}` is not supported"),
                Some(&needle),
            ))
        }
    };
    for key in [
        "detection_item_conditions",
        "rule_cond_expr",
        "field_name_cond_expr",
        "detection_item_cond_expr",
    ] {
        if m.get(key).is_some_and(|v| {
            !matches!(v, Value::Null) && v.as_sequence().is_none_or(|s| !s.is_empty())
        }) {
            return Err(err(
                "E-PIPELINE-UNSUPPORTED",
                format!("`{key}` is not supported (transformation `{ty}`)"),
                Some(key),
            ));
        }
    }
    let mut rule_conds = Vec::new();
    for c in m
        .get("rule_conditions")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        rule_conds.push(parse_rule_cond(c, err)?);
    }
    let mut field_conds = Vec::new();
    for c in m
        .get("field_name_conditions")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        field_conds.push(parse_field_cond(c, err)?);
    }
    Ok(Item {
        id: opt_str(m, "id"),
        transform,
        rule_conds,
        rule_or: m.get("rule_cond_op").and_then(Value::as_str) == Some("or"),
        rule_not: m
            .get("rule_cond_not")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        field_conds,
        field_or: m.get("field_name_cond_op").and_then(Value::as_str) == Some("or"),
        field_not: m
            .get("field_name_cond_not")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Python `re.sub` group references (`\1`, `\g<1>`) in Rust's `${1}` form; `$` is literal.
fn python_replacement(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('g') => {
                    chars.next();
                    let mut name = String::new();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        for x in chars.by_ref() {
                            if x == '>' {
                                break;
                            }
                            name.push(x);
                        }
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

fn parse_rule_cond(
    c: &Value,
    err: &dyn Fn(&str, String, Option<&str>) -> Diagnostic,
) -> Result<RuleCond, Diagnostic> {
    let Value::Mapping(m) = c else {
        return Err(err(
            "E-PIPELINE-YAML",
            "a rule condition must be a mapping".into(),
            None,
        ));
    };
    let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
    Ok(match ty {
        "logsource" => RuleCond::Logsource {
            product: opt_str(m, "product"),
            category: opt_str(m, "category"),
            service: opt_str(m, "service"),
        },
        "contains_detection_item" => RuleCond::ContainsDetectionItem {
            field: opt_str(m, "field").ok_or_else(|| {
                err(
                    "E-PIPELINE-YAML",
                    "contains_detection_item needs a `field`".into(),
                    Some("contains_detection_item"),
                )
            })?,
            value: opt_str(m, "value"),
        },
        "contains_field" => RuleCond::ContainsField(opt_str(m, "field").ok_or_else(|| {
            err(
                "E-PIPELINE-YAML",
                "contains_field needs a `field`".into(),
                Some("contains_field"),
            )
        })?),
        "tag" => RuleCond::Tag(opt_str(m, "tag").unwrap_or_default()),
        other => {
            return Err(err(
                "E-PIPELINE-UNSUPPORTED",
                format!("pySigma rule condition type `{other}` is not supported"),
                Some(&format!("type: {other}")),
            ))
        }
    })
}

fn parse_field_cond(
    c: &Value,
    err: &dyn Fn(&str, String, Option<&str>) -> Diagnostic,
) -> Result<FieldCond, Diagnostic> {
    let Value::Mapping(m) = c else {
        return Err(err(
            "E-PIPELINE-YAML",
            "a field-name condition must be a mapping".into(),
            None,
        ));
    };
    let fields = m.get("fields").map(scalars).unwrap_or_default();
    match m.get("type").and_then(Value::as_str).unwrap_or("") {
        "include_fields" => Ok(FieldCond::Include(fields)),
        "exclude_fields" => Ok(FieldCond::Exclude(fields)),
        other => Err(err(
            "E-PIPELINE-UNSUPPORTED",
            format!("pySigma field-name condition type `{other}` is not supported"),
            Some(&format!("type: {other}")),
        )),
    }
}

/// A Sigma string value: `*` and `?` are wildcards, `\` escapes them and itself.
fn sigma_pattern(s: &str) -> StrPattern {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                if let Some(n) = chars.next() {
                    lit.push(n);
                }
            }
            '*' | '?' => {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                pieces.push(if c == '*' {
                    Piece::AnyChars
                } else {
                    Piece::OneChar
                });
            }
            other => lit.push(other),
        }
    }
    pieces.push(Piece::Lit(lit));
    StrPattern::new(pieces)
}

fn logsource_matches(want: &[&Option<String>; 3], ls: &LogSource) -> bool {
    let have = [&ls.product, &ls.category, &ls.service];
    want.iter().zip(have).all(|(w, h)| match (w, h) {
        (None, _) => true,
        (Some(w), Some(h)) => w.eq_ignore_ascii_case(h),
        (Some(_), None) => false,
    })
}

impl Item {
    fn rule_applies(&self, rule: &Rule) -> bool {
        if self.rule_conds.is_empty() {
            return !self.rule_not;
        }
        let eval = |c: &RuleCond| -> bool {
            match c {
                RuleCond::Logsource {
                    product,
                    category,
                    service,
                } => logsource_matches(&[product, category, service], &rule.logsource),
                RuleCond::ContainsField(f) => rule_fields(rule).contains(f),
                RuleCond::ContainsDetectionItem { field, value } => {
                    rule.detection.filters().iter().any(|flt| {
                        let mut found = false;
                        flt.expr.for_each_pred(&mut |p| {
                            if p.subject.field_name() == Some(field.as_str()) {
                                found |= match value {
                                    None => true,
                                    Some(v) => match &p.op {
                                        Op::Match { pattern, .. } => pattern
                                            .as_literal()
                                            .is_some_and(|l| l.eq_ignore_ascii_case(v)),
                                        Op::Eq(s) => s.to_string().eq_ignore_ascii_case(v),
                                        _ => false,
                                    },
                                };
                            }
                        });
                        found
                    })
                }
                RuleCond::Tag(t) => rule.meta.tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
            }
        };
        let r = if self.rule_or {
            self.rule_conds.iter().any(eval)
        } else {
            self.rule_conds.iter().all(eval)
        };
        r != self.rule_not
    }

    fn field_applies(&self, field: &str) -> bool {
        if self.field_conds.is_empty() {
            return !self.field_not;
        }
        let eval = |c: &FieldCond| match c {
            FieldCond::Include(fs) => fs.iter().any(|f| f == field),
            FieldCond::Exclude(fs) => !fs.iter().any(|f| f == field),
        };
        let r = if self.field_or {
            self.field_conds.iter().any(eval)
        } else {
            self.field_conds.iter().all(eval)
        };
        r != self.field_not
    }

    /// The new name(s) of a field under a field-name transformation, if it applies.
    fn rename(&self, field: &str) -> Option<Vec<String>> {
        if !self.field_applies(field) {
            return None;
        }
        match &self.transform {
            Transform::FieldNameMapping(m) => m.get(field).cloned(),
            Transform::FieldNamePrefixMapping(m) => m
                .iter()
                .find(|(p, _)| field.starts_with(p.as_str()))
                .map(|(p, n)| vec![format!("{n}{}", &field[p.len()..])]),
            Transform::FieldNamePrefix(p) => Some(vec![format!("{p}{field}")]),
            Transform::FieldNameSuffix(s) => Some(vec![format!("{field}{s}")]),
            _ => None,
        }
    }
}

fn rule_fields(rule: &Rule) -> BTreeSet<String> {
    rule.detection
        .filters()
        .iter()
        .flat_map(|f| f.expr.fields())
        .collect()
}

impl Pipeline {
    /// Whether the pipeline is meant for a target schema.
    pub fn applies_to(&self, to: Schema) -> bool {
        self.targets.is_empty() || self.targets.contains(&to)
    }

    /// Apply every item whose conditions hold, in order.
    pub fn apply(&self, rule: &Rule) -> Result<Applied, Diagnostic> {
        let mut rule = rule.clone();
        let mut mapped = BTreeSet::new();
        for item in &self.items {
            if !item.rule_applies(&rule) {
                continue;
            }
            self.apply_item(item, &mut rule, &mut mapped)?;
        }
        Ok(Applied {
            rule,
            mapped_fields: mapped,
        })
    }

    fn apply_item(
        &self,
        item: &Item,
        rule: &mut Rule,
        mapped: &mut BTreeSet<String>,
    ) -> Result<(), Diagnostic> {
        let id = item.id.clone().unwrap_or_default();
        match &item.transform {
            Transform::FieldNameMapping(_)
            | Transform::FieldNamePrefixMapping(_)
            | Transform::FieldNamePrefix(_)
            | Transform::FieldNameSuffix(_) => {
                let mut produced = BTreeSet::new();
                let mut pred_fn = |p: &Predicate| -> Expr {
                    let Some(name) = p.subject.field_name() else {
                        return Expr::Pred(p.clone());
                    };
                    match item.rename(name) {
                        Some(names) => Expr::or(
                            names
                                .into_iter()
                                .map(|n| {
                                    produced.insert(n.clone());
                                    let mut q = p.clone();
                                    if let Subject::Field { name, .. } = &mut q.subject {
                                        *name = n;
                                    }
                                    Expr::Pred(q)
                                })
                                .collect(),
                        ),
                        None => Expr::Pred(p.clone()),
                    }
                };
                let mut filter_fn = |_: usize, f: &EventFilter| EventFilter {
                    category: f.category.clone(),
                    expr: f.expr.map_preds(&mut pred_fn),
                };
                let mut name_fn = |_: Option<usize>, n: &str| {
                    item.rename(n)
                        .and_then(|v| v.into_iter().next())
                        .unwrap_or_else(|| n.to_string())
                };
                rule.detection = rename::map_filters(&rule.detection, &mut filter_fn, &mut name_fn);
                mapped.extend(produced);
            }
            Transform::AddCondition {
                conditions,
                negated,
            } => {
                let mut parts = Vec::new();
                for (field, vals) in conditions {
                    parts.push(Expr::or(
                        vals.iter().map(|v| condition_value(field, v)).collect(),
                    ));
                }
                let cond = if *negated {
                    Expr::not(Expr::and(parts))
                } else {
                    Expr::and(parts)
                };
                for_each_filter(rule, |f| {
                    f.expr = Expr::and(vec![cond.clone(), f.expr.clone()])
                });
            }
            Transform::ChangeLogsource {
                product,
                category,
                service,
            } => {
                if product.is_some() || category.is_some() || service.is_some() {
                    rule.logsource.product = product.clone();
                    rule.logsource.category = category.clone();
                    rule.logsource.service = service.clone();
                }
            }
            Transform::DropDetectionItem => {
                for_each_filter(rule, |f| {
                    f.expr = f.expr.map_preds(&mut |p| match p.subject.field_name() {
                        Some(n) if item.field_applies(n) => Expr::Const(true),
                        _ => Expr::Pred(p.clone()),
                    });
                });
            }
            Transform::ReplaceString { regex, replacement } => {
                for_each_filter(rule, |f| {
                    f.expr = f.expr.map_preds(&mut |p| {
                        let applies = p.subject.field_name().is_none_or(|n| item.field_applies(n));
                        match &p.op {
                            Op::Match { pattern, case } if applies => {
                                let pattern = pattern.map_literals(|s| {
                                    regex.replace_all(s, replacement.as_str()).into_owned()
                                });
                                Expr::pred(
                                    p.subject.clone(),
                                    Op::Match {
                                        pattern,
                                        case: *case,
                                    },
                                )
                            }
                            _ => Expr::Pred(p.clone()),
                        }
                    });
                });
            }
            Transform::ValuePlaceholders { include, exclude } => {
                let mut failure = None;
                for_each_filter(rule, |f| {
                    f.expr = f.expr.map_preds(&mut |p| {
                        let applies = p.subject.field_name().is_none_or(|n| item.field_applies(n));
                        match &p.op {
                            Op::Match { pattern, case }
                                if applies && pattern.has_placeholders() =>
                            {
                                match self.expand(pattern, include.as_deref(), exclude) {
                                    Ok(pats) => Expr::or(
                                        pats.into_iter()
                                            .map(|pattern| {
                                                Expr::pred(
                                                    p.subject.clone(),
                                                    Op::Match {
                                                        pattern,
                                                        case: *case,
                                                    },
                                                )
                                            })
                                            .collect(),
                                    ),
                                    Err(e) => {
                                        failure.get_or_insert(e);
                                        Expr::Pred(p.clone())
                                    }
                                }
                            }
                            _ => Expr::Pred(p.clone()),
                        }
                    });
                });
                if let Some(msg) = failure {
                    return Err(Diagnostic::error("E-PIPELINE-PLACEHOLDER", msg)
                        .for_rule(rule.meta.id.clone())
                        .with_hint(format!(
                            "define it under `vars:` in pipeline `{}` (item `{id}`)",
                            self.name
                        )));
                }
            }
        }
        Ok(())
    }

    /// Replace placeholders by every combination of their `vars` values.
    fn expand(
        &self,
        pattern: &StrPattern,
        include: Option<&[String]>,
        exclude: &[String],
    ) -> Result<Vec<StrPattern>, String> {
        let mut outs: Vec<Vec<Piece>> = vec![Vec::new()];
        for piece in pattern.pieces() {
            match piece {
                Piece::Placeholder(name)
                    if include.is_none_or(|i| i.iter().any(|x| x == name))
                        && !exclude.iter().any(|x| x == name) =>
                {
                    let Some(vals) = self.vars.get(name) else {
                        return Err(format!(
                            "placeholder `%{name}%` has no value in the pipeline's vars"
                        ));
                    };
                    if outs.len().saturating_mul(vals.len()) > MAX_EXPANSION {
                        return Err(format!(
                            "placeholder `%{name}%` expands to more than {MAX_EXPANSION} values"
                        ));
                    }
                    outs = outs
                        .into_iter()
                        .flat_map(|prefix| {
                            vals.iter().map(move |v| {
                                let mut p = prefix.clone();
                                p.extend(sigma_pattern(v).pieces().iter().cloned());
                                p
                            })
                        })
                        .collect();
                }
                other => outs.iter_mut().for_each(|o| o.push(other.clone())),
            }
        }
        Ok(outs.into_iter().map(StrPattern::new).collect())
    }
}

fn for_each_filter(rule: &mut Rule, mut f: impl FnMut(&mut EventFilter)) {
    match &mut rule.detection {
        Detection::Query(flt) => f(flt),
        Detection::Sequence(s) => {
            s.steps.iter_mut().for_each(|st| f(&mut st.source.filter));
            if let Some(u) = &mut s.until {
                f(&mut u.source.filter);
            }
        }
        Detection::Sample(s) => s.steps.iter_mut().for_each(|st| f(&mut st.source.filter)),
        Detection::Aggregation(a) => a.sources.iter_mut().for_each(|s| f(&mut s.filter)),
        Detection::NewTerms(n) => f(&mut n.filter),
        Detection::Unsupported(_) => {}
    }
}

/// One `add_condition` value as Sigma reads it: a case-insensitive string with wildcards, a
/// number or boolean, or null (the field is absent).
fn condition_value(field: &str, v: &Value) -> Expr {
    match v {
        Value::Null => Expr::not(Expr::exists(field)),
        Value::Bool(b) => Expr::pred(Subject::field(field), Op::Eq(Scalar::Bool(*b))),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Expr::pred(Subject::field(field), Op::Eq(Scalar::Int(i))),
            None => Expr::pred(
                Subject::field(field),
                Op::Eq(Scalar::Float(n.as_f64().unwrap_or_default())),
            ),
        },
        other => Expr::matches(
            field,
            sigma_pattern(&scalar_text(other).unwrap_or_default()),
            Case::Insensitive,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_strings() {
        assert_eq!(sigma_pattern("*\\cmd.exe"), StrPattern::suffix("\\cmd.exe"));
        assert_eq!(sigma_pattern("a\\*b"), StrPattern::literal("a*b"));
        assert_eq!(
            sigma_pattern("x?"),
            StrPattern::new([Piece::Lit("x".into()), Piece::OneChar])
        );
    }

    #[test]
    fn replacements() {
        assert_eq!(python_replacement(r"\1-\g<name>$"), "${1}-${name}$$");
    }
}
