//! `FakeTwilio`: a local stand-in for Twilio's REST API (the Calls resource) and for the calls
//! it places, for the tests and benchmarks of outbound calling.
//!
//! Rules:
//! - It is as strict as Twilio, and stricter where that catches our mistakes. HTTP Basic
//!   credentials must be the simulator's account sid and auth token (401, code 20003), the
//!   account in the path that account (404, 20404). A create body that is not a form is not
//!   read (so `To` is missing); `To` (21201), `From` (21213) and one of `Url`, `Twiml`,
//!   `ApplicationSid` (21205) are required, and `To` must look like a number, `sip:` or
//!   `client:` (21211); only calls with a `Url` are played. A parameter or
//!   query key Twilio's OpenAPI document does not list for the operation, or a value outside
//!   its enum or not an integer, is refused with 400 and code 70002 (Twilio may ignore them).
//! - Every request is recorded, accepted or not (`requests`, `create_times`).
//! - What happens to a call depends on the number called (`on`, `set_default`); see
//!   `Behaviour`. A created call is answered 201 with the Call resource (`sid` CA + 32 hex,
//!   `status: queued`, RFC 2822 dates, `direction: outbound-api`) and played in the
//!   background only once that answer is on its way: Twilio answers first.
//! - Playing follows Twilio's order: the call is dialed (`initiated`, `ringing`), answered
//!   (`in-progress`: the simulator requests `Url` with `Direction=outbound-api`,
//!   `CallStatus=in-progress` and, when `MachineDetection` was asked, `AnsweredBy`, signed like
//!   every webhook; every answer must pass the simulator's TwiML checks; the script is acted
//!   out against it) and ends (`completed` with `CallDuration`, `Duration` and `AnsweredBy`),
//!   or ends `busy`, `no-answer` or `failed`. Only the events asked for with
//!   `StatusCallbackEvent` (default `completed`) go to `StatusCallback`, signed, numbered by
//!   `SequenceNumber` in Twilio's order; each once, or twice (`callbacks_twice`); as they
//!   happen, or all in reverse once the call is over (`callbacks_reversed`). The options are
//!   read when a call is created.
//! - The Calls list and each call are served from memory, newest first, with the `To`,
//!   `From`, `Status`, `StartTime` and `EndTime` filters (by UTC date; a call that has not
//!   started matches no `StartTime` filter) and Twilio's paging fields.
//! - Whatever goes wrong while playing (an answer the simulator refuses, a script action the
//!   call cannot take, a callback not answered 2xx) is kept in `errors`, for tests to assert it
//!   is empty. `wait_idle` returns once every placed call is over and its callbacks have been
//!   delivered, so tests never sleep.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use http_body_util::BodyExt as _;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::simulator::{Call, OutboundLeg, Simulator, Webhook, random_sid};
use crate::telephony::AnsweredBy;

/// CreateCall's form parameters, as Twilio's OpenAPI document lists them.
const CREATE_PARAMS: [&str; 36] = [
    "To",
    "From",
    "Method",
    "FallbackUrl",
    "FallbackMethod",
    "StatusCallback",
    "StatusCallbackEvent",
    "StatusCallbackMethod",
    "SendDigits",
    "Timeout",
    "Record",
    "RecordingChannels",
    "RecordingStatusCallback",
    "RecordingStatusCallbackMethod",
    "SipAuthUsername",
    "SipAuthPassword",
    "MachineDetection",
    "MachineDetectionTimeout",
    "RecordingStatusCallbackEvent",
    "Trim",
    "CallerId",
    "MachineDetectionSpeechThreshold",
    "MachineDetectionSpeechEndThreshold",
    "MachineDetectionSilenceTimeout",
    "AsyncAmd",
    "AsyncAmdStatusCallback",
    "AsyncAmdStatusCallbackMethod",
    "Byoc",
    "CallReason",
    "CallToken",
    "RecordingTrack",
    "TimeLimit",
    "ClientNotificationUrl",
    "Url",
    "Twiml",
    "ApplicationSid",
];
/// ListCall's query parameters.
const LIST_PARAMS: [&str; 13] = [
    "To",
    "From",
    "ParentCallSid",
    "Status",
    "StartTime",
    "StartTime<",
    "StartTime>",
    "EndTime",
    "EndTime<",
    "EndTime>",
    "PageSize",
    "Page",
    "PageToken",
];
const CALL_STATUSES: [&str; 8] = [
    "queued",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
];
const EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];
const JSON: &str = "application/json; charset=utf-8";
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
/// How sure the simulated recogniser is of scripted speech.
const SPEECH_CONFIDENCE: f32 = 0.9;

