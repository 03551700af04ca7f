//! The token's life against a small Keystone stand-in on loopback (a
//! thread answering `POST /v3/auth/tokens` with numbered tokens and a
//! catalog whose `compute` endpoint is itself, and `GET /compute/ping`
//! with the token it was sent, or 401 for a token it was told to refuse):
//! the token is reused across calls, renewed when about to expire, and
//! renewed once when a service refuses it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use kiln_sdk::Secret;

use super::*;
use crate::config::{AccessConfig, Credential, Domain, Interface, Scope, User};

/// What the stand-in saw and is told.
#[derive(Default)]
struct Seen {
    tokens_issued: u32,
    refused: Vec<String>,
    pings: Vec<String>,
}

fn stand_in(lifetime: i64) -> (String, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (b, s) = (base.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let mut conn = conn.unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let (mut len, mut token) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "x-auth-token" => token = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut seen = s.lock().unwrap();
            let (status, headers, reply) = if line.starts_with("POST /v3/auth/tokens") {
                seen.tokens_issued += 1;
                let id = format!("tok-{}", seen.tokens_issued);
                let expires = (chrono::Utc::now() + chrono::Duration::seconds(lifetime))
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                let catalog = json!([{"type": "compute", "endpoints": [
                    {"interface": "public", "region_id": "One", "url": format!("{b}/compute")}]}]);
                (
                    201,
                    format!("X-Subject-Token: {id}\r\n"),
                    json!({"token": {"expires_at": expires, "catalog": catalog, "project": {"id": "p"}}})
                        .to_string(),
                )
            } else if seen.refused.contains(&token) {
                (
                    401,
                    String::new(),
                    json!({"error": {"code": 401, "title": "Unauthorized", "message": "no"}})
                        .to_string(),
                )
            } else {
                seen.pings.push(token.clone());
                (200, String::new(), json!({"token": token}).to_string())
            };
            drop(seen);
            write!(
                conn,
                "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
    });
    (base, seen)
}

fn client(base: &str) -> Client {
    let access = AccessConfig {
        auth_url: format!("{base}/v3"),
        credential: Credential::Password {
            user: User::Name {
                name: "u".into(),
                domain: Domain::Name("Default".into()),
            },
            password: Secret::new("pw".into()),
        },
        scope: Scope::ProjectId("p".into()),
        region: Some("One".into()),
        interface: Interface::Public,
        insecure: false,
        cacert: None,
        client_cert: None,
        cloud: None,
        endpoint_overrides: Default::default(),
    };
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    Client::new(&access, policy).unwrap()
}

async fn ping(c: &Client) -> String {
    let v = c
        .call(&Call::get(Service::Compute, "Ping", "/ping"), None)
        .await
        .unwrap();
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_token_serves_every_call_and_every_clone() {
    let (base, seen) = stand_in(3600);
    let c = client(&base);
    let other = c.clone();
    assert_eq!(ping(&c).await, "tok-1");
    assert_eq!(ping(&other).await, "tok-1");
    let calls: Vec<_> = (0..8).map(|_| ping(&c)).collect();
    for t in futures_join(calls).await {
        assert_eq!(t, "tok-1");
    }
    assert_eq!(seen.lock().unwrap().tokens_issued, 1);
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed() {
    // Keystone's tokens here live 2 s: one is replaced halfway (a
    // longer-lived one a minute before it expires).
    let (base, seen) = stand_in(2);
    let c = client(&base);
    assert_eq!(ping(&c).await, "tok-1");
    assert_eq!(ping(&c).await, "tok-1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(ping(&c).await, "tok-2");
    assert_eq!(ping(&c).await, "tok-2");
    assert_eq!(seen.lock().unwrap().tokens_issued, 2);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once_and_the_call_retried() {
    let (base, seen) = stand_in(3600);
    let c = client(&base);
    assert_eq!(ping(&c).await, "tok-1");
    seen.lock().unwrap().refused.push("tok-1".into());
    // Two calls see the refusal; one new token serves both.
    let (a, b) = tokio::join!(ping(&c), ping(&c));
    assert_eq!((a.as_str(), b.as_str()), ("tok-2", "tok-2"));
    assert_eq!(seen.lock().unwrap().tokens_issued, 2);
}

/// Awaits every future of `v`, in order.
async fn futures_join<F: std::future::Future>(v: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    for f in v {
        out.push(f.await);
    }
    out
}
