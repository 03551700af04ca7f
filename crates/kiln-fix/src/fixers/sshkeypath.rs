//! `sshkeypath`: in every builder, a string `ssh_key_path` becomes
//! `ssh_private_key_file`, unless that is already set, in which case
//! `ssh_key_path` is just dropped.

use serde_json::Value;

use crate::decode::{fix_builders, rename};
use crate::FixError;

pub(crate) const NAME: &str = "sshkeypath";
pub(crate) const SYNOPSIS: &str =
    r#"Updates builders using "ssh_key_path" to use "ssh_private_key_file""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if !builder.get("ssh_key_path").is_some_and(Value::is_string) {
            return Ok(());
        }
        if builder.contains_key("ssh_private_key_file") {
            builder.shift_remove("ssh_key_path");
        } else {
            rename(builder, "ssh_key_path", "ssh_private_key_file");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_key_path() {
        let out = super::fix(json!({"builders": [
            {"type": "a", "ssh_key_path": "k"},
            {"type": "b", "ssh_key_path": "k", "ssh_private_key_file": "f"},
            {"type": "c", "ssh_key_path": 1}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "a", "ssh_private_key_file": "k"},
                {"type": "b", "ssh_private_key_file": "f"},
                {"type": "c", "ssh_key_path": 1}
            ]})
        );
    }
}
