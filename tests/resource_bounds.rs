//! Resource bounds on hostile input (issue #12): deep nesting is an error and not a stack
//! overflow, YAML alias bombs are refused under 100 MB of memory, oversized files are refused
//! with a message, and regexes are compiled with size limits on a linear-time engine.
//!
//! Memory is measured in a child process (this test binary run again on one test, with
//! `RULEPORT_RSS_CHILD` set), which reports its peak resident set (`VmHWM`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Nesting depth of the hostile inputs.
const N: usize = 100_000;
/// Peak resident memory allowed to a child that parses a bomb.
const RSS_LIMIT_KB: u64 = 100 * 1024;

fn ruleport(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args(args)
        .output()
        .expect("run ruleport")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parens(inner: &str) -> String {
    format!("{}{inner}{}", "(".repeat(N), ")".repeat(N))
}

// ---------- deep nesting ----------

#[test]
fn kuery_deep_nesting_is_an_error() {
    for q in [
        parens("a:b"),
        format!("{}a:b", "not ".repeat(N)),
        format!("{}x:y{}", "a:{".repeat(N), "}".repeat(N)),
        format!("a:{}", parens("b")),
    ] {
        let e = ruleport_kuery::parse_to_expr(&q).expect_err("100,000 levels must be refused");
        assert!(e.pos.is_some(), "{e}");
    }
}

#[test]
fn eql_deep_nesting_is_an_error() {
    for q in [
        format!("any where {}", parens("a == 1")),
        format!("any where {}a == 1", "not ".repeat(N)),
        format!("any where a == {}", parens("1")),
        format!("any where a == {}1", "-".repeat(N)),
        format!("any where {}a{} == 1", "length(".repeat(N), ")".repeat(N)),
        format!("any where a in {}", parens("1")),
    ] {
        let e = ruleport_eql::parse(&q).expect_err("100,000 levels must be refused");
        assert!(e.pos.is_some(), "{e}");
    }
}

#[test]
fn spl_deep_nesting_is_an_error() {
    for q in [
        format!("sourcetype=x {}", parens("a=b")),
        format!("sourcetype=x {}a=b", "NOT ".repeat(N)),
        format!("sourcetype=x | where {}", parens("a==\"b\"")),
        format!("sourcetype=x | where {}a==\"b\"", "NOT ".repeat(N)),
        format!(
            "sourcetype=x | where {}a{}==\"b\"",
            "lower(".repeat(N),
            ")".repeat(N)
        ),
    ] {
        let e = ruleport_splunk::parse(&q).expect_err("100,000 levels must be refused");
        assert!(e.pos.is_some(), "{e}");
    }
}

#[test]
fn kusto_deep_nesting_is_an_error() {
    for q in [
        format!("T | where {}", parens("A == \"b\"")),
        format!("T | where {}A == \"b\"{}", "not(".repeat(N), ")".repeat(N)),
        format!(
            "T | where {}A{} == \"b\"",
            "tolower(".repeat(N),
            ")".repeat(N)
        ),
    ] {
        let e = ruleport_sentinel::parse(&q).expect_err("100,000 levels must be refused");
        assert!(e.pos.is_some(), "{e}");
    }
}

fn sigma_with_condition(cond: &str) -> String {
    format!(
        "title: deep\nid: 6f0c0e4e-2d6b-4f7e-9d61-0c3f2a1b9e01\nlogsource:\n  product: windows\n  \
         category: process_creation\ndetection:\n  selection:\n    Image: x\n  condition: {cond}\n"
    )
}

#[test]
fn sigma_deep_nesting_is_an_error() {
    for cond in [
        parens("selection"),
        format!("{}selection", "not ".repeat(N)),
    ] {
        let out =
            ruleport_sigma::import_str(&sigma_with_condition(&cond), Some(Path::new("deep.yml")));
        assert!(out.rules.is_empty());
        let d = out
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .expect("an error");
        assert_eq!(d.pos.map(|p| p.line), Some(9), "{d}");
    }
    // Deep YAML itself (flow sequences and block mappings).
    let flow = format!("title: x\ndetection: {}{}\n", "[".repeat(N), "]".repeat(N));
    let block: String = (0..N.min(20_000))
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    for y in [flow, block] {
        let out = ruleport_sigma::import_str(&y, Some(Path::new("deep.yml")));
        assert!(out.rules.is_empty());
        let d = out
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .expect("an error");
        assert!(d.pos.is_some(), "{d}");
    }
}

#[test]
fn elastic_query_deep_nesting_is_an_error_at_its_position() {
    let src = std::fs::read_to_string(
        repo().join("rules/elastic/azure_application_credential_modification.toml"),
    )
    .expect("seed");
    let start = src.find("query = '''").expect("query") + "query = '''".len();
    let end = src[start..].find("'''").expect("end") + start;
    let toml = format!("{}\n{}\n{}", &src[..start], parens("a:b"), &src[end..]);
    let diags =
        ruleport_elastic::import_str(&toml, Some(Path::new("deep.toml"))).expect_err("refused");
    assert!(
        diags.iter().any(|d| d.pos.is_some_and(|p| p.line > 1)),
        "{diags:?}"
    );
}

#[test]
fn fixture_deep_nesting_is_an_error() {
    // Nesting is counted before serde_norway loads the document: 100,000 levels stop near level 129.
    let y = format!(
        "cases:\n  - name: x\n    expect: match\n    event: {}{}\n",
        "[".repeat(N),
        "]".repeat(N)
    );
    let start = Instant::now();
    let e = ruleport_eval::fixtures::parse_fixture_file(&y, Path::new("deep.fixtures.yml"))
        .expect_err("refused");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert!(e.message.contains("deeper than 128"), "{e}");
    // `event: ` ends at column 11, so the first `[` is at column 12.
    assert!(
        e.pos
            .is_some_and(|p| p.line == 4 && (12 + 128..12 + 300).contains(&p.column)),
        "{e}"
    );
}

#[test]
fn mapping_and_pipeline_deep_nesting_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let deep = dir.path().join("deep.yml");
    std::fs::write(
        &deep,
        format!("common_fields: {}{}\n", "[".repeat(N), "]".repeat(N)),
    )
    .expect("write");
    let e = ruleport_mapping::Mapping::with_overrides(&[&deep]).expect_err("refused");
    assert!(
        e.message.contains("deeper than 128") && e.pos.is_some(),
        "{e}"
    );
    let y = format!("transformations: {}{}\n", "[".repeat(N), "]".repeat(N));
    let e = ruleport_mapping::pipeline::load_pysigma_pipeline(&y, Path::new("deep.yml"))
        .expect_err("refused");
    assert!(
        e.message.contains("deeper than 128") && e.pos.is_some(),
        "{e}"
    );
}

