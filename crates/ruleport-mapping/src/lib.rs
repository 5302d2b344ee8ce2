//! Log-source and field mappings, mapped rules and event views
