//! `ruleport-bench`: how fast ruleport converts whole corpora and evaluates rules over events,
//! side by side with sigma-cli and rsigma. Every figure is the median of `--runs` runs with min
//! and max. Benchmarks are never tests: nothing here runs in CI.

mod convert;
mod corpus;
mod evaluate;
#[cfg(feature = "rsigma")]
mod rsigma_side;
mod sigma_cli;
mod stats;

// Conversion allocates many small strings and trees; mimalloc measured faster than glibc malloc
// (crates/ruleport-bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use corpus::{Corpus, ELASTIC_DIRS, SIGMA_ACTIVE};
use ruleport_eval::Converter;
use ruleport_mapping::Mapping;
use stats::Spread;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ruleport-bench",
    about = "Benchmarks: corpus conversion and evaluator throughput"
)]
struct Args {
    /// Runs per figure (the median, min and max are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The shared material (corpora); default `$RULEPORT_SHARED`, else `../shared`.
    #[arg(long)]
    shared: Option<PathBuf>,
    /// Which parts to run.
    #[arg(long, value_delimiter = ',', default_values_t = vec![Part::Convert, Part::Eval])]
    only: Vec<Part>,
    /// How many times the regression events are replayed in the evaluator benchmark.
    #[arg(long, default_value_t = 100)]
    replicate: usize,
    /// Replays for the two slow modes without a candidate index (per-rule API, compiled set).
    #[arg(long, default_value_t = 1)]
    replicate_slow: usize,
    /// Evaluator modes to time.
    #[arg(long, value_delimiter = ',', default_values_t = vec![EvalMode::PerRule, EvalMode::Compiled, EvalMode::Indexed, EvalMode::Routed])]
    modes: Vec<EvalMode>,
    /// Use only the first N regression events (for profiling runs).
    #[arg(long)]
    max_events: Option<usize>,
    /// Worker threads for the parallel parts (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip the untimed check that the compiled set and routing agree with the reference.
    #[arg(long)]
    no_verify: bool,
    /// Also time sigma-cli (pySigma 1.5.1) on the same SigmaHQ rules, in a private venv.
    #[arg(long)]
    vs_sigma_cli: bool,
    /// The venv for sigma-cli.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/bench-venv"))]
    venv: PathBuf,
    /// Runs per sigma-cli target (default: --runs).
    #[arg(long)]
    sigma_cli_runs: Option<usize>,
    /// Also run rsigma-eval on the same rules and events (needs `--features rsigma`).
    #[arg(long)]
    vs_rsigma: bool,
    /// Conversion corpora to run (for profiling one of them).
    #[arg(long, value_delimiter = ',', default_values_t = vec![Which::Sigma, Which::Elastic])]
    corpora: Vec<Which>,
    /// Skip the one-target-at-a-time conversion runs (for profiling the all-targets pass).
    #[arg(long)]
    no_per_target: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum, Debug)]
enum Which {
    Sigma,
    Elastic,
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Which::Sigma => "sigma",
            Which::Elastic => "elastic",
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum, Debug)]
enum Part {
    Convert,
    Eval,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum, Debug)]
enum EvalMode {
    PerRule,
    Compiled,
    Indexed,
    Routed,
}