// ---------- YAML alias bombs, measured in a child process ----------

/// Nine levels of nine aliases: 9^9 (387 million) leaves when expanded. The anchors are keys of
/// the map that starts with `head` (indented by `indent`); `at` uses the bomb in place of `BOMB`.
fn billion_laughs(head: &str, indent: &str, at: &str) -> String {
    let mut y = String::from(head);
    y.push_str(&format!("{indent}l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"));
    for i in 1..9 {
        let p = format!("*l{}", i - 1);
        y.push_str(&format!(
            "{indent}l{i}: &l{i} [{}]\n",
            [p.as_str(); 9].join(", ")
        ));
    }
    y.push_str(&at.replace("BOMB", "*l8"));
    y
}

/// One 1 MiB string aliased 4,000 times: few nodes, 4 GiB when expanded.
fn string_bomb(head: &str, indent: &str, at: &str) -> String {
    let mut y = String::from(head);
    y.push_str(&format!("{indent}big: &big \"{}\"\n", "A".repeat(1 << 20)));
    let items = vec!["*big"; 4_000].join(", ");
    y.push_str(&at.replace("BOMB", &format!("[{items}]")));
    y
}

const SIGMA_HEAD: &str =
    "title: bomb\nid: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d\nlogsource:\n  product: windows\n";
const SIGMA_AT: &str =
    "detection:\n  selection:\n    CommandLine|contains: BOMB\n  condition: selection\n";
const FIXTURE_HEAD: &str = "cases:\n  - name: bomb\n    expect: match\n    event:\n";
const FIXTURE_AT: &str = "      CommandLine: BOMB\n";
const MAPPING_HEAD: &str = "field_sets:\n  anchors:\n";
const MAPPING_AT: &str = "common_fields:\n  - {sigma: CommandLine, ecs: BOMB}\n";
const PIPELINE_HEAD: &str = "name: bomb\nvars:\n";
const PIPELINE_AT: &str =
    "transformations:\n  - type: add_condition\n    conditions:\n      CommandLine: BOMB\n";

