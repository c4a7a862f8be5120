//! `cargo xtask crash`: no write the server acknowledged is ever lost to a crash.
//!
//! Each round starts the release server on one SQLite database, lets several clients sign up, log
//! in, submit scores and log out at once, kills the server with SIGKILL at a random moment, checks
//! the file with `PRAGMA integrity_check`, restarts the server on the same file and checks, through
//! the API, that every write answered 2xx is there, every logout answered 204 stays revoked and
//! nothing is there that was never sent. A write still in flight at the kill may land or not; both
//! are fine, and the report counts them.
//!
//! Scores are how "nothing that was never sent" can be checked through the API: every round's
//! scores are above every earlier round's and at most a board's length (100) of them are sent, so
//! the round's scores are exactly the top of the `walls` board, where each one must be a score a
//! client sent.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bench::ceiling::RecordedResponse;
use crate::bench::load::LoadRequest;
use crate::bench::process::{BenchProcess, exchange_within};
use crate::bench::{build_release_server, get, post_json, target_directory};

pub const USAGE: &str = "usage: cargo xtask crash [--rounds N] [--clients N] [--seed S]

Builds the release server and runs N rounds (default 20) on one SQLite database under
target/crash/: start the server, run concurrent sign-ups, logins, logouts and score submissions
from several clients, kill -9 the server at a random moment, check the file with sqlite3's
PRAGMA integrity_check, restart on the same file and check that every write answered 2xx is
there, every logout answered 204 stays revoked and nothing is there that was never sent.
Prints rounds, writes acknowledged and writes lost (must be 0) and writes
target/crash/results.json. Exits 1 when a write was lost, something unsent appeared or the
file is damaged. Needs the sqlite3 command-line tool (Debian's sqlite3).

  --rounds N   rounds to run (default 20, at most 100; CI runs 5)
  --clients N  concurrent clients (default 8)
  --seed S     seed for the kill moments (default: from the clock; printed, so a failing run
               can be repeated)";

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

struct Options {
    rounds: usize,
    clients: usize,
    seed: u64,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let clock_seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64);
    let mut options = Options {
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
}

pub fn run(arguments: &[String]) -> Result<String, String> {
    let options = parse_options(arguments)?;
    ensure_sqlite3()?;
    let binary = build_release_server("crash")?;
    let directory = target_directory().join("crash");
    std::fs::create_dir_all(&directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let database = directory.join("crash.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
    let server_arguments = server_arguments(&database);
    eprintln!(
        "crash: {} rounds, {} clients, seed {}, database {}",
        options.rounds,
        options.clients,
        options.seed,
        database.display()
    );

    let mut kill_clock = KillClock(options.seed.max(1));
    let mut totals = Findings::default();
    let mut damaged = Vec::new();
    let started = Instant::now();
    for round in 0..options.rounds {
        let server = BenchProcess::start_server(&binary, &server_arguments)?;
        let delay = kill_clock.next_delay();
        let ledger = load_until_killed(server, round, options.clients, delay)?;
        let integrity = integrity_check(&database)?;
        if integrity != "ok" {
            damaged.push(format!("round {round}: integrity_check said {integrity}"));
        }
        let server = BenchProcess::start_server(&binary, &server_arguments)?;
        let findings = check_after_restart(server.address, round, &ledger);
        drop(server);
        eprintln!(
            "crash: round {round}: killed after {} ms, {} writes acknowledged, {} lost, {} unanswered \
             ({} of their scores landed), integrity {integrity}",
            delay.as_millis(),
            findings.acknowledged,
            findings.lost.len(),
            findings.unanswered,
            findings.unanswered_scores_landed,
        );
        totals.acknowledged += findings.acknowledged;
        totals.unanswered += findings.unanswered;
        totals.unanswered_scores_landed += findings.unanswered_scores_landed;
        totals.lost.extend(findings.lost);
        totals.never_sent.extend(findings.never_sent);
    }

    let results = serde_json::json!({
        "rounds": options.rounds,
        "clients": options.clients,
        "seed": options.seed,
        "writes_acknowledged": totals.acknowledged,
        "writes_lost": totals.lost.len(),
        "never_sent_but_present": totals.never_sent.len(),
        "writes_unanswered": totals.unanswered,
        "unanswered_scores_that_landed": totals.unanswered_scores_landed,
        "integrity_failures": damaged,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let results_path = directory.join("results.json");
    std::fs::write(&results_path, format!("{results:#}\n"))
        .map_err(|error| format!("cannot write {}: {error}", results_path.display()))?;

    let mut report = String::new();
    let _ = writeln!(report, "| figure | value |\n|---|---|");
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
    let _ = writeln!(report, "| integrity_check not ok | {} |", damaged.len());
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

fn server_arguments(database: &Path) -> Vec<String> {
    let mut arguments: Vec<String> = SERVER_FLAGS.iter().map(|flag| flag.to_string()).collect();
    arguments.push(HASHING_QUEUE.to_owned());
    arguments.push("--database-url".to_owned());
    arguments.push(format!("sqlite://{}", database.display()));
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

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
}

fn token_of(response: &RecordedResponse) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&response.body).ok()?;
    body["token"].as_str().map(str::to_owned)
}

/// Runs every client against the server until `delay` has passed, then kills the server with
/// SIGKILL (dropping a `BenchProcess` kills it) while the clients are still sending.
fn load_until_killed(
    server: BenchProcess,
    round: usize,
    clients: usize,
    delay: Duration,
) -> Result<Ledger, String> {
    let address = server.address;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let next_score = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let ledger = Arc::clone(&ledger);
            let stop = Arc::clone(&stop);
            let next_score = Arc::clone(&next_score);
            std::thread::spawn(move || {
                client_loop(address, round, client, &ledger, &stop, &next_score);
            })
        })
        .collect();
    std::thread::sleep(delay);
    drop(server);
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a client thread panicked".to_owned())?;
    }
    Arc::try_unwrap(ledger)
        .map_err(|_| "the ledger is still shared".to_owned())?
        .into_inner()
        .map_err(|_| "the ledger's lock is poisoned".to_owned())
}

/// One client: sign up, submit a score while the round has some left, log in again, log out the
/// first session; again and again until the server is gone.
fn client_loop(
    address: SocketAddr,
    round: usize,
    client: usize,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
    next_score: &AtomicUsize,
) {
    let record = |change: &dyn Fn(&mut Ledger)| {
        let mut ledger = ledger.lock().unwrap_or_else(|poison| poison.into_inner());
        change(&mut ledger);
    };
    let send = |request: &LoadRequest| exchange_within(ANSWER_TIMEOUT, address, request);
    for sequence in 0.. {
        if stop.load(Ordering::SeqCst) {
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
            Ok(response) if response.status == 201 => {
                let Some(token) = token_of(&response) else {
                    return;
                };
                record(&|ledger| {
                    ledger.accounts.push((email.clone(), username.clone()));
                    ledger.live_tokens.push(token.clone());
                });
                token
            }
            Ok(_) => continue,
            Err(_) => {
                record(&|ledger| ledger.unanswered += 1);
                return;
            }
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
                Ok(response) if response.status == 201 => {
                    record(&|ledger| {
                        ledger.scores_acknowledged.insert(score);
                    });
                }
                Ok(_) => {}
                Err(_) => {
                    record(&|ledger| ledger.unanswered += 1);
                    return;
                }
            }
        }

        let login = post_json(
            "/api/auth/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
            None,
        );
        match send(&login) {
            Ok(response) if response.status == 200 => {
                if let Some(token) = token_of(&response) {
                    record(&|ledger| ledger.live_tokens.push(token.clone()));
                }
            }
            Ok(_) => {}
            Err(_) => {
                record(&|ledger| ledger.unanswered += 1);
                return;
            }
        }

        // The session is live until the logout is answered: a logout cut off by the kill may or
        // may not have landed, so that token is checked neither way.
        record(&|ledger| ledger.live_tokens.retain(|token| *token != first_token));
        let logout = post_json(
            "/api/auth/logout",
            &serde_json::json!({}),
            Some(&first_token),
        );
        match send(&logout) {
            Ok(response) if response.status == 204 => {
                record(&|ledger| ledger.revoked_tokens.push(first_token.clone()));
            }
            Ok(_) => {}
            Err(_) => {
                record(&|ledger| ledger.unanswered += 1);
                return;
            }
        }
    }
}

/// Everything the ledger says was acknowledged, checked through the restarted server's API.
fn check_after_restart(address: SocketAddr, round: usize, ledger: &Ledger) -> Findings {
    let send = |request: &LoadRequest| exchange_within(ANSWER_TIMEOUT, address, request);
    let status_of = |request: &LoadRequest| send(request).map_or(0, |response| response.status);
    let mut findings = Findings {
        acknowledged: ledger.acknowledged_writes(),
        unanswered: ledger.unanswered,
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
        assert!(parse_options(&["--rounds".to_owned()]).is_err());
    }
}
