//! Where a rate limit that must hold across servers keeps its schedules: in the store, when the
//! store is shared by several servers (PostgreSQL), or else in this process's own limiter.
//!
//! Only the failed logins per account need this: an attacker who spreads guesses over the
//! servers behind a load balancer must still meet one limit per account. The per-client limits
//! stay per process (README says so), since a client meets the same few servers anyway and a
//! shared schedule would cost a database write per sign-up or score.

use std::sync::Arc;

use crate::accounts::rate_limit::{Admitted, RateLimiter};
use crate::error::Result;
use crate::store::Store;

/// Where the schedules of the limits that must hold across servers are kept.
pub enum LimitKeeping {
    /// In each limiter, in this process: the store is this process's own.
    InProcess,
    /// In the store, which every server on it shares.
    InStore(Arc<dyn Store>),
}

/// An event a limit has counted, which may be handed back if it turns out not to count.
#[must_use = "a counted event is either kept or refunded"]
pub enum Counted<'a> {
    InProcess(Admitted<'a>),
    InStore {
        store: &'a dyn Store,
        limit_name: &'static str,
        limiter: &'a RateLimiter,
        key: String,
    },
}

impl LimitKeeping {
    /// Keeps shared limits in `store` when it says it shares them, else in process.
    pub fn for_store(store: &Arc<dyn Store>) -> Self {
        if store.shares_rate_limits() {
            LimitKeeping::InStore(Arc::clone(store))
        } else {
            LimitKeeping::InProcess
        }
    }

    /// Counts one event for `key` if `limiter`'s limit allows it now, on the schedule named
    /// `limit_name`. A limit that is switched off is never sent to the store.
    pub async fn admit<'a>(
        &'a self,
        limit_name: &'static str,
        limiter: &'a RateLimiter,
        key: String,
    ) -> Result<Counted<'a>> {
        match self {
            LimitKeeping::InStore(store) if !limiter.is_unlimited() => {
                store
                    .admit_shared_event(limit_name, &key, limiter)
                    .await??;
                Ok(Counted::InStore {
                    store: store.as_ref(),
                    limit_name,
                    limiter,
                    key,
                })
            }
            _ => Ok(Counted::InProcess(limiter.admit(key)?)),
        }
    }
}

impl Counted<'_> {
    /// Hands the event back: it does not count against the limit after all.
    pub async fn refund(self) {
        match self {
            Counted::InProcess(admitted) => admitted.refund(),
            Counted::InStore {
                store,
                limit_name,
                limiter,
                key,
            } => {
                // A refund the store cannot take leaves the event counted: the limit is then
                // stricter by one event for a while, which is the safe side to err on.
                let _ = store.refund_shared_event(limit_name, &key, limiter).await;
            }
        }
    }
}
