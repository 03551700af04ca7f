//! Opening one SSH connection: the transport (direct TCP, a SOCKS5 proxy
//! or a channel through a bastion), the host key check, and
//! authentication (agent, key with optional certificate, password and
//! keyboard-interactive, in that order). [`connect_once`] makes a single
//! attempt and classifies its failure so the retry loop
//! ([`crate::step`]) knows whether to try again.
//!
//! A [`Connection`] owns the session (and the bastion's session it runs
//! through); dropping it closes both. Nothing else to clean up.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use russh::client::{self, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::agent::client::AgentClient;
use russh::keys::{Certificate, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{Credentials, HostKeyPolicy, Proxy, SshConfig};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens yet, or the network is unreachable: worth retrying.
    #[error("cannot connect to `{addr}`: {source}")]
    Unreachable {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// TCP connected but the server closed it (or never spoke) without
    /// sending a single byte of its SSH banner. A port forwarder in front
    /// of a booting machine does this (qemu's user-mode networking accepts
    /// every connection and resets it until the guest's sshd listens), so
    /// it is retried like `Unreachable` and does not count against
    /// `ssh_handshake_attempts`.
    #[error("`{addr}` accepted the connection but sent no SSH banner: {message}")]
    Silent {
        /// `host:port`.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// TCP worked but the SSH handshake did not: counts as a handshake
    /// attempt.
    #[error("ssh handshake with `{addr}` failed: {message}")]
    Handshake {
        /// `host:port`.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// Every authentication method was refused.
    #[error("authentication as `{user}` on `{addr}` failed; tried {}", tried.join(", "))]
    Auth {
        /// The user.
        user: String,
        /// `host:port`.
        addr: String,
        /// The methods tried, in order (`publickey (/path/key)`, `password`).
        tried: Vec<String>,
    },
    /// The server's host key is not the pinned one: never retried.
    #[error("host key mismatch for `{addr}`: the server offered `{offered}`, which {expected}")]
    HostKey {
        /// `host:port`.
        addr: String,
        /// The offered key's SHA256 fingerprint.
        offered: String,
        /// What was expected.
        expected: String,
    },
    /// A key or certificate cannot be used: never retried.
    #[error("{0}")]
    Key(String),
    /// The SOCKS5 proxy refused.
    #[error("socks5 proxy `{addr}`: {message}")]
    Proxy {
        /// `host:port` of the proxy.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The bastion failed.
    #[error("bastion `{addr}`: {source}")]
    Bastion {
        /// `host:port` of the bastion.
        addr: String,
        /// Why.
        source: Box<ConnectError>,
    },
}

impl ConnectError {
    /// Whether retrying can help (the machine may still be booting).
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectError::Unreachable { .. }
            | ConnectError::Silent { .. }
            | ConnectError::Handshake { .. }
            | ConnectError::Auth { .. }
            | ConnectError::Proxy { .. } => true,
            ConnectError::HostKey { .. } | ConnectError::Key(_) => false,
            ConnectError::Bastion { source, .. } => source.is_retryable(),
        }
    }

    /// Whether the port refused the connection: nothing listens there yet.
    pub fn is_refused(&self) -> bool {
        matches!(self, ConnectError::Unreachable { source, .. }
            if source.kind() == std::io::ErrorKind::ConnectionRefused)
    }

    /// Whether this failure counts against `ssh_handshake_attempts`
    /// (the server answered, but the session could not be set up).
    pub fn is_handshake(&self) -> bool {
        match self {
            ConnectError::Handshake { .. } | ConnectError::Auth { .. } => true,
            ConnectError::Bastion { source, .. } => source.is_handshake(),
            _ => false,
        }
    }
}

/// The russh handler: checks the host key and records what was offered;
/// with agent forwarding on, serves the server's `auth-agent@openssh.com`
/// channels by relaying each to the local agent's socket.
pub(crate) struct Client {
    policy: HostKeyPolicy,
    host: String,
    port: u16,
    offered: Arc<Mutex<Option<(String, String)>>>,
    /// The local agent socket forwarded channels are relayed to; `None`
    /// refuses them.
    agent: Option<std::path::PathBuf>,
}

/// The local agent socket to forward to the remote side: `SSH_AUTH_SOCK`
/// when it is set and `ssh_disable_agent_forwarding` is not (Packer's rule).
pub(crate) fn forwarded_agent(config: &SshConfig) -> Option<std::path::PathBuf> {
    if config.disable_agent_forwarding {
        return None;
    }
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(std::path::PathBuf::from)
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: russh::Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let Some(sock) = self.agent.clone() else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        match tokio::net::UnixStream::connect(&sock).await {
            Ok(mut local) => {
                reply.accept().await;
                // The relay ends when either side closes; the session's
                // own lifetime bounds it.
                tokio::spawn(async move {
                    let mut remote = channel.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut remote, &mut local).await;
                });
            }
            Err(_) => {
                // The local agent went away: the remote `ssh-add` sees a
                // refused connection, as with OpenSSH.
                reply.reject(russh::ChannelOpenFailure::ConnectFailed).await;
            }
        }
        Ok(())
    }

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(c) => {
                PublicKey::from(c.public_key().clone())
            }
        };
        let fingerprint = public.fingerprint(russh::keys::HashAlg::Sha256).to_string();
        let accepted = match &self.policy {
            HostKeyPolicy::AcceptAny => Ok(()),
            HostKeyPolicy::Pinned(line) => match PublicKey::from_openssh(line) {
                Ok(pinned) if pinned.key_data() == public.key_data() => Ok(()),
                Ok(pinned) => Err(format!(
                    "is not the pinned `ssh_host_key` `{}`",
                    pinned.fingerprint(russh::keys::HashAlg::Sha256)
                )),
                Err(e) => Err(format!(
                    "cannot be compared: `ssh_host_key` is invalid: {e}"
                )),
            },
            HostKeyPolicy::KnownHosts(path) => {
                match russh::keys::check_known_hosts_path(&self.host, self.port, &public, path) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(format!(
                        "is not listed for `{}` in `{}`",
                        self.host,
                        path.display()
                    )),
                    Err(e) => Err(format!("does not match `{}`: {e}", path.display())),
                }
            }
        };
        match accepted {
            Ok(()) => Ok(true),
            Err(why) => {
                *self.offered.lock().unwrap_or_else(|e| e.into_inner()) = Some((fingerprint, why));
                Ok(false)
            }
        }
    }
}

