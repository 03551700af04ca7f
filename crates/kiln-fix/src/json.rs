//! `packer fix`'s output format.
//!
//! Packer decodes the template into Go maps, so its output has:
//!
//! * object keys sorted bytewise (Go's `encoding/json` sorts map keys);
//! * two-space indentation (`json.Indent(.., "", "  ")`), `{}` and `[]` for
//!   empty containers, `": "` between a key and its value;
//! * every number printed as a Go `float64` (`1.0` → `1`, `1e21` → `1e+21`,
//!   `12345678901234567890` → `12345678901234567000`);
//! * Go's string escaping with HTML escaping on: `&` is `\u0026`, control
//!   characters other than `\n`, `\r` and `\t` are `\u00XX`, and U+2028 and
//!   U+2029 are escaped. Packer then turns every `\u003c` and `\u003e` in the
//!   text back into `<` and `>`;
//! * a newline after the JSON and another one from printing it.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Formats `v` exactly as `packer fix` prints a fixed template on standard
/// output, trailing blank line included: the text ends in `"}\n\n"`, so
/// write it with `print!`, not `println!`.
pub fn to_packer_json(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    // Packer replaces the escapes textually, wherever they appear.
    let mut out = out.replace("\\u003c", "<").replace("\\u003e", ">");
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, value, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

/// Go's `encoding/json` string encoding with HTML escaping (Go 1.15).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as Go prints the `float64` it decodes to.
fn go_number(n: &Number) -> String {
    // `as_f64` is `Some` for every number without `arbitrary_precision`;
    // integers round to the nearest float64 as Go's parser does.
    go_float(n.as_f64().unwrap_or(0.0))
}

/// Go's `encoding/json` float64 formatting: the shortest representation that
/// round-trips, in exponent form only below 1e-6 or from 1e21 on.
pub(crate) fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if exp.starts_with('-') => format!("{mantissa}e{exp}"),
            Some((mantissa, exp)) => format!("{mantissa}e+{exp}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1000.0), "1000");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(1e-7), "1e-7");
        assert_eq!(go_float(1.5e-10), "1.5e-10");
        assert_eq!(go_float(0.000001), "0.000001");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e20), "100000000000000000000");
        assert_eq!(go_float(1.23456789e308), "1.23456789e+308");
        assert_eq!(go_float(12345678901234567890.0), "12345678901234567000");
        assert_eq!(go_float(0.1), "0.1");
    }

    #[test]
    fn output_is_sorted_indented_and_escaped() {
        let v = json!({"z": [], "a": {"<b>": "x & y\u{1}\u{8}\u{7f}\u{2028}", "e": {}}, "n": [1.5, null, true]});
        assert_eq!(
            to_packer_json(&v),
            "{\n  \"a\": {\n    \"<b>\": \"x \\u0026 y\\u0001\\u0008\u{7f}\\u2028\",\n    \"e\": {}\n  },\n  \"n\": [\n    1.5,\n    null,\n    true\n  ],\n  \"z\": []\n}\n\n"
        );
    }

    #[test]
    fn html_escapes_are_undone_textually() {
        // A literal backslash followed by `u003c` becomes `\<`, as in Packer.
        assert_eq!(
            to_packer_json(&json!({"f": "\\u003c"})),
            "{\n  \"f\": \"\\<\"\n}\n\n"
        );
    }
}
