//! A client-role hashicorp/yamux session over one socket (the host side of
//! go-plugin): 12-byte frames, SYN/ACK/FIN/RST, per-stream flow control
//! with 256 KiB windows, ping echo and GoAway. Streams are channel-backed,
//! so they can be read and written from any task or runtime.
//!
//! Stores: the table of open streams and the send half of the socket.
//! Cleanup: dropping the [`Session`] (or the peer closing) ends the reader
//! and writer tasks, which closes the socket and ends every stream with EOF.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

const T_DATA: u8 = 0;
const T_WINDOW: u8 = 1;
const T_PING: u8 = 2;
const T_GOAWAY: u8 = 3;
const SYN: u16 = 1;
const ACK: u16 = 2;
const FIN: u16 = 4;
const RST: u16 = 8;
/// yamux's initial stream window.
const WINDOW: u32 = 256 * 1024;
const MAX_FRAME: usize = 64 * 1024;

fn header(typ: u8, flags: u16, id: u32, len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(12);
    h.push(0);
    h.push(typ);
    h.extend_from_slice(&flags.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&len.to_be_bytes());
    h
}

struct StreamState {
    data: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    send_window: Mutex<u32>,
    window_changed: Notify,
    reset: AtomicBool,
    local_closed: AtomicBool,
}

struct Inner {
    out: mpsc::UnboundedSender<Vec<u8>>,
    streams: Mutex<HashMap<u32, Arc<StreamState>>>,
    next_id: AtomicU32,
    closed: CancellationToken,
    close_reason: Mutex<Option<String>>,
}

impl Inner {
    fn send(&self, frame: Vec<u8>) -> bool {
        self.out.send(frame).is_ok()
    }
    fn shut(&self, reason: String) {
        {
            let mut r = self.close_reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.closed.cancel();
        let streams: Vec<_> = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, s) in streams {
            s.data.lock().unwrap_or_else(|e| e.into_inner()).take();
            s.reset.store(true, Ordering::SeqCst);
            s.window_changed.notify_waiters();
        }
    }
    fn new_stream(self: &Arc<Self>, id: u32) -> (Stream, Arc<StreamState>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(StreamState {
            data: Mutex::new(Some(tx)),
            send_window: Mutex::new(WINDOW),
            window_changed: Notify::new(),
            reset: AtomicBool::new(false),
            local_closed: AtomicBool::new(false),
        });
        let stream = Stream {
            reader: StreamReader {
                id,
                rx,
                buf: Vec::new(),
                pos: 0,
                unacked: 0,
                inner: self.clone(),
            },
            writer: StreamWriter {
                id,
                state: state.clone(),
                inner: self.clone(),
            },
        };
        (stream, state)
    }
}

/// One yamux session (client role: odd stream ids).
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl Session {
    /// Starts the session's reader and writer tasks on the current runtime.
    /// Streams the peer opens arrive on the returned channel.
    pub fn start<S>(socket: S) -> (Session, mpsc::UnboundedReceiver<Stream>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(socket);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            out: out_tx,
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            closed: CancellationToken::new(),
            close_reason: Mutex::new(None),
        });
        let closed = inner.closed.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    f = out_rx.recv() => match f {
                        Some(f) => if wr.write_all(&f).await.is_err() { break },
                        None => break,
                    },
                    _ = closed.cancelled() => break,
                }
            }
            let _ = wr.shutdown().await;
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let reason = read_loop(&mut rd, &weak, in_tx).await;
            if let Some(inner) = weak.upgrade() {
                inner.shut(reason);
            }
        });
        (Session { inner }, in_rx)
    }

    /// Opens a new stream (SYN). Data may be written at once.
    pub fn open(&self) -> Result<Stream, std::io::Error> {
        if self.inner.closed.is_cancelled() {
            return Err(closed_error(&self.inner));
        }
        let id = self.inner.next_id.fetch_add(2, Ordering::SeqCst);
        let (stream, state) = self.inner.new_stream(id);
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, state);
        self.inner.send(header(T_WINDOW, SYN, id, 0));
        Ok(stream)
    }

    /// Closes the session: GoAway, then the socket.
    pub fn close(&self) {
        self.inner.send(header(T_GOAWAY, 0, 0, 0));
        let inner = self.inner.clone();
        // Let the writer flush the GoAway before the socket goes.
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            inner.shut("the session was closed".into());
        });
    }

    /// True once the socket is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves when the socket is gone.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

