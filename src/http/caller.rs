//! The authenticated caller of a secured operation: how a bearer token becomes a player for
//! the extractor the generated trait puts in front of every secured handler.

use crate::api::support::BearerAuthenticator;
use crate::http::context::ServerState;
use crate::http::error::ApiError;
use crate::model::PlayerProfile;

/// A player whose token the server has just checked, with that token (logout revokes it).
pub struct AuthenticatedPlayer {
    pub profile: PlayerProfile,
    bearer_token: String,
}

impl AuthenticatedPlayer {
    pub fn bearer_token(&self) -> &str {
        &self.bearer_token
    }
}

impl BearerAuthenticator for AuthenticatedPlayer {
    type Context = ServerState;

    async fn authenticate(
        context: &ServerState,
        bearer_token: &str,
    ) -> Result<Self, dropshot::HttpError> {
        match context.auth.authenticate(bearer_token).await {
            Ok(profile) => Ok(Self {
                profile,
                bearer_token: bearer_token.to_owned(),
            }),
            Err(error) => Err(ApiError::from(error).into()),
        }
    }
}
