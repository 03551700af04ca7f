//! What `kiln cleanup -run <uuid> -cloud=ucloud` does: finds in each given
//! region of a project the UHosts a ucloud-uhost build of that run left
//! behind (a SIGKILLed kiln runs no cleanup) and deletes them: stopped
//! first (UCloud terminates stopped UHosts only), then terminated with
//! their EIP and disks, and waited for until gone.
//!
//! How it finds them: the UHost carries the run as its business group
//! (`Tag` = `kiln-<run uuid>`, asked of `DescribeUHostInstance` page after
//! page and checked again on the client side). That is all a build makes
//! before its image: UCloud's images take no tag, so an image a killed
//! build had already made is not found (docs/builders/ucloud-uhost.md).
//! Every call goes through kiln-cloud's retry policy; a UHost gone already
//! counts as deleted, so running it twice is harmless. Holds nothing.

use async_trait::async_trait;
use kiln_cloud::steps::instance::InstanceApi;
use kiln_cloud::sweep::{self, RegionSweep};
use kiln_sdk::{Secret, Ui};

use crate::client::{Client, ClientError};
use crate::cloud::Uhost;
use crate::config::{AccessConfig, Credentials, DEFAULT_BASE_URL};

/// Why a cleanup did not finish.
pub type CleanupError = kiln_cloud::sweep::CleanupError<ClientError>;

/// No credentials in the environment.
const NO_CREDENTIALS: CleanupError = CleanupError::NoCredentials {
    cloud: "UCloud",
    needed: "UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY (and UCLOUD_PROJECT_ID for a project other than the default one)",
};

/// The access of `UCLOUD_PUBLIC_KEY`, `UCLOUD_PRIVATE_KEY` and
/// `UCLOUD_PROJECT_ID`, as `env` reads them, with `base_url` (UCloud's
/// public API unless given); the region is set per region searched.
pub fn access_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    base_url: Option<&str>,
) -> Result<AccessConfig, CleanupError> {
    let [public_key, private_key] =
        sweep::env_all(env, ["UCLOUD_PUBLIC_KEY", "UCLOUD_PRIVATE_KEY"]).ok_or(NO_CREDENTIALS)?;
    Ok(AccessConfig {
        region: String::new(),
        project_id: sweep::env_value(env, "UCLOUD_PROJECT_ID").unwrap_or_default(),
        base_url: base_url.unwrap_or(DEFAULT_BASE_URL).to_string(),
        credentials: Credentials::Keys {
            public_key,
            private_key: Secret::new(private_key),
        },
        shared_credentials_file: None,
    })
}

/// The one kind of resource a killed ucloud-uhost build leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UHostKind;

/// One region of a project, as kiln-cloud's [`sweep`] walks it.
struct Region(Uhost);

#[async_trait]
impl RegionSweep for Region {
    type Kind = UHostKind;

    fn kinds(&self) -> Vec<UHostKind> {
        vec![UHostKind]
    }

    fn noun(&self, _: UHostKind) -> &'static str {
        "UHost"
    }

    async fn list(&mut self, _: UHostKind, _run: &str) -> Result<Vec<String>, String> {
        let tag = &self.0.run_tag;
        Ok(self
            .0
            .tagged_uhosts()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|h| &h.tag == tag)
            .map(|h| h.uhost_id)
            .collect())
    }

    async fn delete(&self, _: UHostKind, id: &str) -> Result<(), String> {
        let uhost = &self.0;
        uhost.terminate(id).await.map_err(|e| e.to_string())?;
        sweep::wait_gone(&format!("UHost {id}"), || async move {
            Ok(uhost.uhost(id).await?.map(|h| h.state))
        })
        .await
    }
}

/// Finds the UHosts of run `run` in each of `regions` of `access`'s
/// project and deletes them (only lists them with `dry_run`), reporting on
/// `ui`; how many it found.
pub async fn find_and_delete(
    run: &str,
    regions: &[String],
    access: &AccessConfig,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let client = Client::new(access).map_err(CleanupError::Client)?;
    let regions = regions
        .iter()
        .map(|region| {
            let uhost = Uhost {
                client: client.at(&access.project_id, region),
                since: 0,
                run_tag: format!("kiln-{run}"),
            };
            (region.clone(), Region(uhost))
        })
        .collect();
    Ok(sweep::sweep(run, regions, dry_run, ui).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let a = access_from_env(
            &env(&[
                ("UCLOUD_PUBLIC_KEY", "pub"),
                ("UCLOUD_PRIVATE_KEY", "priv"),
                ("UCLOUD_PROJECT_ID", "org-1"),
            ]),
            Some("http://127.0.0.1:1"),
        )
        .unwrap();
        assert_eq!(a.project_id, "org-1");
        assert_eq!(a.base_url, "http://127.0.0.1:1");
        assert!(matches!(
            a.credentials,
            Credentials::Keys { ref public_key, ref private_key }
                if public_key == "pub" && private_key.expose() == "priv"
        ));
        let a = access_from_env(
            &env(&[("UCLOUD_PUBLIC_KEY", "pub"), ("UCLOUD_PRIVATE_KEY", "priv")]),
            None,
        )
        .unwrap();
        assert_eq!(
            (a.project_id.as_str(), a.base_url.as_str()),
            ("", DEFAULT_BASE_URL)
        );
        assert!(matches!(
            access_from_env(&env(&[("UCLOUD_PUBLIC_KEY", "pub")]), None),
            Err(CleanupError::NoCredentials { .. })
        ));
    }
}
