//! `hyperv-cpu-and-ram`: in `hyperv-iso` and `hyperv-vmcx` builders, `cpu`
//! becomes `cpus` and `ram_size` becomes `memory` (replacing existing
//! values).

use serde_json::Value;

use crate::decode::{fix_builders, rename, type_of};
use crate::FixError;

pub(crate) const NAME: &str = "hyperv-cpu-and-ram";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces "cpu" with "cpus" and "ram_size" with "memory"in Hyper-V VMCX builder templates"#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_builders(NAME, template, |builder, _| {
        if matches!(type_of(builder), Some("hyperv-iso" | "hyperv-vmcx")) {
            rename(builder, "cpu", "cpus");
            rename(builder, "ram_size", "memory");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_cpu_and_ram() {
        let out = super::fix(json!({"builders": [
            {"type": "hyperv-iso", "cpu": 2, "ram_size": 1024, "memory": 1},
            {"type": "qemu", "cpu": 2}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [
                {"type": "hyperv-iso", "cpus": 2, "memory": 1024},
                {"type": "qemu", "cpu": 2}
            ]})
        );
    }
}
