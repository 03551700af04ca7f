//! Packer 1.6.6's `file` provisioner (`packer plugin
//! packer-provisioner-file`) tracks its upload with `ui.TrackProgress`;
//! through the bridge that becomes kiln's progress (the live view's bar),
//! labelled with the file's name, while the file reaches the
//! communicator whole.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use kiln_plugin_go::{provisioner_factory, ComponentKind};
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::component::ProvisionContext;
use kiln_sdk::config::RawConfig;
use kiln_test::live_ui::LiveRecordingUi;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

/// A "machine" that is a directory: uploads land in it under their
/// destination's file name; nothing else is needed here.
struct DirComm(PathBuf);

fn unneeded(what: &str) -> CommunicatorError {
    CommunicatorError::Failed(format!("{what} is not expected in this test"))
}

#[async_trait]
impl Communicator for DirComm {
    async fn start(
        &self,
        command: &RemoteCommand,
        _: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        Err(unneeded(&command.command))
    }
    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        _: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let name = Path::new(destination).file_name().unwrap();
        let mut f = tokio::fs::File::create(self.0.join(name)).await.unwrap();
        tokio::io::copy(source, &mut f)
            .await
            .map_err(|e| CommunicatorError::Failed(e.to_string()))?;
        Ok(())
    }
    async fn upload_dir(&self, d: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(unneeded(d))
    }
    async fn download(
        &self,
        s: &str,
        _: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        Err(unneeded(s))
    }
    async fn download_dir(&self, s: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        Err(unneeded(s))
    }
}

#[test]
fn go_file_provisioner_upload_progress_reaches_kilns_ui() {
    require_packer();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("big.bin");
    let content: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &content).unwrap();
    let machine = d.path().join("machine");
    std::fs::create_dir(&machine).unwrap();

    let factory = provisioner_factory("go-file", packer(ComponentKind::Provisioner, "file"));
    let p = factory
        .prepare(
            &RawConfig::from_value(json!({
                "source": src.display().to_string(),
                "destination": "/srv/big.bin",
            })),
            &kiln_test::build_cx("web", "null"),
        )
        .unwrap_or_else(|e| panic!("prepare failed: {e}"))
        .component;
    let ui = LiveRecordingUi::default();
    let generated = Arc::new(Default::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(p.provision(
        ProvisionContext {
            ui: &ui,
            cancel: CancellationToken::new(),
            interpolation: &Default::default(),
            generated: &generated,
            debug: false,
            record: &Default::default(),
        },
        &DirComm(machine.clone()),
    ))
    .unwrap_or_else(|e| panic!("provision failed: {e}; {:?}", ui.lines()));

    assert_eq!(std::fs::read(machine.join("big.bin")).unwrap(), content);
    let progress = ui.progress_reports();
    let size = content.len() as u64;
    assert!(progress.len() > 1, "one report per read: {progress:?}");
    assert!(
        progress
            .iter()
            .all(|(label, _, total)| label == "big.bin" && *total == size),
        "{progress:?}"
    );
    assert!(progress.windows(2).all(|w| w[0].1 < w[1].1), "{progress:?}");
    assert_eq!(progress.last().unwrap().1, size, "{progress:?}");
    let lines = ui.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("say: Uploading ")),
        "{lines:?}"
    );
}
