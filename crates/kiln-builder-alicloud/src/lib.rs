//! The `alicloud-ecs` builder (Packer's `builder/alicloud/ecs`): launches
//! an ECS instance from a source image in a temporary VPC, vSwitch and
//! security group, reaches it through an EIP (or a public or private IP),
//! provisions it over SSH, stops it and makes a custom image of it,
//! tagged, copied to other regions and shared.
//!
//! [`config`] holds Packer 1.6.6's keys; [`client`] signs and sends the
//! RPC calls under kiln-cloud's retry policy; [`cloud`] implements
//! kiln-cloud's generic step traits on the client; `steps` holds the
//! steps that are Alibaba's own. A build is Packer's list of steps over a
//! typed [`AlicloudState`]; cleanup runs in reverse on success, failure
//! and Ctrl-C: it releases the EIP, deletes the instance (and waits),
//! the security group, vSwitch, VPC and key pair, and on failure the
//! images already made. The key pair, security group, instance, images
//! and the system-disk snapshot carry kiln's run tags (the VPC and
//! vSwitch in their description), so that [`cleanup`] (`kiln cleanup`)
//! finds what a killed build left; a successful build takes them off its
//! images.

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
use kiln_cloud::builder::{poller, temporary_name};
use kiln_cloud::steps::image::{
    CopyTarget, ImageChange, StepCopyImage, StepCreateImage, StepShareImage, StepTagImage,
};
use kiln_cloud::steps::instance::{StepStopInstance, StopMode};
use kiln_cloud::steps::key_pair::{rsa_by_default, KeyPairPlan, StepKeyPair};
use kiln_cloud::steps::network::{
    NetworkPlan, StepNetwork, StepSecurityGroup, TemporaryNetwork, TemporarySubnet,
};
use kiln_cloud::Poller;
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{Artifact, Builder};
use kiln_ssh::{SshCommunicator, StepCleanupTempKeys, StepConnect};

pub use artifact::{AlicloudArtifact, BUILDER_ID};
pub use config::Config;

use cloud::image::{CopyRequest, SharePermission};
use cloud::Ecs;
use config::{StopInstance, VSwitch, Vpc};

