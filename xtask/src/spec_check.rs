//! `cargo xtask spec-check`: proves that a running server speaks exactly `openapi.yaml`.
//!
//! Without `--url` it builds the server, starts the real binary on a free loopback port, waits
//! for `GET /api/health`, fetches `GET /api/openapi.json` and stops the server again. The
//! contract is linted first; then the two documents are compared by `spec_check::compare`.
//!
//! The comparison ignores only differences that carry no contract (the `spec-check` crate docs
//! give each reason in full):
//! 1. order (of paths, properties, parameters, tags, enum values, required names);
//! 2. prose (`description`, `summary`, `title`, examples, the top-level tag list, `info` other
//!    than `version`, `x-` extensions);
//! 3. the contract's individual error codes (400, 401, 409, ...), which Dropshot can only
//!    document as `4XX`/`5XX`: those ranges are accepted when their schema equals the
//!    contract's error schema, and any difference in that schema is still reported;
//! 4. keywords whose value means the same as their absence (`nullable: false`, `required: []`,
//!    `additionalProperties: true`, ...), and `10` against `10.0`.
//!
//! Exit status: 0 when they agree, 1 on drift or lint problems (one sorted line each), 2 when
//! the check itself cannot run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::codegen::repository_root;

pub const USAGE: &str = "usage: cargo xtask spec-check [--url URL] [--spec PATH] [--json]

  --url URL    check an already running server (its base URL, e.g. http://127.0.0.1:8000,
               or the full URL of its document) instead of building and starting one
  --spec PATH  compare against this contract instead of openapi.yaml
  --json       print the result as JSON";

/// How the check ended, for the exit status.
pub enum Outcome {
    Agrees,
    Differs,
}

struct Options {
    url: Option<String>,
    spec: PathBuf,
    json: bool,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        url: None,
        spec: repository_root().join("openapi.yaml"),
        json: false,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--url" => options.url = Some(arguments.next().ok_or("--url needs a URL")?.clone()),
            "--spec" => {
                options.spec = PathBuf::from(arguments.next().ok_or("--spec needs a path")?)
            }
            "--json" => options.json = true,
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(options)
}

pub fn run(arguments: &[String]) -> Result<Outcome, String> {
    let options = parse_options(arguments)?;
    let spec_text = std::fs::read_to_string(&options.spec)
        .map_err(|error| format!("cannot read {}: {error}", options.spec.display()))?;
    let spec = spec_check::parse_document(&spec_text)?;

    let problems = spec_check::lint(&spec);
    if !problems.is_empty() {
        if options.json {
            let problems: Vec<_> = problems
                .iter()
                .map(|problem| serde_json::json!({ "pointer": problem.pointer, "message": problem.message }))
                .collect();
            println!("{}", serde_json::json!({ "lint": problems }));
        } else {
            eprintln!(
                "{} has problems; fix them before comparing:",
                options.spec.display()
            );
            for problem in &problems {
                println!("lint: {problem}");
            }
        }
        return Ok(Outcome::Differs);
    }

    let served = match &options.url {
        Some(url) => fetch_document(&document_url(url))?,
        None => {
            let server = RunningServer::start()?;
            fetch_document(&format!("{}/api/openapi.json", server.base_url))?
        }
    };

    let differences = spec_check::compare(&spec, &served);
    if options.json {
        println!("{}", spec_check::differences_as_json(&differences));
    } else if differences.is_empty() {
        eprintln!("the server matches {}", options.spec.display());
    } else {
        for difference in &differences {
            println!("{difference}");
        }
        eprintln!(
            "{} difference(s) between the server and {}",
            differences.len(),
            options.spec.display()
        );
    }
    Ok(if differences.is_empty() {
        Outcome::Agrees
    } else {
        Outcome::Differs
    })
}

/// A base URL becomes the document's URL; a URL that already names a `.json` is kept.
fn document_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with(".json") {
        url.to_owned()
    } else {
        format!("{}/api/openapi.json", url.trim_end_matches("/api"))
    }
}

/// The server binary this check started; it is killed when this is dropped, whatever happens.
struct RunningServer {
    child: Child,
    base_url: String,
}

impl RunningServer {
    fn start() -> Result<Self, String> {
        let root = repository_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        eprintln!("building the server...");
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--bin", "snake-arena-server"])
            .current_dir(&root)
            .status()
            .map_err(|error| format!("cannot run cargo build: {error}"))?;
        if !status.success() {
            return Err("cargo build failed".to_owned());
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let binary = target.join("debug").join("snake-arena-server");

        // The port is free when asked; the server binds it a moment later, which another
        // process could in theory take first. The health wait below then reports the failure.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("cannot find a free loopback port: {error}"))?
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--no-seed",
                "--log-level",
                "warn",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let mut server = Self { child, base_url };
        server.wait_until_healthy()?;
        Ok(server)
    }

    fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let health_url = format!("{}/api/health", self.base_url);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the server exited before it was healthy ({status})"
                ));
            }
            if matches!(http_get(&health_url), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not answer {health_url} within 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fetch_document(url: &str) -> Result<serde_json::Value, String> {
    let (status, body) = http_get(url)?;
    if status != 200 {
        return Err(format!("GET {url} answered {status}"));
    }
    serde_json::from_slice(&body).map_err(|error| format!("GET {url} did not return JSON: {error}"))
}

/// A minimal HTTP/1.1 GET over plain TCP: enough for a loopback or LAN server, with no TLS.
fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let socket = address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&socket, timeout)
        .map_err(|error| format!("cannot connect to {authority}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|error| error.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("cannot send to {authority}: {error}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|error| format!("cannot read from {authority}: {error}"))?;

    let header_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: the response has no end of headers"))?;
    let head = String::from_utf8_lossy(&response[..header_end]).to_string();
    let body = response[header_end + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}: unreadable status line"))?;
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase().starts_with("transfer-encoding:")
            && line.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked { dechunk(&body)? } else { body };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut decoded = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk size line is cut short")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size `{size_text}`"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(decoded);
        }
        let chunk = body.get(..size).ok_or("a chunk is cut short")?;
        decoded.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("a chunk misses its line end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::{dechunk, document_url};

    #[test]
    fn a_base_url_or_api_url_points_at_the_served_document() {
        assert_eq!(
            document_url("http://127.0.0.1:8000"),
            "http://127.0.0.1:8000/api/openapi.json"
        );
        assert_eq!(
            document_url("http://127.0.0.1:8000/api/"),
            "http://127.0.0.1:8000/api/openapi.json"
        );
        assert_eq!(
            document_url("http://h:1/x/doc.json"),
            "http://h:1/x/doc.json"
        );
    }

    #[test]
    fn chunked_bodies_are_put_back_together() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert!(dechunk(b"9\r\nshort\r\n").is_err());
    }
}
