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

use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Endpoints, Service};
pub use image::ImageConfig;
pub use run::{Eip, RunConfig, SourceImage};

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

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Decodes and validates with the process environment (`HW_*`); collects
/// every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &|name| std::env::var(name).ok())
}

/// Every key the builder accepts: its sections' and the communicator's.
pub fn builder_keys() -> Vec<&'static str> {
    [
        struct_fields::<access::RawAccess>(),
        struct_fields::<run::RawRun>(),
        struct_fields::<image::RawImage>(),
        kiln_ssh::field_names(),
    ]
    .concat()
}

/// [`prepare`] with `env` for the environment variables.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let all = builder_keys();
    let d = SectionDecoder::new(raw, &cx.interpolation, &all, &[]);
    // The first section also gets the unknown keys, to report them once.
    let raw_access: access::RawAccess = d.section(true, &mut errors);
    let raw_run: run::RawRun = d.section(false, &mut errors);
    let raw_image: image::RawImage = d.section(false, &mut errors);
    let decoded = !d.failed();
    let communicator = match kiln_ssh::prepare(raw, cx) {
        Ok(c) => c,
        Err(e) => {
            errors.0.extend(e.0);
            CommunicatorConfig::None
        }
    };
    if !decoded {
        return Err(errors.locate(raw));
    }
    let access = access::prepare(&raw_access, env, &mut errors);
    if let Some(sk) = &access.secret_key {
        cx.redactor.add(sk.expose().clone());
    }
    let run = run::prepare(&raw_run, &communicator, env, &mut errors);
    let image = image::prepare(&raw_image, &mut errors);
    if errors.is_empty() {
        Ok(Config {
            access,
            run,
            image,
            communicator,
        })
    } else {
        Err(errors.locate(raw))
    }
}
