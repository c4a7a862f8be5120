//! `cargo xtask stress`: what the server promises under load and concurrency, at the production
//! scrypt cost, measured against the release build.
//!
//! It builds the release server and starts it on free loopback ports (with `bench`'s process
//! code), then runs four scenarios:
//! - a login storm: 200 logins released at once, mostly with the right password, while a player
//!   keeps reading the leaderboard. It reports how the logins were answered (only 200, 401, 429
//!   and 503 are allowed), how long the storm took to drain, the leaderboard's p99 latency during
//!   it, and the server's peak resident memory against idle + slots × 128 MiB + 64 MiB;
//! - 50 sign-ups of one username at once: exactly one 201, the rest 409;
//! - 200 score submissions at once from 20 players: all 201, all 200 stored;
//! - enumeration timing: logins with unknown emails and with wrong passwords, alternating, get the
//!   same status and body, and their median times differ by less than 10%.
//!
//! Every request is one HTTP/1.1 exchange on a fresh connection, from its own thread, so a burst
//! really arrives at once. The table goes to stdout, progress to stderr, and everything to
//! `target/stress/results.json`. The task fails when a correctness property fails; a missed
//! speed or memory figure is reported as missed but does not fail it, since the machine is shared.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::bench::ceiling::RecordedResponse;
use crate::bench::load::LoadRequest;
use crate::bench::process::{BenchProcess, exchange_within};
use crate::bench::{
    build_release_server, get, machine_description, mebibytes, median, post_json, round_to,
    target_directory, verdict,
};

pub const USAGE: &str = "usage: cargo xtask stress [--timing-samples N]

Builds the release server, starts it on free loopback ports at the production scrypt cost
(log_n 17, r 8, p 1; 2 hashing slots, a queue of 32, a wait of at most 10 s) and runs the login
storm, the same-username sign-ups, the concurrent score submissions and the enumeration timing.
Prints a table of figure against target and writes target/stress/results.json. Exits 1 when a
correctness property fails (an answer outside the allowed statuses, not exactly one 201, a score
lost, unequal refusals). Takes about a minute; run it rarely on a shared machine.

  --timing-samples N  logins timed per path (unknown email, wrong password) for the
                      enumeration timing (default 15)";

/// The production hashing settings, spelled out (they are the server's defaults) so that the
/// report says exactly what ran and the memory bound uses the right number of slots.
const HASHING_SLOTS: u64 = 2;
const PRODUCTION_HASHING: [&str; 12] = [
    "--scrypt-log-n",
    "17",
    "--scrypt-r",
    "8",
    "--scrypt-p",
    "1",
    "--hashing-slots",
    "2",
    "--hashing-queue",
    "32",
    "--hashing-wait-seconds",
    "10",
];

/// A limit no scenario reaches, so the limiter still runs on every request but admits it.
const UNREACHED_LIMIT: &str = "1000000";

/// The storm's server: every login comes from 127.0.0.1, which in production would be 200
/// players at 200 addresses, so the per-client failed-login limit is raised. The per-account limit
/// keeps its default: the storm's few wrong passwords are spread over four accounts.
const STORM_FLAGS: [&str; 2] = ["--failed-logins-per-client-per-hour", UNREACHED_LIMIT];

/// The sign-up and score server: 70 sign-ups come from one address within seconds, and all 50 of
/// the same username pass the early uniqueness check and then wait for a hashing slot, so the
/// per-client sign-up limit is raised and the queue is long enough for all of them (with the
/// default 32, the surplus is rightly answered 503, which is not what this scenario checks). The
/// score limit keeps its default: ten scores per player fit its burst.
const SIGNUP_FLAGS: [&str; 4] = [
    "--signups-per-client-per-hour",
    UNREACHED_LIMIT,
    "--hashing-queue",
    "64",
];

/// The seeded accounts (README, "Seeded accounts"), whose hashes carry the production cost.
const SEEDED_ACCOUNTS: [(&str, &str); 4] = [
    ("snakecharmer@example.com", "charmer-pass-123"),
    ("pixelviper@example.com", "viper-pass-456"),
    ("noodlequeen@example.com", "noodle-pass-789"),
    ("slowworm@example.com", "worm-pass-2468"),
];

