//! The value-expression library (Elasticsearch EQL functions and arithmetic), with EQL's null rules:
//! a null argument gives null. Shared by the reference evaluator and the EQL evaluator.

use crate::event::{lookup, scalar_text};
use crate::expr::{ArithOp, Operand};
use crate::matching::{cidr_contains, fold};
use crate::value::Scalar;
use serde_json::Value;

/// The function names EQL knows, lower-cased (names are accepted in any case).
pub const EQL_FUNCTIONS: &[&str] = &[
    "add",
    "between",
    "cidrmatch",
    "concat",
    "divide",
    "endswith",
    "indexof",
    "length",
    "modulo",
    "multiply",
    "number",
    "startswith",
    "string",
    "stringcontains",
    "substring",
    "subtract",
];

/// Evaluate an operand against an event. `None` is null. A field with several values yields
/// the array (functions treat it through any-element rules where EQL does).
pub fn eval_operand(op: &Operand, doc: &Value) -> Option<Value> {
    match op {
        Operand::Field { name, .. } => {
            let vals = lookup(doc, name);
            match vals.len() {
                0 => None,
                1 => Some(vals[0].clone()),
                _ => Some(Value::Array(vals.into_iter().cloned().collect())),
            }
        }
        Operand::Literal(s) => Some(scalar_to_json(s)),
        Operand::Null => None,
        Operand::Neg(inner) => {
            let v = eval_operand(inner, doc)?;
            num_of(&v).map(|n| num_json(-n, v.is_i64()))
        }
        Operand::Arith { op, left, right } => {
            let l = eval_operand(left, doc)?;
            let r = eval_operand(right, doc)?;
            arith(*op, &l, &r)
        }
        Operand::Call {
            name,
            case_insensitive,
            args,
        } => {
            let vals: Vec<Option<Value>> = args.iter().map(|a| eval_operand(a, doc)).collect();
            call(&name.to_ascii_lowercase(), *case_insensitive, &vals)
        }
    }
}

pub fn scalar_to_json(s: &Scalar) -> Value {
    match s {
        Scalar::Str(s) => Value::String(s.clone()),
        Scalar::Int(i) => Value::from(*i),
        Scalar::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Scalar::Bool(b) => Value::Bool(*b),
    }
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn num_json(n: f64, int: bool) -> Value {
    if int && n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn arith(op: ArithOp, l: &Value, r: &Value) -> Option<Value> {
    let int = l.is_i64() && r.is_i64();
    if int {
        let (a, b) = (l.as_i64()?, r.as_i64()?);
        let v = match op {
            ArithOp::Add => a.checked_add(b)?,
            ArithOp::Sub => a.checked_sub(b)?,
            ArithOp::Mul => a.checked_mul(b)?,
            ArithOp::Div => {
                if b == 0 {
                    return None;
                }
                a.div_euclid(b)
            }
            ArithOp::Mod => {
                if b == 0 {
                    return None;
                }
                a % b
            }
        };
        return Some(Value::from(v));
    }
    let (a, b) = (num_of(l)?, num_of(r)?);
    let v = match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => {
            if b == 0.0 {
                return None;
            }
            a / b
        }
        ArithOp::Mod => {
            if b == 0.0 {
                return None;
            }
            a % b
        }
    };
    Some(num_json(v, false))
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Array(a) => a.first().and_then(text_of),
        other => scalar_text(other).map(|c| c.into_owned()),
    }
}

fn texts_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(text_of).collect(),
        other => text_of(other).into_iter().collect(),
    }
}

fn cmp_text(a: &str, b: &str, ci: bool) -> (String, String) {
    if ci {
        (fold(a), fold(b))
    } else {
        (a.to_string(), b.to_string())
    }
}

