//! Events as JSON documents, with the field lookup the reference semantics use.

use serde_json::Value;

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
                        let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        if matcher.is_match(&p) {
                            push_leaf(x, &mut out, depth);
                        } else {
                            stack.push((p, x, depth + 1));
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|x| stack.push((prefix.clone(), x, depth + 1))),
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

fn merge_into(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
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
            let digits: String = rest[1..].chars().take_while(|c| c.is_ascii_digit()).collect();
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
        assert_eq!(parse_rfc3339("2020-01-01T01:00:00+01:00"), parse_rfc3339("2020-01-01T00:00:00Z"));
        assert_eq!(parse_rfc3339("2025-12-11T06:17:19.772545Z").map(|t| t % 1000), Some(772));
    }

    #[test]
    fn expand() {
        let d = json!({"a.b": 1, "a": {"c": 2}});
        assert_eq!(expand_dotted(&d), json!({"a": {"b": 1, "c": 2}}));
    }
}
