//! The `ucloud-uhost` builder (UCloud's Packer plugin, `builder/ucloud/
//! uhost`): launches a UHost from a source image in the given (or the
//! default) VPC, subnet and firewall, reaches it through an EIP made with
//! it (or its private IP), provisions it over SSH with the password it was
//! created with, stops it, makes a custom image of it and copies that into
//! other projects and regions (`image_copy_to_mappings`).
//!
//! [`config`] holds the plugin's keys; [`client`] signs and sends the
//! OpenAPI calls under kiln-cloud's retry policy; [`cloud`] implements
//! kiln-cloud's generic instance and image step traits on it; `steps` holds
//! the plugin's own steps. A build is the plugin's list of steps over a
//! typed [`UcloudState`]; cleanup runs in reverse on success, failure and
//! Ctrl-C: it stops and deletes the UHost (releasing its EIP and disks)
//! and, on failure, the images already made. Two things kiln does better
//! than the plugin: a zone that does not offer `boot_disk_type` fails in
//! pre-validation, before anything is made, naming what it offers; and
//! image look-ups page through every result (UCloud answers 20 a page).
//! The UHost carries the run tag as its business group (`Tag`), so a lost
//! create reply is adopted rather than leaked.

mod artifact;
pub mod cleanup;
pub mod client;
pub mod cloud;
pub mod config;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_cloud::builder::poller;
use kiln_cloud::steps::image::{CopyTarget, StepCopyImage, StepCreateImage};
use kiln_cloud::steps::instance::{StepRunInstance, StepStopInstance, StopMode};
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{generated, Artifact, Builder, Secret};
use kiln_ssh::{CommunicatorConfig, SshCommunicator, StepConnect};

pub use artifact::{UcloudArtifact, BUILDER_ID};
pub use config::Config;

use cloud::image::{split_key, CopyRequest};
use cloud::{Image, UHost, Uhost};

kiln_cloud::cloud_builder! {
    /// Registers the `ucloud-uhost` builder type.
    factory UcloudUhostBuilderFactory;
    /// A prepared ucloud-uhost builder.
    builder UcloudUhostBuilder(Config);
    name "ucloud-uhost";
    generated &[];
    prepare |raw, cx| config::prepare(raw, cx)?
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct UcloudState {
    /// The client of the build's project and region.
    pub uhost: Uhost,
    /// The UHost's password (`ssh_password`, or one made up).
    pub password: Secret<String>,
    /// The source image.
    pub source_image: Option<Image>,
    /// The VPC, subnet and firewall given (the defaults otherwise).
    pub vpc_id: Option<String>,
    /// See `vpc_id`.
    pub subnet_id: Option<String>,
    /// See `vpc_id`.
    pub security_group_id: Option<String>,
    /// The UHost.
    pub instance_id: Option<String>,
    /// Its description once it runs.
    pub instance: Option<UHost>,
    /// The address the communicator connects to.
    pub ssh_host: Option<String>,
    /// The connection.
    pub communicator: Option<Arc<SshCommunicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// Images made, by `<project>:<region>`.
    pub images: BTreeMap<String, String>,
}

kiln_cloud::impl_ssh_state!(UcloudState);

kiln_cloud::impl_instance_state!(UcloudState, uhost: Uhost);

kiln_cloud::impl_image_state!(UcloudState, Uhost, {
    fn build_region(&self) -> String {
        key(self.uhost.client.project(), self.uhost.client.region())
    }
    fn image_api(&self, region: &str) -> Uhost {
        self.uhost.at_key(region)
    }
    fn run_tags(&self) -> &[(String, String)] {
        // UCloud images take no tags after they are made; the build's own
        // images are found by name and time ([`Uhost::since`]).
        &[]
    }
});

impl Uhost {
    /// The client of `<project>:<region>`.
    pub fn at_key(&self, key: &str) -> Uhost {
        let (project, region) = split_key(key);
        let mut u = self.clone();
        u.client = self.client.at(project, region);
        u
    }
}

/// `<project>:<region>`, the "region" of kiln-cloud's image steps.
fn key(project: &str, region: &str) -> String {
    format!("{project}:{region}")
}

/// The copies of `image_copy_to_mappings`, less those into the build's own
/// project and region (which the plugin skips too).
fn copy_targets(c: &Config) -> Vec<CopyTarget<CopyRequest>> {
    c.image
        .copies
        .iter()
        .filter(|x| !(x.project_id == c.access.project_id && x.region == c.access.region))
        .map(|x| CopyTarget {
            region: key(&x.project_id, &x.region),
            request: CopyRequest {
                name: x.name.clone(),
                description: x.description.clone(),
            },
        })
        .collect()
}

/// A password UCloud takes: 5 letters, one of `-_`, 5 digits (the
/// plugin's), random.
fn make_password() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let letters: String = bytes[..5].iter().map(|b| (b'a' + b % 26) as char).collect();
    let special = if bytes[5].is_multiple_of(2) { '-' } else { '_' };
    let digits: String = bytes[6..11]
        .iter()
        .map(|b| (b'0' + b % 10) as char)
        .collect();
    format!("{letters}{special}{digits}")
}

/// How long the UHost may take to run, stop and go (the plugin's 100
/// tries of at most 6 s).
const INSTANCE_TIMEOUT: Duration = Duration::from_secs(1800);

