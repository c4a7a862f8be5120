//! Runs the contract tests that store and read data again, on the SQLite backend, so that a plain
//! `cargo test` checks both backends while compiling the test binary once.
//!
//! This binary runs itself a second time with `SNAKE_ARENA_TEST_BACKEND=sqlite`, filtered to the
//! modules whose answers depend on the store. The others (HTTP framing, CORS, docs, slow clients,
//! the browser, the real binary) never reach the store in a way a backend could change.

use std::process::Stdio;
use std::time::Duration;

use crate::common::{TEST_BACKEND_VARIABLE, TestBackend};

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
    if TestBackend::of_this_run() == TestBackend::Sqlite {
        // This is the nested run itself (or someone chose sqlite for the whole binary).
        return;
    }
    let this_binary = std::env::current_exe().expect("the test binary knows its path");
    let run = tokio::process::Command::new(this_binary)
        .args(STORE_DEPENDENT_MODULES)
        .env(TEST_BACKEND_VARIABLE, "sqlite")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NESTED_RUN_LIMIT, run)
        .await
        .expect("the sqlite run finishes in time")
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the contract tests fail on sqlite:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_default();
    assert!(
        !summary.contains(" 0 passed"),
        "the sqlite run ran no tests: {summary}"
    );
}
