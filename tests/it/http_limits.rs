//! Slow and silent clients against the real server, over real sockets: they are cut off
//! after the configured timeouts, cannot take more than `max_connections`, and cannot keep
//! a shutdown from ending. The limits are short here (hundreds of ms) to keep tests fast.

use std::time::{Duration, Instant};

use crate::support::app::{Backend, TestApp};
use hotline::config::Config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough never to matter in a test that is about another limit.
const LONG_MS: u64 = 20_000;

async fn app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| {
        c.http.header_timeout_ms = LONG_MS;
        c.http.body_timeout_ms = LONG_MS;
        c.http.idle_timeout_ms = LONG_MS;
        c.http.shutdown_timeout_ms = LONG_MS;
        tweak(c);
    })
    .await
    .expect("app")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Everything the server sends until it closes the connection, or `None` when it is still
/// open after `wait`.
async fn read_until_closed(
    stream: &mut (impl AsyncRead + Unpin),
    wait: Duration,
) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Reads until `needle` has arrived; `None` when it has not after `wait` (or on close).
async fn read_until(
    stream: &mut (impl AsyncRead + Unpin),
    needle: &str,
    wait: Duration,
) -> Option<String> {
    let mut got = Vec::new();
    let found = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            if String::from_utf8_lossy(&got).contains(needle) {
                return true;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    matches!(found, Ok(true)).then(|| String::from_utf8_lossy(&got).into_owned())
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: hotline\r\n\r\n";

/// A client that sends `bytes` one every `every` until the server stops taking them.
fn trickle(
    mut stream: impl AsyncWrite + Unpin + Send + 'static,
    bytes: &'static [u8],
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for b in bytes {
            if stream.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
        // Held open, silent, until the test ends.
        std::future::pending::<()>().await;
    })
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_after_the_header_timeout() {
    let app = app_with(|c| c.http.header_timeout_ms = 300).await;
    let (mut reader, writer) = connect(&app).await.into_split();
    let started = Instant::now();
    // 40 bytes, one every 100 ms: each byte is well within any per-read timeout, the whole
    // head is not.
    let sender = trickle(writer, HEALTHZ, Duration::from_millis(100));
    let said = read_until_closed(&mut reader, Duration::from_secs(3))
        .await
        .expect("the server closed the slow connection");
    let took = started.elapsed();
    assert!(
        !said.contains("200"),
        "the slow head was never answered: {said}"
    );
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(2000),
        "closed after {took:?}"
    );
    sender.abort();
    // Callers who send their request at once are still served.
    let res = app.http.get(format!("{}/healthz", app.base)).send().await;
    assert_eq!(res.expect("healthz").status(), 200);
}

#[tokio::test]
async fn a_body_trickled_slower_than_the_body_timeout_is_answered_408_and_closed() {
    let app = app_with(|c| c.http.body_timeout_ms = 300).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /twilio/voice HTTP/1.1\r\nhost: hotline\r\n\
              content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nCallSid=CA",
        )
        .await
        .expect("head");
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    // The body keeps moving (so nothing is idle), just too slowly to finish in time.
    let sender = tokio::spawn(async move {
        for _ in 0..90 {
            if writer.write_all(b"0").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), reader.read_to_end(&mut got)).await;
    let said = String::from_utf8_lossy(&got);
    assert!(
        closed.is_ok(),
        "the connection is closed; got so far: {said}"
    );
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(2000),
        "answered after {took:?}"
    );
    sender.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = app_with(|c| c.http.idle_timeout_ms = 300).await;
    let mut stream = connect(&app).await;
    // Two requests on one connection: it is kept alive while used…
    for _ in 0..2 {
        stream.write_all(HEALTHZ).await.expect("request");
        let said = read_until(&mut stream, "ok\n", Duration::from_secs(3))
            .await
            .expect("answered on the kept-alive connection");
        assert!(said.starts_with("HTTP/1.1 200"), "{said}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …and closed once nothing has moved on it for the idle timeout.
    let answered = Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(3))
        .await
        .expect("the idle connection was closed");
    assert_eq!(rest, "", "nothing more was sent");
    let took = answered.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(2000),
        "closed {took:?} after the last answer"
    );
}

#[tokio::test]
async fn at_the_connection_cap_a_caller_waits_for_a_slot_and_is_served_once_slow_clients_are_cut() {
    const CAP: usize = 3;
    let app = app_with(|c| {
        c.http.max_connections = CAP;
        c.http.header_timeout_ms = 1000;
    })
    .await;
    // CAP + 2 slow clients: the first CAP hold every slot, the others wait behind them.
    let mut slow = Vec::new();
    for _ in 0..CAP + 2 {
        let s = connect(&app).await;
        slow.push(trickle(s, HEALTHZ, Duration::from_millis(100)));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut caller = connect(&app).await;
    caller.write_all(HEALTHZ).await.expect("request");
    // While the slots are held the caller's connection is not taken: no more than CAP open.
    assert_eq!(
        read_until(&mut caller, "ok\n", Duration::from_millis(600)).await,
        None,
        "a connection beyond the cap was served"
    );
    // Once the header timeout has cut the slow ones, the caller is served.
    let said = read_until(&mut caller, "ok\n", Duration::from_secs(5))
        .await
        .expect("the caller is served once the slow clients are cut");
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "served after {:?}",
        started.elapsed()
    );
    for s in slow {
        s.abort();
    }
}

#[tokio::test]
async fn shutdown_answers_the_request_in_flight_and_ends_within_its_deadline() {
    let mut app = app_with(|c| c.http.shutdown_timeout_ms = 800).await;
    // A half-sent head that will never be finished.
    let mut stalled = connect(&app).await;
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: hot")
        .await
        .expect("half a head");
    // A webhook whose body is on its way when the shutdown starts.
    let params: Vec<(String, String)> = [
        ("CallSid", "CA00000000000000000000000000000077"),
        ("From", "+8613800000001"),
        ("To", hotline::demo::DEMO_HOTLINE),
        ("CallStatus", "ringing"),
        ("AccountSid", crate::support::app::ACCOUNT_SID),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let signature = app.sim.signature("/twilio/voice", &params);
    let mut in_flight = connect(&app).await;
    let head = format!(
        "POST /twilio/voice HTTP/1.1\r\nhost: hotline\r\n\
         content-type: application/x-www-form-urlencoded\r\n\
         x-twilio-signature: {signature}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    in_flight
        .write_all(format!("{head}{first}").as_bytes())
        .await
        .expect("head and half the body");
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.stop.notify_one();
    let stopping = Instant::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are no longer taken.
    assert!(
        TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .is_err(),
        "the listener is closed"
    );
    in_flight
        .write_all(rest.as_bytes())
        .await
        .expect("the rest of the body");
    let answer = read_until_closed(&mut in_flight, Duration::from_secs(3))
        .await
        .expect("the in-flight request is answered and its connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<Response>"), "{answer}");

    let served = tokio::time::timeout(Duration::from_secs(3), &mut app.server)
        .await
        .expect("serve ended despite the half-sent request");
    served.expect("server task").expect("serve");
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2500),
        "serve ended {took:?} after the shutdown began"
    );
    assert_eq!(
        read_until_closed(&mut stalled, Duration::from_secs(1)).await,
        Some(String::new()),
        "the stalled connection was dropped at the deadline, unanswered"
    );
}
