//! The `tencentcloud-cvm` builder (Packer's `builder/tencentcloud/cvm`):
//! launches a CVM instance from a source image in a temporary VPC, subnet
//! and security group, reaches it over its public (or private) address,
//! provisions it over SSH, detaches the temporary key pair and makes a
//! custom image of it, shared with accounts and copied to other regions.
//!
//! [`config`] holds Packer 1.6.6's keys; [`client`] signs
//! (TC3-HMAC-SHA256) and sends the calls under kiln-cloud's retry policy;
//! [`cloud`] implements kiln-cloud's generic step traits on the clients;
//! `steps` holds the steps that are Tencent's own. A build is Packer's
//! list of steps over a typed [`TencentState`]; cleanup runs in reverse on
//! success, failure and Ctrl-C: it terminates the instance (and waits),
//! deletes the security group, subnet, VPC and key pair, and on failure
//! the images already made. The key pair, VPC, subnet, security group,
//! instance and images carry kiln's run tags, so that [`cleanup`] (`kiln
//! cleanup -cloud=tencentcloud`) finds what a killed build left; a
//! successful build takes them off its images.

mod artifact;
pub mod cleanup;
pub mod client;
pub mod cloud;
pub mod config;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_cloud::builder::poller;
use kiln_cloud::steps::image::{
    CopyTarget, ImageChange, Sharing, StepCopyImage, StepCreateImage, StepShareImage,
};
use kiln_cloud::steps::instance::StepRunInstance;
use kiln_cloud::steps::key_pair::{rsa_by_default, KeyPairPlan, SshLogin, StepKeyPair};
use kiln_cloud::steps::network::{
    NetworkPlan, StepNetwork, StepSecurityGroup, TemporaryNetwork, TemporarySubnet,
};
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{Artifact, Builder};
use kiln_ssh::{SshCommunicator, StepCleanupTempKeys, StepConnect};

pub use artifact::{TencentArtifact, BUILDER_ID};
pub use config::Config;

use cloud::image::CopyRequest;
use cloud::Cvm;
use config::{Subnet, Vpc};

