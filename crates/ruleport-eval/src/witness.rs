//! Witness events: generated from a rule model, events that must match (one per satisfiable
//! branch) and near-misses that probe each target's semantics (flipped case, one character
//! changed, a missing field, a neighbouring value, the wrong log source, order and time).
//! Every witness is labelled by the reference evaluator, so generation need not be perfect:
//! it only has to tell right ports from wrong ones.

use ruleport_mapping::Mapping;
use ruleport_model::eval::RuleEvaluator;
use ruleport_model::{
    CmpOp, Detection, EventFilter, Expr, FieldRefKind, Metric, Op, Piece, Predicate, Rule, Scalar,
    StrPattern, Subject,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A generated scenario (one event for single-event rules).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Witness {
    pub label: String,
    pub events: Vec<Value>,
    /// The mapping log source the events belong to.
    pub logsource: Option<String>,
    /// The reference verdict: does the rule fire?
    pub expect: bool,
}

const MAX_BRANCHES: usize = 24;
const MAX_WITNESSES: usize = 96;
const BASE_TIME: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

type Lit<'a> = (&'a Predicate, bool);

/// Disjunctive normal form, bounded: each branch is a list of (predicate, positive) literals.
fn dnf(e: &Expr, positive: bool, budget: usize) -> Vec<Vec<Lit<'_>>> {
    match (e, positive) {
        (Expr::Const(b), p) => {
            if *b == p {
                vec![vec![]]
            } else {
                vec![]
            }
        }
        (Expr::Pred(p), pos) => vec![vec![(p, pos)]],
        (Expr::Nested { .. }, _) => vec![vec![]],
        (Expr::Not(inner), pos) => dnf(inner, !pos, budget),
        (Expr::And(v), true) | (Expr::Or(v), false) => {
            let mut acc: Vec<Vec<Lit<'_>>> = vec![vec![]];
            for x in v {
                let sub = dnf(x, positive, budget);
                let mut next = Vec::new();
                'outer: for a in &acc {
                    for b in &sub {
                        let mut c = a.clone();
                        c.extend(b.iter().copied());
                        next.push(c);
                        if next.len() >= budget {
                            break 'outer;
                        }
                    }
                }
                acc = next;
            }
            acc
        }
        (Expr::Or(v), true) | (Expr::And(v), false) => {
            let mut out = Vec::new();
            for x in v {
                out.extend(dnf(x, positive, budget));
                if out.len() >= budget {
                    out.truncate(budget);
                    break;
                }
            }
            out
        }
    }
}

/// A string the pattern matches: wildcards become short filler text.
fn sample_string(p: &StrPattern) -> String {
    let mut s = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(l) => s.push_str(l),
            Piece::AnyChars => s.push_str("Zq"),
            Piece::OneChar => s.push('q'),
            Piece::Placeholder(n) => {
                s.push('%');
                s.push_str(n);
                s.push('%');
            }
        }
    }
    s
}

/// A string matching a regex (first alternative, minimal repetitions of at least one).
pub fn regex_sample(pattern: &str, case_insensitive: bool) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .parse(pattern)
        .ok()?;
    let mut out = String::new();
    gen_hir(&hir, &mut out, 0)?;
    Some(out)
}

fn gen_hir(h: &regex_syntax::hir::Hir, out: &mut String, depth: usize) -> Option<()> {
    use regex_syntax::hir::{Class, HirKind};
    if depth > 200 || out.len() > 4096 {
        return None;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
        HirKind::Class(Class::Unicode(c)) => {
            let r = c.ranges().first()?;
            // Prefer a letter or digit inside the range for readable witnesses.
            let pick = ['a', 'A', '0', 'x']
                .into_iter()
                .find(|ch| r.start() <= *ch && *ch <= r.end())
                .unwrap_or(r.start());
            out.push(pick);
        }
        HirKind::Class(Class::Bytes(c)) => {
            let r = c.ranges().first()?;
            out.push(char::from(r.start()));
        }
        HirKind::Repetition(rep) => {
            let n = rep.min.clamp(1, 8);
            for _ in 0..n {
                gen_hir(&rep.sub, out, depth + 1)?;
            }
        }
        HirKind::Capture(c) => gen_hir(&c.sub, out, depth + 1)?,
        HirKind::Concat(v) => {
            for x in v {
                gen_hir(x, out, depth + 1)?;
            }
        }
        HirKind::Alternation(v) => gen_hir(v.first()?, out, depth + 1)?,
    }
    Some(())
}

