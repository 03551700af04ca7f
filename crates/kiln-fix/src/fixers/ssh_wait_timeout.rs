//! `ssh-wait-timeout`: in every builder, a string `ssh_wait_timeout`
//! becomes `ssh_timeout`; when `ssh_timeout` is already set,
//! `ssh_wait_timeout` is dropped.

use serde_json::Value;

use crate::decode::{field_key, rename, root, strict_object, weak_list};
use crate::FixError;

pub(crate) const NAME: &str = "ssh-wait-timeout";
pub(crate) const SYNOPSIS: &str = r#"Replaces "ssh_wait_timeout" with "ssh_timeout""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let mut builders = field_key(&root, "Builders")
        .and_then(|k| weak_list(root.get(&k)))
        .unwrap_or_default();
    for raw in builders.iter_mut() {
        let Ok(Some(mut b)) = strict_object(raw) else {
            continue;
        };
        if b.contains_key("ssh_timeout") {
            b.shift_remove("ssh_wait_timeout");
        } else if b.get("ssh_wait_timeout").is_some_and(Value::is_string) {
            rename(&mut b, "ssh_wait_timeout", "ssh_timeout");
        } else {
            continue;
        }
        *raw = Value::Object(b);
    }
    if !builders.is_empty() {
        root.insert("builders".into(), Value::Array(builders));
    }
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_wait_timeout() {
        let out = super::fix(json!({"builders": [
            {"type": "a", "ssh_wait_timeout": "10m"},
            {"type": "b", "ssh_wait_timeout": "10m", "ssh_timeout": "5m"},
            {"type": "c", "ssh_wait_timeout": 5},
            null
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "a", "ssh_timeout": "10m"},
                {"type": "b", "ssh_timeout": "5m"},
                {"type": "c", "ssh_wait_timeout": 5},
                null
            ]})
        );
    }
}
