//! The channels (WebSocket operations) of the contract: the play, watch and replay channels.
//! Each refuses what it must before the upgrade, with the usual error body, then streams the
//! game's frames (live ones encoded once per tick and shared by every connection, replayed ones
//! made and encoded as they are sent) over the typed connection the generated `channels` module
//! names, reads the player's turns, pings the client and closes a silent, flooding or
//! misbehaving one.

use std::sync::Arc;
use std::time::Duration;

use dropshot::{Path, Query, RequestContext, WebsocketUpgrade};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WebSocketError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::api::support::{Channel, ChannelError};
use crate::api::{channels, support, types};
use crate::games::frames::{SharedFrame, Subscription};
use crate::games::live::TurnSender;
use crate::games::replays::{ReplaySpeed, ReplayStream};
use crate::http::context::ServerState;
use crate::http::error::ApiError;
use crate::http::frames::error_message;
use crate::http::spectators::Watching;
use crate::http::wire;

/// Client messages one connection may send in a second; a player turns a few times a second
/// at most, so more is a flood, and the channel is closed.
pub const MAX_CLIENT_MESSAGES_PER_SECOND: u32 = 20;

/// How long a client is told to wait when every channel slot is taken.
const RETRY_AFTER_CHANNELS_FULL: Duration = Duration::from_secs(5);

/// The bounds every channel connection lives within: how many may be open at once, how often the
/// server pings, and how long a client may stay silent.
#[derive(Clone)]
pub struct ChannelLimits {
    slots: Arc<Semaphore>,
    capacity: usize,
    ping_every: Duration,
    silence_limit: Duration,
}

impl ChannelLimits {
    pub fn new(max_channels: usize, ping_every: Duration, silence_limit: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_channels)),
            capacity: max_channels,
            ping_every,
            silence_limit,
        }
    }

    /// A slot for one more channel, held for the connection's life; a 503 when all are taken.
    fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            ApiError::unavailable(
                "too_many_channels",
                &format!(
                    "the server has {} live channels open, as many as it admits",
                    self.capacity
                ),
                RETRY_AFTER_CHANNELS_FULL,
            )
        })
    }
}

/// Where a channel's frames come from: a live game's subscription or a replay.
trait FrameSource: Send {
    /// The next frame, `None` after the final one, or why the frames cannot go on, which the
    /// channel logs and tells the client before it closes.
    fn next_frame(
        &mut self,
    ) -> impl std::future::Future<Output = Option<Result<SharedFrame, FrameSourceFailure>>> + Send;
}

/// Why a channel's frames stopped before the final one: a server fault.
struct FrameSourceFailure {
    /// The `code` of the `error` message the client gets.
    code: &'static str,
    /// What went wrong, for the log and the client's `detail`.
    detail: String,
}

impl FrameSource for Subscription {
    async fn next_frame(&mut self) -> Option<Result<SharedFrame, FrameSourceFailure>> {
        self.next().await.map(Ok)
    }
}

/// A spectator's frames are written by its game's writer; the channel only learns when the
/// game is over.
impl FrameSource for Watching {
    async fn next_frame(&mut self) -> Option<Result<SharedFrame, FrameSourceFailure>> {
        match self.game_over().await {
            Ok(()) => None,
            Err(_) => Some(Err(FrameSourceFailure {
                code: "frames_stopped",
                detail: "the game's frames stopped before its final frame".to_owned(),
            })),
        }
    }
}

impl FrameSource for ReplayStream {
    async fn next_frame(&mut self) -> Option<Result<SharedFrame, FrameSourceFailure>> {
        let frame = self.next().await?;
        Some(frame.map_err(|divergence| FrameSourceFailure {
            code: "replay_diverged",
            detail: divergence.to_string(),
        }))
    }
}

