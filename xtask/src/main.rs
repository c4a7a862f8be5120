//! Developer tasks for Snake Arena server, run as `cargo xtask <task>`:
//! - `codegen`: regenerate `generated/api.rs`, the committed copy of what `build.rs` generates.
//! - `spec-check`: prove that the running server speaks exactly `openapi.yaml`.

mod codegen;
mod spec_check;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen      regenerate generated/api.rs from openapi.yaml
  spec-check   start the server and compare the document it serves with openapi.yaml
               (--url URL, --spec PATH, --json; see `cargo xtask spec-check --help`)";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("codegen") => codegen::write_generated_api(),
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
