//! `cargo xtask cluster`: several instances on one PostgreSQL database behave as one server.
//!
//! It starts a throwaway PostgreSQL cluster (`scripts/start-postgres.sh`), three release servers
//! on it, started at the same moment (so migrations and the seed race as they would in a
//! deployment), and nginx in front of them with the repository's own configuration
//! (`deploy/nginx-snake-arena.conf`, its ports replaced). Then it checks, through nginx and through
//! each instance directly, what the persistence issue promises of several instances: the seed ran
//! once; an account made through one instance logs in through the others; a logout through one
//! revokes the token everywhere at once; scores from every instance show on every leaderboard;
//! one username raced across all of them gives exactly one 201; the per-account failed-login
//! limit counts attempts made through every instance; and a game played through instance 1 is
//! watched through nginx and through instances 2 and 3, each watcher getting the player's frames
//! byte for byte, in order, to the final one; and a player who only knows nginx starts a game
//! and plays it to its verified end through nginx.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::bench::build_release_server;
use crate::bench::ceiling::RecordedResponse;
use crate::bench::load::LoadRequest;
use crate::bench::process::{BenchProcess, exchange_within, free_loopback_port};
use crate::bench::{get, post_json, target_directory};
use crate::codegen::repository_root;
use crate::postgres_cluster::PostgresCluster;

pub const USAGE: &str = "usage: cargo xtask cluster

Starts a throwaway PostgreSQL cluster (scripts/start-postgres.sh; needs Debian's postgresql),
three release servers on it and nginx in front of them with deploy/nginx-snake-arena.conf
(needs nginx), all on loopback, then checks through nginx and through each instance: the seed
ran once, accounts, logouts and scores are shared at once, one username raced across the
instances gives exactly one 201, the failed-login limit counts every instance's attempts, and a
game played through instance 1 is watched through nginx and instances 2 and 3 (WebSockets),
and one started and played through nginx reaches its verified end.
Prints a table and exits 1 when a check fails. Everything it started is stopped at the end.";

const INSTANCES: usize = 3;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery";
/// Sign-ups of one username released at once, spread over nginx and the instances.
const RACING_SIGNUPS: usize = 40;
/// The per-account failed-login limit the instances run with; the check spreads this many
/// failures over the instances.
const FAILED_LOGIN_LIMIT: usize = 6;
/// Of those, how many the limit admits at once: half the limit (rounded up) plus one less than
/// the other half's pace allows, i.e. `limit + 1 - max(limit / 2, 1)` (see
/// src/accounts/rate_limit.rs); the rest come at a steady pace over the hour, so the attempts
/// after these are refused. Limits kept per instance would admit this many on each instance.
const FAILED_LOGINS_ADMITTED_AT_ONCE: usize = FAILED_LOGIN_LIMIT + 1 - FAILED_LOGIN_LIMIT / 2;
/// How long a score may take to show on another instance's board: each instance caches a board
/// for at most a second (`src/store/cached.rs`), and drops it sooner when PostgreSQL notifies the
/// change (`src/store/board_changes.rs`); the report says how long it took.
const SHARED_BOARD_WITHIN: Duration = Duration::from_secs(1);

/// nginx as started for this run, stopped when dropped: a SIGTERM to the master process, which
/// stops its workers too (a SIGKILL would leave them running).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = self.0.wait();
    }
}

/// nginx with the repository's configuration, the upstream ports and the listening port replaced
/// by the ones of this run, and everything it writes kept under `directory`.
fn start_nginx(
    directory: &Path,
    listen: SocketAddr,
    instances: &[SocketAddr],
) -> Result<Nginx, String> {
    let template_path = repository_root()
        .join("deploy")
        .join("nginx-snake-arena.conf");
    let template = std::fs::read_to_string(&template_path)
        .map_err(|error| format!("cannot read {}: {error}", template_path.display()))?;
    let site = render_site(&template, listen, instances)?;
    std::fs::create_dir_all(directory.join("logs"))
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let site_path = directory.join("snake-arena.conf");
    std::fs::write(&site_path, site).map_err(|error| error.to_string())?;
    let main = format!(
        "worker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/client_body;\n  \
         proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n  \
         uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n  include {site};\n}}\n",
        dir = directory.display(),
        site = site_path.display(),
    );
    let main_path = directory.join("nginx.conf");
    std::fs::write(&main_path, main).map_err(|error| error.to_string())?;
    let child = Command::new("nginx")
        .arg("-p")
        .arg(directory)
        .arg("-c")
        .arg(&main_path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start nginx (apt-get install nginx-light): {error}"))?;
    let nginx = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(response) = send(listen, &get("/api/health", &[]))
            && response.status == 200
        {
            return Ok(nginx);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "nginx did not pass /api/health through within 10 s; see {}/logs/error.log",
        directory.display()
    ))
}