/// What happens to a call to a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// The callee answers (detection, when asked, says `by`) and acts out `script` against
    /// our TwiML; when the script runs out while the call goes on, the callee hangs up.
    Answer { by: AnsweredBy, script: Vec<Action> },
    /// The line is busy.
    Busy,
    /// It rings; nobody answers.
    NoAnswer,
    /// The carrier cannot connect it.
    Failed,
    /// The call is created and stays in Twilio's queue: never dialed, no callbacks.
    Queued,
    /// Twilio refuses the create request with `status` and its classic error body (and
    /// `Retry-After` when given); no call is created.
    RestError {
        status: u16,
        code: i64,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// The create request is never answered; no call is created.
    Hang,
    /// The call is created and goes on as the inner behaviour (one that creates calls;
    /// anything else leaves it queued), but the connection is closed without an answer.
    PlaceThenDrop(Box<Behaviour>),
}

impl Behaviour {
    /// A person answers and does `script`.
    pub fn answer(script: Vec<Action>) -> Self {
        Behaviour::Answer {
            by: AnsweredBy::Human,
            script,
        }
    }

    /// Twilio refuses with `status` and `code`, without `Retry-After`.
    pub fn rest_error(status: u16, code: i64, message: &str) -> Self {
        Behaviour::RestError {
            status,
            code,
            message: message.to_string(),
            retry_after_secs: None,
        }
    }
}

/// What the callee does, in order, against the TwiML of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Presses keys at a pending `<Gather>`.
    Press(String),
    /// Speaks to a pending `<Gather>` that accepts speech.
    Say(String),
    /// Leaves a message of this many seconds at a pending `<Record>`.
    Record(u64),
    /// Says and presses nothing.
    Silence,
    HangUp,
}

/// A request to the fake, as it arrived.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The decoded pairs of a form body (POST) or of the query (GET), in order.
    pub params: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The HTTP Basic user, when credentials came.
    pub user: Option<String>,
    pub authorized: bool,
    pub at: Instant,
    /// The status answered; `None` while (or when never) answered.
    pub status: Option<u16>,
}

impl ApiRequest {
    /// The first value of `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn params_named(&self, key: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A create request (CreateCall).
    pub fn is_create(&self) -> bool {
        self.method == "POST" && self.path.ends_with("/Calls.json")
    }
}

/// A status callback as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSent {
    pub call_sid: String,
    /// `CallStatus`: `initiated`, `ringing`, `in-progress`, `completed`, `busy`…
    pub status: String,
    pub sequence: u32,
    pub url: String,
    /// The receiver's HTTP status, or why it could not be reached.
    pub answer: Result<u16, String>,
}

/// A call the fake created, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub sid: String,
    pub from: String,
    pub to: String,
    /// The Call resource's status (`queued`, `ringing`, `in-progress`, `completed`…).
    pub status: String,
    /// Detection's verdict as Twilio reports it, when it ran.
    pub answered_by: Option<String>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// Every `<Say>` the callee heard.
    pub heard: Vec<String>,
}

/// A local Twilio REST API and carrier; stops serving when dropped.
pub struct FakeTwilio {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeTwilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTwilio")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Shared {
    sim: Simulator,
    /// This server's own base URL, for the URLs its resources name.
    base_url: String,
    phone_number_sid: String,
    state: Mutex<State>,
    /// Calls being played.
    busy: watch::Sender<usize>,
}

struct State {
    behaviours: HashMap<String, Behaviour>,
    default: Behaviour,
    twice: bool,
    reversed: bool,
    /// Numbers whose calls' status callbacks are lost on the way (never sent).
    lose_callbacks: std::collections::HashSet<String>,
    max_page_size: usize,
    calls: Vec<FakeCall>,
    requests: Vec<ApiRequest>,
    callbacks: Vec<CallbackSent>,
    errors: Vec<String>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, e: String) {
        tracing::debug!(error = %e, "fake Twilio");
        self.state().errors.push(e);
    }

    fn update(&self, sid: &str, f: impl FnOnce(&mut FakeCall)) {
        if let Some(call) = self.state().calls.iter_mut().find(|c| c.sid == sid) {
            f(call);
        }
    }
}

/// Counts a call as being played until dropped.
struct Playing(Arc<Shared>);

