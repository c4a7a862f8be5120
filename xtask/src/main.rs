//! Developer tasks for Snake Arena server, run as `cargo xtask <task>`:
//! - `codegen`: regenerate `generated/api.rs`, the committed copy of what `build.rs` generates.
//! - `spec-check`: prove that the running server speaks exactly `openapi.yaml`.
//! - `ts-client`: regenerate (or `--check`) `generated/typescript/`, the TypeScript client.
//! - `ts-client-test`: type-check that client with `tsc` and drive it against a live server.
//! - `web`: type-check and bundle the web client (`web/`) into the committed `web/dist/`.
//! - `bench`: measure the server against a bare hyper server returning the same bytes.
//! - `fuzz`: run schemathesis against a live server with every check (zero failures expected).
//! - `stress`: the login storm, concurrent sign-ups and scores, and enumeration timing.
//! - `cluster`: three instances on one PostgreSQL database behind nginx behave as one server.
//! - `crash`: kill -9 the server under load (on PostgreSQL, stop the database too), restart it,
//!   and check that no acknowledged write was lost.

mod bench;
mod cluster;
mod codegen;
mod crash;
mod fuzz;
mod postgres_cluster;
mod server_process;
mod spec_check;
mod stress;
mod ts_client;
mod web;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen      regenerate generated/api.rs from openapi.yaml
  spec-check   start the server and compare the document it serves with openapi.yaml
               (--url URL, --spec PATH, --json; see `cargo xtask spec-check --help`)
  ts-client    regenerate generated/typescript/ from openapi.yaml with openapi-generator
               (--check: fail when it is stale; see `cargo xtask ts-client --help`)
  ts-client-test
               type-check the TypeScript client with tsc and run its Node test against a
               server started on a free loopback port (--url URL: an already running one)
  web          type-check web/ and bundle it with esbuild into the committed web/dist/
               (--check: fail when it is stale; see `cargo xtask web --help`)
  bench        build release, run the benchmarks against a bare hyper server returning the
               same bytes, print the table and write target/bench/results.json (needs wrk;
               --quick, --rounds N, --duration S; see `cargo xtask bench --help`)
  fuzz         run schemathesis (pinned, installed into target/fuzz-venv/) against openapi.yaml
               on a server started on a free loopback port, with every check and a fixed seed
               (--max-examples N, --seed S, --pass NAME, --url URL; see `cargo xtask fuzz --help`)
  stress       build release, start it at the production scrypt cost, run the login storm,
               same-username sign-ups, concurrent scores and enumeration timing, print figure
               against target and write target/stress/results.json; exits 1 when a correctness
               property fails (--timing-samples N; see `cargo xtask stress --help`)
  cluster      start PostgreSQL, three release servers on it and nginx in front (all on
               loopback) and check that they behave as one server (see `cargo xtask cluster
               --help`)
  crash        build release, kill -9 it under concurrent writes at random moments, restart
               on the same database and check that no acknowledged write was lost, nothing
               unsent appeared and the database is intact; --backend postgres also stops
               PostgreSQL mid-load in every second round (--backend sqlite|postgres,
               --rounds N, --clients N, --seed S; see `cargo xtask crash --help`)";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("codegen") => codegen::write_generated_api(),
        Some("bench") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", bench::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("bench") => bench::run(&arguments[1..]),
        Some("fuzz") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", fuzz::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("fuzz") => fuzz::run(&arguments[1..]),
        Some("stress") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", stress::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("stress") => stress::run(&arguments[1..]),
        Some("cluster") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", cluster::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("cluster") => cluster::run(&arguments[1..]),
        Some("crash") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", crash::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("crash") => crash::run(&arguments[1..]),
        Some("ts-client" | "ts-client-test")
            if arguments.iter().any(|argument| argument == "--help") =>
        {
            println!("{}", ts_client::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("ts-client") => ts_client::run(&arguments[1..]),
        Some("web") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", web::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("web") => web::run(&arguments[1..]),
        Some("ts-client-test") => ts_client::run_test(&arguments[1..]),
        Some("spec-check") if arguments.iter().any(|argument| argument == "--help") => {
            println!("{}", spec_check::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("spec-check") => {
            return match spec_check::run(&arguments[1..]) {
                Ok(spec_check::Outcome::Agrees) => ExitCode::SUCCESS,
                Ok(spec_check::Outcome::Differs) => ExitCode::from(1),
                Err(message) => {
                    eprintln!("xtask spec-check: {message}");
                    ExitCode::from(2)
                }
            };
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("unknown or missing task\n\n{USAGE}")),
    };
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
