//! Live games through the API, as a player and spectators use them: `POST /api/games`, the play
//! channel, the watch channel, `GET /api/games/live/{gameId}` and the verified score the server
//! records, all through the generated client, with the channels spoken by tokio-tungstenite.

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use snake_arena_server::games::engine::{Direction, LoggedTurn, replay};
use snake_arena_server::model::GameMode;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use snake_arena_server::http::spectators::MAX_SPECTATORS_PER_WRITER;

use crate::common::{SignedUpPlayer, TestContext, types};

/// A tick short enough for a whole game to take a fraction of a second.
const FAST_TICK_MS: u32 = 15;

/// A tick long enough for spectators to connect before the first moves.
const WATCHED_TICK_MS: u32 = 60;

pub(crate) type Socket = WebSocketStream<reqwest::Upgraded>;

pub(crate) async fn socket_of(upgraded: crate::common::ResponseValue<reqwest::Upgraded>) -> Socket {
    assert_eq!(upgraded.status(), StatusCode::SWITCHING_PROTOCOLS);
    WebSocketStream::from_raw_socket(upgraded.into_inner(), Role::Client, None).await
}

/// What the server sent next: a message as the contract types it, with its text, or the close.
enum Received {
    Message(Box<types::ServerMessage>, String),
    Closed(Option<CloseCode>),
}

async fn receive<Io>(socket: &mut WebSocketStream<Io>) -> Received
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let message = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|error| panic!("{text} is no ServerMessage: {error}"));
                return Received::Message(Box::new(message), text.to_string());
            }
            Some(Ok(Message::Close(frame))) => return Received::Closed(frame.map(|f| f.code)),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => panic!("the server sends JSON text only"),
            Some(Err(error)) => panic!("the channel failed: {error}"),
            None => return Received::Closed(None),
        }
    }
}

/// Every frame until the server closes, with the frames' texts, and the close code.
pub(crate) async fn frames_until_closed<Io>(
    socket: &mut WebSocketStream<Io>,
) -> (Vec<(types::GameFrame, String)>, CloseCode)
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut frames = Vec::new();
    loop {
        match receive(socket).await {
            Received::Message(message, text) => {
                assert_eq!(message.type_, types::ServerMessageType::Frame, "{text}");
                frames.push((message.frame.expect("a frame message has its frame"), text));
            }
            Received::Closed(code) => return (frames, code.expect("a close code")),
        }
    }
}

pub(crate) async fn start_game(
    player: &SignedUpPlayer,
    mode: types::GameMode,
) -> types::GameStarted {
    player
        .client
        .games_start(&types::GameStartRequest { mode })
        .await
        .expect("the game starts")
        .into_inner()
}

pub(crate) async fn play(context: &TestContext, started: &types::GameStarted) -> Socket {
    let upgraded = context
        .client()
        .games_play(
            &started.game_id,
            Some(&types::GamesPlayTicket::try_from(started.ticket.to_string()).expect("a ticket")),
        )
        .await
        .expect("the play channel opens");
    socket_of(upgraded).await
}

pub(crate) async fn send_turn(socket: &mut Socket, direction: &str) {
    let turn = serde_json::json!({"type": "turn", "direction": direction}).to_string();
    socket
        .send(Message::text(turn))
        .await
        .expect("the turn is sent");
}

fn direction_of(name: &str) -> Direction {
    match name {
        "up" => Direction::Up,
        "down" => Direction::Down,
        "left" => Direction::Left,
        _ => Direction::Right,
    }
}

