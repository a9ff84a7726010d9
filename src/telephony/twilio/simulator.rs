//! The carrier simulator: plays Twilio's part against a running `hotline` over real HTTP.
//!
//! Rules: it behaves like Twilio, not like a friendly client. Every request carries Twilio's
//! full parameter set and a valid `X-Twilio-Signature` over `{base_url}{path?query}` (the
//! service's public URL), POSTs are form-encoded, and every TwiML answer must be HTTP 200,
//! `text/xml` or `application/xml`, and pass the strict `validate` — otherwise the call fails
//! with `SimError`, so a test fails on any answer Twilio would choke on. Gathers follow
//! Twilio's key rules (finishOnKey, numDigits, extra keys ignored, no input falls through to
//! the next verb); `<Dial>` of a bare number has no far end and reports `no-answer`, while a
//! `<Number url>` or `<Sip url>` is answered by a simulated person whose leg requests the
//! whisper URL (what they heard is kept, `agent_heard`) and reports `completed`; `<Dial><Queue
//! url>` requests that URL as the dequeued caller's leg would (`dequeued_heard`). `<Enqueue>`
//! puts the call in a queue: the wait URL is requested at once (position 1), and again when the
//! test says (`wait_in_queue`, with Twilio's queue parameters); a wait document that ends
//! leaves the caller holding; `<Leave>`, `leave_queue` or hanging up ends the wait and requests
//! the Enqueue action with its `QueueResult`. When the call ends the `completed` status
//! callback is sent once, as Twilio does. Twenty hops without input are treated as a redirect
//! loop. `<Dial><Conference>` and `<Dial><Client>` are not simulated.
//!
//! Outbound calls (`answer_outbound`) start where Twilio starts them once the callee answers:
//! with a request to the create request's `Url` carrying `Direction=outbound-api`,
//! `CallStatus=in-progress` and, when detection was asked, `AnsweredBy`. Their end is not
//! reported to `/twilio/status` but kept (`Call::end_status`): the REST API that placed them
//! (`fake_api`) sends it to the call's own `StatusCallback`, with the progress events before it.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::signature;
use super::validate::{self, Element};

/// Twilio gives up on a webhook after 15 seconds.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
/// Hops (redirects, dial actions) allowed without caller input before we call it a loop.
const MAX_HOPS: usize = 20;
const VOICE_PATH: &str = "/twilio/voice";
const STATUS_PATH: &str = "/twilio/status";
const INBOUND: &str = "inbound";
const OUTBOUND: &str = "outbound-api";
/// How long the simulated answering-machine detection took, milliseconds.
const AMD_MILLIS: u32 = 2400;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the service answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("invalid TwiML from {url}: {reason}\n--- body ---\n{body}")]
    InvalidTwiml {
        url: String,
        reason: String,
        body: String,
    },
    #[error("the call has ended")]
    Ended,
    #[error("the call is not waiting for input")]
    NotWaiting,
    #[error("the pending <Gather> does not accept {0}")]
    InputNotAccepted(&'static str),
    #[error("{0:?} is not a telephone key (0-9, *, #)")]
    InvalidKey(char),
    #[error("no input given; use silence() for none")]
    EmptyInput,
    #[error("followed {0} redirects in a row without input: a redirect loop")]
    RedirectLoop(usize),
    #[error("the simulator cannot play <{0}>")]
    Unsupported(String),
    #[error("no webhook has been sent on this call yet")]
    NothingToReplay,
}

impl SimError {
    /// Input the pending prompt cannot take (speech at a keypad-only prompt, a key that is
    /// not on a telephone, nothing at all): refused before anything is sent, so the call is
    /// where it was and the caller may try again.
    pub fn is_refused_input(&self) -> bool {
        matches!(
            self,
            SimError::InputNotAccepted(_) | SimError::InvalidKey(_) | SimError::EmptyInput
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn of(e: &Element) -> Method {
        Method::named(e.attr("method").unwrap_or("POST"))
    }

    /// `GET` is GET; anything else is Twilio's default, POST.
    fn named(name: &str) -> Method {
        if name == "GET" {
            Method::Get
        } else {
            Method::Post
        }
    }
}

/// An outbound call the REST API has created, as the carrier needs it once the callee answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundLeg {
    pub sid: String,
    /// Our number (the caller ID the call was placed from).
    pub from: String,
    /// The number called.
    pub to: String,
    /// The create request's `Url` and `Method` (`GET`; anything else is POST).
    pub url: String,
    pub method: String,
    /// Detection's verdict (`human`, `machine_start`, `unknown`…) when `MachineDetection` was
    /// asked; sent as `AnsweredBy` on the request to `url`.
    pub answered_by: Option<String>,
}

/// A signed webhook kept whole, so that a duplicate is the same bytes (a Twilio retry).
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub(crate) struct Webhook(Request);

#[cfg(feature = "testing")]
impl Webhook {
    /// The URL it goes to, as signed.
    pub(crate) fn url(&self) -> &str {
        &self.0.url
    }
}

/// One webhook as sent, kept whole so it can be re-sent byte for byte (a Twilio retry).
#[derive(Debug, Clone)]
struct Request {
    method: Method,
    /// The public URL, as signed (for GET including the parameters).
    url: String,
    body: String,
    signature: Option<String>,
    idempotency_token: String,
}

/// Plays Twilio against a service whose public URL is `base_url`.
#[derive(Clone)]
pub struct Simulator {
    base_url: String,
    /// Where requests for `base_url` really go, when the public URL is not reachable from here.
    transport_base: Option<String>,
    auth_token: String,
    account_sid: String,
    http: reqwest::Client,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url)
            .field("transport_base", &self.transport_base)
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(base_url: &str, auth_token: &str, account_sid: &str) -> Self {
        // A 3xx is reported, not followed: Twilio would re-issue a redirected POST as a GET
        // without its parameters. A proxy from the environment must not stand between the
        // "carrier" and a local service.
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent("TwilioProxy/1.1")
            .build()
            .unwrap_or_default();
        Simulator {
            base_url: base_url.trim_end_matches('/').to_string(),
            transport_base: None,
            auth_token: auth_token.to_string(),
            account_sid: account_sid.to_string(),
            http,
        }
    }

