//! kiln-core: the build engine.
//!
//! [`prepare`] turns a [`kiln_template::BuildPlan`] into prepared builds,
//! preparing every builder, provisioner and post-processor before anything
//! runs so that all configuration errors are reported together. [`run`]
//! runs the builds concurrently on one async runtime (bounded by
//! `-parallel-builds`), fires each builder's provision hook, runs the
//! post-processor chains with Packer's keep/destroy rules, and prints
//! Packer's closing summary through the [`ui`] layer.

pub mod checkpoints;
pub mod fingerprint;
pub mod hook;
pub mod prepare;
pub mod registry;
pub mod run;
pub mod ui;

pub use prepare::{prepare, Options, PreparedBuild};
pub use registry::Registry;
pub use run::{run, RunSummary};
