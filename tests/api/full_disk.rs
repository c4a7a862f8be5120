//! A SQLite database on a disk that fills up: writes are refused with `503 store_unavailable`
//! (never a 500 or a panic), reads keep working, a refused write leaves nothing behind, and writes
//! are taken again once there is space.
//!
//! The disk is a tmpfs of a few MiB mounted for the test, which needs root (`mount`); without it
//! the test says "skipped". A read-only disk is not tested: Linux refuses to remount a file
//! system read-only while a file on it is open for writing, as the server's database is.

use std::io::Write;
use std::process::Command;

use reqwest::StatusCode;

use crate::common::{TemporaryDirectory, TestContext, assert_error};

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct SmallDisk {
    directory: TemporaryDirectory,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it), or says why the test is skipped.
    fn mount(test: &str, size: &str) -> Option<Self> {
        let directory = TemporaryDirectory::new();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(directory.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { directory }),
            Ok(output) => {
                println!(
                    "{test}: skipped, cannot mount a tmpfs (root is needed): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(error) => {
                println!("{test}: skipped, cannot run mount: {error}");
                None
            }
        }
    }

    fn filler(&self) -> std::path::PathBuf {
        self.directory.path().join("filler")
    }

    /// Writes a file until the disk has no space left.
    fn fill(&self) {
        let mut filler = std::fs::File::create(self.filler()).expect("the filler file");
        let chunk = vec![0u8; 4096];
        while filler.write_all(&chunk).is_ok() {}
        let _ = filler.sync_all();
    }

    /// Gives the filler's space back.
    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("the filler is removed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server still holding the database open must not leave the mount behind.
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(self.directory.path())
            .status();
    }
}

fn score_body(score: u32) -> String {
    format!(r#"{{"score": {score}, "mode": "walls"}}"#)
}

/// The `walls` board's best 100 scores.
async fn walls_board(server: &TestContext) -> Vec<u32> {
    let board = server
        .raw_get("/api/leaderboard?mode=walls&limit=100", None)
        .await;
    assert_eq!(board.status, StatusCode::OK, "{board:?}");
    board
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|entry| entry["score"].as_u64().expect("a score") as u32)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_writes_get_503_reads_go_on_nothing_is_half_written_and_writes_come_back() {
    let test = "a full disk";
    let Some(disk) = SmallDisk::mount(test, "4m") else {
        return;
    };
    let database_url = format!(
        "sqlite://{}",
        disk.directory.path().join("arena.sqlite3").display()
    );
    let server = TestContext::start_with(move |config| {
        config.database_url = database_url;
        config.no_seed = true;
        config.score_submissions_per_player_per_minute = 0;
        config.signups_per_client_per_hour = 0;
    })
    .await;
    let player = server.sign_up_fresh_player().await;

    disk.fill();
    // SQLite reuses the space its write-ahead log already holds, so some writes may still be
    // taken; every one is answered 201 until the first 503, and that must come.
    let mut taken = Vec::new();
    let mut refused = None;
    for score in 1_000..3_000 {
        let answer = server
            .raw_post_text("/api/leaderboard", &score_body(score), Some(&player.token))
            .await;
        if answer.status == StatusCode::CREATED {
            taken.push(score);
            continue;
        }
        let detail = assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        );
        println!("{test}: {} scores taken, then 503: {detail}", taken.len());
        refused = Some(score);
        break;
    }
    let refused = refused.expect("the full disk refuses a write within 2,000");
    let refused_signup = serde_json::json!({
        "email": "refused@example.com",
        "username": "refused_player",
        "password": "correct horse battery",
    });
    let signup = server
        .raw_post_json("/api/auth/signup", &refused_signup, None)
        .await;
    assert_error(
        &signup,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
    );

    // Reads go on: the board (everything taken, best first) and the player's session.
    let board = walls_board(&server).await;
    let mut expected: Vec<u32> = taken.iter().rev().take(100).copied().collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(board, expected);
    let me = server.raw_get("/api/auth/me", Some(&player.token)).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");

    disk.free();
    let again = server
        .raw_post_text("/api/leaderboard", &score_body(7), Some(&player.token))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    // The refused sign-up left no account (this one would be 409 otherwise), and the refused
    // score is not on the board.
    let signup = server
        .raw_post_json("/api/auth/signup", &refused_signup, None)
        .await;
    assert_eq!(signup.status, StatusCode::CREATED, "{signup:?}");
    let board = walls_board(&server).await;
    assert!(
        !board.contains(&refused),
        "{refused} was refused: {board:?}"
    );
    assert_eq!(board.first(), taken.last().or(Some(&7)));
    drop(server);
}
