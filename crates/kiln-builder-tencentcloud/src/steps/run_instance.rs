//! Packer's `stepRunInstance` as kiln-cloud's `StepRunInstance` plan: the
//! `RunInstances` request from the config and the state (the zone, the
//! source image, the disks, the VPC and subnet, the public bandwidth, the
//! key pair or password, the security group, the host name, the user data
//! in base64, the template's `run_tags` and kiln's run tags), and the
//! address to connect to once it runs (public unless `ssh_private_ip` or
//! no public address). The generic step records the instance and its
//! cleanup terminates it.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use kiln_cloud::steps::instance::LaunchPlan;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::{json, Value};

use crate::cloud::{items, tag_list};
use crate::config::Config;
use crate::TencentState;

/// See the module docs.
pub struct RunPlan {
    /// The build's config.
    pub config: Arc<Config>,
    /// The instance's name (`instance_name`, else the temporary name).
    pub instance_name: String,
    /// The password to log in with (`ssh_password`), when no key pair.
    pub password: Option<String>,
}

/// The instance's tags: the template's `run_tags`, then kiln's run tags.
pub fn instance_tags(
    run_tags: &BTreeMap<String, String>,
    kiln: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = run_tags.clone();
    tags.extend(kiln.iter().cloned());
    tags.into_iter().collect()
}

impl LaunchPlan<TencentState> for RunPlan {
    fn request(&self, ui: &dyn Ui, state: &TencentState) -> Result<Value, StepError> {
        let c = &self.config;
        let r = &c.run;
        let missing = |what: &str| StepError::msg(format!("there is no {what} to launch in"));
        let image = state
            .source_image
            .clone()
            .ok_or_else(|| missing("source image"))?;
        let vpc = state.vpc_id.clone().ok_or_else(|| missing("VPC"))?;
        let subnet = state.subnet_id.clone().ok_or_else(|| missing("subnet"))?;
        let group = state
            .security_group_id
            .clone()
            .ok_or_else(|| missing("security group"))?;
        let user_data = match (&r.user_data, &r.user_data_file) {
            (Some(d), _) => d.clone(),
            (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
                StepError::msg(format!(
                    "get user_data failed: cannot read `{}`: {e}",
                    f.display()
                ))
            })?,
            _ => String::new(),
        };
        ui.say("Trying to create a new instance...");
        let host_name = r.host_name.clone().unwrap_or_else(|| {
            self.instance_name
                .replace('_', "-")
                .chars()
                .take(15)
                .collect()
        });
        let mut login = json!({});
        if let Some(id) = &state.key_pair_id {
            login["KeyIds"] = json!([id]);
        } else if let Some(p) = &self.password {
            login["Password"] = p.clone().into();
        }
        // The system disk is at least as large as the image.
        let disk_size = r.disk_size.max(state.source_image_size.unwrap_or(0));
        let mut body = json!({
            "Placement": {"Zone": c.access.zone},
            "ImageId": image,
            "InstanceChargeType": "POSTPAID_BY_HOUR",
            "InstanceType": r.instance_type,
            "SystemDisk": {"DiskType": r.disk_type, "DiskSize": disk_size},
            "VirtualPrivateCloud": {"VpcId": vpc, "SubnetId": subnet},
            "InstanceName": self.instance_name,
            "LoginSettings": login,
            "SecurityGroupIds": [group],
            "HostName": host_name,
            "UserData": base64::engine::general_purpose::STANDARD.encode(user_data),
            "TagSpecification": [{
                "ResourceType": "instance",
                "Tags": tag_list(&instance_tags(&r.run_tags, &state.run_tags)),
            }],
        });
        if r.associate_public_ip_address {
            body["InternetAccessible"] = json!({
                "InternetChargeType": r.internet_charge_type,
                "InternetMaxBandwidthOut": r.internet_max_bandwidth_out,
                "PublicIpAssigned": true,
            });
        }
        if !r.data_disks.is_empty() {
            body["DataDisks"] = r
                .data_disks
                .iter()
                .map(|d| {
                    let mut v = json!({"DiskType": d.disk_type, "DiskSize": d.disk_size});
                    if let Some(s) = &d.snapshot_id {
                        v["SnapshotId"] = s.clone().into();
                    }
                    v
                })
                .collect();
        }
        Ok(body)
    }

    fn running(&self, state: &mut TencentState, instance: Value) -> Result<(), StepError> {
        let r = &self.config.run;
        let public = r.associate_public_ip_address && !r.ssh_private_ip;
        let key = if public {
            "PublicIpAddresses"
        } else {
            "PrivateIpAddresses"
        };
        let address = items(&instance, key)
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| {
                StepError::msg(format!(
                    "the instance has no {} address to connect to",
                    if public { "public" } else { "private" }
                ))
            })?;
        state.ssh_host = Some(address.to_string());
        Ok(())
    }
}
