//! Runs the build's provisioners through the hook, over the communicator the
//! builder connected. On failure it says so and runs the
//! `error-cleanup-provisioner` (unless `-on-error=abort`). Its cleanup undoes
//! nothing: provisioners clean up after themselves.

use std::sync::Arc;

use async_trait::async_trait;

use crate::communicator::Communicator;
use crate::component::{BuildError, GeneratedData, Hook, HookEvent};
use crate::step::{OnError, Step, StepAction, StepContext, StepError};

/// State that can hand the provision step a communicator and generated data.
pub trait HasCommunicator {
    /// The connected communicator.
    fn communicator(&self) -> Arc<dyn Communicator>;
    /// The data the builder generated (`Host`, `ID`…).
    fn generated(&self) -> GeneratedData;
}

/// See the module docs.
pub struct StepProvision {
    hook: Arc<dyn Hook>,
    on_error: OnError,
}

impl StepProvision {
    /// A provision step firing `hook`.
    pub fn new(hook: Arc<dyn Hook>, on_error: OnError) -> Self {
        StepProvision { hook, on_error }
    }
}

#[async_trait]
impl<S: HasCommunicator + Send> Step<S> for StepProvision {
    fn name(&self) -> &'static str {
        "StepProvision"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let comm = state.communicator();
        let generated = state.generated();
        match self
            .hook
            .run(
                HookEvent::Provision,
                cx.ui,
                comm.as_ref(),
                &generated,
                &cx.cancel,
            )
            .await
        {
            Ok(()) => Ok(StepAction::Continue),
            Err(BuildError::Cancelled) => Err(StepError::Cancelled),
            Err(BuildError::Failed(e)) => {
                if self.on_error != OnError::Abort {
                    cx.ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
                    let fresh = tokio_util::sync::CancellationToken::new();
                    if let Err(ce) = self
                        .hook
                        .run(
                            HookEvent::CleanupProvision,
                            cx.ui,
                            comm.as_ref(),
                            &generated,
                            &fresh,
                        )
                        .await
                    {
                        cx.ui
                            .error(&format!("error-cleanup-provisioner failed: {ce}"));
                    }
                }
                Err(StepError::Failed(e))
            }
        }
    }

    fn cleanup_kind(&self) -> crate::step::CleanupKind {
        crate::step::CleanupKind::ErrorCleanupProvisioner
    }
}
