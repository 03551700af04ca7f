//! What `kiln cleanup -run <uuid> -cloud=openstack` does: finds in the
//! project (and region) of the `OS_*` credentials what an openstack build
//! of that run left behind (a SIGKILLed kiln runs no cleanup) and deletes
//! it, in an order OpenStack accepts: servers (waited for until gone, so
//! their ports go with them), the floating IPs they had, root volumes
//! (once free), then images.
//!
//! How it finds them: servers carry the run tags in their metadata,
//! images as properties (a successful build takes them off its image, so
//! its artifact is left), volumes in their metadata, floating IPs in their
//! description (`kiln:run=<run> kiln:build=<name>`). Every listing is read
//! whole and checked on the client side. The temporary key pair cannot
//! carry a tag and is not found (its name is `packer_<uuid>`, like every
//! Packer-made one). Every call goes through kiln-cloud's retry policy
//! (the builder's client); what is gone already counts as deleted, so
//! running it twice is harmless. Holds nothing.

use async_trait::async_trait;
use kiln_cloud::steps::image::ImageApi;
use kiln_cloud::sweep::{self, RegionSweep};
use kiln_cloud::{ApiError, RetryPolicy};
use kiln_sdk::run_tags;
use kiln_sdk::Ui;
use serde_json::Value;

use crate::client::{Call, Client, ClientError, Service};
use crate::cloud::{text, Os};
use crate::config::AccessConfig;

/// Why a cleanup did not finish.
pub type CleanupError = kiln_cloud::sweep::CleanupError<ClientError>;

/// The access the `OS_*` variables (or `OS_CLOUD`'s clouds.yaml entry)
/// give, as `env` reads them, in `region` when given (else
/// `OS_REGION_NAME`'s); the problems with them, worded, when they give
/// none.
pub fn access_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    region: Option<&str>,
) -> Result<AccessConfig, CleanupError> {
    let (mut access, errors) = crate::config::access_from_env(env);
    if !errors.is_empty() {
        return Err(CleanupError::NoCredentials {
            cloud: "OpenStack",
            needed: "OS_AUTH_URL with OS_USERNAME (and OS_USER_DOMAIN_NAME), OS_PASSWORD and OS_PROJECT_NAME, or OS_TOKEN, or an application credential, or OS_CLOUD naming a clouds.yaml entry",
        });
    }
    if let Some(r) = region {
        access.region = Some(r.to_string());
    }
    Ok(access)
}

/// The kinds of resource an openstack build makes and can tag, in the
/// order they are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server,
    FloatingIp,
    Volume,
    Image,
}

impl Kind {
    /// Every kind, in deletion order: servers first (their volumes and
    /// floating IPs are in use until they are gone).
    const ALL: [Kind; 4] = [Kind::Server, Kind::FloatingIp, Kind::Volume, Kind::Image];
}

/// Whether metadata or properties `m` carry `run`.
fn tagged(m: &Value, run: &str) -> bool {
    m[run_tags::RUN].as_str() == Some(run)
}

/// Whether a floating IP's `description` carries `run`.
fn described(ip: &Value, run: &str) -> bool {
    let want = format!("{}={run}", run_tags::RUN);
    text(ip, "description").split(' ').any(|t| t == want)
}

/// The project's cloud, as kiln-cloud's [`sweep`] walks it.
struct Region(Os);

impl Region {
    fn client(&self) -> &Client {
        &self.0.client
    }

    /// The ids of the items of every page of `call` (its `key` array) that
    /// `keep` keeps.
    async fn ids(
        &self,
        call: Call,
        key: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Vec<String>, ApiError> {
        Ok(self
            .client()
            .list_all(&call, key)
            .await?
            .iter()
            .filter(|v| keep(v))
            .map(|v| text(v, "id"))
            .filter(|id| !id.is_empty())
            .collect())
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
            Kind::FloatingIp => "floating IP",
            Kind::Volume => "volume",
            Kind::Image => "image",
        }
    }

