//! Twilio's REST API for outbound calls: `TwilioDialer` implements `Dialer` with the Calls
//! resource of API 2010-04-01 (operations CreateCall, FetchCall and ListCall).
//!
//! Rules:
//! - Only what Twilio's OpenAPI document lists is sent: a form body for CreateCall (`To`,
//!   `From`, `Url`, `Method`, `StatusCallback`, `StatusCallbackMethod`, one
//!   `StatusCallbackEvent` key per event, `Timeout`, `MachineDetection`), the query parameters
//!   `To`, `StartTime>`, `Status` and `PageSize` for ListCall, HTTP Basic auth with the account
//!   sid and auth token.
//! - Detection is synchronous (`MachineDetection=Enable`): `AnsweredBy` arrives on the request
//!   to our answer URL, before anything is said.
//! - A create request is sent once; a retry is the caller's decision after reconciling, so
//!   every failure says whether a call may exist:
//!
//!   | what happened                                                | `DialError`               |
//!   |--------------------------------------------------------------|---------------------------|
//!   | HTTP 429, or code 20429 (too many requests: never processed) | `Transient` + Retry-After |
//!   | code 22005 (Twilio's call queue is full)                     | `Transient`               |
//!   | HTTP 408 (Twilio did not get the whole request)              | `Transient`               |
//!   | could not connect (nothing was sent)                         | `Transient`               |
//!   | any other 5xx (Twilio may have created the call)             | `Ambiguous`               |
//!   | no answer in time; connection lost after sending             | `Ambiguous`               |
//!   | a 2xx whose body is not a call (a call may exist, unread)    | `Ambiguous`               |
//!   | HTTP 401 / code 20003 (our credentials; logged as an error)  | `Permanent`               |
//!   | any other 3xx/4xx: 21201, 21210, 21211, 21213–21217, 13224…  | `Permanent`               |
//!
//!   Both of Twilio's error bodies are read: the classic `{code, message, more_info, status}`
//!   and RFC 9457 `{type, title, status, code, detail}`.
//! - Lookups (`fetch`, `calls_to_since`) place nothing, so their failures are never
//!   `Ambiguous`: 401 and other 4xx are `Permanent`; 404 on a call is `Ok(None)`; everything
//!   else (timeouts, transport, 408, 429, 5xx, unreadable bodies) is `Transient`.
//! - `calls_to_since` asks for the day (Twilio filters `StartTime>` by UTC date) and keeps the
//!   calls created at or after the instant; because a call still in Twilio's queue has no
//!   start time, it also asks for the number's queued calls. Pages are followed through
//!   `next_page_uri`, at most `MAX_PAGES` per query, and only within our account's Calls list.
//! - Every request has `timeout` end to end. The auth token is never logged; phone numbers in
//!   logs are masked.

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

use crate::config::TwilioConfig;
use crate::secret::Secret;
use crate::telephony::{
    AnsweredBy, CallStatus, DialError, Dialer, Media, NextStep, OutboundCall, RecordingError,
    Recordings, RemoteCall, mask_number,
};

/// Largest recording played through the service (a complaint is two minutes at most).
const MAX_RECORDING_BYTES: usize = 32 * 1024 * 1024;

/// Pages of one list query followed at most.
const MAX_PAGES: usize = 5;
/// Calls asked for per page.
const PAGE_SIZE: &str = "100";
/// Twilio's longest ring time, seconds.
const MAX_RING_SECS: u32 = 600;
/// The progress events asked for on every call.
const EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// Places and looks up calls through Twilio's REST API.
#[derive(Debug, Clone)]
pub struct TwilioDialer {
    http: reqwest::Client,
    /// `https://api.twilio.com`, without a trailing slash.
    api_base: String,
    account_sid: String,
    auth_token: Secret,
    /// Our public URL, without a trailing slash: the base of the answer and status URLs.
    public_url: String,
    timeout: Duration,
}

