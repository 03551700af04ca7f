//! A small QMP (QEMU Machine Protocol) client over a unix socket: JSON
//! lines, commands answered in order, events interleaved. Enough for what
//! the builder needs: `query-status`, `system_powerdown`, `quit`, and
//! `input-send-event` for typing the boot command. A reader task owns the
//! socket's read half and routes replies and events; dropping the client
//! stops it (the socket file belongs to QEMU and the temp directory).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, oneshot, Mutex};
use tokio::task::JoinHandle;

/// QMP failures.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Could not connect or talk.
    #[error("qmp socket `{path}`: {message}")]
    Io {
        /// The socket.
        path: String,
        /// What failed.
        message: String,
    },
    /// QEMU answered with an error.
    #[error("qmp command `{command}` failed: {message}")]
    Command {
        /// The command.
        command: String,
        /// QEMU's `desc`.
        message: String,
    },
    /// The connection closed (QEMU exited).
    #[error("qmp connection closed (qemu exited)")]
    Closed,
}

type Pending = Arc<StdMutex<VecDeque<oneshot::Sender<Result<Value, String>>>>>;

/// A connected QMP client.
pub struct Qmp {
    path: String,
    writer: Mutex<OwnedWriteHalf>,
    pending: Pending,
    events: broadcast::Sender<String>,
    reader: JoinHandle<()>,
}

impl Drop for Qmp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Qmp {
    /// Connects to QEMU's QMP socket, retrying briefly while QEMU creates
    /// it, and negotiates capabilities.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let shown = path.display().to_string();
        let io = |m: String| QmpError::Io {
            path: shown.clone(),
            message: m,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(5);
        let stream = loop {
            match UnixStream::connect(path).await {
                Ok(s) => break s,
                Err(e) if tokio::time::Instant::now() + delay < deadline => {
                    let _ = e;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(100));
                }
                Err(e) => return Err(io(format!("cannot connect: {e}"))),
            }
        };
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = tokio::time::timeout(timeout, lines.next_line())
            .await
            .map_err(|_| io("no greeting from qemu".into()))?
            .map_err(|e| io(format!("cannot read the greeting: {e}")))?
            .ok_or(QmpError::Closed)?;
        if !greeting.contains("\"QMP\"") {
            return Err(io(format!("unexpected greeting `{greeting}`")));
        }
        let pending: Pending = Default::default();
        let (events, _) = broadcast::channel(64);
        let reader = {
            let pending = pending.clone();
            let events = events.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    let Ok(v) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if let Some(ev) = v.get("event").and_then(Value::as_str) {
                        let _ = events.send(ev.to_string());
                        continue;
                    }
                    let reply = if let Some(r) = v.get("return") {
                        Ok(r.clone())
                    } else if let Some(e) = v.get("error") {
                        Err(e
                            .get("desc")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown error")
                            .to_string())
                    } else {
                        continue;
                    };
                    let tx = pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop_front();
                    if let Some(tx) = tx {
                        let _ = tx.send(reply);
                    }
                }
                // Closed: fail whatever is still waiting.
                pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
            })
        };
        let qmp = Qmp {
            path: path.display().to_string(),
            writer: Mutex::new(write),
            pending,
            events,
            reader,
        };
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Subscribes to event names (`SHUTDOWN`, `POWERDOWN`, `STOP`…).
    pub fn events(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    /// Runs a command and returns its `return` value.
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut line = msg.to_string();
        line.push('\n');
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.writer.lock().await;
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(tx);
            w.write_all(line.as_bytes())
                .await
                .map_err(|e| QmpError::Io {
                    path: self.path.clone(),
                    message: format!("cannot send `{command}`: {e}"),
                })?;
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(QmpError::Command {
                command: command.to_string(),
                message,
            }),
            Err(_) => Err(QmpError::Closed),
        }
    }

    /// `query-status`: `running`, `paused`, `shutdown`…
    pub async fn status(&self) -> Result<String, QmpError> {
        let v = self.execute("query-status", None).await?;
        Ok(v.get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string())
    }

    /// ACPI power button.
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute("system_powerdown", None).await.map(|_| ())
    }

    /// Stops QEMU at once.
    pub async fn quit(&self) -> Result<(), QmpError> {
        match self.execute("quit", None).await {
            Ok(_) | Err(QmpError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Presses (`down`) or releases a key, by qcode.
    pub async fn key(&self, qcode: &str, down: bool) -> Result<(), QmpError> {
        self.execute(
            "input-send-event",
            Some(json!({ "events": [{ "type": "key", "data": {
                "down": down, "key": { "type": "qcode", "data": qcode } } }] })),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake QEMU: greets, answers every command with `{"return": {...}}`
    /// (status `running`), and emits an event after `system_powerdown`.
    async fn fake(path: &Path) -> JoinHandle<Vec<String>> {
        let listener = UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .await
                .unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&line).unwrap();
                let cmd = v["execute"].as_str().unwrap().to_string();
                seen.push(cmd.clone());
                let reply = match cmd.as_str() {
                    "query-status" => "{\"return\": {\"status\": \"running\", \"running\": true}}\n".to_string(),
                    "bogus" => "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command bogus has not been found\"}}\n".to_string(),
                    "system_powerdown" => "{\"event\": \"POWERDOWN\", \"data\": {}}\n{\"return\": {}}\n".to_string(),
                    _ => "{\"return\": {}}\n".to_string(),
                };
                w.write_all(reply.as_bytes()).await.unwrap();
                if cmd == "quit" {
                    break;
                }
            }
            seen
        })
    }

    #[tokio::test]
    async fn talks_qmp() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let server = fake(&sock).await;
        let qmp = Qmp::connect(&sock, Duration::from_secs(5)).await.unwrap();
        let mut events = qmp.events();
        assert_eq!(qmp.status().await.unwrap(), "running");
        let e = qmp.execute("bogus", None).await.unwrap_err();
        assert!(e.to_string().contains("`bogus` failed"), "{e}");
        qmp.system_powerdown().await.unwrap();
        assert_eq!(events.recv().await.unwrap(), "POWERDOWN");
        qmp.key("ret", true).await.unwrap();
        qmp.quit().await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!(
            seen,
            [
                "qmp_capabilities",
                "query-status",
                "bogus",
                "system_powerdown",
                "input-send-event",
                "quit"
            ]
        );
    }

    #[tokio::test]
    async fn missing_socket_fails_with_context() {
        let dir = tempfile::tempdir().unwrap();
        let e = match Qmp::connect(&dir.path().join("none.sock"), Duration::from_millis(50)).await {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(
            e.contains("none.sock") && e.contains("cannot connect"),
            "{e}"
        );
    }
}
