//! kiln-template: templates in, a typed build plan out.
//!
//! [`legacy`] parses Packer's legacy JSON templates with the crate's one
//! spanned JSON reader ([`json`], which HCL2's JSON syntax reads through
//! too) so that every error names `file:line:column`; [`plan`]
//! resolves variables and filters into a [`plan::BuildPlan`], the one shape
//! the build engine consumes whatever the template language.

pub mod hcl;
pub mod json;
pub mod legacy;
pub mod plan;

pub use legacy::{load, Template};
pub use plan::{plan, plan_partial, BuildPlan, Filters, PlannedBuild, VariableInputs, Variables};
