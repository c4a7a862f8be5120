//! The server as an operator runs it: the real binary, its JSON log (one line per request, never a
//! secret), its start-up line, graceful shutdown on SIGTERM with a request in flight, and a
//! `--help` that agrees with README's configuration table; data that survives a restart on the
//! same SQLite file, and the one-line errors of a database that cannot be opened.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use snake_arena_server::demo::seed::SEEDED_PLAYERS;

use crate::common::TemporaryDirectory;

const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_snake-arena-server");
const LINE_WAIT_LIMIT: Duration = Duration::from_secs(30);

/// The binary, started on a free loopback port with JSON logs, and its log read line by line.
struct ServerProcess {
    child: Child,
    log: Lines<BufReader<ChildStderr>>,
    /// Every log line read so far, parsed.
    seen: Vec<Value>,
    base_url: String,
}

impl ServerProcess {
    /// Starts the binary with an in-memory store, unless `extra_arguments` names a database.
    async fn start(extra_arguments: &[&str]) -> Self {
        let database: &[&str] = if extra_arguments.contains(&"--database-url") {
            &[]
        } else {
            &["--database-url", "memory"]
        };
        let mut child = Command::new(SERVER_BINARY)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--scrypt-log-n",
                "4",
            ])
            .args(database)
            .args(extra_arguments)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let log = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut server = Self {
            child,
            log,
            seen: Vec::new(),
            base_url: String::new(),
        };
        let started = server
            .wait_for_line(|line| line["msg"] == "Snake Arena API listening")
            .await;
        let address = started["address"].as_str().expect("the address is logged");
        server.base_url = address.trim_end_matches("/api").to_owned();
        server
    }

    /// Reads the log until a line satisfies `wanted`, and returns that line.
    async fn wait_for_line(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let reading = async {
            loop {
                let line = self
                    .log
                    .next_line()
                    .await
                    .expect("the log is readable")
                    .expect("the server exited before logging the awaited line");
                let parsed: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("a log line is not JSON ({error}): {line}"));
                self.seen.push(parsed.clone());
                if wanted(&parsed) {
                    return parsed;
                }
            }
        };
        tokio::time::timeout(LINE_WAIT_LIMIT, reading)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no such log line within {LINE_WAIT_LIMIT:?}: {:#?}",
                    self.seen
                )
            })
    }

    /// Reads the rest of the log, until the process closes it.
    async fn read_to_end(&mut self) {
        while let Some(line) = self.log.next_line().await.expect("the log is readable") {
            let parsed: Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("a log line is not JSON ({error}): {line}"));
            self.seen.push(parsed);
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the server is running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and waits for a successful exit.
    async fn stop(mut self) {
        self.signal("TERM");
        let exit = tokio::time::timeout(LINE_WAIT_LIMIT, self.child.wait())
            .await
            .expect("the server exits within the grace period")
            .unwrap();
        assert!(exit.success(), "exit status {exit}");
    }
}

