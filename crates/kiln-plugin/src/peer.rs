//! One end of a plugin connection, used by both the host and the plugin
//! SDK: it writes messages, and a reader thread routes what arrives —
//! responses to the call waiting for them, messages that name a call in
//! progress to that call's handler, everything else to the top-level
//! channel. Works with or without an async runtime (prepare is
//! synchronous). When the stream ends every waiting call fails with the
//! reason `on_close` gives (the host adds the plugin's exit status and its
//! last stderr lines). Owns the writer; dropping the last `Peer` closes it.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use async_trait::async_trait;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::protocol::{Message, WireError};

/// A message the other side started: a request to answer or a notification.
#[derive(Debug)]
pub enum Incoming {
    /// Answer it with [`Peer::respond`].
    Request {
        /// Its id.
        id: u64,
        /// The method.
        method: String,
        /// The parameters (`null` when absent).
        params: Value,
        /// The call of ours it belongs to.
        call: Option<u64>,
    },
    /// Needs no answer.
    Notify {
        /// The method.
        method: String,
        /// The parameters.
        params: Value,
        /// The call of ours it belongs to.
        call: Option<u64>,
    },
}

type Reply = Result<Value, WireError>;

struct Pending {
    reply: Option<oneshot::Sender<Reply>>,
    events: mpsc::UnboundedSender<Incoming>,
}

#[derive(Default)]
struct State {
    pending: HashMap<u64, Pending>,
    closed: Option<String>,
    top: Option<mpsc::UnboundedSender<Incoming>>,
}

struct Inner {
    writer: Mutex<Box<dyn Write + Send>>,
    next_id: AtomicU64,
    state: Mutex<State>,
}

/// One end of a connection. Cheap to clone.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<Inner>,
}

/// A request sent and not yet answered.
pub struct Call {
    /// Its id.
    pub id: u64,
    reply: oneshot::Receiver<Reply>,
    events: mpsc::UnboundedReceiver<Incoming>,
}

/// Handles what the other side sends while one of our calls is running.
#[async_trait]
pub trait Callbacks: Send + Sync {
    /// A notification belonging to the call (UI lines, command output).
    fn notify(&self, method: &str, params: Value);
    /// A request belonging to the call; `id` is the request's id, for the
    /// handler's own nested calls.
    async fn request(&self, peer: &Peer, id: u64, method: &str, params: Value) -> Reply;
}

/// Callbacks that refuse everything (for calls that expect none).
pub struct NoCallbacks;

#[async_trait]
impl Callbacks for NoCallbacks {
    fn notify(&self, _: &str, _: Value) {}
    async fn request(&self, _: &Peer, _: u64, method: &str, _: Value) -> Reply {
        Err(WireError::new(
            "unknown-method",
            format!("`{method}` is not expected here"),
        ))
    }
}

