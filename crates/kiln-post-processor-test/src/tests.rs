//! Unit tests: checks run for real through a communicator that runs
//! commands with the local `/bin/sh`, booted by a fake builder.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::component::{BuildContext, BuildError, HookEvent, KeepInput};
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{
    Artifact, BuildRecord, Builder, PostProcessContext, PostProcessorFactory, RawConfig,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::*;

/// Runs commands with the local `sh`; files go to the local disk.
struct LocalSh;

/// Held while a file is written and while a process is forked: a child
/// forked while another test holds a script open for writing would keep
/// it open, and executing that script would fail with `ETXTBSY`.
static FORK_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[async_trait]
impl Communicator for LocalSh {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let guard = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command.command)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CommunicatorError::Failed(e.to_string()))?;
        drop(guard);
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut err = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let (mut o_done, mut e_done) = (false, false);
        while !(o_done && e_done) {
            tokio::select! {
                l = out.next_line(), if !o_done => match l {
                    Ok(Some(l)) => (output.stdout)(&l),
                    _ => o_done = true,
                },
                l = err.next_line(), if !e_done => match l {
                    Ok(Some(l)) => (output.stderr)(&l),
                    _ => e_done = true,
                },
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| CommunicatorError::Failed(e.to_string()))?;
        Ok(ExitStatus::Code(status.code().unwrap_or(-1)))
    }
    fn runs_posix_sh(&self) -> bool {
        true
    }
    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let mut buf = Vec::new();
        source.read_to_end(&mut buf).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let _guard = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::write(destination, &buf).unwrap();
        std::fs::set_permissions(
            destination,
            std::fs::Permissions::from_mode(meta.mode.unwrap_or(0o644)),
        )
        .unwrap();
        Ok(())
    }
    async fn upload_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed("unsupported".into()))
    }
    async fn download(
        &self,
        _: &str,
        _: &mut (dyn tokio::io::AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed("unsupported".into()))
    }
    async fn download_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(CommunicatorError::Failed("unsupported".into()))
    }
}

/// A builder whose boot fires the hook over [`LocalSh`] and records that
/// it removed its machine.
#[derive(Default)]
struct FakeBuilder {
    can_boot: bool,
    removed: AtomicBool,
}

#[async_trait]
impl Builder for FakeBuilder {
    async fn run(&self, _: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        Ok(None)
    }
    async fn boot(&self, cx: BuildContext<'_>, _: Arc<dyn Artifact>) -> Result<bool, BuildError> {
        if !self.can_boot {
            return Ok(false);
        }
        cx.ui.say("fake machine up");
        let r = cx
            .hook
            .run(
                HookEvent::Provision,
                cx.ui.as_ref(),
                &LocalSh,
                &Arc::new(Default::default()),
                &cx.cancel,
            )
            .await;
        self.removed.store(true, Ordering::SeqCst);
        r.map(|()| true)
    }
}

