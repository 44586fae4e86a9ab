//! duplex-core: the parts of duplex that are pure logic over plain data.
//!
//! - [`agent`]: the conversation core, a sans-IO state machine (`handle(now, Input)` /
//!   `poll() -> Output`) that decides turn-taking, barge-in and what the user heard.
//! - [`playback`]: the playback contract every transport keeps: reply chunks in, frames out, a
//!   flush that acts at once, and progress reported per `(turn, chunk)`.
//! - [`vad`]: thresholds and the streaming segmenter over speech probabilities.
//! - [`text`]: the normaliser and sentence chunker that turn LLM text into speakable chunks.
//! - [`frames`]: fixed-size framing of sample streams.
//! - [`cancel`]: the one cancellation token, shared by every engine.
//! - [`wer`]: word error rate, for tests and benches.
//! - [`quality`]: the conversation-quality suite: its cases and the checks that judge a reply.
//!
//! No native dependency, no `unsafe`, no async runtime and no clock: time is the sample index
//! the caller passes in, so every decision is reproducible in a test without models or devices.

#![forbid(unsafe_code)]

pub mod agent;
pub mod cancel;
pub mod frames;
pub mod playback;
pub mod quality;
pub mod text;
pub mod vad;
pub mod wer;

/// The pipeline's sample rate: every stage sees 16 kHz mono f32.
pub const PIPELINE_RATE: u32 = 16_000;

/// Samples in one 20 ms pipeline frame.
pub const FRAME_SAMPLES: usize = 320;
