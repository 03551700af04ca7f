//! The RAM role ECS imports as (`AliyunECSImageImportDefaultRole`, which
//! must carry the system policy `AliyunECSImageImportRolePolicy` for ECS
//! to read the OSS object), made ready as Packer's `prepareImportRole`
//! does when ImportImage answers `NoSetRoletoECSServiceAcount`: a missing
//! role is created with Packer's trust policy and the policy attached; an
//! existing role gets the policy attached, or, when it has it already, its
//! trust policy rewritten. The role is an account setting, as in Packer:
//! it stays. Holds nothing.

use kiln_builder_alicloud::client::{Client, Params};
use kiln_cloud::ApiError;
use serde_json::Value;

/// The role ECS imports as.
pub const ROLE: &str = "AliyunECSImageImportDefaultRole";
/// The system policy it needs.
pub const POLICY: &str = "AliyunECSImageImportRolePolicy";
/// Packer's trust policy of the role: ECS may assume it.
pub const TRUST_POLICY: &str = r#"{
  "Statement": [
    {
      "Action": "sts:AssumeRole",
      "Effect": "Allow",
      "Principal": {
        "Service": [
          "ecs.aliyuncs.com"
        ]
      }
    }
  ],
  "Version": "1"
}"#;

/// What was done to the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// It was created, with the policy.
    Created,
    /// It existed without the policy, which was attached.
    PolicyAttached,
    /// It had the policy; its trust policy was rewritten.
    TrustUpdated,
}

/// Makes the import role ready through `ram`.
pub async fn prepare_import_role(ram: &Client) -> Result<RoleChange, ApiError> {
    let role = Params::new().set("RoleName", ROLE);
    match ram.call::<Value>("GetRole", &role, None).await {
        Ok(_) => {}
        Err(e) if e.is(&["EntityNotExist.Role"]) => {
            ram.create::<Value, _, _>(
                "CreateRole",
                &role.clone().set("AssumeRolePolicyDocument", TRUST_POLICY),
                &["EntityAlreadyExists.Role"],
                false,
                || async { ram.call::<Value>("GetRole", &role, None).await.map(Some) },
            )
            .await?;
            attach_policy(ram).await?;
            return Ok(RoleChange::Created);
        }
        Err(e) => return Err(e),
    }
    let listed: Value = ram.call("ListPoliciesForRole", &role, None).await?;
    let has = listed["Policies"]["Policy"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["PolicyName"] == POLICY && p["PolicyType"] == "System");
    if has {
        ram.call::<Value>(
            "UpdateRole",
            &role.set("NewAssumeRolePolicyDocument", TRUST_POLICY),
            None,
        )
        .await?;
        Ok(RoleChange::TrustUpdated)
    } else {
        attach_policy(ram).await?;
        Ok(RoleChange::PolicyAttached)
    }
}

/// Attaches the import policy; attached already (a retry after a lost
/// reply) is done.
async fn attach_policy(ram: &Client) -> Result<(), ApiError> {
    let params = Params::new()
        .set("PolicyName", POLICY)
        .set("PolicyType", "System")
        .set("RoleName", ROLE);
    match ram.call::<Value>("AttachPolicyToRole", &params, None).await {
        Err(e) if e.is(&["EntityAlreadyExists.Role.Policy"]) => Ok(()),
        r => r.map(drop),
    }
}
