//! `hotline health`: asks a running service whether it is ready (`GET /readyz`), for a
//! container's health check. The image has no shell tools to make an HTTP request with
//! (debian-slim's `/bin/sh` is dash, without bash's `/dev/tcp`, and there is no curl), so the
//! binary that is in the image does it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::Args;

use hotline::config::Config;

#[derive(Args)]
pub struct HealthArgs {
    /// The URL to ask; default `/readyz` on the configured listen address
    /// (HOTLINE_LISTEN; 0.0.0.0 and [::] are asked on the loopback address).
    #[arg(long)]
    url: Option<String>,
    /// Milliseconds to wait for the answer, connecting included.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,
}

/// Why the service is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("not ready: {url} could not be asked: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("not ready: {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

/// Where a process listening on `listen` is reached from the same machine: an address bound
/// to every interface is not one a client can connect to.
pub fn ready_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/readyz", SocketAddr::new(ip, listen.port()))
}

/// Exits successfully when the service answers 200, printing its answer; fails otherwise.
pub async fn run(cfg: &Config, args: HealthArgs) -> anyhow::Result<()> {
    let url = args.url.unwrap_or_else(|| ready_url(cfg.listen));
    let unreachable = |e: reqwest::Error| HealthError::Unreachable {
        url: url.clone(),
        reason: error_chain(&e),
    };
    // A proxy from the environment (HTTP_PROXY) would answer for the service: the check is
    // of this machine's own listener.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(args.timeout_ms))
        .build()
        .map_err(unreachable)?;
    let resp = client.get(&url).send().await.map_err(unreachable)?;
    let status = resp.status();
    let body = resp.text().await.map_err(unreachable)?;
    if status != reqwest::StatusCode::OK {
        return Err(HealthError::Status {
            url,
            status: status.as_u16(),
            body: body.trim().to_string(),
        }
        .into());
    }
    out!("{body}")?;
    Ok(())
}

/// reqwest's own message is "error sending request"; the cause (connection refused, timed
/// out) is what an operator needs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
