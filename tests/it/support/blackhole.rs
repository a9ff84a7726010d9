//! A TCP proxy in front of the test PostgreSQL server that can turn into a network black
//! hole: while it swallows, connections are accepted and requests read, but nothing is
//! forwarded either way and nothing is refused, as when a database host or the network to it
//! goes silent. When it is restored, what was held is delivered, as TCP delivers it once a
//! network heals.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct BlackHole {
    /// `true` while traffic flows.
    open: watch::Sender<bool>,
}

impl BlackHole {
    /// A proxy to the server of `database_url`, and the same URL through the proxy.
    pub async fn in_front_of(database_url: &str) -> (BlackHole, String) {
        let (scheme, rest) = database_url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h),
            None => (String::new(), authority),
        };
        let upstream = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:5432")
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (open, _) = watch::channel(true);
        let gate = open.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), gate.subscribe()));
            }
        });
        (
            BlackHole { open },
            format!("{scheme}://{user}{addr}/{path}"),
        )
    }

    /// From now on nothing gets through, and nothing is refused.
    pub fn swallow(&self) {
        self.open.send_replace(false);
    }

    /// Traffic flows again, held bytes first.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

async fn relay(client: TcpStream, upstream: String, open: watch::Receiver<bool>) {
    let mut gate = open.clone();
    let _ = gate.wait_for(|o| *o).await;
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pipe(client_read, server_write, open.clone()),
        pipe(server_read, client_write, open)
    );
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = open.wait_for(|o| *o).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