/// The site configuration with this run's ports: the upstream's `server` lines become the
/// instances, and `listen` the address nginx is to take.
fn render_site(
    template: &str,
    listen: SocketAddr,
    instances: &[SocketAddr],
) -> Result<String, String> {
    let mut rendered = String::new();
    let mut upstreams_written = false;
    let mut listen_written = false;
    for line in template.lines() {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        if code.starts_with("server 127.0.0.1:") {
            if !upstreams_written {
                for instance in instances {
                    let _ = writeln!(rendered, "{indent}server {instance};");
                }
                upstreams_written = true;
            }
        } else if code.starts_with("listen ") {
            let _ = writeln!(rendered, "{indent}listen {listen};");
            listen_written = true;
        } else {
            let _ = writeln!(rendered, "{line}");
        }
    }
    if upstreams_written && listen_written {
        Ok(rendered)
    } else {
        Err("deploy/nginx-snake-arena.conf has no `server 127.0.0.1:PORT;` upstream lines or no `listen` line".to_owned())
    }
}

fn send(address: SocketAddr, request: &LoadRequest) -> Result<RecordedResponse, String> {
    exchange_within(ANSWER_TIMEOUT, address, request)
}

fn status(address: SocketAddr, request: &LoadRequest) -> u16 {
    send(address, request).map_or(0, |response| response.status)
}

fn signup(username: &str) -> LoadRequest {
    post_json(
        "/api/auth/signup",
        &serde_json::json!({
            "email": format!("{username}@cluster.example.com"),
            "username": username,
            "password": PASSWORD,
        }),
        None,
    )
}

fn login(username: &str, password: &str) -> LoadRequest {
    post_json(
        "/api/auth/login",
        &serde_json::json!({"email": format!("{username}@cluster.example.com"), "password": password}),
        None,
    )
}

fn me(token: &str) -> LoadRequest {
    get(
        "/api/auth/me",
        &[("Authorization".to_owned(), format!("Bearer {token}"))],
    )
}

fn token_of(response: &RecordedResponse) -> Result<String, String> {
    serde_json::from_str::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|body| body["token"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("no token in {}", response.body))
}

/// One row of the report.
struct Check {
    name: String,
    result: String,
    passed: bool,
}

impl Check {
    fn new(name: &str, passed: bool, result: String) -> Self {
        Check {
            name: name.to_owned(),
            result,
            passed,
        }
    }
}

/// The place a request goes: nginx or one instance, named for the report.
#[derive(Clone, Copy)]
struct Door {
    name: &'static str,
    address: SocketAddr,
}

