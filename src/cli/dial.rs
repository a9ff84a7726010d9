//! `hotline dial`: a terminal softphone that calls a running service as Twilio would.
//!
//! Rules: it signs its webhooks like Twilio, with the configured auth token, or the public
//! demo one when none is set, so it reaches a `serve --demo` out of the box and a real
//! instance only with that instance's token. It defaults to the first demo customer calling
//! the demo hotline. End of input hangs up, like `q`.

use std::io::BufRead;

use anyhow::Context;
use clap::Args;

use hotline::config::Config;
use hotline::demo;
use hotline::secret::Secret;
use hotline::telephony::twilio::simulator::{SimError, Simulator};

// No `///` on the struct: clap would take it for the command's help.
#[derive(Args)]
pub(super) struct DialArgs {
    /// The calling number (a demo customer's line is identified by it).
    #[arg(long, default_value = demo::CUSTOMERS[0].phone)]
    from: String,
    /// The number dialled.
    #[arg(long, default_value = demo::DEMO_HOTLINE)]
    to: String,
    /// The service's public URL; defaults to the configured one.
    #[arg(long)]
    url: Option<String>,
}

/// Places the call, then prints what the caller hears and sends what they type, until the
/// call ends.
pub(super) async fn run(mut cfg: Config, args: DialArgs) -> anyhow::Result<()> {
    let DialArgs { from, to, url } = args;
    if cfg.twilio.auth_token.is_empty() {
        cfg.twilio.auth_token = Secret::new(demo::DEMO_AUTH_TOKEN);
    }
    let base = url.unwrap_or_else(|| cfg.public_url.clone());
    let sim = Simulator::new(
        &base,
        cfg.twilio.auth_token.expose(),
        &cfg.twilio.account_sid,
    );
    outln!("Calling {to} from {from} via {base} …")?;
    let mut call = sim
        .start_call(&from, &to)
        .await
        .context("the call did not connect")?;
    let mut stdin = std::io::stdin().lock();
    loop {
        for line in call.heard() {
            outln!("  🔊 {line}")?;
        }
        if let Some(to) = call.transferred_to() {
            outln!("  ↪ transferred to {to}")?;
        }
        if call.has_ended() {
            outln!("(call ended)")?;
            return Ok(());
        }
        if call.is_recording() {
            out!("(recording after the beep) seconds to speak, 0 = silence, 'q' = hang up> ")?;
        } else {
            out!("keys (digits, * or #; 'say <words>'; empty = silence; 'q' = hang up)> ")?;
        }
        super::flush_out()?;
        let mut line = String::new();
        let n = stdin.read_line(&mut line)?;
        let line = line.trim();
        if n == 0 || line == "q" {
            call.hang_up().await?;
            outln!("(hung up)")?;
            return Ok(());
        }
        let sent = if call.is_recording() {
            match line.parse::<u64>() {
                Ok(secs) => call.record(secs).await,
                Err(_) => {
                    outln!("  (type a number of seconds)")?;
                    continue;
                }
            }
        } else if let Some(words) = line.strip_prefix("say ") {
            call.say(words, 0.9).await
        } else if line.is_empty() {
            call.silence().await
        } else {
            call.press(line).await
        };
        match sent {
            Ok(()) => {}
            // A typing mistake is the person's, not the call's: say so and let them retry.
            Err(e) if e.is_refused_input() => outln!("  ({})", refused(&e))?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// What to tell the person at the softphone when the prompt cannot take what they typed.
fn refused(e: &SimError) -> String {
    match e {
        SimError::InputNotAccepted("speech") => {
            "this prompt takes keys only, not speech: type digits, * or #".to_string()
        }
        SimError::InputNotAccepted(_) => {
            "this prompt takes speech only: type 'say <words>'".to_string()
        }
        SimError::InvalidKey(c) => format!("{c:?} is not a telephone key: type 0-9, * or #"),
        _ => "nothing to send: type keys, 'say <words>', or an empty line for silence".to_string(),
    }
}
