//! `cargo xtask fuzz`: schemathesis against a live server, with every check, positive and
//! negative data, and stateful runs that log in through the contract's bearer scheme.
//!
//! The task
//! 1. makes sure `target/fuzz-venv/` is a Python virtualenv holding exactly the packages pinned in
//!    `fuzz/requirements.txt` (schemathesis and everything it pulls in), creating it with
//!    `python3 -m venv` and installing with pip when it is missing or the file changed;
//! 2. for each of two passes ([`PASSES`]), builds and starts the server on a free loopback port,
//!    with `--scrypt-log-n 4` (hashing at production cost would make each of the thousands of
//!    sign-ups and logins take a third of a second) and, in the second pass, the rate limits off
//!    and a 4 KiB body limit;
//! 3. runs `schemathesis run openapi.yaml --url <server>` with the hooks in
//!    `fuzz/schemathesis_hooks.py` (bearer logins, links and fresh sign-ups for the stateful
//!    phase, a token check), passing its report through, and ends with the number of test cases
//!    run and failed.
//!
//! It fuzzes `openapi.yaml`, not the document the server serves: the contract is what clients
//! are promised, and it names each error status (400, 401, 409, 429, ...) where the served
//! document can only say `4XX`, so schemathesis's status check is exact against the contract.
//! `cargo xtask spec-check` proves that the two documents agree on everything else.
//!
//! The seed and the number of examples are fixed by default, so CI fuzzes the same inputs each
//! time within a bounded time; `--seed` and `--max-examples` explore further.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::codegen::repository_root;
use crate::server_process::RunningServer;

/// Test cases per operation in the fuzzing phase of each pass by default, and the most scenarios
/// of the stateful phase (the coverage phase makes its own fixed set). Measured on the 2-core
/// development machine with the virtualenv already installed: `time cargo xtask fuzz` took
/// 3 min 14 s for 28,361 test cases (`deployed` 60 s, `unthrottled` 134 s, of which 67 s are its
/// 1949 stateful scenarios) and, in a second run, 4 min 7 s for 27,956 (`deployed` 86 s,
/// `unthrottled` 161 s). Under a heavier load from other builds (load average about 7) the
/// fuzzing phases took half as long again, which would put a run near 6 minutes. The first run
/// also spends about 35 s installing the virtualenv. CI's run thus stays under 8 minutes.
const DEFAULT_MAX_EXAMPLES: u32 = 1500;

/// The seed CI fuzzes with; any other finds other inputs.
const DEFAULT_SEED: u64 = 20261122;

/// Where the pinned packages are listed, relative to the repository root.
const REQUIREMENTS: &str = "fuzz/requirements.txt";

/// The hooks schemathesis loads (auth, links, extra check), relative to the repository root.
const HOOKS: &str = "fuzz/schemathesis_hooks.py";

/// The settings the command line cannot give (no cache between runs), relative to the root.
const CONFIG: &str = "fuzz/schemathesis.toml";

pub const USAGE: &str =
    "usage: cargo xtask fuzz [--max-examples N] [--seed S] [--pass NAME] [--url URL]

  Runs schemathesis (the version pinned in fuzz/requirements.txt, installed into
  target/fuzz-venv/ on first use) against openapi.yaml: every check, positive and negative data,
  the examples, coverage, fuzzing and stateful phases, secured calls authenticated through the
  bearer scheme by the hooks in fuzz/schemathesis_hooks.py. Two passes, each against a server
  started on a free loopback port with --scrypt-log-n 4 (cheap hashing):
    deployed     the server's defaults, rate limits on
    unthrottled  rate limits off, so valid sign-ups, logins and scores reach their handlers;
                 bodies capped at 4 KiB, so oversized invalid ones meet the documented 413
  Prints the number of test cases run; fails on any failure.

  --max-examples N  test cases per operation and phase, in each pass (default 1500)
  --seed S          the random seed (default 20261122, the one CI uses)
  --pass NAME       run only that pass
  --url URL         fuzz an already running server instead (it must accept new sign-ups)";

