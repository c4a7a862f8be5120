//! `cargo xtask bench`: how close our server comes to the fastest this machine allows.
//!
//! It builds the release server and starts it with production settings (seeded, info logging),
//! and, in the same run, the ceiling: a bare hyper server that answers each benchmarked request
//! with the exact status, headers and body our server gave for it (`bench/ceiling.rs`), and the
//! Dropshot floor: a Dropshot server that logs as ours does and replays the same answers from one
//! endpoint (`examples/dropshot_floor.rs`), which shows what the framework costs before any of
//! our code runs. wrk then drives each scenario against all three at each concurrency, rotating
//! which goes first, for several rounds; the table gives medians over the rounds, the ratio
//! ours/ceiling (the target) and the floor's own ratio to the ceiling (the framework's share).
//!
//! Then it measures what the issue's other targets name: leaderboard reads and resident memory
//! with 10^3, 10^5 and 10^6 stored scores (loaded through the store at start-up by the server's
//! hidden `--synthetic-scores` option), the time from spawning the server to its first healthy
//! answer, and resident memory when idle. The table goes to stdout (Markdown, ready for the
//! README), progress to stderr, and everything to `target/bench/results.json`.
//!
//! Both servers, wrk and whatever else runs on the machine share its cores: the ratio, measured
//! in alternating rounds of one run, is the figure to compare, not the absolute requests/s.

pub mod backends;
pub mod ceiling;
pub mod durable_growth;
pub mod live;
pub mod load;
pub mod process;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::codegen::repository_root;
use ceiling::RecordedResponse;
use live::{LiveOptions, LiveReport};
use load::{LoadRequest, LoadResult};
use process::{BenchProcess, exchange};

pub const USAGE: &str =
    "usage: cargo xtask bench [--quick] [--live-only | --persistence-only] [--rounds N]
                         [--duration SECONDS]
                         [--connections LIST] [--log-level LEVEL]

Builds the release server, starts it (seeded, production settings) beside a bare hyper server
returning the same bytes (the ceiling), and drives both with wrk in alternating rounds. Prints
Markdown tables and writes target/bench/results.json. Needs wrk (`apt-get install -y wrk`).
Then it runs the live scenarios (bench/live.rs): spectators on the watch channel of many bot
games and of one, timing each frame from its tick to each spectator, and, when
SNAKE_ARENA_BENCH_POSTGRES_URL names a PostgreSQL server, 100 bot games on one instance watched
through another on the same database.
The default run takes about nine minutes.

  --quick             one round of one second per measurement, and small, short live
                      scenarios: checks that everything runs; the figures are too noisy to quote
  --live-only         only the live scenarios (no wrk needed; about a minute)
  --persistence-only  only the store backends side by side and the durable growth (10^3
                      against 10^6 stored scores on SQLite, and on PostgreSQL when
                      SNAKE_ARENA_BENCH_POSTGRES_URL names a server)
  --rounds N          alternating rounds per scenario and concurrency (default 3)
  --duration SECONDS  length of each wrk run (default 3)
  --connections LIST  comma-separated concurrencies for the scenarios (default 32,128)
  --log-level LEVEL   our server's --log-level (default: the server's default, info; the log
                      goes to a pipe that the benchmark reads and drops)";

/// Scores stored (besides the seed) while the scenarios run, so a top-100 read returns 100 rows.
const SCENARIO_SYNTHETIC_SCORES: u64 = 1_000;

/// Stored scores for the growth measurements; the first is the reference for latency.
const GROWTH_SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];

/// Concurrencies for the growth reads: one connection gives the latency of a read alone, 32 the
/// latency under load.
const GROWTH_CONNECTIONS: [u32; 2] = [1, 32];

/// The seeded account whose token the secured scenarios use (README, "Seeded accounts").
const SEEDED_EMAIL: &str = "snakecharmer@example.com";
const SEEDED_PASSWORD: &str = "charmer-pass-123";

/// The score every submission in the submission scenario posts.
const SUBMITTED_BODY: &str = r#"{"score":4242,"mode":"walls"}"#;

/// The flag of the per-player score submission limit.
const SUBMISSION_LIMIT_FLAG: &str = "--score-submissions-per-player-per-minute";
/// A limit no benchmark reaches (about 16 million a second), so the limiter still runs on every
/// submission but admits all of them: one token posts thousands of scores a second here.
const SUBMISSION_LIMIT_FOR_BENCH: &str = "1000000000";

/// The issue's targets.
const READ_MIN_RATIO: f64 = 0.8;
const READ_MAX_P99_RATIO: f64 = 2.0;
const SUBMISSION_MIN_RATIO: f64 = 0.6;
const GROWTH_MAX_LATENCY_RATIO: f64 = 1.5;
const MAX_BYTES_PER_SCORE: f64 = 150.0;
const MAX_STARTUP: Duration = Duration::from_millis(100);
const MAX_IDLE_RSS_BYTES: u64 = 20 * 1024 * 1024;

