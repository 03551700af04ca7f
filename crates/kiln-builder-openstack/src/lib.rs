//! The `openstack` builder (Packer's `openstack`, builder id
//! `mitchellh.openstack`): launches a Nova server from a source image
//! (or from a Cinder volume made of it), reaches it through a floating IP
//! or its own address, provisions it over SSH, stops it and makes a Glance
//! image of it, then sets the image's tags, visibility, members and
//! minimum disk. Works on any cloud that serves OpenStack's APIs behind
//! Keystone v3.
//!
//! [`config`] holds Packer's keys (with `clouds.yaml` and the `OS_*`
//! variables); [`client`] authenticates with Keystone, reads the service
//! catalog and sends the calls under kiln-cloud's retry policy; [`cloud`]
//! implements kiln-cloud's generic step traits on the client; `steps`
//! holds the steps that are OpenStack's own. A build is Packer's list of
//! steps over a typed [`OsState`]: flavor, key pair, source image,
//! network, (volume), server, (RackConnect), floating IP, connect,
//! provision, clean temporary keys, stop, (detach the volume), create the
//! image, tags, visibility, members, min disk. Cleanup runs in reverse on
//! success, failure and Ctrl-C: it releases the floating IP it made,
//! deletes the server (and waits), the volume, the temporary external
//! source image and the key pair, and on failure the image. The server,
//! the image, the volume and the floating IP carry kiln's run tags (server
//! metadata, image properties, volume metadata, the floating IP's
//! description).

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
use kiln_cloud::builder::{poller, temporary_name};
use kiln_cloud::steps::image::StepCreateImage;
use kiln_cloud::steps::instance::{StepRunInstance, StepStopInstance, StopMode};
use kiln_cloud::steps::key_pair::{rsa_by_default, SshLogin, StepKeyPair};
use kiln_cloud::RetryPolicy;
use kiln_sdk::component::{BuildContext, BuildError};
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::StepProvision;
use kiln_sdk::{Artifact, Builder};
use kiln_ssh::{SshCommunicator, StepCleanupTempKeys, StepConnect};
use serde_json::Value;

pub use artifact::{OpenstackArtifact, BUILDER_ID};
pub use config::Config;

use cloud::Os;
use steps::ImageUpdate;

kiln_cloud::cloud_builder! {
    /// Registers the `openstack` builder type.
    factory OpenstackBuilderFactory;
    /// A prepared openstack builder.
    builder OpenstackBuilder(Config);
    name "openstack";
    generated &[];
    // Nova's key pair import takes RSA keys on every release, and RSA is
    // the key Packer's builder gets from Nova.
    prepare |raw, cx| {
        let mut config = config::prepare(raw, cx)?;
        rsa_by_default(&mut config.communicator, raw);
        config
    }
}

/// A floating IP: its id, its address, and whether this build made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingIpState {
    /// Its id.
    pub id: String,
    /// Its address.
    pub address: String,
    /// Made by this build (released by its cleanup).
    pub temporary: bool,
}

/// The builder's step state. Each step records what it created *before*
/// the call that may fail after creating it, so cleanup finds it.
pub struct OsState {
    /// The client.
    pub os: Os,
    /// The flavor's id.
    pub flavor_id: Option<String>,
    /// The source image's id.
    pub source_image: Option<String>,
    /// The server's networks (`{"uuid"}` or `{"port"}`).
    pub networks: Vec<Value>,
    /// The root volume (block-storage builds).
    pub volume_id: Option<String>,
    /// The key pair the server is launched with.
    pub key_pair_name: Option<String>,
    /// The server.
    pub server_id: Option<String>,
    /// The server as it was once running.
    pub server: Option<Value>,
    /// The floating IP.
    pub floating_ip: Option<FloatingIpState>,
    /// The address the communicator connects to (`None`: `ssh_host`).
    pub ssh_host: Option<String>,
    /// The connection.
    pub communicator: Option<Arc<SshCommunicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// The image, by region (one).
    pub images: BTreeMap<String, String>,
    /// The run tags (`kiln:run`, `kiln:build`).
    pub run_tags: Vec<(String, String)>,
}

kiln_cloud::impl_ssh_state!(OsState);

kiln_cloud::impl_key_pair_state!(OsState, os: Os);

kiln_cloud::impl_instance_state!(OsState, os: Os, instance: server_id);

kiln_cloud::impl_image_state!(OsState, Os, {
    fn build_region(&self) -> String {
        self.os.client.region().unwrap_or_default().to_string()
    }
    fn image_api(&self, _region: &str) -> Os {
        self.os.clone()
    }
    fn run_tags(&self) -> &[(String, String)] {
        &self.run_tags
    }
});

/// Takes the run tags off the finished build's image: it is the artifact
/// now, and what finds this run's leftovers by their tags must leave it. A
/// failure is reported, not fatal.
async fn release(state: &OsState, ui: &dyn kiln_sdk::Ui) {
    for id in state.images.values() {
        let ops: Vec<Value> = state
            .run_tags
            .iter()
            .map(|(k, _)| serde_json::json!({"op": "remove", "path": format!("/{k}")}))
            .collect();
        if ops.is_empty() {
            continue;
        }
        let call = client::patch_image("UpdateImage", id, Value::Array(ops));
        if let Err(e) = state.os.client.call(&call, None).await {
            ui.error(&format!(
                "could not take the run tags off image `{id}` (a cleanup of this run would delete it): {e}"
            ));
        }
    }
}

