//! Runs one local command in a process group of its own, streaming each
//! stdout line to [`Ui::message`] and each stderr line to [`Ui::error`] as
//! it arrives (Packer shows stderr the same way).
//!
//! Cleanup: on cancellation the whole group (the command and everything it
//! started) gets SIGTERM, then SIGKILL once the grace period has passed. If
//! the run is dropped midway (its task aborted), a guard SIGKILLs the group
//! so nothing outlives it.

use std::process::Stdio;
use std::time::Duration;

use kiln_sdk::Ui;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// How long to keep reading after SIGKILL before giving up on output held
/// open by a process that left the group (`setsid`).
const ABANDON_AFTER_KILL: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// It exited with this code; a death by signal is `-1`, as Go reports it.
    Exited(i32),
    /// The run was cancelled and the process group was killed.
    Cancelled,
}

/// What to run and how.
pub struct Spawn<'a> {
    /// Program and arguments; never empty.
    pub argv: &'a [String],
    /// Variables added to the inherited environment.
    pub env: &'a [(String, String)],
    /// SIGTERM-to-SIGKILL grace period on cancellation.
    pub kill_grace: Duration,
}

/// SIGKILLs a process group when dropped while armed.
struct GroupGuard {
    pgid: Pid,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, Signal::SIGKILL);
        }
    }
}

/// Sends `signal` to the group; a group that is already gone is fine.
fn signal_group(pgid: Pid, signal: Signal) {
    let _ = killpg(pgid, signal);
}

/// Runs the command to completion (or cancellation), streaming its output.
/// Fails only when the command cannot be started or waited for.
pub async fn run(
    spawn: Spawn<'_>,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) -> std::io::Result<Finished> {
    let (program, args) = spawn
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("the command is empty"))?;
    let mut child = {
        let _spawning = kiln_sdk::process::spawning();
        Command::new(program)
            .args(args)
            .envs(spawn.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?
    };
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the child exited before its id was read"))?;
    let pgid = Pid::from_raw(i32::try_from(pid).map_err(std::io::Error::other)?);
    let mut guard = GroupGuard { pgid, armed: true };

    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("stdout is not piped"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| std::io::Error::other("stderr is not piped"))?;
    let pump = pump_lines(stdout, stderr, ui);
    tokio::pin!(pump);
    let wait = child.wait();
    tokio::pin!(wait);

    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let escalate = sleep_until(far);
    tokio::pin!(escalate);
    let abandon = sleep_until(far);
    tokio::pin!(abandon);

    let mut status = None;
    let mut pumped = false;
    let mut cancelled = false;
    let mut killed = false;
    while status.is_none() || !pumped {
        tokio::select! {
            biased;
            s = &mut wait, if status.is_none() => status = Some(s?),
            () = &mut pump, if !pumped => pumped = true,
            () = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                signal_group(pgid, Signal::SIGTERM);
                escalate.as_mut().reset(Instant::now() + spawn.kill_grace);
            }
            () = &mut escalate, if cancelled && !killed => {
                killed = true;
                signal_group(pgid, Signal::SIGKILL);
                abandon.as_mut().reset(Instant::now() + ABANDON_AFTER_KILL);
            }
            () = &mut abandon, if killed => break,
        }
    }

    if cancelled {
        // Anything left of the group after SIGTERM (a background job that
        // closed its output) goes now.
        if !killed {
            signal_group(pgid, Signal::SIGKILL);
        }
        // Keep the guard armed only if something may still hold the output.
        guard.armed = !(status.is_some() && pumped);
        return Ok(Finished::Cancelled);
    }
    guard.armed = false;
    let status = status.ok_or_else(|| std::io::Error::other("the command did not finish"))?;
    Ok(Finished::Exited(status.code().unwrap_or(-1)))
}

/// Forwards both streams line by line until both are closed. Trailing
/// whitespace is dropped, as Packer does; invalid UTF-8 is replaced.
async fn pump_lines(stdout: impl AsyncRead + Unpin, stderr: impl AsyncRead + Unpin, ui: &dyn Ui) {
    let mut out = BufReader::new(stdout);
    let mut err = BufReader::new(stderr);
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let emit = |buf: &mut Vec<u8>, is_err: bool| {
        let text = String::from_utf8_lossy(buf);
        let line = text.trim_end();
        if is_err {
            ui.error(line);
        } else {
            ui.message(line);
        }
        buf.clear();
    };
    while out_open || err_open {
        // `read_until` keeps partial data in the buffer when the other
        // branch wins, so no output is lost.
        tokio::select! {
            r = out.read_until(b'\n', &mut out_buf), if out_open => match r {
                Ok(n) if n > 0 => emit(&mut out_buf, false),
                _ => {
                    if !out_buf.is_empty() {
                        emit(&mut out_buf, false);
                    }
                    out_open = false;
                }
            },
            r = err.read_until(b'\n', &mut err_buf), if err_open => match r {
                Ok(n) if n > 0 => emit(&mut err_buf, true),
                _ => {
                    if !err_buf.is_empty() {
                        emit(&mut err_buf, true);
                    }
                    err_open = false;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sdk::ui::RecordingUi;

    fn argv(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    async fn run_sh(script: &str, ui: &RecordingUi, cancel: &CancellationToken) -> Finished {
        let argv = argv(script);
        run(
            Spawn {
                argv: &argv,
                env: &[("KILN_TEST_VAR".into(), "it works".into())],
                kill_grace: Duration::from_millis(300),
            },
            ui,
            cancel,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn streams_stdout_and_stderr_lines() {
        let ui = RecordingUi::default();
        let r = run_sh(
            "echo one; echo two >&2; printf 'tab\\t\\n\\n  lead\\n'; echo \"$KILN_TEST_VAR\"; printf 'no newline'; exit 7",
            &ui,
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(r, Finished::Exited(7));
        let lines = ui.lines();
        for want in [
            "message: one",
            "error: two",
            "message: tab",
            "message: ",
            "message:   lead",
            "message: it works",
            "message: no newline",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "missing {want:?} in {lines:?}"
            );
        }
        let pos = |s: &str| lines.iter().position(|l| l == s).unwrap();
        assert!(pos("message: one") < pos("message: tab"));
        assert!(pos("message: tab") < pos("message: no newline"));
    }

    #[tokio::test]
    async fn death_by_signal_is_minus_one() {
        let ui = RecordingUi::default();
        let r = run_sh("kill -9 $$", &ui, &CancellationToken::new()).await;
        assert_eq!(r, Finished::Exited(-1));
    }

    #[tokio::test]
    async fn missing_program_is_an_error() {
        let ui = RecordingUi::default();
        let argv = vec!["/nonexistent/kiln-test-program".to_string()];
        let err = run(
            Spawn {
                argv: &argv,
                env: &[],
                kill_grace: Duration::from_secs(1),
            },
            &ui,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn cancellation_escalates_to_sigkill() {
        // The shell and its `sleep` both ignore SIGTERM.
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.cancel();
        });
        let started = std::time::Instant::now();
        let r = run_sh(
            "trap '' TERM; echo ready; sleep 100; echo never",
            &ui,
            &cancel,
        )
        .await;
        assert_eq!(r, Finished::Cancelled);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(!ui.lines().iter().any(|l| l.contains("never")));
    }
}