fn closed_error(inner: &Inner) -> std::io::Error {
    let reason = inner
        .close_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| "the plugin connection is closed".into());
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, reason)
}

async fn read_loop<R: AsyncRead + Unpin>(
    rd: &mut R,
    weak: &std::sync::Weak<Inner>,
    incoming: mpsc::UnboundedSender<Stream>,
) -> String {
    let mut h = [0u8; 12];
    loop {
        if let Err(e) = rd.read_exact(&mut h).await {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the plugin closed the connection".into()
            } else {
                format!("reading from the plugin failed: {e}")
            };
        }
        let Some(inner) = weak.upgrade() else {
            return "the session was dropped".into();
        };
        if h[0] != 0 {
            return format!(
                "the plugin sent yamux protocol version {}, expected 0",
                h[0]
            );
        }
        let typ = h[1];
        let flags = u16::from_be_bytes([h[2], h[3]]);
        let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        match typ {
            T_PING => {
                if flags & SYN != 0 {
                    inner.send(header(T_PING, ACK, 0, len));
                }
                continue;
            }
            T_GOAWAY => {
                crate::trace!("yamux: GoAway from the plugin");
                return "the plugin ended the session (yamux GoAway)".into();
            }
            T_DATA | T_WINDOW => {}
            other => return format!("the plugin sent an unknown yamux frame type {other}"),
        }
        let mut state = inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        if flags & SYN != 0 && state.is_none() {
            let (stream, st) = inner.new_stream(id);
            inner
                .streams
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, st.clone());
            inner.send(header(T_WINDOW, ACK, id, 0));
            state = Some(st);
            let _ = incoming.send(stream);
        }
        if typ == T_DATA && len > 0 {
            let mut data = vec![0u8; len as usize];
            if let Err(e) = rd.read_exact(&mut data).await {
                return format!("reading from the plugin failed: {e}");
            }
            if let Some(st) = &state {
                if let Some(tx) = st.data.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    let _ = tx.send(data);
                }
            }
        } else if typ == T_WINDOW && len > 0 {
            if let Some(st) = &state {
                *st.send_window.lock().unwrap_or_else(|e| e.into_inner()) += len;
                st.window_changed.notify_waiters();
            }
        }
        if let Some(st) = &state {
            if flags & (FIN | RST) != 0 {
                crate::trace!(
                    "yamux: peer {} stream {id}",
                    if flags & RST != 0 {
                        "reset"
                    } else {
                        "closed (FIN)"
                    }
                );
                st.data.lock().unwrap_or_else(|e| e.into_inner()).take();
                if flags & RST != 0 {
                    st.reset.store(true, Ordering::SeqCst);
                    st.window_changed.notify_waiters();
                }
                if flags & RST != 0 || st.local_closed.load(Ordering::SeqCst) {
                    inner
                        .streams
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
                }
            }
        }
    }
}

/// A bidirectional yamux stream.
pub struct Stream {
    /// The receiving half.
    pub reader: StreamReader,
    /// The sending half.
    pub writer: StreamWriter,
}

impl StreamWriter {
    /// The yamux stream id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Stream {
    /// The stream id.
    pub fn id(&self) -> u32 {
        self.writer.id
    }
}

/// The receiving half of a stream. Implements `AsyncRead`.
pub struct StreamReader {
    id: u32,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    unacked: u32,
    inner: Arc<Inner>,
}

impl StreamReader {
    fn consumed(&mut self, n: usize) {
        self.unacked += n as u32;
        if self.unacked >= WINDOW / 2 {
            self.inner.send(header(T_WINDOW, 0, self.id, self.unacked));
            self.unacked = 0;
        }
    }

    /// The next chunk of data, or `None` at EOF.
    pub async fn chunk(&mut self) -> Option<Vec<u8>> {
        if self.pos < self.buf.len() {
            let out = self.buf.split_off(self.pos);
            self.buf.clear();
            self.pos = 0;
            return Some(out);
        }
        let data = self.rx.recv().await?;
        self.consumed(data.len());
        Some(data)
    }

    /// Exactly `n` bytes, or an error at EOF.
    pub async fn read_exact_vec(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut out = vec![0u8; n];
        self.read_exact(&mut out).await?;
        Ok(out)
    }

