//! The openstack builder's configuration: the keys of Packer's `openstack`
//! builder (`AccessConfig`, `RunConfig`, `ImageConfig`), decoded with the
//! communicator keys (kiln-ssh) and validated into a typed [`Config`].
//! Pure but for reading `clouds.yaml`: the environment (`OS_*`) comes in
//! as a lookup function; touches no network. Holds no resources.
//!
//! One file per section, each with its raw keys and a pure `prepare` that
//! collects every error: `access` (with `clouds`), `run`, `image`. Keys no
//! section knows are reported once, with a suggestion.

mod access;
pub mod clouds;
mod image;
mod run;
#[cfg(test)]
mod tests;

use kiln_cloud::builder::temporary_name;
use kiln_cloud::config::{nonempty, process_env, Env, Template};
use kiln_sdk::config::{struct_fields, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Credential, Domain, Interface, Scope, User, ENDPOINT_TYPES};
pub use image::ImageConfig;
pub use run::{
    contains_net, parse_cidr, FloatingIp, ImageFilter, RunConfig, SourceImage, Volume, VISIBILITIES,
};

/// The validated configuration the steps read.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach the cloud and as whom.
    pub access: AccessConfig,
    /// The server and its network.
    pub run: RunConfig,
    /// The image.
    pub image: ImageConfig,
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

impl Config {
    /// The server's name: `instance_name`, else the image's.
    pub fn instance_name(&self) -> String {
        self.run
            .instance_name
            .clone()
            .unwrap_or_else(|| self.image.name.clone())
    }
}

/// Decodes and validates with the process environment (`OS_*`); collects
/// every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &process_env)
}

/// Every key the builder accepts: its sections' and the communicator's.
pub fn builder_keys() -> Vec<&'static str> {
    kiln_cloud::config::builder_keys(&[
        struct_fields::<access::RawAccess>(),
        struct_fields::<run::RawRun>(),
        struct_fields::<image::RawImage>(),
    ])
}

/// The access settings of the `OS_*` variables alone (and of the
/// clouds.yaml entry `OS_CLOUD` names), with the problems found in them:
/// `kiln cleanup`'s credentials.
pub fn access_from_env(env: &dyn Fn(&str) -> Option<String>) -> (AccessConfig, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    let access = access::prepare(&access::RawAccess::default(), Env::new(env), &mut errors);
    (access, errors)
}

/// [`prepare`] with `env` for the environment variables.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut t = Template::new(raw, cx, builder_keys());
    let raw_access: access::RawAccess = t.section();
    let raw_run: run::RawRun = t.section();
    let raw_image: image::RawImage = t.section();
    let communicator = t.communicator()?;
    let errors = &mut t.errors;
    let access = access::prepare(&raw_access, Env::new(env), errors);
    for s in access.secrets() {
        cx.redactor.add(s);
    }
    let run = run::prepare(&raw_run, &communicator, &temporary_name, errors);
    let image = image::prepare(&raw_image, errors);
    if image.disk_format.is_some() && run.volume.is_none() {
        errors.push(ConfigError::at(
            "image_disk_format",
            "`use_blockstorage_volume` must be true if `image_disk_format` is specified",
        ));
    }
    t.finish(Config {
        access,
        run,
        image,
        communicator,
    })
}
