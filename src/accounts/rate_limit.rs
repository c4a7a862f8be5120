//! Rate limits on the expensive and abusable operations (failed logins per account and per
//! client, sign-ups per client, score submissions per player), decided before any work is done.
//!
//! Each limit is the generic cell rate algorithm (GCRA), tuned so that no window of the limit's
//! length ever holds more than `limit` events: half of them (rounded up) may come at once, the
//! rest at a steady pace over the window. A key costs one timestamp, and keys that have fully
//! recovered are dropped when the table grows, so memory stays proportional to recently active
//! keys.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys at which a table is swept of fully recovered entries, and the most it may hold after a
/// sweep; beyond that the limiter refuses new keys (fails closed) rather than grow without bound.
const SWEEP_THRESHOLD: usize = 4096;
const MAX_KEYS: usize = 1_000_000;

pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3600);

/// One limit: at most `limit` events in any `window`, per key.
pub struct RateLimiter {
    /// Time one event adds to a key's schedule.
    emission_interval: Duration,
    /// How far ahead of now a key's schedule may run: the burst, less one event, in time.
    tolerance: Duration,
    /// A limit of zero refuses everything.
    refuses_all: bool,
    /// Each key's theoretical arrival time: when its schedule is next free.
    schedules: Mutex<Schedules>,
}

struct Schedules {
    by_key: HashMap<String, Instant>,
    sweep_at: usize,
}

/// A refusal: how long until the key may try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

/// An event the limiter has counted, which may be handed back if it turns out not to count
/// (a login that succeeded, say).
#[must_use = "an admitted event is either kept or refunded"]
pub struct Admitted<'a> {
    limiter: &'a RateLimiter,
    key: String,
}

impl RateLimiter {
    /// At most `limit` events in any `window` per key, about half of them at once. A zero
    /// `limit` refuses every event.
    ///
    /// GCRA admits at most `burst + window / interval - 1` events in any half-open stretch of
    /// one window; with `interval = window / paced` and `burst = limit - paced + 1`, that is
    /// exactly `limit`.
    pub fn new(limit: u32, window: Duration) -> Self {
        let paced = (limit / 2).max(1);
        let burst = limit.saturating_add(1).saturating_sub(paced).max(1);
        let emission_interval = window / paced;
        Self {
            emission_interval,
            tolerance: emission_interval * (burst - 1),
            refuses_all: limit == 0,
            schedules: Mutex::new(Schedules {
                by_key: HashMap::new(),
                sweep_at: SWEEP_THRESHOLD,
            }),
        }
    }

    /// A limiter that admits everything, for a limit that is switched off.
    pub fn unlimited() -> Self {
        Self::new(1, Duration::ZERO)
    }

    /// At most `limit` events per `window`, where a zero `limit` (as configured) means no limit.
    pub fn optional(limit: u32, window: Duration) -> Self {
        if limit == 0 {
            Self::unlimited()
        } else {
            Self::new(limit, window)
        }
    }

    /// Counts one event for `key` if the limit allows it now.
    pub fn admit(&self, key: String) -> Result<Admitted<'_>, Refused> {
        self.admit_at(key, Instant::now())
    }

    fn admit_at(&self, key: String, now: Instant) -> Result<Admitted<'_>, Refused> {
        if self.refuses_all {
            return Err(Refused {
                retry_after: self.emission_interval,
            });
        }
        if self.emission_interval.is_zero() {
            return Ok(Admitted { limiter: self, key });
        }
        let mut schedules = self
            .schedules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !schedules.by_key.contains_key(&key) && schedules.by_key.len() >= schedules.sweep_at {
            schedules.by_key.retain(|_, scheduled| *scheduled > now);
            let remaining = schedules.by_key.len();
            schedules.sweep_at = (remaining * 2).max(SWEEP_THRESHOLD);
            if remaining >= MAX_KEYS {
                return Err(Refused {
                    retry_after: self.emission_interval,
                });
            }
        }
        let scheduled = schedules.by_key.get(&key).copied().unwrap_or(now).max(now);
        let ahead = scheduled - now;
        if ahead > self.tolerance {
            return Err(Refused {
                retry_after: ahead - self.tolerance,
            });
        }
        schedules
            .by_key
            .insert(key.clone(), scheduled + self.emission_interval);
        Ok(Admitted { limiter: self, key })
    }

    /// The decision [`RateLimiter::admit`] makes, for a schedule kept elsewhere (a store shared
    /// by several servers): given when the key's schedule is next free and the time now, both on
    /// one clock, when it is next free after this event, or the refusal. A key never seen before
    /// is free from any time in the past.
    pub fn next_schedule(&self, scheduled: Duration, now: Duration) -> Result<Duration, Refused> {
        if self.refuses_all {
            return Err(Refused {
                retry_after: self.emission_interval,
            });
        }
        let ahead = scheduled.max(now) - now;
        if ahead > self.tolerance {
            return Err(Refused {
                retry_after: ahead - self.tolerance,
            });
        }
        Ok(scheduled.max(now) + self.emission_interval)
    }

    /// Time one event adds to a key's schedule, which a refund takes off again.
    pub fn emission_interval(&self) -> Duration {
        self.emission_interval
    }

    /// Whether this limiter admits everything (a limit that is switched off).
    pub fn is_unlimited(&self) -> bool {
        !self.refuses_all && self.emission_interval.is_zero()
    }

    fn refund(&self, key: &str) {
        let mut schedules = self
            .schedules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(scheduled) = schedules.by_key.get_mut(key) {
            *scheduled = scheduled
                .checked_sub(self.emission_interval)
                .unwrap_or(*scheduled);
        }
    }
}

