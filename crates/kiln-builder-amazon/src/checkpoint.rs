//! Checkpoints of an amazon-ebs build (`kiln build -incremental` with
//! `checkpoint_images = true`): after each provisioner, an AMI of the
//! running instance (`CreateImage` with `NoReboot`, so the instance goes on
//! running as it was), named `kiln-checkpoint-<random>` and tagged
//! `kiln:checkpoint = <random>` and with the run tags; a restored build
//! launches its instance from that AMI instead of the source AMI. The
//! cleaner, which runs when the cache is pruned (without a template, so
//! with the standard credential chain and the region and endpoint the
//! checkpoint names), deregisters the AMI and deletes its snapshots.
//! Credentials are never part of a checkpoint's data.

use std::path::Path;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use kiln_cloud::steps::image::{self, ImageApi, NewImage};
use kiln_cloud::Poller;
use kiln_sdk::checkpoint::{CheckpointCleaner, MachineSaver, Saved};
use kiln_sdk::component::BuildError;
use kiln_sdk::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::cloud::image::Ec2Images;
use crate::config::Config;
use crate::step_run_source_instance::launch_mappings;
use crate::{client, tags};

/// The tag every checkpoint AMI and its snapshots carry.
pub const CHECKPOINT_TAG: &str = "kiln:checkpoint";

/// The prefix of a checkpoint AMI's name.
pub const CHECKPOINT_NAME_PREFIX: &str = "kiln-checkpoint-";

/// What shapes an amazon-ebs instance before its provisioners run, given
/// the source AMI's ID (not its name nor filter: a newer image matching
/// the same filter is another source): the region, `instance_type` and
/// `spot_instance_types`, the launch's block device mappings
/// (`launch_block_device_mappings`, `no_ephemeral`), the user data (the
/// SHA-256 of `user_data` or of `user_data_file`'s contents: they may hold
/// secrets), `iam_instance_profile` or the temporary profile's policy
/// document, `ebs_optimized`, `enable_t2_unlimited`, `ena_support`,
/// `sriov_support`, `tenancy`, the placement and network
/// (`availability_zone`, `subnet_id`, `vpc_id`, `subnet_filter`,
/// `vpc_filter`, `associate_public_ip_address`) and `metadata_options`.
/// Not the AMI's name, description, tags, snapshot tags, region copies,
/// users or groups, nor the run tags, nor the communicator's settings.
pub fn inputs(c: &Config, source_ami: &str) -> Value {
    let user_data = match (&c.user_data, &c.user_data_file) {
        (_, Some(f)) => Some(match std::fs::read(f) {
            Ok(bytes) => kiln_cloud::sign::sha256_hex(&bytes),
            // The launch fails on it anyway; a changed path is a change.
            Err(_) => kiln_cloud::sign::sha256_hex(f.to_string_lossy().as_bytes()),
        }),
        (Some(s), None) => Some(kiln_cloud::sign::sha256_hex(s.as_bytes())),
        (None, None) => None,
    };
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    json!({
        "source_ami": source_ami,
        "region": c.access.region,
        "instance_type": c.instance_type,
        "spot_instance_types": c.spot_instance_types,
        "launch_block_device_mappings": debug(&launch_mappings(c)),
        "user_data": user_data,
        "iam_instance_profile": c.iam_instance_profile,
        "temporary_iam_policy": c.temporary_iam_policy.as_ref().map(|p| debug(p)),
        "ebs_optimized": c.ebs_optimized,
        "enable_t2_unlimited": c.enable_t2_unlimited,
        "ena_support": c.ena_support,
        "sriov_support": c.sriov_support,
        "tenancy": c.tenancy,
        "availability_zone": c.availability_zone,
        "subnet_id": c.subnet_id,
        "vpc_id": c.vpc_id,
        "subnet_filter": c.subnet_filter.as_ref().map(|f| debug(f)),
        "vpc_filter": c.vpc_filter,
        "associate_public_ip_address": c.associate_public_ip_address,
        "metadata_options": c.metadata_options.as_ref().map(|m| debug(m)),
    })
}

/// Saves the build's instance as a checkpoint AMI.
pub struct AmiSaver {
    /// The build region's image calls.
    pub images: Ec2Images,
    /// The build region.
    pub region: String,
    /// `custom_endpoint_ec2`, for the cleaner.
    pub endpoint: Option<String>,
    /// The running instance.
    pub instance: String,
    /// The run tags, which the AMI and its snapshots carry too.
    pub run_tags: Vec<(String, String)>,
    /// The wait until the AMI is available (`aws_polling`).
    pub poller: Poller,
    /// The EC2 client of the build region.
    pub ec2: client::Ec2,
}

