//! `NetworkApi` and `SecurityGroupApi` on [`Hw`]: VPC's `/v1` VPCs,
//! subnets (deleted through their VPC), security groups and rules; what a
//! build creates is tagged with the run tags (`/v2.0/{project}/{kind}/{id}/tags`)
//! and found again by name after a lost reply. A delete refused with 409
//! (still in use) is left to the generic step's retries; gone already is
//! done. The lines are the plugin's (`Creating temporary VPC...`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_cloud::steps::network::{
    network_line, security_group_line, IngressRule, NetworkApi, NetworkEvent, NetworkResource,
    SecurityGroupApi, SecurityGroupEvent, TemporaryNetwork, TemporarySubnet,
};
use kiln_cloud::steps::Line;
use kiln_cloud::{ApiError, Attempt, CheckError, Status};
use serde_json::{json, Value};

use super::{text, Hw};
use crate::client::{not_found, status, Call};
use crate::config::Service;

/// The CIDR of a temporary VPC and of its subnet, and the subnet's
/// gateway (the plugin's).
pub const VPC_CIDR: &str = "172.16.0.0/16";
/// See [`VPC_CIDR`].
pub const SUBNET_CIDR: &str = "172.16.0.0/24";

impl Hw {
    /// Tags the VPC resource `kind` (`vpcs`, `subnets`, `security-groups`,
    /// `publicips`) `id` with `tags`.
    pub async fn tag_resource(
        &self,
        kind: &str,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        let service = if kind == "publicips" {
            Service::Eip
        } else {
            Service::Vpc
        };
        for (k, v) in tags {
            let call = Call::post(
                service,
                "CreateResourceTag",
                self.client.path("/v2.0", &format!("/{kind}/{id}/tags")),
                json!({"tag": {"key": k, "value": v}}),
            );
            self.client.call(&call, None).await?;
        }
        Ok(())
    }