pub fn run(arguments: &[String]) -> Result<String, String> {
    if let Some(argument) = arguments.first() {
        return Err(format!("unknown argument `{argument}`\n\n{USAGE}"));
    }
    Command::new("nginx")
        .arg("-v")
        .output()
        .map_err(|_| "nginx is needed (Debian: apt-get install nginx-light)".to_owned())?;
    let binary = build_release_server("cluster")?;
    let directory = target_directory().join("cluster");
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let postgres = PostgresCluster::start(&directory.join("postgres"))?;
    eprintln!("cluster: PostgreSQL at {}", postgres.url);

    let server_arguments: Vec<String> = [
        "--database-url",
        &postgres.url,
        "--log-level",
        "warn",
        "--scrypt-log-n",
        "4",
        "--signups-per-client-per-hour",
        "1000000",
        "--failed-logins-per-client-per-hour",
        "1000000",
        "--failed-logins-per-account-per-hour",
        &FAILED_LOGIN_LIMIT.to_string(),
        "--hashing-queue",
        "256",
        // As deploy/nginx-snake-arena.conf says to start the instances behind it.
        "--trusted-proxy",
        "127.0.0.1",
    ]
    .iter()
    .map(|argument| argument.to_string())
    .collect();
    // All instances start at once, on an empty database: the migrations and the seed race as in a
    // deployment where they start together.
    let start = Arc::new(Barrier::new(INSTANCES));
    let starting: Vec<_> = (0..INSTANCES)
        .map(|_| {
            let start = Arc::clone(&start);
            let binary = binary.clone();
            let arguments = server_arguments.clone();
            std::thread::spawn(move || {
                start.wait();
                BenchProcess::start_server(&binary, &arguments)
            })
        })
        .collect();
    let mut instances = Vec::new();
    for thread in starting {
        instances.push(
            thread
                .join()
                .map_err(|_| "a starting thread panicked".to_owned())??,
        );
    }
    let instance_addresses: Vec<SocketAddr> =
        instances.iter().map(|instance| instance.address).collect();
    let nginx_address = SocketAddr::from(([127, 0, 0, 1], free_loopback_port()?));
    let _nginx = start_nginx(&directory.join("nginx"), nginx_address, &instance_addresses)?;
    eprintln!("cluster: nginx at {nginx_address} in front of {instance_addresses:?}");

    let names = ["instance 1", "instance 2", "instance 3"];
    let mut doors = vec![Door {
        name: "nginx",
        address: nginx_address,
    }];
    doors.extend(
        instance_addresses
            .iter()
            .zip(names)
            .map(|(address, name)| Door {
                name,
                address: *address,
            }),
    );

    let checks = vec![
        seeded_once(&doors),
        accounts_are_shared(&doors)?,
        logouts_revoke_everywhere(&doors)?,
        scores_show_everywhere(&doors)?,
        one_username_one_winner(&doors)?,
        failed_logins_count_across_instances(&doors)?,
        live_game_watched_through_every_door(&doors)?,
        live_game_played_through_nginx(&doors)?,
    ];
    drop(instances);

    let mut report = String::from("| check | result | passed |\n|---|---|---|\n");
    for check in &checks {
        let _ = writeln!(
            report,
            "| {} | {} | {} |",
            check.name,
            check.result,
            if check.passed { "yes" } else { "**no**" }
        );
    }
    if checks.iter().all(|check| check.passed) {
        Ok(report.trim_end().to_owned())
    } else {
        Err(format!("a cluster check failed\n\n{}", report.trim_end()))
    }
}

/// Every door shows the same board, and it holds the seed's scores once, not once per instance.
fn seeded_once(doors: &[Door]) -> Check {
    let boards: Vec<String> = doors
        .iter()
        .map(|door| {
            send(door.address, &get("/api/leaderboard?limit=100", &[]))
                .map_or_else(|error| error, |response| response.body)
        })
        .collect();
    let count = serde_json::from_str::<serde_json::Value>(&boards[0])
        .ok()
        .and_then(|board| board.as_array().map(Vec::len))
        .unwrap_or(0);
    let same = boards.iter().all(|board| *board == boards[0]);
    // The seed puts five scores in each mode (README, "Seeded accounts").
    Check::new(
        "instances started together seed once",
        same && count == 10,
        format!(
            "{count} scores on the board, {} on every door",
            if same { "the same" } else { "not the same" }
        ),
    )
}

fn accounts_are_shared(doors: &[Door]) -> Result<Check, String> {
    let signed_up = send(doors[1].address, &signup("sharedplayer"))?;
    let mut answers = Vec::new();
    for door in doors {
        answers.push(format!(
            "{} {}",
            door.name,
            status(door.address, &login("sharedplayer", PASSWORD))
        ));
    }
    let passed = signed_up.status == 201 && answers.iter().all(|answer| answer.ends_with("200"));
    Ok(Check::new(
        "an account made through instance 1 logs in through every door",
        passed,
        format!(
            "sign-up {}; logins: {}",
            signed_up.status,
            answers.join(", ")
        ),
    ))
}

fn logouts_revoke_everywhere(doors: &[Door]) -> Result<Check, String> {
    let signed_up = send(doors[1].address, &signup("leavingplayer"))?;
    let token = token_of(&signed_up)?;
    let before: Vec<u16> = doors
        .iter()
        .map(|door| status(door.address, &me(&token)))
        .collect();
    let logout = status(
        doors[3].address,
        &post_json("/api/auth/logout", &serde_json::json!({}), Some(&token)),
    );
    let after: Vec<String> = doors
        .iter()
        .map(|door| format!("{} {}", door.name, status(door.address, &me(&token))))
        .collect();
    let passed = before.iter().all(|status| *status == 200)
        && logout == 204
        && after.iter().all(|answer| answer.ends_with("401"));
    Ok(Check::new(
        "a logout through instance 3 revokes the token on every door at once",
        passed,
        format!("logout {logout}; then me: {}", after.join(", ")),
    ))
}

