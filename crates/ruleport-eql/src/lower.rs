//! Lowering: EQL syntax tree → rule model.
//!
//! EQL logic is three-valued (a comparison with null is null, `not null` is null, and null does
//! not match), while the IR is two-valued. For each EQL condition E we build T(E), "E is true",
//! and F(E), "E is false": T(not E) = F(E); T(A and B) = T(A) ∧ T(B); F(A and B) = F(A) ∨ F(B);
//! and dually for `or`. For a predicate P on subject s, T(P) = P and F(P) = Exists(s) ∧ ¬P.
//! The result is simplified so ordinary queries stay compact (`f != "x"` is
//! `Exists(f) ∧ ¬(f == "x")`, and `f == null or not P` is just `¬P`).

use crate::ast::{Body, EventQuery, Expr, PatternOp, Pipe, Query, SubQuery};
use crate::eval::{json_to_scalar, literal_value, values_compare};
use crate::lucene;
use crate::parser::{RED_ZONE, STACK_CHUNK};
use ruleport_model::functions::eval_operand;
use ruleport_model::{
    ArithOp, Case, CmpOp, Detection, Diagnostic, EventFilter, EventSource, Expr as IrExpr,
    FieldRefKind, LimitKeep, Op, Operand, Predicate, RegexAnchor, RegexSpec, ResultLimit, Sample,
    Scalar, SeqStep, Sequence, StrPattern, Subject,
};
use serde_json::Value;

/// Lower a parsed query to a detection; a query with pipes is refused (see [`lower_with_limit`]).
pub(crate) fn lower_query(q: &Query) -> Result<Detection, Diagnostic> {
    if !q.pipes.is_empty() {
        let pos = q.event_queries().first().map(|e| e.pos);
        return Err(Diagnostic::error(
            "eql-pipe",
            "a `head`/`tail` pipe is a result limit, not part of the detection",
        )
        .at_opt(pos)
        .with_hint(
            "lower the query with `lower_with_limit`, which returns the limit beside the detection",
        ));
    }
    lower_body(q)
}

/// Lower a parsed query to a detection and its result limit (`| head N` or `| tail N`).
pub(crate) fn lower_with_limit(q: &Query) -> Result<(Detection, Option<ResultLimit>), Diagnostic> {
    let pos = q.event_queries().first().map(|e| e.pos);
    let limit = match q.pipes.as_slice() {
        [] => None,
        [Pipe::Head(0) | Pipe::Tail(0)] => {
            return Err(Diagnostic::error(
                "eql-pipe",
                "a `head 0`/`tail 0` pipe returns nothing: the rule could never fire",
            )
            .at_opt(pos));
        }
        [Pipe::Head(n)] => Some(ResultLimit {
            keep: LimitKeep::First,
            count: *n,
        }),
        [Pipe::Tail(n)] => Some(ResultLimit {
            keep: LimitKeep::Last,
            count: *n,
        }),
        _ => {
            return Err(Diagnostic::error(
                "eql-pipe",
                "several `head`/`tail` pipes in a row select a slice of the results; the rule model holds one limit",
            )
            .at_opt(pos)
            .with_hint("keep one pipe"));
        }
    };
    Ok((lower_body(q)?, limit))
}

fn lower_body(q: &Query) -> Result<Detection, Diagnostic> {
    match &q.body {
        Body::Event(e) => Ok(Detection::Query(lower_event(e)?)),
        Body::Sequence(s) => {
            let by = lower_keys(&s.by, s.steps.first().map(|st| &st.query))?;
            let steps = s
                .steps
                .iter()
                .map(lower_step)
                .collect::<Result<Vec<_>, _>>()?;
            let until = s.until.as_ref().map(lower_step).transpose()?;
            Ok(Detection::Sequence(Sequence {
                by,
                maxspan: s.maxspan,
                steps,
                until,
            }))
        }
        Body::Sample(s) => {
            let by = lower_keys(&s.by, s.steps.first().map(|st| &st.query))?;
            let steps = s
                .steps
                .iter()
                .map(lower_step)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Detection::Sample(Sample {
                by,
                window: None,
                steps,
            }))
        }
    }
}