impl TwilioDialer {
    /// A dialer for `account_sid` at `api_base`; answer and status URLs are resolved against
    /// `public_url`; every request gives up after `timeout`.
    pub fn new(
        api_base: &str,
        account_sid: &str,
        auth_token: &Secret,
        public_url: &str,
        timeout: Duration,
    ) -> Self {
        // Redirects are not followed: a redirected POST would come back as a GET without its
        // form, and Basic credentials must go nowhere else.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hotline/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        TwilioDialer {
            http,
            api_base: api_base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.clone(),
            public_url: public_url.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    /// A dialer from the service's configuration.
    pub fn from_config(twilio: &TwilioConfig, public_url: &str, timeout: Duration) -> Self {
        Self::new(
            &twilio.api_base,
            &twilio.account_sid,
            &twilio.auth_token,
            public_url,
            timeout,
        )
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.api_base, self.account_sid
        )
    }

    /// The public URL of one of our webhooks.
    fn public(&self, step: &NextStep) -> String {
        super::paths::absolute(&self.public_url, step)
    }

    /// The CreateCall form, in the order it is sent.
    fn create_form(&self, call: &OutboundCall) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("To", call.to.clone()),
            ("From", call.from.clone()),
            ("Url", self.public(&call.answer)),
            ("Method", "POST".to_string()),
            ("StatusCallback", self.public(&call.status)),
            ("StatusCallbackMethod", "POST".to_string()),
        ];
        form.extend(
            EVENTS
                .iter()
                .map(|e| ("StatusCallbackEvent", e.to_string())),
        );
        form.push((
            "Timeout",
            call.ring_secs.clamp(1, MAX_RING_SECS).to_string(),
        ));
        if call.detect_machine {
            form.push(("MachineDetection", "Enable".to_string()));
        }
        form
    }

    /// Sends a request and reads the whole answer within `timeout`.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, SendError> {
        let req = req.basic_auth(&self.account_sid, Some(self.auth_token.expose()));
        let exchange = async {
            let resp = req.send().await.map_err(SendError::from)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            // A body that breaks off is judged by the status alone.
            let body = resp.text().await.unwrap_or_default();
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SendError::AfterSending(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// One list query, its pages followed; the calls as Twilio returned them.
    async fn list(&self, query: &[(&str, &str)]) -> Result<Vec<CallJson>, DialError> {
        let mut calls = Vec::new();
        let mut req = self.http.get(self.calls_url()).query(query);
        let own_list = format!("/2010-04-01/Accounts/{}/Calls.json?", self.account_sid);
        for page in 1..=MAX_PAGES {
            let answer = self.send(req).await.map_err(SendError::for_lookup)?;
            if answer.status != 200 {
                return Err(lookup_error(&answer));
            }
            let page_json: CallPage =
                serde_json::from_str(&answer.body).map_err(|e| DialError::Transient {
                    code: None,
                    message: format!("unreadable list of calls: {e}"),
                    retry_after_secs: None,
                })?;
            calls.extend(page_json.calls);
            match page_json.next_page_uri {
                Some(next) if next.starts_with(&own_list) => {
                    if page == MAX_PAGES {
                        tracing::warn!(
                            pages = MAX_PAGES,
                            "more calls than the reconciliation reads; the oldest were not read"
                        );
                        break;
                    }
                    req = self.http.get(format!("{}{next}", self.api_base));
                }
                Some(_) => {
                    tracing::warn!("next_page_uri outside our Calls list; not followed");
                    break;
                }
                None => break,
            }
        }
        Ok(calls)
    }
}

/// The Recording resource (FetchRecording), for its `media_url`.
#[derive(Debug, Deserialize)]
struct RecordingJson {
    media_url: Option<String>,
}

#[async_trait::async_trait]
impl Recordings for TwilioDialer {
    /// FetchRecording, then its `media_url`. The credentials go with the second request only
    /// when the media is on the API's own origin (a recording stored externally is fetched
    /// without them).
    async fn recording(&self, sid: &str) -> Result<Media, RecordingError> {
        if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(RecordingError::NotFound(sid.to_string()));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Recordings/{sid}.json",
            self.api_base, self.account_sid
        );
        let unavailable = |e: String| RecordingError::Unavailable(e);
        let answer =
            (self.send(self.http.get(url)).await).map_err(|e| unavailable(format!("{e:?}")))?;
        match answer.status {
            200 => {}
            404 => return Err(RecordingError::NotFound(sid.to_string())),
            s => return Err(unavailable(format!("HTTP {s}"))),
        }
        let media_url = serde_json::from_str::<RecordingJson>(&answer.body)
            .ok()
            .and_then(|r| r.media_url)
            .ok_or_else(|| unavailable("the recording has no media URL".into()))?;
        let own = media_url.starts_with(&format!("{}/", self.api_base));
        let req = self.http.get(&media_url);
        let req = if own {
            req.basic_auth(&self.account_sid, Some(self.auth_token.expose()))
        } else {
            req
        };
        let fetch = async {
            let resp = req.send().await.map_err(|e| unavailable(e.to_string()))?;
            if !resp.status().is_success() {
                return Err(unavailable(format!("HTTP {} for the media", resp.status())));
            }
            let content_type = (resp.headers().get(reqwest::header::CONTENT_TYPE))
                .and_then(|v| v.to_str().ok())
                .filter(|t| t.starts_with("audio/"))
                .unwrap_or("audio/x-wav")
                .to_string();
            if resp.content_length().unwrap_or(0) > MAX_RECORDING_BYTES as u64 {
                return Err(unavailable(
                    "the recording is too large to play here".into(),
                ));
            }
            let bytes = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
            if bytes.len() > MAX_RECORDING_BYTES {
                return Err(unavailable(
                    "the recording is too large to play here".into(),
                ));
            }
            Ok(Media {
                content_type,
                bytes: bytes.to_vec(),
            })
        };
        tokio::time::timeout(self.timeout, fetch)
            .await
            .map_err(|_| unavailable(format!("no answer within {} ms", self.timeout.as_millis())))?
    }
}

