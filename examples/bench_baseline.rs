//! The benchmark's baseline: the least a signed Twilio webhook server can do.
//!
//! A bare hyper 1 HTTP/1.1 server on one thread that reads the body, parses the form, checks
//! `X-Twilio-Signature` over `public_url + path?query` (403 when it does not verify) and
//! answers a fixed TwiML document with a `<Gather>` whose action leads back here, so the load
//! generator can play the same call shape against it as against `hotline`. No store, no
//! flows, no logging: what `hotline` costs on top of this is what the benchmark shows.
//!
//! `bench_baseline --listen 127.0.0.1:18090 --public-url http://127.0.0.1:18090 --auth-token T`
//! (or `BENCH_LISTEN`, `BENCH_PUBLIC_URL`, `BENCH_AUTH_TOKEN`). Used by `bench/run.sh`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use hotline::telephony::twilio::signature;

/// Largest body read, as `hotline`'s default `max_body_bytes`.
const MAX_BODY: usize = 64 * 1024;

#[derive(Parser)]
#[command(about = "Minimal signed Twilio webhook server: the benchmark's baseline")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "BENCH_LISTEN", default_value = "127.0.0.1:18090")]
    listen: SocketAddr,
    /// The public URL signatures are computed over (no trailing slash).
    #[arg(
        long,
        env = "BENCH_PUBLIC_URL",
        default_value = "http://127.0.0.1:18090"
    )]
    public_url: String,
    /// The Twilio auth token that signs the webhooks.
    #[arg(long, env = "BENCH_AUTH_TOKEN")]
    auth_token: String,
}

struct Ctx {
    public_url: String,
    auth_token: String,
    /// The fixed answer.
    twiml: Bytes,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let public_url = args.public_url.trim_end_matches('/').to_string();
    // A menu-like answer: a prompt in a gather whose action is the next step, then the
    // timeout redirect `hotline` also renders.
    let action = format!("{public_url}/twilio/step?s=1&amp;n=menu&amp;t=0&amp;l=en");
    let twiml = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
            r#"<Gather input="dtmf" action="{action}" method="POST" timeout="6" numDigits="1" finishOnKey="" actionOnEmptyResult="false">"#,
            r#"<Say voice="Polly.Joanna-Neural" language="en-US">For your bill, press 1. For faults, press 2. For a person, press 0.</Say>"#,
            r#"</Gather><Redirect method="POST">{action}&amp;timeout=1</Redirect></Response>"#
        ),
        action = action
    );
    let ctx = Arc::new(Ctx {
        public_url,
        auth_token: args.auth_token,
        twiml: Bytes::from(twiml),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")?;
    rt.block_on(serve(args.listen, ctx))
}

async fn serve(addr: SocketAddr, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!("bench_baseline listening on {addr}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(ctx.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                eprintln!("connection error: {e}");
            }
        });
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

async fn handle(
    ctx: Arc<Ctx>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                Bytes::from_static(b"body too large\n"),
            ));
        }
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let url = format!("{}{}", ctx.public_url, path_and_query);
    let ok = parts
        .headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| signature::verify(&ctx.auth_token, &url, &params, sig));
    if !ok {
        return Ok(answer(
            StatusCode::FORBIDDEN,
            "text/plain",
            Bytes::from_static(b"invalid or missing X-Twilio-Signature\n"),
        ));
    }
    Ok(answer(
        StatusCode::OK,
        "text/xml; charset=utf-8",
        ctx.twiml.clone(),
    ))
}
