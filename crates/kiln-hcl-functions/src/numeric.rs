//! Numeric and type conversion functions: `abs`, `ceil`, `floor`, `log`,
//! `max`, `min`, `parseint`, `pow`, `signum`, and `tostring`, `tonumber`,
//! `tobool`, `tolist`, `toset`, `tomap`.

use hcl::eval::FuncArgs;
use hcl::Value;

use super::{num, to_bool, to_f64, to_list, to_map, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("abs", 1, false, abs),
    ("ceil", 1, false, ceil),
    ("floor", 1, false, floor),
    ("log", 2, false, log),
    ("max", 0, true, max),
    ("min", 0, true, min),
    ("parseint", 2, false, parseint),
    ("pow", 2, false, pow),
    ("signum", 1, false, signum),
    ("tobool", 1, false, tobool),
    ("tolist", 1, false, tolist),
    ("tomap", 1, false, tomap),
    ("tonumber", 1, false, tonumber),
    ("toset", 1, false, toset),
    ("tostring", 1, false, tostring),
];

fn abs(a: FuncArgs) -> Result<Value, String> {
    Ok(num(to_f64(&a[0])?.abs()))
}
fn ceil(a: FuncArgs) -> Result<Value, String> {
    Ok(num(to_f64(&a[0])?.ceil()))
}
fn floor(a: FuncArgs) -> Result<Value, String> {
    Ok(num(to_f64(&a[0])?.floor()))
}
fn log(a: FuncArgs) -> Result<Value, String> {
    let r = to_f64(&a[0])?.ln() / to_f64(&a[1])?.ln();
    if !r.is_finite() {
        return Err("the result is not a finite number".into());
    }
    Ok(num(r))
}
fn pow(a: FuncArgs) -> Result<Value, String> {
    let r = to_f64(&a[0])?.powf(to_f64(&a[1])?);
    if !r.is_finite() {
        return Err("the result is not a finite number".into());
    }
    Ok(num(r))
}
fn signum(a: FuncArgs) -> Result<Value, String> {
    let f = to_f64(&a[0])?;
    Ok(num(if f > 0.0 {
        1.0
    } else if f < 0.0 {
        -1.0
    } else {
        0.0
    }))
}
fn extremum(a: &FuncArgs, pick: fn(f64, f64) -> f64) -> Result<Value, String> {
    let mut it = a.iter();
    let first = to_f64(it.next().ok_or("at least one number is required")?)?;
    let mut m = first;
    for v in it {
        m = pick(m, to_f64(v)?);
    }
    Ok(num(m))
}
fn max(a: FuncArgs) -> Result<Value, String> {
    extremum(&a, f64::max)
}
fn min(a: FuncArgs) -> Result<Value, String> {
    extremum(&a, f64::min)
}
fn parseint(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    let base = super::to_i64(&a[1])?;
    if !(2..=62).contains(&base) {
        return Err(format!("base must be between 2 and 62, found `{base}`"));
    }
    if base > 36 {
        return Err("bases above 36 are not supported".into());
    }
    i64::from_str_radix(&s, base as u32)
        .map(Value::from)
        .map_err(|_| format!("cannot parse `{s}` as a base {base} integer"))
}
fn tostring(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_str(&a[0]).map(Value::from)
}
fn tonumber(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_f64(&a[0]).map(num)
}
fn tobool(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_bool(&a[0]).map(Value::Bool)
}
fn tolist(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(to_list(&a[0])?.clone()))
}
fn toset(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in to_list(&a[0])? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}
fn tomap(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Object(to_map(&a[0])?.clone()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            ("abs(23)", "23"),
            ("abs(0)", "0"),
            ("abs(-12.4)", "12.4"),
            ("ceil(5)", "5"),
            ("ceil(5.1)", "6"),
            ("floor(4.9)", "4"),
            ("floor(-1.5)", "-2"),
            ("log(50, 10) > 1.69", "true"),
            ("log(16, 2)", "4"),
            ("max(12, 54, 3)", "54"),
            ("max([12, 54, 3]...)", "54"),
            ("min(12, 54, 3)", "3"),
            (r#"max("3", 1)"#, "3"),
            (r#"parseint("100", 10)"#, "100"),
            (r#"parseint("FF", 16)"#, "255"),
            (r#"parseint("-10", 16)"#, "-16"),
            (r#"parseint("1011111011101111", 2)"#, "48879"),
            (r#"parseint("aA", 36)"#, "370"),
            ("pow(3, 2)", "9"),
            ("pow(4, 0)", "1"),
            ("signum(-13)", "-1"),
            ("signum(0)", "0"),
            ("signum(344)", "1"),
            (r#"tostring("hello")"#, r#""hello""#),
            ("tostring(1)", r#""1""#),
            ("tostring(true)", r#""true""#),
            ("tostring(null)", "null"),
            ("tonumber(1)", "1"),
            (r#"tonumber("1")"#, "1"),
            ("tonumber(null)", "null"),
            ("tobool(true)", "true"),
            (r#"tobool("true")"#, "true"),
            ("tobool(null)", "null"),
            (r#"tolist(["a", "b", "c"])"#, r#"["a","b","c"]"#),
            (r#"toset(["a", "b", "c", "a"])"#, r#"["a","b","c"]"#),
            (r#"tomap({"a" = 1, "b" = 2})"#, r#"{"a":1,"b":2}"#),
        ]);
    }

    #[test]
    fn errors_are_explained() {
        assert!(eval(r#"tonumber("no")"#)
            .unwrap_err()
            .contains("a number is required, found `no`"));
        assert!(eval(r#"tobool("no")"#)
            .unwrap_err()
            .contains("a bool is required"));
        assert!(eval(r#"parseint("12", 1)"#)
            .unwrap_err()
            .contains("base must be between"));
        assert!(eval("max()").unwrap_err().contains("at least one number"));
        assert!(eval(r#"parseint("zz", 10)"#)
            .unwrap_err()
            .contains("cannot parse"));
    }
}
