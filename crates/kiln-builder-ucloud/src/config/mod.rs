//! The ucloud-uhost builder's configuration: the plugin's access, image
//! and run keys, decoded with the communicator keys (kiln-ssh) and
//! validated into a typed [`Config`]: `Secret` for the private key, an enum
//! for `boot_disk_type`, the parsed `instance_type`, a `Duration` for
//! `wait_image_ready_timeout`. Pure; it touches no network; the only file
//! it looks at is `user_data_file` (that it exists). Holds no resources.
//!
//! One file per section, as the plugin splits them (`access`, `image`,
//! `run`), each with its own raw keys and a pure `prepare` that collects
//! every error; this module decodes the sections, runs each and gathers
//! all their errors at once. Keys no section (nor the communicator) knows
//! are reported once, with a suggestion.

mod access;
mod image;
mod run;
#[cfg(test)]
mod tests;

use kiln_cloud::config::{nonempty, process_env, Env, Template};
use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Credentials, DEFAULT_BASE_URL};
pub use image::{valid_image_name, ImageConfig, ImageCopy, DEFAULT_IMAGE_TIMEOUT};
pub use run::{parse_instance_type, password_problems, BootDiskType, InstanceType, RunConfig};

/// The validated configuration the steps read.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach UCloud.
    pub access: AccessConfig,
    /// The image and its copies.
    pub image: ImageConfig,
    /// The UHost.
    pub run: RunConfig,
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

/// Every key the builder takes (its sections' and the communicator's).
pub fn builder_keys() -> Vec<&'static str> {
    kiln_cloud::config::builder_keys(&[
        struct_fields::<access::RawAccess>(),
        struct_fields::<image::RawImage>(),
        struct_fields::<run::RawRun>(),
    ])
}

/// The access section's keys (for components that take only it, as the
/// `ucloud-import` post-processor).
pub fn access_keys() -> &'static [&'static str] {
    struct_fields::<access::RawAccess>()
}

/// Decodes (through `d`, with the unknown keys when `unknown`) and
/// validates the access section alone, registering the private key with
/// the redactor; for the `ucloud-import` post-processor.
pub fn prepare_access(
    d: &SectionDecoder,
    unknown: bool,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut ConfigErrors,
) -> AccessConfig {
    let raw: access::RawAccess = d.section(unknown, errors);
    redact_private_key(&raw, cx);
    let access = access::prepare(&raw, Env::new(env), errors);
    if let Credentials::Keys { private_key, .. } = &access.credentials {
        cx.redactor.add(private_key.expose().clone());
    }
    access
}

/// Registers the template's `private_key` with the redactor, even when
/// the section is invalid or incomplete: the errors quote the template's
/// source.
fn redact_private_key(raw: &access::RawAccess, cx: &PrepareContext) {
    if let Some(k) = raw.private_key.as_ref().filter(|k| !k.expose().is_empty()) {
        cx.redactor.add(k.expose().clone());
    }
}

/// Decodes and validates `raw`, reporting every problem at once.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &process_env)
}

/// [`prepare`] with the environment read through `env`.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut t = Template::new(raw, cx, builder_keys());
    let raw_access: access::RawAccess = t.section();
    redact_private_key(&raw_access, cx);
    let raw_image: image::RawImage = t.section();
    let raw_run: run::RawRun = t.section();
    let communicator = t.communicator()?;
    let access = access::prepare(&raw_access, Env::new(env), &mut t.errors);
    if let Credentials::Keys { private_key, .. } = &access.credentials {
        cx.redactor.add(private_key.expose().clone());
    }
    let password = match &communicator {
        CommunicatorConfig::Ssh(s) => s.credentials.password.as_ref().map(|p| p.expose().clone()),
        CommunicatorConfig::None => None,
    };
    let image = image::prepare(&raw_image, &mut t.errors);
    let run = run::prepare(&raw_run, password.as_deref(), &mut t.errors);
    t.finish(Config {
        access,
        image,
        run,
        communicator,
    })
}
