//! `cargo xtask crash`: no write the server acknowledged is ever lost to a crash.
//!
//! Each round starts the release server on one database (a SQLite file, or with `--backend
//! postgres` a throwaway PostgreSQL cluster of its own), lets several clients sign up, log in,
//! submit scores and log out at once, kills the server with SIGKILL at a random moment, checks the
//! database's own consistency (SQLite's `PRAGMA integrity_check`; on PostgreSQL, amcheck's
//! `bt_index_check` of every index with `heapallindexed`), restarts the server on the same database
//! and checks, through the API, that every write answered 2xx is there, every logout answered 204
//! stays revoked and nothing is there that was never sent. A write still in flight at the kill may
//! land or not; both are fine, and the report counts them.
//!
//! On PostgreSQL every second round also stops PostgreSQL itself under the load, before the kill:
//! alternately an orderly `fast` shutdown and an `immediate` one (what a crash of the database
//! leaves: the next start replays the write-ahead log). Meanwhile every answer must be `503
//! store_unavailable` with `Retry-After` (counted) or a success, never another 5xx or no answer,
//! and `GET /api/health` must say 503; once PostgreSQL is back, a write must be acknowledged again
//! within a bound (the recovery time is reported) before the round goes on to its kill.
//!
//! Scores are how "nothing that was never sent" can be checked through the API: every round's
//! scores are above every earlier round's and at most a board's length (100) of them are sent, so
//! the round's scores are exactly the top of the `walls` board, where each one must be a score a
//! client sent.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bench::ceiling::RecordedResponse;
use crate::bench::load::LoadRequest;
use crate::bench::process::{BenchProcess, exchange_within};
use crate::bench::{build_release_server, get, post_json, target_directory};
use crate::postgres_cluster::{PostgresCluster, StopMode};

pub const USAGE: &str =
    "usage: cargo xtask crash [--backend sqlite|postgres] [--rounds N] [--clients N] [--seed S]

Builds the release server and runs N rounds (default 20) on one database: start the server,
run concurrent sign-ups, logins, logouts and score submissions from several clients, kill -9
the server at a random moment, check the database's consistency, restart on the same database
and check that every write answered 2xx is there, every logout answered 204 stays revoked and
nothing is there that was never sent. Prints rounds, writes acknowledged and writes lost (must
be 0) and writes target/crash/results.json (results-postgres.json for PostgreSQL). Exits 1
when a write was lost, something unsent appeared, the database is damaged or (PostgreSQL) an
outage was answered otherwise than 503 store_unavailable or not recovered from.

  --backend B  sqlite (default): one file under target/crash/, checked with sqlite3's PRAGMA
               integrity_check (needs Debian's sqlite3). postgres: a throwaway cluster of its
               own under target/crash/postgres (scripts/start-postgres.sh; needs Debian's
               postgresql), checked with amcheck; every second round also stops PostgreSQL
               mid-load (alternately fast and immediate), expects 503s meanwhile, starts it
               again and waits for a write to be acknowledged before the kill
  --rounds N   rounds to run (default 20, at most 100; CI runs 5 on SQLite, 4 on PostgreSQL)
  --clients N  concurrent clients (default 8)
  --seed S     seed for the kill and outage moments (default: from the clock; printed, so a
               failing run can be repeated)";

/// Every round's scores start here, a round's worth above the previous round's, so they top the
/// board; the contract caps scores at 1,000,000.
const ROUND_SCORE_SPAN: usize = 1_000;
const FIRST_ROUND_SCORE: usize = 900_000;
/// Rounds whose scores all fit under the contract's cap.
const MAX_ROUNDS: usize = (1_000_000 - FIRST_ROUND_SCORE) / ROUND_SCORE_SPAN;
/// At most a board's length of scores per round, so the board shows all of them.
const SCORES_PER_ROUND: usize = 100;
// A round's scores fit in its span, and the last round's under the contract's cap.
const _: () = assert!(SCORES_PER_ROUND <= ROUND_SCORE_SPAN);
const _: () = assert!(FIRST_ROUND_SCORE + MAX_ROUNDS * ROUND_SCORE_SPAN <= 1_000_000);
/// The earliest and latest moment of a kill after the load starts.
const EARLIEST_KILL: Duration = Duration::from_millis(150);
const LATEST_KILL: Duration = Duration::from_millis(1_500);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after PostgreSQL is back a write must be acknowledged again: the pool's wait for a
/// connection (3 s) several times over, for a busy machine.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery";

/// Cheap hashing (the crash is about the store, not scrypt) and limits no round reaches, so
/// every refusal the checks see is a real one.
const SERVER_FLAGS: [&str; 16] = [
    "--no-seed",
    "--log-level",
    "warn",
    "--scrypt-log-n",
    "4",
    "--signups-per-client-per-hour",
    "1000000",
    "--failed-logins-per-client-per-hour",
    "1000000",
    "--failed-logins-per-account-per-hour",
    "0",
    "--max-sessions-per-player",
    "1000",
    "--score-submissions-per-player-per-minute",
    "1000000",
    "--hashing-queue",
];
const HASHING_QUEUE: &str = "1024";

/// The database the rounds run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Whether round `round` stops PostgreSQL mid-load, and how: every second round,
    /// alternately an orderly shutdown and a crash-like one.
    fn outage_in_round(self, round: usize) -> Option<StopMode> {
        match (self, round % 4) {
            (Backend::Postgres, 1) => Some(StopMode::Fast),
            (Backend::Postgres, 3) => Some(StopMode::Immediate),
            _ => None,
        }
    }
}