kiln_cloud::cloud_builder! {
    /// Registers the `alicloud-ecs` builder type.
    factory AlicloudEcsBuilderFactory;
    /// A prepared alicloud-ecs builder.
    builder AlicloudEcsBuilder(Config);
    name "alicloud-ecs";
    generated &[];
    // ECS's `ImportKeyPair` takes RSA keys, not ed25519 ones (kiln's
    // default elsewhere), and RSA is Packer 1.6.6's default.
    prepare |raw, cx| {
        let mut config = config::prepare(raw, cx)?;
        rsa_by_default(&mut config.communicator, raw);
        config
    }
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct AlicloudState {
    /// The ECS client of the build region.
    pub ecs: Ecs,
    /// The source image's id.
    pub source_image: Option<String>,
    /// The key pair attached to the instance.
    pub key_pair_name: Option<String>,
    /// The VPC, vSwitch and security group the instance is in.
    pub vpc_id: Option<String>,
    /// See `vpc_id`.
    pub vswitch_id: Option<String>,
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
    /// Their snapshots, by region.
    pub snapshots: BTreeMap<String, Vec<String>>,
    /// With `image_ignore_data_disks`: the snapshot of the system disk the
    /// image is made of.
    pub system_snapshot: Option<String>,
    /// The run tags (`kiln:run`, `kiln:build`) of the temporary key
    /// pair, security group and instance.
    pub run_tags: Vec<(String, String)>,
}

kiln_cloud::impl_ssh_state!(AlicloudState);

/// The image's copies: one per `image_copy_regions` entry, and with
/// `image_encrypted` one more into the build region (named `image_name`)
/// that replaces the temporary unencrypted image, every copy encrypted
/// (Packer's way). Each carries the run tags until the build succeeds.
fn copy_targets(c: &Config, run_tags: &[(String, String)]) -> Vec<CopyTarget<CopyRequest>> {
    let encrypted = c.image_encrypted == Some(true);
    let copy = |region: &str, name: String| CopyTarget {
        region: region.to_string(),
        request: CopyRequest {
            name,
            description: c.image_description.clone(),
            encrypted,
            run_tags: run_tags.to_vec(),
        },
    };
    let mut copies: Vec<_> = c
        .image_copies
        .iter()
        .map(|x| {
            copy(
                &x.region,
                x.name.clone().unwrap_or_else(|| c.image_name.clone()),
            )
        })
        .collect();
    if encrypted {
        copies.push(copy(&c.access.region, c.image_name.clone()));
    }
    copies
}

/// How long instances, VPCs, vSwitches and EIPs may take (Packer's
/// `ALICLOUD_DEFAULT_TIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

#[async_trait]
impl Builder for AlicloudEcsBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let c = &self.0.config;
        let client = client::Client::ecs_resolved(&c.access)
            .await
            .map_err(BuildError::msg)?;
        let ecs = Ecs {
            client,
            instance_type: c.instance_type.clone(),
            force_stop: matches!(c.stop_instance, StopInstance::Api { force: true }),
        };

        let kiln_cloud::steps::key_pair::SshLogin {
            ssh,
            plan,
            generated: data,
        } = kiln_cloud::steps::key_pair::SshLogin::decide_off_thread(
            &c.communicator,
            c.ssh_keypair_name.as_deref(),
            temporary_name,
            &self.0.redactor,
            cx.run_uuid,
        )
        .await
        .map_err(BuildError::msg)?;
        let port = ssh.as_ref().map(|s| s.port).unwrap_or(22);

        let mut state = AlicloudState {
            ecs,
            source_image: None,
            key_pair_name: None,
            vpc_id: None,
            vswitch_id: None,
            security_group_id: None,
            instance_id: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            images: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            system_snapshot: None,
            run_tags: self.0.run_tags(cx.run_uuid),
        };

        let short = poller(DEFAULT_TIMEOUT);
        let image_poller = poller(c.wait_snapshot_ready_timeout);
        let debug_key = self.0.debug_key(cx.debug, "ecs");
        let run_tags = state.run_tags.clone();
        let steps = self.steps(
            &run_tags,
            plan,
            debug_key,
            port,
            &short,
            &image_poller,
            ssh.map(Arc::new),
            &cx,
        );
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
        Ok(Some(Arc::new(AlicloudArtifact {
            images: state.images.clone(),
            ecs: state.ecs.clone(),
            generated: data,
        })))
    }
}

