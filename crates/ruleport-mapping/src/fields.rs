//! Field-name lookup: explicit rows first, then paths below object-typed rows, then `*` patterns.

use crate::data::{kind_from_name, FieldRow, LogSourceMapping, Transform};
use crate::index::RowIndex;
use crate::Mapping;
use ruleport_model::{FieldKind, Schema};

/// One field row as seen from a log source, with whether the source has its own side for the
/// Sentinel set in use (then generic `sentinel` names of its rows do not apply).
#[derive(Clone, Copy)]
pub(crate) struct RowRef<'a> {
    pub row: &'a FieldRow,
    /// The row belongs to the log source (its `fields` or `field_sets`), not `common_fields`.
    pub own: bool,
}

/// The result of mapping one field name.
#[derive(Debug, Clone)]
pub(crate) struct FieldHit<'a> {
    pub name: String,
    pub kind: FieldKind,
    pub row: Option<&'a FieldRow>,
    /// The target field holds a path whose last segment is the source datum.
    pub transform: Option<Transform>,
}

/// A row's name under a schema key. A Sentinel set key falls back to the generic `sentinel`
/// name unless the log source has its own side for that set (its tables differ).
pub(crate) fn name_in<'a>(
    r: RowRef<'a>,
    key: &str,
    ls: Option<&LogSourceMapping>,
) -> Option<&'a str> {
    if let Some(n) = r.row.name(key) {
        return Some(n);
    }
    if key.starts_with("sentinel_") {
        if let Some(n) = r.row.name("sentinel_sets") {
            return Some(n);
        }
        let own_side = r.own && ls.is_some_and(|l| l.has_own_side(key));
        if !own_side {
            return r.row.name("sentinel");
        }
    }
    None
}

pub(crate) fn type_in<'a>(
    r: RowRef<'a>,
    key: &str,
    ls: Option<&LogSourceMapping>,
) -> Option<&'a str> {
    if let Some(t) = r.row.types.get(key).or_else(|| {
        key.starts_with("sentinel_")
            .then(|| r.row.types.get("sentinel_sets"))
            .flatten()
    }) {
        return Some(t);
    }
    if key.starts_with("sentinel_") {
        let own_side = r.own && ls.is_some_and(|l| l.has_own_side(key));
        if !own_side {
            return r.row.types.get("sentinel").map(String::as_str);
        }
    }
    None
}

fn is_object_type(t: Option<&str>) -> bool {
    matches!(t, Some("dynamic" | "object" | "flattened" | "nested"))
}

/// Match `name` against a pattern with one `*`; the captured part is never empty.
pub(crate) fn capture<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    let (pre, post) = pattern.split_once('*')?;
    if name.len() <= pre.len() + post.len() || !name.starts_with(pre) || !name.ends_with(post) {
        return None;
    }
    let cap = name.get(pre.len()..name.len() - post.len())?;
    (!cap.is_empty() && !cap.contains(char::is_whitespace)).then_some(cap)
}

impl Mapping {
    /// Rows visible from a log source: its own rows, its field sets, then common rows.
    pub(crate) fn rows_for<'a>(&'a self, ls: Option<&'a LogSourceMapping>) -> Vec<RowRef<'a>> {
        let mut out = Vec::new();
        if let Some(l) = ls {
            out.extend(l.fields.iter().map(|row| RowRef { row, own: true }));
            for set in &l.field_sets {
                if let Some(rows) = self.field_sets.get(set) {
                    out.extend(rows.iter().map(|row| RowRef { row, own: true }));
                }
            }
        }
        out.extend(self.common.iter().map(|row| RowRef { row, own: false }));
        out
    }

    /// How many of the log source's own explicit rows are named, under `key`, one of `names`.
    pub(crate) fn own_rows_named(
        &self,
        l: &LogSourceMapping,
        key: &str,
        names: &std::collections::BTreeSet<String>,
    ) -> usize {
        if let (Some(k), Some((Some(own), _))) =
            (crate::index::key_slot(key), self.row_indexes(Some(l)))
        {
            return names.iter().map(|n| own.named(k, n).len()).sum();
        }
        self.rows_for(Some(l))
            .iter()
            .filter(|r| r.own && !r.row.is_pattern())
            .filter(|r| name_in(**r, key, Some(l)).is_some_and(|n| names.contains(n)))
            .count()
    }

