//! Live games across instances on one PostgreSQL database: a game run by one server is listed,
//! shown and watched through another, frame for frame and byte for byte; a watcher whose server
//! lost its listening connection carries on from the next frame; and when the server running a
//! game is killed, the game leaves the other's list within its instance timeout and the other's
//! watchers get a final frame saying it was lost. Every test here needs
//! `SNAKE_ARENA_TEST_POSTGRES_URL` and says "skipped" without it.
//!
//! The servers hear from each other every `HEARTBEAT_MS` and give one up after `TIMEOUT_MS`, so
//! the tests take seconds, not the defaults' minutes. Where a test waits for another server to
//! learn of something, it asks again every few milliseconds until a deadline: no guessed sleep.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use crate::common::{ScratchDatabase, TestContext, test_postgres_url, types};
use crate::live::{frames_until_closed, socket_of, start_game};

const HEARTBEAT_MS: u32 = 100;
const TIMEOUT_MS: u32 = 1000;

/// How long another server may take to hear of a game: a few round trips through PostgreSQL,
/// with room for a busy machine.
const HEARD_WITHIN: Duration = Duration::from_secs(10);

/// How long a killed server's games may take to end elsewhere: the instance timeout, a sweep
/// (one heartbeat) and room for a busy machine.
const LOST_WITHIN: Duration = Duration::from_secs(5);

fn instance_settings(config: &mut snake_arena_server::config::Config, tick_ms: u32) {
    config.no_seed = true;
    config.game_tick_ms = tick_ms;
    config.instance_heartbeat_ms = HEARTBEAT_MS;
    config.instance_timeout_ms = TIMEOUT_MS;
}

async fn instance_on(database: &ScratchDatabase, tick_ms: u32) -> TestContext {
    let url = database.url().to_owned();
    TestContext::start_with(move |config| {
        config.database_url = url;
        instance_settings(config, tick_ms);
    })
    .await
}

/// Asks `context` for the game's frame until it has one, and returns it.
async fn frame_once_heard(context: &TestContext, game_id: Uuid) -> types::GameFrame {
    let deadline = Instant::now() + HEARD_WITHIN;
    loop {
        match context.client().games_live_view(&game_id).await {
            Ok(frame) => return frame.into_inner(),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(error) => panic!("{game_id} was not heard of within {HEARD_WITHIN:?}: {error}"),
        }
    }
}

async fn listed_ids(context: &TestContext) -> Vec<Uuid> {
    context
        .client()
        .games_active_list(None)
        .await
        .expect("the list")
        .into_inner()
        .iter()
        .map(|game| game.id)
        .collect()
}

async fn watch(context: &TestContext, game_id: Uuid) -> crate::live::Socket {
    let upgraded = context
        .client()
        .games_watch(&game_id)
        .await
        .expect("the watch channel opens");
    socket_of(upgraded).await
}

fn sequences(frames: &[(types::GameFrame, String)]) -> Vec<i64> {
    frames.iter().map(|(frame, _)| frame.sequence).collect()
}

