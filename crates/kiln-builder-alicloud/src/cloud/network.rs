//! alicloud-ecs's side of the temporary network and security group
//! ([`kiln_cloud::steps::network`]): VPCs (`CreateVpc`, `DescribeVpcs`,
//! `DeleteVpc`), vSwitches (`CreateVSwitch` in a zone `DescribeZones`
//! says offers the instance type, `DescribeVSwitches`, `DeleteVSwitch`)
//! and security groups (`CreateSecurityGroup` tagged with the run tags,
//! all egress and the communicator's port in, `DeleteSecurityGroup`), on
//! the ECS API as Packer 1.6.6 calls them; creates carry a `ClientToken`.
//! ECS's 2014-05-26 `CreateVpc` and `CreateVSwitch` take no tags: the VPC
//! and vSwitch carry the run tags in their `Description` instead
//! ([`super::run_description`]), where `kiln cleanup` finds them. Packer's
//! alicloud wording. Holds nothing; the steps' cleanups delete what they
//! made.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_cloud::steps::network::{
    IngressRule, NetworkApi, NetworkEvent, NetworkResource, SecurityGroupApi, SecurityGroupEvent,
    TemporaryNetwork, TemporarySubnet,
};
use kiln_cloud::steps::Line;
use kiln_cloud::{ApiError, Attempt, CheckError, Status};
use serde_json::Value;

use super::{cleanup_line, client_token, items, json_list, reply_error, tag_map, text, Ecs};
use crate::client::Params;
use crate::AlicloudState;

/// The VPC's address block when the template gives none (Packer's).
pub const DEFAULT_VPC_CIDR: &str = "172.16.0.0/16";

const VPC_NOT_FOUND: &[&str] = &["InvalidVpcId.NotFound"];
const VSWITCH_NOT_FOUND: &[&str] = &["InvalidVSwitchId.NotFound", "InvalidVswitchId.NotFound"];
const GROUP_NOT_FOUND: &[&str] = &["InvalidSecurityGroupId.NotFound"];

impl Ecs {
    /// The VPCs or vSwitches `params` selects.
    async fn describe_network(
        &self,
        resource: NetworkResource,
        params: Params,
    ) -> Result<Vec<Value>, ApiError> {
        let (action, outer, inner) = match resource {
            NetworkResource::Network => ("DescribeVpcs", "Vpcs", "Vpc"),
            NetworkResource::Subnet => ("DescribeVSwitches", "VSwitches", "VSwitch"),
        };
        let reply = self.call(action, &params.set("PageSize", "50")).await?;
        Ok(items(&reply, outer, inner).to_vec())
    }

    /// The VPC of vSwitch `id` (`None`: ECS does not know the vSwitch).
    pub async fn vswitch_vpc(&self, id: &str) -> Result<Option<String>, ApiError> {
        let found = self
            .describe_network(NetworkResource::Subnet, Params::new().set("VSwitchId", id))
            .await?;
        Ok(found
            .iter()
            .find(|v| text(v, "VSwitchId") == id)
            .map(|v| text(v, "VpcId").to_string()))
    }

    /// The zone for the temporary vSwitch: the first of the region's zones
    /// that offers vSwitches and the instance type.
    async fn zone(&self) -> Result<String, ApiError> {
        let reply = self.call("DescribeZones", &Params::new()).await?;
        let offers = |z: &Value, path: [&str; 2], want: &str| {
            z[path[0]][path[1]]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(want)))
        };
        items(&reply, "Zones", "Zone")
            .iter()
            .find(|z| {
                offers(z, ["AvailableResourceCreation", "ResourceTypes"], "VSwitch")
                    && offers(
                        z,
                        ["AvailableInstanceTypes", "InstanceTypes"],
                        &self.instance_type,
                    )
            })
            .map(|z| text(z, "ZoneId").to_string())
            .ok_or_else(|| {
                reply_error(
                    self,
                    "DescribeZones",
                    format!(
                        "no zone of region `{}` offers the instance type `{}`: set `zone_id`, or choose another `instance_type`",
                        self.region(),
                        self.instance_type
                    ),
                )
            })
    }
}

fn id_key(resource: NetworkResource) -> &'static str {
    match resource {
        NetworkResource::Network => "VpcId",
        NetworkResource::Subnet => "VSwitchId",
    }
}