impl std::fmt::Display for EvalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EvalMode::PerRule => "per-rule",
            EvalMode::Compiled => "compiled",
            EvalMode::Indexed => "indexed",
            EvalMode::Routed => "routed",
        })
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Convert => "convert",
            Part::Eval => "eval",
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.runs == 0 {
        eprintln!("error: --runs must be at least 1");
        return ExitCode::from(2);
    }
    if let Some(n) = args.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot size the thread pool: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(shared) = corpus::shared_dir(args.shared.as_deref()) else {
        eprintln!("error: no shared material: set RULEPORT_SHARED or pass --shared");
        return ExitCode::from(2);
    };
    machine_header(&args);
    let sigma = Corpus::new(
        "SigmaHQ (active folders)",
        &shared.join("corpus/sigma"),
        &SIGMA_ACTIVE,
    );
    let elastic = Corpus::new(
        "Elastic (rules + building blocks)",
        &shared.join("corpus/elastic"),
        &ELASTIC_DIRS,
    );
    let conv = Converter::new(Mapping::builtin());
    let mut ok = true;

    let mut sigma_convert = None;
    if args.only.contains(&Part::Convert) || args.vs_sigma_cli {
        let chosen = [(Which::Sigma, &sigma), (Which::Elastic, &elastic)]
            .into_iter()
            .filter(|(w, _)| args.corpora.contains(w) || (*w == Which::Sigma && args.vs_sigma_cli))
            .map(|(_, c)| c);
        for c in chosen {
            if c.files.is_empty() {
                eprintln!("error: no rule files under {:?}", c.dirs);
                ok = false;
                continue;
            }
            let r = convert::bench_corpus(c, &conv, args.runs, !args.no_per_target);
            convert::report(&r);
            let t = Spread::of(&r.all_targets.wall);
            if c.name.starts_with("Elastic") {
                println!("  target: < 0.5 s → {}", verdict(t.median < 0.5));
            }
            if let Some(b) = r.peak_rss {
                println!(
                    "  target: peak < 300 MB → {}",
                    verdict(b < 300 * 1000 * 1000)
                );
            }
            if c.name.starts_with("SigmaHQ") {
                sigma_convert = Some(r);
            }
            println!();
        }
    }

    if args.only.contains(&Part::Eval) || args.vs_rsigma {
        ok &= eval_part(&args, &shared, &sigma, &conv.mapping);
    }

    if args.vs_sigma_cli {
        match sigma_convert {
            Some(r) => ok &= vs_sigma_cli(&args, &sigma, &r),
            None => ok = false,
        }
    }

    match stats::peak_rss() {
        Some(b) => println!(
            "process peak RSS since the last reset (VmHWM): {}",
            stats::mib(b)
        ),
        None => println!("process peak RSS: unavailable"),
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn machine_header(args: &Args) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("# ruleport-bench");
    println!(
        "machine: {model}, {cores} cores available, {mem} RAM; rayon threads: {}; runs per figure: {}",
        rayon::current_num_threads(),
        args.runs
    );
    println!("figures: median (min, max) over the runs; peak RSS is VmHWM after a reset before the phase\n");
}

fn eval_part(args: &Args, shared: &std::path::Path, sigma: &Corpus, mapping: &Mapping) -> bool {
    let (rules, failed) = corpus::import_all(&sigma.files);
    let regression = shared.join("corpus/sigma/regression_data");
    let (cases, _diags) = ruleport_sigma::regression::load_regression_dir(&regression);
    let mut events: Vec<serde_json::Value> =
        cases.into_iter().flat_map(|c| c.events_json).collect();
    if let Some(n) = args.max_events {
        events.truncate(n);
    }
    if events.is_empty() {
        eprintln!("error: no regression events under {}", regression.display());
        return false;
    }
    let set = evaluate::Rules::new(&rules);
    let router = evaluate::Router::new(mapping, &set.rules);
    println!(
        "## evaluate: {} SigmaHQ single-event rules ({} files failed to import, {} correlation/aggregation rules and {} that do not compile left out) over {} regression events replayed × {} (× {} for the modes without an index)",
        set.rules.len(),
        failed,
        set.not_single_event,
        set.not_compiled,
        events.len(),
        args.replicate,
        args.replicate_slow
    );
    println!(
        "  field table: {} interned fields, {} with a shared substring scan ({} substrings); candidate index: {} rules without a witness (always evaluated); routing: {} distinct log sources, keyed by {}",
        set.set.fields().len(),
        set.set.fields().needle_stats().0,
        set.set.fields().needle_stats().1,
        set.set.unindexed(),
        router.distinct_logsources(),
        router.key_fields().join(", ")
    );
    if !args.no_verify {
        match evaluate::verify(&set, &router, &events) {
            Ok(()) => println!("  check: the compiled set agrees with the per-rule reference on every rule × event; routing equals the mapping's gate"),
            Err(e) => {
                println!("  check FAILED: {e}");
                return false;
            }
        }
    }
    stats::reset_peak_rss();
    let mut results = Vec::new();
    let modes: Vec<evaluate::Mode> = args
        .modes
        .iter()
        .map(|m| match m {
            EvalMode::PerRule => evaluate::Mode::PerRule,
            EvalMode::Compiled => evaluate::Mode::Compiled,
            EvalMode::Indexed => evaluate::Mode::Indexed,
            EvalMode::Routed => evaluate::Mode::IndexedRouted,
        })
        .collect();
    let slow = |m: &evaluate::Mode| matches!(m, evaluate::Mode::PerRule | evaluate::Mode::Compiled);
    for &mode in modes.iter().filter(|m| slow(m)) {
        if args.replicate_slow > 0 {
            results.push(evaluate::bench_mode(
                &set,
                &router,
                mode,
                &events,
                args.replicate_slow,
                args.runs,
                false,
            ));
        }
    }
    let fast: Vec<evaluate::Mode> = modes.iter().copied().filter(|m| !slow(m)).collect();
    for &mode in &fast {
        results.push(evaluate::bench_mode(
            &set,
            &router,
            mode,
            &events,
            args.replicate,
            args.runs,
            false,
        ));
    }
    if rayon::current_num_threads() > 1 {
        for &mode in &fast {
            results.push(evaluate::bench_mode(
                &set,
                &router,
                mode,
                &events,
                args.replicate,
                args.runs,
                true,
            ));
        }
    }
    for r in &results {
        r.report();
    }
    if let Some(b) = stats::peak_rss() {
        println!("  peak RSS during evaluation (VmHWM): {}", stats::mib(b));
    }
    let mut ok = true;
    if args.vs_rsigma {
        ok = vs_rsigma(args, sigma, mapping, &events, &results);
    }
    println!();
    ok
}

