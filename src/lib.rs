//! Snake Arena server: the game's API, generated from `openapi.yaml` and implemented over a
//! store. `server::start` is the one way to run it, for `main` and for tests alike.

pub mod api;
pub mod auth;
pub mod body_deadline;
pub mod caller;
pub mod config;
pub mod context;
pub mod cors;
pub mod docs;
pub mod error;
pub mod games;
pub mod http_entrypoints;
pub mod http_policy;
pub mod leaderboard;
pub mod logging;
pub mod model;
pub mod password;
pub mod password_policy;
pub mod rate_limit;
pub mod seed;
pub mod server;
pub mod store;
pub mod synthetic;
pub mod tokens;
pub mod wire;