fn scores_show_everywhere(doors: &[Door]) -> Result<Check, String> {
    let mut posted = Vec::new();
    for (index, door) in doors.iter().enumerate() {
        let username = format!("scorer{index}");
        let token = token_of(&send(door.address, &signup(&username))?)?;
        let score = 990_000 + index as u64;
        let answer = status(
            door.address,
            &post_json(
                "/api/leaderboard",
                &serde_json::json!({"score": score, "mode": "walls"}),
                Some(&token),
            ),
        );
        if answer != 201 {
            return Ok(Check::new(
                "scores from every door show on every door",
                false,
                format!("the score through {} was answered {answer}", door.name),
            ));
        }
        posted.push(score);
    }
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut missing = Vec::new();
    for door in doors {
        loop {
            let board = send(
                door.address,
                &get("/api/leaderboard?mode=walls&limit=10", &[]),
            )
            .ok()
            .and_then(|response| serde_json::from_str::<serde_json::Value>(&response.body).ok())
            .unwrap_or_default();
            let scores: Vec<u64> = board
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|entry| entry["score"].as_u64())
                .collect();
            if posted.iter().all(|score| scores.contains(score)) {
                slowest = slowest.max(started.elapsed());
                break;
            }
            if started.elapsed() > SHARED_BOARD_WITHIN {
                missing.push(door.name);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(Check::new(
        "scores from every door show on every door",
        missing.is_empty(),
        if missing.is_empty() {
            format!(
                "all {} on all {} boards within {} ms",
                posted.len(),
                doors.len(),
                slowest.as_millis()
            )
        } else {
            format!("missing after 1 s on: {}", missing.join(", "))
        },
    ))
}

fn one_username_one_winner(doors: &[Door]) -> Result<Check, String> {
    let start = Arc::new(Barrier::new(RACING_SIGNUPS + 1));
    let threads: Vec<_> = (0..RACING_SIGNUPS)
        .map(|index| {
            let start = Arc::clone(&start);
            let address = doors[index % doors.len()].address;
            std::thread::spawn(move || {
                let request = post_json(
                    "/api/auth/signup",
                    &serde_json::json!({
                        "email": format!("racer{index}@cluster.example.com"),
                        "username": "contested",
                        "password": PASSWORD,
                    }),
                    None,
                );
                start.wait();
                status(address, &request)
            })
        })
        .collect();
    start.wait();
    let mut statuses = Vec::new();
    for thread in threads {
        statuses.push(
            thread
                .join()
                .map_err(|_| "a sign-up thread panicked".to_owned())?,
        );
    }
    let created = statuses.iter().filter(|status| **status == 201).count();
    let conflicts = statuses.iter().filter(|status| **status == 409).count();
    Ok(Check::new(
        "one username signed up 40 times at once across the doors",
        created == 1 && conflicts == RACING_SIGNUPS - 1,
        format!("{created} × 201, {conflicts} × 409"),
    ))
}

fn failed_logins_count_across_instances(doors: &[Door]) -> Result<Check, String> {
    let signed_up = send(doors[1].address, &signup("guardedplayer"))?;
    if signed_up.status != 201 {
        return Ok(Check::new(
            "the failed-login limit counts every instance",
            false,
            format!("sign-up answered {}", signed_up.status),
        ));
    }
    let mut failures = Vec::new();
    for attempt in 0..FAILED_LOGIN_LIMIT {
        let door = doors[1 + attempt % INSTANCES];
        failures.push(status(
            door.address,
            &login("guardedplayer", "wrong password!"),
        ));
    }
    let next = status(doors[1].address, &login("guardedplayer", PASSWORD));
    Ok(Check::new(
        "the failed-login limit counts every instance",
        failures.iter().enumerate().all(|(attempt, status)| {
            let expected = if attempt < FAILED_LOGINS_ADMITTED_AT_ONCE {
                401
            } else {
                429
            };
            *status == expected
        }) && next == 429,
        format!(
            "{FAILED_LOGIN_LIMIT} wrong passwords over 3 instances: {failures:?}; the next login: {next}"
        ),
    ))
}

/// How long another instance may take to hear of a new game before its watch channel opens.
const GAME_HEARD_WITHIN: Duration = Duration::from_secs(5);

/// A game played through instance 1 (its play channel there, one turn), watched at the same time
/// through every door (nginx may send its watcher to any instance, instance 1 included): every
/// watcher gets the frames the player gets from the one it joined at, byte for byte, in order,
/// none twice, and ends with the final frame and a normal close.
fn live_game_watched_through_every_door(doors: &[Door]) -> Result<Check, String> {
    const NAME: &str = "a game played through instance 1 is watched through every door";
    let (game_id, ticket) = match start_a_walls_game(doors[1], "liveplayer")? {
        Ok(started) => started,
        Err(problem) => return Ok(Check::new(NAME, false, problem)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("a runtime for the WebSockets: {error}"))?;
    let outcome = runtime.block_on(watch_and_play(doors, &game_id, &ticket));
    Ok(match outcome {
        Ok(result) => Check::new(NAME, true, result),
        Err(problem) => Check::new(NAME, false, problem),
    })
}

/// Signs `username` up through `door` and starts a `walls` game there: the game's id and its
/// play ticket, or (inner `Err`) what the server answered instead.
fn start_a_walls_game(
    door: Door,
    username: &str,
) -> Result<Result<(String, String), String>, String> {
    let token = token_of(&send(door.address, &signup(username))?)?;
    let started = send(
        door.address,
        &post_json(
            "/api/games",
            &serde_json::json!({"mode": "walls"}),
            Some(&token),
        ),
    )?;
    let started: serde_json::Value = serde_json::from_str(&started.body)
        .map_err(|error| format!("POST /api/games: {error}: {}", started.body))?;
    Ok(
        match (started["gameId"].as_str(), started["ticket"].as_str()) {
            (Some(game_id), Some(ticket)) => Ok((game_id.to_owned(), ticket.to_owned())),
            _ => Err(format!("no game started: {started}")),
        },
    )
}

/// A player who only knows nginx's address: the game is started through nginx and its play
/// channel opened through nginx, which must take both to the same instance, and it ends with the
/// verified entry.
fn live_game_played_through_nginx(doors: &[Door]) -> Result<Check, String> {
    const NAME: &str = "a game started and played through nginx reaches its end";
    let nginx = doors[0];
    let (game_id, ticket) = match start_a_walls_game(nginx, "nginxplayer")? {
        Ok(started) => started,
        Err(problem) => return Ok(Check::new(NAME, false, problem)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("a runtime for the WebSocket: {error}"))?;
    let target = format!("/api/games/live/{game_id}/play?ticket={ticket}");
    let played = runtime.block_on(async {
        // Not `open_channel`, which tries again on a 404: another try could reach the right
        // instance by luck and hide the very fault this check is for.
        let url = format!("ws://{}{target}", nginx.address);
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|error| format!("the play channel through nginx: {error}"))?;
        frames_until_closed(socket).await
    });
    let (frames, normal) = match played {
        Ok(played) => played,
        Err(problem) => return Ok(Check::new(NAME, false, problem)),
    };
    let last: Option<serde_json::Value> = frames
        .last()
        .and_then(|text| serde_json::from_str(text).ok());
    let verified_end = last.as_ref().is_some_and(|last| {
        last["frame"]["over"] == true && last["frame"]["entry"]["verified"] == true
    });
    Ok(Check::new(
        NAME,
        verified_end && normal,
        format!(
            "{} frames, closed normally: {normal}, last: {}",
            frames.len(),
            last.map(|last| last["frame"]["endReason"].to_string())
                .unwrap_or_else(|| "none".to_owned())
        ),
    ))
}

type ClusterSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a channel, trying again while the door answers 404 (another instance not having heard
/// of the game yet) until [`GAME_HEARD_WITHIN`].
async fn open_channel(address: SocketAddr, target: &str) -> Result<ClusterSocket, String> {
    let url = format!("ws://{address}{target}");
    let deadline = Instant::now() + GAME_HEARD_WITHIN;
    loop {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((socket, _)) => return Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response))
                if response.status() == 404 && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => return Err(format!("{url}: {error}")),
        }
    }
}

/// Every frame's text until the server closes, and whether it closed normally.
async fn frames_until_closed(mut socket: ClusterSocket) -> Result<(Vec<String>, bool), String> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut frames = Vec::new();
    while let Some(message) = socket.next().await {
        match message.map_err(|error| format!("the channel failed: {error}"))? {
            Message::Text(text) => frames.push(text.to_string()),
            Message::Close(close) => {
                let normal = close.is_some_and(|close| u16::from(close.code) == 1000);
                return Ok((frames, normal));
            }
            _ => {}
        }
    }
    Ok((frames, false))
}

