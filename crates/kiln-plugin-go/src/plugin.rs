//! Starting a plugin process and connecting to it: the magic-cookie
//! environment, the handshake line of either generation (`5|unix|path`
//! from Packer ≤ 1.6.6, `5|0|unix|path` from packer-plugin-sdk ≥ 0.0.11),
//! the yamux session and the broker, and stream 0's RPC client.
//!
//! Stores: the child process, its last stderr lines (for crash reports) and
//! its exit status once known. Cleanup: dropping the [`PluginConn`] closes
//! the session (the plugin then exits by itself, as Go's `Serve` returns)
//! and kills the process if it is still there two seconds later.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{oneshot, watch};

use crate::broker::Broker;
use crate::rpc::{RpcClient, RpcError};
use crate::yamux::Session;
use crate::{GoPluginCommand, GoPluginError};

/// The go-plugin magic cookie Packer's plugins check.
pub const MAGIC_COOKIE_KEY: &str = "PACKER_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// How long a plugin may take to print its handshake (Packer's value).
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STDERR_TAIL: usize = 30;

/// Which handshake generation the plugin spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// `5|network|address`: Packer ≤ 1.6.6 and SDK ≤ 0.0.10.
    Legacy,
    /// `5|minor|network|address`: SDK ≥ 0.0.11 (Packer ≥ 1.7).
    Sdk {
        /// The API minor version (`0`).
        minor: String,
    },
}

/// Where the plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(String),
    /// `host:port`.
    Tcp(String),
}

/// Parses a handshake line; errors are written for the user.
pub fn parse_handshake(name: &str, line: &str) -> Result<(Handshake, Address), GoPluginError> {
    let line = line.trim();
    let parts: Vec<&str> = line.split('|').collect();
    let mismatch = |detail: String| GoPluginError::Protocol {
        plugin: name.to_string(),
        detail,
    };
    let (api, handshake, network, address) = match parts.as_slice() {
        [api, network, address] => (*api, Handshake::Legacy, *network, *address),
        [api, minor, network, address] => (
            *api,
            Handshake::Sdk {
                minor: minor.to_string(),
            },
            *network,
            *address,
        ),
        _ => {
            return Err(mismatch(format!(
                "it printed `{line}` where a Packer plugin handshake (`5|unix|/path` or `5|0|unix|/path`) was expected; check that it is a Packer plugin built for Linux, and that the command line starts it as one (a multi-component `packer-plugin-NAME` needs `start builder TYPE`)"
            )))
        }
    };
    if api != "5" {
        return Err(mismatch(format!(
            "it speaks Packer plugin API version `{api}`, kiln speaks version 5 (Packer 0.12 to 1.6.6, and packer-plugin-sdk plugins); use a plugin release built for Packer 1.x"
        )));
    }
    if let Handshake::Sdk { minor } = &handshake {
        if minor.parse::<u32>().map_or(true, |m| m > 0) {
            return Err(mismatch(format!(
                "it needs Packer plugin API version `5.{minor}`, kiln speaks 5.0 (the version of packer-plugin-sdk v0.0.11 to v0.6); use an older release of the plugin"
            )));
        }
    }
    let address = match network {
        "unix" => Address::Unix(address.to_string()),
        "tcp" => Address::Tcp(address.to_string()),
        other => {
            return Err(mismatch(format!(
            "its handshake `{line}` names the unknown network `{other}` (expected `unix` or `tcp`)"
        )))
        }
    };
    Ok((handshake, address))
}

/// A connected plugin process.
pub struct PluginConn {
    /// A name for messages (`packer-builder-null`).
    pub name: String,
    /// The handshake generation it spoke.
    pub handshake: Handshake,
    /// The broker over its session.
    pub broker: Arc<Broker>,
    /// The RPC client on stream 0.
    pub client: RpcClient,
    stderr: Arc<Mutex<VecDeque<String>>>,
    exit: watch::Receiver<Option<String>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
}

fn log_enabled() -> bool {
    std::env::var("PACKER_LOG").is_ok_and(|v| !v.is_empty() && v != "0")
}

