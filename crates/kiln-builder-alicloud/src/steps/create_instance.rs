//! Packer's `stepCreateAlicloudInstance`: the `CreateInstance` request
//! from the config and the state, the instance waited for until stopped;
//! its cleanup deletes the instance and waits until it is gone.

use async_trait::async_trait;
use kiln_cloud::steps::instance::{terminate_and_wait, wait_stopped, InstanceApi};
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Params;
use crate::cloud::{cleanup_line, tag_map};
use crate::config::Config;
use crate::AlicloudState;

/// Packer's `stepCreateAlicloudInstance`: `CreateInstance` in the
/// vSwitch and security group, then waits until ECS has it stopped. Its
/// cleanup deletes it (forced) and waits until it is gone.
pub struct StepCreateInstance {
    pub config: std::sync::Arc<Config>,
    pub poller: Poller,
    /// The instance made, to delete.
    pub created: Option<String>,
}

impl StepCreateInstance {
    /// The `CreateInstance` request from the config and the state.
    fn request(&self, state: &AlicloudState) -> Result<Params, StepError> {
        let c = &self.config;
        let missing = |what: &str| StepError::msg(format!("there is no {what} to launch in"));
        let image = state
            .source_image
            .clone()
            .ok_or_else(|| missing("source image"))?;
        let group = state
            .security_group_id
            .clone()
            .ok_or_else(|| missing("security group"))?;
        let vswitch = state.vswitch_id.clone().ok_or_else(|| missing("vSwitch"))?;
        let user_data = match (&c.user_data, &c.user_data_file) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(f)) => Some(std::fs::read_to_string(f).map_err(|e| {
                StepError::msg(format!(
                    "cannot read the user data file `{}`: {e}",
                    f.display()
                ))
            })?),
            _ => None,
        };
        use base64::Engine;
        let mut p = Params::new()
            .set("ImageId", image)
            .set("InstanceType", c.instance_type.as_str())
            .set("SecurityGroupId", group)
            .set("VSwitchId", vswitch)
            .opt("ZoneId", c.zone_id.clone())
            .opt("InstanceName", c.instance_name.clone())
            .opt("Description", c.description.clone())
            .opt(
                "InternetChargeType",
                c.internet_charge_type.map(|t| t.as_str()),
            )
            .opt(
                "InternetMaxBandwidthOut",
                c.internet_max_bandwidth_out.map(|b| b.to_string()),
            )
            .opt(
                "SecurityEnhancementStrategy",
                c.security_enhancement_strategy.map(|s| s.as_str()),
            )
            .opt(
                "UserData",
                user_data.map(|d| base64::engine::general_purpose::STANDARD.encode(d)),
            )
            .opt("RamRoleName", c.access.ram_role_name.clone())
            .tags("Tag", &instance_tags(&c.run_tags, &state.run_tags));
        if let Some(io) = c.io_optimized {
            p = p.set("IoOptimized", if io { "optimized" } else { "none" });
        }
        if let Some(d) = &c.system_disk {
            p = p
                .opt(
                    "SystemDisk.Category",
                    d.category.as_ref().map(|c| c.as_str().to_string()),
                )
                .opt("SystemDisk.Size", d.size_gib.map(|s| s.to_string()))
                .opt("SystemDisk.DiskName", d.name.clone())
                .opt("SystemDisk.Description", d.description.clone());
        }
        let disks: Vec<Vec<(&str, String)>> = c
            .data_disks
            .iter()
            .map(|d| {
                let mut f = vec![("DeleteWithInstance", d.delete_with_instance.to_string())];
                let opts = [
                    (
                        "Category",
                        d.category.as_ref().map(|c| c.as_str().to_string()),
                    ),
                    ("Size", d.size_gib.map(|s| s.to_string())),
                    ("SnapshotId", d.snapshot_id.clone()),
                    ("DiskName", d.name.clone()),
                    ("Description", d.description.clone()),
                    ("Device", d.device.clone()),
                    ("Encrypted", d.encrypted.map(|e| e.to_string())),
                ];
                f.extend(opts.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
                f
            })
            .collect();
        Ok(p.objects("DataDisk", &disks))
    }
}

#[async_trait]
impl Step<AlicloudState> for StepCreateInstance {
    fn name(&self) -> &'static str {
        "stepCreateAlicloudInstance"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let request = self.request(state)?;
        cx.ui.say("Creating instance...");
        let ecs = state.ecs.clone();
        let launched = InstanceApi::create(&ecs, &request, &cx.cancel).await?;
        let id = launched.id.clone();
        self.created = Some(id.clone());
        state.instance_id = Some(id.clone());
        wait_stopped(&ecs, &self.poller, &id, &cx.cancel)
            .await
            .map_err(|e| match e {
                StepError::Cancelled => StepError::Cancelled,
                e => StepError::msg(format!("Error waiting create instance: {e}")),
            })?;
        cx.ui.message(&format!("Created instance: {id}"));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AlicloudState) {
        let Some(id) = self.created.take() else {
            return;
        };
        cx.ui.say(&cleanup_line("instance", cx.failed));
        terminate_and_wait(&state.ecs, &self.poller, &id, cx.ui, &cx.cancel).await;
    }
}

/// The instance's tags: the template's `run_tags`, then kiln's run tags.
pub(crate) fn instance_tags(
    run_tags: &std::collections::BTreeMap<String, String>,
    kiln: &[(String, String)],
) -> std::collections::BTreeMap<String, String> {
    let mut tags = run_tags.clone();
    tags.extend(tag_map(kiln));
    tags
}