    /// Map one field from schema `from` to `to` within a log source. Without a row naming both,
    /// the name goes through Sigma's (`winlog.event_data.X` → `X` → `EventData.X`).
    pub(crate) fn lookup_field<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        field: &str,
        from: Schema,
        to: Schema,
    ) -> Option<FieldHit<'a>> {
        self.lookup_by_key(ls, field, self.key(from), self.key(to))
    }

    /// [`Mapping::lookup_field`] with explicit schema keys (`sentinel` for the generic side).
    /// Rows that derive the datum from a path (`transform`) are not used: a rename cannot say it.
    pub(crate) fn lookup_by_key<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        field: &str,
        fk: &str,
        tk: &str,
    ) -> Option<FieldHit<'a>> {
        self.lookup_derived(ls, field, fk, tk, false)
    }

    /// [`Mapping::lookup_by_key`] that may also return a row deriving the datum from a target
    /// path (`hit.transform`), for value tests that the caller rewrites.
    pub(crate) fn lookup_derived<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        field: &str,
        fk: &str,
        tk: &str,
        derived: bool,
    ) -> Option<FieldHit<'a>> {
        if let Some(h) = self.lookup_keys(ls, field, fk, tk, derived) {
            return Some(h);
        }
        if fk == "sigma" || tk == "sigma" {
            return None;
        }
        let via = self.lookup_keys(ls, field, fk, "sigma", derived)?;
        // At most one step may derive; a derived Sigma name is then renamed as it is.
        let next = self.lookup_keys(
            ls,
            &via.name,
            "sigma",
            tk,
            derived && via.transform.is_none(),
        )?;
        // The first step's value notes (process.args is a list) outweigh a plain rename's.
        let row = match via.row {
            Some(r) if !r.values.is_empty() || !r.value_format.is_empty() => Some(r),
            _ => next.row,
        };
        Some(FieldHit {
            transform: via.transform.or(next.transform),
            row,
            ..next
        })
    }

    pub(crate) fn lookup_keys<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        field: &str,
        fk: &str,
        tk: &str,
        derived: bool,
    ) -> Option<FieldHit<'a>> {
        match (crate::index::key_slot(fk), self.row_indexes(ls)) {
            (Some(k), Some((own, common))) => self.lookup_indexed(
                ls,
                [(own, true), (Some(common), false)],
                k,
                field,
                fk,
                tk,
                derived,
            ),
            _ => self.lookup_scan(ls, field, fk, tk, derived),
        }
    }

    /// [`Mapping::lookup_keys`] through the row indexes: the same three steps over the same rows
    /// in the same order as [`Mapping::lookup_scan`], visiting only rows that can match.
    #[allow(clippy::too_many_arguments)]
    fn lookup_indexed<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        groups: [(Option<&'a RowIndex>, bool); 2],
        k: usize,
        field: &str,
        fk: &str,
        tk: &str,
        derived: bool,
    ) -> Option<FieldHit<'a>> {
        let usable = |r: &FieldRow| {
            !r.transform.contains_key(fk) && (derived || !r.transform.contains_key(tk))
        };
        let rows = |pick: fn(&'a RowIndex) -> &'a [usize]| {
            groups.into_iter().flat_map(move |(ix, own)| {
                ix.into_iter().flat_map(move |ix| {
                    pick(ix).iter().filter_map(move |&p| {
                        let row = self.row_at(ls, *ix.rows.get(p)?)?;
                        usable(row).then_some(RowRef { row, own })
                    })
                })
            })
        };
        let kind_of = |r: RowRef<'a>| type_in(r, tk, ls).map(kind_from_name).unwrap_or_default();
        // 1. Explicit rows named `field` (the index holds them by name).
        for (ix, own) in groups {
            let Some(ix) = ix else { continue };
            for &p in ix.named(k, field) {
                let Some(row) = ix.rows.get(p).and_then(|&loc| self.row_at(ls, loc)) else {
                    continue;
                };
                if !usable(row) {
                    continue;
                }
                let r = RowRef { row, own };
                if let Some(t) = name_in(r, tk, ls) {
                    return Some(FieldHit {
                        name: t.to_string(),
                        kind: kind_of(r),
                        row: Some(r.row),
                        transform: r.row.transform.get(tk).copied(),
                    });
                }
            }
        }
        // 2. A path below an object-typed row (only a dotted name can be one).
        if field.contains('.') {
            for r in rows(|ix| &ix.objects) {
                if let Some(h) = object_path_hit(r, field, fk, tk, ls) {
                    return Some(h);
                }
            }
        }
        // 3. `*` patterns.
        for r in rows(|ix| &ix.patterns) {
            if let Some(h) = pattern_hit(r, field, fk, tk, ls, kind_of) {
                return Some(h);
            }
        }
        None
    }

    /// Field lookup by scanning every visible row (log sources the indexes do not cover).
    pub(crate) fn lookup_scan<'a>(
        &'a self,
        ls: Option<&'a LogSourceMapping>,
        field: &str,
        fk: &str,
        tk: &str,
        derived: bool,
    ) -> Option<FieldHit<'a>> {
        // A row deriving the source datum from a path never maps back; one deriving the target's
        // is used only when asked for.
        let rows: Vec<RowRef<'a>> = self
            .rows_for(ls)
            .into_iter()
            .filter(|r| {
                !r.row.transform.contains_key(fk) && (derived || !r.row.transform.contains_key(tk))
            })
            .collect();
        let kind_of = |r: RowRef<'a>| type_in(r, tk, ls).map(kind_from_name).unwrap_or_default();
        // 1. Explicit rows.
        for &r in rows.iter().filter(|r| !r.row.is_pattern()) {
            if name_in(r, fk, ls) == Some(field) {
                if let Some(t) = name_in(r, tk, ls) {
                    return Some(FieldHit {
                        name: t.to_string(),
                        kind: kind_of(r),
                        row: Some(r.row),
                        transform: r.row.transform.get(tk).copied(),
                    });
                }
            }
        }
        // 2. A path below an object-typed row keeps its tail (`InitiatedBy.user.x`).
        for &r in rows.iter().filter(|r| !r.row.is_pattern()) {
            if let Some(h) = object_path_hit(r, field, fk, tk, ls) {
                return Some(h);
            }
        }
        // 3. `*` patterns.
        for &r in rows.iter().filter(|r| r.row.is_pattern()) {
            if let Some(h) = pattern_hit(r, field, fk, tk, ls, kind_of) {
                return Some(h);
            }
        }
        None
    }
}

