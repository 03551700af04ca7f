//! String functions: `format`, `join`, `split`, `replace`, `regex`,
//! `lower`, `upper`, `trimspace`, `substr`…

use hcl::eval::FuncArgs;
use hcl::Value;

use super::{to_i64, to_list, to_str, Entry};

pub(super) const FUNCS: &[Entry] = &[
    ("chomp", 1, false, chomp),
    ("endswith", 2, false, endswith),
    ("format", 1, true, format),
    ("formatlist", 1, true, formatlist),
    ("indent", 2, false, indent),
    ("join", 1, true, join),
    ("lower", 1, false, lower),
    ("regex", 2, false, regex),
    ("regexall", 2, false, regexall),
    ("regex_replace", 3, false, regex_replace),
    ("replace", 3, false, replace),
    ("split", 2, false, split),
    ("startswith", 2, false, startswith),
    ("strcontains", 2, false, strcontains),
    ("strrev", 1, false, strrev),
    ("substr", 3, false, substr),
    ("title", 1, false, title),
    ("trim", 2, false, trim),
    ("trimprefix", 2, false, trimprefix),
    ("trimspace", 1, false, trimspace),
    ("trimsuffix", 2, false, trimsuffix),
    ("upper", 1, false, upper),
];

fn s(args: &FuncArgs, i: usize) -> Result<String, String> {
    to_str(&args[i])
}

fn chomp(a: FuncArgs) -> Result<Value, String> {
    let v = s(&a, 0)?;
    Ok(Value::from(v.trim_end_matches(['\n', '\r']).to_string()))
}
fn endswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0)?.ends_with(&s(&a, 1)?)))
}
fn startswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0)?.starts_with(&s(&a, 1)?)))
}
fn strcontains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0)?.contains(&s(&a, 1)?)))
}
fn lower(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(s(&a, 0)?.to_lowercase()))
}
fn upper(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(s(&a, 0)?.to_uppercase()))
}
fn strrev(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(s(&a, 0)?.chars().rev().collect::<String>()))
}
fn trimspace(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(s(&a, 0)?.trim().to_string()))
}
fn trim(a: FuncArgs) -> Result<Value, String> {
    let cut: Vec<char> = s(&a, 1)?.chars().collect();
    Ok(Value::from(
        s(&a, 0)?.trim_matches(|c| cut.contains(&c)).to_string(),
    ))
}
fn trimprefix(a: FuncArgs) -> Result<Value, String> {
    let v = s(&a, 0)?;
    let p = s(&a, 1)?;
    Ok(Value::from(
        v.strip_prefix(p.as_str()).unwrap_or(&v).to_string(),
    ))
}
fn trimsuffix(a: FuncArgs) -> Result<Value, String> {
    let v = s(&a, 0)?;
    let p = s(&a, 1)?;
    Ok(Value::from(
        v.strip_suffix(p.as_str()).unwrap_or(&v).to_string(),
    ))
}
fn title(a: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    let mut start = true;
    for c in s(&a, 0)?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::from(out))
}
fn indent(a: FuncArgs) -> Result<Value, String> {
    let n = to_i64(&a[0])?.clamp(0, 1 << 16) as usize;
    let pad = " ".repeat(n);
    let text = s(&a, 1)?;
    Ok(Value::from(text.replace('\n', &format!("\n{pad}"))))
}
fn join(a: FuncArgs) -> Result<Value, String> {
    let sep = s(&a, 0)?;
    if a.len() < 2 {
        return Err("at least one list is required".into());
    }
    let mut parts = Vec::new();
    for l in &a[1..] {
        for v in to_list(l)? {
            parts.push(to_str(v)?);
        }
    }
    Ok(Value::from(parts.join(&sep)))
}
fn split(a: FuncArgs) -> Result<Value, String> {
    let sep = s(&a, 0)?;
    let v = s(&a, 1)?;
    if v.is_empty() {
        return Ok(Value::Array(vec![Value::from("")]));
    }
    Ok(Value::Array(if sep.is_empty() {
        v.chars().map(|c| Value::from(c.to_string())).collect()
    } else {
        v.split(sep.as_str())
            .map(|p| Value::from(p.to_string()))
            .collect()
    }))
}
fn substr(a: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = s(&a, 0)?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = to_i64(&a[1])?;
    let mut length = to_i64(&a[2])?;
    if offset < 0 {
        offset += len;
    }
    if offset < 0 || offset > len {
        return Err("offset out of range".into());
    }
    if length < 0 || offset + length > len {
        length = len - offset;
    }
    Ok(Value::from(
        chars[offset as usize..(offset + length) as usize]
            .iter()
            .collect::<String>(),
    ))
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "invalid regular expression `{pattern}`: {}",
                e.to_string().lines().last().unwrap_or("")
            )
        })
}

