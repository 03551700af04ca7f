//! `StepNetworkInfo` (Packer's): resolves where the instance runs: the VPC
//! (`vpc_id`, or the single VPC `vpc_filter` matches), the subnet
//! (`subnet_id`, or the one `subnet_filter` picks among the available
//! subnets of that VPC and availability zone: the only match, the one with
//! the most free addresses, or a random one), its VPC and availability
//! zone, unless `availability_zone` is given. Creates nothing; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::AmazonState;

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

/// An EC2 filter from a template one (one value, as in Packer 1.6.6).
pub fn ec2_filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
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
        if let (None, Some(filters)) = (&c.vpc_id, &c.vpc_filter) {
            let mut req = state.ec2.describe_vpcs();
            for (k, v) in filters {
                req = req.filters(ec2_filter(k, v));
            }
            let resp = state
                .ec2
                .send(req, |r| r.send())
                .await
                .map_err(|e| StepError::msg(format!("error querying VPCs: {}", e)))?;
            let [vpc] = resp.vpcs() else {
                return Err(StepError::msg(format!(
                    "exactly one VPC should match `vpc_filter`, but {} VPCs were found",
                    resp.vpcs().len()
                )));
            };
            let id = vpc.vpc_id().unwrap_or_default().to_string();
            cx.ui.message(&format!("Found VPC ID: {id}"));
            state.vpc_id = Some(id);
        }
        let subnet = if let Some(f) = &c.subnet_filter {
            let mut filters = f.filters.clone();
            filters.insert("state".into(), "available".into());
            if let Some(vpc) = &state.vpc_id {
                filters.insert("vpc-id".into(), vpc.clone());
            }
            if let Some(az) = &state.availability_zone {
                filters.insert("availabilityZone".into(), az.clone());
            }
            let mut req = state.ec2.describe_subnets();
            for (k, v) in &filters {
                req = req.filters(ec2_filter(k, v));
            }
            let resp = state
                .ec2
                .send(req, |r| r.send())
                .await
                .map_err(|e| StepError::msg(format!("error querying subnets: {}", e)))?;
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
                .send(state.ec2.describe_subnets().subnet_ids(id), |r| r.send())
                .await
                .map_err(|e| StepError::msg(format!("error describing subnet `{id}`: {}", e)))?;
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
