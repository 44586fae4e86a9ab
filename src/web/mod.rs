//! `duplex serve`: an HTTP server for one page (embedded in the binary) and its signalling
//! endpoint; every accepted offer becomes a WebRTC peer driving its own conversation session
//! (own engines, own history) until the peer goes away or the call reaches its maximum length.
//!
//! # Admission: no client can hold the server
//!
//! What a client may take, and what it is told when it may not (the page shows the reason text
//! of every refusal):
//!
//! | what | setting (default) | refused with |
//! |---|---|---|
//! | offers only from the served page | `--allow-origin`, `--allow-programs` (off) | 403, 415 (`guard.rs`) |
//! | offers being set up (answered, not yet connected); one address may hold all but one | `--max-pending-offers` (4) | 503 `pending_full`, 429 `client_pending_full` |
//! | time for an answered offer to connect; then it is dropped and its place freed | `--connect-timeout-ms` (5000) | — (`duplex_offers_not_connected_total`) |
//! | calls at once (a slot is taken only once the peer connects) | `--max-sessions` (one per core, at least 2) | 503 `full` |
//! | calls at once from one address: below the global cap (on a loopback-only server, any: every caller is this machine) | `--max-sessions-per-client` (global - 1; the global cap on loopback) | 429 `client_full` |
//! | a call's length; then the agent says goodbye aloud and the call ends, the page says why | `--max-call-seconds` (3600) | — (`duplex_calls_at_length_limit_total`) |
//! | HTTP connections open from one address | `--max-connections-per-client` (32) | closed at once (`duplex_connections_refused_total`) |
//! | HTTP connections open in all; request headers within 5 s; an offer's body within 5 s | fixed (`listener.rs`) | closed, 408 |
//!
//! A 503 or 429 for an offer carries `Retry-After` and a sentence naming the cap and the flag
//! that raises it; the refusal is counted in `duplex_offers_refused_total{reason}`. An offer is
//! refused before its peer connection is built when the call slots it would need are already
//! taken by calls, so a client that floods offers it never connects holds at most its share of
//! the pending places for the connect timeout each, and a page from another address still gets
//! its call (see `admission.rs`). With `--rtc-ports`, a pending offer holds a media port too: give
//! the range `--max-sessions` plus `--max-pending-offers` ports so that offers being set up
//! never take the ports of calls. `/health` reports `sessions` (calls) and `pending` (offers);
//! it and `/metrics` answer only to a host the server answers to (an IP address, `localhost`,
//! an `--allow-origin` name), like every other route.
//!
//! An offer without an `Origin` header is refused (403) unless the server was started with
//! `--allow-programs`: every browser sends `Origin` with a POST, so such an offer comes from a
//! program, and a user of the server expects only its page to start calls unless they let
//! programs in on purpose. That is no authentication (a program can send the page's own
//! `Origin`); the caps above are what bound any one client.

mod admission;
mod assets;
mod call_limit;
mod guard;
mod listener;
pub mod memory;
pub mod metrics;
pub mod profiles;
mod realtime;
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

pub use admission::{AdmissionLimits, Refused};
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
    /// Who gets a call (see [`AdmissionLimits`]).
    pub admission: AdmissionLimits,
    /// Who may send offers (see [`OriginPolicy`]).
    pub origins: OriginPolicy,
    /// The bearer token `/v1/realtime` requires, if one was set (`--api-key`).
    pub api_key: Option<String>,
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
    listener::accept_loop(
        listener,
        router(state.clone()),
        tls,
        state.options.admission.max_connections_per_client,
        state.metrics.clone(),
        shutdown,
    )
    .await;
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
