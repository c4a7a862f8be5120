//! A database on a disk that fills up (SQLite's file or PostgreSQL's tables) or stops taking
//! writes (SQLite's file): writes are refused with `503 store_unavailable` (never a 500 or a
//! panic) and a detail saying why, reads keep working, a refused write leaves nothing behind, and
//! writes are taken again once the disk is back.
//!
//! The full disk is a tmpfs of a few MiB mounted for the test, which needs root (`mount`);
//! without it the test says "skipped". For PostgreSQL the tmpfs holds a tablespace of the test
//! server's, which must run on this machine as the `postgres` user (as CI's does); its write-ahead
//! log stays on the server's own disk, since PostgreSQL stops altogether when that fills, which
//! the crash rounds cover instead.
//!
//! Linux refuses to remount a file system read-only while a file on it is open for writing, as
//! the server's database is, so the read-only disk is the database's files made immutable
//! (`chattr +i`, root on ext4 and most disk file systems): the kernel then refuses every write to
//! them, through descriptors already open too, as a disk remounted read-only after errors does.
//! Where `chattr` cannot do that the test says "skipped".

use std::io::Write;
use std::process::Command;

use reqwest::StatusCode;

use crate::common::{
    TEST_POSTGRES_URL_VARIABLE, TemporaryDirectory, TestContext, assert_error,
    run_cleanup_statements, test_postgres_url, url_with_database,
};

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

/// A fault of the disk under a database, which a test turns on and then off again.
trait DiskFault {
    fn begin(&self);
    fn end(&self);
    /// What the refused write's detail must say.
    fn detail(&self) -> &'static str;
}

impl DiskFault for SmallDisk {
    fn begin(&self) {
        self.fill();
    }

    fn end(&self) {
        self.free();
    }

    fn detail(&self) -> &'static str {
        "storage is full"
    }
}

/// Files the kernel refuses writes to while they are immutable, as a read-only disk would.
struct ReadOnlyFiles {
    files: Vec<std::path::PathBuf>,
}

impl ReadOnlyFiles {
    /// The files, once a probe in `directory` shows that `chattr` can make a file immutable
    /// there; otherwise says why the test is skipped.
    fn probe(
        test: &str,
        directory: &std::path::Path,
        files: Vec<std::path::PathBuf>,
    ) -> Option<Self> {
        let probe = directory.join("immutable-probe");
        std::fs::write(&probe, b"probe").expect("the probe file");
        let made = chattr("+i", &probe);
        let _ = chattr("-i", &probe);
        let _ = std::fs::remove_file(&probe);
        match made {
            Ok(()) => Some(Self { files }),
            Err(why) => {
                println!(
                    "{test}: skipped, cannot make a file immutable (root on ext4 is needed): {why}"
                );
                None
            }
        }
    }
}

/// Runs `chattr FLAG PATH`; the error says why it failed.
fn chattr(flag: &str, path: &std::path::Path) -> Result<(), String> {
    match Command::new("chattr").arg(flag).arg(path).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(error) => Err(format!("cannot run chattr: {error}")),
    }
}

impl DiskFault for ReadOnlyFiles {
    fn begin(&self) {
        for file in &self.files {
            chattr("+i", file).unwrap_or_else(|why| panic!("{}: {why}", file.display()));
        }
    }

    fn end(&self) {
        for file in &self.files {
            chattr("-i", file).unwrap_or_else(|why| panic!("{}: {why}", file.display()));
        }
    }

    fn detail(&self) -> &'static str {
        "storage refuses writes"
    }
}