/// The storm: this many logins at once; one in `STORM_PATTERN` has a wrong password and another
/// an unknown email, the rest are right.
const STORM_LOGINS: usize = 200;
const STORM_PATTERN: usize = 20;

/// Logins timed one at a time just before the storm (right passwords).
const SOLO_LOGINS: usize = 3;

/// The statuses a login in a storm may get: a success, a refusal, a rate limit, or busy.
const STORM_ALLOWED_STATUSES: [u16; 4] = [200, 401, 429, 503];

/// The player reading the leaderboard during the storm: one read, then this pause, and again.
const LEADERBOARD_READ: &str = "/api/leaderboard";
const LEADERBOARD_READ_PAUSE: Duration = Duration::from_millis(5);

/// How long any one answer may take; a login queued behind a whole storm waits several seconds.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

const SAME_USERNAME_SIGNUPS: usize = 50;
const SCORE_PLAYERS: usize = 20;
const SCORES_PER_PLAYER: usize = 10;
/// Above every seeded score, so each mode's top 100 is exactly the scores posted in it.
const FIRST_SCORE: usize = 900_000;

/// Logins timed before the timed ones, to warm caches and the allocator.
const TIMING_WARM_UP: usize = 2;

/// The issue's targets.
const MAX_LEADERBOARD_P99: Duration = Duration::from_millis(50);
const MAX_DRAIN: Duration = Duration::from_secs(15);
const HASHING_SLOT_BYTES: u64 = 128 * 1024 * 1024;
const MEMORY_HEADROOM_BYTES: u64 = 64 * 1024 * 1024;
const MAX_TIMING_DIFFERENCE: f64 = 0.10;

struct Options {
    timing_samples: usize,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options { timing_samples: 15 };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--timing-samples" => {
                options.timing_samples = arguments
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|samples| *samples > 0)
                    .ok_or("--timing-samples needs a positive whole number")?;
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// One figure of the report, checked against its target.
struct Check {
    scenario: &'static str,
    figure: String,
    measured: String,
    target: String,
    met: bool,
    /// A correctness property, which fails the task when it is not met; otherwise a speed or
    /// memory figure, which is only reported.
    correctness: bool,
}

pub fn run(arguments: &[String]) -> Result<String, String> {
    let options = parse_options(arguments)?;
    let server_binary = build_release_server("stress")?;
    let output_directory = target_directory().join("stress");
    std::fs::create_dir_all(&output_directory)
        .map_err(|error| format!("cannot create {}: {error}", output_directory.display()))?;
    let machine = machine_description(
        "xtask stress: one thread per request, HTTP/1.1, a fresh connection each",
    );

    let storm_arguments = arguments_with(&STORM_FLAGS);
    eprintln!("stress: starting the storm server");
    let mut storm_server = BenchProcess::start_server(&server_binary, &storm_arguments)?;
    let (storm_checks, storm_json) = login_storm(&storm_server)?;
    eprintln!(
        "stress: enumeration timing, {} logins per path",
        options.timing_samples
    );
    let (timing_checks, timing_json) = enumeration_timing(&storm_server, options.timing_samples)?;
    storm_server.check_running()?;
    drop(storm_server);

    let signup_arguments = arguments_with(&SIGNUP_FLAGS);
    eprintln!("stress: starting the sign-up and score server");
    let mut signup_server = BenchProcess::start_server(&server_binary, &signup_arguments)?;
    let (signup_checks, signup_json) = same_username_signups(signup_server.address)?;
    let (score_checks, score_json) = concurrent_scores(signup_server.address)?;
    signup_server.check_running()?;
    drop(signup_server);

    let checks: Vec<Check> = [storm_checks, signup_checks, score_checks, timing_checks]
        .into_iter()
        .flatten()
        .collect();
    let results_path = output_directory.join("results.json");
    let document = serde_json::json!({
        "machine": machine,
        "servers": {
            "storm_and_timing": storm_arguments,
            "signups_and_scores": signup_arguments,
        },
        "login_storm": storm_json,
        "same_username_signups": signup_json,
        "concurrent_scores": score_json,
        "enumeration_timing": timing_json,
        "checks": checks.iter().map(|check| serde_json::json!({
            "scenario": check.scenario,
            "figure": check.figure,
            "measured": check.measured,
            "target": check.target,
            "met": check.met,
            "correctness": check.correctness,
        })).collect::<Vec<_>>(),
    });
    let json = serde_json::to_string_pretty(&document).map_err(|error| error.to_string())?;
    std::fs::write(&results_path, json + "\n")
        .map_err(|error| format!("cannot write {}: {error}", results_path.display()))?;

    let text = report(
        &machine,
        &storm_arguments,
        &signup_arguments,
        &checks,
        &results_path.display().to_string(),
    );
    let failed: Vec<&str> = checks
        .iter()
        .filter(|check| check.correctness && !check.met)
        .map(|check| check.figure.as_str())
        .collect();
    if failed.is_empty() {
        Ok(text)
    } else {
        println!("{text}");
        Err(format!(
            "correctness failed: {}; see {}",
            failed.join("; "),
            results_path.display()
        ))
    }
}