#[async_trait::async_trait]
impl Dialer for TwilioDialer {
    async fn place(&self, call: &OutboundCall) -> Result<RemoteCall, DialError> {
        let to = mask_number(&call.to);
        let req = self
            .http
            .post(self.calls_url())
            .form(&self.create_form(call));
        let answer = match self.send(req).await {
            Ok(answer) => answer,
            Err(e) => {
                let err = e.for_create();
                tracing::warn!(%to, error = %err, "placing a call failed");
                return Err(err);
            }
        };
        if !(200..300).contains(&answer.status) {
            // Twilio's messages quote the number ("The 'To' number … is not valid").
            let err = masked(create_error(&answer), &call.to);
            tracing::warn!(%to, status = answer.status, error = %err, "Twilio refused a call");
            return Err(err);
        }
        match serde_json::from_str::<CallJson>(&answer.body) {
            Ok(json) => {
                let remote = json.into_remote(Utc::now().timestamp_millis());
                tracing::info!(%to, call_sid = %remote.id, "call placed");
                Ok(remote)
            }
            Err(e) => {
                tracing::warn!(
                    %to,
                    status = answer.status,
                    error = %e,
                    "Twilio accepted a call with an unreadable answer"
                );
                Err(DialError::Ambiguous(format!(
                    "HTTP {} with an unreadable call: {e}",
                    answer.status
                )))
            }
        }
    }

    async fn fetch(&self, id: &str) -> Result<Option<RemoteCall>, DialError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(DialError::Permanent {
                code: None,
                message: format!("{id:?} is not a call sid"),
            });
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{id}.json",
            self.api_base, self.account_sid
        );
        let answer = self
            .send(self.http.get(url))
            .await
            .map_err(SendError::for_lookup)?;
        match answer.status {
            200 => serde_json::from_str::<CallJson>(&answer.body)
                .map(|json| Some(json.into_remote(Utc::now().timestamp_millis())))
                .map_err(|e| DialError::Transient {
                    code: None,
                    message: format!("unreadable call: {e}"),
                    retry_after_secs: None,
                }),
            404 => Ok(None),
            _ => Err(lookup_error(&answer)),
        }
    }

    async fn calls_to_since(&self, to: &str, since: i64) -> Result<Vec<RemoteCall>, DialError> {
        let day = Utc
            .timestamp_millis_opt(since)
            .single()
            .unwrap_or_else(Utc::now)
            .format("%Y-%m-%d")
            .to_string();
        let started = self
            .list(&[("To", to), ("StartTime>", &day), ("PageSize", PAGE_SIZE)])
            .await?;
        // A call waiting in Twilio's queue has not started: no StartTime filter finds it.
        let queued = self
            .list(&[("To", to), ("Status", "queued"), ("PageSize", PAGE_SIZE)])
            .await?;
        let now = Utc::now().timestamp_millis();
        let mut found: Vec<RemoteCall> = Vec::new();
        for json in started.into_iter().chain(queued) {
            let call = json.into_remote(now);
            if call.created_at >= since && !found.iter().any(|c| c.id == call.id) {
                found.push(call);
            }
        }
        found.sort_by_key(|c| c.created_at);
        tracing::info!(
            to = %mask_number(to),
            found = found.len(),
            "calls looked up for reconciliation"
        );
        Ok(found)
    }
}

