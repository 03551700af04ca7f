//! A fault-injecting HTTP proxy for cloud tests.
//!
//! A test starts a [`FaultProxy`] on a loopback port in front of a cloud
//! endpoint (moto's EC2 server for amazon-ebs, reached through
//! `custom_endpoint_ec2`) and points kiln at the proxy. Each request is read
//! whole, its API action named by the cloud's [`Dialect`] (EC2: the
//! `Action=` of the query or form body), and the first [`Rule`] that
//! applies to it decides what happens: the cloud's throttling error, a 500
//! or 503, a reset connection, added latency, a "lost reply" (the upstream
//! acts, the client gets a 503) or no answer at all. Requests no rule
//! applies to are forwarded as they are.
//!
//! Rules apply to a share of requests, drawn from a seeded generator (the
//! same seed and the same request order give the same faults), and/or to
//! given actions, optionally at most a given number of times. The proxy
//! counts requests per action and records what it did to each one
//! ([`FaultProxy::events`]), so tests can assert that their rules fired.
//! It runs on its own small tokio runtime, inside the test process; it
//! holds no files, and dropping it stops it and closes every connection.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What a rule does to a request it applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with the cloud's throttling error; the upstream never sees
    /// the request.
    Throttle,
    /// Answer with this HTTP status (500, 503…) and the cloud's error body;
    /// the upstream never sees the request.
    Status(u16),
    /// Close the connection without a reply (a TCP reset).
    Reset,
    /// Wait this long, then forward.
    Delay(Duration),
    /// Forward the request, let the upstream act, then answer 503 as if its
    /// reply had been lost on the way.
    LostReply,
    /// Read the request and never answer (until the proxy is dropped).
    Hang,
}

impl Fault {
    /// The kind of fault, without its parameter.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Throttle => FaultKind::Throttle,
            Fault::Status(_) => FaultKind::Status,
            Fault::Reset => FaultKind::Reset,
            Fault::Delay(_) => FaultKind::Delay,
            Fault::LostReply => FaultKind::LostReply,
            Fault::Hang => FaultKind::Hang,
        }
    }
}

/// [`Fault`] without its parameter, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    Throttle,
    Status,
    Reset,
    Delay,
    LostReply,
    Hang,
}

/// When a [`Fault`] applies: to a share of the requests for the given
/// actions (every action when none is given), at most `limit` times.
#[derive(Debug, Clone)]
pub struct Rule {
    fault: Fault,
    actions: Vec<String>,
    share: f64,
    limit: Option<usize>,
    fired: usize,
}

impl Rule {
    /// `fault` for every request.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            actions: Vec::new(),
            share: 1.0,
            limit: None,
            fired: 0,
        }
    }

    /// Only for this share of the matching requests (0.0 to 1.0).
    pub fn share(mut self, share: f64) -> Rule {
        self.share = share.clamp(0.0, 1.0);
        self
    }

    /// Only for requests calling one of these actions.
    pub fn on(mut self, actions: &[&str]) -> Rule {
        self.actions = actions.iter().map(|a| a.to_string()).collect();
        self
    }

    /// At most this many times.
    pub fn limit(mut self, n: usize) -> Rule {
        self.limit = Some(n);
        self
    }
}

/// A reply the proxy makes up.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// What the proxy sees of a request, for [`Dialect::action`].
pub struct RequestView<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// How one cloud's API names its actions and words its errors.
pub trait Dialect: Send + Sync + 'static {
    /// The API action a request calls, if it names one.
    fn action(&self, request: &RequestView<'_>) -> Option<String>;
    /// The cloud's throttling error.
    fn throttled(&self, request_id: &str) -> Reply;
    /// The cloud's error for an HTTP `status` (500, 503…).
    fn error(&self, status: u16, request_id: &str) -> Reply;
}

/// EC2's query API (also IAM's): `Action=` in the query string or the
/// form-encoded body; XML errors.
pub struct Ec2;

impl Ec2 {
    fn xml_error(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
        Reply {
            status,
            content_type: "text/xml",
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        }
    }
}

