//! `qemu-host-port`: in `qemu` builders, `ssh_host_port_min` and
//! `ssh_host_port_max` become `host_port_min` and `host_port_max`
//! (replacing existing values).

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "qemu-host-port";
pub(crate) const SYNOPSIS: &str =
    "Updates ssh_host_port_min and ssh_host_port_max to host_port_min and host_port_max";

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if type_of(builder) == Some("qemu") {
            rename(builder, "ssh_host_port_min", "host_port_min");
            rename(builder, "ssh_host_port_max", "host_port_max");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_ports() {
        let out = super::fix(json!({"builders": [
            {"type": "qemu", "ssh_host_port_min": 2222, "ssh_host_port_max": 4444, "host_port_max": 1},
            {"type": "virtualbox-iso", "ssh_host_port_min": 2222}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "qemu", "host_port_min": 2222, "host_port_max": 4444},
                {"type": "virtualbox-iso", "ssh_host_port_min": 2222}
            ]})
        );
    }
}
