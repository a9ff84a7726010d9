//! The URL paths of our webhooks as Twilio requests them: the one place a path is spelled.
//!
//! Rules: every `Hook` has one path under `/twilio/`; the router serves exactly these, and
//! every URL in TwiML or in a Calls API request is the public base URL, the path and the
//! state's query, so the signature Twilio computes over it is the one we check.

use crate::telephony::{Hook, NextStep};

/// The path of a webhook.
pub fn path(hook: Hook) -> &'static str {
    match hook {
        Hook::Voice => "/twilio/voice",
        Hook::Step => "/twilio/step",
        Hook::Status => "/twilio/status",
        Hook::Transcription => "/twilio/transcription",
        Hook::Survey => "/twilio/survey",
        Hook::CallbackStatus => "/twilio/callback-status",
        Hook::QueueWait => "/twilio/queue/wait",
        Hook::QueueBridge => "/twilio/queue/bridge",
        Hook::AgentLine => "/twilio/agent",
        Hook::Whisper => "/twilio/whisper",
        Hook::Connect => "/twilio/connect",
    }
}

/// The path and query of `next`, relative to the public base URL.
pub fn relative(next: &NextStep) -> String {
    if next.query.is_empty() {
        path(next.hook).to_string()
    } else {
        format!("{}?{}", path(next.hook), next.query)
    }
}

/// The absolute URL of `next` under `base_url` (the public URL, with or without a trailing
/// slash).
pub fn absolute(base_url: &str, next: &NextStep) -> String {
    format!("{}{}", base_url.trim_end_matches('/'), relative(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Hook; 11] = [
        Hook::Voice,
        Hook::Step,
        Hook::Status,
        Hook::Transcription,
        Hook::Survey,
        Hook::CallbackStatus,
        Hook::QueueWait,
        Hook::QueueBridge,
        Hook::AgentLine,
        Hook::Whisper,
        Hook::Connect,
    ];

    #[test]
    fn every_hook_has_its_own_path_under_twilio() {
        let paths: std::collections::HashSet<_> = ALL.iter().map(|h| path(*h)).collect();
        assert_eq!(paths.len(), ALL.len());
        assert!(paths.iter().all(|p| p.starts_with("/twilio/")));
    }

    #[test]
    fn urls_carry_the_query_after_the_path() {
        let next = NextStep::new(Hook::QueueWait, "l=zh&g=1");
        assert_eq!(relative(&next), "/twilio/queue/wait?l=zh&g=1");
        assert_eq!(
            absolute("https://h.example/", &next),
            "https://h.example/twilio/queue/wait?l=zh&g=1"
        );
        assert_eq!(
            absolute("https://h.example", &NextStep::new(Hook::AgentLine, "")),
            "https://h.example/twilio/agent"
        );
    }
}
