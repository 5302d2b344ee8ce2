//! Emitter round trip: a kuery or EQL query (first byte picks) is lowered to the rule model and
//! written by every emitter; whatever an emitter produces must parse back with its own parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ruleport_model::{
    Detection, EventFilter, FieldKind, MappedRule, Provenance, QueryLanguage, Rule, RuleFormat,
    RuleMeta, Schema, SourceFormat, SourceSelection,
};

fn mapped(detection: Detection, schema: Schema) -> MappedRule {
    let rule = Rule {
        meta: RuleMeta {
            id: "fuzz".into(),
            title: "fuzz".into(),
            ..RuleMeta::default()
        },
        logsource: Default::default(),
        detection,
        schema: Schema::Ecs,
        format: SourceFormat::ElasticToml,
        language: "kuery".into(),
        original_query: None,
        provenance: Provenance::default(),
    };
    let mut m = MappedRule::identity(rule);
    m.target_schema = schema;
    if schema == Schema::Sentinel {
        m.selection = SourceSelection {
            tables: vec!["T".into()],
            ..SourceSelection::default()
        };
        for f in m.rule.detection.filters().iter().flat_map(|f| f.expr.fields()) {
            m.field_kinds.insert(f, FieldKind::Keyword);
        }
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let det = if sel & 1 == 0 {
        match ruleport_kuery::parse_to_expr(text) {
            Ok(e) => Detection::Query(EventFilter::new(e)),
            Err(_) => return,
        }
    } else {
        match ruleport_eql::parse_to_detection(text) {
            Ok(d) => d,
            Err(_) => return,
        }
    };
    let langs: [(&dyn QueryLanguage, Schema); 4] = [
        (&ruleport_kuery::Kuery, Schema::Ecs),
        (&ruleport_eql::Eql, Schema::Ecs),
        (&ruleport_splunk::Splunk::default(), Schema::Splunk),
        (&ruleport_sentinel::Sentinel, Schema::Sentinel),
    ];
    for (lang, schema) in langs {
        if let Ok(port) = lang.emit(&mapped(det.clone(), schema)) {
            if let Err(d) = lang.compile(&port.text) {
                panic!("{} output does not parse back: {d}\n--- query\n{}", lang.id(), port.text);
            }
        }
    }
    let formats: [&dyn RuleFormat; 2] = [&ruleport_sigma::SigmaFormat, &ruleport_elastic::ElasticFormat];
    for f in formats {
        if let Ok(port) = f.export(&mapped(det.clone(), f.schema())) {
            if let Err(d) = f.import_text(&port.text, None) {
                let msgs: Vec<String> = d.iter().map(|d| d.to_string()).collect();
                panic!("{} export does not read back: {msgs:?}\n--- text\n{}", f.id(), port.text);
            }
        }
    }
});
