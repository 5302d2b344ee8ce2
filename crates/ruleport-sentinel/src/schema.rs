//! Sentinel table schemas (`schemas/*.json`): which columns a table has and their Kusto types.

use ruleport_model::FieldKind;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Columns every Log Analytics table has, with their types.
pub const STANDARD_COLUMNS: &[(&str, &str)] = &[
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("SourceSystem", "string"),
    ("_ResourceId", "string"),
    ("_SubscriptionId", "string"),
    ("_BilledSize", "real"),
    ("_IsBillable", "string"),
    ("_ItemId", "string"),
];

const FILES: &[&str] = &[
    include_str!("../schemas/azure_monitor_tables.json"),
    include_str!("../schemas/defender_xdr_tables.json"),
    include_str!("../schemas/asim_tables.json"),
    include_str!("../schemas/connector_tables.json"),
];

/// Table name → column name → Kusto type.
#[derive(Debug, Clone, Default)]
pub struct TableSchemas {
    tables: BTreeMap<String, BTreeMap<String, String>>,
}

/// What a schema says about a column of the tables a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnLookup {
    /// Some table has the column, with this Kusto type (the first table's).
    Known(String),
    /// Every table is known and none has the column.
    Missing,
    /// A table is not in the schemas: the column cannot be checked.
    Unchecked,
}

impl TableSchemas {
    /// The schemas shipped with this crate.
    pub fn builtin() -> &'static TableSchemas {
        static BUILTIN: OnceLock<TableSchemas> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut s = TableSchemas::default();
            for text in FILES {
                // The files are part of the crate and tested; a broken one gives no tables.
                if let Ok(map) =
                    serde_json::from_str::<BTreeMap<String, BTreeMap<String, String>>>(text)
                {
                    s.add(map);
                }
            }
            s
        })
    }

    /// Add tables (merging columns into existing ones), with the standard columns.
    pub fn add(&mut self, tables: BTreeMap<String, BTreeMap<String, String>>) {
        for (t, cols) in tables {
            let entry = self.tables.entry(t).or_default();
            for (c, ty) in STANDARD_COLUMNS {
                entry.entry(c.to_string()).or_insert_with(|| ty.to_string());
            }
            entry.extend(cols);
        }
    }

    /// Whether the schemas know the table.
    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The columns of a table.
    pub fn columns(&self, table: &str) -> Option<&BTreeMap<String, String>> {
        self.tables.get(table)
    }

    /// Look a column up across the tables a query reads (a `union` has every leg's columns).
    pub fn lookup(&self, tables: &[String], column: &str) -> ColumnLookup {
        let mut unchecked = tables.is_empty();
        for t in tables {
            match self.tables.get(t) {
                Some(cols) => {
                    if let Some(ty) = cols.get(column) {
                        return ColumnLookup::Known(ty.clone());
                    }
                }
                None => unchecked = true,
            }
        }
        if unchecked {
            ColumnLookup::Unchecked
        } else {
            ColumnLookup::Missing
        }
    }
}

/// The field kind of a Kusto type name.
pub fn kind_of_type(ty: &str) -> FieldKind {
    match ty.to_ascii_lowercase().as_str() {
        "long" | "int" => FieldKind::Integer,
        "real" | "double" | "decimal" => FieldKind::Float,
        "bool" | "boolean" => FieldKind::Bool,
        "datetime" | "date" => FieldKind::Date,
        "dynamic" => FieldKind::Dynamic,
        "guid" | "uniqueid" => FieldKind::Guid,
        _ => FieldKind::Keyword,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_load() {
        let s = TableSchemas::builtin();
        assert!(
            s.has_table("AuditLogs")
                && s.has_table("DeviceProcessEvents")
                && s.has_table("SecurityEvent")
        );
        let t = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            s.lookup(&t(&["SecurityEvent"]), "EventID"),
            ColumnLookup::Known("int".into())
        );
        assert_eq!(
            s.lookup(&t(&["AuditLogs"]), "TenantId"),
            ColumnLookup::Known("string".into())
        );
        assert_eq!(
            s.lookup(&t(&["AuditLogs"]), "Hashes"),
            ColumnLookup::Missing
        );
        assert_eq!(
            s.lookup(&t(&["AuditLogs", "Custom_CL"]), "Hashes"),
            ColumnLookup::Unchecked
        );
        assert_eq!(
            s.lookup(&t(&["IdentityInfo"]), "Timestamp"),
            ColumnLookup::Known("datetime".into()),
            "markdown residue is cleaned from names"
        );
    }
}

