//! tencentcloud-cvm's side of kiln-cloud's network family
//! ([`kiln_cloud::steps::network`]): `CreateVpc` / `CreateSubnet` (in the
//! build's zone) / `CreateSecurityGroup` tagged with the run tags and
//! adopted by name when a retry follows a lost reply, their `Describe…`
//! and `Delete…` (Tencent's are synchronous: nothing to wait for), and
//! the group's policies: the communicator port in from the rule's blocks,
//! everything out (Packer opens every port in; kiln only the one it
//! needs). Packer's tencentcloud wording. Holds nothing; the steps'
//! cleanups delete what they made.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_cloud::steps::network::{
    IngressRule, NetworkEvent, NetworkResource, SecurityGroupApi, SecurityGroupEvent,
};
/// The network calls and specs, for callers without kiln-cloud (tests,
/// `kiln cleanup`).
pub use kiln_cloud::steps::network::{NetworkApi, TemporaryNetwork, TemporarySubnet};
use kiln_cloud::steps::Line;
use kiln_cloud::{ApiError, Attempt, CheckError, Status};
use serde_json::{json, Value};

use super::{items, tag_list, text, Cvm};
use crate::TencentState;

const NOT_FOUND: &[&str] = &[
    "ResourceNotFound",
    "InvalidParameterValue.ResourceNotFound",
    "InvalidSecurityGroupID.NotFound",
];

/// The action, the id key and the reply's list of a network resource.
fn names(resource: NetworkResource) -> (&'static str, &'static str, &'static str, &'static str) {
    match resource {
        NetworkResource::Network => ("Vpcs", "VpcId", "VpcSet", "vpc-name"),
        NetworkResource::Subnet => ("Subnets", "SubnetId", "SubnetSet", "subnet-name"),
    }
}

