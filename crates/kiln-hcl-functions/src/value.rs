//! HCL values as the function library and the evaluator both see them:
//! conversions to and from the JSON values components are configured
//! with, a value as text and the name of its type (for messages), and
//! hcl-rs evaluation errors in kiln's words.

use hcl::Value;

/// An hcl evaluation error in kiln's style.
pub fn eval_message(err: &hcl::eval::Error) -> String {
    use hcl::eval::ErrorKind;
    match err.kind() {
        ErrorKind::UndefinedVar(v) => format!("undefined variable `{v}`"),
        ErrorKind::UndefinedFunc(f) => format!("call to unknown function `{f}`"),
        ErrorKind::FuncCall(f, msg) => match f.to_string().as_str() {
            "__kiln_fail" => msg.to_string(),
            "__kiln_num" | "__kiln_bool" => format!("invalid operand: {msg}"),
            _ => format!("error in function `{f}`: {msg}"),
        },
        ErrorKind::NoSuchKey(k) => format!("no attribute or key `{k}`"),
        other => {
            let s = other.to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    }
}

/// An HCL value as JSON (for component configs).
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    serde_json::Value::from(f as i64)
                } else {
                    serde_json::Number::from_f64(f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(o) => {
            serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// A JSON value as an HCL value.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                hcl::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// A value as text: strings as they are, numbers and bools as HCL writes
/// them, anything else as JSON.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => to_json(v).to_string(),
        _ => to_json(v).to_string(),
    }
}

/// The name of a value's type, for messages (`a string`).
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, 2.5, "x", null, true]});
        assert_eq!(to_json(&from_json(&j)), j);
    }
}
