//! `GET /v1/realtime`: OpenAI's Realtime protocol (GA) over a WebSocket, one conversation per
//! socket, run by the same session runtime as the page's WebRTC calls (its own engines, history,
//! turn-taking and playback ledger); a Realtime client's base URL ends in `/v1`.
//!
//! The upgrade is admitted like an offer (see the admission table in [`super`]): with
//! `--api-key`, the bearer token first (401 without it, see `auth.rs`); the same Host and Origin
//! check (a client without an `Origin`, which every non-browser client is, needs
//! `--allow-programs` or the API key), then a call slot under the same caps (`--max-sessions`,
//! `--max-sessions-per-client`), refused with the same status, sentence and `Retry-After`
//! before the socket is opened. The socket holds its slot until the conversation has ended.
//! `events.rs` has the protocol's events, `transport.rs` the audio path, `handler.rs` the
//! conversation's loop.

mod auth;
mod events;
mod handler;
mod pcm;
mod transport;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// The largest WebSocket message read; a longer one closes the socket. Appends are refused
/// (with an `error` event) from [`handler::MAX_APPEND_BYTES`] of audio, well below it.
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Upgrades to a Realtime session, when the request is admitted.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    extensions: Extensions,
    ws: WebSocketUpgrade,
) -> Response {
    let authenticated = match auth::check(state.options.api_key.as_deref(), &headers) {
        Ok(authenticated) => authenticated,
        Err(refusal) => {
            state.metrics.refused("api_key");
            tracing::warn!("realtime session refused: {refusal}");
            let www = [(header::WWW_AUTHENTICATE, "Bearer")];
            return (refusal.status(), www, format!("{refusal}\n")).into_response();
        }
    };
    // Checked as an offer is (a POST): Host, Origin, and no Origin only from a program let in
    // (by --allow-programs, or by the API key).
    let checked = if authenticated && !headers.contains_key(header::ORIGIN) {
        state.options.origins.check_host(&headers)
    } else {
        let mut as_offer = headers.clone();
        as_offer.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/sdp"),
        );
        state.options.origins.check(&as_offer)
    };
    if let Err(refusal) = checked {
        state.metrics.refused("origin");
        tracing::warn!("realtime session refused: {refusal}");
        return (refusal.status(), format!("{refusal}\n")).into_response();
    }
    let client = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(std::net::Ipv6Addr::UNSPECIFIED.into(), |c| c.0.ip());
    let limits = &state.options.admission;
    let admission = state.sessions.admission();
    let slot = admission
        .admit_offer(limits, client)
        .and_then(|place| admission.take_call(limits, place));
    let slot = match slot {
        Ok(slot) => slot,
        Err(refused) => {
            state.metrics.refused(refused.reason());
            tracing::warn!("realtime session refused ({}): {refused}", refused.status());
            let mut response = (refused.status(), format!("{refused}\n")).into_response();
            let retry = limits.connect_timeout.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry));
            return response;
        }
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| handler::run_socket(state, socket, slot))
}
