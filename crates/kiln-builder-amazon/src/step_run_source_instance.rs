//! `StepRunSourceInstance` (Packer's): launches one on-demand instance of
//! the source image through kiln-cloud's generic launch step
//! ([`kiln_cloud::steps::instance::StepRunInstance`], EC2's calls in
//! [`crate::cloud::instance`]). What is EC2's lives here: the
//! `RunInstances` request ([`OnDemandLaunch`]: the key pair, security
//! groups, subnet, block devices plus `no_ephemeral`'s empty mappings,
//! user data, IAM instance profile, `metadata_options`, run and volume
//! tags, with Packer's messages) and, once it runs, the address to connect
//! to (`ssh_interface`; `ssh_host` overrides it). The generic step records
//! the instance as soon as EC2 returns it, waits until it is running
//! (checking at once, then every `aws_polling` delay, through the
//! process's shared instance lookups, [`crate::lookup`]), and its cleanup
//! terminates the instance and waits until it is gone.
//! Spot instances are launched by `StepRunSpotInstance`, which shares the
//! helpers here.

use std::sync::Arc;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, CreditSpecificationRequest, EbsBlockDevice, HttpTokensState,
    IamInstanceProfileSpecification, Instance, InstanceMetadataEndpointState,
    InstanceMetadataOptionsRequest, InstanceMetadataTagsState,
    InstanceNetworkInterfaceSpecification, Placement, ResourceType,
    ShutdownBehavior as Ec2Shutdown, TagSpecification, Tenancy, VolumeType,
};
use base64::Engine;
use kiln_cloud::steps::instance::{LaunchPlan, StepRunInstance};
use kiln_sdk::generated;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use kiln_ssh::CommunicatorConfig;

use crate::cloud::instance::Ec2Launch;
use crate::config::{BlockDevice, Config, MetadataOptions, SshInterface};
use crate::{client, tags, AmazonState};

/// The on-demand launch: the `RunInstances` request from the config and
/// the state, and the address to connect to once the instance runs.
pub struct OnDemandLaunch {
    config: Arc<Config>,
}

/// The on-demand launch step (Packer's `StepRunSourceInstance`).
pub fn step(config: Arc<Config>) -> StepRunInstance<OnDemandLaunch> {
    let poller = client::poller(config.polling);
    StepRunInstance::new("StepRunSourceInstance", OnDemandLaunch { config }, poller)
}

/// EC2 block device mappings from the template's.
pub fn mappings(devices: &[BlockDevice]) -> Vec<BlockDeviceMapping> {
    devices
        .iter()
        .map(|d| {
            let mut m = BlockDeviceMapping::builder().device_name(&d.device_name);
            if d.no_device {
                return m.no_device("").build();
            }
            if let Some(v) = &d.virtual_name {
                if v.starts_with("ephemeral") {
                    return m.virtual_name(v).build();
                }
            }
            let mut ebs = EbsBlockDevice::builder().delete_on_termination(d.delete_on_termination);
            if let Some(t) = &d.volume_type {
                ebs = ebs.volume_type(VolumeType::from(t.as_str()));
            }
            if let Some(s) = d.volume_size {
                ebs = ebs.volume_size(s);
            }
            if let Some(i) = d.iops {
                ebs = ebs.iops(i);
            }
            if let Some(t) = d.throughput {
                ebs = ebs.throughput(t);
            }
            if let Some(s) = &d.snapshot_id {
                ebs = ebs.snapshot_id(s);
            }
            if let Some(e) = d.encrypted {
                ebs = ebs.encrypted(e);
            }
            if let Some(k) = &d.kms_key_id {
                ebs = ebs.kms_key_id(k);
            }
            m = m.ebs(ebs.build());
            m.build()
        })
        .collect()
}

/// `no_ephemeral`: Packer maps the devices EC2 gives instance store
/// volumes by default (`xvdca`-`xvdcz`) to no device, so they do not show
/// up (Windows guests).
pub fn no_ephemeral_mappings() -> Vec<BlockDeviceMapping> {
    ('a'..='z')
        .map(|l| {
            BlockDeviceMapping::builder()
                .device_name(format!("xvdc{l}"))
                .no_device("")
                .build()
        })
        .collect()
}

/// The launch's block device mappings: `launch_block_device_mappings`,
/// then `no_ephemeral`'s.
pub fn launch_mappings(c: &Config) -> Vec<BlockDeviceMapping> {
    let mut m = mappings(&c.launch_block_devices);
    if c.no_ephemeral {
        m.extend(no_ephemeral_mappings());
    }
    m
}

