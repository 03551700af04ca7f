//! The SSH proxy that Packer calls its adapter: an SSH server on loopback
//! that Ansible connects to as if it were the machine. It accepts one user
//! and one key (both made for this run unless configured), and serves
//! `exec` requests by running the command through the build's
//! communicator (SSH, docker exec, whatever the build uses), passing the
//! exit status back; `scp -t` / `scp -f` itself ([`crate::scp`]); and the
//! `sftp` subsystem itself ([`crate::sftp`]), so Ansible's file transfers
//! work whether its `scp` speaks the old protocol or SFTP (OpenSSH 9).
//!
//! Stores the listener's task and one task per connection. Dropping the
//! [`Proxy`] aborts them all, closing every connection; nothing else is
//! left behind.

use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::remote::{AsyncLineSink, Line, Remote};

/// Who may connect.
#[derive(Clone)]
pub(crate) struct Access {
    /// The user name Ansible connects as.
    pub user: String,
    /// The one key accepted for it.
    pub key: PublicKey,
}

/// A running proxy; see the module docs.
pub(crate) struct Proxy {
    tasks: JoinSet<()>,
}

impl Proxy {
    /// Serves connections on `listener` until dropped.
    pub(crate) fn start(
        listener: TcpListener,
        host_key: PrivateKey,
        access: Access,
        remote: Remote,
    ) -> Proxy {
        let config = Arc::new(russh::server::Config {
            keys: vec![host_key],
            methods: MethodSet::from(&[MethodKind::PublicKey][..]),
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: None,
            ..Default::default()
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut sessions = JoinSet::new();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        remote.warn(format!("ansible proxy: cannot accept a connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // russh sets TCP_NODELAY only on sockets it accepts itself;
                // with Nagle's algorithm each small reply waits for the
                // client's delayed ACK (about 40 ms a command).
                let _ = stream.set_nodelay(true);
                let handler = Connection {
                    access: access.clone(),
                    remote: remote.clone(),
                    channels: Default::default(),
                    sessions: JoinSet::new(),
                };
                let config = config.clone();
                sessions.spawn(async move {
                    if let Ok(running) = russh::server::run_stream(config, stream, handler).await {
                        let _ = running.await;
                    }
                });
                // Reap the finished ones as we go.
                while sessions.try_join_next().is_some() {}
            }
        });
        Proxy { tasks }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// One SSH connection from Ansible.
struct Connection {
    access: Access,
    remote: Remote,
    channels: std::collections::HashMap<ChannelId, Channel<Msg>>,
    /// The commands and transfers of this connection; aborted with it.
    sessions: JoinSet<()>,
}

impl Connection {
    fn allowed(&self, user: &str, key: &PublicKey) -> Auth {
        if user == self.access.user && key.key_data() == self.access.key.key_data() {
            Auth::Accept
        } else {
            Auth::reject()
        }
    }
}

/// Sends output lines to the SSH channel, stdout as data, stderr as
/// extended data.
struct ToChannel<'a> {
    write: &'a russh::ChannelWriteHalf<Msg>,
}

impl AsyncLineSink for ToChannel<'_> {
    async fn line(&mut self, line: Line) {
        let _ = match line {
            Line::Out(mut l) => {
                l.push('\n');
                self.write.data_bytes(l.into_bytes()).await
            }
            Line::Err(mut l) => {
                l.push('\n');
                self.write.extended_data_bytes(1, l.into_bytes()).await
            }
        };
    }
}

/// The exit status an SSH client sees for how the command ended (a
/// signal or a dropped connection: 255, what `ssh` itself reports).
fn exit_code(status: &kiln_sdk::communicator::ExitStatus) -> u32 {
    match status {
        kiln_sdk::communicator::ExitStatus::Code(c) => *c as u32,
        _ => 255,
    }
}

async fn serve_exec(channel: Channel<Msg>, command: String, remote: Remote) {
    let (mut read, write) = channel.split();
    let code = match crate::scp::parse(&command) {
        Some(scp) => {
            match crate::scp::serve(&scp, &remote, read.make_reader(), write.make_writer()).await {
                Ok(()) => 0,
                Err(e) => {
                    remote.warn(format!("ansible proxy: scp `{}`: {e}", scp.path));
                    1
                }
            }
        }
        None => {
            drop(read);
            match remote.run(&command, ToChannel { write: &write }).await {
                Ok(status) => exit_code(&status),
                Err(e) => {
                    let _ = write
                        .extended_data_bytes(1, format!("kiln: {e}\n").into_bytes())
                        .await;
                    255
                }
            }
        }
    };
    let _ = write.exit_status(code).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

/// Serves the `sftp` subsystem on `channel` until the client is done,
/// then reports exit status 0 (OpenSSH's `scp` checks it).
async fn serve_sftp(channel: Channel<Msg>, remote: Remote) {
    use tokio::io::AsyncWriteExt;
    let (mut read, write) = channel.split();
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    // Runs in a task of its own until its end of the pipe closes.
    russh_sftp::server::run(theirs, crate::sftp::Sftp::new(remote)).await;
    let (mut from_server, mut to_server) = tokio::io::split(ours);
    let inbound = async {
        let _ = tokio::io::copy(&mut read.make_reader(), &mut to_server).await;
        let _ = to_server.shutdown().await;
    };
    let outbound = async {
        let mut w = write.make_writer();
        let _ = tokio::io::copy(&mut from_server, &mut w).await;
        let _ = w.flush().await;
    };
    tokio::join!(inbound, outbound);
    let _ = write.exit_status(0).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allowed(user, offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allowed(user, key.public_key))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Accepted and ignored, as Packer does: OpenSSH and sudo ask.
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ch) = self.channels.remove(&channel) else {
            return session.channel_failure(channel);
        };
        let command = String::from_utf8_lossy(data).into_owned();
        if command.is_empty() {
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        self.sessions
            .spawn(serve_exec(ch, command, self.remote.clone()));
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match (name, self.channels.remove(&channel)) {
            ("sftp", Some(ch)) => {
                session.channel_success(channel)?;
                self.sessions.spawn(serve_sftp(ch, self.remote.clone()));
                Ok(())
            }
            _ => {
                self.remote.warn(format!(
                    "ansible proxy: unsupported subsystem `{name}` requested"
                ));
                session.channel_failure(channel)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Real OpenSSH clients (`ssh`, `scp` in both protocols, `sftp`)
    //! against the proxy, whose communicator works on this machine.

    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::remote::Executor;
    use crate::test_support::LocalComm;
    use kiln_sdk::ui::RecordingUi;
    use kiln_ssh::config::KeyPairType;

    struct Client {
        port: u16,
        key: std::path::PathBuf,
        user: String,
    }

    impl Client {
        fn opts(&self) -> Vec<String> {
            vec![
                "-i".into(),
                self.key.display().to_string(),
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
                "-o".into(),
                "BatchMode=yes".into(),
                "-o".into(),
                "LogLevel=ERROR".into(),
            ]
        }

        async fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
            let port_flag = if program == "ssh" { "-p" } else { "-P" };
            tokio::process::Command::new(program)
                .args(self.opts())
                .args([port_flag, &self.port.to_string()])
                .args(args)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap()
        }

        fn at(&self, path: &Path) -> String {
            format!("{}@127.0.0.1:{}", self.user, path.display())
        }
    }

    fn ok(o: &std::process::Output, what: &str) {
        assert!(
            o.status.success(),
            "{what}: {:?}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openssh_clients_run_commands_and_move_files_through_the_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let pair = kiln_ssh::TemporaryKeyPair::generate(KeyPairType::Ed25519, "t", None).unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, pair.private_openssh.expose()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let host = kiln_ssh::TemporaryKeyPair::generate(KeyPairType::Ed25519, "h", None).unwrap();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (remote, jobs) = Remote::channel();
        let proxy = Proxy::start(
            listener,
            host.private,
            Access {
                user: "kiln".into(),
                key: pair.private.public_key().clone(),
            },
            remote,
        );
        let ui = RecordingUi::default();
        let exec = Executor {
            comm: &LocalComm,
            ui: &ui,
        };
        let c = Client {
            port,
            key: key.clone(),
            user: "kiln".into(),
        };
        let src = dir.path().join("src.txt");
        std::fs::write(&src, "payload\nline two\n").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
        let work = async {
            let o = c
                .run("ssh", &["kiln@127.0.0.1", "echo out; echo err >&2; exit 3"])
                .await;
            assert_eq!(o.status.code(), Some(3));
            assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
            assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");

            // Upload and download in both scp protocols.
            for (flag, name) in [(Some("-O"), "legacy"), (None, "sftp")] {
                let to = dir.path().join(format!("up-{name}.txt"));
                let mut args: Vec<String> = flag.map(String::from).into_iter().collect();
                args.extend([src.display().to_string(), c.at(&to)]);
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                ok(&c.run("scp", &a).await, &format!("scp up ({name})"));
                assert_eq!(
                    std::fs::read(&to).unwrap(),
                    std::fs::read(&src).unwrap(),
                    "{name}"
                );
                let back = dir.path().join(format!("down-{name}.txt"));
                let mut args: Vec<String> = flag.map(String::from).into_iter().collect();
                args.extend([c.at(&to), back.display().to_string()]);
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                ok(&c.run("scp", &a).await, &format!("scp down ({name})"));
                assert_eq!(
                    std::fs::read(&back).unwrap(),
                    std::fs::read(&src).unwrap(),
                    "{name}"
                );
            }
            // The legacy protocol carries the mode.
            let mode = std::fs::metadata(dir.path().join("up-legacy.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o640);

            // sftp's own batch mode: mkdir, put, rename, get, rm.
            let sub = dir.path().join("sub");
            let batch = dir.path().join("batch");
            std::fs::write(
                &batch,
                format!(
                    "mkdir {sub}\nput {src} {sub}/a.txt\nrename {sub}/a.txt {sub}/b.txt\nget {sub}/b.txt {got}\nls {sub}\nrm {sub}/b.txt\n",
                    sub = sub.display(),
                    src = src.display(),
                    got = dir.path().join("got.txt").display()
                ),
            )
            .unwrap();
            let o = c
                .run("sftp", &["-b", batch.to_str().unwrap(), "kiln@127.0.0.1"])
                .await;
            ok(&o, "sftp -b");
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("b.txt"),
                "{o:?}"
            );
            assert_eq!(
                std::fs::read(dir.path().join("got.txt")).unwrap(),
                std::fs::read(&src).unwrap(),
                "{o:?}"
            );
            assert!(sub.is_dir());
            assert!(!sub.join("b.txt").exists(), "rm did not run");

            // Another user or key is refused.
            let other = Client {
                user: "root".into(),
                ..Client {
                    port,
                    key: key.clone(),
                    user: String::new(),
                }
            };
            let o = other.run("ssh", &["root@127.0.0.1", "true"]).await;
            assert_eq!(o.status.code(), Some(255), "{o:?}");
        };
        tokio::select! {
            () = work => {}
            () = exec.run(jobs) => panic!("the executor stopped"),
        }
        drop(proxy);
    }
}
