//! kiln-sdk: what every kiln component compiles against.
//!
//! Built-in builders, provisioners, post-processors and data sources use
//! exactly the same contracts as plugins: the component traits
//! ([`component`]), the artifact and communicator traits, the UI trait, a step runner with Packer's
//! cleanup rules ([`step`]), `Secret<T>` for sensitive values, typed config
//! decoding that collects every error ([`config`]), and the Go-template
//! interpolation engine of legacy JSON templates ([`interpolate`]).
//!
//! Nothing in this crate performs I/O on behalf of a template: effects belong
//! to the components' `run` (and data sources' `execute`) methods.

pub mod artifact;
pub mod checkpoint;
pub mod communicator;
pub mod component;
pub mod config;
pub mod duration;
pub mod generated;
pub mod interpolate;
pub mod process;
pub mod record;
pub mod registry;
pub mod run_tags;
pub mod secret;
pub mod shell_env;
pub mod step;
pub mod steps;
pub mod ui;
pub mod version;

pub use artifact::Artifact;
pub use communicator::Communicator;
pub use component::{
    BuildContext, Builder, BuilderFactory, DataSource, DataSourceContext, DataSourceFactory, Hook,
    HookEvent, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, ProvisionContext, Provisioner, ProvisionerFactory,
};
pub use config::{ConfigError, ConfigErrors, RawConfig};
pub use record::BuildRecord;
pub use registry::Registry;
pub use secret::Secret;
pub use ui::Ui;

/// The version of kiln, reported by `kiln version`.
pub const KILN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Packer version whose legacy JSON templates kiln runs: JSON's
/// `{{packer_version}}` returns it and `min_packer_version` is compared
/// with it.
pub const PACKER_COMPAT_VERSION: &str = "1.6.6";

/// The Packer release whose HCL2 language and built-ins kiln implements
/// (hashicorp/packer `version/VERSION`): an HCL2 template's
/// `packer { required_version = "…" }` is checked against it and
/// `packer.version` returns it. `kiln version` shows it.
pub const PACKER_HCL2_VERSION: &str = "1.16.1";
