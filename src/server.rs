//! Builds and starts the server from a configuration; `main` and the tests both start it here,
//! so tests run exactly what production runs.

use std::sync::Arc;

use crate::accounts::auth::AuthService;
use crate::accounts::password::PasswordHasher;
use crate::api::snake_arena_api_mod;
use crate::config::Config;
use crate::games::cluster::Cluster;
use crate::games::live::LiveGames;
use crate::games::spectating::Spectating;
use crate::http::context::ServerState;
use crate::http::entrypoints::{SnakeArenaServer, openapi_document_view};
use crate::http::policy::HttpPolicy;
use crate::leaderboard::Leaderboard;
use crate::store::Store;

/// Everything that can stop the server from starting, with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot build the API description: {0}")]
    Api(String),
    #[error("cannot open the store: {0}")]
    Store(#[from] crate::store::OpenError),
    #[error("cannot seed the store: {0}")]
    Seed(String),
    #[error("cannot start listening: {0}")]
    Listen(String),
    #[error("cannot listen to the other instances on the store: {0}")]
    Cluster(String),
}

/// Logs what the cluster's tasks report: failures as warnings (they recover by themselves), a
/// lost instance's games as a warning too, a reconnected listener as information.
fn cluster_event_logger(log: slog::Logger) -> crate::games::cluster::ClusterEvents {
    use crate::games::cluster::ClusterEvent;
    Arc::new(move |event| match event {
        ClusterEvent::PublishFailed { frames, error } => {
            slog::warn!(log, "publishing frames to the other instances failed";
                "frames" => frames, "error" => format!("{error:?}"));
        }
        ClusterEvent::FramesDropped { frames } => {
            slog::warn!(log, "frames not sent to the other instances: the outbox is full";
                "frames_dropped_so_far" => frames);
        }
        ClusterEvent::ListenFailed(error) => {
            slog::warn!(log, "listening to the other instances failed; trying again";
                "error" => format!("{error:?}"));
        }
        ClusterEvent::ListenerReconnected => {
            slog::info!(
                log,
                "listening to the other instances again; frames sent meanwhile are missed"
            );
        }
        ClusterEvent::UnreadableMessage(problem) => {
            slog::warn!(log, "an unreadable message from another instance"; "problem" => problem);
        }
        ClusterEvent::GamesLost { instance, games } => {
            slog::warn!(log, "another instance went unheard: its games end as lost here";
                "instance" => instance.to_string(), "games" => games);
        }
    })
}

/// The API as registered with Dropshot: the generated trait's operations, implemented by
/// `SnakeArenaServer`, plus the document endpoint, the docs page and the web client (all unpublished).
pub fn api_description() -> Result<dropshot::ApiDescription<ServerState>, StartError> {
    let mut api = snake_arena_api_mod::api_description::<SnakeArenaServer>()
        .map_err(|error| StartError::Api(error.to_string()))?;
    api.register(openapi_document_view)
        .map_err(|error| StartError::Api(error.to_string()))?;
    crate::http::docs::register(&mut api).map_err(|error| StartError::Api(error.to_string()))?;
    crate::http::web::register(&mut api).map_err(|error| StartError::Api(error.to_string()))?;
    Ok(api)
}

