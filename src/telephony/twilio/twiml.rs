//! Renders provider-neutral `Verb`s as a TwiML document.
//!
//! Rules: the XML declaration is the very first bytes (anything before it is a parse failure
//! at Twilio); every text node and attribute value is escaped with all five entities; URLs are
//! absolute (`base_url` + the step's path and query). Every `<Gather>` is followed by a
//! `<Redirect>` to the same step marked `timeout=1`, because a gather that hears nothing
//! falls through to the next verb and, with none, Twilio hangs up. A `<Say>` speaks at most
//! 4000 characters (Twilio's limit is 4096); longer text becomes several `<Say>`s split at
//! sentence or word boundaries. The output always passes `validate::validate`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;

use super::paths;
use crate::config::VoiceConfig;
use crate::prompts::Locale;
use crate::telephony::{Gather, Hook, NextStep, Verb};

/// The `Content-Type` of every TwiML answer.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
/// Below Twilio's 4096 so a margin remains for whatever it counts differently.
const MAX_SAY_CHARS: usize = 4000;

/// The TwiML document for `verbs`; step URLs are resolved against `base_url` (the public URL).
pub fn render(verbs: &[Verb], base_url: &str, voices: &BTreeMap<Locale, VoiceConfig>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(DECLARATION);
    out.push_str("<Response>");
    for verb in verbs {
        render_verb(&mut out, verb, base_url, voices);
    }
    out.push_str("</Response>");
    out
}

/// A document that apologises and hangs up; answered when anything else fails, so it
/// depends on nothing but its arguments.
pub fn apology(text: &str, voice: &VoiceConfig) -> String {
    let mut out = String::with_capacity(128 + text.len());
    out.push_str(DECLARATION);
    out.push_str("<Response>");
    push_say(&mut out, text, voice);
    out.push_str("<Hangup/></Response>");
    out
}

fn render_verb(
    out: &mut String,
    verb: &Verb,
    base_url: &str,
    voices: &BTreeMap<Locale, VoiceConfig>,
) {
    match verb {
        Verb::Say { text, locale } => push_say(out, text, &voice_for(voices, *locale)),
        Verb::Pause { seconds } => push_pause(out, *seconds),
        Verb::Gather(g) => push_gather(out, g, base_url, voices),
        Verb::Redirect { next } => push_redirect(out, &paths::absolute(base_url, next)),
        Verb::Transfer { to, next, whisper } => {
            let to = to.trim();
            let noun = if to.to_ascii_lowercase().starts_with("sip:") {
                "Sip"
            } else {
                "Number"
            };
            push_dial_open(
                out,
                next.as_ref().map(|n| paths::absolute(base_url, n)),
                None,
            );
            let _ = write!(out, "<{noun}");
            if let Some(w) = whisper {
                let _ = write!(
                    out,
                    r#" url="{}" method="POST""#,
                    escape(&paths::absolute(base_url, w))
                );
            }
            let _ = write!(out, ">{}</{noun}></Dial>", escape(to));
        }
        Verb::Enqueue { queue, wait, next } => {
            let _ = write!(
                out,
                r#"<Enqueue action="{}" method="POST" waitUrl="{}" waitUrlMethod="POST">{}</Enqueue>"#,
                escape(&paths::absolute(base_url, next)),
                escape(&paths::absolute(base_url, wait)),
                escape(&queue_name(queue))
            );
        }
        Verb::Play { url } => push_play(out, url),
        Verb::Leave => out.push_str("<Leave/>"),
        Verb::DialQueue { queue, bridge } => {
            let _ = write!(
                out,
                r#"<Dial><Queue url="{}" method="POST">{}</Queue></Dial>"#,
                escape(&paths::absolute(base_url, bridge)),
                escape(&queue_name(queue))
            );
        }
        Verb::Connect { to, caller_id } => {
            push_dial_open(out, None, caller_id.as_deref());
            let _ = write!(out, "<Number>{}</Number></Dial>", escape(to.trim()));
        }
        Verb::Record {
            max_secs,
            transcribe,
            next,
        } => {
            let action = paths::absolute(base_url, next);
            let _ = write!(
                out,
                r##"<Record action="{}" method="POST" maxLength="{}" timeout="5" finishOnKey="#" playBeep="true" trim="trim-silence""##,
                escape(&action),
                (*max_secs).max(1)
            );
            if *transcribe {
                let _ = write!(
                    out,
                    r#" transcribe="true" transcribeCallback="{}""#,
                    escape(&paths::absolute(
                        base_url,
                        &NextStep::new(Hook::Transcription, "")
                    ))
                );
            }
            out.push_str("/>");
            // Nothing recorded: Twilio goes on to the next verb without calling the action.
            let sep = if action.contains('?') { '&' } else { '?' };
            push_redirect(out, &format!("{action}{sep}timeout=1"));
        }
        Verb::Hangup => out.push_str("<Hangup/>"),
    }
}