#[tokio::test]
async fn a_game_played_through_the_api_ends_as_the_engine_replays_it_and_its_verified_score_is_on_the_board()
 {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = FAST_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::Walls).await;
    assert_eq!((started.width.get(), started.height.get()), (20, 20));
    assert_eq!(started.tick_ms.get(), FAST_TICK_MS);

    let mut socket = play(&context, &started).await;
    // Left, then down: two ticks, one turn each, so the snake heads down the left of the board.
    send_turn(&mut socket, "left").await;
    send_turn(&mut socket, "down").await;
    let (frames, close) = frames_until_closed(&mut socket).await;
    assert_eq!(close, CloseCode::Normal);
    let (last, _) = frames.last().expect("frames arrived");
    assert!(last.over, "the last frame says the game is over");
    assert_eq!(last.end_reason, Some(types::GameFrameEndReason::HitWall));
    for pair in frames.windows(2) {
        assert_eq!(
            pair[1].0.sequence,
            pair[0].0.sequence + 1,
            "frames in order"
        );
    }

    // The engine, given the seed and turns the server recorded, plays the very same game.
    let finished = context
        .state()
        .store
        .finished_game(started.game_id)
        .await
        .expect("the store answers")
        .expect("the finished game is recorded");
    let turns: Vec<LoggedTurn> = finished.turns.clone();
    assert_eq!(
        turns.iter().map(|turn| turn.direction).collect::<Vec<_>>(),
        vec![direction_of("left"), direction_of("down")]
    );
    let replayed = replay(GameMode::Walls, finished.seed, &turns, finished.ticks).expect("replay");
    assert_eq!(i64::from(replayed.score()), i64::from(last.score.0));
    assert_eq!(replayed.ticks() as i64, last.ticks);
    let head = replayed.head();
    assert_eq!(
        (i32::from(head.x), i32::from(head.y)),
        (last.snake[0].x.0, last.snake[0].y.0)
    );

    let entry = last
        .entry
        .clone()
        .expect("the final frame carries the entry");
    assert!(entry.verified);
    assert_eq!(entry.game_id, Some(started.game_id));
    assert_eq!(entry.score, last.score);
    let verified_board = context
        .client()
        .leaderboard_list(None, Some(types::GameMode::Walls), Some(true))
        .await
        .expect("the verified board")
        .into_inner();
    assert_eq!(verified_board.as_slice(), &[entry]);
}

#[tokio::test]
async fn two_spectators_receive_exactly_the_player_s_frames_in_order_none_missing() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = WATCHED_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::Walls).await;
    let mut player_socket = play(&context, &started).await;
    let mut spectators = Vec::new();
    for _ in 0..2 {
        spectators.push(watch(&context, &started.game_id).await);
    }
    send_turn(&mut player_socket, "right").await;

    let (played, _) = frames_until_closed(&mut player_socket).await;
    for spectator in &mut spectators {
        let (watched, close) = frames_until_closed(spectator).await;
        assert_eq!(close, CloseCode::Normal);
        let first = watched[0].0.sequence;
        let played_from_there: Vec<&String> = played
            .iter()
            .filter(|(frame, _)| frame.sequence >= first)
            .map(|(_, text)| text)
            .collect();
        let watched_texts: Vec<&String> = watched.iter().map(|(_, text)| text).collect();
        assert_eq!(
            watched_texts, played_from_there,
            "a spectator gets the player's frames, byte for byte, from the one it joined at"
        );
        assert!(watched.last().expect("frames").0.over);
    }
}

async fn watch(context: &TestContext, game_id: &uuid::Uuid) -> Socket {
    let upgraded = context
        .client()
        .games_watch(game_id)
        .await
        .expect("the watch channel opens");
    socket_of(upgraded).await
}

/// A spectator's first frame (the game's current one), read as soon as its channel opens, so
/// that a crowd has joined before any of it reads the rest.
async fn first_frame_of(socket: &mut Socket) -> (types::GameFrame, String) {
    match receive(socket).await {
        Received::Message(message, text) => (message.frame.expect("a frame"), text),
        Received::Closed(code) => panic!("closed before the first frame: {code:?}"),
    }
}