impl Peer {
    /// Starts a peer reading `reader` on a thread and writing `writer`.
    /// Returns the peer and the channel of top-level incoming messages.
    /// `on_close` runs once when `reader` ends and says why.
    pub fn start(
        name: &str,
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        on_close: Box<dyn FnOnce() -> String + Send>,
    ) -> std::io::Result<(Peer, mpsc::UnboundedReceiver<Incoming>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            writer: Mutex::new(writer),
            next_id: AtomicU64::new(1),
            state: Mutex::new(State {
                top: Some(tx),
                ..Default::default()
            }),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name(format!("plugin-reader {name}"))
            .spawn(move || {
                let mut reader = BufReader::new(reader);
                let mut line = String::new();
                let mut bad = None;
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    match serde_json::from_str::<Message>(&line) {
                        Ok(m) => route(&inner, m),
                        Err(e) => {
                            bad = Some(format!(
                                "it wrote something that is not a protocol message ({e}): `{}`",
                                line.trim().chars().take(200).collect::<String>()
                            ));
                            break;
                        }
                    }
                }
                let reason = match bad {
                    Some(b) => {
                        let rest = on_close();
                        format!("{b}; {rest}")
                    }
                    None => on_close(),
                };
                if let Some(inner) = weak.upgrade() {
                    let mut st = lock(&inner.state);
                    st.closed = Some(reason.clone());
                    st.top = None;
                    for (_, mut p) in st.pending.drain() {
                        if let Some(r) = p.reply.take() {
                            let _ = r.send(Err(WireError::new("closed", reason.clone())));
                        }
                    }
                }
            })?;
        Ok((Peer { inner }, rx))
    }

    fn send(&self, m: &Message) -> Result<(), WireError> {
        let mut line = serde_json::to_vec(m)
            .map_err(|e| WireError::new("failed", format!("cannot encode a message: {e}")))?;
        line.push(b'\n');
        let mut w = lock(&self.inner.writer);
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|e| WireError::new("closed", self.closed_reason(&e.to_string())))
    }

    /// Why the connection is closed, or `fallback` when it is not known yet.
    pub fn closed_reason(&self, fallback: &str) -> String {
        lock(&self.inner.state)
            .closed
            .clone()
            .unwrap_or_else(|| format!("the connection failed: {fallback}"))
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value, call: Option<u64>) {
        let _ = self.send(&Message {
            method: Some(method.into()),
            params: Some(params),
            call,
            ..Default::default()
        });
    }

    /// Answers the request `id`.
    pub fn respond(&self, id: u64, reply: Reply) {
        let (result, error) = match reply {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        let _ = self.send(&Message {
            id: Some(id),
            result: Some(result.unwrap_or(Value::Null)).filter(|_| error.is_none()),
            error,
            ..Default::default()
        });
    }

    /// Sends a request; `call` names the other side's call in progress it
    /// belongs to.
    pub fn request(
        &self,
        method: &str,
        params: Value,
        call: Option<u64>,
    ) -> Result<Call, WireError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (rtx, rrx) = oneshot::channel();
        let (etx, erx) = mpsc::unbounded_channel();
        {
            let mut st = lock(&self.inner.state);
            if let Some(reason) = &st.closed {
                return Err(WireError::new("closed", reason.clone()));
            }
            st.pending.insert(
                id,
                Pending {
                    reply: Some(rtx),
                    events: etx,
                },
            );
        }
        if let Err(e) = self.send(&Message {
            id: Some(id),
            method: Some(method.into()),
            params: Some(params),
            call,
            ..Default::default()
        }) {
            lock(&self.inner.state).pending.remove(&id);
            return Err(e);
        }
        Ok(Call {
            id,
            reply: rrx,
            events: erx,
        })
    }

    /// Sends a request and waits for its answer, serving `callbacks`
    /// meanwhile; when `cancel` fires, tells the other side to cancel it.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        parent: Option<u64>,
        callbacks: &dyn Callbacks,
        cancel: Option<&CancellationToken>,
    ) -> Reply {
        let call = self.request(method, params, parent)?;
        self.finish(call, callbacks, cancel).await
    }

    /// Waits for `call`'s answer, serving `callbacks` meanwhile.
    pub async fn finish(
        &self,
        call: Call,
        callbacks: &dyn Callbacks,
        cancel: Option<&CancellationToken>,
    ) -> Reply {
        let Call {
            id,
            mut reply,
            mut events,
        } = call;
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        let mut cancel_sent = false;
        let mut handlers = FuturesUnordered::new();
        let mut events_open = true;
        loop {
            tokio::select! {
                biased;
                r = &mut reply => {
                    // Notifications sent before the answer are already
                    // queued: show them before returning.
                    while let Ok(ev) = events.try_recv() {
                        if let Incoming::Notify { method, params, .. } = ev {
                            callbacks.notify(&method, params);
                        }
                    }
                    return r.unwrap_or_else(|_| Err(WireError::new("closed", self.closed_reason("the plugin went away"))));
                }
                ev = events.recv(), if events_open => match ev {
                    Some(Incoming::Notify { method, params, .. }) => callbacks.notify(&method, params),
                    Some(Incoming::Request { id: rid, method, params, .. }) => {
                        handlers.push(async move {
                            let r = callbacks.request(self, rid, &method, params).await;
                            self.respond(rid, r);
                        });
                    }
                    None => events_open = false,
                },
                Some(()) = handlers.next(), if !handlers.is_empty() => {}
                _ = cancel.cancelled(), if !cancel_sent => {
                    cancel_sent = true;
                    self.notify("cancel", serde_json::json!({ "id": id }), None);
                }
            }
        }
    }
}

fn route(inner: &Inner, m: Message) {
    let mut st = lock(&inner.state);
    match (m.id, m.method) {
        (Some(id), None) => {
            let reply = match m.error {
                Some(e) => Err(e),
                None => Ok(m.result.unwrap_or(Value::Null)),
            };
            if let Some(mut p) = st.pending.remove(&id) {
                if let Some(r) = p.reply.take() {
                    let _ = r.send(reply);
                }
            }
        }
        (id, Some(method)) => {
            let params = m.params.unwrap_or(Value::Null);
            let ev = match id {
                Some(id) => Incoming::Request {
                    id,
                    method,
                    params,
                    call: m.call,
                },
                None => Incoming::Notify {
                    method,
                    params,
                    call: m.call,
                },
            };
            let target = m
                .call
                .and_then(|c| st.pending.get(&c))
                .map(|p| p.events.clone());
            let ev = match target {
                Some(t) => match t.send(ev) {
                    Ok(()) => return,
                    Err(e) => e.0,
                },
                None => ev,
            };
            if let Some(top) = &st.top {
                let _ = top.send(ev);
            }
        }
        (None, None) => {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a future to completion on this thread, without a runtime (for the
/// synchronous `prepare`). The future must not need tokio's timers or I/O.
pub fn block_on<F: Future>(f: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
