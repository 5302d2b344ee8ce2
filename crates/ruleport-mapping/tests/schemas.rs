//! The mapping data checked against the targets' real schemas in ../shared/schemas (env
//! RULEPORT_SHARED overrides; the test fails when the directory is missing):
//! - every Sentinel column a log source's table side names exists in that table, with the type
//!   the data records; a path below a column needs a `dynamic` column;
//! - every ECS field exists in ecs_flat.yml or belongs to a listed integration;
//! - Splunk field names appear in splunk/data_sources for the source or sourcetype, where the
//!   shared data sources describe it.

use ruleport_mapping::data::{kind_from_name, FieldRow, LogSourceMapping, SchemaSide};
use ruleport_mapping::Mapping;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("RULEPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.is_dir(),
        "shared directory {} is missing (set RULEPORT_SHARED)",
        dir.display()
    );
    dir
}

/// Columns every Log Analytics table has, missing from the documentation-derived schemas.
const STANDARD_COLUMNS: [(&str, &str); 5] = [
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("TenantId", "string"),
    ("SourceSystem", "string"),
    ("_ResourceId", "string"),
];

fn standard_type(c: &str) -> Option<&'static str> {
    STANDARD_COLUMNS
        .iter()
        .find(|(n, _)| *n == c)
        .map(|(_, t)| *t)
}

/// ECS names outside ecs_flat.yml that are integration or agent fields.
const INTEGRATION_PREFIXES: [&str; 19] = [
    "azure.",
    "aws.",
    "gcp.",
    "okta.",
    "github.",
    "o365.",
    "winlog.",
    "powershell.",
    "kubernetes.",
    "zeek.",
    "fortinet.",
    "google_workspace.",
    "auditd.",
    "file.Ext.",
    "process.Ext.",
    "dll.Ext.",
    "registry.data.",
    "observer.vendor",
    "tags",
];

type Tables = BTreeMap<String, BTreeMap<String, String>>;

fn sentinel_tables(shared: &Path) -> Tables {
    let mut tables = Tables::new();
    for f in [
        "azure_monitor_tables.json",
        "defender_xdr_tables.json",
        "asim_tables.json",
    ] {
        let p = shared.join("schemas/sentinel").join(f);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let t: Tables =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        tables.extend(t);
    }
    // Sentinel data connectors' custom tables: the emitter's own transcription, the file the
    // Kusto.Language check also reads.
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ruleport-sentinel/schemas/connector_tables.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let t: Tables = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    tables.extend(t);
    tables
}

/// The rows a log source sees: its own, then its field sets, then the common rows.
fn rows<'a>(m: &'a Mapping, l: &'a LogSourceMapping) -> Vec<(&'a FieldRow, bool)> {
    let mut out: Vec<(&FieldRow, bool)> = l.fields.iter().map(|r| (r, true)).collect();
    for s in &l.field_sets {
        let set = m
            .field_set(s)
            .unwrap_or_else(|| panic!("{}: unknown field set `{s}`", l.id));
        out.extend(set.iter().map(|r| (r, true)));
    }
    out.extend(m.common_fields().iter().map(|r| (r, false)));
    out
}

/// The Sentinel sides a log source has of its own, with the row key naming their columns.
fn own_sentinel_sides(l: &LogSourceMapping) -> Vec<(&'static str, &SchemaSide)> {
    let mut v = Vec::new();
    let sides = [
        ("sentinel", &l.sentinel),
        ("sentinel_sets", &l.sentinel_sets),
        ("sentinel_event", &l.sentinel_event),
        ("sentinel_xdr", &l.sentinel_xdr),
        ("sentinel_asim", &l.sentinel_asim),
    ];
    for (k, s) in sides {
        if let Some(s) = s {
            v.push((k, s));
        }
    }
    v
}

fn row_name<'a>(row: &'a FieldRow, key: &str, own: bool) -> Option<&'a str> {
    match key {
        "sentinel" | "sentinel_sets" => row.name(key),
        k => row
            .name(k)
            .or_else(|| row.name("sentinel_sets"))
            .or_else(|| (!own).then(|| row.name("sentinel")).flatten()),
    }
}

fn row_type<'a>(row: &'a FieldRow, key: &str) -> Option<&'a str> {
    row.types
        .get(key)
        .or_else(|| {
            key.starts_with("sentinel_")
                .then(|| row.types.get("sentinel_sets"))
                .flatten()
        })
        .map(String::as_str)
}