/// What a child does: parse one bomb in-process and print its peak RSS.
fn child_workload(name: &str) -> Option<String> {
    let p = Path::new("bomb.yml");
    let errs = |o: ruleport_sigma::ImportOutcome| {
        assert!(o.rules.is_empty(), "the bomb was imported");
        o.diagnostics
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let refused = |r: Result<(), ruleport_model::Diagnostic>| match r {
        Ok(()) => panic!("the bomb was read"),
        Err(d) => d.to_string(),
    };
    let fixture =
        |y: String| refused(ruleport_eval::fixtures::parse_fixture_file(&y, p).map(|_| ()));
    // Mapping files are read through `--mapping`'s loader, from a file named like the others.
    let mapping = |y: String| {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("bomb.yml");
        std::fs::write(&f, y).expect("write");
        refused(ruleport_mapping::Mapping::with_overrides(&[&f]).map(|_| ()))
    };
    let pipeline =
        |y: String| refused(ruleport_mapping::pipeline::load_pysigma_pipeline(&y, p).map(|_| ()));
    Some(match name {
        "sigma-laughs" => errs(ruleport_sigma::import_str(
            &billion_laughs(SIGMA_HEAD, "", SIGMA_AT),
            Some(p),
        )),
        "sigma-strings" => errs(ruleport_sigma::import_str(
            &string_bomb(SIGMA_HEAD, "", SIGMA_AT),
            Some(p),
        )),
        "fixture-laughs" => fixture(billion_laughs(FIXTURE_HEAD, "      ", FIXTURE_AT)),
        "fixture-strings" => fixture(string_bomb(FIXTURE_HEAD, "      ", FIXTURE_AT)),
        "mapping-laughs" => mapping(billion_laughs(MAPPING_HEAD, "    ", MAPPING_AT)),
        "mapping-strings" => mapping(string_bomb(MAPPING_HEAD, "    ", MAPPING_AT)),
        "pipeline-laughs" => pipeline(billion_laughs(PIPELINE_HEAD, "  ", PIPELINE_AT)),
        "pipeline-strings" => pipeline(string_bomb(PIPELINE_HEAD, "  ", PIPELINE_AT)),
        _ => return None,
    })
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child entry point: does nothing in a normal run.
#[test]
fn rss_child() {
    let Ok(name) = std::env::var("RULEPORT_RSS_CHILD") else {
        return;
    };
    let start = Instant::now();
    let message = child_workload(&name).expect("known workload");
    println!(
        "RSS_CHILD_KB={} MS={} MESSAGE={}",
        peak_rss_kb(),
        start.elapsed().as_millis(),
        message.lines().next().unwrap_or("")
    );
}

/// Run one workload in a child; returns (peak RSS in KiB, error message).
fn measure(name: &str) -> (u64, String) {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["rss_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("RULEPORT_RSS_CHILD", name)
        .output()
        .expect("run child");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: child failed\n{stdout}\n{}",
        text(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("RSS_CHILD_KB=").map(|i| &l[i..]))
        .expect("child report");
    eprintln!("{name}: {line}");
    let kb = line["RSS_CHILD_KB=".len()..]
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("kb");
    let msg = line
        .split_once("MESSAGE=")
        .map(|(_, m)| m.to_string())
        .unwrap_or_default();
    (kb, msg)
}

#[test]
fn sigma_alias_bombs_are_refused_under_100_mb() {
    for name in ["sigma-laughs", "sigma-strings"] {
        let (kb, msg) = measure(name);
        assert!(
            msg.contains("bomb.yml:") && msg.contains("too large"),
            "{name}: {msg}"
        );
        assert!(kb < RSS_LIMIT_KB, "{name}: peak RSS {kb} KiB");
    }
}

/// Fixture, mapping and pipeline files are read with serde_norway after a streaming pass that
/// costs alias expansion like the Sigma reader; the refusal names the file, line and column of
/// the alias that crosses 16 MiB.
#[test]
fn fixture_mapping_and_pipeline_alias_bombs_are_refused_under_100_mb() {
    for name in [
        "fixture-laughs",
        "fixture-strings",
        "mapping-laughs",
        "mapping-strings",
        "pipeline-laughs",
        "pipeline-strings",
    ] {
        let (kb, msg) = measure(name);
        assert!(
            msg.contains("too large a document (over 16 MiB)"),
            "{name}: {msg}"
        );
        let at = msg.split("bomb.yml:").nth(1).unwrap_or_default();
        let pos: Vec<u32> = at
            .split(':')
            .take(2)
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        assert!(
            pos.len() == 2 && pos[0] > 1 && pos[1] > 1,
            "{name}: no line and column: {msg}"
        );
        assert!(kb < RSS_LIMIT_KB, "{name}: peak RSS {kb} KiB: {msg}");
    }
}

/// The same through the command line: `--mapping` and `--pipeline` files.
#[test]
fn mapping_and_pipeline_bombs_through_the_cli_are_refused_with_a_position() {
    let dir = tempfile::tempdir().expect("tmp");
    let mapping = dir.path().join("bomb-mapping.yml");
    std::fs::write(&mapping, string_bomb(MAPPING_HEAD, "    ", MAPPING_AT)).expect("write");
    let pipeline = dir.path().join("bomb-pipeline.yml");
    std::fs::write(&pipeline, billion_laughs(PIPELINE_HEAD, "  ", PIPELINE_AT)).expect("write");
    let rule = repo().join("rules/sigma/proc_creation_win_encoded_powershell.yml");
    let rule = rule.to_str().expect("utf8");
    for (opt, file, line) in [("--mapping", &mapping, 5), ("--pipeline", &pipeline, 8)] {
        let out = ruleport(&["convert", "-q", opt, file.to_str().expect("utf8"), rule]);
        let stderr = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{opt}: {stderr}");
        let name = file.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            stderr.contains(&format!("{name}:{line}:")) && stderr.contains("16 MiB"),
            "{opt}: {stderr}"
        );
    }
}

// ---------- oversized input ----------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_100_mb_rule_file_is_refused_with_a_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("big.yml");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        f.write_all(SIGMA_HEAD.as_bytes()).expect("write");
        f.write_all(b"description: |\n").expect("write");
        let line = format!("  {}\n", "x".repeat(1021));
        for _ in 0..(100 * 1024) {
            f.write_all(line.as_bytes()).expect("write");
        }
        f.write_all(SIGMA_AT.replace("BOMB", "x").as_bytes())
            .expect("write");
    }
    assert!(std::fs::metadata(&big).expect("meta").len() >= 100 << 20);
    let start = Instant::now();
    let out = ruleport(&["check", big.to_str().expect("utf8")]);
    let elapsed = start.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("big.yml") && stderr.contains("limit"),
        "stderr: {stderr}"
    );
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

