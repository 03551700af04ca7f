//! `hyperv-vmxc-typo`: in `hyperv-vmcx` builders, the misspelled
//! `clone_from_vmxc_path` becomes `clone_from_vmcx_path`.

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "hyperv-vmxc-typo";
pub(crate) const SYNOPSIS: &str = r#"Fixes a typo replacing "clone_from_vmxc_path" with "clone_from_vmcx_path" in Hyper-V VMCX builder templates"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) == Some("hyperv-vmcx") {
            rename(builder, "clone_from_vmxc_path", "clone_from_vmcx_path");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn fixes_typo() {
        let out = super::fix(json!({"builders": [
            {"type": "hyperv-vmcx", "clone_from_vmxc_path": "p"},
            {"type": "hyperv-iso", "clone_from_vmxc_path": "p"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "hyperv-vmcx", "clone_from_vmcx_path": "p"},
                {"type": "hyperv-iso", "clone_from_vmxc_path": "p"}
            ]})
        );
    }
}