fn captures(re: &regex::Regex, c: &regex::Captures<'_>) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Value::from(c.get(0).map(|m| m.as_str()).unwrap_or("").to_string());
    }
    if names.iter().all(|n| n.is_some()) {
        let mut m = hcl::Map::new();
        for n in names.iter().flatten() {
            m.insert(
                n.to_string(),
                c.name(n)
                    .map(|x| Value::from(x.as_str().to_string()))
                    .unwrap_or(Value::Null),
            );
        }
        return Value::Object(m);
    }
    Value::Array(
        (1..c.len())
            .map(|i| {
                c.get(i)
                    .map(|x| Value::from(x.as_str().to_string()))
                    .unwrap_or(Value::Null)
            })
            .collect(),
    )
}

fn regex(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 0)?)?;
    let text = s(&a, 1)?;
    match re.captures(&text) {
        Some(c) => Ok(captures(&re, &c)),
        None => Err("pattern did not match any part of the given string".into()),
    }
}
fn regexall(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 0)?)?;
    let text = s(&a, 1)?;
    Ok(Value::Array(
        re.captures_iter(&text).map(|c| captures(&re, &c)).collect(),
    ))
}
fn regex_replace(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 1)?)?;
    Ok(Value::from(
        re.replace_all(&s(&a, 0)?, s(&a, 2)?.as_str()).into_owned(),
    ))
}
fn replace(a: FuncArgs) -> Result<Value, String> {
    let text = s(&a, 0)?;
    let sub = s(&a, 1)?;
    let rep = s(&a, 2)?;
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = compile(&sub[1..sub.len() - 1])?;
        return Ok(Value::from(
            re.replace_all(&text, rep.as_str()).into_owned(),
        ));
    }
    if sub.is_empty() {
        return Ok(Value::from(text));
    }
    Ok(Value::from(text.replace(&sub, &rep)))
}

fn format(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(super::printf::format(&s(&a, 0)?, &a[1..])?))
}

