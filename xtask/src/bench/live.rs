//! The live scenarios of `cargo xtask bench`: spectators on the watch channel of live bot games,
//! and how long each frame takes from its tick to each of them.
//!
//! Every frame carries `tickedAt`, the moment the game's task published it; a spectator here
//! notes the moment each frame arrives (before parsing it), on the same machine and so the same
//! clock, and the difference is the frame's latency. Two scenarios, each on a fresh release
//! server with the in-memory store and the default tick:
//!
//! - the fleet: many bot games (`--demo-bots`), each watched by the same number of spectators;
//! - the crowd: one bot game watched by thousands of spectators.
//!
//! For each it reports the latency's p50, p99 and maximum over every frame ticked inside the
//! measurement window, the frames received against those expected (each connection's span of
//! sequence numbers, whose holes are frames the server skipped for a lagging spectator, and the
//! nominal ticks × spectators), the server's CPU over the window as a fraction of one core, and
//! its resident memory before and after the spectators connect (per spectator) and against a
//! server with no bot games (per game).
//!
//! Bot games end and the bot starts a new one with a new id. A spectator whose game ends
//! reconnects to its bot's next game, found in `GET /api/games/active`, which one task here
//! reads every [`DIRECTORY_REFRESH`] for all spectators (thousands of spectators asking at once
//! would be a load the scenario does not mean to measure). The first frame of every connection
//! is the game's current frame, sent at once, so it counts as received but not in the latency.
//!
//! The spectators run on a tokio runtime in this process (the release build of xtask, which
//! `cargo xtask bench` hands the run to), on the same cores as the server: their own work
//! (reading and parsing each frame) competes with the server's and is part of the latency
//! measured.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::process::BenchProcess;
use super::{mebibytes, round_to, verdict};

/// The server's default `--game-tick-ms`, which the scenarios keep (the issue's "default tick").
const SERVER_DEFAULT_TICK: Duration = Duration::from_millis(150);

/// The most games one page of `GET /api/games/active` lists (`maxItems: 100`); the next page
/// starts `after` the last id of the previous one.
const ACTIVE_GAMES_PER_PAGE: usize = 100;

/// Spectators connecting at once: enough to connect thousands in a few seconds, few enough to
/// stay well within the server's `--max-connections` while their upgrades are in progress.
const CONNECTING_AT_ONCE: usize = 64;

/// How often the directory of each bot's current game is refreshed.
const DIRECTORY_REFRESH: Duration = Duration::from_millis(100);

/// How long a spectator whose game ended waits for its bot's next game (the bot pauses for ten
/// ticks between games).
const NEXT_GAME_WITHIN: Duration = Duration::from_secs(10);

/// How long the bots' games and the spectators' connections may take to appear.
const SET_UP_WITHIN: Duration = Duration::from_secs(60);

/// How long a server is left alone after starting (or after its spectators connect) before its
/// memory is read, so that start-up work has settled.
const SETTLE: Duration = Duration::from_secs(1);

/// The issue's targets.
const FLEET_MAX_P99: Duration = Duration::from_millis(10);
const FLEET_MAX_CPU_OF_ONE_CORE: f64 = 0.25;
const CROWD_MAX_P99: Duration = Duration::from_millis(50);
const ACROSS_MAX_P99: Duration = Duration::from_millis(25);
const MAX_BYTES_PER_SPECTATOR: f64 = 16.0 * 1024.0;

/// The issue's fleet: 200 games with 10 spectators each.
const ISSUE_FLEET_GAMES: usize = 200;
const ISSUE_FLEET_SPECTATORS_PER_GAME: usize = 10;

/// The replay issue's games across instances: 100, each with two spectators on the other
/// instance (the issue names no number of spectators; two show that one frame from PostgreSQL
/// is shared).
const ISSUE_ACROSS_GAMES: usize = 100;
const ACROSS_SPECTATORS_PER_GAME: usize = 2;

/// How large the live scenarios are and how long they measure.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub fleet_games: usize,
    pub fleet_spectators_per_game: usize,
    pub crowd_spectators: usize,
    /// Bot games on one instance, watched from another (only with PostgreSQL).
    pub across_games: usize,
    pub across_spectators_per_game: usize,
    /// Between the last spectator connecting and the start of the measurement window.
    pub warm_up: Duration,
    pub window: Duration,
}