/// An open, authenticated session, plus the bastion session it tunnels
/// through (kept alive as long as this).
pub struct Connection {
    pub(crate) handle: Handle<Client>,
    _bastion: Option<Handle<Client>>,
    /// Set when `ssh_read_write_timeout` closed the connection.
    timed_out: Arc<AtomicBool>,
}

impl Connection {
    /// True once the server or the network closed the session.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// True when the connection was closed because nothing could be read
    /// or written for `ssh_read_write_timeout`.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

fn russh_config(c: &SshConfig) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: (!c.keep_alive_interval.is_zero()).then_some(c.keep_alive_interval),
        // With `ssh_read_write_timeout`, its deadline decides when a silent
        // connection is dead (and says so); keepalives only keep it busy.
        keepalive_max: if c.read_write_timeout.is_some() { 0 } else { 3 },
        nodelay: true,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 65535,
        ..Default::default()
    })
}

/// Makes one connection attempt to `host:port` per `config`, each step
/// bounded by `deadline`.
pub async fn connect_once(config: &SshConfig, host: &str) -> Result<Connection, ConnectError> {
    connect_observed(config, host, Arc::new(AtomicBool::new(false))).await
}

/// [`connect_once`], setting `heard` when the first byte comes back from
/// the far end of the first hop (the server, through a SOCKS5 proxy; or
/// the bastion): until then the attempt may be waiting on a SYN that was
/// lost, and the retry loop starts another beside it.
pub(crate) async fn connect_observed(
    config: &SshConfig,
    host: &str,
    heard: Arc<AtomicBool>,
) -> Result<Connection, ConnectError> {
    let addr = format!("{host}:{}", config.port);
    let rc = russh_config(config);
    let (stream, bastion): (Box<dyn Stream>, _) = if let Some(b) = &config.bastion {
        let baddr = format!("{}:{}", b.host, b.port);
        let wrap = |e: ConnectError| ConnectError::Bastion {
            addr: baddr.clone(),
            source: Box::new(e),
        };
        let tcp = tcp(&b.host, b.port).await.map_err(wrap)?;
        let bh = handshake(
            rc.clone(),
            NoticeRead::with(crate::quick_ack::QuickAck(tcp), heard),
            &HostKeyPolicy::AcceptAny,
            &b.host,
            b.port,
            None,
        )
        .await
        .map_err(wrap)?;
        let mut bh = bh;
        authenticate(&mut bh, &b.credentials, &baddr)
            .await
            .map_err(wrap)?;
        let channel = bh
            .channel_open_direct_tcpip(host, config.port as u32, "127.0.0.1", 0)
            .await
            .map_err(|e| {
                wrap(ConnectError::Handshake {
                    addr: baddr.clone(),
                    message: format!("cannot open a tunnel to `{addr}`: {e}"),
                })
            })?;
        (Box::new(channel.into_stream()), Some(bh))
    } else if let Some(p) = &config.proxy {
        (
            Box::new(NoticeRead::with(
                crate::quick_ack::QuickAck(socks5(p, host, config.port).await?),
                heard,
            )),
            None,
        )
    } else {
        (
            Box::new(NoticeRead::with(
                crate::quick_ack::QuickAck(tcp(host, config.port).await?),
                heard,
            )),
            None,
        )
    };
    let timed_out = Arc::new(AtomicBool::new(false));
    let stream = Deadline::new(stream, config.read_write_timeout, timed_out.clone());
    let mut handle = handshake(
        rc,
        stream,
        &config.host_key,
        host,
        config.port,
        forwarded_agent(config),
    )
    .await?;
    authenticate(&mut handle, &config.credentials, &addr).await?;
    Ok(Connection {
        handle,
        _bastion: bastion,
        timed_out,
    })
}

