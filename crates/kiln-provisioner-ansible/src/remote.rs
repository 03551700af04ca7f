//! The bridge between the SSH proxy's tasks and the build's communicator.
//! The proxy serves each SSH connection in a task of its own, but the
//! communicator is only lent to the provisioner for the length of
//! `provision`. So the proxy never holds it: it sends [`Job`]s through a
//! [`Remote`] handle, and [`Executor::run`], polled by `provision` itself
//! beside `ansible-playbook`, carries them out with the borrowed
//! communicator, several at once. Holds no resources: a job's temporary
//! files belong to whoever sent it.

use std::path::PathBuf;

use futures_util::stream::{FuturesUnordered, StreamExt};
use kiln_sdk::communicator::{CommandOutput, Communicator, ExitStatus, FileMeta, RemoteCommand};
use kiln_sdk::Ui;
use tokio::sync::{mpsc, oneshot};

/// One line of a remote command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// A stdout line, without its newline.
    Out(String),
    /// A stderr line, without its newline.
    Err(String),
}

/// Work for the communicator.
pub(crate) enum Job {
    /// Runs a command, sending its output line by line.
    Run {
        command: String,
        lines: mpsc::UnboundedSender<Line>,
        done: oneshot::Sender<Result<ExitStatus, String>>,
    },
    /// Uploads the local file `file` to `destination`.
    Upload {
        destination: String,
        file: PathBuf,
        meta: FileMeta,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Downloads `source` into the local file `file`.
    Download {
        source: String,
        file: PathBuf,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// A problem of the proxy's own, for the build's UI.
    Warn(String),
}

/// The proxy's way to the machine; cheap to clone.
#[derive(Clone)]
pub(crate) struct Remote {
    tx: mpsc::UnboundedSender<Job>,
}

const GONE: &str = "the provisioner has finished, so the machine cannot be reached";

impl Remote {
    /// A handle and the receiving end for [`Executor`].
    pub(crate) fn channel() -> (Remote, mpsc::UnboundedReceiver<Job>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Remote { tx }, rx)
    }

    /// Runs `command`, handing each output line to `on_line` as it comes.
    pub(crate) async fn run(
        &self,
        command: &str,
        mut on_line: impl AsyncLineSink,
    ) -> Result<ExitStatus, String> {
        let (lines, mut lines_rx) = mpsc::unbounded_channel();
        let (done, done_rx) = oneshot::channel();
        self.tx
            .send(Job::Run {
                command: command.to_string(),
                lines,
                done,
            })
            .map_err(|_| GONE.to_string())?;
        // The job drops its sender when it ends, so this drains everything.
        while let Some(line) = lines_rx.recv().await {
            on_line.line(line).await;
        }
        done_rx.await.map_err(|_| GONE.to_string())?
    }

    /// Runs `command` and returns its stdout lines, failing on a non-zero
    /// exit with its stderr.
    pub(crate) async fn output(&self, command: &str) -> Result<Vec<String>, String> {
        let mut out = Collect::default();
        let status = self.run(command, &mut out).await?;
        match status {
            ExitStatus::Code(0) => Ok(out.stdout),
            s => Err(if out.stderr.is_empty() {
                format!("`{command}` ended with {s}")
            } else {
                out.stderr.join("\n")
            }),
        }
    }

    /// Uploads the local `file` to `destination`.
    pub(crate) async fn upload(
        &self,
        destination: &str,
        file: PathBuf,
        meta: FileMeta,
    ) -> Result<(), String> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job::Upload {
                destination: destination.to_string(),
                file,
                meta,
                done,
            })
            .map_err(|_| GONE.to_string())?;
        rx.await.map_err(|_| GONE.to_string())?
    }

    /// Downloads `source` into the local `file`.
    pub(crate) async fn download(&self, source: &str, file: PathBuf) -> Result<(), String> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job::Download {
                source: source.to_string(),
                file,
                done,
            })
            .map_err(|_| GONE.to_string())?;
        rx.await.map_err(|_| GONE.to_string())?
    }

    /// Reports a problem of the proxy's own on the build's UI.
    pub(crate) fn warn(&self, message: String) {
        let _ = self.tx.send(Job::Warn(message));
    }
}

/// Where [`Remote::run`] sends output lines.
pub(crate) trait AsyncLineSink: Send {
    /// Takes one line.
    fn line(&mut self, line: Line) -> impl std::future::Future<Output = ()> + Send;
}

