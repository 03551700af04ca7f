//! The run section (the rest of Packer's `RunConfig`): how the instance
//! is launched, reached and stopped: `user_data(_file)`, `ssh_interface`,
//! `shutdown_behavior`, `disable_stop_instance`, the spot market (in
//! `spot`), `metadata_options`, the IAM instance profile
//! or temporary policy document, `tenancy`, and `ssh_keypair_name`'s need
//! for a private key. Pure (it only checks that `user_data_file` exists);
//! holds nothing.

use std::path::PathBuf;

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;

use super::nonempty;
use super::raw::Raw;
use super::spot::Market;

/// `metadata_options`: the instance metadata service settings of the
/// build instance, with Packer's defaults for keys not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataOptions {
    /// `http_endpoint`: `enabled` (default) or `disabled`.
    pub http_endpoint: String,
    /// `http_tokens`: `optional` (default) or `required` (IMDSv2 only).
    pub http_tokens: String,
    /// `http_put_response_hop_limit`: 1 (default) to 64.
    pub http_put_response_hop_limit: i32,
    /// `instance_metadata_tags`: `disabled` (default) or `enabled`.
    pub instance_metadata_tags: String,
}

/// One statement of `temporary_iam_instance_profile_policy_document`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyStatement {
    /// `Effect` (`Allow`, `Deny`).
    #[serde(rename = "Effect")]
    pub effect: String,
    /// `Action`.
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    /// `Resource`.
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
}

/// `temporary_iam_instance_profile_policy_document`: the inline policy of
/// the temporary role. Serialises to the JSON IAM expects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyDocument {
    /// `Version` (omitted when not given).
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `Statement`.
    #[serde(rename = "Statement")]
    pub statement: Vec<PolicyStatement>,
}

/// `ssh_interface`: which instance address the communicator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshInterface {
    /// Packer's default choice (public IP in a VPC, else public DNS,
    /// falling back to the private IP).
    Default,
    /// `public_ip`.
    PublicIp,
    /// `private_ip`.
    PrivateIp,
    /// `public_dns`.
    PublicDns,
    /// `private_dns`.
    PrivateDns,
    /// `session_manager`: SSH through an SSM port forward. Accepted by
    /// `validate`, as in Packer; the build fails before any API call until
    /// kiln implements it.
    SessionManager,
}

/// `shutdown_behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownBehavior {
    /// `stop` (the default).
    Stop,
    /// `terminate`.
    Terminate,
}

impl ShutdownBehavior {
    /// The EC2 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownBehavior::Stop => "stop",
            ShutdownBehavior::Terminate => "terminate",
        }
    }
}

/// Whether the instance is stopped before the image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopInstance {
    /// Stop it through the API (the default).
    Api,
    /// `disable_stop_instance`: a provisioner stops it; only wait.
    ByProvisioner,
}

/// The run keys, validated.
pub(super) struct Run {
    pub(super) user_data_file: Option<PathBuf>,
    pub(super) ssh_interface: SshInterface,
    pub(super) shutdown_behavior: ShutdownBehavior,
    pub(super) market: Market,
    pub(super) metadata_options: Option<MetadataOptions>,
    pub(super) temporary_iam_policy: Option<PolicyDocument>,
}