/// `metadata_options` for `RunInstances`.
pub fn metadata_request(m: &MetadataOptions) -> InstanceMetadataOptionsRequest {
    InstanceMetadataOptionsRequest::builder()
        .http_endpoint(InstanceMetadataEndpointState::from(
            m.http_endpoint.as_str(),
        ))
        .http_tokens(HttpTokensState::from(m.http_tokens.as_str()))
        .http_put_response_hop_limit(m.http_put_response_hop_limit)
        .instance_metadata_tags(InstanceMetadataTagsState::from(
            m.instance_metadata_tags.as_str(),
        ))
        .build()
}

/// Whether a launch failed only because a new instance profile is not
/// visible to EC2 yet (IAM is eventually consistent; Packer retries).
pub fn profile_not_ready(message: &str) -> bool {
    message.contains("Invalid IAM Instance Profile")
}

/// The address to connect to, by `ssh_interface` (Packer's `SSHHost`).
pub fn instance_host(i: &Instance, iface: SshInterface) -> Option<String> {
    let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    match iface {
        SshInterface::PublicIp => nonempty(i.public_ip_address()),
        SshInterface::PrivateIp => nonempty(i.private_ip_address()),
        SshInterface::PublicDns => nonempty(i.public_dns_name()),
        SshInterface::PrivateDns => nonempty(i.private_dns_name()),
        // Never reached: such a build stops before launching anything.
        SshInterface::SessionManager => None,
        SshInterface::Default => {
            if nonempty(i.vpc_id()).is_some() {
                nonempty(i.public_ip_address()).or_else(|| nonempty(i.private_ip_address()))
            } else {
                nonempty(i.public_dns_name())
                    .or_else(|| nonempty(i.public_ip_address()))
                    .or_else(|| nonempty(i.private_ip_address()))
            }
        }
    }
}

/// The id of the AMI both launch steps start from: the checkpoint AMI a
/// restored `-incremental` build starts from (not checked: moto reports
/// `standard` for the AMIs it makes; ours are EBS-backed by
/// construction), else the source AMI, checked to be EBS-backed when
/// building.
pub fn source_image_id(state: &AmazonState) -> Result<String, StepError> {
    if let Some(ami) = &state.restore_ami {
        return Ok(ami.clone());
    }
    let image = state.source_image.as_ref();
    let Some(image_id) = image.and_then(|i| i.image_id()).map(str::to_string) else {
        return Err(StepError::msg("no source image was found"));
    };
    let root = image
        .and_then(|i| i.root_device_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_default();
    if root != "ebs" && state.purpose == crate::Purpose::Build {
        return Err(StepError::msg(format!(
            "the source AMI `{image_id}` has root device type `{root}`: amazon-ebs needs an EBS-backed (`ebs`) source AMI"
        )));
    }
    Ok(image_id)
}

/// The launched instance's tags (`run_tags`, with Packer's default `Name`)
/// and its volumes' tags (`run_volume_tags`), rendered.
pub fn run_tags(c: &Config, state: &AmazonState) -> Result<(Tags, Tags), StepError> {
    let mut run_tags = c.run_tags.clone();
    run_tags
        .entry("Name".to_string())
        .or_insert_with(|| "Packer Builder".to_string());
    let instance_tags = tags::render(c, state, &state.region, &run_tags)?;
    let volume_tags = tags::render(c, state, &state.region, &c.run_volume_tags)?;
    Ok((instance_tags, volume_tags))
}

/// Rendered tags: (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// User data, base64-encoded unless it already is (as Packer does).
pub fn user_data(c: &Config) -> Result<Option<String>, StepError> {
    let raw = match (&c.user_data, &c.user_data_file) {
        (_, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
            StepError::msg(format!(
                "problem reading user data file `{}`: {e}",
                f.display()
            ))
        })?,
        (Some(s), None) => s.clone(),
        (None, None) => return Ok(None),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    if b64.decode(raw.as_bytes()).is_ok() {
        Ok(Some(raw))
    } else {
        Ok(Some(b64.encode(raw.as_bytes())))
    }
}

impl LaunchPlan<AmazonState> for OnDemandLaunch {
    fn request(&self, ui: &dyn Ui, state: &AmazonState) -> Result<Ec2Launch, StepError> {
        let c = &self.config;
        let user_data = user_data(c)?;
        ui.say("Launching a source AWS instance...");
        let image_id = source_image_id(state)?;
        ui.say("Adding tags to source instance");
        let (instance_tags, volume_tags) = run_tags(c, state)?;
        tags::report(ui, &instance_tags);
        tags::report(ui, &volume_tags);

        let mut req = state
            .ec2
            .run_instances()
            .image_id(&image_id)
            .instance_type(c.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            .ebs_optimized(c.ebs_optimized)
            .instance_initiated_shutdown_behavior(Ec2Shutdown::from(c.shutdown_behavior.as_str()))
            .set_block_device_mappings(Some(launch_mappings(c)).filter(|m| !m.is_empty()))
            .set_user_data(user_data)
            .set_key_name(state.key_pair_name.clone())
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tags::with_run(state, &instance_tags)))
                    .build(),
            );
        if !volume_tags.is_empty() || !state.run_tags.is_empty() {
            req = req.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(tags::with_run(state, &volume_tags)))
                    .build(),
            );
        }
        if let Some(p) = &state.iam_instance_profile {
            req = req
                .iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
        }
        if let Some(m) = &c.metadata_options {
            req = req.metadata_options(metadata_request(m));
        }
        if state.availability_zone.is_some() || c.tenancy.is_some() {
            req = req.placement(
                Placement::builder()
                    .set_availability_zone(state.availability_zone.clone())
                    .set_tenancy(c.tenancy.as_deref().map(Tenancy::from))
                    .build(),
            );
        }
        if c.enable_t2_unlimited {
            req = req.credit_specification(
                CreditSpecificationRequest::builder()
                    .cpu_credits("unlimited")
                    .build(),
            );
        }
        match (&state.subnet_id, c.associate_public_ip_address) {
            (Some(subnet), true) => {
                req = req.network_interfaces(
                    InstanceNetworkInterfaceSpecification::builder()
                        .device_index(0)
                        .associate_public_ip_address(true)
                        .subnet_id(subnet)
                        .set_groups(Some(state.security_group_ids.clone()))
                        .delete_on_termination(true)
                        .build(),
                );
            }
            (subnet, _) => {
                req = req
                    .set_subnet_id(subnet.clone())
                    .set_security_group_ids(Some(state.security_group_ids.clone()));
            }
        }
        Ok(Ec2Launch {
            request: req,
            run_tags: state.run_tags.clone(),
            subnet_given: state.subnet_id.is_some(),
        })
    }

    fn running(&self, state: &mut AmazonState, instance: Instance) -> Result<(), StepError> {
        finish_launch(&self.config, state, instance)
    }
}

