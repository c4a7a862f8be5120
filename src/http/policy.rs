//! What every request and response goes through, whatever route answers it: CORS (preflight
//! What every request and response goes through, whatever route answers it: CORS (preflight
//! answers and response headers), security headers, the contract's `{code, detail}` body for
//! errors the router produces itself, refusals of requests whose form is wrong before any route
//! sees them (a URI or headers too large, a JSON body without a JSON content type), and a
//! deadline for the request body. It is installed once, as Dropshot's request hook, so no
//! handler has to remember any of it.

use std::sync::Arc;

use dropshot::{Body, RequestHook, RequestHookDecision};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use crate::http::cors::{self, CorsPolicy};
use crate::http::error::ApiError;

/// The longest request target (path and query) accepted, in bytes. RFC 9112 asks servers to
/// accept at least 8,000; no URI of this API comes close. Longer ones get 414 with the contract's
/// body, up to hyper's own limit of 64 KiB, beyond which hyper answers 414 itself, without a body.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header bytes (names, values and their separators) accepted in one request. Longer
/// header sections get 431 with the contract's body, up to hyper's own limit of about 400 KiB
/// (or 100 headers), beyond which hyper answers 431 itself, without a body.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The request hook: one per server, shared by every request.
pub struct HttpPolicy {
    cors: CorsPolicy,
    routes: Arc<RouteTable>,
    body_timeout: std::time::Duration,
}

impl HttpPolicy {
    /// A policy for the routes a served OpenAPI document declares, giving each request body
    /// `body_timeout` to arrive.
    pub fn new(
        cors: CorsPolicy,
        document: &serde_json::Value,
        body_timeout: std::time::Duration,
    ) -> Self {
        Self {
            cors,
            routes: Arc::new(RouteTable::from_openapi(document)),
            body_timeout,
        }
    }

    fn preflight(&self, request: &http::Request<Body>) -> Option<Response<Body>> {
        let origin = request.headers().get(header::ORIGIN)?;
        if request.method() != Method::OPTIONS
            || !request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        // A preflight for a path the API does not have is routed like any request, so the
        // answer is the usual 404 (with CORS headers, for an allowed origin).
        let methods = self.routes.methods_for(request.uri().path())?;
        let mut response = Response::new(Body::empty());
        match self.cors.allow_origin(origin) {
            Some(allowed_origin) => {
                *response.status_mut() = StatusCode::NO_CONTENT;
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin);
                headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods.clone());
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(cors::ALLOWED_REQUEST_HEADERS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(cors::PREFLIGHT_MAX_AGE_SECONDS),
                );
            }
            None => {
                let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
                let refusal = ApiError::forbidden(
                    "origin_not_allowed",
                    format!(
                        "origin {origin} may not call this API from a browser; the operator can \
                         allow it with --cors-origin (SNAKE_ARENA_CORS_ORIGINS)"
                    ),
                );
                match refusal.into_response(Response::builder()) {
                    Ok(refused) => response = refused,
                    Err(_) => *response.status_mut() = StatusCode::FORBIDDEN,
                }
            }
        }
        add_security_headers(response.headers_mut());
        if self.cors.varies_by_origin() {
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static("origin"));
        }
        Some(response)
    }

    /// A refusal for a request whose form is wrong whatever its route would do with it: the
    /// URI or the headers are too large, or a body the route reads as JSON is not labelled so.
    fn malformed(&self, request: &http::Request<Body>) -> Option<ApiError> {
        use dropshot::ErrorStatusCode as Status;
        let uri_bytes = request
            .uri()
            .path_and_query()
            .map_or(0, |target| target.as_str().len());
        if uri_bytes > MAX_URI_BYTES {
            return Some(ApiError::malformed_request(
                Status::URI_TOO_LONG,
                format!(
                    "the URI is {uri_bytes} bytes long; this API accepts at most {MAX_URI_BYTES}"
                ),
            ));
        }
        let header_bytes: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Some(ApiError::malformed_request(
                Status::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "the request headers are {header_bytes} bytes long; this API accepts at most \
                     {MAX_HEADER_BYTES}"
                ),
            ));
        }
        if self
            .routes
            .takes_json_body(request.method(), request.uri().path())
        {
            return json_content_type_problem(request.headers()).map(|problem| {
                ApiError::malformed_request(
                    Status::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "{} {} takes a JSON body: {problem}",
                        request.method(),
                        request.uri().path()
                    ),
                )
            });
        }
        None
    }
}

