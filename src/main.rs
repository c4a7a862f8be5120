//! The `snake-arena-server` binary: read the configuration, start the server, serve until the
//! server stops.

use clap::Parser;
use snake_arena_server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let server = match snake_arena_server::server::start(&config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("snake-arena-server: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match server.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("snake-arena-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
