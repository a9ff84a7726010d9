//! Calls through the carrier simulator.

use hotline::telephony::twilio::simulator::Call;

/// The `<Say>` texts since the caller's last input, as one line.
pub fn heard(call: &Call) -> String {
    call.heard().join(" ")
}

/// A webhook's form, as the simulator posts it.
pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
