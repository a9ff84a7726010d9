//! `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + sorted form parameters)).
//!
//! Rules: the URL is the full public URL Twilio requested, with the raw query string exactly
//! as received — never re-encoded or re-ordered, because Twilio signed the bytes it sent.
//! Parameters are the decoded form pairs, every one of them: Twilio adds parameters without
//! notice and signs them all. Keys are sorted by byte order; each key's values are sorted and
//! de-duplicated (as the official libraries do). Comparison is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for a form-encoded request to `url` carrying `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(digest(auth_token, url, &sorted_params(params)))
}

/// Whether `signature` (the header value) signs this request.
///
/// Twilio has changed over time whether the port appears in the signed URL, so like the
/// official validators this accepts the URL as given, without its port, and with the
/// scheme's default port added (`:443` / `:80`) when none is present. A non-default port is
/// never replaced by the default one. An undecodable header is simply not a match.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature) else {
        return false;
    };
    let params = sorted_params(params);
    // Each comparison is constant-time; which variant of the (public) URL matched is no
    // secret, so the first match ends the search.
    let matches = |url: &str| {
        let mut mac = mac(auth_token);
        mac.update(url.as_bytes());
        mac.update(params.as_bytes());
        mac.verify_slice(&expected).is_ok()
    };
    matches(url)
        || [without_port(url), with_default_port(url)]
            .into_iter()
            .flatten()
            .any(|variant| variant != url && matches(&variant))
}