#[cfg(feature = "rsigma")]
fn vs_rsigma(
    args: &Args,
    sigma: &Corpus,
    mapping: &Mapping,
    events: &[serde_json::Value],
    ours: &[evaluate::EvalResult],
) -> bool {
    let set = rsigma_side::load(&sigma.files);
    println!(
        "## vs rsigma: rsigma-eval 0.23 compiled {} detection rules ({} files failed to parse, {} rules failed to compile)",
        set.rules, set.parse_failures, set.compile_failures
    );
    let plain = rsigma_side::bench(&set, mapping, events, args.replicate, args.runs, false);
    let routed = rsigma_side::bench(&set, mapping, events, args.replicate, args.runs, true);
    plain.report();
    routed.report();
    let find = |needle: &str| {
        ours.iter()
            .find(|r| r.label.contains(needle) && r.label.ends_with("1 thread"))
    };
    for (theirs, needle, what) in [
        (&plain, "candidate index, no routing", "no routing"),
        (
            &routed,
            "candidate index, log-source routing",
            "log-source routing",
        ),
    ] {
        if let Some(o) = find(needle) {
            let ratio = o.events_per_sec().median / theirs.events_per_sec().median;
            let cpu = o
                .events_per_cpu_sec()
                .zip(theirs.events_per_cpu_sec())
                .map(|(a, b)| a.median / b.median);
            println!(
                "  ruleport / rsigma events/s, {what}: {ratio:.2}× wall clock{} → target (≥ 1×) {}",
                cpu.map(|c| format!(", {c:.2}× per CPU-second"))
                    .unwrap_or_default(),
                verdict(ratio >= 1.0)
            );
        }
    }
    true
}

#[cfg(not(feature = "rsigma"))]
fn vs_rsigma(
    _: &Args,
    _: &Corpus,
    _: &Mapping,
    _: &[serde_json::Value],
    _: &[evaluate::EvalResult],
) -> bool {
    eprintln!("error: --vs-rsigma needs the bench built with `--features rsigma`");
    false
}

