//! `hotline serve` and `hotline migrate`: the service itself, and its database brought up to
//! date.
//!
//! Rules: the service refuses to start without a Twilio auth token, since unverified webhooks
//! would let anyone drive calls; `--demo` alone fills in the public demo secrets, and says so
//! in the log, because such an instance must never be exposed. The demo banner is a courtesy:
//! without a reader for it the service still serves. SIGTERM and Ctrl-C both stop it
//! gracefully: `/readyz` fails for the drain delay while everything else is served, then the
//! listener closes and requests in flight finish within the shutdown deadline (`http::serve`).

use anyhow::{Context, bail};

use hotline::config::Config;
use hotline::secret::Secret;
use hotline::{demo, http, store};

/// The service's own log lines keep the target they had when all of the command line was in
/// `main.rs`, the binary's name: log filters and the JSON logs' readers select on it.
const LOG_TARGET: &str = "hotline";

/// Applies the migrations (opening a store does) and says which database it was.
pub(super) async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("migrating the store")?;
    outln!(
        "migrated {}",
        hotline::config::redact_url(cfg.database_url.expose())
    )
}

pub(super) async fn serve(mut cfg: Config, demo_mode: bool) -> anyhow::Result<()> {
    if demo_mode {
        if cfg.twilio.auth_token.is_empty() {
            cfg.twilio.auth_token = Secret::new(demo::DEMO_AUTH_TOKEN);
            tracing::warn!(
                target: LOG_TARGET,
                "demo mode: webhooks are signed with the public demo auth token; never expose this instance"
            );
        }
        if cfg.api_token.is_empty() {
            cfg.api_token = Secret::new(demo::DEMO_API_TOKEN);
            tracing::warn!(
                target: LOG_TARGET,
                "demo mode: the API accepts the public demo API token"
            );
        }
        // Resolved tickets queue their satisfaction callbacks (dialed only with a Twilio
        // account configured).
        if cfg.callbacks.from_number.is_none() {
            cfg.callbacks.from_number = Some(demo::DEMO_HOTLINE.to_string());
        }
    } else if cfg.twilio.auth_token.is_empty() {
        bail!(
            "HOTLINE_TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified (use --demo to try the service locally)"
        );
    }
    tracing::info!(target: LOG_TARGET, config = ?cfg, "starting");
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let state = http::AppState::build(cfg)
        .await
        .context("starting the service")?;
    if demo_mode {
        let now = state.clock.now_ms();
        demo::load(state.store.as_ref(), now)
            .await
            .context("loading demo customers")?;
        demo::load_agents(state.store.as_ref(), now)
            .await
            .context("creating the demo console accounts")?;
        if let Err(e) = print_demo_banner(&state.cfg) {
            tracing::debug!(
                target: LOG_TARGET,
                error = %e,
                "the demo banner was not printed"
            );
        }
    }
    tracing::info!(target: LOG_TARGET, addr = %listener.local_addr()?, "listening");
    http::serve(state, listener, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!(target: LOG_TARGET, "stopped");
    Ok(())
}

/// How to call the demo and sign in to its console.
fn print_demo_banner(cfg: &Config) -> anyhow::Result<()> {
    outln!(
        "\nhotline demo is up at {}. In another terminal, call it:",
        cfg.public_url
    )?;
    for c in &demo::CUSTOMERS {
        outln!(
            "  hotline dial --from {}    # {} (account {}, PIN {}{})",
            c.phone,
            c.name,
            c.account_no,
            c.pin,
            c.language
                .map(|l| format!(", prefers {l}"))
                .unwrap_or_default()
        )?;
    }
    outln!(
        "  hotline dial --from +8613999999999    # an unknown number: press 1, then account number + # and PIN + #\n"
    )?;
    outln!("The agent console is at {}/console:", cfg.public_url)?;
    for (login, name, _, password) in demo::DEMO_AGENTS {
        outln!("  {login} / {password}    # {name}")?;
    }
    outln!()
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what a service manager sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
