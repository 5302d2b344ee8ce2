//! The mapping layer: log sources and field names across Sigma, ECS, Splunk and Sentinel, as
//! YAML data (built in, user-overridable). It turns a rule into a [`MappedRule`] for a target and
//! decides how a fixture event is seen by each target (event views).

pub mod data;
pub mod rename;
pub mod view;

use data::{kind_from_name, parse_mapping, FieldRow, LogSourceMapping, MappingFile, MatchGroup, BUILTIN};
use ruleport_model::{
    Approximation, Case, Detection, Diagnostic, Expr, FieldKind, LogSource, MappedRule, Op, Rule,
    Scalar, Schema, SourceSelection, StrPattern, Subject,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which Sentinel mapping set to use for Windows sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SentinelSet {
    /// Defender XDR `Device*` tables.
    #[default]
    Xdr,
    /// Windows `SecurityEvent` / Sysmon `Event`.
    Event,
    /// ASIM normalised tables.
    Asim,
}

impl std::str::FromStr for SentinelSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "xdr" => Ok(SentinelSet::Xdr),
            "event" => Ok(SentinelSet::Event),
            "asim" => Ok(SentinelSet::Asim),
            _ => Err(format!("unknown Sentinel mapping set `{s}`; expected xdr, event or asim")),
        }
    }
}

/// The loaded mapping data.
#[derive(Debug, Clone)]
pub struct Mapping {
    logsources: Vec<LogSourceMapping>,
    common: Vec<FieldRow>,
    pub sentinel_set: SentinelSet,
}

impl Mapping {
    /// The mappings shipped inside the binary.
    pub fn builtin() -> Mapping {
        let mut m = Mapping {
            logsources: Vec::new(),
            common: Vec::new(),
            sentinel_set: SentinelSet::default(),
        };
        for (name, text) in BUILTIN {
            // Built-in data is tested in this crate; a broken file would fail those tests.
            if let Ok(file) = parse_mapping(text, Path::new(name)) {
                m.merge(file);
            }
        }
        m
    }