#[tokio::test]
async fn a_crowd_too_big_for_one_writer_each_get_every_frame_from_the_one_they_joined_at() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 20;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    // A pass-through game left alone never ends by itself: the snake goes straight on and wraps.
    let started = start_game(&player, types::GameMode::PassThrough).await;
    let mut player_socket = play(&context, &started).await;
    let crowd = MAX_SPECTATORS_PER_WRITER + MAX_SPECTATORS_PER_WRITER / 4;
    let mut spectators = Vec::new();
    for _ in 0..crowd {
        let mut socket = watch(&context, &started.game_id).await;
        let first = first_frame_of(&mut socket).await;
        spectators.push((socket, first));
    }
    // Starting another game ends the watched one with a final frame.
    start_game(&player, types::GameMode::PassThrough).await;

    let (played, _) = frames_until_closed(&mut player_socket).await;
    let watched = futures::future::join_all(spectators.into_iter().map(
        |(mut socket, first)| async move {
            let (rest, close) = frames_until_closed(&mut socket).await;
            (first, rest, close)
        },
    ))
    .await;
    for (first, rest, close) in watched {
        assert_eq!(close, CloseCode::Normal);
        let watched_texts: Vec<&String> = std::iter::once(&first.1)
            .chain(rest.iter().map(|(_, text)| text))
            .collect();
        let played_from_there: Vec<&String> = played
            .iter()
            .filter(|(frame, _)| frame.sequence >= first.0.sequence)
            .map(|(_, text)| text)
            .collect();
        assert_eq!(
            watched_texts, played_from_there,
            "each spectator gets the player's frames, byte for byte, from the one it joined at"
        );
    }
}

/// Asks for the watch channel of `game_id` over a raw connection to `address`.
async fn send_watch_handshake(
    stream: &mut tokio::net::TcpStream,
    address: &str,
    game_id: &uuid::Uuid,
) {
    use tokio::io::AsyncWriteExt;
    let handshake = format!(
        "GET /api/games/live/{game_id}/watch HTTP/1.1\r\nHost: {address}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream
        .write_all(handshake.as_bytes())
        .await
        .expect("the handshake is sent");
}

/// A watch channel over a socket that takes little at a time: its receive buffer is a few
/// KiB, so what its client does not read soon backs up into the server.
async fn watch_through_a_small_window(
    context: &TestContext,
    game_id: &uuid::Uuid,
) -> WebSocketStream<tokio::net::TcpStream> {
    use tokio::io::AsyncReadExt;
    let address: std::net::SocketAddr = context
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let mut stream = socket.connect(address).await.expect("the server accepts");
    send_watch_handshake(&mut stream, &address.to_string(), game_id).await;
    // The answer's head, a byte at a time so that no frame is read with it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("the answer's head"));
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    WebSocketStream::from_raw_socket(stream, Role::Client, None).await
}

#[tokio::test]
async fn a_spectator_who_reads_too_slowly_misses_frames_without_holding_up_another_and_still_gets_the_final_one()
 {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 1;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::PassThrough).await;
    let mut slow = watch_through_a_small_window(&context, &started.game_id).await;
    let mut prompt = watch(&context, &started.game_id).await;
    // Far more frames than the slow spectator's socket and its queue in the server hold.
    let mut read_promptly = vec![first_frame_of(&mut prompt).await.0];
    while read_promptly.len() < 3000 {
        match receive(&mut prompt).await {
            Received::Message(message, _) => read_promptly.push(message.frame.expect("a frame")),
            Received::Closed(code) => panic!("the game ended early: {code:?}"),
        }
    }
    start_game(&player, types::GameMode::PassThrough).await;
    let (rest, close) = frames_until_closed(&mut prompt).await;
    assert_eq!(close, CloseCode::Normal);
    read_promptly.extend(rest.into_iter().map(|(frame, _)| frame));
    let sequences: Vec<i64> = read_promptly.iter().map(|frame| frame.sequence).collect();
    assert!(
        sequences.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "a spectator who keeps up misses nothing"
    );

    let (read_slowly, close) = frames_until_closed(&mut slow).await;
    assert_eq!(close, CloseCode::Normal);
    let slow_sequences: Vec<i64> = read_slowly
        .iter()
        .map(|(frame, _)| frame.sequence)
        .collect();
    assert!(
        slow_sequences.windows(2).all(|pair| pair[1] > pair[0]),
        "frames arrive in order and never twice"
    );
    assert!(
        slow_sequences.len() < sequences.len(),
        "the slow spectator missed frames: it got {} of {}",
        slow_sequences.len(),
        sequences.len()
    );
    let last = read_slowly.last().expect("frames").0.clone();
    assert!(last.over, "the final frame reaches the slow spectator too");
    assert_eq!(Some(last.sequence), sequences.last().copied());
}

