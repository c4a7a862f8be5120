//! `cargo xtask ts-client` and `ts-client-test`: the typed TypeScript client that frontend code
//! uses instead of hand-written `fetch` calls, generated from `openapi.yaml` and proven to work.
//!
//! - `ts-client` runs openapi-generator (generator `typescript-fetch`, pinned to
//!   [`GENERATOR_VERSION`]) on the contract into a fresh temporary directory and makes
//!   `generated/typescript/` equal to it: changed files rewritten, vanished ones removed.
//! - `ts-client --check` generates the same way and compares instead of writing, so CI fails while
//!   the committed client is stale.
//! - `ts-client-test` type-checks and compiles the Node test project in
//!   `clients/typescript-test/` together with the generated client, then runs it against a live
//!   server (one it starts on a free loopback port, or `--url`).
//!
//! The output depends only on `openapi.yaml` and the generator version: the generator runs in the
//! repository root on a relative input path, writes no timestamps, and the version is checked
//! before every run because another version generates different code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::codegen::repository_root;
use crate::server_process::RunningServer;

/// The openapi-generator release the committed client is generated with, as a macro so that the
/// messages and the README below can spell it with `concat!`.
macro_rules! generator_version {
    () => {
        "7.26.0"
    };
}

/// The openapi-generator release the committed client is generated with.
const GENERATOR_VERSION: &str = generator_version!();

/// How to get that release: the PyPI package ships the generator's jar and runs it on `java`.
const INSTALL_HINT: &str = concat!(
    "install it with `pip install openapi-generator-cli==",
    generator_version!(),
    "` (the package ships openapi-generator's jar; it needs Java 11 or newer on PATH)"
);

/// Where the committed client lives, relative to the repository root.
const OUTPUT_DIRECTORY: &str = "generated/typescript";

/// Where the Node test project lives, relative to the repository root.
const TEST_PROJECT_DIRECTORY: &str = "clients/typescript-test";

/// The compiled test, relative to the test project (`tsc` mirrors the repository under `dist/`).
const COMPILED_TEST: &str = "dist/clients/typescript-test/src/api.test.js";

pub const USAGE: &str = "usage: cargo xtask ts-client [--check]
       cargo xtask ts-client-test [--url URL]

  ts-client          regenerate generated/typescript/ from openapi.yaml with openapi-generator
  ts-client --check  fail, naming the files, when generated/typescript/ is stale
  ts-client-test     type-check clients/typescript-test/ and the client with tsc, then run it
                     against a server started on a free loopback port
  ts-client-test --url URL
                     run it against an already running, seeded server instead";

/// The options given to openapi-generator, each for a reason:
/// - no per-operation and per-model Markdown: the TypeScript carries the contract's descriptions
///   as doc comments, and the generated Markdown's examples import from an empty package name;
/// - `supportsES6`: modern JavaScript, which every browser and Node 20 run;
/// - `importFileExtension=.js`: relative imports end in `.js`, so the files work under Node's
///   ESM resolution and TypeScript's `NodeNext` as well as under bundlers;
/// - no `npmName`: plain sources to import or copy, not a package with its own build.
const GENERATOR_ARGUMENTS: &[&str] = &[
    "generate",
    "--generator-name",
    "typescript-fetch",
    "--input-spec",
    "openapi.yaml",
    "--global-property",
    "apiDocs=false,modelDocs=false,apiTests=false,modelTests=false",
    "--additional-properties",
    "supportsES6=true,importFileExtension=.js",
];

/// Written next to the generated sources, so a reader of the directory knows where it comes from.
const OUTPUT_README: &str = concat!(
    "# Snake Arena TypeScript client

Generated from `openapi.yaml` by `cargo xtask ts-client` with openapi-generator ",
    generator_version!(),
    "
(`typescript-fetch`). Do not edit anything here by hand: change the contract and regenerate.
`cargo xtask ts-client --check` fails while this directory is stale.

The client needs only `fetch` (browsers, Node 20 and later). Import from `index.ts`:

```ts
import { AuthApi, Configuration, LeaderboardApi, ResponseError } from './generated/typescript/index.js';

const basePath = 'http://127.0.0.1:8000';
const { token } = await new AuthApi(new Configuration({ basePath }))
  .authLogin({ loginRequest: { email: 'snakecharmer@example.com', password: 'charmer-pass-123' } });
const leaderboard = new LeaderboardApi(new Configuration({ basePath, accessToken: token }));
try {
  await leaderboard.leaderboardSubmit({ scoreSubmission: { score: 120, mode: 'walls' } });
} catch (error) {
  if (error instanceof ResponseError) {
    const { code, detail } = await error.response.json(); // the API's error body, e.g. 401 `unauthenticated`
  }
}
```

The code type-checks under `strict` (with `verbatimModuleSyntax` and `isolatedModules`), but not
under `noUnusedLocals`, `noUnusedParameters`, `exactOptionalPropertyTypes`,
`noUncheckedIndexedAccess` or `noImplicitOverride`: compile it with those off.
`clients/typescript-test/` type-checks it and drives every call against a live server.
"
);

