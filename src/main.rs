//! The `hotline` command: serve, migrate, import, and a terminal softphone.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use hotline::config::{Config, Secret};
use hotline::{demo, http, store};

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "A telecom operator's customer hotline"
)]
struct Cli {
    /// TOML configuration file (also $HOTLINE_CONFIG); environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the service (migrates the store first).
    Serve {
        /// Load demo customers and use demo secrets where none are configured.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import data from a file.
    Import {
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// Callbacks owed to customers.
    Callbacks {
        #[command(subcommand)]
        what: CallbacksCmd,
    },
    /// Campaigns of callbacks: give one a list, print its report.
    Campaigns {
        #[command(subcommand)]
        what: CampaignsCmd,
    },
    /// A report for managers: satisfaction, surveys, service-levels, hotline, callbacks or
    /// complaints, over local days (default this month so far).
    Report {
        /// satisfaction, surveys, service-levels, hotline, callbacks or complaints.
        kind: String,
        /// First day, YYYY-MM-DD (in the operator's time zone).
        #[arg(long)]
        from: Option<String>,
        /// Last day, inclusive.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
        format: String,
        /// A ticket kind (fault, installation…) or a survey's service.
        #[arg(long)]
        service: Option<String>,
        /// phone, broadband or leased.
        #[arg(long)]
        line_kind: Option<String>,
        /// residential or business.
        #[arg(long)]
        customer_class: Option<String>,
        /// A campaign id.
        #[arg(long)]
        campaign: Option<String>,
        /// The hotline number called.
        #[arg(long)]
        hotline: Option<String>,
    },
    /// Rolls up the settled days of the report figures now (the service does it every hour);
    /// `--rebuild` forgets every roll-up first, after outcomes older than 30 days changed.
    Rollup {
        #[arg(long)]
        rebuild: bool,
    },
    /// Agents and supervisors who sign in to the console at /console.
    Agents {
        #[command(subcommand)]
        what: AgentsCmd,
    },
    /// A terminal softphone: call the running service as Twilio would and type keys.
    Dial {
        /// The calling number (a demo customer's line is identified by it).
        #[arg(long, default_value = demo::CUSTOMERS[0].phone)]
        from: String,
        /// The number dialled.
        #[arg(long, default_value = demo::DEMO_HOTLINE)]
        to: String,
        /// The service's public URL; defaults to the configured one.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Accounts with lines, PIN and bill from a CSV file (columns in the README).
    Accounts { file: PathBuf },
}

#[derive(Subcommand)]
enum CallbacksCmd {
    /// Why was this customer (not yet) called? The answer, then the callback's ledger.
    Why { id: i64 },
}

#[derive(Subcommand)]
enum CampaignsCmd {
    /// Queue a CSV list (columns number, account_no, locale, timezone) into a campaign.
    Import { id: i64, file: PathBuf },
    /// A campaign's figures: called, reached, answered, each answer, the satisfaction rate.
    Report { id: i64 },
}

#[derive(Subcommand)]
enum AgentsCmd {
    /// Add an agent; the password comes from $HOTLINE_AGENT_PASSWORD or one line of stdin.
    Add {
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
    },
    /// List agents.
    List,
    /// Set an agent's password (ends their sessions, clears a lock); read as for `add`.
    Passwd { login: String },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HOTLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("HOTLINE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Standard output was closed by its reader (`hotline report … | head -1`): the reader has
/// what it wanted, so the command ends quietly, successfully.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
struct StdoutClosed;

fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("writing to standard output")
    }
}

/// Everything the commands print goes through here: `print!` and `println!` panic when the
/// reader has gone.
fn write_out(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(stdout_error)
}

macro_rules! out {
    ($($arg:tt)*) => { write_out(format_args!($($arg)*)) };
}

macro_rules! outln {
    () => { write_out(format_args!("\n")) };
    ($($arg:tt)*) => { write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Standard error for messages: if it is gone too there is no one left to tell.
macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let done = run()
        .await
        .and_then(|()| std::io::stdout().flush().map_err(stdout_error));
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<StdoutClosed>()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            errln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let mut cfg = Config::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.cmd {
        Cmd::Serve { demo } => serve(cfg, demo).await,
        Cmd::Migrate => {
            store::connect_with(cfg.database_url.expose(), &cfg.store_options())
                .await
                .context("migrating the store")?;
            outln!(
                "migrated {}",
                hotline::config::redact_url(cfg.database_url.expose())
            )?;
            Ok(())
        }
        Cmd::Import {
            what: ImportCmd::Accounts { file },
        } => import_accounts(cfg, file).await,
        Cmd::Callbacks {
            what: CallbacksCmd::Why { id },
        } => callbacks_why(cfg, id).await,
        Cmd::Campaigns {
            what: CampaignsCmd::Import { id, file },
        } => campaigns_import(cfg, id, file).await,
        Cmd::Campaigns {
            what: CampaignsCmd::Report { id },
        } => campaigns_report(cfg, id).await,
        Cmd::Report {
            kind,
            from,
            to,
            format,
            service,
            line_kind,
            customer_class,
            campaign,
            hotline,
        } => {
            let params = hotline::reports::params::ReportParams {
                from,
                to,
                service,
                line_kind,
                customer_class,
                campaign,
                hotline,
                format: None,
            };
            report(cfg, &kind, &params, &format).await
        }
        Cmd::Rollup { rebuild } => rollup(cfg, rebuild).await,
        Cmd::Agents { what } => agents(cfg, what).await,
        Cmd::Dial { from, to, url } => {
            if cfg.twilio.auth_token.is_empty() {
                cfg.twilio.auth_token = Secret::new(demo::DEMO_AUTH_TOKEN);
            }
            dial(cfg, url, from, to).await
        }
    }
}

async fn serve(mut cfg: Config, demo_mode: bool) -> anyhow::Result<()> {
    if demo_mode {
        if cfg.twilio.auth_token.is_empty() {
            cfg.twilio.auth_token = Secret::new(demo::DEMO_AUTH_TOKEN);
            tracing::warn!(
                "demo mode: webhooks are signed with the public demo auth token; never expose this instance"
            );
        }
        if cfg.api_token.is_empty() {
            cfg.api_token = Secret::new(demo::DEMO_API_TOKEN);
            tracing::warn!("demo mode: the API accepts the public demo API token");
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
    tracing::info!(config = ?cfg, "starting");
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
        // The banner is a courtesy: without a reader for it the service still serves.
        if let Err(e) = print_demo_banner(&state.cfg) {
            tracing::debug!(error = %e, "the demo banner was not printed");
        }
    }
    tracing::info!(addr = %listener.local_addr()?, "listening");
    http::serve(state, listener, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

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

async fn import_accounts(cfg: Config, file: PathBuf) -> anyhow::Result<()> {
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let now = chrono::Utc::now().timestamp_millis();
    let report = hotline::customers::import::import_csv(
        store.as_ref(),
        std::io::BufReader::new(f),
        now,
        |pos| bar.set_position(pos),
    )
    .await
    .with_context(|| format!("reading {}", file.display()))?;
    bar.finish_and_clear();
    // Rejected rows still exit 2 when no one reads the summary.
    let printed = outln!(
        "imported {} account(s), rejected {}",
        report.imported,
        report.rejected.len()
    );
    for r in &report.rejected {
        errln!("line {}: account {:?}: {}", r.line, r.account_no, r.error);
    }
    if !report.rejected.is_empty() {
        std::process::exit(2);
    }
    printed
}

/// Prints why a callback was (not yet) called, then its ledger: `time  kind  detail`, in the
/// customer's zone.
async fn callbacks_why(cfg: Config, id: i64) -> anyhow::Result<()> {
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let now = chrono::Utc::now().timestamp_millis();
    let Some(x) =
        hotline::callbacks::report::explain(store.as_ref(), id, cfg.timezone, &calendar, now)
            .await
            .context("reading the callback")?
    else {
        bail!("there is no callback {id}");
    };
    outln!("{}", x.why)?;
    outln!()?;
    for e in &x.ledger {
        let at = chrono::DateTime::from_timestamp_millis(e.at)
            .map(|t| {
                t.with_timezone(&x.tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|| e.at.to_string());
        outln!("{at}  {:<10}  {}", e.kind, e.detail)?;
    }
    Ok(())
}

async fn campaign(
    store: &dyn hotline::repo::Store,
    id: i64,
) -> anyhow::Result<hotline::callbacks::Campaign> {
    store
        .campaign(id)
        .await
        .context("reading the campaign")?
        .with_context(|| format!("there is no campaign {id}"))
}

/// Queues a CSV list into a campaign with a progress bar; exits 2 when a row was rejected.
async fn campaigns_import(cfg: Config, id: i64, file: PathBuf) -> anyhow::Result<()> {
    use hotline::callbacks::lists;
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let c = campaign(store.as_ref(), id).await?;
    if let Some(why) = lists::refuses_callbacks(&c) {
        bail!("{why}");
    }
    let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let defaults = lists::Defaults {
        tz: cfg.timezone,
        locale: cfg.default_locale,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let now = chrono::Utc::now().timestamp_millis();
    let report = lists::import_csv(
        store.as_ref(),
        &c,
        std::io::BufReader::new(f),
        &defaults,
        &name,
        now,
        |pos| bar.set_position(pos),
    )
    .await
    .with_context(|| format!("reading {}", file.display()))?;
    bar.finish_and_clear();
    // Rejected rows still exit 2 when no one reads the summary.
    let printed = outln!(
        "queued {} callback(s) in campaign {} {:?}, {} already owed, rejected {}",
        report.queued,
        c.id,
        c.name,
        report.already_owed,
        report.rejected.len()
    );
    for r in &report.rejected {
        errln!("line {}: {}: {}", r.index, r.field, r.error);
    }
    if !report.rejected.is_empty() {
        std::process::exit(2);
    }
    printed
}

async fn campaigns_report(cfg: Config, id: i64) -> anyhow::Result<()> {
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let c = campaign(store.as_ref(), id).await?;
    let report = hotline::callbacks::report::campaign_report(store.as_ref(), &c)
        .await
        .context("computing the report")?;
    out!("{}", report.to_text())?;
    Ok(())
}

async fn report(
    cfg: Config,
    kind: &str,
    params: &hotline::reports::params::ReportParams,
    format: &str,
) -> anyhow::Result<()> {
    use hotline::clock::Clock as _;
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let now = hotline::clock::SystemClock.now_ms();
    let report =
        hotline::reports::requested(kind, params, store.as_ref(), now, cfg.timezone, &calendar)
            .await?;
    match format {
        "csv" => out!("{}", report.to_csv())?,
        "json" => outln!("{}", serde_json::to_string_pretty(&report)?)?,
        _ => out!("{}", report.to_text())?,
    }
    Ok(())
}

async fn rollup(cfg: Config, rebuild: bool) -> anyhow::Result<()> {
    use hotline::clock::Clock as _;
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let calendar = cfg.calendar().context("loading the calendar")?;
    let src = hotline::reports::rollup::Source {
        store: store.as_ref(),
        tz: cfg.timezone,
        calendar: &calendar,
        now: hotline::clock::SystemClock.now_ms(),
    };
    let started = std::time::Instant::now();
    let rolled = hotline::reports::rollup::roll_up(&src, rebuild)
        .await
        .context("rolling up")?;
    for (family, days) in rolled {
        outln!("{family}: {days} days rolled up")?;
    }
    outln!("took {:.1} s", started.elapsed().as_secs_f64())?;
    Ok(())
}

/// The password for `agents add|passwd`: never from argv, where other users and shell
/// history could read it.
fn agent_password() -> anyhow::Result<String> {
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
    hotline::agents::validate_password(&password)?;
    Ok(password)
}

async fn agents(cfg: Config, what: AgentsCmd) -> anyhow::Result<()> {
    use hotline::agents::{self as ag, AgentUpdate, NewAgent, Role};
    use hotline::prompts::Locale;
    let store = store::connect_with(cfg.database_url.expose(), &cfg.store_options())
        .await
        .context("opening the store")?;
    let now = chrono::Utc::now().timestamp_millis();
    match what {
        AgentsCmd::Add {
            login,
            name,
            role,
            phone,
            locale,
        } => {
            ag::validate_login(&login)?;
            ag::validate_name(&name)?;
            let role = Role::parse(&role).ok_or(ag::AgentError::Role)?;
            let phone = phone.as_deref().map(ag::normalize_phone).transpose()?;
            let locale = Locale::parse(&locale).context("locale must be zh-CN or en-US")?;
            let password = agent_password()?;
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
                Ok(a) => outln!("added {} {} ({})", a.role.as_str(), a.login, a.name)?,
                Err(hotline::repo::StoreError::Conflict(_)) => {
                    bail!("the login {login:?} is taken")
                }
                Err(e) => return Err(e).context("adding the agent"),
            }
        }
        AgentsCmd::List => {
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
        }
        AgentsCmd::Passwd { login } => {
            let Some(a) = store
                .agent_by_login(&login)
                .await
                .context("reading the agent")?
            else {
                bail!("there is no agent {login:?}");
            };
            let password = agent_password()?;
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
            outln!("password set for {login}; their sessions have ended")?;
        }
    }
    Ok(())
}

async fn dial(cfg: Config, url: Option<String>, from: String, to: String) -> anyhow::Result<()> {
    use hotline::telephony::twilio::simulator::Simulator;
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
        std::io::stdout().flush().map_err(stdout_error)?;
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
