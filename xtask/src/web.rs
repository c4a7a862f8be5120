//! `cargo xtask web`: builds the web client (`web/`) into the committed bundle in `web/dist/`,
//! which the server embeds, so `cargo run` and `cargo build` never need Node.
//!
//! - `web` runs `npm ci` in `web/` when `node_modules/` is stale, type-checks the sources with
//!   `tsc --noEmit` (strict, together with `generated/typescript/`), bundles them with esbuild
//!   into content-hashed files under `web/dist/assets/`, writes `web/dist/index.html` naming
//!   them, and records a hash of the sources in `web/dist/SOURCES.txt`.
//! - `web --check` builds the same way into a temporary directory and fails, naming the files,
//!   while the committed bundle differs.
//!
//! `cargo test` cannot run Node, so it checks the bundle another way (the tests below): the hash
//! of the sources recorded at build time must equal the hash of the sources as they are now, and
//! the index must name exactly the assets that exist. A source edited without rebuilding thus
//! fails `cargo test`; a bundle edited by hand, or built by another esbuild, is caught by
//! `web --check`, which CI runs.

use std::collections::BTreeMap;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::codegen::repository_root;
use crate::ts_client::{
    CommittedTree, ScratchDirectory, check_node_is_installed, install_packages_if_stale, read_tree,
    run_in, sync_committed_tree,
};

pub const USAGE: &str = "usage: cargo xtask web [--check]

  web          type-check web/ with tsc, bundle it with esbuild into web/dist/ (hashed asset
               names, index.html naming them, the source hash in SOURCES.txt); runs npm ci in
               web/ first when node_modules/ is stale
  web --check  build into a temporary directory and fail, naming the files, when web/dist/
               differs from it";

/// The client's project folder and its committed bundle, relative to the repository root.
const PROJECT_DIRECTORY: &str = "web";
const BUNDLE_DIRECTORY: &str = "web/dist";

/// What the bundle is built from: every file under these paths (relative to the repository
/// root) goes into the recorded source hash. `generated/typescript/` is bundled into the client,
/// and the lock file pins esbuild and TypeScript, so a change to either makes the bundle stale.
const SOURCE_PATHS: &[&str] = &[
    "web/src",
    "web/index.html",
    "web/favicon.svg",
    "web/package.json",
    "web/package-lock.json",
    "web/tsconfig.json",
    "generated/typescript",
];

/// The file in the bundle that records the source hash, and the prefix of its hash line.
const SOURCES_FILE: &str = "SOURCES.txt";
const SOURCES_HASH_PREFIX: &str = "sources fnv1a-64 ";

/// The placeholders of `web/index.html` that the hashed asset names replace.
const SCRIPT_PLACEHOLDER: &str = "{{SCRIPT}}";
const STYLESHEET_PLACEHOLDER: &str = "{{STYLESHEET}}";
const ICON_PLACEHOLDER: &str = "{{ICON}}";

/// The first line of every bundled script and stylesheet.
const BANNER: &str = "Built by `cargo xtask web` from web/src; do not edit by hand.";

/// `cargo xtask web [--check]`.
pub fn run(arguments: &[String]) -> Result<String, String> {
    let check = match arguments {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err(format!("unknown arguments {arguments:?}\n\n{USAGE}")),
    };
    let root = repository_root();
    let project = root.join(PROJECT_DIRECTORY);
    let started = Instant::now();
    check_node_is_installed()?;
    install_packages_if_stale(&project)?;
    eprintln!("type-checking web/ with tsc...");
    run_in(
        &project,
        "node_modules/.bin/tsc",
        &["--noEmit", "-p", "."],
        None,
    )?;
    let built = build_bundle(&root, &project)?;
    sync_committed_tree(
        &root,
        CommittedTree {
            directory: BUNDLE_DIRECTORY,
            made_from: "web/",
            maker: "esbuild",
            refresh_command: "cargo xtask web",
            refreshed: "rebuilt",
        },
        &built,
        check,
        started,
    )
}

