//! `azure-exclude_from_latest`: in `azure-chroot*` builders, the misspelled
//! `shared_image_destination.exlude_from_latest` becomes
//! `exclude_from_latest` (replacing any existing value).
//!
//! The `shared_image_destination` object is edited in place, as Packer
//! does, so when the builders are read from a differently cased key (e.g.
//! `Builders`) the edit shows there too.

use serde_json::Value;

use crate::decode::{decode_builders, encode_objects, rename, root};
use crate::FixError;

pub(crate) const NAME: &str = "azure-exclude_from_latest";
pub(crate) const SYNOPSIS: &str =
    r#"Changes "exlude_from_latest" to "exclude_from_latest" in Azure builders."#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let (key, _) = decode_builders(NAME, &root)?;
    if let Some(Value::Array(items)) = key.as_ref().and_then(|k| root.get_mut(k)) {
        for builder in items.iter_mut().filter_map(Value::as_object_mut) {
            if !builder
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("azure-chroot"))
            {
                continue;
            }
            if let Some(Value::Object(dest)) = builder.get_mut("shared_image_destination") {
                rename(dest, "exlude_from_latest", "exclude_from_latest");
            }
        }
    }
    let (_, builders) = decode_builders(NAME, &root)?;
    root.insert("builders".into(), encode_objects(builders));
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn fixes_spelling() {
        let out = super::fix(json!({"builders": [
            {"type": "azure-chroot", "shared_image_destination": {"exlude_from_latest": true}},
            {"type": "azure-arm", "shared_image_destination": {"exlude_from_latest": true}},
            {"type": "azure-chroot", "shared_image_destination": "x"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "azure-chroot", "shared_image_destination": {"exclude_from_latest": true}},
                {"type": "azure-arm", "shared_image_destination": {"exlude_from_latest": true}},
                {"type": "azure-chroot", "shared_image_destination": "x"}
            ]})
        );
    }
}
