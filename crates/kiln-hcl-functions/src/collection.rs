//! Collection functions: `length`, `concat`, `merge`, `lookup`, `keys`,
//! `values`, `flatten`, `contains`, `element`, `distinct`, `range`…

use hcl::eval::FuncArgs;
use hcl::{Map, Value};

use super::{num, to_bool, to_f64, to_i64, to_list, to_map, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("alltrue", 1, false, alltrue),
    ("anytrue", 1, false, anytrue),
    ("chunklist", 2, false, chunklist),
    ("coalesce", 0, true, coalesce),
    ("coalescelist", 0, true, coalescelist),
    ("compact", 1, false, compact),
    ("concat", 0, true, concat),
    ("contains", 2, false, contains),
    ("distinct", 1, false, distinct),
    ("element", 2, false, element),
    ("flatten", 1, false, flatten),
    ("index", 2, false, index),
    ("keys", 1, false, keys),
    ("length", 1, false, length),
    ("lookup", 2, true, lookup),
    ("merge", 0, true, merge),
    ("range", 0, true, range),
    ("reverse", 1, false, reverse),
    ("setintersection", 1, true, setintersection),
    ("setproduct", 0, true, setproduct),
    ("setunion", 0, true, setunion),
    ("slice", 3, false, slice),
    ("sort", 1, false, sort),
    ("sum", 1, false, sum),
    ("values", 1, false, values),
    ("zipmap", 2, false, zipmap),
];

/// At most this many elements from `range` or `setproduct`.
const MAX_ELEMENTS: usize = 1_000_000;

