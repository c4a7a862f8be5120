//! Growth on the durable backends: the persistence issue's targets for a database holding 10^6
//! scores, measured against one holding 10^3, per backend (SQLite always, PostgreSQL when
//! `SNAKE_ARENA_BENCH_POSTGRES_URL` names a server).
//!
//! For each backend and size, a fresh database is filled by the server itself
//! (`--no-seed --synthetic-scores N`, in batches of one transaction each), and the server is
//! stopped with SIGTERM. Then:
//! - bytes on disk: the SQLite file (with its write-ahead log, checkpointed at shutdown) or
//!   PostgreSQL's `pg_total_relation_size('scores')`, table and indexes; per score is the
//!   difference between the two sizes over the difference in scores, so fixed overhead cancels;
//! - start-up: the server started again on the filled database with the default settings (it
//!   migrates, finds the store not empty, skips the seed, starts the demo bots), spawn to its
//!   first `200` from `GET /api/health`, several times;
//! - top-10 latency: `GET /api/leaderboard?limit=10` from one connection, the sizes alternating
//!   in rounds. The server answers from its leaderboard cache, refilled from the database at
//!   most once a second, so this is the latency a caller sees, not the bare query's.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::backends::POSTGRES_URL_VARIABLE;
use super::load::LoadResult;
use super::process::BenchProcess;
use super::{Bench, describe, get, measure, median, medians, round_to, runs_json, verdict};

/// The sizes compared: the reference and the issue's 10^6.
pub const ISSUE_SIZES: [u64; 2] = [1_000, 1_000_000];

/// `--quick`'s sizes: enough to run every step in seconds; not the issue's.
pub const QUICK_SIZES: [u64; 2] = [1_000, 10_000];

/// The issue's targets.
const MAX_LATENCY_RATIO: f64 = 1.5;
const MAX_STARTUP: Duration = Duration::from_secs(1);

/// How long the server may take to fill a database at start-up.
const FILLED_WITHIN: Duration = Duration::from_secs(900);

/// Starts on each filled database (their median is reported).
const STARTS: usize = 3;

/// One backend at one size.
struct Filled {
    backend: &'static str,
    stored_scores: u64,
    database_url: String,
    /// Spawn to healthy for the server that filled the database: mostly the filling.
    fill: Duration,
    bytes_on_disk: u64,
    starts: Vec<Duration>,
    top10: Vec<LoadResult>,
}

pub struct DurableGrowth {
    filled: Vec<Filled>,
}