/// Bundles `web/src/main.ts` with esbuild into a temporary directory and returns the bundle's
/// files (assets, index.html, SOURCES.txt) by path relative to `web/dist/`.
fn build_bundle(root: &Path, project: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let scratch = ScratchDirectory::new("web")?;
    let assets_directory = scratch.path.join("assets");
    eprintln!("bundling web/ with esbuild...");
    let output = Command::new(project.join("node_modules/.bin/esbuild"))
        .args([
            "src/main.ts",
            "--bundle",
            "--minify",
            "--format=esm",
            "--target=es2020",
            "--charset=utf8",
            "--legal-comments=none",
            "--entry-names=[name]-[hash]",
            "--log-level=warning",
        ])
        .arg(format!("--banner:js=// {BANNER}"))
        .arg(format!("--banner:css=/* {BANNER} */"))
        .arg(format!("--outdir={}", assets_directory.display()))
        .current_dir(project)
        .output()
        .map_err(|error| format!("cannot run esbuild: {error}; run `npm ci` in web/"))?;
    if !output.status.success() {
        return Err(format!(
            "esbuild failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let assets = read_tree(&assets_directory)?;
    let named = |extension: &str| -> Result<String, String> {
        let mut matching = assets.keys().filter(|name| name.ends_with(extension));
        match (matching.next(), matching.next()) {
            (Some(name), None) => Ok(name.clone()),
            _ => Err(format!(
                "esbuild should write exactly one {extension} file, wrote {:?}",
                assets.keys().collect::<Vec<_>>()
            )),
        }
    };
    let script = named(".js")?;
    let stylesheet = named(".css")?;
    // The icon is no module, so esbuild does not see it; it is named by its own hash here.
    let icon_contents = std::fs::read(project.join("favicon.svg"))
        .map_err(|error| format!("cannot read web/favicon.svg: {error}"))?;
    let icon = format!("favicon-{}.svg", &fnv1a_64([&icon_contents[..]])[..8]);
    let template = std::fs::read_to_string(project.join("index.html"))
        .map_err(|error| format!("cannot read web/index.html: {error}"))?;
    let index = template
        .replace(SCRIPT_PLACEHOLDER, &script)
        .replace(STYLESHEET_PLACEHOLDER, &stylesheet)
        .replace(ICON_PLACEHOLDER, &icon);

    let mut bundle: BTreeMap<String, Vec<u8>> = assets
        .into_iter()
        .map(|(name, contents)| (format!("assets/{name}"), contents))
        .collect();
    bundle.insert(format!("assets/{icon}"), icon_contents);
    bundle.insert("index.html".to_owned(), index.into_bytes());
    bundle.insert(
        SOURCES_FILE.to_owned(),
        sources_record(&source_hash(root)?).into_bytes(),
    );
    Ok(bundle)
}

/// The text of `SOURCES.txt` for a source hash.
fn sources_record(hash: &str) -> String {
    format!(
        "# Written by `cargo xtask web`; do not edit by hand. The hash of the sources web/dist/ was\n\
         # built from ({}), which `cargo test` compares with the sources as they are now.\n\
         {SOURCES_HASH_PREFIX}{hash}\n",
        SOURCE_PATHS.join(", ")
    )
}

/// FNV-1a (64 bits) over every source file's relative path and contents, in path order. It only
/// has to notice a change, not resist a forger, and needs no dependency.
fn source_hash(root: &Path) -> Result<String, String> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for source in SOURCE_PATHS {
        let path = root.join(source);
        if path.is_dir() {
            for (relative, contents) in read_tree(&path)? {
                files.insert(format!("{source}/{relative}"), contents);
            }
        } else {
            let contents = std::fs::read(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            files.insert((*source).to_owned(), contents);
        }
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for (path, contents) in &files {
        parts.extend([path.as_bytes(), &[0], contents, &[0]]);
    }
    Ok(fnv1a_64(parts))
}

/// The FNV-1a (64 bits) hash of the concatenated parts, as 16 hexadecimal digits.
fn fnv1a_64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for byte in parts.into_iter().flatten() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle's folder in this checkout.
    fn bundle_directory() -> PathBuf {
        repository_root().join(BUNDLE_DIRECTORY)
    }

    #[test]
    fn the_committed_web_bundle_was_built_from_the_sources_as_they_are_now() {
        let recorded =
            std::fs::read_to_string(bundle_directory().join(SOURCES_FILE)).unwrap_or_default();
        let recorded_hash = recorded
            .lines()
            .find_map(|line| line.strip_prefix(SOURCES_HASH_PREFIX))
            .unwrap_or("(none)");
        let current_hash = source_hash(&repository_root()).unwrap();
        assert!(
            recorded_hash == current_hash,
            "web/dist/ is stale: it was built from sources hashing to {recorded_hash}, but \
             {} now hash to {current_hash}. Run `cargo xtask web` and commit the result.",
            SOURCE_PATHS.join(", ")
        );
    }

    #[test]
    fn the_committed_web_index_names_exactly_the_bundled_assets() {
        let bundle = bundle_directory();
        let index = std::fs::read_to_string(bundle.join("index.html")).unwrap();
        let referenced: Vec<&str> = index
            .split("\"/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let mut existing: Vec<String> = read_tree(&bundle.join("assets"))
            .unwrap()
            .into_keys()
            .collect();
        existing.sort();
        let mut referenced_sorted: Vec<String> =
            referenced.iter().map(|name| (*name).to_owned()).collect();
        referenced_sorted.sort();
        assert_eq!(
            referenced_sorted, existing,
            "web/dist/index.html must name every file in web/dist/assets/ and nothing else; \
             run `cargo xtask web`"
        );
        assert!(
            ![SCRIPT_PLACEHOLDER, STYLESHEET_PLACEHOLDER, ICON_PLACEHOLDER]
                .iter()
                .any(|placeholder| index.contains(placeholder)),
            "a placeholder is left in web/dist/index.html"
        );
    }

    #[test]
    fn the_source_hash_changes_with_any_byte_of_a_path_or_contents() {
        let record = sources_record("0123456789abcdef");
        assert!(
            record
                .lines()
                .all(|line| line.starts_with('#') || line.starts_with(SOURCES_HASH_PREFIX))
        );
        assert_eq!(source_hash(&repository_root()).unwrap().len(), 16);
        assert_ne!(fnv1a_64([&b"ab"[..], b"c"]), fnv1a_64([&b"ab"[..], b"d"]));
        assert_eq!(fnv1a_64([&b""[..]]), "cbf29ce484222325");
    }
}
