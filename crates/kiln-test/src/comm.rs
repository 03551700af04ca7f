//! Running commands through a communicator in tests, with the output
//! collected: [`run_cmd`] for `start`, [`preload_cmd`] for
//! `upload_and_start`. Shared by the SSH communicator's tests against a
//! real sshd and the docker builder's tests against a container. They
//! store nothing beyond the lines they return.

use std::sync::Mutex;

use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, Preload, RemoteCommand,
};

/// What a command did: its exit status (or result), stdout lines and
/// stderr lines.
pub type Output<S> = (S, Vec<String>, Vec<String>);

/// Runs `cmd` with `start`; panics when it cannot be started.
pub async fn run_cmd(c: &dyn Communicator, cmd: &str) -> Output<ExitStatus> {
    let lines = Lines::default();
    let (o, e) = (|l: &str| lines.out(l), |l: &str| lines.err(l));
    let command = RemoteCommand {
        command: cmd.into(),
    };
    let status = c
        .start(
            &command,
            CommandOutput {
                stdout: &o,
                stderr: &e,
            },
        )
        .await
        .unwrap_or_else(|err| panic!("start `{cmd}`: {err}"));
    lines.with(status)
}

/// Uploads `content` to `dest` (mode 0755) and runs `cmd` in one go with
/// `upload_and_start`; the result comes back as it was.
pub async fn preload_cmd(
    c: &dyn Communicator,
    dest: &str,
    content: &[u8],
    cmd: &str,
) -> Output<Result<ExitStatus, CommunicatorError>> {
    let lines = Lines::default();
    let (o, e) = (|l: &str| lines.out(l), |l: &str| lines.err(l));
    let preload = Preload {
        destination: dest,
        content,
        mode: 0o755,
    };
    let command = RemoteCommand {
        command: cmd.into(),
    };
    let r = c
        .upload_and_start(
            preload,
            &command,
            CommandOutput {
                stdout: &o,
                stderr: &e,
            },
        )
        .await;
    lines.with(r)
}

/// The lines a command printed so far.
#[derive(Default)]
struct Lines {
    out: Mutex<Vec<String>>,
    err: Mutex<Vec<String>>,
}

impl Lines {
    fn out(&self, l: &str) {
        self.out.lock().unwrap().push(l.to_string());
    }

    fn err(&self, l: &str) {
        self.err.lock().unwrap().push(l.to_string());
    }

    fn with<S>(self, s: S) -> Output<S> {
        (
            s,
            self.out.into_inner().unwrap(),
            self.err.into_inner().unwrap(),
        )
    }
}
