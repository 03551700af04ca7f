//! HTTP servers on loopback for the tests of code that reads a URL (the
//! `http` data source, templates that use it): [`serve_once`] answers one
//! request and hands back what it received, [`serve`] answers every
//! request the same way and records them all. They store the requests
//! they received; a [`serve`] server's thread lives as long as the test
//! process.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Serves one request on a free loopback port with `status` and `body`
/// (`Content-Type: text/plain` and the header `X-Thing` twice, `a` then
/// `b`, for tests of repeated headers). Returns the URL to read
/// (`http://127.0.0.1:PORT/v`) and a handle whose `join` gives the
/// request's head (request line and headers) and whatever of its body
/// came with it.
pub fn serve_once(status: u16, body: &'static str) -> (String, JoinHandle<String>) {
    let (l, url) = listen("/v");
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept the request");
        let req = read_head(&mut s);
        write!(
            s,
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nX-Thing: a\r\nX-Thing: b\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write the answer");
        req
    });
    (url, h)
}

/// A server started by [`serve`].
pub struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// The URL it serves (`http://127.0.0.1:PORT/PATH`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The heads of the requests received so far, in order. A request is
    /// recorded before it is answered, so a client that has its answer
    /// finds its request here.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves every request on a free loopback port with 200, `content_type`
/// and `body`, whatever its path; the URL it gives out ends in `path`.
pub fn serve(path: &str, content_type: &'static str, body: &'static str) -> Server {
    let (l, url) = listen(path);
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let req = read_head(&mut s);
            log.lock().unwrap().push(req);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Server { url, requests }
}

/// A listener on a free loopback port and the URL of `path` on it.
fn listen(path: &str) -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!(
        "http://{}{path}",
        l.local_addr().expect("the listener's address")
    );
    (l, url)
}

/// Reads a request up to the blank line ending its head (or until the
/// client stops sending), as text.
fn read_head(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let mut req = Vec::new();
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&req).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `request` to the server at `url` and returns the answer.
    fn send(url: &str, request: &str) -> String {
        let addr = url.strip_prefix("http://").unwrap();
        let addr = &addr[..addr.find('/').unwrap()];
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serve_once_answers_once_and_returns_the_request() {
        let (url, h) = serve_once(418, "tea");
        assert!(url.ends_with("/v"), "{url}");
        let answer = send(&url, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 418 X\r\n"), "{answer}");
        assert!(
            answer.contains("\r\nX-Thing: a\r\nX-Thing: b\r\n"),
            "{answer}"
        );
        assert!(answer.ends_with("\r\n\r\ntea"), "{answer}");
        assert_eq!(h.join().unwrap(), "GET /v HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[test]
    fn serve_answers_every_request_and_records_it_first() {
        let s = serve("/release.json", "application/json", "{}");
        assert!(s.url().ends_with("/release.json"), "{}", s.url());
        assert!(s.requests().is_empty());
        for n in 1..=2 {
            let answer = send(s.url(), &format!("GET /{n} HTTP/1.1\r\n\r\n"));
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(
                answer.contains("\r\nContent-Type: application/json\r\n"),
                "{answer}"
            );
            assert!(answer.ends_with("\r\n\r\n{}"), "{answer}");
            assert_eq!(s.requests().len(), n);
        }
        assert_eq!(
            s.requests(),
            ["GET /1 HTTP/1.1\r\n\r\n", "GET /2 HTTP/1.1\r\n\r\n"]
        );
    }
}