/// A whole HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// Why a request got no HTTP answer.
#[derive(Debug)]
enum SendError {
    /// Nothing was sent: no connection could be made.
    NotSent(String),
    /// The request could not even be built (a bad base URL): it will never work.
    Unusable(String),
    /// Sent, or possibly sent, and then no answer.
    AfterSending(String),
}

impl From<reqwest::Error> for SendError {
    fn from(e: reqwest::Error) -> Self {
        let (builder, connect) = (e.is_builder(), e.is_connect());
        // The URL carries nothing secret (credentials go in a header); keep messages short.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if builder {
            SendError::Unusable(text)
        } else if connect {
            SendError::NotSent(text)
        } else {
            SendError::AfterSending(text)
        }
    }
}

impl SendError {
    fn for_create(self) -> DialError {
        match self {
            SendError::NotSent(m) => DialError::Transient {
                code: None,
                message: format!("could not connect to Twilio: {m}"),
                retry_after_secs: None,
            },
            SendError::Unusable(m) => DialError::Permanent {
                code: None,
                message: format!("unusable request: {m}"),
            },
            SendError::AfterSending(m) => DialError::Ambiguous(m),
        }
    }

    fn for_lookup(self) -> DialError {
        match self {
            SendError::Unusable(m) => DialError::Permanent {
                code: None,
                message: format!("unusable request: {m}"),
            },
            SendError::NotSent(m) | SendError::AfterSending(m) => DialError::Transient {
                code: None,
                message: m,
                retry_after_secs: None,
            },
        }
    }
}

/// Twilio's error body, classic or RFC 9457.
#[derive(Debug, Default, PartialEq, Eq)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioError {
    fn parse(body: &str) -> Option<TwilioError> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let obj = v.as_object()?;
        let code = obj.get("code").and_then(|c| {
            c.as_i64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
        // RFC 9457: the type URI names the code (…/docs/errors/20429).
        let code = code.or_else(|| {
            obj.get("type")
                .and_then(|t| t.as_str())
                .and_then(|t| t.rsplit('/').next())
                .and_then(|c| c.parse().ok())
        });
        let text = |k: &str| {
            obj.get(k)
                .and_then(|m| m.as_str())
                .filter(|m| !m.is_empty())
                .map(str::to_string)
        };
        let message = text("message")
            .or_else(|| text("detail"))
            .or_else(|| text("title"));
        (code.is_some() || message.is_some()).then_some(TwilioError { code, message })
    }
}

const TOO_MANY_REQUESTS: i64 = 20429;
const QUEUE_FULL: i64 = 22005;
const AUTH_FAILED: i64 = 20003;

/// The `DialError` of a create request Twilio answered with `status` (not 2xx).
fn create_error(answer: &Answer) -> DialError {
    classify_create(
        answer.status,
        retry_after(&answer.headers, Utc::now()),
        &answer.body,
    )
}

fn classify_create(status: u16, retry_after_secs: Option<u64>, body: &str) -> DialError {
    let parsed = TwilioError::parse(body).unwrap_or_default();
    let code = parsed.code;
    let message = describe(status, parsed.message, body);
    if status == 429 || code == Some(TOO_MANY_REQUESTS) {
        return DialError::Transient {
            code,
            message,
            retry_after_secs,
        };
    }
    if code == Some(QUEUE_FULL) {
        return DialError::Transient {
            code,
            message,
            retry_after_secs,
        };
    }
    if status >= 500 {
        // Twilio may have created the call before failing to answer.
        return DialError::Ambiguous(match code {
            Some(c) => format!("{message} (code {c})"),
            None => message,
        });
    }
    if status == 408 {
        return DialError::Transient {
            code,
            message,
            retry_after_secs,
        };
    }
    if status == 401 || code == Some(AUTH_FAILED) {
        tracing::error!(
            status,
            ?code,
            "Twilio refused our credentials: check the account sid and auth token"
        );
    }
    DialError::Permanent { code, message }
}

