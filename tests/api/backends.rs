//! Runs the contract tests that store and read data again, on the SQLite backend and (when
//! `SNAKE_ARENA_TEST_POSTGRES_URL` names a server) the PostgreSQL one, so that a plain
//! `cargo test` checks every backend while compiling the test binary once.
//!
//! This binary runs itself again with `SNAKE_ARENA_TEST_BACKEND=sqlite` (and `postgres`), filtered to the
//! modules whose answers depend on the store. The others (HTTP framing, CORS, docs, slow clients,
//! the browser, the real binary) never reach the store in a way a backend could change.

use std::process::Stdio;
use std::time::Duration;

use crate::common::{TEST_BACKEND_VARIABLE, TestBackend, test_postgres_url};

/// The modules whose tests go through the store.
const STORE_DEPENDENT_MODULES: [&str; 9] = [
    "auth::",
    "concurrency::",
    "contract_statuses::",
    "games::",
    "health::",
    "leaderboard::",
    "limits::",
    "replays::",
    "security::",
];

/// A generous bound: the run takes seconds, but the machine is shared and may be slow.
const NESTED_RUN_LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_dependent_contract_tests_pass_on_the_sqlite_backend_too() {
    if TestBackend::of_this_run() != TestBackend::Memory {
        // This is a nested run itself (or someone chose another backend for the whole binary).
        return;
    }
    run_store_dependent_modules_on("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_dependent_contract_tests_pass_on_the_postgres_backend_too() {
    if TestBackend::of_this_run() != TestBackend::Memory {
        return;
    }
    if test_postgres_url("the postgres contract run").is_none() {
        return;
    }
    run_store_dependent_modules_on("postgres").await;
}

/// Runs this binary again on `backend`, filtered to the store-dependent modules, and checks that
/// it passed and ran tests.
async fn run_store_dependent_modules_on(backend: &str) {
    let this_binary = std::env::current_exe().expect("the test binary knows its path");
    let run = tokio::process::Command::new(this_binary)
        .args(STORE_DEPENDENT_MODULES)
        .env(TEST_BACKEND_VARIABLE, backend)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NESTED_RUN_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("the {backend} run finishes in time"))
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the contract tests fail on {backend}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_default();
    assert!(
        !summary.contains(" 0 passed"),
        "the {backend} run ran no tests: {summary}"
    );
}
