//! `amazon-enhanced-networking`: in `amazon-*` builders, a boolean
//! `enhanced_networking` becomes `ena_support`.

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "amazon-enhanced-networking";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces "enhanced_networking" in builders with "ena_support""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder).is_some_and(|t| t.starts_with("amazon-"))
            && builder
                .get("enhanced_networking")
                .is_some_and(Value::is_boolean)
        {
            rename(builder, "enhanced_networking", "ena_support");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_boolean_flag() {
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebs", "enhanced_networking": true, "ena_support": false},
            {"type": "amazon-ebs", "enhanced_networking": "true"},
            {"type": "qemu", "enhanced_networking": true}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "amazon-ebs", "ena_support": true},
                {"type": "amazon-ebs", "enhanced_networking": "true"},
                {"type": "qemu", "enhanced_networking": true}
            ]})
        );
    }
}
