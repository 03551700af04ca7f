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

use kiln_cloud::config::{nonempty, process_env, Env, Template};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;

pub use access::{AccessConfig, Credentials, METADATA_ENDPOINT};
pub use checks::{check_tag_keys, choice, endpoint_url};
pub use disks::{Disk, DiskCategory};
pub use image::{check_image_name, ForceDelete, ImageCopy};
pub use internet::{InternetChargeType, SecurityEnhancement};
pub use network::{Network, SecurityGroup, VSwitch, Vpc, DEFAULT_VSWITCH_CIDR};
pub use run::{StopInstance, DEFAULT_SNAPSHOT_TIMEOUT};
pub use source::SourceImage;
pub use typed::Config;

/// Decodes and validates with the process environment (`ALICLOUD_*`);
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
    let mut t = Template::new(raw, cx, decode::all_keys());
    let r = decode::decode(&mut t);
    let communicator = t.communicator()?;

    let e = &mut t.errors;
    let access = access::prepare(&r.access, Env::new(env), e);
    redact_credentials(&access, cx);
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
    t.finish(Config::gather(sections, passed, communicator))
}

/// Registers the secret key and the security token of `access` with the
/// redactor, so that no output shows them.
fn redact_credentials(access: &AccessConfig, cx: &PrepareContext) {
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
}

/// Every key the alicloud-ecs builder accepts: its sections' and the
/// communicator's. Packer's alicloud-import post-processor embeds the
/// builder's config, so it accepts them all.
pub fn builder_keys() -> Vec<&'static str> {
    decode::all_keys()
}

/// The access section's keys (`access_key`, `region`, …).
pub fn access_keys() -> &'static [&'static str] {
    kiln_sdk::config::struct_fields::<access::RawAccess>()
}

/// The access section alone, decoded from `d` (which reports unknown keys
/// when `unknown`) and validated with `env` for the environment, its
/// secrets registered with the redactor: for the alicloud-import
/// post-processor, whose config embeds this section as Packer's does.
pub fn prepare_access(
    d: &kiln_sdk::config::SectionDecoder<'_>,
    unknown: bool,
    cx: &PrepareContext,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut ConfigErrors,
) -> AccessConfig {
    let raw: access::RawAccess = d.section(unknown, errors);
    let access = access::prepare(&raw, Env::new(env), errors);
    redact_credentials(&access, cx);
    access
}