/// The value of `key` in an `a=b&c=d` string (not percent-decoded: action
/// names need none).
fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key && !v.is_empty()).then(|| v.to_string())
    })
}

impl Dialect for Ec2 {
    fn action(&self, r: &RequestView<'_>) -> Option<String> {
        if let Some(a) = r.uri.query().and_then(|q| form_value(q, "Action")) {
            return Some(a);
        }
        let form = r
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return None;
        }
        form_value(std::str::from_utf8(r.body).ok()?, "Action")
    }

    fn throttled(&self, request_id: &str) -> Reply {
        Self::xml_error(
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        )
    }

    fn error(&self, status: u16, request_id: &str) -> Reply {
        let (code, message) = match status {
            500 => ("InternalError", "An internal error has occurred."),
            503 => (
                "Unavailable",
                "The server is overloaded and can't handle the request.",
            ),
            _ => ("InternalFailure", "The request processing has failed."),
        };
        Self::xml_error(status, code, message, request_id)
    }
}

/// What the proxy did with one request.
#[derive(Debug, Clone)]
pub struct Event {
    /// The request's action (empty when the dialect found none).
    pub action: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The upstream's status, when the request reached it.
    pub upstream: Option<u16>,
    /// The status the client got (`None`: reset, hang, or the upstream
    /// could not be reached and the client got a 502).
    pub status: Option<u16>,
}

/// A splitmix64 generator: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct State {
    rules: Vec<Rule>,
    rng: Rng,
    requests: HashMap<String, usize>,
    events: Vec<Event>,
}

struct Shared {
    upstream: SocketAddr,
    dialect: Box<dyn Dialect>,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the request, picks the first rule that applies and records an
    /// event for it; returns the event's index and the fault.
    fn decide(&self, action: &str) -> (usize, Option<Fault>) {
        let mut st = self.state();
        *st.requests.entry(action.to_string()).or_default() += 1;
        let State { rules, rng, .. } = &mut *st;
        let mut fault = None;
        for rule in rules.iter_mut() {
            if !rule.actions.is_empty() && !rule.actions.iter().any(|a| a == action) {
                continue;
            }
            if rule.limit.is_some_and(|l| rule.fired >= l) {
                continue;
            }
            if rule.share < 1.0 && rng.next_f64() >= rule.share {
                continue;
            }
            rule.fired += 1;
            fault = Some(rule.fault.clone());
            break;
        }
        st.events.push(Event {
            action: action.to_string(),
            fault: fault.clone(),
            upstream: None,
            status: None,
        });
        (st.events.len() - 1, fault)
    }

