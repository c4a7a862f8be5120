//! Several servers on one PostgreSQL database, and an outage of the database: what the issue
//! promises for the `postgres://` backend beyond the contract tests (which `backends.rs` runs on
//! it). Every test here needs `SNAKE_ARENA_TEST_POSTGRES_URL` and says "skipped" without it.
//!
//! The outage test runs a cluster of its own (`scripts/start-postgres.sh`), since stopping the
//! shared one would fail every other test running beside it.

use std::net::{Ipv4Addr, TcpListener};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::common::{
    ScratchDatabase, TemporaryDirectory, TestContext, assert_error, expect_error, login_request,
    score_submission, signup_request, test_postgres_url, types, unique_suffix,
};

/// Starts a server on the database `url` names, after `adjust` has changed the configuration.
async fn server_on(
    url: &str,
    adjust: impl FnOnce(&mut snake_arena_server::config::Config),
) -> TestContext {
    let url = url.to_owned();
    TestContext::start_with(move |config| {
        config.database_url = url;
        adjust(config);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_started_together_on_one_database_seed_it_once_and_share_every_account_and_score()
 {
    let Some(server_url) = test_postgres_url("two servers on one database") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (first, second) = tokio::join!(
        server_on(database.url(), |_| {}),
        server_on(database.url(), |_| {})
    );
    for server in [&first, &second] {
        let board = server
            .client()
            .leaderboard_list(NonZeroU32::new(100), None, None)
            .await
            .expect("the leaderboard")
            .into_inner();
        assert_eq!(board.len(), 10, "seeded once: {board:?}");
    }

    let player = first.sign_up_fresh_player().await;
    let logged_in = second
        .client()
        .auth_login(&login_request(&player.email, &player.password))
        .await
        .expect("an account made through one server logs in through the other")
        .into_inner();
    assert_eq!(logged_in.user, player.user);

    let token = logged_in.token.to_string();
    let entry = second
        .client_with_token(&token)
        .leaderboard_submit(&score_submission(999_999, types::GameMode::Walls))
        .await
        .expect("a score through the second server")
        .into_inner();
    let board = first
        .client()
        .leaderboard_list(NonZeroU32::new(1), Some(types::GameMode::Walls), None)
        .await
        .expect("the first server's leaderboard")
        .into_inner();
    assert_eq!(
        board,
        [entry],
        "a score through one server shows on the other"
    );

    first
        .client_with_token(&token)
        .auth_logout()
        .await
        .expect("a logout through the first server");
    expect_error(
        second.client_with_token(&token).auth_me().await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_sign_ups_with_one_username_raced_across_two_servers_exactly_one_is_created() {
    let Some(server_url) = test_postgres_url("one username raced across two servers") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let first = server_on(database.url(), |config| config.no_seed = true).await;
    let second = server_on(database.url(), |config| config.no_seed = true).await;
    let username = format!("racer_{}", unique_suffix());
    let attempts = (0..16).map(|attempt| {
        let server = if attempt % 2 == 0 { &first } else { &second };
        let request = signup_request(
            &format!("racer{attempt}_{username}@example.com"),
            &if attempt % 4 < 2 {
                username.clone()
            } else {
                username.to_uppercase()
            },
            "correct horse battery",
        );
        async move { server.client().auth_signup(&request).await }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let created = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(created, 1, "{outcomes:?}");
    for outcome in outcomes.into_iter().filter(|outcome| outcome.is_err()) {
        expect_error(outcome, StatusCode::CONFLICT, "username_taken");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_login_limit_per_account_holds_across_servers() {
    let Some(server_url) = test_postgres_url("the failed-login limit across servers") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let limited = |config: &mut snake_arena_server::config::Config| {
        config.no_seed = true;
        config.failed_logins_per_account_per_hour = 2;
    };
    let first = server_on(database.url(), limited).await;
    let second = server_on(database.url(), limited).await;
    let player = first.sign_up_fresh_player().await;
    let wrong = login_request(&player.email, "not the password at all");
    for server in [&first, &second] {
        expect_error(
            server.client().auth_login(&wrong).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    for server in [&first, &second] {
        expect_error(
            server.client().auth_login(&wrong).await,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
        );
    }
}

/// A PostgreSQL cluster of this test's own, on a free loopback port, stopped when dropped.
struct OwnCluster {
    directory: TemporaryDirectory,
    port: u16,
    url: String,
}

const START_POSTGRES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/start-postgres.sh");

impl OwnCluster {
    fn start() -> Self {
        let directory = TemporaryDirectory::new();
        // A port the kernel just handed out and took back: free unless someone takes it in the
        // moment before PostgreSQL binds it.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let output = std::process::Command::new(START_POSTGRES)
            .arg(directory.path().join("cluster"))
            .arg(port.to_string())
            .output()
            .expect("scripts/start-postgres.sh runs");
        assert!(
            output.status.success(),
            "the cluster starts: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Self {
            directory,
            port,
            url,
        }
    }

    fn run(&self, arguments: &[&str]) {
        let status = std::process::Command::new(START_POSTGRES)
            .args(arguments)
            .status()
            .expect("scripts/start-postgres.sh runs");
        assert!(status.success(), "start-postgres.sh {arguments:?}");
    }

    fn cluster_directory(&self) -> String {
        self.directory.path().join("cluster").display().to_string()
    }

    fn stop(&self) {
        self.run(&["--stop", &self.cluster_directory()]);
    }

    fn start_again(&self) {
        self.run(&[
            "--start-again",
            &self.cluster_directory(),
            &self.port.to_string(),
        ]);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(START_POSTGRES)
            .args(["--stop", &self.cluster_directory()])
            .status();
    }
}

/// How long an answer may take while the database is down: the pool's wait for a connection (3 s)
/// and some slack for a busy machine. The point is that it comes, as a 503, not after minutes.
const OUTAGE_ANSWER_LIMIT: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_calls_get_503_store_unavailable_and_the_server_recovers_by_itself()
 {
    if test_postgres_url("a database outage").is_none() {
        return;
    }
    let cluster = OwnCluster::start();
    let server = server_on(&cluster.url, |_| {}).await;
    let player = server.sign_up_fresh_player().await;

    cluster.stop();
    let started = Instant::now();
    let health = server.raw_get("/api/health", None).await;
    assert_error(
        &health,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
    );
    let started_board = Instant::now();
    let board = server
        .raw()
        .get(server.url("/api/leaderboard"))
        .send()
        .await
        .expect("the request is sent");
    assert!(board.headers().contains_key(RETRY_AFTER), "{board:?}");
    let board = crate::common::read_raw(board).await;
    assert_error(&board, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(started_board.elapsed() < OUTAGE_ANSWER_LIMIT);
    let submitted = server
        .raw_post_text(
            "/api/leaderboard",
            r#"{"score": 5, "mode": "walls"}"#,
            Some(&player.token),
        )
        .await;
    assert_error(
        &submitted,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
    );
    let login = server
        .raw_post_json(
            "/api/auth/login",
            &serde_json::json!({"email": player.email, "password": player.password}),
            None,
        )
        .await;
    assert_error(&login, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(started.elapsed() < 4 * OUTAGE_ANSWER_LIMIT);

    cluster.start_again();
    let health = server.client().health_check().await.expect("health again");
    assert_eq!(health.into_inner().store.as_str(), "postgres");
    let me = player
        .client
        .auth_me()
        .await
        .expect("the token still works");
    assert_eq!(me.into_inner(), player.user);
    player
        .client
        .leaderboard_submit(&score_submission(5, types::GameMode::Walls))
        .await
        .expect("writes are taken again");
}

/// A time to live no test waits out: a board on a server started with it is fresh only because
/// something dropped it.
const CACHE_MS_NO_TEST_WAITS_OUT: u32 = 600_000;

/// How long another server's score may take to reach a cached board by notification: a loopback
/// round trip or two, with slack for a loaded machine, and far under the time to live above.
const NOTIFIED_WITHIN: Duration = Duration::from_secs(5);

/// The `walls` board's scores as `server` answers them.
async fn walls_scores(server: &TestContext) -> Vec<i32> {
    server
        .client()
        .leaderboard_list(NonZeroU32::new(100), Some(types::GameMode::Walls), None)
        .await
        .expect("the leaderboard")
        .into_inner()
        .into_iter()
        .map(|entry| entry.score.0)
        .collect()
}

/// Reads `server`'s board until it holds `score`, and says how long that took; fails after
/// [`NOTIFIED_WITHIN`].
async fn until_on_the_board(server: &TestContext, score: i32) -> Duration {
    let started = Instant::now();
    loop {
        let scores = walls_scores(server).await;
        if scores.contains(&score) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < NOTIFIED_WITHIN,
            "{score} is not on the other server's board after {NOTIFIED_WITHIN:?}: {scores:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `sql` on the database `url` names, as an operator would in psql.
async fn run_sql(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("the database");
    sqlx::query(sql)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    let _ = connection.close().await;
}

/// Two servers on one database whose boards are cached for ten minutes, with a player on the
/// first and the second's `walls` board cached (empty).
async fn two_servers_with_long_lived_boards(
    database: &ScratchDatabase,
) -> (TestContext, TestContext, crate::common::SignedUpPlayer) {
    let long_lived = |config: &mut snake_arena_server::config::Config| {
        config.no_seed = true;
        config.leaderboard_cache_ms = CACHE_MS_NO_TEST_WAITS_OUT;
    };
    let first = server_on(database.url(), long_lived).await;
    let second = server_on(database.url(), long_lived).await;
    let player = first.sign_up_fresh_player().await;
    assert!(walls_scores(&second).await.is_empty());
    (first, second, player)
}

async fn submit(player: &crate::common::SignedUpPlayer, score: i32) {
    player
        .client
        .leaderboard_submit(&score_submission(score, types::GameMode::Walls))
        .await
        .expect("the score is taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_score_through_one_server_reaches_the_other_s_cached_board_by_notification_not_by_its_time_to_live()
 {
    let Some(server_url) = test_postgres_url("leaderboard change notifications") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (first, second, player) = two_servers_with_long_lived_boards(&database).await;

    // Without the notification (the trigger that sends it switched off) the second server's
    // cached board stays as it was: only the notification can make it fresh.
    run_sql(
        database.url(),
        "ALTER TABLE scores DISABLE TRIGGER scores_changed",
    )
    .await;
    submit(&player, 111).await;
    assert_eq!(walls_scores(&first).await, [111], "the writer's own board");
    assert!(
        walls_scores(&second).await.is_empty(),
        "the other server still answers its cached board"
    );

    run_sql(
        database.url(),
        "ALTER TABLE scores ENABLE TRIGGER scores_changed",
    )
    .await;
    submit(&player, 222).await;
    let took = until_on_the_board(&second, 222).await;
    assert_eq!(walls_scores(&second).await, [222, 111]);
    println!("another server's score was on the cached board after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_notified_to_nobody_while_the_listener_reconnects_leaves_no_stale_board() {
    let Some(server_url) = test_postgres_url("a lost change notification") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (_first, second, player) = two_servers_with_long_lived_boards(&database).await;

    // A change whose notification is lost: none is sent, as if it had come while the listener
    // was away. Then the listening connections are cut (and gone when this returns): once
    // listening again, the second server must drop its boards, stale or not.
    run_sql(
        database.url(),
        "ALTER TABLE scores DISABLE TRIGGER scores_changed",
    )
    .await;
    submit(&player, 333).await;
    assert!(walls_scores(&second).await.is_empty(), "still cached");
    run_sql(
        database.url(),
        &format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}'",
            snake_arena_server::store::board_changes::LISTENER_APPLICATION_NAME
        ),
    )
    .await;
    let took = until_on_the_board(&second, 333).await;
    println!("the board was fresh {took:?} after the listener's connection was cut");
}

/// The default session lease, and a short one for a test that waits several leases out.
const DEFAULT_LEASE_MS: u32 = 2000;
const SHORT_LEASE_MS: u32 = 200;

/// Two servers on one database, no seed, and a player signed up through the first whose session
/// the second has answered (so it keeps it, under its lease).
async fn two_servers_with_a_session_kept_by_the_second(
    database: &ScratchDatabase,
    lease_ms: u32,
) -> (TestContext, TestContext, crate::common::SignedUpPlayer) {
    let settings = |config: &mut snake_arena_server::config::Config| {
        config.no_seed = true;
        config.session_lease_ms = lease_ms;
    };
    let first = server_on(database.url(), settings).await;
    let second = server_on(database.url(), settings).await;
    let player = first.sign_up_fresh_player().await;
    let me = second
        .client_with_token(&player.token)
        .auth_me()
        .await
        .expect("the session through the second server")
        .into_inner();
    assert_eq!(me, player.user);
    (first, second, player)
}

/// Switches the notice of removed sessions off, logs `player` out through `first`, and checks
/// that `second` still answers the session it kept.
async fn log_out_through_the_first_unheard_by_the_second(
    database: &ScratchDatabase,
    first: &TestContext,
    second: &TestContext,
    player: &crate::common::SignedUpPlayer,
) {
    run_sql(
        database.url(),
        "ALTER TABLE sessions DISABLE TRIGGER session_removed",
    )
    .await;
    first
        .client_with_token(&player.token)
        .auth_logout()
        .await
        .expect("the logout");
    second
        .client_with_token(&player.token)
        .auth_me()
        .await
        .expect("the second server still answers the session it kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answers_sessions_from_memory_so_only_the_removal_notice_revokes_them_there() {
    let Some(server_url) = test_postgres_url("sessions kept under a lease") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (first, second, player) =
        two_servers_with_a_session_kept_by_the_second(&database, DEFAULT_LEASE_MS).await;

    // With the notice of removed sessions switched off, the second server keeps answering the
    // session it holds after the first logged it out: it is answered from memory, not read.
    log_out_through_the_first_unheard_by_the_second(&database, &first, &second, &player).await;

    // With the notice on, a logout through one server is refused by the other by the time the
    // logout is answered, every time.
    run_sql(
        database.url(),
        "ALTER TABLE sessions ENABLE TRIGGER session_removed",
    )
    .await;
    for round in 0..20 {
        let token = first.log_in_again(&player).await;
        second
            .client_with_token(&token)
            .auth_me()
            .await
            .unwrap_or_else(|error| panic!("round {round}: the new session: {error}"));
        let (logging_out, other) = if round % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        logging_out
            .client_with_token(&token)
            .auth_logout()
            .await
            .expect("the logout");
        expect_error(
            other.client_with_token(&token).auth_me().await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_notified_to_nobody_while_the_listener_reconnects_leaves_no_session_kept() {
    let Some(server_url) = test_postgres_url("a lost session removal") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (first, second, player) =
        two_servers_with_a_session_kept_by_the_second(&database, SHORT_LEASE_MS).await;

    // A removal whose notice is lost: none is sent, as if it had come while the listener was
    // away. Then the second server's listening connection is cut: once listening again, it must
    // forget every session it kept.
    log_out_through_the_first_unheard_by_the_second(&database, &first, &second, &player).await;
    run_sql(
        database.url(),
        &format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}'",
            snake_arena_server::store::session_leases::LISTENER_APPLICATION_NAME
        ),
    )
    .await;
    // Cut off, it reads sessions from the database, which refuses this one. Once it listens
    // again and holds its lease (renewed every 50 ms here), it must not answer the kept session.
    let started = Instant::now();
    while listening_connections(database.url()).await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the session listener never listens again"
        );
        expect_error(
            second.client_with_token(&player.token).auth_me().await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let listening_again = Instant::now();
    while listening_again.elapsed() < 5 * Duration::from_millis(u64::from(SHORT_LEASE_MS)) {
        expect_error(
            second.client_with_token(&player.token).auth_me().await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "listening again {:?} after the connection was cut",
        listening_again - started
    );
}

/// The session listeners connected to the database `url` names.
async fn listening_connections(url: &str) -> i64 {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("the database");
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(snake_arena_server::store::session_leases::LISTENER_APPLICATION_NAME)
    .fetch_one(&mut connection)
    .await
    .expect("the listeners");
    let _ = connection.close().await;
    count
}

/// A server on `database` with a player signed up, and the id of another server (played by the
/// test) whose lease lasts `lease` (a PostgreSQL interval) from now.
async fn a_player_and_another_lease_holder(
    database: &ScratchDatabase,
    lease: &str,
) -> (TestContext, crate::common::SignedUpPlayer, uuid::Uuid) {
    let server = server_on(database.url(), |config| config.no_seed = true).await;
    let player = server.sign_up_fresh_player().await;
    let other = uuid::Uuid::new_v4();
    run_sql(
        database.url(),
        &format!(
            "INSERT INTO server_leases (instance, expires_at) \
             VALUES ('{other}', clock_timestamp() + interval '{lease}')"
        ),
    )
    .await;
    (server, player, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_waits_for_a_server_that_holds_a_lease_but_never_answers_until_the_lease_is_out() {
    let Some(server_url) = test_postgres_url("a silent lease holder") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    // A server that took a lease and then went silent (stopped, or cut off): it may still be
    // answering sessions from memory until its lease is out, so the logout must not be answered
    // before then.
    let (_server, player, silent) = a_player_and_another_lease_holder(&database, "1 second").await;
    player
        .client
        .auth_logout()
        .await
        .expect("the logout is answered");
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(database.url())
        .await
        .expect("the database");
    let lease_was_out: bool = sqlx::query_scalar(
        "SELECT expires_at <= clock_timestamp() FROM server_leases WHERE instance = $1",
    )
    .bind(silent)
    .fetch_one(&mut connection)
    .await
    .expect("the silent server's lease");
    assert!(
        lease_was_out,
        "the logout was answered while the silent server's lease held"
    );
    let _ = connection.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_is_answered_once_every_other_lease_holder_has_acknowledged_it() {
    let Some(server_url) = test_postgres_url("acknowledged logouts") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    // Another server, played by this test over the sessions channel: it holds a long lease and
    // acknowledges each request only after a pause, as a busy server would.
    let (_server, player, other) = a_player_and_another_lease_holder(&database, "60 seconds").await;
    let mut listener = sqlx::postgres::PgListener::connect(database.url())
        .await
        .expect("the listener");
    listener
        .listen(snake_arena_server::store::session_leases::SESSIONS_CHANNEL)
        .await
        .expect("listening");
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledging = {
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        let url = database.url().to_owned();
        tokio::spawn(async move {
            loop {
                let notification = listener.recv().await.expect("a notification");
                let Some(request) = notification.payload().strip_prefix("ack-requested:") else {
                    continue;
                };
                tokio::time::sleep(Duration::from_millis(300)).await;
                acknowledged.store(true, std::sync::atomic::Ordering::SeqCst);
                run_sql(
                    &url,
                    &format!(
                        "SELECT pg_notify('{}', 'ack:{request}:{other}')",
                        snake_arena_server::store::session_leases::SESSIONS_CHANNEL
                    ),
                )
                .await;
            }
        })
    };

    let started = Instant::now();
    player
        .client
        .auth_logout()
        .await
        .expect("the logout is answered");
    let took = started.elapsed();
    assert!(
        acknowledged.load(std::sync::atomic::Ordering::SeqCst),
        "the logout was answered before the other server acknowledged it"
    );
    assert!(
        took < Duration::from_secs(30),
        "the logout waited for the lease ({took:?}), not for the acknowledgement"
    );
    acknowledging.abort();
    println!("the logout was answered {took:?} after it was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_shut_down_gracefully_gives_its_session_lease_up_so_no_logout_waits_for_it() {
    let Some(server_url) = test_postgres_url("a lease given up at shutdown") else {
        return;
    };
    let database = ScratchDatabase::create(&server_url).await;
    let (first, second, player) =
        two_servers_with_a_session_kept_by_the_second(&database, DEFAULT_LEASE_MS).await;
    let leases_held = || async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(database.url())
            .await
            .expect("the database");
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM server_leases WHERE expires_at > clock_timestamp()",
        )
        .fetch_one(&mut connection)
        .await
        .expect("the leases");
        let _ = connection.close().await;
        held
    };
    assert_eq!(leases_held().await, 2, "both servers hold a lease");

    let _database_kept = second
        .shut_down(Duration::from_secs(5))
        .await
        .expect("a clean shutdown");
    assert_eq!(
        leases_held().await,
        1,
        "only the running server's lease is left"
    );
    first
        .client_with_token(&player.token)
        .auth_logout()
        .await
        .expect("the logout is answered");
}
