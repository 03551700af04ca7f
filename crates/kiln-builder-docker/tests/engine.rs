//! The docker builder and communicator against the real engine: builds from
//! the imported busybox base, exercising exec, uploads (file, directory,
//! trailing slash), downloads, commit with `changes`, export, Ctrl-C and a
//! failing provisioner. Every test removes what it made, even on failure.

// Each `#[tokio::test]` owns its runtime and thread, so holding the
// process-wide docker test lock across awaits cannot deadlock.
#![allow(clippy::await_holding_lock)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln_builder_docker::DockerBuilderFactory;
use kiln_docker_test::{base_image, docker_ok, Cleanup};
use kiln_sdk::communicator::{Communicator, CommunicatorError, ExitStatus, FileMeta};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData, Hook, HookEvent};
use kiln_sdk::config::RawConfig;
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{Artifact, BuilderFactory, Ui};
use kiln_test::comm::{preload_cmd, run_cmd};
use kiln_test::prepare_cx;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// What the test hook does with the communicator.
enum Script {
    /// Exec, uploads and downloads, checked as it goes.
    Exercise { local: PathBuf },
    /// A command that runs until cancelled.
    Sleep,
    /// A provisioner that fails.
    Fail,
    /// Writes `/kept`, then stops the container labelled so from outside.
    StopContainer { label: String },
    /// Nothing.
    Nothing,
}

struct TestHook {
    script: Script,
    log: Mutex<Vec<String>>,
}