struct Options {
    rounds: usize,
    duration: Duration,
    connections: Vec<u32>,
    log_level: Option<String>,
    startup_runs: usize,
    warm_up: Duration,
    live_only: bool,
    persistence_only: bool,
    /// The durable growth's reference size and its large one.
    durable_growth_sizes: [u64; 2],
    live: LiveOptions,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        rounds: 3,
        duration: Duration::from_secs(3),
        connections: vec![32, 128],
        log_level: None,
        startup_runs: 7,
        warm_up: Duration::from_secs(2),
        live_only: false,
        persistence_only: false,
        durable_growth_sizes: durable_growth::ISSUE_SIZES,
        live: LiveOptions::full(),
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| {
            arguments
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match argument.as_str() {
            "--quick" => {
                options.rounds = 1;
                options.duration = Duration::from_secs(1);
                options.startup_runs = 3;
                options.warm_up = Duration::from_secs(1);
                options.live = LiveOptions::quick();
                options.durable_growth_sizes = durable_growth::QUICK_SIZES;
            }
            "--live-only" => options.live_only = true,
            "--persistence-only" => options.persistence_only = true,
            "--rounds" => {
                options.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|rounds| *rounds > 0)
                    .ok_or("--rounds needs a positive whole number")?;
            }
            "--duration" => {
                // wrk takes whole seconds.
                let seconds: u64 = value("--duration")?
                    .parse()
                    .ok()
                    .filter(|seconds| *seconds > 0)
                    .ok_or("--duration needs a whole number of seconds, at least 1")?;
                options.duration = Duration::from_secs(seconds);
            }
            "--connections" => {
                options.connections = value("--connections")?
                    .split(',')
                    .map(|count| count.trim().parse::<u32>().ok().filter(|count| *count > 0))
                    .collect::<Option<_>>()
                    .ok_or("--connections needs positive whole numbers separated by commas")?;
            }
            "--log-level" => options.log_level = Some(value("--log-level")?),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// What a scenario's target is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Read,
    Submission,
}

struct Scenario {
    name: String,
    kind: Kind,
    request: LoadRequest,
}

/// A `GET` of `target` with `headers`.
pub fn get(target: &str, headers: &[(String, String)]) -> LoadRequest {
    LoadRequest {
        method: "GET".to_owned(),
        target: target.to_owned(),
        headers: headers.to_vec(),
        body: None,
    }
}

/// A `POST` of `body` as JSON to `target`, with the bearer `token` when there is one.
pub fn post_json(target: &str, body: &serde_json::Value, token: Option<&str>) -> LoadRequest {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    if let Some(token) = token {
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    LoadRequest {
        method: "POST".to_owned(),
        target: target.to_owned(),
        headers,
        body: Some(body.to_string()),
    }
}

/// The issue's scenarios; the submission comes last, since every submission it makes stays on
/// the leaderboard the reads would otherwise see.
fn scenarios(token: &str) -> Vec<Scenario> {
    let bearer = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
    let read = |target: &str, headers: &[(String, String)]| Scenario {
        name: format!("GET {target}"),
        kind: Kind::Read,
        request: get(target, headers),
    };
    vec![
        read("/api/leaderboard?limit=10", &[]),
        read("/api/leaderboard?mode=walls&limit=100", &[]),
        read("/api/games/active", &[]),
        read("/api/auth/me", &bearer),
        Scenario {
            name: "POST /api/leaderboard".to_owned(),
            kind: Kind::Submission,
            request: LoadRequest {
                method: "POST".to_owned(),
                target: "/api/leaderboard".to_owned(),
                headers: [
                    bearer,
                    vec![("Content-Type".to_owned(), "application/json".to_owned())],
                ]
                .concat(),
                body: Some(SUBMITTED_BODY.to_owned()),
            },
        },
    ]
}

/// The leaderboard reads measured as the store grows.
fn growth_reads() -> Vec<LoadRequest> {
    vec![
        get("/api/leaderboard?limit=10", &[]),
        get("/api/leaderboard?mode=walls&limit=100", &[]),
    ]
}

pub fn run(arguments: &[String]) -> Result<String, String> {
    if let [flag, responses] = arguments
        && flag == "--serve-ceiling"
    {
        return ceiling::serve(Path::new(responses));
    }
    let options = parse_options(arguments)?;
    if cfg!(debug_assertions) {
        return run_optimised(arguments);
    }
    let output_directory = target_directory().join("bench");
    std::fs::create_dir_all(&output_directory)
        .map_err(|error| format!("cannot create {}: {error}", output_directory.display()))?;
    let results_path = output_directory.join("results.json");
    if options.live_only {
        let server = build_release_server("bench")?;
        let machine =
            machine_description("spectators: tokio-tungstenite in the release build of xtask");
        let live = live::measure(&server, &options.live)?;
        let json = serde_json::json!({ "machine": machine, "live": live.to_json() });
        write_results(&results_path, &json)?;
        let text = format!(
            "{}\n{}\nAll figures: {}",
            machine_line(&machine),
            live.to_markdown(),
            results_path.display()
        );
        return finish(text, &[], Some(&live), &results_path);
    }
    let wrk_version = load::ensure_wrk_is_installed()?;
    let binaries = build()?;
    let machine = machine_description(&wrk_version);
    let bench = Bench {
        options,
        binaries,
        output_directory,
    };

    if bench.options.persistence_only {
        let backends = bench.compare_backends()?;
        let durable_growth = bench.measure_durable_growth()?;
        let json = serde_json::json!({
            "machine": machine,
            "backends": backends.to_json(),
            "durable_growth": durable_growth.to_json(),
        });
        write_results(&results_path, &json)?;
        let text = format!(
            "{}\n\n{}\n{}\nAll figures: {}",
            machine_line(&machine),
            backends.to_markdown(),
            durable_growth.to_markdown(),
            results_path.display()
        );
        let invalid = backends.invalid_runs() + durable_growth.invalid_runs();
        let problems = invalid_run_problems(invalid);
        return finish(text, &problems, None, &results_path);
    }

    let startup = bench.measure_startup()?;
    let (scenario_arguments, comparisons) = bench.compare_with_ceiling()?;
    let growth = bench.measure_growth()?;
    let backends = bench.compare_backends()?;
    let durable_growth = bench.measure_durable_growth()?;
    let live = live::measure(&bench.binaries.server, &bench.options.live)?;

    let report = Report {
        machine,
        scenario_arguments,
        comparisons,
        growth,
        startup,
        options: &bench.options,
        backends,
        durable_growth,
    };
    let mut json = report.to_json();
    json["live"] = live.to_json();
    write_results(&results_path, &json)?;
    let text = format!(
        "{}\n\n{}\nAll figures: {}",
        report.to_markdown(),
        live.to_markdown(),
        results_path.display()
    );
    let problems = invalid_run_problems(report.invalid_runs());
    finish(text, &problems, Some(&live), &results_path)
}

fn invalid_run_problems(invalid_load_runs: usize) -> Vec<String> {
    if invalid_load_runs == 0 {
        return Vec::new();
    }
    vec![format!(
        "{invalid_load_runs} wrk run(s) got non-2xx answers or socket errors, so they did not \
         measure what they meant to; see `non_success` and `socket_errors`"
    )]
}

fn write_results(results_path: &Path, json: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(json).map_err(|error| error.to_string())?;
    std::fs::write(results_path, text + "\n")
        .map_err(|error| format!("cannot write {}: {error}", results_path.display()))
}

/// The report, or, when a run did not measure what it meant to, the report on stdout and an
/// error naming the invalid runs: targets missed never fail the run, invalid runs do.
fn finish(
    text: String,
    load_problems: &[String],
    live: Option<&LiveReport>,
    results_path: &Path,
) -> Result<String, String> {
    let problems: Vec<String> = load_problems
        .iter()
        .cloned()
        .chain(live.map(LiveReport::invalid_runs).unwrap_or_default())
        .collect();
    if problems.is_empty() {
        return Ok(text);
    }
    println!("{text}");
    Err(format!(
        "invalid runs (see {}):\n{}",
        results_path.display(),
        problems.join("\n")
    ))
}

struct Binaries {
    server: PathBuf,
    xtask: PathBuf,
    dropshot_floor: PathBuf,
}

pub fn target_directory() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target"))
}

/// Runs this benchmark again in the release build of xtask, and passes on how it ended.
///
/// `cargo xtask` builds xtask without optimisation, and the benchmark's own clients run in it:
/// the live scenarios' thousands of spectators share the server's two cores, and unoptimised
/// they took a core of their own and added tens of milliseconds to the latencies measured.
fn run_optimised(arguments: &[String]) -> Result<String, String> {
    cargo_build("bench", &["build", "--release", "--package", "xtask"])?;
    let xtask = target_directory().join("release").join("xtask");
    let status = Command::new(&xtask)
        .arg("bench")
        .args(arguments)
        .status()
        .map_err(|error| format!("cannot run {}: {error}", xtask.display()))?;
    if status.success() {
        Ok("bench: done (run by the release build of xtask)".to_owned())
    } else {
        Err(format!("the release build of xtask ended with {status}"))
    }
}

/// Builds the release server, the release xtask (which serves the ceiling) and the Dropshot
/// floor.
fn build() -> Result<Binaries, String> {
    let server = build_release_server("bench")?;
    for arguments in [
        ["build", "--release", "--package", "xtask"],
        ["build", "--release", "--example", "dropshot_floor"],
    ] {
        cargo_build("bench", &arguments)?;
    }
    let release = target_directory().join("release");
    Ok(Binaries {
        server,
        xtask: release.join("xtask"),
        dropshot_floor: release.join("examples").join("dropshot_floor"),
    })
}

/// Builds the release server binary and returns its path; `task` names the caller in progress.
pub fn build_release_server(task: &str) -> Result<PathBuf, String> {
    cargo_build(task, &["build", "--release", "--bin", "snake-arena-server"])?;
    Ok(target_directory()
        .join("release")
        .join("snake-arena-server"))
}

/// Runs cargo with `arguments` in the repository, saying so on stderr.
fn cargo_build(task: &str, arguments: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("{task}: cargo {}", arguments.join(" "));
    let status = Command::new(&cargo)
        .args(arguments)
        .current_dir(repository_root())
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !status.success() {
        return Err(format!("cargo {} failed", arguments.join(" ")));
    }
    Ok(())
}

struct Bench {
    options: Options,
    binaries: Binaries,
    output_directory: PathBuf,
}

/// Start-up time and idle memory of the server as a user starts it.
struct Startup {
    to_healthy: Vec<Duration>,
    idle_rss: Vec<u64>,
}

/// One scenario at one concurrency, against the three servers.
struct Comparison {
    scenario: String,
    kind: Kind,
    connections: u32,
    ours: Vec<LoadResult>,
    floor: Vec<LoadResult>,
    ceiling: Vec<LoadResult>,
}

/// The growth measurements: one server per number of stored scores.
struct Growth {
    /// Per size (the seeded-only reference first, with size 0): time to healthy, which includes
    /// filling the store, and resident memory right after start-up.
    servers: Vec<GrowthServer>,
    reads: Vec<GrowthRead>,
}

struct GrowthServer {
    stored_scores: u64,
    to_healthy: Duration,
    rss_after_start: u64,
    rss_after_reads: u64,
}

struct GrowthRead {
    target: String,
    connections: u32,
    stored_scores: u64,
    runs: Vec<LoadResult>,
}

impl Bench {
    fn server_arguments(&self, synthetic_scores: u64) -> Vec<String> {
        // The bench measures the in-memory store (its reads and its bytes per score); a
        // throwaway store also keeps one run's scores out of the next.
        self.server_arguments_on("memory", synthetic_scores)
    }