// ---------- regexes ----------

#[test]
fn regexes_have_size_limits_and_no_catastrophic_backtracking() {
    use ruleport_model::{Case, RegexAnchor, RegexSpec};
    let spec = |pattern: &str| RegexSpec {
        pattern: pattern.into(),
        case: Case::Sensitive,
        multiline: false,
        dotall: false,
        anchor: RegexAnchor::Search,
    };
    // A program far larger than the size limit is refused, not built.
    let huge = spec(r"(\w{100}){100}[a-z]{1000}");
    let err = ruleport_model::matching::compile_regex(&huge).expect_err("size limit");
    assert!(err.contains("size limit"), "{err}");
    // The classic catastrophic-backtracking pattern runs in linear time.
    let evil = ruleport_model::matching::compile_regex(&spec("^(a+)+$")).expect("compiles");
    let input = format!("{}!", "a".repeat(100_000));
    let start = Instant::now();
    assert!(!evil.is_match(&input));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // PCRE-only features are refused with a message rather than approximated silently.
    for pcre in [r"(?<=a)b", r"(a)\1", r"a(?=b)", r"(?>a)"] {
        assert!(
            ruleport_model::matching::compile_regex(&spec(pcre)).is_err(),
            "{pcre}"
        );
    }
}

#[test]
fn pipeline_regexes_have_size_limits() {
    let y = "name: p\ntransformations:\n  - type: replace_string\n    regex: '(\\w{100}){100}[a-z]{1000}'\n    replacement: x\n";
    let e = ruleport_mapping::pipeline::load_pysigma_pipeline(y, Path::new("re.yml"))
        .expect_err("size limit");
    assert!(e.to_string().contains("size limit"), "{e}");
    // A large but acceptable regex still compiles.
    let y = "name: p\ntransformations:\n  - type: replace_string\n    regex: '\\w{100}'\n    replacement: x\n";
    assert!(ruleport_mapping::pipeline::load_pysigma_pipeline(y, Path::new("re.yml")).is_ok());
}