/// What is wrong with the `Content-Type` of a request whose body the route reads as JSON, if
/// anything. The contract declares `application/json` only, and JSON is UTF-8 (RFC 8259), so
/// another charset is refused too. A missing label is refused rather than guessed at, and so is
/// `text/plain`, which browsers send cross-origin without asking first (no CORS preflight).
fn json_content_type_problem(headers: &HeaderMap) -> Option<String> {
    const EXPECTED: &str = "send Content-Type: application/json";
    let mut labels = headers.get_all(header::CONTENT_TYPE).iter();
    let Some(label) = labels.next() else {
        return Some(format!("the Content-Type header is missing; {EXPECTED}"));
    };
    if labels.next().is_some() {
        return Some(format!(
            "there are several Content-Type headers; {EXPECTED}"
        ));
    }
    let Ok(label) = label.to_str() else {
        return Some(format!("the Content-Type is not readable text; {EXPECTED}"));
    };
    let mut parts = label.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Some(format!("got Content-Type {media_type:?}; {EXPECTED}"));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Some(format!("JSON is UTF-8, not {value:?}; {EXPECTED}"));
        }
    }
    None
}

impl RequestHook for HttpPolicy {
    fn on_request(
        &self,
        request: &mut http::Request<Body>,
        _remote_addr: std::net::SocketAddr,
    ) -> RequestHookDecision {
        let refusal = self.malformed(request);
        if refusal.is_none()
            && let Some(response) = self.preflight(request)
        {
            return RequestHookDecision::Respond(response);
        }
        let allowed_origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|origin| self.cors.allow_origin(origin));
        let varies_by_origin = self.cors.varies_by_origin();
        let uri = request.uri().clone();
        let routes = Arc::clone(&self.routes);
        let finish: dropshot::ResponseFinisher = Box::new(move |response: &mut Response<Body>| {
            let status = response.status();
            let headers = response.headers_mut();
            add_security_headers(headers);
            if let Some(allowed_origin) = allowed_origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin);
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(cors::EXPOSED_RESPONSE_HEADERS),
                );
            }
            if varies_by_origin {
                headers.append(header::VARY, HeaderValue::from_static("origin"));
            }
            if status == StatusCode::METHOD_NOT_ALLOWED
                && let Some(methods) = routes.methods_for(uri.path())
            {
                headers.insert(header::ALLOW, methods.clone());
            }
        });
        match refusal {
            // A refusal gets the same headers as any answer, CORS included, so a browser page
            // can read why.
            Some(refusal) => {
                let mut response = refusal
                    .into_response(Response::builder())
                    .unwrap_or_else(|failure| failure.into_response(""));
                finish(&mut response);
                RequestHookDecision::Respond(response)
            }
            None => {
                crate::http::body_deadline::apply(request, self.body_timeout);
                RequestHookDecision::Proceed(Some(finish))
            }
        }
    }

    fn render_framework_error(
        &self,
        error: dropshot::HttpError,
        method: &Method,
        uri: &Uri,
        request_id: &str,
    ) -> Response<Body> {
        let status = error.status_code.as_u16();
        let mut api_error = ApiError::from(error);
        match status {
            404 => api_error.set_detail(format!("there is no {} in this API", uri.path())),
            405 => api_error.set_detail(format!("{} does not accept {method}", uri.path())),
            _ => {}
        }
        api_error
            .into_response(Response::builder())
            .unwrap_or_else(|failure| failure.into_response(request_id))
    }
}

/// Headers every response carries. `Cache-Control: no-store` is the default because most answers
/// carry tokens or player data; a route that serves something cacheable sets its own.
fn add_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// The API's paths and the methods each accepts, from the served OpenAPI document; used to answer
/// preflights, to fill `Allow` on 405s and to know which requests carry a JSON body.
struct RouteTable {
    routes: Vec<Route>,
}

struct Route {
    segments: Vec<PathSegment>,
    /// The methods as an `Allow` header value.
    methods: HeaderValue,
    /// The methods whose operation takes a request body (always JSON in this contract).
    methods_with_body: Vec<Method>,
}

enum PathSegment {
    Literal(String),
    Variable,
}