/// The `DialError` of a lookup Twilio answered with `status` (not 200, not a 404 on a call).
fn lookup_error(answer: &Answer) -> DialError {
    let parsed = TwilioError::parse(&answer.body).unwrap_or_default();
    let code = parsed.code;
    let message = describe(answer.status, parsed.message, &answer.body);
    match answer.status {
        408 | 429 | 500.. => DialError::Transient {
            code,
            message,
            retry_after_secs: retry_after(&answer.headers, Utc::now()),
        },
        status => {
            if status == 401 || code == Some(AUTH_FAILED) {
                tracing::error!(
                    status,
                    ?code,
                    "Twilio refused our credentials: check the account sid and auth token"
                );
            }
            DialError::Permanent { code, message }
        }
    }
}

/// `err` with the number `to` masked wherever its message quotes it.
fn masked(err: DialError, to: &str) -> DialError {
    let digits = to.trim_start_matches('+');
    let hide = |m: String| {
        if digits.len() < 5 {
            return m;
        }
        // The longer form first, so a leading '+' is masked with the rest.
        m.replace(to, &mask_number(to))
            .replace(digits, &mask_number(digits))
    };
    match err {
        DialError::Permanent { code, message } => DialError::Permanent {
            code,
            message: hide(message),
        },
        DialError::Transient {
            code,
            message,
            retry_after_secs,
        } => DialError::Transient {
            code,
            message: hide(message),
            retry_after_secs,
        },
        DialError::Ambiguous(message) => DialError::Ambiguous(hide(message)),
    }
}

/// Twilio's message, or the start of whatever body came.
fn describe(status: u16, message: Option<String>, body: &str) -> String {
    match message {
        Some(m) => format!("HTTP {status}: {m}"),
        None => {
            let snippet: String = body.trim().chars().take(200).collect();
            if snippet.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {snippet}")
            }
        }
    }
}

/// `Retry-After` in seconds, given as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .num_seconds()
            .try_into()
            .unwrap_or(0),
    )
}

/// The fields of Twilio's Call resource we read.
#[derive(Debug, Deserialize)]
struct CallJson {
    sid: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    answered_by: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
}

impl CallJson {
    /// The neutral call; a missing or unreadable creation date counts as `now`, so a
    /// reconciliation never overlooks a call for its date.
    fn into_remote(self, now: i64) -> RemoteCall {
        let status = match self.status.as_deref().map(CallStatus::parse) {
            Some(Some(s)) => s,
            other => {
                if let Some(None) = other {
                    tracing::warn!(call_sid = %self.sid, "unknown call status; taken as queued");
                }
                CallStatus::Queued
            }
        };
        RemoteCall {
            to: self.to.unwrap_or_default(),
            status,
            answered_by: self.answered_by.as_deref().and_then(answered_by),
            created_at: self
                .date_created
                .as_deref()
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                .map_or(now, |d| d.timestamp_millis()),
            id: self.sid,
        }
    }
}

/// Twilio's detection verdicts: fax and every machine variant are not a person.
fn answered_by(s: &str) -> Option<AnsweredBy> {
    match s {
        "" => None,
        "human" => Some(AnsweredBy::Human),
        "unknown" => Some(AnsweredBy::Unknown),
        s if s.starts_with("machine") || s == "fax" => Some(AnsweredBy::Machine),
        _ => Some(AnsweredBy::Unknown),
    }
}

/// One page of ListCall.
#[derive(Debug, Deserialize)]
struct CallPage {
    #[serde(default)]
    calls: Vec<CallJson>,
    #[serde(default)]
    next_page_uri: Option<String>,
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;
    use crate::telephony::Hook;

    fn dialer() -> TwilioDialer {
        TwilioDialer::new(
            "https://api.example.com/",
            "AC0123",
            &Secret::new("tok"),
            "https://ivr.example.com/",
            Duration::from_secs(5),
        )
    }

    fn outbound(detect_machine: bool) -> OutboundCall {
        OutboundCall {
            to: "+8613812345678".into(),
            from: "+8610086".into(),
            answer: NextStep::new(Hook::Survey, "callback=7"),
            status: NextStep::new(Hook::CallbackStatus, "callback=7"),
            ring_secs: 25,
            detect_machine,
        }
    }

