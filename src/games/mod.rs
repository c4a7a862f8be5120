//! Games: the games being played and watching them. `engine` holds the rules, a pure and
//! deterministic function of a game's mode, seed and turns by tick, so live games, spectators and
//! replays all play by the same code; `spectating` lists the active games for spectators. The live
//! games arrive here next.
//!
//! Domain code: it uses `model`, `error` and the `Store` trait, and never `dropshot`, `http` or
//! the wire types.

pub mod engine;
pub mod spectating;
