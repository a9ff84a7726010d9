//! The `hotline` command: serve, migrate, import, and a terminal softphone. The commands are
//! in `cli/`, one file per command group; this file sets up the process around them.

mod cli;

use clap::Parser as _;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    cli::exit_code(cli.run().await)
}

/// Logs go to standard error, filtered by $HOTLINE_LOG (default `info,sqlx=warn`), as JSON
/// lines when $HOTLINE_LOG_FORMAT is `json`: standard output is the commands' own.
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
