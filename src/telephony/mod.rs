//! The provider-neutral call model.
//!
//! Rules: flows speak only in these types; every provider adapter (today Twilio, under
//! `twilio/`) turns `Verb`s into its own markup and its own webhook parameters into `CallInput`.
//! Nothing outside an adapter knows a provider's wire format.

pub mod twilio;

use crate::prompts::Locale;

/// One instruction to the carrier, executed in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// Text spoken to the caller in the given locale's voice.
    Say { text: String, locale: Locale },
    /// Silence, in seconds.
    Pause { seconds: u8 },
    /// Collect keys and/or speech while playing the nested prompts; on input the carrier
    /// requests `next`. Adapters always follow a gather with a redirect to `next` marked as a
    /// timeout, so silence never ends the call by accident.
    Gather(Gather),
    /// Continue at another step without input.
    Redirect { next: NextStep },
    /// Connect the caller to a number or SIP address (a person); when the transfer ends the
    /// carrier requests `next`, or, without one, the call ends with it. With a `whisper`, the
    /// carrier first runs that step on the answering person's leg (what they hear before the
    /// caller is connected).
    Transfer {
        to: String,
        next: Option<NextStep>,
        whisper: Option<NextStep>,
    },
    /// Put the caller into the carrier's queue `queue` to wait for an agent. While waiting the
    /// carrier requests `wait` again and again for what to play; when the caller leaves the
    /// queue (bridged, hung up, left for a callback, error) it requests `next` with
    /// `CallInput::QueueLeft`.
    Enqueue {
        queue: String,
        wait: NextStep,
        next: NextStep,
    },
    /// Play an audio file (hold music) from a URL the carrier can fetch.
    Play { url: String },
    /// Take the caller out of the queue they wait in (only meaningful in a wait document); the
    /// queue's `next` step is then requested with the result `leave`.
    Leave,
    /// Connect this call (an agent's) to the first caller waiting in `queue`; before the
    /// bridge, the carrier runs `bridge` on the caller's leg.
    DialQueue { queue: String, bridge: NextStep },
    /// Call a number (a customer) and connect this call to it, showing `caller_id` as the
    /// calling number when given; the document goes on after the call.
    Connect {
        to: String,
        caller_id: Option<String>,
    },
    /// Record a message after a beep, at most `max_secs` long, ended by `#` or silence; the
    /// carrier then requests `next` with the recording. Adapters follow it with a redirect to
    /// `next` marked as a timeout, for when nothing was recorded. With `transcribe`, the
    /// carrier's transcript arrives later through the adapter's own callback.
    Record {
        max_secs: u32,
        transcribe: bool,
        next: NextStep,
    },
    /// End the call.
    Hangup,
}

/// Parameters of a `Verb::Gather`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather {
    pub prompts: Vec<Verb>,
    /// Accept speech as well as keys.
    pub speech: bool,
    /// Stop after this many keys (the carrier then submits at once).
    pub num_digits: Option<u8>,
    /// A key that ends the entry early (not included in the digits), e.g. `#`.
    pub finish_on_key: Option<char>,
    /// Seconds of silence before the gather gives up.
    pub timeout_secs: u8,
    /// Locale of the speech recogniser.
    pub locale: Locale,
    /// Words the recogniser should expect.
    pub hints: Vec<String>,
    pub next: NextStep,
}

/// Where the carrier goes next: one of our webhooks and the query that carries the call's
/// state to it. Built by the flows; each provider's adapter turns the hook into its URL path
/// (for Twilio, `twilio::paths`), so no path is spelled outside the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStep {
    pub hook: Hook,
    /// URL-encoded, without the `?`; empty for none.
    pub query: String,
}

impl NextStep {
    pub fn new(hook: Hook, query: impl Into<String>) -> Self {
        NextStep {
            hook,
            query: query.into(),
        }
    }
}

/// Our webhooks, named by what they answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// A call arrives (the menu starts over from here too).
    Voice,
    /// Every later step of the inbound menu.
    Step,
    /// Status reports of inbound calls and agents' calls.
    Status,
    /// A recorded complaint's transcript.
    Transcription,
    /// Every step of a callback's survey.
    Survey,
    /// Status reports of callback attempts.
    CallbackStatus,
    /// What a caller waiting for an agent hears, again and again.
    QueueWait,
    /// What a waiting caller hears as an agent takes them.
    QueueBridge,
    /// The agents' own line.
    AgentLine,
    /// An agent answering a transfer hears who it is.
    Whisper,
    /// An agent answering a click-to-call before the customer is dialed.
    Connect,
}

