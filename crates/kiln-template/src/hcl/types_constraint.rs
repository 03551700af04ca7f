//! Variable type constraints (`string`, `list(number)`, `object({ a =
//! optional(string, "x") })`…) and HCL's conversions to them: `"5"` is a
//! number where the type says `number`, `true` a string where it says
//! `string`, and so on, as cty converts.

use std::fmt;

use hcl::{Expression, Map, Value};

/// A type constraint.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// `any`: no conversion.
    Any,
    /// `string`.
    String,
    /// `number`.
    Number,
    /// `bool`.
    Bool,
    /// `list(T)`.
    List(Box<Type>),
    /// `set(T)`: a list without duplicates.
    Set(Box<Type>),
    /// `map(T)`.
    Map(Box<Type>),
    /// `tuple([T, …])`.
    Tuple(Vec<Type>),
    /// `object({name = T, …})`.
    Object(Vec<ObjectAttr>),
}

/// One attribute of an object type.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectAttr {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// `optional(…)`.
    pub optional: bool,
    /// `optional(T, default)`'s default.
    pub default: Option<Value>,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, a) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if a.optional {
                        write!(f, "{} = optional({})", a.name, a.ty)?;
                    } else {
                        write!(f, "{} = {}", a.name, a.ty)?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

impl Type {
    /// True for `string`, `number` and `bool`: command-line and environment
    /// values of these types are taken literally rather than parsed as HCL.
    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::String | Type::Number | Type::Bool)
    }
}

/// Parses a type constraint expression.
pub fn parse_type(e: &Expression) -> Result<Type, String> {
    parse_inner(e, false, 0).map(|(t, _, _)| t)
}

fn parse_inner(
    e: &Expression,
    in_object: bool,
    depth: usize,
) -> Result<(Type, bool, Option<Value>), String> {
    if depth > 64 {
        return Err("the type constraint is nested too deeply".into());
    }
    let d = depth + 1;
    match e {
        Expression::Variable(v) => match v.as_str() {
            "any" => Ok((Type::Any, false, None)),
            "string" => Ok((Type::String, false, None)),
            "number" => Ok((Type::Number, false, None)),
            "bool" => Ok((Type::Bool, false, None)),
            other => Err(format!(
                "unknown type `{other}`; the primitive types are `string`, `number`, `bool` and `any`"
            )),
        },
        Expression::Parenthesis(inner) => parse_inner(inner, in_object, d),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let one = |what: &str| -> Result<Type, String> {
                match call.args.as_slice() {
                    [a] => parse_inner(a, false, d).map(|x| x.0),
                    _ => Err(format!("`{what}(…)` takes one element type")),
                }
            };
            match name {
                "list" => Ok((Type::List(Box::new(one("list")?)), false, None)),
                "set" => Ok((Type::Set(Box::new(one("set")?)), false, None)),
                "map" => Ok((Type::Map(Box::new(one("map")?)), false, None)),
                "tuple" => match call.args.as_slice() {
                    [Expression::Array(items)] => Ok((
                        Type::Tuple(
                            items
                                .iter()
                                .map(|i| parse_inner(i, false, d).map(|x| x.0))
                                .collect::<Result<_, _>>()?,
                        ),
                        false,
                        None,
                    )),
                    _ => Err("`tuple(…)` takes a list of element types".into()),
                },
                "object" => match call.args.as_slice() {
                    [Expression::Object(o)] => {
                        let mut attrs = Vec::new();
                        for (k, v) in o {
                            let name = match k {
                                hcl::ObjectKey::Identifier(i) => i.as_str().to_string(),
                                hcl::ObjectKey::Expression(Expression::String(s)) => s.clone(),
                                hcl::ObjectKey::Expression(Expression::Variable(v)) => v.as_str().to_string(),
                                _ => return Err("object type attribute names must be identifiers".into()),
                            };
                            let (ty, optional, default) = parse_inner(v, true, d)?;
                            attrs.push(ObjectAttr {
                                name,
                                ty,
                                optional,
                                default,
                            });
                        }
                        Ok((Type::Object(attrs), false, None))
                    }
                    _ => Err("`object(…)` takes an object of attribute types".into()),
                },
                "optional" => {
                    if !in_object {
                        return Err("`optional(…)` can only be used for an object type's attributes".into());
                    }
                    match call.args.as_slice() {
                        [t] => Ok((parse_inner(t, false, d)?.0, true, None)),
                        [t, default] => {
                            let ty = parse_inner(t, false, d)?.0;
                            let dv = super::eval::eval_constant(
                                &super::parser::Expr {
                                    expr: default.clone(),
                                    location: kiln_sdk::config::Location {
                                        file: "".into(),
                                        line: 0,
                                        column: 0,
                                    },
                                },
                                "a type constraint",
                            )
                            .map_err(|e| format!("invalid `optional` default: {}", e.message))?;
                            let dv = convert(&dv, &ty).map_err(|e| format!("invalid `optional` default: {e}"))?;
                            Ok((ty, true, Some(dv)))
                        }
                        _ => Err("`optional(…)` takes a type and an optional default".into()),
                    }
                }
                other => Err(format!("unknown type constructor `{other}`")),
            }
        }
        Expression::String(s) => Err(format!(
            "a type constraint is written without quotes (`{s}`, not `\"{s}\"`)"
        )),
        _ => Err("invalid type constraint; expected a type such as `string` or `list(string)`".into()),
    }
}

/// Converts `v` to type `t`, as HCL does. `null` converts to any type.
pub fn convert(v: &Value, t: &Type) -> Result<Value, String> {
    convert_at(v, t, "")
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at `{path}`")
    }
}