/// `cargo xtask ts-client [--check]`.
pub fn run(arguments: &[String]) -> Result<String, String> {
    let check = match arguments {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err(format!("unknown arguments {arguments:?}\n\n{USAGE}")),
    };
    let root = repository_root();
    let started = Instant::now();
    let generated = generate_client(&root)?;
    sync_committed_tree(
        &root,
        CommittedTree {
            directory: OUTPUT_DIRECTORY,
            made_from: "openapi.yaml",
            maker: &format!("openapi-generator {GENERATOR_VERSION}"),
            refresh_command: "cargo xtask ts-client",
            refreshed: "regenerated",
        },
        &generated,
        check,
        started,
    )
}

/// A committed folder of generated files, named for the messages of [`sync_committed_tree`].
pub(crate) struct CommittedTree<'a> {
    /// The folder, relative to the repository root, e.g. `generated/typescript`.
    pub directory: &'a str,
    /// What it is made from, e.g. `openapi.yaml`.
    pub made_from: &'a str,
    /// What makes it, e.g. `esbuild`.
    pub maker: &'a str,
    /// The command that refreshes it.
    pub refresh_command: &'a str,
    /// The past tense of refreshing it, e.g. `rebuilt`.
    pub refreshed: &'a str,
}

/// Compares a freshly made tree with the committed one: with `check`, fails naming every
/// difference; without, writes the fresh tree over the committed one.
pub(crate) fn sync_committed_tree(
    root: &Path,
    tree: CommittedTree<'_>,
    made: &BTreeMap<String, Vec<u8>>,
    check: bool,
    started: Instant,
) -> Result<String, String> {
    let CommittedTree {
        directory,
        made_from,
        maker,
        refresh_command,
        refreshed,
    } = tree;
    let committed_directory = root.join(directory);
    let committed = read_tree(&committed_directory)?;
    let differences = compare_trees(directory, &committed, made);
    let elapsed = started.elapsed().as_secs_f32();
    if check {
        if differences.is_empty() {
            return Ok(format!(
                "{directory}/ is up to date with {made_from} ({} files, {elapsed:.1} s)",
                made.len()
            ));
        }
        let listing: Vec<String> = differences
            .iter()
            .map(|difference| format!("  {difference}"))
            .collect();
        return Err(format!(
            "{directory}/ is stale: it differs from what {maker} makes of {made_from}:\n{}\nRun `{refresh_command}` and commit the result.",
            listing.join("\n")
        ));
    }
    if differences.is_empty() {
        return Ok(format!(
            "{directory}/ is up to date ({} files, {elapsed:.1} s)",
            made.len()
        ));
    }
    write_tree(&committed_directory, &committed, made)?;
    Ok(format!(
        "{refreshed} {directory}/ ({} file(s) changed, added or removed; {elapsed:.1} s)",
        differences.len()
    ))
}