fn is_request_line(line: &Value) -> bool {
    line["msg"] == "request completed"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_has_one_line_per_request_and_never_a_password_hash_or_token() {
    let mut server = ServerProcess::start(&[]).await;
    let started = server.seen.last().unwrap().clone();
    assert_eq!(started["store"], "in-memory");
    assert_eq!(started["docs"], server.url("/api/docs"));

    let http = reqwest::Client::new();
    let password = "a secret worth keeping";
    let signup: Value = http
        .post(server.url("/api/auth/signup"))
        .json(&serde_json::json!({
            "username": "logged_player", "email": "logged@example.com", "password": password,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["token"]
        .as_str()
        .expect("signup returns a token")
        .to_owned();
    let me = http
        .get(server.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let refused = http
        .post(server.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "logged@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let missing = http.get(server.url("/api/missing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let request_id = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let last = server
        .wait_for_line(|line| is_request_line(line) && line["req_id"] == request_id.as_str())
        .await;
    assert_eq!(last["method"], "GET");
    assert_eq!(last["uri"], "/api/missing");
    assert_eq!(last["response_code"], 404);
    assert!(last["latency_us"].is_u64(), "{last}");
    assert!(
        last["level"].is_string() && last["ts"].is_string(),
        "{last}"
    );

    let request_lines: Vec<&Value> = server
        .seen
        .iter()
        .filter(|line| is_request_line(line))
        .collect();
    let statuses: Vec<&Value> = request_lines
        .iter()
        .map(|line| &line["response_code"])
        .collect();
    assert_eq!(
        statuses,
        [201, 200, 401, 404],
        "one line per request, in order"
    );

    let whole_log: String = server.seen.iter().map(Value::to_string).collect();
    for secret in [password, token.as_str(), "$scrypt$", "wrong password"] {
        assert!(!whole_log.contains(secret), "the log contains {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_the_process_exits_zero() {
    // The seeded player's hash is at production cost, so the login takes a good fraction of a
    // second. The test signals once the server has logged accepting the login's connection; the
    // request is then read within microseconds, while the signal takes milliseconds to arrive,
    // and the log order below proves the login was answered during the shutdown.
    let mut server = ServerProcess::start(&[]).await;
    let seeded = &SEEDED_PLAYERS[0];
    let login = tokio::spawn(
        reqwest::Client::new()
            .post(server.url("/api/auth/login"))
            .json(&serde_json::json!({"email": seeded.email, "password": seeded.password}))
            .send(),
    );
    server
        .wait_for_line(|line| line["msg"] == "accepted connection")
        .await;
    server.signal("TERM");

    let response = login
        .await
        .unwrap()
        .expect("the login in flight is answered");
    assert_eq!(response.status(), 200);
    let exit = tokio::time::timeout(LINE_WAIT_LIMIT, server.child.wait())
        .await
        .expect("the server exits within the grace period")
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
    server.read_to_end().await;

    let position = |wanted: &dyn Fn(&Value) -> bool| {
        server
            .seen
            .iter()
            .position(wanted)
            .unwrap_or_else(|| panic!("missing log line: {:#?}", server.seen))
    };
    let shutting_down = position(&|line| {
        line["msg"]
            .as_str()
            .is_some_and(|message| message.starts_with("shutting down"))
    });
    let login_done = position(&|line| is_request_line(line) && line["uri"] == "/api/auth/login");
    let clean = position(&|line| line["msg"] == "shut down cleanly");
    assert_eq!(server.seen[shutting_down]["signal"], "SIGTERM");
    assert!(
        shutting_down < login_done && login_done < clean,
        "the login finished during the shutdown, not before it"
    );
}

/// The configuration table in README.md: each row's flag, environment variable and default.
fn readme_configuration() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let table = readme
        .split("<!-- configuration table -->")
        .nth(1)
        .expect("README.md marks its configuration table with <!-- configuration table -->");
    table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            // A cell's value is its first `code span` (a default may be followed by a remark,
            // as in `10080` (7 days)), or the whole cell when it has none.
            let cells: Vec<String> = row
                .split('|')
                .map(|cell| {
                    let cell = cell.trim();
                    match cell.strip_prefix('`').and_then(|rest| rest.split_once('`')) {
                        Some((value, _)) => value.to_owned(),
                        None => cell.to_owned(),
                    }
                })
                .collect();
            (cells[1].clone(), cells[2].clone(), cells[3].clone())
        })
        .collect()
}

/// `--help` as (flag, the rest of its entry on one line), for every option but help and version.
fn help_entries() -> Vec<(String, String)> {
    let output = std::process::Command::new(SERVER_BINARY)
        .arg("--help")
        .env_clear()
        .output()
        .expect("--help runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        // Options are indented by 2 (`-h, --help`) or 6 (`--bind <BIND>`); deeper lines that
        // start with `-` list an option's possible values.
        let is_option_line = (2..=6).contains(&indent) && trimmed.starts_with('-');
        if is_option_line {
            let flag = trimmed
                .split_whitespace()
                .find(|word| word.starts_with("--"))
                .expect("an option line names its long flag")
                .trim_end_matches(',')
                .to_owned();
            entries.push((flag, String::new()));
        } else if let Some((_, text)) = entries.last_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    entries.retain(|(flag, _)| flag != "--help" && flag != "--version");
    entries
}

#[test]
fn the_help_text_and_the_readme_configuration_table_agree() {
    let help = help_entries();
    let table = readme_configuration();
    let mut help_flags: Vec<&str> = help.iter().map(|(flag, _)| flag.as_str()).collect();
    let mut table_flags: Vec<&str> = table.iter().map(|(flag, _, _)| flag.as_str()).collect();
    help_flags.sort_unstable();
    table_flags.sort_unstable();
    assert_eq!(
        table_flags, help_flags,
        "README's table and --help list other flags"
    );

    for (flag, variable, default) in &table {
        let (_, entry) = help.iter().find(|(name, _)| name == flag).unwrap();
        assert!(
            entry.contains(&format!("[env: {variable}=]")),
            "{flag}: --help does not name {variable}: {entry}"
        );
        if default != "off" {
            assert!(
                entry.contains(&format!("[default: {default}]")),
                "{flag}: --help does not default to {default}: {entry}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_scores_and_logouts_survive_a_restart_on_the_same_sqlite_file() {
    let directory = TemporaryDirectory::new();
    let database_url = directory.sqlite_url("arena.sqlite3");
    let http = reqwest::Client::new();
    let credentials = serde_json::json!({
        "email": "durable@example.com", "password": "a secret worth keeping",
    });

    let server = ServerProcess::start(&["--database-url", &database_url]).await;
    assert_eq!(server.seen.last().unwrap()["store"], "sqlite");
    let signup: Value = http
        .post(server.url("/api/auth/signup"))
        .json(&serde_json::json!({
            "username": "durable_player", "email": "durable@example.com",
            "password": "a secret worth keeping",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revoked_token = signup["token"].as_str().expect("a token").to_owned();
    let submitted = http
        .post(server.url("/api/leaderboard"))
        .bearer_auth(&revoked_token)
        .json(&serde_json::json!({"score": 777_777, "mode": "walls"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    let submitted: Value = submitted.json().await.unwrap();
    let logout = http
        .post(server.url("/api/auth/logout"))
        .bearer_auth(&revoked_token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    server.stop().await;

    let server = ServerProcess::start(&["--database-url", &database_url]).await;
    let login = http
        .post(server.url("/api/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the account survived the restart");
    let board: Value = http
        .get(server.url("/api/leaderboard?mode=walls&limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(board[0], submitted, "the score survived the restart");
    let me_with_revoked = http
        .get(server.url("/api/auth/me"))
        .bearer_auth(&revoked_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me_with_revoked.status(),
        401,
        "the logout survived the restart"
    );
    let all_modes: Value = http
        .get(server.url("/api/leaderboard?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all_modes.as_array().map(Vec::len),
        Some(2 * snake_arena_server::demo::seed::SEEDED_SCORES_PER_MODE + 1),
        "the seed ran once, not again on the restart"
    );
    server.stop().await;
}

/// Runs the binary with `arguments` and returns its exit status and what it wrote to stderr.
async fn failed_start(arguments: &[&str]) -> String {
    let run = Command::new(SERVER_BINARY)
        .args(["--bind", "127.0.0.1:0", "--log-level", "error"])
        .args(arguments)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(LINE_WAIT_LIMIT, run)
        .await
        .expect("the server gives up within the time limit")
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_malformed_or_unsupported_database_url_stops_the_start_with_one_line_saying_so() {
    let malformed = failed_start(&["--database-url", "snake.sqlite3"]).await;
    assert!(
        malformed.contains("`snake.sqlite3` is not a database URL")
            && malformed.contains("sqlite://PATH"),
        "{malformed}"
    );
    let malformed_postgres = failed_start(&["--database-url", "postgres://a:b@[zz/snake"]).await;
    assert!(
        malformed_postgres.contains("`postgres://…`"),
        "{malformed_postgres}"
    );
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let unreachable = failed_start(&["--database-url", "postgres://snake@127.0.0.1:1/snake"]).await;
    assert!(
        unreachable
            .contains("postgres://snake@127.0.0.1:1/snake: cannot reach the PostgreSQL server"),
        "{unreachable}"
    );
}

#[tokio::test]
async fn an_unknown_postgres_user_or_database_stops_the_start_with_one_line_saying_so() {
    let Some(server_url) = crate::common::test_postgres_url("an unknown user or database") else {
        return;
    };
    let unknown_database = crate::common::url_with_database(&server_url, "no_such_database");
    let stderr = failed_start(&["--database-url", &unknown_database]).await;
    assert!(stderr.contains("the database does not exist"), "{stderr}");
    let (scheme, rest) = server_url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let unknown_user = format!("{scheme}://no_such_user_here@{host}");
    let stderr = failed_start(&["--database-url", &unknown_user]).await;
    assert!(
        stderr.contains("the PostgreSQL server refused the login"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_stops_the_start_with_one_line_naming_it() {
    let directory = TemporaryDirectory::new();
    let path = directory.path().join("notes.txt");
    std::fs::write(&path, "these are notes, not a database\n".repeat(100)).unwrap();
    let url = format!("sqlite://{}", path.display());
    let stderr = failed_start(&["--database-url", &url]).await;
    assert!(
        stderr.contains(&format!(
            "{}: the file is not a SQLite database",
            path.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_database_path_that_cannot_be_created_stops_the_start_with_one_line_naming_it() {
    let directory = TemporaryDirectory::new();
    // A regular file where a directory should be: no one, root included, can create a file
    // below it, unlike a read-only directory, which root may still write into.
    let not_a_directory = directory.path().join("plain-file");
    std::fs::write(&not_a_directory, "").unwrap();
    let path = not_a_directory.join("arena.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let stderr = failed_start(&["--database-url", &url]).await;
    assert!(
        stderr.contains(&format!(
            "{}: cannot open or create the database",
            path.display()
        )),
        "{stderr}"
    );
}