fn lower_keys(keys: &[Expr], at: Option<&EventQuery>) -> Result<Vec<Operand>, Diagnostic> {
    keys.iter()
        .map(|k| {
            operand(k).map_err(|m| {
                Diagnostic::error("eql-unsupported-expression", m).at_opt(at.map(|q| q.pos))
            })
        })
        .collect()
}

fn lower_step(st: &SubQuery) -> Result<SeqStep, Diagnostic> {
    let filter = lower_event(&st.query)?;
    Ok(SeqStep {
        source: EventSource::new(filter),
        by: lower_keys(&st.by, Some(&st.query))?,
        runs: st.runs,
        missing: st.missing,
    })
}

/// Lower one event query (`category where condition`).
pub(crate) fn lower_event(e: &EventQuery) -> Result<EventFilter, Diagnostic> {
    let expr = lower_condition(&e.condition)
        .map_err(|m| Diagnostic::error("eql-unsupported-expression", m).at(e.pos))?;
    Ok(EventFilter {
        category: e.category.clone(),
        expr,
    })
}

/// T(condition): the events on which an EQL condition is true.
pub(crate) fn lower_condition(e: &Expr) -> Result<IrExpr, String> {
    Ok(tf(e)?.0)
}

type Tf = (IrExpr, IrExpr);

fn konst(b: Option<bool>) -> Tf {
    match b {
        Some(true) => (IrExpr::Const(true), IrExpr::Const(false)),
        Some(false) => (IrExpr::Const(false), IrExpr::Const(true)),
        None => (IrExpr::Const(false), IrExpr::Const(false)),
    }
}

fn tf(e: &Expr) -> Result<Tf, String> {
    stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || tf_inner(e))
}

fn tf_inner(e: &Expr) -> Result<Tf, String> {
    match e {
        Expr::Bool(b) => Ok(konst(Some(*b))),
        Expr::Null => Ok(konst(None)),
        Expr::Int(_) | Expr::Float(_) | Expr::Str(_) => {
            Err("a number or string is not a condition".into())
        }
        Expr::Not(x) => {
            let (t, f) = tf(x)?;
            Ok((f, t))
        }
        Expr::And(xs) => {
            let mut ts = Vec::new();
            let mut fs = Vec::new();
            for x in xs {
                let (t, f) = tf(x)?;
                ts.push(t);
                fs.push(f);
            }
            Ok((and_s(ts), or_s(fs)))
        }
        Expr::Or(xs) => {
            let mut ts = Vec::new();
            let mut fs = Vec::new();
            for x in xs {
                let (t, f) = tf(x)?;
                ts.push(t);
                fs.push(f);
            }
            Ok((or_s(ts), and_s(fs)))
        }
        Expr::Field { name, optional } => {
            let s = Subject::Field {
                name: name.clone(),
                optional: *optional,
            };
            Ok(predicate(s, Op::Eq(Scalar::Bool(true))))
        }
        Expr::Compare { op, left, right } => compare(*op, left, right),
        Expr::Pattern {
            op,
            value,
            patterns,
        } => pattern(*op, value, patterns),
        Expr::In {
            value,
            items,
            insensitive,
            negated,
        } => {
            let (t, f) = in_list(value, items, *insensitive)?;
            Ok(if *negated { (f, t) } else { (t, f) })
        }
        Expr::Call {
            name,
            insensitive,
            args,
        } => call(name, *insensitive, args),
        Expr::Arith { .. } | Expr::Neg(_) => Err("arithmetic is not a condition".into()),
    }
}

/// T and F of one predicate on one subject.
fn predicate(s: Subject, op: Op) -> Tf {
    let p = IrExpr::pred(s.clone(), op);
    pred_tf(&s, p)
}

/// T and F of an expression `p` that is null exactly when subject `s` is null.
fn pred_tf(s: &Subject, p: IrExpr) -> Tf {
    let f = and_s(vec![
        IrExpr::pred(s.clone(), Op::Exists),
        IrExpr::not(p.clone()),
    ]);
    (p, f)
}

