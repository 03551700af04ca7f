//! kiln-shell-local: Packer 1.6.6's `shell-local`, which runs scripts on the
//! machine running kiln, as both a provisioner and a post-processor. Both
//! share one configuration ([`config`]) and one engine: inline commands go
//! to a temporary script (always deleted afterwards), each script runs
//! through `execute_command` in a process group of its own, its output is
//! streamed to the UI line by line, and cancelling kills the whole group.
//!
//! Unix only: processes are managed with process groups and signals.

mod config;
mod engine;
mod envfmt;
mod post_processor;
pub mod process;
mod provisioner;

pub use config::{
    DEFAULT_ENV_VAR_FORMAT, DEFAULT_EXECUTE_COMMAND, DEFAULT_INLINE_SHEBANG, SUPPORTED_OS,
};
pub use post_processor::ShellLocalPostProcessorFactory;
pub use provisioner::ShellLocalProvisionerFactory;

/// The `shell-local` provisioner factory, boxed for a registry.
pub fn provisioner_factory() -> Box<dyn kiln_sdk::ProvisionerFactory> {
    Box::new(ShellLocalProvisionerFactory)
}

/// The `shell-local` post-processor factory, boxed for a registry.
pub fn post_processor_factory() -> Box<dyn kiln_sdk::PostProcessorFactory> {
    Box::new(ShellLocalPostProcessorFactory)
}
