//! The docker communicator: runs commands in the build container through
//! the engine's exec API (output streamed line by line, exit code from the
//! exec's inspection) and moves files through the archive endpoints as tar
//! streams, so nothing is held whole in memory.
//!
//! It stores the engine handle, the container id and how to run things
//! (exec user, working directory, upload owner). It owns no resource: the
//! container belongs to the run step, whose cleanup removes it; temporary
//! spool files are deleted when dropped.
//!
//! Paths follow Packer: a relative remote path is relative to the
//! container's working directory; `upload_dir` copies the directory itself
//! unless the source ends with `/`, in which case its contents go into the
//! destination; uploaded files belong to the container's user when
//! `fix_upload_owner` is on.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use kiln_sdk::communicator::{
    preload_command_line, upload_then_start, CommandOutput, Communicator, CommunicatorError,
    ExitStatus, FileMeta, Preload, PreloadInput, PreloadWatch, RemoteCommand,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

use crate::client::{engine_message, DockerError};

/// The size of the pipe between the tar writer and the HTTP body.
const PIPE_SIZE: usize = 256 * 1024;

/// See the module docs.
#[derive(Clone)]
pub struct DockerCommunicator {
    docker: Docker,
    container: String,
    exec_user: Option<String>,
    workdir: String,
    /// The user to `chown -R` uploads to (`fix_upload_owner`, non-root).
    chown_to: Option<String>,
    /// Whether commands run as root (the exec user, else the container's
    /// user), so a script written by the command itself lands where an
    /// archive upload would, with the same owner.
    execs_as_root: bool,
}

/// Whether a docker `user` spec (`name`, `uid`, `user:group`; empty for
/// the image's default) is root.
fn is_root(user: &str) -> bool {
    matches!(user.split(':').next().unwrap_or(""), "" | "root" | "0")
}

impl std::fmt::Debug for DockerCommunicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerCommunicator")
            .field("container", &self.container)
            .finish()
    }
}

fn failed(e: impl std::fmt::Display) -> CommunicatorError {
    CommunicatorError::Failed(e.to_string())
}

impl DockerCommunicator {
    /// A communicator for `container`. `workdir` resolves relative paths
    /// (the container's `WorkingDir`, `/` when empty); `chown_to` is the
    /// user uploads are handed to.
    pub fn new(
        docker: Docker,
        container: impl Into<String>,
        exec_user: Option<String>,
        workdir: &str,
        chown_to: Option<String>,
    ) -> Self {
        let workdir = if workdir.is_empty() { "/" } else { workdir };
        DockerCommunicator {
            docker,
            container: container.into(),
            exec_user,
            workdir: workdir.to_string(),
            chown_to: chown_to.filter(|u| !u.is_empty() && u != "root" && u != "0"),
            execs_as_root: false,
        }
    }

    /// Records the container's configured user (`Config.User`), which
    /// commands run as when there is no exec user.
    pub fn with_container_user(mut self, user: &str) -> Self {
        self.execs_as_root = is_root(self.exec_user.as_deref().unwrap_or(user));
        self
    }

