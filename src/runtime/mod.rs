//! The runtime: runs one [`crate::agent::Agent`] per session on tokio, carries its effects out
//! on engine worker threads, and feeds the results back tagged with their request or turn id (the
//! agent drops stale ones). Every channel is bounded; its capacity is a named constant below.
//! What a full channel cannot take yet waits in the session's outboxes (`workers::Outbox`),
//! which are not capped: they hold only what the agent asked for, once per pause, turn or
//! chunk, and the session sleeps until there is room for them.

mod backchannel_audio;
mod channels;
mod cue_feed;
mod dispatch;
mod engine_result;
mod engine_workers;
mod engines;
mod io;
mod llm_exchange;
mod local;
mod reply_audio;
mod session;
mod vad_worker;
mod workers;

pub use channels::{TransportEnds, session_channels};
pub use cue_feed::TurnCueReport;
pub use engines::{EngineError, Engines, Respond, Severity, Speak, Transcribe};
pub use io::{
    PlayChunk, PlaybackControl, SessionEvent, SessionEventKind, SessionIo, SessionStatus,
    TransportIn, TransportOut,
};
pub use local::{load_local_engines, load_local_engines_with, load_local_llm};
pub use session::run_session;

/// Frames from the transport to the session: 64 × 20 ms = 1.28 s. When full, the transport
/// waits (file); a live transport hands the frames it could not give as silence of the same
/// length once there is room, and counts them (`transport::mic_gap`).
pub const TRANSPORT_IN_CAPACITY: usize = 64;

/// Reply chunks from the session to the transport. When full, chunks wait in the session's
/// outbox (the session never blocks); the transport drains this every period.
pub const TRANSPORT_OUT_CAPACITY: usize = 64;

/// Jobs queued for one engine worker. When full, jobs wait in the session's outbox; in
/// practice an engine has at most a few because the agent asks once per pause, turn or chunk.
pub const ENGINE_JOB_CAPACITY: usize = 16;

/// Results from all engines to the session (tokens stream through here). When full, the
/// worker waits until the session catches up (the session never waits on a worker).
pub const ENGINE_RESULT_CAPACITY: usize = 256;

/// Events from the session to whoever records them. When full, events wait in the session's
/// outbox, up to this many again; beyond that the oldest are dropped and counted.
pub const EVENT_CAPACITY: usize = 1024;
