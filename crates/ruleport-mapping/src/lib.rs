//! The mapping layer: log sources and field names across Sigma, ECS, Splunk and Sentinel, as
//! YAML data (built in, user-overridable). It turns a rule into a [`MappedRule`] for a target and
//! decides how a fixture event is seen by each target (event views).
//!
//! - [`data`]: the YAML format; built-in files are listed in [`data::BUILTIN`].
//! - [`coverage`]: the share of rules whose log source and every field map to a target.
//! - [`pipeline`]: pySigma processing-pipeline YAML, applied to Sigma rules before mapping.
//! - [`view`]: event views.

mod assumed;
pub mod contradiction;
pub mod coverage;
pub mod data;
mod derive;
mod fields;
mod index;
pub mod pipeline;
pub mod rename;
mod values;
pub mod view;

pub use contradiction::source_contradiction;
pub use coverage::{CoverageReport, CoverageRow};
pub use pipeline::{load_pysigma_pipeline, Pipeline};

use data::{parse_mapping, FieldRow, LogSourceMapping, MappingFile, MatchGroup, BUILTIN};
use ruleport_model::{
    Approximation, Case, Detection, Diagnostic, EventFilter, Expr, FieldKind, LogSource,
    MappedRule, Op, Predicate, Rule, Scalar, Schema, SourceSelection, StrPattern, Subject,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which Sentinel mapping set to use for Windows sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SentinelSet {
    /// Defender XDR `Device*` tables.
    #[default]
    Xdr,
    /// Windows `SecurityEvent` / Sysmon in `WindowsEvent`.
    Event,
    /// ASIM normalised tables.
    Asim,
}

impl SentinelSet {
    pub const ALL: [SentinelSet; 3] = [SentinelSet::Xdr, SentinelSet::Event, SentinelSet::Asim];

    pub fn name(self) -> &'static str {
        match self {
            SentinelSet::Xdr => "xdr",
            SentinelSet::Event => "event",
            SentinelSet::Asim => "asim",
        }
    }
}

impl std::str::FromStr for SentinelSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "xdr" => Ok(SentinelSet::Xdr),
            "event" => Ok(SentinelSet::Event),
            "asim" => Ok(SentinelSet::Asim),
            _ => Err(format!(
                "unknown Sentinel mapping set `{s}`; expected xdr, event or asim"
            )),
        }
    }
}

/// The loaded mapping data.
#[derive(Debug, Clone)]
pub struct Mapping {
    logsources: Vec<LogSourceMapping>,
    common: Vec<FieldRow>,
    field_sets: BTreeMap<String, Vec<FieldRow>>,
    pipelines: Vec<Pipeline>,
    pub sentinel_set: SentinelSet,
    /// Lookup indexes over the data above, built lazily; shared by clones, replaced by `merge`.
    index: std::sync::Arc<index::MappingIndex>,
}

/// What mapping one rule found, for coverage reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapDetail {
    /// The log-source id every event filter resolved to (`Some("")` when nothing needed one);
    /// `None` when some filter's log source has no mapping.
    pub logsource: Option<String>,
    /// Source-schema fields with no mapping to the target.
    pub unmapped_fields: Vec<String>,
    /// How many `value-format` approximations were added.
    pub value_format: usize,
    /// The rule was already in the target schema.
    pub identity: bool,
}

/// The log source of each of a rule's event sources, and of the rule as a whole.
#[derive(Debug, Clone)]
pub struct ResolvedSources<'m> {
    per_filter: Vec<Option<&'m LogSourceMapping>>,
    primary: Option<&'m LogSourceMapping>,
}

impl Mapping {
    /// The mappings shipped inside the binary (parsed once per process).
    pub fn builtin() -> Mapping {
        static BUILT: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        BUILT.get_or_init(Mapping::parse_builtin).clone()
    }

