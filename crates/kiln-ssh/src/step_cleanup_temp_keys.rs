//! `StepCleanupTempKeys`: with `ssh_clear_authorized_keys`, removes the
//! temporary key pair's public key from `~/.ssh/authorized_keys` (and, with
//! sudo, `/root/.ssh/authorized_keys`) after provisioning, as Packer's step
//! of the same name does. Builders that inject a temporary key pair put it
//! right after `StepProvision`. The key line is found by its comment (the
//! key pair's name, the last field of the line); every other line stays.
//!
//! It stores nothing and its cleanup undoes nothing: failures are reported
//! and the build goes on, since the private key dies with kiln anyway.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::communicator::{CommandOutput, Communicator, ExitStatus, RemoteCommand};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::steps::HasCommunicator;
use kiln_sdk::Ui;

use crate::comm::shell_quote;
use crate::config::SshConfig;

/// See the module docs.
pub struct StepCleanupTempKeys {
    config: Arc<SshConfig>,
}

impl StepCleanupTempKeys {
    /// The step for `config`; it acts only when `config` has
    /// `ssh_clear_authorized_keys` and a temporary key pair.
    pub fn new(config: Arc<SshConfig>) -> Self {
        StepCleanupTempKeys { config }
    }
}

/// Escapes `s` for a sed basic regular expression delimited by `/`.
fn sed_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\/.*[]^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The commands Packer runs: delete the lines ending in ` <comment>` from
/// the user's and root's `authorized_keys`, through a `.bak` copy.
pub fn clear_commands(comment: &str) -> [String; 2] {
    let script = shell_quote(&format!("/ {}$/d", sed_escape(comment)));
    [
        format!("sed -i.bak {script} ~/.ssh/authorized_keys; rm ~/.ssh/authorized_keys.bak"),
        format!(
            "sudo sed -i.bak {script} /root/.ssh/authorized_keys; sudo rm /root/.ssh/authorized_keys.bak"
        ),
    ]
}

/// Runs [`clear_commands`] over `comm`, streaming their output to `ui`.
/// Failures are reported, never fatal (Packer only logs them).
pub async fn clear_authorized_keys(comm: &dyn Communicator, ui: &dyn Ui, comment: &str) {
    ui.say("Trying to remove ephemeral keys from authorized_keys files");
    for command in clear_commands(comment) {
        let out = |l: &str| ui.message(l);
        let r = comm
            .start(
                &RemoteCommand {
                    command: command.clone(),
                },
                CommandOutput {
                    stdout: &out,
                    stderr: &out,
                },
            )
            .await;
        match r {
            Ok(ExitStatus::Code(0)) => {}
            Ok(status) => ui.message(&format!(
                "could not clean up authorized_keys ({status}); please remove the key `{comment}` by hand"
            )),
            Err(e) => ui.message(&format!(
                "could not clean up authorized_keys: {e}; please remove the key `{comment}` by hand"
            )),
        }
    }
}

#[async_trait]
impl<S: HasCommunicator + Send> Step<S> for StepCleanupTempKeys {
    fn name(&self) -> &'static str {
        "StepCleanupTempKeys"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        if !self.config.clear_authorized_keys {
            return Ok(StepAction::Continue);
        }
        let Some(key) = &self.config.credentials.temporary_key else {
            return Ok(StepAction::Continue);
        };
        let comment = key.expose().comment().to_string();
        if comment.is_empty() {
            return Ok(StepAction::Continue);
        }
        let comm = state.communicator();
        clear_authorized_keys(comm.as_ref(), cx.ui, &comment).await;
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_packers_commands() {
        let [user, root] = clear_commands("packer_5f0c");
        assert_eq!(
            user,
            "sed -i.bak '/ packer_5f0c$/d' ~/.ssh/authorized_keys; rm ~/.ssh/authorized_keys.bak"
        );
        assert_eq!(
            root,
            "sudo sed -i.bak '/ packer_5f0c$/d' /root/.ssh/authorized_keys; sudo rm /root/.ssh/authorized_keys.bak"
        );
        let [odd, _] = clear_commands("a.b/c's");
        assert!(odd.starts_with(r"sed -i.bak '/ a\.b\/c'\''s$/d'"), "{odd}");
    }
}
