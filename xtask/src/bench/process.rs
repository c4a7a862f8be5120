//! The processes a benchmark runs (our release server, the Dropshot floor, the ceiling) and what
//! it reads from them: the time from spawn to the first healthy answer, resident memory (now and
//! at its peak), and whole HTTP exchanges (status, headers, body) to record and check answers.
//! `cargo xtask stress` starts and reads its servers with the same code.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ceiling::{HEADERS_WRITTEN_BY_HYPER, RecordedResponse};
use super::load::LoadRequest;

/// How long a server may take to answer `GET /api/health`; filling a million synthetic scores
/// takes a few seconds of it.
const HEALTHY_WITHIN: Duration = Duration::from_secs(120);

/// How often to try `GET /api/health` while a server starts: often enough to time start-up to
/// about a millisecond.
const HEALTH_POLL_INTERVAL: Duration = Duration::from_micros(500);

/// Log lines of our server kept for an error message; the rest is read and dropped.
const LOG_TAIL_LINES: usize = 20;

/// A process started for the benchmark; killed when dropped, whatever happens.
pub struct BenchProcess {
    child: Child,
    pub address: SocketAddr,
    /// From spawning the process to its first `200` to `GET /api/health` (ours) or to reporting
    /// its port (the ceiling).
    pub started_within: Duration,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

impl BenchProcess {
    /// Starts our server binary on a free loopback port with `arguments` after `--bind`, and
    /// returns once it answers `GET /api/health` with 200.
    ///
    /// Its log (stderr) goes to a pipe that a thread reads and drops, keeping only the last
    /// lines for error messages: like a log collector, and unlike a terminal, it never slows the
    /// server down, yet every line is formatted and written as in production.
    pub fn start_server(binary: &Path, arguments: &[String]) -> Result<Self, String> {
        Self::start_server_within(binary, arguments, HEALTHY_WITHIN)
    }

    /// Like [`BenchProcess::start_server`], for a server that may take up to `healthy_within`
    /// (one filling its database at start-up).
    pub fn start_server_within(
        binary: &Path,
        arguments: &[String],
        healthy_within: Duration,
    ) -> Result<Self, String> {
        let port = free_loopback_port()?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let spawned_at = Instant::now();
        let mut child = Command::new(binary)
            .args(["--bind", &address.to_string()])
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let log_tail = drain_log(child.stderr.take());
        let mut process = BenchProcess {
            child,
            address,
            started_within: Duration::ZERO,
            log_tail,
        };
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!(
                    "the server exited before it was healthy ({status}); its last log lines:\n{}",
                    process.log_tail()
                ));
            }
            if let Ok(response) = exchange(address, "GET", "/api/health", &[], None)
                && response.status == 200
            {
                process.started_within = spawned_at.elapsed();
                return Ok(process);
            }
            if spawned_at.elapsed() > healthy_within {
                return Err(format!(
                    "the server did not answer GET /api/health within {} s",
                    healthy_within.as_secs()
                ));
            }
            std::thread::sleep(HEALTH_POLL_INTERVAL);
        }
    }

    /// Starts the ceiling (`xtask bench --serve-ceiling FILE` from the release build of xtask)
    /// and returns once it has reported the port it listens on.
    pub fn start_ceiling(xtask_binary: &Path, responses: &Path) -> Result<Self, String> {
        let mut command = Command::new(xtask_binary);
        command
            .arg("bench")
            .arg("--serve-ceiling")
            .arg(responses)
            .stderr(Stdio::inherit());
        Self::start_replayer(command, "the ceiling server")
    }

    /// Starts the Dropshot floor (`examples/dropshot_floor.rs`, release build) with our server's
    /// `arguments`, its log read and dropped like ours, and returns once it has reported its port.
    pub fn start_floor(
        binary: &Path,
        responses: &Path,
        arguments: &[String],
    ) -> Result<Self, String> {
        let mut command = Command::new(binary);
        command
            .arg(responses)
            .args(arguments)
            .stderr(Stdio::piped());
        Self::start_replayer(command, "the Dropshot floor")
    }

    /// Spawns a server that prints the port it listens on as its first line of output.
    fn start_replayer(mut command: Command, name: &str) -> Result<Self, String> {
        let spawned_at = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {name}: {error}"))?;
        let log_tail = drain_log(child.stderr.take());
        let mut first_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut first_line);
        }
        let Ok(port) = first_line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{name} did not report its port (it said `{}`)",
                first_line.trim()
            ));
        };
        Ok(BenchProcess {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            started_within: spawned_at.elapsed(),
            log_tail,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Resident memory now (`VmRSS` in `/proc/<pid>/status`), in bytes.
    pub fn resident_bytes(&self) -> Result<u64, String> {
        self.status_bytes("VmRSS")
    }

    /// The most resident memory the process has had since it started (`VmHWM`, the kernel's
    /// high-water mark, which no sampling interval can miss), in bytes.
    pub fn peak_resident_bytes(&self) -> Result<u64, String> {
        self.status_bytes("VmHWM")
    }

    /// A size field of `/proc/<pid>/status` (given in kB there), in bytes.
    fn status_bytes(&self, field: &str) -> Result<u64, String> {
        let status_path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&status_path)
            .map_err(|error| format!("cannot read {status_path}: {error}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|kibibytes| kibibytes.trim().parse::<u64>().ok())
            .map(|kibibytes| kibibytes * 1024)
            .ok_or_else(|| format!("{status_path} has no readable {field} line"))
    }

    /// CPU time the process has used so far, all threads, user and system.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let stat_path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&stat_path)
            .map_err(|error| format!("cannot read {stat_path}: {error}"))?;
        cpu_time_of(&stat, clock_ticks_per_second())
            .ok_or_else(|| format!("{stat_path} has no readable utime and stime"))
    }

    /// Fails, with the last log lines, when the process has exited.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "the process at {} exited ({status}); its last log lines:\n{}",
                self.address,
                self.log_tail()
            )),
            Err(error) => Err(format!("cannot check the process: {error}")),
        }
    }

    /// Asks the process to stop (SIGTERM, as an operator or a service manager would) and waits
    /// for it to exit: a server shuts down cleanly, closing its database.
    pub fn stop_gracefully(&mut self) -> Result<(), String> {
        let pid = libc::pid_t::try_from(self.child.id())
            .map_err(|_| "the process id does not fit a pid_t".to_owned())?;
        // SAFETY: kill(2) only sends a signal; the pid is our own child's, not yet reaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!(
                "cannot send SIGTERM: {}",
                std::io::Error::last_os_error()
            ));
        }
        let status = self
            .child
            .wait()
            .map_err(|error| format!("cannot wait for the server to stop: {error}"))?;
        if !status.success() {
            return Err(format!(
                "the server stopped with {status} after SIGTERM; its last log lines:\n{}",
                self.log_tail()
            ));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        // Give the reader thread a moment to take in the last lines of a process that just died.
        std::thread::sleep(Duration::from_millis(100));
        let tail = self
            .log_tail
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for BenchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `utime + stime` from the text of `/proc/<pid>/stat` (fields 14 and 15, counted after the
/// parenthesised command name, which may itself hold spaces).
fn cpu_time_of(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (user + system) as f64 / ticks_per_second as f64,
    ))
}

