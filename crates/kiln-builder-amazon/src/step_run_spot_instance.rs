//! `StepRunSpotInstance` (Packer's): with `spot_price`, launches the source
//! instance as a spot instance the way Packer does: a launch template
//! (`packer-fleet-launch-template-<random>`, tagged with `spot_tags`)
//! carries the whole launch (image, key pair, security groups, subnet,
//! block devices, user data, IAM instance profile, `metadata_options`, run
//! and volume tags, the spot market options with `spot_price` and
//! `block_duration_minutes`), and an `instant` EC2 fleet asks for one spot
//! instance of it, of `instance_type` or of the cheapest available of
//! `spot_instance_types`. It then waits until the instance runs, tags the
//! spot instance request with `spot_tags`, the instance with the run tags
//! and its volumes with the volume tags. The launch template and the
//! instance are recorded as soon as EC2 returns them; cleanup terminates
//! the instance (and waits) and deletes the launch template. The waits
//! are kiln-cloud's generic instance waits
//! ([`kiln_cloud::steps::instance`]) over EC2's calls
//! ([`crate::cloud::instance`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, CreditSpecificationRequest, DefaultTargetCapacityType, Filter,
    FleetLaunchTemplateConfigRequest, FleetLaunchTemplateOverridesRequest,
    FleetLaunchTemplateSpecificationRequest, FleetType, Instance, InstanceType,
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMarketOptionsRequest, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateInstanceMetadataTagsState,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, LaunchTemplatePlacementRequest,
    LaunchTemplateSpotMarketOptionsRequest, LaunchTemplateTagSpecificationRequest, MarketType,
    RequestLaunchTemplateData, ResourceType, TagSpecification, TargetCapacitySpecificationRequest,
    Tenancy,
};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, Market, MetadataOptions};
use kiln_cloud::steps::instance::{terminate_and_wait, wait_running, InstanceState};

use crate::step_run_source_instance::{
    finish_launch, launch_mappings, profile_not_ready, run_tags, source_image_id, user_data,
};
use crate::{client, tags, AmazonState};

/// See the module docs.
pub struct StepRunSpotInstance {
    config: Arc<Config>,
    /// The launch template to delete.
    launch_template: Option<String>,
    /// The instance to terminate.
    instance_id: Option<String>,
}

impl StepRunSpotInstance {
    /// A spot launch step.
    pub fn new(config: Arc<Config>) -> Self {
        StepRunSpotInstance {
            config,
            launch_template: None,
            instance_id: None,
        }
    }
}

/// A launch template's block device mapping from a `RunInstances` one.
fn template_mapping(b: &BlockDeviceMapping) -> LaunchTemplateBlockDeviceMappingRequest {
    let mut m = LaunchTemplateBlockDeviceMappingRequest::builder()
        .set_device_name(b.device_name().map(str::to_string))
        .set_virtual_name(b.virtual_name().map(str::to_string))
        .set_no_device(b.no_device().map(str::to_string));
    if let Some(e) = b.ebs() {
        m = m.ebs(
            LaunchTemplateEbsBlockDeviceRequest::builder()
                .set_delete_on_termination(e.delete_on_termination())
                .set_encrypted(e.encrypted())
                .set_iops(e.iops())
                .set_kms_key_id(e.kms_key_id().map(str::to_string))
                .set_snapshot_id(e.snapshot_id().map(str::to_string))
                .set_throughput(e.throughput())
                .set_volume_size(e.volume_size())
                .set_volume_type(e.volume_type().cloned())
                .build(),
        );
    }
    m.build()
}

/// `metadata_options` for a launch template.
fn template_metadata(m: &MetadataOptions) -> LaunchTemplateInstanceMetadataOptionsRequest {
    LaunchTemplateInstanceMetadataOptionsRequest::builder()
        .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
            m.http_endpoint.as_str(),
        ))
        .http_tokens(LaunchTemplateHttpTokensState::from(m.http_tokens.as_str()))
        .http_put_response_hop_limit(m.http_put_response_hop_limit)
        .instance_metadata_tags(LaunchTemplateInstanceMetadataTagsState::from(
            m.instance_metadata_tags.as_str(),
        ))
        .build()
}