/// What the caller did, as the flows see it.
#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// The call has just arrived (or a step was reached by redirect): no input.
    None,
    /// Keys pressed, without the finishing key.
    Digits(String),
    /// A speech transcript with the recogniser's confidence (0.0–1.0).
    Speech { text: String, confidence: f32 },
    /// The caller said and pressed nothing before the timeout.
    Timeout,
    /// A transfer to a person has ended; `connected` when someone answered.
    TransferEnded { connected: bool },
    /// The caller left the agent queue; `result` is what ended their wait (`bridged`,
    /// `leave`, `hangup`, `queue-full`, `error`…), as the carrier reported it.
    QueueLeft { result: String },
    /// A message was recorded.
    Recording {
        url: String,
        /// The carrier's id, which its transcript will carry.
        sid: Option<String>,
        duration_secs: i64,
    },
}

impl CallInput {
    /// The keys, or `None` for every other kind of input.
    pub fn digits(&self) -> Option<&str> {
        match self {
            CallInput::Digits(d) => Some(d),
            _ => None,
        }
    }
}

/// The lifecycle of a call as reported by the carrier, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => CallStatus::Queued,
            "initiated" => CallStatus::Initiated,
            "ringing" => CallStatus::Ringing,
            "in-progress" | "answered" => CallStatus::InProgress,
            "completed" => CallStatus::Completed,
            "busy" => CallStatus::Busy,
            "no-answer" => CallStatus::NoAnswer,
            "failed" => CallStatus::Failed,
            "canceled" => CallStatus::Canceled,
            _ => return None,
        })
    }

    /// Whether the call is over; a final status is never replaced by an earlier one.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::NoAnswer
                | CallStatus::Failed
                | CallStatus::Canceled
        )
    }
}

/// Who answered an outbound call, when the carrier detects answering machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    Human,
    Machine,
    /// Detection could not tell; treated as a person (carriers advise so).
    Unknown,
}

/// An outbound call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCall {
    pub to: String,
    pub from: String,
    /// Our webhook that answers the call.
    pub answer: NextStep,
    /// Our webhook for the call's status reports.
    pub status: NextStep,
    /// Seconds to let it ring.
    pub ring_secs: u32,
    /// Ask the carrier to detect answering machines before our webhook is requested.
    pub detect_machine: bool,
}

/// A call as the carrier reports it when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCall {
    /// The carrier's id of the call.
    pub id: String,
    pub to: String,
    pub status: CallStatus,
    pub answered_by: Option<AnsweredBy>,
    /// When the carrier created it, epoch milliseconds.
    pub created_at: i64,
}

/// Why placing (or looking up) a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// The carrier refused and will refuse again (invalid number, no permission for the
    /// destination…): the callback ends with this reason.
    #[error("refused by the carrier ({code:?}): {message}")]
    Permanent { code: Option<i64>, message: String },
    /// The carrier refused for now (rate limit, outage): nothing was placed; try later.
    #[error("temporarily refused by the carrier ({code:?}): {message}")]
    Transient {
        code: Option<i64>,
        message: String,
        /// How long the carrier asked us to wait, if it said.
        retry_after_secs: Option<u64>,
    },
    /// No answer from the carrier (timeout, connection lost mid-request): the call may or may
    /// not have been placed; it must be reconciled before anyone is dialed again.
    #[error("no clear answer from the carrier: {0}")]
    Ambiguous(String),
}

/// A recording's media, as the carrier serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a recording could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("the carrier has no recording {0}")]
    NotFound(String),
    #[error("the recording could not be fetched from the carrier: {0}")]
    Unavailable(String),
}

/// Fetches recordings from the carrier, with the account's credentials: agents play them
/// through the service, never from the carrier directly.
#[async_trait::async_trait]
pub trait Recordings: Send + Sync + 'static {
    async fn recording(&self, sid: &str) -> Result<Media, RecordingError>;
}

/// Places outbound calls through a carrier's REST API.
#[async_trait::async_trait]
pub trait Dialer: Send + Sync + 'static {
    /// Places one call; returns the carrier's id of it. Never retried inside: a retry is the
    /// caller's decision, after reconciling.
    async fn place(&self, call: &OutboundCall) -> Result<RemoteCall, DialError>;
    /// The call with this id, if the carrier knows it.
    async fn fetch(&self, id: &str) -> Result<Option<RemoteCall>, DialError>;
    /// Calls to `to` the carrier created at or after `since` (epoch ms): how an attempt whose
    /// request got no answer is reconciled.
    async fn calls_to_since(&self, to: &str, since: i64) -> Result<Vec<RemoteCall>, DialError>;
}

/// Masks a phone number for logs: keeps the country prefix and the last two digits.
pub fn mask_number(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_head = if chars[0] == '+' { 3 } else { 1 };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i + 2 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_for_logs() {
        assert_eq!(mask_number("+8613812345678"), "+86*********78");
        assert_eq!(mask_number("1234"), "****");
        assert_eq!(mask_number("010123456"), "0******56");
    }
}
