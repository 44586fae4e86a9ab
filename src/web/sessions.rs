//! Starting and ending one browser's session: check the offer, take a pending place (see
//! [`super::admission`]), answer, and once the peer connects within the connect timeout, take a
//! call slot, build the engines and run the conversation (or the tone probe) and the WebRTC link
//! side by side until the peer goes away or the call reaches its maximum length (see
//! [`super::call_limit`]); the slot, the engines and the LLM worker are freed when both are
//! done. A call from a browser with a memory cookie gets that browser's profile (see
//! [`super::profiles`]) as its engines are taken.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::admission::{Admission, PendingPlace, Refused};
use super::call_limit::{CallEnd, ENDING_LINGER, Replier, run_call, spoken_length};
use super::{AppState, ReplyMode};
use crate::runtime::{
    Engines, SessionEvent, SessionEventKind, SessionIo, Severity, session_channels,
};
use crate::transport::webrtc::{
    LinkStats, OfferError, WebRtcError, answer_offer, drive_peer, parse_offer,
};

/// The calls and pending offers (see [`Admission`]), numbers new sessions, and tells them when
/// the server stops.
#[derive(Debug)]
pub struct SessionRegistry {
    admission: Admission,
    next_id: AtomicU64,
    stopping: watch::Sender<bool>,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        Self {
            admission: Admission::default(),
            next_id: AtomicU64::new(0),
            stopping: watch::channel(false).0,
        }
    }
}

impl SessionRegistry {
    /// Ends every session and pending offer (their peers are closed, their conversations end
    /// as if the caller had left) and waits up to `patience` for them to finish; returns how
    /// many calls were left.
    pub async fn stop_all(&self, patience: Duration) -> usize {
        self.stopping.send_replace(true);
        let deadline = tokio::time::Instant::now() + patience;
        while self.live() + self.pending() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.live()
    }

    /// Calls running now (connected: each holds a call slot).
    pub fn live(&self) -> usize {
        self.admission.calls()
    }

    /// Offers answered and not yet connected.
    pub fn pending(&self) -> usize {
        self.admission.pending()
    }

    /// The call slots and pending places, for another transport's sessions (the Realtime
    /// WebSocket, [`super::realtime`]).
    pub(super) fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A new session's number.
    pub(super) fn next_session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Becomes true when the server stops.
    pub(super) fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
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
    /// Admission refused it (503 or 429, see [`Refused`]).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The engines could not be built (500).
    #[error("cannot start the conversation engines: {0}")]
    Engines(String),
}

/// Answers `body` (an SDP offer from `client`) and starts its session; returns the SDP answer.
pub async fn start_session(
    state: Arc<AppState>,
    body: String,
    client: IpAddr,
    browser: Option<String>,
) -> Result<String, StartError> {
    let offer = parse_offer(&body)?;
    // Taken before the peer connection is built (the costly part of an offer), and held only
    // until the peer connects or the connect timeout passes.
    let place = state
        .sessions
        .admission
        .admit_offer(&state.options.admission, client)?;
    let id = state.sessions.next_id.fetch_add(1, Ordering::SeqCst) + 1;
    let stopping = state.sessions.stopping.subscribe();
    let peer = answer_offer(offer, &state.options.peer)
        .await
        .map_err(StartError::Negotiation)?;
    let answer = peer.answer.clone();

    let (io, mut ends) = session_channels();
    ends.events = state.metrics.tap(ends.events);
    let metrics = state.metrics.clone();
    let stats = Arc::new(LinkStats::default());
    // The engines are taken only once the browser has connected: an offer that never connects
    // costs a peer connection and a pending place for the connect timeout, not a call slot, a
    // conversation's engines or an LLM worker.
    let session = tokio::spawn(run_when_connected(
        state.clone(),
        io,
        stats.clone(),
        Caller { id, place, browser },
    ));
    match &peer.port {
        Some(port) => tracing::info!("session {id}: answered (media on UDP port {})", port.port()),
        None => tracing::info!("session {id}: answered"),
    }
    tokio::spawn(async move {
        let reason = drive_peer(peer, ends, stats.clone(), stopping).await;
        if !stats.is_ready() {
            // Never connected, or gone while its engines loaded: nothing to wait for.
            session.abort();
        }
        // The link dropped the session's input: the session ends, its engines (and the LLM
        // worker process) are dropped, and only then is its call slot given back.
        let ended = match session.await {
            Ok(Some(why)) => why,
            _ => reason.to_string(),
        };
        metrics
            .mic_frames
            .inc_by(stats.frames_in.load(Ordering::Relaxed));
        metrics
            .mic_frames_dropped
            .inc_by(stats.frames_dropped.load(Ordering::Relaxed));
        let mic = stats.microphone();
        metrics.count_microphone(&mic);
        let stalls = stats.reply_stalls();
        metrics.count_stalls(&stalls);
        let longest_stall_ms = stalls.iter().copied().fold(0.0, f64::max) * 1000.0;
        tracing::info!(
            "session {id}: ended ({ended}); frames in {}, dropped {}, packets out {}; \
             microphone packets {} received, {} lost ({} rebuilt from FEC, {} concealed), \
             {} late, {} duplicate, {} reordered; {} stalls inside replies (longest {:.0} ms)",
            stats.frames_in.load(Ordering::Relaxed),
            stats.frames_dropped.load(Ordering::Relaxed),
            stats.packets_out.load(Ordering::Relaxed),
            mic.received,
            mic.lost,
            mic.recovered_fec,
            mic.concealed,
            mic.late,
            mic.duplicate,
            mic.reordered,
            stalls.len(),
            longest_stall_ms,
        );
        super::memory::give_back().await;
        // The next caller's engines, loaded now that no call is slowed by it.
        if let Some(spare) = &state.spare
            && state.sessions.live() == 0
        {
            spare.refill();
        }
    });
    Ok(answer)
}

