//! Password hashing with scrypt, run off the async threads and rationed by slots so memory-hungry hashing cannot pile up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scrypt::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordHasher as _, PasswordVerifier as _,
    SaltString,
};
use scrypt::{Params, Scrypt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::{Error, Result};

/// Length of the derived key; 32 bytes is scrypt's recommended output and the PHC default.
const SCRYPT_OUTPUT_BYTE_COUNT: usize = Params::RECOMMENDED_LEN;

/// Length of each random salt; 16 bytes is the size recommended by the PHC string format.
const SALT_BYTE_COUNT: usize = 16;

/// How long a refused caller is told to wait; hashes take well under a second at the OWASP cost.
const RETRY_AFTER_WHEN_BUSY: Duration = Duration::from_secs(1);

/// How long a caller may wait in the queue for a slot unless [`PasswordHasher::with_max_wait`]
/// says otherwise (the server's `--hashing-wait-seconds` default).
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(10);

/// The scrypt work factor: N = 2^log_n, block size r, parallelism p.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptCost {
    log_n: u8,
    r: u32,
    p: u32,
}

impl ScryptCost {
    /// OWASP's recommendation (N = 2^17, r = 8, p = 1): about 128 MiB and 0.4 s per hash.
    pub const OWASP: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };

    /// A deliberately weak cost (N = 2^4) so tests and local development hash instantly.
    /// Never use it for real accounts.
    pub const INSECURE_FAST_FOR_TESTS_ONLY: ScryptCost = ScryptCost {
        log_n: 4,
        r: 8,
        p: 1,
    };

    /// Builds a custom cost, rejecting combinations scrypt itself would refuse.
    pub fn new(log_n: u8, r: u32, p: u32) -> std::result::Result<Self, String> {
        // scrypt requires N > 1; the crate accepts N = 2^0 = 1, which would barely hash at all.
        if log_n == 0 {
            return Err("invalid scrypt cost: log_n must be at least 1".to_string());
        }
        Params::new(log_n, r, p, SCRYPT_OUTPUT_BYTE_COUNT)
            .map_err(|invalid| format!("invalid scrypt cost: {invalid}"))?;
        Ok(ScryptCost { log_n, r, p })
    }

    pub fn log_n(&self) -> u8 {
        self.log_n
    }

    pub fn r(&self) -> u32 {
        self.r
    }

    pub fn p(&self) -> u32 {
        self.p
    }

    fn to_scrypt_params(self) -> Result<Params> {
        Params::new(self.log_n, self.r, self.p, SCRYPT_OUTPUT_BYTE_COUNT)
            .map_err(|invalid| Error::Internal(format!("invalid scrypt cost: {invalid}")))
    }
}

impl Default for ScryptCost {
    fn default() -> Self {
        ScryptCost::OWASP
    }
}

/// Hashes and verifies passwords with a bounded amount of concurrent scrypt work.
///
/// Each hash at the OWASP cost needs 128 MiB, so at most `slots` run at once (each on a
/// blocking thread) and at most `max_waiting` callers queue for a slot; anyone beyond that is
/// refused at once with [`Error::HashingBusy`] instead of growing an unbounded queue. A queued
/// caller that has not got a slot within `max_wait` is refused the same way, so a burst is over
/// within about `max_wait` and one hash however slow the machine is.
pub struct PasswordHasher {
    cost: ScryptCost,
    scrypt_params: Params,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    /// A PHC string with random salt and random output at the configured cost, checked against
    /// when an email is unknown so that path costs as much time as a wrong password.
    dummy_phc: String,
}

impl PasswordHasher {
    /// Creates a hasher; this does no hashing, so start-up stays instant.
    ///
    /// Fails when `slots` is zero (every hash would wait forever) or when the OS random source
    /// cannot provide the dummy hash's random bytes.
    pub fn new(cost: ScryptCost, slots: usize, max_waiting: usize) -> Result<Self> {
        if slots == 0 {
            return Err(Error::Internal(
                "the password hasher needs at least one slot".to_string(),
            ));
        }
        let scrypt_params = cost.to_scrypt_params()?;
        let dummy_phc = build_dummy_phc(scrypt_params)?;
        Ok(PasswordHasher {
            cost,
            scrypt_params,
            slots: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            max_wait: DEFAULT_MAX_WAIT,
            dummy_phc,
        })
    }

    /// The same hasher with queued callers refused after `max_wait` without a slot.
    pub fn with_max_wait(self, max_wait: Duration) -> Self {
        PasswordHasher { max_wait, ..self }
    }

