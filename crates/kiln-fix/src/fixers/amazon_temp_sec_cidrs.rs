//! `amazon-temp-sec-cidrs`: in `amazon-*` builders, a string
//! `temporary_security_group_source_cidr` becomes the one-element list
//! `temporary_security_group_source_cidrs` (replacing any existing list).

use serde_json::Value;

use crate::decode::{fix_builders, replace, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "amazon-temp-sec-cidrs";
pub(crate) const SYNOPSIS: &str = r#"Replaces "temporary_security_group_source_cidr" (string) with "temporary_security_group_source_cidrs" (list of strings)"#;

const OLD: &str = "temporary_security_group_source_cidr";
const NEW: &str = "temporary_security_group_source_cidrs";

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if !type_of(builder).is_some_and(|t| t.starts_with("amazon-")) {
            return Ok(());
        }
        if let Some(Value::String(cidr)) = builder.get(OLD) {
            let list = Value::Array(vec![Value::String(cidr.clone())]);
            replace(builder, OLD, NEW, list);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn lists_the_cidr() {
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebs", "temporary_security_group_source_cidr": "10.0.0.0/8"},
            {"type": "amazon-ebs", "temporary_security_group_source_cidr": ["x"]}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "amazon-ebs", "temporary_security_group_source_cidrs": ["10.0.0.0/8"]},
                {"type": "amazon-ebs", "temporary_security_group_source_cidr": ["x"]}
            ]})
        );
    }
}
