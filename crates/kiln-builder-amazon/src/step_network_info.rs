//! `StepNetworkInfo` (Packer's): resolves where the instance runs: the
//! subnet (`subnet_id`, or the one `subnet_filter` picks: the only match,
//! the one with the most free addresses, or a random one), its VPC and
//! availability zone, unless `availability_zone` is given. Creates
//! nothing; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepNetworkInfo {
    config: Arc<Config>,
}

impl StepNetworkInfo {
    /// A network lookup step.
    pub fn new(config: Arc<Config>) -> Self {
        StepNetworkInfo { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepNetworkInfo {
    fn name(&self) -> &'static str {
        "StepNetworkInfo"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        state.vpc_id = c.vpc_id.clone();
        state.availability_zone = c.availability_zone.clone();
        let subnet = if let Some(f) = &c.subnet_filter {
            let mut req = state.ec2.describe_subnets();
            for (k, v) in &f.filters {
                req = req.filters(Filter::builder().name(k).values(v).build());
            }
            if let Some(vpc) = &c.vpc_id {
                req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
            }
            let resp = req.send().await.map_err(|e| {
                StepError::msg(format!("error querying subnets: {}", client::describe(&e)))
            })?;
            let subnets = resp.subnets();
            if subnets.is_empty() {
                return Err(StepError::msg("no subnets found matching `subnet_filter`"));
            }
            let chosen = if subnets.len() == 1 {
                &subnets[0]
            } else if f.most_free {
                subnets
                    .iter()
                    .max_by_key(|s| s.available_ip_address_count().unwrap_or(0))
                    .unwrap_or(&subnets[0])
            } else if f.random {
                &subnets[uuid::Uuid::new_v4().as_bytes()[0] as usize % subnets.len()]
            } else {
                return Err(StepError::msg(format!(
                    "your filter matched {} subnets; please try a more specific search, or set `random` or `most_free` to true",
                    subnets.len()
                )));
            };
            let id = chosen.subnet_id().unwrap_or_default().to_string();
            cx.ui.message(&format!("Found Subnet ID: {id}"));
            Some(chosen.clone())
        } else if let Some(id) = &c.subnet_id {
            let resp = state
                .ec2
                .describe_subnets()
                .subnet_ids(id)
                .send()
                .await
                .map_err(|e| {
                    StepError::msg(format!(
                        "error describing subnet `{id}`: {}",
                        client::describe(&e)
                    ))
                })?;
            resp.subnets().first().cloned()
        } else {
            None
        };
        if let Some(s) = subnet {
            state.subnet_id = s.subnet_id().map(str::to_string);
            if state.vpc_id.is_none() {
                state.vpc_id = s.vpc_id().map(str::to_string);
            }
            if state.availability_zone.is_none() {
                state.availability_zone = s.availability_zone().map(str::to_string);
            }
        }
        Ok(StepAction::Continue)
    }
}
