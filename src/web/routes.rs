//! The HTTP routes: the page and its scripts, `POST /offer` (SDP offer in the body, SDP answer
//! back; a body limit, and a 4xx with a message for any bad offer) and `GET /health`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::assets::{PAGE_HTML, PAGE_JS, WORKLET_JS};
use super::sessions::{StartError, start_session};
use super::{AppState, ReplyMode};
use crate::transport::webrtc::MAX_OFFER_BYTES;

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE_HTML) }))
        .route("/page.js", get(|| async { script(PAGE_JS) }))
        .route("/meter-worklet.js", get(|| async { script(WORKLET_JS) }))
        .route("/health", get(health))
        .route("/offer", post(offer))
        .layer(DefaultBodyLimit::max(MAX_OFFER_BYTES))
        .with_state(state)
}

fn script(text: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mode = match state.options.mode {
        ReplyMode::Conversation => "conversation".to_owned(),
        ReplyMode::ToneProbe { after } => format!("tone probe after {} ms", after.as_millis()),
    };
    axum::Json(json!({ "ok": true, "sessions": state.sessions.live(), "mode": mode }))
        .into_response()
}

async fn offer(State(state): State<Arc<AppState>>, body: String) -> Response {
    // Run in its own task: a panic anywhere in the WebRTC stack becomes a 500, not a dead server.
    let outcome = tokio::spawn(start_session(state, body)).await;
    match outcome {
        Ok(Ok(answer)) => ([(header::CONTENT_TYPE, "application/sdp")], answer).into_response(),
        Ok(Err(e)) => {
            let status = match e {
                StartError::Offer(_) | StartError::Negotiation(_) => StatusCode::BAD_REQUEST,
                StartError::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
                StartError::Engines(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::warn!("offer refused ({status}): {e}");
            (status, format!("{e}\n")).into_response()
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
