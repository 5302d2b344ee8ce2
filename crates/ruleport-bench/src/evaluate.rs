//! Evaluator throughput: N single-event rules over M events, with and without log-source routing.

use crate::stats::{self, Runs, Spread};
use rayon::prelude::*;
use ruleport_mapping::Mapping;
use ruleport_model::eval::{RuleEvaluator, RuleSet};
use ruleport_model::event::{lookup, scalar_text};
use ruleport_model::{Detection, LogSource, Rule, Schema};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Rules compiled for evaluation: each on its own (the per-rule reference API), and all in one
/// [`ruleport_model::eval::RuleSet`] (shared field table, candidate index).
pub(crate) struct Rules<'r> {
    pub(crate) rules: Vec<&'r Rule>,
    pub(crate) single: Vec<RuleEvaluator<'r>>,
    pub(crate) set: RuleSet<'r>,
    /// Single-event rules that did not compile, and rules that are not single-event.
    pub(crate) not_compiled: usize,
    pub(crate) not_single_event: usize,
}

impl<'r> Rules<'r> {
    /// The single-event rules of `all`, compiled both ways.
    pub(crate) fn new(all: &'r [Rule]) -> Rules<'r> {
        let mut rules = Vec::new();
        let mut single = Vec::new();
        let mut not_compiled = 0;
        let mut not_single_event = 0;
        for r in all {
            if !matches!(r.detection, Detection::Query(_)) {
                not_single_event += 1;
                continue;
            }
            match RuleEvaluator::new(r) {
                Ok(ev) => {
                    rules.push(r);
                    single.push(ev);
                }
                Err(_) => not_compiled += 1,
            }
        }
        let (set, errors) = RuleSet::new(rules.iter().copied());
        debug_assert!(errors.is_empty());
        Rules {
            rules,
            single,
            set,
            not_compiled,
            not_single_event,
        }
    }
}

/// Log-source routing: which rules an event can belong to, by the mapping's own gate
/// (`Mapping::event_in_logsource`), indexed by the values of the fields the mapping classifies
/// events with (Channel, EventID, …). Rules with the same log source share one gate call.
pub(crate) struct Router<'m> {
    mapping: &'m Mapping,
    /// The fields the Sigma-side match conditions read.
    key_fields: Vec<String>,
    /// Distinct log sources and the rules (indexes) that have each.
    groups: Vec<(LogSource, Vec<u32>)>,
    /// Rules without a log source (always evaluated).
    ungated: Vec<u32>,
}

impl<'m> Router<'m> {
    pub(crate) fn new(mapping: &'m Mapping, rules: &[&Rule]) -> Router<'m> {
        let side_key = mapping.key(Schema::Sigma);
        let mut key_fields: Vec<String> = mapping
            .logsources()
            .iter()
            .filter_map(|l| l.side(side_key).and_then(|s| s.match_spec.as_ref()))
            .flat_map(|spec| spec.groups().into_iter().flat_map(|g| g.keys().cloned()))
            .collect();
        key_fields.sort();
        key_fields.dedup();
        let mut by_ls: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<(LogSource, Vec<u32>)> = Vec::new();
        let mut ungated = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.logsource.is_empty() {
                ungated.push(i as u32);
                continue;
            }
            let k = format!("{:?}", r.logsource);
            let g = *by_ls.entry(k).or_insert_with(|| {
                groups.push((r.logsource.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i as u32);
        }
        Router {
            mapping,
            key_fields,
            groups,
            ungated,
        }
    }

    pub(crate) fn distinct_logsources(&self) -> usize {
        self.groups.len()
    }

    pub(crate) fn key_fields(&self) -> &[String] {
        &self.key_fields
    }

    /// The values of the key fields, as one string (`\x1f` between values, `\x1e` between fields).
    fn key_into(&self, doc: &Value, out: &mut String) {
        out.clear();
        for f in &self.key_fields {
            for v in lookup(doc, f) {
                if let Some(t) = scalar_text(v) {
                    out.push_str(&t);
                    out.push('\x1f');
                }
            }
            out.push('\x1e');
        }
    }

    /// The rules the event may belong to, in rule order (computed by the mapping's gate).
    fn route(&self, doc: &Value) -> Vec<u32> {
        let mut out = self.ungated.clone();
        for (ls, members) in &self.groups {
            if self.mapping.event_in_logsource(doc, Schema::Sigma, ls) {
                out.extend_from_slice(members);
            }
        }
        out.sort_unstable();
        out
    }
}

/// A per-thread cache from routing key to candidate rules.
#[derive(Clone)]
pub(crate) struct RouteCache<'a, 'm> {
    router: &'a Router<'m>,
    cache: HashMap<String, Arc<Vec<u32>>>,
    key: String,
}

impl<'a, 'm> RouteCache<'a, 'm> {
    pub(crate) fn new(router: &'a Router<'m>) -> Self {
        RouteCache {
            router,
            cache: HashMap::new(),
            key: String::new(),
        }
    }

    pub(crate) fn candidates(&mut self, doc: &Value) -> Arc<Vec<u32>> {
        self.router.key_into(doc, &mut self.key);
        if let Some(c) = self.cache.get(self.key.as_str()) {
            return c.clone();
        }
        let c = Arc::new(self.router.route(doc));
        self.cache.insert(self.key.clone(), c.clone());
        c
    }
}

/// How rules are run over events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `RuleEvaluator::event_matches` per rule, each rule compiled on its own.
    PerRule,
    /// Each event flattened once, then every rule evaluated on the flat event.
    Compiled,
    /// As `Compiled`, evaluating only the rules the candidate index selects.
    Indexed,
    /// As `Indexed`, and only the rules the event's log source routes to.
    IndexedRouted,
}

impl Mode {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Mode::PerRule => "per-rule reference API, no index, no routing",
            Mode::Compiled => "compiled set, flat events, no index, no routing",
            Mode::Indexed => "compiled set, flat events, candidate index, no routing",
            Mode::IndexedRouted => "compiled set, flat events, candidate index, log-source routing",
        }
    }
}

