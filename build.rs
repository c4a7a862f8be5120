//! Generates the server's API module from `openapi.yaml` into `OUT_DIR`, and extracts the
//! Swagger UI files that `/api/docs` serves.
//!
//! The contract is the single source of truth: its types, routes, constraints and security all
//! become Rust here, so an implementation that no longer matches the contract fails to compile.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=openapi.yaml");
    println!("cargo:rerun-if-changed=build.rs");
    // `sqlx::migrate!` embeds migrations/ at compile time; without this a new migration alone
    // would not rebuild the server.
    println!("cargo:rerun-if-changed=migrations");
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
    if let Err(error) = extract_swagger_ui(&out_dir.join("swagger-ui")) {
        println!("cargo::error=cannot extract Swagger UI for /api/docs: {error}");
        std::process::exit(1);
    }
}

/// The Swagger UI files `/api/docs` serves, as named in the release's `dist/` folder.
const SWAGGER_UI_FILES: &[&str] = &[
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
];

/// Extracts the Swagger UI files from the release archive that the `utoipa-swagger-ui-vendored`
/// crate ships, so the docs work offline and nothing is fetched at build or run time.
fn extract_swagger_ui(into: &std::path::Path) -> Result<(), String> {
    use std::io::Read;
    let archive = std::io::Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED);
    let mut archive = zip::ZipArchive::new(archive).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(into).map_err(|error| error.to_string())?;
    for wanted in SWAGGER_UI_FILES {
        let suffix = format!("/dist/{wanted}");
        let name = archive
            .file_names()
            .filter_map(Result::ok)
            .find(|name| name.ends_with(&suffix) && name.matches('/').count() == 2)
            .map(|name| name.into_owned())
            .ok_or_else(|| format!("the archive has no dist/{wanted}"))?;
        let mut contents = Vec::new();
        archive
            .by_name(&name)
            .and_then(|mut file| Ok(file.read_to_end(&mut contents)?))
            .map_err(|error| format!("{name}: {error}"))?;
        std::fs::write(into.join(wanted), contents)
            .map_err(|error| format!("{wanted}: {error}"))?;
    }
    Ok(())
}

/// The same settings `cargo xtask codegen` uses, so the committed copy matches this output.
fn snake_arena_server_settings() -> snake_arena_codegen::Settings {
    snake_arena_codegen::Settings::snake_arena_server()
}
