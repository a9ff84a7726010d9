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
use hotline::telephony::twilio::simulator::Simulator;

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
        if call.is_recording() {
            match line.parse::<u64>() {
                Ok(secs) => call.record(secs).await?,
                Err(_) => outln!("  (type a number of seconds)")?,
            }
        } else if let Some(words) = line.strip_prefix("say ") {
            call.say(words, 0.9).await?;
        } else if line.is_empty() {
            call.silence().await?;
        } else {
            call.press(line).await?;
        }
    }
}
