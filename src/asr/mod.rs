//! Speech recognition: whisper.cpp through whisper-rs. One loaded model is shared by every
//! session; each session owns its own decoder state, so sessions never wait for one another's
//! buffers.

mod loop_guard;
mod whisper;

pub use whisper::{Transcript, WhisperModel, WhisperSession};

use serde::{Deserialize, Serialize};

/// Errors from speech recognition.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Decoding failed.
    #[error("transcription failed: {0}")]
    Decode(String),
    /// The transcription was cancelled before it finished.
    #[error("transcription cancelled")]
    Cancelled,
}

/// Settings for speech recognition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AsrConfig {
    /// CPU threads for one transcription. One by default: whisper.cpp starts its helper threads
    /// for every graph it computes (each decoded token), and when the cores were idle just
    /// before (as they are while the user speaks) waking them costs more than the second
    /// thread gains. Measured over the 21 referenced fixtures with 300 ms of idle before each:
    /// median 107 ms with 1 thread, 181 ms with 2 (67 ms with 2 when run back to back).
    pub threads: u32,
    /// Size the encoder's audio context to the segment instead of the fixed 30 s window.
    pub fit_audio_context: bool,
    /// Extra encoder positions (50 per second) beyond the segment when fitting the context.
    /// Each position costs encoder time (about 0.35 ms on 2 cores); too small a margin makes the
    /// decoder loop (stopped by the loop guard) or clip the end. Over the 21 referenced fixtures
    /// (timestamp tokens on, loop guard, non-speech tokens suppressed): 240 gave a median of
    /// 79 ms and 4.8 % WER, 160 60 ms and 4.8 %, 96 54 ms and 5.5 %.
    pub audio_context_margin: u32,
    /// Spoken language, as a Whisper code.
    pub language: String,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            fit_audio_context: true,
            audio_context_margin: 160,
            language: "en".into(),
        }
    }
}