fn alltrue(a: FuncArgs) -> Result<Value, String> {
    let mut all = true;
    for v in to_list(&a[0])? {
        all &= to_bool(v)?;
    }
    Ok(Value::Bool(all))
}
fn anytrue(a: FuncArgs) -> Result<Value, String> {
    let mut any = false;
    for v in to_list(&a[0])? {
        any |= to_bool(v)?;
    }
    Ok(Value::Bool(any))
}
fn chunklist(a: FuncArgs) -> Result<Value, String> {
    let l = to_list(&a[0])?;
    let n = to_i64(&a[1])?;
    if n < 0 {
        return Err("the chunk size must not be negative".into());
    }
    if n == 0 {
        return Ok(Value::Array(vec![Value::Array(l.clone())]));
    }
    Ok(Value::Array(
        l.chunks(n as usize)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}
fn coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !v.is_null() && !matches!(v, Value::String(s) if s.is_empty()))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty-string arguments".into())
}
fn coalescelist(a: FuncArgs) -> Result<Value, String> {
    for v in a.iter() {
        if !to_list(v)?.is_empty() {
            return Ok(v.clone());
        }
    }
    Ok(Value::Array(Vec::new()))
}
fn compact(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        to_list(&a[0])?
            .iter()
            .filter(|v| !v.is_null() && !matches!(v, Value::String(s) if s.is_empty()))
            .cloned()
            .collect(),
    ))
}
fn concat(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for l in a.iter() {
        out.extend(to_list(l)?.iter().cloned());
    }
    Ok(Value::Array(out))
}
fn contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(to_list(&a[0])?.contains(&a[1])))
}
fn distinct(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in to_list(&a[0])? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}
fn element(a: FuncArgs) -> Result<Value, String> {
    let l = to_list(&a[0])?;
    if l.is_empty() {
        return Err("cannot use element function with an empty list".into());
    }
    let i = to_i64(&a[1])?;
    if i < 0 {
        return Err("cannot use element function with a negative index".into());
    }
    Ok(l[(i as usize) % l.len()].clone())
}
fn flatten_into(v: &[Value], out: &mut Vec<Value>, depth: usize) -> Result<(), String> {
    if depth > 128 {
        return Err("lists are nested too deeply".into());
    }
    for x in v {
        match x {
            Value::Array(inner) => flatten_into(inner, out, depth + 1)?,
            other => out.push(other.clone()),
        }
    }
    Ok(())
}
fn flatten(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(to_list(&a[0])?, &mut out, 0)?;
    Ok(Value::Array(out))
}
fn index(a: FuncArgs) -> Result<Value, String> {
    to_list(&a[0])?
        .iter()
        .position(|v| *v == a[1])
        .map(|i| Value::from(i as u64))
        .ok_or_else(|| "item not found".into())
}
fn keys(a: FuncArgs) -> Result<Value, String> {
    let mut k: Vec<&String> = to_map(&a[0])?.keys().collect();
    k.sort();
    Ok(Value::Array(
        k.into_iter().map(|s| Value::from(s.clone())).collect(),
    ))
}
fn values(a: FuncArgs) -> Result<Value, String> {
    let m = to_map(&a[0])?;
    let mut k: Vec<&String> = m.keys().collect();
    k.sort();
    Ok(Value::Array(
        k.into_iter().filter_map(|s| m.get(s).cloned()).collect(),
    ))
}
fn length(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(match &a[0] {
        Value::Array(l) => l.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        Value::Null => return Err("argument must not be null".into()),
        other => {
            return Err(format!(
                "a collection or string is required, found {}",
                crate::value::kind(other)
            ))
        }
    } as u64))
}
fn lookup(a: FuncArgs) -> Result<Value, String> {
    let m = to_map(&a[0])?;
    let k = to_str(&a[1])?;
    match (m.get(&k), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) if a.len() == 3 => Ok(d.clone()),
        (None, Some(_)) => Err("lookup takes a map, a key and an optional default".into()),
        (None, None) => Err(format!("the given key `{k}` does not exist in the map")),
    }
}
fn merge(a: FuncArgs) -> Result<Value, String> {
    let mut out = Map::new();
    for m in a.iter() {
        if m.is_null() {
            continue;
        }
        for (k, v) in to_map(m)? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}
fn range(a: FuncArgs) -> Result<Value, String> {
    let nums: Vec<f64> = a.iter().map(to_f64).collect::<Result<_, _>>()?;
    let (start, end, step) = match nums.as_slice() {
        [e] => (0.0, *e, 1.0),
        [s, e] => (*s, *e, if s <= e { 1.0 } else { -1.0 }),
        [s, e, st] => (*s, *e, *st),
        _ => return Err("range takes one, two or three numbers".into()),
    };
    if step == 0.0 {
        return Err("step must not be zero".into());
    }
    if (step > 0.0 && start > end) || (step < 0.0 && start < end) {
        return Err("step must go from start towards limit".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        if out.len() >= MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} elements"));
        }
        out.push(num(x));
        x += step;
    }
    Ok(Value::Array(out))
}
fn reverse(a: FuncArgs) -> Result<Value, String> {
    let mut l = to_list(&a[0])?.clone();
    l.reverse();
    Ok(Value::Array(l))
}
fn setunion(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for l in a.iter() {
        for v in to_list(l)? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    Ok(Value::Array(out))
}
fn setintersection(a: FuncArgs) -> Result<Value, String> {
    let first = to_list(&a[0])?;
    let rest: Vec<&Vec<Value>> = a[1..].iter().map(to_list).collect::<Result<_, _>>()?;
    let mut out: Vec<Value> = Vec::new();
    for v in first {
        if rest.iter().all(|l| l.contains(v)) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}
fn setproduct(a: FuncArgs) -> Result<Value, String> {
    if a.len() < 2 {
        return Err("at least two arguments are required".into());
    }
    let lists: Vec<&Vec<Value>> = a.iter().map(to_list).collect::<Result<_, _>>()?;
    let total = lists
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(l.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_ELEMENTS {
        return Err(format!("more than {MAX_ELEMENTS} elements"));
    }
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for l in lists {
        let mut next = Vec::new();
        for prefix in &out {
            for v in l {
                let mut p = prefix.clone();
                p.push(v.clone());
                next.push(p);
            }
        }
        out = next;
    }
    Ok(Value::Array(out.into_iter().map(Value::Array).collect()))
}
fn slice(a: FuncArgs) -> Result<Value, String> {
    let l = to_list(&a[0])?;
    let s = to_i64(&a[1])?;
    let e = to_i64(&a[2])?;
    if s < 0 || e < s || e as usize > l.len() {
        return Err(format!(
            "invalid slice indices `{s}` and `{e}` for a list of {} elements",
            l.len()
        ));
    }
    Ok(Value::Array(l[s as usize..e as usize].to_vec()))
}
fn sort(a: FuncArgs) -> Result<Value, String> {
    let mut l: Vec<String> = to_list(&a[0])?
        .iter()
        .map(to_str)
        .collect::<Result<_, _>>()?;
    l.sort();
    Ok(Value::Array(l.into_iter().map(Value::from).collect()))
}
fn sum(a: FuncArgs) -> Result<Value, String> {
    let l = to_list(&a[0])?;
    if l.is_empty() {
        return Err("cannot sum an empty list".into());
    }
    let mut t = 0.0;
    for v in l {
        t += to_f64(v)?;
    }
    Ok(num(t))
}
fn zipmap(a: FuncArgs) -> Result<Value, String> {
    let k = to_list(&a[0])?;
    let v = to_list(&a[1])?;
    if k.len() != v.len() {
        return Err(format!(
            "the keys list has {} elements but the values list has {}",
            k.len(),
            v.len()
        ));
    }
    let mut out = Map::new();
    for (k, v) in k.iter().zip(v) {
        out.insert(to_str(k)?, v.clone());
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            ("alltrue([true, true])", "true"),
            ("alltrue([\"true\", false])", "false"),
            ("anytrue([false, true])", "true"),
            (
                "chunklist([\"a\", \"b\", \"c\", \"d\", \"e\"], 2)",
                r#"[["a","b"],["c","d"],["e"]]"#,
            ),
            ("chunklist([\"a\", \"b\"], 1)", r#"[["a"],["b"]]"#),
            (r#"coalesce("a", "b")"#, r#""a""#),
            (r#"coalesce("", "b")"#, r#""b""#),
            ("coalesce(1, 2)", "1"),
            (r#"coalescelist(["a", "b"], ["c", "d"])"#, r#"["a","b"]"#),
            (r#"coalescelist([], ["c", "d"])"#, r#"["c","d"]"#),
            (r#"compact(["a", "", "b", "c"])"#, r#"["a","b","c"]"#),
            (r#"concat(["a", ""], ["b", "c"])"#, r#"["a","","b","c"]"#),
            (r#"contains(["a", "b", "c"], "a")"#, "true"),
            (r#"contains(["a", "b", "c"], "d")"#, "false"),
            (
                r#"distinct(["a", "b", "a", "c", "d", "b"])"#,
                r#"["a","b","c","d"]"#,
            ),
            (r#"element(["a", "b", "c"], 1)"#, r#""b""#),
            (r#"element(["a", "b", "c"], 3)"#, r#""a""#),
            (r#"flatten([["a", "b"], [], ["c"]])"#, r#"["a","b","c"]"#),
            (r#"flatten([[["a", "b"], []], ["c"]])"#, r#"["a","b","c"]"#),
            (r#"index(["a", "b", "c"], "b")"#, "1"),
            (r#"keys({a=1, c=2, d=3})"#, r#"["a","c","d"]"#),
            (r#"values({a=3, c=2, d=1})"#, "[3,2,1]"),
            ("length([])", "0"),
            (r#"length(["a", "b"])"#, "2"),
            (r#"length({"a" = "b"})"#, "1"),
            (r#"length("hello")"#, "5"),
            (r#"length("👾🕹️")"#, "3"),
            (r#"lookup({a="ay", b="bee"}, "a", "what?")"#, r#""ay""#),
            (r#"lookup({a="ay", b="bee"}, "c", "what?")"#, r#""what?""#),
            (
                r#"merge({a="b", c="d"}, {e="f", c="z"})"#,
                r#"{"a":"b","c":"z","e":"f"}"#,
            ),
            ("range(3)", "[0,1,2]"),
            ("range(1, 4)", "[1,2,3]"),
            ("range(1, 8, 2)", "[1,3,5,7]"),
            ("range(4, 1)", "[4,3,2]"),
            ("range(0)", "[]"),
            ("reverse([1, 2, 3])", "[3,2,1]"),
            (
                r#"setintersection(["a", "b"], ["b", "c"], ["b", "d"])"#,
                r#"["b"]"#,
            ),
            (
                r#"setunion(["a", "b"], ["b", "c"], ["d"])"#,
                r#"["a","b","c","d"]"#,
            ),
            (
                r#"setproduct(["development", "staging"], ["app1", "app2"])"#,
                r#"[["development","app1"],["development","app2"],["staging","app1"],["staging","app2"]]"#,
            ),
            (r#"slice(["a", "b", "c", "d"], 1, 3)"#, r#"["b","c"]"#),
            (r#"sort(["e", "d", "a", "x"])"#, r#"["a","d","e","x"]"#),
            ("sum([10, 13, 6, 4.5])", "33.5"),
            (r#"zipmap(["a", "b"], [1, 2])"#, r#"{"a":1,"b":2}"#),
        ]);
    }

    #[test]
    fn errors_are_explained() {
        assert!(eval(r#"lookup({a=1}, "b")"#)
            .unwrap_err()
            .contains("does not exist"));
        assert!(eval("element([], 0)").unwrap_err().contains("empty list"));
        assert!(eval("range(0, 1e9)").unwrap_err().contains("more than"));
        assert!(eval("length(5)")
            .unwrap_err()
            .contains("collection or string is required"));
    }
}
