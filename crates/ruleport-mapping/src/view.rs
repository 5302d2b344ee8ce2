//! Event views: how an event written in one schema is seen by each target, and which log
//! source it belongs to. The same field rows that rename rules rename events, so a port and
//! the reference are compared on the same data.

use crate::data::{FieldRow, LogSourceMapping, MatchGroup};
use crate::{yaml_text, Mapping};
use ruleport_model::event::{insert_path, lookup, merge_into, scalar_text};
use ruleport_model::{LogSource, Schema};
use serde_json::{Map, Value};

impl Mapping {
    /// Fields whose values every event of a log source has in `schema` (its `implied`
    /// conditions): a rule's test on them is dropped when ported, and an event where they differ
    /// is not an event of that source.
    pub fn implied_fields(&self, logsource_id: &str, schema: Schema) -> Vec<String> {
        self.logsource(logsource_id)
            .and_then(|l| l.side(self.key(schema)))
            .and_then(|side| side.implied.as_ref())
            .map(|g| g.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The fields every event of a log source carries in `schema`: each field of its first match
    /// group with that group's first value (Sysmon process creation: Channel and EventID 1).
    pub fn identity_of(&self, logsource_id: &str, schema: Schema) -> Vec<(String, Value)> {
        self.logsource(logsource_id)
            .and_then(|l| l.side(self.key(schema)))
            .and_then(|side| side.match_spec.as_ref())
            .and_then(|spec| spec.groups().into_iter().next())
            .map(|g| {
                g.iter()
                    .filter_map(|(f, want)| {
                        want.values().first().map(|v| (f.clone(), yaml_to_json(v)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `event` keeps the identity `base` (an event of the log source) has: every field of
    /// the source's match conditions that `base` holds is still present in `event` with a value
    /// one of the source's groups allows. A source without match conditions has none to keep.
    pub fn event_keeps_identity(
        &self,
        event: &Value,
        base: &Value,
        logsource_id: &str,
        schema: Schema,
    ) -> bool {
        let Some(spec) = self
            .logsource(logsource_id)
            .and_then(|l| l.side(self.key(schema)))
            .and_then(|side| side.match_spec.as_ref())
        else {
            return true;
        };
        let groups = spec.groups();
        let held: Vec<&String> = groups
            .iter()
            .flat_map(|g| g.keys())
            .filter(|f| !lookup(base, f).is_empty())
            .collect();
        if held.is_empty() {
            return true;
        }
        groups.iter().any(|g| {
            held.iter().filter(|f| g.contains_key(f.as_str())).all(|f| {
                let mut one = MatchGroup::new();
                if let Some(want) = g.get(f.as_str()) {
                    one.insert((*f).clone(), want.clone());
                }
                event_satisfies(event, &one, schema)
            })
        })
    }

    /// The log source an event written in `schema` belongs to, from the match conditions. When
    /// several match, the one whose matching group names the most fields wins (EventID 1 on the
    /// Sysmon channel is process creation, not just "Sysmon").
    pub fn classify(&self, event: &Value, schema: Schema) -> Option<&LogSourceMapping> {
        let key = self.key(schema);
        let mut best: Option<(usize, &LogSourceMapping)> = None;
        for l in &self.logsources {
            let keys: Vec<&str> = if schema == Schema::Sentinel {
                vec![key, "sentinel"]
            } else {
                vec![key]
            };
            for k in keys {
                let Some(side) = l.side(k) else { continue };
                let score = if schema == Schema::Sentinel {
                    let table_ok = side.table.as_deref().is_some_and(|t| {
                        lookup(event, "Type").iter().any(|v| v.as_str() == Some(t))
                    });
                    if !table_ok {
                        continue;
                    }
                    match &side.match_spec {
                        None => Some(1),
                        Some(spec) => best_group(event, spec.groups(), schema).map(|n| n + 1000),
                    }
                } else {
                    side.match_spec
                        .as_ref()
                        .and_then(|spec| best_group(event, spec.groups(), schema))
                };
                if let Some(score) = score {
                    if best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, l));
                    }
                }
            }
        }
        best.map(|(_, l)| l)
    }

    /// The event as seen in schema `to`. `declared` names the event's log source when the event
    /// itself does not say (fixture files may declare it).
    pub fn view_event(
        &self,
        event: &Value,
        from: Schema,
        declared: Option<&str>,
        to: Schema,
    ) -> Value {
        self.view_event_in(event, from, declared, to, None)
    }

    /// [`Mapping::view_event`] for a port that reads a given Sentinel table (a mapped rule's
    /// `selection.tables`): the event becomes a row of that table when the log source has it.
    pub fn view_event_in(
        &self,
        event: &Value,
        from: Schema,
        declared: Option<&str>,
        to: Schema,
        table: Option<&str>,
    ) -> Value {
        if from == to && table.is_none() {
            return event.clone();
        }
        let ls = declared
            .and_then(|id| self.logsource(id))
            .or_else(|| self.classify(event, from));
        let side_key = |schema: Schema, table: Option<&str>| -> &'static str {
            let set = self.key(schema);
            if schema != Schema::Sentinel {
                return set;
            }
            match (ls, table) {
                (Some(l), Some(t)) => {
                    if l.side(set).and_then(|s| s.table.as_deref()) == Some(t) {
                        set
                    } else if l.side("sentinel").and_then(|s| s.table.as_deref()) == Some(t) {
                        "sentinel"
                    } else {
                        set
                    }
                }
                _ => set,
            }
        };
        let event_table = lookup(event, "Type")
            .first()
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let fk = side_key(from, event_table.as_deref());
        let tk = side_key(to, table);
        if fk == tk {
            return event.clone();
        }
        let mut leaves = Vec::new();
        flatten(event, String::new(), &mut leaves, 0);
        // Fields that identify the source (its match groups and implied conditions).
        let identity_fields: Vec<String> = ls
            .and_then(|l| l.side(fk))
            .map(|side| {
                side.match_spec
                    .iter()
                    .flat_map(|spec| spec.groups())
                    .chain(side.implied.as_ref())
                    .flat_map(|g| g.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Map::new();
        let mut event_fields = std::collections::BTreeSet::new();
        for (path, value) in leaves {
            let is_identity = identity_fields.contains(&path);
            if from == Schema::Sentinel && path == "Type" {
                continue;
            }
            let (name, value) = match self.lookup_by_key(ls, &path, fk, tk) {
                Some(hit) => {
                    let v = match hit.row {
                        Some(row) => {
                            let v = map_value(row, fk, tk, value);
                            // A bool column stores `true`, not the text a JSON log writes.
                            let bool_column = to == Schema::Sentinel
                                && [tk, "sentinel_sets", "sentinel"]
                                    .iter()
                                    .find_map(|k| row.types.get(*k))
                                    .is_some_and(|t| t == "bool");
                            if bool_column {
                                as_bool(v)
                            } else {
                                v
                            }
                        }
                        None => value,
                    };
                    (hit.name, v)
                }
                // A source-identifying field the target does not name is implied by its selection.
                None if is_identity => continue,
                None => (path, value),
            };
            if !is_identity {
                event_fields.insert(name.clone());
            }
            match to {
                Schema::Splunk => insert_splunk(&mut out, &name, value),
                Schema::Sentinel => insert_sentinel(&mut out, &name, value),
                Schema::Ecs => insert_path(&mut out, &name, value),
                Schema::Sigma => {
                    out.insert(name, value);
                }
            }
        }
        // Identify the event to the target: the conditions of every log source the event
        // belongs to (EID 13 is registry_set and registry_event), most specific last so that
        // its values win, and for Sentinel only sources read from the same table.
        if let Some(l) = ls {
            let target_table = l.side(tk).and_then(|s| s.table.clone());
            let mut sources: Vec<(usize, &LogSourceMapping)> = self
                .logsources
                .iter()
                .filter(|o| o.id != l.id)
                .filter_map(|o| {
                    let spec = o.side(fk)?.match_spec.as_ref()?;
                    let g = spec
                        .groups()
                        .into_iter()
                        .filter(|g| event_satisfies(event, g, from))
                        .min_by_key(|g| group_values(g))?;
                    Some((group_values(g), o))
                })
                .collect();
            sources.sort_by_key(|s| std::cmp::Reverse(s.0));
            let chain = sources
                .into_iter()
                .map(|(_, o)| o)
                .chain(std::iter::once(l));
            for o in chain {
                let Some(side) = o.side(tk) else { continue };
                if to == Schema::Sentinel && side.table != target_table {
                    continue;
                }
                if let Some(group) = side
                    .match_spec
                    .as_ref()
                    .and_then(|s| s.groups().first().copied())
                {
                    for (field, vals) in group {
                        // The event's own value (EventID 16 as EventCode) is kept.
                        // The event's own value is kept: a data field, or an identity value the
                        // target also allows (Sysmon EventID 16 is EventCode 16, not the list's first).
                        if event_fields.contains(field) {
                            continue;
                        }
                        let allowed: Vec<String> =
                            vals.values().iter().map(|v| yaml_text(v)).collect();
                        let have: Vec<String> = lookup(&Value::Object(out.clone()), field)
                            .iter()
                            .filter_map(|v| scalar_text(v).map(|t| t.into_owned()))
                            .collect();
                        if !have.is_empty()
                            && have
                                .iter()
                                .all(|h| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
                        {
                            // Spelled as the source writes it: a case-insensitive schema's `system`
                            // is the `System` a case-sensitive target stores.
                            let exact = have.iter().all(|h| allowed.contains(h));
                            if exact || !matches!(to, Schema::Ecs | Schema::Sentinel) {
                                continue;
                            }
                            let spelled: Vec<Value> = have
                                .iter()
                                .filter_map(|h| allowed.iter().find(|a| a.eq_ignore_ascii_case(h)))
                                .map(|a| Value::String(a.clone()))
                                .collect();
                            let v = if spelled.len() == 1 {
                                spelled[0].clone()
                            } else {
                                Value::Array(spelled)
                            };
                            match to {
                                Schema::Ecs => insert_path(&mut out, field, v),
                                _ => {
                                    out.insert(field.clone(), v);
                                }
                            }
                            continue;
                        }
                        if let Some(v) = vals.values().first() {
                            let json = yaml_to_json(v);
                            match to {
                                Schema::Ecs => insert_path(&mut out, field, json),
                                _ => {
                                    out.insert(field.clone(), json);
                                }
                            }
                        }
                    }
                }
            }
            if to == Schema::Sentinel {
                if let Some(t) = target_table {
                    out.insert("Type".into(), Value::String(t));
                }
            }
        }
        Value::Object(out)
    }

    /// Whether an event (in `schema`) may belong to a rule's log source. Events whose source
    /// cannot be told pass; a known source must agree with the rule's Sigma keys.
    pub fn event_in_logsource(&self, event: &Value, schema: Schema, ls: &LogSource) -> bool {
        if ls.product.is_none() && ls.category.is_none() && ls.service.is_none() {
            return true;
        }
        let Some(entry) = self.classify(event, schema) else {
            // No source claims the event; it still leaves the rule's source when a field that
            // identifies that source holds another value (`Channel: Security` for the System log).
            return !self.contradicts_source(event, schema, ls);
        };
        let Some(keys) = &entry.sigma else {
            return true;
        };
        let eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        };
        // Several categories share Sysmon events (registry_add/delete/event/set; sysmon service).
        let same_channel = |other: &LogSourceMapping| {
            other.sigma.as_ref().is_some_and(|k| {
                eq(&k.product, &ls.product)
                    && eq(&k.category, &ls.category)
                    && eq(&k.service, &ls.service)
                    && (ls.category.is_none() || k.category.is_some())
                    && (ls.service.is_none() || k.service.is_some())
            }) && other
                .side(self.key(schema))
                .and_then(|s| s.match_spec.as_ref())
                .is_some_and(|spec| {
                    spec.groups()
                        .iter()
                        .any(|g| event_satisfies(event, g, schema))
                })
        };
        (eq(&keys.product, &ls.product)
            && eq(&keys.category, &ls.category)
            && eq(&keys.service, &ls.service)
            && (ls.category.is_none() || keys.category.is_some())
            && (ls.service.is_none() || keys.service.is_some()))
            || self.logsources.iter().any(same_channel)
    }
}

impl Mapping {
    fn contradicts_source(&self, event: &Value, schema: Schema, ls: &LogSource) -> bool {
        let Some(spec) = self
            .resolve_sigma(ls)
            .and_then(|l| l.side(self.key(schema)))
            .and_then(|side| side.match_spec.as_ref())
        else {
            return false;
        };
        let sensitive = matches!(schema, Schema::Ecs | Schema::Sentinel);
        spec.groups().iter().all(|g| {
            g.iter().any(|(field, want)| {
                let have = lookup(event, field);
                !have.is_empty()
                    && !want.values().iter().any(|w| {
                        let w = yaml_text(w);
                        have.iter().any(|h| {
                            scalar_text(h).is_some_and(|t| {
                                if sensitive {
                                    t == w.as_str()
                                } else {
                                    t.eq_ignore_ascii_case(&w)
                                }
                            })
                        })
                    })
            })
        })
    }
}

/// The size of the largest group the event satisfies.
fn best_group(event: &Value, groups: Vec<&MatchGroup>, schema: Schema) -> Option<usize> {
    // More fields first, then fewer alternatives: {Channel, EventID: 13} beats {Channel, EventID: [12, 13, 14]}.
    groups
        .into_iter()
        .filter(|g| event_satisfies(event, g, schema))
        .map(|g| g.len() * 1000 + 999usize.saturating_sub(group_values(g)))
        .max()
}

/// How many values a group allows in total (fewer is more specific).
fn group_values(g: &MatchGroup) -> usize {
    g.values().map(|v| v.values().len()).sum()
}

/// A value through a row's value maps (the first target value of Sigma's canonical value).
fn as_bool(v: Value) -> Value {
    match v {
        Value::String(t) if t.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(t) if t.eq_ignore_ascii_case("false") => Value::Bool(false),
        Value::Array(items) => Value::Array(items.into_iter().map(as_bool).collect()),
        other => other,
    }
}

fn map_value(row: &FieldRow, fk: &str, tk: &str, value: Value) -> Value {
    let (src, dst) = (row.values_for(fk), row.values_for(tk));
    if src.is_none() && dst.is_none() {
        return value;
    }
    // A multi-valued field maps value by value.
    if let Value::Array(items) = value {
        return Value::Array(
            items
                .into_iter()
                .map(|v| map_value(row, fk, tk, v))
                .collect(),
        );
    }
    let Some(text) = scalar_text(&value).map(|t| t.into_owned()) else {
        return value;
    };
    // ECS keywords and Sentinel `==` are case-sensitive: `CONNECTION_ACCEPTED` is not the
    // action value `connection_accepted`.
    let sensitive = fk == "ecs" || fk.starts_with("sentinel");
    let canonical = match src {
        None => Some(text.clone()),
        Some(m) => m
            .iter()
            .find(|(_, vs)| {
                vs.items().iter().any(|v| {
                    if sensitive {
                        *v == text.as_str()
                    } else {
                        v.eq_ignore_ascii_case(&text)
                    }
                })
            })
            .map(|(k, _)| k.clone()),
    };
    let Some(canonical) = canonical else {
        return value;
    };
    match dst {
        None => Value::String(canonical),
        Some(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&canonical))
            .and_then(|(_, vs)| vs.items().first().map(|v| Value::String((*v).to_string())))
            .unwrap_or(value),
    }
}

/// A Sentinel row: top-level columns; a dotted name below a dynamic column (`EventData.Image`)
/// becomes a nested object inside that column.
fn insert_sentinel(out: &mut Map<String, Value>, name: &str, value: Value) {
    match sentinel_steps(name) {
        Some(steps) if steps.len() > 1 => insert_steps(out, &steps, value),
        _ => insert_path(out, name, value),
    }
}

/// One step of a Sentinel column path: a member (`.b`, `['b.c']`) or an array (`[]`, `[0]`).
#[derive(Debug, PartialEq)]
enum PathStep {
    Member(String),
    Array,
}

/// `A.b['c.d'][].e` as steps; `None` when the name is not such a path.
fn sentinel_steps(name: &str) -> Option<Vec<PathStep>> {
    let mut steps = Vec::new();
    let mut rest = name;
    let mut seg = String::new();
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => {
                if !seg.is_empty() {
                    steps.push(PathStep::Member(std::mem::take(&mut seg)));
                }
                rest = &rest[1..];
            }
            '[' => {
                if !seg.is_empty() {
                    steps.push(PathStep::Member(std::mem::take(&mut seg)));
                }
                let close = rest.find(']')?;
                let inner = rest[1..close].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|q| q.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')));
                match quoted {
                    Some(q) => steps.push(PathStep::Member(q.to_string())),
                    None if inner.is_empty() || inner == "*" || inner.parse::<i64>().is_ok() => {
                        steps.push(PathStep::Array)
                    }
                    None => return None,
                }
                rest = &rest[close + 1..];
            }
            _ => {
                seg.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !seg.is_empty() {
        steps.push(PathStep::Member(seg));
    }
    matches!(steps.first(), Some(PathStep::Member(_))).then_some(steps)
}

/// Insert along `steps`; an array step holds one element (an object for the steps below it),
/// shared by every path through the same array.
fn insert_steps(out: &mut Map<String, Value>, steps: &[PathStep], value: Value) {
    let Some((PathStep::Member(head), rest)) = steps.split_first() else {
        return;
    };
    match rest.first() {
        None => merge_into(out, head, value),
        Some(PathStep::Member(_)) => {
            let entry = out
                .entry(head.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_steps(inner, rest, value);
            }
        }
        Some(PathStep::Array) => {
            let below = &rest[1..];
            if below.is_empty() {
                let items = match value {
                    Value::Array(a) => a,
                    v => vec![v],
                };
                out.insert(head.clone(), Value::Array(items));
                return;
            }
            let entry = out
                .entry(head.clone())
                .or_insert_with(|| Value::Array(vec![Value::Object(Map::new())]));
            if let Value::Array(items) = entry {
                if !items.first().is_some_and(Value::is_object) {
                    items.insert(0, Value::Object(Map::new()));
                }
                // An array of arrays (`a[][]`) names no member to put the value under.
                if let (Some(Value::Object(first)), Some(PathStep::Member(_))) =
                    (items.first_mut(), below.first())
                {
                    insert_steps(first, below, value);
                }
            }
        }
    }
}

/// Whether the event holds every field of the group with one of its values. ECS keyword fields
/// and Sentinel `==` compare case-sensitively; Sigma and Splunk values are case-insensitive.
fn event_satisfies(event: &Value, g: &MatchGroup, schema: Schema) -> bool {
    let sensitive = matches!(schema, Schema::Ecs | Schema::Sentinel);
    g.iter().all(|(field, want)| {
        let have = lookup(event, field);
        want.values().iter().any(|w| {
            let w = yaml_text(w);
            have.iter().any(|h| {
                scalar_text(h).is_some_and(|t| {
                    if sensitive {
                        t == w.as_str()
                    } else {
                        t.eq_ignore_ascii_case(&w)
                    }
                })
            })
        })
    })
}

fn yaml_to_json(v: &serde_yaml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Flatten to dotted leaf paths. Arrays of scalars stay arrays (multivalue); arrays holding
/// objects stay whole at their path.
fn flatten(v: &Value, prefix: String, out: &mut Vec<(String, Value)>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(x, p, out, depth + 1);
            }
        }
        other => {
            if !prefix.is_empty() {
                out.push((prefix, other.clone()));
            }
        }
    }
}

/// Splunk extracts JSON arrays of objects as `a{}.b` multivalue fields.
fn insert_splunk(out: &mut Map<String, Value>, name: &str, value: Value) {
    match value {
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let mut leaves = Vec::new();
            for it in &items {
                flatten(it, String::new(), &mut leaves, 0);
            }
            for (sub, v) in leaves {
                let key = format!("{name}{{}}.{sub}");
                let entry = out.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    match v {
                        Value::Array(inner) => a.extend(inner),
                        other => a.push(other),
                    }
                }
            }
        }
        other => {
            out.insert(name.to_string(), other);
        }
    }
}

#[cfg(test)]
mod sentinel_path_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sentinel_paths_keep_quoted_keys_and_arrays() {
        let mut out = Map::new();
        insert_sentinel(
            &mut out,
            "Annotations['authorization.k8s.io/decision']",
            json!("forbid"),
        );
        insert_sentinel(
            &mut out,
            "RequestObject.spec.containers[].image",
            json!("nginx"),
        );
        insert_sentinel(
            &mut out,
            "RequestObject.spec.containers[].securityContext.privileged",
            json!(true),
        );
        insert_sentinel(&mut out, "SourceIps[]", json!("10.0.0.1"));
        insert_sentinel(&mut out, "User.groups[]", json!(["a", "b"]));
        insert_sentinel(&mut out, "Plain", json!(1));
        assert_eq!(
            Value::Object(out),
            json!({
                "Annotations": {"authorization.k8s.io/decision": "forbid"},
                "RequestObject": {"spec": {"containers": [
                    {"image": "nginx", "securityContext": {"privileged": true}}
                ]}},
                "SourceIps": ["10.0.0.1"],
                "User": {"groups": ["a", "b"]},
                "Plain": 1
            })
        );
    }

    #[test]
    fn malformed_sentinel_paths_fall_back_to_dotted_insertion() {
        assert_eq!(sentinel_steps("A['x"), None);
        assert_eq!(sentinel_steps("A[b]"), None);
        let mut out = Map::new();
        insert_sentinel(&mut out, "A['x", json!(1));
        assert_eq!(out.len(), 1);
    }
}
