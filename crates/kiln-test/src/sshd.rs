//! A private OpenSSH server on a loopback port for the SSH tests, with its
//! own sshd_config, host key, authorized_keys and client keys in a
//! temporary directory. The machine's own sshd is never touched. Also an
//! `ssh-agent` ([`Agent`]) and SOCKS5 proxies ([`Socks`]) for the
//! communicator's agent and proxy tests. It starts OpenSSH's programs and
//! knows nothing of kiln-ssh's types, so kiln-ssh's own tests can use it.
//!
//! Password tests need a user whose password is known: the harness creates
//! the local user `kilnssh` (root only) and sets its password to
//! [`PASSWORD`]; it is only reachable through these loopback servers.
//!
//! Cleanup: dropping an [`Sshd`] kills the server and every session process
//! it started (they leave its process group, so the process tree is
//! walked), then removes the directory; dropping an [`Agent`] or a
//! [`Socks`] kills it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the `kilnssh` test user.
pub const PASSWORD: &str = "kiln-Test-Pa55word-7c1e";
/// The password test user.
pub const PASSWORD_USER: &str = "kilnssh";
const SSHD: &str = "/usr/sbin/sshd";

/// A running test sshd; see the module docs.
pub struct Sshd {
    /// Keys, config and logs live here.
    pub dir: tempfile::TempDir,
    /// The loopback port.
    pub port: u16,
    child: Option<Child>,
    extra: String,
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails with a clear message when OpenSSH is not installed.
pub fn require_openssh() {
    for bin in [
        SSHD,
        "/usr/bin/ssh-keygen",
        "/usr/bin/ssh-agent",
        "/usr/bin/ssh-add",
    ] {
        assert!(
            Path::new(bin).exists(),
            "`{bin}` is missing: the SSH tests need Debian's openssh-server and openssh-client; run scripts/install-deps.sh"
        );
    }
}

/// Creates the password test user once (idempotent).
pub fn ensure_password_user() {
    let exists = Command::new("id")
        .arg(PASSWORD_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        // Another test may create it at the same moment.
        let _ = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", PASSWORD_USER])
            .output();
    }
    let mut c = Command::new("chpasswd");
    c.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = c
        .spawn()
        .expect("run chpasswd (the password tests must run as root)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("chpasswd stdin");
        writeln!(stdin, "{PASSWORD_USER}:{PASSWORD}").expect("write to chpasswd");
    }
    assert!(
        child.wait().expect("wait for chpasswd").success(),
        "chpasswd failed"
    );
}

/// The current user's name.
pub fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(
                &Command::new("id")
                    .arg("-un")
                    .output()
                    .expect("id -un")
                    .stdout,
            )
            .trim()
            .to_string()
        })
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

impl Sshd {
    /// Generates keys and starts sshd on a free port.
    pub fn start() -> Sshd {
        Self::start_with("")
    }

    /// Like [`Sshd::start`], with extra sshd_config lines (placed first, so
    /// they override the harness's defaults).
    pub fn start_with(extra: &str) -> Sshd {
        require_openssh();
        let dir = tempfile::Builder::new()
            .prefix("kiln-sshd-")
            .tempdir()
            .expect("create the sshd dir");
        let d = dir.path();
        let keygen = |name: &str, args: &[&str]| {
            run(Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-C", name, "-f"])
                .arg(d.join(name))
                .args(args));
        };
        keygen("host_ed25519", &["-t", "ed25519"]);
        keygen("id_ed25519", &["-t", "ed25519"]);
        keygen("id_rsa", &["-t", "rsa", "-b", "2048"]);
        keygen("id_rsa_pem", &["-t", "rsa", "-b", "2048", "-m", "PEM"]);
        keygen("ca", &["-t", "ed25519"]);
        keygen("id_cert", &["-t", "ed25519"]);
        run(Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(d.join("ca"))
            .args(["-I", "kiln-test", "-n"])
            .arg(current_user())
            .arg(d.join("id_cert.pub")));
        run(Command::new("ssh-keygen")
            .args([
                "-q",
                "-N",
                "secret-passphrase",
                "-t",
                "ed25519",
                "-C",
                "enc",
                "-f",
            ])
            .arg(d.join("id_encrypted")));
        let mut auth = String::new();
        for k in ["id_ed25519", "id_rsa", "id_rsa_pem", "id_encrypted"] {
            auth.push_str(&std::fs::read_to_string(d.join(format!("{k}.pub"))).expect("read key"));
        }
        std::fs::write(d.join("authorized_keys"), auth).expect("write authorized_keys");
        let mut s = Sshd {
            port: free_port(),
            dir,
            child: None,
            extra: extra.to_string(),
        };
        s.spawn();
        s
    }

