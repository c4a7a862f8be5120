//! The one implementation of the generated `SnakeArenaApi` trait. Handlers stay thin: take the
//! typed input, call the domain, convert the answer to wire types; errors map in `error.rs`.

use dropshot::{
    HttpResponseCreated, HttpResponseOk, HttpResponseUpdatedNoContent, Path, Query, RequestContext,
    TypedBody, WebsocketUpgrade,
};

use crate::api::support::Authenticated;
use crate::api::{SnakeArenaApi, support, types};
use crate::http::caller::AuthenticatedPlayer;
use crate::http::channels;
use crate::http::context::ServerState;
use crate::http::error::ApiError;
use crate::http::wire;
use crate::model::ScoreFilter;

/// The most games `GET /api/games/active` lists: the contract's `maxItems`.
const ACTIVE_GAMES_LISTED: usize = 100;

/// The address the per-client limits count a request under (see `client_address.rs`).
fn client_address(rqctx: &RequestContext<ServerState>) -> std::net::IpAddr {
    rqctx
        .context()
        .client_addresses
        .client_of(rqctx.request.remote_addr().ip(), rqctx.request.headers())
}

/// The server's implementation of the contract; never constructed, only named.
pub enum SnakeArenaServer {}

impl SnakeArenaApi for SnakeArenaServer {
    type Context = ServerState;

    async fn auth_signup(
        rqctx: RequestContext<ServerState>,
        body: TypedBody<types::SignupRequest>,
    ) -> Result<HttpResponseCreated<types::AuthResponse>, ApiError> {
        let request = body.into_inner();
        let (profile, token) = rqctx
            .context()
            .auth
            .sign_up(
                request.email.as_str(),
                request.username.as_str(),
                request.password.as_str(),
                client_address(&rqctx),
            )
            .await?;
        Ok(HttpResponseCreated(wire::auth_response_to_wire(
            profile, token,
        )?))
    }

    async fn auth_login(
        rqctx: RequestContext<ServerState>,
        body: TypedBody<types::LoginRequest>,
    ) -> Result<HttpResponseOk<types::AuthResponse>, ApiError> {
        let request = body.into_inner();
        let (profile, token) = rqctx
            .context()
            .auth
            .log_in(
                request.email.as_str(),
                request.password.as_str(),
                client_address(&rqctx),
            )
            .await?;
        Ok(HttpResponseOk(wire::auth_response_to_wire(profile, token)?))
    }

    async fn auth_logout(
        rqctx: RequestContext<ServerState>,
        caller: Authenticated<AuthenticatedPlayer>,
    ) -> Result<HttpResponseUpdatedNoContent, ApiError> {
        rqctx
            .context()
            .auth
            .log_out(caller.principal().bearer_token())
            .await?;
        Ok(HttpResponseUpdatedNoContent())
    }

    async fn auth_me(
        _rqctx: RequestContext<ServerState>,
        caller: Authenticated<AuthenticatedPlayer>,
    ) -> Result<HttpResponseOk<types::User>, ApiError> {
        Ok(HttpResponseOk(wire::user_to_wire(
            caller.into_principal().profile,
        )?))
    }

    async fn leaderboard_list(
        rqctx: RequestContext<ServerState>,
        query: Query<types::LeaderboardListQuery>,
    ) -> Result<HttpResponseOk<support::Prepared<types::LeaderboardListResponse>>, ApiError> {
        let query = query.into_inner();
        let mode = query.mode.map(wire::game_mode_from_wire);
        let filter = if query.verified {
            ScoreFilter::verified(mode)
        } else {
            ScoreFilter::mode(mode)
        };
        // The contract bounds `limit` to 1..=100, so the conversion cannot fail in practice.
        let limit = usize::try_from(query.limit.into_inner())
            .map_err(|_| ApiError::internal("a validated limit is negative"))?;
        let state = rqctx.context();
        let board = state.leaderboard.board(filter).await?;
        Ok(HttpResponseOk(
            state.prepared_boards.answer(filter, limit, board)?,
        ))
    }

    async fn leaderboard_submit(
        rqctx: RequestContext<ServerState>,
        caller: Authenticated<AuthenticatedPlayer>,
        body: TypedBody<types::ScoreSubmission>,
    ) -> Result<HttpResponseCreated<types::LeaderboardEntry>, ApiError> {
        let submission = body.into_inner();
        // The contract bounds scores to 0..=1,000,000, so the conversion cannot fail in practice.
        let score = u32::try_from(submission.score.into_inner())
            .map_err(|_| ApiError::internal("a validated score is negative"))?;
        let entry = rqctx
            .context()
            .leaderboard
            .submit(
                &caller.principal().profile,
                score,
                wire::game_mode_from_wire(submission.mode),
            )
            .await?;
        Ok(HttpResponseCreated(wire::leaderboard_entry_to_wire(entry)?))
    }