/// How long servers, volumes and floating IPs may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an image may take.
const IMAGE_TIMEOUT: Duration = Duration::from_secs(3600);

#[async_trait]
impl Builder for OpenstackBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let c = &self.0.config;
        let client = client::Client::new(&c.access, RetryPolicy::default())
            .map_err(|e| BuildError::msg(format!("Error initializing compute client: {e}")))?;
        // Bad credentials fail here, before anything is made.
        client.authenticate(&cx.cancel).await.map_err(|e| {
            if cx.cancel.is_cancelled() {
                BuildError::msg("cancelled while authenticating")
            } else {
                BuildError::msg(format!("Error initializing compute client: {e}"))
            }
        })?;
        let SshLogin {
            ssh,
            plan,
            generated: data,
        } = SshLogin::decide_off_thread(
            &c.communicator,
            c.run.ssh_keypair_name.as_deref(),
            temporary_name,
            &self.0.redactor,
            cx.run_uuid,
        )
        .await
        .map_err(BuildError::msg)?;
        let ssh_host = ssh
            .as_ref()
            .map(|s| s.host.clone())
            .filter(|h| !h.is_empty());
        let mut state = OsState {
            os: Os {
                client,
                force_delete: c.run.force_delete,
            },
            flavor_id: None,
            source_image: None,
            networks: Vec::new(),
            volume_id: None,
            key_pair_name: None,
            server_id: None,
            server: None,
            floating_ip: None,
            ssh_host: None,
            communicator: None,
            generated: data,
            images: BTreeMap::new(),
            run_tags: self.0.run_tags(cx.run_uuid),
        };
        let short = poller(DEFAULT_TIMEOUT);
        let image_poller = poller(IMAGE_TIMEOUT);
        let debug_key = self.0.debug_key(cx.debug, "os");
        let ssh = ssh.map(Arc::new);
        let r = &c.run;
        let mut steps: Vec<Box<dyn Step<OsState>>> = vec![
            Box::new(steps::StepLoadFlavor {
                flavor: r.flavor.clone(),
            }),
            Box::new(StepKeyPair::new(plan, debug_key)),
            Box::new(steps::StepSourceImageInfo::new(
                r.source_image.clone(),
                temporary_name(),
                image_poller.clone(),
            )),
            Box::new(steps::StepDiscoverNetwork {
                networks: r.networks.clone(),
                ports: r.ports.clone(),
                cidrs: r.network_discovery_cidrs.clone(),
            }),
        ];
        if let Some(v) = &r.volume {
            steps.push(Box::new(steps::StepCreateVolume {
                volume: v.clone(),
                metadata: c.image.metadata.clone(),
                poller: short.clone(),
            }));
        }
        steps.push(Box::new(StepRunInstance::new(
            "StepRunSourceServer",
            steps::LaunchPlan { config: c.clone() },
            short.clone(),
        )));
        if r.rackconnect_wait {
            steps.push(Box::new(steps::StepWaitForRackConnect {
                poller: short.clone(),
            }));
        }
        steps.push(Box::new(steps::StepAllocateIp {
            plan: r.floating_ip.clone(),
            instance_net: r.instance_floating_ip_net.clone(),
            ssh_interface: r.ssh_interface.clone(),
            ssh_ip_version: r.ssh_ip_version.clone(),
            ssh_host,
        }));
        if let Some(s) = &ssh {
            steps.push(Box::new(StepConnect::new(s.clone())));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        if let Some(s) = &ssh {
            steps.push(Box::new(StepCleanupTempKeys::new(s.clone())));
        }
        steps.push(Box::new(StepStopInstance::new(
            "StepStopServer",
            StopMode::Api,
            short.clone(),
        )));
        if let Some(v) = &r.volume {
            steps.push(Box::new(steps::StepDetachVolume {
                volume_name: v.name.clone(),
                poller: short.clone(),
            }));
        }
        let i = &c.image;
        if i.skip_create {
            steps.push(Box::new(steps::StepSkipCreateImage));
        } else {
            steps.push(Box::new(StepCreateImage::new(
                "stepCreateImage",
                steps::ImagePlan { config: c.clone() },
                image_poller.clone(),
            )));
        }
        for update in [
            ImageUpdate::Tags(i.tags.clone()),
            ImageUpdate::Visibility(i.visibility.clone()),
            ImageUpdate::Members {
                members: i.members.clone(),
                accept: i.auto_accept_members,
            },
            ImageUpdate::MinDisk(i.min_disk),
        ] {
            steps.push(Box::new(steps::StepUpdateImage::new(update, i.skip_create)));
        }

        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        release(&state, cx.ui.as_ref()).await;
        if !r.image_creation_wait.is_zero() && !state.images.is_empty() {
            tokio::select! {
                _ = cx.cancel.cancelled() => {}
                _ = tokio::time::sleep(r.image_creation_wait) => {}
            }
        }
        if state.images.is_empty() {
            return Ok(None);
        }
        // Secrets stay out of artifacts (and so out of manifests).
        let data = kiln_cloud::builder::artifact_data(&state.generated);
        Ok(Some(Arc::new(OpenstackArtifact {
            images: state.images.clone(),
            os: state.os.clone(),
            generated: data,
        })))
    }
}
