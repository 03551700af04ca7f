//! `docker-tag-tags`: in `docker-tag` post-processors, `tag` and `tags`
//! merge into one `tags` list: list elements are taken as they are, a string
//! is split on commas and each part trimmed, duplicates are dropped (first
//! one kept), and `tag` is removed. Every `docker-tag` post-processor ends
//! up with a `tags` list, empty if it had no tags.
//!
//! A list element that is not a string is an error (Packer crashes).

use serde_json::Value;

use crate::decode::{fix_post_processors, Object};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "docker-tag-tags";
pub(crate) const SYNOPSIS: &str =
    r#"Updates "docker" post-processor so any "tag" field is renamed to "tags"."#;

fn gather(pp: &Object, key: &str, path: &str, all: &mut Vec<String>) -> Result<(), FixError> {
    match pp.get(key) {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => all.push(s.clone()),
                    other => {
                        return Err(FixError::WrongType {
                            fixer: NAME,
                            path: format!("{path}.{key}[{i}]"),
                            expected: "a string",
                            got: kind(other),
                        })
                    }
                }
            }
        }
        // Go's strings.TrimSpace trims Unicode White_Space, as `str::trim` does.
        Some(Value::String(s)) => all.extend(s.split(',').map(|t| t.trim().to_owned())),
        _ => {}
    }
    Ok(())
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_post_processors(NAME, template, |pp, path| {
        if pp.get("type").and_then(Value::as_str) != Some("docker-tag") {
            return Ok(());
        }
        let mut all = Vec::new();
        gather(pp, "tag", path, &mut all)?;
        gather(pp, "tags", path, &mut all)?;
        let mut tags: Vec<Value> = Vec::with_capacity(all.len());
        for tag in all {
            if !tags.iter().any(|t| t.as_str() == Some(tag.as_str())) {
                tags.push(Value::String(tag));
            }
        }
        pp.shift_remove("tag");
        pp.insert("tags".into(), Value::Array(tags));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn merges_tags() {
        let out = super::fix(json!({"post-processors": [
            {"type": "docker-tag", "tag": "a, b,a", "tags": ["b", "c"]},
            {"type": "docker-tag", "tag": 5},
            [{"type": "docker-tag", "tags": " x "}],
            {"type": "docker-push", "tag": "a"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"post-processors": [
                {"type": "docker-tag", "tags": ["a", "b", "c"]},
                {"type": "docker-tag", "tags": []},
                [{"type": "docker-tag", "tags": ["x"]}],
                {"type": "docker-push", "tag": "a"}
            ]})
        );
    }

    #[test]
    fn rejects_non_string_tags() {
        let err =
            super::fix(json!({"post-processors": [[{"type": "docker-tag", "tag": ["a", 1]}]]}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `docker-tag-tags`: `post-processors[0][0].tag[1]` must be a string, got a number"
        );
    }
}
