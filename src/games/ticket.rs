//! Play tickets: short-lived, single-use secrets that admit a player to their live game's play
//! channel, so no long-lived token ever has to travel in a URL.
//!
//! A ticket is 256 random bits like a session token (`accounts::tokens`), and only its SHA-256
//! hash is kept. Redeeming it removes it, so a second redemption fails, and so does one after
//! it expires. Expiry is measured on tokio's clock, so tests can move time with
//! `tokio::time::advance`.
//!
//! Domain code: it never uses the HTTP edge or the wire types.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::accounts::tokens::{TokenHash, hash_token, issue_token};
use crate::error::{Error, Result};

/// A play ticket's text, handed to the player once. Its `Debug` shows nothing of it, so logging a
/// value that holds one leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct PlayTicket(String);

impl PlayTicket {
    /// The ticket's text, to send to the player.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PlayTicket {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PlayTicket(..)")
    }
}

/// What a ticket admits to: one player's one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketGrant {
    pub game_id: Uuid,
    pub player_id: Uuid,
}

struct IssuedTicket {
    grant: TicketGrant,
    expires_at: Instant,
}

/// The tickets issued and not yet redeemed or expired.
pub struct PlayTickets {
    lifetime: Duration,
    issued: Mutex<HashMap<TokenHash, IssuedTicket>>,
}

impl PlayTickets {
    pub fn new(lifetime: Duration) -> PlayTickets {
        PlayTickets {
            lifetime,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a ticket for the grant, valid for the configured lifetime. Expired tickets are
    /// forgotten here, so the table holds only tickets issued within one lifetime.
    pub fn issue(&self, grant: TicketGrant) -> Result<PlayTicket> {
        let (ticket, ticket_hash) = issue_token()?;
        let now = Instant::now();
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued.retain(|_, ticket| ticket.expires_at > now);
        issued.insert(
            ticket_hash,
            IssuedTicket {
                grant,
                expires_at: now + self.lifetime,
            },
        );
        Ok(PlayTicket(ticket))
    }

    /// Redeems a ticket once: `InvalidTicket` when it is unknown, already redeemed or expired.
    pub fn redeem(&self, ticket: &str) -> Result<TicketGrant> {
        let ticket_hash = hash_token(ticket);
        let redeemed = self
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ticket_hash);
        match redeemed {
            Some(issued) if issued.expires_at > Instant::now() => Ok(issued.grant),
            _ => Err(Error::InvalidTicket),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> TicketGrant {
        TicketGrant {
            game_id: Uuid::new_v4(),
            player_id: Uuid::new_v4(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_ticket_admits_once_and_a_second_redemption_fails() {
        let tickets = PlayTickets::new(Duration::from_secs(30));
        let granted = grant();
        let ticket = tickets.issue(granted).expect("issue");
        assert_eq!(tickets.redeem(ticket.expose()), Ok(granted));
        assert_eq!(tickets.redeem(ticket.expose()), Err(Error::InvalidTicket));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ticket_redeemed_after_its_lifetime_fails_and_one_just_before_works() {
        let tickets = PlayTickets::new(Duration::from_secs(30));
        let late = tickets.issue(grant()).expect("issue");
        let in_time = tickets.issue(grant()).expect("issue");
        tokio::time::advance(Duration::from_millis(29_999)).await;
        assert!(tickets.redeem(in_time.expose()).is_ok());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(tickets.redeem(late.expose()), Err(Error::InvalidTicket));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_ticket_fails_and_a_ticket_never_shows_in_debug_output() {
        let tickets = PlayTickets::new(Duration::from_secs(30));
        let ticket = tickets.issue(grant()).expect("issue");
        assert_eq!(tickets.redeem("made-up"), Err(Error::InvalidTicket));
        assert_eq!(format!("{ticket:?}"), "PlayTicket(..)");
    }
}
