//! The connection loop: accepts connections (plain or TLS), serves HTTP/1.1 on each with the limits of
//! `limits:`, and stops gracefully.
//!
//! Invariant: no connection is held by a client that is not sending or receiving a request. A connection
//! is closed when it sits idle between requests for `idle_timeout`, when a request's head takes longer than
//! `header_read_timeout` from its first byte, when its body takes longer than `body_read_timeout`, or when
//! an answer stops moving (the client stopped reading) for `idle_timeout`; at
//! most `max_connections` are served at once. Past that, [`HEALTH_RESERVE`] more connections are served
//! for the health checks only (everything else on them gets 503), so a load balancer still sees a live
//! server; past those, new connections are closed at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clarion_config::{LimitsConfig, TlsConfig};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::clock::monotonic;
use crate::metrics::ReasonLabel;
use crate::state::AppState;

/// Connections served past `max_connections` for health checks only.
pub const HEALTH_RESERVE: usize = 8;

/// How often a connection's timeouts are checked.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// How long a stopping server waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Who is on the other end of a request's connection; an extension of every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Is `path` a health check, served on reserve connections and exempt from rate limits?
pub fn is_health_check(path: &str) -> bool {
    matches!(path, "/-/healthy" | "/-/ready")
}

/// Why the listener's TLS identity cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// Loads the listener's certificate and key.
pub fn tls_acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("cannot read the certificate {}: {e}", tls.cert_file.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!("{} holds no certificate", tls.cert_file.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| TlsError(format!("cannot read the private key {}: {e}", tls.key_file.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError(format!("the certificate and key do not make a TLS identity: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish (up to
/// [`DRAIN`]). `max_connections` is read once; the timeouts are read for each new connection, so a reload
/// changes them.
pub async fn run(
    listener: TcpListener,
    app: Router,
    state: AppState,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(state.config().file.limits.max_connections));
    let reserve = Arc::new(Semaphore::new(HEALTH_RESERVE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, or the peer left before accept: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let (permit, health_only) = match slots.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match reserve.clone().try_acquire_owned() {
                Ok(p) => (p, true),
                Err(_) => {
                    state.metrics().connections_closed.get_or_create(&ReasonLabel { reason: "over_limit" }).inc();
                    drop(stream);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            app: app.clone(),
            limits: state.config().file.limits.clone(),
            peer,
            health_only,
            state: state.clone(),
            stop: stop_rx.clone(),
            _permit: permit,
        };
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => conn.serve(stream).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(conn.limits.header_read_timeout.0, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls_stream)) => conn.serve(tls_stream).await,
                        Ok(Err(e)) => tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed"),
                        Err(_) => {
                            conn.closed("header_timeout");
                            tracing::debug!(peer = %conn.peer, "TLS handshake timed out");
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(connections = connections.len(), "closing connections still busy after {DRAIN:?}");
        connections.abort_all();
    }
    Ok(())
}

/// One accepted connection and what it needs to serve itself.
struct Connection {
    app: Router,
    limits: LimitsConfig,
    peer: SocketAddr,
    health_only: bool,
    state: AppState,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    fn closed(&self, reason: &'static str) {
        self.state.metrics().connections_closed.get_or_create(&ReasonLabel { reason }).inc();
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut self, stream: S) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
        let service = {
            let (app, activity, peer, health_only) = (self.app.clone(), activity.clone(), self.peer, self.health_only);
            let body_timeout = self.limits.body_read_timeout.0;
            hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (app, activity) = (app.clone(), activity.clone());
                async move {
                    activity.request_started();
                    let deadline = tokio::time::Instant::from_std(monotonic()) + body_timeout;
                    let mut req = req.map(|b| Body::new(DeadlineBody::new(b, deadline)));
                    req.extensions_mut().insert(Peer(peer));
                    let response = if health_only && !is_health_check(req.uri().path()) {
                        over_capacity()
                    } else {
                        match app.oneshot(req).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        }
                    };
                    Ok::<_, Infallible>(response.map(|b| Body::new(DoneBody { inner: b, activity: Some(activity) })))
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Clarion's own watch replaces hyper's header timer, which would also count idle time.
        builder.header_read_timeout(None).keep_alive(!self.health_only);
        let mut conn = std::pin::pin!(builder.serve_connection(io, service));
        let mut watch = tokio::time::interval(WATCH_EVERY);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = watch.tick() => {
                    if let Some(reason) = activity.expired(&self.limits) {
                        self.closed(reason);
                        tracing::debug!(peer = %self.peer, reason, "closing a connection");
                        return;
                    }
                }
                changed = self.stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

fn over_capacity() -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json")],
        "\"the server is at its connection limit (limits.max_connections); retry shortly\"",
    )
        .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Where a connection is between requests, for its timeouts.
#[derive(Debug)]
enum Phase {
    /// No request in flight and no byte of the next one since this instant.
    Idle(Instant),
    /// The first byte of a request head arrived at this instant; the head is not complete.
    Head(Instant),
    /// `requests` are being answered; a byte last moved either way at `progress`.
    Busy { requests: u32, progress: Instant },
}

#[derive(Debug)]
struct Activity(Mutex<Phase>);

impl Activity {
    fn new() -> Activity {
        Activity(Mutex::new(Phase::Idle(monotonic())))
    }

    fn bytes_read(&self) {
        let mut phase = self.0.lock();
        match &mut *phase {
            Phase::Idle(_) => *phase = Phase::Head(monotonic()),
            Phase::Head(_) => {}
            Phase::Busy { progress, .. } => *progress = monotonic(),
        }
    }

    fn bytes_written(&self) {
        if let Phase::Busy { progress, .. } = &mut *self.0.lock() {
            *progress = monotonic();
        }
    }

    fn request_started(&self) {
        let mut phase = self.0.lock();
        let requests = match *phase {
            Phase::Busy { requests, .. } => requests + 1,
            _ => 1,
        };
        *phase = Phase::Busy { requests, progress: monotonic() };
    }

    fn response_done(&self) {
        let mut phase = self.0.lock();
        *phase = match *phase {
            Phase::Busy { requests, progress } if requests > 1 => Phase::Busy { requests: requests - 1, progress },
            _ => Phase::Idle(monotonic()),
        };
    }

    /// Why the connection should be closed now, if it should. A connection answering a request is closed
    /// only when nothing has moved for `idle_timeout`: a client that stopped reading its answer.
    fn expired(&self, limits: &LimitsConfig) -> Option<&'static str> {
        match *self.0.lock() {
            Phase::Idle(since) if since.elapsed() > limits.idle_timeout.0 => Some("idle"),
            Phase::Head(since) if since.elapsed() > limits.header_read_timeout.0 => Some("header_timeout"),
            Phase::Busy { progress, .. } if progress.elapsed() > limits.idle_timeout.0 => Some("stalled"),
            _ => None,
        }
    }
}

/// A stream that tells its connection's [`Activity`] when bytes arrive.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.bytes_written();
        }
        result
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.bytes_written();
        }
        result
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The error a request body gives when it has not arrived by its deadline; `api::read_body` answers it
/// with 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyDeadline;

/// A request body that fails once its deadline passes, whoever reads it.
struct DeadlineBody {
    inner: hyper::body::Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: hyper::body::Incoming, deadline: tokio::time::Instant) -> DeadlineBody {
        DeadlineBody { inner, sleep: Box::pin(tokio::time::sleep_until(deadline)) }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyDeadline)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells its connection's [`Activity`] when it is done (sent or dropped).
struct DoneBody {
    inner: Body,
    activity: Option<Arc<Activity>>,
}

impl DoneBody {
    fn finish(&mut self) {
        if let Some(a) = self.activity.take() {
            a.response_done();
        }
    }
}

impl Drop for DoneBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl HttpBody for DoneBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsConfig {
        LimitsConfig {
            idle_timeout: clarion_config::ConfigDuration(Duration::from_millis(40)),
            header_read_timeout: clarion_config::ConfigDuration(Duration::from_millis(20)),
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn a_connection_expires_when_idle_or_slow_with_its_head_but_never_while_answering() {
        let a = Activity::new();
        assert_eq!(a.expired(&limits()), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(a.expired(&limits()), Some("idle"));
        a.bytes_read();
        assert_eq!(a.expired(&limits()), None, "a head has started");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(a.expired(&limits()), Some("header_timeout"));
        a.request_started();
        a.request_started();
        std::thread::sleep(Duration::from_millis(30));
        a.bytes_written();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(a.expired(&limits()), None, "busy, and the answer moves");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(a.expired(&limits()), Some("stalled"), "nothing moved for the idle timeout");
        a.bytes_written();
        a.response_done();
        assert_eq!(a.expired(&limits()), None, "still one in flight");
        a.response_done();
        assert_eq!(a.expired(&limits()), None, "idle again, from now");
        a.bytes_read();
        a.bytes_read();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(a.expired(&limits()), Some("header_timeout"), "more bytes do not restart the head's clock");
    }
}
