//! `StepIamInstanceProfile` (Packer's): decides the IAM instance profile
//! the instance is launched with. `iam_instance_profile` is checked to
//! exist (unless `skip_profile_validation`) and used as is. Otherwise,
//! with `temporary_iam_instance_profile_policy_document`, it creates a
//! temporary instance profile and a role of the same name
//! (`packer-<uuid>`, trusted by EC2) with the document as its inline
//! policy, and puts the role in the profile. Each resource is recorded as
//! soon as IAM returns it; the cleanup (which runs after the instance is
//! terminated) detaches the role, deletes the policy, the role and the
//! profile.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::{client, AmazonState};

/// The role's trust policy: EC2 may assume it (Packer's).
const ASSUME_ROLE_POLICY: &str = r#"{"Version": "2012-10-17","Statement": [{"Effect": "Allow","Principal": {"Service": "ec2.amazonaws.com"},"Action": "sts:AssumeRole"}]}"#;

/// See the module docs.
pub struct StepIamInstanceProfile {
    config: Arc<Config>,
    /// What to delete, in creation order.
    profile: Option<String>,
    role: Option<String>,
    policy: Option<String>,
    attached: bool,
}

impl StepIamInstanceProfile {
    /// An instance profile step.
    pub fn new(config: Arc<Config>) -> Self {
        StepIamInstanceProfile {
            config,
            profile: None,
            role: None,
            policy: None,
            attached: false,
        }
    }
}

/// A temporary IAM name: `packer-` and a time-ordered UUID, as in Packer.
fn temporary_iam_name() -> String {
    client::temporary_name().replacen("packer_", "packer-", 1)
}

fn fail(e: &kiln_cloud::ApiError) -> String {
    e.to_string()
}

