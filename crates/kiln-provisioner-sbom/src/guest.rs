//! Reading a machine's [`Inventory`] through the build's communicator:
//! its os-release file, which package databases it has, then each of
//! them, every command's output captured (not shown). Runs only read-only
//! commands and leaves nothing on the machine.

use std::sync::Mutex;

use kiln_sdk::communicator::{CommandOutput, Communicator, ExitStatus, RemoteCommand};
use kiln_sdk::component::BuildError;

use crate::inventory::{self, Inventory, Manager, ParseError};

/// Prints the os-release file (the second place when the first is
/// missing); fails when there is none.
pub const OS_RELEASE_COMMAND: &str = "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release";

/// Prints one word per package database found: `dpkg-query` (the tool),
/// `dpkg-status` (dpkg's database file, read when the tool is missing),
/// `rpm` (the tool and its database directory: BusyBox has an `rpm` applet
/// that only reads package files) and `apk` (apk's installed database).
pub const PROBE_COMMAND: &str = "command -v dpkg-query >/dev/null 2>&1 && echo dpkg-query; \
command -v rpm >/dev/null 2>&1 && { [ -d /var/lib/rpm ] || [ -d /usr/lib/sysimage/rpm ]; } && echo rpm; \
[ -f /var/lib/dpkg/status ] && echo dpkg-status; [ -f /lib/apk/db/installed ] && echo apk; true";

/// The command that lists dpkg's packages.
pub fn dpkg_query_command() -> String {
    format!("dpkg-query -W -f='{}'", inventory::DPKG_QUERY_FORMAT)
}

/// The command that lists rpm's packages.
pub fn rpm_command() -> String {
    format!("rpm -qa --queryformat '{}'", inventory::RPM_QUERY_FORMAT)
}

/// Prints dpkg's database file.
pub const DPKG_STATUS_COMMAND: &str = "cat /var/lib/dpkg/status";

/// Prints apk's installed database.
pub const APK_COMMAND: &str = "cat /lib/apk/db/installed";

/// What a command printed and how it ended.
struct Captured {
    status: ExitStatus,
    stdout: String,
    stderr: Vec<String>,
}

/// Runs `command` with its output collected.
async fn capture(comm: &dyn Communicator, command: &str) -> Result<Captured, BuildError> {
    let stdout = Mutex::new(String::new());
    let stderr = Mutex::new(Vec::new());
    let out = |l: &str| {
        let mut s = stdout.lock().unwrap_or_else(|e| e.into_inner());
        s.push_str(l);
        s.push('\n');
    };
    let err = |l: &str| {
        stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(l.to_string());
    };
    let status = comm
        .start(
            &RemoteCommand {
                command: command.to_string(),
            },
            CommandOutput {
                stdout: &out,
                stderr: &err,
            },
        )
        .await
        .map_err(|e| BuildError::msg(format!("cannot read the machine's packages: {e}")))?;
    Ok(Captured {
        status,
        stdout: stdout.into_inner().unwrap_or_else(|e| e.into_inner()),
        stderr: stderr.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// Runs `command` (`what` in messages) and returns its stdout; an exit
/// status other than 0 is an error with its stderr.
async fn output_of(
    comm: &dyn Communicator,
    command: &str,
    what: &str,
) -> Result<String, BuildError> {
    let c = capture(comm, command).await?;
    if c.status == ExitStatus::Code(0) {
        return Ok(c.stdout);
    }
    let mut message = format!("`{what}` failed on the machine ({})", c.status);
    if !c.stderr.is_empty() {
        message.push_str(": ");
        message.push_str(&c.stderr.join("\n"));
    }
    Err(BuildError::msg(message))
}

fn parsed(
    r: Result<Vec<inventory::Package>, ParseError>,
) -> Result<Vec<inventory::Package>, BuildError> {
    r.map_err(|e| BuildError::msg(format!("cannot read the machine's packages: {e}")))
}

/// The message when a machine has none of the package databases.
pub const NO_DATABASE: &str =
    "no package database found on the machine: the `sbom` provisioner reads dpkg's \
(`dpkg-query` or /var/lib/dpkg/status), rpm's (`rpm`) and apk's (/lib/apk/db/installed)";

/// Reads the machine's OS and packages.
pub async fn read(comm: &dyn Communicator) -> Result<Inventory, BuildError> {
    let os = capture(comm, OS_RELEASE_COMMAND).await?;
    let os = if os.status == ExitStatus::Code(0) {
        inventory::parse_os_release(&os.stdout)
    } else {
        None
    };
    let probe = output_of(comm, PROBE_COMMAND, "probe for package databases").await?;
    let found: Vec<&str> = probe.split_whitespace().collect();
    let has = |w: &str| found.contains(&w);
    let mut managers = Vec::new();
    let mut packages = Vec::new();
    if has("dpkg-query") {
        let out = output_of(comm, &dpkg_query_command(), "dpkg-query -W").await?;
        packages.extend(parsed(inventory::parse_dpkg_query(&out))?);
        managers.push(Manager::Dpkg);
    } else if has("dpkg-status") {
        let out = output_of(comm, DPKG_STATUS_COMMAND, DPKG_STATUS_COMMAND).await?;
        packages.extend(parsed(inventory::parse_dpkg_status(&out))?);
        managers.push(Manager::Dpkg);
    }
    if has("rpm") {
        let out = output_of(comm, &rpm_command(), "rpm -qa").await?;
        let found = parsed(inventory::parse_rpm(&out))?;
        // An `rpm` tool with an empty database beside another package
        // manager (Debian's `rpm` package) is no database of the machine.
        if !found.is_empty() || managers.is_empty() {
            managers.push(Manager::Rpm);
        }
        packages.extend(found);
    }
    if has("apk") {
        let out = output_of(comm, APK_COMMAND, APK_COMMAND).await?;
        packages.extend(parsed(inventory::parse_apk(&out))?);
        managers.push(Manager::Apk);
    }
    if managers.is_empty() {
        return Err(BuildError::msg(NO_DATABASE));
    }
    Ok(Inventory::new(os, managers, packages))
}