    fn parse_builtin() -> Mapping {
        let mut m = Mapping {
            logsources: Vec::new(),
            common: Vec::new(),
            field_sets: BTreeMap::new(),
            pipelines: Vec::new(),
            sentinel_set: SentinelSet::default(),
            index: Default::default(),
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
            let text = ruleport_model::input::read_text(p)?;
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
        // A common row naming the same datum (same Sigma or ECS name) as an earlier one replaces it.
        for row in file.common_fields {
            let same = |r: &FieldRow| {
                ["sigma", "ecs"]
                    .iter()
                    .any(|k| r.name(k).is_some() && r.name(k) == row.name(k))
            };
            if let Some(existing) = self.common.iter_mut().find(|r| same(r)) {
                *existing = row;
            } else {
                self.common.push(row);
            }
        }
        for (name, rows) in file.field_sets {
            self.field_sets.insert(name, rows);
        }
        self.index = std::sync::Arc::new(index::MappingIndex::new(self.logsources.len()));
    }

    /// Add a pySigma processing pipeline, applied (in priority order) to Sigma rules before mapping.
    pub fn add_pipeline(&mut self, p: Pipeline) {
        self.pipelines.push(p);
        self.pipelines.sort_by_key(|p| p.priority);
    }

    pub fn pipelines(&self) -> &[Pipeline] {
        &self.pipelines
    }

    pub fn logsources(&self) -> &[LogSourceMapping] {
        &self.logsources
    }

    pub fn logsource(&self, id: &str) -> Option<&LogSourceMapping> {
        self.logsources.iter().find(|l| l.id == id)
    }

    /// The shared field rows of a named set.
    pub fn field_set(&self, name: &str) -> Option<&[FieldRow]> {
        self.field_sets.get(name).map(Vec::as_slice)
    }

    /// Fields shared by every log source.
    pub fn common_fields(&self) -> &[FieldRow] {
        &self.common
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

    /// Map one field name from schema `from` to `to` within a log source (then common fields).
    pub fn map_field(
        &self,
        ls: Option<&LogSourceMapping>,
        field: &str,
        from: Schema,
        to: Schema,
    ) -> Option<(String, FieldKind)> {
        self.lookup_field(ls, field, from, to)
            .map(|h| (h.name, h.kind))
    }

    /// Find the log source of a rule (or of one of its event sources).
    pub fn resolve_logsource(
        &self,
        rule: &Rule,
        ls: &LogSource,
        filter_expr: Option<&Expr>,
        category: Option<&str>,
    ) -> Option<&LogSourceMapping> {
        match rule.schema {
            Schema::Sigma => self.resolve_sigma(ls),
            Schema::Ecs => self.resolve_ecs(ls, filter_expr, category),
            _ => None,
        }
    }

    fn resolve_ecs(
        &self,
        ls: &LogSource,
        filter_expr: Option<&Expr>,
        category: Option<&str>,
    ) -> Option<&LogSourceMapping> {
        let mut conj = filter_expr.map(top_level_literals).unwrap_or_default();
        if let Some(cat) = category.filter(|c| !c.eq_ignore_ascii_case("any")) {
            conj.entry("event.category".to_string())
                .or_insert_with(|| vec![cat.to_string()]);
        }
        let used: BTreeSet<String> = filter_expr
            .map(|e| e.fields().into_iter().collect())
            .unwrap_or_default();
        // Rank: identifying conditions the rule states, a specific index pattern in common, and
        // fields the log source names explicitly. A contradicted source is never chosen.
        let mut best: Option<(usize, &LogSourceMapping)> = None;
        for l in &self.logsources {
            let Some(side) = l.ecs.as_ref() else { continue };
            let mut g = 0usize;
            let mut contradicted = false;
            if let Some(spec) = &side.match_spec {
                let scores: Vec<GroupFit> = spec
                    .groups()
                    .iter()
                    .map(|g| group_score(g, &conj))
                    .collect();
                if scores.iter().all(|s| matches!(s, GroupFit::Contradicts)) {
                    contradicted = true;
                }
                g = scores
                    .iter()
                    .filter_map(|s| {
                        if let GroupFit::Score(n) = s {
                            Some(*n)
                        } else {
                            None
                        }
                    })
                    .max()
                    .unwrap_or(0);
            }
            if contradicted {
                continue;
            }
            let idx =
                usize::from(side.index.iter().any(|ix| {
                    !is_generic_index(ix) && ls.index.iter().any(|r| index_overlaps(r, ix))
                }));
            if g == 0 && idx == 0 {
                continue;
            }
            let fh = self.own_rows_named(l, "ecs", &used);
            let rank = 2 * g + 3 * idx + 3 * fh + 2 * source_condition_fits(side, &conj);
            if best.is_none_or(|(b, _)| rank > b) {
                best = Some((rank, l));
            }
        }
        best.map(|(_, l)| l)
    }

    fn resolve_sigma(&self, ls: &LogSource) -> Option<&LogSourceMapping> {
        let mut best: Option<(usize, &LogSourceMapping)> = None;
        for l in &self.logsources {
            let Some(k) = &l.sigma else { continue };
            let pairs = [
                (&k.product, &ls.product),
                (&k.category, &ls.category),
                (&k.service, &ls.service),
            ];
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
        self.map_rule_detailed(rule, to).0
    }

    /// The log sources of a rule's event sources. They depend on the rule alone, so a rule
    /// mapped to several schemas ([`Mapping::map_rule_with`]) resolves them once.
    pub fn resolve_sources<'m>(&'m self, rule: &Rule) -> ResolvedSources<'m> {
        let filters = rule.detection.filters();
        let own_ls = rename::filter_logsources(&rule.detection);
        let per_filter: Vec<Option<&LogSourceMapping>> = filters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let ls = own_ls.get(i).copied().flatten().unwrap_or(&rule.logsource);
                self.resolve_logsource(rule, ls, Some(&f.expr), f.category.as_deref())
            })
            .collect();
        let primary = match per_filter.first() {
            Some(p) => *p,
            None => self.resolve_logsource(rule, &rule.logsource, None, None),
        };
        ResolvedSources {
            per_filter,
            primary,
        }
    }

    /// [`Mapping::map_rule`] with the rule's log sources already resolved (by
    /// [`Mapping::resolve_sources`] on the same rule).
    pub fn map_rule_with(
        &self,
        rule: &Rule,
        to: Schema,
        sources: &ResolvedSources<'_>,
    ) -> MappedRule {
        self.map_rule_detailed_with(rule, to, Some(sources)).0
    }

    /// [`Mapping::map_rule`] plus what coverage needs: the log source found and unmapped fields.
    ///
    /// For Sentinel, a log source's table in the selected set is preferred; when the rule names
    /// fields that table lacks and the source's generic table (Sysmon in `WindowsEvent`…) has
    /// them all, the generic table is used instead.
    pub fn map_rule_detailed(&self, rule: &Rule, to: Schema) -> (MappedRule, MapDetail) {
        self.map_rule_detailed_with(rule, to, None)
    }

    fn map_rule_detailed_with(
        &self,
        rule: &Rule,
        to: Schema,
        sources: Option<&ResolvedSources<'_>>,
    ) -> (MappedRule, MapDetail) {
        let tk = self.key(to);
        let first = self.map_with_key(rule, to, tk, sources);
        if to != Schema::Sentinel
            || first.1.unmapped_fields.is_empty()
            || first.1.logsource.is_none()
        {
            return first;
        }
        let second = self.map_with_key(rule, to, "sentinel", sources);
        if second.1.logsource.is_some()
            && second.1.unmapped_fields.len() < first.1.unmapped_fields.len()
        {
            second
        } else {
            first
        }
    }

    fn map_with_key(
        &self,
        rule: &Rule,
        to: Schema,
        tk: &'static str,
        sources: Option<&ResolvedSources<'_>>,
    ) -> (MappedRule, MapDetail) {
        let mut approximations = Vec::new();
        let (rule_owned, pipeline_fields) = self.apply_pipelines(rule, to, &mut approximations);
        // Sources resolved for the rule as given do not hold once a pipeline has rewritten it.
        let sources = match rule_owned {
            std::borrow::Cow::Borrowed(_) => sources,
            std::borrow::Cow::Owned(_) => None,
        };
        let rule: &Rule = &rule_owned;
        let mut detail = MapDetail::default();
        if rule.schema == to {
            let mut m = MappedRule::identity(rule.clone());
            m.field_kinds = self.identity_kinds(rule, to);
            m.approximations = approximations;
            detail.logsource = Some(String::new());
            detail.identity = true;
            return (m, detail);
        }
        let from = rule.schema;
        let fk = self.key(from);
        let fresh;
        let sources = match sources {
            Some(s) => s,
            None => {
                fresh = self.resolve_sources(rule);
                &fresh
            }
        };
        let filters = rule.detection.filters();
        let resolved = sources.per_filter.clone();
        let primary = sources.primary;
        // A log source without a side for the target cannot be selected there. Sigma selects a
        // source by its product/category/service keys.
        let has_side = |l: &&LogSourceMapping| {
            if to == Schema::Sigma {
                l.sigma.is_some()
            } else {
                l.side(tk).is_some()
            }
        };
        let resolved: Vec<Option<&LogSourceMapping>> =
            resolved.into_iter().map(|l| l.filter(has_side)).collect();
        let primary = primary.filter(has_side);
        let has_logic = !matches!(rule.detection, Detection::Unsupported(_));
        if has_logic && (primary.is_none() || resolved.iter().any(Option::is_none)) {
            approximations.push(Approximation::new(
                "unmapped-logsource",
                format!(
                    "no {} mapping for log source `{}`: the query is not scoped to its events",
                    to.name(),
                    rule.logsource.label()
                ),
            ));
        }
        detail.logsource = if has_logic && resolved.iter().any(Option::is_none) {
            None
        } else {
            primary
                .map(|l| l.id.clone())
                .or_else(|| (!has_logic).then(String::new))
        };
        let select = |l: &LogSourceMapping| {
            if to == Schema::Sigma {
                // Sigma names the source in `logsource`, not with extra conditions.
                SourceSelection {
                    logsource_id: Some(l.id.clone()),
                    ..Default::default()
                }
            } else {
                self.selection(l, tk)
            }
        };
        let selection = primary.map(select).unwrap_or_default();
        let selections: Vec<SourceSelection> = resolved
            .iter()
            .map(|l| l.map(select).unwrap_or_default())
            .collect();
        let source_selections =
            if selections.len() > 1 && selections.iter().any(|s| *s != selection) {
                selections
            } else {
                Vec::new()
            };

        let mut ctx = MapCtx {
            mapping: self,
            to,
            fk,
            tk,
            ls: primary,
            pipeline_fields: &pipeline_fields,
            kinds: BTreeMap::new(),
            unmapped: BTreeSet::new(),
            approximations: Vec::new(),
            lookups: Vec::new(),
        };
        let detection = {
            let ctx_cell = std::cell::RefCell::new(&mut ctx);
            let mut filter_fn = |i: usize, f: &ruleport_model::EventFilter| {
                let ls = resolved.get(i).copied().flatten();
                let mut out = f.clone();
                let assumed = match ls {
                    Some(l) => {
                        let mut notes = strip_implied(&mut out, l, fk);
                        notes.extend(assumed::strip_assumed(&mut out, l, fk));
                        // `f.expr` is the filter before stripping.
                        notes.extend(assumed::unselected_notes(&f.expr, &out.expr, l, tk));
                        notes
                    }
                    None => Vec::new(),
                };
                let mut c = ctx_cell.borrow_mut();
                c.approximations.extend(assumed);
                let saved = c.ls;
                c.ls = ls;
                // An EQL category the source's rows translate (Windows Security: event ids) is
                // tested like any other field instead of being left to the target's selection.
                if let Some(cat) = out.category.clone() {
                    if c.to != Schema::Ecs
                        && c.lookup("event.category", false)
                            .is_some_and(|h| h.row.is_some())
                    {
                        out.expr = Expr::and(vec![
                            Expr::matches(
                                "event.category",
                                StrPattern::literal(cat),
                                Case::Sensitive,
                            ),
                            std::mem::replace(&mut out.expr, Expr::Const(true)),
                        ]);
                        out.category = None;
                    }
                }
                out.expr = c.map_expr(std::mem::replace(&mut out.expr, Expr::Const(true)), 0);
                c.ls = saved;
                out
            };
            // A name read from one filter's events is mapped through that filter's source.
            let mut name_fn = |i: Option<usize>, n: &str| {
                let mut c = ctx_cell.borrow_mut();
                let saved = c.ls;
                if let Some(i) = i {
                    c.ls = resolved.get(i).copied().flatten().or(saved);
                }
                let out = c.key_name(n);
                c.ls = saved;
                out
            };
            rename::map_filters(&rule.detection, &mut filter_fn, &mut name_fn)
        };
        approximations.extend(merged_fields(self, &filters, &resolved, rule.schema, to));
        for u in &ctx.unmapped {
            approximations.push(Approximation::new(
                "unmapped-field",
                format!("field `{u}` has no {} mapping and is used as-is", to.name()),
            ));
        }
        detail.value_format = ctx
            .approximations
            .iter()
            .filter(|a| a.code == "value-format")
            .count();
        approximations.extend(ctx.approximations);
        detail.unmapped_fields = ctx.unmapped.iter().cloned().collect();
        // Every part but the detection, which is already mapped (no copy of the original).
        let mut mapped_rule = Rule {
            meta: rule.meta.clone(),
            logsource: rule.logsource.clone(),
            detection,
            schema: to,
            format: rule.format,
            language: rule.language.clone(),
            original_query: rule.original_query.clone(),
            provenance: rule.provenance.clone(),
        };
        // The target's own way of naming the log source.
        if let Some(l) = primary {
            match to {
                Schema::Sigma => {
                    if let Some(k) = &l.sigma {
                        mapped_rule.logsource = LogSource {
                            product: k.product.clone(),
                            category: k.category.clone(),
                            service: k.service.clone(),
                            ..Default::default()
                        };
                    }
                }
                Schema::Ecs if mapped_rule.logsource.index.is_empty() => {
                    if let Some(side) = &l.ecs {
                        mapped_rule.logsource.index = side.index.clone();
                    }
                }
                _ => {}
            }
        }
        let mapped = MappedRule {
            rule: mapped_rule,
            target_schema: to,
            selection,
            source_selections,
            field_kinds: ctx.kinds,
            approximations,
        };
        (mapped, detail)
    }

    fn identity_kinds(&self, rule: &Rule, schema: Schema) -> BTreeMap<String, FieldKind> {
        let key = self.key(schema);
        let used: BTreeSet<String> = rule
            .detection
            .filters()
            .iter()
            .flat_map(|f| f.expr.fields())
            .collect();
        let Some(all) = self.kinds_by_name(key) else {
            return BTreeMap::new();
        };
        used.into_iter()
            .filter_map(|f| all.get(&f).map(|k| (f, *k)))
            .collect()
    }

    /// How the target selects a log source's events.
    pub fn selection(&self, l: &LogSourceMapping, key: &str) -> SourceSelection {
        let side = l.side(key);
        let schema_case = if key == "splunk" || key == "sigma" {
            Case::Insensitive
        } else {
            Case::Sensitive
        };
        SourceSelection {
            logsource_id: Some(l.id.clone()),
            indexes: side.map(|s| s.index.clone()).unwrap_or_default(),
            tables: side.and_then(|s| s.table.clone()).into_iter().collect(),
            condition: side.and_then(|s| s.match_spec.as_ref()).map(|spec| {
                Expr::or(
                    spec.groups()
                        .into_iter()
                        .map(|g| group_expr(g, schema_case))
                        .collect(),
                )
            }),
        }
    }

    fn apply_pipelines<'r>(
        &self,
        rule: &'r Rule,
        to: Schema,
        approximations: &mut Vec<Approximation>,
    ) -> (std::borrow::Cow<'r, Rule>, BTreeSet<String>) {
        // Borrowed until a pipeline changes it: most rules are mapped without a copy.
        let mut out = std::borrow::Cow::Borrowed(rule);
        let mut produced = BTreeSet::new();
        if rule.schema != Schema::Sigma {
            return (out, produced);
        }
        for p in self.pipelines.iter().filter(|p| p.applies_to(to)) {
            match p.apply(&out) {
                Ok(applied) => {
                    out = std::borrow::Cow::Owned(applied.rule);
                    produced.extend(applied.mapped_fields);
                }
                Err(e) => approximations.push(Approximation::new(
                    "pipeline-error",
                    format!("pipeline `{}` could not be applied: {}", p.name, e.message),
                )),
            }
        }
        (out, produced)
    }
}