fn subject_of(op: Operand) -> Subject {
    match op {
        Operand::Field { name, optional } => Subject::Field { name, optional },
        other => Subject::Computed(other),
    }
}

/// Whether an expression yields a boolean (so `E == true` means E itself).
pub(crate) fn is_boolean(e: &Expr) -> bool {
    match e {
        Expr::Bool(_) | Expr::Not(_) | Expr::And(_) | Expr::Or(_) | Expr::Compare { .. } => true,
        Expr::Pattern { .. } | Expr::In { .. } => true,
        Expr::Call { name, .. } => matches!(
            name.as_str(),
            "cidrmatch" | "startswith" | "endswith" | "stringcontains"
        ),
        _ => false,
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// The value of a constant expression (no field), `None` for null.
fn const_value(e: &Expr) -> Result<Option<Value>, String> {
    let op = operand(e)?;
    Ok(eval_operand(&op, &Value::Null))
}

fn is_null_const(e: &Expr) -> Result<bool, String> {
    Ok(e.is_constant() && !is_boolean(e) && const_value(e)?.is_none() || matches!(e, Expr::Null))
}

fn compare(op: CmpOp, left: &Expr, right: &Expr) -> Result<Tf, String> {
    // `x == null` / `x != null` are existence tests (never null themselves).
    let (l_null, r_null) = (is_null_const(left)?, is_null_const(right)?);
    if l_null || r_null {
        let other = if r_null { left } else { right };
        let is_null = if l_null && r_null {
            konst(Some(true))
        } else {
            null_test(other)?
        };
        return Ok(match op {
            CmpOp::Eq => is_null,
            CmpOp::Ne => (is_null.1, is_null.0),
            _ => konst(None),
        });
    }
    // `E == true` where E is a condition.
    for (a, b) in [(left, right), (right, left)] {
        if let Expr::Bool(v) = b {
            if is_boolean(a) && matches!(op, CmpOp::Eq | CmpOp::Ne) {
                let (t, f) = tf(a)?;
                let same = (op == CmpOp::Eq) == *v;
                return Ok(if same { (t, f) } else { (f, t) });
            }
        }
    }
    let (lc, rc) = (left.is_constant(), right.is_constant());
    if lc && rc {
        let l = const_value(left)?;
        let r = const_value(right)?;
        return Ok(konst(match (l, r) {
            (Some(l), Some(r)) => values_compare(op, &l, &r),
            _ => None,
        }));
    }
    if !lc && !rc {
        return field_compare(op, left, right);
    }
    let (var, lit, op) = if rc {
        (left, right, op)
    } else {
        (right, left, flip(op))
    };
    let Some(value) = const_value(lit)? else {
        return Ok(konst(None));
    };
    let Some(scalar) = json_to_scalar(&value) else {
        return Err("comparison with a non-scalar value".into());
    };
    let s = subject_of(operand(var)?);
    let eq_op = |scalar: Scalar| match scalar {
        Scalar::Str(t) => Op::Match {
            pattern: StrPattern::literal(t),
            case: Case::Sensitive,
        },
        other => Op::Eq(other),
    };
    Ok(match op {
        CmpOp::Eq => predicate(s, eq_op(scalar)),
        CmpOp::Ne => {
            let (t, f) = predicate(s, eq_op(scalar));
            (f, t)
        }
        other => predicate(
            s,
            Op::Cmp {
                op: other,
                value: scalar,
            },
        ),
    })
}

/// T and F of `e == null`.
fn null_test(e: &Expr) -> Result<Tf, String> {
    if is_boolean(e) && !matches!(e, Expr::Call { .. }) {
        let (t, f) = tf(e)?;
        // A predicate on one subject is null exactly when the subject is.
        if let IrExpr::And(v) = &f {
            if let [IrExpr::Pred(Predicate {
                subject,
                op: Op::Exists,
            }), IrExpr::Not(y)] = v.as_slice()
            {
                if **y == t {
                    let ex = IrExpr::pred(subject.clone(), Op::Exists);
                    return Ok((IrExpr::not(ex.clone()), ex));
                }
            }
        }
        let is_null = and_s(vec![IrExpr::not(t.clone()), IrExpr::not(f.clone())]);
        return Ok((is_null, or_s(vec![t, f])));
    }
    let s = subject_of(operand(e)?);
    let ex = IrExpr::pred(s, Op::Exists);
    Ok((IrExpr::not(ex.clone()), ex))
}

fn field_compare(op: CmpOp, left: &Expr, right: &Expr) -> Result<Tf, String> {
    let (
        Operand::Field {
            name: a,
            optional: ao,
        },
        Operand::Field { name: b, .. },
    ) = (operand(left)?, operand(right)?)
    else {
        return Err(
            "Elasticsearch EQL cannot compare a field with another field, even through functions"
                .into(),
        );
    };
    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err("Elasticsearch EQL cannot compare a field with another field".into());
    }
    let sa = Subject::Field {
        name: a,
        optional: ao,
    };
    let p = IrExpr::pred(
        sa.clone(),
        Op::FieldRef {
            other: b.clone(),
            kind: FieldRefKind::Equals,
            case: Case::Sensitive,
        },
    );
    let f = and_s(vec![
        IrExpr::pred(sa, Op::Exists),
        IrExpr::exists(b),
        IrExpr::not(p.clone()),
    ]);
    Ok(if op == CmpOp::Eq { (p, f) } else { (f, p) })
}

fn pattern(op: PatternOp, value: &Expr, patterns: &[String]) -> Result<Tf, String> {
    let case = if op.is_insensitive() {
        Case::Insensitive
    } else {
        Case::Sensitive
    };
    let mut ops = Vec::new();
    for p in patterns {
        ops.push(if op.is_regex() {
            Op::Regex(RegexSpec {
                pattern: lucene::to_rust(p)?,
                case,
                multiline: false,
                dotall: true,
                anchor: RegexAnchor::Full,
            })
        } else {
            Op::Match {
                pattern: StrPattern::from_glob_unescaped(p),
                case,
            }
        });
    }
    list_predicate(value, ops)
}

/// A predicate that is true when any of `ops` holds on `value`'s subject.
fn list_predicate(value: &Expr, ops: Vec<Op>) -> Result<Tf, String> {
    if value.is_constant() {
        let v = const_value(value)?;
        let Some(v) = v else { return Ok(konst(None)) };
        let doc = serde_json::json!({ "v": v });
        let p = IrExpr::or(
            ops.into_iter()
                .map(|o| IrExpr::pred(Subject::field("v"), o))
                .collect(),
        );
        let hit = ruleport_model::eval::expr_matches(&p, &doc).map_err(|e| e.to_string())?;
        return Ok(konst(Some(hit)));
    }
    let s = subject_of(operand(value)?);
    let p = or_s(
        ops.into_iter()
            .map(|o| IrExpr::pred(s.clone(), o))
            .collect(),
    );
    Ok(pred_tf(&s, p))
}

fn in_list(value: &Expr, items: &[Expr], insensitive: bool) -> Result<Tf, String> {
    let mut ops = Vec::new();
    for it in items {
        let Some(v) = const_value(it)? else { continue };
        let Some(scalar) = json_to_scalar(&v) else {
            return Err("`in` values must be scalars".into());
        };
        ops.push(match scalar {
            Scalar::Str(t) => Op::Match {
                pattern: StrPattern::literal(t),
                case: if insensitive {
                    Case::Insensitive
                } else {
                    Case::Sensitive
                },
            },
            other => Op::Eq(other),
        });
    }
    if ops.is_empty() {
        // Only nulls in the list: never true, false when the value is not null.
        if value.is_constant() {
            return Ok(konst(const_value(value)?.map(|_| false)));
        }
        let s = subject_of(operand(value)?);
        return Ok((IrExpr::Const(false), IrExpr::pred(s, Op::Exists)));
    }
    list_predicate(value, ops)
}

fn call(name: &str, ci: bool, args: &[Expr]) -> Result<Tf, String> {
    let case = if ci {
        Case::Insensitive
    } else {
        Case::Sensitive
    };
    let whole = Expr::Call {
        name: name.to_string(),
        insensitive: ci,
        args: args.to_vec(),
    };
    if whole.is_constant() {
        return Ok(konst(match const_value(&whole)? {
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(format!("`{name}` does not return a boolean")),
            None => None,
        }));
    }
    let native_arg = |i: usize| -> Result<Option<String>, String> {
        let Some(a) = args.get(i) else {
            return Ok(None);
        };
        if !a.is_constant() {
            return Ok(None);
        }
        Ok(match const_value(a)? {
            Some(Value::String(s)) => Some(s),
            Some(v @ Value::Number(_)) | Some(v @ Value::Bool(_)) => Some(v.to_string()),
            _ => None,
        })
    };
    match name {
        "startswith" | "endswith" | "stringcontains"
            if args.first().is_some_and(|a| !a.is_constant()) =>
        {
            if let (Some(needle), Some(hay)) = (native_arg(1)?, args.first()) {
                let s = subject_of(operand(hay)?);
                if name == "stringcontains" && needle.is_empty() {
                    // stringContains(x, "") is false for any non-null x.
                    return Ok((IrExpr::Const(false), IrExpr::pred(s, Op::Exists)));
                }
                let pattern = match name {
                    "startswith" => StrPattern::prefix(needle),
                    "endswith" => StrPattern::suffix(needle),
                    _ => StrPattern::contains(needle),
                };
                return Ok(predicate(s, Op::Match { pattern, case }));
            }
        }
        "cidrmatch" if args.first().is_some_and(|a| !a.is_constant()) => {
            let mut nets = Vec::new();
            for i in 1..args.len() {
                match native_arg(i)?.and_then(|n| parse_net(&n)) {
                    Some(net) => nets.push(net),
                    None => {
                        nets.clear();
                        break;
                    }
                }
            }
            if let (false, Some(ip)) = (nets.is_empty(), args.first()) {
                return list_predicate(ip, nets.into_iter().map(Op::Cidr).collect());
            }
        }
        _ => {}
    }
    let s = Subject::Computed(operand(&whole)?);
    Ok(predicate(s, Op::IsTrue))
}

/// A CIDR network or a single address (as a host network).
pub(crate) fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    let t = s.trim();
    t.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// A value expression as an IR operand, with constant sub-expressions folded.
pub(crate) fn operand(e: &Expr) -> Result<Operand, String> {
    stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || operand_inner(e))
}