    /// The server's arguments on the store `database_url`.
    fn server_arguments_on(&self, database_url: &str, synthetic_scores: u64) -> Vec<String> {
        let mut arguments = vec!["--database-url".to_owned(), database_url.to_owned()];
        if synthetic_scores > 0 {
            arguments.extend([
                "--synthetic-scores".to_owned(),
                synthetic_scores.to_string(),
            ]);
        }
        if let Some(level) = &self.options.log_level {
            arguments.extend(["--log-level".to_owned(), level.clone()]);
        }
        arguments
    }

    fn script_path(&self) -> PathBuf {
        self.output_directory.join("wrk-request.lua")
    }

    fn measure_startup(&self) -> Result<Startup, String> {
        eprintln!(
            "bench: start-up, {} fresh starts with the default settings",
            self.options.startup_runs
        );
        let mut startup = Startup {
            to_healthy: Vec::new(),
            idle_rss: Vec::new(),
        };
        for _ in 0..self.options.startup_runs {
            let server = BenchProcess::start_server(&self.binaries.server, &[])?;
            startup.to_healthy.push(server.started_within);
            // Let the start-up work (and the health answer) settle before reading memory.
            std::thread::sleep(Duration::from_millis(200));
            startup.idle_rss.push(server.resident_bytes()?);
        }
        Ok(startup)
    }