/// Step 2 of a lookup: `field` is a path below explicit row `r`, object-typed on either side.
fn object_path_hit<'a>(
    r: RowRef<'a>,
    field: &str,
    fk: &str,
    tk: &str,
    ls: Option<&LogSourceMapping>,
) -> Option<FieldHit<'a>> {
    if !r.row.transform.is_empty() {
        return None;
    }
    let (base, t) = (name_in(r, fk, ls)?, name_in(r, tk, ls)?);
    let (ft, tt) = (type_in(r, fk, ls), type_in(r, tk, ls));
    if !is_object_type(ft) && !is_object_type(tt) {
        return None;
    }
    let tail = field.strip_prefix(base)?.strip_prefix('.')?;
    if tail.is_empty() {
        return None;
    }
    let kind = match tt {
        Some("dynamic") => FieldKind::Dynamic,
        Some("flattened") => FieldKind::Keyword,
        _ => FieldKind::Unknown,
    };
    Some(FieldHit {
        name: format!("{t}.{tail}"),
        kind,
        row: None,
        transform: None,
    })
}

/// Step 3 of a lookup: `field` matches pattern row `r`.
fn pattern_hit<'a>(
    r: RowRef<'a>,
    field: &str,
    fk: &str,
    tk: &str,
    ls: Option<&LogSourceMapping>,
    kind_of: impl Fn(RowRef<'a>) -> FieldKind,
) -> Option<FieldHit<'a>> {
    if !r.row.transform.is_empty() {
        return None;
    }
    let (fp, tp) = (name_in(r, fk, ls)?, name_in(r, tk, ls)?);
    let cap = capture(fp, field)?;
    Some(FieldHit {
        name: tp.replacen('*', cap, 1),
        kind: kind_of(r),
        row: Some(r.row),
        transform: None,
    })
}

#[cfg(test)]
mod tests {
    use super::capture;

    #[test]
    fn captures() {
        assert_eq!(
            capture("winlog.event_data.*", "winlog.event_data.Foo"),
            Some("Foo")
        );
        assert_eq!(capture("*", "Foo"), Some("Foo"));
        assert_eq!(capture("EventData.*", "EventData."), None);
        assert_eq!(capture("a.*.b", "a.x.b"), Some("x"));
        assert_eq!(capture("*", "has space"), None);
    }
}