async fn exercise(c: &dyn Communicator, local: &Path) -> Result<(), String> {
    let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    let (s, out, err) = run_cmd(c, "echo hello; echo oops >&2; printf partial; exit 3").await;
    check(s == ExitStatus::Code(3), format!("exit status {s:?}"))?;
    check(out == ["hello", "partial"], format!("stdout {out:?}"))?;
    check(err == ["oops"], format!("stderr {err:?}"))?;

    // A file with its size known, and one streamed without (spooled).
    let body = b"uploaded with size\n".to_vec();
    let meta = FileMeta {
        mode: Some(0o640),
        mtime: None,
        size: Some(body.len() as u64),
    };
    c.upload("/opt/new/dir/sized.txt", &mut body.as_slice(), meta)
        .await
        .map_err(|e| e.to_string())?;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    c.upload("/tmp/big.bin", &mut big.as_slice(), FileMeta::default())
        .await
        .map_err(|e| e.to_string())?;
    let (_, out, _) = run_cmd(
        c,
        "stat -c '%a %s' /opt/new/dir/sized.txt /tmp/big.bin; stat -c %a /tmp",
    )
    .await;
    check(
        out == ["640 19", "644 300000", "1777"],
        format!("uploaded modes/sizes {out:?}"),
    )?;

    // Directories: without a trailing slash the directory itself goes in,
    // with one its contents do.
    let tree = local.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "a\n").unwrap();
    std::fs::write(tree.join("sub/b.txt"), "b\n").unwrap();
    std::fs::write(tree.join("skip.log"), "x\n").unwrap();
    c.upload_dir("/srv", &tree, &["*.log".into()])
        .await
        .map_err(|e| e.to_string())?;
    let slash = PathBuf::from(format!("{}/", tree.display()));
    c.upload_dir("/data", &slash, &[])
        .await
        .map_err(|e| e.to_string())?;
    let (_, out, _) = run_cmd(c, "cd / && find srv data -type f | sort").await;
    check(
        out == [
            "data/a.txt",
            "data/skip.log",
            "data/sub/b.txt",
            "srv/tree/a.txt",
            "srv/tree/sub/b.txt",
        ],
        format!("uploaded tree {out:?}"),
    )?;

    // A script sent with the command that runs it, in one exec: written
    // with its mode, stdin at its end for the command.
    let script = b"#!/bin/sh\necho \"out $1\"\necho err >&2\nexit 4\n";
    let (r, out, err) = preload_cmd(
        c,
        "/tmp/pre.sh",
        script,
        "/tmp/pre.sh x; s=$?; cat; exit $s",
    )
    .await;
    check(
        r.as_ref().ok() == Some(&ExitStatus::Code(4)),
        format!("preload {r:?}"),
    )?;
    check(
        out == ["out x"] && err == ["err"],
        format!("preload output {out:?} {err:?}"),
    )?;
    let (_, out, _) = run_cmd(c, "stat -c '%a %s' /tmp/pre.sh").await;
    check(
        out == [format!("755 {}", script.len())],
        format!("preloaded file {out:?}"),
    )?;
    let (r, out, err) = preload_cmd(c, "/missing/pre.sh", b"true\n", "touch /ran").await;
    let text = r
        .as_ref()
        .map_err(|e| e.to_string())
        .err()
        .unwrap_or_default();
    check(
        matches!(r, Err(CommunicatorError::Preload { .. }))
            && text.starts_with("cannot write remote file `/missing/pre.sh`: ")
            && text.contains("nonexistent"),
        format!("a failed preload {r:?}"),
    )?;
    check(
        out.is_empty() && err.is_empty(),
        format!("failed preload output {out:?} {err:?}"),
    )?;
    let (s, _, _) = run_cmd(c, "test -e /ran").await;
    check(
        s == ExitStatus::Code(1),
        "the command ran after a failed preload".into(),
    )?;

    // Downloads.
    let mut got = Vec::new();
    c.download("/tmp/big.bin", &mut got)
        .await
        .map_err(|e| e.to_string())?;
    check(got == big, "downloaded bytes differ".into())?;
    let back = local.join("back");
    c.download_dir("/srv/tree", &back, &[])
        .await
        .map_err(|e| e.to_string())?;
    check(
        std::fs::read_to_string(back.join("sub/b.txt"))
            .ok()
            .as_deref()
            == Some("b\n"),
        "downloaded tree".into(),
    )?;
    let missing = c
        .download("/nope", &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    check(missing.contains("cannot download `/nope`"), missing)?;
    let dir_err = c
        .download("/srv", &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    check(dir_err.contains("is a directory"), dir_err)?;
    Ok(())
}

#[async_trait]
impl Hook for TestHook {
    async fn run(
        &self,
        event: HookEvent,
        _ui: &dyn Ui,
        communicator: &dyn Communicator,
        _generated: &GeneratedData,
        _cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        if event != HookEvent::Provision {
            return Ok(());
        }
        match &self.script {
            Script::Exercise { local } => {
                exercise(communicator, local).await.map_err(BuildError::msg)
            }
            Script::Sleep => {
                self.log.lock().unwrap().push("sleeping".into());
                let (s, _, _) = run_cmd(communicator, "sleep 300").await;
                Err(BuildError::msg(format!("sleep ended: {s:?}")))
            }
            Script::Fail => {
                let (s, _, _) = run_cmd(communicator, "echo changed > /etc/motd; exit 7").await;
                Err(BuildError::msg(format!(
                    "script exited with non-zero exit status: {}",
                    s.code()
                )))
            }
            Script::StopContainer { label } => {
                let (s, _, _) = run_cmd(communicator, "echo kept > /kept").await;
                if s != ExitStatus::Code(0) {
                    return Err(BuildError::msg(format!("writing /kept: {s:?}")));
                }
                for c in kiln_docker_test::containers_labelled(label) {
                    docker_ok(&["kill", &c]);
                }
                Ok(())
            }
            Script::Nothing => Ok(()),
        }
    }
}

async fn build(
    config: Value,
    script: Script,
    cancel: CancellationToken,
) -> (
    Result<Option<Arc<dyn Artifact>>, BuildError>,
    Arc<RecordingUi>,
) {
    let prepared = DockerBuilderFactory
        .prepare(&RawConfig::from_value(config), &prepare_cx("docker"))
        .unwrap_or_else(|e| panic!("prepare: {e}"));
    let ui = Arc::new(RecordingUi::default());
    let hook = Arc::new(TestHook {
        script,
        log: Mutex::new(Vec::new()),
    });
    let r = prepared
        .component
        .run(BuildContext {
            ui: ui.clone(),
            hook,
            cancel,
            on_error: Default::default(),
            debug: false,
            force: false,
            run_uuid: "00000000-0000-0000-0000-000000000000",
            record: Default::default(),
            checkpoints: None,
        })
        .await;
    (r, ui)
}

/// A label unique to one test, put on its container through `run_command`.
fn labelled_run_command(label: &str) -> Value {
    json!([
        "-d",
        "-i",
        "-t",
        "-l",
        label,
        "--entrypoint=/bin/sh",
        "--",
        "{{.Image}}"
    ])
}

fn inspect(image: &str) -> Value {
    serde_json::from_str::<Value>(&docker_ok(&["image", "inspect", image])).unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_with_changes_after_exercising_the_communicator() {
    let _lock = kiln_docker_test::shared();
    let label = format!("kiln-test={}", kiln_docker_test::unique("commit"));
    let cleanup = Cleanup::with_label(&label);
    let local = tempfile::tempdir().unwrap();
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "commit": true,
            "author": "kiln <kiln@example.com>",
            "message": "built by kiln",
            "run_command": labelled_run_command(&label),
            "changes": [
                "CMD [\"/bin/echo\", \"hi\"]",
                "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
                "ENV GREETING=hello",
                "EXPOSE 8080",
                "LABEL org.example.built-by=kiln",
                "USER app",
                "WORKDIR /srv",
                "VOLUME /data",
                "ONBUILD RUN echo child"
            ]
        }),
        Script::Exercise {
            local: local.path().to_path_buf(),
        },
        CancellationToken::new(),
    )
    .await;
    let artifact = r
        .unwrap_or_else(|e| panic!("build failed: {e}\n{:#?}", ui.lines()))
        .unwrap();
    cleanup.image(&artifact.id());
    assert_eq!(artifact.builder_id(), "packer.post-processor.docker-import");
    assert!(artifact.id().starts_with("sha256:"), "{}", artifact.id());
    assert_eq!(
        artifact.describe(),
        format!("Imported Docker image: {}", artifact.id())
    );
    let lines = ui.lines().join("\n");
    assert!(lines.contains("say: Committing the container"), "{lines}");
    assert!(lines.contains("say: Killing the container"), "{lines}");

    let img = inspect(&artifact.id());
    let cfg = &img["Config"];
    assert_eq!(cfg["Cmd"], json!(["/bin/echo", "hi"]));
    assert_eq!(cfg["Entrypoint"], json!(["/bin/sh", "-c"]));
    assert!(cfg["Env"]
        .as_array()
        .unwrap()
        .contains(&json!("GREETING=hello")));
    assert!(cfg["ExposedPorts"].get("8080/tcp").is_some(), "{cfg}");
    assert_eq!(cfg["Labels"]["org.example.built-by"], "kiln");
    assert_eq!(cfg["User"], "app");
    assert_eq!(cfg["WorkingDir"], "/srv");
    assert!(cfg["Volumes"].get("/data").is_some(), "{cfg}");
    assert_eq!(cfg["OnBuild"], json!(["RUN echo child"]));
    assert_eq!(img["Author"], "kiln <kiln@example.com>");
    assert_eq!(img["Comment"], "built by kiln");

    // The files made it into the image.
    let files = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/cat",
        "--user",
        "root",
        &artifact.id(),
        "/opt/new/dir/sized.txt",
        "/srv/tree/a.txt",
    ]);
    assert_eq!(files, "uploaded with size\na");
    // The container is gone.
    assert!(kiln_docker_test::containers_labelled(&label).is_empty());
}