    pub fn cost(&self) -> ScryptCost {
        self.cost
    }

    /// Hashes a password with a fresh random salt and returns the PHC string.
    ///
    /// The whole UTF-8 byte string is hashed; nothing is truncated.
    pub async fn hash(&self, password: &str) -> Result<String> {
        self.reserve().await?.hash(password).await
    }

    /// Waits for a hashing slot (or is refused with [`Error::HashingBusy`], like [`Self::hash`])
    /// and holds it for one hash. Waiting can take seconds in a burst, so a caller can check
    /// again, once the slot is theirs, whether the hash is still needed.
    pub async fn reserve(&self) -> Result<HashingSlot<'_>> {
        Ok(HashingSlot {
            hasher: self,
            permit: self.acquire_slot().await?,
        })
    }

    /// Checks a password against a stored PHC string, using the cost recorded in that string.
    ///
    /// A malformed stored string is [`Error::Internal`]: it means the store is corrupt, not that
    /// the player typed something wrong.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool> {
        // Parsing first, outside the slot, rejects corrupt data without taking scrypt capacity.
        PasswordHash::new(phc).map_err(malformed_stored_hash)?;
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.run_in_slot(move || {
            let parsed_hash = PasswordHash::new(&phc).map_err(malformed_stored_hash)?;
            match Scrypt.verify_password(password.as_bytes(), &parsed_hash) {
                Ok(()) => Ok(true),
                Err(password_hash::Error::Password) => Ok(false),
                Err(other_error) => Err(malformed_stored_hash(other_error)),
            }
        })
        .await
    }

    /// Spends one real scrypt computation at the configured cost and reports nothing.
    ///
    /// Used when an email is unknown, so that answer takes about as long as a wrong password and
    /// does not reveal which emails are registered. It still returns [`Error::HashingBusy`] when
    /// hashing is saturated, exactly like the known-email path would.
    pub async fn verify_against_dummy(&self, password: &str) -> Result<()> {
        // The result is ignored on purpose: whatever it is, the caller answers InvalidCredentials.
        let _matched_dummy = self.verify(password, &self.dummy_phc).await?;
        Ok(())
    }

    /// Runs CPU-heavy work on a blocking thread while holding a hashing slot.
    async fn run_in_slot<T, Work>(&self, work: Work) -> Result<T>
    where
        T: Send + 'static,
        Work: FnOnce() -> Result<T> + Send + 'static,
    {
        run_with_permit(self.acquire_slot().await?, work).await
    }

    async fn acquire_slot(&self) -> Result<OwnedSemaphorePermit> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot_permit) => return Ok(slot_permit),
            Err(TryAcquireError::Closed) => return Err(slots_closed()),
            Err(TryAcquireError::NoPermits) => {}
        }
        let already_waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        // The guard undoes the increment on every exit, including when this future is dropped
        // while it waits, so the count never drifts upwards.
        let _waiting_registration = WaitingRegistration {
            waiting: &self.waiting,
        };
        if already_waiting >= self.max_waiting {
            return Err(Error::HashingBusy {
                retry_after: RETRY_AFTER_WHEN_BUSY,
            });
        }
        match tokio::time::timeout(self.max_wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(slot_permit) => slot_permit.map_err(|_closed| slots_closed()),
            Err(_waited_too_long) => Err(Error::HashingBusy {
                retry_after: RETRY_AFTER_WHEN_BUSY,
            }),
        }
    }
}

/// A hashing slot reserved by [`PasswordHasher::reserve`] for one hash; dropping it unused frees
/// the slot at once.
pub struct HashingSlot<'hasher> {
    hasher: &'hasher PasswordHasher,
    permit: OwnedSemaphorePermit,
}

impl HashingSlot<'_> {
    /// Hashes a password in this slot, as [`PasswordHasher::hash`] does.
    pub async fn hash(self, password: &str) -> Result<String> {
        let salt = random_salt()?;
        let scrypt_params = self.hasher.scrypt_params;
        let password = password.to_owned();
        run_with_permit(self.permit, move || {
            Scrypt
                .hash_password_customized(password.as_bytes(), None, None, scrypt_params, &salt)
                .map(|password_hash| password_hash.to_string())
                .map_err(|hash_error| {
                    Error::Internal(format!("scrypt could not hash a password: {hash_error}"))
                })
        })
        .await
    }
}

