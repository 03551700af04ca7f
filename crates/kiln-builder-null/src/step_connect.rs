//! Connects the communicator: with `ssh`, kiln-ssh's `StepConnect`
//! (retries, timeouts, clear errors), storing the communicator and the
//! generated connection data in `NullState`; with `none`, nothing. Its
//! cleanup drops the connection.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_ssh::{CommunicatorConfig, SshCommunicator, SshState};

use crate::NullState;

impl SshState for NullState {
    fn set_ssh_communicator(&mut self, communicator: Option<Arc<SshCommunicator>>) {
        self.communicator = communicator.map(|c| c as Arc<dyn kiln_sdk::Communicator>);
    }
}

/// See the module docs.
pub struct StepConnect {
    inner: Option<kiln_ssh::StepConnect>,
}

impl StepConnect {
    /// A connect step for `config`.
    pub fn new(config: &CommunicatorConfig) -> Self {
        StepConnect {
            inner: match config {
                CommunicatorConfig::None => None,
                CommunicatorConfig::Ssh(c) => {
                    Some(kiln_ssh::StepConnect::new(Arc::new((**c).clone())))
                }
            },
        }
    }
}

#[async_trait]
impl Step<NullState> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut NullState,
    ) -> Result<StepAction, StepError> {
        match &mut self.inner {
            None => {
                state.communicator = None;
                Ok(StepAction::Continue)
            }
            Some(step) => step.run(cx, state).await,
        }
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut NullState) {
        match &mut self.inner {
            None => state.communicator = None,
            Some(step) => step.cleanup(cx, state).await,
        }
    }
}
