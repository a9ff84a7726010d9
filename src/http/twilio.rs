//! Twilio's webhooks: `/twilio/voice` (a call arrives), `/twilio/step` (every later step,
//! reached through the URLs in our TwiML) and `/twilio/status` (call status callbacks); for
//! agents, `/twilio/queue/wait` (a waiting caller's wait URL), `/twilio/queue/bridge` (what the
//! caller hears as an agent takes them), `/twilio/agent` (the agent line), `/twilio/whisper`
//! (an agent answering a transfer) and `/twilio/connect` (an agent answering a click-to-call).
//!
//! Rules: the `X-Twilio-Signature` is checked over the public URL and the raw form pairs
//! before anything is read or written (403 otherwise); after it, control characters the
//! store or TwiML cannot hold are replaced in every name and value. Twilio never gets an HTTP 500 or a
//! body that is not TwiML: every failure after the signature check (store down, a bug, a
//! timeout, a panic) answers an apology in the caller's language and a way out. Every
//! webhook answers within `DEADLINE` whatever the store does; work that must not be lost
//! (status reports) goes on in the background.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::callbacks::dialer::StatusReport;
use crate::calls::service::QueueWait;
use crate::calls::service::{StepError, StepRequest, StepState};
use crate::calls::step::{NewCall, StatusEvent};
use crate::flows::FlowState;
use crate::flows::agents as agent_flows;
use crate::flows::survey::SurveyState;
use crate::http::AppState;
use crate::prompts::Locale;
use crate::telephony::twilio::paths::path;
use crate::telephony::twilio::{signature, twiml};
use crate::telephony::{AnsweredBy, Hook};
use crate::telephony::{CallInput, CallStatus, Verb, mask_number};
use crate::tickets::{Action, Origin};

/// The most a webhook's work may take. Twilio waits 15 s, but a caller on a silent line
/// hangs up long before: every webhook answers within 2 s, so the work gets 1.5 s and the
/// rest is for rendering an apology and the network. The external billing source's timeout
/// fits inside it (`billing.timeout_ms` is at most 1000).
pub const DEADLINE: Duration = Duration::from_millis(1500);
/// Keys longer than this are not a keypad entry.
const MAX_DIGITS: usize = 32;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(path(Hook::Voice), post(voice))
        .route(path(Hook::Step), post(step))
        .route(path(Hook::Status), post(status))
        .route(path(Hook::Transcription), post(transcription))
        .route(path(Hook::Survey), post(survey))
        .route(path(Hook::CallbackStatus), post(callback_status))
        .route(path(Hook::QueueWait), post(queue_wait))
        .route(path(Hook::QueueBridge), post(queue_bridge))
        .route(path(Hook::AgentLine), post(agent_line))
        .route(path(Hook::Whisper), post(whisper))
        .route(path(Hook::Connect), post(connect))
}

/// A webhook whose signature has been verified.
struct Verified {
    params: Vec<(String, String)>,
    query: String,
}