/// The production hashing settings with a scenario's flags: a flag of both takes the scenario's
/// value (the server refuses a flag given twice).
fn arguments_with(flags: &[&str]) -> Vec<String> {
    // A throwaway store: the stress run signs up fixed usernames, which a database kept from
    // an earlier run would already hold.
    let mut pairs: Vec<(&str, &str)> = PRODUCTION_HASHING
        .chunks(2)
        .map(|pair| (pair[0], pair[1]))
        .chain([("--database-url", "memory")])
        .collect();
    for pair in flags.chunks(2) {
        match pairs.iter_mut().find(|(flag, _)| *flag == pair[0]) {
            Some(existing) => existing.1 = pair[1],
            None => pairs.push((pair[0], pair[1])),
        }
    }
    pairs
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value.to_owned()])
        .collect()
}

fn signup(email: &str, username: &str) -> LoadRequest {
    let body = serde_json::json!({
        "email": email,
        "username": username,
        "password": "correct horse battery",
    });
    post_json("/api/auth/signup", &body, None)
}

/// One request sent on a fresh connection, with its time on the wire.
fn send(address: SocketAddr, request: &LoadRequest) -> Answer {
    let sent = Instant::now();
    let response = exchange_within(ANSWER_TIMEOUT, address, request);
    Answer {
        sent,
        finished: Instant::now(),
        response,
    }
}

struct Answer {
    sent: Instant,
    finished: Instant,
    response: Result<RecordedResponse, String>,
}

impl Answer {
    fn took(&self) -> Duration {
        self.finished - self.sent
    }

    /// The status, or 0 when no answer came (a socket error or a timeout).
    fn status(&self) -> u16 {
        self.response.as_ref().map_or(0, |response| response.status)
    }

    fn body_json(&self) -> serde_json::Value {
        self.response
            .as_ref()
            .ok()
            .and_then(|response| serde_json::from_str(&response.body).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

/// The answers to a burst, in request order, and the moment the requests were released.
struct Burst {
    released: Instant,
    answers: Vec<Answer>,
}

impl Burst {
    /// When the last answer came in.
    fn drained(&self) -> Instant {
        self.answers
            .iter()
            .map(|answer| answer.finished)
            .max()
            .unwrap_or(self.released)
    }

    /// From the release to the last answer.
    fn took(&self) -> Duration {
        self.drained() - self.released
    }
}

/// Every request on its own thread, all released at once.
fn burst(address: SocketAddr, requests: Vec<LoadRequest>) -> Result<Burst, String> {
    let start = Arc::new(Barrier::new(requests.len() + 1));
    let threads: Vec<JoinHandle<Answer>> = requests
        .into_iter()
        .map(|request| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                send(address, &request)
            })
        })
        .collect();
    start.wait();
    let released = Instant::now();
    let answers = threads
        .into_iter()
        .map(|thread| {
            thread
                .join()
                .map_err(|_| "a request thread panicked".to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Burst { released, answers })
}

/// Counts of each status (0: no answer).
fn status_counts<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        *counts.entry(answer.status()).or_insert(0) += 1;
    }
    counts
}

