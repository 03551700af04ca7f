//! `scaleway-access-key`: in `scaleway` builders, a string `access_key`
//! becomes `organization_id`, unless that is already set, in which case
//! `access_key` is just dropped.

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "scaleway-access-key";
pub(crate) const SYNOPSIS: &str = r#"Updates builders using "access_key" to use "organization_id""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) != Some("scaleway")
            || !builder.get("access_key").is_some_and(Value::is_string)
        {
            return Ok(());
        }
        if builder.contains_key("organization_id") {
            builder.shift_remove("access_key");
        } else {
            rename(builder, "access_key", "organization_id");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_access_key() {
        let out = super::fix(json!({"builders": [
            {"type": "scaleway", "access_key": "k"},
            {"type": "scaleway", "access_key": "k", "organization_id": "o"},
            {"type": "amazon-ebs", "access_key": "k"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "scaleway", "organization_id": "k"},
                {"type": "scaleway", "organization_id": "o"},
                {"type": "amazon-ebs", "access_key": "k"}
            ]})
        );
    }
}