struct Options {
    max_examples: u32,
    seed: u64,
    /// Only the pass of this name (see [`PASSES`]).
    pass: Option<String>,
    url: Option<String>,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        max_examples: DEFAULT_MAX_EXAMPLES,
        seed: DEFAULT_SEED,
        pass: None,
        url: None,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| {
            arguments
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match argument.as_str() {
            "--max-examples" => {
                options.max_examples = value("--max-examples")?
                    .parse()
                    .ok()
                    .filter(|&count| count > 0)
                    .ok_or("--max-examples needs a positive whole number")?;
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed needs a whole number")?;
            }
            "--pass" => {
                let name = value("--pass")?;
                if !PASSES.iter().any(|pass| pass.name == name) {
                    return Err(format!("there is no pass `{name}`\n\n{USAGE}"));
                }
                options.pass = Some(name);
            }
            "--url" => options.url = Some(value("--url")?.trim_end_matches('/').to_owned()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// `cargo xtask fuzz [--max-examples N] [--seed S] [--pass NAME] [--url URL]`.
pub fn run(arguments: &[String]) -> Result<String, String> {
    let options = parse_options(arguments)?;
    let root = repository_root();
    let target = target_directory(&root);
    let schemathesis = ensure_virtualenv(&root, &target.join("fuzz-venv"))?;
    // Schemathesis and Hypothesis keep files in the working directory (`.schemathesis/`,
    // `.hypothesis/`); running in a directory under target/ keeps them out of the source tree.
    let work_directory = target.join("fuzz");
    std::fs::create_dir_all(&work_directory)
        .map_err(|error| format!("cannot create {}: {error}", work_directory.display()))?;
    let fuzzer = Fuzzer {
        root: &root,
        schemathesis: &schemathesis,
        work_directory: &work_directory,
        max_examples: options.max_examples,
        seed: options.seed,
    };

    let started = Instant::now();
    let mut outcomes = Vec::new();
    match &options.url {
        Some(url) => outcomes.push(("the server at --url", fuzzer.run(url)?)),
        None => {
            for pass in PASSES
                .iter()
                .filter(|pass| options.pass.as_deref().is_none_or(|name| name == pass.name))
            {
                eprintln!("\n== pass `{}`: {}", pass.name, pass.description);
                // The server lives until the end of this pass.
                let server =
                    RunningServer::start(&[SERVER_ARGUMENTS, pass.server_arguments].concat())?;
                outcomes.push((pass.name, fuzzer.run(&server.base_url)?));
            }
        }
    }

    let generated: u64 = outcomes
        .iter()
        .map(|(_, outcome)| outcome.summary.generated)
        .sum();
    let failed: u64 = outcomes
        .iter()
        .map(|(_, outcome)| outcome.summary.failed)
        .sum();
    let passes: Vec<String> = outcomes
        .iter()
        .map(|(name, outcome)| {
            format!(
                "{name}: {} cases, {} failed, {:.1} s",
                outcome.summary.generated, outcome.summary.failed, outcome.seconds
            )
        })
        .collect();
    // The closing line in the form CI tools read: `N passed, N failed`.
    println!(
        "schemathesis: {} passed, {failed} failed",
        generated - failed
    );
    let what = format!(
        "schemathesis ran {generated} test cases (seed {}, up to {} examples per operation and phase; {}) in {:.1} s",
        options.seed,
        options.max_examples,
        passes.join("; "),
        started.elapsed().as_secs_f32()
    );
    if failed == 0 && outcomes.iter().all(|(_, outcome)| outcome.succeeded) {
        Ok(format!("{what}: no failures"))
    } else {
        Err(format!(
            "{what}: FAILED. The report above shows each failure with a curl command that \
             reproduces it; the same options run the same inputs again"
        ))
    }
}

/// Flags every pass starts the server with. Hashing at production cost would make each of the
/// thousands of sign-ups and logins take a third of a second, so it is made cheap; warnings and
/// errors from the server still show.
const SERVER_ARGUMENTS: &[&str] = &["--log-level", "warn", "--scrypt-log-n", "4"];

/// One schemathesis run against a freshly started server.
struct Pass {
    name: &'static str,
    description: &'static str,
    server_arguments: &'static [&'static str],
}

/// The passes `cargo xtask fuzz` runs, in order. The first fuzzes the server as it is deployed;
/// but its rate limits soon answer most valid sign-ups, logins and scores with 429 (documented,
/// so accepted), which hides the handlers behind them, so the second fuzzes without the limits.
///
/// The second also lowers the body limit to 4 KiB. The default (16 KiB) is beyond every body
/// schemathesis generates, so the 413 that the contract documents for each operation with a body
/// would never be seen. The largest valid body it can generate is under 2 KiB (a 254-character
/// email, a 20-character username and a 128-character password whose characters it escapes as
/// `\uXXXX\uXXXX`, 12 bytes each), so a valid body still always fits, while its longest invalid
/// strings (several KiB) do not.
const PASSES: &[Pass] = &[
    Pass {
        name: "deployed",
        description: "the server's defaults, rate limits on (429 is part of the contract)",
        server_arguments: &[],
    },
    Pass {
        name: "unthrottled",
        description: "rate limits off, so valid sign-ups, logins and scores reach their handlers; \
                      bodies capped at 4 KiB, so oversized invalid ones meet the documented 413",
        server_arguments: &[
            "--max-body-bytes",
            "4096",
            "--failed-logins-per-account-per-hour",
            "0",
            "--failed-logins-per-client-per-hour",
            "0",
            "--signups-per-client-per-hour",
            "0",
            "--score-submissions-per-player-per-minute",
            "0",
        ],
    },
];

/// What runs schemathesis, the same way for every pass.
struct Fuzzer<'a> {
    root: &'a Path,
    schemathesis: &'a Path,
    work_directory: &'a Path,
    max_examples: u32,
    seed: u64,
}

/// How one schemathesis run ended.
struct Outcome {
    summary: Summary,
    /// Whether schemathesis exited 0.
    succeeded: bool,
    seconds: f32,
}

impl Fuzzer<'_> {
    /// Runs schemathesis against `base_url`, passing its report through as it comes.
    fn run(&self, base_url: &str) -> Result<Outcome, String> {
        let max_examples = self.max_examples.to_string();
        let seed = self.seed.to_string();
        let mut command = Command::new(self.schemathesis);
        command
            .arg("--config-file")
            .arg(self.root.join(CONFIG))
            .arg("run")
            .arg(self.root.join("openapi.yaml"))
            .args(["--url", base_url])
            .args(["--checks", "all", "--mode", "all"])
            // Every check but one: `ensure_resource_availability` (ST302) follows
            // `POST /api/games` to `GET /api/games/live/{gameId}` and expects the game there,
            // but a live game leaves that path by design (it ends by itself, or when its player
            // starts another), answering `404 unknown_game`. `tests/api/live.rs` checks the
            // live view while the game runs. The config file cannot turn it off under
            // `--checks all`.
            .args(["--exclude-checks", "ensure_resource_availability"])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            .args(["--max-examples", &max_examples, "--seed", &seed])
            .args(["--workers", "1"])
            .arg(if std::io::stdout().is_terminal() {
                "--force-color"
            } else {
                "--no-color"
            })
            .env("SCHEMATHESIS_HOOKS", self.root.join(HOOKS))
            .current_dir(self.work_directory)
            .stdout(Stdio::piped());
        eprintln!(
            "schemathesis run openapi.yaml --url {base_url} --checks all \
             --exclude-checks ensure_resource_availability --mode all --phases examples,coverage,fuzzing,stateful --max-examples {max_examples} \
             --seed {seed} --workers 1 (hooks: {HOOKS}, config: {CONFIG})"
        );

        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot run {}: {error}", self.schemathesis.display()))?;
        // The report is kept too, for its summary.
        let mut report = String::new();
        if let Some(stdout) = child.stdout.take() {
            let mut terminal = std::io::stdout().lock();
            for line in BufReader::new(stdout).lines() {
                let line =
                    line.map_err(|error| format!("cannot read schemathesis's output: {error}"))?;
                let _ = writeln!(terminal, "{line}");
                report.push_str(&line);
                report.push('\n');
            }
        }
        let status = child
            .wait()
            .map_err(|error| format!("cannot wait for schemathesis: {error}"))?;
        let summary = Summary::parse(&report).ok_or_else(|| {
            format!("schemathesis ended ({status}) without its summary of test cases; see above")
        })?;
        Ok(Outcome {
            summary,
            succeeded: status.success(),
            seconds: started.elapsed().as_secs_f32(),
        })
    }
}

/// The numbers of schemathesis's `Test cases:` summary line, e.g.
/// `  3351 generated, 3351 passed, 6 skipped` or `  485 generated, 2 found 1 unique failure`.
#[derive(Debug, PartialEq)]
struct Summary {
    generated: u64,
    /// Test cases with a failure, plus those that ended in an error.
    failed: u64,
}

impl Summary {
    fn parse(report: &str) -> Option<Self> {
        let report = strip_ansi(report);
        let mut lines = report.lines();
        lines.find(|line| line.trim() == "Test cases:")?;
        let line = lines.next()?.trim();
        if line == "No test cases were generated" {
            return Some(Self {
                generated: 0,
                failed: 0,
            });
        }
        let count_before = |word: &str| -> Option<u64> {
            line.split(", ").find_map(|part| {
                let (number, rest) = part.split_once(' ')?;
                rest.starts_with(word).then(|| number.parse().ok())?
            })
        };
        Some(Self {
            generated: count_before("generated")?,
            failed: count_before("found").unwrap_or(0) + count_before("errored").unwrap_or(0),
        })
    }
}

/// Removes terminal colour codes (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        if character == '\u{1b}' {
            for code in characters.by_ref() {
                if code.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(character);
        }
    }
    plain
}

