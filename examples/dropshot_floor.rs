//! The benchmark's Dropshot floor: a Dropshot server, configured and logging exactly as ours, whose
//! only endpoint answers each benchmarked request with the bytes our server gave for it.
//!
//! `cargo xtask bench` runs it beside our server and the bare hyper ceiling. The ceiling shows what
//! the machine allows; this floor shows what Dropshot itself costs on top of hyper (routing, the
//! request id, the handler task, one log line per request); what our server costs beyond the floor
//! is ours: the request hook, extractors, validation, the store and JSON encoding.
//!
//! Usage: `dropshot_floor RESPONSES.json [SERVER FLAGS]`, where the file is the JSON array of
//! recorded answers that the bench writes (`method`, `target`, `status`, `headers`, `body`) and the
//! flags are our server's (`--log-level`, `--log-format`, `--max-body-bytes` are used). It prints
//! the port it listens on (127.0.0.1, a free one), then serves until killed.

use std::collections::HashMap;
use std::io::Write;

use dropshot::{
    ApiDescription, Body, ConfigDropshot, HttpError, Path, RequestContext, ServerBuilder,
    UntypedBody,
};
use http::{HeaderName, HeaderValue, Method, Response, StatusCode};

/// One answer to replay, ready to be copied into each response (the body is reference-counted).
struct RecordedAnswer {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: bytes::Bytes,
}

/// Answers by method and exact request target (`/api/leaderboard?limit=10`).
struct Replay {
    answers: HashMap<(Method, String), RecordedAnswer>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct AnyPath {
    #[allow(dead_code)]
    rest: Vec<String>,
}

fn answer(rqctx: &RequestContext<Replay>) -> Result<Response<Body>, HttpError> {
    let request = &rqctx.request;
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let Some(recorded) = rqctx
        .context()
        .answers
        .get(&(request.method().clone(), target.to_owned()))
    else {
        return Err(HttpError::for_not_found(
            None,
            format!("no answer for {target}"),
        ));
    };
    let mut response = Response::new(Body::from(recorded.body.clone()));
    *response.status_mut() = recorded.status;
    let headers = response.headers_mut();
    for (name, value) in &recorded.headers {
        headers.append(name.clone(), value.clone());
    }
    Ok(response)
}

#[dropshot::endpoint { method = GET, path = "/api/{rest:.*}", unpublished = true }]
async fn replay_get(
    rqctx: RequestContext<Replay>,
    _path: Path<AnyPath>,
) -> Result<Response<Body>, HttpError> {
    answer(&rqctx)
}

/// Takes the body as our server's typed bodies do: read in full, up to the same size limit.
#[dropshot::endpoint { method = POST, path = "/api/{rest:.*}", unpublished = true }]
async fn replay_post(
    rqctx: RequestContext<Replay>,
    _path: Path<AnyPath>,
    _body: UntypedBody,
) -> Result<Response<Body>, HttpError> {
    answer(&rqctx)
}

fn load(path: &str) -> Result<Replay, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| format!("{path}: {error}"))?;
    let mut answers = HashMap::new();
    for recorded in document
        .as_array()
        .ok_or("the recorded answers are not an array")?
    {
        let text = |key: &str| {
            recorded[key]
                .as_str()
                .ok_or_else(|| format!("a recorded answer has no `{key}`"))
        };
        let method =
            Method::from_bytes(text("method")?.as_bytes()).map_err(|error| error.to_string())?;
        let status = recorded["status"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .and_then(|status| StatusCode::from_u16(status).ok())
            .ok_or("a recorded answer has no valid `status`")?;
        let mut headers = Vec::new();
        for pair in recorded["headers"]
            .as_array()
            .ok_or("a recorded answer has no `headers`")?
        {
            let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
                return Err("a recorded header is not a [name, value] pair".to_owned());
            };
            // Dropshot writes its own request id, as it does for our server.
            if name.eq_ignore_ascii_case("x-request-id") {
                continue;
            }
            headers.push((
                HeaderName::from_bytes(name.as_bytes()).map_err(|error| error.to_string())?,
                HeaderValue::from_str(value).map_err(|error| error.to_string())?,
            ));
        }
        answers.insert(
            (method, text("target")?.to_owned()),
            RecordedAnswer {
                status,
                headers,
                body: bytes::Bytes::from(text("body")?.to_owned()),
            },
        );
    }
    Ok(Replay { answers })
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut arguments = std::env::args().skip(1);
    let path = arguments
        .next()
        .ok_or("usage: dropshot_floor RESPONSES.json [SERVER FLAGS]")?;
    let replay = load(&path)?;
    let mut api = ApiDescription::new();
    api.register(replay_get)
        .map_err(|error| error.to_string())?;
    api.register(replay_post)
        .map_err(|error| error.to_string())?;
    // Our server's settings, from the same flags: the same logger and body limit, and Dropshot's
    // default handler task mode, as ours uses.
    let settings = <snake_arena_server::config::Config as clap::Parser>::try_parse_from(
        std::iter::once("dropshot_floor".to_owned()).chain(arguments),
    )
    .map_err(|error| error.to_string())?;
    let log = snake_arena_server::logging::logger(settings.log_level, settings.log_format);
    let server = ServerBuilder::new(api, replay, log)
        .config(ConfigDropshot {
            bind_address: "127.0.0.1:0".parse().map_err(|error| format!("{error}"))?,
            default_request_body_max_bytes: settings.max_body_bytes as usize,
            ..Default::default()
        })
        .start()
        .map_err(|error| error.to_string())?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", server.local_addr().port())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot report the port: {error}"))?;
    server.await
}