fn sequence_of(text: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(text).ok()?["frame"]["sequence"].as_u64()
}

async fn watch_and_play(doors: &[Door], game_id: &str, ticket: &str) -> Result<String, String> {
    use futures_util::SinkExt;
    let mut play = open_channel(
        doors[1].address,
        &format!("/api/games/live/{game_id}/play?ticket={ticket}"),
    )
    .await?;
    let mut watchers = Vec::new();
    for door in doors {
        let socket =
            open_channel(door.address, &format!("/api/games/live/{game_id}/watch")).await?;
        watchers.push((door.name, tokio::spawn(frames_until_closed(socket))));
    }
    let turn = serde_json::json!({"type": "turn", "direction": "left"}).to_string();
    play.send(tokio_tungstenite::tungstenite::Message::text(turn))
        .await
        .map_err(|error| format!("the turn: {error}"))?;
    let (played, _) = frames_until_closed(play).await?;
    let last: serde_json::Value = played
        .last()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or("the player got no frames")?;
    if last["frame"]["over"] != true
        || !last["frame"]["entry"]["verified"]
            .as_bool()
            .unwrap_or(false)
    {
        return Err(format!(
            "the player's last frame is no verified end: {last}"
        ));
    }
    let mut results = Vec::new();
    for (name, watcher) in watchers {
        let (watched, normal) = watcher
            .await
            .map_err(|error| format!("{name}'s watcher: {error}"))??;
        let first = watched.first().and_then(|text| sequence_of(text));
        let played_from_there: Vec<&String> = played
            .iter()
            .filter(|text| sequence_of(text) >= first)
            .collect();
        let watched_texts: Vec<&String> = watched.iter().collect();
        if !normal || watched_texts != played_from_there {
            return Err(format!(
                "{name}: {} frames from sequence {first:?} (closed normally: {normal}), not the player's {}",
                watched.len(),
                played_from_there.len()
            ));
        }
        results.push(format!("{name} {}", watched.len()));
    }
    Ok(format!(
        "{} frames played, ending {}; the same bytes watched through {}",
        played.len(),
        last["frame"]["endReason"].as_str().unwrap_or("?"),
        results.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_config_gets_this_run_s_ports() {
        let template = "upstream u {\n    least_conn;\n    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n}\nserver {\n    listen 127.0.0.1:8080;\n}\n";
        let instances = [
            SocketAddr::from(([127, 0, 0, 1], 4001)),
            SocketAddr::from(([127, 0, 0, 1], 4002)),
            SocketAddr::from(([127, 0, 0, 1], 4003)),
        ];
        let rendered = render_site(
            template,
            SocketAddr::from(([127, 0, 0, 1], 5000)),
            &instances,
        )
        .unwrap();
        assert_eq!(
            rendered,
            "upstream u {\n    least_conn;\n    server 127.0.0.1:4001;\n    server 127.0.0.1:4002;\n    server 127.0.0.1:4003;\n}\nserver {\n    listen 127.0.0.1:5000;\n}\n"
        );
    }

    #[test]
    fn the_repository_s_nginx_config_renders() {
        let template = std::fs::read_to_string(
            repository_root()
                .join("deploy")
                .join("nginx-snake-arena.conf"),
        )
        .unwrap();
        let rendered = render_site(
            &template,
            SocketAddr::from(([127, 0, 0, 1], 5000)),
            &[SocketAddr::from(([127, 0, 0, 1], 4001))],
        )
        .unwrap();
        assert!(rendered.contains("server 127.0.0.1:4001;"));
        assert!(rendered.contains("proxy_set_header Upgrade $http_upgrade;"));
    }
}
