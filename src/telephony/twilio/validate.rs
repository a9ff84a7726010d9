//! A strict TwiML validator, stricter than Twilio itself.
//!
//! Rules: Twilio rejects a bad document only at call time (12100 parse failure, 12102 wrong
//! root, 11750 over 64 kB) and merely *warns* on unknown verbs, attributes or nesting (12200)
//! while skipping the verb — a caller then hears silence. So tests and the simulator treat
//! every such warning as an error: the document must start with the XML declaration, be
//! well-formed, have a `<Response>` root, use only the documented verbs nested as documented,
//! only whitelisted attributes with valid values, and absolute http(s) URLs. Every message
//! names the offending element or attribute.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;

/// Twilio refuses larger bodies (11750).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest text one `<Say>` may speak.
pub const MAX_SAY_CHARS: usize = 4096;

/// One element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// Attribute values, unescaped, in document order.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data (entities resolved, CDATA included).
    Text(String),
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The child elements, without text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// All text below this element (SSML markup dropped), as written.
    pub fn text(&self) -> String {
        let mut out = String::new();
        collect_text(self, &mut out);
        out
    }

    /// Text directly inside this element, ignoring child elements.
    fn own_text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

fn collect_text(e: &Element, out: &mut String) {
    for n in &e.children {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Element(c) => collect_text(c, out),
        }
    }
}

/// Checks a TwiML document; the error names the offending element or attribute.
pub fn validate(xml: &str) -> Result<(), String> {
    parse_valid(xml).map(|_| ())
}

/// Validates a document and returns its `<Response>` element.
pub fn parse_valid(xml: &str) -> Result<Element, String> {
    let root = parse(xml)?;
    check_response(&root)?;
    Ok(root)
}

/// Parses a document strictly (size, declaration, well-formedness) without checking TwiML
/// rules; returns the root element.
pub fn parse(xml: &str) -> Result<Element, String> {
    if xml.len() >= MAX_BODY_BYTES {
        return Err(format!(
            "document is {} bytes; Twilio accepts less than {MAX_BODY_BYTES}",
            xml.len()
        ));
    }
    // A BOM or whitespace before the declaration is a parse failure at Twilio (12100).
    if !xml.starts_with("<?xml ") {
        return Err(
            "document must start with the XML declaration `<?xml version=\"1.0\" ...?>`".into(),
        );
    }
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_comments = true;
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut first = true;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML at byte {pos}: {e}"))?;
        if first {
            first = false;
            let Event::Decl(decl) = &event else {
                return Err("document must start with the XML declaration".into());
            };
            let version = decl
                .version()
                .map_err(|e| format!("bad XML declaration: {e}"))?;
            if version != "1.0" {
                return Err(format!(
                    "XML declaration has version {version:?}; expected \"1.0\""
                ));
            }
            if let Some(enc) = decl.encoding() {
                let enc = enc.map_err(|e| format!("bad XML declaration: {e}"))?;
                if !enc.eq_ignore_ascii_case("utf-8") {
                    return Err(format!(
                        "XML declaration has encoding {enc:?}; expected \"UTF-8\""
                    ));
                }
            }
            continue;
        }
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                return Err(format!(
                    "element <{}> after the root element",
                    start.name().as_ref()
                ));
            }
            Event::Start(start) => stack.push(element_of(&start)?),
            Event::Empty(start) => {
                let e = element_of(&start)?;
                close(e, &mut stack, &mut root);
            }
            Event::End(_) => {
                // Mismatched names were already refused by the reader.
                let e = stack.pop().ok_or("unmatched end tag")?;
                close(e, &mut stack, &mut root);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content(), root.is_some())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content(), root.is_some())?,
            Event::GeneralRef(r) => {
                let s = match r
                    .resolve_char_ref()
                    .map_err(|e| format!("bad character reference: {e}"))?
                {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_xml_entity(&r)
                        .ok_or_else(|| format!("undefined entity &{};", &*r))?
                        .to_string(),
                };
                push_text(&mut stack, &s, root.is_some())?;
            }
            Event::Comment(_) => {}
            Event::Decl(_) => return Err("a second XML declaration".into()),
            Event::PI(_) => return Err("processing instructions are not allowed in TwiML".into()),
            Event::DocType(_) => return Err("a DOCTYPE is not allowed in TwiML".into()),
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("element <{}> is not closed", open.name));
    }
    root.ok_or_else(|| "document has no root element".into())
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = start.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("<{name}> has a malformed attribute: {e}"))?;
        let key = a.key.as_ref().to_string();
        if a.value.contains('<') {
            return Err(format!("<{name} {key}> contains an unescaped '<'"));
        }
        let value = a
            .normalized_value(XmlVersion::Explicit1_0)
            .map_err(|e| format!("<{name} {key}> is not properly escaped: {e}"))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

