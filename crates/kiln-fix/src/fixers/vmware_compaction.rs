//! `vmware-compaction`: `vmware-iso` builders with `"remote_type": "esx5"`
//! whose disk is not `thin` get `"skip_compaction": true`. A missing
//! `disk_type_id` is set to `"zeroedthick"` (the old default) first. An
//! existing boolean `skip_compaction` is forced to true; a non-boolean one,
//! like a non-string `disk_type_id`, leaves the builder alone.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "vmware-compaction";
pub(crate) const SYNOPSIS: &str =
    r#"Adds "skip_compaction = true" to "vmware-iso" builders with incompatible disk_type_id"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) != Some("vmware-iso")
            || builder.get("remote_type").and_then(Value::as_str) != Some("esx5")
        {
            return Ok(());
        }
        match builder.get("disk_type_id") {
            None => {
                builder.insert("disk_type_id".into(), "zeroedthick".into());
            }
            Some(Value::String(id)) if id != "thin" => {}
            Some(_) => return Ok(()),
        }
        match builder.get("skip_compaction") {
            Some(Value::Bool(_)) | None => {
                builder.insert("skip_compaction".into(), Value::Bool(true));
            }
            Some(_) => {}
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn skips_compaction_on_esx() {
        let out = super::fix(json!({"builders": [
            {"type": "vmware-iso", "remote_type": "esx5"},
            {"type": "vmware-iso", "remote_type": "esx5", "disk_type_id": "thin"},
            {"type": "vmware-iso", "remote_type": "esx5", "disk_type_id": "2", "skip_compaction": false},
            {"type": "vmware-iso", "remote_type": "esx5", "skip_compaction": "no"},
            {"type": "vmware-iso", "disk_type_id": "2"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "vmware-iso", "remote_type": "esx5", "disk_type_id": "zeroedthick", "skip_compaction": true},
                {"type": "vmware-iso", "remote_type": "esx5", "disk_type_id": "thin"},
                {"type": "vmware-iso", "remote_type": "esx5", "disk_type_id": "2", "skip_compaction": true},
                {"type": "vmware-iso", "remote_type": "esx5", "skip_compaction": "no", "disk_type_id": "zeroedthick"},
                {"type": "vmware-iso", "disk_type_id": "2"}
            ]})
        );
    }
}
