//! `docker-email`: when the template has post-processors, removes
//! `login_email` from every builder and every post-processor, whatever its
//! type. A template without post-processors is left alone, builders
//! included.

use serde_json::Value;

use crate::decode::{decode_builders, encode_objects, for_each_post_processor, root};
use crate::FixError;

pub(crate) const NAME: &str = "docker-email";
pub(crate) const SYNOPSIS: &str = r#"Removes "login_email" from the Docker builder."#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    if root.get("post-processors").is_none_or(Value::is_null) {
        return Ok(Value::Object(root));
    }
    let (_, mut builders) = decode_builders(NAME, &root)?;
    for builder in builders.iter_mut().flatten().flatten() {
        builder.shift_remove("login_email");
    }
    for_each_post_processor(NAME, &mut root, |pp, _| {
        pp.shift_remove("login_email");
        Ok(())
    })?;
    root.insert("builders".into(), encode_objects(builders));
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn removes_login_email_everywhere() {
        let out = super::fix(json!({
            "builders": [{"type": "docker", "login_email": "a@b"}, null],
            "post-processors": [[{"type": "docker-push", "login_email": "a@b"}], {"type": "x", "login_email": 1}]
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "builders": [{"type": "docker"}, null],
                "post-processors": [[{"type": "docker-push"}], {"type": "x"}]
            })
        );
    }

    #[test]
    fn needs_post_processors() {
        let t = json!({"builders": [{"type": "docker", "login_email": "a@b"}], "post-processors": null});
        assert_eq!(super::fix(t.clone()).unwrap(), t);
    }
}