#[async_trait]
impl Builder for UcloudUhostBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let c = &self.0.config;
        let client = client::Client::new(&c.access).map_err(BuildError::msg)?;
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let uhost = Uhost {
            client,
            since,
            run_tag: format!("kiln-{}", cx.run_uuid),
        };
        // The UHost's password is `ssh_password`, or one made up and used
        // to log in (the plugin's way).
        let mut ssh = match &c.communicator {
            CommunicatorConfig::Ssh(s) => Some((**s).clone()),
            CommunicatorConfig::None => None,
        };
        let password = ssh
            .as_ref()
            .and_then(|s| s.credentials.password.clone())
            .unwrap_or_else(|| Secret::new(make_password()));
        self.0.redactor.add(password.expose().clone());
        if let Some(s) = &mut ssh {
            s.credentials.password = Some(password.clone());
        }
        let mut data = BTreeMap::new();
        if let Some(s) = &ssh {
            data.insert(generated::CONN_TYPE.into(), "ssh".into());
            data.insert(generated::PORT.into(), s.port.to_string());
            data.insert(generated::USER.into(), s.credentials.username.clone());
            data.insert(generated::PASSWORD.into(), password.expose().clone());
        }
        data.insert(generated::PACKER_RUN_UUID.into(), cx.run_uuid.to_string());
        let mut state = UcloudState {
            uhost,
            password,
            source_image: None,
            vpc_id: None,
            subnet_id: None,
            security_group_id: None,
            instance_id: None,
            instance: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            images: BTreeMap::new(),
        };
        let steps = self.steps(ssh.map(Arc::new), &cx);
        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        if state.images.is_empty() {
            return Ok(None);
        }
        // Secrets stay out of artifacts (and so out of manifests).
        let data = kiln_cloud::builder::artifact_data(&state.generated);
        Ok(Some(Arc::new(UcloudArtifact {
            images: state.images.clone(),
            uhost: state.uhost.clone(),
            generated: data,
        })))
    }
}

impl UcloudUhostBuilder {
    /// The plugin's step list.
    fn steps(
        &self,
        ssh: Option<Arc<kiln_ssh::SshConfig>>,
        cx: &BuildContext<'_>,
    ) -> Vec<Box<dyn Step<UcloudState>>> {
        let c = &self.0.config;
        let short = poller(INSTANCE_TIMEOUT);
        let image_poller = poller(c.image.wait_image_ready_timeout);
        let mut steps: Vec<Box<dyn Step<UcloudState>>> = vec![
            Box::new(steps::StepPreValidate { config: c.clone() }),
            Box::new(steps::StepCheckSourceImage { config: c.clone() }),
            Box::new(steps::StepConfigVpc {
                vpc_id: c.run.vpc_id.clone(),
            }),
            Box::new(steps::StepConfigSubnet {
                subnet_id: c.run.subnet_id.clone(),
            }),
            Box::new(steps::StepConfigSecurityGroup {
                security_group_id: c.run.security_group_id.clone(),
            }),
            Box::new(StepRunInstance::new(
                "stepCreateInstance",
                steps::LaunchUhost { config: c.clone() },
                short.clone(),
            )),
        ];
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        steps.extend([
            Box::new(StepProvision::new(cx.hook.clone(), cx.on_error))
                as Box<dyn Step<UcloudState>>,
            Box::new(StepStopInstance::new(
                "stepStopInstance",
                StopMode::Api,
                short,
            )),
            Box::new(StepCreateImage::new(
                "stepCreateImage",
                steps::CreateImagePlan { config: c.clone() },
                image_poller.clone(),
            )),
        ]);
        let copies = copy_targets(c);
        if !copies.is_empty() {
            steps.push(Box::new(StepCopyImage::new(
                "stepCopyUCloudImage",
                copies,
                image_poller,
            )));
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::config::RawConfig;

    #[test]
    fn made_up_passwords_pass_ucloud_checks() {
        for _ in 0..50 {
            let p = make_password();
            assert!(config::password_problems(&p).is_empty(), "{p}");
        }
    }

    #[test]
    fn copies_into_the_build_project_and_region_are_skipped() {
        let raw = RawConfig::from_value(serde_json::json!({
            "public_key": "p", "private_key": "s", "project_id": "org-kiln", "region": "cn-bj2",
            "availability_zone": "cn-bj2-02", "source_image_id": "uimage-1",
            "instance_type": "n-basic-2", "image_name": "img", "ssh_username": "root",
            "image_copy_to_mappings": [
                {"project_id": "org-kiln", "region": "cn-bj2"},
                {"project_id": "org-kiln", "region": "cn-sh2", "name": "sh"},
                {"project_id": "org-copy", "region": "cn-bj2", "description": "d"}
            ]
        }));
        let c = config::prepare_with_env(&raw, &kiln_test::prepare_cx("ucloud-uhost"), &|_| None)
            .unwrap();
        let t: Vec<(String, String)> = copy_targets(&c)
            .into_iter()
            .map(|t| (t.region, t.request.name))
            .collect();
        assert_eq!(
            t,
            [
                ("org-kiln:cn-sh2".to_string(), "sh".to_string()),
                ("org-copy:cn-bj2".to_string(), "img".to_string())
            ]
        );
    }
}