    /// Built-in mappings overridden by user files: a log source with an existing id replaces it.
    pub fn with_overrides(paths: &[impl AsRef<Path>]) -> Result<Mapping, Diagnostic> {
        let mut m = Mapping::builtin();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|e| {
                Diagnostic::error("E-MAPPING-READ", format!("cannot read mapping file: {e}")).in_file(p)
            })?;
            m.merge(parse_mapping(&text, p)?);
        }
        Ok(m)
    }

    pub fn merge(&mut self, file: MappingFile) {
        for ls in file.logsources {
            if let Some(existing) = self.logsources.iter_mut().find(|x| x.id == ls.id) {
                *existing = ls;
            } else {
                self.logsources.push(ls);
            }
        }
        self.common.extend(file.common_fields);
    }

    pub fn logsources(&self) -> &[LogSourceMapping] {
        &self.logsources
    }

    pub fn logsource(&self, id: &str) -> Option<&LogSourceMapping> {
        self.logsources.iter().find(|l| l.id == id)
    }

    /// The data key of a schema (Sentinel resolves to its selected set).
    pub fn key(&self, schema: Schema) -> &'static str {
        match schema {
            Schema::Sigma => "sigma",
            Schema::Ecs => "ecs",
            Schema::Splunk => "splunk",
            Schema::Sentinel => match self.sentinel_set {
                SentinelSet::Xdr => "sentinel_xdr",
                SentinelSet::Event => "sentinel_event",
                SentinelSet::Asim => "sentinel_asim",
            },
        }
    }

    /// A field row's name for a schema key, with the Sentinel set falling back to `sentinel`.
    fn row_name<'a>(row: &'a FieldRow, key: &str) -> Option<&'a str> {
        row.name(key).or_else(|| {
            key.starts_with("sentinel_")
                .then(|| row.name("sentinel"))
                .flatten()
        })
    }

    fn row_type<'a>(row: &'a FieldRow, key: &str) -> Option<&'a str> {
        row.types.get(key).or_else(|| row.types.get("sentinel").filter(|_| key.starts_with("sentinel_"))).map(String::as_str)
    }

    /// Map one field name from schema `from` to `to` within a log source (then common fields).
    pub fn map_field(&self, ls: Option<&LogSourceMapping>, field: &str, from: Schema, to: Schema) -> Option<(String, FieldKind)> {
        let (fk, tk) = (self.key(from), self.key(to));
        let rows = ls.map(|l| l.fields.as_slice()).unwrap_or(&[]).iter().chain(self.common.iter());
        for row in rows {
            if Self::row_name(row, fk) == Some(field) {
                if let Some(t) = Self::row_name(row, tk) {
                    let kind = Self::row_type(row, tk).map(kind_from_name).unwrap_or_default();
                    return Some((t.to_string(), kind));
                }
            }
            // A path below a mapped dynamic/object field keeps its tail (`InitiatedBy.user.x`).
            if let (Some(base), Some(t)) = (Self::row_name(row, fk), Self::row_name(row, tk)) {
                if let Some(tail) = field.strip_prefix(base).and_then(|r| r.strip_prefix('.')) {
                    return Some((format!("{t}.{tail}"), FieldKind::Dynamic));
                }
            }
        }
        None
    }

    /// Find the log source of a rule (or of one of its event sources).
    pub fn resolve_logsource(&self, rule: &Rule, ls: &LogSource, filter_expr: Option<&Expr>, category: Option<&str>) -> Option<&LogSourceMapping> {
        match rule.schema {
            Schema::Sigma => self.resolve_sigma(ls),
            Schema::Ecs => {
                if let Some(e) = filter_expr {
                    let conj = top_level_literals(e);
                    for l in &self.logsources {
                        let Some(side) = l.ecs.as_ref() else { continue };
                        let Some(spec) = &side.match_spec else { continue };
                        if spec.groups().iter().any(|g| group_satisfied_by(g, &conj)) {
                            return Some(l);
                        }
                    }
                }
                if let Some(cat) = category {
                    let mut conj = BTreeMap::new();
                    conj.insert("event.category".to_string(), vec![cat.to_string()]);
                    for l in &self.logsources {
                        let Some(spec) = l.ecs.as_ref().and_then(|s| s.match_spec.as_ref()) else { continue };
                        if spec.groups().iter().any(|g| group_satisfied_by(g, &conj)) {
                            return Some(l);
                        }
                    }
                }
                // Fall back to a specific index pattern (not the catch-all `filebeat-*`).
                self.logsources.iter().find(|l| {
                    l.ecs.as_ref().is_some_and(|s| {
                        s.index.iter().any(|ix| !is_generic_index(ix) && ls.index.iter().any(|r| index_overlaps(r, ix)))
                    })
                })
            }
            _ => None,
        }
    }

    fn resolve_sigma(&self, ls: &LogSource) -> Option<&LogSourceMapping> {
        let mut best: Option<(usize, &LogSourceMapping)> = None;
        for l in &self.logsources {
            let Some(k) = &l.sigma else { continue };
            let pairs = [(&k.product, &ls.product), (&k.category, &ls.category), (&k.service, &ls.service)];
            let mut score = 0;
            let mut ok = true;
            for (want, have) in pairs {
                match (want, have) {
                    (Some(w), Some(h)) if w.eq_ignore_ascii_case(h) => score += 1,
                    (Some(_), _) => ok = false,
                    (None, Some(_)) => {}
                    (None, None) => {}
                }
            }
            // Every key the rule names must be matched by the mapping, except product when the
            // mapping is product-less (a generic category).
            let covers = [(&k.category, &ls.category), (&k.service, &ls.service)]
                .iter()
                .all(|(w, h)| h.is_none() || w.is_some());
            if ok && covers && score > 0 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, l));
            }
        }
        best.map(|(_, l)| l)
    }

    /// Build the rule as a target (whose fields are in `to`) sees it.
    pub fn map_rule(&self, rule: &Rule, to: Schema) -> MappedRule {
        if rule.schema == to {
            let mut m = MappedRule::identity(rule.clone());
            m.field_kinds = self.identity_kinds(rule, to);
            return m;
        }
        let mut approximations = Vec::new();
        let filters: Vec<_> = rule.detection.filters().into_iter().cloned().collect();
        let primary_expr = filters.first().map(|f| &f.expr);
        let primary_cat = filters.first().and_then(|f| f.category.as_deref());
        let primary = self.resolve_logsource(rule, &rule.logsource, primary_expr, primary_cat);
        if primary.is_none() && !matches!(rule.detection, Detection::Unsupported(_)) {
            approximations.push(Approximation::new(
                "unmapped-logsource",
                format!(
                    "no {} mapping for log source `{}`: the query is not scoped to its events",
                    to.name(),
                    rule.logsource.label()
                ),
            ));
        }
        let tk = self.key(to);
        let selection = primary.map(|l| self.selection(l, tk)).unwrap_or_default();

        let mut kinds = BTreeMap::new();
        let mut unmapped = BTreeSet::new();
        let mut detection = rule.detection.clone();
        // Drop conditions the target's source selection already implies, then rename fields.
        if let Some(l) = primary {
            detection = drop_implied(&detection, l, self.key(rule.schema));
        }
        let from = rule.schema;
        let mut f = |name: &str| -> String {
            match self.map_field(primary, name, from, to) {
                Some((t, k)) => {
                    if k != FieldKind::Unknown {
                        kinds.insert(t.clone(), k);
                    }
                    t
                }
                None => {
                    unmapped.insert(name.to_string());
                    name.to_string()
                }
            }
        };
        let detection = rename::rename_detection(&detection, &mut f);
        for u in &unmapped {
            approximations.push(Approximation::new(
                "unmapped-field",
                format!("field `{u}` has no {} mapping and is used as-is", to.name()),
            ));
        }
        let mut mapped_rule = rule.clone();
        mapped_rule.detection = detection;
        mapped_rule.schema = to;
        MappedRule {
            rule: mapped_rule,
            target_schema: to,
            selection,
            source_selections: Vec::new(),
            field_kinds: kinds,
            approximations,
        }
    }

    fn identity_kinds(&self, rule: &Rule, schema: Schema) -> BTreeMap<String, FieldKind> {
        let key = self.key(schema);
        let mut kinds = BTreeMap::new();
        for l in &self.logsources {
            for row in l.fields.iter().chain(self.common.iter()) {
                if let (Some(n), Some(t)) = (Self::row_name(row, key), Self::row_type(row, key)) {
                    kinds.entry(n.to_string()).or_insert_with(|| kind_from_name(t));
                }
            }
        }
        let used: BTreeSet<String> = rule.detection.filters().iter().flat_map(|f| f.expr.fields()).collect();
        kinds.retain(|k, _| used.contains(k));
        kinds
    }

    /// How the target selects a log source's events.
    pub fn selection(&self, l: &LogSourceMapping, key: &str) -> SourceSelection {
        let side = l.side(key);
        let schema_case = if key == "splunk" || key == "sigma" { Case::Insensitive } else { Case::Sensitive };
        SourceSelection {
            logsource_id: Some(l.id.clone()),
            indexes: side.map(|s| s.index.clone()).unwrap_or_default(),
            tables: side.and_then(|s| s.table.clone()).into_iter().collect(),
            condition: side
                .and_then(|s| s.match_spec.as_ref())
                .map(|spec| Expr::or(spec.groups().into_iter().map(|g| group_expr(g, schema_case)).collect())),
        }
    }
}

