//! `sshdisableagent`: in every builder, a boolean `ssh_disable_agent`
//! becomes `ssh_disable_agent_forwarding`, unless that is already set, in
//! which case `ssh_disable_agent` is just dropped.

use serde_json::Value;

use crate::decode::{fix_builders, rename};
use crate::FixError;

pub(crate) const NAME: &str = "sshdisableagent";
pub(crate) const SYNOPSIS: &str =
    r#"Updates builders using "ssh_disable_agent" to use "ssh_disable_agent_forwarding""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if !builder
            .get("ssh_disable_agent")
            .is_some_and(Value::is_boolean)
        {
            return Ok(());
        }
        if builder.contains_key("ssh_disable_agent_forwarding") {
            builder.shift_remove("ssh_disable_agent");
        } else {
            rename(builder, "ssh_disable_agent", "ssh_disable_agent_forwarding");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_disable_agent() {
        let out = super::fix(json!({"builders": [
            {"type": "a", "ssh_disable_agent": true},
            {"type": "b", "ssh_disable_agent": true, "ssh_disable_agent_forwarding": false},
            {"type": "c", "ssh_disable_agent": "true"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "a", "ssh_disable_agent_forwarding": true},
                {"type": "b", "ssh_disable_agent_forwarding": false},
                {"type": "c", "ssh_disable_agent": "true"}
            ]})
        );
    }
}
