//! Packs built from hostile rules (issue #12), through `ruleport pack`: every value is escaped
//! for every output format (each file parses back to the exact value, each query still matches
//! exactly what the rule means), and no file is written outside `--out`, whatever a rule's id or
//! title says.

use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

const SIGMA_TITLE: &str =
    "Evil {{title}} </script> ]] ''' \"\"\" `x` | a | $(id) ${x} %s \u{202e}\u{1b}[31m \r\nnew: line";
const SIGMA_DESC: &str = "desc {{#each}} {{{raw}}} --- \n---\ntitle: injected\n```\n# heading\n<img src=x onerror=alert(1)>";
const CMD1: &str = "x\" or true or \"";
const CMD2: &str = "a'b\\c\n| delete";
const CMD3: &str = "}}{{ \u{202e}";

const ELASTIC_TITLE: &str = "../../etc/passwd {{> partial}} ''' \"\"\" [rule]";
const ELASTIC_DESC: &str = "desc ''' \"\"\" {{x}} \n[rule]\nname = \"injected\"\n\\";
const NAME: &str = "a'b\\c";

fn yaml_dq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{202e}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_basic(s: &str) -> String {
    // TOML basic strings take the same escapes as the YAML double-quoted form above.
    yaml_dq(s)
}

fn write_rules(dir: &Path) {
    let sigma = format!(
        "title: {}\nid: ../../../../../../tmp/ruleport-escaped\nstatus: test\ndescription: {}\n\
         author: \"a\\\"b'c\"\nreferences:\n  - \"javascript:alert(1)\"\ntags:\n  - \"attack.t1059\\n  - injected\"\n\
         falsepositives:\n  - \"]] [[ ===\"\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  selection:\n    CommandLine|contains:\n      - {}\n      - {}\n      - {}\n    \
         Image|endswith: '\\evil.exe'\n  condition: selection\nlevel: high\n",
        yaml_dq(SIGMA_TITLE),
        yaml_dq(SIGMA_DESC),
        yaml_dq(CMD1),
        yaml_dq(CMD2),
        yaml_dq(CMD3),
    );
    std::fs::write(dir.join("evil.yml"), sigma).expect("write");
    let elastic = format!(
        "[metadata]\ncreation_date = \"2024/01/01\"\nmaturity = \"production\"\nupdated_date = \"2024/01/01\"\n\n\
         [rule]\nauthor = [\"a\\\"b\"]\ndescription = {}\nindex = [\"logs-*\"]\nlanguage = \"kuery\"\n\
         license = \"Elastic License v2\"\nname = {}\nrisk_score = 47\nrule_id = \"..\\\\..\\\\..\\\\escaped2\"\n\
         severity = \"medium\"\ntype = \"query\"\nnote = \"```\\n</details>\\n{{{{{{x}}}}}}\"\n\n\
         query = '''\nprocess.command_line:\"x\\\" or true or \\\"\" and process.name:\"a'b\\\\c\"\n'''\n",
        toml_basic(ELASTIC_DESC),
        toml_basic(ELASTIC_TITLE),
    );
    std::fs::write(dir.join("evil.toml"), elastic).expect("write");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        let meta = std::fs::symlink_metadata(&p).expect("meta");
        assert!(
            !meta.file_type().is_symlink(),
            "a symlink was written: {}",
            p.display()
        );
        if meta.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Command lines holding each hostile value, or a near miss (the value less its last character).
fn sigma_events(matching: bool) -> [String; 3] {
    let v = |s: &str| {
        if matching {
            format!("pre {s} post")
        } else {
            let mut t = s.to_string();
            t.pop();
            t
        }
    };
    [v(CMD1), v(CMD2), v(CMD3)]
}

#[test]
fn hostile_rules_make_safe_packs() {
    let root = tempfile::tempdir().expect("tmp");
    let rules = root.path().join("rules");
    let out = root.path().join("out");
    std::fs::create_dir_all(&rules).expect("mkdir");
    write_rules(&rules);
    // The ids point at these places: nothing may appear there.
    let escaped = [
        PathBuf::from("/tmp/ruleport-escaped"),
        root.path().join("escaped2"),
    ];
    for p in &escaped {
        let _ = std::fs::remove_file(p);
    }

    let run = Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args([
            "pack",
            rules.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ])
        .output()
        .expect("run ruleport");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "stderr: {stderr}");

    // Nothing outside --out: the temp root holds only rules/ and out/, ids wrote nowhere else.
    let mut top: Vec<String> = std::fs::read_dir(root.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["out", "rules"]);
    assert_eq!(std::fs::read_dir(&rules).expect("read").count(), 2);
    for p in &escaped {
        assert!(!p.exists(), "{} was written", p.display());
    }
    let mut files = Vec::new();
    files_under(&out, &mut files);
    let canon_out = out.canonicalize().expect("canon");
    for f in &files {
        assert!(
            f.canonicalize().expect("canon").starts_with(&canon_out),
            "{}",
            f.display()
        );
        let rel = f.strip_prefix(&out).expect("inside");
        assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "{}",
            rel.display()
        );
        let name = f.file_name().expect("name").to_string_lossy();
        assert!(!name.starts_with('.'), "hidden file {}", f.display());
    }

    check_elastic(&out);
    check_sentinel(&out);
    check_sigma(&out);
    check_splunk(&out);
    check_docs(&files);
}