fn is_generic_index(ix: &str) -> bool {
    matches!(ix, "filebeat-*" | "logs-*" | "winlogbeat-*" | "auditbeat-*" | "packetbeat-*")
}

/// Whether two index patterns can name a common index (prefix comparison up to the first `*`).
fn index_overlaps(a: &str, b: &str) -> bool {
    let pa = a.split('*').next().unwrap_or("");
    let pb = b.split('*').next().unwrap_or("");
    pa.starts_with(pb) || pb.starts_with(pa)
}

/// Top-level AND conjuncts that are exact literal matches: field → allowed values.
fn top_level_literals(e: &Expr) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let conjuncts: Vec<&Expr> = match e {
        Expr::And(v) => v.iter().collect(),
        other => vec![other],
    };
    for c in conjuncts {
        if let Some((f, vals)) = literal_disjunction(c) {
            out.insert(f, vals);
        }
    }
    out
}

/// `f == a` or `f == a or f == b` (one field) as (f, [a, b]).
fn literal_disjunction(e: &Expr) -> Option<(String, Vec<String>)> {
    match e {
        Expr::Pred(p) => {
            let f = p.subject.field_name()?;
            match &p.op {
                Op::Match { pattern, .. } => Some((f.to_string(), vec![pattern.as_literal()?.to_string()])),
                Op::Eq(s) => Some((f.to_string(), vec![s.to_string()])),
                _ => None,
            }
        }
        Expr::Or(v) => {
            let mut field = None;
            let mut vals = Vec::new();
            for x in v {
                let (f, mut vs) = literal_disjunction(x)?;
                if field.get_or_insert_with(|| f.clone()) != &f {
                    return None;
                }
                vals.append(&mut vs);
            }
            Some((field?, vals))
        }
        _ => None,
    }
}