    /// Runs every scenario against our server, the floor and the ceiling, in rotating rounds.
    fn compare_with_ceiling(&self) -> Result<(Vec<String>, Vec<Comparison>), String> {
        let mut arguments = self.server_arguments(SCENARIO_SYNTHETIC_SCORES);
        arguments.extend([
            SUBMISSION_LIMIT_FLAG.to_owned(),
            SUBMISSION_LIMIT_FOR_BENCH.to_owned(),
        ]);
        let mut ours = BenchProcess::start_server(&self.binaries.server, &arguments)?;
        let token = log_in(&ours)?;
        let scenarios = scenarios(&token);

        // Record one answer of ours per scenario, and have the ceiling replay it.
        let recorded = scenarios
            .iter()
            .map(|scenario| {
                let request = &scenario.request;
                let response = exchange(
                    ours.address,
                    &request.method,
                    &request.target,
                    &request.headers,
                    request.body.as_deref(),
                )?;
                if !(200..300).contains(&response.status) {
                    return Err(format!(
                        "{}: our server answered {} {}",
                        scenario.name, response.status, response.body
                    ));
                }
                Ok(response)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let responses_path = self.output_directory.join("recorded-responses.json");
        let document =
            serde_json::Value::Array(recorded.iter().map(RecordedResponse::to_json).collect());
        std::fs::write(&responses_path, document.to_string())
            .map_err(|error| format!("cannot write {}: {error}", responses_path.display()))?;
        let mut ceiling = BenchProcess::start_ceiling(&self.binaries.xtask, &responses_path)?;
        let mut floor = BenchProcess::start_floor(
            &self.binaries.dropshot_floor,
            &responses_path,
            &self.server_arguments(0),
        )?;
        for (scenario, ours_response) in scenarios.iter().zip(&recorded) {
            for (replayer, label) in [(&ceiling, "ceiling"), (&floor, "Dropshot floor")] {
                let request = &scenario.request;
                let replayed = exchange(
                    replayer.address,
                    &request.method,
                    &request.target,
                    &request.headers,
                    request.body.as_deref(),
                )?;
                // The floor's Dropshot writes a request id of its own.
                if without_request_id(&replayed) != without_request_id(ours_response) {
                    return Err(format!(
                        "{}: the {label} does not replay our answer:\n ours:    {ours_response:?}\n {label}: {replayed:?}",
                        scenario.name
                    ));
                }
            }
        }

        eprintln!("bench: warming the three servers up");
        for server in [&ours, &floor, &ceiling] {
            load::run(
                &server.base_url(),
                &scenarios[0].request,
                self.options.connections.iter().copied().max().unwrap_or(32),
                self.options.warm_up,
                &self.script_path(),
            )?;
        }

        let total = scenarios.len() * self.options.connections.len() * self.options.rounds * 3;
        let mut done = 0;
        let mut comparisons = Vec::new();
        for scenario in &scenarios {
            for &connections in &self.options.connections {
                let mut comparison = Comparison {
                    scenario: scenario.name.clone(),
                    kind: scenario.kind,
                    connections,
                    ours: Vec::new(),
                    floor: Vec::new(),
                    ceiling: Vec::new(),
                };
                for round in 0..self.options.rounds {
                    // Each round starts with another server: none always runs right after the
                    // same other one.
                    for turn in 0..3 {
                        let (server, results, label) = match (round + turn) % 3 {
                            0 => (&mut ours, &mut comparison.ours, "ours"),
                            1 => (&mut floor, &mut comparison.floor, "floor"),
                            _ => (&mut ceiling, &mut comparison.ceiling, "ceiling"),
                        };
                        let result = measure(
                            server,
                            &scenario.request,
                            connections,
                            self.options.duration,
                            &self.script_path(),
                        )?;
                        done += 1;
                        eprintln!(
                            "bench: [{done}/{total}] {} c={connections} round {} {label:<7} {}",
                            scenario.name,
                            round + 1,
                            describe(&result)
                        );
                        results.push(result);
                    }
                }
                comparisons.push(comparison);
            }
        }
        Ok((arguments, comparisons))
    }

    /// Reads and memory at each number of stored scores, one server per size, all running at
    /// once so that the rounds can alternate between them.
    fn measure_growth(&self) -> Result<Growth, String> {
        let mut processes = Vec::new();
        let mut servers = Vec::new();
        for stored_scores in std::iter::once(0).chain(GROWTH_SIZES) {
            eprintln!("bench: growth, starting a server with {stored_scores} synthetic scores");
            let process = BenchProcess::start_server(
                &self.binaries.server,
                &self.server_arguments(stored_scores),
            )?;
            std::thread::sleep(Duration::from_millis(200));
            servers.push(GrowthServer {
                stored_scores,
                to_healthy: process.started_within,
                rss_after_start: process.resident_bytes()?,
                rss_after_reads: 0,
            });
            processes.push(process);
        }

        let mut reads = Vec::new();
        let sizes = GROWTH_SIZES.len();
        let total = growth_reads().len() * GROWTH_CONNECTIONS.len() * self.options.rounds * sizes;
        let mut done = 0;
        for request in growth_reads() {
            for connections in GROWTH_CONNECTIONS {
                let first = reads.len();
                for &stored_scores in &GROWTH_SIZES {
                    reads.push(GrowthRead {
                        target: request.target.clone(),
                        connections,
                        stored_scores,
                        runs: Vec::new(),
                    });
                }
                for round in 0..self.options.rounds {
                    // Each round starts with another size.
                    for offset in 0..sizes {
                        let size_index = (round + offset) % sizes;
                        // The reference server (no synthetic scores) is processes[0].
                        let process = &mut processes[size_index + 1];
                        let result = measure(
                            process,
                            &request,
                            connections,
                            self.options.duration,
                            &self.script_path(),
                        )?;
                        done += 1;
                        eprintln!(
                            "bench: [{done}/{total}] growth {} c={connections} scores={} {}",
                            request.target,
                            GROWTH_SIZES[size_index],
                            describe(&result)
                        );
                        reads[first + size_index].runs.push(result);
                    }
                }
            }
        }
        for (server, process) in servers.iter_mut().zip(&processes) {
            server.rss_after_reads = process.resident_bytes()?;
        }
        Ok(Growth { servers, reads })
    }
}

/// A recorded answer with its request id left out, to compare answers from different servers.
fn without_request_id(response: &RecordedResponse) -> RecordedResponse {
    let mut response = response.clone();
    response
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("x-request-id"));
    response
}

/// One wrk run against `server`, with the server's CPU time per answered request.
fn measure(
    server: &mut BenchProcess,
    request: &LoadRequest,
    connections: u32,
    duration: Duration,
    script_path: &Path,
) -> Result<LoadResult, String> {
    let cpu_before = server.cpu_time()?;
    let mut result = load::run(
        &server.base_url(),
        request,
        connections,
        duration,
        script_path,
    )?;
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    server.check_running()?;
    result.server_cpu_us_per_request = cpu.as_secs_f64() * 1e6 / result.requests.max(1) as f64;
    Ok(result)
}

fn describe(result: &LoadResult) -> String {
    let mut text = format!(
        "{:>9} req/s  p50 {:.2} ms  p99 {:.2} ms  server CPU {:.1} µs/req",
        thousands(result.requests_per_second),
        result.p50_ms,
        result.p99_ms,
        result.server_cpu_us_per_request
    );
    if result.non_success > 0 || result.socket_errors > 0 {
        let _ = write!(
            text,
            "  ({} non-2xx, {} socket errors)",
            result.non_success, result.socket_errors
        );
    }
    text
}

/// Logs the seeded player in (one scrypt verification) and returns the bearer token.
fn log_in(server: &BenchProcess) -> Result<String, String> {
    let body =
        serde_json::json!({ "email": SEEDED_EMAIL, "password": SEEDED_PASSWORD }).to_string();
    let response = exchange(
        server.address,
        "POST",
        "/api/auth/login",
        &[("Content-Type".to_owned(), "application/json".to_owned())],
        Some(&body),
    )?;
    if response.status != 200 {
        return Err(format!(
            "logging in as {SEEDED_EMAIL} answered {}: {}",
            response.status, response.body
        ));
    }
    let answer: serde_json::Value = serde_json::from_str(&response.body)
        .map_err(|error| format!("the login answer is not JSON: {error}"))?;
    answer["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the login answer has no token".to_owned())
}

/// The machine as the first line of a report.
fn machine_line(machine: &serde_json::Value) -> String {
    format!(
        "Machine: {} cores ({}), {} GiB, Linux {}; load average at start {}; {}; {}.",
        machine["cores"],
        machine["cpu"].as_str().unwrap_or(""),
        machine["memory_gib"],
        machine["kernel"].as_str().unwrap_or(""),
        machine["load_average_at_start"].as_str().unwrap_or(""),
        machine["load_generator"].as_str().unwrap_or(""),
        machine["date"].as_str().unwrap_or(""),
    )
}

/// The machine, for the report: the figures mean little without it.
pub fn machine_description(load_generator: &str) -> serde_json::Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let memory_kib = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "cpu": cpu,
        "memory_gib": (memory_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "load_average_at_start": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "load_generator": load_generator,
        "date": date,
    })
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Medians over a set of runs.
struct Medians {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

fn medians(runs: &[LoadResult]) -> Medians {
    Medians {
        requests_per_second: median(runs.iter().map(|run| run.requests_per_second).collect()),
        p50_ms: median(runs.iter().map(|run| run.p50_ms).collect()),
        p99_ms: median(runs.iter().map(|run| run.p99_ms).collect()),
        cpu_us_per_request: median(
            runs.iter()
                .map(|run| run.server_cpu_us_per_request)
                .collect(),
        ),
    }
}

fn runs_json(runs: &[LoadResult]) -> serde_json::Value {
    runs.iter()
        .map(|run| {
            serde_json::json!({
                "requests": run.requests,
                "rps": round_to(run.requests_per_second, 1),
                "p50_ms": round_to(run.p50_ms, 3),
                "p99_ms": round_to(run.p99_ms, 3),
                "server_cpu_us_per_request": round_to(run.server_cpu_us_per_request, 2),
                "non_success": run.non_success,
                "socket_errors": run.socket_errors,
            })
        })
        .collect()
}

pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

pub fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// One of the issue's targets, checked.
struct TargetCheck {
    target: String,
    measured: String,
    met: bool,
}

struct Report<'a> {
    backends: backends::Backends,
    durable_growth: durable_growth::DurableGrowth,
    machine: serde_json::Value,
    scenario_arguments: Vec<String>,
    comparisons: Vec<Comparison>,
    growth: Growth,
    startup: Startup,
    options: &'a Options,
}

impl Comparison {
    fn ratio(&self) -> f64 {
        medians(&self.ours).requests_per_second / medians(&self.ceiling).requests_per_second
    }