fn check_elastic(out: &Path) {
    let ndjson = read(&out.join("elastic/rules.ndjson"));
    let rules: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    assert_eq!(rules.len(), 2, "{ndjson}");
    let by_name = |t: &str| {
        rules
            .iter()
            .find(|r| r["name"] == t)
            .unwrap_or_else(|| panic!("no rule named {t:?}\n{ndjson}"))
    };
    let s = by_name(SIGMA_TITLE);
    assert_eq!(s["description"], SIGMA_DESC);
    let e = by_name(ELASTIC_TITLE);
    assert_eq!(e["description"], ELASTIC_DESC);
    assert_eq!(e["note"], "```\n</details>\n{{{x}}}");
    for r in [s, e] {
        let rule_id = r["rule_id"].as_str().expect("rule_id");
        assert!(uuid_like(rule_id), "Kibana rule_id {rule_id:?}");
    }

    // The queries still mean exactly what the rules say.
    let kq = e["query"].as_str().expect("query");
    let expr = ruleport_kuery::parse_to_expr(kq).unwrap_or_else(|d| panic!("{d}\n{kq}"));
    let doc = |cmd: &str, name: &str| json!({"process": {"command_line": cmd, "name": name}});
    assert!(
        ruleport_model::eval::expr_matches(&expr, &doc(CMD1, NAME)).expect("eval"),
        "{kq}"
    );
    assert!(
        !ruleport_model::eval::expr_matches(&expr, &doc("x", NAME)).expect("eval"),
        "{kq}"
    );
    assert!(
        !ruleport_model::eval::expr_matches(&expr, &doc(CMD1, "a'b")).expect("eval"),
        "{kq}"
    );

    let eq = s["query"].as_str().expect("query");
    let q = ruleport_eql::compile(eq).unwrap_or_else(|d| panic!("{d}\n{eq}"));
    let ev = |cmd: &str| {
        json!({"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": "process", "type": "start"},
               "host": {"os": {"type": "windows"}}, "process": {"command_line": cmd, "executable": "C:\\evil.exe"}})
    };
    use ruleport_model::CompiledQuery;
    for (hit, miss) in sigma_events(true).iter().zip(sigma_events(false)) {
        assert_eq!(
            q.run(&[ev(hit)]).expect("run").len(),
            1,
            "{hit:?} should match\n{eq}"
        );
        assert!(
            q.run(&[ev(&miss)]).expect("run").is_empty(),
            "{miss:?} should not match\n{eq}"
        );
    }

    // The TOML copies read back to the same rules.
    for entry in std::fs::read_dir(out.join("elastic/rules")).expect("dir") {
        let p = entry.expect("entry").path();
        let rule = ruleport_elastic::import_str(&read(&p), Some(&p)).unwrap_or_else(|d| {
            panic!(
                "{}: {:?}",
                p.display(),
                d.iter().map(|d| d.to_string()).collect::<Vec<_>>()
            )
        });
        assert!(
            [SIGMA_TITLE, ELASTIC_TITLE].contains(&rule.meta.title.as_str()),
            "{:?}",
            rule.meta.title
        );
        let want = if rule.meta.title == SIGMA_TITLE {
            SIGMA_DESC
        } else {
            ELASTIC_DESC
        };
        assert_eq!(rule.meta.description, want);
    }
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn sentinel_row(cmd: &str) -> Value {
    json!({"Type": "DeviceProcessEvents", "TimeGenerated": "2024-01-01T00:00:00Z", "ProcessCommandLine": cmd,
           "FolderPath": "C:\\evil.exe", "FileName": NAME})
}