#[tokio::test]
async fn a_spectator_who_stops_reading_is_disconnected_and_its_channel_slot_freed() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 1;
        config.demo_bots = 0;
        config.max_channels = 1;
        config.channel_ping_seconds = 1;
        config.channel_silence_seconds = 1;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::PassThrough).await;
    let watch_path = format!("/api/games/live/{}/watch", started.game_id);
    // Never read: its window fills within a fraction of a second, and the server's writes to
    // it, its pings and its close all wait for a client that takes nothing.
    let _stuck = watch_through_a_small_window(&context, &started.game_id).await;
    let refused = context.raw_websocket_handshake(&watch_path).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    assert_eq!(refused.body["code"], "too_many_channels");
    // The silence limit, then at most the bounds on the error message and on the close: a
    // generous bound on when the slot must be free again.
    let freed_by = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let answer = context.raw_websocket_handshake(&watch_path).await;
        if answer.status == StatusCode::SWITCHING_PROTOCOLS {
            break;
        }
        assert_eq!(answer.body["code"], "too_many_channels", "{answer:?}");
        assert!(
            std::time::Instant::now() < freed_by,
            "the stuck spectator still holds the only channel slot"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn one_game_s_current_frame_is_readable_and_an_unknown_game_is_404() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 60_000;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::PassThrough).await;
    let frame = context
        .client()
        .games_live_view(&started.game_id)
        .await
        .expect("the frame")
        .into_inner();
    assert_eq!(frame.game_id, started.game_id);
    assert_eq!(frame.sequence, 0);
    assert_eq!(frame.username.as_str(), player.username);
    assert_eq!(frame.mode, types::GameMode::PassThrough);
    assert!(!frame.over);

    let unknown = context
        .raw_get(&format!("/api/games/live/{}", uuid::Uuid::nil()), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "unknown_game");
}

