//! Events as JSON documents, with the field lookup the reference semantics use.

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

/// An event: a JSON object. Nested objects and literal dotted keys are both allowed.
pub type Event = Value;

/// The values at `path`: arrays are flattened (any-element semantics) and nulls dropped.
///
/// Both nesting and literal dotted keys are followed: `a.b.c` finds `{"a":{"b":{"c":1}}}`,
/// `{"a.b":{"c":1}}` and `{"a.b.c":1}`.
///
/// A `*` in the path (Kibana's wildcard field names, `a.*.type`) matches any run of characters
/// of the dotted field name, dots included.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if path.contains('*') {
        let pattern = crate::value::StrPattern::from_glob_unescaped(path);
        let matcher = crate::matching::GlobMatcher::new(&pattern, crate::value::Case::Sensitive);
        let mut stack = vec![(String::new(), doc, 0usize)];
        while let Some((prefix, v, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                continue;
            }
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        let p = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        if matcher.is_match(&p) {
                            push_leaf(x, &mut out, depth);
                        } else {
                            stack.push((p, x, depth + 1));
                        }
                    }
                }
                Value::Array(items) => items
                    .iter()
                    .for_each(|x| stack.push((prefix.clone(), x, depth + 1))),
                _ => {}
            }
        }
        return out;
    }
    lookup_into(doc, path, &mut out, 0);
    out
}

const MAX_DEPTH: usize = 64;

fn lookup_into<'a>(doc: &'a Value, path: &str, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match doc {
        Value::Array(items) => {
            for it in items {
                lookup_into(it, path, out, depth + 1);
            }
        }
        Value::Object(map) => {
            if let Some(v) = map.get(path) {
                push_leaf(v, out, depth);
            }
            // Try every split point so that keys containing dots are found too.
            for (i, _) in path.match_indices('.') {
                let (head, rest) = (&path[..i], &path[i + 1..]);
                if let Some(v) = map.get(head) {
                    lookup_into(v, rest, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn push_leaf<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|i| push_leaf(i, out, depth + 1)),
        other => out.push(other),
    }
}

/// Every scalar leaf of the document (for keyword search).
pub fn leaves(doc: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    collect_leaves(doc, &mut out, 0);
    out
}

fn collect_leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|x| collect_leaves(x, out, depth + 1)),
        Value::Array(a) => a.iter().for_each(|x| collect_leaves(x, out, depth + 1)),
        Value::Null => {}
        other => out.push(other),
    }
}

/// Field names interned to dense ids, shared by the rules compiled against it and by the events
/// flattened with it, so that a predicate finds its values by index instead of walking the event.
#[derive(Debug, Clone, Default)]
pub struct FieldIds {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    /// Every dotted prefix of an interned name (`a`, `a.b` for `a.b.c`): flattening descends
    /// only into these.
    prefixes: HashSet<String>,
    /// Per field: every case-folded substring some rule searches that field for, so that a value
    /// is scanned once per event for all of them (see [`FieldIds::seal`]).
    needles: HashMap<u32, NeedleTable>,
}

/// The substrings searched for in one field, and their automaton once sealed.
#[derive(Debug, Clone, Default)]
struct NeedleTable {
    ids: HashMap<String, u32>,
    list: Vec<String>,
    automaton: Option<AhoCorasick>,
}

impl FieldIds {
    /// The id of a field name, added if new. Names with a `*` (wildcard field names) get none:
    /// they are looked up in the document itself.
    pub fn intern(&mut self, name: &str) -> Option<u32> {
        if name.contains('*') {
            return None;
        }
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        let id = u32::try_from(self.names.len()).ok()?;
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        for (i, _) in name.match_indices('.') {
            self.prefixes.insert(name[..i].to_string());
        }
        Some(id)
    }

    /// The id of a case-folded substring searched for in a field; unseals that field's table.
    pub fn intern_needle(&mut self, field: u32, folded: &str) -> u32 {
        let t = self.needles.entry(field).or_default();
        t.automaton = None;
        if let Some(&id) = t.ids.get(folded) {
            return id;
        }
        let id = t.list.len() as u32;
        t.ids.insert(folded.to_string(), id);
        t.list.push(folded.to_string());
        id
    }

