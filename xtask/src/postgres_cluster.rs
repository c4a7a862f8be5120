//! A throwaway PostgreSQL cluster for the tasks that need one (`cluster`, `crash --backend
//! postgres`), started, stopped and started again with `scripts/start-postgres.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::bench::process::free_loopback_port;
use crate::codegen::repository_root;

/// How PostgreSQL is stopped: `Fast` is an orderly shutdown (sessions ended, a final checkpoint),
/// `Immediate` is what a crash leaves (no checkpoint: the next start replays the write-ahead log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    Fast,
    Immediate,
}

impl StopMode {
    pub fn name(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// The PostgreSQL cluster the script started, stopped when dropped.
pub struct PostgresCluster {
    directory: PathBuf,
    port: u16,
    pub url: String,
}

fn script() -> PathBuf {
    repository_root().join("scripts").join("start-postgres.sh")
}

/// Runs the script with `arguments`, failing with its stderr passed through.
fn run_script(arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("bash")
        .arg(script())
        .args(arguments)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", script().display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} {} failed; is PostgreSQL installed (apt-get install postgresql)?",
            script().display(),
            arguments.join(" ")
        ))
    }
}

impl PostgresCluster {
    /// A fresh cluster in `directory` (whatever was there is removed) on a free loopback port.
    pub fn start(directory: &Path) -> Result<Self, String> {
        let port = free_loopback_port()?;
        let url = run_script(&[&directory.display().to_string(), &port.to_string()])?;
        Ok(Self {
            directory: directory.to_owned(),
            port,
            url,
        })
    }

    /// Stops the cluster, keeping its data, and returns once PostgreSQL has exited.
    pub fn stop(&self, mode: StopMode) -> Result<(), String> {
        run_script(&["--stop", &self.directory.display().to_string(), mode.name()]).map(drop)
    }

    /// Starts the stopped cluster again on its port and returns once it accepts connections
    /// (after a recovery, when it was stopped `Immediate`).
    pub fn start_again(&self) -> Result<(), String> {
        run_script(&[
            "--start-again",
            &self.directory.display().to_string(),
            &self.port.to_string(),
        ])
        .map(drop)
    }

    /// Runs `sql` with PostgreSQL's own `psql` (from the cluster's binaries) and returns what it
    /// printed, unaligned and without headers.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let binaries = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|error| format!("cannot read /usr/lib/postgresql: {error}"))?
            .filter_map(|entry| {
                entry
                    .ok()
                    .map(|entry| entry.path().join("bin").join("psql"))
            })
            .filter(|psql| psql.exists())
            .max()
            .ok_or("no psql under /usr/lib/postgresql/*/bin")?;
        let output = Command::new(binaries)
            .args(["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-At"])
            .arg(&self.url)
            .args(["-c", sql])
            .output()
            .map_err(|error| format!("cannot run psql: {error}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("--stop")
            .arg(&self.directory)
            .status();
    }
}