/// `GET /api/games/finished/{gameId}/replay?speed=`: 404 for a game the store does not have
/// (the contract's bounds on `speed` give 400 before this runs) and 503 when every channel slot
/// is taken; otherwise the game's frames again, one per original tick divided by `speed`, then
/// a normal close.
pub async fn games_replay(
    rqctx: RequestContext<ServerState>,
    path: Path<types::GamesReplayPath>,
    query: Query<types::GamesReplayQuery>,
    upgrade: WebsocketUpgrade,
) -> Result<support::SwitchingToWebsocket, ApiError> {
    let state = rqctx.context();
    let game_id = path.into_inner().game_id;
    let speed = query.into_inner().speed.into_inner();
    let speed = u32::try_from(speed)
        .ok()
        .and_then(ReplaySpeed::new)
        .ok_or_else(|| ApiError::internal(format!("a validated speed {speed} is out of range")))?;
    let slot = state.channels.admit()?;
    let frames = state.replays.replay(game_id, speed).await?;
    let limits = state.channels.clone();
    let log = rqctx.log.new(slog::o!("game_id" => game_id.to_string()));
    Ok(channels::GamesReplay::accept(
        upgrade,
        move |connection| async move {
            let _slot = slot;
            converse(
                connection,
                frames,
                limits,
                log,
                |_: support::NoClientMessages| {},
            )
            .await
        },
    )?)
}

/// `GET /api/games/live/{gameId}/watch`: 404 for a game that is not being played and 503 when it
/// has as many spectators as the server admits; otherwise the current frame, every later one,
/// the final one, and a normal close.
pub async fn games_watch(
    rqctx: RequestContext<ServerState>,
    path: Path<types::GamesWatchPath>,
    upgrade: WebsocketUpgrade,
) -> Result<support::SwitchingToWebsocket, ApiError> {
    let state = rqctx.context();
    let game_id = path.into_inner().game_id;
    let slot = state.channels.admit()?;
    let mut frames = state.live_games.watch(game_id)?;
    // The place is held for as long as the channel lasts; the frames come from the game's
    // writer, which `frames` starts if the game has none yet.
    let spectator_slot = frames.take_spectator_slot();
    let watched_games = state.watched_games.clone();
    let limits = state.channels.clone();
    let log = rqctx.log.clone();
    Ok(channels::GamesWatch::accept(
        upgrade,
        move |connection| async move {
            let _slot = slot;
            let _spectator_slot = spectator_slot;
            let watching = watched_games.watch(game_id, frames, connection.frame_writer());
            converse(
                connection,
                watching,
                limits,
                log,
                |_: support::NoClientMessages| {},
            )
            .await
        },
    )?)
}

/// `GET /api/games/live/{gameId}/play?ticket=…`: 404 for a game that is not being played, 401 for
/// a missing, expired or used ticket, 403 for a ticket of another game; otherwise the player's
/// frames as the watchers get them, and their turns into the game.
pub async fn games_play(
    rqctx: RequestContext<ServerState>,
    path: Path<types::GamesPlayPath>,
    query: Query<types::GamesPlayQuery>,
    upgrade: WebsocketUpgrade,
) -> Result<support::SwitchingToWebsocket, ApiError> {
    let state = rqctx.context();
    let game_id = path.into_inner().game_id;
    let ticket = query.into_inner().ticket;
    let slot = state.channels.admit()?;
    // An unknown game is a 404 whatever the ticket; checking it first also keeps a ticket from
    // being spent on a mistyped path. Only this instance's own games can be played here: another
    // instance's game is watched through it, but its turns go to the instance that runs it.
    state.live_games.current_local_frame(game_id)?;
    let Some(ticket) = ticket else {
        return Err(crate::error::Error::InvalidTicket.into());
    };
    let session = state.live_games.play(ticket.as_str())?;
    if session.game_id != game_id {
        return Err(crate::error::Error::NotYourGame.into());
    }
    let limits = state.channels.clone();
    let turns: TurnSender = session.turns;
    let log = rqctx.log.clone();
    Ok(channels::GamesPlay::accept(
        upgrade,
        move |connection| async move {
            let _slot = slot;
            converse(
                connection,
                session.frames,
                limits,
                log,
                move |message: types::ClientMessage| {
                    // A turn the game cannot take (its queue is full, or it has ended) is
                    // dropped, as the engine drops a fourth queued turn: the next frame shows
                    // what happened.
                    let _ = turns.send(wire::direction_from_wire(message.direction));
                },
            )
            .await
        },
    )?)
}

/// Counts a connection's client messages in the current second.
struct FloodGuard {
    window_started: Instant,
    messages: u32,
}

impl FloodGuard {
    fn new() -> Self {
        Self {
            window_started: Instant::now(),
            messages: 0,
        }
    }

    /// Counts one more message; true when it is one too many for its second.
    fn is_flooding(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_started) >= Duration::from_secs(1) {
            self.window_started = now;
            self.messages = 0;
        }
        self.messages += 1;
        self.messages > MAX_CLIENT_MESSAGES_PER_SECOND
    }
}

