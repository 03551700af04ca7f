//! `StepSecurityGroup` (Packer's): uses `security_group_ids` when given
//! (checking they exist), else the groups `security_group_filter` matches
//! (in the build's VPC), else creates a temporary security group
//! (`packer_<uuid>`, in the build's VPC) that lets the communicator port in
//! from `temporary_security_group_source_cidrs`. It records the group ids
//! in the state; its cleanup deletes the temporary group, retrying while
//! EC2 still sees the terminated instance in it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_ssh::CommunicatorConfig;

use crate::config::Config;
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepSecurityGroup {
    config: Arc<Config>,
    /// The temporary group to delete.
    created: Option<String>,
}

impl StepSecurityGroup {
    /// A security group step.
    pub fn new(config: Arc<Config>) -> Self {
        StepSecurityGroup {
            config,
            created: None,
        }
    }
}

#[async_trait]
impl Step<AmazonState> for StepSecurityGroup {
    fn name(&self) -> &'static str {
        "StepSecurityGroup"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        if !c.security_group_ids.is_empty() {
            state
                .ec2
                .send(
                    state
                        .ec2
                        .describe_security_groups()
                        .set_group_ids(Some(c.security_group_ids.clone())),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!("couldn't find specified security group: {}", e))
                })?;
            state.security_group_ids = c.security_group_ids.clone();
            return Ok(StepAction::Continue);
        }
        if let Some(filters) = &c.security_group_filter {
            let mut filters = filters.clone();
            if let Some(vpc) = &state.vpc_id {
                filters.insert("vpc-id".into(), vpc.clone());
            }
            let mut req = state.ec2.describe_security_groups();
            for (k, v) in &filters {
                req = req.filters(crate::step_network_info::ec2_filter(k, v));
            }
            let resp = state.ec2.send(req, |r| r.send()).await.map_err(|e| {
                StepError::msg(format!("couldn't find security groups for filter: {}", e))
            })?;
            let ids: Vec<String> = resp
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .map(str::to_string)
                .collect();
            if ids.is_empty() {
                return Err(StepError::msg(
                    "no security group matches `security_group_filter`",
                ));
            }
            cx.ui
                .message(&format!("Found Security Group(s): {}", ids.join(", ")));
            state.security_group_ids = ids;
            return Ok(StepAction::Continue);
        }
        let port = match &c.communicator {
            CommunicatorConfig::Ssh(s) => i32::from(s.port),
            CommunicatorConfig::None => 0,
        };
        let name = client::temporary_name();
        cx.ui.say(&format!(
            "Creating temporary security group for this instance: {name}"
        ));
        let mut req = state
            .ec2
            .create_security_group()
            .group_name(&name)
            .description("Temporary group for Packer")
            .set_tag_specifications(crate::tags::specs(
                state,
                aws_sdk_ec2::types::ResourceType::SecurityGroup,
                &[],
            ));
        if let Some(vpc) = &state.vpc_id {
            req = req.vpc_id(vpc);
        }
        // A retry after a lost reply finds the group made: adopt it.
        let find = || find_group(&state.ec2, &name, state.vpc_id.as_deref());
        let resp = state
            .ec2
            .create(req, |r| r.send(), &["InvalidGroup.Duplicate"], false, find)
            .await
            .map_err(|e| StepError::msg(format!("error creating temporary security group: {e}")))?;
        let id = resp.group_id().unwrap_or_default().to_string();
        self.created = Some(id.clone());
        state.security_group_ids = vec![id.clone()];

        cx.ui.say(&format!(
            "Authorizing access to port {port} from [{}] in the temporary security groups...",
            c.temporary_sg_cidrs.join(" ")
        ));
        let perm = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .set_ip_ranges(Some(
                c.temporary_sg_cidrs
                    .iter()
                    .map(|cidr| IpRange::builder().cidr_ip(cidr).build())
                    .collect(),
            ))
            .build();
        let mut last = None;
        // The rule of an attempt whose reply was lost exists: a duplicate
        // then is success.
        const DUPLICATE: &[&str] = &["InvalidPermission.Duplicate"];
        for attempt in 0..5u64 {
            let req = state
                .ec2
                .authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(perm.clone());
            let done = || async {
                Ok(Some(
                    aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput::builder().build(),
                ))
            };
            match state
                .ec2
                .create(req, |r| r.send(), DUPLICATE, false, done)
                .await
            {
                Err(e) if attempt > 0 && e.is(DUPLICATE) => {
                    last = None;
                    break;
                }
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::select! {
                        _ = cx.cancel.cancelled() => return Err(StepError::Cancelled),
                        _ = tokio::time::sleep(Duration::from_secs(attempt + 1)) => {}
                    }
                }
            }
        }
        if let Some(e) = last {
            return Err(StepError::msg(format!(
                "error creating temporary security group: {e}"
            )));
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let Some(id) = self.created.take() else {
            return;
        };
        cx.ui.say("Deleting temporary security group...");
        let mut last = None;
        for attempt in 0..8u64 {
            let req = state.ec2.delete_security_group().group_id(&id);
            match state
                .ec2
                .delete(req, |r| r.send(), &["InvalidGroup.NotFound"])
                .await
            {
                Ok(_) => return,
                Err(e) if e.code() == Some("InvalidGroup.NotFound") => return,
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
                }
            }
        }
        cx.ui.error(&format!(
            "Error cleaning up security group. Please delete the group manually: {id} ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        ));
    }
}

/// The id of the security group `name` (in `vpc`), for adopting a group
/// whose creation reply was lost.
async fn find_group(
    ec2: &client::Ec2,
    name: &str,
    vpc: Option<&str>,
) -> Result<
    Option<aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput>,
    kiln_cloud::ApiError,
> {
    let mut req = ec2
        .describe_security_groups()
        .filters(crate::step_network_info::ec2_filter("group-name", name));
    if let Some(vpc) = vpc {
        req = req.filters(crate::step_network_info::ec2_filter("vpc-id", vpc));
    }
    let found = ec2.send(req, |r| r.send()).await?;
    Ok(found
        .security_groups()
        .iter()
        .find_map(|g| g.group_id())
        .map(|id| {
            aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput::builder()
                .group_id(id)
                .build()
        }))
}