impl PluginConn {
    /// Starts `cmd` and connects. Must run on the bridge runtime.
    pub async fn start(cmd: &GoPluginCommand) -> Result<Arc<PluginConn>, GoPluginError> {
        let name = cmd.display_name();
        let mut command = tokio::process::Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PACKER_PLUGIN_MIN_PORT", "10000")
            .env("PACKER_PLUGIN_MAX_PORT", "25000")
            .env("CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| GoPluginError::Start {
            plugin: name.clone(),
            program: cmd.program.display().to_string(),
            message: e.to_string(),
        })?;
        let stderr: Arc<Mutex<VecDeque<String>>> = Arc::default();
        if let Some(err) = child.stderr.take() {
            let tail = stderr.clone();
            let prefix = name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if log_enabled() {
                        kiln_sdk::ui::diagnostic(&format!("{prefix} plugin: {line}"));
                    }
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (exit_tx, exit_rx) = watch::channel(None::<String>);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let mut line = String::new();
        let read = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        let early_exit = |child: &mut tokio::process::Child| child.try_wait().ok().flatten();
        match read {
            Err(_) => {
                let _ = child.start_kill();
                return Err(GoPluginError::Protocol {
                    plugin: name,
                    detail: format!(
                        "it printed no handshake within {}s; is it a Packer plugin?",
                        START_TIMEOUT.as_secs()
                    ),
                });
            }
            Ok(Err(e)) => {
                return Err(GoPluginError::Protocol {
                    plugin: name,
                    detail: format!("reading its handshake failed: {e}"),
                })
            }
            Ok(Ok(0)) => {
                let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await
                {
                    Ok(Ok(s)) => describe_status(s),
                    _ => early_exit(&mut child).map_or("no exit status".into(), describe_status),
                };
                // Let the stderr reader catch up.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(GoPluginError::Exited {
                    plugin: name,
                    when: "before printing its handshake".into(),
                    status,
                    stderr: tail_text(&stderr),
                });
            }
            Ok(Ok(_)) => {}
        }
        let (handshake, address) = match parse_handshake(&name, &line) {
            Ok(x) => x,
            Err(e) => {
                let _ = child.start_kill();
                return Err(e);
            }
        };
        // Go's host drains stdout forever after the handshake.
        tokio::spawn(async move {
            let mut sink = [0u8; 4096];
            while matches!(stdout.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let connect_err = |e: std::io::Error, addr: &str| GoPluginError::Protocol {
            plugin: name.clone(),
            detail: format!("cannot connect to its socket `{addr}`: {e}"),
        };
        let (session, incoming) = match &address {
            Address::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|e| connect_err(e, p))?;
                Session::start(s)
            }
            Address::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a.as_str())
                    .await
                    .map_err(|e| connect_err(e, a))?;
                let _ = s.set_nodelay(true);
                Session::start(s)
            }
        };
        // The reaper: records how the process ended; on a kill request,
        // waits a little for the plugin to exit by itself, then kills it.
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
                        Ok(s) => s,
                        Err(_) => { let _ = child.start_kill(); child.wait().await }
                    }
                }
            };
            let _ = exit_tx.send(Some(match status {
                Ok(s) => describe_status(s),
                Err(e) => format!("unknown status ({e})"),
            }));
        });
        let broker = Broker::start(session, incoming);
        let main = broker.dial(0).await.map_err(|e| GoPluginError::Protocol {
            plugin: name.clone(),
            detail: format!("it did not answer on the main RPC stream: {e}"),
        })?;
        Ok(Arc::new(PluginConn {
            name,
            handshake,
            client: RpcClient::new(main),
            broker,
            stderr,
            exit: exit_rx,
            kill: Mutex::new(Some(kill_tx)),
        }))
    }

    /// Calls a method on stream 0, turning a lost connection into a crash
    /// report.
    pub async fn call(
        &self,
        method: &str,
        arg: crate::msgpack::Value,
    ) -> Result<crate::msgpack::Value, GoPluginError> {
        let r = self.client.call(method, arg).await;
        self.check(method, r).await
    }

    /// Turns an RPC result into the bridge's error, explaining crashes.
    pub async fn check<T>(&self, method: &str, r: Result<T, RpcError>) -> Result<T, GoPluginError> {
        match r {
            Ok(v) => Ok(v),
            Err(RpcError::Remote(m)) => Err(GoPluginError::Remote(m)),
            Err(e) => Err(self.crash_report(method, &e.to_string()).await),
        }
    }

    /// Explains why the connection went away: the exit status and the
    /// plugin's last stderr lines.
    pub async fn crash_report(&self, during: &str, fallback: &str) -> GoPluginError {
        let mut exit = self.exit.clone();
        let status = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                if let Some(s) = exit.borrow().clone() {
                    return Some(s);
                }
                if exit.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten();
        match status {
            Some(status) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                GoPluginError::Exited {
                    plugin: self.name.clone(),
                    when: format!("during `{during}`"),
                    status,
                    stderr: tail_text(&self.stderr),
                }
            }
            None => GoPluginError::Protocol {
                plugin: self.name.clone(),
                detail: format!("{fallback} (during `{during}`)"),
            },
        }
    }

    /// Whether the process has exited, and how.
    pub fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }
}

impl Drop for PluginConn {
    fn drop(&mut self) {
        let session = self.broker.session().clone();
        let _guard = crate::runtime().enter();
        session.close();
        if let Some(k) = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = k.send(());
        }
    }
}

fn describe_status(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".into(),
    }
}

fn tail_text(t: &Mutex<VecDeque<String>>) -> String {
    let t = t.lock().unwrap_or_else(|e| e.into_inner());
    // Packer's own log lines are noise here; keep the last ten lines.
    let n = t.len();
    t.iter()
        .skip(n.saturating_sub(10))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_generations() {
        assert_eq!(
            parse_handshake("p", "5|unix|/tmp/packer-plugin1\n").unwrap(),
            (
                Handshake::Legacy,
                Address::Unix("/tmp/packer-plugin1".into())
            )
        );
        assert_eq!(
            parse_handshake("p", "5|0|tcp|127.0.0.1:10000").unwrap(),
            (
                Handshake::Sdk { minor: "0".into() },
                Address::Tcp("127.0.0.1:10000".into())
            )
        );
    }

    #[test]
    fn mismatches_are_actionable() {
        let e = parse_handshake("packer-builder-old", "4|unix|/x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`packer-builder-old`") && e.contains("version `4`"),
            "{e}"
        );
        let e = parse_handshake("p", "5|1|unix|/x").unwrap_err().to_string();
        assert!(e.contains("`5.1`") && e.contains("older release"), "{e}");
        let e = parse_handshake("p", "hello world").unwrap_err().to_string();
        assert!(
            e.contains("`hello world`") && e.contains("handshake"),
            "{e}"
        );
        let e = parse_handshake("p", "5|0|pipe|/x").unwrap_err().to_string();
        assert!(e.contains("`pipe`"), "{e}");
    }
}
