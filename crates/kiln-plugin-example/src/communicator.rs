//! A communicator for "machines" that are a directory on this machine:
//! commands run with `sh -c` inside the directory; paths are used as
//! given (relative ones resolve against the directory). Holds only the
//! directory's path; nothing to close.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};

/// See the module docs.
pub struct LocalCommunicator {
    /// The machine's directory.
    pub root: PathBuf,
}

fn fail(what: String, e: std::io::Error) -> CommunicatorError {
    CommunicatorError::Failed(format!("{what}: {e}"))
}

impl LocalCommunicator {
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p)
    }
}

async fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dst).await?;
    let mut rd = tokio::fs::read_dir(src).await?;
    while let Some(e) = rd.next_entry().await? {
        let to = dst.join(e.file_name());
        if e.file_type().await?.is_dir() {
            Box::pin(copy_dir(&e.path(), &to)).await?;
        } else {
            tokio::fs::copy(e.path(), to).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl Communicator for LocalCommunicator {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command.command)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot run `{}`", command.command), e))?;
        let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
        let (mut out_done, mut err_done) = (false, false);
        while !(out_done && err_done) {
            tokio::select! {
                l = out.next_line(), if !out_done => match l {
                    Ok(Some(l)) => (output.stdout)(&l),
                    _ => out_done = true,
                },
                l = err.next_line(), if !err_done => match l {
                    Ok(Some(l)) => (output.stderr)(&l),
                    _ => err_done = true,
                },
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| fail(format!("cannot wait for `{}`", command.command), e))?;
        use std::os::unix::process::ExitStatusExt;
        Ok(match (status.code(), status.signal()) {
            (Some(c), _) => ExitStatus::Code(c),
            (None, Some(s)) => ExitStatus::Signal(s),
            _ => ExitStatus::Disconnected,
        })
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let dest = self.path(destination);
        let mut f = tokio::fs::File::create(&dest)
            .await
            .map_err(|e| fail(format!("cannot create `{}`", dest.display()), e))?;
        tokio::io::copy(source, &mut f)
            .await
            .map_err(|e| fail(format!("cannot write `{}`", dest.display()), e))?;
        if let Some(mode) = meta.mode {
            use std::os::unix::fs::PermissionsExt;
            let _ = tokio::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).await;
        }
        Ok(())
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let contents_only = source.to_string_lossy().ends_with('/');
        let mut dest = self.path(destination);
        if !contents_only {
            if let Some(name) = source.file_name() {
                dest = dest.join(name);
            }
        }
        copy_dir(source, &dest)
            .await
            .map_err(|e| fail(format!("cannot copy `{}`", source.display()), e))
    }

    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let src = self.path(source);
        let mut f = tokio::fs::File::open(&src)
            .await
            .map_err(|e| fail(format!("cannot open `{}`", src.display()), e))?;
        tokio::io::copy(&mut f, destination)
            .await
            .map_err(|e| fail(format!("cannot read `{}`", src.display()), e))?;
        Ok(())
    }

    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        copy_dir(&self.path(source), destination)
            .await
            .map_err(|e| fail(format!("cannot copy `{source}`"), e))
    }
}
