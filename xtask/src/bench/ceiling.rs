//! The ceiling: a bare hyper server (HTTP/1.1, no framework, no routing beyond one exact-match
//! table) that answers each benchmarked request with the status, headers and body our server gave
//! for the same request. The same load against both shows what this machine allows, and how much
//! of it our server reaches.
//!
//! It runs in its own process, like our server, from the release build of xtask
//! (`xtask bench --serve-ceiling FILE`): a debug build would understate the ceiling. It reads
//! each request's body before answering, as our server does, and lets hyper write `date` and
//! `content-length`, as Dropshot does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One answer of our server, recorded to be replayed byte for byte by the ceiling.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedResponse {
    pub method: String,
    /// The request target: path and query, e.g. `/api/leaderboard?limit=10`.
    pub target: String,
    pub status: u16,
    /// Every response header in order, except those hyper writes itself (`date`,
    /// `content-length`, `transfer-encoding`, `connection`).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Headers the HTTP layer writes for each response, so they are not replayed.
pub const HEADERS_WRITTEN_BY_HYPER: [&str; 4] =
    ["date", "content-length", "transfer-encoding", "connection"];

impl RecordedResponse {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "headers": self.headers.iter().map(|(name, value)| [name, value]).collect::<Vec<_>>(),
            "body": self.body,
        })
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let text = |key: &str| {
            value[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("a recorded response has no `{key}`"))
        };
        let headers = value["headers"]
            .as_array()
            .ok_or("a recorded response has no `headers`")?
            .iter()
            .map(|pair| match (pair[0].as_str(), pair[1].as_str()) {
                (Some(name), Some(value)) => Ok((name.to_owned(), value.to_owned())),
                _ => Err("a recorded header is not a [name, value] pair".to_owned()),
            })
            .collect::<Result<_, _>>()?;
        Ok(RecordedResponse {
            method: text("method")?,
            target: text("target")?,
            status: value["status"]
                .as_u64()
                .and_then(|status| u16::try_from(status).ok())
                .ok_or("a recorded response has no `status`")?,
            headers,
            body: text("body")?,
        })
    }
}

/// A recorded answer, ready to be cloned into each response (the body is reference-counted).
struct PreparedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Answers by method, then by exact request target; looking up a `&str` allocates nothing.
type AnswerTable = HashMap<Method, HashMap<String, PreparedResponse>>;

fn prepare(recorded: &[RecordedResponse]) -> Result<AnswerTable, String> {
    let mut table = AnswerTable::new();
    for response in recorded {
        let method = Method::from_bytes(response.method.as_bytes())
            .map_err(|error| format!("method {}: {error}", response.method))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &response.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|error| format!("header {name}: {error}"))?,
                HeaderValue::from_str(value).map_err(|error| format!("header {name}: {error}"))?,
            );
        }
        let prepared = PreparedResponse {
            status: StatusCode::from_u16(response.status)
                .map_err(|error| format!("status {}: {error}", response.status))?,
            headers,
            body: Bytes::from(response.body.clone()),
        };
        table
            .entry(method)
            .or_default()
            .insert(response.target.clone(), prepared);
    }
    Ok(table)
}

/// Serves the recorded answers in `responses_path` (a JSON array) on a free loopback port, prints
/// that port on stdout and serves until the process is killed.
pub fn serve(responses_path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(responses_path)
        .map_err(|error| format!("cannot read {}: {error}", responses_path.display()))?;
    let document: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: {error}", responses_path.display()))?;
    let recorded = document
        .as_array()
        .ok_or("the recorded responses are not a JSON array")?
        .iter()
        .map(RecordedResponse::from_json)
        .collect::<Result<Vec<_>, _>>()?;
    let table = Arc::new(prepare(&recorded)?);

    // The same runtime as our server's `#[tokio::main]`: one worker thread per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("cannot listen: {error}"))?;
        let port = listener
            .local_addr()
            .map_err(|error| error.to_string())?
            .port();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{port}")
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("cannot report the port: {error}"))?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let table = Arc::clone(&table);
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&table), request));
                // A connection that breaks (the load generator stopping) is no concern here.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn answer(
    table: Arc<AnswerTable>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    // Read the whole body, as a server that parses it must.
    if body.collect().await.is_err() {
        return Ok(plain_status(StatusCode::BAD_REQUEST));
    }
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let Some(prepared) = table
        .get(&parts.method)
        .and_then(|by_target| by_target.get(target))
    else {
        return Ok(plain_status(StatusCode::NOT_FOUND));
    };
    let mut response = Response::new(Full::new(prepared.body.clone()));
    *response.status_mut() = prepared.status;
    *response.headers_mut() = prepared.headers.clone();
    Ok(response)
}

fn plain_status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::RecordedResponse;

    #[test]
    fn a_recorded_response_survives_its_json_form() {
        let recorded = RecordedResponse {
            method: "POST".to_owned(),
            target: "/api/leaderboard".to_owned(),
            status: 201,
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("vary".to_owned(), "origin".to_owned()),
            ],
            body: r#"{"score":1}"#.to_owned(),
        };
        assert_eq!(
            RecordedResponse::from_json(&recorded.to_json()),
            Ok(recorded)
        );
    }
}
