//! `StepKeyPair` (Packer's): decides how the instance is logged in to.
//! With no `ssh_keypair_name`, `ssh_private_key_file`, agent or password it
//! imports the temporary key pair generated for this build
//! (`packer_<uuid>`) into EC2 (its private key never leaves kiln). It
//! records the key pair name in the state; its cleanup deletes the
//! temporary key pair from EC2 (idempotent: a missing key pair is fine).

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::{client, AmazonState, KeyPairPlan};

/// See the module docs.
pub struct StepKeyPair {
    plan: KeyPairPlan,
    /// The temporary key pair to delete.
    created: Option<String>,
}

impl StepKeyPair {
    /// A key pair step following `plan`.
    pub fn new(plan: KeyPairPlan) -> Self {
        StepKeyPair {
            plan,
            created: None,
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
                state
                    .ec2
                    .import_key_pair()
                    .key_name(name)
                    .public_key_material(aws_smithy_types::Blob::new(key.public_openssh.as_bytes()))
                    .send()
                    .await
                    .map_err(|e| {
                        StepError::msg(format!(
                            "error creating temporary keypair: {}",
                            client::describe(&e)
                        ))
                    })?;
                state.key_pair_name = Some(name.clone());
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let Some(name) = self.created.take() else {
            return;
        };
        cx.ui.say("Deleting temporary keypair...");
        if let Err(e) = state.ec2.delete_key_pair().key_name(&name).send().await {
            if client::code(&e) != Some("InvalidKeyPair.NotFound") {
                cx.ui.error(&format!(
                    "Error cleaning up keypair. Please delete the key manually: {name} ({})",
                    client::describe(&e)
                ));
            }
        }
    }
}
