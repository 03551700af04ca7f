//! `amazon-private-ip`: in `amazon-*` builders without `ssh_interface`,
//! `ssh_private_ip` becomes `"ssh_interface": "private_ip"` when true and
//! `"ssh_interface": "public_ip"` when false. A string is read as Go's
//! `strconv.ParseBool` reads it (`"1"`, `"t"`, `"TRUE"`, `"false"`, ...).
//!
//! A string that is not a boolean is an error, as in Packer. A value that
//! is neither a boolean nor a string is an error too (Packer crashes).

use serde_json::Value;

use crate::decode::{fix_builders, parse_go_bool, replace, type_of};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "amazon-private-ip";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces `"ssh_private_ip": true` in amazon builders with `"ssh_interface": "private_ip"`"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, path| {
        if !type_of(builder).is_some_and(|t| t.starts_with("amazon-"))
            || builder.contains_key("ssh_interface")
        {
            return Ok(());
        }
        let private = match builder.get("ssh_private_ip") {
            None => return Ok(()),
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_go_bool(s).ok_or_else(|| FixError::NotABoolean {
                fixer: NAME,
                path: format!("{path}.ssh_private_ip"),
                value: s.clone(),
            })?,
            Some(other) => {
                return Err(FixError::WrongType {
                    fixer: NAME,
                    path: format!("{path}.ssh_private_ip"),
                    expected: "a boolean or a string",
                    got: kind(other),
                })
            }
        };
        let interface = if private { "private_ip" } else { "public_ip" };
        replace(builder, "ssh_private_ip", "ssh_interface", interface.into());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn converts_private_ip() {
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebs", "ssh_private_ip": true},
            {"type": "amazon-ebs", "ssh_private_ip": "f"},
            {"type": "amazon-ebs", "ssh_private_ip": true, "ssh_interface": "x"},
            {"type": "qemu", "ssh_private_ip": 3}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "amazon-ebs", "ssh_interface": "private_ip"},
                {"type": "amazon-ebs", "ssh_interface": "public_ip"},
                {"type": "amazon-ebs", "ssh_private_ip": true, "ssh_interface": "x"},
                {"type": "qemu", "ssh_private_ip": 3}
            ]})
        );
    }

    #[test]
    fn rejects_non_booleans() {
        let err =
            super::fix(json!({"builders": [{"type": "amazon-ebs", "ssh_private_ip": "maybe"}]}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `amazon-private-ip`: `builders[0].ssh_private_ip` is not a boolean: `maybe`"
        );
        let err = super::fix(json!({"builders": [{"type": "amazon-ebs", "ssh_private_ip": null}]}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `amazon-private-ip`: `builders[0].ssh_private_ip` must be a boolean or a string, got null"
        );
    }
}