/// Matches and rule evaluations done in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) matches: u64,
    pub(crate) evaluated: u64,
}

impl std::ops::Add for Pass {
    type Output = Pass;
    fn add(self, o: Pass) -> Pass {
        Pass {
            matches: self.matches + o.matches,
            evaluated: self.evaluated + o.evaluated,
        }
    }
}

/// Per-thread state: the routing cache and the candidate marks.
#[derive(Clone)]
pub(crate) struct Scratch<'a, 'm> {
    routes: RouteCache<'a, 'm>,
    marks: Vec<bool>,
}

impl<'a, 'm> Scratch<'a, 'm> {
    pub(crate) fn new(router: &'a Router<'m>) -> Self {
        Scratch {
            routes: RouteCache::new(router),
            marks: Vec::new(),
        }
    }
}

fn eval_event(r: &Rules<'_>, mode: Mode, doc: &Value, scratch: &mut Scratch<'_, '_>) -> Pass {
    let mut p = Pass::default();
    let set = &r.set;
    match mode {
        Mode::PerRule => {
            for ev in &r.single {
                p.evaluated += 1;
                p.matches += u64::from(ev.event_matches(doc, None));
            }
        }
        Mode::Compiled => {
            let flat = set.flatten(doc);
            for ev in set.rules() {
                p.evaluated += 1;
                p.matches += u64::from(ev.flat_event_matches(&flat, None));
            }
        }
        Mode::Indexed => {
            let flat = set.flatten(doc);
            set.candidates(&flat, &mut scratch.marks);
            for (ev, _) in set.rules().iter().zip(&scratch.marks).filter(|(_, m)| **m) {
                p.evaluated += 1;
                p.matches += u64::from(ev.flat_event_matches(&flat, None));
            }
        }
        Mode::IndexedRouted => {
            let cands = scratch.routes.candidates(doc);
            let flat = set.flatten(doc);
            set.candidates(&flat, &mut scratch.marks);
            for &i in cands.iter() {
                if scratch.marks[i as usize] {
                    p.evaluated += 1;
                    p.matches += u64::from(set.rules()[i as usize].flat_event_matches(&flat, None));
                }
            }
        }
    }
    p
}

/// One pass over `events` replicated `times`, on one thread.
pub(crate) fn pass_serial(
    r: &Rules<'_>,
    scratch: &mut Scratch<'_, '_>,
    mode: Mode,
    events: &[Value],
    times: usize,
) -> Pass {
    let mut total = Pass::default();
    for _ in 0..times {
        for doc in events {
            total = total + eval_event(r, mode, doc, scratch);
        }
    }
    total
}