#[async_trait]
impl MachineSaver for AmiSaver {
    /// Makes an AMI of the instance without rebooting it and waits until it
    /// is available; nothing is written to `dir`. An AMI that failed or
    /// was cancelled while waiting is deregistered.
    async fn save(
        &self,
        ui: &dyn Ui,
        _dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<Saved, BuildError> {
        let random = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let name = format!("{CHECKPOINT_NAME_PREFIX}{random}");
        let mut pairs = vec![(CHECKPOINT_TAG.to_string(), random.clone())];
        pairs.extend(self.run_tags.iter().cloned());
        ui.message(&format!(
            "Creating checkpoint AMI {name} from instance {}",
            self.instance
        ));
        let request = self
            .ec2
            .create_image()
            .instance_id(&self.instance)
            .name(&name)
            .description("kiln checkpoint")
            .no_reboot(true)
            .set_tag_specifications(tags::spec(ResourceType::Image, tags::ec2_tags(&pairs)));
        let new = NewImage {
            name: name.clone(),
            request,
        };
        let id = self
            .images
            .create(&new, cancel)
            .await
            .map_err(|e| BuildError::msg(format!("cannot save checkpoint `{name}`: {e}")))?;
        let available = image::wait_available(&self.images, &self.poller, &id, cancel).await;
        let img = match available {
            Ok(img) => img,
            Err(e) => {
                // Not in the cache: nothing else would ever remove it.
                let _ = image::destroy_image(&self.images, &id).await;
                if cancel.is_cancelled() {
                    return Err(BuildError::Cancelled);
                }
                return Err(BuildError::msg(format!(
                    "cannot save checkpoint AMI `{id}`: {e}"
                )));
            }
        };
        let snapshots = self.images.snapshots(&img);
        if let Err(e) = image::tag_run(&self.images, &snapshots, &pairs).await {
            ui.error(&format!("checkpoint AMI `{id}`: {e}"));
        }
        Ok(Saved {
            data: json!({
                "region": self.region,
                "ami": id,
                "snapshots": snapshots,
                "endpoint": self.endpoint,
            }),
            // EBS snapshot storage, not this machine's disk: checkpoint
            // AMIs do not count against the cache's size limit.
            external_size: 0,
        })
    }
}

/// Checks and removes checkpoint AMIs.
pub struct AmiCleaner;

fn field<'a>(data: &'a Value, name: &str) -> Result<&'a str, String> {
    data.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the checkpoint's data has no `{name}`"))
}

/// The image calls in the region `data` names, with the standard
/// credential chain and the endpoint `data` names.
async fn images_for(data: &Value) -> Result<(Ec2Images, String), String> {
    let region = field(data, "region")?;
    let ami = field(data, "ami")?.to_string();
    let endpoint = data.get("endpoint").and_then(Value::as_str);
    let sdk = client::load_standard(region, endpoint).await;
    let ec2 = client::ec2_for(&sdk, region);
    Ok((Ec2Images::unshared(ec2), ami))
}

#[async_trait]
impl CheckpointCleaner for AmiCleaner {
    async fn exists(&self, data: &Value) -> Result<bool, String> {
        let (images, ami) = images_for(data).await?;
        match images.describe(&ami).await {
            Ok(Some(img)) => Ok(img.state().map(|s| s.as_str()) == Some("available")),
            Ok(None) => Ok(false),
            Err(e) => Err(format!("cannot describe checkpoint AMI `{ami}`: {e}")),
        }
    }

    async fn remove(&self, data: &Value) -> Result<(), String> {
        let (images, ami) = images_for(data).await?;
        image::destroy_image(&images, &ami)
            .await
            .map_err(|e| format!("cannot remove checkpoint AMI `{ami}`: {e}"))?;
        // The snapshots the checkpoint recorded, should the AMI be gone
        // without them.
        let snapshots = data.get("snapshots").and_then(Value::as_array);
        for s in snapshots.into_iter().flatten().filter_map(Value::as_str) {
            images.delete_snapshot(s).await.map_err(|e| {
                format!("cannot delete snapshot `{s}` of checkpoint AMI `{ami}`: {e}")
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: serde_json::Value) -> Config {
        let mut raw = json!({
            "region": "us-east-1", "instance_type": "t3.micro", "source_ami": "ami-1",
            "ami_name": "kiln-test", "communicator": "none", "access_key": "a", "secret_key": "b"
        });
        if let (Some(o), Some(e)) = (raw.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let raw = kiln_sdk::config::RawConfig::from_value(raw);
        crate::config::prepare(&raw, &kiln_test::prepare_cx("amazon-ebs")).unwrap()
    }

    #[test]
    fn the_result_names_and_tags_do_not_change_the_inputs() {
        let a = inputs(&config(json!({})), "ami-1");
        let b = inputs(
            &config(
                json!({"ami_name": "other", "tags": {"a": "b"}, "run_tags": {"c": "d"},
                "ami_regions": ["eu-west-1"], "ami_users": ["123"], "ssh_timeout": "9m"}),
            ),
            "ami-1",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn what_shapes_the_instance_changes_the_inputs() {
        let a = inputs(&config(json!({})), "ami-1");
        assert_ne!(a, inputs(&config(json!({})), "ami-2"));
        for extra in [
            json!({"instance_type": "t3.large"}),
            json!({"user_data": "#!/bin/sh"}),
            json!({"ebs_optimized": true}),
            json!({"launch_block_device_mappings": [{"device_name": "/dev/xvda", "volume_size": 20}]}),
            json!({"iam_instance_profile": "p"}),
            json!({"tenancy": "dedicated"}),
        ] {
            assert_ne!(a, inputs(&config(extra.clone()), "ami-1"), "{extra}");
        }
    }

    #[test]
    fn user_data_is_hashed() {
        let i = inputs(&config(json!({"user_data": "password=hunter2"})), "ami-1");
        assert!(!i.to_string().contains("hunter2"), "{i}");
    }

    #[tokio::test]
    async fn a_cleaner_needs_the_region_and_the_ami() {
        let e = AmiCleaner
            .exists(&json!({"ami": "ami-1"}))
            .await
            .unwrap_err();
        assert!(e.contains("`region`"), "{e}");
        let e = AmiCleaner
            .remove(&json!({"region": "us-east-1"}))
            .await
            .unwrap_err();
        assert!(e.contains("`ami`"), "{e}");
    }
}
