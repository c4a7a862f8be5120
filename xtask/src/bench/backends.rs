//! The store backends side by side: the same scenarios against the server on the in-memory store,
//! on a SQLite file and (when `SNAKE_ARENA_BENCH_POSTGRES_URL` names a database) on PostgreSQL,
//! in rotating rounds of one run, so each durable backend's figure is a ratio to the in-memory one
//! measured beside it.
//!
//! The persistence issue's targets: reads on a durable backend at least 0.9 of the in-memory
//! rate, durable score submissions at least 0.5 of it.

use std::fmt::Write as _;

use super::load::LoadResult;
use super::process::BenchProcess;
use super::{
    Bench, Kind, SCENARIO_SYNTHETIC_SCORES, SUBMISSION_LIMIT_FLAG, SUBMISSION_LIMIT_FOR_BENCH,
    describe, log_in, measure, medians, round_to, runs_json, scenarios, verdict,
};

/// The variable that names a PostgreSQL server for the benchmark (a URL with any database on it):
/// the benchmark creates its own databases there with `psql`, dropping those a previous run left,
/// so point it at a throwaway server.
pub const POSTGRES_URL_VARIABLE: &str = "SNAKE_ARENA_BENCH_POSTGRES_URL";

const READ_MIN_RATIO_TO_MEMORY: f64 = 0.9;
const SUBMISSION_MIN_RATIO_TO_MEMORY: f64 = 0.5;

/// One scenario at one concurrency, per backend (in the order of `Backends::names`).
pub struct BackendScenario {
    scenario: String,
    kind: Kind,
    connections: u32,
    runs: Vec<Vec<LoadResult>>,
}

pub struct Backends {
    names: Vec<String>,
    scenarios: Vec<BackendScenario>,
}

impl Bench {
    /// Starts one server per backend and runs every scenario against each, rotating which goes
    /// first in each round.
    pub fn compare_backends(&self) -> Result<Backends, String> {
        let sqlite_path = self.output_directory.join("backends.sqlite3");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_path.display()));
        }
        let mut urls = vec![
            ("memory".to_owned(), "memory".to_owned()),
            (
                "sqlite".to_owned(),
                format!("sqlite://{}", sqlite_path.display()),
            ),
        ];
        if let Ok(url) = std::env::var(POSTGRES_URL_VARIABLE)
            && !url.is_empty()
        {
            let database =
                super::durable_growth::fresh_postgres_database(&url, "snake_arena_bench_backends")?;
            urls.push(("postgres".to_owned(), database));
        }
        let mut servers = Vec::new();
        let mut tokens = Vec::new();
        for (name, url) in &urls {
            eprintln!("bench: backends, starting the server on {name}");
            let mut arguments = self.server_arguments_on(url, SCENARIO_SYNTHETIC_SCORES);
            arguments.extend([
                SUBMISSION_LIMIT_FLAG.to_owned(),
                SUBMISSION_LIMIT_FOR_BENCH.to_owned(),
            ]);
            let server = BenchProcess::start_server(&self.binaries.server, &arguments)?;
            tokens.push(log_in(&server)?);
            servers.push(server);
        }

        let connections = self.options.connections.first().copied().unwrap_or(32);
        let scenario_count = scenarios(&tokens[0]).len();
        let total = scenario_count * self.options.rounds * servers.len();
        let mut done = 0;
        let mut results = Vec::new();
        for scenario_index in 0..scenario_count {
            let mut runs: Vec<Vec<LoadResult>> = vec![Vec::new(); servers.len()];
            for round in 0..self.options.rounds {
                for turn in 0..servers.len() {
                    let backend = (round + turn) % servers.len();
                    let scenario = &scenarios(&tokens[backend])[scenario_index];
                    let result = measure(
                        &mut servers[backend],
                        &scenario.request,
                        connections,
                        self.options.duration,
                        &self.script_path(),
                    )?;
                    done += 1;
                    eprintln!(
                        "bench: [{done}/{total}] backends {} c={connections} {:<8} {}",
                        scenario.name,
                        urls[backend].0,
                        describe(&result)
                    );
                    runs[backend].push(result);
                }
            }
            let scenario = &scenarios(&tokens[0])[scenario_index];
            results.push(BackendScenario {
                scenario: scenario.name.clone(),
                kind: scenario.kind,
                connections,
                runs,
            });
        }
        Ok(Backends {
            names: urls.into_iter().map(|(name, _)| name).collect(),
            scenarios: results,
        })
    }
}