kiln_cloud::cloud_builder! {
    /// Registers the `tencentcloud-cvm` builder type.
    factory TencentCloudCvmBuilderFactory;
    /// A prepared tencentcloud-cvm builder.
    builder TencentCloudCvmBuilder(Config);
    name "tencentcloud-cvm";
    generated &[];
    // CVM's `ImportKeyPair` takes RSA keys, and RSA is Packer's.
    prepare |raw, cx| {
        let mut config = config::prepare(raw, cx)?;
        rsa_by_default(&mut config.communicator, raw);
        config
    }
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct TencentState {
    /// The clients of the build region.
    pub cvm: Cvm,
    /// The source image's id.
    pub source_image: Option<String>,
    /// Its size in GB (the system disk is at least that).
    pub source_image_size: Option<i64>,
    /// The key pair the instance is launched with (its name).
    pub key_pair_name: Option<String>,
    /// Its id (`skey-…`).
    pub key_pair_id: Option<String>,
    /// The temporary key pair's id, detached before the image is made.
    pub temporary_key_pair_id: Option<String>,
    /// The VPC, subnet and security group the instance is in.
    pub vpc_id: Option<String>,
    /// See `vpc_id`.
    pub subnet_id: Option<String>,
    /// See `vpc_id`.
    pub security_group_id: Option<String>,
    /// The instance.
    pub instance_id: Option<String>,
    /// The address the communicator connects to.
    pub ssh_host: Option<String>,
    /// The connection.
    pub communicator: Option<Arc<SshCommunicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// Images made, by region.
    pub images: BTreeMap<String, String>,
    /// The run tags (`kiln:run`, `kiln:build`) of everything temporary.
    pub run_tags: Vec<(String, String)>,
}

kiln_cloud::impl_ssh_state!(TencentState);

/// A temporary resource's name (`packer_<8 hex digits>`, as Packer names
/// them: CVM key pair names take 25 characters, letters, digits and `_`).
fn temporary_name() -> String {
    format!("packer_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// How long instances may take (Packer's 1800 s).
const INSTANCE_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long images and copies may take (Packer's 3600 s).
const IMAGE_TIMEOUT: Duration = Duration::from_secs(3600);

#[async_trait]
impl Builder for TencentCloudCvmBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let c = &self.0.config;
        let cvm = Cvm::connect(&c.access).map_err(BuildError::msg)?;
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
        let password = ssh
            .as_ref()
            .and_then(|s| s.credentials.password.as_ref())
            .map(|p| p.expose().clone());
        let temporary = matches!(plan, KeyPairPlan::Temporary { .. });
        let instance_name = c.run.instance_name.clone().unwrap_or_else(temporary_name);
        let mut state = TencentState {
            cvm,
            source_image: None,
            source_image_size: None,
            key_pair_name: None,
            key_pair_id: None,
            temporary_key_pair_id: None,
            vpc_id: None,
            subnet_id: None,
            security_group_id: None,
            instance_id: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            images: BTreeMap::new(),
            run_tags: self.0.run_tags(cx.run_uuid),
        };
        let debug_key = self.0.debug_key(cx.debug, "cvm");
        let mut steps: Vec<Box<dyn Step<TencentState>>> = vec![
            Box::new(steps::StepPreValidate { config: c.clone() }),
            Box::new(steps::StepCheckSourceImage { config: c.clone() }),
            Box::new(StepKeyPair::new(plan, debug_key)),
            Box::new(steps::StepKeyPairId { temporary }),
            Box::new(StepNetwork::new(network_plan(c), poller(INSTANCE_TIMEOUT))),
            Box::new(StepSecurityGroup::new(c.network.security_group.plan(port))),
            Box::new(StepRunInstance::new(
                "stepRunInstance",
                steps::RunPlan {
                    config: c.clone(),
                    instance_name,
                    password,
                },
                poller(INSTANCE_TIMEOUT),
            )),
        ];
        let ssh = ssh.map(Arc::new);
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        if let Some(s) = &ssh {
            steps.push(Box::new(StepCleanupTempKeys::new(s.clone())));
        }
        let image_poller = poller(IMAGE_TIMEOUT);
        steps.push(Box::new(steps::StepDetachTempKeyPair {
            poller: poller(INSTANCE_TIMEOUT),
        }));
        steps.push(Box::new(StepCreateImage::new(
            "stepCreateImage",
            steps::CreateImagePlan { config: c.clone() },
            image_poller.clone(),
        )));
        let share: Vec<ImageChange<()>> = if c.image.image_share_accounts.is_empty() {
            Vec::new()
        } else {
            vec![ImageChange::Share(Sharing {
                accounts: c.image.image_share_accounts.clone(),
                groups: Vec::new(),
            })]
        };
        steps.push(Box::new(StepShareImage::new(
            "stepShareImage",
            share,
            Sharing::default(),
        )));
        let copies: Vec<CopyTarget<CopyRequest>> = c
            .image
            .image_copy_regions
            .iter()
            .map(|region| CopyTarget {
                region: region.clone(),
                request: CopyRequest {
                    name: c.image.image_name.clone(),
                },
            })
            .collect();
        steps.push(Box::new(StepCopyImage::new(
            "stepCopyImage",
            copies,
            image_poller,
        )));

        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        if state.images.is_empty() {
            return Ok(None);
        }
        // The images are the artifact now: `kiln cleanup` of this run must
        // leave them.
        cloud::image::release(&state, cx.ui.as_ref()).await;
        // Secrets stay out of artifacts (and so out of manifests).
        let data = kiln_cloud::builder::artifact_data(&state.generated);
        Ok(Some(Arc::new(TencentArtifact {
            images: state.images.clone(),
            cvm: state.cvm.clone(),
            generated: data,
        })))
    }
}

/// Where the instance goes, from the config.
fn network_plan(c: &Config) -> NetworkPlan {
    let zone = Some(c.access.zone.clone());
    let subnet = |name: &Option<String>, cidr: &String| TemporarySubnet {
        name: name.clone().unwrap_or_else(temporary_name),
        cidr: cidr.clone(),
        zone: zone.clone(),
    };
    match (&c.network.vpc, &c.network.subnet) {
        (Vpc::Existing(vpc), Subnet::Existing(s)) => NetworkPlan::Given {
            network: vpc.clone(),
            subnet: s.clone(),
        },
        (Vpc::Existing(vpc), Subnet::Create { name, cidr_block }) => NetworkPlan::TemporarySubnet {
            network: vpc.clone(),
            subnet: subnet(name, cidr_block),
        },
        // `subnet_id` without `vpc_id` is a config error; a temporary VPC
        // gets a temporary subnet.
        (Vpc::Create { name, cidr_block }, s) => {
            let (subnet_name, subnet_cidr) = match s {
                Subnet::Create { name, cidr_block } => (name.clone(), cidr_block.clone()),
                Subnet::Existing(_) => (None, config::DEFAULT_SUBNET_CIDR.to_string()),
            };
            NetworkPlan::Temporary {
                network: TemporaryNetwork {
                    name: name.clone().unwrap_or_else(temporary_name),
                    cidr: cidr_block.clone(),
                },
                subnet: subnet(&subnet_name, &subnet_cidr),
            }
        }
    }
}
