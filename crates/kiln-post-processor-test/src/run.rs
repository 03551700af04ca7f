//! Runs the checks on a booted machine: the [`TestHook`] the builder fires
//! once its fresh machine is reachable runs each check over the
//! communicator it is handed, prints each result, and keeps the results.
//!
//! Each script (or the `inline` commands, as one script) is written to a
//! fresh path under `remote_folder` with the command that runs it (one
//! round trip), as the `shell` provisioner does, and removed afterwards:
//! by the same call where the communicator runs a POSIX `sh`, else by a
//! second `rm -f`. A check that outlives its timeout is abandoned (its
//! connection dropped); the machine goes away with the boot anyway.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::communicator::{
    shell_quote, CommandOutput, Communicator, CommunicatorError, ExitStatus, Preload, RemoteCommand,
};
use kiln_sdk::component::{BuildError, GeneratedData, Hook, HookEvent};
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use crate::config::{Check, Config, Source};

/// Lines of output kept per check (the last ones).
const MAX_LINES: usize = 2000;
/// Lines of output quoted in a failure message.
const QUOTED_LINES: usize = 20;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed: why, in words (`exited 3, expected 0`).
    Failed(String),
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// The command as written (inline lines or script paths).
    pub command: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The last exit code, when the command ended by itself.
    pub exit_code: Option<i32>,
    /// How long it took.
    pub duration: Duration,
    /// Its output, in order, with the stream of each line.
    pub output: Vec<(Stream, String)>,
}

impl CheckResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// The lines of one stream, joined.
    pub fn stream(&self, which: Stream) -> String {
        let lines: Vec<&str> = self
            .output
            .iter()
            .filter(|(s, _)| *s == which)
            .map(|(_, l)| l.as_str())
            .collect();
        lines.join("\n")
    }

    /// The failure as the build reports it: the check's name, command and
    /// the end of its output.
    pub fn failure_message(&self) -> Option<String> {
        let Outcome::Failed(why) = &self.outcome else {
            return None;
        };
        let mut m = format!(
            "image test `{}` failed: command `{}` {why}",
            self.name, self.command
        );
        let start = self.output.len().saturating_sub(QUOTED_LINES);
        if self.output.is_empty() {
            m.push_str("; it printed nothing");
        } else {
            m.push_str("; its output");
            if start > 0 {
                m.push_str(&format!(" (last {QUOTED_LINES} lines)"));
            }
            m.push(':');
            for (_, l) in &self.output[start..] {
                m.push_str("\n    ");
                m.push_str(l);
            }
        }
        Some(m)
    }
}

/// The hook handed to the builder's boot: runs the checks on
/// [`HookEvent::Provision`] and keeps the results.
pub struct TestHook {
    config: Config,
    build_name: String,
    builder_type: String,
    results: Mutex<Vec<CheckResult>>,
    /// Whether the checks ran (the machine was reached).
    ran: Mutex<bool>,
}

impl TestHook {
    /// A hook running `config`'s checks for `build_name`.
    pub fn new(config: Config, build_name: &str, builder_type: &str) -> Self {
        TestHook {
            config,
            build_name: build_name.to_string(),
            builder_type: builder_type.to_string(),
            results: Mutex::new(Vec::new()),
            ran: Mutex::new(false),
        }
    }

