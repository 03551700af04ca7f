//! `manifest-filename`: in `manifest` post-processors, a string `filename`
//! becomes `output` (replacing any existing `output`).

use serde_json::Value;

use crate::decode::{fix_post_processors, rename};
use crate::FixError;

pub(crate) const NAME: &str = "manifest-filename";
pub(crate) const SYNOPSIS: &str =
    r#"Updates "manifest" post-processor so any "filename" field is renamed to "output"."#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_post_processors(NAME, template, |pp, _| {
        if pp.get("type").and_then(Value::as_str) == Some("manifest")
            && pp.get("filename").is_some_and(Value::is_string)
        {
            rename(pp, "filename", "output");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_filename() {
        let out = super::fix(json!({"post-processors": [
            {"type": "manifest", "filename": "m.json", "output": "x"},
            [{"type": "manifest", "filename": 1}],
            {"type": "checksum", "filename": "f"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"post-processors": [
                {"type": "manifest", "output": "m.json"},
                [{"type": "manifest", "filename": 1}],
                {"type": "checksum", "filename": "f"}
            ]})
        );
    }
}
