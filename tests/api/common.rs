//! The test context every contract test starts from: a real server on 127.0.0.1:0 (exactly what
//! `main` runs, with cheap password hashing), a client that progenitor generates from the same
//! `openapi.yaml`, and a raw HTTP client for requests the generated types refuse to build.
//!
//! The store backend comes from `SNAKE_ARENA_TEST_BACKEND`: `memory` (the default), `sqlite` (a
//! fresh database file per test context, deleted when the context is dropped) or `postgres` (a
//! fresh database per test context on the server `SNAKE_ARENA_TEST_POSTGRES_URL` names, dropped
//! with the context). `backends.rs` runs the data-carrying tests again on `sqlite`, and on
//! `postgres` when that URL is set, so a plain `cargo test` covers every backend it can reach.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use snake_arena_server::config::{Config, LogLevel};
use snake_arena_server::http::context::ServerState;

progenitor::generate_api!(
    spec = "openapi.yaml",
    interface = Positional,
    derives = [PartialEq],
);

/// What a call through the generated client returns; `Error` and `ResponseValue` are the
/// progenitor-client types the macro brings into scope.
pub type ClientResult<T> = Result<ResponseValue<T>, Error<types::Error>>;

/// scrypt log2(N) for accounts made by the tests: cheap, so signups take microseconds. The seeded
/// players' hashes keep the production cost (their PHC strings carry it), so each seeded login
/// costs about 0.3 s; tests use them sparingly.
const CHEAP_SCRYPT_LOG_N: u8 = 4;

/// The environment variable that picks the store backend of every test context.
pub const TEST_BACKEND_VARIABLE: &str = "SNAKE_ARENA_TEST_BACKEND";

/// The environment variable naming a PostgreSQL server (any database on it, as a user that may
/// create databases) for the tests that need one.
pub const TEST_POSTGRES_URL_VARIABLE: &str = "SNAKE_ARENA_TEST_POSTGRES_URL";

/// Set to `1` (as CI does) to make a missing `SNAKE_ARENA_TEST_POSTGRES_URL` a failure instead
/// of a skip.
pub const REQUIRE_POSTGRES_VARIABLE: &str = "SNAKE_ARENA_REQUIRE_POSTGRES";

/// The PostgreSQL server the tests may use, or `None` (with the reason printed) when none is
/// named; fails instead when `SNAKE_ARENA_REQUIRE_POSTGRES=1` says one must be.
pub fn test_postgres_url(test: &str) -> Option<String> {
    match std::env::var(TEST_POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var(REQUIRE_POSTGRES_VARIABLE).as_deref() != Ok("1"),
                "{test}: {REQUIRE_POSTGRES_VARIABLE}=1 but {TEST_POSTGRES_URL_VARIABLE} is not set"
            );
            println!(
                "{test}: skipped, {TEST_POSTGRES_URL_VARIABLE} is not set (see README, \"The two commands\")"
            );
            None
        }
    }
}

/// A database of its own on the test PostgreSQL server, dropped (with any connections still
/// open to it) when this is dropped.
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates an empty database on the server `server_url` names.
    pub async fn create(server_url: &str) -> Self {
        use sqlx::Connection;
        let name = format!("snake_test_{}_{}", std::process::id(), unique_suffix());
        let mut admin = sqlx::PgConnection::connect(server_url)
            .await
            .unwrap_or_else(|error| {
                panic!("{TEST_POSTGRES_URL_VARIABLE} does not connect: {error}")
            });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("the test user may create databases");
        let _ = admin.close().await;
        Self {
            url: url_with_database(server_url, &name),
            server_url: server_url.to_owned(),
            name,
        }
    }

    /// The URL of this database, for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        run_cleanup_statements(
            &self.server_url,
            vec![format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )],
        );
    }
}

/// Runs `statements` on the server `server_url` names, in order, ignoring failures, and
/// returns once they have run: for a `Drop`, which runs inside the test's runtime and cannot
/// block on it, so a thread of its own with a runtime of its own runs them and is waited for.
pub fn run_cleanup_statements(server_url: &str, statements: Vec<String>) {
    let server_url = server_url.to_owned();
    let cleaning = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the clean-up");
        runtime.block_on(async move {
            use sqlx::Connection;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&server_url).await {
                for statement in statements {
                    let _ = sqlx::query(&statement).execute(&mut admin).await;
                }
                let _ = admin.close().await;
            }
        });
    });
    let _ = cleaning.join();
}

