//! Generates the server's API module from `openapi.yaml` into `OUT_DIR`.
//!
//! The contract is the single source of truth: its types, routes, constraints and security all
//! become Rust here, so an implementation that no longer matches the contract fails to compile.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=openapi.yaml");
    println!("cargo:rerun-if-changed=build.rs");
    let spec = match std::fs::read_to_string("openapi.yaml") {
        Ok(spec) => spec,
        Err(error) => {
            println!("cargo::error=cannot read openapi.yaml: {error}");
            std::process::exit(1);
        }
    };
    let code = match snake_arena_codegen::generate(&spec, &snake_arena_server_settings()) {
        Ok(code) => code,
        Err(error) => {
            println!("cargo::error=openapi.yaml{error}");
            std::process::exit(1);
        }
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::error=OUT_DIR is not set; run this through cargo");
        std::process::exit(1);
    };
    if let Err(error) = std::fs::write(out_dir.join("api.rs"), code) {
        println!("cargo::error=cannot write the generated API: {error}");
        std::process::exit(1);
    }
}

/// The same settings `cargo xtask codegen` uses, so the committed copy matches this output.
fn snake_arena_server_settings() -> snake_arena_codegen::Settings {
    snake_arena_codegen::Settings::snake_arena_server()
}
