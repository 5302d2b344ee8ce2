//! `ruleport`: port detection rules between SIEMs and prove every port on fixtures.
//!
//! Exit codes: 0 success; 1 a rule could not be read, ported to a requested target, or failed
//! its tests; 2 bad command-line usage.

// Conversion allocates many small strings and trees; mimalloc measured faster than glibc malloc
// (crates/ruleport-bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};
use ruleport_eval::{load_paths, pair_fixtures, report, run_pairs, Converter, Loaded, Runner};
use ruleport_mapping::{Mapping, SentinelSet};
use ruleport_model::{ApproximationPolicy, Diagnostic, TargetId};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ruleport",
    version,
    about = "Port detection rules between SIEMs and prove every port correct"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct MappingArgs {
    /// Extra mapping files overriding the built-in log-source and field mappings.
    #[arg(long = "mapping", value_name = "FILE")]
    mappings: Vec<PathBuf>,
    /// Sentinel tables for Windows sources: xdr (Device* tables), event (SecurityEvent), asim.
    #[arg(long, default_value = "xdr")]
    sentinel_set: String,
    /// Splunk: emit `| tstats … from datamodel=…` (CIM) where a data model covers the rule.
    #[arg(long)]
    splunk_data_model: bool,
    /// pySigma processing-pipeline files applied to Sigma rules before mapping.
    #[arg(long = "pipeline", value_name = "FILE")]
    pipelines: Vec<PathBuf>,
}

impl MappingArgs {
    fn converter(&self) -> Result<Converter, Diagnostic> {
        let mut m = Mapping::with_overrides(&self.mappings)?;
        m.sentinel_set = self
            .sentinel_set
            .parse::<SentinelSet>()
            .map_err(|e| Diagnostic::error("E-USAGE", e))?;
        for p in &self.pipelines {
            let text = ruleport_model::input::read_text(p)?;
            m.add_pipeline(ruleport_mapping::pipeline::load_pysigma_pipeline(&text, p)?);
        }
        let mut conv = Converter::new(m);
        conv.splunk.data_model = self.splunk_data_model;
        Ok(conv)
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Convert rules (files or directories) and print the queries.
    Convert {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Targets: kuery, eql, splunk, sentinel, sigma, elastic (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "kuery,eql,splunk,sentinel"
        )]
        to: Vec<TargetId>,
        /// What an approximate port does: ignore, warn (reasons to stderr) or error.
        #[arg(long, default_value = "warn")]
        on_approximate: ApproximationPolicy,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Run every rule that has fixtures: the rule model and each target, parsed back and evaluated.
    Test {
        /// Rules, fixture files and directories (default: rules/).
        paths: Vec<PathBuf>,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "kuery,eql,splunk,sentinel,sigma,elastic"
        )]
        targets: Vec<TargetId>,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also check every rule (with or without fixtures) on witness events generated from
        /// its model: matches per branch and near-misses.
        #[arg(long)]
        differential: bool,
        /// Also run SigmaHQ regression tests found under this folder (a Sigma repository or
        /// its regression_data), from both the JSON renderings and the EVTX files.
        #[arg(long, value_name = "DIR")]
        regression: Option<PathBuf>,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Write or compare one snapshot file per rule and target; a changed output fails with a diff.
    Snapshot {
        /// Rules and directories (default: rules/).
        paths: Vec<PathBuf>,
        /// Where snapshot files live.
        #[arg(long, default_value = "snapshots")]
        dir: PathBuf,
        /// Write new and changed snapshots instead of failing on them.
        #[arg(long)]
        accept: bool,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "kuery,eql,splunk,sentinel,sigma,elastic"
        )]
        targets: Vec<TargetId>,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Share of rules whose log source and every field map to each target (mapping coverage).
    Coverage {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Target schemas: ecs (kuery, EQL), splunk, sentinel, sigma.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "ecs,splunk,sentinel,sigma"
        )]
        schemas: Vec<String>,
        /// How many unmapped log sources and fields to list.
        #[arg(long, default_value = "15")]
        top: usize,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Show how each target sees the events of a fixture file (through the mapping layer).
    View {
        /// A fixture file.
        fixtures: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "kuery,splunk,sentinel")]
        targets: Vec<TargetId>,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Check both shared corpora: import, round trip, ports, parse-back and witnesses; compare
    /// the counts with a baseline and fail when one drops.
    Corpus {
        /// The shared folder (default: $RULEPORT_SHARED or ../shared).
        #[arg(long)]
        shared: Option<PathBuf>,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "kuery,eql,splunk,sentinel"
        )]
        targets: Vec<TargetId>,
        /// Baseline counts (JSON); with --update-baseline it is rewritten.
        #[arg(long)]
        baseline: Option<PathBuf>,
        #[arg(long)]
        update_baseline: bool,
        /// Skip the witness (differential) check.
        #[arg(long)]
        no_differential: bool,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Validate rules without converting them.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write rule packs for every target.
    Pack {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Handlebars templates overriding the built-in ones (same relative names).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        #[command(flatten)]
        mapping: MappingArgs,
    },
}

