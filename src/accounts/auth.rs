//! Sign-up, log-in, log-out and token authentication: the account and session rules on top of the store.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use crate::accounts::password::PasswordHasher;
use crate::accounts::password_policy::check_new_password;
use crate::accounts::rate_limit::{AuthLimits, client_key};
use crate::accounts::shared_limit::LimitKeeping;
use crate::accounts::tokens::{hash_token, issue_token};
use crate::error::{Error, Result};
use crate::model::{PlayerProfile, SessionRecord, StoredPlayer};
use crate::store::{Store, comparison_key};

/// Account and session operations. The HTTP layer validates the shape of emails, usernames and
/// passwords before calling in; this service enforces uniqueness, credentials and expiry.
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    token_lifetime: chrono::Duration,
    limits: AuthLimits,
    /// Where the failed logins per account are counted: in the store when several servers
    /// share it, so the limit holds across them.
    account_limit_keeping: LimitKeeping,
}

/// The name of the failed-login schedule per account in a store that shares limits.
const FAILED_LOGINS_PER_ACCOUNT: &str = "failed_logins_per_account";

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        token_lifetime: chrono::Duration,
        limits: AuthLimits,
    ) -> Self {
        AuthService {
            account_limit_keeping: LimitKeeping::for_store(&store),
            store,
            hasher,
            token_lifetime,
            limits,
        }
    }

    /// Creates an account and logs it in, returning its profile and a fresh session token.
    ///
    /// The email is stored trimmed and lowercased; the username keeps the case it was typed
    /// with (trimmed), while uniqueness of both ignores case. Successful sign-ups are limited
    /// per client address; the limit is checked before any work, and a sign-up that fails does
    /// not count. A password that is too easy to guess is refused (see `password_policy`).
    pub async fn sign_up(
        &self,
        email: &str,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<(PlayerProfile, String)> {
        let admitted = self.limits.signups_per_client.admit(client_key(client))?;
        let result = self.create_account(email, username, password).await;
        if result.is_err() {
            admitted.refund();
        }
        result
    }

    async fn create_account(
        &self,
        email: &str,
        username: &str,
        password: &str,
    ) -> Result<(PlayerProfile, String)> {
        let email = comparison_key(email);
        let username = username.trim().to_string();
        // A refused password is bad input, so it is reported before any conflict; zxcvbn takes
        // up to a few milliseconds, which would hold up other requests on an async thread.
        let (candidate, name, address) = (password.to_owned(), username.clone(), email.clone());
        tokio::task::spawn_blocking(move || check_new_password(&candidate, &name, &address))
            .await
            .map_err(|failure| {
                Error::Internal(format!("the password check did not finish: {failure}"))
            })??;
        // Checking before hashing means a duplicate costs no scrypt work. Sign-ups that race
        // each other all pass this first check and queue for a slot, so it is made again once
        // the slot is held: in a burst of one username only the first few hash, not every one.
        // `create_player` checks a last time atomically, so a race is still caught.
        self.ensure_unused(&email, &username).await?;
        let slot = self.hasher.reserve().await?;
        self.ensure_unused(&email, &username).await?;
        let password_hash = slot.hash(password).await?;
        let profile = PlayerProfile {
            id: Uuid::new_v4(),
            username,
            email,
        };
        self.store
            .create_player(StoredPlayer {
                profile: profile.clone(),
                password_hash,
                created_at: Utc::now(),
            })
            .await?;
        let token = self.start_session(profile.id).await?;
        Ok((profile, token))
    }

    /// Fails with `EmailTaken` or `UsernameTaken` when a player already has either (ignoring
    /// case); `email` is already a comparison key.
    async fn ensure_unused(&self, email: &str, username: &str) -> Result<()> {
        if self.store.player_by_email(email).await?.is_some() {
            return Err(Error::EmailTaken);
        }
        // The demo bots' names are taken by the bots, whether or not they are playing.
        if crate::games::bots::is_bot_name(username)
            || self.store.player_by_username(username).await?.is_some()
        {
            return Err(Error::UsernameTaken);
        }
        Ok(())
    }

    /// Checks an email and password and starts a new session; every call issues a new token.
    ///
    /// An unknown email still spends one scrypt computation, so the answer takes about as long
    /// as for a wrong password and does not reveal whether the email is registered.
    ///
    /// Failed logins are limited per account and per client address. Each attempt is counted
    /// before the password is checked, so a refusal costs no hashing, and handed back when it
    /// turns out not to be a failure (a success, or the server too busy to check).
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<(PlayerProfile, String)> {
        let account = self
            .account_limit_keeping
            .admit(
                FAILED_LOGINS_PER_ACCOUNT,
                &self.limits.failed_logins_per_account,
                comparison_key(email),
            )
            .await?;
        let client = match self
            .limits
            .failed_logins_per_client
            .admit(client_key(client))
        {
            Ok(admitted) => admitted,
            Err(refused) => {
                account.refund().await;
                return Err(refused.into());
            }
        };
        let result = self.check_credentials(email, password).await;
        if !matches!(result, Err(Error::InvalidCredentials)) {
            account.refund().await;
            client.refund();
        }
        result
    }

    async fn check_credentials(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(PlayerProfile, String)> {
        let Some(player) = self.store.player_by_email(email).await? else {
            self.hasher.verify_against_dummy(password).await?;
            return Err(Error::InvalidCredentials);
        };
        if !self.hasher.verify(password, &player.password_hash).await? {
            return Err(Error::InvalidCredentials);
        }
        let token = self.start_session(player.profile.id).await?;
        Ok((player.profile, token))
    }

    /// Revokes a session at once. An unknown, already revoked or expired token is
    /// `Unauthenticated` (an expired one is still deleted).
    pub async fn log_out(&self, token: &str) -> Result<()> {
        let token_hash = hash_token(token);
        let session = self.store.session(&token_hash).await?;
        let was_deleted = self.store.delete_session(&token_hash).await?;
        match session {
            Some(session) if was_deleted && session.expires_at > Utc::now() => Ok(()),
            _ => Err(Error::Unauthenticated),
        }
    }

    /// Resolves a session token to its player. Expired sessions are deleted when seen.
    pub async fn authenticate(&self, token: &str) -> Result<PlayerProfile> {
        let token_hash = hash_token(token);
        let Some(session) = self.store.session(&token_hash).await? else {
            return Err(Error::Unauthenticated);
        };
        if session.expires_at <= Utc::now() {
            self.store.delete_session(&token_hash).await?;
            return Err(Error::Unauthenticated);
        }
        match self.store.player_by_id(session.player_id).await? {
            Some(player) => Ok(player.profile),
            // A session whose player no longer exists is useless, so it goes too.
            None => {
                self.store.delete_session(&token_hash).await?;
                Err(Error::Unauthenticated)
            }
        }
    }

    async fn start_session(&self, player_id: Uuid) -> Result<String> {
        let (token, token_hash) = issue_token()?;
        let expires_at = Utc::now()
            .checked_add_signed(self.token_lifetime)
            .ok_or_else(|| {
                Error::Internal("the token lifetime overflows the calendar".to_string())
            })?;
        self.store
            .insert_session(
                SessionRecord {
                    token_hash,
                    player_id,
                    expires_at,
                },
                self.limits.sessions_per_player,
            )
            .await?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::password::ScryptCost;
    use crate::store::MemoryStore;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn service_with_lifetime(token_lifetime: chrono::Duration) -> (AuthService, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        let hasher = PasswordHasher::new(ScryptCost::INSECURE_FAST_FOR_TESTS_ONLY, 2, 8)
            .expect("a valid test hasher");
        let service = AuthService::new(
            store.clone(),
            hasher,
            token_lifetime,
            AuthLimits::unlimited(),
        );
        (service, store)
    }

    fn service() -> AuthService {
        service_with_lifetime(chrono::Duration::hours(1)).0
    }

    #[tokio::test]
    async fn a_player_can_sign_up_log_out_log_in_and_authenticate() {
        let auth = service();
        let (signed_up, sign_up_token) = auth
            .sign_up(
                " Ada@Example.com ",
                "AdaLovelace",
                "analytical-engine",
                CLIENT,
            )
            .await
            .expect("sign up");
        assert_eq!(signed_up.email, "ada@example.com");
        assert_eq!(signed_up.username, "AdaLovelace");
        assert_eq!(
            auth.authenticate(&sign_up_token).await,
            Ok(signed_up.clone())
        );

        assert_eq!(auth.log_out(&sign_up_token).await, Ok(()));
        assert_eq!(
            auth.authenticate(&sign_up_token).await,
            Err(Error::Unauthenticated)
        );
        assert_eq!(
            auth.log_out(&sign_up_token).await,
            Err(Error::Unauthenticated)
        );

        let (logged_in, log_in_token) = auth
            .log_in("ADA@example.com", "analytical-engine", CLIENT)
            .await
            .expect("log in");
        assert_eq!(logged_in, signed_up);
        assert_eq!(auth.authenticate(&log_in_token).await, Ok(signed_up));
    }

    #[tokio::test]
    async fn two_logins_give_two_different_tokens_that_both_work() {
        let auth = service();
        auth.sign_up("bo@example.com", "Bo", "password-for-bo", CLIENT)
            .await
            .expect("sign up");
        let (_, first) = auth
            .log_in("bo@example.com", "password-for-bo", CLIENT)
            .await
            .expect("log in");
        let (_, second) = auth
            .log_in("bo@example.com", "password-for-bo", CLIENT)
            .await
            .expect("log in");
        assert_ne!(first, second);
        assert!(auth.authenticate(&first).await.is_ok());
        assert!(auth.authenticate(&second).await.is_ok());
        auth.log_out(&first).await.expect("log out");
        assert!(auth.authenticate(&second).await.is_ok());
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_email_give_the_same_error() {
        let auth = service();
        auth.sign_up("cy@example.com", "Cy", "password-for-cy", CLIENT)
            .await
            .expect("sign up");
        assert_eq!(
            auth.log_in("cy@example.com", "password-for-cY", CLIENT)
                .await,
            Err(Error::InvalidCredentials)
        );
        assert_eq!(
            auth.log_in("nobody@example.com", "password-for-cy", CLIENT)
                .await,
            Err(Error::InvalidCredentials)
        );
    }

    #[tokio::test]
    async fn an_email_or_username_taken_in_another_case_is_refused() {
        let auth = service();
        auth.sign_up("dee@example.com", "Dee", "password-for-dee", CLIENT)
            .await
            .expect("sign up");
        assert_eq!(
            auth.sign_up("DEE@EXAMPLE.COM", "Someone", "a-second-account-key", CLIENT)
                .await,
            Err(Error::EmailTaken)
        );
        assert_eq!(
            auth.sign_up("other@example.com", "dEE", "a-second-account-key", CLIENT)
                .await,
            Err(Error::UsernameTaken)
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_unauthenticated_and_its_session_is_deleted() {
        // A negative lifetime makes every new session already expired, with no sleeping.
        let (auth, store) = service_with_lifetime(chrono::Duration::hours(-1));
        let (_, token) = auth
            .sign_up("eve@example.com", "Eve", "password-for-eve", CLIENT)
            .await
            .expect("sign up");
        assert!(
            store
                .session(&hash_token(&token))
                .await
                .expect("read")
                .is_some()
        );
        assert_eq!(auth.authenticate(&token).await, Err(Error::Unauthenticated));
        assert_eq!(store.session(&hash_token(&token)).await, Ok(None));
    }

    #[tokio::test]
    async fn logging_out_with_an_expired_token_is_unauthenticated() {
        let (auth, store) = service_with_lifetime(chrono::Duration::zero());
        let (_, token) = auth
            .sign_up("fay@example.com", "Fay", "password-for-fay", CLIENT)
            .await
            .expect("sign up");
        assert_eq!(auth.log_out(&token).await, Err(Error::Unauthenticated));
        assert_eq!(store.session(&hash_token(&token)).await, Ok(None));
    }

    #[tokio::test]
    async fn made_up_tokens_are_unauthenticated() {
        let auth = service();
        assert_eq!(auth.authenticate("").await, Err(Error::Unauthenticated));
        assert_eq!(
            auth.authenticate("not-a-real-token").await,
            Err(Error::Unauthenticated)
        );
        assert_eq!(
            auth.log_out("not-a-real-token").await,
            Err(Error::Unauthenticated)
        );
    }
}
