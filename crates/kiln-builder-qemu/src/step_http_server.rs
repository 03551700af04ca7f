//! The built-in HTTP server for `http_directory` / `http_content`: a small
//! GET/HEAD-only HTTP/1.1 server on `http_bind_address`, on a free port of
//! `http_port_min`..=`http_port_max`, that the guest reaches as
//! `{{ .HTTPIP }}:{{ .HTTPPort }}`. Stores the port in
//! `QemuState::http_port` and a stop token; cleanup stops the server.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, HttpSource};
use crate::step_forward_port::pick_port;
use crate::QemuState;

/// See the module docs.
pub struct StepHttpServer {
    config: Arc<Config>,
}

impl StepHttpServer {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepHttpServer { config }
    }
}

/// Resolves a request path to what to send, refusing `..`.
fn resolve(source: &HttpSource, path: &str) -> Option<Body> {
    let path = path.split(['?', '#']).next().unwrap_or("/");
    match source {
        HttpSource::Content(map) => lookup(map, path).map(|s| Body::Text(s.clone())),
        HttpSource::Directory(dir) => {
            let rel = Path::new(path.trim_start_matches('/'));
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return None;
            }
            let p = dir.join(rel);
            p.is_file().then_some(Body::File(p))
        }
    }
}

fn lookup<'a>(map: &'a BTreeMap<String, String>, path: &str) -> Option<&'a String> {
    map.get(path)
        .or_else(|| map.get(path.trim_start_matches('/')))
        .or_else(|| map.get(&format!("/{}", path.trim_start_matches('/'))))
}

enum Body {
    Text(String),
    File(PathBuf),
}

async fn serve(stream: TcpStream, source: Arc<HttpSource>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut request = String::new();
    reader.read_line(&mut request).await?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        w.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await?;
        return Ok(());
    }
    match resolve(&source, path) {
        None => {
            w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n")
                .await?;
        }
        Some(Body::Text(t)) => {
            w.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    t.len()
                )
                .as_bytes(),
            )
            .await?;
            if method == "GET" {
                w.write_all(t.as_bytes()).await?;
            }
        }
        Some(Body::File(p)) => {
            let mut f = tokio::fs::File::open(&p).await?;
            let len = f.metadata().await?.len();
            w.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
            if method == "GET" {
                tokio::io::copy(&mut f, &mut w).await?;
            }
        }
    }
    w.shutdown().await
}

/// Serves `source` on `listener` until `stop`.
pub fn spawn(listener: TcpListener, source: HttpSource, stop: CancellationToken) {
    let source = Arc::new(source);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                a = listener.accept() => {
                    if let Ok((s, _)) = a {
                        let src = source.clone();
                        tokio::spawn(async move { let _ = serve(s, src).await; });
                    }
                }
            }
        }
    });
}

#[async_trait]
impl Step<QemuState> for StepHttpServer {
    fn name(&self) -> &'static str {
        "StepHTTPServer"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(http) = &self.config.http else {
            return Ok(StepAction::Continue);
        };
        if let HttpSource::Directory(d) = &http.source {
            if !d.is_dir() {
                return Err(StepError::msg(format!(
                    "`http_directory` `{}` is not a directory",
                    d.display()
                )));
            }
        }
        let (port, std_listener) = pick_port(&http.bind_address, &http.ports).ok_or_else(|| {
            StepError::msg(format!(
                "no free HTTP port between {} and {} on `{}`",
                http.ports.start(),
                http.ports.end(),
                http.bind_address
            ))
        })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| StepError::msg(format!("cannot configure the HTTP listener: {e}")))?;
        let listener = TcpListener::from_std(std_listener)
            .map_err(|e| StepError::msg(format!("cannot start the HTTP server: {e}")))?;
        cx.ui.say(&format!("Starting HTTP server on port {port}"));
        let stop = CancellationToken::new();
        state.http_port = Some(port);
        state.http_stop = Some(stop.clone());
        spawn(listener, http.source.clone(), stop);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, _: &StepContext<'_>, state: &mut QemuState) {
        if let Some(stop) = state.http_stop.take() {
            stop.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_content_and_directories_without_escaping() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("preseed.cfg"), "d-i x").unwrap();
        let stop = CancellationToken::new();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        spawn(l, HttpSource::Directory(tmp.path().into()), stop.clone());
        assert!(get(port, "/preseed.cfg").await.ends_with("\r\n\r\nd-i x"));
        assert!(get(port, "/../etc/passwd")
            .await
            .starts_with("HTTP/1.1 404"));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port2 = l.local_addr().unwrap().port();
        spawn(
            l,
            HttpSource::Content([("/user-data".to_string(), "hello".to_string())].into()),
            stop.clone(),
        );
        assert!(get(port2, "/user-data").await.ends_with("hello"));
        assert!(get(port2, "/nope").await.starts_with("HTTP/1.1 404"));
        stop.cancel();
    }
}
