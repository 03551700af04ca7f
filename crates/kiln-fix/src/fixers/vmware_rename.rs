//! `vmware-rename`: `vmware` builders become `vmware-iso`.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "vmware-rename";
pub(crate) const SYNOPSIS: &str = r#"Updates "vmware" builders to "vmware-iso""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) == Some("vmware") {
            builder.insert("type".into(), "vmware-iso".into());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_vmware() {
        let out =
            super::fix(json!({"builders": [{"type": "vmware"}, {"type": "vmware-vmx"}]})).unwrap();
        assert_eq!(
            out,
            json!({"builders": [{"type": "vmware-iso"}, {"type": "vmware-vmx"}]})
        );
    }
}
