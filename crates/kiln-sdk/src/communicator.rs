//! The communicator contract: how provisioners reach the machine being
//! built (SSH, docker exec, or none). Implementations stream; they never
//! hold a whole file in memory. Holds no resources itself; each
//! implementation documents what its connection owns and how it is closed.

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

/// A command to run on the machine.
#[derive(Debug, Clone)]
pub struct RemoteCommand {
    /// The shell command line.
    pub command: String,
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal (number, when the name is a standard
    /// one; see [`ExitStatus::RemoteSignal`] for names only).
    Signal(i32),
    /// It was killed by a signal the remote side named (SSH reports names
    /// such as `TERM`, not numbers).
    RemoteSignal(String),
    /// The connection dropped before the command reported how it ended
    /// (a reboot, a restarted sshd). Packer calls this exit status 2300218.
    Disconnected,
}

impl ExitStatus {
    /// Packer's number for [`ExitStatus::Disconnected`]
    /// (`packer.CmdDisconnect`), accepted in `valid_exit_codes`.
    pub const DISCONNECT_CODE: i32 = 2_300_218;

    /// The exit code as Packer reports it: the code itself, `-1` for a
    /// signal, 2300218 for a dropped connection.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Code(c) => *c,
            ExitStatus::Signal(_) | ExitStatus::RemoteSignal(_) => -1,
            ExitStatus::Disconnected => Self::DISCONNECT_CODE,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(n) => write!(f, "killed by signal {n}"),
            ExitStatus::RemoteSignal(name) => write!(f, "killed by signal SIG{name}"),
            ExitStatus::Disconnected => {
                f.write_str("the connection dropped before the command finished")
            }
        }
    }
}

/// What an upload keeps of the local file. Every field is optional: a
/// stream of generated content has no mode or mtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission bits (`0o644`).
    pub mode: Option<u32>,
    /// Modification time to set on the remote file.
    pub mtime: Option<SystemTime>,
    /// The size in bytes, when known up front (SCP needs it; without it the
    /// implementation spools to a temporary file).
    pub size: Option<u64>,
}

impl FileMeta {
    /// Mode, mtime and size of a local file's metadata.
    pub fn from_metadata(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::PermissionsExt;
        FileMeta {
            mode: Some(m.permissions().mode() & 0o7777),
            mtime: m.modified().ok(),
            size: Some(m.len()),
        }
    }
}

/// Where a remote command's output goes: one callback per line.
pub struct CommandOutput<'a> {
    /// Called with each stdout line.
    pub stdout: &'a (dyn Fn(&str) + Send + Sync),
    /// Called with each stderr line.
    pub stderr: &'a (dyn Fn(&str) + Send + Sync),
}

/// Errors from a communicator.
#[derive(Debug, thiserror::Error)]
pub enum CommunicatorError {
    /// The build has no communicator (`communicator: none`).
    #[error("this build has no communicator (`communicator` is `none`), so `{0}` cannot run on the machine")]
    None(String),
    /// The operation failed.
    #[error("{0}")]
    Failed(String),
}

/// A way to run commands and move files on the machine being built.
#[async_trait]
pub trait Communicator: Send + Sync {
    /// Runs a command, streaming its output, and returns how it ended.
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError>;
    /// Whether [`Communicator::start`] always hands the command line to a
    /// POSIX `sh` (docker exec runs `/bin/sh -c`), so a caller may wrap it
    /// in shell syntax of its own, for example to remove a script in the
    /// same call instead of a second one. False by default: over SSH the
    /// command goes to the user's login shell, which may be anything.
    fn runs_posix_sh(&self) -> bool {
        false
    }
    /// Streams `source` to the remote file `destination`, keeping what
    /// `meta` knows (mode, mtime).
    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError>;
    /// Uploads a local directory with Packer's trailing-slash rules: with a
    /// trailing slash on `source`, its contents go into `destination`;
    /// without, the directory itself goes into `destination`. `exclude`
    /// holds glob patterns matched against paths relative to `source`.
    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError>;
    /// Streams the remote file `source` into `destination`.
    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError>;
    /// Downloads the contents of a remote directory into `destination`.
    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError>;
}

/// The communicator of builds whose `communicator` is `none`: every call
/// fails with a clear error. Local provisioners (`shell-local`) never use it.
pub struct NoCommunicator;

#[async_trait]
impl Communicator for NoCommunicator {
    async fn start(
        &self,
        command: &RemoteCommand,
        _: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        Err(CommunicatorError::None(command.command.clone()))
    }
    async fn upload(
        &self,
        d: &str,
        _: &mut (dyn AsyncRead + Send + Unpin),
        _: FileMeta,
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::None(format!("upload to {d}")))
    }
    async fn upload_dir(&self, d: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::None(format!("upload to {d}")))
    }
    async fn download(
        &self,
        s: &str,
        _: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::None(format!("download of {s}")))
    }
    async fn download_dir(&self, s: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::None(format!("download of {s}")))
    }
}

/// Copies a stream of unknown length into an anonymous temporary file (on
/// disk, never in memory) and returns it rewound, with its length. For
/// transfers whose protocol needs the size up front (SCP, tar headers).
pub async fn spool_to_temp_file(
    source: &mut (dyn AsyncRead + Send + Unpin),
) -> std::io::Result<(tokio::fs::File, u64)> {
    use tokio::io::AsyncSeekExt;
    let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
    let size = tokio::io::copy(source, &mut file).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_packer() {
        assert_eq!(ExitStatus::Code(3).code(), 3);
        assert_eq!(ExitStatus::RemoteSignal("TERM".into()).code(), -1);
        assert_eq!(ExitStatus::Disconnected.code(), 2_300_218);
        assert_eq!(
            ExitStatus::RemoteSignal("KILL".into()).to_string(),
            "killed by signal SIGKILL"
        );
    }

    #[tokio::test]
    async fn no_communicator_fails_clearly() {
        let out = CommandOutput {
            stdout: &|_| {},
            stderr: &|_| {},
        };
        let cmd = RemoteCommand {
            command: "uptime".into(),
        };
        let e = NoCommunicator.start(&cmd, out).await.unwrap_err();
        assert!(e.to_string().contains("`uptime`"), "{e}");
        let e = NoCommunicator
            .upload("/x", &mut tokio::io::empty(), FileMeta::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("upload to /x"), "{e}");
    }
}