    async fn show(&self, resource: NetworkResource, id: &str) -> Result<Option<Value>, ApiError> {
        let (op, kind, key) = match resource {
            NetworkResource::Network => ("ShowVpc", "vpcs", "vpc"),
            NetworkResource::Subnet => ("ShowSubnet", "subnets", "subnet"),
        };
        let call = Call::get(
            Service::Vpc,
            op,
            self.client.path("/v1", &format!("/{kind}/{id}")),
        );
        match self.client.call(&call, None).await {
            Ok(v) => Ok(Some(v[key].clone())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(
        &self,
        op: &'static str,
        kind: &str,
        vpc: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let mut call = Call::get(
            Service::Vpc,
            op,
            self.client.path("/v1", &format!("/{kind}")),
        );
        if let Some(v) = vpc {
            call = call.query("vpc_id", v);
        }
        let v = self.client.call(&call, None).await?;
        Ok(v[kind.replace('-', "_")]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

#[async_trait]
impl NetworkApi for Hw {
    async fn exists(
        &self,
        resource: NetworkResource,
        id: &str,
        network: Option<&str>,
    ) -> Result<bool, ApiError> {
        Ok(match self.show(resource, id).await? {
            None => false,
            Some(v) => network
                .is_none_or(|n| resource == NetworkResource::Network || text(&v, "vpc_id") == n),
        })
    }

    async fn create_network(
        &self,
        spec: &TemporaryNetwork,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let c = &self.client;
        let call = Call::post(
            Service::Vpc,
            "CreateVpc",
            c.path("/v1", "/vpcs"),
            json!({"vpc": {"name": spec.name, "cidr": spec.cidr}}),
        );
        let name = spec.name.as_str();
        let v = c
            .create(&call, || async move {
                let found = self
                    .list("ListVpcs", "vpcs", None)
                    .await
                    .map_err(|e| e.fault)?;
                Ok(found
                    .into_iter()
                    .find(|v| text(v, "name") == name)
                    .map(|v| json!({ "vpc": v })))
            })
            .await?;
        let id = text(&v["vpc"], "id");
        self.tag_resource("vpcs", &id, tags).await?;
        Ok(id)
    }

    async fn create_subnet(
        &self,
        network: &str,
        spec: &TemporarySubnet,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let c = &self.client;
        let gateway = gateway_of(&spec.cidr);
        let mut body = json!({"subnet": {"name": spec.name, "cidr": spec.cidr, "gateway_ip": gateway, "vpc_id": network}});
        if let Some(z) = &spec.zone {
            body["subnet"]["availability_zone"] = json!(z);
        }
        let call = Call::post(
            Service::Vpc,
            "CreateSubnet",
            c.path("/v1", "/subnets"),
            body,
        );
        let name = spec.name.as_str();
        let v = c
            .create(&call, || async move {
                let found = self
                    .list("ListSubnets", "subnets", Some(network))
                    .await
                    .map_err(|e| e.fault)?;
                Ok(found
                    .into_iter()
                    .find(|v| text(v, "name") == name)
                    .map(|v| json!({ "subnet": v })))
            })
            .await?;
        let id = text(&v["subnet"], "id");
        self.tag_resource("subnets", &id, tags).await?;
        Ok(id)
    }

    async fn find(
        &self,
        resource: NetworkResource,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let found = match resource {
            NetworkResource::Network => self.list("ListVpcs", "vpcs", None).await?,
            NetworkResource::Subnet => self.list("ListSubnets", "subnets", network).await?,
        };
        Ok(found
            .iter()
            .find(|v| text(v, "name") == name)
            .map(|v| text(v, "id")))
    }

    async fn status(&self, resource: NetworkResource, id: &str) -> Result<Status<()>, CheckError> {
        let Some(v) = self.show(resource, id).await? else {
            return Ok(Status::Pending("unknown to VPC".into()));
        };
        let s = text(&v, "status");
        match s.as_str() {
            "OK" | "ACTIVE" => Ok(Status::Ready(())),
            "ERROR" => Err(CheckError::Failed(format!(
                "the {} is `ERROR`",
                resource.noun()
            ))),
            _ => Ok(Status::Pending(s)),
        }
    }

    async fn delete(&self, resource: NetworkResource, id: &str) -> Result<(), ApiError> {
        let c = &self.client;
        let call = match resource {
            NetworkResource::Network => Call::delete(
                Service::Vpc,
                "DeleteVpc",
                c.path("/v1", &format!("/vpcs/{id}")),
            ),
            NetworkResource::Subnet => {
                // A subnet is deleted through its VPC.
                let Some(v) = self.show(resource, id).await? else {
                    return Ok(());
                };
                let vpc = text(&v, "vpc_id");
                Call::delete(
                    Service::Vpc,
                    "DeleteSubnet",
                    c.path("/v1", &format!("/vpcs/{vpc}/subnets/{id}")),
                )
            }
        };
        c.delete(&call).await
    }

    fn line(&self, event: &NetworkEvent<'_>) -> Option<Line> {
        let noun = |r: &NetworkResource| match r {
            NetworkResource::Network => "VPC",
            NetworkResource::Subnet => "subnet",
        };
        Some(match event {
            NetworkEvent::Creating(r, _) => Line::Say(format!("Creating temporary {}...", noun(r))),
            NetworkEvent::Created(r, id) => {
                Line::Message(format!("temporary {} ID: {id}", noun(r)))
            }
            NetworkEvent::Deleting { resource, id, .. } => {
                Line::Say(format!("Deleting temporary {}: {id}...", noun(resource)))
            }
            e => return network_line(e),
        })
    }
}

/// The first address of `cidr` (`172.16.0.1` of `172.16.0.0/24`), the
/// plugin's gateway.
fn gateway_of(cidr: &str) -> String {
    let base = cidr.split('/').next().unwrap_or(cidr);
    let mut octets: Vec<u32> = base.split('.').filter_map(|o| o.parse().ok()).collect();
    if let Some(last) = octets.last_mut() {
        *last += 1;
    }
    octets
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[async_trait]
impl SecurityGroupApi for Hw {
    async fn existing_security_groups(
        &self,
        ids: &[String],
        _network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let mut found = Vec::new();
        for id in ids {
            let call = Call::get(
                Service::Vpc,
                "ShowSecurityGroup",
                self.client.path("/v1", &format!("/security-groups/{id}")),
            );
            match self.client.call(&call, None).await {
                Ok(_) => found.push(id.clone()),
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    async fn find_security_groups(
        &self,
        _filter: &BTreeMap<String, String>,
        network: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        // The plugin has no security group filter; kiln never asks.
        Ok(self
            .list("ListSecurityGroups", "security-groups", network)
            .await?
            .iter()
            .map(|g| text(g, "id"))
            .collect())
    }

    async fn find_security_group(
        &self,
        name: &str,
        network: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        Ok(self
            .list("ListSecurityGroups", "security-groups", network)
            .await?
            .iter()
            .find(|g| text(g, "name") == name)
            .map(|g| text(g, "id")))
    }

    async fn create_security_group(
        &self,
        name: &str,
        network: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String, ApiError> {
        let c = &self.client;
        let mut body = json!({"security_group": {"name": name}});
        if let Some(n) = network {
            body["security_group"]["vpc_id"] = json!(n);
        }
        let call = Call::post(
            Service::Vpc,
            "CreateSecurityGroup",
            c.path("/v1", "/security-groups"),
            body,
        );
        let v = c
            .create(&call, || async move {
                let found = self
                    .find_security_group(name, network)
                    .await
                    .map_err(|e| e.fault)?;
                Ok(found.map(|id| json!({"security_group": {"id": id}})))
            })
            .await?;
        let id = text(&v["security_group"], "id");
        self.tag_resource("security-groups", &id, tags).await?;
        Ok(id)
    }

    async fn authorize_ingress(
        &self,
        id: &str,
        rule: &IngressRule,
        attempt: Attempt,
    ) -> Result<(), ApiError> {
        for cidr in &rule.cidrs {
            let call = Call::post(
                Service::Vpc,
                "CreateSecurityGroupRule",
                self.client.path("/v1", "/security-group-rules"),
                json!({"security_group_rule": {
                    "security_group_id": id, "direction": "ingress", "ethertype": "IPv4",
                    "protocol": "tcp", "port_range_min": rule.port, "port_range_max": rule.port,
                    "remote_ip_prefix": cidr,
                }}),
            );
            match self.client.call(&call, None).await {
                Ok(_) => {}
                // The rule an attempt whose reply was lost added.
                Err(e) if attempt.is_retry() && status(&e) == Some(409) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(&Call::delete(
                Service::Vpc,
                "DeleteSecurityGroup",
                self.client.path("/v1", &format!("/security-groups/{id}")),
            ))
            .await
    }

    fn line(&self, event: &SecurityGroupEvent<'_>) -> Option<Line> {
        match event {
            SecurityGroupEvent::Creating(name) => Some(Line::Say(format!(
                "Creating temporary security group: {name}..."
            ))),
            SecurityGroupEvent::Created(id) => {
                Some(Line::Message(format!("temporary security group ID: {id}")))
            }
            SecurityGroupEvent::Deleting(id) => Some(Line::Say(format!(
                "Deleting temporary security group: {id}..."
            ))),
            e => security_group_line(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_the_subnets_first_address() {
        assert_eq!(gateway_of(SUBNET_CIDR), "172.16.0.1");
        assert_eq!(gateway_of("10.1.2.0/24"), "10.1.2.1");
    }
}
