//! Microsoft Sentinel KQL (Kusto): emitter, parser and evaluator for the emitted subset
