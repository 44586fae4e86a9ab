//! The bounded channels between a transport and its session, made in one place so every
//! transport gets the same capacities (the constants in [`crate::runtime`]).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{
    EVENT_CAPACITY, SessionEvent, SessionIo, SessionStatus, TRANSPORT_IN_CAPACITY,
    TRANSPORT_OUT_CAPACITY, TransportIn, TransportOut,
};

/// The transport's ends of a session's channels.
pub struct TransportEnds {
    /// Microphone frames and playback progress to the session.
    pub input: mpsc::Sender<TransportIn>,
    /// Playback commands from the session.
    pub output: mpsc::Receiver<TransportOut>,
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
    let status = Arc::new(SessionStatus::default());
    let io = SessionIo {
        input: in_rx,
        output: out_tx,
        events: ev_tx,
        status: status.clone(),
    };
    let ends = TransportEnds {
        input: in_tx,
        output: out_rx,
        events: ev_rx,
        status,
    };
    (io, ends)
}
