//! kiln-hcl-functions: Packer's HCL2 function library
//! (`hcl2template/functions.go`) for kiln's HCL2 evaluator: string,
//! collection, encoding, filesystem, date/time, hash and crypto, numeric,
//! type conversion and secret-store functions (all 110 Packer documents),
//! each checked against the documented examples. The secret stores are
//! Vault, Consul and AWS Secrets Manager (whose requests are signed with
//! the `aws-sigv4` crate).
//! Arguments convert as cty converts them (`upper(5)` is `"5"`,
//! `max("3", 1)` is `3`). `env` is only available in variable defaults.
//!
//! It stores nothing: [`register`] declares the functions in an hcl-rs
//! evaluation context, and [`value`] has the HCL value conversions the
//! functions share with the evaluator (`kiln-template`), which depends on
//! this crate and not the other way round.

mod aws;
mod collection;
mod datetime;
mod encoding;
mod filesystem;
mod more;
mod numeric;
mod printf;
mod string;
pub mod value;

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::Value;

/// A library function.
pub type Func = fn(FuncArgs) -> Result<Value, String>;

/// `(name, fixed parameter count, variadic, implementation)`.
pub type Entry = (&'static str, usize, bool, Func);

/// Every implemented function, by group.
pub fn table() -> Vec<Entry> {
    let mut t = Vec::new();
    t.extend_from_slice(string::FUNCS);
    t.extend_from_slice(collection::FUNCS);
    t.extend_from_slice(encoding::FUNCS);
    t.extend_from_slice(filesystem::FUNCS);
    t.extend_from_slice(datetime::FUNCS);
    t.extend_from_slice(numeric::FUNCS);
    t.extend_from_slice(more::FUNCS);
    t.extend_from_slice(aws::FUNCS);
    t
}

/// Declares the functions of an evaluation context: in a variable default
/// (`variable_default`) only `env`, as in Packer (hcl2template
/// types.variables.go `decodeInputVariables` gives defaults an
/// `EvalContext` with `env` alone); elsewhere every function, with `env`
/// refused. kiln's internal functions (`__kiln_*`, which operators are
/// rewritten to) are always there.
pub fn register(ctx: &mut Context<'_>, variable_default: bool) {
    for (name, n, variadic, f) in table() {
        if !variable_default || name.starts_with("__") {
            ctx.declare_func(name, def(f, n, variadic));
        }
    }
    ctx.declare_func(
        "env",
        def(if variable_default { env } else { env_refused }, 1, false),
    );
}

fn def(f: Func, n: usize, variadic: bool) -> FuncDef {
    let mut b = FuncDef::builder().params(std::iter::repeat_n(ParamType::Any, n));
    if variadic {
        b = b.variadic_param(ParamType::Any);
    }
    b.build(f)
}

fn env(args: FuncArgs) -> Result<Value, String> {
    let name = to_str(&args[0])?;
    Ok(Value::String(std::env::var(&name).unwrap_or_default()))
}

fn env_refused(_: FuncArgs) -> Result<Value, String> {
    Err("`env` can only be used in variable defaults; set a variable's default with `env(\"NAME\")` and use the variable".into())
}

/// A value as a string, converting numbers and bools as cty does.
pub fn to_str(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(crate::value::display(v)),
        Value::Null => Err("a string is required, found null".into()),
        other => Err(format!(
            "a string is required, found {}",
            crate::value::kind(other)
        )),
    }
}

/// A value as a number, converting numeric strings.
pub fn to_f64(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "invalid number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("a number is required, found `{s}`")),
        other => Err(format!(
            "a number is required, found {}",
            crate::value::kind(other)
        )),
    }
}

/// A whole number argument.
pub fn to_i64(v: &Value) -> Result<i64, String> {
    let f = to_f64(v)?;
    if f.fract() != 0.0 || f.abs() > 9.0e15 {
        return Err(format!("a whole number is required, found `{f}`"));
    }
    Ok(f as i64)
}

/// A number as an HCL value (whole numbers stay integers).
pub fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        hcl::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// A list (or set/tuple) argument.
pub fn to_list(v: &Value) -> Result<&Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(format!(
            "a list is required, found {}",
            crate::value::kind(other)
        )),
    }
}

/// A map (or object) argument.
pub fn to_map(v: &Value) -> Result<&hcl::Map<String, Value>, String> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(format!(
            "a map is required, found {}",
            crate::value::kind(other)
        )),
    }
}

/// A bool argument (`"true"` converts).
pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        other => Err(format!(
            "a bool is required, found {}",
            crate::value::kind(other)
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    /// Evaluates `expr` with every function declared.
    pub fn eval(expr: &str) -> Result<String, String> {
        let body: hcl::Body = hcl::parse(&format!("x = {expr}\n")).map_err(|e| e.to_string())?;
        let e = body.attributes().next().ok_or("no attribute")?.expr.clone();
        let mut ctx = Context::new();
        register(&mut ctx, false);
        ctx.declare_func("env", def(env, 1, false));
        e.evaluate(&ctx)
            .map(|v| crate::value::to_json(&v).to_string())
            .map_err(|e| crate::value::eval_message(&e))
    }

    /// Runs a table of `(expression, expected JSON)` cases.
    pub fn check(cases: &[(&str, &str)]) {
        for (expr, want) in cases {
            match eval(expr) {
                Ok(got) => assert_eq!(&got, want, "{expr}"),
                Err(e) => panic!("{expr}: {e}"),
            }
        }
    }

    #[test]
    fn env_only_where_allowed() {
        let body: hcl::Body = hcl::parse("x = env(\"HOME\")\n").unwrap();
        let e = body.attributes().next().unwrap().expr.clone();
        let mut ctx = Context::new();
        register(&mut ctx, false);
        let err = e.evaluate(&ctx).unwrap_err();
        assert!(crate::value::eval_message(&err).contains("only be used in variable defaults"));
        // A variable default has `env` alone, as in Packer.
        let body: hcl::Body = hcl::parse("x = upper(env(\"HOME\"))\n").unwrap();
        let e = body.attributes().next().unwrap().expr.clone();
        let mut ctx = Context::new();
        register(&mut ctx, true);
        let err = e.evaluate(&ctx).unwrap_err();
        assert_eq!(
            crate::value::eval_message(&err),
            "call to unknown function `upper`"
        );
    }

    #[test]
    fn the_table_has_no_duplicates() {
        let mut names: Vec<&str> = table().iter().map(|e| e.0).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
