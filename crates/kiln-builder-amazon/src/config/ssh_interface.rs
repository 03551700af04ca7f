//! `ssh_interface` (part of Packer's `RunConfig`): which address of the
//! instance the communicator connects to, and `session_manager`'s need
//! for an instance profile. Pure; holds nothing.

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors};

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

/// Parses `ssh_interface` (`value`); `instance_profile` says whether
/// the instance gets one.
pub(super) fn parse(
    value: Option<&str>,
    instance_profile: bool,
    errors: &mut ConfigErrors,
) -> SshInterface {
    match value.unwrap_or("") {
        "" => SshInterface::Default,
        "public_ip" => SshInterface::PublicIp,
        "private_ip" => SshInterface::PrivateIp,
        "public_dns" => SshInterface::PublicDns,
        "private_dns" => SshInterface::PrivateDns,
        "session_manager" => {
            // Packer 1.6.6's RunConfig rule.
            if !instance_profile {
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
    }
}