/// The status and error code of a channel request the server refused before the upgrade.
async fn refusal_of_play(
    context: &TestContext,
    game_id: uuid::Uuid,
    ticket: Option<&str>,
) -> (u16, String) {
    let mut path = format!("/api/games/live/{game_id}/play");
    if let Some(ticket) = ticket {
        path.push_str(&format!("?ticket={ticket}"));
    }
    let response = context.raw_websocket_handshake(&path).await;
    (
        response.status.as_u16(),
        response.body["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn the_play_channel_refuses_a_missing_used_or_foreign_ticket_and_an_unknown_game_before_the_upgrade()
 {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 60_000;
        config.demo_bots = 0;
    })
    .await;
    let owner = context.sign_up_fresh_player().await;
    let other = context.sign_up_fresh_player().await;
    let owners_game = start_game(&owner, types::GameMode::Walls).await;
    let others_game = start_game(&other, types::GameMode::Walls).await;

    assert_eq!(
        refusal_of_play(&context, owners_game.game_id, None).await,
        (401, "invalid_ticket".to_owned())
    );
    assert_eq!(
        refusal_of_play(&context, owners_game.game_id, Some("not-a-ticket")).await,
        (401, "invalid_ticket".to_owned())
    );
    assert_eq!(
        refusal_of_play(
            &context,
            others_game.game_id,
            Some(owners_game.ticket.as_str())
        )
        .await,
        (403, "not_your_game".to_owned())
    );
    assert_eq!(
        refusal_of_play(
            &context,
            uuid::Uuid::nil(),
            Some(others_game.ticket.as_str())
        )
        .await,
        (404, "unknown_game".to_owned())
    );
    // The refused attempts above spent the owner's ticket on the wrong game: it admits once only.
    assert_eq!(
        refusal_of_play(
            &context,
            owners_game.game_id,
            Some(owners_game.ticket.as_str())
        )
        .await,
        (401, "invalid_ticket".to_owned())
    );
    // The other player's ticket survived the 404 (the unknown game was refused first) and admits once.
    let socket = play(&context, &others_game).await;
    drop(socket);
    assert_eq!(
        refusal_of_play(
            &context,
            others_game.game_id,
            Some(others_game.ticket.as_str())
        )
        .await,
        (401, "invalid_ticket".to_owned())
    );
}

#[tokio::test]
async fn a_player_who_drops_rejoins_with_a_new_ticket_and_only_the_owner_gets_one() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = WATCHED_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let other = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::PassThrough).await;
    let mut socket = play(&context, &started).await;
    let Received::Message(first, _) = receive(&mut socket).await else {
        panic!("a first frame");
    };
    drop(socket);

    let refused = other
        .client
        .games_ticket_issue(&started.game_id)
        .await
        .expect_err("another player's game");
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN));

    let ticket = player
        .client
        .games_ticket_issue(&started.game_id)
        .await
        .expect("a new ticket")
        .into_inner();
    let upgraded = context
        .client()
        .games_play(
            &started.game_id,
            Some(&types::GamesPlayTicket::try_from(ticket.ticket.to_string()).expect("a ticket")),
        )
        .await
        .expect("the play channel opens again");
    let mut socket = socket_of(upgraded).await;
    let Received::Message(again, _) = receive(&mut socket).await else {
        panic!("a frame after rejoining");
    };
    assert_eq!(
        again.frame.expect("a frame").game_id,
        first.frame.expect("a frame").game_id
    );
}

/// Sends `message` on a fresh play channel and returns the error code the server answers with
/// and its close code.
async fn misbehave(
    context: &TestContext,
    player: &SignedUpPlayer,
    messages: Vec<Message>,
) -> (String, CloseCode) {
    let started = start_game(player, types::GameMode::PassThrough).await;
    let mut socket = play(context, &started).await;
    for message in messages {
        // The server may close before the last of a flood is written.
        if socket.send(message).await.is_err() {
            break;
        }
    }
    loop {
        match receive(&mut socket).await {
            Received::Message(message, text) => {
                if message.type_ == types::ServerMessageType::Error {
                    let code = message.error.expect("an error message has its error").code;
                    let Received::Closed(close) = receive(&mut socket).await else {
                        panic!("the server closes after an error message, after {text}");
                    };
                    return (code.to_string(), close.expect("a close code"));
                }
            }
            Received::Closed(close) => panic!("closed without an error message: {close:?}"),
        }
    }
}

#[tokio::test]
async fn a_malformed_oversized_or_flooding_client_gets_an_error_message_and_a_close() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 60_000;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;

    let malformed = misbehave(
        &context,
        &player,
        vec![Message::text("{\"type\": \"jump\"}")],
    )
    .await;
    assert_eq!(malformed, ("invalid_message".to_owned(), CloseCode::Policy));

    let binary = misbehave(&context, &player, vec![Message::binary(vec![1, 2, 3])]).await;
    assert_eq!(binary, ("invalid_message".to_owned(), CloseCode::Policy));

    let oversized = format!(
        "{{\"type\": \"turn\", \"direction\": \"up\", \"padding\": \"{}\"}}",
        "x".repeat(2000)
    );
    let too_big = misbehave(&context, &player, vec![Message::text(oversized)]).await;
    assert_eq!(too_big, ("message_too_big".to_owned(), CloseCode::Size));
    // Far larger than the server reads at a time: the rest is still in the socket when the
    // server gives up on the message, and the client must get the error and the close anyway.
    let huge = format!(
        "{{\"type\": \"turn\", \"direction\": \"up\", \"padding\": \"{}\"}}",
        "x".repeat(40_000)
    );
    let far_too_big = misbehave(&context, &player, vec![Message::text(huge)]).await;
    assert_eq!(far_too_big, ("message_too_big".to_owned(), CloseCode::Size));

    let flood = (0..100)
        .map(|index| {
            let direction = if index % 2 == 0 { "left" } else { "up" };
            Message::text(serde_json::json!({"type": "turn", "direction": direction}).to_string())
        })
        .collect();
    let flooded = misbehave(&context, &player, flood).await;
    assert_eq!(flooded, ("message_flood".to_owned(), CloseCode::Policy));
}

