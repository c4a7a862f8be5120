// Snake Arena patch: not part of upstream Dropshot 0.18.0.

//! A hook around every request the server receives, including the ones
//! Dropshot answers itself (no such route, method not allowed).
//!
//! Dropshot has no middleware. Concerns that apply to every response of a
//! server, such as CORS headers, security headers and the body of errors the
//! router produces, cannot be expressed per endpoint. A [`RequestHook`] sees
//! each request before routing (and may answer it), may replace its body, and
//! gets the final response, whatever produced it, before it is sent.

use crate::Body;
use crate::HttpError;
use hyper::Request;
use hyper::Response;
use std::net::SocketAddr;

/// What a [`RequestHook`] decides about a request it has seen.
pub enum RequestHookDecision {
    /// Answer with this response without routing the request. The response
    /// still gets the request id header and is logged like any other.
    Respond(Response<Body>),
    /// Route the request as usual, then pass the response, whatever produced
    /// it, through this finisher (if any) before sending it.
    Proceed(Option<ResponseFinisher>),
}

/// Adjusts one request's response before it is sent; see
/// [`RequestHookDecision::Proceed`].
pub type ResponseFinisher = Box<dyn FnOnce(&mut Response<Body>) + Send>;

/// A hook called for every request, installed with
/// [`crate::ServerBuilder::request_hook`].
pub trait RequestHook: Send + Sync + 'static {
    /// Called before routing. The hook may change the request (for example,
    /// wrap its body) and decides whether it is routed.
    fn on_request(
        &self,
        request: &mut Request<Body>,
        remote_addr: SocketAddr,
    ) -> RequestHookDecision;

    /// Renders an error that Dropshot produced itself rather than a handler:
    /// no route for the path, a method the path does not allow, a version
    /// policy failure. The default is Dropshot's own error body.
    fn render_framework_error(
        &self,
        error: HttpError,
        method: &http::Method,
        uri: &http::Uri,
        request_id: &str,
    ) -> Response<Body> {
        let _ = (method, uri);
        error.into_response(request_id)
    }
}
