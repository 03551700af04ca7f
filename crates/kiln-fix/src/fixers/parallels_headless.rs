//! `parallels-headless`: removes `headless` from `parallels-iso` and
//! `parallels-pvm` builders.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "parallels-headless";
pub(crate) const SYNOPSIS: &str = r#"Removes unused "headless" from Parallels builders"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if matches!(type_of(builder), Some("parallels-iso" | "parallels-pvm")) {
            builder.shift_remove("headless");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn removes_headless() {
        let out = super::fix(json!({"builders": [
            {"type": "parallels-iso", "headless": true},
            {"type": "parallels-pvm", "headless": false},
            {"type": "qemu", "headless": true}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "parallels-iso"},
                {"type": "parallels-pvm"},
                {"type": "qemu", "headless": true}
            ]})
        );
    }
}
