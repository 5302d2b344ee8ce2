//! Elastic detection-rules TOML importer and exporter
