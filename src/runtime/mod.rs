//! The runtime: runs one [`crate::agent::Agent`] per session on tokio, carries its effects out
//! on engine worker threads (the voice activity model has one too, so no model runs on tokio's),
//! and feeds the results back tagged with their request or turn id (the agent drops stale ones). Every channel is bounded; its capacity is a named constant beside
//! the code that makes it: `channels` (transport in and out, events), `workers` (engine jobs),
//! `session` (engine results), `vad_worker` (frames to the voice activity model and back).
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
