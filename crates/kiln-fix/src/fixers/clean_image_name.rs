//! `clean-image-name`: in every builder, `clean_image_name` and
//! `clean_ami_name` become `clean_resource_name` in each string value and
//! in each string inside an object value (such as `tags`). Strings nested
//! deeper, or inside lists, are left alone.
//!
//! An `image_labels` that is neither a string nor an object is an error
//! (Packer crashes).
//!
//! Object values are edited in place, as Packer does, so when the builders
//! are read from a differently cased key (e.g. `Builders`) the edits inside
//! object values show there too.

use serde_json::Value;

use crate::decode::{decode_builders, encode_objects, root};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "clean-image-name";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces /clean_(image|ami)_name/ in builder configs with "clean_resource_name""#;

/// Go's `regexp.MustCompile(`clean_(image|ami)_name`).ReplaceAllString(s, "clean_resource_name")`.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("clean_") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after
            .strip_prefix("clean_image_name")
            .or_else(|| after.strip_prefix("clean_ami_name"))
        {
            out.push_str("clean_resource_name");
            rest = tail;
        } else {
            out.push_str("clean_");
            rest = &after["clean_".len()..];
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let (key, _) = decode_builders(NAME, &root)?;

    // Object values are shared between the template and Packer's copy of
    // the builders: edit them where they are.
    if let Some(Value::Array(items)) = key.as_ref().and_then(|k| root.get_mut(k)) {
        for builder in items.iter_mut().filter_map(Value::as_object_mut) {
            for value in builder.values_mut().filter_map(Value::as_object_mut) {
                for v in value.values_mut() {
                    if let Value::String(s) = v {
                        *s = clean(s);
                    }
                }
            }
        }
    }

    let (key, mut builders) = decode_builders(NAME, &root)?;
    if let (Some(key), Some(items)) = (&key, &mut builders) {
        for (i, builder) in items.iter_mut().enumerate() {
            let Some(builder) = builder else { continue };
            for (k, value) in builder.iter_mut() {
                match value {
                    Value::String(s) => *s = clean(s),
                    Value::Object(_) => {}
                    other if k == "image_labels" => {
                        return Err(FixError::WrongType {
                            fixer: NAME,
                            path: format!("{key}[{i}].image_labels"),
                            expected: "a string or an object",
                            got: kind(other),
                        })
                    }
                    _ => {}
                }
            }
        }
    }
    root.insert("builders".into(), encode_objects(builders));
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn cleans_like_the_regexp() {
        assert_eq!(
            super::clean("clean_clean_ami_name clean_image_nameclean_ami_name clean_x"),
            "clean_clean_resource_name clean_resource_nameclean_resource_name clean_x"
        );
    }

    #[test]
    fn cleans_strings_and_maps() {
        let out = super::fix(json!({"builders": [{
            "type": "amazon-ebs",
            "ami_name": "{{clean_ami_name `x`}}",
            "tags": {"n": "{{ clean_image_name `y` }}", "m": 1, "d": {"x": "clean_ami_name"}},
            "l": ["clean_ami_name"]
        }]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [{
                "type": "amazon-ebs",
                "ami_name": "{{clean_resource_name `x`}}",
                "tags": {"n": "{{ clean_resource_name `y` }}", "m": 1, "d": {"x": "clean_ami_name"}},
                "l": ["clean_ami_name"]
            }]})
        );
    }

    #[test]
    fn edits_shared_maps_in_place() {
        let out = super::fix(
            json!({"Builders": [{"a": "clean_ami_name", "t": {"b": "clean_ami_name"}}]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "Builders": [{"a": "clean_ami_name", "t": {"b": "clean_resource_name"}}],
                "builders": [{"a": "clean_resource_name", "t": {"b": "clean_resource_name"}}]
            })
        );
    }

    #[test]
    fn rejects_odd_image_labels() {
        let err =
            super::fix(json!({"builders": [{"type": "googlecompute", "image_labels": ["a"]}]}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `clean-image-name`: `builders[0].image_labels` must be a string or an object, got an array"
        );
    }
}