impl BackendScenario {
    /// The backend's requests/s over the in-memory store's (backend 0).
    fn ratio_to_memory(&self, backend: usize) -> f64 {
        medians(&self.runs[backend]).requests_per_second
            / medians(&self.runs[0]).requests_per_second
    }

    fn target(&self) -> f64 {
        match self.kind {
            Kind::Read => READ_MIN_RATIO_TO_MEMORY,
            Kind::Submission => SUBMISSION_MIN_RATIO_TO_MEMORY,
        }
    }
}

impl Backends {
    pub fn invalid_runs(&self) -> usize {
        self.scenarios
            .iter()
            .flat_map(|scenario| scenario.runs.iter().flatten())
            .filter(|run| run.non_success > 0 || run.socket_errors > 0)
            .count()
    }

    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "Backends: the same server on each store (`--database-url`), seeded plus {SCENARIO_SYNTHETIC_SCORES} \
             synthetic scores, in rotating rounds; ratio = backend/memory requests per second. \
             Targets: reads ≥ {READ_MIN_RATIO_TO_MEMORY}, durable submissions ≥ {SUBMISSION_MIN_RATIO_TO_MEMORY}.\n"
        );
        let mut header = String::from("| scenario | c |");
        let mut rule = String::from("|---|---:|");
        for name in &self.names {
            let _ = write!(header, " {name} req/s | {name} p99 ms |");
            rule.push_str("---:|---:|");
        }
        for name in self.names.iter().skip(1) {
            let _ = write!(header, " {name}/memory | met? |");
            rule.push_str("---:|---|");
        }
        let _ = writeln!(text, "{header}\n{rule}");
        for scenario in &self.scenarios {
            let mut row = format!("| {} | {} |", scenario.scenario, scenario.connections);
            for runs in &scenario.runs {
                let medians = medians(runs);
                let _ = write!(
                    row,
                    " {:.0} | {:.2} |",
                    medians.requests_per_second, medians.p99_ms
                );
            }
            for backend in 1..self.names.len() {
                let ratio = scenario.ratio_to_memory(backend);
                let _ = write!(
                    row,
                    " {ratio:.2} | {} |",
                    verdict(ratio >= scenario.target())
                );
            }
            let _ = writeln!(text, "{row}");
        }
        text
    }

    pub fn to_json(&self) -> serde_json::Value {
        let scenarios: Vec<_> = self
            .scenarios
            .iter()
            .map(|scenario| {
                let per_backend: serde_json::Map<String, serde_json::Value> = self
                    .names
                    .iter()
                    .enumerate()
                    .map(|(backend, name)| {
                        let medians = medians(&scenario.runs[backend]);
                        (
                            name.clone(),
                            serde_json::json!({
                                "rps": round_to(medians.requests_per_second, 1),
                                "p99_ms": round_to(medians.p99_ms, 3),
                                "cpu_us_per_request": round_to(medians.cpu_us_per_request, 2),
                                "ratio_to_memory": round_to(scenario.ratio_to_memory(backend), 3),
                                "runs": runs_json(&scenario.runs[backend]),
                            }),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "scenario": scenario.scenario,
                    "connections": scenario.connections,
                    "target_ratio_to_memory": scenario.target(),
                    "backends": per_backend,
                })
            })
            .collect();
        serde_json::json!({ "backends": self.names, "scenarios": scenarios })
    }
}
