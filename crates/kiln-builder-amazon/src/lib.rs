//! The `amazon-ebs` builder (Packer's `builder/amazon/ebs`): launches an
//! instance from a source AMI, provisions it over SSH, stops it and makes a
//! new EBS-backed AMI of it, copied to other regions, shared and tagged.
//! EC2 is driven through the official AWS SDK for Rust ([`client`]); this
//! crate is the only one that compiles it. The builds of one process share
//! their SDK configuration and batch their read-only lookups ([`lookup`]).
//!
//! A build is Packer's list of steps, one per file, over a typed
//! [`AmazonState`]: the EC2 client, the source image, the temporary key
//! pair, security group and IAM instance profile, the instance (on demand,
//! or spot through a launch template and fleet), the connection, the AMIs
//! made in each region and their snapshots. Cleanup runs in reverse order
//! on success, failure and Ctrl-C: it terminates the instance (and waits),
//! deletes the launch template, the temporary IAM role and profile,
//! security group and key pair (and `-debug`'s key file), and on failure
//! deregisters any AMI already made.
//!
//! With `checkpoint_images = true`, a `kiln build -incremental` makes an
//! AMI of the running instance after each provisioner and starts the next
//! build from the latest valid one ([`checkpoint`]); the factory's
//! checkpoint cleaner deregisters them when the cache is pruned.

mod artifact;
pub mod checkpoint;
pub mod cleanup;
pub mod client;
mod cloud;
pub mod config;
pub mod lookup;
mod step_ami_region_copy;
mod step_checkpoint_attach;
mod step_checkpoint_plan;
mod step_cleanup_volumes;
mod step_create_ami;
mod step_create_tags;
mod step_deregister_ami;
mod step_iam_instance_profile;
mod step_modify_ami_attributes;
mod step_modify_instance;
mod step_network_info;
mod step_pre_validate;
mod step_run_source_instance;
mod step_run_spot_instance;
mod step_source_ami_info;
mod tags;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Image, Instance};
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::generated;
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{Artifact, Builder};
use kiln_ssh::{SshCommunicator, StepCleanupTempKeys, StepConnect};

pub use artifact::{destroy_amis, AmiArtifact, BUILDER_ID};
pub use config::Config;

/// The generated data amazon-ebs provides besides the SSH keys.
pub const GENERATED_DATA_KEYS: &[&str] = &[
    generated::SOURCE_AMI_NAME,
    generated::BUILD_REGION,
    generated::SOURCE_AMI,
    generated::SOURCE_AMI_CREATION_DATE,
    generated::SOURCE_AMI_OWNER,
    generated::SOURCE_AMI_OWNER_NAME,
];

