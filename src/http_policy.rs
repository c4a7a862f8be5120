//! What every request and response goes through, whatever route answers it: CORS (preflight
//! answers and response headers), security headers, limits on the URL and header sizes, a
//! deadline for the request body, and the contract's `{code, detail}` body for errors the router
//! produces itself. It is installed once, as Dropshot's request hook, so no
//! handler has to remember any of it.

use std::sync::Arc;

use dropshot::{Body, RequestHook, RequestHookDecision};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use crate::cors::{self, CorsPolicy};
use crate::error::ApiError;

/// The longest request target (path and query), in bytes, that is routed. The API's own URLs
/// are under 100 bytes; a longer one gets `414 uri_too_long`. (Beyond 64 KiB hyper answers 414
/// itself, without a body, before any of this runs.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header bytes (names and values) a routed request may carry; more gets
/// `431 headers_too_large`. (Beyond about 400 KiB for the whole head, or 100 headers, hyper
/// answers 431 itself, without a body.)
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

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
}

impl RequestHook for HttpPolicy {
    fn on_request(
        &self,
        request: &mut http::Request<Body>,
        _remote_addr: std::net::SocketAddr,
    ) -> RequestHookDecision {
        if let Some(response) = self.preflight(request) {
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
        if let Some(refusal) = oversized_head(request) {
            let mut response = refusal
                .into_response(Response::builder())
                .unwrap_or_else(|_| Response::new(Body::empty()));
            finish(&mut response);
            return RequestHookDecision::Respond(response);
        }
        crate::body_deadline::apply(request, self.body_timeout);
        RequestHookDecision::Proceed(Some(finish))
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

/// The refusal for a request whose URL or headers are larger than the API reads, if they are.
fn oversized_head(request: &http::Request<Body>) -> Option<ApiError> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::uri_too_long(format!(
            "the URL is {uri_bytes} bytes long; at most {MAX_URI_BYTES} are accepted"
        )));
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::headers_too_large(format!(
            "the request headers are {header_bytes} bytes long; at most {MAX_HEADER_BYTES} are \
             accepted"
        )));
    }
    None
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
/// preflights and to fill `Allow` on 405s.
struct RouteTable {
    routes: Vec<(Vec<PathSegment>, HeaderValue)>,
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
            let methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flat_map(|operations| operations.keys())
                .filter(|key| OPERATION_KEYS.contains(&key.as_str()))
                .map(|key| key.to_ascii_uppercase())
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
            routes.push((segments, methods));
        }
        Self { routes }
    }

    /// The methods a concrete request path accepts, as an `Allow` header value.
    fn methods_for(&self, path: &str) -> Option<&HeaderValue> {
        self.routes
            .iter()
            .find(|(segments, _)| {
                let mut actual = path.split('/');
                segments
                    .iter()
                    .all(|segment| match (segment, actual.next()) {
                        (PathSegment::Literal(expected), Some(actual)) => expected == actual,
                        (PathSegment::Variable, Some(actual)) => !actual.is_empty(),
                        (_, None) => false,
                    })
                    && actual.next().is_none()
            })
            .map(|(_, methods)| methods)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_openapi(&serde_json::json!({
            "paths": {
                "/api/leaderboard": {"get": {}, "post": {}, "summary": "x"},
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
}
