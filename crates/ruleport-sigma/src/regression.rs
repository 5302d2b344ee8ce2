//! SigmaHQ `regression_data/`: `info.yml` test descriptions, the `.evtx` logs (read directly) and
//! their `.json` renderings, with events flattened to Sigma field names (sigma.md §4.3).

use ruleport_model::{Diagnostic, Pos};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One positive regression test: a rule and the events it must match.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionCase {
    /// The `info.yml` the case comes from.
    pub info_path: PathBuf,
    /// The test record's own id (`info.yml` `id`).
    pub test_id: Option<String>,
    /// The tested rule (`rule_metadata[0].id`).
    pub rule_id: String,
    pub rule_title: String,
    /// The rule file, when it sits where SigmaHQ's layout puts it.
    pub rule_path: Option<PathBuf>,
    /// `regression_tests_info[].name`.
    pub test_name: Option<String>,
    /// The minimum number of matches (SigmaHQ CI: `>= match_count`, or `> 0` when absent).
    pub match_count: Option<u32>,
    pub evtx_path: Option<PathBuf>,
    pub json_path: Option<PathBuf>,
    /// Events from the JSON rendering, flattened to Sigma field names.
    pub events_json: Vec<Value>,
    /// Events read from the EVTX file, flattened the same way.
    pub events_evtx: Vec<Value>,
}

impl RegressionCase {
    /// The least number of events the rule must match.
    pub fn min_matches(&self) -> usize {
        self.match_count.map(|c| c as usize).unwrap_or(1).max(1)
    }
}

/// Load every `info.yml` under `root` (the corpus directory or its `regression_data`).
pub fn load_regression_dir(root: &Path) -> (Vec<RegressionCase>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut infos = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            diags.push(
                Diagnostic::error(
                    "E-REGRESSION-IO",
                    format!("cannot read directory {}", d.display()),
                )
                .in_file(&d),
            );
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()) == Some("info.yml") {
                infos.push(p);
            }
        }
    }
    infos.sort();
    // Paths in info.yml are relative to the directory that holds `regression_data`.
    let base = if root.file_name().and_then(|n| n.to_str()) == Some("regression_data") {
        root.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.to_path_buf())
    } else {
        root.to_path_buf()
    };
    let mut cases = Vec::new();
    for info in infos {
        load_info(&info, &base, &mut cases, &mut diags);
    }
    (cases, diags)
}

#[derive(serde::Deserialize)]
struct InfoFile {
    id: Option<String>,
    #[serde(default)]
    rule_metadata: Vec<InfoRule>,
    #[serde(default)]
    regression_tests_info: Option<Vec<InfoTest>>,
}

#[derive(serde::Deserialize)]
struct InfoRule {
    id: String,
    #[serde(default)]
    title: String,
}

#[derive(serde::Deserialize)]
struct InfoTest {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    match_count: Option<u32>,
    path: Option<String>,
}