/// A match group holds when every field's literal values are among the group's values.
fn group_satisfied_by(g: &MatchGroup, conj: &BTreeMap<String, Vec<String>>) -> bool {
    g.iter().all(|(field, want)| {
        let wants: Vec<String> = want.values().iter().map(|v| yaml_text(v)).collect();
        conj.get(field).is_some_and(|have| !have.is_empty() && have.iter().all(|h| wants.contains(h)))
    })
}

pub(crate) fn yaml_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

fn group_expr(g: &MatchGroup, case: Case) -> Expr {
    Expr::and(
        g.iter()
            .map(|(field, vals)| {
                Expr::or(
                    vals.values()
                        .into_iter()
                        .map(|v| match v {
                            serde_yaml::Value::Number(n) if n.as_i64().is_some() => Expr::pred(
                                Subject::field(field.clone()),
                                Op::Eq(Scalar::Int(n.as_i64().unwrap_or_default())),
                            ),
                            other => Expr::matches(field.clone(), StrPattern::literal(yaml_text(other)), case),
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Remove top-level conjuncts (and an EQL category) that identify the log source: the target's
/// selection implies them.
fn drop_implied(d: &Detection, l: &LogSourceMapping, from_key: &str) -> Detection {
    let Some(side) = l.side(from_key) else { return d.clone() };
    let Some(spec) = side.match_spec.as_ref() else { return d.clone() };
    let implied_fields: BTreeSet<&str> = spec.groups().iter().flat_map(|g| g.keys().map(String::as_str)).collect();
    let strip = |e: &Expr| -> Expr {
        let conj = top_level_literals(e);
        if !spec.groups().iter().any(|g| group_satisfied_by(g, &conj)) {
            return e.clone();
        }
        let keep = |c: &Expr| -> bool {
            literal_disjunction(c).is_none_or(|(f, _)| !implied_fields.contains(f.as_str()))
        };
        match e {
            Expr::And(v) => Expr::and(v.iter().filter(|c| keep(c)).cloned().collect()),
            other if !keep(other) => Expr::Const(true),
            other => other.clone(),
        }
    };
    let mut out = d.clone();
    if let Detection::Query(f) = &mut out {
        f.expr = strip(&f.expr);
        if f.category.is_some() && implied_fields.contains("event.category") {
            f.category = None;
        }
    }
    out
}

#[cfg(test)]
mod tests;
