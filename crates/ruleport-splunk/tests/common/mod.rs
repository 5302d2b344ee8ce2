//! Shared helpers: build mapped rules, and check emit → parse → evaluate against the rule model.
#![allow(dead_code, unreachable_pub)]

use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{
    Case, Detection, EventFilter, Expr, LogSource, MappedRule, Op, Port, Provenance, QueryLanguage,
    Rule, RuleMeta, Schema, SourceFormat, SourceSelection, StrPattern, Subject,
};
use ruleport_splunk::Splunk;
use serde_json::Value;

pub fn rule(detection: Detection) -> Rule {
    Rule {
        meta: RuleMeta {
            id: "test".into(),
            title: "test".into(),
            ..RuleMeta::default()
        },
        logsource: LogSource::default(),
        detection,
        schema: Schema::Splunk,
        format: SourceFormat::Sigma,
        language: "sigma".into(),
        original_query: None,
        provenance: Provenance::default(),
    }
}

pub fn mapped(detection: Detection, selection: Option<Expr>) -> MappedRule {
    let mut m = MappedRule::identity(rule(detection));
    m.target_schema = Schema::Splunk;
    m.selection = SourceSelection {
        condition: selection,
        ..SourceSelection::default()
    };
    m
}

pub fn query(expr: Expr) -> MappedRule {
    mapped(Detection::Query(EventFilter::new(expr)), None)
}

pub fn eq(f: &str, v: &str) -> Expr {
    Expr::matches(f, StrPattern::literal(v), Case::Insensitive)
}

pub fn eq_cased(f: &str, v: &str) -> Expr {
    Expr::matches(f, StrPattern::literal(v), Case::Sensitive)
}

pub fn glob(f: &str, g: &str, case: Case) -> Expr {
    Expr::matches(f, StrPattern::from_glob_unescaped(g), case)
}

pub fn keyword(p: StrPattern) -> Expr {
    Expr::pred(
        Subject::Keyword,
        Op::Match {
            pattern: p,
            case: Case::Insensitive,
        },
    )
}

pub fn emit(m: &MappedRule) -> Port {
    Splunk::new()
        .emit(m)
        .unwrap_or_else(|u| panic!("emit failed: {u}"))
}

/// The rule model's verdicts with the selection condition ANDed in (what the SPL must do).
pub fn reference(m: &MappedRule, events: &[Value]) -> Vec<Vec<usize>> {
    let mut r = m.rule.clone();
    if let (Some(sel), Detection::Query(f)) = (&m.selection.condition, &mut r.detection) {
        f.expr = Expr::and(vec![sel.clone(), f.expr.clone()]);
    }
    RuleEvaluator::new(&r)
        .expect("reference compiles")
        .run(events, None)
}

/// Run emitted SPL with the Splunk evaluator.
pub fn run_spl(text: &str, events: &[Value]) -> Vec<Vec<usize>> {
    let q = Splunk::new()
        .compile(text)
        .unwrap_or_else(|d| panic!("emitted SPL does not parse: {d}\n{text}"));
    q.run(events).expect("runs")
}

/// Emit, parse back, evaluate, and compare the matched events with the rule model.
pub fn check_query(m: &MappedRule, events: &[Value]) -> Port {
    let port = emit(m);
    let got = run_spl(&port.text, events);
    let want = reference(m, events);
    assert_eq!(
        got, want,
        "SPL and rule model disagree\nSPL:\n{}\nevents: {events:#?}",
        port.text
    );
    port
}