fn mac(auth_token: &str) -> HmacSha1 {
    // HMAC hashes over-long keys and pads short ones, so every length is accepted.
    HmacSha1::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

fn digest(auth_token: &str, url: &str, params: &str) -> Vec<u8> {
    let mut mac = mac(auth_token);
    mac.update(url.as_bytes());
    mac.update(params.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The parameters as signed, after the URL: every key followed by its value, sorted by key
/// and then value, each pair once.
fn sorted_params(params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = (params.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut s = String::with_capacity(sorted.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (k, v) in sorted {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

#[cfg(test)]
fn string_to_sign(url: &str, params: &[(String, String)]) -> String {
    format!("{url}{}", sorted_params(params))
}

/// Byte range of the `:port` part of the URL's authority, and the scheme.
fn port_span(url: &str) -> Option<(&str, usize, Option<usize>)> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let auth_start = scheme_end + 3;
    let auth_end = url[auth_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| auth_start + i);
    let authority = &url[auth_start..auth_end];
    // Userinfo (`user:pass@`) may itself contain a colon.
    let host_start = auth_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host = &url[host_start..auth_end];
    // An IPv6 literal (`[::1]`) has colons of its own; the port follows the bracket.
    let search_from = if host.starts_with('[') {
        host.find(']')?
    } else {
        0
    };
    let colon = host[search_from..]
        .find(':')
        .map(|i| host_start + search_from + i);
    Some((scheme, auth_end, colon))
}

fn without_port(url: &str) -> Option<String> {
    let (_, host_end, colon) = port_span(url)?;
    let colon = colon?;
    Some(format!("{}{}", &url[..colon], &url[host_end..]))
}

fn with_default_port(url: &str) -> Option<String> {
    let (scheme, host_end, colon) = port_span(url)?;
    if colon.is_some() {
        return None;
    }
    let port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    Some(format!("{}:{}{}", &url[..host_end], port, &url[host_end..]))
}

#[cfg(test)]
// A panic is how a test reports failure.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const BASE_SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base_params() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn string_to_sign_matches_the_documented_example() {
        assert_eq!(
            string_to_sign(URL, &base_params()),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309\
             Digits1234From+14158675309To+18005551212"
        );
    }

    #[test]
    fn official_base_vector() {
        assert_eq!(sign(TOKEN, URL, &base_params()), BASE_SIG);
        assert!(verify(TOKEN, URL, &base_params(), BASE_SIG));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut params = base_params();
        params.reverse();
        assert_eq!(sign(TOKEN, URL, &params), BASE_SIG);
    }

    #[test]
    fn official_port_vectors() {
        // Validator given a non-default port, Twilio signed without it.
        let with_port = URL.replace(".com", ".com:1234");
        assert!(verify(TOKEN, &with_port, &base_params(), BASE_SIG));
        // Twilio signed with :443, validator given the URL without a port.
        assert!(verify(
            TOKEN,
            URL,
            &base_params(),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert_eq!(
            sign(
                TOKEN,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &base_params()
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        // Validator given :443, Twilio signed without it.
        let with_443 = URL.replace(".com", ".com:443");
        assert!(verify(TOKEN, &with_443, &base_params(), BASE_SIG));
        // http with :80 added.
        let http = URL.replace("https", "http");
        assert!(verify(
            TOKEN,
            &http,
            &base_params(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        // http with a non-default port kept as given.
        let http_1234 = http.replace(".com", ".com:1234");
        assert!(verify(
            TOKEN,
            &http_1234,
            &base_params(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        assert_eq!(
            sign(TOKEN, &http_1234, &base_params()),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
    }

    #[test]
    fn a_non_default_port_is_never_swapped_for_the_default() {
        let sig_443 = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        let with_port = URL.replace(".com", ".com:1234");
        assert!(!verify(TOKEN, &with_port, &base_params(), sig_443));
        assert_eq!(with_default_port(&with_port), None);
    }

    #[test]
    fn official_repeated_key_vector() {
        let params = p(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        assert!(verify(TOKEN, URL, &params, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    }

    #[test]
    fn official_array_parameter_vector_in_any_order() {
        let sig = "83O6e2vORAoJHUNzJjDWN1jz+BA=";
        let a = p(&[
            ("MessagingBinding.Address", "+1325xxxxxxx"),
            ("MessagingBinding.Address", "+1415xxxxxxx"),
        ]);
        let b = p(&[
            ("MessagingBinding.Address", "+1415xxxxxxx"),
            ("MessagingBinding.Address", "+1325xxxxxxx"),
        ]);
        assert!(verify(TOKEN, URL, &a, sig));
        assert!(verify(TOKEN, URL, &b, sig));
    }

    #[test]
    fn official_credentials_vectors() {
        let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            sign(TOKEN, url, &base_params()),
            "CukzLTc1tT5dXEDIHm/tKBanW10="
        );
        assert!(verify(
            TOKEN,
            url,
            &base_params(),
            "CukzLTc1tT5dXEDIHm/tKBanW10="
        ));
        // Same URL signed with :443 added after the host, not after the password.
        assert!(verify(
            TOKEN,
            url,
            &base_params(),
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="
        ));
        let user_only = "https://user@mycompany.com/myapp.php?foo=1&bar=2";
        assert!(verify(
            TOKEN,
            user_only,
            &base_params(),
            "2YRLlVAflCqxaNicjMpJcSTgzSs="
        ));
    }

    #[test]
    fn official_special_character_vectors_use_the_raw_query() {
        // Current twilio-node vector: the apostrophe as Twilio sent it.
        let raw = format!("{URL}&Body=It's+amazing");
        assert!(verify(
            TOKEN,
            &raw,
            &base_params(),
            "dsq4Ehbj6cs+KdTkpF5sSSplOWw="
        ));
        // Older vector: a URL that arrived percent-encoded validates as received...
        let encoded = format!("{URL}&Body=It%27s+amazing");
        assert!(verify(
            TOKEN,
            &encoded,
            &base_params(),
            "TfZzewPq8wqrGlMfyAud8+/IvJ0="
        ));
        // ...but we never re-encode one form into the other.
        assert!(!verify(
            TOKEN,
            &raw,
            &base_params(),
            "TfZzewPq8wqrGlMfyAud8+/IvJ0="
        ));
    }

    #[test]
    fn utf8_speech_vector_computed_with_the_python_library() {
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("SpeechResult", "查询账单"),
            ("Confidence", "0.91"),
        ]);
        let url = "https://ivr.example.com/twilio/gather?node=menu";
        assert_eq!(sign(TOKEN, url, &params), "X0eWO+03pW/h4ykJqdYk6CTgAi4=");
        assert!(verify(TOKEN, url, &params, "X0eWO+03pW/h4ykJqdYk6CTgAi4="));
    }

    #[test]
    fn json_body_vector_signs_the_url_only() {
        let url = format!(
            "{URL}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        assert!(verify(TOKEN, &url, &[], "a9nBmqA0ju/hNViExpshrM61xv4="));
    }

    #[test]
    fn tampered_requests_are_rejected() {
        let mut tampered = base_params();
        tampered[2].1 = "9999".into();
        assert!(!verify(TOKEN, URL, &tampered, BASE_SIG));

        let mut added = base_params();
        added.push(("Extra".into(), "1".into()));
        assert!(!verify(TOKEN, URL, &added, BASE_SIG));

        let mut removed = base_params();
        removed.pop();
        assert!(!verify(TOKEN, URL, &removed, BASE_SIG));

        assert!(!verify("54321", URL, &base_params(), BASE_SIG));
        assert!(!verify(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &base_params(),
            BASE_SIG
        ));
        assert!(!verify(
            TOKEN,
            &URL.replace("https", "http"),
            &base_params(),
            BASE_SIG
        ));
    }

    #[test]
    fn missing_or_garbage_headers_are_rejected() {
        assert!(!verify(TOKEN, URL, &base_params(), ""));
        assert!(!verify(TOKEN, URL, &base_params(), "WRONG_SIGNATURE"));
        assert!(!verify(TOKEN, URL, &base_params(), "not base64 at all!"));
        assert!(!verify(TOKEN, URL, &base_params(), "AAAA"));
        // A valid signature with a truncated tail.
        assert!(!verify(TOKEN, URL, &base_params(), &BASE_SIG[..20]));
    }

    #[test]
    fn port_handling_of_unusual_urls() {
        assert_eq!(
            without_port("http://[::1]:8080/x?a=b:c"),
            Some("http://[::1]/x?a=b:c".into())
        );
        assert_eq!(
            with_default_port("http://[::1]/x"),
            Some("http://[::1]:80/x".into())
        );
        assert_eq!(
            with_default_port("https://host"),
            Some("https://host:443".into())
        );
        assert_eq!(without_port("https://host/a:b"), None);
        assert_eq!(with_default_port("ftp://host/"), None);
        assert_eq!(without_port("not a url"), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn params() -> impl Strategy<Value = Vec<(String, String)>> {
            prop::collection::vec(("[A-Za-z]{1,12}", any::<String>()), 0..8)
        }

        proptest! {
            #[test]
            fn what_is_signed_verifies_in_any_order(
                token in "[a-f0-9]{0,40}",
                url in "https?://[a-z.]{1,20}(:[0-9]{1,5})?/[!-~]{0,40}",
                params in params(),
            ) {
                let sig = sign(&token, &url, &params);
                prop_assert!(verify(&token, &url, &params, &sig));
                let mut reversed = params.clone();
                reversed.reverse();
                prop_assert!(verify(&token, &url, &reversed, &sig));
            }

            #[test]
            fn a_changed_request_does_not_verify(
                token in "[a-f0-9]{1,40}",
                url in "https://[a-z.]{1,20}/[!-~]{0,40}",
                params in params(),
                extra in any::<String>(),
            ) {
                let sig = sign(&token, &url, &params);
                let mut more = params.clone();
                more.push(("Tampered1".into(), extra));
                prop_assert!(!verify(&token, &url, &more, &sig));
                let (other_token, other_url) = (format!("{token}0"), format!("{url}0"));
                prop_assert!(!verify(&other_token, &url, &params, &sig));
                prop_assert!(!verify(&token, &other_url, &params, &sig));
            }

            #[test]
            fn any_header_is_a_match_or_not(
                token in any::<String>(),
                url in any::<String>(),
                params in params(),
                sig in any::<String>(),
            ) {
                let _ = verify(&token, &url, &params, &sig);
            }
        }
    }
}
