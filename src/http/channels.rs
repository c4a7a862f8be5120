//! The channels (WebSocket operations) of the contract: each refuses what it must before the
//! upgrade, with the usual error body, then talks over the typed connection the generated
//! `channels` module names.

use dropshot::{Path, RequestContext, WebsocketUpgrade};

use crate::api::{channels, support, types};
use crate::http::context::ServerState;
use crate::http::error::ApiError;
use crate::http::wire;

/// The close reason a watcher reads once it has the game's frame.
const WATCH_CLOSE_REASON: &str = "that was the game's current frame";

/// `GET /api/games/live/{gameId}/watch`: a 404 for a game that is not being played; otherwise
/// the game's current frame, sent once, then a normal close (1000). A frame on every tick arrives
/// with live games.
pub async fn games_watch(
    rqctx: RequestContext<ServerState>,
    path: Path<types::GamesWatchPath>,
    upgrade: WebsocketUpgrade,
) -> Result<support::SwitchingToWebsocket, ApiError> {
    let game_id = path.into_inner().game_id;
    let game = rqctx
        .context()
        .spectating
        .active_games()
        .await?
        .into_iter()
        .find(|game| game.id == game_id)
        .ok_or_else(|| ApiError::not_found(format!("no game {game_id} is being played")))?;
    let frame = types::GameFrame {
        r#type: types::GameFrameType::Frame,
        sequence: types::GameFrameSequence::try_from(0)?,
        game: wire::active_game_to_wire(game)?,
    };
    Ok(channels::GamesWatch::accept(
        upgrade,
        move |mut connection| async move {
            connection.send(&frame).await?;
            connection.close(WATCH_CLOSE_REASON).await
        },
    )?)
}
