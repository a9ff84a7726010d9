//! The Twilio REST client (`TwilioDialer`) against `FakeTwilio`, and the fake's calls against
//! a stand-in for our outbound webhooks.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hotline::secret::Secret;
use hotline::telephony::twilio::fake_api::{Action, Behaviour, FakeTwilio};
use hotline::telephony::twilio::rest::TwilioDialer;
use hotline::telephony::twilio::signature;
use hotline::telephony::twilio::simulator::Simulator;
use hotline::telephony::{
    AnsweredBy, CallStatus, DialError, Dialer, Hook, NextStep, OutboundCall, RemoteCall,
};

const TOKEN: &str = "fake-auth-token";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const FROM: &str = "+8610086";
const XML: &str = "text/xml; charset=utf-8";

/// A webhook as the stand-in service received it.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    query: String,
    params: Vec<(String, String)>,
    signature: Option<String>,
    signature_ok: bool,
    token: Option<String>,
}

impl Hit {
    fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Our outbound webhooks in miniature: a one-key satisfaction question, a message for
/// machines, and a status endpoint.
struct Service {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Service {
    async fn start() -> Service {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (log, public) = (hits.clone(), base.clone());
        let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (log, base) = (log.clone(), public.clone());
            async move {
                let params: Vec<(String, String)> =
                    form_urlencoded::parse(&body).into_owned().collect();
                let signature = headers
                    .get("x-twilio-signature")
                    .map(|v| v.to_str().unwrap().to_string());
                let url = format!("{base}{}", uri.path_and_query().unwrap());
                let hit = Hit {
                    path: uri.path().to_string(),
                    query: uri.query().unwrap_or_default().to_string(),
                    signature_ok: signature
                        .as_deref()
                        .is_some_and(|s| signature::verify(TOKEN, &url, &params, s)),
                    signature,
                    token: headers
                        .get("i-twilio-idempotency-token")
                        .map(|v| v.to_str().unwrap().to_string()),
                    params,
                };
                log.lock().unwrap().push(hit.clone());
                answer(&hit, &base)
            }
        };
        let app = Router::new().fallback(handler);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Service { base, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    /// `CallStatus` and `SequenceNumber` of the status callbacks, in order of arrival.
    fn statuses(&self) -> Vec<(String, String)> {
        self.hits_on("/twilio/callback-status")
            .iter()
            .map(|h| {
                (
                    h.param("CallStatus").unwrap().to_string(),
                    h.param("SequenceNumber").unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn twiml(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, XML)],
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#),
    )
        .into_response()
}

fn answer(hit: &Hit, base: &str) -> Response {
    match hit.path.as_str() {
        "/twilio/survey" if hit.param("AnsweredBy") == Some("machine_start") => {
            twiml("<Say>sorry we missed you</Say><Hangup/>")
        }
        "/twilio/survey" => twiml(&format!(
            r#"<Gather input="dtmf" numDigits="1" action="{base}/outbound/step?callback=7" method="POST" timeout="5"><Say>press 1 if we helped</Say></Gather><Say>no answer</Say><Hangup/>"#
        )),
        "/outbound/step" => twiml(&format!(
            "<Say>you pressed {}</Say><Hangup/>",
            hit.param("Digits").unwrap_or("?")
        )),
        "/twilio/callback-status" => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Setup {
    service: Service,
    fake: FakeTwilio,
    dialer: TwilioDialer,
}

async fn setup() -> Setup {
    let service = Service::start().await;
    let fake = FakeTwilio::start(Simulator::new(&service.base, TOKEN, ACCOUNT))
        .await
        .unwrap();
    let dialer = dialer_with(&fake, &service, TOKEN, Duration::from_secs(5));
    Setup {
        service,
        fake,
        dialer,
    }
}

fn dialer_with(
    fake: &FakeTwilio,
    service: &Service,
    token: &str,
    timeout: Duration,
) -> TwilioDialer {
    TwilioDialer::new(
        fake.base_url(),
        ACCOUNT,
        &Secret::new(token),
        &service.base,
        timeout,
    )
}

fn call_to(to: &str, detect_machine: bool) -> OutboundCall {
    OutboundCall {
        to: to.to_string(),
        from: FROM.to_string(),
        answer: NextStep::new(Hook::Survey, "callback=7"),
        status: NextStep::new(Hook::CallbackStatus, "callback=7"),
        ring_secs: 30,
        detect_machine,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn the_create_request_is_twilios_form_with_basic_auth() {
    let s = setup().await;
    let before = now_ms();
    let placed = s
        .dialer
        .place(&call_to("+8613812345678", true))
        .await
        .unwrap();
    assert!(
        placed.id.starts_with("CA") && placed.id.len() == 34,
        "{placed:?}"
    );
    assert_eq!(placed.to, "+8613812345678");
    assert_eq!(placed.status, CallStatus::Queued);
    assert_eq!(placed.answered_by, None);
    // RFC 2822 dates have whole seconds.
    assert!(placed.created_at >= before - 1000 && placed.created_at <= now_ms());

    let creates = s.fake.create_requests();
    assert_eq!(creates.len(), 1);
    let req = &creates[0];
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
    );
    assert_eq!(req.user.as_deref(), Some(ACCOUNT));
    assert!(req.authorized);
    assert_eq!(req.status, Some(201));
    assert!(
        req.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    );
    let base = &s.service.base;
    let expected: Vec<(String, String)> = [
        ("To", "+8613812345678"),
        ("From", FROM),
        ("Url", &format!("{base}/twilio/survey?callback=7")),
        ("Method", "POST"),
        (
            "StatusCallback",
            &format!("{base}/twilio/callback-status?callback=7"),
        ),
        ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
        ("Timeout", "30"),
        ("MachineDetection", "Enable"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(req.params, expected);

    s.dialer
        .place(&call_to("+8613812345679", false))
        .await
        .unwrap();
    let second = &s.fake.create_requests()[1];
    assert_eq!(second.param("MachineDetection"), None);
    s.fake.wait_idle().await;
    assert_eq!(s.fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_20003() {
    let s = setup().await;
    let wrong = dialer_with(&s.fake, &s.service, "not-the-token", Duration::from_secs(5));
    let err = wrong
        .place(&call_to("+8613812345678", false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DialError::Permanent {
                code: Some(20003),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        wrong.fetch("CA0123").await,
        Err(DialError::Permanent {
            code: Some(20003),
            ..
        })
    ));
    let req = &s.fake.requests()[0];
    assert!(!req.authorized);
    assert_eq!(req.status, Some(401));
    assert_eq!(s.fake.placed_to("+8613812345678"), 0);
}

#[tokio::test]
async fn rate_limits_and_a_full_queue_are_transient() {
    let s = setup().await;
    s.fake.on(
        "+8613800000429",
        Behaviour::RestError {
            status: 429,
            code: 20429,
            message: "Too Many Requests".into(),
            retry_after_secs: Some(2),
        },
    );
    let err = s
        .dialer
        .place(&call_to("+8613800000429", false))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DialError::Transient {
            code: Some(20429),
            message: "HTTP 429: Too Many Requests".into(),
            retry_after_secs: Some(2),
        }
    );
    s.fake.on(
        "+8613800022005",
        Behaviour::rest_error(503, 22005, "Call queue is full"),
    );
    let err = s
        .dialer
        .place(&call_to("+8613800022005", false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DialError::Transient {
                code: Some(22005),
                retry_after_secs: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn invalid_and_blocked_numbers_are_permanent() {
    let s = setup().await;
    for code in [21211, 21215, 21216] {
        let to = format!("+86138000{code}");
        s.fake.on(&to, Behaviour::rest_error(400, code, "refused"));
        let err = s.dialer.place(&call_to(&to, false)).await.unwrap_err();
        assert_eq!(
            err,
            DialError::Permanent {
                code: Some(code),
                message: "HTTP 400: refused".into()
            }
        );
    }
    // The fake refuses what is not a number by itself, as Twilio does; the number Twilio
    // quotes is masked.
    let err = s
        .dialer
        .place(&call_to("+86138abc45678", false))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DialError::Permanent {
            code: Some(21211),
            message: "HTTP 400: The 'To' number +86*********78 is not a valid phone number.".into()
        }
    );
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn a_hanging_request_is_ambiguous_within_the_timeout() {
    let s = setup().await;
    s.fake.on("+8613800000000", Behaviour::Hang);
    let dialer = dialer_with(&s.fake, &s.service, TOKEN, Duration::from_millis(300));
    let started = Instant::now();
    let err = dialer
        .place(&call_to("+8613800000000", false))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, DialError::Ambiguous(_)), "{err:?}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(s.fake.create_requests().len(), 1);
    assert_eq!(s.fake.create_requests()[0].status, None);
    assert_eq!(s.fake.placed_to("+8613800000000"), 0);
}

#[tokio::test]
async fn server_errors_are_ambiguous() {
    let s = setup().await;
    s.fake.on(
        "+8613800000500",
        Behaviour::rest_error(500, 20500, "Internal Server Error"),
    );
    let err = s
        .dialer
        .place(&call_to("+8613800000500", false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DialError::Ambiguous(m) if m.contains("HTTP 500") && m.contains("20500")),
        "{err:?}"
    );
    // Twilio's "unavailable" does not say the request was never processed.
    s.fake
        .set_default(Behaviour::rest_error(503, 20503, "unavailable"));
    let err = s
        .dialer
        .place(&call_to("+8613800000503", false))
        .await
        .unwrap_err();
    assert!(matches!(err, DialError::Ambiguous(_)), "{err:?}");
}

#[tokio::test]
async fn fetch_and_calls_to_since_read_twilios_memory() {
    let s = setup().await;
    let to = "+8613812340000";
    let since = now_ms() - 1000;
    let first = s.dialer.place(&call_to(to, false)).await.unwrap();
    let second = s.dialer.place(&call_to(to, false)).await.unwrap();
    s.dialer
        .place(&call_to("+8613812349999", false))
        .await
        .unwrap();
    s.fake.wait_idle().await;

    let fetched = s.dialer.fetch(&first.id).await.unwrap().unwrap();
    assert_eq!(fetched.id, first.id);
    assert_eq!(fetched.to, to);
    assert_eq!(fetched.status, CallStatus::Completed);
    assert_eq!(fetched.created_at, first.created_at);
    assert_eq!(
        s.dialer
            .fetch("CA00000000000000000000000000000000")
            .await
            .unwrap(),
        None
    );

    // One call per page, so the pages are followed.
    s.fake.max_page_size(1);
    let found = s.dialer.calls_to_since(to, since).await.unwrap();
    let mut ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![first.id.as_str(), second.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(found.iter().all(|c| c.status == CallStatus::Completed));
    assert!(found[0].created_at <= found[1].created_at);

    let lists: Vec<_> = s
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/Calls.json"))
        .collect();
    let first_query = &lists[0];
    assert_eq!(first_query.param("To"), Some(to));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(first_query.param("StartTime>"), Some(today.as_str()));
    assert!(
        first_query.query.contains("StartTime%3E="),
        "{}",
        first_query.query
    );
    assert!(lists.iter().any(|r| r.param("Page") == Some("1")));
    assert!(lists.iter().any(|r| r.param("Status") == Some("queued")));
    assert!(lists.iter().all(|r| r.status == Some(200)));

    // Calls created before `since` are left out.
    let later = s.dialer.calls_to_since(to, now_ms() + 5000).await.unwrap();
    assert_eq!(later, Vec::<RemoteCall>::new());
    assert_eq!(s.fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn an_answered_call_acts_out_its_script_against_our_twiml() {
    let s = setup().await;
    let to = "+8613812345678";
    s.fake.on(
        to,
        Behaviour::Answer {
            by: AnsweredBy::Human,
            script: vec![Action::Press("1".into())],
        },
    );
    let placed = s.dialer.place(&call_to(to, true)).await.unwrap();
    s.fake.wait_idle().await;
    assert_eq!(s.fake.errors(), Vec::<String>::new());

    let answer = &s.service.hits_on("/twilio/survey")[0];
    assert!(answer.signature_ok);
    assert_eq!(answer.query, "callback=7");
    for (k, v) in [
        ("CallSid", placed.id.as_str()),
        ("AccountSid", ACCOUNT),
        ("Direction", "outbound-api"),
        ("CallStatus", "in-progress"),
        ("From", FROM),
        ("To", to),
        ("AnsweredBy", "human"),
    ] {
        assert_eq!(answer.param(k), Some(v), "{k}");
    }
    let step = &s.service.hits_on("/outbound/step")[0];
    assert_eq!(step.param("Digits"), Some("1"));
    assert!(step.signature_ok);
    let call = s.fake.call(&placed.id).unwrap();
    assert_eq!(call.heard, ["press 1 if we helped", "you pressed 1"]);
    assert_eq!(call.status, "completed");

    assert_eq!(
        s.service.statuses(),
        [
            ("initiated".to_string(), "0".to_string()),
            ("ringing".into(), "1".into()),
            ("in-progress".into(), "2".into()),
            ("completed".into(), "3".into()),
        ]
    );
    let statuses = s.service.hits_on("/twilio/callback-status");
    assert!(
        statuses
            .iter()
            .all(|h| h.signature_ok && h.query == "callback=7")
    );
    let last = statuses.last().unwrap();
    assert_eq!(last.param("CallbackSource"), Some("call-progress-events"));
    assert_eq!(last.param("CallDuration"), Some("0"));
    assert_eq!(last.param("Duration"), Some("1"));
    assert_eq!(last.param("AnsweredBy"), Some("human"));
    assert_eq!(last.param("Direction"), Some("outbound-api"));
    assert!(
        last.param("Timestamp")
            .is_some_and(|t| t.ends_with("+0000"))
    );
    // Twilio's order: dialed, ringing, answered, then our TwiML is asked for.
    let paths: Vec<String> = s
        .service
        .hits()
        .iter()
        .map(|h| format!("{}:{}", h.path, h.param("CallStatus").unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            "/twilio/callback-status:initiated",
            "/twilio/callback-status:ringing",
            "/twilio/callback-status:in-progress",
            "/twilio/survey:in-progress",
            "/outbound/step:in-progress",
            "/twilio/callback-status:completed",
        ]
    );

    let fetched = s.dialer.fetch(&placed.id).await.unwrap().unwrap();
    assert_eq!(fetched.status, CallStatus::Completed);
    assert_eq!(fetched.answered_by, Some(AnsweredBy::Human));
}

#[tokio::test]
async fn machines_are_told_so_and_without_detection_nothing_is_said() {
    let s = setup().await;
    s.fake.on(
        "+8613800000001",
        Behaviour::Answer {
            by: AnsweredBy::Machine,
            script: Vec::new(),
        },
    );
    s.fake.on(
        "+8613800000002",
        Behaviour::Answer {
            by: AnsweredBy::Machine,
            script: Vec::new(),
        },
    );
    let machine = s
        .dialer
        .place(&call_to("+8613800000001", true))
        .await
        .unwrap();
    let undetected = s
        .dialer
        .place(&call_to("+8613800000002", false))
        .await
        .unwrap();
    s.fake.wait_idle().await;
    assert_eq!(s.fake.errors(), Vec::<String>::new());
    assert_eq!(
        s.fake.call(&machine.id).unwrap().heard,
        ["sorry we missed you"]
    );
    let answers = s.service.hits_on("/twilio/survey");
    let of = |sid: &str| {
        answers
            .iter()
            .find(|h| h.param("CallSid") == Some(sid))
            .unwrap()
            .clone()
    };
    assert_eq!(of(&machine.id).param("AnsweredBy"), Some("machine_start"));
    assert!(of(&machine.id).param("MachineDetectionDuration").is_some());
    assert_eq!(of(&undetected.id).param("AnsweredBy"), None);
    let fetched = s.dialer.fetch(&machine.id).await.unwrap().unwrap();
    assert_eq!(fetched.answered_by, Some(AnsweredBy::Machine));
    assert_eq!(
        s.dialer
            .fetch(&undetected.id)
            .await
            .unwrap()
            .unwrap()
            .answered_by,
        None
    );
}

#[tokio::test]
async fn callbacks_can_come_twice_or_in_reverse() {
    let s = setup().await;
    s.fake.callbacks_twice(true);
    let twice = s
        .dialer
        .place(&call_to("+8613800000001", false))
        .await
        .unwrap();
    s.fake.wait_idle().await;
    let seen: Vec<String> = s
        .service
        .statuses()
        .into_iter()
        .map(|(status, seq)| format!("{status}#{seq}"))
        .collect();
    assert_eq!(
        seen,
        [
            "initiated#0",
            "initiated#0",
            "ringing#1",
            "ringing#1",
            "in-progress#2",
            "in-progress#2",
            "completed#3",
            "completed#3"
        ]
    );
    // A duplicate is the same request, byte for byte.
    let hooks = s.service.hits_on("/twilio/callback-status");
    assert_eq!(hooks[0].params, hooks[1].params);
    assert_eq!(hooks[0].signature, hooks[1].signature);
    assert_eq!(hooks[0].token, hooks[1].token);
    assert_eq!(s.fake.callbacks().len(), 8);
    assert!(s.fake.callbacks().iter().all(|c| c.call_sid == twice.id));

    s.fake.callbacks_twice(false);
    s.fake.callbacks_reversed(true);
    let reversed = s
        .dialer
        .place(&call_to("+8613800000002", false))
        .await
        .unwrap();
    s.fake.wait_idle().await;
    let seen: Vec<String> = s
        .service
        .hits_on("/twilio/callback-status")
        .iter()
        .filter(|h| h.param("CallSid") == Some(reversed.id.as_str()))
        .map(|h| {
            format!(
                "{}#{}",
                h.param("CallStatus").unwrap(),
                h.param("SequenceNumber").unwrap()
            )
        })
        .collect();
    assert_eq!(
        seen,
        ["completed#3", "in-progress#2", "ringing#1", "initiated#0"]
    );
    assert_eq!(s.fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn busy_no_answer_and_failed_never_reach_our_twiml() {
    let s = setup().await;
    s.fake.on("+8613800000486", Behaviour::Busy);
    s.fake.on("+8613800000487", Behaviour::NoAnswer);
    s.fake.on("+8613800000404", Behaviour::Failed);
    let mut ids = Vec::new();
    for to in ["+8613800000486", "+8613800000487", "+8613800000404"] {
        ids.push(s.dialer.place(&call_to(to, true)).await.unwrap().id);
        s.fake.wait_idle().await;
    }
    assert!(s.service.hits_on("/twilio/survey").is_empty());
    let finals: Vec<(String, String)> = s
        .service
        .hits_on("/twilio/callback-status")
        .iter()
        .filter(|h| {
            h.param("CallStatus") != Some("initiated") && h.param("CallStatus") != Some("ringing")
        })
        .map(|h| {
            (
                h.param("CallStatus").unwrap().to_string(),
                h.param("SipResponseCode").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        finals,
        [
            ("busy".to_string(), "486".to_string()),
            ("no-answer".into(), "487".into()),
            ("failed".into(), "404".into()),
        ]
    );
    let statuses: Vec<CallStatus> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(s.dialer.fetch(id).await.unwrap().unwrap().status);
        }
        v
    };
    assert_eq!(
        statuses,
        [CallStatus::Busy, CallStatus::NoAnswer, CallStatus::Failed]
    );
    assert_eq!(s.fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn a_dropped_answer_is_ambiguous_and_reconciliation_finds_the_call() {
    let s = setup().await;
    let to = "+8613812345678";
    s.fake.on(
        to,
        Behaviour::PlaceThenDrop(Box::new(Behaviour::answer(vec![Action::Press("1".into())]))),
    );
    let since = now_ms();
    let started = Instant::now();
    let err = s.dialer.place(&call_to(to, false)).await.unwrap_err();
    assert!(matches!(err, DialError::Ambiguous(_)), "{err:?}");
    // The connection was closed: no need to wait for the timeout.
    assert!(started.elapsed() < Duration::from_secs(4));
    s.fake.wait_idle().await;
    assert_eq!(s.fake.placed_to(to), 1);
    let found = s.dialer.calls_to_since(to, since - 1000).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, s.fake.calls()[0].sid);
    assert_eq!(found[0].status, CallStatus::Completed);
    // It was played all the same.
    assert_eq!(s.service.hits_on("/outbound/step").len(), 1);
    assert_eq!(s.fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn a_call_still_in_twilios_queue_is_found_too() {
    let s = setup().await;
    let to = "+8613812345678";
    s.fake
        .on(to, Behaviour::PlaceThenDrop(Box::new(Behaviour::Queued)));
    let since = now_ms() - 1000;
    assert!(matches!(
        s.dialer.place(&call_to(to, false)).await,
        Err(DialError::Ambiguous(_))
    ));
    s.fake.wait_idle().await;
    let found = s.dialer.calls_to_since(to, since).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].status, CallStatus::Queued);
    assert!(s.service.hits().is_empty());
}

#[tokio::test]
async fn create_requests_are_counted_and_timed_for_pacing() {
    let s = setup().await;
    s.fake.on(
        "+8613800000429",
        Behaviour::rest_error(429, 20429, "slow down"),
    );
    for to in ["+8613800000001", "+8613800000429", "+8613800000001"] {
        let _ = s.dialer.place(&call_to(to, false)).await;
    }
    s.fake.wait_idle().await;
    let times = s.fake.create_times();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(s.fake.placed_to("+8613800000001"), 2);
    assert_eq!(s.fake.placed_to("+8613800000429"), 0);
}

#[tokio::test]
async fn script_trouble_is_reported() {
    let s = setup().await;
    s.fake.on(
        "+8613800000001",
        Behaviour::answer(vec![Action::Press("1".into()), Action::Press("2".into())]),
    );
    s.dialer
        .place(&call_to("+8613800000001", false))
        .await
        .unwrap();
    s.fake.wait_idle().await;
    let errors = s.fake.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("after the call had ended"), "{errors:?}");
}

#[tokio::test]
async fn the_fake_refuses_what_twilio_would() {
    let s = setup().await;
    let http = reqwest::Client::new();
    let calls = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
        s.fake.base_url()
    );
    let post = |form: Vec<(&'static str, &'static str)>| {
        http.post(&calls)
            .basic_auth(ACCOUNT, Some(TOKEN))
            .form(&form)
            .send()
    };
    let code = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["status"], status);
        assert!(
            body["more_info"]
                .as_str()
                .unwrap()
                .starts_with("https://www.twilio.com/docs/errors/")
        );
        (status, body["code"].as_i64().unwrap())
    };
    let url = "http://127.0.0.1:9/answer";
    assert_eq!(
        code(post(vec![("From", FROM), ("Url", url)]).await.unwrap()).await,
        (400, 21201)
    );
    assert_eq!(
        code(
            post(vec![("To", "+8613812345678"), ("Url", url)])
                .await
                .unwrap()
        )
        .await,
        (400, 21213)
    );
    assert_eq!(
        code(
            post(vec![("To", "+8613812345678"), ("From", FROM)])
                .await
                .unwrap()
        )
        .await,
        (400, 21205)
    );
    assert_eq!(
        code(
            post(vec![
                ("To", "+8613812345678"),
                ("From", FROM),
                ("Url", url),
                ("Priority", "high")
            ])
            .await
            .unwrap()
        )
        .await,
        (400, 70002)
    );
    assert_eq!(
        code(
            post(vec![
                ("To", "+8613812345678"),
                ("From", FROM),
                ("Url", url),
                ("StatusCallbackEvent", "answred")
            ])
            .await
            .unwrap()
        )
        .await,
        (400, 70002)
    );
    // A JSON body is not read at all.
    let json = http
        .post(&calls)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .json(&serde_json::json!({"To": "+8613812345678", "From": FROM, "Url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(json).await, (400, 21201));
    let other_account = calls.replace(ACCOUNT, "AC00000000000000000000000000000000");
    let resp = http
        .get(&other_account)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(code(resp).await, (404, 20404));
    let resp = http.get(&calls).send().await.unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Basic realm=\"Twilio API\""
    );
    assert_eq!(code(resp).await, (401, 20003));
    let resp = http
        .get(format!("{calls}?Colour=red"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(code(resp).await, (400, 70002));
    assert!(s.fake.calls().is_empty());
    assert_eq!(s.fake.requests().len(), 9);
}