fn load_info(
    info: &Path,
    base: &Path,
    cases: &mut Vec<RegressionCase>,
    diags: &mut Vec<Diagnostic>,
) {
    let text = match std::fs::read_to_string(info) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::error("E-REGRESSION-IO", format!("cannot read: {e}")).in_file(info),
            );
            return;
        }
    };
    let parsed: InfoFile = match serde_yaml::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos::new(l.line() as u32, l.column() as u32));
            diags.push(
                Diagnostic::error("E-REGRESSION-INFO", format!("invalid info.yml: {e}"))
                    .in_file(info)
                    .at_opt(pos),
            );
            return;
        }
    };
    let Some(rule) = parsed.rule_metadata.first() else {
        diags.push(
            Diagnostic::error(
                "E-REGRESSION-INFO",
                "info.yml names no rule (`rule_metadata`)",
            )
            .in_file(info),
        );
        return;
    };
    let Some(tests) = parsed.regression_tests_info.filter(|t| !t.is_empty()) else {
        diags.push(
            Diagnostic::warning(
                "W-REGRESSION-NO-TESTS",
                "info.yml has no active `regression_tests_info`",
            )
            .in_file(info)
            .for_rule(rule.id.clone()),
        );
        return;
    };
    let dir = info.parent().unwrap_or(Path::new("."));
    let rule_path = rule_file_for(info, base);
    for t in tests {
        if t.kind.as_deref().is_some_and(|k| k != "evtx") {
            diags.push(
                Diagnostic::warning(
                    "W-REGRESSION-TYPE",
                    format!(
                        "test type `{}` is not read (only evtx)",
                        t.kind.as_deref().unwrap_or_default()
                    ),
                )
                .in_file(info)
                .for_rule(rule.id.clone()),
            );
            continue;
        }
        let evtx_path = t.path.as_deref().and_then(|p| {
            let full = base.join(p);
            if full.is_file() {
                return Some(full);
            }
            let local = dir.join(Path::new(p).file_name()?);
            local.is_file().then_some(local)
        });
        let json_path = evtx_path
            .as_ref()
            .map(|p| p.with_extension("json"))
            .filter(|p| p.is_file())
            .or_else(|| {
                let name = Path::new(t.path.as_deref()?).with_extension("json");
                let local = dir.join(name.file_name()?);
                local.is_file().then_some(local)
            });
        let mut case = RegressionCase {
            info_path: info.to_path_buf(),
            test_id: parsed.id.clone(),
            rule_id: rule.id.clone(),
            rule_title: rule.title.clone(),
            rule_path: rule_path.clone(),
            test_name: t.name.clone(),
            match_count: t.match_count,
            evtx_path: evtx_path.clone(),
            json_path: json_path.clone(),
            events_json: Vec::new(),
            events_evtx: Vec::new(),
        };
        if let Some(j) = &json_path {
            match std::fs::read_to_string(j)
                .map_err(|e| e.to_string())
                .and_then(|t| read_event_json(&t))
            {
                Ok(events) => case.events_json = events.iter().map(flatten_event).collect(),
                Err(e) => diags.push(
                    Diagnostic::error("E-REGRESSION-JSON", e)
                        .in_file(j)
                        .for_rule(rule.id.clone()),
                ),
            }
        }
        if let Some(ev) = &evtx_path {
            match read_evtx(ev) {
                Ok(events) => case.events_evtx = events.iter().map(flatten_event).collect(),
                Err(d) => diags.push(d.for_rule(rule.id.clone())),
            }
        }
        if evtx_path.is_none() && json_path.is_none() {
            diags.push(
                Diagnostic::warning(
                    "W-REGRESSION-MISSING",
                    "neither the .evtx nor the .json rendering of this test exists",
                )
                .in_file(info)
                .for_rule(rule.id.clone()),
            );
        }
        cases.push(case);
    }
}

/// `regression_data/<folder…>/<stem>/info.yml` tests `<folder…>/<stem>.yml`.
fn rule_file_for(info: &Path, base: &Path) -> Option<PathBuf> {
    let dir = info.parent()?;
    let rel = dir.strip_prefix(base.join("regression_data")).ok()?;
    let candidate = base.join(rel).with_extension("yml");
    candidate.is_file().then_some(candidate)
}

/// Parse a JSON rendering: one or more JSON values one after another (not an array, not JSONL).
pub fn read_event_json(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v {
            Ok(Value::Array(items)) => out.extend(items),
            Ok(v) => out.push(v),
            Err(e) => {
                return Err(format!(
                    "invalid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ))
            }
        }
    }
    Ok(out)
}

/// Read every record of an EVTX file as JSON (`{"Event": {…}}`, attributes under `#attributes`,
/// as `evtx_dump -o json` renders them).
pub fn read_evtx(path: &Path) -> Result<Vec<Value>, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error("E-REGRESSION-IO", format!("cannot read: {e}")).in_file(path)
    })?;
    read_evtx_bytes(&bytes).map_err(|d| d.in_file(path))
}