impl LiveOptions {
    /// The default run: the issue's 200 games × 10 spectators, and one game × 2,000, for 10 s
    /// each.
    pub fn full() -> LiveOptions {
        LiveOptions {
            fleet_games: ISSUE_FLEET_GAMES,
            fleet_spectators_per_game: ISSUE_FLEET_SPECTATORS_PER_GAME,
            crowd_spectators: 2_000,
            across_games: ISSUE_ACROSS_GAMES,
            across_spectators_per_game: ACROSS_SPECTATORS_PER_GAME,
            warm_up: Duration::from_secs(2),
            window: Duration::from_secs(10),
        }
    }

    /// `--quick`: small and short, to show that everything runs; its figures are not to quote.
    pub fn quick() -> LiveOptions {
        LiveOptions {
            fleet_games: 20,
            fleet_spectators_per_game: 5,
            crowd_spectators: 200,
            across_games: 10,
            across_spectators_per_game: ACROSS_SPECTATORS_PER_GAME,
            warm_up: Duration::from_millis(500),
            window: Duration::from_secs(2),
        }
    }
}

/// One frame as one spectator received it.
#[derive(Clone, Copy)]
struct Delivery {
    ticked_at_micros: i64,
    received_at_micros: i64,
    /// Sequence numbers skipped since the previous frame on the same connection.
    missed_before: u64,
    /// The game's current frame, sent at once when the connection opens.
    first_on_connection: bool,
}

/// What one spectator saw.
#[derive(Default)]
struct SpectatorLog {
    deliveries: Vec<Delivery>,
    reconnections: u64,
}

/// The fields of a `ServerMessage` the spectators read; serde skips the rest.
#[derive(serde::Deserialize)]
struct WatchMessage<'text> {
    #[serde(borrow)]
    frame: Option<WatchedFrame<'text>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatchedFrame<'text> {
    sequence: u64,
    ticked_at: &'text str,
    over: bool,
}

/// What the spectators share: each bot's current game, how many have connected, and when to stop.
#[derive(Default)]
struct Coordination {
    /// Bot username to the id of its game, as `GET /api/games/active` last listed it.
    current_game_by_bot: RwLock<HashMap<String, String>>,
    connected: AtomicUsize,
    finished: AtomicUsize,
    stop: AtomicBool,
}

impl Coordination {
    fn current_game_of(&self, bot: &str) -> Option<String> {
        self.current_game_by_bot
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(bot)
            .cloned()
    }
}

/// One scenario's measurements.
pub struct LiveScenario {
    name: &'static str,
    games: usize,
    spectators: usize,
    arguments: Vec<String>,
    window: Duration,
    /// Latencies (receipt − `tickedAt`) of frames ticked in the window, first frames left out.
    latencies_micros: Vec<i64>,
    frames_received: u64,
    frames_in_sequence_spans: u64,
    frames_missed: u64,
    reconnections: u64,
    server_cpu: Duration,
    rss_games_only: u64,
    rss_with_spectators: u64,
    rss_after_window: u64,
    errors: Vec<String>,
}

impl LiveScenario {
    fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_micros.is_empty() {
            return f64::NAN;
        }
        // Nearest rank: the smallest value with at least `fraction` of them at or below it.
        let rank = ((fraction * self.latencies_micros.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_micros.len());
        self.latencies_micros[rank - 1] as f64 / 1e3
    }

    fn max_ms(&self) -> f64 {
        self.latencies_micros
            .last()
            .map_or(f64::NAN, |micros| *micros as f64 / 1e3)
    }

    fn nominal_frames(&self) -> f64 {
        self.window.as_secs_f64() / SERVER_DEFAULT_TICK.as_secs_f64() * self.spectators as f64
    }

    fn cpu_of_one_core(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.window.as_secs_f64()
    }

    fn cpu_micros_per_frame(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.frames_received.max(1) as f64
    }

    fn bytes_per_spectator(&self) -> f64 {
        (self.rss_with_spectators as f64 - self.rss_games_only as f64) / self.spectators as f64
    }

    /// A run that measured nothing, or whose connections failed, is no measurement.
    fn is_invalid(&self) -> bool {
        self.latencies_micros.is_empty() || !self.errors.is_empty()
    }
}

/// Both scenarios and the reference server.
pub struct LiveReport {
    options: LiveOptions,
    rss_without_games: u64,
    fleet: LiveScenario,
    crowd: LiveScenario,
    /// Only when a PostgreSQL server was named.
    across: Option<LiveScenario>,
}

