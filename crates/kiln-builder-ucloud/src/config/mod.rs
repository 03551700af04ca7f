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

use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Credentials, DEFAULT_BASE_URL};
pub use image::{valid_image_name, ImageConfig, ImageCopy, DEFAULT_IMAGE_TIMEOUT};
pub use run::{parse_instance_type, password_problems, BootDiskType, InstanceType, RunConfig};

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

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
    [
        struct_fields::<access::RawAccess>(),
        struct_fields::<image::RawImage>(),
        struct_fields::<run::RawRun>(),
        kiln_ssh::field_names(),
    ]
    .concat()
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
    let access = access::prepare(&raw, env, errors);
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
    prepare_with_env(raw, cx, &|name| std::env::var(name).ok())
}

/// [`prepare`] with the environment read through `env`.
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
    redact_private_key(&raw_access, cx);
    let raw_image: image::RawImage = d.section(false, &mut errors);
    let raw_run: run::RawRun = d.section(false, &mut errors);
    let communicator = match kiln_ssh::prepare(raw, cx) {
        Ok(c) => c,
        Err(e) => {
            errors.0.extend(e.0);
            CommunicatorConfig::None
        }
    };
    if d.failed() {
        return Err(errors.locate(raw));
    }
    let access = access::prepare(&raw_access, env, &mut errors);
    if let Credentials::Keys { private_key, .. } = &access.credentials {
        cx.redactor.add(private_key.expose().clone());
    }
    let password = match &communicator {
        CommunicatorConfig::Ssh(s) => s.credentials.password.as_ref().map(|p| p.expose().clone()),
        CommunicatorConfig::None => None,
    };
    let image = image::prepare(&raw_image, &mut errors);
    let run = run::prepare(&raw_run, password.as_deref(), &mut errors);
    if errors.is_empty() {
        Ok(Config {
            access,
            image,
            run,
            communicator,
        })
    } else {
        Err(errors.locate(raw))
    }
}