/// `url` with its database (the path) replaced by `database`; any `?options` are kept.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{database}?{query}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

/// The store backend the test contexts of this run use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Memory,
    Sqlite,
    Postgres,
}

impl TestBackend {
    /// The backend `SNAKE_ARENA_TEST_BACKEND` names; an unknown name fails loudly rather than
    /// quietly testing the wrong backend.
    pub fn of_this_run() -> Self {
        match std::env::var(TEST_BACKEND_VARIABLE).as_deref() {
            Err(_) | Ok("") | Ok("memory") => TestBackend::Memory,
            Ok("sqlite") => TestBackend::Sqlite,
            Ok("postgres") => TestBackend::Postgres,
            Ok(other) => {
                panic!("{TEST_BACKEND_VARIABLE}={other}: expected `memory`, `sqlite` or `postgres`")
            }
        }
    }

    /// What `GET /api/health` names this backend.
    pub fn health_name(self) -> &'static str {
        match self {
            TestBackend::Memory => "in-memory",
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
        }
    }
}

/// A directory of its own for one test's database files, removed when it is dropped.
pub struct TemporaryDirectory(PathBuf);

impl TemporaryDirectory {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "snake-arena-test-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory can be made");
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// `sqlite://` and the path of a database file in this directory.
    pub fn sqlite_url(&self, file_name: &str) -> String {
        format!("sqlite://{}", self.0.join(file_name).display())
    }
}

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server and the clients that talk to it. Each test starts its own.
pub struct TestContext {
    // The server lives as long as the test; the test's runtime stops it at the end. It is
    // declared before the database directory, so it is dropped first.
    server: dropshot::HttpServer<ServerState>,
    base_url: String,
    raw: reqwest::Client,
    backend: TestBackend,
    _database_directory: Option<TemporaryDirectory>,
    _scratch_database: Option<ScratchDatabase>,
}

/// What keeps a stopped server's database (a SQLite file's directory, a PostgreSQL scratch
/// database) until the test is done with it.
pub struct DatabaseGuard {
    _directory: Option<TemporaryDirectory>,
    _scratch_database: Option<ScratchDatabase>,
}

/// A player the test just signed up, with everything needed to act as them.
pub struct SignedUpPlayer {
    pub user: types::User,
    pub email: String,
    pub username: String,
    pub password: String,
    pub token: String,
    pub client: Client,
}

/// A response read by the raw client: its status and its body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub body: Value,
}

impl TestContext {
    /// Starts a seeded server with the default configuration, except for a random port, cheap
    /// hashing for new accounts and error-only logging.
    pub async fn start() -> Self {
        Self::start_with(|_config| {}).await
    }

