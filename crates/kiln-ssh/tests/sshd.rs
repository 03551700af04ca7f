//! kiln-ssh against a real OpenSSH server on loopback (see
//! `kiln_test::sshd`): authentication methods, errors, exec, transfers
//! over SFTP and SCP, reconnection and cancellation.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::RawConfig;
use kiln_ssh::{wait_for_ssh, CommunicatorConfig, SshCommunicator, SshConfig, WaitError};
use kiln_test::comm::{preload_cmd, run_cmd};
use kiln_test::prepare_cx;
use kiln_test::procs::processes_matching;
use kiln_test::sshd::{self, Agent, Sshd};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn config(s: &Sshd, extra: Value) -> SshConfig {
    let mut v = json!({"ssh_host": "127.0.0.1", "ssh_port": s.port, "ssh_username": sshd::current_user(), "ssh_timeout": "5s"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    match kiln_ssh::prepare(&RawConfig::from_value(v), &prepare_cx("null")) {
        Ok(CommunicatorConfig::Ssh(c)) => *c,
        Ok(_) => panic!("not ssh"),
        Err(e) => panic!("{e}"),
    }
}

fn key(s: &Sshd, name: &str) -> Value {
    json!({"ssh_private_key_file": s.path(name)})
}

async fn connect(c: SshConfig) -> Result<SshCommunicator, WaitError> {
    let conn = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new()).await?;
    Ok(SshCommunicator::new(Arc::new(c), "127.0.0.1".into(), conn))
}

#[tokio::test]
async fn authenticates_with_every_key_format_and_a_certificate() {
    let s = Sshd::start();
    for k in ["id_ed25519", "id_rsa", "id_rsa_pem"] {
        let c = connect(config(&s, key(&s, k)))
            .await
            .unwrap_or_else(|e| panic!("{k}: {e}"));
        let (st, out, _) = run_cmd(&c, "echo ok").await;
        assert_eq!(
            (st, out),
            (ExitStatus::Code(0), vec!["ok".to_string()]),
            "{k}"
        );
    }
    let mut v = key(&s, "id_cert");
    v["ssh_certificate_file"] = json!(s.path("id_cert-cert.pub"));
    let c = connect(config(&s, v)).await.unwrap();
    assert_eq!(run_cmd(&c, "true").await.0, ExitStatus::Code(0));
}

#[tokio::test]
async fn authenticates_with_a_password() {
    sshd::ensure_password_user();
    let s = Sshd::start();
    let c = connect(config(
        &s,
        json!({"ssh_username": sshd::PASSWORD_USER, "ssh_password": sshd::PASSWORD}),
    ))
    .await
    .unwrap();
    assert_eq!(run_cmd(&c, "id -un").await.1, [sshd::PASSWORD_USER]);
}

#[tokio::test]
async fn authenticates_through_a_real_agent() {
    let s = Sshd::start();
    let agent = Agent::start(&[&s.path("id_rsa")]);
    std::env::set_var("SSH_AUTH_SOCK", &agent.sock);
    let c = connect(config(&s, json!({"ssh_agent_auth": true})))
        .await
        .unwrap();
    assert_eq!(run_cmd(&c, "echo via-agent").await.1, ["via-agent"]);
}

#[tokio::test]
async fn reports_auth_failures_and_encrypted_keys_clearly() {
    let s = Sshd::start();
    let mut c = config(
        &s,
        json!({"ssh_password": "wrong", "ssh_handshake_attempts": 2}),
    );
    c.credentials.private_key = config(&s, key(&s, "id_ed25519")).credentials.private_key;
    c.credentials.username = "nobody-here".into();
    let e = connect(c).await.err().unwrap().to_string();
    assert!(e.contains("2 handshake attempts failed"), "{e}");
    assert!(e.contains("authentication as `nobody-here`"), "{e}");
    assert!(e.contains("tried publickey (`"), "{e}");
    assert!(e.contains("password"), "{e}");
    assert!(!e.contains("wrong"), "the password leaked: {e}");

    let e = connect(config(&s, key(&s, "id_encrypted")))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("is encrypted with a passphrase"), "{e}");
}