    async fn games_active_list(
        rqctx: RequestContext<ServerState>,
        query: Query<types::GamesActiveListQuery>,
    ) -> Result<HttpResponseOk<types::GamesActiveListResponse>, ApiError> {
        let after = query.into_inner().after;
        let games = rqctx.context().spectating.active_games(after).await?;
        // The contract lists at most 100 games (`maxItems`), and the server may run more
        // (`--max-live-games`): the list is the first 100 in the domain's order.
        let games = games
            .into_iter()
            .take(ACTIVE_GAMES_LISTED)
            .map(wire::active_game_to_wire)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpResponseOk(types::GamesActiveListResponse::try_from(
            games,
        )?))
    }

    async fn games_start(
        rqctx: RequestContext<ServerState>,
        caller: Authenticated<AuthenticatedPlayer>,
        body: TypedBody<types::GameStartRequest>,
    ) -> Result<HttpResponseCreated<types::GameStarted>, ApiError> {
        let mode = wire::game_mode_from_wire(body.into_inner().mode);
        let live_games = &rqctx.context().live_games;
        let started = live_games.start(&caller.principal().profile, mode).await?;
        Ok(HttpResponseCreated(wire::game_started_to_wire(
            started,
            mode,
            &live_games.settings(),
        )?))
    }

    async fn games_live_view(
        rqctx: RequestContext<ServerState>,
        path: Path<types::GamesLiveViewPath>,
    ) -> Result<HttpResponseOk<types::GameFrame>, ApiError> {
        let game_id = path.into_inner().game_id;
        let frame = rqctx.context().spectating.current_frame(game_id)?;
        Ok(HttpResponseOk(wire::frame_to_wire(&frame.frame)?))
    }

    async fn games_finished_view(
        rqctx: RequestContext<ServerState>,
        path: Path<types::GamesFinishedViewPath>,
    ) -> Result<HttpResponseOk<types::FinishedGameSummary>, ApiError> {
        let game_id = path.into_inner().game_id;
        let record = rqctx.context().replays.record(game_id).await?;
        Ok(HttpResponseOk(wire::finished_game_summary_to_wire(record)?))
    }

    async fn games_replay(
        rqctx: RequestContext<ServerState>,
        path: Path<types::GamesReplayPath>,
        query: Query<types::GamesReplayQuery>,
        upgrade: WebsocketUpgrade,
    ) -> Result<support::SwitchingToWebsocket, ApiError> {
        channels::games_replay(rqctx, path, query, upgrade).await
    }

    async fn games_ticket_issue(
        rqctx: RequestContext<ServerState>,
        caller: Authenticated<AuthenticatedPlayer>,
        path: Path<types::GamesTicketIssuePath>,
    ) -> Result<HttpResponseCreated<types::PlayTicket>, ApiError> {
        let game_id = path.into_inner().game_id;
        let live_games = &rqctx.context().live_games;
        let ticket = live_games.rejoin(&caller.principal().profile, game_id)?;
        Ok(HttpResponseCreated(wire::play_ticket_to_wire(
            ticket,
            &live_games.settings(),
        )?))
    }

    async fn games_play(
        rqctx: RequestContext<ServerState>,
        path: Path<types::GamesPlayPath>,
        query: Query<types::GamesPlayQuery>,
        upgrade: WebsocketUpgrade,
    ) -> Result<support::SwitchingToWebsocket, ApiError> {
        channels::games_play(rqctx, path, query, upgrade).await
    }

    async fn games_watch(
        rqctx: RequestContext<ServerState>,
        path: Path<types::GamesWatchPath>,
        upgrade: WebsocketUpgrade,
    ) -> Result<support::SwitchingToWebsocket, ApiError> {
        channels::games_watch(rqctx, path, upgrade).await
    }

    async fn health_check(
        rqctx: RequestContext<ServerState>,
    ) -> Result<HttpResponseOk<types::Health>, ApiError> {
        let store = &rqctx.context().store;
        // The store answers within a bound or the check is a 503 with the error body.
        store.ping().await?;
        Ok(HttpResponseOk(types::Health {
            status: types::HealthStatus::Ok,
            store: types::HealthStore::try_from(store.backend_name().to_owned())?,
        }))
    }
}

/// Serves the OpenAPI document this server emits (not a copy of `openapi.yaml`). It is left out
/// of the document itself: it describes the API, it is not part of the game's contract.
#[dropshot::endpoint {
    method = GET,
    path = "/api/openapi.json",
    unpublished = true,
}]
pub async fn openapi_document_view(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(rqctx.context().openapi_json.clone().into())
        .map_err(|error| ApiError::internal(format!("cannot build the document response: {error}")))
}
