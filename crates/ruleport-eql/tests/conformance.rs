//! Elasticsearch's own EQL spec tests (x-pack/plugin/eql/qa/common/src/main/resources), run on
//! their data with the loading rules of the Elasticsearch harness (see the suite's README).

use ruleport_eql::{compile, emit_detection, parse, parse_to_detection, CompiledEql, KeyValue};
use ruleport_model::eval::CompiledFilter;
use ruleport_model::event::parse_rfc3339;
use ruleport_model::{Detection, FieldKind};
use serde_json::Value;
use std::path::PathBuf;

fn shared_dir() -> PathBuf {
    std::env::var_os("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

struct Spec {
    file: String,
    name: String,
    query: String,
    /// Any one of these id lists is accepted.
    expected: Vec<Vec<i64>>,
    join_keys: Vec<String>,
}

fn load_specs(path: &std::path::Path) -> Vec<Spec> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(toml::Value::Array(queries)) = doc.get("queries") else {
        return vec![];
    };
    queries
        .iter()
        .filter_map(|q| {
            let q = q.as_table()?;
            let name = q.get("name")?.as_str()?.to_string();
            let query = q.get("query")?.as_str()?.trim().to_string();
            let ids = q.get("expected_event_ids")?.as_array()?;
            let expected = if ids.iter().all(|v| v.is_array()) && !ids.is_empty() {
                ids.iter()
                    .map(|v| {
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|x| x.as_integer())
                            .collect()
                    })
                    .collect()
            } else {
                vec![ids.iter().filter_map(|x| x.as_integer()).collect()]
            };
            let join_keys = q
                .get("join_keys")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Some(Spec {
                file: file.clone(),
                name,
                query,
                expected,
                join_keys,
            })
        })
        .collect()
}

fn read_json_array(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Elasticsearch's JSON parser accepts `//` comment lines.
    let stripped: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    match serde_json::from_str::<Value>(&stripped) {
        Ok(Value::Array(a)) => a,
        other => panic!("{}: not a JSON array: {other:?}", path.display()),
    }
}

fn set(doc: &mut Value, key: &str, v: Value) {
    if let Value::Object(m) = doc {
        m.insert(key.to_string(), v);
    }
}

/// `event.category` is an alias of `event_type` in every suite's mapping.
fn alias_category(doc: &mut Value) {
    let cat = doc.get("event_type").cloned().unwrap_or(Value::Null);
    let mut ev = serde_json::Map::new();
    ev.insert("category".into(), cat);
    set(doc, "event", Value::Object(ev));
}

/// The main index: `@timestamp` from the FILETIME `timestamp`, ordered by the tiebreaker.
fn endgame_events(dir: &std::path::Path) -> (Vec<Value>, &'static str) {
    let mut events = read_json_array(&dir.join("test_data.json"));
    for e in &mut events {
        let ts = e.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
        set(
            e,
            "@timestamp",
            Value::from(ts / 10_000 - 11_644_473_600_000),
        );
        alias_category(e);
    }
    events.sort_by_key(|e| {
        e.get("serial_event_id")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    });
    (events, "serial_event_id")
}

fn missing_events(dir: &std::path::Path) -> (Vec<Value>, &'static str) {
    let mut events = read_json_array(&dir.join("data/missing-events.data"));
    for e in &mut events {
        alias_category(e);
    }
    // Tiebreaker `sequence`: order equal timestamps by it (the evaluator keeps input order).
    events.sort_by_key(|e| e.get("sequence").and_then(Value::as_i64).unwrap_or(0));
    (events, "sequence")
}

/// `dd-MM-yyyy` or `yyyy-MM-dd` dates as epoch milliseconds (the indices' date formats).
fn date_millis(s: &str, day_first: bool) -> Option<i64> {
    let iso = if day_first {
        let p: Vec<&str> = s.split('-').collect();
        if p.len() != 3 {
            return None;
        }
        format!("{}-{}-{}", p[2], p[1], p[0])
    } else {
        s.to_string()
    };
    parse_rfc3339(&iso)
}

fn sample_events(dir: &std::path::Path) -> (Vec<Value>, &'static str) {
    let mut all = Vec::new();
    for (file, pretty_day_first) in [
        ("sample1.data", true),
        ("sample2.data", false),
        ("sample3.data", false),
    ] {
        for mut e in read_json_array(&dir.join("data").join(file)) {
            alias_category(&mut e);
            // Date fields are read back as dates: normalise them to epoch millis.
            if let Some(s) = e
                .get("@timestamp_pretty")
                .and_then(Value::as_str)
                .map(String::from)
            {
                if let Some(ms) = date_millis(&s, pretty_day_first) {
                    set(&mut e, "@timestamp_pretty", Value::from(ms));
                }
            }
            if let Some(s) = e.get("date").and_then(Value::as_str).map(String::from) {
                if let Ok(ms) = s.parse::<i64>() {
                    set(&mut e, "date", Value::from(ms));
                }
            }
            if let Some(s) = e
                .get("@timestamp")
                .and_then(Value::as_str)
                .map(String::from)
            {
                if let Ok(ms) = s.parse::<i64>() {
                    set(&mut e, "@timestamp", Value::from(ms));
                }
            }
            all.push(e);
        }
    }
    (all, "id")
}

/// Elasticsearch's `size` in the harness.
const SIZE: usize = 50;