fn noun(resource: NetworkResource) -> &'static str {
    match resource {
        NetworkResource::Network => "vpc",
        NetworkResource::Subnet => "vswitch",
    }
}

#[async_trait]
impl NetworkApi for Ecs {
    async fn exists(
        &self,
        resource: NetworkResource,
        id: &str,
        network: Option<&str>,
    ) -> Result<bool, ApiError> {
        let params = Params::new().set(id_key(resource), id).opt(
            "VpcId",
            network.filter(|_| resource == NetworkResource::Subnet),
        );
        let found = self.describe_network(resource, params).await?;
        Ok(found.iter().any(|v| text(v, id_key(resource)) == id))
    }

    async fn create_network(
        &self,
        spec: &TemporaryNetwork,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let params = Params::new()
            .set("CidrBlock", spec.cidr.as_str())
            .set("VpcName", spec.name.as_str())
            .opt("Description", super::run_description(tags))
            .set("ClientToken", client_token());
        let find = || async { Ok(None) };
        let reply: Value = self
            .client
            .create("CreateVpc", &params, &[], false, find)
            .await?;
        Ok(text(&reply, "VpcId").to_string())
    }

    async fn create_subnet(
        &self,
        network: &str,
        spec: &TemporarySubnet,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let zone = match &spec.zone {
            Some(z) => z.clone(),
            None => self.zone().await?,
        };
        let params = Params::new()
            .set("VpcId", network)
            .set("ZoneId", zone)
            .set("CidrBlock", spec.cidr.as_str())
            .set("VSwitchName", spec.name.as_str())
            .opt("Description", super::run_description(tags))
            .set("ClientToken", client_token());
        let find = || async { Ok(None) };
        let reply: Value = self
            .client
            .create("CreateVSwitch", &params, &[], false, find)
            .await?;
        Ok(text(&reply, "VSwitchId").to_string())
    }

    async fn find(
        &self,
        resource: NetworkResource,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let params = match resource {
            NetworkResource::Network => Params::new().set("VpcName", name),
            NetworkResource::Subnet => Params::new().opt("VpcId", network),
        };
        let name_key = match resource {
            NetworkResource::Network => "VpcName",
            NetworkResource::Subnet => "VSwitchName",
        };
        let found = self.describe_network(resource, params).await?;
        Ok(found
            .iter()
            .find(|v| text(v, name_key) == name)
            .map(|v| text(v, id_key(resource)).to_string()))
    }

    async fn status(&self, resource: NetworkResource, id: &str) -> Result<Status<()>, CheckError> {
        let found = self
            .describe_network(resource, Params::new().set(id_key(resource), id))
            .await?;
        Ok(
            match found.iter().find(|v| text(v, id_key(resource)) == id) {
                Some(v) if text(v, "Status") == "Available" => Status::Ready(()),
                Some(v) => Status::Pending(text(v, "Status").to_string()),
                None => Status::Pending("unknown to ECS".into()),
            },
        )
    }

    async fn delete(&self, resource: NetworkResource, id: &str) -> Result<(), ApiError> {
        let (action, not_found) = match resource {
            NetworkResource::Network => ("DeleteVpc", VPC_NOT_FOUND),
            NetworkResource::Subnet => ("DeleteVSwitch", VSWITCH_NOT_FOUND),
        };
        let params = Params::new().set(id_key(resource), id);
        Ecs::delete(self, action, &params, not_found).await
    }

    fn line(&self, event: &NetworkEvent<'_>) -> Option<Line> {
        Some(match event {
            NetworkEvent::Using(..) => return None,
            NetworkEvent::Creating(r, _) => Line::Say(format!("Creating {}...", noun(*r))),
            NetworkEvent::Created(r, id) => Line::Message(format!("Created {}: {id}", noun(*r))),
            NetworkEvent::Deleting {
                resource, failed, ..
            } => {
                let module = match resource {
                    NetworkResource::Network => "VPC",
                    NetworkResource::Subnet => "vSwitch",
                };
                Line::Say(cleanup_line(module, *failed))
            }
        })
    }
}

kiln_cloud::impl_network_state!(AlicloudState, ecs: Ecs, network: vpc_id, subnet: vswitch_id);

