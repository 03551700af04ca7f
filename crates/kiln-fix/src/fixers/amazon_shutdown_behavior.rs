//! `amazon-shutdown_behavior`: in `amazon-*` builders, the misspelled
//! `shutdown_behaviour` becomes `shutdown_behavior` (replacing any existing
//! `shutdown_behavior`).

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "amazon-shutdown_behavior";
pub(crate) const SYNOPSIS: &str =
    r#"Changes "shutdown_behaviour" to "shutdown_behavior" in Amazon builders."#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder).is_some_and(|t| t.starts_with("amazon-")) {
            rename(builder, "shutdown_behaviour", "shutdown_behavior");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn fixes_spelling() {
        let out = super::fix(json!({"builders": [
            {"type": "amazon-ebs", "shutdown_behaviour": "terminate"},
            {"type": "amazon", "shutdown_behaviour": "stop"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "amazon-ebs", "shutdown_behavior": "terminate"},
                {"type": "amazon", "shutdown_behaviour": "stop"}
            ]})
        );
    }
}
