//! `duplex serve`: an HTTP server for one page (embedded in the binary) and its signalling
//! endpoint; every accepted offer becomes a WebRTC peer driving its own conversation session
//! (own engines, own history) until the peer goes away.

mod assets;
mod guard;
mod listener;
pub mod memory;
pub mod metrics;
pub mod profiles;
mod routes;
mod sessions;
pub mod spare;
pub mod tls;
pub mod tone;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::transport::webrtc::PeerOptions;

pub use guard::{OriginPolicy, Refusal};
pub use routes::router;
pub use sessions::SessionRegistry;

/// What answers the caller.
#[derive(Debug, Clone, Copy)]
pub enum ReplyMode {
    /// The conversation pipeline: a real reply from the agent.
    Conversation,
    /// A measurement tool, not a conversation: a fixed tone `after` the caller stops speaking,
    /// so the page measures the transport's own overhead (its latency minus `after`).
    ToneProbe {
        /// Silence after the last voiced frame before the tone starts.
        after: Duration,
    },
}

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// HTTP address.
    pub bind: SocketAddr,
    /// Peer connection settings.
    pub peer: PeerOptions,
    /// What answers the caller.
    pub mode: ReplyMode,
    /// Most sessions at once; further offers get 503.
    pub max_sessions: usize,
    /// Most sessions at once from one client address; further offers from it get 429.
    pub max_sessions_per_client: usize,
    /// Who may send offers (see [`OriginPolicy`]).
    pub origins: OriginPolicy,
}

/// Everything a request handler needs.
pub struct AppState {
    /// The configuration each session's engines are built from.
    pub config: Config,
    /// The next call's engines, loaded ahead (Whisper's weights are shared, each session has
    /// its own state); absent in tone mode.
    pub spare: Option<Arc<spare::SpareEngines>>,
    /// Server settings.
    pub options: ServeOptions,
    /// Live sessions.
    pub sessions: SessionRegistry,
    /// What `GET /metrics` reports.
    pub metrics: Arc<metrics::Metrics>,
    /// Where each browser's memory between calls is kept; none when memory is off.
    pub memory: Option<profiles::WebMemory>,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source} (choose another with --bind HOST:PORT)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// How long a stopping server waits for its sessions to close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How a server stopped: whether every engine thread of this process was joined or finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Stopped {
    /// Sessions that did not end within the drain timeout: their engine threads may still be
    /// running native code (whisper.cpp, ONNX Runtime).
    pub sessions_left: usize,
}

impl Stopped {
    /// Whether no engine thread can be inside native code any more, so that the process may
    /// exit normally (running the C++ static destructors of whisper.cpp and ONNX Runtime).
    pub fn engines_joined(&self) -> bool {
        self.sessions_left == 0
    }
}

/// Binds, then calls `on_listening` with the bound address, then serves until `shutdown`
/// completes; then stops taking calls, ends the sessions (each closes its peer and its
/// conversation as if the caller had left, and joins its engine threads), closes the spare
/// engines (waiting for any engines being loaded in this process) and returns what was left.
/// A spare set whose LLM worker is still prefilling may be left to its blocking thread (it
/// holds no native state): shut the runtime down with a timeout, not by dropping it, which
/// would wait for that thread.
pub async fn serve(
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Stopped, ServeError> {
    let addr = state.options.bind;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    if let Some(spare) = &state.spare {
        spare.refill();
    }
    on_listening(local);
    listener::accept_loop(listener, router(state.clone()), tls, shutdown).await;
    let live = state.sessions.live();
    if live > 0 {
        tracing::info!("stopping: ending {live} session(s)");
    }
    let sessions_left = state.sessions.stop_all(DRAIN_TIMEOUT).await;
    if sessions_left > 0 {
        tracing::warn!("{sessions_left} session(s) did not end within {DRAIN_TIMEOUT:?}");
    }
    if let Some(spare) = &state.spare
        && spare.close().await
    {
        tracing::info!("stopping without waiting for the LLM worker of a spare set being loaded");
    }
    Ok(Stopped { sessions_left })
}