/// Runs the reference server, the fleet and the crowd, one after another.
pub fn measure(server: &Path, options: &LiveOptions) -> Result<LiveReport, String> {
    let most_spectators =
        (options.fleet_games * options.fleet_spectators_per_game).max(options.crowd_spectators);
    raise_open_file_limit(most_spectators as u64 * 2 + 256)?;

    eprintln!("bench: live, a server with no bot games (the reference for memory per game)");
    let reference =
        BenchProcess::start_server(server, &server_arguments("memory", 0, most_spectators))?;
    std::thread::sleep(SETTLE);
    let rss_without_games = reference.resident_bytes()?;
    drop(reference);

    let fleet = run_scenario(
        server,
        "fleet",
        options.fleet_games,
        options.fleet_spectators_per_game,
        options,
    )?;
    let crowd = run_scenario(server, "crowd", 1, options.crowd_spectators, options)?;
    let across = match std::env::var(super::backends::POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(run_across_instances(server, &url, options)?),
        _ => None,
    };
    Ok(LiveReport {
        options: options.clone(),
        rss_without_games,
        fleet,
        crowd,
        across,
    })
}

/// The across-instances scenario: two servers on one PostgreSQL database, the bots on the first
/// and every spectator on the second, so each frame goes from its tick on the first instance
/// through PostgreSQL's `LISTEN/NOTIFY` to the second, and from there to the spectators.
fn run_across_instances(
    binary: &Path,
    postgres_url: &str,
    options: &LiveOptions,
) -> Result<LiveScenario, String> {
    let database = super::durable_growth::fresh_postgres_database(
        postgres_url,
        "snake_arena_bench_live_across",
    )?;
    let games = options.across_games;
    let spectators = games * options.across_spectators_per_game;
    let players_arguments = server_arguments(&database, games, spectators);
    let door_arguments = server_arguments(&database, 0, spectators);
    eprintln!(
        "bench: live across instances, {games} game(s) on one instance × {} spectators on another",
        options.across_spectators_per_game
    );
    // The first migrates and seeds the database; the second finds it ready.
    let players = BenchProcess::start_server(binary, &players_arguments)?;
    let door = BenchProcess::start_server(binary, &door_arguments)?;
    let door_arguments: Vec<String> = door_arguments
        .into_iter()
        .map(|argument| argument.replace(&database, "postgres://…"))
        .collect();
    watch_and_measure(
        "across instances",
        vec![players, door],
        door_arguments,
        games,
        options.across_spectators_per_game,
        options,
    )
}