/// A keyword term over `_raw` becomes a regex between major breakers: a term of 100,000
/// wildcards is refused by the size limit (no match) in bounded time, not compiled without limit.
#[test]
fn splunk_raw_term_regexes_have_size_limits() {
    use ruleport_model::CompiledQuery;
    let term = "ab*".repeat(100_000);
    let q = ruleport_splunk::compile(&format!("sourcetype=x \"{term}\"")).expect("compiles");
    let raw = format!("x {} y", "ab".repeat(100_000));
    let events = [serde_json::json!({"sourcetype": "x", "_time": 1, "_raw": raw})];
    let start = Instant::now();
    let out = q.run(&events).expect("runs");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(out.len(), 0, "an over-limit term matches nothing");
    // The same term with 1,000 wildcards is under the limit and matches (each `*` matches nothing).
    let q = ruleport_splunk::compile(&format!("sourcetype=x \"{}\"", "ab*".repeat(1_000)))
        .expect("compiles");
    assert_eq!(q.run(&events).expect("runs").len(), 1);
}

#[test]
fn pcre_only_regexes_in_sigma_are_reported() {
    let y = "title: r\nid: 1d6b3d0a-5a3e-4b8e-9c1f-2e3d4c5b6a79\nlogsource:\n  product: windows\n\
             detection:\n  selection:\n    CommandLine|re: '(a)\\1(?<=x)'\n  condition: selection\n";
    let out = ruleport_sigma::import_str(y, Some(Path::new("re.yml")));
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .map(|d| d.to_string())
        .unwrap_or_default();
    assert!(
        out.rules.is_empty() && d.contains("re.yml:7:"),
        "{d} {:?}",
        out.rules.len()
    );
}