/// Cargo's target directory, where the server binary, the virtualenv and the run's files go.
fn target_directory(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Makes `venv` a virtualenv with exactly [`REQUIREMENTS`] installed and returns the path of its
/// `schemathesis` command. A copy of the requirements inside the virtualenv records what was
/// installed, so a changed file reinstalls and an unchanged one costs nothing.
fn ensure_virtualenv(root: &Path, venv: &Path) -> Result<PathBuf, String> {
    let requirements_path = root.join(REQUIREMENTS);
    let requirements = std::fs::read_to_string(&requirements_path)
        .map_err(|error| format!("cannot read {}: {error}", requirements_path.display()))?;
    let installed_record = venv.join("snake-arena-requirements.txt");
    let python = venv.join("bin").join("python");
    let schemathesis = venv.join("bin").join("schemathesis");
    if python.exists()
        && schemathesis.exists()
        && std::fs::read_to_string(&installed_record).ok().as_deref() == Some(&requirements)
    {
        return Ok(schemathesis);
    }

    if !python.exists() {
        check_system_python()?;
        eprintln!("creating the virtualenv {} ...", venv.display());
        run_quietly(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            "python3 -m venv",
            " (on Debian, `apt-get install python3-venv` provides it)",
        )?;
    }
    eprintln!(
        "installing the pinned schemathesis and its dependencies from {REQUIREMENTS} into {} ...",
        venv.display()
    );
    let _ = std::fs::remove_file(&installed_record);
    run_quietly(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(&requirements_path),
        "pip install",
        "",
    )?;
    std::fs::write(&installed_record, &requirements)
        .map_err(|error| format!("cannot write {}: {error}", installed_record.display()))?;
    Ok(schemathesis)
}

/// Schemathesis 4 needs Python 3.11 or newer.
fn check_system_python() -> Result<(), String> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2]); sys.exit(sys.version_info < (3, 11))",
        ])
        .output()
        .map_err(|error| {
            format!("cannot run python3 ({error}): the fuzzer needs Python 3.11 or newer on PATH")
        })?;
    if !output.status.success() {
        return Err(format!(
            "python3 is version {}, but schemathesis needs Python 3.11 or newer",
            String::from_utf8_lossy(&output.stdout).trim()
        ));
    }
    Ok(())
}