fn formatlist(a: FuncArgs) -> Result<Value, String> {
    let f = s(&a, 0)?;
    let rest = &a[1..];
    let mut n: Option<usize> = None;
    for v in rest {
        if let Value::Array(l) = v {
            match n {
                Some(m) if m != l.len() => {
                    return Err("all list arguments must have the same length".into())
                }
                _ => n = Some(l.len()),
            }
        }
    }
    let n = n.unwrap_or(1);
    let mut out = Vec::new();
    for i in 0..n {
        let row: Vec<Value> = rest
            .iter()
            .map(|v| match v {
                Value::Array(l) => l[i].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(Value::from(
            super::printf::format(&f, &row)
                .map_err(|e| format!("error on format iteration {i}: {e}"))?,
        ));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            (r#"chomp("hello\n")"#, r#""hello""#),
            (r#"chomp("hello\r\n\n")"#, r#""hello""#),
            (r#"endswith("hello world", "world")"#, "true"),
            (r#"startswith("hello world", "hello")"#, "true"),
            (r#"strcontains("hello world", "wor")"#, "true"),
            (r#"format("Hello, %s!", "Ander")"#, r#""Hello, Ander!""#),
            (
                r#"format("There are %d lights", 4)"#,
                r#""There are 4 lights""#,
            ),
            (r#"format("%.2f", 3.14159)"#, r#""3.14""#),
            (
                r#"format("%5d|%-5s|%05d", 42, "ab", -7)"#,
                r#""   42|ab   |-0007""#,
            ),
            (
                r#"format("%q %t %v %#v %%", "x", true, 5, "y")"#,
                r#""\"x\" true 5 \"y\" %""#,
            ),
            (
                r#"formatlist("Hello, %s!", ["Valentina", "Ander"])"#,
                r#"["Hello, Valentina!","Hello, Ander!"]"#,
            ),
            (
                r#"formatlist("%s, %s!", "Salutations", ["Valentina", "Ander"])"#,
                r#"["Salutations, Valentina!","Salutations, Ander!"]"#,
            ),
            (
                "indent(2, \"[\\n  foo,\\n  bar,\\n]\\n\")",
                r#""[\n    foo,\n    bar,\n  ]\n  ""#,
            ),
            (r#"join(", ", ["foo", "bar", "baz"])"#, r#""foo, bar, baz""#),
            (r#"join(", ", ["foo"])"#, r#""foo""#),
            (r#"lower("HELLO")"#, r#""hello""#),
            (r#"upper("hello")"#, r#""HELLO""#),
            (r#"upper(5)"#, r#""5""#),
            (
                r#"regex("[a-z]+", "53453453.345345aaabbbccc23454")"#,
                r#""aaabbbccc""#,
            ),
            (
                r#"regex("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)", "2019-02-01")"#,
                r#"["2019","02","01"]"#,
            ),
            (
                r#"regex("^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?", "https://terraform.io/docs/")"#,
                r#"{"scheme":"https","authority":"terraform.io"}"#,
            ),
            (
                r#"regexall("[a-z]+", "1234abcd5678efgh9")"#,
                r#"["abcd","efgh"]"#,
            ),
            (r#"length(regexall("[a-z]+", "1234abcd5678efgh9"))"#, "2"),
            (
                r#"regex_replace("hello world", "o", "0")"#,
                r#""hell0 w0rld""#,
            ),
            (
                r#"regex_replace("a1b22", "([a-z])(\\d+)", "$2$1")"#,
                r#""1a22b""#,
            ),
            (r#"replace("1 + 2 + 3", "+", "-")"#, r#""1 - 2 - 3""#),
            (
                r#"replace("hello world", "/w.*d/", "everybody")"#,
                r#""hello everybody""#,
            ),
            (r#"split(",", "foo,bar,baz")"#, r#"["foo","bar","baz"]"#),
            (r#"split(",", "foo")"#, r#"["foo"]"#),
            (r#"split(",", "")"#, r#"[""]"#),
            (r#"strrev("hello")"#, r#""olleh""#),
            (r#"substr("hello world", 1, 4)"#, r#""ello""#),
            (r#"substr("🤔🤷", 0, 1)"#, r#""🤔""#),
            (r#"substr("hello world", -5, -1)"#, r#""world""#),
            (r#"substr("hello world", 6, 10)"#, r#""world""#),
            (r#"title("hello world")"#, r#""Hello World""#),
            (r#"trim("?!hello?!", "!?")"#, r#""hello""#),
            (r#"trimprefix("helloworld", "hello")"#, r#""world""#),
            (r#"trimprefix("helloworld", "cat")"#, r#""helloworld""#),
            (r#"trimsuffix("helloworld", "world")"#, r#""hello""#),
            ("trimspace(\"  hello\\n\\n\")", r#""hello""#),
        ]);
    }

    #[test]
    fn errors_are_explained() {
        assert!(eval(r#"regex("[", "x")"#)
            .unwrap_err()
            .contains("invalid regular expression"));
        assert!(eval(r#"regex("z", "x")"#)
            .unwrap_err()
            .contains("did not match"));
        assert!(eval(r#"format("%d")"#)
            .unwrap_err()
            .contains("not enough arguments"));
        assert!(eval(r#"substr("abc", 9, 1)"#)
            .unwrap_err()
            .contains("offset out of range"));
        assert!(eval(r#"upper(["a"])"#)
            .unwrap_err()
            .contains("a string is required, found a list"));
    }
}
