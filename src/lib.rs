//! Snake Arena server: the game's API, generated from `openapi.yaml` and implemented over a
//! store. `server::start` is the one way to run it, for `main` and for tests alike.
//!
//! The folders are the layers. `http/` is the edge and the only place that knows HTTP, Dropshot
//! and the contract's wire types; `accounts/`, `leaderboard/` and `games/` are the domain;
//! `store/` keeps the domain's data; `demo/` makes demo and benchmark data. `model` and `error`
//! are the vocabulary the domain and the store share. A test (`layering`) fails when a domain or
//! store file reaches for the edge.

pub mod accounts;
pub mod api;
pub mod config;
pub mod demo;
pub mod error;
pub mod games;
pub mod http;
#[cfg(test)]
mod layering;
pub mod leaderboard;
pub mod logging;
pub mod model;
pub mod server;
pub mod store;