impl AlicloudEcsBuilder {
    /// Packer 1.6.6's step list.
    #[allow(clippy::too_many_arguments)]
    fn steps(
        &self,
        run_tags: &[(String, String)],
        plan: KeyPairPlan,
        debug_key: Option<std::path::PathBuf>,
        port: u16,
        short: &Poller,
        image_poller: &Poller,
        ssh: Option<Arc<kiln_ssh::SshConfig>>,
        cx: &BuildContext<'_>,
    ) -> Vec<Box<dyn Step<AlicloudState>>> {
        let c = &self.0.config;
        let network = |plan| -> Box<dyn Step<AlicloudState>> {
            Box::new(StepNetwork::new(plan, short.clone()))
        };
        let network_step: Box<dyn Step<AlicloudState>> = match (&c.network.vpc, &c.network.vswitch)
        {
            (Vpc::Existing(vpc), VSwitch::Existing(vsw)) => network(NetworkPlan::Given {
                network: vpc.clone(),
                subnet: vsw.clone(),
            }),
            // The vSwitch's VPC is looked up first.
            (Vpc::Create { .. }, VSwitch::Existing(vsw)) => Box::new(steps::StepVSwitchVpc {
                vswitch: vsw.clone(),
                poller: short.clone(),
            }),
            (Vpc::Existing(vpc), VSwitch::Create { name, cidr_block }) => {
                network(NetworkPlan::TemporarySubnet {
                    network: vpc.clone(),
                    subnet: TemporarySubnet {
                        name: name.clone().unwrap_or_else(temporary_name),
                        cidr: cidr_block.clone(),
                        zone: c.zone_id.clone(),
                    },
                })
            }
            (
                Vpc::Create { name, cidr_block },
                VSwitch::Create {
                    name: subnet_name,
                    cidr_block: subnet_cidr,
                },
            ) => network(NetworkPlan::Temporary {
                network: TemporaryNetwork {
                    name: name.clone().unwrap_or_else(temporary_name),
                    cidr: cidr_block
                        .clone()
                        .unwrap_or_else(|| cloud::network::DEFAULT_VPC_CIDR.to_string()),
                },
                subnet: TemporarySubnet {
                    name: subnet_name.clone().unwrap_or_else(temporary_name),
                    cidr: subnet_cidr.clone(),
                    zone: c.zone_id.clone(),
                },
            }),
        };
        let group = c.network.security_group.plan(port);
        let address = if c.ssh_private_ip {
            steps::AddressPlan::Private
        } else if c.associate_public_ip_address {
            steps::AddressPlan::PublicIp
        } else {
            steps::AddressPlan::Eip
        };
        let mut steps: Vec<Box<dyn Step<AlicloudState>>> = vec![
            Box::new(steps::StepPreValidate { config: c.clone() }),
            Box::new(steps::StepCheckSourceImage { config: c.clone() }),
            Box::new(StepKeyPair::new(plan, debug_key)),
            network_step,
            Box::new(StepSecurityGroup::new(group)),
            Box::new(steps::StepCreateInstance {
                config: c.clone(),
                poller: short.clone(),
                created: None,
            }),
            Box::new(steps::StepConfigAddress {
                plan: address,
                charge_type: c.internet_charge_type.map(|t| t.as_str()),
                bandwidth: c.internet_max_bandwidth_out,
                poller: short.clone(),
                allocated: None,
            }),
            Box::new(steps::StepAttachKeyPair::default()),
            Box::new(steps::StepStartInstance {
                poller: short.clone(),
            }),
        ];
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        if let Some(s) = &ssh {
            steps.push(Box::new(StepCleanupTempKeys::new(s.clone())));
        }
        let stop = match c.stop_instance {
            StopInstance::Api { .. } => StopMode::Api,
            StopInstance::ByProvisioner => StopMode::ByProvisioner,
        };
        let encrypted = c.image_encrypted == Some(true);
        let copies = copy_targets(c, run_tags);
        // Packer calls `ModifyImageSharePermission` in every region, even
        // with no accounts to add or remove.
        let share = vec![ImageChange::Attribute(SharePermission {
            add: c.image_share_accounts.clone(),
            remove: c.image_unshare_accounts.clone(),
        })];
        steps.extend([
            Box::new(StepStopInstance::new(
                "stepStopAlicloudInstance",
                stop,
                short.clone(),
            )) as Box<dyn Step<AlicloudState>>,
            Box::new(steps::StepDeleteImages { config: c.clone() }),
        ]);
        if c.image_ignore_data_disks {
            steps.push(Box::new(steps::StepCreateSnapshot {
                poller: image_poller.clone(),
                created: None,
            }));
        }
        steps.push(Box::new(StepCreateImage::new(
            "stepCreateAlicloudImage",
            steps::CreateImagePlan { config: c.clone() },
            image_poller.clone(),
        )));
        let tag: Box<dyn Step<AlicloudState>> = Box::new(StepTagImage::new(
            "stepCreateTags",
            steps::ImageTagPlan { config: c.clone() },
        ));
        let copy: Box<dyn Step<AlicloudState>> = Box::new(StepCopyImage::new(
            "stepRegionCopyAlicloudImage",
            copies,
            image_poller.clone(),
        ));
        // Packer tags before copying; an encrypted build's image is the
        // copy, so kiln tags after copying there (the copies too).
        if encrypted {
            steps.extend([copy, tag]);
        } else {
            steps.extend([tag, copy]);
        }
        steps.push(Box::new(StepShareImage::new(
            "stepShareAlicloudImage",
            share,
            Default::default(),
        )));
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::config::RawConfig;

    fn raw(extra: serde_json::Value) -> RawConfig {
        let base = serde_json::json!({
            "access_key": "ak", "secret_key": "sk", "region": "cn-beijing",
            "image_name": "img", "source_image": "centos", "instance_type": "ecs.n1.tiny",
            "ssh_username": "root"
        });
        kiln_cloud::config::overlay(base, extra)
    }

    fn config(extra: serde_json::Value) -> Config {
        let cx = kiln_test::prepare_cx("alicloud-ecs");
        config::prepare_with_env(&raw(extra), &cx, &|_| None).unwrap()
    }

    #[test]
    fn an_encrypted_image_is_an_encrypted_copy_in_the_build_region_too() {
        let tags = [("kiln:run".to_string(), "r".to_string())];
        let plain = config(serde_json::json!({"image_copy_regions": ["cn-shanghai"]}));
        let t = copy_targets(&plain, &tags);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].region, "cn-shanghai");
        assert!(!t[0].request.encrypted);
        assert_eq!(t[0].request.run_tags, tags);
        // `false` is Packer's "set": kiln makes no same-region copy for it
        // (Packer's would fail on the duplicate name).
        let off = config(serde_json::json!({"image_encrypted": false}));
        assert!(copy_targets(&off, &tags).is_empty());
        let on = config(serde_json::json!({
            "image_encrypted": true, "image_copy_regions": ["cn-shanghai"],
            "image_copy_names": ["other"]
        }));
        let t = copy_targets(&on, &tags);
        let regions: Vec<(&str, &str, bool)> = t
            .iter()
            .map(|x| {
                (
                    x.region.as_str(),
                    x.request.name.as_str(),
                    x.request.encrypted,
                )
            })
            .collect();
        assert_eq!(
            regions,
            [("cn-shanghai", "other", true), ("cn-beijing", "img", true)]
        );
    }

    #[test]
    fn the_temporary_key_pair_is_rsa_unless_the_template_asks() {
        let kind = |extra: serde_json::Value| {
            let r = raw(extra);
            let mut c =
                config::prepare_with_env(&r, &kiln_test::prepare_cx("alicloud-ecs"), &|_| None)
                    .unwrap();
            rsa_by_default(&mut c.communicator, &r);
            match &c.communicator {
                CommunicatorConfig::Ssh(s) => s.temporary_key_pair,
                CommunicatorConfig::None => unreachable!(),
            }
        };
        use kiln_ssh::{CommunicatorConfig, KeyPairType};
        assert_eq!(kind(serde_json::json!({})), KeyPairType::Rsa(2048));
        assert_eq!(
            kind(serde_json::json!({"temporary_key_pair_type": "ed25519"})),
            KeyPairType::Ed25519
        );
        assert_eq!(
            kind(
                serde_json::json!({"temporary_key_pair_type": "rsa", "temporary_key_pair_bits": 4096})
            ),
            KeyPairType::Rsa(4096)
        );
    }

    #[test]
    fn the_instance_carries_the_templates_run_tags_and_kilns() {
        let template = BTreeMap::from([("team".to_string(), "web".to_string())]);
        let kiln = [("kiln:run".to_string(), "r".to_string())];
        let tags = steps::instance_tags(&template, &kiln);
        assert_eq!(tags.len(), 2);
        assert_eq!(tags["team"], "web");
        assert_eq!(tags["kiln:run"], "r");
    }
}
