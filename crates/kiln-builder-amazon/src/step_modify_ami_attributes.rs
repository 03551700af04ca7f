//! `StepModifyAmiAttributes` (Packer's `StepModifyAMIAttributes`): in every
//! region, shares the AMIs (`ami_users`, `ami_groups`), their snapshots
//! (`snapshot_users`, `snapshot_groups`), sets the description on copies,
//! `imds_support` and `deprecate_at`. Changes attributes of the AMIs this
//! build made; they are removed with them, so no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, CreateVolumePermission, CreateVolumePermissionModifications, LaunchPermission,
    LaunchPermissionModifications, PermissionGroup,
};
use aws_smithy_types::DateTime;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepModifyAmiAttributes {
    config: Arc<Config>,
}

impl StepModifyAmiAttributes {
    /// A modify-attributes step.
    pub fn new(config: Arc<Config>) -> Self {
        StepModifyAmiAttributes { config }
    }
}

fn fail(what: &str, id: &str, e: &kiln_cloud::ApiError) -> StepError {
    StepError::msg(format!("error modifying {what} on `{id}`: {e}"))
}

#[async_trait]
impl Step<AmazonState> for StepModifyAmiAttributes {
    fn name(&self) -> &'static str {
        "StepModifyAMIAttributes"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let launch_perm = !c.ami_users.is_empty() || !c.ami_groups.is_empty();
        let snap_perm = !c.snapshot_users.is_empty() || !c.snapshot_groups.is_empty();
        let ami_changes = launch_perm
            || c.ami_description.is_some()
            || c.imds_support.is_some()
            || c.deprecate_at.is_some();
        if !ami_changes && !snap_perm {
            return Ok(StepAction::Continue);
        }
        for (region, ami) in state.amis.clone() {
            let ec2 = client::ec2_for(&state.sdk, &region);
            if ami_changes {
                cx.ui
                    .say(&format!("Modifying attributes on AMI ({ami})..."));
            }
            if let Some(d) = &c.ami_description {
                cx.ui.message("Modifying: description");
                ec2.send(
                    ec2.modify_image_attribute()
                        .image_id(&ami)
                        .description(AttributeValue::builder().value(d).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| fail("description", &ami, &e))?;
            }
            if launch_perm {
                let mut add = Vec::new();
                if !c.ami_groups.is_empty() {
                    cx.ui.message("Modifying: groups");
                    for g in &c.ami_groups {
                        add.push(
                            LaunchPermission::builder()
                                .group(PermissionGroup::from(g.as_str()))
                                .build(),
                        );
                    }
                }
                if !c.ami_users.is_empty() {
                    cx.ui.message("Modifying: users");
                    for u in &c.ami_users {
                        add.push(LaunchPermission::builder().user_id(u).build());
                    }
                }
                ec2.send(
                    ec2.modify_image_attribute()
                        .image_id(&ami)
                        .launch_permission(
                            LaunchPermissionModifications::builder()
                                .set_add(Some(add))
                                .build(),
                        ),
                    |r| r.send(),
                )
                .await
                .map_err(|e| fail("launch permissions", &ami, &e))?;
            }
            if let Some(v) = &c.imds_support {
                cx.ui.message("Modifying: imds_support");
                ec2.send(
                    ec2.modify_image_attribute()
                        .image_id(&ami)
                        .imds_support(AttributeValue::builder().value(v).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| fail("imds_support", &ami, &e))?;
            }
            if let Some(t) = &c.deprecate_at {
                cx.ui.message("Modifying: deprecate_at");
                ec2.send(
                    ec2.enable_image_deprecation()
                        .image_id(&ami)
                        .deprecate_at(DateTime::from_secs(t.timestamp())),
                    |r| r.send(),
                )
                .await
                .map_err(|e| fail("deprecate_at", &ami, &e))?;
            }
            if snap_perm {
                for snap in state.snapshots.get(&region).cloned().unwrap_or_default() {
                    cx.ui
                        .say(&format!("Modifying attributes on snapshot ({snap})..."));
                    let mut add = Vec::new();
                    for g in &c.snapshot_groups {
                        add.push(
                            CreateVolumePermission::builder()
                                .group(PermissionGroup::from(g.as_str()))
                                .build(),
                        );
                    }
                    for u in &c.snapshot_users {
                        add.push(CreateVolumePermission::builder().user_id(u).build());
                    }
                    ec2.send(
                        ec2.modify_snapshot_attribute()
                            .snapshot_id(&snap)
                            .create_volume_permission(
                                CreateVolumePermissionModifications::builder()
                                    .set_add(Some(add))
                                    .build(),
                            ),
                        |r| r.send(),
                    )
                    .await
                    .map_err(|e| fail("create volume permissions", &snap, &e))?;
                }
            }
        }
        Ok(StepAction::Continue)
    }
}
