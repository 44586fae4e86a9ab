//! The server's accept loop, plain or TLS, bounded against clients that hold connections open:
//! at most [`MAX_CONNECTIONS`] at once and at most `--max-connections-per-client` from one
//! address (further ones are closed at once, before anything is read, and counted in
//! `duplex_connections_refused_total`), [`HEADER_TIMEOUT`] to
//! send a request's headers (a client trickling them byte by byte is cut off), and
//! [`HANDSHAKE_TIMEOUT`] to finish a TLS handshake. Each connection's requests carry its peer
//! address ([`ConnectInfo`]). When `shutdown` completes, no more connections are taken and the
//! open ones get [`SHUTDOWN_GRACE`] to finish their requests. A request may upgrade its
//! connection to a WebSocket (`/v1/realtime`): the socket then goes on by itself, outside these
//! counts (its call slot bounds it) and the grace (its session ends when the server stops).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::metrics::Metrics;

/// Most connections open at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Longest a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long open connections may finish their requests once the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections open per remote address.
#[derive(Debug, Default, Clone)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl PerAddress {
    /// Counts a connection from `ip`, unless it already has `most` open.
    fn take(&self, ip: IpAddr, most: usize) -> Option<AddressPermit> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(AddressPermit {
            open: self.clone(),
            ip,
        })
    }
}

/// One open connection of an address, counted down when dropped.
struct AddressPermit {
    open: PerAddress,
    ip: IpAddr,
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` (through `tls` when given) until `shutdown` completes, with at
/// most `per_client` connections open from one address.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    per_client: usize,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let by_address = PerAddress::default();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Each connection holds a receiver until it is done: `closed()` is when all are.
    let (graceful, _) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, typically: wait for some to close.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(address_permit) = by_address.take(remote.ip(), per_client) else {
            metrics.connection_refused("per_client");
            tracing::warn!(
                "connection from {remote} closed: that address has {per_client} open already"
            );
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.connection_refused("total");
            tracing::warn!("connection from {remote} closed: {MAX_CONNECTIONS} are open already");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = router
            .clone()
            .layer(axum::Extension(ConnectInfo::<SocketAddr>(remote)));
        let service = TowerToHyperService::new(app);
        let watcher = graceful.subscribe();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permits = (permit, address_permit);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let served = match tls {
                None => {
                    let connection = http
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    until_shutdown(connection, watcher).await
                }
                Some(tls) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let connection = http
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades();
                            until_shutdown(connection, watcher).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("TLS handshake with {remote} failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake with {remote} timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!("connection with {remote} ended: {e}");
            }
        });
    }
    drop(listener);
    let _ = graceful.send(());
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.closed())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after {SHUTDOWN_GRACE:?} were closed");
    }
}

/// Serves `connection` (which may be upgraded: a WebSocket goes on after it, on its own) until it
/// ends; when `stop` fires first, its requests in progress are finished and it is closed.
async fn until_shutdown<I, S, B>(
    connection: hyper::server::conn::http1::UpgradeableConnection<I, S>,
    mut stop: tokio::sync::watch::Receiver<()>,
) -> Result<(), hyper::Error>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return served,
        _ = stop.changed() => connection.as_mut().graceful_shutdown(),
    }
    connection.await
}
