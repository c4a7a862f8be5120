// Snake Arena patch: not part of upstream Dropshot 0.18.0.

//! Limits on connections: how many are served at once, and how long one may
//! stay open with no request in progress.
//!
//! Hyper bounds the time to read an HTTP/1 request head (30 seconds by
//! default), but nothing bounds a connection that never gets that far: one
//! that sends nothing, or a partial HTTP/2 preface, stays in the protocol
//! detection of `hyper_util`'s auto builder forever, and an idle HTTP/2
//! connection is never closed. With a cap on connections, each of those
//! would hold a slot for good. So every connection gets a watchdog: when no
//! request has been in progress for the configured time (since the
//! connection opened, or since the last answer was handed over), the
//! connection is closed. That one rule covers slow request heads, silent
//! clients and idle keep-alive connections alike, for HTTP/1 and HTTP/2.

use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Limits on the connections a server accepts, installed with
/// [`crate::ServerBuilder::connection_limits`].
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections served at once. Beyond it, new connections are not
    /// accepted until one closes: they wait in the listen backlog of the
    /// operating system.
    pub max_connections: usize,
    /// How long a connection may go with no request in progress before it is
    /// closed: from opening until a request's head has arrived, and from one
    /// answer until the next request's head has arrived.
    pub idle_timeout: Duration,
}

/// Free connection slots, shared by the accept loop and every connection.
pub(crate) struct ConnectionSlots {
    limits: Option<(Arc<Semaphore>, Duration)>,
}

impl ConnectionSlots {
    pub(crate) fn new(limits: Option<ConnectionLimits>) -> Self {
        ConnectionSlots {
            limits: limits.map(|limits| {
                (
                    Arc::new(Semaphore::new(limits.max_connections)),
                    limits.idle_timeout,
                )
            }),
        }
    }

    /// Waits for a free slot, which the next accepted connection then holds.
    pub(crate) async fn acquire(&self) -> FreeSlot {
        match &self.limits {
            None => FreeSlot { permit: None, idle_timeout: None },
            Some((semaphore, idle_timeout)) => {
                let permit = Arc::clone(semaphore)
                    .acquire_owned()
                    .await
                    .expect("the connection semaphore is never closed");
                FreeSlot {
                    permit: Some(permit),
                    idle_timeout: Some(*idle_timeout),
                }
            }
        }
    }
}

/// A slot waiting for the connection the listener accepts next.
pub(crate) struct FreeSlot {
    permit: Option<OwnedSemaphorePermit>,
    idle_timeout: Option<Duration>,
}

impl FreeSlot {
    /// Gives the slot to a connection just accepted; its idle time counts
    /// from now, not from when the slot became free.
    pub(crate) fn take(self) -> ConnectionSlot {
        ConnectionSlot {
            permit: self.permit,
            activity: self.idle_timeout.map(|idle_timeout| {
                Arc::new(ConnectionActivity::new(idle_timeout))
            }),
        }
    }
}

/// One connection's slot and the record of its requests in progress.
pub(crate) struct ConnectionSlot {
    permit: Option<OwnedSemaphorePermit>,
    activity: Option<Arc<ConnectionActivity>>,
}

impl ConnectionSlot {
    /// What the connection's request handler reports requests to.
    pub(crate) fn activity(&self) -> Option<Arc<ConnectionActivity>> {
        self.activity.clone()
    }

    /// Drives `connection` until it ends or has been idle for too long, then
    /// frees the slot. Closing an idle connection loses no answer: no request
    /// is in progress on it.
    pub(crate) async fn serve<F: Future>(
        self,
        connection: F,
        log: slog::Logger,
    ) {
        let _permit = self.permit;
        let Some(activity) = self.activity else {
            connection.await;
            return;
        };
        let mut connection = std::pin::pin!(connection);
        loop {
            let Some(check_at) = activity.next_check() else {
                slog::debug!(log, "closing a connection idle for too long";
                    "idle_timeout_ms" => activity.idle_timeout.as_millis());
                return;
            };
            tokio::select! {
                _ = connection.as_mut() => return,
                () = tokio::time::sleep_until(check_at) => {}
            }
        }
    }
}

/// Requests in progress on one connection, and when that last changed.
pub(crate) struct ConnectionActivity {
    opened: Instant,
    idle_timeout: Duration,
    in_progress: AtomicUsize,
    /// Milliseconds after `opened` at which a request last began or ended.
    last_change_ms: AtomicU64,
}

impl ConnectionActivity {
    fn new(idle_timeout: Duration) -> Self {
        ConnectionActivity {
            opened: Instant::now(),
            idle_timeout,
            in_progress: AtomicUsize::new(0),
            last_change_ms: AtomicU64::new(0),
        }
    }

    fn mark_change(&self) {
        let elapsed = self.opened.elapsed().as_millis();
        self.last_change_ms.store(
            u64::try_from(elapsed).unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }

    /// Records that a request's head has arrived; the request is in progress
    /// until the returned guard is dropped.
    pub(crate) fn request_began(self: &Arc<Self>) -> RequestInProgress {
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        self.mark_change();
        RequestInProgress { activity: Arc::clone(self) }
    }

    /// When to look again, or `None` when the connection has been idle for
    /// the whole timeout and should be closed.
    fn next_check(&self) -> Option<Instant> {
        let now = Instant::now();
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return Some(now + self.idle_timeout);
        }
        let last_change = self.opened
            + Duration::from_millis(
                self.last_change_ms.load(Ordering::Acquire),
            );
        let deadline = last_change + self.idle_timeout;
        (deadline > now).then_some(deadline)
    }
}

/// Held while a request is in progress: from its head's arrival until its
/// answer's body has been handed to the connection (or dropped).
pub(crate) struct RequestInProgress {
    activity: Arc<ConnectionActivity>,
}

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        // The change is recorded before the count drops, so a watchdog that
        // sees no request in progress also sees when the last one ended.
        self.activity.mark_change();
        self.activity.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in progress until it is done.
pub(crate) struct BodyInProgress<B> {
    pub(crate) body: B,
    pub(crate) request: Option<RequestInProgress>,
}

impl<B: HttpBody + Unpin> HttpBody for BodyInProgress<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.request = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
