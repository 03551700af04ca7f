//! Integration tests: they run the `kiln` binary on fixture templates and
//! snapshot what the user sees (exit code, stdout, stderr), with what varies
//! between runs normalised. `compat` runs the same fixtures through
//! Debian's packer 1.6.6 and compares verdicts, inspect output and
//! manifests.

mod amazon;
mod build;
mod compat;
mod docker;
mod go_plugins;
mod hcl;
mod inspect;
mod plugins;
mod qemu;
mod signals;
mod ssh;
/// kiln-ssh's loopback OpenSSH harness, shared by the ssh and amazon tests.
#[path = "../../../kiln-ssh/src/testing.rs"]
mod sshd;
mod support;
mod terminal;
mod validate;
