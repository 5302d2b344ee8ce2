//! Kibana KQL (kuery): parser, lowering, emitter and evaluator