    fn p99_ratio(&self) -> f64 {
        medians(&self.ours).p99_ms / medians(&self.ceiling).p99_ms
    }

    /// The Dropshot floor's requests/s over the ceiling's: the most any Dropshot server reaches.
    fn floor_ratio(&self) -> f64 {
        medians(&self.floor).requests_per_second / medians(&self.ceiling).requests_per_second
    }

    /// Ours over the floor: the share of the framework's best that our own code leaves.
    fn ours_to_floor_ratio(&self) -> f64 {
        medians(&self.ours).requests_per_second / medians(&self.floor).requests_per_second
    }

    fn meets_target(&self) -> bool {
        match self.kind {
            Kind::Read => self.ratio() >= READ_MIN_RATIO && self.p99_ratio() <= READ_MAX_P99_RATIO,
            Kind::Submission => self.ratio() >= SUBMISSION_MIN_RATIO,
        }
    }

    fn target(&self) -> String {
        match self.kind {
            Kind::Read => format!("ratio ≥ {READ_MIN_RATIO}, p99 ≤ {READ_MAX_P99_RATIO}× ceiling"),
            Kind::Submission => format!("ratio ≥ {SUBMISSION_MIN_RATIO}"),
        }
    }
}

impl Growth {
    fn reference_rss(&self) -> u64 {
        self.servers
            .iter()
            .find(|server| server.stored_scores == 0)
            .map_or(0, |server| server.rss_after_start)
    }

