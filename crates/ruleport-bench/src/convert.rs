//! Corpus conversion: read, import and port every rule to the four query targets.

use crate::corpus::{import_file, Corpus};
use crate::stats::{self, Runs, Spread};
use rayon::prelude::*;
use ruleport_eval::Converter;
use ruleport_model::TargetId;

/// The four query targets, in the order sigma-cli's are compared: splunk, kusto, eql, lucene/kuery.
pub(crate) const TARGETS: [TargetId; 4] = [
    TargetId::Splunk,
    TargetId::Sentinel,
    TargetId::Eql,
    TargetId::Kuery,
];

/// What one conversion pass produced (identical on every run; checked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Produced {
    pub(crate) files: usize,
    pub(crate) files_failed: usize,
    pub(crate) rules: usize,
    pub(crate) ports: usize,
    pub(crate) unsupported: usize,
    pub(crate) bytes: usize,
}

impl std::ops::Add for Produced {
    type Output = Produced;
    fn add(self, o: Produced) -> Produced {
        Produced {
            files: self.files + o.files,
            files_failed: self.files_failed + o.files_failed,
            rules: self.rules + o.rules,
            ports: self.ports + o.ports,
            unsupported: self.unsupported + o.unsupported,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// Read, import and port every file of the corpus to `targets`, in parallel over files.
pub(crate) fn convert_corpus(corpus: &Corpus, conv: &Converter, targets: &[TargetId]) -> Produced {
    corpus
        .files
        .par_iter()
        .map(|path| {
            let mut p = Produced {
                files: 1,
                ..Default::default()
            };
            match import_file(path) {
                Err(_) => p.files_failed = 1,
                Ok(rules) => {
                    p.rules = rules.len();
                    // Ports of one file's rules in parallel too: a file may hold many rules.
                    let per_rule = rules
                        .par_iter()
                        .map(|rule| {
                            let mut q = Produced::default();
                            // One mapping per target schema, as `ruleport convert` does.
                            for r in conv.port_many(rule, targets) {
                                match r {
                                    Ok(port) => {
                                        q.ports += 1;
                                        q.bytes += port.text.len();
                                    }
                                    Err(_) => q.unsupported += 1,
                                }
                            }
                            q
                        })
                        .reduce(Produced::default, |a, b| a + b);
                    p = p + per_rule;
                }
            }
            p
        })
        .reduce(Produced::default, |a, b| a + b)
}

/// Measurements of one corpus.
#[derive(Debug, Clone)]
pub(crate) struct ConvertResult {
    pub(crate) corpus: &'static str,
    pub(crate) produced: Produced,
    /// Import + port to all four targets.
    pub(crate) all_targets: Runs,
    /// Per target, importing each time (what four separate `convert` runs cost).
    pub(crate) per_target: Vec<(TargetId, Runs)>,
    /// Import only.
    pub(crate) import_only: Runs,
    /// Peak RSS over the all-targets runs (after a reset before them).
    pub(crate) peak_rss: Option<u64>,
}

/// Run the conversion benchmark for one corpus.
pub(crate) fn bench_corpus(
    corpus: &Corpus,
    conv: &Converter,
    runs: usize,
    per_target: bool,
) -> ConvertResult {
    // Warm the file cache and the lazily built mappings once; not timed.
    let warm = convert_corpus(corpus, conv, &TARGETS);
    stats::reset_peak_rss();
    let (all_targets, last) = stats::time_runs(runs, || convert_corpus(corpus, conv, &TARGETS));
    let peak_rss = stats::peak_rss();
    if last.is_some_and(|l| l != warm) {
        eprintln!(
            "warning: {}: conversion output differed between runs",
            corpus.name
        );
    }
    let (import_only, _) = stats::time_runs(runs, || convert_corpus(corpus, conv, &[]));
    let per_target = if per_target {
        TARGETS
            .iter()
            .map(|&t| {
                (
                    t,
                    stats::time_runs(runs, || convert_corpus(corpus, conv, &[t])).0,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    ConvertResult {
        corpus: corpus.name,
        produced: warm,
        all_targets,
        per_target,
        import_only,
        peak_rss,
    }
}

/// Sum per-target medians: what four separate conversions cost.
pub(crate) fn per_target_sum(r: &ConvertResult) -> Option<Spread> {
    if r.per_target.is_empty() {
        return None;
    }
    let n = &r.per_target[0].1;
    let n = n.wall.len();
    let sums: Vec<f64> = (0..n)
        .map(|i| r.per_target.iter().map(|(_, v)| v.wall[i]).sum())
        .collect();
    Some(Spread::of(&sums))
}

/// Print one corpus's figures.
pub(crate) fn report(r: &ConvertResult) {
    let p = &r.produced;
    println!(
        "## convert: {} — {} files ({} failed), {} rules, {} ports produced, {} unsupported, {} bytes of queries",
        r.corpus, p.files, p.files_failed, p.rules, p.ports, p.unsupported, p.bytes
    );
    println!(
        "  import + port to 4 targets: {}",
        show_runs(&r.all_targets)
    );
    println!(
        "  rules/s (4 targets each):   {}",
        Spread::map(&r.all_targets.wall, |s| p.rules as f64 / s).show("rules/s")
    );
    println!(
        "  ports/s:                    {}",
        Spread::map(&r.all_targets.wall, |s| p.ports as f64 / s).show("ports/s")
    );
    println!(
        "  import only:                {}",
        show_runs(&r.import_only)
    );
    for (t, v) in &r.per_target {
        println!(
            "  import + port to {:<9} {}",
            format!("{}:", t.name()),
            show_runs(v)
        );
    }
    if let Some(s) = per_target_sum(r) {
        println!("  sum of the 4 one-target runs: {}", show_secs(&s));
    }
    match r.peak_rss {
        Some(b) => println!("  peak RSS (VmHWM):           {}", stats::mib(b)),
        None => println!("  peak RSS (VmHWM):           unavailable"),
    }
}

/// Wall-clock `median (min, max)`, then the CPU time's median.
pub(crate) fn show_runs(r: &Runs) -> String {
    let mut s = show_secs(&Spread::of(&r.wall));
    if !r.cpu.is_empty() {
        s.push_str(&format!("; CPU {}", stats::secs(Spread::of(&r.cpu).median)));
    }
    s
}

/// `median (min, max)` in seconds or milliseconds.
pub(crate) fn show_secs(s: &Spread) -> String {
    format!(
        "{} (min {}, max {})",
        stats::secs(s.median),
        stats::secs(s.min),
        stats::secs(s.max)
    )
}
