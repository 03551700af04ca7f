//! The `json` attributes of `chef-solo` and `chef-client`, as Packer makes
//! them: the user variables are rendered into the JSON once more at prepare
//! time with their quotes and backslashes escaped (Packer's
//! `processJsonUserVars`), and the node file (`node.json`,
//! `first-boot.json`) is written as Go's `json.MarshalIndent` writes it:
//! keys sorted, two-space indent, every number a float64, `<`, `>`, `&`
//! escaped. Pure; holds nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_sdk::interpolate::{self, Context};
use serde_json::{Map, Value};

/// Packer's `processJsonUserVars`: `json` marshalled, rendered with the
/// user variables made JSON-safe, and parsed back.
pub(crate) fn process_user_vars(
    json: &Map<String, Value>,
    ctx: &Context,
) -> Result<Map<String, Value>, String> {
    let mut text = String::new();
    write_value(&Value::Object(json.clone()), None, 0, &mut text);
    let mut ctx = ctx.clone();
    ctx.data.clear();
    ctx.user_variables = Arc::new(
        ctx.user_variables
            .iter()
            .map(|(k, v)| (k.clone(), v.replace('\\', r"\\").replace('"', "\\\"")))
            .collect::<BTreeMap<_, _>>(),
    );
    let rendered = interpolate::render(&text, &ctx).map_err(|e| e.to_string())?;
    match serde_json::from_str::<Value>(&rendered) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("expected a JSON object, found `{other}`")),
        Err(e) => Err(e.to_string()),
    }
}

/// The node attribute file: `json` with `run_list` set when it is not
/// empty, as Go's `json.MarshalIndent(v, "", "  ")` writes it.
pub(crate) fn node_file(json: &Map<String, Value>, run_list: &[String]) -> String {
    let mut data = json.clone();
    if !run_list.is_empty() {
        data.insert(
            "run_list".to_string(),
            Value::Array(run_list.iter().cloned().map(Value::String).collect()),
        );
    }
    let mut out = String::new();
    write_value(&Value::Object(data), Some("  "), 0, &mut out);
    out
}

/// Writes `v` as Go's encoding/json does, indented by `indent` per level
/// when given (MarshalIndent), compact otherwise (Marshal).
fn write_value(v: &Value, indent: Option<&str>, level: usize, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        if let Some(unit) = indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(unit);
            }
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_value(item, indent, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(&map[k], indent, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

/// A string as Go's encoding/json quotes it (HTML-safe).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float64 as Go's encoding/json writes it: the shortest form, without
/// exponent from 1e-6 to 1e21, else with one (`1e+21`, `1e-7`).
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn floats_follow_go() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(-0.25), "-0.25");
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(1e20), "100000000000000000000");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_float(0.000001), "0.000001");
        assert_eq!(go_float(12345678901234567890.0), "12345678901234567000");
    }

    #[test]
    fn the_node_file_is_go_marshal_indent() {
        let j = obj(json!({
            "zeta": {"b": [1, 2.0, "x"], "a": {}},
            "alpha": "<&>\"\\\u{1}\n",
            "empty": [],
            "run_list": ["ignored"],
            "n": null,
            "t": true
        }));
        assert_eq!(
            node_file(&j, &["recipe[a]".into(), "role[b]".into()]),
            "{\n  \"alpha\": \"\\u003c\\u0026\\u003e\\\"\\\\\\u0001\\n\",\n  \"empty\": [],\n  \"n\": null,\n  \"run_list\": [\n    \"recipe[a]\",\n    \"role[b]\"\n  ],\n  \"t\": true,\n  \"zeta\": {\n    \"a\": {},\n    \"b\": [\n      1,\n      2,\n      \"x\"\n    ]\n  }\n}"
        );
        // An empty run_list leaves the JSON's own.
        assert_eq!(
            node_file(&obj(json!({"run_list": ["x"]})), &[]),
            "{\n  \"run_list\": [\n    \"x\"\n  ]\n}"
        );
        assert_eq!(node_file(&Map::new(), &[]), "{}");
    }

    #[test]
    fn user_variables_are_rendered_json_safe() {
        let mut vars = BTreeMap::new();
        vars.insert("q".to_string(), r#"a "quoted" \ value"#.to_string());
        let ctx = Context {
            user_variables: Arc::new(vars),
            ..Default::default()
        };
        // A value that still holds a template after the prepare-time
        // rendering is rendered again, its variables escaped.
        let j = obj(json!({"a": "{{user `q`}}", "n": 2, "nested": {"k": ["{{user `q`}}"]}}));
        let out = process_user_vars(&j, &ctx).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"a": r#"a "quoted" \ value"#, "n": 2, "nested": {"k": [r#"a "quoted" \ value"#]}})
        );
        let bad = obj(json!({"a": "{{user `q`"}));
        assert!(process_user_vars(&bad, &ctx).is_err());
    }
}
