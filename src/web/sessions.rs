//! Starting and ending one browser's session: check the offer, take a slot, build the engines,
//! answer, then run the conversation (or the tone probe) and the WebRTC link side by side until
//! the peer goes away; the slot, the engines and the LLM worker are freed when both are done.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::tone::run_tone_probe;
use super::{AppState, ReplyMode};
use crate::runtime::{Engines, load_local_engines, run_session, session_channels};
use crate::transport::webrtc::{
    LinkStats, OfferError, WebRtcError, answer_offer, drive_peer, parse_offer,
};

/// Counts live sessions and numbers new ones.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    live: Arc<AtomicUsize>,
    next_id: AtomicU64,
}

impl SessionRegistry {
    /// Sessions running now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Takes a slot if fewer than `max` are live.
    fn take_slot(&self, max: usize) -> Option<Slot> {
        let taken = self
            .live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Slot {
            live: self.live.clone(),
            id: self.next_id.fetch_add(1, Ordering::SeqCst) + 1,
        })
    }
}

/// One taken session slot, given back when dropped.
struct Slot {
    live: Arc<AtomicUsize>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why an offer was not answered, as an HTTP status class.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The offer is bad (4xx).
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The offer parsed but could not be negotiated (4xx).
    #[error("{0}")]
    Negotiation(WebRtcError),
    /// All slots are taken (503).
    #[error(
        "the server already runs its maximum of {0} sessions; close another tab or restart with a larger --max-sessions"
    )]
    Full(usize),
    /// The engines could not be built (500).
    #[error("cannot start the conversation engines: {0}")]
    Engines(String),
}

/// What answers one session.
enum Replier {
    /// The conversation engines.
    Agent(Box<Engines>),
    /// The measurement tone, this long after the caller stops.
    Tone(Duration),
}

/// Answers `body` (an SDP offer) and starts its session; returns the SDP answer.
pub async fn start_session(state: Arc<AppState>, body: String) -> Result<String, StartError> {
    let offer = parse_offer(&body)?;
    let max = state.options.max_sessions;
    let slot = state.sessions.take_slot(max).ok_or(StartError::Full(max))?;
    let peer = answer_offer(offer, &state.options.peer)
        .await
        .map_err(StartError::Negotiation)?;
    let replier = match load_replier(&state).await {
        Ok(r) => r,
        Err(e) => {
            let _ = peer.connection.close().await;
            return Err(e);
        }
    };
    let answer = peer.answer.clone();

    let (io, ends) = session_channels();
    let session = match replier {
        Replier::Agent(engines) => {
            tokio::spawn(run_session(state.config.agent_config(), *engines, io))
        }
        Replier::Tone(after) => tokio::spawn(run_tone_probe(after, io)),
    };
    let stats = Arc::new(LinkStats::default());
    tracing::info!("session {}: started", slot.id);
    tokio::spawn(async move {
        let reason = drive_peer(peer, ends, stats.clone()).await;
        // The link dropped the session's input: the session ends, its engines (and the LLM
        // worker process) are dropped, and only then is the slot given back.
        let _ = session.await;
        tracing::info!(
            "session {}: ended ({reason}); frames in {}, dropped {}, packets out {}",
            slot.id,
            stats.frames_in.load(Ordering::Relaxed),
            stats.frames_dropped.load(Ordering::Relaxed),
            stats.packets_out.load(Ordering::Relaxed),
        );
        drop(slot);
    });
    Ok(answer)
}

/// Builds what will answer a new session: its own engines, or the measurement tone.
async fn load_replier(state: &AppState) -> Result<Replier, StartError> {
    Ok(match (state.options.mode, &state.whisper) {
        (ReplyMode::Conversation, Some(whisper)) => {
            let (config, whisper) = (state.config.clone(), whisper.clone());
            let loaded = tokio::task::spawn_blocking(move || load_local_engines(&config, &whisper))
                .await
                .map_err(|e| StartError::Engines(e.to_string()))?
                .map_err(|e| StartError::Engines(e.to_string()))?;
            Replier::Agent(Box::new(loaded))
        }
        (ReplyMode::Conversation, None) => {
            return Err(StartError::Engines("no Whisper model was loaded".into()));
        }
        (ReplyMode::ToneProbe { after }, _) => Replier::Tone(after),
    })
}
