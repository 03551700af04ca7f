//! Packer's `muxBroker` over a yamux session: each logical channel is a
//! yamux stream that starts with a little-endian u32 id, acknowledged by
//! the acceptor writing the same id back. The side that accepts allocates
//! the id from its own counter. Streams nobody accepts within 5 s are
//! closed, as in Go.
//!
//! Stores: streams that arrived before their `accept`, and waiters.
//! Cleanup: the background task ends when the session does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::yamux::{Session, Stream};

/// How long a parked stream or an `accept` waits (Go's value).
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(5);

enum Slot {
    Parked(Stream),
    Waiting(oneshot::Sender<Stream>),
}

/// See the module docs.
pub struct Broker {
    session: Session,
    next_id: AtomicU32,
    slots: Arc<Mutex<HashMap<u32, Slot>>>,
}

impl Broker {
    /// Starts routing the session's incoming streams (on the current
    /// runtime).
    pub fn start(session: Session, mut incoming: mpsc::UnboundedReceiver<Stream>) -> Arc<Broker> {
        let slots: Arc<Mutex<HashMap<u32, Slot>>> = Arc::default();
        let s = slots.clone();
        tokio::spawn(async move {
            while let Some(mut stream) = incoming.recv().await {
                let slots = s.clone();
                tokio::spawn(async move {
                    let id =
                        match tokio::time::timeout(ACCEPT_TIMEOUT, stream.reader.read_exact_vec(4))
                            .await
                        {
                            Ok(Ok(b)) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                            _ => {
                                stream.writer.close();
                                return;
                            }
                        };
                    let (waiter, stream) = {
                        let mut map = slots.lock().unwrap_or_else(|e| e.into_inner());
                        match map.remove(&id) {
                            Some(Slot::Waiting(tx)) => (Some(tx), Some(stream)),
                            _ => {
                                map.insert(id, Slot::Parked(stream));
                                (None, None)
                            }
                        }
                    };
                    match waiter {
                        Some(tx) => {
                            if let Err(stream) = tx.send(stream.expect("set with the waiter")) {
                                stream.writer.close();
                            }
                        }
                        None => {
                            tokio::time::sleep(ACCEPT_TIMEOUT).await;
                            let mut map = slots.lock().unwrap_or_else(|e| e.into_inner());
                            if matches!(map.get(&id), Some(Slot::Parked(_))) {
                                if let Some(Slot::Parked(s)) = map.remove(&id) {
                                    s.writer.close();
                                }
                            }
                        }
                    }
                });
            }
        });
        Arc::new(Broker {
            session,
            next_id: AtomicU32::new(0),
            slots,
        })
    }

    /// The next id this side allocates (for streams it will accept).
    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The session underneath.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Opens the stream with broker id `id` (which the peer accepts).
    pub async fn dial(&self, id: u32) -> std::io::Result<Stream> {
        let mut stream = self.session.open()?;
        crate::trace!("broker: dial {id} (yamux stream {})", stream.id());
        stream.writer.write_all(&id.to_le_bytes()).await?;
        let ack = tokio::time::timeout(Duration::from_secs(30), stream.reader.read_exact_vec(4))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the plugin did not acknowledge stream {id} within 30s"),
                )
            })??;
        let got = u32::from_le_bytes([ack[0], ack[1], ack[2], ack[3]]);
        crate::trace!("broker: dial {id} acknowledged");
        if got != id {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the plugin acknowledged stream {got} instead of {id}"),
            ));
        }
        Ok(stream)
    }

    /// Waits for the peer to dial `id`, then acknowledges it.
    pub async fn accept(&self, id: u32, timeout: Duration) -> std::io::Result<Stream> {
        crate::trace!("broker: accept {id}");
        let rx = {
            let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            match map.remove(&id) {
                Some(Slot::Parked(s)) => Err(s),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    map.insert(id, Slot::Waiting(tx));
                    Ok(rx)
                }
            }
        };
        let rx = match rx {
            Ok(rx) => rx,
            Err(parked) => return ack(parked, id).await,
        };
        let closed = self.session.clone();
        let res = tokio::select! {
            r = tokio::time::timeout(timeout, rx) => r,
            _ = closed.closed() => {
                self.slots.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the plugin connection closed",
                ));
            }
        };
        match res {
            Ok(Ok(s)) => ack(s, id).await,
            _ => {
                self.slots
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the plugin did not open stream {id} within {}s",
                        timeout.as_secs()
                    ),
                ))
            }
        }
    }
}

async fn ack(s: Stream, id: u32) -> std::io::Result<Stream> {
    crate::trace!("broker: accepted {id} (yamux stream {})", s.id());
    s.writer.write_all(&id.to_le_bytes()).await?;
    Ok(s)
}