/// A value satisfying one positive literal (None when the generator has no idea).
fn satisfying_value(p: &Predicate) -> Option<Value> {
    Some(match &p.op {
        Op::Match { pattern, .. } => Value::String(sample_string(pattern)),
        Op::Eq(s) => ruleport_model::eval::scalar_json(s),
        Op::Cmp { op, value } => match (op, value) {
            (CmpOp::Gt, Scalar::Int(i)) => Value::from(i.saturating_add(1)),
            (CmpOp::Lt, Scalar::Int(i)) => Value::from(i.saturating_sub(1)),
            (_, Scalar::Int(i)) => Value::from(*i),
            (CmpOp::Gt, Scalar::Float(f)) => Value::from(f + 1.0),
            (CmpOp::Lt, Scalar::Float(f)) => Value::from(f - 1.0),
            (_, Scalar::Float(f)) => Value::from(*f),
            (CmpOp::Gt, Scalar::Str(s)) => Value::String(format!("{s}a")),
            (_, Scalar::Str(s)) => Value::String(s.clone()),
            (_, Scalar::Bool(b)) => Value::Bool(*b),
        },
        Op::Regex(r) => Value::String(regex_sample(&r.pattern, r.case.is_insensitive())?),
        Op::Cidr(net) => Value::String(first_host(net)),
        Op::Exists => Value::String("present".into()),
        Op::FieldRef { .. } => Value::String("same-value".into()),
        Op::IsTrue => return None,
        // Inside longer text, with the surrounding words in another case.
        Op::Text(q) => Value::String(format!("Write-Output FIRST; {} LAST", q.text.trim())),
    })
}

/// Values that probe analysed text: the words in another case, not adjacent, in reverse order,
/// glued into one word, a word extended into a longer one, and separated by punctuation.
fn text_variants(q: &ruleport_model::TextQuery) -> Vec<(&'static str, String)> {
    let words: Vec<String> = q.text.split_whitespace().map(str::to_string).collect();
    let tokens = q.tokens();
    let mut out = vec![
        ("the words in another case", flip_case(q.text.trim())),
        (
            "a word extended into a longer one",
            format!("{}Extra", q.text.trim()),
        ),
        (
            "a longer word ending in the text",
            format!("Pre{}", q.text.trim()),
        ),
        (
            "the tokens glued together",
            tokens.iter().map(|t| t.to_uppercase()).collect::<String>(),
        ),
        ("the tokens separated by punctuation", tokens.join("::")),
    ];
    if words.len() > 1 {
        out.push(("the words not adjacent", words.join(" other ")));
        let mut rev = words.clone();
        rev.reverse();
        out.push(("the words in reverse order", rev.join(" ")));
    }
    if let Some(last) = tokens.last() {
        if last.chars().count() > 1 {
            let cut: String = last.chars().take(last.chars().count() - 1).collect();
            out.push(("part of a word", format!("x {cut} y")));
        }
    }
    out
}

fn first_host(net: &ipnet::IpNet) -> String {
    match net {
        ipnet::IpNet::V4(n) => n
            .hosts()
            .next()
            .map(|h| h.to_string())
            .unwrap_or_else(|| n.addr().to_string()),
        ipnet::IpNet::V6(n) => n
            .hosts()
            .next()
            .map(|h| h.to_string())
            .unwrap_or_else(|| n.addr().to_string()),
    }
}

fn field_of(p: &Predicate) -> Option<String> {
    match &p.subject {
        Subject::Field { name, .. } => Some(name.clone()),
        Subject::Keyword => Some("message".into()),
        Subject::Computed(_) => None,
    }
}

