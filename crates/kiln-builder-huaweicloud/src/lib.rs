//! The `huaweicloud-ecs` builder (Huawei's `packer-plugin-huaweicloud`,
//! `builder/ecs`): launches an ECS server from a source image in a
//! temporary VPC, subnet and security group (or the user's), reaches it
//! through an EIP (or its private address), provisions it over SSH, stops
//! it and makes an IMS image of it, shared with `image_members`.
//!
//! [`config`] holds the plugin's keys; [`client`] signs (SDK-HMAC-SHA256)
//! and sends the calls under kiln-cloud's retry policy; [`cloud`]
//! implements kiln-cloud's generic step traits on the client; `steps`
//! holds the steps that are Huawei's own. A build is the plugin's list of
//! steps over a typed [`HuaweiState`] (its project looked up through IAM
//! first when the template names none, [`project`]): availability zones,
//! flavor, key pair, source image, data disks, network, security group,
//! EIP, server (with its data disks), associate EIP, connect, provision,
//! clean temporary keys, stop, create image (`system` or `full-ecs`),
//! minimum disk, image members. Cleanup runs in reverse on success,
//! failure and Ctrl-C: it deletes the server (and waits), the EIP it
//! created, the security group, subnet and VPC it created and the key
//! pair, and on failure the image. The VPC, subnet, security group, EIP,
//! server and image carry kiln's run tags.

mod artifact;
pub mod cleanup;
pub mod client;
pub mod cloud;
pub mod config;
pub mod project;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_cloud::builder::{poller, temporary_name};
use kiln_cloud::steps::image::StepCreateImage;
use kiln_cloud::steps::instance::{StepRunInstance, StepStopInstance, StopMode};
use kiln_cloud::steps::key_pair::{rsa_by_default, SshLogin, StepKeyPair};
use kiln_cloud::steps::network::{
    IngressRule, NetworkPlan, NetworkState, SecurityGroupPlan, StepNetwork, StepSecurityGroup,
    TemporaryNetwork, TemporarySubnet,
};
use kiln_cloud::RetryPolicy;
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{Artifact, Builder};
use kiln_ssh::{SshCommunicator, StepCleanupTempKeys, StepConnect};
use serde_json::Value;

pub use artifact::{HuaweiArtifact, BUILDER_ID};
pub use config::Config;

use cloud::Hw;

kiln_cloud::cloud_builder! {
    /// Registers the `huaweicloud-ecs` builder type.
    factory HuaweicloudEcsBuilderFactory;
    /// A prepared huaweicloud-ecs builder.
    builder HuaweicloudEcsBuilder(Config);
    name "huaweicloud-ecs";
    generated &[];
    // Nova's key pair import takes RSA keys everywhere, and RSA is the
    // plugin's (the cloud made its keys).
    prepare |raw, cx| {
        let mut config = config::prepare(raw, cx)?;
        rsa_by_default(&mut config.communicator, raw);
        config
    }
}

/// An EIP: its id and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicIp {
    /// Its id.
    pub id: String,
    /// Its address.
    pub address: String,
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct HuaweiState {
    /// The client.
    pub hw: Hw,
    /// The availability zone.
    pub availability_zone: Option<String>,
    /// The flavor's id.
    pub flavor_id: Option<String>,
    /// The source image's id.
    pub source_image: Option<String>,
    /// `data_disks` as `CreatePostPaidServers`' `data_volumes`.
    pub data_volumes: Vec<Value>,
    /// The key pair the server is launched with.
    pub key_pair_name: Option<String>,
    /// The VPC.
    pub vpc_id: Option<String>,
    /// The subnets.
    pub subnet_ids: Vec<String>,
    /// The security groups.
    pub security_group_ids: Vec<String>,
    /// The EIP.
    pub eip: Option<PublicIp>,
    /// The server.
    pub server_id: Option<String>,
    /// The server's port the EIP is bound to.
    pub port_id: Option<String>,
    /// The address the communicator connects to.
    pub ssh_host: Option<String>,
    /// The connection.
    pub communicator: Option<Arc<SshCommunicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// The image, by region (one).
    pub images: BTreeMap<String, String>,
    /// The run tags (`kiln:run`, `kiln:build`).
    pub run_tags: Vec<(String, String)>,
}

kiln_cloud::impl_ssh_state!(HuaweiState);

kiln_cloud::impl_key_pair_state!(HuaweiState, hw: Hw);

impl NetworkState for HuaweiState {
    type Api = Hw;
    fn network_api(&self) -> &Hw {
        &self.hw
    }
    fn run_tags(&self) -> &[(String, String)] {
        &self.run_tags
    }
    fn set_network(&mut self, id: String) {
        self.vpc_id = Some(id);
    }
    fn set_subnet(&mut self, id: String) {
        if !self.subnet_ids.contains(&id) {
            self.subnet_ids.insert(0, id);
        }
    }
}

kiln_cloud::impl_security_group_state!(HuaweiState, hw: Hw, network: vpc_id, groups: security_group_ids);

kiln_cloud::impl_instance_state!(HuaweiState, hw: Hw, instance: server_id);

