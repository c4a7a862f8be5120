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

use std::path::PathBuf;

use crate::codegen::repository_root;
use crate::server_process::{RunningServer, http_get};

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
            let server = RunningServer::start(&["--no-seed", "--log-level", "warn"])?;
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

fn fetch_document(url: &str) -> Result<serde_json::Value, String> {
    let (status, body) = http_get(url)?;
    if status != 200 {
        return Err(format!("GET {url} answered {status}"));
    }
    serde_json::from_slice(&body).map_err(|error| format!("GET {url} did not return JSON: {error}"))
}

#[cfg(test)]
mod tests {
    use super::document_url;

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
}
