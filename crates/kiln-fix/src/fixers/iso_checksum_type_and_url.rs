//! `iso-checksum-type-and-url`: in every builder, `iso_checksum_type` and
//! `iso_checksum_url` are removed and folded into `iso_checksum`:
//!
//! * with a (non-empty string) `iso_checksum_url`, `iso_checksum` becomes
//!   `"file:<url>"`;
//! * otherwise, with a `iso_checksum_type`, it becomes `"<type>:<checksum>"`
//!   (`"none:<checksum>"` included);
//! * without a string `iso_checksum` either, only the removal happens.
//!
//! Values that are not strings count as empty.

use serde_json::Value;

use crate::decode::{fix_builders, Object};
use crate::FixError;

pub(crate) const NAME: &str = "iso-checksum-type-and-url";
pub(crate) const SYNOPSIS: &str =
    r#"Puts content of potential "iso_checksum_url" and "iso_checksum_url" in "iso_checksum""#;

fn string_value(b: &Object, key: &str) -> String {
    b.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        let url = string_value(builder, "iso_checksum_url");
        let kind = string_value(builder, "iso_checksum_type");
        let checksum = string_value(builder, "iso_checksum");
        builder.shift_remove("iso_checksum_url");
        builder.shift_remove("iso_checksum_type");
        if checksum.is_empty() && url.is_empty() {
            return Ok(());
        }
        let checksum = if !url.is_empty() {
            format!("file:{url}")
        } else if !kind.is_empty() {
            format!("{kind}:{checksum}")
        } else {
            checksum
        };
        builder.insert("iso_checksum".into(), checksum.into());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn folds_type_and_url() {
        let out = super::fix(json!({"builders": [
            {"type": "qemu", "iso_checksum": "abc", "iso_checksum_type": "sha256"},
            {"type": "qemu", "iso_checksum_url": "http://x/SUMS", "iso_checksum_type": "sha256", "iso_checksum": "abc"},
            {"type": "qemu", "iso_checksum_type": "none"},
            {"type": "qemu", "iso_checksum": "abc"},
            {"type": "qemu", "iso_checksum": 5, "iso_checksum_type": "md5"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "qemu", "iso_checksum": "sha256:abc"},
                {"type": "qemu", "iso_checksum": "file:http://x/SUMS"},
                {"type": "qemu"},
                {"type": "qemu", "iso_checksum": "abc"},
                {"type": "qemu", "iso_checksum": 5}
            ]})
        );
    }
}
