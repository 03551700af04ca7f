//! `iso-md5`: in every builder, a string `iso_md5` becomes `iso_checksum`
//! with `"iso_checksum_type": "md5"` (which `iso-checksum-type-and-url`
//! later folds into `"iso_checksum": "md5:<sum>"`). A non-string `iso_md5`
//! is left alone.
//!
//! Like every builder fixer, it writes `builders` back, so a template
//! without builders comes out with `"builders": null`.

use serde_json::Value;

use crate::decode::{fix_builders, rename};
use crate::FixError;

pub(crate) const NAME: &str = "iso-md5";
pub(crate) const SYNOPSIS: &str = r#"Replaces "iso_md5" in builders with "iso_checksum""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if builder.get("iso_md5").is_some_and(Value::is_string) {
            rename(builder, "iso_md5", "iso_checksum");
            builder.insert("iso_checksum_type".into(), "md5".into());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn replaces_iso_md5() {
        let out = super::fix(json!({"builders": [
            {"type": "qemu", "iso_md5": "abc"},
            {"type": "qemu", "iso_md5": 5},
            null
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "qemu", "iso_checksum": "abc", "iso_checksum_type": "md5"},
                {"type": "qemu", "iso_md5": 5},
                null
            ]})
        );
    }

    #[test]
    fn adds_null_builders_and_rejects_bad_ones() {
        assert_eq!(super::fix(json!({})).unwrap(), json!({"builders": null}));
        assert!(super::fix(json!({"builders": "x"})).is_err());
        assert!(super::fix(json!({"builders": [1]})).is_err());
        assert!(super::fix(json!([])).is_err());
    }
}