/// Where one backend's databases live, and how to make a fresh one and measure it.
enum Backend {
    Sqlite { directory: PathBuf },
    Postgres { server_url: String },
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// An empty database for `size` scores, and its URL.
    fn fresh_database(&self, size: u64) -> Result<String, String> {
        match self {
            Backend::Sqlite { directory } => {
                let path = directory.join(format!("growth-{size}.sqlite3"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(format!("sqlite://{}", path.display()))
            }
            Backend::Postgres { server_url } => {
                fresh_postgres_database(server_url, &format!("snake_arena_bench_growth_{size}"))
            }
        }
    }

    fn bytes_on_disk(&self, database_url: &str) -> Result<u64, String> {
        match self {
            Backend::Sqlite { .. } => {
                let path = database_url.trim_start_matches("sqlite://");
                Ok(["", "-wal"]
                    .iter()
                    .filter_map(|suffix| std::fs::metadata(format!("{path}{suffix}")).ok())
                    .map(|metadata| metadata.len())
                    .sum())
            }
            Backend::Postgres { .. } => {
                psql(database_url, "SELECT pg_total_relation_size('scores')")?
                    .trim()
                    .parse()
                    .map_err(|error| format!("pg_total_relation_size is not a number: {error}"))
            }
        }
    }
}

/// An empty database `name` on the PostgreSQL server of `server_url` (dropped first if a previous
/// run left it), and its URL.
pub fn fresh_postgres_database(server_url: &str, name: &str) -> Result<String, String> {
    psql(
        server_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(server_url, &format!("CREATE DATABASE {name}"))?;
    Ok(database_url_for(server_url, name))
}

/// Runs one statement with `psql` (Debian's postgresql-client) and returns its bare output.
fn psql(database_url: &str, statement: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args(["--no-psqlrc", "--tuples-only", "--no-align", "--quiet"])
        .args(["--dbname", database_url, "--command", statement])
        .output()
        .map_err(|error| format!("cannot run psql (Debian: postgresql-client): {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "psql `{statement}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The URL of database `name` on the server of `server_url` (its path replaced, its query kept).
fn database_url_for(server_url: &str, name: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, None), |(base, query)| (base, Some(query)));
    let authority = match base.find("://") {
        Some(scheme_end) => match base[scheme_end + 3..].find('/') {
            Some(slash) => &base[..scheme_end + 3 + slash],
            None => base,
        },
        None => base,
    };
    match query {
        Some(query) => format!("{authority}/{name}?{query}"),
        None => format!("{authority}/{name}"),
    }
}

impl Bench {
    pub fn measure_durable_growth(&self) -> Result<DurableGrowth, String> {
        let mut backends = vec![Backend::Sqlite {
            directory: self.output_directory.clone(),
        }];
        if let Ok(url) = std::env::var(POSTGRES_URL_VARIABLE)
            && !url.is_empty()
        {
            backends.push(Backend::Postgres { server_url: url });
        }
        let mut filled = Vec::new();
        for backend in &backends {
            for stored_scores in self.options.durable_growth_sizes {
                filled.push(self.fill(backend, stored_scores)?);
            }
        }

        // The reads: one server per filled database, all running, the sizes alternating.
        let request = get("/api/leaderboard?limit=10", &[]);
        let mut servers = Vec::new();
        for database in &filled {
            servers.push(BenchProcess::start_server(
                &self.binaries.server,
                &self.server_arguments_on(&database.database_url, 0),
            )?);
        }
        let total = filled.len() * self.options.rounds;
        let mut done = 0;
        for round in 0..self.options.rounds {
            for offset in 0..filled.len() {
                let index = (round + offset) % filled.len();
                let result = measure(
                    &mut servers[index],
                    &request,
                    1,
                    self.options.duration,
                    &self.script_path(),
                )?;
                done += 1;
                eprintln!(
                    "bench: [{done}/{total}] durable growth top-10 c=1 {} scores={} {}",
                    filled[index].backend,
                    filled[index].stored_scores,
                    describe(&result)
                );
                filled[index].top10.push(result);
            }
        }
        Ok(DurableGrowth { filled })
    }

    fn fill(&self, backend: &Backend, stored_scores: u64) -> Result<Filled, String> {
        let database_url = backend.fresh_database(stored_scores)?;
        eprintln!(
            "bench: durable growth, filling {} with {stored_scores} scores",
            backend.name()
        );
        let mut arguments = self.server_arguments_on(&database_url, stored_scores);
        arguments.push("--no-seed".to_owned());
        let mut filler =
            BenchProcess::start_server_within(&self.binaries.server, &arguments, FILLED_WITHIN)?;
        let fill = filler.started_within;
        filler.stop_gracefully()?;
        let bytes_on_disk = backend.bytes_on_disk(&database_url)?;
        let mut starts = Vec::new();
        for _ in 0..STARTS {
            let mut server = BenchProcess::start_server(
                &self.binaries.server,
                &self.server_arguments_on(&database_url, 0),
            )?;
            starts.push(server.started_within);
            server.stop_gracefully()?;
        }
        Ok(Filled {
            backend: backend.name(),
            stored_scores,
            database_url,
            fill,
            bytes_on_disk,
            starts,
            top10: Vec::new(),
        })
    }
}

/// The median of `durations` (the bench's own [`median`]), as a duration.
fn median_duration(durations: &[Duration]) -> Duration {
    Duration::from_secs_f64(median(durations.iter().map(Duration::as_secs_f64).collect()).max(0.0))
}

impl Filled {
    fn top10_p50_ms(&self) -> f64 {
        medians(&self.top10).p50_ms
    }
}

/// One backend's reference size and its largest.
struct Comparison<'a> {
    small: &'a Filled,
    large: &'a Filled,
}

impl Comparison<'_> {
    fn latency_ratio(&self) -> f64 {
        self.large.top10_p50_ms() / self.small.top10_p50_ms()
    }

    fn bytes_per_score(&self) -> f64 {
        (self.large.bytes_on_disk as f64 - self.small.bytes_on_disk as f64)
            / (self.large.stored_scores - self.small.stored_scores) as f64
    }
}

impl DurableGrowth {
    fn comparisons(&self) -> Vec<Comparison<'_>> {
        self.filled
            .chunks(ISSUE_SIZES.len())
            .filter_map(|sizes| {
                Some(Comparison {
                    small: sizes.first()?,
                    large: sizes.last()?,
                })
            })
            .collect()
    }

    pub fn invalid_runs(&self) -> usize {
        self.filled
            .iter()
            .flat_map(|filled| &filled.top10)
            .filter(|run| run.non_success > 0 || run.socket_errors > 0)
            .count()
    }

    pub fn to_markdown(&self) -> String {
        let mut text = String::from(
            "Durable growth: each backend's database filled by the server (`--no-seed \
             --synthetic-scores N`), stopped with SIGTERM, started again with the default \
             settings; top-10 = `GET /api/leaderboard?limit=10` from one connection (answered \
             from the leaderboard cache, refilled from the database at most once a second).\n\n\
             | backend | stored scores | fill (spawn to healthy) | bytes on disk | start-up, median \
             of 3 | top-10 p50 ms | top-10 p99 ms | top-10 req/s |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for filled in &self.filled {
            let medians = medians(&filled.top10);
            let _ = writeln!(
                text,
                "| {} | {} | {:.1} s | {} | {:.0} ms | {:.3} | {:.3} | {:.0} |",
                filled.backend,
                filled.stored_scores,
                filled.fill.as_secs_f64(),
                filled.bytes_on_disk,
                median_duration(&filled.starts).as_secs_f64() * 1e3,
                medians.p50_ms,
                medians.p99_ms,
                medians.requests_per_second,
            );
        }
        text.push_str("\n| durable growth target | measured | verdict |\n|---|---|---|\n");
        for comparison in self.comparisons() {
            let backend = comparison.large.backend;
            let ratio = comparison.latency_ratio();
            let _ = writeln!(
                text,
                "| {backend}: top-10 p50 at {} scores ≤ {MAX_LATENCY_RATIO} × at {} | {ratio:.2} × | {} |",
                comparison.large.stored_scores,
                comparison.small.stored_scores,
                verdict(ratio <= MAX_LATENCY_RATIO)
            );
            let startup = median_duration(&comparison.large.starts);
            let _ = writeln!(
                text,
                "| {backend}: start-up with {} scores < {} s | {:.0} ms | {} |",
                comparison.large.stored_scores,
                MAX_STARTUP.as_secs(),
                startup.as_secs_f64() * 1e3,
                verdict(startup < MAX_STARTUP)
            );
            let _ = writeln!(
                text,
                "| {backend}: bytes on disk per score (reported) | {:.0} | – |",
                comparison.bytes_per_score()
            );
        }
        text
    }

    pub fn to_json(&self) -> serde_json::Value {
        let filled: Vec<_> = self
            .filled
            .iter()
            .map(|filled| {
                serde_json::json!({
                    "backend": filled.backend,
                    "stored_scores": filled.stored_scores,
                    "fill_seconds": round_to(filled.fill.as_secs_f64(), 3),
                    "bytes_on_disk": filled.bytes_on_disk,
                    "startup_ms": filled.starts.iter()
                        .map(|start| round_to(start.as_secs_f64() * 1e3, 2))
                        .collect::<Vec<_>>(),
                    "top10_runs": runs_json(&filled.top10),
                })
            })
            .collect();
        let comparisons: Vec<_> = self
            .comparisons()
            .iter()
            .map(|comparison| {
                serde_json::json!({
                    "backend": comparison.large.backend,
                    "top10_p50_ratio": round_to(comparison.latency_ratio(), 3),
                    "bytes_per_score": round_to(comparison.bytes_per_score(), 1),
                    "startup_median_ms": round_to(
                        median_duration(&comparison.large.starts).as_secs_f64() * 1e3, 2),
                })
            })
            .collect();
        serde_json::json!({ "filled": filled, "comparisons": comparisons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_names_another_database_on_the_same_server() {
        assert_eq!(
            database_url_for("postgres://postgres@127.0.0.1:55433/postgres", "growth"),
            "postgres://postgres@127.0.0.1:55433/growth"
        );
        assert_eq!(
            database_url_for("postgres://u:p@host/db?sslmode=disable", "growth"),
            "postgres://u:p@host/growth?sslmode=disable"
        );
        assert_eq!(
            database_url_for("postgres://host", "growth"),
            "postgres://host/growth"
        );
    }
}