/// Read EVTX records from bytes (see [`read_evtx`]).
pub fn read_evtx_bytes(bytes: &[u8]) -> Result<Vec<Value>, Diagnostic> {
    // The parser is third-party code on untrusted bytes: never let a panic escape.
    let owned = bytes.to_vec();
    let res = std::panic::catch_unwind(move || -> Result<Vec<Value>, String> {
        let mut parser = evtx::EvtxParser::from_buffer(owned).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for rec in parser.records_json_value() {
            match rec {
                Ok(mut r) => {
                    normalize_evtx_json(&mut r.data, 0);
                    out.push(r.data)
                }
                Err(e) => return Err(format!("invalid EVTX record: {e}")),
            }
        }
        Ok(out)
    });
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Diagnostic::error("E-REGRESSION-EVTX", e)),
        Err(_) => Err(Diagnostic::error(
            "E-REGRESSION-EVTX",
            "the EVTX parser failed on this file",
        )),
    }
}

/// Match SigmaHQ's `.json` renderings: GUIDs as `XXXXXXXX-…` (the crate writes `{xxxxxxxx-…}`)
/// and `SystemTime` with microseconds (the crate writes 100 ns ticks). Text values are left as
/// recorded (the older renderer also trimmed trailing spaces, which changes `endswith` results).
fn normalize_evtx_json(v: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "SystemTime" {
                    if let Value::String(t) = x {
                        if let Some(short) = micro_time(t) {
                            *t = short;
                        }
                    }
                }
                normalize_evtx_json(x, depth + 1);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalize_evtx_json(x, depth + 1)),
        Value::String(t) => {
            if let Some(g) = crate_guid(t) {
                *t = g;
            }
        }
        _ => {}
    }
}

/// `{6b3dff46-f4e6-4cda-983b-76b101728aa5}` → `6B3DFF46-F4E6-4CDA-983B-76B101728AA5`.
fn crate_guid(t: &str) -> Option<String> {
    let inner = t.strip_prefix('{')?.strip_suffix('}')?;
    let b = inner.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        });
    ok.then(|| inner.to_ascii_uppercase())
}

/// `2026-03-11T05:16:41.8163273Z` → `2026-03-11T05:16:41.816327Z`.
fn micro_time(t: &str) -> Option<String> {
    let (head, frac) = t.strip_suffix('Z')?.split_once('.')?;
    (frac.len() == 7 && frac.bytes().all(|c| c.is_ascii_digit()))
        .then(|| format!("{head}.{}Z", &frac[..6]))
}

/// Flatten a Windows event (`{"Event": {"System": …, "EventData" | "UserData": …}}`) to Sigma
/// field names: System scalars keep their names, System attributes become `Tag_Attr`
/// (`Provider_Name`), EventData children keep their names with spaces removed, and UserData's
/// single child contributes its leaves. A value that is not such an event is returned as is.
pub fn flatten_event(raw: &Value) -> Value {
    let Some(ev) = raw.get("Event").and_then(Value::as_object) else {
        return raw.clone();
    };
    let mut out = Map::new();
    if let Some(sys) = ev.get("System").and_then(Value::as_object) {
        for (k, v) in sys {
            match v {
                Value::Null => {}
                Value::Object(o) => {
                    if let Some(t) = o.get("#text") {
                        out.insert(k.clone(), t.clone());
                    }
                    if let Some(Value::Object(attrs)) = o.get("#attributes") {
                        for (a, av) in attrs {
                            if !av.is_null() {
                                out.insert(format!("{k}_{a}"), av.clone());
                            }
                        }
                    }
                }
                other => {
                    out.insert(k.clone(), other.clone());
                }
            }
        }
    }
    if let Some(data) = ev.get("EventData") {
        match data {
            Value::Object(o) => {
                for (k, v) in o {
                    if k == "#attributes" {
                        continue;
                    }
                    if k == "Data" {
                        // Unnamed `<Data>` elements render as `Data: {"#text": [...]}`.
                        out.insert("Data".into(), text_of(v));
                        continue;
                    }
                    out.insert(
                        k.chars().filter(|c| !c.is_whitespace()).collect(),
                        text_of(v),
                    );
                }
            }
            Value::Null => {}
            other => {
                out.insert("EventData".into(), other.clone());
            }
        }
    }
    if let Some(Value::Object(user)) = ev.get("UserData") {
        for (_, child) in user.iter().filter(|(k, _)| *k != "#attributes") {
            collect_leaves(child, &mut out, 0);
        }
    }
    Value::Object(out)
}

