//! `hotline agents add|list|passwd`: the accounts that sign in to the console at /console.
//!
//! Rules: a password never comes from the command line, where other users and the shell's
//! history could read it: it is read from $HOTLINE_AGENT_PASSWORD or one line of standard
//! input, and checked by the same rules as the console's. Setting one ends the agent's
//! sessions, so a leaked password stops working at once. The first supervisor is made here:
//! only a supervisor can add agents in the console.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use hotline::agents::{self as ag, AgentUpdate, NewAgent, Role};
use hotline::config::Config;
use hotline::prompts::Locale;
use hotline::repo::{Store, StoreError};

#[derive(Subcommand)]
pub(super) enum AgentsCmd {
    /// Add an agent; the password comes from $HOTLINE_AGENT_PASSWORD or one line of stdin.
    Add(AddArgs),
    /// List agents.
    List,
    /// Set an agent's password (ends their sessions, clears a lock); read as for `add`.
    Passwd { login: String },
}

// No `///` on the struct: clap would take it for the command's help.
#[derive(Args)]
pub(super) struct AddArgs {
    /// 2–32 characters of a-z, 0-9, '.', '_', '-'.
    login: String,
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "agent", value_parser = ["agent", "supervisor"])]
    role: String,
    /// Where click-to-call rings them.
    #[arg(long)]
    phone: Option<String>,
    /// The console's language for them.
    #[arg(long, default_value = "zh-CN", value_parser = ["zh-CN", "en-US"])]
    locale: String,
}

pub(super) async fn run(cfg: Config, what: AgentsCmd) -> anyhow::Result<()> {
    let store = super::open_store(&cfg).await?;
    let store = store.as_ref();
    let now = chrono::Utc::now().timestamp_millis();
    match what {
        AgentsCmd::Add(args) => add(store, now, args).await,
        AgentsCmd::List => list(store, now).await,
        AgentsCmd::Passwd { login } => passwd(store, now, login).await,
    }
}

async fn add(store: &dyn Store, now: i64, args: AddArgs) -> anyhow::Result<()> {
    let AddArgs {
        login,
        name,
        role,
        phone,
        locale,
    } = args;
    ag::validate_login(&login)?;
    ag::validate_name(&name)?;
    let role = Role::parse(&role).ok_or(ag::AgentError::Role)?;
    let phone = phone.as_deref().map(ag::normalize_phone).transpose()?;
    let locale = Locale::parse(&locale).context("locale must be zh-CN or en-US")?;
    let password = password()?;
    let password_hash = hotline::customers::pin::hash_secret_async(password)
        .await
        .context("hashing the password")?;
    let agent = NewAgent {
        login: login.clone(),
        name: name.trim().to_string(),
        role,
        phone,
        locale,
        password_hash,
    };
    match store.create_agent(&agent, now).await {
        Ok(a) => outln!("added {} {} ({})", a.role.as_str(), a.login, a.name),
        Err(StoreError::Conflict(_)) => bail!("the login {login:?} is taken"),
        Err(e) => Err(e).context("adding the agent"),
    }
}

async fn list(store: &dyn Store, now: i64) -> anyhow::Result<()> {
    let all = store.agents().await.context("reading agents")?;
    if all.is_empty() {
        outln!(
            "no agents yet: add a supervisor with `hotline agents add LOGIN --name NAME --role supervisor`"
        )?;
    }
    for a in &all {
        let locked = a.locked_until.is_some_and(|u| u > now);
        outln!(
            "{:<20} {:<10} {:<6} {:<8}{} {}",
            a.login,
            a.role.as_str(),
            a.locale.tag(),
            if a.active { "active" } else { "inactive" },
            if locked { " locked" } else { "" },
            a.name
        )?;
    }
    Ok(())
}

async fn passwd(store: &dyn Store, now: i64, login: String) -> anyhow::Result<()> {
    let Some(a) = store
        .agent_by_login(&login)
        .await
        .context("reading the agent")?
    else {
        bail!("there is no agent {login:?}");
    };
    let password = password()?;
    let hash = hotline::customers::pin::hash_secret_async(password)
        .await
        .context("hashing the password")?;
    let update = AgentUpdate {
        password_hash: Some(hash),
        ..AgentUpdate::default()
    };
    store
        .update_agent(a.id, &update, now)
        .await
        .context("setting the password")?;
    outln!("password set for {login}; their sessions have ended")
}

/// The password for `add` and `passwd`: never from argv, where other users and shell
/// history could read it.
fn password() -> anyhow::Result<String> {
    let password = match std::env::var("HOTLINE_AGENT_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            // The prompt stays on the line the password is typed on.
            let _ = write!(std::io::stderr(), "password (one line): ");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    ag::validate_password(&password)?;
    Ok(password)
}