fn check_kusto(text: &str, title: &str) {
    use ruleport_model::CompiledQuery;
    let q = ruleport_sentinel::compile(text).unwrap_or_else(|d| panic!("{d}\n{text}"));
    if title == SIGMA_TITLE {
        for (hit, miss) in sigma_events(true).iter().zip(sigma_events(false)) {
            assert_eq!(
                q.run(&[sentinel_row(hit)]).expect("run").len(),
                1,
                "{hit:?}\n{text}"
            );
            assert!(
                q.run(&[sentinel_row(&miss)]).expect("run").is_empty(),
                "{miss:?}\n{text}"
            );
        }
    } else {
        assert_eq!(
            q.run(&[sentinel_row(CMD1)]).expect("run").len(),
            1,
            "{text}"
        );
        assert!(
            q.run(&[sentinel_row("x")]).expect("run").is_empty(),
            "{text}"
        );
    }
}

fn check_sentinel(out: &Path) {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(out.join("sentinel")).expect("dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "yaml") {
            let doc: serde_yaml::Value = serde_yaml::from_str(&read(&p)).expect("YAML");
            let name = doc["name"].as_str().expect("name").to_string();
            let want = if name == SIGMA_TITLE {
                SIGMA_DESC
            } else {
                ELASTIC_DESC
            };
            assert_eq!(doc["description"].as_str(), Some(want), "{}", p.display());
            check_kusto(doc["query"].as_str().expect("query"), &name);
            names.push(name);
        }
    }
    names.sort();
    assert_eq!(names, [ELASTIC_TITLE, SIGMA_TITLE]);
    let arm: Value =
        serde_json::from_str(&read(&out.join("sentinel/azuredeploy.json"))).expect("ARM JSON");
    let resources = arm["resources"].as_array().expect("resources");
    let mut shown = Vec::new();
    for r in resources {
        let props = &r["properties"];
        // ARM evaluates a string starting with `[` as an expression; `[[` escapes it.
        let name = props["displayName"].as_str().expect("displayName");
        let name = name
            .strip_prefix('[')
            .filter(|n| n.starts_with('['))
            .unwrap_or(name);
        check_kusto(props["query"].as_str().expect("query"), name);
        shown.push(name.to_string());
    }
    shown.sort();
    assert_eq!(shown, [ELASTIC_TITLE, SIGMA_TITLE]);
}

fn check_sigma(out: &Path) {
    let mut titles = Vec::new();
    for entry in std::fs::read_dir(out.join("sigma")).expect("dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "yml") {
            let o = ruleport_sigma::import_str(&read(&p), Some(&p));
            assert!(
                !o.has_errors(),
                "{}: {:?}",
                p.display(),
                o.diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
            );
            for r in o.rules {
                let want = if r.meta.title == SIGMA_TITLE {
                    SIGMA_DESC
                } else {
                    ELASTIC_DESC
                };
                assert_eq!(r.meta.description, want);
                titles.push(r.meta.title);
            }
        }
    }
    titles.sort();
    assert_eq!(titles, [ELASTIC_TITLE, SIGMA_TITLE]);
}

