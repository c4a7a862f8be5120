//! Demo and benchmark data: the seeded players, scores and games a plain `cargo run` starts with,
//! and the synthetic scores that benchmarks fill the store with.
//!
//! It writes through the `Store` trait in domain types only, and never uses `dropshot`, `http` or
//! the wire types.

pub mod seed;
pub mod synthetic;