#[tokio::test]
async fn a_spectator_who_sends_anything_gets_an_error_message_and_a_close() {
    let context = TestContext::start_with(|config| config.game_tick_ms = 60_000).await;
    let game = context
        .client()
        .games_active_list(None)
        .await
        .expect("the list")
        .into_inner()
        .into_iter()
        .next()
        .expect("a bot's game");
    let mut socket = watch(&context, &game.id).await;
    send_turn(&mut socket, "up").await;
    let mut saw_error = false;
    loop {
        match receive(&mut socket).await {
            Received::Message(message, _) => {
                if message.type_ == types::ServerMessageType::Error {
                    saw_error = true;
                }
            }
            Received::Closed(close) => {
                assert_eq!(close, Some(CloseCode::Policy));
                break;
            }
        }
    }
    assert!(saw_error, "the spectator was told why");
}

#[tokio::test]
async fn self_reported_scores_are_marked_unverified_and_refused_with_403_when_turned_off() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let entry = player
        .client
        .leaderboard_submit(&types::ScoreSubmission {
            score: types::Score::from(120),
            mode: types::GameMode::Walls,
        })
        .await
        .expect("a self-reported score")
        .into_inner();
    assert!(!entry.verified);
    assert_eq!(entry.game_id, None);

    let strict = TestContext::start_with(|config| {
        config.self_reported_scores = snake_arena_server::config::Switch::Off;
    })
    .await;
    let player = strict.sign_up_fresh_player().await;
    let refused = strict
        .raw_post_json(
            "/api/leaderboard",
            &serde_json::json!({"score": 120, "mode": "walls"}),
            Some(&player.token),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "self_reported_scores_off");
    let board = strict
        .client()
        .leaderboard_list(None, None, None)
        .await
        .expect("the board")
        .into_inner();
    assert!(
        board
            .iter()
            .all(|entry| entry.score.0 != 120 || entry.username.as_str() != player.username)
    );
}

#[tokio::test]
async fn a_silent_spectator_is_closed_with_1001_and_then_disconnected() {
    use tokio::io::AsyncReadExt;
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 60_000;
        config.channel_ping_seconds = 1;
        config.channel_silence_seconds = 1;
    })
    .await;
    let game = context
        .client()
        .games_active_list(None)
        .await
        .expect("the list")
        .into_inner()
        .into_iter()
        .next()
        .expect("a bot's game");
    // A raw connection that completes the handshake and then never sends a byte: not even the
    // pongs a WebSocket library would answer pings with.
    let address = context.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("the server accepts");
    send_watch_handshake(&mut stream, &address, &game.id).await;
    // Everything the server sends until it closes the connection, within a bound that covers
    // the silence limit, a ping tick and the close handshake's own bound.
    let mut received = Vec::new();
    let read_all = stream.read_to_end(&mut received);
    tokio::time::timeout(std::time::Duration::from_secs(20), read_all)
        .await
        .expect("the server drops a silent peer")
        .expect("the connection ends cleanly");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // The server's last frame is a close (0x88) with code 1001 (going away), unmasked.
    let close_at = received
        .windows(2)
        .rposition(|pair| pair[0] == 0x88 && (pair[1] & 0x7f) >= 2)
        .expect("a close frame");
    let code = u16::from_be_bytes([received[close_at + 2], received[close_at + 3]]);
    assert_eq!(code, 1001, "{text}");
    assert!(
        text.contains("silent_peer"),
        "the error message names the reason: {text}"
    );
}