#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn sentinel_columns_exist_with_their_types() {
    let shared = shared_dir();
    let tables = sentinel_tables(&shared);
    let m = Mapping::builtin();
    let mut errors = Vec::new();
    let mut checked = 0;
    for l in m.logsources() {
        for (key, side) in own_sentinel_sides(l) {
            let Some(table) = &side.table else {
                errors.push(format!("{}: {key} side has no table", l.id));
                continue;
            };
            let Some(cols) = tables.get(table) else {
                errors.push(format!(
                    "{}: {key} table `{table}` is not in the shared schemas",
                    l.id
                ));
                continue;
            };
            let has = |c: &str| cols.contains_key(c) || standard_type(c).is_some();
            for g in side.match_spec.iter().flat_map(|s| s.groups()) {
                for f in g.keys() {
                    if !has(f) {
                        errors.push(format!("{}: {table} has no column `{f}` (match)", l.id));
                    }
                }
            }
            for (row, own) in rows(&m, l) {
                // A set-specific side names its columns under its own key (or sentinel_sets);
                // the generic side under `sentinel`.
                let name = if key == "sentinel" {
                    row.name("sentinel")
                } else {
                    row_name(row, key, own)
                };
                let Some(name) = name else { continue };
                if key != "sentinel"
                    && row.name(key).is_none()
                    && row.name("sentinel_sets").is_none()
                    && own
                {
                    continue;
                }
                checked += 1;
                // The column is the name up to the first member (`.b`) or element
                // (`[0]`, `[]`, `['b.c']`) step.
                let (column, below) = match name.find(['.', '[']) {
                    Some(i) => (&name[..i], Some(&name[i..])),
                    None => (name, None),
                };
                let column = column.trim_end_matches('*');
                let Some(ty) = cols
                    .get(column)
                    .map(String::as_str)
                    .or_else(|| standard_type(column))
                else {
                    errors.push(format!(
                        "{}: {table} has no column `{column}` (field `{name}`)",
                        l.id
                    ));
                    continue;
                };
                let declared = if key == "sentinel" {
                    row.types.get("sentinel").map(String::as_str)
                } else {
                    row_type(row, key)
                };
                // A path typed dynamic below a string column reads JSON text (`parse_json`).
                let json_text = ty.eq_ignore_ascii_case("string") && declared == Some("dynamic");
                if below.is_some() && !ty.eq_ignore_ascii_case("dynamic") && !json_text {
                    errors.push(format!(
                        "{}: `{name}` reads below `{column}`, a {ty} column of {table}",
                        l.id
                    ));
                }
                if let (Some(d), None) = (declared, below) {
                    if kind_from_name(d) != kind_from_name(ty) {
                        errors.push(format!(
                            "{}: `{name}` is declared {d}, {table} has {ty}",
                            l.id
                        ));
                    }
                }
            }
        }
    }
    eprintln!("{checked} Sentinel column uses checked");
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

fn ecs_fields(shared: &Path) -> BTreeMap<String, String> {
    let p = shared.join("schemas/ecs/ecs_flat.yml");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: BTreeMap<String, serde_yaml::Value> =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v.into_iter()
        .map(|(k, f)| {
            let t = f
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string();
            (k, t)
        })
        .collect()
}

#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn ecs_fields_exist_in_ecs_or_a_known_integration() {
    let shared = shared_dir();
    let ecs = ecs_fields(&shared);
    let m = Mapping::builtin();
    let mut errors = Vec::new();
    let mut checked = 0;
    let mut check = |who: &str, name: &str, declared: Option<&str>, errors: &mut Vec<String>| {
        checked += 1;
        if INTEGRATION_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return;
        }
        if name.contains('*') {
            errors.push(format!(
                "{who}: pattern `{name}` is outside the listed integration prefixes"
            ));
            return;
        }
        match ecs.get(name) {
            None => {
                // A path below an object or flattened field.
                let parent_ok = ecs.iter().any(|(k, t)| {
                    matches!(t.as_str(), "object" | "flattened" | "nested")
                        && name.starts_with(&format!("{k}."))
                });
                if !parent_ok {
                    errors.push(format!("{who}: `{name}` is not an ECS field"));
                }
            }
            Some(t) => {
                if let Some(d) = declared {
                    if kind_from_name(d) != kind_from_name(t) {
                        errors.push(format!("{who}: `{name}` is declared {d}, ECS says {t}"));
                    }
                }
            }
        }
    };
    for l in m.logsources() {
        if let Some(side) = &l.ecs {
            for g in side.match_spec.iter().flat_map(|s| s.groups()) {
                for f in g.keys() {
                    check(&l.id, f, None, &mut errors);
                }
            }
        }
        for (row, _) in rows(&m, l) {
            if let Some(n) = row.name("ecs") {
                check(
                    &l.id,
                    n,
                    row.types.get("ecs").map(String::as_str),
                    &mut errors,
                );
            }
        }
    }
    eprintln!("{checked} ECS field uses checked");
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// System properties the Windows add-on extracts from every XML-rendered event (the Sysmon data
/// sources list them all; descriptions of other channels list those their sample carried).
const XML_SYSTEM_FIELDS: [&str; 12] = [
    "EventCode",
    "EventID",
    "Channel",
    "Computer",
    "Name",
    "Guid",
    "UserID",
    "EventRecordID",
    "ProcessID",
    "ThreadID",
    "Keywords",
    "Level",
];

