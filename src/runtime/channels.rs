//! The channels between a transport and its session, made in one place so every transport gets
//! the same capacities (the constants below) and the same playback contract: reply chunks in a
//! bounded queue, the flush and hold epochs beside it (never behind audio), and playback
//! progress back in a watch (the latest report, never lost to a full queue).

use std::sync::Arc;

use duplex_core::playback::PlaybackProgress;
use tokio::sync::{mpsc, watch};

use super::{PlaybackControl, SessionEvent, SessionIo, SessionStatus, TransportIn};
use crate::transport::playout::PlayoutEnds;

/// Frames from the transport to the session: 64 × 20 ms = 1.28 s. When full, the transport
/// waits (file); a live transport hands the frames it could not give as silence of the same
/// length once there is room, and counts them (`transport::mic_gap`).
const TRANSPORT_IN_CAPACITY: usize = 64;

/// Reply chunks from the session to the transport. When full, chunks wait in the session's
/// outbox (the session never blocks); the transport drains this every period.
const TRANSPORT_OUT_CAPACITY: usize = 64;

/// Events from the session to whoever records them. When full, events wait in the session's
/// outbox, up to this many again; beyond that the oldest are dropped and counted.
pub(super) const EVENT_CAPACITY: usize = 1024;

/// The transport's ends of a session's channels.
pub struct TransportEnds {
    /// Microphone frames to the session.
    pub input: mpsc::Sender<TransportIn>,
    /// Reply audio, flushes and the progress report (for a `ReplyPlayout`).
    pub playout: PlayoutEnds,
    /// Events from the session.
    pub events: mpsc::Receiver<SessionEvent>,
    /// Counters the session keeps (shared with its [`SessionIo`]).
    pub status: Arc<SessionStatus>,
}

/// A session's channels: its [`SessionIo`] (for `run_session`) and the transport's ends.
pub fn session_channels() -> (SessionIo, TransportEnds) {
    let (in_tx, in_rx) = mpsc::channel(TRANSPORT_IN_CAPACITY);
    let (out_tx, out_rx) = mpsc::channel(TRANSPORT_OUT_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let (progress_tx, progress_rx) = watch::channel(PlaybackProgress::default());
    let control = Arc::new(PlaybackControl::default());
    let status = Arc::new(SessionStatus::default());
    let io = SessionIo {
        input: in_rx,
        output: out_tx,
        control: control.clone(),
        progress: progress_rx,
        events: ev_tx,
        status: status.clone(),
    };
    let ends = TransportEnds {
        input: in_tx,
        playout: PlayoutEnds {
            commands: out_rx,
            control,
            progress: progress_tx,
        },
        events: ev_rx,
        status,
    };
    (io, ends)
}