/// Runs the pinned openapi-generator into a temporary directory and returns every file it wrote,
/// plus the README, by path relative to that directory.
fn generate_client(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    check_generator_version()?;
    let scratch = ScratchDirectory::new("ts-client")?;
    let output = Command::new("openapi-generator-cli")
        .args(GENERATOR_ARGUMENTS)
        .arg("--output")
        .arg(&scratch.path)
        .current_dir(root)
        .output()
        .map_err(|error| format!("cannot run openapi-generator-cli: {error}; {INSTALL_HINT}"))?;
    if !output.status.success() {
        return Err(format!(
            "openapi-generator failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut files = read_tree(&scratch.path)?;
    if files.is_empty() {
        return Err("openapi-generator wrote no files".to_owned());
    }
    files.insert("README.md".to_owned(), OUTPUT_README.as_bytes().to_vec());
    Ok(files)
}

/// Fails with the install command unless `openapi-generator-cli` runs and is the pinned release.
fn check_generator_version() -> Result<(), String> {
    let output = match Command::new("openapi-generator-cli")
        .arg("version")
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "openapi-generator-cli is not on PATH; {INSTALL_HINT}"
            ));
        }
        Err(error) => {
            return Err(format!(
                "cannot run openapi-generator-cli: {error}; {INSTALL_HINT}"
            ));
        }
    };
    if !output.status.success() {
        let remedy = if Command::new("java").arg("-version").output().is_ok() {
            INSTALL_HINT.to_owned()
        } else {
            "`java` is not on PATH: openapi-generator needs Java 11 or newer \
             (e.g. `apt-get install openjdk-17-jre-headless`)"
                .to_owned()
        };
        // The wrapper's traceback says nothing its last line does not.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "openapi-generator-cli does not run ({}): {}\n{remedy}",
            output.status,
            stderr.lines().last().unwrap_or("")
        ));
    }
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if version != GENERATOR_VERSION {
        return Err(format!(
            "openapi-generator-cli is version {version}, but {OUTPUT_DIRECTORY}/ is generated with {GENERATOR_VERSION}, \
             and another version generates different code; {INSTALL_HINT}"
        ));
    }
    Ok(())
}

/// One line per file that differs between the committed tree and the generated one, sorted.
pub(crate) fn compare_trees(
    label: &str,
    committed: &BTreeMap<String, Vec<u8>>,
    generated: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (path, contents) in generated {
        match committed.get(path) {
            None => differences.push(format!("{label}/{path}: missing")),
            Some(current) if current != contents => {
                differences.push(format!("{label}/{path}: differs"))
            }
            Some(_) => {}
        }
    }
    for path in committed.keys() {
        if !generated.contains_key(path) {
            differences.push(format!("{label}/{path}: not generated"));
        }
    }
    differences.sort();
    differences
}

/// Makes `directory` hold exactly `generated`, touching only files whose contents change.
pub(crate) fn write_tree(
    directory: &Path,
    committed: &BTreeMap<String, Vec<u8>>,
    generated: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    for path in committed.keys() {
        if !generated.contains_key(path) {
            let file = directory.join(path);
            std::fs::remove_file(&file)
                .map_err(|error| format!("cannot remove {}: {error}", file.display()))?;
        }
    }
    for (path, contents) in generated {
        if committed.get(path) == Some(contents) {
            continue;
        }
        let file = directory.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(&file, contents)
            .map_err(|error| format!("cannot write {}: {error}", file.display()))?;
    }
    remove_empty_directories(directory)
}

