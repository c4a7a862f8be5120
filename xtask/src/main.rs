//! Developer tasks for Snake Arena server, run as `cargo xtask <task>`:
//! - `codegen`: regenerate `generated/api.rs`, the committed copy of what `build.rs` generates.

mod codegen;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen    regenerate generated/api.rs from openapi.yaml";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("codegen") => codegen::write_generated_api(),
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