/// Runs a set-up command, showing its output only when it fails.
fn run_quietly(command: &mut Command, what: &str, hint: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {what}: {error}{hint}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}){hint}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::{Summary, parse_options, strip_ansi};

    #[test]
    fn the_summary_gives_the_cases_run_and_the_failed_ones() {
        let passed = "Test cases:\n  3351 generated, 3351 passed, 6 skipped\n\nSeed: 1\n";
        assert_eq!(
            Summary::parse(passed),
            Some(Summary {
                generated: 3351,
                failed: 0
            })
        );
        let failed = "Failures:\n  x\n\nTest cases:\n  \u{1b}[1m485\u{1b}[0m generated, \u{1b}[1m2\u{1b}[0m found \u{1b}[1m1\u{1b}[0m unique failure, 3 errored, 6 skipped\n";
        assert_eq!(
            Summary::parse(failed),
            Some(Summary {
                generated: 485,
                failed: 5
            })
        );
        assert_eq!(Summary::parse("Loaded specification\n"), None);
    }

    #[test]
    fn colour_codes_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m text"), "red text");
    }

    #[test]
    fn options_default_to_the_ci_seed_and_can_be_overridden() {
        let defaults = parse_options(&[]).unwrap();
        assert_eq!(
            (
                defaults.max_examples,
                defaults.seed,
                defaults.pass,
                defaults.url
            ),
            (super::DEFAULT_MAX_EXAMPLES, super::DEFAULT_SEED, None, None)
        );
        let arguments = strings(&[
            "--max-examples",
            "5",
            "--seed",
            "7",
            "--pass",
            "unthrottled",
            "--url",
            "http://h:1/",
        ]);
        let options = parse_options(&arguments).unwrap();
        assert_eq!(
            (
                options.max_examples,
                options.seed,
                options.pass.as_deref(),
                options.url.as_deref()
            ),
            (5, 7, Some("unthrottled"), Some("http://h:1"))
        );
        assert!(parse_options(&strings(&["--max-examples", "0"])).is_err());
        assert!(parse_options(&strings(&["--pass", "nonexistent"])).is_err());
        assert!(parse_options(&strings(&["--seed"])).is_err());
        assert!(parse_options(&strings(&["--bogus"])).is_err());
    }

    fn strings(arguments: &[&str]) -> Vec<String> {
        arguments
            .iter()
            .map(|argument| (*argument).to_owned())
            .collect()
    }
}