fn remove_empty_directories(directory: &Path) -> Result<(), String> {
    for entry in read_directory(directory)? {
        let path = entry.path();
        if path.is_dir() {
            remove_empty_directories(&path)?;
            if read_directory(&path)?.is_empty() {
                std::fs::remove_dir(&path)
                    .map_err(|error| format!("cannot remove {}: {error}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Every file under `directory` (dotfiles included), by `/`-separated relative path; an absent
/// directory is an empty tree.
pub(crate) fn read_tree(directory: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    if directory.exists() {
        collect_files(directory, "", &mut files)?;
    }
    Ok(files)
}

fn collect_files(
    directory: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    for entry in read_directory(directory)? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            collect_files(&path, &format!("{relative}/"), files)?;
        } else {
            let contents = std::fs::read(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            files.insert(relative, contents);
        }
    }
    Ok(())
}

fn read_directory(directory: &Path) -> Result<Vec<std::fs::DirEntry>, String> {
    std::fs::read_dir(directory)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("cannot list {}: {error}", directory.display()))
}

/// A fresh directory under the system's temporary directory, removed when this is dropped.
pub(crate) struct ScratchDirectory {
    pub(crate) path: PathBuf,
}

impl ScratchDirectory {
    pub(crate) fn new(purpose: &str) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!(
            "snake-arena-xtask-{purpose}-{}",
            std::process::id()
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .map_err(|error| format!("cannot clear {}: {error}", path.display()))?;
        }
        std::fs::create_dir_all(&path)
            .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for ScratchDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `cargo xtask ts-client-test [--url URL]`.
pub fn run_test(arguments: &[String]) -> Result<String, String> {
    let url = match arguments {
        [] => None,
        [flag, url] if flag == "--url" => Some(url.trim_end_matches('/').to_owned()),
        _ => return Err(format!("unknown arguments {arguments:?}\n\n{USAGE}")),
    };
    let project = repository_root().join(TEST_PROJECT_DIRECTORY);
    check_node_is_installed()?;
    install_packages_if_stale(&project)?;

    // The test runs the compiled output of this very check, never an older build.
    let dist = project.join("dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist)
            .map_err(|error| format!("cannot remove {}: {error}", dist.display()))?;
    }
    eprintln!("type-checking and compiling the client and its test with tsc...");
    run_in(&project, "npm", &["run", "--silent", "build"], None)?;

    // The server, if started here, lives until the end of this function. Its password hashing
    // is made cheap, since the test signs up and logs in several times and hash cost is not
    // what it checks; it keeps the demo data so there are active games to look at.
    let server;
    let base_url = match url {
        Some(url) => url,
        None => {
            server = RunningServer::start(&["--log-level", "warn", "--scrypt-log-n", "4"])?;
            server.base_url.clone()
        }
    };
    eprintln!("running the client test against {base_url}...");
    run_in(
        &project,
        "node",
        // Node 20 has its WebSocket client (the one browsers have) behind this flag; the test
        // watches a game with it.
        &["--experimental-websocket", "--test", COMPILED_TEST],
        Some(("SNAKE_ARENA_URL", &base_url)),
    )?;
    Ok(format!(
        "the generated TypeScript client type-checks and works against {base_url}"
    ))
}

pub(crate) fn check_node_is_installed() -> Result<(), String> {
    for tool in ["node", "npm"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!(
                "`{tool}` is not on PATH: the client test needs Node.js 20 or newer with npm"
            ));
        }
    }
    Ok(())
}

/// Runs `npm ci` unless `node_modules/` already holds what `package-lock.json` pins: npm writes
/// `node_modules/.package-lock.json` at every install, so an older one (or none) means stale.
pub(crate) fn install_packages_if_stale(project: &Path) -> Result<(), String> {
    let modified = |path: PathBuf| -> Option<SystemTime> {
        std::fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .ok()
    };
    let installed = modified(project.join("node_modules").join(".package-lock.json"));
    let wanted = [
        modified(project.join("package-lock.json")),
        modified(project.join("package.json")),
    ];
    let fresh = match installed {
        Some(installed) => wanted
            .iter()
            .all(|wanted| wanted.is_some_and(|wanted| wanted <= installed)),
        None => false,
    };
    if fresh {
        return Ok(());
    }
    eprintln!("installing the test project's pinned packages with npm ci...");
    run_in(project, "npm", &["ci", "--no-audit", "--no-fund"], None)
}

/// Runs a command in `directory` with inherited output, and fails when it fails.
pub(crate) fn run_in(
    directory: &Path,
    program: &str,
    arguments: &[&str],
    environment: Option<(&str, &str)>,
) -> Result<(), String> {
    let mut command = Command::new(program);
    command.args(arguments).current_dir(directory);
    if let Some((name, value)) = environment {
        command.env(name, value);
    }
    let status = command
        .status()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed in {} ({status})",
            arguments.join(" "),
            directory.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{OUTPUT_DIRECTORY, compare_trees};

    fn tree(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(path, contents)| ((*path).to_owned(), contents.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn changed_missing_and_leftover_files_are_each_named() {
        let committed = tree(&[("a.ts", "old"), ("same.ts", "x"), ("gone.ts", "y")]);
        let generated = tree(&[("a.ts", "new"), ("same.ts", "x"), ("models/new.ts", "z")]);
        assert_eq!(
            compare_trees(OUTPUT_DIRECTORY, &committed, &generated),
            [
                "generated/typescript/a.ts: differs",
                "generated/typescript/gone.ts: not generated",
                "generated/typescript/models/new.ts: missing",
            ]
        );
        assert!(compare_trees(OUTPUT_DIRECTORY, &generated, &generated).is_empty());
    }
}