    fn bytes_per_score(&self, server: &GrowthServer) -> f64 {
        (server.rss_after_start as f64 - self.reference_rss() as f64) / server.stored_scores as f64
    }

    /// The read's p50 latency at its size over the same read's at the smallest size.
    fn latency_ratio(&self, read: &GrowthRead) -> f64 {
        let reference = self
            .reads
            .iter()
            .find(|other| {
                other.target == read.target
                    && other.connections == read.connections
                    && other.stored_scores == GROWTH_SIZES[0]
            })
            .map_or(f64::NAN, |other| medians(&other.runs).p50_ms);
        medians(&read.runs).p50_ms / reference
    }
}

impl Report<'_> {
    fn startup_median(&self) -> Duration {
        Duration::from_secs_f64(median(
            self.startup
                .to_healthy
                .iter()
                .map(Duration::as_secs_f64)
                .collect(),
        ))
    }

    fn idle_rss_median(&self) -> u64 {
        median(
            self.startup
                .idle_rss
                .iter()
                .map(|&rss| rss as f64)
                .collect(),
        ) as u64
    }

    fn invalid_runs(&self) -> usize {
        let comparison_runs = self.comparisons.iter().flat_map(|comparison| {
            comparison
                .ours
                .iter()
                .chain(&comparison.floor)
                .chain(&comparison.ceiling)
        });
        let growth_runs = self.growth.reads.iter().flat_map(|read| read.runs.iter());
        comparison_runs
            .chain(growth_runs)
            .filter(|run| run.non_success > 0 || run.socket_errors > 0)
            .count()
            + self.backends.invalid_runs()
            + self.durable_growth.invalid_runs()
    }

    fn target_checks(&self) -> Vec<TargetCheck> {
        let mut checks = Vec::new();
        for kind in [Kind::Read, Kind::Submission] {
            let of_kind: Vec<&Comparison> = self
                .comparisons
                .iter()
                .filter(|comparison| comparison.kind == kind)
                .collect();
            let Some(worst) = of_kind
                .iter()
                .min_by(|first, second| first.ratio().total_cmp(&second.ratio()))
            else {
                continue;
            };
            let label = match kind {
                Kind::Read => "reads",
                Kind::Submission => "score submission",
            };
            checks.push(TargetCheck {
                target: format!("{label}: {}", worst.target()),
                measured: format!(
                    "lowest ratio {:.2} ({} c={}); p99 ours/ceiling up to {:.2}",
                    worst.ratio(),
                    worst.scenario,
                    worst.connections,
                    of_kind
                        .iter()
                        .map(|comparison| comparison.p99_ratio())
                        .fold(f64::NAN, f64::max)
                ),
                met: of_kind.iter().all(|comparison| comparison.meets_target()),
            });
        }
        let largest = *GROWTH_SIZES.last().unwrap_or(&0);
        let worst_growth = self
            .growth
            .reads
            .iter()
            .filter(|read| read.stored_scores == largest)
            .map(|read| (self.growth.latency_ratio(read), read))
            .max_by(|first, second| first.0.total_cmp(&second.0));
        if let Some((ratio, read)) = worst_growth {
            checks.push(TargetCheck {
                target: format!(
                    "growth: p50 latency at {largest} scores ≤ {GROWTH_MAX_LATENCY_RATIO}× at {}",
                    GROWTH_SIZES[0]
                ),
                measured: format!("worst {ratio:.2}× ({} c={})", read.target, read.connections),
                met: ratio <= GROWTH_MAX_LATENCY_RATIO,
            });
        }
        if let Some(server) = self
            .growth
            .servers
            .iter()
            .find(|server| server.stored_scores == largest)
        {
            let per_score = self.growth.bytes_per_score(server);
            checks.push(TargetCheck {
                target: format!("growth: ≤ {MAX_BYTES_PER_SCORE} bytes of RSS per stored score"),
                measured: format!("{per_score:.0} bytes at {largest} scores"),
                met: per_score <= MAX_BYTES_PER_SCORE,
            });
        }
        let startup = self.startup_median();
        checks.push(TargetCheck {
            target: format!(
                "start-up to first healthy answer < {} ms",
                MAX_STARTUP.as_millis()
            ),
            measured: format!("{:.1} ms (median)", startup.as_secs_f64() * 1e3),
            met: startup < MAX_STARTUP,
        });
        let idle = self.idle_rss_median();
        checks.push(TargetCheck {
            target: format!("idle RSS < {}", mebibytes(MAX_IDLE_RSS_BYTES)),
            measured: format!("{} (median, right after start-up)", mebibytes(idle)),
            met: idle < MAX_IDLE_RSS_BYTES,
        });
        checks
    }

    fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{}", machine_line(&self.machine));
        let _ = writeln!(
            text,
            "Servers, wrk and anything else on the machine share these cores. Each figure is the \
             median of {} round(s) of {} s per server, each round starting with another server.",
            self.options.rounds,
            self.options.duration.as_secs()
        );
        let _ = writeln!(
            text,
            "Ours: `snake-arena-server --bind 127.0.0.1:PORT {}` (seeded; otherwise default \
             settings; log to a pipe that is read and dropped). Floor: Dropshot with our logger \
             and settings, one endpoint replaying our recorded answers. Ceiling: bare hyper \
             replaying them. ratio = ours/ceiling (the target).",
            self.scenario_arguments.join(" ")
        );
        let _ = writeln!(
            text,
            "POST /api/leaderboard stores every score it posts ({SUBMITTED_BODY}), so our \
             leaderboard grows during that scenario, which runs last."
        );
        let _ = writeln!(
            text,
            "CPU µs/req: the server process's CPU time (all threads, user and system) during a \
             run over the requests it answered, which does not depend on how the cores are \
             shared with wrk."
        );
        text.push('\n');
        text.push_str(
            "| scenario | conns | ours req/s | floor req/s | ceiling req/s | ratio | floor/ceiling \
             | ours/floor | ours p50 ms | ours p99 ms | ceiling p99 ms | p99 ours/ceiling \
             | CPU µs/req ours / floor / ceiling | target |\n",
        );
        text.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for comparison in &self.comparisons {
            let ours = medians(&comparison.ours);
            let floor = medians(&comparison.floor);
            let ceiling = medians(&comparison.ceiling);
            let _ = writeln!(
                text,
                "| `{}` | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} / {:.1} / {:.1} | {} |",
                comparison.scenario,
                comparison.connections,
                thousands(ours.requests_per_second),
                thousands(floor.requests_per_second),
                thousands(ceiling.requests_per_second),
                comparison.ratio(),
                comparison.floor_ratio(),
                comparison.ours_to_floor_ratio(),
                ours.p50_ms,
                ours.p99_ms,
                ceiling.p99_ms,
                comparison.p99_ratio(),
                ours.cpu_us_per_request,
                floor.cpu_us_per_request,
                ceiling.cpu_us_per_request,
                verdict(comparison.meets_target())
            );
        }

        text.push_str("\nGrowth: leaderboard reads by stored scores (synthetic, loaded through the store at start-up, plus the seed).\n\n");
        text.push_str(
            "| read | conns | stored scores | req/s | p50 ms | p99 ms | CPU µs/req | p50 vs 1,000 scores |\n",
        );
        text.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for read in &self.growth.reads {
            let runs = medians(&read.runs);
            let _ = writeln!(
                text,
                "| `GET {}` | {} | {} | {} | {:.3} | {:.3} | {:.1} | {:.2}× |",
                read.target,
                read.connections,
                thousands(read.stored_scores as f64),
                thousands(runs.requests_per_second),
                runs.p50_ms,
                runs.p99_ms,
                runs.cpu_us_per_request,
                self.growth.latency_ratio(read)
            );
        }
        text.push_str(
            "\nRSS per stored score: (RSS at N scores - RSS with the seed alone) / N, both right \
             after start-up; at 1,000 scores the difference is within the allocator's noise.\n",
        );
        text.push_str("\n| stored scores | spawn to healthy | RSS after start-up | RSS per stored score | RSS after the reads |\n");
        text.push_str("|---:|---:|---:|---:|---:|\n");
        for server in &self.growth.servers {
            let per_score = if server.stored_scores == 0 {
                "(reference)".to_owned()
            } else {
                format!("{:.0} bytes", self.growth.bytes_per_score(server))
            };
            let _ = writeln!(
                text,
                "| {} | {:.0} ms | {} | {} | {} |",
                thousands(server.stored_scores as f64),
                server.to_healthy.as_secs_f64() * 1e3,
                mebibytes(server.rss_after_start),
                per_score,
                mebibytes(server.rss_after_reads)
            );
        }

        let _ = writeln!(
            text,
            "\nStart-up (spawn to first 200 from GET /api/health, default settings, {} starts): \
             median {:.1} ms, slowest {:.1} ms. Idle RSS after start-up: median {}.",
            self.startup.to_healthy.len(),
            self.startup_median().as_secs_f64() * 1e3,
            self.startup
                .to_healthy
                .iter()
                .max()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
            mebibytes(self.idle_rss_median())
        );