fn assert_strictly_increasing(sequences: &[i64]) {
    assert!(
        sequences.windows(2).all(|pair| pair[0] < pair[1]),
        "in order, none twice: {sequences:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_run_by_one_instance_is_listed_shown_and_watched_through_another_byte_for_byte() {
    let Some(server_url) = test_postgres_url("a game across instances") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    // Eleven ticks from the start the snake, heading up from the middle, hits the wall.
    let (running, other) = tokio::join!(instance_on(&database, 100), instance_on(&database, 100));
    let player = running.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::Walls).await;

    let heard = frame_once_heard(&other, started.game_id).await;
    assert_eq!(heard.game_id, started.game_id);
    assert_eq!(heard.username.as_str(), player.username);
    assert!(!heard.over);
    assert!(listed_ids(&other).await.contains(&started.game_id));
    let mut local_watcher = watch(&running, started.game_id).await;
    let mut remote_watcher = watch(&other, started.game_id).await;

    let (local, local_close) = frames_until_closed(&mut local_watcher).await;
    let (remote, remote_close) = frames_until_closed(&mut remote_watcher).await;
    assert_eq!(
        (local_close, remote_close),
        (CloseCode::Normal, CloseCode::Normal)
    );
    assert_strictly_increasing(&sequences(&remote));
    let first_remote = remote[0].0.sequence;
    let local_from_there: Vec<&String> = local
        .iter()
        .filter(|(frame, _)| frame.sequence >= first_remote)
        .map(|(_, text)| text)
        .collect();
    let remote_texts: Vec<&String> = remote.iter().map(|(_, text)| text).collect();
    assert_eq!(
        remote_texts, local_from_there,
        "the other instance's watcher gets the running instance's frames, byte for byte"
    );
    let last = &remote.last().expect("frames").0;
    assert!(last.over);
    assert_eq!(last.end_reason, Some(types::GameFrameEndReason::HitWall));
    assert!(last.entry.as_ref().is_some_and(|entry| entry.verified));

    // The final frame took the game off the other instance's list.
    assert!(!listed_ids(&other).await.contains(&started.game_id));
    let gone = other
        .raw_get(&format!("/api/games/live/{}", started.game_id), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_whose_instance_lost_its_listening_connection_carries_on_from_the_next_frame() {
    let Some(server_url) = test_postgres_url("a listener that reconnects") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    // A slower tick, so the game outlasts the listener's reconnection by a second or more.
    let (running, other) = tokio::join!(instance_on(&database, 250), instance_on(&database, 250));
    let player = running.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::Walls).await;
    frame_once_heard(&other, started.game_id).await;
    let mut local_watcher = watch(&running, started.game_id).await;
    let mut remote_watcher = watch(&other, started.game_id).await;

    // Ends every connection on the database listening for live games' frames (each instance
    // also listens for leaderboard changes, on a connection of its own, left alone here):
    // PostgreSQL closes them, as when a connection is cut, and sqlx opens new ones.
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(database.url())
        .await
        .expect("connects");
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%snake_arena_live_games%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("the listeners are terminated");
    assert_eq!(terminated, [true, true], "both instances listen");

    let (local, _) = frames_until_closed(&mut local_watcher).await;
    let (remote, close) = frames_until_closed(&mut remote_watcher).await;
    assert_eq!(close, CloseCode::Normal);
    assert_strictly_increasing(&sequences(&remote));
    let local_texts: Vec<&String> = local.iter().map(|(_, text)| text).collect();
    for (_, text) in &remote {
        assert!(
            local_texts.contains(&text),
            "every frame the other instance's watcher got is one the game published: {text}"
        );
    }
    let last = &remote.last().expect("frames").0;
    assert_eq!(
        last.end_reason,
        Some(types::GameFrameEndReason::HitWall),
        "the final frame arrived over the new connection"
    );
    let _ = admin.close().await;
}

/// The server binary on `database`, killed when dropped; and the address it listens on.
struct KillableInstance {
    child: tokio::process::Child,
    base_url: String,
}

impl KillableInstance {
    async fn start(database: &ScratchDatabase, tick_ms: u32) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_snake-arena-server"))
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .args(["--scrypt-log-n", "4", "--no-seed"])
            .args(["--database-url", database.url()])
            .args(["--game-tick-ms", &tick_ms.to_string()])
            .args(["--instance-heartbeat-ms", &HEARTBEAT_MS.to_string()])
            .args(["--instance-timeout-ms", &TIMEOUT_MS.to_string()])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let mut log = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let reading = async {
            loop {
                let line = log
                    .next_line()
                    .await
                    .expect("the log is readable")
                    .expect("the server exited before it listened");
                let line: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                if line["msg"] == "Snake Arena API listening" {
                    return line["address"]
                        .as_str()
                        .expect("the address")
                        .trim_end_matches("/api")
                        .to_owned();
                }
            }
        };
        let base_url = tokio::time::timeout(Duration::from_secs(30), reading)
            .await
            .expect("the server listens within 30 s");
        // The rest of the log is left unread: the pipe's buffer holds far more than these
        // servers write before the test kills them.
        Self { child, base_url }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_s_game_leaves_the_other_s_list_and_its_watchers_get_a_lost_frame() {
    let Some(server_url) = test_postgres_url("a killed instance") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (doomed, other) = tokio::join!(
        KillableInstance::start(&database, 60),
        instance_on(&database, 60)
    );
    // Accounts are shared: a player signed up through the other instance plays on the doomed one.
    let player = other.sign_up_fresh_player().await;
    let doomed_client = {
        use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
        let mut headers = HeaderMap::new();
        let bearer = HeaderValue::from_str(&format!("Bearer {}", player.token)).unwrap();
        headers.insert(AUTHORIZATION, bearer);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        crate::common::Client::new_with_client(&doomed.base_url, http)
    };
    // Pass-through, heading up: the snake goes round and round and the game never ends by itself.
    let started = doomed_client
        .games_start(&types::GameStartRequest {
            mode: types::GameMode::PassThrough,
        })
        .await
        .expect("the game starts")
        .into_inner();
    frame_once_heard(&other, started.game_id).await;
    assert!(listed_ids(&other).await.contains(&started.game_id));
    let mut watcher = watch(&other, started.game_id).await;

    let mut doomed = doomed;
    doomed.child.start_kill().expect("SIGKILL is sent");
    doomed.child.wait().await.expect("the server is gone");
    let killed_at = Instant::now();
    let (frames, close) = tokio::time::timeout(LOST_WITHIN, frames_until_closed(&mut watcher))
        .await
        .expect("the watcher is told within the instance timeout, never left hanging");
    let told_after = killed_at.elapsed();
    assert_eq!(close, CloseCode::Normal);
    assert_strictly_increasing(&sequences(&frames));
    let last = &frames.last().expect("frames").0;
    assert!(last.over);
    assert_eq!(
        last.end_reason,
        Some(types::GameFrameEndReason::InstanceLost)
    );
    assert!(last.entry.is_none(), "nobody recorded the game");
    assert!(
        told_after >= Duration::from_millis(u64::from(TIMEOUT_MS) / 2),
        "not before the instance could have been heard: {told_after:?}"
    );
    assert!(!listed_ids(&other).await.contains(&started.game_id));
    let gone = other
        .raw_get(&format!("/api/games/live/{}", started.game_id), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_ended_by_a_graceful_shutdown_reaches_the_other_instance_s_watchers_as_such() {
    let Some(server_url) = test_postgres_url("a shutdown across instances") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (stopping, other) = tokio::join!(instance_on(&database, 60), instance_on(&database, 60));
    let player = stopping.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::PassThrough).await;
    frame_once_heard(&other, started.game_id).await;
    let mut watcher = watch(&other, started.game_id).await;

    let _database_kept = stopping
        .shut_down(Duration::from_secs(10))
        .await
        .expect("a clean shutdown");
    let (frames, close) = tokio::time::timeout(LOST_WITHIN, frames_until_closed(&mut watcher))
        .await
        .expect("the watcher is told");
    assert_eq!(close, CloseCode::Normal);
    assert_strictly_increasing(&sequences(&frames));
    let last = &frames.last().expect("frames").0;
    assert_eq!(
        last.end_reason,
        Some(types::GameFrameEndReason::ServerShuttingDown),
        "the final frame left the stopping instance before it exited"
    );
    assert!(last.entry.as_ref().is_some_and(|entry| entry.verified));
}