/// Build an event for one branch: positive literals get satisfying values, combining several on
/// one field into one string where possible; negative literals leave fields absent.
fn branch_event(branch: &[Lit<'_>]) -> BTreeMap<String, Value> {
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    for (p, pos) in branch {
        if !pos {
            continue;
        }
        let Some(f) = field_of(p) else { continue };
        let Some(v) = satisfying_value(p) else {
            continue;
        };
        if let Op::FieldRef { other, kind, .. } = &p.op {
            let base = "same-value".to_string();
            let mine = match kind {
                FieldRefKind::Equals => base.clone(),
                FieldRefKind::StartsWith => format!("{base}-tail"),
                FieldRefKind::EndsWith => format!("head-{base}"),
                FieldRefKind::Contains => format!("head-{base}-tail"),
            };
            fields.insert(f, Value::String(mine));
            fields.insert(other.clone(), Value::String(base));
            continue;
        }
        match (fields.get(&f), &v) {
            (Some(Value::String(old)), Value::String(new)) if old != new => {
                let combined = format!("{old} {new}");
                fields.insert(f, Value::String(combined));
            }
            (Some(_), _) => {}
            (None, _) => {
                fields.insert(f, v);
            }
        }
    }
    fields
}

fn to_event(fields: &BTreeMap<String, Value>, t: i64) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k.clone(), v.clone());
    }
    m.insert("@timestamp".into(), Value::String(rfc3339(t)));
    Value::Object(m)
}

fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap_or(c)
            } else if c.is_uppercase() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn change_one_char(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    let i = chars.iter().position(|c| c.is_alphanumeric())?;
    chars[i] = if chars[i] == 'z' { 'y' } else { 'z' };
    Some(chars.into_iter().collect())
}

/// Near-miss variants of one branch event, each probing one positive literal.
/// Fields in `fixed` hold values every event of the log source has (its implied conditions):
/// changing them gives an event no source produces, so they are not probed.
fn near_misses(
    branch: &[Lit<'_>],
    base: &BTreeMap<String, Value>,
    fixed: &[String],
) -> Vec<(String, BTreeMap<String, Value>)> {
    let mut out = Vec::new();
    for (p, pos) in branch {
        if !pos {
            // Make a negated literal true: give its field a satisfying value.
            if let (Some(f), Some(v)) = (field_of(p), satisfying_value(p)) {
                let mut e = base.clone();
                e.insert(f.clone(), v);
                out.push((format!("negated condition on `{f}` made true"), e));
            }
            continue;
        }
        let Some(f) = field_of(p) else { continue };
        if fixed.contains(&f) {
            continue;
        }
        let Some(cur) = base.get(&f) else { continue };
        let mut push = |label: String, v: Option<Value>| {
            let mut e = base.clone();
            match v {
                Some(v) => {
                    e.insert(f.clone(), v);
                }
                None => {
                    e.remove(&f);
                }
            }
            out.push((label, e));
        };
        push(format!("`{f}` missing"), None);
        if let Op::Text(q) = &p.op {
            for (what, v) in text_variants(q) {
                push(format!("`{f}` with {what}"), Some(Value::String(v)));
            }
        }
        match cur {
            Value::String(s) => {
                let flipped = flip_case(s);
                if &flipped != s {
                    push(
                        format!("`{f}` with flipped case"),
                        Some(Value::String(flipped)),
                    );
                }
                if let Some(c) = change_one_char(s) {
                    push(
                        format!("`{f}` with one character changed"),
                        Some(Value::String(c)),
                    );
                }
                push(
                    format!("`{f}` with a character appended"),
                    Some(Value::String(format!("{s}x"))),
                );
                push(
                    format!("`{f}` with a character prepended"),
                    Some(Value::String(format!("x{s}"))),
                );
                if matches!(p.op, Op::Match { .. }) && s.chars().count() > 1 {
                    let mid = s
                        .char_indices()
                        .nth(s.chars().count() / 2)
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    push(
                        format!("`{f}` split in the middle"),
                        Some(Value::String(format!("{} {}", &s[..mid], &s[mid..]))),
                    );
                }
                // Paths and names of one file or process hold one value.
                if !COMPANIONS
                    .iter()
                    .any(|(p, n, x)| *p == f || *n == f || *x == Some(f.as_str()))
                {
                    push(
                        format!("`{f}` as a list holding the value"),
                        Some(Value::Array(vec![
                            Value::String("other".into()),
                            cur.clone(),
                        ])),
                    );
                }
            }
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    push(format!("`{f}` plus one"), Some(Value::from(i + 1)));
                    push(format!("`{f}` minus one"), Some(Value::from(i - 1)));
                    push(format!("`{f}` as text"), Some(Value::String(i.to_string())));
                }
            }
            _ => {}
        }
    }
    out
}