fn vs_sigma_cli(args: &Args, sigma: &Corpus, ours: &convert::ConvertResult) -> bool {
    let exe = match sigma_cli::ensure_venv(&args.venv) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot set up sigma-cli: {e}");
            return false;
        }
    };
    let runs = args.sigma_cli_runs.unwrap_or(args.runs);
    println!(
        "## vs sigma-cli 3.1.0 (pySigma 1.5.1) on the same {} files, {runs} runs per target",
        sigma.files.len()
    );
    let mut per_run_sum = vec![0.0; runs];
    let mut per_run_cpu = vec![0.0; runs];
    let mut failed = Vec::new();
    let mut add = |t: &stats::Runs| {
        for (i, (w, c)) in t
            .wall
            .iter()
            .zip(t.cpu.iter().chain(std::iter::repeat(&f64::NAN)))
            .enumerate()
        {
            per_run_sum[i] += w;
            per_run_cpu[i] += c;
        }
    };
    let time = |run: &dyn Fn() -> Result<sigma_cli::CliRun, String>| {
        let mut t = stats::Runs::default();
        let mut last = None;
        let mut all_ok = true;
        for _ in 0..runs {
            let r = run()?;
            all_ok &= r.ok;
            t.push(r.secs, r.cpu);
            last = Some(r);
        }
        Ok::<_, String>((t, all_ok, last))
    };
    for (target, pipeline, ours_name) in sigma_cli::TARGETS {
        let (t, all_ok, last) =
            match time(&|| sigma_cli::convert_once(&exe, target, pipeline, &sigma.dirs)) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("error: {e}");
                    return false;
                }
            };
        let bytes = last.map_or(0, |r| r.output_bytes);
        println!(
            "  sigma convert -t {target:<6} -p {pipeline:<15} {} — {bytes} bytes of output (ruleport target: {ours_name}){}",
            convert::show_runs(&t),
            if all_ok { "" } else { " — EXITED NON-ZERO: aborted" }
        );
        if all_ok {
            add(&t);
            continue;
        }
        // sigma-cli stops at the first rule this backend raises on; the same pySigma work done
        // rule by rule completes, and that time goes into the sum.
        match time(&|| sigma_cli::driver_once(&args.venv, target, pipeline, &sigma.dirs)) {
            Ok((t, true, last)) => {
                let (bytes, summary) = last.map_or((0, None), |r| (r.output_bytes, r.summary));
                println!(
                    "  pySigma driver  -t {target:<6} -p {pipeline:<15} {} — {bytes} bytes of output, {} (rule by rule, what --skip-unsupported should do; counted in the sum)",
                    convert::show_runs(&t),
                    summary.unwrap_or_default()
                );
                add(&t);
            }
            Ok(_) => {
                println!("  pySigma driver for {target} exited non-zero: not counted in the sum");
                failed.push(target);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return false;
            }
        }
    }
    if !failed.is_empty() {
        println!(
            "  note: no pySigma run converted the corpus to {}; the sum below leaves it out while ruleport's time still covers all four targets",
            failed.join(", ")
        );
    }
    let theirs = Spread::of(&per_run_sum);
    let theirs_cpu = Spread::of(&per_run_cpu);
    let mine = Spread::of(&ours.all_targets.wall);
    println!(
        "  sigma-cli, sum of the 4 targets:                 {}; CPU {}",
        convert::show_secs(&theirs),
        stats::secs(theirs_cpu.median)
    );
    println!(
        "  ruleport, import + port to all 4 targets:        {}",
        convert::show_runs(&ours.all_targets)
    );
    let ratio = mine.median / theirs.median;
    println!(
        "  ratio ruleport / sigma-cli (wall clock): {:.3}% ({:.0}× faster) → target (≤ 1%) {}",
        ratio * 100.0,
        1.0 / ratio,
        verdict(ratio <= 0.01)
    );
    if !ours.all_targets.cpu.is_empty() && theirs_cpu.median.is_finite() {
        let r = Spread::of(&ours.all_targets.cpu).median / theirs_cpu.median;
        println!(
            "  ratio ruleport / sigma-cli (CPU time):   {:.3}% ({:.0}× less CPU)",
            r * 100.0,
            1.0 / r
        );
    }
    if let Some(sum) = convert::per_target_sum(ours) {
        let r2 = sum.median / theirs.median;
        println!(
            "  ratio with ruleport run once per target (importing 4 times): {:.3}% ({:.0}× faster)",
            r2 * 100.0,
            1.0 / r2
        );
    }
    true
}