struct Options {
    backend: Backend,
    rounds: usize,
    clients: usize,
    seed: u64,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let clock_seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64);
    let mut options = Options {
        backend: Backend::Sqlite,
        rounds: 20,
        clients: 8,
        seed: clock_seed,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let mut number = |name: &str| {
            arguments
                .next()
                .and_then(|value| value.parse::<u64>().ok())
                .ok_or_else(|| format!("{name} needs a whole number\n\n{USAGE}"))
        };
        match argument.as_str() {
            "--rounds" => options.rounds = number("--rounds")?.clamp(1, MAX_ROUNDS as u64) as usize,
            "--clients" => options.clients = number("--clients")?.max(1) as usize,
            "--seed" => options.seed = number("--seed")?,
            "--backend" => {
                options.backend = match arguments.next().map(String::as_str) {
                    Some("sqlite") => Backend::Sqlite,
                    Some("postgres") => Backend::Postgres,
                    _ => return Err(format!("--backend takes sqlite or postgres\n\n{USAGE}")),
                }
            }
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// A small generator for the kill moments; xorshift is plenty, and it keeps xtask free of `rand`.
struct KillClock(u64);

impl KillClock {
    fn next_delay(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let span = (LATEST_KILL - EARLIEST_KILL).as_millis() as u64;
        EARLIEST_KILL + Duration::from_millis(self.0 % span)
    }
}

/// What the clients of one round sent and which of it the server acknowledged.
#[derive(Default)]
struct Ledger {
    /// Accounts whose sign-up was answered 201: (email, username).
    accounts: Vec<(String, String)>,
    /// Sessions the server handed out (sign-up or login answered 2xx) and not logged out since.
    live_tokens: Vec<String>,
    /// Tokens whose logout was answered 204.
    revoked_tokens: Vec<String>,
    /// Every score a client sent (answered or not), with the username that sent it.
    scores_sent: HashMap<u32, String>,
    /// Scores answered 201.
    scores_acknowledged: BTreeSet<u32>,
    /// Writes sent whose answer never came (the kill cut them off).
    unanswered: usize,
    /// Writes answered 2xx so far, counted up only, so the recovery after an outage can be seen.
    successes: usize,
    /// Answers `503 store_unavailable` with `Retry-After`: the database was down or stuck.
    unavailable: usize,
    /// Answers no round may see: another 5xx, a 503 of another kind or without `Retry-After`,
    /// or no answer at all while the server was running.
    faults: Vec<String>,
    /// What the outage of this round (if it had one) showed.
    outage: Option<OutageReport>,
}

/// What one stop of PostgreSQL under load showed.
struct OutageReport {
    mode: StopMode,
    /// `GET /api/health` while PostgreSQL was down (503 expected).
    health_while_down: u16,
    /// From PostgreSQL accepting connections again to the first write acknowledged after it.
    recovered_within: Option<Duration>,
}

impl Ledger {
    fn acknowledged_writes(&self) -> usize {
        self.accounts.len()
            + self.live_tokens.len()
            + self.revoked_tokens.len()
            + self.scores_acknowledged.len()
    }
}

/// What the checks after one restart found.
#[derive(Default)]
struct Findings {
    acknowledged: usize,
    lost: Vec<String>,
    never_sent: Vec<String>,
    unanswered: usize,
    unanswered_scores_landed: usize,
    unavailable: usize,
    faults: Vec<String>,
    outages: usize,
    fast_outages: usize,
    slowest_recovery: Duration,
}

/// The database a run uses: the SQLite file, or the PostgreSQL cluster it started.
enum Database {
    Sqlite(PathBuf),
    Postgres(PostgresCluster),
}

impl Database {
    fn prepare(backend: Backend, directory: &Path) -> Result<Self, String> {
        match backend {
            Backend::Sqlite => {
                ensure_sqlite3()?;
                let database = directory.join("crash.sqlite3");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
                }
                Ok(Database::Sqlite(database))
            }
            Backend::Postgres => Ok(Database::Postgres(PostgresCluster::start(
                &directory.join("postgres"),
            )?)),
        }
    }

    fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(cluster) => cluster.url.clone(),
        }
    }

    /// The database's own consistency check, as the next start would find it: "ok" or what is
    /// wrong.
    fn integrity_check(&self) -> Result<String, String> {
        match self {
            Database::Sqlite(path) => integrity_check(path),
            Database::Postgres(cluster) => Ok(amcheck(cluster)),
        }
    }
}