    /// Everything until EOF.
    pub async fn read_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await {
            out.extend_from_slice(&c);
        }
        out
    }
}

impl AsyncRead for StreamReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos >= this.buf.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(data)) => {
                    this.consumed(data.len());
                    this.buf = data;
                    this.pos = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = out.remaining().min(this.buf.len() - this.pos);
        out.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos >= this.buf.len() {
            this.buf.clear();
            this.pos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

/// The sending half of a stream; cheap to clone.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    state: Arc<StreamState>,
    inner: Arc<Inner>,
}

impl StreamWriter {
    /// Sends all of `data`, waiting for window credit from the peer.
    pub async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = loop {
                if self.state.reset.load(Ordering::SeqCst) || self.inner.closed.is_cancelled() {
                    return Err(closed_error(&self.inner));
                }
                let notified = self.state.window_changed.notified();
                {
                    let mut w = self
                        .state
                        .send_window
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    if *w > 0 {
                        let n = (*w as usize).min(data.len()).min(MAX_FRAME);
                        *w -= n as u32;
                        break n;
                    }
                }
                tokio::select! {
                    _ = notified => {}
                    _ = self.inner.closed.cancelled() => {}
                }
            };
            let mut frame = header(T_DATA, 0, self.id, n as u32);
            frame.extend_from_slice(&data[..n]);
            if !self.inner.send(frame) {
                return Err(closed_error(&self.inner));
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Half-closes the stream (FIN). Idempotent.
    pub fn close(&self) {
        if !self.state.local_closed.swap(true, Ordering::SeqCst) {
            crate::trace!("yamux: closing (FIN) stream {}", self.id);
            self.inner.send(header(T_WINDOW, FIN, self.id, 0));
            if self
                .state
                .data
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
            {
                self.inner
                    .streams
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&self.id);
            }
        }
    }

    /// Copies `source` into the stream until EOF, then closes it.
    pub async fn copy_from(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
    ) -> std::io::Result<u64> {
        let mut buf = vec![0u8; 32 * 1024];
        let mut total = 0;
        loop {
            let n = source.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            self.write_all(&buf[..n]).await?;
            total += n as u64;
        }
        self.close();
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal server-role peer for loopback tests: accepts streams,
    /// echoes data back and closes when the client does.
    async fn echo_server(sock: tokio::io::DuplexStream) {
        let (mut rd, wr) = tokio::io::split(sock);
        let wr = Arc::new(tokio::sync::Mutex::new(wr));
        let mut h = [0u8; 12];
        while rd.read_exact(&mut h).await.is_ok() {
            let typ = h[1];
            let flags = u16::from_be_bytes([h[2], h[3]]);
            let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            let mut w = wr.lock().await;
            if flags & SYN != 0 {
                w.write_all(&header(T_WINDOW, ACK, id, 0)).await.unwrap();
            }
            if typ == T_DATA && len > 0 {
                let mut d = vec![0; len as usize];
                rd.read_exact(&mut d).await.unwrap();
                // Give credit back and echo.
                w.write_all(&header(T_WINDOW, 0, id, len)).await.unwrap();
                w.write_all(&header(T_DATA, 0, id, len)).await.unwrap();
                w.write_all(&d).await.unwrap();
            }
            if flags & FIN != 0 {
                w.write_all(&header(T_WINDOW, FIN, id, 0)).await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn streams_more_than_one_window_both_ways() {
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(echo_server(b));
        let (session, _incoming) = Session::start(a);
        let Stream { mut reader, writer } = session.open().unwrap();
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let w = writer.clone();
        let p = payload.clone();
        let send = tokio::spawn(async move {
            w.write_all(&p).await.unwrap();
            w.close();
        });
        let got = reader.read_all().await;
        send.await.unwrap();
        assert_eq!(got.len(), payload.len());
        assert!(got == payload);
    }

    #[tokio::test]
    async fn peer_going_away_ends_streams() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (session, _incoming) = Session::start(a);
        let Stream { mut reader, writer } = session.open().unwrap();
        drop(b);
        assert_eq!(reader.chunk().await, None);
        session.closed().await;
        let e = writer.write_all(b"x").await.unwrap_err();
        assert!(e.to_string().contains("closed the connection"), "{e}");
    }
}
