//! The HTTP routes: the page (with the browser's memory cookie, see [`super::profiles`]), its
//! scripts and icon, `POST /offer` (SDP offer in the body, SDP answer back; only from the served
//! page (see [`super::guard`]), a body limit, and a 4xx with a message for any bad offer),
//! `GET /memory` and `POST /memory/forget` (the browser's memory between calls), `GET /health`
//! and `GET /metrics` (see [`super::metrics`]; both need a host the server answers to, see
//! [`super::guard`]). Refusals of an offer are answered with their status and a sentence the
//! page shows (see the admission table in [`super`]).

use std::sync::Arc;

use axum::Router;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, to_bytes};

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::assets::{FAVICON_SVG, PAGE_HTML, PAGE_JS, WORKLET_JS};
use super::sessions::{StartError, start_session};
use super::{AppState, ReplyMode};
use crate::transport::webrtc::{MAX_OFFER_BYTES, WebRtcError};

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/page.js", get(|| async { script(PAGE_JS) }))
        .route("/meter-worklet.js", get(|| async { script(WORKLET_JS) }))
        .route("/favicon.svg", get(|| async { icon() }))
        .route("/favicon.ico", get(|| async { icon() }))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/offer", post(offer))
        .route("/v1/realtime", get(super::realtime::upgrade))
        .route("/memory", get(super::profiles::list))
        .route("/memory/forget", post(super::profiles::forget))
        .with_state(state)
}

async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    super::profiles::with_cookie(&state, &headers, Html(PAGE_HTML).into_response())
}

fn script(text: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        text,
    )
        .into_response()
}

fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        FAVICON_SVG,
    )
        .into_response()
}

/// The offer's text: refused at once when it declares more than the limit, and when it does not
/// arrive within [`BODY_TIMEOUT`].
async fn read_offer(headers: &HeaderMap, body: Body) -> Result<String, (StatusCode, String)> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the offer is over the {} KiB length limit; a browser's offer is a few KiB",
                MAX_OFFER_BYTES / 1024
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_OFFER_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, MAX_OFFER_BYTES)).await {
        Err(_) => {
            return Err((
                StatusCode::REQUEST_TIMEOUT,
                format!("the offer did not arrive within {BODY_TIMEOUT:?}"),
            ));
        }
        Ok(Err(_)) => return Err(too_large()),
        Ok(Ok(bytes)) => bytes,
    };
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "the offer is not UTF-8 text; send the SDP the browser made".to_owned(),
        )
    })
}

/// The refusal of a request whose Host the server does not answer to, if it is one.
fn wrong_host(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let refusal = state.options.origins.check_host(headers).err()?;
    state.metrics.refused("origin");
    tracing::warn!("request refused: {refusal}");
    Some((refusal.status(), format!("{refusal}\n")).into_response())
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = wrong_host(&state, &headers) {
        return refusal;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state
            .metrics
            .render(state.sessions.live(), state.sessions.pending()),
    )
        .into_response()
}

async fn health(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = wrong_host(&state, &headers) {
        return refusal;
    }
    let mode = match state.options.mode {
        ReplyMode::Conversation => "conversation".to_owned(),
        ReplyMode::ToneProbe { after } => format!("tone probe after {} ms", after.as_millis()),
    };
    let spare_ready = state.spare.as_ref().is_some_and(|s| s.is_ready());
    axum::Json(json!({
        "ok": true,
        "sessions": state.sessions.live(),
        "pending": state.sessions.pending(),
        "mode": mode,
        "spare_engines_ready": spare_ready,
    }))
    .into_response()
}

/// Longest a client may take to send an offer's body once its headers are in.
const BODY_TIMEOUT: Duration = Duration::from_secs(5);

async fn offer(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    if let Err(refusal) = state.options.origins.check(&headers) {
        state.metrics.refused("origin");
        tracing::warn!("offer refused: {refusal}");
        return (refusal.status(), format!("{refusal}\n")).into_response();
    }
    let body = match read_offer(&headers, body).await {
        Ok(body) => body,
        Err((status, message)) => {
            state.metrics.refused("bad_offer");
            tracing::warn!("offer refused ({status}): {message}");
            return (status, format!("{message}\n")).into_response();
        }
    };
    // The client's address, where the server was started with it (tests drive the router
    // without a socket: they all count as one client).
    let client = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(std::net::Ipv6Addr::UNSPECIFIED.into(), |c| c.0.ip());
    // Run in its own task: a panic anywhere in the WebRTC stack becomes a 500, not a dead server.
    let browser = super::profiles::browser_id(&headers);
    let outcome = tokio::spawn(start_session(state.clone(), body, client, browser)).await;
    match outcome {
        Ok(Ok(answer)) => ([(header::CONTENT_TYPE, "application/sdp")], answer).into_response(),
        Ok(Err(e)) => {
            let (status, reason) = match &e {
                StartError::Negotiation(WebRtcError::NoPort(_)) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "no_port")
                }
                StartError::Offer(_) | StartError::Negotiation(_) => {
                    (StatusCode::BAD_REQUEST, "bad_offer")
                }
                StartError::Refused(refused) => (refused.status(), refused.reason()),
                StartError::Engines(_) => (StatusCode::INTERNAL_SERVER_ERROR, "engines"),
            };
            state.metrics.refused(reason);
            tracing::warn!("offer refused ({status}): {e}");
            let mut response = (status, format!("{e}\n")).into_response();
            if matches!(e, StartError::Refused(_)) {
                // A pending place frees within the connect timeout; a call slot, later.
                let retry = state.options.admission.connect_timeout.as_secs().max(1);
                if let Ok(value) = header::HeaderValue::from_str(&retry.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Err(e) => {
            tracing::error!("offer handling failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the offer could not be handled; the server log has the cause\n",
            )
                .into_response()
        }
    }
}