pub fn run(arguments: &[String]) -> Result<String, String> {
    let options = parse_options(arguments)?;
    let binary = build_release_server("crash")?;
    let directory = target_directory().join("crash");
    std::fs::create_dir_all(&directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let database = Database::prepare(options.backend, &directory)?;
    let server_arguments = server_arguments(&database.url());
    eprintln!(
        "crash: {} rounds, {} clients, seed {}, database {}",
        options.rounds,
        options.clients,
        options.seed,
        database.url()
    );

    let mut kill_clock = KillClock(options.seed.max(1));
    let mut totals = Findings::default();
    let mut damaged = Vec::new();
    let started = Instant::now();
    for round in 0..options.rounds {
        let server = BenchProcess::start_server(&binary, &server_arguments)?;
        let plan = RoundPlan {
            outage: options
                .backend
                .outage_in_round(round)
                .map(|mode| (kill_clock.next_delay(), mode)),
            kill_after: kill_clock.next_delay(),
        };
        let cluster = match &database {
            Database::Postgres(cluster) => Some(cluster),
            Database::Sqlite(_) => None,
        };
        let ledger = load_until_killed(server, round, options.clients, &plan, cluster)?;
        let integrity = database.integrity_check()?;
        if integrity != "ok" {
            damaged.push(format!(
                "round {round}: the consistency check said {integrity}"
            ));
        }
        let server = BenchProcess::start_server(&binary, &server_arguments)?;
        let findings = check_after_restart(server.address, round, &ledger);
        drop(server);
        let outage = match &ledger.outage {
            None => String::new(),
            Some(report) => format!(
                "; PostgreSQL stopped ({}) after {} ms: health {} meanwhile, writes acknowledged \
                 again {}",
                report.mode.name(),
                plan.outage.map_or(0, |(after, _)| after.as_millis()),
                report.health_while_down,
                report.recovered_within.map_or_else(
                    || "never".to_owned(),
                    |within| format!("{} ms after its restart", within.as_millis())
                ),
            ),
        };
        eprintln!(
            "crash: round {round}: killed {} ms after the load{}, {} writes acknowledged, {} lost, \
             {} unanswered ({} of their scores landed), {} × 503, {} faults, integrity {integrity}{outage}",
            plan.kill_after.as_millis(),
            if plan.outage.is_some() {
                " (or the recovery)"
            } else {
                ""
            },
            findings.acknowledged,
            findings.lost.len(),
            findings.unanswered,
            findings.unanswered_scores_landed,
            findings.unavailable,
            findings.faults.len(),
        );
        totals.acknowledged += findings.acknowledged;
        totals.unanswered += findings.unanswered;
        totals.unanswered_scores_landed += findings.unanswered_scores_landed;
        totals.unavailable += findings.unavailable;
        totals.outages += findings.outages;
        totals.fast_outages += findings.fast_outages;
        totals.slowest_recovery = totals.slowest_recovery.max(findings.slowest_recovery);
        totals.lost.extend(findings.lost);
        totals.never_sent.extend(findings.never_sent);
        totals.faults.extend(findings.faults);
    }

    let results = serde_json::json!({
        "backend": options.backend.name(),
        "rounds": options.rounds,
        "clients": options.clients,
        "seed": options.seed,
        "writes_acknowledged": totals.acknowledged,
        "writes_lost": totals.lost.len(),
        "never_sent_but_present": totals.never_sent.len(),
        "writes_unanswered": totals.unanswered,
        "unanswered_scores_that_landed": totals.unanswered_scores_landed,
        "integrity_failures": damaged,
        "database_outages": totals.outages,
        "database_outages_fast": totals.fast_outages,
        "database_outages_immediate": totals.outages - totals.fast_outages,
        "answers_503_store_unavailable": totals.unavailable,
        "faults": totals.faults,
        "slowest_recovery_ms": totals.slowest_recovery.as_millis() as u64,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let results_path = directory.join(match options.backend {
        Backend::Sqlite => "results.json",
        Backend::Postgres => "results-postgres.json",
    });
    std::fs::write(&results_path, format!("{results:#}\n"))
        .map_err(|error| format!("cannot write {}: {error}", results_path.display()))?;

    let mut report = String::new();
    let _ = writeln!(report, "| figure | value |\n|---|---|");
    let _ = writeln!(report, "| backend | {} |", options.backend.name());
    let _ = writeln!(report, "| rounds (kill -9 each) | {} |", options.rounds);
    let _ = writeln!(report, "| writes acknowledged | {} |", totals.acknowledged);
    let _ = writeln!(report, "| writes lost | {} |", totals.lost.len());
    let _ = writeln!(
        report,
        "| present but never sent | {} |",
        totals.never_sent.len()
    );
    let _ = writeln!(
        report,
        "| writes cut off by the kill | {} ({} of their scores landed) |",
        totals.unanswered, totals.unanswered_scores_landed
    );
    let _ = writeln!(
        report,
        "| {} not ok | {} |",
        match options.backend {
            Backend::Sqlite => "integrity_check",
            Backend::Postgres => "amcheck (every index, heapallindexed)",
        },
        damaged.len()
    );
    if options.backend == Backend::Postgres {
        let _ = writeln!(
            report,
            "| rounds that stopped PostgreSQL mid-load | {} ({} fast, {} immediate) |",
            totals.outages,
            totals.fast_outages,
            totals.outages - totals.fast_outages
        );
        let _ = writeln!(
            report,
            "| slowest recovery (PostgreSQL back to a write acknowledged) | {} ms |",
            totals.slowest_recovery.as_millis()
        );
    }
    let _ = writeln!(
        report,
        "| answers 503 store_unavailable | {} |",
        totals.unavailable
    );
    let _ = writeln!(
        report,
        "| faults (another 5xx, a bad 503, no answer, no recovery) | {} |",
        totals.faults.len()
    );
    let _ = write!(
        report,
        "seed {}, {:.1} s; details in {}",
        options.seed,
        started.elapsed().as_secs_f64(),
        results_path.display()
    );
    let problems: Vec<&String> = totals
        .lost
        .iter()
        .chain(&totals.never_sent)
        .chain(&damaged)
        .chain(&totals.faults)
        .collect();
    if problems.is_empty() {
        Ok(report)
    } else {
        let listed: Vec<&str> = problems
            .iter()
            .take(20)
            .map(|problem| problem.as_str())
            .collect();
        Err(format!("{report}\n\nfailed:\n{}", listed.join("\n")))
    }
}

fn server_arguments(database_url: &str) -> Vec<String> {
    let mut arguments: Vec<String> = SERVER_FLAGS.iter().map(|flag| flag.to_string()).collect();
    arguments.push(HASHING_QUEUE.to_owned());
    arguments.push("--database-url".to_owned());
    arguments.push(database_url.to_owned());
    arguments
}

fn ensure_sqlite3() -> Result<(), String> {
    match Command::new("sqlite3").arg("-version").output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => Err(
            "the sqlite3 command-line tool is needed for PRAGMA integrity_check (Debian: apt-get install sqlite3)"
                .to_owned(),
        ),
    }
}

/// `PRAGMA integrity_check` on the file the killed server left, as the next start would find it.
fn integrity_check(database: &Path) -> Result<String, String> {
    let output = Command::new("sqlite3")
        .arg(database)
        .arg("PRAGMA integrity_check;")
        .output()
        .map_err(|error| format!("cannot run sqlite3: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        Ok(text)
    } else {
        Ok(format!(
            "sqlite3 failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// amcheck on every B-tree index of the server's tables, with `heapallindexed` (every row is
/// found in every index): "ok", or the error PostgreSQL raised.
fn amcheck(cluster: &PostgresCluster) -> String {
    let checked = cluster.psql(
        "CREATE EXTENSION IF NOT EXISTS amcheck; \
         SELECT count(bt_index_check(index.indexrelid, true)) FROM pg_index AS index \
         JOIN pg_class AS class ON class.oid = index.indexrelid \
         JOIN pg_am AS method ON method.oid = class.relam \
         WHERE method.amname = 'btree' AND class.relnamespace = 'public'::regnamespace",
    );
    match checked {
        Ok(count) if count.parse::<u32>().is_ok_and(|count| count > 0) => "ok".to_owned(),
        Ok(count) => format!("amcheck checked {count} indexes"),
        Err(error) => error,
    }
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
}

fn token_of(response: &RecordedResponse) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&response.body).ok()?;
    body["token"].as_str().map(str::to_owned)
}

/// When a round kills the server, and whether it stops PostgreSQL first.
struct RoundPlan {
    /// How long after the load starts PostgreSQL is stopped, and how.
    outage: Option<(Duration, StopMode)>,
    /// How long after the load starts (or, in a round with an outage, after the recovery) the
    /// server is killed.
    kill_after: Duration,
}

/// Runs every client against the server as `plan` says, then kills the server with SIGKILL
/// (dropping a `BenchProcess` kills it) while the clients are still sending.
fn load_until_killed(
    server: BenchProcess,
    round: usize,
    clients: usize,
    plan: &RoundPlan,
    cluster: Option<&PostgresCluster>,
) -> Result<Ledger, String> {
    let address = server.address;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let killing = Arc::new(AtomicBool::new(false));
    let next_score = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let ledger = Arc::clone(&ledger);
            let stop = Arc::clone(&stop);
            let killing = Arc::clone(&killing);
            let next_score = Arc::clone(&next_score);
            std::thread::spawn(move || {
                let flags = ClientFlags {
                    stop: &stop,
                    killing: &killing,
                };
                client_loop(address, round, client, &ledger, flags, &next_score);
            })
        })
        .collect();
    let outage = match (plan.outage, cluster) {
        (Some((after, mode)), Some(cluster)) => {
            std::thread::sleep(after);
            Some(stop_database_under_load(address, cluster, mode, &ledger))
        }
        _ => None,
    };
    std::thread::sleep(plan.kill_after);
    killing.store(true, Ordering::SeqCst);
    drop(server);
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a client thread panicked".to_owned())?;
    }
    let mut ledger = Arc::try_unwrap(ledger)
        .map_err(|_| "the ledger is still shared".to_owned())?
        .into_inner()
        .map_err(|_| "the ledger's lock is poisoned".to_owned())?;
    match outage {
        Some(Ok(report)) => {
            if report.health_while_down != 503 {
                ledger.faults.push(format!(
                    "round {round}: GET /api/health answered {} while PostgreSQL was stopped",
                    report.health_while_down
                ));
            }
            if report.recovered_within.is_none() {
                ledger.faults.push(format!(
                    "round {round}: no write was acknowledged within {} s of PostgreSQL's restart",
                    RECOVERY_LIMIT.as_secs()
                ));
            }
            ledger.outage = Some(report);
        }
        Some(Err(error)) => return Err(error),
        None => {}
    }
    Ok(ledger)
}

/// Stops PostgreSQL while the clients send, asks the server's health meanwhile, starts
/// PostgreSQL again and waits until a write is acknowledged after the restart (or
/// [`RECOVERY_LIMIT`] has passed).
fn stop_database_under_load(
    address: SocketAddr,
    cluster: &PostgresCluster,
    mode: StopMode,
    ledger: &Mutex<Ledger>,
) -> Result<OutageReport, String> {
    let successes = || -> usize {
        ledger
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .successes
    };
    cluster.stop(mode)?;
    // The health check waits up to 2 s for `SELECT 1`: its answer is the outage's length, give
    // or take, during which every client's requests meet the stopped database.
    let health_while_down = exchange_within(ANSWER_TIMEOUT, address, &get("/api/health", &[]))
        .map_or(0, |response| response.status);
    cluster.start_again()?;
    let restarted = Instant::now();
    let successes_at_restart = successes();
    let recovered_within = loop {
        if successes() > successes_at_restart {
            break Some(restarted.elapsed());
        }
        if restarted.elapsed() > RECOVERY_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(OutageReport {
        mode,
        health_while_down,
        recovered_within,
    })
}

/// What a client is told by the round: to stop, and that the kill has begun (after which a
/// missing answer is the kill's doing, not a fault).
#[derive(Clone, Copy)]
struct ClientFlags<'round> {
    stop: &'round AtomicBool,
    killing: &'round AtomicBool,
}

/// One client: sign up, submit a score while the round has some left, log in again, log out the
/// first session; again and again until the server is gone.
fn client_loop(
    address: SocketAddr,
    round: usize,
    client: usize,
    ledger: &Mutex<Ledger>,
    flags: ClientFlags<'_>,
    next_score: &AtomicUsize,
) {
    let record = |change: &dyn Fn(&mut Ledger)| {
        let mut ledger = ledger.lock().unwrap_or_else(|poison| poison.into_inner());
        change(&mut ledger);
    };
    // Every answer is classified before the client looks at it: a success counts towards the
    // recovery, a 503 store_unavailable is counted, and any other 5xx is a fault; so is no
    // answer before the kill began. `None` means no answer: the client stops.
    let send = |request: &LoadRequest| -> Option<RecordedResponse> {
        match exchange_within(ANSWER_TIMEOUT, address, request) {
            Ok(response) => {
                record(&|ledger| classify(ledger, round, request, &response));
                Some(response)
            }
            Err(error) => {
                let killed = flags.killing.load(Ordering::SeqCst);
                record(&|ledger| {
                    ledger.unanswered += 1;
                    if !killed {
                        ledger.faults.push(format!(
                            "round {round}: {} {} got no answer while the server ran: {error}",
                            request.method, request.target
                        ));
                    }
                });
                None
            }
        }
    };
    for sequence in 0.. {
        if flags.stop.load(Ordering::SeqCst) {
            return;
        }
        let username = format!("r{round}c{client}n{sequence}");
        let email = format!("{username}@crash.example.com");
        let signup = post_json(
            "/api/auth/signup",
            &serde_json::json!({"email": email, "username": username, "password": PASSWORD}),
            None,
        );
        let first_token = match send(&signup) {
            Some(response) if response.status == 201 => {
                let Some(token) = token_of(&response) else {
                    return;
                };
                record(&|ledger| {
                    ledger.accounts.push((email.clone(), username.clone()));
                    ledger.live_tokens.push(token.clone());
                });
                token
            }
            Some(_) => continue,
            None => return,
        };

        let index = next_score.fetch_add(1, Ordering::SeqCst);
        if index < SCORES_PER_ROUND {
            let score = (FIRST_ROUND_SCORE + round * ROUND_SCORE_SPAN + index) as u32;
            record(&|ledger| {
                ledger.scores_sent.insert(score, username.clone());
            });
            let submission = post_json(
                "/api/leaderboard",
                &serde_json::json!({"score": score, "mode": "walls"}),
                Some(&first_token),
            );
            match send(&submission) {
                Some(response) if response.status == 201 => {
                    record(&|ledger| {
                        ledger.scores_acknowledged.insert(score);
                    });
                }
                Some(_) => {}
                None => return,
            }
        }

        let login = post_json(
            "/api/auth/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
            None,
        );
        match send(&login) {
            Some(response) if response.status == 200 => {
                if let Some(token) = token_of(&response) {
                    record(&|ledger| ledger.live_tokens.push(token.clone()));
                }
            }
            Some(_) => {}
            None => return,
        }

        // The session is live until the logout is answered: a logout cut off by the kill (or
        // answered 503 while its commit may have landed) may or may not have taken effect, so
        // that token is checked neither way.
        record(&|ledger| ledger.live_tokens.retain(|token| *token != first_token));
        let logout = post_json(
            "/api/auth/logout",
            &serde_json::json!({}),
            Some(&first_token),
        );
        match send(&logout) {
            Some(response) if response.status == 204 => {
                record(&|ledger| ledger.revoked_tokens.push(first_token.clone()));
            }
            Some(_) => {}
            None => return,
        }
    }
}

/// Counts one answer in the ledger: a 2xx as a success, a `503 store_unavailable` with
/// `Retry-After` as the database being unavailable, any other 5xx as a fault.
fn classify(ledger: &mut Ledger, round: usize, request: &LoadRequest, response: &RecordedResponse) {
    let status = response.status;
    if (200..300).contains(&status) {
        ledger.successes += 1;
        return;
    }
    if status < 500 {
        return;
    }
    let code = serde_json::from_str::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|body| body["code"].as_str().map(str::to_owned));
    let retry_after = response
        .headers
        .iter()
        .any(|(name, _)| name == "retry-after");
    if status == 503 && code.as_deref() == Some("store_unavailable") && retry_after {
        ledger.unavailable += 1;
    } else {
        ledger.faults.push(format!(
            "round {round}: {} {} answered {status} {} (Retry-After {})",
            request.method,
            request.target,
            response.body,
            if retry_after { "present" } else { "missing" }
        ));
    }
}

/// Everything the ledger says was acknowledged, checked through the restarted server's API.
fn check_after_restart(address: SocketAddr, round: usize, ledger: &Ledger) -> Findings {
    let send = |request: &LoadRequest| exchange_within(ANSWER_TIMEOUT, address, request);
    let status_of = |request: &LoadRequest| send(request).map_or(0, |response| response.status);
    let mut findings = Findings {
        acknowledged: ledger.acknowledged_writes(),
        unanswered: ledger.unanswered,
        unavailable: ledger.unavailable,
        faults: ledger.faults.clone(),
        outages: usize::from(ledger.outage.is_some()),
        fast_outages: usize::from(
            ledger
                .outage
                .as_ref()
                .is_some_and(|outage| outage.mode == StopMode::Fast),
        ),
        slowest_recovery: ledger
            .outage
            .as_ref()
            .and_then(|outage| outage.recovered_within)
            .unwrap_or_default(),
        ..Findings::default()
    };
    // Sessions first: the logins below add sessions of their own.
    for token in &ledger.live_tokens {
        let status = status_of(&get("/api/auth/me", &bearer(token)));
        if status != 200 {
            findings.lost.push(format!(
                "round {round}: a session handed out before the kill answers {status} to GET /api/auth/me"
            ));
        }
    }
    for token in &ledger.revoked_tokens {
        let status = status_of(&get("/api/auth/me", &bearer(token)));
        if status != 401 {
            findings.lost.push(format!(
                "round {round}: a session logged out (204) before the kill answers {status} to GET /api/auth/me"
            ));
        }
    }
    for (email, username) in &ledger.accounts {
        let login = post_json(
            "/api/auth/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
            None,
        );
        let status = status_of(&login);
        if status != 200 {
            findings.lost.push(format!(
                "round {round}: {username}, signed up (201) before the kill, cannot log in ({status})"
            ));
        }
    }

    let board = match send(&get(
        &format!("/api/leaderboard?mode=walls&limit={SCORES_PER_ROUND}"),
        &[],
    )) {
        Ok(response) if response.status == 200 => {
            serde_json::from_str::<serde_json::Value>(&response.body).unwrap_or_default()
        }
        other => {
            findings.lost.push(format!(
                "round {round}: the leaderboard cannot be read after the restart: {:?}",
                other.map(|response| response.status)
            ));
            return findings;
        }
    };
    let round_floor = (FIRST_ROUND_SCORE + round * ROUND_SCORE_SPAN) as u64;
    let mut on_board = BTreeSet::new();
    for entry in board.as_array().into_iter().flatten() {
        let score = entry["score"].as_u64().unwrap_or(0);
        if score < round_floor {
            continue;
        }
        let username = entry["username"].as_str().unwrap_or_default();
        match ledger.scores_sent.get(&(score as u32)) {
            Some(sender) if sender == username => {
                on_board.insert(score as u32);
            }
            _ => findings.never_sent.push(format!(
                "round {round}: {username}'s {score} is on the board but was never sent by them"
            )),
        }
    }
    for score in &ledger.scores_acknowledged {
        if !on_board.contains(score) {
            findings.lost.push(format!(
                "round {round}: score {score}, answered 201 before the kill, is not on the board"
            ));
        }
    }
    findings.unanswered_scores_landed = on_board
        .iter()
        .filter(|score| !ledger.scores_acknowledged.contains(score))
        .count();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_moments_stay_within_their_window() {
        let mut clock = KillClock(42);
        for _ in 0..1000 {
            let delay = clock.next_delay();
            assert!((EARLIEST_KILL..LATEST_KILL).contains(&delay), "{delay:?}");
        }
    }

    #[test]
    fn options_take_rounds_clients_and_seed() {
        let arguments: Vec<String> = ["--rounds", "5", "--clients", "3", "--seed", "7"]
            .iter()
            .map(|argument| argument.to_string())
            .collect();
        let options = parse_options(&arguments).unwrap();
        assert_eq!((options.rounds, options.clients, options.seed), (5, 3, 7));
        assert_eq!(options.backend, Backend::Sqlite);
        assert!(parse_options(&["--rounds".to_owned()]).is_err());
        let postgres = parse_options(&["--backend".to_owned(), "postgres".to_owned()]).unwrap();
        assert_eq!(postgres.backend, Backend::Postgres);
        assert!(parse_options(&["--backend".to_owned(), "mysql".to_owned()]).is_err());
    }

    #[test]
    fn every_second_postgres_round_stops_the_database_alternately_fast_and_immediately() {
        let outages: Vec<Option<StopMode>> = (0..6)
            .map(|round| Backend::Postgres.outage_in_round(round))
            .collect();
        assert_eq!(
            outages,
            [
                None,
                Some(StopMode::Fast),
                None,
                Some(StopMode::Immediate),
                None,
                Some(StopMode::Fast)
            ]
        );
        assert!((0..6).all(|round| Backend::Sqlite.outage_in_round(round).is_none()));
    }
}