    /// The results so far.
    pub fn results(&self) -> Vec<CheckResult> {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the machine was reached and the checks started.
    pub fn ran(&self) -> bool {
        *self.ran.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Hook for TestHook {
    async fn run(
        &self,
        event: HookEvent,
        ui: &dyn Ui,
        comm: &dyn Communicator,
        generated: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        if event != HookEvent::Provision {
            return Ok(());
        }
        *self.ran.lock().unwrap_or_else(|e| e.into_inner()) = true;
        let vars =
            kiln_sdk::shell_env::packer_vars(&self.build_name, &self.builder_type, generated);
        let total = self.config.checks.len();
        for (i, check) in self.config.checks.iter().enumerate() {
            ui.activity(Some(&format!("test {}/{total}", i + 1)));
            ui.say(&format!("Testing: {}", check.name));
            let r = run_check(&self.config, check, &vars, comm, cancel).await?;
            report(ui, &r);
            self.results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(r);
        }
        ui.activity(None);
        Ok(())
    }
}

/// Prints one result: a line, the output of a failed check, and a
/// machine-readable `test_result` record.
pub fn report(ui: &dyn Ui, r: &CheckResult) {
    let secs = format!("{:.3}", r.duration.as_secs_f64());
    let code = r.exit_code.map(|c| c.to_string()).unwrap_or_default();
    match &r.outcome {
        Outcome::Passed => {
            ui.say(&format!("Test `{}` passed ({secs}s)", r.name));
            ui.machine("test_result", &[&r.name, "passed", &code, &secs, ""]);
            ui.event(event(r, None));
        }
        Outcome::Failed(why) => {
            ui.error(&format!(
                "Test `{}` FAILED ({secs}s): command `{}` {why}",
                r.name, r.command
            ));
            for (stream, line) in &r.output {
                match stream {
                    Stream::Stdout => ui.message(&format!("stdout: {line}")),
                    Stream::Stderr => ui.message(&format!("stderr: {line}")),
                }
            }
            ui.machine("test_result", &[&r.name, "failed", &code, &secs, why]);
            ui.event(event(r, r.failure_message()));
        }
    }
}

/// The `-events=json` record of a result (see
/// docs/schemas/events.schema.json).
fn event(r: &CheckResult, message: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "type": "test_result",
        "name": r.name,
        "status": if r.passed() { "passed" } else { "failed" },
        "exit_code": r.exit_code,
        "duration_seconds": r.duration.as_secs_f64(),
        "message": message,
    })
}

/// Output lines collected from a running command.
#[derive(Default)]
struct Collected(Mutex<Vec<(Stream, String)>>);

impl Collected {
    fn push(&self, stream: Stream, line: &str) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() >= MAX_LINES {
            v.remove(0);
        }
        v.push((stream, line.to_string()));
    }
    fn take(&self) -> Vec<(Stream, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The `KEY='value' ` prefix of a command.
fn env_prefix(vars: &BTreeMap<String, String>) -> String {
    vars.iter()
        .map(|(k, v)| format!("{k}={} ", shell_quote(v)))
        .collect()
}

/// `command` followed, in the same `sh`, by the removal of `path`, keeping
/// the command's status (the `shell` provisioner's wrapping).
fn remove_after(command: &str, path: &str) -> String {
    format!(
        " (\n{command}\n); __kiln_status=$?; rm -f {}; exit $__kiln_status",
        shell_quote(path)
    )
}

/// Runs one check to its result. `Err` only on cancellation.
pub async fn run_check(
    config: &Config,
    check: &Check,
    base_vars: &BTreeMap<String, String>,
    comm: &dyn Communicator,
    cancel: &CancellationToken,
) -> Result<CheckResult, BuildError> {
    let started = Instant::now();
    let collected = Collected::default();
    let mut vars = base_vars.clone();
    for v in &check.environment_vars {
        if let Some((k, val)) = v.split_once('=') {
            vars.insert(k.to_string(), val.to_string());
        }
    }
    let scripts: Vec<(String, Vec<u8>)> = match &check.source {
        Source::Inline(lines) => {
            let mut body = format!("#!{}\n", config.inline_shebang);
            for l in lines {
                body.push_str(l);
                body.push('\n');
            }
            vec![("inline".to_string(), body.into_bytes())]
        }
        Source::Scripts(paths) => {
            let mut v = Vec::new();
            for p in paths {
                match std::fs::read(p) {
                    Ok(b) => v.push((p.clone(), strip_crlf(&b))),
                    Err(e) => {
                        return Ok(CheckResult {
                            name: check.name.clone(),
                            command: check.command(),
                            outcome: Outcome::Failed(format!("could not be read: {e}")),
                            exit_code: None,
                            duration: started.elapsed(),
                            output: Vec::new(),
                        })
                    }
                }
            }
            v
        }
    };
    let run_all = async {
        let mut last = None;
        for (_, body) in &scripts {
            let path = format!(
                "{}/kiln-test-{}.sh",
                config.remote_folder,
                uuid::Uuid::new_v4().simple()
            );
            let command = format!("{}{}", env_prefix(&vars), shell_quote(&path));
            let in_one = comm.runs_posix_sh();
            let line = if in_one {
                remove_after(&command, &path)
            } else {
                command
            };
            let out = |l: &str| collected.push(Stream::Stdout, l);
            let err = |l: &str| collected.push(Stream::Stderr, l);
            let status = comm
                .upload_and_start(
                    Preload {
                        destination: &path,
                        content: body,
                        mode: 0o755,
                    },
                    &RemoteCommand { command: line },
                    CommandOutput {
                        stdout: &out,
                        stderr: &err,
                    },
                )
                .await;
            if !in_one {
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    kiln_sdk::communicator::run_with_ui(
                        comm,
                        &kiln_sdk::ui::RecordingUi::default(),
                        &format!("rm -f {}", shell_quote(&path)),
                    ),
                )
                .await;
            }
            let status = status?;
            let failed = !check.expect_exit_codes.contains(&status.code());
            last = Some(status);
            if failed {
                break;
            }
        }
        Ok::<_, CommunicatorError>(last)
    };
    let ended = tokio::select! {
        r = tokio::time::timeout(check.timeout, run_all) => r,
        _ = cancel.cancelled() => return Err(BuildError::Cancelled),
    };
    let output = collected.take();
    let (outcome, exit_code) = match ended {
        Err(_) => (
            Outcome::Failed(format!(
                "timed out after {}",
                kiln_sdk::duration::format_go(check.timeout)
            )),
            None,
        ),
        Ok(Err(e)) => (Outcome::Failed(format!("could not run: {e}")), None),
        Ok(Ok(None)) => (Outcome::Passed, None),
        Ok(Ok(Some(status))) => {
            let code = match status {
                ExitStatus::Code(c) => Some(c),
                _ => None,
            };
            if !check.expect_exit_codes.contains(&status.code()) {
                let expected: Vec<String> =
                    check.expect_exit_codes.iter().map(i32::to_string).collect();
                let how = match &status {
                    ExitStatus::Code(c) => format!("exited {c}"),
                    other => other.to_string(),
                };
                (
                    Outcome::Failed(format!("{how} (expected {})", expected.join(" or "))),
                    code,
                )
            } else {
                let stdout: Vec<&str> = output
                    .iter()
                    .filter(|(s, _)| *s == Stream::Stdout)
                    .map(|(_, l)| l.as_str())
                    .collect();
                let stdout = stdout.join("\n");
                match &check.expect_output {
                    Some(re) if !re.is_match(&stdout) => (
                        Outcome::Failed(format!(
                            "exited {}, but its stdout does not match `{}`",
                            status.code(),
                            re.as_str()
                        )),
                        code,
                    ),
                    _ => (Outcome::Passed, code),
                }
            }
        }
    };
    Ok(CheckResult {
        name: check.name.clone(),
        command: check.command(),
        outcome,
        exit_code,
        duration: started.elapsed(),
        output,
    })
}

/// `body` with CRLF line endings turned into LF, as the `shell`
/// provisioner does for scripts.
fn strip_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for (i, b) in body.iter().enumerate() {
        if *b == b'\r' && body.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(*b);
    }
    out
}