/// A byte stream an SSH session can run over.
pub(crate) trait Stream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

async fn tcp(host: &str, port: u16) -> Result<tokio::net::TcpStream, ConnectError> {
    let s = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|source| ConnectError::Unreachable {
            addr: format!("{host}:{port}"),
            source,
        })?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

async fn handshake(
    rc: Arc<client::Config>,
    stream: impl Stream + 'static,
    policy: &HostKeyPolicy,
    host: &str,
    port: u16,
    agent: Option<std::path::PathBuf>,
) -> Result<Handle<Client>, ConnectError> {
    let offered = Arc::new(Mutex::new(None));
    let handler = Client {
        policy: policy.clone(),
        host: host.to_string(),
        port,
        offered: offered.clone(),
        agent,
    };
    let addr = format!("{host}:{port}");
    let (stream, spoke) = NoticeRead::new(stream);
    // A server that accepts TCP but never speaks (sshd still starting, a
    // firewall) must not hang the attempt.
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        client::connect_stream(rc, stream, handler),
    )
    .await;
    let silent = !spoke.load(std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) if silent => Err(ConnectError::Silent {
            addr,
            message: e.to_string(),
        }),
        Err(_) if silent => Err(ConnectError::Silent {
            addr,
            message: "nothing arrived within 20s".into(),
        }),
        Ok(Err(e)) => {
            if let Some((offered, expected)) =
                offered.lock().unwrap_or_else(|e| e.into_inner()).take()
            {
                return Err(ConnectError::HostKey {
                    addr,
                    offered,
                    expected,
                });
            }
            Err(ConnectError::Handshake {
                addr,
                message: e.to_string(),
            })
        }
        Err(_) => Err(ConnectError::Handshake {
            addr,
            message: "the server did not complete the handshake within 20s".into(),
        }),
    }
}