fn operand_inner(e: &Expr) -> Result<Operand, String> {
    let op = match e {
        Expr::Null => Operand::Null,
        Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_) => {
            let v = literal_value(e).unwrap_or(Value::Null);
            match json_to_scalar(&v) {
                Some(s) => Operand::Literal(s),
                None => Operand::Null,
            }
        }
        Expr::Field { name, optional } => Operand::Field {
            name: name.clone(),
            optional: *optional,
        },
        Expr::Arith { op, left, right } => Operand::Arith {
            op: *op,
            left: Box::new(operand(left)?),
            right: Box::new(operand(right)?),
        },
        Expr::Neg(x) => Operand::Neg(Box::new(operand(x)?)),
        Expr::Call {
            name,
            insensitive,
            args,
        } => Operand::Call {
            name: name.clone(),
            case_insensitive: *insensitive,
            args: args.iter().map(operand).collect::<Result<_, _>>()?,
        },
        _ => return Err("a condition used as a value is not supported by the rule model".into()),
    };
    Ok(fold(op))
}

fn has_field(op: &Operand) -> bool {
    match op {
        Operand::Field { .. } => true,
        Operand::Literal(_) | Operand::Null => false,
        Operand::Call { args, .. } => args.iter().any(has_field),
        Operand::Arith { left, right, .. } => has_field(left) || has_field(right),
        Operand::Neg(x) => has_field(x),
    }
}