kiln_cloud::impl_image_state!(HuaweiState, Hw, {
    fn build_region(&self) -> String {
        self.hw.client.region().to_string()
    }
    fn image_api(&self, _region: &str) -> Hw {
        self.hw.clone()
    }
    fn run_tags(&self) -> &[(String, String)] {
        &self.run_tags
    }
});

/// How long servers, VPCs, subnets and EIPs may take (the plugin's 10
/// minutes for servers).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

#[async_trait]
impl Builder for HuaweicloudEcsBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let c = &self.0.config;
        let access = project::resolve(&c.access, RetryPolicy::default(), &cx.cancel)
            .await
            .map_err(BuildError::msg)?;
        let client =
            client::Client::new(&access, RetryPolicy::default()).map_err(BuildError::msg)?;
        let SshLogin {
            ssh,
            plan,
            generated: data,
        } = SshLogin::decide_off_thread(
            &c.communicator,
            c.run.ssh_keypair_name.as_deref(),
            temporary_name,
            &self.0.redactor,
            cx.run_uuid,
        )
        .await
        .map_err(BuildError::msg)?;
        let port = ssh.as_ref().map(|s| s.port).unwrap_or(22);
        let mut state = HuaweiState {
            hw: Hw { client },
            availability_zone: None,
            flavor_id: None,
            source_image: None,
            data_volumes: Vec::new(),
            key_pair_name: None,
            vpc_id: None,
            subnet_ids: c.run.subnets.clone(),
            security_group_ids: Vec::new(),
            eip: None,
            server_id: None,
            port_id: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            images: BTreeMap::new(),
            run_tags: self.0.run_tags(cx.run_uuid),
        };
        let short = poller(DEFAULT_TIMEOUT);
        let image_poller = poller(c.image.timeout);
        let debug_key = self.0.debug_key(cx.debug, "ecs");
        let ssh = ssh.map(Arc::new);

        let network = match &c.run.vpc_id {
            Some(vpc) => NetworkPlan::Given {
                network: vpc.clone(),
                subnet: c.run.subnets[0].clone(),
            },
            None => NetworkPlan::Temporary {
                network: TemporaryNetwork {
                    name: temporary_name(),
                    cidr: cloud::network::VPC_CIDR.into(),
                },
                subnet: TemporarySubnet {
                    name: temporary_name(),
                    cidr: cloud::network::SUBNET_CIDR.into(),
                    zone: None,
                },
            },
        };
        let group = if c.run.security_groups.is_empty() {
            SecurityGroupPlan::Temporary {
                name: temporary_name(),
                rule: IngressRule {
                    port,
                    cidrs: vec!["0.0.0.0/0".into()],
                },
            }
        } else {
            SecurityGroupPlan::Given(c.run.security_groups.clone())
        };
        let mut steps: Vec<Box<dyn Step<HuaweiState>>> = vec![
            Box::new(steps::StepLoadZones {
                zone: c.run.availability_zone.clone(),
                enterprise_project_id: c.run.enterprise_project_id.clone(),
            }),
            Box::new(steps::StepLoadFlavor {
                flavor: c.run.flavor.clone(),
            }),
            Box::new(StepKeyPair::new(plan, debug_key)),
            Box::new(steps::StepSourceImageInfo {
                source: c.run.source_image.clone(),
            }),
        ];
        if !c.run.data_disks.is_empty() {
            steps.push(Box::new(steps::StepCheckVolumes {
                disks: c.run.data_disks.clone(),
            }));
        }
        steps.extend::<[Box<dyn Step<HuaweiState>>; 5]>([
            Box::new(StepNetwork::new(network, short.clone())),
            Box::new(StepSecurityGroup::new(group)),
            Box::new(steps::StepCreateEip {
                plan: c.run.eip.clone(),
                poller: short.clone(),
                created: None,
            }),
            Box::new(StepRunInstance::new(
                "StepRunSourceServer",
                steps::LaunchPlan { config: c.clone() },
                short.clone(),
            )),
            Box::new(steps::StepAssociateEip),
        ]);
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        if let Some(s) = &ssh {
            steps.push(Box::new(StepCleanupTempKeys::new(s.clone())));
        }
        steps.push(Box::new(StepStopInstance::new(
            "StepStopServer",
            StopMode::Api,
            short.clone(),
        )));
        steps.push(Box::new(StepCreateImage::new(
            "stepCreateImage",
            steps::ImagePlan {
                config: c.clone(),
                poller: image_poller.clone(),
            },
            image_poller.clone(),
        )));
        if let Some(min_disk) = c.image.min_disk {
            steps.push(Box::new(steps::StepUpdateImageMinDisk { min_disk }));
        }
        steps.push(Box::new(steps::StepAddImageMembers {
            members: c.image.members.clone(),
            auto_accept: c.image.auto_accept_members,
            poller: short.clone(),
        }));

        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        cleanup::release(&state.hw, &state.images, &state.run_tags, cx.ui.as_ref()).await;
        if state.images.is_empty() {
            return Ok(None);
        }
        // Secrets stay out of artifacts (and so out of manifests).
        let data = kiln_cloud::builder::artifact_data(&state.generated);
        Ok(Some(Arc::new(HuaweiArtifact {
            images: state.images.clone(),
            hw: state.hw.clone(),
            generated: data,
        })))
    }
}
