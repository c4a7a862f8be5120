//! The single domain error type shared by every domain module and the store. It knows nothing of
//! HTTP: `src/http/error.rs` is the one place that turns it into a status and a code.

use std::time::Duration;

/// Everything that can go wrong in the domain layer.
///
/// Every `Display` message is written so it can be shown to a player as is: none of them
/// contains a password, a password hash, a token or any other internal detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The email is unknown or the password is wrong; one variant for both so a response never
    /// reveals which accounts exist.
    #[error("email or password is incorrect")]
    InvalidCredentials,

    /// Another account already uses this email address, compared ignoring case.
    #[error("that email is already registered")]
    EmailTaken,

    /// Another account already uses this username, compared ignoring case.
    #[error("that username is already taken")]
    UsernameTaken,

    /// A new password is one of the most common passwords, or too close to one, to the player's
    /// username or to their email. `reason` is zxcvbn's fixed explanation, never the password.
    #[error(
        "password: too easy to guess, so it is refused. {reason} Choose a longer or less common one, such as a few unrelated words."
    )]
    PasswordTooGuessable { reason: String },

    /// The server takes no self-reported scores (`--self-reported-scores off`): only games it
    /// ran reach the leaderboard.
    #[error(
        "this server records only scores of games played on it (POST /api/games); self-reported scores are turned off"
    )]
    SelfReportedScoresOff,

    /// The session token is missing, unknown, expired or revoked.
    #[error("you are not logged in or your session has expired")]
    Unauthenticated,

    /// Every password-hashing slot is busy and the wait queue is full, so the request is refused
    /// at once instead of piling up memory-hungry scrypt work.
    #[error("the server is busy, please try again in a moment")]
    HashingBusy {
        /// How long the client should wait before trying again.
        retry_after: Duration,
    },

    /// Too many attempts from this account, client or player in the recent past; the limit
    /// is checked before any work is done.
    #[error("too many attempts, please try again later")]
    RateLimited {
        /// How long until the next attempt is allowed.
        retry_after: Duration,
    },

    /// The store did not answer in time or cannot take writes just now (the database is locked
    /// for too long, the disk is full or read-only, a read or write failed). Nothing was changed,
    /// and the same request may well succeed later. `cause` is for the operator's log only.
    #[error("the server cannot reach its data just now, please try again in a moment")]
    StoreUnavailable {
        /// How long the client should wait before trying again.
        retry_after: Duration,
        /// What the store reported, for logs; never shown to clients.
        cause: String,
    },

    /// The store's disk refuses writes (read-only, or failing to write): it takes no new data
    /// until the disk takes writes again, while reads go on. Nothing was changed. `cause` is for
    /// the operator's log only.
    #[error(
        "the server's storage refuses writes (read-only or failing), so it takes no new data for now; reading still works"
    )]
    StoreRefusesWrites {
        /// How long the client should wait before trying again.
        retry_after: Duration,
        /// What the store reported, for logs; never shown to clients.
        cause: String,
    },

    /// The store's disk is full: it takes no new data until space is freed, while reads go on.
    /// Nothing was changed. `cause` is for the operator's log only.
    #[error("the server's storage is full, so it takes no new data for now; reading still works")]
    StoreFull {
        /// How long the client should wait before trying again.
        retry_after: Duration,
        /// What the store reported, for logs; never shown to clients.
        cause: String,
    },

    /// The server already runs as many live games as `--max-live-games` allows.
    #[error("the server is running as many games as it can, please try again in a moment")]
    TooManyLiveGames,

    /// The game already has as many spectators as `--max-spectators-per-game` allows.
    #[error("this game has as many spectators as it can take, please try again later")]
    TooManySpectators,

    /// No live game has this id: it never existed or it has ended.
    #[error("there is no live game with this id")]
    UnknownGame,

    /// No finished game has this id: it never existed, is still being played, or its replay was
    /// pruned.
    #[error("there is no finished game with this id (a game still being played has none yet)")]
    UnknownFinishedGame,

    /// The live game belongs to another player.
    #[error("this game belongs to another player")]
    NotYourGame,

    /// A play ticket that is unknown, already used or expired.
    #[error("the play ticket is invalid, used or expired; ask for a new one")]
    InvalidTicket,

    /// The server is shutting down and starts no new games.
    #[error("the server is shutting down, please try again in a moment")]
    ShuttingDown,

    /// A fault inside the server. The detail is meant for logs (through `Debug`) and is never
    /// part of the `Display` message, which is what clients may see.
    #[error("something went wrong on the server, please try again")]
    Internal(String),
}

/// Result type used by every domain function.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_details_stay_out_of_the_displayed_message() {
        let error = Error::Internal("hash $scrypt$ln=17 secret detail".to_string());
        let shown = error.to_string();
        assert!(!shown.contains("scrypt"));
        assert!(!shown.contains("secret"));
        assert!(format!("{error:?}").contains("secret detail"));
    }

    #[test]
    fn wrong_email_and_wrong_password_share_one_message() {
        assert_eq!(
            Error::InvalidCredentials.to_string(),
            "email or password is incorrect"
        );
    }
}