    fn finish(&self, event: usize, upstream: Option<u16>, status: Option<u16>) {
        let mut st = self.state();
        if let Some(e) = st.events.get_mut(event) {
            e.upstream = upstream;
            e.status = status;
        }
    }
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    rt: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`
    /// (`http://host:port`), speaking `dialect`, applying `rules` with a
    /// generator seeded with `seed`.
    pub fn start(
        upstream: &str,
        dialect: impl Dialect,
        seed: u64,
        rules: Vec<Rule>,
    ) -> io::Result<FaultProxy> {
        let hostport = upstream
            .strip_prefix("http://")
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the fault proxy forwards plain HTTP only, not `{upstream}`"),
                )
            })?
            .trim_end_matches('/');
        let upstream_addr = hostport
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("resolving `{hostport}`: {e}")))?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("`{hostport}` has no address"),
                )
            })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream_addr,
            dialect: Box::new(dialect),
            state: Mutex::new(State {
                rules,
                rng: Rng(seed),
                requests: HashMap::new(),
                events: Vec::new(),
            }),
        });
        let s = shared.clone();
        rt.spawn(async move {
            let Ok(listener) = TcpListener::from_std(std_listener) else {
                return;
            };
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(s.clone(), stream));
            }
        });
        Ok(FaultProxy {
            addr,
            shared,
            rt: Some(rt),
        })
    }

    /// The proxy's endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Replaces the rules (the counts and events stay).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.shared.state().rules = rules;
    }

    /// How many requests called `action` (faulted or not).
    pub fn requests(&self, action: &str) -> usize {
        self.shared
            .state()
            .requests
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Requests per action.
    pub fn requests_per_action(&self) -> HashMap<String, usize> {
        self.shared.state().requests.clone()
    }

    /// How many times a fault of this kind was applied.
    pub fn fired(&self, kind: FaultKind) -> usize {
        self.fired_where(|e| e.fault.as_ref().is_some_and(|f| f.kind() == kind))
    }

    /// How many times a fault of this kind was applied to `action`.
    pub fn fired_on(&self, action: &str, kind: FaultKind) -> usize {
        self.fired_where(|e| {
            e.action == action && e.fault.as_ref().is_some_and(|f| f.kind() == kind)
        })
    }

    /// How many `action` requests reached the upstream and got this status
    /// from it (lost replies included).
    pub fn upstream_answered(&self, action: &str, status: u16) -> usize {
        self.fired_where(|e| e.action == action && e.upstream == Some(status))
    }

    fn fired_where(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.shared.state().events.iter().filter(|e| f(e)).count()
    }

    /// Every request so far, in the order they arrived.
    pub fn events(&self) -> Vec<Event> {
        self.shared.state().events.clone()
    }

    /// One line per action: requests, and faults applied by kind; for
    /// assertion messages.
    pub fn summary(&self) -> String {
        let st = self.shared.state();
        let mut per: std::collections::BTreeMap<&str, (usize, HashMap<FaultKind, usize>)> =
            Default::default();
        for e in &st.events {
            let entry = per.entry(&e.action).or_default();
            entry.0 += 1;
            if let Some(f) = &e.fault {
                *entry.1.entry(f.kind()).or_default() += 1;
            }
        }
        let mut out = String::new();
        for (action, (n, faults)) in per {
            let mut f: Vec<String> = faults.iter().map(|(k, n)| format!("{k:?} {n}")).collect();
            f.sort();
            out.push_str(&format!("{action}: {n} requests; {}\n", f.join(", ")));
        }
        out
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A client connection that can be reset: once `reset` is set it writes
/// nothing more, and closing it sends a TCP reset (`SO_LINGER` 0) rather
/// than a FIN.
struct Resettable {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Resettable {
    fn resetting(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

impl Drop for Resettable {
    fn drop(&mut self) {
        if self.resetting() {
            let _ = self.inner.set_zero_linger();
        }
    }
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "reset by the fault proxy")
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.resetting() {
            // No FIN: the reset happens on drop.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The service's error: reset this connection.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for ResetConnection {}

async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(Resettable {
        inner: stream,
        reset: reset.clone(),
    });
    let svc = hyper::service::service_fn(move |req| handle(shared.clone(), reset.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, svc)
        .await;
}

fn reply(r: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    resp
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

async fn handle(
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(ResetConnection),
    };
    let action = shared
        .dialect
        .action(&RequestView {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body: &body,
        })
        .unwrap_or_default();
    let (event, fault) = shared.decide(&action);
    let request_id = format!("kiln-fault-proxy-{event:08}");
    let made_up = |r: Reply| {
        shared.finish(event, None, Some(r.status));
        Ok(reply(r))
    };
    match fault {
        Some(Fault::Throttle) => return made_up(shared.dialect.throttled(&request_id)),
        Some(Fault::Status(s)) => return made_up(shared.dialect.error(s, &request_id)),
        Some(Fault::Reset) => {
            reset.store(true, Ordering::SeqCst);
            return Err(ResetConnection);
        }
        Some(Fault::Hang) => std::future::pending::<()>().await,
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::LostReply) | None => {}
    }
    match forward(shared.upstream, &parts, body).await {
        Ok(resp) => {
            let upstream = resp.status().as_u16();
            if fault == Some(Fault::LostReply) {
                let r = shared.dialect.error(503, &request_id);
                shared.finish(event, Some(upstream), Some(r.status));
                return Ok(reply(r));
            }
            shared.finish(event, Some(upstream), Some(upstream));
            Ok(resp)
        }
        Err(e) => {
            shared.finish(event, None, None);
            let mut resp = Response::new(Full::new(Bytes::from(format!(
                "fault proxy: cannot reach the upstream `{}`: {e}\n",
                shared.upstream
            ))));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(resp)
        }
    }
}

/// Sends the request to the upstream on a new connection and reads the
/// whole reply.
async fn forward(
    upstream: SocketAddr,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, String> {
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            req.headers_mut().append(k.clone(), v.clone());
        }
    }
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let (rparts, rbody) = resp.into_parts();
    let bytes = rbody
        .collect()
        .await
        .map_err(|e| format!("reading the reply: {e}"))?
        .to_bytes();
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = rparts.status;
    for (k, v) in &rparts.headers {
        if !hop_by_hop(k) {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;

    /// A tiny HTTP/1.0-style upstream on a thread: answers every request
    /// with `200 saw <action>` and counts the requests it saw.
    struct Upstream {
        port: u16,
        seen: Arc<AtomicUsize>,
    }

    fn upstream() -> Upstream {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let req = read_message(&mut c);
                    s.fetch_add(1, Ordering::SeqCst);
                    let body = format!(
                        "saw {}",
                        req.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("")
                    );
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Upstream { port, seen }
    }

    /// Reads one message with a `Content-Length` body.
    fn read_message(c: &mut std::net::TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
            match c.read(&mut chunk) {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).to_string(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Posts `Action=<action>` to the proxy; the raw reply, or the read
    /// error's kind.
    fn post(p: &FaultProxy, action: &str) -> Result<String, io::ErrorKind> {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", p.port())).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = format!("Action={action}&Version=2016-11-15");
        write!(
            c,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match c.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&out);
                    // One whole reply (the proxy keeps the connection).
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length: ")
                                    .and_then(|v| v.parse::<usize>().ok())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break;
                        }
                    }
                }
                Err(e) => return Err(e.kind()),
            }
        }
        Ok(String::from_utf8_lossy(&out).to_string())
    }

    fn proxy(u: &Upstream, rules: Vec<Rule>) -> FaultProxy {
        FaultProxy::start(&format!("http://127.0.0.1:{}", u.port), Ec2, 7, rules).unwrap()
    }

    #[test]
    fn forwards_and_counts_without_rules() {
        let u = upstream();
        let p = proxy(&u, vec![]);
        let r = post(&p, "DescribeImages").unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(
            r.ends_with("saw Action=DescribeImages&Version=2016-11-15"),
            "{r}"
        );
        assert_eq!(p.requests("DescribeImages"), 1);
        assert_eq!(u.seen.load(Ordering::SeqCst), 1);
        assert_eq!(p.upstream_answered("DescribeImages", 200), 1);
    }

    #[test]
    fn throttles_only_the_named_action() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Throttle).on(&["CreateImage"])]);
        let r = post(&p, "CreateImage").unwrap();
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        assert!(
            r.contains(
                "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            ),
            "{r}"
        );
        assert!(
            r.contains("<RequestID>kiln-fault-proxy-00000000</RequestID>"),
            "{r}"
        );
        assert!(post(&p, "DescribeImages")
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        assert_eq!(
            u.seen.load(Ordering::SeqCst),
            1,
            "the throttled call never reached it"
        );
        assert_eq!(p.fired_on("CreateImage", FaultKind::Throttle), 1);
        assert_eq!(p.fired(FaultKind::Throttle), 1);
    }

    #[test]
    fn answers_a_status_with_the_cloud_error() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Status(500))]);
        let r = post(&p, "RunInstances").unwrap();
        assert!(r.starts_with("HTTP/1.1 500"), "{r}");
        assert!(r.contains("<Code>InternalError</Code>"), "{r}");
        assert_eq!(u.seen.load(Ordering::SeqCst), 0);
        assert_eq!(p.fired_on("RunInstances", FaultKind::Status), 1);
    }

    #[test]
    fn resets_the_connection_without_a_reply() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Reset).limit(1)]);
        match post(&p, "CreateKeyPair") {
            Err(kind) => assert_eq!(kind, io::ErrorKind::ConnectionReset),
            Ok(r) => assert_eq!(r, "", "no byte of a reply"),
        }
        assert_eq!(u.seen.load(Ordering::SeqCst), 0);
        // The limit is spent: the next one goes through.
        assert!(post(&p, "CreateKeyPair")
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        assert_eq!(p.fired(FaultKind::Reset), 1);
        assert_eq!(p.requests("CreateKeyPair"), 2);
    }

    #[test]
    fn delays_then_forwards() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Delay(Duration::from_millis(50)))]);
        assert!(post(&p, "DescribeVpcs")
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        assert_eq!(u.seen.load(Ordering::SeqCst), 1);
        assert_eq!(p.fired(FaultKind::Delay), 1);
    }

    #[test]
    fn a_lost_reply_reaches_the_upstream_and_answers_503() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::LostReply).on(&["CreateImage"])]);
        let r = post(&p, "CreateImage").unwrap();
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        assert!(r.contains("<Code>Unavailable</Code>"), "{r}");
        assert_eq!(u.seen.load(Ordering::SeqCst), 1, "the cloud acted");
        assert_eq!(p.upstream_answered("CreateImage", 200), 1);
        assert_eq!(p.fired_on("CreateImage", FaultKind::LostReply), 1);
    }

    #[test]
    fn hangs_without_answering() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Hang)]);
        let mut c = std::net::TcpStream::connect(("127.0.0.1", p.port())).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        write!(c, "GET /?Action=DescribeImages HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut b = [0u8; 16];
        let e = c.read(&mut b).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        assert_eq!(p.fired_on("DescribeImages", FaultKind::Hang), 1);
        assert_eq!(u.seen.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_share_is_drawn_from_the_seed() {
        let u = upstream();
        let run = |seed| {
            let p = FaultProxy::start(
                &format!("http://127.0.0.1:{}", u.port),
                Ec2,
                seed,
                vec![Rule::new(Fault::Throttle).share(0.3)],
            )
            .unwrap();
            (0..40)
                .map(|_| {
                    post(&p, "DescribeImages")
                        .unwrap()
                        .starts_with("HTTP/1.1 503")
                })
                .collect::<Vec<bool>>()
        };
        let a = run(11);
        assert_eq!(a, run(11), "the same seed, the same faults");
        let n = a.iter().filter(|t| **t).count();
        assert!((4..=20).contains(&n), "30% of 40 throttled: {n}");
    }

    #[test]
    fn set_rules_replaces_the_rules() {
        let u = upstream();
        let p = proxy(&u, vec![Rule::new(Fault::Status(503))]);
        assert!(post(&p, "A").unwrap().starts_with("HTTP/1.1 503"));
        p.set_rules(vec![]);
        assert!(post(&p, "A").unwrap().starts_with("HTTP/1.1 200"));
        let e = p.events();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].fault, Some(Fault::Status(503)));
        assert_eq!(e[1].upstream, Some(200));
        assert!(
            p.summary().contains("A: 2 requests; Status 1"),
            "{}",
            p.summary()
        );
    }

    #[test]
    fn ec2_action_from_the_query_or_the_form() {
        let h = HeaderMap::new();
        let uri: Uri = "/?Action=DescribeRegions&Version=1".parse().unwrap();
        let v = RequestView {
            method: &Method::GET,
            uri: &uri,
            headers: &h,
            body: b"",
        };
        assert_eq!(Ec2.action(&v).as_deref(), Some("DescribeRegions"));
        let uri: Uri = "/".parse().unwrap();
        let v = RequestView {
            method: &Method::POST,
            uri: &uri,
            headers: &h,
            body: b"Action=X",
        };
        assert_eq!(Ec2.action(&v), None, "a body that is not a form");
    }
}
