//! Plugin data sources through kiln's host side (`kiln_plugin::host`),
//! with real plugin processes: the Python plugin
//! (`crates/kiln-plugin/tests/fixtures/kiln-plugin-py`, data source
//! `py-greeting`) and this crate's binary (data source `example-file`).
//! Covers what `execute` shares with the other components: the UI lines a
//! data source sends reach the host's UI, scrubbed of the template's
//! secrets, and cancelling sends `cancel` and ends the call as cancelled.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_plugin::host::{PluginBinary, PluginComponent};
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::RawConfig;
use kiln_sdk::ui::{RecordingUi, Redactor};
use kiln_sdk::{DataSource, DataSourceFactory, PrepareContext};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn python_plugin() -> PluginBinary {
    PluginBinary {
        path: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../kiln-plugin/tests/fixtures/kiln-plugin-py"),
        name: "kiln-plugin-py".into(),
    }
}

fn example_plugin() -> PluginBinary {
    PluginBinary {
        path: PathBuf::from(env!("CARGO_BIN_EXE_kiln-plugin-example")),
        name: "kiln-plugin-example".into(),
    }
}

/// Prepares data source `c` with `config`, as template evaluation does
/// (empty build name and type), with `redactor` holding the secrets.
fn prepare(c: PluginComponent, config: Value, redactor: &Redactor) -> Box<dyn DataSource> {
    let cx = PrepareContext {
        redactor: redactor.clone(),
        template_dir: std::env::current_dir().unwrap(),
        ..kiln_test::prepare_cx("")
    };
    let factory: Box<dyn DataSourceFactory> = Box::new(c);
    match factory.prepare(&RawConfig::from_value(config), &cx) {
        Ok(p) => p.component,
        Err(e) => panic!("prepare failed: {e:?}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn ui_lines_of_a_data_source_reach_the_host_ui_redacted() {
    let ui = Arc::new(RecordingUi::default());
    let redactor = Redactor::new();
    redactor.add("hunter2");
    let source = prepare(
        PluginComponent::new("py-greeting", python_plugin()).with_ui(ui.clone()),
        json!({ "name": "kiln", "say": "using token hunter2" }),
        &redactor,
    );
    let out = runtime()
        .block_on(source.execute(DataSourceContext {
            cancel: CancellationToken::new(),
        }))
        .unwrap();
    assert_eq!(out["greeting"], "hello, kiln!", "{out}");
    assert_eq!(
        ui.lines(),
        vec!["say: py-greeting: using token <sensitive>".to_string()]
    );
}

/// Without a host UI (`PluginComponent::with_ui`), the lines go to stderr
/// as Packer's human UI writes them. Runs itself in a child process to
/// read that stderr.
#[test]
fn without_a_host_ui_data_source_lines_go_to_stderr() {
    if std::env::var_os("KILN_TEST_DATA_SOURCE_CHILD").is_some() {
        let redactor = Redactor::new();
        redactor.add("hunter2");
        let source = prepare(
            PluginComponent::new("py-greeting", python_plugin()),
            json!({ "name": "kiln", "say": "using token hunter2\nsecond line" }),
            &redactor,
        );
        let cancel = CancellationToken::new();
        runtime()
            .block_on(source.execute(DataSourceContext { cancel }))
            .unwrap();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_a_host_ui_data_source_lines_go_to_stderr",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_TEST_DATA_SOURCE_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "==> data.py-greeting: py-greeting: using token <sensitive>\n\
             ==> data.py-greeting: second line\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_slow_python_data_source_is_cancelled() {
    let ui = Arc::new(RecordingUi::default());
    let source = prepare(
        PluginComponent::new("py-greeting", python_plugin()).with_ui(ui.clone()),
        json!({ "name": "kiln", "wait": 120 }),
        &Redactor::new(),
    );
    let rt = runtime();
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let result = rt.block_on(async {
        let call = source.execute(DataSourceContext {
            cancel: cancel.clone(),
        });
        tokio::pin!(call);
        // The data source says it is waiting: cancel it then.
        loop {
            tokio::select! {
                r = &mut call => panic!("execute ended before it was cancelled: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            if ui
                .lines()
                .iter()
                .any(|l| l.contains("waiting 120 second(s)"))
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{:?}",
                ui.lines()
            );
        }
        cancel.cancel();
        call.await
    });
    assert!(matches!(result, Err(BuildError::Cancelled)), "{:?}", result);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // The plugin got `cancel` (it says so before it answers).
    assert_eq!(
        ui.lines(),
        vec![
            "message: py-greeting: waiting 120 second(s)".to_string(),
            "error: py-greeting: cancelled, stopping".to_string(),
        ]
    );
}

#[test]
fn a_rust_data_source_blocked_on_a_fifo_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("never-written");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let source = prepare(
        PluginComponent::new("example-file", example_plugin()),
        json!({ "path": fifo }),
        &Redactor::new(),
    );
    let rt = runtime();
    let cancel = CancellationToken::new();
    let result = rt.block_on(async {
        let call = source.execute(DataSourceContext {
            cancel: cancel.clone(),
        });
        tokio::pin!(call);
        // Opening a FIFO nobody writes blocks: the call is still running.
        tokio::select! {
            r = &mut call => panic!("execute ended before it was cancelled: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(700)) => {}
        }
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(20), call).await
    });
    let result = result.expect("the cancelled call did not end");
    assert!(matches!(result, Err(BuildError::Cancelled)), "{:?}", result);
}