/// Sourcetypes whose records are `key=value` pairs that Splunk extracts automatically under the
/// key's own name (the data-source snapshot lists only the keys of its sample records).
const KV_SOURCETYPES: [&str; 1] = ["linux:audit"];

#[test]
#[ignore = "needs ../shared; run by .ci/run"]
fn splunk_fields_follow_the_data_sources() {
    let shared = shared_dir();
    let dir = shared.join("schemas/splunk/data_sources");
    // (source, sourcetype, event code for per-EventID descriptions, fields)
    let mut sources: Vec<(String, String, Option<i64>, BTreeSet<String>)> = Vec::new();
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
            continue;
        };
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        let fields: BTreeSet<String> = v
            .get("fields")
            .and_then(|f| f.as_sequence())
            .map(|f| {
                f.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let code = (s("separator") == "eventid")
            .then(|| {
                s("name")
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .flatten();
        sources.push((s("source"), s("sourcetype"), code, fields));
    }
    let m = Mapping::builtin();
    let mut errors = Vec::new();
    let mut unvalidated = Vec::new();
    let mut checked = 0;
    for l in m.logsources() {
        let Some(side) = &l.splunk else { continue };
        let mut wanted: Vec<String> = Vec::new();
        let mut codes: Vec<i64> = Vec::new();
        for g in side.match_spec.iter().flat_map(|s| s.groups()) {
            for key in ["source", "sourcetype"] {
                if let Some(v) = g.get(key) {
                    wanted.extend(
                        v.values()
                            .iter()
                            .filter_map(|x| x.as_str())
                            .map(str::to_ascii_lowercase),
                    );
                }
            }
            if let Some(v) = g.get("EventCode") {
                codes.extend(v.values().iter().filter_map(|x| x.as_i64()));
            }
        }
        // A description counts when it names enough fields to be one (some list only a few).
        let known: BTreeSet<&String> = sources
            .iter()
            .filter(|(so, st, code, f)| {
                f.len() >= 10
                    && (wanted.contains(so) || wanted.contains(st))
                    && (codes.is_empty() || code.is_none_or(|c| codes.contains(&c)))
            })
            .filter(|(_, _, code, _)| codes.is_empty() || code.is_some())
            .flat_map(|(_, _, _, f)| f)
            .collect();
        let xml = wanted.iter().any(|w| w.starts_with("xmlwineventlog"));
        if wanted.iter().any(|w| KV_SOURCETYPES.contains(&w.as_str())) {
            unvalidated.push(format!("{} (key=value extraction)", l.id));
            continue;
        }
        if known.is_empty() {
            unvalidated.push(l.id.clone());
            continue;
        }
        for (row, own) in rows(&m, l) {
            let Some(n) = row.name("splunk") else {
                continue;
            };
            if !own || n.contains('*') || n.starts_with('_') {
                continue;
            }
            if xml && XML_SYSTEM_FIELDS.contains(&n) {
                continue;
            }
            checked += 1;
            let object = row
                .types
                .values()
                .any(|t| matches!(t.as_str(), "dynamic" | "object" | "flattened"));
            if object && known.iter().any(|k| k.starts_with(&format!("{n}."))) {
                continue;
            }
            if !known.contains(&n.to_string()) {
                errors.push(format!(
                    "{}: `{n}` is not a field of {:?} in the data sources",
                    l.id, wanted
                ));
            }
        }
    }
    eprintln!(
        "{checked} Splunk field uses checked; no shared data source describes: {}",
        unvalidated.join(", ")
    );
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
}