    async fn list(&mut self, kind: Kind, run: &str) -> Result<Vec<String>, String> {
        let found = match kind {
            Kind::Server => {
                let call = Call::get(Service::Compute, "ListServers", "/servers/detail");
                self.ids(call, "servers", |s| tagged(&s["metadata"], run))
                    .await
            }
            Kind::FloatingIp => {
                let call = Call::get(Service::Network, "ListFloatingIps", "/floatingips");
                self.ids(call, "floatingips", |f| described(f, run)).await
            }
            Kind::Volume => {
                // A cloud without Cinder has no volumes.
                if !self.client().has_service(Service::BlockStorage).await {
                    return Ok(Vec::new());
                }
                let call = Call::get(Service::BlockStorage, "ListVolumes", "/volumes/detail");
                self.ids(call, "volumes", |v| tagged(&v["metadata"], run))
                    .await
            }
            Kind::Image => {
                let mut call = Call::get(Service::Image, "ListImages", "/images");
                if let Some(p) = self.client().project_id().await {
                    call = call.query("owner", p);
                }
                self.ids(call, "images", |i| tagged(i, run)).await
            }
        };
        found.map_err(|e| e.to_string())
    }

    async fn delete(&self, kind: Kind, id: &str) -> Result<(), String> {
        let os = &self.0;
        let what = format!("{} {id}", self.noun(kind));
        let e = |e: ApiError| e.to_string();
        match kind {
            Kind::Server => sweep::terminate_instance(os, id, &what).await,
            Kind::FloatingIp => {
                let call = Call::delete(
                    Service::Network,
                    "DeleteFloatingIp",
                    format!("/floatingips/{id}"),
                );
                self.client().delete(&call).await.map_err(e)
            }
            Kind::Volume => {
                let c = self.client();
                let call = Call::delete(
                    Service::BlockStorage,
                    "DeleteVolume",
                    format!("/volumes/{id}"),
                );
                // Cinder refuses (400) a volume still attached or in use.
                sweep::delete_when_free(&what, &["badRequest"], || c.delete(&call)).await
            }
            Kind::Image => os.delete_image(id).await.map_err(e),
        }
    }
}

/// Finds what run `run` left in `access`'s project and deletes it (only
/// lists it with `dry_run`), reporting on `ui`; how many resources it
/// found.
pub async fn find_and_delete(
    run: &str,
    access: &AccessConfig,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let client = Client::new(access, RetryPolicy::default()).map_err(CleanupError::Client)?;
    let never = tokio_util::sync::CancellationToken::new();
    client
        .authenticate(&never)
        .await
        .map_err(CleanupError::Client)?;
    let place = access
        .region
        .clone()
        .unwrap_or_else(|| access.auth_url.clone());
    let os = Os {
        client,
        force_delete: false,
    };
    Ok(sweep::sweep(run, vec![(place, Region(os))], dry_run, ui).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_runs_tags_match() {
        assert!(tagged(&json!({"kiln:run": "r1", "x": "y"}), "r1"));
        assert!(!tagged(&json!({"kiln:run": "r12"}), "r1"));
        assert!(!tagged(&json!({"kiln:build": "r1"}), "r1"));
        assert!(described(
            &json!({"description": "kiln:run=r1 kiln:build=b"}),
            "r1"
        ));
        assert!(!described(&json!({"description": "kiln:run=r12"}), "r1"));
        assert!(!described(&json!({}), "r1"));
        assert_eq!(Kind::ALL[0], Kind::Server);
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let all = kiln_cloud::config::env_of(&[
            ("OS_AUTH_URL", "http://k:5000/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_NAME", "proj"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_REGION_NAME", "RegionOne"),
        ]);
        let a = access_from_env(&all, None).unwrap();
        assert_eq!(a.region.as_deref(), Some("RegionOne"));
        let a = access_from_env(&all, Some("RegionTwo")).unwrap();
        assert_eq!(a.region.as_deref(), Some("RegionTwo"));
        let none = kiln_cloud::config::env_of(&[("OS_USERNAME", "u")]);
        assert!(matches!(
            access_from_env(&none, None),
            Err(CleanupError::NoCredentials { .. })
        ));
    }
}
