//! Elasticsearch EQL: parser, lowering, emitter and evaluator
