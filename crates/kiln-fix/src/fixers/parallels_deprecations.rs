//! `parallels-deprecations`: in `parallels-iso` and `parallels-pvm`
//! builders, removes `parallels_tools_host_path` and renames
//! `guest_os_distribution` to `guest_os_type` (replacing any existing
//! `guest_os_type`).

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "parallels-deprecations";
pub(crate) const SYNOPSIS: &str = r#"Removes deprecated "parallels_tools_host_path" from Parallels builders and changes "guest_os_distribution" to "guest_os_type"."#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if matches!(type_of(builder), Some("parallels-iso" | "parallels-pvm")) {
            builder.shift_remove("parallels_tools_host_path");
            rename(builder, "guest_os_distribution", "guest_os_type");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn removes_and_renames() {
        let out = super::fix(json!({"builders": [
            {"type": "parallels-iso", "parallels_tools_host_path": "/x", "guest_os_distribution": "ubuntu", "guest_os_type": "linux"},
            {"type": "qemu", "guest_os_distribution": "ubuntu"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "parallels-iso", "guest_os_type": "ubuntu"},
                {"type": "qemu", "guest_os_distribution": "ubuntu"}
            ]})
        );
    }
}
