//! Keeps `generated/api.rs`, the reviewable copy of the code `build.rs` generates, equal to what
//! the generator makes of `openapi.yaml` today.

use std::path::{Path, PathBuf};

/// The repository root: the xtask crate lives one level below it.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The committed copy's path and the code the generator makes now.
fn generated_api() -> Result<(PathBuf, String), String> {
    let root = repository_root();
    let spec_path = root.join("openapi.yaml");
    let spec = std::fs::read_to_string(&spec_path)
        .map_err(|error| format!("cannot read {}: {error}", spec_path.display()))?;
    let code =
        snake_arena_codegen::generate(&spec, &snake_arena_codegen::Settings::snake_arena_server())
            .map_err(|error| format!("openapi.yaml{error}"))?;
    Ok((root.join("generated").join("api.rs"), code))
}

/// Writes the committed copy (`cargo xtask codegen`).
pub fn write_generated_api() -> Result<String, String> {
    let (path, code) = generated_api()?;
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == code {
        return Ok(format!("{} is up to date", path.display()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    std::fs::write(&path, code)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(format!("wrote {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::generated_api;

    #[test]
    fn the_committed_generated_code_matches_what_build_rs_generates() {
        let (path, code) = generated_api().unwrap();
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == code,
            "{} is stale: it differs from what the generator makes of openapi.yaml. Run `cargo xtask codegen` and commit the result.",
            path.display()
        );
    }
}
