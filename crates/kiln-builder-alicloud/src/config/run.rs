//! The run section (the rest of Packer's `RunConfig`): how the instance
//! is launched and stopped: `user_data(_file)`, `disable_stop_instance`,
//! `force_stop_instance`, `run_tags`, `wait_snapshot_ready_timeout` and
//! `ssh_keypair_name`'s need for a private key. Pure (it only checks that
//! `user_data_file` exists); holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln_cloud::config::check_keypair_name;
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;
use serde::Deserialize;

use super::checks::check_tag_keys;
use super::nonempty;

/// Packer's `ALICLOUD_DEFAULT_LONG_TIMEOUT`: the snapshot wait when
/// `wait_snapshot_ready_timeout` is unset or not positive.
pub const DEFAULT_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<String>,
    pub(super) disable_stop_instance: bool,
    pub(super) force_stop_instance: bool,
    pub(super) run_tags: BTreeMap<String, String>,
    pub(super) wait_snapshot_ready_timeout: Option<i64>,
    pub(super) ssh_keypair_name: Option<String>,
}

/// Whether and how the instance is stopped before the image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopInstance {
    /// Stopped through the API (`force_stop_instance`: forced).
    Api {
        /// `force_stop_instance`.
        force: bool,
    },
    /// `disable_stop_instance`: a provisioner stops it; only wait.
    ByProvisioner,
}

/// The run keys, validated.
pub(super) struct Run {
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<PathBuf>,
    pub(super) stop_instance: StopInstance,
    pub(super) wait_snapshot_ready_timeout: Duration,
    pub(super) ssh_keypair_name: Option<String>,
}

/// Validates the run keys; `communicator` is the decoded communicator
/// (`ssh_keypair_name` needs its private key).
pub(super) fn prepare(
    r: &RawRun,
    communicator: &CommunicatorConfig,
    errors: &mut ConfigErrors,
) -> Run {
    let user_data = nonempty(r.user_data.clone());
    let mut user_data_file = nonempty(r.user_data_file.clone()).map(PathBuf::from);
    if user_data.is_some() && user_data_file.is_some() {
        errors.push(ConfigError::at(
            "user_data_file",
            "only one of `user_data` and `user_data_file` may be given",
        ));
        user_data_file = None;
    }
    if let Some(f) = &user_data_file {
        if !f.is_file() {
            errors.push(ConfigError::at(
                "user_data_file",
                format!("user data file `{}` does not exist", f.display()),
            ));
        }
    }
    let ssh_keypair_name = nonempty(r.ssh_keypair_name.clone());
    check_keypair_name(ssh_keypair_name.as_deref(), communicator, errors);
    check_tag_keys("run_tags", &r.run_tags, errors);

    Run {
        user_data,
        user_data_file,
        stop_instance: if r.disable_stop_instance {
            StopInstance::ByProvisioner
        } else {
            StopInstance::Api {
                force: r.force_stop_instance,
            }
        },
        // Packer's `getSnapshotReadyTimeout`: seconds, when positive.
        wait_snapshot_ready_timeout: match r.wait_snapshot_ready_timeout {
            Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
            _ => DEFAULT_SNAPSHOT_TIMEOUT,
        },
        ssh_keypair_name,
    }
}