fn describe_counts(counts: &BTreeMap<u16, usize>) -> String {
    counts
        .iter()
        .map(|(status, count)| match status {
            0 => format!("no answer × {count}"),
            status => format!("{status} × {count}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts_json(counts: &BTreeMap<u16, usize>) -> serde_json::Value {
    counts
        .iter()
        .map(|(status, count)| {
            let key = if *status == 0 {
                "no_answer".to_owned()
            } else {
                status.to_string()
            };
            (key, serde_json::json!(count))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A duration for the table: milliseconds below a second, seconds above.
fn readable(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{:.1} ms", duration.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

fn milliseconds(duration: Duration) -> f64 {
    round_to(duration.as_secs_f64() * 1e3, 2)
}

/// The value below which `fraction` of the sorted `values` lie (nearest rank).
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What a storm login sends.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Credentials {
    Right,
    WrongPassword,
    UnknownEmail,
}

impl Credentials {
    fn of_login(index: usize) -> Self {
        match index % STORM_PATTERN {
            7 => Credentials::WrongPassword,
            13 => Credentials::UnknownEmail,
            _ => Credentials::Right,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Credentials::Right => "right password",
            Credentials::WrongPassword => "wrong password",
            Credentials::UnknownEmail => "unknown email",
        }
    }

    /// Whether `status` is a possible answer to such a login: busy and rate-limited answers
    /// come to anyone, but only the right password logs in and only a wrong one is refused.
    fn admits(self, status: u16) -> bool {
        STORM_ALLOWED_STATUSES.contains(&status)
            && match status {
                200 => self == Credentials::Right,
                401 => self != Credentials::Right,
                _ => true,
            }
    }
}

fn storm_login(index: usize) -> LoadRequest {
    let (email, password) = SEEDED_ACCOUNTS[index % SEEDED_ACCOUNTS.len()];
    let body = match Credentials::of_login(index) {
        Credentials::Right => serde_json::json!({ "email": email, "password": password }),
        Credentials::WrongPassword => {
            serde_json::json!({ "email": email, "password": format!("wrong-password-{index}") })
        }
        Credentials::UnknownEmail => serde_json::json!({
            "email": format!("nobody-{index}@example.com"),
            "password": password,
        }),
    };
    post_json("/api/auth/login", &body, None)
}

/// A player reading the leaderboard over and over until stopped.
struct LeaderboardReader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Answer>>,
}

impl LeaderboardReader {
    fn start(address: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let read = get(LEADERBOARD_READ, &[]);
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    answers.push(send(address, &read));
                    std::thread::sleep(LEADERBOARD_READ_PAUSE);
                }
                answers
            })
        };
        LeaderboardReader { stop, thread }
    }

    fn stop(self) -> Result<Vec<Answer>, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| "the leaderboard reader panicked".to_owned())
    }
}

