//! `vsphere-iso-net-disk`: in `vsphere-iso` builders, the flat network and
//! disk settings move into the lists that replaced them:
//!
//! * `network` and `network_card` (or the older `networkCard`) become one
//!   object put first in `network_adapters`;
//! * `disk_size`, `disk_thin_provisioned` and `disk_eagerly_scrub` become
//!   one object put first in `storage`.
//!
//! An existing `network_adapters` or `storage` that is not a list is an
//! error (Packer crashes).

use serde_json::Value;

use crate::decode::{fix_builders, type_of, Object};
use crate::error::kind;
use crate::FixError;

pub(crate) const NAME: &str = "vsphere-iso-net-disk";
pub(crate) const SYNOPSIS: &str =
    r#"Removes deprecated network and disk fields from "vsphere-iso" builder"#;

const NETWORK: [(&str, &str); 3] = [
    ("network", "network"),
    // The legacy spelling from when the vSphere builder was third party.
    ("networkCard", "network_card"),
    ("network_card", "network_card"),
];

const STORAGE: [(&str, &str); 3] = [
    ("disk_size", "disk_size"),
    ("disk_thin_provisioned", "disk_thin_provisioned"),
    ("disk_eagerly_scrub", "disk_eagerly_scrub"),
];

/// Moves the `moves` (old key, new key) out of `builder` into one object
/// and puts it first in the list under `list_key`.
fn gather(
    builder: &mut Object,
    moves: &[(&str, &str)],
    list_key: &str,
    path: &str,
) -> Result<(), FixError> {
    let mut item = Object::new();
    for (old, new) in moves {
        if let Some(v) = builder.shift_remove(*old) {
            item.insert((*new).to_owned(), v);
        }
    }
    if item.is_empty() {
        return Ok(());
    }
    let mut list = vec![Value::Object(item)];
    match builder.get(list_key) {
        None => {}
        Some(Value::Array(existing)) => list.extend(existing.iter().cloned()),
        Some(other) => {
            return Err(FixError::WrongType {
                fixer: NAME,
                path: format!("{path}.{list_key}"),
                expected: "an array",
                got: kind(other),
            })
        }
    }
    builder.insert(list_key.to_owned(), Value::Array(list));
    Ok(())
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, path| {
        if type_of(builder) != Some("vsphere-iso") {
            return Ok(());
        }
        gather(builder, &NETWORK, "network_adapters", path)?;
        gather(builder, &STORAGE, "storage", path)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn moves_network_and_disk() {
        let out = super::fix(json!({"builders": [
            {"type": "vsphere-iso", "network": "VM Network", "networkCard": "e1000", "network_card": "vmxnet3",
             "network_adapters": [{"network": "n2"}], "disk_size": 1024, "disk_thin_provisioned": true},
            {"type": "vsphere-clone", "network": "x"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "vsphere-iso",
                 "network_adapters": [{"network": "VM Network", "network_card": "vmxnet3"}, {"network": "n2"}],
                 "storage": [{"disk_size": 1024, "disk_thin_provisioned": true}]},
                {"type": "vsphere-clone", "network": "x"}
            ]})
        );
    }

    #[test]
    fn rejects_non_list_storage() {
        let err = super::fix(
            json!({"builders": [{"type": "vsphere-iso", "disk_size": 1, "storage": null}]}),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "fixer `vsphere-iso-net-disk`: `builders[0].storage` must be an array, got null"
        );
    }
}
