//! The alicloud-ecs builder's configuration: Packer 1.6.6's access, image,
//! run and disk keys (and the newer keys of packer-plugin-alicloud that
//! kiln also takes: `ram_role_name`, `custom_endpoint_ecs`,
//! `image_family`, `security_enhancement_strategy`, `run_tags`,
//! `snapshot_tags`, `cidr_block`), decoded with the communicator keys
//! (kiln-ssh) and validated into a typed [`Config`]: enums for the source
//! image, `internet_charge_type`, `security_enhancement_strategy`, disk
//! categories, the network resources and stopping, a `Duration` for
//! `wait_snapshot_ready_timeout`, `Secret`s for the secret key and token.
//! Pure; it touches no network; the only file it reads is
//! `user_data_file`'s existence check. Holds no resources.
//!
//! One file per section, each with its own raw keys and its own pure
//! `prepare` that collects every error, as Packer splits its alicloud
//! configuration: `access` (`AlicloudAccessConfig`), `image`
//! (`AlicloudImageConfig`), `disks` (`AlicloudDiskDevices`) and
//! `RunConfig`'s `source`, `run`, `internet` and `network`. This module decodes every
//! section (`decode`), runs each, gathers all their errors at once and
//! assembles the flat [`Config`] the steps read (`typed`).

mod access;
mod checks;
mod decode;
mod disks;
mod image;
mod internet;
mod network;
mod raw;
mod run;
mod source;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_packer;
mod typed;

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, Credentials};
pub use disks::{Disk, DiskCategory};
pub use image::{check_image_name, ForceDelete, ImageCopy};
pub use internet::{InternetChargeType, SecurityEnhancement};
pub use network::{Network, SecurityGroup, VSwitch, Vpc, DEFAULT_VSWITCH_CIDR};
pub use run::{StopInstance, DEFAULT_SNAPSHOT_TIMEOUT};
pub use source::SourceImage;
pub use typed::Config;

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Decodes and validates with the process environment (`ALICLOUD_*`);
/// collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    prepare_with_env(raw, cx, &|name| std::env::var(name).ok())
}

/// [`prepare`] with `env` for the environment variables.
pub fn prepare_with_env(
    raw: &RawConfig,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let r = decode::decode(raw, cx, &mut errors);
    let communicator = kiln_ssh::prepare(raw, cx);
    let Some(r) = r else {
        errors
            .0
            .extend(communicator.err().into_iter().flat_map(|e| e.0));
        return Err(errors.locate(raw));
    };
    let communicator = match communicator {
        Ok(c) => c,
        Err(e) => {
            errors.0.extend(e.0);
            CommunicatorConfig::None
        }
    };

    let e = &mut errors;
    let access = access::prepare(&r.access, env, e);
    if let Credentials::Keys {
        secret_key,
        security_token,
        ..
    } = &access.credentials
    {
        for s in std::iter::once(secret_key).chain(security_token) {
            cx.redactor.add(s.expose().clone());
        }
    }
    let sections = typed::Sections {
        access,
        source: source::prepare(&r.source, e),
        run: run::prepare(&r.run, &communicator, e),
        internet: internet::prepare(&r.internet, e),
        network: network::prepare(&r.network, e),
        disks: disks::prepare(&r.disks, e),
        image: image::prepare(&r.image, cx.force, e),
    };
    let passed = typed::Passed {
        run_tags: r.run.run_tags,
        image_ignore_data_disks: r.image.image_ignore_data_disks,
        tags: r.image.tags,
        snapshot_tags: r.image.snapshot_tags,
    };
    let config = Config::gather(sections, passed, communicator);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors.locate(raw))
    }
}