/// The engine's events for containers labelled `label` between two unix
/// times, as their action names.
fn container_events(label: &str, since: f64, until: f64) -> Vec<String> {
    docker_ok(&[
        "events",
        "--since",
        &format!("{since:.3}"),
        "--until",
        &format!("{until:.3}"),
        "--filter",
        "type=container",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.Action}}",
    ])
    .lines()
    .map(|l| l.split(':').next().unwrap_or_default().trim().to_string())
    .filter(|a| !a.starts_with("exec_") && a != "extract-to-dir")
    .collect()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_is_frozen_then_killed_while_it_is_committed() {
    let _lock = kiln_docker_test::shared();
    let label = format!("kiln-test={}", kiln_docker_test::unique("freeze"));
    let cleanup = Cleanup::with_label(&label);
    let since = unix_now() - 1.0;
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "commit": true,
            "changes": ["LABEL frozen=yes"],
            "run_command": labelled_run_command(&label),
        }),
        Script::Nothing,
        CancellationToken::new(),
    )
    .await;
    let artifact = r
        .unwrap_or_else(|e| panic!("build failed: {e}\n{:#?}", ui.lines()))
        .unwrap();
    cleanup.image(&artifact.id());
    let events = container_events(&label, since, unix_now() + 1.0);
    // Frozen once by kiln, killed during the commit, never thawed by a
    // paused commit: not Packer's pause, commit, unpause, kill.
    let at = |a: &str| events.iter().position(|e| e == a);
    let (pause, kill, commit, destroy) = (at("pause"), at("kill"), at("commit"), at("destroy"));
    assert!(
        pause.is_some() && kill.is_some() && commit.is_some() && destroy.is_some(),
        "{events:?}"
    );
    assert!(
        pause < kill && pause < commit && kill < destroy && commit < destroy,
        "{events:?}"
    );
    assert_eq!(at("unpause"), None, "{events:?}");
    assert_eq!(
        events.iter().filter(|e| *e == "commit").count(),
        1,
        "{events:?}"
    );
    assert_eq!(inspect(&artifact.id())["Config"]["Labels"]["frozen"], "yes");
    assert!(kiln_docker_test::containers_labelled(&label).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_stopped_before_the_commit_is_still_committed() {
    let _lock = kiln_docker_test::shared();
    let label = format!("kiln-test={}", kiln_docker_test::unique("stopped"));
    let cleanup = Cleanup::with_label(&label);
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "commit": true,
            "run_command": labelled_run_command(&label),
        }),
        Script::StopContainer {
            label: label.clone(),
        },
        CancellationToken::new(),
    )
    .await;
    let artifact = r
        .unwrap_or_else(|e| panic!("build failed: {e}\n{:#?}", ui.lines()))
        .unwrap();
    cleanup.image(&artifact.id());
    let kept = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/cat",
        &artifact.id(),
        "/kept",
    ]);
    assert_eq!(kept, "kept");
    assert!(kiln_docker_test::containers_labelled(&label).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_path_writes_the_file_system() {
    let _lock = kiln_docker_test::shared();
    let label = format!("kiln-test={}", kiln_docker_test::unique("export"));
    let _cleanup = Cleanup::with_label(&label);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sub/image.tar");
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "export_path": out.to_str().unwrap(),
            "run_command": labelled_run_command(&label),
        }),
        Script::Nothing,
        CancellationToken::new(),
    )
    .await;
    let artifact = r
        .unwrap_or_else(|e| panic!("build failed: {e}\n{:#?}", ui.lines()))
        .unwrap();
    assert_eq!(artifact.builder_id(), "packer.docker");
    assert_eq!(artifact.id(), "Container");
    assert_eq!(artifact.files(), vec![out.clone()]);
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for e in archive.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("packer-files")),
        "{names:?}"
    );
    assert!(kiln_docker_test::containers_labelled(&label).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_no_container() {
    let _lock = kiln_docker_test::shared();
    let label = format!("kiln-test={}", kiln_docker_test::unique("cancel"));
    let _cleanup = Cleanup::with_label(&label);
    let cancel = CancellationToken::new();
    let watcher = {
        let cancel = cancel.clone();
        let label = label.clone();
        tokio::spawn(async move {
            // Cancel once the provisioner's command runs in the container.
            for _ in 0..400 {
                let running = kiln_docker_test::containers_labelled(&label);
                if let Some(c) = running.first() {
                    let top = kiln_docker_test::docker(&["top", c]);
                    if String::from_utf8_lossy(&top.stdout).contains("sleep 300") {
                        cancel.cancel();
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        })
    };
    let started = std::time::Instant::now();
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "commit": true,
            "run_command": labelled_run_command(&label),
        }),
        Script::Sleep,
        cancel,
    )
    .await;
    assert!(watcher.await.unwrap(), "the provisioner never started");
    assert!(
        matches!(r, Err(BuildError::Cancelled)),
        "{:?}\n{:#?}",
        r.map(|_| ()),
        ui.lines()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        kiln_docker_test::containers_labelled(&label).is_empty(),
        "Ctrl-C left a container"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_provisioner_leaves_no_container_and_no_image() {
    let _lock = kiln_docker_test::exclusive();
    base_image();
    let label = format!("kiln-test={}", kiln_docker_test::unique("fail"));
    let _cleanup = Cleanup::with_label(&label);
    let before = kiln_docker_test::all_images();
    let (r, ui) = build(
        json!({
            "image": base_image(),
            "commit": true,
            "changes": ["LABEL x=y"],
            "run_command": labelled_run_command(&label),
        }),
        Script::Fail,
        CancellationToken::new(),
    )
    .await;
    let err = r.expect_err("the build must fail").to_string();
    assert!(err.contains("non-zero exit status: 7"), "{err}");
    assert!(
        ui.lines()
            .iter()
            .any(|l| l.starts_with("say: Killing the container")),
        "{:#?}",
        ui.lines()
    );
    assert!(kiln_docker_test::containers_labelled(&label).is_empty());
    assert_eq!(
        kiln_docker_test::all_images(),
        before,
        "a failed build left an image"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_an_image_that_cannot_be_pulled_is_a_clear_error() {
    let _lock = kiln_docker_test::shared();
    let (r, _ui) = build(
        json!({"image": "127.0.0.1:9/kiln-test/missing:1", "discard": true}),
        Script::Nothing,
        CancellationToken::new(),
    )
    .await;
    let err = r.expect_err("must fail").to_string();
    assert!(
        err.contains("cannot pull image `127.0.0.1:9/kiln-test/missing:1`, and it is not in the local engine either"),
        "{err}"
    );
    let (r, _ui) = build(
        json!({"image": "kiln-test/missing:1", "discard": true, "pull": false}),
        Script::Nothing,
        CancellationToken::new(),
    )
    .await;
    let err = r.expect_err("must fail").to_string();
    assert!(
        err.contains("image `kiln-test/missing:1` is not in the local engine"),
        "{err}"
    );
}
