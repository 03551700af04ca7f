//! The shutdown section: `shutdown_command` (which needs a communicator),
//! `shutdown_timeout` (5m), and the QMP monitor a template may ask for
//! (`qmp_enable`, `qmp_socket_path`, by default
//! `OUTPUT_DIRECTORY/VM_NAME.monitor`), through which kiln also stops the
//! VM. Pure; holds nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;

use super::check::opt;
use super::raw::Fields;

/// How the VM is stopped, and where its monitor is.
pub(super) struct Shutdown {
    pub(super) command: Option<String>,
    pub(super) timeout: Duration,
    pub(super) qmp_socket_path: Option<PathBuf>,
}

/// Validates the shutdown and monitor keys; the default socket is in
/// `output_directory`, named after `vm_name`.
pub(super) fn prepare(
    f: &Fields,
    communicator: &CommunicatorConfig,
    (output_directory, vm_name): (&Path, &str),
    errors: &mut ConfigErrors,
) -> Shutdown {
    let timeout = errors.duration(
        "shutdown_timeout",
        &f.shutdown_timeout,
        Duration::from_secs(300),
    );
    let command = opt(&f.shutdown_command);
    if command.is_some() && matches!(communicator, CommunicatorConfig::None) {
        errors.push(ConfigError::at(
            "shutdown_command",
            "`shutdown_command` needs a communicator, but `communicator` is `none`",
        ));
    }
    if !f.qmp_socket_path.is_empty() && !f.qmp_enable {
        errors.push(ConfigError::at(
            "qmp_socket_path",
            "`qmp_socket_path` needs `qmp_enable: true`",
        ));
    }
    let qmp_socket_path = f.qmp_enable.then(|| {
        if f.qmp_socket_path.is_empty() {
            output_directory.join(format!("{vm_name}.monitor"))
        } else {
            PathBuf::from(&f.qmp_socket_path)
        }
    });
    Shutdown {
        command,
        timeout,
        qmp_socket_path,
    }
}