fn prepared(v: serde_json::Value) -> Box<dyn kiln_sdk::PostProcessor> {
    TestPostProcessorFactory
        .prepare(
            &RawConfig::from_value(v),
            &kiln_test::build_cx("web", "docker"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .component
}

fn artifact() -> Arc<dyn Artifact> {
    Arc::new(FileArtifact {
        builder_id: "fake".into(),
        id: "img-1".into(),
        files: vec![],
        description: "fake".into(),
    })
}

async fn run(
    pp: &dyn kiln_sdk::PostProcessor,
    builder: Option<&dyn Builder>,
    record: &BuildRecord,
    ui: &RecordingUi,
    cancel: CancellationToken,
) -> Result<PostProcessed, BuildError> {
    let interpolation = kiln_sdk::interpolate::Context::default();
    pp.post_process(
        PostProcessContext {
            ui,
            cancel,
            build_name: "web",
            builder_type: "docker",
            run_uuid: "0000",
            interpolation: &interpolation,
            record,
            builder,
            options: Default::default(),
        },
        artifact(),
    )
    .await
}

#[tokio::test]
async fn checks_run_and_report_passes_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r/{{.BuildName}}.xml");
    let script = dir.path().join("check.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\r\necho from script $GREETING\r\nexit 0\r\n",
    )
    .unwrap();
    let pp = prepared(json!({
        "remote_folder": dir.path(),
        "junit_output": report,
        "checks": [
            {"name": "passes", "inline": ["echo hello $WHO", "echo to stderr >&2"],
             "environment_vars": ["WHO=it's me"], "expect_output": "^hello it's me$"},
            {"name": "script", "script": script, "environment_vars": ["GREETING=hi"],
             "expect_output": "from script hi"},
            {"name": "exit three", "inline": ["echo before", "exit 3"]},
            {"name": "allowed", "inline": ["exit 3"], "expect_exit_codes": [0, 3]},
            {"name": "wrong output", "inline": ["echo nope"], "expect_output": "yes"},
            {"name": "slow", "inline": ["sleep 5"], "timeout": "300ms"},
        ]
    }));
    let builder = FakeBuilder {
        can_boot: true,
        ..Default::default()
    };
    let record = BuildRecord::default();
    let ui = RecordingUi::default();
    let out = run(
        pp.as_ref(),
        Some(&builder),
        &record,
        &ui,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.keep_input, KeepInput::Force(true));
    assert_eq!(out.artifact.id(), "img-1");
    assert!(builder.removed.load(Ordering::SeqCst));
    let lines = ui.lines().join("\n");
    assert!(lines.contains("say: fake machine up"), "{lines}");
    assert!(lines.contains("say: Test `passes` passed"), "{lines}");
    assert!(lines.contains("say: Test `script` passed"), "{lines}");
    assert!(lines.contains("say: Test `allowed` passed"), "{lines}");
    assert!(
        lines.contains("error: Test `exit three` FAILED")
            && lines.contains("exited 3 (expected 0)"),
        "{lines}"
    );
    assert!(lines.contains("does not match `yes`"), "{lines}");
    assert!(lines.contains("timed out after 300ms"), "{lines}");
    assert!(
        lines.contains("machine: test_result,exit three,failed,3,"),
        "{lines}"
    );
    assert!(lines.contains("machine: test_summary,3,3"), "{lines}");
    // The record: counts, the report, one soft failure per failed check.
    let tests = record.tests().unwrap();
    assert_eq!((tests.passed, tests.failed), (3, 3));
    let failures = record.failures();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        failures[0].starts_with(
            "image test `exit three` failed: command `echo before; exit 3` exited 3 (expected 0); its output:\n    before"
        ),
        "{failures:?}"
    );
    let report = dir.path().join("r/web.xml");
    assert_eq!(
        record.attachments(),
        [kiln_sdk::record::Attachment {
            kind: "test-report".into(),
            path: report.clone()
        }]
    );
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.contains("tests=\"6\" failures=\"3\""), "{xml}");
    assert!(
        xml.contains("<system-out>hello it&apos;s me</system-out>"),
        "{xml}"
    );
    assert!(xml.contains("<system-err>to stderr</system-err>"), "{xml}");
    // No script is left in the "remote" folder.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kiln-test-"))
        .collect();
    // The timed-out check's script may stay (its command was abandoned);
    // every other one is gone.
    assert!(left.len() <= 1, "{left:?}");
}

#[tokio::test]
async fn a_builder_that_cannot_boot_is_a_clear_error() {
    let pp = prepared(json!({"inline": ["true"]}));
    let builder = FakeBuilder::default();
    let record = BuildRecord::default();
    let ui = RecordingUi::default();
    let e = run(
        pp.as_ref(),
        Some(&builder),
        &record,
        &ui,
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("the `docker` builder cannot boot its artifacts")
            && e.contains("amazon-ebs, docker, qemu"),
        "{e}"
    );
    let e = run(pp.as_ref(), None, &record, &ui, CancellationToken::new())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("needs the build's builder"), "{e}");
    assert!(record.failures().is_empty());
}

#[tokio::test]
async fn cancellation_stops_the_checks_and_the_machine_is_removed() {
    let pp = prepared(json!({"inline": ["sleep 30"]}));
    let builder = FakeBuilder {
        can_boot: true,
        ..Default::default()
    };
    let record = BuildRecord::default();
    let ui = RecordingUi::default();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel();
    });
    let started = std::time::Instant::now();
    let r = run(pp.as_ref(), Some(&builder), &record, &ui, cancel).await;
    assert!(matches!(r, Err(BuildError::Cancelled)), "{:?}", ui.lines());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(builder.removed.load(Ordering::SeqCst));
}