impl Cvm {
    /// `Describe<Vpcs|Subnets>` with `body`: the objects found (none for
    /// an id Tencent does not know).
    async fn describe_network(
        &self,
        resource: NetworkResource,
        body: Value,
    ) -> Result<Vec<Value>, ApiError> {
        let (what, _, set, _) = names(resource);
        match self.vpc.call(&format!("Describe{what}"), &body, None).await {
            Ok(reply) => Ok(items(&reply, set).to_vec()),
            Err(e) if e.is(NOT_FOUND) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The ids of the groups `body` describes.
    async fn group_ids(&self, body: Value) -> Result<Vec<String>, ApiError> {
        match self.vpc.call("DescribeSecurityGroups", &body, None).await {
            Ok(reply) => Ok(items(&reply, "SecurityGroupSet")
                .iter()
                .map(|g| text(g, "SecurityGroupId").to_string())
                .collect()),
            Err(e) if e.is(NOT_FOUND) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl NetworkApi for Cvm {
    async fn exists(
        &self,
        resource: NetworkResource,
        id: &str,
        network: Option<&str>,
    ) -> Result<bool, ApiError> {
        let (_, key, _, _) = names(resource);
        let found = self
            .describe_network(resource, json!({ format!("{key}s"): [id] }))
            .await?;
        Ok(found.iter().any(|r| {
            let in_network = match (resource, network) {
                (NetworkResource::Subnet, Some(n)) => text(r, "VpcId") == n,
                _ => true,
            };
            text(r, key) == id && in_network
        }))
    }

    async fn create_network(
        &self,
        spec: &TemporaryNetwork,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let body = json!({"VpcName": spec.name, "CidrBlock": spec.cidr, "Tags": tag_list(tags)});
        let find = || async {
            Ok(self
                .find(NetworkResource::Network, &spec.name, None)
                .await?
                .map(|id| json!({"Vpc": {"VpcId": id}})))
        };
        let reply = self.vpc.create("CreateVpc", &body, &[], true, find).await?;
        Ok(text(&reply["Vpc"], "VpcId").to_string())
    }

    async fn create_subnet(
        &self,
        network: &str,
        spec: &TemporarySubnet,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let zone = spec.zone.clone().unwrap_or_else(|| self.zone.clone());
        let body = json!({
            "VpcId": network, "SubnetName": spec.name, "CidrBlock": spec.cidr,
            "Zone": zone, "Tags": tag_list(tags),
        });
        let find = || async {
            Ok(self
                .find(NetworkResource::Subnet, &spec.name, Some(network))
                .await?
                .map(|id| json!({"Subnet": {"SubnetId": id}})))
        };
        let reply = self
            .vpc
            .create("CreateSubnet", &body, &[], true, find)
            .await?;
        Ok(text(&reply["Subnet"], "SubnetId").to_string())
    }

    async fn find(
        &self,
        resource: NetworkResource,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let (_, key, _, filter) = names(resource);
        let mut filters = vec![json!({"Name": filter, "Values": [name]})];
        if let (NetworkResource::Subnet, Some(n)) = (resource, network) {
            filters.push(json!({"Name": "vpc-id", "Values": [n]}));
        }
        let found = self
            .describe_network(resource, json!({ "Filters": filters }))
            .await?;
        Ok(found.first().map(|r| text(r, key).to_string()))
    }

    async fn status(&self, _: NetworkResource, _: &str) -> Result<Status<()>, CheckError> {
        // Tencent's CreateVpc and CreateSubnet are synchronous.
        Ok(Status::Ready(()))
    }

    async fn delete(&self, resource: NetworkResource, id: &str) -> Result<(), ApiError> {
        let (action, body) = match resource {
            NetworkResource::Network => ("DeleteVpc", json!({"VpcId": id})),
            NetworkResource::Subnet => ("DeleteSubnet", json!({"SubnetId": id})),
        };
        self.vpc.delete(action, &body, NOT_FOUND).await
    }

    fn line(&self, event: &NetworkEvent<'_>) -> Option<Line> {
        let word = |r: &NetworkResource| match r {
            NetworkResource::Network => ("vpc", "Vpc"),
            NetworkResource::Subnet => ("subnet", "Subnet"),
        };
        Some(match event {
            NetworkEvent::Using(r, id) => {
                Line::Say(format!("Trying to use existing {}: {id}...", word(r).0))
            }
            NetworkEvent::Creating(r, _) => {
                Line::Say(format!("Trying to create a new {}...", word(r).0))
            }
            NetworkEvent::Created(r, id) => Line::Message(format!("{} created: {id}", word(r).1)),
            NetworkEvent::Deleting {
                resource, failed, ..
            } => Line::Say(super::cleanup_line(word(resource).0, *failed)),
        })
    }
}

kiln_cloud::impl_network_state!(TencentState, cvm: Cvm, network: vpc_id, subnet: subnet_id);

#[async_trait]
impl SecurityGroupApi for Cvm {
    async fn existing_security_groups(
        &self,
        ids: &[String],
        _network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        self.group_ids(json!({ "SecurityGroupIds": ids })).await
    }

    async fn find_security_groups(
        &self,
        filter: &BTreeMap<String, String>,
        _network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let filters: Vec<Value> = filter
            .iter()
            .map(|(k, v)| json!({"Name": k, "Values": [v]}))
            .collect();
        self.group_ids(json!({ "Filters": filters })).await
    }

    async fn find_security_group(
        &self,
        name: &str,
        _network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let by_name = json!({"Filters": [{"Name": "security-group-name", "Values": [name]}]});
        Ok(self.group_ids(by_name).await?.into_iter().next())
    }

    async fn create_security_group(
        &self,
        name: &str,
        network: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let body = json!({
            "GroupName": name, "GroupDescription": "securitygroup for packer", "Tags": tag_list(tags),
        });
        let find = || async {
            Ok(self
                .find_security_group(name, network)
                .await?
                .map(|id| json!({"SecurityGroup": {"SecurityGroupId": id}})))
        };
        let reply = self
            .vpc
            .create("CreateSecurityGroup", &body, &[], true, find)
            .await?;
        Ok(text(&reply["SecurityGroup"], "SecurityGroupId").to_string())
    }

    async fn authorize_ingress(
        &self,
        id: &str,
        rule: &IngressRule,
        _attempt: Attempt,
    ) -> Result<(), ApiError> {
        // Adding a policy twice (a retry after a lost reply) is harmless:
        // Tencent keeps both, and the group is temporary.
        let port = |p: &mut Value| {
            if rule.port != 0 {
                p["Protocol"] = "TCP".into();
                p["Port"] = rule.port.to_string().into();
            }
        };
        let ingress: Vec<Value> = rule
            .cidrs
            .iter()
            .map(|c| {
                let mut p = json!({"CidrBlock": c, "Action": "ACCEPT"});
                port(&mut p);
                p
            })
            .collect();
        for set in [
            json!({ "Ingress": ingress }),
            json!({"Egress": [{"CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}]}),
        ] {
            self.vpc
                .call(
                    "CreateSecurityGroupPolicies",
                    &json!({"SecurityGroupId": id, "SecurityGroupPolicySet": set}),
                    None,
                )
                .await?;
        }
        Ok(())
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), ApiError> {
        self.vpc
            .delete(
                "DeleteSecurityGroup",
                &json!({ "SecurityGroupId": id }),
                NOT_FOUND,
            )
            .await
    }

    fn line(&self, event: &SecurityGroupEvent<'_>) -> Option<Line> {
        Some(match event {
            SecurityGroupEvent::Found(_) => return None,
            SecurityGroupEvent::Creating(_) => {
                Line::Say("Trying to create a new securitygroup...".into())
            }
            SecurityGroupEvent::Created(id) => {
                Line::Message(format!("Securitygroup created: {id}"))
            }
            SecurityGroupEvent::Authorizing(_) => {
                Line::Say("Trying to create securitygroup polices...".into())
            }
            SecurityGroupEvent::Deleting(_) => Line::Say("Cleaning up securitygroup...".into()),
        })
    }
}

kiln_cloud::impl_security_group_state!(TencentState, cvm: Cvm, network: vpc_id, group: security_group_id);