    /// A path inside the sshd directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's host public key line.
    pub fn host_key(&self) -> String {
        std::fs::read_to_string(self.path("host_ed25519.pub"))
            .expect("read the host key")
            .trim()
            .to_string()
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        // `extra` comes first: for most keywords sshd keeps the first value.
        // `SetEnv SHLVL=1`: bash reads ~/.bashrc in commands run by sshd
        // unless it is a nested shell (SHLVL >= 2). A machine whose root runs
        // `pyenv init` there takes a lock in every session, and a test that
        // kills a remote command midway can leave that lock behind, so every
        // later session would wait 60 s for it. The tests must not depend
        // on the host's dotfiles.
        let cfg = format!(
            "{}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nTrustedUserCAKeys {d}/ca.pub\nUsePAM no\n\
             StrictModes no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
             PermitRootLogin yes\nAllowTcpForwarding yes\nSubsystem sftp internal-sftp\n\
             LogLevel ERROR\nMaxStartups 100\nMaxSessions 100\nSetEnv SHLVL=1\n",
            self.extra,
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), cfg).expect("write sshd_config");
        std::fs::create_dir_all("/run/sshd").ok();
        let log = std::fs::File::create(d.join("sshd.log")).expect("create sshd.log");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .arg("-p")
                .arg(self.port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("start sshd")
        };
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "sshd exited ({st}): {}",
                    std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "sshd did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server and every session (a crash or reboot).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            crate::procs::kill_tree(c.id());
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Whether the server is running.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `ssh-agent` on its own socket; killed on drop.
pub struct Agent {
    /// `SSH_AUTH_SOCK`.
    pub sock: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts an agent and adds `keys` to it.
    pub fn start(keys: &[&Path]) -> Agent {
        require_openssh();
        let dir = tempfile::tempdir().expect("agent dir");
        let sock = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        for k in keys {
            run(Command::new("ssh-add")
                .arg(k)
                .env("SSH_AUTH_SOCK", &sock)
                .stderr(Stdio::piped()));
        }
        Agent {
            sock,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SOCKS5 proxy on a free loopback port; killed on drop.
pub struct Socks {
    /// The proxy's port.
    pub port: u16,
    child: Child,
}

impl Socks {
    /// Debian's `microsocks`, requiring `user`/`password` when given.
    pub fn microsocks(auth: Option<(&str, &str)>) -> Socks {
        assert!(
            Path::new("/usr/bin/microsocks").exists(),
            "`/usr/bin/microsocks` is missing: the SOCKS5 tests need Debian's microsocks; run scripts/install-deps.sh"
        );
        let port = free_port();
        let mut c = Command::new("microsocks");
        c.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((u, p)) = auth {
            c.args(["-u", u, "-P", p]);
        }
        let child = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start microsocks");
        Self::ready(port, child)
    }

    /// OpenSSH's own SOCKS5 server: `ssh -N -D` through `sshd`, logging in
    /// with its `id_ed25519` key (no proxy authentication).
    pub fn openssh(sshd: &Sshd) -> Socks {
        let port = free_port();
        let child = Command::new("ssh")
            .args(["-N", "-D", &format!("127.0.0.1:{port}"), "-p"])
            .arg(sshd.port.to_string())
            .arg("-i")
            .arg(sshd.path("id_ed25519"))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-l",
            ])
            .arg(current_user())
            .arg("127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh -D");
        Self::ready(port, child)
    }

    fn ready(port: u16, mut child: Child) -> Socks {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("the socks proxy exited ({st})");
            }
            assert!(Instant::now() < deadline, "the socks proxy did not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Socks { port, child }
    }
}

impl Drop for Socks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
