//! Connects the docker communicator to the running build container: checks
//! the container is still running, reads its user and working directory,
//! and stores a [`DockerCommunicator`] in `DockerState::communicator`. Its
//! cleanup drops the communicator (it owns nothing on the engine side).

use std::sync::Arc;

use async_trait::async_trait;
use bollard::query_parameters::InspectContainerOptions;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Context;
use crate::communicator::DockerCommunicator;
use crate::config::UploadOwner;
use crate::DockerState;

/// See the module docs.
pub struct StepConnect {
    exec_user: Option<String>,
    upload_owner: UploadOwner,
}

impl StepConnect {
    /// A connect step.
    pub fn new(exec_user: Option<String>, upload_owner: UploadOwner) -> Self {
        StepConnect {
            exec_user,
            upload_owner,
        }
    }
}

#[async_trait]
impl Step<DockerState> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = state.container.clone() else {
            return Err(StepError::msg("there is no container to connect to"));
        };
        let info = state
            .docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .context(|| format!("cannot inspect container `{id}`"))
            .map_err(StepError::msg)?;
        let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        if !running {
            let code = info.state.as_ref().and_then(|s| s.exit_code).unwrap_or(-1);
            return Err(StepError::msg(format!(
                "container `{id}` stopped right after starting (exit code {code}); \
                 `run_command` must keep it running (Packer's default uses `-i -t` and `/bin/sh`)"
            )));
        }
        // Packer names the container's address, though exec needs none.
        let address = info
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|nets| nets.values().find_map(|e| e.ip_address.clone()))
            .filter(|ip| !ip.is_empty())
            .unwrap_or_default();
        cx.ui
            .say(&format!("Using docker communicator to connect: {address}"));
        let config = info.config.unwrap_or_default();
        let user = config.user.unwrap_or_default();
        let workdir = config.working_dir.unwrap_or_default();
        let chown_to = match self.upload_owner {
            UploadOwner::ContainerUser => Some(user.clone()),
            UploadOwner::Root => None,
        };
        state.communicator = Some(Arc::new(
            DockerCommunicator::new(
                state.docker.clone(),
                id,
                self.exec_user.clone(),
                &workdir,
                chown_to,
            )
            .with_container_user(&user),
        ));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, _cx: &StepContext<'_>, state: &mut DockerState) {
        state.communicator = None;
    }
}