/// Runs CPU-heavy work on a blocking thread while holding `slot_permit`.
async fn run_with_permit<T, Work>(slot_permit: OwnedSemaphorePermit, work: Work) -> Result<T>
where
    T: Send + 'static,
    Work: FnOnce() -> Result<T> + Send + 'static,
{
    // The permit moves into the blocking task so the slot stays taken until scrypt really
    // finishes, even if the request that started it is cancelled meanwhile.
    tokio::task::spawn_blocking(move || {
        let work_result = work();
        drop(slot_permit);
        work_result
    })
    .await
    .map_err(|join_error| {
        Error::Internal(format!("a password hashing task failed: {join_error}"))
    })?
}

/// Counts one caller in the wait queue for as long as it is alive.
struct WaitingRegistration<'hasher> {
    waiting: &'hasher AtomicUsize,
}

impl Drop for WaitingRegistration<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

fn slots_closed() -> Error {
    Error::Internal("the password hashing slots were closed".to_string())
}

fn malformed_stored_hash(parse_error: password_hash::Error) -> Error {
    Error::Internal(format!(
        "a stored password hash is malformed: {parse_error}"
    ))
}

fn fill_from_os_random_source(buffer: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buffer)
        .map_err(|os_error| Error::Internal(format!("the OS random source failed: {os_error}")))
}

fn random_salt() -> Result<SaltString> {
    let mut salt_bytes = [0u8; SALT_BYTE_COUNT];
    fill_from_os_random_source(&mut salt_bytes)?;
    SaltString::encode_b64(&salt_bytes)
        .map_err(|encode_error| Error::Internal(format!("could not encode a salt: {encode_error}")))
}