/// State while mapping one rule's expressions.
struct MapCtx<'a> {
    mapping: &'a Mapping,
    to: Schema,
    fk: &'static str,
    tk: &'static str,
    ls: Option<&'a LogSourceMapping>,
    pipeline_fields: &'a BTreeSet<String>,
    kinds: BTreeMap<String, FieldKind>,
    unmapped: BTreeSet<String>,
    approximations: Vec<Approximation>,
    /// Field lookups already made: a value list repeats one field per value.
    lookups: Vec<CachedLookup<'a>>,
}

/// One field lookup of a [`MapCtx`]: log source (by address), derived rows allowed, name.
struct CachedLookup<'a> {
    ls: Option<&'a LogSourceMapping>,
    derived: bool,
    name: String,
    hit: Option<fields::FieldHit<'a>>,
}

/// How many distinct lookups a [`MapCtx`] remembers (a linear search stays cheap below it).
const LOOKUP_CACHE: usize = 32;

/// Expressions deeper than this are kept as they are (callers bound depth before us).
const MAX_DEPTH: usize = 512;

impl<'a> MapCtx<'a> {
    /// [`Mapping::lookup_derived`] in the current log source, remembered per name.
    fn lookup(&mut self, name: &str, derived: bool) -> Option<fields::FieldHit<'a>> {
        let ls = self.ls;
        let same_ls = |c: &CachedLookup<'a>| match (c.ls, ls) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if let Some(c) = self
            .lookups
            .iter()
            .find(|c| same_ls(c) && c.derived == derived && c.name == name)
        {
            return c.hit.clone();
        }
        let hit = self
            .mapping
            .lookup_derived(self.ls, name, self.fk, self.tk, derived);
        if self.lookups.len() < LOOKUP_CACHE {
            self.lookups.push(CachedLookup {
                ls,
                derived,
                name: name.to_string(),
                hit: hit.clone(),
            });
        }
        hit
    }

    fn hit(&mut self, name: &str) -> (String, Option<&'a FieldRow>) {
        if self.pipeline_fields.contains(name) {
            return (name.to_string(), None);
        }
        match self.lookup(name, false) {
            Some(h) => {
                if h.kind != FieldKind::Unknown {
                    self.kinds.insert(h.name.clone(), h.kind);
                }
                (h.name, h.row)
            }
            None => {
                self.unmapped.insert(name.to_string());
                (name.to_string(), None)
            }
        }
    }

    fn name(&mut self, name: &str) -> String {
        self.hit(name).0
    }

    /// A join key, group-by or new-terms field: renamed, with the row's `key_note` for the
    /// target as a `join-key-identity` approximation.
    fn key_name(&mut self, name: &str) -> String {
        let (target, row) = self.hit(name);
        if let Some(note) = row.and_then(|r| r.key_note_for(self.tk)) {
            let a = Approximation::new(
                "join-key-identity",
                format!(
                    "`{name}` → `{target}` ({}): {}",
                    self.to.name(),
                    note.reason
                ),
            );
            if !self.approximations.contains(&a) {
                self.approximations.push(a);
            }
        }
        target
    }

    /// The expression in the target schema. It takes the filter's own copy, so predicates that
    /// only change names are rewritten in place.
    fn map_expr(&mut self, e: Expr, depth: usize) -> Expr {
        if depth > MAX_DEPTH {
            return e;
        }
        match e {
            Expr::And(v) => Expr::and(v.into_iter().map(|x| self.map_expr(x, depth + 1)).collect()),
            Expr::Or(v) => Expr::or(v.into_iter().map(|x| self.map_expr(x, depth + 1)).collect()),
            Expr::Not(x) => Expr::not(self.map_expr(*x, depth + 1)),
            Expr::Const(b) => Expr::Const(b),
            Expr::Nested { path, inner } => {
                let new_path = self.name(&path);
                let prefix = format!("{path}.");
                let new_prefix = format!("{new_path}.");
                let mut inner_f = |n: &str| {
                    let mapped = self.name(&format!("{prefix}{n}"));
                    mapped
                        .strip_prefix(&new_prefix)
                        .map(str::to_string)
                        .unwrap_or(mapped)
                };
                Expr::Nested {
                    path: new_path,
                    inner: Box::new(rename::rename_expr(&inner, &mut inner_f)),
                }
            }
            Expr::Pred(p) => self.map_pred(p),
        }
    }

    /// A value test on a datum the target derives from a path (`process.name` from `Image`),
    /// rewritten over that path; `None` when no such row applies.
    fn derived_pred(&mut self, p: &Predicate, name: &str) -> Option<Expr> {
        if self.pipeline_fields.contains(name) {
            return None;
        }
        let h = self.lookup(name, true)?;
        let t = h.transform?;
        match derive::rewrite(p, &h.name, t, h.row, self.fk) {
            Some(e) => {
                if h.kind != FieldKind::Unknown {
                    self.kinds.insert(h.name.clone(), h.kind);
                }
                if let Some(a) = h
                    .row
                    .and_then(|r| derive::derived_note(r, name, &h.name, self.tk, self.to))
                {
                    self.approximations.push(a);
                }
                Some(e)
            }
            None => {
                self.unmapped.insert(name.to_string());
                Some(Expr::Pred(p.clone()))
            }
        }
    }

    fn map_pred(&mut self, p: Predicate) -> Expr {
        if let Subject::Field { name, .. } = &p.subject {
            if let Some(e) = self.derived_pred(&p, name) {
                return e;
            }
        }
        let Predicate { subject, op } = p;
        let (subject, row, source_field) = match subject {
            Subject::Field { name, optional } => {
                let (n, row) = self.hit(&name);
                (Subject::Field { name: n, optional }, row, Some(name))
            }
            Subject::Keyword => (Subject::Keyword, None, None),
            Subject::Computed(o) => {
                let mut f = |n: &str| self.name(n);
                (
                    Subject::Computed(rename::rename_operand(&o, &mut f)),
                    None,
                    None,
                )
            }
        };
        let op = match op {
            Op::FieldRef { other, kind, case } => Op::FieldRef {
                other: self.name(&other),
                kind,
                case,
            },
            other => other,
        };
        let mapped = Predicate { subject, op };
        match row {
            Some(row) => values::map_values(
                mapped,
                row,
                self.fk,
                self.tk,
                source_field.as_deref().unwrap_or_default(),
                self.to,
                &mut self.approximations,
            ),
            None => Expr::Pred(mapped),
        }
    }
}