/// The spot market options: `spot_price` (no maximum with `auto`: the
/// on-demand price caps it) and `block_duration_minutes`.
fn market_options(c: &Config) -> LaunchTemplateInstanceMarketOptionsRequest {
    let mut spot = LaunchTemplateSpotMarketOptionsRequest::builder();
    if let Market::SpotMax(p) = &c.market {
        spot = spot.max_price(p);
    }
    if c.block_duration_minutes != 0 {
        spot = spot.block_duration_minutes(c.block_duration_minutes);
    }
    LaunchTemplateInstanceMarketOptionsRequest::builder()
        .market_type(MarketType::Spot)
        .spot_options(spot.build())
        .build()
}

/// A launch template name: Packer's prefix and 7 random characters.
fn template_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("packer-fleet-launch-template-{}", &id[..7])
}

/// The spot instance request behind `instance` (EC2 names it on the
/// instance; otherwise it is looked up by instance id).
async fn spot_request(
    ec2: &crate::client::Ec2,
    instance: &Instance,
) -> Result<Option<String>, StepError> {
    if let Some(r) = instance
        .spot_instance_request_id()
        .filter(|r| !r.is_empty())
    {
        return Ok(Some(r.to_string()));
    }
    let id = instance.instance_id().unwrap_or_default();
    let r = ec2
        .send(
            ec2.describe_spot_instance_requests()
                .filters(Filter::builder().name("instance-id").values(id).build()),
            |r| r.send(),
        )
        .await
        .map_err(|e| StepError::msg(format!("error finding the spot request of `{id}`: {}", e)))?;
    Ok(r.spot_instance_requests()
        .first()
        .and_then(|s| s.spot_instance_request_id())
        .map(str::to_string))
}

#[async_trait]
impl Step<AmazonState> for StepRunSpotInstance {
    fn name(&self) -> &'static str {
        "StepRunSpotInstance"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = self.config.clone();
        cx.ui.say("Launching a spot AWS instance...");
        let image_id = source_image_id(state)?;
        cx.ui.say("Interpolating tags for spot instance...");
        let (instance_tags, volume_tags) = run_tags(&c, state)?;
        let spot_tags = tags::render(&c, state, &state.region, &c.spot_tags)?;
        tags::report(cx.ui, &instance_tags);
        tags::report(cx.ui, &volume_tags);