/// Builds a well-formed PHC string that no password is expected to match, without hashing.
fn build_dummy_phc(scrypt_params: Params) -> Result<String> {
    let salt = random_salt()?;
    let mut output_bytes = [0u8; SCRYPT_OUTPUT_BYTE_COUNT];
    fill_from_os_random_source(&mut output_bytes)?;
    let phc_error =
        |build_error| Error::Internal(format!("could not build the dummy hash: {build_error}"));
    let dummy_hash = PasswordHash {
        algorithm: scrypt::ALG_ID,
        version: None,
        params: ParamsString::try_from(scrypt_params).map_err(phc_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output_bytes).map_err(phc_error)?),
    };
    Ok(dummy_hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_hasher(slots: usize, max_waiting: usize) -> PasswordHasher {
        PasswordHasher::new(ScryptCost::INSECURE_FAST_FOR_TESTS_ONLY, slots, max_waiting)
            .expect("a valid test hasher")
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_different_one_does_not() {
        let hasher = fast_hasher(2, 4);
        let phc = hasher.hash("correct horse battery").await.expect("hash");
        assert!(phc.starts_with("$scrypt$ln=4,r=8,p=1$"));
        assert_eq!(hasher.verify("correct horse battery", &phc).await, Ok(true));
        assert_eq!(
            hasher.verify("correct horse batterY", &phc).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn hashing_the_same_password_twice_uses_different_salts() {
        let hasher = fast_hasher(2, 4);
        let first = hasher.hash("same password").await.expect("hash");
        let second = hasher.hash("same password").await.expect("hash");
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn a_password_differing_only_at_character_100_of_120_fails() {
        let hasher = fast_hasher(2, 4);
        let original: String = "a".repeat(120);
        let mut changed: Vec<char> = original.chars().collect();
        changed[99] = 'b';
        let changed: String = changed.into_iter().collect();
        let phc = hasher.hash(&original).await.expect("hash");
        assert_eq!(hasher.verify(&original, &phc).await, Ok(true));
        assert_eq!(hasher.verify(&changed, &phc).await, Ok(false));
    }

    #[tokio::test]
    async fn a_unicode_password_round_trips() {
        let hasher = fast_hasher(2, 4);
        let password = "пароль-🐍-蛇-contraseña";
        let phc = hasher.hash(password).await.expect("hash");
        assert_eq!(hasher.verify(password, &phc).await, Ok(true));
        assert_eq!(
            hasher.verify("пароль-🐍-蛇-contrasena", &phc).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_internal_error_not_a_panic() {
        let hasher = fast_hasher(2, 4);
        for malformed in [
            "",
            "not a phc string",
            "$scrypt$ln=4,r=8,p=1$",
            "$argon2id$v=19$x",
        ] {
            let outcome = hasher.verify("whatever", malformed).await;
            assert!(
                matches!(outcome, Err(Error::Internal(_))),
                "{malformed:?} gave {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn verifying_against_the_dummy_hash_succeeds_quietly() {
        let hasher = fast_hasher(2, 4);
        assert_eq!(hasher.verify_against_dummy("any password").await, Ok(()));
        assert!(hasher.dummy_phc.starts_with("$scrypt$ln=4,r=8,p=1$"));
    }

    #[tokio::test]
    async fn the_dummy_hash_uses_the_configured_cost() {
        let hasher = PasswordHasher::new(ScryptCost::OWASP, 1, 1).expect("hasher");
        assert!(hasher.dummy_phc.starts_with("$scrypt$ln=17,r=8,p=1$"));
        let parsed = PasswordHash::new(&hasher.dummy_phc).expect("dummy is well formed");
        assert_eq!(parsed.hash.map(|output| output.len()), Some(32));
    }

    #[tokio::test]
    async fn a_third_caller_is_refused_when_the_only_slot_is_busy_and_the_queue_is_full() {
        let hasher = Arc::new(fast_hasher(1, 1));
        // The test itself holds the only slot, so nothing depends on timing.
        let held_slot = Arc::clone(&hasher.slots)
            .try_acquire_owned()
            .expect("the slot is free at first");

        let queued_hasher = Arc::clone(&hasher);
        let queued_caller = tokio::spawn(async move { queued_hasher.hash("second caller").await });
        while hasher.waiting.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }

        assert_eq!(
            hasher.hash("third caller").await,
            Err(Error::HashingBusy {
                retry_after: Duration::from_secs(1)
            })
        );
        assert_eq!(
            hasher.verify_against_dummy("third caller").await,
            Err(Error::HashingBusy {
                retry_after: Duration::from_secs(1)
            })
        );

        drop(held_slot);
        let queued_outcome = queued_caller.await.expect("the queued task did not panic");
        assert!(queued_outcome.is_ok());
        assert_eq!(hasher.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_while_queued_leaves_the_queue() {
        let hasher = Arc::new(fast_hasher(1, 1));
        let held_slot = Arc::clone(&hasher.slots)
            .try_acquire_owned()
            .expect("the slot is free at first");
        let queued_hasher = Arc::clone(&hasher);
        let queued_caller = tokio::spawn(async move { queued_hasher.hash("gives up").await });
        while hasher.waiting.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        queued_caller.abort();
        let _cancelled = queued_caller.await;
        assert_eq!(hasher.waiting.load(Ordering::SeqCst), 0);
        drop(held_slot);
        assert!(hasher.hash("after the cancellation").await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_caller_is_refused_as_busy_once_it_has_waited_too_long() {
        let hasher = fast_hasher(1, 4).with_max_wait(Duration::from_millis(20));
        let held_slot = Arc::clone(&hasher.slots)
            .try_acquire_owned()
            .expect("the slot is free at first");
        assert_eq!(
            hasher.hash("waits in vain").await,
            Err(Error::HashingBusy {
                retry_after: Duration::from_secs(1)
            })
        );
        assert_eq!(hasher.waiting.load(Ordering::SeqCst), 0);
        drop(held_slot);
        assert!(hasher.hash("a free slot again").await.is_ok());
    }

    #[tokio::test]
    async fn a_reserved_slot_is_held_until_it_hashes_or_is_dropped() {
        let hasher = fast_hasher(1, 0);
        let reserved = hasher.reserve().await.expect("the only slot is free");
        assert!(matches!(
            hasher.hash("while reserved").await,
            Err(Error::HashingBusy { .. })
        ));
        drop(reserved);
        let reserved = hasher.reserve().await.expect("dropping frees the slot");
        let phc = reserved.hash("in the slot").await.expect("hash");
        assert_eq!(hasher.verify("in the slot", &phc).await, Ok(true));
    }

    #[test]
    fn a_hasher_without_slots_is_rejected() {
        assert!(matches!(
            PasswordHasher::new(ScryptCost::INSECURE_FAST_FOR_TESTS_ONLY, 0, 1),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn the_default_cost_is_the_owasp_recommendation() {
        let cost = ScryptCost::default();
        assert_eq!((cost.log_n(), cost.r(), cost.p()), (17, 8, 1));
        assert_eq!(cost, ScryptCost::OWASP);
    }

    #[test]
    fn an_impossible_custom_cost_is_rejected() {
        assert!(ScryptCost::new(4, 8, 1).is_ok());
        assert!(ScryptCost::new(0, 8, 1).is_err());
        assert!(ScryptCost::new(64, 8, 1).is_err());
        assert!(ScryptCost::new(4, 0, 1).is_err());
        assert!(ScryptCost::new(4, 8, 0).is_err());
    }
}