fn convert_at(v: &Value, t: &Type, path: &str) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match (t, v) {
        (Type::Any, _) => Ok(v.clone()),
        (Type::String, Value::String(_)) => Ok(v.clone()),
        (Type::String, Value::Number(_) | Value::Bool(_)) => {
            Ok(Value::String(super::eval::display(v)))
        }
        (Type::Number, Value::Number(_)) => Ok(v.clone()),
        (Type::Number, Value::String(s)) => {
            parse_number(s).ok_or_else(|| format!("a number is required{}, found `{s}`", at(path)))
        }
        (Type::Bool, Value::Bool(_)) => Ok(v.clone()),
        (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (Type::List(et), Value::Array(items)) => Ok(Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| convert_at(x, et, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        (Type::Set(et), Value::Array(items)) => {
            let mut out: Vec<Value> = Vec::new();
            for (i, x) in items.iter().enumerate() {
                let c = convert_at(x, et, &format!("{path}[{i}]"))?;
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            Ok(Value::Array(out))
        }
        (Type::Map(et), Value::Object(o)) => Ok(Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), convert_at(x, et, &join(path, k))?)))
                .collect::<Result<Map<_, _>, String>>()?,
        )),
        (Type::Tuple(ts), Value::Array(items)) => {
            if ts.len() != items.len() {
                return Err(format!(
                    "a tuple of {} elements is required{}, found {}",
                    ts.len(),
                    at(path),
                    items.len()
                ));
            }
            Ok(Value::Array(
                items
                    .iter()
                    .zip(ts)
                    .enumerate()
                    .map(|(i, (x, t))| convert_at(x, t, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Type::Object(attrs), Value::Object(o)) => {
            let mut out = Map::new();
            for a in attrs {
                match o.get(&a.name) {
                    Some(x) if !x.is_null() => {
                        out.insert(a.name.clone(), convert_at(x, &a.ty, &join(path, &a.name))?);
                    }
                    _ if a.optional => {
                        out.insert(a.name.clone(), a.default.clone().unwrap_or(Value::Null));
                    }
                    Some(_) => {
                        out.insert(a.name.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute `{}` is required{}", a.name, at(path))),
                }
            }
            Ok(Value::Object(out))
        }
        _ => Err(format!(
            "{} is required{}, found {}",
            article(t),
            at(path),
            super::eval::kind(v)
        )),
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn article(t: &Type) -> String {
    match t {
        Type::Any => "a value".into(),
        Type::String => "a string".into(),
        Type::Number => "a number".into(),
        Type::Bool => "a bool".into(),
        Type::List(_) | Type::Set(_) | Type::Tuple(_) => format!("a value of type `{t}`"),
        Type::Map(_) | Type::Object(_) => format!("a value of type `{t}`"),
    }
}

/// Parses a decimal number as HCL does (`"5"`, `"-1.5"`, `"1e3"`).
pub fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    hcl::Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Result<Type, String> {
        let body: hcl::Body = hcl::parse(&format!("t = {s}")).unwrap();
        parse_type(&body.attributes().next().unwrap().expr)
    }

    fn val(s: &str) -> Value {
        let body: hcl::Body = hcl::parse(&format!("v = {s}")).unwrap();
        hcl::eval::Evaluate::evaluate(
            &body.attributes().next().unwrap().expr,
            &hcl::eval::Context::new(),
        )
        .unwrap()
    }

    #[test]
    fn conversions_table() {
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            ("number", r#""5""#, Ok("5")),
            ("number", r#""x""#, Err("a number is required, found `x`")),
            ("string", "5", Ok("\"5\"")),
            ("string", "true", Ok("\"true\"")),
            ("bool", r#""true""#, Ok("true")),
            ("bool", "1", Err("a bool is required, found a number")),
            ("list(number)", r#"["1", 2]"#, Ok("[1,2]")),
            ("set(string)", r#"["a", "a", "b"]"#, Ok("[\"a\",\"b\"]")),
            ("map(number)", r#"{a = "1"}"#, Ok("{\"a\":1}")),
            ("tuple([string, number])", r#"[1, "2"]"#, Ok("[\"1\",2]")),
            (
                "tuple([string])",
                r#"[1, 2]"#,
                Err("a tuple of 1 elements is required, found 2"),
            ),
            (
                r#"object({a = string, b = optional(number, 3), c = optional(bool)})"#,
                r#"{a = 1, extra = 2}"#,
                Ok("{\"a\":\"1\",\"b\":3,\"c\":null}"),
            ),
            (
                "object({a = string})",
                "{}",
                Err("attribute `a` is required"),
            ),
            (
                "list(object({n = number}))",
                r#"[{n = "x"}]"#,
                Err("a number is required at `[0].n`, found `x`"),
            ),
            ("any", "[1]", Ok("[1]")),
            ("string", "null", Ok("null")),
        ];
        for (t, v, want) in cases {
            let t = ty(t).unwrap();
            let got = convert(&val(v), &t).map(|v| super::super::eval::to_json(&v).to_string());
            assert_eq!(got.as_deref().map_err(|e| e.as_str()), *want, "{t} <- {v}");
        }
    }

    #[test]
    fn bad_types_are_explained() {
        assert!(ty("strin").unwrap_err().contains("unknown type `strin`"));
        assert!(ty("\"string\"").unwrap_err().contains("without quotes"));
        assert!(ty("optional(string)").unwrap_err().contains("only be used"));
        assert_eq!(
            ty("list(map(string))").unwrap().to_string(),
            "list(map(string))"
        );
    }
}
