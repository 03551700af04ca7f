//! [`SshCommunicator`]: kiln's `Communicator` over SSH. Commands run in
//! exec channels with their output streamed line by line; files move over
//! SFTP (default) or the SCP protocol, streamed in fixed-size chunks.
//!
//! It stores the current connection and reconnects on demand: when the
//! session has dropped (a reboot, `expect_disconnect`), the next operation
//! makes one new connection attempt; provisioners retry around that with
//! `start_retry_timeout`. Cleanup: a command whose future is dropped (Ctrl-C)
//! gets SIGTERM on the remote side, SIGKILL after a grace period, and its
//! channel is closed; dropping the communicator closes the connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use kiln_sdk::communicator::{
    preload_command_line, upload_then_start, CommandOutput, Communicator, CommunicatorError,
    ExitStatus, FileMeta, Preload, PreloadInput, PreloadWatch, RemoteCommand,
};
use russh::{ChannelMsg, Sig};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, Mutex, OnceCell};

use crate::config::{SshConfig, TransferMethod};
use crate::connect::{connect_once, Connection};

/// How long a cancelled remote command gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// Transfer chunk size.
const CHUNK: usize = 256 * 1024;

/// Streams `src` into `dst` in `CHUNK`-sized pieces, never holding the whole
/// file in memory, and returns how many bytes were copied. `on_read` and
/// `on_write` turn an I/O error into a message naming the side that failed.
async fn copy_chunks<R, W>(
    src: &mut R,
    dst: &mut W,
    on_read: impl Fn(std::io::Error) -> CommunicatorError,
    on_write: impl Fn(std::io::Error) -> CommunicatorError,
) -> Result<u64, CommunicatorError>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; CHUNK];
    let mut copied = 0u64;
    loop {
        let n = src.read(&mut buf).await.map_err(&on_read)?;
        if n == 0 {
            return Ok(copied);
        }
        dst.write_all(&buf[..n]).await.map_err(&on_write)?;
        copied += n as u64;
    }
}

/// One live connection and its lazily opened SFTP session.
struct Live {
    conn: Connection,
    sftp: OnceCell<SftpSession>,
}

/// See the module docs.
pub struct SshCommunicator {
    config: Arc<SshConfig>,
    host: String,
    live: Mutex<Option<Arc<Live>>>,
    /// The tasks driving exec channels, so [`SshCommunicator::close`] can
    /// wait for cancelled commands to be stopped.
    tasks: tokio_util::task::TaskTracker,
}

fn failed(m: impl Into<String>) -> CommunicatorError {
    CommunicatorError::Failed(m.into())
}

pub use kiln_sdk::communicator::shell_quote;

fn unix_secs(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32)
        .unwrap_or(0)
}

/// What the exec task reports.
enum Event {
    Stdout(String),
    Stderr(String),
    Done(Result<ExitStatus, String>),
}

/// Splits a byte stream into lines, keeping a partial last line.
#[derive(Default)]
struct Lines(Vec<u8>);

impl Lines {
    fn push(&mut self, data: &[u8], mut emit: impl FnMut(String)) {
        self.0.extend_from_slice(data);
        while let Some(i) = self.0.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.0.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            emit(String::from_utf8_lossy(&line).into_owned());
        }
    }
    fn finish(&mut self, emit: impl FnMut(String)) {
        if !self.0.is_empty() {
            self.0.push(b'\n');
            self.push(&[], emit);
        }
    }
}

/// Sends the cancel request to the exec task unless the command finished.
struct CancelOnDrop(Option<oneshot::Sender<()>>);
impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