fn print_diagnostics(loaded: &Loaded) {
    let mut err = std::io::stderr().lock();
    for d in &loaded.diagnostics {
        let _ = writeln!(err, "{d}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Convert {
            paths,
            to,
            on_approximate,
            format,
            quiet,
            mapping,
        } => convert(&paths, &to, on_approximate, format, quiet, &mapping),
        Command::Test {
            paths,
            targets,
            format,
            junit,
            differential,
            regression,
            mapping,
        } => test(
            paths,
            &targets,
            format,
            junit,
            differential,
            regression,
            &mapping,
        ),
        Command::Snapshot {
            paths,
            dir,
            accept,
            targets,
            mapping,
        } => snapshot(paths, &dir, accept, &targets, &mapping),
        Command::View {
            fixtures,
            targets,
            mapping,
        } => view(&fixtures, &targets, &mapping),
        Command::Coverage {
            paths,
            schemas,
            top,
            mapping,
        } => coverage(&paths, &schemas, top, &mapping),
        Command::Corpus {
            shared,
            targets,
            baseline,
            update_baseline,
            no_differential,
            mapping,
        } => corpus(
            shared,
            &targets,
            baseline,
            update_baseline,
            !no_differential,
            &mapping,
        ),
        Command::Check { paths } => check(&paths),
        Command::Pack {
            paths,
            out,
            templates,
            mapping,
        } => pack(&paths, out, templates, &mapping),
    }
}

fn converter_or_exit(m: &MappingArgs) -> Result<Converter, ExitCode> {
    m.converter().map_err(|d| {
        eprintln!("{d}");
        ExitCode::from(2)
    })
}

/// What converting one file produced: text for stdout, lines for stderr, JSON rows, failure.
#[derive(Default)]
struct FileOutput {
    stdout: String,
    stderr: Vec<String>,
    json: Vec<serde_json::Value>,
    rules: usize,
    failed: bool,
}

/// Input text (titles, ids, paths) printed by `convert`: control characters escaped, as in diagnostics.
fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    ruleport_model::diag::terminal_safe(s, false)
}

