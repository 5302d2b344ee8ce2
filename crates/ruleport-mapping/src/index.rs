//! Lookup indexes over the field rows, built lazily per log source (issue 11: the linear row
//! scan per field lookup dominated conversion profiles). They only speed up lookups: every
//! lookup still applies the same checks, in the same row order, as the plain scan in `fields`.

use crate::data::{kind_from_name, FieldRow, LogSourceMapping, SCHEMA_KEYS};
use crate::fields::{name_in, type_in, RowRef};
use crate::Mapping;
use ruleport_model::FieldKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Where a row visible from a log source lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowLoc {
    /// `fields[i]` of the log source.
    Own(usize),
    /// Row `i` of the log source's `field_sets[k]`.
    Set(usize, usize),
    /// `common_fields[i]`.
    Common(usize),
}

/// The rows of one group (a log source's own rows, or the common rows), in lookup order.
#[derive(Default)]
pub(crate) struct RowIndex {
    pub(crate) rows: Vec<RowLoc>,
    /// Per schema key (position in `SCHEMA_KEYS`): name → positions in `rows` of the explicit
    /// (non-pattern) rows with that name under the key, in order.
    by_name: Vec<HashMap<String, Vec<usize>>>,
    /// Explicit rows with an object type under some key (candidates for paths below them).
    pub(crate) objects: Vec<usize>,
    /// `*` pattern rows, in order.
    pub(crate) patterns: Vec<usize>,
}

impl RowIndex {
    fn build<'a>(
        rows: Vec<RowLoc>,
        resolve: impl Fn(RowLoc) -> Option<&'a FieldRow>,
        own: bool,
        ls: Option<&LogSourceMapping>,
    ) -> RowIndex {
        let mut ix = RowIndex {
            by_name: vec![HashMap::new(); SCHEMA_KEYS.len()],
            ..Default::default()
        };
        for (p, &loc) in rows.iter().enumerate() {
            let Some(row) = resolve(loc) else { continue };
            if row.is_pattern() {
                ix.patterns.push(p);
                continue;
            }
            if row.types.values().any(|t| is_object_type(t)) {
                ix.objects.push(p);
            }
            let r = RowRef { row, own };
            for (k, key) in SCHEMA_KEYS.iter().enumerate() {
                if let Some(n) = name_in(r, key, ls) {
                    ix.by_name[k].entry(n.to_string()).or_default().push(p);
                }
            }
        }
        ix.rows = rows;
        ix
    }

    /// Positions of the explicit rows named `name` under schema key `k`.
    pub(crate) fn named(&self, k: usize, name: &str) -> &[usize] {
        self.by_name
            .get(k)
            .and_then(|m| m.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

fn is_object_type(t: &str) -> bool {
    matches!(t, "dynamic" | "object" | "flattened" | "nested")
}

/// Every index of one `Mapping`'s data; replaced whenever the data changes (`merge`).
#[derive(Default)]
pub(crate) struct MappingIndex {
    common: OnceLock<RowIndex>,
    /// One per log source, in `Mapping::logsources` order.
    per_ls: Vec<OnceLock<RowIndex>>,
    /// Per schema key: every explicit row's name → its kind, first row wins (identity mapping).
    kinds: Vec<OnceLock<BTreeMap<String, FieldKind>>>,
}

impl std::fmt::Debug for MappingIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingIndex").finish_non_exhaustive()
    }
}

impl MappingIndex {
    pub(crate) fn new(logsources: usize) -> MappingIndex {
        MappingIndex {
            common: OnceLock::new(),
            per_ls: (0..logsources).map(|_| OnceLock::new()).collect(),
            kinds: (0..SCHEMA_KEYS.len()).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// The position of a schema key in `SCHEMA_KEYS`.
pub(crate) fn key_slot(key: &str) -> Option<usize> {
    SCHEMA_KEYS.iter().position(|k| *k == key)
}

impl Mapping {
    /// The position of `l` in `self.logsources`, if it is one of them (by address).
    fn ls_slot(&self, l: &LogSourceMapping) -> Option<usize> {
        let size = std::mem::size_of::<LogSourceMapping>().max(1);
        let base = self.logsources.as_ptr() as usize;
        let off = (l as *const LogSourceMapping as usize).checked_sub(base)?;
        let i = off / size;
        (off % size == 0 && self.logsources.get(i).is_some_and(|x| std::ptr::eq(x, l))).then_some(i)
    }

    /// The row at `loc` as seen from `ls`.
    pub(crate) fn row_at<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        loc: RowLoc,
    ) -> Option<&'a FieldRow> {
        match loc {
            RowLoc::Own(i) => ls?.fields.get(i),
            RowLoc::Set(k, i) => self.field_sets.get(ls?.field_sets.get(k)?)?.get(i),
            RowLoc::Common(i) => self.common.get(i),
        }
    }

    /// The indexes for a lookup from `ls`: its own rows (none without a log source) and the
    /// common rows. `None` when the index does not cover `ls` (a log source from elsewhere).
    pub(crate) fn row_indexes<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
    ) -> Option<(Option<&'a RowIndex>, &'a RowIndex)> {
        if self.index.per_ls.len() != self.logsources.len() {
            return None;
        }
        let own = match ls {
            None => None,
            Some(l) => {
                let slot = self.ls_slot(l)?;
                Some(self.index.per_ls.get(slot)?.get_or_init(|| {
                    let mut rows: Vec<RowLoc> = (0..l.fields.len()).map(RowLoc::Own).collect();
                    for (k, set) in l.field_sets.iter().enumerate() {
                        if let Some(set_rows) = self.field_sets.get(set) {
                            rows.extend((0..set_rows.len()).map(|i| RowLoc::Set(k, i)));
                        }
                    }
                    RowIndex::build(rows, |loc| self.row_at(Some(l), loc), true, Some(l))
                }))
            }
        };
        let common = self.index.common.get_or_init(|| {
            let rows = (0..self.common.len()).map(RowLoc::Common).collect();
            RowIndex::build(rows, |loc| self.row_at(None, loc), false, None)
        });
        Some((own, common))
    }