/// What the log source fixes for every generated event.
#[derive(Default)]
struct SourceFacts {
    /// Implied fields: never probed (see [`near_misses`]).
    fixed: Vec<String>,
    /// Identity fields (Sigma rules): added where the branch does not set them.
    identity: Vec<(String, Value)>,
    /// ECS events: fill the fields a real event derives from the ones the rule tests.
    companions: bool,
}

/// ECS fields that name the same file or process: path, base name and extension.
const COMPANIONS: &[(&str, &str, Option<&str>)] = &[
    ("file.path", "file.name", Some("file.extension")),
    ("process.executable", "process.name", None),
    ("process.parent.executable", "process.parent.name", None),
    ("dll.path", "dll.name", Some("dll.extension")),
];

/// A real event that names a file by its extension also has its name and path (and a process
/// name comes with an executable path): targets that hold only the path must see one. Fields the
/// branch tests are kept as they are; the others are derived from them.
fn complete_companions(
    ev: &mut BTreeMap<String, Value>,
    explicit: &std::collections::BTreeSet<String>,
) {
    let unix = matches!(
        ev.get("host.os.type").and_then(Value::as_str),
        Some("linux" | "macos")
    );
    let text = |ev: &BTreeMap<String, Value>, k: &str| {
        ev.get(k).and_then(Value::as_str).map(str::to_string)
    };
    for (path_key, name_key, ext_key) in COMPANIONS {
        let given = |k: &str| explicit.contains(k);
        let mut name = if given(name_key) {
            text(ev, name_key)
        } else {
            None
        };
        if !given(name_key) {
            let from_path = given(path_key)
                .then(|| text(ev, path_key))
                .flatten()
                .and_then(|p| p.rsplit(['\\', '/']).next().map(str::to_string));
            let ext = ext_key.filter(|k| given(k)).and_then(|k| text(ev, k));
            name = match (from_path, ext) {
                (Some(b), Some(x))
                    if b.to_lowercase()
                        .ends_with(&format!(".{}", x.to_lowercase())) =>
                {
                    Some(b)
                }
                (_, Some(x)) => Some(format!("sample.{x}")),
                (b, None) => b,
            };
            if let Some(n) = &name {
                ev.insert((*name_key).to_string(), Value::String(n.clone()));
            }
        }
        let Some(mut name) = name else { continue };
        // A name the rule tests must still carry the extension it tests.
        if let Some(x) = ext_key.filter(|k| given(k)).and_then(|k| text(ev, k)) {
            if !name
                .to_lowercase()
                .ends_with(&format!(".{}", x.to_lowercase()))
            {
                name = format!("{name}.{x}");
                ev.insert((*name_key).to_string(), Value::String(name.clone()));
            }
        }
        // A path the rule tests must still end with the name the event has.
        if given(path_key) {
            if let Some(p) = text(ev, path_key) {
                if !p.to_lowercase().ends_with(&name.to_lowercase()) {
                    let sep = if unix { "/" } else { "\\" };
                    ev.insert(
                        (*path_key).to_string(),
                        Value::String(format!("{p}{sep}{name}")),
                    );
                }
            }
        }
        if !given(path_key) {
            let path = if unix {
                format!("/tmp/sample/{name}")
            } else {
                format!("C:\\Users\\Public\\{name}")
            };
            ev.insert((*path_key).to_string(), Value::String(path));
        }
        if let Some(x) = ext_key.filter(|k| !given(k)) {
            if let Some((_, ext)) = name.rsplit_once('.') {
                ev.insert((*x).to_string(), Value::String(ext.to_string()));
            }
        }
    }
}

