//! Connects the communicator: with `ssh`, kiln-ssh's `StepConnect` against
//! the forwarded port on 127.0.0.1 (or `ssh_host` with `net_bridge`),
//! connecting as soon as the guest's sshd answers, and failing at once,
//! with the serial console's tail, if the VM dies first; with `none`,
//! nothing. Stores the communicator in `QemuState::communicator`; cleanup
//! drops it, which closes the connection.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::generated;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_ssh::{CommunicatorConfig, SshCommunicator, SshState};

use crate::config::Config;
use crate::{vm_died, QemuState};

impl SshState for QemuState {
    fn ssh_host(&self) -> Option<String> {
        self.generated.get(generated::HOST).cloned()
    }
    fn set_ssh_communicator(&mut self, communicator: Option<Arc<SshCommunicator>>) {
        self.communicator = communicator.map(|c| c as Arc<dyn kiln_sdk::Communicator>);
    }
}

/// See the module docs.
pub struct StepConnect {
    config: Arc<Config>,
    inner: Option<kiln_ssh::StepConnect>,
}

impl StepConnect {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepConnect {
            config,
            inner: None,
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let CommunicatorConfig::Ssh(ssh) = &self.config.communicator else {
            return Ok(StepAction::Continue);
        };
        let mut ssh = (**ssh).clone();
        if let Some(port) = state.comm_host_port {
            ssh.port = port;
        }
        let creds = &ssh.credentials;
        state
            .generated
            .insert(generated::USER.into(), creds.username.clone());
        state.generated.insert(
            generated::PASSWORD.into(),
            creds
                .password
                .as_ref()
                .map(|p| p.expose().clone())
                .unwrap_or_default(),
        );
        state.generated.insert(
            generated::SSH_PRIVATE_KEY.into(),
            creds
                .private_key
                .as_ref()
                .map(|k| k.pem.expose().clone())
                .unwrap_or_default(),
        );
        state
            .generated
            .insert(generated::SSH_PUBLIC_KEY.into(), String::new());
        let mut exited = state
            .vm
            .as_ref()
            .map(|v| v.exited.clone())
            .ok_or_else(|| StepError::msg("internal error: no VM"))?;
        let inner = self.inner.insert(kiln_ssh::StepConnect::new(Arc::new(ssh)));
        let died = {
            let fut = inner.run(cx, state);
            tokio::select! {
                r = fut => return r,
                _ = exited.wait_for(|e| e.is_some()) => true,
            }
        };
        let exit = state
            .vm
            .as_ref()
            .and_then(|v| v.exit())
            .filter(|_| died)
            .unwrap_or(crate::driver::VmExit {
                status: "unknown".into(),
                success: false,
            });
        Err(StepError::msg(format!(
            "the VM stopped while waiting for SSH: {}",
            vm_died(state, &exit)
        )))
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut QemuState) {
        if let Some(inner) = &mut self.inner {
            Step::<QemuState>::cleanup(inner, cx, state).await;
        }
        state.communicator = None;
    }
}