kiln_cloud::cloud_builder! {
    /// Registers the `amazon-ebs` builder type.
    factory AmazonEbsBuilderFactory;
    /// A prepared amazon-ebs builder.
    builder AmazonEbsBuilder(Config);
    name "amazon-ebs";
    generated GENERATED_DATA_KEYS;
    checkpoint_cleaner checkpoint::AmiCleaner;
    prepare |raw, cx| config::prepare(raw, cx)?
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct AmazonState {
    /// Whether this is a build or a boot of its artifact.
    pub purpose: Purpose,
    /// The SDK configuration (credentials, endpoint), for other regions.
    pub sdk: aws_config::SdkConfig,
    /// The EC2 client of the build region.
    pub ec2: client::Ec2,
    /// The build region.
    pub region: String,
    /// The access settings, for the lookups shared in other regions
    /// (the region copies' waits).
    pub access: config::AccessConfig,
    /// The build region's read-only lookups, shared with the other builds
    /// of this process ([`lookup`]).
    pub lookups: Arc<lookup::Lookups>,
    /// The source image (`StepSourceAmiInfo`).
    pub source_image: Option<Image>,
    /// The checkpoint AMI the instance is launched from instead of the
    /// source image, in a restored `-incremental` build
    /// (`StepCheckpointPlan`).
    pub restore_ami: Option<String>,
    /// The subnet, VPC and availability zone to launch in
    /// (`StepNetworkInfo`).
    pub subnet_id: Option<String>,
    /// See `subnet_id`.
    pub vpc_id: Option<String>,
    /// See `subnet_id`.
    pub availability_zone: Option<String>,
    /// The key pair the instance is launched with (`StepKeyPair`).
    pub key_pair_name: Option<String>,
    /// The security groups the instance is launched in
    /// (`StepSecurityGroup`).
    pub security_group_ids: Vec<String>,
    /// The IAM instance profile the instance is launched with
    /// (`StepIamInstanceProfile`).
    pub iam_instance_profile: Option<String>,
    /// The instance (`StepRunSourceInstance`).
    pub instance: Option<Instance>,
    /// The address the communicator connects to (the instance's, unless
    /// `ssh_host` overrides it).
    pub ssh_host: Option<String>,
    /// The connection (`StepConnect`).
    pub communicator: Option<Arc<SshCommunicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// AMIs made, by region (`StepCreateAmi`, `StepAmiRegionCopy`).
    pub amis: BTreeMap<String, String>,
    /// Their snapshots, by region.
    pub snapshots: BTreeMap<String, Vec<String>>,
    /// The run tags (`kiln:run`, `kiln:build`) every resource this build
    /// creates carries, so `kiln cleanup -run` finds it after a SIGKILL.
    pub run_tags: Vec<(String, String)>,
}

impl AmazonState {
    /// The instance id, once launched.
    pub fn instance_id(&self) -> Option<String> {
        self.instance.as_ref().and_then(|i| i.instance_id.clone())
    }
}

kiln_cloud::impl_ssh_state!(AmazonState);

/// How the instance is logged in to, decided before the run (Packer's
/// `StepKeyPair` rules).
pub use kiln_cloud::steps::key_pair::KeyPairPlan;

impl AmazonEbsBuilder {
    /// Runs the build's steps with config `c` to the end and returns their
    /// state: the launch and provision steps, then the image steps unless
    /// `c.skip_create_ami` (which [`Builder::boot`] sets).
    async fn run_steps(
        &self,
        c: &Arc<Config>,
        cx: &BuildContext<'_>,
        purpose: Purpose,
    ) -> Result<AmazonState, BuildError> {
        if let Some(reason) = config::cannot_start(c) {
            return Err(BuildError::msg(reason));
        }
        let sdk = lookup::sdk(&c.access).await.map_err(BuildError::msg)?;
        let ec2 = client::ec2_for(&sdk, &c.access.region);
        let lookups = lookup::shared(&sdk, &c.access, &c.access.region);

        // Packer's prepare-time rule: a temporary key pair unless the
        // template names a key pair, a private key or a password.
        let kiln_cloud::steps::key_pair::SshLogin {
            ssh,
            plan,
            generated: data,
        } = kiln_cloud::steps::key_pair::SshLogin::decide_off_thread(
            &c.communicator,
            c.ssh_keypair_name.as_deref(),
            client::temporary_name,
            &self.0.redactor,
            cx.run_uuid,
        )
        .await
        .map_err(BuildError::msg)?;

        let mut state = AmazonState {
            purpose,
            sdk,
            ec2,
            region: c.access.region.clone(),
            access: c.access.clone(),
            lookups,
            source_image: None,
            restore_ami: None,
            subnet_id: None,
            vpc_id: None,
            availability_zone: None,
            key_pair_name: None,
            security_group_ids: Vec::new(),
            iam_instance_profile: None,
            instance: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            amis: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            run_tags: self.0.run_tags(cx.run_uuid),
        };

        // Packer's `-debug`: the temporary private key, in the working
        // directory.
        let debug_key = self.0.debug_key(cx.debug, "ec2");
        let launch: Box<dyn Step<AmazonState>> = match c.market {
            config::Market::OnDemand => Box::new(step_run_source_instance::step(c.clone())),
            _ => Box::new(step_run_spot_instance::StepRunSpotInstance::new(c.clone())),
        };
        // `checkpoint_images` in an `-incremental` build: plan once the
        // source AMI is known, save after each provisioner once it runs.
        let checkpoints = cx.checkpoints.clone().filter(|_| c.checkpoint_images);
        let mut steps: Vec<Box<dyn Step<AmazonState>>> = vec![
            Box::new(step_pre_validate::StepPreValidate::new(c.clone())),
            Box::new(step_source_ami_info::StepSourceAmiInfo::new(c.clone())),
        ];
        if let Some(cp) = &checkpoints {
            steps.push(Box::new(step_checkpoint_plan::StepCheckpointPlan::new(
                c.clone(),
                cp.clone(),
            )));
        }
        steps.extend([
            Box::new(step_network_info::StepNetworkInfo::new(c.clone()))
                as Box<dyn Step<AmazonState>>,
            Box::new(kiln_cloud::steps::key_pair::StepKeyPair::new(
                plan, debug_key,
            )),
            Box::new(kiln_cloud::steps::network::StepSecurityGroup::new(
                cloud::network::security_group_plan(c),
            )),
            Box::new(step_iam_instance_profile::StepIamInstanceProfile::new(
                c.clone(),
            )),
            Box::new(step_cleanup_volumes::StepCleanupVolumes::new(c.clone())),
            launch,
        ]);
        let ssh = ssh.map(Arc::new);
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        if let Some(cp) = &checkpoints {
            steps.push(Box::new(step_checkpoint_attach::StepCheckpointAttach::new(
                c.clone(),
                cp.clone(),
            )));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        // Packer's order: the temporary key leaves authorized_keys right
        // after provisioning (`ssh_clear_authorized_keys`).
        if let Some(s) = &ssh {
            steps.push(Box::new(StepCleanupTempKeys::new(s.clone())));
        }
        if !c.skip_create_ami {
            steps.extend([
                Box::new(cloud::instance::stop_step(c)) as Box<dyn Step<AmazonState>>,
                Box::new(step_modify_instance::StepModifyInstance::new(c.clone())),
                Box::new(step_deregister_ami::StepDeregisterAmi::new(c.clone())),
                Box::new(step_create_ami::step(c.clone())),
                Box::new(step_ami_region_copy::step(c.clone())),
                Box::new(step_modify_ami_attributes::step(c.clone())),
                Box::new(step_create_tags::step(c.clone())),
            ]);
        }
        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        Ok(state)
    }
}

#[async_trait]
impl Builder for AmazonEbsBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let state = self.run_steps(&self.0.config, &cx, Purpose::Build).await?;
        if let Some(id) = state.source_image.as_ref().and_then(|i| i.image_id()) {
            cx.record.set_source_image(id);
        }
        if state.amis.is_empty() {
            return Ok(None);
        }
        // The artifacts are reported from here on: `kiln cleanup` of this
        // run must not find them.
        cleanup::release(&state, cx.ui.as_ref()).await;
        // Secrets stay out of artifacts (and so out of manifests).
        let data = kiln_cloud::builder::artifact_data(&state.generated);
        Ok(Some(Arc::new(AmiArtifact {
            amis: state.amis.clone(),
            sdk: state.sdk.clone(),
            generated: data,
        })))
    }

    /// Launches an instance from the artifact's AMI in the build's region,
    /// with the build's own launch, network and communicator settings, runs
    /// the hook, and terminates it (with its temporary key pair and
    /// security group) through the same steps' cleanup.
    async fn boot(
        &self,
        cx: BuildContext<'_>,
        artifact: Arc<dyn Artifact>,
    ) -> Result<bool, BuildError> {
        if artifact.builder_id() != BUILDER_ID {
            return Ok(false);
        }
        let region = &self.0.config.access.region;
        let Some(ami) = ami_in_region(&artifact.id(), region) else {
            return Err(BuildError::msg(format!(
                "the artifact `{}` has no AMI in the build's region `{region}`",
                artifact.id()
            )));
        };
        let mut c = Config::clone(&self.0.config);
        c.source = config::SourceAmi {
            id: Some(ami),
            filters: Default::default(),
            owners: Vec::new(),
            most_recent: false,
        };
        c.skip_create_ami = true;
        self.run_steps(&Arc::new(c), &cx, Purpose::Boot).await?;
        Ok(true)
    }
}

/// Why the steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A build: from the template's source AMI to new AMIs.
    Build,
    /// [`Builder::boot`]: an instance of an AMI this builder made. Its root
    /// device is not checked (moto, unlike EC2, reports `standard` for
    /// the AMIs it makes; ours are EBS-backed by construction).
    Boot,
}

/// The AMI in `region` of an artifact id (`us-east-1:ami-1,eu-west-1:ami-2`).
fn ami_in_region(id: &str, region: &str) -> Option<String> {
    id.split(',')
        .filter_map(|part| part.split_once(':'))
        .find(|(r, _)| *r == region)
        .map(|(_, ami)| ami.to_string())
}

#[cfg(test)]
mod boot_tests {
    #[test]
    fn the_ami_of_the_builds_region_is_found_in_the_artifact_id() {
        let id = "us-east-1:ami-1,eu-west-1:ami-2";
        assert_eq!(
            super::ami_in_region(id, "eu-west-1").as_deref(),
            Some("ami-2")
        );
        assert_eq!(
            super::ami_in_region(id, "us-east-1").as_deref(),
            Some("ami-1")
        );
        assert_eq!(super::ami_in_region(id, "ap-south-1"), None);
    }
}
