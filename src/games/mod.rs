//! Games: the games being played and watching them. Today that is the list of active games for
//! spectators; the engine and the live games arrive here.
//!
//! Domain code: it uses `model`, `error` and the `Store` trait, and never `dropshot`, `http` or
//! the wire types.

pub mod spectating;