fn server_arguments(database_url: &str, bots: usize, spectators: usize) -> Vec<String> {
    [
        "--database-url",
        database_url,
        "--demo-bots",
        &bots.to_string(),
        "--max-live-games",
        "1000",
        "--max-channels",
        &(spectators + 256).to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn run_scenario(
    binary: &Path,
    name: &'static str,
    games: usize,
    spectators_per_game: usize,
    options: &LiveOptions,
) -> Result<LiveScenario, String> {
    let spectators = games * spectators_per_game;
    let arguments = server_arguments("memory", games, spectators);
    eprintln!("bench: live {name}, {games} game(s) × {spectators_per_game} spectators");
    let server = BenchProcess::start_server(binary, &arguments)?;
    watch_and_measure(
        name,
        vec![server],
        arguments,
        games,
        spectators_per_game,
        options,
    )
}

/// Connects `spectators_per_game` spectators to each of the `games` bot games through the last
/// of `servers` (the one whose CPU and memory are measured), measures, and stops the servers.
fn watch_and_measure(
    name: &'static str,
    mut servers: Vec<BenchProcess>,
    arguments: Vec<String>,
    games: usize,
    spectators_per_game: usize,
    options: &LiveOptions,
) -> Result<LiveScenario, String> {
    let spectators = games * spectators_per_game;
    std::thread::sleep(SETTLE);
    let server = servers.last().ok_or("a scenario needs a server")?;
    let rss_games_only = server.resident_bytes()?;
    let address = server.address;

    // Two workers, like the server on this machine; the spectators' work is small per frame.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the spectators' runtime: {error}"))?;
    let coordination = Arc::new(Coordination::default());
    let measured = runtime.block_on(async {
        let set_up_deadline = tokio::time::Instant::now() + SET_UP_WITHIN;
        loop {
            refresh_directory(address, &coordination).await?;
            let listed = coordination
                .current_game_by_bot
                .read()
                .unwrap_or_else(|poison| poison.into_inner())
                .len();
            if listed >= games {
                break;
            }
            if tokio::time::Instant::now() > set_up_deadline {
                return Err(format!("only {listed} of {games} bot games were listed"));
            }
            tokio::time::sleep(DIRECTORY_REFRESH).await;
        }
        let directory = tokio::spawn(keep_directory_fresh(address, Arc::clone(&coordination)));

        let mut spectator_tasks = Vec::with_capacity(spectators);
        for index in 0..spectators {
            let bot = format!("bot-{}", index % games + 1);
            spectator_tasks.push(tokio::spawn(spectate(
                address,
                bot,
                Arc::clone(&coordination),
            )));
            let started = index + 1;
            if started % CONNECTING_AT_ONCE == 0 || started == spectators {
                wait_until_connected(&coordination, started, set_up_deadline).await?;
            }
        }
        eprintln!("bench: live {name}, {spectators} spectators connected");
        tokio::time::sleep(options.warm_up).await;
        let rss_with_spectators = server.resident_bytes()?;
        let window_start = Utc::now();
        let cpu_before = server.cpu_time()?;
        tokio::time::sleep(options.window).await;
        let cpu_after = server.cpu_time()?;
        let window_end = Utc::now();
        let rss_after_window = server.resident_bytes()?;
        coordination.stop.store(true, Ordering::Relaxed);

        let mut logs = Vec::with_capacity(spectators);
        let mut errors = Vec::new();
        for task in spectator_tasks {
            match task.await {
                Ok(Ok(log)) => logs.push(log),
                Ok(Err(error)) => errors.push(error),
                Err(error) => errors.push(format!("a spectator task failed: {error}")),
            }
        }
        directory.abort();
        Ok::<_, String>(Measured {
            logs,
            errors,
            window_start,
            window_end,
            server_cpu: cpu_after.saturating_sub(cpu_before),
            rss_with_spectators,
            rss_after_window,
        })
    })?;
    for server in &mut servers {
        server.check_running()?;
    }
    drop(runtime);

    let mut scenario = LiveScenario {
        name,
        games,
        spectators,
        arguments,
        window: (measured.window_end - measured.window_start)
            .to_std()
            .unwrap_or(options.window),
        latencies_micros: Vec::new(),
        frames_received: 0,
        frames_in_sequence_spans: 0,
        frames_missed: 0,
        reconnections: 0,
        server_cpu: measured.server_cpu,
        rss_games_only,
        rss_with_spectators: measured.rss_with_spectators,
        rss_after_window: measured.rss_after_window,
        errors: measured.errors,
    };
    let window_start = measured.window_start.timestamp_micros();
    let window_end = measured.window_end.timestamp_micros();
    for log in &measured.logs {
        scenario.reconnections += log.reconnections;
        for delivery in &log.deliveries {
            if !(window_start..=window_end).contains(&delivery.ticked_at_micros) {
                continue;
            }
            scenario.frames_received += 1;
            scenario.frames_in_sequence_spans += 1;
            if delivery.first_on_connection {
                continue;
            }
            scenario.frames_missed += delivery.missed_before;
            scenario.frames_in_sequence_spans += delivery.missed_before;
            scenario
                .latencies_micros
                .push(delivery.received_at_micros - delivery.ticked_at_micros);
        }
    }
    scenario.latencies_micros.sort_unstable();
    eprintln!(
        "bench: live {name}: {} frames, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, server CPU {:.1}% of a core",
        scenario.frames_received,
        scenario.percentile_ms(0.50),
        scenario.percentile_ms(0.99),
        scenario.max_ms(),
        scenario.cpu_of_one_core() * 100.0
    );
    Ok(scenario)
}

/// What the runtime hands back from one scenario.
struct Measured {
    logs: Vec<SpectatorLog>,
    errors: Vec<String>,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    server_cpu: Duration,
    rss_with_spectators: u64,
    rss_after_window: u64,
}

async fn wait_until_connected(
    coordination: &Coordination,
    count: usize,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    while coordination.connected.load(Ordering::Relaxed) < count {
        if coordination.finished.load(Ordering::Relaxed) > 0 {
            return Err("a spectator stopped while the others were connecting".to_owned());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "only {} of {count} spectators connected within {} s",
                coordination.connected.load(Ordering::Relaxed),
                SET_UP_WITHIN.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Watches `bot`'s current game until told to stop, following the bot from game to game.
async fn spectate(
    address: SocketAddr,
    bot: String,
    coordination: Arc<Coordination>,
) -> Result<SpectatorLog, String> {
    let result = spectate_until_stopped(address, &bot, &coordination).await;
    coordination.finished.fetch_add(1, Ordering::Relaxed);
    result
}

async fn spectate_until_stopped(
    address: SocketAddr,
    bot: &str,
    coordination: &Coordination,
) -> Result<SpectatorLog, String> {
    let mut log = SpectatorLog::default();
    let mut game_id = coordination
        .current_game_of(bot)
        .ok_or_else(|| format!("{bot} has no game listed"))?;
    let mut connections = 0u64;
    loop {
        let url = format!("ws://{address}/api/games/live/{game_id}/watch");
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(
            url.as_str(),
            Some(spectator_config()),
            true,
        )
        .await
        .map_err(|error| format!("cannot open {url}: {error}"))?;
        connections += 1;
        if connections == 1 {
            coordination.connected.fetch_add(1, Ordering::Relaxed);
        } else {
            log.reconnections += 1;
        }
        let mut previous_sequence: Option<u64> = None;
        let mut saw_final_frame = false;
        while let Some(message) = socket.next().await {
            let received_at_micros = Utc::now().timestamp_micros();
            let message = message.map_err(|error| format!("{url}: {error}"))?;
            if let Message::Text(text) = message {
                let frame = serde_json::from_str::<WatchMessage>(text.as_str())
                    .ok()
                    .and_then(|message| message.frame)
                    .ok_or_else(|| format!("{url}: not a frame message: {}", text.as_str()))?;
                let ticked_at_micros = DateTime::parse_from_rfc3339(frame.ticked_at)
                    .map_err(|error| format!("{url}: tickedAt {}: {error}", frame.ticked_at))?
                    .timestamp_micros();
                log.deliveries.push(Delivery {
                    ticked_at_micros,
                    received_at_micros,
                    missed_before: previous_sequence
                        .map_or(0, |previous| frame.sequence.saturating_sub(previous + 1)),
                    first_on_connection: previous_sequence.is_none(),
                });
                previous_sequence = Some(frame.sequence);
                saw_final_frame |= frame.over;
            }
            if coordination.stop.load(Ordering::Relaxed) {
                // A close the server does not answer in time is no fault of the measurement.
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                return Ok(log);
            }
        }
        if coordination.stop.load(Ordering::Relaxed) {
            return Ok(log);
        }
        if !saw_final_frame {
            return Err(format!("{url} closed before the game's final frame"));
        }
        game_id = next_game_of(bot, &game_id, coordination).await?;
        if coordination.stop.load(Ordering::Relaxed) {
            return Ok(log);
        }
    }
}

/// Bytes a spectator asks its socket for at a time. tungstenite zeroes that much of its read
/// buffer on every attempt to read, and its default, 128 KiB, made the spectators the slowest
/// part of the measurement: zeroing took a quarter of the machine's CPU in the crowd scenario,
/// and the frames waited for it. A frame is well under 2 KiB until the snake is long, and a
/// longer one is read in several reads.
const SPECTATOR_READ_CHUNK_BYTES: usize = 2 * 1024;

fn spectator_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(SPECTATOR_READ_CHUNK_BYTES)
}

/// Waits until the directory lists a game of `bot` other than `ended_game` (or until told to
/// stop, when it returns the ended game, which the caller does not open).
async fn next_game_of(
    bot: &str,
    ended_game: &str,
    coordination: &Coordination,
) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + NEXT_GAME_WITHIN;
    loop {
        if coordination.stop.load(Ordering::Relaxed) {
            return Ok(ended_game.to_owned());
        }
        if let Some(game) = coordination.current_game_of(bot)
            && game != ended_game
        {
            return Ok(game);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{bot} started no game within {} s of its last one",
                NEXT_GAME_WITHIN.as_secs()
            ));
        }
        tokio::time::sleep(DIRECTORY_REFRESH / 2).await;
    }
}

async fn keep_directory_fresh(address: SocketAddr, coordination: Arc<Coordination>) {
    while !coordination.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(DIRECTORY_REFRESH).await;
        // A failed read leaves the last directory in place; the next one will do.
        let _ = refresh_directory(address, &coordination).await;
    }
}