#[tokio::test]
async fn pins_host_keys() {
    let s = Sshd::start();
    let other = Sshd::start();
    let mut v = key(&s, "id_ed25519");
    v["ssh_host_key"] = json!(s.host_key());
    connect(config(&s, v.clone())).await.unwrap();
    v["ssh_host_key"] = json!(other.host_key());
    let started = Instant::now();
    let e = connect(config(&s, v)).await.err().unwrap().to_string();
    assert!(e.contains("host key mismatch"), "{e}");
    assert!(e.contains("SHA256:"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a mismatch must not be retried"
    );
}

#[tokio::test]
async fn times_out_on_a_closed_port_and_connects_fast_once_it_opens() {
    let mut s = Sshd::start();
    s.stop();
    let mut c = config(&s, key(&s, "id_ed25519"));
    c.timeout = Duration::from_millis(600);
    let e = connect(c.clone()).await.err().unwrap().to_string();
    assert!(e.starts_with("timeout waiting for SSH"), "{e}");
    assert!(e.contains("Connection refused"), "{e}");

    c.timeout = Duration::from_secs(20);
    let waiting = tokio::spawn(async move {
        let r = connect(c).await;
        (r.is_ok(), Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.restart();
    let reachable = Instant::now();
    let (ok, connected) = waiting.await.unwrap();
    assert!(ok);
    let lag = connected.saturating_duration_since(reachable);
    assert!(
        lag < Duration::from_secs(1),
        "connected {lag:?} after sshd was up"
    );
}

#[tokio::test]
async fn runs_commands_and_reports_signals() {
    let s = Sshd::start();
    let c = connect(config(&s, key(&s, "id_ed25519"))).await.unwrap();
    // Stdin is empty, as in Packer: a command reading it does not hang.
    let (st, out, _) = tokio::time::timeout(Duration::from_secs(20), run_cmd(&c, "cat; echo read"))
        .await
        .expect("a command reading stdin hung");
    assert_eq!((st, out), (ExitStatus::Code(0), vec!["read".to_string()]));
    let (st, out, err) = run_cmd(&c, "echo a; echo b >&2; printf 'partial'; exit 3").await;
    assert_eq!(st, ExitStatus::Code(3));
    assert_eq!(out, ["a", "partial"]);
    assert_eq!(err, ["b"]);
    let (st, _, _) = run_cmd(&c, "kill -TERM $$").await;
    assert_eq!(st, ExitStatus::RemoteSignal("TERM".into()));
    assert_eq!(st.to_string(), "killed by signal SIGTERM");
}

#[tokio::test]
async fn sends_a_script_with_the_command_that_runs_it() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("a script.sh");
    let dest = script.to_str().unwrap();
    let body = b"#!/bin/sh\necho \"out $1\"\necho err >&2\nexit 4\n";
    for pty in [false, true] {
        let c = connect(config(
            &s,
            json!({"ssh_private_key_file": s.path("id_ed25519"), "ssh_pty": pty}),
        ))
        .await
        .unwrap();
        let _ = std::fs::remove_file(&script);
        // Without a pty, the command's stdin is at its end, as after
        // `start`: `cat` returns at once.
        let cmd = if pty {
            format!("'{dest}' x")
        } else {
            format!("'{dest}' x; s=$?; cat; exit $s")
        };
        let (r, out, err) = preload_cmd(&c, dest, body, &cmd).await;
        assert_eq!(r.unwrap(), ExitStatus::Code(4), "pty {pty}");
        if pty {
            // A pty merges stderr into stdout.
            assert_eq!(
                (out, err),
                (vec!["out x".to_string(), "err".into()], vec![])
            );
        } else {
            assert_eq!(
                (out, err),
                (vec!["out x".to_string()], vec!["err".to_string()])
            );
        }
        assert_eq!(std::fs::read(&script).unwrap(), body, "pty {pty}");
        let mode = std::fs::metadata(&script).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "pty {pty}");
    }
}

#[tokio::test]
async fn a_script_that_cannot_be_written_is_an_error_and_nothing_runs() {
    let s = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("missing/script.sh");
    let ran = dir.path().join("ran");
    let c = connect(config(&s, key(&s, "id_ed25519"))).await.unwrap();
    let (r, out, err) = preload_cmd(
        &c,
        dest.to_str().unwrap(),
        b"true\n",
        &format!("touch '{}'", ran.display()),
    )
    .await;
    let e = r.unwrap_err();
    assert!(matches!(e, CommunicatorError::Preload { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot write remote file `{}`: ", dest.display())),
        "{text}"
    );
    assert!(
        text.contains("nonexistent") || text.contains("No such file"),
        "{text}"
    );
    assert!(out.is_empty() && err.is_empty(), "{out:?} {err:?}");
    assert!(!ran.exists(), "the command ran after the write failed");
}

async fn transfers(method: &str) {
    let s = Sshd::start();
    let c = connect(config(
        &s,
        json!({"ssh_private_key_file": s.path("id_ed25519"), "ssh_file_transfer_method": method}),
    ))
    .await
    .unwrap();
    let remote = s.path(&format!("remote-{method}"));
    std::fs::create_dir_all(&remote).unwrap();
    // A file larger than a chunk, with mode and mtime kept.
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let dst = remote.join("big.bin");
    c.upload(
        dst.to_str().unwrap(),
        &mut data.as_slice(),
        FileMeta {
            mode: Some(0o751),
            mtime: Some(mtime),
            size: Some(data.len() as u64),
        },
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let m = std::fs::metadata(&dst).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(m.permissions().mode() & 0o777, 0o751, "{method}");
    assert_eq!(m.modified().unwrap(), mtime, "{method}");
    // Unknown size (scp spools it).
    c.upload(
        remote.join("small").to_str().unwrap(),
        &mut &b"hi\n"[..],
        FileMeta::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(remote.join("small")).unwrap(),
        "hi\n"
    );
    // Download.
    let mut got = Vec::new();
    c.download(dst.to_str().unwrap(), &mut got).await.unwrap();
    assert_eq!(got, data);
    let e = c
        .download(remote.join("missing").to_str().unwrap(), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");

    // Directories: Packer's trailing-slash rules, and excludes.
    let local = tempfile::tempdir().unwrap();
    let app = local.path().join("app");
    std::fs::create_dir_all(app.join("sub/deeper")).unwrap();
    std::fs::write(app.join("a.txt"), "a").unwrap();
    std::fs::write(app.join("sub/b.txt"), "b").unwrap();
    std::fs::write(app.join("sub/deeper/c.txt"), "c").unwrap();
    std::fs::write(app.join("skip.log"), "x").unwrap();
    let with = remote.join("with");
    let without = remote.join("without");
    c.upload_dir(
        with.to_str().unwrap(),
        Path::new(&format!("{}/", app.display())),
        &["*.log".into()],
    )
    .await
    .unwrap();
    c.upload_dir(without.to_str().unwrap(), &app, &[])
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(with.join("a.txt")).unwrap(), "a");
    assert_eq!(
        std::fs::read_to_string(with.join("sub/deeper/c.txt")).unwrap(),
        "c"
    );
    assert!(!with.join("skip.log").exists(), "{method}: exclude ignored");
    assert!(!with.join("app").exists());
    assert_eq!(
        std::fs::read_to_string(without.join("app/sub/b.txt")).unwrap(),
        "b"
    );
    assert!(without.join("app/skip.log").exists());

    let back = tempfile::tempdir().unwrap();
    c.download_dir(&format!("{}/", with.display()), back.path(), &[])
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(back.path().join("sub/deeper/c.txt")).unwrap(),
        "c"
    );
}

#[tokio::test]
async fn transfers_over_sftp() {
    transfers("sftp").await;
}

#[tokio::test]
async fn transfers_over_scp() {
    transfers("scp").await;
}

#[tokio::test]
async fn reaches_the_target_through_a_bastion() {
    let target = Sshd::start_with("ListenAddress 127.0.0.2");
    let bastion = Sshd::start();
    let mut v = key(&target, "id_ed25519");
    v["ssh_bastion_host"] = json!("127.0.0.1");
    v["ssh_bastion_port"] = json!(bastion.port);
    v["ssh_bastion_private_key_file"] = json!(bastion.path("id_rsa"));
    let c = config(&target, v);
    let conn = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new())
        .await
        .unwrap();
    let comm = SshCommunicator::new(Arc::new(c), "127.0.0.1".into(), conn);
    let (st, out, _) = run_cmd(&comm, "echo $SSH_CONNECTION").await;
    assert_eq!(st, ExitStatus::Code(0));
    assert!(out[0].starts_with("127.0.0.1 "), "{out:?}");
    drop(bastion);
    let (st, _, _) = tokio::time::timeout(Duration::from_secs(10), async {
        // The tunnel is gone with the bastion: reconnecting fails clearly.
        let r = comm
            .start(
                &RemoteCommand {
                    command: "true".into(),
                },
                CommandOutput {
                    stdout: &|_| {},
                    stderr: &|_| {},
                },
            )
            .await;
        (r.map(|s| s.code()).unwrap_or(-99), (), ())
    })
    .await
    .unwrap();
    assert_ne!(st, 0);
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() {
    let mut s = Sshd::start();
    let c = connect(config(&s, key(&s, "id_ed25519"))).await.unwrap();
    assert_eq!(run_cmd(&c, "true").await.0, ExitStatus::Code(0));
    let r = tokio::join!(run_cmd(&c, "sleep 30"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.stop();
    });
    assert_eq!(r.0 .0, ExitStatus::Disconnected);
    s.restart();
    assert_eq!(run_cmd(&c, "echo back").await.1, ["back"]);
}

#[tokio::test]
async fn dropping_a_running_command_stops_it_remotely() {
    let s = Sshd::start_with("LogLevel DEBUG1");
    let c = connect(config(&s, key(&s, "id_ed25519"))).await.unwrap();
    let marker = format!("sleep 4{}.5", std::process::id() % 1000);
    let cmd = format!("echo started; {marker}; echo never");
    let started = Mutex::new(false);
    let o = |l: &str| {
        if l == "started" {
            *started.lock().unwrap() = true
        }
    };
    let rc = RemoteCommand { command: cmd };
    let fut = c.start(
        &rc,
        CommandOutput {
            stdout: &o,
            stderr: &|_| {},
        },
    );
    let r = tokio::time::timeout(Duration::from_millis(800), fut).await;
    assert!(r.is_err(), "the command should still be running");
    assert!(*started.lock().unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_matching(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the remote command survived: {:?}\n{}",
            processes_matching(&marker),
            std::fs::read_to_string(s.path("sshd.log"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("signal") || l.contains("channel"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection is still usable.
    assert_eq!(run_cmd(&c, "true").await.0, ExitStatus::Code(0));
}

#[tokio::test]
async fn connects_through_socks5_proxies() {
    let s = Sshd::start();
    // OpenSSH's `ssh -D`: no proxy authentication.
    let plain = sshd::Socks::openssh(&s);
    let mut v = key(&s, "id_ed25519");
    v["ssh_proxy_host"] = json!("127.0.0.1");
    v["ssh_proxy_port"] = json!(plain.port);
    let c = connect(config(&s, v)).await.unwrap();
    let (st, out, _) = run_cmd(&c, "echo via-socks; echo $SSH_CONNECTION").await;
    assert_eq!(st, ExitStatus::Code(0));
    assert_eq!(out[0], "via-socks");
    // sshd sees the connection come from the proxy, not from kiln.
    assert!(!out[1].contains(&format!(" {} ", plain.port)), "{out:?}");

    // microsocks with a user name and password.
    let auth = sshd::Socks::microsocks(Some(("kiln", "proxy-Pa55")));
    let mut v = key(&s, "id_ed25519");
    v["ssh_proxy_host"] = json!("127.0.0.1");
    v["ssh_proxy_port"] = json!(auth.port);
    v["ssh_proxy_username"] = json!("kiln");
    v["ssh_proxy_password"] = json!("proxy-Pa55");
    let c = connect(config(&s, v.clone())).await.unwrap();
    assert_eq!(run_cmd(&c, "echo authed").await.1, ["authed"]);

    v["ssh_proxy_password"] = json!("wrong-password");
    v["ssh_timeout"] = json!("1s");
    let e = connect(config(&s, v.clone()))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&format!("socks5 proxy `127.0.0.1:{}`", auth.port)),
        "{e}"
    );
    assert!(e.contains("refused the user name and password"), "{e}");
    assert!(!e.contains("wrong-password"), "the password leaked: {e}");

    // Without credentials, a proxy that requires them says so.
    v.as_object_mut().unwrap().remove("ssh_proxy_username");
    v.as_object_mut().unwrap().remove("ssh_proxy_password");
    let e = connect(config(&s, v)).await.err().unwrap().to_string();
    assert!(
        e.contains("accepts none of kiln's authentication methods"),
        "{e}"
    );
}

/// A TCP relay to `port` that can be frozen: once frozen it stops
/// forwarding in both directions but keeps the sockets open, like a
/// network that silently drops everything.
async fn relay(port: u16) -> (u16, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    async fn pump(
        mut r: impl AsyncRead + Unpin,
        mut w: impl AsyncWrite + Unpin,
        frozen: Arc<AtomicBool>,
    ) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if frozen.load(Ordering::Relaxed) {
                // Hold both sockets open and forward nothing, forever.
                let _keep = (r, w);
                std::future::pending::<()>().await;
                return;
            }
            if w.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = l.local_addr().unwrap().port();
    let frozen = Arc::new(AtomicBool::new(false));
    let f = frozen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, f.clone()));
            tokio::spawn(pump(sr, cw, f.clone()));
        }
    });
    (local, frozen)
}

/// What a [`gate`] saw.
#[derive(Default)]
struct GateStats {
    /// Connections accepted.
    accepted: usize,
    /// Connections open and still held silent, now and at most.
    silent: usize,
    max_silent: usize,
}

/// A port forwarder in front of `port` that behaves like qemu's user-mode
/// networking in front of a booting guest: it accepts every connection at
/// once, but while `open` is false it sends nothing and holds the
/// connection until the client closes it (the guest never saw the SYN).
/// Connections accepted once `open` is set are forwarded to `port`, after
/// `delay` (a server slow to send its banner).
async fn gate(
    port: u16,
    delay: Duration,
) -> (
    u16,
    Arc<std::sync::atomic::AtomicBool>,
    Arc<Mutex<GateStats>>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::AsyncReadExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = l.local_addr().unwrap().port();
    let open = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(GateStats::default()));
    let (o, st) = (open.clone(), stats.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = l.accept().await {
            st.lock().unwrap().accepted += 1;
            let st = st.clone();
            if !o.load(Ordering::Relaxed) {
                {
                    let mut g = st.lock().unwrap();
                    g.silent += 1;
                    g.max_silent = g.max_silent.max(g.silent);
                }
                tokio::spawn(async move {
                    // Reads (and drops) what the client sends until it
                    // closes; answers nothing.
                    let mut buf = [0u8; 1024];
                    while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
                    st.lock().unwrap().silent -= 1;
                });
                continue;
            }
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (local, open, stats)
}

/// qemu's port forward accepts at once and then holds connections made
/// before the guest's network is up for as long as the guest takes to
/// boot. kiln must not wait on such a connection until its handshake
/// timeout (20 s, longer than `ssh_timeout` here): it starts new attempts
/// beside the silent ones, never more than 4 at once.
#[tokio::test]
async fn connects_past_connections_a_forwarder_holds_silent() {
    use std::sync::atomic::Ordering;
    let s = Sshd::start();
    let (port, open, stats) = gate(s.port, Duration::ZERO).await;
    let mut c = config(&s, key(&s, "id_ed25519"));
    c.port = port;
    c.timeout = Duration::from_secs(15);
    let waiting = tokio::spawn(async move {
        let r = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new()).await;
        r.map(|_| ()).map_err(|e| e.to_string())
    });
    // Long enough for more than 4 staggered attempts (at 0, 0.25, 0.75,
    // 1.75 and 3.75 s; the next, at 7.75 s, gets through).
    tokio::time::sleep(Duration::from_secs(5)).await;
    open.store(true, Ordering::Relaxed);
    let r = waiting.await.unwrap();
    let st = stats.lock().unwrap();
    assert_eq!(r, Ok(()), "accepted {} connections", st.accepted);
    assert!(st.accepted > 4, "accepted {}", st.accepted);
    assert!(
        st.max_silent <= 4,
        "{} silent connections at once",
        st.max_silent
    );
}

/// A server that is slow to send its banner is still waited for: the
/// attempts started beside it stop once it speaks, and it connects.
#[tokio::test]
async fn waits_for_a_server_slow_to_send_its_banner() {
    use std::sync::atomic::Ordering;
    let s = Sshd::start();
    let (port, open, stats) = gate(s.port, Duration::from_secs(3)).await;
    open.store(true, Ordering::Relaxed);
    let mut c = config(&s, key(&s, "id_ed25519"));
    c.port = port;
    c.timeout = Duration::from_secs(30);
    let r = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new()).await;
    let accepted = stats.lock().unwrap().accepted;
    assert!(r.is_ok(), "{:?}", r.err());
    assert!((2..=8).contains(&accepted), "accepted {accepted}");
}

#[tokio::test]
async fn read_write_timeout_fails_a_stuck_connection_clearly() {
    use std::sync::atomic::Ordering;
    let s = Sshd::start();
    let (port, frozen) = relay(s.port).await;
    let mut v = key(&s, "id_ed25519");
    v["ssh_port"] = json!(port);
    v["ssh_read_write_timeout"] = json!("1s");
    // Keepalive replies keep an idle, healthy connection alive.
    v["ssh_keep_alive_interval"] = json!("200ms");
    let mut c = config(&s, v);
    c.port = port;
    let conn = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new())
        .await
        .unwrap();
    let comm = SshCommunicator::new(Arc::new(c), "127.0.0.1".into(), conn);
    // Silent for longer than the timeout, but the connection is healthy.
    let (st, out, _) = run_cmd(&comm, "sleep 2; echo still-here").await;
    assert_eq!(
        (st, out),
        (ExitStatus::Code(0), vec!["still-here".to_string()])
    );

    let lines = Mutex::new(Vec::new());
    let o = |l: &str| {
        lines.lock().unwrap().push(l.to_string());
        if l == "tick 3" {
            frozen.store(true, Ordering::Relaxed);
        }
    };
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        comm.start(
            &RemoteCommand {
                command: "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo tick $i; sleep 0.2; done".into(),
            },
            CommandOutput {
                stdout: &o,
                stderr: &|_| {},
            },
        ),
    )
    .await
    .expect("kiln hung on a stuck connection");
    let e = r.expect_err("a stuck command must fail").to_string();
    assert!(e.contains("`ssh_read_write_timeout`"), "{e}");
    assert!(e.contains("nothing could be read or written for 1s"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!lines.lock().unwrap().contains(&"tick 20".to_string()));
}

