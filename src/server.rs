//! Builds and starts the server from a configuration; `main` and the tests both start it here,
//! so tests run exactly what production runs.

use std::sync::Arc;

use crate::api::snake_arena_api_mod;
use crate::auth::AuthService;
use crate::config::{Config, LogLevel};
use crate::context::ServerState;
use crate::games::Spectating;
use crate::http_entrypoints::{SnakeArenaServer, openapi_document_view};
use crate::leaderboard::Leaderboard;
use crate::password::PasswordHasher;
use crate::store::{MemoryStore, Store};

/// Everything that can stop the server from starting, with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot set up logging: {0}")]
    Logging(String),
    #[error("cannot build the API description: {0}")]
    Api(String),
    #[error("cannot seed the store: {0}")]
    Seed(String),
    #[error("cannot start listening: {0}")]
    Listen(String),
}

/// The API as registered with Dropshot: the generated trait's operations, implemented by
/// `SnakeArenaServer`, plus the document endpoint.
pub fn api_description() -> Result<dropshot::ApiDescription<ServerState>, StartError> {
    let mut api = snake_arena_api_mod::api_description::<SnakeArenaServer>()
        .map_err(|error| StartError::Api(error.to_string()))?;
    api.register(openapi_document_view)
        .map_err(|error| StartError::Api(error.to_string()))?;
    Ok(api)
}

fn logger(level: LogLevel) -> Result<slog::Logger, StartError> {
    let level = match level {
        LogLevel::Trace => dropshot::ConfigLoggingLevel::Trace,
        LogLevel::Debug => dropshot::ConfigLoggingLevel::Debug,
        LogLevel::Info => dropshot::ConfigLoggingLevel::Info,
        LogLevel::Warn => dropshot::ConfigLoggingLevel::Warn,
        LogLevel::Error => dropshot::ConfigLoggingLevel::Error,
    };
    dropshot::ConfigLogging::StderrTerminal { level }
        .to_logger("snake-arena")
        .map_err(|error| StartError::Logging(error.to_string()))
}

/// Starts serving; the returned server runs until it is closed or dropped.
pub async fn start(config: &Config) -> Result<dropshot::HttpServer<ServerState>, StartError> {
    let log = logger(config.log_level)?;
    let cost = config.scrypt_cost().map_err(StartError::Config)?;
    let hasher = PasswordHasher::new(
        cost,
        usize::from(config.hashing_slots),
        usize::from(config.hashing_queue),
    )
    .map_err(|error| StartError::Config(error.to_string()))?;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    if !config.no_seed {
        crate::seed::seed(store.as_ref())
            .await
            .map_err(|error| StartError::Seed(format!("{error:?}")))?;
    }
    let token_lifetime = chrono::Duration::minutes(i64::from(config.token_lifetime_minutes));

    let api = api_description()?;
    let document =
        crate::api::openapi_document(&api).map_err(|error| StartError::Api(error.to_string()))?;
    let openapi_json = serde_json::to_vec(&document)
        .map(bytes::Bytes::from)
        .map_err(|error| StartError::Api(error.to_string()))?;
    let state = ServerState {
        auth: AuthService::new(Arc::clone(&store), hasher, token_lifetime),
        leaderboard: Leaderboard::new(Arc::clone(&store)),
        spectating: Spectating::new(Arc::clone(&store)),
        store,
        openapi_json,
    };
    let dropshot_config = dropshot::ConfigDropshot {
        bind_address: config.bind,
        ..Default::default()
    };
    let server = dropshot::ServerBuilder::new(api, state, log.clone())
        .config(dropshot_config)
        .start()
        .map_err(|error| StartError::Listen(error.to_string()))?;
    slog::info!(log, "Snake Arena API listening";
        "address" => format!("http://{}/api", server.local_addr()),
        "store" => server.app_private().store.backend_name(),
        "seeded" => !config.no_seed,
        "openapi" => format!("http://{}/api/openapi.json", server.local_addr()),
    );
    Ok(server)
}