impl Playing {
    fn start(shared: &Arc<Shared>) -> Playing {
        shared.busy.send_modify(|n| *n += 1);
        Playing(shared.clone())
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        self.0.busy.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl FakeTwilio {
    /// Serves on 127.0.0.1 on a free port; credentials, signatures and the service's public
    /// URL are the simulator's.
    pub async fn start(sim: Simulator) -> std::io::Result<FakeTwilio> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            sim,
            base_url: base_url.clone(),
            phone_number_sid: random_sid("PN"),
            state: Mutex::new(State {
                behaviours: HashMap::new(),
                default: Behaviour::answer(Vec::new()),
                twice: false,
                reversed: false,
                lose_callbacks: Default::default(),
                max_page_size: MAX_PAGE_SIZE,
                calls: Vec::new(),
                requests: Vec::new(),
                callbacks: Vec::new(),
                errors: Vec::new(),
            }),
            busy: watch::Sender::new(0),
        });
        let server = tokio::spawn(accept(listener, shared.clone()));
        Ok(FakeTwilio {
            base_url,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`: the `api_base` of a dialer.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn simulator(&self) -> &Simulator {
        &self.shared.sim
    }

    /// What happens to calls to `to` from now on.
    pub fn on(&self, to: &str, behaviour: Behaviour) {
        self.shared
            .state()
            .behaviours
            .insert(to.to_string(), behaviour);
    }

    /// What happens to calls to numbers without their own behaviour (at first: a person
    /// answers and hangs up when the TwiML waits for input).
    pub fn set_default(&self, behaviour: Behaviour) {
        self.shared.state().default = behaviour;
    }

    /// Sends every status callback twice, byte for byte.
    pub fn callbacks_twice(&self, yes: bool) {
        self.shared.state().twice = yes;
    }

    /// Sends a call's status callbacks in reverse order, once it is over.
    pub fn callbacks_reversed(&self, yes: bool) {
        self.shared.state().reversed = yes;
    }

    /// Loses the status callbacks of calls to `to` on the way, as when they arrive while the
    /// service is down: only asking the API settles those calls.
    pub fn lose_status_callbacks(&self, to: &str) {
        self.shared.state().lose_callbacks.insert(to.to_string());
    }

    /// Caps `PageSize` of the Calls list below Twilio's 1000, to exercise paging.
    pub fn max_page_size(&self, n: usize) {
        self.shared.state().max_page_size = n.clamp(1, MAX_PAGE_SIZE);
    }

    /// Waits until every placed call is over and its callbacks have been delivered.
    pub async fn wait_idle(&self) {
        let mut rx = self.shared.busy.subscribe();
        // The sender lives as long as `self`, so this only returns once idle.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.shared.state().requests.clone()
    }

    /// The create requests (CreateCall), accepted or not.
    pub fn create_requests(&self) -> Vec<ApiRequest> {
        self.shared
            .state()
            .requests
            .iter()
            .filter(|r| r.is_create())
            .cloned()
            .collect()
    }

    /// When each create request arrived, for pacing checks.
    pub fn create_times(&self) -> Vec<Instant> {
        self.create_requests().iter().map(|r| r.at).collect()
    }

    /// How many calls were created to `to`.
    pub fn placed_to(&self, to: &str) -> usize {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.to == to)
            .count()
    }

    /// Every call created, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.state().calls.clone()
    }

    pub fn call(&self, sid: &str) -> Option<FakeCall> {
        self.shared
            .state()
            .calls
            .iter()
            .find(|c| c.sid == sid)
            .cloned()
    }

    /// Every status callback delivered (duplicates included), in order of sending.
    pub fn callbacks(&self) -> Vec<CallbackSent> {
        self.shared.state().callbacks.clone()
    }

    /// What went wrong while playing calls; empty when all went as Twilio would have it.
    pub fn errors(&self) -> Vec<String> {
        self.shared.state().errors.clone()
    }
}

/// Accepts connections until the fake is dropped; their tasks end with it.
async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            handle(shared.clone(), req)
                        });
                        // A dropped answer ends the connection with an error: expected.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fake Twilio: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Closes the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("the answer was dropped on purpose")]
struct Dropped;

/// A response body; when it holds a sender, the sender is dropped once hyper is done with
/// the body, i.e. once the answer has been handed to the connection.
struct Reply {
    data: Option<Bytes>,
    _written: Option<oneshot::Sender<()>>,
}

impl HttpBody for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

fn reply(status: u16, body: &Value) -> Response<Reply> {
    let mut resp = Response::new(Reply {
        data: Some(Bytes::from(body.to_string())),
        _written: None,
    });
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

/// Twilio's classic error body.
fn error_reply(status: u16, code: i64, message: &str) -> Response<Reply> {
    reply(
        status,
        &json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

enum Outcome {
    Reply(Response<Reply>),
    Hang,
    Drop,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Reply>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query = parts.uri.query().unwrap_or_default().to_string();
    let is_form = content_type.as_deref().is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim() == "application/x-www-form-urlencoded")
    });
    let params: Vec<(String, String)> = if parts.method == hyper::Method::POST {
        if is_form {
            form_urlencoded::parse(&body).into_owned().collect()
        } else {
            Vec::new()
        }
    } else {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    let credentials = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let authorized = credentials
        .as_ref()
        .is_some_and(|(user, pass)| shared.sim.credentials_match(user, pass));
    let request = ApiRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        params,
        content_type,
        user: credentials.map(|(user, _)| user),
        authorized,
        at: Instant::now(),
        status: None,
    };
    let index = {
        let mut state = shared.state();
        state.requests.push(request.clone());
        state.requests.len() - 1
    };
    let outcome = route(&shared, &request);
    let answered = |status: Option<u16>| shared.state().requests[index].status = status;
    match outcome {
        Outcome::Reply(resp) => {
            answered(Some(resp.status().as_u16()));
            Ok(resp)
        }
        Outcome::Drop => Err(Dropped),
        Outcome::Hang => {
            std::future::pending::<()>().await;
            Err(Dropped)
        }
    }
}

/// `user:password` of an HTTP Basic `Authorization` header.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn route(shared: &Arc<Shared>, req: &ApiRequest) -> Outcome {
    if !req.authorized {
        let mut resp = error_reply(401, 20003, "Authenticate");
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return Outcome::Reply(resp);
    }
    let not_found = || {
        Outcome::Reply(error_reply(
            404,
            20404,
            &format!("The requested resource {} was not found", req.path),
        ))
    };
    let Some(rest) = req.path.strip_prefix("/2010-04-01/Accounts/") else {
        return not_found();
    };
    let Some((account, resource)) = rest.split_once('/') else {
        return not_found();
    };
    if account != shared.sim.account_sid() {
        return not_found();
    }
    let method_not_allowed = || Outcome::Reply(error_reply(405, 20004, "Method not allowed"));
    if resource == "Calls.json" {
        return match req.method.as_str() {
            "POST" => create(shared, req),
            "GET" => Outcome::Reply(list(shared, req)),
            _ => method_not_allowed(),
        };
    }
    // Any recording the simulator could have made (its sids are not shared with this API):
    // the resource, and its media, a second of silence.
    if let Some(sid) = resource.strip_prefix("Recordings/")
        && req.method == "GET"
    {
        let (sid, json) = match sid.strip_suffix(".json") {
            Some(s) => (s, true),
            None => (sid, false),
        };
        if !(sid.starts_with("RE")
            && sid.len() == 34
            && sid[2..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            return not_found();
        }
        let base = format!(
            "{}/2010-04-01/Accounts/{account}/Recordings/{sid}",
            shared.base_url
        );
        return Outcome::Reply(if json {
            reply(200, &recording_json(account, sid, &base))
        } else {
            audio_reply(&SILENCE_WAV)
        });
    }
    if let Some(sid) = resource
        .strip_prefix("Calls/")
        .and_then(|r| r.strip_suffix(".json"))
        && !sid.contains('/')
    {
        if req.method != "GET" {
            return method_not_allowed();
        }
        let state = shared.state();
        return match state.calls.iter().find(|c| c.sid == sid) {
            Some(call) => Outcome::Reply(reply(200, &call_json(shared, call))),
            None => not_found(),
        };
    }
    not_found()
}

/// A second of 8 kHz 8-bit mono silence: what every fake recording plays.
const SILENCE_WAV: [u8; 44 + 8000] = {
    let mut w = [0x80u8; 44 + 8000];
    let head: [u8; 44] = [
        b'R', b'I', b'F', b'F', 0x64, 0x1f, 0, 0, b'W', b'A', b'V', b'E', b'f', b'm', b't', b' ',
        16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0, b'd', b'a', b't',
        b'a', 0x40, 0x1f, 0, 0,
    ];
    let mut i = 0;
    while i < 44 {
        w[i] = head[i];
        i += 1;
    }
    w
};

fn audio_reply(bytes: &'static [u8]) -> Response<Reply> {
    let mut resp = Response::new(Reply {
        data: Some(Bytes::from_static(bytes)),
        _written: None,
    });
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("audio/x-wav"),
    );
    resp
}

/// A Recording resource, with the fields of Twilio's document.
fn recording_json(account: &str, sid: &str, base: &str) -> Value {
    json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "call_sid": null,
        "conference_sid": null,
        "date_created": null,
        "date_updated": null,
        "start_time": null,
        "duration": "1",
        "sid": sid,
        "price": null,
        "price_unit": "USD",
        "status": "completed",
        "channels": 1,
        "source": "RecordVerb",
        "error_code": null,
        "uri": format!("/2010-04-01/Accounts/{account}/Recordings/{sid}.json"),
        "encryption_details": null,
        "subresource_uris": {},
        "media_url": base,
    })
}

fn bad_request(message: &str) -> Outcome {
    Outcome::Reply(error_reply(400, 70002, message))
}

/// CreateCall.
fn create(shared: &Arc<Shared>, req: &ApiRequest) -> Outcome {
    if let Some((key, _)) = req
        .params
        .iter()
        .find(|(k, _)| !CREATE_PARAMS.contains(&k.as_str()))
    {
        return bad_request(&format!("Unknown parameter {key:?}"));
    }
    let get = |k: &str| req.param(k).filter(|v| !v.is_empty());
    let Some(to) = get("To") else {
        return Outcome::Reply(error_reply(400, 21201, "No 'To' number is specified"));
    };
    let Some(from) = get("From") else {
        return Outcome::Reply(error_reply(400, 21213, "No 'From' number is specified"));
    };
    let url = get("Url");
    if url.is_none() && get("Twiml").is_none() && get("ApplicationSid").is_none() {
        return Outcome::Reply(error_reply(400, 21205, "Url parameter is required"));
    }
    if let Some(u) = url
        && !is_absolute_url(u)
    {
        return Outcome::Reply(error_reply(400, 21205, &format!("Url is not valid: {u}")));
    }
    if let Some(u) = get("StatusCallback")
        && !is_absolute_url(u)
    {
        return bad_request(&format!("StatusCallback is not a valid URL: {u}"));
    }
    for key in ["Method", "StatusCallbackMethod", "FallbackMethod"] {
        if let Some(m) = req.param(key)
            && m != "GET"
            && m != "POST"
        {
            return bad_request(&format!("{key} must be GET or POST, not {m:?}"));
        }
    }
    if let Some(e) = req
        .params_named("StatusCallbackEvent")
        .into_iter()
        .find(|e| !EVENTS.contains(e))
    {
        return bad_request(&format!("StatusCallbackEvent {e:?} is not an event"));
    }
    if let Some(m) = req.param("MachineDetection")
        && m != "Enable"
        && m != "DetectMessageEnd"
    {
        return bad_request(&format!(
            "MachineDetection must be Enable or DetectMessageEnd, not {m:?}"
        ));
    }
    for key in [
        "Timeout",
        "TimeLimit",
        "MachineDetectionTimeout",
        "MachineDetectionSpeechThreshold",
        "MachineDetectionSpeechEndThreshold",
        "MachineDetectionSilenceTimeout",
    ] {
        if let Some(v) = req.param(key)
            && v.parse::<u32>().is_err()
        {
            return bad_request(&format!("{key} must be an integer, not {v:?}"));
        }
    }
    if !is_callable(to) {
        return Outcome::Reply(error_reply(
            400,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        ));
    }

    let (behaviour, twice, reversed, lose_callbacks) = {
        let state = shared.state();
        let behaviour = state.behaviours.get(to).unwrap_or(&state.default).clone();
        let lose = state.lose_callbacks.contains(to);
        (behaviour, state.twice, state.reversed, lose)
    };
    let (behaviour, drop_answer) = match behaviour {
        Behaviour::RestError {
            status,
            code,
            message,
            retry_after_secs,
        } => {
            let mut resp = error_reply(status, code, &message);
            if let Some(secs) = retry_after_secs
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Outcome::Reply(resp);
        }
        Behaviour::Hang => return Outcome::Hang,
        Behaviour::PlaceThenDrop(inner) => (*inner, true),
        other => (other, false),
    };

    let now = Utc::now();
    let call = FakeCall {
        sid: random_sid("CA"),
        from: from.to_string(),
        to: to.to_string(),
        status: "queued".to_string(),
        answered_by: None,
        created: now,
        started: None,
        ended: None,
        heard: Vec::new(),
    };
    let json = call_json(shared, &call);
    let events: Vec<String> = match req.params_named("StatusCallbackEvent") {
        e if e.is_empty() => vec!["completed".to_string()],
        e => e.into_iter().map(str::to_string).collect(),
    };
    let placement = Placement {
        leg: OutboundLeg {
            sid: call.sid.clone(),
            from: call.from.clone(),
            to: call.to.clone(),
            url: url.unwrap_or_default().to_string(),
            method: req.param("Method").unwrap_or("POST").to_string(),
            answered_by: None,
        },
        status_callback: get("StatusCallback").filter(|_| !lose_callbacks).map(|u| {
            (
                u.to_string(),
                req.param("StatusCallbackMethod")
                    .unwrap_or("POST")
                    .to_string(),
            )
        }),
        events,
        detect_machine: req.param("MachineDetection").is_some(),
        twice,
        reversed,
    };
    shared.state().calls.push(call);
    let playing = Playing::start(shared);
    let shared = shared.clone();
    if drop_answer {
        tokio::spawn(async move {
            play(&shared, placement, behaviour).await;
            drop(playing);
        });
        return Outcome::Drop;
    }
    let (written, on_written) = oneshot::channel();
    tokio::spawn(async move {
        // Sent or dropped (the body is gone either way): the answer is out.
        let _ = on_written.await;
        play(&shared, placement, behaviour).await;
        drop(playing);
    });
    let mut resp = reply(201, &json);
    resp.body_mut()._written = Some(written);
    Outcome::Reply(resp)
}

fn is_absolute_url(u: &str) -> bool {
    reqwest::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// A number Twilio could dial: digits with an optional `+`, or a SIP or Client address.
fn is_callable(to: &str) -> bool {
    if to.starts_with("sip:") || to.starts_with("client:") {
        return to.len() > 5;
    }
    let digits = to.strip_prefix('+').unwrap_or(to);
    (3..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

fn rfc2822(t: &DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// The Call resource as Twilio renders it.
fn call_json(shared: &Shared, c: &FakeCall) -> Value {
    let account = shared.sim.account_sid();
    let base = format!("/2010-04-01/Accounts/{account}/Calls/{}", c.sid);
    let duration = match (c.started, c.ended) {
        (Some(s), Some(e)) => Some((e - s).num_seconds().max(0).to_string()),
        _ => None,
    };
    let sub = |name: &str| format!("{base}/{name}.json");
    json!({
        "account_sid": account,
        "answered_by": c.answered_by,
        "api_version": "2010-04-01",
        "caller_name": null,
        "date_created": rfc2822(&c.created),
        "date_updated": rfc2822(&c.ended.or(c.started).unwrap_or(c.created)),
        "direction": "outbound-api",
        "duration": duration,
        "end_time": c.ended.as_ref().map(rfc2822),
        "forwarded_from": null,
        "from": c.from,
        "from_formatted": c.from,
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": shared.phone_number_sid,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": c.sid,
        "start_time": c.started.as_ref().map(rfc2822),
        "status": c.status,
        "subresource_uris": {
            "notifications": sub("Notifications"),
            "recordings": sub("Recordings"),
            "payments": sub("Payments"),
            "events": sub("Events"),
            "siprec": sub("Siprec"),
            "streams": sub("Streams"),
            "transcriptions": sub("Transcriptions"),
            "user_defined_message_subscriptions": sub("UserDefinedMessageSubscriptions"),
            "user_defined_messages": sub("UserDefinedMessages"),
        },
        "to": c.to,
        "to_formatted": c.to,
        "trunk_sid": null,
        "uri": format!("{base}.json"),
    })
}

/// A date filter of the Calls list: the day, or `None` when the value is not a date.
fn filter_date(v: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d").ok()
}

/// ListCall.
fn list(shared: &Shared, req: &ApiRequest) -> Response<Reply> {
    let bad = |m: String| error_reply(400, 70002, &m);
    if let Some((key, _)) = req
        .params
        .iter()
        .find(|(k, _)| !LIST_PARAMS.contains(&k.as_str()))
    {
        return bad(format!("Unknown parameter {key:?}"));
    }
    let mut filters: Vec<(&str, &str)> = Vec::new();
    let (mut page_size, mut page) = (DEFAULT_PAGE_SIZE, 0usize);
    for (k, v) in &req.params {
        match k.as_str() {
            "PageSize" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => page_size = n,
                _ => return bad(format!("PageSize must be 1 to 1000, not {v:?}")),
            },
            "Page" => match v.parse() {
                Ok(n) => page = n,
                Err(_) => return bad(format!("Page must be an integer, not {v:?}")),
            },
            "PageToken" => {}
            "Status" if !CALL_STATUSES.contains(&v.as_str()) => {
                return bad(format!("Status {v:?} is not a call status"));
            }
            key if key.starts_with("StartTime") || key.starts_with("EndTime") => {
                if filter_date(v).is_none() {
                    return bad(format!("{key} must be a date (YYYY-MM-DD), not {v:?}"));
                }
                filters.push((key, v));
            }
            key => filters.push((key, v)),
        }
    }
    let state = shared.state();
    page_size = page_size.min(state.max_page_size);
    let matches = |c: &FakeCall| {
        filters.iter().all(|(k, v)| {
            let day = |t: Option<DateTime<Utc>>| t.map(|t| t.date_naive());
            let date = filter_date(v);
            match *k {
                "To" => c.to == *v,
                "From" => c.from == *v,
                "Status" => c.status == *v,
                "ParentCallSid" => false,
                "StartTime" => day(c.started).is_some_and(|d| Some(d) == date),
                "StartTime>" => day(c.started).is_some_and(|d| Some(d) >= date),
                "StartTime<" => day(c.started).is_some_and(|d| Some(d) < date),
                "EndTime" => day(c.ended).is_some_and(|d| Some(d) == date),
                "EndTime>" => day(c.ended).is_some_and(|d| Some(d) >= date),
                "EndTime<" => day(c.ended).is_some_and(|d| Some(d) < date),
                _ => false,
            }
        })
    };
    let found: Vec<&FakeCall> = state.calls.iter().rev().filter(|c| matches(c)).collect();
    let start = page.saturating_mul(page_size);
    let calls: Vec<Value> = found
        .iter()
        .skip(start)
        .take(page_size)
        .map(|c| call_json(shared, c))
        .collect();
    let path = &req.path;
    let uri = |page: usize, token: Option<String>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(filters.iter());
        q.append_pair("PageSize", &page_size.to_string());
        q.append_pair("Page", &page.to_string());
        if let Some(t) = token {
            q.append_pair("PageToken", &t);
        }
        format!("{path}?{}", q.finish())
    };
    let next = (start + page_size < found.len()).then(|| {
        let last = found
            .get(start + page_size - 1)
            .map_or(String::new(), |c| c.sid.clone());
        uri(page + 1, Some(format!("PA{last}")))
    });
    let previous = (page > 0).then(|| {
        let first = found.get(start).map_or(String::new(), |c| c.sid.clone());
        uri(page - 1, Some(format!("PB{first}")))
    });
    reply(
        200,
        &json!({
            "calls": calls,
            "end": (start + calls.len()).saturating_sub(1),
            "first_page_uri": uri(0, None),
            "next_page_uri": next,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": previous,
            "start": start,
            "uri": uri(page, None),
        }),
    )
}

/// A created call, as it is to be played.
struct Placement {
    leg: OutboundLeg,
    /// `StatusCallback` and its method.
    status_callback: Option<(String, String)>,
    events: Vec<String>,
    detect_machine: bool,
    twice: bool,
    reversed: bool,
}

/// The status callbacks of one call, numbered in Twilio's order.
struct Progress<'a> {
    shared: &'a Shared,
    placement: &'a Placement,
    sequence: u32,
    held: Vec<(String, u32, Webhook)>,
}

impl Progress<'_> {
    /// `event` happened with `status`: sent now, or held when callbacks go in reverse.
    async fn event(&mut self, event: &str, status: &str, extra: Vec<(String, String)>) {
        let p = self.placement;
        let Some((url, method)) = &p.status_callback else {
            return;
        };
        if !p.events.iter().any(|e| e == event) {
            return;
        }
        let hook =
            self.shared
                .sim
                .outbound_status(&p.leg, url, method, status, self.sequence, extra);
        let sequence = self.sequence;
        self.sequence += 1;
        if p.reversed {
            self.held.push((status.to_string(), sequence, hook));
        } else {
            self.send(status, sequence, &hook).await;
        }
    }

    async fn send(&self, status: &str, sequence: u32, hook: &Webhook) {
        let times = if self.placement.twice { 2 } else { 1 };
        for _ in 0..times {
            let answer = self
                .shared
                .sim
                .deliver(hook)
                .await
                .map_err(|e| e.to_string());
            let sid = &self.placement.leg.sid;
            match &answer {
                Ok(code) if (200..300).contains(code) => {}
                Ok(code) => self.shared.error(format!(
                    "{sid}: status callback {status} answered HTTP {code}"
                )),
                Err(e) => self
                    .shared
                    .error(format!("{sid}: status callback {status}: {e}")),
            }
            self.shared.state().callbacks.push(CallbackSent {
                call_sid: sid.clone(),
                status: status.to_string(),
                sequence,
                url: hook.url().to_string(),
                answer,
            });
        }
    }

    /// The call is over: held callbacks go, last first.
    async fn finish(mut self) {
        let held = std::mem::take(&mut self.held);
        for (status, sequence, hook) in held.iter().rev() {
            self.send(status, *sequence, hook).await;
        }
    }
}

/// The end of a call that was not answered: `CallDuration`, `Duration` and the SIP code.
fn unanswered(sip: u16) -> Vec<(String, String)> {
    vec![
        ("CallDuration".to_string(), "0".to_string()),
        ("Duration".to_string(), "0".to_string()),
        ("SipResponseCode".to_string(), sip.to_string()),
    ]
}

fn answered_by_param(by: AnsweredBy) -> &'static str {
    match by {
        AnsweredBy::Human => "human",
        AnsweredBy::Machine => "machine_start",
        AnsweredBy::Unknown => "unknown",
    }
}

/// Plays a created call to its end.
async fn play(shared: &Shared, placement: Placement, behaviour: Behaviour) {
    let sid = placement.leg.sid.clone();
    let mut progress = Progress {
        shared,
        placement: &placement,
        sequence: 0,
        held: Vec::new(),
    };
    let end = |status: &'static str| {
        move |c: &mut FakeCall| {
            let now = Utc::now();
            c.status = status.to_string();
            c.started.get_or_insert(now);
            c.ended = Some(now);
        }
    };
    let dial = |c: &mut FakeCall| {
        c.status = "ringing".to_string();
        c.started = Some(Utc::now());
    };
    match behaviour {
        Behaviour::Failed => {
            shared.update(&sid, end("failed"));
            progress.event("completed", "failed", unanswered(404)).await;
        }
        Behaviour::Busy => {
            shared.update(&sid, dial);
            progress.event("initiated", "initiated", Vec::new()).await;
            shared.update(&sid, end("busy"));
            progress.event("completed", "busy", unanswered(486)).await;
        }
        Behaviour::NoAnswer => {
            shared.update(&sid, dial);
            progress.event("initiated", "initiated", Vec::new()).await;
            progress.event("ringing", "ringing", Vec::new()).await;
            shared.update(&sid, end("no-answer"));
            progress
                .event("completed", "no-answer", unanswered(487))
                .await;
        }
        Behaviour::Answer { by, script } => {
            shared.update(&sid, dial);
            progress.event("initiated", "initiated", Vec::new()).await;
            progress.event("ringing", "ringing", Vec::new()).await;
            let verdict = placement.detect_machine.then(|| answered_by_param(by));
            let detected: Vec<(String, String)> = verdict
                .map(|v| ("AnsweredBy".to_string(), v.to_string()))
                .into_iter()
                .collect();
            shared.update(&sid, |c| {
                c.status = "in-progress".to_string();
                c.answered_by = verdict.map(str::to_string);
            });
            progress
                .event("answered", "in-progress", detected.clone())
                .await;
            let answered_at = Instant::now();
            let heard = converse(shared, &placement, verdict, script).await;
            let secs = answered_at.elapsed().as_secs();
            shared.update(&sid, |c| {
                c.heard = heard;
                end("completed")(c);
            });
            let mut extra = vec![
                ("CallDuration".to_string(), secs.to_string()),
                // Billed minutes, rounded up; an answered call bills at least one.
                ("Duration".to_string(), secs.div_ceil(60).max(1).to_string()),
            ];
            extra.extend(detected);
            progress.event("completed", "completed", extra).await;
        }
        // Left in the queue: nothing more happens.
        Behaviour::Queued
        | Behaviour::RestError { .. }
        | Behaviour::Hang
        | Behaviour::PlaceThenDrop(_) => {}
    }
    progress.finish().await;
}

/// Answers the call through the simulator and acts out the script; returns what was heard.
async fn converse(
    shared: &Shared,
    placement: &Placement,
    verdict: Option<&str>,
    script: Vec<Action>,
) -> Vec<String> {
    let sid = &placement.leg.sid;
    if placement.leg.url.is_empty() {
        shared.error(format!(
            "{sid}: only calls with a Url are played (not Twiml or ApplicationSid)"
        ));
        return Vec::new();
    }
    let mut leg = placement.leg.clone();
    leg.answered_by = verdict.map(str::to_string);
    let mut call = match shared.sim.answer_outbound(&leg).await {
        Ok(call) => call,
        Err(e) => {
            shared.error(format!("{sid}: answering: {e}"));
            return Vec::new();
        }
    };
    for action in script {
        if call.has_ended() {
            if action != Action::HangUp {
                shared.error(format!("{sid}: {action:?} after the call had ended"));
            }
            break;
        }
        if let Err(e) = act(&mut call, &action).await {
            shared.error(format!("{sid}: {action:?}: {e}"));
            break;
        }
    }
    if !call.has_ended()
        && let Err(e) = call.hang_up().await
    {
        shared.error(format!("{sid}: hanging up: {e}"));
    }
    call.transcript().to_vec()
}

async fn act(call: &mut Call, action: &Action) -> Result<(), super::simulator::SimError> {
    match action {
        Action::Press(keys) => call.press(keys).await,
        Action::Say(words) => call.say(words, SPEECH_CONFIDENCE).await,
        Action::Record(secs) => call.record(*secs).await,
        Action::Silence => call.silence().await,
        Action::HangUp => call.hang_up().await,
    }
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn callable_numbers() {
        for ok in [
            "+8613812345678",
            "+8610086",
            "10086",
            "sip:agent@pbx.example.com",
            "client:alice",
        ] {
            assert!(is_callable(ok), "{ok}");
        }
        for bad in ["", "+", "12", "+86 138", "abc", "+1234567890123456", "sip:"] {
            assert!(!is_callable(bad), "{bad}");
        }
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let header = format!("Basic {}", STANDARD.encode("AC1:tok:en"));
        assert_eq!(
            basic_credentials(&header),
            Some(("AC1".to_string(), "tok:en".to_string()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn list_dates() {
        assert!(filter_date("2024-02-29").is_some());
        assert!(filter_date("2024-02-30").is_none());
        assert!(filter_date("2024-02-29T10:00:00Z").is_some());
    }
}