/// Starts serving; the returned server runs until it is closed or dropped.
pub async fn start(config: &Config) -> Result<dropshot::HttpServer<ServerState>, StartError> {
    let log = crate::logging::logger(config.log_level, config.log_format);
    let cors = config.cors_policy().map_err(StartError::Config)?;
    let cost = config.scrypt_cost().map_err(StartError::Config)?;
    if !config.no_seed && u32::from(config.demo_bots) > config.max_live_games {
        return Err(StartError::Config(format!(
            "--demo-bots {} is more than --max-live-games {}: every bot plays a live game",
            config.demo_bots, config.max_live_games
        )));
    }
    let hasher = PasswordHasher::new(
        cost,
        usize::from(config.hashing_slots),
        usize::from(config.hashing_queue),
    )
    .map_err(|error| StartError::Config(error.to_string()))?
    .with_max_wait(std::time::Duration::from_secs(u64::from(
        config.hashing_wait_seconds,
    )));
    let store: Arc<dyn Store> = crate::store::open(&config.database_url).await?;
    let seeded = if config.no_seed {
        None
    } else {
        Some(
            crate::demo::seed::seed(store.as_ref())
                .await
                .map_err(|error| StartError::Seed(format!("{error:?}")))?,
        )
    };
    if config.synthetic_scores > 0 {
        crate::demo::synthetic::fill_scores(store.as_ref(), config.synthetic_scores)
            .await
            .map_err(|error| StartError::Seed(format!("{error:?}")))?;
    }
    // Every leaderboard read from here on is answered from a board cached in front of the store
    // (and every score written through it refreshes the boards).
    let mut cached = crate::store::cached::CachedStore::with_time_to_live(
        store,
        config.leaderboard_cache_time_to_live(),
    );
    let postgres_url = match crate::store::DatabaseUrl::parse(&config.database_url) {
        Ok(crate::store::DatabaseUrl::Postgres(url)) => Some(url),
        _ => None,
    };
    // On PostgreSQL other servers revoke sessions too: sessions are answered from memory only
    // under a lease, during which every removal is heard (`session_leases.rs`).
    if let Some(url) = &postgres_url {
        let leases = crate::store::session_leases::SessionLeases::start(
            url,
            config.session_lease(),
            Arc::new(crate::store::account_cache::AccountCache::leased()),
            log.new(slog::o!("task" => "session leases")),
        )
        .await?;
        cached = cached.with_session_leases(leases);
    }
    let cached = Arc::new(cached);
    // On PostgreSQL other servers write scores too: the database notifies every change, and the
    // listener is listening before the server answers its first request.
    if let Some(url) = &postgres_url {
        let listener = crate::store::board_changes::BoardListener::subscribe(url).await?;
        tokio::spawn(listener.run(drop_boards_on_change(
            Arc::clone(&cached),
            log.new(slog::o!("task" => "leaderboard change listener")),
        )));
    }
    let store: Arc<dyn Store> = cached;
    let cluster_settings = config.cluster_settings().map_err(StartError::Config)?;
    let cluster = match store.instance_bus() {
        None => None,
        Some(bus) => Some(
            Cluster::join(
                bus,
                cluster_settings,
                crate::http::frames::json_frame_encoder(),
                crate::games::live::FRAMES_BUFFERED_PER_GAME,
                cluster_event_logger(log.new(slog::o!("task" => "cluster"))),
            )
            .await
            .map_err(|error| StartError::Cluster(error.to_string()))?,
        ),
    };
    if let Some(cluster) = &cluster {
        slog::info!(log, "joined the instances on the shared store";
            "instance" => cluster.instance().to_string(),
            "heartbeat_ms" => config.instance_heartbeat_ms,
            "timeout_ms" => config.instance_timeout_ms);
    }
    let live_games = LiveGames::in_cluster(
        Arc::clone(&store),
        config.live_games_settings(),
        crate::http::frames::json_frame_encoder(),
        cluster,
    );
    if !config.no_seed {
        crate::games::bots::start_demo_bots(&live_games, usize::from(config.demo_bots))
            .map_err(|error| StartError::Seed(format!("cannot start the demo bots: {error:?}")))?;
    }
    let replays = crate::games::replays::Replays::new(
        Arc::clone(&store),
        crate::http::frames::json_frame_encoder(),
    );
    let retention_log = log.new(slog::o!("task" => "replay retention"));
    // The task ends with the runtime; a prune in progress when the server stops is one
    // transaction, so it lands whole or not at all.
    tokio::spawn(crate::games::replays::run_retention(
        Arc::clone(&store),
        config.retention_settings(),
        move |outcome| match outcome {
            Ok(0) => {}
            Ok(pruned) => slog::info!(retention_log, "old replays pruned"; "games" => pruned),
            Err(error) => {
                slog::error!(retention_log, "pruning old replays failed"; "error" => format!("{error:?}"))
            }
        },
    ));
    let token_lifetime = chrono::Duration::minutes(i64::from(config.token_lifetime_minutes));

    let api = api_description()?;
    let document =
        crate::api::openapi_document(&api).map_err(|error| StartError::Api(error.to_string()))?;
    let http_policy = Arc::new(HttpPolicy::new(cors, &document, config.body_timeout()));
    let openapi_json = serde_json::to_vec(&document)
        .map(bytes::Bytes::from)
        .map_err(|error| StartError::Api(error.to_string()))?;
    let state = ServerState {
        auth: AuthService::new(
            Arc::clone(&store),
            hasher,
            token_lifetime,
            config.auth_limits(),
        ),
        leaderboard: Leaderboard::new(Arc::clone(&store), config.score_submission_limit())
            .with_self_reported_scores(config.self_reported_scores == crate::config::Switch::On),
        spectating: Spectating::new(live_games.clone()),
        live_games,
        prepared_boards: crate::http::prepared::PreparedBoards::default(),
        replays,
        client_addresses: crate::http::client_address::ClientAddresses::new(
            config.trusted_proxies.iter().copied(),
        ),
        watched_games: crate::http::spectators::WatchedGames::default(),
        channels: crate::http::channels::ChannelLimits::new(
            config.max_channels as usize,
            std::time::Duration::from_secs(u64::from(config.channel_ping_seconds)),
            std::time::Duration::from_secs(u64::from(config.channel_silence_seconds)),
        ),
        store,
        openapi_json,
        log: log.clone(),
    };
    let dropshot_config = dropshot::ConfigDropshot {
        bind_address: config.bind,
        default_request_body_max_bytes: config.max_body_bytes as usize,
        ..Default::default()
    };
    let server = dropshot::ServerBuilder::new(api, state, log.clone())
        .config(dropshot_config)
        .request_hook(http_policy)
        .connection_limits(config.connection_limits())
        .start()
        .map_err(|error| StartError::Listen(error.to_string()))?;
    slog::info!(log, "Snake Arena API listening";
        "address" => format!("http://{}/api", server.local_addr()),
        "store" => server.app_private().store.backend_name(),
        "seeded" => match seeded {
            None => "no (--no-seed)",
            Some(crate::demo::seed::SeedOutcome::Seeded) => "yes",
            Some(crate::demo::seed::SeedOutcome::AlreadyHeldData) => "no (the store already holds data)",
        },
        "docs" => format!("http://{}/api/docs", server.local_addr()),
        "openapi" => format!("http://{}/api/openapi.json", server.local_addr()),
        "cors_origins" => config.cors_origins.join(","),
        "max_connections" => config.max_connections,
        "header_timeout_seconds" => config.header_timeout_seconds,
        "body_timeout_seconds" => config.body_timeout_seconds,
        "game_tick_ms" => config.game_tick_ms,
        "demo_bots" => if config.no_seed { 0 } else { config.demo_bots },
    );
    Ok(server)
}