    #[test]
    fn the_create_form_lists_every_event_and_resolves_our_urls() {
        let d = dialer();
        let form = d.create_form(&outbound(true));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("To", "+8613812345678"),
                ("From", "+8610086"),
                ("Url", "https://ivr.example.com/twilio/survey?callback=7"),
                ("Method", "POST"),
                (
                    "StatusCallback",
                    "https://ivr.example.com/twilio/callback-status?callback=7"
                ),
                ("StatusCallbackMethod", "POST"),
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
                ("Timeout", "25"),
                ("MachineDetection", "Enable"),
            ]
        );
        let without = d.create_form(&outbound(false));
        assert!(without.iter().all(|(k, _)| *k != "MachineDetection"));
        let mut long = outbound(false);
        long.ring_secs = 5000;
        assert!(
            d.create_form(&long)
                .contains(&("Timeout", "600".to_string()))
        );
        assert_eq!(
            d.calls_url(),
            "https://api.example.com/2010-04-01/Accounts/AC0123/Calls.json"
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let text = format!("{:?}", dialer());
        assert!(!text.contains("tok\""), "{text}");
        assert!(text.contains("Secret(****)"));
    }

    #[test]
    fn both_error_shapes_are_read() {
        let classic = r#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            TwilioError::parse(classic),
            Some(TwilioError {
                code: Some(21211),
                message: Some("The 'To' number 5551234567 is not a valid phone number.".into()),
            })
        );
        let rfc9457 = r#"{"type": "https://www.twilio.com/docs/errors/20429", "title": "Too Many Requests", "status": 429, "detail": "Too many concurrent requests", "instance": "/x"}"#;
        assert_eq!(
            TwilioError::parse(rfc9457),
            Some(TwilioError {
                code: Some(20429),
                message: Some("Too many concurrent requests".into()),
            })
        );
        let titled =
            r#"{"type": "about:blank", "title": "Bad Request", "status": 400, "code": 21201}"#;
        assert_eq!(
            TwilioError::parse(titled),
            Some(TwilioError {
                code: Some(21201),
                message: Some("Bad Request".into()),
            })
        );
        assert_eq!(TwilioError::parse("<html>busy</html>"), None);
        assert_eq!(TwilioError::parse("[1]"), None);
        assert_eq!(TwilioError::parse("{}"), None);
    }

    fn classic(status: u16, code: i64) -> String {
        format!(
            r#"{{"code": {code}, "message": "m{code}", "more_info": "https://www.twilio.com/docs/errors/{code}", "status": {status}}}"#
        )
    }

    #[test]
    fn create_errors_say_whether_a_call_may_exist() {
        let transient = |e: DialError| matches!(e, DialError::Transient { .. });
        let permanent = |e: &DialError, want: Option<i64>| matches!(e, DialError::Permanent { code, .. } if *code == want);
        // Never processed: safe to retry, with the wait Twilio asked for.
        assert_eq!(
            classify_create(429, Some(3), &classic(429, 20429)),
            DialError::Transient {
                code: Some(20429),
                message: "HTTP 429: m20429".into(),
                retry_after_secs: Some(3),
            }
        );
        assert!(transient(classify_create(429, None, "")));
        assert!(transient(classify_create(503, None, &classic(503, 20429))));
        assert!(transient(classify_create(503, None, &classic(503, 22005))));
        assert!(transient(classify_create(400, None, &classic(400, 22005))));
        assert!(transient(classify_create(408, None, "")));
        // Twilio failed after receiving it: maybe placed.
        for status in [500, 502, 503, 504, 599] {
            assert!(
                matches!(classify_create(status, None, "<html>oops</html>"), DialError::Ambiguous(m) if m.contains("oops")),
                "{status}"
            );
            assert!(matches!(
                classify_create(status, None, &classic(status, 20500)),
                DialError::Ambiguous(m) if m.contains("20500")
            ));
        }
        // Refused for good.
        for code in [
            21211, 21214, 21215, 21216, 21217, 21210, 13224, 21201, 21213,
        ] {
            assert!(
                permanent(&classify_create(400, None, &classic(400, code)), Some(code)),
                "{code}"
            );
        }
        assert!(permanent(
            &classify_create(401, None, &classic(401, 20003)),
            Some(20003)
        ));
        assert!(permanent(&classify_create(403, None, ""), None));
        assert!(permanent(&classify_create(404, None, "not found"), None));
        assert!(permanent(&classify_create(302, None, ""), None));
        let DialError::Permanent { message, .. } = classify_create(400, None, "") else {
            panic!()
        };
        assert_eq!(message, "HTTP 400");
    }

    #[test]
    fn lookup_errors_are_never_ambiguous() {
        let answer = |status: u16, body: &str| Answer {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        };
        for status in [408, 429, 500, 503] {
            assert!(
                matches!(
                    lookup_error(&answer(status, "")),
                    DialError::Transient { .. }
                ),
                "{status}"
            );
        }
        assert!(matches!(
            lookup_error(&answer(401, &classic(401, 20003))),
            DialError::Permanent {
                code: Some(20003),
                ..
            }
        ));
        assert!(matches!(
            lookup_error(&answer(400, &classic(400, 20001))),
            DialError::Permanent { .. }
        ));
        assert!(matches!(
            SendError::AfterSending("x".into()).for_lookup(),
            DialError::Transient { .. }
        ));
        assert!(matches!(
            SendError::AfterSending("x".into()).for_create(),
            DialError::Ambiguous(_)
        ));
        assert!(matches!(
            SendError::NotSent("x".into()).for_create(),
            DialError::Transient { .. }
        ));
    }

    #[test]
    fn numbers_quoted_by_twilio_are_masked() {
        let err = classify_create(
            400,
            None,
            r#"{"code": 21211, "message": "The 'To' number +8613812345678 is not a valid phone number.", "status": 400}"#,
        );
        assert_eq!(
            masked(err, "+8613812345678"),
            DialError::Permanent {
                code: Some(21211),
                message: "HTTP 400: The 'To' number +86*********78 is not a valid phone number."
                    .into()
            }
        );
        let err = DialError::Ambiguous("HTTP 500: 8613812345678 failed".into());
        assert_eq!(
            masked(err, "+8613812345678"),
            DialError::Ambiguous("HTTP 500: 8**********78 failed".into())
        );
        let short = DialError::Ambiguous("HTTP 500: 112".into());
        assert_eq!(masked(short.clone(), "112"), short);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc2822("Tue, 31 Aug 2010 20:36:28 +0000")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(7));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Tue, 31 Aug 2010 20:37:28 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(60));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Tue, 31 Aug 2010 20:30:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(0));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn call_json_becomes_a_remote_call() {
        let json = r#"{"sid": "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "to": "+14158675309", "status": "queued",
            "answered_by": null, "date_created": "Tue, 31 Aug 2010 20:36:28 +0000", "direction": "outbound-api"}"#;
        let call = serde_json::from_str::<CallJson>(json)
            .unwrap()
            .into_remote(0);
        assert_eq!(
            call,
            RemoteCall {
                id: "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
                to: "+14158675309".into(),
                status: CallStatus::Queued,
                answered_by: None,
                created_at: 1_283_286_988_000,
            }
        );
        let json = r#"{"sid": "CA1", "status": "in-progress", "answered_by": "machine_end_beep"}"#;
        let call = serde_json::from_str::<CallJson>(json)
            .unwrap()
            .into_remote(42);
        assert_eq!(call.status, CallStatus::InProgress);
        assert_eq!(call.answered_by, Some(AnsweredBy::Machine));
        assert_eq!(call.created_at, 42);
        assert_eq!(answered_by("human"), Some(AnsweredBy::Human));
        assert_eq!(answered_by("machine_start"), Some(AnsweredBy::Machine));
        assert_eq!(answered_by("fax"), Some(AnsweredBy::Machine));
        assert_eq!(answered_by("unknown"), Some(AnsweredBy::Unknown));
        assert_eq!(answered_by(""), None);
    }

    #[tokio::test]
    async fn ids_that_are_not_sids_are_refused_before_any_request() {
        let d = dialer();
        for id in ["", "../Accounts", "CA1?x=1", "CA 1"] {
            assert!(
                matches!(d.fetch(id).await, Err(DialError::Permanent { .. })),
                "{id}"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_for_a_create() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let d = TwilioDialer::new(
            &base,
            "AC0123",
            &Secret::new("tok"),
            "https://ivr.example.com",
            Duration::from_secs(5),
        );
        assert!(matches!(
            d.place(&outbound(false)).await,
            Err(DialError::Transient { code: None, .. })
        ));
        assert!(matches!(
            d.fetch("CA1").await,
            Err(DialError::Transient { .. })
        ));
    }
}