fn login_storm(server: &BenchProcess) -> Result<(Vec<Check>, serde_json::Value), String> {
    // Let start-up settle before taking the idle figure, as the benchmark does.
    std::thread::sleep(Duration::from_millis(200));
    let idle_rss = server.resident_bytes()?;
    let bound = idle_rss + HASHING_SLOTS * HASHING_SLOT_BYTES + MEMORY_HEADROOM_BYTES;

    // One login at a time first: what a hash costs on this machine right now, to explain the
    // drain time (which is about the hashed logins over the slots, times that).
    let mut alone = Vec::new();
    for index in 0..SOLO_LOGINS {
        alone.push(send(server.address, &storm_login(index * STORM_PATTERN)).took());
    }
    let login_alone =
        Duration::from_secs_f64(median(alone.iter().map(Duration::as_secs_f64).collect()));

    eprintln!("stress: login storm, {STORM_LOGINS} logins at once");
    let reader = LeaderboardReader::start(server.address);
    let requests = (0..STORM_LOGINS).map(storm_login).collect();
    let storm = burst(server.address, requests)?;
    let reads = reader.stop()?;
    let peak_rss = server.peak_resident_bytes()?;
    let (released, drained, drain) = (storm.released, storm.drained(), storm.took());
    let logins = storm.answers;

    // The reads that started while the storm was on.
    let storm_reads: Vec<&Answer> = reads
        .iter()
        .filter(|read| read.sent >= released && read.sent <= drained)
        .collect();
    let mut read_times: Vec<Duration> = storm_reads.iter().map(|read| read.took()).collect();
    read_times.sort();
    let read_errors = storm_reads
        .iter()
        .filter(|read| read.status() != 200)
        .count();
    let read_p50 = percentile(&read_times, 0.50);
    let read_p99 = percentile(&read_times, 0.99);
    let read_max = read_times.last().copied().unwrap_or_default();

    let counts = status_counts(&logins);
    // Only logins that got a slot or a place in the queue ran scrypt: 200 and 401.
    let hashed = [200, 401]
        .iter()
        .filter_map(|status| counts.get(status))
        .sum::<usize>() as u64;
    let rounds = hashed.div_ceil(HASHING_SLOTS).max(1);
    let per_round = drain / rounds as u32;
    let mut by_credentials: BTreeMap<Credentials, Vec<&Answer>> = BTreeMap::new();
    for (index, answer) in logins.iter().enumerate() {
        by_credentials
            .entry(Credentials::of_login(index))
            .or_default()
            .push(answer);
    }
    let unexpected: Vec<String> = by_credentials
        .iter()
        .flat_map(|(credentials, answers)| {
            answers
                .iter()
                .filter(|answer| !credentials.admits(answer.status()))
                .map(|answer| match &answer.response {
                    Ok(response) => format!(
                        "{}: {} {}",
                        credentials.name(),
                        response.status,
                        response.body
                    ),
                    Err(error) => format!("{}: {error}", credentials.name()),
                })
        })
        .collect();
    let breakdown = by_credentials
        .iter()
        .map(|(credentials, answers)| {
            format!(
                "{} ({}): {}",
                credentials.name(),
                answers.len(),
                describe_counts(&status_counts(answers.iter().copied()))
            )
        })
        .collect::<Vec<_>>()
        .join("; ");

    let checks = vec![
        Check {
            scenario: "login storm",
            figure: format!("answers to {STORM_LOGINS} logins at once"),
            measured: format!("{}; by kind: {breakdown}", describe_counts(&counts)),
            target: "only 200, 401, 429 or 503; 200 only for the right password, 401 only for \
                     a wrong one"
                .to_owned(),
            met: unexpected.is_empty(),
            correctness: true,
        },
        Check {
            scenario: "login storm",
            figure: "time to drain (release to last answer)".to_owned(),
            measured: format!(
                "{:.2} s: {hashed} logins hashed, {rounds} rounds of {HASHING_SLOTS} slots at \
                 {:.2} s each (one login alone, just before: {:.2} s)",
                drain.as_secs_f64(),
                per_round.as_secs_f64(),
                login_alone.as_secs_f64()
            ),
            target: format!("< {} s", MAX_DRAIN.as_secs()),
            met: drain < MAX_DRAIN,
            correctness: false,
        },
        Check {
            scenario: "login storm",
            figure: "peak RSS (VmHWM)".to_owned(),
            measured: format!(
                "{} (idle {}; bound {})",
                mebibytes(peak_rss),
                mebibytes(idle_rss),
                mebibytes(bound)
            ),
            target: format!("≤ idle + {HASHING_SLOTS} slots × 128 MiB + 64 MiB"),
            met: peak_rss <= bound,
            correctness: false,
        },
        Check {
            scenario: "login storm",
            figure: format!("`GET {LEADERBOARD_READ}` p99 during the storm"),
            measured: format!(
                "{:.2} ms (p50 {:.2} ms, max {:.2} ms, {} reads)",
                milliseconds(read_p99),
                milliseconds(read_p50),
                milliseconds(read_max),
                read_times.len()
            ),
            target: format!("< {} ms", MAX_LEADERBOARD_P99.as_millis()),
            met: read_p99 < MAX_LEADERBOARD_P99 && !read_times.is_empty(),
            correctness: false,
        },
        Check {
            scenario: "login storm",
            figure: format!("`GET {LEADERBOARD_READ}` errors during the storm"),
            measured: format!("{read_errors} of {}", storm_reads.len()),
            target: "none".to_owned(),
            met: read_errors == 0,
            correctness: true,
        },
    ];
    let json = serde_json::json!({
        "logins": STORM_LOGINS,
        "statuses": counts_json(&counts),
        "statuses_by_credentials": by_credentials.iter().map(|(credentials, answers)| {
            (credentials.name().to_owned(), counts_json(&status_counts(answers.iter().copied())))
        }).collect::<serde_json::Map<_, _>>(),
        "unexpected_answers": unexpected,
        "drain_ms": milliseconds(drain),
        "hashed_logins": hashed,
        "drain_per_round_of_slots_ms": milliseconds(per_round),
        "login_alone_before_storm_ms": milliseconds(login_alone),
        "idle_rss_bytes": idle_rss,
        "peak_rss_bytes": peak_rss,
        "peak_rss_bound_bytes": bound,
        "leaderboard_reads": {
            "target": LEADERBOARD_READ,
            "pause_between_reads_ms": milliseconds(LEADERBOARD_READ_PAUSE),
            "count": read_times.len(),
            "errors": read_errors,
            "p50_ms": milliseconds(read_p50),
            "p99_ms": milliseconds(read_p99),
            "max_ms": milliseconds(read_max),
        },
    });
    Ok((checks, json))
}