/// `ssh_read_write_timeout` as Packer implements it (a deadline on every
/// read and write of the connection): a read or write that cannot make
/// progress for the timeout fails with `TimedOut`, which ends the session
/// and every operation on it. Keepalive replies count as reads, so an idle
/// but healthy connection survives when `ssh_keep_alive_interval` is
/// shorter than the timeout. `timed_out` records why the session ended.
struct Deadline<S> {
    inner: S,
    timeout: Option<Duration>,
    read: Option<Pin<Box<tokio::time::Sleep>>>,
    write: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl<S> Deadline<S> {
    fn new(inner: S, timeout: Option<Duration>, timed_out: Arc<AtomicBool>) -> Self {
        Deadline {
            inner,
            timeout,
            read: None,
            write: None,
            timed_out,
        }
    }
}

/// Polls the deadline of a pending read or write: starts it on the first
/// `Pending`, clears it on progress, and turns its expiry into `TimedOut`.
fn poll_deadline<T>(
    r: Poll<std::io::Result<T>>,
    timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    timeout: Option<Duration>,
    timed_out: &AtomicBool,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<T>> {
    let Some(timeout) = timeout else {
        return r;
    };
    if r.is_ready() {
        *timer = None;
        return r;
    }
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *timer = None;
            timed_out.store(true, Ordering::Relaxed);
            Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "ssh_read_write_timeout expired",
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Deadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        poll_deadline(r, &mut this.read, this.timeout, &this.timed_out, cx)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Deadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        poll_deadline(r, &mut this.write, this.timeout, &this.timed_out, cx)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        poll_deadline(r, &mut this.write, this.timeout, &this.timed_out, cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream that notes whether the peer has sent anything yet.
struct NoticeRead<S> {
    inner: S,
    spoke: Arc<std::sync::atomic::AtomicBool>,
}

impl<S> NoticeRead<S> {
    fn new(inner: S) -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        let spoke = Arc::new(std::sync::atomic::AtomicBool::new(false));
        (NoticeRead::with(inner, spoke.clone()), spoke)
    }

    /// Sets `spoke` on the first byte read.
    fn with(inner: S, spoke: Arc<std::sync::atomic::AtomicBool>) -> Self {
        NoticeRead { inner, spoke }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for NoticeRead<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.spoke.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for NoticeRead<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a private key file holds, as far as it can be read without a
/// passphrase.
pub(crate) enum KeyText {
    /// A usable key.
    Key(Box<PrivateKey>),
    /// A key encrypted with a passphrase.
    Encrypted,
}

/// Parses a private key file's text (OpenSSH or PEM). The error (no key,
/// a malformed one) names the file. Used when connecting ([`decode_key`])
/// and by the communicator's prepare, which rejects a file holding no key
/// as Packer 1.6.6 does.
pub(crate) fn parse_key(path: &str, pem: &str) -> Result<KeyText, String> {
    match russh::keys::decode_secret_key(pem, None) {
        Ok(k) => Ok(KeyText::Key(Box::new(k))),
        Err(russh::keys::Error::KeyIsEncrypted) => Ok(KeyText::Encrypted),
        Err(e) => Err(format!(
            "cannot parse private key `{path}`: no key found ({e}); expected an OpenSSH or PEM private key"
        )),
    }
}

/// Decodes a private key, with a clear error for encrypted keys.
pub fn decode_key(path: &str, pem: &str) -> Result<PrivateKey, ConnectError> {
    match parse_key(path, pem).map_err(ConnectError::Key)? {
        KeyText::Key(k) => Ok(*k),
        KeyText::Encrypted => Err(ConnectError::Key(format!(
            "private key `{path}` is encrypted with a passphrase; kiln cannot prompt for it: \
             decrypt it (`ssh-keygen -p -N '' -f {path}`) or load it into an agent and set `ssh_agent_auth`"
        ))),
    }
}

async fn authenticate(
    h: &mut Handle<Client>,
    c: &Credentials,
    addr: &str,
) -> Result<(), ConnectError> {
    let mut tried = Vec::new();
    let handshake_err = |e: russh::Error| ConnectError::Handshake {
        addr: addr.to_string(),
        message: format!("during authentication: {e}"),
    };
    // Asking for the server's RSA hash may wait for its extension info:
    // only do it when an RSA key is about to be used.
    let mut rsa_cache: Option<Option<russh::keys::HashAlg>> = None;

    if c.agent {
        tried.push("agent".to_string());
        let sock = std::env::var("SSH_AUTH_SOCK").unwrap_or_default();
        if sock.is_empty() {
            return Err(ConnectError::Key(
                "`ssh_agent_auth` is set but `SSH_AUTH_SOCK` is not: start an ssh-agent".into(),
            ));
        }
        let mut agent = AgentClient::connect_uds(&sock).await.map_err(|e| {
            ConnectError::Key(format!("cannot reach the ssh agent at `{sock}`: {e}"))
        })?;
        let ids = agent.request_identities().await.map_err(|e| {
            ConnectError::Key(format!(
                "cannot list the keys of the ssh agent at `{sock}`: {e}"
            ))
        })?;
        for id in ids {
            let key = match id {
                russh::keys::agent::AgentIdentity::PublicKey { key, .. } => key,
                russh::keys::agent::AgentIdentity::Certificate { .. } => continue,
            };
            let hash = rsa_hash(h, &mut rsa_cache, &key).await;
            match h
                .authenticate_publickey_with(&c.username, key, hash, &mut agent)
                .await
            {
                Ok(r) if r.success() => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    return Err(ConnectError::Key(format!(
                        "the ssh agent at `{sock}` failed to sign: {e:?}"
                    )))
                }
            }
        }
    }
    if let Some(kf) = &c.private_key {
        let key = Arc::new(decode_key(&kf.path, kf.pem.expose())?);
        if let Some(cf) = &c.certificate {
            tried.push(format!("certificate (`{}`)", cf.path));
            let cert = Certificate::from_openssh(cf.pem.expose().trim()).map_err(|e| {
                ConnectError::Key(format!("cannot parse certificate `{}`: {e}", cf.path))
            })?;
            let r = h
                .authenticate_openssh_cert(&c.username, key.clone(), cert)
                .await
                .map_err(handshake_err)?;
            if r.success() {
                return Ok(());
            }
        }
        tried.push(format!("publickey (`{}`)", kf.path));
        let hash = rsa_hash(h, &mut rsa_cache, key.public_key()).await;
        let r = h
            .authenticate_publickey(&c.username, PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(handshake_err)?;
        if r.success() {
            return Ok(());
        }
    }
    if let Some(key) = &c.temporary_key {
        tried.push("publickey (temporary key pair)".to_string());
        let key = key.expose().clone();
        let hash = rsa_hash(h, &mut rsa_cache, key.public_key()).await;
        let r = h
            .authenticate_publickey(&c.username, PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(handshake_err)?;
        if r.success() {
            return Ok(());
        }
    }
    if let Some(p) = &c.password {
        tried.push("password".to_string());
        let r = h
            .authenticate_password(&c.username, p.expose())
            .await
            .map_err(handshake_err)?;
        if r.success() {
            return Ok(());
        }
        tried.push("keyboard-interactive".to_string());
        let mut r = h
            .authenticate_keyboard_interactive_start(&c.username, None::<String>)
            .await
            .map_err(handshake_err)?;
        for _ in 0..5 {
            match r {
                KeyboardInteractiveAuthResponse::Success => return Ok(()),
                KeyboardInteractiveAuthResponse::Failure { .. } => break,
                KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    let answers = prompts.iter().map(|_| p.expose().clone()).collect();
                    r = h
                        .authenticate_keyboard_interactive_respond(answers)
                        .await
                        .map_err(handshake_err)?;
                }
            }
        }
    }
    if tried.is_empty() {
        tried.push("none (no password, key or agent configured)".into());
    }
    Err(ConnectError::Auth {
        user: c.username.clone(),
        addr: addr.to_string(),
        tried,
    })
}

/// The RSA signature hash to use with `key` (none for other key types),
/// asked of the server once.
async fn rsa_hash(
    h: &Handle<Client>,
    cache: &mut Option<Option<russh::keys::HashAlg>>,
    key: &PublicKey,
) -> Option<russh::keys::HashAlg> {
    if !key.algorithm().is_rsa() {
        return None;
    }
    if cache.is_none() {
        *cache = Some(h.best_supported_rsa_hash().await.ok().flatten().flatten());
    }
    cache.flatten()
}

/// Opens a TCP stream to `host:port` through a SOCKS5 proxy (RFC 1928,
/// with RFC 1929 user/password when configured).
async fn socks5(p: &Proxy, host: &str, port: u16) -> Result<tokio::net::TcpStream, ConnectError> {
    let paddr = format!("{}:{}", p.host, p.port);
    let err = |m: String| ConnectError::Proxy {
        addr: paddr.clone(),
        message: m,
    };
    let mut s = tcp(&p.host, p.port).await?;
    let io = |e: std::io::Error| err(format!("i/o error: {e}"));
    let with_auth = p.username.is_some();
    let greeting: &[u8] = if with_auth { &[5, 2, 0, 2] } else { &[5, 1, 0] };
    s.write_all(greeting).await.map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(io)?;
    match reply {
        [5, 0] => {}
        [5, 2] if with_auth => {
            let user = p.username.clone().unwrap_or_default();
            let pass = p
                .password
                .as_ref()
                .map(|s| s.expose().clone())
                .unwrap_or_default();
            if user.len() > 255 || pass.len() > 255 {
                return Err(err(
                    "user name and password must be at most 255 bytes".into()
                ));
            }
            let mut m = vec![1, user.len() as u8];
            m.extend(user.as_bytes());
            m.push(pass.len() as u8);
            m.extend(pass.as_bytes());
            s.write_all(&m).await.map_err(io)?;
            let mut r = [0u8; 2];
            s.read_exact(&mut r).await.map_err(io)?;
            if r[1] != 0 {
                return Err(err("the proxy refused the user name and password".into()));
            }
        }
        _ => {
            return Err(err(
                "the proxy accepts none of kiln's authentication methods".into(),
            ))
        }
    }
    if host.len() > 255 {
        return Err(err(format!("host name `{host}` is too long")));
    }
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend(host.as_bytes());
    req.extend(port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "ttl expired",
            _ => "request rejected",
        };
        return Err(err(format!("cannot reach `{host}:{port}`: {why}")));
    }
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l).await.map_err(io)?;
            l[0] as usize
        }
        _ => return Err(err("malformed reply".into())),
    };
    let mut rest = vec![0u8; skip + 2];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        let refused = ConnectError::Unreachable {
            addr: "h:22".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(refused.is_retryable() && !refused.is_handshake());
        let auth = ConnectError::Auth {
            user: "u".into(),
            addr: "h:22".into(),
            tried: vec!["publickey (`k`)".into(), "password".into()],
        };
        assert!(auth.is_handshake());
        assert_eq!(
            auth.to_string(),
            "authentication as `u` on `h:22` failed; tried publickey (`k`), password"
        );
        assert!(!ConnectError::Key("x".into()).is_retryable());
    }

    /// A server that accepts and hangs up (what qemu's port forward does
    /// while the guest boots) is "not up yet", not a failed handshake; one
    /// that speaks and then fails is a handshake failure.
    #[tokio::test]
    async fn silent_servers_are_not_handshake_failures() {
        async fn attempt(reply: &'static [u8]) -> ConnectError {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let _ = s.write_all(reply).await;
            });
            let tcp = tcp("127.0.0.1", port).await.unwrap();
            let rc = Arc::new(client::Config::default());
            match handshake(rc, tcp, &HostKeyPolicy::AcceptAny, "127.0.0.1", port, None).await {
                Ok(_) => panic!("handshake with a fake server succeeded"),
                Err(e) => e,
            }
        }
        let silent = attempt(b"").await;
        assert!(matches!(silent, ConnectError::Silent { .. }), "{silent:?}");
        assert!(silent.is_retryable() && !silent.is_handshake());
        let spoke = attempt(b"SSH-2.0-fake\r\n").await;
        assert!(matches!(spoke, ConnectError::Handshake { .. }), "{spoke:?}");
        assert!(spoke.is_handshake());
    }

    #[test]
    fn encrypted_keys_get_a_clear_error() {
        let e = decode_key("k", "not a key").unwrap_err().to_string();
        assert!(e.starts_with("cannot parse private key `k`"), "{e}");
    }
}