    /// Sends requests for the public URL to `local_base` instead, still signing over the
    /// public URL — as when the service sits behind a proxy or tunnel.
    pub fn connect_via(mut self, local_base: &str) -> Self {
        self.transport_base = Some(local_base.trim_end_matches('/').to_string());
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The public URL of `path_and_query`, encoded as it goes on the wire.
    pub fn url(&self, path_and_query: &str) -> String {
        if path_and_query.starts_with('/') {
            self.wire_url(&format!("{}{path_and_query}", self.base_url))
        } else {
            self.wire_url(&format!("{}/{path_and_query}", self.base_url))
        }
    }

    /// `url` with its path and query percent-encoded the way the HTTP client will send them
    /// (`'` becomes `%27`, a fragment is dropped). The service validates the signature over
    /// the request target it receives, so that is what must be signed; the public base is
    /// kept exactly as configured.
    fn wire_url(&self, url: &str) -> String {
        let (base, rest) = match url.strip_prefix(self.base_url.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => {
                (self.base_url.as_str(), rest)
            }
            _ => match reqwest::Url::parse(url) {
                Ok(u) => return u.to_string(),
                Err(_) => return url.to_string(),
            },
        };
        let query = |u: &reqwest::Url| u.query().map(|q| format!("?{q}")).unwrap_or_default();
        match reqwest::Url::parse(&format!("http://host{rest}")) {
            Ok(u) if rest.starts_with('/') => format!("{base}{}{}", u.path(), query(&u)),
            Ok(u) => format!("{base}{}", query(&u)),
            Err(_) => url.to_string(),
        }
    }

    /// The `X-Twilio-Signature` Twilio would send for a POST of `params` to `path_and_query`.
    pub fn signature(&self, path_and_query: &str, params: &[(String, String)]) -> String {
        signature::sign(&self.auth_token, &self.url(path_and_query), params)
    }

    /// Starts an inbound call with a fresh `CallSid`.
    pub async fn start_call(&self, from: &str, to: &str) -> Result<Call, SimError> {
        self.start_call_with_sid(&random_sid("CA"), from, to).await
    }

    /// Starts an inbound call: the first webhook, then whatever the document says, until it
    /// waits for input or ends.
    pub async fn start_call_with_sid(
        &self,
        sid: &str,
        from: &str,
        to: &str,
    ) -> Result<Call, SimError> {
        self.start_call_at_with_sid(VOICE_PATH, sid, from, to).await
    }

    /// Starts an inbound call to a number whose voice URL is `path_and_query` (the agent line,
    /// for one) with a fresh `CallSid`.
    pub async fn start_call_at(
        &self,
        path_and_query: &str,
        from: &str,
        to: &str,
    ) -> Result<Call, SimError> {
        self.start_call_at_with_sid(path_and_query, &random_sid("CA"), from, to)
            .await
    }

    async fn start_call_at_with_sid(
        &self,
        path_and_query: &str,
        sid: &str,
        from: &str,
        to: &str,
    ) -> Result<Call, SimError> {
        let mut call = self.new_call(sid, from, to, INBOUND);
        let url = self.url(path_and_query);
        let verbs = call
            .fetch(Method::Post, &url, "ringing", Vec::new())
            .await?;
        call.run(verbs, Method::Post, url).await?;
        Ok(call)
    }

    /// Answers an outbound call the REST API created: requests `leg.url` with Twilio's
    /// outbound parameters (and `AnsweredBy` when detection ran), then plays the document
    /// until it waits for input or ends. The call's end is kept for `Call::end_status`, not
    /// sent to `/twilio/status`.
    pub async fn answer_outbound(&self, leg: &OutboundLeg) -> Result<Call, SimError> {
        let mut call = self.new_call(&leg.sid, &leg.from, &leg.to, OUTBOUND);
        call.report_end = false;
        let method = Method::named(&leg.method);
        let mut extra = Vec::new();
        if let Some(by) = &leg.answered_by {
            extra.push(("AnsweredBy", by.clone()));
            extra.push(("MachineDetectionDuration", AMD_MILLIS.to_string()));
        }
        let verbs = call.fetch(method, &leg.url, "in-progress", extra).await?;
        call.run(verbs, method, leg.url.clone()).await?;
        Ok(call)
    }

    fn new_call(&self, sid: &str, from: &str, to: &str, direction: &'static str) -> Call {
        Call {
            sim: self.clone(),
            sid: sid.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            direction,
            started: Instant::now(),
            gather: None,
            record: None,
            last_recording: None,
            last: None,
            heard: Vec::new(),
            transcript: Vec::new(),
            ended: false,
            transferred_to: None,
            queue: None,
            agent_heard: Vec::new(),
            dequeued_heard: Vec::new(),
            dial_caller_id: None,
            played: Vec::new(),
            status_sent: false,
            report_end: true,
            end_status: None,
            sequence: 0,
        }
    }

    /// The account this simulator plays Twilio for.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Whether HTTP Basic credentials are this account's (the REST API's check).
    #[cfg(feature = "testing")]
    pub(crate) fn credentials_match(&self, account_sid: &str, auth_token: &str) -> bool {
        constant_time_eq(account_sid.as_bytes(), self.account_sid.as_bytes())
            & constant_time_eq(auth_token.as_bytes(), self.auth_token.as_bytes())
    }

    /// A signed call-progress event (status callback) of an outbound call, as Twilio sends it
    /// to the call's `StatusCallback` with `method`: every voice parameter, then
    /// `CallbackSource`, `SequenceNumber`, `Timestamp` and `extra`.
    #[cfg(feature = "testing")]
    pub(crate) fn outbound_status(
        &self,
        leg: &OutboundLeg,
        callback: &str,
        method: &str,
        status: &str,
        sequence: u32,
        extra: Vec<(String, String)>,
    ) -> Webhook {
        let mut params = voice_params(
            &self.account_sid,
            &leg.sid,
            &leg.from,
            &leg.to,
            status,
            OUTBOUND,
        );
        params.extend([
            (
                "CallbackSource".to_string(),
                "call-progress-events".to_string(),
            ),
            ("SequenceNumber".to_string(), sequence.to_string()),
            ("Timestamp".to_string(), rfc2822_now()),
        ]);
        params.extend(extra);
        Webhook(self.request(Method::named(method), callback, &params))
    }

    /// Sends a webhook (again, byte for byte, when called twice); returns the HTTP status.
    #[cfg(feature = "testing")]
    pub(crate) async fn deliver(&self, hook: &Webhook) -> Result<u16, SimError> {
        let (status, _, _) = self.send(&hook.0).await?;
        Ok(status)
    }

    /// POSTs `params` to `path_and_query` with a valid signature; returns status,
    /// content type and body, unchecked.
    pub async fn signed_post(
        &self,
        path_and_query: &str,
        params: &[(String, String)],
    ) -> Result<(u16, String, String), SimError> {
        let sig = self.signature(path_and_query, params);
        self.post_with_signature(path_and_query, params, &sig).await
    }

    /// POSTs `params` without an `X-Twilio-Signature` header.
    pub async fn unsigned_post(
        &self,
        path_and_query: &str,
        params: &[(String, String)],
    ) -> Result<(u16, String, String), SimError> {
        let req = Request {
            method: Method::Post,
            url: self.url(path_and_query),
            body: encode(params),
            signature: None,
            idempotency_token: random_hex(),
        };
        self.send(&req).await
    }

    /// POSTs `params` with `signature` as the header, valid or not.
    pub async fn post_with_signature(
        &self,
        path_and_query: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(u16, String, String), SimError> {
        let req = Request {
            method: Method::Post,
            url: self.url(path_and_query),
            body: encode(params),
            signature: Some(signature.to_string()),
            idempotency_token: random_hex(),
        };
        self.send(&req).await
    }

    fn request(&self, method: Method, url: &str, params: &[(String, String)]) -> Request {
        let url = &self.wire_url(url);
        match method {
            Method::Post => Request {
                method,
                url: url.to_string(),
                body: encode(params),
                signature: Some(signature::sign(&self.auth_token, url, params)),
                idempotency_token: random_hex(),
            },
            // GET carries the parameters in the query, and the signature covers only the URL.
            Method::Get => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let full = format!("{url}{sep}{}", encode(params));
                Request {
                    method,
                    signature: Some(signature::sign(&self.auth_token, &full, &[])),
                    url: full,
                    body: String::new(),
                    idempotency_token: random_hex(),
                }
            }
        }
    }

    async fn send(&self, req: &Request) -> Result<(u16, String, String), SimError> {
        let target = match &self.transport_base {
            Some(local) if req.url.starts_with(&self.base_url) => {
                format!("{local}{}", &req.url[self.base_url.len()..])
            }
            _ => req.url.clone(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("*/*"));
        if let Some(sig) = &req.signature
            && let Ok(v) = HeaderValue::from_str(sig)
        {
            headers.insert("x-twilio-signature", v);
        }
        if let Ok(v) = HeaderValue::from_str(&req.idempotency_token) {
            headers.insert("i-twilio-idempotency-token", v);
        }
        let builder = match req.method {
            Method::Post => {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
                );
                self.http.post(&target).body(req.body.clone())
            }
            Method::Get => self.http.get(&target),
        };
        let transport = |source| SimError::Transport {
            url: target.clone(),
            source,
        };
        let resp = builder.headers(headers).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.text().await.map_err(transport)?;
        Ok((status, content_type, body))
    }

    /// Sends a webhook that must be answered with valid TwiML; returns the raw document.
    async fn send_for_twiml(&self, req: &Request) -> Result<String, SimError> {
        let (status, content_type, body) = self.send(req).await?;
        if status != 200 {
            return Err(SimError::Http { status, body });
        }
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if mime != "text/xml" && mime != "application/xml" {
            return Err(SimError::InvalidTwiml {
                url: req.url.clone(),
                reason: format!(
                    "Content-Type is {content_type:?}, not text/xml or application/xml"
                ),
                body,
            });
        }
        if let Err(reason) = validate::validate(&body) {
            return Err(SimError::InvalidTwiml {
                url: req.url.clone(),
                reason,
                body,
            });
        }
        Ok(body)
    }
}

/// A request the document makes without caller input: a redirect or a dial action.
type Hop = (Method, String, Vec<(&'static str, String)>);

/// A `<Gather>` waiting for the caller.
#[derive(Debug, Clone)]
struct PendingGather {
    action: String,
    method: Method,
    dtmf: bool,
    speech: bool,
    num_digits: Option<usize>,
    finish_on_key: Option<char>,
    action_on_empty: bool,
    /// The verbs after the gather, where Twilio goes when nothing is entered.
    rest: Vec<Element>,
    doc_url: String,
    doc_method: Method,
}

/// A `<Record>` waiting for the caller to speak.
#[derive(Debug, Clone)]
struct PendingRecord {
    action: String,
    method: Method,
    max_secs: u64,
    transcribe_callback: Option<String>,
    rest: Vec<Element>,
    doc_url: String,
    doc_method: Method,
}

/// The queue a caller waits in, after `<Enqueue>`.
#[derive(Debug, Clone)]
struct QueueWait {
    name: String,
    /// `None`: Twilio's own hold music, nothing to request.
    wait: Option<(String, Method)>,
    /// Where Twilio goes when the caller leaves the queue; without one, on with `rest`.
    action: Option<(String, Method)>,
    rest: Vec<Element>,
    doc_url: String,
    doc_method: Method,
    entered: Instant,
}

/// Twilio's parameters of a wait request.
fn wait_params(position: u32, avg_secs: u32, waited_secs: u32) -> Vec<(&'static str, String)> {
    vec![
        ("QueueSid", "QU0123456789abcdef0123456789abcdef".to_string()),
        ("QueuePosition", position.to_string()),
        ("QueueTime", waited_secs.to_string()),
        ("AvgQueueTime", avg_secs.to_string()),
        ("CurrentQueueSize", position.to_string()),
        ("MaxQueueSize", "100".to_string()),
    ]
}

/// One simulated call.
#[derive(Debug)]
pub struct Call {
    sim: Simulator,
    sid: String,
    from: String,
    to: String,
    started: Instant,
    gather: Option<PendingGather>,
    record: Option<PendingRecord>,
    /// Sid of the last recording made, and where its transcript goes.
    last_recording: Option<(String, Option<String>)>,
    last: Option<Request>,
    heard: Vec<String>,
    transcript: Vec<String>,
    ended: bool,
    transferred_to: Option<String>,
    queue: Option<QueueWait>,
    /// What the person answering the last `<Dial><Number url>` heard before the bridge.
    agent_heard: Vec<String>,
    /// What the caller taken by the last `<Dial><Queue url>` heard before the bridge.
    dequeued_heard: Vec<String>,
    dial_caller_id: Option<String>,
    played: Vec<String>,
    status_sent: bool,
    /// `inbound`, or `outbound-api` for calls placed through the REST API.
    direction: &'static str,
    /// Send the end to `/twilio/status` (inbound calls); outbound calls only keep it.
    report_end: bool,
    end_status: Option<String>,
    sequence: u32,
}

impl Call {
    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub fn from(&self) -> &str {
        &self.from
    }

    pub fn to(&self) -> &str {
        &self.to
    }

    /// The `<Say>` texts since the last input.
    pub fn heard(&self) -> &[String] {
        &self.heard
    }

    /// Every `<Say>` text of the call.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// A `<Gather>` is waiting for keys or speech.
    pub fn is_waiting(&self) -> bool {
        !self.ended && self.gather.is_some()
    }

    /// The pending gather accepts speech.
    pub fn accepts_speech(&self) -> bool {
        self.is_waiting() && self.gather.as_ref().is_some_and(|g| g.speech)
    }

    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// How the call ended (`completed`, `busy`, `no-answer`), once it has; `None` while it
    /// goes on and when it broke off on an error (a bad answer, a redirect loop).
    pub fn end_status(&self) -> Option<&str> {
        self.end_status.as_deref()
    }

    /// The target of the last `<Dial>`, if the call was transferred (a queue's name for
    /// `<Dial><Queue>`).
    pub fn transferred_to(&self) -> Option<&str> {
        self.transferred_to.as_deref()
    }

    /// The queue the caller waits in, if they do.
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_ref().map(|q| q.name.as_str())
    }

    /// What the person answering the last `<Dial><Number url>` (or `<Sip url>`) heard.
    pub fn agent_heard(&self) -> &[String] {
        &self.agent_heard
    }

    /// What the caller dequeued by the last `<Dial><Queue url>` heard before the bridge.
    pub fn dequeued_heard(&self) -> &[String] {
        &self.dequeued_heard
    }

    /// The `callerId` of the last `<Dial>`, if it had one.
    pub fn dial_caller_id(&self) -> Option<&str> {
        self.dial_caller_id.as_deref()
    }

    /// Every `<Play>` URL of the call, in order.
    pub fn played(&self) -> &[String] {
        &self.played
    }

    /// Twilio requests the wait URL again, with the caller at `position`, callers of the queue
    /// having waited `avg_secs` on average and this one `waited_secs`; the document is played
    /// like any other (its gather waits for keys).
    pub async fn wait_in_queue(
        &mut self,
        position: u32,
        avg_secs: u32,
        waited_secs: u32,
    ) -> Result<(), SimError> {
        if self.ended {
            return Err(SimError::Ended);
        }
        let q = self.queue.as_ref().ok_or(SimError::NotWaiting)?;
        let Some((url, method)) = q.wait.clone() else {
            return Ok(());
        };
        self.gather = None;
        self.heard.clear();
        let extra = wait_params(position, avg_secs, waited_secs);
        let verbs = self.fetch(method, &url, "in-progress", extra).await?;
        self.run(verbs, method, url).await
    }

    /// The caller's wait ends with `result` (`bridged` once an agent's call with them is over,
    /// `hangup`, `queue-full`, `error`…): Twilio requests the Enqueue action, and the call goes
    /// on with its answer (or ends, after `hangup`).
    pub async fn leave_queue(&mut self, result: &str) -> Result<(), SimError> {
        if self.ended {
            return Err(SimError::Ended);
        }
        let q = self.queue.take().ok_or(SimError::NotWaiting)?;
        self.gather = None;
        self.heard.clear();
        if result == "hangup" {
            self.queue = Some(q);
            return self.finish("completed").await;
        }
        match q.action.clone() {
            Some((url, method)) => {
                let verbs = self
                    .fetch(method, &url, "in-progress", queue_result(&q, result))
                    .await?;
                self.run(verbs, method, url).await
            }
            None => self.run(q.rest, q.doc_method, q.doc_url).await,
        }
    }

    /// Presses keys. With `finishOnKey` the keys up to it are submitted (without it); with
    /// `numDigits` the entry is submitted as soon as that many keys are in; later keys are
    /// ignored. Keys that reach neither are submitted when the gather times out.
    pub async fn press(&mut self, digits: &str) -> Result<(), SimError> {
        let g = self.pending()?;
        if !g.dtmf {
            return Err(SimError::InputNotAccepted("keys"));
        }
        if let Some(bad) = digits
            .chars()
            .find(|c| !(c.is_ascii_digit() || *c == '*' || *c == '#'))
        {
            return Err(SimError::InvalidKey(bad));
        }
        if digits.is_empty() {
            return Err(SimError::EmptyInput);
        }
        let mut entered = String::new();
        let mut finished = String::new();
        for c in digits.chars() {
            if Some(c) == g.finish_on_key {
                finished.push(c);
                break;
            }
            entered.push(c);
            if g.num_digits == Some(entered.chars().count()) {
                break;
            }
        }
        let Some(g) = self.gather.take() else {
            return Err(SimError::NotWaiting);
        };
        self.heard.clear();
        if entered.is_empty() && !g.action_on_empty {
            return self.run(g.rest, g.doc_method, g.doc_url).await;
        }
        self.submit(g, vec![("Digits", entered), ("FinishedOnKey", finished)])
            .await
    }

    /// Speaks to a gather that accepts speech; the recogniser heard `speech` with `confidence`.
    pub async fn say(&mut self, speech: &str, confidence: f32) -> Result<(), SimError> {
        let g = self.pending()?;
        if !g.speech {
            return Err(SimError::InputNotAccepted("speech"));
        }
        if speech.trim().is_empty() {
            return Err(SimError::EmptyInput);
        }
        let Some(g) = self.gather.take() else {
            return Err(SimError::NotWaiting);
        };
        self.heard.clear();
        let confidence = confidence.clamp(0.0, 1.0);
        self.submit(
            g,
            vec![
                ("SpeechResult", speech.to_string()),
                ("Confidence", confidence.to_string()),
            ],
        )
        .await
    }

    /// Says and presses nothing: the gather times out and Twilio moves on to the next verb.
    pub async fn silence(&mut self) -> Result<(), SimError> {
        self.pending()?;
        let Some(g) = self.gather.take() else {
            return Err(SimError::NotWaiting);
        };
        self.heard.clear();
        if g.action_on_empty {
            return self
                .submit(
                    g,
                    vec![("Digits", String::new()), ("FinishedOnKey", String::new())],
                )
                .await;
        }
        self.run(g.rest, g.doc_method, g.doc_url).await
    }

    /// Re-sends the last webhook byte for byte, as a Twilio retry would, and returns the raw
    /// TwiML (checked like every answer) without advancing the call.
    pub async fn replay_last(&mut self) -> Result<String, SimError> {
        let req = self.last.clone().ok_or(SimError::NothingToReplay)?;
        self.sim.send_for_twiml(&req).await
    }

    /// A `<Record>` is waiting for the caller's message.
    pub fn is_recording(&self) -> bool {
        !self.ended && self.record.is_some()
    }

    /// Leaves a message of `secs` seconds at a pending `<Record>`, ended with `#`; Twilio cuts
    /// it at `maxLength`. Zero seconds is silence: nothing is recorded and Twilio goes on to
    /// the next verb without calling the action.
    pub async fn record(&mut self, secs: u64) -> Result<(), SimError> {
        if self.ended {
            return Err(SimError::Ended);
        }
        let r = self.record.take().ok_or(SimError::NotWaiting)?;
        self.heard.clear();
        if secs == 0 {
            return self.run(r.rest, r.doc_method, r.doc_url).await;
        }
        let sid = random_sid("RE");
        let url = format!(
            "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{sid}",
            self.sim.account_sid
        );
        self.last_recording = Some((sid.clone(), r.transcribe_callback.clone()));
        let extra = vec![
            ("RecordingUrl", url),
            ("RecordingSid", sid),
            ("RecordingDuration", secs.min(r.max_secs).to_string()),
            (
                "Digits",
                if secs >= r.max_secs { "hangup" } else { "#" }.to_string(),
            ),
        ];
        let verbs = self
            .fetch(r.method, &r.action, "in-progress", extra)
            .await?;
        self.run(verbs, r.method, r.action).await
    }

    /// Delivers the transcript of the last recording to its `transcribeCallback`, as Twilio
    /// does some time after the call; returns the HTTP status of the answer.
    pub async fn transcribe(&self, text: &str) -> Result<u16, SimError> {
        let Some((sid, Some(callback))) = self.last_recording.clone() else {
            return Err(SimError::NothingToReplay);
        };
        let params: Vec<(String, String)> = [
            ("AccountSid", self.sim.account_sid.as_str()),
            ("CallSid", &self.sid),
            ("RecordingSid", &sid),
            ("TranscriptionSid", &random_sid("TR")),
            ("TranscriptionStatus", "completed"),
            ("TranscriptionText", text),
            ("TranscriptionType", "fast"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let req = self.sim.request(Method::Post, &callback, &params);
        let (status, _, _) = self.sim.send(&req).await?;
        Ok(status)
    }

    /// The caller hangs up: sends the `completed` status callback unless the call's end was
    /// already reported.
    pub async fn hang_up(&mut self) -> Result<(), SimError> {
        self.finish("completed").await
    }

    fn pending(&self) -> Result<&PendingGather, SimError> {
        if self.ended {
            return Err(SimError::Ended);
        }
        self.gather.as_ref().ok_or(SimError::NotWaiting)
    }

    /// The parameters of every voice request, in Twilio's shape.
    fn params(&self, status: &str) -> Vec<(String, String)> {
        voice_params(
            &self.sim.account_sid,
            &self.sid,
            &self.from,
            &self.to,
            status,
            self.direction,
        )
    }

    /// Sends a voice webhook and returns the verbs of the (valid) answer.
    async fn fetch(
        &mut self,
        method: Method,
        url: &str,
        status: &str,
        extra: Vec<(&str, String)>,
    ) -> Result<Vec<Element>, SimError> {
        let mut params = self.params(status);
        params.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let req = self.sim.request(method, url, &params);
        self.last = Some(req.clone());
        let result = self.sim.send_for_twiml(&req).await.and_then(|body| {
            validate::parse_valid(&body).map_err(|reason| SimError::InvalidTwiml {
                url: req.url.clone(),
                reason,
                body,
            })
        });
        match result {
            Ok(root) => Ok(root.elements().cloned().collect()),
            Err(e) => {
                // Twilio apologises and hangs up when a webhook fails.
                self.ended = true;
                self.gather = None;
                Err(e)
            }
        }
    }

    async fn submit(
        &mut self,
        g: PendingGather,
        extra: Vec<(&str, String)>,
    ) -> Result<(), SimError> {
        let verbs = self
            .fetch(g.method, &g.action, "in-progress", extra)
            .await?;
        self.run(verbs, g.method, g.action).await
    }

    /// Plays a document's verbs until one waits for input or the call ends, following
    /// redirects and dial actions.
    async fn run(
        &mut self,
        mut verbs: Vec<Element>,
        mut doc_method: Method,
        mut doc_url: String,
    ) -> Result<(), SimError> {
        let mut hops = 0;
        'document: loop {
            let mut hop: Option<Hop> = None;
            let mut iter = verbs.into_iter();
            while let Some(verb) = iter.next() {
                match verb.name.as_str() {
                    "Say" => self.hear(verb.text()),
                    "Play" => self.played.push(verb.text().trim().to_string()),
                    "Pause" => {}
                    // Outside a queue Twilio ignores it.
                    "Leave" => {
                        if let Some(q) = self.queue.take() {
                            match q.action.clone() {
                                Some((url, method)) => {
                                    hop = Some((method, url, queue_result(&q, "leave")));
                                    break;
                                }
                                None => {
                                    verbs = q.rest;
                                    doc_method = q.doc_method;
                                    doc_url = q.doc_url;
                                    continue 'document;
                                }
                            }
                        }
                    }
                    "Enqueue" => {
                        let target = |attr: &str, method: &str| {
                            verb.attr(attr).map(|u| {
                                (
                                    u.to_string(),
                                    Method::named(verb.attr(method).unwrap_or("POST")),
                                )
                            })
                        };
                        let q = QueueWait {
                            name: verb.text().trim().to_string(),
                            wait: target("waitUrl", "waitUrlMethod"),
                            action: target("action", "method"),
                            rest: iter.collect(),
                            doc_url: doc_url.clone(),
                            doc_method,
                            entered: Instant::now(),
                        };
                        let wait = q.wait.clone();
                        self.queue = Some(q);
                        match wait {
                            Some((url, method)) => {
                                hop = Some((method, url, wait_params(1, 0, 0)));
                                break;
                            }
                            // Twilio's own hold music: the caller holds.
                            None => return Ok(()),
                        }
                    }
                    "Gather" => {
                        for prompt in verb.elements() {
                            match prompt.name.as_str() {
                                "Say" => self.hear(prompt.text()),
                                "Play" => self.played.push(prompt.text().trim().to_string()),
                                _ => {}
                            }
                        }
                        self.gather = Some(gather_of(&verb, iter.collect(), doc_method, doc_url));
                        return Ok(());
                    }
                    "Record" => {
                        let (action, method) = match verb.attr("action") {
                            Some(a) => (a.to_string(), Method::of(&verb)),
                            None => (doc_url.clone(), doc_method),
                        };
                        self.record = Some(PendingRecord {
                            action,
                            method,
                            max_secs: verb
                                .attr("maxLength")
                                .and_then(|m| m.parse().ok())
                                .unwrap_or(3600),
                            transcribe_callback: (verb.attr("transcribe") == Some("true"))
                                .then(|| verb.attr("transcribeCallback").map(str::to_string))
                                .flatten(),
                            rest: iter.collect(),
                            doc_url,
                            doc_method,
                        });
                        return Ok(());
                    }
                    "Redirect" => {
                        hop = Some((
                            Method::of(&verb),
                            verb.text().trim().to_string(),
                            Vec::new(),
                        ));
                        break;
                    }
                    "Dial" => {
                        let noun = verb.elements().next().cloned();
                        let target = noun.as_ref().map_or_else(|| verb.text(), Element::text);
                        let target = target.trim().to_string();
                        self.transferred_to = Some(target.clone());
                        self.dial_caller_id = verb.attr("callerId").map(str::to_string);
                        let mut answered = false;
                        if let Some(noun) = &noun {
                            match noun.name.as_str() {
                                "Number" | "Sip" => {
                                    if let Some(url) = noun.attr("url") {
                                        self.agent_heard =
                                            self.answer_leg(url, Method::of(noun), &target).await?;
                                        answered = true;
                                    }
                                }
                                "Queue" => {
                                    if let Some(url) = noun.attr("url") {
                                        self.dequeued_heard =
                                            self.dequeued_leg(url, Method::of(noun)).await?;
                                    }
                                    answered = true;
                                }
                                other => {
                                    self.ended = true;
                                    return Err(SimError::Unsupported(other.to_string()));
                                }
                            }
                        }
                        if let Some(action) = verb.attr("action") {
                            let status = if answered { "completed" } else { "no-answer" };
                            let extra = vec![
                                ("DialCallStatus", status.to_string()),
                                ("DialCallSid", random_sid("CA")),
                                ("DialCallDuration", "0".to_string()),
                                ("DialBridged", answered.to_string()),
                            ];
                            hop = Some((Method::of(&verb), action.to_string(), extra));
                            break;
                        }
                    }
                    "Hangup" => return self.finish("completed").await,
                    "Reject" => {
                        let status = if verb.attr("reason") == Some("busy") {
                            "busy"
                        } else {
                            "no-answer"
                        };
                        return self.finish(status).await;
                    }
                    other => {
                        self.ended = true;
                        return Err(SimError::Unsupported(other.to_string()));
                    }
                }
            }
            // Twilio hangs up when a document runs out of verbs; a wait document that ends
            // leaves the caller holding (Twilio would request it again; the test says when).
            let Some((method, url, extra)) = hop else {
                if self.queue.is_some() {
                    return Ok(());
                }
                return self.finish("completed").await;
            };
            hops += 1;
            if hops > MAX_HOPS {
                self.ended = true;
                return Err(SimError::RedirectLoop(MAX_HOPS));
            }
            verbs = self.fetch(method, &url, "in-progress", extra).await?;
            doc_method = method;
            doc_url = url;
        }
    }

    /// The answering person's leg of a `<Dial><Number url>`: requests the whisper URL with that
    /// leg's parameters and returns what it says (the leg's document must be valid too).
    async fn answer_leg(
        &mut self,
        url: &str,
        method: Method,
        to: &str,
    ) -> Result<Vec<String>, SimError> {
        let params = voice_params(
            &self.sim.account_sid,
            &random_sid("CA"),
            &self.from,
            to,
            "in-progress",
            "outbound-dial",
        );
        self.side_document(method, url, &params).await
    }

    /// The dequeued caller's leg of a `<Dial><Queue url>`.
    async fn dequeued_leg(&mut self, url: &str, method: Method) -> Result<Vec<String>, SimError> {
        let mut params = voice_params(
            &self.sim.account_sid,
            &random_sid("CA"),
            "",
            &self.to,
            "in-progress",
            INBOUND,
        );
        params.extend([
            (
                "QueueSid".to_string(),
                "QU0123456789abcdef0123456789abcdef".to_string(),
            ),
            ("QueueTime".to_string(), "30".to_string()),
            ("DequeingCallSid".to_string(), self.sid.clone()),
        ]);
        self.side_document(method, url, &params).await
    }

    /// Requests a document for another leg of the call; returns its spoken texts.
    async fn side_document(
        &mut self,
        method: Method,
        url: &str,
        params: &[(String, String)],
    ) -> Result<Vec<String>, SimError> {
        let req = self.sim.request(method, url, params);
        let body = match self.sim.send_for_twiml(&req).await {
            Ok(b) => b,
            Err(e) => {
                self.ended = true;
                self.gather = None;
                return Err(e);
            }
        };
        let root = validate::parse_valid(&body).map_err(|reason| SimError::InvalidTwiml {
            url: req.url.clone(),
            reason,
            body: body.clone(),
        })?;
        let mut said = Vec::new();
        for verb in root.elements() {
            match verb.name.as_str() {
                "Say" => said.push(verb.text().trim().to_string()),
                "Gather" => said.extend(
                    verb.elements()
                        .filter(|p| p.name == "Say")
                        .map(|p| p.text().trim().to_string()),
                ),
                _ => {}
            }
        }
        Ok(said)
    }

    fn hear(&mut self, text: String) {
        let text = text.trim();
        if !text.is_empty() {
            self.heard.push(text.to_string());
            self.transcript.push(text.to_string());
        }
    }

    /// Ends the call and reports it once, with the fields of a call-progress event. A caller
    /// hanging up in a queue leaves it first: the Enqueue action hears `hangup` (its answer is
    /// ignored, as Twilio does).
    async fn finish(&mut self, status: &str) -> Result<(), SimError> {
        self.ended = true;
        self.gather = None;
        self.record = None;
        if let Some(q) = self.queue.take()
            && let Some((url, method)) = q.action.clone()
        {
            let mut params = self.params("completed");
            params.extend(
                queue_result(&q, "hangup")
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
            let req = self.sim.request(method, &url, &params);
            self.sim.send(&req).await?;
        }
        if self.status_sent {
            return Ok(());
        }
        self.status_sent = true;
        self.end_status = Some(status.to_string());
        if !self.report_end {
            return Ok(());
        }
        let answered = status == "completed";
        let secs = if answered {
            self.started.elapsed().as_secs()
        } else {
            0
        };
        // Billed minutes are rounded up; an answered call bills at least one.
        let minutes = if answered {
            secs.div_ceil(60).max(1)
        } else {
            0
        };
        let mut params = self.params(status);
        params.extend([
            (
                "CallbackSource".to_string(),
                "call-progress-events".to_string(),
            ),
            ("SequenceNumber".to_string(), self.sequence.to_string()),
            ("Timestamp".to_string(), rfc2822_now()),
            ("CallDuration".to_string(), secs.to_string()),
            ("Duration".to_string(), minutes.to_string()),
        ]);
        self.sequence += 1;
        let req = self
            .sim
            .request(Method::Post, &self.sim.url(STATUS_PATH), &params);
        // Twilio ignores the body of a status callback, but not a failing status.
        let (status, _, body) = self.sim.send(&req).await?;
        if !(200..300).contains(&status) {
            return Err(SimError::Http { status, body });
        }
        Ok(())
    }
}

/// The parameters of the Enqueue action when the caller leaves the queue.
fn queue_result(q: &QueueWait, result: &str) -> Vec<(&'static str, String)> {
    vec![
        ("QueueResult", result.to_string()),
        ("QueueSid", "QU0123456789abcdef0123456789abcdef".to_string()),
        ("QueueTime", q.entered.elapsed().as_secs().to_string()),
    ]
}

fn gather_of(
    g: &Element,
    rest: Vec<Element>,
    doc_method: Method,
    doc_url: String,
) -> PendingGather {
    let input = g.attr("input").unwrap_or("dtmf");
    // Without an action Twilio requests the current document again.
    let (action, method) = match g.attr("action") {
        Some(a) => (a.to_string(), Method::of(g)),
        None => (doc_url.clone(), doc_method),
    };
    PendingGather {
        action,
        method,
        dtmf: input.split_whitespace().any(|i| i == "dtmf"),
        speech: input.split_whitespace().any(|i| i == "speech"),
        num_digits: g.attr("numDigits").and_then(|n| n.parse().ok()),
        // Twilio's default finishing key is '#'; an empty attribute disables it.
        finish_on_key: match g.attr("finishOnKey") {
            None => Some('#'),
            Some(k) => k.chars().next(),
        },
        action_on_empty: g.attr("actionOnEmptyResult") == Some("true"),
        rest,
        doc_url,
        doc_method,
    }
}

/// The parameters of every voice request, in Twilio's shape.
fn voice_params(
    account_sid: &str,
    sid: &str,
    from: &str,
    to: &str,
    status: &str,
    direction: &str,
) -> Vec<(String, String)> {
    let from_country = country_of(from);
    let to_country = country_of(to);
    let pairs: [(&str, &str); 25] = [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Called", to),
        ("CalledCity", ""),
        ("CalledCountry", to_country),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", from),
        ("CallerCity", ""),
        ("CallerCountry", from_country),
        ("CallerState", ""),
        ("CallerZip", ""),
        ("Direction", direction),
        ("From", from),
        ("FromCity", ""),
        ("FromCountry", from_country),
        ("FromState", ""),
        ("FromZip", ""),
        ("To", to),
        ("ToCity", ""),
        ("ToCountry", to_country),
        ("ToState", ""),
        ("ToZip", ""),
    ];
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Now, as Twilio writes times in webhooks and resources (RFC 2822, UTC).
fn rfc2822_now() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Compares without stopping at the first difference.
#[cfg(feature = "testing")]
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub(crate) fn random_sid(prefix: &str) -> String {
    format!("{prefix}{}", random_hex())
}

/// Twilio's geo lookup, for the prefixes the tests use; unknown is empty, as at Twilio.
fn country_of(number: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 8] = [
        ("+852", "HK"),
        ("+853", "MO"),
        ("+886", "TW"),
        ("+86", "CN"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+81", "JP"),
        ("+1", "US"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| number.starts_with(p))
        .map_or("", |(_, c)| c)
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri, header};
    use axum::response::{IntoResponse, Response};

    use super::*;

    const TOKEN: &str = "test-token";
    const ACCOUNT: &str = "AC00000000000000000000000000000000";
    const XML: &str = "text/xml; charset=utf-8";

    /// A request as the canned service saw it.
    #[derive(Debug, Clone)]
    struct Hit {
        method: String,
        path: String,
        query: String,
        params: Vec<(String, String)>,
        body: String,
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

    type Script = dyn Fn(&Hit, &str) -> (u16, &'static str, String) + Send + Sync;

    struct Server {
        base: String,
        hits: Arc<Mutex<Vec<Hit>>>,
    }

    impl Server {
        fn hits(&self) -> Vec<Hit> {
            self.hits.lock().unwrap().clone()
        }
        fn sim(&self) -> Simulator {
            Simulator::new(&self.base, TOKEN, ACCOUNT)
        }
    }

    /// A service answering with `script(hit, base_url)`; signatures are checked against
    /// `public` (the URL the simulator signs over) or the local address.
    async fn serve(
        public: Option<&str>,
        script: impl Fn(&Hit, &str) -> (u16, &'static str, String) + Send + Sync + 'static,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let public = public.map_or_else(|| base.clone(), str::to_string);
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let (log, public_for_handler) = (hits.clone(), public.clone());
        let handler = move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (log, script, public) = (log.clone(), script.clone(), public_for_handler.clone());
            async move {
                let body = String::from_utf8(body.to_vec()).unwrap();
                let query = uri.query().unwrap_or_default().to_string();
                let params: Vec<(String, String)> = if method == HttpMethod::POST {
                    form_urlencoded::parse(body.as_bytes())
                        .into_owned()
                        .collect()
                } else {
                    Vec::new()
                };
                let signature = headers
                    .get("x-twilio-signature")
                    .map(|v| v.to_str().unwrap().to_string());
                let url = format!("{public}{}", uri.path_and_query().unwrap());
                let signature_ok = signature
                    .as_deref()
                    .is_some_and(|s| signature::verify(TOKEN, &url, &params, s));
                let hit = Hit {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    query,
                    params,
                    body,
                    signature,
                    signature_ok,
                    token: headers
                        .get("i-twilio-idempotency-token")
                        .map(|v| v.to_str().unwrap().to_string()),
                };
                log.lock().unwrap().push(hit.clone());
                let (status, content_type, body) = script(&hit, &public);
                let mut resp: Response = body.into_response();
                *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                if !content_type.is_empty() {
                    resp.headers_mut()
                        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
                } else {
                    resp.headers_mut().remove(header::CONTENT_TYPE);
                }
                resp
            }
        };
        let app = Router::new().fallback(handler);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, hits }
    }

    fn twiml(body: &str) -> (u16, &'static str, String) {
        (
            200,
            XML,
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#),
        )
    }

    fn menu(base: &str, intro: &str, gather_attrs: &str) -> (u16, &'static str, String) {
        twiml(&format!(
            r#"<Say>{intro}</Say><Gather input="dtmf" action="{base}/twilio/step?node=menu&amp;lang=zh" method="POST" timeout="5" {gather_attrs}><Say>press 1</Say></Gather><Redirect method="POST">{base}/twilio/step?node=menu&amp;lang=zh&amp;timeout=1</Redirect>"#
        ))
    }

    /// The hotline in miniature: a one-key menu that reprompts on silence.
    fn menu_script(
        gather_attrs: &'static str,
    ) -> impl Fn(&Hit, &str) -> (u16, &'static str, String) {
        move |hit, base| match hit.path.as_str() {
            "/twilio/voice" => menu(base, "welcome", gather_attrs),
            "/twilio/step" if hit.query.contains("timeout=1") => {
                menu(base, "no input", gather_attrs)
            }
            "/twilio/step" => twiml(&format!(
                "<Say>you pressed {}</Say><Hangup/>",
                hit.param("Digits").unwrap_or("?")
            )),
            "/twilio/status" => (204, "", String::new()),
            _ => (404, "text/plain", "not found".into()),
        }
    }

    #[tokio::test]
    async fn a_call_is_signed_and_shaped_like_twilio() {
        let server = serve(None, menu_script(r#"numDigits="1" finishOnKey="""#)).await;
        let call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert!(call.sid().starts_with("CA") && call.sid().len() == 34);
        assert_eq!(call.heard(), ["welcome", "press 1"]);
        assert!(call.is_waiting() && !call.has_ended() && !call.accepts_speech());
        let hits = server.hits();
        assert_eq!(hits.len(), 1);
        let h = &hits[0];
        assert_eq!(
            (h.method.as_str(), h.path.as_str()),
            ("POST", "/twilio/voice")
        );
        assert!(
            h.signature_ok,
            "signature {:?} does not verify",
            h.signature
        );
        assert!(h.token.as_deref().is_some_and(|t| t.len() == 32));
        for (k, v) in [
            ("CallSid", call.sid()),
            ("AccountSid", ACCOUNT),
            ("From", "+8613812345678"),
            ("Caller", "+8613812345678"),
            ("To", "+8610086"),
            ("Called", "+8610086"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("ApiVersion", "2010-04-01"),
            ("FromCountry", "CN"),
            ("ToCountry", "CN"),
        ] {
            assert_eq!(h.param(k), Some(v), "{k}");
        }
    }

    #[tokio::test]
    async fn num_digits_submits_at_once_and_ignores_extra_keys() {
        let server = serve(None, menu_script(r#"numDigits="1" finishOnKey="""#)).await;
        let mut call = server
            .sim()
            .start_call_with_sid("CA0123", "+8613812345678", "+8610086")
            .await
            .unwrap();
        assert_eq!(call.sid(), "CA0123");
        call.press("19").await.unwrap();
        assert_eq!(call.heard(), ["you pressed 1"]);
        assert_eq!(call.transcript(), ["welcome", "press 1", "you pressed 1"]);
        assert!(call.has_ended() && !call.is_waiting());
        let hits = server.hits();
        assert_eq!(hits.len(), 3, "{hits:#?}");
        let step = &hits[1];
        assert_eq!(
            (step.path.as_str(), step.query.as_str()),
            ("/twilio/step", "node=menu&lang=zh")
        );
        assert_eq!(step.param("Digits"), Some("1"));
        assert_eq!(step.param("FinishedOnKey"), Some(""));
        assert_eq!(step.param("CallStatus"), Some("in-progress"));
        assert!(step.signature_ok);
        // The Hangup is reported once with Twilio's call-progress fields.
        let status = &hits[2];
        assert_eq!(status.path, "/twilio/status");
        assert!(status.signature_ok);
        assert_eq!(status.param("CallStatus"), Some("completed"));
        assert_eq!(status.param("CallbackSource"), Some("call-progress-events"));
        assert_eq!(status.param("SequenceNumber"), Some("0"));
        assert_eq!(status.param("CallDuration"), Some("0"));
        assert_eq!(status.param("Duration"), Some("1"));
        assert!(
            status
                .param("Timestamp")
                .is_some_and(|t| t.ends_with("+0000"))
        );
        call.hang_up().await.unwrap();
        assert_eq!(server.hits().len(), 3, "the end was reported twice");
        assert!(matches!(call.press("1").await, Err(SimError::Ended)));
    }

    #[tokio::test]
    async fn finish_on_key_is_stripped_and_reported() {
        let server = serve(None, menu_script("")).await;
        let mut call = server
            .sim()
            .start_call("+14155550100", "+18005550100")
            .await
            .unwrap();
        call.press("1234#99").await.unwrap();
        let hits = server.hits();
        assert_eq!(hits[1].param("Digits"), Some("1234"));
        assert_eq!(hits[1].param("FinishedOnKey"), Some("#"));
        assert_eq!(hits[0].param("FromCountry"), Some("US"));

        // Keys that reach neither limit are submitted on timeout.
        let mut call = server
            .sim()
            .start_call("+14155550100", "+18005550100")
            .await
            .unwrap();
        call.press("12").await.unwrap();
        let last = server
            .hits()
            .into_iter()
            .rev()
            .find(|h| h.path == "/twilio/step")
            .unwrap();
        assert_eq!(last.param("Digits"), Some("12"));
        assert_eq!(last.param("FinishedOnKey"), Some(""));

        // The finishing key alone is an empty entry: like silence.
        let mut call = server
            .sim()
            .start_call("+14155550100", "+18005550100")
            .await
            .unwrap();
        call.press("#").await.unwrap();
        assert_eq!(call.heard(), ["no input", "press 1"]);
    }

    #[tokio::test]
    async fn silence_follows_the_redirect_after_the_gather() {
        let server = serve(None, menu_script(r#"numDigits="1" finishOnKey="""#)).await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.silence().await.unwrap();
        assert_eq!(call.heard(), ["no input", "press 1"]);
        assert!(call.is_waiting());
        let hits = server.hits();
        let redirect = &hits[1];
        assert_eq!(redirect.query, "node=menu&lang=zh&timeout=1");
        assert_eq!(redirect.param("Digits"), None);
        assert!(redirect.signature_ok);
        call.press("2").await.unwrap();
        assert_eq!(call.heard(), ["you pressed 2"]);
    }

    #[tokio::test]
    async fn silence_without_a_following_verb_ends_the_call() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Gather action="{base}/twilio/step"><Say>hi</Say></Gather>"#
            )),
            _ => (204, "", String::new()),
        })
        .await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.silence().await.unwrap();
        assert!(call.has_ended());
        assert_eq!(server.hits().last().unwrap().path, "/twilio/status");
        assert!(matches!(call.silence().await, Err(SimError::Ended)));
    }

    #[tokio::test]
    async fn speech_is_sent_only_to_gathers_that_accept_it() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Gather input="dtmf speech" action="{base}/twilio/step" language="cmn-Hans-CN" speechTimeout="auto" finishOnKey=""><Say>请说</Say></Gather>"#
            )),
            "/twilio/step" => twiml(&format!(
                r#"<Say>你说了{}</Say><Gather action="{base}/twilio/step2"><Say>按键</Say></Gather>"#,
                hit.param("SpeechResult").unwrap_or_default()
            )),
            _ => (204, "", String::new()),
        })
        .await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert!(call.accepts_speech());
        call.say("查询账单", 0.91).await.unwrap();
        assert_eq!(call.heard(), ["你说了查询账单", "按键"]);
        let hit = &server.hits()[1];
        assert_eq!(hit.param("SpeechResult"), Some("查询账单"));
        assert_eq!(hit.param("Confidence"), Some("0.91"));
        assert_eq!(hit.param("Digits"), None);
        assert!(hit.signature_ok);
        assert!(!call.accepts_speech());
        assert!(matches!(
            call.say("账单", 0.9).await,
            Err(SimError::InputNotAccepted("speech"))
        ));
        assert!(matches!(
            call.press("x").await,
            Err(SimError::InvalidKey('x'))
        ));
        assert!(matches!(call.press("").await, Err(SimError::EmptyInput)));
        assert!(call.is_waiting());
    }

    #[tokio::test]
    async fn dial_records_the_target_and_reports_no_answer() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Say>connecting</Say><Dial action="{base}/twilio/dial?from=menu" method="POST"><Sip>sip:agents@pbx.example.com</Sip></Dial><Say>unreachable</Say>"#
            )),
            "/twilio/dial" => twiml("<Say>no agent answered</Say><Hangup/>"),
            _ => (200, XML, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into()),
        })
        .await;
        let call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert_eq!(call.transferred_to(), Some("sip:agents@pbx.example.com"));
        assert_eq!(call.heard(), ["connecting", "no agent answered"]);
        assert!(call.has_ended());
        let hits = server.hits();
        let dial = &hits[1];
        assert_eq!(dial.query, "from=menu");
        assert_eq!(dial.param("DialCallStatus"), Some("no-answer"));
        assert!(
            dial.param("DialCallSid")
                .is_some_and(|s| s.starts_with("CA"))
        );
        assert!(dial.signature_ok);
    }

    #[tokio::test]
    async fn a_queued_caller_hears_the_wait_url_and_leaves_for_the_action() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Say>queued</Say><Enqueue action="{base}/done" method="POST" waitUrl="{base}/wait" waitUrlMethod="POST">agents</Enqueue><Say>never</Say>"#
            )),
            "/wait" if hit.param("Digits") == Some("1") => twiml("<Leave/>"),
            "/wait" => twiml(&format!(
                r#"<Gather action="{base}/wait?g=1" numDigits="1"><Say>you are number {}</Say><Play>https://music.example.com/a.mp3</Play></Gather>"#,
                hit.param("QueuePosition").unwrap_or("?")
            )),
            "/done" => twiml(&format!(
                "<Say>left with {}</Say><Hangup/>",
                hit.param("QueueResult").unwrap_or("?")
            )),
            _ => (200, XML, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into()),
        })
        .await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert_eq!(call.queue(), Some("agents"));
        assert_eq!(call.heard(), ["queued", "you are number 1"]);
        assert_eq!(call.played(), ["https://music.example.com/a.mp3"]);
        call.wait_in_queue(3, 120, 30).await.unwrap();
        assert_eq!(call.heard(), ["you are number 3"]);
        let wait = server
            .hits()
            .into_iter()
            .rfind(|h| h.path == "/wait")
            .unwrap();
        assert_eq!(wait.param("AvgQueueTime"), Some("120"));
        assert_eq!(wait.param("QueueTime"), Some("30"));
        assert!(wait.signature_ok);
        call.press("1").await.unwrap();
        assert_eq!(call.heard(), ["left with leave"]);
        assert!(call.has_ended());
        assert_eq!(call.queue(), None);

        // Hanging up in the queue tells the action, then the status callback.
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.hang_up().await.unwrap();
        let hits = server.hits();
        let done = hits.iter().rfind(|h| h.path == "/done").unwrap();
        assert_eq!(done.param("QueueResult"), Some("hangup"));
        assert_eq!(hits.last().unwrap().path, "/twilio/status");

        // The test may end the wait with any result.
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.leave_queue("error").await.unwrap();
        assert_eq!(call.heard(), ["left with error"]);
    }

    #[tokio::test]
    async fn dialing_with_a_whisper_or_a_queue_requests_the_other_leg() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Dial action="{base}/after" callerId="+8610000"><Number url="{base}/whisper">+8610010000</Number></Dial>"#
            )),
            "/whisper" => twiml(&format!(
                "<Say>caller {}</Say>",
                hit.param("From").unwrap_or("?")
            )),
            "/after" => twiml(&format!(
                r#"<Say>{}</Say><Dial><Queue url="{base}/bridge">agents</Queue></Dial>"#,
                hit.param("DialCallStatus").unwrap_or("?")
            )),
            "/bridge" => twiml("<Say>connecting</Say>"),
            _ => (200, XML, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into()),
        })
        .await;
        let call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert_eq!(call.agent_heard(), ["caller +8613812345678"]);
        assert_eq!(call.dial_caller_id(), None, "the last dial had none");
        assert_eq!(call.heard(), ["completed"]);
        assert_eq!(call.transferred_to(), Some("agents"));
        assert_eq!(call.dequeued_heard(), ["connecting"]);
        assert!(call.has_ended());
        let bridge = server
            .hits()
            .into_iter()
            .find(|h| h.path == "/bridge")
            .unwrap();
        assert_eq!(bridge.param("DequeingCallSid"), Some(call.sid()));
        assert!(bridge.signature_ok);
    }

    #[tokio::test]
    async fn redirect_loops_are_cut_off() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml(&format!(
                r#"<Redirect method="POST">{base}/twilio/voice?again=1</Redirect>"#
            )),
            _ => (204, "", String::new()),
        })
        .await;
        let err = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap_err();
        assert!(matches!(err, SimError::RedirectLoop(20)), "{err}");
        assert_eq!(server.hits().len(), 21);
        assert!(server.hits().iter().all(|h| h.signature_ok));
    }

    #[tokio::test]
    async fn get_redirects_carry_the_parameters_in_the_signed_query() {
        let server = serve(None, |hit: &Hit, base: &str| {
            match (hit.path.as_str(), hit.method.as_str()) {
                ("/twilio/voice", "POST") => twiml(&format!(
                    r#"<Redirect method="GET">{base}/twilio/voice?x=1</Redirect>"#
                )),
                ("/twilio/voice", "GET") => twiml("<Hangup/>"),
                _ => (204, "", String::new()),
            }
        })
        .await;
        let call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        assert!(call.has_ended());
        let get = &server.hits()[1];
        assert_eq!(get.method, "GET");
        assert!(get.query.starts_with("x=1&AccountSid="));
        assert!(get.body.is_empty());
        assert!(get.signature_ok);
    }

    #[tokio::test]
    async fn bad_answers_fail_the_call() {
        let bad = |body: &'static str, content_type: &'static str, status: u16| {
            move |hit: &Hit, _: &str| match hit.path.as_str() {
                "/twilio/voice" => (status, content_type, body.to_string()),
                _ => (204, "", String::new()),
            }
        };
        let valid = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#;

        let server = serve(None, bad(valid, "text/html", 200)).await;
        let err = server.sim().start_call("+1", "+2").await.unwrap_err();
        assert!(
            matches!(&err, SimError::InvalidTwiml { reason, .. } if reason.contains("Content-Type")),
            "{err}"
        );

        let server = serve(None, bad(valid, "", 200)).await;
        assert!(matches!(
            server.sim().start_call("+1", "+2").await,
            Err(SimError::InvalidTwiml { .. })
        ));

        let server = serve(None, bad("oops", "text/plain", 500)).await;
        let err = server.sim().start_call("+1", "+2").await.unwrap_err();
        assert!(
            matches!(&err, SimError::Http { status: 500, body } if body == "oops"),
            "{err}"
        );

        let server = serve(
            None,
            bad(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say></Say></Response>"#,
                XML,
                200,
            ),
        )
        .await;
        let err = server.sim().start_call("+1", "+2").await.unwrap_err();
        assert!(
            matches!(&err, SimError::InvalidTwiml { reason, .. } if reason.contains("Say")),
            "{err}"
        );

        let server = serve(None, bad("\n<Response/>", "application/xml", 200)).await;
        assert!(matches!(
            server.sim().start_call("+1", "+2").await,
            Err(SimError::InvalidTwiml { .. })
        ));

        // A 3xx is not followed: Twilio would drop the POST parameters.
        let server = serve(None, bad("", "text/plain", 302)).await;
        assert!(matches!(
            server.sim().start_call("+1", "+2").await,
            Err(SimError::Http { status: 302, .. })
        ));
    }

    #[tokio::test]
    async fn replay_resends_the_same_bytes_without_advancing() {
        let server = serve(None, menu_script(r#"numDigits="1" finishOnKey="""#)).await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.press("1").await.unwrap();
        let before = server.hits().len();
        let mut call2 = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call2.silence().await.unwrap();
        let twiml = call2.replay_last().await.unwrap();
        assert!(twiml.contains("no input"));
        assert_eq!(call2.heard(), ["no input", "press 1"]);
        assert!(call2.is_waiting());
        let hits = server.hits();
        let (original, replay) = (&hits[hits.len() - 2], &hits[hits.len() - 1]);
        assert_eq!(hits.len(), before + 3);
        assert_eq!(original.body, replay.body);
        assert_eq!(original.query, replay.query);
        assert_eq!(original.signature, replay.signature);
        assert_eq!(original.token, replay.token);
        assert!(replay.signature_ok);
        assert!(call.replay_last().await.is_ok());
    }

    #[tokio::test]
    async fn hanging_up_reports_completed_once() {
        let server = serve(None, menu_script("")).await;
        let mut call = server
            .sim()
            .start_call("+8613812345678", "+8610086")
            .await
            .unwrap();
        call.hang_up().await.unwrap();
        call.hang_up().await.unwrap();
        assert!(call.has_ended() && !call.is_waiting());
        let hits = server.hits();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[1].path, "/twilio/status");
        assert_eq!(hits[1].param("CallStatus"), Some("completed"));
        assert_eq!(hits[1].param("CallSid"), Some(call.sid()));
        assert!(hits[1].signature_ok);
        assert!(matches!(call.silence().await, Err(SimError::Ended)));
    }

    #[tokio::test]
    async fn outbound_calls_start_at_their_url_and_keep_their_end() {
        let server = serve(None, |hit: &Hit, base: &str| match hit.path.as_str() {
            "/outbound" | "/twilio/voice" => twiml(&format!(
                r#"<Gather numDigits="1" action="{base}/twilio/step"><Say>press 1</Say></Gather>"#
            )),
            "/twilio/step" => twiml("<Say>thanks</Say><Hangup/>"),
            _ => (204, "", String::new()),
        })
        .await;
        let leg = OutboundLeg {
            sid: "CA0001".into(),
            from: "+8610086".into(),
            to: "+8613812345678".into(),
            url: format!("{}/outbound?x=1", server.base),
            method: "POST".into(),
            answered_by: Some("human".into()),
        };
        let mut call = server.sim().answer_outbound(&leg).await.unwrap();
        assert_eq!(call.sid(), "CA0001");
        assert_eq!(call.heard(), ["press 1"]);
        assert_eq!(call.end_status(), None);
        call.press("1").await.unwrap();
        assert!(call.has_ended());
        assert_eq!(call.end_status(), Some("completed"));
        // The end is kept for the REST API to report, not sent to /twilio/status.
        let hits = server.hits();
        assert_eq!(hits.len(), 2, "{hits:#?}");
        let (answer, step) = (&hits[0], &hits[1]);
        assert_eq!(
            (answer.path.as_str(), answer.query.as_str()),
            ("/outbound", "x=1")
        );
        assert!(answer.signature_ok && step.signature_ok);
        for (k, v) in [
            ("Direction", "outbound-api"),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", "human"),
            ("MachineDetectionDuration", "2400"),
            ("From", "+8610086"),
            ("To", "+8613812345678"),
            ("Caller", "+8610086"),
            ("Called", "+8613812345678"),
        ] {
            assert_eq!(answer.param(k), Some(v), "{k}");
        }
        assert_eq!(step.param("Direction"), Some("outbound-api"));
        assert_eq!(step.param("AnsweredBy"), None);

        // Without detection there is no verdict; inbound calls keep their end too.
        let leg = OutboundLeg {
            answered_by: None,
            ..leg
        };
        let call = server.sim().answer_outbound(&leg).await.unwrap();
        assert_eq!(server.hits()[2].param("AnsweredBy"), None);
        assert!(call.is_waiting());
        let mut inbound = server.sim().start_call("+1", "+2").await.unwrap();
        inbound.hang_up().await.unwrap();
        assert_eq!(inbound.end_status(), Some("completed"));
        assert_eq!(server.hits().last().unwrap().path, "/twilio/status");
    }

    #[tokio::test]
    async fn a_failing_status_callback_is_an_error() {
        let server = serve(None, |hit: &Hit, _: &str| match hit.path.as_str() {
            "/twilio/voice" => twiml("<Say>bye</Say><Hangup/>"),
            _ => (403, "text/plain", "forbidden".into()),
        })
        .await;
        let err = server.sim().start_call("+1", "+2").await.unwrap_err();
        assert!(matches!(err, SimError::Http { status: 403, .. }), "{err}");
    }

    #[tokio::test]
    async fn raw_posts_with_good_missing_and_forged_signatures() {
        let server = serve(None, |_: &Hit, _: &str| (204, "", String::new())).await;
        let sim = server.sim();
        let params = vec![
            ("CallSid".to_string(), "CA1".to_string()),
            ("CallStatus".to_string(), "ringing".to_string()),
        ];
        let (status, content_type, body) = sim
            .signed_post("/twilio/status?x=1&y=it's", &params)
            .await
            .unwrap();
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (204, "", "")
        );
        sim.unsigned_post("/twilio/status", &params).await.unwrap();
        sim.post_with_signature("/twilio/status", &params, "forged=")
            .await
            .unwrap();
        let hits = server.hits();
        assert!(hits[0].signature_ok);
        assert_eq!(hits[0].params, params);
        assert_eq!(hits[1].signature, None);
        assert!(!hits[1].signature_ok);
        assert_eq!(hits[2].signature.as_deref(), Some("forged="));
        assert!(!hits[2].signature_ok);
        assert_eq!(
            sim.signature("/twilio/status?x=1&y=it's", &params),
            hits[0].signature.clone().unwrap()
        );
        // What is signed is what arrives: the client percent-encodes the apostrophe.
        assert_eq!(hits[0].query, "x=1&y=it%27s");
        assert_eq!(
            sim.url("/twilio/status?x=1&y=it's#frag"),
            format!("{}/twilio/status?x=1&y=it%27s", server.base)
        );
    }

    #[test]
    fn wire_urls_keep_the_configured_base() {
        let sim = Simulator::new("https://ivr.example.com:443/prefix/", TOKEN, ACCOUNT);
        assert_eq!(sim.base_url(), "https://ivr.example.com:443/prefix");
        assert_eq!(
            sim.url("twilio/voice"),
            "https://ivr.example.com:443/prefix/twilio/voice"
        );
        assert_eq!(
            sim.url("/a b?c=d e"),
            "https://ivr.example.com:443/prefix/a%20b?c=d%20e"
        );
        assert_eq!(
            sim.wire_url("https://ivr.example.com:443/prefix?x='"),
            "https://ivr.example.com:443/prefix?x=%27"
        );
        assert_eq!(
            sim.wire_url("https://ivr.example.com:443/prefix"),
            "https://ivr.example.com:443/prefix"
        );
        assert_eq!(
            sim.wire_url("http://other.example:80/x?y='"),
            "http://other.example/x?y=%27"
        );
    }

    #[tokio::test]
    async fn connect_via_signs_over_the_public_url() {
        let public = "https://ivr.example.com";
        let server = serve(Some(public), menu_script(r#"numDigits="1""#)).await;
        let sim = Simulator::new(public, TOKEN, ACCOUNT).connect_via(&server.base);
        let mut call = sim.start_call("+8613812345678", "+8610086").await.unwrap();
        call.press("3").await.unwrap();
        assert_eq!(call.heard(), ["you pressed 3"]);
        assert!(server.hits().iter().all(|h| h.signature_ok));
        assert_eq!(server.hits().len(), 3);
    }

    #[tokio::test]
    async fn unsupported_verbs_are_errors() {
        let server = serve(None, |_: &Hit, _: &str| {
            twiml(r#"<Dial><Conference>room</Conference></Dial>"#)
        })
        .await;
        let err = server.sim().start_call("+1", "+2").await.unwrap_err();
        assert!(
            matches!(&err, SimError::Unsupported(v) if v == "Conference"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn transport_errors_name_the_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let err = Simulator::new(&base, TOKEN, ACCOUNT)
            .start_call("+1", "+2")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SimError::Transport { url, .. } if url.ends_with("/twilio/voice")),
            "{err}"
        );
    }
}