fn same_username_signups(address: SocketAddr) -> Result<(Vec<Check>, serde_json::Value), String> {
    eprintln!("stress: {SAME_USERNAME_SIGNUPS} sign-ups of one username at once");
    let requests = (0..SAME_USERNAME_SIGNUPS)
        .map(|index| signup(&format!("stampede-{index}@example.com"), "stampede"))
        .collect();
    let burst = burst(address, requests)?;
    let (took, answers) = (burst.took(), burst.answers);
    let counts = status_counts(&answers);
    let created = counts.get(&201).copied().unwrap_or(0);
    let conflicts = answers
        .iter()
        .filter(|answer| answer.status() == 409 && answer.body_json()["code"] == "username_taken")
        .count();
    let met = created == 1 && conflicts == SAME_USERNAME_SIGNUPS - 1;
    let checks = vec![Check {
        scenario: "same-username sign-ups",
        figure: format!("answers to {SAME_USERNAME_SIGNUPS} sign-ups of one username at once"),
        measured: format!(
            "{} ({conflicts} of the 409s `username_taken`); all answered in {}",
            describe_counts(&counts),
            readable(took)
        ),
        target: format!(
            "exactly one 201, {} × 409 `username_taken`",
            SAME_USERNAME_SIGNUPS - 1
        ),
        met,
        correctness: true,
    }];
    let json = serde_json::json!({
        "signups": SAME_USERNAME_SIGNUPS,
        "statuses": counts_json(&counts),
        "username_taken": conflicts,
        "all_answered_ms": milliseconds(took),
    });
    Ok((checks, json))
}

