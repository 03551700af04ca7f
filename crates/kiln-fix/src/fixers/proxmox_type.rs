//! `proxmox-type`: `proxmox` builders become `proxmox-iso`.

use serde_json::Value;

use crate::decode::{fix_builders, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "proxmox-type";
pub(crate) const SYNOPSIS: &str = "Updates the builder type proxmox to proxmox-iso";

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) == Some("proxmox") {
            builder.insert("type".into(), "proxmox-iso".into());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_proxmox() {
        let out = super::fix(json!({"builders": [{"type": "proxmox"}, {"type": "proxmox-clone"}]}))
            .unwrap();
        assert_eq!(
            out,
            json!({"builders": [{"type": "proxmox-iso"}, {"type": "proxmox-clone"}]})
        );
    }
}
