//! `virtualbox-gaattach`: in `virtualbox` builders, a boolean
//! `guest_additions_attach` becomes `guest_additions_mode`: `"attach"` for
//! true, `"upload"` for false.

use serde_json::Value;

use crate::decode::{fix_builders, replace, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "virtualbox-gaattach";
pub(crate) const SYNOPSIS: &str =
    r#"Updates VirtualBox builders using "guest_additions_attach" to use "guest_additions_mode""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) != Some("virtualbox") {
            return Ok(());
        }
        if let Some(attach) = builder
            .get("guest_additions_attach")
            .and_then(Value::as_bool)
        {
            let mode = if attach { "attach" } else { "upload" };
            replace(
                builder,
                "guest_additions_attach",
                "guest_additions_mode",
                mode.into(),
            );
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn converts_attach_flag() {
        let out = super::fix(json!({"builders": [
            {"type": "virtualbox", "guest_additions_attach": true},
            {"type": "virtualbox", "guest_additions_attach": false},
            {"type": "virtualbox", "guest_additions_attach": "yes"},
            {"type": "virtualbox-iso", "guest_additions_attach": true}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "virtualbox", "guest_additions_mode": "attach"},
                {"type": "virtualbox", "guest_additions_mode": "upload"},
                {"type": "virtualbox", "guest_additions_attach": "yes"},
                {"type": "virtualbox-iso", "guest_additions_attach": true}
            ]})
        );
    }
}
