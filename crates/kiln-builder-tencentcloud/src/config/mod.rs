//! The tencentcloud-cvm builder's configuration: Packer 1.6.6's access,
//! image and run keys (and `security_token` and `subnet_cidr_block`, which
//! the newer packer-plugin-tencentcloud has), decoded with the
//! communicator keys (kiln-ssh) and validated into a typed [`Config`]:
//! enums for the source image and each network resource, checked disk and
//! charge types, `Secret`s for the secret key and token. Pure; it touches
//! no network; the only file it reads is `user_data_file`'s existence
//! check. Holds no resources.
//!
//! One file per section, each with its own raw keys and its own pure
//! `prepare` that collects every error, as Packer splits its tencentcloud
//! configuration: `access` (`TencentCloudAccessConfig`), `image`
//! (`TencentCloudImageConfig`), and `TencentCloudRunConfig`'s `run` and
//! `network`. This module decodes every section, runs each and gathers
//! all their errors at once.

mod access;
mod image;
mod network;
mod run;
#[cfg(test)]
mod tests;

use kiln_cloud::config::{nonempty, process_env, Env, Template};
use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{known_region, AccessConfig, REGIONS};
pub use image::ImageConfig;
pub use network::{
    NetworkConfig, SecurityGroup, Subnet, Vpc, DEFAULT_SUBNET_CIDR, DEFAULT_VPC_CIDR,
};
pub use run::{is_resource_id, DataDisk, RunConfig, SourceImage, DISK_TYPES};

/// The validated configuration the steps read.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials, region and zone.
    pub access: AccessConfig,
    /// The image to make.
    pub image: ImageConfig,
    /// The instance to launch.
    pub run: RunConfig,
    /// Where it is launched.
    pub network: NetworkConfig,
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

/// Every key the builder accepts: its sections' and the communicator's.
pub fn builder_keys() -> Vec<&'static str> {
    kiln_cloud::config::builder_keys(&[
        struct_fields::<access::RawAccess>(),
        struct_fields::<image::RawImage>(),
        struct_fields::<run::RawRun>(),
        struct_fields::<network::RawNetwork>(),
    ])
}

/// Decodes and validates with the process environment (`TENCENTCLOUD_*`);
/// collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &process_env)
}

/// [`prepare`] with `env` for the environment variables.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut t = Template::new(raw, cx, builder_keys());
    let raw_access: access::RawAccess = t.section();
    let raw_image: image::RawImage = t.section();
    let raw_run: run::RawRun = t.section();
    let raw_network: network::RawNetwork = t.section();
    let communicator = t.communicator()?;
    let errors = &mut t.errors;
    let access = access::prepare(&raw_access, Env::new(env), errors);
    for s in std::iter::once(&access.secret_key).chain(&access.security_token) {
        if !s.expose().is_empty() {
            cx.redactor.add(s.expose().clone());
        }
    }
    let image = image::prepare(
        &raw_image,
        &access.region,
        access.skip_region_validation,
        errors,
    );
    let run = run::prepare(&raw_run, &communicator, errors);
    let network = network::prepare(&raw_network, errors);
    t.finish(Config {
        access,
        image,
        run,
        network,
        communicator,
    })
}
