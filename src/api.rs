//! The server interface generated from `openapi.yaml` by `build.rs`: contract types, the
//! `SnakeArenaApi` trait and the document completion. Nothing here is written by hand; the
//! committed copy in `generated/api.rs` shows what this includes.

include!(concat!(env!("OUT_DIR"), "/api.rs"));
