//! Sigma YAML importer and exporter
