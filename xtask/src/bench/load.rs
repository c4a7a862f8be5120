//! The load generator: `wrk` (Debian's package), driven by a generated Lua script that sets the
//! request (method, headers, body) and reports the run through wrk's `done()` hook, so nothing
//! is scraped from wrk's human-readable report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One request, sent over and over on every connection.
#[derive(Clone, Debug)]
pub struct LoadRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// What one wrk run measured.
#[derive(Clone, Copy, Debug)]
pub struct LoadResult {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers other than 2xx or 3xx: a run with any of them did not measure what it meant to.
    pub non_success: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    /// CPU time the server process spent (all its threads, user and system) per answered
    /// request; set by the caller, which can see the server.
    pub server_cpu_us_per_request: f64,
}

/// Fails with the command that installs wrk when it is missing.
pub fn ensure_wrk_is_installed() -> Result<String, String> {
    match Command::new("wrk").arg("--version").output() {
        // `wrk --version` prints its version and usage, then exits 1.
        Ok(output) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("wrk")
            .trim()
            .to_owned()),
        Err(_) => Err(
            "the load generator `wrk` is not installed; on Debian or Ubuntu run \
             `apt-get install -y wrk` (as root), then run the benchmark again"
                .to_owned(),
        ),
    }
}

/// The Lua script that makes wrk send `request` and print one machine-readable result line.
fn script(request: &LoadRequest) -> String {
    let mut script = format!("wrk.method = {}\n", lua_string(&request.method));
    for (name, value) in &request.headers {
        script.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name),
            lua_string(value)
        ));
    }
    if let Some(body) = &request.body {
        script.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    }
    // Latencies are in microseconds; wrk counts non-2xx/3xx answers as `status` errors.
    script.push_str(
        r#"done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("WRK_RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.1f %.1f\n",
    summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"#,
    );
    script
}

/// A Lua string literal holding `text`.
fn lua_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for character in text.chars() {
        match character {
            '\\' => literal.push_str("\\\\"),
            '"' => literal.push_str("\\\""),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            other => literal.push(other),
        }
    }
    literal.push('"');
    literal
}

/// Runs wrk against `base_url` for `duration` (whole seconds) with `connections` open
/// connections, on two load threads (one for a single connection).
pub fn run(
    base_url: &str,
    request: &LoadRequest,
    connections: u32,
    duration: Duration,
    script_path: &Path,
) -> Result<LoadResult, String> {
    std::fs::write(script_path, script(request))
        .map_err(|error| format!("cannot write {}: {error}", script_path.display()))?;
    let threads = connections.clamp(1, 2);
    let output = Command::new("wrk")
        .arg(format!("--threads={threads}"))
        .arg(format!("--connections={connections}"))
        .arg(format!("--duration={}s", duration.as_secs().max(1)))
        .arg("--timeout=5s")
        .arg(format!("--script={}", script_path.display()))
        .arg(format!("{base_url}{}", request.target))
        .output()
        .map_err(|error| format!("cannot run wrk: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse_result(&stdout)
}

fn parse_result(stdout: &str) -> Result<LoadResult, String> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("WRK_RESULT "))
        .ok_or_else(|| format!("wrk printed no result line:\n{stdout}"))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("unreadable wrk result `{line}`: {error}"))?;
    let [
        requests,
        duration_us,
        status,
        connect,
        read,
        write,
        timeout,
        p50_us,
        p99_us,
    ] = numbers[..]
    else {
        return Err(format!("unexpected wrk result `{line}`"));
    };
    Ok(LoadResult {
        requests: requests as u64,
        requests_per_second: requests / (duration_us / 1e6),
        p50_ms: p50_us / 1e3,
        p99_ms: p99_us / 1e3,
        non_success: status as u64,
        socket_errors: (connect + read + write + timeout) as u64,
        server_cpu_us_per_request: f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::{LoadRequest, lua_string, parse_result, script};

    #[test]
    fn the_script_sets_the_request_and_quotes_the_body() {
        let script = script(&LoadRequest {
            method: "POST".to_owned(),
            target: "/api/leaderboard".to_owned(),
            headers: vec![("Authorization".to_owned(), "Bearer abc".to_owned())],
            body: Some(r#"{"score":1,"mode":"walls"}"#.to_owned()),
        });
        assert!(script.starts_with("wrk.method = \"POST\"\n"));
        assert!(script.contains("wrk.headers[\"Authorization\"] = \"Bearer abc\"\n"));
        assert!(script.contains(r#"wrk.body = "{\"score\":1,\"mode\":\"walls\"}""#));
        assert_eq!(lua_string("a\\b\n"), r#""a\\b\n""#);
    }

    #[test]
    fn the_result_line_gives_rate_latencies_and_errors() {
        let result =
            parse_result("Running 1s test\nWRK_RESULT 30000 2000000 3 0 1 0 0 812.0 4010.5\n")
                .unwrap();
        assert_eq!(result.requests, 30000);
        assert_eq!(result.requests_per_second, 15000.0);
        assert_eq!(result.p50_ms, 0.812);
        assert_eq!(result.p99_ms, 4.0105);
        assert_eq!(result.non_success, 3);
        assert_eq!(result.socket_errors, 1);
    }
}
