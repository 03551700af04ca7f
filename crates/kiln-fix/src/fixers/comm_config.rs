//! `comm-config`: in `virtualbox*` builders, `ssh_host_port_min`,
//! `ssh_host_port_max` and a boolean `ssh_skip_nat_mapping` lose their
//! `ssh_` prefix; when the unprefixed key is already set, the prefixed one
//! is dropped.
//!
//! This fixer needs every builder to be an object with a string `type`:
//! anything else is an error (Packer crashes).

use serde_json::Value;

use crate::decode::{field_key, rename, root, strict_object, weak_list, Object};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "comm-config";
pub(crate) const SYNOPSIS: &str = "Remove ssh prefixes from communicator port forwarding configuration (host_port_min, host_port_max, skip_nat_mapping)";

fn unprefix(b: &mut Object, new: &str, only_bool: bool) {
    let old = format!("ssh_{new}");
    if b.contains_key(new) {
        b.shift_remove(&old);
    } else if b.get(&old).is_some_and(|v| !only_bool || v.is_boolean()) {
        rename(b, &old, new);
    }
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let key = field_key(&root, "Builders");
    let mut builders = key
        .as_ref()
        .and_then(|k| weak_list(root.get(k)))
        .unwrap_or_default();
    for (i, raw) in builders.iter_mut().enumerate() {
        let Ok(b) = strict_object(raw) else { continue };
        let path = format!("{}[{i}].type", key.as_deref().unwrap_or("builders"));
        let mut b = b.unwrap_or_default();
        let is_virtualbox = match b.get("type") {
            Some(Value::String(t)) => t.starts_with("virtualbox"),
            None => {
                return Err(FixError::Missing {
                    fixer: NAME,
                    path,
                    expected: "a string",
                })
            }
            Some(other) => {
                return Err(FixError::WrongType {
                    fixer: NAME,
                    path,
                    expected: "a string",
                    got: kind(other),
                })
            }
        };
        if !is_virtualbox {
            continue;
        }
        unprefix(&mut b, "host_port_min", false);
        unprefix(&mut b, "host_port_max", false);
        unprefix(&mut b, "skip_nat_mapping", true);
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
    fn removes_ssh_prefix() {
        let out = super::fix(json!({"builders": [
            {"type": "virtualbox-iso", "ssh_host_port_min": 2222, "ssh_host_port_max": 4444, "host_port_max": 1, "ssh_skip_nat_mapping": true},
            {"type": "virtualbox-ovf", "ssh_skip_nat_mapping": "yes"},
            {"type": "qemu", "ssh_host_port_min": 2222}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "virtualbox-iso", "host_port_min": 2222, "host_port_max": 1, "skip_nat_mapping": true},
                {"type": "virtualbox-ovf", "ssh_skip_nat_mapping": "yes"},
                {"type": "qemu", "ssh_host_port_min": 2222}
            ]})
        );
    }

    #[test]
    fn needs_builder_types() {
        let err = super::fix(json!({"builders": [{"type": "qemu"}, {"name": "x"}]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fixer `comm-config`: `builders[1].type` is missing, expected a string"
        );
        let err = super::fix(json!({"builders": [null]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fixer `comm-config`: `builders[0].type` is missing, expected a string"
        );
        let err = super::fix(json!({"builders": [{"type": 1}]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fixer `comm-config`: `builders[0].type` must be a string, got a number"
        );
    }
}
