//! The amazon-ebs builder's configuration: Packer 1.6.6's access, AMI,
//! run and block-device keys, decoded with the communicator keys (kiln-ssh)
//! and validated into a typed [`Config`]: enums for `ssh_interface`,
//! `shutdown_behavior`, spot and the source AMI, `Duration`s for polling,
//! parsed timestamps for `deprecate_at`, `Secret`s for the secret key and
//! token, the VPC / security group filters, `metadata_options` and the
//! temporary IAM policy document. Pure; it touches no network; the only
//! file it reads is `user_data_file`'s existence check. Holds no
//! resources.
//!
//! One file per section, each with its own raw keys and its own pure
//! `prepare` that collects every error, as Packer splits its amazon
//! configuration: `access` and `assume_role` (`AccessConfig`), `polling`
//! (`AWSPollingConfig`), `image` and `image_options` (`AMIConfig`),
//! `block_devices` (`BlockDevices`), and `RunConfig`'s `source`,
//! `network`, `run`, `ssh_interface`, `spot`, `metadata` and `iam`;
//! `unsupported` names the keys kiln does not implement. This module
//! decodes every section (`decode`), runs each, gathers all their errors
//! at once and assembles the flat [`Config`] the steps read (`typed`).

mod access;
mod assume_role;
mod block_devices;
mod decode;
mod iam;
mod image;
mod image_options;
mod metadata;
mod network;
mod polling;
mod raw;
mod regions;
mod run;
mod source;
mod spot;
mod ssh_interface;
#[cfg(test)]
mod tests;
mod typed;
mod unsupported;

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::CommunicatorConfig;

pub use access::{AccessConfig, StaticCredentials};
pub use assume_role::AssumeRole;
pub use block_devices::BlockDevice;
pub use iam::{PolicyDocument, PolicyStatement};
pub use image::check_ami_name;
pub use image_options::ExistingAmi;
pub use metadata::MetadataOptions;
pub use network::SubnetFilter;
pub use polling::{Polling, DEFAULT_POLLING};
pub use regions::KNOWN_REGIONS;
pub use run::{ShutdownBehavior, StopInstance};
pub use source::SourceAmi;
pub use spot::Market;
pub use ssh_interface::SshInterface;
pub use typed::Config;

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Decodes and validates; collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let r = decode::decode(raw, cx, &mut errors);
    let communicator = kiln_ssh::prepare(raw, cx);
    let Some(r) = r else {
        errors
            .0
            .extend(communicator.err().into_iter().flat_map(|e| e.0));
        return Err(errors);
    };
    let communicator = match communicator {
        Ok(c) => c,
        Err(e) => {
            errors.0.extend(e.0);
            CommunicatorConfig::None
        }
    };
    for s in [&r.access.secret_key, &r.access.token]
        .into_iter()
        .flatten()
    {
        if !s.expose().is_empty() {
            cx.redactor.add(s.expose().clone());
        }
    }

    let e = &mut errors;
    unsupported::prepare(&r.unsupported, e);
    let access = access::prepare(&r.access, e);
    let polling = polling::prepare(&r.polling, e);
    let source = source::prepare(&r.source, &r.spot.spot_instance_types, e);
    let skip_regions = r.access.skip_region_validation;
    let image = image::prepare(&r.image, &access.region, skip_regions, e);
    let options = image_options::prepare(&r.options, e);
    let block_devices = block_devices::prepare(&r.block_devices, e);
    let network = network::prepare(&r.network, e);
    let run = run::prepare(&r.run, r.iam.instance_profile(), &communicator, e);
    let modified = r.options.ena_support == Some(true) || r.options.sriov_support;
    let market = spot::prepare(&r.spot, run.shutdown_behavior, modified, e);
    let metadata_options = metadata::prepare(&r.metadata, e);
    let temporary_iam_policy = iam::prepare(&r.iam, e);

    let sections = typed::Sections {
        access,
        polling,
        source,
        image,
        options,
        block_devices,
        network,
        run,
        market,
        metadata_options,
        temporary_iam_policy,
    };
    let config = Config::gather(sections, &r, communicator, cx.interpolation.clone());
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors.locate(raw))
    }
}

/// Why the build cannot start with this configuration, checked before any
/// API call: a feature `validate` accepts but kiln cannot run yet, or no
/// region at all (Packer 1.6.6's `validate` passes without one).
pub fn cannot_start(c: &Config) -> Option<String> {
    if c.access.region.is_empty() {
        return Some(
            "no AWS region: set `region` in the template, or `AWS_REGION` (or `AWS_DEFAULT_REGION`) in the environment".into(),
        );
    }
    if c.ssh_interface == SshInterface::SessionManager {
        return Some(
            "`ssh_interface = \"session_manager\"` is not supported by kiln yet: connect with `public_ip`, `private_ip`, `public_dns` or `private_dns` (through `ssh_bastion_host` if the instance has no reachable address)".into(),
        );
    }
    None
}