/// Validates the run keys; `communicator` is the decoded communicator
/// (`ssh_keypair_name` needs its private key).
pub(super) fn prepare(
    r: &Raw,
    communicator: &CommunicatorConfig,
    errors: &mut ConfigErrors,
) -> Run {
    if nonempty(r.user_data.clone()).is_some() && nonempty(r.user_data_file.clone()).is_some() {
        errors.push(ConfigError::at(
            "user_data_file",
            "only one of `user_data` and `user_data_file` may be given",
        ));
    }
    let user_data_file = nonempty(r.user_data_file.clone()).map(PathBuf::from);
    if let Some(f) = &user_data_file {
        if !f.is_file() {
            errors.push(ConfigError::at(
                "user_data_file",
                format!("user data file `{}` does not exist", f.display()),
            ));
        }
    }
    let ssh_interface = match r.ssh_interface.as_deref().unwrap_or("") {
        "" => SshInterface::Default,
        "public_ip" => SshInterface::PublicIp,
        "private_ip" => SshInterface::PrivateIp,
        "public_dns" => SshInterface::PublicDns,
        "private_dns" => SshInterface::PrivateDns,
        "session_manager" => {
            // Packer 1.6.6's RunConfig rule.
            if nonempty(r.iam_instance_profile.clone()).is_none()
                && r.temporary_iam_instance_profile_policy_document.is_none()
            {
                errors.push(ConfigError::at(
                    "ssh_interface",
                    "no `iam_instance_profile` defined; `session_manager` connectivity requires a valid instance profile with AmazonSSMManagedInstanceCore permissions",
                ).with_hint("or give a `temporary_iam_instance_profile_policy_document`"));
            }
            SshInterface::SessionManager
        }
        other => {
            let names = [
                "public_ip",
                "private_ip",
                "public_dns",
                "private_dns",
                "session_manager",
            ];
            let mut e = ConfigError::at(
                "ssh_interface",
                format!("unknown `ssh_interface` `{other}`; expected `public_ip`, `private_ip`, `public_dns`, `private_dns` or `session_manager`"),
            );
            if let Some(s) = did_you_mean(other, names) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(e);
            SshInterface::Default
        }
    };
    let shutdown_behavior = match r.shutdown_behavior.as_deref().unwrap_or("") {
        "" | "stop" => ShutdownBehavior::Stop,
        "terminate" => ShutdownBehavior::Terminate,
        other => {
            errors.push(ConfigError::at(
                "shutdown_behavior",
                format!("`shutdown_behavior` must be `stop` or `terminate`, found `{other}`"),
            ));
            ShutdownBehavior::Stop
        }
    };
    let market = super::spot::prepare(r, shutdown_behavior, errors);
    let metadata_options = r.metadata_options.as_ref().map(|m| {
        let mut pick = |key: &str, v: &Option<String>, default: &str, allowed: [&str; 2]| {
            let v = nonempty(v.clone()).unwrap_or_else(|| default.to_string());
            if !allowed.contains(&v.as_str()) {
                errors.push(ConfigError::at(
                    format!("metadata_options.{key}"),
                    format!(
                        "`{key}` must be `{}` or `{}`, found `{v}`",
                        allowed[0], allowed[1]
                    ),
                ));
            }
            v
        };
        let http_endpoint = pick(
            "http_endpoint",
            &m.http_endpoint,
            "enabled",
            ["enabled", "disabled"],
        );
        let http_tokens = pick(
            "http_tokens",
            &m.http_tokens,
            "optional",
            ["optional", "required"],
        );
        let instance_metadata_tags = pick(
            "instance_metadata_tags",
            &m.instance_metadata_tags,
            "disabled",
            ["enabled", "disabled"],
        );
        let hops = match m.http_put_response_hop_limit {
            None | Some(0) => 1,
            Some(n) => n,
        };
        if !(1..=64).contains(&hops) {
            errors.push(ConfigError::at(
                "metadata_options.http_put_response_hop_limit",
                format!("`http_put_response_hop_limit` must be between 1 and 64, found `{hops}`"),
            ));
        }
        MetadataOptions {
            http_endpoint,
            http_tokens,
            http_put_response_hop_limit: hops.clamp(1, 64) as i32,
            instance_metadata_tags,
        }
    });
    let temporary_iam_policy = r
        .temporary_iam_instance_profile_policy_document
        .as_ref()
        .map(|d| PolicyDocument {
            version: nonempty(d.version.clone()),
            statement: d
                .statement
                .iter()
                .map(|s| PolicyStatement {
                    effect: s.effect.clone(),
                    action: s.action.to_vec(),
                    resource: s.resource.to_vec(),
                })
                .collect(),
        });
    if let Some(d) = &temporary_iam_policy {
        if d.statement.is_empty() {
            errors.push(ConfigError::at(
                "temporary_iam_instance_profile_policy_document.Statement",
                "the policy document needs at least one `Statement`",
            ));
        }
    }
    if let Some(t) = nonempty(r.tenancy.clone()) {
        if !["default", "dedicated", "host"].contains(&t.as_str()) {
            errors.push(ConfigError::at(
                "tenancy",
                format!("`tenancy` must be `default`, `dedicated` or `host`, found `{t}`"),
            ));
        }
    }
    if let CommunicatorConfig::Ssh(c) = communicator {
        let keypair = nonempty(r.ssh_keypair_name.clone());
        if keypair.is_some() && c.credentials.private_key.is_none() && !c.credentials.agent {
            errors.push(ConfigError::at(
                "ssh_private_key_file",
                "`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth`: kiln cannot log in with a key pair whose private key it does not have",
            ));
        }
    }

    Run {
        user_data_file,
        ssh_interface,
        shutdown_behavior,
        market,
        metadata_options,
        temporary_iam_policy,
    }
}