/// What a `.conf` value can carry (ruleport_pack::escape::conf_value): newlines normalised and
/// other control characters as U+FFFD. (A last line ending in `\` is kept by an empty line,
/// which the reader trims away again.)
fn conf_text(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn check_splunk(out: &Path) {
    let conf = read(&out.join("splunk/ruleport_detections/default/savedsearches.conf"));
    let stanzas = ruleport_pack::conf::parse(&conf).unwrap_or_else(|d| panic!("{d}\n{conf}"));
    let mut labels = Vec::new();
    for s in stanzas.iter().filter(|s| s.get("search").is_some()) {
        let label = s
            .get("action.correlationsearch.label")
            .expect("label")
            .to_string();
        let desc = s.get("description").expect("description");
        let want = if label == conf_text(SIGMA_TITLE) {
            SIGMA_DESC
        } else {
            ELASTIC_DESC
        };
        assert_eq!(desc, conf_text(want), "stanza {}", s.name);
        assert!(
            !s.name.contains(['[', ']', '\n', '\r']),
            "stanza name {:?}",
            s.name
        );
        let search = s.get("search").expect("search");
        ruleport_splunk::compile(search).unwrap_or_else(|d| panic!("{d}\n{search}"));
        labels.push(label);
    }
    labels.sort();
    let mut want = vec![conf_text(ELASTIC_TITLE), conf_text(SIGMA_TITLE)];
    want.sort();
    assert_eq!(labels, want, "{conf}");
}

/// Markdown pages: no rule text becomes HTML or a script link; control characters are gone.
fn check_docs(files: &[PathBuf]) {
    use pulldown_cmark::{Event, Parser, Tag};
    let mut pages = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        pages += 1;
        let text = read(f);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\0'),
            "{} holds a control character",
            f.display()
        );
        for ev in Parser::new(&text) {
            match ev {
                Event::Html(h) | Event::InlineHtml(h) => panic!("{}: raw HTML {h:?}", f.display()),
                Event::Start(Tag::Link { dest_url, .. })
                | Event::Start(Tag::Image { dest_url, .. }) => {
                    let d = dest_url.trim().to_ascii_lowercase();
                    assert!(
                        !d.starts_with("javascript:") && !d.starts_with("data:"),
                        "{}: link {dest_url}",
                        f.display()
                    );
                }
                _ => {}
            }
        }
    }
    assert!(pages >= 3, "{pages} pages");
}

/// Templates are untrusted too: partials that include each other would recurse without bound,
/// so override templates may not use partials at all.
#[test]
fn recursive_templates_are_refused_not_a_stack_overflow() {
    let root = tempfile::tempdir().expect("tmp");
    let rules = root.path().join("rules");
    let tpl = root.path().join("tpl/docs");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::create_dir_all(&tpl).expect("mkdir");
    write_rules(&rules);
    std::fs::write(tpl.join("index.md.hbs"), "{{> docs/rule.md.hbs}}").expect("write");
    std::fs::write(
        tpl.join("rule.md.hbs"),
        "{{#*inline \"a\"}}{{> a}}{{/inline}}{{> a}}",
    )
    .expect("write");
    let out = root.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_ruleport"))
        .args([
            "pack",
            rules.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ])
        .args([
            "--templates",
            root.path().join("tpl").to_str().expect("utf8"),
        ])
        .output()
        .expect("run ruleport");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.code().is_some_and(|c| c != 0),
        "{:?} {stderr}",
        run.status
    );
    assert!(
        stderr.contains("partials are not allowed") && stderr.contains(".md.hbs: line 1"),
        "{stderr}"
    );
}

#[test]
#[cfg(unix)]
fn symbolic_links_inside_out_are_not_followed() {
    let root = tempfile::tempdir().expect("tmp");
    let rules = root.path().join("rules");
    let out = root.path().join("out");
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    write_rules(&rules);
    let pack = || {
        Command::new(env!("CARGO_BIN_EXE_ruleport"))
            .args([
                "pack",
                rules.to_str().expect("utf8"),
                "--out",
                out.to_str().expect("utf8"),
            ])
            .output()
            .expect("run ruleport")
    };
    let first = pack();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Replace every top-level folder of the pack (and its manifest) with a link to `elsewhere`.
    let mut planted = 0;
    for e in std::fs::read_dir(&out).expect("read") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).expect("rm");
        } else {
            std::fs::remove_file(&p).expect("rm");
        }
        std::os::unix::fs::symlink(&elsewhere, &p).expect("symlink");
        planted += 1;
    }
    assert!(planted >= 2, "the pack has folders and a manifest");
    let second = pack();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("symbolic link"), "stderr: {stderr}");
    assert_eq!(
        std::fs::read_dir(&elsewhere).expect("read").count(),
        0,
        "a file was written through a link"
    );
}