fn filter_witnesses(
    f: &EventFilter,
    facts: &SourceFacts,
) -> Vec<(String, BTreeMap<String, Value>)> {
    let fixed = facts.fixed.as_slice();
    let branches = dnf(&f.expr, true, MAX_BRANCHES);
    let mut out = Vec::new();
    for (i, b) in branches.iter().enumerate() {
        let mut ev = branch_event(b);
        for (k, v) in &facts.identity {
            ev.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let explicit: std::collections::BTreeSet<String> =
            b.iter().filter_map(|(p, _)| field_of(p)).collect();
        // A name the rule's path already fixes (or an extension its name or path fixes) cannot
        // change alone in a real event: such near-misses are not generated.
        let mut fixed = fixed.to_vec();
        if facts.companions {
            for (path_key, name_key, ext_key) in COMPANIONS {
                let has = |k: &str| explicit.contains(k);
                if has(path_key) && has(name_key) {
                    fixed.push((*name_key).to_string());
                }
                if let Some(x) = ext_key.filter(|x| has(x) && (has(path_key) || has(name_key))) {
                    fixed.push(x.to_string());
                }
            }
        }
        let fixed = fixed.as_slice();
        let finish = |mut e: BTreeMap<String, Value>| {
            if facts.companions {
                complete_companions(&mut e, &explicit);
            }
            e
        };
        if let Some(cat) = &f.category {
            ev.insert("event.category".into(), Value::String(cat.clone()));
        }
        out.push((format!("branch {}", i + 1), finish(ev.clone())));
        for (label, nm) in near_misses(b, &ev, fixed) {
            out.push((format!("branch {}: {label}", i + 1), finish(nm)));
        }
    }
    out
}

/// Generate witnesses for a rule (events in the rule's schema), labelled by the reference.
pub fn generate(rule: &Rule, mapping: &Mapping) -> Vec<Witness> {
    let Ok(reference) = RuleEvaluator::new(rule) else {
        return vec![];
    };
    let filters = rule.detection.filters();
    let primary_expr = filters.first().map(|f| &f.expr);
    let primary_cat = filters.first().and_then(|f| f.category.as_deref());
    let logsource = mapping
        .resolve_logsource(rule, &rule.logsource, primary_expr, primary_cat)
        .map(|l| l.id.clone());
    let schema = rule.schema;
    // A Sigma rule names its source, so its events carry that source's identity (channel,
    // event id); an ECS rule's own conditions say which source its events come from.
    let facts = match logsource.as_deref() {
        Some(id) => SourceFacts {
            fixed: mapping.implied_fields(id, schema),
            identity: if schema == ruleport_model::Schema::Sigma {
                mapping.identity_of(id, schema)
            } else {
                Vec::new()
            },
            companions: schema == ruleport_model::Schema::Ecs,
        },
        None => SourceFacts {
            companions: schema == ruleport_model::Schema::Ecs,
            ..SourceFacts::default()
        },
    };
    let fixed = &facts;
    let mut scenarios: Vec<(String, Vec<Value>)> = Vec::new();
    match &rule.detection {
        Detection::Query(f) => {
            for (label, ev) in filter_witnesses(f, fixed) {
                scenarios.push((label, vec![to_event(&ev, BASE_TIME)]));
            }
        }
        Detection::Sequence(s) => {
            let keyed = |fields: &mut BTreeMap<String, Value>,
                         key: &str,
                         step_by: &[ruleport_model::Operand]| {
                for k in s.by.iter().chain(step_by) {
                    if let ruleport_model::Operand::Field { name, .. } = k {
                        fields.insert(name.clone(), Value::String(key.to_string()));
                    }
                }
            };
            let step_events: Vec<Option<BTreeMap<String, Value>>> = s
                .steps
                .iter()
                .map(|st| {
                    filter_witnesses(&st.source.filter, fixed)
                        .into_iter()
                        .next()
                        .map(|(_, e)| e)
                })
                .collect();
            let span = s.maxspan.map(|m| m.millis as i64).unwrap_or(60_000);
            let gap = (span / (s.steps.len() as i64 + 1)).max(1);
            let build =
                |key_last: &str, reverse: bool, stretch: bool, with_missing: bool| -> Vec<Value> {
                    let mut evs = Vec::new();
                    let n = s.steps.len();
                    for (i, (st, ev)) in s.steps.iter().zip(&step_events).enumerate() {
                        if st.missing && !with_missing {
                            continue;
                        }
                        let Some(ev) = ev else { continue };
                        for r in 0..st.runs.max(1) {
                            let mut e = ev.clone();
                            keyed(&mut e, if i + 1 == n { key_last } else { "key-1" }, &st.by);
                            let mut t = BASE_TIME + (i as i64) * gap + i64::from(r);
                            if stretch && i + 1 == n {
                                t = BASE_TIME + span + 1000;
                            }
                            if reverse {
                                t = BASE_TIME + ((n - i) as i64) * gap + i64::from(r);
                            }
                            evs.push(to_event(&e, t));
                        }
                    }
                    evs
                };
            scenarios.push((
                "sequence in order".into(),
                build("key-1", false, false, false),
            ));
            scenarios.push((
                "sequence in reverse order".into(),
                build("key-1", true, false, false),
            ));
            scenarios.push((
                "sequence with a different join key".into(),
                build("key-2", false, false, false),
            ));
            if s.maxspan.is_some() {
                scenarios.push((
                    "sequence longer than maxspan".into(),
                    build("key-1", false, true, false),
                ));
            }
            if s.steps.iter().any(|st| st.missing) {
                scenarios.push((
                    "sequence with the missing event present".into(),
                    build("key-1", false, false, true),
                ));
            }
            if let Some(u) = &s.until {
                if let Some((_, ue)) = filter_witnesses(&u.source.filter, fixed).into_iter().next()
                {
                    let mut evs = build("key-1", false, false, false);
                    let mut ue = ue;
                    keyed(&mut ue, "key-1", &u.by);
                    evs.insert(1.min(evs.len()), to_event(&ue, BASE_TIME + gap / 2));
                    scenarios.push(("sequence interrupted by until".into(), evs));
                }
            }
        }
        Detection::Sample(s) => {
            let mut evs = Vec::new();
            for (i, st) in s.steps.iter().enumerate() {
                if let Some((_, mut e)) = filter_witnesses(&st.source.filter, fixed)
                    .into_iter()
                    .next()
                {
                    for k in s.by.iter().chain(&st.by) {
                        if let ruleport_model::Operand::Field { name, .. } = k {
                            e.insert(name.clone(), Value::String("key-1".into()));
                        }
                    }
                    evs.push(to_event(&e, BASE_TIME + i as i64 * 1000));
                }
            }
            let partial: Vec<Value> = evs.iter().skip(1).cloned().collect();
            scenarios.push(("sample complete".into(), evs));
            scenarios.push(("sample missing its first step".into(), partial));
        }
        Detection::Aggregation(a) => {
            let threshold = a
                .conditions
                .iter()
                .map(|c| match c.op {
                    CmpOp::Gt => c.value + 1,
                    _ => c.value,
                })
                .max()
                .unwrap_or(1)
                .clamp(1, 50) as usize;
            let Some(src) = a.sources.first() else {
                return vec![];
            };
            let Some((_, base)) = filter_witnesses(&src.filter, fixed).into_iter().next() else {
                return vec![];
            };
            let distinct: Vec<&String> = a
                .conditions
                .iter()
                .filter_map(|c| match &c.metric {
                    Metric::DistinctCount(f) => Some(f),
                    _ => None,
                })
                .collect();
            let make = |n: usize, spread: i64| -> Vec<Value> {
                (0..n)
                    .map(|i| {
                        let mut e = base.clone();
                        for g in &a.group_by {
                            e.insert(
                                src.aliases.get(g).unwrap_or(g).clone(),
                                Value::String("group-1".into()),
                            );
                        }
                        for f in &distinct {
                            e.insert((*f).clone(), Value::String(format!("value-{i}")));
                        }
                        to_event(&e, BASE_TIME + i as i64 * spread)
                    })
                    .collect()
            };
            let window = a.window.map(|w| w.millis as i64).unwrap_or(300_000);
            scenarios.push((
                format!("{threshold} events in a group"),
                make(threshold, 1000),
            ));
            if threshold > 1 {
                scenarios.push((
                    format!("{} events in a group", threshold - 1),
                    make(threshold - 1, 1000),
                ));
                scenarios.push((
                    format!("{threshold} events spread over more than the window"),
                    make(threshold, window),
                ));
            }
        }
        Detection::NewTerms(n) => {
            if let Some((_, base)) = filter_witnesses(&n.filter, fixed).into_iter().next() {
                let with = |v: &str, t: i64| {
                    let mut e = base.clone();
                    for f in &n.fields {
                        e.insert(f.clone(), Value::String(v.into()));
                    }
                    to_event(&e, t)
                };
                let old = BASE_TIME - 2 * 86_400_000;
                scenarios.push((
                    "new term".into(),
                    vec![with("term-a", old), with("term-b", BASE_TIME)],
                ));
                scenarios.push((
                    "term seen in history".into(),
                    vec![with("term-a", old), with("term-a", BASE_TIME)],
                ));
            }
        }
        Detection::Unsupported(_) => {}
    }
    scenarios.truncate(MAX_WITNESSES);
    // When the rule's own conditions identify its log source (ECS rules: event.category,
    // dataset…), events are classified from their fields, so a near-miss that breaks those
    // conditions also leaves the source. Only rules whose events cannot say (Sigma rules name
    // the source in `logsource`) declare it.
    let logsource = match scenarios.first().and_then(|(_, evs)| evs.first()) {
        Some(ev) if mapping.classify(ev, schema).map(|l| &l.id) == logsource.as_ref() => None,
        _ => logsource,
    };
    let base = scenarios.first().and_then(|(_, evs)| evs.first()).cloned();
    let base_source = base
        .as_ref()
        .and_then(|b| mapping.classify(b, schema))
        .map(|l| l.id.clone());
    let gate_schema = schema;
    let gate = |doc: &Value, ls: &ruleport_model::LogSource| {
        mapping.event_in_logsource(doc, gate_schema, ls)
    };
    scenarios
        .into_iter()
        .filter_map(|(label, events)| {
            let expect = !reference.run(&events, Some(&gate)).is_empty();
            // The rule's own conditions place its events in a source. A variant the rule still
            // matches but that no longer belongs there changed an identifying value in a way the
            // rule ignores (`event.type: CREATION` under `:`) and no real event of the source has.
            if logsource.is_none()
                && expect
                && base_source.is_some()
                && events
                    .iter()
                    .any(|e| mapping.classify(e, schema).map(|l| l.id.clone()) != base_source)
            {
                return None;
            }
            // A branch whose values leave the rule's source (a Sigma rule on the System log that
            // tests `Channel: Security`) describes an event of another source: let the event's
            // own fields say which.
            // A near-miss that drops or changes a field identifying the source leaves it.
            let inside = events.iter().all(|e| {
                gate(e, &rule.logsource)
                    && match (logsource.as_deref(), &base) {
                        (Some(id), Some(b)) => mapping.event_keeps_identity(e, b, id, schema),
                        _ => true,
                    }
            });
            Some(Witness {
                label,
                events,
                logsource: logsource.clone().filter(|_| inside),
                expect,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruleport_model::{Case, EventFilter, LogSource, RuleMeta, Scalar, Schema, SourceFormat};

    fn rule(expr: Expr) -> Rule {
        Rule {
            meta: RuleMeta::default(),
            logsource: LogSource::default(),
            detection: Detection::Query(EventFilter::new(expr)),
            schema: Schema::Ecs,
            format: SourceFormat::ElasticToml,
            language: "kuery".into(),
            original_query: None,
            provenance: Default::default(),
        }
    }

    #[test]
    fn every_branch_gets_a_matching_witness_and_near_misses_that_do_not() {
        let e = Expr::or(vec![
            Expr::matches("a", StrPattern::literal("Alpha"), Case::Sensitive),
            Expr::and(vec![
                Expr::matches("b", StrPattern::contains("beta"), Case::Insensitive),
                Expr::not(Expr::matches(
                    "c",
                    StrPattern::literal("x"),
                    Case::Sensitive,
                )),
            ]),
        ]);
        let w = generate(&rule(e), &Mapping::builtin());
        assert!(w
            .iter()
            .filter(|w| w.label.starts_with("branch") && !w.label.contains(':'))
            .all(|w| w.expect));
        let flipped = w
            .iter()
            .find(|w| w.label == "branch 1: `a` with flipped case")
            .expect("flip");
        assert!(
            !flipped.expect,
            "case-sensitive literal must not match its flipped case"
        );
        let flipped_b = w
            .iter()
            .find(|w| w.label == "branch 2: `b` with flipped case")
            .expect("flip b");
        assert!(flipped_b.expect, "case-insensitive contains still matches");
        assert!(w
            .iter()
            .any(|w| w.label.contains("negated condition on `c`") && !w.expect));
    }

    #[test]
    fn file_events_name_the_file_the_extension_belongs_to() {
        let e = Expr::and(vec![
            Expr::matches(
                "host.os.type",
                StrPattern::literal("windows"),
                Case::Sensitive,
            ),
            Expr::matches(
                "event.category",
                StrPattern::literal("file"),
                Case::Sensitive,
            ),
            Expr::matches(
                "file.extension",
                StrPattern::literal("kirbi"),
                Case::Insensitive,
            ),
        ]);
        let w = generate(&rule(e), &Mapping::builtin());
        let b = w.iter().find(|w| w.label == "branch 1").expect("branch");
        let ev = &b.events[0];
        assert_eq!(ev["file.name"], "sample.kirbi");
        assert!(
            ev["file.path"]
                .as_str()
                .is_some_and(|p| p.ends_with("\\sample.kirbi")),
            "{ev}"
        );
        // A near-miss on the extension renames the file with it.
        let changed = w
            .iter()
            .find(|w| {
                w.label
                    .contains("`file.extension` with a character appended")
            })
            .expect("near-miss");
        assert_eq!(changed.events[0]["file.name"], "sample.kirbix");
    }

    #[test]
    fn sigma_events_carry_their_source_and_leave_it_when_its_identity_changes() {
        let mut r = rule(Expr::and(vec![
            Expr::or(vec![
                Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(12))),
                Expr::pred(Subject::field("EventID"), Op::Eq(Scalar::Int(13))),
            ]),
            Expr::matches(
                "TargetObject",
                StrPattern::suffix("\\Run\\x"),
                Case::Insensitive,
            ),
        ]));
        r.schema = Schema::Sigma;
        r.logsource = LogSource {
            product: Some("windows".into()),
            category: Some("registry_event".into()),
            ..Default::default()
        };
        let w = generate(&r, &Mapping::builtin());
        let b = w.iter().find(|w| w.label == "branch 1").expect("branch");
        assert_eq!(
            b.events[0]["Channel"],
            "Microsoft-Windows-Sysmon/Operational"
        );
        assert_eq!(b.logsource.as_deref(), Some("windows.registry_event"));
        let gone = w
            .iter()
            .find(|w| w.label == "branch 1: `EventID` missing")
            .expect("near-miss");
        assert!(!gone.expect);
        assert_eq!(
            gone.logsource, None,
            "an event without its event id is not declared in the source"
        );
    }

    #[test]
    fn regex_samples_match() {
        for (p, ci) in [
            ("a[0-9]+b", false),
            (r"\d{3}-\w+", false),
            ("(?i)cmd|powershell", false),
            ("^x.y$", true),
        ] {
            let s = regex_sample(p, ci).expect("sample");
            let re = regex::RegexBuilder::new(p)
                .case_insensitive(ci)
                .build()
                .expect("re");
            assert!(re.is_match(&s), "{p} !~ {s}");
        }
    }

    #[test]
    fn timestamps_format() {
        assert_eq!(rfc3339(BASE_TIME), "2026-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(BASE_TIME + 86_400_000 + 61_001),
            "2026-01-02T00:01:01.001Z"
        );
    }
}
