//! `spot-price-auto-product`: removes `spot_price_auto_product` from
//! `amazon-ebs`, `amazon-ebssurrogate`, `amazon-ebsvolume` and
//! `amazon-instance` builders.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "spot-price-auto-product";
pub(crate) const SYNOPSIS: &str =
    r#"Removes the deprecated "spot_price_auto_product" setting from Amazon builder templates"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if matches!(
            type_of(builder),
            Some("amazon-ebs" | "amazon-ebssurrogate" | "amazon-ebsvolume" | "amazon-instance")
        ) {
            builder.shift_remove("spot_price_auto_product");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn removes_setting() {
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebsvolume", "spot_price_auto_product": "Linux/UNIX"},
            {"type": "amazon-chroot", "spot_price_auto_product": "Linux/UNIX"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "amazon-ebsvolume"},
                {"type": "amazon-chroot", "spot_price_auto_product": "Linux/UNIX"}
            ]})
        );
    }
}