/// What the server does with each change the PostgreSQL listener reports: drop the cached boards
/// on a change, and again once listening is restored after a lost connection, since changes
/// notified in between are lost; the time to live bounds the staleness while it is lost.
fn drop_boards_on_change(
    cached: Arc<crate::store::cached::CachedStore>,
    log: slog::Logger,
) -> impl Fn(crate::store::board_changes::BoardChange) + Send + 'static {
    use crate::store::board_changes::BoardChange;
    move |change| match change {
        BoardChange::ScoresChanged => cached.invalidate(),
        BoardChange::Resubscribed => {
            cached.invalidate();
            slog::info!(
                log,
                "listening for leaderboard changes again; every cached board dropped"
            );
        }
        BoardChange::Lost(reason) => {
            cached.invalidate();
            slog::warn!(log, "the leaderboard change listener lost its connection; boards are kept at most their time to live until it is back";
                "error" => reason);
        }
    }
}

/// Serves until SIGINT or SIGTERM (listened for by `signals`, installed before the server
/// started, so a signal that arrives as soon as it answers is not missed), then shuts down
/// gracefully (see [`shut_down`]). The error is for the operator.
pub async fn serve_until_signalled(
    mut server: dropshot::HttpServer<ServerState>,
    mut signals: TerminationSignals,
    grace: std::time::Duration,
) -> Result<(), String> {
    let log = server.app_private().log.clone();
    let signal = tokio::select! {
        stopped = &mut server => return stopped.map_err(|error| format!("server stopped: {error}")),
        signal = signals.next() => signal,
    };
    slog::info!(log, "shutting down: ending live games, no new connections, waiting for requests in flight";
        "signal" => signal, "grace_seconds" => grace.as_secs());
    shut_down(server, grace).await
}

/// Shuts down gracefully within `grace`: end every live game (each gets a final frame saying the
/// server is shutting down, and the finished games are recorded) while connections are still
/// open to carry those frames, then stop accepting connections and let requests in flight
/// finish, and return.
pub async fn shut_down(
    server: dropshot::HttpServer<ServerState>,
    grace: std::time::Duration,
) -> Result<(), String> {
    let log = server.app_private().log.clone();
    let live_games = server.app_private().live_games.clone();
    let store = Arc::clone(&server.app_private().store);
    let ending = async move {
        live_games.shut_down().await;
        server.close().await
    };
    let ended = match tokio::time::timeout(grace, ending).await {
        Ok(Ok(())) => {
            slog::info!(log, "shut down cleanly");
            Ok(())
        }
        Ok(Err(error)) => Err(format!("shutdown failed: {error}")),
        Err(_) => {
            slog::warn!(log, "grace period over: exiting with requests still in flight";
                "grace_seconds" => grace.as_secs());
            Ok(())
        }
    };
    store.leave().await;
    ended
}

/// SIGINT and SIGTERM, listened for from [`TerminationSignals::install`] on: once installed, they
/// no longer end the process at once, and the first one to arrive is kept for
/// [`TerminationSignals::next`].
pub struct TerminationSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl TerminationSignals {
    pub fn install() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(TerminationSignals {
            interrupt: signal(SignalKind::interrupt())
                .map_err(|error| format!("cannot listen for SIGINT: {error}"))?,
            terminate: signal(SignalKind::terminate())
                .map_err(|error| format!("cannot listen for SIGTERM: {error}"))?,
        })
    }

    /// Resolves with the signal's name when the process is asked to stop.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
