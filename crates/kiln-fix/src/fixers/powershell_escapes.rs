//! `powershell-escapes`: in `powershell` provisioners, removes PowerShell's
//! backtick escapes (`` `$ ``, `` `" ``, ``` `` ```, `` `' ``) from
//! `elevated_user`, `elevated_password` and each of `environment_vars`.
//!
//! As in Packer, `environment_vars` must be a list of strings (a `null`
//! element reads as `""`, a `null` list as `[]`); otherwise that
//! provisioner is left entirely unchanged. A non-string `elevated_user` or
//! `elevated_password` is an error (Packer crashes). The provisioners are
//! decoded weakly, so a non-list `provisioners` becomes a one-element list.

use serde_json::Value;

use crate::decode::{field_key, root, strict_object, weak_list, Object};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "powershell-escapes";
pub(crate) const SYNOPSIS: &str =
    "Removes PowerShell escapes from user env vars and elevated username and password strings";

/// Go's `strings.NewReplacer("`$", "$", "`\"", "\"", "``", "`", "`'", "'")`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if let Some(&next) = chars.peek() {
                if matches!(next, '$' | '"' | '`' | '\'') {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Strict `Decode` into `[]string`; `None` when that fails.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Null => Some(String::new()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn unescape_field(p: &mut Object, key: &str, path: &str) -> Result<(), FixError> {
    match p.get_mut(key) {
        None => Ok(()),
        Some(Value::String(s)) => {
            *s = unescape(s);
            Ok(())
        }
        Some(other) => Err(FixError::WrongType {
            fixer: NAME,
            path: format!("{path}.{key}"),
            expected: "a string",
            got: kind(other),
        }),
    }
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let key = field_key(&root, "Provisioners");
    let mut provisioners = key
        .as_ref()
        .and_then(|k| weak_list(root.get(k)))
        .unwrap_or_default();
    for (i, raw) in provisioners.iter_mut().enumerate() {
        let Ok(Some(mut p)) = strict_object(raw) else {
            continue;
        };
        if p.get("type").and_then(Value::as_str) != Some("powershell") {
            continue;
        }
        let path = format!("{}[{i}]", key.as_deref().unwrap_or("provisioners"));
        unescape_field(&mut p, "elevated_user", &path)?;
        unescape_field(&mut p, "elevated_password", &path)?;
        if let Some(raw_vars) = p.get("environment_vars") {
            let Some(vars) = strings(raw_vars) else {
                continue;
            };
            let vars = vars.iter().map(|v| Value::String(unescape(v))).collect();
            p.insert("environment_vars".into(), Value::Array(vars));
        }
        *raw = Value::Object(p);
    }
    if !provisioners.is_empty() {
        root.insert("provisioners".into(), Value::Array(provisioners));
    }
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn unescapes_like_go_replacer() {
        assert_eq!(super::unescape("a`$b`\"c```'d`x`"), "a$b\"c`'d`x`");
        assert_eq!(super::unescape("```$"), "`$");
    }

    #[test]
    fn unescapes_powershell_fields() {
        let out = super::fix(json!({"provisioners": [
            {"type": "powershell", "elevated_user": "a`$", "elevated_password": "p``", "environment_vars": ["A=`$x", null]},
            {"type": "powershell", "elevated_user": "a`$", "environment_vars": "A=1"},
            {"type": "powershell", "environment_vars": null},
            {"type": "shell", "elevated_user": "a`$"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"provisioners": [
                {"type": "powershell", "elevated_user": "a$", "elevated_password": "p`", "environment_vars": ["A=$x", ""]},
                {"type": "powershell", "elevated_user": "a`$", "environment_vars": "A=1"},
                {"type": "powershell", "environment_vars": []},
                {"type": "shell", "elevated_user": "a`$"}
            ]})
        );
    }

    #[test]
    fn rejects_non_string_user() {
        let err =
            super::fix(json!({"provisioners": [{"type": "powershell", "elevated_user": null}]}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `powershell-escapes`: `provisioners[0].elevated_user` must be a string, got null"
        );
    }
}