impl Admitted<'_> {
    /// Hands the event back: it does not count against the limit after all.
    pub fn refund(self) {
        self.limiter.refund(&self.key);
    }
}

impl From<Refused> for crate::error::Error {
    fn from(refused: Refused) -> Self {
        crate::error::Error::RateLimited {
            retry_after: refused.retry_after,
        }
    }
}

/// The limits on logging in and signing up, held by the account service.
pub struct AuthLimits {
    /// Failed logins per account (the email as typed, compared ignoring case), known or not, so
    /// the answer does not reveal which emails are registered.
    pub failed_logins_per_account: RateLimiter,
    /// Failed logins per client address, whatever the account.
    pub failed_logins_per_client: RateLimiter,
    /// Successful sign-ups per client address.
    pub signups_per_client: RateLimiter,
    /// Sessions one player may hold at once; a new login beyond it ends the oldest session.
    pub sessions_per_player: usize,
}

impl AuthLimits {
    /// No limits, for tests of other behaviour.
    pub fn unlimited() -> Self {
        Self {
            failed_logins_per_account: RateLimiter::unlimited(),
            failed_logins_per_client: RateLimiter::unlimited(),
            signups_per_client: RateLimiter::unlimited(),
            sessions_per_player: usize::MAX,
        }
    }
}

/// The key for a client address: the address itself for IPv4, the /64 network for IPv6, since
/// one IPv6 client usually controls a whole /64.
pub fn client_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_the_limit_is_admitted_at_once_and_the_next_event_waits_one_interval() {
        let limiter = RateLimiter::new(100, HOUR);
        let now = Instant::now();
        for attempt in 0..51 {
            assert!(
                limiter.admit_at("alice".into(), now).is_ok(),
                "attempt {attempt}"
            );
        }
        let refused = limiter.admit_at("alice".into(), now).err().unwrap();
        assert_eq!(refused.retry_after, Duration::from_secs(72));
        assert!(
            limiter.admit_at("bob".into(), now).is_ok(),
            "keys are separate"
        );
        let later = now + Duration::from_secs(72);
        assert!(limiter.admit_at("alice".into(), later).is_ok());
        assert!(limiter.admit_at("alice".into(), later).is_err());
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit_and_a_steady_client_gets_all_of_it() {
        for limit in [1, 2, 3, 10, 11, 100] {
            let limiter = RateLimiter::new(limit, Duration::from_secs(60));
            let start = Instant::now();
            let mut admitted = Vec::new();
            for tenth in 0..6000u64 {
                let now = start + Duration::from_millis(tenth * 100);
                while limiter.admit_at("key".into(), now).is_ok() {
                    admitted.push(tenth);
                }
            }
            let mut busiest = 0;
            for (index, &first) in admitted.iter().enumerate() {
                let in_window = admitted[index..]
                    .iter()
                    .take_while(|&&tenth| tenth < first + 600)
                    .count();
                busiest = busiest.max(in_window);
            }
            assert_eq!(busiest, limit as usize, "limit {limit}");
        }
    }

    #[test]
    fn a_refunded_event_does_not_count() {
        let limiter = RateLimiter::new(2, HOUR);
        let now = Instant::now();
        limiter.admit_at("carol".into(), now).unwrap().refund();
        limiter.admit_at("carol".into(), now).unwrap().refund();
        let _kept = limiter.admit_at("carol".into(), now).unwrap();
        let _kept = limiter.admit_at("carol".into(), now).unwrap();
        assert!(limiter.admit_at("carol".into(), now).is_err());
    }

    #[test]
    fn a_schedule_kept_elsewhere_gets_the_same_decisions_as_one_kept_here() {
        let limiter = RateLimiter::new(3, HOUR);
        let start = Instant::now();
        let epoch_offset = Duration::from_secs(1_000_000);
        let mut scheduled = Duration::ZERO;
        for second in (0..7200).step_by(97) {
            let at = Duration::from_secs(second);
            let kept_here = limiter.admit_at("dave".into(), start + at).map(|admitted| {
                std::mem::forget(admitted);
            });
            let kept_elsewhere = limiter.next_schedule(scheduled, epoch_offset + at);
            match (&kept_here, kept_elsewhere) {
                (Ok(()), Ok(next)) => scheduled = next,
                (Err(here), Err(elsewhere)) => assert_eq!(*here, elsewhere, "second {second}"),
                _ => panic!("second {second}: {kept_here:?} here but {kept_elsewhere:?} elsewhere"),
            }
        }
    }

    #[test]
    fn a_zero_limit_refuses_everything_and_unlimited_admits_everything() {
        let now = Instant::now();
        assert!(RateLimiter::new(0, HOUR).admit_at("x".into(), now).is_err());
        let unlimited = RateLimiter::unlimited();
        for _ in 0..10_000 {
            assert!(unlimited.admit_at("x".into(), now).is_ok());
        }
    }

    #[test]
    fn fully_recovered_keys_are_swept_so_memory_follows_recent_activity() {
        let limiter = RateLimiter::new(5, Duration::from_secs(10));
        let start = Instant::now();
        for key in 0..SWEEP_THRESHOLD * 3 {
            let now = start + Duration::from_secs(key as u64);
            let _kept = limiter.admit_at(key.to_string(), now).unwrap();
        }
        let held = limiter.schedules.lock().unwrap().by_key.len();
        assert!(held <= SWEEP_THRESHOLD + 1, "{held} keys held");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(one), client_key(same_network));
        assert_ne!(client_key(one), client_key(other));
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(client_key("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