    /// The container id.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// `path` made absolute against the container's working directory and
    /// cleaned of `.` and trailing slashes.
    fn absolute(&self, path: &str) -> String {
        let joined = if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            Path::new(&self.workdir).join(path)
        };
        let mut parts: Vec<String> = Vec::new();
        for c in joined.components() {
            match c {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// Runs `argv` as `user`, streaming output to `output`. With `stdin`,
    /// those bytes go to the command's attached stdin, which is left open
    /// until the command ends; without, it has no stdin.
    async fn exec(
        &self,
        argv: Vec<String>,
        user: Option<String>,
        output: CommandOutput<'_>,
        stdin: Option<&[u8]>,
    ) -> Result<ExitStatus, DockerError> {
        let created = self
            .docker
            .create_exec(
                &self.container,
                CreateExecOptions::<String> {
                    cmd: Some(argv),
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user,
                    ..Default::default()
                },
            )
            .await
            .map_err(|source| DockerError::Api {
                context: format!("cannot create an exec in container `{}`", self.container),
                source,
            })?;
        let started = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|source| DockerError::Api {
                context: format!("cannot start an exec in container `{}`", self.container),
                source,
            })?;
        if let StartExecResults::Attached {
            output: mut out,
            mut input,
        } = started
        {
            // The input is not ended: a proxy between kiln and the engine
            // (a TLS relay, say) may turn a half-close into a full one and
            // cut the output off. The caller reads exactly what it needs.
            if let Some(bytes) = stdin {
                let sent = async {
                    input.write_all(bytes).await?;
                    input.flush().await
                };
                sent.await.map_err(|e| {
                    DockerError::Msg(format!(
                        "cannot send the input of a command in `{}`: {e}",
                        self.container
                    ))
                })?;
            }
            let mut stdout = LineBuffer::default();
            let mut stderr = LineBuffer::default();
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(|source| DockerError::Api {
                    context: format!("lost the output of a command in `{}`", self.container),
                    source,
                })?;
                match chunk {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.push(&message, output.stderr)
                    }
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => {
                        stdout.push(&message, output.stdout)
                    }
                    bollard::container::LogOutput::StdIn { .. } => {}
                }
            }
            stdout.finish(output.stdout);
            stderr.finish(output.stderr);
        }
        // The exit code can trail the end of the stream by a moment.
        for attempt in 0..200u32 {
            let inspected = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(|source| DockerError::Api {
                    context: format!("cannot inspect an exec in `{}`", self.container),
                    source,
                })?;
            if inspected.running != Some(true) {
                if let Some(code) = inspected.exit_code {
                    return Ok(ExitStatus::Code(code as i32));
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(if attempt < 20 {
                5
            } else {
                50
            }))
            .await;
        }
        Err(DockerError::Msg(format!(
            "the command in container `{}` ended but the engine reported no exit code",
            self.container
        )))
    }

    /// Hands `path` to the container's user, as Packer's
    /// `fix_upload_owner` does.
    async fn fix_owner(&self, path: &str) -> Result<(), CommunicatorError> {
        let Some(user) = &self.chown_to else {
            return Ok(());
        };
        let noop = |_: &str| {};
        let lines = std::sync::Mutex::new(Vec::<String>::new());
        let keep = |l: &str| {
            if let Ok(mut v) = lines.lock() {
                v.push(l.to_string())
            }
        };
        let status = self
            .exec(
                vec!["chown".into(), "-R".into(), user.clone(), path.to_string()],
                Some("root".into()),
                CommandOutput {
                    stdout: &noop,
                    stderr: &keep,
                },
                None,
            )
            .await
            .map_err(failed)?;
        if status != ExitStatus::Code(0) {
            let detail = lines.lock().map(|v| v.join("; ")).unwrap_or_default();
            return Err(failed(format!(
                "cannot give `{path}` to user `{user}` ({status}): {detail}"
            )));
        }
        Ok(())
    }

    /// Uploads the tar that `write` produces (on a blocking thread) at `/`
    /// of the container, streaming it through a pipe.
    async fn upload_tar<F>(&self, what: &str, write: F) -> Result<(), CommunicatorError>
    where
        F: FnOnce(&mut tar::Builder<SyncIoBridge<tokio::io::DuplexStream>>) -> io::Result<()>
            + Send
            + 'static,
    {
        let (tx, rx) = tokio::io::duplex(PIPE_SIZE);
        let bridge = SyncIoBridge::new(tx);
        let writer = tokio::task::spawn_blocking(move || {
            let mut b = tar::Builder::new(bridge);
            b.follow_symlinks(false);
            write(&mut b)?;
            let mut bridge = b.into_inner()?;
            io::Write::flush(&mut bridge)?;
            bridge.shutdown()
        });
        let result = self.put_archive(ReaderStream::new(rx)).await;
        let written = writer
            .await
            .map_err(|e| failed(format!("the tar writer for {what} stopped: {e}")))?;
        match (result, written) {
            (Ok(()), Ok(())) => Ok(()),
            // The writer's error explains a broken upload best.
            (_, Err(e)) => Err(failed(format!("cannot upload {what}: {e}"))),
            (Err(e), Ok(())) => Err(failed(format!("cannot upload {what}: {e}"))),
        }
    }

    async fn put_archive(
        &self,
        body: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    ) -> Result<(), String> {
        self.docker
            .upload_to_container(
                &self.container,
                Some(UploadToContainerOptions {
                    path: "/".into(),
                    ..Default::default()
                }),
                bollard::body_try_stream(body),
            )
            .await
            .map_err(|e| engine_message(&e))
    }

    /// The archive of `path` in the container, as a reader.
    fn archive_reader(&self, path: &str) -> impl AsyncRead + Send + Unpin + 'static {
        let stream = self
            .docker
            .download_from_container(
                &self.container,
                Some(DownloadFromContainerOptions {
                    path: path.to_string(),
                }),
            )
            .map_err(|e| io::Error::other(engine_message(&e)));
        StreamReader::new(Box::pin(stream))
    }
}

