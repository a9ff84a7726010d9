//! Text from outside the service (the carrier's webhooks, API bodies, console forms, imports)
//! that the hotline could not keep or use.
//!
//! Rules: NUL cannot be stored (PostgreSQL `TEXT` refuses U+0000, failing the whole statement,
//! while SQLite keeps it: the backends would disagree), and the other C0 controls except tab,
//! line feed and carriage return cannot be carried by XML, so they could never be spoken in
//! TwiML or shown in a page. Webhook text is cleaned (the caller already said it; what can be
//! kept is kept); text people send is refused with the field named, so they can correct it.

/// Whether `c` is a character the hotline does not take in text.
pub fn is_refused(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `s` holds a character the hotline does not take.
pub fn has_refused(s: &str) -> bool {
    // Bytes below 0x80 are whole characters in UTF-8, so a byte scan finds every one.
    s.bytes()
        .any(|b| b < b' ' && !matches!(b, b'\t' | b'\n' | b'\r'))
}

/// `s` with each refused character replaced by U+FFFD, as undecodable bytes already are: the
/// rest of the text, and where something was lost, stay visible. Unchanged (and not copied)
/// when there is nothing to replace.
pub fn clean(s: String) -> String {
    if !has_refused(&s) {
        return s;
    }
    s.chars()
        .map(|c| if is_refused(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// The refusal of a field holding such a character: which character, and where.
pub fn refusal(s: &str) -> Option<String> {
    let (at, c) = s.chars().enumerate().find(|(_, c)| is_refused(*c))?;
    Some(format!(
        "must not contain control character U+{:04X} (found at character {at}); \
         text may hold tab, line feed and carriage return, but no other control character",
        u32::from(c)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_nul_and_c0_controls_but_keeps_whitespace() {
        assert_eq!(clean("my\0 bill".into()), "my\u{FFFD} bill");
        assert_eq!(
            clean("a\u{1}b\u{1f}c\u{7f}".into()),
            "a\u{FFFD}b\u{FFFD}c\u{7f}"
        );
        assert_eq!(clean("tab\tlf\ncr\r 账单".into()), "tab\tlf\ncr\r 账单");
        assert!(!has_refused("账单 please\t\r\n"));
        assert!(has_refused("\0"));
    }

    #[test]
    fn refusal_names_the_character_and_where() {
        assert_eq!(refusal("ok\n"), None);
        let m = refusal("账单\0").unwrap_or_default();
        assert!(m.contains("U+0000") && m.contains("character 2"), "{m}");
    }
}
