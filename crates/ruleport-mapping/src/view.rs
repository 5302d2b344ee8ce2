//! Event views: how an event written in one schema is seen by each target, and which log
//! source it belongs to. The same field rows that rename rules rename events, so a port and
//! the reference are compared on the same data.

use crate::data::{LogSourceMapping, MatchGroup};
use crate::{yaml_text, Mapping};
use ruleport_model::event::{insert_path, lookup, scalar_text};
use ruleport_model::{LogSource, Schema};
use serde_json::{Map, Value};

impl Mapping {
    /// The log source an event written in `schema` belongs to, from the match conditions.
    pub fn classify(&self, event: &Value, schema: Schema) -> Option<&LogSourceMapping> {
        let key = self.key(schema);
        self.logsources.iter().find(|l| {
            let Some(side) = l.side(key) else { return false };
            if schema == Schema::Sentinel {
                let table_ok = side.table.as_deref().is_some_and(|t| {
                    lookup(event, "Type").iter().any(|v| v.as_str() == Some(t))
                });
                return table_ok
                    && side
                        .match_spec
                        .as_ref()
                        .is_none_or(|spec| spec.groups().iter().any(|g| event_satisfies(event, g)));
            }
            side.match_spec
                .as_ref()
                .is_some_and(|spec| spec.groups().iter().any(|g| event_satisfies(event, g)))
        })
    }

    /// The event as seen in schema `to`. `declared` names the event's log source when the event
    /// itself does not say (fixture files may declare it).
    pub fn view_event(&self, event: &Value, from: Schema, declared: Option<&str>, to: Schema) -> Value {
        if from == to {
            return event.clone();
        }
        let ls = declared
            .and_then(|id| self.logsource(id))
            .or_else(|| self.classify(event, from));
        let mut leaves = Vec::new();
        flatten(event, String::new(), &mut leaves, 0);
        let from_key = self.key(from);
        let identity_fields: Vec<String> = ls
            .and_then(|l| l.side(from_key))
            .and_then(|s| s.match_spec.as_ref())
            .map(|spec| spec.groups().iter().flat_map(|g| g.keys().cloned()).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        for (path, value) in leaves {
            if identity_fields.contains(&path) || (from == Schema::Sentinel && path == "Type") {
                continue;
            }
            let name = self
                .map_field(ls, &path, from, to)
                .map(|(n, _)| n)
                .unwrap_or(path);
            match to {
                Schema::Splunk => insert_splunk(&mut out, &name, value),
                Schema::Sentinel | Schema::Ecs => insert_path(&mut out, &name, value),
                Schema::Sigma => {
                    out.insert(name, value);
                }
            }
        }
        if let Some(l) = ls {
            let to_key = self.key(to);
            if let Some(side) = l.side(to_key) {
                if let Some(group) = side.match_spec.as_ref().and_then(|s| s.groups().first().copied()) {
                    for (field, vals) in group {
                        if let Some(v) = vals.values().first() {
                            let json = yaml_to_json(v);
                            match to {
                                Schema::Ecs | Schema::Sentinel => insert_path(&mut out, field, json),
                                _ => {
                                    out.insert(field.clone(), json);
                                }
                            }
                        }
                    }
                }
                if to == Schema::Sentinel {
                    if let Some(t) = &side.table {
                        out.insert("Type".into(), Value::String(t.clone()));
                    }
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
        let Some(entry) = self.classify(event, schema) else { return true };
        let Some(keys) = &entry.sigma else { return true };
        let eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        };
        eq(&keys.product, &ls.product)
            && eq(&keys.category, &ls.category)
            && eq(&keys.service, &ls.service)
            && (ls.category.is_none() || keys.category.is_some())
            && (ls.service.is_none() || keys.service.is_some())
    }
}

fn event_satisfies(event: &Value, g: &MatchGroup) -> bool {
    g.iter().all(|(field, want)| {
        let have = lookup(event, field);
        want.values().iter().any(|w| {
            let w = yaml_text(w);
            have.iter().any(|h| scalar_text(h).is_some_and(|t| t.eq_ignore_ascii_case(&w)))
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
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
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