fn convert_file(
    path: &std::path::Path,
    to: &[TargetId],
    policy: ApproximationPolicy,
    format: OutputFormat,
    conv: &Converter,
) -> FileOutput {
    use ruleport_eval::load::{file_kind, load_rule_file, read_text, FileKind};
    let mut out = FileOutput::default();
    let text = match read_text(path) {
        Ok(t) => t,
        Err(d) => {
            out.stderr.push(d.to_string());
            out.failed = true;
            return out;
        }
    };
    let Some(kind) = file_kind(path, Some(&text)) else {
        return out;
    };
    if kind == FileKind::Fixtures {
        return out;
    }
    let (rules, diags) = load_rule_file(path, &text, kind);
    for d in &diags {
        out.stderr.push(d.to_string());
        out.failed |= d.is_error();
    }
    out.rules = rules.len();
    for rule in &rules {
        // One mapping per target schema (kuery and EQL share ECS).
        for (&t, ported) in to.iter().zip(conv.port_many(rule, to)) {
            let base = serde_json::json!({"path": path, "rule_id": rule.meta.id, "title": rule.meta.title, "target": t});
            match ported {
                Ok(port) => {
                    let exact = port.fidelity.is_exact();
                    let status = if exact { "exact" } else { "approximate" };
                    if !exact && policy != ApproximationPolicy::Ignore {
                        for r in port.fidelity.reasons() {
                            out.stderr.push(format!(
                                "{}: {} (rule {}): {t} port is approximate: {r}",
                                safe(&path.display().to_string()),
                                safe(&rule.meta.title),
                                safe(&rule.meta.id)
                            ));
                        }
                    }
                    if !exact && policy == ApproximationPolicy::Error {
                        out.failed = true;
                        continue;
                    }
                    if format == OutputFormat::Json {
                        let mut row = base;
                        row["status"] = status.into();
                        row["text"] = port.text.clone().into();
                        row["reasons"] =
                            serde_json::to_value(port.fidelity.reasons()).unwrap_or_default();
                        out.json.push(row);
                    } else {
                        // SPL has no escape for control characters, so a query may hold them raw.
                        let query = ruleport_model::diag::terminal_safe(port.text.trim_end(), true);
                        if matches!(query, std::borrow::Cow::Owned(_)) {
                            out.stderr.push(format!(
                                "{}: {} (rule {}): the {t} query holds control characters, shown as \\u{{…}} escapes; use --format json for the exact text",
                                safe(&path.display().to_string()),
                                safe(&rule.meta.title),
                                safe(&rule.meta.id)
                            ));
                        }
                        out.stdout.push_str(&format!(
                            "# {} ({}) -> {t} [{status}]\n{query}\n\n",
                            safe(&rule.meta.title),
                            safe(&rule.meta.id),
                        ));
                    }
                }
                Err(u) => {
                    out.failed = true;
                    out.stderr.push(format!(
                        "{}: {} (rule {}): {}",
                        safe(&path.display().to_string()),
                        safe(&rule.meta.title),
                        safe(&rule.meta.id),
                        safe(&u.to_string())
                    ));
                    if format == OutputFormat::Json {
                        let mut row = base;
                        row["status"] = "unsupported".into();
                        row["code"] = u.code.into();
                        row["reason"] = u.reason.into();
                        out.json.push(row);
                    }
                }
            }
        }
    }
    out
}

