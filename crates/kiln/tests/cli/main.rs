//! Integration tests: they run the `kiln` binary on fixture templates and
//! snapshot what the user sees (exit code, stdout, stderr), with what varies
//! between runs normalised. `compat` runs the same fixtures through
//! Debian's packer 1.6.6 and compares verdicts, inspect output and
//! manifests. `corpus` checks the verdicts on the real-world template
//! corpus in `tests/corpus/` against its index (and packer 1.6.6 for JSON).

mod alicloud;
mod alicloud_import;
mod amazon;
mod amazon_faults;
mod ansible;
mod ansible_local;
mod build;
mod cleanup;
mod compat;
mod config_management;
mod console;
mod corpus;
mod dist;
mod docker;
mod doctor;
mod first_templates;
mod go_plugins;
mod hcl;
mod hcl_validate;
mod huaweicloud;
mod image_test;
mod incremental;
mod inspect;
mod openstack;
mod packer_block;
mod parity;
mod plugins;
mod provenance;
mod qemu;
mod sbom;
mod secrets;
mod signals;
mod ssh;
mod support;
mod tencentcloud;
mod terminal;
mod ucloud;
mod ucloud_import;
mod validate;
