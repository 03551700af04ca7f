//! Test doubles shared by this crate's unit tests.

use kiln_sdk::communicator::{CommandOutput, Communicator, ExitStatus, FileMeta, RemoteCommand};

/// Runs commands with `sh` on this machine and moves files by copying.
pub(crate) struct LocalComm;

#[async_trait::async_trait]
impl Communicator for LocalComm {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, kiln_sdk::communicator::CommunicatorError> {
        let o = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command.command)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            (output.stdout)(l);
        }
        for l in String::from_utf8_lossy(&o.stderr).lines() {
            (output.stderr)(l);
        }
        Ok(ExitStatus::Code(o.status.code().unwrap_or(-1)))
    }
    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), kiln_sdk::communicator::CommunicatorError> {
        let mut f = tokio::fs::File::create(destination)
            .await
            .map_err(|e| kiln_sdk::communicator::CommunicatorError::Failed(e.to_string()))?;
        tokio::io::copy(source, &mut f).await.unwrap();
        if let Some(m) = meta.mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(destination, std::fs::Permissions::from_mode(m)).unwrap();
        }
        Ok(())
    }
    async fn upload_dir(
        &self,
        _: &str,
        _: &std::path::Path,
        _: &[String],
    ) -> Result<(), kiln_sdk::communicator::CommunicatorError> {
        unimplemented!()
    }
    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn tokio::io::AsyncWrite + Send + Unpin),
    ) -> Result<(), kiln_sdk::communicator::CommunicatorError> {
        let mut f = tokio::fs::File::open(source)
            .await
            .map_err(|e| kiln_sdk::communicator::CommunicatorError::Failed(e.to_string()))?;
        tokio::io::copy(&mut f, destination).await.unwrap();
        Ok(())
    }
    async fn download_dir(
        &self,
        _: &str,
        _: &std::path::Path,
        _: &[String],
    ) -> Result<(), kiln_sdk::communicator::CommunicatorError> {
        unimplemented!()
    }
}
