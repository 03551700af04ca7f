//! What `kiln cleanup -run <uuid> -cloud=huaweicloud` does: finds in a
//! region of a project what a huaweicloud-ecs build of that run left
//! behind (a SIGKILLed kiln runs no cleanup) and deletes it, in an order
//! Huawei's APIs accept: servers (deleted with their volumes, and waited
//! for until gone), the EIPs they had (unbound by then), images, security
//! groups, subnets, then VPCs.
//!
//! How it finds them: servers carry the run tags as `server_tags`
//! (`ListServersDetails?tags=kiln:run=<run>`), images as image tags
//! (`ListImages?tag=kiln:run=<run>`; a successful build takes them off its
//! images, so its artifact is left), EIPs, VPCs, subnets and security
//! groups as resource tags (`/v2.0/{project}/{kind}/{id}/tags`, read for
//! each one listed). Every answer is checked again on the client side, so
//! an endpoint that ignores a filter cannot get anything else deleted.
//! The temporary key pair cannot carry a tag and is not found (its name is
//! `packer_<hex>`, like every Packer-made one). Every call goes through
//! kiln-cloud's retry policy (the builder's client); what is gone already
//! counts as deleted, so running it twice is harmless. Holds nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_cloud::steps::image::ImageApi;
use kiln_cloud::steps::network::{NetworkApi, NetworkResource, SecurityGroupApi};
use kiln_cloud::sweep::{self, RegionSweep};
use kiln_cloud::{ApiError, RetryPolicy};
use kiln_sdk::run_tags;
use kiln_sdk::{Secret, Ui};
use serde_json::Value;

use crate::client::{Call, Client, ClientError};
use crate::cloud::{text, Hw};
use crate::config::{AccessConfig, Endpoints, Service, DEFAULT_AUTH_URL};

/// Why a cleanup did not finish.
pub type CleanupError = kiln_cloud::sweep::CleanupError<ClientError>;

/// No credentials in the environment.
const NO_CREDENTIALS: CleanupError = CleanupError::NoCredentials {
    cloud: "Huawei Cloud",
    needed: "HW_ACCESS_KEY, HW_SECRET_KEY and HW_PROJECT_ID (the project of the region searched)",
};

/// The access of `HW_ACCESS_KEY`, `HW_SECRET_KEY` and `HW_PROJECT_ID` in
/// `region`, as `env` reads them, with every service at `endpoint` when
/// given (else Huawei's public endpoints of the region).
pub fn access_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    region: &str,
    endpoint: Option<&str>,
) -> Result<AccessConfig, CleanupError> {
    let [access_key, secret_key, project_id] =
        sweep::env_all(env, ["HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_PROJECT_ID"])
            .ok_or(NO_CREDENTIALS)?;
    let custom: BTreeMap<Service, String> = endpoint
        .map(|e| Service::ALL.iter().map(|s| (*s, e.to_string())).collect())
        .unwrap_or_default();
    Ok(AccessConfig {
        access_key,
        secret_key: Some(Secret::new(secret_key)),
        region: region.to_string(),
        project_id,
        project_name: region.to_string(),
        auth_url: DEFAULT_AUTH_URL.to_string(),
        insecure: false,
        endpoints: Endpoints::of(region, &custom),
    })
}

/// The kinds of resource a huaweicloud-ecs build makes and can tag, in
/// the order they are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server,
    Eip,
    Image,
    SecurityGroup,
    Subnet,
    Vpc,
}

impl Kind {
    /// Every kind, in deletion order: servers first (everything else may
    /// be in use by them), then their EIPs, the images, and the network
    /// from the inside out.
    const ALL: [Kind; 6] = [
        Kind::Server,
        Kind::Eip,
        Kind::Image,
        Kind::SecurityGroup,
        Kind::Subnet,
        Kind::Vpc,
    ];