/// The kernel's clock tick for `/proc` CPU times (`getconf CLK_TCK`), 100 on Linux in practice.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}

/// Reads a child's stderr to its end on a thread, keeping the last lines.
fn drain_log(stderr: Option<ChildStderr>) -> Arc<Mutex<VecDeque<String>>> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_TAIL_LINES)));
    if let Some(stderr) = stderr {
        let tail = Arc::clone(&tail);
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stderr);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(read) if read > 0) {
                let mut tail = tail.lock().unwrap_or_else(|poison| poison.into_inner());
                if tail.len() == LOG_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
                line.clear();
            }
        });
    }
    tail
}

/// A loopback port that was free a moment ago; the server binds it right after.
pub fn free_loopback_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free loopback port: {error}"))
}

/// How long [`exchange`] waits to connect and for each read of the answer.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), answered in full: status,
/// headers other than those hyper writes itself, and body.
pub fn exchange(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<RecordedResponse, String> {
    let request = LoadRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: headers.to_vec(),
        body: body.map(str::to_owned),
    };
    exchange_within(EXCHANGE_TIMEOUT, address, &request)
}

/// [`exchange`] of a prepared request, waiting at most `timeout` to connect and for each read of
/// the answer: a login queued behind a storm of others may rightly take longer than usual.
pub fn exchange_within(
    timeout: Duration,
    address: SocketAddr,
    request: &LoadRequest,
) -> Result<RecordedResponse, String> {
    let LoadRequest {
        method,
        target,
        headers,
        body,
    } = request;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|error| error.to_string())?;
    let mut message =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        message.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        message.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    message.push_str("\r\n");
    message.push_str(body.as_deref().unwrap_or(""));
    stream
        .write_all(message.as_bytes())
        .map_err(|error| format!("cannot send to {address}: {error}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|error| format!("cannot read from {address}: {error}"))?;
    parse_response(method, target, &response)
}

fn parse_response(method: &str, target: &str, response: &[u8]) -> Result<RecordedResponse, String> {
    let head_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("{method} {target}: the response has no end of headers"))?;
    let head = std::str::from_utf8(&response[..head_end])
        .map_err(|_| format!("{method} {target}: the response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|status_line| status_line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{method} {target}: unreadable status line"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{method} {target}: bad header line `{line}`"))?;
        let name = name.trim().to_ascii_lowercase();
        if name == "transfer-encoding" {
            return Err(format!(
                "{method} {target}: chunked answers are not expected"
            ));
        }
        if !HEADERS_WRITTEN_BY_HYPER.contains(&name.as_str()) {
            headers.push((name, value.trim().to_owned()));
        }
    }
    let body = String::from_utf8(response[head_end + 4..].to_vec())
        .map_err(|_| format!("{method} {target}: the body is not UTF-8"))?;
    Ok(RecordedResponse {
        method: method.to_owned(),
        target: target.to_owned(),
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{cpu_time_of, parse_response};

    #[test]
    fn cpu_time_is_user_plus_system_ticks_even_with_spaces_in_the_name() {
        let stat = "4362 (snake arena) S 1 4362 4362 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(cpu_time_of(stat, 100), Some(Duration::from_secs(3)));
        assert_eq!(cpu_time_of("4362 (x) S 1", 100), None);
    }

    #[test]
    fn a_response_is_split_into_status_replayable_headers_and_body() {
        let response = parse_response(
            "GET",
            "/api/health",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\
              date: Sun, 22 Nov 2026 03:01:45 GMT\r\nx-request-id: 1\r\n\r\n{}",
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-request-id".to_owned(), "1".to_owned()),
            ]
        );
        assert_eq!(response.body, "{}");
    }
}