#[tokio::test]
async fn clears_the_temporary_key_from_authorized_keys() {
    use kiln_sdk::step::{Step, StepContext};
    struct State(Arc<dyn Communicator>);
    impl kiln_sdk::steps::HasCommunicator for State {
        fn communicator(&self) -> Arc<dyn Communicator> {
            self.0.clone()
        }
        fn generated(&self) -> kiln_sdk::component::GeneratedData {
            Default::default()
        }
    }
    sshd::ensure_password_user();
    let s = Sshd::start_with("AuthorizedKeysFile .ssh/authorized_keys");
    let home = format!("/home/{}", sshd::PASSWORD_USER);
    let ssh_dir = Path::new(&home).join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let comment = format!("kiln_{:08x}", rand_suffix());
    let pair = kiln_ssh::TemporaryKeyPair::generate(kiln_ssh::KeyPairType::Ed25519, &comment, None)
        .unwrap();
    let other = std::fs::read_to_string(s.path("id_rsa.pub")).unwrap();
    let before = format!(
        "# managed by hand\n{}\n{}\n{}",
        other.trim(),
        pair.public_openssh.trim(),
        // The same comment mid-line is not the temporary key.
        format_args!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample {comment}-kept\n")
    );
    assert!(pair.public_openssh.trim().ends_with(&format!(" {comment}")));
    let keys = ssh_dir.join("authorized_keys");
    std::fs::write(&keys, &before).unwrap();
    // sed -i writes a new file next to it: the user must own the directory.
    let chown = std::process::Command::new("chown")
        .args(["-R", sshd::PASSWORD_USER])
        .arg(&ssh_dir)
        .status()
        .unwrap();
    assert!(chown.success());
    let mut c = config(
        &s,
        json!({"ssh_username": sshd::PASSWORD_USER, "ssh_clear_authorized_keys": true}),
    );
    c.credentials.temporary_key = Some(kiln_sdk::Secret::new(Arc::new(pair.private.clone())));
    let c = Arc::new(c);
    let conn = wait_for_ssh(&c, "127.0.0.1", &CancellationToken::new())
        .await
        .unwrap();
    let comm = Arc::new(SshCommunicator::new(c.clone(), "127.0.0.1".into(), conn));
    let ui = kiln_sdk::ui::RecordingUi::default();
    let cx = StepContext {
        ui: &ui,
        cancel: CancellationToken::new(),
        failed: false,
    };
    let mut state = State(comm.clone());
    let mut step = kiln_ssh::StepCleanupTempKeys::new(c.clone());
    Step::<State>::run(&mut step, &cx, &mut state)
        .await
        .unwrap();
    let after = std::fs::read_to_string(&keys).unwrap();
    let expected: String = before
        .lines()
        .filter(|l| !l.ends_with(&format!(" {comment}")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(after, expected);
    assert!(!after.contains(pair.public_openssh.split_whitespace().nth(1).unwrap()));
    assert!(!ssh_dir.join("authorized_keys.bak").exists());
    assert!(
        ui.lines().contains(
            &"say: Trying to remove ephemeral keys from authorized_keys files".to_string()
        ),
        "{:?}",
        ui.lines()
    );
    // The key is gone: a new connection with it is refused.
    let mut again = (*c).clone();
    again.timeout = Duration::from_secs(2);
    again.handshake_attempts = 1;
    let e = connect(again).await.err().unwrap().to_string();
    assert!(e.contains("publickey (temporary key pair)"), "{e}");

    // Off by default: nothing is touched.
    std::fs::write(&keys, &before).unwrap();
    let mut off = (*c).clone();
    off.clear_authorized_keys = false;
    let mut step = kiln_ssh::StepCleanupTempKeys::new(Arc::new(off));
    Step::<State>::run(&mut step, &cx, &mut state)
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), before);
    std::fs::remove_file(&keys).unwrap();
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}
