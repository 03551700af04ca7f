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
    /// The file of [`Communicator::upload_and_start`] could not be
    /// written, so its command did not run.
    #[error("cannot write remote file `{path}`: {reason}")]
    Preload {
        /// The remote path.
        path: String,
        /// Why, as the remote side put it.
        reason: String,
    },
}

/// Runs `command` on the machine with each stdout line shown as a message
/// and each stderr line as an error (Packer's `RemoteCmd.RunWithUi`).
/// `Err` only when it could not run at all; how it ended is the `Ok`.
pub async fn run_with_ui(
    comm: &dyn Communicator,
    ui: &dyn crate::Ui,
    command: &str,
) -> Result<ExitStatus, CommunicatorError> {
    let out = |l: &str| ui.message(l);
    let err = |l: &str| ui.error(l);
    comm.start(
        &RemoteCommand {
            command: command.to_string(),
        },
        CommandOutput {
            stdout: &out,
            stderr: &err,
        },
    )
    .await
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
    /// POSIX `sh` (docker exec runs `/bin/sh -c`; kiln's SSH communicator
    /// requires the login shell to be one), so a caller may wrap it in
    /// shell syntax of its own, for example to remove a script in the same
    /// call instead of a second one. False by default: a plugin's
    /// communicator may run anything.
    fn runs_posix_sh(&self) -> bool {
        false
    }
    /// Writes `preload` (a small file: a script) and then runs `command`,
    /// in one round trip where the communicator can: the file goes to the
    /// command's stdin, which a POSIX `sh` wrapper writes out before it
    /// runs the command (see [`preload_command_line`]). The command's own
    /// stdin is then at its end, as it is after [`Communicator::start`].
    /// A failed write is an `Err` naming the file; the command is not run.
    /// The default uploads, then starts: two round trips.
    async fn upload_and_start(
        &self,
        preload: Preload<'_>,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        upload_then_start(self, preload, command, output).await
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

/// A small file written just before a command runs: see
/// [`Communicator::upload_and_start`].
#[derive(Debug, Clone, Copy)]
pub struct Preload<'a> {
    /// The remote path.
    pub destination: &'a str,
    /// The whole content (scripts are small; larger files go through
    /// [`Communicator::upload`], which streams).
    pub content: &'a [u8],
    /// The permission bits the file gets.
    pub mode: u32,
}

/// [`Communicator::upload_and_start`] in two calls: `upload`, then
/// `start`. For communicators that cannot send both at once (a pty, a
/// plugin's proxy).
pub async fn upload_then_start<C: Communicator + ?Sized>(
    comm: &C,
    preload: Preload<'_>,
    command: &RemoteCommand,
    output: CommandOutput<'_>,
) -> Result<ExitStatus, CommunicatorError> {
    let meta = FileMeta {
        mode: Some(preload.mode),
        mtime: None,
        size: Some(preload.content.len() as u64),
    };
    let mut content = preload.content;
    comm.upload(preload.destination, &mut content, meta).await?;
    comm.start(command, output).await
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The stderr line a [`preload_command_line`] prints, followed by the
/// shell's reason, when it cannot write the file.
const PRELOAD_FAILED: &str = "__kiln_preload_failed__";

/// How a [`preload_command_line`] knows where the file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreloadInput {
    /// The sender ends the input after the file (an SSH channel's EOF);
    /// the command then finds its stdin at its end.
    UntilEnd,
    /// The sender cannot end the input without ending the whole call (a
    /// docker exec behind a proxy that does not pass a half-close on), so
    /// exactly the file's length is read and the command's stdin is
    /// `/dev/null`.
    Exactly,
}

/// The POSIX `sh` line behind [`Communicator::upload_and_start`] for
/// communicators whose commands run under `sh`: it copies its stdin into
/// `preload.destination`, gives it `preload.mode`, then runs `command`.
/// When the file cannot be written it prints a marker and the shell's
/// reason on stderr and exits without running `command`;
/// [`PreloadWatch`] turns that line into the error.
pub fn preload_command_line(preload: &Preload<'_>, command: &str, input: PreloadInput) -> String {
    let p = shell_quote(preload.destination);
    let (read, command) = match input {
        PreloadInput::UntilEnd => ("cat".to_string(), command.to_string()),
        PreloadInput::Exactly => (
            format!("head -c {}", preload.content.len()),
            format!("({command}\n) < /dev/null"),
        ),
    };
    format!(
        "if __kiln_e=$({{ {read} > {p} && chmod {mode:o} {p}; }} 2>&1); then :; else \
         printf '%s %s\\n' {PRELOAD_FAILED} \"$(printf '%s' \"$__kiln_e\" | tr '\\n' ' ')\" >&2; exit 1; fi\n{command}",
        mode = preload.mode & 0o7777,
    )
}

/// Watches the stderr of a [`preload_command_line`] for its failure
/// marker: every other line goes on to the caller's sink.
#[derive(Debug, Default)]
pub struct PreloadWatch {
    failure: std::sync::Mutex<Option<String>>,
}

impl PreloadWatch {
    /// Passes `line` to `sink` unless it is the failure marker, which it
    /// keeps.
    pub fn stderr(&self, line: &str, sink: &(dyn Fn(&str) + Send + Sync)) {
        match line.strip_prefix(PRELOAD_FAILED) {
            Some(reason) => {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(reason.trim().to_string())
            }
            None => sink(line),
        }
    }

    /// The command's result, or the write failure the marker reported.
    pub fn finish(
        self,
        preload: &Preload<'_>,
        result: Result<ExitStatus, CommunicatorError>,
    ) -> Result<ExitStatus, CommunicatorError> {
        match self.failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(reason) => Err(CommunicatorError::Preload {
                path: preload.destination.to_string(),
                reason,
            }),
            None => result,
        }
    }
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

    /// Runs a preload line under the real `/bin/sh`, `content` on stdin,
    /// then ends stdin (`UntilEnd`) or keeps it open while the command
    /// runs (`Exactly`).
    fn run_preload(
        dest: &str,
        content: &[u8],
        command: &str,
        input: PreloadInput,
    ) -> (Option<i32>, String, String) {
        use std::io::Write;
        let line = preload_command_line(
            &Preload {
                destination: dest,
                content,
                mode: 0o755,
            },
            command,
            input,
        );
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(content).unwrap();
        // With `Exactly`, stdin stays open until the command has ended.
        let _open = match input {
            PreloadInput::UntilEnd => {
                drop(stdin);
                None
            }
            PreloadInput::Exactly => Some(stdin),
        };
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn a_preload_line_writes_the_file_then_runs_the_command() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("it's a script.sh");
        let dest = dest.to_str().unwrap();
        let body = b"#!/bin/sh\necho \"ran $1\"\nexit 3\n";
        for input in [PreloadInput::UntilEnd, PreloadInput::Exactly] {
            let _ = std::fs::remove_file(dest);
            // The command sees its stdin at the end, as after `start`
            // (a trailing comment must not swallow the redirection).
            let (code, stdout, stderr) = run_preload(
                dest,
                body,
                &format!("{} arg; s=$?; cat; exit $s # done", shell_quote(dest)),
                input,
            );
            assert_eq!(
                (code, stdout.as_str(), stderr.as_str()),
                (Some(3), "ran arg\n", ""),
                "{input:?}"
            );
            assert_eq!(std::fs::read(dest).unwrap(), body, "{input:?}");
            let mode = std::fs::metadata(dest).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o755, "{input:?}");
        }
    }

    #[test]
    fn a_preload_that_cannot_write_names_the_reason_and_skips_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("missing/dir/script.sh");
        let dest = dest.to_str().unwrap().to_string();
        let marker = dir.path().join("ran");
        let (code, _, stderr) = run_preload(
            &dest,
            b"echo hi\n",
            &format!("touch {}", shell_quote(marker.to_str().unwrap())),
            PreloadInput::UntilEnd,
        );
        assert_eq!(code, Some(1));
        assert!(!marker.exists(), "the command ran after a failed write");
        let watch = PreloadWatch::default();
        let passed = std::sync::Mutex::new(Vec::<String>::new());
        for l in stderr.lines() {
            watch.stderr(l, &|l: &str| passed.lock().unwrap().push(l.to_string()));
        }
        assert!(passed.into_inner().unwrap().is_empty(), "{stderr}");
        let preload = Preload {
            destination: &dest,
            content: b"",
            mode: 0o755,
        };
        let err = watch
            .finish(&preload, Ok(ExitStatus::Code(1)))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot write remote file `{dest}`: ")),
            "{err}"
        );
        assert!(
            err.contains("nonexistent") || err.contains("No such file"),
            "{err}"
        );
    }

    #[test]
    fn quotes_for_sh() {
        assert_eq!(shell_quote("/tmp/a.sh"), "/tmp/a.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

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