#[test]
fn a_long_glob_value_matches_in_linear_time() {
    use ruleport_model::{matching::GlobMatcher, Case, StrPattern};
    let g = GlobMatcher::new(
        &StrPattern::from_glob_unescaped(&format!("{}b", "*a".repeat(100))),
        Case::Insensitive,
    );
    let hay = "a".repeat(100_000);
    let start = Instant::now();
    assert!(!g.is_match(&hay));
    assert!(g.is_match(&format!("{hay}B")));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

// ---------- wide input ----------

/// 20,000-term disjunctions (about 300 KB): parsed in well under a few seconds, so no parser is
/// quadratic in the input length.
#[test]
fn wide_queries_parse_in_near_linear_time() {
    let n = 20_000;
    let terms =
        |f: &dyn Fn(usize) -> String, sep: &str| (0..n).map(f).collect::<Vec<_>>().join(sep);
    // (target, query, whether it parses)
    type WideCase = (&'static str, String, Box<dyn Fn(&str) -> bool>);
    let cases: Vec<WideCase> = vec![
        ("kuery", terms(&|i| format!("a:\"v{i}\""), " or "), Box::new(|q| ruleport_kuery::parse_to_expr(q).is_ok())),
        ("eql", format!("any where {}", terms(&|i| format!("a == \"v{i}\""), " or ")), Box::new(|q| ruleport_eql::parse(q).is_ok())),
        ("splunk", format!("sourcetype=x ({})", terms(&|i| format!("a=\"v{i}\""), " OR ")), Box::new(|q| ruleport_splunk::parse(q).is_ok())),
        ("sentinel", format!("T | where {}", terms(&|i| format!("A == \"v{i}\""), " or ")), Box::new(|q| ruleport_sentinel::parse(q).is_ok())),
        (
            "sigma",
            format!("{SIGMA_HEAD}detection:\n  selection:\n    CommandLine:\n{}\n  condition: selection\n", terms(&|i| format!("      - v{i}"), "\n")),
            Box::new(|q| !ruleport_sigma::import_str(q, None).has_errors()),
        ),
    ];
    for (name, q, parse) in cases {
        let start = Instant::now();
        assert!(parse(&q), "{name}: a wide query is valid");
        let took = start.elapsed();
        eprintln!("{name}: {} bytes in {took:?}", q.len());
        assert!(took < Duration::from_secs(20), "{name}: {took:?}");
    }
}

// ---------- deep but accepted input through the whole pipeline ----------

/// A query just under the parsers' depth limit goes through lowering, every emitter, the parse
/// back and evaluation on a 2 MiB test thread: each stage either works or refuses with a
/// reason, none overflows its stack.
#[test]
fn deepest_accepted_queries_survive_every_stage() {
    use ruleport_model::{
        Detection, EventFilter, FieldKind, MappedRule, QueryLanguage, RuleFormat, Schema,
        SourceSelection,
    };
    let depth = ruleport_kuery::MAX_DEPTH.min(ruleport_eql::MAX_DEPTH) - 6;
    let queries = [
        format!("{}a:b{}", "(".repeat(depth), ")".repeat(depth)),
        // `not (` counts two levels.
        format!("{}a:b{}", "not (".repeat(depth / 2), ")".repeat(depth / 2)),
        (0..depth / 2).fold("a:b".to_string(), |q, i| {
            if i % 2 == 0 {
                format!("(c:{i} or {q})")
            } else {
                format!("not (d:{i} and {q})")
            }
        }),
        (0..depth / 4).fold("a:b".to_string(), |q, i| {
            if i % 2 == 0 {
                format!("(c:{i} or {q})")
            } else {
                format!("not (d:{i} and {q})")
            }
        }),
    ];
    for q in &queries {
        let expr = ruleport_kuery::parse_to_expr(q).unwrap_or_else(|d| panic!("{d}"));
        let rule = ruleport_model::Rule {
            meta: ruleport_model::RuleMeta {
                id: "deep".into(),
                title: "deep".into(),
                ..Default::default()
            },
            logsource: Default::default(),
            detection: Detection::Query(EventFilter::new(expr.clone())),
            schema: Schema::Ecs,
            format: ruleport_model::SourceFormat::ElasticToml,
            language: "kuery".into(),
            original_query: Some(q.clone()),
            provenance: Default::default(),
        };
        let events = [
            serde_json::json!({"a": "b", "c": "1", "d": "2", "Type": "T"}),
            serde_json::json!({"Type": "T"}),
        ];
        let reference =
            ruleport_model::eval::RuleEvaluator::new(&rule).expect("reference compiles");
        let _ = reference.run(&events, None);
        let langs: [(Box<dyn QueryLanguage>, Schema); 4] = [
            (Box::new(ruleport_kuery::Kuery), Schema::Ecs),
            (Box::new(ruleport_eql::Eql), Schema::Ecs),
            (Box::new(ruleport_splunk::Splunk::new()), Schema::Splunk),
            (Box::new(ruleport_sentinel::Sentinel), Schema::Sentinel),
        ];
        for (lang, schema) in langs {
            let mut m = MappedRule::identity(rule.clone());
            m.target_schema = schema;
            m.selection = SourceSelection {
                tables: vec!["T".into()],
                ..Default::default()
            };
            for f in expr.fields() {
                m.field_kinds.insert(f, FieldKind::Keyword);
            }
            let outcome = lang.emit(&m);
            eprintln!(
                "{}: {}",
                lang.id(),
                match &outcome {
                    Ok(p) => format!("{} bytes", p.text.len()),
                    Err(u) => u.code.clone(),
                }
            );
            match outcome {
                Ok(port) => match lang.compile(&port.text) {
                    Ok(c) => {
                        c.run(&events).expect("runs");
                    }
                    // Deeper text than the model (added parentheses) may pass the parser's limit:
                    // an error with a position, never a crash.
                    Err(d) => assert!(d.pos.is_some(), "{}: {d}", lang.id()),
                },
                Err(u) => assert!(!u.reason.is_empty(), "{}", lang.id()),
            }
        }
        let formats: [Box<dyn RuleFormat>; 2] = [
            Box::new(ruleport_sigma::SigmaFormat),
            Box::new(ruleport_elastic::ElasticFormat),
        ];
        for f in formats {
            let mut m = MappedRule::identity(rule.clone());
            m.target_schema = f.schema();
            if let Ok(port) = f.export(&m) {
                let _ = f.import_text(&port.text, None);
            }
        }
    }
}

// ---------- encodings and terminal output ----------

#[test]
fn utf16_and_binary_files_are_refused_with_a_position() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule =
        "title: t\nid: 5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d\nlogsource:\n  product: windows\n\
                detection:\n  selection:\n    CommandLine: x\n  condition: selection\n";
    let le = dir.path().join("le.yml");
    let mut b = vec![0xff, 0xfe];
    b.extend(rule.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&le, b).expect("write");
    let be = dir.path().join("be.yml");
    let mut b = vec![0xfe, 0xff];
    b.extend(rule.encode_utf16().flat_map(u16::to_be_bytes));
    std::fs::write(&be, b).expect("write");
    // A NUL byte on line 3, after `abcdé` (5 characters): column 6.
    let bin = dir.path().join("bin.yml");
    std::fs::write(&bin, "title: t\nid: x\nabcd\u{e9}\0rest\n").expect("write");
    let out = ruleport(&[
        "check",
        le.to_str().expect("utf8"),
        be.to_str().expect("utf8"),
        bin.to_str().expect("utf8"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for name in ["le.yml", "be.yml"] {
        assert!(
            stderr.lines().any(|l| l.contains(&format!("{name}:1:1:"))
                && l.contains("UTF-16 file: save it as UTF-8")),
            "{stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("bin.yml:3:6:") && l.contains("E-BINARY")),
        "{stderr}"
    );
}

#[test]
fn convert_text_output_escapes_control_characters_in_titles() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule = dir.path().join("ansi.yml");
    // The title holds an ANSI colour sequence, a carriage return and a bell (YAML escapes).
    std::fs::write(
        &rule,
        "title: \"red\\e[31m\\rfake\\a\"\nid: 6b5c4d3e-2f10-4b0a-9d8e-7f6a5b4c3d2e\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  selection:\n    CommandLine|contains: x\n  condition: selection\n",
    )
    .expect("write");
    let out = ruleport(&[
        "convert",
        "-q",
        "--to",
        "kuery,eql",
        rule.to_str().expect("utf8"),
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("# red\\u{1b}[31m\\u{d}fake\\u{7} ("),
        "{stdout}"
    );
    for s in [&stdout, &stderr] {
        assert!(
            !s.contains(['\u{1b}', '\r', '\u{7}']),
            "raw control characters: {s:?}"
        );
    }
}

#[test]
fn convert_text_output_escapes_control_characters_in_queries() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule = dir.path().join("ansi-value.yml");
    std::fs::write(
        &rule,
        "title: t\nid: 6b5c4d3e-2f10-4b0a-9d8e-7f6a5b4c3d2f\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  selection:\n    CommandLine|contains: \"a\\e[31mb\"\n  condition: selection\n",
    )
    .expect("write");
    // SPL has no escape for ESC: the query holds it raw, so the text output shows it escaped and says so.
    let out = ruleport(&[
        "convert",
        "-q",
        "--to",
        "splunk",
        "--on-approximate",
        "ignore",
        rule.to_str().expect("utf8"),
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        !stdout.contains('\u{1b}') && stdout.contains("*a\\u{1b}[31mb*"),
        "{stdout:?}"
    );
    assert!(
        stderr.contains("splunk query holds control characters"),
        "{stderr}"
    );
    // JSON output keeps the exact query.
    let out = ruleport(&[
        "convert",
        "-q",
        "--to",
        "splunk",
        "--format",
        "json",
        "--on-approximate",
        "ignore",
        rule.to_str().expect("utf8"),
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        rows[0]["text"]
            .as_str()
            .is_some_and(|q| q.contains("*a\u{1b}[31mb*")),
        "{rows}"
    );
}

#[test]
fn oversized_mapping_and_pipeline_files_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("big.yml");
    // A sparse file: over the 64 MiB limit without writing 64 MiB.
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(ruleport_eval::load::MAX_FILE_BYTES + 1)
        .expect("set_len");
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: t\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n",
    )
    .expect("write");
    for flag in ["--mapping", "--pipeline"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ruleport"))
            .args([
                "convert",
                "-q",
                flag,
                big.to_str().expect("utf8"),
                rule.to_str().expect("utf8"),
            ])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{flag}: {stderr}");
        assert!(
            stderr.contains("E-TOO-LARGE") || stderr.contains("the limit is"),
            "{flag}: {stderr}"
        );
    }
}
