//! The run section (the rest of Packer's `RunConfig`): how the instance
//! is launched, reached and stopped: `user_data(_file)`, `ssh_interface`,
//! `shutdown_behavior`, `disable_stop_instance`, `ebs_optimized`,
//! `enable_t2_unlimited`, `tenancy`, the run tag maps' template syntax,
//! and `ssh_keypair_name`'s need for a private key. Pure (it only checks
//! that `user_data_file` exists); holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_cloud::config::check_keypair_name;
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;
use serde::Deserialize;

use super::nonempty;
use super::raw::check_tags;
use super::ssh_interface::{self, SshInterface};

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<String>,
    pub(super) ssh_interface: Option<String>,
    pub(super) shutdown_behavior: Option<String>,
    pub(super) disable_stop_instance: bool,
    pub(super) ebs_optimized: bool,
    pub(super) enable_t2_unlimited: bool,
    pub(super) ssh_keypair_name: Option<String>,
    pub(super) tenancy: Option<String>,
    pub(super) run_tags: BTreeMap<String, String>,
    pub(super) run_volume_tags: BTreeMap<String, String>,
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
    pub(super) stop_instance: StopInstance,
}

/// Validates the run keys; `instance_profile` says whether the instance
/// gets one (`session_manager` needs it), `communicator` is the decoded
/// communicator (`ssh_keypair_name` needs its private key).
pub(super) fn prepare(
    r: &RawRun,
    instance_profile: bool,
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
    let ssh_interface = ssh_interface::parse(r.ssh_interface.as_deref(), instance_profile, errors);
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
    if let Some(t) = nonempty(r.tenancy.clone()) {
        if !["default", "dedicated", "host"].contains(&t.as_str()) {
            errors.push(ConfigError::at(
                "tenancy",
                format!("`tenancy` must be `default`, `dedicated` or `host`, found `{t}`"),
            ));
        }
    }
    let keypair = nonempty(r.ssh_keypair_name.clone());
    check_keypair_name(keypair.as_deref(), communicator, errors);

    check_tags("run_tags", &r.run_tags, errors);
    check_tags("run_volume_tags", &r.run_volume_tags, errors);
    Run {
        user_data_file,
        ssh_interface,
        shutdown_behavior,
        stop_instance: if r.disable_stop_instance {
            StopInstance::ByProvisioner
        } else {
            StopInstance::Api
        },
    }
}