/// Files are converted in parallel chunks and written in input order as each chunk completes,
/// so output streams and stays deterministic.
fn convert(
    paths: &[PathBuf],
    to: &[TargetId],
    policy: ApproximationPolicy,
    format: OutputFormat,
    quiet: bool,
    m: &MappingArgs,
) -> ExitCode {
    use rayon::prelude::*;
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut diags = Vec::new();
    let files = ruleport_eval::load::expand_paths(paths, &mut diags);
    let mut failed = diags.iter().any(Diagnostic::is_error);
    for d in &diags {
        eprintln!("{d}");
    }
    let show_progress = !quiet && std::io::stderr().is_terminal() && files.len() > 50;
    let bar = if show_progress {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files {elapsed_precise} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let stdout = std::io::stdout();
    let mut json_rows = Vec::new();
    let mut rules = 0usize;
    for chunk in files.chunks(256) {
        let outputs: Vec<FileOutput> = chunk
            .par_iter()
            .map(|p| convert_file(p, to, policy, format, &conv))
            .collect();
        let mut lock = stdout.lock();
        for o in outputs {
            for line in &o.stderr {
                match &bar {
                    Some(b) => b.println(line),
                    None => eprintln!("{line}"),
                }
            }
            let _ = lock.write_all(o.stdout.as_bytes());
            json_rows.extend(o.json);
            failed |= o.failed;
            rules += o.rules;
        }
        let _ = lock.flush();
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if format == OutputFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_rows).unwrap_or_default()
        );
    }
    if rules == 0 && !failed {
        eprintln!("no rules found in the given paths");
        failed = true;
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[allow(clippy::too_many_arguments)]
fn test(
    paths: Vec<PathBuf>,
    targets: &[TargetId],
    format: OutputFormat,
    junit: Option<PathBuf>,
    differential: bool,
    regression: Option<PathBuf>,
    m: &MappingArgs,
) -> ExitCode {
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let paths = if paths.is_empty() && regression.is_none() {
        vec![PathBuf::from("rules")]
    } else {
        paths
    };
    let mut loaded = load_paths(&paths);
    let mut pairs = pair_fixtures(&mut loaded);
    if let Some(dir) = &regression {
        let (extra, diags) = ruleport_eval::regression::regression_pairs(dir, &loaded.rules);
        loaded.diagnostics.extend(diags);
        pairs.extend(extra);
    }
    print_diagnostics(&loaded);
    let runner = Runner {
        converter: &conv,
        targets: targets.to_vec(),
    };
    let mut reports = run_pairs(&runner, &pairs);
    if differential {
        for lr in &loaded.rules {
            let fx = ruleport_eval::witness_fixtures(&lr.rule, &conv.mapping);
            if fx.cases.is_empty() {
                continue;
            }
            let mut r = runner.run(&lr.rule, Some(lr.path.clone()), lr.path.clone(), &fx);
            r.title = format!("{} [witnesses]", r.title);
            reports.push(r);
        }
    }
    match format {
        OutputFormat::Json => {
            let body = serde_json::json!({
                "rules": reports,
                "counts": report::counts(&reports, targets),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", report::table(&reports, targets, color));
            println!();
            print!("{}", report::summary(&reports, targets));
        }
    }
    if let Some(j) = junit {
        if let Err(e) = std::fs::write(&j, report::junit(&reports)) {
            eprintln!("{}: cannot write JUnit report: {e}", j.display());
            return ExitCode::from(1);
        }
    }
    let failed = reports.iter().any(|r| r.failed()) || loaded.has_errors();
    if reports.is_empty() {
        eprintln!("no fixtures found: nothing was tested");
        return ExitCode::from(1);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let loaded = load_paths(paths);
    print_diagnostics(&loaded);
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "{} rule(s) read, {} file(s) failed, {} error(s)",
        loaded.rules.len(),
        loaded.failed_files,
        errors
    );
    if loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn pack(paths: &[PathBuf], out: PathBuf, templates: Option<PathBuf>, m: &MappingArgs) -> ExitCode {
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let loaded = load_paths(paths);
    print_diagnostics(&loaded);
    let inputs: Vec<ruleport_pack::PackInput> = loaded
        .rules
        .iter()
        .map(|lr| ruleport_pack::PackInput {
            rule: lr.rule.clone(),
            ports: TargetId::ALL
                .iter()
                .map(|&t| (t, conv.port(&lr.rule, t)))
                .collect(),
        })
        .collect();
    let opts = ruleport_pack::PackOptions {
        templates_dir: templates,
        ..Default::default()
    };
    match ruleport_pack::build_packs(&inputs, &out, &opts) {
        Ok(rep) => {
            println!("{rep}");
            if loaded.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{}: cannot build packs: {e}", out.display());
            ExitCode::from(1)
        }
    }
}

fn snapshot(
    paths: Vec<PathBuf>,
    dir: &std::path::Path,
    accept: bool,
    targets: &[TargetId],
    m: &MappingArgs,
) -> ExitCode {
    use ruleport_eval::snapshot::SnapshotOutcome;
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let paths = if paths.is_empty() {
        vec![PathBuf::from("rules")]
    } else {
        paths
    };
    let loaded = load_paths(&paths);
    print_diagnostics(&loaded);
    let entries = match ruleport_eval::snapshot::run(&loaded.rules, targets, dir, accept, &conv) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: cannot write snapshots: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let (mut unchanged, mut new, mut changed, mut written) = (0, 0, 0, 0);
    for e in &entries {
        match &e.outcome {
            SnapshotOutcome::Unchanged => unchanged += 1,
            SnapshotOutcome::New => {
                new += 1;
                println!("new snapshot: {}", e.path.display());
            }
            SnapshotOutcome::Changed(diff) => {
                changed += 1;
                print!("{diff}");
            }
            SnapshotOutcome::Written => {
                written += 1;
                println!("written: {}", e.path.display());
            }
        }
    }
    println!("{unchanged} unchanged, {changed} changed, {new} new, {written} written");
    if changed + new > 0 {
        println!("run `ruleport snapshot --accept` to accept the new outputs");
    }
    if changed + new > 0 || loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn corpus(
    shared: Option<PathBuf>,
    targets: &[TargetId],
    baseline: Option<PathBuf>,
    update: bool,
    differential: bool,
    m: &MappingArgs,
) -> ExitCode {
    use ruleport_eval::corpus;
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(shared) = shared.or_else(corpus::shared_dir) else {
        eprintln!("the shared corpora were not found: pass --shared DIR or set RULEPORT_SHARED");
        return ExitCode::from(1);
    };
    if !shared.join("corpus").is_dir() {
        eprintln!("{}: no corpus/ folder here", shared.display());
        return ExitCode::from(1);
    }
    let report = corpus::run(&shared, &conv, targets, differential);
    print!("{}", corpus::render(&report));
    let mut problems = Vec::new();
    if let Some(b) = &baseline {
        if update {
            if let Err(e) = std::fs::write(
                b,
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
            ) {
                eprintln!("{}: cannot write baseline: {e}", b.display());
                return ExitCode::from(1);
            }
            println!("baseline written to {}", b.display());
        } else {
            match std::fs::read_to_string(b)
                .map(|t| serde_json::from_str::<corpus::CorpusReport>(&t))
            {
                Ok(Ok(base)) => problems = corpus::regressions(&report, &base),
                Ok(Err(e)) => problems.push(format!("{}: invalid baseline: {e}", b.display())),
                Err(e) => problems.push(format!("{}: cannot read baseline: {e}", b.display())),
            }
        }
    } else {
        problems = corpus::regressions(&report, &corpus::CorpusReport::default());
    }
    for p in &problems {
        eprintln!("corpus check failed: {p}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn view(fixtures: &std::path::Path, targets: &[TargetId], m: &MappingArgs) -> ExitCode {
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut loaded = load_paths(&[fixtures.to_path_buf()]);
    let pairs = pair_fixtures(&mut loaded);
    print_diagnostics(&loaded);
    let Some(pair) = pairs.first() else {
        eprintln!("{}: no fixture file with a rule found", fixtures.display());
        return ExitCode::from(1);
    };
    let rule = &pair.rule.rule;
    let file = &pair.fixtures.file;
    let from = file.schema.unwrap_or(rule.schema);
    for case in &file.cases {
        println!("== {}", case.name);
        for &t in targets {
            let Some(schema) = ruleport_eval::query_language(t).map(|l| l.schema()) else {
                continue;
            };
            let mapped = conv.mapping.map_rule(rule, schema);
            let table = mapped.selection.tables.first().map(String::as_str);
            for e in case.events() {
                let v = conv.mapping.view_event_in(
                    &e,
                    from,
                    case.logsource.as_deref().or(file.logsource.as_deref()),
                    schema,
                    table,
                );
                println!("{t}: {}", serde_json::to_string(&v).unwrap_or_default());
            }
        }
    }
    ExitCode::SUCCESS
}

fn coverage(paths: &[PathBuf], schemas: &[String], top: usize, m: &MappingArgs) -> ExitCode {
    use ruleport_model::Schema;
    let conv = match converter_or_exit(m) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut wanted = Vec::new();
    for s in schemas {
        wanted.push(match s.as_str() {
            "ecs" | "kuery" | "eql" | "elastic" => Schema::Ecs,
            "splunk" => Schema::Splunk,
            "sentinel" => Schema::Sentinel,
            "sigma" => Schema::Sigma,
            other => {
                eprintln!("unknown schema `{other}`; expected ecs, splunk, sentinel or sigma");
                return ExitCode::from(2);
            }
        });
    }
    let loaded = load_paths(paths);
    print_diagnostics(&loaded);
    let rules: Vec<_> = loaded.rules.iter().map(|r| r.rule.clone()).collect();
    for schema in wanted {
        print!("{}", conv.mapping.coverage(&rules, schema).render_text(top));
    }
    if loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
