//! Where the time to a first command goes, phase by phase, for
//! bench/ssh-first-command.sh: `first_command_timing HOST PORT USER KEY [N]`
//! connects N times (default 20) the way kiln's communicator does and
//! prints the median of each phase (TCP connect, banner and key exchange,
//! public key authentication, session channel, `true` running to its exit)
//! in milliseconds. Holds nothing; every connection is closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::PrivateKeyWithHashAlg;

struct AcceptAny;

impl client::Handler for AcceptAny {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: first_command_timing HOST PORT USER KEY [N]");
        std::process::exit(2);
    }
    let (host, port, user) = (a[1].clone(), a[2].parse::<u16>()?, a[3].clone());
    let key = Arc::new(russh::keys::load_secret_key(&a[4], None)?);
    let n: usize = a.get(5).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let mut phases: Vec<Vec<f64>> = vec![Vec::new(); 5];
    for _ in 0..n {
        let t0 = Instant::now();
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let t1 = Instant::now();
        let mut h = client::connect_stream(config.clone(), tcp, AcceptAny).await?;
        let t2 = Instant::now();
        let r = h
            .authenticate_publickey(&user, PrivateKeyWithHashAlg::new(key.clone(), None))
            .await?;
        assert!(r.success(), "authentication failed");
        let t3 = Instant::now();
        let mut ch = h.channel_open_session().await?;
        let t4 = Instant::now();
        ch.exec(true, "true").await?;
        while let Some(m) = ch.wait().await {
            if matches!(m, russh::ChannelMsg::Close) {
                break;
            }
        }
        let t5 = Instant::now();
        for (i, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]
            .into_iter()
            .enumerate()
        {
            phases[i].push(ms(d));
        }
        let _ = h
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
    let names = [
        "tcp connect",
        "banner + key exchange",
        "publickey auth",
        "session channel open",
        "exec `true` to close",
    ];
    let mut total = 0.0;
    for (name, v) in names.iter().zip(phases) {
        let m = median(v);
        total += m;
        println!("{name:<24} {m:8.1} ms");
    }
    println!(
        "{:<24} {total:8.1} ms (sum of medians, {n} connections)",
        "total"
    );
    Ok(())
}
