//! The channels between a transport and its session, made in one place so every transport gets
//! the same capacities (the constants in [`crate::runtime`]) and the same playback contract:
//! reply chunks in a bounded queue, the flush and hold epochs beside it (never behind audio), and
//! playback progress back in a watch (the latest report, never lost to a full queue).

use std::sync::Arc;

use duplex_core::playback::PlaybackProgress;
use tokio::sync::{mpsc, watch};

use super::{
    EVENT_CAPACITY, PlaybackControl, SessionEvent, SessionIo, SessionStatus, TRANSPORT_IN_CAPACITY,
    TRANSPORT_OUT_CAPACITY, TransportIn,
};
use crate::transport::playout::PlayoutEnds;

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