/// One channel's life: frames out as they come, client messages in (each handed to
/// `on_message`), a ping every `ping_every`; it ends after the final frame, when the client
/// closes, or with an `error` message and a close when the client misbehaves or goes silent, or
/// when the frames fail (logged as an error, a server fault).
async fn converse<Client>(
    mut connection: Channel<Client, types::ServerMessage>,
    mut frames: impl FrameSource,
    limits: ChannelLimits,
    log: slog::Logger,
    mut on_message: impl FnMut(Client) + Send,
) -> Result<(), ChannelError>
where
    Client: serde::de::DeserializeOwned + Send + 'static,
{
    let mut ping = tokio::time::interval_at(Instant::now() + limits.ping_every, limits.ping_every);
    let mut flood = FloodGuard::new();
    loop {
        tokio::select! {
            frame = frames.next_frame() => {
                let frame = match frame {
                    None => return connection.close("the game is over").await,
                    Some(Ok(frame)) => frame,
                    Some(Err(failure)) => {
                        slog::error!(log, "a channel's frames failed";
                            "code" => failure.code, "detail" => &failure.detail);
                        return refuse(connection, failure.code, &failure.detail, CloseCode::Error)
                            .await;
                    }
                };
                let sent = tokio::time::timeout(
                    limits.silence_limit,
                    connection.send_prepared(frame.encoded.clone()),
                );
                match sent.await {
                    Ok(sent) => sent?,
                    Err(_) => return refuse_stuck(connection, &limits).await,
                }
                if frame.is_final() {
                    return connection.close("the game is over").await;
                }
            }
            message = connection.receive() => match message {
                None => return Ok(()),
                Some(Ok(message)) => {
                    if flood.is_flooding() {
                        let detail = format!(
                            "more than {MAX_CLIENT_MESSAGES_PER_SECOND} messages in a second"
                        );
                        return refuse(connection, "message_flood", &detail, CloseCode::Policy)
                            .await;
                    }
                    on_message(message);
                }
                Some(Err(ChannelError::InvalidClientMessage(detail))) => {
                    return refuse(connection, "invalid_message", &detail, CloseCode::Policy).await;
                }
                Some(Err(ChannelError::WebSocket(WebSocketError::Capacity(
                    CapacityError::MessageTooLong { size, max_size },
                )))) => {
                    let detail = format!(
                        "a message of {size} bytes is larger than the {max_size} bytes a channel takes"
                    );
                    return refuse(connection, "message_too_big", &detail, CloseCode::Size).await;
                }
                Some(Err(error)) => return Err(error),
            },
            _ = ping.tick() => {
                if connection.last_heard().elapsed() >= limits.silence_limit {
                    let detail = format!(
                        "nothing heard from the client for {} s",
                        limits.silence_limit.as_secs()
                    );
                    return refuse(connection, "silent_peer", &detail, CloseCode::Away).await;
                }
                match tokio::time::timeout(limits.silence_limit, connection.ping()).await {
                    Ok(sent) => sent?,
                    Err(_) => return refuse_stuck(connection, &limits).await,
                }
            }
        }
    }
}

/// Closes a connection whose client has taken nothing for the silence limit: it stopped
/// reading, and its socket is full.
async fn refuse_stuck<Client>(
    connection: Channel<Client, types::ServerMessage>,
    limits: &ChannelLimits,
) -> Result<(), ChannelError>
where
    Client: serde::de::DeserializeOwned + Send + 'static,
{
    let detail = format!(
        "the client took nothing for {} s",
        limits.silence_limit.as_secs()
    );
    refuse(connection, "silent_peer", &detail, CloseCode::Away).await
}

/// Tells the client why in an `error` message, then closes with `code`.
async fn refuse<Client>(
    mut connection: Channel<Client, types::ServerMessage>,
    code: &str,
    detail: &str,
    close_code: CloseCode,
) -> Result<(), ChannelError>
where
    Client: serde::de::DeserializeOwned + Send + 'static,
{
    // A connection that failed, or whose client reads nothing, may not take the error message;
    // the close still tells why, if it can.
    let _ = tokio::time::timeout(
        support::CLOSE_HANDSHAKE_TIMEOUT,
        connection.send(&error_message(code, detail)),
    )
    .await;
    connection.close_with(close_code, code).await
}