/// Splits a byte stream into lines for a callback; the last partial line
/// is flushed by [`LineBuffer::finish`].
#[derive(Default)]
struct LineBuffer(Vec<u8>);

impl LineBuffer {
    fn push(&mut self, bytes: &[u8], sink: &(dyn Fn(&str) + Send + Sync)) {
        self.0.extend_from_slice(bytes);
        while let Some(i) = self.0.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.0.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            sink(text.strip_suffix('\r').unwrap_or(&text));
        }
    }
    fn finish(&mut self, sink: &(dyn Fn(&str) + Send + Sync)) {
        if !self.0.is_empty() {
            let text = String::from_utf8_lossy(&self.0).into_owned();
            self.0.clear();
            sink(text.strip_suffix('\r').unwrap_or(&text));
        }
    }
}

/// The tar path (relative to `/`) of an absolute container path.
fn tar_path(abs: &str) -> &str {
    abs.trim_start_matches('/')
}

/// A tar header for a regular file of `size` bytes owned by root.
fn file_header(meta: &FileMeta, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(meta.mode.unwrap_or(0o644));
    h.set_uid(0);
    h.set_gid(0);
    let mtime = meta
        .mtime
        .unwrap_or_else(std::time::SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    h.set_mtime(mtime);
    h
}

/// The header blocks (with GNU long-name entries when needed) for `path`.
fn header_bytes(header: &mut tar::Header, path: &str) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    // With an empty reader, `append_data` writes only the header blocks.
    b.append_data(header, path, io::empty())?;
    // `into_inner` would add the end-of-archive blocks: take the bytes as
    // they are.
    Ok(b.get_ref().clone())
}

/// Padding after `size` bytes of entry data.
fn padding(size: u64) -> usize {
    ((512 - (size % 512)) % 512) as usize
}

/// Whether `rel` (relative to the uploaded directory) is excluded.
fn excluded(set: &globset::GlobSet, rel: &Path) -> bool {
    set.is_match(rel)
        || rel
            .ancestors()
            .skip(1)
            .any(|a| !a.as_os_str().is_empty() && set.is_match(a))
}

fn glob_set(exclude: &[String]) -> Result<globset::GlobSet, CommunicatorError> {
    let mut b = globset::GlobSetBuilder::new();
    for p in exclude {
        let g = globset::Glob::new(p)
            .map_err(|e| failed(format!("invalid exclude pattern `{p}`: {e}")))?;
        b.add(g);
    }
    b.build()
        .map_err(|e| failed(format!("invalid exclude patterns: {e}")))
}

/// Appends `dir`'s tree to `b` under `prefix`, skipping excluded paths.
fn append_tree<W: io::Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    dir: &Path,
    prefix: &Path,
    exclude: &globset::GlobSet,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read `{}`: {e}", dir.display())))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if excluded(exclude, rel) {
            continue;
        }
        let name = prefix.join(e.file_name());
        let meta = std::fs::symlink_metadata(&path)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        if meta.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, &name, io::empty())?;
            append_tree(b, root, &path, &name, exclude)?;
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            h.set_size(0);
            b.append_link(&mut h, &name, &target)?;
        } else if meta.is_file() {
            let f = std::fs::File::open(&path).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot open `{}`: {err}", path.display()),
                )
            })?;
            b.append_data(&mut h, &name, f)?;
        }
    }
    Ok(())
}

/// Reads one 512-byte tar block; `None` at a clean end of stream.
async fn read_block(r: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<[u8; 512]>> {
    let mut block = [0u8; 512];
    let mut filled = 0;
    while filled < 512 {
        let n = r.read(&mut block[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated tar header",
                ))
            };
        }
        filled += n;
    }
    Ok(Some(block))
}

/// Skips `n` bytes of `r`.
async fn skip(r: &mut (impl AsyncRead + Unpin), n: u64) -> io::Result<()> {
    let copied = tokio::io::copy(&mut r.take(n), &mut tokio::io::sink()).await?;
    if copied != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated tar entry",
        ));
    }
    Ok(())
}