impl Ecs {
    /// The security groups `params` selects.
    async fn describe_groups(&self, params: Params) -> Result<Vec<Value>, ApiError> {
        let reply = self
            .call("DescribeSecurityGroups", &params.set("PageSize", "50"))
            .await?;
        Ok(items(&reply, "SecurityGroups", "SecurityGroup").to_vec())
    }

    /// The ids of the security groups `params` selects.
    async fn group_ids(&self, params: Params) -> Result<Vec<String>, ApiError> {
        let found = self.describe_groups(params).await?;
        Ok(found.iter().map(group_id).collect())
    }
}

/// A `DescribeSecurityGroups` entry's id.
fn group_id(group: &Value) -> String {
    text(group, "SecurityGroupId").to_string()
}

#[async_trait]
impl SecurityGroupApi for Ecs {
    async fn existing_security_groups(
        &self,
        ids: &[String],
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let params = Params::new().set("SecurityGroupIds", json_list(&refs));
        self.group_ids(params.opt("VpcId", network)).await
    }

    async fn find_security_groups(
        &self,
        filter: &BTreeMap<String, String>,
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        self.group_ids(Params::new().opt("VpcId", network).tags("Tag", filter))
            .await
    }

    async fn find_security_group(
        &self,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let found = self
            .describe_groups(
                Params::new()
                    .set("SecurityGroupName", name)
                    .opt("VpcId", network),
            )
            .await?;
        Ok(found
            .iter()
            .find(|g| text(g, "SecurityGroupName") == name)
            .map(group_id))
    }

    async fn create_security_group(
        &self,
        name: &str,
        network: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let params = Params::new()
            .set("SecurityGroupName", name)
            .set("Description", "Auto created by kiln")
            .opt("VpcId", network)
            .set("ClientToken", client_token())
            .tags("Tag", &tag_map(tags));
        let find = || async { Ok(None) };
        let reply: Value = self
            .client
            .create("CreateSecurityGroup", &params, &[], false, find)
            .await?;
        Ok(text(&reply, "SecurityGroupId").to_string())
    }

    async fn authorize_ingress(
        &self,
        id: &str,
        rule: &IngressRule,
        _attempt: Attempt,
    ) -> Result<(), ApiError> {
        // Packer's rules: everything out, the communicator's port in. A
        // rule already there (a retry after a lost reply) is success.
        const DUPLICATE: &[&str] = &["InvalidPermission.Duplicate"];
        let egress = Params::new()
            .set("SecurityGroupId", id)
            .set("IpProtocol", "all")
            .set("PortRange", "-1/-1")
            .set("NicType", "intranet")
            .set("DestCidrIp", "0.0.0.0/0");
        match self.call("AuthorizeSecurityGroupEgress", &egress).await {
            Err(e) if !e.is(DUPLICATE) => return Err(e),
            _ => {}
        }
        let port = if rule.port == 0 { 22 } else { rule.port };
        for cidr in &rule.cidrs {
            let ingress = Params::new()
                .set("SecurityGroupId", id)
                .set("IpProtocol", "tcp")
                .set("PortRange", format!("{port}/{port}"))
                .set("NicType", "intranet")
                .set("SourceCidrIp", cidr.as_str());
            match self.call("AuthorizeSecurityGroup", &ingress).await {
                Err(e) if !e.is(DUPLICATE) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), ApiError> {
        let params = Params::new().set("SecurityGroupId", id);
        self.delete("DeleteSecurityGroup", &params, GROUP_NOT_FOUND)
            .await
    }

    fn line(&self, event: &SecurityGroupEvent<'_>) -> Option<Line> {
        Some(match event {
            SecurityGroupEvent::Found(ids) => {
                Line::Message(format!("Found security group(s): {}", ids.join(", ")))
            }
            SecurityGroupEvent::Creating(_) => Line::Say("Creating security group...".into()),
            SecurityGroupEvent::Created(id) => {
                Line::Message(format!("Created security group: {id}"))
            }
            SecurityGroupEvent::Authorizing(_) => return None,
            SecurityGroupEvent::Deleting(_) => Line::Say(cleanup_line("security group", false)),
        })
    }
}

kiln_cloud::impl_security_group_state!(AlicloudState, ecs: Ecs, network: vpc_id, group: security_group_id);
