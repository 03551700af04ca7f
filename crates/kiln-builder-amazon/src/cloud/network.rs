//! amazon-ebs's side of the security group step
//! ([`kiln_cloud::steps::network`]): which groups the instance goes in
//! (`security_group_ids`, else `security_group_filter` in the build's VPC,
//! else a temporary `packer_<uuid>` group open on the communicator port to
//! `temporary_security_group_source_cidrs`: [`security_group_plan`]); the
//! EC2 calls, retried by kiln's policy (a create retried after a lost reply
//! adopts the group it finds by name, a rule already there on a retry is
//! success, a delete of a group already gone is done); and the state the
//! step reads and records in [`AmazonState`]. EC2 builds go into an
//! existing VPC (`StepNetworkInfo` finds it), so amazon implements no
//! `NetworkApi`. Holds nothing; the step's cleanup deletes the group.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType};
use kiln_cloud::retry::deleted;
use kiln_cloud::steps::network::{IngressRule, SecurityGroupApi, SecurityGroupPlan};
use kiln_cloud::{ApiError, Attempt};
use kiln_ssh::CommunicatorConfig;

use crate::client::{self, Ec2};
use crate::config::Config;
use crate::step_network_info::ec2_filter;
use crate::{tags, AmazonState};

const NOT_FOUND: &[&str] = &["InvalidGroup.NotFound"];
/// The rule of an attempt whose reply was lost exists: a duplicate on a
/// retry is success.
const DUPLICATE_RULE: &[&str] = &["InvalidPermission.Duplicate"];

/// Packer's choice of security groups for `c`.
pub fn security_group_plan(c: &Config) -> SecurityGroupPlan {
    if !c.security_group_ids.is_empty() {
        return SecurityGroupPlan::Given(c.security_group_ids.clone());
    }
    if let Some(filter) = &c.security_group_filter {
        return SecurityGroupPlan::Filter(filter.clone());
    }
    let port = match &c.communicator {
        CommunicatorConfig::Ssh(s) => s.port,
        CommunicatorConfig::None => 0,
    };
    SecurityGroupPlan::Temporary {
        name: client::temporary_name(),
        rule: IngressRule {
            port,
            cidrs: c.temporary_sg_cidrs.clone(),
        },
    }
}

#[async_trait]
impl SecurityGroupApi for Ec2 {
    async fn existing_security_groups(
        &self,
        ids: &[String],
        _network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let req = ec2
            .describe_security_groups()
            .set_group_ids(Some(ids.to_vec()));
        let found = self.send(req, |r| r.send()).await?;
        Ok(group_ids(&found))
    }

    async fn find_security_groups(
        &self,
        filter: &BTreeMap<String, String>,
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let mut filter = filter.clone();
        if let Some(vpc) = network {
            filter.insert("vpc-id".into(), vpc.to_string());
        }
        let ec2: &aws_sdk_ec2::Client = self;
        let mut req = ec2.describe_security_groups();
        for (k, v) in &filter {
            req = req.filters(ec2_filter(k, v));
        }
        let found = self.send(req, |r| r.send()).await?;
        Ok(group_ids(&found))
    }

    async fn find_security_group(
        &self,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let mut req = ec2
            .describe_security_groups()
            .filters(ec2_filter("group-name", name));
        if let Some(vpc) = network {
            req = req.filters(ec2_filter("vpc-id", vpc));
        }
        let found = self.send(req, |r| r.send()).await?;
        Ok(group_ids(&found).into_iter().next())
    }

    async fn create_security_group(
        &self,
        name: &str,
        network: Option<&str>,
        run_tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let mut req = ec2
            .create_security_group()
            .group_name(name)
            .description("Temporary group for Packer")
            .set_tag_specifications(tags::spec(
                ResourceType::SecurityGroup,
                tags::ec2_tags(run_tags),
            ));
        if let Some(vpc) = network {
            req = req.vpc_id(vpc);
        }
        // A retry after a lost reply finds the group made: adopt it.
        let find = || async {
            let id = self.find_security_group(name, network).await?;
            Ok::<_, ApiError>(
                id.map(|id| CreateSecurityGroupOutput::builder().group_id(id).build()),
            )
        };
        let made = self
            .create(req, |r| r.send(), &["InvalidGroup.Duplicate"], false, find)
            .await?;
        Ok(made.group_id().unwrap_or_default().to_string())
    }

    async fn authorize_ingress(
        &self,
        id: &str,
        rule: &IngressRule,
        attempt: Attempt,
    ) -> Result<(), ApiError> {
        let perm = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(i32::from(rule.port))
            .to_port(i32::from(rule.port))
            .set_ip_ranges(Some(
                rule.cidrs
                    .iter()
                    .map(|cidr| IpRange::builder().cidr_ip(cidr).build())
                    .collect(),
            ))
            .build();
        let ec2: &aws_sdk_ec2::Client = self;
        let req = ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .ip_permissions(perm);
        let done = || async { Ok(Some(AuthorizeSecurityGroupIngressOutput::builder().build())) };
        match self
            .create(req, |r| r.send(), DUPLICATE_RULE, false, done)
            .await
        {
            Err(e) if attempt.is_retry() && e.is(DUPLICATE_RULE) => Ok(()),
            r => r.map(drop),
        }
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), ApiError> {
        let ec2: &aws_sdk_ec2::Client = self;
        let req = ec2.delete_security_group().group_id(id);
        deleted(self.delete(req, |r| r.send(), NOT_FOUND).await, NOT_FOUND)
    }
}

/// The ids of the groups a describe found.
fn group_ids(
    found: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput,
) -> Vec<String> {
    found
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .map(str::to_string)
        .collect()
}

kiln_cloud::impl_security_group_state!(AmazonState, ec2: Ec2, network: vpc_id, groups: security_group_ids);