        text.push_str("\n| target | measured | verdict |\n|---|---|---|\n");
        for check in self.target_checks() {
            let _ = writeln!(
                text,
                "| {} | {} | {} |",
                check.target,
                check.measured,
                verdict(check.met)
            );
        }
        let _ = write!(text, "\n{}", self.backends.to_markdown());
        let _ = write!(text, "\n{}", self.durable_growth.to_markdown());
        text
    }

    fn to_json(&self) -> serde_json::Value {
        let scenarios: Vec<_> = self
            .comparisons
            .iter()
            .map(|comparison| {
                let ours = medians(&comparison.ours);
                let floor = medians(&comparison.floor);
                let ceiling = medians(&comparison.ceiling);
                serde_json::json!({
                    "scenario": comparison.scenario,
                    "connections": comparison.connections,
                    "ours_rps": round_to(ours.requests_per_second, 1),
                    "floor_rps": round_to(floor.requests_per_second, 1),
                    "ceiling_rps": round_to(ceiling.requests_per_second, 1),
                    "ratio": round_to(comparison.ratio(), 3),
                    "floor_ratio": round_to(comparison.floor_ratio(), 3),
                    "ours_to_floor_ratio": round_to(comparison.ours_to_floor_ratio(), 3),
                    "floor_p50_ms": round_to(floor.p50_ms, 3),
                    "floor_p99_ms": round_to(floor.p99_ms, 3),
                    "floor_cpu_us_per_request": round_to(floor.cpu_us_per_request, 2),
                    "ours_p50_ms": round_to(ours.p50_ms, 3),
                    "ours_p99_ms": round_to(ours.p99_ms, 3),
                    "ceiling_p50_ms": round_to(ceiling.p50_ms, 3),
                    "ceiling_p99_ms": round_to(ceiling.p99_ms, 3),
                    "p99_ratio": round_to(comparison.p99_ratio(), 3),
                    "ours_cpu_us_per_request": round_to(ours.cpu_us_per_request, 2),
                    "ceiling_cpu_us_per_request": round_to(ceiling.cpu_us_per_request, 2),
                    "target": comparison.target(),
                    "target_met": comparison.meets_target(),
                    "ours_runs": runs_json(&comparison.ours),
                    "floor_runs": runs_json(&comparison.floor),
                    "ceiling_runs": runs_json(&comparison.ceiling),
                })
            })
            .collect();
        let growth_reads: Vec<_> = self
            .growth
            .reads
            .iter()
            .map(|read| {
                let runs = medians(&read.runs);
                serde_json::json!({
                    "scenario": format!("GET {}", read.target),
                    "connections": read.connections,
                    "stored_scores": read.stored_scores,
                    "rps": round_to(runs.requests_per_second, 1),
                    "p50_ms": round_to(runs.p50_ms, 3),
                    "p99_ms": round_to(runs.p99_ms, 3),
                    "server_cpu_us_per_request": round_to(runs.cpu_us_per_request, 2),
                    "p50_ratio_to_smallest": round_to(self.growth.latency_ratio(read), 3),
                    "runs": runs_json(&read.runs),
                })
            })
            .collect();
        let growth_memory: Vec<_> = self
            .growth
            .servers
            .iter()
            .map(|server| {
                serde_json::json!({
                    "stored_scores": server.stored_scores,
                    "spawn_to_healthy_ms": round_to(server.to_healthy.as_secs_f64() * 1e3, 1),
                    "rss_after_start_bytes": server.rss_after_start,
                    "rss_after_reads_bytes": server.rss_after_reads,
                    "rss_bytes_per_score": (server.stored_scores > 0)
                        .then(|| round_to(self.growth.bytes_per_score(server), 1)),
                })
            })
            .collect();
        let targets: Vec<_> = self
            .target_checks()
            .into_iter()
            .map(|check| {
                serde_json::json!({ "target": check.target, "measured": check.measured, "met": check.met })
            })
            .collect();
        serde_json::json!({
            "machine": self.machine,
            "settings": {
                "rounds": self.options.rounds,
                "seconds_per_run": self.options.duration.as_secs(),
                "ours_arguments": self.scenario_arguments,
                "submitted_body": SUBMITTED_BODY,
            },
            "scenarios": scenarios,
            "growth": { "reads": growth_reads, "memory": growth_memory },
            "backends": self.backends.to_json(),
            "durable_growth": self.durable_growth.to_json(),
            "startup": {
                "spawn_to_healthy_ms": self.startup.to_healthy.iter().map(|duration| round_to(duration.as_secs_f64() * 1e3, 2)).collect::<Vec<_>>(),
                "median_ms": round_to(self.startup_median().as_secs_f64() * 1e3, 2),
                "idle_rss_bytes": self.startup.idle_rss,
                "idle_rss_median_bytes": self.idle_rss_median(),
            },
            "targets": targets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{median, parse_options, thousands};

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn large_rates_are_grouped_by_thousands() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn quick_runs_one_short_round_and_unknown_options_are_refused() {
        let quick = parse_options(&["--quick".to_owned()]).unwrap();
        assert_eq!(quick.rounds, 1);
        assert!(!quick.live_only);
        assert!(quick.live.window < parse_options(&[]).unwrap().live.window);
        let live_only = parse_options(&["--live-only".to_owned()]).unwrap();
        assert!(live_only.live_only);
        let custom = parse_options(&["--connections".to_owned(), "8, 64".to_owned()]).unwrap();
        assert_eq!(custom.connections, vec![8, 64]);
        assert!(parse_options(&["--fast".to_owned()]).is_err());
    }
}
