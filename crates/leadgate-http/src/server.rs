//! Serving connections, with bounds a server on the open internet needs: a client must
//! send its request headers within a time limit (from the moment it connects), must
//! keep reading what it asked for (a write that waits on it too long ends the
//! connection, and with it an export that held a place among the heavy work), and the
//! server holds at most so many connections at once (beyond them, new ones wait in the
//! listening queue). HTTP/1 only: leadgate sits behind a proxy for TLS and HTTP/2, and
//! choosing between versions reads the first bytes without a time limit. Bodies are
//! bounded where they are read (`extract`, `inquiries`, `imports`).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (on a new connection, and for each
    /// request on a kept-alive one); then the connection is closed.
    pub header_timeout: Duration,
    /// Time a write may wait for the client to read; then the connection is closed.
    pub write_timeout: Duration,
    /// How long a stop waits for requests in flight to finish.
    pub drain: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1_000,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (up to `limits.drain`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    // hyper's own header timeout would arm a timer for every request; `IdleLimit`
    // does its work with one a connection.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder.http1().header_read_timeout(None);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let (starting, ending) = (activity.clone(), activity.clone());
        let service = router
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                starting.begin();
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            })
            .map_response(move |response: axum::response::Response| {
                let done = Done(ending.clone());
                response.map(|body| axum::body::Body::new(Counted { body, _done: done }))
            });
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let stream = IdleLimit::new(Box::pin(stream), activity, limits.header_timeout);
        let io = TokioIo::new(stream);
        let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(seconds = limits.drain.as_secs(), "requests still in flight after the drain time were cut");
    }
    Ok(())
}

/// What a connection's reads and its router share: how many of its requests are being
/// answered, and since when it has had none.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Microseconds after `started` that its last request was answered.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self { started: Instant::now(), in_flight: AtomicUsize::new(0), idle_since: AtomicU64::new(0) })
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        let now = self.started.elapsed().as_micros() as u64;
        self.idle_since.store(now, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// When a connection with no request in flight has waited long enough for one.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        self.started + Duration::from_micros(self.idle_since.load(Ordering::SeqCst)) + idle
    }
}

/// A connection on which no request is being answered has `idle` for its client to
/// send the next request's headers whole, from when it connected or its last request
/// was answered: a client that connects and sends nothing, sends its headers a byte at
/// a time, or keeps the connection between requests, gives its place back. While a
/// request is answered, reads wait as long as the answer takes (hyper reads beside it,
/// to notice a client that leaves); its body has limits of its own. One timer a
/// connection, moved only when it fires: nothing is armed for each request.
struct IdleLimit<S> {
    io: S,
    activity: Arc<Activity>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleLimit<S> {
    fn new(io: S, activity: Arc<Activity>, idle: Duration) -> Self {
        let timer = Box::pin(tokio::time::sleep_until(activity.idle_deadline(idle).into()));
        Self { io, activity, idle, timer }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleLimit<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.activity.in_flight.load(Ordering::SeqCst) > 0 {
            return read;
        }
        // Waiting for a request, or reading one's headers: is its time up?
        while this.timer.as_mut().poll(cx).is_ready() {
            let deadline = this.activity.idle_deadline(this.idle);
            if Instant::now() >= deadline {
                return Poll::Ready(Err(std::io::ErrorKind::TimedOut.into()));
            }
            this.timer.as_mut().reset(deadline.into());
        }
        read
    }
}
impl<S: AsyncWrite + Unpin> AsyncWrite for IdleLimit<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Counts a request as answered when its response body is done (sent, or dropped).
struct Done(Arc<Activity>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that holds its request's place among those being answered.
struct Counted {
    body: axum::body::Body,
    _done: Done,
}

impl hyper::body::Body for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
