//! `StepKeyPair` (Packer's): decides how the instance is logged in to.
//! With no `ssh_keypair_name`, `ssh_private_key_file`, agent or password it
//! imports the temporary key pair generated for this build
//! (`packer_<uuid>`) into EC2. With `-debug` its private key is also
//! written to `ec2_<build name>.pem` in the working directory (mode 0600),
//! as Packer does, so the instance can be reached by hand between steps.
//! It records the key pair name in the state; its cleanup deletes the
//! temporary key pair from EC2 (idempotent: a missing key pair is fine)
//! and the debug key file.

use std::path::PathBuf;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::{AmazonState, KeyPairPlan};

/// See the module docs.
pub struct StepKeyPair {
    plan: KeyPairPlan,
    /// `-debug`: where the temporary private key is saved.
    debug_key: Option<PathBuf>,
    /// The temporary key pair to delete.
    created: Option<String>,
    /// The debug key file to delete.
    saved: Option<PathBuf>,
}

impl StepKeyPair {
    /// A key pair step following `plan`; with `debug_key`, a temporary
    /// private key is saved there.
    pub fn new(plan: KeyPairPlan, debug_key: Option<PathBuf>) -> Self {
        StepKeyPair {
            plan,
            debug_key,
            created: None,
            saved: None,
        }
    }
}

#[async_trait]
impl Step<AmazonState> for StepKeyPair {
    fn name(&self) -> &'static str {
        "StepKeyPair"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        match &self.plan {
            KeyPairPlan::PrivateKeyFile => {
                cx.ui.say("Using existing SSH private key");
            }
            KeyPairPlan::Agent => {
                cx.ui.say("Using SSH Agent with key pair in source AMI");
            }
            KeyPairPlan::Existing(name) => {
                cx.ui.say("Using existing SSH private key");
                state.key_pair_name = Some(name.clone());
            }
            KeyPairPlan::None => {
                cx.ui.say("Not using temporary keypair");
            }
            KeyPairPlan::Temporary { name, key } => {
                cx.ui.say(&format!("Creating temporary keypair: {name}"));
                self.created = Some(name.clone());
                // A retry after a lost reply finds the key pair imported
                // (with this build's key): adopt it.
                let imported = || async {
                    Ok(Some(
                        aws_sdk_ec2::operation::import_key_pair::ImportKeyPairOutput::builder()
                            .key_name(name)
                            .build(),
                    ))
                };
                let req = state
                    .ec2
                    .import_key_pair()
                    .key_name(name)
                    .set_tag_specifications(crate::tags::specs(
                        state,
                        aws_sdk_ec2::types::ResourceType::KeyPair,
                        &[],
                    ))
                    .public_key_material(aws_smithy_types::Blob::new(
                        key.public_openssh.as_bytes(),
                    ));
                state
                    .ec2
                    .create(
                        req,
                        |r| r.send(),
                        &["InvalidKeyPair.Duplicate"],
                        false,
                        imported,
                    )
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("error creating temporary keypair: {}", e))
                    })?;
                state.key_pair_name = Some(name.clone());
                if let Some(path) = &self.debug_key {
                    cx.ui.message(&format!(
                        "Saving key for debug purposes: {}",
                        path.display()
                    ));
                    self.saved = Some(path.clone());
                    key.write_debug_copy(path)
                        .map_err(|e| StepError::msg(format!("error saving debug key: {e}")))?;
                }
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let Some(name) = self.created.take() else {
            return;
        };
        cx.ui.say("Deleting temporary keypair...");
        let req = state.ec2.delete_key_pair().key_name(&name);
        let deleted = state
            .ec2
            .delete(req, |r| r.send(), &["InvalidKeyPair.NotFound"]);
        if let Err(e) = deleted.await {
            if e.code() != Some("InvalidKeyPair.NotFound") {
                cx.ui.error(&format!(
                    "Error cleaning up keypair. Please delete the key manually: {name} ({})",
                    e
                ));
            }
        }
        if let Some(path) = self.saved.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                cx.ui.error(&format!(
                    "Error removing debug key '{}': {e}",
                    path.display()
                ));
            }
        }
    }
}