impl Drop for ReadOnlyFiles {
    fn drop(&mut self) {
        // So that the directory can be removed whatever the test did.
        for file in &self.files {
            let _ = chattr("-i", file);
        }
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
    refuses_writes_during(test, &disk, database_url, SignUpDuringFault::Refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_read_only_disk_writes_get_503_reads_go_on_nothing_is_half_written_and_writes_come_back()
 {
    let test = "a read-only disk";
    let directory = TemporaryDirectory::new();
    let database = directory.path().join("arena.sqlite3");
    let write_ahead_log = directory.path().join("arena.sqlite3-wal");
    let Some(files) = ReadOnlyFiles::probe(
        test,
        directory.path(),
        vec![database.clone(), write_ahead_log],
    ) else {
        return;
    };
    let database_url = format!("sqlite://{}", database.display());
    refuses_writes_during(test, &files, database_url, SignUpDuringFault::Refused).await;
}

/// A PostgreSQL tablespace on a [`SmallDisk`] and a database whose tables live in it, both
/// dropped (before the disk is unmounted) when this is dropped.
struct TablespaceOnSmallDisk {
    server_url: String,
    name: String,
    disk: SmallDisk,
}

impl TablespaceOnSmallDisk {
    /// Creates the tablespace and its database, or says why the test is skipped.
    async fn create(test: &str, server_url: &str) -> Option<Self> {
        use sqlx::Connection;
        let options: sqlx::postgres::PgConnectOptions =
            server_url.parse().expect("a PostgreSQL URL");
        if !matches!(options.get_host(), "127.0.0.1" | "localhost" | "::1") {
            println!("{test}: skipped, the test PostgreSQL server is not on this machine");
            return None;
        }
        // Room for the new database's copy of its template (about 8 MiB) and a little more.
        let disk = SmallDisk::mount(test, "12m")?;
        let location = disk.directory.path().join("tablespace");
        std::fs::create_dir(&location).expect("the tablespace's directory");
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&location)
            .output();
        if !owned.as_ref().is_ok_and(|output| output.status.success()) {
            println!("{test}: skipped, the tablespace cannot be given to `postgres`: {owned:?}");
            return None;
        }
        let name = format!("snake_test_full_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(server_url)
            .await
            .unwrap_or_else(|error| {
                panic!("{TEST_POSTGRES_URL_VARIABLE} does not connect: {error}")
            });
        for statement in [
            format!("CREATE TABLESPACE {name} LOCATION '{}'", location.display()),
            format!("CREATE DATABASE {name} TABLESPACE {name}"),
        ] {
            sqlx::query(&statement)
                .execute(&mut admin)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
        let _ = admin.close().await;
        Some(Self {
            server_url: server_url.to_owned(),
            name,
            disk,
        })
    }

    fn database_url(&self) -> String {
        url_with_database(&self.server_url, &self.name)
    }
}

impl Drop for TablespaceOnSmallDisk {
    fn drop(&mut self) {
        run_cleanup_statements(
            &self.server_url,
            vec![
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                format!("DROP TABLESPACE IF EXISTS {}", self.name),
            ],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_full_disk_under_the_tables_gets_503_for_writes_and_writes_come_back() {
    let test = "a full disk under PostgreSQL's tables";
    let Some(server_url) = test_postgres_url(test) else {
        return;
    };
    let Some(tablespace) = TablespaceOnSmallDisk::create(test, &server_url).await else {
        return;
    };
    refuses_writes_during(
        test,
        &tablespace.disk,
        tablespace.database_url(),
        SignUpDuringFault::MayFit,
    )
    .await;
}

/// What a sign-up during the fault may get: SQLite's write-ahead log cannot grow (or be written
/// at all), so it is refused; PostgreSQL's log is on another disk, and the new player's row may
/// fit in a page its table already has.
#[derive(PartialEq, Eq)]
enum SignUpDuringFault {
    Refused,
    MayFit,
}

/// Serves `database_url`, whose data is on a disk with `fault`, turns the fault on and checks
/// that writes are refused whole with a 503 while reads go on, and taken again once the fault is
/// over.
async fn refuses_writes_during(
    test: &str,
    fault: &dyn DiskFault,
    database_url: String,
    sign_up: SignUpDuringFault,
) {
    let server = TestContext::start_with(move |config| {
        config.database_url = database_url;
        config.no_seed = true;
        config.score_submissions_per_player_per_minute = 0;
        config.signups_per_client_per_hour = 0;
    })
    .await;
    let player = server.sign_up_fresh_player().await;

    fault.begin();
    // A database reuses space it already holds (SQLite's write-ahead log, PostgreSQL's free
    // space in its pages), so some writes may still be taken; every one is answered 201 until
    // the first 503, and that must come.
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
        assert!(
            detail.contains(fault.detail()),
            "the detail says why: {detail}"
        );
        refused = Some(score);
        break;
    }
    let refused = refused.expect("the disk refuses a write within 2,000");
    let refused_signup = serde_json::json!({
        "email": "refused@example.com",
        "username": "refused_player",
        "password": "correct horse battery",
    });
    let signup = server
        .raw_post_json("/api/auth/signup", &refused_signup, None)
        .await;
    let signup_taken = signup.status == StatusCode::CREATED && sign_up == SignUpDuringFault::MayFit;
    if !signup_taken {
        assert_error(
            &signup,
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        );
    }

    // Reads go on: the board (everything taken, best first) and the player's session.
    let board = walls_board(&server).await;
    let mut expected: Vec<u32> = taken.iter().rev().take(100).copied().collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(board, expected);
    let me = server.raw_get("/api/auth/me", Some(&player.token)).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");

    fault.end();
    let again = server
        .raw_post_text("/api/leaderboard", &score_body(7), Some(&player.token))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    // A refused sign-up left no account (this one would be 409 otherwise), a taken one the
    // whole account, and the refused score is not on the board.
    let signup = server
        .raw_post_json("/api/auth/signup", &refused_signup, None)
        .await;
    let expected = if signup_taken {
        StatusCode::CONFLICT
    } else {
        StatusCode::CREATED
    };
    assert_eq!(signup.status, expected, "{signup:?}");
    let board = walls_board(&server).await;
    assert!(
        !board.contains(&refused),
        "{refused} was refused: {board:?}"
    );
    assert_eq!(board.first(), taken.last().or(Some(&7)));
    drop(server);
}