    /// Build one automaton per field over its substrings. Until a field is sealed, matchers
    /// search its values one pattern set at a time.
    pub fn seal(&mut self) {
        for t in self.needles.values_mut() {
            if t.automaton.is_none() && !t.list.is_empty() {
                // Standard semantics: overlapping search reports every needle, nested ones too.
                t.automaton = AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&t.list)
                    .ok();
            }
        }
    }

    /// How many fields have a sealed substring table, and how many substrings they hold.
    pub fn needle_stats(&self) -> (usize, usize) {
        let sealed = self.needles.values().filter(|t| t.automaton.is_some());
        sealed.fold((0, 0), |(f, n), t| (f + 1, n + t.list.len()))
    }

    /// The id of an interned name.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name behind an id.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Walk the event once and collect the values of every interned field. For each id the
    /// values are exactly what [`lookup`] returns for its name (nesting, literal dotted keys and
    /// arrays alike), so evaluating on the flat event and on the document agree.
    pub fn flatten<'a>(&'a self, doc: &'a Value) -> FlatEvent<'a> {
        let mut found: Vec<(u32, &'a Value)> = Vec::new();
        let mut path = String::new();
        self.walk(doc, &mut path, true, 0, &mut found);
        found.sort_by_key(|(id, _)| *id);
        let mut spans = vec![(0u32, 0u32); self.names.len()];
        let mut leaves = Vec::with_capacity(found.len());
        let mut i = 0;
        while i < found.len() {
            let id = found[i].0;
            let start = leaves.len() as u32;
            while i < found.len() && found[i].0 == id {
                leaves.push(Leaf::new(found[i].1));
                i += 1;
            }
            if let Some(s) = spans.get_mut(id as usize) {
                *s = (start, leaves.len() as u32);
            }
        }
        FlatEvent {
            doc,
            ids: self,
            spans,
            leaves,
            all: OnceCell::new(),
        }
    }

    // Mirrors `lookup_into`: the path of a value is its keys joined with `.`, arrays are
    // transparent, and depth is counted the same way.
    fn walk<'a>(
        &self,
        v: &'a Value,
        path: &mut String,
        root: bool,
        depth: usize,
        out: &mut Vec<(u32, &'a Value)>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            Value::Array(items) => {
                for it in items {
                    self.walk(it, path, root, depth + 1, out);
                }
            }
            Value::Object(map) => {
                for (k, x) in map {
                    let len = path.len();
                    if !root {
                        path.push('.');
                    }
                    path.push_str(k);
                    if let Some(&id) = self.ids.get(path.as_str()) {
                        push_leaf_id(x, id, out, depth);
                    }
                    if matches!(x, Value::Object(_) | Value::Array(_))
                        && self.prefixes.contains(path.as_str())
                    {
                        self.walk(x, path, false, depth + 1, out);
                    }
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

fn push_leaf_id<'a>(v: &'a Value, id: u32, out: &mut Vec<(u32, &'a Value)>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Null => {}
        Value::Array(items) => items
            .iter()
            .for_each(|i| push_leaf_id(i, id, out, depth + 1)),
        other => out.push((id, other)),
    }
}

/// One value of an event with its text and folded text, each computed at most once.
#[derive(Debug)]
pub struct Leaf<'a> {
    value: &'a Value,
    text: OnceCell<Option<Cow<'a, str>>>,
    /// `None` inside when folding leaves the text unchanged.
    folded: OnceCell<Option<String>>,
    /// The ids of the field's needles found in the folded text, sorted.
    hits: OnceCell<Vec<u32>>,
}

impl<'a> Leaf<'a> {
    pub fn new(value: &'a Value) -> Self {
        Leaf {
            value,
            text: OnceCell::new(),
            folded: OnceCell::new(),
            hits: OnceCell::new(),
        }
    }

    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// [`scalar_text`] of the value.
    pub fn text(&self) -> Option<&str> {
        self.text.get_or_init(|| scalar_text(self.value)).as_deref()
    }

    /// The text case-folded with [`crate::matching::fold`].
    pub fn folded(&self) -> Option<&str> {
        let t = self.text()?;
        let f = self
            .folded
            .get_or_init(|| match crate::matching::fold_cow(t) {
                Cow::Borrowed(_) => None,
                Cow::Owned(s) => Some(s),
            });
        Some(f.as_deref().unwrap_or(t))
    }
}

/// An event flattened once for a [`FieldIds`] table: the values of each interned field, found
/// by id. Texts and folded texts are computed once per value and shared by every rule.
#[derive(Debug)]
pub struct FlatEvent<'a> {
    doc: &'a Value,
    ids: &'a FieldIds,
    spans: Vec<(u32, u32)>,
    leaves: Vec<Leaf<'a>>,
    /// Every scalar leaf, for keyword search (built on first use).
    all: OnceCell<Vec<Leaf<'a>>>,
}