fn is_generic_index(ix: &str) -> bool {
    matches!(
        ix,
        "filebeat-*"
            | "logs-*"
            | "winlogbeat-*"
            | "auditbeat-*"
            | "packetbeat-*"
            | "endgame-*"
            | "logs-endpoint.events.*"
    )
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
    literal_disjunction_at(e, 0)
}

fn literal_disjunction_at(e: &Expr, depth: usize) -> Option<(String, Vec<String>)> {
    if depth > MAX_DEPTH {
        return None;
    }
    match e {
        Expr::Pred(p) => {
            let f = p.subject.field_name()?;
            match &p.op {
                Op::Match { pattern, .. } => {
                    Some((f.to_string(), vec![pattern.as_literal()?.to_string()]))
                }
                Op::Eq(s) => Some((f.to_string(), vec![s.to_string()])),
                _ => None,
            }
        }
        Expr::Or(v) => {
            let mut field = None;
            let mut vals = Vec::new();
            for x in v {
                let (f, mut vs) = literal_disjunction_at(x, depth + 1)?;
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

/// Fields that identify a log source on their own (a group must match one of them).
const PRIMARY_ECS_FIELDS: [&str; 9] = [
    "Channel",
    "EventID",
    "event.category",
    "event.dataset",
    "data_stream.dataset",
    "event.code",
    "winlog.channel",
    "event.module",
    "event.provider",
];

/// How a rule's literal conjuncts fit a match group.
enum GroupFit {
    /// A conjunct allows only values the group excludes.
    Contradicts,
    /// No identifying field of the group is stated by the rule.
    Silent,
    /// This many group fields are stated with allowed values.
    Score(usize),
}

fn group_score(g: &MatchGroup, conj: &BTreeMap<String, Vec<String>>) -> GroupFit {
    let mut score = 0;
    let mut primary = false;
    for (field, want) in g {
        let Some(have) = conj.get(field) else {
            continue;
        };
        if have.is_empty() || !have.iter().all(|h| match_value_allows(want, h)) {
            return GroupFit::Contradicts;
        }
        score += 1;
        primary |= PRIMARY_ECS_FIELDS.contains(&field.as_str());
    }
    if primary {
        GroupFit::Score(score)
    } else {
        GroupFit::Silent
    }
}

/// Whether one of a match value's values is `h` as text, ignoring ASCII case (strings are
/// compared in place; other values through [`yaml_text`]).
fn match_value_allows(want: &data::MatchValue, h: &str) -> bool {
    let one = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::String(s) => s.eq_ignore_ascii_case(h),
        other => yaml_text(other).eq_ignore_ascii_case(h),
    };
    match want {
        data::MatchValue::One(serde_yaml::Value::Sequence(v)) | data::MatchValue::Many(v) => {
            v.iter().any(one)
        }
        data::MatchValue::One(v) => one(v),
    }
}

pub(crate) fn yaml_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
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
                            serde_yaml::Value::Bool(b) => {
                                Expr::pred(Subject::field(field.clone()), Op::Eq(Scalar::Bool(*b)))
                            }
                            other => Expr::matches(
                                field.clone(),
                                StrPattern::literal(yaml_text(other)),
                                case,
                            ),
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Remove top-level conjuncts (and an EQL category) that identify the log source: the target's
/// selection implies them. Only conjuncts of a group the filter satisfies are removed, and
/// conjuncts stating only values the side lists as `implied`.
fn strip_implied(f: &mut EventFilter, l: &LogSourceMapping, from_key: &str) -> Vec<Approximation> {
    let Some(side) = l.side(from_key) else {
        return Vec::new();
    };
    let mut conj = top_level_literals(&f.expr);
    if let Some(cat) = &f.category {
        conj.entry("event.category".to_string())
            .or_insert_with(|| vec![cat.clone()]);
    }
    // The group the filter fits best; its stated conjuncts follow from the target's selection.
    let mut best: Option<(usize, &MatchGroup)> = None;
    for g in side.match_spec.iter().flat_map(|s| s.groups()) {
        if let GroupFit::Score(n) = group_score(g, &conj) {
            if best.is_none_or(|(b, _)| n > b) {
                best = Some((n, g));
            }
        }
    }
    let best = best.map(|(_, g)| g);
    if best.is_none() && side.implied.is_none() && side.match_spec.is_none() {
        return Vec::new();
    }
    // A conjunct follows from the selection when every value the selection admits is one the
    // conjunct allows (`EventID in (12, 13)` does not follow from a source of 12, 13 and 14).
    // Implied values are synonyms for one kind of event, so any of them states it.
    let implied = |c: &Expr| -> bool {
        literal_disjunction(c).is_some_and(|(field, vals)| {
            best.is_some_and(|g| group_within(g, &field, &vals))
                || side
                    .implied
                    .as_ref()
                    .is_some_and(|g| group_allows(g, &field, &vals))
        })
    };
    // A conjunct naming an implied value and others (`event.action in (exec, fork)` on a
    // source of process starts) also holds for every event of the source; the events its
    // other values name are not in the source, which the port says.
    let mut notes = Vec::new();
    let mut partly_implied = |c: &Expr| -> bool {
        let Some((field, vals)) = literal_disjunction(c) else {
            return false;
        };
        let Some(group) = side.implied.as_ref() else {
            return false;
        };
        let (held, missing): (Vec<String>, Vec<String>) = vals
            .into_iter()
            .partition(|v| group_allows(group, &field, std::slice::from_ref(v)));
        if held.is_empty() || missing.is_empty() {
            return false;
        }
        notes.push(Approximation::new(
            "unrecorded-events",
            format!(
                "`{field}: {}` is not tested: log source `{}` records only `{}` events, not `{}` ones",
                held.iter().chain(&missing).cloned().collect::<Vec<_>>().join(" or "),
                l.id,
                held.join(" or "),
                missing.join(" or ")
            ),
        ));
        true
    };
    // A disjunction holds for every event of the source when one of its branches does
    // (`data_stream.dataset: network_traffic.flow or event.category: network` on firewall logs).
    let groups: Vec<&MatchGroup> = side.match_spec.iter().flat_map(|s| s.groups()).collect();
    // The branch that holds for every event of the source, as `field: values`.
    let implied_branch = |c: &Expr| -> Option<String> {
        let Expr::Or(items) = c else { return None };
        // `a: (x or y) or b: z` arrives flattened: regroup the branches by field.
        let mut by_field: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for x in items {
            if let Some((f, vs)) = literal_disjunction(x) {
                by_field.entry(f).or_default().extend(vs);
            }
        }
        // One field's values are a plain conjunct, left to `implied` for Sigma, whose log
        // source already scopes the rule; an Elastic rule naming several datasets
        // (`data_stream.dataset: (azure.signinlogs or o365.audit)`) reads only the source.
        if by_field.len() < 2 && from_key != "ecs" {
            return None;
        }
        by_field.into_iter().find_map(|(f, vals)| {
            // Groups naming other fields are other spellings of the source (event.dataset
            // for data_stream.dataset); every group naming this field must admit only `vals`.
            let naming: Vec<&&MatchGroup> = groups.iter().filter(|g| g.contains_key(&f)).collect();
            let holds = (!naming.is_empty() && naming.iter().all(|g| group_within(g, &f, &vals)))
                || side
                    .implied
                    .as_ref()
                    .is_some_and(|g| group_allows(g, &f, &vals));
            holds.then(|| format!("{f}: {}", vals.join(" or ")))
        })
    };
    let mut branch_notes = Vec::new();
    let mut branch_implied = |c: &Expr| match implied_branch(c) {
        Some(branch) => {
            branch_notes.push(Approximation::new(
                "other-branches-unread",
                format!(
                    "a disjunction is not tested: its branch `{branch}` holds for every event of log source `{}`, which is all the port reads; events its other branches name elsewhere are not read",
                    l.id
                ),
            ));
            true
        }
        None => false,
    };
    let mut drop = |c: &Expr| implied(c) || partly_implied(c) || branch_implied(c);
    f.expr = match &f.expr {
        Expr::And(v) => Expr::and(v.iter().filter(|c| !drop(c)).cloned().collect()),
        other if drop(other) => Expr::Const(true),
        other => other.clone(),
    };
    if f.category.is_some() && best.is_some_and(|g| g.contains_key("event.category")) {
        f.category = None;
    }
    // Every event of the source has the category (the github pipeline files all under
    // `configuration`).
    if let (Some(cat), Some(g)) = (&f.category, side.implied.as_ref()) {
        if group_allows(g, "event.category", std::slice::from_ref(cat)) {
            f.category = None;
        }
    }
    notes.extend(branch_notes);
    notes
}

/// Whether a group names `field` and allows every one of `vals` (case-insensitive).
fn group_allows(g: &MatchGroup, field: &str, vals: &[String]) -> bool {
    g.get(field).is_some_and(|want| {
        let wants: Vec<String> = want.values().iter().map(|v| yaml_text(v)).collect();
        !vals.is_empty()
            && vals
                .iter()
                .all(|v| wants.iter().any(|w| w.eq_ignore_ascii_case(v)))
    })
}

/// Distinct source fields of one event filter that become the same target field: an event has
/// one value there, so a rule testing both fields for different values cannot be kept as written.
fn merged_fields(
    m: &Mapping,
    filters: &[&ruleport_model::EventFilter],
    resolved: &[Option<&LogSourceMapping>],
    from: Schema,
    to: Schema,
) -> Vec<Approximation> {
    let mut out = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let ls = resolved.get(i).copied().flatten();
        let mut by_target: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for field in f.expr.fields() {
            if let Some((name, _)) = m.map_field(ls, &field, from, to) {
                by_target.entry(name).or_default().insert(field);
            }
        }
        for (target, sources) in by_target.into_iter().filter(|(_, s)| s.len() > 1) {
            let names: Vec<String> = sources.iter().map(|s| format!("`{s}`")).collect();
            out.push(Approximation::new(
                "fields-merged",
                format!(
                    "{} all become {} `{target}`: where the rule tests them for different values, no {} event can hold both",
                    names.join(", "),
                    to.name(),
                    to.name()
                ),
            ));
        }
    }
    out
}

/// Whether a group names `field` and every value it admits is one of `vals` (case-insensitive).
fn group_within(g: &MatchGroup, field: &str, vals: &[String]) -> bool {
    g.get(field).is_some_and(|want| {
        let wants: Vec<String> = want.values().iter().map(|v| yaml_text(v)).collect();
        !wants.is_empty()
            && wants
                .iter()
                .all(|w| vals.iter().any(|v| w.eq_ignore_ascii_case(v)))
    })
}

/// How many of a side's implied or assumed fields that its match groups do not name the rule
/// states with values the side allows.
fn source_condition_fits(side: &data::SchemaSide, conj: &BTreeMap<String, Vec<String>>) -> usize {
    let in_groups = |f: &str| {
        side.match_spec
            .iter()
            .flat_map(|s| s.groups())
            .any(|g| g.contains_key(f))
    };
    // Conditions every event of the source meets, whether its documents state them (`implied`)
    // or not (`assumed`): a rule stating one is evidence for the source.
    let fits = |f: &str, vals: &Vec<String>, g: Option<&MatchGroup>| {
        g.is_some_and(|g| group_allows(g, f, vals))
    };
    conj.iter()
        .filter(|(f, vals)| {
            !in_groups(f)
                && (fits(f, vals, side.implied.as_ref()) || fits(f, vals, side.assumed.as_ref()))
        })
        .count()
}

#[cfg(test)]
mod tests;
