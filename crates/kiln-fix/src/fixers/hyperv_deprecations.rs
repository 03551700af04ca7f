//! `hyperv-deprecations`: removes `vhd_temp_path` from `hyperv-iso`
//! builders.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "hyperv-deprecations";
pub(crate) const SYNOPSIS: &str =
    r#"Removes the deprecated "vhd_temp_path" setting from Hyper-V ISO builder templates"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) == Some("hyperv-iso") {
            builder.shift_remove("vhd_temp_path");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn removes_vhd_temp_path() {
        let out = super::fix(json!({"builders": [
            {"type": "hyperv-iso", "vhd_temp_path": "x"},
            {"type": "hyperv-vmcx", "vhd_temp_path": "x"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [{"type": "hyperv-iso"}, {"type": "hyperv-vmcx", "vhd_temp_path": "x"}]})
        );
    }
}