/// Reads every page of `GET /api/games/active` and records each bot's current game.
async fn refresh_directory(address: SocketAddr, coordination: &Coordination) -> Result<(), String> {
    let mut directory = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let target = match &after {
            Some(last_id) => format!("/api/games/active?after={last_id}"),
            None => "/api/games/active".to_owned(),
        };
        let body = get_body(address, &target).await?;
        let games: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|error| format!("GET {target} is not JSON: {error}"))?;
        let page = games
            .as_array()
            .ok_or_else(|| format!("GET {target} is not a list"))?;
        for game in page {
            if let (Some(username), Some(id)) = (game["username"].as_str(), game["id"].as_str()) {
                directory.insert(username.to_owned(), id.to_owned());
            }
        }
        match page.last().and_then(|game| game["id"].as_str()) {
            Some(last_id) if page.len() == ACTIVE_GAMES_PER_PAGE => {
                after = Some(last_id.to_owned())
            }
            _ => break,
        }
    }
    *coordination
        .current_game_by_bot
        .write()
        .unwrap_or_else(|poison| poison.into_inner()) = directory;
    Ok(())
}

/// The body of a `GET` answered 200, on a fresh connection.
async fn get_body(address: SocketAddr, target: &str) -> Result<Vec<u8>, String> {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| format!("cannot send GET {target}: {error}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|error| format!("cannot read GET {target}: {error}"))?;
    let head_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("GET {target}: no end of headers"))?;
    if !response.starts_with(b"HTTP/1.1 200") {
        let status_line = String::from_utf8_lossy(&response[..head_end.min(64)]).into_owned();
        return Err(format!("GET {target} answered {status_line}"));
    }
    Ok(response[head_end + 4..].to_vec())
}