impl<'a> FlatEvent<'a> {
    /// The document this was flattened from.
    pub fn doc(&self) -> &'a Value {
        self.doc
    }

    /// The values of an interned field (empty when absent).
    pub fn values(&self, id: u32) -> &[Leaf<'a>] {
        match self.spans.get(id as usize) {
            Some(&(a, b)) => &self.leaves[a as usize..b as usize],
            None => &[],
        }
    }

    /// Whether the folded text of `leaf`, a value of `field`, contains one of `needles` (ids
    /// from [`FieldIds::intern_needle`], sorted), by one scan per value for all the field's
    /// needles. `None` when the field's table is not sealed.
    pub fn contains_any(&self, field: u32, leaf: &Leaf<'_>, needles: &[u32]) -> Option<bool> {
        let ac = self.ids.needles.get(&field)?.automaton.as_ref()?;
        let Some(text) = leaf.folded() else {
            return Some(false);
        };
        let hits = match leaf.hits.get() {
            Some(h) => h,
            None => {
                // Overlapping search cannot fail with Standard semantics; if it did, the caller
                // falls back to its own matcher.
                let mut h: Vec<u32> = ac
                    .try_find_overlapping_iter(text)
                    .ok()?
                    .map(|m| m.pattern().as_u32())
                    .collect();
                h.sort_unstable();
                h.dedup();
                leaf.hits.get_or_init(|| h)
            }
        };
        // Both lists are sorted and short.
        let (mut i, mut j) = (0, 0);
        while i < hits.len() && j < needles.len() {
            match hits[i].cmp(&needles[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return Some(true),
            }
        }
        Some(false)
    }

    /// Every scalar leaf of the event ([`leaves`]).
    pub fn keyword_leaves(&self) -> &[Leaf<'a>] {
        self.all
            .get_or_init(|| leaves(self.doc).into_iter().map(Leaf::new).collect())
    }
}

/// The text form of a scalar as string matching sees it (`1`, `true`, `abc`).
pub fn scalar_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Turn a document with dotted keys into nested objects (`{"a.b":1}` → `{"a":{"b":1}}`).
pub fn expand_dotted(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = expand_dotted(v);
                insert_path(&mut out, k, v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(expand_dotted).collect()),
        other => other.clone(),
    }
}

/// Insert `value` at a dotted `path`, creating objects on the way.
pub fn insert_path(map: &mut serde_json::Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            merge_into(map, path, value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                // A scalar already sits here: keep the dotted key literally instead.
                map.insert(path.to_string(), value);
                return;
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Set `key` to `value`, merging objects into an object already there.
pub fn merge_into(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                merge_into(existing, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_string(), value);
        }
    }
}

/// Milliseconds since the Unix epoch for the event's timestamp, from the usual fields.
pub fn event_time(doc: &Value) -> Option<i64> {
    const FIELDS: [&str; 8] = [
        "@timestamp",
        "timestamp",
        "TimeGenerated",
        "_time",
        "Timestamp",
        "TimeCreated_SystemTime",
        "Event.System.TimeCreated.#attributes.SystemTime",
        "UtcTime",
    ];
    for f in FIELDS {
        if let Some(v) = lookup(doc, f).first() {
            if let Some(t) = parse_time(v) {
                return Some(t);
            }
        }
    }
    None
}

