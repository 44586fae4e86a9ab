//! Starting and ending one browser's session: check the offer, take a slot, build the engines,
//! answer, then run the conversation (or the tone probe) and the WebRTC link side by side until
//! the peer goes away; the slot, the engines and the LLM worker are freed when both are done.
//! A call from a browser with a memory cookie gets that browser's profile (see
//! [`super::profiles`]) as its engines are taken.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::tone::run_tone_probe;
use super::{AppState, ReplyMode};
use crate::runtime::{
    Engines, SessionEvent, SessionEventKind, SessionIo, Severity, run_session, session_channels,
};
use crate::transport::webrtc::{
    LinkStats, OfferError, WebRtcError, answer_offer, drive_peer, parse_offer,
};

/// Counts live sessions, in all and per client address, numbers new ones, and tells them when
/// the server stops.
#[derive(Debug)]
pub struct SessionRegistry {
    live: Arc<AtomicUsize>,
    by_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
    next_id: AtomicU64,
    stopping: watch::Sender<bool>,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        Self {
            live: Arc::default(),
            by_client: Arc::default(),
            next_id: AtomicU64::new(0),
            stopping: watch::channel(false).0,
        }
    }
}

impl SessionRegistry {
    /// Ends every session (their peers are closed, their conversations end as if the caller
    /// had left) and waits up to `patience` for them to finish; returns how many were left.
    pub async fn stop_all(&self, patience: Duration) -> usize {
        self.stopping.send_replace(true);
        let deadline = tokio::time::Instant::now() + patience;
        while self.live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.live()
    }

    /// Sessions running now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Takes a slot if fewer than `max` are live in all and fewer than `per_client` for
    /// `client`.
    fn take_slot(&self, max: usize, client: IpAddr, per_client: usize) -> Result<Slot, StartError> {
        let mut clients = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        // Counted only once a slot is taken: a refused client leaves no entry behind.
        if clients.get(&client).is_some_and(|&n| n >= per_client) {
            return Err(StartError::ClientFull(per_client));
        }
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| StartError::Full(max))?;
        *clients.entry(client).or_default() += 1;
        Ok(Slot {
            live: self.live.clone(),
            by_client: self.by_client.clone(),
            client,
            id: self.next_id.fetch_add(1, Ordering::SeqCst) + 1,
        })
    }
}

/// One taken session slot, given back when dropped.
struct Slot {
    live: Arc<AtomicUsize>,
    by_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
    client: IpAddr,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut clients = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = clients.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                clients.remove(&self.client);
            }
        }
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
    /// This client address already has its share of sessions (429).
    #[error(
        "this address already runs {0} sessions, the most one client may; end one first, or restart the server with a larger --max-sessions-per-client"
    )]
    ClientFull(usize),
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

/// Answers `body` (an SDP offer from `client`) and starts its session; returns the SDP answer.
pub async fn start_session(
    state: Arc<AppState>,
    body: String,
    client: IpAddr,
    browser: Option<String>,
) -> Result<String, StartError> {
    let offer = parse_offer(&body)?;
    let options = &state.options;
    let slot = state.sessions.take_slot(
        options.max_sessions,
        client,
        options.max_sessions_per_client,
    )?;
    let stopping = state.sessions.stopping.subscribe();
    let peer = answer_offer(offer, &state.options.peer)
        .await
        .map_err(StartError::Negotiation)?;
    let answer = peer.answer.clone();

    let (io, mut ends) = session_channels();
    ends.events = state.metrics.tap(ends.events);
    state.metrics.sessions_started.inc();
    let metrics = state.metrics.clone();
    let stats = Arc::new(LinkStats::default());
    // The engines are taken only once the browser has connected: an offer that never connects
    // costs a peer connection, not a conversation's engines and LLM worker.
    let session = tokio::spawn(run_when_connected(
        state.clone(),
        io,
        stats.clone(),
        browser,
    ));
    match &peer.port {
        Some(port) => tracing::info!(
            "session {}: answered (media on UDP port {})",
            slot.id,
            port.port()
        ),
        None => tracing::info!("session {}: answered", slot.id),
    }
    tokio::spawn(async move {
        let reason = drive_peer(peer, ends, stats.clone(), stopping).await;
        if !stats.is_ready() {
            // Never connected, or gone while its engines loaded: nothing to wait for.
            session.abort();
        }
        // The link dropped the session's input: the session ends, its engines (and the LLM
        // worker process) are dropped, and only then is the slot given back.
        let _ = session.await;
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
            "session {}: ended ({reason}); frames in {}, dropped {}, packets out {}; \
             microphone packets {} received, {} lost ({} rebuilt from FEC, {} concealed), \
             {} late, {} duplicate, {} reordered; {} stalls inside replies (longest {:.0} ms)",
            slot.id,
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
        drop(slot);
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

/// How often a session whose engines are still loading tells its page so.
const STARTING_NOTE_EVERY: Duration = Duration::from_secs(5);

/// Waits for the peer to connect, then takes the session's engines (the spare set, at once, on
/// an idle server), tells the page it listens, and runs the conversation (or the tone probe).
/// Engines that cannot be loaded end the session with the reason, shown on the page.
async fn run_when_connected(
    state: Arc<AppState>,
    io: SessionIo,
    stats: Arc<LinkStats>,
    browser: Option<String>,
) {
    stats.connected.notified().await;
    let started = Instant::now();
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
            state.metrics.refused("engines");
            tracing::error!("{e}");
            let failed = SessionEventKind::EngineFailed {
                error: e.to_string(),
                severity: Severity::Fatal,
            };
            let _ = io.events.send(event(started, failed)).await;
            return;
        }
    };
    let ready_after_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = io
        .events
        .send(event(started, SessionEventKind::Ready { ready_after_ms }))
        .await;
    stats.mark_ready();
    match replier {
        Replier::Agent(engines) => run_session(state.config.agent_config(), *engines, io).await,
        Replier::Tone(after) => run_tone_probe(after, io).await,
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
fn event(started: Instant, kind: SessionEventKind) -> SessionEvent {
    SessionEvent {
        at: 0,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        kind,
    }
}

/// What will answer a new session: the spare engines (or its own, loaded now) with the
/// browser's memory, or the measurement tone.
async fn load_replier(state: &AppState, browser: Option<String>) -> Result<Replier, StartError> {
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