    /// Every explicit row's name under `key` in any log source → its kind (first row wins), the
    /// table `identity_kinds` filters by the rule's fields.
    pub(crate) fn kinds_by_name(&self, key: &str) -> Option<&BTreeMap<String, FieldKind>> {
        let slot = key_slot(key)?;
        Some(self.index.kinds.get(slot)?.get_or_init(|| {
            let mut kinds = BTreeMap::new();
            for l in &self.logsources {
                for r in self.rows_for(Some(l)) {
                    if r.row.is_pattern() {
                        continue;
                    }
                    if let (Some(n), Some(t)) = (name_in(r, key, Some(l)), type_in(r, key, Some(l)))
                    {
                        kinds
                            .entry(n.to_string())
                            .or_insert_with(|| kind_from_name(t));
                    }
                }
            }
            kinds
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::data::SCHEMA_KEYS;
    use crate::fields::FieldHit;
    use crate::Mapping;
    use std::collections::BTreeSet;

    fn same(a: &Option<FieldHit<'_>>, b: &Option<FieldHit<'_>>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.name == b.name
                    && a.kind == b.kind
                    && a.transform == b.transform
                    && match (a.row, b.row) {
                        (None, None) => true,
                        (Some(x), Some(y)) => std::ptr::eq(x, y),
                        _ => false,
                    }
            }
            _ => false,
        }
    }

    /// The indexed lookup returns exactly what scanning every row returns, for every log source,
    /// every pair of schema keys, every name the data holds, paths below them and `*` captures.
    #[test]
    fn indexed_lookup_equals_scan() {
        let m = Mapping::builtin();
        let mut sources: Vec<Option<&crate::data::LogSourceMapping>> = vec![None];
        sources.extend(m.logsources().iter().map(Some));
        let mut checked = 0usize;
        for &ls in &sources {
            assert!(
                m.row_indexes(ls).is_some(),
                "built-in log sources are indexed"
            );
            let rows = m.rows_for(ls);
            for fk in SCHEMA_KEYS {
                let mut names: BTreeSet<String> =
                    ["Foo", "EventData.Foo", "winlog.event_data.Foo", "a b", ""]
                        .into_iter()
                        .map(String::from)
                        .collect();
                for r in rows.iter().filter(|r| r.own || ls.is_none()) {
                    if let Some(n) = crate::fields::name_in(*r, fk, ls) {
                        names.insert(n.replace('*', "Xyz"));
                        names.insert(format!("{n}.tail"));
                        names.insert(n.to_string());
                    }
                }
                for tk in SCHEMA_KEYS {
                    if tk == fk {
                        continue;
                    }
                    for name in &names {
                        for derived in [false, true] {
                            let a = m.lookup_keys(ls, name, fk, tk, derived);
                            let b = m.lookup_scan(ls, name, fk, tk, derived);
                            assert!(
                                same(&a, &b),
                                "{:?} {name} {fk}->{tk} derived={derived}: {a:?} vs {b:?}",
                                ls.map(|l| &l.id)
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    /// A log source that is not one of the mapping's own is looked up by scanning.
    #[test]
    fn foreign_log_source_falls_back_to_scan() {
        let m = Mapping::builtin();
        let Some(own) = m.logsources().iter().find(|l| !l.fields.is_empty()) else {
            return;
        };
        let foreign = own.clone();
        assert!(m.row_indexes(Some(&foreign)).is_none());
        for r in &own.fields {
            if let (Some(s), false) = (r.name("sigma"), r.is_pattern()) {
                let a = m.lookup_keys(Some(&foreign), s, "sigma", "ecs", false);
                let b = m.lookup_keys(Some(own), s, "sigma", "ecs", false);
                // Same answer; the row is the foreign copy's, so compare it by value.
                assert_eq!(
                    a.as_ref().map(|h| (&h.name, h.kind, h.transform, h.row)),
                    b.as_ref().map(|h| (&h.name, h.kind, h.transform, h.row))
                );
            }
        }
    }
}