#[async_trait]
impl Step<AmazonState> for StepIamInstanceProfile {
    fn name(&self) -> &'static str {
        "StepIamInstanceProfile"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = self.config.clone();
        state.iam_instance_profile = None;
        if let Some(name) = &c.iam_instance_profile {
            if !c.skip_profile_validation {
                let iam = client::iam(&state.sdk);
                iam.send(
                    iam.get_instance_profile().instance_profile_name(name),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!(
                        "couldn't find specified instance profile `{name}`: {}",
                        fail(&e)
                    ))
                })?;
            }
            state.iam_instance_profile = Some(name.clone());
            return Ok(StepAction::Continue);
        }
        let Some(doc) = &c.temporary_iam_policy else {
            return Ok(StepAction::Continue);
        };
        let policy = serde_json::to_string(doc).map_err(StepError::msg)?;
        let iam = client::iam(&state.sdk);
        let name = temporary_iam_name();

        cx.ui.say(&format!(
            "Creating temporary instance profile for this instance: {name}"
        ));
        self.profile = Some(name.clone());
        // Names are this build's own: "already exists" after a retry is the
        // earlier attempt's, whose reply was lost.
        const EXISTS: &[&str] = &["EntityAlreadyExists"];
        let req = iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .set_tags(crate::tags::iam_run_tags(state));
        use aws_sdk_iam::operation as op;
        let made = || async {
            Ok(Some(
                op::create_instance_profile::CreateInstanceProfileOutput::builder().build(),
            ))
        };
        iam.create(req, |r| r.send(), EXISTS, false, made)
            .await
            .map_err(|e| {
                StepError::msg(format!(
                    "error creating temporary instance profile: {}",
                    fail(&e)
                ))
            })?;
        let iamr = &iam;
        let namer: &str = &name;
        client::poll(
            c.polling,
            &cx.cancel,
            &format!("instance profile {name}"),
            move || async move {
                match iamr
                    .send(
                        iamr.get_instance_profile().instance_profile_name(namer),
                        |r| r.send(),
                    )
                    .await
                {
                    Ok(_) => Ok(kiln_cloud::Status::Ready(())),
                    Err(e) if e.code() == Some("NoSuchEntity") => {
                        Ok(kiln_cloud::Status::Pending("not visible yet".into()))
                    }
                    Err(e) => Err(kiln_cloud::CheckError::Api(e)),
                }
            },
        )
        .await?;

        cx.ui.say(&format!(
            "Creating temporary role for this instance: {name}"
        ));
        self.role = Some(name.clone());
        let req = iam
            .create_role()
            .role_name(&name)
            .description("Temporary role for Packer")
            .set_tags(crate::tags::iam_run_tags(state))
            .assume_role_policy_document(ASSUME_ROLE_POLICY);
        let made = || async { Ok(Some(op::create_role::CreateRoleOutput::builder().build())) };
        iam.create(req, |r| r.send(), EXISTS, false, made)
            .await
            .map_err(|e| StepError::msg(format!("error creating temporary role: {}", fail(&e))))?;

        cx.ui
            .say(&format!("Attaching policy to the temporary role: {name}"));
        self.policy = Some(name.clone());
        iam.send(
            iam.put_role_policy()
                .role_name(&name)
                .policy_name(&name)
                .policy_document(policy),
            |r| r.send(),
        )
        .await
        .map_err(|e| {
            StepError::msg(format!(
                "error attaching policy to the temporary role: {}",
                fail(&e)
            ))
        })?;
        // A profile holds one role: "limit exceeded" after a retry is the
        // earlier attempt's role.
        let req = iam
            .add_role_to_instance_profile()
            .role_name(&name)
            .instance_profile_name(&name);
        let added = || async {
            Ok(Some(
                op::add_role_to_instance_profile::AddRoleToInstanceProfileOutput::builder().build(),
            ))
        };
        iam.create(req, |r| r.send(), &["LimitExceeded"], false, added)
            .await
            .map_err(|e| {
                StepError::msg(format!(
                    "error adding the temporary role to the instance profile: {}",
                    fail(&e)
                ))
            })?;
        self.attached = true;
        state.iam_instance_profile = Some(name);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        if self.profile.is_none() && self.role.is_none() {
            return;
        }
        let iam = client::iam(&state.sdk);
        let gone = |code: Option<&str>| code == Some("NoSuchEntity");
        if let (Some(role), Some(profile), true) = (&self.role, &self.profile, self.attached) {
            cx.ui
                .say("Detaching temporary role from instance profile...");
            if let Err(e) = iam
                .send(
                    iam.remove_role_from_instance_profile()
                        .instance_profile_name(profile)
                        .role_name(role),
                    |r| r.send(),
                )
                .await
            {
                if !gone(e.code()) {
                    cx.ui.error(&format!(
                        "Error {}. Please delete the role manually: {role}",
                        fail(&e)
                    ));
                }
            }
        }
        if let (Some(role), Some(policy)) = (&self.role, self.policy.take()) {
            cx.ui.say("Removing policy from temporary role...");
            let _ = iam
                .send(
                    iam.delete_role_policy().role_name(role).policy_name(policy),
                    |r| r.send(),
                )
                .await;
        }
        if let Some(role) = self.role.take() {
            cx.ui.say("Deleting temporary role...");
            if let Err(e) = iam
                .send(iam.delete_role().role_name(&role), |r| r.send())
                .await
            {
                if !gone(e.code()) {
                    cx.ui.error(&format!(
                        "Error {}. Please delete the role manually: {role}",
                        fail(&e)
                    ));
                }
            }
        }
        if let Some(profile) = self.profile.take() {
            cx.ui.say("Deleting temporary instance profile...");
            if let Err(e) = iam
                .send(
                    iam.delete_instance_profile()
                        .instance_profile_name(&profile),
                    |r| r.send(),
                )
                .await
            {
                if !gone(e.code()) {
                    cx.ui.error(&format!(
                        "Error {}. Please delete the instance profile manually: {profile}",
                        fail(&e)
                    ));
                }
            }
        }
        self.attached = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_look_like_packers() {
        let n = temporary_iam_name();
        assert!(n.starts_with("packer-"), "{n}");
        assert!(!n.contains('_'), "{n}");
    }
}
