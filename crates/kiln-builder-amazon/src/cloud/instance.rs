//! amazon-ebs's side of kiln-cloud's instance steps
//! ([`kiln_cloud::steps::instance`]): [`Ec2Instances`] implements
//! `InstanceApi` with EC2's calls (`RunInstances` with a client token,
//! adopting by the run tags before a retry since an endpoint such as moto
//! ignores the token; `DescribeInstances`, `StopInstances` and
//! `TerminateInstances` through the process's shared batched lookups,
//! [`crate::lookup`]) and Packer's amazon wording; [`AmazonState`]
//! records the instance. The launch request itself is built by
//! `step_run_source_instance`'s plan. Holds nothing and creates nothing
//! itself; the generic launch step's cleanup terminates what it launched.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::operation::run_instances::RunInstancesOutput;
use aws_sdk_ec2::types::{Filter, Instance};
use kiln_cloud::steps::instance::{
    InstanceApi, InstanceState, InstanceWording, Launched, Observed, Phase, StepStopInstance,
    StopMode, Text,
};
use kiln_cloud::{ApiError, CheckError};
use kiln_sdk::step::StepError;
use tokio_util::sync::CancellationToken;

use crate::client::{self, Ec2};
use crate::config::{Config, Market, StopInstance};
use crate::lookup::Lookups;
use crate::step_run_source_instance::profile_not_ready;
use crate::AmazonState;

/// Packer's amazon wording for the instance steps.
const WORDING: InstanceWording = InstanceWording {
    noun: "instance",
    cloud: "EC2",
    launched: &[Text::Message("Instance ID: {id}")],
    starting: &[],
    start_failed: "error starting instance: {error}",
    waiting_running: &[Text::Say("Waiting for instance ({id}) to become ready...")],
    stopping: &[
        Text::Say("Stopping the source instance..."),
        Text::Message("Stopping instance"),
    ],
    stop_failed: "error stopping instance: {error}",
    stop_by_provisioner: &[Text::Say(
        "Automatic instance stop disabled. Please stop instance manually.",
    )],
    waiting_stopped: &[Text::Say("Waiting for the instance to stop...")],
    terminating: &[Text::Say("Terminating the source AWS instance...")],
    terminate_failed: "Error terminating instance, may still be around: {error}",
};

/// EC2's instance calls: the build region's client and its shared lookups.
#[derive(Clone)]
pub struct Ec2Instances {
    ec2: Ec2,
    lookups: Arc<Lookups>,
}

/// One `RunInstances` launch: the request, and what adopting an instance
/// launched by a lost attempt and explaining a failure need.
pub struct Ec2Launch {
    /// The request, without its client token.
    pub request: RunInstancesFluentBuilder,
    /// The build's run tags, which the launched instance carries.
    pub run_tags: Vec<(String, String)>,
    /// Whether the launch names a subnet.
    pub subnet_given: bool,
}

/// The attempts while a new instance profile is not visible to EC2 yet.
const PROFILE_ATTEMPTS: u64 = 10;

#[async_trait]
impl InstanceApi for Ec2Instances {
    type Launch = Ec2Launch;
    type Instance = Instance;

    async fn create(
        &self,
        launch: &Ec2Launch,
        cancel: &CancellationToken,
    ) -> Result<Launched<Instance>, StepError> {
        // A new instance profile may not be visible to EC2 yet: retry, as
        // Packer does.
        let mut attempt = 0u64;
        let resp = loop {
            // A token per launch, the same on every retry of it: an
            // instance whose reply was lost is not launched twice.
            let req = launch
                .request
                .clone()
                .client_token(uuid::Uuid::new_v4().to_string());
            // EC2 honours the token; an endpoint that does not (moto) would
            // launch twice, so before a retry look for the instance by the
            // build's run tags and adopt it.
            let ec2 = self.ec2.clone();
            let filters: Vec<Filter> = launch
                .run_tags
                .iter()
                .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
                .chain([Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .build()])
                .collect();
            let find = move || {
                let (ec2, filters) = (ec2.clone(), filters.clone());
                async move {
                    let out = ec2
                        .send(ec2.describe_instances().set_filters(Some(filters)), |r| {
                            r.send()
                        })
                        .await?;
                    let found = out
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .next()
                        .cloned();
                    Ok::<_, ApiError>(
                        found.map(|i| RunInstancesOutput::builder().instances(i).build()),
                    )
                }
            };
            let look_first = !launch.run_tags.is_empty();
            match self
                .ec2
                .create(req, |r| r.send(), &[], look_first, find)
                .await
            {
                Err(e) if attempt < PROFILE_ATTEMPTS && profile_not_ready(&e.to_string()) => {
                    attempt += 1;
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(StepError::Cancelled),
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)) => {}
                    }
                }
                r => break r,
            }
        };
        let resp = resp.map_err(|e| {
            if e.code() == Some("VPCIdNotSpecified") && !launch.subnet_given {
                StepError::msg(
                    "error launching source instance: a valid subnet id was not specified",
                )
            } else {
                StepError::msg(format!("error launching source instance: {e}"))
            }
        })?;
        let instance = resp.instances().first().cloned();
        let Some(id) = instance
            .as_ref()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
        else {
            return Err(StepError::msg(
                "error launching source instance: EC2 returned no instance",
            ));
        };
        Ok(Launched { id, instance })
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<Instance>>, CheckError> {
        let Some(i) = self.lookups.instance(id).await? else {
            return Ok(None);
        };
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        let phase = match state.as_str() {
            "pending" | "" => Phase::Starting,
            "running" => Phase::Running,
            "stopping" => Phase::Stopping,
            "stopped" => Phase::Stopped,
            "shutting-down" => Phase::Terminating,
            "terminated" => Phase::Terminated,
            _ => Phase::Failed,
        };
        let reason = i
            .state_reason()
            .and_then(|r| r.message())
            .map(str::to_string);
        Ok(Some(Observed {
            phase,
            // EC2 always names the state; a missing one reads as pending.
            state: if state.is_empty() {
                "pending".into()
            } else {
                state
            },
            reason,
            instance: i,
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        self.lookups.stop(id).await
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        // An instance EC2 does not know is gone already.
        self.lookups.terminate(id).await.map(|_| ())
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}

impl InstanceState for AmazonState {
    type Api = Ec2Instances;

    fn instance_api(&self) -> Ec2Instances {
        Ec2Instances {
            ec2: self.ec2.clone(),
            lookups: self.lookups.clone(),
        }
    }

    fn record_instance(&mut self, launched: Launched<Instance>) {
        self.instance = Some(
            launched
                .instance
                .unwrap_or_else(|| Instance::builder().instance_id(launched.id).build()),
        );
    }

    fn instance_id(&self) -> Option<String> {
        self.instance.as_ref().and_then(|i| i.instance_id.clone())
    }
}

/// Packer's `StepStopEBSBackedInstance`: stops the instance through the
/// API (or, with `disable_stop_instance`, waits for a provisioner to), and
/// waits until it is stopped, as `aws_polling` says. Spot instances cannot
/// be stopped and are imaged running, as in Packer.
pub fn stop_step(c: &Config) -> StepStopInstance {
    let mode = match (&c.market, c.stop_instance) {
        (Market::OnDemand, StopInstance::Api) => StopMode::Api,
        (Market::OnDemand, StopInstance::ByProvisioner) => StopMode::ByProvisioner,
        _ => StopMode::Skip,
    };
    StepStopInstance::new("StepStopEBSBackedInstance", mode, client::poller(c.polling))
}
