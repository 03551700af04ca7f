//! Encoding, hash and UUID functions: `jsonencode`, `jsondecode`,
//! `base64encode`, `base64decode`, `urlencode`, `textencodebase64`,
//! `textdecodebase64`, `md5`, `sha1`, `sha256`, `sha512`, `uuidv4`.

use base64::Engine;
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{to_str, Entry};
use crate::value::{from_json, to_json};

pub(super) const FUNCS: &[Entry] = &[
    ("base64decode", 1, false, base64decode),
    ("base64encode", 1, false, base64encode),
    ("jsondecode", 1, false, jsondecode),
    ("jsonencode", 1, false, jsonencode),
    ("md5", 1, false, md5),
    ("sha1", 1, false, sha1),
    ("sha256", 1, false, sha256),
    ("sha512", 1, false, sha512),
    ("textdecodebase64", 2, false, textdecodebase64),
    ("textencodebase64", 2, false, textencodebase64),
    ("urlencode", 1, false, urlencode),
    ("uuidv4", 0, false, uuidv4),
];

fn base64encode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(to_str(&a[0])?),
    ))
}
fn base64decode(a: FuncArgs) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(to_str(&a[0])?)
        .map_err(|e| format!("invalid base64 data: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::from)
        .map_err(|_| "the decoded data is not valid UTF-8".into())
}
fn check_encoding(enc: &str) -> Result<(), String> {
    match enc.to_ascii_uppercase().replace('-', "").as_str() {
        "UTF8" => Ok(()),
        _ => Err(format!(
            "unsupported encoding `{enc}`; kiln supports `UTF-8`"
        )),
    }
}
fn textencodebase64(a: FuncArgs) -> Result<Value, String> {
    check_encoding(&to_str(&a[1])?)?;
    base64encode(a)
}
fn textdecodebase64(a: FuncArgs) -> Result<Value, String> {
    check_encoding(&to_str(&a[1])?)?;
    base64decode(a)
}
/// As cty's `jsonencode` (Go's `encoding/json`): compact, with `<`, `>`,
/// `&`, U+2028 and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`,
/// `\u2028`, `\u2029`. They can only occur inside strings, where the escape
/// means the same character.
fn jsonencode(a: FuncArgs) -> Result<Value, String> {
    let text = to_json(&a[0]).to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(Value::from(out))
}
fn jsondecode(a: FuncArgs) -> Result<Value, String> {
    let s = to_str(&a[0])?;
    serde_json::from_str::<serde_json::Value>(&s)
        .map(|v| from_json(&v))
        .map_err(|e| format!("invalid JSON: {e}"))
}
fn urlencode(a: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    for b in to_str(&a[0])?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::from(out))
}
fn md5(a: FuncArgs) -> Result<Value, String> {
    use md5::Digest;
    Ok(Value::from(hex::encode(md5::Md5::digest(
        to_str(&a[0])?.as_bytes(),
    ))))
}
fn sha1(a: FuncArgs) -> Result<Value, String> {
    use sha1::Digest;
    Ok(Value::from(hex::encode(sha1::Sha1::digest(
        to_str(&a[0])?.as_bytes(),
    ))))
}
fn sha256(a: FuncArgs) -> Result<Value, String> {
    use sha2::Digest;
    Ok(Value::from(hex::encode(sha2::Sha256::digest(
        to_str(&a[0])?.as_bytes(),
    ))))
}
fn sha512(a: FuncArgs) -> Result<Value, String> {
    use sha2::Digest;
    Ok(Value::from(hex::encode(sha2::Sha512::digest(
        to_str(&a[0])?.as_bytes(),
    ))))
}
fn uuidv4(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(uuid::Uuid::new_v4().to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, eval};

    #[test]
    fn documented_examples() {
        check(&[
            (r#"base64encode("Hello World")"#, r#""SGVsbG8gV29ybGQ=""#),
            (r#"base64decode("SGVsbG8gV29ybGQ=")"#, r#""Hello World""#),
            (
                r#"textencodebase64("Hello World", "UTF-8")"#,
                r#""SGVsbG8gV29ybGQ=""#,
            ),
            (
                r#"textdecodebase64("SGVsbG8gV29ybGQ=", "UTF-8")"#,
                r#""Hello World""#,
            ),
            (
                r#"jsonencode({"hello"="world"})"#,
                r#""{\"hello\":\"world\"}""#,
            ),
            (
                r#"jsondecode("{\"hello\": \"world\"}")"#,
                r#"{"hello":"world"}"#,
            ),
            (r#"jsondecode("true")"#, "true"),
            (r#"urlencode("Hello World!")"#, r#""Hello+World%21""#),
            (r#"urlencode("☃")"#, r#""%E2%98%83""#),
            (
                r#"md5("hello world")"#,
                r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#,
            ),
            (
                r#"sha1("hello world")"#,
                r#""2aae6c35c94fcfb415dbe95f408b9ce91ee846ed""#,
            ),
            (
                r#"sha256("hello world")"#,
                r#""b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9""#,
            ),
            (
                r#"sha512("hello world")"#,
                r#""309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f""#,
            ),
            ("length(uuidv4())", "36"),
        ]);
    }

    #[test]
    fn jsonencode_escapes_html_characters_as_go_does() {
        // Go's json.Marshal (cty's jsonencode, so Packer's) escapes these;
        // `jsondecode` reads them back.
        check(&[
            (
                r#"jsonencode({"cmd"="a < b && c > d"})"#,
                r#""{\"cmd\":\"a \\u003c b \\u0026\\u0026 c \\u003e d\"}""#,
            ),
            (
                r#"jsonencode(["\u2028\u2029"])"#,
                r#""[\"\\u2028\\u2029\"]""#,
            ),
            (r#"jsondecode(jsonencode("<&>"))"#, r#""<&>""#),
        ]);
    }

    #[test]
    fn errors_are_explained() {
        assert!(eval(r#"base64decode("%%%")"#)
            .unwrap_err()
            .contains("invalid base64"));
        assert!(eval(r#"jsondecode("{")"#)
            .unwrap_err()
            .contains("invalid JSON"));
        assert!(eval(r#"textencodebase64("x", "UTF-16LE")"#)
            .unwrap_err()
            .contains("unsupported encoding"));
    }
}