/// Call an EQL function by lower-case name. `None` is null (and unknown functions give null).
pub fn call(name: &str, ci: bool, args: &[Option<Value>]) -> Option<Value> {
    let arg = |i: usize| args.get(i).cloned().flatten();
    match name {
        "add" => arith(ArithOp::Add, &arg(0)?, &arg(1)?),
        "subtract" => arith(ArithOp::Sub, &arg(0)?, &arg(1)?),
        "multiply" => arith(ArithOp::Mul, &arg(0)?, &arg(1)?),
        "divide" => arith(ArithOp::Div, &arg(0)?, &arg(1)?),
        "modulo" => arith(ArithOp::Mod, &arg(0)?, &arg(1)?),
        "length" => {
            let v = arg(0)?;
            match &v {
                Value::Array(a) => Some(Value::from(a.len() as i64)),
                _ => Some(Value::from(text_of(&v)?.chars().count() as i64)),
            }
        }
        "string" => text_of(&arg(0)?).map(Value::String),
        "number" => {
            let s = text_of(&arg(0)?)?;
            let base = arg(1).and_then(|b| b.as_i64()).unwrap_or(10);
            let t = s.trim();
            if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return i64::from_str_radix(hex, 16).ok().map(Value::from);
            }
            if base != 10 {
                return i64::from_str_radix(t, u32::try_from(base).ok()?)
                    .ok()
                    .map(Value::from);
            }
            t.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| t.parse::<f64>().ok().map(|f| num_json(f, false)))
        }
        "concat" => {
            let mut out = String::new();
            for a in args {
                out.push_str(&text_of(a.as_ref()?)?);
            }
            Some(Value::String(out))
        }
        "startswith" | "endswith" | "stringcontains" => {
            let hay = arg(0)?;
            let needle = text_of(&arg(1)?)?;
            let hit = texts_of(&hay).iter().any(|h| {
                let (h, n) = cmp_text(h, &needle, ci);
                match name {
                    "startswith" => h.starts_with(&n),
                    "endswith" => h.ends_with(&n),
                    _ => !n.is_empty() && h.contains(&n),
                }
            });
            Some(Value::Bool(hit))
        }
        "indexof" => {
            let hay = text_of(&arg(0)?)?;
            let needle = text_of(&arg(1)?)?;
            let start = arg(2).and_then(|v| v.as_i64()).unwrap_or(0).max(0) as usize;
            let (h, n) = cmp_text(&hay, &needle, ci);
            let chars: Vec<char> = h.chars().collect();
            let start_byte: usize = chars.iter().take(start).map(|c| c.len_utf8()).sum();
            let found = h.get(start_byte..)?.find(&n)?;
            let idx = h[..start_byte + found].chars().count();
            Some(Value::from(idx as i64))
        }
        "substring" => {
            let s: Vec<char> = text_of(&arg(0)?)?.chars().collect();
            let len = s.len() as i64;
            let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
            let start = norm(arg(1).and_then(|v| v.as_i64()).unwrap_or(0));
            let end = match arg(2) {
                Some(v) => norm(v.as_i64()?),
                None => len,
            };
            if start >= end {
                return Some(Value::String(String::new()));
            }
            Some(Value::String(
                s[start as usize..end as usize].iter().collect(),
            ))
        }
        "between" => {
            let src = text_of(&arg(0)?)?;
            let left = text_of(&arg(1)?)?;
            let right = text_of(&arg(2)?)?;
            let greedy = arg(3).and_then(|v| v.as_bool()).unwrap_or(false);
            let (h, l) = cmp_text(&src, &left, ci);
            let (_, r) = cmp_text(&src, &right, ci);
            let start = h.find(&l)? + l.len();
            let rest = h.get(start..)?;
            let end = if greedy {
                rest.rfind(&r)?
            } else {
                rest.find(&r)?
            };
            // Folding may change byte lengths; when it did, answer from the folded text.
            let out = if h.len() == src.len() {
                src.get(start..start + end)?.to_string()
            } else {
                rest[..end].to_string()
            };
            Some(Value::String(out))
        }
        "cidrmatch" => {
            let ip = arg(0)?;
            let ips = texts_of(&ip);
            let mut hit = false;
            for net in args.iter().skip(1) {
                let n = text_of(net.as_ref()?)?;
                if let Ok(net) = n.parse::<ipnet::IpNet>() {
                    hit |= ips.iter().any(|i| cidr_contains(&net, i));
                } else if let Ok(addr) = n.parse::<std::net::IpAddr>() {
                    hit |= ips
                        .iter()
                        .any(|i| i.parse::<std::net::IpAddr>().ok() == Some(addr));
                }
            }
            Some(Value::Bool(hit))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> Option<Value> {
        Some(json!(v))
    }

    #[test]
    fn string_functions() {
        assert_eq!(call("length", false, &[s("héllo")]), Some(json!(5)));
        assert_eq!(
            call("startswith", true, &[s("CMD.exe"), s("cmd")]),
            Some(json!(true))
        );
        assert_eq!(
            call("startswith", false, &[s("CMD.exe"), s("cmd")]),
            Some(json!(false))
        );
        assert_eq!(
            call("stringcontains", false, &[s(""), s("")]),
            Some(json!(false))
        );
        assert_eq!(call("indexof", false, &[s("abc"), s("z")]), None);
        assert_eq!(
            call("substring", false, &[s("hello"), Some(json!(-3))]),
            s("llo")
        );
        assert_eq!(
            call("between", false, &[s("a=b;c"), s("="), s(";")]),
            s("b")
        );
        assert_eq!(call("concat", false, &[s("a"), None]), None);
        assert_eq!(call("number", false, &[s("0x10")]), Some(json!(16)));
        assert_eq!(
            call("cidrmatch", false, &[s("fe80::1"), s("FE80::/10")]),
            Some(json!(true))
        );
        assert_eq!(
            call("divide", false, &[Some(json!(7)), Some(json!(2))]),
            Some(json!(3))
        );
    }
}