/// The keys of an OpenAPI path item that name operations (the others are `summary`,
/// `parameters` and the like). `options` is left out: preflights are answered here.
const OPERATION_KEYS: &[&str] = &["get", "put", "post", "delete", "head", "patch", "trace"];

impl RouteTable {
    fn from_openapi(document: &serde_json::Value) -> Self {
        let mut routes = Vec::new();
        let Some(paths) = document.get("paths").and_then(serde_json::Value::as_object) else {
            return Self { routes };
        };
        for (template, item) in paths {
            let operations: Vec<(&String, &serde_json::Value)> = item
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(key, _)| OPERATION_KEYS.contains(&key.as_str()))
                .collect();
            let methods: Vec<String> = operations
                .iter()
                .map(|(key, _)| key.to_ascii_uppercase())
                .collect();
            let methods_with_body = operations
                .iter()
                .filter(|(_, operation)| operation.get("requestBody").is_some())
                .filter_map(|(key, _)| Method::from_bytes(key.to_ascii_uppercase().as_bytes()).ok())
                .collect();
            let Ok(methods) = HeaderValue::from_str(&methods.join(", ")) else {
                continue;
            };
            let segments = template
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') && segment.ends_with('}') {
                        PathSegment::Variable
                    } else {
                        PathSegment::Literal(segment.to_owned())
                    }
                })
                .collect();
            routes.push(Route {
                segments,
                methods,
                methods_with_body,
            });
        }
        Self { routes }
    }

    /// The route a concrete request path belongs to.
    fn route_for(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| {
            let mut actual = path.split('/');
            route
                .segments
                .iter()
                .all(|segment| match (segment, actual.next()) {
                    (PathSegment::Literal(expected), Some(actual)) => expected == actual,
                    (PathSegment::Variable, Some(actual)) => !actual.is_empty(),
                    (_, None) => false,
                })
                && actual.next().is_none()
        })
    }

    /// The methods a concrete request path accepts, as an `Allow` header value.
    fn methods_for(&self, path: &str) -> Option<&HeaderValue> {
        self.route_for(path).map(|route| &route.methods)
    }

    /// Whether this method on this path is an operation that reads a JSON body.
    fn takes_json_body(&self, method: &Method, path: &str) -> bool {
        self.route_for(path)
            .is_some_and(|route| route.methods_with_body.contains(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_openapi(&serde_json::json!({
            "paths": {
                "/api/leaderboard": {"get": {}, "post": {"requestBody": {}}, "summary": "x"},
                "/api/games/{id}/cells": {"get": {}},
            }
        }))
    }

    #[test]
    fn a_route_table_lists_each_paths_methods_and_matches_variables_by_segment() {
        let table = table();
        assert_eq!(table.methods_for("/api/leaderboard").unwrap(), "GET, POST");
        assert_eq!(table.methods_for("/api/games/42/cells").unwrap(), "GET");
        assert!(table.methods_for("/api/games//cells").is_none());
        assert!(table.methods_for("/api/games/42").is_none());
        assert!(table.methods_for("/api/leaderboard/extra").is_none());
        assert!(table.methods_for("/api").is_none());
    }

    #[test]
    fn a_route_table_knows_which_operations_read_a_body() {
        let table = table();
        assert!(table.takes_json_body(&Method::POST, "/api/leaderboard"));
        assert!(!table.takes_json_body(&Method::GET, "/api/leaderboard"));
        assert!(!table.takes_json_body(&Method::POST, "/api/games/42/cells"));
        assert!(!table.takes_json_body(&Method::POST, "/api/nowhere"));
    }

    fn content_types(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn json_with_or_without_a_utf_8_charset_is_the_only_accepted_content_type() {
        for fine in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert_eq!(
                json_content_type_problem(&content_types(&[fine])),
                None,
                "{fine}"
            );
        }
        for refused in [
            &[][..],
            &["text/plain"],
            &["text/plain;charset=UTF-8"],
            &["application/x-www-form-urlencoded"],
            &["application/json; charset=latin1"],
            &["application/jsonx"],
            &["application/json", "application/json"],
        ] {
            let problem = json_content_type_problem(&content_types(refused));
            assert!(
                problem.is_some_and(|problem| problem.contains("application/json")),
                "{refused:?}"
            );
        }
    }
}