    /// The VPC API's resource kind and list call, for the kinds tagged
    /// through it.
    fn vpc_kind(self) -> Option<(Service, &'static str, &'static str)> {
        match self {
            Kind::Eip => Some((Service::Eip, "publicips", "ListPublicips")),
            Kind::SecurityGroup => Some((Service::Vpc, "security-groups", "ListSecurityGroups")),
            Kind::Subnet => Some((Service::Vpc, "subnets", "ListSubnets")),
            Kind::Vpc => Some((Service::Vpc, "vpcs", "ListVpcs")),
            Kind::Server | Kind::Image => None,
        }
    }

    /// The error codes that mean "still in use, try again shortly".
    fn busy(self) -> &'static [&'static str] {
        match self {
            Kind::Eip => &["EIP.7902"],
            Kind::SecurityGroup => &["VPC.0607"],
            Kind::Subnet => &["VPC.0211"],
            Kind::Vpc => &["VPC.0016"],
            Kind::Server | Kind::Image => &[],
        }
    }
}

/// Whether `item`'s `tags` (`["key=value", …]`) carry `run`.
fn tagged(item: &Value, run: &str) -> bool {
    let want = format!("{}={run}", run_tags::RUN);
    item["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t.as_str() == Some(want.as_str())))
}

/// The region and project, as kiln-cloud's [`sweep`] walks them.
struct Region(Hw);

impl Region {
    fn client(&self) -> &Client {
        &self.0.client
    }

    /// The ids of `kind` carrying `run`, listed through `call` whose
    /// answer holds them in `set`, kept where `keep` says so.
    async fn ids(
        &self,
        call: Call,
        set: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Vec<String>, ApiError> {
        let reply = self.client().call(&call, None).await?;
        Ok(reply[set]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|v| keep(v))
            .map(|v| text(v, "id"))
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// Whether VPC resource `kind` `id` carries `run` (its resource tags).
    async fn resource_tagged(
        &self,
        service: Service,
        kind: &str,
        id: &str,
        run: &str,
    ) -> Result<bool, ApiError> {
        let c = self.client();
        let call = Call::get(
            service,
            "ListResourceTags",
            c.path("/v2.0", &format!("/{kind}/{id}/tags")),
        );
        let tags = c.call(&call, None).await?;
        Ok(tags["tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| text(t, "key") == run_tags::RUN && text(t, "value") == run)
        }))
    }
}

#[async_trait]
impl RegionSweep for Region {
    type Kind = Kind;

    fn kinds(&self) -> Vec<Kind> {
        Kind::ALL.to_vec()
    }

    fn noun(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::Server => "server",
            Kind::Eip => "EIP",
            Kind::Image => "image",
            Kind::SecurityGroup => "security group",
            Kind::Subnet => "subnet",
            Kind::Vpc => "VPC",
        }
    }

    async fn list(&mut self, kind: Kind, run: &str) -> Result<Vec<String>, String> {
        let c = self.client();
        let filter = format!("{}={run}", run_tags::RUN);
        let is_run = |v: &Value| tagged(v, run);
        let found = match kind {
            Kind::Server => {
                let call = Call::get(
                    Service::Ecs,
                    "ListServersDetails",
                    c.path("/v1", "/cloudservers/detail"),
                )
                .query("tags", filter);
                self.ids(call, "servers", is_run).await
            }
            Kind::Image => {
                let call = Call::get(Service::Ims, "ListImages", "/v2/cloudimages")
                    .query("__imagetype", "private")
                    .query("tag", filter);
                self.ids(call, "images", is_run).await
            }
            _ => {
                let (service, path, op) = kind.vpc_kind().expect("a VPC kind");
                let call = Call::get(service, op, c.path("/v1", &format!("/{path}")));
                let listed = self
                    .ids(call, &path.replace('-', "_"), |_| true)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut mine = Vec::new();
                for id in listed {
                    match self.resource_tagged(service, path, &id, run).await {
                        Ok(true) => mine.push(id),
                        Ok(false) => {}
                        // Gone between the list and the look.
                        Err(e) if crate::client::not_found(&e) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Ok(mine)
            }
        };
        found.map_err(|e| e.to_string())
    }

    async fn delete(&self, kind: Kind, id: &str) -> Result<(), String> {
        let hw = &self.0;
        let what = format!("{} {id}", self.noun(kind));
        let e = |e: ApiError| e.to_string();
        match kind {
            Kind::Server => sweep::terminate_instance(hw, id, &what).await,
            Kind::Image => hw.delete_image(id).await.map_err(e),
            Kind::Eip => {
                let c = self.client();
                let call = Call::delete(
                    Service::Eip,
                    "DeletePublicip",
                    c.path("/v1", &format!("/publicips/{id}")),
                );
                sweep::delete_when_free(&what, kind.busy(), || c.delete(&call)).await
            }
            Kind::SecurityGroup => {
                sweep::delete_when_free(&what, kind.busy(), || hw.delete_security_group(id)).await
            }
            Kind::Subnet => {
                sweep::delete_when_free(&what, kind.busy(), || {
                    hw.delete(NetworkResource::Subnet, id)
                })
                .await
            }
            Kind::Vpc => {
                sweep::delete_when_free(&what, kind.busy(), || {
                    hw.delete(NetworkResource::Network, id)
                })
                .await
            }
        }
    }
}

/// Takes the run tags off the finished build's images (`images`, by
/// region): they are the artifact now, and `kiln cleanup` of this run
/// must leave them. A failure is reported, not fatal.
pub async fn release(
    hw: &Hw,
    images: &BTreeMap<String, String>,
    run_tags: &[(String, String)],
    ui: &dyn Ui,
) {
    for id in images.values() {
        for (key, _) in run_tags {
            let call = Call::delete(
                Service::Ims,
                "DeleteImageTag",
                hw.client.path("/v2", &format!("/images/{id}/tags/{key}")),
            );
            if let Err(e) = hw.client.delete(&call).await {
                ui.error(&format!(
                    "could not take the run tags off image `{id}` (`kiln cleanup` of this run would delete it): {e}"
                ));
                break;
            }
        }
    }
}

/// Finds what run `run` left in `access`'s region and project and
/// deletes it (only lists it with `dry_run`), reporting on `ui`; how many
/// resources it found.
pub async fn find_and_delete(
    run: &str,
    access: &AccessConfig,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let client = Client::new(access, RetryPolicy::default()).map_err(CleanupError::Client)?;
    let regions = vec![(access.region.clone(), Region(Hw { client }))];
    Ok(sweep::sweep(run, regions, dry_run, ui).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_runs_tag_matches() {
        assert!(tagged(&json!({"tags": ["a=b", "kiln:run=r1"]}), "r1"));
        assert!(!tagged(&json!({"tags": ["kiln:run=r12"]}), "r1"));
        assert!(!tagged(&json!({"tags": ["kiln:build=r1"]}), "r1"));
        assert!(!tagged(&json!({}), "r1"));
    }

    #[test]
    fn servers_go_first_and_vpcs_last() {
        assert_eq!(Kind::ALL[0], Kind::Server);
        assert_eq!(Kind::ALL[5], Kind::Vpc);
        for k in Kind::ALL {
            assert_eq!(k.vpc_kind().is_some(), !k.busy().is_empty(), "{k:?}");
        }
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = env(&[
            ("HW_ACCESS_KEY", "ak"),
            ("HW_SECRET_KEY", "sk"),
            ("HW_PROJECT_ID", "p1"),
        ]);
        let a = access_from_env(&all, "cn-north-4", Some("http://127.0.0.1:9")).unwrap();
        assert_eq!((a.access_key.as_str(), a.project_id.as_str()), ("ak", "p1"));
        assert_eq!(a.endpoints.get(Service::Ims), "http://127.0.0.1:9");
        let a = access_from_env(&all, "cn-north-4", None).unwrap();
        assert_eq!(
            a.endpoints.get(Service::Ecs),
            "https://ecs.cn-north-4.myhuaweicloud.com"
        );
        assert!(matches!(
            access_from_env(
                &env(&[("HW_ACCESS_KEY", "ak"), ("HW_SECRET_KEY", "sk")]),
                "r",
                None
            ),
            Err(CleanupError::NoCredentials { .. })
        ));
    }
}