/// Raises this process's soft limit on open files to at least `needed` (within the hard limit);
/// the servers it starts inherit it.
fn raise_open_file_limit(needed: u64) -> Result<(), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err("cannot read the open-file limit".to_owned());
    }
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    if limit.rlim_max < needed {
        return Err(format!(
            "the live scenarios need {needed} open files, and the hard limit is {}",
            limit.rlim_max
        ));
    }
    limit.rlim_cur = needed;
    // SAFETY: setrlimit reads the struct it is given, which lives for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(format!("cannot raise the open-file limit to {needed}"));
    }
    Ok(())
}

/// One of the targets, checked.
struct LiveTargetCheck {
    target: String,
    measured: String,
    met: bool,
}

impl LiveReport {
    /// Scenarios that measured nothing or lost connections.
    pub fn invalid_runs(&self) -> Vec<String> {
        self.scenarios()
            .filter(|scenario| scenario.is_invalid())
            .map(|scenario| {
                format!(
                    "live {}: {} frame latencies, {} spectator error(s){}",
                    scenario.name,
                    scenario.latencies_micros.len(),
                    scenario.errors.len(),
                    scenario
                        .errors
                        .first()
                        .map(|error| format!(", the first: {error}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    fn scenarios(&self) -> impl Iterator<Item = &LiveScenario> {
        [&self.fleet, &self.crowd]
            .into_iter()
            .chain(self.across.as_ref())
    }

    fn bytes_per_game(&self) -> f64 {
        (self.fleet.rss_games_only as f64 - self.rss_without_games as f64) / self.fleet.games as f64
    }

    fn is_issue_fleet(&self) -> bool {
        self.fleet.games == ISSUE_FLEET_GAMES
            && self.fleet.spectators == ISSUE_FLEET_GAMES * ISSUE_FLEET_SPECTATORS_PER_GAME
    }

    fn target_checks(&self) -> Vec<LiveTargetCheck> {
        let fleet = &self.fleet;
        let crowd = &self.crowd;
        let load = if self.is_issue_fleet() {
            String::new()
        } else {
            format!(
                " (measured at {} games × {} spectators, not the issue's {ISSUE_FLEET_GAMES} × \
                 {ISSUE_FLEET_SPECTATORS_PER_GAME})",
                fleet.games,
                fleet.spectators / fleet.games.max(1)
            )
        };
        let per_spectator = fleet.bytes_per_spectator().max(crowd.bytes_per_spectator());
        let across = match &self.across {
            Some(across) => LiveTargetCheck {
                target: format!(
                    "across instances: p99 tick to spectator on another instance < {} ms",
                    ACROSS_MAX_P99.as_millis()
                ),
                measured: format!(
                    "{:.2} ms ({} games × {})",
                    across.percentile_ms(0.99),
                    across.games,
                    across.spectators / across.games.max(1)
                ),
                met: across.percentile_ms(0.99) < ACROSS_MAX_P99.as_secs_f64() * 1e3,
            },
            None => LiveTargetCheck {
                target: format!(
                    "across instances: p99 tick to spectator on another instance < {} ms",
                    ACROSS_MAX_P99.as_millis()
                ),
                measured: format!(
                    "not measured: set {} to a PostgreSQL server",
                    super::backends::POSTGRES_URL_VARIABLE
                ),
                met: false,
            },
        };
        vec![
            LiveTargetCheck {
                target: format!(
                    "fleet: p99 tick to spectator < {} ms",
                    FLEET_MAX_P99.as_millis()
                ),
                measured: format!("{:.2} ms{load}", fleet.percentile_ms(0.99)),
                met: fleet.percentile_ms(0.99) < FLEET_MAX_P99.as_secs_f64() * 1e3,
            },
            LiveTargetCheck {
                target: format!(
                    "fleet: server CPU < {:.0} % of one core",
                    FLEET_MAX_CPU_OF_ONE_CORE * 100.0
                ),
                measured: format!("{:.1} %{load}", fleet.cpu_of_one_core() * 100.0),
                met: fleet.cpu_of_one_core() < FLEET_MAX_CPU_OF_ONE_CORE,
            },
            LiveTargetCheck {
                target: format!(
                    "crowd: p99 tick to spectator < {} ms",
                    CROWD_MAX_P99.as_millis()
                ),
                measured: format!(
                    "{:.2} ms ({} spectators)",
                    crowd.percentile_ms(0.99),
                    crowd.spectators
                ),
                met: crowd.percentile_ms(0.99) < CROWD_MAX_P99.as_secs_f64() * 1e3,
            },
            LiveTargetCheck {
                target: format!(
                    "RSS per spectator < {:.0} KiB",
                    MAX_BYTES_PER_SPECTATOR / 1024.0
                ),
                measured: format!(
                    "{:.1} KiB (fleet), {:.1} KiB (crowd)",
                    fleet.bytes_per_spectator() / 1024.0,
                    crowd.bytes_per_spectator() / 1024.0
                ),
                met: per_spectator < MAX_BYTES_PER_SPECTATOR,
            },
            across,
        ]
    }

    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "Live games: release servers with the in-memory store (across instances: \
             PostgreSQL) and the default tick ({} ms); spectators on the watch channel, run by this process on the same cores \
             as the server. Latency = the moment a spectator reads a frame − the frame's \
             `tickedAt` (same machine, same clock), over every frame ticked in a {:.0} s window \
             that starts {:.1} s after the last spectator connected; a connection's first frame \
             (the current one, sent at once) is counted as received but not timed. A spectator \
             whose game ends reconnects to its bot's next game. Expected frames: each \
             connection's span of sequence numbers (missing = holes in it, frames skipped for a \
             lagging spectator); nominal = window / tick × spectators, which also counts the \
             bots' pauses between games.",
            SERVER_DEFAULT_TICK.as_millis(),
            self.options.window.as_secs_f64(),
            self.options.warm_up.as_secs_f64(),
        );
        text.push('\n');
        text.push_str(
            "| scenario | games | spectators | frames received | expected (spans) | missing \
             | nominal | reconnections | p50 ms | p99 ms | max ms | server CPU, % of one core \
             | CPU µs/frame | RSS before spectators | RSS with spectators | RSS per spectator |\n",
        );
        text.push_str(
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for scenario in self.scenarios() {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.1} | \
                 {:.1} | {} | {} | {:.1} KiB |",
                scenario.name,
                scenario.games,
                scenario.spectators,
                scenario.frames_received,
                scenario.frames_in_sequence_spans,
                scenario.frames_missed,
                scenario.nominal_frames(),
                scenario.reconnections,
                scenario.percentile_ms(0.50),
                scenario.percentile_ms(0.99),
                scenario.max_ms(),
                scenario.cpu_of_one_core() * 100.0,
                scenario.cpu_micros_per_frame(),
                mebibytes(scenario.rss_games_only),
                mebibytes(scenario.rss_with_spectators),
                scenario.bytes_per_spectator() / 1024.0,
            );
        }
        let _ = writeln!(
            text,
            "\nRSS per live game: ({} with {} bot games − {} with none) / {} = {:.1} KiB. \
             RSS counts the server process's memory, not the kernel's socket buffers.",
            mebibytes(self.fleet.rss_games_only),
            self.fleet.games,
            mebibytes(self.rss_without_games),
            self.fleet.games,
            self.bytes_per_game() / 1024.0
        );
        let _ = writeln!(
            text,
            "Fleet server: `snake-arena-server --bind 127.0.0.1:PORT {}`; crowd: `… {}`.",
            self.fleet.arguments.join(" "),
            self.crowd.arguments.join(" ")
        );
        if let Some(across) = &self.across {
            let _ = writeln!(
                text,
                "Across instances: two servers on one PostgreSQL database, one with the row's \
                 bot games (`--demo-bots {}`), and the spectators' instance, whose CPU and \
                 memory the row gives: `… {}`.",
                across.games,
                across.arguments.join(" ")
            );
        }
        if !self.is_issue_fleet() {
            let _ = writeln!(
                text,
                "The issue's fleet is {ISSUE_FLEET_GAMES} games × {ISSUE_FLEET_SPECTATORS_PER_GAME} \
                 spectators; this run's is {} × {}, which the default run (without `--quick`) is \
                 not.",
                self.fleet.games,
                self.fleet.spectators / self.fleet.games.max(1),
            );
        }
        text.push_str("\n| live target | measured | verdict |\n|---|---|---|\n");
        for check in self.target_checks() {
            let _ = writeln!(
                text,
                "| {} | {} | {} |",
                check.target,
                check.measured,
                verdict(check.met)
            );
        }
        text
    }

    pub fn to_json(&self) -> serde_json::Value {
        let scenario_json = |scenario: &LiveScenario| {
            serde_json::json!({
                "scenario": scenario.name,
                "server_arguments": scenario.arguments,
                "games": scenario.games,
                "spectators": scenario.spectators,
                "window_seconds": round_to(scenario.window.as_secs_f64(), 3),
                "frames_received": scenario.frames_received,
                "frames_timed": scenario.latencies_micros.len(),
                "frames_expected_in_sequence_spans": scenario.frames_in_sequence_spans,
                "frames_missing_in_sequence": scenario.frames_missed,
                "frames_nominal": round_to(scenario.nominal_frames(), 0),
                "reconnections": scenario.reconnections,
                "latency_p50_ms": round_to(scenario.percentile_ms(0.50), 3),
                "latency_p99_ms": round_to(scenario.percentile_ms(0.99), 3),
                "latency_max_ms": round_to(scenario.max_ms(), 3),
                "server_cpu_seconds": round_to(scenario.server_cpu.as_secs_f64(), 3),
                "server_cpu_of_one_core": round_to(scenario.cpu_of_one_core(), 4),
                "server_cpu_us_per_frame": round_to(scenario.cpu_micros_per_frame(), 2),
                "rss_before_spectators_bytes": scenario.rss_games_only,
                "rss_with_spectators_bytes": scenario.rss_with_spectators,
                "rss_after_window_bytes": scenario.rss_after_window,
                "rss_bytes_per_spectator": round_to(scenario.bytes_per_spectator(), 1),
                "errors": scenario.errors,
            })
        };
        let targets: Vec<_> = self
            .target_checks()
            .into_iter()
            .map(|check| {
                serde_json::json!({ "target": check.target, "measured": check.measured, "met": check.met })
            })
            .collect();
        serde_json::json!({
            "tick_ms": SERVER_DEFAULT_TICK.as_millis() as u64,
            "warm_up_seconds": self.options.warm_up.as_secs_f64(),
            "rss_without_games_bytes": self.rss_without_games,
            "rss_bytes_per_game": round_to(self.bytes_per_game(), 1),
            "fleet": scenario_json(&self.fleet),
            "crowd": scenario_json(&self.crowd),
            "across_instances": self.across.as_ref().map(scenario_json),
            "targets": targets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_with_latencies(latencies_micros: Vec<i64>) -> LiveScenario {
        LiveScenario {
            name: "test",
            games: 1,
            spectators: 1,
            arguments: Vec::new(),
            window: Duration::from_secs(1),
            latencies_micros,
            frames_received: 0,
            frames_in_sequence_spans: 0,
            frames_missed: 0,
            reconnections: 0,
            server_cpu: Duration::ZERO,
            rss_games_only: 0,
            rss_with_spectators: 0,
            rss_after_window: 0,
            errors: Vec::new(),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_over_the_sorted_latencies() {
        let scenario = scenario_with_latencies((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!(scenario.percentile_ms(0.50), 50.0);
        assert_eq!(scenario.percentile_ms(0.99), 99.0);
        assert_eq!(scenario.max_ms(), 100.0);
    }

    #[test]
    fn a_scenario_without_frames_or_with_errors_is_invalid() {
        assert!(scenario_with_latencies(Vec::new()).is_invalid());
        let mut failed = scenario_with_latencies(vec![1]);
        assert!(!failed.is_invalid());
        failed.errors.push("closed".to_owned());
        assert!(failed.is_invalid());
    }

    #[test]
    fn a_frame_message_is_read_for_its_sequence_tick_time_and_end() {
        let text = r#"{"frame":{"gameId":"x","sequence":3,"snake":[],"tickedAt":"2026-12-01T09:05:07.123456Z","over":false},"type":"frame"}"#;
        let frame = serde_json::from_str::<WatchMessage>(text)
            .unwrap()
            .frame
            .unwrap();
        assert_eq!(frame.sequence, 3);
        assert!(!frame.over);
        let ticked_at = DateTime::parse_from_rfc3339(frame.ticked_at).unwrap();
        assert_eq!(ticked_at.timestamp_subsec_micros(), 123_456);
    }
}
