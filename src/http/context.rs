//! The state every request can reach: the domain services and the served OpenAPI document.

use std::sync::Arc;

use crate::accounts::auth::AuthService;
use crate::games::live::LiveGames;
use crate::games::spectating::Spectating;
use crate::leaderboard::Leaderboard;
use crate::store::Store;

pub struct ServerState {
    pub store: Arc<dyn Store>,
    pub auth: AuthService,
    pub leaderboard: Leaderboard,
    pub spectating: Spectating,
    /// The live games the server runs; the play and watch channels go through it.
    pub live_games: LiveGames,
    /// Leaderboard answers encoded once and reused while their board is unchanged.
    pub prepared_boards: crate::http::prepared::PreparedBoards,
    /// Finished games: their summaries and replays.
    pub replays: crate::games::replays::Replays,
    /// Whose `X-Forwarded-For` to believe when telling clients apart for their limits.
    pub client_addresses: crate::http::client_address::ClientAddresses,
    /// The games watched here, each with the task that writes its frames to its spectators.
    pub watched_games: crate::http::spectators::WatchedGames,
    /// How many channels may be open at once, and how they ping and time out.
    pub channels: crate::http::channels::ChannelLimits,
    /// The document `GET /api/openapi.json` serves, rendered once at start-up; `Bytes` so each
    /// response shares it instead of copying it.
    pub openapi_json: bytes::Bytes,
    /// The server-wide logger, for events that belong to no request, such as shutdown.
    pub log: slog::Logger,
}