impl Verified {
    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key`, cut to `max` characters, or `default`.
    fn short(&self, key: &str, max: usize, default: &str) -> String {
        self.get(key).unwrap_or(default).chars().take(max).collect()
    }

    fn new_call(&self) -> NewCall {
        NewCall {
            direction: self.short("Direction", 32, "inbound"),
            from_number: self.short("From", 64, ""),
            to_number: self.short("To", 64, ""),
        }
    }
}

/// A webhook refused before any step ran: a status and what was wrong.
struct Refused(StatusCode, &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

/// Checks the signature over `public_url + path?query` and the form pairs.
fn verify(
    st: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Verified, Refused> {
    let params = parse_form(body);
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let url = format!("{}{}", st.cfg.public_url, path_and_query);
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    let token = st.cfg.twilio.auth_token.expose();
    match sig {
        Some(sig) if !token.is_empty() && signature::verify(token, &url, &params, sig) => {
            // The signature covers the text as sent; from here on every handler sees it
            // cleaned (see `crate::text`), so a NUL in what a caller said cannot reach the
            // store, where it would fail the batch it is written with.
            let params = (params.into_iter())
                .map(|(k, v)| (crate::text::clean(k), crate::text::clean(v)))
                .collect();
            Ok(Verified {
                params,
                query: uri.query().unwrap_or("").to_string(),
            })
        }
        _ => {
            tracing::warn!(
                path = uri.path(),
                signed = sig.is_some(),
                "rejected a webhook with a bad signature"
            );
            Err(Refused(
                StatusCode::FORBIDDEN,
                "invalid or missing X-Twilio-Signature",
            ))
        }
    }
}

/// The pairs of an `application/x-www-form-urlencoded` body, decoded exactly as
/// `form_urlencoded::parse` decodes them (`+` is a space, `%XX` a byte, a malformed escape
/// stays as it is, invalid UTF-8 becomes U+FFFD), but a value at a time rather than through
/// its iterator of single bytes: this runs on every webhook, and took a tenth of the
/// server's instructions.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |&b| b == b'=');
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(s: &[u8]) -> String {
    if !s.iter().any(|&b| b == b'+' || b == b'%') {
        return std::str::from_utf8(s)
            .map_or_else(|_| String::from_utf8_lossy(s).into_owned(), str::to_owned);
    }
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(s.get(i)), hex(s.get(i + 1))) {
                (Some(high), Some(low)) => {
                    // Two hex digits: below 256.
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Every webhook handler takes `Verified`: the signature is checked before the handler runs,
/// and a request that fails it is answered 403 without reaching it.
impl axum::extract::FromRequest<AppState> for Verified {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        st: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, st.cfg.max_body_bytes)
            .await
            .map_err(|_| {
                Refused(StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response()
            })?;
        verify(st, &parts.uri, &parts.headers, &body).map_err(IntoResponse::into_response)
    }
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], body).into_response()
}

/// A Twilio SID: two letters and hex digits; anything else is not from Twilio.
fn valid_sid(s: &str) -> bool {
    (10..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The caller's input from Twilio's parameters.
fn input(v: &Verified) -> CallInput {
    // The Enqueue action: the caller left the agent queue.
    if let Some(result) = v.get("QueueResult").filter(|r| !r.trim().is_empty()) {
        return CallInput::QueueLeft {
            result: result.trim().chars().take(32).collect(),
        };
    }
    if let Some(status) = v.get("DialCallStatus") {
        return CallInput::TransferEnded {
            connected: matches!(status, "completed" | "answered"),
        };
    }
    if let Some(url) = v.get("RecordingUrl").filter(|u| !u.trim().is_empty()) {
        let duration_secs = v
            .get("RecordingDuration")
            .and_then(|d| d.trim().parse::<i64>().ok())
            .unwrap_or(0)
            .max(0);
        return CallInput::Recording {
            url: url.chars().take(500).collect(),
            sid: v
                .get("RecordingSid")
                .filter(|s| valid_sid(s))
                .map(str::to_string),
            duration_secs,
        };
    }
    if let Some(text) = v.get("SpeechResult").filter(|t| !t.trim().is_empty()) {
        let confidence = v
            .get("Confidence")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        return CallInput::Speech {
            text: text.chars().take(500).collect(),
            confidence,
        };
    }
    if let Some(d) = v.get("Digits").filter(|d| !d.is_empty()) {
        // Anything longer than a keypad entry is kept short; the flows treat it as invalid.
        return CallInput::Digits(d.chars().take(MAX_DIGITS + 1).collect());
    }
    // Our own redirect after a gather marks silence.
    if form_urlencoded::parse(v.query.as_bytes()).any(|(k, val)| k == "timeout" && val == "1") {
        return CallInput::Timeout;
    }
    CallInput::None
}

fn step_request(v: &Verified, state: StepState) -> Result<StepRequest, Refused> {
    let call_sid = v.get("CallSid").filter(|s| valid_sid(s)).ok_or(Refused(
        StatusCode::BAD_REQUEST,
        "missing or malformed CallSid",
    ))?;
    Ok(StepRequest {
        call_sid: call_sid.to_string(),
        call: v.new_call(),
        state,
        input: input(v),
    })
}

async fn voice(State(st): State<AppState>, v: Verified) -> Response {
    match step_request(&v, StepState::Inbound(None)) {
        Ok(req) => run(&st, req).await,
        Err(r) => r.into_response(),
    }
}

async fn step(State(st): State<AppState>, v: Verified) -> Response {
    let state = match FlowState::from_query(&v.query) {
        Ok(s) => s,
        Err(e) => {
            // Only our own URLs reach here signed, so this is a bug or a URL from an older
            // release: apologise rather than guess where the caller was.
            tracing::error!(error = %e, "step URL with an invalid state");
            return apology(&st, st.cfg.default_locale);
        }
    };
    match step_request(&v, StepState::Inbound(Some(state))) {
        Ok(req) => run(&st, req).await,
        Err(r) => r.into_response(),
    }
}

async fn run(st: &AppState, req: StepRequest) -> Response {
    let locale = st.steps.locale_of(&req);
    let voices = &st.cfg.voices;
    let base = st.cfg.public_url.as_str();
    let render = |verbs: &[Verb]| twiml::render(verbs, base, voices);
    match tokio::time::timeout(DEADLINE, st.steps.handle(&req, render)).await {
        Ok(Ok(body)) => xml(body),
        Ok(Err(StepError::UnknownCall)) => {
            tracing::warn!(call_sid = %req.call_sid, "step for a call never started here; restarting it");
            let restart = vec![
                Verb::Say {
                    text: st.catalog.text(locale, "error.restart", &[]),
                    locale,
                },
                Verb::Redirect {
                    next: crate::telephony::NextStep::new(crate::telephony::Hook::Voice, ""),
                },
            ];
            xml(twiml::render(&restart, base, voices))
        }
        Ok(Err(e)) => {
            tracing::error!(call_sid = %req.call_sid, error = %e, "step failed");
            apology(st, locale)
        }
        Err(_) => {
            tracing::error!(call_sid = %req.call_sid, "step timed out");
            apology(st, locale)
        }
    }
}

/// The answer to any failure: an apology, then a person if there is one, then goodbye.
pub fn apology(st: &AppState, locale: Locale) -> Response {
    xml(apology_body(&st.catalog, &st.cfg, locale))
}

pub fn apology_body(
    catalog: &crate::prompts::Catalog,
    cfg: &crate::config::Config,
    locale: Locale,
) -> String {
    let mut verbs = vec![Verb::Say {
        text: catalog.text(locale, "error.apology", &[]),
        locale,
    }];
    if let Some(agent) = &cfg.agent_number {
        // No action URL: when the transfer ends the call ends, touching nothing of ours.
        verbs.push(Verb::Transfer {
            to: agent.clone(),
            next: None,
            whisper: None,
        });
    }
    verbs.push(Verb::Hangup);
    twiml::render(&verbs, &cfg.public_url, &cfg.voices)
}

async fn status(State(st): State<AppState>, v: Verified) -> Response {
    let Some(call_sid) = v.get("CallSid").filter(|s| valid_sid(s)) else {
        return Refused(StatusCode::BAD_REQUEST, "missing or malformed CallSid").into_response();
    };
    let Some(status) = v.get("CallStatus").and_then(CallStatus::parse) else {
        return Refused(StatusCode::BAD_REQUEST, "missing or unknown CallStatus").into_response();
    };
    let parse_i64 = |k: &str| v.get(k).and_then(|s| s.trim().parse::<i64>().ok());
    let event = StatusEvent {
        call_sid: call_sid.to_string(),
        status: status.as_str().to_string(),
        is_final: status.is_final(),
        sequence: parse_i64("SequenceNumber"),
        duration_secs: parse_i64("CallDuration"),
        at: st.clock.now_ms(),
        new_call: v.new_call(),
    };
    let from = mask_number(&event.new_call.from_number);
    let Some(stored) = st.writer.record_status_in_background(event) else {
        tracing::error!(
            call_sid,
            status = status.as_str(),
            "too many status reports wait for the store; this one is dropped"
        );
        return unavailable(&st);
    };
    match tokio::time::timeout(DEADLINE, stored).await {
        Ok(Ok(Ok(()))) => {
            tracing::info!(call_sid, status = status.as_str(), %from, "call status");
            empty(&st)
        }
        // The writer stopped (the task logged why), or the task panicked.
        Ok(Ok(Err(_))) => unavailable(&st),
        Ok(Err(e)) => {
            tracing::error!(call_sid, error = %e, "recording call status failed");
            unavailable(&st)
        }
        Err(_) => {
            // The store is slow or out. The report is kept and tried again until the store
            // is back, so it is answered as taken: Twilio does not send it again anyway.
            tracing::warn!(
                call_sid,
                status = status.as_str(),
                %from,
                "call status not stored yet; still trying in the background"
            );
            empty(&st)
        }
    }
}

/// The empty TwiML document: what callbacks that say nothing to the caller answer.
fn empty(st: &AppState) -> Response {
    render(st, &[])
}

/// An empty TwiML document with a 503: Twilio ignores a callback's body, and shows a 5xx in
/// its debugger (and does not retry a callback by default).
fn unavailable(st: &AppState) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, twiml::CONTENT_TYPE)],
        twiml::render(&[], &st.cfg.public_url, &st.cfg.voices),
    )
        .into_response()
}

/// Runs `work` (which logs its own outcome and says whether it succeeded) in a task of its
/// own, and waits for it until `DEADLINE`: past it the webhook is answered and the work goes
/// on in the background, so a store that stops answering holds up no callback.
async fn in_time(work: impl std::future::Future<Output = bool> + Send + 'static) -> WorkEnd {
    match tokio::time::timeout(DEADLINE, tokio::spawn(work)).await {
        Ok(Ok(true)) => WorkEnd::Done,
        Ok(Ok(false)) => WorkEnd::Failed,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a webhook's work panicked");
            WorkEnd::Failed
        }
        Err(_) => {
            tracing::warn!(
                "a webhook's work is still running at its deadline; it goes on in the background"
            );
            WorkEnd::Late
        }
    }
}

/// What became of work run by `in_time`.
enum WorkEnd {
    Done,
    Failed,
    /// Still running when the webhook had to answer.
    Late,
}

/// A complaint's transcript, some time after the call: stored on the complaint ticket once,
/// however often Twilio sends it.
async fn transcription(State(st): State<AppState>, v: Verified) -> Response {
    let (Some(recording), Some(transcription)) = (
        v.get("RecordingSid").filter(|s| valid_sid(s)),
        v.get("TranscriptionSid").filter(|s| valid_sid(s)),
    ) else {
        return Refused(
            StatusCode::BAD_REQUEST,
            "missing or malformed RecordingSid or TranscriptionSid",
        )
        .into_response();
    };
    if v.get("TranscriptionStatus") != Some("completed") {
        tracing::info!(recording, "transcription did not complete");
        return empty(&st);
    }
    let text: String = v
        .get("TranscriptionText")
        .unwrap_or("")
        .chars()
        .take(4000)
        .collect();
    let work = {
        let (st, recording) = (st.clone(), recording.to_string());
        let origin = Origin {
            call_sid: transcription.to_string(),
            seq: 0,
        };
        async move {
            let result = async {
                let Some(t) = st.store.ticket_by_recording(&recording).await? else {
                    return Ok(None);
                };
                st.steps
                    .desk
                    .change(
                        &t.number,
                        &Action::Transcript { text },
                        "carrier",
                        Some(&origin),
                    )
                    .await
                    .map(Some)
            };
            match result.await {
                Ok(Some(t)) => {
                    tracing::info!(ticket = %t.number, "recording transcript stored");
                    true
                }
                Ok(None) => {
                    tracing::warn!(recording, "transcript for a recording no ticket holds");
                    true
                }
                Err(e) => {
                    tracing::error!(recording, error = %e, "storing a transcript failed");
                    false
                }
            }
        }
    };
    match in_time(work).await {
        WorkEnd::Done => empty(&st),
        WorkEnd::Failed | WorkEnd::Late => unavailable(&st),
    }
}

/// What answering-machine detection said, if it ran.
fn answered_by(v: &Verified) -> Option<AnsweredBy> {
    v.get("AnsweredBy").map(|a| match a {
        "human" => AnsweredBy::Human,
        a if a.starts_with("machine") || a == "fax" => AnsweredBy::Machine,
        _ => AnsweredBy::Unknown,
    })
}

/// Every step of a callback's survey; the dialer's URL starts it.
async fn survey(State(st): State<AppState>, v: Verified) -> Response {
    let state = match SurveyState::from_query(&v.query, st.cfg.default_locale) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "survey URL with an invalid state");
            return apology(&st, st.cfg.default_locale);
        }
    };
    let machine = answered_by(&v) == Some(AnsweredBy::Machine);
    match step_request(&v, StepState::Survey { state, machine }) {
        Ok(req) => run(&st, req).await,
        Err(r) => r.into_response(),
    }
}

/// Progress of a callback's call: stored with the call, and a final one settles the attempt.
async fn callback_status(State(st): State<AppState>, v: Verified) -> Response {
    let attempt = form_urlencoded::parse(v.query.as_bytes())
        .find(|(k, _)| k == "at")
        .and_then(|(_, a)| a.parse::<i64>().ok());
    let (Some(attempt_id), Some(call_sid), Some(status)) = (
        attempt,
        v.get("CallSid").filter(|s| valid_sid(s)),
        v.get("CallStatus").and_then(CallStatus::parse),
    ) else {
        return Refused(
            StatusCode::BAD_REQUEST,
            "missing or malformed attempt, CallSid or CallStatus",
        )
        .into_response();
    };
    let report = StatusReport {
        attempt_id,
        provider_call_id: call_sid.to_string(),
        status,
        answered_by: answered_by(&v),
        at: st.clock.now_ms(),
    };
    let event = StatusEvent {
        call_sid: call_sid.to_string(),
        status: status.as_str().to_string(),
        is_final: status.is_final(),
        sequence: v.get("SequenceNumber").and_then(|s| s.trim().parse().ok()),
        duration_secs: v.get("CallDuration").and_then(|s| s.trim().parse().ok()),
        at: report.at,
        new_call: v.new_call(),
    };
    let work = {
        let st = st.clone();
        async move {
            let stored = async {
                st.writer.record_status(event).await?;
                st.callbacks.status(&report).await?;
                Ok::<(), crate::calls::service::StepError>(())
            };
            match stored.await {
                Ok(()) => true,
                Err(e) => {
                    let call_sid = &report.provider_call_id;
                    tracing::error!(call_sid, attempt_id, error = %e, "recording a callback status failed");
                    false
                }
            }
        }
    };
    match in_time(work).await {
        WorkEnd::Done => empty(&st),
        // A 5xx shows in Twilio's debugger; the reconciler settles the attempt anyway.
        WorkEnd::Failed | WorkEnd::Late => unavailable(&st),
    }
}

// ---- agents -------------------------------------------------------------------------------------

impl Verified {
    /// A value of our own query string.
    fn query_param(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The language our URL carries (`l=zh|en`), or the default.
    fn locale(&self, st: &AppState) -> Locale {
        match self.query_param("l").as_deref() {
            Some("en") => Locale::EnUs,
            Some("zh") => Locale::ZhCn,
            _ => st.cfg.default_locale,
        }
    }

    /// A whole number of Twilio's (seconds, a position), when present and sane.
    fn count(&self, key: &str) -> Option<i64> {
        self.get(key)
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| (0..=10_000_000).contains(n))
    }
}

fn render(st: &AppState, verbs: &[Verb]) -> Response {
    xml(twiml::render(verbs, &st.cfg.public_url, &st.cfg.voices))
}

/// The wait URL of a caller in the agent queue: records their place and answers what they
/// hear. A wait document must stay valid whatever fails, or the caller hears Twilio's error:
/// the service logs its own failures, and a timeout answers the document without the record.
async fn queue_wait(State(st): State<AppState>, v: Verified) -> Response {
    let locale = v.locale(&st);
    let Some(call_sid) = v.get("CallSid").filter(|s| valid_sid(s)) else {
        return Refused(StatusCode::BAD_REQUEST, "missing or malformed CallSid").into_response();
    };
    // Our gather's answer comes back with g=1; only then do keys count.
    let gathered = v.query_param("g").as_deref() == Some("1");
    let w = QueueWait {
        call_sid: call_sid.to_string(),
        from_number: v.short("From", 64, ""),
        locale,
        position: v.count("QueuePosition").filter(|p| *p >= 1),
        avg_queue_secs: v.count("AvgQueueTime").unwrap_or(0),
        waited_secs: v.count("QueueTime").unwrap_or(0),
        pressed: gathered
            .then(|| v.get("Digits").map(str::to_string))
            .flatten(),
    };
    let verbs = match tokio::time::timeout(DEADLINE, st.steps.queue_wait(&w)).await {
        Ok(verbs) => verbs,
        Err(_) => {
            tracing::error!(call_sid, "queue wait timed out");
            let a = &st.cfg.agents;
            let expected = crate::agents::queue::expected_wait_secs(
                w.position.unwrap_or(1),
                w.avg_queue_secs,
                w.waited_secs,
                a.handle_secs,
                a.on_duty,
            );
            agent_flows::wait(
                &st.catalog,
                locale,
                w.position.unwrap_or(1),
                expected,
                &a.hold_music,
            )
        }
    };
    render(&st, &verbs)
}

/// Run on a waiting caller's leg as an agent takes them.
async fn queue_bridge(State(st): State<AppState>, v: Verified) -> Response {
    render(&st, &st.steps.queue_bridge(v.locale(&st)))
}

/// Answers an agent-side webhook from the service, or an apology when it fails.
async fn agent_answer(
    st: &AppState,
    what: &'static str,
    answer: impl std::future::Future<Output = Result<Vec<Verb>, StepError>>,
) -> Response {
    let locale = st.cfg.default_locale;
    match tokio::time::timeout(DEADLINE, answer).await {
        Ok(Ok(verbs)) => render(st, &verbs),
        Ok(Err(e)) => {
            tracing::error!(error = %e, what, "agent webhook failed");
            agent_apology(st, locale)
        }
        Err(_) => {
            tracing::error!(what, "agent webhook timed out");
            agent_apology(st, locale)
        }
    }
}

/// An apology and the end of an agent's leg (never a transfer to the agents, as the callers'
/// apology may be).
fn agent_apology(st: &AppState, locale: Locale) -> Response {
    let verbs = [
        Verb::Say {
            text: st.catalog.text(locale, "error.apology", &[]),
            locale,
        },
        Verb::Hangup,
    ];
    render(st, &verbs)
}

/// The agent line: agents call the hotline's agent number (whose voice URL this is) to take
/// the next waiting caller.
async fn agent_line(State(st): State<AppState>, v: Verified) -> Response {
    let Some(call_sid) = v.get("CallSid").filter(|s| valid_sid(s)) else {
        return Refused(StatusCode::BAD_REQUEST, "missing or malformed CallSid").into_response();
    };
    let from = v.short("From", 64, "");
    let input = input(&v);
    agent_answer(
        &st,
        "agent line",
        st.steps.agent_line(call_sid, &from, &input),
    )
    .await
}

/// The whisper of a transfer (dial mode), on the answering agent's leg: `?call=<CallSid>` of
/// the caller. When it ends Twilio bridges the two.
async fn whisper(State(st): State<AppState>, v: Verified) -> Response {
    let Some(caller) = v.query_param("call").filter(|s| valid_sid(s)) else {
        return Refused(StatusCode::BAD_REQUEST, "missing or malformed call").into_response();
    };
    let to = v.short("To", 64, "");
    agent_answer(&st, "whisper", st.steps.transfer_whisper(&caller, &to)).await
}

/// An agent answered a click-to-call (`?e=<escalation id>`): the case, then the customer.
async fn connect(State(st): State<AppState>, v: Verified) -> Response {
    let Some(id) = v.query_param("e").and_then(|e| e.parse::<i64>().ok()) else {
        return Refused(
            StatusCode::BAD_REQUEST,
            "missing or malformed escalation id",
        )
        .into_response();
    };
    let to = v.short("To", 64, "");
    agent_answer(&st, "connect", st.steps.connect(id, &to)).await
}

#[cfg(test)]
mod form_tests {
    use super::parse_form;

    fn reference(body: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(body).into_owned().collect()
    }

    #[test]
    fn decodes_what_twilio_sends() {
        let body = b"CallSid=CA123&From=%2B8613900000001&SpeechResult=%E8%B4%A6%E5%8D%95+please\
                     &Digits=1%23&Empty=&Caller=+86+139";
        assert_eq!(
            parse_form(body),
            [
                ("CallSid", "CA123"),
                ("From", "+8613900000001"),
                ("SpeechResult", "账单 please"),
                ("Digits", "1#"),
                ("Empty", ""),
                ("Caller", " 86 139"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn agrees_with_form_urlencoded_on_odd_input() {
        for body in [
            &b""[..],
            b"&&&",
            b"a",
            b"=b",
            b"a==b=c",
            b"%",
            b"%4",
            b"%zz%41%4a%4A",
            b"%%41",
            b"a+b=c+%2b+d",
            b"bad=%ff%fe\xff",
            b"cut=%e4%bd",
            b"k%3Dv=1%26x",
        ] {
            assert_eq!(
                parse_form(body),
                reference(body),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // Random bodies over the bytes that matter.
        let alphabet = b"%+=&aF0fz9\xff\xe4\xbd";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut body = Vec::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            for _ in 0..(seed >> 59) {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                body.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            assert_eq!(parse_form(&body), reference(&body), "{body:?}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any body decodes as `form_urlencoded` decodes it, never a panic.
            #[test]
            fn any_body_decodes_like_form_urlencoded(body in any::<Vec<u8>>()) {
                prop_assert_eq!(parse_form(&body), reference(&body));
            }

            /// What Twilio encodes comes back as it was sent.
            #[test]
            fn encoded_pairs_round_trip(pairs in prop::collection::vec(("[A-Za-z]{1,12}", any::<String>()), 0..8)) {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    ser.append_pair(k, v);
                }
                prop_assert_eq!(parse_form(ser.finish().as_bytes()), pairs);
            }
        }
    }
}