#[async_trait]
impl Communicator for DockerCommunicator {
    /// Every command runs as `/bin/sh -c`.
    fn runs_posix_sh(&self) -> bool {
        true
    }

    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        self.exec(
            vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("({})", command.command),
            ],
            self.exec_user.clone(),
            output,
            None,
        )
        .await
        .map_err(failed)
    }

    /// One exec instead of an archive upload and an exec: the script goes
    /// to the attached stdin of a `sh` wrapper that writes it out, then
    /// runs the command. Each engine call costs tens of milliseconds.
    async fn upload_and_start(
        &self,
        preload: Preload<'_>,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        // A command that is not root could not write everywhere an
        // archive upload can, nor hand the file to another owner.
        if !self.execs_as_root || self.chown_to.is_some() {
            return upload_then_start(self, preload, command, output).await;
        }
        let abs = self.absolute(preload.destination);
        let preload = Preload {
            destination: &abs,
            ..preload
        };
        let watch = PreloadWatch::default();
        let stderr = |l: &str| watch.stderr(l, output.stderr);
        let line = preload_command_line(&preload, &command.command, PreloadInput::Exactly);
        let r = self
            .exec(
                vec!["/bin/sh".into(), "-c".into(), line],
                self.exec_user.clone(),
                CommandOutput {
                    stdout: output.stdout,
                    stderr: &stderr,
                },
                Some(preload.content),
            )
            .await
            .map_err(failed);
        watch.finish(&preload, r)
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let abs = self.absolute(destination);
        if abs == "/" {
            return Err(failed("cannot upload a file to `/`"));
        }
        // The tar header needs the size up front: without it, spool to a
        // temporary file (on disk, not in memory).
        let mut spool;
        let (size, reader): (u64, &mut (dyn AsyncRead + Send + Unpin)) = match meta.size {
            Some(size) => (size, source),
            None => {
                let (file, size) = kiln_sdk::communicator::spool_to_temp_file(source)
                    .await
                    .map_err(|e| failed(format!("cannot spool the upload to `{abs}`: {e}")))?;
                spool = file;
                (size, &mut spool)
            }
        };
        let mut header = file_header(&meta, size);
        let head = header_bytes(&mut header, tar_path(&abs))
            .map_err(|e| failed(format!("cannot make a tar header for `{abs}`: {e}")))?;
        let (mut tx, rx) = tokio::io::duplex(PIPE_SIZE);
        let pump = async move {
            tx.write_all(&head).await?;
            let copied = tokio::io::copy(&mut reader.take(size), &mut tx).await?;
            if copied != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the source ended after {copied} of {size} bytes"),
                ));
            }
            tx.write_all(&vec![0u8; padding(size) + 1024]).await?;
            tx.shutdown().await
        };
        let (pumped, put) = tokio::join!(pump, self.put_archive(ReaderStream::new(rx)));
        match (pumped, put) {
            (Err(e), _) => return Err(failed(format!("cannot upload to `{abs}`: {e}"))),
            (Ok(()), Err(e)) => return Err(failed(format!("cannot upload to `{abs}`: {e}"))),
            (Ok(()), Ok(())) => {}
        }
        self.fix_owner(&abs).await
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        use std::os::unix::ffi::OsStrExt;
        let contents_only = source.as_os_str().as_bytes().ends_with(b"/");
        let meta = tokio::fs::metadata(source)
            .await
            .map_err(|e| failed(format!("cannot read `{}`: {e}", source.display())))?;
        if !meta.is_dir() {
            return Err(failed(format!("`{}` is not a directory", source.display())));
        }
        let dest = self.absolute(destination);
        let target = if contents_only {
            dest.clone()
        } else {
            let base = source
                .file_name()
                .ok_or_else(|| failed(format!("`{}` has no directory name", source.display())))?;
            self.absolute(&format!("{dest}/{}", base.to_string_lossy()))
        };
        let set = glob_set(exclude)?;
        let root = source.to_path_buf();
        let prefix = PathBuf::from(tar_path(&target));
        let what = format!("`{}` to `{target}`", source.display());
        self.upload_tar(&what, move |b| {
            if !contents_only && !prefix.as_os_str().is_empty() {
                let mut h = tar::Header::new_gnu();
                h.set_metadata(&std::fs::metadata(&root)?);
                h.set_uid(0);
                h.set_gid(0);
                h.set_size(0);
                b.append_data(&mut h, &prefix, io::empty())?;
            }
            append_tree(b, &root, &root, &prefix, &set)
        })
        .await?;
        self.fix_owner(&target).await
    }

    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let abs = self.absolute(source);
        let mut r = self.archive_reader(&abs);
        let err = |e: io::Error| failed(format!("cannot download `{abs}`: {e}"));
        loop {
            let Some(block) = read_block(&mut r).await.map_err(err)? else {
                return Err(failed(format!(
                    "cannot download `{abs}`: the archive is empty"
                )));
            };
            if block.iter().all(|b| *b == 0) {
                return Err(failed(format!(
                    "cannot download `{abs}`: the archive is empty"
                )));
            }
            let header = tar::Header::from_byte_slice(&block);
            let size = header.entry_size().map_err(err)?;
            match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let copied = tokio::io::copy(&mut (&mut r).take(size), destination)
                        .await
                        .map_err(err)?;
                    if copied != size {
                        return Err(failed(format!("cannot download `{abs}`: truncated")));
                    }
                    destination.flush().await.map_err(err)?;
                    return Ok(());
                }
                tar::EntryType::Directory => {
                    return Err(failed(format!(
                        "cannot download `{abs}`: it is a directory; download it as a directory"
                    )))
                }
                tar::EntryType::Symlink => {
                    return Err(failed(format!(
                        "cannot download `{abs}`: it is a symbolic link"
                    )))
                }
                // PAX and GNU long-name records precede the real entry.
                _ => skip(&mut r, size + padding(size) as u64)
                    .await
                    .map_err(err)?,
            }
        }
    }

    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let abs = self.absolute(source);
        let set = glob_set(exclude)?;
        let reader = SyncIoBridge::new(self.archive_reader(&abs));
        let dest = destination.to_path_buf();
        let shown = abs.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            std::fs::create_dir_all(&dest)?;
            let mut archive = tar::Archive::new(reader);
            archive.set_preserve_permissions(true);
            for entry in archive.entries()? {
                let mut entry = entry?;
                let path = entry.path()?.into_owned();
                // The archive's first component is the directory's own name.
                let rel: PathBuf = path.components().skip(1).collect();
                if rel.as_os_str().is_empty() {
                    if entry.header().entry_type() != tar::EntryType::Directory {
                        return Err(io::Error::other(format!("`{shown}` is not a directory")));
                    }
                    continue;
                }
                if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                    return Err(io::Error::other(format!(
                        "unsafe path `{}` in the archive",
                        path.display()
                    )));
                }
                if excluded(&set, &rel) {
                    continue;
                }
                let out = dest.join(&rel);
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                entry.unpack(&out).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot write `{}`: {e}", out.display()))
                })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| failed(format!("the download of `{abs}` stopped: {e}")))?
        .map_err(|e| failed(format!("cannot download `{abs}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_splits_and_flushes() {
        let seen = std::sync::Mutex::new(Vec::<String>::new());
        let sink = |l: &str| seen.lock().unwrap().push(l.to_string());
        let mut b = LineBuffer::default();
        b.push(b"a\nb", &sink);
        b.push(b"c\r\nd", &sink);
        b.finish(&sink);
        assert_eq!(*seen.lock().unwrap(), ["a", "bc", "d"]);
    }

    #[test]
    fn header_bytes_handle_long_names() {
        let long = format!("tmp/{}", "x".repeat(150));
        let mut h = file_header(&FileMeta::default(), 3);
        let bytes = header_bytes(&mut h, &long).unwrap();
        // A GNU long-name record, its data block, then the real header.
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.len() >= 3 * 512);
        let mut short = file_header(&FileMeta::default(), 3);
        assert_eq!(header_bytes(&mut short, "tmp/x").unwrap().len(), 512);
        assert_eq!(padding(3), 509);
        assert_eq!(padding(512), 0);
    }

    #[test]
    fn exclusion_matches_paths_and_their_parents() {
        let set = glob_set(&["*.log".into(), "cache".into()]).unwrap();
        assert!(excluded(&set, Path::new("a.log")));
        assert!(excluded(&set, Path::new("cache/x")));
        assert!(!excluded(&set, Path::new("keep/x")));
        assert!(glob_set(&["[".into()]).is_err());
    }

    #[test]
    fn relative_paths_resolve_against_the_workdir() {
        let docker =
            Docker::connect_with_http("http://127.0.0.1:1", 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let c = DockerCommunicator::new(docker, "c", None, "/app", Some("root".into()));
        assert_eq!(c.absolute("x/y.txt"), "/app/x/y.txt");
        assert_eq!(c.absolute("/tmp/a/"), "/tmp/a");
        assert_eq!(c.absolute("../etc/./p"), "/etc/p");
        assert!(c.chown_to.is_none(), "root needs no chown");
    }
}