    /// Starts a server like [`TestContext::start`], after `adjust` has changed the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::defaults();
        config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.scrypt_log_n = CHEAP_SCRYPT_LOG_N;
        config.log_level = LogLevel::Error;
        let backend = TestBackend::of_this_run();
        let (database_directory, scratch_database) = match backend {
            TestBackend::Memory => {
                config.database_url = "memory".to_owned();
                (None, None)
            }
            TestBackend::Sqlite => {
                let directory = TemporaryDirectory::new();
                config.database_url = directory.sqlite_url("test.sqlite3");
                (Some(directory), None)
            }
            TestBackend::Postgres => {
                let server_url = std::env::var(TEST_POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
                    panic!("{TEST_BACKEND_VARIABLE}=postgres needs {TEST_POSTGRES_URL_VARIABLE}")
                });
                let database = ScratchDatabase::create(&server_url).await;
                config.database_url = database.url().to_owned();
                (None, Some(database))
            }
        };
        adjust(&mut config);
        let server = snake_arena_server::server::start(&config)
            .await
            .expect("the server starts");
        let base_url = format!("http://{}", server.local_addr());
        Self {
            server,
            base_url,
            raw: reqwest::Client::new(),
            backend,
            _database_directory: database_directory,
            _scratch_database: scratch_database,
        }
    }

    /// The store backend this context's server runs on.
    pub fn backend(&self) -> TestBackend {
        self.backend
    }

    /// `http://127.0.0.1:<port>`, the base URL the generated client appends `/api/...` to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of a path such as `/api/health`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    /// The running server's state, for tests that must know what the server keeps secret (a
    /// password's hash, say) in order to check that no response reveals it.
    pub fn state(&self) -> &ServerState {
        self.server.app_private()
    }

    /// Shuts the server down as `main` does on SIGTERM, within `grace`. The database outlives it
    /// (until the returned guard is dropped), so the test can still read what was written.
    pub async fn shut_down(self, grace: std::time::Duration) -> Result<DatabaseGuard, String> {
        let guard = DatabaseGuard {
            _directory: self._database_directory,
            _scratch_database: self._scratch_database,
        };
        snake_arena_server::server::shut_down(self.server, grace).await?;
        Ok(guard)
    }

    /// The generated client without credentials.
    pub fn client(&self) -> Client {
        Client::new(self.base_url())
    }

    /// The generated client sending `Authorization: Bearer <token>` with every request.
    pub fn client_with_token(&self, token: &str) -> Client {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a valid header");
        headers.insert(AUTHORIZATION, value);
        let http_client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a reqwest client");
        Client::new_with_client(self.base_url(), http_client)
    }

    /// A plain HTTP client, for requests the generated client cannot express.
    pub fn raw(&self) -> &reqwest::Client {
        &self.raw
    }

    /// Signs up a player with a username and email no other player of this test uses.
    pub async fn sign_up_fresh_player(&self) -> SignedUpPlayer {
        let suffix = unique_suffix();
        self.sign_up_player(
            &format!("player_{suffix}"),
            &format!("player{suffix}@example.com"),
            "correct horse battery",
        )
        .await
    }

    /// Signs up a player with the given details through the generated client.
    pub async fn sign_up_player(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> SignedUpPlayer {
        let response = self
            .client()
            .auth_signup(&signup_request(email, username, password))
            .await
            .unwrap_or_else(|error| panic!("signing up {username} fails: {error:?}"));
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = response.into_inner();
        let token = response.token.to_string();
        SignedUpPlayer {
            user: response.user,
            email: email.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            client: self.client_with_token(&token),
            token,
        }
    }

    /// Logs `player` in again through the generated client and returns the new token.
    pub async fn log_in_again(&self, player: &SignedUpPlayer) -> String {
        self.client()
            .auth_login(&login_request(&player.email, &player.password))
            .await
            .unwrap_or_else(|error| panic!("logging {} in fails: {error:?}", player.username))
            .into_inner()
            .token
            .to_string()
    }

    /// Sends `GET` through the raw client, with a bearer token when one is given.
    pub async fn raw_get(&self, path_and_query: &str, token: Option<&str>) -> RawResponse {
        let mut request = self.raw.get(self.url(path_and_query));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read_raw(request.send().await.expect("the request is sent")).await
    }

    /// Sends `POST` with a JSON body through the raw client, with a bearer token when given.
    pub async fn raw_post_json(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> RawResponse {
        self.raw_post_text(path, &body.to_string(), token).await
    }

    /// Sends a WebSocket handshake (`GET` with the upgrade headers) through the raw client, for
    /// refusals that come before any upgrade; a `101` is read as a status with no body.
    pub async fn raw_websocket_handshake(&self, path_and_query: &str) -> RawResponse {
        let request = self
            .raw
            .get(self.url(path_and_query))
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header(reqwest::header::SEC_WEBSOCKET_VERSION, "13")
            .header(
                reqwest::header::SEC_WEBSOCKET_KEY,
                "dGhlIHNhbXBsZSBub25jZQ==",
            );
        let response = request.send().await.expect("the request is sent");
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return RawResponse {
                status: response.status(),
                body: Value::Null,
            };
        }
        read_raw(response).await
    }

    /// Sends `POST` with a body that claims to be JSON but may not be, through the raw client.
    pub async fn raw_post_text(&self, path: &str, body: &str, token: Option<&str>) -> RawResponse {
        let mut request = self
            .raw
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read_raw(request.send().await.expect("the request is sent")).await
    }
}

/// Reads a raw response's status and JSON body.
pub async fn read_raw(response: reqwest::Response) -> RawResponse {
    let status = response.status();
    let bytes = response.bytes().await.expect("the body is read");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "a {status} body is not JSON ({error}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    RawResponse { status, body }
}

/// A number no other call in this test binary gets, for unique usernames and emails.
pub fn unique_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A signup request built from plain strings that must satisfy the contract.
pub fn signup_request(email: &str, username: &str, password: &str) -> types::SignupRequest {
    types::SignupRequest {
        email: email.try_into().expect("a valid email"),
        username: username.try_into().expect("a valid username"),
        password: password.try_into().expect("a valid password"),
    }
}