fn text_of(v: &Value) -> Value {
    match v {
        Value::Object(o) => match o.get("#text") {
            Some(t) => t.clone(),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

fn collect_leaves(v: &Value, out: &mut Map<String, Value>, depth: usize) {
    let Value::Object(o) = v else { return };
    if depth > 16 {
        return;
    }
    for (k, v) in o {
        if k == "#attributes" {
            continue;
        }
        match v {
            Value::Object(inner) if !inner.contains_key("#text") => {
                collect_leaves(v, out, depth + 1)
            }
            Value::Null => {}
            other => {
                out.insert(
                    k.chars().filter(|c| !c.is_whitespace()).collect(),
                    text_of(other),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening_follows_the_sigma_names() {
        let raw = json!({"Event": {
            "#attributes": {"xmlns": "x"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{g}"}},
                "EventID": 1, "Correlation": null, "Channel": "Microsoft-Windows-Sysmon/Operational",
                "TimeCreated": {"#attributes": {"SystemTime": "2025-12-11T06:17:19.772545Z"}},
                "Execution": {"#attributes": {"ProcessID": 3208, "ThreadID": 1724}},
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": {"#attributes": {"Name": "x"}, "Image": "C:\\curl.exe", "Threat Name": "Evil", "ProcessId": 6400}
        }});
        let f = flatten_event(&raw);
        assert_eq!(f["EventID"], json!(1));
        assert_eq!(f["Provider_Name"], json!("Microsoft-Windows-Sysmon"));
        assert_eq!(f["Execution_ProcessID"], json!(3208));
        assert_eq!(f["Security_UserID"], json!("S-1-5-18"));
        assert_eq!(
            f["TimeCreated_SystemTime"],
            json!("2025-12-11T06:17:19.772545Z")
        );
        assert_eq!(f["ThreatName"], json!("Evil"));
        assert_eq!(f["Image"], json!("C:\\curl.exe"));
        assert!(f.get("Correlation").is_none());
        assert!(f.get("Name").is_none());
        let wmi = json!({"Event": {"System": {"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 5858}},
            "UserData": {"Operation_ClientFailure": {"#attributes": {"xmlns": "y"}, "Operation": "Start IWbemServices::ExecQuery", "User": "u"}}}});
        let f = flatten_event(&wmi);
        assert_eq!(f["EventID"], json!(5858));
        assert_eq!(f["EventID_Qualifiers"], json!(0));
        assert_eq!(f["Operation"], json!("Start IWbemServices::ExecQuery"));
        assert_eq!(f["User"], json!("u"));
    }

    #[test]
    fn concatenated_json_objects() {
        let t = "{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n";
        assert_eq!(
            read_event_json(t).expect("ok"),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        assert!(read_event_json("{\"a\": ").is_err());
    }

    #[test]
    fn evtx_values_normalised_like_the_json_renderings() {
        let mut v = json!({"a": "{6b3dff46-f4e6-4cda-983b-76b101728aa5}", "SystemTime": "2026-03-11T05:16:41.8163273Z",
            "b": "{6B3DFF46-F4E6-4CDA-983B-76B101728AA5}", "c": "text "});
        normalize_evtx_json(&mut v, 0);
        assert_eq!(
            v,
            json!({"a": "6B3DFF46-F4E6-4CDA-983B-76B101728AA5", "SystemTime": "2026-03-11T05:16:41.816327Z",
            "b": "{6B3DFF46-F4E6-4CDA-983B-76B101728AA5}", "c": "text "})
        );
    }

    #[test]
    fn bad_evtx_is_a_diagnostic() {
        assert!(read_evtx_bytes(b"not an evtx file").is_err());
        assert!(read_evtx_bytes(&[0u8; 70_000]).is_err());
    }
}