fn close(e: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(e)),
        None => *root = Some(e),
    }
}

fn push_text(stack: &mut [Element], text: &str, after_root: bool) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_string()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if after_root => Err("text after the root element".into()),
        None => Err("text before the root element".into()),
    }
}

// ---- TwiML rules ---------------------------------------------------------------------------

/// What an element may contain.
enum Content {
    Empty,
    /// Text only (a URL, number, name…).
    Text,
    /// Child elements from the list; text must be whitespace.
    Children(&'static [&'static str]),
    /// Text and/or children from the list.
    Mixed(&'static [&'static str]),
}

const VERBS: &[&str] = &[
    "Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Dial", "Enqueue", "Leave",
    "Record",
];
const DIAL_NOUNS: &[&str] = &["Number", "Sip", "Client", "Queue", "Conference"];
const GATHER_CHILDREN: &[&str] = &["Say", "Play", "Pause"];
/// SSML tags Twilio passes to the TTS engine inside `<Say>`.
const SSML: &[&str] = &[
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "prosody",
    "s",
    "say-as",
    "sub",
    "w",
    "amazon:domain",
    "amazon:effect",
];

const STATUS_CALLBACK: &[&str] = &[
    "statusCallbackEvent",
    "statusCallback",
    "statusCallbackMethod",
];
const AMD: &[&str] = &[
    "machineDetection",
    "machineDetectionTimeout",
    "machineDetectionSpeechThreshold",
    "machineDetectionSpeechEndThreshold",
    "machineDetectionSilenceTimeout",
    "amdStatusCallback",
    "amdStatusCallbackMethod",
];