fn concurrent_scores(address: SocketAddr) -> Result<(Vec<Check>, serde_json::Value), String> {
    eprintln!("stress: signing up {SCORE_PLAYERS} players");
    let signups = (0..SCORE_PLAYERS)
        .map(|index| {
            signup(
                &format!("scorer-{index}@example.com"),
                &format!("scorer_{index}"),
            )
        })
        .collect();
    let tokens = burst(address, signups)?
        .answers
        .iter()
        .map(|answer| match answer.body_json()["token"].as_str() {
            Some(token) if answer.status() == 201 => Ok(token.to_owned()),
            _ => Err(format!(
                "signing up a scoring player answered {}: {:?}",
                answer.status(),
                answer.response
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;

    eprintln!(
        "stress: {} score submissions at once",
        SCORE_PLAYERS * SCORES_PER_PLAYER
    );
    // Each player posts half of its scores in each mode, so each mode gets exactly 100.
    let mut requests = Vec::new();
    for (player_index, token) in tokens.iter().enumerate() {
        for submission_index in 0..SCORES_PER_PLAYER {
            let mode = if submission_index % 2 == 0 {
                "walls"
            } else {
                "pass-through"
            };
            let score = FIRST_SCORE + player_index * SCORES_PER_PLAYER + submission_index;
            let body = serde_json::json!({ "score": score, "mode": mode });
            requests.push(post_json("/api/leaderboard", &body, Some(token)));
        }
    }
    let submitted = requests.len();
    let burst = burst(address, requests)?;
    let (took, answers) = (burst.took(), burst.answers);
    let counts = status_counts(&answers);
    let created: HashSet<String> = answers
        .iter()
        .filter(|answer| answer.status() == 201)
        .filter_map(|answer| answer.body_json()["id"].as_str().map(str::to_owned))
        .collect();

    let mut listed = HashSet::new();
    for mode in ["walls", "pass-through"] {
        let read = get(&format!("/api/leaderboard?mode={mode}&limit=100"), &[]);
        let answer = send(address, &read);
        let entries = answer.body_json();
        let entries = entries
            .as_array()
            .ok_or_else(|| format!("{} answered {:?}", read.target, answer.response))?;
        listed.extend(
            entries
                .iter()
                .filter_map(|entry| entry["id"].as_str().map(str::to_owned)),
        );
    }
    let stored = created.intersection(&listed).count();
    let all_created = counts.get(&201) == Some(&submitted) && created.len() == submitted;
    let checks = vec![
        Check {
            scenario: "concurrent scores",
            figure: format!(
                "answers to {submitted} submissions at once from {SCORE_PLAYERS} players"
            ),
            measured: format!(
                "{}; all answered in {}",
                describe_counts(&counts),
                readable(took)
            ),
            target: format!("all {submitted} are 201"),
            met: all_created,
            correctness: true,
        },
        Check {
            scenario: "concurrent scores",
            figure: "scores stored (each mode's top 100)".to_owned(),
            measured: format!("{stored} of {submitted}"),
            target: format!("all {submitted}"),
            met: stored == submitted,
            correctness: true,
        },
    ];
    let json = serde_json::json!({
        "players": SCORE_PLAYERS,
        "submissions": submitted,
        "statuses": counts_json(&counts),
        "distinct_ids_created": created.len(),
        "stored": stored,
        "all_answered_ms": milliseconds(took),
    });
    Ok((checks, json))
}

fn enumeration_timing(
    server: &BenchProcess,
    samples: usize,
) -> Result<(Vec<Check>, serde_json::Value), String> {
    let mut unknown_email = Vec::new();
    let mut wrong_password = Vec::new();
    let mut answers = BTreeMap::new();
    for round in 0..TIMING_WARM_UP + samples {
        let (email, _) = SEEDED_ACCOUNTS[round % SEEDED_ACCOUNTS.len()];
        let password = format!("timing-wrong-{round}");
        let unknown = post_json(
            "/api/auth/login",
            &serde_json::json!({ "email": format!("timing-nobody-{round}@example.com"), "password": password }),
            None,
        );
        let wrong = post_json(
            "/api/auth/login",
            &serde_json::json!({ "email": email, "password": password }),
            None,
        );
        // Alternate which path goes first, so neither always follows the other.
        let (unknown_answer, wrong_answer) = if round % 2 == 0 {
            let unknown_answer = send(server.address, &unknown);
            (unknown_answer, send(server.address, &wrong))
        } else {
            let wrong_answer = send(server.address, &wrong);
            (send(server.address, &unknown), wrong_answer)
        };
        for answer in [&unknown_answer, &wrong_answer] {
            let key = match &answer.response {
                Ok(response) => format!("{} {}", response.status, response.body),
                Err(error) => format!("no answer: {error}"),
            };
            *answers.entry(key).or_insert(0usize) += 1;
        }
        if round >= TIMING_WARM_UP {
            unknown_email.push(unknown_answer.took().as_secs_f64());
            wrong_password.push(wrong_answer.took().as_secs_f64());
        }
    }
    let unknown_median = median(unknown_email.clone());
    let wrong_median = median(wrong_password.clone());
    let difference = (unknown_median - wrong_median).abs() / wrong_median;
    let only_answer = (answers.len() == 1)
        .then(|| answers.keys().next().cloned())
        .flatten();
    let identical = only_answer
        .as_deref()
        .is_some_and(|answer| answer.starts_with("401 "));
    let checks = vec![
        Check {
            scenario: "enumeration timing",
            figure: "unknown email vs wrong password: status and body".to_owned(),
            measured: if identical {
                format!("identical in all {} logins", 2 * (TIMING_WARM_UP + samples))
            } else {
                format!("{} different answers", answers.len())
            },
            target: "one and the same 401 for both".to_owned(),
            met: identical,
            correctness: true,
        },
        Check {
            scenario: "enumeration timing",
            figure: format!("median time, {samples} logins per path, alternating"),
            measured: format!(
                "unknown email {:.1} ms, wrong password {:.1} ms: {:.1}% apart",
                unknown_median * 1e3,
                wrong_median * 1e3,
                difference * 100.0
            ),
            target: format!("< {:.0}% apart", MAX_TIMING_DIFFERENCE * 100.0),
            met: difference < MAX_TIMING_DIFFERENCE,
            correctness: false,
        },
    ];
    let to_ms = |seconds: &[f64]| {
        seconds
            .iter()
            .map(|second| round_to(second * 1e3, 2))
            .collect::<Vec<_>>()
    };
    let json = serde_json::json!({
        "samples_per_path": samples,
        "warm_up_rounds": TIMING_WARM_UP,
        "answers": answers,
        "unknown_email_ms": to_ms(&unknown_email),
        "wrong_password_ms": to_ms(&wrong_password),
        "unknown_email_median_ms": round_to(unknown_median * 1e3, 2),
        "wrong_password_median_ms": round_to(wrong_median * 1e3, 2),
        "relative_difference": round_to(difference, 4),
    });
    Ok((checks, json))
}

fn report(
    machine: &serde_json::Value,
    storm_arguments: &[String],
    signup_arguments: &[String],
    checks: &[Check],
    results_path: &str,
) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Machine: {} cores ({}), {} GiB, Linux {}; load average at start {}; {}.",
        machine["cores"],
        machine["cpu"].as_str().unwrap_or(""),
        machine["memory_gib"],
        machine["kernel"].as_str().unwrap_or(""),
        machine["load_average_at_start"].as_str().unwrap_or(""),
        machine["date"].as_str().unwrap_or(""),
    );
    let _ = writeln!(
        text,
        "Login storm and enumeration timing: `snake-arena-server --bind 127.0.0.1:PORT {}` \
         (seeded; the per-client failed-login limit raised because every login comes from \
         127.0.0.1; the rest at defaults).",
        storm_arguments.join(" ")
    );
    let _ = writeln!(
        text,
        "Sign-ups and scores: `snake-arena-server --bind 127.0.0.1:PORT {}` (seeded; the \
         per-client sign-up limit raised and the hashing queue lengthened so that all 50 \
         same-username sign-ups wait for a slot instead of getting 503).",
        signup_arguments.join(" ")
    );
    text.push_str("\n| scenario | figure | measured | target | verdict |\n|---|---|---|---|---|\n");
    for check in checks {
        let kind = if check.correctness {
            " (correctness)"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {}{kind} | {} |",
            check.scenario,
            check.figure,
            check.measured,
            check.target,
            verdict(check.met)
        );
    }
    let _ = write!(text, "\nAll figures: {results_path}");
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{
        Credentials, SIGNUP_FLAGS, STORM_LOGINS, arguments_with, parse_options, percentile,
    };

    #[test]
    fn the_99th_percentile_is_the_nearest_rank() {
        let values: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 0.99), Duration::from_millis(198));
        assert_eq!(percentile(&values, 0.5), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn most_storm_logins_have_the_right_password() {
        let right = (0..STORM_LOGINS)
            .filter(|&index| Credentials::of_login(index) == Credentials::Right)
            .count();
        assert_eq!(right, 180);
    }

    #[test]
    fn only_the_right_password_logs_in_and_only_a_wrong_one_is_refused() {
        assert!(Credentials::Right.admits(200));
        assert!(!Credentials::Right.admits(401));
        assert!(Credentials::UnknownEmail.admits(401));
        assert!(!Credentials::WrongPassword.admits(200));
        assert!(Credentials::WrongPassword.admits(503));
        assert!(!Credentials::Right.admits(500));
        assert!(!Credentials::Right.admits(0));
    }

    #[test]
    fn a_scenario_flag_replaces_the_production_value_instead_of_repeating_it() {
        let arguments = arguments_with(&SIGNUP_FLAGS);
        let queue = arguments
            .iter()
            .position(|argument| argument == "--hashing-queue")
            .unwrap();
        assert_eq!(arguments[queue + 1], "64");
        assert_eq!(
            arguments
                .iter()
                .filter(|argument| *argument == "--hashing-queue")
                .count(),
            1
        );
        assert!(arguments.contains(&"--signups-per-client-per-hour".to_owned()));
    }

    #[test]
    fn timing_samples_must_be_positive() {
        assert_eq!(parse_options(&[]).unwrap().timing_samples, 15);
        let zero = ["--timing-samples".to_owned(), "0".to_owned()];
        assert!(parse_options(&zero).is_err());
    }
}
