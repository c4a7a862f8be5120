//! Games: the games being played and watching them. `engine` holds the rules, a pure and
//! deterministic function of a game's mode, seed and turns by tick, so live games, spectators and
//! replays all play by the same code; `live` runs the games on the server, one task each, and
//! `frames` carries what they publish to players and spectators; `ticket` admits a player to
//! their game's play channel; `bots` plays demo games; `spectating` lists the live games;
//! `replays` plays finished games again from their records and prunes old ones; `cluster` shows
//! and streams the live games of the other instances on a shared store.
//!
//! Domain code: it uses `model`, `error` and the `Store` trait, and never `dropshot`, `http` or
//! the wire types.

pub mod bots;
pub mod cluster;
pub mod engine;
pub mod frames;
pub mod live;
pub mod replays;
pub mod spectating;
pub mod ticket;
