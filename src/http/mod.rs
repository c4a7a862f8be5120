//! The HTTP edge: the one implementation of the generated trait, its channels (WebSockets) and
//! the encoding of live-game frames, the request hook, CORS, body deadlines, bearer
//! authentication, the conversions between domain and wire types, the one map from domain errors
//! to HTTP, the client address behind trusted proxies, the docs page and the web client.
//!
//! This is the only folder that may use `dropshot`, `http` and the generated wire types
//! (`crate::api`); it calls into the domain folders and never the other way round.

pub mod body_deadline;
pub mod caller;
pub mod channels;
pub mod client_address;
pub mod context;
pub mod cors;
pub mod docs;
pub mod entrypoints;
pub mod error;
pub mod frames;
pub mod policy;
pub mod prepared;
pub mod spectators;
pub mod web;
pub mod wire;