        cx.ui.message("Loading User Data File...");
        let user_data = user_data(&c)?;
        cx.ui.message("Creating Spot Fleet launch template...");
        let mut data = RequestLaunchTemplateData::builder()
            .set_block_device_mappings(
                Some(
                    launch_mappings(&c)
                        .iter()
                        .map(template_mapping)
                        .collect::<Vec<_>>(),
                )
                .filter(|m| !m.is_empty()),
            )
            .disable_api_termination(false)
            .ebs_optimized(c.ebs_optimized)
            .image_id(&image_id)
            .instance_market_options(market_options(&c))
            .set_user_data(user_data)
            .set_key_name(state.key_pair_name.clone());
        if let Some(p) = &state.iam_instance_profile {
            data = data.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(p)
                    .build(),
            );
        }
        if state.availability_zone.is_some() || c.tenancy.is_some() {
            data = data.placement(
                LaunchTemplatePlacementRequest::builder()
                    .set_availability_zone(state.availability_zone.clone())
                    .set_tenancy(c.tenancy.as_deref().map(Tenancy::from))
                    .build(),
            );
        }
        match &state.subnet_id {
            Some(subnet) => {
                let mut nic = LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .set_groups(Some(state.security_group_ids.clone()))
                    .delete_on_termination(true)
                    .device_index(0)
                    .subnet_id(subnet);
                if c.associate_public_ip_address {
                    nic = nic.associate_public_ip_address(true);
                }
                data = data.network_interfaces(nic.build());
            }
            None => {
                data = data.set_security_group_ids(Some(state.security_group_ids.clone()));
            }
        }
        if c.enable_t2_unlimited {
            data = data.credit_specification(
                CreditSpecificationRequest::builder()
                    .cpu_credits("unlimited")
                    .build(),
            );
        }
        if let Some(m) = &c.metadata_options {
            data = data.metadata_options(template_metadata(m));
        }
        if !c.instance_type.is_empty() {
            data = data.instance_type(InstanceType::from(c.instance_type.as_str()));
        }
        for (kind, pairs) in [
            (ResourceType::Instance, &instance_tags),
            (ResourceType::NetworkInterface, &instance_tags),
            (ResourceType::Volume, &volume_tags),
        ] {
            if !pairs.is_empty() || !state.run_tags.is_empty() {
                data = data.tag_specifications(
                    LaunchTemplateTagSpecificationRequest::builder()
                        .resource_type(kind)
                        .set_tags(Some(tags::with_run(state, pairs)))
                        .build(),
                );
            }
        }
        let name = template_name();
        let mut req = state
            .ec2
            .create_launch_template()
            .launch_template_name(&name)
            .version_description("template generated by packer for launching spot instances")
            .launch_template_data(data.build());
        if !spot_tags.is_empty() || !state.run_tags.is_empty() {
            req = req.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::LaunchTemplate)
                    .set_tags(Some(tags::with_run(state, &spot_tags)))
                    .build(),
            );
        }
        self.launch_template = Some(name.clone());
        // The same token on every retry: no second template after a lost
        // reply.
        let req = req.client_token(uuid::Uuid::new_v4().to_string());
        let lt = state.ec2.send(req, |r| r.send()).await.map_err(|e| {
            StepError::msg(format!(
                "error creating launch template for spot instance: {}",
                e
            ))
        })?;
        let lt_id = lt
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_string();
        cx.ui
            .message(&format!("Created Spot Fleet launch template: {lt_id}"));

        let mut config = FleetLaunchTemplateConfigRequest::builder().launch_template_specification(
            FleetLaunchTemplateSpecificationRequest::builder()
                .launch_template_name(&name)
                .version("1")
                .build(),
        );
        for t in &c.spot_instance_types {
            config = config.overrides(
                FleetLaunchTemplateOverridesRequest::builder()
                    .instance_type(InstanceType::from(t.as_str()))
                    .build(),
            );
        }
        let fleet = state
            .ec2
            .create_fleet()
            .launch_template_configs(config.build())
            .replace_unhealthy_instances(false)
            .target_capacity_specification(
                TargetCapacitySpecificationRequest::builder()
                    .total_target_capacity(1)
                    .default_target_capacity_type(DefaultTargetCapacityType::Spot)
                    .build(),
            )
            .r#type(FleetType::Instant);
        // Retried while EC2 has no capacity or cannot see a new instance
        // profile yet, as in Packer.
        let mut attempt = 0u64;
        let id = loop {
            // A token per launch, the same on every retry of it: a fleet
            // whose reply was lost is not launched twice.
            let fleet = fleet.clone().client_token(uuid::Uuid::new_v4().to_string());
            let why = match state.ec2.send(fleet, |r| r.send()).await {
                Ok(out) => {
                    if let Some(id) = out.instances().iter().flat_map(|i| i.instance_ids()).next() {
                        break id.clone();
                    }
                    let errs: Vec<String> = out
                        .errors()
                        .iter()
                        .map(|e| {
                            format!(
                                "{}: {}",
                                e.error_code().unwrap_or("error"),
                                e.error_message().unwrap_or_default()
                            )
                        })
                        .collect();
                    let retry = out.errors().iter().any(|e| {
                        e.error_code() == Some("InsufficientInstanceCapacity")
                            || profile_not_ready(e.error_message().unwrap_or_default())
                    });
                    let msg = format!(
                        "error waiting for fleet request ({}) to become ready: {}",
                        out.fleet_id().unwrap_or_default(),
                        if errs.is_empty() {
                            "no instance was launched".to_string()
                        } else {
                            errs.join("; ")
                        }
                    );
                    (msg, retry)
                }
                Err(e) => {
                    let msg = e.to_string();
                    let retry = profile_not_ready(&msg);
                    (format!("error launching spot instance: {msg}"), retry)
                }
            };
            if !why.1 || attempt >= 10 {
                return Err(StepError::msg(why.0));
            }
            attempt += 1;
            tokio::select! {
                _ = cx.cancel.cancelled() => return Err(StepError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(500 * attempt)) => {}
            }
        };
        self.instance_id = Some(id.clone());
        cx.ui.message(&format!("Instance ID: {id}"));
        cx.ui
            .say(&format!("Waiting for instance ({id}) to become ready..."));
        let instance = wait_running(
            &state.instance_api(),
            &client::poller(c.polling),
            &id,
            &cx.cancel,
        )
        .await?;

        if !spot_tags.is_empty() {
            tags::report(cx.ui, &spot_tags);
            let Some(sir) = spot_request(&state.ec2, &instance).await? else {
                return Err(StepError::msg(format!(
                    "error tagging spot request: instance `{id}` has no spot instance request"
                )));
            };
            state
                .ec2
                .send(
                    state
                        .ec2
                        .create_tags()
                        .resources(&sir)
                        .set_tags(Some(tags::with_run(state, &spot_tags))),
                    |r| r.send(),
                )
                .await
                .map_err(|e| StepError::msg(format!("error tagging spot request: {}", e)))?;
        } else if !state.run_tags.is_empty() {
            // The run tags on the spot request, for `kiln cleanup`; not
            // fatal: terminating the tagged instance ends the request too.
            if let Ok(Some(sir)) = spot_request(&state.ec2, &instance).await {
                if let Err(e) = state
                    .ec2
                    .send(
                        state
                            .ec2
                            .create_tags()
                            .resources(&sir)
                            .set_tags(Some(tags::with_run(state, &[]))),
                        |r| r.send(),
                    )
                    .await
                {
                    cx.ui.error(&format!(
                        "cannot add the run tags to spot request `{sir}`: {}",
                        e
                    ));
                }
            }
        }
        state
            .ec2
            .send(
                state
                    .ec2
                    .create_tags()
                    .resources(&id)
                    .set_tags(Some(tags::with_run(state, &instance_tags))),
                |r| r.send(),
            )
            .await
            .map_err(|e| StepError::msg(format!("error tagging source instance: {}", e)))?;
        let volumes: Vec<String> = instance
            .block_device_mappings()
            .iter()
            .filter_map(|b| b.ebs().and_then(|e| e.volume_id()))
            .map(str::to_string)
            .collect();
        if !volumes.is_empty() && (!volume_tags.is_empty() || !state.run_tags.is_empty()) {
            if !volume_tags.is_empty() {
                cx.ui.say("Adding tags to source EBS Volumes");
            }
            state
                .ec2
                .send(
                    state
                        .ec2
                        .create_tags()
                        .set_resources(Some(volumes))
                        .set_tags(Some(tags::with_run(state, &volume_tags))),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!("error tagging source EBS volumes on {id}: {}", e))
                })?;
        }
        finish_launch(&c, state, instance)?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        if let Some(id) = self.instance_id.take() {
            let poller = client::poller(self.config.polling);
            terminate_and_wait(&state.instance_api(), &poller, &id, cx.ui, &cx.cancel).await;
        }
        let Some(name) = self.launch_template.take() else {
            return;
        };
        if let Err(e) = state
            .ec2
            .send(
                state
                    .ec2
                    .delete_launch_template()
                    .launch_template_name(&name),
                |r| r.send(),
            )
            .await
        {
            let code = e.code().unwrap_or_default();
            if !code.starts_with("InvalidLaunchTemplateName.NotFound") {
                cx.ui.error(&format!(
                    "Error deleting the launch template `{name}`: {}",
                    e
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{EbsBlockDevice, VolumeType};

    #[test]
    fn template_mappings_keep_every_field() {
        let b = BlockDeviceMapping::builder()
            .device_name("/dev/sdb")
            .ebs(
                EbsBlockDevice::builder()
                    .volume_size(20)
                    .volume_type(VolumeType::Gp3)
                    .delete_on_termination(true)
                    .build(),
            )
            .build();
        let m = template_mapping(&b);
        assert_eq!(m.device_name(), Some("/dev/sdb"));
        let e = m.ebs().unwrap();
        assert_eq!(e.volume_size(), Some(20));
        assert_eq!(e.volume_type(), Some(&VolumeType::Gp3));
        assert_eq!(e.delete_on_termination(), Some(true));
        let n = template_mapping(
            &BlockDeviceMapping::builder()
                .device_name("xvdca")
                .no_device("")
                .build(),
        );
        assert_eq!(n.no_device(), Some(""));
        assert!(n.ebs().is_none());
    }

    #[test]
    fn template_names_look_like_packers() {
        let n = template_name();
        assert!(n.starts_with("packer-fleet-launch-template-"), "{n}");
        assert_eq!(n.len(), "packer-fleet-launch-template-".len() + 7);
    }
}