fn fold(op: Operand) -> Operand {
    if matches!(op, Operand::Literal(_) | Operand::Null) || has_field(&op) {
        return op;
    }
    match eval_operand(&op, &Value::Null)
        .as_ref()
        .and_then(json_to_scalar)
    {
        Some(s) => Operand::Literal(s),
        None => Operand::Null,
    }
}

// ---- simplification shared with the emitter ----

/// `and` that also drops repeated items (keeping the first).
pub(crate) fn and_s(items: Vec<IrExpr>) -> IrExpr {
    match IrExpr::and(items) {
        IrExpr::And(v) => IrExpr::and(dedupe(v)),
        other => other,
    }
}

/// `or` that drops repeated items and absorbs `s == null` into `¬P(s)` terms
/// (`¬Exists(s) ∨ (Exists(s) ∧ ¬Y)` is `¬Y` when Y is false on a missing s).
pub(crate) fn or_s(items: Vec<IrExpr>) -> IrExpr {
    let v = match IrExpr::or(items) {
        IrExpr::Or(v) => dedupe(v),
        other => return other,
    };
    let mut v = v;
    let null_subjects: Vec<Subject> = v
        .iter()
        .filter_map(|e| match e {
            IrExpr::Not(inner) => match inner.as_ref() {
                IrExpr::Pred(Predicate {
                    subject,
                    op: Op::Exists,
                }) => Some(subject.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for s in null_subjects {
        let mut replaced = false;
        for item in v.iter_mut() {
            if let Some(y) = exists_and_not(item, &s) {
                *item = IrExpr::not(y);
                replaced = true;
            }
        }
        if replaced {
            let null_item = IrExpr::not(IrExpr::pred(s.clone(), Op::Exists));
            v.retain(|e| *e != null_item);
        }
    }
    IrExpr::or(v)
}

/// If `e` is `Exists(s) ∧ ¬Y` with Y on subject s alone and false when s is missing, Y.
fn exists_and_not(e: &IrExpr, s: &Subject) -> Option<IrExpr> {
    let IrExpr::And(v) = e else { return None };
    let [IrExpr::Pred(Predicate {
        subject,
        op: Op::Exists,
    }), IrExpr::Not(y)] = v.as_slice()
    else {
        return None;
    };
    (subject == s && single_subject(y).as_ref() == Some(s) && !value_when_missing(y))
        .then(|| (**y).clone())
}

fn dedupe(v: Vec<IrExpr>) -> Vec<IrExpr> {
    IrExpr::dedup(v)
}

/// The one subject every predicate of `e` tests, if there is one and none is `Exists` or a
/// field comparison.
pub(crate) fn single_subject(e: &IrExpr) -> Option<Subject> {
    let mut subject: Option<Subject> = None;
    let mut ok = true;
    let mut nested = false;
    check_single(e, &mut subject, &mut ok, &mut nested);
    if ok && !nested {
        subject
    } else {
        None
    }
}

fn check_single(e: &IrExpr, subject: &mut Option<Subject>, ok: &mut bool, nested: &mut bool) {
    match e {
        IrExpr::And(v) | IrExpr::Or(v) => {
            v.iter().for_each(|x| check_single(x, subject, ok, nested))
        }
        IrExpr::Not(x) => check_single(x, subject, ok, nested),
        IrExpr::Const(_) => {}
        IrExpr::Nested { .. } => *nested = true,
        IrExpr::Pred(p) => {
            if matches!(p.op, Op::Exists | Op::FieldRef { .. })
                || matches!(p.subject, Subject::Keyword)
            {
                *ok = false;
            }
            match subject {
                None => *subject = Some(p.subject.clone()),
                Some(s) if *s == p.subject => {}
                Some(_) => *ok = false,
            }
        }
    }
}

/// The two-valued value of `e` on an event where its subject is missing (every predicate false).
pub(crate) fn value_when_missing(e: &IrExpr) -> bool {
    match e {
        IrExpr::And(v) => v.iter().all(value_when_missing),
        IrExpr::Or(v) => v.iter().any(value_when_missing),
        IrExpr::Not(x) => !value_when_missing(x),
        IrExpr::Const(b) => *b,
        IrExpr::Pred(_) | IrExpr::Nested { .. } => false,
    }
}

/// Arithmetic operators by EQL function name (for evaluation through the function library).
pub(crate) fn arith_function(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "add",
        ArithOp::Sub => "subtract",
        ArithOp::Mul => "multiply",
        ArithOp::Div => "divide",
        ArithOp::Mod => "modulo",
    }
}