/// Parse epoch milliseconds (a number) or an RFC 3339-like date-time string.
pub fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => parse_rfc3339(s).or_else(|| s.trim().parse::<i64>().ok()),
        _ => None,
    }
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM]`, or a bare date; the zone defaults to UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let mut ms = 0i64;
    let mut rest = &s[10..];
    if !rest.is_empty() {
        let sep = rest.as_bytes()[0];
        if sep != b'T' && sep != b't' && sep != b' ' {
            return None;
        }
        rest = &rest[1..];
        let h: i64 = rest.get(0..2)?.parse().ok()?;
        let mi: i64 = rest.get(3..5)?.parse().ok()?;
        rest = &rest[5..];
        let mut sec = 0i64;
        if rest.starts_with(':') {
            sec = rest.get(1..3)?.parse().ok()?;
            rest = &rest[3..];
        }
        let mut frac_ms = 0i64;
        if rest.starts_with('.') || rest.starts_with(',') {
            let digits: String = rest[1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let take: String = digits.chars().chain("000".chars()).take(3).collect();
            frac_ms = take.parse().ok()?;
            rest = &rest[1 + digits.len()..];
        }
        let offset_min = match rest {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let oh: i64 = rest.get(1..3)?.parse().ok()?;
                let om: i64 = rest.get(rest.len() - 2..)?.parse().ok()?;
                sign * (oh * 60 + om)
            }
        };
        ms = ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + frac_ms;
    }
    Some(days_from_civil(y, mo, d) * 86_400_000 + ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_nested_dotted_and_arrays() {
        let d = json!({"a": {"b": [1, null, {"c": "x"}]}, "a.b.c": "y", "p.q": {"r": 2}});
        assert_eq!(lookup(&d, "a.b").len(), 2);
        let c: Vec<_> = lookup(&d, "a.b.c").into_iter().cloned().collect();
        assert!(c.contains(&json!("x")) && c.contains(&json!("y")));
        assert_eq!(lookup(&d, "p.q.r"), vec![&json!(2)]);
        assert!(lookup(&d, "missing").is_empty());
    }

    /// The flat table holds, per field, exactly what `lookup` finds (as a multiset).
    fn assert_flat_matches_lookup(d: &Value, names: &[&str]) {
        let mut ids = FieldIds::default();
        for n in names {
            ids.intern(n);
        }
        let flat = ids.flatten(d);
        for n in names {
            let Some(id) = ids.id(n) else { continue };
            let mut want: Vec<String> = lookup(d, n).into_iter().map(|v| v.to_string()).collect();
            let mut got: Vec<String> = flat
                .values(id)
                .iter()
                .map(|l| l.value().to_string())
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "field {n:?} in {d}");
        }
    }

    #[test]
    fn flattened_values_equal_lookup() {
        let docs = [
            json!({"a": {"b": [1, null, {"c": "x"}]}, "a.b.c": "y", "p.q": {"r": 2}}),
            json!({"a": [[{"b": 1}], {"b": [2, [3]]}], "a.b": 4}),
            json!({"": {"b": 1}, "a.": {"b": 2}, "x": {"y.z": {"w": 3}}}),
            json!([{"a": 1}, {"a": 2}]),
            json!({"a": {"b": {"c": null}}, "n": null, "o": {}}),
            json!({"Image": "C:\\x.exe", "EventID": 1, "Event": {"System": {"EventID": 4688}}}),
        ];
        let names = [
            "a",
            "a.b",
            "a.b.c",
            "p.q",
            "p.q.r",
            ".b",
            "a..b",
            "x.y.z.w",
            "x.y",
            "n",
            "o",
            "Image",
            "EventID",
            "Event.System.EventID",
            "missing",
            "c",
        ];
        for d in &docs {
            assert_flat_matches_lookup(d, &names);
        }
    }

    #[test]
    fn wildcard_names_are_not_interned() {
        let mut ids = FieldIds::default();
        assert_eq!(ids.intern("a.*.type"), None);
        assert_eq!(ids.intern("a.b"), Some(0));
        assert_eq!(ids.intern("a.b"), Some(0));
        assert_eq!(ids.name(0), Some("a.b"));
    }

    #[test]
    fn leaves_fold_once() {
        let v = json!("MiXeD");
        let l = Leaf::new(&v);
        assert_eq!(l.text(), Some("MiXeD"));
        assert_eq!(l.folded(), Some("mixed"));
        let n = json!(12.5);
        assert_eq!(Leaf::new(&n).folded(), Some("12.5"));
        assert_eq!(Leaf::new(&json!({"a": 1})).text(), None);
    }

    #[test]
    fn wildcard_field_names() {
        let d = json!({"a": {"x": {"type": "T1"}, "y": [{"type": "T2"}]}, "b": {"type": "no"}});
        let mut got: Vec<_> = lookup(&d, "a.*.type").into_iter().cloned().collect();
        got.sort_by_key(|v| v.to_string());
        assert_eq!(got, vec![json!("T1"), json!("T2")]);
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_rfc3339("2020-01-01T01:00:00+01:00"),
            parse_rfc3339("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2025-12-11T06:17:19.772545Z").map(|t| t % 1000),
            Some(772)
        );
    }

    #[test]
    fn expand() {
        let d = json!({"a.b": 1, "a": {"c": 2}});
        assert_eq!(expand_dotted(&d), json!({"a": {"b": 1, "c": 2}}));
    }
}
