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
pub mod communicator;
pub mod component;
pub mod config;
pub mod duration;
pub mod interpolate;
pub mod process;
pub mod secret;
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
pub use secret::Secret;
pub use ui::Ui;

/// The version of kiln, reported by `packer_version` and `kiln version`.
pub const KILN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Packer version kiln is compatible with; `{{packer_version}}` and
/// `min_packer_version` compare against this.
pub const PACKER_COMPAT_VERSION: &str = "1.6.6";
