//! Contract tests of the Snake Arena API: one binary, one module per tag of `openapi.yaml`, each
//! test against its own real server through a client generated from the same document.

mod auth;
mod backends;
mod browser;
mod common;
mod concurrency;
mod contract_statuses;
mod cors;
mod docs;
mod full_disk;
mod games;
mod health;
mod instances;
mod leaderboard;
mod limits;
mod live;
mod malformed;
mod postgres;
mod process;
mod replays;
mod security;
mod slow_clients;
mod spec_check;
mod web_client;
