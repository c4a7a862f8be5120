//! Accounts: signing up, logging in and out, and the sessions behind bearer tokens; with them the
//! scrypt hashing slots, the rule for guessable passwords, token issue and hashing, and the rate
//! limits on attempts.
//!
//! Domain code: it uses `model`, `error` and the `Store` trait, and never `dropshot`, `http` or
//! the wire types.

pub mod auth;
pub mod password;
pub mod password_policy;
pub mod rate_limit;
pub mod shared_limit;
pub mod tokens;