/// `<Dial>` with its action (the next step) and caller id, when there are.
fn push_dial_open(out: &mut String, action: Option<String>, caller_id: Option<&str>) {
    out.push_str("<Dial");
    if let Some(action) = action {
        let _ = write!(out, r#" action="{}" method="POST""#, escape(&action));
    }
    if let Some(id) = caller_id.map(str::trim).filter(|c| !c.is_empty()) {
        let _ = write!(out, r#" callerId="{}""#, escape(id));
    }
    out.push('>');
}

/// Twilio's queue names are at most 64 characters (the config refuses longer ones; this keeps
/// a bad one from making the document invalid).
fn queue_name(name: &str) -> String {
    name.trim().chars().take(64).collect()
}

/// `<Play>` of an audio URL; anything that is not an absolute http(s) URL would be refused by
/// Twilio, so it is dropped rather than breaking the document.
fn push_play(out: &mut String, url: &str) {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if (lower.starts_with("http://") || lower.starts_with("https://"))
        && !url.chars().any(char::is_whitespace)
    {
        let _ = write!(out, "<Play>{}</Play>", escape(url));
    } else {
        tracing::warn!(url, "not an absolute http(s) audio URL; <Play> dropped");
    }
}

fn push_gather(
    out: &mut String,
    g: &Gather,
    base_url: &str,
    voices: &BTreeMap<Locale, VoiceConfig>,
) {
    let action = paths::absolute(base_url, &g.next);
    let mut attrs: Vec<(&str, String)> = vec![
        (
            "input",
            if g.speech { "dtmf speech" } else { "dtmf" }.to_string(),
        ),
        ("action", action.clone()),
        ("method", "POST".into()),
        // Twilio refuses a zero timeout.
        ("timeout", g.timeout_secs.max(1).to_string()),
    ];
    if let Some(n) = g.num_digits.filter(|n| *n > 0) {
        attrs.push(("numDigits", n.to_string()));
    }
    // Twilio's default finishing key is '#', so "none" must be said explicitly.
    let finish = g
        .finish_on_key
        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#');
    attrs.push(("finishOnKey", finish.map(String::from).unwrap_or_default()));
    if g.speech {
        attrs.push((
            "language",
            voice_for(voices, g.locale).speech_language.clone(),
        ));
        // A comma inside a hint would split it in two.
        let hints: Vec<String> = g
            .hints
            .iter()
            .map(|h| h.replace(',', " ").trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        if !hints.is_empty() {
            attrs.push(("hints", hints.join(",")));
        }
        attrs.push(("speechTimeout", "auto".into()));
    }
    attrs.push(("actionOnEmptyResult", "false".into()));

    out.push_str("<Gather");
    for (k, v) in &attrs {
        let _ = write!(out, r#" {k}="{}""#, escape(v));
    }
    out.push('>');
    for prompt in &g.prompts {
        match prompt {
            Verb::Say { text, locale } => push_say(out, text, &voice_for(voices, *locale)),
            Verb::Pause { seconds } => push_pause(out, *seconds),
            Verb::Play { url } => push_play(out, url),
            // Twilio would skip them with a warning; dropping them keeps the document valid.
            other => {
                tracing::warn!(verb = ?other, "only Say, Play and Pause may be nested in a Gather; dropped")
            }
        }
    }
    out.push_str("</Gather>");
    let sep = if action.contains('?') { '&' } else { '?' };
    push_redirect(out, &format!("{action}{sep}timeout=1"));
}

fn push_say(out: &mut String, text: &str, voice: &VoiceConfig) {
    for chunk in split_text(text, MAX_SAY_CHARS) {
        let _ = write!(
            out,
            r#"<Say voice="{}" language="{}">{}</Say>"#,
            escape(&voice.voice),
            escape(&voice.language),
            escape(chunk)
        );
    }
}

fn push_pause(out: &mut String, seconds: u8) {
    // A zero-length pause is no pause.
    if seconds > 0 {
        let _ = write!(out, r#"<Pause length="{seconds}"/>"#);
    }
}

fn push_redirect(out: &mut String, url: &str) {
    let _ = write!(out, r#"<Redirect method="POST">{}</Redirect>"#, escape(url));
}

fn voice_for(voices: &BTreeMap<Locale, VoiceConfig>, locale: Locale) -> Cow<'_, VoiceConfig> {
    if let Some(v) = voices.get(&locale) {
        return Cow::Borrowed(v);
    }
    // Twilio's default voice cannot speak every language, so fall back to the built-in one.
    tracing::warn!(
        locale = locale.tag(),
        "no voice configured for locale; using the default"
    );
    let mut defaults = crate::config::Config::default().voices;
    Cow::Owned(defaults.remove(&locale).unwrap_or_else(|| VoiceConfig {
        voice: "Polly.Joanna-Neural".into(),
        language: "en-US".into(),
        speech_language: "en-US".into(),
    }))
}

/// `base_url` joined with a step's path and query, with exactly one slash between them.
/// Splits `text` into trimmed pieces of at most `max` characters, preferring the end of a
/// sentence, then whitespace, and cutting at a character boundary only when there is neither.
fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let mut sentence_end = None;
        let mut space = None;
        let mut chars = window.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let end = i + c.len_utf8();
            let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
            if matches!(c, '。' | '！' | '？' | '；' | '…' | '\n')
                || (matches!(c, '.' | '!' | '?' | ';') && next_is_space)
            {
                sentence_end = Some(end);
            } else if c.is_whitespace() && i > 0 {
                space = Some(i);
            }
        }
        let cut = sentence_end.or(space).filter(|&c| c > 0).unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim();
        if !head.is_empty() {
            pieces.push(head);
        }
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// Escapes the five XML entities and drops characters XML 1.0 cannot carry at all.
/// Borrows the text when it has none of them, as nearly all text has.
fn escape(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out = String::new();
    // The start of the run of plain text not copied yet.
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (with, len) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            // A raw CR would be normalised to LF by the parser.
            b'\r' => ("&#13;", 1),
            b'\t' | b'\n' => ("", 0),
            b if b < 0x20 => ("", 1),
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF in UTF-8).
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => ("", 3),
            _ => ("", 0),
        };
        if len == 0 {
            i += 1;
            continue;
        }
        // `i` and `i + len` are character boundaries: an ASCII byte, or a whole character.
        out.push_str(s.get(plain..i).unwrap_or_default());
        out.push_str(with);
        i += len;
        plain = i;
    }
    if plain == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    Cow::Owned(out)
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::telephony::twilio::validate::{Element, parse_valid, validate};

    const BASE: &str = "https://ivr.example.com";

    fn voices() -> BTreeMap<Locale, VoiceConfig> {
        crate::config::Config::default().voices
    }

    fn say(text: &str, locale: Locale) -> Verb {
        Verb::Say {
            text: text.into(),
            locale,
        }
    }

    fn gather(next: NextStep, speech: bool) -> Gather {
        Gather {
            prompts: vec![
                say("请按1查询账单", Locale::ZhCn),
                Verb::Pause { seconds: 1 },
            ],
            speech,
            num_digits: Some(1),
            finish_on_key: None,
            timeout_secs: 5,
            locale: Locale::ZhCn,
            hints: vec!["账单".into(), "故障".into()],
            next,
        }
    }

    fn verbs_of(xml: &str) -> Vec<Element> {
        validate(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        parse_valid(xml).unwrap().elements().cloned().collect()
    }

    #[test]
    fn starts_with_the_declaration_and_has_a_response_root() {
        let xml = render(&[Verb::Hangup], BASE, &voices());
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#));
        assert!(xml.ends_with("</Response>"));
        assert_eq!(verbs_of(&xml)[0].name, "Hangup");
        assert_eq!(
            render(&[], BASE, &voices()),
            format!("{DECLARATION}<Response></Response>")
        );
    }

    #[test]
    fn say_uses_the_locale_voice_and_escapes_text() {
        let xml = render(
            &[say(r#"1 < 2 & "x" > 'y'"#, Locale::EnUs)],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Say voice="Polly.Joanna-Neural" language="en-US">1 &lt; 2 &amp; &quot;x&quot; &gt; &apos;y&apos;</Say>"#
        ));
        let verbs = verbs_of(&xml);
        assert_eq!(verbs[0].text(), r#"1 < 2 & "x" > 'y'"#);
    }

    #[test]
    fn chinese_text_is_kept_verbatim() {
        let text = "您好，欢迎致电客服热线。查询账单请按1。";
        let xml = render(&[say(text, Locale::ZhCn)], BASE, &voices());
        let verbs = verbs_of(&xml);
        assert_eq!(verbs[0].attr("voice"), Some("Polly.Zhiyu-Neural"));
        assert_eq!(verbs[0].attr("language"), Some("cmn-CN"));
        assert_eq!(verbs[0].text(), text);
    }

    #[test]
    fn gather_is_followed_by_a_timeout_redirect() {
        let xml = render(
            &[Verb::Gather(gather(
                NextStep::new(Hook::Step, "node=menu&lang=zh"),
                false,
            ))],
            BASE,
            &voices(),
        );
        assert!(
            xml.contains(r#"action="https://ivr.example.com/twilio/step?node=menu&amp;lang=zh""#)
        );
        assert!(xml.contains(
            r#"</Gather><Redirect method="POST">https://ivr.example.com/twilio/step?node=menu&amp;lang=zh&amp;timeout=1</Redirect>"#
        ));
        let verbs = verbs_of(&xml);
        assert_eq!(verbs.len(), 2);
        let g = &verbs[0];
        assert_eq!(g.name, "Gather");
        assert_eq!(g.attr("input"), Some("dtmf"));
        assert_eq!(g.attr("method"), Some("POST"));
        assert_eq!(g.attr("timeout"), Some("5"));
        assert_eq!(g.attr("numDigits"), Some("1"));
        assert_eq!(g.attr("finishOnKey"), Some(""));
        assert_eq!(g.attr("actionOnEmptyResult"), Some("false"));
        assert_eq!(g.attr("language"), None);
        assert_eq!(g.attr("hints"), None);
        let nested: Vec<&str> = g.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(nested, ["Say", "Pause"]);
        assert_eq!(verbs[1].name, "Redirect");
        assert_eq!(
            verbs[1].text(),
            "https://ivr.example.com/twilio/step?node=menu&lang=zh&timeout=1"
        );
    }

    #[test]
    fn timeout_redirect_starts_a_query_when_there_is_none() {
        let xml = render(
            &[Verb::Gather(gather(NextStep::new(Hook::Step, ""), false))],
            "https://ivr.example.com/base/",
            &voices(),
        );
        let verbs = verbs_of(&xml);
        assert_eq!(
            verbs[0].attr("action"),
            Some("https://ivr.example.com/base/twilio/step")
        );
        assert_eq!(
            verbs[1].text(),
            "https://ivr.example.com/base/twilio/step?timeout=1"
        );
    }

    #[test]
    fn speech_gather_has_language_hints_and_auto_timeout() {
        let mut g = gather(NextStep::new(Hook::Step, "node=menu"), true);
        g.finish_on_key = Some('#');
        g.num_digits = None;
        g.hints.push("a,b".into());
        let xml = render(&[Verb::Gather(g)], BASE, &voices());
        let verbs = verbs_of(&xml);
        let g = &verbs[0];
        assert_eq!(g.attr("input"), Some("dtmf speech"));
        assert_eq!(g.attr("language"), Some("cmn-Hans-CN"));
        assert_eq!(g.attr("hints"), Some("账单,故障,a b"));
        assert_eq!(g.attr("speechTimeout"), Some("auto"));
        assert_eq!(g.attr("finishOnKey"), Some("#"));
        assert_eq!(g.attr("numDigits"), None);
    }

    #[test]
    fn gather_drops_verbs_twilio_would_not_nest() {
        let mut g = gather(NextStep::new(Hook::Step, ""), false);
        g.prompts.push(Verb::Hangup);
        g.prompts.push(Verb::Pause { seconds: 0 });
        let xml = render(&[Verb::Gather(g)], BASE, &voices());
        let verbs = verbs_of(&xml);
        assert_eq!(verbs[0].elements().count(), 2);
    }

    #[test]
    fn urls_are_escaped_everywhere() {
        let next = NextStep::new(Hook::Step, r#"a=1&b=<x>&c="q"&d='s'"#);
        let xml = render(
            &[
                Verb::Redirect { next: next.clone() },
                Verb::Transfer {
                    to: "+8613800000000".into(),
                    next: Some(next.clone()),
                    whisper: None,
                },
            ],
            BASE,
            &voices(),
        );
        assert!(!xml.contains("&b="), "{xml}");
        assert!(xml.contains("a=1&amp;b=&lt;x&gt;&amp;c=&quot;q&quot;&amp;d=&apos;s&apos;"));
        let verbs = verbs_of(&xml);
        let url = r#"https://ivr.example.com/twilio/step?a=1&b=<x>&c="q"&d='s'"#;
        assert_eq!(verbs[0].text(), url);
        assert_eq!(verbs[1].attr("action"), Some(url));
    }

    #[test]
    fn transfer_dials_a_number_or_a_sip_address() {
        let next = NextStep::new(Hook::Step, "call=1");
        let xml = render(
            &[
                Verb::Transfer {
                    to: "+8613800000000".into(),
                    next: Some(next.clone()),
                    whisper: None,
                },
                Verb::Transfer {
                    to: "sip:agents@pbx.example.com".into(),
                    next: None,
                    whisper: None,
                },
            ],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Dial action="https://ivr.example.com/twilio/step?call=1" method="POST"><Number>+8613800000000</Number></Dial>"#
        ));
        let verbs = verbs_of(&xml);
        assert_eq!(
            verbs[1].attr("action"),
            None,
            "no follow-up: the call ends with the transfer"
        );
        assert_eq!(verbs[1].elements().next().unwrap().name, "Sip");
        assert_eq!(
            verbs[1].elements().next().unwrap().text(),
            "sip:agents@pbx.example.com"
        );
    }

    #[test]
    fn transfer_with_a_whisper_runs_it_on_the_answering_leg() {
        let xml = render(
            &[
                Verb::Transfer {
                    to: "+8610010000".into(),
                    next: Some(NextStep::new(Hook::Step, "s=3&n=transfer.done")),
                    whisper: Some(NextStep::new(Hook::Whisper, "call=CA1&x=<y>")),
                },
                Verb::Transfer {
                    to: "sip:agents@pbx.example.com".into(),
                    next: None,
                    whisper: Some(NextStep::new(Hook::Whisper, "call=CA1")),
                },
            ],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Dial action="https://ivr.example.com/twilio/step?s=3&amp;n=transfer.done" method="POST"><Number url="https://ivr.example.com/twilio/whisper?call=CA1&amp;x=&lt;y&gt;" method="POST">+8610010000</Number></Dial>"#
        ), "{xml}");
        let verbs = verbs_of(&xml);
        let sip = verbs[1].elements().next().unwrap();
        assert_eq!(sip.name, "Sip");
        assert_eq!(
            sip.attr("url"),
            Some("https://ivr.example.com/twilio/whisper?call=CA1")
        );
    }

    #[test]
    fn enqueue_names_the_queue_with_wait_and_action_urls() {
        let xml = render(
            &[Verb::Enqueue {
                queue: "agents & <co>".into(),
                wait: NextStep::new(Hook::QueueWait, "l=zh"),
                next: NextStep::new(Hook::Step, "s=4&n=queue.done&t=0&l=zh"),
            }],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Enqueue action="https://ivr.example.com/twilio/step?s=4&amp;n=queue.done&amp;t=0&amp;l=zh" method="POST" waitUrl="https://ivr.example.com/twilio/queue/wait?l=zh" waitUrlMethod="POST">agents &amp; &lt;co&gt;</Enqueue>"#
        ), "{xml}");
        let verbs = verbs_of(&xml);
        assert_eq!(verbs[0].text(), "agents & <co>");
    }

    #[test]
    fn wait_documents_play_music_inside_a_gather_and_leave() {
        let mut g = gather(NextStep::new(Hook::QueueWait, "l=zh&g=1"), false);
        g.prompts.push(Verb::Play {
            url: "http://music.example.com/hold.mp3".into(),
        });
        g.prompts.push(Verb::Play {
            url: "not a url".into(),
        });
        let xml = render(&[Verb::Gather(g), Verb::Leave], BASE, &voices());
        let verbs = verbs_of(&xml);
        let nested: Vec<&str> = verbs[0].elements().map(|e| e.name.as_str()).collect();
        assert_eq!(nested, ["Say", "Pause", "Play"], "{xml}");
        assert_eq!(
            verbs[0].elements().nth(2).unwrap().text(),
            "http://music.example.com/hold.mp3"
        );
        assert_eq!(verbs[2].name, "Leave");
    }

    #[test]
    fn an_agent_dials_the_queue_and_a_customer_is_dialed_with_a_caller_id() {
        let xml = render(
            &[
                Verb::DialQueue {
                    queue: "agents".into(),
                    bridge: NextStep::new(Hook::QueueBridge, "l=en"),
                },
                Verb::Connect {
                    to: "+8613800000001".into(),
                    caller_id: Some("+8610000".into()),
                },
                Verb::Connect {
                    to: "+8613800000001".into(),
                    caller_id: None,
                },
            ],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Dial><Queue url="https://ivr.example.com/twilio/queue/bridge?l=en" method="POST">agents</Queue></Dial>"#
        ), "{xml}");
        assert!(xml.contains(
            r#"<Dial callerId="+8610000"><Number>+8613800000001</Number></Dial><Dial><Number>+8613800000001</Number></Dial>"#
        ), "{xml}");
        verbs_of(&xml);
    }

    #[test]
    fn pause_redirect_and_hangup() {
        let xml = render(
            &[
                Verb::Pause { seconds: 2 },
                Verb::Redirect {
                    next: NextStep::new(Hook::Voice, ""),
                },
                Verb::Hangup,
            ],
            BASE,
            &voices(),
        );
        assert!(xml.contains(
            r#"<Pause length="2"/><Redirect method="POST">https://ivr.example.com/twilio/voice</Redirect><Hangup/>"#
        ));
        verbs_of(&xml);
    }

    #[test]
    fn long_text_is_split_at_sentence_boundaries() {
        let sentence = "This is a rather long sentence about your bill. ";
        let text = sentence.repeat(200); // 9800 characters
        let xml = render(&[say(&text, Locale::EnUs)], BASE, &voices());
        let verbs = verbs_of(&xml);
        assert!(verbs.len() >= 3);
        for v in &verbs {
            let t = v.text();
            assert!(t.chars().count() <= MAX_SAY_CHARS);
            assert!(
                t.ends_with("bill."),
                "split mid-sentence: …{}",
                &t[t.len() - 20..]
            );
        }
        let joined: Vec<String> = verbs.iter().map(|v| v.text()).collect();
        assert_eq!(joined.join(" "), text.trim());
    }

    #[test]
    fn long_text_without_boundaries_is_split_between_characters() {
        let text = "话".repeat(9001);
        let pieces = split_text(&text, MAX_SAY_CHARS);
        assert_eq!(
            pieces.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [4000, 4000, 1001]
        );
        assert_eq!(pieces.concat(), text);
        let chinese = "请核对账单。".repeat(1000);
        for p in split_text(&chinese, MAX_SAY_CHARS) {
            assert!(p.ends_with('。'));
        }
        let words = "word ".repeat(2000);
        for p in split_text(&words, MAX_SAY_CHARS) {
            assert!(p.ends_with("word") && p.starts_with("word"));
        }
        verbs_of(&render(&[say(&text, Locale::ZhCn)], BASE, &voices()));
    }

    #[test]
    fn empty_say_is_omitted() {
        let xml = render(&[say("   ", Locale::EnUs), Verb::Hangup], BASE, &voices());
        assert_eq!(verbs_of(&xml).len(), 1);
    }

    #[test]
    fn control_characters_are_dropped() {
        let xml = render(&[say("a\u{0}b\u{7}c\r\nd", Locale::EnUs)], BASE, &voices());
        assert_eq!(verbs_of(&xml)[0].text(), "abc\r\nd");
    }

    #[test]
    fn escape_replaces_entities_drops_what_xml_cannot_carry_and_borrows_plain_text() {
        assert_eq!(
            escape("a&b<c>\"d'\r\t\n\u{1}e\u{FFFE}f\u{FFFF}，\u{FF0C}g"),
            "a&amp;b&lt;c&gt;&quot;d&apos;&#13;\t\nef，，g"
        );
        assert!(matches!(escape("账单，请按 1。"), Cow::Borrowed(_)));
        assert!(matches!(escape("&"), Cow::Owned(s) if s == "&amp;"));
        assert_eq!(escape("\u{EFFF}\u{FFFD}"), "\u{EFFF}\u{FFFD}");
    }

    #[test]
    fn apology_says_and_hangs_up() {
        let v = VoiceConfig {
            voice: "Polly.Zhiyu".into(),
            language: "cmn-CN".into(),
            speech_language: "x".into(),
        };
        let xml = apology("抱歉，系统繁忙 & 请稍后再拨。", &v);
        assert!(xml.starts_with(DECLARATION));
        let verbs = verbs_of(&xml);
        assert_eq!(
            verbs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["Say", "Hangup"]
        );
        assert_eq!(verbs[0].text(), "抱歉，系统繁忙 & 请稍后再拨。");
        assert_eq!(verbs[0].attr("voice"), Some("Polly.Zhiyu"));
    }

    #[test]
    fn missing_voice_falls_back_to_the_builtin_one() {
        let xml = render(&[say("hi", Locale::EnUs)], BASE, &BTreeMap::new());
        assert_eq!(verbs_of(&xml)[0].attr("voice"), Some("Polly.Joanna-Neural"));
    }

    #[test]
    fn content_type_is_xml() {
        assert_eq!(CONTENT_TYPE, "text/xml; charset=utf-8");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever a caller's data holds, the document stays well-formed and says the
            /// text, less only what XML 1.0 cannot carry.
            #[test]
            fn escaped_text_reads_back(text in any::<String>()) {
                let doc = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say></Response>",
                    escape(&text)
                );
                let root = crate::telephony::twilio::validate::parse(&doc)
                    .map_err(TestCaseError::fail)?;
                let carried: String = text
                    .chars()
                    .filter(|c| {
                        matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
                    })
                    .collect();
                prop_assert_eq!(root.text(), carried);
            }
        }
    }
}