/// What one element accepts: its own attributes, shared attribute groups, and content.
type Rule = (&'static [&'static str], AttrGroups, Content);
type AttrGroups = &'static [&'static [&'static str]];

/// The rule of a TwiML element, or `None` for an unknown name.
fn rules(name: &str) -> Option<Rule> {
    Some(match name {
        "Say" => (&["voice", "language", "loop"], &[], Content::Mixed(SSML)),
        "Play" => (&["loop", "digits"], &[], Content::Text),
        "Pause" => (&["length"], &[], Content::Empty),
        "Gather" => (
            &[
                "input",
                "action",
                "method",
                "timeout",
                "numDigits",
                "finishOnKey",
                "speechTimeout",
                "maxSpeechTime",
                "language",
                "hints",
                "speechModel",
                "enhanced",
                "profanityFilter",
                "bargeIn",
                "actionOnEmptyResult",
                "partialResultCallback",
                "partialResultCallbackMethod",
                "debug",
            ],
            &[],
            Content::Children(GATHER_CHILDREN),
        ),
        "Redirect" => (&["method"], &[], Content::Text),
        "Hangup" | "Leave" => (&[], &[], Content::Empty),
        "Reject" => (&["reason"], &[], Content::Empty),
        "Dial" => (
            &[
                "action",
                "method",
                "timeout",
                "callerId",
                "record",
                "timeLimit",
                "hangupOnStar",
                "answerOnBridge",
                "ringTone",
                "trim",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "sequential",
                "referUrl",
            ],
            &[],
            Content::Mixed(DIAL_NOUNS),
        ),
        "Number" => (
            &["sendDigits", "url", "method", "byoc"],
            &[STATUS_CALLBACK, AMD],
            Content::Text,
        ),
        "Sip" => (
            &["username", "password", "url", "method"],
            &[STATUS_CALLBACK, AMD],
            Content::Text,
        ),
        "Client" => (
            &["identity", "url", "method"],
            &[STATUS_CALLBACK],
            Content::Text,
        ),
        "Queue" => (
            &["url", "method", "reservationSid", "postWorkActivitySid"],
            &[],
            Content::Text,
        ),
        "Conference" => (
            &[
                "muted",
                "beep",
                "startConferenceOnEnter",
                "endConferenceOnExit",
                "waitUrl",
                "waitMethod",
                "maxParticipants",
                "record",
                "region",
                "coach",
                "trim",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "eventCallbackUrl",
                "jitterBufferSize",
                "participantLabel",
            ],
            &[STATUS_CALLBACK],
            Content::Text,
        ),
        "Enqueue" => (
            &[
                "action",
                "method",
                "waitUrl",
                "waitUrlMethod",
                "maxQueueSize",
                "workflowSid",
            ],
            &[],
            Content::Text,
        ),
        "Record" => (
            &[
                "action",
                "method",
                "timeout",
                "finishOnKey",
                "maxLength",
                "playBeep",
                "trim",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "transcribe",
                "transcribeCallback",
            ],
            &[],
            Content::Empty,
        ),
        _ => return None,
    })
}

fn check_response(root: &Element) -> Result<(), String> {
    if root.name != "Response" {
        return Err(format!(
            "root element is <{}>; TwiML needs <Response>",
            root.name
        ));
    }
    if let Some((k, _)) = root.attrs.first() {
        return Err(format!("<Response> does not take attribute {k:?}"));
    }
    if !root.own_text().trim().is_empty() {
        return Err("<Response> contains text outside any verb".into());
    }
    for verb in root.elements() {
        if !VERBS.contains(&verb.name.as_str()) {
            return Err(format!("<{}> is not a TwiML voice verb", verb.name));
        }
        check_element(verb)?;
    }
    Ok(())
}

fn check_element(e: &Element) -> Result<(), String> {
    let name = e.name.as_str();
    let (own, groups, content) =
        rules(name).ok_or_else(|| format!("<{name}> is not a TwiML element"))?;
    for (k, v) in &e.attrs {
        if !own.contains(&k.as_str()) && !groups.iter().any(|g| g.contains(&k.as_str())) {
            return Err(format!("<{name}> does not take attribute {k:?}"));
        }
        check_value(name, k, v)?;
    }
    let text = e.own_text();
    let has_text = !text.trim().is_empty();
    match content {
        Content::Empty => {
            if has_text || e.elements().next().is_some() {
                return Err(format!("<{name}> must be empty"));
            }
        }
        Content::Text => {
            if let Some(c) = e.elements().next() {
                return Err(format!("<{name}> may not contain <{}>", c.name));
            }
        }
        Content::Children(allowed) | Content::Mixed(allowed) => {
            if has_text && matches!(content, Content::Children(_)) {
                return Err(format!("<{name}> may not contain text"));
            }
            for c in e.elements() {
                if !allowed.contains(&c.name.as_str()) {
                    return Err(format!("<{name}> may not contain <{}>", c.name));
                }
                // SSML is for the TTS engine; only the TwiML children are checked further.
                if name != "Say" {
                    check_element(c)?;
                }
            }
        }
    }
    check_body(e, &text)
}

/// Rules about an element's body and attribute combinations.
fn check_body(e: &Element, own_text: &str) -> Result<(), String> {
    let body = own_text.trim();
    let nouns = e.elements().count();
    let problem: Option<String> = match e.name.as_str() {
        "Say" => {
            let spoken = e.text();
            let n = spoken.chars().count();
            if spoken.trim().is_empty() {
                Some("<Say> has no text".into())
            } else {
                (n > MAX_SAY_CHARS)
                    .then(|| format!("<Say> text is {n} characters; the limit is {MAX_SAY_CHARS}"))
            }
        }
        "Redirect" => return check_url("Redirect", "body", body),
        "Play" if body.is_empty() => e
            .attr("digits")
            .is_none()
            .then(|| "<Play> needs an audio URL or a digits attribute".into()),
        "Play" => return check_url("Play", "body", body),
        "Dial" if nouns == 0 && body.is_empty() => Some("<Dial> has nothing to dial".into()),
        "Dial" if nouns > 0 && !body.is_empty() => {
            Some("<Dial> mixes a bare number with nouns".into())
        }
        "Dial" => (e.elements().filter(|c| c.name == "Number").count() > 10)
            .then(|| "<Dial> rings at most 10 <Number>s".into()),
        "Number" | "Client" | "Queue" | "Conference" | "Enqueue" => {
            body.is_empty().then(|| format!("<{}> is empty", e.name))
        }
        "Sip" => {
            let lower = body.to_ascii_lowercase();
            (!(lower.starts_with("sip:") || lower.starts_with("sips:")))
                .then(|| format!("<Sip> body {body:?} is not a sip: URI"))
        }
        "Gather" => (e.attr("speechModel").is_some() && e.attr("speechTimeout") == Some("auto"))
            .then(|| "<Gather speechTimeout=\"auto\"> cannot be combined with speechModel".into()),
        _ => None,
    };
    problem.map_or(Ok(()), Err)
}

fn check_value(el: &str, attr: &str, v: &str) -> Result<(), String> {
    let problem: Option<&str> = match attr {
        "method"
        | "statusCallbackMethod"
        | "amdStatusCallbackMethod"
        | "recordingStatusCallbackMethod"
        | "partialResultCallbackMethod"
        | "waitMethod"
        | "waitUrlMethod" => (v != "GET" && v != "POST").then_some("method must be GET or POST"),
        "action"
        | "url"
        | "waitUrl"
        | "statusCallback"
        | "recordingStatusCallback"
        | "partialResultCallback"
        | "transcribeCallback"
        | "amdStatusCallback"
        | "referUrl"
        | "eventCallbackUrl" => return check_url(el, attr, v),
        "input" => (!matches!(v, "dtmf" | "speech" | "dtmf speech" | "speech dtmf"))
            .then_some("input must be dtmf, speech or both"),
        "finishOnKey" if el == "Gather" => (v.chars().count() > 1 || !v.chars().all(is_key))
            .then_some("finishOnKey must be one of 0-9 * # or empty"),
        "finishOnKey" => (!v.chars().all(is_key)).then_some("finishOnKey may only contain 0-9 * #"),
        "numDigits" | "maxLength" | "maxSpeechTime" | "maxQueueSize" | "maxParticipants" => {
            (!is_positive(v)).then_some("must be a positive integer")
        }
        // Twilio refuses a zero gather timeout.
        "timeout" if el == "Gather" => (!is_positive(v)).then_some("must be a positive integer"),
        "timeout"
        | "loop"
        | "length"
        | "timeLimit"
        | "machineDetectionTimeout"
        | "machineDetectionSpeechThreshold"
        | "machineDetectionSpeechEndThreshold"
        | "machineDetectionSilenceTimeout" => {
            (!is_count(v)).then_some("must be a non-negative integer")
        }
        "speechTimeout" => {
            (v != "auto" && !is_positive(v)).then_some("must be a positive integer or auto")
        }
        "enhanced"
        | "profanityFilter"
        | "bargeIn"
        | "actionOnEmptyResult"
        | "debug"
        | "hangupOnStar"
        | "answerOnBridge"
        | "sequential"
        | "playBeep"
        | "transcribe"
        | "muted"
        | "startConferenceOnEnter"
        | "endConferenceOnExit"
        | "coach" => (v != "true" && v != "false").then_some("must be true or false"),
        "hints" | "voice" | "language" => v.trim().is_empty().then_some("must not be empty"),
        "reason" => (v != "rejected" && v != "busy").then_some("reason must be rejected or busy"),
        "record" if el == "Dial" => (!matches!(
            v,
            "do-not-record"
                | "record-from-answer"
                | "record-from-ringing"
                | "record-from-answer-dual"
                | "record-from-ringing-dual"
                | "true"
                | "false"
        ))
        .then_some("not a Dial record mode"),
        "trim" => (v != "trim-silence" && v != "do-not-trim")
            .then_some("trim must be trim-silence or do-not-trim"),
        "statusCallbackEvent" => {
            let ok = ["initiated", "ringing", "answered", "completed"];
            let mut events = v.split_whitespace().peekable();
            (events.peek().is_none() || !events.all(|ev| ok.contains(&ev))).then_some(
                "events must be a space-separated list of initiated ringing answered completed",
            )
        }
        "machineDetection" => (v != "Enable" && v != "DetectMessageEnd")
            .then_some("must be Enable or DetectMessageEnd"),
        _ => None,
    };
    match problem {
        Some(what) => Err(format!("<{el} {attr}=\"{v}\">: {what}")),
        None => Ok(()),
    }
}

fn is_key(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

fn is_count(v: &str) -> bool {
    !v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit())
}

fn is_positive(v: &str) -> bool {
    is_count(v) && v.bytes().any(|b| b != b'0')
}

fn check_url(el: &str, what: &str, url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    if !host_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "<{el}> {what} {url:?} is not an absolute http(s) URL"
        ));
    }
    Ok(())
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    fn doc(body: &str) -> String {
        format!("{DECL}<Response>{body}</Response>")
    }

    fn err(body: &str) -> String {
        match validate(&doc(body)) {
            Ok(()) => panic!("accepted: {body}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_a_typical_ivr_document() {
        let xml = doc(concat!(
            r#"<Gather input="dtmf speech" action="https://ivr.example.com/twilio/step?node=menu&amp;try=1" "#,
            r#"method="POST" timeout="5" numDigits="1" finishOnKey="" language="cmn-Hans-CN" hints="账单,故障" "#,
            r#"speechTimeout="auto" actionOnEmptyResult="false">"#,
            r#"<Say voice="Polly.Zhiyu-Neural" language="cmn-CN">请按1查询账单 &lt;&amp;&gt;&quot;&apos;</Say>"#,
            r#"<Pause length="1"/><Play>https://cdn.example.com/a.mp3</Play></Gather>"#,
            r#"<Redirect method="POST">https://ivr.example.com/twilio/step?node=menu&amp;timeout=1</Redirect>"#,
        ));
        validate(&xml).unwrap();
        let root = parse_valid(&xml).unwrap();
        let gather = root.elements().next().unwrap();
        assert_eq!(
            gather.attr("action"),
            Some("https://ivr.example.com/twilio/step?node=menu&try=1")
        );
        assert_eq!(
            gather.elements().next().unwrap().text(),
            "请按1查询账单 <&>\"'"
        );
    }

    #[test]
    fn accepts_dial_hangup_and_empty_response() {
        validate(&doc(
            r#"<Dial action="http://127.0.0.1:8080/twilio/dial?x=1" method="POST" timeout="20"><Sip>sip:agent@pbx.example.com</Sip></Dial>"#,
        ))
        .unwrap();
        validate(&doc(r#"<Dial><Number statusCallbackEvent="ringing completed">+8613800000000</Number></Dial>"#))
            .unwrap();
        validate(&doc("<Dial>+8613800000000</Dial>")).unwrap();
        validate(&doc("<Say>bye</Say><Hangup/>")).unwrap();
        validate(&format!("{DECL}<Response/>")).unwrap();
        validate(&format!(
            "{DECL}\n<!-- ok -->\n<Response>\n  <Reject reason=\"busy\"/>\n</Response>\n"
        ))
        .unwrap();
        validate(&doc(
            r#"<Say>Hello <break time="1s"/> <say-as interpret-as="digits">123</say-as></Say>"#,
        ))
        .unwrap();
        validate(&doc("<Say><![CDATA[a < b]]></Say>")).unwrap();
    }

    #[test]
    fn refuses_bad_prologs_and_roots() {
        let body = "<Response><Hangup/></Response>";
        assert!(validate(body).unwrap_err().contains("declaration"));
        assert!(
            validate(&format!("\u{feff}{DECL}{body}"))
                .unwrap_err()
                .contains("declaration")
        );
        assert!(
            validate(&format!(" {DECL}{body}"))
                .unwrap_err()
                .contains("declaration")
        );
        assert!(
            validate(&format!("{DECL}<Reply><Hangup/></Reply>"))
                .unwrap_err()
                .contains("Response")
        );
        assert!(
            validate(&format!(
                r#"<?xml version="1.0" encoding="ISO-8859-1"?>{body}"#
            ))
            .is_err()
        );
        assert!(validate(DECL).unwrap_err().contains("no root"));
        assert!(validate(&format!("{DECL}{body}<Response/>")).is_err());
        assert!(validate(&format!("{DECL}{body}trailing")).is_err());
        assert!(validate(&format!("{DECL}<!DOCTYPE x>{body}")).is_err());
        assert!(validate(&format!("{DECL}<Response version=\"1\"/>")).is_err());
    }

    #[test]
    fn refuses_malformed_xml() {
        assert!(err("<Say>a & b</Say>").contains("well-formed"));
        assert!(err("<Say>a &nbsp; b</Say>").contains("entity"));
        assert!(err("<Say>open").contains("well-formed") || err("<Say>open").contains("closed"));
        assert!(err("<Say>x</Gather>").contains("well-formed"));
        assert!(
            err(r#"<Redirect method="POST" method="GET">https://a.example/</Redirect>"#)
                .contains("Redirect")
        );
        assert!(err(r#"<Gather action="https://a.example/?a=1&b=2"/>"#).contains("action"));
        assert!(validate(&format!("{DECL}<Response><Hangup/>")).is_err());
    }

    #[test]
    fn refuses_unknown_verbs_and_bad_nesting() {
        assert!(err("<Sms>hi</Sms>").contains("<Sms>"));
        assert!(err("<say>hi</say>").contains("<say>"));
        assert!(err("<Number>+1</Number>").contains("<Number>"));
        assert!(err("<Gather><Gather/></Gather>").contains("<Gather> may not contain <Gather>"));
        assert!(
            err("<Gather><Redirect>https://a.example/</Redirect></Gather>").contains("Redirect")
        );
        assert!(err("<Gather>press one</Gather>").contains("text"));
        assert!(err("<Dial><Say>hi</Say></Dial>").contains("<Dial> may not contain <Say>"));
        assert!(err("<Dial></Dial>").contains("nothing to dial"));
        assert!(err("<Dial>+1<Number>+2</Number></Dial>").contains("mixes"));
        assert!(err("<Hangup>now</Hangup>").contains("empty"));
        assert!(err("<Pause><Say>x</Say></Pause>").contains("empty"));
        assert!(err("<Redirect><Hangup/></Redirect>").contains("Redirect"));
        assert!(err("stray text").contains("text"));
        assert!(err("<Dial><Sip>agent@pbx</Sip></Dial>").contains("sip:"));
    }

    #[test]
    fn refuses_unknown_attributes() {
        assert!(err(r#"<Say voice="x" volume="11">hi</Say>"#).contains("volume"));
        assert!(
            err(r#"<Dial statusCallbackEvent="completed">+1</Dial>"#)
                .contains("statusCallbackEvent")
        );
        assert!(err(r#"<Gather Action="https://a.example/"/>"#).contains("Action"));
        assert!(err(r#"<Hangup reason="busy"/>"#).contains("reason"));
        assert!(err(r#"<Redirect timeout="1">https://a.example/</Redirect>"#).contains("timeout"));
    }

    #[test]
    fn refuses_bad_values() {
        assert!(err(r#"<Gather input="keys"/>"#).contains("input"));
        assert!(err(r#"<Gather method="PUT"/>"#).contains("method"));
        assert!(err(r#"<Gather finishOnKey="x"/>"#).contains("finishOnKey"));
        assert!(err(r##"<Gather finishOnKey="#*"/>"##).contains("finishOnKey"));
        assert!(err(r#"<Gather timeout="five"/>"#).contains("timeout"));
        assert!(err(r#"<Gather timeout="0"/>"#).contains("timeout"));
        assert!(err(r#"<Gather numDigits="-1"/>"#).contains("numDigits"));
        assert!(err(r#"<Gather speechTimeout="soon"/>"#).contains("speechTimeout"));
        assert!(
            err(r#"<Gather speechTimeout="auto" speechModel="phone_call"/>"#)
                .contains("speechModel")
        );
        assert!(err(r#"<Gather actionOnEmptyResult="yes"/>"#).contains("actionOnEmptyResult"));
        assert!(err(r#"<Gather action="/relative"/>"#).contains("absolute"));
        assert!(err(r#"<Gather action="ftp://a.example/"/>"#).contains("absolute"));
        assert!(err("<Redirect>/twilio/voice</Redirect>").contains("absolute"));
        assert!(err("<Redirect></Redirect>").contains("absolute"));
        assert!(err(r#"<Pause length="1.5"/>"#).contains("length"));
        assert!(err(r#"<Say loop="x">hi</Say>"#).contains("loop"));
        assert!(err(r#"<Reject reason="nope"/>"#).contains("reason"));
        assert!(err(r#"<Dial record="always">+1</Dial>"#).contains("record"));
        assert!(
            err(r#"<Dial><Number statusCallbackEvent="done">+1</Number></Dial>"#)
                .contains("statusCallbackEvent")
        );
        validate(&doc(
            r#"<Gather finishOnKey="" input="speech dtmf" timeout="3"/>"#,
        ))
        .unwrap();
        validate(&doc(
            r#"<Record finishOnKey="1234567890*#" maxLength="60" playBeep="true"/>"#,
        ))
        .unwrap();
    }

    #[test]
    fn say_text_limits() {
        assert!(err("<Say></Say>").contains("no text"));
        assert!(err("<Say>   </Say>").contains("no text"));
        assert!(err("<Say/>").contains("no text"));
        let ok = "话".repeat(MAX_SAY_CHARS);
        validate(&doc(&format!("<Say>{ok}</Say>"))).unwrap();
        let long = "a".repeat(MAX_SAY_CHARS + 1);
        assert!(err(&format!("<Say>{long}</Say>")).contains("4097"));
    }

    #[test]
    fn refuses_oversized_documents() {
        let says: String = (0..20)
            .map(|_| format!("<Say>{}</Say>", "x".repeat(4000)))
            .collect();
        assert!(validate(&doc(&says)).unwrap_err().contains("bytes"));
    }
}
