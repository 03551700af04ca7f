//! Looks up the id of the key pair the instance is launched with (CVM
//! launches and detaches key pairs by id, `skey-…`; the key pair step
//! knows its name): after the temporary key pair's import, or for
//! `ssh_keypair_name`. Records it in the state (and, for the temporary
//! one, what the detach step detaches). Creates nothing; nothing to clean
//! up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::TencentState;

/// See the module docs.
pub struct StepKeyPairId {
    /// Whether the key pair is the build's temporary one.
    pub temporary: bool,
}

#[async_trait]
impl Step<TencentState> for StepKeyPairId {
    fn name(&self) -> &'static str {
        "stepKeyPairId"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut TencentState,
    ) -> Result<StepAction, StepError> {
        let Some(name) = state.key_pair_name.clone() else {
            return Ok(StepAction::Continue);
        };
        let id = state
            .cvm
            .key_pair_id(&name)
            .await
            .map_err(|e| StepError::msg(format!("Failed to query keypair `{name}`: {e}")))?
            .ok_or_else(|| StepError::msg(format!("the key pair `{name}` does not exist")))?;
        if self.temporary {
            cx.ui.message(&format!("Keypair created: {id}"));
            state.temporary_key_pair_id = Some(id.clone());
        }
        state.key_pair_id = Some(id);
        Ok(StepAction::Continue)
    }
}