/// Elastic Defend data that Defender XDR's `Device*` tables have no column for, with what the
/// datum is: a rule reading one cannot be ported to those tables, whatever the mapping.
/// `*` stands for any run of path segments.
const UNRECORDED_BY_DEFENDER: &[(&str, &str)] = &[
    ("process.args_count", "the number of arguments"),
    (
        "process.parent.args_count",
        "the parent's number of arguments",
    ),
    (
        "process.working_directory",
        "the process's working directory",
    ),
    (
        "process.parent.working_directory",
        "the parent's working directory",
    ),
    ("process.env_vars", "environment variables"),
    (
        "process.interactive",
        "whether the process has a controlling terminal",
    ),
    ("*.entry_leader.*", "Linux session entry leaders"),
    ("*.session_leader.*", "Linux session leaders"),
    ("*.group_leader.*", "Linux process-group leaders"),
    ("process.thread.capabilities.*", "Linux thread capabilities"),
    ("container.*", "container context"),
    ("orchestrator.*", "container orchestrator context"),
    ("*.Ext.*", "Elastic Defend's extended (`Ext`) fields"),
];

/// What `field` is, when it is Elastic Defend data no Defender `Device*` table records and
/// every table in `tables` is such a table.
pub fn unrecorded_by_defender(tables: &[String], field: &str) -> Option<&'static str> {
    if tables.is_empty() || !tables.iter().all(|t| t.starts_with("Device")) {
        return None;
    }
    UNRECORDED_BY_DEFENDER
        .iter()
        .find(|(pattern, _)| segment_glob(pattern, field))
        .map(|(_, what)| *what)
}

/// `a.*.b` where `*` is one or more whole segments.
fn segment_glob(pattern: &str, field: &str) -> bool {
    fn go(p: &[&str], f: &[&str]) -> bool {
        match (p.split_first(), f.split_first()) {
            (None, None) => true,
            (Some((&"*", rest)), Some(_)) => (1..=f.len()).any(|n| go(rest, &f[n..])),
            (Some((x, rest)), Some((y, frest))) => x == y && go(rest, frest),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let f: Vec<&str> = field.split('.').collect();
    go(&p, &f)
}

#[cfg(test)]
mod unrecorded_tests {
    use super::*;

    #[test]
    fn defender_tables_record_no_elastic_defend_only_data() {
        let device = vec!["DeviceProcessEvents".to_string()];
        assert_eq!(
            unrecorded_by_defender(&device, "process.args_count"),
            Some("the number of arguments")
        );
        assert!(unrecorded_by_defender(&device, "process.entry_leader.entry_meta.type").is_some());
        assert!(unrecorded_by_defender(&device, "process.parent.group_leader.pid").is_some());
        assert!(unrecorded_by_defender(&device, "file.Ext.header_bytes").is_some());
        assert!(unrecorded_by_defender(&device, "container.id").is_some());
        // `*` is at least one segment: `Ext` alone, or a field merely ending in it, is not matched.
        assert_eq!(unrecorded_by_defender(&device, "Ext"), None);
        assert_eq!(unrecorded_by_defender(&device, "process.name"), None);
        assert_eq!(unrecorded_by_defender(&device, "containers.id"), None);
        // Only Defender's tables: Syslog or a union with another table says nothing.
        let other = vec!["Syslog".to_string()];
        assert_eq!(unrecorded_by_defender(&other, "process.args_count"), None);
        let mixed = vec![
            "DeviceProcessEvents".to_string(),
            "SecurityEvent".to_string(),
        ];
        assert_eq!(unrecorded_by_defender(&mixed, "process.args_count"), None);
    }
}