/// A login request built from plain strings that must satisfy the contract.
pub fn login_request(email: &str, password: &str) -> types::LoginRequest {
    types::LoginRequest {
        email: email.try_into().expect("a valid email"),
        password: password.try_into().expect("a valid password"),
    }
}

/// A score submission built from plain values that must satisfy the contract.
pub fn score_submission(score: i32, mode: types::GameMode) -> types::ScoreSubmission {
    types::ScoreSubmission {
        score: types::Score::from(score),
        mode,
    }
}

/// Unwraps a documented error answer of the generated client, checking its status and code.
pub fn expect_error<T: std::fmt::Debug>(
    result: ClientResult<T>,
    status: StatusCode,
    code: &str,
) -> types::Error {
    match result {
        Err(Error::ErrorResponse(response)) => {
            assert_eq!(response.status(), status, "{response:?}");
            let error = response.into_inner();
            assert_eq!(error.code.as_str(), code, "{error:?}");
            error
        }
        other => panic!("expected a {status} with code {code}, got {other:?}"),
    }
}

/// Checks that a raw response is an error of the contract's `Error` schema with this status and
/// code, and returns its `detail`.
pub fn assert_error(response: &RawResponse, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status, status, "{response:?}");
    let body = response
        .body
        .as_object()
        .unwrap_or_else(|| panic!("the error body is not an object: {response:?}"));
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "detail"], "{response:?}");
    assert_eq!(body["code"], code, "{response:?}");
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("the detail is not a string: {response:?}"))
        .to_owned()
}

/// Checks that a raw response is a 400 `invalid_input` whose detail names `field` as the culprit:
/// as the path in front of the message (`score: must be at most 1000000`) or quoted
/// (``missing field `password` ``), not merely somewhere in a list of expected fields.
pub fn assert_invalid_input_naming(response: &RawResponse, field: &str) {
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "invalid_input");
    let as_path = format!("{field}: ");
    let quoted = format!("field `{field}`");
    assert!(
        detail.contains(&as_path) || detail.contains(&quoted),
        "the detail {detail:?} does not name the field {field:?}"
    );
}

/// One operation of `openapi.yaml`, as the spec-derived tests need it.
#[derive(Debug)]
pub struct ContractOperation {
    pub method: reqwest::Method,
    pub path: String,
    pub operation_id: String,
    /// The operation's `security` requirements (its own, or else the document's); empty when it
    /// needs no credentials.
    pub security: Vec<Value>,
    /// The name of the request body's schema under `components.schemas`, when it takes one.
    pub request_body_schema: Option<String>,
}

/// `openapi.yaml`, the contract, read as JSON.
pub fn contract() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("openapi.yaml is readable");
    serde_yaml::from_str(&text).expect("openapi.yaml is valid YAML")
}

/// Every operation of the contract, in document order.
pub fn contract_operations() -> Vec<ContractOperation> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let contract = contract();
    let paths = contract["paths"]
        .as_object()
        .expect("the contract has paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let request_body_schema = operation
                .pointer("/requestBody/content/application~1json/schema/$ref")
                .and_then(Value::as_str)
                .map(|reference| {
                    reference
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("{reference} is not a schema reference"))
                        .to_owned()
                });
            operations.push(ContractOperation {
                method: method.to_uppercase().parse().expect("an HTTP method"),
                path: path.clone(),
                operation_id: operation["operationId"]
                    .as_str()
                    .expect("every operation has an operationId")
                    .to_owned(),
                // An operation without its own `security` inherits the document's.
                security: operation
                    .get("security")
                    .or_else(|| contract.get("security"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                request_body_schema,
            });
        }
    }
    operations
}

/// A valid body of a contract schema, so that an answer to it cannot be a 400 instead of what a
/// test looks for (a secured operation's 401, an oversized body's 413).
pub fn valid_body_of(schema: &str) -> Value {
    match schema {
        "GameStartRequest" => json!({"mode": "walls"}),
        "ScoreSubmission" => json!({"score": 10, "mode": "walls"}),
        "SignupRequest" => json!({
            "email": "valid@example.com",
            "username": "valid_name",
            "password": "long enough",
        }),
        "LoginRequest" => json!({"email": "valid@example.com", "password": "long enough"}),
        other => panic!("add a valid example of {other} to valid_body_of"),
    }
}