impl SshCommunicator {
    /// A communicator around an already opened connection to `host`.
    pub fn new(config: Arc<SshConfig>, host: String, conn: Connection) -> Self {
        SshCommunicator {
            config,
            host,
            live: Mutex::new(Some(Arc::new(Live {
                conn,
                sftp: OnceCell::new(),
            }))),
            tasks: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Waits (up to 10 s) until every cancelled command has been stopped
    /// on the remote side, then closes the connection. Call it before the
    /// process exits; dropping alone cannot wait.
    pub async fn close(&self) {
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tasks.wait()).await;
        if let Some(l) = self.live.lock().await.take() {
            let _ = l
                .conn
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }

    /// The host this communicator talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    async fn live(&self) -> Result<Arc<Live>, CommunicatorError> {
        let mut g = self.live.lock().await;
        if let Some(l) = &*g {
            if !l.conn.is_closed() {
                return Ok(l.clone());
            }
        }
        *g = None;
        let conn = connect_once(&self.config, &self.host).await.map_err(|e| {
            failed(format!(
                "the ssh connection dropped and reconnecting failed: {e}"
            ))
        })?;
        let l = Arc::new(Live {
            conn,
            sftp: OnceCell::new(),
        });
        *g = Some(l.clone());
        Ok(l)
    }

    async fn forget(&self, l: &Arc<Live>) {
        let mut g = self.live.lock().await;
        if g.as_ref().is_some_and(|c| Arc::ptr_eq(c, l)) {
            *g = None;
        }
    }

    async fn channel(&self) -> Result<russh::Channel<russh::client::Msg>, CommunicatorError> {
        let l = self.live().await?;
        match l.conn.handle.channel_open_session().await {
            Ok(c) => Ok(c),
            Err(_) => {
                self.forget(&l).await;
                let l = self.live().await?;
                l.conn
                    .handle
                    .channel_open_session()
                    .await
                    .map_err(|e| failed(format!("cannot open an ssh session channel: {e}")))
            }
        }
    }

    async fn sftp(&self) -> Result<(Arc<Live>, ()), CommunicatorError> {
        let l = self.live().await?;
        let opened =
            l.sftp
                .get_or_try_init(|| async {
                    let ch =
                        l.conn.handle.channel_open_session().await.map_err(|e| {
                            failed(format!("cannot open an ssh channel for sftp: {e}"))
                        })?;
                    ch.request_subsystem(true, "sftp").await.map_err(|e| {
                        failed(format!("the server refused the sftp subsystem: {e}"))
                    })?;
                    let cfg = russh_sftp::client::Config {
                        max_concurrent_writes: 64,
                        max_concurrent_reads: 64,
                        request_timeout_secs: 60,
                        ..Default::default()
                    };
                    SftpSession::new_with_config(ch.into_stream(), cfg)
                        .await
                        .map_err(|e| failed(format!("cannot start sftp: {e}")))
                })
                .await;
        match opened {
            Ok(_) => Ok((l, ())),
            Err(e) => {
                self.forget(&l).await;
                Err(e)
            }
        }
    }

    async fn sftp_upload(
        &self,
        dest: &str,
        src: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let (l, ()) = self.sftp().await?;
        let sftp = l
            .sftp
            .get()
            .ok_or_else(|| failed("sftp session vanished"))?;
        let mut attrs = FileAttributes::empty();
        attrs.permissions = meta.mode;
        let mut f = sftp
            .open_with_flags_and_attributes(
                dest,
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                attrs,
            )
            .await
            .map_err(|e| failed(format!("cannot create remote file `{dest}`: {e}")))?;
        copy_chunks(
            src,
            &mut f,
            |e| failed(format!("cannot read the source for `{dest}`: {e}")),
            |e| failed(format!("cannot write remote file `{dest}`: {e}")),
        )
        .await?;
        f.shutdown()
            .await
            .map_err(|e| failed(format!("cannot finish writing remote file `{dest}`: {e}")))?;
        if meta.mode.is_some() || meta.mtime.is_some() {
            let mut attrs = FileAttributes::empty();
            attrs.permissions = meta.mode;
            if let Some(t) = meta.mtime {
                attrs.mtime = Some(unix_secs(t));
                attrs.atime = Some(unix_secs(t));
            }
            sftp.set_metadata(dest, attrs)
                .await
                .map_err(|e| failed(format!("cannot set the mode and time of `{dest}`: {e}")))?;
        }
        Ok(())
    }

    async fn sftp_mkdir_all(&self, dir: &str) -> Result<(), CommunicatorError> {
        let (l, ()) = self.sftp().await?;
        let sftp = l
            .sftp
            .get()
            .ok_or_else(|| failed("sftp session vanished"))?;
        let mut path = String::new();
        for (i, part) in dir.split('/').enumerate() {
            if i > 0 {
                path.push('/');
            }
            path.push_str(part);
            if part.is_empty() || part == "." {
                continue;
            }
            if sftp.metadata(path.as_str()).await.is_ok_and(|m| m.is_dir()) {
                continue;
            }
            if let Err(e) = sftp.create_dir(path.as_str()).await {
                if !sftp.metadata(path.as_str()).await.is_ok_and(|m| m.is_dir()) {
                    return Err(failed(format!(
                        "cannot create remote directory `{path}`: {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Runs `command` and returns its output; for internal helpers.
    async fn run_quiet(&self, command: &str) -> Result<(), CommunicatorError> {
        let err = std::sync::Mutex::new(String::new());
        let out = CommandOutput {
            stdout: &|_| {},
            stderr: &|l| err.lock().unwrap_or_else(|e| e.into_inner()).push_str(l),
        };
        let status = self
            .start(
                &RemoteCommand {
                    command: command.to_string(),
                },
                out,
            )
            .await?;
        if status != ExitStatus::Code(0) {
            return Err(failed(format!(
                "`{command}` failed ({status}): {}",
                err.into_inner().unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Opens an exec channel running `command` as a byte stream (for SCP).
    async fn exec_stream(
        &self,
        command: &str,
    ) -> Result<russh::ChannelStream<russh::client::Msg>, CommunicatorError> {
        let ch = self.channel().await?;
        ch.exec(true, command.as_bytes())
            .await
            .map_err(|e| failed(format!("cannot run `{command}`: {e}")))?;
        Ok(ch.into_stream())
    }

    async fn scp_upload(
        &self,
        dest: &str,
        src: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let (dir, name) = match dest.rsplit_once('/') {
            Some(("", n)) => ("/", n),
            Some((d, n)) => (d, n),
            None => (".", dest),
        };
        // SCP announces the size first: spool a stream of unknown size.
        let mut spooled;
        let (reader, size): (&mut (dyn AsyncRead + Send + Unpin), u64) = match meta.size {
            Some(s) => (src, s),
            None => {
                let (file, n) = kiln_sdk::communicator::spool_to_temp_file(src)
                    .await
                    .map_err(|e| failed(format!("cannot spool the source of `{dest}`: {e}")))?;
                spooled = file;
                (&mut spooled, n)
            }
        };
        let cmd = format!("scp -pt {}", shell_quote(dir));
        let mut s = self.exec_stream(&cmd).await?;
        scp_ack(&mut s, dest).await?;
        scp_send_file(&mut s, dest, name, reader, size, meta).await?;
        s.shutdown().await.ok();
        Ok(())
    }

    async fn scp_download(
        &self,
        src: &str,
        dest: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let cmd = format!("scp -f {}", shell_quote(src));
        let s = self.exec_stream(&cmd).await?;
        let mut s = BufReader::new(s);
        let io = |e: std::io::Error| failed(format!("scp download of `{src}`: {e}"));
        s.get_mut().write_all(&[0]).await.map_err(io)?;
        let mut line = String::new();
        loop {
            line.clear();
            let n = s.read_line(&mut line).await.map_err(io)?;
            if n == 0 {
                return Err(failed(format!(
                    "scp download of `{src}`: the remote scp ended early"
                )));
            }
            match line.as_bytes()[0] {
                b'T' => {
                    s.get_mut().write_all(&[0]).await.map_err(io)?;
                }
                b'C' => break,
                1 | 2 => {
                    return Err(failed(format!(
                        "scp download of `{src}`: {}",
                        line[1..].trim()
                    )))
                }
                _ => {
                    return Err(failed(format!(
                        "scp download of `{src}`: unexpected `{}`",
                        line.trim()
                    )))
                }
            }
        }
        let size: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                failed(format!(
                    "scp download of `{src}`: bad header `{}`",
                    line.trim()
                ))
            })?;
        s.get_mut().write_all(&[0]).await.map_err(io)?;
        let mut limited = (&mut s).take(size);
        let copied = tokio::io::copy(&mut limited, dest).await.map_err(io)?;
        if copied != size {
            return Err(failed(format!(
                "scp download of `{src}`: got {copied} of {size} bytes"
            )));
        }
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).await.map_err(io)?;
        s.get_mut().write_all(&[0]).await.map_err(io)?;
        s.get_mut().shutdown().await.ok();
        dest.flush().await.map_err(io)?;
        Ok(())
    }
}

/// The error of an operation cut short by `ssh_read_write_timeout`.
fn rw_timeout_message(host: &str, timeout: Duration) -> String {
    format!(
        "the connection to `{host}` was closed: nothing could be read or written for {} (`ssh_read_write_timeout`)",
        kiln_sdk::duration::format_go(timeout)
    )
}

/// Sends `signal` to every remote process whose environment carries
/// `KILN_RUN_ID=<run_id>` (Linux `/proc`), over a fresh channel.
async fn kill_marked(live: &Live, run_id: &str, signal: &str) {
    let cmd = format!(
        "for p in $(grep -las 'KILN_RUN_ID={run_id}' /proc/[0-9]*/environ | cut -d/ -f3); do kill -{signal} $p 2>/dev/null; done; true"
    );
    if let Ok(ch) = live.conn.handle.channel_open_session().await {
        let mut ch = ch;
        if ch.exec(true, cmd.as_bytes()).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(m) = ch.wait().await {
                    if matches!(m, ChannelMsg::Close) {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

async fn scp_ack(s: &mut (impl AsyncRead + Unpin), what: &str) -> Result<(), CommunicatorError> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await.map_err(|e| {
        failed(format!(
            "scp upload of `{what}`: the remote scp did not answer: {e}"
        ))
    })?;
    if b[0] == 0 {
        return Ok(());
    }
    let mut msg = Vec::new();
    let mut c = [0u8; 1];
    while s.read_exact(&mut c).await.is_ok() && c[0] != b'\n' {
        msg.push(c[0]);
    }
    Err(failed(format!(
        "scp upload of `{what}`: {}",
        String::from_utf8_lossy(&msg).trim()
    )))
}

async fn scp_send_file(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
    what: &str,
    name: &str,
    src: &mut (dyn AsyncRead + Send + Unpin),
    size: u64,
    meta: FileMeta,
) -> Result<(), CommunicatorError> {
    let io = |e: std::io::Error| failed(format!("scp upload of `{what}`: {e}"));
    if let Some(t) = meta.mtime {
        let t = unix_secs(t);
        s.write_all(format!("T{t} 0 {t} 0\n").as_bytes())
            .await
            .map_err(io)?;
        scp_ack(s, what).await?;
    }
    let mode = meta.mode.unwrap_or(0o644) & 0o7777;
    s.write_all(format!("C{mode:04o} {size} {name}\n").as_bytes())
        .await
        .map_err(io)?;
    scp_ack(s, what).await?;
    let mut limited = src.take(size);
    let sent = copy_chunks(&mut limited, s, io, io).await?;
    if sent != size {
        return Err(failed(format!(
            "scp upload of `{what}`: the source ended after {sent} of {size} bytes"
        )));
    }
    s.write_all(&[0]).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    scp_ack(s, what).await
}

/// One entry of a local directory walk, relative to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Dir(String),
    File(String),
}

/// Walks `root` depth-first in name order, skipping entries matching one
/// of `exclude` (globs on the path relative to `root`; an excluded
/// directory is skipped whole). Symlinks are followed, as Packer does.
pub(crate) fn walk(root: &Path, exclude: &[String]) -> Result<Vec<Entry>, CommunicatorError> {
    let mut b = globset::GlobSetBuilder::new();
    for p in exclude {
        let g = globset::Glob::new(p.trim_end_matches('/'))
            .map_err(|e| failed(format!("bad exclude pattern `{p}`: {e}")))?;
        b.add(g);
    }
    let set = b
        .build()
        .map_err(|e| failed(format!("bad exclude patterns: {e}")))?;
    let mut out = Vec::new();
    fn rec(
        root: &Path,
        rel: &str,
        set: &globset::GlobSet,
        out: &mut Vec<Entry>,
    ) -> Result<(), CommunicatorError> {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| failed(format!("cannot read directory `{}`: {e}", dir.display())))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if set.is_match(&r) {
                continue;
            }
            let p = root.join(&r);
            let m = std::fs::metadata(&p)
                .map_err(|e| failed(format!("cannot stat `{}`: {e}", p.display())))?;
            if m.is_dir() {
                out.push(Entry::Dir(r.clone()));
                rec(root, &r, set, out)?;
            } else {
                out.push(Entry::File(r));
            }
        }
        Ok(())
    }
    rec(root, "", &set, &mut out)?;
    Ok(out)
}

/// Packer's rule: `src/` uploads the contents into `dst`; `src` uploads
/// the directory itself into `dst/<basename of src>`.
pub(crate) fn upload_root(destination: &str, source: &Path) -> String {
    let s = source.to_string_lossy();
    if s.ends_with('/') {
        return destination.to_string();
    }
    let base = source
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base.is_empty() {
        destination.to_string()
    } else {
        format!("{}/{base}", destination.trim_end_matches('/'))
    }
}

fn meta_of(p: &Path) -> Result<FileMeta, CommunicatorError> {
    std::fs::metadata(p)
        .map(|m| FileMeta::from_metadata(&m))
        .map_err(|e| failed(format!("cannot stat `{}`: {e}", p.display())))
}

impl SshCommunicator {
    /// Runs `command` in an exec channel. `stdin` (then the end of input)
    /// is sent right behind the exec request, so a preload costs no round
    /// trip; it must be `None` with a pty.
    async fn start_impl(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
        stdin: Option<&[u8]>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let mut ch = self.channel().await?;
        if self.config.pty {
            ch.request_pty(true, "xterm", 80, 40, 0, 0, &[])
                .await
                .map_err(|e| failed(format!("cannot request a pty: {e}")))?;
        }
        if crate::connect::forwarded_agent(&self.config).is_some() {
            // As Packer: ask, and carry on without if the server refuses
            // (`AllowAgentForwarding no`).
            let _ = ch.agent_forward(false).await;
        }
        // OpenSSH refuses `signal` requests for root logins (no privilege
        // separation after auth), so every command carries a marker in its
        // environment: cancelling also kills the processes that have it.
        let run_id = format!("{:016x}", rand::random::<u64>());
        let line = format!(
            "KILN_RUN_ID={run_id}; export KILN_RUN_ID; {}",
            command.command
        );
        ch.exec(true, line.as_bytes())
            .await
            .map_err(|e| failed(format!("cannot start `{}`: {e}", command.command)))?;
        // As Packer (whose commands get an empty stdin): the input ends
        // right away, after `stdin` when given, so a command that reads
        // stdin does not wait forever. A pty's input is left open: an end
        // of input there would hang up the terminal.
        let input_closed = !self.config.pty;
        if input_closed {
            let sent = async {
                if let Some(bytes) = stdin {
                    ch.data(bytes).await?;
                }
                ch.eof().await
            };
            sent.await.map_err(|e| {
                failed(format!(
                    "cannot send the input of `{}`: {e}",
                    command.command
                ))
            })?;
        }
        let live = self.live().await?;
        let (tx, mut rx) = mpsc::channel::<Event>(256);
        let (cancel_tx, mut cancel_rx) = oneshot::channel::<()>();
        let rw_timeout = self.config.read_write_timeout;
        let host = self.host.clone();
        self.tasks.spawn(async move {
            let (mut out, mut err) = (Lines::default(), Lines::default());
            let mut status: Option<ExitStatus> = None;
            let mut cancelled = false;
            let mut kill_at: Option<tokio::time::Instant> = None;
            loop {
                let wait = ch.wait();
                let kill = async {
                    match kill_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                };
                let msg = tokio::select! {
                    m = wait => m,
                    r = &mut cancel_rx, if !cancelled => {
                        cancelled = true;
                        if r.is_err() {
                            // The caller finished normally.
                            continue;
                        }
                        let _ = ch.signal(Sig::TERM).await;
                        kill_marked(&live, &run_id, "TERM").await;
                        if !input_closed {
                            let _ = ch.eof().await;
                        }
                        kill_at = Some(tokio::time::Instant::now() + KILL_GRACE);
                        continue;
                    }
                    _ = kill => {
                        let _ = ch.signal(Sig::KILL).await;
                        kill_marked(&live, &run_id, "KILL").await;
                        let _ = ch.close().await;
                        kill_at = Some(tokio::time::Instant::now() + KILL_GRACE);
                        continue;
                    }
                };
                let send = |e: Event| {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(e).await;
                    }
                };
                match msg {
                    Some(ChannelMsg::Data { data }) => {
                        let mut v = Vec::new();
                        out.push(&data, |l| v.push(l));
                        for l in v {
                            send(Event::Stdout(l)).await;
                        }
                    }
                    Some(ChannelMsg::ExtendedData { data, .. }) => {
                        let mut v = Vec::new();
                        err.push(&data, |l| v.push(l));
                        for l in v {
                            send(Event::Stderr(l)).await;
                        }
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        status = Some(ExitStatus::Code(exit_status as i32));
                    }
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        let name = match signal_name {
                            Sig::Custom(s) => s,
                            other => format!("{other:?}"),
                        };
                        status = Some(ExitStatus::RemoteSignal(name));
                    }
                    Some(ChannelMsg::Close) | None => break,
                    Some(_) => {}
                }
            }
            let mut v = Vec::new();
            out.finish(|l| v.push(Event::Stdout(l)));
            err.finish(|l| v.push(Event::Stderr(l)));
            for e in v {
                let _ = tx.send(e).await;
            }
            let done = match status {
                Some(s) => Ok(s),
                None if live.conn.timed_out() => {
                    Err(rw_timeout_message(&host, rw_timeout.unwrap_or_default()))
                }
                None => Ok(ExitStatus::Disconnected),
            };
            let _ = tx.send(Event::Done(done)).await;
        });
        let mut guard = CancelOnDrop(Some(cancel_tx));
        while let Some(e) = rx.recv().await {
            match e {
                Event::Stdout(l) => (output.stdout)(&l),
                Event::Stderr(l) => (output.stderr)(&l),
                Event::Done(Ok(s)) => {
                    guard.0 = None;
                    return Ok(s);
                }
                Event::Done(Err(m)) => return Err(failed(m)),
            }
        }
        Ok(ExitStatus::Disconnected)
    }

    async fn upload_impl(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        match self.config.transfer {
            TransferMethod::Sftp => self.sftp_upload(destination, source, meta).await,
            TransferMethod::Scp => self.scp_upload(destination, source, meta).await,
        }
    }

    async fn upload_dir_impl(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let entries = walk(source, exclude)?;
        let root = upload_root(destination, source);
        match self.config.transfer {
            TransferMethod::Sftp => {
                self.sftp_mkdir_all(&root).await?;
                for e in entries {
                    match e {
                        Entry::Dir(rel) => self.sftp_mkdir_all(&format!("{root}/{rel}")).await?,
                        Entry::File(rel) => {
                            let local = source.join(&rel);
                            let meta = meta_of(&local)?;
                            let mut f = tokio::fs::File::open(&local).await.map_err(|e| {
                                failed(format!("cannot open `{}`: {e}", local.display()))
                            })?;
                            self.sftp_upload(&format!("{root}/{rel}"), &mut f, meta)
                                .await?;
                        }
                    }
                }
                Ok(())
            }
            TransferMethod::Scp => {
                self.run_quiet(&format!("mkdir -p {}", shell_quote(&root)))
                    .await?;
                let mut s = self
                    .exec_stream(&format!("scp -prt {}", shell_quote(&root)))
                    .await?;
                scp_ack(&mut s, &root).await?;
                let io = |e: std::io::Error| failed(format!("scp upload to `{root}`: {e}"));
                let mut open: Vec<String> = Vec::new();
                for e in entries {
                    let rel = match &e {
                        Entry::Dir(r) | Entry::File(r) => r.clone(),
                    };
                    let parent = rel.rsplit_once('/').map(|p| p.0.to_string());
                    while let Some(top) = open.last() {
                        if parent.as_deref() == Some(top.as_str()) {
                            break;
                        }
                        s.write_all(b"E\n").await.map_err(io)?;
                        scp_ack(&mut s, &root).await?;
                        open.pop();
                    }
                    let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                    let local = source.join(&rel);
                    let meta = meta_of(&local)?;
                    match e {
                        Entry::Dir(_) => {
                            let mode = meta.mode.unwrap_or(0o755) & 0o7777;
                            s.write_all(format!("D{mode:04o} 0 {name}\n").as_bytes())
                                .await
                                .map_err(io)?;
                            scp_ack(&mut s, &root).await?;
                            open.push(rel);
                        }
                        Entry::File(_) => {
                            let mut f = tokio::fs::File::open(&local).await.map_err(|e| {
                                failed(format!("cannot open `{}`: {e}", local.display()))
                            })?;
                            let size = meta.size.unwrap_or(0);
                            scp_send_file(
                                &mut s,
                                &format!("{root}/{rel}"),
                                &name,
                                &mut f,
                                size,
                                meta,
                            )
                            .await?;
                        }
                    }
                }
                for _ in open {
                    s.write_all(b"E\n").await.map_err(io)?;
                    scp_ack(&mut s, &root).await?;
                }
                s.shutdown().await.ok();
                Ok(())
            }
        }
    }

    async fn download_impl(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        if self.config.transfer == TransferMethod::Scp {
            return self.scp_download(source, destination).await;
        }
        let (l, ()) = self.sftp().await?;
        let sftp = l
            .sftp
            .get()
            .ok_or_else(|| failed("sftp session vanished"))?;
        let mut f = sftp
            .open(source)
            .await
            .map_err(|e| failed(format!("cannot open remote file `{source}`: {e}")))?;
        copy_chunks(
            &mut f,
            destination,
            |e| failed(format!("cannot read remote file `{source}`: {e}")),
            |e| failed(format!("cannot write the download of `{source}`: {e}")),
        )
        .await?;
        destination
            .flush()
            .await
            .map_err(|e| failed(format!("cannot write the download of `{source}`: {e}")))?;
        Ok(())
    }

    async fn download_dir_impl(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let (l, ()) = self.sftp().await?;
        let sftp = l
            .sftp
            .get()
            .ok_or_else(|| failed("sftp session vanished"))?;
        let mut set = globset::GlobSetBuilder::new();
        for p in exclude {
            set.add(
                globset::Glob::new(p.trim_end_matches('/'))
                    .map_err(|e| failed(format!("bad exclude pattern `{p}`: {e}")))?,
            );
        }
        let set = set
            .build()
            .map_err(|e| failed(format!("bad exclude patterns: {e}")))?;
        let root = source.trim_end_matches('/').to_string();
        let mut stack: Vec<(String, PathBuf)> = vec![(String::new(), destination.to_path_buf())];
        while let Some((rel, local)) = stack.pop() {
            tokio::fs::create_dir_all(&local)
                .await
                .map_err(|e| failed(format!("cannot create `{}`: {e}", local.display())))?;
            let remote = if rel.is_empty() {
                root.clone()
            } else {
                format!("{root}/{rel}")
            };
            let dir = sftp
                .read_dir(remote.as_str())
                .await
                .map_err(|e| failed(format!("cannot list remote directory `{remote}`: {e}")))?;
            for entry in dir {
                let name = entry.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                let r = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if set.is_match(&r) {
                    continue;
                }
                let target = local.join(&name);
                if entry.file_type().is_dir() {
                    stack.push((r, target));
                    continue;
                }
                let mut out = tokio::fs::File::create(&target)
                    .await
                    .map_err(|e| failed(format!("cannot create `{}`: {e}", target.display())))?;
                self.download_impl(&format!("{root}/{r}"), &mut out).await?;
                if let Some(mode) = entry.metadata().permissions {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(
                        &target,
                        std::fs::Permissions::from_mode(mode & 0o7777),
                    );
                }
            }
        }
        Ok(())
    }
}

impl SshCommunicator {
    /// Rewrites the error of an operation cut short by
    /// `ssh_read_write_timeout`, whose raw form is a vague channel error.
    async fn explain<T>(&self, r: Result<T, CommunicatorError>) -> Result<T, CommunicatorError> {
        match r {
            Err(CommunicatorError::Failed(m)) => {
                let timed_out = self
                    .live
                    .lock()
                    .await
                    .as_ref()
                    .is_some_and(|l| l.conn.timed_out());
                match self.config.read_write_timeout {
                    Some(t) if timed_out => Err(failed(format!(
                        "{m}: {}",
                        rw_timeout_message(&self.host, t)
                    ))),
                    _ => Err(CommunicatorError::Failed(m)),
                }
            }
            r => r,
        }
    }
}

#[async_trait]
impl Communicator for SshCommunicator {
    /// Commands go to the login shell, which kiln already requires to be a
    /// POSIX `sh` (every command is prefixed with `KILN_RUN_ID=…; export
    /// KILN_RUN_ID;`, as Packer's own `execute_command` defaults assume).
    fn runs_posix_sh(&self) -> bool {
        true
    }

    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let r = self.start_impl(command, output, None).await;
        self.explain(r).await
    }

    /// One exec channel: the script goes to the stdin of a `sh` wrapper
    /// that writes it out, then runs the command. This saves the SFTP (or
    /// SCP) session and its round trips. With `ssh_pty` the input would
    /// pass through a terminal's line discipline, so it uploads first.
    async fn upload_and_start(
        &self,
        preload: Preload<'_>,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        if self.config.pty {
            return upload_then_start(self, preload, command, output).await;
        }
        let watch = PreloadWatch::default();
        let stderr = |l: &str| watch.stderr(l, output.stderr);
        let line = RemoteCommand {
            command: preload_command_line(&preload, &command.command, PreloadInput::UntilEnd),
        };
        let out = CommandOutput {
            stdout: output.stdout,
            stderr: &stderr,
        };
        let r = self.start_impl(&line, out, Some(preload.content)).await;
        // Errors name the user's command, not the wrapper around it.
        let r = r.map_err(|e| match e {
            CommunicatorError::Failed(m) => {
                CommunicatorError::Failed(m.replace(&line.command, &command.command))
            }
            e => e,
        });
        watch.finish(&preload, self.explain(r).await)
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let r = self.upload_impl(destination, source, meta).await;
        self.explain(r).await
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let r = self.upload_dir_impl(destination, source, exclude).await;
        self.explain(r).await
    }

    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let r = self.download_impl(source, destination).await;
        self.explain(r).await
    }

    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let r = self.download_dir_impl(source, destination, exclude).await;
        self.explain(r).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/tmp/a.sh"), "/tmp/a.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn splits_lines_across_chunks() {
        let mut l = Lines::default();
        let mut got = Vec::new();
        l.push(b"a\r\nb", |s| got.push(s));
        l.push(b"c\nd", |s| got.push(s));
        l.finish(|s| got.push(s));
        assert_eq!(got, ["a", "bc", "d"]);
    }

    #[test]
    fn trailing_slash_decides_the_root() {
        assert_eq!(upload_root("/srv", Path::new("app/")), "/srv");
        assert_eq!(upload_root("/srv", Path::new("app")), "/srv/app");
        assert_eq!(upload_root("/srv/", Path::new("/x/app")), "/srv/app");
    }

    #[test]
    fn walks_with_excludes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/skip")).unwrap();
        std::fs::write(d.path().join("a/f.txt"), "x").unwrap();
        std::fs::write(d.path().join("a/skip/g"), "x").unwrap();
        std::fs::write(d.path().join("b.log"), "x").unwrap();
        let e = walk(d.path(), &["a/skip".into(), "*.log".into()]).unwrap();
        assert_eq!(e, [Entry::Dir("a".into()), Entry::File("a/f.txt".into())]);
    }
}
