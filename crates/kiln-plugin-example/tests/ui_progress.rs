//! A plugin component's activity and progress reach kiln's UI: the
//! `example-sha256` post-processor of this crate's binary reports which
//! file it hashes (`sha256 1/2`) and how much of it it has read, through
//! kiln's host side (`kiln_plugin::host`) into a recording UI. And an
//! older kiln, whose handshake does not offer `ui.progress`, is sent none
//! of it (it would print those `ui` kinds as message lines).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kiln_plugin::host::{PluginBinary, PluginComponent};
use kiln_plugin::protocol::{CAP_UI_PROGRESS, HOST_CAPABILITIES, MAGIC_ENV, MAGIC_VALUE};
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::component::PostProcessContext;
use kiln_sdk::config::RawConfig;
use kiln_sdk::{Artifact, PostProcessorFactory};
use kiln_test::live_ui::{Live, LiveRecordingUi};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kiln-plugin-example");

/// Writes `big.bin` (1 MiB: many chunks) and `small.txt` in `dir`.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![7u8; 1 << 20]).unwrap();
    let small = dir.join("small.txt");
    std::fs::write(&small, "hello\n").unwrap();
    vec![big, small]
}

#[test]
fn a_plugin_post_processors_activity_and_progress_reach_kilns_ui() {
    let d = tempfile::tempdir().unwrap();
    let files = inputs(d.path());
    let factory: Box<dyn PostProcessorFactory> = Box::new(PluginComponent::new(
        "example-sha256",
        PluginBinary {
            path: PLUGIN.into(),
            name: "kiln-plugin-example".into(),
        },
    ));
    let pp = factory
        .prepare(
            &RawConfig::from_value(json!({})),
            &kiln_test::build_cx("web", "file"),
        )
        .unwrap_or_else(|e| panic!("prepare failed: {e}"))
        .component;
    let ui = LiveRecordingUi::default();
    let input: Arc<dyn Artifact> = Arc::new(FileArtifact {
        builder_id: "kiln.file".into(),
        id: "files".into(),
        files: files.clone(),
        description: "two files".into(),
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let out = rt
        .block_on(pp.post_process(
            PostProcessContext {
                ui: &ui,
                cancel: CancellationToken::new(),
                build_name: "web",
                builder_type: "file",
                run_uuid: "6c1f5d6e-0000-4000-8000-000000000001",
                interpolation: &Default::default(),
                record: &Default::default(),
                builder: None,
                options: Default::default(),
            },
            input,
        ))
        .unwrap_or_else(|e| panic!("post-process failed: {e}"));
    assert_eq!(out.artifact.files().len(), 2);

    let live = ui.live();
    let activities: Vec<&Live> = live
        .iter()
        .filter(|l| matches!(l, Live::Activity(_)))
        .collect();
    assert_eq!(
        activities,
        [
            &Live::Activity(Some("sha256 1/2".into())),
            &Live::Activity(Some("sha256 2/2".into())),
            &Live::Activity(None),
        ],
        "{live:?}"
    );
    // Each file's progress comes after its activity, climbs, and ends
    // with the whole file read.
    for (i, size) in [(1, 1u64 << 20), (2, 6)] {
        let start = live
            .iter()
            .position(|l| *l == Live::Activity(Some(format!("sha256 {i}/2"))))
            .unwrap();
        let progress: Vec<(u64, u64)> = live[start + 1..]
            .iter()
            .take_while(|l| matches!(l, Live::Progress { .. }))
            .map(|l| match l {
                Live::Progress { label, done, total } => {
                    assert_eq!(label, "sha256");
                    (*done, *total)
                }
                Live::Activity(_) => unreachable!(),
            })
            .collect();
        assert_eq!(progress.last(), Some(&(size, size)), "file {i}: {live:?}");
        assert!(
            progress.iter().all(|&(_, total)| total == size),
            "{progress:?}"
        );
        assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{progress:?}");
    }
    let lines = ui.lines();
    assert_eq!(
        lines.last().unwrap(),
        "say: Wrote 2 checksum file(s)",
        "{lines:?}"
    );
}

/// Runs the plugin's `example-sha256` over `files` speaking the protocol
/// by hand, as a host offering `capabilities` would; returns the params
/// of every `ui` notification it sent.
fn ui_notifications(capabilities: &[&str], files: &[PathBuf]) -> Vec<Value> {
    let mut child = Command::new(PLUGIN)
        .arg("serve")
        .env(MAGIC_ENV, MAGIC_VALUE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example plugin");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let m: Value = serde_json::from_str(&line).expect("a protocol message");
            if tx.send(m).is_err() {
                return;
            }
        }
    });
    let mut send = |m: Value| writeln!(stdin, "{m}").expect("write to the plugin");
    let answer = |id: u64, seen: &mut Vec<Value>| loop {
        let m = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no answer to request {id}; got {seen:?}"));
        if m["id"] == id {
            assert!(m["error"].is_null(), "{m}");
            return;
        }
        seen.push(m);
    };
    let mut seen = Vec::new();
    send(json!({ "id": 1, "method": "handshake", "params": {
        "kiln_version": "0.1.0", "protocol_min": 1, "protocol_max": 1,
        "capabilities": capabilities,
    }}));
    answer(1, &mut seen);
    send(json!({ "id": 2, "method": "prepare", "params": {
        "kind": "post-processor", "type": "example-sha256", "config": {},
        "context": { "build_name": "web", "builder_type": "file", "template_dir": "." },
    }}));
    answer(2, &mut seen);
    send(json!({ "id": 3, "method": "post-process", "params": {
        "artifact": { "builder_id": "kiln.file", "id": "files", "files": files,
                      "description": "", "state": {} },
        "build_name": "web", "builder_type": "file", "run_uuid": "",
    }}));
    answer(3, &mut seen);
    drop(stdin);
    let _ = child.wait();
    seen.into_iter()
        .map(|m| {
            assert_eq!(m["method"], "ui", "{m}");
            assert_eq!(m["call"], 3, "{m}");
            m["params"].clone()
        })
        .collect()
}

/// The `kind`s of `ui` notifications, in order, repeats collapsed.
fn kinds(notes: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = notes
        .iter()
        .map(|p| p["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    k.dedup();
    k
}

#[test]
fn activity_and_progress_go_only_to_a_host_that_offers_ui_progress() {
    let d = tempfile::tempdir().unwrap();
    let files = inputs(d.path());
    assert!(HOST_CAPABILITIES.contains(&CAP_UI_PROGRESS));
    let today = ui_notifications(HOST_CAPABILITIES, &files);
    assert_eq!(
        kinds(&today),
        ["activity", "progress", "message", "activity", "progress", "message", "activity", "say"],
        "{today:?}"
    );
    assert!(
        today.contains(&json!({ "kind": "activity", "message": "sha256 1/2" })),
        "{today:?}"
    );
    assert!(
        today.contains(
            &json!({ "kind": "progress", "label": "sha256", "done": 1 << 20, "total": 1 << 20 })
        ),
        "{today:?}"
    );
    // What a kiln from before `ui.progress` offers.
    let older = ui_notifications(
        &[
            "ui",
            "ui.ask",
            "communicator",
            "hook",
            "cancel",
            "data-source",
        ],
        &files,
    );
    assert_eq!(kinds(&older), ["message", "say"], "{older:?}");
    assert_eq!(older.len(), 3, "{older:?}");
}