/// Keeps every line.
#[derive(Default)]
pub(crate) struct Collect {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl AsyncLineSink for &mut Collect {
    async fn line(&mut self, line: Line) {
        match line {
            Line::Out(l) => self.stdout.push(l),
            Line::Err(l) => self.stderr.push(l),
        }
    }
}

/// Carries out [`Job`]s with the borrowed communicator.
pub(crate) struct Executor<'a> {
    pub comm: &'a dyn Communicator,
    pub ui: &'a dyn Ui,
}

impl Executor<'_> {
    /// Serves jobs until every [`Remote`] is gone. Poll it beside the work
    /// that needs it and drop it when that work is done: jobs still running
    /// are then abandoned.
    pub(crate) async fn run(&self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut running = FuturesUnordered::new();
        let mut open = true;
        while open || !running.is_empty() {
            tokio::select! {
                job = rx.recv(), if open => match job {
                    Some(job) => running.push(self.execute(job)),
                    None => open = false,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
            }
        }
    }

    async fn execute(&self, job: Job) {
        match job {
            Job::Run {
                command,
                lines,
                done,
            } => {
                let out_tx = lines.clone();
                let out = move |l: &str| {
                    let _ = out_tx.send(Line::Out(l.to_string()));
                };
                let err = move |l: &str| {
                    let _ = lines.send(Line::Err(l.to_string()));
                };
                let r = self
                    .comm
                    .start(
                        &RemoteCommand { command },
                        CommandOutput {
                            stdout: &out,
                            stderr: &err,
                        },
                    )
                    .await
                    .map_err(|e| e.to_string());
                let _ = done.send(r);
            }
            Job::Upload {
                destination,
                file,
                meta,
                done,
            } => {
                let r = async {
                    let mut f = tokio::fs::File::open(&file)
                        .await
                        .map_err(|e| format!("cannot open `{}`: {e}", file.display()))?;
                    self.comm
                        .upload(&destination, &mut f, meta)
                        .await
                        .map_err(|e| format!("cannot upload `{destination}`: {e}"))
                }
                .await;
                let _ = done.send(r);
            }
            Job::Download { source, file, done } => {
                let r = async {
                    let mut f = tokio::fs::File::create(&file)
                        .await
                        .map_err(|e| format!("cannot create `{}`: {e}", file.display()))?;
                    self.comm
                        .download(&source, &mut f)
                        .await
                        .map_err(|e| format!("cannot download `{source}`: {e}"))?;
                    use tokio::io::AsyncWriteExt;
                    f.flush()
                        .await
                        .map_err(|e| format!("cannot write `{}`: {e}", file.display()))
                }
                .await;
                let _ = done.send(r);
            }
            Job::Warn(m) => self.ui.error(&m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::LocalComm;
    use kiln_sdk::ui::RecordingUi;

    #[tokio::test]
    async fn jobs_run_on_the_borrowed_communicator_while_their_senders_wait() {
        let ui = RecordingUi::default();
        let comm = LocalComm;
        let (remote, rx) = Remote::channel();
        let exec = Executor {
            comm: &comm,
            ui: &ui,
        };
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"payload").unwrap();
        let dst = dir.path().join("dst").display().to_string();
        let back = dir.path().join("back");
        let work = async {
            let out = remote
                .output("echo one; echo two >&2; echo three")
                .await
                .unwrap();
            assert_eq!(out, ["one", "three"]);
            let e = remote.output("echo bad >&2; exit 3").await.unwrap_err();
            assert_eq!(e, "bad");
            remote
                .upload(&dst, src.clone(), FileMeta::default())
                .await
                .unwrap();
            remote.download(&dst, back.clone()).await.unwrap();
            let missing = remote
                .download("/nonexistent/kiln", dir.path().join("missing"))
                .await
                .unwrap_err();
            assert!(
                missing.contains("cannot download `/nonexistent/kiln`"),
                "{missing}"
            );
            remote.warn("a warning".into());
            drop(remote);
        };
        tokio::join!(work, exec.run(rx));
        assert_eq!(std::fs::read(&back).unwrap(), b"payload");
        let text = ui.lines().join("\n");
        assert!(text.contains("a warning"), "{text}");
    }
}
