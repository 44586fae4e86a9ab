//! The runtime: runs one [`crate::agent::Agent`] per session on tokio, carries its effects out
//! on engine worker threads, and feeds the results back tagged with their request or turn id (the
//! agent drops stale ones). Every queue is bounded; its capacity is a named constant below.

mod channels;
mod engines;
mod local;
mod session;
mod workers;

pub use channels::{TransportEnds, session_channels};
pub use engines::{EngineError, Engines, Respond, Speak, Transcribe};
pub use local::load_local_engines;
pub use session::{
    SessionEvent, SessionEventKind, SessionIo, SessionStatus, TransportIn, TransportOut,
    run_session,
};

/// Frames from the transport to the session: 64 × 20 ms = 1.28 s. When full, the transport
/// waits (file) — a live transport counts and drops its oldest audio instead.
pub const TRANSPORT_IN_CAPACITY: usize = 64;

/// Playback commands from the session to the transport. When full the session waits: the
/// transport is the clock and drains this every frame.
pub const TRANSPORT_OUT_CAPACITY: usize = 64;

/// Jobs queued for one engine worker. When full the session waits (back-pressure); in practice
/// an engine has at most a few jobs because the agent asks once per pause, turn or chunk.
pub const ENGINE_JOB_CAPACITY: usize = 16;

/// Results from all engines to the session (tokens stream through here). When full, the
/// worker waits until the session catches up.
pub const ENGINE_RESULT_CAPACITY: usize = 256;

/// Events from the session to whoever records them. When full the session waits.
pub const EVENT_CAPACITY: usize = 1024;