/// One pass over `events` replicated `times`, in parallel over events (rayon).
pub(crate) fn pass_parallel(
    r: &Rules<'_>,
    warm: &Scratch<'_, '_>,
    mode: Mode,
    events: &[Value],
    times: usize,
) -> Pass {
    let n = events.len() * times;
    (0..n)
        .into_par_iter()
        .fold(
            || (warm.clone(), Pass::default()),
            |(mut scratch, acc), i| {
                let p = eval_event(r, mode, &events[i % events.len()], &mut scratch);
                (scratch, acc + p)
            },
        )
        .map(|(_, p)| p)
        .reduce(Pass::default, |a, b| a + b)
}

/// Check, untimed, that routing keeps exactly the rules the mapping's gate keeps, and that the
/// compiled set, with and without its candidate index, agrees with the per-rule reference on
/// every (rule, event).
pub(crate) fn verify(r: &Rules<'_>, router: &Router<'_>, events: &[Value]) -> Result<(), String> {
    let mut cache = RouteCache::new(router);
    let mut marks = Vec::new();
    for (ei, doc) in events.iter().enumerate() {
        let flat = r.set.flatten(doc);
        let cands = cache.candidates(doc);
        let direct = router.route(doc);
        if *cands != direct {
            return Err(format!("event {ei}: cached routing differs from the gate"));
        }
        r.set.candidates(&flat, &mut marks);
        for (ri, (a, b)) in r.single.iter().zip(r.set.rules()).enumerate() {
            let want = a.event_matches(doc, None);
            let got = b.flat_event_matches(&flat, None);
            if got != want || (want && !marks[ri]) {
                return Err(format!(
                    "event {ei}, rule {} ({}): reference {want}, compiled set {got}, candidate {}",
                    r.rules[ri].meta.id, r.rules[ri].meta.title, marks[ri]
                ));
            }
        }
    }
    Ok(())
}

/// Figures for one mode.
#[derive(Debug, Clone)]
pub(crate) struct EvalResult {
    pub(crate) label: String,
    pub(crate) secs: Runs,
    pub(crate) pass: Pass,
    pub(crate) events: usize,
    pub(crate) rules: usize,
}

impl EvalResult {
    pub(crate) fn events_per_sec(&self) -> Spread {
        Spread::map(&self.secs.wall, |s| self.events as f64 / s)
    }

    /// Events per CPU-second (robust to other load on the machine).
    pub(crate) fn events_per_cpu_sec(&self) -> Option<Spread> {
        (!self.secs.cpu.is_empty()).then(|| Spread::map(&self.secs.cpu, |s| self.events as f64 / s))
    }

    pub(crate) fn report(&self) {
        let n = self.events as f64;
        let nominal = n * self.rules as f64;
        println!("  {}:", self.label);
        println!(
            "    time:                  {}",
            crate::convert::show_runs(&self.secs)
        );
        println!(
            "    events/s:              {}",
            self.events_per_sec().show("events/s")
        );
        if let Some(c) = self.events_per_cpu_sec() {
            println!("    events per CPU-second: {}", c.show("events/s"));
        }
        println!(
            "    rule×event/s:          {}",
            Spread::map(&self.secs.wall, |s| nominal / s).show("rule×event/s")
        );
        println!(
            "    ns per rule×event:     {}",
            Spread::map(&self.secs.wall, |s| s * 1e9 / nominal).show("ns")
        );
        if self.pass.evaluated > 0 {
            println!(
                "    rules evaluated/event: {:.1} of {}; matches: {}",
                self.pass.evaluated as f64 / n,
                self.rules,
                self.pass.matches
            );
        } else {
            println!("    rules: {}; matches: {}", self.rules, self.pass.matches);
        }
    }
}

/// Time one mode `runs` times.
pub(crate) fn bench_mode(
    r: &Rules<'_>,
    router: &Router<'_>,
    mode: Mode,
    events: &[Value],
    times: usize,
    runs: usize,
    parallel: bool,
) -> EvalResult {
    // The routing table is built once per distinct key (Channel, EventID, Provider_Name), in an
    // untimed warm-up pass, as an index would be; the timed runs pay its lookups.
    let mut scratch = Scratch::new(router);
    if mode == Mode::IndexedRouted {
        pass_serial(r, &mut scratch, mode, events, 1);
    }
    let (secs, last) = stats::time_runs(runs, || {
        if parallel {
            pass_parallel(r, &scratch, mode, events, times)
        } else {
            pass_serial(r, &mut scratch, mode, events, times)
        }
    });
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    EvalResult {
        label: format!(
            "{} — {} thread{}",
            mode.label(),
            threads,
            if threads == 1 { "" } else { "s" }
        ),
        secs,
        pass: last.unwrap_or_default(),
        events: events.len() * times,
        rules: r.rules.len(),
    }
}
