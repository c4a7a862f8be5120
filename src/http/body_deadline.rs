//! A deadline for receiving a request's body, so a client that sends its body slowly (or stops
//! half way) is answered `408 request_timeout` instead of holding a handler and a connection.
//!
//! Hyper bounds the time to receive a request's head but not its body, and Dropshot reads bodies
//! with no time limit. The request hook wraps every body that is not already complete in a
//! [`DeadlineBody`]; when the body extractor reads it past the deadline, the read fails with a
//! 408, which Dropshot's (patched) extractor passes on as the answer. The connection is then
//! closed, since the rest of the body was never read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use dropshot::Body;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::http::error::ApiError;

/// Gives the body of `request` until `limit` from now to arrive in full. Bodies that are already
/// complete (no body at all, or `Content-Length: 0`) are left alone, so most reads pay nothing.
pub fn apply(request: &mut http::Request<Body>, limit: Duration) {
    if http_body::Body::is_end_stream(request.body()) {
        return;
    }
    let inner = std::mem::replace(request.body_mut(), Body::empty());
    *request.body_mut() = Body::wrap(DeadlineBody {
        inner,
        deadline: Instant::now() + limit,
        limit,
        timer: None,
        expired: false,
    });
}

/// A request body that fails with a 408 once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    limit: Duration,
    /// Created only when the body is not ready at once, so a body that arrived with its head costs
    /// no timer.
    timer: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let ready @ Poll::Ready(_) = Pin::new(&mut self.inner).poll_frame(cx) {
            return ready;
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.expired = true;
        let refusal = ApiError::malformed_request(
            dropshot::ErrorStatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} seconds",
                self.limit.as_secs()
            ),
        );
        Poll::Ready(Some(Err(Box::new(dropshot::HttpError::from(refusal)))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