/// Records the running instance and the address the communicator uses.
pub fn finish_launch(
    c: &Config,
    state: &mut AmazonState,
    instance: Instance,
) -> Result<(), StepError> {
    if let CommunicatorConfig::Ssh(s) = &c.communicator {
        let host = if s.host.is_empty() {
            let Some(h) = instance_host(&instance, c.ssh_interface) else {
                return Err(StepError::msg(format!(
                    "couldn't determine an address for instance `{}` (`ssh_interface`)",
                    instance.instance_id().unwrap_or_default()
                )));
            };
            state.ssh_host = Some(h.clone());
            h
        } else {
            s.host.clone()
        };
        state.generated.insert(generated::HOST.into(), host);
    }
    state.instance = Some(instance);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ephemeral_maps_xvdca_to_xvdcz_to_no_device() {
        let m = no_ephemeral_mappings();
        assert_eq!(m.len(), 26);
        assert_eq!(m[0].device_name(), Some("xvdca"));
        assert_eq!(m[25].device_name(), Some("xvdcz"));
        assert!(m
            .iter()
            .all(|b| b.no_device() == Some("") && b.ebs().is_none()));
    }

    #[test]
    fn metadata_options_map_to_the_api() {
        let r = metadata_request(&MetadataOptions {
            http_endpoint: "enabled".into(),
            http_tokens: "required".into(),
            http_put_response_hop_limit: 3,
            instance_metadata_tags: "enabled".into(),
        });
        assert_eq!(r.http_tokens(), Some(&HttpTokensState::Required));
        assert_eq!(r.http_put_response_hop_limit(), Some(3));
        assert_eq!(
            r.instance_metadata_tags(),
            Some(&InstanceMetadataTagsState::Enabled)
        );
        assert_eq!(
            r.http_endpoint(),
            Some(&InstanceMetadataEndpointState::Enabled)
        );
    }

    #[test]
    fn retries_only_a_profile_ec2_cannot_see_yet() {
        assert!(profile_not_ready(
            "Value (packer-1) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
        ));
        assert!(!profile_not_ready("InvalidAMIID.NotFound"));
    }
}
