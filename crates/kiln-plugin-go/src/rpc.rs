//! Go `net/rpc` with the msgpack codec over one broker stream. Each message
//! is a header map then a body. The client matches replies by `Seq` (they
//! come back out of order); the server runs every request concurrently,
//! because a plugin sends `Ui.Say` while its `Hook.Run` is still pending.
//!
//! Stores: the client's pending calls. Cleanup: dropping the client closes
//! its stream; a server ends when its stream does.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::oneshot;

use crate::msgpack::{decode, encode, Value};
use crate::yamux::{Stream, StreamReader, StreamWriter};

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The remote method returned an error.
    #[error("{0}")]
    Remote(String),
    /// The connection went away before the reply.
    #[error("the plugin connection closed before `{0}` returned")]
    Disconnected(String),
    /// The peer sent something that is not net/rpc msgpack.
    #[error("the plugin broke the RPC protocol: {0}")]
    Protocol(String),
}

/// Reads whole msgpack values from a stream.
pub struct MsgReader {
    reader: StreamReader,
    buf: Vec<u8>,
}

impl MsgReader {
    /// Wraps a stream's reading half.
    pub fn new(reader: StreamReader) -> Self {
        MsgReader {
            reader,
            buf: Vec::new(),
        }
    }
    /// The next value; `Ok(None)` at a clean EOF.
    pub async fn next(&mut self) -> Result<Option<Value>, RpcError> {
        loop {
            match decode(&self.buf) {
                Ok(Some((v, n))) => {
                    self.buf.drain(..n);
                    return Ok(Some(v));
                }
                Ok(None) => {}
                Err(e) => return Err(RpcError::Protocol(e.to_string())),
            }
            match self.reader.chunk().await {
                Some(c) => self.buf.extend_from_slice(&c),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(RpcError::Protocol("the stream ended mid-message".into())),
            }
        }
    }
}

type Waiters = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<Value, RpcError>>>>>>;

/// A net/rpc client on one stream.
pub struct RpcClient {
    writer: StreamWriter,
    write_lock: tokio::sync::Mutex<()>,
    seq: AtomicU64,
    waiters: Waiters,
}

impl RpcClient {
    /// Starts the reply reader (on the current runtime).
    pub fn new(stream: Stream) -> RpcClient {
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        let w = waiters.clone();
        let mut rd = MsgReader::new(stream.reader);
        tokio::spawn(async move {
            let err = loop {
                let hdr = match rd.next().await {
                    Ok(Some(h)) => h,
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                };
                let body = match rd.next().await {
                    Ok(Some(b)) => b,
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                };
                let Some(seq) = hdr.get("Seq").and_then(Value::as_u64) else {
                    break Some(RpcError::Protocol(format!(
                        "a reply without `Seq`: {hdr:?}"
                    )));
                };
                let error = hdr.get("Error").and_then(Value::as_str).unwrap_or("");
                let res = if error.is_empty() {
                    Ok(body)
                } else {
                    Err(RpcError::Remote(error.to_string()))
                };
                crate::trace!(
                    "rpc reply seq {seq}{}",
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!(" error `{error}`")
                    }
                );
                let tx = w
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                    .and_then(|m| m.remove(&seq));
                if let Some(tx) = tx {
                    let _ = tx.send(res);
                }
            };
            let pending = w.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let (Some(e), Some(pending)) = (err, pending) {
                for (_, tx) in pending {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        });
        RpcClient {
            writer: stream.writer,
            write_lock: tokio::sync::Mutex::new(()),
            seq: AtomicU64::new(0),
            waiters,
        }
    }

    /// Calls `method` with `arg` and waits for the reply.
    pub async fn call(&self, method: &str, arg: Value) -> Result<Value, RpcError> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            match w.as_mut() {
                Some(m) => m.insert(seq, tx),
                None => return Err(RpcError::Disconnected(method.to_string())),
            };
        }
        let mut msg = Vec::new();
        encode(
            &Value::map([
                ("ServiceMethod", Value::str(method)),
                ("Seq", Value::UInt(seq)),
            ]),
            &mut msg,
        );
        encode(&arg, &mut msg);
        crate::trace!(
            "rpc call `{method}` seq {seq} on stream {}",
            self.writer.id()
        );
        {
            let _g = self.write_lock.lock().await;
            if self.writer.write_all(&msg).await.is_err() {
                return Err(RpcError::Disconnected(method.to_string()));
            }
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(RpcError::Disconnected(method.to_string())),
        }
    }
}

impl Drop for RpcClient {
    fn drop(&mut self) {
        self.writer.close();
    }
}

/// Serves net/rpc requests on `stream` until it closes, running each
/// request's `handler(method, body)` concurrently. `Err(message)` becomes
/// the reply's `Error` with an empty body, as in Go.
pub async fn serve<'a, H, F>(stream: Stream, handler: H)
where
    H: Fn(String, Value) -> F + 'a,
    F: Future<Output = Result<Value, String>> + 'a,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, u64, Value)>();
    let mut rd = MsgReader::new(stream.reader);
    let reader = tokio::spawn(async move {
        loop {
            let Ok(Some(hdr)) = rd.next().await else {
                break;
            };
            let Ok(Some(body)) = rd.next().await else {
                break;
            };
            let method = hdr
                .get("ServiceMethod")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let seq = hdr.get("Seq").and_then(Value::as_u64).unwrap_or(0);
            crate::trace!("rpc serve: request `{method}` seq {seq}");
            if tx.send((method, seq, body)).is_err() {
                break;
            }
        }
    });
    let writer = stream.writer;
    let write_lock = tokio::sync::Mutex::new(());
    let mut running = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            req = rx.recv(), if open => match req {
                Some((method, seq, body)) => {
                    let fut = handler(method.clone(), body);
                    let writer = &writer;
                    let write_lock = &write_lock;
                    running.push(async move {
                        let (error, reply) = match fut.await {
                            Ok(v) => (String::new(), v),
                            Err(e) => (e, Value::Map(Vec::new())),
                        };
                        let mut msg = Vec::new();
                        encode(
                            &Value::map([
                                ("ServiceMethod", Value::str(method.as_str())),
                                ("Seq", Value::UInt(seq)),
                                ("Error", Value::Str(error)),
                            ]),
                            &mut msg,
                        );
                        encode(&reply, &mut msg);
                        let _g = write_lock.lock().await;
                        let _ = writer.write_all(&msg).await;
                        crate::trace!("rpc serve: replied to `{method}` seq {seq}");
                    });
                }
                None => open = false,
            },
            Some(()) = running.next(), if !running.is_empty() => {}
            else => break,
        }
    }
    reader.abort();
    writer.close();
}