/// Who an answered offer is for: its session number, its pending place, the browser's memory
/// cookie.
struct Caller {
    id: u64,
    place: PendingPlace,
    browser: Option<String>,
}

/// How often a session whose engines are still loading tells its page so.
const STARTING_NOTE_EVERY: Duration = Duration::from_secs(5);

/// Waits up to the connect timeout for the peer to connect (else the offer is dropped), then
/// takes a call slot (or tells the page why there is none), the session's engines (the spare
/// set, at once, on an idle server), tells the page it listens, and runs the call up to its
/// maximum length. Engines that cannot be loaded end the session with the reason, shown on the
/// page. Returns why the session ended when the link did not end it.
async fn run_when_connected(
    state: Arc<AppState>,
    io: SessionIo,
    stats: Arc<LinkStats>,
    caller: Caller,
) -> Option<String> {
    let limits = &state.options.admission;
    let Caller { id, place, browser } = caller;
    let connected = tokio::time::timeout(limits.connect_timeout, stats.connected.notified());
    if connected.await.is_err() {
        // Dropping `io` ends the link, which closes the peer connection.
        state.metrics.offers_not_connected.inc();
        return Some(format!(
            "not connected within {:?}: dropped, its pending place freed",
            limits.connect_timeout
        ));
    }
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limits.max_call_length;
    let _slot = match state.sessions.admission.take_call(limits, place) {
        Ok(slot) => slot,
        Err(refused) => {
            // Another offer connected first and took the last slot.
            state.metrics.refused(refused.reason());
            let why = format!("refused on connecting: {refused}");
            let ending = SessionEventKind::Ending {
                ending: refused.to_string(),
            };
            let _ = io.events.send(event(started, ending)).await;
            tokio::time::sleep(ENDING_LINGER).await;
            return Some(why);
        }
    };
    state.metrics.sessions_started.inc();
    tracing::info!("session {id}: connected");
    let loading = load_replier(&state, browser);
    tokio::pin!(loading);
    let mut still = tokio::time::interval_at(
        tokio::time::Instant::now() + STARTING_NOTE_EVERY,
        STARTING_NOTE_EVERY,
    );
    let loaded = loop {
        tokio::select! {
            loaded = &mut loading => break loaded,
            _ = still.tick() => {
                let starting_for_ms = started.elapsed().as_secs_f64() * 1000.0;
                let _ = io.events.try_send(event(started, SessionEventKind::Starting { starting_for_ms }));
            }
        }
    };
    let replier = match loaded {
        Ok(replier) => replier,
        Err(e) => {
            engines_failed(&state, &io.events, started, e.to_string()).await;
            return None;
        }
    };
    let ready_after_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = io
        .events
        .send(event(started, SessionEventKind::Ready { ready_after_ms }))
        .await;
    stats.mark_ready();
    let limit = limits.max_call_length;
    let config = state.config.agent_config();
    match run_call(replier, config, io, deadline, limit).await {
        CallEnd::Ended => None,
        CallEnd::LengthLimit => {
            state.metrics.calls_at_length_limit.inc();
            Some(format!(
                "it reached the maximum call length of {}; the agent said goodbye",
                spoken_length(limit)
            ))
        }
    }
}

/// The engines with the browser's profile attached to their LLM (its prompt prefilled again,
/// off the runtime's threads); as they were without a cookie or with memory off.
async fn with_memory(
    state: &AppState,
    mut engines: Engines,
    browser: Option<String>,
) -> Result<Engines, StartError> {
    let (Some(memory), Some(browser)) = (state.memory.clone(), browser) else {
        return Ok(engines);
    };
    tokio::task::spawn_blocking(move || {
        if let Some(profile) = memory.open_profile(&browser)
            && let Err(e) = engines.llm.attach_profile(profile)
        {
            tracing::error!("the call's memory could not be given to its LLM: {e}");
        }
        engines
    })
    .await
    .map_err(|e| StartError::Engines(format!("attaching the memory failed: {e}")))
}

/// An event of the session's start, before its own clock runs.
/// A session whose engines did not load: counted as refused, logged, and told to its client.
pub(super) async fn engines_failed(
    state: &AppState,
    events: &tokio::sync::mpsc::Sender<SessionEvent>,
    started: Instant,
    error: String,
) {
    state.metrics.refused("engines");
    tracing::error!("{error}");
    let failed = SessionEventKind::EngineFailed {
        error,
        severity: Severity::Fatal,
    };
    let _ = events.send(event(started, failed)).await;
}

fn event(started: Instant, kind: SessionEventKind) -> SessionEvent {
    SessionEvent {
        at: 0,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        kind,
    }
}

/// What will answer a new session: the spare engines (or its own, loaded now) with the
/// browser's memory, or the measurement tone.
pub(super) async fn load_replier(
    state: &AppState,
    browser: Option<String>,
) -> Result<Replier, StartError> {
    Ok(match (state.options.mode, &state.spare) {
        (ReplyMode::Conversation, Some(spare)) => {
            let engines = spare.take().await.map_err(StartError::Engines)?;
            Replier::Agent(Box::new(with_memory(state, engines, browser).await?))
        }
        (ReplyMode::Conversation, None) => {
            return Err(StartError::Engines("no Whisper model was loaded".into()));
        }
        (ReplyMode::ToneProbe { after }, _) => Replier::Tone(after),
    })
}
