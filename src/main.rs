//! The `snake-arena-server` binary: read the configuration, start the server, serve until
//! SIGINT or SIGTERM, then shut down gracefully.

use clap::Parser;
use snake_arena_server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    // Before the server starts: a SIGTERM sent as soon as it answers must shut it down cleanly,
    // not end the process.
    let signals = match snake_arena_server::server::TerminationSignals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("snake-arena-server: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let server = match snake_arena_server::server::start(&config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("snake-arena-server: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let grace = std::time::Duration::from_secs(u64::from(config.shutdown_grace_seconds));
    match snake_arena_server::server::serve_until_signalled(server, signals, grace).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("snake-arena-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
