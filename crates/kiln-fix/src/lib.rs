//! kiln-fix: the commands that rewrite templates. `kiln fix` is Packer
//! 1.6.6's `packer fix` for legacy JSON templates; [`format`] is `kiln fmt`
//! (the canonical layout of HCL2 files) and [`upgrade`] is
//! `kiln hcl2_upgrade` (a legacy JSON template written as HCL2). They read
//! text or a parsed template and return text; the binary does the files.
//!
//! [`fix`] runs every fixer of Packer 1.6.6, in Packer's order, over a
//! template held as a [`serde_json::Value`]; [`to_packer_json`] prints the
//! result exactly as `packer fix` does. [`FIXERS`] lists the fixers with
//! their synopses, and each can be run on its own.
//!
//! The fixers reproduce Packer's observable behaviour, quirks included (see
//! `docs/commands/fix.md`): for instance every template comes out with a
//! `builders` key (`null` when it had none), and a non-list `provisioners`
//! value is lifted into a list. Where Packer 1.6.6 crashes on a malformed
//! template, kiln returns a [`FixError`] instead; no input makes it panic.

mod decode;
mod error;
mod fixers;
pub mod format;
mod json;
pub mod upgrade;

pub use error::FixError;
pub use json::to_packer_json;
use serde_json::Value;

/// One fixer: a named rewrite of a legacy template.
#[derive(Debug, Clone, Copy)]
pub struct Fixer {
    /// Packer's name for the fixer, e.g. `iso-md5`.
    pub name: &'static str,
    /// Packer's one-line description of what the fixer does.
    pub synopsis: &'static str,
    /// Runs the fixer alone over a template.
    pub fix: fn(Value) -> Result<Value, FixError>,
}

macro_rules! fixer {
    ($module:ident) => {
        Fixer {
            name: fixers::$module::NAME,
            synopsis: fixers::$module::SYNOPSIS,
            fix: fixers::$module::fix,
        }
    };
}

/// Every fixer of Packer 1.6.6, in the order `packer fix` runs them.
pub static FIXERS: &[Fixer] = &[
    fixer!(iso_md5),
    fixer!(createtime),
    fixer!(virtualbox_gaattach),
    fixer!(pp_vagrant_override),
    fixer!(virtualbox_rename),
    fixer!(vmware_rename),
    fixer!(parallels_headless),
    fixer!(parallels_deprecations),
    fixer!(sshkeypath),
    fixer!(sshdisableagent),
    fixer!(scaleway_access_key),
    fixer!(manifest_filename),
    fixer!(amazon_shutdown_behavior),
    fixer!(amazon_enhanced_networking),
    fixer!(amazon_private_ip),
    fixer!(amazon_temp_sec_cidrs),
    fixer!(docker_email),
    fixer!(docker_tag_tags),
    fixer!(powershell_escapes),
    fixer!(vmware_compaction),
    fixer!(hyperv_deprecations),
    fixer!(hyperv_vmxc_typo),
    fixer!(hyperv_cpu_and_ram),
    fixer!(clean_image_name),
    fixer!(spot_price_auto_product),
    fixer!(qemu_disk_size),
    fixer!(galaxy_command),
    fixer!(comm_config),
    fixer!(ssh_wait_timeout),
    fixer!(vsphere_iso_net_disk),
    fixer!(iso_checksum_type_and_url),
    fixer!(qemu_host_port),
    fixer!(azure_exclude_from_latest),
    fixer!(proxmox_type),
];

static NAMES: [&str; 34] = [
    fixers::iso_md5::NAME,
    fixers::createtime::NAME,
    fixers::virtualbox_gaattach::NAME,
    fixers::pp_vagrant_override::NAME,
    fixers::virtualbox_rename::NAME,
    fixers::vmware_rename::NAME,
    fixers::parallels_headless::NAME,
    fixers::parallels_deprecations::NAME,
    fixers::sshkeypath::NAME,
    fixers::sshdisableagent::NAME,
    fixers::scaleway_access_key::NAME,
    fixers::manifest_filename::NAME,
    fixers::amazon_shutdown_behavior::NAME,
    fixers::amazon_enhanced_networking::NAME,
    fixers::amazon_private_ip::NAME,
    fixers::amazon_temp_sec_cidrs::NAME,
    fixers::docker_email::NAME,
    fixers::docker_tag_tags::NAME,
    fixers::powershell_escapes::NAME,
    fixers::vmware_compaction::NAME,
    fixers::hyperv_deprecations::NAME,
    fixers::hyperv_vmxc_typo::NAME,
    fixers::hyperv_cpu_and_ram::NAME,
    fixers::clean_image_name::NAME,
    fixers::spot_price_auto_product::NAME,
    fixers::qemu_disk_size::NAME,
    fixers::galaxy_command::NAME,
    fixers::comm_config::NAME,
    fixers::ssh_wait_timeout::NAME,
    fixers::vsphere_iso_net_disk::NAME,
    fixers::iso_checksum_type_and_url::NAME,
    fixers::qemu_host_port::NAME,
    fixers::azure_exclude_from_latest::NAME,
    fixers::proxmox_type::NAME,
];

/// The fixers' names, in the order they run.
pub fn fixer_names() -> &'static [&'static str] {
    &NAMES
}

/// The fixer called `name`, if there is one.
pub fn fixer(name: &str) -> Option<&'static Fixer> {
    FIXERS.iter().find(|f| f.name == name)
}

/// Runs every fixer over `template`, in Packer's order, as `packer fix`
/// does. The template must be a JSON object.
pub fn fix(template: Value) -> Result<Value, FixError> {
    FIXERS.iter().try_fold(template, |t, fixer| (fixer.fix)(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_table() {
        let from_table: Vec<_> = FIXERS.iter().map(|f| f.name).collect();
        assert_eq!(from_table, fixer_names());
        assert_eq!(fixer_names().len(), 34);
        assert_eq!(fixer_names()[0], "iso-md5");
        assert_eq!(fixer_names()[33], "proxmox-type");
        assert!(fixer("qemu-disk-size").is_some());
        assert!(fixer("nope").is_none());
    }

    #[test]
    fn fixes_a_whole_template() {
        let out = fix(json!({
            "builders": [{"type": "virtualbox", "iso_md5": "abc", "ssh_wait_timeout": "5m"}]
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({"builders": [{"type": "virtualbox-iso", "iso_checksum": "md5:abc", "ssh_timeout": "5m"}]})
        );
    }

    #[test]
    fn rejects_non_objects() {
        assert_eq!(
            fix(json!([1])).unwrap_err(),
            FixError::NotAnObject { got: "an array" }
        );
        for f in FIXERS {
            assert!((f.fix)(Value::Null).is_err(), "{}", f.name);
        }
    }
}
