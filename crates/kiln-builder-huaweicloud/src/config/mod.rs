//! The huaweicloud-ecs builder's configuration: the keys of Huawei's
//! plugin (`builder/ecs`: `AccessConfig`, `RunConfig`, `ImageConfig`, and
//! the older plugin's `config_drive` and `image_min_disk`), plus kiln's
//! `endpoints`, decoded with the communicator keys (kiln-ssh) and
//! validated into a typed [`Config`]. Pure: the environment (`HW_*`) comes
//! in as a lookup function; touches no network. Holds no resources.
//!
//! One file per section, each with its raw keys and a pure `prepare` that
//! collects every error: `access`, `run`, `image`. Keys no section knows
//! are reported once, with a suggestion.

mod access;
mod image;
mod run;
#[cfg(test)]
mod tests;

use kiln_cloud::config::{nonempty, process_env, Env, Template};
use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Endpoints, Service, DEFAULT_AUTH_URL};
pub use image::{ImageConfig, ImageType};
pub use run::{DataDisk, DataDiskSource, Eip, RunConfig, SourceImage};

/// The validated configuration the steps read.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach Huawei Cloud and as whom.
    pub access: AccessConfig,
    /// The server and its network.
    pub run: RunConfig,
    /// The image.
    pub image: ImageConfig,
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

/// Decodes and validates with the process environment (`HW_*`); collects
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
    let env = Env::new(env);
    let access = access::prepare(&raw_access, env, errors);
    if let Some(sk) = &access.secret_key {
        cx.redactor.add(sk.expose().clone());
    }
    let run = run::prepare(&raw_run, &communicator, env, errors);
    let image = image::prepare(&raw_image, errors);
    if image.kind == ImageType::FullEcs && run.vault_id.is_none() {
        errors.push(kiln_sdk::config::ConfigError::at(
            "vault_id",
            "`vault_id` must be specified when `image_type` is `full-ecs`",
        ));
    }
    t.finish(Config {
        access,
        run,
        image,
        communicator,
    })
}