fn run_spec(spec: &Spec, events: &[Value], id_field: &str) -> Result<(), String> {
    let q = compile(&spec.query).map_err(|d| format!("does not parse: {d}"))?;
    let mut matches = q.run_matches(events);
    matches.truncate(SIZE);
    let mut ids = Vec::new();
    let mut keys = Vec::new();
    for m in &matches {
        for e in &m.events {
            ids.push(match e {
                Some(i) => events[*i]
                    .get(id_field)
                    .and_then(Value::as_i64)
                    .unwrap_or(-2),
                None => -1,
            });
        }
        keys.extend(m.keys.iter().map(KeyValue::as_text));
    }
    if !spec.expected.contains(&ids) {
        return Err(format!("expected {:?}, got {ids:?}", spec.expected));
    }
    if !spec.join_keys.is_empty() && keys != spec.join_keys {
        return Err(format!(
            "join keys: expected {:?}, got {keys:?}",
            spec.join_keys
        ));
    }
    Ok(())
}

#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn elasticsearch_eql_spec_tests() {
    let dir = shared_dir().join("conformance/eql-es");
    assert!(dir.is_dir(), "conformance suite missing: {}", dir.display());
    let suites = [
        ("test_queries.toml", endgame_events(&dir)),
        ("additional_test_queries.toml", endgame_events(&dir)),
        ("test_missing_events.toml", missing_events(&dir)),
        ("test_sample.toml", sample_events(&dir)),
    ];
    let mut total = 0usize;
    let mut passed = 0usize;
    let mut failures = Vec::new();
    for (file, (events, id_field)) in &suites {
        let specs = load_specs(&dir.join(file));
        let mut file_pass = 0;
        for spec in &specs {
            total += 1;
            match run_spec(spec, events, id_field) {
                Ok(()) => {
                    passed += 1;
                    file_pass += 1;
                }
                Err(why) => failures.push(format!("{}::{}: {why}", spec.file, spec.name)),
            }
        }
        println!("{file}: {file_pass}/{} pass", specs.len());
    }
    let rate = passed as f64 * 100.0 / total.max(1) as f64;
    println!("EQL conformance: {passed}/{total} specs pass ({rate:.1}%)");
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(total > 200, "too few specs loaded ({total})");
    assert!(rate >= 95.0, "conformance {rate:.1}% is below 95%");
}

/// The lowering must mean what the evaluator computes: for every spec query, the reference
/// evaluator on the lowered filters agrees with the EQL evaluator event by event, and the
/// emitted text (model → EQL) gives the same results as the original text.
#[test]
#[ignore = "needs the shared corpus ($RULEPORT_SHARED or ../shared); run by .ci/run"]
fn lowering_and_emitting_agree_with_the_evaluator() {
    let dir = shared_dir().join("conformance/eql-es");
    assert!(dir.is_dir(), "conformance suite missing: {}", dir.display());
    let suites = [
        ("test_queries.toml", endgame_events(&dir)),
        ("additional_test_queries.toml", endgame_events(&dir)),
        ("test_missing_events.toml", missing_events(&dir)),
        ("test_sample.toml", sample_events(&dir)),
    ];
    let (mut filters, mut emitted) = (0, 0);
    let mut failures = Vec::new();
    for (file, (events, _)) in &suites {
        for spec in load_specs(&dir.join(file)) {
            // `?x == ?y` on two unmapped optional fields is `null == null` (true) in
            // Elasticsearch; the model has no notion of a field's mapping and keeps a field
            // comparison, which Elasticsearch would reject for mapped fields.
            if spec.name == "optionalFieldAsQueryKeysOnly" {
                continue;
            }
            let Ok(mut q) = parse(&spec.query) else {
                continue;
            };
            q.pipes.clear();
            let det = match ruleport_eql::lower(&q) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{}: lowering failed: {e}", spec.name));
                    continue;
                }
            };
            // Filter by filter: reference semantics on the IR vs the EQL evaluator.
            let eq_queries = q.event_queries().into_iter().cloned().collect::<Vec<_>>();
            for (i, (f, eqq)) in det.filters().into_iter().zip(eq_queries).enumerate() {
                let reference =
                    CompiledFilter::compile(f, "event.category").expect("reference compiles");
                let single = ruleport_eql::ast::Query {
                    body: ruleport_eql::ast::Body::Event(eqq),
                    pipes: vec![],
                };
                let ours = CompiledEql::new(single).expect("compiles");
                let hits: std::collections::BTreeSet<usize> = ours
                    .run_matches(events)
                    .iter()
                    .filter_map(|m| m.events[0])
                    .collect();
                for (e, doc) in events.iter().enumerate() {
                    if reference.matches(doc) != hits.contains(&e) {
                        failures.push(format!("{}: filter {i} disagrees on event {e}", spec.name));
                        break;
                    }
                }
                filters += 1;
            }
            // Model → EQL → results.
            let (text, _) = match emit_detection(&det, &|_| FieldKind::Unknown) {
                Ok(t) => t,
                Err(u) => {
                    failures.push(format!("{}: emit failed: {u}", spec.name));
                    continue;
                }
            };
            let original = CompiledEql::new(q).expect("compiles").run_matches(events);
            match compile(&text) {
                Ok(c) if c.run_matches(events) == original => emitted += 1,
                Ok(_) => failures.push(format!(
                    "{}: emitted text gives other results:\n{text}",
                    spec.name
                )),
                Err(e) => failures.push(format!(
                    "{}: emitted text does not parse: {e}\n{text}",
                    spec.name
                )),
            }
            if let Detection::Query(_) = det {
                let again = parse_to_detection(&text).expect("reparses");
                if again != det {
                    failures.push(format!("{}: model changes after a round trip", spec.name));
                }
            }
        }
    }
    println!("lowering agreement: {filters} filters checked; {emitted} emitted queries agree");
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(failures.is_empty());
}
